//! The OpenTelemetry GenAI semantic conventions as Rust types.
//!
//! This crate is the vocabulary of agentrace: everything that producers and consumers of GenAI
//! telemetry name, as typed Rust. It does no I/O (except [`capture::CaptureSettings::from_env`])
//! and nothing async, and depends on neither `opentelemetry` nor an async runtime, so every other
//! crate can use it.
//!
//! | module | what |
//! |---|---|
//! | [`attr`] | every `gen_ai.*` attribute key (and `error.type`, `server.*`, `exception.*`, deprecated keys) as constants |
//! | [`deprecated`] | the rename table of deprecated keys and values (`gen_ai.system` → `gen_ai.provider.name`, …) |
//! | [`enums`] | open enums with an `Other(String)` fallback: [`OperationName`], [`ProviderName`], [`FinishReason`], [`TokenType`], [`OutputType`], [`Role`], [`ToolType`], [`Modality`] |
//! | [`span`] | span names (`chat gpt-4o`) and kinds per operation |
//! | [`event`] | event names, current and deprecated, and the 18-name live event vocabulary |
//! | [`metric`] | metric names, units, instruments and exact bucket boundaries |
//! | [`message`] | the message model: [`ChatMessage`], [`OutputMessage`], [`SystemInstructions`], [`ToolDefinition`], [`Part`] |
//! | [`parse`] | parsing the model from JSON (as the schemas accept it, or strictly), with errors that say where, e.g. *messages\[2\].parts\[0\]: missing field content* |
//! | [`legacy`] | the legacy event models and lossless conversions from them, from OpenAI-style messages and from deprecated event bodies |
//! | [`capture`] | content-capture settings from `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT` and friends |
//!
//! # Example
//!
//! ```
//! use agentrace_semconv::enums::{FinishReason, OperationName, Role};
//! use agentrace_semconv::message::{ChatMessage, OutputMessage, Part};
//! use agentrace_semconv::{attr, parse, span};
//!
//! // Name a span and its attributes.
//! let op = OperationName::Chat;
//! assert_eq!(span::span_name(&op, Some("gpt-4o")), "chat gpt-4o");
//! assert_eq!(attr::GEN_AI_OPERATION_NAME, "gen_ai.operation.name");
//!
//! // Record messages as the JSON string of a span attribute…
//! let input = vec![ChatMessage::from_text(Role::User, "Weather in Paris?")];
//! let output = vec![OutputMessage::new(Role::Assistant, vec![Part::text("Rainy, 57°F.")], FinishReason::Stop)];
//! let json = serde_json::to_string(&output).expect("serializable");
//!
//! // …and read them back.
//! assert_eq!(parse::output_messages(&json).expect("valid"), output);
//! assert_eq!(input[0].texts().collect::<String>(), "Weather in Paris?");
//! ```
//!
//! # Feature flags
//!
//! None.

pub mod attr;
pub mod capture;
pub mod deprecated;
pub mod enums;
pub mod event;
pub mod legacy;
pub mod message;
pub mod metric;
pub mod parse;
pub mod span;

pub use capture::{CaptureSettings, ContentMode, Conventions};
pub use enums::{
    FinishReason, Modality, OperationName, OutputType, ProviderName, Role, TokenType, ToolType,
};
pub use message::{
    ChatMessage, InputMessage, OutputMessage, Part, SystemInstructions, ToolDefinition,
};
pub use parse::ParseError;
pub use span::SpanKind;
