//! A session streamed with agentrace-stream while its `agentrace serve` process is killed with
//! SIGKILL and started again on the same port: the session completes with every span.

use std::{collections::BTreeSet, time::Duration};

use agentrace_semconv::attr::{
    GEN_AI_AGENT_NAME, GEN_AI_INPUT_MESSAGES, GEN_AI_OPERATION_NAME, GEN_AI_OUTPUT_MESSAGES,
    GEN_AI_REQUEST_MODEL,
};
use agentrace_stream::{PipelineConfig, SessionOptions, session_blocking};
use opentelemetry::{
    KeyValue,
    trace::{Span as _, SpanKind, TraceContextExt as _, Tracer as _},
};
use opentelemetry_sdk::trace::SdkTracer;
use serde_json::Value;

use crate::crash::serve_on;

/// One agent turn, `invoke_agent helper` > `chat m` with content; returns the span ids.
fn agent_turn(tracer: &SdkTracer, user: &str, answer: &str) -> Vec<String> {
    let input = format!(r#"[{{"role":"user","parts":[{{"type":"text","content":"{user}"}}]}}]"#);
    let output = format!(
        r#"[{{"role":"assistant","parts":[{{"type":"text","content":"{answer}"}}],"finish_reason":"stop"}}]"#
    );
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
    let ids = vec![
        chat.span_context().span_id().to_string(),
        cx.span().span_context().span_id().to_string(),
    ];
    chat.end();
    cx.span().end();
    ids
}

/// `n` plain spans of one trace; returns their ids.
fn plain_spans(tracer: &SdkTracer, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let mut span = tracer.start(format!("step {i}"));
            let id = span.span_context().span_id().to_string();
            span.end();
            id
        })
        .collect()
}

#[test]
fn a_streamed_session_completes_with_every_span_after_the_server_process_is_killed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("stream.db");
    let mut first = serve_on(&db, 0);
    let port: u16 = first
        .base
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("the server's port");
    let options = SessionOptions::builder(first.base.clone())
        .with_name("killed")
        .with_pipeline_config(PipelineConfig {
            initial_backoff: Duration::from_millis(20),
            max_backoff: Duration::from_millis(200),
            ..PipelineConfig::default()
        })
        .with_shutdown_timeout(Duration::from_secs(30))
        .build();
    let session = session_blocking(options).expect("session starts");
    let tracer = session.tracer("test");
    let mut ids = agent_turn(&tracer, "before", "the kill");
    ids.extend(plain_spans(&tracer, 50));
    session
        .tracer_provider()
        .force_flush()
        .expect("delivered before the kill");
    // SIGKILL: no shutdown, no flush, sockets reset by the kernel.
    first.child.kill().expect("kill");
    first.child.wait().expect("reaped");
    // Ended while no server runs: queued and retried.
    ids.extend(plain_spans(&tracer, 50));
    let second = serve_on(&db, port);
    ids.extend(agent_turn(&tracer, "after", "the restart"));
    let end = session.end_blocking();
    assert_eq!(end.error, None, "{:?}", end.stats);
    assert_eq!(end.stats.sent, ids.len() as u64, "{:?}", end.stats);
    assert_eq!(end.stats.dropped(), 0, "{:?}", end.stats);
    assert!(end.stats.reconnects >= 1, "{:?}", end.stats);
    let turns: Vec<String> = end
        .invocations
        .expect("invocations")
        .iter()
        .map(|i| i.user_text.clone())
        .collect();
    assert_eq!(turns, ["before", "after"]);
    let url = format!("{}/api/sessions/{}/spans", second.base, end.session_id);
    let spans: Value = tokio::runtime::Runtime::new()
        .expect("runtime")
        .block_on(async { reqwest::get(url).await?.json().await })
        .expect("spans");
    let held: BTreeSet<String> = spans["spans"]
        .as_array()
        .expect("spans array")
        .iter()
        .filter_map(|s| s["spanId"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(held, ids.into_iter().collect::<BTreeSet<_>>());
}
