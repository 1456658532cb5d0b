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
