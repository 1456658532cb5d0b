//! Request guards: the bearer token and the origin check.
//!
//! - **Token.** With a token configured, ingest (`/v1/*`, `/ws/traces`), the API (`/api/*` but
//!   `/api/health`) and the live feeds need `Authorization: Bearer <token>`. Browsers cannot set
//!   headers on `EventSource` or WebSocket, so those (and only GET requests) may pass `?token=`.
//! - **Origin.** A request that carries an `Origin` header must come from the server's own
//!   origin or from one of the configured CORS origins; anything else gets 403. This closes the
//!   cross-site request forgery hole of simple cross-origin POSTs, which CORS alone leaves open.

use axum::{
    extract::{Request, State},
    http::{Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};

use crate::{AppState, error::ApiError};

/// Compares two byte strings in time that depends only on their lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn needs_token(path: &str) -> bool {
    (path.starts_with("/api/") && path != "/api/health")
        || path.starts_with("/v1/")
        || path.starts_with("/ws/")
        || path.starts_with("/stream/")
}

fn query_token(request: &Request) -> Option<String> {
    request.uri().query()?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == "token").then(|| v.to_owned())
    })
}

/// The middleware: origin check, then token check.
pub async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if let Some(origin) = request.headers().get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or_default();
        let host = request
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default();
        let same = origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"))
            .is_some_and(|o| o == host);
        if !same
            && !state
                .config
                .cors_origins
                .iter()
                .any(|allowed| allowed == origin)
        {
            return (
                StatusCode::FORBIDDEN,
                axum::Json(serde_json::json!({
                    "error": {"code": "forbidden_origin", "message": format!("origin `{origin}` is not allowed; start the server with --cors-origin {origin} to allow it")}
                })),
            )
                .into_response();
        }
    }
    if let Some(token) = &state.config.auth_token
        && needs_token(request.uri().path())
    {
        let bearer = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::to_owned);
        let given = bearer.or_else(|| {
            (request.method() == Method::GET)
                .then(|| query_token(&request))
                .flatten()
        });
        if !given.is_some_and(|g| constant_time_eq(g.as_bytes(), token.as_bytes())) {
            return ApiError::Unauthorized.into_response();
        }
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_comparison() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secrets"));
    }

    #[test]
    fn which_paths_need_the_token() {
        assert!(needs_token("/v1/traces"));
        assert!(needs_token("/api/sessions"));
        assert!(needs_token("/ws/traces"));
        assert!(needs_token("/stream/ui-updates"));
        assert!(!needs_token("/api/health"));
        assert!(!needs_token("/"));
    }
}
