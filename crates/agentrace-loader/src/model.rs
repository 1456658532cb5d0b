//! The trace model: resources, scopes, spans, span events, links and log records.
//!
//! The model is what every reader produces and what extraction consumes. It keeps OTLP's
//! structure (resource and scope shared by reference) and its attribute values, including nested
//! `AnyValue` maps and lists.

use std::fmt;
use std::sync::Arc;

pub use crate::key::Key;

/// A 16-byte trace id.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct TraceId(pub [u8; 16]);

/// An 8-byte span id.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct SpanId(pub [u8; 8]);

impl TraceId {
    /// Parses lowercase or uppercase hex; 16 hex digits (64-bit Jaeger ids) are left-padded with zeros.
    pub fn from_hex(s: &str) -> Option<Self> {
        let mut out = [0u8; 16];
        match s.len() {
            32 => hex::decode_to_slice(s, &mut out).ok()?,
            16 => hex::decode_to_slice(s, &mut out[8..]).ok()?,
            _ => return None,
        }
        Some(Self(out))
    }

    /// Builds an id from raw bytes (16, or 8 for 64-bit ids).
    pub fn from_bytes(b: &[u8]) -> Option<Self> {
        let mut out = [0u8; 16];
        match b.len() {
            16 => out.copy_from_slice(b),
            8 => out[8..].copy_from_slice(b),
            _ => return None,
        }
        Some(Self(out))
    }

    /// True when every byte is zero (an invalid id in OTLP).
    pub fn is_zero(&self) -> bool {
        self.0 == [0; 16]
    }
}

impl SpanId {
    /// Parses 16 hex digits.
    pub fn from_hex(s: &str) -> Option<Self> {
        let mut out = [0u8; 8];
        hex::decode_to_slice(s, &mut out).ok()?;
        Some(Self(out))
    }

    /// Builds an id from 8 raw bytes.
    pub fn from_bytes(b: &[u8]) -> Option<Self> {
        let arr: [u8; 8] = b.try_into().ok()?;
        Some(Self(arr))
    }

    /// True when every byte is zero (an invalid id in OTLP).
    pub fn is_zero(&self) -> bool {
        self.0 == [0; 8]
    }
}

/// Writes bytes as lowercase hex without allocating.
fn write_hex<const N: usize>(bytes: &[u8], f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let mut buf = [0u8; N];
    if hex::encode_to_slice(bytes, &mut buf).is_err() {
        return Err(fmt::Error);
    }
    f.write_str(std::str::from_utf8(&buf).map_err(|_| fmt::Error)?)
}

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex::<32>(&self.0, f)
    }
}

impl fmt::Debug for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceId({self})")
    }
}

impl fmt::Display for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex::<16>(&self.0, f)
    }
}

impl fmt::Debug for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SpanId({self})")
    }
}

/// An attribute value: OTLP's `AnyValue`.
#[derive(Clone, Debug, PartialEq, Default)]
pub enum AnyValue {
    /// No value.
    #[default]
    Empty,
    /// A string.
    String(String),
    /// A boolean.
    Bool(bool),
    /// A 64-bit integer.
    Int(i64),
    /// A double.
    Double(f64),
    /// Raw bytes.
    Bytes(Vec<u8>),
    /// A list of values.
    Array(Vec<AnyValue>),
    /// A map of values, in their original order.
    KvList(Vec<KeyValue>),
}

impl AnyValue {
    /// The string, when this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Self::String(s) => Some(s),
            _ => None,
        }
    }

    /// The value as an integer: ints, integral doubles and numeric strings.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Self::Int(i) => Some(*i),
            #[allow(clippy::cast_possible_truncation)]
            Self::Double(d) if d.fract() == 0.0 && d.is_finite() => Some(*d as i64),
            Self::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    /// Converts to JSON: maps become objects, bytes become base64 strings.
    pub fn to_json(&self) -> serde_json::Value {
        use base64::Engine as _;
        use serde_json::Value;
        match self {
            Self::Empty => Value::Null,
            Self::String(s) => Value::String(s.clone()),
            Self::Bool(b) => Value::Bool(*b),
            Self::Int(i) => Value::from(*i),
            Self::Double(d) => serde_json::Number::from_f64(*d).map_or(Value::Null, Value::Number),
            Self::Bytes(b) => Value::String(base64::engine::general_purpose::STANDARD.encode(b)),
            Self::Array(a) => Value::Array(a.iter().map(Self::to_json).collect()),
            Self::KvList(kv) => Value::Object(
                kv.iter()
                    .map(|k| (k.key.as_str().to_owned(), k.value.to_json()))
                    .collect(),
            ),
        }
    }

    /// Converts plain JSON into an attribute value (objects become maps).
    pub fn from_json(v: &serde_json::Value) -> Self {
        use serde_json::Value;
        match v {
            Value::Null => Self::Empty,
            Value::Bool(b) => Self::Bool(*b),
            Value::Number(n) => n
                .as_i64()
                .map(Self::Int)
                .unwrap_or_else(|| Self::Double(n.as_f64().unwrap_or(0.0))),
            Value::String(s) => Self::String(s.clone()),
            Value::Array(a) => Self::Array(a.iter().map(Self::from_json).collect()),
            Value::Object(o) => Self::KvList(
                o.iter()
                    .map(|(k, v)| KeyValue::new(k.clone(), Self::from_json(v)))
                    .collect(),
            ),
        }
    }
}

/// One attribute: a key and its value.
#[derive(Clone, Debug, PartialEq)]
pub struct KeyValue {
    /// The key.
    pub key: Key,
    /// The value.
    pub value: AnyValue,
}

impl KeyValue {
    /// Makes an attribute.
    pub fn new(key: impl Into<Key>, value: AnyValue) -> Self {
        Self {
            key: key.into(),
            value,
        }
    }
}

/// An ordered attribute list with lookup by key (the first occurrence of a key wins).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Attributes(pub Vec<KeyValue>);

impl Attributes {
    /// The value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<&AnyValue> {
        self.0.iter().find(|kv| kv.key == key).map(|kv| &kv.value)
    }

    /// The string value of `key`, if present and a string.
    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(AnyValue::as_str)
    }

    /// Adds an attribute at the end.
    pub fn push(&mut self, key: impl Into<Key>, value: AnyValue) {
        self.0.push(KeyValue::new(key, value));
    }

    /// Iterates over the attributes.
    pub fn iter(&self) -> impl Iterator<Item = &KeyValue> {
        self.0.iter()
    }

    /// Number of attributes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are no attributes.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The entity that produced telemetry (`service.name` and friends).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Resource {
    /// Resource attributes.
    pub attributes: Attributes,
}

/// The instrumentation scope (library) that produced telemetry.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Scope {
    /// Scope name.
    pub name: String,
    /// Scope version.
    pub version: String,
    /// Scope attributes.
    pub attributes: Attributes,
}

/// Span kind, as in OTLP.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SpanKind {
    /// Not specified.
    #[default]
    Unspecified,
    /// Internal.
    Internal,
    /// Server.
    Server,
    /// Client.
    Client,
    /// Producer.
    Producer,
    /// Consumer.
    Consumer,
}

impl SpanKind {
    /// The OTLP number.
    pub fn to_i64(self) -> i64 {
        match self {
            Self::Unspecified => 0,
            Self::Internal => 1,
            Self::Server => 2,
            Self::Client => 3,
            Self::Producer => 4,
            Self::Consumer => 5,
        }
    }

    /// From the OTLP number.
    pub fn from_i64(n: i64) -> Self {
        match n {
            1 => Self::Internal,
            2 => Self::Server,
            3 => Self::Client,
            4 => Self::Producer,
            5 => Self::Consumer,
            _ => Self::Unspecified,
        }
    }

    /// From an OTLP enum name (`SPAN_KIND_SERVER`) or a Jaeger tag value (`server`).
    pub fn from_name(s: &str) -> Self {
        let s = s.trim_start_matches("SPAN_KIND_").to_ascii_lowercase();
        match s.as_str() {
            "internal" => Self::Internal,
            "server" => Self::Server,
            "client" => Self::Client,
            "producer" => Self::Producer,
            "consumer" => Self::Consumer,
            _ => Self::Unspecified,
        }
    }
}

/// Span status code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum StatusCode {
    /// Not set.
    #[default]
    Unset,
    /// Ok.
    Ok,
    /// Error.
    Error,
}

impl StatusCode {
    /// The OTLP number.
    pub fn to_i32(self) -> i32 {
        match self {
            Self::Unset => 0,
            Self::Ok => 1,
            Self::Error => 2,
        }
    }

    /// From the OTLP number.
    pub fn from_i64(n: i64) -> Self {
        match n {
            1 => Self::Ok,
            2 => Self::Error,
            _ => Self::Unset,
        }
    }

    /// From an OTLP enum name (`STATUS_CODE_ERROR`) or a Jaeger tag (`ERROR`).
    pub fn from_name(s: &str) -> Self {
        match s
            .trim_start_matches("STATUS_CODE_")
            .to_ascii_uppercase()
            .as_str()
        {
            "OK" => Self::Ok,
            "ERROR" => Self::Error,
            _ => Self::Unset,
        }
    }
}

/// Span status.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Status {
    /// The code.
    pub code: StatusCode,
    /// The description (set with errors).
    pub message: String,
}

/// An event recorded on a span.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct SpanEvent {
    /// Event time, ns since the epoch.
    pub time_ns: u64,
    /// Event name.
    pub name: String,
    /// Event attributes.
    pub attributes: Attributes,
}

/// A link from a span to another span.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Link {
    /// Linked trace.
    pub trace_id: TraceId,
    /// Linked span.
    pub span_id: SpanId,
    /// Link attributes.
    pub attributes: Attributes,
}

/// A span.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Span {
    /// Trace id.
    pub trace_id: TraceId,
    /// Span id.
    pub span_id: SpanId,
    /// Parent span id, `None` for a root.
    pub parent_span_id: Option<SpanId>,
    /// Span name.
    pub name: String,
    /// Span kind.
    pub kind: SpanKind,
    /// Start, ns since the epoch.
    pub start_ns: u64,
    /// End, ns since the epoch.
    pub end_ns: u64,
    /// Span attributes.
    pub attributes: Attributes,
    /// Span events.
    pub events: Vec<SpanEvent>,
    /// Links.
    pub links: Vec<Link>,
    /// Status.
    pub status: Status,
    /// The producing resource.
    pub resource: Arc<Resource>,
    /// The producing scope.
    pub scope: Arc<Scope>,
}

/// A log record (OTLP logs; GenAI events are log records with an event name).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct LogRecord {
    /// Time, ns since the epoch (0 when unknown).
    pub time_ns: u64,
    /// Observed time, ns since the epoch.
    pub observed_time_ns: u64,
    /// Severity number.
    pub severity_number: i32,
    /// Severity text.
    pub severity_text: String,
    /// Event name (`eventName`, else the `event.name` attribute).
    pub event_name: String,
    /// Body.
    pub body: AnyValue,
    /// Attributes.
    pub attributes: Attributes,
    /// Trace the record belongs to, if any.
    pub trace_id: Option<TraceId>,
    /// Span the record belongs to, if any.
    pub span_id: Option<SpanId>,
    /// The producing resource.
    pub resource: Arc<Resource>,
    /// The producing scope.
    pub scope: Arc<Scope>,
}

impl LogRecord {
    /// The event name, from `eventName` or the `event.name` attribute.
    pub fn name(&self) -> &str {
        if self.event_name.is_empty() {
            self.attributes.get_str("event.name").unwrap_or("")
        } else {
            &self.event_name
        }
    }
}

/// Spans and log records, as read from one or more sources.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Telemetry {
    /// Spans, in the order read.
    pub spans: Vec<Span>,
    /// Log records, in the order read.
    pub logs: Vec<LogRecord>,
}

impl Telemetry {
    /// Appends another batch.
    pub fn extend(&mut self, other: Telemetry) {
        // Taking the other's vectors when ours are empty avoids a second copy of a large batch.
        if self.spans.is_empty() {
            self.spans = other.spans;
        } else {
            self.spans.extend(other.spans);
        }
        if self.logs.is_empty() {
            self.logs = other.logs;
        } else {
            self.logs.extend(other.logs);
        }
    }
}

impl serde::Serialize for TraceId {
    /// Serializes as lowercase hex.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl serde::Serialize for SpanId {
    /// Serializes as lowercase hex.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}
