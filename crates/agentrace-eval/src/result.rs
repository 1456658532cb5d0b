//! Results: one per (group, metric), in the shape of the conformance corpus' `scores`.

use serde::Serialize;
use serde_json::Value;

use crate::metrics::trajectory::MatchType;

/// The outcome of a metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    /// Score at or above the threshold (or within the budget).
    Passed,
    /// Score below the threshold, over the budget, or the evaluator failed.
    Failed,
    /// Could not be scored (no eval set, no matching case, no budget, ...): does not fail a run.
    NotEvaluated,
}

impl Status {
    /// `PASSED`, `FAILED`, `NOT_EVALUATED`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Passed => "PASSED",
            Self::Failed => "FAILED",
            Self::NotEvaluated => "NOT_EVALUATED",
        }
    }

    /// PASSED when `score >= threshold`, else FAILED.
    pub fn of(score: f64, threshold: f64) -> Self {
        if score >= threshold {
            Self::Passed
        } else {
            Self::Failed
        }
    }
}

/// What kind of evaluator produced a result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EvaluatorType {
    /// Computed from the data alone.
    Deterministic,
    /// Scored by a model.
    LlmJudge,
    /// An external program (custom evaluator protocol).
    Custom,
}

impl EvaluatorType {
    /// `deterministic`, `llm_judge`, `custom`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Deterministic => "deterministic",
            Self::LlmJudge => "llm_judge",
            Self::Custom => "custom",
        }
    }
}

/// The result of one metric on one group.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MetricResult {
    /// Metric name (`(all)` for a group with no invocations).
    pub metric: String,
    /// Trajectory match type, for `tool_trajectory_avg_score`.
    pub match_type: Option<MatchType>,
    /// Threshold in force.
    pub threshold: Option<f64>,
    /// Overall score: the mean over invocations.
    pub score: Option<f64>,
    /// Outcome.
    pub status: Status,
    /// One score per scored invocation.
    pub per_invocation_scores: Vec<Option<f64>>,
    /// Why the metric could not be computed.
    pub error: Option<String>,
    /// Why it was not evaluated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Expected turns with no actual turn.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing_turns: Option<usize>,
    /// Actual turns with no expected turn.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unexpected_turns: Option<usize>,
    /// Evaluator kind.
    pub evaluator_type: EvaluatorType,
    /// Metric-specific details (trajectory comparisons, judge rationales, ...).
    #[serde(skip_serializing_if = "Value::is_null")]
    pub details: Value,
    /// Time taken, milliseconds.
    pub duration_ms: f64,
}

impl MetricResult {
    /// True when this result fails a run: FAILED, or an error.
    pub fn fails(&self) -> bool {
        self.status == Status::Failed || self.error.is_some()
    }

    /// A result with no score.
    pub fn not_evaluated(
        metric: &str,
        match_type: Option<MatchType>,
        threshold: Option<f64>,
        evaluator_type: EvaluatorType,
        reason: String,
    ) -> Self {
        Self {
            metric: metric.to_owned(),
            match_type,
            threshold,
            score: None,
            status: Status::NotEvaluated,
            per_invocation_scores: Vec::new(),
            error: None,
            reason: Some(reason),
            missing_turns: None,
            unexpected_turns: None,
            evaluator_type,
            details: Value::Null,
            duration_ms: 0.0,
        }
    }
}

/// The results of one group.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GroupResult {
    /// Group key.
    pub key: String,
    /// The group's earliest trace.
    pub trace_id: String,
    /// Member traces.
    pub trace_ids: Vec<String>,
    /// Invocations extracted.
    pub num_invocations: usize,
    /// Golden case used, if any.
    pub eval_case_id: Option<String>,
    /// How it was selected (`explicit`, `user_text`, `single_case`).
    pub eval_case_match: Option<String>,
    /// Why no case was selected.
    pub eval_case_reason: Option<String>,
    /// The invocations scored, in order (per-invocation scores refer to them by position).
    pub invocations: Vec<InvocationRef>,
    /// One result per metric, in the order asked.
    pub metrics: Vec<MetricResult>,
}

/// Where an invocation is: its trace and anchor span.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct InvocationRef {
    /// Anchor span id (the invocation id).
    pub invocation_id: String,
    /// Its trace.
    pub trace_id: String,
}

impl GroupResult {
    /// True when any metric fails the run.
    pub fn fails(&self) -> bool {
        self.metrics.iter().any(MetricResult::fails)
    }
}
