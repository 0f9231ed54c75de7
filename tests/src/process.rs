//! One `cairn` child process with its own log file: spawn, SIGKILL, SIGTERM,
//! wait for `/health`, read the log's tail. Used by [`crate::Server`] for the
//! embedded store and by [`crate::cluster::Cluster`] for nodes and the gateway.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::cairn_bin;

pub(crate) struct Proc {
    /// Name used in log excerpts, e.g. "server", "node 2", "gateway".
    pub label: String,
    pub log_path: PathBuf,
    child: Option<Child>,
}

impl Proc {
    pub fn new(label: impl Into<String>, log_path: PathBuf) -> Self {
        Proc {
            label: label.into(),
            log_path,
            child: None,
        }
    }

    /// Spawn `cmd` with stdout and stderr appended to the log, after a banner line.
    pub fn spawn(&mut self, mut cmd: Command, banner: &str) {
        assert!(self.child.is_none(), "{} already running", self.label);
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .unwrap_or_else(|e| panic!("open log {}: {e}", self.log_path.display()));
        let _ = writeln!(log, "===== starting {}: {banner} =====", self.label);
        let log2 = log.try_clone().expect("clone log fd");
        // Plain-text logs (tracing-subscriber colours its output unless NO_COLOR is set).
        cmd.env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log2));
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("failed to spawn {:?}: {e}", cairn_bin()));
        self.child = Some(child);
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// If the process has exited, reap it and return its status.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        let status = self.child.as_mut()?.try_wait().ok()??;
        self.child = None;
        Some(status)
    }

    /// "running", "not running" (never started or stopped by the test), or how it
    /// exited on its own (a crash shows up here).
    pub fn state(&mut self) -> String {
        if self.child.is_none() {
            return "not running".into();
        }
        match self.exited() {
            Some(status) => format!("EXITED on its own: {status}"),
            None => "running".into(),
        }
    }

    /// SIGKILL and reap.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Send SIGTERM (the process is reaped by [`Proc::wait_or_kill`]).
    pub fn term(&self) {
        if let Some(child) = &self.child {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }

    /// Wait until the process exits or `deadline` passes, then SIGKILL it.
    pub fn wait_or_kill(&mut self, deadline: Instant) {
        if let Some(mut child) = self.child.take() {
            loop {
                match child.try_wait() {
                    Ok(Some(_)) => return,
                    Ok(None) if Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(20))
                    }
                    _ => {
                        let _ = child.kill();
                        let _ = child.wait();
                        return;
                    }
                }
            }
        }
    }

    /// SIGTERM, wait up to 10 s, then SIGKILL.
    pub fn stop(&mut self) {
        self.term();
        self.wait_or_kill(Instant::now() + Duration::from_secs(10));
    }

    /// The last `max` bytes of the log.
    pub fn log_tail(&self, max: u64) -> String {
        log_tail(&self.log_path, max)
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// The last `max` bytes of a file.
pub(crate) fn log_tail(path: &Path, max: u64) -> String {
    let Ok(mut f) = File::open(path) else {
        return String::from("<no log>");
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = f.seek(SeekFrom::Start(len.saturating_sub(max)));
    let mut buf = Vec::new();
    let _ = f.read_to_end(&mut buf);
    String::from_utf8_lossy(&buf).into_owned()
}

/// The tails of several processes' logs, each under a `--- label (path) ---` line,
/// `max` bytes in all.
pub(crate) fn labelled_tails<'a>(procs: impl IntoIterator<Item = &'a Proc>, max: u64) -> String {
    let procs: Vec<&Proc> = procs.into_iter().collect();
    let each = (max / procs.len().max(1) as u64).max(2048);
    let mut out = String::new();
    for p in procs {
        out.push_str(&format!(
            "--- {} ({}) ---\n{}\n",
            p.label,
            p.log_path.display(),
            p.log_tail(each)
        ));
    }
    out
}

/// One line per process: its label and [`Proc::state`].
pub(crate) fn states<'a>(procs: impl IntoIterator<Item = &'a mut Proc>) -> String {
    procs
        .into_iter()
        .map(|p| {
            let state = p.state();
            format!("{}: {state}\n", p.label)
        })
        .collect()
}

/// Poll `http://ADDR/health` until it answers 200. Fails after `timeout`, or as
/// soon as one of `watched` exits; the caller adds the logs to the panic message.
pub(crate) async fn wait_health(
    addr: &str,
    timeout: Duration,
    watched: &mut [&mut Proc],
) -> Result<(), String> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .expect("reqwest client");
    wait_health_with(&format!("http://{addr}/health"), &http, timeout, watched).await
}

/// [`wait_health`] of any URL (e.g. https) with the client `http`.
pub(crate) async fn wait_health_with(
    url: &str,
    http: &reqwest::Client,
    timeout: Duration,
    watched: &mut [&mut Proc],
) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    loop {
        for p in watched.iter_mut() {
            if let Some(status) = p.exited() {
                return Err(format!("{} exited during startup with {status}", p.label));
            }
        }
        if let Ok(resp) = http.get(url).send().await {
            if resp.status().as_u16() == 200 {
                return Ok(());
            }
        }
        if Instant::now() > deadline {
            return Err(format!("{url} not ready after {timeout:?}"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
