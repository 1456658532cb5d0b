//! Server configuration: addresses, storage, security and limits.

use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr},
    path::PathBuf,
    time::Duration,
};

/// Where the server keeps its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbLocation {
    /// An SQLite database file; created with its parent directories when missing.
    File(PathBuf),
    /// An in-memory SQLite database: nothing survives a restart.
    Memory,
}

impl DbLocation {
    /// Parses a `--db` value: `:memory:` or a path.
    pub fn parse(value: &str) -> Self {
        if value == ":memory:" {
            Self::Memory
        } else {
            Self::File(PathBuf::from(value))
        }
    }

    /// The default database: `agentrace/agentrace.db` in the user's data directory, or in the
    /// current directory when the platform has none.
    pub fn default_file() -> Self {
        let base = dirs::data_dir().unwrap_or_else(|| PathBuf::from("."));
        Self::File(base.join("agentrace").join("agentrace.db"))
    }
}

impl std::fmt::Display for DbLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::File(path) => write!(f, "{}", path.display()),
            Self::Memory => f.write_str(":memory:"),
        }
    }
}

/// Every bound the server enforces. Each is explicit, configurable and reported by
/// `GET /api/config`; a request that would exceed one is refused with an error the producer sees.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// Largest request body accepted on the wire (compressed or not), in bytes.
    pub max_body_bytes: usize,
    /// Largest body after gzip decompression, in bytes.
    pub max_decompressed_bytes: usize,
    /// Largest WebSocket message, in bytes.
    pub max_ws_message_bytes: usize,
    /// Spans plus log records one request (or WebSocket message) may carry; a request with
    /// more is refused whole (413, gRPC `OUT_OF_RANGE`, a WebSocket `error`). Protobuf bodies
    /// are counted on the wire before they are decoded, so a small body of many empty items
    /// never becomes millions of decoded ones.
    pub max_items_per_request: u64,
    /// Bytes of the longest string (a name, an attribute key or value, a log body, nested
    /// values included) a span or log record may hold; one with a longer string is rejected
    /// through partial success, with the reason.
    pub max_string_bytes: u64,
    /// Spans one session may hold; more are rejected through OTLP partial success.
    pub max_spans_per_session: u64,
    /// Log records one session may hold; more are rejected through OTLP partial success.
    pub max_logs_per_session: u64,
    /// Sessions the store may hold; a new session past this is refused with 503 (nothing is
    /// evicted to make room).
    pub max_sessions: u64,
    /// Sessions completed longer ago than this are deleted by the retention sweep; `None` keeps
    /// them until deleted through the API.
    pub retention: Option<Duration>,
    /// Live updates buffered per subscriber before it is told it lagged. Each event is bounded
    /// in size (a `spans_received` lists at most 256 spans, names cut to 256 bytes), so this
    /// bounds the memory a stalled subscriber holds.
    pub live_buffer: usize,
    /// Live subscribers (`/stream/ui-updates` and `/ws/live` together) at once; one more gets
    /// 503 with `Retry-After`.
    pub max_live_subscribers: usize,
    /// WebSocket ingest connections (`/ws/traces`) at once; one more gets 503 with
    /// `Retry-After`. Each holds at most two messages waiting for a worker, so this bounds the
    /// WebSocket part of the workers' queue.
    pub max_ws_connections: usize,
    /// Concurrent gRPC export calls.
    pub grpc_concurrency: usize,
    /// Requests (OTLP/HTTP, OTLP/gRPC, WebSocket messages) decoded and ingested at once, each on
    /// a thread of the blocking pool; at least one. Defaults to the number of cores.
    pub ingest_workers: usize,
    /// OTLP requests that may wait for a worker; one more is refused as overloaded (503 with
    /// `Retry-After`, gRPC `UNAVAILABLE`). WebSocket messages wait instead, bounded by
    /// [`Limits::max_ws_connections`], and are not counted here.
    pub ingest_queue: usize,
    /// Traces held staged at most (keyless traces without a GenAI span, waiting for one; see
    /// [`SessionRules::staged_ttl`]); the spans of a new trace past this are rejected through
    /// OTLP partial success (nothing is evicted to make room).
    pub max_staged_traces: u64,
    /// The SQLite write-ahead log's size bound, in bytes (file databases). Past it the
    /// checkpointer finishes its checkpoint with the writer held for a moment, so the WAL starts
    /// over at the next commit; below it the WAL starts over on its own when a checkpoint ends
    /// between commits. A WAL file grown past this is cut back to it when it starts over.
    pub wal_limit_bytes: u64,
    /// The database's size bound, in bytes (`None`: the disk's). A batch that would grow the
    /// database past it is refused as a full disk is: 503 with `Retry-After`, nothing stored.
    pub max_db_bytes: Option<u64>,
    /// Evaluations one session may hold; one more is refused (409) until some are deleted.
    pub max_evaluations_per_session: u32,
    /// Evaluations (of sessions or uploaded files) run at once, each on a thread of the blocking
    /// pool; one more asked through the API gets 503 with `Retry-After`. Evaluations at
    /// completion wait for a free one instead.
    pub max_concurrent_evaluations: usize,
    /// Bytes of the longest note an annotation may hold (`PUT
    /// /api/sessions/{id}/annotations/{index}`); a longer one is refused with 400.
    pub max_note_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 16 * 1024 * 1024,
            max_decompressed_bytes: 64 * 1024 * 1024,
            max_ws_message_bytes: 16 * 1024 * 1024,
            max_items_per_request: 100_000,
            max_string_bytes: 4 << 20,
            max_spans_per_session: 100_000,
            max_logs_per_session: 50_000,
            max_sessions: 10_000,
            retention: None,
            live_buffer: 1024,
            max_live_subscribers: 64,
            max_ws_connections: 64,
            grpc_concurrency: 32,
            ingest_workers: std::thread::available_parallelism().map_or(2, std::num::NonZero::get),
            ingest_queue: 64,
            max_staged_traces: 1000,
            wal_limit_bytes: 1 << 30,
            max_db_bytes: None,
            max_evaluations_per_session: 100,
            max_concurrent_evaluations: 2,
            max_note_bytes: 4096,
        }
    }
}

/// How sessions are recognised and when they complete (the reference's rules, configurable).
#[derive(Debug, Clone, PartialEq)]
pub struct SessionRules {
    /// A trace with a local root is complete this long after its last span.
    pub completion_grace: Duration,
    /// A trace without a local root (or a log-only session) is complete after this much idle time.
    pub idle_timeout: Duration,
    /// A new trace arriving this long after a named session completed starts a rerun (`name-2`)
    /// when the producer's `service.instance.id` is unknown.
    pub rerun_window: Duration,
    /// A new trace with no session key and no GenAI span (an HTTP or database trace of an
    /// instrumented app, say) is staged: stored, but in no listed session, until a GenAI span or
    /// a key arrives for it. A staged trace that gets neither for this long after its last span
    /// is deleted (counted in `GET /api/health`). Zero turns staging off: every trace gets a
    /// session.
    pub staged_ttl: Duration,
}

impl Default for SessionRules {
    fn default() -> Self {
        Self {
            completion_grace: Duration::from_secs(3),
            idle_timeout: Duration::from_secs(30),
            rerun_window: Duration::from_secs(30),
            staged_ttl: Duration::from_secs(120),
        }
    }
}

/// The whole server configuration. Build it with [`ServerConfig::builder`]. Its `Debug` shows
/// whether a token is set, never the token.
#[derive(Clone)]
pub struct ServerConfig {
    /// Address every listener binds.
    pub host: IpAddr,
    /// Port of the web page, API, WebSocket, SSE and OTLP/HTTP.
    pub port: u16,
    /// Extra OTLP/HTTP port (the standard 4318); `None` disables the extra listener.
    pub otlp_http_port: Option<u16>,
    /// OTLP/gRPC port (the standard 4317); `None` disables gRPC.
    pub otlp_grpc_port: Option<u16>,
    /// Storage.
    pub db: DbLocation,
    /// How a file database syncs its commits (`--durability`).
    pub durability: crate::store::Durability,
    /// Bearer token that protects ingest and the API.
    pub auth_token: Option<String>,
    /// Allows binding a non-loopback address without a token.
    pub allow_insecure_bind: bool,
    /// Serve no web page.
    pub headless: bool,
    /// Directory of eval set JSON files loaded at start.
    pub eval_sets_dir: Option<PathBuf>,
    /// The operator's eval config YAML (`--eval-config`): the evaluators run at session
    /// completion and the only place custom evaluators and judge endpoints come from.
    pub eval_config: Option<PathBuf>,
    /// Extra origins allowed by CORS (the server's own origin is always allowed).
    pub cors_origins: Vec<String>,
    /// Extra names a request's `Host` may carry (`localhost` and IP literals are always allowed;
    /// see [`crate::auth`]). `*` allows any name, which undoes the DNS-rebinding protection.
    pub allowed_hosts: Vec<String>,
    /// Bounds.
    pub limits: Limits,
    /// Session grouping and completion.
    pub sessions: SessionRules,
}

impl std::fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("otlp_http_port", &self.otlp_http_port)
            .field("otlp_grpc_port", &self.otlp_grpc_port)
            .field("db", &self.db)
            .field("durability", &self.durability)
            .field(
                "auth_token",
                &self.auth_token.as_ref().map(|_| "<redacted>"),
            )
            .field("allow_insecure_bind", &self.allow_insecure_bind)
            .field("headless", &self.headless)
            .field("eval_sets_dir", &self.eval_sets_dir)
            .field("eval_config", &self.eval_config)
            .field("cors_origins", &self.cors_origins)
            .field("allowed_hosts", &self.allowed_hosts)
            .field("limits", &self.limits)
            .field("sessions", &self.sessions)
            .finish()
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 8001,
            otlp_http_port: Some(4318),
            otlp_grpc_port: Some(4317),
            db: DbLocation::default_file(),
            durability: crate::store::Durability::default(),
            auth_token: None,
            allow_insecure_bind: false,
            headless: false,
            eval_sets_dir: None,
            eval_config: None,
            cors_origins: Vec::new(),
            allowed_hosts: Vec::new(),
            limits: Limits::default(),
            sessions: SessionRules::default(),
        }
    }
}

/// Why a configuration cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    /// A non-loopback address without a token would expose every session to the network.
    #[error(
        "refusing to bind {0} without an auth token: set --auth-token (AGENTRACE_AUTH_TOKEN) or \
         pass --allow-insecure-bind"
    )]
    InsecureBind(IpAddr),
    /// The token is empty.
    #[error("the auth token must not be empty")]
    EmptyToken,
    /// Two listeners on one port.
    #[error("port {0} is used by two listeners")]
    PortClash(u16),
}

impl ServerConfig {
    /// Starts a builder with the defaults: 127.0.0.1, port 8001, OTLP on 4318 and 4317, SQLite in
    /// the user's data directory.
    pub fn builder() -> ServerConfigBuilder {
        ServerConfigBuilder {
            config: Self::default(),
        }
    }

    /// Starts a builder for a server embedded in a test or a program: 127.0.0.1 on a port the
    /// system picks (read it from [`crate::Server::main_addr`]), no separate OTLP ports (the
    /// main port serves OTLP/HTTP and the WebSocket), an in-memory database, no browser.
    pub fn ephemeral() -> ServerConfigBuilder {
        Self::builder()
            .with_port(0)
            .with_otlp_http_port(None)
            .with_otlp_grpc_port(None)
            .with_db(DbLocation::Memory)
            .with_headless(true)
    }

    /// Checks the rules that make a configuration safe to start.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.auth_token.as_deref().is_some_and(str::is_empty) {
            return Err(ConfigError::EmptyToken);
        }
        if !self.host.is_loopback() && self.auth_token.is_none() && !self.allow_insecure_bind {
            return Err(ConfigError::InsecureBind(self.host));
        }
        let mut ports = vec![self.port];
        for port in [self.otlp_http_port, self.otlp_grpc_port]
            .into_iter()
            .flatten()
        {
            if port != 0 && ports.contains(&port) {
                return Err(ConfigError::PortClash(port));
            }
            ports.push(port);
        }
        Ok(())
    }

    /// The main listener's address.
    pub fn main_addr(&self) -> SocketAddr {
        SocketAddr::new(self.host, self.port)
    }
}

/// Builder for [`ServerConfig`].
#[derive(Debug, Clone)]
pub struct ServerConfigBuilder {
    config: ServerConfig,
}

impl ServerConfigBuilder {
    /// Sets the bind address.
    pub fn with_host(mut self, host: IpAddr) -> Self {
        self.config.host = host;
        self
    }
    /// Sets the main port (0 picks a free one).
    pub fn with_port(mut self, port: u16) -> Self {
        self.config.port = port;
        self
    }
    /// Sets or disables the extra OTLP/HTTP port.
    pub fn with_otlp_http_port(mut self, port: Option<u16>) -> Self {
        self.config.otlp_http_port = port;
        self
    }
    /// Sets or disables the OTLP/gRPC port.
    pub fn with_otlp_grpc_port(mut self, port: Option<u16>) -> Self {
        self.config.otlp_grpc_port = port;
        self
    }
    /// Sets the storage.
    pub fn with_db(mut self, db: DbLocation) -> Self {
        self.config.db = db;
        self
    }
    /// Sets how commits are synced.
    pub fn with_durability(mut self, durability: crate::store::Durability) -> Self {
        self.config.durability = durability;
        self
    }
    /// Protects ingest and the API with a bearer token.
    pub fn with_auth_token(mut self, token: Option<String>) -> Self {
        self.config.auth_token = token;
        self
    }
    /// Allows a non-loopback bind without a token.
    pub fn with_allow_insecure_bind(mut self, allow: bool) -> Self {
        self.config.allow_insecure_bind = allow;
        self
    }
    /// Serves no web page.
    pub fn with_headless(mut self, headless: bool) -> Self {
        self.config.headless = headless;
        self
    }
    /// Loads the eval sets of this directory at start.
    pub fn with_eval_sets_dir(mut self, dir: Option<PathBuf>) -> Self {
        self.config.eval_sets_dir = dir;
        self
    }
    /// Reads the operator's eval config YAML at start (`--eval-config`).
    pub fn with_eval_config(mut self, path: Option<PathBuf>) -> Self {
        self.config.eval_config = path;
        self
    }
    /// Allows extra CORS origins.
    pub fn with_cors_origins(mut self, origins: Vec<String>) -> Self {
        self.config.cors_origins = origins;
        self
    }
    /// Allows extra `Host` names (for a server reached through a name other than `localhost`,
    /// e.g. `host.docker.internal`).
    pub fn with_allowed_hosts(mut self, hosts: Vec<String>) -> Self {
        self.config.allowed_hosts = hosts;
        self
    }
    /// Sets the limits.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.config.limits = limits;
        self
    }
    /// Sets the session rules.
    pub fn with_session_rules(mut self, rules: SessionRules) -> Self {
        self.config.sessions = rules;
        self
    }
    /// Validates and returns the configuration.
    pub fn build(self) -> Result<ServerConfig, ConfigError> {
        self.config.validate()?;
        Ok(self.config)
    }
}
