//! Output of a run: the `scores` array (the conformance corpus' shape), the JSON document,
//! a readable table and JUnit XML.
//!
//! [`RunReport`] holds every result and writes any format from them. A run that should not keep
//! every result renders each group as soon as it is evaluated ([`render_group`]: its part of the
//! output, its `scores` entries and its outcome counts), moves the rendered part to a temporary
//! file in group order ([`Spill`]) and writes the whole output at the end ([`Rendered::write`]);
//! both ways give the same bytes.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read as _, Seek as _, SeekFrom, Write};
use std::sync::Mutex;

use serde::Serialize;

use crate::metrics::trajectory::MatchType;
use crate::result::{GroupResult, MetricResult, Status};

/// One entry of `scores`: one (group, metric, match type).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ScoreEntry {
    /// Group index in the run.
    pub group: usize,
    /// The group's earliest trace.
    pub trace_id: String,
    /// Metric name.
    pub metric: String,
    /// Trajectory match type.
    pub match_type: Option<MatchType>,
    /// Threshold in force.
    pub threshold: Option<f64>,
    /// Overall score.
    pub score: Option<f64>,
    /// Outcome.
    pub status: Status,
    /// Per-invocation scores.
    pub per_invocation_scores: Vec<Option<f64>>,
    /// Error text.
    pub error: Option<String>,
    /// Why not evaluated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Expected turns without an actual one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing_turns: Option<usize>,
    /// Actual turns without an expected one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unexpected_turns: Option<usize>,
}

fn match_rank(m: Option<MatchType>) -> u8 {
    match m {
        None => 0,
        Some(MatchType::Exact) => 1,
        Some(MatchType::InOrder) => 2,
        Some(MatchType::AnyOrder) => 3,
    }
}

/// The `scores` of groups (group index = position), sorted by group, metric, match type.
pub fn scores<'a>(groups: impl IntoIterator<Item = &'a GroupResult>) -> Vec<ScoreEntry> {
    let mut out: Vec<ScoreEntry> = groups
        .into_iter()
        .enumerate()
        .flat_map(|(gi, g)| g.metrics.iter().map(move |m| entry(gi, g, m)))
        .collect();
    out.sort_by(|a, b| {
        (a.group, &a.metric, match_rank(a.match_type)).cmp(&(
            b.group,
            &b.metric,
            match_rank(b.match_type),
        ))
    });
    out
}

fn entry(gi: usize, g: &GroupResult, m: &MetricResult) -> ScoreEntry {
    ScoreEntry {
        group: gi,
        trace_id: g.trace_id.clone(),
        metric: m.metric.clone(),
        match_type: m.match_type,
        threshold: m.threshold,
        score: m.score,
        status: m.status,
        per_invocation_scores: m.per_invocation_scores.clone(),
        error: m.error.clone(),
        reason: m.reason.clone(),
        missing_turns: m.missing_turns,
        unexpected_turns: m.unexpected_turns,
    }
}

/// The exit status of a run: 0 when nothing failed (NOT_EVALUATED does not fail), 1 when a
/// metric FAILED or has an error.
pub fn exit_code<'a>(groups: impl IntoIterator<Item = &'a GroupResult>) -> u8 {
    u8::from(groups.into_iter().any(GroupResult::fails))
}

/// Escapes text for XML content and attributes.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 cannot hold.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push('\u{FFFD}'),
            '\u{FFFE}' | '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Formats a score with four decimals, or `N/A`.
pub fn fmt_score(s: Option<f64>) -> String {
    s.map_or_else(|| "N/A".to_owned(), |v| format!("{v:.4}"))
}

/// The results of one trace file.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FileResult {
    /// The file as given.
    pub file: String,
    /// Its groups, in order.
    pub groups: Vec<GroupResult>,
    /// Records the reader skipped, with why.
    pub warnings: Vec<String>,
}

/// A file that could not be evaluated.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunError {
    /// The file.
    pub file: String,
    /// Why.
    pub error: String,
}

/// The whole run: every file's results and the files that could not be read.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RunReport {
    /// Evaluated files, in the order given.
    pub files: Vec<FileResult>,
    /// Files that could not be evaluated.
    pub errors: Vec<RunError>,
}

/// Counts of outcomes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Evaluation groups.
    pub groups: usize,
    /// Metric results.
    pub results: usize,
    /// PASSED.
    pub passed: usize,
    /// FAILED.
    pub failed: usize,
    /// NOT_EVALUATED.
    pub not_evaluated: usize,
    /// Results with an error.
    pub errored: usize,
    /// Files that could not be evaluated.
    pub file_errors: usize,
}

impl RunReport {
    fn groups(&self) -> impl Iterator<Item = (&FileResult, &GroupResult)> {
        self.files
            .iter()
            .flat_map(|f| f.groups.iter().map(move |g| (f, g)))
    }

    /// The exit status: 2 when a file could not be evaluated, else 1 when a metric FAILED or has
    /// an error, else 0 (NOT_EVALUATED does not fail).
    pub fn exit_code(&self) -> u8 {
        if !self.errors.is_empty() {
            2
        } else {
            exit_code(self.groups().map(|(_, g)| g))
        }
    }

    /// Outcome counts.
    pub fn summary(&self) -> Summary {
        let mut s = Summary {
            file_errors: self.errors.len(),
            ..Summary::default()
        };
        for (_, g) in self.groups() {
            s.groups += 1;
            for m in &g.metrics {
                s.results += 1;
                match m.status {
                    Status::Passed => s.passed += 1,
                    Status::Failed => s.failed += 1,
                    Status::NotEvaluated => s.not_evaluated += 1,
                }
                if m.error.is_some() {
                    s.errored += 1;
                }
            }
        }
        s
    }

    /// The JSON document of `--format json`: `scores` (the conformance corpus' shape, group
    /// indexes over the whole run), `groups` with every detail, `errors`, `summary` and
    /// `exit_code`.
    pub fn to_json(&self) -> serde_json::Value {
        let groups: Vec<serde_json::Value> = self
            .groups()
            .enumerate()
            .map(|(i, (f, g))| {
                let mut v = serde_json::to_value(g).unwrap_or_default();
                if let Some(o) = v.as_object_mut() {
                    o.insert("index".into(), i.into());
                    o.insert("file".into(), f.file.clone().into());
                }
                v
            })
            .collect();
        let warnings: Vec<serde_json::Value> = self
            .files
            .iter()
            .flat_map(|f| {
                f.warnings
                    .iter()
                    .map(move |w| serde_json::json!({"file": f.file, "warning": w}))
            })
            .collect();
        serde_json::json!({
            "scores": scores(self.groups().map(|(_, g)| g)),
            "groups": groups,
            "warnings": warnings,
            "errors": self.errors,
            "summary": self.summary(),
            "exit_code": self.exit_code(),
        })
    }

    /// The JSON document of `--format json` as bytes, with a final newline: the same document
    /// as [`RunReport::to_json`] printed pretty, written from the typed results.
    pub fn to_json_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        // Writing to a vector cannot fail.
        let _ = self.render(OutputFormat::Json).write(&mut out);
        out
    }

    /// The readable table: per group its results, the reason of each failure and a diff of each
    /// failed trajectory; then a summary line.
    pub fn to_table(&self) -> String {
        let mut out = Vec::new();
        let _ = self.render(OutputFormat::Table).write(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    }

    /// JUnit XML: one test suite per group, one test case per metric; FAILED is a failure, an
    /// error is an error, NOT_EVALUATED is skipped; unreadable files are suites with one error.
    pub fn to_junit(&self) -> String {
        let mut out = Vec::new();
        let _ = self.render(OutputFormat::Junit).write(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    }

    /// Every group rendered in `format` ([`render_group`]): what [`Rendered::write`] writes.
    pub fn render(&self, format: OutputFormat) -> Rendered {
        Rendered {
            format,
            files: self
                .files
                .iter()
                .map(|f| RenderedFile {
                    file: f.file.clone(),
                    groups: f.groups.iter().map(|g| render_group(format, g)).collect(),
                    warnings: f.warnings.clone(),
                    spill: None,
                })
                .collect(),
            errors: self.errors.clone(),
        }
    }
}

/// An output format of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputFormat {
    /// The readable table ([`RunReport::to_table`]).
    Table,
    /// The JSON document ([`RunReport::to_json`]).
    Json,
    /// JUnit XML ([`RunReport::to_junit`]).
    Junit,
}

/// Outcome counts of one group's results: what the summary, the exit code and the JUnit
/// headers need of it.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Counts {
    results: usize,
    passed: usize,
    failed: usize,
    not_evaluated: usize,
    errored: usize,
    failed_with_error: usize,
    skipped_with_error: usize,
    seconds: f64,
}

impl Counts {
    fn of(g: &GroupResult) -> Self {
        let mut c = Self {
            results: g.metrics.len(),
            ..Self::default()
        };
        for m in &g.metrics {
            match m.status {
                Status::Passed => c.passed += 1,
                Status::Failed => c.failed += 1,
                Status::NotEvaluated => c.not_evaluated += 1,
            }
            if m.error.is_some() {
                c.errored += 1;
                match m.status {
                    Status::Failed => c.failed_with_error += 1,
                    Status::NotEvaluated => c.skipped_with_error += 1,
                    Status::Passed => {}
                }
            }
        }
        c.seconds = g.metrics.iter().map(|m| m.duration_ms).sum::<f64>() / 1000.0;
        c
    }
}

/// What is kept of a group once its output is rendered ([`render_group`]): its part of the
/// output, without what depends on its place in the run (its index, its file), its `scores`
/// entries (JSON), and its outcome counts. The group's results can be dropped.
#[derive(Clone, Debug, PartialEq)]
pub struct RenderedGroup {
    trace_id: String,
    num_invocations: usize,
    case: String,
    scores: Vec<ScoreEntry>,
    counts: Counts,
    body: Vec<u8>,
    /// The length of the body when it was moved to its file's spill ([`Spill::put`]).
    spilled: Option<u64>,
}

impl RenderedGroup {
    /// True when a result of the group fails the run.
    pub fn fails(&self) -> bool {
        self.counts.failed > 0 || self.counts.errored > 0
    }
}

/// The rendered groups of one file.
#[derive(Debug)]
pub struct RenderedFile {
    /// The file as given.
    pub file: String,
    /// Its groups, in order.
    pub groups: Vec<RenderedGroup>,
    /// Records the reader skipped, with why.
    pub warnings: Vec<String>,
    /// The bodies of the groups that were spilled ([`Spill::finish`]), in order.
    pub spill: Option<File>,
}

/// Rendered groups' bodies written to a file in group order as the worker threads finish them
/// (in any order), so that memory keeps of each group only what the summary, the exit code and
/// the `scores` need. A body that comes before its turn waits in memory for the ones before it
/// (at most the groups in flight).
#[derive(Debug)]
pub struct Spill {
    state: Mutex<SpillState>,
}

#[derive(Debug)]
struct SpillState {
    out: BufWriter<File>,
    next: usize,
    waiting: BTreeMap<usize, Vec<u8>>,
    started: bool,
    error: Option<std::io::Error>,
}

impl Spill {
    /// A spill writing to `file` (empty, opened for reading and writing).
    pub fn new(file: File) -> Self {
        Self {
            state: Mutex::new(SpillState {
                out: BufWriter::with_capacity(1 << 16, file),
                next: 0,
                waiting: BTreeMap::new(),
                started: false,
                error: None,
            }),
        }
    }

    /// Moves the body of group `index` of the file (the position it is written at) out of `g`
    /// into the spill. A group 0 put again starts the spill over: the file is being read again
    /// whole ([`crate::run::run_file_with`]), and its groups come again from the first.
    pub fn put(&self, index: usize, g: &mut RenderedGroup) {
        let body = std::mem::take(&mut g.body);
        g.spilled = Some(body.len() as u64);
        let Ok(mut st) = self.state.lock() else {
            return;
        };
        let st = &mut *st;
        if index == 0 {
            if st.started && st.error.is_none() {
                let restart = st.out.flush().and_then(|()| {
                    let f = st.out.get_mut();
                    f.set_len(0)?;
                    f.seek(SeekFrom::Start(0)).map(drop)
                });
                if let Err(e) = restart {
                    st.error = Some(e);
                }
                st.next = 0;
                st.waiting.clear();
            }
            st.started = true;
        }
        st.waiting.insert(index, body);
        while let Some(b) = st.waiting.remove(&st.next) {
            if st.error.is_none()
                && let Err(e) = st.out.write_all(&b)
            {
                st.error = Some(e);
            }
            st.next += 1;
        }
    }

    /// The spill file, rewound to be read, once every group was put; the first write error if
    /// one failed, or an error if a group never came.
    pub fn finish(self) -> std::io::Result<File> {
        let st = self
            .state
            .into_inner()
            .map_err(|_| std::io::Error::other("a thread failed while writing the spill"))?;
        if let Some(e) = st.error {
            return Err(e);
        }
        if !st.waiting.is_empty() {
            return Err(std::io::Error::other("a group is missing from the spill"));
        }
        let mut f = st.out.into_inner().map_err(|e| e.into_error())?;
        f.seek(SeekFrom::Start(0))?;
        Ok(f)
    }
}

/// Writes the groups' bodies of one file: from memory, or in order from its spill.
struct Bodies<'a> {
    spill: Option<BufReader<&'a File>>,
}

impl<'a> Bodies<'a> {
    fn of(f: &'a RenderedFile) -> Self {
        Self {
            spill: f
                .spill
                .as_ref()
                .map(|s| BufReader::with_capacity(1 << 16, s)),
        }
    }

    fn write<W: Write>(&mut self, g: &RenderedGroup, w: &mut W) -> std::io::Result<()> {
        match (g.spilled, &mut self.spill) {
            (Some(n), Some(r)) => {
                let copied = std::io::copy(&mut r.take(n), w)?;
                if copied == n {
                    Ok(())
                } else {
                    Err(std::io::Error::other(
                        "the spill file is shorter than written",
                    ))
                }
            }
            (Some(_), None) => Err(std::io::Error::other("a spilled group has no spill file")),
            (None, _) => w.write_all(&g.body),
        }
    }
}

/// A run rendered group by group: the output is written from it ([`Rendered::write`]).
#[derive(Debug)]
pub struct Rendered {
    /// The output format the groups were rendered in.
    pub format: OutputFormat,
    /// Evaluated files, in the order given.
    pub files: Vec<RenderedFile>,
    /// Files that could not be evaluated.
    pub errors: Vec<RunError>,
}

/// `serde_json`'s pretty printer (two spaces) starting `indent` levels deep, so that a value
/// can be written on its own into its place in a larger pretty document.
struct Nested {
    indent: usize,
    has_value: bool,
}

impl Nested {
    fn at(indent: usize) -> Self {
        Self {
            indent,
            has_value: false,
        }
    }

    fn newline<W: ?Sized + Write>(&self, w: &mut W) -> std::io::Result<()> {
        /// A newline and the indentation of the levels that occur (deeper ones are written in
        /// parts).
        const LINE: &[u8] = b"\n                                ";
        let mut spaces = 2 * self.indent;
        let first = spaces.min(LINE.len() - 1);
        w.write_all(&LINE[..=first])?;
        spaces -= first;
        while spaces > 0 {
            let n = spaces.min(LINE.len() - 1);
            w.write_all(&LINE[1..=n])?;
            spaces -= n;
        }
        Ok(())
    }

    /// An array or object opens: one level deeper, nothing in it yet.
    fn open<W: ?Sized + Write>(&mut self, w: &mut W, bracket: &[u8]) -> std::io::Result<()> {
        self.indent += 1;
        self.has_value = false;
        w.write_all(bracket)
    }

    /// An array or object closes, on a line of its own when it held something.
    fn close<W: ?Sized + Write>(&mut self, w: &mut W, bracket: &[u8]) -> std::io::Result<()> {
        self.indent -= 1;
        if self.has_value {
            self.newline(w)?;
        }
        w.write_all(bracket)
    }

    /// Before an element or a key: a comma after the first, then a new line.
    fn separate<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> std::io::Result<()> {
        if !first {
            w.write_all(b",")?;
        }
        self.newline(w)
    }
}

impl serde_json::ser::Formatter for Nested {
    fn begin_array<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.open(w, b"[")
    }

    fn end_array<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.close(w, b"]")
    }

    fn begin_array_value<W: ?Sized + Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.separate(w, first)
    }

    fn end_array_value<W: ?Sized + Write>(&mut self, _w: &mut W) -> std::io::Result<()> {
        self.has_value = true;
        Ok(())
    }

    fn begin_object<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.open(w, b"{")
    }

    fn end_object<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.close(w, b"}")
    }

    fn begin_object_key<W: ?Sized + Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.separate(w, first)
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        w.write_all(b": ")
    }

    fn end_object_value<W: ?Sized + Write>(&mut self, _w: &mut W) -> std::io::Result<()> {
        self.has_value = true;
        Ok(())
    }
}

/// Writes `v` pretty, `indent` levels deep.
fn write_nested<W: Write, T: Serialize + ?Sized>(
    w: &mut W,
    v: &T,
    indent: usize,
) -> std::io::Result<()> {
    v.serialize(&mut serde_json::Serializer::with_formatter(
        w,
        Nested::at(indent),
    ))
    .map_err(std::io::Error::other)
}

/// The end of a group object in the JSON document, as [`write_nested`] writes it at depth 2.
const GROUP_END: &[u8] = b"\n    }";

/// Renders one group's part of the output in `format`, keeping what the rest of the output
/// needs; the group's results are not needed afterwards.
pub fn render_group(format: OutputFormat, g: &GroupResult) -> RenderedGroup {
    let mut body = Vec::new();
    let mut scores = Vec::new();
    let mut case = String::new();
    match format {
        OutputFormat::Json => {
            // Object fields, without the closing brace: `index` and `file` follow.
            let _ = write_nested(&mut body, g, 2);
            if body.ends_with(GROUP_END) {
                body.truncate(body.len() - GROUP_END.len());
            }
            scores = g.metrics.iter().map(|m| entry(0, g, m)).collect();
            scores.sort_by(|a, b| {
                (&a.metric, match_rank(a.match_type)).cmp(&(&b.metric, match_rank(b.match_type)))
            });
        }
        OutputFormat::Table => {
            case = match (&g.eval_case_id, &g.eval_case_match, &g.eval_case_reason) {
                (Some(id), Some(how), _) => format!("case {id} ({how})"),
                (None, _, Some(reason)) => format!("no case: {reason}"),
                _ => "no eval set".to_owned(),
            };
            body = table_rows(g).into_bytes();
        }
        OutputFormat::Junit => body = junit_cases(g).into_bytes(),
    }
    RenderedGroup {
        trace_id: g.trace_id.clone(),
        num_invocations: g.num_invocations,
        case,
        scores,
        counts: Counts::of(g),
        body,
        spilled: None,
    }
}

impl Rendered {
    fn groups(&self) -> impl Iterator<Item = (&RenderedFile, &RenderedGroup)> {
        self.files
            .iter()
            .flat_map(|f| f.groups.iter().map(move |g| (f, g)))
    }

    fn totals(&self) -> Counts {
        let mut t = Counts::default();
        for (_, g) in self.groups() {
            let c = &g.counts;
            t.results += c.results;
            t.passed += c.passed;
            t.failed += c.failed;
            t.not_evaluated += c.not_evaluated;
            t.errored += c.errored;
            t.failed_with_error += c.failed_with_error;
            t.skipped_with_error += c.skipped_with_error;
        }
        t
    }

    /// Outcome counts, as [`RunReport::summary`].
    pub fn summary(&self) -> Summary {
        let t = self.totals();
        Summary {
            groups: self.groups().count(),
            results: t.results,
            passed: t.passed,
            failed: t.failed,
            not_evaluated: t.not_evaluated,
            errored: t.errored,
            file_errors: self.errors.len(),
        }
    }

    /// The exit status, as [`RunReport::exit_code`].
    pub fn exit_code(&self) -> u8 {
        if !self.errors.is_empty() {
            2
        } else {
            u8::from(self.groups().any(|(_, g)| g.fails()))
        }
    }

    /// Writes the whole output.
    pub fn write<W: Write>(self, w: &mut W) -> std::io::Result<()> {
        match self.format {
            OutputFormat::Json => self.write_json(w),
            OutputFormat::Table => self.write_table(w),
            OutputFormat::Junit => self.write_junit(w),
        }
    }

    fn write_json<W: Write>(mut self, w: &mut W) -> std::io::Result<()> {
        let summary = self.summary();
        let exit_code = self.exit_code();
        let mut scores = Vec::new();
        for (gi, g) in self
            .files
            .iter_mut()
            .flat_map(|f| f.groups.iter_mut())
            .enumerate()
        {
            for mut e in std::mem::take(&mut g.scores) {
                e.group = gi;
                scores.push(e);
            }
        }
        w.write_all(b"{\n  \"scores\": ")?;
        write_nested(w, &scores, 1)?;
        drop(scores);
        w.write_all(b",\n  \"groups\": [")?;
        let mut gi = 0;
        for f in &self.files {
            let mut bodies = Bodies::of(f);
            for g in &f.groups {
                w.write_all(if gi > 0 { b",\n    " } else { b"\n    " })?;
                bodies.write(g, w)?;
                write!(w, ",\n      \"index\": {gi},\n      \"file\": ")?;
                serde_json::to_writer(&mut *w, &f.file).map_err(std::io::Error::other)?;
                w.write_all(GROUP_END)?;
                gi += 1;
            }
        }
        let any = gi > 0;
        w.write_all(if any { b"\n  ]" } else { b"]" })?;
        #[derive(Serialize)]
        struct Warning<'a> {
            file: &'a str,
            warning: &'a str,
        }
        let warnings: Vec<Warning<'_>> = self
            .files
            .iter()
            .flat_map(|f| {
                f.warnings.iter().map(move |w| Warning {
                    file: &f.file,
                    warning: w,
                })
            })
            .collect();
        w.write_all(b",\n  \"warnings\": ")?;
        write_nested(w, &warnings, 1)?;
        w.write_all(b",\n  \"errors\": ")?;
        write_nested(w, &self.errors, 1)?;
        w.write_all(b",\n  \"summary\": ")?;
        write_nested(w, &summary, 1)?;
        write!(w, ",\n  \"exit_code\": {exit_code}\n}}\n")
    }

    fn write_table<W: Write>(self, w: &mut W) -> std::io::Result<()> {
        let mut gi = 0;
        for f in &self.files {
            let mut bodies = Bodies::of(f);
            for g in &f.groups {
                writeln!(
                    w,
                    "Group {gi}: trace {} ({}, {} invocation(s), {})",
                    g.trace_id, f.file, g.num_invocations, g.case
                )?;
                bodies.write(g, w)?;
                gi += 1;
            }
        }
        for f in &self.files {
            for warning in &f.warnings {
                writeln!(w, "warning: {}: skipped {warning}", f.file)?;
            }
        }
        for e in &self.errors {
            writeln!(w, "error: {}: {}", e.file, e.error)?;
        }
        let s = self.summary();
        writeln!(
            w,
            "{} group(s), {} result(s): {} passed, {} failed, {} not evaluated, {} error(s); {} file(s) not evaluated",
            s.groups, s.results, s.passed, s.failed, s.not_evaluated, s.errored, s.file_errors
        )
    }

    fn write_junit<W: Write>(self, w: &mut W) -> std::io::Result<()> {
        let s = self.summary();
        let t = self.totals();
        w.write_all(b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")?;
        writeln!(
            w,
            "<testsuites name=\"agentrace\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\">",
            s.results + s.file_errors,
            s.failed.saturating_sub(t.failed_with_error),
            s.errored + s.file_errors,
            s.not_evaluated.saturating_sub(t.skipped_with_error),
        )?;
        let mut gi = 0;
        for f in &self.files {
            let mut bodies = Bodies::of(f);
            for g in &f.groups {
                let c = &g.counts;
                writeln!(
                    w,
                    "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{:.3}\">",
                    xml_escape(&format!("{} group {gi} trace {}", f.file, g.trace_id)),
                    c.results,
                    c.failed - c.failed_with_error,
                    c.errored,
                    c.not_evaluated - c.skipped_with_error,
                    c.seconds,
                )?;
                bodies.write(g, w)?;
                gi += 1;
            }
        }
        for e in &self.errors {
            write!(
                w,
                "  <testsuite name=\"{}\" tests=\"1\" failures=\"0\" errors=\"1\" skipped=\"0\">\n    <testcase classname=\"agentrace\" name=\"load\">\n      <error message=\"{}\"/>\n    </testcase>\n  </testsuite>\n",
                xml_escape(&e.file),
                xml_escape(&e.error)
            )?;
        }
        w.write_all(b"</testsuites>\n")
    }
}

/// A group's rows in the table: one per metric with its failure reasons and trajectory diff,
/// then an empty line.
fn table_rows(g: &GroupResult) -> String {
    let mut out = String::new();
    let rows: Vec<[String; 5]> = g
        .metrics
        .iter()
        .map(|m| {
            let name = match m.match_type {
                Some(mt) => format!("{} ({})", m.metric, mt.as_str()),
                None => m.metric.clone(),
            };
            let per = m
                .per_invocation_scores
                .iter()
                .map(|s| s.map_or_else(|| "-".to_owned(), |v| format!("{v:.2}")))
                .collect::<Vec<_>>()
                .join(" ");
            [
                icon(m).to_owned(),
                name,
                fmt_score(m.score),
                m.status.as_str().to_owned(),
                per,
            ]
        })
        .collect();
    let mut w = [0usize; 5];
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    for (r, m) in rows.iter().zip(&g.metrics) {
        let mut line = String::from("  ");
        for (i, c) in r.iter().enumerate() {
            line.push_str(c);
            line.push_str(&" ".repeat(w[i] - c.chars().count() + 2));
        }
        out.push_str(line.trim_end());
        out.push('\n');
        for why in failure_reasons(m) {
            out.push_str(&format!("      {why}\n"));
        }
        if m.status == Status::Failed {
            out.push_str(&trajectory_diff(m));
        }
    }
    out.push('\n');
    out
}

/// A group's test cases in JUnit XML and the end of its test suite.
fn junit_cases(g: &GroupResult) -> String {
    let mut out = String::new();
    for m in &g.metrics {
        let name = match m.match_type {
            Some(mt) => format!("{} ({})", m.metric, mt.as_str()),
            None => m.metric.clone(),
        };
        out.push_str(&format!(
            "    <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\"",
            xml_escape(&g.trace_id),
            xml_escape(&name),
            m.duration_ms / 1000.0
        ));
        let mut body = failure_reasons(m).join("\n");
        body.push('\n');
        body.push_str(&trajectory_diff(m));
        if let Some(e) = &m.error {
            out.push_str(&format!(
                ">\n      <error message=\"{}\">{}</error>\n    </testcase>\n",
                xml_escape(e),
                xml_escape(&body)
            ));
        } else if m.status == Status::Failed {
            out.push_str(&format!(
                ">\n      <failure message=\"{}\">{}</failure>\n    </testcase>\n",
                xml_escape(&format!(
                    "score {} below threshold {}",
                    fmt_score(m.score),
                    m.threshold
                        .map_or_else(|| "-".to_owned(), |t| t.to_string())
                )),
                xml_escape(&body)
            ));
        } else if m.status == Status::NotEvaluated {
            out.push_str(&format!(
                ">\n      <skipped message=\"{}\"/>\n    </testcase>\n",
                xml_escape(m.reason.as_deref().unwrap_or("not evaluated"))
            ));
        } else {
            out.push_str("/>\n");
        }
    }
    out.push_str("  </testsuite>\n");
    out
}

fn icon(m: &MetricResult) -> &'static str {
    if m.error.is_some() {
        return "[ERR ]";
    }
    match m.status {
        Status::Passed => "[PASS]",
        Status::Failed => "[FAIL]",
        Status::NotEvaluated => "[----]",
    }
}

/// Why a result failed or was not evaluated, as lines.
fn failure_reasons(m: &MetricResult) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(e) = &m.error {
        out.push(format!("error: {e}"));
    }
    if let Some(r) = &m.reason {
        out.push(format!("reason: {r}"));
    }
    if m.status == Status::Failed && m.error.is_none() {
        match (m.score, m.threshold) {
            (Some(s), Some(t)) => out.push(format!("score {s:.4} is below the threshold {t}")),
            _ => {
                if let Some(over) = m.details.get("over_budget").and_then(|v| v.as_array()) {
                    out.push(format!(
                        "over the budget of {} {} in invocation(s) {}",
                        m.details["max"],
                        m.details["unit"].as_str().unwrap_or(""),
                        over.iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
            }
        }
    }
    if let Some(n) = m.missing_turns {
        out.push(format!("{n} expected turn(s) had no actual turn"));
    }
    if let Some(n) = m.unexpected_turns {
        out.push(format!("{n} actual turn(s) had no expected turn"));
    }
    if let Some(rs) = m.details.get("rationales").and_then(|v| v.as_array()) {
        for r in rs.iter().filter_map(|r| r.as_str()) {
            out.push(format!("judge: {r}"));
        }
    }
    out
}

fn call_label(v: &serde_json::Value) -> String {
    let name = v["name"].as_str().unwrap_or("?");
    let args = match &v["args"] {
        serde_json::Value::Null => String::new(),
        a => a.to_string(),
    };
    format!("{name}({args})")
}

/// A line diff of expected against actual tool calls for every unmatched invocation of a
/// trajectory result: `-` expected only, `+` actual only, ` ` both.
pub fn trajectory_diff(m: &MetricResult) -> String {
    let mut out = String::new();
    let Some(cmp) = m.details.get("comparisons").and_then(|v| v.as_array()) else {
        return out;
    };
    for c in cmp.iter().filter(|c| c["matched"] == false) {
        let exp: Vec<String> = c["expected"]
            .as_array()
            .map(|a| a.iter().map(call_label).collect())
            .unwrap_or_default();
        let act: Vec<String> = c["actual"]
            .as_array()
            .map(|a| a.iter().map(call_label).collect())
            .unwrap_or_default();
        out.push_str(&format!(
            "      trajectory of invocation {} (- expected, + actual):\n",
            c["invocation_id"].as_str().unwrap_or("?")
        ));
        for line in diff_lines(&exp, &act) {
            out.push_str(&format!("        {line}\n"));
        }
        if exp.is_empty() && act.is_empty() {
            out.push_str("        (no calls)\n");
        }
    }
    out
}

/// A longest-common-subsequence diff of two short lists.
fn diff_lines(a: &[String], b: &[String]) -> Vec<String> {
    let (n, m) = (a.len(), b.len());
    // Past this size the table would not help: list both sides.
    if n.saturating_mul(m) > 250_000 {
        return a
            .iter()
            .map(|x| format!("- {x}"))
            .chain(b.iter().map(|y| format!("+ {y}")))
            .collect();
    }
    let mut l = vec![vec![0usize; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            l[i][j] = if a[i] == b[j] {
                l[i + 1][j + 1] + 1
            } else {
                l[i + 1][j].max(l[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::new();
    while i < n || j < m {
        if i < n && j < m && a[i] == b[j] {
            out.push(format!("  {}", a[i]));
            i += 1;
            j += 1;
        } else if j < m && (i == n || l[i][j + 1] >= l[i + 1][j]) {
            out.push(format!("+ {}", b[j]));
            j += 1;
        } else {
            out.push(format!("- {}", a[i]));
            i += 1;
        }
    }
    out
}
