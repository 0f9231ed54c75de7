#![allow(clippy::unwrap_used)]
//! Crash consistency: SIGKILL the server in the middle of a stream of PUTs and
//! check that every acknowledged write is durable and no object is torn.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cairn_tests::*;
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};

const KEYS: usize = 20;
const WRITERS: usize = 4;
const ROUNDS: usize = 3;

#[derive(Default, Debug, Clone)]
struct KeyState {
    /// md5s of every body ever sent for this key.
    sent: HashSet<String>,
    /// md5 of the last acknowledged body (None: absent — never written,
    /// acknowledged DELETE, or verified absent).
    acked: Option<String>,
    /// Outcomes of writes sent after the last ack whose result is unknown
    /// (in flight at kill time, or failed): Some(md5) for a PUT, None for a DELETE.
    unknown: Vec<Option<String>>,
}

struct Shared {
    keys: Mutex<Vec<KeyState>>,
    stop: AtomicBool,
    /// (key, error, when) of writes that failed.
    failures: Mutex<Vec<(usize, String, Instant)>>,
    acks: std::sync::atomic::AtomicUsize,
}

async fn writer(client: aws_sdk_s3::Client, shared: Arc<Shared>, writer_id: usize, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let my_keys: Vec<usize> = (0..KEYS).filter(|k| k % WRITERS == writer_id).collect();
    while !shared.stop.load(Ordering::SeqCst) {
        let k = my_keys[rng.gen_range(0..my_keys.len())];
        let key = format!("k{k}");
        // 10 % deletes, 90 % PUTs of 0..=3 MiB.
        let res = if rng.gen_bool(0.1) {
            shared.keys.lock().unwrap()[k].unknown.push(None);
            client
                .delete_object()
                .bucket("crash")
                .key(&key)
                .send()
                .await
                .map(|_| None)
                .map_err(|e| describe(&e))
        } else {
            let size = rng.gen_range(0..=3 * MIB);
            let mut data = vec![0u8; size];
            rng.fill_bytes(&mut data);
            let md5 = md5_hex(&data);
            // Half of the uploads use aws-chunked streaming bodies.
            let b = if rng.gen_bool(0.5) {
                body(data)
            } else {
                streaming_body(data)
            };
            {
                let mut keys = shared.keys.lock().unwrap();
                keys[k].sent.insert(md5.clone());
                keys[k].unknown.push(Some(md5.clone()));
            }
            client
                .put_object()
                .bucket("crash")
                .key(&key)
                .body(b)
                .send()
                .await
                .map(|out| {
                    assert_eq!(
                        out.e_tag(),
                        Some(format!("\"{md5}\"").as_str()),
                        "PUT ETag mismatch for {key}"
                    );
                    Some(md5)
                })
                .map_err(|e| describe(&e))
        };
        match res {
            Ok(outcome) => {
                let mut keys = shared.keys.lock().unwrap();
                keys[k].acked = outcome;
                keys[k].unknown.clear();
                shared.acks.fetch_add(1, Ordering::SeqCst);
            }
            Err(e) => {
                shared.failures.lock().unwrap().push((k, e, Instant::now()));
                // Server is (probably) gone: stop this writer.
                if shared.stop.load(Ordering::SeqCst) {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
}

/// After restart: check every key; returns the new verified state.
async fn verify(server: &Server, states: &mut [KeyState], round: usize) {
    let c = server.client();
    let listed: HashSet<String> = list_keys(&c, "crash").await.into_iter().collect();
    for (k, st) in states.iter_mut().enumerate() {
        let key = format!("k{k}");
        let res = c.get_object().bucket("crash").key(&key).send().await;
        let got: Option<String> = match res {
            Ok(resp) => {
                let etag = resp.e_tag().map(str::to_string);
                let len = resp.content_length();
                let data = resp.body.collect().await.unwrap().into_bytes();
                assert_eq!(
                    len,
                    Some(data.len() as i64),
                    "round {round}: {key} Content-Length vs body"
                );
                let md5 = md5_hex(&data);
                assert_eq!(
                    etag.as_deref(),
                    Some(format!("\"{md5}\"").as_str()),
                    "round {round}: {key} ETag does not match its content"
                );
                Some(md5)
            }
            Err(e) => {
                assert!(
                    err_status(&e) == 404 && err_code(&e) == "NoSuchKey",
                    "round {round}: GET {key}: {}",
                    describe(&e)
                );
                None
            }
        };
        assert_eq!(
            listed.contains(&key),
            got.is_some(),
            "round {round}: listing disagrees with GET for {key}"
        );
        if let Some(m) = &got {
            assert!(
                st.sent.contains(m),
                "round {round}: {key} has content (md5 {m}) that was never sent — torn or corrupt object"
            );
        }
        let ok = got == st.acked || st.unknown.contains(&got);
        assert!(
            ok,
            "round {round}: {key}: read back {got:?}, but last acknowledged write was {:?} \
             (writes with unknown outcome: {:?})",
            st.acked, st.unknown
        );
        st.acked = got;
        st.unknown.clear();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn crash_consistency_under_sigkill() {
    let mut server = Server::start(ServerOpts::new().chunk_size(MIB)).await;
    create_bucket(&server.client(), "crash").await;
    let mut states = vec![KeyState::default(); KEYS];
    let mut rng = StdRng::seed_from_u64(0xC4A5);

    for round in 0..ROUNDS {
        let shared = Arc::new(Shared {
            keys: Mutex::new(states.clone()),
            stop: AtomicBool::new(false),
            failures: Mutex::new(Vec::new()),
            acks: std::sync::atomic::AtomicUsize::new(0),
        });
        let mut tasks = Vec::new();
        for w in 0..WRITERS {
            let client = server.client_no_retry();
            let shared = shared.clone();
            let seed = rng.gen();
            tasks.push(tokio::spawn(writer(client, shared, w, seed)));
        }
        let delay = Duration::from_millis(rng.gen_range(2000..3000));
        tokio::time::sleep(delay).await;
        let killed_at = Instant::now();
        server.kill9();
        shared.stop.store(true, Ordering::SeqCst);
        for t in tasks {
            t.await.unwrap();
        }

        let acks = shared.acks.load(Ordering::SeqCst);
        let failures = shared.failures.lock().unwrap().clone();
        let early: Vec<_> = failures.iter().filter(|(_, _, t)| *t < killed_at).collect();
        assert!(
            early.is_empty(),
            "round {round}: writes failed before the server was killed: {early:?}"
        );
        assert!(
            acks > 0,
            "round {round}: no write acknowledged in {delay:?}"
        );
        eprintln!(
            "round {round}: {acks} acknowledged writes, {} interrupted, killed after {delay:?}",
            failures.len()
        );

        states = shared.keys.lock().unwrap().clone();
        server.start_again().await;
        verify(&server, &mut states, round).await;

        // The restarted server accepts writes.
        let probe = payload(round as u64, 1000);
        put(&server.client(), "crash", "probe", probe.clone()).await;
        assert_eq!(get_bytes(&server.client(), "crash", "probe").await, probe);
        server
            .client()
            .delete_object()
            .bucket("crash")
            .key("probe")
            .send()
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn crash_then_gc_reclaims_orphans_only() {
    let mut server = Server::start(ServerOpts::new().chunk_size(MIB)).await;
    create_bucket(&server.client(), "crash").await;
    let mut states = vec![KeyState::default(); KEYS];
    let shared = Arc::new(Shared {
        keys: Mutex::new(states.clone()),
        stop: AtomicBool::new(false),
        failures: Mutex::new(Vec::new()),
        acks: std::sync::atomic::AtomicUsize::new(0),
    });
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        tasks.push(tokio::spawn(writer(
            server.client_no_retry(),
            shared.clone(),
            w,
            0xABC0 + w as u64,
        )));
    }
    tokio::time::sleep(Duration::from_millis(2200)).await;
    server.kill9();
    shared.stop.store(true, Ordering::SeqCst);
    for t in tasks {
        t.await.unwrap();
    }
    states.clone_from(&shared.keys.lock().unwrap());

    // Restart with aggressive GC: orphaned chunks of interrupted writes go away,
    // chunks of live objects stay.
    server
        .restart_with(ServerOpts::new().chunk_size(MIB).gc(0, 1))
        .await;
    verify(&server, &mut states, 0).await;
    let c = server.client();
    let mut min_chunks = 0usize;
    let mut max_chunks = 0usize;
    for key in list_keys(&c, "crash").await {
        let head = c
            .head_object()
            .bucket("crash")
            .key(&key)
            .send()
            .await
            .unwrap();
        let size = head.content_length().unwrap() as usize;
        let n = size.div_ceil(MIB);
        // Objects below 64 KiB may be stored inline.
        if size >= 64 * KIB {
            min_chunks += n;
        }
        max_chunks += n;
    }
    // On a cluster a node that restarted may receive the interrupted writes' chunks
    // again (re-replicated log entries), which pins them for `PIN_WINDOW`.
    let deadline = std::time::Instant::now()
        + cairn_node::storage::chunk_store::PIN_WINDOW
        + Duration::from_secs(15);
    let count = loop {
        let (count, _) = server.chunk_files();
        if count <= max_chunks || std::time::Instant::now() > deadline {
            break count;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert!(
        count >= min_chunks && count <= max_chunks,
        "after GC: {count} chunk files, live objects need {min_chunks}..={max_chunks}"
    );
    // And everything still reads back.
    verify(&server, &mut states, 1).await;
}
