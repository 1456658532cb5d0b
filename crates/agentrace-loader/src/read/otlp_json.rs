//! OTLP/JSON documents (traces and logs), Tempo exports and bare spans, read leniently.

use std::sync::Arc;

use base64::Engine as _;
use serde_json::{Map, Value};

use crate::model::{
    AnyValue, Attributes, KeyValue, Link, LogRecord, Resource, Scope, Span, SpanEvent, SpanId,
    SpanKind, Status, StatusCode, Telemetry, TraceId,
};
use crate::read::RecordIssue;

/// AnyValue nesting deeper than this is cut (as in the reference).
const MAX_DEPTH: usize = 64;

/// Looks a field up by its camelCase name, then its protobuf (snake_case) name.
fn field<'a>(obj: &'a Map<String, Value>, camel: &str, snake: &str) -> Option<&'a Value> {
    obj.get(camel).or_else(|| obj.get(snake))
}

/// Collects record issues for one document; `line` is set for JSON Lines input.
#[derive(Debug)]
pub(crate) struct Sink<'a> {
    pub(crate) line: Option<usize>,
    pub(crate) issues: &'a mut Vec<RecordIssue>,
}

impl Sink<'_> {
    pub(crate) fn bad(&mut self, path: String, message: impl Into<String>) {
        self.issues.push(RecordIssue {
            file: None,
            line: self.line,
            field: path,
            message: message.into(),
        });
    }
}

/// Reads one OTLP/JSON value: an export document (traces and/or logs), a Tempo `batches` export,
/// the `{"trace": ...}` wrapper, one bare span or a list of bare spans.
pub(crate) fn read_value(v: &Value, out: &mut Telemetry, sink: &mut Sink<'_>) {
    match v {
        Value::Object(obj) => {
            if let Some(inner) = obj.get("trace").and_then(Value::as_object) {
                read_document(inner, out, sink, "trace.");
            } else if looks_like_span(obj) {
                let res = Arc::new(Resource::default());
                let scope = Arc::new(Scope::default());
                if let Some(s) = read_span(obj, &res, &scope, sink, "span") {
                    out.spans.push(s);
                }
            } else {
                read_document(obj, out, sink, "");
            }
        }
        Value::Array(items) => {
            let res = Arc::new(Resource::default());
            let scope = Arc::new(Scope::default());
            for (i, item) in items.iter().enumerate() {
                match item.as_object() {
                    Some(o) => {
                        if let Some(s) = read_span(o, &res, &scope, sink, &format!("[{i}]")) {
                            out.spans.push(s);
                        }
                    }
                    None => sink.bad(format!("[{i}]"), "expected a span object"),
                }
            }
        }
        _ => sink.bad(String::new(), "expected an object or an array"),
    }
}

/// True for an object that looks like a span (has a span or trace id).
pub(crate) fn looks_like_span(obj: &Map<String, Value>) -> bool {
    ["spanId", "span_id", "traceId", "trace_id"]
        .iter()
        .any(|k| obj.contains_key(*k))
}

/// The key of the resource spans list in a document: `batches`, else `resourceSpans`, else
/// `resource_spans`.
pub(crate) fn resource_spans_key(has: impl Fn(&str) -> bool) -> &'static str {
    if has("batches") {
        "batches"
    } else if has("resourceSpans") {
        "resourceSpans"
    } else {
        "resource_spans"
    }
}

fn read_document(obj: &Map<String, Value>, out: &mut Telemetry, sink: &mut Sink<'_>, prefix: &str) {
    let rs_key = resource_spans_key(|k| obj.contains_key(k));
    if let Some(list) = obj.get(rs_key).and_then(Value::as_array) {
        for (i, rs) in list.iter().enumerate() {
            read_resource_spans(&format!("{prefix}{rs_key}[{i}]"), rs, out, sink);
        }
    }
    if let Some(list) = field(obj, "resourceLogs", "resource_logs").and_then(Value::as_array) {
        for (i, rl) in list.iter().enumerate() {
            read_resource_logs(&format!("{prefix}resourceLogs[{i}]"), rl, out, sink);
        }
    }
}

/// Reads one element of a resource spans list; `path` names it in field paths.
pub(crate) fn read_resource_spans(
    path: &str,
    rs: &Value,
    out: &mut Telemetry,
    sink: &mut Sink<'_>,
) {
    let Some(rs) = rs.as_object() else {
        sink.bad(path.to_owned(), "expected an object");
        return;
    };
    let resource = Arc::new(read_resource(rs));
    let ss_list = field(rs, "scopeSpans", "scope_spans")
        .or_else(|| {
            field(
                rs,
                "instrumentationLibrarySpans",
                "instrumentation_library_spans",
            )
        })
        .and_then(Value::as_array);
    for (j, ss) in ss_list.into_iter().flatten().enumerate() {
        let Some(ss) = ss.as_object() else { continue };
        let scope = Arc::new(read_scope(ss));
        let spans = ss.get("spans").and_then(Value::as_array);
        for (k, span) in spans.into_iter().flatten().enumerate() {
            let spath = format!("{path}.scopeSpans[{j}].spans[{k}]");
            match span.as_object() {
                Some(so) => {
                    if let Some(s) = read_span(so, &resource, &scope, sink, &spath) {
                        out.spans.push(s);
                    }
                }
                None => sink.bad(spath, "expected a span object"),
            }
        }
    }
}

/// Reads one element of a resource logs list; `path` names it in field paths.
pub(crate) fn read_resource_logs(path: &str, rl: &Value, out: &mut Telemetry, sink: &mut Sink<'_>) {
    let Some(rl) = rl.as_object() else {
        sink.bad(path.to_owned(), "expected an object");
        return;
    };
    let resource = Arc::new(read_resource(rl));
    let sl_list = field(rl, "scopeLogs", "scope_logs")
        .or_else(|| {
            field(
                rl,
                "instrumentationLibraryLogs",
                "instrumentation_library_logs",
            )
        })
        .and_then(Value::as_array);
    for (j, sl) in sl_list.into_iter().flatten().enumerate() {
        let Some(sl) = sl.as_object() else { continue };
        let scope = Arc::new(read_scope(sl));
        let recs = field(sl, "logRecords", "log_records").and_then(Value::as_array);
        for (k, rec) in recs.into_iter().flatten().enumerate() {
            let lpath = format!("{path}.scopeLogs[{j}].logRecords[{k}]");
            match rec.as_object() {
                Some(ro) => {
                    if let Some(l) = read_log(ro, &resource, &scope, sink, &lpath) {
                        out.logs.push(l);
                    }
                }
                None => sink.bad(lpath, "expected a log record object"),
            }
        }
    }
}

pub(crate) fn read_resource(rs: &Map<String, Value>) -> Resource {
    let attributes = rs
        .get("resource")
        .and_then(Value::as_object)
        .and_then(|r| r.get("attributes"))
        .map(read_attributes)
        .unwrap_or_default();
    Resource { attributes }
}

pub(crate) fn read_scope(ss: &Map<String, Value>) -> Scope {
    let Some(s) = ss
        .get("scope")
        .or_else(|| field(ss, "instrumentationLibrary", "instrumentation_library"))
        .and_then(Value::as_object)
    else {
        return Scope::default();
    };
    Scope {
        name: s
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned(),
        version: s
            .get("version")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned(),
        attributes: s.get("attributes").map(read_attributes).unwrap_or_default(),
    }
}

/// Parses a trace id: hex (any case), or base64 of 16 bytes.
pub(crate) fn parse_trace_id(s: &str) -> Option<TraceId> {
    TraceId::from_hex(s).or_else(|| {
        base64::engine::general_purpose::STANDARD
            .decode(s)
            .ok()
            .and_then(|b| TraceId::from_bytes(&b))
    })
}

/// Parses a span id: hex (any case), or base64 of 8 bytes.
pub(crate) fn parse_span_id(s: &str) -> Option<SpanId> {
    SpanId::from_hex(s).or_else(|| {
        base64::engine::general_purpose::STANDARD
            .decode(s)
            .ok()
            .and_then(|b| SpanId::from_bytes(&b))
    })
}

fn opt_span_id(v: Option<&Value>) -> Result<Option<SpanId>, ()> {
    match v.and_then(Value::as_str) {
        None | Some("") => Ok(None),
        Some(s) => match parse_span_id(s) {
            Some(id) if id.is_zero() => Ok(None),
            Some(id) => Ok(Some(id)),
            None => Err(()),
        },
    }
}

/// A u64 from a JSON number or a numeric string.
fn as_u64(v: Option<&Value>) -> u64 {
    match v {
        Some(Value::Number(n)) => n
            .as_u64()
            .or_else(|| {
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64)
            })
            .unwrap_or(0),
        Some(Value::String(s)) => s.trim().parse().unwrap_or(0),
        _ => 0,
    }
}

pub(crate) fn read_span(
    o: &Map<String, Value>,
    resource: &Arc<Resource>,
    scope: &Arc<Scope>,
    sink: &mut Sink<'_>,
    path: &str,
) -> Option<Span> {
    let Some(tid) = field(o, "traceId", "trace_id").and_then(Value::as_str) else {
        sink.bad(format!("{path}.traceId"), "missing trace id");
        return None;
    };
    // All-zero ids are invalid in OTLP, as the protobuf conversion also says.
    let Some(trace_id) = parse_trace_id(tid).filter(|id| !id.is_zero()) else {
        sink.bad(
            format!("{path}.traceId"),
            format!("invalid trace id {tid:?}"),
        );
        return None;
    };
    let Some(sid) = field(o, "spanId", "span_id").and_then(Value::as_str) else {
        sink.bad(format!("{path}.spanId"), "missing span id");
        return None;
    };
    let Some(span_id) = parse_span_id(sid).filter(|id| !id.is_zero()) else {
        sink.bad(format!("{path}.spanId"), format!("invalid span id {sid:?}"));
        return None;
    };
    let Ok(parent_span_id) = opt_span_id(field(o, "parentSpanId", "parent_span_id")) else {
        sink.bad(format!("{path}.parentSpanId"), "invalid parent span id");
        return None;
    };
    let kind = match o.get("kind") {
        Some(Value::Number(n)) => SpanKind::from_i64(n.as_i64().unwrap_or(0)),
        Some(Value::String(s)) => SpanKind::from_name(s),
        _ => SpanKind::Unspecified,
    };
    let status = o
        .get("status")
        .and_then(Value::as_object)
        .map(|s| Status {
            code: match s.get("code") {
                Some(Value::Number(n)) => StatusCode::from_i64(n.as_i64().unwrap_or(0)),
                Some(Value::String(c)) => StatusCode::from_name(c),
                _ => StatusCode::Unset,
            },
            message: s
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
        })
        .unwrap_or_default();
    let events = o
        .get("events")
        .and_then(Value::as_array)
        .map(|evs| {
            evs.iter()
                .filter_map(Value::as_object)
                .map(|e| SpanEvent {
                    time_ns: as_u64(field(e, "timeUnixNano", "time_unix_nano")),
                    name: e
                        .get("name")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_owned(),
                    attributes: e.get("attributes").map(read_attributes).unwrap_or_default(),
                })
                .collect()
        })
        .unwrap_or_default();
    let links = o
        .get("links")
        .and_then(Value::as_array)
        .map(|ls| {
            ls.iter()
                .filter_map(Value::as_object)
                .filter_map(|l| {
                    let t = field(l, "traceId", "trace_id")
                        .and_then(Value::as_str)
                        .and_then(parse_trace_id)?;
                    let s = field(l, "spanId", "span_id")
                        .and_then(Value::as_str)
                        .and_then(parse_span_id)?;
                    Some(Link {
                        trace_id: t,
                        span_id: s,
                        attributes: l.get("attributes").map(read_attributes).unwrap_or_default(),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    Some(Span {
        trace_id,
        span_id,
        parent_span_id,
        name: o
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned(),
        kind,
        start_ns: as_u64(field(o, "startTimeUnixNano", "start_time_unix_nano")),
        end_ns: as_u64(field(o, "endTimeUnixNano", "end_time_unix_nano")),
        attributes: o.get("attributes").map(read_attributes).unwrap_or_default(),
        events,
        links,
        status,
        resource: Arc::clone(resource),
        scope: Arc::clone(scope),
    })
}

pub(crate) fn read_log(
    o: &Map<String, Value>,
    resource: &Arc<Resource>,
    scope: &Arc<Scope>,
    sink: &mut Sink<'_>,
    path: &str,
) -> Option<LogRecord> {
    let trace_id = match field(o, "traceId", "trace_id").and_then(Value::as_str) {
        None | Some("") => None,
        Some(t) => match parse_trace_id(t) {
            Some(id) if id.is_zero() => None,
            Some(id) => Some(id),
            None => {
                sink.bad(format!("{path}.traceId"), format!("invalid trace id {t:?}"));
                return None;
            }
        },
    };
    let Ok(span_id) = opt_span_id(field(o, "spanId", "span_id")) else {
        sink.bad(format!("{path}.spanId"), "invalid span id");
        return None;
    };
    let severity_number = match field(o, "severityNumber", "severity_number") {
        Some(Value::Number(n)) => i32::try_from(n.as_i64().unwrap_or(0)).unwrap_or(0),
        Some(Value::String(s)) => severity_from_name(s),
        _ => 0,
    };
    Some(LogRecord {
        time_ns: as_u64(field(o, "timeUnixNano", "time_unix_nano")),
        observed_time_ns: as_u64(field(o, "observedTimeUnixNano", "observed_time_unix_nano")),
        severity_number,
        severity_text: field(o, "severityText", "severity_text")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned(),
        event_name: field(o, "eventName", "event_name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned(),
        body: o.get("body").map(|b| read_any(b, 0)).unwrap_or_default(),
        attributes: o.get("attributes").map(read_attributes).unwrap_or_default(),
        trace_id,
        span_id,
        resource: Arc::clone(resource),
        scope: Arc::clone(scope),
    })
}

fn severity_from_name(s: &str) -> i32 {
    let s = s.trim_start_matches("SEVERITY_NUMBER_");
    let base = match s.trim_end_matches(|c: char| c.is_ascii_digit()) {
        "TRACE" => 1,
        "DEBUG" => 5,
        "INFO" => 9,
        "WARN" => 13,
        "ERROR" => 17,
        "FATAL" => 21,
        _ => return 0,
    };
    let digits = s.trim_start_matches(|c: char| c.is_ascii_alphabetic());
    let extra = digits.parse::<i32>().map_or(0, |d| (d - 1).clamp(0, 3));
    base + extra
}

/// Reads attributes given as `[{key, value: AnyValue}]` or as a flat or nested object
/// (nested objects are flattened to dotted keys).
pub(crate) fn read_attributes(v: &Value) -> Attributes {
    let mut out = Attributes::default();
    match v {
        Value::Array(items) => {
            for item in items {
                let Some(o) = item.as_object() else { continue };
                let Some(key) = o.get("key").and_then(Value::as_str) else {
                    continue;
                };
                let value = o.get("value").map(|v| read_any(v, 0)).unwrap_or_default();
                out.push(key, value);
            }
        }
        Value::Object(o) => flatten(o, "", &mut out, 0),
        _ => {}
    }
    out
}

fn flatten(o: &Map<String, Value>, prefix: &str, out: &mut Attributes, depth: usize) {
    for (k, v) in o {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            Value::Object(inner) if is_any_value(inner) => out.push(key, read_any(v, 0)),
            Value::Object(inner) if depth < MAX_DEPTH => flatten(inner, &key, out, depth + 1),
            other => out.push(key, AnyValue::from_json(other)),
        }
    }
}

const ANY_KEYS: [&str; 14] = [
    "stringValue",
    "string_value",
    "boolValue",
    "bool_value",
    "intValue",
    "int_value",
    "doubleValue",
    "double_value",
    "arrayValue",
    "array_value",
    "kvlistValue",
    "kvlist_value",
    "bytesValue",
    "bytes_value",
];

fn is_any_value(o: &Map<String, Value>) -> bool {
    o.len() == 1 && o.keys().all(|k| ANY_KEYS.contains(&k.as_str()))
}

/// Reads an OTLP/JSON `AnyValue`; plain JSON is accepted as itself.
pub(crate) fn read_any(v: &Value, depth: usize) -> AnyValue {
    if depth > MAX_DEPTH {
        return AnyValue::Empty;
    }
    let Value::Object(o) = v else {
        return AnyValue::from_json(v);
    };
    if let Some(s) = field(o, "stringValue", "string_value") {
        return match s {
            Value::String(s) => AnyValue::String(s.clone()),
            other => AnyValue::String(other.to_string()),
        };
    }
    if let Some(b) = field(o, "boolValue", "bool_value") {
        return AnyValue::Bool(
            b.as_bool()
                .unwrap_or_else(|| b.as_str().is_some_and(|s| s.eq_ignore_ascii_case("true"))),
        );
    }
    if let Some(i) = field(o, "intValue", "int_value") {
        return match i {
            Value::Number(n) => n
                .as_i64()
                .map(AnyValue::Int)
                .unwrap_or_else(|| AnyValue::Double(n.as_f64().unwrap_or(0.0))),
            Value::String(s) => s.trim().parse().map_or(AnyValue::Empty, AnyValue::Int),
            _ => AnyValue::Empty,
        };
    }
    if let Some(d) = field(o, "doubleValue", "double_value") {
        return match d {
            Value::Number(n) => AnyValue::Double(n.as_f64().unwrap_or(0.0)),
            Value::String(s) => s.trim().parse().map_or(AnyValue::Empty, AnyValue::Double),
            _ => AnyValue::Empty,
        };
    }
    if let Some(b) = field(o, "bytesValue", "bytes_value") {
        return b
            .as_str()
            .and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok())
            .map_or(AnyValue::Empty, AnyValue::Bytes);
    }
    if let Some(a) = field(o, "arrayValue", "array_value") {
        let values = a.get("values").and_then(Value::as_array);
        return AnyValue::Array(
            values
                .into_iter()
                .flatten()
                .map(|x| read_any(x, depth + 1))
                .collect(),
        );
    }
    if let Some(kv) = field(o, "kvlistValue", "kvlist_value") {
        let values = kv.get("values").and_then(Value::as_array);
        return AnyValue::KvList(
            values
                .into_iter()
                .flatten()
                .filter_map(Value::as_object)
                .filter_map(|e| {
                    let key = e.get("key")?.as_str()?.to_owned();
                    let value = e
                        .get("value")
                        .map(|x| read_any(x, depth + 1))
                        .unwrap_or_default();
                    Some(KeyValue {
                        key: key.into(),
                        value,
                    })
                })
                .collect(),
        );
    }
    if o.is_empty() {
        return AnyValue::Empty;
    }
    AnyValue::from_json(v)
}
