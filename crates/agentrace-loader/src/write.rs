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
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value, json};

use crate::model::{
    AnyValue, Attributes, KeyValue, Link, LogRecord, Resource, Scope, Span, SpanEvent, Status,
    Telemetry,
};

/// Serializes a model item straight to canonical OTLP/JSON, without building a
/// [`serde_json::Value`] tree first: `serde_json::to_writer(&mut out, &Json(&span))`. The
/// `*_json` functions below give the same JSON as a `Value`.
#[derive(Clone, Copy, Debug)]
pub struct Json<'a, T: ?Sized>(pub &'a T);

struct Str<'a, T: std::fmt::Display>(&'a T);

impl<T: std::fmt::Display> Serialize for Str<'_, T> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        ser.collect_str(self.0)
    }
}

/// An integer as a JSON string (OTLP/JSON writes 64-bit integers as strings).
struct IntStr<T: itoa::Integer>(T);

impl<T: itoa::Integer + Copy> Serialize for IntStr<T> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        ser.serialize_str(itoa::Buffer::new().format(self.0))
    }
}

/// An id as lowercase hex, formatted on the stack.
struct Hex<const N: usize, const M: usize>([u8; N]);

fn hex_id<const N: usize, const M: usize>(bytes: [u8; N]) -> Hex<N, M> {
    Hex(bytes)
}

impl<const N: usize, const M: usize> Serialize for Hex<N, M> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let mut buf = [0u8; M];
        hex::encode_to_slice(self.0, &mut buf).map_err(serde::ser::Error::custom)?;
        ser.serialize_str(std::str::from_utf8(&buf).map_err(serde::ser::Error::custom)?)
    }
}

struct Base64<'a>(&'a [u8]);

impl Serialize for Base64<'_> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        ser.serialize_str(&base64::engine::general_purpose::STANDARD.encode(self.0))
    }
}

struct Values<'a>(&'a [AnyValue]);

impl Serialize for Values<'_> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let mut m = ser.serialize_map(Some(1))?;
        m.serialize_entry("values", &Seq(self.0))?;
        m.end()
    }
}

struct Seq<'a, T>(&'a [T]);

impl<T> Serialize for Seq<'_, T>
where
    for<'b> Json<'b, T>: Serialize,
{
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        ser.collect_seq(self.0.iter().map(Json))
    }
}

struct KvValues<'a>(&'a [KeyValue]);

impl Serialize for KvValues<'_> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let mut m = ser.serialize_map(Some(1))?;
        m.serialize_entry("values", &Seq(self.0))?;
        m.end()
    }
}

impl Serialize for Json<'_, AnyValue> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let len = usize::from(!matches!(self.0, AnyValue::Empty));
        let mut m = ser.serialize_map(Some(len))?;
        match self.0 {
            AnyValue::Empty => {}
            AnyValue::String(s) => m.serialize_entry("stringValue", s)?,
            AnyValue::Bool(b) => m.serialize_entry("boolValue", b)?,
            AnyValue::Int(i) => m.serialize_entry("intValue", &IntStr(*i))?,
            AnyValue::Double(d) if d.is_finite() => m.serialize_entry("doubleValue", d)?,
            AnyValue::Double(d) => m.serialize_entry("doubleValue", &Str(d))?,
            AnyValue::Bytes(b) => m.serialize_entry("bytesValue", &Base64(b))?,
            AnyValue::Array(a) => m.serialize_entry("arrayValue", &Values(a))?,
            AnyValue::KvList(kv) => m.serialize_entry("kvlistValue", &KvValues(kv))?,
        }
        m.end()
    }
}

impl Serialize for Json<'_, KeyValue> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let mut m = ser.serialize_map(Some(2))?;
        m.serialize_entry("key", self.0.key.as_str())?;
        m.serialize_entry("value", &Json(&self.0.value))?;
        m.end()
    }
}

impl Serialize for Json<'_, Attributes> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        ser.collect_seq(self.0.iter().map(Json))
    }
}

impl Serialize for Json<'_, SpanEvent> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let e = self.0;
        let mut m = ser.serialize_map(Some(3))?;
        m.serialize_entry("timeUnixNano", &IntStr(e.time_ns))?;
        m.serialize_entry("name", &e.name)?;
        m.serialize_entry("attributes", &Json(&e.attributes))?;
        m.end()
    }
}

impl Serialize for Json<'_, Link> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let l = self.0;
        let mut m = ser.serialize_map(Some(3))?;
        m.serialize_entry("traceId", &hex_id::<16, 32>(l.trace_id.0))?;
        m.serialize_entry("spanId", &hex_id::<8, 16>(l.span_id.0))?;
        m.serialize_entry("attributes", &Json(&l.attributes))?;
        m.end()
    }
}

struct StatusJson<'a>(&'a Status);

impl Serialize for StatusJson<'_> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let mut m = ser.serialize_map(Some(2))?;
        m.serialize_entry("code", &self.0.code.to_i32())?;
        m.serialize_entry("message", &self.0.message)?;
        m.end()
    }
}

impl Serialize for Json<'_, Span> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let s = self.0;
        let mut m = ser.serialize_map(None)?;
        m.serialize_entry("traceId", &hex_id::<16, 32>(s.trace_id.0))?;
        m.serialize_entry("spanId", &hex_id::<8, 16>(s.span_id.0))?;
        if let Some(p) = &s.parent_span_id {
            m.serialize_entry("parentSpanId", &hex_id::<8, 16>(p.0))?;
        }
        m.serialize_entry("name", &s.name)?;
        m.serialize_entry("kind", &s.kind.to_i64())?;
        m.serialize_entry("startTimeUnixNano", &IntStr(s.start_ns))?;
        m.serialize_entry("endTimeUnixNano", &IntStr(s.end_ns))?;
        m.serialize_entry("attributes", &Json(&s.attributes))?;
        m.serialize_entry("events", &Seq(&s.events))?;
        m.serialize_entry("links", &Seq(&s.links))?;
        m.serialize_entry("status", &StatusJson(&s.status))?;
        m.end()
    }
}

impl Serialize for Json<'_, LogRecord> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let l = self.0;
        let mut m = ser.serialize_map(None)?;
        m.serialize_entry("timeUnixNano", &IntStr(l.time_ns))?;
        m.serialize_entry("observedTimeUnixNano", &IntStr(l.observed_time_ns))?;
        m.serialize_entry("severityNumber", &l.severity_number)?;
        m.serialize_entry("severityText", &l.severity_text)?;
        m.serialize_entry("eventName", &l.event_name)?;
        if l.body != AnyValue::Empty {
            m.serialize_entry("body", &Json(&l.body))?;
        }
        m.serialize_entry("attributes", &Json(&l.attributes))?;
        if let Some(t) = &l.trace_id {
            m.serialize_entry("traceId", &hex_id::<16, 32>(t.0))?;
        }
        if let Some(s) = &l.span_id {
            m.serialize_entry("spanId", &hex_id::<8, 16>(s.0))?;
        }
        m.end()
    }
}

impl Serialize for Json<'_, Scope> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let s = self.0;
        let mut m = ser.serialize_map(Some(3))?;
        m.serialize_entry("name", &s.name)?;
        m.serialize_entry("version", &s.version)?;
        m.serialize_entry("attributes", &Json(&s.attributes))?;
        m.end()
    }
}

fn value_of<T: Serialize>(item: T) -> Value {
    // Serializing these types to a `Value` cannot fail: every map key is a string and every
    // number is finite (non-finite doubles are written as strings).
    serde_json::to_value(item).unwrap_or(Value::Null)
}

/// Writes one item as a compact OTLP/JSON string (no intermediate `Value`).
pub fn to_json_string<T: ?Sized>(item: &T) -> String
where
    for<'a> Json<'a, T>: Serialize,
{
    let mut out = Vec::with_capacity(1024);
    // Writing to a `Vec` cannot fail, and serde_json writes UTF-8.
    match serde_json::to_writer(&mut out, &Json(item)) {
        Ok(()) => String::from_utf8(out).unwrap_or_default(),
        Err(_) => String::new(),
    }
}

/// An attribute value as an OTLP/JSON `AnyValue`.
pub fn any_json(v: &AnyValue) -> Value {
    value_of(Json(v))
}

/// Attributes as an OTLP/JSON key-value list.
pub fn attrs_json(a: &Attributes) -> Value {
    value_of(Json(a))
}

/// One span as an OTLP/JSON object (without its resource and scope).
pub fn span_json(s: &Span) -> Value {
    value_of(Json(s))
}

/// One log record as an OTLP/JSON object (without its resource and scope).
pub fn log_json(l: &LogRecord) -> Value {
    value_of(Json(l))
}

/// An instrumentation scope as an OTLP/JSON object.
pub fn scope_json(s: &Scope) -> Value {
    value_of(Json(s))
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
            key: kv.key.as_str().to_owned(),
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
                                kind: i32::try_from(s.kind.to_i64()).unwrap_or(0),
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
                                    code: s.status.code.to_i32(),
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
