//! The checks after a restart (`verify`: every acknowledged state and version
//! there, byte-identical, nothing else but a whole in-doubt state; `probe`: new
//! writes are taken) and the tally of where crash points landed (`Tally`:
//! fault kind, the file the cut disk operation touched, the client operation
//! in flight).

use crate::workload::{self, read, read_record, Logged, Model, Val, PLAIN};
use cairn_node::NodeClient;
use std::collections::BTreeMap;

/// After a restart: every key holds its acknowledged state or one it was being
/// written to, whole; acknowledged versions are all there. In-doubt states are
/// settled to what was found.
pub async fn verify(client: &NodeClient, model: &mut Model) -> Result<(), String> {
    for ((bucket, key), st) in model.keys.iter_mut() {
        let got = read(client, bucket, key).await?;
        if got != st.acked && !st.doubt.contains(&got) {
            return Err(format!(
                "{bucket}/{key} holds {}; last acknowledged: {}; in doubt: [{}]",
                got.describe(),
                st.acked.describe(),
                st.doubt
                    .iter()
                    .map(Val::describe)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        st.acked = got;
        st.doubt.clear();
        for (id, bytes) in &st.versions {
            let view = client
                .get_version(bucket.clone(), key.clone(), Some(id.clone()))
                .await
                .map_err(|e| format!("{bucket}/{key} acknowledged version {id}: {e}"))?;
            let rec = view
                .row
                .record
                .ok_or_else(|| format!("{bucket}/{key} version {id} became a delete marker"))?;
            if read_record(client, &rec).await? != *bytes {
                return Err(format!("{bucket}/{key} version {id}: other bytes"));
            }
        }
    }
    Ok(())
}

/// The node takes a new multi-chunk write and reads it back (`model` learns it).
pub async fn probe(client: &NodeClient, model: &mut Model, key: &str) -> Result<(), String> {
    let data = vec![42; 20_000];
    let op = workload::Op::Put {
        bucket: PLAIN,
        key: key.into(),
        data: data.clone(),
        chunk: 8192,
    };
    let mark = workload::Mark {
        ops: &|| 0,
        dead: &|| false,
        completing: &|| {},
        complete_at: std::cell::Cell::new(None),
    };
    let taken = workload::apply(client, model, &op, mark).await.acked;
    let back = read(client, PLAIN, key).await;
    if !taken || back != Ok(Val::Bytes(data)) {
        return Err(format!(
            "the node refuses new writes after the crash (taken: {taken}, read back: {})",
            back.map_or_else(|e| e, |v| v.describe())
        ));
    }
    Ok(())
}

/// Where the disk operation a power cut hit belongs (by the file it touched).
pub fn place(what: &str) -> &'static str {
    let verb = what.split(' ').next().unwrap_or("");
    if what.contains("/chunks/") {
        if verb == "unlink" {
            "gc-unlink"
        } else if verb == "readdir" || verb == "stat" {
            "chunk-scan"
        } else {
            "chunk-write"
        }
    } else if what.contains("/snapshots/") {
        "snapshot"
    } else if what.contains("raft.wal") {
        "wal"
    } else if what.contains("catalog.redb") {
        "catalog-db"
    } else if what.contains("raft.redb") {
        "raft-db"
    } else {
        "other"
    }
}

/// The client operation in flight at disk operation `n`, if any.
pub fn during(log: &[Logged], n: u64) -> &'static str {
    match log.iter().find(|l| l.start <= n && n < l.end) {
        Some(l) if l.complete_at.is_some_and(|c| c <= n) => "multipart-complete",
        Some(l) => l.kind,
        None => "between-ops",
    }
}

/// Counts of crash points by label.
#[derive(Default)]
pub struct Tally {
    pub points: u64,
    pub kinds: BTreeMap<String, u64>,
    pub places: BTreeMap<&'static str, u64>,
    pub during: BTreeMap<&'static str, u64>,
}

fn join<K: std::fmt::Display>(m: &BTreeMap<K, u64>) -> String {
    m.iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Tally {
    pub fn add(&mut self, kind: &str, place: Option<&'static str>, during: &'static str) {
        self.points += 1;
        *self.kinds.entry(kind.to_string()).or_default() += 1;
        if let Some(p) = place {
            *self.places.entry(p).or_default() += 1;
        }
        *self.during.entry(during).or_default() += 1;
    }

    pub fn merge(&mut self, other: Tally) {
        self.points += other.points;
        for (k, v) in other.kinds {
            *self.kinds.entry(k).or_default() += v;
        }
        for (k, v) in other.places {
            *self.places.entry(k).or_default() += v;
        }
        for (k, v) in other.during {
            *self.during.entry(k).or_default() += v;
        }
    }

    pub fn kinds(&self) -> String {
        join(&self.kinds)
    }

    pub fn places(&self) -> String {
        join(&self.places)
    }

    pub fn during(&self) -> String {
        join(&self.during)
    }
}
