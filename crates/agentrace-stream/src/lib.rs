//! Span and log processors that stream finished spans and log records to an agentrace server
//! (or any OTLP endpoint) as they end, and a session in one call.
//!
//! [`StreamingSpanProcessor`] and [`StreamingLogProcessor`] implement `opentelemetry_sdk`'s
//! processor traits. Each finished span or log record is put in a bounded queue with a
//! non-blocking `try_send` (the only work on the thread that ends the span); a worker thread of
//! the crate's own, with its own single-threaded runtime, takes what is queued in batches and
//! hands each batch to a [`Transport`]:
//!
//! - [`WebSocketTransport`]: the live-session protocol of `agentrace serve` at `/ws/traces`
//!   (`session_start`, `spans`, `log` with trace and span ids, `session_end`, answered by
//!   `session_complete` with the session's invocations);
//! - [`OtlpTransport`]: opentelemetry-otlp's exporters, OTLP/HTTP protobuf or OTLP/gRPC, to any
//!   OTLP endpoint.
//!
//! [`session`] (async) and [`session_blocking`] set up the providers and processors for one
//! session and, at its end, deliver what is queued, end the session and return its invocations.
//!
//! # Example
//!
//! ```no_run
//! use agentrace_stream::{SessionOptions, session};
//! use opentelemetry::trace::{Tracer, TracerProvider};
//!
//! # async fn run() -> Result<(), agentrace_stream::SessionError> {
//! let options = SessionOptions::builder("http://127.0.0.1:8001")
//!     .with_name("dice")
//!     .with_eval_set_id("dice-eval")
//!     .with_metadata("model", "scripted")
//!     .build();
//! let session = session(options).await?;
//! println!("session {}", session.id());
//! let tracer = session.tracer("my-agent");
//! tracer.in_span("invoke_agent dice", |_cx| { /* the agent's work */ });
//! let end = session.end().await;
//! for invocation in end.invocations.unwrap_or_default() {
//!     println!("{} -> {}", invocation.user_text, invocation.agent_text);
//! }
//! println!("sent {}, dropped {}", end.stats.sent, end.stats.dropped());
//! # Ok(()) }
//! ```
//!
//! The processors can be used on their own, with any provider:
//!
//! ```no_run
//! use agentrace_stream::{Pipeline, WebSocketConfig, WebSocketTransport};
//! use opentelemetry_sdk::trace::SdkTracerProvider;
//!
//! let transport = WebSocketTransport::new(WebSocketConfig::new("ws://127.0.0.1:8001/ws/traces", "my-session"));
//! let pipeline = Pipeline::start(transport).expect("worker thread");
//! let provider = SdkTracerProvider::builder().with_span_processor(pipeline.span_processor()).build();
//! // ... spans ...
//! provider.shutdown().ok(); // delivers, sends session_end, waits for session_complete
//! println!("{:?} {:?}", pipeline.stats(), pipeline.invocations());
//! ```
//!
//! # Guarantees
//!
//! - `on_end` and `emit` never block: a full queue drops the record and counts it
//!   ([`Stats::dropped_queue_full`]); records ended after shutdown are counted too. When the
//!   pipeline is idle, `ended == sent + dropped()`.
//! - Records are sent in the order they ended, in batches of at most `max_batch` (a batch is what
//!   the queue holds when the worker gets to it, so a slow trickle goes out one by one and a
//!   burst in large batches).
//! - A batch that cannot be delivered (server down or restarting) is sent again with exponential
//!   backoff until it is delivered or shutdown's deadline passes; meanwhile the queue fills and
//!   its overflow is counted. The WebSocket transport keeps what it sent and, after a reconnect,
//!   opens the session again and sends it all again, so the server ends up with every span.
//!   A batch the receiver refuses for good (a gRPC code the OTLP specification does not retry,
//!   an HTTP status other than 429, 502, 503 and 504) is counted in [`Stats::rejected`] and not
//!   sent again.
//! - `force_flush` waits for delivery of what was queued, at most `flush_timeout`;
//!   `shutdown_with_timeout` delivers, ends the session and stops the worker within its timeout.
//!   With a span and a log processor on one pipeline, the last one shut down ends the session.
//! - Unsampled spans are not sent.
//!
//! # Configuration
//!
//! | setting | where | default | meaning |
//! |---|---|---|---|
//! | `queue_capacity` | [`PipelineConfig`] | 65 536 | records queued at most; more are dropped and counted |
//! | `max_batch` | [`PipelineConfig`] | 2 048 | records per batch at most |
//! | `initial_backoff` / `max_backoff` | [`PipelineConfig`] | 50 ms / 2 s | waits between attempts, doubling |
//! | `flush_timeout` | [`PipelineConfig`] | 5 s | how long `force_flush` waits |
//! | `connect_timeout` | [`WebSocketConfig`] | 2 s | connecting and the `session_started` answer |
//! | `max_replay_bytes` | [`WebSocketConfig`] | 256 MiB | sent messages kept for a replay after a reconnect; older ones are forgotten and counted ([`Stats::replay_forgotten`]) |
//! | `auth_token` | [`WebSocketConfig`], [`SessionOptionsBuilder::with_auth_token`] | none | `Authorization: Bearer` for `--auth-token` servers |
//! | transport | [`SessionOptionsBuilder::with_transport`] | WebSocket | WebSocket, OTLP/HTTP protobuf or OTLP/gRPC |
//! | shutdown timeout | [`SessionOptionsBuilder::with_shutdown_timeout`] | 10 s | how long a session's end may take |
//!
//! The crate reads no environment variable. With OTLP, a session's resource carries agentevals'
//! keys ([`SESSION_NAME_KEY`], [`RUN_ID_KEY`], [`EVAL_SET_ID_KEY`], [`METADATA_PREFIX`]), so
//! `agentrace serve` (and agentevals) group its spans into the session; plain OTLP gives no
//! invocations back. The HTTP clients are plain `http://` (no TLS).

mod invocation;
mod otlp;
mod pipeline;
mod session;
mod transport;
mod ws;

pub use invocation::{Invocation, ToolCall};
pub use otlp::{OtlpBatch, OtlpProtocol, OtlpTransport};
pub use pipeline::{
    Pipeline, PipelineConfig, StartError, Stats, StreamingLogProcessor, StreamingSpanProcessor,
};
pub use session::{
    EVAL_SET_ID_KEY, METADATA_PREFIX, RUN_ID_KEY, SESSION_NAME_KEY, Session, SessionEnd,
    SessionError, SessionOptions, SessionOptionsBuilder, SessionTransport, session,
    session_blocking,
};
pub use transport::{Finish, Record, Transport, TransportError};
pub use ws::{WebSocketConfig, WebSocketTransport, WsBatch};
