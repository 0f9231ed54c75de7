//! One S3 request's way through a listener, after its connection is accepted:
//! `/health` and `/metrics`, CORS preflights, POST object (browser forms), the
//! signature prechecks, then the s3s service; every answer gets its request id,
//! error document, CORS headers and `Connection: close` where the body could not
//! be drained, and is counted in the metrics and the access log.

use crate::cors::cache::CorsCache;
use crate::drain::BodyLimits;
use crate::limits::InFlight;
use crate::metrics::METRICS;
use crate::op_metrics::{OpSlot, OP_METRICS};
use crate::s3::post_object::PostContext;
use crate::wire::{
    content_length, finish_error, is_health_check, is_metrics, join_repeated, partial_head,
};
use hyper::body::Incoming;
use s3s::service::S3Service;
use s3s::Body;
use std::sync::Arc;
use std::time::Instant;
use tracing::Instrument;

/// What every request of a listener shares.
#[derive(Clone)]
pub struct Shared {
    pub service: S3Service,
    pub region: Arc<str>,
    pub bodies: BodyLimits,
    pub cors: Arc<CorsCache>,
    pub domain: Option<Arc<str>>,
    pub post: Arc<PostContext>,
}

type Response = http::Response<crate::limits::Guarded<Body>>;

pub async fn handle(
    shared: Shared,
    in_flight: InFlight,
    req: http::Request<Incoming>,
) -> Result<Response, s3s::HttpError> {
    let resp = respond(shared, req).await?;
    Ok(resp.map(|body| crate::limits::Guarded::new(body, in_flight)))
}

async fn respond(
    shared: Shared,
    req: http::Request<Incoming>,
) -> Result<http::Response<Body>, s3s::HttpError> {
    let request_id = format!("{:016x}", rand::random::<u64>());
    if is_health_check(&req) {
        return Ok(http::Response::new(Body::from("ok".to_string())));
    }
    if is_metrics(&req) {
        // In `cairn server` the node's lifecycle worker runs in this process.
        let mut page = METRICS.render();
        page.push_str(&OP_METRICS.render());
        page.push_str(&cairn_node::node::lifecycle::render_lifecycle_metrics());
        page.push_str(&cairn_node::node::scrub_stats::render_scrub_metrics());
        return Ok(http::Response::new(Body::from(page)));
    }
    let method = req.method().as_str().to_string();
    if req.method() == http::Method::OPTIONS {
        let resp =
            crate::cors::respond::preflight(&shared.cors, &req, shared.domain.as_deref()).await;
        return Ok(finish_error(resp, &request_id).await);
    }
    let cross_origin = crate::cors::respond::cross_origin(&req, shared.domain.as_deref());
    let line = crate::access_log::RequestLine::of(&req);
    let span = tracing::info_span!(
        "request",
        id = %request_id,
        method = %req.method(),
        path = %req.uri().path()
    );
    let started = Instant::now();
    let empty_expect_continue = req.headers().contains_key(http::header::EXPECT)
        && req
            .headers()
            .get(http::header::CONTENT_LENGTH)
            .is_some_and(|v| v == "0");
    let (parts, incoming) = req.into_parts();
    let (body, watch) = crate::drain::watch(incoming, &parts.headers, &shared.bodies);
    let mut req = http::Request::from_parts(parts, Body::http_body_unsync(body));
    join_repeated(req.headers_mut(), http::header::CONTENT_ENCODING);
    let declared_in = content_length(req.headers());
    let op = OpSlot::default();
    req.extensions_mut().insert(op.clone());
    let post_bucket = crate::s3::post_object::target(&req, shared.domain.as_deref());
    let resp = if let Some(bucket) = post_bucket {
        op.set("PostObject");
        crate::s3::post_object::handle(&shared.post, bucket, req)
            .instrument(span.clone())
            .await
    } else {
        match crate::precheck::check_auth(&req, &shared.region) {
            Err(refusal) => crate::s3::error::response(refusal),
            Ok(()) => {
                if crate::precheck::unframed_upload(&req) {
                    req = crate::precheck::carry_unframed(req);
                }
                shared.service.call(req).instrument(span.clone()).await?
            }
        }
    };
    let mut resp = finish_error(resp, &request_id).await;
    partial_head(&method, &mut resp);
    if let Some(cx) = &cross_origin {
        crate::cors::respond::decorate(&shared.cors, cx, &mut resp).await;
    }
    if watch.finish() || empty_expect_continue {
        // The rest of the body cannot be told from the next request on this
        // connection (see `drain`), or, for an empty body with `Expect`, no
        // `100 Continue` went out and botocore then misreads the next response on
        // this connection (boto/botocore#3755). Start afresh.
        resp.headers_mut().insert(
            http::header::CONNECTION,
            http::HeaderValue::from_static("close"),
        );
    }
    if let Ok(v) = http::HeaderValue::from_str(&request_id) {
        resp.headers_mut().insert("x-amz-request-id", v);
    }
    METRICS.record(
        &method,
        resp.status().as_u16(),
        content_length(resp.headers()),
        started.elapsed(),
    );
    OP_METRICS.record(
        op.get(),
        resp.status().as_u16(),
        declared_in,
        content_length(resp.headers()),
        started.elapsed(),
    );
    line.log(
        &request_id,
        resp.status().as_u16(),
        content_length(resp.headers()),
        started.elapsed(),
    );
    Ok(resp)
}
