//! Legacy event models and lossless conversions into the current message model.
//!
//! Users still send telemetry in older shapes:
//! - the event models of openllmetry-style instrumentations ([`MessageEvent`], [`ChoiceEvent`],
//!   [`ToolCall`], [`CompletionMessage`], [`Roles`]);
//! - OpenAI-style chat messages (`{"role", "content": string | [content parts], "tool_calls",
//!   "tool_call_id", "name"}`), e.g. in the deprecated `gen_ai.prompt` attribute;
//! - the bodies of the deprecated per-message events (`gen_ai.user.message` …) and of
//!   `gen_ai.choice`.
//!
//! The conversions are **lossless**: whatever has no field in the current model is kept, as an
//! `extra` field of the message or part, as a [`Part::Generic`] for content items of other types,
//! or as an [`UNMAPPED_PART_TYPE`](crate::message::UNMAPPED_PART_TYPE) part (`{"type": "unmapped", "value": …}`) for values that are
//! not parts at all. Nothing is dropped. The mappings:
//!
//! | legacy | current |
//! |---|---|
//! | `content` string | a `text` part |
//! | `content` array item `{"type":"text","text"}` | a `text` part |
//! | `{"type":"image_url","image_url":{"url"}}` | a `uri` part (modality `image`), or a `blob` part for a base64 `data:` URL |
//! | `{"type":"input_audio","input_audio":{"data","format"}}` | a `blob` part (modality `audio`) |
//! | `{"type":"file","file":{"file_id" \| "file_data"}}` | a `file` or `blob` part (modality `document`) |
//! | Anthropic `{"type":"image"\|"document","source":{"type":"base64"\|"url",…}}` | a `blob` or `uri` part |
//! | Anthropic `tool_use` / `tool_result` / `thinking` blocks | `tool_call` / `tool_call_response` / `reasoning` parts |
//! | Bedrock Converse `{"text"}`, `{"toolUse"}`, `{"toolResult"}`, `{"reasoningContent"}`, `{"image"}` | `text`, `tool_call`, `tool_call_response`, `reasoning`, `blob` parts |
//! | an item already in the current shape, or of another `type` | that part, or a generic part |
//! | `tool_calls[]` `{id, type:"function", function:{name, arguments}}` | `tool_call` parts; a JSON-string `arguments` object is parsed, as the conventions recommend |
//! | `function_call` (OpenAI, deprecated) | a `tool_call` part |
//! | role `tool` (or `function`) with `content` and `tool_call_id` / `id` | a `tool_call_response` part with the content as `response` |
//! | `reasoning_content` / `reasoning` string | a `reasoning` part (first) |
//! | `gen_ai.choice` `finish_reason` `tool_calls` | `tool_call` ([`FinishReason::from_legacy`]) |
//! | a missing `finish_reason` | `unknown` (the default of [`ChoiceEvent`]) |
//! | Google `Content` `parts`: `text` (`thought: true` → reasoning), `function_call`, `function_response`, `inline_data`, `file_data` | `text`/`reasoning`, `tool_call`, `tool_call_response`, `blob`, `uri` parts; role `model` → `assistant` |
//! | OpenLLMetry `gen_ai.prompt.N.*` / `gen_ai.completion.N.*` span attributes | input / output messages ([`input_messages_from_indexed_attributes`]) |
//!
//! ```
//! use agentrace_semconv::enums::{FinishReason, Role};
//! use agentrace_semconv::legacy;
//! use agentrace_semconv::message::Part;
//! use serde_json::json;
//!
//! let msg = legacy::from_openai_message(&json!({
//!     "role": "assistant",
//!     "tool_calls": [{"id": "call_1", "type": "function",
//!                     "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}],
//! })).expect("an OpenAI message");
//! assert_eq!(msg.role, Role::Assistant);
//! assert_eq!(msg.parts, [Part::tool_call(Some("call_1".into()), "get_weather", Some(json!({"city": "Paris"})))]);
//!
//! let choice = legacy::from_choice_event_body(&json!({
//!     "index": 0, "finish_reason": "tool_calls", "message": {"content": "ok"},
//! })).expect("a choice body");
//! assert_eq!(choice.index, Some(0));
//! assert_eq!(choice.message.finish_reason, FinishReason::ToolCall);
//! ```

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::attr;
use crate::enums::{FinishReason, Modality, Role};
use crate::event;
use crate::message::{
    BlobPart, ChatMessage, Extra, FilePart, OutputMessage, Part, ReasoningPart, TextPart,
    ToolCallRequestPart, ToolCallResponsePart, UriPart, unmapped,
};

/// Legacy data that cannot be converted at all (as opposed to data that is kept as extra fields).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConvertError {
    /// A message or event body is not a JSON object.
    #[error("{what} is not a JSON object")]
    NotAnObject {
        /// What was expected.
        what: &'static str,
    },
    /// An OpenAI-style message has no `role`.
    #[error("message has no `role`")]
    MissingRole,
    /// The event name is not one of the deprecated per-message events.
    #[error("`{0}` is not a deprecated per-message event")]
    UnknownEvent(String),
    /// A JSON string did not parse.
    #[error("invalid JSON: {0}")]
    Json(String),
    /// A list of messages was expected.
    #[error("expected an array of messages")]
    NotAnArray,
}

/// The message roles of the legacy event models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Roles {
    /// `user`.
    User,
    /// `assistant`.
    Assistant,
    /// `system`.
    System,
    /// `tool`.
    Tool,
}

impl Roles {
    /// The role string.
    pub fn as_str(self) -> &'static str {
        match self {
            Roles::User => "user",
            Roles::Assistant => "assistant",
            Roles::System => "system",
            Roles::Tool => "tool",
        }
    }
}

impl fmt::Display for Roles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<Roles> for Role {
    fn from(role: Roles) -> Self {
        match role {
            Roles::User => Role::User,
            Roles::Assistant => Role::Assistant,
            Roles::System => Role::System,
            Roles::Tool => Role::Tool,
        }
    }
}

/// The function of a legacy [`ToolCall`]. Reads `name` or the TypedDict's `function_name`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionCall {
    /// The function name.
    #[serde(alias = "function_name")]
    pub name: String,
    /// The arguments: usually a JSON string, sometimes an object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arguments: Option<Value>,
    /// Other fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A legacy tool call: `{id, type: "function", function: {name, arguments}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    /// The tool call id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The function called.
    pub function: FunctionCall,
    /// The tool type; always `function` in practice.
    #[serde(rename = "type", default = "function_type")]
    pub kind: String,
    /// Other fields.
    #[serde(flatten)]
    pub extra: Extra,
}

fn function_type() -> String {
    "function".to_owned()
}

/// A legacy input message event: content, role (default `user`) and tool calls.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageEvent {
    /// The content: text, a list of content parts, or anything.
    #[serde(default)]
    pub content: Value,
    /// The role (`user`, `assistant`, `system`, `tool`).
    #[serde(default = "user_role")]
    pub role: String,
    /// Tool calls of this message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ToolCall>>,
    /// Other fields.
    #[serde(flatten)]
    pub extra: Extra,
}

fn user_role() -> String {
    "user".to_owned()
}

/// The message of a legacy [`ChoiceEvent`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompletionMessage {
    /// The content.
    #[serde(default)]
    pub content: Value,
    /// The role (usually `assistant`).
    #[serde(default = "assistant_role")]
    pub role: String,
    /// Other fields.
    #[serde(flatten)]
    pub extra: Extra,
}

fn assistant_role() -> String {
    "assistant".to_owned()
}

/// A legacy completion choice event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChoiceEvent {
    /// The choice index.
    #[serde(default)]
    pub index: u64,
    /// The completion message.
    pub message: CompletionMessage,
    /// Why the generation finished (default `unknown`).
    #[serde(default = "unknown_reason")]
    pub finish_reason: String,
    /// Tool calls of this choice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ToolCall>>,
    /// Other fields.
    #[serde(flatten)]
    pub extra: Extra,
}

fn unknown_reason() -> String {
    "unknown".to_owned()
}

/// An output message converted from a choice, with the choice index.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexedOutput {
    /// The choice index, if the legacy data had one.
    pub index: Option<u64>,
    /// The message.
    pub message: OutputMessage,
}

fn to_map<T: Serialize>(value: &T) -> Map<String, Value> {
    match serde_json::to_value(value) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    }
}

impl From<&MessageEvent> for ChatMessage {
    fn from(event: &MessageEvent) -> Self {
        let (role, parts, name, extra) = convert_message(to_map(event), Role::User);
        ChatMessage {
            role,
            parts,
            name,
            extra,
        }
    }
}

impl From<MessageEvent> for ChatMessage {
    fn from(event: MessageEvent) -> Self {
        ChatMessage::from(&event)
    }
}

impl From<&ChoiceEvent> for IndexedOutput {
    fn from(event: &ChoiceEvent) -> Self {
        convert_choice(to_map(event))
    }
}

impl From<&ChoiceEvent> for OutputMessage {
    fn from(event: &ChoiceEvent) -> Self {
        IndexedOutput::from(event).message
    }
}

impl From<ChoiceEvent> for OutputMessage {
    fn from(event: ChoiceEvent) -> Self {
        OutputMessage::from(&event)
    }
}

/// Converts an OpenAI-style chat message (`role`, `content`, `tool_calls`, `tool_call_id`,
/// `name`, `function_call`, …) into an input message, keeping every other field as `extra`.
pub fn from_openai_message(message: &Value) -> Result<ChatMessage, ConvertError> {
    let map = message.as_object().ok_or(ConvertError::NotAnObject {
        what: "an OpenAI message",
    })?;
    if !matches!(map.get("role"), Some(Value::String(_))) {
        return Err(ConvertError::MissingRole);
    }
    let (role, parts, name, extra) = convert_message(map.clone(), Role::User);
    Ok(ChatMessage {
        role,
        parts,
        name,
        extra,
    })
}

/// Converts an array of OpenAI-style chat messages.
pub fn from_openai_messages(messages: &Value) -> Result<Vec<ChatMessage>, ConvertError> {
    messages
        .as_array()
        .ok_or(ConvertError::NotAnArray)?
        .iter()
        .map(from_openai_message)
        .collect()
}

/// Converts the JSON string of OpenAI-style chat messages (e.g. the deprecated `gen_ai.prompt`
/// attribute of the `gen_ai.content.prompt` span event).
pub fn from_openai_messages_json(json: &str) -> Result<Vec<ChatMessage>, ConvertError> {
    let value: Value =
        serde_json::from_str(json).map_err(|err| ConvertError::Json(err.to_string()))?;
    from_openai_messages(&value)
}

/// Converts OpenAI-style completion output into output messages: an array of choices
/// (`{index, message, finish_reason}`, as in a chat completion response or the v1.27
/// `gen_ai.completion` attribute) or of bare messages (`{role, content, finish_reason?}`).
/// Choices are ordered by index; a missing `finish_reason` is `unknown`.
pub fn output_messages_from_openai(value: &Value) -> Result<Vec<OutputMessage>, ConvertError> {
    let items = value.as_array().ok_or(ConvertError::NotAnArray)?;
    let mut outputs = items
        .iter()
        .map(|item| {
            let map = item.as_object().ok_or(ConvertError::NotAnObject {
                what: "a choice or message",
            })?;
            if map.get("message").is_some_and(Value::is_object) {
                return Ok(convert_choice(map.clone()));
            }
            let mut message = map.clone();
            let finish_reason = take_string(&mut message, "finish_reason");
            let mut choice = Map::new();
            if let Some(reason) = finish_reason {
                choice.insert("finish_reason".to_owned(), Value::String(reason));
            }
            choice.insert("message".to_owned(), Value::Object(message));
            Ok(convert_choice(choice))
        })
        .collect::<Result<Vec<_>, ConvertError>>()?;
    outputs.sort_by_key(|output| output.index.unwrap_or(u64::MAX));
    Ok(outputs.into_iter().map(|output| output.message).collect())
}

/// [`output_messages_from_openai`] for a JSON string (the v1.27 `gen_ai.completion` attribute).
pub fn output_messages_from_openai_json(json: &str) -> Result<Vec<OutputMessage>, ConvertError> {
    let value: Value =
        serde_json::from_str(json).map_err(|err| ConvertError::Json(err.to_string()))?;
    output_messages_from_openai(&value)
}

/// Converts the body of a deprecated per-message event (`gen_ai.system.message`,
/// `gen_ai.user.message`, `gen_ai.assistant.message`, `gen_ai.tool.message`). The role is the
/// body's `role` if present, else the event's. A body that is a string holding a JSON object is
/// that object; any other string or an array is the content. Google `Content` bodies
/// (`{"role": "model", "parts": [...]}`) are read too, with role `model` as `assistant`.
pub fn from_message_event_body(
    event_name: &str,
    body: &Value,
) -> Result<ChatMessage, ConvertError> {
    let role = event::role_of_message_event(event_name)
        .ok_or_else(|| ConvertError::UnknownEvent(event_name.to_owned()))?;
    let map = match body {
        Value::Object(map) => map.clone(),
        Value::Null => Map::new(),
        Value::String(text) => match serde_json::from_str::<Value>(text) {
            // A string body holding a JSON object is that object (some emitters encode it).
            Ok(Value::Object(map)) => map,
            _ => {
                let mut map = Map::new();
                map.insert("content".to_owned(), body.clone());
                map
            }
        },
        Value::Array(_) => {
            let mut map = Map::new();
            map.insert("content".to_owned(), body.clone());
            map
        }
        _ => {
            return Err(ConvertError::NotAnObject {
                what: "an event body",
            });
        }
    };
    let (role, parts, name, extra) = convert_message(map, role);
    Ok(ChatMessage {
        role,
        parts,
        name,
        extra,
    })
}

/// Converts the body of a deprecated `gen_ai.choice` event (`index`, `finish_reason`,
/// `message{content, role}`, `tool_calls`) into an output message with its index.
pub fn from_choice_event_body(body: &Value) -> Result<IndexedOutput, ConvertError> {
    match body {
        Value::Object(map) => Ok(convert_choice(map.clone())),
        _ => Err(ConvertError::NotAnObject {
            what: "a choice body",
        }),
    }
}

/// Converts the bodies of all `gen_ai.choice` events of one operation into
/// `gen_ai.output.messages`, ordered by choice index (bodies without an index keep their place
/// after the indexed ones, in order).
pub fn output_messages_from_choice_bodies(
    bodies: &[Value],
) -> Result<Vec<OutputMessage>, ConvertError> {
    let mut outputs = bodies
        .iter()
        .map(from_choice_event_body)
        .collect::<Result<Vec<_>, _>>()?;
    outputs.sort_by_key(|output| output.index.unwrap_or(u64::MAX));
    Ok(outputs.into_iter().map(|output| output.message).collect())
}

/// Converts a legacy `content` value into parts (see the module table). `null` gives no parts.
pub fn content_to_parts(content: &Value) -> Vec<Part> {
    match content {
        Value::Null => Vec::new(),
        Value::String(text) => vec![Part::text(text.clone())],
        Value::Array(items) => items.iter().map(content_item_to_part).collect(),
        Value::Object(_) => vec![content_item_to_part(content)],
        other => vec![unmapped(other.clone())],
    }
}

/// Converts one OpenAI-style tool call (`{id, type, function: {name, arguments}}`, or the flat
/// `{id, name, arguments}`) into a `tool_call` part; anything else becomes an unmapped part.
pub fn tool_call_to_part(call: &Value) -> Part {
    let Some(map) = call.as_object() else {
        return unmapped(call.clone());
    };
    let is_function = match map.get("type") {
        None => true,
        Some(Value::String(kind)) => kind == "function",
        Some(_) => false,
    };
    let has_name = map
        .get("function")
        .and_then(|function| function.get("name"))
        .is_some_and(Value::is_string);
    let flat = !map.contains_key("function") && map.get("name").is_some_and(Value::is_string);
    if is_function && flat {
        // The flat shape of OpenLLMetry's indexed attributes: `{id, name, arguments}`.
        let mut extra = map.clone();
        extra.remove("type");
        let id = take_string(&mut extra, "id");
        let name = take_string(&mut extra, "name").unwrap_or_default();
        let arguments = extra.remove("arguments").map(parse_arguments);
        return Part::ToolCall(ToolCallRequestPart {
            id,
            name,
            arguments,
            extra,
        });
    }
    if !is_function || !has_name {
        return unmapped(call.clone());
    }
    let mut extra = map.clone();
    extra.remove("type");
    let mut function = match extra.remove("function") {
        Some(Value::Object(function)) => function,
        _ => Map::new(),
    };
    let id = take_string(&mut extra, "id");
    let name = take_string(&mut function, "name").unwrap_or_default();
    let arguments = function.remove("arguments").map(parse_arguments);
    if !function.is_empty() {
        extra.insert("function".to_owned(), Value::Object(function));
    }
    Part::ToolCall(ToolCallRequestPart {
        id,
        name,
        arguments,
        extra,
    })
}

/// A JSON string holding an object or array is parsed, as the conventions recommend; anything
/// else is kept as it is.
fn parse_arguments(arguments: Value) -> Value {
    if let Value::String(text) = &arguments
        && let Ok(parsed @ (Value::Object(_) | Value::Array(_))) =
            serde_json::from_str::<Value>(text)
    {
        return parsed;
    }
    arguments
}

/// Removes `key` if it holds a string.
fn take_string(map: &mut Map<String, Value>, key: &str) -> Option<String> {
    if map.get(key).is_some_and(Value::is_string) {
        match map.remove(key) {
            Some(Value::String(s)) => Some(s),
            _ => None,
        }
    } else {
        None
    }
}

/// Inserts `key` into `extra`, or under `prefix.key` when `key` is already taken.
fn insert_unique(extra: &mut Extra, prefix: &str, key: String, value: Value) {
    if extra.contains_key(&key) {
        let mut renamed = format!("{prefix}.{key}");
        while extra.contains_key(&renamed) {
            renamed.insert(0, '_');
        }
        extra.insert(renamed, value);
    } else {
        extra.insert(key, value);
    }
}

/// The shared conversion of a message-like object: role, parts, name and the rest as extra.
fn convert_message(
    mut map: Map<String, Value>,
    default_role: Role,
) -> (Role, Vec<Part>, Option<String>, Extra) {
    let role = take_string(&mut map, "role").map_or(default_role, Role::from);
    let name = take_string(&mut map, "name");
    let mut parts = Vec::new();

    for key in ["reasoning_content", "reasoning"] {
        if let Some(reasoning) = take_string(&mut map, key) {
            parts.push(Part::Reasoning(ReasoningPart {
                content: reasoning,
                extra: Extra::new(),
            }));
        }
    }

    let is_tool_result = matches!(role, Role::Tool) || role.as_str() == "function";
    let content = map.remove("content");
    let google_parts = matches!(content, None | Some(Value::Null))
        && matches!(map.get("parts"), Some(Value::Array(_)));
    if google_parts {
        // Google `Content`: `{"role": "user" | "model", "parts": [...]}`.
        if let Some(Value::Array(items)) = map.remove("parts") {
            parts.extend(items.iter().map(google_part_to_part));
        }
        if let Some(content) = content {
            map.insert("content".to_owned(), content);
        }
        let role = if role.as_str() == "model" {
            Role::Assistant
        } else {
            role
        };
        return finish_message(role, parts, name, map);
    }
    if is_tool_result {
        let id = take_string(&mut map, "tool_call_id").or_else(|| take_string(&mut map, "id"));
        if content.is_some() || id.is_some() {
            parts.push(Part::ToolCallResponse(ToolCallResponsePart {
                id,
                response: content.unwrap_or(Value::Null),
                extra: Extra::new(),
            }));
        }
    } else if let Some(content) = content {
        parts.extend(content_to_parts(&content));
    }

    finish_message(role, parts, name, map)
}

/// Adds the tool calls of a message-like object to its parts.
fn finish_message(
    role: Role,
    mut parts: Vec<Part>,
    name: Option<String>,
    mut map: Map<String, Value>,
) -> (Role, Vec<Part>, Option<String>, Extra) {
    match map.remove("tool_calls") {
        Some(Value::Array(calls)) => parts.extend(calls.iter().map(tool_call_to_part)),
        Some(Value::Null) | None => {}
        Some(other) => parts.push(unmapped(other)),
    }
    if let Some(call) = map.remove("function_call") {
        match &call {
            Value::Object(function) if function.get("name").is_some_and(Value::is_string) => {
                let mut wrapped = Map::new();
                wrapped.insert("function".to_owned(), call.clone());
                parts.push(tool_call_to_part(&Value::Object(wrapped)));
            }
            Value::Null => {}
            _ => parts.push(unmapped(call)),
        }
    }
    (role, parts, name, map)
}

fn convert_choice(mut map: Map<String, Value>) -> IndexedOutput {
    let index = match map.get("index").and_then(Value::as_u64) {
        Some(index) => {
            map.remove("index");
            Some(index)
        }
        None => None,
    };
    let finish_reason = take_string(&mut map, "finish_reason").map_or_else(
        || FinishReason::Other(unknown_reason()),
        |r| FinishReason::from_legacy(&r),
    );
    let message = match map.remove("message") {
        Some(Value::Object(message)) => message,
        Some(Value::Null) | None => Map::new(),
        Some(Value::String(text)) => {
            let mut message = Map::new();
            message.insert("content".to_owned(), Value::String(text));
            message
        }
        Some(other) => {
            map.insert("message".to_owned(), other);
            Map::new()
        }
    };
    let (role, mut parts, name, mut extra) = convert_message(message, Role::Assistant);
    match map.remove("tool_calls") {
        Some(Value::Array(calls)) => parts.extend(calls.iter().map(tool_call_to_part)),
        Some(Value::Null) | None => {}
        Some(other) => parts.push(unmapped(other)),
    }
    for (key, value) in map {
        insert_unique(&mut extra, "choice", key, value);
    }
    IndexedOutput {
        index,
        message: OutputMessage {
            role,
            parts,
            name,
            finish_reason,
            extra,
        },
    }
}

/// Converts one legacy content item (see the module table).
fn content_item_to_part(item: &Value) -> Part {
    let map = match item {
        Value::String(text) => return Part::text(text.clone()),
        Value::Object(map) => map,
        other => return unmapped(other.clone()),
    };
    let kind = match map.get("type") {
        Some(Value::String(kind)) => kind.as_str(),
        Some(_) => return unmapped(item.clone()),
        None => {
            // Untyped blocks: `{"text": …}` and the Bedrock Converse blocks.
            return converse_block_to_part(map.clone()).unwrap_or_else(|| unmapped(item.clone()));
        }
    };
    let mut rest = map.clone();
    rest.remove("type");
    let converted = match kind {
        "text" if map.get("text").is_some_and(Value::is_string) => take_string(&mut rest, "text")
            .map(|text| {
                Part::Text(TextPart {
                    content: text,
                    extra: rest,
                })
            }),
        "image_url" => image_url_part(rest),
        "input_audio" => input_audio_part(rest),
        "file" if map.get("file").is_some_and(Value::is_object) => file_part(rest),
        "image" | "document" => anthropic_source_part(kind, rest),
        "tool_use" => tool_use_part(rest, "id", "input"),
        "tool_result" => tool_result_part(rest, "tool_use_id"),
        "thinking" => reasoning_part(rest, "thinking"),
        _ => None,
    };
    match converted {
        Some(part) => part,
        None => Part::from_value_lenient(item.clone()),
    }
}

/// The first of `keys` that holds a string, removed.
fn take_string_any(map: &mut Map<String, Value>, keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|key| take_string(map, key))
}

/// The first of `keys` that holds an object, removed, with the key it was under.
fn take_object_any(
    map: &mut Map<String, Value>,
    keys: &[&'static str],
) -> Option<(&'static str, Map<String, Value>)> {
    let key = keys
        .iter()
        .find(|key| map.get(**key).is_some_and(Value::is_object))?;
    match map.remove(*key) {
        Some(Value::Object(inner)) => Some((key, inner)),
        _ => None,
    }
}

/// The modality a MIME type implies: image, video and audio types by their top-level type,
/// anything else `document`.
fn modality_from_mime(mime: Option<&str>) -> Modality {
    match mime
        .and_then(|mime| mime.split_once('/'))
        .map(|(top, _)| top)
    {
        Some("image") => Modality::Image,
        Some("video") => Modality::Video,
        Some("audio") => Modality::Audio,
        _ => Modality::Document,
    }
}

/// One part of a Google `Content` (`text` with `thought`, `function_call`, `function_response`,
/// `inline_data`, `file_data`, in snake or camel case). Anything else goes the way of a legacy
/// content item.
fn google_part_to_part(item: &Value) -> Part {
    let Some(map) = item.as_object() else {
        return content_item_to_part(item);
    };
    if map.contains_key("type") {
        return content_item_to_part(item);
    }
    let mut rest = map.clone();
    if rest.get("thought") == Some(&Value::Bool(true))
        && let Some(text) = take_string(&mut rest, "text")
    {
        rest.remove("thought");
        return Part::Reasoning(ReasoningPart {
            content: text,
            extra: rest,
        });
    }
    if let Some((key, mut call)) = take_object_any(&mut rest, &["function_call", "functionCall"]) {
        if let Some(name) = take_string(&mut call, "name") {
            let id = take_string(&mut call, "id");
            let arguments = call.remove("args");
            let part = Part::ToolCall(ToolCallRequestPart {
                id,
                name,
                arguments,
                extra: call,
            });
            return with_extra(part, rest, key);
        }
        return content_item_to_part(item);
    }
    if let Some((key, mut response)) =
        take_object_any(&mut rest, &["function_response", "functionResponse"])
    {
        let id = take_string(&mut response, "id");
        let part = Part::ToolCallResponse(ToolCallResponsePart {
            id,
            response: response.remove("response").unwrap_or(Value::Null),
            extra: response,
        });
        return with_extra(part, rest, key);
    }
    if let Some((key, mut data)) = take_object_any(&mut rest, &["inline_data", "inlineData"]) {
        if let Some(content) = take_string(&mut data, "data") {
            let mime_type = take_string_any(&mut data, &["mime_type", "mimeType"]);
            let part = Part::Blob(BlobPart {
                modality: modality_from_mime(mime_type.as_deref()),
                mime_type,
                content,
                extra: data,
            });
            return with_extra(part, rest, key);
        }
        return content_item_to_part(item);
    }
    if let Some((key, mut file)) = take_object_any(&mut rest, &["file_data", "fileData"]) {
        if let Some(uri) = take_string_any(&mut file, &["file_uri", "fileUri"]) {
            let mime_type = take_string_any(&mut file, &["mime_type", "mimeType"]);
            let part = Part::Uri(UriPart {
                modality: modality_from_mime(mime_type.as_deref()),
                mime_type,
                uri,
                extra: file,
            });
            return with_extra(part, rest, key);
        }
        return content_item_to_part(item);
    }
    content_item_to_part(item)
}

/// Bedrock Converse content blocks, which carry no `type`: `{"text"}`, `{"toolUse"}`,
/// `{"toolResult"}`, `{"reasoningContent": {"reasoningText"}}`, `{"image": {"format", "source":
/// {"bytes"}}}`. Other keys of the block go to `extra`.
fn converse_block_to_part(mut block: Map<String, Value>) -> Option<Part> {
    if let Some(text) = take_string(&mut block, "text") {
        return Some(Part::Text(TextPart {
            content: text,
            extra: block,
        }));
    }
    let (key, inner) = ["toolUse", "toolResult", "reasoningContent", "image"]
        .into_iter()
        .find_map(|key| match block.get(key) {
            Some(Value::Object(inner)) => Some((key, inner.clone())),
            _ => None,
        })?;
    let part = match key {
        "toolUse" => tool_use_part(inner, "toolUseId", "input")?,
        "toolResult" => tool_result_part(inner, "toolUseId")?,
        "reasoningContent" => {
            let mut inner = inner;
            let Some(Value::Object(text)) = inner.remove("reasoningText") else {
                return None;
            };
            let mut part = reasoning_part(text, "text")?;
            if let Part::Reasoning(reasoning) = &mut part {
                for (k, v) in inner {
                    insert_unique(&mut reasoning.extra, "reasoningContent", k, v);
                }
            }
            part
        }
        _ => {
            let mut inner = inner;
            let Some(Value::Object(mut source)) = inner.remove("source") else {
                return None;
            };
            let bytes = take_string(&mut source, "bytes")?;
            let mime_type = inner
                .get("format")
                .and_then(Value::as_str)
                .map(|format| format!("image/{format}"));
            let mut extra = inner;
            for (k, v) in source {
                insert_unique(&mut extra, "source", k, v);
            }
            Part::Blob(BlobPart {
                modality: Modality::Image,
                mime_type,
                content: bytes,
                extra,
            })
        }
    };
    block.remove(key);
    Some(with_extra(part, block, key))
}

/// Adds the leftover fields of an enclosing block to a part's `extra`.
fn with_extra(mut part: Part, leftovers: Map<String, Value>, prefix: &str) -> Part {
    let extra = match &mut part {
        Part::Text(p) => &mut p.extra,
        Part::ToolCall(p) => &mut p.extra,
        Part::ToolCallResponse(p) => &mut p.extra,
        Part::Blob(p) => &mut p.extra,
        Part::Reasoning(p) => &mut p.extra,
        Part::ServerToolCall(p) => &mut p.extra,
        Part::ServerToolCallResponse(p) => &mut p.extra,
        Part::File(p) => &mut p.extra,
        Part::Uri(p) => &mut p.extra,
        Part::Generic(p) => &mut p.fields,
    };
    for (key, value) in leftovers {
        insert_unique(extra, prefix, key, value);
    }
    part
}

/// An Anthropic `tool_use` (`id`, `name`, `input`) or Converse `toolUse` (`toolUseId`, …).
fn tool_use_part(mut rest: Map<String, Value>, id_key: &str, input_key: &str) -> Option<Part> {
    let name = take_string(&mut rest, "name")?;
    let id = take_string(&mut rest, id_key);
    let arguments = rest.remove(input_key);
    Some(Part::ToolCall(ToolCallRequestPart {
        id,
        name,
        arguments,
        extra: rest,
    }))
}

/// An Anthropic `tool_result` (`tool_use_id`, `content`, `is_error`) or Converse `toolResult`
/// (`toolUseId`, `content`, `status`).
fn tool_result_part(mut rest: Map<String, Value>, id_key: &str) -> Option<Part> {
    let id = take_string(&mut rest, id_key);
    let response = rest.remove("content");
    if id.is_none() && response.is_none() {
        return None;
    }
    Some(Part::ToolCallResponse(ToolCallResponsePart {
        id,
        response: response.unwrap_or(Value::Null),
        extra: rest,
    }))
}

/// An Anthropic `thinking` block (`thinking`, `signature`) or Converse `reasoningText`.
fn reasoning_part(mut rest: Map<String, Value>, key: &str) -> Option<Part> {
    let content = take_string(&mut rest, key)?;
    Some(Part::Reasoning(ReasoningPart {
        content,
        extra: rest,
    }))
}

/// An Anthropic `image` or `document` block: a base64 `source` becomes a blob, a `url` source a
/// uri part.
fn anthropic_source_part(kind: &str, mut rest: Map<String, Value>) -> Option<Part> {
    let modality = if kind == "image" {
        Modality::Image
    } else {
        Modality::Document
    };
    let Some(Value::Object(mut source)) = rest.remove("source") else {
        return None;
    };
    let source_type = source
        .get("type")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let part = match source_type.as_deref() {
        Some("base64") => {
            source.remove("type");
            let content = take_string(&mut source, "data")?;
            let mime_type = take_string(&mut source, "media_type");
            Part::Blob(BlobPart {
                modality,
                mime_type,
                content,
                extra: Map::new(),
            })
        }
        Some("url") => {
            source.remove("type");
            let uri = take_string(&mut source, "url")?;
            Part::Uri(UriPart {
                modality,
                mime_type: None,
                uri,
                extra: Map::new(),
            })
        }
        _ => return None,
    };
    let part = with_extra(part, rest, kind);
    Some(with_extra(part, source, "source"))
}

/// Splits a base64 `data:` URL into its MIME type and payload.
fn split_data_url(url: &str) -> Option<(Option<String>, String)> {
    let rest = url.strip_prefix("data:")?;
    let (header, payload) = rest.split_once(',')?;
    let header = header.strip_suffix(";base64")?;
    let mime = header.split(';').next().filter(|mime| !mime.is_empty());
    Some((mime.map(str::to_owned), payload.to_owned()))
}

fn image_url_part(mut rest: Map<String, Value>) -> Option<Part> {
    let (url, mut inner) = match rest.remove("image_url") {
        Some(Value::String(url)) => (url, Map::new()),
        Some(Value::Object(mut inner)) => (take_string(&mut inner, "url")?, inner),
        _ => return None,
    };
    for (key, value) in std::mem::take(&mut inner) {
        insert_unique(&mut rest, "image_url", key, value);
    }
    Some(match split_data_url(&url) {
        Some((mime_type, content)) => Part::Blob(BlobPart {
            modality: Modality::Image,
            mime_type,
            content,
            extra: rest,
        }),
        None => Part::Uri(UriPart {
            modality: Modality::Image,
            mime_type: None,
            uri: url,
            extra: rest,
        }),
    })
}

fn input_audio_part(mut rest: Map<String, Value>) -> Option<Part> {
    let Some(Value::Object(mut inner)) = rest.remove("input_audio") else {
        return None;
    };
    let data = take_string(&mut inner, "data")?;
    let mime_type = inner
        .get("format")
        .and_then(Value::as_str)
        .map(|format| format!("audio/{format}"));
    for (key, value) in inner {
        insert_unique(&mut rest, "input_audio", key, value);
    }
    Some(Part::Blob(BlobPart {
        modality: Modality::Audio,
        mime_type,
        content: data,
        extra: rest,
    }))
}

fn file_part(mut rest: Map<String, Value>) -> Option<Part> {
    let Some(Value::Object(mut inner)) = rest.remove("file") else {
        return None;
    };
    if let Some(file_id) = take_string(&mut inner, "file_id") {
        for (key, value) in inner {
            insert_unique(&mut rest, "file", key, value);
        }
        return Some(Part::File(FilePart {
            modality: Modality::Document,
            mime_type: None,
            file_id,
            extra: rest,
        }));
    }
    let data = take_string(&mut inner, "file_data")?;
    let (mime_type, content) = match split_data_url(&data) {
        Some((mime, payload)) => (mime, payload),
        None => (None, data),
    };
    for (key, value) in inner {
        insert_unique(&mut rest, "file", key, value);
    }
    Some(Part::Blob(BlobPart {
        modality: Modality::Document,
        mime_type,
        content,
        extra: rest,
    }))
}

/// Collects OpenLLMetry's indexed span attributes under `prefix` (e.g. `gen_ai.prompt.0.role`,
/// `gen_ai.prompt.0.content`, `gen_ai.prompt.1.tool_calls.0.name` under [`attr::GEN_AI_PROMPT`])
/// into one OpenAI-style object per index, ordered by index. Numeric path segments become
/// arrays (`tool_calls`); a `content` string holding a JSON array is parsed. Keys under the
/// prefix whose first segment is not an index (such as `gen_ai.prompt.name`) are ignored.
pub fn indexed_attributes_to_objects<'a, I>(prefix: &str, attributes: I) -> Vec<Value>
where
    I: IntoIterator<Item = (&'a str, &'a Value)>,
{
    let mut by_index: std::collections::BTreeMap<usize, Map<String, Value>> =
        std::collections::BTreeMap::new();
    for (key, value) in attributes {
        let Some(rest) = key
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_prefix('.'))
        else {
            continue;
        };
        let mut segments = rest.split('.');
        let Some(index) = segments
            .next()
            .and_then(|first| first.parse::<usize>().ok())
        else {
            continue;
        };
        let path: Vec<&str> = segments.collect();
        if path.is_empty() {
            continue;
        }
        insert_path(by_index.entry(index).or_default(), &path, value.clone());
    }
    by_index
        .into_values()
        .map(|mut map| {
            if let Some(Value::String(text)) = map.get("content")
                && let Ok(parsed @ Value::Array(_)) = serde_json::from_str::<Value>(text)
            {
                map.insert("content".to_owned(), parsed);
            }
            arrays_from_indices(Value::Object(map))
        })
        .collect()
}

/// Inserts `value` at `path`, creating objects on the way; a path blocked by a non-object
/// keeps the value under the dotted rest of the path.
fn insert_path(map: &mut Map<String, Value>, path: &[&str], value: Value) {
    match path {
        [] => {}
        [last] => {
            map.insert((*last).to_owned(), value);
        }
        [first, rest @ ..] => {
            let entry = map
                .entry((*first).to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            match entry {
                Value::Object(inner) => insert_path(inner, rest, value),
                _ => {
                    map.insert(path.join("."), value);
                }
            }
        }
    }
}

/// Turns every object whose keys are all indices into an array ordered by index.
fn arrays_from_indices(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let numeric = !map.is_empty() && map.keys().all(|k| k.parse::<usize>().is_ok());
            if numeric {
                let mut items: Vec<(usize, Value)> = map
                    .into_iter()
                    .map(|(k, v)| {
                        (
                            k.parse::<usize>().unwrap_or(usize::MAX),
                            arrays_from_indices(v),
                        )
                    })
                    .collect();
                items.sort_by_key(|(index, _)| *index);
                Value::Array(items.into_iter().map(|(_, v)| v).collect())
            } else {
                Value::Object(
                    map.into_iter()
                        .map(|(k, v)| (k, arrays_from_indices(v)))
                        .collect(),
                )
            }
        }
        Value::Array(items) => Value::Array(items.into_iter().map(arrays_from_indices).collect()),
        other => other,
    }
}

/// Converts OpenLLMetry's `gen_ai.prompt.N.*` span attributes into input messages (role
/// defaults to `user`; tool calls come from `tool_calls.M.{id, name, arguments}`).
pub fn input_messages_from_indexed_attributes<'a, I>(attributes: I) -> Vec<ChatMessage>
where
    I: IntoIterator<Item = (&'a str, &'a Value)>,
{
    indexed_attributes_to_objects(attr::GEN_AI_PROMPT, attributes)
        .into_iter()
        .map(|object| {
            let map = match object {
                Value::Object(map) => map,
                _ => Map::new(),
            };
            let (role, parts, name, extra) = convert_message(map, Role::User);
            ChatMessage {
                role,
                parts,
                name,
                extra,
            }
        })
        .collect()
}

/// Converts OpenLLMetry's `gen_ai.completion.N.*` span attributes into output messages (role
/// defaults to `assistant`; `finish_reason` read with [`FinishReason::from_legacy`], `unknown`
/// when absent).
pub fn output_messages_from_indexed_attributes<'a, I>(attributes: I) -> Vec<OutputMessage>
where
    I: IntoIterator<Item = (&'a str, &'a Value)>,
{
    indexed_attributes_to_objects(attr::GEN_AI_COMPLETION, attributes)
        .into_iter()
        .map(|object| {
            let mut map = match object {
                Value::Object(map) => map,
                _ => Map::new(),
            };
            let finish_reason = take_string(&mut map, "finish_reason").map_or_else(
                || FinishReason::Other(unknown_reason()),
                |reason| FinishReason::from_legacy(&reason),
            );
            let (role, parts, name, extra) = convert_message(map, Role::Assistant);
            OutputMessage {
                role,
                parts,
                name,
                finish_reason,
                extra,
            }
        })
        .collect()
}
