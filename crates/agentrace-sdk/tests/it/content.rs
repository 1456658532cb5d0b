//! Content capture per mode; nothing when off; the details event; legacy events; truncation.

use agentrace_sdk::content::truncate_json;
use agentrace_sdk::{CaptureSettings, RequestContent, ResponseContent, StreamOutcome, Usage};
use agentrace_semconv::message::{
    ChatMessage, OutputMessage, Part, SystemInstructions, ToolDefinition,
};
use agentrace_semconv::{FinishReason, Role};
use serde_json::json;

use crate::testkit::{Chunk, Kit, UpstreamError, render, scripted_chat};

fn settings(mode: &str) -> CaptureSettings {
    CaptureSettings::from_values(Some(mode), Some("gen_ai_latest_experimental"), None)
}

fn chat_call(kit: &Kit) {
    let mut span = kit.inst.chat("gpt-4o").provider("openai").start();
    span.record_request(&RequestContent {
        system_instructions: Some(SystemInstructions::from_text("Be brief.")),
        messages: vec![ChatMessage::from_text(Role::User, "Weather in Zürich?")],
        tools: vec![ToolDefinition::function(
            "get_weather",
            Some("By city".into()),
            Some(json!({"type": "object"})),
        )],
    });
    span.record_response(&ResponseContent {
        id: Some("chatcmpl-1".into()),
        model: Some("gpt-4o-2024-08-06".into()),
        messages: vec![OutputMessage::new(
            Role::Assistant,
            vec![Part::text("Sunny, 21°C.")],
            FinishReason::Stop,
        )],
        usage: Usage::new(12, 4),
        finish_reasons: vec!["stop".into()],
    });
    span.end();
    let mut tool = kit
        .inst
        .execute_tool("get_weather")
        .tool_call_id("call_1")
        .start();
    tool.record_tool_call_arguments(&json!({"city": "Zürich"}));
    tool.record_tool_call_result(&json!("sunny"));
    tool.end();
}

const CONTENT_KEYS: &[&str] = &[
    "gen_ai.input.messages",
    "gen_ai.output.messages",
    "gen_ai.system_instructions",
    "gen_ai.tool.definitions",
    "gen_ai.tool.call.arguments",
    "gen_ai.tool.call.result",
];

fn content_on_spans(kit: &Kit) -> usize {
    kit.finished()
        .iter()
        .flat_map(|s| s.attributes.iter())
        .filter(|kv| CONTENT_KEYS.contains(&kv.key.as_str()))
        .count()
}

#[test]
fn off_by_default_means_no_content_anywhere() {
    for s in [
        CaptureSettings::default(),
        settings("NO_CONTENT"),
        CaptureSettings::from_values(None, None, None),
    ] {
        let kit = Kit::with(s, true);
        chat_call(&kit);
        assert_eq!(content_on_spans(&kit), 0);
        // Legacy events are on here, but carry no content: no text survives anywhere.
        let logs = serde_json::to_string(&kit.log_events()).unwrap();
        assert!(
            !logs.contains("Zürich") && !logs.contains("Sunny") && !logs.contains("Be brief"),
            "{logs}"
        );
    }
}

#[test]
fn span_only_puts_json_strings_on_spans_and_no_event() {
    let kit = Kit::with(settings("SPAN_ONLY"), false);
    chat_call(&kit);
    assert_eq!(content_on_spans(&kit), 6);
    assert!(kit.log_events().is_empty());
    check!("content_span_only", kit.finished());
}

#[test]
fn event_only_puts_structured_content_on_the_details_event() {
    let kit = Kit::with(settings("EVENT_ONLY"), false);
    chat_call(&kit);
    assert_eq!(content_on_spans(&kit), 0);
    let logs = kit.log_events();
    // One for the chat span, one for the tool span (it has content: arguments and result).
    assert_eq!(logs.len(), 2);
    insta::assert_json_snapshot!("details_event_only", logs);
}

#[test]
fn span_and_event_does_both_and_emit_event_false_suppresses_the_event() {
    let kit = Kit::with(settings("SPAN_AND_EVENT"), false);
    chat_call(&kit);
    assert_eq!(content_on_spans(&kit), 6);
    assert_eq!(kit.log_events().len(), 2);

    let s = CaptureSettings::from_values(
        Some("SPAN_AND_EVENT"),
        Some("gen_ai_latest_experimental"),
        Some("false"),
    );
    let kit = Kit::with(s, false);
    chat_call(&kit);
    assert_eq!(content_on_spans(&kit), 6);
    assert!(kit.log_events().is_empty());

    // The event without content: NO_CONTENT with EMIT_EVENT=true.
    let s = CaptureSettings::from_values(
        Some("NO_CONTENT"),
        Some("gen_ai_latest_experimental"),
        Some("true"),
    );
    let kit = Kit::with(s, false);
    chat_call(&kit);
    let logs = kit.log_events();
    assert_eq!(logs.len(), 1);
    assert!(logs[0]["attributes"].get("gen_ai.input.messages").is_none());
    assert_eq!(logs[0]["attributes"]["gen_ai.usage.input_tokens"], 12);
    assert_eq!(logs[0]["has_trace"], true);
}

#[test]
fn legacy_events_behind_the_switch() {
    // Legacy conventions with content (the boolean form of the variable).
    let kit = Kit::with(CaptureSettings::from_values(Some("true"), None, None), true);
    let mut span = kit.inst.chat("claude").provider("aws.bedrock").start();
    span.record_input_messages(&[
        ChatMessage::from_text(Role::System, "Be brief."),
        ChatMessage::from_text(Role::User, "Weather?"),
        ChatMessage::new(
            Role::Assistant,
            vec![Part::tool_call(
                Some("call_1".into()),
                "get_weather",
                Some(json!({"city": "Paris"})),
            )],
        ),
        ChatMessage::new(
            Role::Tool,
            vec![Part::tool_call_response(
                Some("call_1".into()),
                json!("rainy"),
            )],
        ),
    ]);
    span.record_output_messages(&[OutputMessage::new(
        Role::Assistant,
        vec![Part::text("Rainy.")],
        FinishReason::Stop,
    )]);
    span.end();
    insta::assert_json_snapshot!("legacy_events", kit.log_events());
    // Switch off: none.
    let kit = Kit::with(
        CaptureSettings::from_values(Some("true"), None, None),
        false,
    );
    chat_call(&kit);
    assert!(kit.log_events().is_empty());
}

#[test]
fn streamed_output_is_the_reconstructed_message_and_error_truncates() {
    let kit = Kit::with(settings("SPAN_ONLY"), false);
    let it = kit
        .inst
        .chat("gpt-4o")
        .stream(true)
        .start()
        .trace_iter(scripted_chat().into_iter().map(Ok::<_, UpstreamError>));
    assert_eq!(it.count(), 6);
    let items: Vec<Result<Chunk, UpstreamError>> = vec![
        Ok(Chunk::text("Partial ans")),
        Err(UpstreamError("reset".into())),
    ];
    let mut failed = kit
        .inst
        .chat("gpt-4o")
        .stream(true)
        .start()
        .trace_iter(items.into_iter());
    while failed.next().is_some() {}
    assert_eq!(failed.outcome(), Some(StreamOutcome::Failed));
    drop(failed);
    let rendered = render(&kit.finished());
    let outputs: Vec<serde_json::Value> = rendered
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            serde_json::from_str(s["attributes"]["gen_ai.output.messages"].as_str().unwrap())
                .unwrap()
        })
        .collect();
    insta::assert_json_snapshot!("stream_output_messages", outputs);
}

#[test]
fn truncation_keeps_json_valid_and_is_char_aware() {
    let mut v = json!([{"role": "user", "parts": [{"type": "text", "content": "日本語のテキスト"}, {"type": "text", "content": "more"}]}]);
    truncate_json(&mut v, 3 + 4 + 4);
    // "user" (4) + "text" (4) leave 3 chars for the first content.
    assert_eq!(v[0]["parts"][0]["content"], "日本語…");
    assert_eq!(v[0]["parts"][1]["type"], "…");
    let kit = {
        let k = Kit::with(settings("SPAN_ONLY"), false);
        let inst = agentrace_sdk::Instrumentation::builder()
            .with_tracer_provider(&k.tracer_provider)
            .with_capture(settings("SPAN_ONLY"))
            .with_content_max_length(10)
            .build();
        (k, inst)
    };
    let mut span = kit.1.chat("m").start();
    span.record_input_messages(&[ChatMessage::from_text(
        Role::User,
        "a very long question indeed",
    )]);
    span.end();
    let spans = kit.0.finished();
    let text = crate::testkit::attr(&spans[0], "gen_ai.input.messages")
        .unwrap()
        .as_str()
        .into_owned();
    let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(parsed[0]["parts"][0]["content"], "a …");
}

#[test]
fn a_streamed_response_gives_one_legacy_choice_event_with_the_full_message() {
    use agentrace_sdk::convert::ConverseStreamEvent;
    let kit = Kit::with(CaptureSettings::from_values(Some("true"), None, None), true);
    let events = vec![
        ConverseStreamEvent(json!({"messageStart": {"role": "assistant"}})),
        ConverseStreamEvent(
            json!({"contentBlockDelta": {"contentBlockIndex": 0, "delta": {"text": "Rainy "}}}),
        ),
        ConverseStreamEvent(
            json!({"contentBlockDelta": {"contentBlockIndex": 0, "delta": {"text": "in Paris."}}}),
        ),
        ConverseStreamEvent(json!({"messageStop": {"stopReason": "end_turn"}})),
    ];
    let mut it = kit
        .inst
        .chat("anthropic.claude-3-sonnet")
        .provider("aws.bedrock")
        .start()
        .trace_iter(events.into_iter().map(Ok::<_, UpstreamError>));
    for _ in it.by_ref() {}
    drop(it);
    // A failing stream: the choice is what arrived, with finish_reason `error`.
    let items = vec![
        Ok(ConverseStreamEvent(
            json!({"contentBlockDelta": {"contentBlockIndex": 0, "delta": {"text": "Sun"}}}),
        )),
        Err(UpstreamError("throttled".into())),
    ];
    let mut it = kit
        .inst
        .chat("m")
        .provider("aws.bedrock")
        .start()
        .trace_iter(items.into_iter());
    for _ in it.by_ref() {}
    drop(it);
    let logs = kit.log_events();
    let choices: Vec<_> = logs
        .iter()
        .filter(|l| l["event_name"] == "gen_ai.choice")
        .collect();
    assert_eq!(
        choices.len(),
        2,
        "one choice event per response, never per chunk"
    );
    assert_eq!(choices[0]["body"]["message"]["content"], "Rainy in Paris.");
    assert_eq!(choices[0]["body"]["finish_reason"], "stop");
    assert_eq!(choices[1]["body"]["message"]["content"], "Sun");
    assert_eq!(choices[1]["body"]["finish_reason"], "error");
}

/// A tool call with arguments and result, an agent offering tool definitions, and a tool span
/// without content.
fn tool_calls(kit: &Kit) {
    let mut tool = kit
        .inst
        .execute_tool("get_weather")
        .tool_call_id("call_1")
        .start();
    tool.record_tool_call_arguments(&json!({"city": "Zürich", "days": 2}));
    tool.record_tool_call_result(&json!({"sky": "sunny", "temp_c": 21}));
    tool.end();
    let mut agent = kit.inst.invoke_agent("planner").start();
    agent.record_tool_definitions(&[ToolDefinition::function(
        "get_weather",
        Some("Weather by city".into()),
        Some(json!({"type": "object"})),
    )]);
    agent.end();
    kit.inst.execute_tool("noop").start().end();
}

#[test]
fn tool_content_follows_each_capture_mode() {
    use agentrace_semconv::event;

    use crate::testkit::{attr, value_to_json};

    let latest = |mode: &str, emit: Option<&str>| {
        CaptureSettings::from_values(Some(mode), Some("gen_ai_latest_experimental"), emit)
    };
    // (name, settings, legacy events, content on spans, content on the details event)
    let cases = [
        ("default", CaptureSettings::default(), false, false, false),
        ("NO_CONTENT", settings("NO_CONTENT"), false, false, false),
        (
            "NO_CONTENT+emit",
            latest("NO_CONTENT", Some("true")),
            false,
            false,
            false,
        ),
        (
            "legacy true",
            CaptureSettings::from_values(Some("true"), None, None),
            true,
            false,
            false,
        ),
        ("SPAN_ONLY", settings("SPAN_ONLY"), false, true, false),
        ("EVENT_ONLY", settings("EVENT_ONLY"), false, false, true),
        (
            "EVENT_ONLY, no event",
            latest("EVENT_ONLY", Some("false")),
            false,
            false,
            false,
        ),
        (
            "SPAN_AND_EVENT",
            settings("SPAN_AND_EVENT"),
            false,
            true,
            true,
        ),
        (
            "SPAN_AND_EVENT, no event",
            latest("SPAN_AND_EVENT", Some("false")),
            false,
            true,
            false,
        ),
    ];
    for (name, settings, legacy, on_spans, on_event) in cases {
        let kit = Kit::with(settings, legacy);
        tool_calls(&kit);
        let spans = kit.finished();
        let span = |n: &str| spans.iter().find(|s| s.name == n).unwrap();
        let (tool, agent, noop) = (
            span("execute_tool get_weather"),
            span("invoke_agent planner"),
            span("execute_tool noop"),
        );
        let on_span = |s, key| attr(s, key).map(value_to_json);

        // Spans: JSON strings, or nothing.
        if on_spans {
            let args = on_span(tool, "gen_ai.tool.call.arguments").unwrap();
            let args: serde_json::Value = serde_json::from_str(args.as_str().unwrap()).unwrap();
            assert_eq!(args, json!({"city": "Zürich", "days": 2}), "{name}");
            let result = on_span(tool, "gen_ai.tool.call.result").unwrap();
            let result: serde_json::Value = serde_json::from_str(result.as_str().unwrap()).unwrap();
            assert_eq!(result, json!({"sky": "sunny", "temp_c": 21}), "{name}");
            let defs = on_span(agent, "gen_ai.tool.definitions").unwrap();
            let defs: serde_json::Value = serde_json::from_str(defs.as_str().unwrap()).unwrap();
            assert_eq!(defs[0]["name"], "get_weather", "{name}");
        }
        assert_eq!(
            content_on_spans(&kit),
            if on_spans { 3 } else { 0 },
            "{name}"
        );

        // The details event: structured values, one per span that has content, in its context.
        let details = kit.log_records(event::INFERENCE_OPERATION_DETAILS);
        if on_event {
            assert_eq!(details.len(), 2, "{name}: {details:?}");
            let t = details
                .iter()
                .find(|d| d.span_id == Some(tool.span_context.span_id()))
                .unwrap();
            assert_eq!(t.attributes["gen_ai.operation.name"], "execute_tool");
            assert_eq!(t.attributes["gen_ai.tool.name"], "get_weather");
            assert_eq!(t.attributes["gen_ai.tool.call.id"], "call_1");
            assert_eq!(
                t.attributes["gen_ai.tool.call.arguments"],
                json!({"city": "Zürich", "days": 2})
            );
            assert_eq!(
                t.attributes["gen_ai.tool.call.result"],
                json!({"sky": "sunny", "temp_c": 21})
            );
            let a = details
                .iter()
                .find(|d| d.span_id == Some(agent.span_context.span_id()))
                .unwrap();
            assert_eq!(
                a.attributes["gen_ai.tool.definitions"],
                json!([{"type": "function", "name": "get_weather", "description": "Weather by city", "parameters": {"type": "object"}}])
            );
            // The tool span without content gets no event.
            assert!(
                details
                    .iter()
                    .all(|d| d.span_id != Some(noop.span_context.span_id()))
            );
        } else {
            assert!(details.is_empty(), "{name}: {details:?}");
        }

        // Off means nothing anywhere: no span attribute, span event or log record has the
        // content.
        if !on_spans && !on_event {
            let everything = format!(
                "{} {}",
                serde_json::to_string(&render(&spans)).unwrap(),
                serde_json::to_string(&kit.log_events()).unwrap()
            );
            for needle in ["Zürich", "sunny", "Weather by city", "temp_c"] {
                assert!(
                    !everything.contains(needle),
                    "{name}: {needle} in {everything}"
                );
            }
        }
    }
}
