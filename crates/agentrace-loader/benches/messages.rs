//! Message parsing benchmark: the typed fast path for canonical semconv message JSON against the
//! general parser, on the same messages in the same run.
//!
//! The general parser reads anything outside the canonical shape, so it is measured on the same
//! messages with one extra key per message (`"x":0`), which sends them down the general path and
//! changes nothing in the result (checked before timing).
//!
//! Run with `cargo xtask bench` (or `cargo bench -p agentrace-loader --bench messages`).

// A benchmark reports on stdout.
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::Duration;

use agentrace_loader::extract::message::parse_messages_text;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// What a chat span of an agent carries: a user question, an assistant turn with reasoning and a
/// tool call, the tool's result, and the answer.
const CANONICAL: &str = r#"[{"role":"system","parts":[{"type":"text","content":"You plan trips."}]},{"role":"user","parts":[{"type":"text","content":"Plan a trip to Lisbon for three days"}]},{"role":"assistant","parts":[{"type":"reasoning","content":"Search first."},{"type":"tool_call","id":"call_1","name":"search","arguments":{"q":"Lisbon","days":3}}],"finish_reason":"tool_call"},{"role":"tool","parts":[{"type":"tool_call_response","id":"call_1","response":{"results":["Alfama","Belem"]}}]},{"role":"assistant","parts":[{"type":"text","content":"Day 1: Alfama. Day 2: Belem."}],"finish_reason":"stop"}]"#;

fn messages(c: &mut Criterion) {
    let general = CANONICAL.replace(r#"{"role":"#, r#"{"x":0,"role":"#);
    assert_eq!(
        parse_messages_text(CANONICAL),
        parse_messages_text(&general),
        "both texts read the same"
    );
    assert_eq!(parse_messages_text(CANONICAL).map(|m| m.len()), Some(5));
    let mut g = c.benchmark_group("messages");
    g.throughput(Throughput::Elements(5));
    g.bench_function("general_parser", |b| {
        b.iter(|| parse_messages_text(black_box(&general)))
    });
    g.bench_function("canonical_fast_path", |b| {
        b.iter(|| parse_messages_text(black_box(CANONICAL)))
    });
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! { name = benches; config = config(); targets = messages }
criterion_main!(benches);
