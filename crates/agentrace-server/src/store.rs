//! Embedded storage: one SQLite database holds sessions, spans, logs, invocations and eval sets.
//!
//! The store is synchronous (rusqlite); the server calls it from blocking tasks. Every ingest
//! batch is one transaction that commits before the producer is answered, so what was
//! acknowledged survives a crash of the process. The database runs in WAL mode with
//! `synchronous=NORMAL` by default ([`Durability::Normal`]): a killed process loses nothing
//! committed, but a power loss or an operating-system crash can lose the last transactions
//! acknowledged before it. [`Durability::Full`] (`--durability full`) syncs the log at every
//! commit, so an acknowledged batch survives that too, at the cost of an fsync per batch.
//!
//! One process opens a database at a time: a file database is locked (`flock`) while open, and a
//! second server gets [`StoreError::InUse`]. A full disk (or `--max-db-mib` reached) is
//! [`StoreError::Full`] and a database locked by another program past the busy timeout is
//! [`StoreError::Busy`]: both are answered 503 with `Retry-After` (gRPC `UNAVAILABLE`), which
//! OTLP exporters retry, and nothing of the batch is kept.
//!
//! Spans and logs are kept as OTLP/JSON objects together with the resource and scope they came
//! with (stored once per distinct pair, in `origins`), so a session exports back to a standard
//! OTLP/JSON document.

use std::{
    path::Path,
    sync::{Arc, Weak},
    time::{SystemTime, UNIX_EPOCH},
};

use agentrace_loader::{
    hash::{Map, Set},
    model::SpanId,
};
use parking_lot::Mutex;
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use crate::config::DbLocation;
use crate::extract::Invocation;

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed.
    #[error("database error: {0}")]
    Sqlite(rusqlite::Error),
    /// The disk is full, or the database reached `--max-db-mib`; retry after freeing space.
    #[error("{0}")]
    Full(String),
    /// Another program holds the database locked past the busy timeout; retry later.
    #[error("{0}")]
    Busy(String),
    /// Another process (a second server) has the database open.
    #[error("the database {0} is in use by another agentrace server; stop it or pass another --db")]
    InUse(String),
    /// The database file's directory could not be created.
    #[error("cannot create {path}: {source}")]
    Io {
        /// The directory.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// No such item.
    #[error("{0}")]
    NotFound(String),
    /// A configured bound would be passed (the message names the flag).
    #[error("{0}")]
    Limit(String),
    /// Stored data could not be read back (a chunk that does not decompress, say).
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
    /// Stored JSON could not be read back.
    #[error("corrupt stored JSON: {0}")]
    Json(#[from] serde_json::Error),
}

impl From<rusqlite::Error> for StoreError {
    /// Storage faults a producer should retry (a full disk, a busy database) become
    /// [`StoreError::Full`] and [`StoreError::Busy`]; the rest stay SQLite errors.
    fn from(err: rusqlite::Error) -> Self {
        match err.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DiskFull) => Self::Full(
                "the database is full (no space left on its disk, or --max-db-mib reached); \
                 nothing of this batch was stored: retry after freeing space"
                    .to_owned(),
            ),
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
                Self::Busy(
                    "the database is locked by another program; nothing of this batch was \
                     stored: retry later"
                        .to_owned(),
                )
            }
            _ => Self::Sqlite(err),
        }
    }
}

impl StoreError {
    /// Whether the producer should retry later (503 with `Retry-After`, gRPC `UNAVAILABLE`).
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Full(_) | Self::Busy(_))
    }
}

/// How a file database syncs its commits (`--durability`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Durability {
    /// `synchronous=NORMAL` (the default): the write-ahead log is synced at checkpoints, not at
    /// every commit. A crash of the process loses nothing acknowledged; a power loss or an
    /// operating-system crash may lose the last commits.
    #[default]
    Normal,
    /// `synchronous=FULL`: every commit syncs the log before the producer is answered, so an
    /// acknowledged batch survives a power loss too.
    Full,
}

impl Durability {
    /// The name of the level (`normal`, `full`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Normal => "normal",
            Self::Full => "full",
        }
    }
}

impl std::str::FromStr for Durability {
    type Err = String;
    fn from_str(value: &str) -> Result<Self, String> {
        match value {
            "normal" => Ok(Self::Normal),
            "full" => Ok(Self::Full),
            other => Err(format!("unknown durability `{other}`: use full or normal")),
        }
    }
}

/// How a store is opened. Build it with [`StoreOptions::default`] and its `with_*` methods.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreOptions {
    /// The write-ahead log's bound ([`crate::config::Limits::wal_limit_bytes`]); `None` takes
    /// the default.
    pub wal_limit_bytes: Option<u64>,
    /// How commits are synced.
    pub durability: Durability,
    /// The database's size bound ([`crate::config::Limits::max_db_bytes`]); `None` for none.
    pub max_db_bytes: Option<u64>,
}

impl StoreOptions {
    /// Sets the WAL bound.
    pub fn with_wal_limit_bytes(mut self, bytes: u64) -> Self {
        self.wal_limit_bytes = Some(bytes);
        self
    }
    /// Sets the durability.
    pub fn with_durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }
    /// Bounds the database's size.
    pub fn with_max_db_bytes(mut self, bytes: Option<u64>) -> Self {
        self.max_db_bytes = bytes;
        self
    }
}

/// The tables. Sessions are referred to by their row number (`sessions.rid`), not their id: the
/// ids are the producers' keys (conversation ids, names), random to the B-trees, while row numbers
/// grow, so the rows a new session adds to `span_chunks_by_session` and `invocations` land on the
/// pages the last commit wrote. Invocations are rows of a rowid table, so their bodies (a few
/// kilobytes of JSON each) pack into its pages in the order written, with a small index beside
/// them; a table keyed by (session, index) kept only a few bodies per page and spilled the rest
/// to overflow pages. Sessions are looked up by key in memory only (`SessionIndex`), so the key
/// has no index.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS sessions (
    rid             INTEGER PRIMARY KEY,
    id              TEXT NOT NULL UNIQUE,
    key_kind        TEXT NOT NULL,
    key             TEXT NOT NULL,
    eval_set_id     TEXT,
    metadata        TEXT NOT NULL DEFAULT '{}',
    created_at_ns   INTEGER NOT NULL,
    updated_at_ns   INTEGER NOT NULL,
    completed_at_ns INTEGER,
    span_count      INTEGER NOT NULL DEFAULT 0,
    log_count       INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS origins (
    id   INTEGER PRIMARY KEY,
    json TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS span_chunks (
    id         INTEGER PRIMARY KEY,
    session    INTEGER NOT NULL,
    trace_id   TEXT NOT NULL,
    origin_id  INTEGER NOT NULL,
    span_count INTEGER NOT NULL,
    body       BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS span_chunks_by_session ON span_chunks(session);
CREATE INDEX IF NOT EXISTS span_chunks_by_origin ON span_chunks(origin_id);
CREATE INDEX IF NOT EXISTS span_chunks_by_trace ON span_chunks(trace_id);
CREATE TABLE IF NOT EXISTS chunk_span_ids (
    chunk_id INTEGER PRIMARY KEY,
    ids      BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS span_ids (
    trace_id TEXT NOT NULL,
    span_id  TEXT NOT NULL,
    PRIMARY KEY (trace_id, span_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS logs (
    id          INTEGER PRIMARY KEY,
    session     INTEGER NOT NULL,
    trace_id    TEXT,
    span_id     TEXT,
    time_ns     INTEGER NOT NULL,
    origin_id   INTEGER NOT NULL,
    fingerprint TEXT NOT NULL UNIQUE,
    body        TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS logs_by_session ON logs(session, time_ns);
CREATE INDEX IF NOT EXISTS logs_by_origin ON logs(origin_id);
CREATE INDEX IF NOT EXISTS logs_by_trace ON logs(trace_id);
CREATE TABLE IF NOT EXISTS invocations (
    id      INTEGER PRIMARY KEY,
    session INTEGER NOT NULL,
    idx     INTEGER NOT NULL,
    body    TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS invocations_by_session ON invocations(session, idx);
CREATE TABLE IF NOT EXISTS eval_sets (
    id            TEXT PRIMARY KEY,
    name          TEXT,
    case_count    INTEGER NOT NULL,
    body          TEXT NOT NULL,
    created_at_ns INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS evaluations (
    id            INTEGER PRIMARY KEY,
    session       INTEGER NOT NULL,
    eval_set_id   TEXT,
    created_at_ns INTEGER NOT NULL,
    body          TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS evaluations_by_session ON evaluations(session, id);
";

/// The layout before sessions had row numbers (spans, logs and invocations named their session
/// by id): what [`MIGRATE_TO_ROW_NUMBERS`] starts from. A database of that layout gets its
/// missing tables in it first, so the migration finds all of them.
const SCHEMA_V1: &str = "
CREATE TABLE IF NOT EXISTS sessions (
    id              TEXT PRIMARY KEY,
    key_kind        TEXT NOT NULL,
    key             TEXT NOT NULL,
    eval_set_id     TEXT,
    metadata        TEXT NOT NULL DEFAULT '{}',
    created_at_ns   INTEGER NOT NULL,
    updated_at_ns   INTEGER NOT NULL,
    completed_at_ns INTEGER,
    span_count      INTEGER NOT NULL DEFAULT 0,
    log_count       INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS origins (
    id   INTEGER PRIMARY KEY,
    json TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS span_chunks (
    id         INTEGER PRIMARY KEY,
    session_id TEXT NOT NULL,
    trace_id   TEXT NOT NULL,
    origin_id  INTEGER NOT NULL,
    span_count INTEGER NOT NULL,
    body       BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS span_chunks_by_session ON span_chunks(session_id);
CREATE INDEX IF NOT EXISTS span_chunks_by_trace ON span_chunks(trace_id);
CREATE TABLE IF NOT EXISTS chunk_span_ids (
    chunk_id INTEGER PRIMARY KEY,
    ids      BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS span_ids (
    trace_id TEXT NOT NULL,
    span_id  TEXT NOT NULL,
    PRIMARY KEY (trace_id, span_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS logs (
    id          INTEGER PRIMARY KEY,
    session_id  TEXT NOT NULL,
    trace_id    TEXT,
    span_id     TEXT,
    time_ns     INTEGER NOT NULL,
    origin_id   INTEGER NOT NULL,
    fingerprint TEXT NOT NULL UNIQUE,
    body        TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS logs_by_session ON logs(session_id, time_ns);
CREATE INDEX IF NOT EXISTS logs_by_trace ON logs(trace_id);
CREATE TABLE IF NOT EXISTS invocations (
    session_id TEXT NOT NULL,
    idx        INTEGER NOT NULL,
    body       TEXT NOT NULL,
    PRIMARY KEY (session_id, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS eval_sets (
    id            TEXT PRIMARY KEY,
    name          TEXT,
    case_count    INTEGER NOT NULL,
    body          TEXT NOT NULL,
    created_at_ns INTEGER NOT NULL
);
";

/// From [`SCHEMA_V1`] to [`SCHEMA`], in one transaction: every row is copied with its session's
/// row number. A row naming a session that has no row (none should) gets a session row first,
/// so nothing is lost.
const MIGRATE_TO_ROW_NUMBERS: &str = "
INSERT INTO sessions (id, key_kind, key, created_at_ns, updated_at_ns)
    SELECT DISTINCT session_id, 'name', session_id, 0, 0 FROM (
        SELECT session_id FROM span_chunks UNION SELECT session_id FROM logs
        UNION SELECT session_id FROM invocations)
    WHERE session_id NOT IN (SELECT id FROM sessions);
DROP INDEX IF EXISTS sessions_by_key;
DROP INDEX IF EXISTS span_chunks_by_session;
DROP INDEX IF EXISTS span_chunks_by_trace;
DROP INDEX IF EXISTS logs_by_session;
DROP INDEX IF EXISTS logs_by_trace;
ALTER TABLE sessions RENAME TO sessions_v1;
ALTER TABLE span_chunks RENAME TO span_chunks_v1;
ALTER TABLE logs RENAME TO logs_v1;
ALTER TABLE invocations RENAME TO invocations_v1;
";

/// After [`MIGRATE_TO_ROW_NUMBERS`] and [`SCHEMA`]: the rows copied over, the old tables dropped.
const COPY_TO_ROW_NUMBERS: &str = "
INSERT INTO sessions (id, key_kind, key, eval_set_id, metadata, created_at_ns, updated_at_ns,
        completed_at_ns, span_count, log_count)
    SELECT id, key_kind, key, eval_set_id, metadata, created_at_ns, updated_at_ns,
        completed_at_ns, span_count, log_count
    FROM sessions_v1 ORDER BY created_at_ns, id;
INSERT INTO span_chunks (id, session, trace_id, origin_id, span_count, body)
    SELECT c.id, s.rid, c.trace_id, c.origin_id, c.span_count, c.body
    FROM span_chunks_v1 c JOIN sessions s ON s.id = c.session_id ORDER BY c.id;
INSERT INTO logs (id, session, trace_id, span_id, time_ns, origin_id, fingerprint, body)
    SELECT l.id, s.rid, l.trace_id, l.span_id, l.time_ns, l.origin_id, l.fingerprint, l.body
    FROM logs_v1 l JOIN sessions s ON s.id = l.session_id ORDER BY l.id;
INSERT INTO invocations (session, idx, body)
    SELECT s.rid, i.idx, i.body FROM invocations_v1 i JOIN sessions s ON s.id = i.session_id;
DROP TABLE sessions_v1;
DROP TABLE span_chunks_v1;
DROP TABLE logs_v1;
DROP TABLE invocations_v1;
";

/// Databases written before spans were stored in chunks kept one row per span in `spans`: each
/// becomes a chunk of one, once.
const MIGRATE_SPAN_ROWS: &str = "
INSERT INTO span_chunks (session_id, trace_id, origin_id, span_count, body)
    SELECT session_id, trace_id, origin_id, 1, '[' || body || ']' FROM spans ORDER BY start_ns;
INSERT OR IGNORE INTO span_ids (trace_id, span_id) SELECT trace_id, span_id FROM spans;
DROP TABLE spans;
";

/// Creates the tables, or brings a database of an earlier layout to this one (in one
/// transaction: an error leaves the database as it was).
fn migrate(conn: &Connection) -> Result<(), StoreError> {
    let sessions_columns: Vec<String> = conn
        .prepare("SELECT name FROM pragma_table_info('sessions')")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let tx = conn.unchecked_transaction()?;
    if !sessions_columns.is_empty() && !sessions_columns.iter().any(|c| c == "rid") {
        tx.execute_batch(SCHEMA_V1)?;
        let span_rows: i64 = tx.query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'spans'",
            [],
            |r| r.get(0),
        )?;
        if span_rows > 0 {
            tx.execute_batch(MIGRATE_SPAN_ROWS)?;
        }
        tx.execute_batch(MIGRATE_TO_ROW_NUMBERS)?;
        tx.execute_batch(SCHEMA)?;
        tx.execute_batch(COPY_TO_ROW_NUMBERS)?;
    } else {
        tx.execute_batch(SCHEMA)?;
    }
    tx.execute_batch(crate::search::SCHEMA)?;
    tx.execute_batch(crate::annotations::SCHEMA)?;
    crate::search::backfill(&tx)?;
    tx.commit()?;
    Ok(())
}

/// A span ready to store.
///
/// Spans are stored in chunks: the spans of one trace, session and origin that arrive in one
/// batch share a row (`span_chunks`: the spans in the binary form of [`crate::codec`], compressed
/// with LZ4 block compression, its size prepended), and `chunk_span_ids` keeps the span ids of
/// each chunk (8 bytes each, one row per chunk) so a retried export is stored once: a batch reads
/// the ids of only the traces it holds that the store already has, one index probe per trace
/// instead of an insert per span. Databases of
/// earlier versions kept one `span_ids` row per span; those rows are still consulted.
/// A row per span cost most of the ingest time; compression cut what is written (to the WAL, then
/// again by the checkpoint) to a fraction, and the binary form costs a fraction of writing JSON.
/// Chunks of older databases (a JSON array, compressed or as text) are read as they are.
#[derive(Debug, Clone)]
pub struct NewSpan {
    /// Trace id, lowercase hex (shared by the spans of one trace).
    pub trace_id: std::sync::Arc<str>,
    /// Span id (its 8 bytes: kept per chunk for deduplication).
    pub span_id: [u8; 8],
    /// The resource and scope as JSON: `{"resource": {...}, "scope": {...}}` (shared by the
    /// items of one resource and scope).
    pub origin: std::sync::Arc<str>,
    /// The span in the store's binary form ([`crate::codec::encode_span`]).
    pub body: Vec<u8>,
}

impl NewSpan {
    /// A span ready to store, with the JSON of its resource and scope.
    pub fn new(span: &agentrace_loader::model::Span, origin: std::sync::Arc<str>) -> Self {
        Self::of_trace(span, span.trace_id.to_string().into(), origin)
    }

    /// [`NewSpan::new`] with the span's trace id already written out (`trace_id`, the hex form
    /// of `span.trace_id`): the spans of a trace share it.
    pub fn of_trace(
        span: &agentrace_loader::model::Span,
        trace_id: std::sync::Arc<str>,
        origin: std::sync::Arc<str>,
    ) -> Self {
        debug_assert_eq!(*trace_id, span.trace_id.to_string());
        let mut body = Vec::with_capacity(256);
        crate::codec::encode_span(span, &mut body);
        Self {
            trace_id,
            span_id: span.span_id.0,
            origin,
            body,
        }
    }
}

/// A log record ready to store.
#[derive(Debug, Clone)]
pub struct NewLog {
    /// Trace id, lowercase hex.
    pub trace_id: Option<String>,
    /// Span id, lowercase hex.
    pub span_id: Option<String>,
    /// Time, nanoseconds since the epoch.
    pub time_ns: i64,
    /// The resource and scope as JSON.
    pub origin: std::sync::Arc<str>,
    /// A fingerprint of the record's content: a retried export stores it once. Stored with
    /// its session's row number in front (`rid:hash`), so the same record sent into another
    /// session is stored there too (rows written before that carry the bare hash).
    pub fingerprint: String,
    /// The record as an OTLP/JSON object.
    pub body: String,
}

/// A session row.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SessionRow {
    /// Session id.
    pub id: String,
    /// What the key is: `name`, `conversation`, `session_id`, `trace` or `websocket`.
    pub key_kind: String,
    /// The grouping key.
    pub key: String,
    /// Eval set the producer named.
    pub eval_set_id: Option<String>,
    /// Producer metadata.
    pub metadata: serde_json::Value,
    /// When the session was created (server clock), ns.
    pub created_at_ns: i64,
    /// When data last arrived, ns.
    pub updated_at_ns: i64,
    /// When the session completed, ns.
    pub completed_at_ns: Option<i64>,
    /// Spans held.
    pub span_count: i64,
    /// Log records held.
    pub log_count: i64,
}

/// A stored span or log with its origin.
#[derive(Debug, Clone)]
pub struct StoredItem {
    /// The resource and scope JSON.
    pub origin: String,
    /// The OTLP/JSON object.
    pub body: String,
}

/// Filters for listing sessions.
#[derive(Debug, Clone, Default)]
pub struct SessionFilter {
    /// Only complete (`Some(true)`) or live (`Some(false)`) sessions.
    pub complete: Option<bool>,
    /// Only sessions whose key contains this text.
    pub key_contains: Option<String>,
    /// Only sessions for this eval set.
    pub eval_set_id: Option<String>,
    /// Also staged sessions (traces waiting for a GenAI span or a key), which are not listed
    /// otherwise.
    pub include_staged: bool,
    /// Page size.
    pub limit: u32,
    /// Skip this many.
    pub offset: u32,
}

/// An eval set's listing row.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct EvalSetRow {
    /// Eval set id.
    pub id: String,
    /// Its name, if it has one.
    pub name: Option<String>,
    /// Number of eval cases.
    pub case_count: i64,
    /// When it was stored, ns.
    pub created_at_ns: i64,
}

/// What one ingest transaction did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Inserted {
    /// New items stored.
    pub stored: u64,
    /// Items already present (a retried export): not stored twice.
    pub duplicates: u64,
}

/// The SQLite store. Cheap to share behind an `Arc`; calls serialize on one connection.
#[derive(Debug)]
pub struct Store {
    /// The one connection (shared with the checkpointer, which holds it to finish a checkpoint).
    conn: Arc<Mutex<Connection>>,
    origins: Mutex<Map<String, i64>>,
    /// Wakes the background checkpointer after a commit (file databases only).
    checkpoint: Option<std::sync::mpsc::SyncSender<()>>,
    /// Whether the database holds `span_ids` rows of an earlier version (consulted for dedup).
    legacy_ids: bool,
    /// Turns at the write connection for ingest batches ([`Store::ticket`]).
    turns: Turns,
    /// The lock on a file database, held while the store is open.
    _lock: Option<std::fs::File>,
    /// A read-only connection for reads (file databases; WAL lets it read the last commit while
    /// the write connection writes), so API reads and read-backs neither wait for ingest's
    /// commits nor hold them up. An in-memory database has only the one connection.
    reader: Option<Mutex<Connection>>,
    /// The database's page bound (`--max-db-mib`), if any: a change that only deletes may pass
    /// it by [`DELETE_SLACK_PAGES`], so sessions can be deleted from a full database.
    max_pages: Option<i64>,
}

/// Pages a delete may take past the database's bound (4 MiB at 4 KiB pages): deleting rows
/// rewrites b-tree and freelist pages, and on a database at its bound that can need a page or
/// two more, which would refuse the very delete that makes room.
pub const DELETE_SLACK_PAGES: i64 = 1024;

/// Locks the database file `path` (creating it when missing) for this process: `flock`, which
/// SQLite's own (`fcntl`) locks do not touch, released when the process ends however it ends.
fn lock_file(path: &Path) -> Result<std::fs::File, StoreError> {
    let io = |source| StoreError::Io {
        path: path.display().to_string(),
        source,
    };
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(io)?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => {
            Err(StoreError::InUse(path.display().to_string()))
        }
        Err(std::fs::TryLockError::Error(err)) => Err(io(err)),
    }
}

/// Turns at the write connection, served in the order their tickets were taken.
#[derive(Debug, Default)]
struct Turns {
    state: Mutex<TurnState>,
    passed: parking_lot::Condvar,
}

#[derive(Debug, Default)]
struct TurnState {
    /// The next ticket's number.
    next: u64,
    /// The ticket whose turn it is.
    serving: u64,
    /// Later tickets already done (given up before their turn).
    done: std::collections::BTreeSet<u64>,
}

/// A place in the line for the write connection: see [`Store::ticket`]. Dropped, unused or with
/// its [`Writer`], it passes the turn on.
pub struct Ticket<'a> {
    store: &'a Store,
    number: u64,
}

impl std::fmt::Debug for Ticket<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ticket")
            .field("number", &self.number)
            .finish()
    }
}

impl<'a> Ticket<'a> {
    /// Waits until every ticket taken before this one is done, then takes the write connection;
    /// the turn passes on when the returned writer is dropped.
    pub fn writer(self) -> Writer<'a> {
        let turns = &self.store.turns;
        let mut state = turns.state.lock();
        while state.serving != self.number {
            turns.passed.wait(&mut state);
        }
        drop(state);
        Writer {
            store: self.store,
            conn: self.store.conn.lock(),
            _turn: Some(self),
        }
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        let turns = &self.store.turns;
        let mut state = turns.state.lock();
        state.done.insert(self.number);
        loop {
            let serving = state.serving;
            if !state.done.remove(&serving) {
                break;
            }
            state.serving += 1;
        }
        drop(state);
        turns.passed.notify_all();
    }
}

/// Nanoseconds since the epoch, now.
pub fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

impl Store {
    /// Opens (creating when missing) the database, with the default WAL bound
    /// ([`crate::config::Limits::wal_limit_bytes`]).
    pub fn open(location: &DbLocation) -> Result<Self, StoreError> {
        Self::open_with(location, crate::config::Limits::default().wal_limit_bytes)
    }

    /// Opens (creating when missing) the database; a file database's write-ahead log is kept
    /// near `wal_limit_bytes` (see [`crate::config::Limits::wal_limit_bytes`]).
    pub fn open_with(location: &DbLocation, wal_limit_bytes: u64) -> Result<Self, StoreError> {
        Self::open_with_options(
            location,
            &StoreOptions::default().with_wal_limit_bytes(wal_limit_bytes),
        )
    }

    /// Opens (creating when missing) the database with `options`. A file database is locked
    /// for this process while the store is open: a second server gets [`StoreError::InUse`].
    pub fn open_with_options(
        location: &DbLocation,
        options: &StoreOptions,
    ) -> Result<Self, StoreError> {
        let wal_limit_bytes = options
            .wal_limit_bytes
            .unwrap_or(crate::config::Limits::default().wal_limit_bytes);
        let wal_limit = i64::try_from(wal_limit_bytes).unwrap_or(i64::MAX);
        let mut lock = None;
        let (conn, checkpointer) = match location {
            DbLocation::Memory => (Connection::open_in_memory()?, None),
            DbLocation::File(path) => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
                        path: dir.display().to_string(),
                        source,
                    })?;
                }
                lock = Some(lock_file(path)?);
                let conn = Self::open_file(path, options.durability)?;
                // Checkpoints (copying the WAL back into the database) run on their own thread
                // and connection, not inside the commit of whoever crosses the WAL threshold.
                conn.pragma_update(None, "wal_autocheckpoint", 0)?;
                // When the WAL starts over, a file grown past its bound is cut back to it (not
                // further: blocks kept are written over, while new ones make ext4's fsyncs
                // write them out first).
                conn.pragma_update(None, "journal_size_limit", wal_limit)?;
                (conn, Some(Self::open_file(path, options.durability)?))
            }
        };
        let mut max_pages = None;
        if let Some(max) = options.max_db_bytes {
            let page: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
            let pages = (i64::try_from(max).unwrap_or(i64::MAX) / page.max(512)).max(1);
            conn.pragma_update(None, "max_page_count", pages)?;
            max_pages = Some(pages);
        }
        migrate(&conn)?;
        let legacy_ids: bool =
            conn.query_row("SELECT EXISTS (SELECT 1 FROM span_ids)", [], |r| r.get(0))?;
        let reader = match location {
            DbLocation::Memory => None,
            DbLocation::File(path) => {
                let reader = Self::open_file(path, options.durability)?;
                reader.pragma_update(None, "query_only", "ON")?;
                Some(Mutex::new(reader))
            }
        };
        let conn = Arc::new(Mutex::new(conn));
        let checkpoint = checkpointer
            .map(|own| spawn_checkpointer(own, Arc::downgrade(&conn), wal_limit))
            .transpose()?;
        Ok(Self {
            conn,
            origins: Mutex::new(Map::default()),
            checkpoint,
            legacy_ids,
            turns: Turns::default(),
            _lock: lock,
            reader,
            max_pages,
        })
    }

    /// The connection reads go to: the read-only one of a file database, else the one.
    fn read(&self) -> parking_lot::MutexGuard<'_, Connection> {
        self.reader
            .as_ref()
            .map_or_else(|| self.conn.lock(), Mutex::lock)
    }

    /// After a write transaction: one that failed rolled back the origins it stored, so the
    /// cached ids are forgotten (the next write looks its origins up again) rather than left
    /// pointing at rows that are not there.
    fn after_write<T>(&self, outcome: &Result<T, StoreError>) {
        if outcome.is_err() {
            self.origins.lock().clear();
        }
    }

    /// Tells the checkpointer that a transaction committed.
    fn committed(&self) {
        if let Some(wake) = &self.checkpoint {
            // Full means a wake-up is already pending: nothing is lost.
            let _ = wake.try_send(());
        }
    }

    fn open_file(path: &Path, durability: Durability) -> Result<Connection, StoreError> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        let synchronous = match durability {
            Durability::Normal => "NORMAL",
            Durability::Full => "FULL",
        };
        conn.pragma_update(None, "synchronous", synchronous)?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        Ok(conn)
    }

    /// Creates a session row.
    pub fn create_session(&self, row: &SessionRow) -> Result<(), StoreError> {
        insert_session(&self.conn.lock(), row)
    }

    fn origin_id(&self, conn: &Connection, origin: &str) -> Result<i64, StoreError> {
        if let Some(id) = self.origins.lock().get(origin) {
            return Ok(*id);
        }
        conn.execute("INSERT OR IGNORE INTO origins (json) VALUES (?1)", [origin])?;
        let id: i64 = conn.query_row("SELECT id FROM origins WHERE json = ?1", [origin], |r| {
            r.get(0)
        })?;
        self.origins.lock().insert(origin.to_owned(), id);
        Ok(id)
    }

    /// Runs `f` on the connection (in its own transaction when `f` opens one): the modules that
    /// keep their own tables ([`crate::search`], [`crate::annotations`]) use it.
    pub(crate) fn with_conn<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        f(&mut self.conn.lock())
    }

    /// Number of sessions stored.
    pub fn session_count(&self) -> Result<i64, StoreError> {
        let conn = self.read();
        Ok(conn.query_row("SELECT COUNT(*) FROM sessions", [], |r| r.get(0))?)
    }

    /// Takes the write connection, out of turn (see [`Store::ticket`]).
    pub fn writer(&self) -> Writer<'_> {
        Writer {
            store: self,
            conn: self.conn.lock(),
            _turn: None,
        }
    }

    /// A place in the line for the write connection ([`Ticket::writer`]): tickets get their
    /// writer in the order they were taken. The ingest pipeline takes one while it holds its
    /// routing lock, so batches commit in the order they were routed (a batch may store spans of
    /// a session that the batch routed before it creates), and lets go of the lock before it
    /// waits for its turn: the next batch is routed, and the one before finishes its live
    /// bookkeeping, while this one waits and writes. (A batch that held the routing lock while
    /// it waited for the writer would make the batch being written wait for that lock when it
    /// was done: two workers would run nearly one after the other.)
    pub fn ticket(&self) -> Ticket<'_> {
        let mut state = self.turns.state.lock();
        let number = state.next;
        state.next += 1;
        Ticket {
            store: self,
            number,
        }
    }

    /// Stores spans for sessions in one transaction: `(session id, span)` pairs. A span whose
    /// (trace id, span id) is already stored is a duplicate and is not stored again.
    pub fn insert_spans<S: AsRef<str>>(
        &self,
        spans: &[(S, NewSpan)],
    ) -> Result<Inserted, StoreError> {
        self.writer().insert_spans(&[], spans, &Set::default())
    }

    /// Stores log records for sessions in one transaction; a record whose fingerprint is already
    /// stored is a duplicate.
    pub fn insert_logs(&self, logs: &[(String, NewLog)]) -> Result<Inserted, StoreError> {
        self.writer().insert_logs(&[], logs)
    }

    /// Moves a trace's spans and logs from one session to another (a stronger key arrived).
    pub fn move_trace(&self, trace_id: &str, from: &str, to: &str) -> Result<(), StoreError> {
        let mut conn = self.conn.lock();
        let tx = conn.transaction()?;
        move_trace_in(&tx, trace_id, from, to)?;
        tx.commit()?;
        Ok(())
    }

    /// Changes a session's key kind (a staged session promoted to a listed one).
    pub fn set_key_kind(&self, session_id: &str, key_kind: &str) -> Result<(), StoreError> {
        self.update_session(
            "UPDATE sessions SET key_kind = ?1 WHERE id = ?2",
            &key_kind,
            session_id,
        )
    }

    /// Marks a session complete (or live again with `None`).
    pub fn set_completed(&self, session_id: &str, at_ns: Option<i64>) -> Result<(), StoreError> {
        self.update_session(
            "UPDATE sessions SET completed_at_ns = ?1 WHERE id = ?2",
            &at_ns,
            session_id,
        )
    }

    /// Runs a one-column `UPDATE sessions` (`?1` the value, `?2` the id); no such session is an
    /// error.
    fn update_session(
        &self,
        sql: &str,
        value: &dyn rusqlite::ToSql,
        session_id: &str,
    ) -> Result<(), StoreError> {
        let n = self.conn.lock().execute(sql, params![value, session_id])?;
        if n == 0 {
            return Err(StoreError::NotFound(format!("no session `{session_id}`")));
        }
        Ok(())
    }

    /// Replaces a session's invocations.
    pub fn replace_invocations(
        &self,
        session_id: &str,
        invocations: &[Invocation],
    ) -> Result<(), StoreError> {
        let mut conn = self.conn.lock();
        let tx = conn.transaction()?;
        write_invocations(&tx, session_id, invocations)?;
        tx.commit()?;
        Ok(())
    }

    /// Completes sessions at `at_ns` with their final invocations, in one transaction. Their
    /// search documents are written later, by [`Store::index_pending`] (or the next search).
    pub fn complete_sessions(
        &self,
        sessions: &[(String, Vec<Invocation>)],
        at_ns: i64,
    ) -> Result<(), StoreError> {
        // The invocations were serialized when extracted: ingest waits only for the writes.
        let mut conn = self.conn.lock();
        let tx = conn.transaction()?;
        for (session_id, invocations) in sessions {
            write_invocations(&tx, session_id, invocations)?;
            // Search indexing comes after, off the producer's wait: the session gets a ticket
            // ([`Store::index_pending`]), kept in this database so that a restart still indexes it.
            tx.prepare_cached(
                "INSERT OR IGNORE INTO search_pending (session) \
                 SELECT rid FROM sessions WHERE id = ?1",
            )?
            .execute([session_id])?;
            let n = tx
                .prepare_cached("UPDATE sessions SET completed_at_ns = ?1 WHERE id = ?2")?
                .execute(params![at_ns, session_id])?;
            if n == 0 {
                return Err(StoreError::NotFound(format!("no session `{session_id}`")));
            }
        }
        tx.commit()?;
        drop(conn);
        self.committed();
        Ok(())
    }

    /// Indexes for search up to `limit` completed sessions waiting for it (see
    /// [`Store::complete_sessions`]), in the order they completed, in one transaction on the
    /// write connection; returns how many tickets were taken.
    pub fn index_pending(&self, limit: usize) -> Result<usize, StoreError> {
        let taken = index_pending_on(
            &mut self.conn.lock(),
            i64::try_from(limit).unwrap_or(i64::MAX),
        )?;
        if taken > 0 {
            self.committed();
        }
        Ok(taken)
    }

    /// Completed sessions not indexed for search yet.
    pub fn search_pending(&self) -> Result<i64, StoreError> {
        let conn = self.read();
        Ok(conn.query_row("SELECT COUNT(*) FROM search_pending", [], |r| r.get(0))?)
    }

    /// A session's invocations, in order.
    pub fn invocations(&self, session_id: &str) -> Result<Vec<serde_json::Value>, StoreError> {
        let conn = self.read();
        let mut stmt = conn.prepare_cached(
            "SELECT body FROM invocations WHERE session = (SELECT rid FROM sessions WHERE id = ?1) \
             ORDER BY idx",
        )?;
        let rows = stmt.query_map([session_id], |r| r.get::<_, String>(0))?;
        let mut out = Vec::new();
        for row in rows {
            out.push(serde_json::from_str(&row?)?);
        }
        Ok(out)
    }

    /// One session.
    pub fn session(&self, session_id: &str) -> Result<SessionRow, StoreError> {
        let conn = self.read();
        conn.query_row(
            &format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE id = ?1"),
            [session_id],
            session_row,
        )
        .optional()?
        .ok_or_else(|| StoreError::NotFound(format!("no session `{session_id}`")))
    }

    /// Sessions, newest first, filtered and paged; also returns the total that match.
    pub fn sessions(&self, filter: &SessionFilter) -> Result<(Vec<SessionRow>, i64), StoreError> {
        let conn = self.read();
        let mut clauses = Vec::new();
        let mut args: Vec<Box<dyn rusqlite::ToSql>> = Vec::new();
        match filter.complete {
            Some(true) => clauses.push("completed_at_ns IS NOT NULL".to_owned()),
            Some(false) => clauses.push("completed_at_ns IS NULL".to_owned()),
            None => {}
        }
        if let Some(text) = &filter.key_contains {
            args.push(Box::new(format!("%{}%", text.replace(['%', '_'], ""))));
            clauses.push(format!("key LIKE ?{}", args.len()));
        }
        if let Some(id) = &filter.eval_set_id {
            args.push(Box::new(id.clone()));
            clauses.push(format!("eval_set_id = ?{}", args.len()));
        }
        if !filter.include_staged {
            clauses.push("key_kind <> 'staged'".to_owned());
        }
        let filter_sql = if clauses.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", clauses.join(" AND "))
        };
        let total: i64 = conn.query_row(
            &format!("SELECT COUNT(*) FROM sessions {filter_sql}"),
            rusqlite::params_from_iter(args.iter()),
            |r| r.get(0),
        )?;
        args.push(Box::new(i64::from(filter.limit)));
        let limit_idx = args.len();
        args.push(Box::new(i64::from(filter.offset)));
        let offset_idx = args.len();
        let mut stmt = conn.prepare(&format!(
            "SELECT {SESSION_COLUMNS} FROM sessions {filter_sql} \
             ORDER BY created_at_ns DESC, id LIMIT ?{limit_idx} OFFSET ?{offset_idx}"
        ))?;
        let rows = stmt.query_map(rusqlite::params_from_iter(args.iter()), session_row)?;
        let mut out = Vec::new();
        for row in rows {
            out.push(row?);
        }
        Ok((out, total))
    }

    /// Every session, oldest first (used to rebuild the in-memory index at start).
    pub fn all_sessions(&self) -> Result<Vec<SessionRow>, StoreError> {
        let conn = self.read();
        let mut stmt = conn.prepare(&format!(
            "SELECT {SESSION_COLUMNS} FROM sessions ORDER BY created_at_ns, id"
        ))?;
        let rows = stmt.query_map([], session_row)?;
        let mut out = Vec::new();
        for row in rows {
            out.push(row?);
        }
        Ok(out)
    }

    /// The trace ids each session holds: `(trace id, session id)` pairs.
    pub fn trace_sessions(&self) -> Result<Vec<(String, String)>, StoreError> {
        let conn = self.read();
        let mut stmt = conn.prepare(
            "SELECT DISTINCT c.trace_id, s.id FROM span_chunks c JOIN sessions s ON s.rid = c.session \
             UNION SELECT DISTINCT l.trace_id, s.id FROM logs l JOIN sessions s ON s.rid = l.session \
             WHERE l.trace_id IS NOT NULL",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        let mut out = Vec::new();
        for row in rows {
            out.push(row?);
        }
        Ok(out)
    }

    /// A session's spans in start order (then span id).
    pub fn spans(&self, session_id: &str) -> Result<Vec<StoredItem>, StoreError> {
        let chunks = self.chunks(CHUNKS_OF_SESSION, [session_id], session_id)?;
        split_chunks(chunks)
    }

    /// One page of a session's spans in start order (then span id): the `limit` spans from
    /// `offset` on, and how many the session holds. Only the page's spans are written out as
    /// JSON.
    pub fn spans_page(
        &self,
        session_id: &str,
        offset: usize,
        limit: usize,
    ) -> Result<(Vec<StoredItem>, usize), StoreError> {
        let chunks = self.chunks(CHUNKS_OF_SESSION, [session_id], session_id)?;
        // (start, span id, chunk, position in the chunk) of every span.
        let mut keys: Vec<(u64, String, usize, usize)> = Vec::new();
        let mut raws: Vec<Vec<Box<serde_json::value::RawValue>>> = Vec::new();
        for (c, chunk) in chunks.iter().enumerate() {
            match &chunk.body {
                ChunkBody::Spans(list) => {
                    raws.push(Vec::new());
                    for (i, span) in list.iter().enumerate() {
                        keys.push((span.start_ns, span.span_id.to_string(), c, i));
                    }
                }
                ChunkBody::Json(text) => {
                    let list: Vec<Box<serde_json::value::RawValue>> = serde_json::from_str(text)?;
                    for (i, raw) in list.iter().enumerate() {
                        let key: SpanKey = serde_json::from_str(raw.get())?;
                        let start = key.start.and_then(|s| s.parse().ok()).unwrap_or(0);
                        keys.push((start, key.span_id.unwrap_or_default(), c, i));
                    }
                    raws.push(list);
                }
            }
        }
        let total = keys.len();
        keys.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        let page = keys
            .iter()
            .skip(offset)
            .take(limit)
            .filter_map(|&(_, _, c, i)| {
                let chunk = chunks.get(c)?;
                let body = match &chunk.body {
                    ChunkBody::Spans(list) => agentrace_loader::write::to_json_string(list.get(i)?),
                    ChunkBody::Json(_) => raws.get(c)?.get(i)?.get().to_owned(),
                };
                Some(StoredItem {
                    origin: chunk.origin.clone(),
                    body,
                })
            })
            .collect();
        Ok((page, total))
    }

    /// One trace's spans (in start order, then span id) and log records (in time order), as a
    /// session holds them (a trace sent into two WebSocket sessions is stored in each).
    pub fn trace(
        &self,
        session_id: &str,
        trace_id: &str,
    ) -> Result<(Vec<StoredItem>, Vec<StoredItem>), StoreError> {
        let spans =
            split_chunks(self.chunks(CHUNKS_OF_TRACE, [trace_id, session_id], trace_id)?)?;
        let logs = self.items(
            "SELECT o.json, l.body FROM logs l JOIN origins o ON o.id = l.origin_id \
             WHERE l.trace_id = ?1 AND l.session = (SELECT rid FROM sessions WHERE id = ?2) \
             ORDER BY l.time_ns, l.id",
            [trace_id, session_id],
        )?;
        Ok((spans, logs))
    }

    /// A session's log records in time order.
    pub fn logs(&self, session_id: &str) -> Result<Vec<StoredItem>, StoreError> {
        self.items(
            "SELECT o.json, l.body FROM logs l JOIN origins o ON o.id = l.origin_id \
             WHERE l.session = (SELECT rid FROM sessions WHERE id = ?1) ORDER BY l.time_ns, l.id",
            [session_id],
        )
    }

    /// Span chunks, decompressed and decoded; `sql` selects them by `key` (a session or a trace
    /// id).
    fn chunks(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
        key: &str,
    ) -> Result<Vec<StoredChunk>, StoreError> {
        chunks_on(&self.read(), sql, params, key)
    }

    fn items(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
    ) -> Result<Vec<StoredItem>, StoreError> {
        let conn = self.read();
        let mut stmt = conn.prepare_cached(sql)?;
        let rows = stmt.query_map(params, |r| {
            Ok(StoredItem {
                origin: r.get(0)?,
                body: r.get(1)?,
            })
        })?;
        let mut out = Vec::new();
        for row in rows {
            out.push(row?);
        }
        Ok(out)
    }

    /// Deletes a session with its spans, logs, invocations and evaluations.
    /// The origins only it named are deleted too, from the table and the id cache.
    pub fn delete_session(&self, session_id: &str) -> Result<(), StoreError> {
        let mut conn = self.conn.lock();
        let tx = conn.transaction()?;
        let pruned = self.delete_session_in(&tx, session_id)?;
        tx.commit()?;
        // Still under the connection's lock, which every lookup of the cache is made under: no
        // write can take a pruned id from it.
        self.forget_origins(&pruned);
        drop(conn);
        Ok(())
    }

    /// Drops pruned origin ids from the cache (after the transaction that pruned them committed).
    fn forget_origins(&self, pruned: &Set<i64>) {
        if !pruned.is_empty() {
            self.origins.lock().retain(|_, id| !pruned.contains(id));
        }
    }

    /// Deletes a session in the caller's transaction; returns the origins it pruned (to forget
    /// once committed).
    fn delete_session_in(&self, tx: &Connection, session_id: &str) -> Result<Set<i64>, StoreError> {
        let rid = existing_session_rid(tx, session_id)?;
        // The origins (resource and scope) the session's spans and logs name: those no other
        // session names go with it.
        let candidates: Vec<i64> = tx
            .prepare(
                "SELECT origin_id FROM span_chunks WHERE session = ?1 \
                 UNION SELECT origin_id FROM logs WHERE session = ?1",
            )?
            .query_map([rid], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        tx.execute(
            "DELETE FROM span_ids WHERE trace_id IN \
             (SELECT DISTINCT trace_id FROM span_chunks WHERE session = ?1)",
            [rid],
        )?;
        tx.execute(
            "DELETE FROM chunk_span_ids WHERE chunk_id IN \
             (SELECT id FROM span_chunks WHERE session = ?1)",
            [rid],
        )?;
        tx.execute("DELETE FROM span_chunks WHERE session = ?1", [rid])?;
        tx.execute("DELETE FROM logs WHERE session = ?1", [rid])?;
        tx.execute("DELETE FROM invocations WHERE session = ?1", [rid])?;
        tx.execute("DELETE FROM evaluations WHERE session = ?1", [rid])?;
        crate::search::forget_session(tx, rid)?;
        crate::annotations::forget_session(tx, rid)?;
        tx.execute("DELETE FROM sessions WHERE rid = ?1", [rid])?;
        let mut pruned: Set<i64> = Set::default();
        {
            let mut prune = tx.prepare_cached(
                "DELETE FROM origins WHERE id = ?1 \
                 AND NOT EXISTS (SELECT 1 FROM span_chunks WHERE origin_id = ?1) \
                 AND NOT EXISTS (SELECT 1 FROM logs WHERE origin_id = ?1)",
            )?;
            for id in candidates {
                if prune.execute([id])? > 0 {
                    pruned.insert(id);
                }
            }
        }
        Ok(pruned)
    }

    /// Origins (distinct resource and scope pairs) stored, and held in the id cache.
    pub fn origin_counts(&self) -> Result<(i64, usize), StoreError> {
        let conn = self.read();
        let stored = conn.query_row("SELECT COUNT(*) FROM origins", [], |r| r.get(0))?;
        Ok((stored, self.origins.lock().len()))
    }

    /// Sessions completed before `cutoff_ns` (for the retention sweep).
    pub fn completed_before(&self, cutoff_ns: i64) -> Result<Vec<String>, StoreError> {
        let conn = self.read();
        let mut stmt = conn.prepare(
            "SELECT id FROM sessions WHERE completed_at_ns IS NOT NULL AND completed_at_ns < ?1",
        )?;
        let rows = stmt.query_map([cutoff_ns], |r| r.get(0))?;
        let mut out = Vec::new();
        for row in rows {
            out.push(row?);
        }
        Ok(out)
    }

    /// Stores (or replaces) an eval set.
    pub fn put_eval_set(
        &self,
        id: &str,
        name: Option<&str>,
        case_count: usize,
        body: &serde_json::Value,
    ) -> Result<(), StoreError> {
        let conn = self.conn.lock();
        conn.execute(
            "INSERT INTO eval_sets (id, name, case_count, body, created_at_ns) \
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT(id) DO UPDATE SET name = excluded.name, \
             case_count = excluded.case_count, body = excluded.body",
            params![id, name, case_count as i64, body.to_string(), now_ns()],
        )?;
        Ok(())
    }

    /// Every eval set, oldest first.
    pub fn eval_sets(&self) -> Result<Vec<EvalSetRow>, StoreError> {
        let conn = self.read();
        let mut stmt = conn.prepare(
            "SELECT id, name, case_count, created_at_ns FROM eval_sets ORDER BY created_at_ns, id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(EvalSetRow {
                id: r.get(0)?,
                name: r.get(1)?,
                case_count: r.get(2)?,
                created_at_ns: r.get(3)?,
            })
        })?;
        let mut out = Vec::new();
        for row in rows {
            out.push(row?);
        }
        Ok(out)
    }

    /// Deletes an eval set.
    pub fn delete_eval_set(&self, id: &str) -> Result<(), StoreError> {
        let conn = self.conn.lock();
        if conn.execute("DELETE FROM eval_sets WHERE id = ?1", [id])? == 0 {
            return Err(StoreError::NotFound(format!("no eval set `{id}`")));
        }
        Ok(())
    }

    /// One eval set's JSON.
    pub fn eval_set(&self, id: &str) -> Result<serde_json::Value, StoreError> {
        json_body(
            &self.read(),
            "SELECT body FROM eval_sets WHERE id = ?1",
            id,
            || format!("no eval set `{id}`"),
        )
    }
}

/// Evaluations of sessions: one row per evaluation, its document as JSON text.
impl Store {
    /// Stores an evaluation of a session, unless the session already holds `max` of them;
    /// returns its id. The document gets its `id` and `sessionId` here.
    pub fn put_evaluation(
        &self,
        session_id: &str,
        eval_set_id: Option<&str>,
        created_at_ns: i64,
        body: &mut serde_json::Value,
        max: u32,
    ) -> Result<i64, StoreError> {
        let mut conn = self.conn.lock();
        let tx = conn.transaction()?;
        let rid = existing_session_rid(&tx, session_id)?;
        let held: i64 = tx.query_row(
            "SELECT COUNT(*) FROM evaluations WHERE session = ?1",
            [rid],
            |r| r.get(0),
        )?;
        if held >= i64::from(max) {
            return Err(StoreError::Limit(format!(
                "session `{session_id}` holds {held} evaluations, the most \
                 --max-evaluations-per-session allows: delete some first"
            )));
        }
        let id: i64 = tx.query_row(
            "SELECT COALESCE(MAX(id), 0) + 1 FROM evaluations",
            [],
            |r| r.get(0),
        )?;
        if let Some(o) = body.as_object_mut() {
            o.insert("id".into(), id.into());
            o.insert("sessionId".into(), session_id.into());
        }
        tx.execute(
            "INSERT INTO evaluations (id, session, eval_set_id, created_at_ns, body) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![id, rid, eval_set_id, created_at_ns, body.to_string()],
        )?;
        tx.commit()?;
        Ok(id)
    }

    /// A session's evaluations, newest first.
    pub fn evaluations(&self, session_id: &str) -> Result<Vec<serde_json::Value>, StoreError> {
        let conn = self.read();
        let mut stmt = conn.prepare_cached(
            "SELECT e.body FROM evaluations e JOIN sessions s ON s.rid = e.session \
             WHERE s.id = ?1 ORDER BY e.id DESC",
        )?;
        let rows = stmt.query_map([session_id], |r| r.get::<_, String>(0))?;
        let mut out = Vec::new();
        for row in rows {
            out.push(serde_json::from_str(&row?)?);
        }
        Ok(out)
    }

    /// The verdict of each session's newest evaluation, by session id (sessions never evaluated
    /// are absent): `{"id", "passed", "error", "evalSetId", "createdAtNs"}`. One indexed lookup
    /// per session, reading three fields of the stored document, not the whole of it.
    pub fn latest_verdicts(
        &self,
        session_ids: &[&str],
    ) -> Result<Map<String, serde_json::Value>, StoreError> {
        let conn = self.read();
        let mut stmt = conn.prepare_cached(
            "SELECT e.id, CAST(json_extract(e.body, '$.evalSetId') AS TEXT), e.created_at_ns, \
                    json_extract(e.body, '$.passed'), \
                    CAST(json_extract(e.body, '$.error') AS TEXT) \
             FROM evaluations e JOIN sessions s ON s.rid = e.session \
             WHERE s.id = ?1 ORDER BY e.id DESC LIMIT 1",
        )?;
        let mut out = Map::default();
        for id in session_ids {
            let row = stmt
                .query_row([id], |r| {
                    Ok(serde_json::json!({
                        "id": r.get::<_, i64>(0)?,
                        "evalSetId": r.get::<_, Option<String>>(1)?,
                        "createdAtNs": r.get::<_, i64>(2)?,
                        "passed": r.get::<_, Option<i64>>(3)?.is_some_and(|p| p != 0),
                        "error": r.get::<_, Option<String>>(4)?,
                    }))
                })
                .optional()?;
            if let Some(row) = row {
                out.insert((*id).to_owned(), row);
            }
        }
        Ok(out)
    }

    /// One evaluation.
    pub fn evaluation(&self, id: i64) -> Result<serde_json::Value, StoreError> {
        json_body(
            &self.read(),
            "SELECT body FROM evaluations WHERE id = ?1",
            id,
            || format!("no evaluation {id}"),
        )
    }

    /// Deletes one evaluation.
    pub fn delete_evaluation(&self, id: i64) -> Result<(), StoreError> {
        let conn = self.conn.lock();
        if conn.execute("DELETE FROM evaluations WHERE id = ?1", [id])? == 0 {
            return Err(StoreError::NotFound(format!("no evaluation {id}")));
        }
        Ok(())
    }
}

/// The write connection, held: see [`Store::writer`].
pub struct Writer<'a> {
    store: &'a Store,
    conn: parking_lot::MutexGuard<'a, Connection>,
    /// The turn this writer was taken in, if any: passed on after the connection is let go
    /// (fields drop in order).
    _turn: Option<Ticket<'a>>,
}

impl std::fmt::Debug for Writer<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer").finish_non_exhaustive()
    }
}

/// [`Store::index_pending`] on the write connection `conn`: each session's stored invocations
/// are indexed with the attribute values of the spans it holds, both read inside the
/// transaction, so that a span stored while it is indexed is never missed. A session deleted, or
/// live again (new spans reopened it), since its ticket was issued is not indexed: its next
/// completion issues another ticket.
pub(crate) fn index_pending_on(conn: &mut Connection, limit: i64) -> Result<usize, StoreError> {
    let tx = conn.transaction()?;
    let jobs: Vec<(i64, Option<(i64, String)>)> = {
        let mut stmt = tx.prepare_cached(
            "SELECT p.ticket, s.rid, s.id FROM search_pending p \
             LEFT JOIN sessions s ON s.rid = p.session AND s.completed_at_ns IS NOT NULL \
             ORDER BY p.ticket LIMIT ?1",
        )?;
        let rows = stmt.query_map([limit], |r| {
            let rid: Option<i64> = r.get(1)?;
            let id: Option<String> = r.get(2)?;
            Ok((r.get(0)?, rid.zip(id)))
        })?;
        rows.collect::<Result<_, _>>()?
    };
    for (ticket, session) in &jobs {
        if let Some((rid, session_id)) = session {
            let invocations: Vec<Invocation> = {
                let mut stmt = tx.prepare_cached(
                    "SELECT body FROM invocations WHERE session = ?1 ORDER BY idx",
                )?;
                let rows = stmt.query_map([rid], |r| r.get::<_, String>(0))?;
                rows.map(|row| row.map(Invocation::from_json))
                    .collect::<Result<_, _>>()?
            };
            let values = match chunks_on(&tx, CHUNKS_OF_SESSION, [session_id], session_id)
                .and_then(split_chunks)
            {
                Ok(spans) => crate::search::span_values(&spans),
                Err(err) => {
                    tracing::warn!(%err, session_id, "span attributes not indexed for search");
                    agentrace_loader::hash::Map::default()
                }
            };
            crate::search::index_all(&tx, session_id, &invocations, &values)?;
        }
        tx.prepare_cached("DELETE FROM search_pending WHERE ticket = ?1")?
            .execute([ticket])?;
    }
    tx.commit()?;
    Ok(jobs.len())
}

/// The span chunks `sql` selects (origin JSON, body, span count), read on `conn` (a reading
/// connection, or the write one inside its transaction); `key` names them in errors.
fn chunks_on(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    key: &str,
) -> Result<Vec<StoredChunk>, StoreError> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query(params)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let body = match row.get_ref(1)? {
            rusqlite::types::ValueRef::Blob(packed) => {
                let bytes = unpack(packed)?;
                if bytes.first() == Some(&crate::codec::CHUNK_TAG) {
                    let spans = crate::codec::decode_spans(
                        &bytes[1..],
                        &std::sync::Arc::default(),
                        &std::sync::Arc::default(),
                    )
                    .map_err(|e| StoreError::Corrupt(format!("{e} (of `{key}`)")))?;
                    // A chunk cut between two spans still decodes: its row's count tells.
                    let count: i64 = row.get(2)?;
                    if i64::try_from(spans.len()).ok() != Some(count) {
                        return Err(StoreError::Corrupt(format!(
                            "span chunk holds {} spans, its row says {count} (of `{key}`)",
                            spans.len()
                        )));
                    }
                    ChunkBody::Spans(spans)
                } else {
                    ChunkBody::Json(String::from_utf8(bytes).map_err(|e| {
                        StoreError::Corrupt(format!("span chunk is not UTF-8: {e} (of `{key}`)"))
                    })?)
                }
            }
            rusqlite::types::ValueRef::Text(text) => {
                ChunkBody::Json(String::from_utf8_lossy(text).into_owned())
            }
            other => {
                return Err(StoreError::Corrupt(format!(
                    "span chunk of type {:?} (of `{key}`)",
                    other.data_type()
                )));
            }
        };
        out.push(StoredChunk {
            origin: row.get(0)?,
            body,
        });
    }
    Ok(out)
}

/// The span chunks of a session, in the order stored.
const CHUNKS_OF_SESSION: &str = "SELECT o.json, c.body, c.span_count FROM span_chunks c \
    JOIN origins o ON o.id = c.origin_id WHERE c.session = (SELECT rid FROM sessions WHERE id = ?1) \
    ORDER BY c.id";
/// The span chunks of a trace (`?1`) in a session (`?2`), in the order stored.
const CHUNKS_OF_TRACE: &str = "SELECT o.json, c.body, c.span_count FROM span_chunks c \
    JOIN origins o ON o.id = c.origin_id \
    WHERE c.trace_id = ?1 AND c.session = (SELECT rid FROM sessions WHERE id = ?2) ORDER BY c.id";

/// One span chunk as read: the JSON of its origin and its spans.
struct StoredChunk {
    origin: String,
    body: ChunkBody,
}

/// The spans of a chunk: binary (this version) or a JSON array (earlier versions).
enum ChunkBody {
    Spans(Vec<agentrace_loader::model::Span>),
    Json(String),
}

/// The spans of chunks, one item each (as OTLP/JSON), in start order (then span id).
fn split_chunks(chunks: Vec<StoredChunk>) -> Result<Vec<StoredItem>, StoreError> {
    let mut spans: Vec<(u64, String, StoredItem)> = Vec::new();
    for chunk in chunks {
        match chunk.body {
            ChunkBody::Spans(list) => {
                for span in list {
                    spans.push((
                        span.start_ns,
                        span.span_id.to_string(),
                        StoredItem {
                            origin: chunk.origin.clone(),
                            body: agentrace_loader::write::to_json_string(&span),
                        },
                    ));
                }
            }
            ChunkBody::Json(text) => {
                let list: Vec<Box<serde_json::value::RawValue>> = serde_json::from_str(&text)?;
                for raw in list {
                    let key: SpanKey = serde_json::from_str(raw.get())?;
                    let start = key.start.and_then(|s| s.parse().ok()).unwrap_or(0);
                    spans.push((
                        start,
                        key.span_id.unwrap_or_default(),
                        StoredItem {
                            origin: chunk.origin.clone(),
                            body: raw.get().to_owned(),
                        },
                    ));
                }
            }
        }
    }
    spans.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    Ok(spans.into_iter().map(|(_, _, item)| item).collect())
}

/// Spans of one (session, trace, origin) being gathered into one `span_chunks` row.
#[derive(Default)]
struct Chunk {
    session_id: String,
    trace_id: String,
    origin_id: i64,
    count: i64,
    /// [`crate::codec::CHUNK_TAG`], then the spans in binary form.
    body: Vec<u8>,
    /// The span ids of the chunk, 8 bytes each.
    ids: Vec<u8>,
}

impl Chunk {
    fn holds(&self, session_id: &str, trace_id: &str, origin_id: i64) -> bool {
        self.count > 0
            && self.origin_id == origin_id
            && self.trace_id == trace_id
            && self.session_id == session_id
    }

    fn start(&mut self, session_id: &str, trace_id: &str, origin_id: i64) {
        session_id.clone_into(&mut self.session_id);
        trace_id.clone_into(&mut self.trace_id);
        self.origin_id = origin_id;
    }

    fn push(&mut self, span: &[u8], id: [u8; 8]) {
        if self.count == 0 {
            self.body.push(crate::codec::CHUNK_TAG);
        }
        self.body.extend_from_slice(span);
        self.ids.extend_from_slice(&id);
        self.count += 1;
    }

    fn flush(
        &mut self,
        conn: &Connection,
        insert: &mut rusqlite::CachedStatement<'_>,
        ids_insert: &mut rusqlite::CachedStatement<'_>,
    ) -> Result<(), StoreError> {
        if self.count == 0 {
            return Ok(());
        }
        // Stored compressed: GenAI spans repeat their keys and messages, and every byte written
        // is written twice (WAL, then checkpoint). Readers accept the JSON chunks (compressed or
        // text) of older databases.
        let packed = lz4_flex::compress_prepend_size(&self.body);
        insert.execute(params![
            self.session_id,
            self.trace_id,
            self.origin_id,
            self.count,
            packed
        ])?;
        ids_insert.execute(params![conn.last_insert_rowid(), self.ids])?;
        self.count = 0;
        self.body.clear();
        self.ids.clear();
        Ok(())
    }
}

/// The fields of a stored span that order a session's spans.
#[derive(serde::Deserialize)]
struct SpanKey {
    #[serde(rename = "startTimeUnixNano")]
    start: Option<String>,
    #[serde(rename = "spanId")]
    span_id: Option<String>,
}

/// The columns of one ingested item, bound to the insert statement of its table.
trait Item {
    const INSERT: &'static str;
    /// Adds `?1` items to session `?3` at time `?2`.
    const COUNT: &'static str;
    fn origin(&self) -> &std::sync::Arc<str>;
    fn insert(
        &self,
        stmt: &mut rusqlite::CachedStatement<'_>,
        session_id: &str,
        origin_id: i64,
    ) -> rusqlite::Result<usize>;
}

impl Item for NewLog {
    const INSERT: &'static str = "INSERT OR IGNORE INTO logs (session, trace_id, span_id, \
        time_ns, origin_id, fingerprint, body) \
        VALUES ((SELECT rid FROM sessions WHERE id = ?1), ?2, ?3, ?4, ?5, \
        (SELECT rid FROM sessions WHERE id = ?1) || ':' || ?6, ?7)";
    const COUNT: &'static str = "UPDATE sessions SET log_count = log_count + ?1, \
        updated_at_ns = ?2 WHERE id = ?3";
    fn origin(&self) -> &std::sync::Arc<str> {
        &self.origin
    }
    fn insert(
        &self,
        stmt: &mut rusqlite::CachedStatement<'_>,
        session_id: &str,
        origin_id: i64,
    ) -> rusqlite::Result<usize> {
        stmt.execute(params![
            session_id,
            self.trace_id,
            self.span_id,
            self.time_ns,
            origin_id,
            self.fingerprint,
            self.body
        ])
    }
}

/// Everything one ingest batch changes in the store, applied in one transaction
/// ([`Writer::apply`]) in this order: sessions deleted, sessions created, staged sessions
/// promoted, traces moved to a stronger key's session, emptied staged sessions deleted, spans
/// stored, log records stored.
#[derive(Debug, Default)]
pub struct Change<'a> {
    /// Sessions deleted first (expired, deleted through the API, or replaced by a WebSocket
    /// `session_start` of the same id); one already gone is no error.
    pub deleted: &'a [String],
    /// Sessions the batch creates.
    pub created: &'a [SessionRow],
    /// Staged sessions that become listed sessions (kind `trace`).
    pub promoted: &'a [String],
    /// `(trace, from, to)`: a trace's stored rows move to another session.
    pub moves: &'a [(String, String, String)],
    /// Staged sessions a move emptied: deleted.
    pub emptied: &'a [String],
    /// `(session, span)` pairs to store (duplicates are not stored again).
    pub spans: &'a [(Arc<str>, NewSpan)],
    /// Traces known to have nothing stored (their stored span ids are not looked up).
    pub new_traces: Option<&'a Set<String>>,
    /// `(session, record)` pairs to store (duplicates are not stored again).
    pub logs: &'a [(String, NewLog)],
}

/// What [`Writer::apply`] committed.
#[derive(Debug, Default)]
pub struct Applied {
    /// Spans stored and duplicates.
    pub spans: Inserted,
    /// Log records stored and duplicates.
    pub logs: Inserted,
    /// `(session, span count, log count)` after the commit, for every session the change
    /// touched that still exists.
    pub counts: Vec<(String, i64, i64)>,
}

impl Writer<'_> {
    /// Applies one batch's [`Change`] in one transaction: all of it, or (on an error) none of it.
    /// A change that only deletes sessions may pass the database's page bound by
    /// [`DELETE_SLACK_PAGES`].
    pub fn apply(&mut self, change: &Change<'_>) -> Result<Applied, StoreError> {
        let only_deletes = change.created.is_empty()
            && change.promoted.is_empty()
            && change.moves.is_empty()
            && change.spans.is_empty()
            && change.logs.is_empty();
        let relaxed = self.store.max_pages.filter(|_| only_deletes);
        if let Some(max) = relaxed {
            self.conn
                .pragma_update(None, "max_page_count", max + DELETE_SLACK_PAGES)?;
        }
        let applied = self.try_apply(change);
        if let Some(max) = relaxed {
            // The bound never goes below what the file holds, which may now be up to the slack
            // more: new pages are refused until deletes free enough of them.
            if let Err(err) = self.conn.pragma_update(None, "max_page_count", max) {
                tracing::error!(%err, "cannot restore the database's page bound");
            }
        }
        self.store.after_write(&applied);
        applied
    }

    fn try_apply(&mut self, change: &Change<'_>) -> Result<Applied, StoreError> {
        let tx = self.conn.transaction()?;
        let mut pruned: Set<i64> = Set::default();
        for id in change.deleted {
            match self.store.delete_session_in(&tx, id) {
                Ok(p) => pruned.extend(p),
                Err(StoreError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        for row in change.created {
            insert_session(&tx, row)?;
        }
        for id in change.promoted {
            tx.execute(
                "UPDATE sessions SET key_kind = ?1 WHERE id = ?2",
                params![crate::sessions::KeyKind::Trace.as_str(), id],
            )?;
        }
        for (trace, from, to) in change.moves {
            move_trace_in(&tx, trace, from, to)?;
        }
        for id in change.emptied {
            match self.store.delete_session_in(&tx, id) {
                Ok(p) => pruned.extend(p),
                Err(StoreError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        let empty = Set::default();
        let spans = spans_in(
            self.store,
            &tx,
            change.spans,
            change.new_traces.unwrap_or(&empty),
        )?;
        let logs = items_in(self.store, &tx, change.logs)?;
        let mut touched: Vec<&str> = change
            .created
            .iter()
            .map(|r| r.id.as_str())
            .chain(change.promoted.iter().map(String::as_str))
            .chain(
                change
                    .moves
                    .iter()
                    .flat_map(|(_, from, to)| [from.as_str(), to.as_str()]),
            )
            .chain(change.spans.iter().map(|(s, _)| &**s))
            .chain(change.logs.iter().map(|(s, _)| s.as_str()))
            .collect();
        touched.sort_unstable();
        touched.dedup();
        let mut counts = Vec::with_capacity(touched.len());
        {
            let mut read =
                tx.prepare_cached("SELECT span_count, log_count FROM sessions WHERE id = ?1")?;
            for id in touched {
                if let Some((spans, logs)) = read
                    .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()?
                {
                    counts.push((id.to_owned(), spans, logs));
                }
            }
        }
        tx.commit()?;
        self.store.committed();
        self.store.forget_origins(&pruned);
        Ok(Applied {
            spans,
            logs,
            counts,
        })
    }

    /// Creates `sessions` and stores spans for sessions, in one transaction: `(session id, span)`
    /// pairs. A span whose (trace id, span id) is already stored is a duplicate and is not stored
    /// again. `new_traces` names traces the caller knows have nothing stored: their stored span
    /// ids are not looked up (duplicates within the batch are still found).
    pub fn insert_spans<S: AsRef<str>>(
        &mut self,
        sessions: &[SessionRow],
        spans: &[(S, NewSpan)],
        new_traces: &Set<String>,
    ) -> Result<Inserted, StoreError> {
        let inserted = self.try_insert_spans(sessions, spans, new_traces);
        self.store.after_write(&inserted);
        inserted
    }

    fn try_insert_spans<S: AsRef<str>>(
        &mut self,
        sessions: &[SessionRow],
        spans: &[(S, NewSpan)],
        new_traces: &Set<String>,
    ) -> Result<Inserted, StoreError> {
        let tx = self.conn.transaction()?;
        for row in sessions {
            insert_session(&tx, row)?;
        }
        let result = spans_in(self.store, &tx, spans, new_traces)?;
        tx.commit()?;
        self.store.committed();
        Ok(result)
    }

    /// Creates `sessions` and stores log records for sessions, in one transaction; a record whose
    /// fingerprint is already stored is a duplicate.
    pub fn insert_logs(
        &mut self,
        sessions: &[SessionRow],
        logs: &[(String, NewLog)],
    ) -> Result<Inserted, StoreError> {
        let inserted = self.insert(sessions, logs);
        self.store.after_write(&inserted);
        inserted
    }

    fn insert<T: Item>(
        &mut self,
        sessions: &[SessionRow],
        items: &[(String, T)],
    ) -> Result<Inserted, StoreError> {
        let tx = self.conn.transaction()?;
        for row in sessions {
            insert_session(&tx, row)?;
        }
        let result = items_in(self.store, &tx, items)?;
        tx.commit()?;
        self.store.committed();
        Ok(result)
    }
}

/// A chunk is closed once its body reaches this size; the next span of the trace starts another.
const CHUNK_SPLIT_BYTES: usize = 16 << 20;
/// The largest chunk read back: chunks are closed at [`CHUNK_SPLIT_BYTES`] plus one span, so a
/// larger size in a chunk's header means a damaged header, not a reason to allocate it.
const MAX_CHUNK_BYTES: usize = 1 << 30;

/// A compressed span chunk back to its bytes (binary spans, or the JSON text of older versions).
fn unpack(packed: &[u8]) -> Result<Vec<u8>, StoreError> {
    let corrupt = |e: lz4_flex::block::DecompressError| {
        StoreError::Corrupt(format!("span chunk does not decompress: {e}"))
    };
    let (size, block) = lz4_flex::block::uncompressed_size(packed).map_err(corrupt)?;
    if size > MAX_CHUNK_BYTES {
        return Err(StoreError::Corrupt(format!(
            "span chunk claims {size} bytes (more than {MAX_CHUNK_BYTES})"
        )));
    }
    lz4_flex::block::decompress(block, size).map_err(corrupt)
}

/// How long the checkpointer waits after a wake-up, so a burst of commits costs one checkpoint.
/// A checkpoint ends with an fsync of the database file, and on ext4 a commit that runs into one
/// can wait tens of milliseconds for the journal: at 50 ms (one checkpoint per ~100 ms under a
/// steady 10 requests/s) the request-to-SSE latency had a max of 22–68 ms, at 1 s 6.8 ms.
const CHECKPOINT_COALESCE: std::time::Duration = std::time::Duration::from_millis(1000);
/// How often the checkpointer runs when nothing wakes it.
const CHECKPOINT_IDLE: std::time::Duration = std::time::Duration::from_secs(1);

/// Starts the thread that checkpoints the WAL with its own connection. It stops when the store is
/// dropped.
///
/// A passive checkpoint never blocks the writer, but it copies only the frames committed when it
/// started. SQLite starts the WAL over (writes from its beginning again) only at a commit that
/// finds every frame copied. Under steady ingest a commit lands during every checkpoint, so the
/// WAL grew without end: 1.15 GB after 14 s of the ingest benchmark, beside a 330 MB database.
/// So once the WAL is past its bound, the thread runs a second passive pass (it copies what was
/// committed during the first), then a third while it holds the store's connection, where no
/// commit can land; the next commit starts the WAL over. The held pass copies only what the pass
/// before it missed (tens to a few thousand frames), but it ends with the checkpoint's fsyncs,
/// which under steady full ingest wait for the disk: the writer was held 7–390 ms in the ingest
/// benchmark, so the held pass runs only past the bound.
fn spawn_checkpointer(
    conn: Connection,
    writer: Weak<Mutex<Connection>>,
    wal_limit: i64,
) -> Result<std::sync::mpsc::SyncSender<()>, StoreError> {
    use std::sync::mpsc::RecvTimeoutError;
    let (wake, woken) = std::sync::mpsc::sync_channel::<()>(1);
    std::thread::Builder::new()
        .name("agentrace-checkpoint".into())
        .spawn(move || {
            loop {
                match woken.recv_timeout(CHECKPOINT_IDLE) {
                    Ok(()) => std::thread::sleep(CHECKPOINT_COALESCE),
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => break,
                }
                if let Err(err) = checkpoint(&conn, &writer, wal_limit, || {}) {
                    tracing::warn!(%err, "WAL checkpoint failed; retrying later");
                }
            }
        })
        .map_err(|source| StoreError::Io {
            path: "checkpoint thread".into(),
            source,
        })?;
    Ok(wake)
}

/// One checkpoint (see [`spawn_checkpointer`]): a passive pass, then, if the WAL is past
/// `wal_limit` bytes, another, and a last one with the writer held. `before_held` runs just before the
/// writer is taken (the tests' seam; the checkpointer passes nothing).
fn checkpoint(
    conn: &Connection,
    writer: &Weak<Mutex<Connection>>,
    wal_limit: i64,
    before_held: impl FnOnce(),
) -> Result<(), StoreError> {
    let frame_bytes: i64 = 24 + conn.query_row("PRAGMA page_size", [], |r| r.get::<_, i64>(0))?;
    // `(frames in the WAL, frames copied)`: equal when the pass copied everything.
    let pass = || -> Result<(i64, i64), StoreError> {
        Ok(conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
            Ok((r.get(1)?, r.get(2)?))
        })?)
    };
    let (frames, _) = pass()?;
    if frames.saturating_mul(frame_bytes) < wal_limit {
        // Left to start over on its own: at a commit that finds every frame copied.
        return Ok(());
    }
    // What was committed during the first pass, so the held pass copies less.
    pass()?;
    before_held();
    let Some(writer) = writer.upgrade() else {
        return Ok(());
    };
    let _held = writer.lock();
    let started = std::time::Instant::now();
    let (frames, copied) = pass()?;
    tracing::debug!(
        frames,
        copied,
        held_us = started.elapsed().as_micros() as u64,
        "WAL checkpoint finished with the writer held"
    );
    Ok(())
}

/// The JSON document `sql` selects for `key` (one `body` column); `missing` names what was not
/// found.
fn json_body(
    conn: &Connection,
    sql: &str,
    key: impl rusqlite::ToSql,
    missing: impl FnOnce() -> String,
) -> Result<serde_json::Value, StoreError> {
    let body: Option<String> = conn.query_row(sql, [key], |r| r.get(0)).optional()?;
    let body = body.ok_or_else(|| StoreError::NotFound(missing()))?;
    Ok(serde_json::from_str(&body)?)
}

/// The row number of session `session_id`, if it is stored.
pub(crate) fn session_rid(conn: &Connection, session_id: &str) -> Result<Option<i64>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT rid FROM sessions WHERE id = ?1")?
        .query_row([session_id], |r| r.get(0))
        .optional()?)
}

/// [`session_rid`], with a missing session as [`StoreError::NotFound`].
fn existing_session_rid(conn: &Connection, session_id: &str) -> Result<i64, StoreError> {
    session_rid(conn, session_id)?
        .ok_or_else(|| StoreError::NotFound(format!("no session `{session_id}`")))
}

fn write_invocations(
    conn: &Connection,
    session_id: &str,
    invocations: &[Invocation],
) -> Result<(), StoreError> {
    let rid = existing_session_rid(conn, session_id)?;
    conn.prepare_cached("DELETE FROM invocations WHERE session = ?1")?
        .execute([rid])?;
    let mut insert =
        conn.prepare_cached("INSERT INTO invocations (session, idx, body) VALUES (?1, ?2, ?3)")?;
    for (idx, invocation) in invocations.iter().enumerate() {
        insert.execute(params![rid, idx as i64, invocation.json()])?;
    }
    Ok(())
}

/// Moves a trace's spans and logs from one session to another, in the caller's transaction.
fn move_trace_in(tx: &Connection, trace_id: &str, from: &str, to: &str) -> Result<(), StoreError> {
    let spans: i64 = tx.query_row(
        "SELECT COALESCE(SUM(span_count), 0) FROM span_chunks \
             WHERE trace_id = ?1 AND session = (SELECT rid FROM sessions WHERE id = ?2)",
        params![trace_id, from],
        |r| r.get(0),
    )?;
    tx.execute(
        "UPDATE span_chunks SET session = (SELECT rid FROM sessions WHERE id = ?1) \
             WHERE trace_id = ?2 AND session = (SELECT rid FROM sessions WHERE id = ?3)",
        params![to, trace_id, from],
    )?;
    // A log's fingerprint names its session (`rid:hash`, see `NewLog`'s insert): it moves
    // with it. One the new session holds already stays where it was.
    let logs = tx.execute(
            "UPDATE OR IGNORE logs SET session = (SELECT rid FROM sessions WHERE id = ?1), \
             fingerprint = CASE WHEN instr(fingerprint, ':') > 0 \
                 THEN (SELECT rid FROM sessions WHERE id = ?1) || substr(fingerprint, instr(fingerprint, ':')) \
                 ELSE fingerprint END \
             WHERE trace_id = ?2 AND session = (SELECT rid FROM sessions WHERE id = ?3)",
            params![to, trace_id, from],
        )?;
    let logs = logs as i64;
    tx.execute(
        "UPDATE sessions SET span_count = span_count - ?1, log_count = log_count - ?2 \
             WHERE id = ?3",
        params![spans, logs, from],
    )?;
    tx.execute(
        "UPDATE sessions SET span_count = span_count + ?1, log_count = log_count + ?2, \
             completed_at_ns = NULL WHERE id = ?3",
        params![spans, logs, to],
    )?;
    Ok(())
}

/// Stores spans for sessions in the caller's transaction (see [`Writer::insert_spans`]) and adds
/// them to their sessions' counts.
fn spans_in<S: AsRef<str>>(
    store: &Store,
    tx: &Connection,
    spans: &[(S, NewSpan)],
    new_traces: &Set<String>,
) -> Result<Inserted, StoreError> {
    let mut result = Inserted::default();
    let mut per_session: Map<&str, i64> = Map::default();
    {
        // The span ids each trace of the batch already has in the store (read once per
        // trace), plus those of this batch as they are added.
        // Keyed by session and trace: a span is a duplicate only of the same span in the
        // same session (a retried export); sent into another session it is stored there.
        let mut known: Map<(&str, &str), Set<[u8; 8]>> = Map::default();
        let mut stored_ids = tx.prepare_cached(
            "SELECT s.ids FROM span_chunks c JOIN chunk_span_ids s ON s.chunk_id = c.id \
                 WHERE c.trace_id = ?1 AND c.session = (SELECT rid FROM sessions WHERE id = ?2)",
        )?;
        let mut legacy = store
            .legacy_ids
            .then(|| tx.prepare_cached("SELECT span_id FROM span_ids WHERE trace_id = ?1"))
            .transpose()?;
        let mut chunk_insert = tx.prepare_cached(
            "INSERT INTO span_chunks (session, trace_id, origin_id, span_count, body) \
                 VALUES ((SELECT rid FROM sessions WHERE id = ?1), ?2, ?3, ?4, ?5)",
        )?;
        let mut ids_insert =
            tx.prepare_cached("INSERT INTO chunk_span_ids (chunk_id, ids) VALUES (?1, ?2)")?;
        // Consecutive spans of one (session, trace, origin) form one chunk.
        let mut chunk = Chunk::default();
        let mut last_origin: Option<(*const u8, i64)> = None;
        for (session_id, span) in spans {
            let session_id = session_id.as_ref();
            let ptr = span.origin.as_ptr();
            let origin = match last_origin {
                Some((p, id)) if p == ptr => id,
                _ => {
                    let id = store.origin_id(tx, &span.origin)?;
                    last_origin = Some((ptr, id));
                    id
                }
            };
            let seen = match known.entry((session_id, &span.trace_id)) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e)
                    if new_traces.contains(&*span.trace_id) =>
                {
                    e.insert(Set::default())
                }
                std::collections::hash_map::Entry::Vacant(e) => {
                    let mut ids = Set::default();
                    let mut rows = stored_ids.query([&*span.trace_id, session_id])?;
                    while let Some(row) = rows.next()? {
                        let blob: Vec<u8> = row.get(0)?;
                        ids.extend(
                            blob.chunks_exact(8)
                                .filter_map(|c| <[u8; 8]>::try_from(c).ok()),
                        );
                    }
                    if let Some(legacy) = legacy.as_mut() {
                        let mut rows = legacy.query([&*span.trace_id])?;
                        while let Some(row) = rows.next()? {
                            let legacy_id: String = row.get(0)?;
                            ids.extend(SpanId::from_hex(&legacy_id).map(|id| id.0));
                        }
                    }
                    e.insert(ids)
                }
            };
            if !seen.insert(span.span_id) {
                result.duplicates += 1;
                continue;
            }
            result.stored += 1;
            *per_session.entry(session_id).or_default() += 1;
            if !chunk.holds(session_id, &span.trace_id, origin)
                || chunk.body.len() >= CHUNK_SPLIT_BYTES
            {
                chunk.flush(tx, &mut chunk_insert, &mut ids_insert)?;
                chunk.start(session_id, &span.trace_id, origin);
            }
            chunk.push(&span.body, span.span_id);
        }
        chunk.flush(tx, &mut chunk_insert, &mut ids_insert)?;
    }
    let mut update = tx.prepare_cached(
        "UPDATE sessions SET span_count = span_count + ?1, updated_at_ns = ?2, \
             completed_at_ns = NULL WHERE id = ?3",
    )?;
    let now = now_ns();
    for (session_id, added) in per_session {
        update.execute(params![added, now, session_id])?;
    }
    drop(update);
    Ok(result)
}

/// Stores log records (or another [`Item`]) for sessions in the caller's transaction and adds
/// them to their sessions' counts.
fn items_in<T: Item>(
    store: &Store,
    tx: &Connection,
    items: &[(String, T)],
) -> Result<Inserted, StoreError> {
    let mut result = Inserted::default();
    let mut per_session: Map<&str, i64> = Map::default();
    {
        let mut insert = tx.prepare_cached(T::INSERT)?;
        // Items of one batch share their origin string: look it up once per distinct one.
        let mut last: Option<(*const u8, i64)> = None;
        for (session_id, item) in items {
            let ptr = item.origin().as_ptr();
            let origin = match last {
                Some((p, id)) if p == ptr => id,
                _ => {
                    let id = store.origin_id(tx, item.origin())?;
                    last = Some((ptr, id));
                    id
                }
            };
            if item.insert(&mut insert, session_id, origin)? == 1 {
                result.stored += 1;
                *per_session.entry(session_id.as_str()).or_default() += 1;
            } else {
                result.duplicates += 1;
            }
        }
    }
    let now = now_ns();
    let mut update = tx.prepare_cached(T::COUNT)?;
    for (session_id, added) in per_session {
        update.execute(params![added, now, session_id])?;
    }
    drop(update);
    Ok(result)
}

fn insert_session(conn: &Connection, row: &SessionRow) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO sessions (id, key_kind, key, eval_set_id, metadata, created_at_ns, \
         updated_at_ns, completed_at_ns, span_count, log_count) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
        row.id,
        row.key_kind,
        row.key,
        row.eval_set_id,
        row.metadata.to_string(),
        row.created_at_ns,
        row.updated_at_ns,
        row.completed_at_ns,
        row.span_count,
        row.log_count
    ])?;
    Ok(())
}

const SESSION_COLUMNS: &str = "id, key_kind, key, eval_set_id, metadata, created_at_ns, \
    updated_at_ns, completed_at_ns, span_count, log_count";

fn session_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<SessionRow> {
    let metadata: String = r.get(4)?;
    Ok(SessionRow {
        id: r.get(0)?,
        key_kind: r.get(1)?,
        key: r.get(2)?,
        eval_set_id: r.get(3)?,
        metadata: serde_json::from_str(&metadata).unwrap_or(serde_json::Value::Null),
        created_at_ns: r.get(5)?,
        updated_at_ns: r.get(6)?,
        completed_at_ns: r.get(7)?,
        span_count: r.get(8)?,
        log_count: r.get(9)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tickets_get_the_writer_in_the_order_they_were_taken() {
        let store = Store::open(&DbLocation::Memory).unwrap();
        let order = Mutex::new(Vec::new());
        let (first, second, third) = (store.ticket(), store.ticket(), store.ticket());
        std::thread::scope(|scope| {
            let later = scope.spawn(|| {
                let writer = third.writer();
                order.lock().push(3);
                drop(writer);
            });
            // The third waits for the second, which has not asked for its writer yet; the first
            // gives its turn up unused.
            drop(first);
            std::thread::sleep(std::time::Duration::from_millis(50));
            assert!(
                order.lock().is_empty(),
                "the third ticket wrote out of turn"
            );
            let writer = second.writer();
            order.lock().push(2);
            drop(writer);
            later.join().unwrap();
        });
        assert_eq!(*order.lock(), vec![2, 3]);
        // Out of turn, the writer is free again.
        drop(store.writer());
        drop(store.ticket().writer());
    }

    fn session(i: usize) -> SessionRow {
        SessionRow {
            id: format!("s{i:05}"),
            key_kind: "name".into(),
            key: format!("s{i:05}"),
            eval_set_id: None,
            metadata: serde_json::json!({ "padding": "x".repeat(6000) }),
            created_at_ns: 0,
            updated_at_ns: 0,
            completed_at_ns: None,
            span_count: 0,
            log_count: 0,
        }
    }

    /// Frames in the WAL now (a passive checkpoint's first count).
    fn wal_frames(conn: &Connection) -> i64 {
        conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get(1))
            .unwrap()
    }

    /// A checkpoint whose passive passes leave frames behind (as when commits land during them;
    /// here a reader's older snapshot holds them back until the held pass) still lets the WAL
    /// start over: its last pass, with the writer held, copies the rest, so the next commit
    /// writes from the WAL's start. Without the held pass the next commit appends instead, and
    /// the WAL grows for as long as every checkpoint leaves something behind, which under steady
    /// ingest is every checkpoint (1.15 GB in 14 s of the ingest benchmark).
    #[test]
    fn a_checkpoint_past_the_bound_lets_the_wal_start_over() {
        const LIMIT: i64 = 512 << 10;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wal.db");
        let store = Store::open_with(&DbLocation::File(path.clone()), LIMIT as u64).unwrap();
        let own = Store::open_file(&path, Durability::Normal).unwrap();
        for i in 0..100 {
            store.create_session(&session(i)).unwrap();
        }
        // A reader's snapshot: passive passes copy no frame committed after it.
        let mut reader = Store::open_file(&path, Durability::Normal).unwrap();
        let snapshot = reader.transaction().unwrap();
        let _: i64 = snapshot
            .query_row("SELECT COUNT(*) FROM sessions", [], |r| r.get(0))
            .unwrap();
        for i in 100..200 {
            store.create_session(&session(i)).unwrap();
        }
        let before = wal_frames(&own);
        assert!(
            before * 4120 > LIMIT,
            "the WAL is past its bound ({before} frames)"
        );
        checkpoint(&own, &Arc::downgrade(&store.conn), LIMIT, || drop(snapshot)).unwrap();
        store.create_session(&session(200)).unwrap();
        let after = wal_frames(&own);
        assert!(
            after < 50,
            "the next commit did not start the WAL over: {after} frames, {before} before"
        );
        assert_eq!(store.session_count().unwrap(), 201);
    }
}
