//! The seeded workload of the crash simulation and what it expects: each key's
//! last acknowledged state, and the states of writes whose outcome is in doubt
//! (they failed, timed out or were cut by the crash, so they may or may not have
//! landed, but only whole).

use bytes::Bytes;
use cairn_node::records::{
    Checksums, ChunkRef, ObjectData, ObjectMeta, ObjectRecord, PartRecord, UploadRecord,
};
use cairn_node::versioning::DeleteTarget;
use cairn_node::{Error, NodeClient};
use rand::rngs::StdRng;
use rand::Rng;
use std::collections::BTreeMap;
use std::time::Duration;

pub const PLAIN: &str = "plain";
pub const VERSIONED: &str = "versioned";
/// How long one client write may take before it counts as failed (in doubt):
/// one takes milliseconds, a write into a stopped group would wait for long.
pub const OP_TIMEOUT: Duration = Duration::from_secs(1);
/// How long a read after a restart may take before the check fails.
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// What a key holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Val {
    Absent,
    Bytes(Vec<u8>),
}

impl Val {
    pub fn describe(&self) -> String {
        match self {
            Val::Absent => "absent".into(),
            Val::Bytes(b) => format!("{} bytes ({})", b.len(), &blake3::hash(b).to_hex()[..12]),
        }
    }
}

#[derive(Clone, Debug)]
pub struct KeyState {
    pub acked: Val,
    /// States written since the last acknowledged one, not acknowledged.
    pub doubt: Vec<Val>,
    /// Acknowledged versions (versioned bucket): id → bytes.
    pub versions: Vec<(String, Vec<u8>)>,
}

/// Every key the workload touched, by (bucket, key).
#[derive(Clone, Default)]
pub struct Model {
    pub keys: BTreeMap<(String, String), KeyState>,
    pub acked_ops: u64,
    pub failed_ops: u64,
}

impl Model {
    pub fn state(&mut self, bucket: &str, key: &str) -> &mut KeyState {
        self.keys
            .entry((bucket.to_string(), key.to_string()))
            .or_insert(KeyState {
                acked: Val::Absent,
                doubt: Vec::new(),
                versions: Vec::new(),
            })
    }
}

/// One operation of the workload.
#[derive(Debug)]
pub enum Op {
    Put {
        bucket: &'static str,
        key: String,
        data: Vec<u8>,
        chunk: usize,
    },
    Multipart {
        key: String,
        parts: Vec<Vec<u8>>,
    },
    Delete {
        bucket: &'static str,
        key: String,
    },
}

fn bytes(rng: &mut StdRng, len: usize) -> Vec<u8> {
    // Now and then the same bytes again: a chunk that exists already (dedup).
    let seed: u8 = if rng.gen_bool(0.2) { 7 } else { rng.gen() };
    let mut out = vec![0u8; len];
    if seed == 7 {
        out.iter_mut()
            .enumerate()
            .for_each(|(i, b)| *b = (i % 251) as u8);
    } else {
        rng.fill(&mut out[..]);
    }
    out
}

/// A random operation on one of a few keys (so overwrites and deletes of
/// existing keys are frequent).
pub fn next_op(rng: &mut StdRng) -> Op {
    let bucket = if rng.gen_bool(0.3) { VERSIONED } else { PLAIN };
    let key = format!("k{}", rng.gen_range(0..6));
    match rng.gen_range(0..10) {
        0..=1 => {
            let len = rng.gen_range(0..600);
            Op::Put {
                bucket,
                key,
                data: bytes(rng, len),
                chunk: 0,
            }
        }
        2..=5 => {
            let len = rng.gen_range(9_000..70_000);
            Op::Put {
                bucket,
                key,
                data: bytes(rng, len),
                chunk: rng.gen_range(8_192..32_768),
            }
        }
        6 => {
            let n = rng.gen_range(1..4);
            let parts = (0..n)
                .map(|_| {
                    let l = rng.gen_range(5_000..30_000);
                    bytes(rng, l)
                })
                .collect();
            Op::Multipart { key, parts }
        }
        _ => Op::Delete { bucket, key },
    }
}

fn record(size: usize, data: ObjectData, part_sizes: Vec<u64>) -> ObjectRecord {
    ObjectRecord {
        size: size as u64,
        etag: hex::encode(&blake3::hash(&size.to_le_bytes()).as_bytes()[..16]),
        last_modified_ms: cairn_node::now_ms(),
        meta: ObjectMeta::default(),
        checksums: Checksums::default(),
        part_sizes,
        data,
    }
}

async fn put_chunks(node: &NodeClient, data: &[u8], chunk: usize) -> Result<Vec<ChunkRef>, Error> {
    let mut refs = Vec::new();
    for piece in data.chunks(chunk.max(1)) {
        refs.push(node.put_chunk(Bytes::copy_from_slice(piece)).await?);
    }
    Ok(refs)
}

/// Runs `op` as the gateway would (chunks first, then the record, then the
/// chunks' pins released); returns the version id a versioned PUT got.
async fn run(node: &NodeClient, op: &Op, mark: &Mark<'_>) -> Result<Option<String>, Error> {
    match op {
        Op::Put {
            bucket,
            key,
            data,
            chunk,
        } => {
            let (obj, ids) = if *chunk == 0 {
                (ObjectData::Inline(data.clone()), Vec::new())
            } else {
                let refs = put_chunks(node, data, *chunk).await?;
                let ids = refs.iter().map(|r| r.id).collect();
                (ObjectData::Chunks(refs), ids)
            };
            let rec = record(data.len(), obj, Vec::new());
            let out = node
                .put_object(
                    bucket.to_string(),
                    key.clone(),
                    rec,
                    Default::default(),
                    None,
                )
                .await;
            node.release_chunks(ids).await;
            out
        }
        Op::Multipart { key, parts } => {
            let upload = UploadRecord {
                bucket: PLAIN.into(),
                key: key.clone(),
                initiated_ms: cairn_node::now_ms(),
                meta: ObjectMeta::default(),
                checksum_algorithm: None,
            };
            let id = node.create_upload(upload, None).await?;
            let mut all = Vec::new();
            for (n, part) in parts.iter().enumerate() {
                let refs = put_chunks(node, part, 16_384).await?;
                all.extend(refs.iter().cloned());
                let rec = PartRecord {
                    etag: format!("part{n}"),
                    size: part.len() as u64,
                    last_modified_ms: cairn_node::now_ms(),
                    checksums: Checksums::default(),
                    chunks: refs,
                };
                node.put_part(id.clone(), n as u32 + 1, rec).await?;
            }
            let size = parts.iter().map(Vec::len).sum();
            let sizes = parts.iter().map(|p| p.len() as u64).collect();
            let ids: Vec<_> = all.iter().map(|r| r.id).collect();
            let rec = record(size, ObjectData::Chunks(all), sizes);
            mark.complete_at.set(Some((mark.ops)()));
            (mark.completing)();
            let out = node
                .complete_upload(id, PLAIN.into(), key.clone(), rec, Default::default())
                .await;
            node.release_chunks(ids).await;
            out
        }
        Op::Delete { bucket, key } => {
            let target = DeleteTarget {
                key: key.clone(),
                version_id: None,
            };
            node.delete_versions(bucket.to_string(), vec![target], false)
                .await
                .map(|_| None)
        }
    }
}

/// Reads the disk's operation counter, and keeps where a multipart upload's
/// completion began.
pub struct Mark<'a> {
    pub ops: &'a dyn Fn() -> u64,
    /// Whether the disk's power is gone (the operation is then given up soon).
    pub dead: &'a dyn Fn() -> bool,
    /// Called as a multipart upload's completion begins.
    pub completing: &'a dyn Fn(),
    pub complete_at: std::cell::Cell<Option<u64>>,
}

/// One operation as it ran: disk operation counts when it began and when its
/// outcome was known, and what it would leave.
#[derive(Clone, Debug)]
pub struct Logged {
    pub start: u64,
    pub end: u64,
    /// Where a multipart upload's completion began.
    pub complete_at: Option<u64>,
    pub bucket: &'static str,
    pub key: String,
    pub val: Val,
    pub acked: bool,
    pub version: Option<String>,
    pub kind: &'static str,
}

impl Logged {
    /// Records this outcome in `model` as `apply` does.
    pub fn settle(&self, model: &mut Model, acked: bool) {
        let state = model.state(self.bucket, &self.key);
        if acked {
            state.doubt.clear();
            if let (Some(v), Val::Bytes(b)) = (&self.version, &self.val) {
                state.versions.push((v.clone(), b.clone()));
            }
            state.acked = self.val.clone();
        } else {
            state.doubt.push(self.val.clone());
        }
    }
}

/// The model as a power loss just before disk operation `n` leaves it: from
/// `base` (the model when `log` began), operations acknowledged before `n`
/// count as acknowledged, those begun before `n` and not acknowledged by then
/// are in doubt, later ones never happened.
pub fn model_at(base: &Model, log: &[Logged], n: u64) -> Model {
    let mut m = base.clone();
    for l in log.iter().take_while(|l| l.start <= n) {
        l.settle(&mut m, l.acked && l.end <= n);
    }
    m
}

/// Runs `op` and records its outcome in `model`.
pub async fn apply(node: &NodeClient, model: &mut Model, op: &Op, mark: Mark<'_>) -> Logged {
    let (bucket, key, val, kind) = match op {
        Op::Put {
            bucket,
            key,
            data,
            chunk,
        } => {
            let kind = match (*chunk == 0, model.state(bucket, key).acked == Val::Absent) {
                (true, true) => "put-inline",
                (true, false) => "overwrite-inline",
                (false, true) => "put-chunks",
                (false, false) => "overwrite-chunks",
            };
            (*bucket, key, Val::Bytes(data.clone()), kind)
        }
        Op::Multipart { key, parts } => (PLAIN, key, Val::Bytes(parts.concat()), "multipart"),
        Op::Delete { bucket, key } => (*bucket, key, Val::Absent, "delete"),
    };
    let start = (mark.ops)();
    let gone = async {
        while !(mark.dead)() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let out = tokio::select! {
        out = tokio::time::timeout(OP_TIMEOUT, run(node, op, &mark)) => out.ok(),
        () = gone => None,
    };
    let end = (mark.ops)();
    let (acked, version) = match out {
        Some(Ok(version)) => (true, version),
        _ => (false, None),
    };
    let logged = Logged {
        start,
        end,
        complete_at: mark.complete_at.get(),
        bucket,
        key: key.clone(),
        val,
        acked,
        version,
        kind,
    };
    logged.settle(model, false);
    if acked {
        logged.settle(model, true);
        model.acked_ops += 1;
    } else {
        model.failed_ops += 1;
    }
    logged
}

/// The bytes `bucket/key` holds now, read as a GET would (every chunk verified).
pub async fn read(node: &NodeClient, bucket: &str, key: &str) -> Result<Val, String> {
    let rec = match node.get_object(bucket.into(), key.into()).await {
        Ok(r) => r,
        Err(Error::NoSuchKey) => return Ok(Val::Absent),
        Err(e) => return Err(format!("GET {bucket}/{key}: {e}")),
    };
    read_record(node, &rec).await.map(Val::Bytes)
}

pub async fn read_record(node: &NodeClient, rec: &ObjectRecord) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    match &rec.data {
        ObjectData::Inline(b) => out.extend_from_slice(b),
        ObjectData::Chunks(refs) => {
            for r in refs {
                let data = tokio::time::timeout(READ_TIMEOUT, node.get_chunk(r.id))
                    .await
                    .map_err(|_| format!("chunk {} of a committed record: read timed out", r.id))?
                    .map_err(|e| format!("chunk {} of a committed record: {e}", r.id))?;
                out.extend_from_slice(&data);
            }
        }
    }
    if out.len() as u64 != rec.size {
        return Err(format!(
            "record says {} bytes, its data holds {}",
            rec.size,
            out.len()
        ));
    }
    Ok(out)
}
