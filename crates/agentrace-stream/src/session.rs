//! A session in one call: the provider, the processors and the session's end.

use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use opentelemetry::{KeyValue, trace::TracerProvider as _};
use opentelemetry_sdk::{
    Resource,
    logs::SdkLoggerProvider,
    trace::{SdkTracer, SdkTracerProvider},
};
use serde_json::{Map, Value};

use crate::{
    Invocation,
    otlp::{OtlpProtocol, OtlpTransport},
    pipeline::{Pipeline, PipelineConfig, StartError, Stats},
    ws::{WebSocketConfig, WebSocketTransport},
};

/// Resource attribute naming the session for OTLP (agentevals' key).
pub const SESSION_NAME_KEY: &str = "agentevals.session_name";
/// Resource attribute with the run's id (a new generation of the session per run).
pub const RUN_ID_KEY: &str = "agentevals.session.run_id";
/// Resource attribute with the eval set id.
pub const EVAL_SET_ID_KEY: &str = "agentevals.eval_set_id";
/// Prefix of resource attributes carrying the session's metadata.
pub const METADATA_PREFIX: &str = "agentevals.metadata.";

/// How a session reaches its server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionTransport {
    /// The live-session WebSocket protocol of `agentrace serve` (`/ws/traces`): the session's
    /// invocations come back at the end.
    WebSocket,
    /// OTLP/HTTP protobuf to any OTLP endpoint (no invocations).
    OtlpHttp,
    /// OTLP/gRPC to any OTLP endpoint (no invocations).
    OtlpGrpc,
}

/// What a session is: its server, name, eval set, metadata and how it is sent.
#[derive(Debug, Clone)]
pub struct SessionOptions {
    server: String,
    name: Option<String>,
    eval_set_id: Option<String>,
    metadata: Map<String, Value>,
    transport: SessionTransport,
    service_name: String,
    auth_token: Option<String>,
    pipeline: PipelineConfig,
    shutdown_timeout: Duration,
}

/// Builds [`SessionOptions`].
#[derive(Debug, Clone)]
pub struct SessionOptionsBuilder(SessionOptions);

impl SessionOptions {
    /// Options for a session on `server` (`http://host:port`, the server's main address; for
    /// OTLP/gRPC the gRPC address).
    pub fn builder(server: impl Into<String>) -> SessionOptionsBuilder {
        SessionOptionsBuilder(Self {
            server: server.into(),
            name: None,
            eval_set_id: None,
            metadata: Map::new(),
            transport: SessionTransport::WebSocket,
            service_name: "agentrace-session".into(),
            auth_token: None,
            pipeline: PipelineConfig::default(),
            shutdown_timeout: Duration::from_secs(10),
        })
    }
}

impl SessionOptionsBuilder {
    /// The session's name; its id is the name, a dash and a unique suffix. Default `session`.
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.0.name = Some(name.into());
        self
    }

    /// The eval set the session is meant for.
    pub fn with_eval_set_id(mut self, id: impl Into<String>) -> Self {
        self.0.eval_set_id = Some(id.into());
        self
    }

    /// One metadata entry.
    pub fn with_metadata(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.0.metadata.insert(key.into(), value.into());
        self
    }

    /// The transport (default: WebSocket).
    pub fn with_transport(mut self, transport: SessionTransport) -> Self {
        self.0.transport = transport;
        self
    }

    /// The resource's `service.name` (default `agentrace-session`).
    pub fn with_service_name(mut self, name: impl Into<String>) -> Self {
        self.0.service_name = name.into();
        self
    }

    /// A bearer token for servers started with `--auth-token` (WebSocket transport).
    pub fn with_auth_token(mut self, token: impl Into<String>) -> Self {
        self.0.auth_token = Some(token.into());
        self
    }

    /// The queue's bounds and timings.
    pub fn with_pipeline_config(mut self, config: PipelineConfig) -> Self {
        self.0.pipeline = config;
        self
    }

    /// How long the end of the session may take: delivering what is queued and waiting for the
    /// invocations (default 10 s).
    pub fn with_shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.0.shutdown_timeout = timeout;
        self
    }

    /// The options.
    pub fn build(self) -> SessionOptions {
        self.0
    }
}

/// Why a session could not start.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The server address is not `http://host:port` (or `https://`).
    #[error("bad server address `{0}`: expected http://host:port")]
    BadServer(String),
    /// The pipeline could not start.
    #[error(transparent)]
    Start(#[from] StartError),
}

/// A live session: the tracer and logger providers whose spans and logs stream to the server.
/// End it with [`Session::end`] (async) or [`Session::end_blocking`]; dropping it ends it too,
/// blocking for at most the shutdown timeout.
#[derive(Debug)]
pub struct Session {
    id: String,
    page_url: Option<String>,
    tracer_provider: SdkTracerProvider,
    logger_provider: SdkLoggerProvider,
    pipeline: Pipeline,
    shutdown_timeout: Duration,
    ended: bool,
}

/// What the end of a session reports.
#[derive(Debug, Clone)]
pub struct SessionEnd {
    /// The session's id.
    pub session_id: String,
    /// The session's invocations from the server (WebSocket transport), `None` from a plain
    /// OTLP endpoint or if the server did not answer in time.
    pub invocations: Option<Vec<Invocation>>,
    /// The session's page on the server's web page (`agentrace serve`'s main address).
    pub page_url: Option<String>,
    /// The pipeline's counters after the end: sent, dropped and why.
    pub stats: Stats,
    /// Why ending did not fully succeed (a timeout, an unreachable server), if so.
    pub error: Option<String>,
}

impl SessionEnd {
    /// Whether the server answered with the session's invocations.
    pub fn has_invocations(&self) -> bool {
        self.invocations.is_some()
    }
}

/// A report for people: what was sent and dropped, each invocation (user text, tool calls with
/// their arguments, agent text), and the session's page.
impl std::fmt::Display for SessionEnd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "sent {} spans and logs, dropped {}",
            self.stats.sent,
            self.stats.dropped()
        )?;
        match &self.invocations {
            Some(invocations) => {
                writeln!(f, "invocations ({}):", invocations.len())?;
                for i in invocations {
                    writeln!(f, "  user:  {}", i.user_text)?;
                    if !i.tool_calls.is_empty() {
                        let calls: Vec<String> = i
                            .tool_calls
                            .iter()
                            .map(|c| format!("{}({})", c.name, c.args))
                            .collect();
                        writeln!(f, "  tools: {}", calls.join(", "))?;
                    }
                    writeln!(f, "  agent: {}", i.agent_text)?;
                }
            }
            None => writeln!(
                f,
                "no invocations from the server: {}",
                self.error.as_deref().unwrap_or("none sent")
            )?,
        }
        if let Some(url) = &self.page_url {
            writeln!(f, "page: {url}")?;
        }
        Ok(())
    }
}

fn unique_suffix() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{:x}{:x}{n:x}", nanos, std::process::id())
}

/// `http://host:port` → (`ws://host:port`, `http://host:port`).
fn split_server(server: &str) -> Result<(String, String), SessionError> {
    let trimmed = server.trim_end_matches('/');
    let (ws, rest) = if let Some(rest) = trimmed.strip_prefix("http://") {
        ("ws://", rest)
    } else if let Some(rest) = trimmed.strip_prefix("https://") {
        ("wss://", rest)
    } else if let Some(rest) = trimmed.strip_prefix("ws://") {
        ("ws://", rest)
    } else {
        return Err(SessionError::BadServer(server.to_owned()));
    };
    if rest.is_empty() || rest.contains('/') {
        return Err(SessionError::BadServer(server.to_owned()));
    }
    let http = if ws == "wss://" {
        "https://"
    } else {
        "http://"
    };
    Ok((format!("{ws}{rest}"), format!("{http}{rest}")))
}

/// Starts a session without blocking: the connection is made on the stream's worker thread, so
/// an unreachable server never stalls the caller (its spans are counted as dropped, see
/// [`Stats`]). The async twin of [`session_blocking`]; both return at once.
pub async fn session(options: SessionOptions) -> Result<Session, SessionError> {
    session_blocking(options)
}

/// Starts a session (the blocking twin of [`session`]; it does not wait for the server either).
pub fn session_blocking(options: SessionOptions) -> Result<Session, SessionError> {
    let (ws_base, http_base) = split_server(&options.server)?;
    let name = options.name.clone().unwrap_or_else(|| "session".into());
    let id = format!("{name}-{}", unique_suffix());
    let mut attributes = vec![
        KeyValue::new("service.name", options.service_name.clone()),
        KeyValue::new(SESSION_NAME_KEY, id.clone()),
        KeyValue::new(RUN_ID_KEY, unique_suffix()),
    ];
    if let Some(eval) = &options.eval_set_id {
        attributes.push(KeyValue::new(EVAL_SET_ID_KEY, eval.clone()));
    }
    for (k, v) in &options.metadata {
        let text = match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        attributes.push(KeyValue::new(format!("{METADATA_PREFIX}{k}"), text));
    }
    let resource = Resource::builder_empty()
        .with_attributes(attributes)
        .build();
    let (pipeline, page_url) = match options.transport {
        SessionTransport::WebSocket => {
            let mut config = WebSocketConfig::new(format!("{ws_base}/ws/traces"), id.clone());
            config.eval_set_id = options.eval_set_id.clone();
            config.metadata = options.metadata.clone();
            config.auth_token = options.auth_token.clone();
            (
                Pipeline::start_with(WebSocketTransport::new(config), options.pipeline.clone())?,
                Some(format!("{http_base}/#session={id}")),
            )
        }
        SessionTransport::OtlpHttp | SessionTransport::OtlpGrpc => {
            let protocol = if options.transport == SessionTransport::OtlpGrpc {
                OtlpProtocol::Grpc
            } else {
                OtlpProtocol::HttpProtobuf
            };
            let transport = OtlpTransport::new(&http_base, protocol, Duration::from_secs(10))?;
            (
                Pipeline::start_with(transport, options.pipeline.clone())?,
                None,
            )
        }
    };
    let tracer_provider = SdkTracerProvider::builder()
        .with_resource(resource.clone())
        .with_span_processor(pipeline.span_processor())
        .build();
    let logger_provider = SdkLoggerProvider::builder()
        .with_resource(resource)
        .with_log_processor(pipeline.log_processor())
        .build();
    Ok(Session {
        id,
        page_url,
        tracer_provider,
        logger_provider,
        pipeline,
        shutdown_timeout: options.shutdown_timeout,
        ended: false,
    })
}

impl Session {
    /// The session's id (on the server too).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The session's page on the server's web page (WebSocket transport).
    pub fn page_url(&self) -> Option<&str> {
        self.page_url.as_deref()
    }

    /// The tracer provider whose spans stream to the session.
    pub fn tracer_provider(&self) -> &SdkTracerProvider {
        &self.tracer_provider
    }

    /// The logger provider whose log records stream to the session.
    pub fn logger_provider(&self) -> &SdkLoggerProvider {
        &self.logger_provider
    }

    /// A tracer of the session's provider.
    pub fn tracer(&self, name: &'static str) -> SdkTracer {
        self.tracer_provider.tracer(name)
    }

    /// The counters now.
    pub fn stats(&self) -> Stats {
        self.pipeline.stats()
    }

    /// Ends the session without blocking the async runtime (the blocking part runs on a thread
    /// of its own, so any executor works): delivers what is queued, ends the session on the
    /// server and returns its invocations.
    pub async fn end(self) -> SessionEnd {
        let (tx, rx) = futures::channel::oneshot::channel();
        let session_id = self.id.clone();
        let page_url = self.page_url.clone();
        let pipeline = self.pipeline.clone();
        let spawned = std::thread::Builder::new()
            .name("agentrace-session-end".into())
            .spawn(move || {
                let _ = tx.send(self.end_blocking());
            });
        let failed = |error: String| SessionEnd {
            session_id: session_id.clone(),
            invocations: None,
            page_url: page_url.clone(),
            stats: pipeline.stats(),
            error: Some(error),
        };
        match spawned {
            Ok(_) => rx
                .await
                .unwrap_or_else(|_| failed("ending the session failed".into())),
            Err(e) => failed(format!("cannot start a thread to end the session: {e}")),
        }
    }

    /// Ends the session, blocking for at most the shutdown timeout.
    pub fn end_blocking(mut self) -> SessionEnd {
        let error = self.shut_down().err();
        SessionEnd {
            session_id: self.id.clone(),
            invocations: self.pipeline.invocations(),
            page_url: self.page_url.clone(),
            stats: self.pipeline.stats(),
            error,
        }
    }

    fn shut_down(&mut self) -> Result<(), String> {
        if self.ended {
            return Ok(());
        }
        self.ended = true;
        // Logs first (their processor only flushes: the span processor is still open), then
        // spans, whose processor is the last and ends the session.
        let logs = self
            .logger_provider
            .shutdown_with_timeout(self.shutdown_timeout);
        let spans = self
            .tracer_provider
            .shutdown_with_timeout(self.shutdown_timeout);
        match (logs, spans) {
            (_, Err(e)) | (Err(e), Ok(())) => Err(e.to_string()),
            (Ok(()), Ok(())) => Ok(()),
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.shut_down();
    }
}
