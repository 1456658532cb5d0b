//! OTLP/HTTP receivers: `POST /v1/traces`, `/v1/logs` and `/v1/metrics`, protobuf or JSON,
//! identity or gzip, as the OTLP specification says.
//!
//! | situation | answer |
//! |---|---|
//! | accepted | 200 with an `Export*ServiceResponse` in the request's encoding; `partialSuccess` set only when items were rejected, with the count and the reasons |
//! | Content-Type other than protobuf or JSON (missing means JSON) | 415 |
//! | Content-Encoding other than gzip or identity | 415 |
//! | body or decompressed body over the limit | 413 |
//! | undecodable protobuf, JSON or gzip | 400 |
//! | a configured capacity is reached (sessions), or every ingest worker is busy and the queue is full ([`crate::workers`]) | 503 with `Retry-After` |
//!
//! Error bodies are `google.rpc.Status` (`{"code": 3, "message": "..."}`) in the request's
//! encoding. Metrics are accepted and counted, not stored.

use std::sync::Arc;

use agentrace_loader::{
    model::Telemetry,
    read::{
        Format, LoadOptions, load_bytes,
        proto::{ConvertError, from_logs_request},
        wire::decode_trace_request,
    },
};
use axum::{
    body::Bytes,
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use opentelemetry_proto::tonic::collector::{
    logs::v1::{ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse},
    metrics::v1::{ExportMetricsServiceRequest, ExportMetricsServiceResponse},
    trace::v1::{ExportTracePartialSuccess, ExportTraceServiceResponse},
};
use prost::Message;
use serde_json::json;

use crate::{
    AppState,
    body::{Encoding, decode_body},
    error::ApiError,
    ingest::{Ingest, IngestError},
    workers::WorkError,
};

/// Which signal a request carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Signal {
    Traces,
    Logs,
    Metrics,
}

/// `POST /v1/traces`.
pub async fn traces(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    export(state, headers, body, Signal::Traces).await
}

/// `POST /v1/logs`.
pub async fn logs(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    export(state, headers, body, Signal::Logs).await
}

/// `POST /v1/metrics`: accepted and decoded (so bad data is still a 400), not stored.
pub async fn metrics(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    export(state, headers, body, Signal::Metrics).await
}

async fn export(state: AppState, headers: HeaderMap, body: Bytes, signal: Signal) -> Response {
    let encoding = match Encoding::from_headers(&headers) {
        Ok(e) => e,
        Err(err) => return status_error(Encoding::Json, &err),
    };
    let limit = state.config.limits.max_decompressed_bytes;
    let ingest = Arc::clone(&state.ingest);
    let work = state.workers.run(move || {
        let raw = decode_body(&headers, &body, limit)?;
        handle(&ingest, &raw, encoding, signal)
    });
    match work.await {
        Ok(Ok(response)) => response,
        Ok(Err(err)) => status_error(encoding, &err),
        Err(err @ WorkError::Overloaded { .. }) => {
            status_error(encoding, &ApiError::Unavailable(err.to_string()))
        }
        Err(err @ WorkError::Failed(_)) => {
            status_error(encoding, &ApiError::Internal(err.to_string()))
        }
    }
}

/// Decodes a traces or logs body into the model. Protobuf traces are read straight into the model
/// by the loader's wire decoder (the same result as `opentelemetry_proto` plus the conversion,
/// without the intermediate messages), protobuf logs through `opentelemetry_proto`; JSON through the loader's OTLP/JSON reader, the same one trace files use, so protobuf field
/// names, enum names and flat attributes are accepted here too. Items that cannot be read come
/// back as reasons, to be reported through partial success.
fn decode_telemetry(
    raw: &[u8],
    encoding: Encoding,
    signal: Signal,
) -> Result<(Telemetry, Vec<String>), ApiError> {
    let reasons = |errors: Vec<ConvertError>| errors.iter().map(ToString::to_string).collect();
    match (encoding, signal) {
        (Encoding::Protobuf, Signal::Logs) => {
            let request = ExportLogsServiceRequest::decode(raw).map_err(bad_protobuf)?;
            let (logs, errors) = from_logs_request(request);
            Ok((
                Telemetry {
                    spans: Vec::new(),
                    logs,
                },
                reasons(errors),
            ))
        }
        (Encoding::Protobuf, _) => {
            let (spans, errors) = decode_trace_request(raw)
                .map_err(|err| ApiError::BadRequest(format!("invalid OTLP protobuf: {err}")))?;
            Ok((
                Telemetry {
                    spans,
                    logs: Vec::new(),
                },
                reasons(errors),
            ))
        }
        (Encoding::Json, _) if raw.iter().all(u8::is_ascii_whitespace) => {
            Ok((Telemetry::default(), Vec::new()))
        }
        (Encoding::Json, _) => {
            let options = LoadOptions {
                format: Some(Format::OtlpJson),
            };
            let loaded = load_bytes(raw, options)
                .map_err(|err| ApiError::BadRequest(format!("invalid OTLP JSON: {err}")))?;
            let issues = loaded.issues.iter().map(ToString::to_string).collect();
            Ok((loaded.telemetry, issues))
        }
    }
}

fn bad_protobuf(err: prost::DecodeError) -> ApiError {
    ApiError::BadRequest(format!("invalid OTLP protobuf: {err}"))
}

fn handle(
    ingest: &Ingest,
    raw: &[u8],
    encoding: Encoding,
    signal: Signal,
) -> Result<Response, ApiError> {
    if signal == Signal::Metrics {
        // Accepted and validated, not stored.
        let _request: ExportMetricsServiceRequest = decode(raw, encoding)?;
        let response = ExportMetricsServiceResponse {
            partial_success: None,
        };
        return Ok(encode(&response, encoding));
    }
    // Counted on the wire first: a small body of many empty items is refused before it is
    // decoded into as many items.
    if encoding == Encoding::Protobuf
        && let Some(items) = crate::body::count_otlp_items(raw)
    {
        ingest.check_items(items).map_err(ApiError::TooLarge)?;
    }
    let (Telemetry { spans, logs }, mut reasons) = decode_telemetry(raw, encoding, signal)?;
    ingest
        .check_items((spans.len() + logs.len()) as u64)
        .map_err(ApiError::TooLarge)?;
    if signal == Signal::Traces {
        // Log records in a traces body are refused with a reason rather than dropped unseen.
        reasons.extend(
            logs.iter()
                .map(|_| "a log record in a /v1/traces body: send it to /v1/logs".to_owned()),
        );
        let outcome = ingest.spans(spans, &reasons).map_err(ingest_error)?;
        let response = ExportTraceServiceResponse {
            partial_success: (outcome.rejected > 0).then(|| ExportTracePartialSuccess {
                rejected_spans: outcome.rejected as i64,
                error_message: outcome.error_message(),
            }),
        };
        Ok(encode(&response, encoding))
    } else {
        reasons.extend(
            spans
                .iter()
                .map(|_| "a span in a /v1/logs body: send it to /v1/traces".to_owned()),
        );
        let outcome = ingest.logs(logs, &reasons).map_err(ingest_error)?;
        let response = ExportLogsServiceResponse {
            partial_success: (outcome.rejected > 0).then(|| ExportLogsPartialSuccess {
                rejected_log_records: outcome.rejected as i64,
                error_message: outcome.error_message(),
            }),
        };
        Ok(encode(&response, encoding))
    }
}

/// Maps an ingest failure to the API error the producer sees.
pub fn ingest_error(err: IngestError) -> ApiError {
    match err {
        IngestError::Unavailable(msg) => ApiError::Unavailable(msg),
        IngestError::Store(err) => err.into(),
    }
}

fn decode<T>(raw: &[u8], encoding: Encoding) -> Result<T, ApiError>
where
    T: Message + Default + serde::de::DeserializeOwned,
{
    match encoding {
        Encoding::Protobuf => T::decode(raw)
            .map_err(|err| ApiError::BadRequest(format!("invalid OTLP protobuf: {err}"))),
        Encoding::Json => {
            if raw.iter().all(u8::is_ascii_whitespace) {
                return Ok(T::default());
            }
            serde_json::from_slice(raw)
                .map_err(|err| ApiError::BadRequest(format!("invalid OTLP JSON: {err}")))
        }
    }
}

fn encode<T>(message: &T, encoding: Encoding) -> Response
where
    T: Message + serde::Serialize,
{
    let body = match encoding {
        Encoding::Protobuf => message.encode_to_vec(),
        Encoding::Json => serde_json::to_vec(message).unwrap_or_else(|_| b"{}".to_vec()),
    };
    let mut response = (StatusCode::OK, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(encoding.content_type()),
    );
    response
}

/// An OTLP error: the HTTP status of `err` with a `google.rpc.Status` body.
pub fn status_error(encoding: Encoding, err: &ApiError) -> Response {
    if let ApiError::Internal(detail) = err {
        tracing::error!(%detail, "internal error during OTLP export");
    }
    let status = err.status();
    // google.rpc.Code: 3 INVALID_ARGUMENT, 8 RESOURCE_EXHAUSTED, 14 UNAVAILABLE, 16 UNAUTHENTICATED, 13 INTERNAL.
    let code: i32 = match err {
        ApiError::Unauthorized => 16,
        ApiError::Unavailable(_) => 14,
        ApiError::TooLarge(_) => 8,
        ApiError::Internal(_) => 13,
        _ => 3,
    };
    let message = err.public_message();
    let body = match encoding {
        Encoding::Protobuf => RpcStatus {
            code,
            message,
            details: Vec::new(),
        }
        .encode_to_vec(),
        Encoding::Json => json!({ "code": code, "message": message })
            .to_string()
            .into_bytes(),
    };
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(encoding.content_type()),
    );
    if status == StatusCode::SERVICE_UNAVAILABLE || status == StatusCode::TOO_MANY_REQUESTS {
        headers.insert(
            header::RETRY_AFTER,
            HeaderValue::from(ApiError::RETRY_AFTER_SECS),
        );
    }
    response
}

/// `google.rpc.Status`, the body of OTLP/HTTP errors.
#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
    #[prost(bytes = "vec", repeated, tag = "3")]
    details: Vec<Vec<u8>>,
}
