//! GenAI instrumentation on the OpenTelemetry API.

pub mod content;
pub mod convert;
pub mod events;
pub mod hooks;
mod instrumentation;
pub mod propagation;
mod span;
mod stream;
mod vocab;

pub use agentrace_semconv::{CaptureSettings, ContentMode, Conventions, OperationName};
pub use content::{RequestContent, ResponseContent};
pub use events::{EventStream, LiveItem, StreamEvent, add_event};
pub use instrumentation::{
    EventLogger, Instrumentation, InstrumentationBuilder, LogEvent, SCOPE_NAME, json_to_any_value,
};
pub use span::{GenAiSpan, GenAiSpanBuilder, SpanLabel, Usage, error_type_of};
pub use stream::{
    ChoiceOutput, ModelChunk, StreamOutcome, StreamOutput, ToolCallDelta, ToolCallOutput,
    TracedIter, TracedStream,
};
