//! Server ingest benchmarks (`cargo xtask bench`).
//!
//! Workload of the performance brief: GenAI traces of 25 spans, 100 spans per request, each trace
//! in its own conversation. Every request carries new ids, so nothing is a duplicate.
//!
//! - `ingest/otlp_http_protobuf`, `ingest/otlp_http_json`, `ingest/websocket`: one request (100
//!   spans) through the real server on 127.0.0.1, 4 requests in flight; criterion's throughput
//!   gives spans/s. `ingest/baseline_prost_decode` and `ingest/baseline_json_parse` decode the same
//!   bodies without a server: the floor the server is compared against, measured in the same run.
//!   After criterion it prints how many cores the protobuf samples kept busy (process CPU time:
//!   server and client). Before each row that ingests, the binary waits until the sessions of
//!   the rows before have completed: a row pays for its own sessions' completion (they complete
//!   while it runs), not for those of the rows before it.
//! - `ingest/pipeline_direct`: the ingest pipeline called directly, without HTTP or decoding.
//!   `ingest/live_extraction_one_trace`: the live extraction one session of this traffic costs
//!   (one 25-span trace into its invocation, on a fresh extractor).
//! - Before criterion, the binary prints the resident memory added per 10k stored spans (the
//!   median of three runs, each in a fresh child process of this binary) and the
//!   p99 latency from request to the SSE `spans_received` update at a paced 1k spans/s, each on a
//!   fresh server; it prints the load average at the start and the end.
//! - `AGENTRACE_BENCH_CPU_PER_SPAN=N` only prints the process CPU time (server and client) per
//!   span of N protobuf requests, from the first request until every session is stored complete,
//!   five times on one server: for comparing builds on a machine whose speed swings, where CPU
//!   per span moves less than throughput.
//! - `AGENTRACE_BENCH_SKIP_THROUGHPUT=1` stops after memory and latency;
//!   `AGENTRACE_BENCH_CRITERION_ONLY=1` runs only the criterion benchmarks (for profiling them).

// A benchmark binary: printing its figures is its job.
#![allow(clippy::print_stdout)]

use agentrace_semconv::attr;
use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use agentrace_server::{
    Server,
    config::{DbLocation, Limits, ServerConfig, SessionRules},
};
use criterion::{Criterion, Throughput, criterion_group};
use futures::{SinkExt, StreamExt};
use opentelemetry_proto::tonic::{
    collector::trace::v1::ExportTraceServiceRequest,
    common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value},
    resource::v1::Resource,
    trace::v1::{ResourceSpans, ScopeSpans, Span},
};
use prost::Message;
use serde_json::Value;

/// The allocator the `agentrace` binary ships with, so the server is measured as it runs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SPANS_PER_TRACE: u64 = 25;
const SPANS_PER_REQUEST: u64 = 100;
const IN_FLIGHT: usize = 4;

static NEXT_TRACE: AtomicU64 = AtomicU64::new(1);

fn kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.to_owned())),
        }),
        ..KeyValue::default()
    }
}

/// One GenAI trace of 25 spans: invoke_agent > (chat, execute_tool) × 12.
fn trace(n: u64) -> Vec<Span> {
    let mut trace_id = [0u8; 16];
    trace_id[..8].copy_from_slice(&n.to_be_bytes());
    trace_id[15] = 1;
    let span_id = |i: u64| ((n << 8) | (i + 1)).to_be_bytes().to_vec();
    let conversation = format!("conv-{n}");
    let start = 1_700_000_000_000_000_000u64 + n * 1_000_000_000;
    (0..SPANS_PER_TRACE)
        .map(|i| {
            let (name, attrs) = if i == 0 {
                ("invoke_agent planner".to_owned(), vec![
                    kv(attr::GEN_AI_OPERATION_NAME, "invoke_agent"),
                    kv(attr::GEN_AI_AGENT_NAME, "planner"),
                    kv(attr::GEN_AI_CONVERSATION_ID, &conversation),
                ])
            } else if i % 2 == 1 {
                ("chat gpt-4o".to_owned(), vec![
                    kv(attr::GEN_AI_OPERATION_NAME, "chat"),
                    kv(attr::GEN_AI_REQUEST_MODEL, "gpt-4o"),
                    kv(attr::GEN_AI_INPUT_MESSAGES, r#"[{"role":"user","parts":[{"type":"text","content":"Plan a trip to Lisbon for three days"}]}]"#),
                    kv(attr::GEN_AI_OUTPUT_MESSAGES, r#"[{"role":"assistant","parts":[{"type":"tool_call","id":"c1","name":"search","arguments":{"q":"Lisbon"}}],"finish_reason":"tool_call"}]"#),
                ])
            } else {
                ("execute_tool search".to_owned(), vec![
                    kv(attr::GEN_AI_OPERATION_NAME, "execute_tool"),
                    kv(attr::GEN_AI_TOOL_NAME, "search"),
                    kv(attr::GEN_AI_TOOL_CALL_ID, "c1"),
                    kv(attr::GEN_AI_TOOL_CALL_ARGUMENTS, r#"{"q":"Lisbon"}"#),
                ])
            };
            Span {
                trace_id: trace_id.to_vec(),
                span_id: span_id(i),
                parent_span_id: if i == 0 { Vec::new() } else { span_id(0) },
                name,
                kind: if i % 2 == 1 { 3 } else { 1 },
                start_time_unix_nano: start + i * 1000,
                end_time_unix_nano: start + i * 1000 + 500,
                attributes: attrs,
                ..Span::default()
            }
        })
        .collect()
}

/// A request of 100 spans (4 fresh traces).
fn request() -> ExportTraceServiceRequest {
    let spans = (0..SPANS_PER_REQUEST / SPANS_PER_TRACE)
        .flat_map(|_| trace(NEXT_TRACE.fetch_add(1, Ordering::Relaxed)))
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![kv("service.name", "bench")],
                ..Resource::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "bench".to_owned(),
                    ..Default::default()
                }),
                spans,
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        }],
    }
}

fn config(db: DbLocation) -> ServerConfig {
    let limits = Limits {
        max_sessions: u64::MAX,
        max_spans_per_session: u64::MAX,
        live_buffer: 1 << 16,
        ..Limits::default()
    };
    ServerConfig::builder()
        .with_port(0)
        .with_otlp_http_port(None)
        .with_otlp_grpc_port(Some(0))
        .with_db(db)
        .with_limits(limits)
        .with_session_rules(SessionRules {
            completion_grace: Duration::from_millis(200),
            idle_timeout: Duration::from_secs(1),
            rerun_window: Duration::from_secs(30),
            staged_ttl: Duration::from_secs(120),
        })
        .build()
        .expect("bench config")
}

struct Bench {
    runtime: tokio::runtime::Runtime,
    server: Option<Server>,
    _dir: tempfile::TempDir,
}

impl Bench {
    fn new() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let dir = tempfile::tempdir().expect("temp dir");
        let db = DbLocation::File(dir.path().join("bench.db"));
        let server = runtime.block_on(Server::start(config(db))).expect("server");
        Self {
            runtime,
            server: Some(server),
            _dir: dir,
        }
    }

    /// Waits until every session of the rows before has completed (a minute at most), so that
    /// a row does not pay for the completions of the rows before it: `pipeline_direct` alone
    /// leaves millions of spans whose sessions complete after it.
    fn settle(&self) {
        let ingest = &self.server.as_ref().expect("server").state().ingest;
        for _ in 0..600 {
            if ingest.next_deadline().is_none() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        // The last sessions popped are still being extracted and written for a moment.
        std::thread::sleep(Duration::from_millis(250));
    }

    fn base(&self) -> String {
        format!(
            "http://{}",
            self.server.as_ref().expect("server").main_addr()
        )
    }
}

impl Drop for Bench {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            self.runtime.block_on(server.shutdown());
        }
    }
}

async fn post_all(client: &reqwest::Client, url: &str, content_type: &str, bodies: Vec<Vec<u8>>) {
    let bodies = Arc::new(std::sync::Mutex::new(bodies));
    let mut tasks = Vec::new();
    for _ in 0..IN_FLIGHT {
        let (client, url, bodies) = (client.clone(), url.to_owned(), Arc::clone(&bodies));
        let content_type = content_type.to_owned();
        tasks.push(tokio::spawn(async move {
            loop {
                let Some(body) = bodies.lock().expect("lock").pop() else {
                    break;
                };
                let response = client
                    .post(&url)
                    .header("content-type", &content_type)
                    .body(body)
                    .send()
                    .await
                    .expect("request");
                assert_eq!(response.status(), 200, "export accepted");
            }
        }));
    }
    for task in tasks {
        task.await.expect("task");
    }
}

fn ingest(c: &mut Criterion) {
    let bench = Bench::new();
    let client = reqwest::Client::new();
    let url = format!("{}/v1/traces", bench.base());
    let mut group = c.benchmark_group("ingest");
    group.throughput(Throughput::Elements(SPANS_PER_REQUEST));
    group
        .sample_size(30)
        .measurement_time(Duration::from_secs(8));

    // Process CPU (clock ticks) and wall time of the protobuf samples: how busy the cores were.
    let mut protobuf_cpu = (0u64, Duration::ZERO);
    let sample = request();
    let proto_body = sample.encode_to_vec();
    let json_body = serde_json::to_vec(&sample).expect("json");
    group.bench_function("baseline_prost_decode", |b| {
        b.iter(|| ExportTraceServiceRequest::decode(proto_body.as_slice()).expect("decode"))
    });
    group.bench_function("baseline_json_parse", |b| {
        b.iter(|| serde_json::from_slice::<ExportTraceServiceRequest>(&json_body).expect("parse"))
    });
    group.throughput(Throughput::Elements(SPANS_PER_TRACE));
    group.bench_function("live_extraction_one_trace", |b| {
        // What the live path spends per session of the benchmark's traffic: one fresh session's
        // incremental extraction of one 25-span trace into its invocation (as JSON).
        b.iter_custom(|iters| {
            let traces: Vec<_> = (0..iters)
                .map(|_| {
                    let mut one = request();
                    one.resource_spans[0].scope_spans[0]
                        .spans
                        .truncate(SPANS_PER_TRACE as usize);
                    agentrace_loader::read::proto::from_trace_request(one).0
                })
                .collect();
            let started = Instant::now();
            for spans in traces {
                let mut live = agentrace_loader::incremental::IncrementalExtractor::new();
                live.push_spans(spans);
                let mut invocations = Vec::new();
                agentrace_server::extract::update(&mut live, &mut invocations);
                assert_eq!(invocations.len(), 1, "one invocation per trace");
            }
            started.elapsed()
        })
    });
    group.throughput(Throughput::Elements(SPANS_PER_REQUEST));
    bench.settle();
    group.bench_function("pipeline_direct", |b| {
        // The ingest pipeline alone (routing, SQLite commit, live extraction), no HTTP, no decode.
        let ingest = std::sync::Arc::clone(&bench.server.as_ref().expect("server").state().ingest);
        b.iter_custom(|iters| {
            let batches: Vec<_> = (0..iters)
                .map(|_| agentrace_loader::read::proto::from_trace_request(request()).0)
                .collect();
            let started = Instant::now();
            for spans in batches {
                ingest.spans(spans, &[]).expect("ingest");
            }
            started.elapsed()
        })
    });
    bench.settle();
    group.bench_function("otlp_http_protobuf", |b| {
        b.iter_custom(|iters| {
            let bodies: Vec<Vec<u8>> = (0..iters).map(|_| request().encode_to_vec()).collect();
            let cpu = cpu_ticks();
            let started = Instant::now();
            bench
                .runtime
                .block_on(post_all(&client, &url, "application/x-protobuf", bodies));
            let elapsed = started.elapsed();
            protobuf_cpu.0 += cpu_ticks().saturating_sub(cpu);
            protobuf_cpu.1 += elapsed;
            elapsed
        })
    });
    bench.settle();
    group.bench_function("otlp_http_json", |b| {
        b.iter_custom(|iters| {
            let bodies: Vec<Vec<u8>> = (0..iters)
                .map(|_| serde_json::to_vec(&request()).expect("json"))
                .collect();
            let started = Instant::now();
            bench
                .runtime
                .block_on(post_all(&client, &url, "application/json", bodies));
            started.elapsed()
        })
    });
    let grpc_url = format!(
        "http://{}",
        bench
            .server
            .as_ref()
            .expect("server")
            .otlp_grpc_addr()
            .expect("gRPC port")
    );
    let grpc = bench.runtime.block_on(async {
        opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient::connect(grpc_url)
            .await
            .expect("gRPC connect")
    });
    bench.settle();
    group.bench_function("otlp_grpc", |b| {
        // One HTTP/2 connection, `IN_FLIGHT` requests on it at a time; the client encodes each
        // request inside the measured time (the HTTP bodies above are encoded before it).
        b.iter_custom(|iters| {
            let requests: Vec<ExportTraceServiceRequest> = (0..iters).map(|_| request()).collect();
            let started = Instant::now();
            bench.runtime.block_on(async {
                let requests = Arc::new(std::sync::Mutex::new(requests));
                let mut tasks = Vec::new();
                for _ in 0..IN_FLIGHT {
                    let (mut grpc, requests) = (grpc.clone(), Arc::clone(&requests));
                    tasks.push(tokio::spawn(async move {
                        loop {
                            let Some(request) = requests.lock().expect("lock").pop() else {
                                break;
                            };
                            let reply = grpc.export(request).await.expect("export").into_inner();
                            assert_eq!(reply.partial_success, None, "spans rejected");
                        }
                    }));
                }
                for task in tasks {
                    task.await.expect("task");
                }
            });
            started.elapsed()
        })
    });
    let ws_url = format!(
        "ws://{}/ws/traces",
        bench.server.as_ref().expect("server").main_addr()
    );
    bench.settle();
    group.bench_function("websocket", |b| {
        b.iter_custom(|iters| {
            bench.runtime.block_on(async {
                let (mut ws, _) = tokio_tungstenite::connect_async(&ws_url).await.expect("ws");
                let session = format!("ws-{}", NEXT_TRACE.fetch_add(1, Ordering::Relaxed));
                let start = serde_json::json!({"type": "session_start", "session_id": session});
                ws.send(start.to_string().into()).await.expect("send");
                ws.next().await.expect("reply").expect("reply");
                let frames: Vec<String> = (0..iters)
                    .map(|_| {
                        let spans: Vec<Value> = request().resource_spans[0].scope_spans[0]
                            .spans
                            .iter()
                            .map(|s| serde_json::to_value(s).expect("span json"))
                            .collect();
                        serde_json::json!({"type": "spans", "session_id": session, "spans": spans})
                            .to_string()
                    })
                    .collect();
                let started = Instant::now();
                for frame in frames {
                    ws.send(frame.into()).await.expect("send");
                }
                // session_end is answered after every frame before it was processed.
                let end = serde_json::json!({"type": "session_end", "session_id": session});
                ws.send(end.to_string().into()).await.expect("send");
                let reply = ws.next().await.expect("reply").expect("reply");
                let elapsed = started.elapsed();
                let text = reply.to_text().expect("text");
                assert!(
                    text.contains("session_complete"),
                    "unexpected reply: {text:.300}"
                );
                elapsed
            })
        })
    });
    group.finish();
    if !protobuf_cpu.1.is_zero() {
        // Server and client share the machine: this is both, in cores.
        let cores = protobuf_cpu.0 as f64 / CLOCK_TICKS_PER_SECOND / protobuf_cpu.1.as_secs_f64();
        println!(
            "otlp_http_protobuf: {cores:.2} of {} cores busy (server and client, process CPU time)",
            std::thread::available_parallelism().map_or(1, |n| n.get())
        );
    }
}

/// p99 from sending a 100-span request to receiving its `spans_received` SSE update, paced at
/// 1k spans/s (10 requests/s) for 200 requests. The SSE stream is read by a task of its own that
/// timestamps each update as it arrives, so an update that arrives before the response is timed
/// when it arrived, not when the client got round to reading it.
fn sse_latency() -> (Vec<Duration>, Vec<Duration>) {
    let bench = Bench::new();
    let client = reqwest::Client::new();
    let base = bench.base();
    bench.runtime.block_on(async {
        let live = client
            .get(format!("{base}/stream/ui-updates"))
            .send()
            .await
            .expect("sse");
        client
            .get(format!("{base}/api/health"))
            .send()
            .await
            .expect("health");
        // (first span id of an update, when it arrived), in arrival order.
        let (arrived_tx, mut arrived) = tokio::sync::mpsc::unbounded_channel::<(String, Instant)>();
        let reader = tokio::spawn(async move {
            let mut stream = live.bytes_stream();
            let mut buffer = String::new();
            while let Some(Ok(chunk)) = stream.next().await {
                let at = Instant::now();
                buffer.push_str(&String::from_utf8_lossy(&chunk));
                while let Some(end) = buffer.find("\n\n") {
                    let frame: String = buffer.drain(..end + 2).collect();
                    let Some(data) = frame.strip_prefix("data: ") else {
                        continue;
                    };
                    let Ok(event) = serde_json::from_str::<Value>(data.trim_end()) else {
                        continue;
                    };
                    if event["type"] == "spans_received"
                        && let Some(first) = event["spans"][0]["spanId"].as_str()
                        && arrived_tx.send((first.to_owned(), at)).is_err()
                    {
                        return;
                    }
                }
            }
        });
        let mut latencies = Vec::new();
        let mut answered = Vec::new();
        for _ in 0..200 {
            let body = request();
            let first = hex::encode(&body.resource_spans[0].scope_spans[0].spans[0].span_id);
            let bytes = body.encode_to_vec();
            let tick = tokio::time::Instant::now() + Duration::from_millis(100);
            let sent = Instant::now();
            let response = client
                .post(format!("{base}/v1/traces"))
                .header("content-type", "application/x-protobuf")
                .body(bytes)
                .send()
                .await
                .expect("post");
            assert_eq!(response.status(), 200);
            let reply = response.bytes().await.expect("reply");
            let reply = opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse::decode(reply)
                .expect("export response");
            assert_eq!(reply.partial_success, None, "spans rejected");
            answered.push(sent.elapsed());
            loop {
                let (id, at) = tokio::time::timeout(Duration::from_secs(10), arrived.recv())
                    .await
                    .unwrap_or_else(|_| panic!("no update for {first} in time"))
                    .expect("the SSE stream is open");
                if id == first {
                    latencies.push(at.duration_since(sent));
                    break;
                }
            }
            tokio::time::sleep_until(tick).await;
        }
        reader.abort();
        (latencies, answered)
    })
}

/// `AGENTRACE_BENCH_CPU_PER_SPAN` (see the module documentation).
fn cpu_per_span(requests: usize) {
    let bench = Bench::new();
    let client = reqwest::Client::new();
    let url = format!("{}/v1/traces", bench.base());
    let store = std::sync::Arc::clone(
        bench
            .server
            .as_ref()
            .expect("server")
            .state()
            .ingest
            .store(),
    );
    let sessions_per_request = (SPANS_PER_REQUEST / SPANS_PER_TRACE) as usize;
    for round in 0..5 {
        let bodies: Vec<Vec<u8>> = (0..requests).map(|_| request().encode_to_vec()).collect();
        let cpu = cpu_ticks();
        let started = Instant::now();
        bench
            .runtime
            .block_on(post_all(&client, &url, "application/x-protobuf", bodies));
        let posted = started.elapsed();
        let expected = (round + 1) * requests * sessions_per_request;
        // Bounded: a minute at most.
        for _ in 0..600 {
            if store.completed_before(i64::MAX).map_or(0, |c| c.len()) >= expected {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let ticks = cpu_ticks().saturating_sub(cpu);
        let spans = (requests as u64 * SPANS_PER_REQUEST) as f64;
        println!(
            "cpu per span: {:.2} µs ({} spans; posted in {:.2} s, {:.0} spans/s)",
            ticks as f64 / CLOCK_TICKS_PER_SECOND / spans * 1e6,
            spans,
            posted.as_secs_f64(),
            spans / posted.as_secs_f64()
        );
    }
}

/// User plus system CPU time of this process, in clock ticks (`/proc/self/stat`).
fn cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name: utime and stime are the 12th and 13th.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let field = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    field(11) + field(12)
}

/// Clock ticks per second of `/proc` CPU times: Linux reports them in `USER_HZ`, which is 100
/// on every architecture it runs this benchmark on (`getconf CLK_TCK`).
const CLOCK_TICKS_PER_SECOND: f64 = 100.0;

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// Resident memory added by storing 50k spans (reported per 10k): while the sessions are live,
/// once they completed, and two seconds after that.
fn memory() -> (f64, f64, f64) {
    let bench = Bench::new();
    let client = reqwest::Client::new();
    let url = format!("{}/v1/traces", bench.base());
    // The request bodies are built first, so the client's own memory is not counted.
    let bodies: Vec<Vec<u8>> = (0..500).map(|_| request().encode_to_vec()).collect();
    let before = rss_kib();
    bench
        .runtime
        .block_on(post_all(&client, &url, "application/x-protobuf", bodies));
    let live = rss_kib();
    bench.runtime.block_on(async {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let page: Value = client
                .get(format!(
                    "{}/api/sessions?complete=false&limit=1",
                    bench.base()
                ))
                .send()
                .await
                .expect("list")
                .json()
                .await
                .expect("json");
            if page["total"] == 0 || Instant::now() > deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let done = rss_kib();
    // Two seconds later, with the server idle but for the list polled above.
    bench.runtime.block_on(async {
        for _ in 0..20 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let _ = client
                .get(format!("{}/api/sessions?limit=1", bench.base()))
                .send()
                .await;
        }
    });
    let settled = rss_kib();
    let per_10k = |kib: u64| (kib.saturating_sub(before)) as f64 / 1024.0 / 5.0;
    (per_10k(live), per_10k(done), per_10k(settled))
}

/// The environment variable that makes the benchmark binary one memory run (a child process).
const MEMORY_CHILD: &str = "AGENTRACE_BENCH_MEMORY_CHILD";
/// Fresh processes the memory figures are the median of: one run's figure after completion moves
/// by about 2x between runs of the same binary.
const MEMORY_RUNS: usize = 3;

/// Runs [`memory`] in `n` fresh child processes of this binary; each run's (live, after
/// completion, two seconds later) MiB per 10k spans.
fn memory_runs(n: usize) -> Result<Vec<[f64; 3]>, String> {
    let exe = std::env::current_exe().map_err(|e| format!("own path: {e}"))?;
    (0..n)
        .map(|_| {
            let out = std::process::Command::new(&exe)
                .env(MEMORY_CHILD, "1")
                .output()
                .map_err(|e| format!("memory run: {e}"))?;
            let stdout = String::from_utf8_lossy(&out.stdout);
            let line = stdout
                .lines()
                .find_map(|l| l.strip_prefix(MEMORY_CHILD))
                .ok_or_else(|| format!("memory run printed no figures: {stdout:.500}"))?;
            let values: Vec<f64> = line
                .split_whitespace()
                .filter_map(|v| v.parse().ok())
                .collect();
            <[f64; 3]>::try_from(values).map_err(|v| format!("memory run printed {v:?}"))
        })
        .collect()
}

criterion_group!(benches, ingest);

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".to_owned())
}

fn main() {
    // The allocator options `agentrace serve` runs with (the benchmark restarts itself once).
    if let Some(err) = agentrace_server::process::restart_with_allocator_options() {
        println!("note: allocator options not applied: {err}");
    }
    // A child run of the memory measurement (see `memory_runs`): print its figures and stop.
    if std::env::var_os(MEMORY_CHILD).is_some() {
        let (live, done, settled) = memory();
        println!("{MEMORY_CHILD} {live} {done} {settled}");
        return;
    }
    println!("load average at start: {}", load_average());
    if let Some(requests) = std::env::var("AGENTRACE_BENCH_CPU_PER_SPAN")
        .ok()
        .and_then(|n| n.parse::<usize>().ok())
    {
        cpu_per_span(requests);
        return;
    }
    // `AGENTRACE_BENCH_CRITERION_ONLY=1` runs only the criterion benchmarks (for profiling them).
    if std::env::var_os("AGENTRACE_BENCH_CRITERION_ONLY").is_some() {
        benches();
        Criterion::default().configure_from_args().final_summary();
        return;
    }
    // Memory first, each run in a fresh process, so no earlier run's freed memory hides growth.
    match memory_runs(MEMORY_RUNS) {
        Ok(runs) => {
            let column = |i: usize| {
                let mut values: Vec<f64> = runs.iter().map(|r| r[i]).collect();
                values.sort_by(f64::total_cmp);
                let median = values[values.len() / 2];
                format!(
                    "{median:.1} MiB (runs {:.1}–{:.1})",
                    values[0],
                    values[values.len() - 1]
                )
            };
            println!(
                "memory per 10k stored spans, median of {} fresh servers: {} while live, {} after \
                 completion, {} two seconds later",
                runs.len(),
                column(0),
                column(1),
                column(2)
            );
        }
        Err(err) => println!("memory: not measured: {err}"),
    }
    // Latency before the throughput runs: measured at its own rate on its own server, not while
    // the machine is still writing back the gigabytes the throughput runs leave behind.
    let (mut latencies, mut answered) = sse_latency();
    for (what, values) in [
        ("sse_latency", &mut latencies),
        ("response_latency", &mut answered),
    ] {
        values.sort();
        let pick = |q: f64| values[((values.len() as f64 - 1.0) * q).round() as usize];
        println!(
            "{what} (100-span requests at 1k spans/s, n={}): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            values.len(),
            pick(0.5).as_secs_f64() * 1e3,
            pick(0.99).as_secs_f64() * 1e3,
            pick(1.0).as_secs_f64() * 1e3
        );
    }
    // `AGENTRACE_BENCH_SKIP_THROUGHPUT=1` stops here (memory and latency only).
    if std::env::var_os("AGENTRACE_BENCH_SKIP_THROUGHPUT").is_some() {
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
    println!("load average at end: {}", load_average());
}
