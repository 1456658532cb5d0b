//! The OTLP transport: opentelemetry-otlp's span and log exporters (HTTP protobuf or gRPC), to
//! `agentrace serve` or any OTLP endpoint, with the pipeline's retry and backoff around them.

use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use opentelemetry::InstrumentationScope;
use opentelemetry_otlp::{LogExporter, SpanExporter, WithExportConfig};
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
    /// OTLP/gRPC to `<endpoint>`.
    Grpc,
}

/// A batch for OTLP: the spans and the log records, kept for retries.
#[derive(Debug)]
pub struct OtlpBatch {
    spans: Vec<SpanData>,
    logs: Vec<(SdkLogRecord, InstrumentationScope)>,
    spans_done: bool,
}

/// The OTLP transport ([`Transport`]).
#[derive(Debug)]
pub struct OtlpTransport {
    spans: SpanExporter,
    logs: LogExporter,
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
        let err = |e: opentelemetry_otlp::ExporterBuildError| StartError::Transport(e.to_string());
        let (spans, logs) = match protocol {
            OtlpProtocol::HttpProtobuf => (
                SpanExporter::builder()
                    .with_http()
                    .with_endpoint(format!("{base}/v1/traces"))
                    .with_timeout(timeout)
                    .build()
                    .map_err(err)?,
                LogExporter::builder()
                    .with_http()
                    .with_endpoint(format!("{base}/v1/logs"))
                    .with_timeout(timeout)
                    .build()
                    .map_err(err)?,
            ),
            OtlpProtocol::Grpc => (
                SpanExporter::builder()
                    .with_tonic()
                    .with_endpoint(base)
                    .with_timeout(timeout)
                    .build()
                    .map_err(err)?,
                LogExporter::builder()
                    .with_tonic()
                    .with_endpoint(base)
                    .with_timeout(timeout)
                    .build()
                    .map_err(err)?,
            ),
        };
        Ok(Self { spans, logs })
    }
}

impl Transport for OtlpTransport {
    type Batch = std::sync::Mutex<OtlpBatch>;

    fn set_resource(&mut self, resource: &Resource) {
        self.spans.set_resource(resource);
        self.logs.set_resource(resource);
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
            if !spans_done && !spans.is_empty() {
                self.spans
                    .export(spans)
                    .await
                    .map_err(|e| TransportError::Unreachable(e.to_string()))?;
            }
            if let Ok(mut b) = batch.lock() {
                b.spans_done = true;
            }
            if !logs.is_empty() {
                let refs: Vec<(&SdkLogRecord, &InstrumentationScope)> =
                    logs.iter().map(|(r, s)| (r, s)).collect();
                self.logs
                    .export(LogBatch::new(&refs))
                    .await
                    .map_err(|e| TransportError::Unreachable(e.to_string()))?;
            }
            Ok(())
        })
    }

    fn finish(&mut self, _deadline: Instant) -> BoxFuture<'_, Result<Finish, TransportError>> {
        Box::pin(async move {
            let _ = self.spans.shutdown();
            let _ = self.logs.shutdown();
            Ok(Finish { invocations: None })
        })
    }
}
