//! Crash consistency of versions: SIGKILL the server during versioned overwrites
//! and deletes; afterwards every acknowledged version (and delete marker) is
//! listed and readable byte for byte, and no listed version is half-written.

use super::versioning::set_versioning;
use aws_sdk_s3::types::BucketVersioningStatus;
use cairn_tests::*;
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const KEYS: usize = 8;
const WRITERS: usize = 3;

/// What a writer learned: acknowledged versions and every body it ever sent.
#[derive(Default)]
struct Log {
    /// (key, version id) → md5 of the body, or `None` for a delete marker.
    acked: HashMap<(String, String), Option<String>>,
    /// key → md5s of every body sent (acknowledged or not).
    sent: HashMap<String, HashSet<String>>,
}

async fn writer(c: aws_sdk_s3::Client, log: Arc<Mutex<Log>>, stop: Arc<AtomicBool>, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    while !stop.load(Ordering::SeqCst) {
        let key = format!("k{}", rng.gen_range(0..KEYS));
        if rng.gen_bool(0.15) {
            if let Ok(out) = c.delete_object().bucket("vcrash").key(&key).send().await {
                let id = out.version_id().unwrap_or_default().to_string();
                log.lock().unwrap().acked.insert((key, id), None);
            }
            continue;
        }
        let mut data = vec![0u8; rng.gen_range(0..=1536 * KIB)];
        rng.fill_bytes(&mut data);
        let md5 = md5_hex(&data);
        log.lock()
            .unwrap()
            .sent
            .entry(key.clone())
            .or_default()
            .insert(md5.clone());
        let sent = c
            .put_object()
            .bucket("vcrash")
            .key(&key)
            .body(body(data))
            .send()
            .await;
        match sent {
            Ok(out) => {
                let id = out.version_id().expect("a versioned PUT's id").to_string();
                log.lock().unwrap().acked.insert((key, id), Some(md5));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_versions_survive_sigkill() {
    let mut server = Server::start(ServerOpts::new().chunk_size(256 * KIB)).await;
    let c = server.client();
    create_bucket(&c, "vcrash").await;
    set_versioning(&c, "vcrash", BucketVersioningStatus::Enabled).await;
    let log = Arc::new(Mutex::new(Log::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let tasks: Vec<_> = (0..WRITERS)
        .map(|w| {
            let client = server.client_no_retry();
            tokio::spawn(writer(client, log.clone(), stop.clone(), 0x5EED + w as u64))
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    server.kill9();
    stop.store(true, Ordering::SeqCst);
    for t in tasks {
        t.await.unwrap();
    }
    server.restart().await;

    let c = server.client();
    let log = std::mem::take(&mut *log.lock().unwrap());
    assert!(
        log.acked.len() >= 5,
        "too few acknowledged writes: {}",
        log.acked.len()
    );
    let listed = super::versioning::all_versions(&c, "vcrash", 37).await;
    let listed_ids: HashMap<(String, String), bool> = listed
        .iter()
        .map(|(k, id, _, marker)| ((k.clone(), id.clone()), *marker))
        .collect();
    for ((key, id), outcome) in log.acked.iter() {
        assert_eq!(
            listed_ids.get(&(key.clone(), id.clone())),
            Some(&outcome.is_none()),
            "acknowledged version {key}@{id} ({outcome:?}) not listed as such"
        );
    }
    // Every listed version reads back whole, with one of the bodies sent.
    for (key, id, _, marker) in &listed {
        if *marker {
            continue;
        }
        let out = c
            .get_object()
            .bucket("vcrash")
            .key(key)
            .version_id(id)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {key}@{id}: {}", describe(&e)));
        let data = out.body.collect().await.unwrap().into_bytes();
        let md5 = md5_hex(&data);
        assert!(
            log.sent.get(key).is_some_and(|s| s.contains(&md5)),
            "{key}@{id} holds bytes no writer sent ({} bytes)",
            data.len()
        );
        if let Some(Some(want)) = log.acked.get(&(key.clone(), id.clone())) {
            assert_eq!(&md5, want, "acknowledged {key}@{id} changed");
        }
    }
    // The newest version of each key decides what a plain GET sees.
    for key in (0..KEYS).map(|k| format!("k{k}")) {
        let newest = listed.iter().find(|(k, _, latest, _)| *k == key && *latest);
        let got = c.get_object().bucket("vcrash").key(&key).send().await;
        match newest {
            Some((_, id, _, false)) => assert_eq!(got.unwrap().version_id(), Some(id.as_str())),
            _ => assert_err(got, 404, &["NoSuchKey"]),
        }
    }
}
