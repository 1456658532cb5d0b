//! A scripted streaming chat with a tool call, instrumented with agentrace-sdk, no network and no
//! model: the "model" replays OpenAI chat-completions stream chunks. The agent asks, the model
//! calls `get_weather`, the tool runs, the model answers. At the end the example prints the span
//! tree the SDK exported and the live events a viewer would have seen.
//!
//! ```text
//! cargo run -p example-scripted-chat
//! ```

#![allow(clippy::print_stdout)]

use std::process::ExitCode;

use agentrace_sdk::convert::OpenAiChatChunk;
use agentrace_sdk::events::{LiveItem, emit};
use agentrace_sdk::{CaptureSettings, EventStream, Instrumentation, RequestContent};
use agentrace_semconv::Role;
use agentrace_semconv::message::{ChatMessage, Part, ToolDefinition};
use futures::StreamExt;
use opentelemetry::trace::{SpanId, SpanKind, Status};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use serde_json::{Value, json};

#[derive(Debug, thiserror::Error)]
#[error("scripted model failed")]
struct ModelError;

/// The scripted model: the chunks of turn `turn`, as an OpenAI stream would send them.
fn scripted_model(turn: usize) -> impl futures::Stream<Item = Result<OpenAiChatChunk, ModelError>> {
    let chunks = match turn {
        0 => vec![
            json!({"id": "chatcmpl-1", "model": "gpt-4o-2024-08-06", "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Let me check "}}]}),
            json!({"id": "chatcmpl-1", "choices": [{"index": 0, "delta": {"content": "the weather."}}]}),
            json!({"id": "chatcmpl-1", "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": "call_1", "function": {"name": "get_weather", "arguments": "{\"city\":"}}]}}]}),
            json!({"id": "chatcmpl-1", "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": "\"Zürich\"}"}}]}}]}),
            json!({"id": "chatcmpl-1", "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}),
            json!({"id": "chatcmpl-1", "choices": [], "usage": {"prompt_tokens": 48, "completion_tokens": 19}}),
        ],
        _ => vec![
            json!({"id": "chatcmpl-2", "model": "gpt-4o-2024-08-06", "choices": [{"index": 0, "delta": {"content": "It is sunny "}}]}),
            json!({"id": "chatcmpl-2", "choices": [{"index": 0, "delta": {"content": "in Zürich, 21 °C."}, "finish_reason": "stop"}]}),
            json!({"id": "chatcmpl-2", "choices": [], "usage": {"prompt_tokens": 81, "completion_tokens": 11}}),
        ],
    };
    futures::stream::iter(chunks.into_iter().map(|c| Ok(OpenAiChatChunk(c))))
}

fn get_weather(args: &Value) -> Value {
    json!({"city": args["city"], "sky": "sunny", "celsius": 21})
}

async fn run_agent(inst: &Instrumentation) -> Result<String, ModelError> {
    let tools = vec![ToolDefinition::function(
        "get_weather",
        Some("Current weather for a city".into()),
        Some(json!({"type": "object", "properties": {"city": {"type": "string"}}})),
    )];
    let mut messages = vec![ChatMessage::from_text(
        Role::User,
        "What is the weather in Zürich?",
    )];
    emit::agent_start("weather-agent", vec![]);
    for turn in 0..2 {
        let mut span = inst
            .chat("gpt-4o")
            .provider("openai")
            .server("api.openai.com", 443)
            .temperature(0.2)
            .stream(true)
            .start();
        span.record_request(&RequestContent {
            system_instructions: None,
            messages: messages.clone(),
            tools: tools.clone(),
        });
        let mut stream = span.trace_stream(scripted_model(turn));
        let mut index = 0;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            if let Some(text) = agentrace_sdk::ModelChunk::text_delta(&chunk) {
                // On the chat span (a synchronous section: the guard never crosses an await).
                let _guard = stream.context().clone().attach();
                emit::model_response_chunk(text, index, vec![]);
                index += 1;
            }
        }
        let output = stream.output().clone();
        drop(stream);
        let Some(choice) = output.choices.first() else {
            break;
        };
        if choice.tool_calls.is_empty() {
            emit::agent_complete("weather-agent", Some(json!(choice.text)), vec![]);
            return Ok(choice.text.clone());
        }
        // Run the tools the model asked for, each in an execute_tool span.
        let mut parts = vec![Part::text(choice.text.clone())];
        let mut results = Vec::new();
        for call in &choice.tool_calls {
            let args: Value = serde_json::from_str(&call.arguments).unwrap_or(Value::Null);
            let id = call.id.clone().unwrap_or_default();
            emit::tool_call(
                &call.name,
                &id,
                Some(args.clone()),
                Some(turn as u64),
                vec![],
            );
            let mut tool = inst
                .execute_tool(call.name.clone())
                .tool_call_id(id.clone())
                .tool_type("function")
                .start();
            tool.record_tool_call_arguments(&args);
            let result = tool.in_scope(|| get_weather(&args));
            tool.record_tool_call_result(&result);
            tool.end();
            emit::tool_result(
                &call.name,
                &id,
                Some(result.clone()),
                Some(turn as u64),
                vec![],
            );
            parts.push(Part::tool_call(
                Some(id.clone()),
                call.name.clone(),
                Some(args),
            ));
            results.push(ChatMessage::new(
                Role::Tool,
                vec![Part::tool_call_response(Some(id), result)],
            ));
        }
        messages.push(ChatMessage::new(Role::Assistant, parts));
        messages.extend(results);
    }
    Ok(String::new())
}

fn print_tree(spans: &[SpanData]) {
    let mut spans: Vec<&SpanData> = spans.iter().collect();
    spans.sort_by_key(|s| s.start_time);
    fn walk(spans: &[&SpanData], parent: SpanId, depth: usize) {
        for s in spans.iter().filter(|s| s.parent_span_id == parent) {
            let kind = match s.span_kind {
                SpanKind::Client => "CLIENT",
                _ => "INTERNAL",
            };
            let status = if matches!(s.status, Status::Error { .. }) {
                " ERROR"
            } else {
                ""
            };
            let ms = s
                .end_time
                .duration_since(s.start_time)
                .unwrap_or_default()
                .as_secs_f64()
                * 1e3;
            println!(
                "{}{} [{kind}]{status} {ms:.2} ms",
                "  ".repeat(depth),
                s.name
            );
            for kv in &s.attributes {
                let mut value = kv.value.as_str().into_owned();
                if value.chars().count() > 70 {
                    value = value.chars().take(70).collect::<String>() + "…";
                }
                println!("{}  · {} = {value}", "  ".repeat(depth), kv.key);
            }
            walk(spans, s.span_context.span_id(), depth + 1);
        }
    }
    walk(&spans, SpanId::INVALID, 0);
}

fn main() -> ExitCode {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let inst = Instrumentation::builder()
        .with_tracer_provider(&provider)
        .with_capture(CaptureSettings::from_values(
            Some("SPAN_ONLY"),
            Some("gen_ai_latest_experimental"),
            None,
        ))
        .build();
    let Ok(rt) = tokio::runtime::Builder::new_current_thread().build() else {
        println!("could not start a runtime");
        return ExitCode::from(2);
    };
    let mut live = EventStream::scoped();
    let agent = live.in_scope(|| {
        inst.invoke_agent("weather-agent")
            .kind(SpanKind::Internal)
            .provider("openai")
            .request_model("gpt-4o")
            .start()
    });
    let answer = rt.block_on(agent.instrument(run_agent(&inst)));
    agent.end();
    let answer = match answer {
        Ok(a) => a,
        Err(e) => {
            println!("agent failed: {e}");
            return ExitCode::from(1);
        }
    };
    println!("answer: {answer}\n");
    println!("span tree:");
    print_tree(&exporter.get_finished_spans().unwrap_or_default());
    println!("\nlive events:");
    for item in live.drain() {
        if let LiveItem::Event(e) = item {
            println!(
                "  {} in '{}' {:?}",
                e.name,
                e.span_name,
                e.attributes
                    .iter()
                    .map(|a| a.key.as_str())
                    .collect::<Vec<_>>()
            );
        }
    }
    ExitCode::SUCCESS
}
