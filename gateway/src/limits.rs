//! What an S3 listener grants one client: the connection limits and timeouts.
//!
//! - `TimedIo` wraps a connection's socket and closes it when it is idle between
//!   requests longer than the keep-alive idle timeout, when a request's header has
//!   not arrived within the header timeout of its first byte (slowloris), or when
//!   the client reads nothing of a response for the body-idle timeout. Whether a
//!   request is in flight comes from the connection's `Activity`, which the request
//!   handler holds an `InFlight` guard of until the response is written.
//! - `refuse` answers a connection over the connection cap with `503 SlowDown` and
//!   closes it.
//!
//! Body-idle timeouts and the bound on upload memory are in `drain`.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};

/// The limits of an S3 listener (flags of `cairn server` and `cairn gateway`).
#[derive(Clone, Debug)]
pub struct Limits {
    /// A request's header must arrive within this time of its first byte.
    pub header_timeout: Duration,
    /// A connection idle between requests is closed after this time.
    pub idle_timeout: Duration,
    /// A request body (or a response the client does not read) that moves no byte
    /// for this time fails the request.
    pub body_idle_timeout: Duration,
    /// Connections served at once; more are answered `503 SlowDown` and closed.
    pub max_connections: usize,
    /// Request bodies above 64 KiB (or chunked) read at once; more wait for a turn.
    pub max_open_bodies: usize,
    /// How often the usage section of `/metrics` (a catalog scan) is recomputed.
    pub usage_refresh: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            body_idle_timeout: Duration::from_secs(60),
            max_connections: 4096,
            max_open_bodies: 256,
            usage_refresh: Duration::from_secs(30),
        }
    }
}

/// Requests in flight on one connection.
#[derive(Default)]
pub struct Activity {
    in_flight: AtomicUsize,
    /// Counts requests finished; a change starts a new idle period.
    finished: AtomicU64,
}

/// Held from a request's start until its response was written (or dropped).
pub struct InFlight(Arc<Activity>);

impl Activity {
    pub fn begin(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight(self.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.finished.fetch_add(1, Ordering::AcqRel);
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// How often a connection with a request in flight re-checks its read deadline.
const RECHECK: Duration = Duration::from_millis(250);

pub struct TimedIo {
    inner: TcpStream,
    activity: Arc<Activity>,
    limits: Arc<Limits>,
    /// `finished` as last seen: a new value means a new idle period.
    seen_finished: u64,
    idle_since: Instant,
    /// When the first byte of the next request's header arrived.
    head_since: Option<Instant>,
    read_timer: Pin<Box<Sleep>>,
    write_timer: Option<Pin<Box<Sleep>>>,
    write_progressed: bool,
}

impl TimedIo {
    pub fn new(inner: TcpStream, activity: Arc<Activity>, limits: Arc<Limits>) -> Self {
        let now = Instant::now();
        TimedIo {
            inner,
            activity,
            read_timer: Box::pin(tokio::time::sleep_until(now + limits.idle_timeout)),
            limits,
            seen_finished: 0,
            idle_since: now,
            head_since: None,
            write_timer: None,
            write_progressed: false,
        }
    }

    /// The read deadline now: none while a request is in flight (its body has its
    /// own timeout), else the header's or the idle period's.
    fn read_deadline(&mut self) -> Option<Instant> {
        if self.activity.in_flight.load(Ordering::Acquire) > 0 {
            return None;
        }
        let finished = self.activity.finished.load(Ordering::Acquire);
        if finished != self.seen_finished {
            self.seen_finished = finished;
            self.idle_since = Instant::now();
            self.head_since = None;
        }
        Some(match self.head_since {
            Some(t) => t + self.limits.header_timeout,
            None => self.idle_since + self.limits.idle_timeout,
        })
    }
}

fn timed_out(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, what.to_string())
}

impl AsyncRead for TimedIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before && this.read_deadline().is_some() {
                    this.head_since.get_or_insert_with(Instant::now);
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => {
                let Some(deadline) = this.read_deadline() else {
                    // A request is in flight: look again shortly, so the idle
                    // period starts once its response went out even if nothing
                    // else wakes this read (hyper may have polled it meanwhile).
                    let recheck = tokio::time::Instant::now() + RECHECK;
                    this.read_timer.as_mut().reset(recheck);
                    if this.read_timer.as_mut().poll(cx).is_ready() {
                        cx.waker().wake_by_ref();
                    }
                    return Poll::Pending;
                };
                if this.read_timer.deadline() != deadline {
                    this.read_timer.as_mut().reset(deadline);
                }
                match this.read_timer.as_mut().poll(cx) {
                    Poll::Ready(()) if this.head_since.is_some() => {
                        tracing::debug!("request header not received in time; closing");
                        Poll::Ready(Err(timed_out("header timeout")))
                    }
                    Poll::Ready(()) => Poll::Ready(Err(timed_out("idle timeout"))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }
}

impl TimedIo {
    /// Fails a write the client has not made room for within the body-idle timeout.
    fn poll_write_stall(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        let deadline = Instant::now() + self.limits.body_idle_timeout;
        let timer = self
            .write_timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if self.write_progressed {
            timer.as_mut().reset(deadline);
            self.write_progressed = false;
        }
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(timed_out("the client read nothing of the response")),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncWrite for TimedIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_write(cx, buf) {
            Poll::Ready(r) => {
                this.write_progressed = true;
                Poll::Ready(r)
            }
            Poll::Pending => this.poll_write_stall(cx).map(Err),
        }
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_write_vectored(cx, bufs) {
            Poll::Ready(r) => {
                this.write_progressed = true;
                Poll::Ready(r)
            }
            Poll::Pending => this.poll_write_stall(cx).map(Err),
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Answers a connection over the cap with `503 SlowDown` and closes it, reading a
/// little of its request first so the answer is not lost to a reset.
pub async fn refuse(mut stream: TcpStream) {
    const BODY: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SlowDown</Code><Message>Too many connections; reduce your request rate.</Message></Error>";
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n{BODY}",
        BODY.len()
    );
    let work = async {
        let mut scratch = [0u8; 4096];
        let _ = tokio::time::timeout(Duration::from_millis(200), async {
            let _ = tokio::io::AsyncReadExt::read(&mut stream, &mut scratch).await;
        })
        .await;
        let _ = stream.write_all(answer.as_bytes()).await;
        let _ = stream.shutdown().await;
        // Read what the client still sends until it closes, so the close is clean.
        let mut read = 0usize;
        while let Ok(n) = tokio::io::AsyncReadExt::read(&mut stream, &mut scratch).await {
            read += n;
            if n == 0 || read > 1024 * 1024 {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), work).await;
}

/// Logs a refusal at the connection cap, at most once every 10 s.
pub fn warn_refused(cap: usize) {
    static LAST: AtomicU64 = AtomicU64::new(0);
    static REFUSED: AtomicU64 = AtomicU64::new(0);
    let refused = REFUSED.fetch_add(1, Ordering::Relaxed) + 1;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let last = LAST.load(Ordering::Relaxed);
    if now >= last + 10
        && LAST
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        tracing::warn!(
            cap,
            refused,
            "connection cap reached: refusing connections (503 SlowDown)"
        );
    }
}

/// A response body that holds its request's `InFlight` guard until it is written.
pub struct Guarded<B> {
    inner: B,
    _in_flight: InFlight,
}

impl<B> Guarded<B> {
    pub fn new(inner: B, in_flight: InFlight) -> Self {
        Guarded {
            inner,
            _in_flight: in_flight,
        }
    }
}

impl<B: http_body::Body + Unpin> http_body::Body for Guarded<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<B::Data>, B::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
