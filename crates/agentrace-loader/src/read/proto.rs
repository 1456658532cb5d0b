//! OTLP protobuf: conversion from `opentelemetry_proto` messages into the model.
//!
//! The server hands gRPC requests (decoded by tonic) and OTLP/HTTP log requests to
//! [`from_trace_request`] and [`from_logs_request`]. OTLP/HTTP trace bodies and protobuf trace
//! files skip the messages: [`super::wire::decode_trace_request`] reads the bytes straight into
//! the model, with the same result.

use std::sync::Arc;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1 as pc;
use opentelemetry_proto::tonic::common::v1::any_value::Value as PValue;
use opentelemetry_proto::tonic::resource::v1::Resource as PResource;

use crate::model::{
    AnyValue, Attributes, KeyValue, Link, LogRecord, Resource, Scope, Span, SpanEvent, SpanId,
    SpanKind, Status, StatusCode, Telemetry, TraceId,
};

/// Why a protobuf span or log record was skipped.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConvertError {
    /// A trace id that is not 16 bytes (or 8, for 64-bit ids).
    #[error("{what}: trace id has {len} bytes")]
    TraceId {
        /// Which record.
        what: String,
        /// Its length.
        len: usize,
    },
    /// A span id that is not 8 bytes.
    #[error("{what}: span id has {len} bytes")]
    SpanId {
        /// Which record.
        what: String,
        /// Its length.
        len: usize,
    },
}

/// Values nested deeper than this become empty (also in `super::wire`).
pub(crate) const MAX_DEPTH: usize = 64;

fn any(v: pc::AnyValue, depth: usize) -> AnyValue {
    if depth > MAX_DEPTH {
        return AnyValue::Empty;
    }
    match v.value {
        None => AnyValue::Empty,
        Some(PValue::StringValue(s)) => AnyValue::String(s),
        Some(PValue::BoolValue(b)) => AnyValue::Bool(b),
        Some(PValue::IntValue(i)) => AnyValue::Int(i),
        Some(PValue::DoubleValue(d)) => AnyValue::Double(d),
        Some(PValue::BytesValue(b)) => AnyValue::Bytes(b),
        Some(PValue::ArrayValue(a)) => {
            AnyValue::Array(a.values.into_iter().map(|x| any(x, depth + 1)).collect())
        }
        Some(PValue::StringValueStrindex(i)) => AnyValue::Int(i64::from(i)),
        Some(PValue::KvlistValue(kv)) => AnyValue::KvList(
            kv.values
                .into_iter()
                .map(|k| {
                    KeyValue::new(
                        k.key,
                        k.value.map(|x| any(x, depth + 1)).unwrap_or_default(),
                    )
                })
                .collect(),
        ),
    }
}

fn attrs(kvs: Vec<pc::KeyValue>) -> Attributes {
    Attributes(
        kvs.into_iter()
            .map(|k| KeyValue::new(k.key, k.value.map(|x| any(x, 0)).unwrap_or_default()))
            .collect(),
    )
}

fn resource(r: Option<PResource>) -> Arc<Resource> {
    Arc::new(Resource {
        attributes: r.map(|r| attrs(r.attributes)).unwrap_or_default(),
    })
}

fn scope(s: Option<pc::InstrumentationScope>) -> Arc<Scope> {
    Arc::new(s.map_or_else(Scope::default, |s| Scope {
        name: s.name,
        version: s.version,
        attributes: attrs(s.attributes),
    }))
}

fn span_id_opt(b: &[u8], what: impl Fn() -> String) -> Result<Option<SpanId>, ConvertError> {
    if b.is_empty() {
        return Ok(None);
    }
    match SpanId::from_bytes(b) {
        Some(id) if id.is_zero() => Ok(None),
        Some(id) => Ok(Some(id)),
        None => Err(ConvertError::SpanId {
            what: what(),
            len: b.len(),
        }),
    }
}

/// A span's ids as OTLP/protobuf carries them, checked (the one rule for prost's messages and
/// for [`super::wire`]): a trace id of 16 bytes (or 8), a span id of 8 bytes that is not all
/// zero, and a parent that is absent when empty or all zero. `what` names the span in the error.
pub(crate) fn span_ids(
    trace: &[u8],
    span: &[u8],
    parent: &[u8],
    what: impl Fn() -> String,
) -> Result<(TraceId, SpanId, Option<SpanId>), ConvertError> {
    let Some(trace_id) = TraceId::from_bytes(trace) else {
        return Err(ConvertError::TraceId {
            what: what(),
            len: trace.len(),
        });
    };
    let span_id = match span_id_opt(span, &what)? {
        Some(id) => id,
        None => {
            return Err(ConvertError::SpanId {
                what: what(),
                len: 0,
            });
        }
    };
    Ok((trace_id, span_id, span_id_opt(parent, &what)?))
}

/// A link, or `None` (the link is dropped) when its ids are malformed.
pub(crate) fn link(trace: &[u8], span: &[u8], attributes: Attributes) -> Option<Link> {
    Some(Link {
        trace_id: TraceId::from_bytes(trace)?,
        span_id: SpanId::from_bytes(span)?,
        attributes,
    })
}

/// Converts an OTLP trace export request into spans (taking its strings, not copying them).
/// Spans with malformed ids are skipped and returned as errors next to the spans that converted.
pub fn from_trace_request(req: ExportTraceServiceRequest) -> (Vec<Span>, Vec<ConvertError>) {
    let mut spans = Vec::new();
    let mut errors = Vec::new();
    for (i, rs) in req.resource_spans.into_iter().enumerate() {
        let res = resource(rs.resource);
        for (j, ss) in rs.scope_spans.into_iter().enumerate() {
            let sc = scope(ss.scope);
            spans.reserve(ss.spans.len());
            for (k, s) in ss.spans.into_iter().enumerate() {
                let what = || format!("resource_spans[{i}].scope_spans[{j}].spans[{k}]");
                let (trace_id, span_id, parent_span_id) =
                    match span_ids(&s.trace_id, &s.span_id, &s.parent_span_id, what) {
                        Ok(ids) => ids,
                        Err(e) => {
                            errors.push(e);
                            continue;
                        }
                    };
                spans.push(Span {
                    trace_id,
                    span_id,
                    parent_span_id,
                    name: s.name,
                    kind: SpanKind::from_i64(i64::from(s.kind)),
                    start_ns: s.start_time_unix_nano,
                    end_ns: s.end_time_unix_nano,
                    attributes: attrs(s.attributes),
                    events: s
                        .events
                        .into_iter()
                        .map(|e| SpanEvent {
                            time_ns: e.time_unix_nano,
                            name: e.name,
                            attributes: attrs(e.attributes),
                        })
                        .collect(),
                    links: s
                        .links
                        .into_iter()
                        .filter_map(|l| link(&l.trace_id, &l.span_id, attrs(l.attributes)))
                        .collect(),
                    status: s
                        .status
                        .map(|st| Status {
                            code: StatusCode::from_i64(i64::from(st.code)),
                            message: st.message,
                        })
                        .unwrap_or_default(),
                    resource: Arc::clone(&res),
                    scope: Arc::clone(&sc),
                });
            }
        }
    }
    (spans, errors)
}

/// Converts an OTLP logs export request into log records (taking its strings). Records with
/// malformed ids are skipped and returned as errors.
pub fn from_logs_request(req: ExportLogsServiceRequest) -> (Vec<LogRecord>, Vec<ConvertError>) {
    let mut logs = Vec::new();
    let mut errors = Vec::new();
    for (i, rl) in req.resource_logs.into_iter().enumerate() {
        let res = resource(rl.resource);
        for (j, sl) in rl.scope_logs.into_iter().enumerate() {
            let sc = scope(sl.scope);
            for (k, l) in sl.log_records.into_iter().enumerate() {
                let what = || format!("resource_logs[{i}].scope_logs[{j}].log_records[{k}]");
                let trace_id = if l.trace_id.is_empty() {
                    None
                } else {
                    match TraceId::from_bytes(&l.trace_id) {
                        Some(t) if t.is_zero() => None,
                        Some(t) => Some(t),
                        None => {
                            errors.push(ConvertError::TraceId {
                                what: what(),
                                len: l.trace_id.len(),
                            });
                            continue;
                        }
                    }
                };
                let span_id = match span_id_opt(&l.span_id, what) {
                    Ok(s) => s,
                    Err(e) => {
                        errors.push(e);
                        continue;
                    }
                };
                logs.push(LogRecord {
                    time_ns: l.time_unix_nano,
                    observed_time_ns: l.observed_time_unix_nano,
                    severity_number: l.severity_number,
                    severity_text: l.severity_text,
                    event_name: l.event_name,
                    body: l.body.map(|b| any(b, 0)).unwrap_or_default(),
                    attributes: attrs(l.attributes),
                    trace_id,
                    span_id,
                    resource: Arc::clone(&res),
                    scope: Arc::clone(&sc),
                });
            }
        }
    }
    (logs, errors)
}

/// Decodes a protobuf file: an `ExportTraceServiceRequest` (same bytes as `TracesData`), else an
/// `ExportLogsServiceRequest`.
pub(crate) fn decode_file(
    bytes: &[u8],
) -> Result<(Telemetry, Vec<ConvertError>), Box<dyn std::error::Error + Send + Sync>> {
    use prost::Message as _;
    let trace_err = match super::wire::decode_traces(bytes) {
        Ok(traces) => {
            if !traces.spans.is_empty() || traces.resource_spans == 0 {
                return Ok((
                    Telemetry {
                        spans: traces.spans,
                        logs: Vec::new(),
                    },
                    traces.errors,
                ));
            }
            None
        }
        Err(e) => Some(e),
    };
    let logs = match ExportLogsServiceRequest::decode(bytes) {
        Ok(l) => l,
        Err(e) => {
            return Err(trace_err.map_or_else(|| e.into(), Into::into));
        }
    };
    let (logs, errors) = from_logs_request(logs);
    Ok((
        Telemetry {
            spans: Vec::new(),
            logs,
        },
        errors,
    ))
}
