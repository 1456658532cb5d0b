//! The handle every instrumented call goes through: a tracer, the GenAI metric instruments, an
//! optional event logger and the content-capture settings.

use std::fmt;
use std::sync::Arc;

use opentelemetry::global::{BoxedTracer, ObjectSafeTracerProvider};
use opentelemetry::logs::{AnyValue, LogRecord, Logger, LoggerProvider, Severity};
use opentelemetry::metrics::{Histogram, Meter, MeterProvider};
use opentelemetry::trace::{Span, Tracer, TracerProvider};
use opentelemetry::{InstrumentationScope, Key};

use crate::vocab;

/// Instrumentation scope name of every span, metric and log record this crate emits.
pub const SCOPE_NAME: &str = "agentrace-sdk";

/// One log-based event, ready for a logger: an event name, a severity, attributes and a body.
#[derive(Debug, Clone)]
pub struct LogEvent {
    /// The event name (`LogRecord::set_event_name` needs a `'static` name).
    pub name: &'static str,
    /// Severity of the record.
    pub severity: Severity,
    /// Attributes, structured where the value is a map or list.
    pub attributes: Vec<(Key, AnyValue)>,
    /// The body, if any (legacy per-message events carry their payload here).
    pub body: Option<AnyValue>,
}

/// An object-safe sink for [`LogEvent`]s; implemented for every `opentelemetry` [`Logger`].
pub trait EventLogger: Send + Sync {
    /// Emits one event. The current context's span is attached by the logger.
    fn emit_event(&self, event: LogEvent);
}

impl<L> EventLogger for L
where
    L: Logger + Send + Sync,
{
    fn emit_event(&self, event: LogEvent) {
        let mut record = self.create_log_record();
        record.set_event_name(event.name);
        record.set_severity_number(event.severity);
        record.set_severity_text(event.severity.name());
        record.add_attributes(event.attributes);
        if let Some(body) = event.body {
            record.set_body(body);
        }
        self.emit(record);
    }
}

/// The four client histograms of the GenAI conventions, with the spec's bucket boundaries.
#[derive(Clone)]
pub(crate) struct Metrics {
    pub(crate) token_usage: Histogram<u64>,
    pub(crate) duration: Histogram<f64>,
    pub(crate) time_to_first_chunk: Histogram<f64>,
    pub(crate) time_per_output_chunk: Histogram<f64>,
}

impl Metrics {
    fn new(meter: &Meter) -> Self {
        let seconds = vocab::duration_buckets();
        Self {
            token_usage: meter
                .u64_histogram(vocab::METRIC_TOKEN_USAGE)
                .with_unit(vocab::UNIT_TOKEN)
                .with_description("Number of input and output tokens used.")
                .with_boundaries(vocab::token_buckets())
                .build(),
            duration: meter
                .f64_histogram(vocab::METRIC_OPERATION_DURATION)
                .with_unit(vocab::UNIT_SECONDS)
                .with_description("GenAI operation duration.")
                .with_boundaries(seconds.clone())
                .build(),
            time_to_first_chunk: meter
                .f64_histogram(vocab::METRIC_TIME_TO_FIRST_CHUNK)
                .with_unit(vocab::UNIT_SECONDS)
                .with_description("Time to receive the first chunk of a streaming response.")
                .with_boundaries(seconds.clone())
                .build(),
            time_per_output_chunk: meter
                .f64_histogram(vocab::METRIC_TIME_PER_OUTPUT_CHUNK)
                .with_unit(vocab::UNIT_SECONDS)
                .with_description("Time between consecutive chunks of a streaming response.")
                .with_boundaries(seconds)
                .build(),
        }
    }
}

pub(crate) struct Inner {
    pub(crate) tracer: BoxedTracer,
    pub(crate) metrics: Metrics,
    pub(crate) logger: Option<Arc<dyn EventLogger>>,
    pub(crate) capture: vocab::CaptureSettings,
    pub(crate) legacy_events: bool,
    pub(crate) max_content_length: Option<usize>,
    pub(crate) per_chunk_metric: bool,
}

/// The handle every instrumented call goes through.
///
/// Cheap to clone (one `Arc`). Build one per application with [`Instrumentation::builder`], or use
/// [`Instrumentation::global`] to go through the global providers of the `opentelemetry` API.
#[derive(Clone)]
pub struct Instrumentation {
    pub(crate) inner: Arc<Inner>,
}

impl fmt::Debug for Instrumentation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Instrumentation")
            .field("capture", &self.inner.capture)
            .field("logger", &self.inner.logger.is_some())
            .field("legacy_events", &self.inner.legacy_events)
            .finish_non_exhaustive()
    }
}

impl Instrumentation {
    /// A builder; unset providers fall back to the global ones, capture settings to the
    /// environment.
    pub fn builder() -> InstrumentationBuilder {
        InstrumentationBuilder::default()
    }

    /// Instrumentation on the global tracer and meter providers, with content-capture settings
    /// read from the environment and no event logger (the `opentelemetry` API has no global
    /// logger provider; use [`InstrumentationBuilder::with_logger_provider`]).
    pub fn global() -> Self {
        Self::builder().build()
    }

    /// The content-capture settings in force.
    pub fn capture(&self) -> &vocab::CaptureSettings {
        &self.inner.capture
    }

    /// Whether legacy per-message log events are emitted.
    pub fn legacy_events(&self) -> bool {
        self.inner.legacy_events
    }

    /// Emits a log event if a logger is configured. Returns whether it was emitted.
    pub fn emit_log_event(&self, event: LogEvent) -> bool {
        match &self.inner.logger {
            Some(logger) => {
                logger.emit_event(event);
                true
            }
            None => false,
        }
    }

    pub(crate) fn tracer(&self) -> &BoxedTracer {
        &self.inner.tracer
    }

    pub(crate) fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// Starts a plain (non-GenAI) span as a child of `parent`, named and kinded as asked. Used
    /// by the hooks' tracing plugin for `session` and `action` spans.
    pub(crate) fn start_plain(
        &self,
        name: String,
        kind: opentelemetry::trace::SpanKind,
        attributes: Vec<opentelemetry::KeyValue>,
        parent: &opentelemetry::Context,
    ) -> opentelemetry::Context {
        use opentelemetry::trace::TraceContextExt;
        let label = crate::span::SpanLabel::new(&name);
        let span = self
            .tracer()
            .span_builder(name)
            .with_kind(kind)
            .with_attributes(attributes)
            .start_with_context(self.tracer(), parent);
        let recording = span.is_recording();
        let cx = parent.with_span(span);
        if recording { cx.with_value(label) } else { cx }
    }
}

/// Builder for [`Instrumentation`].
#[derive(Default)]
pub struct InstrumentationBuilder {
    tracer: Option<BoxedTracer>,
    meter: Option<Meter>,
    logger: Option<Arc<dyn EventLogger>>,
    capture: Option<vocab::CaptureSettings>,
    legacy_events: bool,
    max_content_length: Option<usize>,
    no_per_chunk_metric: bool,
}

impl fmt::Debug for InstrumentationBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InstrumentationBuilder")
            .field("tracer", &self.tracer.is_some())
            .field("meter", &self.meter.is_some())
            .field("logger", &self.logger.is_some())
            .field("capture", &self.capture)
            .field("legacy_events", &self.legacy_events)
            .finish()
    }
}

fn scope() -> InstrumentationScope {
    InstrumentationScope::builder(SCOPE_NAME)
        .with_version(env!("CARGO_PKG_VERSION"))
        .build()
}

impl InstrumentationBuilder {
    /// Spans go to a tracer of this provider.
    pub fn with_tracer_provider<P, T, S>(mut self, provider: &P) -> Self
    where
        S: Span + Send + Sync + 'static,
        T: Tracer<Span = S> + Send + Sync + 'static,
        P: TracerProvider<Tracer = T>,
    {
        self.tracer = Some(BoxedTracer::new(provider.boxed_tracer(scope())));
        self
    }

    /// Metrics go to a meter of this provider.
    pub fn with_meter_provider<P: MeterProvider>(mut self, provider: &P) -> Self {
        self.meter = Some(provider.meter_with_scope(scope()));
        self
    }

    /// Log-based events (`operation.details`, legacy message events) go to a logger of this
    /// provider. Without one, no log event is emitted.
    pub fn with_logger_provider<P>(mut self, provider: &P) -> Self
    where
        P: LoggerProvider,
        P::Logger: Send + Sync + 'static,
    {
        self.logger = Some(Arc::new(provider.logger_with_scope(scope())));
        self
    }

    /// Log-based events go to this sink.
    pub fn with_event_logger(mut self, logger: Arc<dyn EventLogger>) -> Self {
        self.logger = Some(logger);
        self
    }

    /// Content-capture settings; the default is read from the environment (off unless enabled).
    pub fn with_capture(mut self, capture: vocab::CaptureSettings) -> Self {
        self.capture = Some(capture);
        self
    }

    /// Also emit the legacy `gen_ai.{role}.message` and `gen_ai.choice` log events (off by
    /// default; content in them still follows the capture settings).
    pub fn with_legacy_events(mut self, on: bool) -> Self {
        self.legacy_events = on;
        self
    }

    /// Truncates captured content to this many characters per value (strings are cut inside
    /// the JSON, which stays valid). Unlimited by default.
    pub fn with_content_max_length(mut self, max_chars: usize) -> Self {
        self.max_content_length = Some(max_chars);
        self
    }

    /// Whether traced streams record `gen_ai.client.operation.time_per_output_chunk` (on by
    /// default, as the conventions ask: one point per chunk after the first). A stream keeps the
    /// intervals and records them in batches (every 256 chunks and when it ends), but each point
    /// is still one `Histogram::record`, which with the opentelemetry SDK costs far more than the
    /// rest of a traced stream's per-chunk work (see docs/benchmarks.md); turning it off also
    /// saves the per-chunk clock read, and keeps time to first chunk, duration and usage.
    pub fn with_per_chunk_metric(mut self, on: bool) -> Self {
        self.no_per_chunk_metric = !on;
        self
    }

    /// Builds the handle.
    pub fn build(self) -> Instrumentation {
        if !self.no_per_chunk_metric {
            // Calibrated here, once per process, rather than inside a stream's first poll.
            crate::stream::chunk_clock();
        }
        let tracer = self
            .tracer
            .unwrap_or_else(|| opentelemetry::global::tracer_with_scope(scope()));
        let meter = self
            .meter
            .unwrap_or_else(|| opentelemetry::global::meter_with_scope(scope()));
        let capture = self.capture.unwrap_or_else(vocab::capture_from_env);
        Instrumentation {
            inner: Arc::new(Inner {
                tracer,
                metrics: Metrics::new(&meter),
                logger: self.logger,
                capture,
                legacy_events: self.legacy_events,
                max_content_length: self.max_content_length,
                per_chunk_metric: !self.no_per_chunk_metric,
            }),
        }
    }
}

/// Converts a JSON value into a structured log value (maps and lists stay structured).
pub fn json_to_any_value(value: &serde_json::Value) -> AnyValue {
    use serde_json::Value as J;
    match value {
        J::Null => AnyValue::String("null".into()),
        J::Bool(b) => AnyValue::Boolean(*b),
        J::Number(n) => match n.as_i64() {
            Some(i) => AnyValue::Int(i),
            None => AnyValue::Double(n.as_f64().unwrap_or_default()),
        },
        J::String(s) => AnyValue::String(s.clone().into()),
        J::Array(items) => {
            AnyValue::ListAny(Box::new(items.iter().map(json_to_any_value).collect()))
        }
        J::Object(map) => AnyValue::Map(Box::new(
            map.iter()
                .map(|(k, v)| (Key::new(k.clone()), json_to_any_value(v)))
                .collect(),
        )),
    }
}
