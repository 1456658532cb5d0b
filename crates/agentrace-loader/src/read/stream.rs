//! The lenient reader, streaming: JSON documents that the canonical fast path does not take
//! (Jaeger JSON, Tempo `batches` and `{"trace": ...}` exports, flat attributes, base64 ids, bare
//! spans) are read without building the whole document as a tree, and, from a file, without
//! holding the file.
//!
//! Two readers give the same [`Top`] values:
//!
//! - [`Scanner`], the fast one: a byte scanner cuts the document's structure out of the stream in
//!   large chunks. Containers (`data`, `batches`, `resourceSpans`, `resourceLogs`, a bare span
//!   list) are cut into elements, and Jaeger traces and resources further into spans and log
//!   records; each piece
//!   is parsed from memory, converted into the model and dropped before the next, so memory is the
//!   model plus one piece. Resources and scopes, which may follow their spans, are set when their
//!   trace or resource is complete. It takes valid JSON only and gives up on anything else.
//! - [`Values`], a `serde` visitor over `serde_json`'s reader: slower (it reads one byte at a time
//!   and works element by element, not span by span) but exact about invalid JSON, whose line and
//!   column it reports. The loader uses it when the scanner gives up, reading the input again.
//!
//! A skipped record's line is found in its piece's text and offset by the line where the piece
//! starts in the file. Every interpretation the document could get is gathered while walking (a
//! `data` list as Jaeger, span lists as OTLP); which one is kept is decided at the end, with the
//! same rules as [`classify`](super::classify) and the tree reader, so key order does not matter.
//! A property test checks both readers against the tree reader.

use std::cell::Cell;
use std::fmt;
use std::io::{self, Read};
use std::sync::Arc;

use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::otlp_json::{self, Sink};
use super::{Format, RecordIssue, Shared, jaeger, locate};
use crate::model::{LogRecord, Resource, Scope, Span, Telemetry};

/// A reader that counts newlines: `line` is the 1-based line of the last byte read (a newline
/// belongs to the line it ends). `serde_json` reads one byte at a time; they are served from a
/// buffer of its own.
struct LineCount<'a, R> {
    inner: R,
    line: &'a Cell<usize>,
    /// The last byte read was a newline: the next byte starts a line.
    pending: bool,
    buf: Box<[u8]>,
    pos: usize,
    len: usize,
}

impl<R: Read> Read for LineCount<'_, R> {
    #[inline]
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.pos == self.len {
            self.len = self.inner.read(&mut self.buf)?;
            self.pos = 0;
        }
        let avail = self.buf.get(self.pos..self.len).unwrap_or(&[]);
        let n = avail.len().min(out.len());
        let (src, dst) = (
            avail.get(..n).unwrap_or(&[]),
            out.get_mut(..n).unwrap_or(&mut []),
        );
        dst.copy_from_slice(src);
        if let Some((&last, head)) = src.split_last() {
            let nl = head.iter().filter(|&&c| c == b'\n').count() + usize::from(self.pending);
            if nl > 0 {
                self.line.set(self.line.get() + nl);
            }
            self.pending = last == b'\n';
        }
        self.pos += n;
        Ok(n)
    }
}

/// The records read from one part of a document, with their issues.
#[derive(Debug, Default)]
pub(crate) struct Part {
    /// The value was an array (only arrays are read).
    array: bool,
    /// Elements of the array.
    len: usize,
    /// Every element of a bare span list is an object that looks like a span.
    all_spans: bool,
    telemetry: Telemetry,
    issues: Vec<RecordIssue>,
}

impl Part {
    fn append_to(self, out: &mut Part) {
        out.telemetry.extend(self.telemetry);
        out.issues.extend(self.issues);
    }
}

/// The keys of resource spans lists, in the order the tree reader prefers them.
const SPAN_KEYS: [&str; 3] = ["batches", "resourceSpans", "resource_spans"];
/// The keys of resource logs lists, in the order the tree reader prefers them.
const LOG_KEYS: [&str; 2] = ["resourceLogs", "resource_logs"];

/// The OTLP lists of one document object (the top level, or inside `trace`).
#[derive(Debug, Default)]
struct DocLists {
    spans: [Option<Part>; 3],
    logs: [Option<Part>; 2],
}

impl DocLists {
    /// The tree reader's `read_document`: one spans list (`batches`, else `resourceSpans`, else
    /// `resource_spans`) and one logs list (`resourceLogs`, else `resource_logs`).
    fn into_part(self) -> Part {
        let mut out = Part::default();
        let [batches, camel, snake] = self.spans;
        let key = otlp_json::resource_spans_key(|k| match k {
            "batches" => batches.is_some(),
            "resourceSpans" => camel.is_some(),
            _ => false,
        });
        let spans = match key {
            "batches" => batches,
            "resourceSpans" => camel,
            _ => snake,
        };
        if let Some(p) = spans {
            p.append_to(&mut out);
        }
        let [camel, snake] = self.logs;
        if let Some(p) = camel.or(snake) {
            p.append_to(&mut out);
        }
        out
    }

    /// The slot and list kind of a list key (`None` for any other key).
    fn slot(key: &str, prefix: &str) -> Option<(Slot, List)> {
        if let Some(i) = SPAN_KEYS.iter().position(|k| *k == key) {
            return Some((Slot::Spans(i), List::Spans(format!("{prefix}{key}"))));
        }
        LOG_KEYS
            .iter()
            .position(|k| *k == key)
            .map(|i| (Slot::Logs(i), List::Logs(format!("{prefix}resourceLogs"))))
    }

    fn set(&mut self, slot: Slot, part: Part) {
        let cell = match slot {
            Slot::Spans(i) => self.spans.get_mut(i),
            Slot::Logs(i) => self.logs.get_mut(i),
        };
        if let Some(cell) = cell {
            *cell = Some(part);
        }
    }

    /// Reads a list member into its slot; false when `key` is not a list key.
    fn member<'de, A: MapAccess<'de>>(
        &mut self,
        key: &str,
        prefix: &str,
        line: &Cell<usize>,
        map: &mut A,
    ) -> Result<bool, A::Error> {
        let Some((slot, kind)) = Self::slot(key, prefix) else {
            return Ok(false);
        };
        self.set(slot, map.next_value_seed(ListSeed { kind, line })?);
        Ok(true)
    }
}

/// Where a list member goes in [`DocLists`].
#[derive(Clone, Copy)]
enum Slot {
    Spans(usize),
    Logs(usize),
}

/// One top-level JSON value, walked.
#[derive(Debug)]
pub(crate) enum Top {
    /// An object: its OTLP lists, Jaeger `data`, `trace` wrapper and other members.
    Object(Box<TopObject>),
    /// An array: read as bare spans.
    Array {
        /// The spans read.
        part: Part,
        /// Elements.
        len: usize,
        /// Every element is an object that looks like a span.
        all_spans: bool,
        /// The line of the opening bracket.
        line: usize,
    },
    /// Anything else; the line where it ends.
    Scalar(usize),
}

/// The members of a top-level object.
#[derive(Debug, Default)]
pub(crate) struct TopObject {
    lists: DocLists,
    /// `data`, read as Jaeger traces.
    data: Option<Part>,
    /// `trace`: `Some(None)` when it is not an object.
    trace: Option<Option<DocLists>>,
    /// Every other member, as a tree (small in any real document: span fields, counters).
    rest: Map<String, Value>,
    /// For each member of `rest`, the line where its value ends.
    rest_lines: Vec<(String, usize)>,
    /// The line of the opening brace.
    line: usize,
}

impl TopObject {
    fn has_list(&self) -> bool {
        self.lists.spans.iter().any(Option::is_some) || self.lists.logs.iter().any(Option::is_some)
    }

    fn trace_object(&self) -> Option<&DocLists> {
        self.trace.as_ref().and_then(Option::as_ref)
    }
}

impl Top {
    /// The container shape, as [`classify`](super::classify) gives it for the same value.
    pub(crate) fn detected(&self) -> Format {
        match self {
            Self::Object(o) => {
                if o.lists.spans[0].is_some() {
                    Format::TempoBatches
                } else if o.has_list() {
                    Format::OtlpJson
                } else if o.trace_object().is_some() {
                    Format::TempoTraceWrapper
                } else if otlp_json::looks_like_span(&o.rest) {
                    Format::OtlpBareSpans
                } else if o.data.is_some() {
                    Format::JaegerJson
                } else {
                    Format::OtlpJson
                }
            }
            Self::Array { .. } if self.is_otlp() => Format::OtlpBareSpans,
            _ => Format::OtlpJson,
        }
    }

    /// True when the OTLP reader understands the value (as `is_otlp` says of the tree).
    pub(crate) fn is_otlp(&self) -> bool {
        match self {
            Self::Object(o) => {
                o.has_list()
                    || o.trace_object()
                        .is_some_and(|t| t.spans.iter().any(Option::is_some))
                    || otlp_json::looks_like_span(&o.rest)
            }
            Self::Array { len, all_spans, .. } => *len > 0 && *all_spans,
            Self::Scalar(_) => false,
        }
    }

    /// True for an object with a `data` member that the OTLP reader does not understand.
    pub(crate) fn jaeger_like(&self) -> bool {
        matches!(self, Self::Object(o) if o.data.is_some()) && !self.is_otlp()
    }

    /// The records of the value read as `fmt` (Jaeger reads `data`; every other format reads it as
    /// OTLP), and the records skipped.
    pub(crate) fn into_telemetry(self, fmt: Format) -> (Telemetry, Vec<RecordIssue>) {
        let whole = |field: &str, message: &str, line: Option<usize>| Part {
            issues: vec![RecordIssue {
                file: None,
                line,
                field: field.to_owned(),
                message: message.to_owned(),
            }],
            ..Part::default()
        };
        let part = match (self, fmt) {
            (Self::Object(o), Format::JaegerJson) => match o.data {
                Some(p) if p.array => p,
                _ => whole("data", "expected a `data` array", Some(o.line)),
            },
            (Self::Array { line, .. }, Format::JaegerJson) => {
                whole("data", "expected a `data` array", Some(line))
            }
            (Self::Scalar(line), Format::JaegerJson) => {
                whole("data", "expected a `data` array", Some(line))
            }
            (Self::Object(o), _) => {
                let o = *o;
                match o.trace {
                    Some(Some(inner)) => inner.into_part(),
                    _ if otlp_json::looks_like_span(&o.rest) => bare_span(&o),
                    _ => o.lists.into_part(),
                }
            }
            (Self::Array { part, .. }, _) => part,
            (Self::Scalar(line), _) => whole("", "expected an object or an array", Some(line)),
        };
        (part.telemetry, part.issues)
    }
}

/// A top-level object that is one bare span.
fn bare_span(o: &TopObject) -> Part {
    let mut part = Part::default();
    let res = Arc::new(Resource::default());
    let scope = Arc::new(Scope::default());
    let mut sink = Sink {
        line: None,
        issues: &mut part.issues,
    };
    if let Some(s) = otlp_json::read_span(&o.rest, &res, &scope, &mut sink, "span") {
        part.telemetry.spans.push(s);
    }
    for issue in &mut part.issues {
        let member = issue
            .field
            .strip_prefix("span.")
            .and_then(|f| f.split(['.', '[']).next())
            .unwrap_or("");
        let at = o
            .rest_lines
            .iter()
            .find(|(k, _)| k == member)
            .map(|(_, l)| *l);
        issue.line = Some(at.unwrap_or(o.line));
    }
    part
}

/// What a list holds.
enum List {
    /// Resource spans; the path of the list (`batches`, `trace.resourceSpans`).
    Spans(String),
    /// Resource logs; the path of the list.
    Logs(String),
    /// Jaeger traces (`data`).
    Jaeger,
    /// Bare spans (a top-level array).
    Bare,
}

/// Reads one list element by element.
struct ListSeed<'a> {
    kind: List,
    line: &'a Cell<usize>,
}

impl<'de> DeserializeSeed<'de> for ListSeed<'_> {
    type Value = Part;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Part, D::Error> {
        d.deserialize_any(self)
    }
}

/// A list being read element by element.
struct ListState {
    kind: List,
    part: Part,
    shared: Shared,
    res: Arc<Resource>,
    scope: Arc<Scope>,
}

impl ListState {
    fn new(kind: List) -> Self {
        Self {
            kind,
            part: Part {
                array: true,
                all_spans: true,
                ..Part::default()
            },
            shared: Shared::default(),
            res: Arc::new(Resource::default()),
            scope: Arc::new(Scope::default()),
        }
    }

    /// Converts the next element (its text, starting on line `start_line`) and locates its
    /// issues. An element that is not JSON is an error (the caller decides what it means).
    fn push(&mut self, text: &str, start_line: usize) -> Result<(), serde_json::Error> {
        let i = self.part.len;
        self.part.len += 1;
        let v = serde_json::from_str::<Value>(text)?;
        let path = match &self.kind {
            List::Spans(list) | List::Logs(list) => format!("{list}[{i}]"),
            List::Jaeger => format!("data[{i}]"),
            List::Bare => format!("[{i}]"),
        };
        let part = &mut self.part;
        let before = part.issues.len();
        let mut sink = Sink {
            line: None,
            issues: &mut part.issues,
        };
        let mut batch = Telemetry::default();
        match &self.kind {
            List::Spans(_) => otlp_json::read_resource_spans(&path, &v, &mut batch, &mut sink),
            List::Logs(_) => otlp_json::read_resource_logs(&path, &v, &mut batch, &mut sink),
            List::Jaeger => jaeger::read_trace(i, &v, &mut batch, &mut sink),
            List::Bare => match v.as_object() {
                Some(o) => {
                    part.all_spans &= otlp_json::looks_like_span(o);
                    if let Some(s) =
                        otlp_json::read_span(o, &self.res, &self.scope, &mut sink, &path)
                    {
                        batch.spans.push(s);
                    }
                }
                None => {
                    part.all_spans = false;
                    sink.bad(path.clone(), "expected a span object");
                }
            },
        }
        // Equal resources and scopes of consecutive elements are held once.
        self.shared.dedupe(&mut batch);
        part.telemetry.extend(batch);
        locate_issues(
            part.issues.get_mut(before..).unwrap_or(&mut []),
            &path,
            text,
            start_line,
        );
        Ok(())
    }
}

/// Sets the line of issues found in `text` (the value at `path`, starting on `start_line`).
fn locate_issues(issues: &mut [RecordIssue], path: &str, text: &str, start_line: usize) {
    for issue in issues {
        let rel = issue
            .field
            .strip_prefix(path)
            .map_or("", |r| r.trim_start_matches('.'));
        let within = locate::line_of(text.as_bytes(), rel).unwrap_or(1);
        issue.line = Some(start_line + within - 1);
    }
}

/// What a resource element holds.
#[derive(Clone, Copy)]
enum Signal {
    Spans,
    Logs,
}

impl Signal {
    /// The keys of a resource's scope list, in the order the tree reader prefers them.
    fn scope_lists(self) -> &'static [&'static str] {
        match self {
            Self::Spans => &[
                "scopeSpans",
                "scope_spans",
                "instrumentationLibrarySpans",
                "instrumentation_library_spans",
            ],
            Self::Logs => &[
                "scopeLogs",
                "scope_logs",
                "instrumentationLibraryLogs",
                "instrumentation_library_logs",
            ],
        }
    }

    /// The keys of a scope element's record list, in the order the tree reader prefers them.
    fn record_lists(self) -> &'static [&'static str] {
        match self {
            Self::Spans => &["spans"],
            Self::Logs => &["logRecords", "log_records"],
        }
    }

    /// The names used in field paths: the scope list and the record list.
    fn path_names(self) -> (&'static str, &'static str) {
        match self {
            Self::Spans => ("scopeSpans", "spans"),
            Self::Logs => ("scopeLogs", "logRecords"),
        }
    }
}

/// The keys of a scope element's scope, in the order the tree reader prefers them.
const SCOPE_KEYS: [&str; 3] = ["scope", "instrumentationLibrary", "instrumentation_library"];

/// The records of one list, converted (resource and scope are set when the resource is
/// complete), and their issues.
#[derive(Default)]
struct Records {
    spans: Vec<Span>,
    logs: Vec<LogRecord>,
    issues: Vec<RecordIssue>,
}

/// One scope element (`scopeSpans` / `scopeLogs` entry), read record by record.
#[derive(Default)]
struct ScopeRecords {
    /// It is an object (others are skipped, as the tree reader does).
    object: bool,
    /// The scope members, by [`SCOPE_KEYS`].
    scope: [Option<Value>; 3],
    /// The record lists, by [`Signal::record_lists`].
    records: [Option<Records>; 2],
}

impl<'de> Visitor<'de> for ListSeed<'_> {
    type Value = Part;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Part, A::Error> {
        let mut list = ListState::new(self.kind);
        while let Some(raw) = seq.next_element::<Box<RawValue>>()? {
            let text = raw.get();
            // The element has just been read: the line is where it ends.
            let newlines = text.bytes().filter(|&b| b == b'\n').count();
            let start = self.line.get().saturating_sub(newlines);
            if let Err(e) = list.push(text, start) {
                // Valid JSON by now; only nesting too deep for a second parse lands here.
                list.part.issues.push(RecordIssue {
                    file: None,
                    line: Some(start),
                    field: String::new(),
                    message: format!("could not read an element: {e}"),
                });
            }
        }
        Ok(list.part)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Part, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Part::default())
    }

    fn visit_bool<E>(self, _: bool) -> Result<Part, E> {
        Ok(Part::default())
    }

    fn visit_i64<E>(self, _: i64) -> Result<Part, E> {
        Ok(Part::default())
    }

    fn visit_u64<E>(self, _: u64) -> Result<Part, E> {
        Ok(Part::default())
    }

    fn visit_f64<E>(self, _: f64) -> Result<Part, E> {
        Ok(Part::default())
    }

    fn visit_str<E>(self, _: &str) -> Result<Part, E> {
        Ok(Part::default())
    }

    fn visit_unit<E>(self) -> Result<Part, E> {
        Ok(Part::default())
    }
}

/// Reads the `trace` member: its lists when it is an object.
struct TraceSeed<'a> {
    line: &'a Cell<usize>,
}

impl<'de> DeserializeSeed<'de> for TraceSeed<'_> {
    type Value = Option<DocLists>;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for TraceSeed<'_> {
    type Value = Option<DocLists>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut lists = DocLists::default();
        while let Some(key) = map.next_key::<String>()? {
            if !lists.member(&key, "trace.", self.line, &mut map)? {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(Some(lists))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }

    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

/// Reads one top-level value.
struct TopSeed<'a> {
    line: &'a Cell<usize>,
}

impl<'de> DeserializeSeed<'de> for TopSeed<'_> {
    type Value = Top;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Top, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for TopSeed<'_> {
    type Value = Top;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Top, A::Error> {
        let mut o = TopObject {
            line: self.line.get(),
            ..TopObject::default()
        };
        while let Some(key) = map.next_key::<String>()? {
            if o.lists.member(&key, "", self.line, &mut map)? {
                continue;
            }
            match key.as_str() {
                "data" => {
                    let kind = List::Jaeger;
                    o.data = Some(map.next_value_seed(ListSeed {
                        kind,
                        line: self.line,
                    })?);
                }
                "trace" => o.trace = Some(map.next_value_seed(TraceSeed { line: self.line })?),
                _ => {
                    let v = map.next_value::<Value>()?;
                    o.rest_lines.retain(|(k, _)| *k != key);
                    o.rest_lines.push((key.clone(), self.line.get()));
                    o.rest.insert(key, v);
                }
            }
        }
        Ok(Top::Object(Box::new(o)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Top, A::Error> {
        let line = self.line.get();
        let part = ListSeed {
            kind: List::Bare,
            line: self.line,
        }
        .visit_seq(seq)?;
        Ok(Top::Array {
            len: part.len,
            all_spans: part.all_spans,
            part,
            line,
        })
    }

    fn visit_bool<E>(self, _: bool) -> Result<Top, E> {
        Ok(Top::Scalar(self.line.get()))
    }

    fn visit_i64<E>(self, _: i64) -> Result<Top, E> {
        Ok(Top::Scalar(self.line.get()))
    }

    fn visit_u64<E>(self, _: u64) -> Result<Top, E> {
        Ok(Top::Scalar(self.line.get()))
    }

    fn visit_f64<E>(self, _: f64) -> Result<Top, E> {
        Ok(Top::Scalar(self.line.get()))
    }

    fn visit_str<E>(self, _: &str) -> Result<Top, E> {
        Ok(Top::Scalar(self.line.get()))
    }

    fn visit_unit<E>(self) -> Result<Top, E> {
        Ok(Top::Scalar(self.line.get()))
    }
}

/// Top-level JSON values read one after another from a reader, each walked as it streams in.
pub(crate) struct Values<'c, R: Read> {
    de: serde_json::Deserializer<serde_json::de::IoRead<LineCount<'c, R>>>,
    line: &'c Cell<usize>,
}

impl<'c, R: Read> Values<'c, R> {
    /// Reads from `r`; `line` (1 to start with) follows the line being read.
    pub(crate) fn new(r: R, line: &'c Cell<usize>) -> Self {
        Self {
            de: serde_json::Deserializer::from_reader(LineCount {
                inner: r,
                line,
                pending: false,
                buf: vec![0; 1 << 16].into_boxed_slice(),
                pos: 0,
                len: 0,
            }),
            line,
        }
    }

    /// The next value, `None` at the end of the input.
    pub(crate) fn next_value(&mut self) -> Result<Option<Top>, serde_json::Error> {
        if self.de.end().is_ok() {
            return Ok(None);
        }
        TopSeed { line: self.line }
            .deserialize(&mut self.de)
            .map(Some)
    }
}

/// Why the scanner stopped.
#[derive(Debug)]
pub(crate) enum ScanError {
    /// The input could not be read.
    Io(io::Error),
    /// The input is not as simple as the scanner needs (invalid JSON, a top-level scalar, very
    /// deep nesting): the walking reader ([`Values`]) reads it again from the start and reports.
    Bail,
}

impl From<io::Error> for ScanError {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

/// JSON whitespace.
fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// Deepest nesting the scanner takes (the walking reader's limit is 128 for the document).
const MAX_SCAN_DEPTH: usize = 100;

/// The fast way to the same [`Top`] values as [`Values`]: a byte scanner cuts the document's
/// structure (members, list elements) out of the stream in large chunks, and each piece is parsed
/// from memory. Valid JSON only: on anything else it gives up ([`ScanError::Bail`]).
pub(crate) struct Scanner<R> {
    r: R,
    /// The 1-based line of the next byte.
    line: usize,
    /// The last value captured.
    buf: Vec<u8>,
}

impl<R: io::BufRead> Scanner<R> {
    /// Scans `r`.
    pub(crate) fn new(r: R) -> Self {
        Self {
            r,
            line: 1,
            buf: Vec::new(),
        }
    }

    /// Skips whitespace; the next byte, not consumed.
    fn peek_ws(&mut self) -> io::Result<Option<u8>> {
        loop {
            let chunk = self.r.fill_buf()?;
            if chunk.is_empty() {
                return Ok(None);
            }
            let mut n = 0;
            for &b in chunk {
                if !is_ws(b) {
                    break;
                }
                if b == b'\n' {
                    self.line += 1;
                }
                n += 1;
            }
            let next = chunk.get(n).copied();
            self.r.consume(n);
            if next.is_some() {
                return Ok(next);
            }
        }
    }

    fn expect(&mut self, c: u8) -> Result<(), ScanError> {
        if self.peek_ws()? != Some(c) {
            return Err(ScanError::Bail);
        }
        self.r.consume(1);
        Ok(())
    }

    /// Captures the next value (after whitespace) into `buf`, unvalidated.
    fn capture(&mut self) -> Result<(), ScanError> {
        self.buf.clear();
        let first = self.peek_ws()?.ok_or(ScanError::Bail)?;
        let scalar = !matches!(first, b'"' | b'{' | b'[');
        let (mut depth, mut in_str, mut esc) = (0usize, false, false);
        loop {
            let chunk = self.r.fill_buf()?;
            if chunk.is_empty() {
                return if scalar && !self.buf.is_empty() {
                    Ok(())
                } else {
                    Err(ScanError::Bail)
                };
            }
            let mut end = None;
            for (i, &b) in chunk.iter().enumerate() {
                if scalar {
                    if matches!(b, b',' | b'}' | b']') || is_ws(b) {
                        end = Some(i);
                        break;
                    }
                } else if in_str {
                    if esc {
                        esc = false;
                    } else if b == b'\\' {
                        esc = true;
                    } else if b == b'"' {
                        in_str = false;
                        if depth == 0 {
                            end = Some(i + 1);
                            break;
                        }
                    }
                } else {
                    match b {
                        b'"' => in_str = true,
                        b'{' | b'[' => {
                            depth += 1;
                            if depth > MAX_SCAN_DEPTH {
                                return Err(ScanError::Bail);
                            }
                        }
                        b'}' | b']' => {
                            depth = depth.checked_sub(1).ok_or(ScanError::Bail)?;
                            if depth == 0 {
                                end = Some(i + 1);
                                break;
                            }
                        }
                        b'\n' => self.line += 1,
                        _ => {}
                    }
                }
            }
            let take = end.unwrap_or(chunk.len());
            self.buf.extend_from_slice(chunk.get(..take).unwrap_or(&[]));
            self.r.consume(take);
            if end.is_some() {
                return Ok(());
            }
        }
    }

    /// Captures the next value and checks that it is JSON.
    fn skip_valid(&mut self) -> Result<(), ScanError> {
        self.capture()?;
        serde_json::from_slice::<IgnoredAny>(&self.buf).map_err(|_| ScanError::Bail)?;
        Ok(())
    }

    /// The next top-level value, `None` at the end of the input.
    pub(crate) fn next_value(&mut self) -> Result<Option<Top>, ScanError> {
        let Some(b) = self.peek_ws()? else {
            return Ok(None);
        };
        let line = self.line;
        match b {
            b'{' => {
                self.r.consume(1);
                let mut o = TopObject {
                    line,
                    ..TopObject::default()
                };
                self.members(|sc, key| {
                    if let Some((slot, kind)) = DocLists::slot(&key, "") {
                        let part = sc.list_or_skip(kind)?;
                        o.lists.set(slot, part);
                        return Ok(());
                    }
                    match key.as_str() {
                        "data" => o.data = Some(sc.list_or_skip(List::Jaeger)?),
                        "trace" => o.trace = Some(sc.trace()?),
                        _ => {
                            sc.capture()?;
                            let v: Value =
                                serde_json::from_slice(&sc.buf).map_err(|_| ScanError::Bail)?;
                            o.rest_lines.retain(|(k, _)| *k != key);
                            o.rest_lines.push((key.clone(), sc.line));
                            o.rest.insert(key, v);
                        }
                    }
                    Ok(())
                })?;
                Ok(Some(Top::Object(Box::new(o))))
            }
            b'[' => {
                let part = self.list(List::Bare)?;
                Ok(Some(Top::Array {
                    len: part.len,
                    all_spans: part.all_spans,
                    part,
                    line,
                }))
            }
            _ => Err(ScanError::Bail),
        }
    }

    /// The members of an object whose `{` was consumed: `each` reads the value of each key.
    fn members(
        &mut self,
        mut each: impl FnMut(&mut Self, String) -> Result<(), ScanError>,
    ) -> Result<(), ScanError> {
        if self.peek_ws()? == Some(b'}') {
            self.r.consume(1);
            return Ok(());
        }
        loop {
            if self.peek_ws()? != Some(b'"') {
                return Err(ScanError::Bail);
            }
            self.capture()?;
            let key: String = serde_json::from_slice(&self.buf).map_err(|_| ScanError::Bail)?;
            self.expect(b':')?;
            each(self, key)?;
            match self.peek_ws()? {
                Some(b',') => self.r.consume(1),
                Some(b'}') => {
                    self.r.consume(1);
                    return Ok(());
                }
                _ => return Err(ScanError::Bail),
            }
        }
    }

    /// A list member: its elements when it is an array, else nothing.
    fn list_or_skip(&mut self, kind: List) -> Result<Part, ScanError> {
        if self.peek_ws()? == Some(b'[') {
            return self.list(kind);
        }
        self.skip_valid()?;
        Ok(Part::default())
    }

    /// An array at the next byte, element by element.
    fn list(&mut self, kind: List) -> Result<Part, ScanError> {
        self.expect(b'[')?;
        let mut list = ListState::new(kind);
        if self.peek_ws()? == Some(b']') {
            self.r.consume(1);
            return Ok(list.part);
        }
        loop {
            let first = self.peek_ws()?;
            let start = self.line;
            if matches!(list.kind, List::Spans(_)) && first == Some(b'{') {
                // A resource's spans, span by span: memory is bounded by a span, not a resource.
                self.resource_records(&mut list, Signal::Spans)?;
            } else if matches!(list.kind, List::Logs(_)) && first == Some(b'{') {
                self.resource_records(&mut list, Signal::Logs)?;
            } else if matches!(list.kind, List::Jaeger) && first == Some(b'{') {
                // A Jaeger trace, span by span.
                self.jaeger_trace(&mut list)?;
            } else {
                self.capture()?;
                let text = std::str::from_utf8(&self.buf).map_err(|_| ScanError::Bail)?;
                list.push(text, start).map_err(|_| ScanError::Bail)?;
            }
            match self.peek_ws()? {
                Some(b',') => self.r.consume(1),
                Some(b']') => {
                    self.r.consume(1);
                    return Ok(list.part);
                }
                _ => return Err(ScanError::Bail),
            }
        }
    }

    /// One resource element (an object at the next byte), converted record by record with the
    /// tree reader's rules: `resource`, one scope list (`scopeSpans`, else `scope_spans`, else
    /// the `instrumentationLibrary*` names; the same for logs), in each element one scope and one
    /// record list.
    fn resource_records(&mut self, list: &mut ListState, signal: Signal) -> Result<(), ScanError> {
        let i = list.part.len;
        list.part.len += 1;
        let path = match &list.kind {
            List::Spans(name) | List::Logs(name) => format!("{name}[{i}]"),
            _ => return Err(ScanError::Bail),
        };
        self.expect(b'{')?;
        let mut resource: Option<Value> = None;
        let mut lists: [Option<Vec<ScopeRecords>>; 4] = Default::default();
        self.members(|sc, key| {
            if key == "resource" {
                sc.capture()?;
                resource = Some(serde_json::from_slice(&sc.buf).map_err(|_| ScanError::Bail)?);
            } else if let Some(li) = signal.scope_lists().iter().position(|k| *k == key) {
                let scopes = sc.scope_list(&path, signal)?;
                if let Some(slot) = lists.get_mut(li) {
                    *slot = Some(scopes);
                }
            } else {
                sc.skip_valid()?;
            }
            Ok(())
        })?;
        let mut rs = Map::new();
        if let Some(r) = resource {
            rs.insert("resource".to_owned(), r);
        }
        let res = Arc::new(otlp_json::read_resource(&rs));
        let mut batch = Telemetry::default();
        let chosen = lists.into_iter().flatten().next().unwrap_or_default();
        for ss in chosen.into_iter().filter(|ss| ss.object) {
            let mut m = Map::new();
            for (k, v) in SCOPE_KEYS.iter().zip(ss.scope) {
                if let Some(v) = v {
                    m.insert((*k).to_owned(), v);
                }
            }
            let scope = Arc::new(otlp_json::read_scope(&m));
            let Some(mut records) = ss.records.into_iter().flatten().next() else {
                continue;
            };
            for span in &mut records.spans {
                span.resource = Arc::clone(&res);
                span.scope = Arc::clone(&scope);
            }
            for log in &mut records.logs {
                log.resource = Arc::clone(&res);
                log.scope = Arc::clone(&scope);
            }
            // Moved, not copied: one resource may hold most of the file.
            batch.extend(Telemetry {
                spans: records.spans,
                logs: records.logs,
            });
            list.part.issues.extend(records.issues);
        }
        list.shared.dedupe(&mut batch);
        list.part.telemetry.extend(batch);
        Ok(())
    }

    /// A scope list at the next byte (anything but an array reads as empty).
    fn scope_list(&mut self, path: &str, signal: Signal) -> Result<Vec<ScopeRecords>, ScanError> {
        let mut out = Vec::new();
        if self.peek_ws()? != Some(b'[') {
            self.skip_valid()?;
            return Ok(out);
        }
        self.r.consume(1);
        if self.peek_ws()? == Some(b']') {
            self.r.consume(1);
            return Ok(out);
        }
        let (scope_name, _) = signal.path_names();
        loop {
            let j = out.len();
            if self.peek_ws()? == Some(b'{') {
                self.r.consume(1);
                let mut ss = ScopeRecords {
                    object: true,
                    ..ScopeRecords::default()
                };
                self.members(|sc, key| {
                    if let Some(si) = SCOPE_KEYS.iter().position(|k| *k == key) {
                        sc.capture()?;
                        let v = serde_json::from_slice(&sc.buf).map_err(|_| ScanError::Bail)?;
                        if let Some(slot) = ss.scope.get_mut(si) {
                            *slot = Some(v);
                        }
                    } else if let Some(ri) = signal.record_lists().iter().position(|k| *k == key) {
                        let prefix = format!("{path}.{scope_name}[{j}]");
                        let records = sc.records_list(&prefix, signal)?;
                        if let Some(slot) = ss.records.get_mut(ri) {
                            *slot = Some(records);
                        }
                    } else {
                        sc.skip_valid()?;
                    }
                    Ok(())
                })?;
                out.push(ss);
            } else {
                self.skip_valid()?;
                out.push(ScopeRecords::default());
            }
            match self.peek_ws()? {
                Some(b',') => self.r.consume(1),
                Some(b']') => {
                    self.r.consume(1);
                    return Ok(out);
                }
                _ => return Err(ScanError::Bail),
            }
        }
    }

    /// A record list (`spans`, `logRecords`) at the next byte, each record converted as it is
    /// cut out (anything but an array reads as empty).
    fn records_list(&mut self, prefix: &str, signal: Signal) -> Result<Records, ScanError> {
        let mut out = Records::default();
        if self.peek_ws()? != Some(b'[') {
            self.skip_valid()?;
            return Ok(out);
        }
        self.r.consume(1);
        if self.peek_ws()? == Some(b']') {
            self.r.consume(1);
            return Ok(out);
        }
        // Resource and scope are set when the resource is complete.
        let res = Arc::new(Resource::default());
        let scope = Arc::new(Scope::default());
        let (_, record_name) = signal.path_names();
        let mut k = 0usize;
        loop {
            self.peek_ws()?;
            let start = self.line;
            self.capture()?;
            let text = std::str::from_utf8(&self.buf).map_err(|_| ScanError::Bail)?;
            let v: Value = serde_json::from_str(text).map_err(|_| ScanError::Bail)?;
            let path = format!("{prefix}.{record_name}[{k}]");
            let before = out.issues.len();
            let mut sink = Sink {
                line: None,
                issues: &mut out.issues,
            };
            match (v.as_object(), signal) {
                (Some(o), Signal::Spans) => {
                    if let Some(span) = otlp_json::read_span(o, &res, &scope, &mut sink, &path) {
                        out.spans.push(span);
                    }
                }
                (Some(o), Signal::Logs) => {
                    if let Some(log) = otlp_json::read_log(o, &res, &scope, &mut sink, &path) {
                        out.logs.push(log);
                    }
                }
                (None, Signal::Spans) => sink.bad(path.clone(), "expected a span object"),
                (None, Signal::Logs) => sink.bad(path.clone(), "expected a log record object"),
            }
            locate_issues(
                out.issues.get_mut(before..).unwrap_or(&mut []),
                &path,
                text,
                start,
            );
            k += 1;
            match self.peek_ws()? {
                Some(b',') => self.r.consume(1),
                Some(b']') => {
                    self.r.consume(1);
                    return Ok(out);
                }
                _ => return Err(ScanError::Bail),
            }
        }
    }

    /// One Jaeger trace (an object at the next byte), converted span by span with the tree
    /// reader's rules; each span's resource (its process) is set when the trace is complete, as
    /// `processes` usually follows `spans`.
    fn jaeger_trace(&mut self, list: &mut ListState) -> Result<(), ScanError> {
        let ti = list.part.len;
        list.part.len += 1;
        self.expect(b'{')?;
        let mut processes: Option<Value> = None;
        let mut spans: Vec<Span> = Vec::new();
        let mut pids: Vec<Option<String>> = Vec::new();
        let mut issues = Vec::new();
        let mut scopes = jaeger::Scopes::new();
        self.members(|sc, key| {
            match key.as_str() {
                "processes" => {
                    sc.capture()?;
                    processes = Some(serde_json::from_slice(&sc.buf).map_err(|_| ScanError::Bail)?);
                }
                "spans" => {
                    spans.clear();
                    pids.clear();
                    issues.clear();
                    sc.jaeger_spans(ti, (&mut spans, &mut pids), &mut issues, &mut scopes)?;
                }
                _ => sc.skip_valid()?,
            }
            Ok(())
        })?;
        let processes = jaeger::read_processes(processes.as_ref());
        for (span, pid) in spans.iter_mut().zip(pids) {
            span.resource = pid
                .as_deref()
                .and_then(|p| processes.get(p))
                .cloned()
                .unwrap_or_default();
        }
        // Moved, not copied: one trace may hold most of the file.
        let mut batch = Telemetry {
            spans,
            logs: Vec::new(),
        };
        list.part.issues.extend(issues);
        list.shared.dedupe(&mut batch);
        list.part.telemetry.extend(batch);
        Ok(())
    }

    /// The `spans` of a Jaeger trace at the next byte, each converted as it is cut out, with its
    /// process id (anything but an array reads as empty).
    fn jaeger_spans(
        &mut self,
        ti: usize,
        (spans, pids): (&mut Vec<Span>, &mut Vec<Option<String>>),
        issues: &mut Vec<RecordIssue>,
        scopes: &mut jaeger::Scopes,
    ) -> Result<(), ScanError> {
        if self.peek_ws()? != Some(b'[') {
            return self.skip_valid();
        }
        self.r.consume(1);
        if self.peek_ws()? == Some(b']') {
            self.r.consume(1);
            return Ok(());
        }
        let no_processes = std::collections::HashMap::new();
        let mut si = 0usize;
        loop {
            self.peek_ws()?;
            let start = self.line;
            self.capture()?;
            let text = std::str::from_utf8(&self.buf).map_err(|_| ScanError::Bail)?;
            let v: Value = serde_json::from_str(text).map_err(|_| ScanError::Bail)?;
            let before = issues.len();
            let mut sink = Sink {
                line: None,
                issues: &mut *issues,
            };
            if let Some(span) = jaeger::read_span(ti, si, &v, &no_processes, scopes, &mut sink) {
                pids.push(
                    v.get("processID")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                );
                spans.push(span);
            }
            let path = format!("data[{ti}].spans[{si}]");
            locate_issues(
                issues.get_mut(before..).unwrap_or(&mut []),
                &path,
                text,
                start,
            );
            si += 1;
            match self.peek_ws()? {
                Some(b',') => self.r.consume(1),
                Some(b']') => {
                    self.r.consume(1);
                    return Ok(());
                }
                _ => return Err(ScanError::Bail),
            }
        }
    }

    /// The `trace` member: its lists when it is an object.
    fn trace(&mut self) -> Result<Option<DocLists>, ScanError> {
        if self.peek_ws()? != Some(b'{') {
            self.skip_valid()?;
            return Ok(None);
        }
        self.r.consume(1);
        let mut lists = DocLists::default();
        self.members(|sc, key| {
            match DocLists::slot(&key, "trace.") {
                Some((slot, kind)) => {
                    let part = sc.list_or_skip(kind)?;
                    lists.set(slot, part);
                }
                None => sc.skip_valid()?,
            }
            Ok(())
        })?;
        Ok(Some(lists))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::cell::Cell;

    use proptest::prelude::*;
    use serde_json::Value;

    use super::{ScanError, Scanner, Values};
    use crate::model::Telemetry;
    use crate::read::otlp_json::{Sink, read_value};
    use crate::read::{Format, RecordIssue, classify, is_otlp, jaeger};

    /// The tree reader: the whole value parsed, then converted.
    fn tree(v: &Value, fmt: Format) -> (Telemetry, Vec<RecordIssue>) {
        let mut out = Telemetry::default();
        let mut issues = Vec::new();
        let mut sink = Sink {
            line: None,
            issues: &mut issues,
        };
        if fmt == Format::JaegerJson {
            match v.get("data").and_then(Value::as_array) {
                Some(data) => {
                    for (i, t) in data.iter().enumerate() {
                        jaeger::read_trace(i, t, &mut out, &mut sink);
                    }
                }
                None => sink.bad("data".into(), "expected a `data` array"),
            }
        } else {
            read_value(v, &mut out, &mut sink);
        }
        (out, issues)
    }

    /// Streams `text` and checks it against the tree reader under every format; returns the
    /// streamed records and issues as detected.
    fn check(text: &str) -> (Telemetry, Vec<RecordIssue>) {
        let v: Value = serde_json::from_str(text).unwrap();
        let walk = || {
            let line = Cell::new(1);
            Values::new(text.as_bytes(), &line)
                .next_value()
                .unwrap()
                .unwrap()
        };
        let scan = || {
            let mut sc = Scanner::new(text.as_bytes());
            let top = sc.next_value().unwrap().unwrap();
            assert!(sc.next_value().unwrap().is_none());
            top
        };
        let top = walk();
        assert_eq!(top.detected(), classify(&v), "{text}");
        assert_eq!(top.is_otlp(), is_otlp(&v), "{text}");
        // The scanner, where it takes the document, gives exactly what the walk gives.
        if !matches!(v, Value::Object(_) | Value::Array(_)) {
            assert!(matches!(
                Scanner::new(text.as_bytes()).next_value(),
                Err(ScanError::Bail)
            ));
        } else {
            let scanned = scan();
            assert_eq!(scanned.detected(), top.detected(), "{text}");
            assert_eq!(scanned.is_otlp(), top.is_otlp(), "{text}");
            for fmt in [Format::JaegerJson, Format::OtlpJson] {
                assert_eq!(
                    scan().into_telemetry(fmt),
                    walk().into_telemetry(fmt),
                    "{text}"
                );
            }
        }
        let mut detected = None;
        for fmt in [classify(&v), Format::JaegerJson, Format::OtlpJson] {
            let (t, issues) = walk().into_telemetry(fmt);
            let (want, want_issues) = tree(&v, fmt);
            assert_eq!(t, want, "{fmt} {text}");
            let fields = |i: &[RecordIssue]| {
                i.iter()
                    .map(|i| (i.field.clone(), i.message.clone()))
                    .collect::<Vec<_>>()
            };
            assert_eq!(fields(&issues), fields(&want_issues), "{fmt} {text}");
            assert!(issues.iter().all(|i| i.line.is_some()), "{issues:?}");
            detected.get_or_insert((t, issues));
        }
        detected.unwrap()
    }

    /// Every JSON document of the corpus reads the same streamed as through the tree.
    #[test]
    fn streaming_equals_the_tree_reader_on_the_corpus() {
        let corpus =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/conformance");
        let mut spans = 0;
        for entry in std::fs::read_dir(corpus).unwrap() {
            let Ok(text) = std::fs::read_to_string(entry.unwrap().path().join("trace.json")) else {
                continue;
            };
            spans += check(&text).0.spans.len();
        }
        assert!(spans > 50, "{spans}");
    }

    /// Lines of skipped records are found inside their element and offset by its start.
    #[test]
    fn issue_lines_point_into_the_file() {
        let text = "{\n \"data\": [\n  {\"spans\": []},\n  {\"spans\": [\n    {\"traceID\": \"0af7651916cd43dd8448eb211c80319c\", \"spanID\": \"b7ad6b7169203331\"},\n    {\"traceID\": \"0af7651916cd43dd8448eb211c80319c\",\n     \"spanID\": \"zz\"}\n  ]}\n ]\n}\n";
        let (t, issues) = check(text);
        assert_eq!(t.spans.len(), 1);
        assert_eq!(issues.len(), 1);
        assert_eq!(issues[0].field, "data[1].spans[1].spanID");
        assert_eq!(issues[0].line, Some(7));
        let bare = "[\n {\"traceId\": \"0af7651916cd43dd8448eb211c80319c\",\n  \"spanId\": \"b7ad6b7169203331\"},\n {\"traceId\": \"0af7651916cd43dd8448eb211c80319c\",\n  \"spanId\": 7}\n]";
        let (t, issues) = check(bare);
        assert_eq!((t.spans.len(), issues.len()), (1, 1));
        assert_eq!(
            (issues[0].field.as_str(), issues[0].line),
            ("[1].spanId", Some(5))
        );
    }

    /// Resource spans are read span by span: members in any order (resource and scope after the
    /// spans), the older list and scope names, skipped elements, and lines inside a resource.
    #[test]
    fn resource_spans_stream_span_by_span() {
        let span = |id: &str| {
            format!(
                "{{\"traceId\": \"0af7651916cd43dd8448eb211c80319c\", \"spanId\": \"{id}\", \"name\": \"n\"}}"
            )
        };
        let text = format!(
            "{{\"batches\": [\n {{\"instrumentationLibrarySpans\": [\n  7,\n  {{\"spans\": [\n   {},\n   {},\n   \"x\"\n  ], \"instrumentationLibrary\": {{\"name\": \"lib\"}}}}\n ],\n \"resource\": {{\"attributes\": {{\"service\": {{\"name\": \"svc\"}}}}}}}},\n {{\"scope_spans\": {{}}, \"scopeSpans\": [{{\"scope\": {{\"name\": \"s\"}}, \"spans\": [{}]}}]}}\n]}}",
            span("b7ad6b7169203331"),
            span("nothex"),
            span("b7ad6b7169203332"),
        );
        let (t, issues) = check(&text);
        // `scopeSpans` wins over `scope_spans` in the second resource.
        assert_eq!(t.spans.len(), 2);
        assert_eq!(t.spans[1].scope.name, "s");
        let first = &t.spans[0];
        assert_eq!(first.scope.name, "lib");
        assert_eq!(
            first.resource.attributes.get_str("service.name"),
            Some("svc")
        );
        let fields: Vec<(&str, Option<usize>)> =
            issues.iter().map(|i| (i.field.as_str(), i.line)).collect();
        assert_eq!(
            fields,
            [
                ("batches[0].scopeSpans[1].spans[1].spanId", Some(6)),
                ("batches[0].scopeSpans[1].spans[2]", Some(7)),
            ]
        );
    }

    /// Resource logs are read record by record, with the same rules.
    #[test]
    fn resource_logs_stream_record_by_record() {
        let text = "{\"resourceLogs\": [{\"scope_logs\": [{\"log_records\": [\n {\"body\": {\"stringValue\": \"a\"}},\n {\"traceId\": \"zz\"},\n 3\n], \"scope\": {\"name\": \"l\"}}],\n \"resource\": {\"attributes\": [{\"key\": \"service.name\", \"value\": {\"stringValue\": \"svc\"}}]}}]}";
        let (t, issues) = check(text);
        assert_eq!(t.logs.len(), 1);
        assert_eq!(t.logs[0].scope.name, "l");
        assert_eq!(
            t.logs[0].resource.attributes.get_str("service.name"),
            Some("svc")
        );
        let fields: Vec<(&str, Option<usize>)> =
            issues.iter().map(|i| (i.field.as_str(), i.line)).collect();
        assert_eq!(
            fields,
            [
                (
                    "resourceLogs[0].scopeLogs[0].logRecords[1].traceId",
                    Some(3)
                ),
                ("resourceLogs[0].scopeLogs[0].logRecords[2]", Some(4)),
            ]
        );
    }

    /// JSON objects and arrays from OTLP, Tempo and Jaeger vocabulary, keys in any order.
    fn json_value() -> impl Strategy<Value = Value> {
        let key = prop::sample::select(vec![
            "resourceSpans",
            "resource_spans",
            "batches",
            "resourceLogs",
            "resource_logs",
            "scopeSpans",
            "scope_spans",
            "instrumentationLibrarySpans",
            "instrumentationLibrary",
            "scopeLogs",
            "scope_logs",
            "instrumentationLibraryLogs",
            "logRecords",
            "log_records",
            "spans",
            "resource",
            "scope",
            "trace",
            "data",
            "traceId",
            "spanId",
            "traceID",
            "spanID",
            "processes",
            "processID",
            "serviceName",
            "attributes",
            "key",
            "value",
            "stringValue",
            "name",
        ]);
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i32>().prop_map(Value::from),
            prop::sample::select(vec![
                "0af7651916cd43dd8448eb211c80319c",
                "b7ad6b7169203331",
                "CvdlGRbNQ92ESOshHIAxnA==",
                "x",
            ])
            .prop_map(Value::from),
        ];
        leaf.prop_recursive(5, 64, 6, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::vec((key.clone(), inner), 0..5).prop_map(|kv| {
                    Value::Object(kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
                }),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: crate::read::fuzz_cases(256), ..ProptestConfig::default() })]

        #[test]
        fn streaming_equals_the_tree_reader(v in json_value(), pretty in any::<bool>()) {
            let text = if pretty {
                serde_json::to_string_pretty(&v).unwrap()
            } else {
                v.to_string()
            };
            check(&text);
        }
    }
}
