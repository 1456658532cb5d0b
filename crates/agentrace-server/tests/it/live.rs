//! The WebSocket ingest protocol and the live feeds (SSE and WebSocket).

use std::time::Duration;

use futures::SinkExt;
use serde_json::{Value, json};
use tokio_tungstenite::{connect_async, tungstenite::Message};

use crate::testkit::{self, agent_turn, kv, next_json, traces};

#[tokio::test]
async fn websocket_session_start_span_log_end_gives_the_invocations() {
    let server = testkit::start_default().await;
    let url = format!("ws://{}/ws/traces", server.main_addr());
    let (mut ws, _) = connect_async(url).await.unwrap();
    let send = |v: Value| Message::Text(v.to_string().into());

    ws.send(send(
        json!({"type": "span", "session_id": "nope", "span": {}}),
    ))
    .await
    .unwrap();
    let reply = next_json(&mut ws).await;
    assert_eq!(reply["type"], "error");
    assert!(
        reply["message"]
            .as_str()
            .unwrap()
            .contains("unknown session")
    );

    ws.send(send(json!({"type": "session_start", "session_id": "ws-1", "trace_id": "ab", "eval_set_id": "e1", "metadata": {"who": "test"}}))).await.unwrap();
    assert_eq!(next_json(&mut ws).await["type"], "session_started");
    let spans = [
        json!({"traceId": "0af7651916cd43dd8448eb211c80319c", "spanId": "b7ad6b7169203331", "name": "invoke_agent dice",
               "startTimeUnixNano": "1000", "endTimeUnixNano": "9000",
               "attributes": [{"key": "gen_ai.operation.name", "value": {"stringValue": "invoke_agent"}},
                              {"key": "gen_ai.agent.name", "value": {"stringValue": "dice"}}]}),
        json!({"traceId": "0af7651916cd43dd8448eb211c80319c", "spanId": "b7ad6b7169203332", "parentSpanId": "b7ad6b7169203331",
               "name": "chat gpt-4o", "startTimeUnixNano": "2000", "endTimeUnixNano": "3000",
               "attributes": [{"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}},
                              {"key": "gen_ai.request.model", "value": {"stringValue": "gpt-4o"}},
                              {"key": "gen_ai.input.messages", "value": {"stringValue": "[{\"role\":\"user\",\"parts\":[{\"type\":\"text\",\"content\":\"Roll a die\"}]}]"}},
                              {"key": "gen_ai.output.messages", "value": {"stringValue": "[{\"role\":\"assistant\",\"parts\":[{\"type\":\"text\",\"content\":\"You rolled 4\"}],\"finish_reason\":\"stop\"}]"}}]}),
    ];
    ws.send(send(
        json!({"type": "spans", "session_id": "ws-1", "spans": spans}),
    ))
    .await
    .unwrap();
    ws.send(send(json!({"type": "log", "session_id": "ws-1", "log": {"event_name": "gen_ai.choice", "timestamp": "2500", "body": {"index": 0}, "attributes": {"gen_ai.system": "openai"}}}))).await.unwrap();
    ws.send(send(
        json!({"type": "span", "session_id": "ws-1", "span": {"spanId": 7}}),
    ))
    .await
    .unwrap();
    let bad = next_json(&mut ws).await;
    assert_eq!(bad["type"], "error", "{bad}");
    ws.send(send(json!({"type": "session_end", "session_id": "ws-1"})))
        .await
        .unwrap();
    let done = next_json(&mut ws).await;
    assert_eq!(done["type"], "session_complete", "{done}");
    let invocation = &done["invocations"][0];
    assert_eq!(invocation["userText"], "Roll a die");
    assert_eq!(invocation["agentText"], "You rolled 4");
    assert_eq!(invocation["modelInfo"]["models"], json!(["gpt-4o"]));

    let session: Value =
        testkit::get_json(&format!("{}/api/sessions/ws-1", testkit::base(&server))).await;
    assert_eq!(session["keyKind"], "websocket");
    assert_eq!(session["evalSetId"], "e1");
    assert_eq!(session["metadata"], json!({"who": "test"}));
    assert_eq!(
        (session["spanCount"].as_i64(), session["logCount"].as_i64()),
        (Some(2), Some(1))
    );
    assert_eq!(session["complete"], true);
    server.shutdown().await;
}

/// One agent turn as OTLP/JSON spans: invoke_agent > chat, asked `question`, answering `answer`.
fn json_turn(trace: u32, question: &str, answer: &str) -> Value {
    let trace_id = format!("{trace:032x}");
    let (root, chat) = (
        format!("{:016x}", trace * 2 + 1),
        format!("{:016x}", trace * 2 + 2),
    );
    let messages = |role: &str, text: &str| {
        json!([{"role": role, "parts": [{"type": "text", "content": text}]}]).to_string()
    };
    let start = u64::from(trace) * 10_000;
    json!([
        {"traceId": trace_id, "spanId": root, "name": "invoke_agent dice",
         "startTimeUnixNano": (start + 1000).to_string(), "endTimeUnixNano": (start + 9000).to_string(),
         "attributes": [{"key": "gen_ai.operation.name", "value": {"stringValue": "invoke_agent"}}]},
        {"traceId": trace_id, "spanId": chat, "parentSpanId": root, "name": "chat gpt-4o",
         "startTimeUnixNano": (start + 2000).to_string(), "endTimeUnixNano": (start + 3000).to_string(),
         "attributes": [{"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}},
                        {"key": "gen_ai.input.messages", "value": {"stringValue": messages("user", question)}},
                        {"key": "gen_ai.output.messages", "value": {"stringValue": messages("assistant", answer)}}]},
    ])
}

#[tokio::test]
async fn websocket_messages_sent_at_once_are_applied_and_answered_in_order() {
    // The server parses a connection's next message while it applies the last one. Sent without
    // waiting for any reply, the spans of a session started in the same burst must still find
    // it, an error must come back between the replies it was sent between, and the session must
    // end with everything sent before `session_end`.
    let server = testkit::start_default().await;
    let url = format!("ws://{}/ws/traces", server.main_addr());
    let (mut ws, _) = connect_async(url).await.unwrap();
    let send = |v: Value| Message::Text(v.to_string().into());
    let turns = 30u32;
    let mut burst = vec![send(
        json!({"type": "session_start", "session_id": "burst"}),
    )];
    for i in 0..turns {
        burst.push(send(json!({"type": "spans", "session_id": "burst",
                               "spans": json_turn(i + 1, &format!("q{i}"), &format!("a{i}"))})));
        if i == 10 {
            burst.push(send(
                json!({"type": "span", "session_id": "burst", "span": {"spanId": 7}}),
            ));
        }
        if i == 20 {
            burst.push(send(
                json!({"type": "spans", "session_id": "never-started", "spans": []}),
            ));
        }
    }
    burst.push(send(json!({"type": "session_end", "session_id": "burst"})));
    for message in burst {
        ws.feed(message).await.unwrap();
    }
    ws.flush().await.unwrap();

    assert_eq!(next_json(&mut ws).await["type"], "session_started");
    let bad = next_json(&mut ws).await;
    assert_eq!(bad["type"], "error", "{bad}");
    assert!(
        !bad["message"].as_str().unwrap().contains("unknown session"),
        "{bad}"
    );
    let unknown = next_json(&mut ws).await;
    assert!(
        unknown["message"]
            .as_str()
            .unwrap()
            .contains("unknown session `never-started`"),
        "{unknown}"
    );
    let done = next_json(&mut ws).await;
    assert_eq!(done["type"], "session_complete", "{done}");
    let asked: Vec<&str> = done["invocations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["userText"].as_str().unwrap())
        .collect();
    let expected: Vec<String> = (0..turns).map(|i| format!("q{i}")).collect();
    assert_eq!(asked, expected);
    let session: Value =
        testkit::get_json(&format!("{}/api/sessions/burst", testkit::base(&server))).await;
    assert_eq!(session["spanCount"].as_i64(), Some(i64::from(turns) * 2));
    server.shutdown().await;
}

#[tokio::test]
async fn the_websocket_live_feed_carries_the_events() {
    let server = testkit::start_default().await;
    let base = testkit::base(&server);
    let mut live = testkit::ws(&server, "/ws/live").await;
    // The upgrade completed before connect_async returned, so the subscription exists.
    let request = traces(
        vec![kv("agentevals.session_name", "feed")],
        agent_turn(1, 1, "q", "a"),
    );
    let r = testkit::post_proto(&format!("{base}/v1/traces"), &request).await;
    assert_eq!(r.status(), 200);
    let first = next_json(&mut live).await;
    assert_eq!(first["type"], "session_started");
    assert_eq!(first["session"]["id"], "feed");
    let second = next_json(&mut live).await;
    assert_eq!(second["type"], "spans_received");
    assert_eq!(second["span_count"], 2);
    // Each span as `{traceId, spanId, parentSpanId, name}`, in that order, ids in hex.
    let spans = second["spans"].as_array().unwrap();
    assert_eq!(spans.len(), 2);
    for span in spans {
        let keys: Vec<&str> = span
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, ["traceId", "spanId", "parentSpanId", "name"]);
        assert_eq!(span["traceId"].as_str().unwrap().len(), 32);
        assert_eq!(span["spanId"].as_str().unwrap().len(), 16);
        assert!(!span["name"].as_str().unwrap().is_empty());
    }
    let root = spans
        .iter()
        .find(|s| s["parentSpanId"].is_null())
        .expect("a root");
    assert!(
        spans.iter().any(|s| s["parentSpanId"] == root["spanId"]),
        "a child names the root as its parent: {spans:?}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn session_start_replaces_an_existing_session() {
    let server = testkit::start(
        testkit::config()
            .with_session_rules(agentrace_server::config::SessionRules {
                completion_grace: Duration::from_secs(60),
                ..testkit::fast_rules()
            })
            .build()
            .unwrap(),
    )
    .await;
    let mut ws = testkit::ws(&server, "/ws/traces").await;
    for _ in 0..2 {
        ws.send(Message::Text(
            json!({"type": "session_start", "session_id": "again"})
                .to_string()
                .into(),
        ))
        .await
        .unwrap();
        assert_eq!(next_json(&mut ws).await["type"], "session_started");
    }
    let list: Value = testkit::get_json(&format!("{}/api/sessions", testkit::base(&server))).await;
    assert_eq!(list["total"], 1);
    server.shutdown().await;
}
