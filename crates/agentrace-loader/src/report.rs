//! The extraction part of agentevals' `expected.json`: `format` through `invocations`.

use serde::Serialize;
use serde_json::{Map, Value};

use std::io::{self, BufRead as _, BufReader, Read, Seek, SeekFrom, Write};

use crate::extract::{CaseSelection, Extraction, Group, GroupBy, ToolCall, Turn};
use crate::groups::StreamEnd;
use crate::model::TraceId;
use crate::read::Format;
use crate::trace::TraceSet;

/// One group of the report.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct GroupReport {
    /// Position.
    pub index: usize,
    /// Group key.
    pub key: String,
    /// Earliest trace.
    pub trace_id: String,
    /// Member traces by start.
    pub trace_ids: Vec<String>,
    /// Turns.
    pub num_invocations: usize,
    /// Golden case selected (present only with an eval set).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eval_case_id: Option<Option<String>>,
    /// How it was selected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eval_case_match: Option<Option<String>>,
    /// Why none was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eval_case_reason: Option<Option<String>>,
}

/// One tool call of the report.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ToolCallReport {
    /// Name.
    pub name: String,
    /// Arguments as the metric compares them (always an object).
    pub args: Value,
    /// Call id.
    pub id: Option<String>,
    /// Failed.
    pub is_error: bool,
}

/// One tool response of the report.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ToolResponseReport {
    /// Name.
    pub name: String,
    /// Result (always an object).
    pub response: Value,
    /// Call id.
    pub id: Option<String>,
}

/// One invocation of the report.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct InvocationReport {
    /// Group index.
    pub group: usize,
    /// Turn index in the group.
    pub index: usize,
    /// Anchor span id.
    pub invocation_id: String,
    /// Anchor trace id.
    pub trace_id: String,
    /// Agent name.
    pub agent_name: Option<String>,
    /// User text.
    pub user_text: Option<String>,
    /// Agent text.
    pub agent_text: Option<String>,
    /// Tool calls in trajectory order.
    pub tool_calls: Vec<ToolCallReport>,
    /// Tool responses of calls with a result.
    pub tool_responses: Vec<ToolResponseReport>,
    /// Distinct models.
    pub models: Vec<String>,
    /// Logical LLM calls.
    pub llm_call_count: usize,
    /// Gap codes.
    pub warnings: Vec<String>,
}

/// The extraction report (`expected.json` from `format` to `invocations`).
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Report {
    /// Container shape.
    pub format: String,
    /// What agentevals' detection says.
    pub agentevals_format: String,
    /// Traces with spans.
    pub trace_count: usize,
    /// Spans after de-duplication.
    pub span_count: usize,
    /// Log records decoded.
    pub log_count: usize,
    /// Grouping mode asked for (`auto` unless set), as agentevals records it.
    pub group_by: String,
    /// Grouping actually used (`auto` resolved to `trace` or `conversation`); not in agentevals'
    /// output.
    pub group_by_resolved: String,
    /// Groups.
    pub groups: Vec<GroupReport>,
    /// Invocations of every group.
    pub invocations: Vec<InvocationReport>,
}

/// The tool call's arguments (or response) as the report's object: an object as it is, any
/// other value under `key`, nothing as `{}`.
fn wrap(v: Option<Value>, key: &str) -> Value {
    match v {
        None => Value::Object(Map::new()),
        Some(Value::Object(o)) => Value::Object(o),
        Some(other) => {
            let mut m = Map::new();
            m.insert(key.to_owned(), other);
            Value::Object(m)
        }
    }
}

pub(crate) fn invocation(group: usize, index: usize, t: &Turn) -> InvocationReport {
    report(group, index, t, t.tool_calls.iter().cloned())
}

/// [`invocation`] of a turn that is not needed afterwards: its tool calls move into the report
/// instead of being copied.
pub(crate) fn invocation_owned(group: usize, index: usize, mut t: Turn) -> InvocationReport {
    let calls = std::mem::take(&mut t.tool_calls);
    report(group, index, &t, calls)
}

/// The report of turn `t` with its tool calls `calls` (each call's name and id are copied only
/// for a call with a result, which its response repeats).
fn report(
    group: usize,
    index: usize,
    t: &Turn,
    calls: impl IntoIterator<Item = ToolCall>,
) -> InvocationReport {
    let calls = calls.into_iter();
    let mut tool_calls = Vec::with_capacity(calls.size_hint().0);
    let mut tool_responses = Vec::new();
    for c in calls {
        if let Some(result) = c.result {
            tool_responses.push(ToolResponseReport {
                name: c.name.clone(),
                response: wrap(Some(result), "result"),
                id: c.call_id.clone(),
            });
        }
        tool_calls.push(ToolCallReport {
            name: c.name,
            args: wrap(c.arguments, "value"),
            id: c.call_id,
            is_error: c.is_error,
        });
    }
    InvocationReport {
        group,
        index,
        invocation_id: t.anchor.to_string(),
        trace_id: t.trace_id.to_string(),
        agent_name: t.agent_name.clone(),
        user_text: t.user_text(),
        agent_text: t.agent_text(),
        tool_calls,
        tool_responses,
        models: t.models(),
        llm_call_count: t.llm_calls.len(),
        warnings: t.warnings.iter().map(|g| g.code.to_owned()).collect(),
    }
}

/// The record counts a report states: traces with spans, spans after de-duplication, log
/// records decoded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Traces with spans.
    pub traces: usize,
    /// Spans after de-duplication.
    pub spans: usize,
    /// Log records decoded.
    pub logs: usize,
}

impl Counts {
    /// The counts of a trace set.
    pub fn of(set: &TraceSet) -> Self {
        Self {
            traces: set.traces.len(),
            spans: set.span_count(),
            logs: set.log_count,
        }
    }
}

/// One group as the report reads it (borrowed, so that a cache need not clone its turns).
pub(crate) struct GroupRef<'a> {
    pub(crate) key: &'a str,
    pub(crate) trace_ids: &'a [TraceId],
    pub(crate) turns: &'a [Turn],
    pub(crate) case: Option<&'a CaseSelection>,
}

/// The report of one group.
fn group_report(gi: usize, g: &GroupRef<'_>) -> GroupReport {
    let trace_ids: Vec<String> = g.trace_ids.iter().map(ToString::to_string).collect();
    GroupReport {
        index: gi,
        key: g.key.to_owned(),
        trace_id: trace_ids.first().cloned().unwrap_or_default(),
        trace_ids,
        num_invocations: g.turns.len(),
        eval_case_id: g.case.map(|c| c.eval_case_id.clone()),
        eval_case_match: g.case.map(|c| c.how.map(str::to_owned)),
        eval_case_reason: g.case.map(|c| c.reason.clone()),
    }
}

impl Report {
    /// Builds the report of an extraction.
    pub fn new(format: Format, set: &TraceSet, ex: &Extraction) -> Self {
        Self::from_counts(format, Counts::of(set), ex)
    }

    /// Builds the report of an extraction from the counts alone, without the trace set.
    pub fn from_counts(format: Format, counts: Counts, ex: &Extraction) -> Self {
        Self::assemble(
            format,
            counts,
            ex.requested_group_by,
            ex.group_by,
            ex.groups.iter().map(|g| GroupRef {
                key: &g.key,
                trace_ids: &g.trace_ids,
                turns: &g.turns,
                case: g.case.as_ref(),
            }),
        )
    }

    pub(crate) fn assemble<'a>(
        format: Format,
        counts: Counts,
        requested: GroupBy,
        resolved: GroupBy,
        groups_in: impl Iterator<Item = GroupRef<'a>>,
    ) -> Self {
        let mut groups = Vec::new();
        let mut invocations = Vec::new();
        for (gi, g) in groups_in.enumerate() {
            groups.push(group_report(gi, &g));
            for (ti, t) in g.turns.iter().enumerate() {
                invocations.push(invocation(gi, ti, t));
            }
        }
        Self {
            format: format.as_str().to_owned(),
            agentevals_format: format.agentevals_format().to_owned(),
            trace_count: counts.traces,
            span_count: counts.spans,
            log_count: counts.logs,
            group_by: requested.as_str().to_owned(),
            group_by_resolved: resolved.as_str().to_owned(),
            groups,
            invocations,
        }
    }
}

/// Shortens `s` to at most `max` characters (char-aware), on one line.
fn clip(s: &str, max: usize) -> String {
    let one_line: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= max {
        return one_line;
    }
    let mut out: String = one_line.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// The header row of the invocation table.
const TABLE_HEADER: [&str; 10] = [
    "grp",
    "turn",
    "invocation",
    "agent",
    "user",
    "agent text",
    "tools",
    "models",
    "llm",
    "warnings",
];

/// The table's first line: format, counts, grouping.
fn table_summary(
    format: &str,
    agentevals_format: &str,
    counts: Counts,
    resolved: &str,
    requested: &str,
) -> String {
    format!(
        "{format} ({agentevals_format}): {} trace(s), {} span(s), {} log record(s); grouped by {resolved} ({requested})\n",
        counts.traces, counts.spans, counts.logs
    )
}

/// The table's line of one group.
fn table_group_line(g: &GroupReport) -> String {
    let case = match (&g.eval_case_id, &g.eval_case_match, &g.eval_case_reason) {
        (Some(Some(id)), Some(Some(how)), _) => format!("; case {id} ({how})"),
        (Some(None), _, Some(Some(reason))) => format!("; no case: {reason}"),
        _ => String::new(),
    };
    format!(
        "group {} {}: {} trace(s), {} invocation(s){case}\n",
        g.index,
        g.key,
        g.trace_ids.len(),
        g.num_invocations
    )
}

/// The table's cells of one invocation.
fn table_cells(inv: &InvocationReport) -> Vec<String> {
    vec![
        inv.group.to_string(),
        inv.index.to_string(),
        inv.invocation_id.clone(),
        inv.agent_name.clone().unwrap_or_else(|| "-".into()),
        clip(inv.user_text.as_deref().unwrap_or("-"), 40),
        clip(inv.agent_text.as_deref().unwrap_or("-"), 40),
        clip(
            &inv.tool_calls
                .iter()
                .map(|t| t.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            40,
        ),
        inv.models.join(", "),
        inv.llm_call_count.to_string(),
        inv.warnings.join(", "),
    ]
}

/// One table row, padded to `widths`, and after the header row its rule.
fn table_row(out: &mut String, i: usize, r: &[String], widths: &[usize]) {
    use std::fmt::Write as _;
    let line: Vec<String> = r
        .iter()
        .zip(widths)
        .map(|(cell, w)| {
            let pad = w.saturating_sub(cell.chars().count());
            format!("{cell}{}", " ".repeat(pad))
        })
        .collect();
    let _ = writeln!(out, "{}", line.join("  ").trim_end());
    if i == 0 {
        let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
        let _ = writeln!(out, "{}", rule.join("  "));
    }
}

impl Report {
    /// A readable plain-text table of the invocations, with a summary line and the groups.
    pub fn to_table(&self) -> String {
        let mut out = table_summary(
            &self.format,
            &self.agentevals_format,
            Counts {
                traces: self.trace_count,
                spans: self.span_count,
                logs: self.log_count,
            },
            &self.group_by_resolved,
            &self.group_by,
        );
        for g in &self.groups {
            out.push_str(&table_group_line(g));
        }
        let mut rows: Vec<Vec<String>> =
            vec![TABLE_HEADER.iter().map(|h| (*h).to_owned()).collect()];
        rows.extend(self.invocations.iter().map(table_cells));
        let widths: Vec<usize> = (0..TABLE_HEADER.len())
            .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
            .collect();
        for (i, r) in rows.iter().enumerate() {
            table_row(&mut out, i, r, &widths);
        }
        out
    }
}

/// The output shape of a [`ReportStream`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportFormat {
    /// [`Report::to_table`].
    Table,
    /// [`Report`] as pretty-printed JSON and a newline.
    Json,
}

/// Writes a report group by group, as [`groups::for_each_group`](crate::groups::for_each_group)
/// hands groups over, with the same bytes as [`Report::to_table`] or the pretty-printed JSON of
/// [`Report`] (and a newline) of the whole file. The report's head (counts, grouping) is known
/// only at the end, so the groups and the invocations are written to two spill files (any
/// `Read + Write + Seek`, a temporary file say) and copied out by [`ReportStream::finish`]:
/// memory holds one group at a time.
#[derive(Debug)]
pub struct ReportStream<S> {
    format: ReportFormat,
    groups: S,
    invocations: S,
    /// Table column widths so far (table only).
    widths: Vec<usize>,
    /// Groups written.
    index: usize,
    /// Invocations written.
    rows: usize,
}

/// Pretty JSON of `v`, every line indented by four spaces (an element of a top-level array),
/// written in one piece.
fn pretty_element(v: &impl Serialize, out: &mut impl Write) -> io::Result<()> {
    let text = serde_json::to_string_pretty(v)?;
    let mut indented = String::with_capacity(text.len() + text.len() / 8 + 4);
    indented.push_str("    ");
    for (i, part) in text.split('\n').enumerate() {
        if i > 0 {
            indented.push_str("\n    ");
        }
        indented.push_str(part);
    }
    out.write_all(indented.as_bytes())
}

impl<S: Read + Write + Seek> ReportStream<S> {
    /// A writer spilling to `groups` and `invocations` (both empty).
    pub fn new(format: ReportFormat, groups: S, invocations: S) -> Self {
        Self {
            format,
            groups,
            invocations,
            widths: TABLE_HEADER.iter().map(|h| h.chars().count()).collect(),
            index: 0,
            rows: 0,
        }
    }

    /// Writes one group (the next in order) and its invocations: one write to each spill.
    pub fn push(&mut self, group: Group) -> io::Result<()> {
        let gi = self.index;
        let g = group_report(
            gi,
            &GroupRef {
                key: &group.key,
                trace_ids: &group.trace_ids,
                turns: &group.turns,
                case: group.case.as_ref(),
            },
        );
        let mut groups = Vec::new();
        match self.format {
            ReportFormat::Json => {
                if gi > 0 {
                    groups.extend_from_slice(b",\n");
                }
                pretty_element(&g, &mut groups)?;
            }
            ReportFormat::Table => groups.extend_from_slice(table_group_line(&g).as_bytes()),
        }
        let mut invocations = Vec::new();
        for (ti, t) in group.turns.into_iter().enumerate() {
            let inv = invocation_owned(gi, ti, t);
            match self.format {
                ReportFormat::Json => {
                    if self.rows > 0 {
                        invocations.extend_from_slice(b",\n");
                    }
                    pretty_element(&inv, &mut invocations)?;
                }
                ReportFormat::Table => {
                    let cells = table_cells(&inv);
                    for (w, c) in self.widths.iter_mut().zip(&cells) {
                        *w = (*w).max(c.chars().count());
                    }
                    serde_json::to_writer(&mut invocations, &cells)?;
                    invocations.push(b'\n');
                }
            }
            self.rows += 1;
        }
        self.groups.write_all(&groups)?;
        self.invocations.write_all(&invocations)?;
        self.index += 1;
        Ok(())
    }

    /// Writes the whole report to `out`: the head from `end`, then what was spilled.
    pub fn finish(mut self, end: &StreamEnd, out: &mut dyn Write) -> io::Result<()> {
        self.groups.seek(SeekFrom::Start(0))?;
        self.invocations.seek(SeekFrom::Start(0))?;
        match self.format {
            ReportFormat::Json => {
                let head = Report {
                    format: end.format.as_str().to_owned(),
                    agentevals_format: end.format.agentevals_format().to_owned(),
                    trace_count: end.counts.traces,
                    span_count: end.counts.spans,
                    log_count: end.counts.logs,
                    group_by: end.requested_group_by.as_str().to_owned(),
                    group_by_resolved: end.group_by.as_str().to_owned(),
                    groups: Vec::new(),
                    invocations: Vec::new(),
                };
                let text = serde_json::to_string_pretty(&head)?;
                const TAIL: &str = "\"groups\": [],\n  \"invocations\": []\n}";
                let prefix = text.strip_suffix(TAIL).ok_or_else(|| {
                    io::Error::other("the report's JSON does not end with its lists")
                })?;
                out.write_all(prefix.as_bytes())?;
                out.write_all(b"\"groups\": ")?;
                copy_list(self.index, &mut self.groups, out)?;
                out.write_all(b",\n  \"invocations\": ")?;
                copy_list(self.rows, &mut self.invocations, out)?;
                out.write_all(b"\n}\n")?;
            }
            ReportFormat::Table => {
                let counts = end.counts;
                out.write_all(
                    table_summary(
                        end.format.as_str(),
                        end.format.agentevals_format(),
                        counts,
                        end.group_by.as_str(),
                        end.requested_group_by.as_str(),
                    )
                    .as_bytes(),
                )?;
                io::copy(&mut self.groups, out)?;
                let mut line = String::new();
                let header: Vec<String> = TABLE_HEADER.iter().map(|h| (*h).to_owned()).collect();
                table_row(&mut line, 0, &header, &self.widths);
                out.write_all(line.as_bytes())?;
                let mut reader = BufReader::new(&mut self.invocations);
                let mut text = String::new();
                for _ in 0..self.rows {
                    text.clear();
                    reader.read_line(&mut text)?;
                    let cells: Vec<String> = serde_json::from_str(&text)?;
                    line.clear();
                    table_row(&mut line, 1, &cells, &self.widths);
                    out.write_all(line.as_bytes())?;
                }
            }
        }
        Ok(())
    }
}

/// A top-level list of `n` spilled elements, as pretty JSON writes it.
fn copy_list(n: usize, spill: &mut impl Read, out: &mut dyn Write) -> io::Result<()> {
    if n == 0 {
        return out.write_all(b"[]");
    }
    out.write_all(b"[\n")?;
    io::copy(spill, out)?;
    out.write_all(b"\n  ]")
}
