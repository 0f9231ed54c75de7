//! The admin API's errors as JSON (`{"error": CODE, "message": TEXT}`) with their
//! HTTP status, and `ApiJson`, the body extractor that answers every malformed,
//! mistyped or oversized body with 400 before a handler runs.

use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Largest request body accepted.
pub const MAX_BODY: usize = 64 * 1024;

/// The body of every error response.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// A stable code: `unauthorized`, `bad_request`, `not_found`, `conflict`,
    /// `unavailable`, `internal`.
    pub error: String,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("a valid admin token is required (Authorization: Bearer TOKEN)")]
    Unauthorized,
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("the store cannot answer now: {0}")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl From<cairn_node::Error> for ApiError {
    fn from(e: cairn_node::Error) -> Self {
        use cairn_node::Error as E;
        match e {
            E::NoSuchBucket => ApiError::NotFound("no such bucket".into()),
            E::InvalidArgument(m) => ApiError::Conflict(m),
            E::InvalidRequest(m) => ApiError::NotFound(m),
            E::Unavailable(m) => ApiError::Unavailable(m),
            E::NotLeader { .. } => ApiError::Unavailable("no catalog leader".into()),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let body = ErrorBody {
            error: code.to_string(),
            message: self.to_string(),
        };
        (status, axum::Json(body)).into_response()
    }
}

/// A JSON body: at most `MAX_BODY` bytes of a valid document of `T`; anything else
/// is 400.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let bytes = axum::body::to_bytes(req.into_body(), MAX_BODY)
            .await
            .map_err(|_| ApiError::BadRequest(format!("the body is over {MAX_BODY} bytes")))?;
        serde_json::from_slice(&bytes)
            .map(ApiJson)
            .map_err(|e| ApiError::BadRequest(format!("malformed JSON body: {e}")))
    }
}
