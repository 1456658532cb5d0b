//! The examples of `docs/server.md` are checked against what the server really sends.

use std::collections::BTreeSet;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::testkit::{self, agent_turn, client, kv, span, traces};

pub(crate) fn examples() -> Vec<Value> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/server.md");
    let text = std::fs::read_to_string(path).expect("docs/server.md");
    let mut out = Vec::new();
    let mut block: Option<String> = None;
    for line in text.lines() {
        match (&mut block, line.trim()) {
            (None, "```json") => block = Some(String::new()),
            (Some(b), "```") => {
                out.push(
                    serde_json::from_str(b).unwrap_or_else(|e| panic!("bad example {b}: {e}")),
                );
                block = None;
            }
            (Some(b), _) => {
                b.push_str(line);
                b.push('\n');
            }
            (None, _) => {}
        }
    }
    out
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

fn example_where(examples: &[Value], pred: impl Fn(&Value) -> bool) -> &Value {
    examples
        .iter()
        .find(|e| pred(e))
        .expect("the docs have this example")
}

#[tokio::test]
async fn documented_shapes_match_the_server() {
    let examples = examples();
    assert!(examples.len() >= 15, "every example block parses");
    let server = testkit::start_default().await;
    let base = testkit::base(&server);
    let http = client();
    let live = testkit::live_feed(&base).await;
    http.get(format!("{base}/api/health")).send().await.unwrap();

    let mut spans = agent_turn(1, 1, "Roll a die", "You rolled 4");
    let mut bad = span(1, 9, Some(1), "bad", vec![]);
    bad.span_id = vec![0; 8];
    spans.push(bad);
    let reply: Value = http
        .post(format!("{base}/v1/traces"))
        .header("content-type", "application/json")
        .body(
            serde_json::to_vec(&traces(vec![kv("agentevals.session_name", "demo")], spans))
                .unwrap(),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let documented = example_where(&examples, |e| e.get("partialSuccess").is_some());
    assert_eq!(
        keys(&reply["partialSuccess"]),
        keys(&documented["partialSuccess"])
    );
    assert_eq!(
        reply["partialSuccess"]["rejectedSpans"],
        documented["partialSuccess"]["rejectedSpans"]
    );

    let events = testkit::wait_for_event(live, |e| e["type"] == "session_complete").await;
    http.delete(format!("{base}/api/sessions/demo"))
        .send()
        .await
        .unwrap();

    let summary: Value = testkit::get_json(&format!("{base}/api/sessions")).await;
    assert_eq!(summary["total"], 0);
    for event in &events {
        let kind = event["type"].as_str().unwrap();
        let documented = example_where(&examples, |e| {
            e["type"] == kind && e.get("message").is_none() && e.get("invocations").is_none()
        });
        assert_eq!(keys(event), keys(documented), "live event `{kind}`");
    }
    let started = events
        .iter()
        .find(|e| e["type"] == "session_started")
        .unwrap();
    let doc_summary = example_where(&examples, |e| e.get("keyKind").is_some());
    assert_eq!(keys(&started["session"]), keys(doc_summary));

    let bad_request: Value = http
        .post(format!("{base}/v1/traces"))
        .header("content-type", "application/json")
        .body("nonsense")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let documented = example_where(&examples, |e| e.get("code").is_some());
    assert_eq!(keys(&bad_request), keys(documented));
    let not_found: Value = testkit::get_json(&format!("{base}/api/sessions/abc")).await;
    assert_eq!(
        not_found,
        *example_where(&examples, |e| e.get("error").is_some())
    );
    let health: Value = testkit::get_json(&format!("{base}/api/health")).await;
    assert_eq!(health["status"], "ok");
    server.shutdown().await;
}

#[tokio::test]
async fn documented_websocket_messages_work_in_order() {
    let examples = examples();
    let server = testkit::start_default().await;
    let mut ws = testkit::ws(&server, "/ws/traces").await;
    let client_messages: Vec<&Value> = examples
        .iter()
        .filter(|e| e.get("session_id").and_then(Value::as_str) == Some("session-abc123"))
        .filter(|e| {
            ["session_start", "span", "spans", "log", "session_end"]
                .contains(&e["type"].as_str().unwrap_or(""))
        })
        .collect();
    assert_eq!(client_messages.len(), 5);
    let mut replies = Vec::new();
    for message in client_messages {
        ws.send(Message::Text(message.to_string().into()))
            .await
            .unwrap();
        if ["session_start", "session_end"].contains(&message["type"].as_str().unwrap()) {
            let reply = tokio::time::timeout(testkit::WAIT, ws.next())
                .await
                .unwrap()
                .unwrap()
                .unwrap();
            replies.push(serde_json::from_str::<Value>(reply.to_text().unwrap()).unwrap());
        }
    }
    assert_eq!(replies[0]["type"], "session_started");
    assert_eq!(replies[1]["type"], "session_complete", "{}", replies[1]);
    let documented = example_where(&examples, |e| {
        e["type"] == "session_complete" && e.get("invocations").is_some()
    });
    assert_eq!(keys(&replies[1]), keys(documented));
    let error = example_where(&examples, |e| e["type"] == "error");
    ws.send(Message::Text(
        json!({"type": "span", "session_id": "x", "span": {}})
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
    let reply = tokio::time::timeout(testkit::WAIT, ws.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(reply.to_text().unwrap()).unwrap(),
        *error
    );
    server.shutdown().await;
}
