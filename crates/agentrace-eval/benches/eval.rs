//! Evaluation benchmark: 500 copies of a 25-span agent trace (one turn: an agent span, 8 model
//! calls, 8 tool calls, 8 HTTP spans) scored with `tool_trajectory_avg_score` and
//! `response_match_score` against a one-case eval set, with loading and extracting the same file
//! (no scoring) measured in the same run as the baseline; plus the metrics alone.
//!
//! It also writes the files it uses to `target/bench-eval/` (`traces.jsonl`, `small.json`,
//! `eval_set.json`), and a file of realistic traces (`realistic.jsonl`, 100 MB or
//! `AGENTRACE_BENCH_MB`, with `realistic_eval_set.json` and `realistic.meta.json`: groups,
//! traces, the largest group's bytes; see `support/realistic.rs`), where `cargo xtask bench`
//! times the release binary on them as a whole process. Run with `cargo xtask bench` or
//! `cargo bench -p agentrace-eval`.

// A benchmark reports on stdout and may unwrap.
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

#[path = "support/realistic.rs"]
mod realistic;

use std::hint::black_box;
use std::path::{Path, PathBuf};

use agentrace_eval::eval_set::EvalSet;
use agentrace_eval::evaluate::MetricSpec;
use agentrace_eval::metrics::rouge::rouge1;
use agentrace_eval::metrics::trajectory::{MatchType, matches};
use agentrace_eval::run::{RunOptions, run_file};
use agentrace_loader::extract::ExtractOptions;
use agentrace_semconv::attr;
use criterion::{Criterion, Throughput};
use serde_json::{Value, json};

const COPIES: usize = 500;
const USER: &str = "Book me a flight from Lisbon to Berlin next Friday, a hotel near the centre for two nights, and tell me the weather.";
const ANSWER: &str = "Your flight TP 552 leaves Lisbon at 08:40 on Friday and lands in Berlin at 13:05. I booked two nights at Hotel Mitte, five minutes from Alexanderplatz. Expect 14 degrees and light rain on Friday, dry and sunny on Saturday.";
const TOOLS: [&str; 8] = [
    "search_flights",
    "book_flight",
    "search_hotels",
    "book_hotel",
    "get_weather",
    "get_weather",
    "convert_currency",
    "send_confirmation",
];

fn kv(k: &str, v: &str) -> Value {
    json!({"key": k, "value": {"stringValue": v}})
}

fn text_msgs(role: &str, text: &str) -> String {
    json!([{"role": role, "parts": [{"type": "text", "content": text}]}]).to_string()
}

/// One OTLP/JSON export document holding one 25-span trace.
fn trace_doc(i: usize) -> Value {
    let tid = format!("{:032x}", 0xbe4c_0000_0000_0000_u128 + i as u128);
    let sid = |k: usize| format!("{:016x}", (i * 64 + k) as u64 | 1 << 62);
    let t0 = 1_767_225_600_000_000_000_u64 + i as u64 * 10_000_000_000;
    let span = |k: usize, parent: Option<usize>, name: &str, off: u64, attrs: Vec<Value>| {
        let mut s = json!({
            "traceId": tid, "spanId": sid(k), "name": name, "kind": 1,
            "startTimeUnixNano": (t0 + off).to_string(),
            "endTimeUnixNano": (t0 + off + 900_000).to_string(),
            "attributes": attrs, "status": {}
        });
        if let Some(p) = parent {
            s["parentSpanId"] = json!(sid(p));
        }
        s
    };
    let mut spans = vec![span(
        0,
        None,
        "invoke_agent travel",
        0,
        vec![
            kv(attr::GEN_AI_OPERATION_NAME, "invoke_agent"),
            kv(attr::GEN_AI_AGENT_NAME, "travel"),
            kv(attr::GEN_AI_INPUT_MESSAGES, &text_msgs("user", USER)),
            kv(
                attr::GEN_AI_OUTPUT_MESSAGES,
                &text_msgs("assistant", ANSWER),
            ),
        ],
    )];
    for (n, tool) in TOOLS.iter().enumerate() {
        let base = 1 + n * 3;
        let off = (n as u64 + 1) * 10_000_000;
        spans.push(span(
            base,
            Some(0),
            "chat gpt-4o",
            off,
            vec![
                kv(attr::GEN_AI_OPERATION_NAME, "chat"),
                kv(attr::GEN_AI_REQUEST_MODEL, "gpt-4o"),
                json!({"key": attr::GEN_AI_USAGE_INPUT_TOKENS, "value": {"intValue": "812"}}),
                json!({"key": attr::GEN_AI_USAGE_OUTPUT_TOKENS, "value": {"intValue": "64"}}),
            ],
        ));
        spans.push(span(
            base + 1,
            Some(0),
            &format!("execute_tool {tool}"),
            off + 1_000_000,
            vec![
                kv(attr::GEN_AI_OPERATION_NAME, "execute_tool"),
                kv(attr::GEN_AI_TOOL_NAME, tool),
                kv(attr::GEN_AI_TOOL_CALL_ID, &format!("call_{n}")),
                kv(
                    attr::GEN_AI_TOOL_CALL_ARGUMENTS,
                    &json!({"step": n, "city": "Berlin"}).to_string(),
                ),
                kv(
                    attr::GEN_AI_TOOL_CALL_RESULT,
                    &json!({"ok": true, "ref": format!("R-{n}")}).to_string(),
                ),
            ],
        ));
        spans.push(span(
            base + 2,
            Some(base + 1),
            "HTTP POST",
            off + 1_100_000,
            vec![kv("http.request.method", "POST")],
        ));
    }
    json!({"resourceSpans": [{"resource": {"attributes": [kv("service.name", "travel-agent")]},
        "scopeSpans": [{"scope": {"name": "bench"}, "spans": spans}]}]})
}

fn eval_set() -> Value {
    let uses: Vec<Value> = TOOLS
        .iter()
        .enumerate()
        .map(|(n, t)| json!({"name": t, "args": {"step": n, "city": "Berlin"}}))
        .collect();
    json!({"eval_set_id": "bench", "eval_cases": [{"eval_id": "travel", "conversation": [{
        "invocation_id": "e1",
        "user_content": {"role": "user", "parts": [{"text": USER}]},
        "final_response": {"role": "model", "parts": [{"text": "Flight TP 552 leaves Lisbon Friday 08:40, arriving in Berlin 13:05; two nights booked at Hotel Mitte near Alexanderplatz; rain on Friday, sun on Saturday."}]},
        "intermediate_data": {"tool_uses": uses}}]}]})
}

/// Writes the benchmark's files to `target/bench-eval/` and returns that folder.
fn write_files() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-eval");
    std::fs::create_dir_all(&dir).unwrap();
    let mut lines = String::new();
    for i in 0..COPIES {
        lines.push_str(&trace_doc(i).to_string());
        lines.push('\n');
    }
    std::fs::write(dir.join("traces.jsonl"), lines).unwrap();
    std::fs::write(dir.join("small.json"), trace_doc(0).to_string()).unwrap();
    std::fs::write(dir.join("eval_set.json"), eval_set().to_string()).unwrap();
    let mb: usize = std::env::var("AGENTRACE_BENCH_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let g = realistic::generate(mb * 1_000_000);
    std::fs::write(dir.join("realistic.jsonl"), &g.text).unwrap();
    std::fs::write(
        dir.join("realistic_eval_set.json"),
        realistic::eval_set(&g).to_string(),
    )
    .unwrap();
    let meta = json!({
        "bytes": g.text.len(),
        "groups": g.groups,
        "traces": g.traces,
        "largest_group_bytes": g.largest_group_bytes,
    });
    std::fs::write(dir.join("realistic.meta.json"), meta.to_string()).unwrap();
    dir
}

fn main() {
    let dir = write_files();
    let set = EvalSet::from_path(&dir.join("eval_set.json")).unwrap();
    let specs = vec![
        MetricSpec::builtin(
            "tool_trajectory_avg_score",
            None,
            Some(MatchType::Exact),
            &Value::Null,
        )
        .unwrap(),
        MetricSpec::builtin("response_match_score", None, None, &Value::Null).unwrap(),
    ];
    let traces = dir.join("traces.jsonl");
    let opts = RunOptions::default();
    // The data is what it claims: 500 groups, every one matched and passing.
    let r = run_file(&traces, &opts, Some(&set), &specs).unwrap();
    assert_eq!(r.groups.len(), COPIES);
    assert!(
        r.groups
            .iter()
            .all(|g| !g.fails() && g.num_invocations == 1)
    );

    let mut c = Criterion::default().configure_from_args();
    let mut g = c.benchmark_group("eval_500_traces");
    g.throughput(Throughput::Elements(COPIES as u64));
    g.sample_size(20);
    g.bench_function("extract_only (baseline)", |b| {
        b.iter(|| {
            let (_, report) = agentrace_loader::extract_path(
                &traces,
                Default::default(),
                &ExtractOptions {
                    cases: Some(set.expected_cases()),
                    ..ExtractOptions::default()
                },
            )
            .unwrap();
            black_box(report.invocations.len())
        });
    });
    g.bench_function("run_file_trajectory_rouge", |b| {
        b.iter(|| {
            black_box(
                run_file(&traces, &opts, Some(&set), &specs)
                    .unwrap()
                    .groups
                    .len(),
            )
        });
    });
    g.finish();

    let mut g = c.benchmark_group("metrics");
    let inv = &r.groups[0];
    black_box(inv);
    let expected =
        agentrace_eval::invocation::Invocation::from_expected(&set.eval_cases[0].conversation[0]);
    let actual_text = ANSWER;
    g.bench_function("rouge1_one_pair", |b| {
        b.iter(|| {
            black_box(
                rouge1(
                    black_box(actual_text),
                    expected.final_response.as_deref().unwrap(),
                )
                .fmeasure,
            )
        });
    });
    let calls = expected.tool_calls.clone();
    g.bench_function("trajectory_any_order_8_calls", |b| {
        b.iter(|| {
            black_box(matches(
                MatchType::AnyOrder,
                black_box(&calls),
                &expected.tool_calls,
            ))
        });
    });
    g.finish();
    c.final_summary();
}
