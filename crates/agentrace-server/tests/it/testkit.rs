//! Helpers shared by the server tests: start a server on loopback, build OTLP requests, read the
//! live feed with a bound on waiting.

use std::time::Duration;

use agentrace_server::{
    Server,
    config::{DbLocation, Limits, ServerConfig, SessionRules},
};
use futures::StreamExt;
use opentelemetry_proto::tonic::{
    collector::{logs::v1::ExportLogsServiceRequest, trace::v1::ExportTraceServiceRequest},
    common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value},
    logs::v1::{LogRecord, ResourceLogs, ScopeLogs},
    resource::v1::Resource,
    trace::v1::{ResourceSpans, ScopeSpans, Span, Status, status},
};
use serde_json::Value;

/// Checks an export's partial success: `count` spans rejected, with `reason` in the message.
pub(crate) fn assert_spans_rejected(
    partial: Option<opentelemetry_proto::tonic::collector::trace::v1::ExportTracePartialSuccess>,
    count: i64,
    reason: &str,
) {
    let partial = partial.expect("partial success");
    assert_eq!(partial.rejected_spans, count, "{}", partial.error_message);
    assert!(
        partial.error_message.contains(reason),
        "`{reason}` not in: {}",
        partial.error_message
    );
}

/// How long a test waits for something the server must do, at most.
pub(crate) const WAIT: Duration = Duration::from_secs(10);

/// Fast session rules so completion happens within a test.
pub(crate) fn fast_rules() -> SessionRules {
    SessionRules {
        completion_grace: Duration::from_millis(50),
        idle_timeout: Duration::from_millis(200),
        rerun_window: Duration::from_secs(30),
        staged_ttl: Duration::from_secs(120),
    }
}

/// A configuration on 127.0.0.1 with free ports and an in-memory database.
pub(crate) fn config() -> agentrace_server::config::ServerConfigBuilder {
    ServerConfig::builder()
        .with_port(0)
        .with_otlp_http_port(Some(0))
        .with_otlp_grpc_port(Some(0))
        .with_db(DbLocation::Memory)
        .with_session_rules(fast_rules())
        .with_limits(Limits::default())
}

/// Starts a server.
pub(crate) async fn start(config: ServerConfig) -> Server {
    Server::start(config).await.expect("server starts")
}

/// Starts a server with the test configuration of [`config`].
pub(crate) async fn start_default() -> Server {
    start(config().build().expect("valid configuration")).await
}

/// Starts a server with the test configuration of [`config`] and `limits`.
pub(crate) async fn start_with_limits(limits: agentrace_server::config::Limits) -> Server {
    start(
        config()
            .with_limits(limits)
            .build()
            .expect("valid configuration"),
    )
    .await
}

/// `http://127.0.0.1:port`.
pub(crate) fn base(server: &Server) -> String {
    format!("http://{}", server.main_addr())
}

/// A string attribute.
pub(crate) fn kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.to_owned())),
        }),
        ..KeyValue::default()
    }
}

/// An int attribute.
pub(crate) fn kv_int(key: &str, value: i64) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::IntValue(value)),
        }),
        ..KeyValue::default()
    }
}

/// A 16-byte trace id from a small number.
pub(crate) fn trace_id(n: u8) -> Vec<u8> {
    let mut id = vec![0u8; 16];
    id[0] = 0xab;
    id[15] = n;
    id
}

/// An 8-byte span id from a small number.
pub(crate) fn span_id(n: u8) -> Vec<u8> {
    let mut id = vec![0u8; 8];
    id[0] = 0xcd;
    id[7] = n;
    id
}

/// A span.
pub(crate) fn span(
    trace: u8,
    id: u8,
    parent: Option<u8>,
    name: &str,
    attrs: Vec<KeyValue>,
) -> Span {
    Span {
        trace_id: trace_id(trace),
        span_id: span_id(id),
        parent_span_id: parent.map(span_id).unwrap_or_default(),
        name: name.to_owned(),
        kind: 1,
        start_time_unix_nano: 1_700_000_000_000_000_000 + u64::from(id) * 1_000_000,
        end_time_unix_nano: 1_700_000_000_000_000_000 + u64::from(id) * 1_000_000 + 500_000,
        attributes: attrs,
        status: Some(Status {
            code: status::StatusCode::Unset as i32,
            message: String::new(),
        }),
        ..Span::default()
    }
}

/// A request with one resource (with `resource_attrs`) holding `spans`.
pub(crate) fn traces(resource_attrs: Vec<KeyValue>, spans: Vec<Span>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: resource_attrs,
                ..Resource::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "test".to_owned(),
                    ..Default::default()
                }),
                spans,
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        }],
    }
}

/// A logs request with one resource.
pub(crate) fn logs(
    resource_attrs: Vec<KeyValue>,
    records: Vec<LogRecord>,
) -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(Resource {
                attributes: resource_attrs,
                ..Resource::default()
            }),
            scope_logs: vec![ScopeLogs {
                log_records: records,
                ..ScopeLogs::default()
            }],
            ..ResourceLogs::default()
        }],
    }
}

/// A small agent turn: invoke_agent > chat, with content on the chat span, in trace `trace`.
pub(crate) fn agent_turn(trace: u8, first_span: u8, user: &str, answer: &str) -> Vec<Span> {
    let input = format!(r#"[{{"role":"user","parts":[{{"type":"text","content":"{user}"}}]}}]"#);
    let output = format!(
        r#"[{{"role":"assistant","parts":[{{"type":"text","content":"{answer}"}}],"finish_reason":"stop"}}]"#
    );
    vec![
        span(
            trace,
            first_span,
            None,
            "invoke_agent helper",
            vec![
                kv("gen_ai.operation.name", "invoke_agent"),
                kv("gen_ai.agent.name", "helper"),
            ],
        ),
        span(
            trace,
            first_span + 1,
            Some(first_span),
            "chat m",
            vec![
                kv("gen_ai.operation.name", "chat"),
                kv("gen_ai.request.model", "m"),
                kv("gen_ai.input.messages", &input),
                kv("gen_ai.output.messages", &output),
                kv_int("gen_ai.usage.input_tokens", 10),
            ],
        ),
    ]
}

/// An HTTP client.
pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(WAIT)
        .build()
        .expect("client")
}

/// Subscribes to the SSE live feed of the server at `base`.
pub(crate) async fn live_feed(base: &str) -> reqwest::Response {
    client()
        .get(format!("{base}/stream/ui-updates"))
        .send()
        .await
        .expect("SSE feed")
}

/// Reads the SSE feed until `pred` accepts an event; panics after [`WAIT`].
pub(crate) async fn wait_for_event(
    response: reqwest::Response,
    mut pred: impl FnMut(&Value) -> bool,
) -> Vec<Value> {
    let mut seen = Vec::new();
    let mut stream = response.bytes_stream();
    let mut buffer = String::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let chunk = tokio::time::timeout_at(deadline, stream.next())
            .await
            .expect("event arrives in time")
            .expect("stream open")
            .expect("chunk");
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find("\n\n") {
            let frame: String = buffer.drain(..end + 2).collect();
            for line in frame.lines() {
                if let Some(data) = line.strip_prefix("data:") {
                    let event: Value = serde_json::from_str(data.trim()).expect("event JSON");
                    let done = pred(&event);
                    seen.push(event);
                    if done {
                        return seen;
                    }
                }
            }
        }
    }
}

/// GETs `url` and parses the JSON body.
pub(crate) async fn get_json(url: &str) -> Value {
    client()
        .get(url)
        .send()
        .await
        .expect("GET")
        .json()
        .await
        .expect("JSON body")
}

/// POSTs an OTLP protobuf export to `url`.
pub(crate) async fn post_proto(url: &str, body: &impl prost::Message) -> reqwest::Response {
    client()
        .post(url)
        .header("content-type", "application/x-protobuf")
        .body(body.encode_to_vec())
        .send()
        .await
        .expect("POST")
}

/// A WebSocket client connection.
pub(crate) type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A WebSocket connection to `path` (`/ws/traces`, `/ws/live`) of `server`.
pub(crate) async fn ws(server: &Server, path: &str) -> Ws {
    let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{}{path}", server.main_addr()))
        .await
        .expect("WebSocket upgrade");
    ws
}

/// The next JSON text message of a WebSocket; panics after [`WAIT`].
pub(crate) async fn next_json(ws: &mut Ws) -> Value {
    loop {
        let message = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("reply in time")
            .expect("socket open")
            .expect("message");
        if let tokio_tungstenite::tungstenite::Message::Text(text) = message {
            return serde_json::from_str(&text).expect("JSON reply");
        }
    }
}

/// A gRPC client codec that sends raw bytes as the request message (and reads a trace
/// export's response).
#[derive(Default)]
pub(crate) struct RawCodec;

pub(crate) struct RawEncoder;
pub(crate) struct ResponseDecoder;

impl tonic::codec::Encoder for RawEncoder {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn encode(
        &mut self,
        item: Vec<u8>,
        dst: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), Self::Error> {
        use bytes::BufMut as _;
        dst.put_slice(&item);
        Ok(())
    }
}

impl tonic::codec::Decoder for ResponseDecoder {
    type Item = opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
    type Error = tonic::Status;
    fn decode(
        &mut self,
        src: &mut tonic::codec::DecodeBuf<'_>,
    ) -> Result<Option<Self::Item>, Self::Error> {
        <opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse as prost::Message>::decode(src)
            .map(Some)
            .map_err(|e| tonic::Status::internal(e.to_string()))
    }
}

impl tonic::codec::Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
    type Encoder = RawEncoder;
    type Decoder = ResponseDecoder;
    fn encoder(&mut self) -> RawEncoder {
        RawEncoder
    }
    fn decoder(&mut self) -> ResponseDecoder {
        ResponseDecoder
    }
}

/// The case count of a property test over hostile input: `AGENTRACE_FUZZ_CASES` when set (as
/// `cargo xtask fuzz` sets it), else `default`.
pub(crate) fn fuzz_cases(default: u32) -> u32 {
    std::env::var("AGENTRACE_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A turn in session `name` whose chat span carries `filler` bytes that do not compress.
pub(crate) fn bulky_turn(name: &str, trace: u8, filler: usize) -> Vec<u8> {
    let mut state = u64::from(trace).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let noise: String = (0..filler)
        .map(|_| {
            // xorshift: text LZ4 cannot shrink.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            char::from(b'a' + (state % 26) as u8)
        })
        .collect();
    let mut spans = agent_turn(trace, 1, "question", "answer");
    spans[1].attributes.push(kv("filler", &noise));
    prost::Message::encode_to_vec(&traces(vec![kv("agentevals.session_name", name)], spans))
}
