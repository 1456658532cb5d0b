//! OTLP/HTTP over real TCP: protobuf and JSON, gzip, partial success and every error status.

use std::io::Write;

use agentrace_server::config::Limits;
use flate2::{Compression, write::GzEncoder};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message;
use serde_json::{Value, json};

use crate::testkit::{self, agent_turn, client, kv, span, traces};

#[tokio::test]
async fn protobuf_spans_are_stored_grouped_and_completed() {
    let server = testkit::start_default().await;
    let base = testkit::base(&server);
    let live = testkit::live_feed(&base).await;
    let request = traces(
        vec![kv("agentevals.session_name", "demo")],
        agent_turn(1, 1, "hi", "hello"),
    );
    let response = testkit::post_proto(&format!("{base}/v1/traces"), &request).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/x-protobuf");
    let body = ExportTraceServiceResponse::decode(response.bytes().await.unwrap()).unwrap();
    assert_eq!(body.partial_success, None);

    let events = testkit::wait_for_event(live, |e| e["type"] == "session_complete").await;
    let kinds: Vec<&str> = events.iter().filter_map(|e| e["type"].as_str()).collect();
    assert_eq!(kinds.first(), Some(&"session_started"));
    assert!(kinds.contains(&"spans_received"));

    let sessions: Value = testkit::get_json(&format!("{base}/api/sessions")).await;
    assert_eq!(sessions["total"], 1);
    let session = &sessions["sessions"][0];
    assert_eq!(session["id"], "demo");
    assert_eq!(session["keyKind"], "name");
    assert_eq!(session["spanCount"], 2);
    assert_eq!(session["complete"], true);

    let spans: Value = testkit::get_json(&format!("{base}/api/sessions/demo/spans")).await;
    let names: Vec<&str> = spans["spans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["invoke_agent helper", "chat m"]);
    server.shutdown().await;
}

#[tokio::test]
async fn json_and_gzip_are_accepted_and_retries_are_idempotent() {
    let server = testkit::start_default().await;
    let base = testkit::base(&server);
    let http = client();
    let doc = json!({
        "resourceSpans": [{
            "resource": {"attributes": [{"key": "gen_ai.conversation.id", "value": {"stringValue": "conv-1"}}]},
            "scopeSpans": [{"scope": {"name": "t"}, "spans": [{
                "traceId": "5b8efff798038103d269b633813fc60c",
                "spanId": "eee19b7ec3c1b174",
                "name": "chat gpt-4o",
                "kind": 3,
                "startTimeUnixNano": "1544712660000000000",
                "endTimeUnixNano": "1544712661000000000",
                "attributes": [{"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}}]
            }]}]
        }]
    });
    let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
    gz.write_all(doc.to_string().as_bytes()).unwrap();
    let gzipped = gz.finish().unwrap();
    for _ in 0..2 {
        let response = http
            .post(format!("{base}/v1/traces"))
            .header("content-type", "application/json")
            .header("content-encoding", "gzip")
            .body(gzipped.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "application/json");
        let body: Value = response.json().await.unwrap();
        assert!(
            body.get("partialSuccess").is_none_or(Value::is_null),
            "{body}"
        );
    }
    let session: Value = testkit::get_json(&format!("{base}/api/sessions/conv-1")).await;
    assert_eq!(session["keyKind"], "conversation");
    assert_eq!(session["spanCount"], 1, "a retried export is stored once");
    server.shutdown().await;
}

#[tokio::test]
async fn bad_spans_are_rejected_with_a_reason_and_the_rest_kept() {
    let server = testkit::start_default().await;
    let base = testkit::base(&server);
    let mut bad = span(2, 9, None, "broken", vec![]);
    bad.span_id = vec![1, 2, 3];
    let mut spans = agent_turn(2, 1, "q", "a");
    spans.push(bad);
    let response = testkit::post_proto(&format!("{base}/v1/traces"), &traces(vec![], spans)).await;
    assert_eq!(response.status(), 200);
    let body = ExportTraceServiceResponse::decode(response.bytes().await.unwrap()).unwrap();
    testkit::assert_spans_rejected(body.partial_success, 1, "span");
    let sessions: Value = testkit::get_json(&format!("{base}/api/sessions")).await;
    assert_eq!(sessions["sessions"][0]["spanCount"], 2);
    server.shutdown().await;
}

#[tokio::test]
async fn wrong_content_type_encoding_and_bodies_get_the_otlp_statuses() {
    let limits = Limits {
        max_body_bytes: 4096,
        max_decompressed_bytes: 8192,
        ..Limits::default()
    };
    let server = testkit::start_with_limits(limits).await;
    let url = format!("{}/v1/traces", testkit::base(&server));
    let http = client();
    let status = |r: reqwest::Response| r.status().as_u16();

    let r = http
        .post(&url)
        .header("content-type", "text/plain")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(status(r), 415);
    let r = http
        .post(&url)
        .header("content-type", "application/json")
        .header("content-encoding", "zstd")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(status(r), 415);
    let r = http
        .post(&url)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["code"], 3, "google.rpc.Status INVALID_ARGUMENT");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("invalid OTLP JSON")
    );
    let r = http
        .post(&url)
        .header("content-type", "application/x-protobuf")
        .body(vec![0xff, 0xff, 0xff])
        .send()
        .await
        .unwrap();
    assert_eq!(status(r), 400);
    let r = http
        .post(&url)
        .header("content-type", "application/json")
        .body(vec![b' '; 5000])
        .send()
        .await
        .unwrap();
    assert_eq!(status(r), 413);
    let mut gz = GzEncoder::new(Vec::new(), Compression::best());
    gz.write_all(&vec![b' '; 100_000]).unwrap();
    let bomb = gz.finish().unwrap();
    assert!(bomb.len() < 4096);
    let r = http
        .post(&url)
        .header("content-type", "application/json")
        .header("content-encoding", "gzip")
        .body(bomb)
        .send()
        .await
        .unwrap();
    assert_eq!(status(r), 413, "decompressed size is bounded");
    // An empty export is a valid no-op.
    let r = http
        .post(&url)
        .header("content-type", "application/x-protobuf")
        .body(Vec::new())
        .send()
        .await
        .unwrap();
    assert_eq!(status(r), 200);
    server.shutdown().await;
}

#[tokio::test]
async fn the_session_limit_is_a_503_with_retry_after_and_nothing_is_evicted() {
    let limits = Limits {
        max_sessions: 1,
        ..Limits::default()
    };
    let server = testkit::start_with_limits(limits).await;
    let url = format!("{}/v1/traces", testkit::base(&server));
    let http = client();
    let send = |name: &'static str, trace: u8| {
        let http = http.clone();
        let url = url.clone();
        async move {
            http.post(&url)
                .header("content-type", "application/x-protobuf")
                .body(
                    traces(
                        vec![kv("agentevals.session_name", name)],
                        agent_turn(trace, 1, "q", "a"),
                    )
                    .encode_to_vec(),
                )
                .send()
                .await
                .unwrap()
        }
    };
    assert_eq!(send("first", 1).await.status(), 200);
    let refused = send("second", 2).await;
    assert_eq!(refused.status(), 503);
    assert_eq!(refused.headers()["retry-after"], "5");
    // The first session's traces still arrive.
    assert_eq!(send("first", 3).await.status(), 200);
    let sessions: Value =
        testkit::get_json(&format!("{}/api/sessions", testkit::base(&server))).await;
    assert_eq!(sessions["total"], 1);
    assert_eq!(sessions["sessions"][0]["spanCount"], 4);
    server.shutdown().await;
}

#[tokio::test]
async fn the_span_limit_rejects_through_partial_success() {
    let limits = Limits {
        max_spans_per_session: 3,
        ..Limits::default()
    };
    let server = testkit::start_with_limits(limits).await;
    let url = format!("{}/v1/traces", testkit::base(&server));
    let mut spans = agent_turn(1, 1, "q", "a");
    spans.extend(agent_turn(1, 3, "q2", "a2"));
    let response = testkit::post_proto(
        &url,
        &traces(vec![kv("agentevals.session_name", "s")], spans),
    )
    .await;
    assert_eq!(response.status(), 200);
    let body = ExportTraceServiceResponse::decode(response.bytes().await.unwrap()).unwrap();
    testkit::assert_spans_rejected(body.partial_success, 1, "span limit (3)");
    // The refused span is not stored: the session holds the limit, no more.
    let base = testkit::base(&server);
    let session = testkit::get_json(&format!("{base}/api/sessions/s")).await;
    assert_eq!(session["spanCount"], 3, "{session}");
    let spans = testkit::get_json(&format!("{base}/api/sessions/s/spans")).await;
    assert_eq!(spans["spans"].as_array().map(Vec::len), Some(3), "{spans}");
    server.shutdown().await;
}

#[tokio::test]
async fn logs_join_their_trace_and_metrics_are_accepted() {
    use opentelemetry_proto::tonic::{
        collector::metrics::v1::ExportMetricsServiceRequest, logs::v1::LogRecord,
    };
    let server = testkit::start_default().await;
    let base = testkit::base(&server);
    let http = client();
    let spans = traces(
        vec![kv("agentevals.session_name", "with-logs")],
        agent_turn(4, 1, "q", "a"),
    );
    testkit::post_proto(&format!("{base}/v1/traces"), &spans).await;
    let record = LogRecord {
        time_unix_nano: 1_700_000_000_000_000_000,
        event_name: "gen_ai.client.inference.operation.details".to_owned(),
        trace_id: testkit::trace_id(4),
        span_id: testkit::span_id(2),
        ..LogRecord::default()
    };
    let orphan = LogRecord {
        event_name: "gen_ai.choice".to_owned(),
        ..LogRecord::default()
    };
    let response = testkit::post_proto(
        &format!("{base}/v1/logs"),
        &testkit::logs(vec![], vec![record, orphan]),
    )
    .await;
    assert_eq!(response.status(), 200);
    let body = opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceResponse::decode(
        response.bytes().await.unwrap(),
    )
    .unwrap();
    let partial = body.partial_success.expect("the orphan is rejected");
    assert_eq!(partial.rejected_log_records, 1);
    assert!(partial.error_message.contains("no trace context"));
    let logs: Value = testkit::get_json(&format!("{base}/api/sessions/with-logs/logs")).await;
    assert_eq!(logs["logs"].as_array().unwrap().len(), 1);
    let metrics = testkit::post_proto(
        &format!("{base}/v1/metrics"),
        &ExportMetricsServiceRequest::default(),
    )
    .await;
    assert_eq!(metrics.status(), 200);
    // The extra OTLP port serves the same receivers.
    let extra = format!("http://{}/v1/traces", server.otlp_http_addr().unwrap());
    let r = http
        .post(extra)
        .header("content-type", "application/x-protobuf")
        .body(Vec::new())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    server.shutdown().await;
}

#[tokio::test]
async fn json_with_protobuf_field_names_and_enum_names_is_read_like_a_trace_file() {
    let server = testkit::start_default().await;
    let base = testkit::base(&server);
    let doc = json!({"resource_spans": [{
        "resource": {"attributes": [{"key": "session.id", "value": {"string_value": "snake"}}]},
        "scope_spans": [{"spans": [{
            "trace_id": "5b8efff798038103d269b633813fc60d",
            "span_id": "eee19b7ec3c1b175",
            "name": "chat m",
            "kind": "SPAN_KIND_CLIENT",
            "start_time_unix_nano": "1544712660000000000",
            "end_time_unix_nano": "1544712661000000000"
        }]}]
    }]});
    let response = client()
        .post(format!("{base}/v1/traces"))
        .header("content-type", "application/json")
        .body(doc.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let spans = testkit::get_json(&format!("{base}/api/sessions/snake/spans")).await;
    assert_eq!(spans["spans"][0]["name"], "chat m");
    assert_eq!(spans["spans"][0]["kind"], 3);
    server.shutdown().await;
}

#[tokio::test]
async fn spans_arriving_after_completion_extend_the_stored_invocations() {
    let server = testkit::start_default().await;
    let base = testkit::base(&server);
    let url = format!("{base}/v1/traces");
    let resource = || vec![kv("agentevals.session_name", "late")];

    let live = testkit::live_feed(&base).await;
    let first = traces(
        resource(),
        agent_turn(7, 1, "first question", "first answer"),
    );
    assert_eq!(testkit::post_proto(&url, &first).await.status(), 200);
    testkit::wait_for_event(live, |e| e["type"] == "session_complete").await;

    // A second turn of the same trace arrives after the session completed: the session is live
    // again, and its invocations are extracted from everything it holds, not only the new spans.
    let live = testkit::live_feed(&base).await;
    let second = traces(
        resource(),
        agent_turn(7, 3, "second question", "second answer"),
    );
    assert_eq!(testkit::post_proto(&url, &second).await.status(), 200);
    let events = testkit::wait_for_event(live, |e| e["type"] == "session_complete").await;
    assert_eq!(events.last().unwrap()["invocation_count"], 2, "{events:?}");

    let stored = testkit::get_json(&format!("{base}/api/sessions/late/invocations")).await;
    let users: Vec<&str> = stored["invocations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["user_text"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(users, ["first question", "second question"], "{stored}");
    server.shutdown().await;
}

/// A server whose sessions stay live for the test (no completion within a minute).
async fn staying_live() -> agentrace_server::Server {
    let rules = agentrace_server::config::SessionRules {
        completion_grace: std::time::Duration::from_secs(60),
        idle_timeout: std::time::Duration::from_secs(60),
        rerun_window: std::time::Duration::from_secs(30),
        ..testkit::fast_rules()
    };
    testkit::start(
        testkit::config()
            .with_session_rules(rules)
            .build()
            .expect("config"),
    )
    .await
}

#[tokio::test]
async fn a_growing_session_updates_only_its_new_invocation() {
    // Each new trace of a live conversation adds one invocation: the live feed carries that one,
    // not the earlier ones again, and the session's invocations are all of them in order.
    let server = staying_live().await;
    let base = testkit::base(&server);
    let url = format!("{base}/v1/traces");
    let resource = || vec![kv("agentevals.session_name", "growing")];
    for n in 0..4u8 {
        let live = testkit::live_feed(&base).await;
        let turn = traces(
            resource(),
            agent_turn(20 + n, 1, &format!("question {n}"), &format!("answer {n}")),
        );
        assert_eq!(testkit::post_proto(&url, &turn).await.status(), 200);
        let seen = testkit::wait_for_event(live, |e| {
            e["type"] == "invocation_updated" && e["invocation"]["index"] == u64::from(n)
        })
        .await;
        let updated: Vec<&Value> = seen
            .iter()
            .filter(|e| e["type"] == "invocation_updated")
            .map(|e| &e["invocation"]["index"])
            .collect();
        assert_eq!(updated, [&json!(n)], "only the new invocation: {seen:?}");
        assert_eq!(
            seen.last().unwrap()["invocation"]["user_text"],
            format!("question {n}")
        );
    }
    let body = testkit::get_json(&format!("{base}/api/sessions/growing/invocations")).await;
    let users: Vec<&str> = body["invocations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["user_text"].as_str().unwrap())
        .collect();
    assert_eq!(
        users,
        ["question 0", "question 1", "question 2", "question 3"],
        "{body}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_late_span_of_an_extracted_trace_is_joined_with_the_spans_read_back() {
    // Sessions stay live: the late span reaches the live state, not a completed session.
    let server = staying_live().await;
    let base = testkit::base(&server);
    let url = format!("{base}/v1/traces");
    let resource = || vec![kv("agentevals.session_name", "released")];
    let live = testkit::live_feed(&base).await;
    let turn = traces(
        resource(),
        agent_turn(9, 1, "where is my order", "it shipped"),
    );
    assert_eq!(testkit::post_proto(&url, &turn).await.status(), 200);
    // The rooted trace was extracted; the live state then keeps its turn, not its spans.
    testkit::wait_for_event(live, |e| e["type"] == "invocation_updated").await;

    // A tool span of the same trace arrives late: the turn is extracted again from all three
    // spans, the two earlier ones read back from the store.
    let tool = span(
        9,
        3,
        Some(1),
        "execute_tool lookup",
        vec![
            kv("gen_ai.operation.name", "execute_tool"),
            kv("gen_ai.tool.name", "lookup"),
            kv("gen_ai.tool.call.id", "call-1"),
            kv("gen_ai.tool.call.arguments", r#"{"order":42}"#),
        ],
    );
    assert_eq!(
        testkit::post_proto(&url, &traces(resource(), vec![tool]))
            .await
            .status(),
        200
    );
    let body = testkit::get_json(&format!("{base}/api/sessions/released/invocations")).await;
    let invocations = body["invocations"].as_array().unwrap();
    assert_eq!(invocations.len(), 1, "{body}");
    assert_eq!(invocations[0]["user_text"], "where is my order", "{body}");
    assert_eq!(invocations[0]["agent_text"], "it shipped", "{body}");
    assert_eq!(invocations[0]["tool_calls"][0]["name"], "lookup", "{body}");
    let session = testkit::get_json(&format!("{base}/api/sessions/released")).await;
    assert_eq!(session["spanCount"], 3, "{session}");
    server.shutdown().await;
}

#[tokio::test]
async fn a_trace_moved_into_a_completed_session_keeps_that_sessions_invocations() {
    let server = testkit::start_default().await;
    let base = testkit::base(&server);
    let url = format!("{base}/v1/traces");
    let (first, again) = (
        testkit::live_feed(&base).await,
        testkit::live_feed(&base).await,
    );
    let completes = |e: &Value| e["type"] == "session_complete" && e["session_id"] == "demo";
    let named = || vec![kv("agentevals.session_name", "demo")];
    testkit::post_proto(&url, &traces(named(), agent_turn(1, 1, "first", "one"))).await;
    testkit::wait_for_event(first, completes).await;
    // Another trace starts under a weaker key (`session.id`), then a span of it names the
    // completed session: the trace moves there.
    let mut second = agent_turn(2, 3, "second", "two");
    for s in &mut second {
        s.attributes.push(kv("session.id", "s1"));
    }
    let late = span(2, 5, Some(3), "tool", vec![]);
    testkit::post_proto(&url, &traces(vec![], second)).await;
    testkit::post_proto(&url, &traces(named(), vec![late])).await;
    let mut completions = 0;
    testkit::wait_for_event(again, |e| {
        completions += usize::from(completes(e));
        completions == 2
    })
    .await;
    let invocations = testkit::get_json(&format!("{base}/api/sessions/demo/invocations")).await;
    let users: Vec<&str> = invocations["invocations"]
        .as_array()
        .expect("invocations")
        .iter()
        .filter_map(|i| i["user_text"].as_str())
        .collect();
    assert_eq!(users, ["first", "second"], "{invocations}");
    server.shutdown().await;
}
