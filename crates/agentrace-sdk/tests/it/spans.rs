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
