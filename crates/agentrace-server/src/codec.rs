//! The binary form of spans in the store's chunks.
//!
//! A chunk holds the spans of one trace, session and origin (the resource and scope are stored
//! once, in `origins`). Writing each span as OTLP/JSON cost about a fifth of the server's
//! instructions per ingested span (the message attributes are JSON in strings, escaped again);
//! this encoding writes the model's fields as they are: lengths and integers as LEB128 varints,
//! strings and bytes raw, doubles as their 8 bytes. Readers turn a span back into the model, and
//! from there into the same OTLP/JSON the store wrote before.
//!
//! A chunk in this form starts with [`CHUNK_TAG`], a byte that no JSON text starts with, so
//! chunks of earlier versions (a JSON array) still read. Decoding never trusts the input: every
//! length is checked against what is left, nesting is bounded, and a damaged chunk is an error,
//! never a panic.

use std::sync::Arc;

use agentrace_loader::model::{
    AnyValue, Attributes, Key, KeyValue, Link, Resource, Scope, Span, SpanEvent, SpanId, SpanKind,
    Status, StatusCode, TraceId,
};

/// The first byte of a chunk of binary spans (version 1).
pub const CHUNK_TAG: u8 = 0x01;

/// Nesting deeper than this in a stored value means a damaged chunk (the readers of every ingest
/// format stop well before it).
const MAX_DEPTH: usize = 256;

/// Appends `span` (without its resource and scope) to `out`.
pub fn encode_span(span: &Span, out: &mut Vec<u8>) {
    out.extend_from_slice(&span.trace_id.0);
    out.extend_from_slice(&span.span_id.0);
    match span.parent_span_id {
        Some(parent) => {
            out.push(1);
            out.extend_from_slice(&parent.0);
        }
        None => out.push(0),
    }
    put_str(out, &span.name);
    // OTLP's numbers: 0 to 5.
    out.push(u8::try_from(span.kind.to_i64()).unwrap_or(0));
    put_varint(out, span.start_ns);
    put_varint(out, span.end_ns);
    put_attributes(out, &span.attributes);
    put_varint(out, span.events.len() as u64);
    for event in &span.events {
        put_varint(out, event.time_ns);
        put_str(out, &event.name);
        put_attributes(out, &event.attributes);
    }
    put_varint(out, span.links.len() as u64);
    for link in &span.links {
        out.extend_from_slice(&link.trace_id.0);
        out.extend_from_slice(&link.span_id.0);
        put_attributes(out, &link.attributes);
    }
    // OTLP's numbers: 0 to 2.
    out.push(u8::try_from(span.status.code.to_i32()).unwrap_or(0));
    put_str(out, &span.status.message);
}

/// Reads the spans of a chunk body (after [`CHUNK_TAG`]); each gets `resource` and `scope`.
pub fn decode_spans(
    mut bytes: &[u8],
    resource: &Arc<Resource>,
    scope: &Arc<Scope>,
) -> Result<Vec<Span>, String> {
    let mut spans = Vec::new();
    while !bytes.is_empty() {
        let mut reader = Reader { bytes };
        spans.push(reader.span(resource, scope)?);
        bytes = reader.bytes;
    }
    Ok(spans)
}

fn put_varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_bytes(out, s.as_bytes());
}

fn put_attributes(out: &mut Vec<u8>, attributes: &Attributes) {
    put_key_values(out, &attributes.0);
}

fn put_key_values(out: &mut Vec<u8>, kvs: &[KeyValue]) {
    put_varint(out, kvs.len() as u64);
    for kv in kvs {
        put_str(out, &kv.key);
        put_value(out, &kv.value);
    }
}

fn put_value(out: &mut Vec<u8>, value: &AnyValue) {
    match value {
        AnyValue::Empty => out.push(0),
        AnyValue::String(s) => {
            out.push(1);
            put_str(out, s);
        }
        AnyValue::Bool(b) => out.push(if *b { 3 } else { 2 }),
        AnyValue::Int(i) => {
            out.push(4);
            // Zigzag, so small negative numbers stay short.
            put_varint(out, ((*i << 1) ^ (*i >> 63)) as u64);
        }
        AnyValue::Double(d) => {
            out.push(5);
            out.extend_from_slice(&d.to_bits().to_le_bytes());
        }
        AnyValue::Bytes(b) => {
            out.push(6);
            put_bytes(out, b);
        }
        AnyValue::Array(items) => {
            out.push(7);
            put_varint(out, items.len() as u64);
            for item in items {
                put_value(out, item);
            }
        }
        AnyValue::KvList(kvs) => {
            out.push(8);
            put_key_values(out, kvs);
        }
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if n > self.bytes.len() {
            return Err(format!(
                "span chunk ends early: {n} bytes wanted, {} left",
                self.bytes.len()
            ));
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    fn byte(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn varint(&mut self) -> Result<u64, String> {
        let mut n = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            n |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(n);
            }
        }
        Err("span chunk holds a varint longer than 10 bytes".to_owned())
    }

    /// A count of items that take at least one byte each: never more than what is left.
    fn count(&mut self) -> Result<usize, String> {
        let n = self.varint()?;
        usize::try_from(n)
            .ok()
            .filter(|n| *n <= self.bytes.len())
            .ok_or_else(|| {
                format!(
                    "span chunk holds a count of {n} with {} bytes left",
                    self.bytes.len()
                )
            })
    }

    fn bytes_field(&mut self) -> Result<&'a [u8], String> {
        let n = self.count()?;
        self.take(n)
    }

    fn string(&mut self) -> Result<String, String> {
        self.str().map(str::to_owned)
    }

    fn str(&mut self) -> Result<&'a str, String> {
        let b = self.bytes_field()?;
        std::str::from_utf8(b)
            .map_err(|e| format!("span chunk holds a string that is not UTF-8: {e}"))
    }

    fn key_values(&mut self, depth: usize) -> Result<Vec<KeyValue>, String> {
        let n = self.count()?;
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let key = Key::new(self.str()?);
            let value = self.value(depth)?;
            out.push(KeyValue { key, value });
        }
        Ok(out)
    }

    fn attributes(&mut self) -> Result<Attributes, String> {
        self.key_values(0).map(Attributes)
    }

    fn value(&mut self, depth: usize) -> Result<AnyValue, String> {
        if depth > MAX_DEPTH {
            return Err(format!("span chunk nests values deeper than {MAX_DEPTH}"));
        }
        Ok(match self.byte()? {
            0 => AnyValue::Empty,
            1 => AnyValue::String(self.string()?),
            2 => AnyValue::Bool(false),
            3 => AnyValue::Bool(true),
            4 => {
                let z = self.varint()?;
                AnyValue::Int(((z >> 1) as i64) ^ -((z & 1) as i64))
            }
            5 => AnyValue::Double(f64::from_bits(u64::from_le_bytes(self.array()?))),
            6 => AnyValue::Bytes(self.bytes_field()?.to_vec()),
            7 => {
                let n = self.count()?;
                let mut items = Vec::with_capacity(n);
                for _ in 0..n {
                    items.push(self.value(depth + 1)?);
                }
                AnyValue::Array(items)
            }
            8 => AnyValue::KvList(self.key_values(depth + 1)?),
            tag => return Err(format!("span chunk holds a value of unknown type {tag}")),
        })
    }

    fn span(&mut self, resource: &Arc<Resource>, scope: &Arc<Scope>) -> Result<Span, String> {
        let trace_id = TraceId(self.array()?);
        let span_id = SpanId(self.array()?);
        let parent_span_id = match self.byte()? {
            0 => None,
            1 => Some(SpanId(self.array()?)),
            other => return Err(format!("span chunk holds a parent flag of {other}")),
        };
        let name = self.string()?;
        let kind = SpanKind::from_i64(i64::from(self.byte()?));
        let start_ns = self.varint()?;
        let end_ns = self.varint()?;
        let attributes = self.attributes()?;
        let n = self.count()?;
        let mut events = Vec::with_capacity(n);
        for _ in 0..n {
            let time_ns = self.varint()?;
            let name = self.string()?;
            let attributes = self.attributes()?;
            events.push(SpanEvent {
                time_ns,
                name,
                attributes,
            });
        }
        let n = self.count()?;
        let mut links = Vec::with_capacity(n);
        for _ in 0..n {
            let trace_id = TraceId(self.array()?);
            let span_id = SpanId(self.array()?);
            let attributes = self.attributes()?;
            links.push(Link {
                trace_id,
                span_id,
                attributes,
            });
        }
        let code = StatusCode::from_i64(i64::from(self.byte()?));
        let message = self.string()?;
        Ok(Span {
            trace_id,
            span_id,
            parent_span_id,
            name,
            kind,
            start_ns,
            end_ns,
            attributes,
            events,
            links,
            status: Status { code, message },
            resource: Arc::clone(resource),
            scope: Arc::clone(scope),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn value() -> impl Strategy<Value = AnyValue> {
        let leaf = prop_oneof![
            Just(AnyValue::Empty),
            ".{0,12}".prop_map(AnyValue::String),
            any::<bool>().prop_map(AnyValue::Bool),
            any::<i64>().prop_map(AnyValue::Int),
            any::<f64>().prop_map(AnyValue::Double),
            proptest::collection::vec(any::<u8>(), 0..6).prop_map(AnyValue::Bytes),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(AnyValue::Array),
                proptest::collection::vec((".{0,6}", inner), 0..4).prop_map(|kvs| {
                    AnyValue::KvList(kvs.into_iter().map(|(k, v)| KeyValue::new(k, v)).collect())
                }),
            ]
        })
    }

    fn attributes() -> impl Strategy<Value = Attributes> {
        proptest::collection::vec(("[a-z._]{0,16}", value()), 0..5)
            .prop_map(|kvs| Attributes(kvs.into_iter().map(|(k, v)| KeyValue::new(k, v)).collect()))
    }

    fn span() -> impl Strategy<Value = Span> {
        (
            (
                any::<[u8; 16]>(),
                any::<[u8; 8]>(),
                any::<Option<[u8; 8]>>(),
            ),
            (".{0,20}", 0i64..6, any::<u64>(), any::<u64>()),
            attributes(),
            proptest::collection::vec((any::<u64>(), ".{0,8}", attributes()), 0..3),
            proptest::collection::vec((any::<[u8; 16]>(), any::<[u8; 8]>(), attributes()), 0..2),
            (0i64..3, ".{0,10}"),
        )
            .prop_map(
                |(
                    (t, s, p),
                    (name, kind, start, end),
                    attributes,
                    events,
                    links,
                    (code, message),
                )| Span {
                    trace_id: TraceId(t),
                    span_id: SpanId(s),
                    parent_span_id: p.map(SpanId),
                    name,
                    kind: SpanKind::from_i64(kind),
                    start_ns: start,
                    end_ns: end,
                    attributes,
                    events: events
                        .into_iter()
                        .map(|(time_ns, name, attributes)| SpanEvent {
                            time_ns,
                            name,
                            attributes,
                        })
                        .collect(),
                    links: links
                        .into_iter()
                        .map(|(t, s, attributes)| Link {
                            trace_id: TraceId(t),
                            span_id: SpanId(s),
                            attributes,
                        })
                        .collect(),
                    status: Status {
                        code: StatusCode::from_i64(code),
                        message,
                    },
                    ..Span::default()
                },
            )
    }

    /// Doubles compare by their bits (NaN included), everything else by value.
    fn same(a: &[Span], b: &[Span]) -> bool {
        format!("{a:?}") == format!("{b:?}")
    }

    proptest! {
        #[test]
        fn spans_read_back_as_written(spans in proptest::collection::vec(span(), 0..4)) {
            let mut bytes = Vec::new();
            for s in &spans {
                encode_span(s, &mut bytes);
            }
            let back = decode_spans(&bytes, &Arc::default(), &Arc::default()).expect("decodes");
            prop_assert!(same(&spans, &back), "{spans:?} != {back:?}");
        }

        #[test]
        fn damaged_chunks_are_errors_not_panics(
            spans in proptest::collection::vec(span(), 1..3),
            cut in any::<prop::sample::Index>(),
            flip in any::<prop::sample::Index>(),
            mask in 1u8..,
        ) {
            let mut bytes = Vec::new();
            let mut ends = Vec::new();
            for s in &spans {
                encode_span(s, &mut bytes);
                ends.push(bytes.len());
            }
            // Cut short: an error, unless the cut falls between two spans (the store checks the
            // chunk's span count for that).
            let at = cut.index(bytes.len());
            let read = decode_spans(&bytes[..at], &Arc::default(), &Arc::default());
            match ends.iter().position(|&end| end == at) {
                Some(i) => prop_assert!(same(&spans[..=i], &read.expect("whole spans"))),
                None if at == 0 => prop_assert!(read.expect("nothing").is_empty()),
                None => prop_assert!(read.is_err(), "a cut inside a span reads"),
            }
            // One byte changed: an error or some spans, never a panic.
            let i = flip.index(bytes.len());
            bytes[i] ^= mask;
            let _ = decode_spans(&bytes, &Arc::default(), &Arc::default());
        }
    }

    #[test]
    fn a_huge_count_is_refused_before_allocating() {
        let mut bytes = Vec::new();
        encode_span(&Span::default(), &mut bytes);
        // The attribute count sits after ids (24), parent flag, name, kind, start and end.
        let at = 16 + 8 + 1 + 1 + 1 + 1 + 1;
        let mut damaged = bytes[..at].to_vec();
        put_varint(&mut damaged, u64::MAX);
        let err = decode_spans(&damaged, &Arc::default(), &Arc::default()).expect_err("refused");
        assert!(err.contains("count"), "{err}");
    }

    #[test]
    fn deep_nesting_is_refused() {
        let mut value = AnyValue::Int(1);
        for _ in 0..(MAX_DEPTH + 2) {
            value = AnyValue::Array(vec![value]);
        }
        let mut span = Span::default();
        span.attributes.push("deep", value);
        let mut bytes = Vec::new();
        encode_span(&span, &mut bytes);
        let err = decode_spans(&bytes, &Arc::default(), &Arc::default()).expect_err("refused");
        assert!(err.contains("deeper"), "{err}");
    }
}
