//! Loader benchmark: MB/s and peak memory loading a generated 100 MB OTLP JSON Lines file, with
//! the raw `serde_json` parse of the same bytes (to `serde_json::Value`, line by line) measured in
//! the same run as the baseline.
//!
//! Run with `cargo xtask bench` (or `cargo bench -p agentrace-loader`). Set
//! `AGENTRACE_BENCH_MB` to change the file size.

// A benchmark reports on stdout.
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use agentrace_semconv::attr;
use std::fmt::Write as _;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Instant;

use agentrace_loader::read::{LoadOptions, for_each_batch, load_bytes};
use criterion::{Criterion, Throughput};

/// One OTLP/JSON export document (one line) holding one trace of an agent turn.
fn line(i: u64, out: &mut String) {
    let tid = format!("{:032x}", 0x5eed_0000_0000_0000_u128 + u128::from(i));
    let sid = |k: u64| format!("{:016x}", i.wrapping_mul(16).wrapping_add(k) | 1 << 60);
    let start = 1_767_225_600_000_000_000_u64 + i * 1_000_000_000;
    let msgs = format!(
        "[{{\\\"role\\\":\\\"user\\\",\\\"parts\\\":[{{\\\"type\\\":\\\"text\\\",\\\"content\\\":\\\"Question number {i}: what is the weather in Lisbon, and should I take an umbrella tomorrow morning?\\\"}}]}}]"
    );
    let out_msgs = "[{\\\"role\\\":\\\"assistant\\\",\\\"parts\\\":[{\\\"type\\\":\\\"tool_call\\\",\\\"id\\\":\\\"c1\\\",\\\"name\\\":\\\"get_weather\\\",\\\"arguments\\\":{\\\"city\\\":\\\"Lisbon\\\"}}],\\\"finish_reason\\\":\\\"tool_call\\\"}]";
    let attr = |k: &str, v: &str| format!(r#"{{"key":"{k}","value":{{"stringValue":"{v}"}}}}"#);
    let int = |k: &str, v: u64| format!(r#"{{"key":"{k}","value":{{"intValue":"{v}"}}}}"#);
    let span = |s: &str, p: Option<&str>, name: &str, off: u64, attrs: Vec<String>| {
        let parent = p
            .map(|p| format!(r#""parentSpanId":"{p}","#))
            .unwrap_or_default();
        format!(
            r#"{{"traceId":"{tid}","spanId":"{s}",{parent}"name":"{name}","kind":1,"startTimeUnixNano":"{}","endTimeUnixNano":"{}","attributes":[{}],"status":{{}}}}"#,
            start + off,
            start + off + 500_000,
            attrs.join(",")
        )
    };
    let root = sid(0);
    let mut spans = vec![span(
        &root,
        None,
        "invoke_agent weather",
        0,
        vec![
            attr(attr::GEN_AI_OPERATION_NAME, "invoke_agent"),
            attr(attr::GEN_AI_AGENT_NAME, "weather"),
            attr(attr::GEN_AI_CONVERSATION_ID, &format!("conv-{i}")),
        ],
    )];
    for k in 1..=3u64 {
        spans.push(span(
            &sid(k),
            Some(&root),
            "chat gpt-4o",
            k * 1000,
            vec![
                attr(attr::GEN_AI_OPERATION_NAME, "chat"),
                attr(attr::GEN_AI_PROVIDER_NAME, "openai"),
                attr(attr::GEN_AI_REQUEST_MODEL, "gpt-4o"),
                attr(attr::GEN_AI_RESPONSE_MODEL, "gpt-4o-2024-08-06"),
                int(attr::GEN_AI_USAGE_INPUT_TOKENS, 1200 + k),
                int(attr::GEN_AI_USAGE_OUTPUT_TOKENS, 30 + k),
                attr(attr::GEN_AI_INPUT_MESSAGES, &msgs),
                attr(attr::GEN_AI_OUTPUT_MESSAGES, out_msgs),
            ],
        ));
        spans.push(span(
            &sid(k + 8),
            Some(&root),
            "execute_tool get_weather",
            k * 1000 + 500,
            vec![
                attr(attr::GEN_AI_OPERATION_NAME, "execute_tool"),
                attr(attr::GEN_AI_TOOL_NAME, "get_weather"),
                attr(attr::GEN_AI_TOOL_CALL_ID, &format!("c{k}")),
                attr(
                    attr::GEN_AI_TOOL_CALL_ARGUMENTS,
                    "{\\\"city\\\":\\\"Lisbon\\\"}",
                ),
                attr(
                    attr::GEN_AI_TOOL_CALL_RESULT,
                    "{\\\"summary\\\":\\\"light rain\\\",\\\"high_c\\\":17}",
                ),
            ],
        ));
    }
    let _ = write!(
        out,
        r#"{{"resourceSpans":[{{"resource":{{"attributes":[{},{}]}},"scopeSpans":[{{"scope":{{"name":"bench","version":"1.0"}},"spans":[{}]}}]}}]}}"#,
        attr("service.name", "weather-agent"),
        attr("telemetry.sdk.language", "python"),
        spans.join(",")
    );
    out.push('\n');
}

fn generate(bytes: usize) -> String {
    let mut s = String::with_capacity(bytes + 16 * 1024);
    let mut i = 0;
    while s.len() < bytes {
        line(i, &mut s);
        i += 1;
    }
    s
}

fn raw_parse(data: &str) -> usize {
    let mut n = 0;
    for l in data.lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        n += usize::from(v.is_object());
    }
    n
}

/// Peak resident memory since the last reset, in bytes (Linux; 0 elsewhere).
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|kb| kb.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn current_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|kb| kb.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// Runs this binary again to load `path` once (`whole`: keep everything; `stream`: batch by
/// batch) and returns its peak RSS above its RSS before loading.
fn child_peak(path: &Path, mode: &str) -> u64 {
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new(exe)
        .env("AGENTRACE_BENCH_CHILD", mode)
        .env("AGENTRACE_BENCH_FILE", path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("peak-above-base "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

fn child(mode: &str) {
    let path = PathBuf::from(std::env::var("AGENTRACE_BENCH_FILE").unwrap());
    let base = current_rss();
    if mode == "whole" {
        let loaded = agentrace_loader::read::load_path(&path, LoadOptions::default()).unwrap();
        black_box(&loaded);
    } else {
        let mut issues = Vec::new();
        let mut n = 0;
        for_each_batch(&path, LoadOptions::default(), &mut issues, |b| {
            n += b.spans.len()
        })
        .unwrap();
        black_box(n);
    }
    println!("peak-above-base {}", peak_rss().saturating_sub(base));
}

fn time_mb_s(len: usize, mut f: impl FnMut()) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..3 {
        let t = Instant::now();
        f();
        best = best.min(t.elapsed().as_secs_f64());
    }
    len as f64 / 1e6 / best
}

fn summary(path: &Path, data: &str) {
    let len = data.len();
    let mb = len as f64 / 1e6;
    let raw = time_mb_s(len, || {
        black_box(raw_parse(data));
    });
    let load = time_mb_s(len, || {
        black_box(load_bytes(data.as_bytes(), LoadOptions::default()).unwrap());
    });
    // Peak memory, each in a fresh process so that memory freed earlier cannot hide it.
    let whole = child_peak(path, "whole");
    let streamed = child_peak(path, "stream");
    // The same spans as one pretty-printed (multi-line) OTLP/JSON document.
    let doc_path = path.with_extension("json");
    std::fs::write(&doc_path, as_document(data)).unwrap();
    let doc_len = std::fs::metadata(&doc_path).map_or(1, |m| m.len());
    let doc = child_peak(&doc_path, "whole");
    let t = Instant::now();
    black_box(agentrace_loader::read::load_path(&doc_path, LoadOptions::default()).unwrap());
    let doc_speed = doc_len as f64 / 1e6 / t.elapsed().as_secs_f64();
    let _ = std::fs::remove_file(&doc_path);
    let spans = load_bytes(data.as_bytes(), LoadOptions::default())
        .unwrap()
        .telemetry
        .spans
        .len();
    let n = spans;
    println!("loader summary: file {mb:.1} MB, {spans} spans ({n} streamed)");
    println!("  raw serde_json parse (baseline): {raw:.0} MB/s");
    println!(
        "  load (JSONL -> model):           {load:.0} MB/s = {:.0}% of raw",
        load / raw * 100.0
    );
    println!(
        "  peak memory above baseline: whole load {:.0} MB ({:.2}x file), streaming {:.1} MB ({:.3}x file)",
        whole as f64 / 1e6,
        whole as f64 / len as f64,
        streamed as f64 / 1e6,
        streamed as f64 / len as f64
    );
    println!(
        "  one multi-line document of the same spans ({:.1} MB): load_path {doc_speed:.0} MB/s, peak memory {:.0} MB ({:.2}x file)",
        doc_len as f64 / 1e6,
        doc as f64 / 1e6,
        doc as f64 / doc_len as f64
    );
}

/// One OTLP/JSON line (one trace) as a Jaeger trace object (`data` element), written compactly.
fn jaeger_trace(line: &str) -> serde_json::Value {
    use serde_json::{Value, json};
    let v: Value = serde_json::from_str(line).unwrap();
    let rs = &v["resourceSpans"][0];
    let ss = &rs["scopeSpans"][0];
    let tag = |kv: &Value| {
        let val = &kv["value"];
        match val.get("intValue") {
            Some(i) => json!({"key": kv["key"], "type": "int64", "value": i}),
            None => json!({"key": kv["key"], "type": "string", "value": val["stringValue"]}),
        }
    };
    let nanos = |v: &Value| v.as_str().unwrap().parse::<u64>().unwrap();
    let mut trace_id = Value::Null;
    let spans: Vec<Value> = ss["spans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            trace_id = s["traceId"].clone();
            let start = nanos(&s["startTimeUnixNano"]);
            let end = nanos(&s["endTimeUnixNano"]);
            let references: Vec<Value> = s
                .get("parentSpanId")
                .map(|p| json!({"refType": "CHILD_OF", "traceID": s["traceId"], "spanID": p}))
                .into_iter()
                .collect();
            let mut tags: Vec<Value> = s["attributes"]
                .as_array()
                .unwrap()
                .iter()
                .map(tag)
                .collect();
            tags.push(json!({"key": "span.kind", "type": "string", "value": "internal"}));
            tags.push(
                json!({"key": "otel.scope.name", "type": "string", "value": ss["scope"]["name"]}),
            );
            json!({
                "traceID": s["traceId"],
                "spanID": s["spanId"],
                "operationName": s["name"],
                "references": references,
                "startTime": start / 1000,
                "duration": (end - start) / 1000,
                "tags": tags,
                "logs": [],
                "processID": "p1",
                "warnings": null
            })
        })
        .collect();
    let ptags: Vec<Value> = rs["resource"]["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|kv| kv["key"] != "service.name")
        .map(tag)
        .collect();
    json!({
        "traceID": trace_id,
        "spans": spans,
        "processes": {"p1": {"serviceName": "weather-agent", "tags": ptags}},
        "warnings": null
    })
}

/// The JSON Lines as one Jaeger JSON document (`data`, one trace per line of the file).
fn as_jaeger(data: &str) -> String {
    let mut out = String::with_capacity(data.len() + 64);
    out.push_str("{\"data\": [\n");
    for (i, l) in data.lines().enumerate() {
        if i > 0 {
            out.push_str(",\n");
        }
        out.push_str(&jaeger_trace(l).to_string());
    }
    out.push_str("\n], \"total\": 0, \"limit\": 0, \"offset\": 0, \"errors\": null}\n");
    out
}

/// The JSON Lines as one Tempo export document (`batches`, one resource's spans per line).
fn as_tempo(data: &str) -> String {
    as_document(data).replacen("{\"resourceSpans\"", "{\"batches\"", 1)
}

/// The spans of every line as one Tempo export with a single resource and scope.
fn as_one_resource(data: &str) -> String {
    let mut spans = Vec::new();
    for l in data.lines() {
        let start = l.find("\"spans\":[").unwrap() + "\"spans\":[".len();
        let end = l.rfind("]}]}]}").unwrap();
        spans.push(l.get(start..end).unwrap());
    }
    format!(
        "{{\"batches\": [{{\"resource\": {{\"attributes\": []}}, \"scopeSpans\": [{{\"scope\": {{\"name\": \"bench\"}}, \"spans\": [\n{}\n]}}]}}]}}\n",
        spans.join(",\n")
    )
}

/// The spans of every line as one Jaeger trace (one `data` element), one span per line.
fn as_one_jaeger_trace(data: &str) -> String {
    let mut spans = Vec::new();
    let mut processes = serde_json::Value::Null;
    for l in data.lines() {
        let t = jaeger_trace(l);
        processes = t["processes"].clone();
        for s in t["spans"].as_array().unwrap() {
            spans.push(s.to_string());
        }
    }
    format!(
        "{{\"data\": [{{\"traceID\": \"{}\", \"spans\": [\n{}\n], \"processes\": {processes}}}]}}\n",
        "5eed",
        spans.join(",\n")
    )
}

/// Loads `path` once and returns MB/s.
fn load_speed(path: &Path) -> f64 {
    let len = std::fs::metadata(path).map_or(1, |m| m.len());
    let t = Instant::now();
    let l = agentrace_loader::read::load_path(path, LoadOptions::default()).unwrap();
    assert_eq!(l.skipped(), 0);
    black_box(l);
    len as f64 / 1e6 / t.elapsed().as_secs_f64()
}

/// Peak memory and speed of the lenient reader's shapes (Jaeger, Tempo), written to files.
fn lenient_summary(path: &Path, data: &str) {
    for (name, ext, text) in [
        (
            "Jaeger JSON (`data`, one trace per line)",
            "jaeger.json",
            as_jaeger(data),
        ),
        (
            "Tempo export (`batches`, one resource per line)",
            "tempo.json",
            as_tempo(data),
        ),
        (
            "Tempo export on one line",
            "tempo1.json",
            as_tempo(data).replace(",\n", ","),
        ),
        (
            "Tempo export, one resource holding every span",
            "tempo-one.json",
            as_one_resource(data),
        ),
        (
            "Jaeger JSON, one trace holding every span",
            "jaeger-one.json",
            as_one_jaeger_trace(data),
        ),
    ] {
        let p = path.with_extension(ext);
        std::fs::write(&p, &text).unwrap();
        let len = text.len();
        drop(text);
        let speed = load_speed(&p);
        let peak = child_peak(&p, "whole");
        println!(
            "  {name}, one {:.1} MB document: load_path {speed:.0} MB/s, peak memory {:.0} MB ({:.2}x file)",
            len as f64 / 1e6,
            peak as f64 / 1e6,
            peak as f64 / len as f64
        );
        let _ = std::fs::remove_file(&p);
    }
    // One pretty-printed Jaeger document per trace, one after another: streamed, memory is bounded
    // by a trace.
    let p = path.with_extension("jaeger-docs.json");
    let mut docs = String::with_capacity(data.len() * 5 / 4);
    for l in data.lines() {
        let doc = serde_json::json!({"data": [jaeger_trace(l)]});
        let _ = writeln!(docs, "{}", serde_json::to_string_pretty(&doc).unwrap());
    }
    std::fs::write(&p, &docs).unwrap();
    let len = docs.len();
    drop(docs);
    let streamed = child_peak(&p, "stream");
    println!(
        "  Jaeger, one document per trace ({:.1} MB), for_each_batch: peak memory {:.2} MB ({:.4}x file)",
        len as f64 / 1e6,
        streamed as f64 / 1e6,
        streamed as f64 / len as f64
    );
    let _ = std::fs::remove_file(&p);
}

/// The JSON Lines as one OTLP/JSON document, one resourceSpans entry per line.
fn as_document(data: &str) -> String {
    let mut out = String::with_capacity(data.len() + 64);
    out.push_str("{\"resourceSpans\": [\n");
    let prefix = "{\"resourceSpans\":[";
    for (i, l) in data.lines().enumerate() {
        let inner = l
            .strip_prefix(prefix)
            .and_then(|x| x.strip_suffix("]}"))
            .unwrap();
        if i > 0 {
            out.push_str(",\n");
        }
        out.push_str(inner);
    }
    out.push_str("\n]}\n");
    out
}

fn main() {
    if let Ok(mode) = std::env::var("AGENTRACE_BENCH_CHILD") {
        child(&mode);
        return;
    }
    let mb: usize = std::env::var("AGENTRACE_BENCH_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let data = generate(mb * 1_000_000);
    let path: PathBuf =
        std::env::temp_dir().join(format!("agentrace-bench-{}.jsonl", std::process::id()));
    std::fs::write(&path, &data).unwrap();

    summary(&path, &data);
    lenient_summary(&path, &data);

    let mut c = Criterion::default()
        .configure_from_args()
        .sample_size(10)
        .warm_up_time(std::time::Duration::from_secs(1))
        .measurement_time(std::time::Duration::from_secs(10));
    let mut g = c.benchmark_group("loader/otlp-jsonl");
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.bench_function("raw_serde_json_value", |b| {
        b.iter(|| raw_parse(black_box(&data)))
    });
    g.bench_function("load_bytes", |b| {
        b.iter(|| load_bytes(black_box(data.as_bytes()), LoadOptions::default()).unwrap())
    });
    g.finish();
    c.final_summary();
    let _ = std::fs::remove_file(&path);
}
