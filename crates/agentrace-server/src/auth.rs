//! Request guards: the `Host` check, the origin check and the bearer token.
//!
//! - **Host.** A request's `Host` (or, over HTTP/2, its authority) must name this machine:
//!   `localhost`, an IP literal (`127.0.0.1`, `[::1]`, the bound address), or a name the operator
//!   allowed (`--allow-host`, [`crate::config::ServerConfig::allowed_hosts`]). Anything else gets 403 before any
//!   other work. This stops DNS rebinding: a web page whose name was rebound to 127.0.0.1 reaches
//!   the server with its own name in `Host`, so it can neither read sessions nor delete them.
//!   A request without a `Host` (HTTP/1.0) is not from a browser and is let through.
//! - **Token.** With a token configured, ingest (`/v1/*`, `/ws/traces`), the API (`/api/*` but
//!   `/api/health`) and the live feeds need `Authorization: Bearer <token>`. Browsers cannot set
//!   headers on `EventSource` or WebSocket, so the live feeds (`GET /stream/ui-updates` and
//!   `GET /ws/live`, nothing else) also take `?token=` (percent-encoded).
//! - **Origin.** A request that carries an `Origin` header must come from the server's own
//!   origin or from one of the configured CORS origins; anything else gets 403. This closes the
//!   cross-site request forgery hole of simple cross-origin POSTs, which CORS alone leaves open.
//! - **CORS.** A request from a configured origin gets `Access-Control-Allow-Origin` with that
//!   origin (and `Vary: Origin`); its preflight (`OPTIONS` with `Access-Control-Request-Method`)
//!   is answered 204 with the methods (`GET, POST, DELETE`) and headers (`authorization`,
//!   `content-type`, `content-encoding`) it may use, before the token check (a preflight carries
//!   no token).

use axum::{
    extract::{Request, State},
    http::{HeaderValue, Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};

use crate::{AppState, error::ApiError};

/// Whether a `Host` value (`name`, `name:port`, `[v6]` or `[v6]:port`) names this server:
/// `localhost`, an IP literal, or one of `allowed` (compared without the port and without case;
/// `*` allows every name).
pub fn host_allowed(host: &str, allowed: &[String]) -> bool {
    // The name (`None` for a bracketed IPv6 literal) and the port, if any.
    let (name, port) = if let Some(rest) = host.strip_prefix('[') {
        let Some((literal, after)) = rest.split_once(']') else {
            return false;
        };
        if literal.parse::<std::net::Ipv6Addr>().is_err() {
            return false;
        }
        match after.strip_prefix(':') {
            Some(port) => (None, Some(port)),
            None if after.is_empty() => (None, None),
            None => return false,
        }
    } else {
        match host.rsplit_once(':') {
            Some((name, port)) => (Some(name), Some(port)),
            None => (Some(host), None),
        }
    };
    let port_ok =
        port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()));
    if !port_ok {
        return false;
    }
    let Some(name) = name else {
        // A bracketed IPv6 literal.
        return true;
    };
    let name = name.strip_suffix('.').unwrap_or(name);
    name.eq_ignore_ascii_case("localhost")
        || name.parse::<std::net::Ipv4Addr>().is_ok()
        || allowed
            .iter()
            .any(|a| a == "*" || a.strip_suffix('.').unwrap_or(a).eq_ignore_ascii_case(name))
}

/// The host a request names: its `Host` header, else (HTTP/2) its URI's authority.
fn request_host(request: &Request) -> Option<Result<&str, ()>> {
    match request.headers().get(header::HOST) {
        Some(value) => Some(value.to_str().map_err(|_| ())),
        None => request.uri().authority().map(|a| Ok(a.as_str())),
    }
}

/// The answer to a request whose `Host` names another server.
fn forbidden_host(host: &str) -> Response {
    let shown: String = host.chars().take(100).collect();
    (
        StatusCode::FORBIDDEN,
        axum::Json(serde_json::json!({
            "error": {"code": "forbidden_host", "message": format!(
                "Host `{shown}` does not name this server (DNS rebinding protection); use \
                 localhost or an IP address, or start the server with --allow-host NAME"
            )}
        })),
    )
        .into_response()
}

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

/// Paths that take the token in the query (`?token=`, GET only): the live feeds, because a
/// browser's `EventSource` and WebSocket cannot send a header. Everywhere else the token goes
/// only in `Authorization: Bearer`, so it stays out of addresses, history and logs.
pub const QUERY_TOKEN_PATHS: [&str; 2] = ["/stream/ui-updates", "/ws/live"];

/// The `token` of a query, percent-decoded (`None` when absent or not valid UTF-8).
fn query_token(request: &Request) -> Option<String> {
    request.uri().query()?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        if k != "token" {
            return None;
        }
        percent_decode(v)
    })
}

/// Decodes `%XX` escapes (a `+` stays a `+`: `encodeURIComponent` writes a space as `%20`).
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The middleware: `Host` check, origin check, then token check.
pub async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    match request_host(&request) {
        Some(Ok(host)) if host_allowed(host, &state.config.allowed_hosts) => {}
        Some(Ok(host)) => return forbidden_host(host),
        Some(Err(())) => return forbidden_host("(not UTF-8)"),
        None => {}
    }
    // The origin of a cross-origin request from a `--cors-origin`: its answer carries CORS
    // headers, and its preflight is answered here (a preflight has no token to show).
    let mut cors_origin: Option<HeaderValue> = None;
    if let Some(value) = request.headers().get(header::ORIGIN) {
        let origin = value.to_str().unwrap_or_default();
        let host = request_host(&request)
            .and_then(Result::ok)
            .unwrap_or_default();
        let same = origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"))
            .is_some_and(|o| o == host);
        if !same {
            if !state
                .config
                .cors_origins
                .iter()
                .any(|allowed| allowed == origin)
            {
                let shown: String = origin.chars().take(100).collect();
                return (
                    StatusCode::FORBIDDEN,
                    axum::Json(serde_json::json!({
                        "error": {"code": "forbidden_origin", "message": format!("origin `{shown}` is not allowed; start the server with --cors-origin {shown} to allow it")}
                    })),
                )
                    .into_response();
            }
            cors_origin = Some(value.clone());
        }
    }
    if let Some(origin) = &cors_origin
        && request.method() == Method::OPTIONS
        && request
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
    {
        return preflight(origin);
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
            (request.method() == Method::GET && QUERY_TOKEN_PATHS.contains(&request.uri().path()))
                .then(|| query_token(&request))
                .flatten()
        });
        if !given.is_some_and(|g| constant_time_eq(g.as_bytes(), token.as_bytes())) {
            return with_cors(ApiError::Unauthorized.into_response(), cors_origin.as_ref());
        }
    }
    with_cors(next.run(request).await, cors_origin.as_ref())
}

/// How long a browser may cache a preflight's answer, in seconds.
const PREFLIGHT_MAX_AGE_SECS: u32 = 600;

/// The answer to a CORS preflight from an allowed origin: 204 with what it may send.
fn preflight(origin: &HeaderValue) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    let headers = response.headers_mut();
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST, DELETE"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("authorization, content-type, content-encoding"),
    );
    headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from(PREFLIGHT_MAX_AGE_SECS),
    );
    headers.insert(header::VARY, HeaderValue::from_static("origin"));
    response
}

/// Adds the CORS headers of an allowed cross-origin request to its answer.
fn with_cors(mut response: Response, origin: Option<&HeaderValue>) -> Response {
    if let Some(origin) = origin {
        let headers = response.headers_mut();
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("retry-after"),
        );
        headers.append(header::VARY, HeaderValue::from_static("origin"));
    }
    response
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
    fn only_local_names_ip_literals_and_allowed_names_are_hosts() {
        let none: Vec<String> = Vec::new();
        for host in [
            "localhost",
            "LOCALHOST:8001",
            "localhost.:8001",
            "127.0.0.1",
            "127.0.0.1:4318",
            "[::1]",
            "[::1]:8001",
            "10.1.2.3:8001",
        ] {
            assert!(host_allowed(host, &none), "{host}");
        }
        for host in [
            "evil.example",
            "evil.example:8001",
            "localhost.evil.example",
            "127.0.0.1.nip.io:8001",
            "[::1",
            "[nope]:8001",
            "localhost:80x",
            "localhost:",
            "",
        ] {
            assert!(!host_allowed(host, &none), "{host}");
        }
        let allowed = vec!["host.docker.internal".to_owned()];
        assert!(host_allowed("Host.Docker.Internal:4318", &allowed));
        assert!(!host_allowed("evil.example", &allowed));
        assert!(host_allowed("anything.example", &["*".to_owned()]));
    }

    #[test]
    fn query_tokens_are_percent_decoded() {
        assert_eq!(
            percent_decode("a%2Bb%2Fc%3D%20d+e").as_deref(),
            Some("a+b/c= d+e")
        );
        assert_eq!(percent_decode("%C3%A9").as_deref(), Some("é"));
        assert_eq!(percent_decode("bad%2"), None);
        assert_eq!(percent_decode("bad%zz"), None);
        assert_eq!(percent_decode("%FF"), None);
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
