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

/// The messages the transport writes are read by the server's own protocol reader
/// (`agentrace_server::ws::prepare`, which its protocol tests cover) without a single problem:
/// spans and logs keep their ids, in the order they ended.
#[test]
fn the_servers_protocol_reader_accepts_every_message() {
    use agentrace_server::ws::{Prepared, prepare};
    use agentrace_stream::{Record, Transport};
    use opentelemetry_sdk::{logs::InMemoryLogExporter, trace::InMemorySpanExporter};

    let spans = InMemorySpanExporter::default();
    let logs = InMemoryLogExporter::default();
    let tracer_provider = SdkTracerProvider::builder()
        .with_simple_exporter(spans.clone())
        .build();
    let logger_provider = SdkLoggerProvider::builder()
        .with_simple_exporter(logs.clone())
        .build();
    let tracer = tracer_provider.tracer("t");
    let logger = logger_provider.logger("t");
    crate::testkit::agent_turn(&tracer, "hi", "hello");
    tracer.in_span("work", |_| {
        let mut record = logger.create_log_record();
        record.set_event_name("app.event");
        record.set_body(AnyValue::from("body"));
        logger.emit(record);
    });
    crate::testkit::agent_turn(&tracer, "again", "sure");
    let finished = spans.get_finished_spans().unwrap();
    let ids: Vec<String> = finished
        .iter()
        .map(|s| s.span_context.span_id().to_string())
        .collect();
    let emitted = logs.get_emitted_logs().unwrap();
    // Two spans, the log, the rest of the spans: three messages.
    let mut records: Vec<Record> = finished[..2].iter().cloned().map(Record::Span).collect();
    records.push(Record::Log(Box::new((
        emitted[0].record.clone(),
        emitted[0].instrumentation.clone(),
    ))));
    records.extend(finished[2..].iter().cloned().map(Record::Span));
    let mut transport =
        WebSocketTransport::new(WebSocketConfig::new("ws://127.0.0.1:1/ws/traces", "s-1"));
    let batch = transport.encode(records);
    assert_eq!(WebSocketTransport::len(&batch), finished.len() + 1);
    let mut seen = Vec::new();
    let mut kinds = Vec::new();
    for frame in batch.frames() {
        match prepare(frame) {
            Prepared::Spans { session_id, spans } => {
                assert_eq!(session_id, "s-1");
                let (spans, problems) = spans.unwrap();
                assert!(problems.is_empty(), "{problems:?}");
                seen.extend(spans.iter().map(|s| s.span_id.to_string()));
                kinds.push("spans");
            }
            Prepared::Log { session_id, record } => {
                assert_eq!(session_id, "s-1");
                let record = record.unwrap();
                assert_eq!(
                    record.span_id.map(|id| id.to_string()),
                    Some(
                        emitted[0]
                            .record
                            .trace_context()
                            .unwrap()
                            .span_id
                            .to_string()
                    )
                );
                kinds.push("log");
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(kinds, ["spans", "log", "spans"]);
    assert_eq!(seen, ids);
}

/// The replay budget is a reported limit: messages past it are forgotten and counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_replay_budget_is_reported() {
    let server = start().await;
    let mut config =
        WebSocketConfig::new(format!("ws://{}/ws/traces", server.main_addr()), "budget");
    config.max_replay_bytes = 0;
    let pipeline = Pipeline::start(WebSocketTransport::new(config)).unwrap();
    let provider = SdkTracerProvider::builder()
        .with_span_processor(pipeline.span_processor())
        .build();
    let ids = crate::testkit::plain_spans(&provider.tracer("t"), 3);
    tokio::task::spawn_blocking(move || provider.shutdown().unwrap())
        .await
        .unwrap();
    let stats = pipeline.stats();
    assert_eq!((stats.sent, stats.dropped()), (ids.len() as u64, 0));
    assert!(stats.replay_forgotten >= 1, "{stats:?}");
    assert_eq!(
        span_ids(&base(&server), "budget").await,
        ids.into_iter().collect::<BTreeSet<_>>()
    );
    server.shutdown().await;
}
