//! LLM-judge metrics through any OpenAI-compatible chat endpoint (`POST {base_url}/chat/completions`).
//!
//! - `final_response_match_v2`: is the final response a valid answer, given the expected one?
//!   Per invocation 1.0 (valid) or 0.0.
//! - `hallucinations_v1`: the share of the response's claims that the conversation (user text,
//!   tool results) supports, 0..1.
//! - `rubric_based_final_response_quality_v1`, `rubric_based_tool_use_quality_v1`: the share of
//!   rubrics met. Rubrics come from the evaluator's `rubrics:` and the golden case's and
//!   invocation's rubrics of the matching type (`FINAL_RESPONSE_QUALITY`, `TOOL_USE_QUALITY`).
//!
//! The API key is read from the environment variable the operator names (`api_key_env`), sent
//! only as the bearer token of requests to the configured endpoint (redirects are not
//! followed), and never logged or shown: this type's `Debug` hides it. Requests are blocking,
//! with a timeout.

use std::time::Duration;

use serde_json::{Value, json};

use crate::eval_set::EvalCase;
use crate::evaluate::finish_scored;
use crate::invocation::Invocation;
use crate::result::{MetricResult, Status};

/// `final_response_match_v2`.
pub const FINAL_RESPONSE_MATCH_V2: &str = "final_response_match_v2";
/// `hallucinations_v1`.
pub const HALLUCINATIONS: &str = "hallucinations_v1";
/// `rubric_based_final_response_quality_v1`.
pub const RUBRIC_FINAL_RESPONSE: &str = "rubric_based_final_response_quality_v1";
/// `rubric_based_tool_use_quality_v1`.
pub const RUBRIC_TOOL_USE: &str = "rubric_based_tool_use_quality_v1";

/// Names of the judge metrics.
pub const JUDGE_METRICS: &[&str] = &[
    FINAL_RESPONSE_MATCH_V2,
    HALLUCINATIONS,
    RUBRIC_FINAL_RESPONSE,
    RUBRIC_TOOL_USE,
];

/// Default request timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// Most bytes read from a judge's reply.
const MAX_REPLY_BYTES: u64 = 4 << 20;

/// An OpenAI-compatible chat endpoint.
#[derive(Clone)]
pub struct JudgeClient {
    base_url: String,
    model: String,
    api_key: Option<String>,
    timeout: Duration,
}

impl std::fmt::Debug for JudgeClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JudgeClient")
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("api_key", &self.api_key.as_ref().map(|_| "<hidden>"))
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// Why a judge could not be configured.
#[derive(Debug, thiserror::Error)]
pub enum JudgeConfigError {
    /// No endpoint.
    #[error(
        "needs a judge endpoint: set `judge: {{base_url: ..., model: ...}}` or `judge_base_url:` / `judge_model:` in the eval config"
    )]
    NoEndpoint,
    /// No model.
    #[error(
        "needs a judge model: set `judge: {{model: ...}}` or `judge_model:` in the eval config"
    )]
    NoModel,
    /// The URL is not http(s).
    #[error("judge endpoint `{0}` is not an http:// or https:// URL")]
    BadUrl(String),
    /// The key's variable is unset.
    #[error("the judge's API key variable `{0}` is not set")]
    KeyUnset(String),
}

impl JudgeClient {
    /// A client of `base_url` (e.g. `https://api.openai.com/v1`) and `model`; the key, when
    /// `api_key_env` is given, is read from that environment variable now.
    pub fn new(
        base_url: Option<&str>,
        model: Option<&str>,
        api_key_env: Option<&str>,
        timeout: Option<Duration>,
    ) -> Result<Self, JudgeConfigError> {
        let base_url = base_url.ok_or(JudgeConfigError::NoEndpoint)?;
        if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
            return Err(JudgeConfigError::BadUrl(base_url.to_owned()));
        }
        let model = model.ok_or(JudgeConfigError::NoModel)?;
        let api_key = match api_key_env {
            Some(var) => Some(
                std::env::var(var)
                    .ok()
                    .filter(|k| !k.is_empty())
                    .ok_or_else(|| JudgeConfigError::KeyUnset(var.to_owned()))?,
            ),
            None => None,
        };
        Ok(Self {
            base_url: base_url.trim_end_matches('/').to_owned(),
            model: model.to_owned(),
            api_key,
            timeout: timeout.unwrap_or(DEFAULT_TIMEOUT),
        })
    }

    /// Sends one chat request and returns the assistant's text.
    pub fn complete(&self, system: &str, user: &str) -> Result<String, String> {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(self.timeout))
            .max_redirects(0)
            .http_status_as_error(false)
            .build()
            .into();
        let body = json!({
            "model": self.model,
            "temperature": 0,
            "messages": [
                {"role": "system", "content": system},
                {"role": "user", "content": user},
            ],
        });
        let mut req = agent.post(format!("{}/chat/completions", self.base_url));
        if let Some(k) = &self.api_key {
            req = req.header("Authorization", format!("Bearer {k}"));
        }
        let mut resp = req
            .send_json(&body)
            .map_err(|e| format!("judge request failed: {}", describe(&e)))?;
        let status = resp.status();
        let text = resp
            .body_mut()
            .with_config()
            .limit(MAX_REPLY_BYTES)
            .read_to_string()
            .map_err(|e| format!("judge reply could not be read: {}", describe(&e)))?;
        if !status.is_success() {
            let head: String = text.chars().take(200).collect();
            return Err(format!("judge endpoint answered {status}: {head}"));
        }
        let v: Value =
            serde_json::from_str(&text).map_err(|e| format!("judge reply is not JSON: {e}"))?;
        v.pointer("/choices/0/message/content")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| "judge reply has no choices[0].message.content".to_owned())
    }
}

fn describe(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Timeout(_) => "timed out".to_owned(),
        other => other.to_string(),
    }
}

/// A rubric: id, text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rubric {
    /// Id.
    pub id: String,
    /// What is checked.
    pub text: String,
}

/// Which judge metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JudgeKind {
    /// `final_response_match_v2`.
    FinalResponseMatch,
    /// `hallucinations_v1`.
    Hallucinations,
    /// `rubric_based_final_response_quality_v1`.
    RubricFinalResponse,
    /// `rubric_based_tool_use_quality_v1`.
    RubricToolUse,
}

impl JudgeKind {
    /// The kind of a metric name.
    pub fn of(name: &str) -> Option<Self> {
        match name {
            FINAL_RESPONSE_MATCH_V2 => Some(Self::FinalResponseMatch),
            HALLUCINATIONS => Some(Self::Hallucinations),
            RUBRIC_FINAL_RESPONSE => Some(Self::RubricFinalResponse),
            RUBRIC_TOOL_USE => Some(Self::RubricToolUse),
            _ => None,
        }
    }

    fn rubric_type(self) -> Option<&'static str> {
        match self {
            Self::RubricFinalResponse => Some("FINAL_RESPONSE_QUALITY"),
            Self::RubricToolUse => Some("TOOL_USE_QUALITY"),
            _ => None,
        }
    }
}

/// A judge metric: what it asks and whom.
#[derive(Clone, Debug)]
pub struct JudgeMetric {
    /// What it asks.
    pub kind: JudgeKind,
    /// The endpoint.
    pub client: JudgeClient,
    /// Rubrics from the evaluator's config.
    pub rubrics: Vec<Rubric>,
}

/// Rubrics of an evaluator entry: strings (ids `rubric_1`, ...) or `{id, text}` objects.
pub fn rubrics_from_config(v: &[Value]) -> Result<Vec<Rubric>, String> {
    let mut out: Vec<Rubric> = Vec::new();
    for (i, r) in v.iter().enumerate() {
        let rubric = match r {
            Value::String(s) => Rubric {
                id: format!("rubric_{}", i + 1),
                text: s.clone(),
            },
            Value::Object(o) => Rubric {
                id: o
                    .get("id")
                    .and_then(Value::as_str)
                    .map_or_else(|| format!("rubric_{}", i + 1), str::to_owned),
                text: o
                    .get("text")
                    .and_then(Value::as_str)
                    .ok_or_else(|| format!("rubric {} has no `text`", i + 1))?
                    .to_owned(),
            },
            other => {
                return Err(format!(
                    "rubric {} is neither text nor {{id, text}}: {other}",
                    i + 1
                ));
            }
        };
        if out.iter().any(|x| x.id == rubric.id) {
            return Err(format!("duplicate rubric id `{}`", rubric.id));
        }
        out.push(rubric);
    }
    Ok(out)
}

const SYSTEM: &str = "You are a strict, careful evaluator of an AI agent's work. Answer with one JSON object and nothing else.";

fn tools_text(inv: &Invocation) -> String {
    if inv.tool_calls.is_empty() {
        return "(no tool calls)".to_owned();
    }
    let mut s = String::new();
    for c in &inv.tool_calls {
        s.push_str(&format!("- call {}({})\n", c.name, c.args));
    }
    for r in &inv.tool_responses {
        s.push_str(&format!("- result of {}: {}\n", r.name, r.response));
    }
    s
}

/// Extracts the first JSON object of a model's answer (it may wrap it in prose or a code block).
fn json_object(text: &str) -> Result<Value, String> {
    let start = text.find('{').ok_or("judge answer has no JSON object")?;
    let end = text.rfind('}').ok_or("judge answer has no JSON object")?;
    let slice = text
        .get(start..=end)
        .ok_or("judge answer has no JSON object")?;
    serde_json::from_str(slice).map_err(|e| format!("judge answer is not valid JSON: {e}"))
}

impl JudgeMetric {
    /// True for `final_response_match_v2` (it compares with the expected response).
    pub fn needs_expected(&self) -> bool {
        self.kind == JudgeKind::FinalResponseMatch
    }

    /// Scores each invocation; the first failing request makes the metric's error (with what
    /// was scored before kept in the details).
    pub(crate) fn evaluate(
        &self,
        mut base: MetricResult,
        actual: &[Invocation],
        expected: Option<&[Invocation]>,
        golden: Option<&EvalCase>,
    ) -> MetricResult {
        let mut scores = Vec::with_capacity(actual.len());
        let mut rationales = Vec::new();
        for (i, a) in actual.iter().enumerate() {
            let e = expected.and_then(|e| e.get(i));
            match self.score_one(a, e, golden) {
                Ok((s, why)) => {
                    scores.push(s);
                    if let Some(w) = why {
                        rationales.push(Value::String(w));
                    }
                }
                Err(err) => {
                    base.status = Status::Failed;
                    base.error = Some(err);
                    base.per_invocation_scores = scores;
                    base.details = json!({ "rationales": rationales });
                    return base;
                }
            }
        }
        base.details = json!({ "rationales": rationales });
        let threshold = base.threshold.unwrap_or(crate::evaluate::DEFAULT_THRESHOLD);
        finish_scored(base, scores, threshold)
    }

    fn rubrics_for(&self, inv: Option<&Invocation>, golden: Option<&EvalCase>) -> Vec<Rubric> {
        let mut out = self.rubrics.clone();
        let Some(want) = self.kind.rubric_type() else {
            return out;
        };
        let mut add = |id: &str, text: Option<&str>, kind: Option<&str>| {
            if kind == Some(want)
                && let Some(t) = text
                && !out.iter().any(|r| r.id == id)
            {
                out.push(Rubric {
                    id: id.to_owned(),
                    text: t.to_owned(),
                });
            }
        };
        for r in golden
            .and_then(|c| c.rubrics.as_ref())
            .into_iter()
            .flatten()
        {
            add(
                &r.rubric_id,
                r.rubric_content.text_property.as_deref(),
                r.kind.as_deref(),
            );
        }
        if let Some(Value::Array(rs)) = inv.and_then(|i| i.rubrics.as_ref()) {
            for r in rs {
                add(
                    r.get("rubric_id").and_then(Value::as_str).unwrap_or(""),
                    r.pointer("/rubric_content/text_property")
                        .and_then(Value::as_str),
                    r.get("type").and_then(Value::as_str),
                );
            }
        }
        out
    }

    fn score_one(
        &self,
        a: &Invocation,
        e: Option<&Invocation>,
        golden: Option<&EvalCase>,
    ) -> Result<(Option<f64>, Option<String>), String> {
        let user = a.user_text.as_deref().unwrap_or("");
        let response = a.final_response.as_deref().unwrap_or("");
        let prompt = match self.kind {
            JudgeKind::FinalResponseMatch => format!(
                "Decide whether the agent's response is a valid answer to the user's request, using the reference response as the ground truth. Minor wording differences are fine; missing or contradicting facts are not.\n\nUser request:\n{user}\n\nReference response:\n{}\n\nAgent response:\n{response}\n\nReply as {{\"is_the_agent_response_valid\": \"valid\" or \"invalid\", \"reasoning\": \"...\"}}.",
                e.and_then(|e| e.final_response.as_deref()).unwrap_or("")
            ),
            JudgeKind::Hallucinations => format!(
                "Split the agent's response into factual claims and decide for each whether the context (the user's request and the tool results) supports it. Score = supported claims / all claims (1.0 when there are no claims).\n\nUser request:\n{user}\n\nTool calls and results:\n{}\nAgent response:\n{response}\n\nReply as {{\"score\": number between 0 and 1, \"reasoning\": \"...\"}}.",
                tools_text(a)
            ),
            JudgeKind::RubricFinalResponse | JudgeKind::RubricToolUse => {
                let rubrics = self.rubrics_for(e, golden);
                if rubrics.is_empty() {
                    return Ok((None, Some("no rubrics apply to this invocation".to_owned())));
                }
                let list: String = rubrics
                    .iter()
                    .map(|r| format!("- {}: {}\n", r.id, r.text))
                    .collect();
                let subject = if self.kind == JudgeKind::RubricToolUse {
                    format!("Tool calls and results:\n{}", tools_text(a))
                } else {
                    format!("Agent response:\n{response}")
                };
                format!(
                    "Decide for each rubric whether the agent's work meets it.\n\nUser request:\n{user}\n\n{subject}\n\nRubrics:\n{list}\nReply as {{\"rubrics\": [{{\"id\": \"...\", \"verdict\": \"yes\" or \"no\", \"rationale\": \"...\"}}]}} with one entry per rubric."
                )
            }
        };
        let answer = self.client.complete(SYSTEM, &prompt)?;
        let v = json_object(&answer)?;
        let why = v
            .get("reasoning")
            .and_then(Value::as_str)
            .map(str::to_owned);
        match self.kind {
            JudgeKind::FinalResponseMatch => {
                let label = v
                    .get("is_the_agent_response_valid")
                    .and_then(Value::as_str)
                    .ok_or("judge answer has no `is_the_agent_response_valid`")?;
                match label.trim().to_ascii_lowercase().as_str() {
                    "valid" => Ok((Some(1.0), why)),
                    "invalid" => Ok((Some(0.0), why)),
                    other => Err(format!("judge answered `{other}`, not valid/invalid")),
                }
            }
            JudgeKind::Hallucinations => {
                let s = v
                    .get("score")
                    .and_then(Value::as_f64)
                    .filter(|s| (0.0..=1.0).contains(s))
                    .ok_or("judge answer has no `score` between 0 and 1")?;
                Ok((Some(s), why))
            }
            JudgeKind::RubricFinalResponse | JudgeKind::RubricToolUse => {
                let rubrics = self.rubrics_for(e, golden);
                let verdicts = v
                    .get("rubrics")
                    .and_then(Value::as_array)
                    .ok_or("judge answer has no `rubrics` list")?;
                let mut met = 0usize;
                let mut notes = Vec::new();
                for r in &rubrics {
                    let verdict = verdicts
                        .iter()
                        .find(|x| x.get("id").and_then(Value::as_str) == Some(r.id.as_str()))
                        .and_then(|x| x.get("verdict").and_then(Value::as_str))
                        .ok_or_else(|| format!("judge gave no verdict for rubric `{}`", r.id))?;
                    let yes = verdict.trim().eq_ignore_ascii_case("yes");
                    met += usize::from(yes);
                    notes.push(format!("{}: {}", r.id, if yes { "yes" } else { "no" }));
                }
                #[allow(clippy::cast_precision_loss)]
                let s = met as f64 / rubrics.len() as f64;
                Ok((Some(s), Some(notes.join(", "))))
            }
        }
    }
}
