//! No input makes the server panic: arbitrary bodies on every ingest route, in every encoding,
//! get a 2xx or a 4xx, and arbitrary WebSocket messages get a reply or nothing.

use agentrace_server::{AppState, app, config::DbLocation, ingest::Ingest, ws};
use axum::{body::Body, http::Request};
use proptest::prelude::*;
use tower::ServiceExt;

use crate::testkit;

fn state() -> AppState {
    AppState::new(
        testkit::config()
            .with_db(DbLocation::Memory)
            .build()
            .expect("config"),
    )
    .expect("state")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn arbitrary_json() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("null".to_owned()),
        any::<i64>().prop_map(|n| n.to_string()),
        "[a-z0-9]{0,8}".prop_map(|s| format!("\"{s}\"")),
        Just("\"0af7651916cd43dd8448eb211c80319c\"".to_owned()),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        let keys = prop_oneof![
            Just("resourceSpans"),
            Just("scopeSpans"),
            Just("spans"),
            Just("traceId"),
            Just("spanId"),
            Just("attributes"),
            Just("key"),
            Just("value"),
            Just("stringValue"),
            Just("resourceLogs"),
            Just("logRecords"),
            Just("kvlistValue"),
            Just("values"),
            Just("x"),
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(|v| format!("[{}]", v.join(","))),
            prop::collection::vec((keys, inner), 0..4).prop_map(|kv| {
                let fields: Vec<String> = kv.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
                format!("{{{}}}", fields.join(","))
            }),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]

    #[test]
    fn arbitrary_bodies_never_panic(
        bytes in prop::collection::vec(any::<u8>(), 0..512),
        json in arbitrary_json(),
        route in prop_oneof![Just("/v1/traces"), Just("/v1/logs"), Just("/v1/metrics")],
        content_type in prop_oneof![Just("application/x-protobuf"), Just("application/json")],
        gzip in any::<bool>(),
    ) {
        let rt = runtime();
        let state = state();
        for body in [bytes.clone(), json.into_bytes()] {
            let mut request = Request::post(route).header("content-type", content_type);
            if gzip {
                request = request.header("content-encoding", "gzip");
            }
            let response = rt
                .block_on(app(state.clone()).oneshot(request.body(Body::from(body)).unwrap()))
                .unwrap();
            let status = response.status().as_u16();
            prop_assert!((200..500).contains(&status) && status != 404, "status {status}");
        }
    }

    #[test]
    fn arbitrary_websocket_messages_never_panic(json in arbitrary_json(), kind in prop_oneof![
        Just("session_start"), Just("span"), Just("spans"), Just("log"), Just("session_end"), Just("zzz"),
    ]) {
        let state = state();
        let ingest: &Ingest = &state.ingest;
        let mut connection = ws::Connection::default();
        let _ = ws::handle(ingest, &mut connection, r#"{"type":"session_start","session_id":"s"}"#);
        let message = format!(r#"{{"type":"{kind}","session_id":"s","span":{json},"spans":{json},"log":{json}}}"#);
        let _ = ws::handle(ingest, &mut connection, &message);
        let _ = ws::handle(ingest, &mut connection, &json);
    }
}
