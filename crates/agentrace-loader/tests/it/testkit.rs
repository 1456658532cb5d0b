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

/// One turn of a generated conversation: the OTLP/JSON spans of one trace (an `invoke_agent`
/// root with the user's text and the answer, a chat call, a tool call), as JSON values.
pub(crate) fn turn_spans(
    conv: usize,
    turn: usize,
    trace: u32,
    start: u64,
) -> Vec<serde_json::Value> {
    use agentrace_semconv::attr;
    use serde_json::json;
    let tid = format!("{trace:032x}");
    let sid = |k: u32| format!("{:016x}", u64::from(trace) << 8 | u64::from(k));
    let kv = |k: &str, v: String| json!({"key": k, "value": {"stringValue": v}});
    let user = format!(
        "conversation {conv} turn {turn}: what about café {}?",
        trace % 7
    );
    let answer = format!("answer {conv}.{turn}: it is {} degrees", trace % 31);
    vec![
        json!({"traceId": tid, "spanId": sid(1), "name": "invoke_agent helper",
        "startTimeUnixNano": start.to_string(), "endTimeUnixNano": (start + 100).to_string(),
        "attributes": [
            kv(attr::GEN_AI_OPERATION_NAME, "invoke_agent".into()),
            kv(attr::GEN_AI_AGENT_NAME, "helper".into()),
            kv(attr::GEN_AI_CONVERSATION_ID, format!("conv-{conv}")),
            kv(attr::GEN_AI_INPUT_MESSAGES, msgs(&[("user", &user)])),
            kv(attr::GEN_AI_OUTPUT_MESSAGES, msgs(&[("assistant", &answer)])),
        ]}),
        json!({"traceId": tid, "spanId": sid(2), "parentSpanId": sid(1), "name": "chat m",
        "startTimeUnixNano": (start + 10).to_string(), "endTimeUnixNano": (start + 40).to_string(),
        "attributes": [
            kv(attr::GEN_AI_OPERATION_NAME, "chat".into()),
            kv(attr::GEN_AI_REQUEST_MODEL, "m".into()),
            kv(attr::GEN_AI_INPUT_MESSAGES, msgs(&[("user", &user)])),
            kv(attr::GEN_AI_OUTPUT_MESSAGES, msgs(&[("assistant", &answer)])),
        ]}),
        json!({"traceId": tid, "spanId": sid(3), "parentSpanId": sid(1), "name": "execute_tool lookup",
        "startTimeUnixNano": (start + 50).to_string(), "endTimeUnixNano": (start + 60).to_string(),
        "attributes": [
            kv(attr::GEN_AI_OPERATION_NAME, "execute_tool".into()),
            kv(attr::GEN_AI_TOOL_NAME, "lookup".into()),
            kv(attr::GEN_AI_TOOL_CALL_ARGUMENTS, json!({"q": trace}).to_string()),
        ]}),
    ]
}

/// One JSON Lines line: an OTLP export document of `spans`, with a session name on the resource
/// when given.
pub(crate) fn jsonl_line(spans: &[serde_json::Value], session: Option<&str>) -> String {
    use serde_json::json;
    let attrs: Vec<serde_json::Value> = session
        .map(|s| json!({"key": "agentevals.session_name", "value": {"stringValue": s}}))
        .into_iter()
        .collect();
    let doc = json!({"resourceSpans": [{"resource": {"attributes": attrs},
        "scopeSpans": [{"scope": {"name": "t"}, "spans": spans}]}]});
    format!("{doc}\n")
}
