//! Efficiency of an invocation: tool calls, model calls, tokens, seconds (lower is better).
//!
//! ADK lists these (`tool_call_count_v1`, `inference_call_count_v1`, `token_usage_v1`,
//! `invocation_duration_v1`) as informational; the reference cannot compute them (it always
//! passes a threshold, which ADK refuses). Here each gives one value per invocation and the mean
//! as its score; with a budget (`max`), an invocation over it fails the metric.

use crate::invocation::Invocation;

/// What is counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quantity {
    /// Tool calls.
    ToolCalls,
    /// Logical model calls.
    ModelCalls,
    /// Input plus output tokens.
    Tokens,
    /// Wall-clock seconds.
    DurationSeconds,
}

impl Quantity {
    /// The unit, for messages.
    pub fn unit(self) -> &'static str {
        match self {
            Self::ToolCalls => "tool calls",
            Self::ModelCalls => "model calls",
            Self::Tokens => "tokens",
            Self::DurationSeconds => "s",
        }
    }
}

/// The value of one invocation, `None` when the telemetry does not tell.
#[allow(clippy::cast_precision_loss)]
pub fn value(q: Quantity, inv: &Invocation) -> Option<f64> {
    match q {
        Quantity::ToolCalls => Some(inv.tool_calls.len() as f64),
        Quantity::ModelCalls => inv.llm_calls.map(|n| n as f64),
        Quantity::Tokens => inv.tokens.map(|t| (t.input + t.output) as f64),
        Quantity::DurationSeconds => inv.duration_s,
    }
}
