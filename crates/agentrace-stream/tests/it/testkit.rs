//! Helpers shared by the tests: servers, agent turns, the server's view of a session.

use std::{collections::BTreeSet, path::Path, time::Duration};

use agentrace_semconv::attr::{
    GEN_AI_AGENT_NAME, GEN_AI_INPUT_MESSAGES, GEN_AI_OPERATION_NAME, GEN_AI_OUTPUT_MESSAGES,
    GEN_AI_REQUEST_MODEL,
};
use agentrace_server::{
    Server, ServerConfig,
    config::{DbLocation, Limits, SessionRules},
};
use opentelemetry::{
    KeyValue,
    trace::{Span as _, SpanKind, TraceContextExt, Tracer},
};
use opentelemetry_sdk::trace::SdkTracer;
use serde_json::Value;

/// Session rules that complete quickly.
fn fast_rules() -> SessionRules {
    SessionRules {
        completion_grace: Duration::from_millis(50),
        idle_timeout: Duration::from_millis(200),
        rerun_window: Duration::from_secs(30),
        staged_ttl: Duration::from_secs(120),
    }
}

/// A server configuration on 127.0.0.1 (port 0 unless given) with `db`.
pub(crate) fn config(port: u16, db: DbLocation) -> ServerConfig {
    ServerConfig::builder()
        .with_port(port)
        .with_otlp_http_port(None)
        .with_otlp_grpc_port(Some(0))
        .with_db(db)
        .with_session_rules(fast_rules())
        .with_limits(Limits::default())
        .with_headless(true)
        .build()
        .expect("valid configuration")
}

/// Starts an in-memory server in the current runtime.
pub(crate) async fn start() -> Server {
    Server::start(config(0, DbLocation::Memory))
        .await
        .expect("server starts")
}

/// `http://127.0.0.1:port` of a server.
pub(crate) fn base(server: &Server) -> String {
    format!("http://{}", server.main_addr())
}

/// A server on its own runtime and threads, so a test can kill it (its runtime is shut down:
/// every connection and listener closes at once, as when the process dies; then its state is
/// dropped, which releases the database's lock as the end of a process would) and start another
/// on the same port.
pub(crate) struct Killable {
    runtime: Option<tokio::runtime::Runtime>,
    server: Option<Server>,
    addr: std::net::SocketAddr,
}

impl Killable {
    /// Starts a server on `port` (0: any) with a database file.
    pub(crate) fn start(port: u16, db: &Path) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let server = runtime
            .block_on(Server::start(config(port, DbLocation::File(db.to_owned()))))
            .expect("server starts");
        let addr = server.main_addr();
        Self {
            runtime: Some(runtime),
            server: Some(server),
            addr,
        }
    }

    pub(crate) fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub(crate) fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Kills the server: its runtime stops, its sockets close.
    pub(crate) fn kill(mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_timeout(Duration::from_secs(5));
        }
        // No graceful shutdown: the handle and the state it holds are dropped, as at a crash.
        drop(self.server.take());
    }

    /// Runs a future on the server's runtime (for API calls).
    pub(crate) fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.runtime.as_ref().unwrap().block_on(f)
    }
}

impl Drop for Killable {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// GET a JSON document.
pub(crate) async fn get_json(url: &str) -> Value {
    reqwest::Client::new()
        .get(url)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// The span ids the server holds for a session.
pub(crate) async fn span_ids(base: &str, session: &str) -> BTreeSet<String> {
    let spans = get_json(&format!("{base}/api/sessions/{session}/spans")).await;
    spans["spans"]
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(|s| s["spanId"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// One agent turn: `invoke_agent helper` > `chat m` with the user's text and the answer as
/// content; returns the span ids (hex) of the spans it ended.
pub(crate) fn agent_turn(tracer: &SdkTracer, user: &str, answer: &str) -> Vec<String> {
    let input = format!(r#"[{{"role":"user","parts":[{{"type":"text","content":"{user}"}}]}}]"#);
    let output = format!(
        r#"[{{"role":"assistant","parts":[{{"type":"text","content":"{answer}"}}],"finish_reason":"stop"}}]"#
    );
    let mut ids = Vec::new();
    let agent = tracer
        .span_builder("invoke_agent helper")
        .with_kind(SpanKind::Internal)
        .with_attributes([
            KeyValue::new(GEN_AI_OPERATION_NAME, "invoke_agent"),
            KeyValue::new(GEN_AI_AGENT_NAME, "helper"),
        ])
        .start(tracer);
    let cx = opentelemetry::Context::current_with_span(agent);
    let mut chat = tracer
        .span_builder("chat m")
        .with_kind(SpanKind::Client)
        .with_attributes([
            KeyValue::new(GEN_AI_OPERATION_NAME, "chat"),
            KeyValue::new(GEN_AI_REQUEST_MODEL, "m"),
            KeyValue::new(GEN_AI_INPUT_MESSAGES, input),
            KeyValue::new(GEN_AI_OUTPUT_MESSAGES, output),
        ])
        .start_with_context(tracer, &cx);
    ids.push(chat.span_context().span_id().to_string());
    chat.end();
    ids.push(cx.span().span_context().span_id().to_string());
    cx.span().end();
    ids
}

/// `n` plain spans (one trace, a root and `n - 1` children); returns their ids.
pub(crate) fn plain_spans(tracer: &SdkTracer, n: usize) -> Vec<String> {
    let root = tracer.start("work");
    let cx = opentelemetry::Context::current_with_span(root);
    let mut ids = Vec::new();
    for i in 1..n {
        let mut child = tracer.start_with_context(format!("step {i}"), &cx);
        ids.push(child.span_context().span_id().to_string());
        child.end();
    }
    ids.push(cx.span().span_context().span_id().to_string());
    cx.span().end();
    ids
}
