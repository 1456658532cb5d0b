//! An invocation as the server's `session_complete` carries it.

use serde_json::Value;

/// A tool call of an invocation.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCall {
    /// The tool's name.
    pub name: String,
    /// Its arguments.
    pub args: Value,
}

/// One invocation (a turn: the user's message, the agent's answer, the tool calls) extracted by
/// the server from the session's spans.
#[derive(Debug, Clone, PartialEq)]
pub struct Invocation {
    /// The invocation's id.
    pub invocation_id: String,
    /// What the user said.
    pub user_text: String,
    /// What the agent answered.
    pub agent_text: String,
    /// The tool calls, in order.
    pub tool_calls: Vec<ToolCall>,
    /// The models used.
    pub models: Vec<String>,
    /// The invocation as the server sent it.
    pub raw: Value,
}

impl Invocation {
    /// Reads an invocation of `session_complete` (camelCase keys); missing fields are empty.
    pub fn from_json(value: &Value) -> Self {
        let text = |key: &str| {
            value
                .get(key)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let tool_calls = value
            .get("toolCalls")
            .and_then(Value::as_array)
            .map(|calls| {
                calls
                    .iter()
                    .map(|c| ToolCall {
                        name: c
                            .get("name")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_owned(),
                        args: c.get("args").cloned().unwrap_or(Value::Null),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let models = value
            .pointer("/modelInfo/models")
            .and_then(Value::as_array)
            .map(|m| {
                m.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        Self {
            invocation_id: text("invocationId"),
            user_text: text("userText"),
            agent_text: text("agentText"),
            tool_calls,
            models,
            raw: value.clone(),
        }
    }
}
