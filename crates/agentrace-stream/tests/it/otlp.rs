//! The OTLP transport (opentelemetry-otlp's exporters) against `agentrace serve`.

use std::{collections::BTreeSet, time::Duration};

use agentrace_stream::{SessionOptions, SessionTransport, session};
use serde_json::Value;

use crate::testkit::{agent_turn, base, get_json, span_ids, start};

/// Waits for the server to list a session whose key is `key` (OTLP sessions are grouped by the
/// resource's session name); bounded.
async fn find_session(base: &str, key: &str) -> Value {
    for _ in 0..200 {
        let list = get_json(&format!("{base}/api/sessions?q={key}")).await;
        if let Some(found) = list["sessions"]
            .as_array()
            .and_then(|s| s.iter().find(|s| s["key"] == key))
        {
            return found.clone();
        }
        // The server ingests before it answers an export, so this loop ends on the first pass
        // in practice; it is bounded for a broken server.
        tokio::task::yield_now().await;
    }
    panic!("session {key} not listed");
}

async fn run(transport: SessionTransport) {
    let server = start().await;
    let endpoint = match transport {
        SessionTransport::OtlpGrpc => format!("http://{}", server.otlp_grpc_addr().unwrap()),
        _ => base(&server),
    };
    let options = SessionOptions::builder(endpoint)
        .with_name("otlp-test")
        .with_transport(transport)
        .with_shutdown_timeout(Duration::from_secs(10))
        .build();
    let session = session(options).await.unwrap();
    let id = session.id().to_owned();
    let tracer = session.tracer("test");
    let ids = agent_turn(&tracer, "hello", "hi");
    let end = session.end().await;
    assert_eq!(end.error, None);
    assert_eq!((end.stats.sent, end.stats.dropped()), (2, 0));
    assert!(end.invocations.is_none(), "plain OTLP gives no invocations");
    let found = find_session(&base(&server), &id).await;
    let server_id = found["id"].as_str().unwrap().to_owned();
    assert_eq!(
        span_ids(&base(&server), &server_id).await,
        ids.into_iter().collect::<BTreeSet<_>>()
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otlp_http_protobuf_reaches_the_server() {
    run(SessionTransport::OtlpHttp).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otlp_grpc_reaches_the_server() {
    run(SessionTransport::OtlpGrpc).await;
}
