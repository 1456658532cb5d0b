//! Test helpers: spans and traces built in a few lines.

use std::sync::Arc;

use agentrace_loader::extract::{self, ExtractOptions, Turn};
use agentrace_loader::model::{
    AnyValue, Attributes, Resource, Scope, Span, SpanId, StatusCode, Telemetry, TraceId,
};
use agentrace_loader::trace::TraceSet;

/// A trace id from a small number.
pub(crate) fn tid(n: u8) -> TraceId {
    TraceId([n; 16])
}

/// A span id from a small number.
pub(crate) fn sid(n: u8) -> SpanId {
    SpanId([0, 0, 0, 0, 0, 0, 0, n])
}

/// A span of trace `t`, id `id`, under `parent`, starting at `start`, with string attributes.
pub(crate) fn span(
    t: u8,
    id: u8,
    parent: Option<u8>,
    start: u64,
    name: &str,
    attrs: &[(&str, &str)],
) -> Span {
    let mut a = Attributes::default();
    for (k, v) in attrs {
        a.push(*k, AnyValue::String((*v).to_owned()));
    }
    Span {
        trace_id: tid(t),
        span_id: sid(id),
        parent_span_id: parent.map(sid),
        name: name.to_owned(),
        start_ns: start,
        end_ns: start + 10,
        attributes: a,
        resource: Arc::new(Resource::default()),
        scope: Arc::new(Scope::default()),
        ..Span::default()
    }
}

/// Marks a span as failed.
pub(crate) fn failed(mut s: Span) -> Span {
    s.status.code = StatusCode::Error;
    s
}

/// Semconv messages as a JSON string: `[(role, text)]`.
pub(crate) fn msgs(items: &[(&str, &str)]) -> String {
    let v: Vec<serde_json::Value> = items
        .iter()
        .map(|(r, t)| serde_json::json!({"role": r, "parts": [{"type": "text", "content": t}]}))
        .collect();
    serde_json::Value::Array(v).to_string()
}

/// The turns of all spans taken as one trace set, grouped by trace.
pub(crate) fn turns(spans: Vec<Span>) -> Vec<Turn> {
    let set = TraceSet::build(Telemetry {
        spans,
        logs: Vec::new(),
    });
    extract::extract(&set, &ExtractOptions::default())
        .groups
        .into_iter()
        .flat_map(|g| g.turns)
        .collect()
}

/// The case count of a property test over hostile input: `AGENTRACE_FUZZ_CASES` when set (as
/// `cargo xtask fuzz` sets it), else `default`.
pub(crate) fn fuzz_cases(default: u32) -> u32 {
    std::env::var("AGENTRACE_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
