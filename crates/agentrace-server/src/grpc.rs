//! OTLP/gRPC receivers (`opentelemetry.proto.collector.{trace,logs,metrics}.v1`), on their own
//! port. Same pipeline as OTLP/HTTP: rejected items come back as partial success, a reached
//! capacity as `UNAVAILABLE`, a missing token as `UNAUTHENTICATED`. gzip is accepted; messages are
//! bounded by the decompressed-size limit.

use std::sync::Arc;

use agentrace_loader::read::proto::{from_logs_request, from_trace_request};
use opentelemetry_proto::tonic::collector::{
    logs::v1::{
        ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
        logs_service_server::{LogsService, LogsServiceServer},
    },
    metrics::v1::{
        ExportMetricsServiceRequest, ExportMetricsServiceResponse,
        metrics_service_server::{MetricsService, MetricsServiceServer},
    },
    trace::v1::{
        ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
        trace_service_server::{TraceService, TraceServiceServer},
    },
};
use tonic::{Request, Response, Status, codec::CompressionEncoding};

use crate::{
    config::ServerConfig,
    ingest::{Ingest, IngestError},
};

/// The three OTLP services over one ingest pipeline.
#[derive(Debug, Clone)]
pub struct OtlpGrpc {
    ingest: Arc<Ingest>,
    token: Option<Arc<str>>,
}

impl OtlpGrpc {
    /// Services over `ingest`, checking `token` when set.
    pub fn new(ingest: Arc<Ingest>, token: Option<&str>) -> Self {
        Self {
            ingest,
            token: token.map(Arc::from),
        }
    }

    fn authorize<T>(&self, request: &Request<T>) -> Result<(), Status> {
        let Some(token) = &self.token else {
            return Ok(());
        };
        let given = request
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if given.is_some_and(|g| crate::auth::constant_time_eq(g.as_bytes(), token.as_bytes())) {
            Ok(())
        } else {
            Err(Status::unauthenticated("missing or invalid bearer token"))
        }
    }
}

fn to_status(err: IngestError) -> Status {
    match err {
        IngestError::Unavailable(msg) => Status::unavailable(msg),
        IngestError::Store(err) => {
            tracing::error!(%err, "store failure during gRPC export");
            Status::internal("internal server error")
        }
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, Status> + Send + 'static,
) -> Result<T, Status> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Status::internal(e.to_string()))?
}

#[tonic::async_trait]
impl TraceService for OtlpGrpc {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        self.authorize(&request)?;
        let ingest = Arc::clone(&self.ingest);
        let request = request.into_inner();
        let outcome = blocking(move || {
            let (spans, errors) = from_trace_request(request);
            let reasons: Vec<String> = errors.iter().map(ToString::to_string).collect();
            ingest.spans(spans, &reasons).map_err(to_status)
        })
        .await?;
        Ok(Response::new(ExportTraceServiceResponse {
            partial_success: (outcome.rejected > 0).then(|| ExportTracePartialSuccess {
                rejected_spans: outcome.rejected as i64,
                error_message: outcome.error_message(),
            }),
        }))
    }
}

#[tonic::async_trait]
impl LogsService for OtlpGrpc {
    async fn export(
        &self,
        request: Request<ExportLogsServiceRequest>,
    ) -> Result<Response<ExportLogsServiceResponse>, Status> {
        self.authorize(&request)?;
        let ingest = Arc::clone(&self.ingest);
        let request = request.into_inner();
        let outcome = blocking(move || {
            let (logs, errors) = from_logs_request(request);
            let reasons: Vec<String> = errors.iter().map(ToString::to_string).collect();
            ingest.logs(logs, &reasons).map_err(to_status)
        })
        .await?;
        Ok(Response::new(ExportLogsServiceResponse {
            partial_success: (outcome.rejected > 0).then(|| ExportLogsPartialSuccess {
                rejected_log_records: outcome.rejected as i64,
                error_message: outcome.error_message(),
            }),
        }))
    }
}

#[tonic::async_trait]
impl MetricsService for OtlpGrpc {
    async fn export(
        &self,
        request: Request<ExportMetricsServiceRequest>,
    ) -> Result<Response<ExportMetricsServiceResponse>, Status> {
        self.authorize(&request)?;
        Ok(Response::new(ExportMetricsServiceResponse {
            partial_success: None,
        }))
    }
}

/// The gRPC router with the three services, gzip and size limits from `config`.
pub fn router(ingest: Arc<Ingest>, config: &ServerConfig) -> tonic::transport::server::Router {
    let services = OtlpGrpc::new(ingest, config.auth_token.as_deref());
    let limit = config.limits.max_decompressed_bytes;
    tonic::transport::Server::builder()
        .concurrency_limit_per_connection(config.limits.grpc_concurrency)
        .add_service(
            TraceServiceServer::new(services.clone())
                .accept_compressed(CompressionEncoding::Gzip)
                .max_decoding_message_size(limit),
        )
        .add_service(
            LogsServiceServer::new(services.clone())
                .accept_compressed(CompressionEncoding::Gzip)
                .max_decoding_message_size(limit),
        )
        .add_service(
            MetricsServiceServer::new(services)
                .accept_compressed(CompressionEncoding::Gzip)
                .max_decoding_message_size(limit),
        )
}
