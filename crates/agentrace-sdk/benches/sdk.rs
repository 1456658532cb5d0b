//! SDK benchmarks: the per-chunk cost of `TracedStream` over a bare stream, `add_event` with and
//! without a live subscriber against a bare span event, and a whole instrumented chat call.
//!
//! Run with `cargo xtask bench` (or `cargo bench -p agentrace-sdk`). Every measurement has its
//! baseline in the same run; docs/benchmarks.md reports the ratios.

#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout
)]

use std::hint::black_box;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};
use std::time::{Duration, Instant};

use agentrace_sdk::events::attr;
use agentrace_sdk::{CaptureSettings, EventStream, Instrumentation, ModelChunk, Usage, add_event};
use agentrace_semconv::attr as attr_key;
use criterion::{Criterion, Throughput, criterion_group};
use futures::Stream;
use futures::task::noop_waker;
use opentelemetry::metrics::MeterProvider;
use opentelemetry::trace::{TraceContextExt, Tracer, TracerProvider};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanProcessor};

/// A span processor that drops everything: the benchmarks measure instrumentation, not export.
#[derive(Debug)]
struct Drop_;

impl SpanProcessor for Drop_ {
    fn on_start(&self, _: &mut opentelemetry_sdk::trace::Span, _: &Context) {}
    fn on_end(&self, span: SpanData) {
        black_box(span);
    }
    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }
    fn shutdown_with_timeout(&self, _: Duration) -> OTelSdkResult {
        Ok(())
    }
}

struct Providers {
    tracer: SdkTracerProvider,
    meter: SdkMeterProvider,
}

fn providers() -> Providers {
    let tracer = SdkTracerProvider::builder()
        .with_span_processor(Drop_)
        .with_max_events_per_span(u32::MAX)
        .build();
    // A real SDK meter, read rarely: recording goes through the SDK's aggregation.
    let meter = SdkMeterProvider::builder()
        .with_reader(
            PeriodicReader::builder(InMemoryMetricExporter::default())
                .with_interval(Duration::from_secs(3600))
                .build(),
        )
        .build();
    Providers { tracer, meter }
}

fn instrumentation(p: &Providers, with_meter: bool) -> Instrumentation {
    instrumentation_with(p, with_meter, true)
}

fn instrumentation_with(
    p: &Providers,
    with_meter: bool,
    per_chunk_metric: bool,
) -> Instrumentation {
    let b = Instrumentation::builder()
        .with_tracer_provider(&p.tracer)
        .with_per_chunk_metric(per_chunk_metric)
        .with_capture(CaptureSettings::default());
    let b = if with_meter {
        b.with_meter_provider(&p.meter)
    } else {
        b.with_meter_provider(&opentelemetry::metrics::noop::NoopMeterProvider::new())
    };
    b.build()
}

/// An OpenAI-like text chunk.
#[derive(Debug, Clone)]
struct Chunk {
    text: &'static str,
    usage: Option<Usage>,
}

impl ModelChunk for Chunk {
    fn text_delta(&self) -> Option<&str> {
        Some(self.text)
    }
    fn usage(&self) -> Option<Usage> {
        self.usage
    }
}

#[derive(Debug, thiserror::Error)]
#[error("never")]
struct Never;

/// A ready-on-every-poll stream of `n` chunks (no allocation per item).
struct Chunks {
    left: usize,
}

impl Stream for Chunks {
    type Item = Result<Chunk, Never>;
    fn poll_next(mut self: Pin<&mut Self>, _: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        if self.left == 0 {
            return Poll::Ready(None);
        }
        self.left -= 1;
        Poll::Ready(Some(Ok(Chunk {
            text: "tok ",
            usage: (self.left == 0).then(|| Usage::new(100, 50)),
        })))
    }
}

fn drain<S: Stream + Unpin>(mut s: S) -> usize {
    let waker = noop_waker();
    let mut cx = TaskContext::from_waker(&waker);
    let mut n = 0;
    while let Poll::Ready(Some(item)) = Pin::new(&mut s).poll_next(&mut cx) {
        black_box(item);
        n += 1;
    }
    n
}

const CHUNKS: usize = 1000;

fn stream(c: &mut Criterion) {
    let p = providers();
    let with_metrics = instrumentation(&p, true);
    let without_metrics = instrumentation(&p, false);
    let without_chunk_metric = instrumentation_with(&p, true, false);
    let mut g = c.benchmark_group("stream");
    g.throughput(Throughput::Elements(CHUNKS as u64));
    g.bench_function("bare", |b| b.iter(|| drain(Chunks { left: CHUNKS })));
    g.bench_function("traced", |b| {
        b.iter(|| {
            let span = with_metrics
                .chat("gpt-4o")
                .provider("openai")
                .stream(true)
                .start();
            drain(span.trace_stream(Chunks { left: CHUNKS }))
        })
    });
    g.bench_function("traced_no_chunk_metric", |b| {
        b.iter(|| {
            let span = without_chunk_metric
                .chat("gpt-4o")
                .provider("openai")
                .stream(true)
                .start();
            drain(span.trace_stream(Chunks { left: CHUNKS }))
        })
    });
    g.bench_function("traced_noop_meter", |b| {
        b.iter(|| {
            let span = without_metrics
                .chat("gpt-4o")
                .provider("openai")
                .stream(true)
                .start();
            drain(span.trace_stream(Chunks { left: CHUNKS }))
        })
    });
    // Not a stream: the `CHUNKS - 1` points `traced` records in
    // `gen_ai.client.operation.time_per_output_chunk`, alone, on a histogram of the same SDK meter
    // with the same boundaries and attributes. The floor of what one point per chunk costs.
    let histogram = p
        .meter
        .meter("bench")
        .f64_histogram("bench.time_per_output_chunk")
        .with_boundaries(agentrace_semconv::metric::DURATION_BUCKETS.to_vec())
        .build();
    let attributes = [
        KeyValue::new(attr_key::GEN_AI_OPERATION_NAME, "chat"),
        KeyValue::new(attr_key::GEN_AI_PROVIDER_NAME, String::from("openai")),
        KeyValue::new(attr_key::GEN_AI_REQUEST_MODEL, String::from("gpt-4o")),
    ];
    g.bench_function("histogram_records_only", |b| {
        b.iter(|| {
            for i in 1..CHUNKS {
                histogram.record(black_box(i as f64 * 1e-6), &attributes);
            }
        })
    });
    // The same points through a histogram bound to the attributes once, as `traced` records them
    // with the (default) `bound-metrics` feature.
    #[cfg(feature = "bound-metrics")]
    g.bench_function("bound_histogram_records_only", |b| {
        b.iter(|| {
            let bound = histogram.bind(&attributes);
            for i in 1..CHUNKS {
                bound.record(black_box(i as f64 * 1e-6));
            }
        })
    });
    g.finish();
}

const EVENTS_PER_SPAN: u64 = 100;

/// Times only the events: spans are started and ended outside the measured sections.
fn time_events(p: &Providers, iters: u64, mut f: impl FnMut(u64)) -> Duration {
    let tracer = p.tracer.tracer("bench");
    let mut total = Duration::ZERO;
    let mut done = 0;
    while done < iters {
        let n = EVENTS_PER_SPAN.min(iters - done);
        let span = tracer.start("s");
        let cx = Context::current_with_span(span);
        {
            let _guard = cx.clone().attach();
            let start = Instant::now();
            for i in 0..n {
                f(i);
            }
            total += start.elapsed();
        }
        cx.span().end();
        done += n;
    }
    total
}

/// The attributes of every `add_event` row's event: a response chunk's text and index.
fn chunk_attributes(i: u64) -> Vec<KeyValue> {
    vec![
        KeyValue::new("chunk", "tok "),
        KeyValue::new("index", i as i64),
    ]
}

/// The baseline: the event added to the current span directly.
fn bare_span_event(i: u64) {
    Context::map_current(|cx| {
        cx.span().add_event(
            agentrace_semconv::event::MODEL_RESPONSE_CHUNK,
            chunk_attributes(i),
        )
    });
}

/// The same event through `add_event`.
fn chunk_event(i: u64) {
    add_event(
        agentrace_semconv::event::MODEL_RESPONSE_CHUNK,
        chunk_attributes(i),
    );
}

fn events(c: &mut Criterion) {
    let p = providers();
    let mut g = c.benchmark_group("add_event");
    g.bench_function("bare_span_event", |b| {
        b.iter_custom(|iters| time_events(&p, iters, bare_span_event))
    });
    g.bench_function("no_subscriber", |b| {
        b.iter_custom(|iters| time_events(&p, iters, chunk_event))
    });
    g.bench_function("no_subscriber_typed", |b| {
        b.iter_custom(|iters| {
            time_events(&p, iters, |i| {
                add_event(
                    agentrace_semconv::event::MODEL_RESPONSE_CHUNK,
                    vec![attr("chunk", "tok "), attr("index", i)],
                )
            })
        })
    });
    g.bench_function("with_subscriber", |b| {
        b.iter_custom(|iters| {
            let mut stream = EventStream::global();
            let t = time_events(&p, iters, chunk_event);
            black_box(stream.drain().len());
            t
        })
    });
    g.finish();
}

const CHAT_CHUNKS: usize = 20;

fn chat_call(c: &mut Criterion) {
    let p = providers();
    let inst = instrumentation(&p, true);
    let mut g = c.benchmark_group("chat_call");
    g.bench_function("bare", |b| b.iter(|| drain(Chunks { left: CHAT_CHUNKS })));
    g.bench_function("instrumented", |b| {
        b.iter(|| {
            let span = inst
                .chat("gpt-4o")
                .provider("openai")
                .server("api.openai.com", 443)
                .temperature(0.2)
                .max_tokens(512)
                .stream(true)
                .start();
            drain(span.trace_stream(Chunks { left: CHAT_CHUNKS }))
        })
    });
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
}

/// `add_event` with nobody subscribed against a bare span event, measured paired: the two
/// alternate in blocks of [`EVENTS_PER_SPAN`] events on the same thread, so a slow moment of a
/// shared machine slows both. Prints the ratio of each group of blocks' total times.
fn paired_add_event() {
    const GROUPS: usize = 31;
    const BLOCKS: u64 = 400;
    let p = providers();
    // Warm up both paths.
    time_events(&p, 100_000, bare_span_event);
    time_events(&p, 100_000, chunk_event);
    let mut ratios: Vec<f64> = (0..GROUPS)
        .map(|g| {
            let (mut a, mut b) = (Duration::ZERO, Duration::ZERO);
            for block in 0..BLOCKS {
                // Which goes first alternates too.
                if (block + g as u64).is_multiple_of(2) {
                    a += time_events(&p, EVENTS_PER_SPAN, bare_span_event);
                    b += time_events(&p, EVENTS_PER_SPAN, chunk_event);
                } else {
                    b += time_events(&p, EVENTS_PER_SPAN, chunk_event);
                    a += time_events(&p, EVENTS_PER_SPAN, bare_span_event);
                }
            }
            b.as_secs_f64() / a.as_secs_f64()
        })
        .collect();
    ratios.sort_by(f64::total_cmp);
    println!(
        "add_event/no_subscriber paired with bare_span_event: {:.3}x (median of {GROUPS} groups of \
         {BLOCKS} alternating blocks of {EVENTS_PER_SPAN} events; quartiles {:.3}x to {:.3}x)",
        ratios[GROUPS / 2],
        ratios[GROUPS / 4],
        ratios[3 * GROUPS / 4],
    );
}

criterion_group! { name = benches; config = config(); targets = stream, events, chat_call }

fn main() {
    benches();
    paired_add_event();
    Criterion::default().configure_from_args().final_summary();
}
