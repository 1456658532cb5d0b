//! Staging: a trace with no session key and no GenAI span waits, stored but not listed, until a
//! GenAI span or a key arrives; it is deleted (and counted) when neither comes in time, and the
//! number of staged traces is bounded with an error the producer sees.

use std::time::Duration;

use agentrace_server::config::Limits;
use opentelemetry_proto::tonic::{
    collector::trace::v1::ExportTraceServiceResponse, logs::v1::LogRecord, trace::v1::Span,
};
use prost::Message;
use serde_json::Value;

use crate::testkit::{self, agent_turn, client, kv, span, traces};

/// An HTTP server span of an instrumented app: no GenAI attribute, no session key.
fn http_span(trace: u8, id: u8) -> Span {
    span(
        trace,
        id,
        None,
        "GET /plan",
        vec![kv("http.request.method", "GET"), kv("url.path", "/plan")],
    )
}

/// Gives the spans a trace id that differs from `trace_id(trace)` in its first bytes, so two
/// such traces get different `otlp-<first 12 hex>` sessions.
fn apart(mut spans: Vec<Span>, n: u8) -> Vec<Span> {
    for s in &mut spans {
        s.trace_id[1] = n;
    }
    spans
}

fn session_id(trace: u8, n: u8) -> String {
    let mut id = testkit::trace_id(trace);
    id[1] = n;
    format!("otlp-{}", hex::encode(&id[..6]))
}

async fn post(
    base: &str,
    spans: Vec<Span>,
    resource: Vec<opentelemetry_proto::tonic::common::v1::KeyValue>,
) -> ExportTraceServiceResponse {
    let response =
        testkit::post_proto(&format!("{base}/v1/traces"), &traces(resource, spans)).await;
    assert_eq!(response.status(), 200);
    ExportTraceServiceResponse::decode(response.bytes().await.expect("body"))
        .expect("export response")
}

async fn staged(base: &str) -> (u64, u64) {
    let health = testkit::get_json(&format!("{base}/api/health")).await;
    (
        health["staged"]["traces"].as_u64().expect("staged traces"),
        health["staged"]["expired"]
            .as_u64()
            .expect("staged expired"),
    )
}

#[tokio::test]
async fn a_staged_trace_becomes_a_session_when_a_genai_span_arrives() {
    let server = testkit::start_default().await;
    let base = testkit::base(&server);
    let live = testkit::live_feed(&base).await;
    assert_eq!(
        post(&base, apart(vec![http_span(7, 1)], 1), vec![])
            .await
            .partial_success,
        None
    );

    let listed = testkit::get_json(&format!("{base}/api/sessions")).await;
    assert_eq!(listed["total"], 0, "a staged trace is not listed: {listed}");
    let all = testkit::get_json(&format!("{base}/api/sessions?include_staged=true")).await;
    assert_eq!(all["total"], 1);
    assert_eq!(all["sessions"][0]["keyKind"], "staged");
    assert_eq!(all["sessions"][0]["spanCount"], 1);
    assert_eq!(staged(&base).await, (1, 0));

    // The agent's spans of the same trace arrive later: the trace is a session now, with the
    // span that waited.
    let mut turn = agent_turn(7, 2, "plan a trip", "done");
    turn[0].parent_span_id = testkit::span_id(1);
    assert_eq!(
        post(&base, apart(turn, 1), vec![]).await.partial_success,
        None
    );
    let events = testkit::wait_for_event(live, |e| e["type"] == "session_complete").await;
    let id = session_id(7, 1);
    let started: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "session_started")
        .collect();
    assert_eq!(
        started.len(),
        1,
        "announced once, when promoted: {events:?}"
    );
    assert_eq!(started[0]["session"]["id"], id.as_str());

    let listed = testkit::get_json(&format!("{base}/api/sessions")).await;
    assert_eq!(listed["total"], 1);
    let session = &listed["sessions"][0];
    assert_eq!(session["id"], id.as_str());
    assert_eq!(session["keyKind"], "trace");
    assert_eq!(session["spanCount"], 3);
    let detail = testkit::get_json(&format!("{base}/api/sessions/{id}")).await;
    assert_eq!(
        detail["invocations"][0]["user_text"], "plan a trip",
        "{detail}"
    );
    assert_eq!(staged(&base).await, (0, 0));
    server.shutdown().await;
}

#[tokio::test]
async fn a_staged_trace_that_gets_a_key_joins_the_keys_session() {
    let server = testkit::start_default().await;
    let base = testkit::base(&server);
    post(&base, vec![http_span(8, 1)], vec![]).await;
    assert_eq!(staged(&base).await, (1, 0));
    let mut turn = agent_turn(8, 2, "hello", "hi");
    turn[0].parent_span_id = testkit::span_id(1);
    post(&base, turn, vec![kv("agentevals.session_name", "named")]).await;

    let session = testkit::get_json(&format!("{base}/api/sessions/named")).await;
    assert_eq!(session["spanCount"], 3, "{session}");
    let gone = client()
        .get(format!("{base}/api/sessions/{}", session_id(8, 0)))
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 404, "the empty staged session is deleted");
    assert_eq!(staged(&base).await, (0, 0));
    let listed = testkit::get_json(&format!("{base}/api/sessions?include_staged=true")).await;
    assert_eq!(listed["total"], 1);
    server.shutdown().await;
}

#[tokio::test]
async fn staged_traces_are_bounded_and_expire_with_a_count() {
    let rules = agentrace_server::config::SessionRules {
        staged_ttl: Duration::from_millis(300),
        ..testkit::fast_rules()
    };
    let limits = Limits {
        max_staged_traces: 1,
        ..Limits::default()
    };
    let server = testkit::start(
        testkit::config()
            .with_session_rules(rules)
            .with_limits(limits)
            .build()
            .unwrap(),
    )
    .await;
    let base = testkit::base(&server);
    let config = testkit::get_json(&format!("{base}/api/config")).await;
    assert_eq!(config["limits"]["maxStagedTraces"], 1);
    assert_eq!(config["sessions"]["stagedTtlSeconds"], 0.3);

    assert_eq!(
        post(&base, apart(vec![http_span(9, 1)], 1), vec![])
            .await
            .partial_success,
        None
    );
    // A second staged trace is past the limit: refused, with the reason, nothing evicted.
    let refused = post(&base, apart(vec![http_span(9, 1)], 2), vec![]).await;
    testkit::assert_spans_rejected(refused.partial_success, 1, "staged trace limit (1)");
    // More spans of the staged trace itself are still taken.
    let more = post(&base, apart(vec![http_span(9, 3)], 1), vec![]).await;
    assert_eq!(more.partial_success, None);

    // Neither a GenAI span nor a key comes: the staged trace is deleted and counted.
    let mut counts = staged(&base).await;
    for _ in 0..200 {
        if counts.1 == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
        counts = staged(&base).await;
    }
    assert_eq!(counts, (0, 1));
    let gone = client()
        .get(format!("{base}/api/sessions/{}", session_id(9, 1)))
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 404);
    // The slot is free again.
    let again = post(&base, apart(vec![http_span(9, 1)], 2), vec![]).await;
    assert_eq!(again.partial_success, None);
    server.shutdown().await;
}

#[tokio::test]
async fn logs_of_an_unknown_keyless_trace_wait_staged_for_its_spans() {
    let server = testkit::start_default().await;
    let base = testkit::base(&server);
    let record = LogRecord {
        time_unix_nano: 1_700_000_000_000_000_000,
        event_name: "gen_ai.client.inference.operation.details".to_owned(),
        trace_id: testkit::trace_id(11),
        span_id: testkit::span_id(2),
        ..LogRecord::default()
    };
    let response = testkit::post_proto(
        &format!("{base}/v1/logs"),
        &testkit::logs(vec![], vec![record]),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(staged(&base).await, (1, 0));
    let listed = testkit::get_json(&format!("{base}/api/sessions")).await;
    assert_eq!(listed["total"], 0);

    post(&base, agent_turn(11, 1, "hi", "hello"), vec![]).await;
    let id = session_id(11, 0);
    let session = testkit::get_json(&format!("{base}/api/sessions/{id}")).await;
    assert_eq!(session["keyKind"], "trace", "{session}");
    assert_eq!(session["spanCount"], 2);
    assert_eq!(session["logCount"], 1);
    assert_eq!(staged(&base).await, (0, 0));
    server.shutdown().await;
}

#[tokio::test]
async fn a_staged_trace_survives_a_restart_and_is_promoted_after_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = agentrace_server::config::DbLocation::File(dir.path().join("agentrace.db"));
    let server = testkit::start(testkit::config().with_db(db.clone()).build().unwrap()).await;
    post(&testkit::base(&server), vec![http_span(12, 1)], vec![]).await;
    server.shutdown().await;

    let server = testkit::start(testkit::config().with_db(db).build().unwrap()).await;
    let base = testkit::base(&server);
    assert_eq!(
        staged(&base).await,
        (1, 0),
        "staged again after the restart"
    );
    let listed = testkit::get_json(&format!("{base}/api/sessions")).await;
    assert_eq!(listed["total"], 0);
    let mut turn = agent_turn(12, 2, "after the restart", "ok");
    turn[0].parent_span_id = testkit::span_id(1);
    post(&base, turn, vec![]).await;
    let id = session_id(12, 0);
    let session = testkit::get_json(&format!("{base}/api/sessions/{id}")).await;
    assert_eq!(session["keyKind"], "trace", "{session}");
    assert_eq!(session["spanCount"], 3);
    assert_eq!(
        session["invocations"][0]["user_text"], "after the restart",
        "{session}"
    );
    assert_eq!(staged(&base).await, (0, 0));
    server.shutdown().await;
}
