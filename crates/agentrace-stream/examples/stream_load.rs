//! The stream client's product benchmark (`cargo xtask bench-stream`): a load generator built on
//! `agentrace-stream` that streams realistic agent sessions over TCP to the release
//! `agentrace serve` binary, started here as a process with a file database in a temporary
//! directory.
//!
//! ```text
//! cargo run --release -p agentrace-stream --example stream_load -- \
//!     --server-bin target/release/agentrace [--producers 4] [--turns 1500] \
//!     [--session-turns 50] [--seed 7]
//! ```
//!
//! Each producer is one thread of the "application": it runs its `--turns` agent turns in
//! sessions of `--session-turns` turns, one session after another; in each it ends its spans
//! through the OpenTelemetry SDK as fast as it can (an [`agentrace_stream::session_blocking`]
//! session over the WebSocket transport), then ends the session and waits for
//! `session_complete`. A turn is
//! an agent turn of 10 to 25 spans: `invoke_agent` > `chat` spans with content-captured messages
//! of varied text (questions of 5 to 404 words, answers of 5 to 204, mixed scripts, escapes),
//! `execute_tool` spans with arguments and results, and under each tool one or two HTTP client
//! spans; every turn is different (a seeded generator), the same in every run.
//!
//! Figures, in one run:
//! - **baseline**: the client alone, the same spans ended, queued, batched and encoded by the
//!   real WebSocket encoder, then discarded (what the client can sustain);
//! - **end to end**: spans per second from the first span ended to the last `session_complete`,
//!   the server's CPU time (user + system, `/proc/<pid>/stat`) per span over that time, and the
//!   client's own CPU time per span.
//!
//! It checks that every span was sent and none dropped, that each session's `session_complete`
//! came with one invocation per turn, and that the server reports every span stored
//! (`spanCount` of `GET /api/sessions/{id}`). It exits non-zero if any check fails.

// A benchmark binary: printing its figures is its job.
#![allow(clippy::print_stdout, clippy::print_stderr, missing_docs)]

use std::{
    path::PathBuf,
    process::{Child, Command, ExitCode, Stdio},
    time::{Duration, Instant},
};

use agentrace_semconv::attr;
use agentrace_stream::{
    Pipeline, PipelineConfig, SessionOptions, WebSocketConfig, WebSocketTransport, session_blocking,
};
use opentelemetry::{
    Context, KeyValue,
    trace::{SpanKind, TraceContextExt as _, Tracer as _, TracerProvider as _},
};
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use serde_json::json;

/// Options from the command line.
#[derive(Debug)]
struct Options {
    server_bin: PathBuf,
    producers: usize,
    turns: usize,
    session_turns: usize,
    seed: u64,
}

fn options() -> Result<Options, String> {
    let mut options = Options {
        server_bin: PathBuf::from("target/release/agentrace"),
        producers: 4,
        turns: 1500,
        session_turns: 50,
        seed: 7,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        let number = |v: String| {
            v.parse::<u64>()
                .map_err(|e| format!("{flag}: {e}"))
                .and_then(|n| {
                    if n == 0 {
                        Err(format!("{flag} must be at least 1"))
                    } else {
                        Ok(n)
                    }
                })
        };
        match flag.as_str() {
            "--server-bin" => options.server_bin = PathBuf::from(value()?),
            "--producers" => options.producers = number(value()?)?.min(64) as usize,
            "--session-turns" => {
                options.session_turns = number(value()?)?.min(100_000) as usize;
            }
            "--turns" => options.turns = number(value()?)?.min(100_000) as usize,
            "--seed" => options.seed = number(value()?)?,
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(options)
}

#[path = "../../../xtask/src/vocab.rs"]
mod vocab;
use vocab::{MODELS, Rng, TOOLS, sentence};

const HOSTS: &[&str] = &[
    "api.weather.example",
    "flights.example.com",
    "orders.internal",
    "db-proxy.internal",
    "docs.example.org",
];

fn messages(role: &str, text: &str, finish: bool) -> String {
    let mut message = json!({"role": role, "parts": [{"type": "text", "content": text}]});
    if finish {
        message["finish_reason"] = json!("stop");
    }
    json!([message]).to_string()
}

/// One span to end: its name, kind, attributes and its parent (an index into the turn's spans,
/// earlier in the list; `None` for the root).
#[derive(Debug)]
struct PlannedSpan {
    name: String,
    kind: SpanKind,
    parent: Option<usize>,
    attributes: Vec<KeyValue>,
}

/// One agent turn, made before the timed section: `invoke_agent`, then for each of 3 to 6 steps
/// a `chat` span and (in all but the last) an `execute_tool` span with one or two HTTP client
/// spans under it: 10 to 25 spans.
fn turn(rng: &mut Rng, conversation: &str) -> Vec<PlannedSpan> {
    let agent = rng.pick(&["helper", "planner", "support-bot", "researcher"]);
    let mut spans = vec![PlannedSpan {
        name: format!("invoke_agent {agent}"),
        kind: SpanKind::Internal,
        parent: None,
        attributes: vec![
            KeyValue::new(attr::GEN_AI_OPERATION_NAME, "invoke_agent"),
            KeyValue::new(attr::GEN_AI_AGENT_NAME, agent),
            KeyValue::new(attr::GEN_AI_CONVERSATION_ID, conversation.to_owned()),
        ],
    }];
    let steps = 3 + rng.below(4);
    let mut question = sentence(rng, 5, 400);
    for step in 0..steps {
        let model = rng.pick(MODELS);
        let last = step + 1 == steps;
        let answer = sentence(rng, 5, 200);
        spans.push(PlannedSpan {
            name: format!("chat {model}"),
            kind: SpanKind::Client,
            parent: Some(0),
            attributes: vec![
                KeyValue::new(attr::GEN_AI_OPERATION_NAME, "chat"),
                KeyValue::new(attr::GEN_AI_PROVIDER_NAME, "openai"),
                KeyValue::new(attr::GEN_AI_REQUEST_MODEL, model),
                KeyValue::new(
                    attr::GEN_AI_INPUT_MESSAGES,
                    messages("user", &question, false),
                ),
                KeyValue::new(
                    attr::GEN_AI_OUTPUT_MESSAGES,
                    messages("assistant", &answer, last),
                ),
                KeyValue::new(attr::GEN_AI_USAGE_INPUT_TOKENS, rng.below(4000) as i64),
                KeyValue::new(attr::GEN_AI_USAGE_OUTPUT_TOKENS, rng.below(1000) as i64),
            ],
        });
        if last {
            break;
        }
        let tool = rng.pick(TOOLS);
        let result = sentence(rng, 1, 80);
        let tool_index = spans.len();
        spans.push(PlannedSpan {
            name: format!("execute_tool {tool}"),
            kind: SpanKind::Internal,
            parent: Some(0),
            attributes: vec![
                KeyValue::new(attr::GEN_AI_OPERATION_NAME, "execute_tool"),
                KeyValue::new(attr::GEN_AI_TOOL_NAME, tool),
                KeyValue::new(attr::GEN_AI_TOOL_CALL_ID, format!("call_{}", rng.next())),
                KeyValue::new(
                    attr::GEN_AI_TOOL_CALL_ARGUMENTS,
                    json!({"query": sentence(rng, 3, 20)}).to_string(),
                ),
                KeyValue::new(attr::GEN_AI_TOOL_CALL_RESULT, result.clone()),
            ],
        });
        for _ in 0..=rng.below(2) {
            let host = rng.pick(HOSTS);
            let method = rng.pick(&["GET", "POST"]);
            spans.push(PlannedSpan {
                name: method.to_owned(),
                kind: SpanKind::Client,
                parent: Some(tool_index),
                attributes: vec![
                    KeyValue::new("http.request.method", method),
                    KeyValue::new(
                        "url.full",
                        format!(
                            "https://{host}/v1/items/{}?page={}",
                            rng.next(),
                            rng.below(9)
                        ),
                    ),
                    KeyValue::new("server.address", host),
                    KeyValue::new("server.port", 443),
                    KeyValue::new(
                        "http.response.status_code",
                        [200i64, 200, 200, 201, 404, 503][rng.below(6) as usize],
                    ),
                ],
            });
        }
        question = result;
    }
    spans
}

/// One session's turns.
type SessionPlan = Vec<Vec<PlannedSpan>>;

/// Every producer's sessions, made before anything is timed.
fn plan(options: &Options) -> Vec<Vec<SessionPlan>> {
    (0..options.producers)
        .map(|p| {
            let mut rng = Rng::new(options.seed ^ ((p as u64 + 1) << 32));
            let turns: Vec<Vec<PlannedSpan>> = (0..options.turns)
                .map(|t| turn(&mut rng, &format!("conversation-{p}-{t}")))
                .collect();
            let mut sessions = Vec::new();
            let mut turns = turns.into_iter().peekable();
            while turns.peek().is_some() {
                sessions.push(turns.by_ref().take(options.session_turns).collect());
            }
            sessions
        })
        .collect()
}

/// Ends a turn's spans through the SDK as an agent would: each span starts under its parent and
/// ends when the work under it is done (before the next span that is not its descendant starts),
/// the root last.
fn run_turn(tracer: &SdkTracer, turn: Vec<PlannedSpan>) {
    // The open spans, innermost last, with their index in the turn.
    let mut open: Vec<(usize, Context)> = Vec::new();
    for (index, planned) in turn.into_iter().enumerate() {
        while let Some((top, cx)) = open.last() {
            if Some(*top) == planned.parent {
                break;
            }
            cx.span().end();
            open.pop();
        }
        let parent = open.last().map(|(_, cx)| cx.clone()).unwrap_or_default();
        let span = tracer
            .span_builder(planned.name)
            .with_kind(planned.kind)
            .with_attributes(planned.attributes)
            .start_with_context(tracer, &parent);
        open.push((index, parent.with_span(span)));
    }
    while let Some((_, cx)) = open.pop() {
        cx.span().end();
    }
}

#[path = "../benches/support/encode_only.rs"]
mod encode_only;
use encode_only::EncodeOnly;

fn pipeline_config(spans: usize) -> PipelineConfig {
    PipelineConfig {
        // The application outruns the server: the queue holds a whole session.
        queue_capacity: spans.max(1) * 2,
        ..PipelineConfig::default()
    }
}

/// The client alone: every producer's sessions, each ended and encoded on a pipeline of its
/// own (as a session has), nothing sent. Returns the wall time.
fn baseline(plans: Vec<Vec<SessionPlan>>) -> Result<Duration, String> {
    let start = Instant::now();
    let threads: Vec<_> = plans
        .into_iter()
        .map(|sessions| {
            std::thread::spawn(move || -> Result<(), String> {
                for turns in sessions {
                    let spans: usize = turns.iter().map(Vec::len).sum();
                    let transport = EncodeOnly(WebSocketTransport::new(WebSocketConfig::new(
                        "ws://127.0.0.1:1/ws/traces",
                        "baseline",
                    )));
                    let pipeline = Pipeline::start_with(transport, pipeline_config(spans))
                        .map_err(|e| e.to_string())?;
                    let provider = SdkTracerProvider::builder()
                        .with_span_processor(pipeline.span_processor())
                        .build();
                    let tracer = provider.tracer("stream-load");
                    for turn in turns {
                        run_turn(&tracer, turn);
                    }
                    provider
                        .shutdown_with_timeout(Duration::from_secs(120))
                        .map_err(|e| e.to_string())?;
                    let stats = pipeline.stats();
                    if stats.sent != spans as u64 || stats.dropped() != 0 {
                        return Err(format!("baseline: {stats:?}"));
                    }
                }
                Ok(())
            })
        })
        .collect();
    for thread in threads {
        thread
            .join()
            .map_err(|_| "a baseline thread panicked".to_owned())??;
    }
    Ok(start.elapsed())
}

/// The server process; killed when dropped.
struct ServerProcess(Child);

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// User plus system CPU time of a process (`/proc/<pid>/stat`), in seconds.
fn cpu_seconds(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // Linux reports these in USER_HZ, 100 per second on every architecture it supports.
    Some(ticks as f64 / 100.0)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn free_port() -> Result<u16, String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| e.to_string())
}

fn start_server(options: &Options, dir: &std::path::Path) -> Result<(ServerProcess, u16), String> {
    let port = free_port()?;
    let log = std::fs::File::create(dir.join("server.log")).map_err(|e| e.to_string())?;
    let child = Command::new(&options.server_bin)
        .arg("serve")
        .arg("--db")
        .arg(dir.join("load.db"))
        .args([
            "--headless",
            "--otlp-http-port",
            "0",
            "--otlp-grpc-port",
            "0",
        ])
        .args(["--port", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", options.server_bin.display()))?;
    Ok((ServerProcess(child), port))
}

/// Waits (at most 30 s, polling) for the server's health answer.
async fn wait_healthy(base: &str, server: &mut ServerProcess) -> Result<(), String> {
    let started = Instant::now();
    loop {
        if reqwest::get(format!("{base}/api/health"))
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            return Ok(());
        }
        if let Ok(Some(status)) = server.0.try_wait() {
            return Err(format!("agentrace serve exited early with {status}"));
        }
        if started.elapsed() > Duration::from_secs(30) {
            return Err("agentrace serve did not answer /api/health within 30 s".into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// What one session thread saw.
#[derive(Debug)]
struct SessionResult {
    id: String,
    spans: u64,
    turns: usize,
    invocations: usize,
    ended_at: Instant,
    problem: Option<String>,
}

fn stream_session(base: String, turns: Vec<Vec<PlannedSpan>>, name: String) -> SessionResult {
    let spans: usize = turns.iter().map(Vec::len).sum();
    let turn_count = turns.len();
    let options = SessionOptions::builder(&base)
        .with_name(name)
        .with_service_name("stream-load")
        .with_metadata("agent", "stream_load")
        .with_pipeline_config(pipeline_config(spans))
        .with_shutdown_timeout(Duration::from_secs(300))
        .build();
    let session = match session_blocking(options) {
        Ok(s) => s,
        Err(e) => {
            return SessionResult {
                id: String::new(),
                spans: 0,
                turns: turn_count,
                invocations: 0,
                ended_at: Instant::now(),
                problem: Some(e.to_string()),
            };
        }
    };
    let tracer = session.tracer("stream-load");
    for turn in turns {
        run_turn(&tracer, turn);
    }
    let end = session.end_blocking();
    let ended_at = Instant::now();
    let mut problem = end.error.clone();
    if end.stats.sent != spans as u64 || end.stats.dropped() != 0 || end.stats.server_errors != 0 {
        problem = Some(format!("expected {spans} spans sent: {:?}", end.stats));
    }
    SessionResult {
        id: end.session_id.clone(),
        spans: end.stats.sent,
        turns: turn_count,
        invocations: end.invocations.as_ref().map_or(0, Vec::len),
        ended_at,
        problem,
    }
}

async fn stored_span_count(base: &str, id: &str) -> Result<u64, String> {
    let value: serde_json::Value = reqwest::get(format!("{base}/api/sessions/{id}"))
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    value
        .get("spanCount")
        .and_then(serde_json::Value::as_u64)
        .ok_or_else(|| format!("no spanCount in {value}"))
}

fn run() -> Result<(), String> {
    let options = options()?;
    let made = Instant::now();
    let spans: usize = plan(&options)
        .iter()
        .flatten()
        .flatten()
        .map(Vec::len)
        .sum();
    let bytes_estimate: usize = plan(&options)
        .iter()
        .flatten()
        .flatten()
        .flatten()
        .map(|s| {
            s.attributes
                .iter()
                .map(|kv| kv.key.as_str().len() + kv.value.as_str().len())
                .sum::<usize>()
        })
        .sum();
    println!(
        "stream_load: {} producers x {} turns in sessions of {} turns = {spans} spans ({:.1} spans a turn, {:.0} bytes of attributes a span), made in {:.1} s",
        options.producers,
        options.turns,
        options.session_turns,
        spans as f64 / (options.producers * options.turns) as f64,
        bytes_estimate as f64 / spans as f64,
        made.elapsed().as_secs_f64()
    );
    println!("load average at the start: {}", load_average());

    // The baseline: the client alone over the same spans.
    let base_cpu = cpu_seconds("self").unwrap_or_default();
    let base_time = baseline(plan(&options))?;
    let base_cpu = cpu_seconds("self").unwrap_or_default() - base_cpu;
    let base_rate = spans as f64 / base_time.as_secs_f64();
    println!(
        "baseline (client alone: SDK span end, queue, batching, WebSocket encoding): {:.1} k spans/s, client CPU {:.2} us a span",
        base_rate / 1e3,
        base_cpu * 1e6 / spans as f64
    );

    // End to end against the release server.
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let (mut server, port) = start_server(&options, dir.path())?;
    let pid = server.0.id().to_string();
    let base = format!("http://127.0.0.1:{port}");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(wait_healthy(&base, &mut server))?;
    let plans = plan(&options);
    let server_cpu = cpu_seconds(&pid).ok_or("cannot read the server's CPU time")?;
    let client_cpu = cpu_seconds("self").unwrap_or_default();
    let start = Instant::now();
    let threads: Vec<_> = plans
        .into_iter()
        .enumerate()
        .map(|(p, sessions)| {
            let base = base.clone();
            std::thread::spawn(move || {
                sessions
                    .into_iter()
                    .enumerate()
                    .map(|(s, turns)| stream_session(base.clone(), turns, format!("load-{p}-{s}")))
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut results = Vec::new();
    for thread in threads {
        results.extend(
            thread
                .join()
                .map_err(|_| "a producer thread panicked".to_owned())?,
        );
    }
    let last = results.iter().map(|r| r.ended_at).max().unwrap_or(start);
    let elapsed = last.duration_since(start);
    let server_cpu = cpu_seconds(&pid).ok_or("cannot read the server's CPU time")? - server_cpu;
    let client_cpu = cpu_seconds("self").unwrap_or_default() - client_cpu;
    let sent: u64 = results.iter().map(|r| r.spans).sum();
    let rate = sent as f64 / elapsed.as_secs_f64();
    println!(
        "end to end ({} WebSocket sessions, {} at a time, to the release `agentrace serve`, file database): {:.1} k spans/s ({:.2} s), {:.2}x the baseline",
        results.len(),
        options.producers,
        rate / 1e3,
        elapsed.as_secs_f64(),
        rate / base_rate
    );
    println!(
        "server CPU {:.2} s = {:.2} us a span ({:.2} cores busy); client CPU {:.2} us a span",
        server_cpu,
        server_cpu * 1e6 / sent.max(1) as f64,
        server_cpu / elapsed.as_secs_f64(),
        client_cpu * 1e6 / sent.max(1) as f64
    );
    println!("load average at the end: {}", load_average());

    let mut problems = Vec::new();
    for r in &results {
        if let Some(p) = &r.problem {
            problems.push(format!("session {}: {p}", r.id));
            continue;
        }
        if r.invocations != r.turns {
            problems.push(format!(
                "session {}: {} invocations for {} turns",
                r.id, r.invocations, r.turns
            ));
        }
        match runtime.block_on(stored_span_count(&base, &r.id)) {
            Ok(stored) if stored == r.spans => {}
            Ok(stored) => problems.push(format!(
                "session {}: {stored} spans stored of {} sent",
                r.id, r.spans
            )),
            Err(e) => problems.push(format!("session {}: {e}", r.id)),
        }
    }
    drop(server);
    if problems.is_empty() {
        println!(
            "checked: {sent} spans sent, none dropped, every session's invocations and stored spans as sent"
        );
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("stream_load: {e}");
            ExitCode::FAILURE
        }
    }
}
