//! Storage micro-benchmarks (`cargo bench -p cairn-node`), plain `std::time`:
//! BLAKE3 chunk ids, the chunk store (fsync'd put, verified get), catalog state-machine
//! applies (non-syncing commits; durability is the Raft log's), and record
//! encode/decode.
//!
//! Each case prints: name, bytes or ops per iteration, throughput, iterations.
//! `CAIRN_BENCH_SCALE=N` multiplies the work (default 1: a few seconds in all).

use cairn_node::records::{
    BucketRecord, Checksums, ChunkRef, ContentHeaders, ObjectData, ObjectMeta, ObjectRecord,
    WriteCondition,
};
use cairn_node::storage::catalog::Catalog;
use cairn_node::storage::chunk_store::ChunkStore;
use cairn_node::storage::disk::Disk;
use cairn_node::ChunkId;
use std::hint::black_box;
use std::time::{Duration, Instant};

const MIB: usize = 1 << 20;
const CHUNK: usize = 4 * MIB;

fn scale() -> u64 {
    std::env::var("CAIRN_BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(1)
}

/// Incompressible filler (wyrand).
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
    let gib_s = bytes_per_iter as f64 * iters as f64 / elapsed.as_secs_f64() / (1u64 << 30) as f64;
    println!(
        "{name:<40} {:>12} B/iter {gib_s:>10.3} GiB/s {iters:>10} iters",
        bytes_per_iter
    );
}

fn report_ops(name: &str, ops_per_iter: u64, iters: u64, elapsed: Duration) {
    let ops_s = ops_per_iter as f64 * iters as f64 / elapsed.as_secs_f64();
    println!(
        "{name:<40} {:>12} ops/iter {ops_s:>8.0} ops/s {iters:>10} iters",
        ops_per_iter
    );
}

fn bench_chunk_id(data: &[u8]) {
    // 1 GiB per scale unit, in 4 MiB chunks.
    let iters = 256 * scale();
    black_box(ChunkId::of(data));
    let t = Instant::now();
    for _ in 0..iters {
        black_box(ChunkId::of(black_box(data)));
    }
    report_bytes("ChunkId::of (BLAKE3) 4MiB", data.len(), iters, t.elapsed());
}

fn bench_chunk_store() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = ChunkStore::open(&Disk::Real, dir.path()).expect("open chunk store");
    let n = 32 * scale() as usize; // 128 MiB per scale unit
    let chunks: Vec<(ChunkId, Vec<u8>)> = (0..n)
        .map(|i| {
            let data = random_bytes(CHUNK, i as u64 + 1);
            (ChunkId::of(&data), data)
        })
        .collect();
    let t = Instant::now();
    for (id, data) in &chunks {
        assert!(store.put(id, data).expect("put chunk"), "chunk was new");
    }
    report_bytes(
        "ChunkStore::put 4MiB (fsync'd)",
        CHUNK,
        n as u64,
        t.elapsed(),
    );

    let t = Instant::now();
    for (id, data) in &chunks {
        let got = store.get(id).expect("get chunk");
        assert_eq!(got.len(), data.len());
        black_box(got);
    }
    report_bytes(
        "ChunkStore::get 4MiB (verified, cached)",
        CHUNK,
        n as u64,
        t.elapsed(),
    );

    // Re-putting an existing chunk only refreshes its time (dedup path).
    let t = Instant::now();
    for (id, data) in &chunks {
        assert!(!store.put(id, data).expect("re-put chunk"));
    }
    report_ops(
        "ChunkStore::put existing (dedup touch)",
        1,
        n as u64,
        t.elapsed(),
    );
}

fn small_record(i: u64) -> ObjectRecord {
    ObjectRecord {
        size: 4096,
        etag: format!("{:032x}", u128::from(i) * 0x9E37_79B9_7F4A_7C15),
        last_modified_ms: 1_700_000_000_000 + i as i64,
        meta: ObjectMeta {
            headers: ContentHeaders {
                content_type: Some("application/octet-stream".into()),
                ..Default::default()
            },
            user: Vec::new(),
            tags: Vec::new(),
        },
        checksums: Checksums::default(),
        part_sizes: Vec::new(),
        data: ObjectData::Inline(vec![7u8; 64]),
    }
}

fn chunked_record(chunks: usize) -> ObjectRecord {
    ObjectRecord {
        size: (chunks * CHUNK) as u64,
        etag: "0123456789abcdef0123456789abcdef-32".into(),
        last_modified_ms: 1_700_000_000_000,
        meta: ObjectMeta {
            headers: ContentHeaders {
                content_type: Some("application/octet-stream".into()),
                cache_control: Some("max-age=3600".into()),
                ..Default::default()
            },
            user: vec![("owner".into(), "bench".into())],
            tags: vec![("tier".into(), "hot".into())],
        },
        checksums: Checksums {
            crc32: Some("AAAAAA==".into()),
            kind: Some("FULL_OBJECT".into()),
            ..Default::default()
        },
        part_sizes: vec![8 << 20; chunks / 2],
        data: ObjectData::Chunks(
            (0..chunks)
                .map(|i| ChunkRef {
                    id: ChunkId::of(&i.to_le_bytes()),
                    len: CHUNK as u64,
                })
                .collect(),
        ),
    }
}

fn bench_catalog() {
    let dir = tempfile::tempdir().expect("tempdir");
    let catalog = Catalog::open(
        &Disk::Real,
        &dir.path().join("catalog.redb"),
        cairn_node::storage::DbCaches::default().catalog,
    )
    .expect("open catalog");
    catalog
        .create_bucket("bench", &BucketRecord::default(), None)
        .expect("create bucket");

    let n = 200 * scale();
    let t = Instant::now();
    for i in 0..n {
        catalog
            .put_object(
                "bench",
                &format!("one/{i:08}"),
                &small_record(i),
                &WriteCondition::Always,
                None,
            )
            .expect("put_object");
    }
    report_ops(
        "Catalog::put_object (Raft apply, no fsync) 1 thread",
        1,
        n,
        t.elapsed(),
    );

    let threads = 8u64;
    let per = 100 * scale();
    let t = Instant::now();
    std::thread::scope(|s| {
        for th in 0..threads {
            let catalog = &catalog;
            s.spawn(move || {
                for i in 0..per {
                    catalog
                        .put_object(
                            "bench",
                            &format!("eight/{th}/{i:08}"),
                            &small_record(i),
                            &WriteCondition::Always,
                            None,
                        )
                        .expect("put_object");
                }
            });
        }
    });
    report_ops(
        "Catalog::put_object (Raft apply, no fsync) 8 threads",
        1,
        threads * per,
        t.elapsed(),
    );

    let t = Instant::now();
    for i in 0..n {
        black_box(
            catalog
                .get_object("bench", &format!("one/{i:08}"))
                .expect("get_object"),
        );
    }
    report_ops("Catalog::get_object", 1, n, t.elapsed());
}

/// ListObjectVersions over 100,000 versions of 10,000 keys (per scale unit), paged
/// by 1000 as S3 clients page; plus the versioned put itself.
fn bench_versions() {
    use cairn_node::storage::catalog::VersionListQuery;
    use cairn_node::versioning::{ConfigChange, Versioning};
    let dir = tempfile::tempdir().expect("tempdir");
    let catalog = Catalog::open(
        &Disk::Real,
        &dir.path().join("catalog.redb"),
        cairn_node::storage::DbCaches::default().catalog,
    )
    .expect("open catalog");
    catalog
        .create_bucket("vers", &BucketRecord::default(), None)
        .expect("create bucket");
    catalog
        .configure_bucket("vers", &ConfigChange::Versioning(Versioning::Enabled))
        .expect("enable versioning");
    let keys = 10_000 * scale();
    let t = Instant::now();
    for v in 0..10u64 {
        for k in 0..keys {
            catalog
                .put_object(
                    "vers",
                    &format!("key/{k:08}"),
                    &small_record(v),
                    &WriteCondition::Always,
                    None,
                )
                .expect("put_object");
        }
    }
    report_ops("Catalog::put_object versioned", 1, keys * 10, t.elapsed());
    let t = Instant::now();
    let mut q = VersionListQuery {
        max: 1000,
        ..Default::default()
    };
    let mut entries = 0u64;
    loop {
        let page = catalog.list_versions("vers", &q).expect("list_versions");
        entries += page.versions.len() as u64;
        if !page.truncated {
            break;
        }
        q.key_marker = page.next_key_marker;
        q.version_id_marker = page.next_version_id_marker;
    }
    assert_eq!(entries, keys * 10, "every version listed once");
    report_ops(
        "ListObjectVersions entries (pages of 1000)",
        1,
        entries,
        t.elapsed(),
    );
}

fn bench_records() {
    let iters = 200_000 * scale();
    for (name, rec) in [
        ("small inline", small_record(1)),
        ("64 chunks", chunked_record(64)),
    ] {
        let bytes = postcard::to_allocvec(&rec).expect("encode");
        let t = Instant::now();
        for _ in 0..iters {
            black_box(postcard::to_allocvec(black_box(&rec)).expect("encode"));
        }
        report_ops(
            &format!("ObjectRecord encode {name} ({}B)", bytes.len()),
            1,
            iters,
            t.elapsed(),
        );
        let t = Instant::now();
        for _ in 0..iters {
            let r: ObjectRecord = postcard::from_bytes(black_box(&bytes)).expect("decode");
            black_box(r);
        }
        report_ops(
            &format!("ObjectRecord decode {name} ({}B)", bytes.len()),
            1,
            iters,
            t.elapsed(),
        );
    }
}

fn main() {
    // `cargo bench -- FILTER` runs only the cases whose group name contains FILTER.
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let wanted =
        |group: &str| filter.is_empty() || filter.iter().any(|f| group.contains(f.as_str()));
    let data = random_bytes(CHUNK, 42);
    if wanted("chunk_id") {
        bench_chunk_id(&data);
    }
    if wanted("chunk_store") {
        bench_chunk_store();
    }
    if wanted("catalog") {
        bench_catalog();
    }
    if wanted("versions") {
        bench_versions();
    }
    if wanted("records") {
        bench_records();
    }
}
