//! Event names: the current GenAI events, the deprecated ones, and the live event-type
//! vocabulary of agent frameworks.
//!
//! All names are `&'static str` because `opentelemetry`'s `LogRecord::set_event_name` takes one.
//!
//! | name | kind | status |
//! |---|---|---|
//! | [`INFERENCE_OPERATION_DETAILS`] | log event, same attributes as the inference span, severity DEBUG | current, opt-in |
//! | [`EVALUATION_RESULT`] | log event parented to the evaluated span | current |
//! | [`OPERATION_EXCEPTION`] | log event, severity WARN | current |
//! | [`SYSTEM_MESSAGE`], [`USER_MESSAGE`], [`ASSISTANT_MESSAGE`], [`TOOL_MESSAGE`], [`CHOICE`] | log events, payload in the body | deprecated (v1.28–v1.36) |
//! | [`CONTENT_PROMPT`], [`CONTENT_COMPLETION`] | span events with `gen_ai.prompt` / `gen_ai.completion` | deprecated (v1.27) |
//! | [`LiveEventType`] (18 names, `gen_ai.agent.start` …) | span events of agent frameworks (msgtrace) | not semconv; a de-facto vocabulary |
//!
//! ```
//! use agentrace_semconv::enums::Role;
//! use agentrace_semconv::event::{self, LiveEventGroup, LiveEventType};
//!
//! assert_eq!(event::message_event_for_role(&Role::User), Some(event::USER_MESSAGE));
//! assert_eq!(event::role_of_message_event(event::TOOL_MESSAGE), Some(Role::Tool));
//! let ty = LiveEventType::from_name("gen_ai.tool.call").expect("a live event name");
//! assert_eq!(ty, LiveEventType::ToolCall);
//! assert_eq!(ty.group(), LiveEventGroup::Tool);
//! ```

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::attr;
use crate::enums::Role;

/// `gen_ai.client.inference.operation.details`: the input and output details of an inference,
/// with the inference span's attributes and, structured, the opt-in content attributes.
pub const INFERENCE_OPERATION_DETAILS: &str = "gen_ai.client.inference.operation.details";
/// `gen_ai.evaluation.result`: the result of evaluating a GenAI output.
pub const EVALUATION_RESULT: &str = "gen_ai.evaluation.result";
/// `gen_ai.client.operation.exception`: an exception during a GenAI client operation.
pub const OPERATION_EXCEPTION: &str = "gen_ai.client.operation.exception";

/// Severity number of [`INFERENCE_OPERATION_DETAILS`]: DEBUG (5).
pub const INFERENCE_OPERATION_DETAILS_SEVERITY: i32 = 5;
/// Severity number of [`OPERATION_EXCEPTION`]: WARN (13).
pub const OPERATION_EXCEPTION_SEVERITY: i32 = 13;

/// The opt-in content attributes of [`INFERENCE_OPERATION_DETAILS`] (and of the inference span):
/// on events they MUST be structured values, on spans JSON strings are allowed.
pub const CONTENT_ATTRIBUTES: &[&str] = &[
    attr::GEN_AI_SYSTEM_INSTRUCTIONS,
    attr::GEN_AI_INPUT_MESSAGES,
    attr::GEN_AI_OUTPUT_MESSAGES,
    attr::GEN_AI_TOOL_DEFINITIONS,
];

/// The attributes of [`EVALUATION_RESULT`]: `gen_ai.evaluation.name` (required), score value
/// and label (if applicable), explanation, `gen_ai.response.id` and `error.type`.
pub const EVALUATION_RESULT_ATTRIBUTES: &[&str] = &[
    attr::GEN_AI_EVALUATION_NAME,
    attr::GEN_AI_EVALUATION_SCORE_VALUE,
    attr::GEN_AI_EVALUATION_SCORE_LABEL,
    attr::GEN_AI_EVALUATION_EXPLANATION,
    attr::GEN_AI_RESPONSE_ID,
    attr::ERROR_TYPE,
];

/// The attributes of [`OPERATION_EXCEPTION`].
pub const OPERATION_EXCEPTION_ATTRIBUTES: &[&str] = &[
    attr::EXCEPTION_TYPE,
    attr::EXCEPTION_MESSAGE,
    attr::EXCEPTION_STACKTRACE,
];

/// `gen_ai.system.message` (deprecated): a system message; body `{content, role?}`.
pub const SYSTEM_MESSAGE: &str = "gen_ai.system.message";
/// `gen_ai.user.message` (deprecated): a user message; body `{content, role?}`.
pub const USER_MESSAGE: &str = "gen_ai.user.message";
/// `gen_ai.assistant.message` (deprecated): an assistant message; body `{content, role?, tool_calls?}`.
pub const ASSISTANT_MESSAGE: &str = "gen_ai.assistant.message";
/// `gen_ai.tool.message` (deprecated): a tool result; body `{content, role?, id}`.
pub const TOOL_MESSAGE: &str = "gen_ai.tool.message";
/// `gen_ai.choice` (deprecated): one response choice; body `{index, finish_reason, message?, tool_calls?}`.
pub const CHOICE: &str = "gen_ai.choice";
/// `gen_ai.content.prompt` (deprecated, v1.27): span event carrying `gen_ai.prompt`.
pub const CONTENT_PROMPT: &str = "gen_ai.content.prompt";
/// `gen_ai.content.completion` (deprecated, v1.27): span event carrying `gen_ai.completion`.
pub const CONTENT_COMPLETION: &str = "gen_ai.content.completion";

/// The deprecated per-message event names, in the order system, user, assistant, tool.
pub const DEPRECATED_MESSAGE_EVENTS: &[&str] = &[
    SYSTEM_MESSAGE,
    USER_MESSAGE,
    ASSISTANT_MESSAGE,
    TOOL_MESSAGE,
];

/// Every deprecated event name ([`DEPRECATED_MESSAGE_EVENTS`], [`CHOICE`] and the v1.27 span events).
pub const DEPRECATED_EVENTS: &[&str] = &[
    SYSTEM_MESSAGE,
    USER_MESSAGE,
    ASSISTANT_MESSAGE,
    TOOL_MESSAGE,
    CHOICE,
    CONTENT_PROMPT,
    CONTENT_COMPLETION,
];

/// The deprecated per-message event for a role (`user` → `gen_ai.user.message`); `None` for
/// roles other than system, user, assistant and tool.
pub fn message_event_for_role(role: &Role) -> Option<&'static str> {
    match role {
        Role::System => Some(SYSTEM_MESSAGE),
        Role::User => Some(USER_MESSAGE),
        Role::Assistant => Some(ASSISTANT_MESSAGE),
        Role::Tool => Some(TOOL_MESSAGE),
        Role::Other(_) => None,
    }
}

/// The role a deprecated per-message event implies (`gen_ai.tool.message` → `tool`); `None`
/// for other names.
pub fn role_of_message_event(name: &str) -> Option<Role> {
    match name {
        SYSTEM_MESSAGE => Some(Role::System),
        USER_MESSAGE => Some(Role::User),
        ASSISTANT_MESSAGE => Some(Role::Assistant),
        TOOL_MESSAGE => Some(Role::Tool),
        _ => None,
    }
}

/// `gen_ai.agent.start`: an agent started.
pub const AGENT_START: &str = "gen_ai.agent.start";
/// `gen_ai.agent.step`: an agent took a step.
pub const AGENT_STEP: &str = "gen_ai.agent.step";
/// `gen_ai.agent.complete`: an agent finished.
pub const AGENT_COMPLETE: &str = "gen_ai.agent.complete";
/// `gen_ai.agent.error`: an agent failed.
pub const AGENT_ERROR: &str = "gen_ai.agent.error";
/// `gen_ai.model.request`: a request to a model was sent.
pub const MODEL_REQUEST: &str = "gen_ai.model.request";
/// `gen_ai.model.response`: a model response arrived.
pub const MODEL_RESPONSE: &str = "gen_ai.model.response";
/// `gen_ai.model.response.chunk`: a chunk of a streamed model response arrived.
pub const MODEL_RESPONSE_CHUNK: &str = "gen_ai.model.response.chunk";
/// `gen_ai.model.reasoning`: the model's reasoning.
pub const MODEL_REASONING: &str = "gen_ai.model.reasoning";
/// `gen_ai.model.reasoning.chunk`: a chunk of streamed reasoning.
pub const MODEL_REASONING_CHUNK: &str = "gen_ai.model.reasoning.chunk";
/// `gen_ai.tool.call`: a tool was called.
pub const TOOL_CALL: &str = "gen_ai.tool.call";
/// `gen_ai.tool.result`: a tool returned.
pub const TOOL_RESULT: &str = "gen_ai.tool.result";
/// `gen_ai.tool.error`: a tool failed.
pub const TOOL_ERROR: &str = "gen_ai.tool.error";
/// `gen_ai.flow.step`: a step of a flow (ReAct, chain of thought).
pub const FLOW_STEP: &str = "gen_ai.flow.step";
/// `gen_ai.flow.reasoning`: reasoning within a flow.
pub const FLOW_REASONING: &str = "gen_ai.flow.reasoning";
/// `gen_ai.flow.complete`: a flow finished.
pub const FLOW_COMPLETE: &str = "gen_ai.flow.complete";
/// `gen_ai.module.start`: a module started.
pub const MODULE_START: &str = "gen_ai.module.start";
/// `gen_ai.module.complete`: a module finished.
pub const MODULE_COMPLETE: &str = "gen_ai.module.complete";
/// `gen_ai.module.error`: a module failed.
pub const MODULE_ERROR: &str = "gen_ai.module.error";

/// The group a [`LiveEventType`] belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LiveEventGroup {
    /// `gen_ai.agent.*`.
    Agent,
    /// `gen_ai.model.*`.
    Model,
    /// `gen_ai.tool.*`.
    Tool,
    /// `gen_ai.flow.*` (ReAct, chain of thought).
    Flow,
    /// `gen_ai.module.*`.
    Module,
}

/// Defines [`LiveEventType`] from `(variant, const, group)` triples.
macro_rules! live_events {
    ($( $(#[$vmeta:meta])* $variant:ident = $name:ident, $group:ident; )+) => {
        /// The live event-type vocabulary: span events that agent frameworks (msgtrace-sdk's
        /// `EventType`) emit while an agent runs, and stream to live viewers.
        ///
        /// These are not OpenTelemetry semantic-convention names. The set is closed: use
        /// [`LiveEventType::from_name`] to recognise a name.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum LiveEventType {
            $( $(#[$vmeta])* $variant, )+
        }

        impl LiveEventType {
            /// All 18 event types, grouped agent, model, tool, flow, module.
            pub const ALL: &'static [LiveEventType] = &[ $( LiveEventType::$variant, )+ ];

            /// The event name (`gen_ai.agent.start` …).
            pub fn as_str(self) -> &'static str {
                match self {
                    $( LiveEventType::$variant => $name, )+
                }
            }

            /// The group of the event type.
            pub fn group(self) -> LiveEventGroup {
                match self {
                    $( LiveEventType::$variant => LiveEventGroup::$group, )+
                }
            }

            /// The event type with this name, if it is one of the vocabulary.
            pub fn from_name(name: &str) -> Option<Self> {
                match name {
                    $( $name => Some(LiveEventType::$variant), )+
                    _ => None,
                }
            }
        }
    };
}

live_events! {
    /// [`AGENT_START`].
    AgentStart = AGENT_START, Agent;
    /// [`AGENT_STEP`].
    AgentStep = AGENT_STEP, Agent;
    /// [`AGENT_COMPLETE`].
    AgentComplete = AGENT_COMPLETE, Agent;
    /// [`AGENT_ERROR`].
    AgentError = AGENT_ERROR, Agent;
    /// [`MODEL_REQUEST`].
    ModelRequest = MODEL_REQUEST, Model;
    /// [`MODEL_RESPONSE`].
    ModelResponse = MODEL_RESPONSE, Model;
    /// [`MODEL_RESPONSE_CHUNK`].
    ModelResponseChunk = MODEL_RESPONSE_CHUNK, Model;
    /// [`MODEL_REASONING`].
    ModelReasoning = MODEL_REASONING, Model;
    /// [`MODEL_REASONING_CHUNK`].
    ModelReasoningChunk = MODEL_REASONING_CHUNK, Model;
    /// [`TOOL_CALL`].
    ToolCall = TOOL_CALL, Tool;
    /// [`TOOL_RESULT`].
    ToolResult = TOOL_RESULT, Tool;
    /// [`TOOL_ERROR`].
    ToolError = TOOL_ERROR, Tool;
    /// [`FLOW_STEP`].
    FlowStep = FLOW_STEP, Flow;
    /// [`FLOW_REASONING`].
    FlowReasoning = FLOW_REASONING, Flow;
    /// [`FLOW_COMPLETE`].
    FlowComplete = FLOW_COMPLETE, Flow;
    /// [`MODULE_START`].
    ModuleStart = MODULE_START, Module;
    /// [`MODULE_COMPLETE`].
    ModuleComplete = MODULE_COMPLETE, Module;
    /// [`MODULE_ERROR`].
    ModuleError = MODULE_ERROR, Module;
}

impl LiveEventType {
    /// Whether the event reports a failure (`*.error`).
    pub fn is_error(self) -> bool {
        matches!(
            self,
            LiveEventType::AgentError | LiveEventType::ToolError | LiveEventType::ModuleError
        )
    }

    /// Whether the event is one chunk of a stream (`*.chunk`).
    pub fn is_chunk(self) -> bool {
        matches!(
            self,
            LiveEventType::ModelResponseChunk | LiveEventType::ModelReasoningChunk
        )
    }
}

/// The name is not one of the 18 live event types.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a live event type")]
pub struct UnknownLiveEventType(pub String);

impl FromStr for LiveEventType {
    type Err = UnknownLiveEventType;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::from_name(name).ok_or_else(|| UnknownLiveEventType(name.to_owned()))
    }
}

impl fmt::Display for LiveEventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for LiveEventType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for LiveEventType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eighteen_live_event_types_round_trip() {
        assert_eq!(LiveEventType::ALL.len(), 18);
        for ty in LiveEventType::ALL {
            assert_eq!(LiveEventType::from_name(ty.as_str()), Some(*ty));
        }
        assert!("gen_ai.tool.call.result".parse::<LiveEventType>().is_err());
    }
}
