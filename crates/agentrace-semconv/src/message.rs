//! The message model: input and output messages, system instructions, tool definitions and
//! retrieval documents, serializing to and from exactly the JSON of the official schemas
//! (`gen-ai-input-messages.json`, `gen-ai-output-messages.json`,
//! `gen-ai-system-instructions.json`, `gen-ai-tool-definitions.json`,
//! `gen-ai-retrieval-documents.json`).
//!
//! The schemas allow additional properties everywhere, and custom part types. The model keeps
//! both: every struct has an `extra` map for fields it does not name, and [`Part::Generic`]
//! keeps a part of any other `type` with all its fields. So parsing and writing back gives equal
//! JSON, including for telemetry from newer or custom producers.
//!
//! Parsing accepts exactly what the schemas accept. The schemas' `GenericPart` matches any
//! object with a string `type`, so a part of a known type whose fields do not fit (the
//! conventions' own YAML example writes `result` instead of `response` in a
//! `tool_call_response`) parses as a [`Part::Generic`] that keeps every field;
//! [`Part::is_misfit`] tells such parts apart, and [`Part::from_value_strict`] and the
//! `parse::*_strict` functions reject them with the path and the missing field.
//!
//! Details of the round trip:
//! - Absent optional fields are not written (no `null`s). An explicit `null` for an optional
//!   string field (`name`, `id`, `mime_type`, `description`) is kept in `extra` and written back.
//! - An `extra` key that names one of the struct's own fields (or `type`) is written only when
//!   that field is absent, so a key is never written twice.
//! - A [`Part::Generic`] whose `type` is one of the known part types is written with that type
//!   and reads back as the known part when its fields fit.
//! - Numbers in `extra`, `arguments` and `response` are kept as serde_json numbers, so `1` and
//!   `1.0` stay distinct; [`RetrievalDocument::score`] is an `f64`.
//!
//! ```
//! use agentrace_semconv::enums::{FinishReason, Role};
//! use agentrace_semconv::message::{ChatMessage, OutputMessage, Part};
//!
//! let input = vec![ChatMessage::new(Role::User, vec![Part::text("Weather in Paris?")])];
//! let json = serde_json::to_string(&input).expect("serializable");
//! assert_eq!(json, r#"[{"role":"user","parts":[{"type":"text","content":"Weather in Paris?"}]}]"#);
//!
//! let output: Vec<OutputMessage> = agentrace_semconv::parse::output_messages(
//!     r#"[{"role":"assistant","parts":[{"type":"text","content":"Rainy."}],"finish_reason":"stop"}]"#,
//! ).expect("valid output messages");
//! assert_eq!(output[0].finish_reason, FinishReason::Stop);
//! assert_eq!(output[0].texts().collect::<Vec<_>>(), ["Rainy."]);
//! ```

use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::enums::{FinishReason, Modality, Role};

/// The JSON object type used for extra fields.
pub type Extra = Map<String, Value>;

/// `gen_ai.input.messages`: the chat history sent to the model, in order.
pub type InputMessages = Vec<ChatMessage>;
/// `gen_ai.output.messages`: one message per choice/candidate.
pub type OutputMessages = Vec<OutputMessage>;
/// An input message (the schema calls it `ChatMessage`).
pub type InputMessage = ChatMessage;

/// A part type a producer wrote that does not fit the model: used by the conversions of legacy
/// data for content that has no place in the current model (`{"type": "unmapped", "value": …}`).
pub const UNMAPPED_PART_TYPE: &str = "unmapped";

/// A problem with one JSON object of the message model.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    /// A required field is absent.
    #[error("missing field `{0}`")]
    MissingField(&'static str),
    /// A field has the wrong JSON type.
    #[error("invalid type for field `{field}`: expected {expected}, found {found}")]
    InvalidType {
        /// The field.
        field: &'static str,
        /// What the schema wants.
        expected: &'static str,
        /// A short description of what was there.
        found: String,
    },
    /// The value is not a JSON object.
    #[error("invalid type: expected an object, found {0}")]
    NotAnObject(String),
}

/// A short description of a JSON value for error messages (its type and a bounded preview).
fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => format!("boolean `{b}`"),
        Value::Number(n) => format!("number `{n}`"),
        Value::String(s) => {
            let preview: String = s.chars().take(40).collect();
            if preview.len() < s.len() {
                format!("string \"{preview}…\"")
            } else {
                format!("string \"{preview}\"")
            }
        }
        Value::Array(_) => "an array".to_owned(),
        Value::Object(_) => "an object".to_owned(),
    }
}

/// Takes fields out of a JSON object; what is left becomes `extra`.
struct Fields(Map<String, Value>);

impl Fields {
    fn from_value(value: Value) -> Result<Self, ModelError> {
        match value {
            Value::Object(map) => Ok(Self(map)),
            other => Err(ModelError::NotAnObject(describe(&other))),
        }
    }

    fn required_string(&mut self, field: &'static str) -> Result<String, ModelError> {
        match self.0.remove(field) {
            Some(Value::String(s)) => Ok(s),
            Some(other) => Err(ModelError::InvalidType {
                field,
                expected: "a string",
                found: describe(&other),
            }),
            None => Err(ModelError::MissingField(field)),
        }
    }

    /// An optional string: absent → `None`; `null` stays in the map (and so in `extra`).
    fn optional_string(&mut self, field: &'static str) -> Result<Option<String>, ModelError> {
        match self.0.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(_)) => match self.0.remove(field) {
                Some(Value::String(s)) => Ok(Some(s)),
                _ => Ok(None),
            },
            Some(other) => Err(ModelError::InvalidType {
                field,
                expected: "a string or null",
                found: describe(other),
            }),
        }
    }

    fn required_value(&mut self, field: &'static str) -> Result<Value, ModelError> {
        self.0.remove(field).ok_or(ModelError::MissingField(field))
    }

    fn optional_value(&mut self, field: &'static str) -> Option<Value> {
        self.0.remove(field)
    }

    fn modality(&mut self) -> Result<Modality, ModelError> {
        self.required_string("modality").map(Modality::from)
    }

    fn required_object(&mut self, field: &'static str) -> Result<Extra, ModelError> {
        match self.0.remove(field) {
            Some(Value::Object(map)) => Ok(map),
            Some(other) => Err(ModelError::InvalidType {
                field,
                expected: "an object",
                found: describe(&other),
            }),
            None => Err(ModelError::MissingField(field)),
        }
    }

    fn into_extra(self) -> Extra {
        self.0
    }
}

/// Writes map entries and remembers which keys were written, so `extra` never duplicates them.
struct Writer<M> {
    map: M,
    written: Vec<&'static str>,
}

impl<M: SerializeMap> Writer<M> {
    fn new(map: M) -> Self {
        Self {
            map,
            written: Vec::with_capacity(6),
        }
    }

    fn entry<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), M::Error> {
        self.written.push(key);
        self.map.serialize_entry(key, value)
    }

    fn optional<T: Serialize>(
        &mut self,
        key: &'static str,
        value: Option<&T>,
    ) -> Result<(), M::Error> {
        match value {
            Some(value) => self.entry(key, value),
            None => Ok(()),
        }
    }

    fn extra(mut self, extra: &Extra) -> Result<M::Ok, M::Error> {
        for (key, value) in extra {
            if !self.written.contains(&key.as_str()) {
                self.map.serialize_entry(key, value)?;
            }
        }
        self.map.end()
    }
}

/// A `text` part: text sent to or received from the model.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TextPart {
    /// The text.
    pub content: String,
    /// Fields the schema does not name.
    pub extra: Extra,
}

/// A `tool_call` part: a tool call requested by the model.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ToolCallRequestPart {
    /// The tool call id.
    pub id: Option<String>,
    /// The tool name.
    pub name: String,
    /// The arguments, preferably an object (any JSON value; `Some(Value::Null)` is an explicit `null`).
    pub arguments: Option<Value>,
    /// Fields the schema does not name.
    pub extra: Extra,
}

/// A `tool_call_response` part: a tool result sent to the model.
///
/// The schema's field is `response`. (The YAML examples of the conventions write `result`;
/// such a part has no `response`, so it parses as a [`Part::Generic`] of type
/// `tool_call_response` that keeps `result`; see [`Part::is_misfit`].)
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ToolCallResponsePart {
    /// The id of the tool call this responds to.
    pub id: Option<String>,
    /// The response (any JSON value).
    pub response: Value,
    /// Fields the schema does not name.
    pub extra: Extra,
}

/// The polymorphic details of a server tool call or its response: a `type` and any fields.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ServerToolDetails {
    /// The server tool type (`code_interpreter`, `web_search`, …).
    pub kind: String,
    /// All other fields.
    pub fields: Extra,
}

/// A `server_tool_call` part: a tool the provider runs on its side.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ServerToolCallPart {
    /// The server tool call id.
    pub id: Option<String>,
    /// The server tool name.
    pub name: String,
    /// The call details (`server_tool_call`).
    pub server_tool_call: ServerToolDetails,
    /// Fields the schema does not name.
    pub extra: Extra,
}

/// A `server_tool_call_response` part: the outcome of a server tool call.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ServerToolCallResponsePart {
    /// The id of the server tool call.
    pub id: Option<String>,
    /// The response details (`server_tool_call_response`).
    pub server_tool_call_response: ServerToolDetails,
    /// Fields the schema does not name.
    pub extra: Extra,
}

/// A `blob` part: binary data sent inline, base64-encoded.
#[derive(Debug, Clone, PartialEq)]
pub struct BlobPart {
    /// The general modality.
    pub modality: Modality,
    /// The IANA MIME type, if known.
    pub mime_type: Option<String>,
    /// The data, base64-encoded, as it appears in the JSON.
    pub content: String,
    /// Fields the schema does not name.
    pub extra: Extra,
}

/// A `file` part: a file pre-uploaded to the provider, by id.
#[derive(Debug, Clone, PartialEq)]
pub struct FilePart {
    /// The general modality.
    pub modality: Modality,
    /// The IANA MIME type, if known.
    pub mime_type: Option<String>,
    /// The provider's file id.
    pub file_id: String,
    /// Fields the schema does not name.
    pub extra: Extra,
}

/// A `uri` part: data referenced by URI.
#[derive(Debug, Clone, PartialEq)]
pub struct UriPart {
    /// The general modality.
    pub modality: Modality,
    /// The IANA MIME type, if known.
    pub mime_type: Option<String>,
    /// The URI (not a base64 `data:` URL; that is a blob).
    pub uri: String,
    /// Fields the schema does not name.
    pub extra: Extra,
}

/// A `reasoning` part: reasoning or thinking content from the model.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ReasoningPart {
    /// The reasoning text.
    pub content: String,
    /// Fields the schema does not name.
    pub extra: Extra,
}

/// A part of any other type, with all its fields.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GenericPart {
    /// The `type` discriminator.
    pub kind: String,
    /// All other fields.
    pub fields: Extra,
}

/// One part of a message or of the system instructions, discriminated by `type`.
#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    /// `text`.
    Text(TextPart),
    /// `tool_call`.
    ToolCall(ToolCallRequestPart),
    /// `tool_call_response`.
    ToolCallResponse(ToolCallResponsePart),
    /// `server_tool_call`.
    ServerToolCall(ServerToolCallPart),
    /// `server_tool_call_response`.
    ServerToolCallResponse(ServerToolCallResponsePart),
    /// `blob`.
    Blob(BlobPart),
    /// `file`.
    File(FilePart),
    /// `uri`.
    Uri(UriPart),
    /// `reasoning`.
    Reasoning(ReasoningPart),
    /// Any other `type`, with all its fields kept.
    Generic(GenericPart),
}

/// The `type` values of the parts the model names (everything but [`Part::Generic`]).
pub const KNOWN_PART_TYPES: &[&str] = &[
    "text",
    "tool_call",
    "tool_call_response",
    "server_tool_call",
    "server_tool_call_response",
    "blob",
    "file",
    "uri",
    "reasoning",
];

impl Part {
    /// A `text` part.
    pub fn text(content: impl Into<String>) -> Self {
        Part::Text(TextPart {
            content: content.into(),
            extra: Extra::new(),
        })
    }

    /// A `reasoning` part.
    pub fn reasoning(content: impl Into<String>) -> Self {
        Part::Reasoning(ReasoningPart {
            content: content.into(),
            extra: Extra::new(),
        })
    }

    /// A `tool_call` part.
    pub fn tool_call(
        id: Option<String>,
        name: impl Into<String>,
        arguments: Option<Value>,
    ) -> Self {
        Part::ToolCall(ToolCallRequestPart {
            id,
            name: name.into(),
            arguments,
            extra: Extra::new(),
        })
    }

    /// A `tool_call_response` part.
    pub fn tool_call_response(id: Option<String>, response: Value) -> Self {
        Part::ToolCallResponse(ToolCallResponsePart {
            id,
            response,
            extra: Extra::new(),
        })
    }

    /// A generic part of type `kind` with `fields`.
    pub fn generic(kind: impl Into<String>, fields: Extra) -> Self {
        Part::Generic(GenericPart {
            kind: kind.into(),
            fields,
        })
    }

    /// The `type` discriminator.
    pub fn kind(&self) -> &str {
        match self {
            Part::Text(_) => "text",
            Part::ToolCall(_) => "tool_call",
            Part::ToolCallResponse(_) => "tool_call_response",
            Part::ServerToolCall(_) => "server_tool_call",
            Part::ServerToolCallResponse(_) => "server_tool_call_response",
            Part::Blob(_) => "blob",
            Part::File(_) => "file",
            Part::Uri(_) => "uri",
            Part::Reasoning(_) => "reasoning",
            Part::Generic(generic) => &generic.kind,
        }
    }

    /// The text of a `text` part.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Part::Text(text) => Some(&text.content),
            _ => None,
        }
    }

    /// The fields the schema does not name (for a generic part, all fields but `type`).
    pub fn extra(&self) -> &Extra {
        match self {
            Part::Text(p) => &p.extra,
            Part::ToolCall(p) => &p.extra,
            Part::ToolCallResponse(p) => &p.extra,
            Part::ServerToolCall(p) => &p.extra,
            Part::ServerToolCallResponse(p) => &p.extra,
            Part::Blob(p) => &p.extra,
            Part::File(p) => &p.extra,
            Part::Uri(p) => &p.extra,
            Part::Reasoning(p) => &p.extra,
            Part::Generic(p) => &p.fields,
        }
    }

    /// Parses one part from JSON as the schemas do: a part of a known type whose fields fit
    /// becomes that part; any other object with a string `type` (an unknown type, or a known
    /// type whose fields do not fit, such as a `tool_call_response` with `result` instead of
    /// `response`) becomes a [`Part::Generic`] with all its fields (the schemas' `GenericPart`).
    /// Fails only where the schemas fail: not an object, or no string `type`.
    pub fn from_value(value: Value) -> Result<Self, ModelError> {
        let kind = part_kind(&value)?;
        if !KNOWN_PART_TYPES.contains(&kind.as_str()) {
            let mut fields = match value {
                Value::Object(map) => map,
                _ => Extra::new(),
            };
            fields.remove("type");
            return Ok(Part::Generic(GenericPart { kind, fields }));
        }
        match Part::from_value_strict(value.clone()) {
            Ok(part) => Ok(part),
            Err(_) => {
                let mut fields = match value {
                    Value::Object(map) => map,
                    _ => Extra::new(),
                };
                fields.remove("type");
                Ok(Part::Generic(GenericPart { kind, fields }))
            }
        }
    }

    /// Parses one part from JSON strictly: a part of a known type must have that type's
    /// required fields with the right JSON types (so a `tool_call_response` without `response`
    /// is an error, not a generic part).
    pub fn from_value_strict(value: Value) -> Result<Self, ModelError> {
        let mut f = Fields::from_value(value)?;
        let kind = f.required_string("type")?;
        let part = match kind.as_str() {
            "text" => Part::Text(TextPart {
                content: f.required_string("content")?,
                extra: f.into_extra(),
            }),
            "tool_call" => {
                let id = f.optional_string("id")?;
                let name = f.required_string("name")?;
                let arguments = f.optional_value("arguments");
                Part::ToolCall(ToolCallRequestPart {
                    id,
                    name,
                    arguments,
                    extra: f.into_extra(),
                })
            }
            "tool_call_response" => {
                let id = f.optional_string("id")?;
                let response = f.required_value("response")?;
                Part::ToolCallResponse(ToolCallResponsePart {
                    id,
                    response,
                    extra: f.into_extra(),
                })
            }
            "server_tool_call" => {
                let id = f.optional_string("id")?;
                let name = f.required_string("name")?;
                let details = server_tool_details(f.required_object("server_tool_call")?)?;
                Part::ServerToolCall(ServerToolCallPart {
                    id,
                    name,
                    server_tool_call: details,
                    extra: f.into_extra(),
                })
            }
            "server_tool_call_response" => {
                let id = f.optional_string("id")?;
                let details = server_tool_details(f.required_object("server_tool_call_response")?)?;
                Part::ServerToolCallResponse(ServerToolCallResponsePart {
                    id,
                    server_tool_call_response: details,
                    extra: f.into_extra(),
                })
            }
            "blob" => {
                let mime_type = f.optional_string("mime_type")?;
                let modality = f.modality()?;
                let content = f.required_string("content")?;
                Part::Blob(BlobPart {
                    modality,
                    mime_type,
                    content,
                    extra: f.into_extra(),
                })
            }
            "file" => {
                let mime_type = f.optional_string("mime_type")?;
                let modality = f.modality()?;
                let file_id = f.required_string("file_id")?;
                Part::File(FilePart {
                    modality,
                    mime_type,
                    file_id,
                    extra: f.into_extra(),
                })
            }
            "uri" => {
                let mime_type = f.optional_string("mime_type")?;
                let modality = f.modality()?;
                let uri = f.required_string("uri")?;
                Part::Uri(UriPart {
                    modality,
                    mime_type,
                    uri,
                    extra: f.into_extra(),
                })
            }
            "reasoning" => Part::Reasoning(ReasoningPart {
                content: f.required_string("content")?,
                extra: f.into_extra(),
            }),
            _ => Part::Generic(GenericPart {
                kind,
                fields: f.into_extra(),
            }),
        };
        Ok(part)
    }

    /// Parses one part and never fails: like [`Part::from_value`], and a value that is not an
    /// object with a string `type` becomes an [`UNMAPPED_PART_TYPE`] part with the value under
    /// `value`. Never drops data.
    pub fn from_value_lenient(value: Value) -> Self {
        if part_kind(&value).is_err() {
            return unmapped(value);
        }
        Part::from_value(value).unwrap_or_else(|err| {
            // Unreachable: `from_value` fails only where `part_kind` does.
            let mut fields = Extra::new();
            fields.insert("error".to_owned(), Value::String(err.to_string()));
            Part::generic(UNMAPPED_PART_TYPE, fields)
        })
    }

    /// Whether this is a generic part whose `type` is a known part type, i.e. a part whose
    /// fields did not fit its type (e.g. `tool_call_response` with `result`).
    pub fn is_misfit(&self) -> bool {
        matches!(self, Part::Generic(g) if KNOWN_PART_TYPES.contains(&g.kind.as_str()))
    }

    /// The part as a JSON value.
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// An [`UNMAPPED_PART_TYPE`] part holding `value`.
pub(crate) fn unmapped(value: Value) -> Part {
    let mut fields = Extra::new();
    fields.insert("value".to_owned(), value);
    Part::Generic(GenericPart {
        kind: UNMAPPED_PART_TYPE.to_owned(),
        fields,
    })
}

/// The string `type` of a part, or the error the schemas give.
fn part_kind(value: &Value) -> Result<String, ModelError> {
    match value {
        Value::Object(map) => match map.get("type") {
            Some(Value::String(kind)) => Ok(kind.clone()),
            Some(other) => Err(ModelError::InvalidType {
                field: "type",
                expected: "a string",
                found: describe(other),
            }),
            None => Err(ModelError::MissingField("type")),
        },
        other => Err(ModelError::NotAnObject(describe(other))),
    }
}

fn server_tool_details(mut map: Extra) -> Result<ServerToolDetails, ModelError> {
    match map.remove("type") {
        Some(Value::String(kind)) => Ok(ServerToolDetails { kind, fields: map }),
        Some(other) => Err(ModelError::InvalidType {
            field: "type",
            expected: "a string",
            found: describe(&other),
        }),
        None => Err(ModelError::MissingField("type")),
    }
}

impl From<&str> for Part {
    fn from(text: &str) -> Self {
        Part::text(text)
    }
}

impl From<String> for Part {
    fn from(text: String) -> Self {
        Part::text(text)
    }
}

struct DetailsRef<'a>(&'a ServerToolDetails);

impl Serialize for DetailsRef<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut w = Writer::new(serializer.serialize_map(None)?);
        w.entry("type", &self.0.kind)?;
        w.extra(&self.0.fields)
    }
}

impl Serialize for Part {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut w = Writer::new(serializer.serialize_map(None)?);
        w.entry("type", self.kind())?;
        match self {
            Part::Text(p) => {
                w.entry("content", &p.content)?;
                w.extra(&p.extra)
            }
            Part::ToolCall(p) => {
                w.optional("id", p.id.as_ref())?;
                w.entry("name", &p.name)?;
                w.optional("arguments", p.arguments.as_ref())?;
                w.extra(&p.extra)
            }
            Part::ToolCallResponse(p) => {
                w.optional("id", p.id.as_ref())?;
                w.entry("response", &p.response)?;
                w.extra(&p.extra)
            }
            Part::ServerToolCall(p) => {
                w.optional("id", p.id.as_ref())?;
                w.entry("name", &p.name)?;
                w.entry("server_tool_call", &DetailsRef(&p.server_tool_call))?;
                w.extra(&p.extra)
            }
            Part::ServerToolCallResponse(p) => {
                w.optional("id", p.id.as_ref())?;
                w.entry(
                    "server_tool_call_response",
                    &DetailsRef(&p.server_tool_call_response),
                )?;
                w.extra(&p.extra)
            }
            Part::Blob(p) => {
                w.optional("mime_type", p.mime_type.as_ref())?;
                w.entry("modality", &p.modality)?;
                w.entry("content", &p.content)?;
                w.extra(&p.extra)
            }
            Part::File(p) => {
                w.optional("mime_type", p.mime_type.as_ref())?;
                w.entry("modality", &p.modality)?;
                w.entry("file_id", &p.file_id)?;
                w.extra(&p.extra)
            }
            Part::Uri(p) => {
                w.optional("mime_type", p.mime_type.as_ref())?;
                w.entry("modality", &p.modality)?;
                w.entry("uri", &p.uri)?;
                w.extra(&p.extra)
            }
            Part::Reasoning(p) => {
                w.entry("content", &p.content)?;
                w.extra(&p.extra)
            }
            Part::Generic(p) => w.extra(&p.fields),
        }
    }
}

impl<'de> Deserialize<'de> for Part {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        Part::from_value(value).map_err(serde::de::Error::custom)
    }
}

/// Deserializes a present field as `Some(inner)`, so `null` becomes `Some(None)`.
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// Moves an explicit `null` for an optional field into `extra`, so it is written back.
fn keep_null(field: Option<Option<String>>, key: &str, extra: &mut Extra) -> Option<String> {
    match field {
        Some(Some(value)) => Some(value),
        Some(None) => {
            extra.insert(key.to_owned(), Value::Null);
            None
        }
        None => None,
    }
}

/// An input message (`ChatMessage` in the schema): a role, parts and an optional participant name.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatMessage {
    /// The role of the entity that created the message.
    pub role: Role,
    /// The parts, in order.
    pub parts: Vec<Part>,
    /// The participant name.
    pub name: Option<String>,
    /// Fields the schema does not name.
    pub extra: Extra,
}

impl ChatMessage {
    /// A message with `role` and `parts`.
    pub fn new(role: impl Into<Role>, parts: Vec<Part>) -> Self {
        Self {
            role: role.into(),
            parts,
            name: None,
            extra: Extra::new(),
        }
    }

    /// A message with one text part.
    pub fn from_text(role: impl Into<Role>, text: impl Into<String>) -> Self {
        Self::new(role, vec![Part::text(text)])
    }

    /// Sets the participant name.
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// The contents of the text parts, in order.
    pub fn texts(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(Part::as_text)
    }
}

#[derive(Deserialize)]
struct RawChatMessage {
    role: Role,
    parts: Vec<Part>,
    #[serde(default, deserialize_with = "present")]
    name: Option<Option<String>>,
    #[serde(flatten)]
    extra: Extra,
}

impl<'de> Deserialize<'de> for ChatMessage {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let RawChatMessage {
            role,
            parts,
            name,
            mut extra,
        } = RawChatMessage::deserialize(deserializer)?;
        let name = keep_null(name, "name", &mut extra);
        Ok(Self {
            role,
            parts,
            name,
            extra,
        })
    }
}

impl Serialize for ChatMessage {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut w = Writer::new(serializer.serialize_map(None)?);
        w.entry("role", &self.role)?;
        w.entry("parts", &self.parts)?;
        w.optional("name", self.name.as_ref())?;
        w.extra(&self.extra)
    }
}

/// An output message: one choice or candidate, with its finish reason.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputMessage {
    /// The role (usually `assistant`).
    pub role: Role,
    /// The parts, in order.
    pub parts: Vec<Part>,
    /// The participant name.
    pub name: Option<String>,
    /// Why the generation finished.
    pub finish_reason: FinishReason,
    /// Fields the schema does not name.
    pub extra: Extra,
}

impl OutputMessage {
    /// An output message with `role`, `parts` and `finish_reason`.
    pub fn new(
        role: impl Into<Role>,
        parts: Vec<Part>,
        finish_reason: impl Into<FinishReason>,
    ) -> Self {
        Self {
            role: role.into(),
            parts,
            name: None,
            finish_reason: finish_reason.into(),
            extra: Extra::new(),
        }
    }

    /// The contents of the text parts, in order.
    pub fn texts(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(Part::as_text)
    }
}

#[derive(Deserialize)]
struct RawOutputMessage {
    role: Role,
    parts: Vec<Part>,
    #[serde(default, deserialize_with = "present")]
    name: Option<Option<String>>,
    finish_reason: FinishReason,
    #[serde(flatten)]
    extra: Extra,
}

impl<'de> Deserialize<'de> for OutputMessage {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let RawOutputMessage {
            role,
            parts,
            name,
            finish_reason,
            mut extra,
        } = RawOutputMessage::deserialize(deserializer)?;
        let name = keep_null(name, "name", &mut extra);
        Ok(Self {
            role,
            parts,
            name,
            finish_reason,
            extra,
        })
    }
}

impl Serialize for OutputMessage {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut w = Writer::new(serializer.serialize_map(None)?);
        w.entry("role", &self.role)?;
        w.entry("parts", &self.parts)?;
        w.optional("name", self.name.as_ref())?;
        w.entry("finish_reason", &self.finish_reason)?;
        w.extra(&self.extra)
    }
}

impl From<OutputMessage> for ChatMessage {
    /// The output message as a message of the next turn's chat history; the finish reason is
    /// dropped.
    fn from(message: OutputMessage) -> Self {
        Self {
            role: message.role,
            parts: message.parts,
            name: message.name,
            extra: message.extra,
        }
    }
}

/// `gen_ai.system_instructions`: instructions given to the model apart from the chat history.
///
/// Serializes as a plain array of parts.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SystemInstructions {
    /// The parts, in order.
    pub parts: Vec<Part>,
}

impl SystemInstructions {
    /// Instructions of one text part.
    pub fn from_text(text: impl Into<String>) -> Self {
        Self {
            parts: vec![Part::text(text)],
        }
    }
}

/// A `function` tool definition.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FunctionToolDefinition {
    /// The tool name.
    pub name: String,
    /// The description.
    pub description: Option<String>,
    /// The JSON Schema (draft-07) of the parameters (`Some(Value::Null)` is an explicit `null`).
    pub parameters: Option<Value>,
    /// Fields the schema does not name.
    pub extra: Extra,
}

/// A tool definition of another type.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GenericToolDefinition {
    /// The tool type.
    pub kind: String,
    /// The tool name.
    pub name: String,
    /// All other fields.
    pub fields: Extra,
}

/// One entry of `gen_ai.tool.definitions`.
#[derive(Debug, Clone, PartialEq)]
pub enum ToolDefinition {
    /// `type: "function"`.
    Function(FunctionToolDefinition),
    /// Any other `type`.
    Generic(GenericToolDefinition),
}

impl ToolDefinition {
    /// A function tool.
    pub fn function(
        name: impl Into<String>,
        description: Option<String>,
        parameters: Option<Value>,
    ) -> Self {
        ToolDefinition::Function(FunctionToolDefinition {
            name: name.into(),
            description,
            parameters,
            extra: Extra::new(),
        })
    }

    /// The tool name.
    pub fn name(&self) -> &str {
        match self {
            ToolDefinition::Function(f) => &f.name,
            ToolDefinition::Generic(g) => &g.name,
        }
    }

    /// The tool type (`function`, …).
    pub fn kind(&self) -> &str {
        match self {
            ToolDefinition::Function(_) => "function",
            ToolDefinition::Generic(g) => &g.kind,
        }
    }

    /// Parses one tool definition from JSON as the schema does: `type` and `name` must be
    /// strings; a `function` whose `description` is not a string falls back to a generic
    /// definition (the schema's `GenericToolDefinition`).
    pub fn from_value(value: Value) -> Result<Self, ModelError> {
        let mut f = Fields::from_value(value)?;
        let kind = f.required_string("type")?;
        let name = f.required_string("name")?;
        if kind == "function"
            && !f
                .0
                .get("description")
                .is_some_and(|d| !d.is_string() && !d.is_null())
        {
            let description = f.optional_string("description")?;
            let parameters = f.optional_value("parameters");
            Ok(ToolDefinition::Function(FunctionToolDefinition {
                name,
                description,
                parameters,
                extra: f.into_extra(),
            }))
        } else {
            Ok(ToolDefinition::Generic(GenericToolDefinition {
                kind,
                name,
                fields: f.into_extra(),
            }))
        }
    }
}

impl Serialize for ToolDefinition {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut w = Writer::new(serializer.serialize_map(None)?);
        w.entry("type", self.kind())?;
        w.entry("name", self.name())?;
        match self {
            ToolDefinition::Function(f) => {
                w.optional("description", f.description.as_ref())?;
                w.optional("parameters", f.parameters.as_ref())?;
                w.extra(&f.extra)
            }
            ToolDefinition::Generic(g) => w.extra(&g.fields),
        }
    }
}

impl<'de> Deserialize<'de> for ToolDefinition {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        ToolDefinition::from_value(value).map_err(serde::de::Error::custom)
    }
}

/// One entry of `gen_ai.retrieval.documents`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct RetrievalDocument {
    /// The document id.
    pub id: String,
    /// The relevance score.
    pub score: f64,
    /// Fields the schema does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

impl RetrievalDocument {
    /// A document with `id` and `score`.
    pub fn new(id: impl Into<String>, score: f64) -> Self {
        Self {
            id: id.into(),
            score,
            extra: Extra::new(),
        }
    }
}

impl Serialize for RetrievalDocument {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut w = Writer::new(serializer.serialize_map(None)?);
        w.entry("id", &self.id)?;
        w.entry("score", &self.score)?;
        w.extra(&self.extra)
    }
}

/// Serializes `value` to a JSON string for a span attribute (spans cannot hold structured values
/// in opentelemetry-rust). Fails only if a custom `extra` value cannot be represented.
pub fn to_json_string<T: Serialize + ?Sized>(value: &T) -> Result<String, serde_json::Error> {
    serde_json::to_string(value)
}
