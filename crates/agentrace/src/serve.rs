//! `agentrace serve`: arguments, then a call into `agentrace-server`.

use std::{net::IpAddr, path::PathBuf, process::ExitCode, time::Duration};

use agentrace_server::{
    Server,
    config::{DbLocation, Limits, ServerConfig, SessionRules},
};
use anyhow::{Context, Result};
use clap::Args;

/// Arguments of `agentrace serve`.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Address every listener binds. A non-loopback address needs --auth-token (or
    /// --allow-insecure-bind).
    #[arg(long, env = "AGENTRACE_HOST", default_value = "127.0.0.1")]
    host: IpAddr,
    /// Port of the web page, API, WebSocket, SSE and OTLP/HTTP.
    #[arg(short, long, env = "AGENTRACE_PORT", default_value_t = 8001)]
    port: u16,
    /// Extra OTLP/HTTP port (the standard 4318); 0 disables it.
    #[arg(long, env = "AGENTRACE_OTLP_HTTP_PORT", default_value_t = 4318)]
    otlp_http_port: u16,
    /// OTLP/gRPC port (the standard 4317); 0 disables it.
    #[arg(long, env = "AGENTRACE_OTLP_GRPC_PORT", default_value_t = 4317)]
    otlp_grpc_port: u16,
    /// SQLite database file, or `:memory:` [default: agentrace/agentrace.db in the user's data
    /// directory].
    #[arg(long, env = "AGENTRACE_DB")]
    db: Option<String>,
    /// How commits are synced: normal (a crash of the process loses nothing acknowledged, a
    /// power loss may lose the last commits) or full (every commit synced before the answer).
    #[arg(long, env = "AGENTRACE_DURABILITY", default_value = "normal")]
    durability: agentrace_server::store::Durability,
    /// Bound of the database's size, in MiB; past it ingest is refused with 503 and
    /// Retry-After, as on a full disk (default: none).
    #[arg(long, env = "AGENTRACE_MAX_DB_MIB")]
    max_db_mib: Option<u64>,
    /// Bearer token that protects ingest and the API. Prefer the environment variable or
    /// --auth-token-file: a command-line argument is visible to every user of the machine (ps).
    #[arg(long, env = "AGENTRACE_AUTH_TOKEN", hide_env_values = true)]
    auth_token: Option<String>,
    /// File holding the bearer token (its first line; surrounding whitespace is ignored).
    #[arg(
        long,
        env = "AGENTRACE_AUTH_TOKEN_FILE",
        conflicts_with = "auth_token",
        value_name = "PATH"
    )]
    auth_token_file: Option<PathBuf>,
    /// Allow a non-loopback --host without a token (anyone who reaches the port sees everything).
    #[arg(long, env = "AGENTRACE_ALLOW_INSECURE_BIND")]
    allow_insecure_bind: bool,
    /// Extra browser origin allowed to call the API (repeatable).
    #[arg(
        long = "cors-origin",
        env = "AGENTRACE_CORS_ORIGINS",
        value_delimiter = ','
    )]
    cors_origins: Vec<String>,
    /// Extra name a request's Host header may carry (repeatable). localhost and IP addresses are
    /// always accepted; any other name is refused with 403 (protection against DNS rebinding).
    /// Needed when the server is reached by name, e.g. host.docker.internal; `*` accepts any.
    #[arg(
        long = "allow-host",
        env = "AGENTRACE_ALLOWED_HOSTS",
        value_delimiter = ','
    )]
    allowed_hosts: Vec<String>,
    /// Directory of ADK eval set JSON files loaded at start.
    #[arg(long, env = "AGENTRACE_EVAL_SETS")]
    eval_sets: Option<PathBuf>,
    /// Eval config YAML (`evaluators:` list, as `agentrace run --config`): the evaluators a
    /// session that names an eval set is scored with when it completes, and the only place
    /// custom evaluator programs and LLM-judge endpoints come from (requests can only name them).
    #[arg(long, env = "AGENTRACE_EVAL_CONFIG")]
    eval_config: Option<PathBuf>,
    /// Evaluations stored per session; one more is refused with 409.
    #[arg(long, env = "AGENTRACE_MAX_EVALUATIONS_PER_SESSION", default_value_t = Limits::default().max_evaluations_per_session)]
    max_evaluations_per_session: u32,
    /// Evaluations running at once; one more asked through the API gets 503.
    #[arg(long, env = "AGENTRACE_MAX_CONCURRENT_EVALUATIONS", default_value_t = Limits::default().max_concurrent_evaluations)]
    max_concurrent_evaluations: usize,
    /// Serve no web page (API, ingest and live feeds only).
    #[arg(long, env = "AGENTRACE_HEADLESS")]
    headless: bool,
    /// Sessions stored at most; a new session past this is refused with 503.
    #[arg(long, env = "AGENTRACE_MAX_SESSIONS", default_value_t = Limits::default().max_sessions)]
    max_sessions: u64,
    /// Spans per session; more are rejected through OTLP partial success.
    #[arg(long, env = "AGENTRACE_MAX_SPANS_PER_SESSION", default_value_t = Limits::default().max_spans_per_session)]
    max_spans_per_session: u64,
    /// Log records per session; more are rejected through OTLP partial success.
    #[arg(long, env = "AGENTRACE_MAX_LOGS_PER_SESSION", default_value_t = Limits::default().max_logs_per_session)]
    max_logs_per_session: u64,
    /// Largest request body on the wire, in bytes.
    #[arg(long, env = "AGENTRACE_MAX_BODY_BYTES", default_value_t = Limits::default().max_body_bytes)]
    max_body_bytes: usize,
    /// Traces held staged at most (traces with no session key and no GenAI span wait staged,
    /// unlisted, for one to arrive); a new one past this is rejected through partial success.
    #[arg(long, env = "AGENTRACE_MAX_STAGED_TRACES", default_value_t = Limits::default().max_staged_traces)]
    max_staged_traces: u64,
    /// Seconds a staged trace waits for a GenAI span or a session key before it is deleted;
    /// 0 turns staging off (every trace gets a session).
    #[arg(long, env = "AGENTRACE_STAGED_TTL_SECS", default_value_t = SessionRules::default().staged_ttl.as_secs())]
    staged_ttl_secs: u64,
    /// Largest request body after gzip decompression, in bytes (also the largest gRPC message).
    #[arg(long, env = "AGENTRACE_MAX_DECOMPRESSED_BYTES", default_value_t = Limits::default().max_decompressed_bytes)]
    max_decompressed_bytes: usize,
    /// Largest WebSocket ingest message (/ws/traces), in bytes.
    #[arg(long, env = "AGENTRACE_MAX_WS_MESSAGE_BYTES", default_value_t = Limits::default().max_ws_message_bytes)]
    max_ws_message_bytes: usize,
    /// Concurrent gRPC calls per connection.
    #[arg(long, env = "AGENTRACE_GRPC_CONCURRENCY", default_value_t = Limits::default().grpc_concurrency)]
    grpc_concurrency: usize,
    /// Spans plus log records one request may carry; a request with more is refused whole
    /// (413, gRPC OUT_OF_RANGE).
    #[arg(long, env = "AGENTRACE_MAX_ITEMS_PER_REQUEST", default_value_t = Limits::default().max_items_per_request)]
    max_items_per_request: u64,
    /// Bytes of the longest note an annotation of a turn may hold (the page's verdict and note).
    #[arg(long, env = "AGENTRACE_MAX_NOTE_BYTES", default_value_t = Limits::default().max_note_bytes)]
    max_note_bytes: usize,
    /// Bytes of the longest string a span or log record may hold (a name, an attribute, a log
    /// body); one with a longer string is rejected through partial success.
    #[arg(long, env = "AGENTRACE_MAX_STRING_BYTES", default_value_t = Limits::default().max_string_bytes)]
    max_string_bytes: u64,
    /// Live events buffered per subscriber (SSE, /ws/live); one that falls further behind is
    /// told how many it missed.
    #[arg(long, env = "AGENTRACE_LIVE_BUFFER", default_value_t = Limits::default().live_buffer)]
    live_buffer: usize,
    /// Live subscribers (SSE and /ws/live together) at once; one more gets 503.
    #[arg(long, env = "AGENTRACE_MAX_LIVE_SUBSCRIBERS", default_value_t = Limits::default().max_live_subscribers)]
    max_live_subscribers: usize,
    /// WebSocket ingest connections (/ws/traces) at once; one more gets 503.
    #[arg(long, env = "AGENTRACE_MAX_WS_CONNECTIONS", default_value_t = Limits::default().max_ws_connections)]
    max_ws_connections: usize,
    /// Requests decoded and ingested at once (default: the number of cores).
    #[arg(long, env = "AGENTRACE_INGEST_WORKERS", default_value_t = Limits::default().ingest_workers)]
    ingest_workers: usize,
    /// Requests that may wait for an ingest worker; one more OTLP request is refused as
    /// overloaded (503 with Retry-After, gRPC UNAVAILABLE).
    #[arg(long, env = "AGENTRACE_INGEST_QUEUE", default_value_t = Limits::default().ingest_queue)]
    ingest_queue: usize,
    /// Bound of the SQLite write-ahead log, in MiB: past it a checkpoint briefly holds the
    /// writer so the log starts over.
    #[arg(long, env = "AGENTRACE_WAL_LIMIT_MIB", default_value_t = Limits::default().wal_limit_bytes >> 20)]
    wal_limit_mib: u64,
    /// Delete sessions completed more than this many hours ago (default: keep them).
    #[arg(long, env = "AGENTRACE_RETENTION_HOURS")]
    retention_hours: Option<u64>,
    /// More logging: -v info, -vv debug.
    #[arg(short, long, action = clap::ArgAction::Count)]
    verbose: u8,
}

fn port(p: u16) -> Option<u16> {
    (p != 0).then_some(p)
}

/// Runs the server until Ctrl-C or SIGTERM.
pub(crate) fn run(args: ServeArgs) -> Result<ExitCode> {
    let level = match args.verbose {
        0 => "warn,agentrace_server=info",
        1 => "info",
        _ => "debug",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level)),
        )
        .with_writer(std::io::stderr)
        .init();
    let limits = Limits {
        max_sessions: args.max_sessions,
        max_spans_per_session: args.max_spans_per_session,
        max_logs_per_session: args.max_logs_per_session,
        max_body_bytes: args.max_body_bytes,
        retention: args
            .retention_hours
            .map(|h| Duration::from_secs(h.saturating_mul(3600))),
        max_staged_traces: args.max_staged_traces,
        live_buffer: args.live_buffer,
        max_items_per_request: args.max_items_per_request,
        max_string_bytes: args.max_string_bytes,
        max_note_bytes: args.max_note_bytes,
        max_decompressed_bytes: args.max_decompressed_bytes,
        max_ws_message_bytes: args.max_ws_message_bytes,
        grpc_concurrency: args.grpc_concurrency,
        max_live_subscribers: args.max_live_subscribers,
        max_ws_connections: args.max_ws_connections,
        ingest_workers: args.ingest_workers,
        ingest_queue: args.ingest_queue,
        wal_limit_bytes: args.wal_limit_mib.saturating_mul(1 << 20),
        max_db_bytes: args.max_db_mib.map(|m| m.saturating_mul(1 << 20)),
        max_evaluations_per_session: args.max_evaluations_per_session,
        max_concurrent_evaluations: args.max_concurrent_evaluations,
    };
    let rules = SessionRules {
        staged_ttl: Duration::from_secs(args.staged_ttl_secs),
        ..SessionRules::default()
    };
    let token = match (&args.auth_token, &args.auth_token_file) {
        (_, Some(path)) => Some(read_token_file(path)?),
        (token, None) => token.clone(),
    };
    let db = args
        .db
        .as_deref()
        .map_or_else(DbLocation::default_file, DbLocation::parse);
    let config = ServerConfig::builder()
        .with_host(args.host)
        .with_port(args.port)
        .with_otlp_http_port(port(args.otlp_http_port))
        .with_otlp_grpc_port(port(args.otlp_grpc_port))
        .with_db(db)
        .with_durability(args.durability)
        .with_auth_token(token)
        .with_allow_insecure_bind(args.allow_insecure_bind)
        .with_cors_origins(args.cors_origins)
        .with_allowed_hosts(args.allowed_hosts)
        .with_eval_sets_dir(args.eval_sets)
        .with_eval_config(args.eval_config)
        .with_headless(args.headless)
        .with_limits(limits)
        .with_session_rules(rules)
        .build()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let db = config.db.to_string();
        let headless = config.headless;
        let server = Server::start(config).await?;
        let main = server.main_addr();
        eprintln!("agentrace serve");
        if !headless {
            eprintln!("  web page       http://{main}/");
        }
        eprintln!("  API            http://{main}/api");
        eprintln!("  OTLP/HTTP      http://{main}/v1/traces");
        if let Some(addr) = server.otlp_http_addr() {
            eprintln!("  OTLP/HTTP      http://{addr}/v1/traces");
        }
        if let Some(addr) = server.otlp_grpc_addr() {
            eprintln!("  OTLP/gRPC      http://{addr}");
        }
        eprintln!("  WebSocket      ws://{main}/ws/traces");
        eprintln!("  live (SSE)     http://{main}/stream/ui-updates");
        eprintln!("  database       {db}");
        shutdown_signal().await;
        eprintln!("shutting down");
        server.shutdown().await;
        Ok::<(), anyhow::Error>(())
    })?;
    Ok(ExitCode::SUCCESS)
}

/// The token in `path`: its first line, trimmed.
fn read_token_file(path: &std::path::Path) -> Result<String> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the token file {}", path.display()))?;
    let token = text.lines().next().unwrap_or_default().trim();
    anyhow::ensure!(
        !token.is_empty(),
        "the token file {} is empty",
        path.display()
    );
    Ok(token.to_owned())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
