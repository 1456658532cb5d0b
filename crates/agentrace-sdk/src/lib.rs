//! GenAI instrumentation on the OpenTelemetry API.
//!
//! `agentrace-sdk` writes the OpenTelemetry GenAI semantic conventions for an AI agent: spans for
//! model calls, tools, agents and workflows; traced streams of model chunks whose span ends
//! exactly once; the GenAI client metrics with the spec's buckets; opt-in message content on
//! spans and log events; live events for in-process viewers; and plugin hooks that build a
//! `session > action > chat {model}` tree. It depends on the `opentelemetry` API only: the
//! application keeps its own SDK, exporters and sampling. Every attribute, event and metric name
//! comes from [`agentrace_semconv`].
//!
//! # Example
//!
//! ```
//! use agentrace_sdk::{Instrumentation, ModelChunk, Usage};
//! use futures::StreamExt;
//! use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
//!
//! // The application's SDK; here an in-memory exporter.
//! let exporter = InMemorySpanExporter::default();
//! let provider = SdkTracerProvider::builder().with_simple_exporter(exporter.clone()).build();
//! let inst = Instrumentation::builder().with_tracer_provider(&provider).build();
//!
//! // Any chunk type: implement the accessors its provider sends.
//! struct Chunk(&'static str, Option<Usage>);
//! impl ModelChunk for Chunk {
//!     fn text_delta(&self) -> Option<&str> { Some(self.0) }
//!     fn usage(&self) -> Option<Usage> { self.1 }
//! }
//! let chunks = futures::stream::iter([
//!     Ok::<_, std::io::Error>(Chunk("Hello, ", None)),
//!     Ok(Chunk("world.", Some(Usage::new(12, 3)))),
//! ]);
//!
//! // A `chat gpt-4o` CLIENT span with the sampling-relevant attributes set at start…
//! let span = inst.chat("gpt-4o").provider("openai").temperature(0.2).stream(true).start();
//! // …traced over the stream: time to first chunk, usage, finish reasons, metrics.
//! let mut stream = span.trace_stream(chunks);
//! let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
//! rt.block_on(async { while let Some(chunk) = stream.next().await { chunk.unwrap(); } });
//! assert_eq!(stream.output().text(), "Hello, world.");
//!
//! let spans = exporter.get_finished_spans().unwrap();
//! assert_eq!(spans[0].name, "chat gpt-4o");
//! ```
//!
//! # What is where
//!
//! | item | what |
//! |---|---|
//! | [`Instrumentation`] | the handle: tracer, meter, optional logger, capture settings ([`InstrumentationBuilder`]) |
//! | [`GenAiSpanBuilder`], [`GenAiSpan`] | `chat`, `text_completion`, `generate_content`, `embeddings`, `retrieval`, `execute_tool`, `invoke_agent`, `create_agent`, `invoke_workflow` spans; recorders for response, usage, content, errors |
//! | [`TracedStream`], [`TracedIter`], [`ModelChunk`] | streams and blocking iterators of chunks; the span ends once on end, error, drop or cancellation |
//! | [`content`], [`convert`] | opt-in content capture; provider-native JSON (OpenAI, Anthropic, Bedrock, Gemini) into the message model |
//! | [`events`] | [`add_event`] (span event + live stream), [`EventStream`], [`events::emit`] helpers |
//! | [`hooks`] | [`hooks::PluginRegistry`], [`hooks::TracingPlugin`] |
//! | [`propagation`] | carrying the context into `tokio::spawn`, `spawn_blocking` and `std::thread::spawn` |
//!
//! # Lifecycles and guarantees
//!
//! - A [`GenAiSpan`] ends exactly once: on [`GenAiSpan::end`] or on drop. Ending records
//!   `gen_ai.client.operation.duration` (with `error.type` after an error) and
//!   `gen_ai.client.token.usage` per token type, for model calls.
//! - An error recorded on a span ([`GenAiSpan::record_error`], [`GenAiSpan::run`], a stream's
//!   error) sets status ERROR and `error.type` and adds an `exception` span event; on a client
//!   operation (a span of kind `CLIENT`) it also emits a `gen_ai.client.operation.exception` log
//!   event (severity WARN, `exception.type`, `exception.message`) when a logger is configured.
//! - A [`TracedStream`] sets `gen_ai.response.time_to_first_chunk` on the first chunk, merges
//!   usage (early or late), finish reasons, response id and model from the chunks, sets them on
//!   the span before it ends, and ends it on natural end, on the first error (status ERROR,
//!   `error.type`, an `exception` event), or when dropped or cancelled (status unset). Each poll
//!   of the inner stream runs with the span current, so an HTTP client's spans nest under it.
//! - A traced stream records `time_to_first_chunk` on the first chunk. After it, per chunk, it
//!   reads the clock once (the CPU's time-stamp counter, through `quanta`, calibrated once per
//!   process when an [`Instrumentation`] is built; the monotonic clock where the counter is not
//!   invariant) and keeps the interval; the `time_per_output_chunk` points, one per
//!   chunk after the first, are recorded in batches (every 256 chunks and when the stream ends,
//!   on every exit path, before its span ends), with the response model once a chunk has named
//!   it. With delta temporality a long stream's points may therefore land in a later collection
//!   interval than their chunks.
//! - No `ContextGuard` is ever held across an `.await`: futures are wrapped with
//!   `FutureExt::with_context`, guards live only inside synchronous sections.
//! - Metric attributes are the low-cardinality semconv set only: operation, provider, request and
//!   response model, server address and port, token type, error type.
//!
//! # Feature flags
//!
//! - `bound-metrics` (default): traced streams record `time_per_output_chunk` through a histogram
//!   bound to the call's attributes (the `opentelemetry` API's experimental bound instruments),
//!   about 17 ns a point instead of the 110–290 ns of an unbound `Histogram::record`, which looks
//!   its series up by the attribute set on every call. The feature switches binding on in the API
//!   and in `opentelemetry_sdk` together (a dependency only for that), so the application's
//!   `opentelemetry_sdk` meter implements it. A meter of another implementation that does not
//!   implement `bind` would drop the bound points (the API's default): turn the feature off
//!   (`default-features = false`) with such a meter.
//!
//! Tests use `opentelemetry_sdk`'s `testing` feature as a dev-dependency.
//!
//! # Configuration
//!
//! Content capture is off unless enabled, by [`InstrumentationBuilder::with_capture`] or by the
//! environment (read once, by [`InstrumentationBuilder::build`], through
//! [`CaptureSettings::from_env`]):
//!
//! | variable | values | effect |
//! |---|---|---|
//! | `OTEL_SEMCONV_STABILITY_OPT_IN` | comma-separated; `gen_ai_latest_experimental` | selects the latest conventions (content modes below); otherwise the legacy ones |
//! | `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT` | latest: `NO_CONTENT` (default), `SPAN_ONLY`, `EVENT_ONLY`, `SPAN_AND_EVENT`; legacy: `true`/`1`/`yes` | where instructions, messages, tool definitions and tool arguments/results are written |
//! | `OTEL_INSTRUMENTATION_GENAI_EMIT_EVENT` | `true` / `false` | whether `gen_ai.client.inference.operation.details` is emitted (default: with `EVENT_ONLY` and `SPAN_AND_EVENT`) |
//!
//! Without `gen_ai_latest_experimental` the legacy conventions apply, where captured content goes
//! only in the bodies of the legacy per-message events: those are emitted only when switched on
//! with [`InstrumentationBuilder::with_legacy_events`] (and a logger is configured). Opt in to the
//! latest conventions to capture content on spans or on the `operation.details` event.
//!
//! | builder option | default | effect |
//! |---|---|---|
//! | [`InstrumentationBuilder::with_tracer_provider`] / `with_meter_provider` | the global providers | where spans and metrics go |
//! | [`InstrumentationBuilder::with_logger_provider`] | none | where log events go; without it no log event is emitted |
//! | [`InstrumentationBuilder::with_legacy_events`] | off | also emit `gen_ai.{role}.message` and `gen_ai.choice` log events |
//! | [`InstrumentationBuilder::with_content_max_length`] | unlimited | truncates captured content, keeping the JSON valid |
//! | [`InstrumentationBuilder::with_per_chunk_metric`] | on | records `time_per_output_chunk`, one point per chunk after the first |

pub mod content;
pub mod convert;
pub mod events;
pub mod hooks;
mod instrumentation;
pub mod propagation;
mod span;
mod stream;
mod vocab;

pub use agentrace_semconv::{CaptureSettings, ContentMode, Conventions, OperationName};
pub use content::{RequestContent, ResponseContent};
pub use events::{EventStream, LiveItem, StreamEvent, add_event};
pub use instrumentation::{
    EventLogger, Instrumentation, InstrumentationBuilder, LogEvent, SCOPE_NAME, json_to_any_value,
};
pub use span::{GenAiSpan, GenAiSpanBuilder, SpanLabel, Usage, error_type_of};
pub use stream::{
    ChoiceOutput, ModelChunk, StreamOutcome, StreamOutput, ToolCallDelta, ToolCallOutput,
    TracedIter, TracedStream,
};
