//! A dice-rolling agent with a scripted model (no network, no keys): for each prompt the model
//! asks for `roll_die`, then `check_prime`, then answers. The agent writes GenAI spans through
//! agentrace-sdk (`invoke_agent dice_agent` > `chat scripted-dice` / `execute_tool ...`), with
//! message content on the spans, so the server can extract each turn.

use agentrace_sdk::{CaptureSettings, Instrumentation, RequestContent, ResponseContent, Usage};
use agentrace_semconv::{
    Role,
    enums::FinishReason,
    message::{ChatMessage, OutputMessage, Part, ToolDefinition},
};
use opentelemetry::trace::SpanKind;
use serde_json::{Value, json};

/// The model name the scripted model reports.
pub const MODEL: &str = "scripted-dice";

/// What the agent did in one turn: the prompt, its answer and the tools it called.
#[derive(Debug, Clone, PartialEq)]
pub struct Turn {
    /// The user's prompt.
    pub user: String,
    /// The agent's final answer.
    pub answer: String,
    /// Each tool call: name and arguments.
    pub tool_calls: Vec<(String, Value)>,
}

/// Capture settings that put message content on spans (the latest conventions, `SPAN_ONLY`).
pub fn capture() -> CaptureSettings {
    CaptureSettings::from_values(Some("SPAN_ONLY"), Some("gen_ai_latest_experimental"), None)
}

/// A deterministic die: a small linear congruential generator.
#[derive(Debug)]
pub struct Die(u64);

impl Die {
    /// A die with `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// Rolls a die with `sides` sides (at least 1).
    pub fn roll(&mut self, sides: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % sides.max(1) + 1
    }
}

fn is_prime(n: u64) -> bool {
    n >= 2
        && (2..n)
            .take_while(|d| d * d <= n)
            .all(|d| !n.is_multiple_of(d))
}

fn sides_of(prompt: &str) -> u64 {
    prompt
        .split(|c: char| !c.is_ascii_digit())
        .find_map(|w| w.parse().ok())
        .unwrap_or(6)
}

/// What the scripted model answers, given the conversation so far.
enum Reply {
    Call(&'static str, Value),
    Answer(String),
}

fn scripted_model(prompt: &str, messages: &[ChatMessage]) -> Reply {
    let results: Vec<&Value> = messages
        .iter()
        .filter(|m| m.role == Role::Tool)
        .flat_map(|m| m.parts.iter())
        .filter_map(|p| match p {
            Part::ToolCallResponse(part) => Some(&part.response),
            _ => None,
        })
        .collect();
    match results.as_slice() {
        [] => Reply::Call("roll_die", json!({"sides": sides_of(prompt)})),
        [roll] => Reply::Call("check_prime", json!({"nums": [roll["result"]]})),
        [roll, prime, ..] => {
            let n = roll["result"].as_u64().unwrap_or_default();
            let word = if prime["prime"].as_bool().unwrap_or(false) {
                "a prime"
            } else {
                "not a prime"
            };
            Reply::Answer(format!(
                "I rolled a {}-sided die and got {n}, which is {word}.",
                sides_of(prompt)
            ))
        }
    }
}

fn run_tool(die: &mut Die, name: &str, args: &Value) -> Value {
    match name {
        "roll_die" => json!({"result": die.roll(args["sides"].as_u64().unwrap_or(6))}),
        "check_prime" => {
            let n = args["nums"][0].as_u64().unwrap_or_default();
            json!({"prime": is_prime(n)})
        }
        other => json!({"error": format!("unknown tool {other}")}),
    }
}

fn tools() -> Vec<ToolDefinition> {
    vec![
        ToolDefinition::function(
            "roll_die",
            Some("Roll a die with the given number of sides".into()),
            Some(json!({"type": "object", "properties": {"sides": {"type": "integer"}}})),
        ),
        ToolDefinition::function(
            "check_prime",
            Some("Whether numbers are prime".into()),
            Some(json!({"type": "object", "properties": {"nums": {"type": "array"}}})),
        ),
    ]
}

/// Runs the agent over `prompts`, one `invoke_agent` span per prompt; returns what it did.
pub fn run(inst: &Instrumentation, prompts: &[&str], seed: u64) -> Vec<Turn> {
    let mut die = Die::new(seed);
    let mut turns = Vec::new();
    for (i, prompt) in prompts.iter().enumerate() {
        let agent = inst
            .invoke_agent("dice_agent")
            .kind(SpanKind::Internal)
            .request_model(MODEL)
            .start();
        let turn = agent.in_scope(|| one_turn(inst, &mut die, prompt, i));
        agent.end();
        turns.push(turn);
    }
    turns
}

fn one_turn(inst: &Instrumentation, die: &mut Die, prompt: &str, index: usize) -> Turn {
    let mut messages = vec![ChatMessage::from_text(Role::User, prompt)];
    let mut tool_calls = Vec::new();
    for step in 0..4 {
        let mut chat = inst.chat(MODEL).provider("scripted").start();
        chat.record_request(&RequestContent {
            system_instructions: None,
            messages: messages.clone(),
            tools: tools(),
        });
        let reply = scripted_model(prompt, &messages);
        let (parts, finish) = match &reply {
            Reply::Call(name, args) => (
                vec![Part::tool_call(
                    Some(format!("call_{index}_{step}")),
                    *name,
                    Some(args.clone()),
                )],
                FinishReason::ToolCall,
            ),
            Reply::Answer(text) => (vec![Part::text(text.clone())], FinishReason::Stop),
        };
        chat.record_response(&ResponseContent {
            id: Some(format!("resp_{index}_{step}")),
            model: Some(MODEL.into()),
            messages: vec![OutputMessage::new(Role::Assistant, parts.clone(), finish)],
            usage: Usage::new(20 + 10 * step as u64, 8),
            finish_reasons: Vec::new(),
        });
        chat.end();
        match reply {
            Reply::Answer(answer) => {
                return Turn {
                    user: prompt.to_owned(),
                    answer,
                    tool_calls,
                };
            }
            Reply::Call(name, args) => {
                let id = format!("call_{index}_{step}");
                let mut tool = inst
                    .execute_tool(name)
                    .tool_call_id(id.clone())
                    .tool_type("function")
                    .start();
                tool.record_tool_call_arguments(&args);
                let result = tool.in_scope(|| run_tool(die, name, &args));
                tool.record_tool_call_result(&result);
                tool.end();
                tool_calls.push((name.to_owned(), args));
                messages.push(ChatMessage::new(Role::Assistant, parts));
                messages.push(ChatMessage::new(
                    Role::Tool,
                    vec![Part::tool_call_response(Some(id), result)],
                ));
            }
        }
    }
    Turn {
        user: prompt.to_owned(),
        answer: String::new(),
        tool_calls,
    }
}
