//! The one error type of the REST API, and its JSON shape.
//!
//! Every API error is answered with the same body:
//!
//! ```json
//! {"error": {"code": "not_found", "message": "no session `abc`"}}
//! ```
//!
//! Bad input gets a 4xx with a short message that says what to fix; an internal failure gets a
//! 500 whose message leaks nothing, and is logged once on the server.

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;

/// An error answered by the API.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed (400).
    #[error("{0}")]
    BadRequest(String),
    /// Missing or wrong bearer token (401).
    #[error("missing or invalid bearer token")]
    Unauthorized,
    /// No such resource (404).
    #[error("{0}")]
    NotFound(String),
    /// The resource exists and conflicts with the request (409).
    #[error("{0}")]
    Conflict(String),
    /// The body is larger than the configured limit (413).
    #[error("{0}")]
    TooLarge(String),
    /// The content type or encoding is not supported (415).
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// The server is at a configured capacity; retry later (503 with Retry-After).
    #[error("{0}")]
    Unavailable(String),
    /// Something failed inside the server (500); the message is logged, not sent.
    #[error("internal error: {0}")]
    Internal(String),
}

/// The body of every API error.
#[derive(Debug, Serialize)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// The code and message of an API error.
#[derive(Debug, Serialize)]
pub struct ErrorDetail {
    /// A stable, machine-readable code.
    pub code: &'static str,
    /// A short human-readable message.
    pub message: String,
}

impl ApiError {
    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "bad_request",
            Self::Unauthorized => "unauthorized",
            Self::NotFound(_) => "not_found",
            Self::Conflict(_) => "conflict",
            Self::TooLarge(_) => "too_large",
            Self::UnsupportedMediaType(_) => "unsupported_media_type",
            Self::Unavailable(_) => "unavailable",
            Self::Internal(_) => "internal",
        }
    }

    /// The message sent to the client: internal details are never sent.
    pub fn public_message(&self) -> String {
        match self {
            Self::Internal(_) => "internal server error".to_owned(),
            other => other.to_string(),
        }
    }

    /// Seconds a client should wait before retrying, for overload errors.
    pub const RETRY_AFTER_SECS: u32 = 5;
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Self::Internal(detail) = &self {
            tracing::error!(%detail, "internal error");
        }
        let status = self.status();
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code(),
                message: self.public_message(),
            },
        };
        let mut response = (status, Json(body)).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(Self::RETRY_AFTER_SECS),
            );
        }
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(err: crate::store::StoreError) -> Self {
        use crate::store::StoreError;
        match err {
            StoreError::NotFound(what) => Self::NotFound(what),
            StoreError::Limit(what) => Self::Conflict(what),
            StoreError::Full(what) | StoreError::Busy(what) => Self::Unavailable(what),
            other => Self::Internal(other.to_string()),
        }
    }
}
