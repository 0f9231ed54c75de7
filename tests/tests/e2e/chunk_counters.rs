#![allow(clippy::unwrap_used)]
//! A node's chunk counters (files and bytes held, behind its status and metrics)
//! across restarts: a clean stop saves them and the next start reads them instead
//! of walking the chunk files; after a SIGKILL a count behind start-up rebuilds
//! them and finds exactly the files on disk.

use cairn_tests::*;

/// The `files=N` of each "chunk files counted" line of the server's log.
fn counts_logged(server: &Server) -> Vec<u64> {
    std::fs::read_to_string(server.log_path())
        .unwrap()
        .lines()
        .filter(|l| l.contains("chunk files counted"))
        .map(|l| {
            let at = l.find("files=").unwrap() + "files=".len();
            l[at..]
                .split(|c: char| !c.is_ascii_digit())
                .next()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect()
}

async fn wait_for_counts(server: &Server, n: usize) -> Vec<u64> {
    for _ in 0..100 {
        let counts = counts_logged(server);
        if counts.len() >= n {
            return counts;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!(
        "fewer than {n} counts logged\n{}",
        server.log_tail(16 * 1024)
    );
}

#[tokio::test]
async fn a_clean_stop_saves_the_chunk_counters_and_a_kill_makes_the_next_start_count() {
    let mut server = Server::start(ServerOpts::new().chunk_size(MIB)).await;
    if server.cluster().is_some() {
        return; // the nodes' logs are elsewhere; the counting is the same code
    }
    // A fresh store has no saved counters: it counts (nothing).
    assert_eq!(wait_for_counts(&server, 1).await, vec![0]);
    let c = server.client();
    create_bucket(&c, "counted").await;
    put(&c, "counted", "big", payload(1, 3 * MIB + 5)).await;
    put(&c, "counted", "other", payload(2, MIB + 1)).await;
    let (files, _) = server.chunk_files();
    assert!(files >= 6, "only {files} chunk files");

    server.restart().await; // SIGTERM: saved, then read back without a count
    let c = server.client();
    assert_eq!(
        get_bytes(&c, "counted", "big").await,
        payload(1, 3 * MIB + 5)
    );
    assert_eq!(
        counts_logged(&server),
        vec![0],
        "a clean restart counted the files"
    );
    assert!(
        !server.data_dir.join("chunks/usage").exists(),
        "the start kept the saved counters' file"
    );

    server.kill9();
    server.start_again().await;
    assert_eq!(
        wait_for_counts(&server, 2).await,
        vec![0, files as u64],
        "the count after a kill found other than the files on disk"
    );
}
