//! The overlay: one normalized view per span, filled from every source in a fixed precedence.

use agentrace_semconv::{attr, event};
use serde_json::{Map, Value};

use crate::extract::message::{
    Message, MessageCache, Part, SharedMessages, is_placeholder, parse_jsonish, parse_jsonish_str,
    parse_message, parse_messages, parse_messages_text, parse_shared_messages_text, share,
};
use crate::key::{
    ADK_INVOCATION_ID, ADK_LLM_REQUEST, ADK_LLM_RESPONSE, ADK_SESSION_ID, ADK_TOOL_ARGS,
    ADK_TOOL_RESPONSE,
};
use crate::model::{AnyValue, Attributes, Key, KeyValue, LogRecord, Span, StatusCode};

const ADK_PREFIX: &str = "gcp.vertex.agent";
/// What every Google ADK attribute key starts with.
const ADK_KEY_PREFIX: &str = "gcp.vertex.agent.";

/// Token usage of a model call.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    /// Input tokens.
    pub input: Option<i64>,
    /// Output tokens.
    pub output: Option<i64>,
    /// Input tokens read from a cache.
    pub cache_read_input: Option<i64>,
    /// Input tokens written to a cache.
    pub cache_write_input: Option<i64>,
    /// Reasoning output tokens.
    pub reasoning_output: Option<i64>,
}

impl Usage {
    fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// The normalized view of one span.
#[derive(Clone, Debug, Default)]
pub struct SpanView {
    /// The operation (`chat`, `invoke_agent`, `execute_tool`, ...), given or inferred.
    pub operation: Option<String>,
    /// Provider name.
    pub provider: Option<String>,
    /// Requested model.
    pub request_model: Option<String>,
    /// Responding model.
    pub response_model: Option<String>,
    /// Response id.
    pub response_id: Option<String>,
    /// Usage.
    pub usage: Usage,
    /// Finish reasons.
    pub finish_reasons: Vec<String>,
    /// Input messages (each shared: a conversation's history repeats in every call's input).
    pub input_messages: Option<SharedMessages>,
    /// Output messages.
    pub output_messages: Option<Vec<Message>>,
    /// System instructions.
    pub system_instructions: Option<Value>,
    /// Tool definitions.
    pub tool_definitions: Option<Value>,
    /// Agent name.
    pub agent_name: Option<String>,
    /// Tool name.
    pub tool_name: Option<String>,
    /// Tool call id.
    pub tool_call_id: Option<String>,
    /// Tool arguments.
    pub tool_arguments: Option<Value>,
    /// Tool result.
    pub tool_result: Option<Value>,
    /// Conversation id.
    pub conversation_id: Option<String>,
    /// `error.type`.
    pub error_type: Option<String>,
    /// Span status is error.
    pub status_error: bool,
    /// An ADK merged tool span (ignored).
    pub ignored: bool,
    /// ADK framework ids (invocation id, session id).
    pub adk_invocation_id: Option<String>,
    /// ADK session id.
    pub adk_session_id: Option<String>,
}

fn s(v: Option<&AnyValue>) -> Option<String> {
    match v? {
        AnyValue::String(x) if !x.is_empty() => Some(x.clone()),
        AnyValue::Int(i) => Some(i.to_string()),
        _ => None,
    }
}

fn int(v: Option<&AnyValue>) -> Option<i64> {
    v.and_then(AnyValue::as_i64)
}

fn set<T>(slot: &mut Option<T>, v: Option<T>) {
    if slot.is_none() {
        *slot = v;
    }
}

/// An attribute that holds JSON (a string to parse, or a structured value). Placeholders and
/// over-long strings count as absent.
fn json_attr(v: Option<&AnyValue>) -> Option<Value> {
    match v? {
        AnyValue::String(x) => {
            if is_placeholder(x) || x.len() > super::MAX_JSON_PARSE_BYTES {
                None
            } else {
                serde_json::from_str(x).ok()
            }
        }
        AnyValue::Empty => None,
        other => Some(other.to_json()),
    }
}

fn messages_attr(v: Option<&AnyValue>) -> Option<Vec<Message>> {
    match v? {
        AnyValue::String(x) => parse_messages_text(x),
        other => parse_messages(&other.to_json()),
    }
}

fn shared_messages_attr(
    v: Option<&AnyValue>,
    cache: Option<&mut MessageCache>,
) -> Option<SharedMessages> {
    match v? {
        AnyValue::String(x) => parse_shared_messages_text(x, cache),
        other => parse_messages(&other.to_json()).map(share),
    }
}

fn finish_reasons(v: Option<&AnyValue>) -> Option<Vec<String>> {
    match v? {
        AnyValue::Array(a) => Some(
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect(),
        ),
        AnyValue::String(x) => {
            // Some producers write a JSON list, some a Python repr, some one reason.
            let t = x.trim();
            if let Ok(Value::Array(a)) = serde_json::from_str::<Value>(t) {
                return Some(
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect(),
                );
            }
            if t.starts_with('[') {
                let inner = t.trim_start_matches('[').trim_end_matches(']');
                return Some(
                    inner
                        .split(',')
                        .map(|p| p.trim().trim_matches(|c| c == '\'' || c == '"').to_owned())
                        .filter(|p| !p.is_empty())
                        .collect(),
                );
            }
            Some(vec![t.to_owned()])
        }
        _ => None,
    }
}

/// The attributes the overlay reads, by position in [`FOUND_KEYS`].
#[derive(Clone, Copy)]
enum K {
    InputMessages,
    OutputMessages,
    SystemInstructions,
    ToolDefinitions,
    ProviderName,
    RequestModel,
    ResponseModel,
    ResponseId,
    InputTokens,
    OutputTokens,
    CacheReadInputTokens,
    CacheCreationInputTokens,
    ReasoningOutputTokens,
    FinishReasons,
    OperationName,
    AgentName,
    ToolName,
    ToolCallId,
    ToolCallArguments,
    ToolCallResult,
    ConversationId,
    ErrorType,
    System,
    PromptTokens,
    CompletionTokens,
    FinishReason,
    Prompt,
    Completion,
    AdkLlmRequest,
    AdkLlmResponse,
    AdkToolArgs,
    AdkToolResponse,
    AdkInvocationId,
    AdkSessionId,
}

/// Each key the overlay reads, at the position of its [`K`].
const FOUND_KEYS: [(&str, K); 34] = [
    (attr::GEN_AI_INPUT_MESSAGES, K::InputMessages),
    (attr::GEN_AI_OUTPUT_MESSAGES, K::OutputMessages),
    (attr::GEN_AI_SYSTEM_INSTRUCTIONS, K::SystemInstructions),
    (attr::GEN_AI_TOOL_DEFINITIONS, K::ToolDefinitions),
    (attr::GEN_AI_PROVIDER_NAME, K::ProviderName),
    (attr::GEN_AI_REQUEST_MODEL, K::RequestModel),
    (attr::GEN_AI_RESPONSE_MODEL, K::ResponseModel),
    (attr::GEN_AI_RESPONSE_ID, K::ResponseId),
    (attr::GEN_AI_USAGE_INPUT_TOKENS, K::InputTokens),
    (attr::GEN_AI_USAGE_OUTPUT_TOKENS, K::OutputTokens),
    (
        attr::GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
        K::CacheReadInputTokens,
    ),
    (
        attr::GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
        K::CacheCreationInputTokens,
    ),
    (
        attr::GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,
        K::ReasoningOutputTokens,
    ),
    (attr::GEN_AI_RESPONSE_FINISH_REASONS, K::FinishReasons),
    (attr::GEN_AI_OPERATION_NAME, K::OperationName),
    (attr::GEN_AI_AGENT_NAME, K::AgentName),
    (attr::GEN_AI_TOOL_NAME, K::ToolName),
    (attr::GEN_AI_TOOL_CALL_ID, K::ToolCallId),
    (attr::GEN_AI_TOOL_CALL_ARGUMENTS, K::ToolCallArguments),
    (attr::GEN_AI_TOOL_CALL_RESULT, K::ToolCallResult),
    (attr::GEN_AI_CONVERSATION_ID, K::ConversationId),
    (attr::ERROR_TYPE, K::ErrorType),
    (attr::GEN_AI_SYSTEM, K::System),
    (attr::GEN_AI_USAGE_PROMPT_TOKENS, K::PromptTokens),
    (attr::GEN_AI_USAGE_COMPLETION_TOKENS, K::CompletionTokens),
    (attr::GEN_AI_RESPONSE_FINISH_REASON, K::FinishReason),
    (attr::GEN_AI_PROMPT, K::Prompt),
    (attr::GEN_AI_COMPLETION, K::Completion),
    (ADK_LLM_REQUEST, K::AdkLlmRequest),
    (ADK_LLM_RESPONSE, K::AdkLlmResponse),
    (ADK_TOOL_ARGS, K::AdkToolArgs),
    (ADK_TOOL_RESPONSE, K::AdkToolResponse),
    (ADK_INVOCATION_ID, K::AdkInvocationId),
    (ADK_SESSION_ID, K::AdkSessionId),
];

/// [`FOUND_KEYS`] by their position among the known keys ([`Key::known`]): each of them is a
/// known key, so an attribute's key is matched without reading or hashing its text.
static BY_POSITION: std::sync::LazyLock<Vec<Option<K>>> = std::sync::LazyLock::new(|| {
    let mut table = vec![None; crate::key::KNOWN.len()];
    for &(key, k) in &FOUND_KEYS {
        if let Some(slot) = Key::new(key)
            .known()
            .and_then(|i| table.get_mut(usize::from(i)))
        {
            *slot = Some(k);
        }
    }
    table
});

/// The attributes of a set that the overlay reads, found in one pass over the set (each key's
/// first occurrence, as [`Attributes::get`] finds it): a span carries a dozen attributes or more
/// and the overlay reads 34 keys, which one lookup per key paid for with a pass each.
struct Found<'a> {
    values: [Option<&'a AnyValue>; FOUND_KEYS.len()],
    /// Some key starts with `gcp.vertex.agent.` (Google ADK).
    adk: bool,
    /// Some key is an OpenLLMetry indexed one (`gen_ai.prompt.N.*`, `gen_ai.completion.N.*`).
    indexed: bool,
}

impl<'a> Found<'a> {
    fn of(attributes: &'a [KeyValue]) -> Self {
        let by_position = &*BY_POSITION;
        let mut found = Found {
            values: [None; FOUND_KEYS.len()],
            adk: false,
            indexed: false,
        };
        for kv in attributes {
            let key = kv.key.as_str();
            if let Some(k) = kv
                .key
                .known()
                .and_then(|i| by_position.get(usize::from(i)).copied().flatten())
            {
                let slot = &mut found.values[k as usize];
                if slot.is_none() {
                    *slot = Some(&kv.value);
                }
            }
            if key.starts_with(ADK_KEY_PREFIX) {
                found.adk = true;
            } else if indexed_rest(key).is_some() {
                found.indexed = true;
            }
        }
        found
    }

    fn get(&self, k: K) -> Option<&'a AnyValue> {
        self.values[k as usize]
    }
}

/// An OpenLLMetry indexed key (`gen_ai.prompt.` or `gen_ai.completion.` and more): whether it
/// is a completion, and the rest after the prefix's dot.
fn indexed_rest(key: &str) -> Option<(bool, &str)> {
    let after = |prefix: &str| key.strip_prefix(prefix)?.strip_prefix('.');
    after(attr::GEN_AI_PROMPT)
        .map(|rest| (false, rest))
        .or_else(|| after(attr::GEN_AI_COMPLETION).map(|rest| (true, rest)))
}

/// Fills the model, usage and message keys from a set of semconv attributes.
fn fill_semconv(view: &mut SpanView, a: &Found<'_>, cache: Option<&mut MessageCache>) {
    if view.input_messages.is_none() {
        view.input_messages = shared_messages_attr(a.get(K::InputMessages), cache);
    }
    set(
        &mut view.output_messages,
        messages_attr(a.get(K::OutputMessages)),
    );
    set(
        &mut view.system_instructions,
        json_attr(a.get(K::SystemInstructions)),
    );
    set(
        &mut view.tool_definitions,
        json_attr(a.get(K::ToolDefinitions)),
    );
    set(&mut view.provider, s(a.get(K::ProviderName)));
    set(&mut view.request_model, s(a.get(K::RequestModel)));
    set(&mut view.response_model, s(a.get(K::ResponseModel)));
    set(&mut view.response_id, s(a.get(K::ResponseId)));
    set(&mut view.usage.input, int(a.get(K::InputTokens)));
    set(&mut view.usage.output, int(a.get(K::OutputTokens)));
    set(
        &mut view.usage.cache_read_input,
        int(a.get(K::CacheReadInputTokens)),
    );
    set(
        &mut view.usage.cache_write_input,
        int(a.get(K::CacheCreationInputTokens)),
    );
    set(
        &mut view.usage.reasoning_output,
        int(a.get(K::ReasoningOutputTokens)),
    );
    if view.finish_reasons.is_empty() {
        view.finish_reasons = finish_reasons(a.get(K::FinishReasons)).unwrap_or_default();
    }
}

/// True for a span of Google ADK (its scope, or any `gcp.vertex.agent.*` attribute).
pub(crate) fn is_adk_span(span: &Span) -> bool {
    span.scope.name == ADK_PREFIX
        || span
            .attributes
            .iter()
            .any(|kv| kv.key.starts_with(ADK_KEY_PREFIX))
}

/// Builds the view of `span`; `logs` are the log records joined to it.
pub fn overlay(span: &Span, logs: &[LogRecord]) -> SpanView {
    overlay_with(span, logs, None)
}

/// [`overlay`], with input messages already parsed taken from `cache` (the view is the same).
pub(crate) fn overlay_with(
    span: &Span,
    logs: &[LogRecord],
    mut cache: Option<&mut MessageCache>,
) -> SpanView {
    let a = &Found::of(&span.attributes.0);
    let mut v = SpanView::default();
    // 1. Semconv keys on the span.
    fill_semconv(&mut v, a, cache.as_deref_mut());
    v.operation = s(a.get(K::OperationName));
    v.agent_name = s(a.get(K::AgentName));
    v.tool_name = s(a.get(K::ToolName));
    v.tool_call_id = s(a.get(K::ToolCallId));
    v.tool_arguments = tool_value(a.get(K::ToolCallArguments));
    v.tool_result = tool_value(a.get(K::ToolCallResult));
    v.conversation_id = s(a.get(K::ConversationId));
    v.error_type = s(a.get(K::ErrorType));
    v.status_error = span.status.code == StatusCode::Error;
    // 2. Deprecated aliases.
    if let Some(sys) = s(a.get(K::System))
        && sys != ADK_PREFIX
    {
        set(&mut v.provider, Some(sys));
    }
    set(&mut v.usage.input, int(a.get(K::PromptTokens)));
    set(&mut v.usage.output, int(a.get(K::CompletionTokens)));
    if v.finish_reasons.is_empty()
        && let Some(r) = s(a.get(K::FinishReason))
    {
        v.finish_reasons = vec![r];
    }
    // 3. The inference details event: span event first, then a joined log record.
    if let Some(ev) = span
        .events
        .iter()
        .find(|e| e.name == event::INFERENCE_OPERATION_DETAILS)
    {
        fill_semconv(&mut v, &Found::of(&ev.attributes.0), cache.as_deref_mut());
    } else if let Some(log) = logs
        .iter()
        .find(|l| l.name() == event::INFERENCE_OPERATION_DETAILS)
    {
        fill_semconv(&mut v, &Found::of(&log.attributes.0), cache.as_deref_mut());
        if let AnyValue::KvList(kv) = &log.body {
            fill_semconv(&mut v, &Found::of(kv), cache);
        }
    }
    // 4. Deprecated per-message events: span events win over log records.
    if v.input_messages.is_none() || v.output_messages.is_none() {
        deprecated_events(&mut v, span, logs);
    }
    // 5. Google ADK.
    let adk = a.adk || span.scope.name == ADK_PREFIX;
    if adk {
        adk_overlay(&mut v, a);
        if span.name.starts_with("execute_tool (merged") || span.name.contains("(merged tools)") {
            v.ignored = true;
        }
        if v.operation.is_none() {
            v.operation = match span.name.as_str() {
                "call_llm" => Some("generate_content".into()),
                "invocation" => Some("invoke_workflow".into()),
                _ => None,
            };
        }
    }
    // 6. OpenLLMetry indexed attributes.
    let has_indexed = openllmetry(&mut v, span, a);
    // Operation inference.
    if v.operation.is_none() {
        let has_model_or_system =
            v.request_model.is_some() || a.get(K::System).is_some() || v.provider.is_some();
        let has_payload = !v.usage.is_empty()
            || has_indexed
            || a.get(K::Prompt).is_some()
            || a.get(K::Completion).is_some()
            || v.input_messages.is_some()
            || v.output_messages.is_some();
        if has_model_or_system && has_payload {
            v.operation = Some("chat".into());
        }
    }
    v
}

fn tool_value(v: Option<&AnyValue>) -> Option<Value> {
    match v? {
        AnyValue::String(x) if is_placeholder(x) => None,
        AnyValue::String(x) => Some(parse_jsonish_str(x)),
        AnyValue::Empty => None,
        other => Some(other.to_json()),
    }
}

/// Turns event attributes (or a log body) into a JSON object, parsing JSON-string fields.
fn event_object(attrs: &Attributes, body: &AnyValue) -> Map<String, Value> {
    let mut o = Map::new();
    if let AnyValue::KvList(_) = body {
        if let Value::Object(b) = body.to_json() {
            o = b;
        }
    } else if let AnyValue::String(b) = body {
        match serde_json::from_str::<Value>(b) {
            Ok(Value::Object(b)) => o = b,
            _ => {
                o.insert("content".into(), Value::String(b.clone()));
            }
        }
    }
    for kv in attrs.iter() {
        if kv.key.starts_with("gen_ai") || kv.key.starts_with("event.") {
            continue;
        }
        let mut val = kv.value.to_json();
        if matches!(kv.key.as_str(), "message" | "tool_calls") {
            val = parse_jsonish(&val);
        } else if kv.key == "content" {
            // Strands writes content blocks as a JSON list in a string.
            if let Value::String(text) = &val
                && text.trim_start().starts_with('[')
                && let Ok(list @ Value::Array(_)) = serde_json::from_str::<Value>(text)
            {
                val = list;
            }
        }
        o.entry(kv.key.clone()).or_insert(val);
    }
    o
}

const DEPRECATED_EVENTS: [&str; 5] = [
    event::SYSTEM_MESSAGE,
    event::USER_MESSAGE,
    event::ASSISTANT_MESSAGE,
    event::TOOL_MESSAGE,
    event::CHOICE,
];

fn deprecated_events(v: &mut SpanView, span: &Span, logs: &[LogRecord]) {
    let empty = AnyValue::Empty;
    let mut events: Vec<(u64, &str, Map<String, Value>)> = span
        .events
        .iter()
        .filter(|e| DEPRECATED_EVENTS.contains(&e.name.as_str()))
        .map(|e| {
            (
                e.time_ns,
                e.name.as_str(),
                event_object(&e.attributes, &empty),
            )
        })
        .collect();
    if events.is_empty() {
        events = logs
            .iter()
            .filter(|l| DEPRECATED_EVENTS.contains(&l.name()))
            .map(|l| {
                (
                    l.time_ns
                        .max(l.observed_time_ns * u64::from(l.time_ns == 0)),
                    l.name(),
                    event_object(&l.attributes, &l.body),
                )
            })
            .collect();
    }
    if events.is_empty() {
        return;
    }
    events.sort_by_key(|e| e.0);
    let mut input = Vec::new();
    let mut output = Vec::new();
    for (_, name, o) in &events {
        if *name == event::CHOICE {
            let mut m = match o.get("message") {
                Some(Value::Object(msg)) => parse_message(msg, Some("assistant")),
                Some(blocks @ Value::Array(_)) => {
                    let mut wrapped = Map::new();
                    wrapped.insert("content".into(), blocks.clone());
                    parse_message(&wrapped, Some("assistant"))
                }
                Some(Value::String(text)) if !o.contains_key("content") => {
                    let mut wrapped = Map::new();
                    wrapped.insert("content".into(), Value::String(text.clone()));
                    parse_message(&wrapped, Some("assistant"))
                }
                _ => parse_message(o, Some("assistant")),
            };
            if let Some(fr) = o.get("finish_reason").and_then(Value::as_str) {
                m.finish_reason = Some(fr.to_owned());
            }
            output.push(m);
            continue;
        }
        let role = if *name == event::SYSTEM_MESSAGE {
            "system"
        } else if *name == event::USER_MESSAGE {
            "user"
        } else if *name == event::ASSISTANT_MESSAGE {
            "assistant"
        } else {
            "tool"
        };
        let mut m = parse_message(o, Some(role));
        if role == "tool" && m.parts.is_empty() {
            m.parts.push(Part::ToolCallResponse {
                id: o.get("id").and_then(Value::as_str).map(str::to_owned),
                name: None,
                response: Value::Null,
            });
        }
        input.push(m);
    }
    if !input.is_empty() {
        set(&mut v.input_messages, Some(share(input)));
    }
    if !output.is_empty() {
        if v.finish_reasons.is_empty() {
            v.finish_reasons = output
                .iter()
                .filter_map(|m| m.finish_reason.clone())
                .collect();
        }
        set(&mut v.output_messages, Some(output));
    }
}

fn adk_overlay(v: &mut SpanView, a: &Found<'_>) {
    if let Some(Value::Object(req)) = json_attr(a.get(K::AdkLlmRequest)) {
        if let Some(contents) = req.get("contents").and_then(Value::as_array)
            && !contents.is_empty()
        {
            let msgs = contents
                .iter()
                .filter_map(Value::as_object)
                .map(|c| std::sync::Arc::new(parse_message(c, None)))
                .collect();
            set(&mut v.input_messages, Some(msgs));
        }
        if let Some(cfg) = req.get("config").and_then(Value::as_object) {
            if let Some(si) = cfg.get("system_instruction").filter(|x| !x.is_null()) {
                set(&mut v.system_instructions, Some(si.clone()));
            }
            if let Some(tools) = cfg.get("tools").and_then(Value::as_array) {
                let decls: Vec<Value> = tools
                    .iter()
                    .filter_map(|t| t.get("function_declarations").and_then(Value::as_array))
                    .flatten()
                    .cloned()
                    .collect();
                if !decls.is_empty() {
                    set(&mut v.tool_definitions, Some(Value::Array(decls)));
                }
            }
        }
        set(
            &mut v.request_model,
            req.get("model")
                .and_then(Value::as_str)
                .filter(|m| !m.is_empty())
                .map(str::to_owned),
        );
    }
    if let Some(Value::Object(resp)) = json_attr(a.get(K::AdkLlmResponse)) {
        if let Some(c) = resp.get("content").and_then(Value::as_object) {
            let mut m = parse_message(c, None);
            if m.role.is_empty() || m.role == "model" {
                m.role = "assistant".into();
            }
            if let Some(fr) = resp.get("finish_reason").and_then(Value::as_str) {
                m.finish_reason = Some(fr.to_owned());
            }
            set(&mut v.output_messages, Some(vec![m]));
        }
        if v.finish_reasons.is_empty()
            && let Some(fr) = resp.get("finish_reason").and_then(Value::as_str)
        {
            v.finish_reasons = vec![fr.to_owned()];
        }
        set(
            &mut v.response_model,
            resp.get("model_version")
                .and_then(Value::as_str)
                .map(str::to_owned),
        );
        if let Some(u) = resp.get("usage_metadata").and_then(Value::as_object) {
            let g = |k: &str| u.get(k).and_then(Value::as_i64);
            set(&mut v.usage.input, g("prompt_token_count"));
            set(&mut v.usage.output, g("candidates_token_count"));
            set(
                &mut v.usage.cache_read_input,
                g("cached_content_token_count"),
            );
            set(&mut v.usage.reasoning_output, g("thoughts_token_count"));
        }
    }
    if let Some(AnyValue::String(x)) = a.get(K::AdkToolArgs)
        && x != "N/A"
    {
        set(&mut v.tool_arguments, tool_value(a.get(K::AdkToolArgs)));
    }
    if let Some(AnyValue::String(x)) = a.get(K::AdkToolResponse)
        && x != "<not specified>"
    {
        set(&mut v.tool_result, tool_value(a.get(K::AdkToolResponse)));
    }
    v.adk_invocation_id = s(a.get(K::AdkInvocationId));
    v.adk_session_id = s(a.get(K::AdkSessionId));
}

/// Reads OpenLLMetry's `gen_ai.prompt.N.*` / `gen_ai.completion.N.*`; true when any was present.
fn openllmetry(v: &mut SpanView, span: &Span, a: &Found<'_>) -> bool {
    if !a.indexed {
        return false;
    }
    let mut prompts: Vec<(usize, Map<String, Value>)> = Vec::new();
    let mut completions: Vec<(usize, Map<String, Value>)> = Vec::new();
    for kv in span.attributes.iter() {
        let (rest, list) = match indexed_rest(&kv.key) {
            Some((false, rest)) => (rest, &mut prompts),
            Some((true, rest)) => (rest, &mut completions),
            None => continue,
        };
        let Some((idx, field)) = rest.split_once('.') else {
            continue;
        };
        let Ok(idx) = idx.parse::<usize>() else {
            continue;
        };
        let entry = match list.iter_mut().position(|(i, _)| *i == idx) {
            Some(p) => &mut list[p].1,
            None => {
                list.push((idx, Map::new()));
                let last = list.len() - 1;
                &mut list[last].1
            }
        };
        if let Some(tc) = field.strip_prefix("tool_calls.") {
            let Some((m, f)) = tc.split_once('.') else {
                continue;
            };
            let Ok(m) = m.parse::<usize>() else { continue };
            let calls = entry
                .entry("__calls")
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(calls) = calls {
                let c = calls
                    .entry(m.to_string())
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(c) = c {
                    c.insert(f.to_owned(), kv.value.to_json());
                }
            }
        } else {
            entry.insert(field.to_owned(), kv.value.to_json());
        }
    }
    if prompts.is_empty() && completions.is_empty() {
        return false;
    }
    let convert = |mut list: Vec<(usize, Map<String, Value>)>| -> Vec<Message> {
        list.sort_by_key(|(i, _)| *i);
        list.into_iter()
            .map(|(_, mut o)| {
                if let Some(Value::Object(calls)) = o.remove("__calls") {
                    let mut calls: Vec<(usize, Value)> = calls
                        .into_iter()
                        .filter_map(|(k, v)| Some((k.parse().ok()?, v)))
                        .collect();
                    calls.sort_by_key(|(i, _)| *i);
                    o.insert(
                        "tool_calls".into(),
                        Value::Array(calls.into_iter().map(|(_, v)| v).collect()),
                    );
                }
                let role = o
                    .get("role")
                    .and_then(Value::as_str)
                    .unwrap_or("user")
                    .to_owned();
                parse_message(&o, Some(&role))
            })
            .collect()
    };
    if !prompts.is_empty() {
        set(&mut v.input_messages, Some(share(convert(prompts))));
    }
    if !completions.is_empty() {
        let out = convert(completions);
        if v.finish_reasons.is_empty() {
            v.finish_reasons = out.iter().filter_map(|m| m.finish_reason.clone()).collect();
        }
        set(&mut v.output_messages, Some(out));
    }
    true
}

#[cfg(test)]
mod tests {
    use super::{BY_POSITION, FOUND_KEYS, Key};

    #[test]
    fn every_key_the_overlay_reads_is_a_known_key() {
        // `Found::of` matches keys by position only: a key read here that were not known would
        // never be found.
        for &(key, k) in &FOUND_KEYS {
            let position = Key::new(key).known();
            assert!(position.is_some(), "{key} is not a known key");
            let mapped = position.and_then(|i| BY_POSITION.get(usize::from(i)).copied().flatten());
            assert_eq!(mapped.map(|m| m as usize), Some(k as usize), "{key}");
        }
    }
}
