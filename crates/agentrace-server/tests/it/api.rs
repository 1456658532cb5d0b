//! The REST API, the token, the origin check, restart persistence and the export round trip.

use agentrace_loader::{extract::ExtractOptions, read::LoadOptions};
use agentrace_server::config::{ConfigError, DbLocation, ServerConfig};
use prost::Message;
use serde_json::{Value, json};

use crate::testkit::{self, agent_turn, client, kv, traces};

async fn post_turn(base: &str, name: &str, trace: u8, token: Option<&str>) -> reqwest::Response {
    let mut request = client()
        .post(format!("{base}/v1/traces"))
        .header("content-type", "application/x-protobuf")
        .body(
            traces(
                vec![kv("agentevals.session_name", name)],
                agent_turn(trace, 1, "question", "answer"),
            )
            .encode_to_vec(),
        );
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.expect("request sent")
}

#[tokio::test]
async fn a_token_protects_ingest_and_api_but_not_health() {
    let config = testkit::config()
        .with_auth_token(Some("s3cret".to_owned()))
        .build()
        .unwrap();
    let server = testkit::start(config).await;
    let base = testkit::base(&server);
    assert_eq!(post_turn(&base, "t", 1, None).await.status(), 401);
    assert_eq!(post_turn(&base, "t", 1, Some("wrong")).await.status(), 401);
    assert_eq!(post_turn(&base, "t", 1, Some("s3cret")).await.status(), 200);
    let http = client();
    assert_eq!(
        http.get(format!("{base}/api/sessions"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    let body: Value = testkit::get_json(&format!("{base}/api/sessions")).await;
    assert_eq!(body["error"]["code"], "unauthorized");
    let ok = http
        .get(format!("{base}/api/sessions"))
        .bearer_auth("s3cret")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let query = http
        .get(format!("{base}/api/sessions?token=s3cret"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        query.status(),
        401,
        "only the live feeds take the token in the query (EventSource)"
    );
    assert_eq!(
        http.get(format!("{base}/api/health"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let config: Value = http
        .get(format!("{base}/api/config"))
        .bearer_auth("s3cret")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(config["authRequired"], true);
    assert!(
        !config.to_string().contains("s3cret"),
        "the token is never sent back"
    );
    server.shutdown().await;
}

#[test]
fn a_public_bind_needs_a_token_or_an_explicit_allowance() {
    let public = "0.0.0.0".parse().unwrap();
    let refused = ServerConfig::builder().with_host(public).build();
    assert!(matches!(refused, Err(ConfigError::InsecureBind(_))));
    assert!(
        ServerConfig::builder()
            .with_host(public)
            .with_auth_token(Some("t".into()))
            .build()
            .is_ok()
    );
    assert!(
        ServerConfig::builder()
            .with_host(public)
            .with_allow_insecure_bind(true)
            .build()
            .is_ok()
    );
    assert_eq!(
        ServerConfig::builder().build().unwrap().host.to_string(),
        "127.0.0.1"
    );
    assert!(matches!(
        ServerConfig::builder()
            .with_auth_token(Some(String::new()))
            .build(),
        Err(ConfigError::EmptyToken)
    ));
}

#[tokio::test]
async fn foreign_origins_are_refused() {
    let server = testkit::start(
        testkit::config()
            .with_cors_origins(vec!["http://localhost:5173".into()])
            .build()
            .unwrap(),
    )
    .await;
    let base = testkit::base(&server);
    let http = client();
    let evil = http
        .post(format!("{base}/api/eval-sets"))
        .header("origin", "http://evil.example")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(evil.status(), 403);
    let own = format!("http://{}", server.main_addr());
    let same = http
        .get(format!("{base}/api/sessions"))
        .header("origin", own)
        .send()
        .await
        .unwrap();
    assert_eq!(same.status(), 200);
    let allowed = http
        .get(format!("{base}/api/sessions"))
        .header("origin", "http://localhost:5173")
        .send()
        .await
        .unwrap();
    assert_eq!(allowed.status(), 200);
    server.shutdown().await;
}

#[tokio::test]
async fn sessions_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = DbLocation::File(dir.path().join("agentrace.db"));
    let server = testkit::start(testkit::config().with_db(db.clone()).build().unwrap()).await;
    assert_eq!(
        post_turn(&testkit::base(&server), "kept", 1, None)
            .await
            .status(),
        200
    );
    server.shutdown().await;

    let server = testkit::start(testkit::config().with_db(db).build().unwrap()).await;
    let base = testkit::base(&server);
    let session: Value = testkit::get_json(&format!("{base}/api/sessions/kept")).await;
    assert_eq!(session["spanCount"], 2);
    // New spans of the same session rejoin it after the restart.
    assert_eq!(post_turn(&base, "kept", 2, None).await.status(), 200);
    let list: Value = testkit::get_json(&format!("{base}/api/sessions")).await;
    assert_eq!(list["total"], 1);
    assert_eq!(list["sessions"][0]["spanCount"], 4);
    // A retried export of a trace stored before the restart is recognized as duplicates: the
    // restarted server knows the trace, so the store looks up its stored span ids.
    assert_eq!(post_turn(&base, "kept", 1, None).await.status(), 200);
    let session: Value = testkit::get_json(&format!("{base}/api/sessions/kept")).await;
    assert_eq!(session["spanCount"], 4, "{session}");
    server.shutdown().await;
}

#[tokio::test]
async fn a_retried_export_over_http_is_stored_once() {
    let server = testkit::start_default().await;
    let base = testkit::base(&server);
    for _ in 0..3 {
        assert_eq!(post_turn(&base, "retried", 5, None).await.status(), 200);
    }
    let session: Value = testkit::get_json(&format!("{base}/api/sessions/retried")).await;
    assert_eq!(session["spanCount"], 2, "{session}");
    let spans: Value = testkit::get_json(&format!("{base}/api/sessions/retried/spans")).await;
    assert_eq!(spans["spans"].as_array().map(Vec::len), Some(2), "{spans}");
    server.shutdown().await;
}

#[tokio::test]
async fn export_reads_back_with_the_loader_and_delete_removes() {
    let server = testkit::start_default().await;
    let base = testkit::base(&server);
    post_turn(&base, "exported", 3, None).await;
    let http = client();
    let doc = http
        .get(format!("{base}/api/sessions/exported/export"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let (loaded, report) =
        agentrace_loader::extract_bytes(&doc, LoadOptions::default(), &ExtractOptions::default())
            .unwrap();
    assert_eq!(loaded.skipped(), 0);
    assert_eq!(report.span_count, 2);
    assert_eq!(
        report.groups[0].key, "exported",
        "the export is stamped with the session name"
    );
    assert_eq!(report.invocations[0].user_text.as_deref(), Some("question"));

    let deleted = http
        .delete(format!("{base}/api/sessions/exported"))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    let gone = http
        .get(format!("{base}/api/sessions/exported"))
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 404);
    let body: Value = gone.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");
    server.shutdown().await;
}

#[tokio::test]
async fn eval_sets_are_validated_stored_and_listed() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("pre.json"),
        json!({"eval_set_id": "pre", "eval_cases": [{"eval_id": "c1", "conversation": []}]})
            .to_string(),
    )
    .unwrap();
    let server = testkit::start(
        testkit::config()
            .with_eval_sets_dir(Some(dir.path().to_path_buf()))
            .build()
            .unwrap(),
    )
    .await;
    let base = testkit::base(&server);
    let http = client();
    let bad = http
        .post(format!("{base}/api/eval-sets"))
        .body(r#"{"eval_cases": []}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let body: Value = bad.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("eval_set_id")
    );
    let broken = http
        .post(format!("{base}/api/eval-sets"))
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(broken.status(), 400);
    let good = json!({"eval_set_id": "e1", "name": "first", "eval_cases": [{"eval_id": "a"}, {"eval_id": "b"}]});
    let created = http
        .post(format!("{base}/api/eval-sets"))
        .json(&good)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let list: Value = testkit::get_json(&format!("{base}/api/eval-sets")).await;
    let ids: Vec<&str> = list["evalSets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["pre", "e1"]);
    let one: Value = testkit::get_json(&format!("{base}/api/eval-sets/e1")).await;
    assert_eq!(one, good);
    assert_eq!(
        http.get(format!("{base}/api/eval-sets/zz"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(
        http.get(format!("{base}/api/nope"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    let page = http
        .get(format!("{base}/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("agentrace"));
    server.shutdown().await;
}
