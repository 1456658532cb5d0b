//! Incremental extraction benchmark: a live session of N = 200 traces of 25 GenAI spans each
//! (an `invoke_agent` root, twelve `chat` spans with JSON messages and usage, twelve
//! `execute_tool` spans), then the cost of pushing one more 25-span trace and asking for the
//! report — the [`IncrementalExtractor`] against batch re-extraction of everything, in the same
//! run. Then what the server does after each batch of a live session (extract, release the rooted
//! traces): the full report against [`IncrementalExtractor::invocations_since`].
//!
//! Run with `cargo xtask bench` (or `cargo bench -p agentrace-loader --bench incremental`). Set
//! `AGENTRACE_BENCH_TRACES` to change N.

// A benchmark reports on stdout.
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use agentrace_loader::extract::{self, ExtractOptions};
use agentrace_loader::incremental::IncrementalExtractor;
use agentrace_loader::model::{
    AnyValue, Attributes, Resource, Scope, Span, SpanId, Telemetry, TraceId,
};
use agentrace_loader::read::Format;
use agentrace_loader::report::Report;
use agentrace_loader::trace::TraceSet;
use agentrace_semconv::attr;
use criterion::{BatchSize, Criterion};

const SPANS_PER_TRACE: u64 = 25;

fn text(a: &mut Attributes, k: &str, v: impl Into<String>) {
    a.push(k, AnyValue::String(v.into()));
}

/// Trace `i`: 25 spans of one agent turn.
fn trace(i: u64, resource: &Arc<Resource>, scope: &Arc<Scope>) -> Vec<Span> {
    let mut tid = [0u8; 16];
    tid[..8].copy_from_slice(&(i + 1).to_be_bytes());
    let trace_id = TraceId(tid);
    let sid = |k: u64| SpanId(((i << 8) | (k + 1)).to_be_bytes());
    let start = 1_767_225_600_000_000_000_u64 + i * 1_000_000_000;
    let span = |k: u64, parent: Option<SpanId>, name: &str, attributes: Attributes| Span {
        trace_id,
        span_id: sid(k),
        parent_span_id: parent,
        name: name.to_owned(),
        start_ns: start + k * 10_000,
        end_ns: start + k * 10_000 + 9_000,
        attributes,
        resource: Arc::clone(resource),
        scope: Arc::clone(scope),
        ..Span::default()
    };
    let mut a = Attributes::default();
    text(&mut a, attr::GEN_AI_OPERATION_NAME, "invoke_agent");
    text(&mut a, attr::GEN_AI_AGENT_NAME, "weather");
    text(&mut a, attr::GEN_AI_CONVERSATION_ID, format!("conv-{i}"));
    let root = span(0, None, "invoke_agent weather", a);
    let root_id = root.span_id;
    let mut spans = vec![root];
    let mut history = format!(
        r#"{{"role":"user","parts":[{{"type":"text","content":"Question {i}: the weather in Lisbon for the next twelve days?"}}]}}"#
    );
    for k in 0..(SPANS_PER_TRACE - 1) / 2 {
        let call = format!("call_{i}_{k}");
        let out = format!(
            r#"[{{"role":"assistant","parts":[{{"type":"tool_call","id":"{call}","name":"get_weather","arguments":{{"city":"Lisbon","day":{k}}}}}],"finish_reason":"tool_call"}}]"#
        );
        let mut a = Attributes::default();
        text(&mut a, attr::GEN_AI_OPERATION_NAME, "chat");
        text(&mut a, attr::GEN_AI_PROVIDER_NAME, "openai");
        text(&mut a, attr::GEN_AI_REQUEST_MODEL, "gpt-4o");
        a.push(attr::GEN_AI_USAGE_INPUT_TOKENS, AnyValue::Int(1200));
        a.push(attr::GEN_AI_USAGE_OUTPUT_TOKENS, AnyValue::Int(30));
        text(&mut a, attr::GEN_AI_INPUT_MESSAGES, format!("[{history}]"));
        text(&mut a, attr::GEN_AI_OUTPUT_MESSAGES, out.clone());
        spans.push(span(1 + 2 * k, Some(root_id), "chat gpt-4o", a));
        let mut a = Attributes::default();
        text(&mut a, attr::GEN_AI_OPERATION_NAME, "execute_tool");
        text(&mut a, attr::GEN_AI_TOOL_NAME, "get_weather");
        text(&mut a, attr::GEN_AI_TOOL_CALL_ID, call.clone());
        text(
            &mut a,
            attr::GEN_AI_TOOL_CALL_ARGUMENTS,
            format!(r#"{{"city":"Lisbon","day":{k}}}"#),
        );
        text(
            &mut a,
            attr::GEN_AI_TOOL_CALL_RESULT,
            r#"{"summary":"light rain","high_c":17}"#,
        );
        spans.push(span(
            2 + 2 * k,
            Some(root_id),
            "execute_tool get_weather",
            a,
        ));
        history.push_str(&format!(
            r#",{{"role":"assistant","parts":[{{"type":"tool_call","id":"{call}","name":"get_weather","arguments":{{"city":"Lisbon","day":{k}}}}}]}},{{"role":"tool","parts":[{{"type":"tool_call_response","id":"{call}","response":{{"summary":"light rain","high_c":17}}}}]}}"#
        ));
    }
    spans
}

fn batch(t: Telemetry, opts: &ExtractOptions) -> Report {
    let set = TraceSet::build(t);
    let ex = extract::extract(&set, opts);
    Report::new(Format::OtlpJson, &set, &ex)
}

fn main() {
    let n: u64 = std::env::var("AGENTRACE_BENCH_TRACES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let resource = Arc::new(Resource::default());
    let scope = Arc::new(Scope::default());
    let session: Vec<Span> = (0..n).flat_map(|i| trace(i, &resource, &scope)).collect();
    let extra = trace(n, &resource, &scope);
    let extra_id = extra[0].trace_id;
    let opts = ExtractOptions::default();

    let mut inc = IncrementalExtractor::new();
    inc.push_spans(session.iter().cloned());
    let before = inc.report(Format::OtlpJson, &opts);
    assert_eq!(before.invocations.len(), usize::try_from(n).unwrap());

    // One step of each, outside criterion, checked equal.
    let mut all = Telemetry {
        spans: session.clone(),
        logs: Vec::new(),
    };
    all.spans.extend(extra.iter().cloned());
    let t = Instant::now();
    inc.push_spans(extra.iter().cloned());
    let got = inc.report(Format::OtlpJson, &opts);
    let inc_once = t.elapsed();
    let input = all.clone();
    let t = Instant::now();
    let expected = batch(input, &opts);
    let batch_once = t.elapsed();
    assert_eq!(got, expected, "incremental and batch reports differ");
    inc.take_trace(extra_id);
    black_box(inc.report(Format::OtlpJson, &opts));
    println!(
        "incremental summary: session of {n} traces x {SPANS_PER_TRACE} spans; push one more trace + report: incremental {:.2} ms, batch {:.2} ms (one run, after warm-up)",
        inc_once.as_secs_f64() * 1e3,
        batch_once.as_secs_f64() * 1e3,
    );

    let mut c = Criterion::default()
        .configure_from_args()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    let mut g = c.benchmark_group(format!(
        "loader/session-{n}x{SPANS_PER_TRACE}/push-trace-and-report"
    ));
    g.bench_function("incremental", |b| {
        b.iter_custom(|iters| {
            let mut spent = Duration::ZERO;
            for _ in 0..iters {
                let spans = extra.clone();
                let t = Instant::now();
                inc.push_spans(spans);
                black_box(inc.report(Format::OtlpJson, &opts));
                spent += t.elapsed();
                // Back to the session of N traces, untimed.
                black_box(inc.take_trace(extra_id));
                black_box(inc.report(Format::OtlpJson, &opts));
            }
            spent
        });
    });
    g.bench_function("batch_reextract_all", |b| {
        b.iter_batched(|| all.clone(), |t| batch(t, &opts), BatchSize::LargeInput);
    });
    g.finish();

    // What the server does with a live session after each batch: extract, then release the
    // rooted traces (which drops the cached turns). The full report builds every group again;
    // the update builds only what the new trace touches.
    let mut live = IncrementalExtractor::new();
    live.push_spans(session.iter().cloned());
    live.release_rooted();
    let mut g = c.benchmark_group(format!(
        "loader/session-{n}x{SPANS_PER_TRACE}/push-trace-release-and-extract"
    ));
    g.bench_function("report_after_release", |b| {
        b.iter_custom(|iters| {
            let mut spent = Duration::ZERO;
            for _ in 0..iters {
                let spans = extra.clone();
                let t = Instant::now();
                live.push_spans(spans);
                black_box(live.report(Format::OtlpJson, &opts));
                live.release_rooted();
                spent += t.elapsed();
                black_box(live.take_trace(extra_id));
            }
            spent
        });
    });
    black_box(live.invocations_since(&opts));
    g.bench_function("invocations_since", |b| {
        b.iter_custom(|iters| {
            let mut spent = Duration::ZERO;
            for _ in 0..iters {
                let spans = extra.clone();
                let t = Instant::now();
                live.push_spans(spans);
                let update = live.invocations_since(&opts);
                live.release_rooted();
                spent += t.elapsed();
                assert_eq!(
                    update.invocations.len(),
                    1,
                    "only the new trace's invocation"
                );
                black_box(live.take_trace(extra_id));
                black_box(live.invocations_since(&opts));
            }
            spent
        });
    });
    g.finish();
    c.final_summary();
}
