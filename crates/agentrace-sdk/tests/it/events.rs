//! Live events: span event plus in-process stream, in order, with the right ids.

use agentrace_sdk::events::{EventValue, LiveItem, attr};
use agentrace_sdk::{EventStream, add_event, propagation};
use futures::StreamExt;
use serde_json::json;

use crate::testkit::Kit;

fn events(items: Vec<LiveItem>) -> Vec<std::sync::Arc<agentrace_sdk::StreamEvent>> {
    items
        .into_iter()
        .filter_map(|i| match i {
            LiveItem::Event(e) => Some(e),
            LiveItem::Lagged(_) => None,
        })
        .collect()
}

#[test]
fn add_event_writes_the_span_and_the_scoped_stream_in_order() {
    let kit = Kit::new();
    let mut stream = EventStream::scoped();
    let (span_id, trace_id) = stream.in_scope(|| {
        // Outside any span: still published, with empty span fields.
        add_event("app.before", vec![attr("n", 0)]);
        // Spans started in the scope carry it.
        let span = kit.inst.invoke_agent("a").start();
        span.in_scope(|| {
            for i in 1..=3 {
                add_event(
                    "app.step",
                    vec![attr("n", i), attr("detail", json!({"k": [1, 2]}))],
                );
            }
        });
        (
            span.span_context().span_id(),
            span.span_context().trace_id(),
        )
    });
    let got = events(stream.drain());
    assert_eq!(got.len(), 4);
    assert_eq!(got[0].span_id, "");
    assert_eq!(got[0].trace_id, "");
    for (i, e) in got[1..].iter().enumerate() {
        assert_eq!(e.get("n"), Some(&EventValue::I64(i as i64 + 1)));
        assert_eq!(
            e.get("detail"),
            Some(&EventValue::Json(Box::new(json!({"k": [1, 2]}))))
        );
        assert_eq!(e.span_id, span_id.to_string());
        assert_eq!(e.trace_id, trace_id.to_string());
        assert_eq!(e.span_name, "invoke_agent a");
        assert_eq!(e.span_id.len(), 16);
        assert_eq!(e.trace_id.len(), 32);
    }
    assert!(
        got.windows(2)
            .all(|w| w[0].timestamp_ns <= w[1].timestamp_ns)
    );
    // On the span, the map is JSON-encoded.
    check!("live_events_span", kit.finished());
}

#[test]
fn events_outside_the_scope_do_not_reach_a_scoped_stream() {
    let mut stream = EventStream::scoped();
    add_event("elsewhere", ());
    assert!(stream.drain().is_empty());
}

#[test]
fn scoped_stream_is_fed_from_spawned_tasks_and_threads_and_is_async() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let mut stream = EventStream::scoped();
    let seen = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen2 = std::sync::Arc::clone(&seen);
    stream.on_event(move |_| {
        seen2.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    });
    let work = stream.scope(async {
        add_event("task.start", ());
        propagation::spawn(async { add_event("task.spawned", ()) })
            .await
            .unwrap();
        propagation::spawn_thread(|| add_event("task.thread", ()))
            .join()
            .unwrap();
    });
    rt.block_on(work);
    stream.close();
    let names: Vec<String> = rt.block_on(async {
        stream
            .filter_map(|i| async move {
                match i {
                    LiveItem::Event(e) => Some(e.name.to_string()),
                    LiveItem::Lagged(_) => None,
                }
            })
            .collect()
            .await
    });
    assert_eq!(names, ["task.start", "task.spawned", "task.thread"]);
    assert_eq!(seen.load(std::sync::atomic::Ordering::SeqCst), 3);
}

#[test]
fn a_slow_subscriber_is_told_what_it_missed_and_the_producer_never_blocks() {
    let mut stream = EventStream::scoped_with_capacity(4);
    stream.in_scope(|| {
        for i in 0..10 {
            add_event("e", vec![attr("i", i)]);
        }
    });
    let items = stream.drain();
    assert_eq!(items[0], LiveItem::Lagged(6));
    let got = events(items);
    let idx: Vec<_> = got.iter().map(|e| e.get("i").cloned()).collect();
    assert_eq!(
        idx,
        (6..10)
            .map(|i| Some(EventValue::I64(i)))
            .collect::<Vec<_>>()
    );
}

#[test]
fn global_stream_sees_events_of_the_whole_process() {
    let mut stream = EventStream::global();
    let marker = "global.marker.unique";
    std::thread::spawn(move || add_event(marker, ()))
        .join()
        .unwrap();
    let got = events(stream.drain());
    assert!(got.iter().any(|e| e.name == marker));
}

#[test]
fn convenience_emitters_use_the_live_vocabulary_and_build_nothing_unseen() {
    use agentrace_sdk::events::emit;
    // No span, no subscriber: nothing is built (the closure-based path returns early).
    emit::agent_start("nobody-listens", vec![]);
    let mut stream = EventStream::scoped();
    stream.in_scope(|| {
        emit::agent_start("a", vec![attr("custom", true)]);
        emit::agent_step("a", 1, "plan", vec![]);
        emit::model_request(Some("gpt-4o"), Some(3), vec![]);
        emit::model_response_chunk("Hel", 0, vec![]);
        emit::model_reasoning_chunk("hmm", 0, vec![]);
        emit::model_reasoning("think", Some(1), vec![]);
        emit::model_response("text", vec![]);
        emit::tool_call("search", "call_1", Some(json!({"q": "x"})), Some(1), vec![]);
        emit::tool_result("search", "call_1", Some(json!(["r"])), Some(1), vec![]);
        emit::tool_error("search", "call_2", "timeout", None, vec![]);
        emit::flow_step(1, vec![]);
        emit::flow_reasoning("because", None, vec![]);
        emit::flow_complete(Some(1), vec![]);
        emit::module_start("m", vec![]);
        emit::module_complete("m", vec![]);
        emit::module_error("m", "bad", vec![]);
        emit::agent_complete("a", Some(json!("done")), vec![]);
        emit::agent_error("a", "boom", vec![]);
    });
    let got = events(stream.drain());
    let names: Vec<&str> = got.iter().map(|e| e.name.as_ref()).collect();
    assert_eq!(names.len(), 18);
    for n in &names {
        assert!(
            agentrace_semconv::event::LiveEventType::from_name(n).is_some(),
            "{n}"
        );
    }
    assert_eq!(got[0].get("custom"), Some(&EventValue::Bool(true)));
    assert_eq!(
        got[7].get("arguments"),
        Some(&EventValue::Json(Box::new(json!({"q": "x"}))))
    );
}

#[test]
fn mixing_async_waits_and_sync_drains_loses_nothing_and_repeats_nothing() {
    use futures::task::noop_waker;
    use std::task::{Context as TaskContext, Poll};
    let mut stream = EventStream::scoped();
    let waker = noop_waker();
    let mut cx = TaskContext::from_waker(&waker);
    assert!(matches!(stream.poll_next_unpin(&mut cx), Poll::Pending));
    stream.in_scope(|| add_event("one", ()));
    // Drained synchronously while the async wait is pending...
    assert_eq!(events(stream.drain()).len(), 1);
    stream.in_scope(|| add_event("two", ()));
    // ...and the next async poll sees only what came after.
    match stream.poll_next_unpin(&mut cx) {
        Poll::Ready(Some(LiveItem::Event(e))) => assert_eq!(e.name, "two"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(stream.poll_next_unpin(&mut cx), Poll::Pending));
    stream.in_scope(|| add_event("three", ()));
    match stream.poll_next_unpin(&mut cx) {
        Poll::Ready(Some(LiveItem::Event(e))) => assert_eq!(e.name, "three"),
        other => panic!("{other:?}"),
    }
    assert!(stream.drain().is_empty());
}
