//! Opt-in content capture: instructions, input and output messages, tool definitions, tool
//! arguments and results.
//!
//! Where content goes follows [`CaptureSettings`]: JSON strings on span attributes
//! (`SPAN_ONLY`, `SPAN_AND_EVENT`), structured values on the
//! `gen_ai.client.inference.operation.details` log event (`EVENT_ONLY`, `SPAN_AND_EVENT`, when the
//! event is emitted), and in the bodies of the legacy per-message events when those are switched
//! on. With `NO_CONTENT` (the default) no content is written anywhere: the recorders return
//! before serializing anything.
//!
//! The `operation.details` event is the conventions' one log event for content. An inference span
//! emits it whenever it is on (it also carries the response attributes). Any other span
//! (`execute_tool` with its arguments and result, an agent with its tool definitions and
//! messages, a retrieval with its query) emits it, with that span's attributes, only when content
//! was recorded on it and content goes to events (`EVENT_ONLY`, `SPAN_AND_EVENT`): so with
//! `EVENT_ONLY` tool arguments and results are on the event and not on the span. When the event
//! is switched off (`OTEL_INSTRUMENTATION_GENAI_EMIT_EVENT=false`, or the legacy conventions),
//! `EVENT_ONLY` content of non-inference spans has nowhere to go and is not captured.
//!
//! Truncation ([`crate::InstrumentationBuilder::with_content_max_length`]) cuts string values
//! inside the JSON (a budget in characters shared by all strings of one value, in document order,
//! each cut marked with `…`), so the result is always valid JSON of the same shape.

use agentrace_semconv::legacy::{
    ChoiceEvent, CompletionMessage, FunctionCall, MessageEvent, ToolCall,
};
use agentrace_semconv::message::{
    ChatMessage, OutputMessage, Part, SystemInstructions, ToolDefinition,
};
use agentrace_semconv::{CaptureSettings, FinishReason, Role, attr, event};
use opentelemetry::logs::{AnyValue, Severity};
use opentelemetry::{Key, KeyValue};
use serde_json::Value;

use crate::instrumentation::{LogEvent, json_to_any_value};
use crate::span::GenAiSpan;
use crate::stream::{StreamOutcome, StreamOutput};

/// Marker appended to a string cut by truncation.
pub const TRUNCATION_MARKER: &str = "…";

/// What a span keeps for its `operation.details` event (only when that event will be emitted).
#[derive(Debug, Default)]
pub(crate) struct ContentState {
    details: Option<Box<Details>>,
}

#[derive(Debug, Default)]
struct Details {
    attributes: Vec<KeyValue>,
    content: Vec<(&'static str, Value)>,
    /// Inference spans emit the event even without content; other spans only with content.
    inference: bool,
}

impl ContentState {
    /// State for a new span; `start_attributes` are copied only if the details event may be
    /// emitted for it (an inference span with the event on, or any span when content also goes
    /// to events).
    pub(crate) fn for_span(
        settings: &CaptureSettings,
        inference: bool,
        start_attributes: &[KeyValue],
    ) -> Self {
        if settings.emit_inference_details_event() && (inference || settings.capture_on_events()) {
            Self {
                details: Some(Box::new(Details {
                    attributes: start_attributes.to_vec(),
                    content: Vec::new(),
                    inference,
                })),
            }
        } else {
            Self::default()
        }
    }

    /// Notes an attribute set after start (response, usage, error) for the details event.
    pub(crate) fn note(&mut self, kv: &KeyValue) {
        if let Some(d) = &mut self.details {
            match d.attributes.iter_mut().find(|a| a.key == kv.key) {
                Some(a) => *a = kv.clone(),
                None => d.attributes.push(kv.clone()),
            }
        }
    }
}

/// Truncates the strings of a JSON value to a shared budget of `max_chars` characters.
pub fn truncate_json(value: &mut Value, max_chars: usize) {
    fn walk(v: &mut Value, budget: &mut usize) {
        match v {
            Value::String(s) => {
                let n = s.chars().count();
                if n <= *budget {
                    *budget -= n;
                } else {
                    let keep: String = s.chars().take(*budget).collect();
                    *budget = 0;
                    *s = keep + TRUNCATION_MARKER;
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|i| walk(i, budget)),
            Value::Object(map) => map.values_mut().for_each(|i| walk(i, budget)),
            _ => {}
        }
    }
    let mut budget = max_chars;
    walk(value, &mut budget);
}

/// Request content converted from a provider's request (see [`crate::convert`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RequestContent {
    /// Instructions given apart from the chat history.
    pub system_instructions: Option<SystemInstructions>,
    /// The chat history, in order.
    pub messages: Vec<ChatMessage>,
    /// Tools offered to the model.
    pub tools: Vec<ToolDefinition>,
}

/// Response content converted from a provider's response (see [`crate::convert`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResponseContent {
    /// `gen_ai.response.id`.
    pub id: Option<String>,
    /// `gen_ai.response.model`.
    pub model: Option<String>,
    /// One message per choice.
    pub messages: Vec<OutputMessage>,
    /// Provider-reported usage.
    pub usage: crate::Usage,
    /// Provider-native finish reasons, one per choice.
    pub finish_reasons: Vec<String>,
}

impl GenAiSpan {
    fn settings(&self) -> &CaptureSettings {
        self.inst.capture()
    }

    /// Whether any content recorder would write anything (spans, events or legacy events).
    pub fn captures_content(&self) -> bool {
        let s = self.settings();
        s.capture_on_spans()
            || (s.capture_on_events()
                && (self.content.details.is_some() || self.inst.legacy_events()))
    }

    fn capture(&mut self, key: &'static str, value: impl FnOnce() -> Value) {
        let s = *self.settings();
        let on_spans = s.capture_on_spans();
        let on_events = s.capture_on_events() && self.content.details.is_some();
        if !on_spans && !on_events {
            return;
        }
        let mut value = value();
        if let Some(max) = self.inst.inner.max_content_length {
            truncate_json(&mut value, max);
        }
        if on_spans {
            let text = match &value {
                Value::String(s)
                    if key == attr::GEN_AI_TOOL_CALL_RESULT
                        || key == attr::GEN_AI_TOOL_CALL_ARGUMENTS =>
                {
                    s.clone()
                }
                other => other.to_string(),
            };
            self.set_late(KeyValue::new(key, text));
        }
        if on_events && let Some(d) = &mut self.content.details {
            d.content.push((key, value));
        }
    }

    /// `gen_ai.input.messages` (opt-in content), and the legacy per-message events if on.
    pub fn record_input_messages(&mut self, messages: &[ChatMessage]) {
        self.capture(attr::GEN_AI_INPUT_MESSAGES, || to_value(messages));
        if self.inst.legacy_events() {
            for m in messages {
                self.emit_legacy_message(m);
            }
        }
    }

    /// `gen_ai.output.messages` (opt-in content), and the legacy `gen_ai.choice` events if on.
    pub fn record_output_messages(&mut self, messages: &[OutputMessage]) {
        self.capture(attr::GEN_AI_OUTPUT_MESSAGES, || to_value(messages));
        if self.inst.legacy_events() {
            for (i, m) in messages.iter().enumerate() {
                self.emit_legacy_choice(i, m);
            }
        }
    }

    /// `gen_ai.system_instructions` (opt-in content), and a legacy `gen_ai.system.message` if on.
    pub fn record_system_instructions(&mut self, instructions: &SystemInstructions) {
        self.capture(attr::GEN_AI_SYSTEM_INSTRUCTIONS, || to_value(instructions));
        if self.inst.legacy_events() {
            self.emit_legacy_message(&ChatMessage::new(Role::System, instructions.parts.clone()));
        }
    }

    /// `gen_ai.tool.definitions` (opt-in content).
    pub fn record_tool_definitions(&mut self, tools: &[ToolDefinition]) {
        self.capture(attr::GEN_AI_TOOL_DEFINITIONS, || to_value(tools));
    }

    /// `gen_ai.tool.call.arguments` (opt-in content; `execute_tool` spans).
    pub fn record_tool_call_arguments(&mut self, arguments: &Value) {
        self.capture(attr::GEN_AI_TOOL_CALL_ARGUMENTS, || arguments.clone());
    }

    /// `gen_ai.tool.call.result` (opt-in content; `execute_tool` spans).
    pub fn record_tool_call_result(&mut self, result: &Value) {
        self.capture(attr::GEN_AI_TOOL_CALL_RESULT, || result.clone());
    }

    /// `gen_ai.retrieval.query.text` (opt-in content; `retrieval` spans).
    pub fn record_retrieval_query(&mut self, query: &str) {
        self.capture(attr::GEN_AI_RETRIEVAL_QUERY_TEXT, || {
            Value::String(query.to_owned())
        });
    }

    /// Everything of a converted request: instructions, messages and tools.
    pub fn record_request(&mut self, request: &RequestContent) {
        if let Some(si) = &request.system_instructions {
            self.record_system_instructions(si);
        }
        if !request.messages.is_empty() {
            self.record_input_messages(&request.messages);
        }
        if !request.tools.is_empty() {
            self.record_tool_definitions(&request.tools);
        }
    }

    /// Everything of a converted response: id, model, finish reasons, usage, output messages.
    pub fn record_response(&mut self, response: &ResponseContent) {
        if let Some(id) = &response.id {
            self.set_response_id(id.clone());
        }
        if let Some(m) = &response.model {
            self.set_response_model(m.clone());
        }
        if !response.finish_reasons.is_empty() {
            self.set_finish_reasons(response.finish_reasons.iter().cloned());
        }
        if !response.usage.is_empty() {
            self.record_usage(&response.usage);
        }
        if !response.messages.is_empty() {
            self.record_output_messages(&response.messages);
        }
    }

    pub(crate) fn emit(&self, event: LogEvent) {
        let _guard = self.cx.clone().attach();
        self.inst.emit_log_event(event);
    }

    fn legacy_attributes(&self) -> Vec<(Key, AnyValue)> {
        self.base_metric_attributes()
            .iter()
            .filter(|kv| kv.key.as_str() == attr::GEN_AI_PROVIDER_NAME)
            .map(|kv| {
                (
                    kv.key.clone(),
                    AnyValue::String(kv.value.as_str().into_owned().into()),
                )
            })
            .collect()
    }

    fn emit_legacy_message(&self, message: &ChatMessage) {
        let with_content = self.settings().capture_on_events();
        let (name, role_kept) = match event::message_event_for_role(&message.role) {
            Some(name) => (name, None),
            None => (event::USER_MESSAGE, Some(message.role.as_str().to_owned())),
        };
        let (content, tool_calls, tool_id) = legacy_parts(&message.parts, with_content);
        let mut body = MessageEvent {
            content,
            role: role_kept.clone().unwrap_or_default(),
            tool_calls: (message.role == Role::Assistant && !tool_calls.is_empty())
                .then_some(tool_calls),
            extra: Default::default(),
        };
        if let Some(id) = tool_id {
            body.extra.insert("id".to_owned(), Value::String(id));
        }
        let mut value = to_value(&body);
        if role_kept.is_none()
            && let Value::Object(map) = &mut value
        {
            map.remove("role");
        }
        self.emit(LogEvent {
            name,
            severity: Severity::Info,
            attributes: self.legacy_attributes(),
            body: Some(json_to_any_value(&value)),
        });
    }

    fn emit_legacy_choice(&self, index: usize, message: &OutputMessage) {
        let with_content = self.settings().capture_on_events();
        let (content, tool_calls, _) = legacy_parts(&message.parts, with_content);
        let finish_reason = match &message.finish_reason {
            FinishReason::ToolCall => "tool_calls".to_owned(),
            other => other.as_str().to_owned(),
        };
        let body = ChoiceEvent {
            index: index as u64,
            message: CompletionMessage {
                content,
                role: message.role.as_str().to_owned(),
                extra: Default::default(),
            },
            finish_reason,
            tool_calls: (!tool_calls.is_empty()).then_some(tool_calls),
            extra: Default::default(),
        };
        let mut value = to_value(&body);
        if message.role == Role::Assistant
            && let Some(Value::Object(m)) = value.get_mut("message")
        {
            m.remove("role");
        }
        self.emit(LogEvent {
            name: event::CHOICE,
            severity: Severity::Info,
            attributes: self.legacy_attributes(),
            body: Some(json_to_any_value(&value)),
        });
    }
}

/// Splits parts into the legacy shape: content (a string when all parts are text), tool calls,
/// and the id of a tool response. Without content capture, content and arguments are dropped.
fn legacy_parts(parts: &[Part], with_content: bool) -> (Value, Vec<ToolCall>, Option<String>) {
    let mut texts = Vec::new();
    let mut others = Vec::new();
    let mut calls = Vec::new();
    let mut tool_id = None;
    let mut response = None;
    for p in parts {
        match p {
            Part::Text(t) => texts.push(t.content.clone()),
            Part::ToolCall(c) => calls.push(ToolCall {
                id: c.id.clone(),
                function: FunctionCall {
                    name: c.name.clone(),
                    arguments: if with_content {
                        c.arguments.as_ref().map(|a| Value::String(a.to_string()))
                    } else {
                        None
                    },
                    extra: Default::default(),
                },
                kind: "function".to_owned(),
                extra: Default::default(),
            }),
            Part::ToolCallResponse(r) => {
                tool_id = r.id.clone();
                response = Some(r.response.clone());
            }
            other => others.push(other.to_value()),
        }
    }
    let content = if !with_content {
        Value::Null
    } else if let Some(r) = response {
        r
    } else if others.is_empty() {
        Value::String(texts.concat())
    } else {
        let mut all: Vec<Value> = texts
            .into_iter()
            .map(|t| Part::text(t).to_value())
            .collect();
        all.extend(others);
        Value::Array(all)
    };
    (content, calls, tool_id)
}

fn to_value<T: serde::Serialize + ?Sized>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// Called once when a span ends: emits the `operation.details` event if it is on (for a
/// non-inference span, only if content was recorded on it).
pub(crate) fn flush(span: &mut GenAiSpan) {
    let Some(details) = span.content.details.take() else {
        return;
    };
    if !details.inference && details.content.is_empty() {
        return;
    }
    let mut attributes: Vec<(Key, AnyValue)> = details
        .attributes
        .into_iter()
        .map(|kv| (kv.key, otel_to_any(kv.value)))
        .collect();
    for (key, value) in details.content {
        attributes.push((Key::from_static_str(key), json_to_any_value(&value)));
    }
    span.emit(LogEvent {
        name: event::INFERENCE_OPERATION_DETAILS,
        severity: Severity::Debug,
        attributes,
        body: None,
    });
}

fn otel_to_any(v: opentelemetry::Value) -> AnyValue {
    use opentelemetry::{Array, Value as V};
    match v {
        V::Bool(b) => AnyValue::Boolean(b),
        V::I64(i) => AnyValue::Int(i),
        V::F64(f) => AnyValue::Double(f),
        V::String(s) => AnyValue::String(s),
        V::Array(Array::Bool(a)) => {
            AnyValue::ListAny(Box::new(a.into_iter().map(AnyValue::Boolean).collect()))
        }
        V::Array(Array::I64(a)) => {
            AnyValue::ListAny(Box::new(a.into_iter().map(AnyValue::Int).collect()))
        }
        V::Array(Array::F64(a)) => {
            AnyValue::ListAny(Box::new(a.into_iter().map(AnyValue::Double).collect()))
        }
        V::Array(Array::String(a)) => {
            AnyValue::ListAny(Box::new(a.into_iter().map(AnyValue::String).collect()))
        }
        other => AnyValue::String(other.as_str().into_owned().into()),
    }
}

/// The reconstructed output of a stream, one message per choice. A failed stream's messages are
/// truncated at what arrived and have finish reason `error`.
pub fn stream_output_messages(
    out: &StreamOutput,
    outcome: Option<StreamOutcome>,
) -> Vec<OutputMessage> {
    out.choices
        .iter()
        .map(|c| {
            let mut parts = Vec::new();
            if !c.reasoning.is_empty() {
                parts.push(Part::reasoning(c.reasoning.clone()));
            }
            if !c.text.is_empty() {
                parts.push(Part::text(c.text.clone()));
            }
            for call in c
                .tool_calls
                .iter()
                .filter(|t| !t.name.is_empty() || t.id.is_some())
            {
                let args = if call.arguments.is_empty() {
                    None
                } else {
                    Some(
                        serde_json::from_str(&call.arguments)
                            .unwrap_or_else(|_| Value::String(call.arguments.clone())),
                    )
                };
                parts.push(Part::tool_call(call.id.clone(), call.name.clone(), args));
            }
            let finish = match (outcome, &c.finish_reason) {
                (Some(StreamOutcome::Failed), _) => FinishReason::Error,
                (_, Some(raw)) => crate::convert::finish_reason(raw),
                (_, None) => FinishReason::Other("incomplete".to_owned()),
            };
            OutputMessage::new(Role::Assistant, parts, finish)
        })
        .collect()
}

/// Called once when a traced stream ends: the reconstructed output goes where content goes.
pub(crate) fn record_stream_output(
    span: &mut GenAiSpan,
    out: &StreamOutput,
    outcome: StreamOutcome,
) {
    if !span.captures_content() && !span.inst.legacy_events() {
        return;
    }
    let messages = stream_output_messages(out, Some(outcome));
    if !messages.is_empty() {
        span.record_output_messages(&messages);
    }
}
