//! Stopping on a signal: `signalled` waits for SIGTERM or SIGINT (Ctrl-C);
//! servers then stop accepting and let requests in flight finish for up to
//! `DRAIN`.

use std::time::Duration;

/// How long requests in flight may take to finish after a stop signal.
pub const DRAIN: Duration = Duration::from_secs(30);

/// Waits for SIGTERM or SIGINT; the signal's name.
pub async fn signalled() -> &'static str {
    use tokio::signal::unix::{signal, SignalKind};
    let (mut term, mut int) = match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(t), Ok(i)) => (t, i),
        (Err(error), _) | (_, Err(error)) => {
            tracing::warn!(%error, "cannot watch for stop signals");
            return std::future::pending().await;
        }
    };
    tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    }
}
