//! The agentrace dev server: OTLP ingest, sessions, storage, live updates and the web page.
//!
//! It takes spans and logs from any OpenTelemetry producer — OTLP/HTTP (protobuf or JSON, gzip),
//! OTLP/gRPC, and agentevals' WebSocket protocol — groups them into sessions by agentevals' rules,
//! extracts invocations as spans arrive, stores everything in SQLite, and pushes live updates over
//! Server-Sent Events and a WebSocket.
//!
//! The server is a function: [`app`] builds the axum [`Router`] over an [`AppState`], so tests can
//! drive it with `tower::ServiceExt::oneshot` or bind it to `127.0.0.1:0`. [`Server::start`] binds
//! every listener of a [`ServerConfig`] and runs until its shutdown handle is used.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use agentrace_server::{Server, config::{DbLocation, ServerConfig}};
//! let config = ServerConfig::builder().with_db(DbLocation::Memory).with_port(0).build()?;
//! let server = Server::start(config).await?;
//! println!("listening on {}", server.main_addr());
//! server.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! # Configuration
//!
//! | flag (`agentrace serve`) | environment | default | meaning |
//! |---|---|---|---|
//! | `--host` | `AGENTRACE_HOST` | `127.0.0.1` | address of every listener |
//! | `--port` | `AGENTRACE_PORT` | `8001` | web page, API, WebSocket, SSE and OTLP/HTTP |
//! | `--otlp-http-port` | `AGENTRACE_OTLP_HTTP_PORT` | `4318` | extra OTLP/HTTP listener (0 disables) |
//! | `--otlp-grpc-port` | `AGENTRACE_OTLP_GRPC_PORT` | `4317` | OTLP/gRPC listener (0 disables) |
//! | `--db` | `AGENTRACE_DB` | `<data dir>/agentrace/agentrace.db` | SQLite file, or `:memory:` |
//! | `--durability` | `AGENTRACE_DURABILITY` | `normal` | `full`: every commit synced (survives power loss) |
//! | `--max-db-mib` | `AGENTRACE_MAX_DB_MIB` | none | database size bound; past it ingest gets 503 |
//! | `--auth-token` | `AGENTRACE_AUTH_TOKEN` | none | bearer token for ingest and API (prefer the variable: arguments show in `ps`) |
//! | `--auth-token-file` | `AGENTRACE_AUTH_TOKEN_FILE` | none | file whose first line is the token |
//! | `--allow-insecure-bind` | `AGENTRACE_ALLOW_INSECURE_BIND` | off | allow a non-loopback host without a token |
//! | `--cors-origin` | `AGENTRACE_CORS_ORIGINS` | none | extra browser origins allowed |
//! | `--allow-host` | `AGENTRACE_ALLOWED_HOSTS` | none | extra `Host` names accepted (besides `localhost` and IP literals) |
//! | `--eval-sets` | `AGENTRACE_EVAL_SETS` | none | directory of eval sets loaded at start |
//! | `--eval-config` | `AGENTRACE_EVAL_CONFIG` | none | eval config YAML: evaluators run at completion; the only source of custom evaluators and judges |
//! | `--max-evaluations-per-session` | `AGENTRACE_MAX_EVALUATIONS_PER_SESSION` | 100 | evaluations stored per session; more get 409 |
//! | `--max-concurrent-evaluations` | `AGENTRACE_MAX_CONCURRENT_EVALUATIONS` | 2 | evaluations running at once; more asked through the API get 503 |
//! | `--headless` | `AGENTRACE_HEADLESS` | off | no web page |
//! | `--max-sessions` | `AGENTRACE_MAX_SESSIONS` | 10000 | sessions stored; more are refused with 503 |
//! | `--max-spans-per-session` | `AGENTRACE_MAX_SPANS_PER_SESSION` | 100000 | more are rejected (partial success) |
//! | `--max-logs-per-session` | `AGENTRACE_MAX_LOGS_PER_SESSION` | 50000 | more are rejected (partial success) |
//! | `--max-body-bytes` | `AGENTRACE_MAX_BODY_BYTES` | 16 MiB | request body on the wire |
//! | `--max-decompressed-bytes` | `AGENTRACE_MAX_DECOMPRESSED_BYTES` | 64 MiB | body after gzip; gRPC message |
//! | `--max-ws-message-bytes` | `AGENTRACE_MAX_WS_MESSAGE_BYTES` | 16 MiB | `/ws/traces` message |
//! | `--grpc-concurrency` | `AGENTRACE_GRPC_CONCURRENCY` | 32 | concurrent gRPC calls per connection |
//! | `--max-items-per-request` | `AGENTRACE_MAX_ITEMS_PER_REQUEST` | 100000 | spans and logs per request; more get 413 |
//! | `--max-string-bytes` | `AGENTRACE_MAX_STRING_BYTES` | 4 MiB | longest string in a span or log; longer are rejected |
//! | `--max-note-bytes` | `AGENTRACE_MAX_NOTE_BYTES` | 4096 | longest note of a turn's annotation; longer get 400 |
//! | `--live-buffer` | `AGENTRACE_LIVE_BUFFER` | 1024 | live events buffered per subscriber |
//! | `--max-live-subscribers` | `AGENTRACE_MAX_LIVE_SUBSCRIBERS` | 64 | SSE and `/ws/live` subscribers; more get 503 |
//! | `--max-ws-connections` | `AGENTRACE_MAX_WS_CONNECTIONS` | 64 | `/ws/traces` connections; more get 503 |
//! | `--retention-hours` | `AGENTRACE_RETENTION_HOURS` | none | delete sessions completed longer ago |
//! | `--max-staged-traces` | `AGENTRACE_MAX_STAGED_TRACES` | 1000 | keyless traces held staged; more are rejected |
//! | `--staged-ttl-secs` | `AGENTRACE_STAGED_TTL_SECS` | 120 | a staged trace's wait for a key or GenAI span |
//! | `--ingest-workers` | `AGENTRACE_INGEST_WORKERS` | cores | requests decoded and ingested at once |
//! | `--ingest-queue` | `AGENTRACE_INGEST_QUEUE` | 64 | OTLP requests waiting for a worker; more get 503 |
//! | `--wal-limit-mib` | `AGENTRACE_WAL_LIMIT_MIB` | 1024 | write-ahead log bound |
//!
//! docs/security.md lists what each limit protects and what a client past it gets.
//!
//! # Feature flags
//!
//! None.

pub mod annotations;
pub mod api;
pub mod auth;
pub mod body;
pub mod codec;
pub mod compare;
pub mod config;
pub mod error;
pub mod evaluation;
pub mod extract;
pub mod grpc;
pub mod ingest;
pub mod live;
pub mod otlp;
pub mod otlp_json;
pub mod page_api;
pub mod process;
pub mod search;
pub mod sessions;
pub mod store;
pub mod tracker;
pub mod ui;
pub mod workers;
pub mod ws;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use axum::{
    Router,
    extract::DefaultBodyLimit,
    routing::{delete, get, post, put},
};
use tokio::{net::TcpListener, sync::watch, task::JoinHandle};

pub use crate::config::ServerConfig;
use crate::{ingest::Ingest, live::LiveHub, store::Store, workers::Workers};

/// The ports the server actually bound (after `0` was resolved).
#[derive(Debug, Clone, Copy, Default)]
pub struct BoundPorts {
    /// Main port.
    pub port: u16,
    /// Extra OTLP/HTTP port.
    pub otlp_http_port: Option<u16>,
    /// OTLP/gRPC port.
    pub otlp_grpc_port: Option<u16>,
}

/// Shared state of every handler.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The configuration in force.
    pub config: Arc<ServerConfig>,
    /// The ingest pipeline (and through it the store).
    pub ingest: Arc<Ingest>,
    /// The live fan-out.
    pub hub: LiveHub,
    /// Bound ports, for `GET /api/config`.
    pub bound: BoundPorts,
    /// The ingest workers every request is decoded and ingested on.
    pub workers: Arc<Workers>,
    /// Live subscribers (SSE and `/ws/live`), bounded.
    pub live_slots: live::Slots,
    /// WebSocket ingest connections, bounded.
    pub ws_slots: live::Slots,
    /// Evaluation: the operator's evaluators, the bound on evaluations at once, the sessions
    /// waiting for their evaluation at completion.
    pub evaluator: Arc<evaluation::Evaluator>,
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The configuration is unsafe or inconsistent.
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    /// The database could not be opened.
    #[error("cannot open the database: {0}")]
    Store(#[from] store::StoreError),
    /// A listener could not bind.
    #[error("cannot bind {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The error.
        source: std::io::Error,
    },
    /// The eval config of `--eval-config` could not be loaded.
    #[error("cannot load eval config {path}: {reason}")]
    EvalConfig {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// An eval set in `--eval-sets` could not be loaded.
    #[error("cannot load eval set {path}: {reason}")]
    EvalSet {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
}

impl AppState {
    /// Opens the store and builds the state for `config`.
    pub fn new(config: ServerConfig) -> Result<Self, StartError> {
        config.validate()?;
        let options = store::StoreOptions::default()
            .with_wal_limit_bytes(config.limits.wal_limit_bytes)
            .with_durability(config.durability)
            .with_max_db_bytes(config.limits.max_db_bytes);
        let store = Arc::new(Store::open_with_options(&config.db, &options)?);
        let hub = LiveHub::new(config.limits.live_buffer);
        let ingest = Ingest::new(
            store,
            hub.clone(),
            config.limits.clone(),
            config.sessions.clone(),
        )?;
        let evaluator = Arc::new(evaluation::Evaluator::new(&config)?);
        ingest.announce_completions(evaluator.completions.clone());
        Ok(Self {
            evaluator,
            bound: BoundPorts {
                port: config.port,
                otlp_http_port: config.otlp_http_port,
                otlp_grpc_port: config.otlp_grpc_port,
            },
            workers: Arc::new(Workers::new(
                config.limits.ingest_workers,
                config.limits.ingest_queue,
            )),
            live_slots: live::Slots::new(config.limits.max_live_subscribers),
            ws_slots: live::Slots::new(config.limits.max_ws_connections),
            config: Arc::new(config),
            ingest: Arc::new(ingest),
            hub,
        })
    }
}

/// The OTLP/HTTP routes alone (served on the main port and on the extra OTLP port), behind the
/// guard ([`auth::guard`]: `Host`, origin, token).
pub fn otlp_routes(state: AppState) -> Router {
    guarded(otlp_routes_unguarded(state.clone()), state)
}

fn otlp_routes_unguarded(state: AppState) -> Router {
    let limit = state.config.limits.max_body_bytes;
    Router::new()
        .route("/v1/traces", post(otlp::traces))
        .route("/v1/logs", post(otlp::logs))
        .route("/v1/metrics", post(otlp::metrics))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}

/// `router` with every request (its fallback too) through [`auth::guard`].
fn guarded(router: Router, state: AppState) -> Router {
    router.layer(axum::middleware::from_fn_with_state(state, auth::guard))
}

/// The whole HTTP application: API, OTLP/HTTP, WebSocket, SSE and (unless headless) the page.
pub fn app(state: AppState) -> Router {
    let limit = state.config.limits.max_body_bytes;
    let api = Router::new()
        .route("/api/health", get(api::health))
        .route("/api/config", get(api::config))
        .route("/api/sessions", get(api::list_sessions))
        .route(
            "/api/sessions/{id}",
            get(api::get_session).delete(api::delete_session),
        )
        .route("/api/sessions/{id}/spans", get(api::session_spans))
        .route("/api/sessions/{id}/logs", get(api::session_logs))
        .route(
            "/api/sessions/{id}/invocations",
            get(api::session_invocations),
        )
        .route("/api/sessions/{id}/export", get(api::export_session))
        .route(
            "/api/eval-sets",
            get(api::list_eval_sets).post(api::put_eval_set),
        )
        .route(
            "/api/eval-sets/{id}",
            get(api::get_eval_set).delete(evaluation::delete_eval_set),
        )
        .route("/api/metrics", get(evaluation::list_metrics))
        .route(
            "/api/sessions/{id}/evaluate",
            post(evaluation::evaluate_session),
        )
        .route(
            "/api/sessions/{id}/evaluations",
            get(evaluation::session_evaluations),
        )
        .route(
            "/api/evaluations/{id}",
            get(evaluation::get_evaluation).delete(evaluation::delete_evaluation),
        )
        .route("/api/evaluate", post(evaluation::evaluate_upload))
        .route(
            "/api/sessions/{id}/eval-set",
            post(evaluation::create_eval_set),
        )
        .route(
            "/api/streaming/create-eval-set",
            post(evaluation::create_eval_set_reference),
        )
        .route(
            "/api/evaluate-sessions",
            post(evaluation::evaluate_sessions),
        )
        .route(
            "/api/streaming/evaluate-sessions",
            post(evaluation::evaluate_sessions),
        )
        .route("/api/search", get(page_api::search))
        .route("/api/compare", get(page_api::compare))
        .route(
            "/api/sessions/{id}/annotations",
            get(page_api::list_annotations),
        )
        .route(
            "/api/sessions/{id}/annotations/{index}",
            put(page_api::put_annotation).delete(page_api::delete_annotation),
        )
        .route(
            "/api/{*rest}",
            get(api::not_found)
                .post(api::not_found)
                .merge(delete(api::not_found)),
        )
        .route("/stream/ui-updates", get(live::sse))
        .route("/ws/live", get(live::ws_live))
        .route("/ws/traces", get(ws::traces))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state.clone());
    let mut router = api.merge(otlp_routes_unguarded(state.clone()));
    if !state.config.headless {
        router = router.merge(ui::routes());
    }
    // Every route of the port, the page and the 404s included, passes the guard.
    guarded(router, state)
}

/// A running server.
#[derive(Debug)]
pub struct Server {
    state: AppState,
    main_addr: SocketAddr,
    otlp_http_addr: Option<SocketAddr>,
    otlp_grpc_addr: Option<SocketAddr>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, StartError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Bind { addr, source })
}

impl Server {
    /// Binds every listener of `config` and starts serving.
    pub async fn start(config: ServerConfig) -> Result<Self, StartError> {
        let mut state = AppState::new(config)?;
        let config = Arc::clone(&state.config);
        if let Some(dir) = &config.eval_sets_dir {
            preload_eval_sets(&state, dir)?;
        }
        let main = bind(config.main_addr()).await?;
        let main_addr = main.local_addr().map_err(|source| StartError::Bind {
            addr: config.main_addr(),
            source,
        })?;
        let otlp_http = match config.otlp_http_port {
            Some(port) => Some(bind(SocketAddr::new(config.host, port)).await?),
            None => None,
        };
        let otlp_grpc = match config.otlp_grpc_port {
            Some(port) => Some(bind(SocketAddr::new(config.host, port)).await?),
            None => None,
        };
        let otlp_http_addr = otlp_http.as_ref().and_then(|l| l.local_addr().ok());
        let otlp_grpc_addr = otlp_grpc.as_ref().and_then(|l| l.local_addr().ok());
        state.bound = BoundPorts {
            port: main_addr.port(),
            otlp_http_port: otlp_http_addr.map(|a| a.port()),
            otlp_grpc_port: otlp_grpc_addr.map(|a| a.port()),
        };
        let (stop, stopped) = watch::channel(false);
        let mut tasks = Vec::new();
        tasks.push(spawn_http(main, app(state.clone()), stopped.clone()));
        if let Some(listener) = otlp_http {
            tasks.push(spawn_http(
                listener,
                otlp_routes(state.clone()),
                stopped.clone(),
            ));
        }
        if let Some(listener) = otlp_grpc {
            let router = grpc::router(
                Arc::clone(&state.ingest),
                Arc::clone(&state.workers),
                &config,
            );
            let mut stopped = stopped.clone();
            // TCP_NODELAY as tonic's own listener sets it (its builder's setting does not apply
            // to a listener handed over): without it each response waits for the peer's ACK.
            let incoming =
                tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
            tasks.push(tokio::spawn(async move {
                let shutdown = async move {
                    let _ = stopped.wait_for(|s| *s).await;
                };
                if let Err(err) = router
                    .serve_with_incoming_shutdown(incoming, shutdown)
                    .await
                {
                    tracing::error!(%err, "gRPC server failed");
                }
            }));
        }
        tasks.push(spawn_extractor(state.clone(), stopped.clone()));
        tasks.push(spawn_indexer(state.clone(), stopped.clone()));
        tasks.push(evaluation::spawn_at_completion(
            state.clone(),
            stopped.clone(),
        ));
        tasks.push(spawn_ticker(state.clone(), stopped));
        Ok(Self {
            state,
            main_addr,
            otlp_http_addr,
            otlp_grpc_addr,
            stop,
            tasks,
        })
    }

    /// The main listener's address.
    pub fn main_addr(&self) -> SocketAddr {
        self.main_addr
    }

    /// The extra OTLP/HTTP listener's address.
    pub fn otlp_http_addr(&self) -> Option<SocketAddr> {
        self.otlp_http_addr
    }

    /// The OTLP/gRPC listener's address.
    pub fn otlp_grpc_addr(&self) -> Option<SocketAddr> {
        self.otlp_grpc_addr
    }

    /// The server's state.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Stops accepting, finishes in-flight requests and returns.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

fn spawn_http(
    listener: TcpListener,
    router: Router,
    mut stopped: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let shutdown = async move {
            let _ = stopped.wait_for(|s| *s).await;
        };
        // Small writes (SSE events, WebSocket frames, short responses) go out at once instead
        // of waiting for the peer's ACK of the previous one (Nagle's algorithm).
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            if let Err(err) = tcp.set_nodelay(true) {
                tracing::debug!(%err, "TCP_NODELAY not set on a connection");
            }
        });
        if let Err(err) = axum::serve(listener, router)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::error!(%err, "HTTP server failed");
        }
    })
}

/// How long the extractor lets batches accumulate before extracting live sessions again, at
/// least; it waits longer after a long extraction (see [`extract_debounce`]).
const EXTRACT_DEBOUNCE_MIN: Duration = Duration::from_millis(20);
/// The longest the extractor waits between extractions while batches keep arriving.
const EXTRACT_DEBOUNCE_MAX: Duration = Duration::from_secs(1);

/// The wait before the next live extraction: four times as long as the last one took, within
/// [`EXTRACT_DEBOUNCE_MIN`] and [`EXTRACT_DEBOUNCE_MAX`]. Live extraction of a large session then
/// takes at most about a fifth of a core however fast spans arrive, and small sessions are still
/// updated within tens of milliseconds (agentevals debounces the same way).
fn extract_debounce(last: Duration) -> Duration {
    last.saturating_mul(4)
        .clamp(EXTRACT_DEBOUNCE_MIN, EXTRACT_DEBOUNCE_MAX)
}

/// Re-extracts live sessions after batches arrive, debounced, off the ingest path.
fn spawn_extractor(state: AppState, mut stopped: watch::Receiver<bool>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut last = Duration::ZERO;
        loop {
            tokio::select! {
                () = state.ingest.dirty() => {}
                _ = stopped.wait_for(|s| *s) => break,
            }
            tokio::time::sleep(extract_debounce(last)).await;
            let ingest = Arc::clone(&state.ingest);
            let started = std::time::Instant::now();
            if tokio::task::spawn_blocking(move || ingest.refresh_live())
                .await
                .is_err()
            {
                tracing::error!("live extraction failed");
            }
            last = started.elapsed();
        }
    })
}

/// Indexes completed sessions for search after their completion was answered: at start (the
/// sessions a stop left unindexed), then whenever completions leave some.
fn spawn_indexer(state: AppState, mut stopped: watch::Receiver<bool>) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let ingest = Arc::clone(&state.ingest);
            match tokio::task::spawn_blocking(move || ingest.index_pending()).await {
                Ok(Ok(_)) => {}
                Ok(Err(err)) => tracing::error!(%err, "search indexing failed"),
                Err(_) => tracing::error!("search indexing failed"),
            }
            tokio::select! {
                () = state.ingest.unindexed() => {}
                _ = stopped.wait_for(|s| *s) => break,
            }
        }
    })
}

/// Completes due sessions and applies retention, waking when the next session could complete.
fn spawn_ticker(state: AppState, mut stopped: watch::Receiver<bool>) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let wait = state
                .ingest
                .next_deadline()
                .unwrap_or(Duration::from_secs(1))
                .clamp(Duration::from_millis(20), Duration::from_secs(1));
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = stopped.wait_for(|s| *s) => break,
            }
            let ingest = Arc::clone(&state.ingest);
            let retention = state.config.limits.retention;
            let result = tokio::task::spawn_blocking(move || {
                ingest.complete_due()?;
                ingest.expire_staged()?;
                if let Some(keep) = retention {
                    let cutoff =
                        store::now_ns() - i64::try_from(keep.as_nanos()).unwrap_or(i64::MAX);
                    for id in ingest.store().completed_before(cutoff)? {
                        tracing::info!(session = %id, "retention: deleting completed session");
                        ingest.delete_session(&id)?;
                    }
                }
                Ok::<(), ingest::IngestError>(())
            })
            .await;
            if let Ok(Err(err)) = result {
                tracing::error!(%err, "session ticker failed");
            }
        }
    })
}

fn preload_eval_sets(state: &AppState, dir: &std::path::Path) -> Result<(), StartError> {
    let entries = std::fs::read_dir(dir).map_err(|e| StartError::EvalSet {
        path: dir.display().to_string(),
        reason: e.to_string(),
    })?;
    let mut paths: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    for path in paths {
        let fail = |reason: String| StartError::EvalSet {
            path: path.display().to_string(),
            reason,
        };
        let text = std::fs::read_to_string(&path).map_err(|e| fail(e.to_string()))?;
        let value: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| fail(e.to_string()))?;
        let (id, name, cases) = api::validate_eval_set(&value).map_err(|e| fail(e.to_string()))?;
        state
            .ingest
            .store()
            .put_eval_set(&id, name.as_deref(), cases, &value)?;
        tracing::info!(eval_set = %id, cases, "loaded eval set");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{EXTRACT_DEBOUNCE_MAX, EXTRACT_DEBOUNCE_MIN, extract_debounce};

    #[test]
    fn extraction_waits_four_times_its_last_duration_within_bounds() {
        assert_eq!(extract_debounce(Duration::ZERO), EXTRACT_DEBOUNCE_MIN);
        assert_eq!(
            extract_debounce(Duration::from_millis(2)),
            EXTRACT_DEBOUNCE_MIN
        );
        assert_eq!(
            extract_debounce(Duration::from_millis(50)),
            Duration::from_millis(200)
        );
        assert_eq!(
            extract_debounce(Duration::from_secs(3)),
            EXTRACT_DEBOUNCE_MAX
        );
        assert_eq!(extract_debounce(Duration::MAX), EXTRACT_DEBOUNCE_MAX);
    }
}
