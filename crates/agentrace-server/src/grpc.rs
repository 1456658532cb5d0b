//! OTLP/gRPC receivers (`opentelemetry.proto.collector.{trace,logs,metrics}.v1`), on their own
//! port. Same pipeline as OTLP/HTTP: rejected items come back as partial success, a reached
//! capacity as `UNAVAILABLE`, a missing token as `UNAUTHENTICATED`. gzip is accepted; messages are
//! bounded by the decompressed-size limit. The token is checked on the request's headers before
//! its body is read; every request reaches an ingest worker as bytes and is decoded there (traces
//! by the loader's wire decoder, as OTLP/HTTP bodies are; logs and metrics by prost), so decoding
//! is bounded by the ingest workers like everything else. An undecodable one is
//! `INVALID_ARGUMENT`.

use std::sync::Arc;

use agentrace_loader::read::{proto::from_logs_request, wire::decode_trace_request};
use bytes::Bytes;
use opentelemetry_proto::tonic::collector::{
    logs::v1::{ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse},
    metrics::v1::{ExportMetricsServiceRequest, ExportMetricsServiceResponse},
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
}

fn to_status(err: IngestError) -> Status {
    match err {
        IngestError::Unavailable(msg) => Status::unavailable(msg),
        IngestError::Store(err) if err.is_transient() => Status::unavailable(err.to_string()),
        IngestError::Store(err) => {
            tracing::error!(%err, "store failure during gRPC export");
            Status::internal("internal server error")
        }
    }
}

/// Refuses a request with more items than [`crate::config::Limits::max_items_per_request`],
/// counted on the wire before it is decoded.
fn check_items(ingest: &Ingest, body: &[u8]) -> Result<(), Status> {
    match crate::body::count_otlp_items(body) {
        Some(items) => ingest.check_items(items).map_err(Status::out_of_range),
        None => Ok(()),
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
    /// Whether the request's `authorization` header carries the token (always, without one).
    fn authorized(&self, headers: &http::HeaderMap) -> bool {
        let Some(token) = &self.token else {
            return true;
        };
        headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|g| crate::auth::constant_time_eq(g.as_bytes(), token.as_bytes()))
    }

    /// `TraceService/Export`: the body, still protobuf, is decoded by the loader's wire decoder
    /// on an ingest worker (as OTLP/HTTP bodies are), straight into the model.
    async fn export_traces(&self, body: Bytes) -> Result<ExportTraceServiceResponse, Status> {
        let ingest = Arc::clone(&self.ingest);
        let outcome = blocking(&self.workers, move || {
            check_items(&ingest, &body)?;
            let (spans, errors) = decode_trace_request(&body)
                .map_err(|err| Status::invalid_argument(format!("invalid OTLP protobuf: {err}")))?;
            let reasons: Vec<String> = errors.iter().map(ToString::to_string).collect();
            ingest.spans(spans, &reasons).map_err(to_status)
        })
        .await?;
        Ok(ExportTraceServiceResponse {
            partial_success: (outcome.rejected > 0).then(|| ExportTracePartialSuccess {
                rejected_spans: outcome.rejected as i64,
                error_message: outcome.error_message(),
            }),
        })
    }

    /// `LogsService/Export`: decoded and ingested on an ingest worker.
    async fn export_logs(&self, body: Bytes) -> Result<ExportLogsServiceResponse, Status> {
        let ingest = Arc::clone(&self.ingest);
        let outcome = blocking(&self.workers, move || {
            check_items(&ingest, &body)?;
            let request = ExportLogsServiceRequest::decode(body)
                .map_err(|err| Status::invalid_argument(format!("invalid OTLP protobuf: {err}")))?;
            let (logs, errors) = from_logs_request(request);
            let reasons: Vec<String> = errors.iter().map(ToString::to_string).collect();
            ingest.logs(logs, &reasons).map_err(to_status)
        })
        .await?;
        Ok(ExportLogsServiceResponse {
            partial_success: (outcome.rejected > 0).then(|| ExportLogsPartialSuccess {
                rejected_log_records: outcome.rejected as i64,
                error_message: outcome.error_message(),
            }),
        })
    }

    /// `MetricsService/Export`: decoded on an ingest worker (so bad data is still
    /// `INVALID_ARGUMENT`), not stored.
    async fn export_metrics(&self, body: Bytes) -> Result<ExportMetricsServiceResponse, Status> {
        blocking(&self.workers, move || {
            ExportMetricsServiceRequest::decode(body)
                .map(|_| ())
                .map_err(|err| Status::invalid_argument(format!("invalid OTLP protobuf: {err}")))
        })
        .await?;
        Ok(ExportMetricsServiceResponse {
            partial_success: None,
        })
    }
}

/// One OTLP service (`TraceService`, `LogsService`, `MetricsService`) over request bytes.
trait Signal: Clone + Send + Sync + 'static {
    /// The service's name.
    const NAME: &'static str;
    /// The path of its `Export` method.
    const EXPORT: &'static str;
    /// Its response message.
    type Response: prost::Message + Default + Send + 'static;
    /// Handles one request's bytes.
    fn export(services: OtlpGrpc, body: Bytes) -> BoxFuture<Self::Response, Status>;
}

#[derive(Debug, Clone, Copy)]
struct Traces;
#[derive(Debug, Clone, Copy)]
struct Logs;
#[derive(Debug, Clone, Copy)]
struct Metrics;

impl Signal for Traces {
    const NAME: &'static str = "opentelemetry.proto.collector.trace.v1.TraceService";
    const EXPORT: &'static str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
    type Response = ExportTraceServiceResponse;
    fn export(services: OtlpGrpc, body: Bytes) -> BoxFuture<Self::Response, Status> {
        Box::pin(async move { services.export_traces(body).await })
    }
}

impl Signal for Logs {
    const NAME: &'static str = "opentelemetry.proto.collector.logs.v1.LogsService";
    const EXPORT: &'static str = "/opentelemetry.proto.collector.logs.v1.LogsService/Export";
    type Response = ExportLogsServiceResponse;
    fn export(services: OtlpGrpc, body: Bytes) -> BoxFuture<Self::Response, Status> {
        Box::pin(async move { services.export_logs(body).await })
    }
}

impl Signal for Metrics {
    const NAME: &'static str = "opentelemetry.proto.collector.metrics.v1.MetricsService";
    const EXPORT: &'static str = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export";
    type Response = ExportMetricsServiceResponse;
    fn export(services: OtlpGrpc, body: Bytes) -> BoxFuture<Self::Response, Status> {
        Box::pin(async move { services.export_metrics(body).await })
    }
}

/// A service of one signal. tonic's generated services hand over prost's messages, decoded
/// before any check; this one checks the token on the request's headers before it reads the
/// body, and hands the body over as bytes, decoded on an ingest worker. Everything else
/// (framing, gzip, the message size limit, status codes) is tonic's.
#[derive(Debug, Clone)]
struct SignalServer<S> {
    services: OtlpGrpc,
    max_message: usize,
    signal: S,
}

impl<S: Signal> NamedService for SignalServer<S> {
    const NAME: &'static str = S::NAME;
}

impl<S, B> Service<http::Request<B>> for SignalServer<S>
where
    S: Signal,
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
        if !self.services.authorized(request.headers()) {
            // Before the body is read, let alone decompressed or decoded.
            return Box::pin(async {
                Ok(Status::unauthenticated("missing or invalid bearer token").into_http())
            });
        }
        if request.uri().path() != S::EXPORT {
            return Box::pin(async { Ok(Status::unimplemented("no such method").into_http()) });
        }
        let server = self.clone();
        Box::pin(async move {
            let mut grpc = tonic::server::Grpc::new(BytesCodec::<S::Response>::default())
                .accept_compressed(CompressionEncoding::Gzip)
                .max_decoding_message_size(server.max_message);
            Ok(grpc
                .unary(ExportMethod::<S>(server.services, server.signal), request)
                .await)
        })
    }
}

/// `Export` as a unary method over request bytes.
struct ExportMethod<S>(OtlpGrpc, S);

impl<S: Signal> UnaryService<Bytes> for ExportMethod<S> {
    type Response = S::Response;
    type Future = BoxFuture<Response<Self::Response>, Status>;

    fn call(&mut self, request: Request<Bytes>) -> Self::Future {
        let services = self.0.clone();
        Box::pin(async move {
            S::export(services, request.into_inner())
                .await
                .map(Response::new)
        })
    }
}

/// Request messages as bytes, responses (`R`) as protobuf.
#[derive(Debug)]
struct BytesCodec<R>(std::marker::PhantomData<fn() -> R>);

impl<R> Default for BytesCodec<R> {
    fn default() -> Self {
        Self(std::marker::PhantomData)
    }
}

impl<R> Clone for BytesCodec<R> {
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl<R: prost::Message + Send + 'static> tonic::codec::Codec for BytesCodec<R> {
    type Encode = R;
    type Decode = Bytes;
    type Encoder = Self;
    type Decoder = Self;

    fn encoder(&mut self) -> Self::Encoder {
        self.clone()
    }

    fn decoder(&mut self) -> Self::Decoder {
        self.clone()
    }
}

impl<R: prost::Message> Encoder for BytesCodec<R> {
    type Item = R;
    type Error = Status;

    fn encode(&mut self, item: Self::Item, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        item.encode(dst)
            .map_err(|err| Status::internal(format!("encoding the response: {err}")))
    }
}

impl<R> Decoder for BytesCodec<R> {
    type Item = Bytes;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        use bytes::Buf as _;
        Ok(Some(src.copy_to_bytes(src.remaining())))
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
        .add_service(SignalServer {
            services: services.clone(),
            max_message: limit,
            signal: Traces,
        })
        .add_service(SignalServer {
            services: services.clone(),
            max_message: limit,
            signal: Logs,
        })
        .add_service(SignalServer {
            services,
            max_message: limit,
            signal: Metrics,
        })
}
