//! Traced streams: every exit path ends exactly one span with the right status.

use std::pin::pin;
use std::task::{Context as TaskContext, Poll};
use std::time::{Duration, Instant};

use agentrace_sdk::{StreamOutcome, TracedStream, Usage};
use agentrace_semconv::metric;
use futures::StreamExt;
use futures::channel::mpsc;
use futures::task::noop_waker;
use opentelemetry::trace::{Status, TraceContextExt};
use proptest::prelude::*;

use crate::testkit::{Chunk, Kit, UpstreamError, attr, block_on, scripted_chat};

type Item = Result<Chunk, UpstreamError>;

#[test]
fn natural_end_merges_everything_and_snapshots() {
    let kit = Kit::new();
    let span = kit
        .inst
        .chat("gpt-4o")
        .provider("openai")
        .stream(true)
        .start();
    let mut stream = span.trace_stream(futures::stream::iter(
        scripted_chat().into_iter().map(Ok::<_, UpstreamError>),
    ));
    let collected: Vec<Item> = block_on(async {
        let mut v = Vec::new();
        while let Some(x) = stream.next().await {
            v.push(x);
        }
        v
    });
    assert_eq!(collected.len(), 6);
    assert_eq!(stream.outcome(), Some(StreamOutcome::Completed));
    let out = stream.output();
    assert_eq!(out.text(), "Let me check the weather in Zürich.");
    assert_eq!(
        out.choices[0].tool_calls[0].arguments,
        "{\"city\":\"Zürich\"}"
    );
    assert_eq!(out.choices[0].tool_calls[0].name, "get_weather");
    assert_eq!(out.usage, Usage::new(42, 17));
    // The span ended at the natural end, before the wrapper is dropped.
    assert_eq!(kit.finished().len(), 1);
    drop(stream);
    check!("stream_natural_end", kit.finished());
    let h = kit.histograms();
    assert_eq!(
        h["gen_ai.client.operation.time_to_first_chunk"][0]["count"],
        1
    );
    assert_eq!(
        h["gen_ai.client.operation.time_per_output_chunk"][0]["count"],
        5
    );
    assert_eq!(h["gen_ai.client.token.usage"].len(), 2);
}

#[test]
fn usage_early_and_late_is_merged() {
    // Anthropic via Bedrock: input usage in message_start, output in message_delta.
    let kit = Kit::new();
    let chunks = vec![
        Chunk {
            usage: Some(Usage {
                input_tokens: Some(30),
                cache_read_input_tokens: Some(10),
                ..Usage::default()
            }),
            ..Chunk::default()
        },
        Chunk::text("Hi"),
        Chunk {
            finish: Some("end_turn"),
            usage: Some(Usage {
                output_tokens: Some(3),
                ..Usage::default()
            }),
            ..Chunk::default()
        },
    ];
    let it = kit
        .inst
        .chat("claude")
        .stream(true)
        .start()
        .trace_iter(chunks.into_iter().map(Ok::<_, UpstreamError>));
    assert_eq!(it.count(), 3);
    let spans = kit.finished();
    assert_eq!(
        attr(&spans[0], "gen_ai.usage.input_tokens")
            .unwrap()
            .as_str(),
        "30"
    );
    assert_eq!(
        attr(&spans[0], "gen_ai.usage.output_tokens")
            .unwrap()
            .as_str(),
        "3"
    );
    assert_eq!(
        attr(&spans[0], "gen_ai.usage.cache_read.input_tokens")
            .unwrap()
            .as_str(),
        "10"
    );
}

#[test]
fn error_sets_status_and_error_type() {
    let kit = Kit::new();
    let items: Vec<Item> = vec![
        Ok(Chunk::text("par")),
        Err(UpstreamError("connection reset".into())),
    ];
    let mut it = kit
        .inst
        .chat("m")
        .stream(true)
        .start()
        .trace_iter(items.into_iter());
    assert!(it.next().unwrap().is_ok());
    assert!(it.next().unwrap().is_err());
    assert_eq!(it.outcome(), Some(StreamOutcome::Failed));
    assert_eq!(it.output().text(), "par");
    drop(it);
    check!("stream_error", kit.finished());
    let h = kit.histograms();
    assert_eq!(
        h["gen_ai.client.operation.duration"][0]["attributes"]["error.type"],
        "it::testkit::UpstreamError"
    );
}

#[test]
fn spans_created_while_polling_nest_under_the_stream_span() {
    let kit = Kit::new();
    let inst = kit.inst.clone();
    let inner = futures::stream::iter(0..2).map(move |i| {
        // An HTTP client's span, created inside the inner stream's poll.
        inst.execute_tool(format!("http {i}")).start().end();
        Ok::<_, UpstreamError>(Chunk::text("x"))
    });
    let span = kit.inst.chat("m").stream(true).start();
    let id = span.span_context().span_id();
    let stream = span.trace_stream(inner);
    let n = block_on(stream.count());
    assert_eq!(n, 2);
    let spans = kit.finished();
    assert_eq!(spans.iter().filter(|s| s.parent_span_id == id).count(), 2);
}

#[test]
fn outside_the_poll_the_stream_span_is_not_current() {
    let kit = Kit::new();
    let span = kit.inst.chat("m").stream(true).start();
    let mut stream = span.trace_stream(futures::stream::iter(vec![Ok::<_, UpstreamError>(
        Chunk::text("a"),
    )]));
    let _ = block_on(stream.next());
    assert!(!opentelemetry::Context::current().has_active_span());
}

#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)]
enum Step {
    Chunk(Chunk),
    Error,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Exit {
    End,
    Drop,
    Cancel,
}

fn chunk_strategy() -> impl Strategy<Value = Chunk> {
    (
        proptest::option::of("[a-zé日 ]{0,4}"),
        proptest::option::of(prop_oneof![Just("stop"), Just("length")]),
        proptest::option::of((0u64..100, 0u64..100)),
    )
        .prop_map(|(text, finish, usage)| Chunk {
            text,
            finish,
            usage: usage.map(|(i, o)| Usage::new(i, o)),
            ..Chunk::default()
        })
}

fn step_strategy() -> impl Strategy<Value = Step> {
    prop_oneof![9 => chunk_strategy().prop_map(Step::Chunk), 1 => Just(Step::Error)]
}

/// Drives a traced stream over a channel: sends the steps, then ends the channel (End), drops the
/// wrapper (Drop), or drops the consuming future while it waits (Cancel). Returns how many items
/// the consumer saw.
fn drive(kit: &Kit, steps: &[Step], exit: Exit) -> usize {
    let (tx, rx) = mpsc::unbounded::<Item>();
    for s in steps {
        let item = match s {
            Step::Chunk(c) => Ok(c.clone()),
            Step::Error => Err(UpstreamError("boom".into())),
        };
        tx.unbounded_send(item).unwrap();
    }
    let span = kit.inst.chat("m").stream(true).start();
    let stream: TracedStream<_> = span.trace_stream(rx);
    let waker = noop_waker();
    let mut cx = TaskContext::from_waker(&waker);
    match exit {
        Exit::End => {
            drop(tx);
            block_on(stream.count())
        }
        Exit::Drop => {
            // Consume part of what was sent, then drop the stream.
            let mut stream = stream;
            let take = steps.len() / 2;
            let mut seen = 0;
            for _ in 0..take {
                if let Poll::Ready(Some(_)) = stream.poll_next_unpin(&mut cx) {
                    seen += 1;
                }
            }
            drop(stream);
            drop(tx);
            seen
        }
        Exit::Cancel => {
            let mut seen = 0usize;
            {
                let counter = &mut seen;
                let consumer = async move {
                    let mut stream = stream;
                    while stream.next().await.is_some() {
                        *counter += 1;
                    }
                };
                let mut consumer = pin!(consumer);
                // Runs until the consumer waits on the open channel, then cancels it.
                assert!(consumer.as_mut().poll(&mut cx).is_pending());
            }
            drop(tx);
            seen
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn every_exit_path_ends_exactly_one_span(steps in proptest::collection::vec(step_strategy(), 0..12), exit in prop_oneof![Just(Exit::End), Just(Exit::Drop), Just(Exit::Cancel)]) {
        let kit = Kit::new();
        let seen = drive(&kit, &steps, exit);
        let spans = kit.finished();
        prop_assert_eq!(spans.len(), 1);
        let span = &spans[0];
        // An error the consumer reached makes the status ERROR; nothing else does.
        let consumed = &steps[..seen.min(steps.len())];
        let failed = consumed.iter().any(|s| matches!(s, Step::Error));
        match (&span.status, failed) {
            (Status::Error { .. }, true) => prop_assert!(attr(span, "error.type").is_some()),
            (Status::Unset, false) => prop_assert!(attr(span, "error.type").is_none()),
            (status, failed) => prop_assert!(false, "status {:?} with failed={}", status, failed),
        }
        // Chunks before the first error count; time_to_first_chunk iff one arrived.
        let chunks: Vec<&Chunk> = consumed.iter().take_while(|s| !matches!(s, Step::Error)).filter_map(|s| match s { Step::Chunk(c) => Some(c), Step::Error => None }).collect();
        prop_assert_eq!(attr(span, "gen_ai.response.time_to_first_chunk").is_some(), !chunks.is_empty());
        if let Some(last) = chunks.iter().rev().find_map(|c| c.usage) {
            prop_assert_eq!(attr(span, "gen_ai.usage.input_tokens").map(|v| v.as_str().into_owned()), Some(last.input_tokens.unwrap().to_string()));
        }
        // One time-to-first-chunk point iff a chunk arrived, one per-chunk point per later chunk.
        let (ttfc, per_chunk) = chunk_metric_counts(kit);
        prop_assert_eq!(ttfc, u64::from(!chunks.is_empty()));
        prop_assert_eq!(per_chunk, chunks.len().saturating_sub(1) as u64);
    }
}

/// Total counts of the time-to-first-chunk and time-per-output-chunk histograms (0 when absent).
fn chunk_metric_counts(kit: Kit) -> (u64, u64) {
    let count = |name: &str| -> u64 { kit.f64_histogram(name).iter().map(|p| p.count).sum() };
    (
        count(metric::CLIENT_OPERATION_TIME_TO_FIRST_CHUNK),
        count(metric::CLIENT_OPERATION_TIME_PER_OUTPUT_CHUNK),
    )
}

/// The index of the bucket a value falls in: bucket `i` holds `(bounds[i-1], bounds[i]]`.
fn bucket_of(bounds: &[f64], v: f64) -> usize {
    bounds.partition_point(|&b| b < v)
}

#[test]
fn time_per_output_chunk_has_one_exact_point_per_chunk_after_the_first() {
    let kit = Kit::new();
    // The upstream waits before some chunks, so that the intervals fall in different buckets of
    // the spec's boundaries (0.01, 0.02, 0.04, 0.08, 0.16, ...): about 0, 0, 25 ms, 50 ms, 100 ms, 0.
    let delays_ms = [0u64, 0, 0, 25, 50, 100, 0];
    let chunks: Vec<Chunk> = (0..delays_ms.len())
        .map(|i| Chunk {
            model: (i == 0).then_some("gpt-4o-2024-08-06"),
            ..Chunk::text("tok ")
        })
        .collect();
    let upstream = delays_ms.into_iter().zip(chunks).map(|(ms, c)| {
        std::thread::sleep(Duration::from_millis(ms));
        Ok::<_, UpstreamError>(c)
    });
    let mut it = kit
        .inst
        .chat("gpt-4o")
        .provider("openai")
        .stream(true)
        .start()
        .trace_iter(upstream);
    // Chunk k ends (the traced iterator reads the clock) within next(), between before[k] and
    // after[k], and after the upstream's wait for it: in [before[k] + wait[k], after[k]].
    let (mut before, mut after) = (Vec::new(), Vec::new());
    loop {
        let b = Instant::now();
        let item = it.next();
        let a = Instant::now();
        if item.is_none() {
            break;
        }
        before.push(b);
        after.push(a);
    }
    assert_eq!(it.outcome(), Some(StreamOutcome::Completed));
    // Recorded by the time the stream has ended, before the wrapper is dropped.
    let points = kit.f64_histogram(metric::CLIENT_OPERATION_TIME_PER_OUTPUT_CHUNK);
    drop(it);
    let n = before.len();
    assert_eq!(n, 7);
    let wait = |k: usize| Duration::from_millis(delays_ms[k]);
    let lo: Vec<f64> = (1..n)
        .map(|k| {
            (before[k] + wait(k))
                .saturating_duration_since(after[k - 1])
                .as_secs_f64()
        })
        .collect();
    let hi: Vec<f64> = (1..n)
        .map(|k| {
            after[k]
                .saturating_duration_since(before[k - 1] + wait(k - 1))
                .as_secs_f64()
        })
        .collect();
    let fold = |v: &[f64], f: fn(f64, f64) -> f64, init: f64| v.iter().copied().fold(init, f);

    assert_eq!(points.len(), 1, "{points:?}");
    let p = &points[0];
    assert_eq!(p.count, 6);
    assert_eq!(p.bounds, metric::DURATION_BUCKETS.to_vec());
    assert_eq!(p.bucket_counts.len(), p.bounds.len() + 1);
    assert_eq!(p.bucket_counts.iter().sum::<u64>(), 6);
    let (lo_sum, hi_sum): (f64, f64) = (lo.iter().sum(), hi.iter().sum());
    assert!(
        lo_sum <= p.sum && p.sum <= hi_sum,
        "{lo_sum} <= {} <= {hi_sum}",
        p.sum
    );
    assert!(
        p.sum >= 0.175,
        "the three waits alone take 175 ms: {}",
        p.sum
    );
    // min and max of the intervals lie between those of their lower and upper bounds.
    let (min, max) = (p.min.unwrap(), p.max.unwrap());
    assert!(fold(&lo, f64::min, f64::MAX) <= min && min <= fold(&hi, f64::min, f64::MAX));
    assert!(fold(&lo, f64::max, 0.0) <= max && max <= fold(&hi, f64::max, 0.0));
    assert!(max >= 0.1, "{max}");
    // Each bucket holds at least the intervals certainly in it and at most those possibly in it.
    for (i, &c) in p.bucket_counts.iter().enumerate() {
        let certain = (0..n - 1)
            .filter(|&k| bucket_of(&p.bounds, lo[k]) == i && bucket_of(&p.bounds, hi[k]) == i)
            .count() as u64;
        let possible = (0..n - 1)
            .filter(|&k| bucket_of(&p.bounds, lo[k]) <= i && i <= bucket_of(&p.bounds, hi[k]))
            .count() as u64;
        assert!(
            certain <= c && c <= possible,
            "bucket {i}: {certain} <= {c} <= {possible}; {lo:?} {hi:?}"
        );
    }
    // The waits are in buckets above the first: (0.02, 0.04], (0.04, 0.08], (0.08, 0.16] at least.
    assert!(p.bucket_counts[0] <= 3 && p.bucket_counts[2..].iter().sum::<u64>() >= 3);
    // The attributes of the call, with the response model a chunk named; the same set as the
    // time-to-first-chunk point.
    assert_eq!(p.attributes["gen_ai.operation.name"], "chat");
    assert_eq!(p.attributes["gen_ai.provider.name"], "openai");
    assert_eq!(p.attributes["gen_ai.request.model"], "gpt-4o");
    assert_eq!(p.attributes["gen_ai.response.model"], "gpt-4o-2024-08-06");
    assert_eq!(p.attributes.len(), 4);
    let ttfc = kit.f64_histogram(metric::CLIENT_OPERATION_TIME_TO_FIRST_CHUNK);
    assert_eq!(ttfc.len(), 1);
    assert_eq!(ttfc[0].count, 1);
    assert_eq!(ttfc[0].attributes, p.attributes);
}

#[test]
fn chunk_metrics_are_recorded_on_every_exit_path_and_across_the_buffer() {
    // Natural end of a stream longer than the interval buffer (256): every interval counts.
    let kit = Kit::new();
    let n = 700;
    let stream = kit
        .inst
        .chat("m")
        .stream(true)
        .start()
        .trace_stream(futures::stream::iter(
            (0..n).map(|_| Ok::<_, UpstreamError>(Chunk::text("x"))),
        ));
    assert_eq!(block_on(stream.count()), n);
    let p = kit.f64_histogram(metric::CLIENT_OPERATION_TIME_PER_OUTPUT_CHUNK);
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].count, n as u64 - 1);
    assert_eq!(p[0].bucket_counts.iter().sum::<u64>(), n as u64 - 1);
    assert!(p[0].sum >= 0.0 && p[0].min.unwrap() <= p[0].max.unwrap());
    assert_eq!(chunk_metric_counts(kit), (1, n as u64 - 1));

    // An error after three chunks: two intervals.
    let kit = Kit::new();
    let items: Vec<Item> = vec![
        Ok(Chunk::text("a")),
        Ok(Chunk::text("b")),
        Ok(Chunk::text("c")),
        Err(UpstreamError("reset".into())),
        Ok(Chunk::text("after the error: not traced")),
    ];
    let stream = kit
        .inst
        .chat("m")
        .stream(true)
        .start()
        .trace_stream(futures::stream::iter(items));
    assert_eq!(block_on(stream.count()), 5);
    assert_eq!(chunk_metric_counts(kit), (1, 2));

    // Dropped after four chunks of a longer stream: three intervals.
    let kit = Kit::new();
    let mut stream = kit
        .inst
        .chat("m")
        .stream(true)
        .start()
        .trace_stream(futures::stream::iter(
            (0..10).map(|_| Ok::<_, UpstreamError>(Chunk::text("x"))),
        ));
    for _ in 0..4 {
        assert!(block_on(stream.next()).is_some());
    }
    drop(stream);
    assert_eq!(chunk_metric_counts(kit), (1, 3));

    // An error first: no chunk, no chunk metric.
    let kit = Kit::new();
    let stream = kit
        .inst
        .chat("m")
        .stream(true)
        .start()
        .trace_stream(futures::stream::iter(vec![Err::<Chunk, _>(UpstreamError(
            "refused".into(),
        ))]));
    assert_eq!(block_on(stream.count()), 1);
    assert_eq!(chunk_metric_counts(kit), (0, 0));

    // The per-chunk metric switched off: time to first chunk only.
    let kit = Kit::new();
    let inst = agentrace_sdk::Instrumentation::builder()
        .with_tracer_provider(&kit.tracer_provider)
        .with_meter_provider(&kit.meter_provider)
        .with_per_chunk_metric(false)
        .build();
    let stream = inst
        .chat("m")
        .stream(true)
        .start()
        .trace_stream(futures::stream::iter(
            (0..5).map(|_| Ok::<_, UpstreamError>(Chunk::text("x"))),
        ));
    assert_eq!(block_on(stream.count()), 5);
    assert_eq!(chunk_metric_counts(kit), (1, 0));
}

#[test]
fn cancelling_a_tokio_task_ends_the_span() {
    let kit = Kit::new();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let (tx, rx) = mpsc::unbounded::<Item>();
    tx.unbounded_send(Ok(Chunk::text("a"))).unwrap();
    let (seen_tx, seen_rx) = tokio::sync::oneshot::channel();
    let stream = kit.inst.chat("m").stream(true).start().trace_stream(rx);
    rt.block_on(async {
        let task = tokio::spawn(async move {
            let mut stream = stream;
            let _ = stream.next().await;
            seen_tx.send(()).unwrap();
            let _ = stream.next().await; // Waits forever: the channel stays open.
        });
        seen_rx.await.unwrap();
        task.abort();
        assert!(task.await.unwrap_err().is_cancelled());
    });
    drop(tx);
    let spans = kit.finished();
    assert_eq!(spans.len(), 1);
    assert_eq!(spans[0].status, Status::Unset);
}

/// The blocking twin: consume `take` items (all when `None`), then drop.
fn drive_iter(kit: &Kit, steps: &[Step], take: Option<usize>) -> usize {
    let items: Vec<Item> = steps
        .iter()
        .map(|s| match s {
            Step::Chunk(c) => Ok(c.clone()),
            Step::Error => Err(UpstreamError("boom".into())),
        })
        .collect();
    let mut it = kit
        .inst
        .chat("m")
        .stream(true)
        .start()
        .trace_iter(items.into_iter());
    let mut seen = 0;
    while take.is_none_or(|t| seen < t) {
        if it.next().is_none() {
            break;
        }
        seen += 1;
    }
    seen
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn every_exit_path_of_the_iterator_ends_exactly_one_span(steps in proptest::collection::vec(step_strategy(), 0..12), take in proptest::option::of(0usize..12)) {
        let kit = Kit::new();
        let seen = drive_iter(&kit, &steps, take);
        let spans = kit.finished();
        prop_assert_eq!(spans.len(), 1);
        let failed = steps[..seen.min(steps.len())].iter().any(|s| matches!(s, Step::Error));
        prop_assert_eq!(matches!(spans[0].status, Status::Error { .. }), failed);
        // Every span ends with exactly one duration point.
        let h = kit.histograms();
        let count: u64 = h["gen_ai.client.operation.duration"].iter().map(|p| p["count"].as_u64().unwrap()).sum();
        prop_assert_eq!(count, 1);
        // Chunk metrics: the chunks before the first error, whatever the exit.
        let chunks = steps[..seen.min(steps.len())].iter().take_while(|s| !matches!(s, Step::Error)).count();
        let (ttfc, per_chunk) = chunk_metric_counts(kit);
        prop_assert_eq!(ttfc, u64::from(chunks > 0));
        prop_assert_eq!(per_chunk, chunks.saturating_sub(1) as u64);
    }
}

#[test]
fn sampled_out_and_global_noop_spans_still_trace_the_stream() {
    use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
    let kit = Kit::new();
    let off = SdkTracerProvider::builder()
        .with_sampler(Sampler::AlwaysOff)
        .with_simple_exporter(kit.spans.clone())
        .build();
    let inst = agentrace_sdk::Instrumentation::builder()
        .with_tracer_provider(&off)
        .with_meter_provider(&kit.meter_provider)
        .build();
    for inst in [inst, agentrace_sdk::Instrumentation::global()] {
        let span = inst.chat("m").stream(true).start();
        assert!(!span.is_recording());
        let it = span.trace_iter(scripted_chat().into_iter().map(Ok::<_, UpstreamError>));
        let mut it = it;
        for _ in it.by_ref() {}
        assert_eq!(it.output().usage, Usage::new(42, 17));
        assert_eq!(it.outcome(), Some(StreamOutcome::Completed));
    }
    assert!(kit.finished().is_empty());
    // Metrics do not depend on sampling.
    let h = kit.histograms();
    assert_eq!(h["gen_ai.client.operation.duration"][0]["count"], 1);
}
