//! Gateway hot-path micro-benchmarks (`cargo bench -p cairn`), plain `std::time`:
//! the PUT body path (MD5 / MD5+CRC32 body hashing, chunk cutting + BLAKE3) per GiB,
//! and signed GetObject/HeadObject requests through the s3s service in-process
//! (SigV4 verification, key lookup, catalog read, response), ops/s.
//!
//! Each case prints: name, bytes or ops per iteration, throughput, iterations.
//! `CAIRN_BENCH_SCALE=N` multiplies the work (default 1: a few seconds in all);
//! `cargo bench -p cairn -- sigv4` runs only the cases whose group contains `sigv4`.

use bytes::{Bytes, BytesMut};
use cairn::bench::sigv4::{self, AmzDate, Signer};
use cairn::checksum::{BodyHasher, Expected};
use cairn::state::{Gateway, GatewayConfig};
use cairn_node::cluster::config::ClusterConfig;
use cairn_node::records::WriteCondition;
use cairn_node::records::{BucketRecord, Checksums, ObjectData, ObjectMeta, ObjectRecord};
use cairn_node::{ChunkId, Node, NodeClient, NodeOptions};
use http::{HeaderMap, HeaderValue, Method};
use http_body_util::BodyExt;
use std::hint::black_box;
use std::time::{Duration, Instant};

const GIB: usize = 1 << 30;
const PIECE: usize = 64 << 10;
const CHUNK: usize = 4 << 20;
const AK: &str = "BENCHACCESSKEY";
const SK: &str = "bench-secret-key-bench-secret-key-bench0";

fn scale() -> u64 {
    std::env::var("CAIRN_BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(1)
}

fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut s = seed;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        s = s.wrapping_add(0xa076_1d64_78bd_642f);
        let t = u128::from(s) * u128::from(s ^ 0xe703_7ed1_a0b4_28db);
        out.extend_from_slice(&(((t >> 64) as u64) ^ (t as u64)).to_le_bytes());
    }
    out.truncate(len);
    out
}

fn report_bytes(name: &str, bytes_per_iter: usize, iters: u64, elapsed: Duration) {
    let gib_s = bytes_per_iter as f64 * iters as f64 / elapsed.as_secs_f64() / GIB as f64;
    println!("{name:<44} {bytes_per_iter:>12} B/iter {gib_s:>10.3} GiB/s {iters:>10} iters");
}

fn report_ops(name: &str, ops_per_iter: u64, iters: u64, elapsed: Duration) {
    let ops_s = ops_per_iter as f64 * iters as f64 / elapsed.as_secs_f64();
    println!("{name:<44} {ops_per_iter:>12} ops/iter {ops_s:>8.0} ops/s {iters:>10} iters");
}

/// 64 KiB pieces of a 16 MiB random buffer, as `Bytes` (like a request body stream).
fn pieces(pool: &Bytes) -> impl Iterator<Item = Bytes> + '_ {
    (0..pool.len() / PIECE).map(move |i| pool.slice(i * PIECE..(i + 1) * PIECE))
}

/// Hashes 1 GiB (per scale unit) in 64 KiB pieces; one iteration = 1 GiB.
fn bench_hasher(pool: &Bytes) {
    let iters = scale();
    for (name, expected) in [
        ("BodyHasher MD5 1GiB in 64KiB pieces", Expected::default()),
        (
            "BodyHasher MD5+CRC32 1GiB in 64KiB pieces",
            Expected {
                algorithms: vec!["crc32".to_string()],
                ..Expected::default()
            },
        ),
    ] {
        let t = Instant::now();
        for _ in 0..iters {
            let mut h = BodyHasher::new(&expected);
            for _ in 0..GIB / pool.len() {
                for p in pieces(pool) {
                    h.update(&p);
                }
            }
            black_box(h.verify(&expected, None).expect("digests"));
        }
        report_bytes(name, GIB, iters, t.elapsed());
    }
}

/// The chunker's cutting (64 KiB pieces into 4 MiB chunks, as `store_body` does)
/// and the BLAKE3 id of every chunk; one iteration = 1 GiB.
fn bench_cut_and_hash(pool: &Bytes) {
    let iters = scale();
    let mut chunks = 0u64;
    let t = Instant::now();
    for _ in 0..iters {
        let mut buf = BytesMut::new();
        for _ in 0..GIB / pool.len() {
            for mut piece in pieces(pool) {
                while !piece.is_empty() {
                    let full = if buf.is_empty() && piece.len() >= CHUNK {
                        piece.split_to(CHUNK)
                    } else {
                        let take = (CHUNK - buf.len()).min(piece.len());
                        buf.extend_from_slice(&piece.split_to(take));
                        if buf.len() < CHUNK {
                            continue;
                        }
                        buf.split().freeze()
                    };
                    black_box(ChunkId::of(&full));
                    chunks += 1;
                }
            }
        }
    }
    report_bytes(
        "chunk cut 4MiB + BLAKE3, 1GiB in 64KiB pieces",
        GIB,
        iters,
        t.elapsed(),
    );
    assert_eq!(chunks, iters * (GIB / CHUNK) as u64);
}

fn signed_request(signer: &Signer, method: Method, path: &str) -> http::Request<s3s::Body> {
    let mut headers = HeaderMap::new();
    headers.insert(
        http::header::HOST,
        HeaderValue::from_static("127.0.0.1:9000"),
    );
    signer.sign(
        &method,
        path,
        "",
        &mut headers,
        sigv4::UNSIGNED_PAYLOAD,
        &AmzDate::now(),
    );
    let mut req = http::Request::new(s3s::Body::empty());
    *req.method_mut() = method;
    *req.uri_mut() = path.parse().expect("uri");
    *req.headers_mut() = headers;
    req
}

/// Signed requests through `S3Service::call` in-process, against a temp node.
fn bench_sigv4() {
    let signer = Signer::new(AK, SK, "us-east-1");
    let path = sigv4::object_path("bench", "dir/object-4k");

    let n = 100_000 * scale();
    let t = Instant::now();
    for _ in 0..n {
        black_box(signed_request(&signer, Method::GET, &path));
    }
    report_ops("SigV4 sign GetObject (client side)", 1, n, t.elapsed());

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    runtime.block_on(async {
        let local = Node::start(
            ClusterConfig::single_node(dir.path().join("data")),
            1,
            NodeOptions {
                gc_grace: Duration::from_secs(3600),
                gc_interval: Duration::from_secs(3600),
                min_free: None,
                drop_reply_keys: Vec::new(),
                lifecycle_interval: Duration::from_secs(3600),
                lifecycle_clock_offset_ms: 0,
                disk: cairn_node::storage::disk::Disk::Real,
                db_caches: Default::default(),
            },
        )
        .await
        .expect("start node");
        local
            .wait_for_catalog_leader(Duration::from_secs(30))
            .await
            .expect("catalog leader");
        let node = NodeClient::local(local);
        let sealing = cairn::sealing::SealingKey::from_cluster_secret("hot-path-bench-secret");
        node.put_key_record(cairn::keys::record(&sealing, "admin", AK, SK, None, true))
            .await
            .expect("put key");
        node.create_bucket(
            "bench".into(),
            BucketRecord {
                created_ms: cairn_node::now_ms(),
                location: "us-east-1".into(),
                ..BucketRecord::default()
            },
        )
        .await
        .expect("create bucket");
        let body = random_bytes(4096, 9);
        node.put_object(
            "bench".into(),
            "dir/object-4k".into(),
            ObjectRecord {
                size: body.len() as u64,
                etag: "0123456789abcdef0123456789abcdef".into(),
                last_modified_ms: cairn_node::now_ms(),
                meta: ObjectMeta::default(),
                checksums: Checksums::default(),
                part_sizes: Vec::new(),
                data: ObjectData::Inline(body),
            },
            WriteCondition::Always,
            None,
        )
        .await
        .expect("put object");
        let gateway = Gateway::new(node, GatewayConfig::new("us-east-1".into(), CHUNK));
        let service = cairn::server::build_service(gateway, sealing, None)
            .await
            .expect("service");

        let n = 10_000 * scale();
        for (name, method) in [
            ("S3Service GetObject 4KiB signed (in-process)", Method::GET),
            ("S3Service HeadObject signed (in-process)", Method::HEAD),
        ] {
            // Warm up, and check the request is accepted.
            let resp = service
                .call(signed_request(&signer, method.clone(), &path))
                .await
                .expect("call");
            assert_eq!(resp.status(), http::StatusCode::OK, "{name}");
            let t = Instant::now();
            for _ in 0..n {
                let resp = service
                    .call(signed_request(&signer, method.clone(), &path))
                    .await
                    .expect("call");
                assert_eq!(resp.status(), http::StatusCode::OK);
                let body = resp.into_body().collect().await.expect("body").to_bytes();
                black_box(body);
            }
            report_ops(name, 1, n, t.elapsed());
        }
    });
}

fn main() {
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let wanted =
        |group: &str| filter.is_empty() || filter.iter().any(|f| group.contains(f.as_str()));
    let pool = Bytes::from(random_bytes(16 << 20, 1));
    if wanted("hasher") {
        bench_hasher(&pool);
    }
    if wanted("chunker") {
        bench_cut_and_hash(&pool);
    }
    if wanted("sigv4") {
        bench_sigv4();
    }
}
