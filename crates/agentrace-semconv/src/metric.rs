//! Metric names, units, instrument kinds and the exact histogram bucket boundaries.
//!
//! [`METRICS`] lists every GenAI metric of the conventions as a [`MetricSpec`]; the bucket
//! boundaries are the `ExplicitBucketBoundaries` advice of the spec, to pass to the histogram
//! builder (`.with_boundaries(metric::DURATION_BUCKETS.to_vec())`).
//!
//! ```
//! use agentrace_semconv::metric::{self, InstrumentKind};
//!
//! let spec = metric::spec(metric::CLIENT_TOKEN_USAGE).expect("a known metric");
//! assert_eq!(spec.unit, "{token}");
//! assert_eq!(spec.instrument, InstrumentKind::Histogram);
//! assert_eq!(spec.boundaries.first(), Some(&1.0));
//! ```

use crate::attr;

/// `gen_ai.client.token.usage`: number of input and output tokens used (int histogram, `{token}`).
pub const CLIENT_TOKEN_USAGE: &str = "gen_ai.client.token.usage";
/// `gen_ai.client.operation.duration`: GenAI operation duration (histogram, `s`).
pub const CLIENT_OPERATION_DURATION: &str = "gen_ai.client.operation.duration";
/// `gen_ai.client.operation.time_to_first_chunk`: time to the first chunk of a stream (`s`).
pub const CLIENT_OPERATION_TIME_TO_FIRST_CHUNK: &str =
    "gen_ai.client.operation.time_to_first_chunk";
/// `gen_ai.client.operation.time_per_output_chunk`: time per output chunk after the first (`s`).
pub const CLIENT_OPERATION_TIME_PER_OUTPUT_CHUNK: &str =
    "gen_ai.client.operation.time_per_output_chunk";
/// `gen_ai.server.request.duration`: server request duration (`s`).
pub const SERVER_REQUEST_DURATION: &str = "gen_ai.server.request.duration";
/// `gen_ai.server.time_per_output_token`: time per output token after the first (`s`).
pub const SERVER_TIME_PER_OUTPUT_TOKEN: &str = "gen_ai.server.time_per_output_token";
/// `gen_ai.server.time_to_first_token`: time to generate the first token (`s`).
pub const SERVER_TIME_TO_FIRST_TOKEN: &str = "gen_ai.server.time_to_first_token";

/// `gen_ai.workflow.duration` (post-move, `s`). Not in [`METRICS`]: the spec gives no buckets yet.
pub const WORKFLOW_DURATION: &str = "gen_ai.workflow.duration";
/// `gen_ai.invoke_agent.duration` (post-move, `s`). Not in [`METRICS`]: the spec gives no buckets yet.
pub const INVOKE_AGENT_DURATION: &str = "gen_ai.invoke_agent.duration";
/// `gen_ai.execute_tool.duration` (post-move, `s`). Not in [`METRICS`]: the spec gives no buckets yet.
pub const EXECUTE_TOOL_DURATION: &str = "gen_ai.execute_tool.duration";

/// Unit of token counts.
pub const UNIT_TOKEN: &str = "{token}";
/// Unit of durations: seconds.
pub const UNIT_SECONDS: &str = "s";

/// Bucket boundaries of `gen_ai.client.token.usage`: powers of 4 from 1 to 67108864.
pub const TOKEN_USAGE_BUCKETS: &[f64] = &[
    1.0, 4.0, 16.0, 64.0, 256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262144.0, 1048576.0, 4194304.0,
    16777216.0, 67108864.0,
];

/// Bucket boundaries of the client duration metrics and `gen_ai.server.request.duration`:
/// doubling from 0.01 s to 81.92 s.
pub const DURATION_BUCKETS: &[f64] = &[
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
];

/// Bucket boundaries of `gen_ai.server.time_per_output_token`.
pub const SERVER_TIME_PER_OUTPUT_TOKEN_BUCKETS: &[f64] = &[
    0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5,
];

/// Bucket boundaries of `gen_ai.server.time_to_first_token`.
pub const SERVER_TIME_TO_FIRST_TOKEN_BUCKETS: &[f64] = &[
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// The kind of instrument a metric is recorded with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InstrumentKind {
    /// A histogram (every GenAI metric of the current conventions).
    Histogram,
    /// A monotonic counter.
    Counter,
    /// An up-down counter.
    UpDownCounter,
    /// A gauge.
    Gauge,
}

/// The numeric type of the recorded values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValueType {
    /// Integers (`u64` histograms in opentelemetry-rust).
    Int,
    /// Floating point (`f64`).
    Double,
}

/// Everything the conventions say about one metric.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MetricSpec {
    /// The metric name.
    pub name: &'static str,
    /// The brief description, usable as the instrument description.
    pub description: &'static str,
    /// The unit (UCUM).
    pub unit: &'static str,
    /// The instrument kind.
    pub instrument: InstrumentKind,
    /// The type of the recorded values.
    pub value_type: ValueType,
    /// The explicit bucket boundaries advised by the spec.
    pub boundaries: &'static [f64],
    /// Attributes that are required on every point.
    pub required_attributes: &'static [&'static str],
    /// Attributes that are conditionally required or recommended.
    pub optional_attributes: &'static [&'static str],
    /// Whether the metric is only recorded for streaming calls.
    pub streaming_only: bool,
}

const REQUIRED: &[&str] = &[attr::GEN_AI_OPERATION_NAME, attr::GEN_AI_PROVIDER_NAME];
const REQUIRED_TOKEN: &[&str] = &[
    attr::GEN_AI_OPERATION_NAME,
    attr::GEN_AI_PROVIDER_NAME,
    attr::GEN_AI_TOKEN_TYPE,
];
const OPTIONAL: &[&str] = &[
    attr::GEN_AI_REQUEST_MODEL,
    attr::GEN_AI_RESPONSE_MODEL,
    attr::SERVER_ADDRESS,
    attr::SERVER_PORT,
];
const OPTIONAL_WITH_ERROR: &[&str] = &[
    attr::GEN_AI_REQUEST_MODEL,
    attr::GEN_AI_RESPONSE_MODEL,
    attr::SERVER_ADDRESS,
    attr::SERVER_PORT,
    attr::ERROR_TYPE,
];

/// Every GenAI metric of the conventions.
pub const METRICS: &[MetricSpec] = &[
    MetricSpec {
        name: CLIENT_TOKEN_USAGE,
        description: "Number of input and output tokens used.",
        unit: UNIT_TOKEN,
        instrument: InstrumentKind::Histogram,
        value_type: ValueType::Int,
        boundaries: TOKEN_USAGE_BUCKETS,
        required_attributes: REQUIRED_TOKEN,
        optional_attributes: OPTIONAL,
        streaming_only: false,
    },
    MetricSpec {
        name: CLIENT_OPERATION_DURATION,
        description: "GenAI operation duration.",
        unit: UNIT_SECONDS,
        instrument: InstrumentKind::Histogram,
        value_type: ValueType::Double,
        boundaries: DURATION_BUCKETS,
        required_attributes: REQUIRED,
        optional_attributes: OPTIONAL_WITH_ERROR,
        streaming_only: false,
    },
    MetricSpec {
        name: CLIENT_OPERATION_TIME_TO_FIRST_CHUNK,
        description: "Time to receive the first chunk, measured from when the client issues the \
                      generation request to when the first chunk is received in the response stream.",
        unit: UNIT_SECONDS,
        instrument: InstrumentKind::Histogram,
        value_type: ValueType::Double,
        boundaries: DURATION_BUCKETS,
        required_attributes: REQUIRED,
        optional_attributes: OPTIONAL,
        streaming_only: true,
    },
    MetricSpec {
        name: CLIENT_OPERATION_TIME_PER_OUTPUT_CHUNK,
        description: "Time per output chunk, recorded for each chunk received after the first one, \
                      measured as the time elapsed from the end of the previous chunk to the end of \
                      the current chunk.",
        unit: UNIT_SECONDS,
        instrument: InstrumentKind::Histogram,
        value_type: ValueType::Double,
        boundaries: DURATION_BUCKETS,
        required_attributes: REQUIRED,
        optional_attributes: OPTIONAL,
        streaming_only: true,
    },
    MetricSpec {
        name: SERVER_REQUEST_DURATION,
        description: "Generative AI server request duration such as time-to-last byte or last \
                      output token.",
        unit: UNIT_SECONDS,
        instrument: InstrumentKind::Histogram,
        value_type: ValueType::Double,
        boundaries: DURATION_BUCKETS,
        required_attributes: REQUIRED,
        optional_attributes: OPTIONAL_WITH_ERROR,
        streaming_only: false,
    },
    MetricSpec {
        name: SERVER_TIME_PER_OUTPUT_TOKEN,
        description: "Time per output token generated after the first token for successful \
                      responses.",
        unit: UNIT_SECONDS,
        instrument: InstrumentKind::Histogram,
        value_type: ValueType::Double,
        boundaries: SERVER_TIME_PER_OUTPUT_TOKEN_BUCKETS,
        required_attributes: REQUIRED,
        optional_attributes: OPTIONAL,
        streaming_only: false,
    },
    MetricSpec {
        name: SERVER_TIME_TO_FIRST_TOKEN,
        description: "Time to generate first token for successful responses.",
        unit: UNIT_SECONDS,
        instrument: InstrumentKind::Histogram,
        value_type: ValueType::Double,
        boundaries: SERVER_TIME_TO_FIRST_TOKEN_BUCKETS,
        required_attributes: REQUIRED,
        optional_attributes: OPTIONAL,
        streaming_only: false,
    },
];

/// The spec of the metric called `name`, if it is one of [`METRICS`].
pub fn spec(name: &str) -> Option<&'static MetricSpec> {
    METRICS.iter().find(|spec| spec.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundaries_are_strictly_increasing() {
        for spec in METRICS {
            assert!(
                spec.boundaries.windows(2).all(|w| w[0] < w[1]),
                "{}",
                spec.name
            );
        }
        assert_eq!(TOKEN_USAGE_BUCKETS.len(), 14);
        assert_eq!(DURATION_BUCKETS.len(), 14);
        assert_eq!(SERVER_TIME_PER_OUTPUT_TOKEN_BUCKETS.len(), 13);
        assert_eq!(SERVER_TIME_TO_FIRST_TOKEN_BUCKETS.len(), 16);
    }
}
