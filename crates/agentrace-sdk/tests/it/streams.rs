//! Traced streams: every exit path ends exactly one span with the right status.

use std::pin::pin;
use std::task::{Context as TaskContext, Poll};

use agentrace_sdk::{StreamOutcome, TracedStream, Usage};
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
    }
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
