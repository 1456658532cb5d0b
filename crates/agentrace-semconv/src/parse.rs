//! Parsing the message model from JSON, with errors that say where.
//!
//! The functions take the JSON string of a span attribute (or, the `*_value` forms, the
//! structured value of a log event attribute) and return the model or a [`ParseError`] whose
//! message starts with the path of the offending value:
//!
//! The plain functions accept exactly what the schemas accept. The schemas' `GenericPart`
//! matches any object with a string `type`, so a part of a known type whose fields do not fit
//! (a `text` part without `content`) is valid there and parses as a generic part. The `*_strict`
//! functions reject such parts, with the path and the missing field:
//!
//! ```
//! use agentrace_semconv::parse;
//!
//! let json = r#"[{"role":"user","parts":[{"type":"text"}]}]"#;
//! assert!(parse::input_messages(json).is_ok());
//! let err = parse::input_messages_strict(json).unwrap_err();
//! assert_eq!(err.to_string(), "messages[0].parts[0]: missing field `content`");
//!
//! let err = parse::input_messages(r#"[{"role":"user"}]"#).unwrap_err();
//! assert_eq!(err.path, "messages[0]");
//! assert!(err.message.starts_with("missing field `parts`"));
//! ```

use std::fmt::Write as _;

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::message::{
    ChatMessage, OutputMessage, Part, RetrievalDocument, SystemInstructions, ToolDefinition,
};

/// JSON that does not fit the model, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ParseError {
    /// Where: a root name and a path such as `messages[2].parts[0]`.
    pub path: String,
    /// What: the serde_json message (with line and column for syntax errors).
    pub message: String,
}

/// Root name used in paths of input and output messages.
pub const MESSAGES_ROOT: &str = "messages";
/// Root name used in paths of system instructions.
pub const INSTRUCTIONS_ROOT: &str = "instructions";
/// Root name used in paths of tool definitions.
pub const TOOLS_ROOT: &str = "tools";
/// Root name used in paths of retrieval documents.
pub const DOCUMENTS_ROOT: &str = "documents";

fn render_path(root: &str, path: &serde_path_to_error::Path) -> String {
    let mut out = root.to_owned();
    for segment in path.iter() {
        // Writing to a String cannot fail.
        let _ = match segment {
            serde_path_to_error::Segment::Seq { index } => write!(out, "[{index}]"),
            serde_path_to_error::Segment::Map { key } => write!(out, ".{key}"),
            serde_path_to_error::Segment::Enum { variant } => write!(out, ".{variant}"),
            serde_path_to_error::Segment::Unknown => write!(out, ".?"),
        };
    }
    out
}

fn convert(root: &str, err: serde_path_to_error::Error<serde_json::Error>) -> ParseError {
    ParseError {
        path: render_path(root, err.path()),
        message: err.inner().to_string(),
    }
}

/// Parses any model type from a JSON string; `root` names the top of the path in errors.
pub fn from_str<T: DeserializeOwned>(root: &str, json: &str) -> Result<T, ParseError> {
    let mut de = serde_json::Deserializer::from_str(json);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| convert(root, e))?;
    de.end().map_err(|e| ParseError {
        path: root.to_owned(),
        message: e.to_string(),
    })?;
    Ok(value)
}

/// Parses any model type from a structured JSON value; `root` names the top of the path.
pub fn from_value<T: DeserializeOwned>(root: &str, value: Value) -> Result<T, ParseError> {
    serde_path_to_error::deserialize(value).map_err(|e| convert(root, e))
}

/// Parses `gen_ai.input.messages`.
pub fn input_messages(json: &str) -> Result<Vec<ChatMessage>, ParseError> {
    from_str(MESSAGES_ROOT, json)
}

/// Parses `gen_ai.input.messages` from a structured value.
pub fn input_messages_value(value: Value) -> Result<Vec<ChatMessage>, ParseError> {
    from_value(MESSAGES_ROOT, value)
}

/// Parses `gen_ai.output.messages`.
pub fn output_messages(json: &str) -> Result<Vec<OutputMessage>, ParseError> {
    from_str(MESSAGES_ROOT, json)
}

/// Parses `gen_ai.output.messages` from a structured value.
pub fn output_messages_value(value: Value) -> Result<Vec<OutputMessage>, ParseError> {
    from_value(MESSAGES_ROOT, value)
}

/// Parses `gen_ai.system_instructions`.
pub fn system_instructions(json: &str) -> Result<SystemInstructions, ParseError> {
    from_str(INSTRUCTIONS_ROOT, json)
}

/// Parses `gen_ai.system_instructions` from a structured value.
pub fn system_instructions_value(value: Value) -> Result<SystemInstructions, ParseError> {
    from_value(INSTRUCTIONS_ROOT, value)
}

/// Parses `gen_ai.tool.definitions`.
pub fn tool_definitions(json: &str) -> Result<Vec<ToolDefinition>, ParseError> {
    from_str(TOOLS_ROOT, json)
}

/// Parses `gen_ai.tool.definitions` from a structured value.
pub fn tool_definitions_value(value: Value) -> Result<Vec<ToolDefinition>, ParseError> {
    from_value(TOOLS_ROOT, value)
}

/// Parses `gen_ai.retrieval.documents`.
pub fn retrieval_documents(json: &str) -> Result<Vec<RetrievalDocument>, ParseError> {
    from_str(DOCUMENTS_ROOT, json)
}

/// Parses `gen_ai.retrieval.documents` from a structured value.
pub fn retrieval_documents_value(value: Value) -> Result<Vec<RetrievalDocument>, ParseError> {
    from_value(DOCUMENTS_ROOT, value)
}

/// Re-checks generic parts whose `type` is a known part type strictly, reporting the first.
fn check_parts<'a>(lists: impl Iterator<Item = (String, &'a [Part])>) -> Result<(), ParseError> {
    for (prefix, parts) in lists {
        for (index, part) in parts.iter().enumerate() {
            if part.is_misfit()
                && let Err(err) = Part::from_value_strict(part.to_value())
            {
                return Err(ParseError {
                    path: format!("{prefix}[{index}]"),
                    message: err.to_string(),
                });
            }
        }
    }
    Ok(())
}

/// Parses `gen_ai.input.messages` strictly: parts of known types must fit their type.
pub fn input_messages_strict(json: &str) -> Result<Vec<ChatMessage>, ParseError> {
    let messages = input_messages(json)?;
    check_parts(
        messages
            .iter()
            .enumerate()
            .map(|(i, m)| (format!("{MESSAGES_ROOT}[{i}].parts"), m.parts.as_slice())),
    )?;
    Ok(messages)
}

/// Parses `gen_ai.output.messages` strictly: parts of known types must fit their type.
pub fn output_messages_strict(json: &str) -> Result<Vec<OutputMessage>, ParseError> {
    let messages = output_messages(json)?;
    check_parts(
        messages
            .iter()
            .enumerate()
            .map(|(i, m)| (format!("{MESSAGES_ROOT}[{i}].parts"), m.parts.as_slice())),
    )?;
    Ok(messages)
}

/// Parses `gen_ai.system_instructions` strictly: parts of known types must fit their type.
pub fn system_instructions_strict(json: &str) -> Result<SystemInstructions, ParseError> {
    let instructions = system_instructions(json)?;
    check_parts(std::iter::once((
        INSTRUCTIONS_ROOT.to_owned(),
        instructions.parts.as_slice(),
    )))?;
    Ok(instructions)
}
