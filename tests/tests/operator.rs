#![allow(clippy::unwrap_used)]
#![allow(clippy::expect_used)]
#![allow(clippy::panic)]
//! An operator's first day with `cairn server`, run as a new user would: a busy
//! `--listen` port is reported before the data directory is created;
//! `--listen localhost:PORT` works; logs to a pipe carry no colour codes and one
//! info line per request (with the access key id, never the secret); `--log-format
//! json` lines parse as JSON; SIGTERM stops the server cleanly and says so;
//! `--help` names the environment variables each command reads.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cairn_tests::*;

fn port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `cairn server` on `listen` with data in `data`, stderr to `log`.
fn start(listen: &str, data: &Path, log: &Path, extra: &[&str]) -> Child {
    Command::new(cairn_bin())
        .arg("server")
        .args(["--listen", listen, "--data"])
        .arg(data)
        .args(extra)
        .env_remove("RUST_LOG")
        .env("CAIRN_ACCESS_KEY", ACCESS_KEY)
        .env("CAIRN_SECRET_KEY", SECRET_KEY)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .expect("spawn cairn server")
}

async fn wait_health(url: &str, child: &mut Child, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if reqwest::get(url)
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "server exited ({status}):\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        assert!(Instant::now() < deadline, "no /health at {url}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// SIGTERM, then the exit status (within 20 s).
fn terminate(child: &mut Child) -> std::process::ExitStatus {
    let pid = child.id().to_string();
    let sent = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(sent.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("server still running 20 s after SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_busy_port_is_reported_before_the_data_directory_exists() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("fresh-data");
    let out = Command::new(cairn_bin())
        .arg("server")
        .args(["--listen", &addr, "--data"])
        .arg(&data)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stderr}");
    assert!(!out.status.success(), "started on a busy port");
    assert!(
        stderr.contains(&format!("cannot listen on {addr}")) && stderr.contains("in use"),
        "{stderr}"
    );
    assert!(!data.exists(), "the data directory was created");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_to_a_pipe_have_no_colours_and_a_line_per_request() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("stderr.log");
    let port = port();
    let listen = format!("localhost:{port}");
    let mut child = start(&listen, &dir.path().join("data"), &log, &[]);
    let endpoint = format!("http://localhost:{port}");
    wait_health(&format!("{endpoint}/health"), &mut child, &log).await;
    let c =
        aws_sdk_s3::Client::from_conf(s3_config_builder(&endpoint, ACCESS_KEY, SECRET_KEY).build());
    create_bucket(&c, "daylog").await;
    put(&c, "daylog", "notes/first.txt", b"hello".to_vec()).await;
    assert_eq!(get_bytes(&c, "daylog", "notes/first.txt").await, b"hello");
    let status = terminate(&mut child);
    let text = std::fs::read_to_string(&log).unwrap();
    println!("{text}");
    assert!(status.success(), "exit after SIGTERM: {status}");
    assert!(!text.contains('\u{1b}'), "ANSI escape codes in piped logs");
    let put_line = text
        .lines()
        .find(|l| l.contains("method=PUT") && l.contains("key=notes/first.txt"))
        .unwrap_or_else(|| panic!("no access line for the PUT:\n{text}"));
    for field in [
        " INFO ",
        "bucket=daylog",
        "status=200",
        "bytes_in=5",
        "request_id=",
        "ms=",
        &format!("access_key={ACCESS_KEY}"),
    ] {
        assert!(put_line.contains(field), "{field:?} missing: {put_line}");
    }
    assert!(!text.contains(SECRET_KEY), "the secret key is in the log");
    assert!(text.contains("shutting down"), "no shutdown line");
    assert!(text.contains("stopped"), "no stopped line");
    let raft_warnings = text
        .lines()
        .filter(|l| l.contains("WARN") && l.contains("openraft"))
        .count();
    assert_eq!(raft_warnings, 0, "openraft warnings in a normal start");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_are_one_object_per_line() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("stderr.log");
    let port = port();
    let listen = format!("127.0.0.1:{port}");
    let mut child = start(
        &listen,
        &dir.path().join("data"),
        &log,
        &["--log-format", "json"],
    );
    let endpoint = format!("http://{listen}");
    wait_health(&format!("{endpoint}/health"), &mut child, &log).await;
    let c =
        aws_sdk_s3::Client::from_conf(s3_config_builder(&endpoint, ACCESS_KEY, SECRET_KEY).build());
    create_bucket(&c, "jsonlog").await;
    terminate(&mut child);
    let text = std::fs::read_to_string(&log).unwrap();
    let mut requests = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(
            v["level"].is_string() && v["timestamp"].is_string(),
            "{line}"
        );
        if v["message"] == "request" {
            requests += 1;
            assert_eq!(v["bucket"], "jsonlog", "{line}");
            assert_eq!(v["status"], 200, "{line}");
            assert_eq!(v["access_key"], ACCESS_KEY, "{line}");
        }
    }
    assert_eq!(requests, 1, "{text}");
}

#[test]
fn help_names_the_environment_variables() {
    for (cmd, vars) in [
        (
            "server",
            &["CAIRN_ACCESS_KEY", "CAIRN_SECRET_KEY", "RUST_LOG"][..],
        ),
        (
            "gateway",
            &["CAIRN_ACCESS_KEY", "RUST_LOG", "CAIRN_LOG_FORMAT"][..],
        ),
        ("node", &["RUST_LOG", "CAIRN_LOG_FORMAT"][..]),
        ("cluster", &["RUST_LOG"][..]),
        ("bench", &["S3_ENDPOINT", "S3_KEY", "S3_SECRET"][..]),
    ] {
        let out = Command::new(cairn_bin())
            .args([cmd, "--help"])
            .output()
            .unwrap();
        let help = String::from_utf8_lossy(&out.stdout);
        for var in vars {
            assert!(
                help.contains(var),
                "`cairn {cmd} --help` lacks {var}:\n{help}"
            );
        }
    }
}
