//! OTLP/protobuf trace requests decoded straight from the wire into the model.
//!
//! [`decode_trace_request`] gives exactly what `ExportTraceServiceRequest::decode` followed by
//! [`super::proto::from_trace_request`] gives, and refuses exactly the bytes prost refuses: the
//! same wire rules (keys, wire types, varints, lengths, UTF-8 of every string field, prost's
//! recursion limit, groups), and the same merging of repeated occurrences (a repeated field
//! appends, an optional message field merges, a scalar field keeps the last value). It skips
//! prost's intermediate messages: ids are read into fixed arrays, attributes go straight into the
//! model's values, and fields the model does not keep are validated and skipped. The property
//! tests compare the two on random requests and on random damage to them.

use std::sync::Arc;

use crate::model::{
    AnyValue, Attributes, Key, KeyValue, Link, Resource, Scope, Span, SpanEvent, SpanKind, Status,
    StatusCode,
};

use super::proto::{self, ConvertError, span_ids};

/// Why a protobuf body could not be decoded; the whole request is refused, as prost refuses it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason} at byte {offset}")]
pub struct WireError {
    /// What was wrong.
    pub reason: &'static str,
    /// Where, from the start of the body.
    pub offset: usize,
}

/// prost's recursion limit: a message nested deeper than this is refused.
const RECURSION_LIMIT: usize = 100;
/// The conversion's depth limit for nested values (deeper values become empty).
const MAX_VALUE_DEPTH: usize = super::proto::MAX_DEPTH;

const VARINT: u8 = 0;
const FIXED64: u8 = 1;
const LEN: u8 = 2;
const START_GROUP: u8 = 3;
const END_GROUP: u8 = 4;
const FIXED32: u8 = 5;

/// A cursor over one message's bytes; `base` is its offset in the whole body (for errors).
#[derive(Clone, Copy)]
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    base: usize,
}

type Result<T> = std::result::Result<T, WireError>;

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8], base: usize) -> Self {
        Self { buf, pos: 0, base }
    }

    fn error(&self, reason: &'static str) -> WireError {
        WireError {
            reason,
            offset: self.base + self.pos,
        }
    }

    fn at_end(&self) -> bool {
        self.pos >= self.buf.len()
    }

    fn varint(&mut self) -> Result<u64> {
        // Keys and short lengths: one byte.
        if let Some(&b) = self.buf.get(self.pos)
            && b < 0x80
        {
            self.pos += 1;
            return Ok(u64::from(b));
        }
        let mut value = 0u64;
        for i in 0..10 {
            let Some(&b) = self.buf.get(self.pos) else {
                return Err(self.error("invalid varint"));
            };
            self.pos += 1;
            if i == 9 && b > 1 {
                return Err(self.error("invalid varint"));
            }
            value |= u64::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                return Ok(value);
            }
        }
        Err(self.error("invalid varint"))
    }

    /// A field key: `(tag, wire type)`.
    fn key(&mut self) -> Result<(u32, u8)> {
        let key = self.varint()?;
        let Ok(key) = u32::try_from(key) else {
            return Err(self.error("invalid key value"));
        };
        let wire = (key & 7) as u8;
        if wire > FIXED32 {
            return Err(self.error("invalid wire type"));
        }
        if key >> 3 == 0 {
            return Err(self.error("invalid tag value: 0"));
        }
        Ok((key >> 3, wire))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.buf.len() - self.pos {
            return Err(self.error("buffer underflow"));
        }
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    fn fixed64(&mut self) -> Result<u64> {
        let b = self.take(8)?;
        Ok(u64::from_le_bytes(b.try_into().unwrap_or([0; 8])))
    }

    /// A length-delimited field's bytes.
    fn bytes(&mut self) -> Result<&'a [u8]> {
        let len = self.varint()?;
        let len = usize::try_from(len).map_err(|_| self.error("buffer underflow"))?;
        self.take(len)
    }

    /// A nested message: a reader over its bytes.
    fn message(&mut self) -> Result<Reader<'a>> {
        let len = self.varint()?;
        let len = usize::try_from(len).map_err(|_| self.error("buffer underflow"))?;
        let base = self.base + self.pos;
        Ok(Reader::new(self.take(len)?, base))
    }

    fn string(&mut self) -> Result<&'a str> {
        let at = self.base + self.pos;
        let b = self.bytes()?;
        std::str::from_utf8(b).map_err(|_| WireError {
            reason: "invalid string value: data is not UTF-8 encoded",
            offset: at,
        })
    }

    /// Skips a field the model does not keep, as prost's `skip_field` does (`level` is the
    /// nesting level of the message it is in).
    fn skip(&mut self, tag: u32, wire: u8, level: usize) -> Result<()> {
        if level >= RECURSION_LIMIT {
            return Err(self.error("recursion limit reached"));
        }
        match wire {
            VARINT => {
                self.varint()?;
            }
            FIXED64 => {
                self.take(8)?;
            }
            FIXED32 => {
                self.take(4)?;
            }
            LEN => {
                self.bytes()?;
            }
            START_GROUP => loop {
                let (inner, inner_wire) = self.key()?;
                if inner_wire == END_GROUP {
                    if inner != tag {
                        return Err(self.error("unexpected end group tag"));
                    }
                    break;
                }
                self.skip(inner, inner_wire, level + 1)?;
            },
            _ => return Err(self.error("unexpected end group tag")),
        }
        Ok(())
    }

    fn expect(&self, wire: u8, expected: u8) -> Result<()> {
        if wire == expected {
            Ok(())
        } else {
            Err(self.error("invalid wire type for the field"))
        }
    }

    /// An attribute key (a known one is not copied).
    fn attribute_key(&mut self, wire: u8) -> Result<Key> {
        self.expect(wire, LEN)?;
        self.string().map(Key::new)
    }

    /// A string field, kept.
    fn owned_string(&mut self, wire: u8) -> Result<String> {
        self.expect(wire, LEN)?;
        self.string().map(str::to_owned)
    }

    /// A string field the model does not keep: checked, not kept.
    fn checked_string(&mut self, wire: u8) -> Result<()> {
        self.expect(wire, LEN)?;
        self.string().map(drop)
    }

    /// A varint field.
    fn varint_field(&mut self, wire: u8) -> Result<u64> {
        self.expect(wire, VARINT)?;
        self.varint()
    }

    /// A fixed64 field.
    fn fixed64_field(&mut self, wire: u8) -> Result<u64> {
        self.expect(wire, FIXED64)?;
        self.fixed64()
    }

    /// A `KeyValue` field at nesting `level`, appended to `attributes`.
    fn attribute(&mut self, wire: u8, level: usize, attributes: &mut Attributes) -> Result<()> {
        let kv = self.nested(wire, level)?;
        attributes.0.push(key_value(kv, level)?);
        Ok(())
    }

    /// The fields of this message, in order: calls `field(reader, tag, wire)` for each; the
    /// callback reads or skips the value.
    fn fields(mut self, mut field: impl FnMut(&mut Self, u32, u8) -> Result<()>) -> Result<()> {
        while !self.at_end() {
            let (tag, wire) = self.key()?;
            field(&mut self, tag, wire)?;
        }
        Ok(())
    }

    /// A nested message field's reader, after checking the wire type and prost's recursion limit
    /// (`level` is the nested message's level).
    fn nested(&mut self, wire: u8, level: usize) -> Result<Reader<'a>> {
        self.expect(wire, LEN)?;
        if level > RECURSION_LIMIT {
            return Err(self.error("recursion limit reached"));
        }
        self.message()
    }
}

/// Decodes an `ExportTraceServiceRequest` (or `TracesData`, the same bytes) into spans; spans
/// with malformed ids are skipped and returned as errors, as [`super::proto::from_trace_request`]
/// returns them.
pub fn decode_trace_request(body: &[u8]) -> Result<(Vec<Span>, Vec<ConvertError>)> {
    decode_traces(body).map(|out| (out.spans, out.errors))
}

/// [`decode_trace_request`], also counting the resource spans (a logs request reads as resource
/// spans without spans; the file reader tells the two apart by that).
pub(crate) fn decode_traces(body: &[u8]) -> Result<Decoded> {
    let mut out = Decoded::default();
    Reader::new(body, 0).fields(|r, tag, wire| {
        if tag == 1 {
            let rs = r.nested(wire, 1)?;
            resource_spans(rs, out.resource_spans, &mut out)?;
            out.resource_spans += 1;
            Ok(())
        } else {
            r.skip(tag, wire, 0)
        }
    })?;
    Ok(out)
}

/// A decoded request.
#[derive(Default)]
pub(crate) struct Decoded {
    pub(crate) spans: Vec<Span>,
    pub(crate) errors: Vec<ConvertError>,
    pub(crate) resource_spans: usize,
}

/// `ResourceSpans` (level 1): the resource first (it may come after the spans on the wire, and
/// several occurrences merge), then the scope spans.
fn resource_spans(r: Reader<'_>, i: usize, out: &mut Decoded) -> Result<()> {
    let mut res = Resource::default();
    header(r, 1, |h| resource(h, &mut res))?;
    let res = Arc::new(res);
    children(r, 1, |c, j| scope_spans(c, i, j, &res, out))
}

/// The header (field 1) of a container message at nesting `level`, `ResourceSpans` or
/// `ScopeSpans`: each occurrence is read by `read`, wherever it is on the wire; the rest is skipped.
fn header(
    r: Reader<'_>,
    level: usize,
    mut read: impl FnMut(Reader<'_>) -> Result<()>,
) -> Result<()> {
    r.fields(|r, tag, wire| match tag {
        1 => read(r.nested(wire, level + 1)?),
        _ => r.skip(tag, wire, level),
    })
}

/// The children (field 2) of a container message at nesting `level`, each read by `read` with its
/// index; the schema URL (field 3) is checked, the header skipped (see [`header`]).
fn children(
    r: Reader<'_>,
    level: usize,
    mut read: impl FnMut(Reader<'_>, usize) -> Result<()>,
) -> Result<()> {
    let mut index = 0usize;
    r.fields(|r, tag, wire| match tag {
        1 => r.skip(tag, wire, level),
        2 => {
            let child = r.nested(wire, level + 1)?;
            index += 1;
            read(child, index - 1)
        }
        3 => r.checked_string(wire),
        _ => r.skip(tag, wire, level),
    })
}

/// `Resource` (level 2), merged into `res`.
fn resource(r: Reader<'_>, res: &mut Resource) -> Result<()> {
    r.fields(|r, tag, wire| match tag {
        1 => r.attribute(wire, 3, &mut res.attributes),
        2 => r.varint_field(wire).map(drop),
        3 => entity_ref(r.nested(wire, 3)?),
        _ => r.skip(tag, wire, 2),
    })
}

/// `EntityRef` (level 3): validated, not kept.
fn entity_ref(r: Reader<'_>) -> Result<()> {
    r.fields(|r, tag, wire| match tag {
        1..=4 => r.checked_string(wire),
        _ => r.skip(tag, wire, 3),
    })
}

/// `ScopeSpans` (level 2): the scope first, then the spans.
fn scope_spans(
    r: Reader<'_>,
    i: usize,
    j: usize,
    res: &Arc<Resource>,
    out: &mut Decoded,
) -> Result<()> {
    let mut sc = Scope::default();
    header(r, 2, |h| scope(h, &mut sc))?;
    let sc = Arc::new(sc);
    children(r, 2, |s, k| span(s, (i, j, k), res, &sc, out))
}

/// `InstrumentationScope` (level 3), merged into `sc`.
fn scope(r: Reader<'_>, sc: &mut Scope) -> Result<()> {
    r.fields(|r, tag, wire| {
        match tag {
            1 => sc.name = r.owned_string(wire)?,
            2 => sc.version = r.owned_string(wire)?,
            3 => r.attribute(wire, 4, &mut sc.attributes)?,
            4 => drop(r.varint_field(wire)?),
            _ => r.skip(tag, wire, 3)?,
        }
        Ok(())
    })
}

/// The id fields of a span as they were on the wire (the last occurrence of each).
#[derive(Default)]
struct Ids<'a> {
    trace: &'a [u8],
    span: &'a [u8],
    parent: &'a [u8],
}

/// `Span` (level 3).
fn span(
    r: Reader<'_>,
    (i, j, k): (usize, usize, usize),
    res: &Arc<Resource>,
    sc: &Arc<Scope>,
    out: &mut Decoded,
) -> Result<()> {
    let mut ids = Ids::default();
    let mut s = Span {
        resource: Arc::clone(res),
        scope: Arc::clone(sc),
        ..Span::default()
    };
    let mut kind = 0i32;
    let mut status: Option<(i32, String)> = None;
    r.fields(|r, tag, wire| {
        match tag {
            1 | 2 | 4 => {
                r.expect(wire, LEN)?;
                let b = r.bytes()?;
                match tag {
                    1 => ids.trace = b,
                    2 => ids.span = b,
                    _ => ids.parent = b,
                }
            }
            3 => r.checked_string(wire)?,
            5 => s.name = r.owned_string(wire)?,
            6 => kind = r.varint_field(wire)? as i32,
            7 | 8 => {
                let v = r.fixed64_field(wire)?;
                if tag == 7 {
                    s.start_ns = v;
                } else {
                    s.end_ns = v;
                }
            }
            9 => r.attribute(wire, 4, &mut s.attributes)?,
            10 | 12 | 14 => {
                r.varint_field(wire)?;
            }
            11 => {
                let e = r.nested(wire, 4)?;
                s.events.push(event(e)?);
            }
            13 => {
                let l = r.nested(wire, 4)?;
                if let Some(link) = link(l)? {
                    s.links.push(link);
                }
            }
            15 => {
                let st = r.nested(wire, 4)?;
                let (code, message) = status.get_or_insert_with(Default::default);
                st.fields(|r, tag, wire| {
                    match tag {
                        2 => *message = r.owned_string(wire)?,
                        3 => *code = r.varint_field(wire)? as i32,
                        _ => r.skip(tag, wire, 4)?,
                    }
                    Ok(())
                })?;
            }
            16 => {
                r.expect(wire, FIXED32)?;
                r.take(4)?;
            }
            _ => r.skip(tag, wire, 3)?,
        }
        Ok(())
    })?;
    s.kind = SpanKind::from_i64(i64::from(kind));
    if let Some((code, message)) = status {
        s.status = Status {
            code: StatusCode::from_i64(i64::from(code)),
            message,
        };
    }
    let what = || format!("resource_spans[{i}].scope_spans[{j}].spans[{k}]");
    let (trace_id, span_id, parent_span_id) = match span_ids(ids.trace, ids.span, ids.parent, what)
    {
        Ok(ids) => ids,
        Err(e) => {
            out.errors.push(e);
            return Ok(());
        }
    };
    s.trace_id = trace_id;
    s.span_id = span_id;
    s.parent_span_id = parent_span_id;
    out.spans.push(s);
    Ok(())
}

/// `Span.Event` (level 4).
fn event(r: Reader<'_>) -> Result<SpanEvent> {
    let mut e = SpanEvent::default();
    r.fields(|r, tag, wire| {
        match tag {
            1 => e.time_ns = r.fixed64_field(wire)?,
            2 => e.name = r.owned_string(wire)?,
            3 => r.attribute(wire, 5, &mut e.attributes)?,
            4 => drop(r.varint_field(wire)?),
            _ => r.skip(tag, wire, 4)?,
        }
        Ok(())
    })?;
    Ok(e)
}

/// `Span.Link` (level 4); a link with malformed ids is dropped, as the conversion drops it.
fn link(r: Reader<'_>) -> Result<Option<Link>> {
    let (mut trace, mut span): (&[u8], &[u8]) = (&[], &[]);
    let mut attributes = Attributes::default();
    r.fields(|r, tag, wire| match tag {
        1 | 2 => {
            r.expect(wire, LEN)?;
            let b = r.bytes()?;
            if tag == 1 {
                trace = b;
            } else {
                span = b;
            }
            Ok(())
        }
        3 => r.checked_string(wire),
        4 => r.attribute(wire, 5, &mut attributes),
        5 => r.varint_field(wire).map(drop),
        6 => {
            r.expect(wire, FIXED32)?;
            r.take(4).map(drop)
        }
        _ => r.skip(tag, wire, 4),
    })?;
    Ok(proto::link(trace, span, attributes))
}

/// `KeyValue` at nesting `level`, its value at conversion depth 0.
fn key_value(r: Reader<'_>, level: usize) -> Result<KeyValue> {
    key_value_at(r, level, 0)
}

/// `KeyValue` at nesting `level`, with its value at conversion depth `depth`.
fn key_value_at(r: Reader<'_>, level: usize, depth: usize) -> Result<KeyValue> {
    let mut key = Key::new("");
    let mut value = AnyValue::Empty;
    r.fields(|r, tag, wire| {
        match tag {
            1 => key = r.attribute_key(wire)?,
            2 => any_value(r.nested(wire, level + 1)?, level + 1, depth, &mut value)?,
            3 => drop(r.varint_field(wire)?),
            _ => r.skip(tag, wire, level)?,
        }
        Ok(())
    })?;
    Ok(KeyValue { key, value })
}

/// `AnyValue` at nesting `level` and conversion depth `depth`, merged into `value` (a message
/// field occurring twice merges; the oneof keeps its last variant, and a repeated array or map
/// variant appends). Past the conversion's depth limit the value is validated and left empty.
fn any_value(r: Reader<'_>, level: usize, depth: usize, value: &mut AnyValue) -> Result<()> {
    if depth > MAX_VALUE_DEPTH {
        let mut scratch = AnyValue::Empty;
        any_value(r, level, 0, &mut scratch)?;
        *value = AnyValue::Empty;
        return Ok(());
    }
    r.fields(|r, tag, wire| {
        match tag {
            1 => *value = AnyValue::String(r.owned_string(wire)?),
            2 => *value = AnyValue::Bool(r.varint_field(wire)? != 0),
            3 => *value = AnyValue::Int(r.varint_field(wire)? as i64),
            4 => *value = AnyValue::Double(f64::from_bits(r.fixed64_field(wire)?)),
            5 => {
                let a = r.nested(wire, level + 1)?;
                // An array occurring again appends to the array before it.
                let mut items = match std::mem::take(value) {
                    AnyValue::Array(items) => items,
                    _ => Vec::new(),
                };
                a.fields(|r, tag, wire| match tag {
                    1 => {
                        let v = r.nested(wire, level + 2)?;
                        let mut item = AnyValue::Empty;
                        any_value(v, level + 2, depth + 1, &mut item)?;
                        items.push(item);
                        Ok(())
                    }
                    _ => r.skip(tag, wire, level + 1),
                })?;
                *value = AnyValue::Array(items);
            }
            6 => {
                let m = r.nested(wire, level + 1)?;
                let mut items = match std::mem::take(value) {
                    AnyValue::KvList(items) => items,
                    _ => Vec::new(),
                };
                m.fields(|r, tag, wire| match tag {
                    1 => {
                        let kv = r.nested(wire, level + 2)?;
                        items.push(key_value_at(kv, level + 2, depth + 1)?);
                        Ok(())
                    }
                    _ => r.skip(tag, wire, level + 1),
                })?;
                *value = AnyValue::KvList(items);
            }
            7 => {
                r.expect(wire, LEN)?;
                *value = AnyValue::Bytes(r.bytes()?.to_vec());
            }
            8 => *value = AnyValue::Int(i64::from(r.varint_field(wire)? as i32)),
            _ => r.skip(tag, wire, level)?,
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::tests_support::*;
    use super::*;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1 as pc;
    use opentelemetry_proto::tonic::common::v1::any_value::Value as PValue;
    use opentelemetry_proto::tonic::resource::v1::Resource as PResource;
    use opentelemetry_proto::tonic::trace::v1 as pt;
    use proptest::prelude::*;
    use prost::Message as _;

    fn text() -> impl Strategy<Value = String> {
        prop_oneof![Just(String::new()), "[a-z.]{1,12}", "\\PC{0,6}",]
    }

    fn id() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            Just(Vec::new()),
            Just(vec![0u8; 8]),
            Just(vec![0u8; 16]),
            proptest::collection::vec(any::<u8>(), 8),
            proptest::collection::vec(any::<u8>(), 16),
            proptest::collection::vec(any::<u8>(), 0..20),
        ]
    }

    fn value() -> impl Strategy<Value = pc::AnyValue> {
        let leaf = prop_oneof![
            Just(None),
            text().prop_map(|s| Some(PValue::StringValue(s))),
            any::<bool>().prop_map(|b| Some(PValue::BoolValue(b))),
            any::<i64>().prop_map(|i| Some(PValue::IntValue(i))),
            any::<f64>().prop_map(|d| Some(PValue::DoubleValue(d))),
            proptest::collection::vec(any::<u8>(), 0..6).prop_map(|b| Some(PValue::BytesValue(b))),
            any::<i32>().prop_map(|i| Some(PValue::StringValueStrindex(i))),
        ]
        .prop_map(|value| pc::AnyValue { value });
        leaf.prop_recursive(3, 16, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(|values| pc::AnyValue {
                    value: Some(PValue::ArrayValue(pc::ArrayValue { values })),
                }),
                proptest::collection::vec((text(), proptest::option::of(inner)), 0..4).prop_map(
                    |kvs| pc::AnyValue {
                        value: Some(PValue::KvlistValue(pc::KeyValueList {
                            values: kvs
                                .into_iter()
                                .map(|(key, value)| pc::KeyValue {
                                    key,
                                    value,
                                    key_strindex: 0,
                                })
                                .collect(),
                        })),
                    }
                ),
            ]
        })
    }

    fn key_value() -> impl Strategy<Value = pc::KeyValue> {
        (text(), proptest::option::of(value()), 0..3i32).prop_map(|(key, value, key_strindex)| {
            pc::KeyValue {
                key,
                value,
                key_strindex,
            }
        })
    }

    fn attributes() -> impl Strategy<Value = Vec<pc::KeyValue>> {
        proptest::collection::vec(key_value(), 0..4)
    }

    fn span() -> impl Strategy<Value = pt::Span> {
        let ids = (id(), id(), id(), text());
        let times = (any::<u64>(), any::<u64>(), -1..7i32, any::<u32>());
        let events = proptest::collection::vec(
            (any::<u64>(), text(), attributes(), 0..3u32).prop_map(|(t, name, attributes, d)| {
                pt::span::Event {
                    time_unix_nano: t,
                    name,
                    attributes,
                    dropped_attributes_count: d,
                }
            }),
            0..3,
        );
        let links = proptest::collection::vec(
            (id(), id(), text(), attributes(), any::<u32>()).prop_map(
                |(trace_id, span_id, trace_state, attributes, flags)| pt::span::Link {
                    trace_id,
                    span_id,
                    trace_state,
                    attributes,
                    dropped_attributes_count: 0,
                    flags,
                },
            ),
            0..2,
        );
        let status = proptest::option::of(
            (text(), -1..4i32).prop_map(|(message, code)| pt::Status { message, code }),
        );
        (ids, times, text(), attributes(), events, links, status).prop_map(
            |(
                (trace_id, span_id, parent_span_id, trace_state),
                (start, end, kind, flags),
                name,
                attributes,
                events,
                links,
                status,
            )| {
                pt::Span {
                    trace_id,
                    span_id,
                    trace_state,
                    parent_span_id,
                    flags,
                    name,
                    kind,
                    start_time_unix_nano: start,
                    end_time_unix_nano: end,
                    attributes,
                    dropped_attributes_count: 0,
                    events,
                    dropped_events_count: 1,
                    links,
                    dropped_links_count: 0,
                    status,
                }
            },
        )
    }

    fn resource() -> impl Strategy<Value = PResource> {
        let entity = (text(), text(), proptest::collection::vec(text(), 0..2)).prop_map(
            |(schema_url, r#type, id_keys)| pc::EntityRef {
                schema_url,
                r#type,
                id_keys,
                description_keys: Vec::new(),
            },
        );
        (attributes(), proptest::collection::vec(entity, 0..2)).prop_map(
            |(attributes, entity_refs)| PResource {
                attributes,
                dropped_attributes_count: 0,
                entity_refs,
            },
        )
    }

    fn scope() -> impl Strategy<Value = pc::InstrumentationScope> {
        (text(), text(), attributes()).prop_map(|(name, version, attributes)| {
            pc::InstrumentationScope {
                name,
                version,
                attributes,
                dropped_attributes_count: 0,
            }
        })
    }

    fn request() -> impl Strategy<Value = ExportTraceServiceRequest> {
        let scope_spans = (
            proptest::option::of(scope()),
            proptest::collection::vec(span(), 0..4),
            text(),
        )
            .prop_map(|(scope, spans, schema_url)| pt::ScopeSpans {
                scope,
                spans,
                schema_url,
            });
        let resource_spans = (
            proptest::option::of(resource()),
            proptest::collection::vec(scope_spans, 0..3),
            text(),
        )
            .prop_map(|(resource, scope_spans, schema_url)| pt::ResourceSpans {
                resource,
                scope_spans,
                schema_url,
            });
        proptest::collection::vec(resource_spans, 0..3)
            .prop_map(|resource_spans| ExportTraceServiceRequest { resource_spans })
    }

    /// The request written field by field, with the fields of every resource spans and scope
    /// spans in reverse order (their resource and scope last) and every message given as one
    /// or two encodings back to back (which a decoder must merge).
    fn reordered_and_merged(parts: &[(pt::ResourceSpans, pt::ResourceSpans)]) -> Vec<u8> {
        let mut body = Vec::new();
        for (a, b) in parts {
            let mut rs = Vec::new();
            for ss in a.scope_spans.iter().rev() {
                let mut inner = Vec::new();
                for (n, s) in ss.spans.iter().enumerate() {
                    // A span given twice: the second's scalars win, its lists append.
                    let mut both = s.encode_to_vec();
                    if n % 2 == 1 {
                        both.extend(
                            b.scope_spans
                                .first()
                                .and_then(|x| x.spans.first())
                                .map_or_else(Vec::new, |x| x.encode_to_vec()),
                        );
                    }
                    field(&mut inner, 2, &both);
                }
                if let Some(scope) = &ss.scope {
                    let mut twice = scope.encode_to_vec();
                    twice.extend(
                        b.scope_spans
                            .first()
                            .and_then(|x| x.scope.as_ref())
                            .map_or_else(Vec::new, |x| x.encode_to_vec()),
                    );
                    field(&mut inner, 1, &twice);
                }
                field(&mut rs, 2, &inner);
            }
            if let Some(resource) = &a.resource {
                field(&mut rs, 1, &resource.encode_to_vec());
            }
            if let Some(resource) = &b.resource {
                field(&mut rs, 1, &resource.encode_to_vec());
            }
            field(&mut body, 1, &rs);
        }
        body
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: crate::read::fuzz_cases(512), ..ProptestConfig::default() })]

        #[test]
        fn decodes_as_prost_and_the_conversion_do(request in request()) {
            let body = request.encode_to_vec();
            let expected = reference(&body);
            prop_assert!(expected.is_some(), "prost decodes what it encoded");
            prop_assert_eq!(ours(&body), expected);
        }

        #[test]
        fn merges_and_reorders_as_prost_does(
            parts in proptest::collection::vec((request(), request()), 1..3)
        ) {
            let parts: Vec<_> = parts
                .into_iter()
                .flat_map(|(a, b)| {
                    a.resource_spans.into_iter().zip(b.resource_spans.into_iter().chain(std::iter::repeat_with(Default::default)))
                })
                .collect();
            let body = reordered_and_merged(&parts);
            prop_assert_eq!(ours(&body), reference(&body));
        }

        #[test]
        fn damaged_bodies_are_refused_or_read_as_prost_reads_them(
            request in request(),
            edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0..4u8), 1..4),
        ) {
            let mut body = request.encode_to_vec();
            for (at, byte, how) in edits {
                if body.is_empty() {
                    body.push(byte);
                    continue;
                }
                let i = at.index(body.len());
                match how {
                    0 => body[i] = byte,
                    1 => body[i] ^= 1 << (byte % 8),
                    2 => body.insert(i, byte),
                    _ => body.truncate(i),
                }
            }
            prop_assert_eq!(ours(&body), reference(&body));
        }

        #[test]
        fn random_bytes_are_refused_or_read_as_prost_reads_them(
            body in proptest::collection::vec(any::<u8>(), 0..64)
        ) {
            prop_assert_eq!(ours(&body), reference(&body));
        }
    }

    /// A value nested `n` arrays deep, as an attribute of one span.
    fn nested_request(n: usize) -> Vec<u8> {
        let mut v = pc::AnyValue {
            value: Some(PValue::IntValue(1)),
        };
        for _ in 0..n {
            v = pc::AnyValue {
                value: Some(PValue::ArrayValue(pc::ArrayValue { values: vec![v] })),
            };
        }
        ExportTraceServiceRequest {
            resource_spans: vec![pt::ResourceSpans {
                scope_spans: vec![pt::ScopeSpans {
                    spans: vec![pt::Span {
                        trace_id: vec![1; 16],
                        span_id: vec![2; 8],
                        attributes: vec![pc::KeyValue {
                            key: "deep".into(),
                            value: Some(v),
                            key_strindex: 0,
                        }],
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
        .encode_to_vec()
    }

    #[test]
    fn the_recursion_limit_is_prosts() {
        // prost refuses somewhere in this range; the decoder refuses exactly where prost does.
        let mut refused = 0;
        for n in 40..60 {
            let body = nested_request(n);
            assert_eq!(ours(&body), reference(&body), "nesting {n}");
            refused += usize::from(reference(&body).is_none());
        }
        assert!(
            refused > 0 && refused < 20,
            "the limit lies inside the range tested"
        );
    }

    #[test]
    fn errors_say_what_and_where() {
        let body = [0x0a, 0x05, 0x01];
        let err = decode_trace_request(&body).expect_err("a length past the end");
        assert_eq!(err.reason, "buffer underflow");
        assert_eq!(err.offset, 2);
        let err = decode_trace_request(&[0x00]).expect_err("tag 0");
        assert_eq!(err.to_string(), "invalid tag value: 0 at byte 1");
    }
}

#[cfg(test)]
mod rules {
    //! The wire rules the random tests reach rarely, each checked against prost directly.
    use super::tests_support::*;
    use super::*;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1 as pc;
    use opentelemetry_proto::tonic::common::v1::any_value::Value as PValue;
    use opentelemetry_proto::tonic::resource::v1::Resource as PResource;
    use opentelemetry_proto::tonic::trace::v1 as pt;
    use prost::Message as _;

    fn kv(key: &str, value: &str) -> pc::KeyValue {
        pc::KeyValue {
            key: key.into(),
            value: Some(pc::AnyValue {
                value: Some(PValue::StringValue(value.into())),
            }),
            key_strindex: 0,
        }
    }

    /// A request with a distinct four-byte marker in every string field of the schema.
    fn marked() -> ExportTraceServiceRequest {
        let n = std::cell::Cell::new(0);
        let m = || {
            n.set(n.get() + 1);
            format!("@{:03}", n.get())
        };
        let attrs = || vec![kv(&m(), &m())];
        let span = pt::Span {
            trace_id: vec![1; 16],
            span_id: vec![2; 8],
            trace_state: m(),
            name: m(),
            attributes: attrs(),
            events: vec![pt::span::Event {
                name: m(),
                attributes: attrs(),
                ..Default::default()
            }],
            links: vec![pt::span::Link {
                trace_id: vec![3; 16],
                span_id: vec![4; 8],
                trace_state: m(),
                attributes: attrs(),
                ..Default::default()
            }],
            status: Some(pt::Status {
                message: m(),
                code: 2,
            }),
            ..Default::default()
        };
        ExportTraceServiceRequest {
            resource_spans: vec![pt::ResourceSpans {
                resource: Some(PResource {
                    attributes: attrs(),
                    dropped_attributes_count: 0,
                    entity_refs: vec![pc::EntityRef {
                        schema_url: m(),
                        r#type: m(),
                        id_keys: vec![m()],
                        description_keys: vec![m()],
                    }],
                }),
                scope_spans: vec![pt::ScopeSpans {
                    scope: Some(pc::InstrumentationScope {
                        name: m(),
                        version: m(),
                        attributes: attrs(),
                        dropped_attributes_count: 0,
                    }),
                    spans: vec![span],
                    schema_url: m(),
                }],
                schema_url: m(),
            }],
        }
    }

    #[test]
    fn every_string_field_must_be_utf8() {
        let body = marked().encode_to_vec();
        assert!(ours(&body).is_some() && ours(&body) == reference(&body));
        let mut checked = 0;
        for n in 1..100 {
            let marker = format!("@{n:03}");
            let Some(at) = body.windows(4).position(|w| w == marker.as_bytes()) else {
                continue;
            };
            let mut bad = body.clone();
            bad[at..at + 4].copy_from_slice(&[0xff, 0xfe, 0xfd, 0xfc]);
            assert_eq!(reference(&bad), None, "prost refuses marker {marker}");
            assert_eq!(ours(&bad), None, "the decoder refuses marker {marker}");
            checked += 1;
        }
        assert_eq!(checked, 23, "every marked field was damaged once");
    }

    /// A span whose `kind` field is the given varint bytes.
    fn with_kind(varint: &[u8]) -> Vec<u8> {
        let mut span = pt::Span {
            trace_id: vec![1; 16],
            span_id: vec![2; 8],
            ..Default::default()
        }
        .encode_to_vec();
        span.push(6 << 3);
        span.extend_from_slice(varint);
        wrap_span(&span)
    }

    #[test]
    fn ten_byte_varints_are_read_as_prost_reads_them() {
        let mut ten = vec![0xff; 9];
        for last in [0x00, 0x01, 0x02, 0x7f] {
            ten.truncate(9);
            ten.push(last);
            let body = with_kind(&ten);
            assert_eq!(ours(&body), reference(&body), "last byte {last:#x}");
        }
        assert!(
            reference(&with_kind(&ten)).is_none(),
            "0x7f in the tenth byte is refused"
        );
        let eleven = [0xff; 11];
        assert_eq!(ours(&with_kind(&eleven)), None);
    }

    #[test]
    fn a_string_index_keeps_its_low_32_bits() {
        let mut value = Vec::new();
        value.push(8 << 3);
        prost::encoding::encode_varint((1u64 << 32) + 7, &mut value);
        let mut kv = Vec::new();
        field(&mut kv, 1, b"k");
        field(&mut kv, 2, &value);
        let mut span = pt::Span {
            trace_id: vec![1; 16],
            span_id: vec![2; 8],
            ..Default::default()
        }
        .encode_to_vec();
        field(&mut span, 9, &kv);
        let body = wrap_span(&span);
        assert_eq!(ours(&body), reference(&body));
        let (spans, _) = decode_trace_request(&body).expect("decodes");
        assert_eq!(spans[0].attributes.0[0].value, AnyValue::Int(7));
    }

    #[test]
    fn a_span_given_twice_merges_as_prost_merges_it() {
        let first = pt::Span {
            trace_id: vec![1; 16],
            span_id: vec![2; 8],
            name: "first".into(),
            attributes: vec![kv("a", "1")],
            status: Some(pt::Status {
                message: "kept".into(),
                code: 2,
            }),
            ..Default::default()
        };
        let second = pt::Span {
            span_id: vec![3; 8],
            attributes: vec![kv("b", "2")],
            status: Some(pt::Status {
                message: String::new(),
                code: 1,
            }),
            ..Default::default()
        };
        let mut both = first.encode_to_vec();
        both.extend(second.encode_to_vec());
        let body = wrap_span(&both);
        assert_eq!(ours(&body), reference(&body));
        let (spans, _) = decode_trace_request(&body).expect("decodes");
        let s = &spans[0];
        assert_eq!((s.name.as_str(), s.span_id.0), ("first", [3; 8]));
        assert_eq!(s.attributes.0.len(), 2, "lists append");
        assert_eq!(s.status.message, "kept", "the status merges");
        assert_eq!(s.status.code, StatusCode::Ok);
    }

    #[test]
    fn a_value_given_twice_merges_as_prost_merges_it() {
        let array = |items: &[i64]| pc::AnyValue {
            value: Some(PValue::ArrayValue(pc::ArrayValue {
                values: items
                    .iter()
                    .map(|i| pc::AnyValue {
                        value: Some(PValue::IntValue(*i)),
                    })
                    .collect(),
            })),
        };
        for (a, b) in [
            (array(&[1]), array(&[2, 3])),
            (array(&[1]), pc::AnyValue { value: None }),
            (
                pc::AnyValue {
                    value: Some(PValue::StringValue("s".into())),
                },
                array(&[4]),
            ),
        ] {
            let mut value = a.encode_to_vec();
            value.extend(b.encode_to_vec());
            let mut kv = Vec::new();
            field(&mut kv, 1, b"k");
            field(&mut kv, 2, &value);
            let mut span = pt::Span {
                trace_id: vec![1; 16],
                span_id: vec![2; 8],
                ..Default::default()
            }
            .encode_to_vec();
            field(&mut span, 9, &kv);
            let body = wrap_span(&span);
            assert!(reference(&body).is_some());
            assert_eq!(ours(&body), reference(&body), "{a:?} then {b:?}");
        }
    }

    /// An attribute of `n` arrays nested in each other, the innermost empty; with `unknown`, the
    /// innermost array also has a field the schema does not know (prost refuses to skip a field
    /// in a message at its recursion limit, while it still reads the message itself).
    fn deep(n: usize, unknown: bool) -> Vec<u8> {
        deep_with(n, if unknown { &[9 << 3, 1] } else { &[] })
    }

    /// [`deep`] with `extra` as the innermost array's unknown fields.
    fn deep_with(n: usize, extra: &[u8]) -> Vec<u8> {
        let mut array = extra.to_vec();
        let mut value = Vec::new();
        for _ in 0..n {
            value.clear();
            field(&mut value, 5, &array);
            array.clear();
            field(&mut array, 1, &value);
        }
        let mut kv = Vec::new();
        field(&mut kv, 1, b"deep");
        field(&mut kv, 2, &value);
        let mut span = pt::Span {
            trace_id: vec![1; 16],
            span_id: vec![2; 8],
            ..Default::default()
        }
        .encode_to_vec();
        field(&mut span, 9, &kv);
        wrap_span(&span)
    }

    #[test]
    fn the_recursion_limit_is_prosts_for_messages_and_skipped_fields() {
        for unknown in [false, true] {
            let mut refused = 0;
            for n in 40..56 {
                let body = deep(n, unknown);
                assert_eq!(
                    ours(&body),
                    reference(&body),
                    "nesting {n}, unknown field {unknown}"
                );
                refused += usize::from(reference(&body).is_none());
            }
            assert!(
                refused > 0 && refused < 16,
                "the limit lies inside the range tested"
            );
        }
        // The two limits differ: at one depth only the skipped field is refused.
        assert!(
            (40..56).any(
                |n| reference(&deep(n, false)).is_some() && reference(&deep(n, true)).is_none()
            )
        );
        // A group inside a group counts one level per group.
        let mut groups = Vec::new();
        for b in [
            (20u64 << 3) | 3,
            (21 << 3) | 3,
            1 << 3,
            5,
            (21 << 3) | 4,
            (20 << 3) | 4,
        ] {
            prost::encoding::encode_varint(b, &mut groups);
        }
        let mut refused = 0;
        for n in 40..56 {
            let body = deep_with(n, &groups);
            assert_eq!(
                ours(&body),
                reference(&body),
                "nested groups at nesting {n}"
            );
            refused += usize::from(reference(&body).is_none());
        }
        assert!(refused > 0 && refused < 16);
        assert!(
            (40..56).any(|n| reference(&deep(n, true)).is_some()
                && reference(&deep_with(n, &groups)).is_none())
        );
    }

    #[test]
    fn groups_are_skipped_as_prost_skips_them() {
        let span = pt::Span {
            trace_id: vec![1; 16],
            span_id: vec![2; 8],
            ..Default::default()
        }
        .encode_to_vec();
        // Field 20 as a group holding a varint field, then the matching end; a wrong end tag;
        // an end group with no start.
        for extra in [
            vec![(20 << 3) | 3, (1 << 3), 5, (20 << 3) | 4],
            vec![(20 << 3) | 3, (21 << 3) | 4],
            vec![(20 << 3) | 4],
        ] {
            let mut s = span.clone();
            s.extend(extra.iter().flat_map(|b: &u32| {
                let mut v = Vec::new();
                prost::encoding::encode_varint(u64::from(*b), &mut v);
                v
            }));
            let body = wrap_span(&s);
            assert_eq!(ours(&body), reference(&body), "{extra:?}");
        }
        let good = {
            let mut s = span.clone();
            for b in [(20u64 << 3) | 3, 1 << 3, 5, (20 << 3) | 4] {
                prost::encoding::encode_varint(b, &mut s);
            }
            wrap_span(&s)
        };
        assert!(ours(&good).is_some(), "a well-formed group is skipped");
    }
}

#[cfg(test)]
mod tests_support {
    use super::*;
    use crate::read::proto::from_trace_request;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use prost::Message as _;

    /// What prost and the conversion give, or `None` when prost refuses the bytes.
    pub(super) fn reference(body: &[u8]) -> Option<String> {
        let request = ExportTraceServiceRequest::decode(body).ok()?;
        Some(format!("{:?}", from_trace_request(request)))
    }

    /// What the decoder gives, or `None` when it refuses the bytes.
    pub(super) fn ours(body: &[u8]) -> Option<String> {
        decode_trace_request(body).ok().map(|r| format!("{r:?}"))
    }

    /// Appends a length-delimited field.
    pub(super) fn field(out: &mut Vec<u8>, tag: u32, bytes: &[u8]) {
        prost::encoding::encode_key(tag, prost::encoding::WireType::LengthDelimited, out);
        prost::encoding::encode_varint(bytes.len() as u64, out);
        out.extend_from_slice(bytes);
    }

    /// One span's bytes wrapped into scope spans, resource spans and a request.
    pub(super) fn wrap_span(span: &[u8]) -> Vec<u8> {
        let mut ss = Vec::new();
        field(&mut ss, 2, span);
        let mut rs = Vec::new();
        field(&mut rs, 2, &ss);
        let mut body = Vec::new();
        field(&mut body, 1, &rs);
        body
    }
}
