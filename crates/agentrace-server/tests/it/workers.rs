//! The ingest workers: with every worker busy and the queue full, OTLP/HTTP answers 503 with
//! `Retry-After` and OTLP/gRPC `UNAVAILABLE`, a WebSocket message waits, the health endpoint
//! counts the refusals, and everything goes through once a worker is free.

use std::{sync::Arc, time::Duration};

use agentrace_server::{Server, config::Limits, workers::WorkersStatus};
use futures::{SinkExt, StreamExt};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tonic::Code;

use crate::testkit::{self, agent_turn, kv, traces};

/// Waits (bounded) until the server's workers report `busy` and `waiting`.
pub(crate) async fn until(server: &Server, busy: usize, waiting: usize) -> WorkersStatus {
    for _ in 0..500 {
        let status = server.state().workers.status();
        if (status.busy, status.waiting) == (busy, waiting) {
            return status;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!(
        "workers never reached busy {busy}, waiting {waiting}: {:?}",
        server.state().workers.status()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overloaded_server_refuses_with_retry_after_and_recovers() {
    let limits = Limits {
        ingest_workers: 1,
        ingest_queue: 0,
        wal_limit_bytes: 8 << 20,
        ..Limits::default()
    };
    let server = testkit::start_with_limits(limits).await;
    let base = testkit::base(&server);
    let config = testkit::get_json(&format!("{base}/api/config")).await;
    assert_eq!(config["limits"]["ingestWorkers"], 1);
    assert_eq!(config["limits"]["ingestQueue"], 0);
    assert_eq!(config["limits"]["walLimitBytes"], 8 << 20);

    // The only worker is taken until the test lets it go.
    let (release, hold) = std::sync::mpsc::channel::<()>();
    let workers = Arc::clone(&server.state().workers);
    let busy = tokio::spawn(async move { workers.run(move || hold.recv().is_ok()).await });
    until(&server, 1, 0).await;

    let url = format!("{base}/v1/traces");
    let request = traces(
        vec![kv("agentevals.session_name", "busy")],
        agent_turn(1, 1, "q", "a"),
    );
    let refused = testkit::post_proto(&url, &request).await;
    assert_eq!(refused.status(), 503);
    assert_eq!(refused.headers()["retry-after"], "5");
    // A google.rpc.Status: field 1 the code (14, UNAVAILABLE), field 2 the message.
    let status = refused.bytes().await.unwrap();
    assert_eq!(&status[..2], [0x08, 14]);
    let text = String::from_utf8_lossy(&status);
    assert!(text.contains("overloaded"), "{text}");

    let addr = server.otlp_grpc_addr().expect("gRPC port");
    let mut grpc = TraceServiceClient::connect(format!("http://{addr}"))
        .await
        .expect("connect");
    let err = grpc
        .export(traces(
            vec![kv("agentevals.session_name", "busy")],
            agent_turn(2, 1, "q", "a"),
        ))
        .await
        .expect_err("refused");
    assert_eq!(err.code(), Code::Unavailable);
    assert!(err.message().contains("overloaded"), "{}", err.message());

    // A WebSocket message is not refused: it waits for the worker.
    let mut ws = testkit::ws(&server, "/ws/traces").await;
    ws.send(Message::Text(
        json!({"type": "session_start", "session_id": "ws-busy"})
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
    until(&server, 1, 1).await;

    let health = testkit::get_json(&format!("{base}/api/health")).await;
    assert_eq!(
        health["ingest"],
        json!({"workers": 1, "busy": 1, "waiting": 1, "queue": 0, "refused": 2})
    );

    release.send(()).expect("the worker is held");
    assert_eq!(busy.await.unwrap(), Ok(true));
    let reply = tokio::time::timeout(testkit::WAIT, ws.next())
        .await
        .expect("a reply")
        .expect("open")
        .unwrap();
    let reply: Value = serde_json::from_str(reply.to_text().unwrap()).unwrap();
    assert_eq!(reply["type"], "session_started", "{reply}");

    // With the worker free the same request goes through, and nothing was stored before.
    let accepted = testkit::post_proto(&url, &request).await;
    assert_eq!(accepted.status(), 200);
    let session = testkit::get_json(&format!("{base}/api/sessions/busy")).await;
    assert_eq!(session["spanCount"], 2, "{session}");
    assert_eq!(until(&server, 0, 0).await.refused, 2);
    server.shutdown().await;
}
