//! Provider-native JSON into the message model, and provider stream chunks through TracedStream.

use agentrace_sdk::convert::{
    self, AnthropicEvent, ConverseStreamEvent, GeminiChunk, OpenAiChatChunk,
};
use agentrace_sdk::{CaptureSettings, StreamOutcome, Usage};
use serde_json::{Value, json};

use crate::testkit::{Kit, UpstreamError};

fn snap(req: &agentrace_sdk::RequestContent, resp: &agentrace_sdk::ResponseContent) -> Value {
    json!({
        "system_instructions": req.system_instructions,
        "input": req.messages,
        "tools": req.tools,
        "id": resp.id,
        "model": resp.model,
        "output": resp.messages,
        "finish_reasons": resp.finish_reasons,
        "usage": [resp.usage.input_tokens, resp.usage.output_tokens, resp.usage.cache_read_input_tokens, resp.usage.reasoning_output_tokens],
    })
}

#[test]
fn openai_chat_completions() {
    let req = convert::openai_chat_request(&json!({
        "model": "gpt-4o",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": [{"type": "text", "text": "Weather?"}, {"type": "image_url", "image_url": {"url": "https://x/y.png"}}]},
            {"role": "assistant", "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": "rainy"}
        ],
        "tools": [{"type": "function", "function": {"name": "get_weather", "description": "By city", "parameters": {"type": "object"}}}]
    })).unwrap();
    let resp = convert::openai_chat_response(&json!({
        "id": "chatcmpl-1", "model": "gpt-4o-2024-08-06",
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "Rainy."}}],
        "usage": {"prompt_tokens": 20, "completion_tokens": 3, "prompt_tokens_details": {"cached_tokens": 8}}
    })).unwrap();
    insta::assert_json_snapshot!("openai_chat", snap(&req, &resp));
}

#[test]
fn openai_responses() {
    let req = convert::openai_responses_request(&json!({
        "model": "gpt-4.1", "instructions": "Be brief.",
        "input": [
            {"role": "user", "content": [{"type": "input_text", "text": "Weather?"}]},
            {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": "{\"city\":\"Paris\"}"},
            {"type": "function_call_output", "call_id": "call_1", "output": "rainy"}
        ],
        "tools": [{"type": "function", "name": "get_weather", "parameters": {"type": "object"}}]
    })).unwrap();
    let resp = convert::openai_responses_response(&json!({
        "id": "resp_1", "model": "gpt-4.1", "status": "completed",
        "output": [
            {"type": "reasoning", "summary": [{"type": "summary_text", "text": "Look it up."}]},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Rainy."}]}
        ],
        "usage": {"input_tokens": 30, "output_tokens": 9, "output_tokens_details": {"reasoning_tokens": 5}}
    })).unwrap();
    insta::assert_json_snapshot!("openai_responses", snap(&req, &resp));
}

#[test]
fn anthropic_messages() {
    let req = convert::anthropic_request(&json!({
        "model": "claude-sonnet-4", "system": [{"type": "text", "text": "Be brief."}],
        "messages": [
            {"role": "user", "content": "Weather?"},
            {"role": "assistant", "content": [{"type": "thinking", "thinking": "Use the tool."}, {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "rainy"}]}]}
        ],
        "tools": [{"name": "get_weather", "description": "By city", "input_schema": {"type": "object"}}]
    })).unwrap();
    let resp = convert::anthropic_response(&json!({
        "id": "msg_1", "model": "claude-sonnet-4-20250514", "stop_reason": "end_turn",
        "content": [{"type": "text", "text": "Rainy."}],
        "usage": {"input_tokens": 10, "cache_read_input_tokens": 90, "output_tokens": 4}
    }))
    .unwrap();
    insta::assert_json_snapshot!("anthropic", snap(&req, &resp));
}

#[test]
fn bedrock_converse() {
    let req = convert::converse_request(&json!({
        "modelId": "anthropic.claude-3-sonnet", "system": [{"text": "Be brief."}],
        "messages": [
            {"role": "user", "content": [{"text": "Weather?"}, {"image": {"format": "png", "source": {"bytes": "iVBORw0KGgo="}}}]},
            {"role": "assistant", "content": [{"toolUse": {"toolUseId": "t1", "name": "get_weather", "input": {"city": "Paris"}}}]},
            {"role": "user", "content": [{"toolResult": {"toolUseId": "t1", "content": [{"json": {"sky": "rainy"}}]}}]}
        ],
        "toolConfig": {"tools": [{"toolSpec": {"name": "get_weather", "description": "By city", "inputSchema": {"json": {"type": "object"}}}}]}
    })).unwrap();
    let resp = convert::converse_response(&json!({
        "output": {"message": {"role": "assistant", "content": [{"text": "Rainy."}]}},
        "stopReason": "end_turn", "usage": {"inputTokens": 25, "outputTokens": 3, "totalTokens": 28},
        "ResponseMetadata": {"RequestId": "req-1"}
    })).unwrap();
    insta::assert_json_snapshot!("converse", snap(&req, &resp));
}

#[test]
fn gemini_generate_content() {
    let req = convert::gemini_request(&json!({
        "systemInstruction": {"parts": [{"text": "Be brief."}]},
        "contents": [
            {"role": "user", "parts": [{"text": "Weather?"}, {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}}]},
            {"role": "model", "parts": [{"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}}]},
            {"role": "user", "parts": [{"functionResponse": {"name": "get_weather", "response": {"sky": "rainy"}}}]}
        ],
        "tools": [{"functionDeclarations": [{"name": "get_weather", "description": "By city", "parameters": {"type": "object"}}]}]
    })).unwrap();
    let resp = convert::gemini_response(&json!({
        "responseId": "r1", "modelVersion": "gemini-2.5-flash",
        "candidates": [{"content": {"role": "model", "parts": [{"text": "Hmm.", "thought": true}, {"text": "Rainy."}]}, "finishReason": "STOP"}],
        "usageMetadata": {"promptTokenCount": 15, "candidatesTokenCount": 2, "thoughtsTokenCount": 6}
    })).unwrap();
    insta::assert_json_snapshot!("gemini", snap(&req, &resp));
}

#[test]
fn non_objects_are_errors_not_panics() {
    assert!(convert::openai_chat_request(&json!([1])).is_err());
    assert!(convert::gemini_response(&json!("x")).is_err());
    assert_eq!(
        convert::finish_reason("tool_use"),
        agentrace_semconv::FinishReason::ToolCall
    );
    assert_eq!(
        convert::finish_reason("MAX_TOKENS"),
        agentrace_semconv::FinishReason::Length
    );
}

fn run<C: agentrace_sdk::ModelChunk>(events: Vec<C>) -> agentrace_sdk::StreamOutput {
    let kit = Kit::with(CaptureSettings::default(), false);
    let mut it = kit
        .inst
        .chat("m")
        .stream(true)
        .start()
        .trace_iter(events.into_iter().map(Ok::<_, UpstreamError>));
    for _ in it.by_ref() {}
    assert_eq!(it.outcome(), Some(StreamOutcome::Completed));
    it.output().clone()
}

#[test]
fn provider_stream_chunks_are_understood() {
    // OpenAI: usage in the final chunk with empty choices.
    let out = run(vec![
        OpenAiChatChunk(
            json!({"id": "c1", "model": "gpt-4o", "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hel"}}]}),
        ),
        OpenAiChatChunk(
            json!({"id": "c1", "choices": [{"index": 0, "delta": {"content": "lo", "tool_calls": [{"index": 0, "id": "call_1", "function": {"name": "f", "arguments": "{}"}}]}}]}),
        ),
        OpenAiChatChunk(
            json!({"id": "c1", "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}),
        ),
        OpenAiChatChunk(
            json!({"id": "c1", "choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 2}}),
        ),
    ]);
    assert_eq!(
        (out.text(), out.response_id.as_deref()),
        ("Hello", Some("c1"))
    );
    assert_eq!(out.choices[0].tool_calls[0].name, "f");
    assert_eq!(out.usage, Usage::new(5, 2));
    // Anthropic: input usage early, output late.
    let out = run(vec![
        AnthropicEvent(
            json!({"type": "message_start", "message": {"id": "msg_1", "model": "claude", "usage": {"input_tokens": 9, "output_tokens": 1}}}),
        ),
        AnthropicEvent(
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}}),
        ),
        AnthropicEvent(
            json!({"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": "toolu_1", "name": "f"}}),
        ),
        AnthropicEvent(
            json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "{\"a\":1}"}}),
        ),
        AnthropicEvent(
            json!({"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 7}}),
        ),
    ]);
    assert_eq!(out.text(), "Hi");
    assert_eq!(out.usage, Usage::new(9, 7));
    assert_eq!(out.choices[0].tool_calls[1].arguments, "{\"a\":1}");
    // Bedrock ConverseStream: usage in metadata, last.
    let out = run(vec![
        ConverseStreamEvent(json!({"messageStart": {"role": "assistant"}})),
        ConverseStreamEvent(
            json!({"contentBlockDelta": {"contentBlockIndex": 0, "delta": {"text": "Rain"}}}),
        ),
        ConverseStreamEvent(
            json!({"contentBlockStart": {"contentBlockIndex": 1, "start": {"toolUse": {"toolUseId": "t1", "name": "f"}}}}),
        ),
        ConverseStreamEvent(
            json!({"contentBlockDelta": {"contentBlockIndex": 1, "delta": {"toolUse": {"input": "{}"}}}}),
        ),
        ConverseStreamEvent(json!({"messageStop": {"stopReason": "tool_use"}})),
        ConverseStreamEvent(json!({"metadata": {"usage": {"inputTokens": 4, "outputTokens": 6}}})),
    ]);
    assert_eq!(out.text(), "Rain");
    assert_eq!(out.usage, Usage::new(4, 6));
    assert_eq!(out.finish_reasons(), ["tool_use"]);
    // Gemini.
    let out = run(vec![
        GeminiChunk::new(
            json!({"responseId": "r", "modelVersion": "gemini-2.5", "candidates": [{"content": {"parts": [{"text": "Sun"}]}}]}),
        ),
        GeminiChunk::new(
            json!({"candidates": [{"content": {"parts": [{"text": "ny"}, {"functionCall": {"name": "f", "args": {"a": 1}}}]}, "finishReason": "STOP"}], "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 2}}),
        ),
    ]);
    assert_eq!(
        (out.text(), out.response_model.as_deref()),
        ("Sunny", Some("gemini-2.5"))
    );
    assert_eq!(out.usage, Usage::new(3, 2));
    assert_eq!(
        (
            out.choices[0].tool_calls[1].name.as_str(),
            out.choices[0].tool_calls[1].arguments.as_str()
        ),
        ("f", "{\"a\":1}")
    );
}
