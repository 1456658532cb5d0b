//! `cargo xtask soak [--seconds N] [--rss-ceiling-mib M]`: mixed load against the release
//! binary, as a process on loopback.
//!
//! Builds `agentrace serve` in release, starts it on free loopback ports with a file database
//! under the target directory, and for `N` seconds (default 300) runs at once:
//!
//! - three OTLP producers, over OTLP/HTTP protobuf, OTLP/HTTP JSON and OTLP/gRPC, each sending
//!   agent turns (an `invoke_agent` span, one to three `chat` spans with content-captured
//!   messages, sometimes an `execute_tool` span) into sessions of a few turns each;
//! - a WebSocket producer (`/ws/traces`): a session per connection run, `session_start`,
//!   `spans` messages, `session_end`;
//! - every five seconds a burst of [`BURST`] OTLP/HTTP protobuf requests at once, more than the
//!   ingest queue takes, so the server refuses some with its documented 503;
//! - live readers: an SSE reader (`/stream/ui-updates`) and a `/ws/live` reader that read every
//!   event, and one of each that never reads;
//! - an API reader (session list, a session, its spans, health) and a deleter that deletes
//!   finished sessions.
//!
//! The text is generated from a seeded generator: no two requests are alike, and messages mix
//! ASCII with multi-byte text. Then it checks that the server's resident memory (`VmRSS` of
//! `/proc/<pid>/status`, sampled every half second) stayed under the ceiling (default
//! [`RSS_CEILING_MIB`]), that the only errors were documented 503s with `Retry-After` (gRPC
//! `UNAVAILABLE`, a WebSocket `error` with `retry_after`), and that every span acknowledged, in
//! every session not deleted, is read back through the API, and nothing else. It prints the
//! figures that docs/benchmarks.md records.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use agentrace_semconv::attr;
use anyhow::{Context, Result, bail};
use futures::{SinkExt, StreamExt};
use opentelemetry_proto::tonic::{
    collector::trace::v1::{
        ExportTraceServiceRequest, ExportTraceServiceResponse,
        trace_service_client::TraceServiceClient,
    },
    common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value},
    resource::v1::Resource,
    trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span::SpanKind, status::StatusCode},
};
use parking_lot::Mutex;
use prost::Message as _;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::{
    build_dir, cargo, exec, target_dir,
    vocab::{MODELS, Rng, TOOLS, sentence},
};

/// The resident memory the server must stay under, by default, in MiB.
pub(crate) const RSS_CEILING_MIB: u64 = 256;
/// Turns (requests) a producer sends into one session before it starts the next.
const TURNS_PER_SESSION: u64 = 8;
/// How often each producer sends.
const PRODUCER_PERIOD: Duration = Duration::from_millis(40);
/// The resource attribute that names a session (agentevals' convention).
const SESSION_NAME: &str = "agentevals.session_name";

/// The soak's options.
#[derive(Debug, Clone, Copy)]
struct Options {
    seconds: u64,
    rss_ceiling_mib: u64,
    /// The debug binary instead of the release one (`cargo xtask ci`, which has built it).
    debug: bool,
}

fn options(args: &[String]) -> Result<Options> {
    let number = |flag: &str, default: u64| -> Result<u64> {
        match args.iter().position(|a| a == flag) {
            Some(i) => args
                .get(i + 1)
                .with_context(|| format!("`{flag}` needs a number"))?
                .parse()
                .with_context(|| format!("`{flag}` needs a whole number")),
            None => Ok(default),
        }
    };
    Ok(Options {
        seconds: number("--seconds", 300)?,
        rss_ceiling_mib: number("--rss-ceiling-mib", RSS_CEILING_MIB)?,
        debug: args.iter().any(|a| a == "--debug"),
    })
}

/// Runs the soak.
pub(crate) fn run(args: &[String]) -> Result<()> {
    let options = options(args)?;
    let profile = if options.debug { "debug" } else { "release" };
    crate::step(&format!("soak: build agentrace ({profile})"), || {
        let mut build = cargo();
        build.args(["build", "--locked", "-p", "agentrace"]);
        if !options.debug {
            build.arg("--release");
        }
        exec(&mut build)
    })?;
    crate::step(
        &format!(
            "soak: {} s of mixed load on the {profile} binary, RSS ceiling {} MiB",
            options.seconds, options.rss_ceiling_mib
        ),
        || {
            let dir = target_dir().join("soak");
            // A run's database is scratch: the last one is removed, and this one after it passes.
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            let report = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .context("cannot start a tokio runtime")?
                .block_on(soak(&dir, options))?;
            println!("{report}");
            std::fs::remove_dir_all(&dir).ok();
            Ok(())
        },
    )
}

/// The server process; killed when dropped.
struct ServerProcess {
    child: Child,
    log: PathBuf,
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl ServerProcess {
    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("no free loopback port")?;
    Ok(listener.local_addr()?.port())
}

fn start_server(dir: &Path, profile: &str) -> Result<(ServerProcess, u16, u16)> {
    let binary = build_dir().join(profile).join("agentrace");
    let (port, grpc) = (free_port()?, free_port()?);
    let log = dir.join("server.log");
    let log_file = std::fs::File::create(&log).context("cannot create the server's log")?;
    let child = Command::new(&binary)
        .arg("serve")
        .arg("--db")
        .arg(dir.join("soak.db"))
        .args(["--headless", "--otlp-http-port", "0"])
        .args(["--port", &port.to_string()])
        .args(["--otlp-grpc-port", &grpc.to_string()])
        .stdout(Stdio::null())
        .stderr(log_file)
        .spawn()
        .with_context(|| format!("cannot start {}", binary.display()))?;
    Ok((ServerProcess { child, log }, port, grpc))
}

/// `VmRSS` of a process, in KiB.
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// User plus system CPU time of a process, in clock ticks (`/proc/<pid>/stat`).
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

fn kv(key: &str, value: impl Into<String>) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.into())),
        }),
        ..KeyValue::default()
    }
}

fn kv_int(key: &str, value: i64) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::IntValue(value)),
        }),
        ..KeyValue::default()
    }
}

fn messages(role: &str, text: &str, finish: bool) -> String {
    let mut message = json!({"role": role, "parts": [{"type": "text", "content": text}]});
    if finish {
        message["finish_reason"] = json!("stop");
    }
    json!([message]).to_string()
}

/// One agent turn: `invoke_agent` > 1-3 `chat` (and sometimes an `execute_tool`), with
/// content-captured messages (questions of 5 to 604 words, answers of 5 to 304). Ids are unique: the trace id holds `serial`.
fn turn(rng: &mut Rng, serial: u64) -> Vec<Span> {
    let mut trace_id = serial.to_be_bytes().to_vec();
    trace_id.extend_from_slice(&rng.next().to_be_bytes());
    let start = 1_765_000_000_000_000_000u64 + serial * 1_000_000_000;
    let mut next_span = 0u64;
    let mut span = |rng: &mut Rng, parent: Option<&[u8]>, name: String, attributes| {
        next_span += 1;
        let mut id = (next_span << 56 | (rng.next() >> 8)).to_be_bytes().to_vec();
        if id == [0; 8] {
            id[7] = 1;
        }
        Span {
            trace_id: trace_id.clone(),
            span_id: id,
            parent_span_id: parent.map(<[u8]>::to_vec).unwrap_or_default(),
            name,
            kind: SpanKind::Internal as i32,
            start_time_unix_nano: start + next_span * 1_000_000,
            end_time_unix_nano: start + next_span * 1_000_000 + 500_000 + rng.below(400_000_000),
            attributes,
            status: Some(Status {
                code: StatusCode::Unset as i32,
                message: String::new(),
            }),
            ..Span::default()
        }
    };
    let agent = rng.pick(&["helper", "planner", "support-bot", "researcher"]);
    let root = span(
        rng,
        None,
        format!("invoke_agent {agent}"),
        vec![
            kv(attr::GEN_AI_OPERATION_NAME, "invoke_agent"),
            kv(attr::GEN_AI_AGENT_NAME, agent),
        ],
    );
    let root_id = root.span_id.clone();
    let mut spans = vec![root];
    for _ in 0..=rng.below(3) {
        let model = rng.pick(MODELS);
        let question = sentence(rng, 5, 600);
        let answer = sentence(rng, 5, 300);
        let attributes = vec![
            kv(attr::GEN_AI_OPERATION_NAME, "chat"),
            kv(attr::GEN_AI_REQUEST_MODEL, model),
            kv(
                attr::GEN_AI_INPUT_MESSAGES,
                messages("user", &question, false),
            ),
            kv(
                attr::GEN_AI_OUTPUT_MESSAGES,
                messages("assistant", &answer, true),
            ),
            kv_int(attr::GEN_AI_USAGE_INPUT_TOKENS, rng.below(4000) as i64),
            kv_int(attr::GEN_AI_USAGE_OUTPUT_TOKENS, rng.below(1000) as i64),
        ];
        spans.push(span(
            rng,
            Some(&root_id),
            format!("chat {model}"),
            attributes,
        ));
    }
    if rng.below(2) == 0 {
        let tool = rng.pick(TOOLS);
        let attributes = vec![
            kv(attr::GEN_AI_OPERATION_NAME, "execute_tool"),
            kv(attr::GEN_AI_TOOL_NAME, tool),
            kv(attr::GEN_AI_TOOL_CALL_ID, format!("call_{}", rng.next())),
            kv(
                attr::GEN_AI_TOOL_CALL_ARGUMENTS,
                json!({"query": sentence(rng, 3, 20)}).to_string(),
            ),
            kv(attr::GEN_AI_TOOL_CALL_RESULT, sentence(rng, 1, 80)),
        ];
        spans.push(span(
            rng,
            Some(&root_id),
            format!("execute_tool {tool}"),
            attributes,
        ));
    }
    spans
}

fn request(session: &str, spans: Vec<Span>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![kv(SESSION_NAME, session), kv("service.name", "soak")],
                ..Resource::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "xtask-soak".to_owned(),
                    ..InstrumentationScope::default()
                }),
                spans,
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        }],
    }
}

fn gzipped(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    // Writing into a Vec cannot fail.
    let _ = encoder.write_all(bytes);
    encoder.finish().unwrap_or_default()
}

/// `(trace id, span id)` in hex.
type SpanKey = (String, String);

fn keys(spans: &[Span]) -> BTreeSet<SpanKey> {
    spans
        .iter()
        .map(|s| (hex(&s.trace_id), hex(&s.span_id)))
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What the load did, shared by its tasks.
#[derive(Debug, Default)]
struct Ledger {
    /// Spans acknowledged, by session.
    acknowledged: Mutex<BTreeMap<String, BTreeSet<SpanKey>>>,
    /// Sessions a producer is done with, that the deleter may delete.
    finished: Mutex<Vec<String>>,
    /// Sessions deleted.
    deleted: Mutex<BTreeSet<String>>,
    /// Errors other than documented 503s.
    errors: Mutex<Vec<String>>,
    /// Requests (or WebSocket messages) acknowledged, by producer.
    batches: Mutex<BTreeMap<&'static str, u64>>,
    /// Documented retryable refusals (503 with `Retry-After`, `UNAVAILABLE`, `retry_after`).
    retries: AtomicU64,
    api_reads: AtomicU64,
    live_events: AtomicU64,
    lagged: AtomicU64,
    serial: AtomicU64,
}

impl Ledger {
    fn error(&self, what: String) {
        let mut errors = self.errors.lock();
        if errors.len() < 50 {
            errors.push(what);
        }
    }
    fn acknowledge(&self, producer: &'static str, session: &str, spans: &[Span]) {
        self.acknowledged
            .lock()
            .entry(session.to_owned())
            .or_default()
            .extend(keys(spans));
        *self.batches.lock().entry(producer).or_default() += 1;
    }
    fn serial(&self) -> u64 {
        self.serial.fetch_add(1, Ordering::Relaxed)
    }
}

/// How an OTLP producer sends.
#[derive(Debug, Clone, Copy)]
enum Otlp {
    Protobuf,
    Json,
    Grpc,
}

impl Otlp {
    fn name(self) -> &'static str {
        match self {
            Self::Protobuf => "otlp-protobuf",
            Self::Json => "otlp-json",
            Self::Grpc => "otlp-grpc",
        }
    }
}

/// Whether the refusal is a documented one; anything else is logged as an error.
fn is_documented_503(status: u16, retry_after: Option<&str>) -> bool {
    status == 503 && retry_after == Some("5")
}

/// Requests a burst sends at once: more than the ingest queue (64) and workers take, so some
/// are refused with the documented 503.
const BURST: u64 = 160;
/// Sessions a burst's requests go into.
const BURST_SESSIONS: u64 = 8;
/// How often a burst comes.
const BURST_PERIOD: Duration = Duration::from_secs(5);

/// Every [`BURST_PERIOD`], [`BURST`] OTLP/HTTP protobuf requests at once, each a turn in one of
/// [`BURST_SESSIONS`] sessions: past the ingest queue, so the server must refuse some with 503 and
/// `Retry-After` and lose none it acknowledged.
async fn burst_producer(
    base: String,
    ledger: Arc<Ledger>,
    deadline: tokio::time::Instant,
    seed: u64,
) {
    let http = reqwest::Client::new();
    let mut rng = Rng::new(seed);
    let mut tick = tokio::time::interval(BURST_PERIOD);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first tick is at once: the burst waits for the load to be under way.
    tick.tick().await;
    let mut round = 0u64;
    while tokio::time::Instant::now() < deadline {
        tick.tick().await;
        let requests: Vec<_> = (0..BURST)
            .map(|i| {
                let session = format!("soak-burst-{round}-{}", i % BURST_SESSIONS);
                let spans = turn(&mut rng, ledger.serial());
                let body = request(&session, spans.clone()).encode_to_vec();
                let post = http
                    .post(format!("{base}/v1/traces"))
                    .header("content-type", "application/x-protobuf")
                    .body(body)
                    .send();
                async move { (session, spans, post.await) }
            })
            .collect();
        for (session, spans, response) in futures::future::join_all(requests).await {
            match response {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let retry_after = response
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned);
                    let answer = response.bytes().await.unwrap_or_default();
                    let rejected = ExportTraceServiceResponse::decode(answer.as_ref())
                        .map(|r| r.partial_success.map_or(0, |p| p.rejected_spans))
                        .unwrap_or(-1);
                    if status == 200 && rejected == 0 {
                        ledger.acknowledge("otlp-burst", &session, &spans);
                    } else if is_documented_503(status, retry_after.as_deref()) {
                        ledger.retries.fetch_add(1, Ordering::Relaxed);
                    } else {
                        ledger.error(format!(
                            "burst: {status} (rejected {rejected}): {}",
                            String::from_utf8_lossy(&answer)
                        ));
                    }
                }
                Err(err) => ledger.error(format!("burst: {err}")),
            }
        }
        ledger
            .finished
            .lock()
            .extend((0..BURST_SESSIONS).map(|i| format!("soak-burst-{round}-{i}")));
        round += 1;
    }
}

async fn otlp_producer(
    kind: Otlp,
    base: String,
    grpc_addr: String,
    ledger: Arc<Ledger>,
    deadline: tokio::time::Instant,
    seed: u64,
) {
    let http = reqwest::Client::new();
    let mut grpc = match kind {
        Otlp::Grpc => match TraceServiceClient::connect(grpc_addr).await {
            Ok(client) => Some(client),
            Err(err) => {
                ledger.error(format!("gRPC connect: {err}"));
                return;
            }
        },
        _ => None,
    };
    let mut rng = Rng::new(seed);
    let mut tick = tokio::time::interval(PRODUCER_PERIOD);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut n = 0u64;
    while tokio::time::Instant::now() < deadline {
        tick.tick().await;
        let session = format!("soak-{}-{}", kind.name(), n / TURNS_PER_SESSION);
        let spans = turn(&mut rng, ledger.serial());
        let body = request(&session, spans.clone());
        let acknowledged = match kind {
            Otlp::Protobuf | Otlp::Json => {
                let (content_type, bytes) = match kind {
                    Otlp::Protobuf => ("application/x-protobuf", body.encode_to_vec()),
                    _ => (
                        "application/json",
                        serde_json::to_vec(&body).unwrap_or_default(),
                    ),
                };
                // Every other request gzipped, as collectors and most SDKs send them.
                let gzip = n % 2 == 1;
                let mut post = http
                    .post(format!("{base}/v1/traces"))
                    .header("content-type", content_type);
                post = if gzip {
                    post.header("content-encoding", "gzip")
                        .body(gzipped(&bytes))
                } else {
                    post.body(bytes)
                };
                match post.send().await {
                    Ok(response) => {
                        let status = response.status().as_u16();
                        let retry_after = response
                            .headers()
                            .get("retry-after")
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_owned);
                        let answer = response.bytes().await.unwrap_or_default();
                        let rejected = match (status, kind) {
                            (200, Otlp::Protobuf) => {
                                ExportTraceServiceResponse::decode(answer.as_ref())
                                    .map(|r| r.partial_success.map_or(0, |p| p.rejected_spans))
                                    .unwrap_or(-1)
                            }
                            (200, _) => serde_json::from_slice::<Value>(&answer)
                                .map(|v| {
                                    v["partialSuccess"]["rejectedSpans"]
                                        .as_i64()
                                        .unwrap_or_default()
                                })
                                .unwrap_or(-1),
                            _ => 0,
                        };
                        if status == 200 && rejected == 0 {
                            true
                        } else if is_documented_503(status, retry_after.as_deref()) {
                            ledger.retries.fetch_add(1, Ordering::Relaxed);
                            false
                        } else {
                            ledger.error(format!(
                                "{}: {status} (rejected {rejected}): {}",
                                kind.name(),
                                String::from_utf8_lossy(&answer)
                            ));
                            false
                        }
                    }
                    Err(err) => {
                        ledger.error(format!("{}: {err}", kind.name()));
                        false
                    }
                }
            }
            Otlp::Grpc => match grpc.as_mut().map(|c| c.export(body)) {
                Some(call) => match call.await {
                    Ok(response) => {
                        let rejected = response
                            .into_inner()
                            .partial_success
                            .map_or(0, |p| p.rejected_spans);
                        if rejected != 0 {
                            ledger.error(format!("otlp-grpc: {rejected} spans rejected"));
                        }
                        rejected == 0
                    }
                    Err(status) if status.code() == tonic::Code::Unavailable => {
                        ledger.retries.fetch_add(1, Ordering::Relaxed);
                        false
                    }
                    Err(status) => {
                        ledger.error(format!("otlp-grpc: {status:?}"));
                        false
                    }
                },
                None => false,
            },
        };
        if acknowledged {
            ledger.acknowledge(kind.name(), &session, &spans);
        }
        n += 1;
        if n.is_multiple_of(TURNS_PER_SESSION) {
            ledger.finished.lock().push(session);
        }
    }
}

/// The next JSON text message of a WebSocket, within 30 s.
async fn next_json<S>(ws: &mut S) -> Result<Value>
where
    S: futures::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    loop {
        let message = tokio::time::timeout(Duration::from_secs(30), ws.next())
            .await
            .context("no reply within 30 s")?
            .context("the connection closed")??;
        if let Message::Text(text) = message {
            return Ok(serde_json::from_str(&text)?);
        }
    }
}

/// A WebSocket `error` that says to retry.
fn is_retry(reply: &Value) -> bool {
    reply["type"] == "error" && reply["retry_after"] == 5
}

async fn ws_producer(
    base_ws: String,
    ledger: Arc<Ledger>,
    deadline: tokio::time::Instant,
    seed: u64,
) {
    let mut rng = Rng::new(seed);
    let mut tick = tokio::time::interval(PRODUCER_PERIOD);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut session_number = 0u64;
    while tokio::time::Instant::now() < deadline {
        let (mut ws, _) =
            match tokio_tungstenite::connect_async(format!("{base_ws}/ws/traces")).await {
                Ok(ws) => ws,
                Err(tokio_tungstenite::tungstenite::Error::Http(response))
                    if is_documented_503(
                        response.status().as_u16(),
                        response
                            .headers()
                            .get("retry-after")
                            .and_then(|v| v.to_str().ok()),
                    ) =>
                {
                    ledger.retries.fetch_add(1, Ordering::Relaxed);
                    tick.tick().await;
                    continue;
                }
                Err(err) => {
                    ledger.error(format!("ws connect: {err}"));
                    return;
                }
            };
        // Three sessions a connection, then a new connection.
        for _ in 0..3 {
            let session = format!("soak-ws-{session_number}");
            session_number += 1;
            if let Err(err) = ws_session(&mut ws, &session, &mut rng, &mut tick, &ledger).await {
                ledger.error(format!("ws {session}: {err:#}"));
                return;
            }
            ledger.finished.lock().push(session);
            if tokio::time::Instant::now() >= deadline {
                break;
            }
        }
        let _ = ws.close(None).await;
    }
}

/// One WebSocket session: `session_start`, [`TURNS_PER_SESSION`] `spans` messages each followed
/// by a message without a session (a barrier: its error comes back after the `spans` message's
/// reply, if any, since replies keep the order of the messages), then `session_end`.
async fn ws_session<S>(
    ws: &mut S,
    session: &str,
    rng: &mut Rng,
    tick: &mut tokio::time::Interval,
    ledger: &Ledger,
) -> Result<()>
where
    S: futures::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>>
        + futures::Sink<Message, Error = tokio_tungstenite::tungstenite::Error>
        + Unpin,
{
    let send = |value: Value| Message::Text(value.to_string().into());
    ws.send(send(
        json!({"type": "session_start", "session_id": session}),
    ))
    .await?;
    let started = next_json(ws).await?;
    if is_retry(&started) {
        ledger.retries.fetch_add(1, Ordering::Relaxed);
        // Paced as the other messages are: a refused client does not spin.
        tick.tick().await;
        return Ok(());
    }
    if started["type"] != "session_started" || started.get("stored_as").is_some() {
        bail!("session_start answered {started}");
    }
    for _ in 0..TURNS_PER_SESSION {
        tick.tick().await;
        let spans = turn(rng, ledger.serial());
        let json_spans: Vec<Value> = spans
            .iter()
            .map(|s| serde_json::to_value(s).unwrap_or_default())
            .collect();
        ws.send(send(
            json!({"type": "spans", "session_id": session, "spans": json_spans}),
        ))
        .await?;
        ws.send(send(json!({"type": "barrier"}))).await?;
        let mut acknowledged = true;
        loop {
            let reply = next_json(ws).await?;
            let message = reply["message"].as_str().unwrap_or_default();
            if message.contains("`barrier` message without a `session_id`") {
                break;
            }
            if is_retry(&reply) {
                ledger.retries.fetch_add(1, Ordering::Relaxed);
            } else {
                ledger.error(format!("ws spans answered {reply}"));
            }
            acknowledged = false;
        }
        if acknowledged {
            ledger.acknowledge("websocket", session, &spans);
        }
    }
    ws.send(send(json!({"type": "session_end", "session_id": session})))
        .await?;
    let complete = next_json(ws).await?;
    if is_retry(&complete) {
        ledger.retries.fetch_add(1, Ordering::Relaxed);
    } else if complete["type"] != "session_complete" {
        bail!("session_end answered {complete}");
    }
    Ok(())
}

/// Reads the SSE feed to the end of the run, counting events; every event must be JSON.
async fn sse_reader(base: String, ledger: Arc<Ledger>, deadline: tokio::time::Instant) {
    let response = match reqwest::get(format!("{base}/stream/ui-updates")).await {
        Ok(r) if r.status() == 200 => r,
        Ok(r) => return ledger.error(format!("SSE: {}", r.status())),
        Err(err) => return ledger.error(format!("SSE: {err}")),
    };
    let mut stream = response.bytes_stream();
    let mut buffer = Vec::new();
    loop {
        let chunk = match tokio::time::timeout_at(deadline, stream.next()).await {
            Err(_) => return,
            Ok(Some(Ok(chunk))) => chunk,
            Ok(Some(Err(err))) => return ledger.error(format!("SSE read: {err}")),
            Ok(None) => return ledger.error("SSE: the server closed the feed".to_owned()),
        };
        buffer.extend_from_slice(&chunk);
        while let Some(end) = buffer.windows(2).position(|w| w == b"\n\n") {
            let frame: Vec<u8> = buffer.drain(..end + 2).collect();
            for line in String::from_utf8_lossy(&frame).lines() {
                if let Some(data) = line.strip_prefix("data:") {
                    count_event(&ledger, data.trim(), "SSE");
                }
            }
        }
    }
}

fn count_event(ledger: &Ledger, data: &str, feed: &str) {
    match serde_json::from_str::<Value>(data) {
        Ok(event) => {
            ledger.live_events.fetch_add(1, Ordering::Relaxed);
            if event["type"] == "lagged" {
                ledger.lagged.fetch_add(1, Ordering::Relaxed);
            }
        }
        Err(err) => ledger.error(format!("{feed}: an event that is not JSON: {err}")),
    }
}

/// Reads `/ws/live` to the end of the run.
async fn ws_live_reader(base_ws: String, ledger: Arc<Ledger>, deadline: tokio::time::Instant) {
    let (mut ws, _) = match tokio_tungstenite::connect_async(format!("{base_ws}/ws/live")).await {
        Ok(ws) => ws,
        Err(err) => return ledger.error(format!("/ws/live: {err}")),
    };
    loop {
        match tokio::time::timeout_at(deadline, ws.next()).await {
            Err(_) => return,
            Ok(Some(Ok(Message::Text(text)))) => count_event(&ledger, &text, "/ws/live"),
            Ok(Some(Ok(_))) => {}
            Ok(Some(Err(err))) => return ledger.error(format!("/ws/live read: {err}")),
            Ok(None) => return ledger.error("/ws/live: the server closed the feed".to_owned()),
        }
    }
}

/// Subscribes to both live feeds and never reads them; holds them to the end of the run.
async fn stalled_readers(
    base: String,
    base_ws: String,
    ledger: Arc<Ledger>,
    deadline: tokio::time::Instant,
) {
    let sse = match reqwest::get(format!("{base}/stream/ui-updates")).await {
        Ok(r) if r.status() == 200 => r,
        Ok(r) => return ledger.error(format!("stalled SSE: {}", r.status())),
        Err(err) => return ledger.error(format!("stalled SSE: {err}")),
    };
    let ws = match tokio_tungstenite::connect_async(format!("{base_ws}/ws/live")).await {
        Ok((ws, _)) => ws,
        Err(err) => return ledger.error(format!("stalled /ws/live: {err}")),
    };
    tokio::time::sleep_until(deadline).await;
    drop((sse, ws));
}

/// An API GET that must answer 200, or 404 for a session the deleter deleted.
async fn api_get(
    http: &reqwest::Client,
    url: &str,
    session: Option<&str>,
    ledger: &Ledger,
) -> Option<Value> {
    ledger.api_reads.fetch_add(1, Ordering::Relaxed);
    match http.get(url).send().await {
        Ok(r) if r.status() == 200 => r.json().await.ok(),
        Ok(r)
            if r.status() == 404 && session.is_some_and(|s| ledger.deleted.lock().contains(s)) =>
        {
            None
        }
        Ok(r) => {
            ledger.error(format!("GET {url}: {}", r.status()));
            None
        }
        Err(err) => {
            ledger.error(format!("GET {url}: {err}"));
            None
        }
    }
}

/// Reads the API: the list, a session, its spans, health.
async fn api_reader(base: String, ledger: Arc<Ledger>, deadline: tokio::time::Instant, seed: u64) {
    let http = reqwest::Client::new();
    let mut rng = Rng::new(seed);
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    while tokio::time::Instant::now() < deadline {
        tick.tick().await;
        api_get(
            &http,
            &format!("{base}/api/sessions?limit=20"),
            None,
            &ledger,
        )
        .await;
        api_get(&http, &format!("{base}/api/health"), None, &ledger).await;
        let session = {
            let acknowledged = ledger.acknowledged.lock();
            let n = rng.below(acknowledged.len() as u64) as usize;
            acknowledged.keys().nth(n).cloned()
        };
        if let Some(session) = session {
            api_get(
                &http,
                &format!("{base}/api/sessions/{session}"),
                Some(&session),
                &ledger,
            )
            .await;
            api_get(
                &http,
                &format!("{base}/api/sessions/{session}/spans"),
                Some(&session),
                &ledger,
            )
            .await;
        }
    }
}

/// Deletes one finished session in three, four times a second.
async fn deleter(base: String, ledger: Arc<Ledger>, deadline: tokio::time::Instant, seed: u64) {
    let http = reqwest::Client::new();
    let mut rng = Rng::new(seed);
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    while tokio::time::Instant::now() < deadline {
        tick.tick().await;
        let session = {
            let mut finished = ledger.finished.lock();
            if finished.is_empty() {
                continue;
            }
            let n = rng.below(finished.len() as u64) as usize;
            finished.swap_remove(n)
        };
        if rng.below(3) != 0 {
            continue;
        }
        // Marked deleted first: a reader that gets 404 from here on expects it.
        ledger.deleted.lock().insert(session.clone());
        match http
            .delete(format!("{base}/api/sessions/{session}"))
            .send()
            .await
        {
            Ok(r) if r.status() == 204 => {
                ledger.acknowledged.lock().remove(&session);
            }
            // A session none of whose batches was acknowledged was never stored.
            Ok(r) if r.status() == 404 && !ledger.acknowledged.lock().contains_key(&session) => {}
            Ok(r) => ledger.error(format!("DELETE {session}: {}", r.status())),
            Err(err) => ledger.error(format!("DELETE {session}: {err}")),
        }
    }
}

/// What a run measured.
#[derive(Debug)]
struct Report {
    seconds: f64,
    batches: BTreeMap<&'static str, u64>,
    spans_read_back: usize,
    sessions_read_back: usize,
    sessions_deleted: usize,
    retries: u64,
    api_reads: u64,
    live_events: u64,
    lagged: u64,
    live_subscribers: u64,
    rss_first_mib: f64,
    rss_max_mib: f64,
    rss_last_mib: f64,
    rss_ceiling_mib: u64,
    cpu_seconds: f64,
    db_mib: f64,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let total: u64 = self.batches.values().sum();
        writeln!(f, "soak: {:.0} s of load", self.seconds)?;
        for (producer, n) in &self.batches {
            writeln!(f, "    {producer:>14}: {n} requests acknowledged")?;
        }
        writeln!(
            f,
            "    {total} requests acknowledged ({:.1}/s); {} refused with a documented 503 (retry)",
            total as f64 / self.seconds,
            self.retries
        )?;
        writeln!(
            f,
            "    read back: {} spans in {} sessions, every acknowledged span and nothing else; {} sessions deleted",
            self.spans_read_back, self.sessions_read_back, self.sessions_deleted
        )?;
        writeln!(
            f,
            "    API reads: {}; live events read: {} ({} lagged notices); live subscribers: {} (two read, two never read)",
            self.api_reads, self.live_events, self.lagged, self.live_subscribers
        )?;
        writeln!(
            f,
            "    server RSS: {:.1} MiB after start-up, {:.1} MiB at most, {:.1} MiB at the end (ceiling {} MiB)",
            self.rss_first_mib, self.rss_max_mib, self.rss_last_mib, self.rss_ceiling_mib
        )?;
        write!(
            f,
            "    server CPU: {:.1} s ({:.0}% of one core); database at the end: {:.1} MiB",
            self.cpu_seconds,
            100.0 * self.cpu_seconds / self.seconds,
            self.db_mib
        )
    }
}

async fn healthy(base: &str) -> bool {
    reqwest::get(format!("{base}/api/health"))
        .await
        .is_ok_and(|r| r.status() == 200)
}

async fn soak(dir: &Path, options: Options) -> Result<Report> {
    let profile = if options.debug { "debug" } else { "release" };
    let (mut server, port, grpc_port) = start_server(dir, profile)?;
    let pid = server.child.id();
    let base = format!("http://127.0.0.1:{port}");
    let base_ws = format!("ws://127.0.0.1:{port}");
    let grpc = format!("http://127.0.0.1:{grpc_port}");
    let started = Instant::now();
    while !healthy(&base).await {
        if let Some(status) = server.child.try_wait()? {
            bail!(
                "agentrace serve exited early with {status}:\n{}",
                server.log_tail()
            );
        }
        if started.elapsed() > Duration::from_secs(30) {
            bail!("agentrace serve did not answer /api/health within 30 s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let rss_first = rss_kib(pid).unwrap_or_default();
    let ticks_first = cpu_ticks(pid).unwrap_or_default();

    let ledger = Arc::new(Ledger::default());
    let load_started = Instant::now();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(options.seconds);
    let mut tasks = tokio::task::JoinSet::new();
    for (i, kind) in [Otlp::Protobuf, Otlp::Json, Otlp::Grpc]
        .into_iter()
        .enumerate()
    {
        tasks.spawn(otlp_producer(
            kind,
            base.clone(),
            grpc.clone(),
            Arc::clone(&ledger),
            deadline,
            i as u64 + 1,
        ));
    }
    tasks.spawn(burst_producer(
        base.clone(),
        Arc::clone(&ledger),
        deadline,
        41,
    ));
    tasks.spawn(ws_producer(
        base_ws.clone(),
        Arc::clone(&ledger),
        deadline,
        11,
    ));
    tasks.spawn(sse_reader(base.clone(), Arc::clone(&ledger), deadline));
    tasks.spawn(ws_live_reader(
        base_ws.clone(),
        Arc::clone(&ledger),
        deadline,
    ));
    tasks.spawn(stalled_readers(
        base.clone(),
        base_ws.clone(),
        Arc::clone(&ledger),
        deadline,
    ));
    tasks.spawn(api_reader(base.clone(), Arc::clone(&ledger), deadline, 21));
    tasks.spawn(deleter(base.clone(), Arc::clone(&ledger), deadline, 31));

    // Memory every half second, and the live subscribers the server counts every five, while
    // the load runs.
    let mut rss_max = rss_first;
    let mut live_subscribers = 0;
    let mut sample = tokio::time::interval(Duration::from_millis(500));
    let mut samples = 0u64;
    while tokio::time::Instant::now() < deadline {
        sample.tick().await;
        match rss_kib(pid) {
            Some(rss) => rss_max = rss_max.max(rss),
            None => bail!("the server is gone:\n{}", server.log_tail()),
        }
        samples += 1;
        if samples.is_multiple_of(10)
            && let Ok(response) = reqwest::get(format!("{base}/api/health")).await
            && let Ok(health) = response.json::<Value>().await
        {
            live_subscribers = live_subscribers.max(
                health["connections"]["liveSubscribers"]
                    .as_u64()
                    .unwrap_or_default(),
            );
        }
    }
    while let Some(joined) = tasks.join_next().await {
        joined.context("a load task panicked")?;
    }
    let seconds = load_started.elapsed().as_secs_f64();
    let rss_last = rss_kib(pid).unwrap_or_default();
    rss_max = rss_max.max(rss_last);
    let cpu_seconds = cpu_ticks(pid)
        .unwrap_or_default()
        .saturating_sub(ticks_first) as f64
        / 100.0;

    // Every acknowledged span, in every session not deleted, is read back; nothing else is.
    let http = reqwest::Client::new();
    let acknowledged = std::mem::take(&mut *ledger.acknowledged.lock());
    let mut spans_read_back = 0;
    for (session, expected) in &acknowledged {
        let stored: Value = http
            .get(format!("{base}/api/sessions/{session}/spans"))
            .send()
            .await?
            .error_for_status()
            .with_context(|| format!("reading back {session}"))?
            .json()
            .await?;
        let stored: BTreeSet<SpanKey> = stored["spans"]
            .as_array()
            .context("no spans array")?
            .iter()
            .map(|s| {
                (
                    s["traceId"].as_str().unwrap_or_default().to_owned(),
                    s["spanId"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        if &stored != expected {
            ledger.error(format!(
                "{session}: {} spans acknowledged, {} stored, {} acknowledged and missing",
                expected.len(),
                stored.len(),
                expected.difference(&stored).count()
            ));
        }
        spans_read_back += stored.len();
    }
    let db_mib = ["soak.db", "soak.db-wal"]
        .iter()
        .filter_map(|f| std::fs::metadata(dir.join(f)).ok())
        .map(|m| m.len())
        .sum::<u64>() as f64
        / 1048576.0;
    if let Some(status) = server.child.try_wait()? {
        bail!(
            "agentrace serve exited with {status}:\n{}",
            server.log_tail()
        );
    }
    let report = Report {
        seconds,
        batches: ledger.batches.lock().clone(),
        spans_read_back,
        sessions_read_back: acknowledged.len(),
        sessions_deleted: ledger.deleted.lock().len(),
        retries: ledger.retries.load(Ordering::Relaxed),
        api_reads: ledger.api_reads.load(Ordering::Relaxed),
        live_events: ledger.live_events.load(Ordering::Relaxed),
        lagged: ledger.lagged.load(Ordering::Relaxed),
        live_subscribers,
        rss_first_mib: rss_first as f64 / 1024.0,
        rss_max_mib: rss_max as f64 / 1024.0,
        rss_last_mib: rss_last as f64 / 1024.0,
        rss_ceiling_mib: options.rss_ceiling_mib,
        cpu_seconds,
        db_mib,
    };
    let errors = ledger.errors.lock().clone();
    if !errors.is_empty() {
        bail!(
            "{report}\n{} errors other than documented 503s (the first {}):\n  {}\nserver log:\n{}",
            errors.len(),
            errors.len().min(50),
            errors.join("\n  "),
            server.log_tail()
        );
    }
    if report.batches.len() < 4 || report.spans_read_back == 0 {
        bail!("{report}\na producer acknowledged nothing");
    }
    if options.seconds >= 5 && report.live_subscribers < 4 {
        bail!("{report}\nthe four live subscribers were not all connected");
    }
    if rss_max > options.rss_ceiling_mib * 1024 {
        bail!("{report}\nthe server's RSS went over the ceiling");
    }
    Ok(report)
}
