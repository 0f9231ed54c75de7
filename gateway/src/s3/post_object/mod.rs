//! POST object: the browser form upload (`POST /BUCKET`, path or virtual-hosted
//! style, `multipart/form-data`), answered by the server before s3s (whose own
//! POST support holds the whole file in memory). The fields before the file are
//! read (`form`), the signature over the policy checked (`sign`) and the signer's
//! write permission on the bucket, then the policy (`policy`) against the fields;
//! only then is the file streamed into chunks (`chunker::store_body`, memory
//! bounded by the chunk window), its size held to the policy's
//! `content-length-range`, and the object committed as PutObject commits it.
//! The answer is 204 (or 200, or 201 with a `PostResponse` document, as
//! `success_action_status` asks) or a 303 to `success_action_redirect`.
//! Anonymous uploads are refused: Cairn opens no bucket to anonymous writes.

mod form;
mod policy;
mod sign;

use crate::auth::Authorizer;
use crate::checksum::{BodyHasher, Expected};
use crate::chunker::{store_body, Pins};
use crate::s3::error::{custom, OrS3};
use crate::state::{Gateway, MAX_PUT_SIZE};
use cairn_node::records::{ContentHeaders, ObjectMeta, WriteCondition};
use form::FormError;
use policy::{Policy, PolicyError};
use s3s::{s3_error, Body, S3Error, S3ErrorCode, S3Result};

/// What POST object uploads need: the store, the key checks and the region
/// SigV4 credentials must name.
pub struct PostContext {
    gateway: Gateway,
    auth: Authorizer,
    region: String,
}

impl PostContext {
    pub fn new(gateway: Gateway, auth: Authorizer, region: String) -> Self {
        PostContext {
            gateway,
            auth,
            region,
        }
    }
}

/// The bucket of a POST object upload: a POST with a `multipart/form-data` body
/// and no query, to `/BUCKET` (path style) or `/` of `BUCKET.DOMAIN`.
pub fn target<B>(req: &http::Request<B>, domain: Option<&str>) -> Option<String> {
    let multipart = req
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("multipart/form-data")
        });
    if req.method() != http::Method::POST || !multipart || req.uri().query().is_some() {
        return None;
    }
    let path = req.uri().path();
    if let (Some(domain), Some(host)) = (domain, req.headers().get(http::header::HOST)) {
        let host = host.to_str().ok()?;
        let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
        if let Some(bucket) = host.strip_suffix(domain).and_then(|b| b.strip_suffix('.')) {
            return (!bucket.is_empty() && path == "/").then(|| bucket.to_string());
        }
    }
    let bucket = path.strip_prefix('/')?;
    let bucket = bucket.strip_suffix('/').unwrap_or(bucket);
    (!bucket.is_empty() && !bucket.contains('/')).then(|| bucket.to_string())
}

/// Answers a POST object upload to `bucket`.
pub async fn handle(
    cx: &PostContext,
    bucket: String,
    req: http::Request<Body>,
) -> http::Response<Body> {
    match post(cx, &bucket, req).await {
        Ok(resp) => resp,
        Err(e) => crate::s3::error::response(e),
    }
}

async fn post(
    cx: &PostContext,
    bucket: &str,
    req: http::Request<Body>,
) -> S3Result<http::Response<Body>> {
    let (parts, body) = req.into_parts();
    let boundary = parts
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(form::boundary)
        .ok_or_else(|| form_error(FormError::NoBoundary))?;
    let mut form = form::read(body, &boundary).await.map_err(form_error)?;

    let Some(access_key) = sign::signer(&cx.auth, &form.fields, &cx.region).await? else {
        return Err(s3_error!(AccessDenied, "Access Denied"));
    };
    let policy = form.fields.field("policy").unwrap_or_default();
    let policy = Policy::parse(policy).map_err(policy_error)?;

    let filename = form.file.filename.clone();
    let key = form
        .fields
        .field("key")
        .ok_or_else(|| {
            crate::s3::error::invalid_argument(
                "Bucket POST must contain a field named 'key'.  If it is specified, please check the order of the fields.",
            )
        })?
        .replace("${filename}", &filename);
    for (name, value) in &mut form.fields.0 {
        if name == "key" {
            value.clone_from(&key);
        }
    }
    // Authorised as the PutObject of `key` it is: grants, ACLs and the bucket
    // policy (an explicit Deny wins), before any byte is stored.
    let requester = cx
        .auth
        .authorize_post(access_key, bucket, &key, &parts)
        .await?;
    let (min, max) = policy
        .check(&form.fields.0, bucket, time::OffsetDateTime::now_utc())
        .map_err(policy_error)?;
    crate::s3::meta::check_key(&key)?;
    let as_put = as_headers(&form.fields.0);
    crate::s3::refuse::check_request("PutObject", &parts.uri, &as_put)?;
    let mut meta = object_meta(&form)?;

    let gw = &cx.gateway;
    let settings = crate::s3::acl::settings(gw, bucket).await?;
    if settings.block.block_public_acls && crate::policy::public_block::public_acl_headers(&as_put)
    {
        return Err(s3_error!(
            AccessDenied,
            "Access Denied: the bucket's public access block refuses public ACLs"
        ));
    }
    meta.set_acl(crate::s3::acl::for_write(gw, bucket, &as_put, Some(&requester)).await?);
    let cfg = gw.node.bucket_config(bucket.to_string()).await.or_s3()?;
    if cfg.object_lock && cfg.default_retention.is_some() {
        return Err(crate::s3::object_lock::integrity_required());
    }
    let expected = Expected::default();
    let file = std::mem::replace(&mut form.file.body, Box::pin(futures::stream::empty()));
    let stored = store_body(
        gw,
        file,
        BodyHasher::new(&expected),
        max.min(MAX_PUT_SIZE),
        true,
    )
    .await?;
    if stored.size < min {
        return Err(S3Error::with_message(
            S3ErrorCode::EntityTooSmall,
            "Your proposed upload is smaller than the minimum allowed size",
        ));
    }
    if stored.size > max {
        return Err(s3_error!(EntityTooLarge));
    }
    let record = stored.into_record(&expected, None, meta)?;
    let etag = format!("\"{}\"", record.etag);
    let pins = Pins::of(record.data.chunks());
    let committed = gw
        .node
        .put_object(
            bucket.to_string(),
            key.clone(),
            record,
            WriteCondition::Always,
            None,
        )
        .await;
    pins.release(gw);
    let version = committed.or_s3()?;
    tracing::debug!(bucket, key = %key, "POST object stored");
    Ok(success(&form, &parts, bucket, &key, &etag, version))
}

/// The answer to a stored upload: the redirect, or the status asked for.
fn success(
    form: &form::Form,
    parts: &http::request::Parts,
    bucket: &str,
    key: &str,
    etag: &str,
    version: Option<String>,
) -> http::Response<Body> {
    let host = parts
        .headers
        .get(http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("localhost");
    let path_style = parts.uri.path() != "/";
    let encoded_key = urlencoding::encode(key).replace("%2F", "/");
    let location = if path_style {
        format!("http://{host}/{bucket}/{encoded_key}")
    } else {
        format!("http://{host}/{encoded_key}")
    };
    let redirect = form
        .fields
        .field("success_action_redirect")
        .or_else(|| form.fields.field("redirect"))
        .filter(|u| u.starts_with("http://") || u.starts_with("https://"));
    let (status, body) = if let Some(url) = redirect {
        let sep = if url.contains('?') { '&' } else { '?' };
        let target = format!(
            "{url}{sep}bucket={}&key={}&etag={}",
            urlencoding::encode(bucket),
            urlencoding::encode(key),
            urlencoding::encode(etag)
        );
        (http::StatusCode::SEE_OTHER, Some(("location", target)))
    } else {
        match form.fields.field("success_action_status") {
            Some("200") => (http::StatusCode::OK, None),
            Some("201") => (http::StatusCode::CREATED, None),
            _ => (http::StatusCode::NO_CONTENT, None),
        }
    };
    let mut resp = if status == http::StatusCode::CREATED {
        let doc = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<PostResponse><Location>{}</Location><Bucket>{}</Bucket><Key>{}</Key><ETag>{}</ETag></PostResponse>",
            xml_escape(&location),
            xml_escape(bucket),
            xml_escape(key),
            xml_escape(etag)
        );
        let mut r = http::Response::new(Body::from(doc));
        r.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/xml"),
        );
        r
    } else {
        http::Response::new(Body::empty())
    };
    *resp.status_mut() = status;
    let headers = resp.headers_mut();
    let mut set = |name: &'static str, value: &str| {
        if let Ok(v) = http::HeaderValue::from_str(value) {
            headers.insert(name, v);
        }
    };
    set("etag", etag);
    match body {
        Some((_, target)) => set("location", &target),
        None => set("location", &location),
    }
    if let Some(v) = version {
        set("x-amz-version-id", &v);
    }
    resp
}

/// The form fields that PutObject would take as headers, as headers (for the
/// refusals PutObject makes: ACLs, encryption, storage classes, ...).
fn as_headers(fields: &[(String, String)]) -> http::HeaderMap {
    let mut headers = http::HeaderMap::new();
    for (name, value) in fields {
        let name = match name.as_str() {
            "acl" => "x-amz-acl",
            "x-amz-signature" | "x-amz-credential" | "x-amz-algorithm" | "x-amz-date" => continue,
            n if n.starts_with("x-amz-") && !n.starts_with("x-amz-meta-") => n,
            _ => continue,
        };
        if let (Ok(n), Ok(v)) = (
            http::HeaderName::from_bytes(name.as_bytes()),
            http::HeaderValue::from_str(value),
        ) {
            headers.append(n, v);
        }
    }
    headers
}

/// The stored metadata: content headers, `x-amz-meta-*` and the `tagging` document.
fn object_meta(form: &form::Form) -> S3Result<ObjectMeta> {
    let field = |n: &str| form.fields.field(n).map(str::to_string);
    let expires = match form.fields.field("expires") {
        Some(v) => Some(
            crate::s3::meta::parse_http_date(v)
                .map(|t| crate::s3::meta::http_date(&t))
                .ok_or_else(|| crate::s3::error::invalid_argument("Expires is not an HTTP date"))?,
        ),
        None => None,
    };
    let headers = ContentHeaders {
        content_type: field("content-type").or_else(|| form.file.content_type.clone()),
        content_encoding: crate::s3::meta::stored_content_encoding(
            form.fields.field("content-encoding"),
        ),
        content_disposition: field("content-disposition"),
        content_language: field("content-language"),
        cache_control: field("cache-control"),
        expires,
    };
    let mut user: Vec<(String, String)> = form
        .fields
        .0
        .iter()
        .filter_map(|(n, v)| Some((n.strip_prefix("x-amz-meta-")?.to_string(), v.clone())))
        .filter(|(n, _)| !n.is_empty())
        .collect();
    user.sort();
    let tags = match form.fields.field("tagging") {
        Some(xml) => {
            let mut d = s3s::xml::Deserializer::new(xml.as_bytes());
            let tagging = <s3s::dto::Tagging as s3s::xml::Deserialize>::deserialize(&mut d)
                .map_err(|_| {
                    s3_error!(MalformedXML, "The tagging field is not a Tagging document")
                })?;
            let tags = crate::s3::meta::tags_from_dto(tagging.tag_set)?;
            crate::s3::meta::check_object_tag_count(&tags)?;
            tags
        }
        None => Vec::new(),
    };
    Ok(ObjectMeta {
        headers,
        user,
        tags,
    })
}

/// The one mapping of form errors to S3 errors.
fn form_error(e: FormError) -> S3Error {
    let msg = e.to_string();
    match e {
        FormError::NoBoundary | FormError::Malformed(_) | FormError::Truncated => {
            S3Error::with_message(
                S3ErrorCode::MalformedPOSTRequest,
                format!(
                    "The body of your POST request is not well-formed multipart/form-data: {msg}"
                ),
            )
        }
        FormError::PreDataTooLarge => custom(
            "MaxPostPreDataLengthExceededError",
            http::StatusCode::BAD_REQUEST,
            "Your POST request fields preceding the upload file were too large.",
        ),
        FormError::NoFile => {
            crate::s3::error::invalid_argument("POST requires exactly one file upload per request.")
        }
        FormError::Body(_) => s3_error!(IncompleteBody, "{msg}"),
    }
}

/// The one mapping of policy errors to S3 errors.
fn policy_error(e: PolicyError) -> S3Error {
    let msg = e.to_string();
    match e {
        PolicyError::Malformed(_) => {
            let mut e = S3Error::with_message(S3ErrorCode::InvalidPolicyDocument, msg);
            e.set_status_code(http::StatusCode::BAD_REQUEST);
            e
        }
        PolicyError::Expired | PolicyError::ConditionFailed(_) | PolicyError::ExtraField(_) => {
            S3Error::with_message(S3ErrorCode::AccessDenied, msg)
        }
    }
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
