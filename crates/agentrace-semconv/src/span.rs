//! Span names and span kinds per operation.
//!
//! A GenAI span is named `{operation} {target}`, where the target is the attribute that
//! [`name_attribute`] gives for the operation: the request model for inference and embeddings,
//! the data source for retrieval, the tool for `execute_tool`, the agent for agent operations and
//! the workflow for `invoke_workflow`. Without a target the name is the operation alone.
//!
//! ```
//! use agentrace_semconv::enums::OperationName;
//! use agentrace_semconv::span::{span_kind, span_name, SpanKind};
//!
//! assert_eq!(span_name(&OperationName::Chat, Some("gpt-4o")), "chat gpt-4o");
//! assert_eq!(span_name(&OperationName::ExecuteTool, Some("get_weather")), "execute_tool get_weather");
//! assert_eq!(span_name(&OperationName::InvokeAgent, Some("planner")), "invoke_agent planner");
//! assert_eq!(span_name(&OperationName::InvokeAgent, None), "invoke_agent");
//! assert_eq!(span_kind(&OperationName::ExecuteTool), SpanKind::Internal);
//! ```

use std::fmt;

use crate::attr;
use crate::enums::OperationName;

/// The span kind the conventions give an operation.
///
/// This crate does not depend on `opentelemetry`; map it to `opentelemetry::trace::SpanKind` at
/// the call site (`Client` → `Client`, `Internal` → `Internal`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SpanKind {
    /// A call to a remote service (a model API, a vector store, a remote agent).
    Client,
    /// Work inside the process (tool execution, a local agent or model, a workflow).
    Internal,
}

impl SpanKind {
    /// The OTLP spelling, `SPAN_KIND_CLIENT` or `SPAN_KIND_INTERNAL`.
    pub fn as_otlp_str(self) -> &'static str {
        match self {
            SpanKind::Client => "SPAN_KIND_CLIENT",
            SpanKind::Internal => "SPAN_KIND_INTERNAL",
        }
    }
}

impl fmt::Display for SpanKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SpanKind::Client => "client",
            SpanKind::Internal => "internal",
        })
    }
}

/// Attributes that are important for sampling and SHOULD be set when the span is created (not
/// later), for every GenAI client span.
pub const SAMPLING_ATTRIBUTES: &[&str] = &[
    attr::GEN_AI_OPERATION_NAME,
    attr::GEN_AI_PROVIDER_NAME,
    attr::GEN_AI_REQUEST_MODEL,
    attr::SERVER_ADDRESS,
    attr::SERVER_PORT,
];

/// The attributes to set at creation of an `op` span: [`SAMPLING_ATTRIBUTES`], except for
/// `execute_tool`, where only `gen_ai.operation.name` is listed.
pub fn sampling_attributes(op: &OperationName) -> &'static [&'static str] {
    match op {
        OperationName::ExecuteTool => &SAMPLING_ATTRIBUTES[..1],
        _ => SAMPLING_ATTRIBUTES,
    }
}

/// The span name for an operation and its target (`chat gpt-4o`, `execute_tool get_weather`).
///
/// A missing or blank target gives the operation name alone (`invoke_agent`).
pub fn span_name(op: &OperationName, target: Option<&str>) -> String {
    match target.map(str::trim).filter(|target| !target.is_empty()) {
        Some(target) => format!("{} {target}", op.as_str()),
        None => op.as_str().to_owned(),
    }
}

/// The attribute whose value is the target in the span name of `op`, if the conventions name one.
///
/// | operation | target attribute |
/// |---|---|
/// | `chat`, `generate_content`, `text_completion`, `embeddings` | `gen_ai.request.model` |
/// | `retrieval` | `gen_ai.data_source.id` |
/// | `execute_tool` | `gen_ai.tool.name` |
/// | `create_agent`, `invoke_agent`, `plan` | `gen_ai.agent.name` |
/// | `invoke_workflow` | `gen_ai.workflow.name` |
/// | memory operations | `gen_ai.data_source.id` |
/// | anything else | none |
pub fn name_attribute(op: &OperationName) -> Option<&'static str> {
    use OperationName as Op;
    match op {
        Op::Chat | Op::GenerateContent | Op::TextCompletion | Op::Embeddings => {
            Some(attr::GEN_AI_REQUEST_MODEL)
        }
        Op::Retrieval => Some(attr::GEN_AI_DATA_SOURCE_ID),
        Op::ExecuteTool => Some(attr::GEN_AI_TOOL_NAME),
        Op::CreateAgent | Op::InvokeAgent | Op::Plan => Some(attr::GEN_AI_AGENT_NAME),
        Op::InvokeWorkflow => Some(attr::GEN_AI_WORKFLOW_NAME),
        Op::SearchMemory
        | Op::CreateMemory
        | Op::UpdateMemory
        | Op::UpsertMemory
        | Op::DeleteMemory
        | Op::CreateMemoryStore
        | Op::DeleteMemoryStore => Some(attr::GEN_AI_DATA_SOURCE_ID),
        Op::Other(_) => None,
    }
}

/// The default span kind of an operation: `Client` for calls to a service (inference,
/// embeddings, retrieval, agent creation and invocation, memory operations), `Internal` for
/// `execute_tool`, `invoke_workflow`, `plan` and unknown operations.
///
/// Inference and `invoke_agent` spans MAY be `Internal` when the model or agent runs in the same
/// process; use [`span_kind_for`] for that.
pub fn span_kind(op: &OperationName) -> SpanKind {
    use OperationName as Op;
    match op {
        Op::ExecuteTool | Op::InvokeWorkflow | Op::Plan | Op::Other(_) => SpanKind::Internal,
        _ => SpanKind::Client,
    }
}

/// The span kind of an operation whose model or agent runs `in_process` (or not): `Internal`
/// for in-process work, [`span_kind`] otherwise.
pub fn span_kind_for(op: &OperationName, in_process: bool) -> SpanKind {
    if in_process {
        SpanKind::Internal
    } else {
        span_kind(op)
    }
}

/// Splits a GenAI span name into its operation and target, when the first word is a known
/// operation (`"chat gpt-4o"` → `(Chat, Some("gpt-4o"))`, `"invoke_agent"` → `(InvokeAgent,
/// None)`). `None` for names that do not start with a known operation.
pub fn parse_span_name(name: &str) -> Option<(OperationName, Option<&str>)> {
    let (first, rest) = match name.split_once(' ') {
        Some((first, rest)) => (first, Some(rest).filter(|rest| !rest.is_empty())),
        None => (name, None),
    };
    let op = OperationName::parse_str(first);
    op.is_known().then_some((op, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(span_name(&OperationName::Chat, Some("  ")), "chat");
        assert_eq!(
            span_name(&OperationName::Other("rerank".into()), Some("m")),
            "rerank m"
        );
        assert_eq!(
            parse_span_name("chat gpt-4o"),
            Some((OperationName::Chat, Some("gpt-4o")))
        );
        assert_eq!(
            parse_span_name("invoke_agent"),
            Some((OperationName::InvokeAgent, None))
        );
        assert_eq!(parse_span_name("GET /users"), None);
    }

    #[test]
    fn kinds() {
        assert_eq!(span_kind(&OperationName::Chat), SpanKind::Client);
        assert_eq!(
            span_kind(&OperationName::InvokeWorkflow),
            SpanKind::Internal
        );
        assert_eq!(
            span_kind_for(&OperationName::InvokeAgent, true),
            SpanKind::Internal
        );
        assert_eq!(
            span_kind_for(&OperationName::InvokeAgent, false),
            SpanKind::Client
        );
    }
}
