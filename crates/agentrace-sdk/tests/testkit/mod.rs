//! Shared test helpers: an [`Instrumentation`] on in-memory span, log and metric exporters, a
//! redacted JSON rendering of exported spans for insta, a span-tree printer, and metric readers.
//! Included by the integration-test binary (`tests/it/main.rs`); the benchmarks use a dropping
//! span processor of their own instead, since they measure instrumentation, not export.

#![allow(
    dead_code,
    unreachable_pub,
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::type_complexity
)]

use std::collections::{BTreeMap, HashMap};

use agentrace_sdk::{CaptureSettings, Instrumentation};
use opentelemetry::trace::{SpanId, SpanKind, Status};
use opentelemetry::{KeyValue, Value};
use opentelemetry_sdk::logs::{InMemoryLogExporter, SdkLoggerProvider};
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use serde_json::{Value as Json, json};

/// In-memory providers and the instrumentation built on them.
pub struct Kit {
    pub inst: Instrumentation,
    pub spans: InMemorySpanExporter,
    pub logs: InMemoryLogExporter,
    pub metrics: InMemoryMetricExporter,
    pub tracer_provider: SdkTracerProvider,
    pub logger_provider: SdkLoggerProvider,
    pub meter_provider: SdkMeterProvider,
}

impl Kit {
    /// Content capture off.
    pub fn new() -> Self {
        Self::with(CaptureSettings::default(), false)
    }

    pub fn with(capture: CaptureSettings, legacy: bool) -> Self {
        let spans = InMemorySpanExporter::default();
        let logs = InMemoryLogExporter::default();
        let metrics = InMemoryMetricExporter::default();
        let tracer_provider = SdkTracerProvider::builder()
            .with_simple_exporter(spans.clone())
            .build();
        let logger_provider = SdkLoggerProvider::builder()
            .with_simple_exporter(logs.clone())
            .build();
        let meter_provider = SdkMeterProvider::builder()
            .with_reader(PeriodicReader::builder(metrics.clone()).build())
            .build();
        let inst = Instrumentation::builder()
            .with_tracer_provider(&tracer_provider)
            .with_meter_provider(&meter_provider)
            .with_logger_provider(&logger_provider)
            .with_capture(capture)
            .with_legacy_events(legacy)
            .build();
        Self {
            inst,
            spans,
            logs,
            metrics,
            tracer_provider,
            logger_provider,
            meter_provider,
        }
    }

    pub fn finished(&self) -> Vec<SpanData> {
        self.spans.get_finished_spans().unwrap()
    }

    /// Exported log records as `(event name, attributes, body)` JSON.
    pub fn log_events(&self) -> Vec<Json> {
        self.logs
            .get_emitted_logs()
            .unwrap()
            .iter()
            .map(|l| {
                let r = &l.record;
                let mut attrs = BTreeMap::new();
                for (k, v) in r.attributes_iter() {
                    attrs.insert(k.to_string(), any_to_json(v));
                }
                json!({
                    "event_name": r.event_name(),
                    "severity": r.severity_number().map(|s| s.name()),
                    "attributes": attrs,
                    "body": r.body().map(any_to_json),
                    "has_trace": r.trace_context().is_some(),
                })
            })
            .collect()
    }

    /// Histogram points: metric name -> list of (sorted attributes, count, sum, bounds).
    pub fn histograms(&self) -> BTreeMap<String, Vec<Json>> {
        self.meter_provider.force_flush().unwrap();
        let mut out: BTreeMap<String, Vec<Json>> = BTreeMap::new();
        for rm in self.metrics.get_finished_metrics().unwrap() {
            for sm in rm.scope_metrics() {
                for m in sm.metrics() {
                    let points = out.entry(m.name().to_owned()).or_default();
                    match m.data() {
                        AggregatedMetrics::F64(MetricData::Histogram(h)) => {
                            for p in h.data_points() {
                                points.push(json!({
                                    "unit": m.unit(),
                                    "attributes": kv_map(p.attributes()),
                                    "count": p.count(),
                                    "bounds": p.bounds().collect::<Vec<_>>(),
                                }));
                            }
                        }
                        AggregatedMetrics::U64(MetricData::Histogram(h)) => {
                            for p in h.data_points() {
                                points.push(json!({
                                    "unit": m.unit(),
                                    "attributes": kv_map(p.attributes()),
                                    "count": p.count(),
                                    "sum": p.sum(),
                                    "bounds": p.bounds().collect::<Vec<_>>(),
                                }));
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
        // Data points come out of a hash map: sort them for stable snapshots.
        for points in out.values_mut() {
            points.sort_by_key(|p| p["attributes"].to_string());
        }
        out
    }
}

/// One exported `f64` histogram data point, with everything the exporter keeps.
#[derive(Debug, Clone, PartialEq)]
pub struct HistPoint {
    pub attributes: BTreeMap<String, Json>,
    pub count: u64,
    pub sum: f64,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub bounds: Vec<f64>,
    pub bucket_counts: Vec<u64>,
}

/// One exported log record, raw enough to compare ids.
#[derive(Debug, Clone)]
pub struct LogRecordView {
    pub event_name: Option<String>,
    pub severity_number: Option<i32>,
    pub attributes: BTreeMap<String, Json>,
    pub trace_id: Option<opentelemetry::trace::TraceId>,
    pub span_id: Option<SpanId>,
}

impl Kit {
    /// The data points of an `f64` histogram in the latest (cumulative) export, sorted by
    /// attributes.
    pub fn f64_histogram(&self, name: &str) -> Vec<HistPoint> {
        self.meter_provider.force_flush().unwrap();
        let exported = self.metrics.get_finished_metrics().unwrap();
        let mut points = Vec::new();
        let Some(last) = exported.last() else {
            return points;
        };
        for sm in last.scope_metrics() {
            for m in sm.metrics().filter(|m| m.name() == name) {
                if let AggregatedMetrics::F64(MetricData::Histogram(h)) = m.data() {
                    for p in h.data_points() {
                        points.push(HistPoint {
                            attributes: kv_map(p.attributes()),
                            count: p.count(),
                            sum: p.sum(),
                            min: p.min(),
                            max: p.max(),
                            bounds: p.bounds().collect(),
                            bucket_counts: p.bucket_counts().collect(),
                        });
                    }
                }
            }
        }
        points.sort_by_key(|p| format!("{:?}", p.attributes));
        points
    }

    /// Exported log records named `name`.
    pub fn log_records(&self, name: &str) -> Vec<LogRecordView> {
        self.logs
            .get_emitted_logs()
            .unwrap()
            .iter()
            .filter(|l| l.record.event_name() == Some(name))
            .map(|l| {
                let r = &l.record;
                LogRecordView {
                    event_name: r.event_name().map(str::to_owned),
                    severity_number: r.severity_number().map(|s| s as i32),
                    attributes: r
                        .attributes_iter()
                        .map(|(k, v)| (k.to_string(), any_to_json(v)))
                        .collect(),
                    trace_id: r.trace_context().map(|t| t.trace_id),
                    span_id: r.trace_context().map(|t| t.span_id),
                }
            })
            .collect()
    }
}

fn kv_map<'a>(kvs: impl Iterator<Item = &'a KeyValue>) -> BTreeMap<String, Json> {
    kvs.map(|kv| (kv.key.to_string(), value_to_json(&kv.value)))
        .collect()
}

pub fn value_to_json(v: &Value) -> Json {
    match v {
        Value::Bool(b) => json!(b),
        Value::I64(i) => json!(i),
        Value::F64(f) => json!(f),
        Value::String(s) => json!(s.as_str()),
        Value::Array(a) => match a {
            opentelemetry::Array::Bool(v) => json!(v),
            opentelemetry::Array::I64(v) => json!(v),
            opentelemetry::Array::F64(v) => json!(v),
            opentelemetry::Array::String(v) => {
                json!(v.iter().map(|s| s.as_str()).collect::<Vec<_>>())
            }
            _ => json!(format!("{a:?}")),
        },
        _ => json!(format!("{v:?}")),
    }
}

pub fn any_to_json(v: &opentelemetry::logs::AnyValue) -> Json {
    use opentelemetry::logs::AnyValue as A;
    match v {
        A::Int(i) => json!(i),
        A::Double(d) => json!(d),
        A::String(s) => json!(s.as_str()),
        A::Boolean(b) => json!(b),
        A::Bytes(b) => json!(b.as_ref()),
        A::ListAny(items) => Json::Array(items.iter().map(any_to_json).collect()),
        A::Map(m) => {
            let sorted: BTreeMap<String, Json> = m
                .iter()
                .map(|(k, v)| (k.to_string(), any_to_json(v)))
                .collect();
            json!(sorted)
        }
        _ => json!(format!("{v:?}")),
    }
}

/// Attributes whose value is a duration or a time: redacted to their type.
const TIMING_KEYS: &[&str] = &["gen_ai.response.time_to_first_chunk"];

fn kind_str(k: &SpanKind) -> &'static str {
    match k {
        SpanKind::Client => "client",
        SpanKind::Server => "server",
        SpanKind::Producer => "producer",
        SpanKind::Consumer => "consumer",
        SpanKind::Internal => "internal",
    }
}

/// Exported spans as redacted JSON, in start order: ids become names of parents, times go away.
pub fn render(spans: &[SpanData]) -> Json {
    let mut spans: Vec<&SpanData> = spans.iter().collect();
    spans.sort_by_key(|s| s.start_time);
    let names: HashMap<SpanId, String> = spans
        .iter()
        .map(|s| (s.span_context.span_id(), s.name.to_string()))
        .collect();
    let traces: Vec<_> = {
        let mut t = Vec::new();
        for s in &spans {
            let id = s.span_context.trace_id();
            if !t.contains(&id) {
                t.push(id);
            }
        }
        t
    };
    Json::Array(
        spans
            .iter()
            .map(|s| {
                let mut attrs = BTreeMap::new();
                for kv in &s.attributes {
                    let key = kv.key.as_str();
                    assert!(
                        !attrs.contains_key(key),
                        "{}: attribute {key} set twice",
                        s.name
                    );
                    let v = if TIMING_KEYS.contains(&key) {
                        json!("[duration]")
                    } else {
                        value_to_json(&kv.value)
                    };
                    attrs.insert(key.to_owned(), v);
                }
                let events: Vec<Json> = s
                    .events
                    .iter()
                    .map(|e| {
                        let mut a = BTreeMap::new();
                        for kv in &e.attributes {
                            a.insert(kv.key.to_string(), value_to_json(&kv.value));
                        }
                        json!({"name": e.name, "attributes": a})
                    })
                    .collect();
                let status = match &s.status {
                    Status::Unset => json!("unset"),
                    Status::Ok => json!("ok"),
                    Status::Error { description } => json!({"error": description}),
                };
                let parent = if s.parent_span_id == SpanId::INVALID {
                    Json::Null
                } else {
                    json!(
                        names
                            .get(&s.parent_span_id)
                            .cloned()
                            .unwrap_or_else(|| "[foreign]".into())
                    )
                };
                let trace = traces
                    .iter()
                    .position(|t| *t == s.span_context.trace_id())
                    .unwrap_or_default();
                json!({
                    "name": s.name,
                    "kind": kind_str(&s.span_kind),
                    "parent": parent,
                    "trace": trace,
                    "status": status,
                    "attributes": attrs,
                    "events": events,
                })
            })
            .collect(),
    )
}

/// The one snapshot helper: renders and compares with the named insta snapshot.
#[macro_export]
macro_rules! check {
    ($name:expr, $spans:expr) => {{
        let rendered = $crate::testkit::render(&$spans);
        insta::assert_json_snapshot!($name, rendered);
    }};
}

/// An indented span tree (`name [kind] status`), children in start order.
pub fn tree(spans: &[SpanData]) -> String {
    let mut spans: Vec<&SpanData> = spans.iter().collect();
    spans.sort_by_key(|s| s.start_time);
    let ids: Vec<SpanId> = spans.iter().map(|s| s.span_context.span_id()).collect();
    let mut out = String::new();
    fn walk(
        out: &mut String,
        spans: &[&SpanData],
        ids: &[SpanId],
        parent: Option<SpanId>,
        depth: usize,
    ) {
        for s in spans {
            let is_child = match parent {
                None => s.parent_span_id == SpanId::INVALID || !ids.contains(&s.parent_span_id),
                Some(p) => s.parent_span_id == p,
            };
            if is_child {
                let status = match &s.status {
                    Status::Error { .. } => " ERROR",
                    _ => "",
                };
                out.push_str(&format!(
                    "{}{} [{}]{}\n",
                    "  ".repeat(depth),
                    s.name,
                    kind_str(&s.span_kind),
                    status
                ));
                walk(out, spans, ids, Some(s.span_context.span_id()), depth + 1);
            }
        }
    }
    walk(&mut out, &spans, &ids, None, 0);
    out
}

/// The string value of an attribute of a span.
pub fn attr<'a>(span: &'a SpanData, key: &str) -> Option<&'a Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| &kv.value)
}

/// A scripted model chunk (OpenAI-like): text, tool-call fragments, finish reason, usage.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Chunk {
    pub id: Option<&'static str>,
    pub model: Option<&'static str>,
    pub text: Option<String>,
    pub reasoning: Option<String>,
    pub tool: Option<(
        usize,
        Option<&'static str>,
        Option<&'static str>,
        Option<String>,
    )>,
    pub finish: Option<&'static str>,
    pub usage: Option<agentrace_sdk::Usage>,
}

impl Chunk {
    pub fn text(t: &str) -> Self {
        Self {
            text: Some(t.to_owned()),
            ..Self::default()
        }
    }
}

impl agentrace_sdk::ModelChunk for Chunk {
    fn text_delta(&self) -> Option<&str> {
        self.text.as_deref()
    }
    fn reasoning_delta(&self) -> Option<&str> {
        self.reasoning.as_deref()
    }
    fn tool_call_deltas(&self, f: &mut dyn FnMut(agentrace_sdk::ToolCallDelta<'_>)) {
        if let Some((index, id, name, args)) = &self.tool {
            f(agentrace_sdk::ToolCallDelta {
                index: *index,
                id: *id,
                name: *name,
                arguments: args.as_deref(),
            });
        }
    }
    fn usage(&self) -> Option<agentrace_sdk::Usage> {
        self.usage
    }
    fn finish_reason(&self) -> Option<&str> {
        self.finish
    }
    fn response_id(&self) -> Option<&str> {
        self.id
    }
    fn response_model(&self) -> Option<&str> {
        self.model
    }
}

/// A provider error for scripted streams.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("upstream failed: {0}")]
pub struct UpstreamError(pub String);

/// A scripted chat: id and model first, two text chunks, a tool call in two fragments, usage in
/// the final chunk (OpenAI with `include_usage`).
pub fn scripted_chat() -> Vec<Chunk> {
    vec![
        Chunk {
            id: Some("chatcmpl-1"),
            model: Some("gpt-4o-2024-08-06"),
            text: Some("Let me ".into()),
            ..Chunk::default()
        },
        Chunk::text("check the weather in Zürich."),
        Chunk {
            tool: Some((
                0,
                Some("call_1"),
                Some("get_weather"),
                Some("{\"city\":".into()),
            )),
            ..Chunk::default()
        },
        Chunk {
            tool: Some((0, None, None, Some("\"Zürich\"}".into()))),
            ..Chunk::default()
        },
        Chunk {
            finish: Some("tool_calls"),
            ..Chunk::default()
        },
        Chunk {
            usage: Some(agentrace_sdk::Usage::new(42, 17)),
            ..Chunk::default()
        },
    ]
}

/// Runs a future on a fresh current-thread tokio runtime. (The SDK's simple span processor
/// exports with `futures::executor::block_on`, so tests must not end spans inside that executor.)
pub fn block_on<F: std::future::Future>(fut: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(fut)
}
