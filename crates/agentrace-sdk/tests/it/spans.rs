//! Every span type: names, kinds, attributes at start, recorders, errors.

use agentrace_sdk::{Usage, propagation};
use opentelemetry::KeyValue;
use opentelemetry::trace::{SpanKind, TraceContextExt};

use crate::testkit::{Kit, UpstreamError, attr, tree};

#[test]
fn every_span_type() {
    let kit = Kit::new();
    let inst = &kit.inst;
    let agent = inst
        .invoke_agent("planner")
        .kind(SpanKind::Internal)
        .agent_id("agent_1")
        .request_model("gpt-4o")
        .provider("openai")
        .conversation_id("conv_1")
        .start();
    agent.in_scope(|| {
        let mut chat = inst
            .chat("gpt-4o")
            .provider("openai")
            .server("api.openai.com", 443)
            .temperature(0.2)
            .top_p(0.9)
            .max_tokens(256)
            .seed(7)
            .stop_sequences(["END"])
            .choice_count(1)
            .start();
        chat.set_response_id("chatcmpl-1");
        chat.set_response_model("gpt-4o-2024-08-06");
        chat.set_finish_reasons(["stop"]);
        chat.record_usage(&Usage {
            input_tokens: Some(10),
            cache_read_input_tokens: Some(4),
            ..Usage::default()
        });
        chat.record_usage(&Usage {
            output_tokens: Some(5),
            reasoning_output_tokens: Some(2),
            ..Usage::default()
        });
        chat.end();
        inst.text_completion("davinci-002")
            .provider("openai")
            .start()
            .end();
        inst.generate_content("gemini-2.0-flash")
            .provider("gcp.gemini")
            .start()
            .end();
        let mut emb = inst
            .embeddings("text-embedding-3-small")
            .provider("openai")
            .encoding_formats(["float"])
            .dimension_count(512)
            .start();
        emb.record_usage(&Usage {
            input_tokens: Some(8),
            ..Usage::default()
        });
        emb.end();
        inst.retrieval("kb_products")
            .provider("openai")
            .start()
            .end();
        inst.execute_tool("get_weather")
            .tool_call_id("call_1")
            .tool_type("function")
            .tool_description("Weather by city")
            .start()
            .end();
    });
    agent.end();
    inst.create_agent("planner")
        .provider("openai")
        .request_model("gpt-4o")
        .start()
        .end();
    inst.invoke_workflow("triage").start().end();
    inst.invoke_agent("").start().end();
    check!("every_span_type", kit.finished());
}

#[test]
fn errors_set_status_type_and_exception_event() {
    let kit = Kit::new();
    let mut chat = kit.inst.chat("gpt-4o").provider("openai").start();
    chat.record_error(&UpstreamError("rate limited".into()));
    chat.end();
    let mut tool = kit.inst.execute_tool("search").start();
    tool.record_error_as("timeout", "search took too long");
    drop(tool);
    check!("errors", kit.finished());
}

#[test]
fn run_records_the_error_of_a_future_and_ends_once() {
    let kit = Kit::new();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let ok: Result<u32, UpstreamError> =
        rt.block_on(kit.inst.chat("m").start().run(async { Ok(1) }));
    assert_eq!(ok, Ok(1));
    let err: Result<u32, UpstreamError> = rt.block_on(
        kit.inst
            .chat("m")
            .start()
            .run(async { Err(UpstreamError("boom".into())) }),
    );
    assert!(err.is_err());
    let sync: Result<(), UpstreamError> = kit.inst.execute_tool("t").start().run_sync(|span| {
        span.set_attribute(KeyValue::new("app.step", 1));
        Err(UpstreamError("bad".into()))
    });
    assert!(sync.is_err());
    let spans = kit.finished();
    assert_eq!(spans.len(), 3);
    assert_eq!(
        attr(&spans[1], "error.type").map(|v| v.as_str().into_owned()),
        Some("it::testkit::UpstreamError".to_owned())
    );
}

#[test]
fn context_crosses_tokio_spawn_and_threads() {
    let kit = Kit::new();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let agent = kit.inst.invoke_agent("root").start();
    let inst = kit.inst.clone();
    rt.block_on(agent.instrument(async move {
        let inst2 = inst.clone();
        propagation::spawn(async move {
            inst2.chat("spawned").start().end();
        })
        .await
        .unwrap();
        let inst3 = inst.clone();
        propagation::spawn_thread(move || inst3.execute_tool("threaded").start().end())
            .join()
            .unwrap();
        let inst4 = inst.clone();
        propagation::spawn_blocking(move || inst4.execute_tool("blocking").start().end())
            .await
            .unwrap();
        // A plain tokio::spawn loses the context: the span is a root.
        let inst5 = inst.clone();
        tokio::spawn(async move { inst5.chat("lost").start().end() })
            .await
            .unwrap();
    }));
    let root_id = agent.span_context().span_id();
    agent.end();
    let spans = kit.finished();
    for name in [
        "chat spawned",
        "execute_tool threaded",
        "execute_tool blocking",
    ] {
        let s = spans.iter().find(|s| s.name == name).unwrap();
        assert_eq!(s.parent_span_id, root_id, "{name}");
    }
    let lost = spans.iter().find(|s| s.name == "chat lost").unwrap();
    assert_ne!(lost.parent_span_id, root_id);
    insta::assert_snapshot!(tree(&spans), @r"
    invoke_agent root [client]
      chat spawned [client]
      execute_tool threaded [internal]
      execute_tool blocking [internal]
    chat lost [client]
    ");
}

#[test]
fn span_ends_once_when_dropped_and_current_span_is_ours() {
    let kit = Kit::new();
    {
        let span = kit.inst.chat("m").start();
        span.in_scope(|| {
            let cx = opentelemetry::Context::current();
            assert_eq!(
                cx.span().span_context().span_id(),
                span.span_context().span_id()
            );
        });
    }
    assert_eq!(kit.finished().len(), 1);
}

#[test]
fn client_metrics_have_spec_buckets_and_low_cardinality_attributes() {
    let kit = Kit::new();
    let mut chat = kit
        .inst
        .chat("gpt-4o")
        .provider("openai")
        .server("api.openai.com", 443)
        .start();
    chat.set_response_id("chatcmpl-high-cardinality");
    chat.set_response_model("gpt-4o-2024-08-06");
    chat.record_usage(&Usage::new(100, 20));
    chat.end();
    let mut failed = kit.inst.chat("gpt-4o").provider("openai").start();
    failed.record_error_as("rate_limit_exceeded", "429");
    failed.end();
    // Tools are not model calls: no client metrics.
    kit.inst.execute_tool("t").start().end();
    let h = kit.histograms();
    insta::assert_json_snapshot!("client_metrics", h);
}

/// Each failure path of a client operation emits one `gen_ai.client.operation.exception` log
/// event (severity WARN, `exception.type` and `exception.message`) in the failing span's context.
#[test]
fn client_errors_emit_the_operation_exception_event_on_every_failure_path() {
    use agentrace_semconv::event;
    use futures::StreamExt;

    use crate::testkit::{Chunk, block_on};

    let kit = Kit::new();
    let inst = &kit.inst;
    // 1. record_error on a chat span.
    let mut span = inst.chat("record_error").provider("openai").start();
    span.record_error(&UpstreamError("rate limited".into()));
    span.end();
    // 2. record_error_as with a provider code, on an embeddings span.
    let mut span = inst.embeddings("record_error_as").start();
    span.record_error_as("429", "too many requests");
    span.end();
    // 3. run (async).
    let r: Result<(), UpstreamError> = block_on(
        inst.chat("run")
            .start()
            .run(async { Err(UpstreamError("timed out".into())) }),
    );
    assert!(r.is_err());
    // 4. run_sync.
    let r: Result<(), UpstreamError> = inst
        .chat("run_sync")
        .start()
        .run_sync(|_| Err(UpstreamError("bad request".into())));
    assert!(r.is_err());
    // 5. A stream's error.
    let items = vec![
        Ok(Chunk::text("par")),
        Err(UpstreamError("connection reset".into())),
    ];
    let stream = inst
        .chat("stream")
        .stream(true)
        .start()
        .trace_stream(futures::stream::iter(items.clone()));
    assert_eq!(block_on(stream.count()), 2);
    // 6. A blocking iterator's error.
    let it = inst
        .chat("iter")
        .stream(true)
        .start()
        .trace_iter(items.into_iter());
    assert_eq!(it.count(), 2);
    // Not client operations, or no error: no exception log event.
    let mut tool = inst.execute_tool("tool").start();
    tool.record_error_as("timeout", "tool took too long");
    tool.end();
    let mut local = inst.chat("local").kind(SpanKind::Internal).start();
    local.record_error(&UpstreamError("oom".into()));
    local.end();
    inst.chat("ok").start().end();

    let spans = kit.finished();
    let events = kit.log_records(event::OPERATION_EXCEPTION);
    let expected = [
        (
            "chat record_error",
            "it::testkit::UpstreamError",
            "upstream failed: rate limited",
        ),
        ("embeddings record_error_as", "429", "too many requests"),
        (
            "chat run",
            "it::testkit::UpstreamError",
            "upstream failed: timed out",
        ),
        (
            "chat run_sync",
            "it::testkit::UpstreamError",
            "upstream failed: bad request",
        ),
        (
            "chat stream",
            "it::testkit::UpstreamError",
            "upstream failed: connection reset",
        ),
        (
            "chat iter",
            "it::testkit::UpstreamError",
            "upstream failed: connection reset",
        ),
    ];
    assert_eq!(events.len(), expected.len(), "{events:?}");
    for (e, (span_name, ty, message)) in events.iter().zip(expected) {
        let span = spans
            .iter()
            .find(|s| Some(s.span_context.span_id()) == e.span_id)
            .unwrap_or_else(|| panic!("no span for {e:?}"));
        assert_eq!(span.name, span_name);
        assert_eq!(e.trace_id, Some(span.span_context.trace_id()));
        assert_eq!(e.severity_number, Some(event::OPERATION_EXCEPTION_SEVERITY));
        assert_eq!(e.attributes.len(), 2, "{e:?}");
        assert_eq!(e.attributes["exception.type"], ty);
        assert_eq!(e.attributes["exception.message"], message);
        // The span says the same: status ERROR, error.type, an exception span event.
        assert!(matches!(
            span.status,
            opentelemetry::trace::Status::Error { .. }
        ));
        assert_eq!(attr(span, "error.type").unwrap().as_str(), ty);
        assert_eq!(span.events.len(), 1);
        assert_eq!(span.events[0].name, "exception");
    }
    // The tool and the INTERNAL chat still record the error on their spans.
    for name in ["execute_tool tool", "chat local"] {
        let span = spans.iter().find(|s| s.name == name).unwrap();
        assert!(matches!(
            span.status,
            opentelemetry::trace::Status::Error { .. }
        ));
    }
}

#[test]
fn without_a_logger_errors_are_still_recorded_on_the_span() {
    let kit = Kit::new();
    let inst = agentrace_sdk::Instrumentation::builder()
        .with_tracer_provider(&kit.tracer_provider)
        .with_meter_provider(&kit.meter_provider)
        .build();
    let mut span = inst.chat("m").start();
    span.record_error(&UpstreamError("rate limited".into()));
    span.end();
    assert!(kit.logs.get_emitted_logs().unwrap().is_empty());
    let spans = kit.finished();
    assert_eq!(spans.len(), 1);
    assert_eq!(
        attr(&spans[0], "error.type").unwrap().as_str(),
        "it::testkit::UpstreamError"
    );
}
