//! Stream client benchmarks (`cargo xtask bench`).
//!
//! - `stream/on_end_enqueue`: the cost on the application's thread per span: the span
//!   processor's `on_end` (count, `try_send` into the bounded queue), with a transport that
//!   discards batches draining the queue on the worker thread. The `SpanData` is made before
//!   the timed section (it is what the SDK hands `on_end`).
//! - `stream/span_end_enqueue`: the same from the application's side: `Span::end()` of a started
//!   span with four attributes (the SDK builds the `SpanData`, then `on_end` enqueues it).
//! - `stream/client_websocket_encode`: the client's side of the end-to-end row without a server:
//!   20 000 spans ended, queued, batched and encoded as the WebSocket protocol's `spans`
//!   messages (the real encoder) on the worker thread, then discarded; the time runs until the
//!   pipeline has shut down, so it is what the client can sustain.
//! - `stream/end_to_end_websocket`: spans per second streamed to a real `agentrace serve`
//!   (in-process on 127.0.0.1, in-memory database): a session ends 20 000 spans (four
//!   attributes each) as fast as it can, then ends the session, whose `session_complete`
//!   answer proves the server has applied every span; the queue holds them all, so nothing is
//!   dropped (checked after each iteration).

// A benchmark binary: printing its figures is its job.
#![allow(clippy::print_stdout, clippy::unwrap_used, missing_docs)]

use std::{
    hint::black_box,
    time::{Duration, Instant},
};

use agentrace_server::{
    Server, ServerConfig,
    config::{DbLocation, Limits},
};
use agentrace_stream::{
    Finish, Pipeline, PipelineConfig, Record, SessionOptions, Transport, TransportError,
    WebSocketConfig, WebSocketTransport, session_blocking,
};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use futures::future::BoxFuture;
use opentelemetry::{
    KeyValue,
    trace::{Span as _, Tracer, TracerProvider as _},
};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData, SpanProcessor};

#[path = "support/encode_only.rs"]
mod encode_only;
use encode_only::EncodeOnly;

/// A transport that discards what it is given.
struct Discard;

impl Transport for Discard {
    type Batch = usize;

    fn encode(&mut self, records: Vec<Record>) -> usize {
        records.len()
    }

    fn len(batch: &usize) -> usize {
        *batch
    }

    fn send<'a>(&'a mut self, _batch: &'a usize) -> BoxFuture<'a, Result<(), TransportError>> {
        Box::pin(async { Ok(()) })
    }

    fn finish(&mut self, _deadline: Instant) -> BoxFuture<'_, Result<Finish, TransportError>> {
        Box::pin(async { Ok(Finish::default()) })
    }
}

fn attributes(i: i64) -> [KeyValue; 4] {
    [
        KeyValue::new("bench.index", i),
        KeyValue::new("bench.kind", "step"),
        KeyValue::new("bench.model", "scripted"),
        KeyValue::new("bench.ok", true),
    ]
}

/// A finished span as the SDK hands it to processors.
fn sample_span() -> SpanData {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let mut span = provider.tracer("bench").start("step");
    span.set_attributes(attributes(1));
    span.end();
    exporter.get_finished_spans().unwrap().remove(0)
}

const E2E_SPANS: usize = 20_000;

fn stream(c: &mut Criterion) {
    let mut group = c.benchmark_group("stream");

    // The app thread's cost: on_end alone.
    let pipeline = Pipeline::start_with(
        Discard,
        PipelineConfig {
            queue_capacity: 1 << 20,
            ..PipelineConfig::default()
        },
    )
    .unwrap();
    let processor = pipeline.span_processor();
    let data = sample_span();
    group.throughput(Throughput::Elements(1));
    group.bench_function("on_end_enqueue", |b| {
        b.iter_batched(
            || data.clone(),
            |span| processor.on_end(black_box(span)),
            BatchSize::SmallInput,
        );
    });
    let stats = pipeline.stats();
    println!(
        "on_end_enqueue: {} ended, {} dropped (queue full)",
        stats.ended, stats.dropped_queue_full
    );

    // The same from the application's side: ending a started span.
    let provider = SdkTracerProvider::builder()
        .with_span_processor(pipeline.span_processor())
        .build();
    let tracer = provider.tracer("bench");
    group.bench_function("span_end_enqueue", |b| {
        b.iter_batched(
            || {
                let mut span = tracer.start("step");
                span.set_attributes(attributes(1));
                span
            },
            |mut span| span.end(),
            BatchSize::SmallInput,
        );
    });
    let _ = provider.shutdown();
    let _ = processor.shutdown();

    // The client's side alone: queue, batches, the WebSocket encoder.
    group.throughput(Throughput::Elements(E2E_SPANS as u64));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("client_websocket_encode", |b| {
        b.iter_custom(|iterations| {
            let mut total = Duration::ZERO;
            for _ in 0..iterations {
                let transport = EncodeOnly(WebSocketTransport::new(WebSocketConfig::new(
                    "ws://127.0.0.1:1/ws/traces",
                    "bench",
                )));
                let pipeline = Pipeline::start_with(
                    transport,
                    PipelineConfig {
                        queue_capacity: E2E_SPANS * 2,
                        ..PipelineConfig::default()
                    },
                )
                .unwrap();
                let provider = SdkTracerProvider::builder()
                    .with_span_processor(pipeline.span_processor())
                    .build();
                let tracer = provider.tracer("bench");
                let start = Instant::now();
                for i in 0..E2E_SPANS {
                    let mut span = tracer.start("step");
                    span.set_attributes(attributes(i as i64));
                    span.end();
                }
                provider
                    .shutdown_with_timeout(Duration::from_secs(60))
                    .unwrap();
                total += start.elapsed();
                let stats = pipeline.stats();
                assert_eq!((stats.sent, stats.dropped()), (E2E_SPANS as u64, 0));
            }
            total
        });
    });

    // End to end against a real server.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let limits = Limits {
        max_spans_per_session: u64::MAX,
        ..Limits::default()
    };
    let config = ServerConfig::builder()
        .with_port(0)
        .with_otlp_http_port(None)
        .with_otlp_grpc_port(None)
        .with_db(DbLocation::Memory)
        .with_limits(limits)
        .with_headless(true)
        .build()
        .unwrap();
    let server = runtime.block_on(Server::start(config)).unwrap();
    let base = format!("http://{}", server.main_addr());
    group.bench_function("end_to_end_websocket", |b| {
        b.iter_custom(|iterations| {
            let mut total = Duration::ZERO;
            for _ in 0..iterations {
                let options = SessionOptions::builder(&base)
                    .with_name("bench")
                    .with_pipeline_config(PipelineConfig {
                        queue_capacity: E2E_SPANS * 2,
                        ..PipelineConfig::default()
                    })
                    .with_shutdown_timeout(Duration::from_secs(60))
                    .build();
                let session = session_blocking(options).unwrap();
                let tracer = session.tracer("bench");
                let start = Instant::now();
                for i in 0..E2E_SPANS {
                    let mut span = tracer.start("step");
                    span.set_attributes(attributes(i as i64));
                    span.end();
                }
                let end = session.end_blocking();
                total += start.elapsed();
                assert_eq!(end.error, None);
                assert_eq!(end.stats.sent, E2E_SPANS as u64, "{:?}", end.stats);
                assert_eq!(end.stats.dropped(), 0);
            }
            total
        });
    });
    group.finish();
    runtime.block_on(server.shutdown());
}

criterion_group!(benches, stream);
criterion_main!(benches);
