//! Messages in the GenAI semconv shape, read loosely from every producer's format.

use serde_json::{Map, Value};

/// A chat message: a role and its parts.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Message {
    /// `system`, `user`, `assistant`, `tool`, ...
    pub role: String,
    /// The parts, in order.
    pub parts: Vec<Part>,
    /// The finish reason (output messages).
    pub finish_reason: Option<String>,
}

/// One part of a message.
#[derive(Clone, Debug, PartialEq)]
pub enum Part {
    /// Text.
    Text(String),
    /// Model reasoning (not text).
    Reasoning(String),
    /// A tool call requested by the model.
    ToolCall {
        /// Call id.
        id: Option<String>,
        /// Tool name.
        name: Option<String>,
        /// Arguments (parsed from JSON strings).
        arguments: Option<Value>,
    },
    /// A tool result sent back to the model.
    ToolCallResponse {
        /// Call id.
        id: Option<String>,
        /// Tool name, when the producer gives it.
        name: Option<String>,
        /// The result.
        response: Value,
    },
    /// Anything else (blob, uri, file, server tool call, ...): only its type is kept.
    Other(String),
}

impl Message {
    /// True when some part is text.
    pub fn has_text(&self) -> bool {
        self.parts.iter().any(|p| matches!(p, Part::Text(_)))
    }

    /// True when every part is a tool result (and there is at least one), or the role is `tool`.
    pub fn is_tool_result(&self) -> bool {
        self.role == "tool"
            || (!self.parts.is_empty()
                && self
                    .parts
                    .iter()
                    .all(|p| matches!(p, Part::ToolCallResponse { .. })))
    }
}

/// Placeholder values that count as no content.
pub(crate) fn is_placeholder(s: &str) -> bool {
    matches!(s, "" | "<REDACTED>" | "<elided>")
}

/// The text parts of messages joined with no separator (as the reference does).
pub fn text_of(msgs: &[Message]) -> Option<String> {
    let mut out = String::new();
    let mut any = false;
    for m in msgs {
        for p in &m.parts {
            if let Part::Text(t) = p {
                out.push_str(t);
                any = true;
            }
        }
    }
    any.then_some(out)
}

/// Parses a JSON string if it is JSON, else keeps it as a string.
pub(crate) fn parse_jsonish(v: &Value) -> Value {
    match v {
        Value::String(s) => {
            let t = s.trim_start();
            if t.starts_with('{') || t.starts_with('[') || t.starts_with('"') {
                serde_json::from_str(s).unwrap_or_else(|_| v.clone())
            } else if let Ok(n) = serde_json::from_str::<Value>(s.trim()) {
                if n.is_number() || n.is_boolean() || n.is_null() {
                    n
                } else {
                    v.clone()
                }
            } else {
                v.clone()
            }
        }
        other => other.clone(),
    }
}

fn str_field<'a>(o: &'a Map<String, Value>, keys: &[&str]) -> Option<&'a str> {
    keys.iter().find_map(|k| o.get(*k).and_then(Value::as_str))
}

fn id_field(o: &Map<String, Value>, keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|k| match o.get(*k) {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    })
}

/// Parses a semconv message list (`[{role, parts}]`), also accepting OpenAI-style messages
/// (`{role, content, tool_calls}`) and Google `Content` (`{role, parts: [{text}|{function_call}]}`).
/// Returns `None` when the value is not a list of messages.
pub fn parse_messages(v: &Value) -> Option<Vec<Message>> {
    match v {
        Value::String(s) => parse_messages_text(s),
        other => parse_message_list(other.clone()),
    }
}

/// [`parse_messages`] of a JSON string attribute, parsed in place (not copied into a JSON value
/// first).
pub fn parse_messages_text(s: &str) -> Option<Vec<Message>> {
    if is_placeholder(s) || s.len() > crate::extract::MAX_JSON_PARSE_BYTES {
        return None;
    }
    parse_message_list(serde_json::from_str::<Value>(s).ok()?)
}

fn parse_message_list(v: Value) -> Option<Vec<Message>> {
    let items = match v {
        Value::Array(a) => a,
        Value::Object(_) => vec![v],
        _ => return None,
    };
    let mut out = Vec::with_capacity(items.len());
    for item in &items {
        let Some(o) = item.as_object() else { continue };
        out.push(parse_message(o, None));
    }
    Some(out)
}

/// Parses one message object of any supported style; `role` overrides the object's role.
pub(crate) fn parse_message(o: &Map<String, Value>, role: Option<&str>) -> Message {
    let role = role
        .map(str::to_owned)
        .or_else(|| str_field(o, &["role"]).map(str::to_owned))
        .unwrap_or_default();
    let role = if role == "model" {
        "assistant".to_owned()
    } else {
        role
    };
    let mut parts = Vec::new();
    if let Some(ps) = o.get("parts").and_then(Value::as_array) {
        for p in ps {
            if let Some(po) = p.as_object() {
                parse_part(po, &mut parts);
            } else if let Some(s) = p.as_str() {
                parts.push(Part::Text(s.to_owned()));
            }
        }
    }
    match o.get("content") {
        Some(Value::String(s)) if !is_placeholder(s) => {
            if role == "tool" {
                parts.push(Part::ToolCallResponse {
                    id: id_field(o, &["tool_call_id", "id"]),
                    name: str_field(o, &["name"]).map(str::to_owned),
                    response: parse_jsonish(&Value::String(s.clone())),
                });
            } else {
                parts.push(Part::Text(s.clone()));
            }
        }
        Some(Value::Array(items)) => {
            for p in items {
                if let Some(po) = p.as_object() {
                    let before = parts.len();
                    parse_part(po, &mut parts);
                    if role == "tool" && parts.len() == before {
                        // An untyped tool result block: the block is the response.
                        parts.push(Part::ToolCallResponse {
                            id: id_field(o, &["tool_call_id", "id"]),
                            name: None,
                            response: p.clone(),
                        });
                    }
                } else if let Some(s) = p.as_str() {
                    parts.push(Part::Text(s.to_owned()));
                }
            }
        }
        Some(Value::Object(c)) => {
            // Google Content nested under `content`.
            let inner = parse_message(c, Some(&role));
            parts.extend(inner.parts);
        }
        _ => {}
    }
    if let Some(tcs) = o.get("tool_calls").and_then(Value::as_array) {
        for tc in tcs {
            let Some(tc) = tc.as_object() else { continue };
            let f = tc.get("function").and_then(Value::as_object).unwrap_or(tc);
            parts.push(Part::ToolCall {
                id: id_field(tc, &["id"]),
                name: str_field(f, &["name"]).map(str::to_owned),
                arguments: f.get("arguments").map(parse_jsonish),
            });
        }
    }
    Message {
        role,
        parts,
        finish_reason: str_field(o, &["finish_reason", "finishReason"]).map(str::to_owned),
    }
}

fn parse_part(po: &Map<String, Value>, parts: &mut Vec<Part>) {
    let ty = str_field(po, &["type"]);
    match ty {
        Some("text") => {
            if let Some(t) = str_field(po, &["content", "text"]) {
                parts.push(Part::Text(t.to_owned()));
            }
        }
        Some("reasoning" | "thinking") => {
            let t = str_field(po, &["content", "text", "thinking"]).unwrap_or("");
            parts.push(Part::Reasoning(t.to_owned()));
        }
        Some("tool_call" | "function_call" | "tool_use") => parts.push(Part::ToolCall {
            id: id_field(po, &["id", "call_id"]),
            name: str_field(po, &["name"]).map(str::to_owned),
            arguments: po
                .get("arguments")
                .or_else(|| po.get("input"))
                .or_else(|| po.get("args"))
                .map(parse_jsonish),
        }),
        Some("tool_call_response" | "function_call_output" | "tool_result") => {
            parts.push(Part::ToolCallResponse {
                id: id_field(po, &["id", "call_id", "tool_use_id"]),
                name: str_field(po, &["name"]).map(str::to_owned),
                response: po
                    .get("response")
                    .or_else(|| po.get("result"))
                    .or_else(|| po.get("output"))
                    .or_else(|| po.get("content"))
                    .map(parse_jsonish)
                    .unwrap_or(Value::Null),
            });
        }
        Some(other) => parts.push(Part::Other(other.to_owned())),
        None => parse_google_part(po, parts),
    }
}

/// A Google GenAI part: text / thought / function_call / function_response / inline_data / file_data.
fn parse_google_part(po: &Map<String, Value>, parts: &mut Vec<Part>) {
    if let Some(fc) = po
        .get("function_call")
        .or_else(|| po.get("functionCall"))
        .and_then(Value::as_object)
    {
        parts.push(Part::ToolCall {
            id: id_field(fc, &["id"]),
            name: str_field(fc, &["name"]).map(str::to_owned),
            arguments: fc.get("args").map(parse_jsonish),
        });
    } else if let Some(fr) = po
        .get("function_response")
        .or_else(|| po.get("functionResponse"))
        .and_then(Value::as_object)
    {
        parts.push(Part::ToolCallResponse {
            id: id_field(fr, &["id"]),
            name: str_field(fr, &["name"]).map(str::to_owned),
            response: fr.get("response").map(parse_jsonish).unwrap_or(Value::Null),
        });
    } else if let Some(tu) = po.get("toolUse").and_then(Value::as_object) {
        // Strands (Bedrock Converse) content blocks.
        parts.push(Part::ToolCall {
            id: id_field(tu, &["toolUseId"]),
            name: str_field(tu, &["name"]).map(str::to_owned),
            arguments: tu.get("input").map(parse_jsonish),
        });
    } else if let Some(tr) = po.get("toolResult").and_then(Value::as_object) {
        parts.push(Part::ToolCallResponse {
            id: id_field(tr, &["toolUseId"]),
            name: None,
            response: tr.get("content").map(parse_jsonish).unwrap_or(Value::Null),
        });
    } else if let Some(t) = po.get("text").and_then(Value::as_str) {
        if po.get("thought").and_then(Value::as_bool) == Some(true) {
            parts.push(Part::Reasoning(t.to_owned()));
        } else {
            parts.push(Part::Text(t.to_owned()));
        }
    } else if po.contains_key("inline_data") || po.contains_key("inlineData") {
        parts.push(Part::Other("blob".into()));
    } else if po.contains_key("file_data") || po.contains_key("fileData") {
        parts.push(Part::Other("uri".into()));
    }
}
