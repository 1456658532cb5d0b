//! The ADK `EvalSet` file model (golden conversations), as agentevals and Google ADK read it.

use std::path::{Path, PathBuf};

use agentrace_loader::extract::ExpectedCase;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// An eval set: golden cases.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EvalSet {
    /// Id of the set.
    pub eval_set_id: String,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The cases.
    #[serde(default)]
    pub eval_cases: Vec<EvalCase>,
    /// Creation time, seconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_timestamp: Option<f64>,
}

/// One golden case: a conversation of expected invocations.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EvalCase {
    /// Case id.
    pub eval_id: String,
    /// Expected invocations (turns), in order.
    #[serde(default)]
    pub conversation: Vec<Invocation>,
    /// Rubrics and other ADK fields, kept as they are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rubrics: Option<Value>,
    /// Session input, kept as it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_input: Option<Value>,
}

/// One expected invocation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Invocation {
    /// Invocation id.
    #[serde(default)]
    pub invocation_id: String,
    /// What the user said.
    pub user_content: Content,
    /// The expected final response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub final_response: Option<Content>,
    /// Expected tool uses and responses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intermediate_data: Option<IntermediateData>,
    /// Creation time, seconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_timestamp: Option<f64>,
}

/// Google GenAI `Content`: a role and parts.
#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
pub struct Content {
    /// `user` or `model`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Parts; only `text` matters for matching, the rest is kept as it is.
    #[serde(default)]
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
#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
pub struct IntermediateData {
    /// Expected tool calls, in order.
    #[serde(default)]
    pub tool_uses: Vec<FunctionCall>,
    /// Expected tool responses.
    #[serde(default)]
    pub tool_responses: Vec<FunctionResponse>,
    /// Intermediate agent responses, kept as they are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intermediate_responses: Option<Value>,
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
    #[error("{}:{line}:{column}: not an ADK EvalSet: {message}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The parser's message.
        message: String,
    },
}

impl EvalSet {
    /// Reads an eval set file.
    pub fn from_path(path: &Path) -> Result<Self, EvalSetError> {
        let text = std::fs::read_to_string(path).map_err(|source| EvalSetError::Io {
            path: path.to_owned(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|e| EvalSetError::Parse {
            path: path.to_owned(),
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
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
