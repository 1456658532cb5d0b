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

/// The bodies of the requests a receiver took, in order.
type Bodies = std::sync::Arc<std::sync::Mutex<Vec<Vec<u8>>>>;

/// A receiver that answers every request with `400 Bad Request`, keeping each request's body.
async fn refusing_receiver() -> (String, Bodies) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let bodies = Bodies::default();
    let seen = std::sync::Arc::clone(&bodies);
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let seen = std::sync::Arc::clone(&seen);
            tokio::spawn(async move {
                let mut buf = vec![0u8; 1 << 16];
                let mut held = Vec::new();
                // One request: its headers, then the body its Content-Length says.
                let body = loop {
                    let Ok(n) = socket.read(&mut buf).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    held.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&held).to_string();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let length = text
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .and_then(|v| v.trim().parse::<usize>().ok())
                            })
                            .unwrap_or(0);
                        if held.len() >= end + 4 + length {
                            break held[end + 4..end + 4 + length].to_vec();
                        }
                    }
                };
                seen.lock().expect("bodies").push(body);
                let _ = socket
                    .write_all(
                        b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                    )
                    .await;
            });
        }
    });
    (format!("http://{addr}"), bodies)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_for_good_is_counted_and_not_sent_again() {
    let (endpoint, bodies) = refusing_receiver().await;
    let options = SessionOptions::builder(endpoint)
        .with_name("refused")
        .with_transport(SessionTransport::OtlpHttp)
        .with_shutdown_timeout(Duration::from_secs(10))
        .build();
    let session = session(options).await.expect("session");
    let tracer = session.tracer("test");
    let ids = agent_turn(&tracer, "hello", "hi");
    let end = session.end().await;
    assert_eq!(end.stats.sent, 0, "{:?}", end.stats);
    assert_eq!(end.stats.rejected, ids.len() as u64, "{:?}", end.stats);
    assert!(
        end.stats
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("400")),
        "{:?}",
        end.stats
    );
    // A 400 is not retried: each batch went once. The two spans may leave in one batch or,
    // when the worker wakes between their ends, in two; a retry would repeat a body.
    let bodies = bodies.lock().expect("bodies").clone();
    assert!(
        (1..=ids.len()).contains(&bodies.len()),
        "{} requests",
        bodies.len()
    );
    let distinct: BTreeSet<&Vec<u8>> = bodies.iter().collect();
    assert_eq!(distinct.len(), bodies.len(), "a batch was sent again");
}
