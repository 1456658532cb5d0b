//! Thin adapters from the semconv vocabulary to the `opentelemetry` API types.

use agentrace_semconv::OperationName;
use agentrace_semconv::span as semspan;
use opentelemetry::trace::SpanKind;

pub(crate) use agentrace_semconv::CaptureSettings;
pub(crate) use agentrace_semconv::metric::{
    CLIENT_OPERATION_DURATION as METRIC_OPERATION_DURATION,
    CLIENT_OPERATION_TIME_PER_OUTPUT_CHUNK as METRIC_TIME_PER_OUTPUT_CHUNK,
    CLIENT_OPERATION_TIME_TO_FIRST_CHUNK as METRIC_TIME_TO_FIRST_CHUNK,
    CLIENT_TOKEN_USAGE as METRIC_TOKEN_USAGE, UNIT_SECONDS, UNIT_TOKEN,
};

/// The `'static` string of a known value of an open enum (no allocation per span), or an owned
/// copy for an `Other` value.
pub(crate) fn static_value<T: PartialEq>(
    known: &'static [T],
    value: &T,
    as_str: fn(&'static T) -> &'static str,
    owned: impl FnOnce() -> String,
) -> opentelemetry::StringValue {
    match known.iter().find(|k| *k == value) {
        Some(k) => as_str(k).into(),
        None => owned().into(),
    }
}

/// The operation name as an attribute value.
pub(crate) fn operation_value(op: &OperationName) -> opentelemetry::StringValue {
    static_value(
        OperationName::KNOWN,
        op,
        |k| k.as_str(),
        || op.as_str().to_owned(),
    )
}

/// Whether the operation is a model call (inference or embeddings): the client metrics apply.
pub(crate) fn is_model_call(op: &OperationName) -> bool {
    op.is_inference() || *op == OperationName::Embeddings
}

pub(crate) fn default_kind(op: &OperationName) -> SpanKind {
    match semspan::span_kind(op) {
        semspan::SpanKind::Client => SpanKind::Client,
        semspan::SpanKind::Internal => SpanKind::Internal,
    }
}

pub(crate) fn span_name(op: &OperationName, subject: Option<&str>) -> String {
    semspan::span_name(op, subject)
}

pub(crate) fn token_buckets() -> Vec<f64> {
    agentrace_semconv::metric::TOKEN_USAGE_BUCKETS.to_vec()
}

pub(crate) fn duration_buckets() -> Vec<f64> {
    agentrace_semconv::metric::DURATION_BUCKETS.to_vec()
}

pub(crate) fn capture_from_env() -> CaptureSettings {
    CaptureSettings::from_env()
}
