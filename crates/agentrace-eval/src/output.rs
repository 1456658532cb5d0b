//! Output of a run: the `scores` array (the conformance corpus' shape), the JSON document,
//! a readable table and JUnit XML. Pure functions from results to text.

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

    /// The readable table: per group its results, the reason of each failure and a diff of each
    /// failed trajectory; then a summary line.
    pub fn to_table(&self) -> String {
        let mut out = String::new();
        for (gi, (f, g)) in self.groups().enumerate() {
            let case = match (&g.eval_case_id, &g.eval_case_match, &g.eval_case_reason) {
                (Some(id), Some(how), _) => format!("case {id} ({how})"),
                (None, _, Some(reason)) => format!("no case: {reason}"),
                _ => "no eval set".to_owned(),
            };
            out.push_str(&format!(
                "Group {gi}: trace {} ({}, {} invocation(s), {case})\n",
                g.trace_id, f.file, g.num_invocations
            ));
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
        }
        for w in self.files.iter().flat_map(|f| {
            f.warnings
                .iter()
                .map(move |w| format!("warning: {}: skipped {w}", f.file))
        }) {
            out.push_str(&w);
            out.push('\n');
        }
        for e in &self.errors {
            out.push_str(&format!("error: {}: {}\n", e.file, e.error));
        }
        let s = self.summary();
        out.push_str(&format!(
            "{} group(s), {} result(s): {} passed, {} failed, {} not evaluated, {} error(s); {} file(s) not evaluated\n",
            s.groups, s.results, s.passed, s.failed, s.not_evaluated, s.errored, s.file_errors
        ));
        out
    }

    /// JUnit XML: one test suite per group, one test case per metric; FAILED is a failure, an
    /// error is an error, NOT_EVALUATED is skipped; unreadable files are suites with one error.
    pub fn to_junit(&self) -> String {
        let s = self.summary();
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        out.push_str(&format!(
            "<testsuites name=\"agentrace\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\">\n",
            s.results + s.file_errors,
            s.failed.saturating_sub(failed_with_error(self)),
            s.errored + s.file_errors,
            s.not_evaluated.saturating_sub(skipped_with_error(self)),
        ));
        for (gi, (f, g)) in self.groups().enumerate() {
            let failures = g
                .metrics
                .iter()
                .filter(|m| m.status == Status::Failed && m.error.is_none())
                .count();
            let errors = g.metrics.iter().filter(|m| m.error.is_some()).count();
            let skipped = g
                .metrics
                .iter()
                .filter(|m| m.status == Status::NotEvaluated && m.error.is_none())
                .count();
            let time: f64 = g.metrics.iter().map(|m| m.duration_ms).sum::<f64>() / 1000.0;
            out.push_str(&format!(
                "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\" time=\"{time:.3}\">\n",
                xml_escape(&format!("{} group {gi} trace {}", f.file, g.trace_id)),
                g.metrics.len(),
            ));
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
        }
        for e in &self.errors {
            out.push_str(&format!(
                "  <testsuite name=\"{}\" tests=\"1\" failures=\"0\" errors=\"1\" skipped=\"0\">\n    <testcase classname=\"agentrace\" name=\"load\">\n      <error message=\"{}\"/>\n    </testcase>\n  </testsuite>\n",
                xml_escape(&e.file),
                xml_escape(&e.error)
            ));
        }
        out.push_str("</testsuites>\n");
        out
    }
}

fn failed_with_error(r: &RunReport) -> usize {
    r.groups()
        .flat_map(|(_, g)| &g.metrics)
        .filter(|m| m.status == Status::Failed && m.error.is_some())
        .count()
}

fn skipped_with_error(r: &RunReport) -> usize {
    r.groups()
        .flat_map(|(_, g)| &g.metrics)
        .filter(|m| m.status == Status::NotEvaluated && m.error.is_some())
        .count()
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
