//! Legacy event models (seed 002), OpenAI-style messages and deprecated event bodies convert
//! into the current model without losing content.

use agentrace_semconv::enums::{FinishReason, Modality, Role};
use agentrace_semconv::event;
use agentrace_semconv::legacy::{
    self, ChoiceEvent, CompletionMessage, ConvertError, FunctionCall, MessageEvent, Roles, ToolCall,
};
use agentrace_semconv::message::{ChatMessage, Extra, OutputMessage, Part};
use serde_json::{Value, json};

use crate::testkit::{INPUT_SCHEMA, OUTPUT_SCHEMA, assert_valid, check, validator};

#[test]
fn seed_message_and_choice_events() {
    // The seed's "Basic Event Emission" example.
    let message = MessageEvent {
        content: json!("What is the capital of France?"),
        role: Roles::User.to_string(),
        tool_calls: None,
        extra: Extra::new(),
    };
    assert_eq!(
        ChatMessage::from(&message),
        ChatMessage::from_text(Role::User, "What is the capital of France?")
    );
    let choice: ChoiceEvent = serde_json::from_value(json!({
        "index": 0,
        "message": {"content": "The capital of France is Paris.", "role": "assistant"},
        "finish_reason": "stop"
    }))
    .expect("the seed's choice event");
    assert_eq!(
        OutputMessage::from(&choice),
        OutputMessage::new(
            Role::Assistant,
            vec![Part::text("The capital of France is Paris.")],
            FinishReason::Stop
        )
    );
    // Defaults of the seed models: role `user`, finish_reason `unknown`.
    let message: MessageEvent = serde_json::from_value(json!({"content": "hi"})).expect("defaults");
    assert_eq!(message.role, "user");
    let choice: ChoiceEvent =
        serde_json::from_value(json!({"index": 1, "message": {"content": "x"}})).expect("defaults");
    assert_eq!(
        OutputMessage::from(choice).finish_reason,
        FinishReason::Other("unknown".into())
    );
}

#[test]
fn seed_tool_call_example_and_typed_dict_spelling() {
    // The seed's "Tool Call Events" example.
    let message: MessageEvent = serde_json::from_value(json!({
        "content": "I need to check the weather in Paris",
        "role": "user",
        "tool_calls": [{"id": "call_123", "function": {"name": "get_weather", "arguments": "{\"location\": \"Paris\"}"}, "type": "function"}]
    }))
    .expect("seed example");
    let converted = ChatMessage::from(&message);
    assert_eq!(
        converted.parts,
        [
            Part::text("I need to check the weather in Paris"),
            Part::tool_call(
                Some("call_123".into()),
                "get_weather",
                Some(json!({"location": "Paris"}))
            ),
        ]
    );
    // The TypedDict spells the function name `function_name`.
    let call: ToolCall = serde_json::from_value(json!({
        "id": "call_9", "type": "function", "function": {"function_name": "lookup", "arguments": {"q": "x"}}
    }))
    .expect("TypedDict spelling");
    assert_eq!(call.function.name, "lookup");
    let message = MessageEvent {
        content: Value::Null,
        role: "assistant".into(),
        tool_calls: Some(vec![call]),
        extra: Extra::new(),
    };
    assert_eq!(
        ChatMessage::from(message).parts,
        [Part::tool_call(
            Some("call_9".into()),
            "lookup",
            Some(json!({"q": "x"}))
        )]
    );
    let completion = CompletionMessage {
        content: json!("ok"),
        role: "assistant".into(),
        extra: Extra::new(),
    };
    let choice = ChoiceEvent {
        index: 0,
        message: completion,
        finish_reason: "tool_calls".into(),
        tool_calls: Some(vec![ToolCall {
            id: None,
            function: FunctionCall {
                name: "f".into(),
                arguments: None,
                extra: Extra::new(),
            },
            kind: "function".into(),
            extra: Extra::new(),
        }]),
        extra: Extra::new(),
    };
    let out = OutputMessage::from(&choice);
    assert_eq!(out.finish_reason, FinishReason::ToolCall);
    assert_eq!(
        out.parts,
        [Part::text("ok"), Part::tool_call(None, "f", None)]
    );
    assert_eq!(Role::from(Roles::Tool), Role::Tool);
}

/// The body examples of `model/deprecated/events-deprecated.yaml`.
#[test]
fn deprecated_event_bodies() {
    let system = legacy::from_message_event_body(
        event::SYSTEM_MESSAGE,
        &json!({"content": "You're a helpful bot", "role": "instruction"}),
    )
    .expect("system body");
    assert_eq!(system.role, Role::Other("instruction".into()));
    assert_eq!(system.texts().collect::<Vec<_>>(), ["You're a helpful bot"]);

    let user = legacy::from_message_event_body(
        event::USER_MESSAGE,
        &json!({"content": "What's the weather in Paris?"}),
    )
    .expect("user body");
    assert_eq!(
        user,
        ChatMessage::from_text(Role::User, "What's the weather in Paris?")
    );

    let assistant = legacy::from_message_event_body(
        event::ASSISTANT_MESSAGE,
        &json!({"tool_calls": [{"id": "call_mszuSIzqtI65i1wAUOE8w5H4", "type": "function",
                               "function": {"name": "get_weather", "arguments": "{\"location\": \"Paris\"}"}}]}),
    )
    .expect("assistant body");
    assert_eq!(assistant.role, Role::Assistant);
    assert_eq!(
        assistant.parts,
        [Part::tool_call(
            Some("call_mszuSIzqtI65i1wAUOE8w5H4".into()),
            "get_weather",
            Some(json!({"location": "Paris"}))
        )]
    );

    let tool = legacy::from_message_event_body(
        event::TOOL_MESSAGE,
        &json!({"content": "rainy, 57°F", "id": "call_mszuSIzqtI65i1wAUOE8w5H4"}),
    )
    .expect("tool body");
    assert_eq!(
        tool.parts,
        [Part::tool_call_response(
            Some("call_mszuSIzqtI65i1wAUOE8w5H4".into()),
            json!("rainy, 57°F")
        )]
    );
    // Without content capture a tool event still carries its id.
    let bare =
        legacy::from_message_event_body(event::TOOL_MESSAGE, &json!({"id": "c1"})).expect("bare");
    assert_eq!(
        bare.parts,
        [Part::tool_call_response(Some("c1".into()), Value::Null)]
    );
    // A bare string body is the content.
    let s =
        legacy::from_message_event_body(event::USER_MESSAGE, &json!("hi")).expect("string body");
    assert_eq!(s.texts().collect::<String>(), "hi");

    let choice = legacy::from_choice_event_body(&json!({
        "index": 1,
        "finish_reason": "tool_calls",
        "message": {"content": "The weather in Paris is rainy and overcast, with temperatures around 57°F", "role": "bot"},
        "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "get_weather"}}]
    }))
    .expect("choice body");
    assert_eq!(choice.index, Some(1));
    assert_eq!(choice.message.role, Role::Other("bot".into()));
    assert_eq!(choice.message.finish_reason, FinishReason::ToolCall);
    assert_eq!(choice.message.parts.len(), 2);

    assert_eq!(
        legacy::from_message_event_body(event::CHOICE, &json!({})),
        Err(ConvertError::UnknownEvent(event::CHOICE.into()))
    );
    assert!(legacy::from_choice_event_body(&json!("x")).is_err());
}

#[test]
fn choices_are_ordered_by_index() {
    let bodies = [
        json!({"index": 2, "finish_reason": "stop", "message": {"content": "c"}}),
        json!({"finish_reason": "stop", "message": {"content": "none"}}),
        json!({"index": 0, "finish_reason": "length", "message": {"content": "a"}}),
        json!({"index": 1, "finish_reason": "error", "message": {"content": "b"}}),
    ];
    let outputs = legacy::output_messages_from_choice_bodies(&bodies).expect("bodies");
    let texts: Vec<String> = outputs.iter().map(|o| o.texts().collect()).collect();
    assert_eq!(texts, ["a", "b", "c", "none"]);
    assert_valid(
        &validator(OUTPUT_SCHEMA),
        &serde_json::to_value(&outputs).expect("ser"),
        "choices",
    );
}

#[test]
fn openai_messages_convert_with_every_field_kept() {
    let messages = json!([
        {"role": "system", "content": "Be brief."},
        {"role": "user", "name": "alice", "content": [
            {"type": "text", "text": "What is in these?"},
            {"type": "image_url", "image_url": {"url": "https://example.com/a.png", "detail": "high"}},
            {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/4AAQ"}},
            {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}},
            {"type": "file", "file": {"file_id": "file-1", "filename": "report.pdf"}},
            {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBERi0=", "filename": "x.pdf"}},
            {"type": "refusal", "refusal": "no"},
            {"type": "text", "content": "already current"},
            {"type": "image_url"},
            {"text": "untyped block"},
            42
        ]},
        {"role": "assistant", "content": null, "reasoning_content": "Look at the images.",
         "tool_calls": [
            {"id": "call_a", "type": "function", "function": {"name": "describe", "arguments": "{\"n\": 2}"}},
            {"id": "call_b", "type": "function", "function": {"name": "raw", "arguments": "not json"}, "index": 1},
            {"id": "call_c", "type": "custom", "custom": {"name": "grep", "input": "foo"}}
         ],
         "refusal": null, "audio": {"id": "audio_1"}},
        {"role": "tool", "tool_call_id": "call_a", "content": "two cats"},
        {"role": "function", "name": "legacy_fn", "content": "{\"ok\": true}"},
        {"role": "assistant", "function_call": {"name": "legacy_fn", "arguments": "{}"}}
    ]);
    let converted = legacy::from_openai_messages(&messages).expect("OpenAI messages");
    let user = &converted[1];
    assert_eq!(user.name.as_deref(), Some("alice"));
    assert!(
        matches!(&user.parts[1], Part::Uri(u) if u.modality == Modality::Image && u.extra["detail"] == json!("high"))
    );
    assert!(
        matches!(&user.parts[2], Part::Blob(b) if b.mime_type.as_deref() == Some("image/jpeg") && b.content == "/9j/4AAQ")
    );
    assert!(
        matches!(&user.parts[3], Part::Blob(b) if b.modality == Modality::Audio && b.mime_type.as_deref() == Some("audio/wav"))
    );
    assert!(
        matches!(&user.parts[4], Part::File(f) if f.file_id == "file-1" && f.extra["filename"] == json!("report.pdf"))
    );
    assert!(matches!(&user.parts[5], Part::Blob(b) if b.modality == Modality::Document));
    assert_eq!(user.parts[6].kind(), "refusal");
    assert_eq!(user.parts[7], Part::text("already current"));
    assert!(
        matches!(&user.parts[8], Part::Generic(g) if g.kind == "image_url" && g.fields.is_empty())
    );
    assert_eq!(user.parts[9].as_text(), Some("untyped block"));
    assert_eq!(user.parts[10].kind(), "unmapped");
    let assistant = &converted[2];
    assert_eq!(assistant.parts[0], Part::reasoning("Look at the images."));
    assert_eq!(
        assistant.parts[1],
        Part::tool_call(Some("call_a".into()), "describe", Some(json!({"n": 2})))
    );
    assert!(
        matches!(&assistant.parts[2], Part::ToolCall(c) if c.arguments == Some(json!("not json")) && c.extra["index"] == json!(1))
    );
    assert_eq!(assistant.parts[3].kind(), "unmapped");
    assert_eq!(assistant.extra["audio"], json!({"id": "audio_1"}));
    assert!(assistant.extra["refusal"].is_null());
    assert_eq!(
        converted[3].parts,
        [Part::tool_call_response(
            Some("call_a".into()),
            json!("two cats")
        )]
    );
    assert_eq!(converted[4].role, Role::Other("function".into()));
    assert_eq!(
        converted[5].parts,
        [Part::tool_call(None, "legacy_fn", Some(json!({})))]
    );

    assert_valid(
        &validator(INPUT_SCHEMA),
        &serde_json::to_value(&converted).expect("ser"),
        "converted",
    );
    check("openai_messages_converted", &converted);

    assert_eq!(
        legacy::from_openai_message(&json!({"content": "x"})),
        Err(ConvertError::MissingRole)
    );
    assert!(legacy::from_openai_messages(&json!({})).is_err());
    assert!(legacy::from_openai_messages_json("[{'role': 'user'}]").is_err());
    let from_prompt = legacy::from_openai_messages_json(
        r#"[{"role": "user", "content": "What is the capital of France?"}]"#,
    )
    .expect("gen_ai.prompt JSON");
    assert_eq!(
        from_prompt[0].texts().collect::<String>(),
        "What is the capital of France?"
    );
}

/// Bodies of Bedrock/Anthropic instrumentations carry Anthropic content blocks or Bedrock
/// Converse blocks; they map to the current part types, leftovers kept.
#[test]
fn anthropic_and_converse_blocks() {
    let anthropic = legacy::from_message_event_body(
        event::ASSISTANT_MESSAGE,
        &json!({"content": [
            {"type": "thinking", "thinking": "Check the tool.", "signature": "sig=="},
            {"type": "text", "text": "Let me look.", "citations": []},
            {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}, "cache_control": {"type": "ephemeral"}},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBOR"}},
            {"type": "document", "source": {"type": "url", "url": "https://x/doc.pdf"}, "title": "Doc"},
            {"type": "image", "source": {"type": "file", "file_id": "f_1"}},
            {"type": "redacted_thinking", "data": "xyz"}
        ]}),
    )
    .expect("Anthropic body");
    let p = &anthropic.parts;
    assert!(
        matches!(&p[0], Part::Reasoning(r) if r.content == "Check the tool." && r.extra["signature"] == json!("sig=="))
    );
    assert!(
        matches!(&p[1], Part::Text(t) if t.content == "Let me look." && t.extra.contains_key("citations"))
    );
    assert!(
        matches!(&p[2], Part::ToolCall(c) if c.id.as_deref() == Some("toolu_1") && c.arguments == Some(json!({"city": "Paris"})) && c.extra.contains_key("cache_control"))
    );
    assert!(
        matches!(&p[3], Part::Blob(b) if b.mime_type.as_deref() == Some("image/png") && b.content == "iVBOR")
    );
    assert!(
        matches!(&p[4], Part::Uri(u) if u.modality == Modality::Document && u.extra["title"] == json!("Doc"))
    );
    assert_eq!(p[5].kind(), "image");
    assert_eq!(p[6].kind(), "redacted_thinking");

    let result = legacy::from_message_event_body(
        event::USER_MESSAGE,
        &json!({"content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "rainy", "is_error": false}]}),
    )
    .expect("tool_result body");
    assert!(
        matches!(&result.parts[0], Part::ToolCallResponse(r) if r.id.as_deref() == Some("toolu_1") && r.response == json!("rainy") && r.extra["is_error"] == json!(false))
    );

    let converse = legacy::from_message_event_body(
        event::ASSISTANT_MESSAGE,
        &json!({"content": [
            {"reasoningContent": {"reasoningText": {"text": "hmm", "signature": "s"}}},
            {"text": "Calling."},
            {"toolUse": {"toolUseId": "tu_1", "name": "search", "input": {"q": "x"}}},
            {"toolResult": {"toolUseId": "tu_1", "content": [{"json": {"hits": 3}}], "status": "success"}},
            {"image": {"format": "jpeg", "source": {"bytes": "/9j/"}}},
            {"video": {"format": "mp4"}}
        ]}),
    )
    .expect("Converse body");
    let p = &converse.parts;
    assert!(
        matches!(&p[0], Part::Reasoning(r) if r.content == "hmm" && r.extra["signature"] == json!("s"))
    );
    assert_eq!(p[1], Part::text("Calling."));
    assert_eq!(
        p[2],
        Part::tool_call(Some("tu_1".into()), "search", Some(json!({"q": "x"})))
    );
    assert!(
        matches!(&p[3], Part::ToolCallResponse(r) if r.id.as_deref() == Some("tu_1") && r.extra["status"] == json!("success"))
    );
    assert!(
        matches!(&p[4], Part::Blob(b) if b.mime_type.as_deref() == Some("image/jpeg") && b.content == "/9j/")
    );
    assert_eq!(p[5].kind(), "unmapped");
    assert_valid(
        &validator(INPUT_SCHEMA),
        &serde_json::to_value([&anthropic, &result, &converse]).expect("ser"),
        "blocks",
    );
}

/// Google `Content` bodies (ADK, Gemini instrumentations): parts map to the current parts and
/// role `model` to `assistant`.
#[test]
fn google_content_bodies() {
    let body = json!({"role": "model", "parts": [
        {"text": "Thinking about it", "thought": true},
        {"text": "Here you go."},
        {"function_call": {"id": "fc_1", "name": "get_weather", "args": {"city": "Paris"}}},
        {"functionResponse": {"name": "get_weather", "response": {"temp": 14}}},
        {"inline_data": {"mime_type": "image/png", "data": "iVBOR"}},
        {"fileData": {"mimeType": "application/pdf", "fileUri": "gs://b/doc.pdf"}},
        {"executable_code": {"code": "print(1)", "language": "PYTHON"}}
    ]});
    let message =
        legacy::from_message_event_body(event::ASSISTANT_MESSAGE, &body).expect("Google content");
    assert_eq!(message.role, Role::Assistant);
    let p = &message.parts;
    assert_eq!(p[0], Part::reasoning("Thinking about it"));
    assert_eq!(p[1], Part::text("Here you go."));
    assert_eq!(
        p[2],
        Part::tool_call(
            Some("fc_1".into()),
            "get_weather",
            Some(json!({"city": "Paris"}))
        )
    );
    assert!(
        matches!(&p[3], Part::ToolCallResponse(r) if r.response == json!({"temp": 14}) && r.extra["name"] == json!("get_weather"))
    );
    assert!(
        matches!(&p[4], Part::Blob(b) if b.modality == Modality::Image && b.content == "iVBOR")
    );
    assert!(
        matches!(&p[5], Part::Uri(u) if u.modality == Modality::Document && u.uri == "gs://b/doc.pdf")
    );
    assert_eq!(p[6].kind(), "unmapped");
    assert_valid(
        &validator(INPUT_SCHEMA),
        &serde_json::to_value([&message]).expect("ser"),
        "google",
    );

    // A string body that holds a JSON object is that object.
    let encoded = legacy::from_message_event_body(
        event::USER_MESSAGE,
        &json!("{\"content\": \"hi\", \"x\": 1}"),
    )
    .expect("encoded body");
    assert_eq!(encoded.texts().collect::<String>(), "hi");
    assert_eq!(encoded.extra["x"], json!(1));
}

/// OpenLLMetry's indexed span attributes (`gen_ai.prompt.N.*`, `gen_ai.completion.N.*`).
#[test]
fn openllmetry_indexed_attributes() {
    let prompt = agentrace_semconv::attr::GEN_AI_PROMPT;
    let completion = agentrace_semconv::attr::GEN_AI_COMPLETION;
    let attrs: Vec<(String, Value)> = vec![
        (format!("{prompt}.1.role"), json!("assistant")),
        (format!("{prompt}.0.role"), json!("user")),
        (format!("{prompt}.0.content"), json!("Weather in Paris?")),
        (format!("{prompt}.1.tool_calls.0.id"), json!("call_1")),
        (
            format!("{prompt}.1.tool_calls.0.name"),
            json!("get_weather"),
        ),
        (
            format!("{prompt}.1.tool_calls.0.arguments"),
            json!("{\"city\": \"Paris\"}"),
        ),
        (format!("{prompt}.10.role"), json!("tool")),
        (format!("{prompt}.10.tool_call_id"), json!("call_1")),
        (format!("{prompt}.10.content"), json!("rainy")),
        (format!("{prompt}.2.role"), json!("user")),
        (
            format!("{prompt}.2.content"),
            json!("[{\"type\": \"text\", \"text\": \"and now?\"}]"),
        ),
        (format!("{prompt}.name"), json!("weather-prompt")),
        (format!("{completion}.0.role"), json!("assistant")),
        (format!("{completion}.0.content"), json!("Rainy, 57°F.")),
        (format!("{completion}.0.finish_reason"), json!("stop")),
        (format!("{completion}.1.finish_reason"), json!("tool_calls")),
        (
            format!("{completion}.1.tool_calls.0.name"),
            json!("get_forecast"),
        ),
    ];
    let pairs = || attrs.iter().map(|(k, v)| (k.as_str(), v));
    let input = legacy::input_messages_from_indexed_attributes(pairs());
    assert_eq!(input.len(), 4);
    assert_eq!(
        input[0],
        ChatMessage::from_text(Role::User, "Weather in Paris?")
    );
    assert_eq!(
        input[1].parts,
        [Part::tool_call(
            Some("call_1".into()),
            "get_weather",
            Some(json!({"city": "Paris"}))
        )]
    );
    assert_eq!(input[2].texts().collect::<String>(), "and now?");
    assert_eq!(
        input[3].parts,
        [Part::tool_call_response(
            Some("call_1".into()),
            json!("rainy")
        )]
    );
    let output = legacy::output_messages_from_indexed_attributes(pairs());
    assert_eq!(output.len(), 2);
    assert_eq!(output[0].finish_reason, FinishReason::Stop);
    assert_eq!(output[1].finish_reason, FinishReason::ToolCall);
    assert_eq!(
        output[1].parts,
        [Part::tool_call(None, "get_forecast", None)]
    );
    assert_valid(
        &validator(INPUT_SCHEMA),
        &serde_json::to_value(&input).expect("ser"),
        "indexed input",
    );
    assert_valid(
        &validator(OUTPUT_SCHEMA),
        &serde_json::to_value(&output).expect("ser"),
        "indexed output",
    );
}

/// OpenAI completion output: choices of a response, or the bare messages of `gen_ai.completion`.
#[test]
fn openai_completion_output() {
    let choices = json!([
        {"index": 1, "finish_reason": "tool_calls", "logprobs": null,
         "message": {"role": "assistant", "content": null,
                     "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}},
        {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "Paris."}}
    ]);
    let outputs = legacy::output_messages_from_openai(&choices).expect("choices");
    assert_eq!(
        outputs[0],
        OutputMessage::new(
            Role::Assistant,
            vec![Part::text("Paris.")],
            FinishReason::Stop
        )
    );
    assert_eq!(outputs[1].finish_reason, FinishReason::ToolCall);
    assert!(outputs[1].extra["logprobs"].is_null());
    let bare = legacy::output_messages_from_openai_json(
        r#"[{"role": "assistant", "content": "The capital of France is Paris."}]"#,
    )
    .expect("bare messages");
    assert_eq!(
        bare[0].texts().collect::<String>(),
        "The capital of France is Paris."
    );
    assert_eq!(bare[0].finish_reason, FinishReason::Other("unknown".into()));
    assert_eq!(
        legacy::output_messages_from_openai(&json!([1])),
        Err(ConvertError::NotAnObject {
            what: "a choice or message"
        })
    );
}
