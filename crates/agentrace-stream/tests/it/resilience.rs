//! A server killed and restarted mid-session, and a server that is not there.

use std::{collections::BTreeSet, time::Duration};

use agentrace_stream::{PipelineConfig, SessionOptions, session_blocking};

use crate::testkit::{Killable, agent_turn, plain_spans, span_ids};

/// The server dies mid-session and comes back on the same port: the session still completes on
/// the new server with every span, and nothing is counted as dropped.
#[test]
fn a_restarted_server_gets_the_whole_session() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("agentrace.db");
    let first = Killable::start(0, &db);
    let port = first.port();
    let options = SessionOptions::builder(first.base())
        .with_name("restart")
        .with_pipeline_config(PipelineConfig {
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(100),
            ..PipelineConfig::default()
        })
        .with_shutdown_timeout(Duration::from_secs(20))
        .build();
    let session = session_blocking(options).unwrap();
    let tracer = session.tracer("test");
    let mut ids = agent_turn(&tracer, "before", "the restart");
    ids.extend(plain_spans(&tracer, 50));
    session.tracer_provider().force_flush().unwrap();
    first.kill();
    // Ended while the server is down: queued, retried.
    ids.extend(plain_spans(&tracer, 50));
    let second = Killable::start(port, &db);
    ids.extend(agent_turn(&tracer, "after", "the restart"));
    let end = session.end_blocking();
    assert_eq!(end.error, None, "{:?}", end.stats);
    assert_eq!(end.stats.sent, ids.len() as u64);
    assert_eq!(end.stats.dropped(), 0);
    assert!(end.stats.reconnects >= 1, "{:?}", end.stats);
    let turns: Vec<String> = end
        .invocations
        .unwrap()
        .iter()
        .map(|i| i.user_text.clone())
        .collect();
    assert_eq!(turns, ["before", "after"]);
    let held = second.block_on(span_ids(&second.base(), &end.session_id));
    assert_eq!(held, ids.into_iter().collect::<BTreeSet<_>>());
}

/// Nothing listens: ending spans never blocks or fails, the end of the session returns within
/// its timeout, and the counters say every span was lost and why.
#[test]
fn an_unreachable_server_loses_spans_visibly() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let options = SessionOptions::builder(format!("http://127.0.0.1:{port}"))
        .with_pipeline_config(PipelineConfig {
            queue_capacity: 64,
            max_batch: 16,
            initial_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(20),
            flush_timeout: Duration::from_millis(200),
        })
        .with_shutdown_timeout(Duration::from_millis(300))
        .build();
    let session = session_blocking(options).unwrap();
    let tracer = session.tracer("test");
    let ids = plain_spans(&tracer, 1000);
    // A flush cannot complete; it times out instead of hanging.
    assert!(session.tracer_provider().force_flush().is_err());
    let end = session.end_blocking();
    assert!(end.error.is_some());
    assert!(end.invocations.is_none());
    let stats = end.stats;
    assert_eq!(stats.ended, ids.len() as u64);
    assert_eq!(stats.sent, 0);
    assert_eq!(stats.dropped(), stats.ended, "{stats:?}");
    // At most the queue and one batch were held; the rest overflowed at once.
    assert!(stats.dropped_queue_full >= 1000 - 64 - 16, "{stats:?}");
    assert!(stats.send_failures >= 1);
    assert!(stats.last_error.is_some());
}

/// A server that accepts connections but never answers (hung): connecting times out, spans are
/// counted as lost, and shutdown keeps its timeout.
#[test]
fn a_hung_server_never_blocks_the_app() {
    // Bound but never accepted from: the kernel completes the TCP handshake, nobody answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/ws/traces", listener.local_addr().unwrap());
    let mut config = agentrace_stream::WebSocketConfig::new(url, "hung");
    config.connect_timeout = Duration::from_millis(100);
    let pipeline = agentrace_stream::Pipeline::start_with(
        agentrace_stream::WebSocketTransport::new(config),
        PipelineConfig {
            queue_capacity: 32,
            max_batch: 8,
            initial_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(20),
            flush_timeout: Duration::from_millis(100),
        },
    )
    .unwrap();
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_span_processor(pipeline.span_processor())
        .build();
    let tracer = opentelemetry::trace::TracerProvider::tracer(&provider, "test");
    let ids = plain_spans(&tracer, 200);
    assert!(provider.force_flush().is_err());
    assert!(
        provider
            .shutdown_with_timeout(Duration::from_millis(300))
            .is_err()
    );
    let stats = pipeline.stats();
    assert_eq!(stats.ended, ids.len() as u64);
    assert_eq!(stats.sent, 0);
    assert_eq!(stats.dropped(), stats.ended, "{stats:?}");
    assert!(pipeline.invocations().is_none());
    drop(listener);
}
