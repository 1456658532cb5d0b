//! What the metrics score: actual invocations (turns extracted from traces) and expected ones
//! (from an eval set), in the shape ADK's metrics and the custom evaluator protocol read.

use agentrace_loader::extract::{CaseSelection, Extraction, Turn};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::eval_set;

/// A tool call as the trajectory metric compares it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ToolUse {
    /// Tool name.
    pub name: String,
    /// Arguments: an object for actual calls (a non-object value `x` is `{"value": x}`, none is
    /// `{}`); for expected calls whatever the eval set says (`null` when it gives none).
    pub args: Value,
    /// Call id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

/// A tool result.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ToolResult {
    /// Tool name.
    pub name: String,
    /// Result: an object (a non-object value `x` is `{"result": x}`).
    pub response: Value,
    /// Call id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The call failed.
    pub is_error: bool,
}

/// Token counts of an invocation, summed over its model calls.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Tokens {
    /// Input (prompt) tokens.
    pub input: i64,
    /// Output tokens.
    pub output: i64,
}

/// One invocation (turn), actual or expected.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Invocation {
    /// Invocation id (the anchor span id for actual turns).
    pub invocation_id: String,
    /// Trace of the anchor span (actual turns).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    /// Agent name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_name: Option<String>,
    /// What the user said.
    pub user_text: Option<String>,
    /// The final response text (`None` when there is none).
    pub final_response: Option<String>,
    /// Tool calls in trajectory order.
    pub tool_calls: Vec<ToolUse>,
    /// Tool results.
    pub tool_responses: Vec<ToolResult>,
    /// Logical model calls (actual turns).
    pub llm_calls: Option<usize>,
    /// Token usage, when the telemetry reported any (actual turns).
    pub tokens: Option<Tokens>,
    /// Wall-clock duration in seconds (actual turns).
    pub duration_s: Option<f64>,
    /// Rubrics attached to the invocation (expected ones), as the eval set gives them.
    #[serde(skip)]
    pub rubrics: Option<Value>,
}

fn wrap(v: Option<&Value>, key: &str) -> Value {
    match v {
        None => Value::Object(Map::new()),
        Some(Value::Object(o)) => Value::Object(o.clone()),
        Some(other) => {
            let mut m = Map::new();
            m.insert(key.to_owned(), other.clone());
            Value::Object(m)
        }
    }
}

/// [`wrap`] of a value that is not needed afterwards.
fn wrap_owned(v: Option<Value>, key: &str) -> Value {
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

impl Invocation {
    /// [`Invocation::from_turn`] of a turn that is not needed afterwards: its tool calls' names,
    /// arguments and results move instead of being copied.
    pub fn from_turn_owned(mut t: Turn) -> Self {
        let calls = std::mem::take(&mut t.tool_calls);
        let mut inv = Self::from_turn(&t);
        inv.tool_calls.reserve(calls.len());
        for c in calls {
            if let Some(r) = c.result {
                inv.tool_responses.push(ToolResult {
                    name: c.name.clone(),
                    response: wrap_owned(Some(r), "result"),
                    id: c.call_id.clone(),
                    is_error: c.is_error,
                });
            }
            inv.tool_calls.push(ToolUse {
                name: c.name,
                args: wrap_owned(c.arguments, "value"),
                id: c.call_id,
            });
        }
        inv
    }

    /// The actual invocation of an extracted turn, as agentevals hands it to ADK.
    pub fn from_turn(t: &Turn) -> Self {
        let mut tool_calls = Vec::with_capacity(t.tool_calls.len());
        let mut tool_responses = Vec::new();
        for c in &t.tool_calls {
            tool_calls.push(ToolUse {
                name: c.name.clone(),
                args: wrap(c.arguments.as_ref(), "value"),
                id: c.call_id.clone(),
            });
            if let Some(r) = &c.result {
                tool_responses.push(ToolResult {
                    name: c.name.clone(),
                    response: wrap(Some(r), "result"),
                    id: c.call_id.clone(),
                    is_error: c.is_error,
                });
            }
        }
        let usage = t.usage();
        let tokens = (usage.input.is_some() || usage.output.is_some()).then(|| Tokens {
            input: usage.input.unwrap_or(0),
            output: usage.output.unwrap_or(0),
        });
        #[allow(clippy::cast_precision_loss)]
        let duration_s = Some(t.end_ns.saturating_sub(t.start_ns) as f64 / 1e9);
        Self {
            invocation_id: t.anchor.to_string(),
            trace_id: Some(t.trace_id.to_string()),
            agent_name: t.agent_name.clone(),
            user_text: t.user_text(),
            final_response: t.agent_text(),
            tool_calls,
            tool_responses,
            llm_calls: Some(t.llm_calls.len()),
            tokens,
            duration_s,
            rubrics: None,
        }
    }

    /// The expected invocation of an eval set's conversation entry. The final response is its
    /// text parts joined with `"\n"` (as ADK's `final_response_match_v1` reads it).
    pub fn from_expected(i: &eval_set::Invocation) -> Self {
        let final_response = i.final_response.as_ref().map(|c| {
            c.parts
                .iter()
                .filter_map(|p| p.text.as_deref().filter(|t| !t.is_empty()))
                .collect::<Vec<_>>()
                .join("\n")
        });
        let (tool_calls, tool_responses) = match &i.intermediate_data {
            Some(d) => (
                d.tool_uses
                    .iter()
                    .map(|u| ToolUse {
                        name: u.name.clone(),
                        args: u.args.clone(),
                        id: u.id.clone(),
                    })
                    .collect(),
                d.tool_responses
                    .iter()
                    .map(|r| ToolResult {
                        name: r.name.clone(),
                        response: r.response.clone(),
                        id: r.id.clone(),
                        is_error: false,
                    })
                    .collect(),
            ),
            None => (Vec::new(), Vec::new()),
        };
        Self {
            invocation_id: i.invocation_id.clone(),
            user_text: i.user_content.text(),
            final_response,
            tool_calls,
            tool_responses,
            rubrics: i.rubrics.clone(),
            ..Self::default()
        }
    }
}

/// An evaluation group: its actual invocations and the golden case selected for it.
#[derive(Clone, Debug, Default)]
pub struct Group {
    /// Group key (conversation key or trace id).
    pub key: String,
    /// The group's earliest trace: the id results are reported under.
    pub trace_id: String,
    /// Member traces.
    pub trace_ids: Vec<String>,
    /// Actual invocations in order.
    pub invocations: Vec<Invocation>,
    /// Golden case selection (`None` when no eval set was given).
    pub case: Option<CaseSelection>,
}

impl Group {
    /// The groups of an extraction.
    pub fn from_extraction(ex: &Extraction) -> Vec<Self> {
        ex.groups.iter().map(Self::from_extracted).collect()
    }

    /// [`Group::from_extracted`] of a group that is not needed afterwards (its turns move).
    pub fn from_extracted_owned(g: agentrace_loader::extract::Group) -> Self {
        let trace_ids: Vec<String> = g.trace_ids.iter().map(ToString::to_string).collect();
        Self {
            key: g.key,
            trace_id: trace_ids.first().cloned().unwrap_or_default(),
            trace_ids,
            invocations: g
                .turns
                .into_iter()
                .map(Invocation::from_turn_owned)
                .collect(),
            case: g.case,
        }
    }

    /// One extracted group.
    pub fn from_extracted(g: &agentrace_loader::extract::Group) -> Self {
        let trace_ids: Vec<String> = g.trace_ids.iter().map(ToString::to_string).collect();
        Self {
            key: g.key.clone(),
            trace_id: trace_ids.first().cloned().unwrap_or_default(),
            trace_ids,
            invocations: g.turns.iter().map(Invocation::from_turn).collect(),
            case: g.case.clone(),
        }
    }
}
