//! Stored spans and logs as OTLP/JSON, for storage and for `GET /api/sessions/{id}/export`. Items
//! are written by the loader's writer (`agentrace_loader::write`), so what the server stores reads
//! back into the same model; this module adds the per-(resource, scope) storage key and the
//! grouping of stored items into one export document.

use std::collections::BTreeMap;

use agentrace_loader::{
    model::{LogRecord, Resource, Scope, Span},
    write::{attrs_json, log_json, scope_json, span_json},
};
use serde_json::{Value, json};

use crate::store::StoredItem;

/// A span as an OTLP/JSON object (without its resource and scope): the loader's writer.
pub fn span(span: &Span) -> Value {
    span_json(span)
}

/// A log record as an OTLP/JSON object (without its resource and scope): the loader's writer.
pub fn log(record: &LogRecord) -> Value {
    log_json(record)
}

/// The resource and scope of an item, as the `origin` JSON the store keeps once per pair.
pub fn origin(resource: &Resource, scope: &Scope) -> String {
    json!({
        "resource": { "attributes": attrs_json(&resource.attributes) },
        "scope": scope_json(scope),
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
