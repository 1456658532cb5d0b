//! The OpenTelemetry GenAI semantic conventions as Rust types.
//!
//! This crate is the vocabulary of agentrace: every `gen_ai.*` attribute key, the enums of the
//! conventions, event and metric names, and the message model. It does no I/O and nothing async.
//!
//! ```
//! use agentrace_semconv::attr;
//! assert_eq!(attr::GEN_AI_OPERATION_NAME, "gen_ai.operation.name");
//! ```

pub mod attr;
