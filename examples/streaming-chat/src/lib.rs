//! A streaming chat over a scripted model (no network, no keys): each answer arrives as OpenAI
//! chat-completion chunks through a [`TracedStream`](agentrace_sdk::TracedStream), whose
//! `chat` span records time to first chunk, usage and the streamed output when the stream ends.

use agentrace_sdk::{
    CaptureSettings, Instrumentation, ModelChunk, RequestContent, convert::OpenAiChatChunk,
};
use agentrace_semconv::{Role, message::ChatMessage};
use futures::StreamExt;
use opentelemetry::trace::SpanKind;
use serde_json::json;

/// The model name the scripted model reports.
pub const MODEL: &str = "scripted-chat";

/// The scripted model failed (it never does; the type is the stream's error).
#[derive(Debug, thiserror::Error)]
#[error("scripted model failed")]
pub struct ModelError;

/// Capture settings that put message content on spans.
pub fn capture() -> CaptureSettings {
    CaptureSettings::from_values(Some("SPAN_ONLY"), Some("gen_ai_latest_experimental"), None)
}

/// The scripted answer to a prompt, cut into words as a model streams tokens.
fn answer_to(prompt: &str) -> String {
    if prompt.to_lowercase().contains("haiku") {
        "Spans end in order, / queues hold what the wire cannot, / the server restarts.".into()
    } else {
        format!("You said \"{prompt}\"; I am a scripted model, so I agree.")
    }
}

/// The chunks of the scripted model's answer to `prompt`, as an OpenAI stream would send them.
pub fn scripted_model(
    turn: usize,
    prompt: &str,
) -> impl futures::Stream<Item = Result<OpenAiChatChunk, ModelError>> + use<> {
    let id = format!("chatcmpl-{turn}");
    let answer = answer_to(prompt);
    let mut chunks = vec![
        json!({"id": id, "model": MODEL, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}),
    ];
    for word in answer.split_inclusive(' ') {
        chunks.push(json!({"id": id, "choices": [{"index": 0, "delta": {"content": word}}]}));
    }
    chunks.push(json!({"id": id, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}));
    chunks.push(json!({"id": id, "choices": [], "usage": {"prompt_tokens": 12 + turn * 20, "completion_tokens": answer.split(' ').count()}}));
    futures::stream::iter(chunks.into_iter().map(|c| Ok(OpenAiChatChunk(c))))
}

/// Chats through `prompts`, keeping the conversation; each prompt is one `invoke_agent chat_agent`
/// span with a streamed `chat` span inside. Returns (prompt, streamed answer) pairs.
pub async fn run(
    inst: &Instrumentation,
    prompts: &[&str],
) -> Result<Vec<(String, String)>, ModelError> {
    let mut history: Vec<ChatMessage> = Vec::new();
    let mut turns = Vec::new();
    for (turn, prompt) in prompts.iter().enumerate() {
        history.push(ChatMessage::from_text(Role::User, *prompt));
        let agent = inst
            .invoke_agent("chat_agent")
            .kind(SpanKind::Internal)
            .request_model(MODEL)
            .start();
        let answer = agent
            .instrument(async {
                let mut chat = inst.chat(MODEL).provider("scripted").stream(true).start();
                chat.record_request(&RequestContent {
                    system_instructions: None,
                    messages: history.clone(),
                    tools: Vec::new(),
                });
                let mut stream = chat.trace_stream(scripted_model(turn, prompt));
                let mut text = String::new();
                while let Some(chunk) = stream.next().await {
                    if let Some(delta) = chunk?.text_delta() {
                        text.push_str(delta);
                    }
                }
                Ok::<_, ModelError>(text)
            })
            .await;
        agent.end();
        let answer = answer?;
        history.push(ChatMessage::from_text(Role::Assistant, answer.clone()));
        turns.push(((*prompt).to_owned(), answer));
    }
    Ok(turns)
}
