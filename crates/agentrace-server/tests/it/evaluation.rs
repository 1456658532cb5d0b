//! Evaluation in the server, over real TCP: a session evaluated on request and at completion,
//! the live event, uploaded files, persistence across a restart, and what a request may not do.

use std::path::PathBuf;

use agentrace_server::config::{DbLocation, Limits};
use futures::SinkExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::testkit::{self, client, kv, traces};

fn case_dir(case: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/conformance")
        .join(case)
}

fn read(case: &str, file: &str) -> Vec<u8> {
    std::fs::read(case_dir(case).join(file)).expect("fixture file")
}

fn expected(case: &str) -> Value {
    serde_json::from_slice(&read(case, "expected.json")).expect("expected.json")
}

/// The expected score entries of a case for one match type (and the non-trajectory metrics).
fn expected_scores(case: &str, match_type: &str) -> Vec<Value> {
    expected(case)["scores"]
        .as_array()
        .expect("scores")
        .iter()
        .filter(|s| s["match_type"].is_null() || s["match_type"] == match_type)
        .cloned()
        .collect()
}

/// Checks `got` (an evaluation's `scores`) against `want` under the corpus' rules: same
/// metrics, statuses and per-invocation scores, scores within 1e-6.
fn assert_scores(got: &Value, want: &[Value]) {
    let got = got.as_array().expect("scores array");
    assert_eq!(got.len(), want.len(), "got {got:?}\nwant {want:?}");
    for (g, w) in got.iter().zip(want) {
        assert_eq!(g["metric"], w["metric"], "{g} vs {w}");
        assert_eq!(g["status"], w["status"], "{g} vs {w}");
        let close = |a: &Value, b: &Value| match (a.as_f64(), b.as_f64()) {
            (Some(a), Some(b)) => (a - b).abs() < 1e-6,
            _ => a == b,
        };
        assert!(close(&g["score"], &w["score"]), "{g} vs {w}");
        let (gp, wp) = (
            g["per_invocation_scores"]
                .as_array()
                .expect("per invocation"),
            w["per_invocation_scores"]
                .as_array()
                .expect("per invocation"),
        );
        assert_eq!(gp.len(), wp.len(), "{g} vs {w}");
        assert!(gp.iter().zip(wp).all(|(a, b)| close(a, b)), "{g} vs {w}");
    }
}

async fn post_json(url: &str, body: &Value) -> reqwest::Response {
    client().post(url).json(body).send().await.expect("POST")
}

async fn post_otlp_json(base: &str, body: Vec<u8>) {
    let reply = client()
        .post(format!("{base}/v1/traces"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("POST");
    assert_eq!(reply.status(), 200, "{:?}", reply.text().await);
}

async fn put_eval_set(base: &str, case: &str) -> String {
    let set: Value = serde_json::from_slice(&read(case, "eval_set.json")).expect("eval set");
    let reply = post_json(&format!("{base}/api/eval-sets"), &set).await;
    assert_eq!(reply.status(), 201, "{:?}", reply.text().await);
    set["eval_set_id"].as_str().expect("id").to_owned()
}

/// The only session the server lists (waits for it, bounded).
async fn only_session(base: &str) -> String {
    for _ in 0..200 {
        let list = testkit::get_json(&format!("{base}/api/sessions")).await;
        if let Some(id) = list["sessions"][0]["id"].as_str() {
            assert_eq!(list["total"], 1, "{list}");
            return id.to_owned();
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("no session listed");
}

/// The `multi_turn_cart` case as the server's only session, with its eval set stored; returns
/// the eval set's id and the session's.
async fn cart_session(base: &str) -> (String, String) {
    post_otlp_json(base, read("multi_turn_cart", "trace.json")).await;
    let set_id = put_eval_set(base, "multi_turn_cart").await;
    (set_id, only_session(base).await)
}

#[tokio::test]
async fn a_session_is_evaluated_with_the_reference_scores_stored_and_announced() {
    let server = testkit::start_default().await;
    let base = testkit::base(&server);
    let (set_id, session) = cart_session(&base).await;
    let live = testkit::live_feed(&base).await;

    let reply = post_json(
        &format!("{base}/api/sessions/{session}/evaluate"),
        &json!({
            "evalSetId": set_id,
            "metrics": ["tool_trajectory_avg_score", "response_match_score"],
        }),
    )
    .await;
    assert_eq!(reply.status(), 200);
    let doc: Value = reply.json().await.expect("JSON");
    // Three traces sharing a conversation id are one session, scored as one group with three
    // invocations: the scores agentevals gives for the file.
    assert_scores(&doc["scores"], &expected_scores("multi_turn_cart", "exact"));
    assert_eq!(doc["passed"], true);
    assert_eq!(doc["evalSetId"], set_id);
    assert_eq!(doc["trigger"], "api");
    assert_eq!(doc["sessionId"], session);
    assert_eq!(doc["groups"][0]["num_invocations"], 3);

    let events = testkit::wait_for_event(live, |e| e["type"] == "evaluation_complete").await;
    let event = events.last().expect("event");
    assert_eq!(event["session_id"], session);
    assert_eq!(event["evaluation"]["id"], doc["id"]);
    assert_eq!(event["evaluation"]["passed"], true);
    assert_eq!(
        event["evaluation"]["metrics"].as_array().map(Vec::len),
        Some(2)
    );

    let list = testkit::get_json(&format!("{base}/api/sessions/{session}/evaluations")).await;
    assert_eq!(list["evaluations"][0], doc);
    let one = testkit::get_json(&format!("{base}/api/evaluations/{}", doc["id"])).await;
    assert_eq!(one, doc);
    server.shutdown().await;
}

#[tokio::test]
async fn a_failing_session_reports_its_failures_and_an_inline_eval_set_works() {
    let server = testkit::start_default().await;
    let base = testkit::base(&server);
    post_otlp_json(&base, read("tool_order_differs", "trace.json")).await;
    let session = only_session(&base).await;
    let set: Value = serde_json::from_slice(&read("tool_order_differs", "eval_set.json")).unwrap();
    for (match_type, passed) in [("exact", false), ("any_order", true)] {
        let reply = post_json(
            &format!("{base}/api/sessions/{session}/evaluate"),
            &json!({
                "evalSet": set,
                "metrics": ["tool_trajectory_avg_score", "response_match_score"],
                "trajectoryMatchType": match_type,
            }),
        )
        .await;
        assert_eq!(reply.status(), 200);
        let doc: Value = reply.json().await.unwrap();
        assert_scores(
            &doc["scores"],
            &expected_scores("tool_order_differs", match_type),
        );
        assert_eq!(doc["passed"], passed, "{match_type}");
    }
    let list = testkit::get_json(&format!("{base}/api/sessions/{session}/evaluations")).await;
    assert_eq!(list["evaluations"].as_array().map(Vec::len), Some(2));
    // Newest first.
    assert_eq!(list["evaluations"][0]["passed"], true);
    server.shutdown().await;
}

#[tokio::test]
async fn a_session_that_names_an_eval_set_is_evaluated_when_it_completes() {
    let server = testkit::start_default().await;
    let base = testkit::base(&server);
    let set_id = put_eval_set(&base, "multi_turn_cart").await;
    let mut live = testkit::ws(&server, "/ws/live").await;
    // The resource attribute agentevals' SDK sets names the eval set.
    let mut doc: Value = serde_json::from_slice(&read("multi_turn_cart", "trace.json")).unwrap();
    for rs in doc["resourceSpans"].as_array_mut().unwrap() {
        rs["resource"]["attributes"]
            .as_array_mut()
            .unwrap()
            .push(json!({"key": "agentevals.eval_set_id", "value": {"stringValue": set_id}}));
    }
    post_otlp_json(&base, doc.to_string().into_bytes()).await;
    let event = loop {
        let e = testkit::next_json(&mut live).await;
        if e["type"] == "evaluation_complete" {
            break e;
        }
    };
    assert_eq!(event["evaluation"]["trigger"], "completion");
    assert_eq!(event["evaluation"]["evalSetId"], set_id);
    assert_eq!(event["evaluation"]["passed"], true);
    let session = event["session_id"].as_str().unwrap();
    let list = testkit::get_json(&format!("{base}/api/sessions/{session}/evaluations")).await;
    let stored = &list["evaluations"][0];
    // The default metric: the trajectory, exact.
    let want: Vec<Value> = expected_scores("multi_turn_cart", "exact")
        .into_iter()
        .filter(|s| s["metric"] == "tool_trajectory_avg_score")
        .collect();
    assert_scores(&stored["scores"], &want);
    let health = testkit::get_json(&format!("{base}/api/health")).await;
    assert_eq!(health["evaluations"]["atCompletion"], 1, "{health}");
    server.shutdown().await;
}

#[tokio::test]
async fn a_websocket_session_with_an_eval_set_id_is_evaluated_at_session_end() {
    let server = testkit::start_default().await;
    let base = testkit::base(&server);
    let set_id = put_eval_set(&base, "session_tiny_sdk").await;
    let live = testkit::live_feed(&base).await;
    let mut ws = testkit::ws(&server, "/ws/traces").await;
    let trace: Value = serde_json::from_slice(&read("session_tiny_sdk", "trace.json")).unwrap();
    let spans: Vec<Value> = trace["resourceSpans"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|rs| rs["scopeSpans"].as_array().unwrap().iter())
        .flat_map(|ss| ss["spans"].as_array().unwrap().iter().cloned())
        .collect();
    let trace_id = spans[0]["traceId"].clone();
    let messages = [
        json!({"type": "session_start", "session_id": "ws-eval", "trace_id": trace_id,
               "eval_set_id": set_id, "metadata": {}}),
        json!({"type": "spans", "session_id": "ws-eval", "spans": spans}),
        json!({"type": "session_end", "session_id": "ws-eval"}),
    ];
    for m in &messages {
        ws.send(Message::Text(m.to_string().into())).await.unwrap();
    }
    let events = testkit::wait_for_event(live, |e| e["type"] == "evaluation_complete").await;
    let event = events.last().unwrap();
    assert_eq!(event["evaluation"]["evalSetId"], set_id);
    let session = event["session_id"].as_str().unwrap();
    let list = testkit::get_json(&format!("{base}/api/sessions/{session}/evaluations")).await;
    let want: Vec<Value> = expected_scores("session_tiny_sdk", "exact")
        .into_iter()
        .filter(|s| s["metric"] == "tool_trajectory_avg_score")
        .collect();
    assert_scores(&list["evaluations"][0]["scores"], &want);
    drop(ws.close(None).await);
    server.shutdown().await;
}

#[tokio::test]
async fn an_eval_set_missing_at_completion_is_a_stored_failed_evaluation() {
    let server = testkit::start_default().await;
    let base = testkit::base(&server);
    let live = testkit::live_feed(&base).await;
    let reply = testkit::post_proto(
        &format!("{base}/v1/traces"),
        &traces(
            vec![
                kv("agentevals.session_name", "orphan"),
                kv("agentevals.eval_set_id", "not-uploaded"),
            ],
            testkit::agent_turn(1, 1, "hi", "hello"),
        ),
    )
    .await;
    assert_eq!(reply.status(), 200);
    let events = testkit::wait_for_event(live, |e| e["type"] == "evaluation_complete").await;
    let event = events.last().unwrap();
    assert_eq!(event["evaluation"]["passed"], false);
    assert!(
        event["evaluation"]["error"]
            .as_str()
            .is_some_and(|e| e.contains("no eval set `not-uploaded`")),
        "{event}"
    );
    let list = testkit::get_json(&format!("{base}/api/sessions/orphan/evaluations")).await;
    assert_eq!(list["evaluations"][0]["evalSetId"], "not-uploaded");
    server.shutdown().await;
}

/// A multipart body of (field, file name, bytes) parts.
fn multipart(parts: &[(&str, Option<&str>, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "agentrace-test-boundary-7d1f";
    let mut body = Vec::new();
    for (name, file, bytes) in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        let disposition = match file {
            Some(f) => {
                format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\n")
            }
            None => format!("Content-Disposition: form-data; name=\"{name}\"\r\n"),
        };
        body.extend_from_slice(disposition.as_bytes());
        body.extend_from_slice(b"\r\n");
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn upload(base: &str, parts: &[(&str, Option<&str>, &[u8])]) -> reqwest::Response {
    let (content_type, body) = multipart(parts);
    client()
        .post(format!("{base}/api/evaluate"))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("POST")
}

#[tokio::test]
async fn uploaded_trace_files_are_evaluated_and_a_bad_file_loses_nothing_else() {
    let server = testkit::start_default().await;
    let base = testkit::base(&server);
    let trace = read("k8s_jaeger_fail_helm_evalset", "trace.json");
    let set = read("k8s_jaeger_fail_helm_evalset", "eval_set.json");
    let config =
        json!({"metrics": ["tool_trajectory_avg_score", "response_match_score"]}).to_string();
    let reply = upload(
        &base,
        &[
            ("trace_files", Some("k8s.json"), &trace),
            (
                "trace_files",
                Some("garbage.json"),
                b"{\"not\": \"a trace\"}",
            ),
            ("eval_set_file", Some("helm_eval_set.json"), &set),
            ("config", None, config.as_bytes()),
        ],
    )
    .await;
    assert_eq!(reply.status(), 200);
    let doc: Value = reply.json().await.unwrap();
    assert_scores(
        &doc["scores"],
        &expected_scores("k8s_jaeger_fail_helm_evalset", "exact"),
    );
    assert_eq!(doc["passed"], false);
    assert_eq!(doc["trigger"], "upload");
    assert_eq!(doc["groups"][0]["file"], "k8s.json");
    assert_eq!(doc["errors"][0]["file"], "garbage.json", "{doc}");
    // Nothing is stored: uploads make no session.
    let list = testkit::get_json(&format!("{base}/api/sessions")).await;
    assert_eq!(list["total"], 0);
    server.shutdown().await;
}

#[tokio::test]
async fn an_upload_past_the_body_limit_is_refused_with_413() {
    let limits = Limits {
        max_body_bytes: 64 * 1024,
        ..Limits::default()
    };
    let server = testkit::start_with_limits(limits).await;
    let base = testkit::base(&server);
    let big = vec![b' '; 200 * 1024];
    let reply = upload(&base, &[("trace_files", Some("big.json"), &big)]).await;
    assert_eq!(reply.status(), 413);
    let reply = upload(&base, &[("config", None, b"{}")]).await;
    assert_eq!(reply.status(), 400);
    assert!(reply.text().await.unwrap().contains("no trace_files"));
    server.shutdown().await;
}

#[tokio::test]
async fn evaluations_survive_a_restart_and_go_with_their_session() {
    let dir = tempfile::tempdir().unwrap();
    let db = DbLocation::File(dir.path().join("agentrace.db"));
    let server = testkit::start(testkit::config().with_db(db.clone()).build().unwrap()).await;
    let base = testkit::base(&server);
    post_otlp_json(&base, read("session_logs_bad", "trace.json")).await;
    let set_id = put_eval_set(&base, "session_logs_bad").await;
    let session = only_session(&base).await;
    let reply = post_json(
        &format!("{base}/api/sessions/{session}/evaluate"),
        &json!({"evalSetId": set_id}),
    )
    .await;
    assert_eq!(reply.status(), 200);
    let doc: Value = reply.json().await.unwrap();
    assert_eq!(doc["passed"], false);
    server.shutdown().await;

    let server = testkit::start(testkit::config().with_db(db).build().unwrap()).await;
    let base = testkit::base(&server);
    let list = testkit::get_json(&format!("{base}/api/sessions/{session}/evaluations")).await;
    assert_eq!(list["evaluations"], json!([doc]));
    let http = client();
    let gone = http
        .delete(format!("{base}/api/sessions/{session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 204);
    let after = http
        .get(format!("{base}/api/evaluations/{}", doc["id"]))
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 404);
    server.shutdown().await;
}

#[tokio::test]
async fn a_request_never_names_a_program_a_judge_endpoint_or_a_key() {
    let server = testkit::start_default().await;
    let base = testkit::base(&server);
    post_otlp_json(&base, read("semconv_travel_tools", "trace.json")).await;
    let session = only_session(&base).await;
    let url = format!("{base}/api/sessions/{session}/evaluate");
    let refused = [
        (
            json!({"evaluators": [{"name": "x", "type": "code"}]}),
            "custom evaluators come only from the server's --eval-config",
        ),
        (
            json!({"evaluators": [{"name": "x", "type": "code", "path": "/bin/sh"}]}),
            "`path` is set by the operator",
        ),
        (
            json!({"evaluators": [{"name": "x", "path": "/bin/sh"}]}),
            "`path` is set by the operator",
        ),
        (
            json!({"evaluators": [{"name": "final_response_match_v2",
                "judgeBaseUrl": "http://127.0.0.1:9/v1", "apiKeyEnv": "HOME"}]}),
            "`judge_base_url` is set by the operator",
        ),
        (
            json!({"evaluators": [{"name": "final_response_match_v2",
                "credentialRef": {"kind": "env", "name": "HOME"}}]}),
            "`credential_ref` is set by the operator",
        ),
        (
            json!({"evaluators": [{"name": "x", "type": "remote", "ref": "a/b.py"}]}),
            "invalid request",
        ),
        (json!({"metrics": ["no_such_metric"]}), "unknown metric"),
        (json!({"evalSetPath": "/etc/passwd"}), "unknown field"),
        (json!({"threshold": 7}), "threshold must be between 0 and 1"),
    ];
    for (body, reason) in refused {
        let reply = post_json(&url, &body).await;
        assert_eq!(reply.status(), 400, "{body}");
        let text = reply.text().await.unwrap();
        assert!(text.contains(reason), "{body}: {text}");
    }
    let missing = post_json(&url, &json!({"evalSetId": "nope"})).await;
    assert_eq!(missing.status(), 404);
    let no_session = post_json(&format!("{base}/api/sessions/nope/evaluate"), &json!({})).await;
    assert_eq!(no_session.status(), 404);
    let list = testkit::get_json(&format!("{base}/api/sessions/{session}/evaluations")).await;
    assert_eq!(list["evaluations"], json!([]));
    server.shutdown().await;
}

#[tokio::test]
async fn evaluations_per_session_are_bounded_and_reported() {
    let limits = Limits {
        max_evaluations_per_session: 1,
        ..Limits::default()
    };
    let server = testkit::start_with_limits(limits).await;
    let base = testkit::base(&server);
    post_otlp_json(&base, read("semconv_travel_tools", "trace.json")).await;
    let session = only_session(&base).await;
    let url = format!("{base}/api/sessions/{session}/evaluate");
    assert_eq!(post_json(&url, &json!({})).await.status(), 200);
    let second = post_json(&url, &json!({})).await;
    assert_eq!(second.status(), 409);
    assert!(
        second
            .text()
            .await
            .unwrap()
            .contains("--max-evaluations-per-session")
    );
    let config = testkit::get_json(&format!("{base}/api/config")).await;
    assert_eq!(config["limits"]["maxEvaluationsPerSession"], 1);
    server.shutdown().await;
}

#[tokio::test]
async fn the_operators_evaluators_run_at_completion_and_a_request_may_name_them() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let program = dir.path().join("always_half.sh");
    std::fs::write(
        &program,
        "#!/bin/sh\ncat > /dev/null\necho '{\"score\": 0.5, \"per_invocation_scores\": [0.5]}'\n",
    )
    .unwrap();
    std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
    let yaml = dir.path().join("eval.yaml");
    std::fs::write(
        &yaml,
        "evaluators:\n  - name: half\n    type: code\n    path: ./always_half.sh\n    threshold: 0.4\n  \
         - name: tool_trajectory_avg_score\n    type: builtin\n    trajectory_match_type: any_order\n",
    )
    .unwrap();
    let server = testkit::start(
        testkit::config()
            .with_eval_config(Some(yaml))
            .build()
            .unwrap(),
    )
    .await;
    let base = testkit::base(&server);
    let health = testkit::get_json(&format!("{base}/api/health")).await;
    assert_eq!(
        health["evaluations"]["operatorEvaluators"],
        json!(["half", "tool_trajectory_avg_score"])
    );
    let set_id = put_eval_set(&base, "tool_order_differs").await;
    let live = testkit::live_feed(&base).await;
    let mut doc: Value = serde_json::from_slice(&read("tool_order_differs", "trace.json")).unwrap();
    for rs in doc["resourceSpans"].as_array_mut().unwrap() {
        rs["resource"]["attributes"]
            .as_array_mut()
            .unwrap()
            .push(json!({"key": "agentevals.eval_set_id", "value": {"stringValue": set_id}}));
    }
    post_otlp_json(&base, doc.to_string().into_bytes()).await;
    let events = testkit::wait_for_event(live, |e| e["type"] == "evaluation_complete").await;
    let event = events.last().unwrap();
    // The operator's evaluators: the program (0.5 ≥ 0.4) and the trajectory in any order.
    assert_eq!(event["evaluation"]["passed"], true, "{event}");
    let metrics: Vec<&str> = event["evaluation"]["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["metric"].as_str())
        .collect();
    assert_eq!(metrics, ["half", "tool_trajectory_avg_score"]);
    // A request names the operator's program by name, with its own threshold; it cannot give
    // it another path.
    let session = event["session_id"].as_str().unwrap();
    let url = format!("{base}/api/sessions/{session}/evaluate");
    let reply = post_json(
        &url,
        &json!({"evaluators": [{"name": "half", "threshold": 0.9}]}),
    )
    .await;
    assert_eq!(reply.status(), 200);
    let doc: Value = reply.json().await.unwrap();
    assert_eq!(doc["scores"][0]["metric"], "half");
    assert_eq!(doc["scores"][0]["status"], "FAILED");
    assert_eq!(doc["passed"], false);
    let reply = post_json(
        &url,
        &json!({"evaluators": [{"name": "half", "type": "code", "path": "/bin/sh"}]}),
    )
    .await;
    assert_eq!(reply.status(), 400);
    server.shutdown().await;
}

/// A case's OTLP/JSON trace with `agentevals.session_name` set on every resource.
fn named_trace(case: &str, session: &str) -> Vec<u8> {
    let mut doc: Value = serde_json::from_slice(&read(case, "trace.json")).expect("trace JSON");
    for rs in doc["resourceSpans"].as_array_mut().expect("resourceSpans") {
        let attrs = rs["resource"]["attributes"]
            .as_array_mut()
            .expect("attributes");
        attrs.retain(|a| a["key"] != "agentevals.session_name");
        attrs.push(json!({"key": "agentevals.session_name", "value": {"stringValue": session}}));
    }
    doc.to_string().into_bytes()
}

#[tokio::test]
async fn a_golden_session_becomes_an_eval_set_and_every_complete_session_is_scored_against_it() {
    let server = testkit::start_default().await;
    let base = testkit::base(&server);
    post_otlp_json(&base, named_trace("semconv_travel_tools", "golden")).await;
    post_otlp_json(&base, named_trace("tool_order_differs", "other")).await;
    // Both complete (the test rules: idle 200 ms).
    for _ in 0..400 {
        let list = testkit::get_json(&format!("{base}/api/sessions?complete=true")).await;
        if list["total"] == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    let reply = post_json(
        &format!("{base}/api/sessions/golden/eval-set"),
        &json!({"evalSetId": "travel-golden"}),
    )
    .await;
    assert_eq!(reply.status(), 201);
    let set: Value = reply.json().await.unwrap();
    assert_eq!(set["eval_set_id"], "travel-golden");
    assert_eq!(set["eval_cases"][0]["eval_id"], "case_1");
    let golden = testkit::get_json(&format!("{base}/api/sessions/golden/invocations")).await;
    let turns = golden["invocations"].as_array().unwrap().len();
    assert!(turns > 0);
    assert_eq!(
        set["eval_cases"][0]["conversation"]
            .as_array()
            .map(Vec::len),
        Some(turns)
    );
    assert_eq!(
        testkit::get_json(&format!("{base}/api/eval-sets/travel-golden")).await,
        set
    );
    // agentevals' path and shape give the same set.
    let reference = post_json(
        &format!("{base}/api/streaming/create-eval-set"),
        &json!({"session_id": "golden", "eval_set_id": "travel-golden-2"}),
    )
    .await;
    assert_eq!(reference.status(), 200);
    let reference: Value = reference.json().await.unwrap();
    assert_eq!(reference["numInvocations"], turns);
    assert_eq!(
        reference["evalSet"]["eval_cases"][0]["conversation"][0]["intermediate_data"],
        set["eval_cases"][0]["conversation"][0]["intermediate_data"]
    );

    let reply = post_json(
        &format!("{base}/api/evaluate-sessions"),
        &json!({
            "goldenSessionId": "golden",
            "evalSetId": "travel-golden",
            "metrics": ["tool_trajectory_avg_score", "response_match_score"],
        }),
    )
    .await;
    assert_eq!(reply.status(), 200);
    let body: Value = reply.json().await.unwrap();
    let result = |id: &str| {
        body["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["sessionId"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("no result for {id}: {body}"))
    };
    // The golden run scores 1 against itself; the other run, with other tools, fails.
    let g = result("golden");
    assert_eq!(g["passed"], true, "{g}");
    assert!(
        g["scores"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["score"] == 1.0),
        "{g}"
    );
    let o = result("other");
    assert_eq!(o["passed"], false, "{o}");
    let stored = testkit::get_json(&format!("{base}/api/sessions/other/evaluations")).await;
    assert_eq!(stored["evaluations"][0]["id"], o["evaluationId"]);
    server.shutdown().await;
}

#[tokio::test]
async fn the_documented_evaluation_shapes_match_the_server() {
    let text = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/server.md"),
    )
    .expect("docs/server.md");
    let documented = |marker: &str| -> Value {
        let line = text
            .lines()
            .find(|l| l.starts_with('{') && l.contains(marker))
            .unwrap_or_else(|| panic!("docs/server.md has an example with {marker}"));
        serde_json::from_str(line).expect("example JSON")
    };
    let keys = |v: &Value| -> Vec<String> {
        let mut k: Vec<String> = v.as_object().expect("object").keys().cloned().collect();
        k.sort();
        k
    };
    let server = testkit::start_default().await;
    let base = testkit::base(&server);
    let (set_id, session) = cart_session(&base).await;
    let live = testkit::live_feed(&base).await;
    let reply = post_json(
        &format!("{base}/api/sessions/{session}/evaluate"),
        &json!({"evalSetId": set_id}),
    )
    .await;
    let doc: Value = reply.json().await.expect("JSON");
    let events = testkit::wait_for_event(live, |e| e["type"] == "evaluation_complete").await;
    let event = events.last().expect("event");
    let example = documented("\"evaluation_complete\"");
    assert_eq!(keys(event), keys(&example));
    assert_eq!(keys(&event["evaluation"]), keys(&example["evaluation"]));
    assert_eq!(
        keys(&event["evaluation"]["summary"]),
        keys(&example["evaluation"]["summary"])
    );
    let fields = documented("\"trigger\": \"api\"");
    for key in keys(&fields) {
        assert!(doc.get(&key).is_some(), "evaluation has no `{key}`: {doc}");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn metrics_are_listed_and_eval_sets_deleted() {
    let server = testkit::start_default().await;
    let base = testkit::base(&server);
    let listed = testkit::get_json(&format!("{base}/api/metrics")).await;
    let metric = |name: &str| {
        listed["metrics"]
            .as_array()
            .expect("metrics")
            .iter()
            .find(|m| m["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("{name} not listed: {listed}"))
    };
    let trajectory = metric("tool_trajectory_avg_score");
    assert_eq!(trajectory["available"], true);
    assert_eq!(trajectory["requiresEvalSet"], true);
    assert_eq!(metric("tool_call_count_v1")["requiresEvalSet"], false);
    // A judge needs the operator's endpoint, which this server has not.
    let judge = metric("final_response_match_v2");
    assert_eq!(judge["usesLlm"], true);
    assert_eq!(judge["available"], false);
    assert!(judge["reason"].is_string(), "{judge}");

    let set_id = put_eval_set(&base, "tool_order_differs").await;
    let http = client();
    let url = format!("{base}/api/eval-sets/{set_id}");
    assert_eq!(http.delete(&url).send().await.unwrap().status(), 204);
    assert_eq!(http.get(&url).send().await.unwrap().status(), 404);
    assert_eq!(http.delete(&url).send().await.unwrap().status(), 404);
    server.shutdown().await;
}

#[tokio::test]
async fn the_session_list_and_summary_carry_the_newest_evaluations_verdict() {
    let server = testkit::start_default().await;
    let base = testkit::base(&server);
    post_otlp_json(&base, read("tool_order_differs", "trace.json")).await;
    let session = only_session(&base).await;
    // Before any evaluation: null, in the list and in the summary.
    let list = testkit::get_json(&format!("{base}/api/sessions")).await;
    assert_eq!(
        list["sessions"][0]["latestEvaluation"],
        Value::Null,
        "{list}"
    );
    let set: Value = serde_json::from_slice(&read("tool_order_differs", "eval_set.json")).unwrap();
    let mut docs = Vec::new();
    for match_type in ["exact", "any_order"] {
        let reply = post_json(
            &format!("{base}/api/sessions/{session}/evaluate"),
            &json!({"evalSet": set, "trajectoryMatchType": match_type}),
        )
        .await;
        assert_eq!(reply.status(), 200);
        let doc: Value = reply.json().await.unwrap();
        let want = json!({
            "id": doc["id"],
            "passed": doc["passed"],
            "error": doc["error"],
            "evalSetId": doc["evalSetId"],
            "createdAtNs": doc["createdAt"],
        });
        let list = testkit::get_json(&format!("{base}/api/sessions")).await;
        assert_eq!(
            list["sessions"][0]["latestEvaluation"], want,
            "{match_type}"
        );
        let one = testkit::get_json(&format!("{base}/api/sessions/{session}")).await;
        assert_eq!(one["latestEvaluation"], want, "{match_type}");
        docs.push(doc);
    }
    // exact fails, any_order passes: the newest one is what the list shows.
    assert_eq!(docs[0]["passed"], false);
    assert_eq!(docs[1]["passed"], true);
    // Deleting the newest shows the one before it.
    let reply = client()
        .delete(format!("{base}/api/evaluations/{}", docs[1]["id"]))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 204);
    let list = testkit::get_json(&format!("{base}/api/sessions")).await;
    assert_eq!(list["sessions"][0]["latestEvaluation"]["id"], docs[0]["id"]);
    assert_eq!(list["sessions"][0]["latestEvaluation"]["passed"], false);
    server.shutdown().await;
}
