//! The ADK `EvalSet` file model (golden conversations), as agentevals and Google ADK read it.

use std::path::{Path, PathBuf};

use agentrace_loader::extract::ExpectedCase;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// An eval set: golden cases.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EvalSet {
    /// Id of the set.
    #[serde(alias = "evalSetId")]
    pub eval_set_id: String,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The cases (required, as in ADK).
    #[serde(alias = "evalCases")]
    pub eval_cases: Vec<EvalCase>,
    /// Creation time, seconds since the epoch.
    #[serde(
        default,
        alias = "creationTimestamp",
        skip_serializing_if = "Option::is_none"
    )]
    pub creation_timestamp: Option<f64>,
}

/// One golden case: a conversation of expected invocations.
///
/// Unknown fields are refused, as ADK's models (`extra="forbid"`) refuse them; every field may
/// also be spelled in camelCase, as ADK's aliases allow.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvalCase {
    /// Case id.
    #[serde(alias = "evalId")]
    pub eval_id: String,
    /// Expected invocations (turns), in order (`null` or absent: none).
    #[serde(default, deserialize_with = "null_as_empty")]
    pub conversation: Vec<Invocation>,
    /// A conversation scenario (simulated user), kept as it is; not evaluated.
    #[serde(
        default,
        alias = "conversationScenario",
        skip_serializing_if = "Option::is_none"
    )]
    pub conversation_scenario: Option<Value>,
    /// Rubrics of the case.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rubrics: Option<Vec<Rubric>>,
    /// Session input, kept as it is.
    #[serde(
        default,
        alias = "sessionInput",
        skip_serializing_if = "Option::is_none"
    )]
    pub session_input: Option<Value>,
    /// Creation time.
    #[serde(
        default,
        alias = "creationTimestamp",
        skip_serializing_if = "Option::is_none"
    )]
    pub creation_timestamp: Option<f64>,
    /// Final session state, kept as it is.
    #[serde(
        default,
        alias = "finalSessionState",
        skip_serializing_if = "Option::is_none"
    )]
    pub final_session_state: Option<Value>,
}

/// An ADK rubric.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rubric {
    /// Id.
    #[serde(alias = "rubricId")]
    pub rubric_id: String,
    /// What it checks.
    #[serde(alias = "rubricContent")]
    pub rubric_content: RubricContent,
    /// How to read its results.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `FINAL_RESPONSE_QUALITY`, `TOOL_USE_QUALITY`, ...
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

/// The text of a rubric.
#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RubricContent {
    /// The property checked.
    #[serde(default, alias = "textProperty")]
    pub text_property: Option<String>,
}

fn null_as_empty<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

/// One expected invocation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Invocation {
    /// Invocation id.
    #[serde(default, alias = "invocationId")]
    pub invocation_id: String,
    /// What the user said.
    #[serde(alias = "userContent")]
    pub user_content: Content,
    /// The expected final response.
    #[serde(
        default,
        alias = "finalResponse",
        skip_serializing_if = "Option::is_none"
    )]
    pub final_response: Option<Content>,
    /// Expected tool uses and responses.
    #[serde(
        default,
        alias = "intermediateData",
        skip_serializing_if = "Option::is_none"
    )]
    pub intermediate_data: Option<IntermediateData>,
    /// Creation time, seconds since the epoch.
    #[serde(
        default,
        alias = "creationTimestamp",
        skip_serializing_if = "Option::is_none"
    )]
    pub creation_timestamp: Option<f64>,
    /// Rubrics of this invocation alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rubrics: Option<Value>,
    /// Timings and app details ADK may record, kept as they are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<f64>,
    /// Seconds spent awaiting a model.
    #[serde(
        default,
        alias = "modelDuration",
        skip_serializing_if = "Option::is_none"
    )]
    pub model_duration: Option<f64>,
    /// Seconds spent in tools.
    #[serde(
        default,
        alias = "toolDuration",
        skip_serializing_if = "Option::is_none"
    )]
    pub tool_duration: Option<f64>,
    /// App details, kept as they are.
    #[serde(default, alias = "appDetails", skip_serializing_if = "Option::is_none")]
    pub app_details: Option<Value>,
}

/// Google GenAI `Content`: a role and parts.
#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
pub struct Content {
    /// `user` or `model`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Parts; only `text` matters for matching, the rest is kept as it is.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub parts: Vec<ContentPart>,
}

/// One part of a `Content`.
#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
pub struct ContentPart {
    /// Text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Any other fields (function calls, blobs, ...).
    #[serde(flatten)]
    pub other: serde_json::Map<String, Value>,
}

impl Content {
    /// The text parts joined with no separator (as agentevals does), `None` with no text part.
    pub fn text(&self) -> Option<String> {
        let mut any = false;
        let mut out = String::new();
        for p in &self.parts {
            if let Some(t) = &p.text {
                any = true;
                out.push_str(t);
            }
        }
        any.then_some(out)
    }
}

/// Expected tool uses and responses of an invocation.
///
/// ADK also accepts an `invocation_events` form here; it is kept as it is and holds no
/// expected tool calls for the trajectory metric.
#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
pub struct IntermediateData {
    /// Expected tool calls, in order.
    #[serde(default, alias = "toolUses", deserialize_with = "null_as_empty")]
    pub tool_uses: Vec<FunctionCall>,
    /// Expected tool responses.
    #[serde(default, alias = "toolResponses", deserialize_with = "null_as_empty")]
    pub tool_responses: Vec<FunctionResponse>,
    /// Intermediate agent responses, kept as they are.
    #[serde(
        default,
        alias = "intermediateResponses",
        skip_serializing_if = "Option::is_none"
    )]
    pub intermediate_responses: Option<Value>,
    /// The `InvocationEvents` form, kept as it is.
    #[serde(
        default,
        alias = "invocationEvents",
        skip_serializing_if = "Option::is_none"
    )]
    pub invocation_events: Option<Value>,
}

/// An expected tool call.
#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
pub struct FunctionCall {
    /// Call id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Tool name.
    pub name: String,
    /// Arguments.
    #[serde(default)]
    pub args: Value,
}

/// An expected tool response.
#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
pub struct FunctionResponse {
    /// Call id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Tool name.
    pub name: String,
    /// Response.
    #[serde(default)]
    pub response: Value,
}

/// Why an eval set file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum EvalSetError {
    /// The file could not be read.
    #[error("could not read eval set {}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not an ADK EvalSet.
    #[error("{}:{line}:{column}: not an ADK EvalSet: at `{field}`: {message}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The field where reading stopped (`eval_cases[0].conversation[1].user_content`; `.` for
        /// the top level).
        field: String,
        /// The parser's message.
        message: String,
    },
}

/// serde_json's message without its trailing " at line L column C" (the error states both).
fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg.get(..i).unwrap_or(msg).to_owned(),
        None => msg.to_owned(),
    }
}

impl EvalSetError {
    fn with_path(self, p: &Path) -> Self {
        match self {
            Self::Parse {
                line,
                column,
                field,
                message,
                ..
            } => Self::Parse {
                path: p.to_owned(),
                line,
                column,
                field,
                message,
            },
            other => other,
        }
    }
}

impl EvalSet {
    /// The case with this id.
    pub fn case(&self, eval_id: &str) -> Option<&EvalCase> {
        self.eval_cases.iter().find(|c| c.eval_id == eval_id)
    }

    /// Reads an eval set file.
    pub fn from_path(path: &Path) -> Result<Self, EvalSetError> {
        let text = std::fs::read_to_string(path).map_err(|source| EvalSetError::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::from_json(&text).map_err(|e| e.with_path(path))
    }

    /// Reads an eval set from JSON text; the error's path is empty.
    pub fn from_json(text: &str) -> Result<Self, EvalSetError> {
        let de = &mut serde_json::Deserializer::from_str(text);
        serde_path_to_error::deserialize(de).map_err(|e| {
            let field = e.path().to_string();
            let inner = e.into_inner();
            EvalSetError::Parse {
                path: PathBuf::new(),
                line: inner.line(),
                column: inner.column(),
                field,
                message: strip_position(&inner.to_string()),
            }
        })
    }

    /// The cases as golden case selection needs them.
    pub fn expected_cases(&self) -> Vec<ExpectedCase> {
        self.eval_cases
            .iter()
            .map(|c| ExpectedCase {
                eval_id: c.eval_id.clone(),
                first_user_text: c.conversation.first().and_then(|i| i.user_content.text()),
                invocations: c.conversation.len(),
            })
            .collect()
    }
}

impl EvalSet {
    /// A golden eval set made from actual invocations, as agentevals' `create-eval-set` makes
    /// one from a session: one case, `case_1`, with one expected invocation per actual one (user
    /// text, final response, tool calls with their arguments and responses).
    pub fn from_invocations(
        eval_set_id: &str,
        invocations: &[crate::invocation::Invocation],
        created_s: f64,
    ) -> Result<Self, EvalSetError> {
        let text_content = |role: &str, text: Option<&str>| {
            serde_json::json!({
                "role": role,
                "parts": text.map(|t| vec![serde_json::json!({"text": t})]).unwrap_or_default(),
            })
        };
        let conversation: Vec<Value> = invocations
            .iter()
            .map(|i| {
                serde_json::json!({
                    "invocation_id": i.invocation_id,
                    "user_content": text_content("user", i.user_text.as_deref()),
                    "final_response": text_content("model", i.final_response.as_deref()),
                    "intermediate_data": {
                        "tool_uses": i.tool_calls.iter().map(|t| serde_json::json!({
                            "id": t.id, "name": t.name, "args": t.args,
                        })).collect::<Vec<_>>(),
                        "tool_responses": i.tool_responses.iter().map(|t| serde_json::json!({
                            "id": t.id, "name": t.name, "response": t.response,
                        })).collect::<Vec<_>>(),
                    },
                    "creation_timestamp": created_s,
                })
            })
            .collect();
        let doc = serde_json::json!({
            "eval_set_id": eval_set_id,
            "name": eval_set_id,
            "eval_cases": [{
                "eval_id": "case_1",
                "conversation": conversation,
                "creation_timestamp": created_s,
            }],
            "creation_timestamp": created_s,
        });
        Self::from_json(&doc.to_string())
    }
}
