//! A multi-agent session built with agentrace-sdk's hooks: a planner delegates to two
//! tool-using agents (weather and currency) that run concurrently in tokio tasks, then combines
//! their answers. The framework side of the code only calls the [`PluginRegistry`]; the
//! [`TracingPlugin`] turns the calls into `session > action (planner) > action (agents) > chat /
//! execute_tool` spans, each carried across tasks by its correlation id. The scripted models
//! need no network.

use std::sync::Arc;

use agentrace_sdk::{
    CaptureSettings, Instrumentation, Usage,
    hooks::{
        ComponentHook, ComponentPayload, GenerationHook, GenerationRequest, GenerationResponse,
        PluginRegistry, SessionHook, SessionPayload, ToolPayload, TracingPlugin,
    },
};
use agentrace_semconv::attr::{
    GEN_AI_AGENT_NAME, GEN_AI_INPUT_MESSAGES, GEN_AI_OPERATION_NAME, GEN_AI_OUTPUT_MESSAGES,
};
use opentelemetry::{KeyValue, context::FutureExt, trace::TraceContextExt};
use serde_json::{Value, json};

/// The model name of the scripted models.
pub const MODEL: &str = "scripted-planner";

/// Capture settings that put message content on spans.
pub fn capture() -> CaptureSettings {
    CaptureSettings::from_values(Some("SPAN_ONLY"), Some("gen_ai_latest_experimental"), None)
}

/// What one delegated agent did.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentRun {
    /// The agent's name.
    pub agent: String,
    /// The tool it called and its arguments.
    pub tool: (String, Value),
    /// Its answer to the planner.
    pub answer: String,
}

/// What the session did: the request, each agent's run and the planner's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The user's request.
    pub request: String,
    /// The delegated runs, weather first.
    pub runs: Vec<AgentRun>,
    /// The planner's final answer.
    pub answer: String,
}

/// The hooks and the plugin that traces them.
#[derive(Clone)]
pub struct Framework {
    registry: Arc<PluginRegistry>,
    tracing: Arc<TracingPlugin>,
}

impl std::fmt::Debug for Framework {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Framework")
            .field("tracing", &self.tracing)
            .finish()
    }
}

impl Framework {
    /// A registry with the tracing plugin of `inst` registered.
    pub fn new(inst: &Instrumentation) -> Self {
        let registry = Arc::new(PluginRegistry::new());
        let tracing = Arc::new(TracingPlugin::new(inst));
        registry.register(Arc::clone(&tracing) as Arc<dyn agentrace_sdk::hooks::Plugin>);
        Self { registry, tracing }
    }

    /// Hook failures so far (none in this example).
    pub fn failures(&self) -> u64 {
        self.registry.failures()
    }

    /// Spans the plugin still holds open (none after a session).
    pub fn open_spans(&self) -> usize {
        self.tracing.open_spans()
    }

    fn agent_action(&self, id: &str, name: &str, session: Option<&str>) {
        self.registry
            .component(&ComponentHook::PreExecute(ComponentPayload {
                component_id: id.to_owned(),
                session_id: session.map(str::to_owned),
                component_type: "Agent".into(),
                attributes: vec![
                    KeyValue::new(GEN_AI_OPERATION_NAME, "invoke_agent"),
                    KeyValue::new(GEN_AI_AGENT_NAME, name.to_owned()),
                ],
            }));
    }

    fn action_done(&self, id: &str) {
        self.registry
            .component(&ComponentHook::PostSuccess(ComponentPayload {
                component_id: id.to_owned(),
                ..ComponentPayload::default()
            }));
    }

    /// One scripted model call inside component `component`, with its content on the span.
    fn model_call(&self, generation_id: &str, component: &str, input: &Value, output: &Value) {
        self.registry
            .generation(&GenerationHook::PreCall(GenerationRequest {
                generation_id: generation_id.to_owned(),
                component_id: Some(component.to_owned()),
                provider: Some("scripted".into()),
                model: MODEL.into(),
                ..GenerationRequest::default()
            }));
        if let Some(cx) = self.tracing.generation_context(generation_id) {
            cx.span()
                .set_attribute(KeyValue::new(GEN_AI_INPUT_MESSAGES, input.to_string()));
            cx.span()
                .set_attribute(KeyValue::new(GEN_AI_OUTPUT_MESSAGES, output.to_string()));
        }
        self.registry
            .generation(&GenerationHook::PostCall(GenerationResponse {
                generation_id: generation_id.to_owned(),
                response_model: Some(MODEL.into()),
                finish_reasons: vec!["stop".into()],
                usage: Usage::new(30, 12),
                ..GenerationResponse::default()
            }));
    }
}

fn text(role: &str, content: &str) -> Value {
    json!({"role": role, "parts": [{"type": "text", "content": content}]})
}

fn answer(content: &str, finish: &str) -> Value {
    json!([{"role": "assistant", "parts": [{"type": "text", "content": content}], "finish_reason": finish}])
}

fn tool(name: &str, args: &Value) -> Value {
    match name {
        "get_weather" => json!({"city": args["city"], "sky": "sunny", "celsius": 24}),
        "convert_currency" => {
            let amount = args["amount"].as_f64().unwrap_or_default();
            json!({"amount": amount, "from": args["from"], "to": args["to"], "result": (amount * 0.92 * 100.0).round() / 100.0})
        }
        _ => json!({"error": "unknown tool"}),
    }
}

/// A delegated agent: one model call that asks for its tool, the tool, one model call that
/// answers. Runs in its own task, under the planner's action.
async fn delegated(
    fw: Framework,
    agent: &'static str,
    task: String,
    call: (String, Value),
) -> AgentRun {
    let id = format!("{agent}-action");
    fw.agent_action(&id, agent, None);
    let (name, args) = call;
    let call_id = format!("call-{agent}");
    let request = json!([text("user", &task)]);
    let ask = json!([{"role": "assistant", "parts": [{"type": "tool_call", "id": call_id, "name": name, "arguments": args}], "finish_reason": "tool_call"}]);
    fw.model_call(&format!("{agent}-gen-1"), &id, &request, &ask);
    // The tool runs on another task of the runtime: its span finds its parent by the ids.
    let tool_payload = ToolPayload {
        tool_call_id: call_id.clone(),
        tool_name: name.clone(),
        component_id: Some(id.clone()),
        session_id: None,
    };
    fw.registry
        .generation(&GenerationHook::ToolPreInvoke(tool_payload.clone()));
    let result = {
        let (name, args) = (name.clone(), args.clone());
        tokio::spawn(async move { tool(&name, &args) })
            .await
            .unwrap_or(Value::Null)
    };
    fw.registry.generation(&GenerationHook::ToolPostInvoke {
        payload: tool_payload,
        error: None,
    });
    let reply = match agent {
        "weather_agent" => format!(
            "It is {} and {} °C in {}.",
            result["sky"].as_str().unwrap_or("?"),
            result["celsius"],
            result["city"].as_str().unwrap_or("?")
        ),
        _ => format!(
            "{} {} is {} {}.",
            result["amount"],
            result["from"].as_str().unwrap_or("?"),
            result["result"],
            result["to"].as_str().unwrap_or("?")
        ),
    };
    let mut history = request.as_array().cloned().unwrap_or_default();
    history.extend(ask.as_array().cloned().unwrap_or_default());
    history.push(json!({"role": "tool", "parts": [{"type": "tool_call_response", "id": call_id, "response": result}]}));
    fw.model_call(
        &format!("{agent}-gen-2"),
        &id,
        &Value::Array(history),
        &answer(&reply, "stop"),
    );
    fw.action_done(&id);
    AgentRun {
        agent: agent.to_owned(),
        tool: (name, args),
        answer: reply,
    }
}

/// Runs one planning session for `request` ("trip to CITY with AMOUNT EUR").
pub async fn run(
    fw: &Framework,
    session_id: &str,
    request: &str,
    city: &str,
    amount: f64,
) -> Outcome {
    fw.registry.session(&SessionHook::PreInit(SessionPayload {
        session_id: session_id.to_owned(),
        provider: Some("scripted".into()),
        attributes: Vec::new(),
    }));
    let planner = "planner-action";
    fw.agent_action(planner, "planner", Some(session_id));
    let plan = format!("Delegating: weather in {city}, and {amount} EUR in USD.");
    fw.model_call(
        "planner-gen-1",
        planner,
        &json!([text("user", request)]),
        &answer(&plan, "stop"),
    );
    // The two agents run concurrently, each in its own task, under the planner's action.
    let planner_cx = fw.tracing.component_context(planner).unwrap_or_default();
    let weather = tokio::spawn(
        delegated(
            fw.clone(),
            "weather_agent",
            format!("Weather in {city}?"),
            ("get_weather".into(), json!({"city": city})),
        )
        .with_context(planner_cx.clone()),
    );
    let currency = tokio::spawn(
        delegated(
            fw.clone(),
            "currency_agent",
            format!("{amount} EUR in USD?"),
            (
                "convert_currency".into(),
                json!({"amount": amount, "from": "EUR", "to": "USD"}),
            ),
        )
        .with_context(planner_cx),
    );
    let mut runs = Vec::new();
    for handle in [weather, currency] {
        if let Ok(run) = handle.await {
            runs.push(run);
        }
    }
    let summary = format!(
        "Your trip to {city}: {} {}",
        runs.first().map_or("", |r| r.answer.as_str()),
        runs.get(1).map_or("", |r| r.answer.as_str())
    );
    let mut history = vec![text("user", request)];
    history.extend(
        answer(&plan, "stop")
            .as_array()
            .cloned()
            .unwrap_or_default(),
    );
    for run in &runs {
        history.push(text("user", &format!("{}: {}", run.agent, run.answer)));
    }
    fw.model_call(
        "planner-gen-2",
        planner,
        &Value::Array(history),
        &answer(&summary, "stop"),
    );
    fw.action_done(planner);
    fw.registry.session(&SessionHook::Cleanup(SessionPayload {
        session_id: session_id.to_owned(),
        ..SessionPayload::default()
    }));
    Outcome {
        request: request.to_owned(),
        runs,
        answer: summary,
    }
}
