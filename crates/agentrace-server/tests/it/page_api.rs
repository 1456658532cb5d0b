//! The page's judging API over real TCP: session previews, search, annotations (kept across a
//! restart and exported), two sessions compared, and spans paged.

use agentrace_server::config::DbLocation;
use serde_json::{Value, json};

use crate::testkit::{self, client};

/// The conformance corpus's travel trace (one turn, two tool calls), as OTLP/JSON text.
fn travel() -> String {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/conformance/semconv_travel_tools/trace.json"
    );
    std::fs::read_to_string(path).expect("the travel fixture")
}

/// A second run of the travel trace: another conversation and trace, the weather looked up for
/// Munich instead of Berlin, and another answer.
fn travel_variant() -> String {
    travel()
        .replace("conv-travel-001", "conv-travel-002")
        .replace(
            "92a7d71a2809995951a6d7ca9f32b0dc",
            "0000000000000000000000000000beef",
        )
        .replace(r#"\"city\": \"Berlin\""#, r#"\"city\": \"Munich\""#)
        .replace("Berlin expects light rain", "Munich expects sunshine")
}

async fn post_json(base: &str, body: String) {
    let response = client()
        .post(format!("{base}/v1/traces"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("posted");
    assert_eq!(
        response.status(),
        200,
        "{}",
        response.text().await.expect("body")
    );
}

/// Posts a trace file and waits (bounded, on the live feed) until session `id` completes: its
/// invocations are then final and indexed. Returns the session.
async fn post_complete(base: &str, body: String, id: &str) -> Value {
    let feed = testkit::live_feed(base).await;
    post_json(base, body).await;
    testkit::wait_for_event(feed, |event| {
        event["type"] == "session_complete" && event["session_id"] == id
    })
    .await;
    testkit::get_json(&format!("{base}/api/sessions/{id}")).await
}

async fn status_of(request: reqwest::RequestBuilder) -> (u16, Value) {
    let response = request.send().await.expect("answered");
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body)
}

#[tokio::test]
async fn the_list_previews_each_sessions_first_user_message() {
    let server = testkit::start_default().await;
    let base = testkit::base(&server);
    let session = post_complete(&base, travel(), "conv-travel-001").await;
    let user_text = session["invocations"][0]["user_text"].as_str().unwrap();
    assert_eq!(session["preview"], user_text);
    let list: Value = testkit::get_json(&format!("{base}/api/sessions")).await;
    assert_eq!(list["sessions"][0]["id"], "conv-travel-001");
    assert_eq!(list["sessions"][0]["preview"], user_text);
    server.shutdown().await;
}

#[tokio::test]
async fn search_finds_turns_by_text_tool_and_attribute_and_refuses_nothing_hostile() {
    let server = testkit::start_default().await;
    let base = testkit::base(&server);
    post_complete(&base, travel(), "conv-travel-001").await;
    post_complete(&base, travel_variant(), "conv-travel-002").await;
    let search = |q: &str| {
        client()
            .get(format!("{base}/api/search"))
            .query(&[("q", q)])
    };
    // A word of one answer only.
    let (status, body) = status_of(search("sunshine")).await;
    assert_eq!(status, 200, "{body}");
    let results = body["results"].as_array().unwrap();
    assert_eq!(results.len(), 1, "{body}");
    assert_eq!(results[0]["sessionId"], "conv-travel-002");
    assert_eq!(results[0]["index"], 0);
    assert_eq!(results[0]["field"], "agent");
    assert!(
        results[0]["snippet"]
            .as_str()
            .unwrap()
            .contains("\u{2}sunshine\u{3}"),
        "{body}"
    );
    // A tool name finds both; an argument value finds one; a prefix works.
    let (_, body) = status_of(search("get_weather")).await;
    assert_eq!(body["results"].as_array().unwrap().len(), 2, "{body}");
    let (_, body) = status_of(search("Munic")).await;
    let ids: Vec<&str> = body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["sessionId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["conv-travel-002"], "{body}");
    // A span attribute's value (the agent's id on the agent span), indexed at completion.
    let (_, body) = status_of(search("agt_travel_7")).await;
    let found: Vec<(&str, &str)> = body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["sessionId"].as_str().unwrap(),
                r["field"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(found.len(), 2, "{body}");
    assert!(found.iter().all(|(_, field)| *field == "attrs"), "{body}");
    // The user's words, all required.
    let (_, body) = status_of(search("flight Lisbon")).await;
    assert_eq!(body["results"].as_array().unwrap().len(), 2, "{body}");
    let (_, body) = status_of(search("flight Lisbon sunshine")).await;
    assert_eq!(body["results"].as_array().unwrap().len(), 1, "{body}");
    // The bound.
    let (_, body) = status_of(search("get_weather").query(&[("limit", "1")])).await;
    assert_eq!(body["results"].as_array().unwrap().len(), 1, "{body}");
    let (status, _) = status_of(search("x").query(&[("limit", "1000")])).await;
    assert_eq!(status, 400);
    // FTS5 syntax is plain text: never a 500.
    for hostile in [
        "\"",
        "sunshine\"",
        "NEAR(sunshine",
        "sunshine OR",
        "-sunshine",
        "col:sunshine",
        "^sun*",
        "{a b}",
        "a AND NOT",
        "\u{0}",
        "'); DROP TABLE sessions; --",
    ] {
        let (status, body) = status_of(search(hostile)).await;
        assert!(
            status == 200 || status == 400,
            "{hostile:?}: {status} {body}"
        );
        if status == 400 {
            assert_eq!(body["error"]["code"], "bad_request", "{body}");
        }
    }
    // Quotes and operators are punctuation to the tokenizer, as in the indexed text.
    for plain in [
        "sunshine\"",
        "(sunshine)",
        "sunshine*",
        "-sunshine",
        "^sunshine",
        "sunshine:",
    ] {
        let (status, body) = status_of(search(plain)).await;
        assert_eq!(status, 200, "{plain}: {body}");
        assert_eq!(
            body["results"][0]["sessionId"], "conv-travel-002",
            "{plain}: {body}"
        );
    }
    let (status, _) = status_of(search("")).await;
    assert_eq!(status, 400);
    let (status, _) = status_of(search(&"a".repeat(600))).await;
    assert_eq!(status, 400);
    // Deleted sessions leave the index.
    let deleted = client()
        .delete(format!("{base}/api/sessions/conv-travel-002"))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    let (_, body) = status_of(search("sunshine")).await;
    assert_eq!(body["results"], json!([]), "{body}");
    server.shutdown().await;
}

#[tokio::test]
async fn annotations_are_validated_kept_across_a_restart_and_exported() {
    let dir = tempfile::tempdir().unwrap();
    let db = DbLocation::File(dir.path().join("agentrace.db"));
    let server = testkit::start(testkit::config().with_db(db.clone()).build().unwrap()).await;
    let base = testkit::base(&server);
    post_complete(&base, travel(), "conv-travel-001").await;
    let url = |rest: &str| format!("{base}/api/sessions/conv-travel-001/annotations{rest}");
    let http = client();
    let (status, body) = status_of(
        http.put(url("/0"))
            .json(&json!({"verdict": "bad", "note": "weather is for the wrong day ☔"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["verdict"], "bad");
    // Refused: an unknown verdict, a note past the limit, unknown fields, not JSON, a turn that
    // does not exist, an index that is not one, a session that does not exist.
    let too_long = "x".repeat(agentrace_server::config::Limits::default().max_note_bytes + 1);
    for (path, body, want) in [
        ("/0", json!({"verdict": "great"}).to_string(), 400),
        ("/0", json!({"note": too_long}).to_string(), 400),
        ("/0", json!({"note": "a", "extra": 1}).to_string(), 400),
        ("/0", "not json".to_owned(), 400),
        ("/1", json!({"note": "a"}).to_string(), 404),
        ("/-1", json!({"note": "a"}).to_string(), 400),
        (
            "/99999999999999999999",
            json!({"note": "a"}).to_string(),
            400,
        ),
    ] {
        let (status, answer) = status_of(
            http.put(url(path))
                .header("content-type", "application/json")
                .body(body),
        )
        .await;
        assert_eq!(status, want, "{path}: {answer}");
    }
    let (status, _) = status_of(
        http.put(format!("{base}/api/sessions/nope/annotations/0"))
            .json(&json!({"note": "a"})),
    )
    .await;
    assert_eq!(status, 404);
    server.shutdown().await;

    let server = testkit::start(testkit::config().with_db(db).build().unwrap()).await;
    let base = testkit::base(&server);
    let session: Value = testkit::get_json(&format!("{base}/api/sessions/conv-travel-001")).await;
    assert_eq!(session["annotations"][0]["index"], 0, "{session}");
    assert_eq!(
        session["annotations"][0]["note"],
        "weather is for the wrong day ☔"
    );
    let export: Value =
        testkit::get_json(&format!("{base}/api/sessions/conv-travel-001/export")).await;
    assert_eq!(export["agentrace"]["annotations"][0]["verdict"], "bad");
    assert!(
        export["resourceSpans"]
            .as_array()
            .is_some_and(|r| !r.is_empty())
    );
    // The export still reads as a trace file.
    let bytes = export.to_string();
    let (_, report) = agentrace_loader::extract_bytes(
        bytes.as_bytes(),
        agentrace_loader::read::LoadOptions::default(),
        &agentrace_loader::extract::ExtractOptions::default(),
    )
    .expect("the export loads");
    assert_eq!(report.invocations.len(), 1);
    let url = format!("{base}/api/sessions/conv-travel-001/annotations/0");
    assert_eq!(client().delete(&url).send().await.unwrap().status(), 204);
    assert_eq!(client().delete(&url).send().await.unwrap().status(), 404);
    let list: Value =
        testkit::get_json(&format!("{base}/api/sessions/conv-travel-001/annotations")).await;
    assert_eq!(list["annotations"], json!([]));
    server.shutdown().await;
}

#[tokio::test]
async fn two_sessions_compare_turn_by_turn() {
    let server = testkit::start_default().await;
    let base = testkit::base(&server);
    post_complete(&base, travel(), "conv-travel-001").await;
    post_complete(&base, travel_variant(), "conv-travel-002").await;
    let compare: Value = testkit::get_json(&format!(
        "{base}/api/compare?a=conv-travel-001&b=conv-travel-002"
    ))
    .await;
    let turn = &compare["turns"][0];
    let ops: Vec<&str> = turn["trajectory"]
        .as_array()
        .unwrap()
        .iter()
        .map(|op| op["op"].as_str().unwrap())
        .collect();
    assert_eq!(ops, ["same", "changed"], "{compare}");
    assert_eq!(turn["trajectory"][1]["changedArgs"], json!(["city"]));
    assert_eq!(turn["trajectory"][1]["a"]["args"]["city"], "Berlin");
    assert_eq!(turn["trajectory"][1]["b"]["args"]["city"], "Munich");
    let parts: Vec<(String, String)> = turn["answer"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["op"] != "same")
        .map(|p| {
            (
                p["op"].as_str().unwrap().into(),
                p["text"].as_str().unwrap().into(),
            )
        })
        .collect();
    let want: Vec<(String, String)> = [
        ("deleted", "Berlin"),
        ("inserted", "Munich"),
        ("deleted", "light rain"),
        ("inserted", "sunshine"),
    ]
    .iter()
    .map(|(op, text)| ((*op).to_owned(), (*text).to_owned()))
    .collect();
    assert_eq!(parts, want, "{compare}");
    // The facts: three model calls, the chat spans' tokens (698+734+1635 in, 44+31+81 out).
    for side in ["a", "b"] {
        assert_eq!(turn[side]["modelCalls"], 3, "{compare}");
        assert_eq!(turn[side]["inputTokens"], 698 + 734 + 1635, "{compare}");
        assert_eq!(turn[side]["outputTokens"], 44 + 31 + 81, "{compare}");
        assert!(turn[side]["latencyMs"].as_f64().is_some_and(|ms| ms > 0.0));
    }
    assert_eq!(compare["turnsWithTrajectoryChanges"], 1);
    assert_eq!(compare["turnsWithAnswerChanges"], 1);
    // Bad requests.
    for query in ["", "?a=conv-travel-001", "?a=conv-travel-001&b=nope"] {
        let response = client()
            .get(format!("{base}/api/compare{query}"))
            .send()
            .await
            .unwrap();
        let want = if query.contains("nope") { 404 } else { 400 };
        assert_eq!(response.status(), want, "{query}");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn spans_page_with_a_cursor() {
    let server = testkit::start_default().await;
    let base = testkit::base(&server);
    post_json(&base, travel()).await;
    let all: Value = testkit::get_json(&format!("{base}/api/sessions/conv-travel-001/spans")).await;
    let all = all["spans"].as_array().unwrap().clone();
    assert_eq!(all.len(), 6);
    let mut paged = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10 {
        let mut url = format!("{base}/api/sessions/conv-travel-001/spans?limit=4");
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let page: Value = testkit::get_json(&url).await;
        assert_eq!(page["total"], 6);
        paged.extend(page["spans"].as_array().unwrap().iter().cloned());
        match page["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(paged, all, "the pages, in order, are every span once");
    for query in [
        "?limit=0",
        "?limit=10001",
        "?cursor=3",
        "?limit=2&cursor=abc",
        "?limit=2&cursor=-1",
        "?limit=2&cursor=99999999999999999999999",
    ] {
        let response = client()
            .get(format!("{base}/api/sessions/conv-travel-001/spans{query}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{query}");
    }
    // A cursor past the end is an empty last page.
    let page: Value = testkit::get_json(&format!(
        "{base}/api/sessions/conv-travel-001/spans?limit=2&cursor=100"
    ))
    .await;
    assert_eq!(page["spans"], json!([]));
    assert_eq!(page["nextCursor"], Value::Null);
    server.shutdown().await;
}

/// The keys of every object in `v`, with their paths (array items under `[]`; not inside a tool
/// call's `args`).
fn shape(v: &Value, path: &str, out: &mut std::collections::BTreeSet<String>) {
    match v {
        Value::Object(map) => {
            for (k, x) in map {
                let p = format!("{path}.{k}");
                out.insert(p.clone());
                // Arguments are the tool's own: their keys are not the API's shape.
                if k != "args" {
                    shape(x, &p, out);
                }
            }
        }
        Value::Array(items) => items
            .iter()
            .for_each(|x| shape(x, &format!("{path}[]"), out)),
        _ => {}
    }
}

fn shape_of(v: &Value) -> std::collections::BTreeSet<String> {
    let mut out = std::collections::BTreeSet::new();
    shape(v, "", &mut out);
    out
}

#[tokio::test]
async fn the_documented_search_compare_and_annotation_shapes_are_the_servers() {
    let examples = crate::docs::examples();
    let documented = |key: &str| {
        examples
            .iter()
            .find(|e| e.get(key).is_some())
            .cloned()
            .unwrap_or_else(|| panic!("docs/server.md has an example with `{key}`"))
    };
    let server = testkit::start_default().await;
    let base = testkit::base(&server);
    post_complete(&base, travel(), "conv-travel-001").await;
    post_complete(&base, travel_variant(), "conv-travel-002").await;
    let search: Value = testkit::get_json(&format!("{base}/api/search?q=sunshine")).await;
    assert_eq!(shape_of(&search), shape_of(&documented("results")));
    let compare: Value = testkit::get_json(&format!(
        "{base}/api/compare?a=conv-travel-001&b=conv-travel-002"
    ))
    .await;
    // The documented example shows one changed call; the server's answer has a `same` one too,
    // of the same shape.
    assert_eq!(
        shape_of(&compare),
        shape_of(&documented("turnsWithAnswerChanges"))
    );
    let annotation: Value = client()
        .put(format!("{base}/api/sessions/conv-travel-001/annotations/0"))
        .json(&json!({"verdict": "good", "note": "fine"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(shape_of(&annotation), shape_of(&documented("verdict")));
    server.shutdown().await;
}

#[test]
fn a_database_written_before_search_is_indexed_when_opened() {
    use agentrace_server::store::{SessionRow, Store};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    let store = Store::open(&DbLocation::File(path.clone())).unwrap();
    store
        .create_session(&SessionRow {
            id: "s1".into(),
            key_kind: "name".into(),
            key: "s1".into(),
            eval_set_id: None,
            metadata: json!({}),
            created_at_ns: 1,
            updated_at_ns: 1,
            completed_at_ns: Some(2),
            span_count: 0,
            log_count: 0,
        })
        .unwrap();
    // Invocations stored, and no search tables: the layout before search.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        r#"
        INSERT INTO invocations (session, idx, body) VALUES ((SELECT rid FROM sessions WHERE id = 's1'),
            0, '{"trace_id": "t1", "user_text": "hello indexed world", "agent_text": "done",
                 "tool_calls": [{"name": "lookup", "args": {"shelf": "north"}}]}');
        DROP TABLE search_fts;
        DROP TABLE search_docs;
        "#,
    )
    .unwrap();
    drop(conn);
    drop(store);
    let store = Store::open(&DbLocation::File(path)).unwrap();
    for (query, field) in [("indexed", "user"), ("lookup", "tools"), ("north", "attrs")] {
        let hits = agentrace_server::search::search(&store, query, 10).unwrap();
        assert_eq!(hits.len(), 1, "{query}");
        assert_eq!((hits[0].session_id.as_str(), hits[0].index), ("s1", 0));
        assert_eq!(hits[0].field, field, "{query}");
    }
    let previews = agentrace_server::search::previews(&store, &["s1", "nope"]).unwrap();
    assert_eq!(
        previews.get("s1").map(String::as_str),
        Some("hello indexed world")
    );
    assert_eq!(previews.len(), 1);
}
