//! Converters from provider-native request and response JSON into the semconv message model, so
//! that content capture works with whatever client an application uses; and chunk types for the
//! providers' streaming events, so that [`crate::TracedStream`] understands them directly.
//!
//! | provider API | request | response | stream chunk |
//! |---|---|---|---|
//! | OpenAI chat completions | [`openai_chat_request`] | [`openai_chat_response`] | [`OpenAiChatChunk`] |
//! | OpenAI responses | [`openai_responses_request`] | [`openai_responses_response`] | |
//! | Anthropic messages | [`anthropic_request`] | [`anthropic_response`] | [`AnthropicEvent`] |
//! | Bedrock Converse / ConverseStream | [`converse_request`] | [`converse_response`] | [`ConverseStreamEvent`] |
//! | Gemini generateContent | [`gemini_request`] | [`gemini_response`] | [`GeminiChunk`] |
//!
//! Converters are lenient: fields they do not know are skipped, content items of unknown types
//! become generic parts. They fail only when the top-level value is not a JSON object.

use agentrace_semconv::legacy;
use agentrace_semconv::message::{
    ChatMessage, OutputMessage, Part, SystemInstructions, ToolDefinition,
};
use agentrace_semconv::{FinishReason, Modality, Role};
use serde_json::{Map, Value};

use crate::content::{RequestContent, ResponseContent};
use crate::span::Usage;
use crate::stream::{ModelChunk, ToolCallDelta};

/// Why a provider payload could not be converted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConvertError {
    /// The payload is not a JSON object.
    #[error("{0}: expected a JSON object")]
    NotAnObject(&'static str),
}

/// Maps a provider-native finish reason to the conventions' value: OpenAI (`tool_calls`),
/// Anthropic (`end_turn`, `tool_use`, `max_tokens`), Bedrock (`guardrail_intervened`, ...),
/// Gemini (`STOP`, `MAX_TOKENS`, `SAFETY`, ...). Unknown reasons are kept verbatim.
pub fn finish_reason(raw: &str) -> FinishReason {
    match raw {
        "stop" | "end_turn" | "stop_sequence" | "STOP" | "COMPLETE" | "FINISH" | "endoftext"
        | "completed" | "pause_turn" => FinishReason::Stop,
        "tool_calls" | "tool_call" | "tool_use" | "function_call" | "TOOL_CALL" => {
            FinishReason::ToolCall
        }
        "length" | "max_tokens" | "MAX_TOKENS" | "model_context_window_exceeded" | "incomplete" => {
            FinishReason::Length
        }
        "content_filter"
        | "guardrail_intervened"
        | "content_filtered"
        | "SAFETY"
        | "RECITATION"
        | "BLOCKLIST"
        | "PROHIBITED_CONTENT"
        | "SPII"
        | "refusal" => FinishReason::ContentFilter,
        "error" | "ERROR" => FinishReason::Error,
        other => FinishReason::Other(other.to_owned()),
    }
}

fn obj<'a>(v: &'a Value, what: &'static str) -> Result<&'a Map<String, Value>, ConvertError> {
    v.as_object().ok_or(ConvertError::NotAnObject(what))
}

fn s(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn u(v: &Value, key: &str) -> Option<u64> {
    v.get(key).and_then(Value::as_u64)
}

fn arr<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// JSON-string arguments are parsed (the conventions prefer objects); other values are kept.
fn parse_args(v: Option<&Value>) -> Option<Value> {
    match v? {
        Value::String(text) => {
            Some(serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.clone())))
        }
        other => Some(other.clone()),
    }
}

fn generic(item: &Value) -> Part {
    Part::from_value_lenient(item.clone())
}

fn blob(modality: Modality, mime: Option<String>, data: String) -> Part {
    Part::from_value_lenient(serde_json::json!({
        "type": "blob", "modality": modality.as_str(), "mime_type": mime, "content": data,
    }))
}

fn uri(modality: Modality, mime: Option<String>, uri: String) -> Part {
    Part::from_value_lenient(serde_json::json!({
        "type": "uri", "modality": modality.as_str(), "mime_type": mime, "uri": uri,
    }))
}

fn function_tools(
    tools: &[Value],
    pick: impl Fn(&Value) -> Option<(String, Option<String>, Option<Value>)>,
) -> Vec<ToolDefinition> {
    tools
        .iter()
        .filter_map(|t| match pick(t) {
            Some((name, description, parameters)) => {
                Some(ToolDefinition::function(name, description, parameters))
            }
            None => ToolDefinition::from_value(t.clone()).ok(),
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// OpenAI chat completions

/// An OpenAI chat-completions request (`messages`, `tools`).
pub fn openai_chat_request(request: &Value) -> Result<RequestContent, ConvertError> {
    obj(request, "chat completions request")?;
    let messages = arr(request, "messages")
        .iter()
        .filter_map(|m| legacy::from_openai_message(m).ok())
        .collect();
    let tools = function_tools(arr(request, "tools"), |t| {
        let f = t.get("function")?;
        Some((
            s(f, "name")?,
            s(f, "description"),
            f.get("parameters").cloned(),
        ))
    });
    Ok(RequestContent {
        system_instructions: None,
        messages,
        tools,
    })
}

fn openai_usage(u_: &Value) -> Usage {
    Usage {
        input_tokens: u(u_, "prompt_tokens").or_else(|| u(u_, "input_tokens")),
        output_tokens: u(u_, "completion_tokens").or_else(|| u(u_, "output_tokens")),
        cache_read_input_tokens: u_
            .get("prompt_tokens_details")
            .or_else(|| u_.get("input_tokens_details"))
            .and_then(|d| u(d, "cached_tokens")),
        cache_creation_input_tokens: None,
        reasoning_output_tokens: u_
            .get("completion_tokens_details")
            .or_else(|| u_.get("output_tokens_details"))
            .and_then(|d| u(d, "reasoning_tokens")),
    }
}

/// An OpenAI chat-completions response (`choices`, `usage`).
pub fn openai_chat_response(response: &Value) -> Result<ResponseContent, ConvertError> {
    obj(response, "chat completions response")?;
    let mut out = ResponseContent {
        id: s(response, "id"),
        model: s(response, "model"),
        usage: response.get("usage").map(openai_usage).unwrap_or_default(),
        ..ResponseContent::default()
    };
    for choice in arr(response, "choices") {
        let raw = s(choice, "finish_reason").unwrap_or_default();
        let msg = choice
            .get("message")
            .and_then(|m| legacy::from_openai_message(m).ok())
            .unwrap_or_else(|| ChatMessage::new(Role::Assistant, vec![]));
        out.messages
            .push(OutputMessage::new(msg.role, msg.parts, finish_reason(&raw)));
        out.finish_reasons.push(raw);
    }
    Ok(out)
}

/// One OpenAI chat-completions stream chunk (`chat.completion.chunk`).
#[derive(Debug, Clone, PartialEq)]
pub struct OpenAiChatChunk(pub Value);

impl OpenAiChatChunk {
    fn delta(&self) -> Option<&Value> {
        self.0.get("choices")?.get(0)?.get("delta")
    }
}

impl ModelChunk for OpenAiChatChunk {
    fn choice_index(&self) -> usize {
        self.0
            .get("choices")
            .and_then(|c| c.get(0))
            .and_then(|c| u(c, "index"))
            .and_then(|i| usize::try_from(i).ok())
            .unwrap_or(0)
    }
    fn text_delta(&self) -> Option<&str> {
        self.delta()?.get("content")?.as_str()
    }
    fn reasoning_delta(&self) -> Option<&str> {
        let d = self.delta()?;
        d.get("reasoning_content")
            .or_else(|| d.get("reasoning"))?
            .as_str()
    }
    fn tool_call_deltas(&self, f: &mut dyn FnMut(ToolCallDelta<'_>)) {
        let Some(calls) = self
            .delta()
            .and_then(|d| d.get("tool_calls"))
            .and_then(Value::as_array)
        else {
            return;
        };
        for (i, c) in calls.iter().enumerate() {
            let func = c.get("function");
            f(ToolCallDelta {
                index: c
                    .get("index")
                    .and_then(Value::as_u64)
                    .and_then(|i| usize::try_from(i).ok())
                    .unwrap_or(i),
                id: c.get("id").and_then(Value::as_str),
                name: func.and_then(|x| x.get("name")).and_then(Value::as_str),
                arguments: func
                    .and_then(|x| x.get("arguments"))
                    .and_then(Value::as_str),
            });
        }
    }
    fn usage(&self) -> Option<Usage> {
        self.0
            .get("usage")
            .filter(|v| v.is_object())
            .map(openai_usage)
    }
    fn finish_reason(&self) -> Option<&str> {
        self.0
            .get("choices")?
            .get(0)?
            .get("finish_reason")?
            .as_str()
    }
    fn response_id(&self) -> Option<&str> {
        self.0.get("id")?.as_str()
    }
    fn response_model(&self) -> Option<&str> {
        self.0.get("model")?.as_str()
    }
}

// ---------------------------------------------------------------------------------------------
// OpenAI responses

fn responses_content(content: &Value) -> Vec<Part> {
    match content {
        Value::String(t) => vec![Part::text(t.clone())],
        Value::Array(items) => items
            .iter()
            .map(|c| match c.get("type").and_then(Value::as_str) {
                Some("input_text" | "output_text" | "text") => {
                    Part::text(s(c, "text").unwrap_or_default())
                }
                Some("input_image") => match s(c, "image_url") {
                    Some(url) => uri(Modality::Image, None, url),
                    None => generic(c),
                },
                _ => generic(c),
            })
            .collect(),
        _ => vec![],
    }
}

fn responses_item(item: &Value) -> Option<(Role, Part)> {
    match item.get("type").and_then(Value::as_str) {
        Some("function_call") => Some((
            Role::Assistant,
            Part::tool_call(
                s(item, "call_id"),
                s(item, "name").unwrap_or_default(),
                parse_args(item.get("arguments")),
            ),
        )),
        Some("function_call_output") => Some((
            Role::Tool,
            Part::tool_call_response(
                s(item, "call_id"),
                parse_args(item.get("output")).unwrap_or(Value::Null),
            ),
        )),
        Some("reasoning") => {
            let text: String = arr(item, "summary")
                .iter()
                .filter_map(|p| s(p, "text"))
                .collect::<Vec<_>>()
                .join("\n");
            Some((Role::Assistant, Part::reasoning(text)))
        }
        _ => None,
    }
}

/// An OpenAI responses request (`instructions`, `input`, `tools`).
pub fn openai_responses_request(request: &Value) -> Result<RequestContent, ConvertError> {
    obj(request, "responses request")?;
    let system_instructions = s(request, "instructions").map(SystemInstructions::from_text);
    let mut messages: Vec<ChatMessage> = Vec::new();
    match request.get("input") {
        Some(Value::String(t)) => messages.push(ChatMessage::from_text(Role::User, t.clone())),
        Some(Value::Array(items)) => {
            for item in items {
                if let Some((role, part)) = responses_item(item) {
                    match messages.last_mut() {
                        Some(last) if last.role == role && role == Role::Assistant => {
                            last.parts.push(part)
                        }
                        _ => messages.push(ChatMessage::new(role, vec![part])),
                    }
                } else {
                    let role = Role::from(s(item, "role").unwrap_or_else(|| "user".to_owned()));
                    let parts = item
                        .get("content")
                        .map(responses_content)
                        .unwrap_or_default();
                    messages.push(ChatMessage::new(role, parts));
                }
            }
        }
        _ => {}
    }
    let tools = function_tools(arr(request, "tools"), |t| {
        (t.get("type")?.as_str()? == "function").then_some(())?;
        Some((
            s(t, "name")?,
            s(t, "description"),
            t.get("parameters").cloned(),
        ))
    });
    Ok(RequestContent {
        system_instructions,
        messages,
        tools,
    })
}

/// An OpenAI responses response (`output`, `status`, `usage`).
pub fn openai_responses_response(response: &Value) -> Result<ResponseContent, ConvertError> {
    obj(response, "responses response")?;
    let mut parts = Vec::new();
    for item in arr(response, "output") {
        if let Some((_, part)) = responses_item(item) {
            parts.push(part);
        } else if item.get("type").and_then(Value::as_str) == Some("message") {
            parts.extend(
                item.get("content")
                    .map(responses_content)
                    .unwrap_or_default(),
            );
        } else {
            parts.push(generic(item));
        }
    }
    let status = s(response, "status").unwrap_or_default();
    let raw = if parts.iter().any(|p| matches!(p, Part::ToolCall(_))) {
        "tool_call".to_owned()
    } else {
        status
    };
    Ok(ResponseContent {
        id: s(response, "id"),
        model: s(response, "model"),
        usage: response.get("usage").map(openai_usage).unwrap_or_default(),
        messages: vec![OutputMessage::new(
            Role::Assistant,
            parts,
            finish_reason(&raw),
        )],
        finish_reasons: vec![raw],
    })
}

// ---------------------------------------------------------------------------------------------
// Anthropic messages

fn anthropic_blocks(content: &Value) -> Vec<Part> {
    match content {
        Value::String(t) => vec![Part::text(t.clone())],
        Value::Array(blocks) => blocks.iter().map(anthropic_block).collect(),
        _ => vec![],
    }
}

fn anthropic_block(b: &Value) -> Part {
    match b.get("type").and_then(Value::as_str) {
        Some("text") => Part::text(s(b, "text").unwrap_or_default()),
        Some("thinking") => Part::reasoning(s(b, "thinking").unwrap_or_default()),
        Some("tool_use") => Part::tool_call(
            s(b, "id"),
            s(b, "name").unwrap_or_default(),
            b.get("input").cloned(),
        ),
        Some("tool_result") => {
            let response = match b.get("content") {
                Some(Value::Array(items)) => {
                    let texts: Vec<String> = items.iter().filter_map(|i| s(i, "text")).collect();
                    if texts.len() == items.len() {
                        Value::String(texts.concat())
                    } else {
                        Value::Array(items.clone())
                    }
                }
                Some(other) => other.clone(),
                None => Value::Null,
            };
            Part::tool_call_response(s(b, "tool_use_id"), response)
        }
        Some("image" | "document") => {
            let modality = if b.get("type").and_then(Value::as_str) == Some("image") {
                Modality::Image
            } else {
                Modality::Document
            };
            let src = b.get("source").cloned().unwrap_or_default();
            match src.get("type").and_then(Value::as_str) {
                Some("base64") => blob(
                    modality,
                    s(&src, "media_type"),
                    s(&src, "data").unwrap_or_default(),
                ),
                Some("url") => uri(modality, None, s(&src, "url").unwrap_or_default()),
                _ => generic(b),
            }
        }
        _ => generic(b),
    }
}

/// An Anthropic messages request (`system`, `messages`, `tools`).
pub fn anthropic_request(request: &Value) -> Result<RequestContent, ConvertError> {
    obj(request, "messages request")?;
    let system_instructions = request.get("system").map(|sys| SystemInstructions {
        parts: anthropic_blocks(sys),
    });
    let messages = arr(request, "messages")
        .iter()
        .map(|m| {
            let parts = m.get("content").map(anthropic_blocks).unwrap_or_default();
            // A user turn holding only tool results is the tool's answer.
            let role = if !parts.is_empty()
                && parts.iter().all(|p| matches!(p, Part::ToolCallResponse(_)))
            {
                Role::Tool
            } else {
                Role::from(s(m, "role").unwrap_or_else(|| "user".to_owned()))
            };
            ChatMessage::new(role, parts)
        })
        .collect();
    let tools = function_tools(arr(request, "tools"), |t| {
        Some((
            s(t, "name")?,
            s(t, "description"),
            t.get("input_schema").cloned(),
        ))
    });
    Ok(RequestContent {
        system_instructions,
        messages,
        tools,
    })
}

fn anthropic_usage(u_: &Value) -> Usage {
    let base = u(u_, "input_tokens");
    let read = u(u_, "cache_read_input_tokens");
    let created = u(u_, "cache_creation_input_tokens");
    // Anthropic's input_tokens excludes cached tokens; the conventions include them.
    let input = base.map(|b| b + read.unwrap_or(0) + created.unwrap_or(0));
    Usage {
        input_tokens: input,
        output_tokens: u(u_, "output_tokens"),
        cache_read_input_tokens: read,
        cache_creation_input_tokens: created,
        reasoning_output_tokens: None,
    }
}

/// An Anthropic messages response (`content`, `stop_reason`, `usage`).
pub fn anthropic_response(response: &Value) -> Result<ResponseContent, ConvertError> {
    obj(response, "messages response")?;
    let raw = s(response, "stop_reason").unwrap_or_default();
    Ok(ResponseContent {
        id: s(response, "id"),
        model: s(response, "model"),
        usage: response
            .get("usage")
            .map(anthropic_usage)
            .unwrap_or_default(),
        messages: vec![OutputMessage::new(
            Role::Assistant,
            response
                .get("content")
                .map(anthropic_blocks)
                .unwrap_or_default(),
            finish_reason(&raw),
        )],
        finish_reasons: vec![raw],
    })
}

/// One Anthropic streaming event (`message_start`, `content_block_delta`, `message_delta`, ...),
/// also as Bedrock's InvokeModelWithResponseStream delivers them. Tool-call fragments are indexed
/// by content block.
#[derive(Debug, Clone, PartialEq)]
pub struct AnthropicEvent(pub Value);

impl AnthropicEvent {
    fn kind(&self) -> &str {
        self.0
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }
    fn delta_of(&self, ty: &str, field: &str) -> Option<&str> {
        let d = self.0.get("delta")?;
        (d.get("type")?.as_str()? == ty).then_some(())?;
        d.get(field)?.as_str()
    }
}

impl ModelChunk for AnthropicEvent {
    fn text_delta(&self) -> Option<&str> {
        self.delta_of("text_delta", "text")
    }
    fn reasoning_delta(&self) -> Option<&str> {
        self.delta_of("thinking_delta", "thinking")
    }
    fn tool_call_deltas(&self, f: &mut dyn FnMut(ToolCallDelta<'_>)) {
        let index = self
            .0
            .get("index")
            .and_then(Value::as_u64)
            .and_then(|i| usize::try_from(i).ok())
            .unwrap_or(0);
        match self.kind() {
            "content_block_start" => {
                if let Some(b) = self.0.get("content_block")
                    && b.get("type").and_then(Value::as_str) == Some("tool_use")
                {
                    f(ToolCallDelta {
                        index,
                        id: b.get("id").and_then(Value::as_str),
                        name: b.get("name").and_then(Value::as_str),
                        arguments: None,
                    });
                }
            }
            "content_block_delta" => {
                if let Some(a) = self.delta_of("input_json_delta", "partial_json") {
                    f(ToolCallDelta {
                        index,
                        id: None,
                        name: None,
                        arguments: Some(a),
                    });
                }
            }
            _ => {}
        }
    }
    fn usage(&self) -> Option<Usage> {
        match self.kind() {
            "message_start" => self.0.get("message")?.get("usage").map(anthropic_usage),
            "message_delta" => self.0.get("usage").map(|u_| Usage {
                output_tokens: u(u_, "output_tokens"),
                ..Usage::default()
            }),
            _ => {
                let m = self.0.get("amazon-bedrock-invocationMetrics")?;
                Some(Usage {
                    input_tokens: u(m, "inputTokenCount"),
                    output_tokens: u(m, "outputTokenCount"),
                    ..Usage::default()
                })
            }
        }
    }
    fn finish_reason(&self) -> Option<&str> {
        self.0.get("delta")?.get("stop_reason")?.as_str()
    }
    fn response_id(&self) -> Option<&str> {
        self.0.get("message")?.get("id")?.as_str()
    }
    fn response_model(&self) -> Option<&str> {
        self.0.get("message")?.get("model")?.as_str()
    }
}

// ---------------------------------------------------------------------------------------------
// Bedrock Converse

fn converse_block(b: &Value) -> Part {
    if let Some(t) = b.get("text").and_then(Value::as_str) {
        return Part::text(t);
    }
    if let Some(t) = b.get("toolUse") {
        return Part::tool_call(
            s(t, "toolUseId"),
            s(t, "name").unwrap_or_default(),
            t.get("input").cloned(),
        );
    }
    if let Some(t) = b.get("toolResult") {
        let items = arr(t, "content");
        let response = if items.len() == 1 {
            items[0]
                .get("json")
                .cloned()
                .or_else(|| items[0].get("text").cloned())
                .unwrap_or_else(|| items[0].clone())
        } else {
            Value::Array(items.to_vec())
        };
        return Part::tool_call_response(s(t, "toolUseId"), response);
    }
    if let Some(r) = b.get("reasoningContent") {
        let text = r
            .get("reasoningText")
            .and_then(|x| s(x, "text"))
            .unwrap_or_default();
        return Part::reasoning(text);
    }
    for (key, modality) in [
        ("image", Modality::Image),
        ("document", Modality::Document),
        ("video", Modality::Video),
    ] {
        if let Some(m) = b.get(key) {
            let mime = s(m, "format").map(|f| format!("{key}/{f}"));
            let src = m.get("source").cloned().unwrap_or_default();
            if let Some(bytes) = s(&src, "bytes") {
                return blob(modality, mime, bytes);
            }
            if let Some(loc) = src.get("s3Location").and_then(|l| s(l, "uri")) {
                return uri(modality, mime, loc);
            }
        }
    }
    generic(b)
}

/// A Bedrock Converse (or ConverseStream) request (`system`, `messages`, `toolConfig`).
pub fn converse_request(request: &Value) -> Result<RequestContent, ConvertError> {
    obj(request, "Converse request")?;
    let system: Vec<Part> = arr(request, "system")
        .iter()
        .filter(|b| b.get("text").is_some())
        .map(converse_block)
        .collect();
    let messages = arr(request, "messages")
        .iter()
        .map(|m| {
            let parts: Vec<Part> = arr(m, "content").iter().map(converse_block).collect();
            let role = if !parts.is_empty()
                && parts.iter().all(|p| matches!(p, Part::ToolCallResponse(_)))
            {
                Role::Tool
            } else {
                Role::from(s(m, "role").unwrap_or_else(|| "user".to_owned()))
            };
            ChatMessage::new(role, parts)
        })
        .collect();
    let tools = function_tools(
        request.get("toolConfig").map_or(&[], |c| arr(c, "tools")),
        |t| {
            let spec = t.get("toolSpec")?;
            Some((
                s(spec, "name")?,
                s(spec, "description"),
                spec.get("inputSchema").and_then(|i| i.get("json")).cloned(),
            ))
        },
    );
    Ok(RequestContent {
        system_instructions: (!system.is_empty()).then_some(SystemInstructions { parts: system }),
        messages,
        tools,
    })
}

fn converse_usage(u_: &Value) -> Usage {
    Usage {
        input_tokens: u(u_, "inputTokens"),
        output_tokens: u(u_, "outputTokens"),
        cache_read_input_tokens: u(u_, "cacheReadInputTokens"),
        cache_creation_input_tokens: u(u_, "cacheWriteInputTokens"),
        reasoning_output_tokens: None,
    }
}

/// A Bedrock Converse response (`output.message`, `stopReason`, `usage`).
pub fn converse_response(response: &Value) -> Result<ResponseContent, ConvertError> {
    obj(response, "Converse response")?;
    let raw = s(response, "stopReason").unwrap_or_default();
    let parts = response
        .get("output")
        .and_then(|o| o.get("message"))
        .map(|m| arr(m, "content").iter().map(converse_block).collect())
        .unwrap_or_default();
    Ok(ResponseContent {
        id: response
            .get("ResponseMetadata")
            .and_then(|m| s(m, "RequestId")),
        model: None,
        usage: response
            .get("usage")
            .map(converse_usage)
            .unwrap_or_default(),
        messages: vec![OutputMessage::new(
            Role::Assistant,
            parts,
            finish_reason(&raw),
        )],
        finish_reasons: vec![raw],
    })
}

/// One ConverseStream event, in the SDKs' shape `{"contentBlockDelta": {...}}`
/// (`messageStart`, `contentBlockStart`, `contentBlockDelta`, `contentBlockStop`, `messageStop`,
/// `metadata`). Usage arrives last, in `metadata`.
#[derive(Debug, Clone, PartialEq)]
pub struct ConverseStreamEvent(pub Value);

impl ConverseStreamEvent {
    fn delta(&self) -> Option<&Value> {
        self.0.get("contentBlockDelta")?.get("delta")
    }
    fn block_index(&self, key: &str) -> usize {
        self.0
            .get(key)
            .and_then(|e| e.get("contentBlockIndex"))
            .and_then(Value::as_u64)
            .and_then(|i| usize::try_from(i).ok())
            .unwrap_or(0)
    }
}

impl ModelChunk for ConverseStreamEvent {
    fn text_delta(&self) -> Option<&str> {
        self.delta()?.get("text")?.as_str()
    }
    fn reasoning_delta(&self) -> Option<&str> {
        self.delta()?.get("reasoningContent")?.get("text")?.as_str()
    }
    fn tool_call_deltas(&self, f: &mut dyn FnMut(ToolCallDelta<'_>)) {
        if let Some(t) = self
            .0
            .get("contentBlockStart")
            .and_then(|e| e.get("start"))
            .and_then(|s_| s_.get("toolUse"))
        {
            f(ToolCallDelta {
                index: self.block_index("contentBlockStart"),
                id: t.get("toolUseId").and_then(Value::as_str),
                name: t.get("name").and_then(Value::as_str),
                arguments: None,
            });
        }
        if let Some(a) = self
            .delta()
            .and_then(|d| d.get("toolUse"))
            .and_then(|t| t.get("input"))
            .and_then(Value::as_str)
        {
            f(ToolCallDelta {
                index: self.block_index("contentBlockDelta"),
                id: None,
                name: None,
                arguments: Some(a),
            });
        }
    }
    fn usage(&self) -> Option<Usage> {
        self.0.get("metadata")?.get("usage").map(converse_usage)
    }
    fn finish_reason(&self) -> Option<&str> {
        self.0.get("messageStop")?.get("stopReason")?.as_str()
    }
}

// ---------------------------------------------------------------------------------------------
// Gemini generateContent

fn gemini_part(p: &Value) -> Part {
    if let Some(t) = p.get("text").and_then(Value::as_str) {
        return if p.get("thought").and_then(Value::as_bool) == Some(true) {
            Part::reasoning(t)
        } else {
            Part::text(t)
        };
    }
    if let Some(c) = p.get("functionCall") {
        return Part::tool_call(
            s(c, "id"),
            s(c, "name").unwrap_or_default(),
            c.get("args").cloned(),
        );
    }
    if let Some(r) = p.get("functionResponse") {
        return Part::tool_call_response(
            s(r, "id"),
            r.get("response").cloned().unwrap_or(Value::Null),
        );
    }
    let modality_of =
        |mime: &Option<String>| match mime.as_deref().and_then(|m| m.split('/').next()) {
            Some("image") => Modality::Image,
            Some("audio") => Modality::Audio,
            Some("video") => Modality::Video,
            _ => Modality::Document,
        };
    if let Some(d) = p.get("inlineData") {
        let mime = s(d, "mimeType");
        return blob(modality_of(&mime), mime, s(d, "data").unwrap_or_default());
    }
    if let Some(d) = p.get("fileData") {
        let mime = s(d, "mimeType");
        return uri(
            modality_of(&mime),
            mime,
            s(d, "fileUri").unwrap_or_default(),
        );
    }
    generic(p)
}

fn gemini_role(role: Option<String>) -> Role {
    match role.as_deref() {
        Some("model") => Role::Assistant,
        Some(other) => Role::from(other),
        None => Role::User,
    }
}

/// A Gemini generateContent request (`systemInstruction`, `contents`, `tools`).
pub fn gemini_request(request: &Value) -> Result<RequestContent, ConvertError> {
    obj(request, "generateContent request")?;
    let system_instructions = request
        .get("systemInstruction")
        .or_else(|| request.get("system_instruction"))
        .map(|si| SystemInstructions {
            parts: arr(si, "parts").iter().map(gemini_part).collect(),
        });
    let messages = arr(request, "contents")
        .iter()
        .map(|c| {
            let parts: Vec<Part> = arr(c, "parts").iter().map(gemini_part).collect();
            let role = if !parts.is_empty()
                && parts.iter().all(|p| matches!(p, Part::ToolCallResponse(_)))
            {
                Role::Tool
            } else {
                gemini_role(s(c, "role"))
            };
            ChatMessage::new(role, parts)
        })
        .collect();
    let decls: Vec<Value> = arr(request, "tools")
        .iter()
        .flat_map(|t| arr(t, "functionDeclarations").iter().cloned())
        .collect();
    let tools = function_tools(&decls, |d| {
        Some((
            s(d, "name")?,
            s(d, "description"),
            d.get("parameters").cloned(),
        ))
    });
    Ok(RequestContent {
        system_instructions,
        messages,
        tools,
    })
}

fn gemini_usage(m: &Value) -> Usage {
    let thoughts = u(m, "thoughtsTokenCount");
    Usage {
        input_tokens: u(m, "promptTokenCount"),
        // Gemini counts thoughts apart from candidates; the conventions include them in output.
        output_tokens: u(m, "candidatesTokenCount")
            .map(|c| c + thoughts.unwrap_or(0))
            .or(thoughts),
        cache_read_input_tokens: u(m, "cachedContentTokenCount"),
        cache_creation_input_tokens: None,
        reasoning_output_tokens: thoughts,
    }
}

/// A Gemini generateContent response (`candidates`, `usageMetadata`).
pub fn gemini_response(response: &Value) -> Result<ResponseContent, ConvertError> {
    obj(response, "generateContent response")?;
    let mut out = ResponseContent {
        id: s(response, "responseId"),
        model: s(response, "modelVersion"),
        usage: response
            .get("usageMetadata")
            .map(gemini_usage)
            .unwrap_or_default(),
        ..ResponseContent::default()
    };
    for c in arr(response, "candidates") {
        let raw = s(c, "finishReason").unwrap_or_default();
        let parts = c
            .get("content")
            .map(|x| arr(x, "parts").iter().map(gemini_part).collect())
            .unwrap_or_default();
        out.messages.push(OutputMessage::new(
            Role::Assistant,
            parts,
            finish_reason(&raw),
        ));
        out.finish_reasons.push(raw);
    }
    Ok(out)
}

/// One chunk of Gemini's streamGenerateContent (a partial generateContent response). Gemini
/// sends whole function calls with object arguments; [`GeminiChunk::new`] serializes them once so
/// that the stream can reassemble them like any other provider's.
#[derive(Debug, Clone, PartialEq)]
pub struct GeminiChunk {
    value: Value,
    args: Vec<Option<String>>,
}

impl GeminiChunk {
    /// Wraps one streamed response.
    pub fn new(value: Value) -> Self {
        let mut chunk = Self {
            value,
            args: Vec::new(),
        };
        chunk.args = chunk
            .parts()
            .iter()
            .map(|p| {
                p.get("functionCall")
                    .and_then(|c| c.get("args"))
                    .map(Value::to_string)
            })
            .collect();
        chunk
    }

    /// The response JSON.
    pub fn value(&self) -> &Value {
        &self.value
    }

    fn parts(&self) -> &[Value] {
        self.value
            .get("candidates")
            .and_then(|c| c.get(0))
            .and_then(|c| c.get("content"))
            .map_or(&[], |c| arr(c, "parts"))
    }
}

impl From<Value> for GeminiChunk {
    fn from(value: Value) -> Self {
        Self::new(value)
    }
}

impl ModelChunk for GeminiChunk {
    fn text_delta(&self) -> Option<&str> {
        self.parts()
            .iter()
            .find(|p| p.get("thought").is_none())
            .and_then(|p| p.get("text")?.as_str())
    }
    fn reasoning_delta(&self) -> Option<&str> {
        self.parts()
            .iter()
            .find(|p| p.get("thought").and_then(Value::as_bool) == Some(true))
            .and_then(|p| p.get("text")?.as_str())
    }
    fn tool_call_deltas(&self, f: &mut dyn FnMut(ToolCallDelta<'_>)) {
        for (i, p) in self.parts().iter().enumerate() {
            if let Some(c) = p.get("functionCall") {
                f(ToolCallDelta {
                    index: i,
                    id: c.get("id").and_then(Value::as_str),
                    name: c.get("name").and_then(Value::as_str),
                    arguments: self.args.get(i).and_then(Option::as_deref),
                });
            }
        }
    }
    fn usage(&self) -> Option<Usage> {
        self.value.get("usageMetadata").map(gemini_usage)
    }
    fn finish_reason(&self) -> Option<&str> {
        self.value
            .get("candidates")?
            .get(0)?
            .get("finishReason")?
            .as_str()
    }
    fn response_id(&self) -> Option<&str> {
        self.value.get("responseId")?.as_str()
    }
    fn response_model(&self) -> Option<&str> {
        self.value.get("modelVersion")?.as_str()
    }
}
