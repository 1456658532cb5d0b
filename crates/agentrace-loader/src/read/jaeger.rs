//! Jaeger JSON (the query API's `{"data": [...]}` shape).

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine as _;
use serde_json::{Map, Value};

use crate::model::{
    AnyValue, Attributes, Link, Resource, Scope, Span, SpanEvent, SpanKind, Status, StatusCode,
    Telemetry,
};
use crate::read::otlp_json::{Sink, parse_span_id, parse_trace_id};

fn tag_value(t: &Map<String, Value>) -> AnyValue {
    let v = t.get("value").unwrap_or(&Value::Null);
    let ty = t.get("type").and_then(Value::as_str).unwrap_or("string");
    match (ty, v) {
        ("int64", Value::String(s)) => s.parse().map_or(AnyValue::String(s.clone()), AnyValue::Int),
        ("float64", Value::String(s)) => s
            .parse()
            .map_or(AnyValue::String(s.clone()), AnyValue::Double),
        ("bool", Value::String(s)) => AnyValue::Bool(s.eq_ignore_ascii_case("true")),
        ("binary", Value::String(s)) => base64::engine::general_purpose::STANDARD
            .decode(s)
            .map_or(AnyValue::String(s.clone()), AnyValue::Bytes),
        _ => AnyValue::from_json(v),
    }
}

fn read_tags(v: Option<&Value>) -> Attributes {
    let mut out = Attributes::default();
    for t in v.and_then(Value::as_array).into_iter().flatten() {
        let Some(t) = t.as_object() else { continue };
        let Some(k) = t.get("key").and_then(Value::as_str) else {
            continue;
        };
        out.push(k, tag_value(t));
    }
    out
}

/// Reads one element of a Jaeger `data` array (one trace); `ti` is its index, for field paths.
pub(crate) fn read_trace(ti: usize, tr: &Value, out: &mut Telemetry, sink: &mut Sink<'_>) {
    let Some(tr) = tr.as_object() else { return };
    let processes = read_processes(tr.get("processes"));
    let mut scopes = HashMap::new();
    for (si, s) in tr
        .get("spans")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        if let Some(span) = read_span(ti, si, s, &processes, &mut scopes, sink) {
            out.spans.push(span);
        }
    }
}

/// The resources of a trace's `processes`, by process id.
pub(crate) fn read_processes(v: Option<&Value>) -> HashMap<String, Arc<Resource>> {
    let mut processes = HashMap::new();
    if let Some(ps) = v.and_then(Value::as_object) {
        for (pid, p) in ps {
            let mut attrs = Attributes::default();
            if let Some(name) = p.get("serviceName").and_then(Value::as_str) {
                attrs.push("service.name", AnyValue::String(name.to_owned()));
            }
            for kv in read_tags(p.get("tags")).0 {
                attrs.0.push(kv);
            }
            processes.insert(pid.clone(), Arc::new(Resource { attributes: attrs }));
        }
    }
    processes
}

/// The scopes of one trace, by (name, version).
pub(crate) type Scopes = HashMap<(String, String), Arc<Scope>>;

/// Reads span `si` of trace `ti`; its resource is its process's in `processes`.
pub(crate) fn read_span(
    ti: usize,
    si: usize,
    s: &Value,
    processes: &HashMap<String, Arc<Resource>>,
    scopes: &mut Scopes,
    sink: &mut Sink<'_>,
) -> Option<Span> {
    let path = format!("data[{ti}].spans[{si}]");
    let Some(s) = s.as_object() else {
        sink.bad(path, "expected a span object");
        return None;
    };
    let Some(trace_id) = s
        .get("traceID")
        .and_then(Value::as_str)
        .and_then(parse_trace_id)
    else {
        sink.bad(format!("{path}.traceID"), "missing or invalid trace id");
        return None;
    };
    let Some(span_id) = s
        .get("spanID")
        .and_then(Value::as_str)
        .and_then(parse_span_id)
    else {
        sink.bad(format!("{path}.spanID"), "missing or invalid span id");
        return None;
    };
    let mut parent = None;
    let mut links = Vec::new();
    for r in s
        .get("references")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(r) = r.as_object() else { continue };
        let (Some(t), Some(sp)) = (
            r.get("traceID")
                .and_then(Value::as_str)
                .and_then(parse_trace_id),
            r.get("spanID")
                .and_then(Value::as_str)
                .and_then(parse_span_id),
        ) else {
            continue;
        };
        let child_of = r.get("refType").and_then(Value::as_str) == Some("CHILD_OF");
        if child_of && parent.is_none() {
            parent = Some(sp);
        } else {
            links.push(Link {
                trace_id: t,
                span_id: sp,
                attributes: Attributes::default(),
            });
        }
    }
    let mut kind = SpanKind::Unspecified;
    let mut status = Status::default();
    let (mut scope_name, mut scope_version) = (String::new(), String::new());
    let mut error_tag = false;
    let mut attributes = Attributes::default();
    for kv in read_tags(s.get("tags")).0 {
        match kv.key.as_str() {
            "span.kind" => kind = SpanKind::from_name(kv.value.as_str().unwrap_or("")),
            "otel.status_code" => {
                status.code = StatusCode::from_name(kv.value.as_str().unwrap_or(""));
            }
            "otel.status_description" => {
                status.message = kv.value.as_str().unwrap_or("").to_owned();
            }
            "otel.scope.name" | "otel.library.name" => {
                scope_name = kv.value.as_str().unwrap_or("").to_owned();
            }
            "otel.scope.version" | "otel.library.version" => {
                scope_version = kv.value.as_str().unwrap_or("").to_owned();
            }
            _ => {
                if kv.key == "error"
                    && matches!(&kv.value, AnyValue::Bool(true))
                        | matches!(&kv.value, AnyValue::String(x) if x.eq_ignore_ascii_case("true"))
                {
                    error_tag = true;
                }
                attributes.0.push(kv);
            }
        }
    }
    if error_tag && status.code == StatusCode::Unset {
        status.code = StatusCode::Error;
    }
    let events = s
        .get("logs")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .map(|l| {
            let mut name = String::new();
            let mut attrs = Attributes::default();
            for kv in read_tags(l.get("fields")).0 {
                if kv.key == "event" && name.is_empty() {
                    name = kv.value.as_str().unwrap_or("").to_owned();
                } else {
                    attrs.0.push(kv);
                }
            }
            SpanEvent {
                time_ns: micros(l.get("timestamp")),
                name,
                attributes: attrs,
            }
        })
        .collect();
    let resource = s
        .get("processID")
        .and_then(Value::as_str)
        .and_then(|p| processes.get(p))
        .cloned()
        .unwrap_or_default();
    let scope = Arc::clone(
        scopes
            .entry((scope_name.clone(), scope_version.clone()))
            .or_insert_with(|| {
                Arc::new(Scope {
                    name: scope_name,
                    version: scope_version,
                    attributes: Attributes::default(),
                })
            }),
    );
    let start_ns = micros(s.get("startTime"));
    let end_ns = start_ns.saturating_add(micros(s.get("duration")));
    Some(Span {
        trace_id,
        span_id,
        parent_span_id: parent,
        name: s
            .get("operationName")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned(),
        kind,
        start_ns,
        end_ns,
        attributes,
        events,
        links,
        status,
        resource,
        scope,
    })
}

fn micros(v: Option<&Value>) -> u64 {
    let us = match v {
        Some(Value::Number(n)) => n.as_u64().unwrap_or(0),
        Some(Value::String(s)) => s.parse().unwrap_or(0),
        _ => 0,
    };
    us.saturating_mul(1000)
}
