//! Writing the model back out: canonical OTLP/JSON (camelCase, hex ids, `AnyValue` attributes)
//! and `opentelemetry_proto` export requests. Reading what is written gives the same model.

use std::sync::Arc;

use base64::Engine as _;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1 as pc;
use opentelemetry_proto::tonic::logs::v1 as pl;
use opentelemetry_proto::tonic::resource::v1 as pr;
use opentelemetry_proto::tonic::trace::v1 as pt;
use serde_json::{Map, Value, json};

use crate::model::{
    AnyValue, Attributes, LogRecord, Resource, Scope, Span, SpanKind, StatusCode, Telemetry,
};

/// An attribute value as an OTLP/JSON `AnyValue`.
pub fn any_json(v: &AnyValue) -> Value {
    match v {
        AnyValue::Empty => Value::Object(Map::new()),
        AnyValue::String(s) => json!({ "stringValue": s }),
        AnyValue::Bool(b) => json!({ "boolValue": b }),
        AnyValue::Int(i) => json!({ "intValue": i.to_string() }),
        AnyValue::Double(d) => match serde_json::Number::from_f64(*d) {
            Some(n) => json!({ "doubleValue": n }),
            None => json!({ "doubleValue": d.to_string() }),
        },
        AnyValue::Bytes(b) => {
            json!({ "bytesValue": base64::engine::general_purpose::STANDARD.encode(b) })
        }
        AnyValue::Array(a) => {
            json!({ "arrayValue": { "values": a.iter().map(any_json).collect::<Vec<_>>() } })
        }
        AnyValue::KvList(kv) => {
            json!({ "kvlistValue": { "values": attrs_json(&Attributes(kv.clone())) } })
        }
    }
}

/// Attributes as an OTLP/JSON key-value list.
pub fn attrs_json(a: &Attributes) -> Value {
    Value::Array(
        a.iter()
            .map(|kv| json!({ "key": kv.key, "value": any_json(&kv.value) }))
            .collect(),
    )
}

fn kind_num(k: SpanKind) -> i64 {
    match k {
        SpanKind::Unspecified => 0,
        SpanKind::Internal => 1,
        SpanKind::Server => 2,
        SpanKind::Client => 3,
        SpanKind::Producer => 4,
        SpanKind::Consumer => 5,
    }
}

fn code_num(c: StatusCode) -> i32 {
    match c {
        StatusCode::Unset => 0,
        StatusCode::Ok => 1,
        StatusCode::Error => 2,
    }
}

/// One span as an OTLP/JSON object (without its resource and scope).
pub fn span_json(s: &Span) -> Value {
    let mut o = Map::new();
    o.insert("traceId".into(), json!(s.trace_id.to_string()));
    o.insert("spanId".into(), json!(s.span_id.to_string()));
    if let Some(p) = s.parent_span_id {
        o.insert("parentSpanId".into(), json!(p.to_string()));
    }
    o.insert("name".into(), json!(s.name));
    o.insert("kind".into(), json!(kind_num(s.kind)));
    o.insert("startTimeUnixNano".into(), json!(s.start_ns.to_string()));
    o.insert("endTimeUnixNano".into(), json!(s.end_ns.to_string()));
    o.insert("attributes".into(), attrs_json(&s.attributes));
    o.insert(
        "events".into(),
        Value::Array(
            s.events
                .iter()
                .map(|e| {
                    json!({ "timeUnixNano": e.time_ns.to_string(), "name": e.name,
                            "attributes": attrs_json(&e.attributes) })
                })
                .collect(),
        ),
    );
    o.insert(
        "links".into(),
        Value::Array(
            s.links
                .iter()
                .map(|l| {
                    json!({ "traceId": l.trace_id.to_string(), "spanId": l.span_id.to_string(),
                            "attributes": attrs_json(&l.attributes) })
                })
                .collect(),
        ),
    );
    o.insert(
        "status".into(),
        json!({ "code": code_num(s.status.code), "message": s.status.message }),
    );
    Value::Object(o)
}

/// One log record as an OTLP/JSON object (without its resource and scope).
pub fn log_json(l: &LogRecord) -> Value {
    let mut o = Map::new();
    o.insert("timeUnixNano".into(), json!(l.time_ns.to_string()));
    o.insert(
        "observedTimeUnixNano".into(),
        json!(l.observed_time_ns.to_string()),
    );
    o.insert("severityNumber".into(), json!(l.severity_number));
    o.insert("severityText".into(), json!(l.severity_text));
    o.insert("eventName".into(), json!(l.event_name));
    if l.body != AnyValue::Empty {
        o.insert("body".into(), any_json(&l.body));
    }
    o.insert("attributes".into(), attrs_json(&l.attributes));
    if let Some(t) = l.trace_id {
        o.insert("traceId".into(), json!(t.to_string()));
    }
    if let Some(s) = l.span_id {
        o.insert("spanId".into(), json!(s.to_string()));
    }
    Value::Object(o)
}

/// An instrumentation scope as an OTLP/JSON object.
pub fn scope_json(s: &Scope) -> Value {
    json!({ "name": s.name, "version": s.version, "attributes": attrs_json(&s.attributes) })
}

/// Items of one scope.
type ScopeRun<'a, T> = (&'a Arc<Scope>, Vec<&'a T>);
/// Scopes of one resource.
type ResourceRun<'a, T> = (&'a Arc<Resource>, Vec<ScopeRun<'a, T>>);

/// Groups items into runs of the same (resource, scope), keeping order.
fn runs<T>(
    items: &[T],
    key: impl Fn(&T) -> (&Arc<Resource>, &Arc<Scope>),
) -> Vec<ResourceRun<'_, T>> {
    let mut out: Vec<ResourceRun<'_, T>> = Vec::new();
    for item in items {
        let (r, s) = key(item);
        let same_res = out
            .last()
            .is_some_and(|(lr, _)| Arc::ptr_eq(lr, r) || ***lr == **r);
        if !same_res {
            out.push((r, Vec::new()));
        }
        if let Some((_, scopes)) = out.last_mut() {
            let same_scope = scopes
                .last()
                .is_some_and(|(ls, _)| Arc::ptr_eq(ls, s) || ***ls == **s);
            if !same_scope {
                scopes.push((s, Vec::new()));
            }
            if let Some((_, list)) = scopes.last_mut() {
                list.push(item);
            }
        }
    }
    out
}

/// Writes spans and logs as one canonical OTLP/JSON export document.
pub fn to_otlp_json(t: &Telemetry) -> Value {
    let spans = runs(&t.spans, |s| (&s.resource, &s.scope));
    let logs = runs(&t.logs, |l| (&l.resource, &l.scope));
    let mut doc = Map::new();
    if !spans.is_empty() {
        doc.insert(
            "resourceSpans".into(),
            Value::Array(
                spans
                    .into_iter()
                    .map(|(r, scopes)| {
                        json!({ "resource": { "attributes": attrs_json(&r.attributes) },
                                "scopeSpans": scopes.into_iter().map(|(s, list)| json!({
                                    "scope": scope_json(s),
                                    "spans": list.into_iter().map(span_json).collect::<Vec<_>>(),
                                })).collect::<Vec<_>>() })
                    })
                    .collect(),
            ),
        );
    }
    if !logs.is_empty() {
        doc.insert(
            "resourceLogs".into(),
            Value::Array(
                logs.into_iter()
                    .map(|(r, scopes)| {
                        json!({ "resource": { "attributes": attrs_json(&r.attributes) },
                                "scopeLogs": scopes.into_iter().map(|(s, list)| json!({
                                    "scope": scope_json(s),
                                    "logRecords": list.into_iter().map(log_json).collect::<Vec<_>>(),
                                })).collect::<Vec<_>>() })
                    })
                    .collect(),
            ),
        );
    }
    Value::Object(doc)
}

fn any_proto(v: &AnyValue) -> pc::AnyValue {
    use pc::any_value::Value as P;
    let value = match v {
        AnyValue::Empty => None,
        AnyValue::String(s) => Some(P::StringValue(s.clone())),
        AnyValue::Bool(b) => Some(P::BoolValue(*b)),
        AnyValue::Int(i) => Some(P::IntValue(*i)),
        AnyValue::Double(d) => Some(P::DoubleValue(*d)),
        AnyValue::Bytes(b) => Some(P::BytesValue(b.clone())),
        AnyValue::Array(a) => Some(P::ArrayValue(pc::ArrayValue {
            values: a.iter().map(any_proto).collect(),
        })),
        AnyValue::KvList(kv) => Some(P::KvlistValue(pc::KeyValueList {
            values: attrs_proto(&Attributes(kv.clone())),
        })),
    };
    pc::AnyValue { value }
}

fn attrs_proto(a: &Attributes) -> Vec<pc::KeyValue> {
    a.iter()
        .map(|kv| pc::KeyValue {
            key: kv.key.clone(),
            value: Some(any_proto(&kv.value)),
            ..Default::default()
        })
        .collect()
}

fn resource_proto(r: &Resource) -> pr::Resource {
    pr::Resource {
        attributes: attrs_proto(&r.attributes),
        ..Default::default()
    }
}

fn scope_proto(s: &Scope) -> pc::InstrumentationScope {
    pc::InstrumentationScope {
        name: s.name.clone(),
        version: s.version.clone(),
        attributes: attrs_proto(&s.attributes),
        ..Default::default()
    }
}

/// Converts spans into an OTLP trace export request.
pub fn to_trace_request(spans: &[Span]) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: runs(spans, |s| (&s.resource, &s.scope))
            .into_iter()
            .map(|(r, scopes)| pt::ResourceSpans {
                resource: Some(resource_proto(r)),
                scope_spans: scopes
                    .into_iter()
                    .map(|(s, list)| pt::ScopeSpans {
                        scope: Some(scope_proto(s)),
                        spans: list
                            .into_iter()
                            .map(|s| pt::Span {
                                trace_id: s.trace_id.0.to_vec(),
                                span_id: s.span_id.0.to_vec(),
                                parent_span_id: s
                                    .parent_span_id
                                    .map(|p| p.0.to_vec())
                                    .unwrap_or_default(),
                                name: s.name.clone(),
                                kind: i32::try_from(kind_num(s.kind)).unwrap_or(0),
                                start_time_unix_nano: s.start_ns,
                                end_time_unix_nano: s.end_ns,
                                attributes: attrs_proto(&s.attributes),
                                events: s
                                    .events
                                    .iter()
                                    .map(|e| pt::span::Event {
                                        time_unix_nano: e.time_ns,
                                        name: e.name.clone(),
                                        attributes: attrs_proto(&e.attributes),
                                        ..Default::default()
                                    })
                                    .collect(),
                                links: s
                                    .links
                                    .iter()
                                    .map(|l| pt::span::Link {
                                        trace_id: l.trace_id.0.to_vec(),
                                        span_id: l.span_id.0.to_vec(),
                                        attributes: attrs_proto(&l.attributes),
                                        ..Default::default()
                                    })
                                    .collect(),
                                status: Some(pt::Status {
                                    code: code_num(s.status.code),
                                    message: s.status.message.clone(),
                                }),
                                ..Default::default()
                            })
                            .collect(),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
            .collect(),
    }
}

/// Converts log records into an OTLP logs export request.
pub fn to_logs_request(logs: &[LogRecord]) -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: runs(logs, |l| (&l.resource, &l.scope))
            .into_iter()
            .map(|(r, scopes)| pl::ResourceLogs {
                resource: Some(resource_proto(r)),
                scope_logs: scopes
                    .into_iter()
                    .map(|(s, list)| pl::ScopeLogs {
                        scope: Some(scope_proto(s)),
                        log_records: list
                            .into_iter()
                            .map(|l| pl::LogRecord {
                                time_unix_nano: l.time_ns,
                                observed_time_unix_nano: l.observed_time_ns,
                                severity_number: l.severity_number,
                                severity_text: l.severity_text.clone(),
                                event_name: l.event_name.clone(),
                                body: (l.body != AnyValue::Empty).then(|| any_proto(&l.body)),
                                attributes: attrs_proto(&l.attributes),
                                trace_id: l.trace_id.map(|t| t.0.to_vec()).unwrap_or_default(),
                                span_id: l.span_id.map(|s| s.0.to_vec()).unwrap_or_default(),
                                ..Default::default()
                            })
                            .collect(),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
            .collect(),
    }
}
