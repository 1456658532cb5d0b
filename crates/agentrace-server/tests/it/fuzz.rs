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
    #![proptest_config(ProptestConfig { cases: crate::testkit::fuzz_cases(64), .. ProptestConfig::default() })]

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

proptest! {
    #![proptest_config(ProptestConfig::with_cases(crate::testkit::fuzz_cases(64)))]

    /// The wire count of items agrees with prost's decoding, for any shape of request.
    #[test]
    fn items_counted_on_the_wire_match_the_decoded_request(
        shape in proptest::collection::vec(proptest::collection::vec(0usize..6, 0..4), 0..4),
        schema in "[a-z]{0,5}",
    ) {
        use opentelemetry_proto::tonic::{
            collector::trace::v1::ExportTraceServiceRequest,
            trace::v1::{ResourceSpans, ScopeSpans, Span},
        };
        let request = ExportTraceServiceRequest {
            resource_spans: shape
                .iter()
                .map(|scopes| ResourceSpans {
                    scope_spans: scopes
                        .iter()
                        .map(|&n| ScopeSpans {
                            spans: vec![Span { name: "s".into(), ..Span::default() }; n],
                            schema_url: schema.clone(),
                            ..ScopeSpans::default()
                        })
                        .collect(),
                    schema_url: schema.clone(),
                    ..ResourceSpans::default()
                })
                .collect(),
        };
        let expected: usize = shape.iter().flatten().sum();
        let body = prost::Message::encode_to_vec(&request);
        prop_assert_eq!(
            agentrace_server::body::count_otlp_items(&body),
            Some(expected as u64)
        );
    }

    /// Arbitrary bytes never make the counter panic, and never count more items than the bytes
    /// could hold (two bytes an item at the least).
    #[test]
    fn the_wire_count_of_arbitrary_bytes_is_bounded(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        if let Some(n) = agentrace_server::body::count_otlp_items(&bytes) {
            prop_assert!(n as usize <= bytes.len() / 2);
        }
    }

    /// Arbitrary `Host` values never panic the check, and a name not allowed never passes
    /// unless it is `localhost` or an IP literal.
    #[test]
    fn the_host_check_takes_any_value(host in "[a-z0-9.:\\[\\]-]{0,40}") {
        let allowed = agentrace_server::auth::host_allowed(&host, &[]);
        if allowed {
            let name = host.rsplit_once(':').map_or(host.as_str(), |(n, _)| n);
            let name = name.strip_suffix('.').unwrap_or(name);
            prop_assert!(
                name.eq_ignore_ascii_case("localhost")
                    || name.parse::<std::net::Ipv4Addr>().is_ok()
                    || host.starts_with('['),
                "{} passed", host
            );
        }
    }
}
