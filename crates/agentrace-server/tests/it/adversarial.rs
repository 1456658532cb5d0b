//! Adversarial property tests of every decoder and protocol handler the server runs: OTLP/HTTP
//! JSON and protobuf (the loader's JSON reader and wire decoder behind them), gzip, gRPC framing
//! (raw HTTP/2 frames over real TCP) and WebSocket ingest messages (over real TCP). The inputs
//! are built to hurt: values nested tens of thousands deep, item counts past the limits, strings
//! past the limits, every input cut short, a gzip bomb. Each test checks the answer the limits
//! promise (413 past the item count, the span rejected past the string length, 400 for what
//! cannot be read), that nothing panics (a panicking handler would answer no status), that the
//! server still serves a good request after, and that the process's peak memory stayed bounded.
//!
//! `cargo xtask fuzz` runs them with its case budget (`AGENTRACE_FUZZ_CASES`).

use std::io::Write as _;

use agentrace_server::{
    AppState, Server, app,
    config::{DbLocation, Limits},
};
use axum::{body::Body, http::Request};
use bytes::Bytes;
use futures::SinkExt;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::{
    common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value},
    resource::v1::Resource,
    trace::v1::{ResourceSpans, ScopeSpans, Span, span::Event},
};
use proptest::{prelude::*, test_runner::TestRunner};
use prost::Message as _;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;
use tower::ServiceExt;

use crate::testkit;

/// Items one request may carry in these tests.
const MAX_ITEMS: u64 = 1_000;
/// The longest string allowed in these tests.
const MAX_STRING: u64 = 1_024;
/// The largest body on the wire, and after gzip.
const MAX_BODY: usize = 4 << 20;
const MAX_DECOMPRESSED: usize = 8 << 20;
/// The largest WebSocket message.
const MAX_WS_MESSAGE: usize = 1 << 20;
/// What the test process may reach at its peak (`VmHWM`): the inputs, one decoded request and
/// the server's buffers fit many times over; a request decoded past its limits (the gzip bomb
/// inflates to 512 MiB) would not.
const PEAK_RSS_MIB: u64 = 256;

fn limits() -> Limits {
    Limits {
        max_items_per_request: MAX_ITEMS,
        max_string_bytes: MAX_STRING,
        max_body_bytes: MAX_BODY,
        max_decompressed_bytes: MAX_DECOMPRESSED,
        max_ws_message_bytes: MAX_WS_MESSAGE,
        ..Limits::default()
    }
}

fn state() -> AppState {
    AppState::new(
        testkit::config()
            .with_db(DbLocation::Memory)
            .with_limits(limits())
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

/// A runner with the case budget (`AGENTRACE_FUZZ_CASES`, else 32) divided by `share`: the
/// tests whose cases build megabytes of input run a share of it, at least 16 cases.
fn runner(share: u32) -> TestRunner {
    TestRunner::new(ProptestConfig::with_cases(
        (testkit::fuzz_cases(32) / share).max(16),
    ))
}

/// How a body is sent.
#[derive(Debug, Clone, Copy)]
struct Encoding {
    json: bool,
    gzip: bool,
}

fn encoding() -> impl Strategy<Value = Encoding> {
    (any::<bool>(), any::<bool>()).prop_map(|(json, gzip)| Encoding { json, gzip })
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).expect("gzip");
    encoder.finish().expect("gzip")
}

/// The body of `request` in `encoding`, before compression.
fn encode(request: &ExportTraceServiceRequest, json: bool) -> Vec<u8> {
    if json {
        serde_json::to_vec(request).expect("JSON")
    } else {
        request.encode_to_vec()
    }
}

/// POSTs `body` to `/v1/traces` of a fresh server; returns the status and the answer (JSON, or
/// protobuf turned into the same JSON shape for a 200).
fn post(rt: &tokio::runtime::Runtime, body: Vec<u8>, encoding: Encoding) -> (u16, Value) {
    let body = if encoding.gzip { gzip(&body) } else { body };
    let mut request = Request::post("/v1/traces").header(
        "content-type",
        if encoding.json {
            "application/json"
        } else {
            "application/x-protobuf"
        },
    );
    if encoding.gzip {
        request = request.header("content-encoding", "gzip");
    }
    let response = rt
        .block_on(app(state()).oneshot(request.body(Body::from(body)).expect("request")))
        .expect("answer");
    let status = response.status().as_u16();
    let bytes = rt
        .block_on(axum::body::to_bytes(response.into_body(), usize::MAX))
        .expect("body");
    let answer = if encoding.json || status != 200 {
        serde_json::from_slice(&bytes).unwrap_or(Value::Null)
    } else {
        let decoded =
            opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse::decode(
                bytes.as_ref(),
            )
            .expect("protobuf answer");
        match decoded.partial_success {
            Some(p) => serde_json::json!({
                "partialSuccess": {"rejectedSpans": p.rejected_spans, "errorMessage": p.error_message}
            }),
            None => serde_json::json!({}),
        }
    };
    (status, answer)
}

/// Spans rejected by a 200 answer.
fn rejected(answer: &Value) -> i64 {
    answer["partialSuccess"]["rejectedSpans"]
        .as_i64()
        .unwrap_or_default()
}

fn string_value(value: &str) -> AnyValue {
    AnyValue {
        value: Some(any_value::Value::StringValue(value.to_owned())),
    }
}

/// A span of trace 1 with id `n` and `attributes`.
fn span(n: u64, attributes: Vec<KeyValue>) -> Span {
    Span {
        trace_id: vec![0xab; 16],
        span_id: (n + 1).to_be_bytes().to_vec(),
        name: "chat m".to_owned(),
        start_time_unix_nano: 1_700_000_000_000_000_000 + n,
        end_time_unix_nano: 1_700_000_000_000_000_001 + n,
        attributes,
        ..Span::default()
    }
}

/// A request of `resources` × `scopes` × `spans` spans, each with `attributes` attributes.
fn shaped(resources: u64, scopes: u64, spans: u64, attributes: u64) -> ExportTraceServiceRequest {
    let mut n = 0;
    ExportTraceServiceRequest {
        resource_spans: (0..resources)
            .map(|_| ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![testkit::kv("agentevals.session_name", "adversarial")],
                    ..Resource::default()
                }),
                scope_spans: (0..scopes)
                    .map(|_| ScopeSpans {
                        spans: (0..spans)
                            .map(|_| {
                                n += 1;
                                span(
                                    n,
                                    (0..attributes)
                                        .map(|a| testkit::kv(&format!("k{a}"), "v"))
                                        .collect(),
                                )
                            })
                            .collect(),
                        ..ScopeSpans::default()
                    })
                    .collect(),
                ..ResourceSpans::default()
            })
            .collect(),
    }
}

/// Asserts the test process's peak resident memory stayed under [`PEAK_RSS_MIB`] (nextest runs
/// each test in its own process, so the peak is this test's).
fn assert_peak_memory_bounded() {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let peak_kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmHWM");
    assert!(
        peak_kib < PEAK_RSS_MIB * 1024,
        "peak RSS {} MiB over {PEAK_RSS_MIB} MiB",
        peak_kib / 1024
    );
}

/// JSON of an attribute value nested `depth` times (`kvlistValue` and `arrayValue` by turns).
fn deep_json(depth: usize) -> String {
    let mut open = String::new();
    let mut close = String::new();
    for level in 0..depth {
        if level % 2 == 0 {
            open.push_str(r#"{"kvlistValue":{"values":[{"key":"k","value":"#);
            close.insert_str(0, "}]}}");
        } else {
            open.push_str(r#"{"arrayValue":{"values":["#);
            close.insert_str(0, "]}}");
        }
    }
    format!(
        r#"{{"resourceSpans":[{{"resource":{{"attributes":[{{"key":"agentevals.session_name","value":{{"stringValue":"deep"}}}}]}},"scopeSpans":[{{"spans":[{{"traceId":"abababababababababababababababab","spanId":"0000000000000001","name":"chat m","startTimeUnixNano":"1","endTimeUnixNano":"2","attributes":[{{"key":"deep","value":{open}{{"stringValue":"x"}}{close}}}]}}]}}]}}]}}"#
    )
}

fn varint(mut n: usize, out: &mut Vec<u8>) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn varint_len(n: usize) -> usize {
    let mut out = Vec::new();
    varint(n, &mut out);
    out.len()
}

/// A protobuf `ExportTraceServiceRequest` whose span has one attribute nested `depth` times
/// (`AnyValue.kvlist_value` > `KeyValueList.values` > `KeyValue.value`), written outside in
/// without recursion, so any depth can be built.
fn deep_protobuf(depth: usize) -> Vec<u8> {
    // The innermost AnyValue: string_value "x" (field 1).
    let inner = [0x0a, 0x01, b'x'];
    // Per level, from the inside out: the KeyValue's length, the KeyValueList's, and the length
    // of the AnyValue inside the KeyValue.
    let mut levels = Vec::with_capacity(depth);
    let mut any = inner.len();
    for _ in 0..depth {
        // KeyValue: key "k" (0a 01 6b), value (12 len ..).
        let key_value = 3 + 1 + varint_len(any) + any;
        // KeyValueList: values (0a len ..).
        let list = 1 + varint_len(key_value) + key_value;
        levels.push((key_value, list, any));
        // AnyValue: kvlist_value (32 len ..).
        any = 1 + varint_len(list) + list;
    }
    // The span's attribute: key "deep" (field 1), value (field 2).
    let mut attribute = vec![0x0a, 0x04, b'd', b'e', b'e', b'p', 0x12];
    varint(any, &mut attribute);
    let attribute_len = attribute.len() + any;
    let mut span_head = vec![0x0a, 0x10];
    span_head.extend_from_slice(&[0xab; 16]); // trace_id (1)
    span_head.extend_from_slice(&[0x12, 0x08, 0, 0, 0, 0, 0, 0, 0, 1]); // span_id (2)
    span_head.extend_from_slice(&[0x2a, 0x01, b'n']); // name (5)
    span_head.extend_from_slice(&[0x39, 1, 0, 0, 0, 0, 0, 0, 0]); // start (7, fixed64)
    span_head.extend_from_slice(&[0x41, 2, 0, 0, 0, 0, 0, 0, 0]); // end (8, fixed64)
    span_head.push(0x4a); // attributes (9)
    let span_len = span_head.len() + varint_len(attribute_len) + attribute_len;
    let scope_len = 1 + varint_len(span_len) + span_len; // ScopeSpans.spans (2)
    let resource_len = 1 + varint_len(scope_len) + scope_len; // ResourceSpans.scope_spans (2)
    let mut out = Vec::with_capacity(resource_len + 8);
    out.push(0x0a); // ExportTraceServiceRequest.resource_spans (1)
    varint(resource_len, &mut out);
    out.push(0x12);
    varint(scope_len, &mut out);
    out.push(0x12);
    varint(span_len, &mut out);
    out.extend_from_slice(&span_head);
    varint(attribute_len, &mut out);
    out.extend_from_slice(&attribute);
    for &(key_value, list, value) in levels.iter().rev() {
        out.push(0x32);
        varint(list, &mut out);
        out.push(0x0a);
        varint(key_value, &mut out);
        out.extend_from_slice(&[0x0a, 0x01, b'k', 0x12]);
        varint(value, &mut out);
    }
    out.extend_from_slice(&inner);
    out
}

#[test]
fn otlp_http_values_nested_any_depth_never_panic() {
    let rt = runtime();
    runner(5)
        .run(
            &(
                prop_oneof![0usize..64, 64usize..400, 400usize..40_000],
                any::<bool>(),
                any::<bool>(),
            ),
            |(depth, json, gzip)| {
                let body = if json {
                    deep_json(depth).into_bytes()
                } else {
                    deep_protobuf(depth)
                };
                let (status, answer) = post(&rt, body, Encoding { json, gzip });
                prop_assert!(status == 200 || status == 400, "{status} {answer}");
                // Shallow values are read; deeper ones are cut (JSON) or refused whole
                // (protobuf past prost's recursion limit), never a crash.
                if depth < 20 {
                    prop_assert_eq!(status, 200, "{}", answer);
                    prop_assert_eq!(rejected(&answer), 0, "{}", answer);
                }
                Ok(())
            },
        )
        .unwrap();
    assert_peak_memory_bounded();
}

#[test]
fn otlp_http_huge_counts_meet_the_limits() {
    let rt = runtime();
    runner(10)
        .run(
            &(
                (1u64..12, 1u64..12, 0u64..30, 0u64..16),
                prop_oneof![9 => Just(None), 1 => (0u64..200_000).prop_map(Some)],
                encoding(),
            ),
            |((resources, scopes, spans, attributes), many_attributes, encoding)| {
                // Many attributes on few spans, or a few on many.
                let (resources, scopes, spans, attributes) = match many_attributes {
                    Some(attributes) => (1, 1, spans.min(2), attributes),
                    None => (resources, scopes, spans, attributes),
                };
                let request = shaped(resources, scopes, spans, attributes);
                let body = encode(&request, encoding.json);
                let size = body.len();
                let items = resources * scopes * spans;
                let (status, answer) = post(&rt, body, encoding);
                let too_large = items > MAX_ITEMS
                    || if encoding.gzip {
                        size > MAX_DECOMPRESSED
                    } else {
                        size > MAX_BODY
                    };
                if too_large {
                    prop_assert_eq!(status, 413, "{} items, {} bytes: {}", items, size, answer);
                } else {
                    prop_assert_eq!(status, 200, "{} items, {} bytes: {}", items, size, answer);
                    prop_assert_eq!(rejected(&answer), 0, "{}", answer);
                }
                Ok(())
            },
        )
        .unwrap();
    assert_peak_memory_bounded();
}

/// Where a long string goes.
#[derive(Debug, Clone, Copy)]
enum Place {
    SpanName,
    AttributeKey,
    AttributeValue,
    NestedValue,
    EventName,
    StatusMessage,
    ResourceAttribute,
    ScopeName,
}

fn place() -> impl Strategy<Value = Place> {
    prop_oneof![
        Just(Place::SpanName),
        Just(Place::AttributeKey),
        Just(Place::AttributeValue),
        Just(Place::NestedValue),
        Just(Place::EventName),
        Just(Place::StatusMessage),
        Just(Place::ResourceAttribute),
        Just(Place::ScopeName),
    ]
}

#[test]
fn long_strings_anywhere_are_rejected_past_the_limit() {
    let rt = runtime();
    runner(1)
        .run(
            &(
                place(),
                prop_oneof![0usize..64, 900usize..1_200, 1_200usize..200_000],
                prop_oneof![Just('a'), Just('é'), Just('語'), Just('🚀')],
                encoding(),
            ),
            |(place, chars, ch, encoding)| {
                let long: String = std::iter::repeat_n(ch, chars).collect();
                let mut request = shaped(1, 1, 1, 1);
                let resource = &mut request.resource_spans[0];
                let span = &mut resource.scope_spans[0].spans[0];
                match place {
                    Place::SpanName => span.name = long.clone(),
                    Place::AttributeKey => span.attributes[0].key = long.clone(),
                    Place::AttributeValue => span.attributes[0].value = Some(string_value(&long)),
                    Place::NestedValue => {
                        span.attributes[0].value = Some(AnyValue {
                            value: Some(any_value::Value::ArrayValue(
                                opentelemetry_proto::tonic::common::v1::ArrayValue {
                                    values: vec![string_value("short"), string_value(&long)],
                                },
                            )),
                        });
                    }
                    Place::EventName => span.events.push(Event {
                        name: long.clone(),
                        time_unix_nano: 1,
                        ..Event::default()
                    }),
                    Place::StatusMessage => {
                        span.status = Some(opentelemetry_proto::tonic::trace::v1::Status {
                            code: 2,
                            message: long.clone(),
                        });
                    }
                    Place::ResourceAttribute => resource
                        .resource
                        .get_or_insert_with(Resource::default)
                        .attributes
                        .push(testkit::kv("long", &long)),
                    Place::ScopeName => {
                        resource.scope_spans[0].scope = Some(InstrumentationScope {
                            name: long.clone(),
                            ..InstrumentationScope::default()
                        });
                    }
                }
                let (status, answer) = post(&rt, encode(&request, encoding.json), encoding);
                prop_assert_eq!(status, 200, "{}", answer);
                let expected = i64::from(long.len() as u64 > MAX_STRING);
                prop_assert_eq!(
                    rejected(&answer),
                    expected,
                    "{:?} {} bytes: {}",
                    place,
                    long.len(),
                    answer
                );
                Ok(())
            },
        )
        .unwrap();
    assert_peak_memory_bounded();
}

#[test]
fn truncated_bodies_never_panic() {
    let rt = runtime();
    runner(1)
        .run(
            &(
                (1u64..4, 1u64..4, 0u64..8, 0u64..8),
                any::<prop::sample::Index>(),
                encoding(),
            ),
            |((resources, scopes, spans, attributes), cut, encoding)| {
                let body = encode(&shaped(resources, scopes, spans, attributes), encoding.json);
                let body = if encoding.gzip { gzip(&body) } else { body };
                let at = cut.index(body.len() + 1);
                let whole = at == body.len();
                let mut cut_body = body;
                cut_body.truncate(at);
                // Sent as is: the gzip stream (when gzip) is cut, not its content.
                let mut request = Request::post("/v1/traces").header(
                    "content-type",
                    if encoding.json {
                        "application/json"
                    } else {
                        "application/x-protobuf"
                    },
                );
                if encoding.gzip {
                    request = request.header("content-encoding", "gzip");
                }
                let response = rt
                    .block_on(
                        app(state()).oneshot(request.body(Body::from(cut_body)).expect("request")),
                    )
                    .expect("answer");
                let status = response.status().as_u16();
                prop_assert!(status == 200 || status == 400, "{}", status);
                if whole {
                    prop_assert_eq!(status, 200);
                }
                Ok(())
            },
        )
        .unwrap();
    assert_peak_memory_bounded();
}

/// 512 MiB of zeros, gzipped (about 500 KB), written without holding the zeros.
fn gzip_bomb() -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..512 {
        encoder.write_all(&zeros).expect("gzip");
    }
    encoder.finish().expect("gzip")
}

#[test]
fn a_gzip_bomb_is_cut_at_the_limit_on_every_route() {
    let rt = runtime();
    let bomb = gzip_bomb();
    for route in ["/v1/traces", "/v1/logs", "/v1/metrics"] {
        for content_type in ["application/x-protobuf", "application/json"] {
            let request = Request::post(route)
                .header("content-type", content_type)
                .header("content-encoding", "gzip")
                .body(Body::from(bomb.clone()))
                .expect("request");
            let response = rt.block_on(app(state()).oneshot(request)).expect("answer");
            assert_eq!(response.status(), 413, "{route} {content_type}");
        }
    }
    assert_peak_memory_bounded();
}

/// The gRPC method of trace export.
const TRACE_EXPORT: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

/// One gRPC call made of raw HTTP/2 DATA frames: returns the `grpc-status`, from the headers (a
/// trailers-only answer) or the trailers; `None` when the stream ended without one.
async fn raw_grpc_call(
    addr: std::net::SocketAddr,
    path: &str,
    encoding: Option<&str>,
    frames: Vec<Vec<u8>>,
) -> Option<String> {
    let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let (client, connection) = h2::client::handshake(tcp).await.expect("HTTP/2 handshake");
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let mut client = client.ready().await.expect("ready");
    let mut request = http::Request::builder()
        .method("POST")
        .uri(format!("http://{addr}{path}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers");
    if let Some(encoding) = encoding {
        request = request.header("grpc-encoding", encoding);
    }
    let (response, mut stream) = client
        .send_request(request.body(()).expect("request"), false)
        .expect("send");
    for frame in frames {
        // The server may answer (and reset the stream) before reading everything.
        if stream.send_data(Bytes::from(frame), false).is_err() {
            break;
        }
    }
    let _ = stream.send_data(Bytes::new(), true);
    let response = tokio::time::timeout(testkit::WAIT, response)
        .await
        .expect("an answer in time")
        .ok()?;
    if let Some(status) = response.headers().get("grpc-status") {
        return Some(status.to_str().unwrap_or("?").to_owned());
    }
    let mut body = response.into_body();
    while let Some(chunk) = tokio::time::timeout(testkit::WAIT, body.data())
        .await
        .expect("data in time")
    {
        let chunk = chunk.ok()?;
        let _ = body.flow_control().release_capacity(chunk.len());
    }
    let trailers = tokio::time::timeout(testkit::WAIT, body.trailers())
        .await
        .expect("trailers in time")
        .ok()??;
    trailers
        .get("grpc-status")
        .map(|s| s.to_str().unwrap_or("?").to_owned())
}

/// A gRPC message: the compressed flag, a declared length and the payload, as sent.
#[derive(Debug, Clone)]
struct Frame {
    flag: u8,
    declared: Option<u32>,
    payload: Vec<u8>,
    splits: Vec<prop::sample::Index>,
}

fn frame() -> impl Strategy<Value = Frame> {
    let payload = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..256),
        (0u64..4, 0u64..6, any::<prop::sample::Index>()).prop_map(|(scopes, spans, cut)| {
            let mut body = shaped(1, scopes, spans, 2).encode_to_vec();
            let keep = cut.index(body.len() + 1);
            body.truncate(keep);
            body
        }),
        (0usize..3_000).prop_map(deep_protobuf),
    ];
    (
        prop_oneof![Just(0u8), Just(1u8), any::<u8>()],
        prop_oneof![
            Just(None),
            any::<u32>().prop_map(Some),
            (0u32..300).prop_map(Some)
        ],
        payload,
        prop::collection::vec(any::<prop::sample::Index>(), 0..4),
    )
        .prop_map(|(flag, declared, payload, splits)| Frame {
            flag,
            declared,
            payload,
            splits,
        })
}

impl Frame {
    /// The bytes of the gRPC message, split into DATA frames at `splits`.
    fn data_frames(&self) -> Vec<Vec<u8>> {
        let declared = self
            .declared
            .unwrap_or(u32::try_from(self.payload.len()).unwrap_or(u32::MAX));
        let mut bytes = vec![self.flag];
        bytes.extend_from_slice(&declared.to_be_bytes());
        bytes.extend_from_slice(&self.payload);
        let mut cuts: Vec<usize> = self
            .splits
            .iter()
            .map(|i| i.index(bytes.len() + 1))
            .collect();
        cuts.sort_unstable();
        let mut frames = Vec::new();
        let mut from = 0;
        for cut in cuts {
            frames.push(bytes[from..cut].to_vec());
            from = cut;
        }
        frames.push(bytes[from..].to_vec());
        frames
    }
}

#[test]
fn grpc_frames_of_any_shape_get_a_status() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let server: Server = rt.block_on(testkit::start_with_limits(limits()));
    let addr = server.otlp_grpc_addr().expect("gRPC port");
    runner(1)
        .run(
            &(
                frame(),
                prop_oneof![Just(None), Just(Some("gzip")), Just(Some("zstd"))],
                prop_oneof![
                    Just(TRACE_EXPORT),
                    Just("/opentelemetry.proto.collector.logs.v1.LogsService/Export"),
                    Just("/opentelemetry.proto.collector.metrics.v1.MetricsService/Export"),
                ],
            ),
            |(frame, encoding, path)| {
                let status = rt.block_on(raw_grpc_call(addr, path, encoding, frame.data_frames()));
                prop_assert!(status.is_some(), "no grpc-status for {:?}", frame);
                Ok(())
            },
        )
        .unwrap();
    // The server still takes a good export.
    let good = testkit::traces(
        vec![testkit::kv("agentevals.session_name", "after")],
        testkit::agent_turn(1, 1, "q", "a"),
    )
    .encode_to_vec();
    let mut message = vec![0];
    message.extend_from_slice(&u32::try_from(good.len()).unwrap().to_be_bytes());
    message.extend_from_slice(&good);
    let status = rt.block_on(raw_grpc_call(addr, TRACE_EXPORT, None, vec![message]));
    assert_eq!(status.as_deref(), Some("0"));
    rt.block_on(server.shutdown());
    assert_peak_memory_bounded();
}

/// What a hostile WebSocket message must get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// Any reply, or none.
    Anything,
    /// An `error`.
    Error,
    /// No reply: it was stored.
    Stored,
}

/// A hostile WebSocket ingest message (all under the message limit) and what it must get.
fn ws_message() -> impl Strategy<Value = (Message, Expect)> {
    let span = |attributes: String| {
        format!(
            r#"{{"traceId":"abababababababababababababababab","spanId":"0000000000000001","name":"chat m","startTimeUnixNano":"1","endTimeUnixNano":"2","attributes":[{attributes}]}}"#
        )
    };
    let deep = (0usize..20_000).prop_map(move |depth| {
        let document = deep_json(depth);
        // The span object of the deep document.
        let start = document.find(r#"{"traceId""#).unwrap_or(0);
        let end = document.rfind("]}]}]}").unwrap_or(document.len());
        let span = document.get(start..end).unwrap_or("{}").to_owned();
        (
            format!(r#"{{"type":"span","session_id":"s","span":{span}}}"#),
            Expect::Anything,
        )
    });
    let long = (
        0usize..200_000,
        prop_oneof![Just('a'), Just('ü'), Just('🚀')],
    )
        .prop_map(move |(chars, ch)| {
            let text: String = std::iter::repeat_n(ch, chars).collect();
            let expect = if text.len() as u64 > MAX_STRING {
                Expect::Error
            } else {
                Expect::Stored
            };
            let message = format!(
                r#"{{"type":"spans","session_id":"s","spans":[{}]}}"#,
                span(format!(
                    r#"{{"key":"long","value":{{"stringValue":"{text}"}}}}"#
                ))
            );
            (message, expect)
        });
    let many = (0usize..3_000).prop_map(move |n| {
        let spans: Vec<String> = (0..n).map(|_| span(String::new())).collect();
        let expect = if n as u64 > MAX_ITEMS {
            Expect::Error
        } else {
            Expect::Stored
        };
        let message = format!(
            r#"{{"type":"spans","session_id":"s","spans":[{}]}}"#,
            spans.join(",")
        );
        (message, expect)
    });
    let cut = (
        prop_oneof![
            Just(r#"{"type":"session_start","session_id":"s","metadata":{"a":[1,2,{"b":null}]}}"#.to_owned()),
            Just(format!(r#"{{"type":"span","session_id":"s","span":{}}}"#, span(r#"{"key":"k","value":{"intValue":"7"}}"#.to_owned()))),
            Just(r#"{"type":"log","session_id":"s","log":{"event_name":"e","body":{"x":[1,{"y":2}]}}}"#.to_owned()),
        ],
        any::<prop::sample::Index>(),
    )
        .prop_map(|(message, cut)| {
            let mut at = cut.index(message.len() + 1);
            while !message.is_char_boundary(at) {
                at -= 1;
            }
            let expect = if at < message.len() { Expect::Error } else { Expect::Anything };
            (message.get(..at).unwrap_or_default().to_owned(), expect)
        });
    prop_oneof![
        deep.prop_map(|(t, e)| (Message::Text(t.into()), e)),
        long.prop_map(|(t, e)| (Message::Text(t.into()), e)),
        many.prop_map(|(t, e)| (Message::Text(t.into()), e)),
        cut.prop_map(|(t, e)| (Message::Text(t.into()), e)),
        prop::collection::vec(any::<u8>(), 0..512)
            .prop_map(|b| (Message::Binary(b.into()), Expect::Anything)),
    ]
}

#[test]
fn websocket_messages_of_any_shape_get_an_answer() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let server: Server = rt.block_on(testkit::start_with_limits(limits()));
    // The property is a `Fn`: the connection is borrowed from a cell for each case.
    let ws = std::cell::RefCell::new(rt.block_on(async {
        let mut ws = testkit::ws(&server, "/ws/traces").await;
        ws.send(Message::Text(
            r#"{"type":"session_start","session_id":"s"}"#.into(),
        ))
        .await
        .expect("send");
        assert_eq!(testkit::next_json(&mut ws).await["type"], "session_started");
        ws
    }));
    runner(5)
        .run(&ws_message(), |(message, expect)| {
            let mut ws = ws.borrow_mut();
            let replies = rt.block_on(async {
                ws.send(message).await.expect("send");
                // A message without a session: its error comes after the reply to the hostile
                // message, if any (replies keep the order of the messages).
                ws.send(Message::Text(r#"{"type":"barrier"}"#.into()))
                    .await
                    .expect("send");
                let mut replies = Vec::new();
                loop {
                    let reply = testkit::next_json(&mut ws).await;
                    if reply["message"]
                        .as_str()
                        .is_some_and(|m| m.contains("`barrier`"))
                    {
                        return replies;
                    }
                    replies.push(reply);
                }
            });
            prop_assert!(replies.len() <= 1, "{:?}", replies);
            for reply in &replies {
                prop_assert!(
                    reply["type"] == "error" || reply["type"] == "session_started",
                    "{}",
                    reply
                );
            }
            match expect {
                Expect::Anything => {}
                Expect::Error => prop_assert!(
                    replies.first().is_some_and(|r| r["type"] == "error"),
                    "{:?}",
                    replies
                ),
                Expect::Stored => prop_assert!(replies.is_empty(), "{:?}", replies),
            }
            Ok(())
        })
        .unwrap();
    rt.block_on(server.shutdown());
    assert_peak_memory_bounded();
}
