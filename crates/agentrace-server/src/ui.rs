//! The embedded web page: `assets/index.html` with its script, style sheet and icon, compiled
//! into the binary. The page lists sessions, shows a session's turns as a conversation and its
//! spans as a waterfall, and follows the live feed (`/stream/ui-updates`). It uses only the
//! public API of `docs/server.md` and needs no network beyond this server.
//!
//! The page's files carry no trace data, so they are served without the token; the API calls
//! the page makes pass on the `?token=` of its address.

use axum::{
    Router,
    http::header,
    response::{IntoResponse, Response},
    routing::get,
};

const INDEX: &str = include_str!("../assets/index.html");
const SCRIPT: &str = include_str!("../assets/app.js");
const STYLE: &str = include_str!("../assets/app.css");
const ICON: &str = include_str!("../assets/favicon.svg");

/// Scripts and styles come only from this server (no inline script), data only from its API.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                   connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// `GET /` (and `/index.html`) and the page's files under `/ui/`.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route(
            "/",
            get(|| async { asset("text/html; charset=utf-8", INDEX) }),
        )
        .route(
            "/index.html",
            get(|| async { asset("text/html; charset=utf-8", INDEX) }),
        )
        .route(
            "/ui/app.js",
            get(|| async { asset("text/javascript; charset=utf-8", SCRIPT) }),
        )
        .route(
            "/ui/app.css",
            get(|| async { asset("text/css; charset=utf-8", STYLE) }),
        )
        .route(
            "/ui/favicon.svg",
            get(|| async { asset("image/svg+xml", ICON) }),
        )
        .route(
            "/favicon.ico",
            get(|| async { asset("image/svg+xml", ICON) }),
        )
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use axum::{
        body::{Body, to_bytes},
        http::{Request, StatusCode},
    };
    use tower::ServiceExt;

    use super::*;

    async fn get(path: &str) -> (StatusCode, String, String) {
        let response = routes::<()>()
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let body = to_bytes(response.into_body(), usize::MAX).await.unwrap();
        (
            status,
            content_type,
            String::from_utf8(body.to_vec()).unwrap(),
        )
    }

    /// Every `/ui/...` file that `index.html` names is served, with its type, under the policy.
    #[tokio::test]
    async fn every_file_the_page_names_is_served() {
        let (status, content_type, body) = get("/").await;
        assert_eq!(status, StatusCode::OK);
        assert!(content_type.starts_with("text/html"), "{content_type}");
        let named: Vec<&str> = body
            .split('"')
            .filter(|part| part.starts_with("/ui/"))
            .collect();
        assert_eq!(
            named,
            ["/ui/favicon.svg", "/ui/app.css", "/ui/app.js"],
            "the page's files"
        );
        for path in named {
            let (status, content_type, body) = get(path).await;
            assert_eq!(status, StatusCode::OK, "{path}");
            assert!(!body.is_empty(), "{path}");
            let wanted = match path.rsplit('.').next() {
                Some("js") => "text/javascript",
                Some("css") => "text/css",
                _ => "image/svg+xml",
            };
            assert!(content_type.starts_with(wanted), "{path}: {content_type}");
        }
    }

    /// The policy allows no inline script, so the page must not have any.
    #[test]
    fn the_page_has_no_inline_script_or_style() {
        assert!(CSP.contains("script-src 'self';"));
        for tag in INDEX.split("<script").skip(1) {
            let tag = tag.split('>').next().unwrap();
            assert!(tag.contains(" src="), "inline script: <script{tag}>");
        }
        assert!(!INDEX.contains("<style"), "inline style in index.html");
        assert!(!INDEX.contains(" style="), "style attribute in index.html");
    }

    /// Trace data reaches the page only as text: the script never assigns HTML.
    #[test]
    fn the_script_never_parses_html() {
        for forbidden in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
        ] {
            assert!(!SCRIPT.contains(forbidden), "app.js uses {forbidden}");
        }
    }
}
