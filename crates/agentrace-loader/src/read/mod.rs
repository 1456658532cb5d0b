//! Trace file readers and format detection.
//!
//! [`load_path`] and [`load_bytes`] read a whole file; [`for_each_batch`] streams it, handing over
//! one batch per JSON Lines line (or one for a whole document) so that a caller that builds
//! traces incrementally never holds more than it needs.

mod fast;
pub(crate) mod jaeger;
mod locate;
pub(crate) mod otlp_json;
pub mod proto;
mod stream;
pub mod wire;

use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader, Read as _};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde_json::Value;

use std::sync::Arc;

use crate::model::{Resource, Scope, Telemetry};
use otlp_json::Sink;

/// The container shape of a trace file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// An OTLP/JSON export document (`resourceSpans` / `resourceLogs`).
    OtlpJson,
    /// JSON Lines: each line an OTLP export document or a bare span.
    OtlpJsonl,
    /// Tempo v1 export: one object with top-level `batches`.
    TempoBatches,
    /// Tempo v2 export: `{"trace": {...}}`.
    TempoTraceWrapper,
    /// One bare span object or a list of them.
    OtlpBareSpans,
    /// Jaeger JSON (`{"data": [...]}`).
    JaegerJson,
    /// OTLP protobuf (`ExportTraceServiceRequest` / `TracesData`, or logs).
    OtlpProtobuf,
}

impl Format {
    /// The name used in outputs and on the command line (`otlp-json`, `jaeger-json`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OtlpJson => "otlp-json",
            Self::OtlpJsonl => "otlp-jsonl",
            Self::TempoBatches => "tempo-batches",
            Self::TempoTraceWrapper => "tempo-trace-wrapper",
            Self::OtlpBareSpans => "otlp-bare-spans",
            Self::JaegerJson => "jaeger-json",
            Self::OtlpProtobuf => "otlp-protobuf",
        }
    }

    /// What agentevals' own detection calls this shape: `jaeger-json` or `otlp-json`.
    pub fn agentevals_format(self) -> &'static str {
        match self {
            Self::JaegerJson => "jaeger-json",
            Self::OtlpProtobuf => "otlp-protobuf",
            _ => "otlp-json",
        }
    }

    /// Every format, for `--help` and errors.
    pub const ALL: [Format; 7] = [
        Self::OtlpJson,
        Self::OtlpJsonl,
        Self::TempoBatches,
        Self::TempoTraceWrapper,
        Self::OtlpBareSpans,
        Self::JaegerJson,
        Self::OtlpProtobuf,
    ];
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "otlp" | "otlp-json" => Ok(Self::OtlpJson),
            "jsonl" | "otlp-jsonl" => Ok(Self::OtlpJsonl),
            "tempo" | "tempo-batches" => Ok(Self::TempoBatches),
            "tempo-trace-wrapper" => Ok(Self::TempoTraceWrapper),
            "otlp-bare-spans" => Ok(Self::OtlpBareSpans),
            "jaeger" | "jaeger-json" => Ok(Self::JaegerJson),
            "protobuf" | "otlp-protobuf" | "otlp-proto" => Ok(Self::OtlpProtobuf),
            other => Err(format!(
                "unknown trace format `{other}` (expected one of: {})",
                Self::ALL.map(Format::as_str).join(", ")
            )),
        }
    }
}

/// One record (span, log record or line) that could not be read and was skipped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordIssue {
    /// The file, when reading from a path.
    pub file: Option<PathBuf>,
    /// The 1-based line (JSON Lines input, or where a JSON syntax error is).
    pub line: Option<usize>,
    /// The field path inside the document (`resourceSpans[0].scopeSpans[0].spans[3].spanId`).
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for RecordIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{}", file.display())?;
            if let Some(line) = self.line {
                write!(f, ":{line}")?;
            }
            f.write_str(": ")?;
        } else if let Some(line) = self.line {
            write!(f, "line {line}: ")?;
        }
        if !self.field.is_empty() {
            write!(f, "{}: ", self.field)?;
        }
        f.write_str(&self.message)
    }
}

/// Why a file could not be loaded at all.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be opened or read.
    #[error("could not read {}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The content is no trace format we know.
    #[error("{}: could not detect the trace format ({reason}); pass the format explicitly", path.display())]
    Detect {
        /// The file.
        path: PathBuf,
        /// What was seen.
        reason: String,
    },
    /// The file is not valid JSON where a single JSON document was expected.
    #[error("{}:{line}:{column}: invalid JSON: {message}", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The parser's message.
        message: String,
    },
    /// The file is not valid OTLP protobuf.
    #[error("{}: neither JSON nor valid OTLP protobuf", path.display())]
    Protobuf {
        /// The file.
        path: PathBuf,
        /// The decoder's error (the trace decoder's when there is one, else the log decoder's).
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// What a load produced: the telemetry, the detected format, and the records that were skipped.
#[derive(Debug, Default)]
pub struct Loaded {
    /// The format read (detected, or the override).
    pub format: Option<Format>,
    /// Spans and logs.
    pub telemetry: Telemetry,
    /// Records that could not be read (each also counted in `skipped`).
    pub issues: Vec<RecordIssue>,
}

impl Loaded {
    /// Records read: spans plus log records.
    pub fn read(&self) -> usize {
        self.telemetry.spans.len() + self.telemetry.logs.len()
    }

    /// Records skipped.
    pub fn skipped(&self) -> usize {
        self.issues.len()
    }
}

/// Options of a load.
#[derive(Clone, Copy, Debug, Default)]
pub struct LoadOptions {
    /// Read as this format instead of detecting it.
    pub format: Option<Format>,
}

/// Shares equal resources and scopes between batches (JSON Lines repeat them on every line).
#[derive(Default)]
pub(crate) struct Shared {
    resource: Option<Arc<Resource>>,
    scope: Option<Arc<Scope>>,
}

impl Shared {
    pub(crate) fn dedupe(&mut self, batch: &mut Telemetry) {
        let resources = batch
            .spans
            .iter_mut()
            .map(|s| (&mut s.resource, &mut s.scope))
            .chain(
                batch
                    .logs
                    .iter_mut()
                    .map(|l| (&mut l.resource, &mut l.scope)),
            );
        for (res, scope) in resources {
            match &self.resource {
                Some(r) if Arc::ptr_eq(r, res) => {}
                Some(r) if **r == **res => *res = Arc::clone(r),
                _ => self.resource = Some(Arc::clone(res)),
            }
            match &self.scope {
                Some(sc) if Arc::ptr_eq(sc, scope) => {}
                Some(sc) if **sc == **scope => *scope = Arc::clone(sc),
                _ => self.scope = Some(Arc::clone(scope)),
            }
        }
    }
}

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Loads a trace file (any supported format, optionally gzip-compressed).
pub fn load_path(path: &Path, opts: LoadOptions) -> Result<Loaded, LoadError> {
    let mut loaded = Loaded::default();
    let mut shared = Shared::default();
    let format = for_each_batch(path, opts, &mut loaded.issues, |mut batch| {
        shared.dedupe(&mut batch);
        loaded.telemetry.extend(batch);
    })?;
    loaded.format = Some(format);
    Ok(loaded)
}

/// Loads trace data from memory (any supported format, optionally gzip-compressed).
pub fn load_bytes(bytes: &[u8], opts: LoadOptions) -> Result<Loaded, LoadError> {
    let mut loaded = Loaded::default();
    let path = Path::new("<memory>");
    // A one-line document (an OTLP/HTTP JSON body, say) goes to the typed fast path in place:
    // the general route would first copy the line, which is the whole text, to try the same.
    let mut fast_tried = false;
    if matches!(opts.format, None | Some(Format::OtlpJson)) && !bytes.starts_with(&GZIP_MAGIC) {
        let end = bytes
            .iter()
            .rposition(|b| !b.is_ascii_whitespace())
            .map_or(0, |i| i + 1);
        let text = &bytes[..end];
        if matches!(first_non_ws(text), Some(b'{' | b'[')) && !text.contains(&b'\n') {
            if let Some(telemetry) = fast::parse(text) {
                loaded.telemetry = telemetry;
                loaded.format = Some(Format::OtlpJson);
                return Ok(loaded);
            }
            fast_tried = true;
        }
    }
    let format = read_stream(
        path,
        bytes,
        opts,
        &mut loaded.issues,
        &mut |batch| loaded.telemetry.extend(batch),
        None,
        fast_tried,
    )?;
    loaded.format = Some(format);
    Ok(loaded)
}

/// Streams a trace file: `f` receives one batch per JSON Lines line, or one for a whole
/// document. Skipped records are appended to `issues` (with the file name). Returns the format.
pub fn for_each_batch(
    path: &Path,
    opts: LoadOptions,
    issues: &mut Vec<RecordIssue>,
    mut f: impl FnMut(Telemetry),
) -> Result<Format, LoadError> {
    let io = |source| LoadError::Io {
        path: path.to_owned(),
        source,
    };
    let file = File::open(path).map_err(io)?;
    let start = issues.len();
    let reopen = || open_decoded(path);
    let r = read_stream(
        path,
        BufReader::with_capacity(1 << 16, file),
        opts,
        issues,
        &mut f,
        Some(&reopen),
        false,
    );
    for i in &mut issues[start..] {
        i.file = Some(path.to_owned());
    }
    r
}

/// Like [`for_each_batch`], from memory.
pub fn for_each_batch_bytes(
    bytes: &[u8],
    opts: LoadOptions,
    issues: &mut Vec<RecordIssue>,
    mut f: impl FnMut(Telemetry),
) -> Result<Format, LoadError> {
    read_stream(
        Path::new("<memory>"),
        bytes,
        opts,
        issues,
        &mut f,
        None,
        false,
    )
}

/// Streams a trace file trace by trace: consecutive batches that share a trace id are gathered,
/// and `f` receives them as a [`TraceSet`](crate::trace::TraceSet) as soon as a batch arrives
/// that shares none. Where a file's traces are contiguous (one line or document per trace, or
/// consecutive lines) memory is bounded by the largest trace. Logs travel with the batch they were
/// read in. Returns the format.
pub fn for_each_trace_set(
    path: &Path,
    opts: LoadOptions,
    issues: &mut Vec<RecordIssue>,
    mut f: impl FnMut(crate::trace::TraceSet),
) -> Result<Format, LoadError> {
    use std::collections::HashSet;

    use crate::model::TraceId;

    let mut pending = Telemetry::default();
    let mut ids: HashSet<TraceId> = HashSet::new();
    let format = for_each_batch(path, opts, issues, |batch| {
        let batch_ids: HashSet<TraceId> = batch
            .spans
            .iter()
            .map(|s| s.trace_id)
            .chain(batch.logs.iter().filter_map(|l| l.trace_id))
            .collect();
        if !pending.spans.is_empty() && ids.is_disjoint(&batch_ids) {
            f(crate::trace::TraceSet::build(std::mem::take(&mut pending)));
            ids.clear();
        }
        ids.extend(batch_ids);
        pending.extend(batch);
    })?;
    if !pending.spans.is_empty() || !pending.logs.is_empty() {
        f(crate::trace::TraceSet::build(pending));
    }
    Ok(format)
}

/// Reopens a file for a second, whole read, decompressing it if it is gzip.
fn open_decoded(path: &Path) -> Result<Box<dyn BufRead>, LoadError> {
    let io = |source| LoadError::Io {
        path: path.to_owned(),
        source,
    };
    let mut r = BufReader::with_capacity(1 << 16, File::open(path).map_err(io)?);
    if r.fill_buf().map_err(io)?.starts_with(&GZIP_MAGIC) {
        return Ok(Box::new(BufReader::with_capacity(
            1 << 16,
            flate2::bufread::MultiGzDecoder::new(r),
        )));
    }
    Ok(Box::new(r))
}

/// Reopens the input from its start (file input only).
type Reopen<'a> = Option<&'a dyn Fn() -> Result<Box<dyn BufRead>, LoadError>>;

fn read_stream<R: BufRead>(
    path: &Path,
    mut r: R,
    opts: LoadOptions,
    issues: &mut Vec<RecordIssue>,
    f: &mut dyn FnMut(Telemetry),
    reopen: Reopen<'_>,
    fast_tried: bool,
) -> Result<Format, LoadError> {
    let io = |source| LoadError::Io {
        path: path.to_owned(),
        source,
    };
    let head = r.fill_buf().map_err(io)?;
    if head.starts_with(&GZIP_MAGIC) {
        let gz = BufReader::with_capacity(1 << 16, flate2::bufread::MultiGzDecoder::new(r));
        return read_plain(path, gz, opts, issues, f, reopen, false);
    }
    read_plain(path, r, opts, issues, f, reopen, fast_tried)
}

/// The next line that is not blank, or an empty buffer at the end of the input.
fn next_non_blank_line<R: BufRead>(r: &mut R) -> std::io::Result<Vec<u8>> {
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = r.read_until(b'\n', &mut line)?;
        if n == 0 {
            line.clear();
            return Ok(line);
        }
        if first_non_ws(&line).is_some() {
            return Ok(line);
        }
    }
}

fn first_non_ws(b: &[u8]) -> Option<u8> {
    b.iter().copied().find(|c| !c.is_ascii_whitespace())
}

fn read_plain<R: BufRead>(
    path: &Path,
    mut r: R,
    opts: LoadOptions,
    issues: &mut Vec<RecordIssue>,
    f: &mut dyn FnMut(Telemetry),
    reopen: Reopen<'_>,
    fast_tried: bool,
) -> Result<Format, LoadError> {
    let io = |source| LoadError::Io {
        path: path.to_owned(),
        source,
    };
    if opts.format == Some(Format::OtlpProtobuf) {
        let mut buf = Vec::new();
        r.read_to_end(&mut buf).map_err(io)?;
        return read_protobuf(path, &buf, issues, f);
    }
    if opts.format == Some(Format::OtlpJsonl) {
        read_jsonl(path, r, 0, None, issues, f)?;
        return Ok(Format::OtlpJsonl);
    }
    // Read the first line to tell a document from JSON Lines without reading the whole file.
    let mut first = Vec::new();
    r.read_until(b'\n', &mut first).map_err(io)?;
    match first_non_ws(&first) {
        Some(b'{' | b'[') => {}
        None if first.is_empty() => {
            return match opts.format {
                Some(fmt) => Ok(fmt),
                None => Err(LoadError::Detect {
                    path: path.to_owned(),
                    reason: "the file is empty".into(),
                }),
            };
        }
        _ => {
            let mut buf = first;
            r.read_to_end(&mut buf).map_err(io)?;
            if first_non_ws(&buf).is_none() {
                return Err(LoadError::Detect {
                    path: path.to_owned(),
                    reason: "the file is empty".into(),
                });
            }
            return read_protobuf(path, &buf, issues, f);
        }
    }
    // A long first line that is the whole file (a one-line document): streamed again from the
    // file, so that its text and its model are never held together.
    let mut peeked: Option<Vec<u8>> = None;
    if first.len() > REREAD_LINE_BYTES
        && let Some(reopen) = reopen
    {
        let rest = next_non_blank_line(&mut r).map_err(io)?;
        if rest.is_empty() {
            drop(first);
            if matches!(opts.format, None | Some(Format::OtlpJson))
                && let Some(batch) = fast::parse_stream(reopen()?)
            {
                f(batch);
                return Ok(Format::OtlpJson);
            }
            return read_documents(
                path,
                &|| reopen().map(|r| r as Box<dyn BufRead>),
                opts,
                issues,
                f,
            );
        }
        peeked = Some(rest);
    }
    let mut next_line = |r: &mut R| match peeked.take() {
        Some(line) => Ok(line),
        None => next_non_blank_line(r).map_err(io),
    };
    // A canonical OTLP document on the first line: a one-line document or the first of JSON Lines
    // (`fast_tried`: the caller tried this very line already).
    if matches!(opts.format, None | Some(Format::OtlpJson))
        && !fast_tried
        && let Some(batch) = fast::parse(&first)
    {
        drop(first);
        let rest = next_line(&mut r)?;
        f(batch);
        if rest.is_empty() {
            return Ok(Format::OtlpJson);
        }
        read_jsonl(path, r, 1, Some(rest), issues, f)?;
        return Ok(Format::OtlpJsonl);
    }
    // A complete JSON value on the first line followed by more content is JSON Lines.
    if serde_json::from_slice::<serde::de::IgnoredAny>(&first).is_ok() {
        let rest_first = next_line(&mut r)?;
        if rest_first.is_empty() {
            // One single-line document (a long one from a file was taken above).
            return read_documents(
                path,
                &|| Ok(Box::new(&first[..]) as Box<dyn BufRead + '_>),
                opts,
                issues,
                f,
            );
        }
        // JSON Lines: first line, then the line we peeked at, then the rest.
        let line = std::cell::Cell::new(1);
        let top = stream::Values::new(&first[..], &line)
            .next_value()
            .map_err(|e| json_error(path, &e))?
            .ok_or_else(|| LoadError::Detect {
                path: path.to_owned(),
                reason: "the file is empty".into(),
            })?;
        if opts.format.is_none() && !top.is_otlp() {
            return Err(LoadError::Detect {
                path: path.to_owned(),
                reason: "the first line is neither an OTLP document nor a span".into(),
            });
        }
        let (batch, line_issues) = top.into_telemetry(Format::OtlpJson);
        issues.extend(
            line_issues
                .into_iter()
                .map(|i| RecordIssue { line: Some(1), ..i }),
        );
        f(batch);
        read_jsonl(path, r, 1, Some(rest_first), issues, f)?;
        return Ok(Format::OtlpJsonl);
    }
    // Otherwise one multi-line document (or several). From a file, canonical OTLP/JSON is decoded
    // as it streams in; anything else is read again from the start by the streaming lenient
    // reader. Neither holds the file in memory.
    let otlp = matches!(opts.format, None | Some(Format::OtlpJson));
    match reopen {
        Some(reopen) => {
            // The line peeked at above, if any, goes back between the first line and the rest.
            let peeked = std::io::Cursor::new(peeked.take().unwrap_or_default());
            if otlp
                && let Some(batch) =
                    fast::parse_stream(std::io::Cursor::new(&first).chain(peeked).chain(&mut r))
            {
                f(batch);
                return Ok(Format::OtlpJson);
            }
            drop(first);
            read_documents(
                path,
                &|| reopen().map(|r| r as Box<dyn BufRead>),
                opts,
                issues,
                f,
            )
        }
        None => {
            let mut buf = first;
            r.read_to_end(&mut buf).map_err(io)?;
            if otlp && let Some(batch) = fast::parse(&buf) {
                f(batch);
                return Ok(Format::OtlpJson);
            }
            read_documents(
                path,
                &|| Ok(Box::new(&buf[..]) as Box<dyn BufRead + '_>),
                opts,
                issues,
                f,
            )
        }
    }
}

/// A single-line document longer than this is read a second time, streaming, from its file.
const REREAD_LINE_BYTES: usize = 1 << 20;

fn json_error(path: &Path, e: &serde_json::Error) -> LoadError {
    LoadError::Json {
        path: path.to_owned(),
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    }
}

/// How a walk of the input stopped early.
enum Stop {
    /// The scanner gave up: read again with the walking reader.
    Bail,
    /// Invalid JSON (from the walking reader).
    Syntax(serde_json::Error),
    /// The input could not be read, or is empty.
    Fail(LoadError),
}

/// Opens the input of [`read_documents`] from its start.
type Open<'a, 'b> = &'a dyn Fn() -> Result<Box<dyn BufRead + 'b>, LoadError>;

/// Reads one JSON document, or several one after another, with the streaming lenient reader: the
/// byte scanner first, and, if it gives up (invalid JSON, unusual nesting), the `serde` walk from
/// the start, which skips the documents already handed over and reports errors precisely.
fn read_documents(
    path: &Path,
    open: Open<'_, '_>,
    opts: LoadOptions,
    issues: &mut Vec<RecordIssue>,
    f: &mut dyn FnMut(Telemetry),
) -> Result<Format, LoadError> {
    let io = |source| LoadError::Io {
        path: path.to_owned(),
        source,
    };
    let mut emitted = 0usize;
    let mut scanner = stream::Scanner::new(open()?);
    let mut next = || {
        scanner.next_value().map_err(|e| match e {
            stream::ScanError::Io(e) => Stop::Fail(io(e)),
            stream::ScanError::Bail => Stop::Bail,
        })
    };
    match drive(path, &mut next, opts, issues, f, 0, &mut emitted) {
        Ok(fmt) => return Ok(fmt),
        Err(Stop::Fail(e)) => return Err(e),
        Err(Stop::Bail | Stop::Syntax(_)) => {}
    }
    let line = std::cell::Cell::new(1);
    let mut values = stream::Values::new(open()?, &line);
    let mut next = || {
        values.next_value().map_err(|e| {
            if e.is_io() {
                Stop::Fail(io(e.into()))
            } else {
                Stop::Syntax(e)
            }
        })
    };
    match drive(path, &mut next, opts, issues, f, emitted, &mut 0) {
        Ok(fmt) => Ok(fmt),
        Err(Stop::Fail(e)) => Err(e),
        Err(Stop::Syntax(e)) => Err(json_error(path, &e)),
        Err(Stop::Bail) => Err(LoadError::Detect {
            path: path.to_owned(),
            reason: "unreadable JSON".into(),
        }),
    }
}

/// Hands over the documents `next` yields, after the first `skip` (already handed over);
/// `emitted` counts those handed over so far.
fn drive(
    path: &Path,
    next: &mut dyn FnMut() -> Result<Option<stream::Top>, Stop>,
    opts: LoadOptions,
    issues: &mut Vec<RecordIssue>,
    f: &mut dyn FnMut(Telemetry),
    skip: usize,
    emitted: &mut usize,
) -> Result<Format, Stop> {
    let Some(first) = next()? else {
        return Err(Stop::Fail(LoadError::Detect {
            path: path.to_owned(),
            reason: "the file is empty".into(),
        }));
    };
    let second = next();
    match second {
        Ok(None) => {
            let fmt = opts.format.unwrap_or_else(|| first.detected());
            if opts.format.is_none() && fmt == Format::OtlpJson && !first.is_otlp() {
                return Err(Stop::Fail(LoadError::Detect {
                    path: path.to_owned(),
                    reason: "a JSON value that is neither OTLP nor Jaeger".into(),
                }));
            }
            let (batch, doc_issues) = first.into_telemetry(fmt);
            issues.extend(doc_issues);
            f(batch);
            *emitted = 1;
            return Ok(fmt);
        }
        Err(Stop::Bail) => return Err(Stop::Bail),
        Err(Stop::Fail(e)) => return Err(Stop::Fail(e)),
        Ok(Some(_)) | Err(Stop::Syntax(_)) => {}
    }
    // Several pretty-printed documents one after another: each is Jaeger when it has `data` and
    // nothing OTLP, else OTLP.
    let mut k = 0usize;
    let mut emit = |top: stream::Top, issues: &mut Vec<RecordIssue>| {
        if k >= skip {
            let fmt = if opts.format != Some(Format::JaegerJson) && top.jaeger_like() {
                Format::JaegerJson
            } else {
                Format::OtlpJson
            };
            let (batch, doc_issues) = top.into_telemetry(fmt);
            issues.extend(doc_issues);
            f(batch);
        }
        k += 1;
        *emitted = k;
    };
    emit(first, issues);
    let mut cur = second;
    loop {
        match cur {
            Ok(Some(top)) => emit(top, issues),
            Ok(None) => break,
            Err(Stop::Syntax(e)) => {
                issues.push(RecordIssue {
                    file: None,
                    line: Some(e.line()),
                    field: String::new(),
                    message: format!("invalid JSON: {e}"),
                });
                break;
            }
            Err(stop) => return Err(stop),
        }
        cur = next();
    }
    Ok(Format::OtlpJsonl)
}

fn read_jsonl<R: BufRead>(
    path: &Path,
    mut r: R,
    mut line_no: usize,
    mut pending: Option<Vec<u8>>,
    issues: &mut Vec<RecordIssue>,
    f: &mut dyn FnMut(Telemetry),
) -> Result<(), LoadError> {
    let mut line = Vec::with_capacity(1 << 16);
    loop {
        let cur = if let Some(p) = pending.take() {
            line_no += 1;
            p
        } else {
            line.clear();
            let n = r
                .read_until(b'\n', &mut line)
                .map_err(|source| LoadError::Io {
                    path: path.to_owned(),
                    source,
                })?;
            if n == 0 {
                break;
            }
            line_no += 1;
            std::mem::take(&mut line)
        };
        if first_non_ws(&cur).is_some() {
            if let Some(batch) = fast::parse(&cur) {
                f(batch);
            } else {
                read_line_lenient(&cur, line_no, issues, f);
            }
        }
        if line.capacity() == 0 {
            line = cur;
        }
    }
    Ok(())
}

fn read_line_lenient(
    cur: &[u8],
    line_no: usize,
    issues: &mut Vec<RecordIssue>,
    f: &mut dyn FnMut(Telemetry),
) {
    {
        {
            match serde_json::from_slice::<Value>(cur) {
                Ok(v) => {
                    let mut batch = Telemetry::default();
                    let mut sink = Sink {
                        line: Some(line_no),
                        issues,
                    };
                    otlp_json::read_value(&v, &mut batch, &mut sink);
                    f(batch);
                }
                Err(e) => issues.push(RecordIssue {
                    file: None,
                    line: Some(line_no),
                    field: String::new(),
                    message: format!("invalid JSON at column {}: {e}", e.column()),
                }),
            }
        }
    }
}

fn read_protobuf(
    path: &Path,
    buf: &[u8],
    issues: &mut Vec<RecordIssue>,
    f: &mut dyn FnMut(Telemetry),
) -> Result<Format, LoadError> {
    match proto::decode_file(buf) {
        Ok((t, errors)) => {
            for e in errors {
                issues.push(RecordIssue {
                    file: None,
                    line: None,
                    field: String::new(),
                    message: e.to_string(),
                });
            }
            f(t);
            Ok(Format::OtlpProtobuf)
        }
        Err(source) => Err(LoadError::Protobuf {
            path: path.to_owned(),
            source,
        }),
    }
}

/// True when a JSON value is something the OTLP reader understands.
fn is_otlp(v: &Value) -> bool {
    match v {
        Value::Object(o) => {
            [
                "resourceSpans",
                "resourceLogs",
                "batches",
                "resource_spans",
                "resource_logs",
            ]
            .iter()
            .any(|k| o.contains_key(*k))
                || o.get("trace").and_then(Value::as_object).is_some_and(|t| {
                    ["resourceSpans", "batches", "resource_spans"]
                        .iter()
                        .any(|k| t.contains_key(*k))
                })
                || otlp_json::looks_like_span(o)
        }
        Value::Array(items) => {
            !items.is_empty()
                && items
                    .iter()
                    .all(|i| i.as_object().is_some_and(otlp_json::looks_like_span))
        }
        _ => false,
    }
}

/// The container shape of one JSON document (`otlp-json` when it is nothing we know).
pub fn classify(v: &Value) -> Format {
    match v {
        Value::Object(o) => {
            if o.contains_key("batches") {
                Format::TempoBatches
            } else if o.contains_key("resourceSpans")
                || o.contains_key("resourceLogs")
                || o.contains_key("resource_spans")
                || o.contains_key("resource_logs")
            {
                Format::OtlpJson
            } else if o.get("trace").is_some_and(Value::is_object) {
                Format::TempoTraceWrapper
            } else if otlp_json::looks_like_span(o) {
                Format::OtlpBareSpans
            } else if o.contains_key("data") {
                Format::JaegerJson
            } else {
                Format::OtlpJson
            }
        }
        Value::Array(_) if is_otlp(v) => Format::OtlpBareSpans,
        _ => Format::OtlpJson,
    }
}

/// The case count of a property test over hostile input: `AGENTRACE_FUZZ_CASES` when set (as
/// `cargo xtask fuzz` sets it), else `default`.
#[cfg(test)]
pub(crate) fn fuzz_cases(default: u32) -> u32 {
    std::env::var("AGENTRACE_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
