//! The API the web page judges runs with, through the real server on 127.0.0.1
//! (`cargo xtask bench`, or `cargo bench -p agentrace-server --bench page`).
//!
//! One server (file database) holds a 10,000-span session (50 turns of 200 spans: an agent span,
//! a model call, 6 tool calls with 32 inner spans each) and 300 small sessions of one turn each
//! (the conformance corpus' travel trace under other conversations, a third with another
//! answer). Rows, each one request and its whole answer read:
//!
//! - `page/spans_first_page`: the first 2000 spans of the big session (what the page draws first);
//! - `page/spans_last_page`: its last 2000 (the cursor at 8000);
//! - `page/spans_unpaged`: all 10,000 in one answer (what the page fetched before paging);
//! - `page/search`: a word of one answer in three across the 301 sessions;
//! - `page/list_with_previews`: the newest 500 sessions with their previews;
//! - `page/compare_big`: the big session compared with itself (50 turns, 300 tool calls).

// A benchmark binary: printing its figures is its job.
#![allow(clippy::print_stdout)]

use std::time::Duration;

use agentrace_semconv::attr;
use agentrace_server::{
    Server,
    config::{DbLocation, ServerConfig, SessionRules},
};
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::{Value, json};

const BIG_TURNS: u64 = 50;
const SMALL_SESSIONS: usize = 300;

fn attr_str(key: &str, value: &str) -> Value {
    json!({"key": key, "value": {"stringValue": value}})
}

fn attr_int(key: &str, value: u64) -> Value {
    json!({"key": key, "value": {"intValue": value.to_string()}})
}

/// The 10,000-span session as an OTLP/JSON document.
fn big_session() -> Value {
    let mut spans = Vec::new();
    let base: u64 = 1_700_000_000_000_000_000;
    let mut next_id = 1u64;
    let mut id = || {
        next_id += 1;
        format!("{next_id:016x}")
    };
    for turn in 0..BIG_TURNS {
        let trace = format!("{:032x}", 0xb16_0000 + turn);
        let t0 = base + turn * 60_000_000_000;
        let root = id();
        let mut span = |span_id: &str,
                        parent: &str,
                        name: &str,
                        start: u64,
                        end: u64,
                        attrs: Vec<Value>| {
            spans.push(json!({
                "traceId": trace, "spanId": span_id, "parentSpanId": parent, "name": name, "kind": 1,
                "startTimeUnixNano": start.to_string(), "endTimeUnixNano": end.to_string(),
                "attributes": attrs,
            }));
        };
        span(
            &root,
            "",
            "invoke_agent big_agent",
            t0,
            t0 + 30_000_000_000,
            vec![
                attr_str(attr::GEN_AI_OPERATION_NAME, "invoke_agent"),
                attr_str(attr::GEN_AI_AGENT_NAME, "big_agent"),
                attr_str(attr::GEN_AI_CONVERSATION_ID, "conv-big"),
            ],
        );
        let question = format!("Question number {turn}: check the inventory of warehouse {turn}");
        let answer = format!("Warehouse {turn} holds {} crates", turn * 7);
        let input = json!([{"role": "user", "parts": [{"type": "text", "content": question}]}]);
        let output = json!([{"role": "assistant", "parts": [{"type": "text", "content": answer}],
            "finish_reason": "stop"}]);
        span(
            &id(),
            &root,
            "chat big-model",
            t0 + 1_000_000,
            t0 + 2_000_000_000,
            vec![
                attr_str(attr::GEN_AI_OPERATION_NAME, "chat"),
                attr_str(attr::GEN_AI_REQUEST_MODEL, "big-model"),
                attr_str(attr::GEN_AI_CONVERSATION_ID, "conv-big"),
                attr_str(attr::GEN_AI_INPUT_MESSAGES, &input.to_string()),
                attr_str(attr::GEN_AI_OUTPUT_MESSAGES, &output.to_string()),
                attr_int(attr::GEN_AI_USAGE_INPUT_TOKENS, 120),
                attr_int(attr::GEN_AI_USAGE_OUTPUT_TOKENS, 12),
            ],
        );
        for tool in 0..6u64 {
            let tool_id = id();
            let start = t0 + (3 + tool * 3) * 1_000_000_000;
            span(
                &tool_id,
                &root,
                &format!("execute_tool lookup_{tool}"),
                start,
                start + 2_000_000_000,
                vec![
                    attr_str(attr::GEN_AI_OPERATION_NAME, "execute_tool"),
                    attr_str(attr::GEN_AI_TOOL_NAME, &format!("lookup_{tool}")),
                    attr_str(attr::GEN_AI_TOOL_CALL_ID, &format!("call_{turn}_{tool}")),
                    attr_str(
                        attr::GEN_AI_TOOL_CALL_ARGUMENTS,
                        &json!({"warehouse": turn, "shelf": tool}).to_string(),
                    ),
                ],
            );
            for inner in 0..32u64 {
                let s0 = start + inner * 60_000_000;
                span(
                    &id(),
                    &tool_id,
                    &format!("db.query shelf {inner}"),
                    s0,
                    s0 + 50_000_000,
                    vec![attr_str("db.system", "sqlite")],
                );
            }
        }
    }
    assert_eq!(spans.len(), 10_000);
    json!({"resourceSpans": [{"resource": {"attributes": [attr_str("service.name", "big-agent")]},
        "scopeSpans": [{"scope": {"name": "bench"}, "spans": spans}]}]})
}

fn travel(n: usize) -> String {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/conformance/semconv_travel_tools/trace.json"
    );
    let text = std::fs::read_to_string(path).expect("the travel fixture");
    let text = text
        .replace("conv-travel-001", &format!("conv-travel-{n:04}"))
        .replace(
            "92a7d71a2809995951a6d7ca9f32b0dc",
            &format!("{:032x}", 0x7a_0000 + n),
        );
    if n.is_multiple_of(3) {
        text.replace("Berlin expects light rain", "Munich expects sunshine")
    } else {
        text
    }
}

fn page(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let config = ServerConfig::builder()
        .with_port(0)
        .with_otlp_http_port(None)
        .with_otlp_grpc_port(None)
        .with_db(DbLocation::File(dir.path().join("bench.db")))
        .with_session_rules(SessionRules {
            completion_grace: Duration::from_millis(200),
            idle_timeout: Duration::from_secs(1),
            ..SessionRules::default()
        })
        .build()
        .expect("bench config");
    let server = runtime.block_on(Server::start(config)).expect("server");
    let base = format!("http://{}", server.main_addr());
    let http = reqwest::Client::new();
    let post = |body: String| {
        let response = runtime
            .block_on(
                http.post(format!("{base}/v1/traces"))
                    .header("content-type", "application/json")
                    .body(body)
                    .send(),
            )
            .expect("posted");
        assert!(response.status().is_success(), "{}", response.status());
    };
    post(big_session().to_string());
    for n in 0..SMALL_SESSIONS {
        post(travel(n));
    }
    // Every session completes (and is indexed) before anything is measured.
    for _ in 0..600 {
        if server.state().ingest.next_deadline().is_none() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(500));
    let get = |path: &str| {
        let url = format!("{base}{path}");
        runtime.block_on(async {
            let response = http.get(&url).send().await.expect("answered");
            assert!(
                response.status().is_success(),
                "{url}: {}",
                response.status()
            );
            response.bytes().await.expect("body").len()
        })
    };
    let hits: Value = serde_json::from_slice(
        &runtime
            .block_on(async {
                http.get(format!("{base}/api/search?q=sunshine&limit=100"))
                    .send()
                    .await?
                    .bytes()
                    .await
            })
            .expect("search"),
    )
    .expect("search JSON");
    println!(
        "page bench: search finds {} turns (limit 100)",
        hits["results"].as_array().map_or(0, Vec::len)
    );
    let mut group = c.benchmark_group("page");
    group.sample_size(20);
    group.bench_function("spans_first_page", |b| {
        b.iter(|| get("/api/sessions/conv-big/spans?limit=2000"));
    });
    group.bench_function("spans_last_page", |b| {
        b.iter(|| get("/api/sessions/conv-big/spans?limit=2000&cursor=8000"));
    });
    group.bench_function("spans_unpaged", |b| {
        b.iter(|| get("/api/sessions/conv-big/spans"));
    });
    group.bench_function("search", |b| {
        b.iter(|| get("/api/search?q=sunshine&limit=50"));
    });
    group.bench_function("list_with_previews", |b| {
        b.iter(|| get("/api/sessions?limit=500"));
    });
    group.bench_function("compare_big", |b| {
        b.iter(|| get("/api/compare?a=conv-big&b=conv-big"));
    });
    group.finish();
    runtime.block_on(server.shutdown());
}

criterion_group!(benches, page);
criterion_main!(benches);
