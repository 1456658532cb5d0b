//! Bounds of the live feeds: an `invocation_updated` event is bounded in bytes whatever the
//! invocation holds, and a subscriber's slot is given back when its connection closes, without
//! waiting for the next event or keep-alive (the server already did: hyper notices the end of
//! the connection while it streams the answer; these tests keep it so).

use agentrace_server::{config::Limits, live::MAX_EVENT_INVOCATION};
use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::testkit::{self, agent_turn, kv, span, traces};

/// Posts `spans` into session `name` and returns the `invocation_updated` event that follows,
/// as its JSON text and value.
async fn invocation_event(
    server: &agentrace_server::Server,
    name: &str,
    spans: Vec<opentelemetry_proto::tonic::trace::v1::Span>,
) -> (String, Value) {
    let base = testkit::base(server);
    let feed = testkit::live_feed(&base).await;
    let response = testkit::post_proto(
        &format!("{base}/v1/traces"),
        &traces(vec![kv("agentevals.session_name", name)], spans),
    )
    .await;
    assert_eq!(response.status(), 200);
    let events = testkit::wait_for_event(feed, |e| e["type"] == "invocation_updated").await;
    let event = events.last().expect("event").clone();
    (event.to_string(), event)
}

/// The session's invocations through the API.
async fn invocations(server: &agentrace_server::Server, name: &str) -> Value {
    testkit::get_json(&format!(
        "{}/api/sessions/{name}/invocations",
        testkit::base(server)
    ))
    .await
}

#[tokio::test]
async fn an_invocation_event_with_long_texts_is_clipped_and_the_api_has_them_whole() {
    let server = testkit::start_default().await;
    let question: String = (0..40_000).map(|n| format!("w{n} ")).collect();
    assert!(question.len() > 4 * MAX_EVENT_INVOCATION);
    let (text, event) =
        invocation_event(&server, "long", agent_turn(1, 1, &question, "short answer")).await;
    assert!(
        text.len() <= MAX_EVENT_INVOCATION + 256,
        "{} bytes",
        text.len()
    );
    let invocation = &event["invocation"];
    assert_eq!(invocation["clipped"], true);
    let user_text = invocation["user_text"].as_str().expect("user_text");
    assert!(user_text.ends_with('…'), "{user_text}");
    assert!(question.starts_with(user_text.trim_end_matches('…')));
    assert_eq!(invocation["agent_text"], "short answer");
    // The API has it whole.
    let stored = invocations(&server, "long").await;
    assert_eq!(stored["invocations"][0]["user_text"], question.as_str());
    assert!(stored["invocations"][0].get("clipped").is_none());
    server.shutdown().await;
}

#[tokio::test]
async fn an_invocation_event_with_many_tool_calls_is_bounded() {
    let server = testkit::start_default().await;
    let mut spans = agent_turn(1, 1, "use the tools", "done");
    let arguments = format!(r#"{{"q":"{}"}}"#, "x".repeat(2_000));
    for n in 0..150u8 {
        spans.push(span(
            1,
            10 + n,
            Some(1),
            "execute_tool lookup",
            vec![
                kv("gen_ai.operation.name", "execute_tool"),
                kv("gen_ai.tool.name", "lookup"),
                kv("gen_ai.tool.call.id", &format!("call_{n}")),
                kv("gen_ai.tool.call.arguments", &arguments),
            ],
        ));
    }
    let (text, event) = invocation_event(&server, "tools", spans).await;
    assert!(
        text.len() <= MAX_EVENT_INVOCATION + 256,
        "{} bytes",
        text.len()
    );
    assert_eq!(event["invocation"]["clipped"], true);
    let stored = invocations(&server, "tools").await;
    let whole = stored["invocations"][0].to_string();
    assert!(
        whole.len() > MAX_EVENT_INVOCATION,
        "the test's invocation is {} bytes",
        whole.len()
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_small_invocation_event_is_sent_whole() {
    let server = testkit::start_default().await;
    let (_, event) = invocation_event(&server, "small", agent_turn(1, 1, "hello", "hi")).await;
    let stored = invocations(&server, "small").await;
    assert_eq!(event["invocation"], stored["invocations"][0]);
    server.shutdown().await;
}

/// `liveSubscribers` of `GET /api/health`, asked until it is `want` or [`testkit::WAIT`] (10 s,
/// shorter than the keep-alive) has passed; returns the last value seen. Each round is a request
/// answered by the server, not a sleep.
async fn live_subscribers_until(base: &str, want: u64) -> u64 {
    let deadline = tokio::time::Instant::now() + testkit::WAIT;
    loop {
        let health = testkit::get_json(&format!("{base}/api/health")).await;
        let now = health["connections"]["liveSubscribers"]
            .as_u64()
            .expect("liveSubscribers");
        if now == want || tokio::time::Instant::now() >= deadline {
            return now;
        }
        tokio::task::yield_now().await;
    }
}

#[tokio::test]
async fn a_closed_sse_connection_gives_its_slot_back_at_once() {
    let server = testkit::start_with_limits(Limits {
        max_live_subscribers: 1,
        ..Limits::default()
    })
    .await;
    let base = testkit::base(&server);
    let addr = server.main_addr();
    for round in 0..3 {
        // A raw HTTP/1.1 subscriber: the request, the answer's head, then a close of both
        // directions with no event sent in between.
        let mut tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
        tcp.write_all(
            format!("GET /stream/ui-updates HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n")
                .as_bytes(),
        )
        .await
        .expect("request");
        let mut head = [0u8; 64];
        let n = tokio::time::timeout(testkit::WAIT, tcp.read(&mut head))
            .await
            .expect("an answer in time")
            .expect("read");
        let head = String::from_utf8_lossy(&head[..n]).into_owned();
        assert!(head.starts_with("HTTP/1.1 200"), "round {round}: {head}");
        assert_eq!(live_subscribers_until(&base, 1).await, 1);
        drop(tcp);
        assert_eq!(
            live_subscribers_until(&base, 0).await,
            0,
            "round {round}: the slot is still held after the close"
        );
    }
    server.shutdown().await;
}

#[tokio::test]
async fn a_closed_ws_live_connection_gives_its_slot_back_at_once() {
    let server = testkit::start_with_limits(Limits {
        max_live_subscribers: 1,
        ..Limits::default()
    })
    .await;
    let base = testkit::base(&server);
    for _ in 0..3 {
        let ws = testkit::ws(&server, "/ws/live").await;
        assert_eq!(live_subscribers_until(&base, 1).await, 1);
        // Dropped without a close frame: the TCP connection just ends.
        drop(ws);
        assert_eq!(live_subscribers_until(&base, 0).await, 0);
    }
    server.shutdown().await;
}
