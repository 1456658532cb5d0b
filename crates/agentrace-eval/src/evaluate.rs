//! Evaluation: metric specs applied to groups of actual invocations and their golden cases.
//!
//! [`evaluate_group`] takes one group (from [`Group::from_extraction`]), the eval set and the
//! metric specs, and returns one [`MetricResult`] per spec. Deterministic metrics are pure; LLM
//! judges and custom evaluators do their I/O through the clients their specs carry.

use std::time::Instant;

use serde_json::{Value, json};

use crate::eval_set::EvalSet;
use crate::invocation::{Group, Invocation};
use crate::metrics::efficiency::{self, Quantity};
use crate::metrics::final_response::{self, TextMatch};
use crate::metrics::rouge;
use crate::metrics::trajectory::{self, MatchType};
use crate::result::{EvaluatorType, GroupResult, MetricResult, Status};

/// The default threshold of every builtin metric (as in the reference).
pub const DEFAULT_THRESHOLD: f64 = 0.5;

/// `tool_trajectory_avg_score`.
pub const TOOL_TRAJECTORY: &str = "tool_trajectory_avg_score";
/// `response_match_score`.
pub const RESPONSE_MATCH: &str = "response_match_score";
/// Final response equals the expected (or configured) text.
pub const FINAL_RESPONSE_EXACT: &str = "final_response_exact";
/// Final response contains the expected (or configured) text.
pub const FINAL_RESPONSE_CONTAINS: &str = "final_response_contains";
/// Final response matches a regular expression.
pub const FINAL_RESPONSE_REGEX: &str = "final_response_regex";
/// Tool calls per invocation.
pub const TOOL_CALL_COUNT: &str = "tool_call_count_v1";
/// Model calls per invocation.
pub const INFERENCE_CALL_COUNT: &str = "inference_call_count_v1";
/// Tokens per invocation.
pub const TOKEN_USAGE: &str = "token_usage_v1";
/// Seconds per invocation.
pub const INVOCATION_DURATION: &str = "invocation_duration_v1";

/// Reference metrics that need Google Cloud (Vertex AI) or a simulated user, which agentrace
/// does not offer.
pub const UNSUPPORTED: &[&str] = &[
    "response_evaluation_score",
    "safety_v1",
    "multi_turn_task_success_v1",
    "multi_turn_trajectory_quality_v1",
    "multi_turn_tool_use_quality_v1",
    "rubric_based_multi_turn_trajectory_quality_v1",
    "per_turn_user_simulator_quality_v1",
];

/// What a metric computes.
#[derive(Clone, Debug)]
pub enum MetricKind {
    /// Tool trajectory against the expected calls.
    Trajectory(MatchType),
    /// ROUGE-1 F of the final response against the expected one.
    ResponseMatch,
    /// Final response text check.
    FinalResponse {
        /// How.
        how: TextMatch,
        /// The text to compare with; `None`: the expected final response.
        value: Option<String>,
        /// Compare case-sensitively.
        case_sensitive: bool,
    },
    /// An efficiency quantity with an optional per-invocation budget.
    Efficiency {
        /// What is counted.
        quantity: Quantity,
        /// Budget per invocation.
        max: Option<f64>,
    },
    /// A custom evaluator program.
    Custom(crate::custom::CustomEvaluator),
    /// An LLM judge.
    Judge(crate::judge::JudgeMetric),
}

/// One metric to compute: a name, what it computes and its threshold.
#[derive(Clone, Debug)]
pub struct MetricSpec {
    /// The name results are reported under.
    pub name: String,
    /// What it computes.
    pub kind: MetricKind,
    /// Pass when the score is at least this.
    pub threshold: f64,
}

/// Why a metric spec could not be built.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// Not a metric agentrace knows.
    #[error("unknown metric `{0}`; builtin metrics: {list}", list = builtin_names().join(", "))]
    Unknown(String),
    /// A reference metric agentrace does not offer.
    #[error(
        "metric `{0}` needs Google Vertex AI or a user simulator, which agentrace does not offer"
    )]
    Unsupported(String),
    /// The metric needs configuration it was not given.
    #[error("metric `{metric}`: {message}")]
    Config {
        /// The metric.
        metric: String,
        /// What is wrong.
        message: String,
    },
}

/// Names of the builtin metrics (deterministic, then LLM judges).
pub fn builtin_names() -> Vec<&'static str> {
    vec![
        TOOL_TRAJECTORY,
        RESPONSE_MATCH,
        FINAL_RESPONSE_EXACT,
        FINAL_RESPONSE_CONTAINS,
        FINAL_RESPONSE_REGEX,
        TOOL_CALL_COUNT,
        INFERENCE_CALL_COUNT,
        TOKEN_USAGE,
        INVOCATION_DURATION,
        crate::judge::FINAL_RESPONSE_MATCH_V2,
        crate::judge::HALLUCINATIONS,
        crate::judge::RUBRIC_FINAL_RESPONSE,
        crate::judge::RUBRIC_TOOL_USE,
    ]
}

impl MetricSpec {
    /// A deterministic builtin metric by name. `config` is the metric's config object (`value`,
    /// `pattern`, `case_sensitive`, `max`, `match_type`); `match_type` applies to the trajectory.
    pub fn builtin(
        name: &str,
        threshold: Option<f64>,
        match_type: Option<MatchType>,
        config: &Value,
    ) -> Result<Self, SpecError> {
        let cfg_err = |message: String| SpecError::Config {
            metric: name.to_owned(),
            message,
        };
        let get_str = |k: &str| config.get(k).and_then(Value::as_str).map(str::to_owned);
        let case_sensitive = config
            .get("case_sensitive")
            .and_then(Value::as_bool)
            .unwrap_or(true);
        let kind = match name {
            TOOL_TRAJECTORY => {
                let from_cfg = match get_str("match_type") {
                    Some(s) => Some(s.parse::<MatchType>().map_err(cfg_err)?),
                    None => None,
                };
                MetricKind::Trajectory(match_type.or(from_cfg).unwrap_or_default())
            }
            RESPONSE_MATCH => MetricKind::ResponseMatch,
            FINAL_RESPONSE_EXACT => MetricKind::FinalResponse {
                how: TextMatch::Exact,
                value: get_str("value"),
                case_sensitive,
            },
            FINAL_RESPONSE_CONTAINS => MetricKind::FinalResponse {
                how: TextMatch::Contains,
                value: get_str("value"),
                case_sensitive,
            },
            FINAL_RESPONSE_REGEX => {
                let pattern = get_str("pattern")
                    .ok_or_else(|| cfg_err("needs `config: {pattern: REGEX}`".into()))?;
                let pattern = if case_sensitive {
                    pattern
                } else {
                    format!("(?i){pattern}")
                };
                let re = regex::RegexBuilder::new(&pattern)
                    .size_limit(1 << 20)
                    .build()
                    .map_err(|e| cfg_err(format!("bad pattern: {e}")))?;
                MetricKind::FinalResponse {
                    how: TextMatch::Regex(re),
                    value: Some(String::new()),
                    case_sensitive: true,
                }
            }
            TOOL_CALL_COUNT | INFERENCE_CALL_COUNT | TOKEN_USAGE | INVOCATION_DURATION => {
                let quantity = match name {
                    TOOL_CALL_COUNT => Quantity::ToolCalls,
                    INFERENCE_CALL_COUNT => Quantity::ModelCalls,
                    TOKEN_USAGE => Quantity::Tokens,
                    _ => Quantity::DurationSeconds,
                };
                let max = match config.get("max") {
                    None | Some(Value::Null) => None,
                    Some(v) => Some(
                        v.as_f64()
                            .filter(|m| m.is_finite() && *m >= 0.0)
                            .ok_or_else(|| cfg_err("`max` must be a number >= 0".into()))?,
                    ),
                };
                MetricKind::Efficiency { quantity, max }
            }
            other if crate::judge::JUDGE_METRICS.contains(&other) => {
                return Err(cfg_err(
                    "is an LLM judge: configure its endpoint in the eval config (--config) with `judge:` or `judge_base_url:` and `judge_model:`".into(),
                ));
            }
            other if UNSUPPORTED.contains(&other) => {
                return Err(SpecError::Unsupported(other.to_owned()));
            }
            other => return Err(SpecError::Unknown(other.to_owned())),
        };
        Ok(Self {
            name: name.to_owned(),
            kind,
            threshold: threshold.unwrap_or(DEFAULT_THRESHOLD),
        })
    }

    /// The match type, for the trajectory metric.
    pub fn match_type(&self) -> Option<MatchType> {
        match self.kind {
            MetricKind::Trajectory(mt) => Some(mt),
            _ => None,
        }
    }

    fn evaluator_type(&self) -> EvaluatorType {
        match self.kind {
            MetricKind::Custom(_) => EvaluatorType::Custom,
            MetricKind::Judge(_) => EvaluatorType::LlmJudge,
            _ => EvaluatorType::Deterministic,
        }
    }

    /// True when the metric compares against a golden case.
    pub fn needs_expected(&self) -> bool {
        match &self.kind {
            MetricKind::Trajectory(_) | MetricKind::ResponseMatch => true,
            MetricKind::FinalResponse { value, .. } => value.is_none(),
            MetricKind::Efficiency { .. } | MetricKind::Custom(_) => false,
            MetricKind::Judge(j) => j.needs_expected(),
        }
    }
}

/// The error text of a group without invocations (the reference's wording).
pub const NO_INVOCATIONS: &str = "No invocations extracted from trace.";

/// A golden case made ready for scoring once: its expected invocations and their final
/// responses tokenized for ROUGE.
#[derive(Clone, Debug)]
pub struct PreparedCase {
    expected: Vec<Invocation>,
    references: Vec<rouge::Reference>,
    /// Per expected invocation, its calls as the trajectory metric's details list them.
    expected_calls: Vec<Value>,
}

impl PreparedCase {
    /// Prepares one case.
    pub fn new(case: &crate::eval_set::EvalCase) -> Self {
        let expected: Vec<Invocation> = case
            .conversation
            .iter()
            .map(Invocation::from_expected)
            .collect();
        let references = expected
            .iter()
            .map(|e| rouge::Reference::new(e.final_response.as_deref().unwrap_or("")))
            .collect();
        let expected_calls = expected
            .iter()
            .map(|e| calls_value(&e.tool_calls))
            .collect();
        Self {
            expected,
            references,
            expected_calls,
        }
    }
}

/// Tool calls as the trajectory metric's details list them: `[{"name": .., "args": ..}]`.
fn calls_value(calls: &[crate::invocation::ToolUse]) -> Value {
    Value::Array(
        calls
            .iter()
            .map(|c| {
                let mut m = serde_json::Map::with_capacity(2);
                m.insert("name".to_owned(), Value::String(c.name.clone()));
                m.insert("args".to_owned(), c.args.clone());
                Value::Object(m)
            })
            .collect(),
    )
}

/// Every case of an eval set prepared once ([`PreparedCase`]), for a run that scores many groups
/// against the same cases.
#[derive(Clone, Debug, Default)]
pub struct PreparedCases {
    cases: std::collections::HashMap<String, PreparedCase>,
}

impl PreparedCases {
    /// Prepares the cases of `set` (none without a set).
    pub fn new(set: Option<&EvalSet>) -> Self {
        Self {
            cases: set
                .map(|s| {
                    // The first case of an id, as `EvalSet::case` finds it.
                    let mut m = std::collections::HashMap::new();
                    for c in &s.eval_cases {
                        m.entry(c.eval_id.clone())
                            .or_insert_with(|| PreparedCase::new(c));
                    }
                    m
                })
                .unwrap_or_default(),
        }
    }
}

/// Evaluates every metric on one group.
pub fn evaluate_group(
    group: &Group,
    eval_set: Option<&EvalSet>,
    specs: &[MetricSpec],
) -> GroupResult {
    let golden = group
        .case
        .as_ref()
        .and_then(|c| c.eval_case_id.as_deref())
        .and_then(|id| eval_set.and_then(|s| s.case(id)));
    let prepared = golden.map(PreparedCase::new);
    evaluate_prepared(group, eval_set, prepared.as_ref(), specs)
}

/// [`evaluate_group`] with the eval set's cases prepared beforehand ([`PreparedCases::new`] of
/// the same `eval_set`).
pub fn evaluate_group_with(
    group: &Group,
    eval_set: Option<&EvalSet>,
    cases: &PreparedCases,
    specs: &[MetricSpec],
) -> GroupResult {
    let prepared = group
        .case
        .as_ref()
        .and_then(|c| c.eval_case_id.as_deref())
        .and_then(|id| cases.cases.get(id));
    evaluate_prepared(group, eval_set, prepared, specs)
}

fn evaluate_prepared(
    group: &Group,
    eval_set: Option<&EvalSet>,
    prepared: Option<&PreparedCase>,
    specs: &[MetricSpec],
) -> GroupResult {
    let case = group.case.as_ref();
    let golden = case
        .and_then(|c| c.eval_case_id.as_deref())
        .and_then(|id| eval_set.and_then(|s| s.case(id)));
    let expected: Option<&[Invocation]> = prepared.map(|p| p.expected.as_slice());
    let references: &[rouge::Reference] = prepared.map_or(&[], |p| p.references.as_slice());
    let expected_calls: &[Value] = prepared.map_or(&[], |p| p.expected_calls.as_slice());
    let metrics = if group.invocations.is_empty() {
        vec![MetricResult {
            error: Some(NO_INVOCATIONS.to_owned()),
            reason: None,
            ..MetricResult::not_evaluated(
                "(all)",
                None,
                None,
                EvaluatorType::Deterministic,
                String::new(),
            )
        }]
    } else {
        specs
            .iter()
            .map(|spec| {
                let started = Instant::now();
                let prepared = Expected {
                    invocations: expected,
                    references,
                    calls: expected_calls,
                };
                let mut r = evaluate_metric(group, eval_set, case, &prepared, golden, spec);
                r.duration_ms = started.elapsed().as_secs_f64() * 1000.0;
                r
            })
            .collect()
    };
    GroupResult {
        key: group.key.clone(),
        trace_id: group.trace_id.clone(),
        trace_ids: group.trace_ids.clone(),
        num_invocations: group.invocations.len(),
        eval_case_id: case.and_then(|c| c.eval_case_id.clone()),
        eval_case_match: case.and_then(|c| c.how.map(str::to_owned)),
        eval_case_reason: case.and_then(|c| c.reason.clone()),
        invocations: group
            .invocations
            .iter()
            .map(|i| crate::result::InvocationRef {
                invocation_id: i.invocation_id.clone(),
                trace_id: i.trace_id.clone().unwrap_or_else(|| group.trace_id.clone()),
            })
            .collect(),
        metrics,
    }
}

fn mean(scores: &[Option<f64>]) -> Option<f64> {
    let vals: Vec<f64> = scores.iter().flatten().copied().collect();
    #[allow(clippy::cast_precision_loss)]
    (!vals.is_empty()).then(|| vals.iter().sum::<f64>() / vals.len() as f64)
}

/// The golden case's side of a comparison, prepared once per case ([`PreparedCase`]).
struct Expected<'a> {
    /// Expected invocations.
    invocations: Option<&'a [Invocation]>,
    /// Their final responses tokenized for ROUGE.
    references: &'a [rouge::Reference],
    /// Their calls as the trajectory details list them ([`calls_value`]).
    calls: &'a [Value],
}

fn evaluate_metric(
    group: &Group,
    eval_set: Option<&EvalSet>,
    case: Option<&agentrace_loader::extract::CaseSelection>,
    prepared: &Expected<'_>,
    golden: Option<&crate::eval_set::EvalCase>,
    spec: &MetricSpec,
) -> MetricResult {
    let (expected, references) = (prepared.invocations, prepared.references);
    let et = spec.evaluator_type();
    let mt = spec.match_type();
    let actual: &[Invocation] = &group.invocations;
    let mut base =
        MetricResult::not_evaluated(&spec.name, mt, Some(spec.threshold), et, String::new());
    base.reason = None;

    // Align with the golden case when the metric needs one.
    let (actual, expected) = if spec.needs_expected() {
        let Some(exp) = expected else {
            let reason = if eval_set.is_none() {
                "no eval set given".to_owned()
            } else {
                case.and_then(|c| c.reason.clone())
                    .unwrap_or_else(|| "no matching eval case".to_owned())
            };
            return MetricResult::not_evaluated(&spec.name, mt, Some(spec.threshold), et, reason);
        };
        let n = actual.len().min(exp.len());
        if exp.len() > n {
            base.missing_turns = Some(exp.len() - n);
        }
        if actual.len() > n {
            base.unexpected_turns = Some(actual.len() - n);
        }
        (&actual[..n], Some(&exp[..n]))
    } else {
        (actual, expected)
    };

    match &spec.kind {
        MetricKind::Trajectory(mt) => {
            let exp = expected.unwrap_or_default();
            let mut comparisons = Vec::with_capacity(actual.len());
            let scores: Vec<Option<f64>> = actual
                .iter()
                .zip(exp)
                .enumerate()
                .map(|(i, (a, e))| {
                    let s = trajectory::score(*mt, &a.tool_calls, &e.tool_calls);
                    let mut c = serde_json::Map::with_capacity(4);
                    c.insert(
                        "invocation_id".to_owned(),
                        Value::String(a.invocation_id.clone()),
                    );
                    c.insert(
                        "expected".to_owned(),
                        prepared
                            .calls
                            .get(i)
                            .cloned()
                            .unwrap_or_else(|| calls_value(&e.tool_calls)),
                    );
                    c.insert("actual".to_owned(), calls_value(&a.tool_calls));
                    c.insert("matched".to_owned(), Value::Bool(s == 1.0));
                    comparisons.push(Value::Object(c));
                    Some(s)
                })
                .collect();
            let mut d = serde_json::Map::with_capacity(1);
            d.insert("comparisons".to_owned(), Value::Array(comparisons));
            base.details = Value::Object(d);
            finish_scored(base, scores, spec.threshold)
        }
        MetricKind::ResponseMatch => {
            // `actual` is cut to the expected turns, which `references` follow one to one.
            let scores = actual
                .iter()
                .zip(references)
                .map(|(a, r)| {
                    Some(
                        rouge::rouge1_against(a.final_response.as_deref().unwrap_or(""), r)
                            .fmeasure,
                    )
                })
                .collect();
            finish_scored(base, scores, spec.threshold)
        }
        MetricKind::FinalResponse {
            how,
            value,
            case_sensitive,
        } => {
            let scores = actual
                .iter()
                .enumerate()
                .map(|(i, a)| {
                    let want = match value {
                        Some(v) => v.as_str(),
                        None => expected
                            .and_then(|e| e.get(i))
                            .and_then(|e| e.final_response.as_deref())
                            .unwrap_or(""),
                    };
                    Some(final_response::score(
                        how,
                        a.final_response.as_deref(),
                        want,
                        *case_sensitive,
                    ))
                })
                .collect();
            finish_scored(base, scores, spec.threshold)
        }
        MetricKind::Efficiency { quantity, max } => {
            let scores: Vec<Option<f64>> = actual
                .iter()
                .map(|a| efficiency::value(*quantity, a))
                .collect();
            base.score = mean(&scores);
            base.threshold = None;
            match max {
                None => {
                    base.status = Status::NotEvaluated;
                    base.reason = Some(format!(
                        "informational: {} per invocation; set `config: {{max: N}}` to make it a budget",
                        quantity.unit()
                    ));
                }
                Some(m) => {
                    let over: Vec<usize> = scores
                        .iter()
                        .enumerate()
                        .filter(|(_, s)| s.is_some_and(|v| v > *m))
                        .map(|(i, _)| i)
                        .collect();
                    base.status = if over.is_empty() {
                        Status::Passed
                    } else {
                        Status::Failed
                    };
                    base.details =
                        json!({ "max": m, "unit": quantity.unit(), "over_budget": over });
                }
            }
            base.per_invocation_scores = scores;
            base
        }
        MetricKind::Custom(c) => c.evaluate(base, group, actual, expected),
        MetricKind::Judge(j) => j.evaluate(base, actual, expected, golden),
    }
}

/// Fills score, status and per-invocation scores of a 0..1 metric.
pub(crate) fn finish_scored(
    mut base: MetricResult,
    scores: Vec<Option<f64>>,
    threshold: f64,
) -> MetricResult {
    base.score = mean(&scores);
    base.status = match base.score {
        Some(s) => Status::of(s, threshold),
        None => Status::NotEvaluated,
    };
    base.per_invocation_scores = scores;
    base
}
