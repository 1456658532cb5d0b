//! The trace model written back as OTLP/JSON (the protobuf JSON mapping: camelCase keys, hex ids,
//! 64-bit integers as strings), for storage and for `GET /api/sessions/{id}/export`.

use std::collections::BTreeMap;

use agentrace_loader::model::{
    AnyValue, Attributes, LogRecord, Resource, Scope, Span, SpanKind, StatusCode,
};
use serde_json::{Map, Value, json};

use crate::store::StoredItem;

/// An attribute value as an OTLP/JSON `AnyValue`.
pub fn any_value(value: &AnyValue) -> Value {
    use base64::Engine as _;
    match value {
        AnyValue::Empty => json!({}),
        AnyValue::String(s) => json!({ "stringValue": s }),
        AnyValue::Bool(b) => json!({ "boolValue": b }),
        AnyValue::Int(i) => json!({ "intValue": i.to_string() }),
        AnyValue::Double(d) => match serde_json::Number::from_f64(*d) {
            Some(n) => json!({ "doubleValue": n }),
            // JSON has no NaN or infinity; the protobuf JSON mapping spells them as strings.
            None => json!({ "doubleValue": d.to_string() }),
        },
        AnyValue::Bytes(b) => {
            json!({ "bytesValue": base64::engine::general_purpose::STANDARD.encode(b) })
        }
        AnyValue::Array(items) => {
            json!({ "arrayValue": { "values": items.iter().map(any_value).collect::<Vec<_>>() } })
        }
        AnyValue::KvList(kvs) => json!({ "kvlistValue": { "values": key_values(kvs) } }),
    }
}

fn key_values(kvs: &[agentrace_loader::model::KeyValue]) -> Vec<Value> {
    kvs.iter()
        .map(|kv| json!({ "key": kv.key, "value": any_value(&kv.value) }))
        .collect()
}

/// Attributes as an OTLP/JSON list.
pub fn attributes(attrs: &Attributes) -> Value {
    Value::Array(key_values(&attrs.0))
}

fn kind_number(kind: SpanKind) -> u8 {
    match kind {
        SpanKind::Unspecified => 0,
        SpanKind::Internal => 1,
        SpanKind::Server => 2,
        SpanKind::Client => 3,
        SpanKind::Producer => 4,
        SpanKind::Consumer => 5,
    }
}

fn status_number(code: StatusCode) -> u8 {
    match code {
        StatusCode::Unset => 0,
        StatusCode::Ok => 1,
        StatusCode::Error => 2,
    }
}

/// A span as an OTLP/JSON object (without its resource and scope).
pub fn span(span: &Span) -> Value {
    let mut obj = Map::new();
    obj.insert("traceId".into(), Value::String(span.trace_id.to_string()));
    obj.insert("spanId".into(), Value::String(span.span_id.to_string()));
    if let Some(parent) = span.parent_span_id {
        obj.insert("parentSpanId".into(), Value::String(parent.to_string()));
    }
    obj.insert("name".into(), Value::String(span.name.clone()));
    obj.insert("kind".into(), Value::from(kind_number(span.kind)));
    obj.insert(
        "startTimeUnixNano".into(),
        Value::String(span.start_ns.to_string()),
    );
    obj.insert(
        "endTimeUnixNano".into(),
        Value::String(span.end_ns.to_string()),
    );
    obj.insert("attributes".into(), attributes(&span.attributes));
    if !span.events.is_empty() {
        let events = span
            .events
            .iter()
            .map(|e| {
                json!({
                    "timeUnixNano": e.time_ns.to_string(),
                    "name": e.name,
                    "attributes": attributes(&e.attributes),
                })
            })
            .collect();
        obj.insert("events".into(), Value::Array(events));
    }
    if !span.links.is_empty() {
        let links = span
            .links
            .iter()
            .map(|l| {
                json!({
                    "traceId": l.trace_id.to_string(),
                    "spanId": l.span_id.to_string(),
                    "attributes": attributes(&l.attributes),
                })
            })
            .collect();
        obj.insert("links".into(), Value::Array(links));
    }
    let mut status = Map::new();
    if span.status.code != StatusCode::Unset {
        status.insert("code".into(), Value::from(status_number(span.status.code)));
    }
    if !span.status.message.is_empty() {
        status.insert("message".into(), Value::String(span.status.message.clone()));
    }
    obj.insert("status".into(), Value::Object(status));
    Value::Object(obj)
}

/// A log record as an OTLP/JSON object (without its resource and scope).
pub fn log(record: &LogRecord) -> Value {
    let mut obj = Map::new();
    if record.time_ns != 0 {
        obj.insert(
            "timeUnixNano".into(),
            Value::String(record.time_ns.to_string()),
        );
    }
    if record.observed_time_ns != 0 {
        obj.insert(
            "observedTimeUnixNano".into(),
            Value::String(record.observed_time_ns.to_string()),
        );
    }
    if record.severity_number != 0 {
        obj.insert("severityNumber".into(), Value::from(record.severity_number));
    }
    if !record.severity_text.is_empty() {
        obj.insert(
            "severityText".into(),
            Value::String(record.severity_text.clone()),
        );
    }
    if !record.event_name.is_empty() {
        obj.insert("eventName".into(), Value::String(record.event_name.clone()));
    }
    if record.body != AnyValue::Empty {
        obj.insert("body".into(), any_value(&record.body));
    }
    obj.insert("attributes".into(), attributes(&record.attributes));
    if let Some(trace) = record.trace_id {
        obj.insert("traceId".into(), Value::String(trace.to_string()));
    }
    if let Some(span) = record.span_id {
        obj.insert("spanId".into(), Value::String(span.to_string()));
    }
    Value::Object(obj)
}

/// The resource and scope of an item, as the `origin` JSON the store keeps once per pair.
pub fn origin(resource: &Resource, scope: &Scope) -> String {
    let mut scope_obj = Map::new();
    scope_obj.insert("name".into(), Value::String(scope.name.clone()));
    if !scope.version.is_empty() {
        scope_obj.insert("version".into(), Value::String(scope.version.clone()));
    }
    if !scope.attributes.is_empty() {
        scope_obj.insert("attributes".into(), attributes(&scope.attributes));
    }
    json!({
        "resource": { "attributes": attributes(&resource.attributes) },
        "scope": Value::Object(scope_obj),
    })
    .to_string()
}

/// Builds an OTLP/JSON document (`resourceSpans` and `resourceLogs`) from stored items, grouped
/// by resource and scope. `stamp` attributes are added to every resource (used to mark a session
/// export with `agentevals.session_name` so it can be fed back to `agentrace run`).
pub fn document(spans: &[StoredItem], logs: &[StoredItem], stamp: &[(&str, &str)]) -> Value {
    json!({
        "resourceSpans": group(spans, "scopeSpans", "spans", stamp),
        "resourceLogs": group(logs, "scopeLogs", "logRecords", stamp),
    })
}

fn group(items: &[StoredItem], scope_key: &str, items_key: &str, stamp: &[(&str, &str)]) -> Value {
    // origin JSON → (resource, scope, items); BTreeMap keeps the output deterministic, and the
    // first appearance order of items is kept within a group.
    let mut order: Vec<&str> = Vec::new();
    let mut groups: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
    for item in items {
        let body = serde_json::from_str(&item.body).unwrap_or(Value::Null);
        let entry = groups.entry(item.origin.as_str()).or_default();
        if entry.is_empty() {
            order.push(item.origin.as_str());
        }
        entry.push(body);
    }
    // Resources with the same attributes share one resource entry.
    let mut by_resource: Vec<(Value, Vec<Value>)> = Vec::new();
    for origin in order {
        let parsed: Value = serde_json::from_str(origin).unwrap_or(Value::Null);
        let mut resource = parsed.get("resource").cloned().unwrap_or_else(|| json!({}));
        if !stamp.is_empty() {
            let attrs = resource
                .as_object_mut()
                .map(|r| r.entry("attributes").or_insert_with(|| json!([])));
            if let Some(Value::Array(list)) = attrs {
                for (key, value) in stamp {
                    list.retain(|kv| kv.get("key").and_then(Value::as_str) != Some(key));
                    list.push(json!({ "key": key, "value": { "stringValue": value } }));
                }
            }
        }
        let scope = parsed.get("scope").cloned().unwrap_or_else(|| json!({}));
        let scoped =
            json!({ "scope": scope, items_key: groups.remove(origin).unwrap_or_default() });
        match by_resource.iter_mut().find(|(r, _)| *r == resource) {
            Some((_, scopes)) => scopes.push(scoped),
            None => by_resource.push((resource, vec![scoped])),
        }
    }
    Value::Array(
        by_resource
            .into_iter()
            .map(|(resource, scopes)| json!({ "resource": resource, scope_key: scopes }))
            .collect(),
    )
}
