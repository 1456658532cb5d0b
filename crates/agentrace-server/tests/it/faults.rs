//! Storage faults under load: a database that runs out of space while producers of every
//! protocol keep sending over real TCP. Each producer gets a retryable answer (503 with
//! `Retry-After`, gRPC `UNAVAILABLE`, a WebSocket `error` with `retry_after`), never a 500 or a
//! lost batch; every span acknowledged is readable afterwards through the API; and once space is
//! freed (sessions deleted through the API), ingest resumes.
//!
//! The space is bounded by `--max-db-mib` (SQLite's `max_page_count`), which fails a write with
//! the same error (`SQLITE_FULL`) as a full filesystem does, on every machine and without root.

use std::collections::BTreeMap;

use agentrace_server::{Server, config::DbLocation, config::Limits};
use futures::SinkExt;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse, trace_service_client::TraceServiceClient,
};
use prost::Message as _;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::testkit::{self, agent_turn, kv, traces};

/// The database's bound: small, so a few dozen batches fill it.
const MAX_DB_BYTES: u64 = 1024 * 1024;
/// Incompressible text in each batch (the store compresses span bodies).
const FILLER_BYTES: usize = 12_000;
/// At most this many batches a producer sends while filling (a bound on the loop; the
/// database fills within a quarter of it).
const MAX_BATCHES: u32 = 400;
/// A producer keeps sending until it has been refused this many times.
const REFUSALS: u32 = 3;

/// The protocols a producer speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Protocol {
    OtlpProtobuf,
    OtlpJson,
    Grpc,
    WebSocket,
}

impl Protocol {
    const ALL: [Self; 4] = [
        Self::OtlpProtobuf,
        Self::OtlpJson,
        Self::Grpc,
        Self::WebSocket,
    ];

    fn name(self) -> &'static str {
        match self {
            Self::OtlpProtobuf => "pb",
            Self::OtlpJson => "json",
            Self::Grpc => "grpc",
            Self::WebSocket => "ws",
        }
    }
}

/// What the server answered to a batch.
#[derive(Debug, PartialEq, Eq)]
enum Answer {
    /// Stored, every span of it.
    Acknowledged,
    /// Refused with a retry signal; nothing of it is stored.
    Retry,
}

/// A pseudo-random text of `len` lowercase letters and spaces, different for every `seed`.
fn text(seed: u64, len: usize) -> String {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            match state % 27 {
                26 => ' ',
                n => char::from(b'a' + n as u8),
            }
        })
        .collect()
}

/// The 16-byte trace id of batch `n` of `protocol`.
fn trace_id(protocol: Protocol, n: u32) -> Vec<u8> {
    let mut id = vec![0x5a; 16];
    id[0] = protocol as u8 + 1;
    id[12..].copy_from_slice(&n.to_be_bytes());
    id
}

/// The session of batch `n` of `protocol`, and its request: an agent turn with a long,
/// incompressible question.
fn batch(protocol: Protocol, n: u32) -> (String, ExportTraceServiceRequest) {
    let session = format!("fault-{}-{n}", protocol.name());
    let seed = (protocol as u64) << 32 | u64::from(n);
    let mut spans = agent_turn(1, 1, &text(seed, FILLER_BYTES), "noted");
    for span in &mut spans {
        span.trace_id = trace_id(protocol, n);
    }
    let request = traces(vec![kv("agentevals.session_name", &session)], spans);
    (session, request)
}

/// A producer of one protocol, connected to the server.
struct Producer {
    protocol: Protocol,
    http: reqwest::Client,
    base: String,
    grpc: Option<TraceServiceClient<tonic::transport::Channel>>,
    ws: Option<testkit::Ws>,
    /// WebSocket sessions started whose spans were refused: stored, empty.
    empty: Vec<String>,
}

impl Producer {
    async fn connect(server: &Server, protocol: Protocol) -> Self {
        let grpc = match protocol {
            Protocol::Grpc => Some(
                TraceServiceClient::connect(format!(
                    "http://{}",
                    server.otlp_grpc_addr().expect("gRPC port")
                ))
                .await
                .expect("gRPC connects"),
            ),
            _ => None,
        };
        let ws = match protocol {
            Protocol::WebSocket => Some(testkit::ws(server, "/ws/traces").await),
            _ => None,
        };
        Self {
            protocol,
            http: testkit::client(),
            base: testkit::base(server),
            grpc,
            ws,
            empty: Vec::new(),
        }
    }

    /// Sends batch `n`; returns its session and the answer. Any answer but an acknowledgement
    /// or a retry signal fails the test.
    async fn send(&mut self, n: u32) -> (String, Answer) {
        let (session, request) = batch(self.protocol, n);
        let answer = match self.protocol {
            Protocol::OtlpProtobuf => self.http_export(&request, true).await,
            Protocol::OtlpJson => self.http_export(&request, false).await,
            Protocol::Grpc => self.grpc_export(request).await,
            Protocol::WebSocket => self.ws_export(&session, &request).await,
        };
        (session, answer)
    }

    async fn http_export(&self, request: &ExportTraceServiceRequest, protobuf: bool) -> Answer {
        let (content_type, body) = if protobuf {
            ("application/x-protobuf", request.encode_to_vec())
        } else {
            (
                "application/json",
                serde_json::to_vec(request).expect("JSON"),
            )
        };
        let response = self
            .http
            .post(format!("{}/v1/traces", self.base))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("POST");
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap_or_default().to_owned());
        let body = response.bytes().await.expect("body");
        match status {
            200 => {
                let rejected = if protobuf {
                    ExportTraceServiceResponse::decode(body.as_ref())
                        .expect("protobuf answer")
                        .partial_success
                        .map_or(0, |p| p.rejected_spans)
                } else {
                    let answer: Value = serde_json::from_slice(&body).expect("JSON answer");
                    answer["partialSuccess"]["rejectedSpans"]
                        .as_i64()
                        .unwrap_or_default()
                };
                assert_eq!(rejected, 0, "{}", String::from_utf8_lossy(&body));
                Answer::Acknowledged
            }
            503 => {
                assert_eq!(retry_after.as_deref(), Some("5"));
                Answer::Retry
            }
            other => panic!("{other}: {}", String::from_utf8_lossy(&body)),
        }
    }

    async fn grpc_export(&mut self, request: ExportTraceServiceRequest) -> Answer {
        let grpc = self.grpc.as_mut().expect("gRPC client");
        match grpc.export(request).await {
            Ok(response) => {
                let rejected = response
                    .into_inner()
                    .partial_success
                    .map_or(0, |p| p.rejected_spans);
                assert_eq!(rejected, 0);
                Answer::Acknowledged
            }
            Err(status) if status.code() == tonic::Code::Unavailable => Answer::Retry,
            Err(status) => panic!("gRPC: {status:?}"),
        }
    }

    /// `session_start`, `spans`, then a message without a session (a barrier): its error comes
    /// back after the replies of the two before it (replies keep the order of the messages), and
    /// a `spans` message that was stored has no reply.
    async fn ws_export(&mut self, session: &str, request: &ExportTraceServiceRequest) -> Answer {
        let spans: Vec<Value> = request.resource_spans[0].scope_spans[0]
            .spans
            .iter()
            .map(|s| serde_json::to_value(s).expect("span JSON"))
            .collect();
        for message in [
            json!({"type": "session_start", "session_id": session}),
            json!({"type": "spans", "session_id": session, "spans": spans}),
            json!({"type": "barrier"}),
        ] {
            let ws = self.ws.as_mut().expect("WebSocket");
            ws.send(Message::Text(message.to_string().into()))
                .await
                .expect("send");
        }
        let started = testkit::next_json(self.ws.as_mut().expect("WebSocket")).await;
        let mut answer = match started["type"].as_str() {
            Some("session_started") => {
                assert_eq!(started["session_id"], session);
                assert!(started.get("stored_as").is_none(), "{started}");
                Answer::Acknowledged
            }
            _ => {
                assert_retry(&started);
                Answer::Retry
            }
        };
        loop {
            let reply = testkit::next_json(self.ws.as_mut().expect("WebSocket")).await;
            let message = reply["message"].as_str().unwrap_or_default();
            if message.contains("`barrier` message without a `session_id`") {
                return answer;
            }
            // An error before the barrier's is the `spans` message's (or, when the session was
            // not started, the refusal of spans for an unknown session).
            if answer == Answer::Retry && message.contains("unknown session") {
                continue;
            }
            assert_retry(&reply);
            if answer == Answer::Acknowledged {
                self.empty.push(session.to_owned());
            }
            answer = Answer::Retry;
        }
    }
}

/// A WebSocket `error` that says to retry.
fn assert_retry(reply: &Value) {
    assert_eq!(reply["type"], "error", "{reply}");
    assert_eq!(reply["retry_after"], 5, "{reply}");
    assert!(
        reply["message"]
            .as_str()
            .is_some_and(|m| m.contains("the database is full")),
        "{reply}"
    );
}

/// Sends batches from `start` on until the producer has been refused [`REFUSALS`] times;
/// returns the sessions acknowledged and the next batch number.
async fn fill(producer: &mut Producer, start: u32) -> (Vec<String>, u32) {
    let mut acknowledged = Vec::new();
    let mut refusals = 0;
    let mut n = start;
    while refusals < REFUSALS && n < start + MAX_BATCHES {
        match producer.send(n).await {
            (session, Answer::Acknowledged) => acknowledged.push(session),
            (_, Answer::Retry) => refusals += 1,
        }
        n += 1;
    }
    assert_eq!(
        refusals, REFUSALS,
        "{:?} never refused in {MAX_BATCHES} batches",
        producer.protocol
    );
    (acknowledged, n)
}

/// Checks that every acknowledged session holds its batch's two spans, of its trace.
async fn assert_readable(base: &str, acknowledged: &BTreeMap<Protocol, Vec<String>>) {
    for (protocol, sessions) in acknowledged {
        for session in sessions {
            let n: u32 = session
                .rsplit('-')
                .next()
                .and_then(|n| n.parse().ok())
                .expect("batch number");
            let spans = testkit::get_json(&format!("{base}/api/sessions/{session}/spans")).await;
            let spans = spans["spans"].as_array().expect("spans");
            assert_eq!(spans.len(), 2, "{session}");
            let expected = hex::encode(trace_id(*protocol, n));
            for span in spans {
                assert_eq!(span["traceId"], expected.as_str(), "{session}");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_database_under_load_refuses_retryably_keeps_what_it_acknowledged_and_recovers() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = testkit::start(
        testkit::config()
            .with_db(DbLocation::File(dir.path().join("fault.db")))
            .with_limits(Limits {
                max_db_bytes: Some(MAX_DB_BYTES),
                ..Limits::default()
            })
            .build()
            .expect("valid configuration"),
    )
    .await;
    let base = testkit::base(&server);

    // Every producer sends at once until the database is full and it has been refused a few
    // times.
    let mut producers = Vec::new();
    for protocol in Protocol::ALL {
        producers.push(Producer::connect(&server, protocol).await);
    }
    let filled = futures::future::join_all(producers.into_iter().map(|mut producer| async move {
        let (acknowledged, next) = fill(&mut producer, 0).await;
        (producer, acknowledged, next)
    }))
    .await;
    let mut acknowledged = BTreeMap::new();
    let mut producers = Vec::new();
    for (producer, sessions, next) in filled {
        assert!(
            !sessions.is_empty(),
            "{:?} stored nothing",
            producer.protocol
        );
        acknowledged.insert(producer.protocol, sessions);
        producers.push((producer, next));
    }
    assert_readable(&base, &acknowledged).await;
    let listed = testkit::get_json(&format!("{base}/api/sessions?limit=1")).await;
    let stored: usize = acknowledged.values().map(Vec::len).sum::<usize>()
        + producers.iter().map(|(p, _)| p.empty.len()).sum::<usize>();
    assert_eq!(
        listed["total"], stored,
        "only acknowledged batches are stored"
    );

    // Free space: delete the older half of each producer's sessions through the API.
    let http = testkit::client();
    for sessions in acknowledged.values_mut() {
        let keep = sessions.split_off(sessions.len() / 2);
        for session in sessions.iter() {
            let response = http
                .delete(format!("{base}/api/sessions/{session}"))
                .send()
                .await
                .expect("DELETE");
            assert_eq!(response.status(), 204, "{session}");
        }
        *sessions = keep;
    }

    // Ingest resumes for every protocol: the next batch is acknowledged.
    for (producer, next) in &mut producers {
        let (session, answer) = producer.send(*next).await;
        assert_eq!(answer, Answer::Acknowledged, "{:?}", producer.protocol);
        acknowledged
            .get_mut(&producer.protocol)
            .expect("producer's sessions")
            .push(session);
    }
    assert_readable(&base, &acknowledged).await;
    server.shutdown().await;
}
