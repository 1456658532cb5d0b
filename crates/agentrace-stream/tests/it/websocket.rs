//! The WebSocket transport against `agentrace serve`'s `/ws/traces`.

use std::collections::BTreeSet;

use agentrace_stream::{Pipeline, SessionOptions, WebSocketConfig, WebSocketTransport, session};
use opentelemetry::{
    logs::{AnyValue, LogRecord as _, Logger as _, LoggerProvider as _},
    trace::{TraceContextExt, Tracer, TracerProvider as _},
};
use opentelemetry_sdk::{logs::SdkLoggerProvider, trace::SdkTracerProvider};

use crate::testkit::{agent_turn, base, get_json, span_ids, start};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_streams_its_spans_and_gets_its_invocations() {
    let server = start().await;
    let options = SessionOptions::builder(base(&server))
        .with_name("ws-test")
        .with_eval_set_id("eval-1")
        .with_metadata("model", "m")
        .build();
    let session = session(options).await.unwrap();
    let id = session.id().to_owned();
    assert!(id.starts_with("ws-test-"));
    let tracer = session.tracer("test");
    let mut ids = agent_turn(&tracer, "hello", "hi there");
    ids.extend(agent_turn(&tracer, "roll a die", "I rolled 4"));
    let end = session.end().await;
    assert_eq!(end.error, None);
    assert_eq!(end.stats.sent, 4);
    assert_eq!(end.stats.dropped(), 0);
    assert_eq!(
        end.page_url.as_deref(),
        Some(format!("{}/#session={id}", base(&server)).as_str())
    );
    let invocations = end
        .invocations
        .expect("session_complete carries invocations");
    let turns: Vec<(&str, &str)> = invocations
        .iter()
        .map(|i| (i.user_text.as_str(), i.agent_text.as_str()))
        .collect();
    assert_eq!(turns, [("hello", "hi there"), ("roll a die", "I rolled 4")]);
    assert_eq!(invocations[0].models, ["m"]);
    // The server holds exactly the spans that ended, in the session, with its eval set.
    let held = span_ids(&base(&server), &id).await;
    assert_eq!(held, ids.into_iter().collect::<BTreeSet<_>>());
    let summary = get_json(&format!("{}/api/sessions/{id}", base(&server))).await;
    assert_eq!(summary["evalSetId"], "eval-1");
    assert_eq!(summary["metadata"]["model"], "m");
    assert_eq!(summary["complete"], true);
    server.shutdown().await;
}

/// Log records carry their trace and span ids (the reference's did not), and both processors
/// share one connection; the span processor, shut down last, ends the session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_keep_their_trace_context() {
    let server = start().await;
    let url = format!("ws://{}/ws/traces", server.main_addr());
    let pipeline =
        Pipeline::start(WebSocketTransport::new(WebSocketConfig::new(url, "logs-1"))).unwrap();
    let tracer_provider = SdkTracerProvider::builder()
        .with_span_processor(pipeline.span_processor())
        .build();
    let logger_provider = SdkLoggerProvider::builder()
        .with_log_processor(pipeline.log_processor())
        .build();
    let tracer = tracer_provider.tracer("t");
    let logger = logger_provider.logger("t");
    let (trace_id, span_id) = tracer.in_span("chat m", |cx| {
        let mut record = logger.create_log_record();
        record.set_event_name("app.event");
        record.set_body(AnyValue::from("hello"));
        logger.emit(record);
        let sc = cx.span().span_context().clone();
        (sc.trace_id().to_string(), sc.span_id().to_string())
    });
    let pipeline2 = pipeline.clone();
    tokio::task::spawn_blocking(move || {
        logger_provider.shutdown().unwrap();
        tracer_provider.shutdown().unwrap();
    })
    .await
    .unwrap();
    let stats = pipeline2.stats();
    assert_eq!((stats.ended, stats.sent, stats.dropped()), (2, 2, 0));
    assert!(pipeline2.invocations().is_some());
    let logs = get_json(&format!("{}/api/sessions/logs-1/logs", base(&server))).await;
    let log = &logs["logs"][0];
    assert_eq!(log["traceId"], trace_id.as_str());
    assert_eq!(log["spanId"], span_id.as_str());
    server.shutdown().await;
}

/// A server address that is not `http://host:port` is refused up front.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_server_address_is_a_clear_error() {
    let err = session(SessionOptions::builder("127.0.0.1:8001").build())
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("expected http://host:port"),
        "{err}"
    );
}
