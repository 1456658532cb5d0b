//! OTLP/gRPC receivers (`opentelemetry.proto.collector.{trace,logs,metrics}.v1`), on their own
//! port. Same pipeline as OTLP/HTTP: rejected items come back as partial success, a reached
//! capacity as `UNAVAILABLE`, a missing token as `UNAUTHENTICATED`. gzip is accepted; messages are
//! bounded by the decompressed-size limit. Trace requests reach the blocking pool as bytes and are
//! decoded there by the loader's wire decoder, as OTLP/HTTP bodies are (an undecodable one is
//! `INVALID_ARGUMENT`); logs and metrics go through tonic's generated services.

use std::sync::Arc;

use agentrace_loader::read::{proto::from_logs_request, wire::decode_trace_request};
use bytes::Bytes;
use opentelemetry_proto::tonic::collector::{
    logs::v1::{
        ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
        logs_service_server::{LogsService, LogsServiceServer},
    },
    metrics::v1::{
        ExportMetricsServiceRequest, ExportMetricsServiceResponse,
        metrics_service_server::{MetricsService, MetricsServiceServer},
    },
    trace::v1::{ExportTracePartialSuccess, ExportTraceServiceResponse},
};
use prost::Message as _;
use tonic::{
    Request, Response, Status,
    codec::{CompressionEncoding, DecodeBuf, Decoder, EncodeBuf, Encoder},
    codegen::{Body, BoxFuture, Context, Poll, Service, StdError, http},
    server::{NamedService, UnaryService},
};

use crate::{
    config::ServerConfig,
    ingest::{Ingest, IngestError},
    workers::{WorkError, Workers},
};

/// The three OTLP services over one ingest pipeline.
#[derive(Debug, Clone)]
pub struct OtlpGrpc {
    ingest: Arc<Ingest>,
    workers: Arc<Workers>,
    token: Option<Arc<str>>,
}

impl OtlpGrpc {
    /// Services over `ingest`, run on `workers`, checking `token` when set.
    pub fn new(ingest: Arc<Ingest>, workers: Arc<Workers>, token: Option<&str>) -> Self {
        Self {
            ingest,
            workers,
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

/// Runs `f` on an ingest worker; an overloaded server answers `UNAVAILABLE`, which exporters
/// retry.
async fn blocking<T: Send + 'static>(
    workers: &Workers,
    f: impl FnOnce() -> Result<T, Status> + Send + 'static,
) -> Result<T, Status> {
    workers.run(f).await.map_err(|err| match err {
        WorkError::Overloaded { .. } => Status::unavailable(err.to_string()),
        WorkError::Failed(_) => Status::internal(err.to_string()),
    })?
}

impl OtlpGrpc {
    /// `TraceService/Export`: the body, still protobuf, is decoded by the loader's wire decoder
    /// in the blocking pool (as OTLP/HTTP bodies are), straight into the model.
    async fn export_traces(
        &self,
        request: Request<Bytes>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        self.authorize(&request)?;
        let ingest = Arc::clone(&self.ingest);
        let body = request.into_inner();
        let outcome = blocking(&self.workers, move || {
            let (spans, errors) = decode_trace_request(&body)
                .map_err(|err| Status::invalid_argument(format!("invalid OTLP protobuf: {err}")))?;
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

/// The trace service. tonic's generated one hands over prost's messages; this one hands over the
/// request's bytes, so traces take the same decoder over gRPC as over HTTP. Everything else
/// (framing, gzip, the message size limit, status codes) is tonic's.
#[derive(Debug, Clone)]
struct TraceServer {
    services: OtlpGrpc,
    max_message: usize,
}

/// The gRPC path of `TraceService/Export`.
const TRACE_EXPORT: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

impl NamedService for TraceServer {
    const NAME: &'static str = "opentelemetry.proto.collector.trace.v1.TraceService";
}

impl<B> Service<http::Request<B>> for TraceServer
where
    B: Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = std::convert::Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        if request.uri().path() != TRACE_EXPORT {
            return Box::pin(async { Ok(Status::unimplemented("no such method").into_http()) });
        }
        let server = self.clone();
        Box::pin(async move {
            let mut grpc = tonic::server::Grpc::new(TraceCodec)
                .accept_compressed(CompressionEncoding::Gzip)
                .max_decoding_message_size(server.max_message);
            Ok(grpc.unary(ExportMethod(server.services), request).await)
        })
    }
}

/// `Export` as a unary method over request bytes.
struct ExportMethod(OtlpGrpc);

impl UnaryService<Bytes> for ExportMethod {
    type Response = ExportTraceServiceResponse;
    type Future = BoxFuture<Response<Self::Response>, Status>;

    fn call(&mut self, request: Request<Bytes>) -> Self::Future {
        let services = self.0.clone();
        Box::pin(async move { services.export_traces(request).await })
    }
}

/// Request messages as bytes, responses as protobuf.
#[derive(Debug, Clone, Copy, Default)]
struct TraceCodec;

impl tonic::codec::Codec for TraceCodec {
    type Encode = ExportTraceServiceResponse;
    type Decode = Bytes;
    type Encoder = TraceCodec;
    type Decoder = TraceCodec;

    fn encoder(&mut self) -> Self::Encoder {
        *self
    }

    fn decoder(&mut self) -> Self::Decoder {
        *self
    }
}

impl Encoder for TraceCodec {
    type Item = ExportTraceServiceResponse;
    type Error = Status;

    fn encode(&mut self, item: Self::Item, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        item.encode(dst)
            .map_err(|err| Status::internal(format!("encoding the response: {err}")))
    }
}

impl Decoder for TraceCodec {
    type Item = Bytes;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        use bytes::Buf as _;
        Ok(Some(src.copy_to_bytes(src.remaining())))
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
        let outcome = blocking(&self.workers, move || {
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
pub fn router(
    ingest: Arc<Ingest>,
    workers: Arc<Workers>,
    config: &ServerConfig,
) -> tonic::transport::server::Router {
    let services = OtlpGrpc::new(ingest, workers, config.auth_token.as_deref());
    let limit = config.limits.max_decompressed_bytes;
    tonic::transport::Server::builder()
        .concurrency_limit_per_connection(config.limits.grpc_concurrency)
        .add_service(TraceServer {
            services: services.clone(),
            max_message: limit,
        })
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
