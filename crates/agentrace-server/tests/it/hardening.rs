//! Issue 24: the server tried as an attacker on the same machine would, in its default
//! configuration. Each test sends the attack as a client would and checks what it gets.

use prost::Message;
use serde_json::Value;

use crate::testkit::{self, agent_turn, client, kv, traces};

/// Posts one agent turn into the session `name`; returns the response.
async fn post_turn(base: &str, name: &str, trace: u8) -> reqwest::Response {
    testkit::post_proto(
        &format!("{base}/v1/traces"),
        &traces(
            vec![kv("agentevals.session_name", name)],
            agent_turn(trace, 1, "question", "answer"),
        ),
    )
    .await
}

// ---- 1. DNS rebinding ----------------------------------------------------------------------

#[tokio::test]
async fn a_foreign_host_is_refused_on_every_http_port() {
    let server = testkit::start_default().await;
    let base = testkit::base(&server);
    assert_eq!(post_turn(&base, "secret", 1).await.status(), 200);
    let port = server.main_addr().port();
    let evil = format!("evil.example:{port}");
    let http = client();

    // Reading every session through a rebound name.
    let read = http
        .get(format!("{base}/api/sessions"))
        .header("host", &evil)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 403);
    let body: Value = read.json().await.unwrap();
    assert_eq!(body["error"]["code"], "forbidden_host");
    assert!(!body.to_string().contains("secret"));

    // Deleting with a matching Origin.
    let delete = http
        .delete(format!("{base}/api/sessions/secret"))
        .header("host", &evil)
        .header("origin", format!("http://{evil}"))
        .send()
        .await
        .unwrap();
    assert_eq!(delete.status(), 403);

    // The page, the live feed and the extra OTLP/HTTP port are guarded too.
    for url in [format!("{base}/"), format!("{base}/stream/ui-updates")] {
        let page = http.get(url).header("host", &evil).send().await.unwrap();
        assert_eq!(page.status(), 403);
    }
    let otlp = server.otlp_http_addr().unwrap();
    let ingest = http
        .post(format!("http://{otlp}/v1/traces"))
        .header("host", format!("evil.example:{}", otlp.port()))
        .header("content-type", "application/x-protobuf")
        .body(traces(vec![], agent_turn(2, 1, "q", "a")).encode_to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(ingest.status(), 403);

    // The session is still there; local names and IP literals work.
    for host in [
        format!("localhost:{port}"),
        format!("127.0.0.1:{port}"),
        format!("[::1]:{port}"),
    ] {
        let ok = http
            .get(format!("{base}/api/sessions/secret"))
            .header("host", host)
            .send()
            .await
            .unwrap();
        assert_eq!(ok.status(), 200);
    }
    server.shutdown().await;
}

#[tokio::test]
async fn an_operator_may_allow_other_host_names() {
    let server = testkit::start(
        testkit::config()
            .with_allowed_hosts(vec!["host.docker.internal".into()])
            .build()
            .unwrap(),
    )
    .await;
    let base = testkit::base(&server);
    let http = client();
    let allowed = http
        .get(format!("{base}/api/sessions"))
        .header("host", "host.docker.internal:8001")
        .send()
        .await
        .unwrap();
    assert_eq!(allowed.status(), 200);
    let other = http
        .get(format!("{base}/api/sessions"))
        .header("host", "evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 403);
    let config = testkit::get_json(&format!("{base}/api/config")).await;
    assert_eq!(config["allowedHosts"][0], "host.docker.internal");
    server.shutdown().await;
}

// ---- 2. A small body that held a worker for minutes ------------------------------------------

/// An OTLP/HTTP trace request of `count` empty spans (2 bytes each on the wire), written by
/// hand: building it from messages would take far more memory than the body.
fn empty_spans_body(count: usize) -> Vec<u8> {
    fn wrap(tag: u8, inner: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        prost::encoding::encode_varint(inner.len() as u64, &mut out);
        out.extend_from_slice(inner);
        out
    }
    // ScopeSpans.spans = 2, ResourceSpans.scope_spans = 2, Export...Request.resource_spans = 1.
    let spans: Vec<u8> = std::iter::repeat_n([0x12u8, 0x00], count)
        .flatten()
        .collect();
    wrap(0x0a, &wrap(0x12, &spans))
}

#[tokio::test]
async fn many_rejected_items_get_a_prompt_and_short_answer() {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
    // Past the default item limit (see the next test): raised, so the items are decoded.
    let limits = agentrace_server::config::Limits {
        max_items_per_request: 1_000_000,
        ..agentrace_server::config::Limits::default()
    };
    let server = testkit::start_with_limits(limits).await;
    let base = testkit::base(&server);
    // 200,000 spans in 400 KB: the old summary compared each reason with every distinct one
    // before it (each names its position), some 10^10 comparisons; the client gives up after
    // testkit::WAIT.
    let count = 200_000;
    let body = empty_spans_body(count);
    assert!(body.len() < 410_000);
    let response = client()
        .post(format!("{base}/v1/traces"))
        .header("content-type", "application/x-protobuf")
        .body(body)
        .send()
        .await
        .expect("answered before the client's timeout");
    assert_eq!(response.status(), 200);
    let answer = ExportTraceServiceResponse::decode(response.bytes().await.unwrap()).unwrap();
    let partial = answer.partial_success.expect("partial success");
    assert_eq!(partial.rejected_spans, count as i64);
    assert!(
        partial.error_message.len() < 1000,
        "a bounded reason list: {}",
        partial.error_message
    );
    assert!(partial.error_message.contains("other item(s)"));
    server.shutdown().await;
}

// ---- 3. A WebSocket session_start that wiped another producer's session ----------------------

#[tokio::test]
async fn a_websocket_session_start_never_wipes_an_otlp_session() {
    use futures::SinkExt;
    use tokio_tungstenite::tungstenite::Message;
    let server = testkit::start_default().await;
    let base = testkit::base(&server);
    assert_eq!(post_turn(&base, "demo", 1).await.status(), 200);
    let feed = testkit::live_feed(&base).await;
    let mut ws = testkit::ws(&server, "/ws/traces").await;
    let send = |v: Value| Message::Text(v.to_string().into());
    ws.send(send(
        serde_json::json!({"type": "session_start", "session_id": "demo"}),
    ))
    .await
    .unwrap();
    let reply = testkit::next_json(&mut ws).await;
    assert_eq!(reply["type"], "session_started");
    assert_eq!(reply["session_id"], "demo");
    assert_eq!(reply["stored_as"], "demo-2");
    // The OTLP session is untouched.
    let demo = testkit::get_json(&format!("{base}/api/sessions/demo")).await;
    assert_eq!(demo["spanCount"], 2);
    assert_eq!(demo["keyKind"], "name");
    // The client's spans under its name go to the new session.
    let span = serde_json::json!({"traceId": "0af7651916cd43dd8448eb211c80319c", "spanId": "b7ad6b7169203331",
        "name": "invoke_agent x", "startTimeUnixNano": "1000", "endTimeUnixNano": "2000"});
    ws.send(send(
        serde_json::json!({"type": "span", "session_id": "demo", "span": span}),
    ))
    .await
    .unwrap();
    ws.send(send(
        serde_json::json!({"type": "session_end", "session_id": "demo"}),
    ))
    .await
    .unwrap();
    assert_eq!(
        testkit::next_json(&mut ws).await["type"],
        "session_complete"
    );
    let new = testkit::get_json(&format!("{base}/api/sessions/demo-2")).await;
    assert_eq!(new["keyKind"], "websocket");
    assert_eq!(new["spanCount"], 1);
    let demo = testkit::get_json(&format!("{base}/api/sessions/demo")).await;
    assert_eq!(demo["spanCount"], 2);

    // A WebSocket session started again is replaced (as the reference does), and announced.
    ws.send(send(
        serde_json::json!({"type": "session_start", "session_id": "ws-only"}),
    ))
    .await
    .unwrap();
    testkit::next_json(&mut ws).await;
    ws.send(send(
        serde_json::json!({"type": "session_start", "session_id": "ws-only"}),
    ))
    .await
    .unwrap();
    let again = testkit::next_json(&mut ws).await;
    assert_eq!(again["session_id"], "ws-only");
    assert!(again.get("stored_as").is_none());
    testkit::wait_for_event(feed, |e| {
        e["type"] == "session_deleted" && e["session_id"] == "ws-only"
    })
    .await;
    server.shutdown().await;
}

// ---- 9. --cors-origin sends CORS headers and answers preflights -----------------------------

#[tokio::test]
async fn a_configured_cors_origin_gets_preflights_and_headers() {
    let origin = "http://localhost:5173";
    let server = testkit::start(
        testkit::config()
            .with_cors_origins(vec![origin.into()])
            .with_auth_token(Some("s3cret".into()))
            .build()
            .unwrap(),
    )
    .await;
    let base = testkit::base(&server);
    let http = client();
    for path in ["/api/sessions/x", "/v1/traces"] {
        let preflight = http
            .request(reqwest::Method::OPTIONS, format!("{base}{path}"))
            .header("origin", origin)
            .header("access-control-request-method", "DELETE")
            .header("access-control-request-headers", "authorization")
            .send()
            .await
            .unwrap();
        assert_eq!(preflight.status(), 204, "{path}");
        let headers = preflight.headers();
        assert_eq!(headers["access-control-allow-origin"], origin);
        assert!(
            headers["access-control-allow-methods"]
                .to_str()
                .unwrap()
                .contains("DELETE")
        );
        assert!(
            headers["access-control-allow-headers"]
                .to_str()
                .unwrap()
                .contains("authorization")
        );
    }
    let get = http
        .get(format!("{base}/api/sessions"))
        .header("origin", origin)
        .bearer_auth("s3cret")
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 200);
    assert_eq!(get.headers()["access-control-allow-origin"], origin);
    // Another origin gets neither a preflight nor the data.
    let evil = http
        .request(reqwest::Method::OPTIONS, format!("{base}/api/sessions"))
        .header("origin", "http://evil.example")
        .header("access-control-request-method", "GET")
        .send()
        .await
        .unwrap();
    assert_eq!(evil.status(), 403);
    assert!(evil.headers().get("access-control-allow-origin").is_none());
    server.shutdown().await;
}

// ---- 10. Token hygiene -----------------------------------------------------------------------

#[tokio::test]
async fn the_query_token_is_taken_only_by_the_live_feeds_and_percent_decoded() {
    let token = "a+b/c=d e%";
    let server = testkit::start(
        testkit::config()
            .with_auth_token(Some(token.into()))
            .build()
            .unwrap(),
    )
    .await;
    let base = testkit::base(&server);
    let http = client();
    let encoded = "a%2Bb%2Fc%3Dd%20e%25";
    // The API takes the token only in the header.
    let query = http
        .get(format!("{base}/api/sessions?token={encoded}"))
        .send()
        .await
        .unwrap();
    assert_eq!(query.status(), 401);
    let header = http
        .get(format!("{base}/api/sessions"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(header.status(), 200);
    // The live feed takes it in the query, percent-decoded.
    let feed = http
        .get(format!("{base}/stream/ui-updates?token={encoded}"))
        .send()
        .await
        .unwrap();
    assert_eq!(feed.status(), 200);
    drop(feed);
    let raw = http
        .get(format!("{base}/stream/ui-updates?token=a+b/c=d%20e%"))
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 401, "an invalid escape is no token");
    // The configuration's Debug never shows the token.
    let shown = format!("{:?}", server.state().config);
    assert!(!shown.contains(token), "{shown}");
    assert!(shown.contains("<redacted>"));
    server.shutdown().await;
}

// ---- 7. Deduplication stays within a session --------------------------------------------------

#[tokio::test]
async fn the_same_span_and_log_sent_into_two_sessions_are_stored_in_both() {
    use futures::SinkExt;
    use tokio_tungstenite::tungstenite::Message;
    let server = testkit::start_default().await;
    let base = testkit::base(&server);
    let mut ws = testkit::ws(&server, "/ws/traces").await;
    let send = |v: Value| Message::Text(v.to_string().into());
    let span = serde_json::json!({"traceId": "0af7651916cd43dd8448eb211c80319c", "spanId": "b7ad6b7169203331",
        "name": "invoke_agent x", "startTimeUnixNano": "1000", "endTimeUnixNano": "2000"});
    let log = serde_json::json!({"event_name": "gen_ai.choice", "timestamp": "1500", "body": {"index": 0}});
    // A deterministic test run twice sends the same records into two sessions; each send is
    // also retried once (the retry is a duplicate and is stored once).
    for session in ["run-1", "run-2"] {
        ws.send(send(
            serde_json::json!({"type": "session_start", "session_id": session}),
        ))
        .await
        .unwrap();
        assert_eq!(testkit::next_json(&mut ws).await["type"], "session_started");
        for _ in 0..2 {
            ws.send(send(
                serde_json::json!({"type": "span", "session_id": session, "span": span}),
            ))
            .await
            .unwrap();
            ws.send(send(
                serde_json::json!({"type": "log", "session_id": session, "log": log}),
            ))
            .await
            .unwrap();
        }
        ws.send(send(
            serde_json::json!({"type": "session_end", "session_id": session}),
        ))
        .await
        .unwrap();
        assert_eq!(
            testkit::next_json(&mut ws).await["type"],
            "session_complete"
        );
    }
    for session in ["run-1", "run-2"] {
        let summary = testkit::get_json(&format!("{base}/api/sessions/{session}")).await;
        assert_eq!(summary["spanCount"], 1, "{session}: {summary}");
        assert_eq!(summary["logCount"], 1, "{session}: {summary}");
        let spans = testkit::get_json(&format!("{base}/api/sessions/{session}/spans")).await;
        assert_eq!(spans["spans"].as_array().unwrap().len(), 1);
    }
    server.shutdown().await;
}

// ---- 4. OTLP/gRPC checks the token before it decodes --------------------------------------------

#[tokio::test]
async fn grpc_logs_and_metrics_check_the_token_before_decoding() {
    use tonic::Code;
    let server = testkit::start(
        testkit::config()
            .with_auth_token(Some("s3cret".into()))
            .build()
            .unwrap(),
    )
    .await;
    let addr = server.otlp_grpc_addr().unwrap();
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut raw = tonic::client::Grpc::new(channel);
    // Field 1 claims 5 bytes and has 1: anything that decodes it fails.
    let garbage = vec![0x0a, 0x05, 0x01];
    for path in [
        "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
        "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
        "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
    ] {
        let path = tonic::codegen::http::uri::PathAndQuery::from_static(path);
        raw.ready().await.unwrap();
        let err = raw
            .unary(
                tonic::Request::new(garbage.clone()),
                path.clone(),
                testkit::RawCodec,
            )
            .await
            .expect_err("no token");
        // Not INTERNAL from a decoder that ran first: the body was never read.
        assert_eq!(err.code(), Code::Unauthenticated, "{path}: {err}");
        // With the token, the same body is decoded (on a worker) and refused as bad data.
        let mut request = tonic::Request::new(garbage.clone());
        request
            .metadata_mut()
            .insert("authorization", "Bearer s3cret".parse().unwrap());
        raw.ready().await.unwrap();
        let err = raw
            .unary(request, path, testkit::RawCodec)
            .await
            .expect_err("undecodable");
        assert_eq!(err.code(), Code::InvalidArgument, "{err}");
    }
    server.shutdown().await;
}

// ---- 6. Storage faults -------------------------------------------------------------------------

#[tokio::test]
async fn a_full_database_is_503_with_retry_after_and_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let db = agentrace_server::config::DbLocation::File(dir.path().join("full.db"));
    let limits = agentrace_server::config::Limits {
        max_db_bytes: Some(512 * 1024),
        ..agentrace_server::config::Limits::default()
    };
    let server = testkit::start(
        testkit::config()
            .with_db(db)
            .with_limits(limits)
            .build()
            .unwrap(),
    )
    .await;
    let base = testkit::base(&server);
    let http = client();
    let mut accepted = Vec::new();
    let mut refused = None;
    // 40 KB a batch: the 512 KiB bound is reached well within 60 batches.
    for n in 1..=60u8 {
        let name = format!("s{n}");
        let response = http
            .post(format!("{base}/v1/traces"))
            .header("content-type", "application/x-protobuf")
            .body(testkit::bulky_turn(&name, n, 40_000))
            .send()
            .await
            .unwrap();
        match response.status().as_u16() {
            200 => accepted.push(name),
            503 => {
                refused = Some(response);
                break;
            }
            other => panic!("batch {n}: {other} {}", response.text().await.unwrap()),
        }
    }
    let refused = refused.expect("the bound is reached");
    assert_eq!(refused.headers()["retry-after"], "5");
    // A google.rpc.Status in protobuf (the request's encoding): the message is readable in it.
    let body = refused.bytes().await.unwrap();
    let text = String::from_utf8_lossy(&body);
    assert!(text.contains("the database is full"), "{text}");
    assert!(!accepted.is_empty());
    // Everything acknowledged is there, the refused batch is not.
    for name in &accepted {
        let session = testkit::get_json(&format!("{base}/api/sessions/{name}")).await;
        assert_eq!(session["spanCount"], 2, "{name}");
    }
    let sessions = testkit::get_json(&format!("{base}/api/sessions")).await;
    assert_eq!(sessions["total"], accepted.len());
    server.shutdown().await;
}

#[tokio::test]
async fn a_busy_database_is_503_with_retry_after() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("busy.db");
    let db = agentrace_server::config::DbLocation::File(path.clone());
    let server = testkit::start(testkit::config().with_db(db).build().unwrap()).await;
    let base = testkit::base(&server);
    // Another program holds the write lock past the server's busy timeout (5 s).
    let side = rusqlite::Connection::open(&path).unwrap();
    side.execute_batch("BEGIN IMMEDIATE;").unwrap();
    let response = post_turn(&base, "busy", 1).await;
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "5");
    side.execute_batch("ROLLBACK;").unwrap();
    assert_eq!(post_turn(&base, "busy", 1).await.status(), 200);
    server.shutdown().await;
}

#[tokio::test]
async fn a_second_server_cannot_open_the_same_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = agentrace_server::config::DbLocation::File(dir.path().join("one.db"));
    let first = testkit::start(testkit::config().with_db(db.clone()).build().unwrap()).await;
    let second =
        agentrace_server::Server::start(testkit::config().with_db(db.clone()).build().unwrap())
            .await;
    let err = second.expect_err("the second server is refused");
    assert!(
        err.to_string()
            .contains("in use by another agentrace server"),
        "{err}"
    );
    first.shutdown().await;
    // Once the first is gone, the database opens again.
    let again = testkit::start(testkit::config().with_db(db).build().unwrap()).await;
    again.shutdown().await;
}

#[tokio::test]
async fn durability_is_configurable_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let db = agentrace_server::config::DbLocation::File(dir.path().join("d.db"));
    let server = testkit::start(
        testkit::config()
            .with_db(db)
            .with_durability(agentrace_server::store::Durability::Full)
            .build()
            .unwrap(),
    )
    .await;
    let config = testkit::get_json(&format!("{}/api/config", testkit::base(&server))).await;
    assert_eq!(config["durability"], "full");
    server.shutdown().await;
}

// ---- 8. Origins go with the sessions that named them --------------------------------------------

#[tokio::test]
async fn deleting_sessions_deletes_the_origins_only_they_named() {
    let server = testkit::start_default().await;
    let base = testkit::base(&server);
    let store = std::sync::Arc::clone(server.state().ingest.store());
    let (before, _) = store.origin_counts().unwrap();
    // Ten sessions, each from a producer of its own (a resource of its own), and one more
    // from the first producer, which keeps that origin alive.
    // The session is named on the spans, so the resource is the producer's alone.
    let batch = |name: &str, instance: &str, trace: u8| {
        let mut spans = agent_turn(trace, 1, "q", "a");
        for span in &mut spans {
            span.attributes.push(kv("session.id", name));
        }
        traces(vec![kv("service.instance.id", instance)], spans)
    };
    for n in 0..10u8 {
        let url = format!("{base}/v1/traces");
        let response =
            testkit::post_proto(&url, &batch(&format!("s{n}"), &format!("i{n}"), n + 1)).await;
        assert_eq!(response.status(), 200);
    }
    let response =
        testkit::post_proto(&format!("{base}/v1/traces"), &batch("keep", "i0", 50)).await;
    assert_eq!(response.status(), 200);
    let (stored, cached) = store.origin_counts().unwrap();
    assert_eq!(stored, before + 10);
    assert_eq!(cached, 10);
    let http = client();
    for n in 0..10u8 {
        let deleted = http
            .delete(format!("{base}/api/sessions/s{n}"))
            .send()
            .await
            .unwrap();
        assert_eq!(deleted.status(), 204);
    }
    // The origin of `keep` stays, in the table and the cache; the other nine are gone.
    let (stored, cached) = store.origin_counts().unwrap();
    assert_eq!((stored, cached), (before + 1, 1));
    let spans = testkit::get_json(&format!("{base}/api/sessions/keep/spans")).await;
    assert_eq!(
        spans["spans"][0]["resource"]["attributes"][0]["value"]["stringValue"],
        "i0"
    );
    // A producer seen before comes back: its origin is stored again.
    let response = testkit::post_proto(&format!("{base}/v1/traces"), &batch("s3", "i3", 3)).await;
    assert_eq!(response.status(), 200);
    let spans = testkit::get_json(&format!("{base}/api/sessions/s3/spans")).await;
    assert_eq!(spans["spans"].as_array().unwrap().len(), 2);
    server.shutdown().await;
}

// ---- 5. Memory bounded by bytes and connections ------------------------------------------------

/// The HTTP status a WebSocket upgrade at `url` got refused with, if it was.
async fn upgrade_refused(url: &str) -> Option<u16> {
    match tokio_tungstenite::connect_async(url).await {
        Ok(_) => None,
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            Some(response.status().as_u16())
        }
        Err(other) => panic!("{other}"),
    }
}

#[tokio::test]
async fn live_subscribers_and_websocket_connections_are_bounded() {
    let limits = agentrace_server::config::Limits {
        max_live_subscribers: 2,
        max_ws_connections: 1,
        ..agentrace_server::config::Limits::default()
    };
    let server = testkit::start_with_limits(limits).await;
    let base = testkit::base(&server);
    let addr = server.main_addr();
    let first = testkit::live_feed(&base).await;
    let (second, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws/live"))
        .await
        .unwrap();
    let third = testkit::live_feed(&base).await;
    assert_eq!(third.status(), 503);
    assert_eq!(third.headers()["retry-after"], "5");
    let text = third.text().await.unwrap();
    assert!(text.contains("--max-live-subscribers"), "{text}");
    assert_eq!(
        upgrade_refused(&format!("ws://{addr}/ws/live")).await,
        Some(503)
    );
    let (ingest, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws/traces"))
        .await
        .unwrap();
    assert_eq!(
        upgrade_refused(&format!("ws://{addr}/ws/traces")).await,
        Some(503)
    );
    let health = testkit::get_json(&format!("{base}/api/health")).await;
    assert_eq!(health["connections"]["liveSubscribers"], 2);
    assert_eq!(health["connections"]["wsIngest"], 1);
    let config = testkit::get_json(&format!("{base}/api/config")).await;
    assert_eq!(config["limits"]["maxLiveSubscribers"], 2);
    assert_eq!(config["limits"]["maxWsConnections"], 1);
    drop((first, second, ingest));
    server.shutdown().await;
}

#[tokio::test]
async fn a_live_event_is_bounded_whatever_the_batch() {
    let server = testkit::start_default().await;
    let base = testkit::base(&server);
    let feed = testkit::live_feed(&base).await;
    // 600 spans with 20 KB names in one batch of one session.
    let name = "n".repeat(20_000);
    let spans: Vec<_> = (0..600u32)
        .map(|i| {
            let mut s = testkit::span(1, 1, None, &name, vec![kv("gen_ai.operation.name", "chat")]);
            s.span_id = (u64::from(i) + 1).to_be_bytes().to_vec();
            s
        })
        .collect();
    let response = testkit::post_proto(
        &format!("{base}/v1/traces"),
        &traces(vec![kv("agentevals.session_name", "big")], spans),
    )
    .await;
    assert_eq!(response.status(), 200);
    let events = testkit::wait_for_event(feed, |e| e["type"] == "spans_received").await;
    let event = events.last().unwrap();
    let listed = event["spans"].as_array().unwrap();
    assert_eq!(listed.len(), 256);
    assert_eq!(event["spans_omitted"], 600 - 256);
    assert_eq!(event["span_count"], 600);
    let shown = listed[0]["name"].as_str().unwrap();
    assert!(
        shown.len() <= 256 + "…".len() && shown.ends_with('…'),
        "{}",
        shown.len()
    );
    assert!(event.to_string().len() < 200_000);
    server.shutdown().await;
}

#[tokio::test]
async fn a_live_websocket_refuses_large_client_messages() {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let server = testkit::start_default().await;
    let mut live = testkit::ws(&server, "/ws/live").await;
    live.send(Message::Text("x".repeat(1 << 20).into()))
        .await
        .unwrap();
    // The server closes the connection instead of reading a megabyte it has no use for.
    let next = tokio::time::timeout(testkit::WAIT, live.next())
        .await
        .expect("the server answers in time");
    match next {
        None | Some(Err(_)) | Some(Ok(Message::Close(_))) => {}
        Some(Ok(other)) => panic!("still open: {other:?}"),
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_websocket_messages_do_not_fill_the_otlp_queue() {
    use futures::SinkExt;
    use tokio_tungstenite::tungstenite::Message;
    let limits = agentrace_server::config::Limits {
        ingest_workers: 1,
        ingest_queue: 1,
        ..agentrace_server::config::Limits::default()
    };
    let server = testkit::start_with_limits(limits).await;
    let base = testkit::base(&server);
    let (release, hold) = std::sync::mpsc::channel::<()>();
    let workers = std::sync::Arc::clone(&server.state().workers);
    let busy = tokio::spawn(async move { workers.run(move || hold.recv().is_ok()).await });
    crate::workers::until(&server, 1, 0).await;
    // A WebSocket message waits for the worker (it is never refused)...
    let mut ws = testkit::ws(&server, "/ws/traces").await;
    ws.send(Message::Text(
        serde_json::json!({"type": "session_start", "session_id": "w"})
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
    crate::workers::until(&server, 1, 1).await;
    // ...and does not take the OTLP request's place in the queue.
    let base2 = base.clone();
    let post = tokio::spawn(async move { post_turn(&base2, "otlp", 1).await.status() });
    crate::workers::until(&server, 1, 2).await;
    release.send(()).unwrap();
    assert_eq!(busy.await.unwrap(), Ok(true));
    assert_eq!(post.await.unwrap(), 200);
    assert_eq!(testkit::next_json(&mut ws).await["type"], "session_started");
    server.shutdown().await;
}

#[tokio::test]
async fn a_request_of_too_many_items_is_refused_before_it_is_decoded() {
    let server = testkit::start_default().await;
    let base = testkit::base(&server);
    // 500,000 empty spans in 1 MB: each would become a decoded span (and a rejection reason).
    let body = empty_spans_body(500_000);
    let response = client()
        .post(format!("{base}/v1/traces"))
        .header("content-type", "application/x-protobuf")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    let text = String::from_utf8_lossy(&response.bytes().await.unwrap()).into_owned();
    assert!(
        text.contains("500000 items") && text.contains("--max-items-per-request"),
        "{text}"
    );
    // Over gRPC too.
    let addr = server.otlp_grpc_addr().unwrap();
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut raw = tonic::client::Grpc::new(channel);
    raw.ready().await.unwrap();
    let err = raw
        .unary(
            tonic::Request::new(body),
            tonic::codegen::http::uri::PathAndQuery::from_static(
                "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
            ),
            testkit::RawCodec,
        )
        .await
        .expect_err("too many items");
    assert_eq!(err.code(), tonic::Code::OutOfRange, "{err}");
    let config = testkit::get_json(&format!("{base}/api/config")).await;
    assert_eq!(config["limits"]["maxItemsPerRequest"], 100_000);
    server.shutdown().await;
}

#[tokio::test]
async fn a_websocket_session_id_is_bounded() {
    use futures::SinkExt;
    use tokio_tungstenite::tungstenite::Message;
    let server = testkit::start_default().await;
    let mut ws = testkit::ws(&server, "/ws/traces").await;
    let long = "x".repeat(100_000);
    ws.send(Message::Text(
        serde_json::json!({"type": "session_start", "session_id": long})
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
    let reply = testkit::next_json(&mut ws).await;
    assert_eq!(reply["type"], "error");
    assert!(
        reply["message"]
            .as_str()
            .unwrap()
            .contains("longer than 256")
    );
    let sessions = testkit::get_json(&format!("{}/api/sessions", testkit::base(&server))).await;
    assert_eq!(sessions["total"], 0);
    server.shutdown().await;
}

#[tokio::test]
async fn an_item_with_an_overlong_string_is_rejected_with_the_reason() {
    let limits = agentrace_server::config::Limits {
        max_string_bytes: 1000,
        ..agentrace_server::config::Limits::default()
    };
    let server = testkit::start_with_limits(limits).await;
    let base = testkit::base(&server);
    let mut spans = agent_turn(1, 1, "q", "a");
    // A nested value: an array holding the long string.
    spans[1].attributes.push(opentelemetry_proto::tonic::common::v1::KeyValue {
        key: "nested".into(),
        value: Some(opentelemetry_proto::tonic::common::v1::AnyValue {
            value: Some(
                opentelemetry_proto::tonic::common::v1::any_value::Value::ArrayValue(
                    opentelemetry_proto::tonic::common::v1::ArrayValue {
                        values: vec![opentelemetry_proto::tonic::common::v1::AnyValue {
                            value: Some(
                                opentelemetry_proto::tonic::common::v1::any_value::Value::StringValue(
                                    "x".repeat(1001),
                                ),
                            ),
                        }],
                    },
                ),
            ),
        }),
        ..Default::default()
    });
    let response = testkit::post_proto(
        &format!("{base}/v1/traces"),
        &traces(vec![kv("agentevals.session_name", "long")], spans),
    )
    .await;
    assert_eq!(response.status(), 200);
    let answer =
        opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse::decode(
            response.bytes().await.unwrap(),
        )
        .unwrap();
    testkit::assert_spans_rejected(answer.partial_success, 1, "a string longer than 1000 bytes");
    let session = testkit::get_json(&format!("{base}/api/sessions/long")).await;
    assert_eq!(session["spanCount"], 1);
    server.shutdown().await;
}
