//! The request body as the S3 service reads it (`RequestBody`), and what becomes of
//! the part of it nobody read (`Leftover`).
//!
//! While a body is read: a body that sends nothing for the body-idle timeout fails
//! (`RequestTimeout`), and a body that may be large (declared above 64 KiB, or
//! chunked) holds one of a fixed number of upload permits while it is read, so
//! stalled uploads hold at most `max_open_bodies` chunk buffers together.
//!
//! When the response is ready and the body was not read to its end (a request
//! refused early), the connection's framing decides (HTTP/1.1, RFC 9110 §10.1.1):
//! - the client waits for `100 Continue` and none went out (the body was never
//!   polled): the body never comes; the response carries `Connection: close` and
//!   the body is dropped unread — never read on, as the next bytes may be the
//!   client's next request;
//! - otherwise the client is sending: exactly the announced body (hyper's framing:
//!   Content-Length or chunked) is read and discarded in the background, bounded in
//!   bytes and time; past the bound the connection closes. When the announced rest
//!   is larger than the bound or unknown, the response says `Connection: close`.

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// At most this much of an abandoned body is read before the connection is dropped.
const DRAIN_MAX_BYTES: u64 = 64 * 1024 * 1024;
const DRAIN_MAX_TIME: Duration = Duration::from_secs(30);
/// Bodies declared at most this long are read without an upload permit.
const SMALL_BODY: u64 = 64 * 1024;

pub type BodyError = Box<dyn std::error::Error + Send + Sync>;

/// What bodies share: their idle timeout and the upload permits.
#[derive(Clone)]
pub struct BodyLimits {
    pub idle: Duration,
    pub permits: Arc<Semaphore>,
}

impl BodyLimits {
    pub fn new(idle: Duration, max_open_bodies: usize) -> Self {
        BodyLimits {
            idle,
            permits: Arc::new(Semaphore::new(max_open_bodies.max(1))),
        }
    }
}

/// What the body and the request's handler both see.
struct Shared {
    /// Polled at least once: a `100 Continue` went out if one was expected.
    polled: AtomicBool,
    /// Read to its end.
    done: AtomicBool,
    leftover: Mutex<Leftover>,
}

enum Leftover {
    /// The body is still read by the service, or no decision was taken yet.
    Open,
    /// Dropped before its end; waits for the decision.
    Parked(Incoming),
    /// Decided: what happens to what is left when the body is dropped.
    Drain,
    Drop,
}

type PermitFuture = Pin<
    Box<
        dyn std::future::Future<Output = Result<OwnedSemaphorePermit, tokio::sync::AcquireError>>
            + Send,
    >,
>;

enum Permit {
    NotNeeded,
    Needed,
    Waiting(PermitFuture),
    Held(#[allow(dead_code)] OwnedSemaphorePermit),
}

pub struct RequestBody {
    inner: Option<Incoming>,
    shared: Arc<Shared>,
    idle: Duration,
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
    progressed: bool,
    permit: Permit,
    permits: Arc<Semaphore>,
}

/// The handler's side of a request body: decides about its leftover.
pub struct BodyWatch {
    shared: Arc<Shared>,
    expect_continue: bool,
    declared: Option<u64>,
}

/// A request body for the service, and its watch for the handler.
pub fn watch(
    body: Incoming,
    headers: &http::HeaderMap,
    limits: &BodyLimits,
) -> (RequestBody, BodyWatch) {
    let expect_continue = headers
        .get(http::header::EXPECT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"));
    let declared = body.size_hint().exact();
    let done = body.is_end_stream();
    let shared = Arc::new(Shared {
        polled: AtomicBool::new(false),
        done: AtomicBool::new(done),
        leftover: Mutex::new(Leftover::Open),
    });
    let permit = if declared.is_some_and(|n| n <= SMALL_BODY) || done {
        Permit::NotNeeded
    } else {
        Permit::Needed
    };
    let body = RequestBody {
        inner: Some(body),
        shared: shared.clone(),
        idle: limits.idle,
        timer: None,
        progressed: false,
        permit,
        permits: limits.permits.clone(),
    };
    let watch = BodyWatch {
        shared,
        expect_continue,
        declared,
    };
    (body, watch)
}

fn timeout_error() -> BodyError {
    "RequestTimeout: the body sent nothing for the body-idle timeout".into()
}

impl RequestBody {
    /// Fails the body when the idle timer runs out; arms it on the first wait.
    fn poll_idle(&mut self, cx: &mut Context<'_>) -> Poll<BodyError> {
        let deadline = tokio::time::Instant::now() + self.idle;
        let timer = self
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if self.progressed {
            timer.as_mut().reset(deadline);
            self.progressed = false;
        }
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(timeout_error()),
            Poll::Pending => Poll::Pending,
        }
    }

    /// Holds an upload permit before a large body is read.
    fn poll_permit(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BodyError>> {
        loop {
            match &mut self.permit {
                Permit::NotNeeded | Permit::Held(_) => return Poll::Ready(Ok(())),
                Permit::Needed => match self.permits.clone().try_acquire_owned() {
                    Ok(p) => self.permit = Permit::Held(p),
                    Err(_) => {
                        self.permit =
                            Permit::Waiting(Box::pin(self.permits.clone().acquire_owned()))
                    }
                },
                Permit::Waiting(fut) => match fut.as_mut().poll(cx) {
                    Poll::Ready(Ok(p)) => {
                        self.permit = Permit::Held(p);
                        self.progressed = true;
                    }
                    Poll::Ready(Err(_)) => {
                        return Poll::Ready(Err("SlowDown: no upload permits".into()))
                    }
                    Poll::Pending => {
                        return match self.poll_idle(cx) {
                            Poll::Ready(_) => Poll::Ready(Err(
                                "SlowDown: too many uploads in progress; reduce your request rate"
                                    .into(),
                            )),
                            Poll::Pending => Poll::Pending,
                        };
                    }
                },
            }
        }
    }
}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = &mut *self;
        if this.inner.is_none() {
            return Poll::Ready(None);
        }
        if let Err(e) = std::task::ready!(this.poll_permit(cx)) {
            return Poll::Ready(Some(Err(e)));
        }
        this.shared.polled.store(true, Ordering::Release);
        let Some(inner) = this.inner.as_mut() else {
            return Poll::Ready(None);
        };
        match Pin::new(inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                this.progressed = true;
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => {
                this.shared.done.store(true, Ordering::Release);
                this.permit = Permit::NotNeeded;
                Poll::Ready(None)
            }
            Poll::Pending => match this.poll_idle(cx) {
                Poll::Ready(e) => Poll::Ready(Some(Err(e))),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(Body::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.inner
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), Body::size_hint)
    }
}

impl Drop for RequestBody {
    fn drop(&mut self) {
        let Some(body) = self.inner.take() else {
            return;
        };
        if body.is_end_stream() {
            self.shared.done.store(true, Ordering::Release);
            return;
        }
        if self.shared.done.load(Ordering::Acquire) {
            return;
        }
        let Ok(mut leftover) = self.shared.leftover.lock() else {
            return;
        };
        match *leftover {
            Leftover::Open => *leftover = Leftover::Parked(body),
            Leftover::Drain => drain(body),
            Leftover::Parked(_) | Leftover::Drop => {}
        }
    }
}

impl BodyWatch {
    /// Decides about what is left of the body once the response is ready; returns
    /// true when the response must close the connection.
    pub fn finish(self) -> bool {
        if self.shared.done.load(Ordering::Acquire) {
            return false;
        }
        let Ok(mut leftover) = self.shared.leftover.lock() else {
            return true;
        };
        let parked = match std::mem::replace(&mut *leftover, Leftover::Drop) {
            Leftover::Parked(body) => Some(body),
            _ => None,
        };
        if self.expect_continue && !self.shared.polled.load(Ordering::Acquire) {
            // No `100 Continue` went out: the client does not send the body, and the
            // next bytes on the connection are not part of it.
            drop(leftover);
            drop(parked);
            return true;
        }
        *leftover = Leftover::Drain;
        drop(leftover);
        let rest = parked
            .as_ref()
            .map_or(self.declared, |b| b.size_hint().exact());
        if let Some(body) = parked {
            drain(body);
        }
        rest.is_none_or(|n| n > DRAIN_MAX_BYTES)
    }
}

/// Reads and discards the rest of a body the client is sending, bounded in bytes
/// and time; dropping it past the bound makes hyper close the connection.
fn drain(mut body: Incoming) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    runtime.spawn(async move {
        let drain = async {
            let mut read = 0u64;
            while let Some(Ok(frame)) =
                std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await
            {
                read += frame.data_ref().map_or(0, |d| d.len() as u64);
                if read > DRAIN_MAX_BYTES {
                    break;
                }
            }
        };
        let _ = tokio::time::timeout(DRAIN_MAX_TIME, drain).await;
    });
}
