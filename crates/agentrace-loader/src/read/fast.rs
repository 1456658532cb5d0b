//! A typed fast path for canonical OTLP/JSON export documents (`resourceSpans` / `resourceLogs`,
//! attributes as `[{key, value: AnyValue}]`, hex ids). Anything else makes it give up, and the
//! lenient `serde_json::Value` reader takes over, so the result is the same either way.

use std::fmt;
use std::sync::Arc;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::model::{
    AnyValue, Attributes, KeyValue, Link, LogRecord, Resource, Scope, Span, SpanEvent, SpanId,
    SpanKind, Status, StatusCode, Telemetry, TraceId,
};

#[derive(Deserialize)]
struct Doc {
    #[serde(default, rename = "resourceSpans", alias = "resource_spans")]
    resource_spans: Vec<ResourceSpansT>,
    #[serde(default, rename = "resourceLogs", alias = "resource_logs")]
    resource_logs: Vec<ResourceLogsT>,
}

#[derive(Deserialize)]
struct ResourceT {
    #[serde(default)]
    attributes: AttrsT,
}

#[derive(Deserialize)]
struct ScopeT {
    #[serde(default)]
    name: String,
    #[serde(default)]
    version: String,
    #[serde(default)]
    attributes: AttrsT,
}

#[derive(Deserialize)]
struct ResourceSpansT {
    #[serde(default)]
    resource: Option<ResourceT>,
    #[serde(default, rename = "scopeSpans", alias = "scope_spans")]
    scope_spans: Vec<ScopeSpansT>,
}

#[derive(Deserialize)]
struct ScopeSpansT {
    #[serde(default)]
    scope: Option<ScopeT>,
    #[serde(default)]
    spans: SpanList,
}

#[derive(Deserialize)]
struct ResourceLogsT {
    #[serde(default)]
    resource: Option<ResourceT>,
    #[serde(default, rename = "scopeLogs", alias = "scope_logs")]
    scope_logs: Vec<ScopeLogsT>,
}

#[derive(Deserialize)]
struct ScopeLogsT {
    #[serde(default)]
    scope: Option<ScopeT>,
    #[serde(default, rename = "logRecords", alias = "log_records")]
    log_records: LogList,
}

#[derive(Deserialize)]
struct SpanT {
    #[serde(rename = "traceId", alias = "trace_id")]
    trace_id: HexTrace,
    #[serde(rename = "spanId", alias = "span_id")]
    span_id: HexSpan,
    #[serde(default, rename = "parentSpanId", alias = "parent_span_id")]
    parent_span_id: OptSpan,
    #[serde(default)]
    name: String,
    #[serde(default)]
    kind: NumOrName,
    #[serde(default, rename = "startTimeUnixNano", alias = "start_time_unix_nano")]
    start: U64,
    #[serde(default, rename = "endTimeUnixNano", alias = "end_time_unix_nano")]
    end: U64,
    #[serde(default)]
    attributes: AttrsT,
    #[serde(default)]
    events: Vec<EventT>,
    #[serde(default)]
    links: Vec<LinkT>,
    #[serde(default)]
    status: Option<StatusT>,
}

#[derive(Deserialize)]
struct EventT {
    #[serde(default, rename = "timeUnixNano", alias = "time_unix_nano")]
    time: U64,
    #[serde(default)]
    name: String,
    #[serde(default)]
    attributes: AttrsT,
}

#[derive(Deserialize)]
struct LinkT {
    #[serde(rename = "traceId", alias = "trace_id")]
    trace_id: HexTrace,
    #[serde(rename = "spanId", alias = "span_id")]
    span_id: HexSpan,
    #[serde(default)]
    attributes: AttrsT,
}

#[derive(Deserialize)]
struct StatusT {
    #[serde(default)]
    code: NumOrName,
    #[serde(default)]
    message: String,
}

#[derive(Deserialize)]
struct LogT {
    #[serde(default, rename = "timeUnixNano", alias = "time_unix_nano")]
    time: U64,
    #[serde(
        default,
        rename = "observedTimeUnixNano",
        alias = "observed_time_unix_nano"
    )]
    observed: U64,
    #[serde(default, rename = "severityNumber", alias = "severity_number")]
    severity_number: Option<i32>,
    #[serde(default, rename = "severityText", alias = "severity_text")]
    severity_text: String,
    #[serde(default, rename = "eventName", alias = "event_name")]
    event_name: String,
    #[serde(default)]
    body: Option<AnyT>,
    #[serde(default)]
    attributes: AttrsT,
    #[serde(default, rename = "traceId", alias = "trace_id")]
    trace_id: OptTrace,
    #[serde(default, rename = "spanId", alias = "span_id")]
    span_id: OptSpan,
}

/// An id given as hex; anything else fails the fast path.
macro_rules! hex_id {
    ($name:ident, $opt:ident, $id:ty) => {
        struct $name($id);
        #[derive(Default)]
        struct $opt(Option<$id>);

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                match $opt::deserialize(d)?.0 {
                    Some(id) => Ok($name(id)),
                    None => Err(de::Error::custom("missing id")),
                }
            }
        }

        impl<'de> Deserialize<'de> for $opt {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl Visitor<'_> for V {
                    type Value = $opt;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str("a hex id")
                    }
                    fn visit_str<E: de::Error>(self, v: &str) -> Result<$opt, E> {
                        if v.is_empty() {
                            return Ok($opt(None));
                        }
                        let id = <$id>::from_hex(v).ok_or_else(|| E::custom("not a hex id"))?;
                        Ok($opt((!id.is_zero()).then_some(id)))
                    }
                    fn visit_unit<E: de::Error>(self) -> Result<$opt, E> {
                        Ok($opt(None))
                    }
                }
                d.deserialize_any(V)
            }
        }
    };
}

hex_id!(HexTrace, OptTrace, TraceId);
hex_id!(HexSpan, OptSpan, SpanId);

/// A map key, owned (keys are short).
struct KeyStr(String);

impl<'de> Deserialize<'de> for KeyStr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(KeyStr)
    }
}

/// A u64 given as a number or a numeric string.
#[derive(Default)]
struct U64(u64);

impl<'de> Deserialize<'de> for U64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = U64;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number or a numeric string")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<U64, E> {
                Ok(U64(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<U64, E> {
                Ok(U64(u64::try_from(v).unwrap_or(0)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<U64, E> {
                v.trim().parse().map(U64).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

/// An enum given as its number or its name (kind, status code).
#[derive(Default)]
enum NumOrName {
    #[default]
    None,
    Num(i64),
    Name(String),
}

impl<'de> Deserialize<'de> for NumOrName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = NumOrName;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number or a name")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<NumOrName, E> {
                Ok(NumOrName::Num(i64::try_from(v).unwrap_or(0)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<NumOrName, E> {
                Ok(NumOrName::Num(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<NumOrName, E> {
                Ok(NumOrName::Name(v.to_owned()))
            }
        }
        d.deserialize_any(V)
    }
}

/// Attributes as `[{key, value}]`.
#[derive(Default)]
struct AttrsT(Vec<KeyValue>);

#[derive(Deserialize)]
struct KvT {
    key: String,
    #[serde(default)]
    value: Option<AnyT>,
}

impl<'de> Deserialize<'de> for AttrsT {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let items: Vec<KvT> = Vec::deserialize(d)?;
        Ok(AttrsT(
            items
                .into_iter()
                .map(|kv| KeyValue {
                    key: kv.key.into(),
                    value: kv.value.map(|v| v.0).unwrap_or_default(),
                })
                .collect(),
        ))
    }
}

/// An OTLP/JSON `AnyValue`.
struct AnyT(AnyValue);

#[derive(Deserialize)]
struct ValuesT<T> {
    #[serde(default = "Vec::new")]
    values: Vec<T>,
}

impl<'de> Deserialize<'de> for AnyT {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = AnyT;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an OTLP AnyValue object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<AnyT, A::Error> {
                let Some(key) = m.next_key::<KeyStr>()? else {
                    return Ok(AnyT(AnyValue::Empty));
                };
                let v = match key.0.as_str() {
                    "stringValue" | "string_value" => AnyValue::String(m.next_value()?),
                    "boolValue" | "bool_value" => AnyValue::Bool(m.next_value()?),
                    "intValue" | "int_value" => {
                        let n: NumOrName = m.next_value()?;
                        match n {
                            NumOrName::Num(i) => AnyValue::Int(i),
                            NumOrName::Name(s) => {
                                AnyValue::Int(s.trim().parse().map_err(de::Error::custom)?)
                            }
                            NumOrName::None => AnyValue::Empty,
                        }
                    }
                    "doubleValue" | "double_value" => AnyValue::Double(m.next_value()?),
                    "arrayValue" | "array_value" => {
                        let a: ValuesT<AnyT> = m.next_value()?;
                        AnyValue::Array(a.values.into_iter().map(|x| x.0).collect())
                    }
                    "kvlistValue" | "kvlist_value" => {
                        let a: ValuesT<KvT> = m.next_value()?;
                        AnyValue::KvList(
                            a.values
                                .into_iter()
                                .map(|kv| KeyValue {
                                    key: kv.key.into(),
                                    value: kv.value.map(|v| v.0).unwrap_or_default(),
                                })
                                .collect(),
                        )
                    }
                    _ => return Err(de::Error::custom("not a canonical AnyValue")),
                };
                if m.next_key::<IgnoredAny>()?.is_some() {
                    return Err(de::Error::custom("AnyValue with several fields"));
                }
                Ok(AnyT(v))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, _s: A) -> Result<AnyT, A::Error> {
                Err(de::Error::custom("not an AnyValue"))
            }
        }
        d.deserialize_map(V)
    }
}

fn kind(k: &NumOrName) -> SpanKind {
    match k {
        NumOrName::Num(n) => SpanKind::from_i64(*n),
        NumOrName::Name(s) => SpanKind::from_name(s),
        NumOrName::None => SpanKind::Unspecified,
    }
}

fn code(k: &NumOrName) -> StatusCode {
    match k {
        NumOrName::Num(n) => StatusCode::from_i64(*n),
        NumOrName::Name(s) => StatusCode::from_name(s),
        NumOrName::None => StatusCode::Unset,
    }
}

fn severity(n: Option<i32>) -> i32 {
    n.unwrap_or(0)
}

/// Parses one canonical OTLP/JSON document. `None` when the input is anything else (the lenient
/// reader then handles it, reporting problems with their field paths).
pub(crate) fn parse(bytes: &[u8]) -> Option<Telemetry> {
    // One UTF-8 check of the whole text, in place of serde_json's check of every string: about a
    // sixth of the instructions of reading a GenAI request, whose message attributes are long
    // escaped strings. Invalid UTF-8 fails either way (and goes to the general reader).
    let text = std::str::from_utf8(bytes).ok()?;
    convert(serde_json::from_str(text).ok()?)
}

/// Spans converted one by one as they are decoded, so that the decoded form and the model never
/// both hold a whole list. Resource and scope are set by the caller.
#[derive(Default)]
struct SpanList(Vec<Span>);

/// Log records converted one by one as they are decoded.
#[derive(Default)]
struct LogList(Vec<LogRecord>);

impl<'de> Deserialize<'de> for SpanList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = SpanList;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of spans")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<SpanList, A::Error> {
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 16));
                let (res, scope) = (Arc::new(Resource::default()), Arc::new(Scope::default()));
                while let Some(s) = seq.next_element::<SpanT>()? {
                    out.push(span_of(s, &res, &scope));
                }
                Ok(SpanList(out))
            }
        }
        d.deserialize_seq(V)
    }
}

impl<'de> Deserialize<'de> for LogList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = LogList;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of log records")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<LogList, A::Error> {
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 16));
                let (res, scope) = (Arc::new(Resource::default()), Arc::new(Scope::default()));
                while let Some(l) = seq.next_element::<LogT>()? {
                    out.push(LogRecord {
                        time_ns: l.time.0,
                        observed_time_ns: l.observed.0,
                        severity_number: severity(l.severity_number),
                        severity_text: l.severity_text,
                        event_name: l.event_name,
                        body: l.body.map(|b| b.0).unwrap_or_default(),
                        attributes: Attributes(l.attributes.0),
                        trace_id: l.trace_id.0,
                        span_id: l.span_id.0,
                        resource: Arc::clone(&res),
                        scope: Arc::clone(&scope),
                    });
                }
                Ok(LogList(out))
            }
        }
        d.deserialize_seq(V)
    }
}

fn span_of(s: SpanT, res: &Arc<Resource>, scope: &Arc<Scope>) -> Span {
    Span {
        trace_id: s.trace_id.0,
        span_id: s.span_id.0,
        parent_span_id: s.parent_span_id.0,
        name: s.name,
        kind: kind(&s.kind),
        start_ns: s.start.0,
        end_ns: s.end.0,
        attributes: Attributes(s.attributes.0),
        events: s
            .events
            .into_iter()
            .map(|e| SpanEvent {
                time_ns: e.time.0,
                name: e.name,
                attributes: Attributes(e.attributes.0),
            })
            .collect(),
        links: s
            .links
            .into_iter()
            .map(|l| Link {
                trace_id: l.trace_id.0,
                span_id: l.span_id.0,
                attributes: Attributes(l.attributes.0),
            })
            .collect(),
        status: s
            .status
            .map(|st| Status {
                code: code(&st.code),
                message: st.message,
            })
            .unwrap_or_default(),
        resource: Arc::clone(res),
        scope: Arc::clone(scope),
    }
}

fn convert(doc: Doc) -> Option<Telemetry> {
    if doc.resource_spans.is_empty() && doc.resource_logs.is_empty() {
        return None;
    }
    let mut out = Telemetry::default();
    for rs in doc.resource_spans {
        let resource = Arc::new(Resource {
            attributes: Attributes(rs.resource.map(|r| r.attributes.0).unwrap_or_default()),
        });
        if rs.scope_spans.is_empty() {
            return None;
        }
        for ss in rs.scope_spans {
            let scope = Arc::new(ss.scope.map_or_else(Scope::default, |s| Scope {
                name: s.name,
                version: s.version,
                attributes: Attributes(s.attributes.0),
            }));
            let first = out.spans.len();
            out.spans.append(&mut { ss.spans }.0);
            for span in &mut out.spans[first..] {
                span.resource = Arc::clone(&resource);
                span.scope = Arc::clone(&scope);
            }
        }
    }
    for rl in doc.resource_logs {
        let resource = Arc::new(Resource {
            attributes: Attributes(rl.resource.map(|r| r.attributes.0).unwrap_or_default()),
        });
        if rl.scope_logs.is_empty() {
            return None;
        }
        for sl in rl.scope_logs {
            let scope = Arc::new(sl.scope.map_or_else(Scope::default, |s| Scope {
                name: s.name,
                version: s.version,
                attributes: Attributes(s.attributes.0),
            }));
            let first = out.logs.len();
            out.logs.append(&mut { sl.log_records }.0);
            for log in &mut out.logs[first..] {
                log.resource = Arc::clone(&resource);
                log.scope = Arc::clone(&scope);
            }
        }
    }
    Some(out)
}

/// A byte scanner over a buffered reader, for splitting one large document into its
/// `resourceSpans` / `resourceLogs` elements.
struct Scan<R> {
    r: R,
}

impl<R: std::io::BufRead> Scan<R> {
    fn peek(&mut self) -> Option<u8> {
        self.r.fill_buf().ok()?.first().copied()
    }

    fn next(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.r.consume(1);
        Some(b)
    }

    fn skip_ws(&mut self) -> Option<u8> {
        loop {
            let b = self.peek()?;
            if b.is_ascii_whitespace() {
                self.r.consume(1);
            } else {
                return Some(b);
            }
        }
    }

    /// Reads a string whose opening quote was consumed; stores its raw bytes when asked.
    fn string(&mut self, mut out: Option<&mut Vec<u8>>) -> Option<()> {
        loop {
            let b = self.next()?;
            if let Some(o) = out.as_deref_mut() {
                o.push(b);
            }
            match b {
                b'"' => return Some(()),
                b'\\' => {
                    let e = self.next()?;
                    if let Some(o) = out.as_deref_mut() {
                        o.push(e);
                    }
                }
                _ => {}
            }
        }
    }

    /// Reads one JSON value (after whitespace), storing its bytes when asked.
    fn value(&mut self, mut out: Option<&mut Vec<u8>>) -> Option<()> {
        let first = self.skip_ws()?;
        if first == b'"' {
            self.r.consume(1);
            if let Some(o) = out.as_deref_mut() {
                o.push(b'"');
            }
            return self.string(out);
        }
        if first != b'{' && first != b'[' {
            // A scalar: up to a delimiter, which is left in place.
            loop {
                let b = self.peek()?;
                if matches!(b, b',' | b'}' | b']') || b.is_ascii_whitespace() {
                    return Some(());
                }
                if let Some(o) = out.as_deref_mut() {
                    o.push(b);
                }
                self.r.consume(1);
            }
        }
        let mut depth = 0usize;
        loop {
            let b = self.next()?;
            if let Some(o) = out.as_deref_mut() {
                o.push(b);
            }
            match b {
                b'"' => self.string(out.as_deref_mut())?,
                b'{' | b'[' => depth += 1,
                b'}' | b']' => {
                    depth = depth.checked_sub(1)?;
                    if depth == 0 {
                        return Some(());
                    }
                }
                _ => {}
            }
        }
    }
}

/// Decodes one canonical OTLP/JSON document from a stream, element by element: each
/// `resourceSpans` / `resourceLogs` entry is cut out and decoded on its own, so memory is the
/// model plus the largest entry. `None` when the document is anything else.
pub(crate) fn parse_stream(r: impl std::io::BufRead) -> Option<Telemetry> {
    let mut sc = Scan { r };
    if sc.skip_ws()? != b'{' {
        return None;
    }
    sc.r.consume(1);
    let mut out = Telemetry::default();
    let mut elements = 0usize;
    let mut buf = Vec::new();
    let mut shared = super::Shared::default();
    loop {
        match sc.skip_ws()? {
            b'}' => {
                sc.r.consume(1);
                break;
            }
            b',' => {
                sc.r.consume(1);
                continue;
            }
            b'"' => {}
            _ => return None,
        }
        sc.r.consume(1);
        let mut key = Vec::new();
        sc.string(Some(&mut key))?;
        key.pop();
        if sc.skip_ws()? != b':' {
            return None;
        }
        sc.r.consume(1);
        // Shapes of the lenient reader (which also prefers them to `resourceSpans`): give up at
        // once rather than scan the rest of the file.
        if matches!(key.as_slice(), b"batches" | b"data" | b"trace") {
            return None;
        }
        let spans = matches!(key.as_slice(), b"resourceSpans" | b"resource_spans");
        let logs = matches!(key.as_slice(), b"resourceLogs" | b"resource_logs");
        if !spans && !logs {
            sc.value(None)?;
            continue;
        }
        if sc.skip_ws()? != b'[' {
            return None;
        }
        sc.r.consume(1);
        loop {
            match sc.skip_ws()? {
                b']' => {
                    sc.r.consume(1);
                    break;
                }
                b',' => {
                    sc.r.consume(1);
                    continue;
                }
                _ => {}
            }
            buf.clear();
            sc.value(Some(&mut buf))?;
            let doc = if spans {
                Doc {
                    resource_spans: vec![serde_json::from_slice(&buf).ok()?],
                    resource_logs: Vec::new(),
                }
            } else {
                Doc {
                    resource_spans: Vec::new(),
                    resource_logs: vec![serde_json::from_slice(&buf).ok()?],
                }
            };
            let mut batch = convert(doc)?;
            shared.dedupe(&mut batch);
            out.extend(batch);
            elements += 1;
        }
    }
    // Nothing but whitespace may follow.
    if sc.skip_ws().is_some() || elements == 0 {
        return None;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::parse;
    use crate::model::Telemetry;
    use crate::read::otlp_json::{Sink, read_value};

    /// A pretty-printed canonical document streams through the fast path.
    #[test]
    fn reader_path_takes_pretty_documents() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../fixtures/conformance/semconv_travel_tools/trace.json");
        let file = std::io::BufReader::new(std::fs::File::open(path).unwrap());
        let t = super::parse_stream(file).unwrap();
        assert_eq!(t.spans.len(), 6);
        let doc = "{\"resourceSpans\": [\n{\"resource\":{\"attributes\":[]},\"scopeSpans\":[{\"scope\":{\"name\":\"b\"},\"spans\":[{\"traceId\":\"0af7651916cd43dd8448eb211c80319c\",\"spanId\":\"b7ad6b7169203331\",\"name\":\"x\",\"kind\":1,\"startTimeUnixNano\":\"1\",\"endTimeUnixNano\":\"2\",\"attributes\":[{\"key\":\"k\",\"value\":{\"intValue\":\"3\"}}],\"status\":{}}]}]}\n]}\n";
        assert_eq!(super::parse_stream(doc.as_bytes()).unwrap().spans.len(), 1);
        assert!(
            super::parse_stream(&b"{\"resourceSpans\": [], \"x\": {\"a\": \"]\\\"\"}}"[..])
                .is_none()
        );
        assert!(super::parse_stream(&b"{\"batches\": []}"[..]).is_none());
    }

    /// The fast path and the lenient reader agree on every OTLP/JSON file of the corpus.
    #[test]
    fn fast_path_equals_lenient_reader() {
        let corpus =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/conformance");
        let mut checked = 0;
        for entry in std::fs::read_dir(corpus).unwrap() {
            let dir = entry.unwrap().path();
            for name in ["trace.json", "trace.jsonl"] {
                let Ok(text) = std::fs::read_to_string(dir.join(name)) else {
                    continue;
                };
                let docs: Vec<&str> = if name.ends_with("jsonl") {
                    text.lines().collect()
                } else {
                    vec![text.as_str()]
                };
                for doc in docs {
                    let Some(fast) = parse(doc.as_bytes()) else {
                        continue;
                    };
                    let v: serde_json::Value = serde_json::from_str(doc).unwrap();
                    let mut issues = Vec::new();
                    let mut slow = Telemetry::default();
                    read_value(
                        &v,
                        &mut slow,
                        &mut Sink {
                            line: None,
                            issues: &mut issues,
                        },
                    );
                    assert_eq!(fast, slow, "{}", dir.display());
                    checked += 1;
                }
            }
        }
        assert!(checked >= 12, "{checked}");
    }
}
