//! Traced streams: a `futures::Stream` (and a blocking-iterator twin) of model chunks whose GenAI
//! span ends exactly once, on natural end, error, early drop or cancellation.

use std::fmt;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use agentrace_semconv::attr;
use futures_core::Stream;
use opentelemetry::KeyValue;
use opentelemetry::trace::TraceContextExt;

use crate::span::{GenAiSpan, Usage, error_type_of};

/// One streamed fragment of a tool call: OpenAI sends the id and name first and the arguments in
/// pieces; Anthropic and Bedrock send `input_json_delta`s.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ToolCallDelta<'a> {
    /// Position of the tool call within its choice.
    pub index: usize,
    /// The tool call id, when this fragment carries it.
    pub id: Option<&'a str>,
    /// The tool name, when this fragment carries it.
    pub name: Option<&'a str>,
    /// A piece of the JSON arguments.
    pub arguments: Option<&'a str>,
}

/// What a traced stream needs to know about one chunk. Every accessor has a default, so a chunk
/// type implements only what its provider sends.
pub trait ModelChunk {
    /// The choice (candidate) this chunk belongs to.
    fn choice_index(&self) -> usize {
        0
    }
    /// Text appended to the choice's output.
    fn text_delta(&self) -> Option<&str> {
        None
    }
    /// Reasoning text appended to the choice's output.
    fn reasoning_delta(&self) -> Option<&str> {
        None
    }
    /// Tool-call fragments in this chunk, passed one by one to `f` (no allocation).
    fn tool_call_deltas(&self, f: &mut dyn FnMut(ToolCallDelta<'_>)) {
        let _ = f;
    }
    /// Usage reported in this chunk (merged: later counts win, missing ones are kept).
    fn usage(&self) -> Option<Usage> {
        None
    }
    /// The choice's finish reason, when this chunk ends it.
    fn finish_reason(&self) -> Option<&str> {
        None
    }
    /// The response id, when this chunk carries it.
    fn response_id(&self) -> Option<&str> {
        None
    }
    /// The response model, when this chunk carries it.
    fn response_model(&self) -> Option<&str> {
        None
    }
}

/// A tool call reassembled from its fragments.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ToolCallOutput {
    /// The call id.
    pub id: Option<String>,
    /// The tool name.
    pub name: String,
    /// The JSON arguments, concatenated.
    pub arguments: String,
}

/// One choice reassembled from the chunks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChoiceOutput {
    /// The choice index.
    pub index: usize,
    /// All text deltas, concatenated.
    pub text: String,
    /// All reasoning deltas, concatenated.
    pub reasoning: String,
    /// Tool calls in order of their index.
    pub tool_calls: Vec<ToolCallOutput>,
    /// The finish reason, if the stream reported one.
    pub finish_reason: Option<String>,
}

/// How a traced stream ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamOutcome {
    /// The inner stream ran to its end.
    Completed,
    /// The inner stream yielded an error.
    Failed,
    /// The stream was dropped (or its task cancelled) before its end.
    Dropped,
}

/// Everything merged from a stream's chunks; available while and after it runs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StreamOutput {
    /// Choices in index order.
    pub choices: Vec<ChoiceOutput>,
    /// Merged usage.
    pub usage: Usage,
    /// The response id.
    pub response_id: Option<String>,
    /// The response model.
    pub response_model: Option<String>,
    /// Number of chunks received.
    pub chunks: u64,
    /// Time from the span's start to the first chunk.
    pub time_to_first_chunk: Option<Duration>,
}

impl StreamOutput {
    /// The text of the first choice.
    pub fn text(&self) -> &str {
        self.choices.first().map_or("", |c| c.text.as_str())
    }

    /// The finish reasons, one per choice that has one.
    pub fn finish_reasons(&self) -> Vec<String> {
        self.choices
            .iter()
            .filter_map(|c| c.finish_reason.clone())
            .collect()
    }

    fn choice(&mut self, index: usize) -> &mut ChoiceOutput {
        while self.choices.len() <= index {
            let i = self.choices.len();
            self.choices.push(ChoiceOutput {
                index: i,
                ..ChoiceOutput::default()
            });
        }
        &mut self.choices[index]
    }

    fn apply<C: ModelChunk + ?Sized>(&mut self, chunk: &C) {
        self.chunks += 1;
        if let Some(u) = chunk.usage() {
            self.usage.merge(&u);
        }
        if let Some(id) = chunk.response_id()
            && self.response_id.as_deref() != Some(id)
        {
            self.response_id = Some(id.to_owned());
        }
        if let Some(m) = chunk.response_model()
            && self.response_model.as_deref() != Some(m)
        {
            self.response_model = Some(m.to_owned());
        }
        let choice = self.choice(chunk.choice_index());
        if let Some(t) = chunk.text_delta() {
            choice.text.push_str(t);
        }
        if let Some(t) = chunk.reasoning_delta() {
            choice.reasoning.push_str(t);
        }
        if let Some(r) = chunk.finish_reason()
            && choice.finish_reason.as_deref() != Some(r)
        {
            choice.finish_reason = Some(r.to_owned());
        }
        let calls = &mut choice.tool_calls;
        chunk.tool_call_deltas(&mut |d| {
            while calls.len() <= d.index {
                calls.push(ToolCallOutput::default());
            }
            let call = &mut calls[d.index];
            if let Some(id) = d.id {
                call.id = Some(id.to_owned());
            }
            if let Some(n) = d.name {
                call.name.push_str(n);
            }
            if let Some(a) = d.arguments {
                call.arguments.push_str(a);
            }
        });
    }
}

/// The clock of the intervals between chunks: the CPU's time-stamp counter, calibrated once
/// against the monotonic clock (about a millisecond, the first time), where the CPU has an
/// invariant one, and the monotonic clock otherwise. Read once per chunk, it costs about a third
/// of `Instant::now` in a VM. Time to first chunk and durations use `Instant`.
pub(crate) fn chunk_clock() -> &'static quanta::Clock {
    static CLOCK: std::sync::OnceLock<quanta::Clock> = std::sync::OnceLock::new();
    CLOCK.get_or_init(quanta::Clock::new)
}

/// How many chunk intervals a traced stream buffers before it records them (a bound on the
/// memory a long stream holds and on how late its points reach the meter).
pub(crate) const CHUNK_INTERVAL_BUFFER: usize = 256;

/// The part of a traced stream that does not depend on the inner stream's type.
#[derive(Debug)]
struct Core {
    span: GenAiSpan,
    output: StreamOutput,
    /// When the last chunk arrived, in [`chunk_clock`] ticks.
    last_chunk: Option<u64>,
    /// Intervals between chunks (seconds) not yet recorded in
    /// `gen_ai.client.operation.time_per_output_chunk`.
    intervals: Vec<f64>,
    outcome: Option<StreamOutcome>,
}

impl Core {
    fn new(mut span: GenAiSpan) -> Self {
        if !span.streaming {
            // Started without `.stream(true)`: mark it now (after start, so not for sampling).
            span.streaming = true;
            span.set_late(KeyValue::new(attr::GEN_AI_REQUEST_STREAM, true));
        }
        Self {
            span,
            output: StreamOutput::default(),
            last_chunk: None,
            intervals: Vec::new(),
            outcome: None,
        }
    }

    /// Per chunk after the first: one clock read and a push; the intervals are recorded in
    /// batches by [`Core::record_intervals`]. The first chunk records time to first chunk at once.
    #[inline]
    fn on_chunk<C: ModelChunk + ?Sized>(&mut self, chunk: &C) {
        let first = self.last_chunk.is_none();
        match self.last_chunk {
            Some(_) if !self.span.inst.inner.per_chunk_metric => {}
            None => {
                let ttfc = self.span.started.elapsed();
                // Without the per-chunk metric only "a chunk arrived" is kept: no clock read (and
                // no calibration, which `build` skipped).
                self.last_chunk = Some(if self.span.inst.inner.per_chunk_metric {
                    chunk_clock().raw()
                } else {
                    0
                });
                self.output.time_to_first_chunk = Some(ttfc);
                self.span.set_attribute(KeyValue::new(
                    attr::GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK,
                    ttfc.as_secs_f64(),
                ));
            }
            Some(prev) => {
                let clock = chunk_clock();
                let now = clock.raw();
                if self.intervals.capacity() == 0 {
                    self.intervals.reserve_exact(CHUNK_INTERVAL_BUFFER);
                }
                self.intervals
                    .push(clock.delta_as_nanos(prev, now) as f64 * 1e-9);
                self.last_chunk = Some(now);
                if self.intervals.len() >= CHUNK_INTERVAL_BUFFER {
                    self.record_intervals();
                }
            }
        }
        self.output.apply(chunk);
        if first && let Some(ttfc) = self.output.time_to_first_chunk {
            let attrs = self.metric_attributes();
            let metrics = self.span.inst.metrics();
            metrics
                .time_to_first_chunk
                .record(ttfc.as_secs_f64(), &attrs);
        }
    }

    /// The span's metric attributes (no `error.type`), with the response model once a chunk has
    /// named it.
    fn metric_attributes(&mut self) -> Vec<KeyValue> {
        if let Some(m) = &self.output.response_model
            && self.span.response_model() != Some(m.as_str())
        {
            self.span.set_response_model(m.clone());
        }
        self.span.metric_attributes(false)
    }

    /// Records the buffered chunk intervals in `gen_ai.client.operation.time_per_output_chunk`:
    /// one histogram point per interval, as the conventions ask ("recorded for each chunk
    /// received after the first one"), all with the same attributes.
    fn record_intervals(&mut self) {
        if self.intervals.is_empty() {
            return;
        }
        let attrs = self.metric_attributes();
        let histogram = &self.span.inst.metrics().time_per_output_chunk;
        // Bound once per batch, each point skips the SDK's lookup of its attribute set (most of
        // what an unbound point costs).
        #[cfg(feature = "bound-metrics")]
        {
            let bound = histogram.bind(&attrs);
            for &interval in &self.intervals {
                bound.record(interval);
            }
        }
        #[cfg(not(feature = "bound-metrics"))]
        for &interval in &self.intervals {
            histogram.record(interval, &attrs);
        }
        self.intervals.clear();
    }

    fn on_error<E: fmt::Display>(&mut self, error: &E) {
        if self.outcome.is_some() {
            return;
        }
        self.span
            .record_error_as(error_type_of::<E>(), &error.to_string());
        self.finish(StreamOutcome::Failed);
    }

    fn finish(&mut self, outcome: StreamOutcome) {
        if self.outcome.is_some() {
            return;
        }
        self.outcome = Some(outcome);
        let out = &self.output;
        if let Some(id) = &out.response_id {
            self.span.set_response_id(id.clone());
        }
        if let Some(m) = out.response_model.clone() {
            self.span.set_response_model(m);
        }
        let reasons = out.finish_reasons();
        if !reasons.is_empty() {
            self.span.set_finish_reasons(reasons);
        }
        let usage = out.usage;
        if !usage.is_empty() {
            self.span.record_usage(&usage);
        }
        self.record_intervals();
        crate::content::record_stream_output(&mut self.span, &self.output, outcome);
        self.span.finish();
    }
}

impl Drop for Core {
    fn drop(&mut self) {
        self.finish(StreamOutcome::Dropped);
    }
}

pin_project_lite::pin_project! {
    /// A stream of model chunks traced by a GenAI span. See the crate docs for the lifecycle.
    ///
    /// Each poll of the inner stream runs with the span current, so spans an HTTP client creates
    /// while the stream is polled nest under it.
    #[derive(Debug)]
    pub struct TracedStream<S> {
        #[pin]
        inner: S,
        core: Core,
    }
}

impl<S> TracedStream<S> {
    /// Wraps `inner`; the span should have been started with `.stream(true)`.
    pub fn new(span: GenAiSpan, inner: S) -> Self {
        Self {
            inner,
            core: Core::new(span),
        }
    }

    /// Everything merged from the chunks so far (complete once the stream has ended).
    pub fn output(&self) -> &StreamOutput {
        &self.core.output
    }

    /// How the stream ended, or `None` while it runs.
    pub fn outcome(&self) -> Option<StreamOutcome> {
        self.core.outcome
    }

    /// The span's context (to nest other work under the stream's span).
    pub fn context(&self) -> &opentelemetry::Context {
        self.core.span.context()
    }
}

impl<S, C, E> Stream for TracedStream<S>
where
    S: Stream<Item = Result<C, E>>,
    C: ModelChunk,
    E: fmt::Display,
{
    type Item = Result<C, E>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        let this = self.project();
        if this.core.outcome.is_some() {
            return this.inner.poll_next(cx);
        }
        let polled = {
            let _guard = this.core.span.cx.clone().attach();
            this.inner.poll_next(cx)
        };
        match &polled {
            Poll::Ready(Some(Ok(chunk))) => this.core.on_chunk(chunk),
            Poll::Ready(Some(Err(e))) => this.core.on_error(e),
            Poll::Ready(None) => this.core.finish(StreamOutcome::Completed),
            Poll::Pending => {}
        }
        polled
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

/// The blocking-iterator twin of [`TracedStream`].
#[derive(Debug)]
pub struct TracedIter<I> {
    inner: I,
    core: Core,
}

impl<I> TracedIter<I> {
    /// Wraps `inner`.
    pub fn new(span: GenAiSpan, inner: I) -> Self {
        Self {
            inner,
            core: Core::new(span),
        }
    }

    /// Everything merged from the chunks so far.
    pub fn output(&self) -> &StreamOutput {
        &self.core.output
    }

    /// How the iterator ended, or `None` while it runs.
    pub fn outcome(&self) -> Option<StreamOutcome> {
        self.core.outcome
    }
}

impl<I, C, E> Iterator for TracedIter<I>
where
    I: Iterator<Item = Result<C, E>>,
    C: ModelChunk,
    E: fmt::Display,
{
    type Item = Result<C, E>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.core.outcome.is_some() {
            return self.inner.next();
        }
        let item = {
            let _guard = self.core.span.cx.clone().attach();
            self.inner.next()
        };
        match &item {
            Some(Ok(chunk)) => self.core.on_chunk(chunk),
            Some(Err(e)) => self.core.on_error(e),
            None => self.core.finish(StreamOutcome::Completed),
        }
        item
    }
}

impl GenAiSpan {
    /// Traces a stream of chunks with this span (see [`TracedStream`]).
    pub fn trace_stream<S>(self, inner: S) -> TracedStream<S> {
        TracedStream::new(self, inner)
    }

    /// Traces a blocking iterator of chunks with this span (see [`TracedIter`]).
    pub fn trace_iter<I>(self, inner: I) -> TracedIter<I> {
        TracedIter::new(self, inner)
    }
}

impl GenAiSpan {
    /// Whether the span is recording (false under a dropping sampler).
    pub fn is_recording(&self) -> bool {
        self.cx.span().is_recording()
    }
}
