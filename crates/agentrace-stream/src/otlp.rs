//! The OTLP transport: opentelemetry-otlp's span and log exporters (HTTP protobuf or gRPC), to
//! `agentrace serve` or any OTLP endpoint, with the pipeline's retry and backoff around them.

use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use opentelemetry::InstrumentationScope;
use opentelemetry_otlp::{LogExporter, SpanExporter, WithExportConfig, WithTonicConfig};
use opentelemetry_sdk::{
    Resource,
    logs::{LogBatch, LogExporter as _, SdkLogRecord},
    trace::{SpanData, SpanExporter as _},
};

use crate::{
    pipeline::StartError,
    transport::{Finish, Record, Transport, TransportError},
};

/// The OTLP protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtlpProtocol {
    /// OTLP/HTTP with protobuf bodies, to `<endpoint>/v1/traces` and `<endpoint>/v1/logs`.
    HttpProtobuf,
    /// OTLP/gRPC to `<endpoint>`, gzip-compressed (and accepting gzip replies).
    Grpc,
}

/// A batch for OTLP: the spans and the log records, kept for retries.
#[derive(Debug)]
pub struct OtlpBatch {
    spans: Vec<SpanData>,
    logs: Vec<(SdkLogRecord, InstrumentationScope)>,
    spans_done: bool,
}

/// The OTLP transport ([`Transport`]). The gRPC exporters are built on the first send, on the
/// pipeline's worker runtime: tonic's channel starts tasks on the runtime it is built on, and the
/// application that starts a session need not run one (`session_blocking`).
#[derive(Debug)]
pub struct OtlpTransport {
    endpoint: String,
    protocol: OtlpProtocol,
    timeout: Duration,
    resource: Option<Resource>,
    exporters: Option<(SpanExporter, LogExporter)>,
}

impl OtlpTransport {
    /// Exporters for `endpoint` (`http://host:port`; for HTTP, the paths `/v1/traces` and
    /// `/v1/logs` are appended), each request limited to `timeout`.
    pub fn new(
        endpoint: &str,
        protocol: OtlpProtocol,
        timeout: Duration,
    ) -> Result<Self, StartError> {
        let base = endpoint.trim_end_matches('/');
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(StartError::Transport(format!(
                "an OTLP endpoint is an http:// or https:// address, not `{endpoint}`"
            )));
        }
        let mut transport = Self {
            endpoint: base.to_owned(),
            protocol,
            timeout,
            resource: None,
            exporters: None,
        };
        if protocol == OtlpProtocol::HttpProtobuf {
            transport.exporters = Some(
                transport
                    .build()
                    .map_err(|e| StartError::Transport(e.to_string()))?,
            );
        }
        Ok(transport)
    }

    fn build(&self) -> Result<(SpanExporter, LogExporter), opentelemetry_otlp::ExporterBuildError> {
        let base = &self.endpoint;
        let timeout = self.timeout;
        let (mut spans, mut logs) = match self.protocol {
            OtlpProtocol::HttpProtobuf => (
                SpanExporter::builder()
                    .with_http()
                    .with_endpoint(format!("{base}/v1/traces"))
                    .with_timeout(timeout)
                    .build()?,
                LogExporter::builder()
                    .with_http()
                    .with_endpoint(format!("{base}/v1/logs"))
                    .with_timeout(timeout)
                    .build()?,
            ),
            // gzip both ways: some receivers (agentevals' among them) compress every reply,
            // which a client without gzip takes as `UNIMPLEMENTED`.
            OtlpProtocol::Grpc => (
                SpanExporter::builder()
                    .with_tonic()
                    .with_endpoint(base)
                    .with_timeout(timeout)
                    .with_compression(opentelemetry_otlp::Compression::Gzip)
                    .build()?,
                LogExporter::builder()
                    .with_tonic()
                    .with_endpoint(base)
                    .with_timeout(timeout)
                    .with_compression(opentelemetry_otlp::Compression::Gzip)
                    .build()?,
            ),
        };
        if let Some(resource) = &self.resource {
            spans.set_resource(resource);
            logs.set_resource(resource);
        }
        Ok((spans, logs))
    }

    /// The exporters, built now if they were not (on the worker's runtime).
    fn exporters(&mut self) -> Result<&mut (SpanExporter, LogExporter), TransportError> {
        if self.exporters.is_none() {
            let built = self
                .build()
                .map_err(|e| TransportError::Rejected(format!("OTLP exporter: {e}")))?;
            self.exporters = Some(built);
        }
        self.exporters
            .as_mut()
            .ok_or_else(|| TransportError::Rejected("OTLP exporter not built".into()))
    }
}

impl Transport for OtlpTransport {
    type Batch = std::sync::Mutex<OtlpBatch>;

    fn set_resource(&mut self, resource: &Resource) {
        self.resource = Some(resource.clone());
        if let Some((spans, logs)) = &mut self.exporters {
            spans.set_resource(resource);
            logs.set_resource(resource);
        }
    }

    fn encode(&mut self, records: Vec<Record>) -> Self::Batch {
        let mut batch = OtlpBatch {
            spans: Vec::new(),
            logs: Vec::new(),
            spans_done: false,
        };
        for record in records {
            match record {
                Record::Span(span) => batch.spans.push(span),
                Record::Log(log) => batch.logs.push(*log),
            }
        }
        std::sync::Mutex::new(batch)
    }

    fn len(batch: &Self::Batch) -> usize {
        batch
            .lock()
            .map(|b| b.spans.len() + b.logs.len())
            .unwrap_or(0)
    }

    fn send<'a>(&'a mut self, batch: &'a Self::Batch) -> BoxFuture<'a, Result<(), TransportError>> {
        Box::pin(async move {
            let (spans, logs, spans_done) = match batch.lock() {
                Ok(b) => (
                    if b.spans_done {
                        Vec::new()
                    } else {
                        b.spans.clone()
                    },
                    b.logs.clone(),
                    b.spans_done,
                ),
                Err(_) => return Err(TransportError::Rejected("batch poisoned".into())),
            };
            let (span_exporter, log_exporter) = self.exporters()?;
            if !spans_done && !spans.is_empty() {
                span_exporter
                    .export(spans)
                    .await
                    .map_err(|e| classify(e.to_string()))?;
            }
            if let Ok(mut b) = batch.lock() {
                b.spans_done = true;
            }
            if !logs.is_empty() {
                let refs: Vec<(&SdkLogRecord, &InstrumentationScope)> =
                    logs.iter().map(|(r, s)| (r, s)).collect();
                log_exporter
                    .export(LogBatch::new(&refs))
                    .await
                    .map_err(|e| classify(e.to_string()))?;
            }
            Ok(())
        })
    }

    fn finish(&mut self, _deadline: Instant) -> BoxFuture<'_, Result<Finish, TransportError>> {
        Box::pin(async move {
            if let Some((spans, logs)) = &mut self.exporters {
                let _ = spans.shutdown();
                let _ = logs.shutdown();
            }
            Ok(Finish { invocations: None })
        })
    }
}

/// gRPC codes the OTLP specification says to retry; every other code is a refusal for good.
const RETRYABLE_GRPC: [&str; 7] = [
    "Cancelled",
    "DeadlineExceeded",
    "ResourceExhausted",
    "Aborted",
    "OutOfRange",
    "Unavailable",
    "DataLoss",
];

/// An exporter's error as the pipeline takes it: a refusal for good (a gRPC code outside
/// [`RETRYABLE_GRPC`], an HTTP status other than 429, 502, 503 and 504) is
/// [`TransportError::Rejected`], counted and not sent again; anything else (no answer, a
/// retryable status) is [`TransportError::Unreachable`], sent again with backoff.
fn classify(message: String) -> TransportError {
    let word_after = |marker: &str| {
        message.split_once(marker).map(|(_, rest)| {
            rest.trim_start()
                .split(|c: char| !c.is_ascii_alphanumeric())
                .next()
                .unwrap_or_default()
                .to_owned()
        })
    };
    if let Some(code) = word_after("gRPC code:") {
        return if RETRYABLE_GRPC.contains(&code.as_str()) {
            TransportError::Unreachable(message)
        } else {
            TransportError::Rejected(message)
        };
    }
    if let Some(status) = word_after("status code:").and_then(|s| s.parse::<u16>().ok()) {
        return if matches!(status, 429 | 502 | 503 | 504) {
            TransportError::Unreachable(message)
        } else {
            TransportError::Rejected(message)
        };
    }
    TransportError::Unreachable(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_for_good_are_not_retried() {
        let rejected = |m: &str| matches!(classify(m.to_owned()), TransportError::Rejected(_));
        assert!(rejected(
            "TonicTracesClient export failed with gRPC code: Unimplemented"
        ));
        assert!(rejected(
            "TonicLogsClient export failed with gRPC code: InvalidArgument"
        ));
        assert!(rejected("HTTP export failed with status code: 400"));
        assert!(rejected("HTTP export failed with status code: 413"));
        assert!(!rejected(
            "TonicTracesClient export failed with gRPC code: Unavailable"
        ));
        assert!(!rejected("HTTP export failed with status code: 503"));
        assert!(!rejected("HTTP export failed with status code: 429"));
        assert!(!rejected("error sending request: connection refused"));
    }
}
