//! The transport trait: how a batch of finished spans and log records leaves the process.

use std::time::Instant;

use futures::future::BoxFuture;
use opentelemetry::InstrumentationScope;
use opentelemetry_sdk::{Resource, logs::SdkLogRecord, trace::SpanData};

use crate::Invocation;

/// One finished item, in the order the application ended or emitted it.
// Spans are the common case and are moved into the queue as they are: boxing them would cost an
// allocation on the thread that ends each span.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Record {
    /// A span that ended.
    Span(SpanData),
    /// A log record, with the scope of the logger that emitted it.
    Log(Box<(SdkLogRecord, InstrumentationScope)>),
}

/// Why a transport could not deliver a batch.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TransportError {
    /// The server could not be reached or the connection broke: the batch is sent again, with
    /// backoff, until it is delivered or the processor shuts down.
    #[error("server unreachable: {0}")]
    Unreachable(String),
    /// The server refused the batch for good (bad data, a limit): it is counted as rejected and
    /// not sent again.
    #[error("rejected by the server: {0}")]
    Rejected(String),
}

/// What a transport reports when its session ends.
#[derive(Debug, Clone, Default)]
pub struct Finish {
    /// The session's invocations, from servers that send them (the WebSocket protocol's
    /// `session_complete`); `None` from plain OTLP endpoints.
    pub invocations: Option<Vec<Invocation>>,
}

/// Delivers batches of records. The processors run one transport on their worker thread; it is
/// never called from the thread that ends a span.
///
/// `send` is called again with the same batch after an [`TransportError::Unreachable`], in
/// order: a transport delivers batches in the order it is given them.
pub trait Transport: Send + 'static {
    /// The encoded form of a batch, kept for retries.
    type Batch: Send;

    /// Called once before the first batch, with the resource of the provider (spans) if known.
    fn set_resource(&mut self, _resource: &Resource) {}

    /// Encodes records into a batch (once per batch, however often it is sent).
    fn encode(&mut self, records: Vec<Record>) -> Self::Batch;

    /// Number of records in a batch.
    fn len(batch: &Self::Batch) -> usize;

    /// Sends a batch.
    fn send<'a>(&'a mut self, batch: &'a Self::Batch) -> BoxFuture<'a, Result<(), TransportError>>;

    /// Opens the connection ahead of the first batch, if the transport has one (best effort).
    fn warm_up(&mut self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }

    /// Ends the session after the last batch: sends what closes it and waits, until `deadline`,
    /// for what the server answers.
    fn finish(&mut self, deadline: Instant) -> BoxFuture<'_, Result<Finish, TransportError>>;

    /// Connections made again after one broke (for the statistics).
    fn reconnects(&self) -> u64 {
        0
    }

    /// Sent messages forgotten from the replay budget: they would be missing from the session
    /// after a reconnect (the WebSocket transport's `max_replay_bytes`).
    fn replay_forgotten(&self) -> u64 {
        0
    }

    /// Errors the server reported for items it had accepted on the wire (the WebSocket
    /// protocol's `error` messages), with the last message.
    fn server_errors(&self) -> (u64, Option<String>) {
        (0, None)
    }
}
