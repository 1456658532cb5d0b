//! Hooks (seed 003): a plugin registry that an agent framework calls at session, component and
//! generation boundaries, and a [`TracingPlugin`] that turns those calls into a
//! `session > action > chat {model}` span tree (with `execute_tool` spans).
//!
//! Every payload carries a correlation id (`session_id`, `component_id`, `generation_id`,
//! `tool_call_id`), so a start and its end may be reported from different tasks or threads: the
//! plugin keeps each open span's [`Context`] (never a guard) keyed by that id. A hook that returns
//! an error or panics is counted and skipped; it never breaks the application.

use std::collections::HashMap;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use agentrace_semconv::attr;
use opentelemetry::trace::{SpanKind, Status, TraceContextExt};
use opentelemetry::{Context, KeyValue};
use parking_lot::{Mutex, RwLock};

use crate::instrumentation::Instrumentation;
use crate::span::{GenAiSpan, Usage};

/// A hook's failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct HookError(pub String);

/// What a hook returns.
pub type HookResult = Result<(), HookError>;

/// A session's identity and description.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SessionPayload {
    /// Correlation id of the session (also its `gen_ai.conversation.id`).
    pub session_id: String,
    /// The provider the session talks to, if fixed.
    pub provider: Option<String>,
    /// Extra attributes for the session span.
    pub attributes: Vec<KeyValue>,
}

/// Session hooks.
#[derive(Debug, Clone, PartialEq)]
pub enum SessionHook {
    /// Before the session is initialised.
    PreInit(SessionPayload),
    /// After the session is initialised.
    PostInit(SessionPayload),
    /// The session's context was reset.
    Reset(SessionPayload),
    /// The session is cleaned up (its end).
    Cleanup(SessionPayload),
}

/// A component (an "action": a step of the agent) being executed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ComponentPayload {
    /// Correlation id of this execution.
    pub component_id: String,
    /// The session it belongs to, if any.
    pub session_id: Option<String>,
    /// The component's type (e.g. `Instruction`, `Plan`).
    pub component_type: String,
    /// Extra attributes for the action span.
    pub attributes: Vec<KeyValue>,
}

/// Component hooks.
#[derive(Debug, Clone, PartialEq)]
pub enum ComponentHook {
    /// Before the component executes.
    PreExecute(ComponentPayload),
    /// The component succeeded.
    PostSuccess(ComponentPayload),
    /// The component failed.
    PostError {
        /// The component.
        payload: ComponentPayload,
        /// A low-cardinality error type.
        error_type: String,
        /// The error message.
        message: String,
    },
}

/// A model call about to be made.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GenerationRequest {
    /// Correlation id of this call.
    pub generation_id: String,
    /// The component that made it, if any.
    pub component_id: Option<String>,
    /// The session it belongs to, if any.
    pub session_id: Option<String>,
    /// `gen_ai.provider.name`.
    pub provider: Option<String>,
    /// `gen_ai.request.model`.
    pub model: String,
    /// Whether the response is streamed.
    pub stream: bool,
}

/// A model call's result.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GenerationResponse {
    /// Correlation id of the call.
    pub generation_id: String,
    /// `gen_ai.response.id`.
    pub response_id: Option<String>,
    /// `gen_ai.response.model`.
    pub response_model: Option<String>,
    /// `gen_ai.response.finish_reasons`.
    pub finish_reasons: Vec<String>,
    /// Token usage.
    pub usage: Usage,
}

/// A tool invocation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ToolPayload {
    /// Correlation id (the tool call id).
    pub tool_call_id: String,
    /// The tool's name.
    pub tool_name: String,
    /// The component that invoked it, if any.
    pub component_id: Option<String>,
    /// The session, if any.
    pub session_id: Option<String>,
}

/// Generation (and tool) hooks.
#[derive(Debug, Clone, PartialEq)]
pub enum GenerationHook {
    /// Before a model call.
    PreCall(GenerationRequest),
    /// After a model call.
    PostCall(GenerationResponse),
    /// A model call failed.
    Error {
        /// Correlation id of the call.
        generation_id: String,
        /// A low-cardinality error type.
        error_type: String,
        /// The error message.
        message: String,
    },
    /// Before a tool runs.
    ToolPreInvoke(ToolPayload),
    /// After a tool ran; `error` is set if it failed.
    ToolPostInvoke {
        /// The tool call.
        payload: ToolPayload,
        /// `(error_type, message)` if the tool failed.
        error: Option<(String, String)>,
    },
}

/// A plugin: implement the hooks you care about.
pub trait Plugin: Send + Sync {
    /// A unique name (for [`PluginRegistry::unregister`]).
    fn name(&self) -> &str;
    /// Lower runs first. Default 1000.
    fn priority(&self) -> i32 {
        1000
    }
    /// Session hooks.
    fn on_session(&self, hook: &SessionHook) -> HookResult {
        let _ = hook;
        Ok(())
    }
    /// Component hooks.
    fn on_component(&self, hook: &ComponentHook) -> HookResult {
        let _ = hook;
        Ok(())
    }
    /// Generation and tool hooks.
    fn on_generation(&self, hook: &GenerationHook) -> HookResult {
        let _ = hook;
        Ok(())
    }
}

/// A hook that failed, as remembered by the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookFailure {
    /// The plugin's name.
    pub plugin: String,
    /// Why: the returned error, or the panic message.
    pub reason: String,
    /// Whether it panicked.
    pub panicked: bool,
}

const MAX_REMEMBERED_FAILURES: usize = 64;

/// The registry the framework dispatches hooks through.
#[derive(Default)]
pub struct PluginRegistry {
    plugins: RwLock<Vec<Arc<dyn Plugin>>>,
    failures: AtomicU64,
    recent: Mutex<Vec<HookFailure>>,
}

impl fmt::Debug for PluginRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<String> = self
            .plugins
            .read()
            .iter()
            .map(|p| p.name().to_owned())
            .collect();
        f.debug_struct("PluginRegistry")
            .field("plugins", &names)
            .field("failures", &self.failures.load(Ordering::Relaxed))
            .finish()
    }
}

impl PluginRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a plugin (replacing one of the same name), kept in priority order.
    pub fn register(&self, plugin: Arc<dyn Plugin>) {
        let mut plugins = self.plugins.write();
        plugins.retain(|p| p.name() != plugin.name());
        plugins.push(plugin);
        plugins.sort_by_key(|p| p.priority());
    }

    /// Removes a plugin by name; returns whether one was removed.
    pub fn unregister(&self, name: &str) -> bool {
        let mut plugins = self.plugins.write();
        let before = plugins.len();
        plugins.retain(|p| p.name() != name);
        plugins.len() != before
    }

    /// Number of hook calls that failed (returned an error or panicked).
    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }

    /// The most recent failures (at most 64).
    pub fn recent_failures(&self) -> Vec<HookFailure> {
        self.recent.lock().clone()
    }

    fn dispatch(&self, call: impl Fn(&dyn Plugin) -> HookResult) {
        // Snapshot so that a hook may register or unregister plugins without deadlocking.
        let plugins: Vec<Arc<dyn Plugin>> = self.plugins.read().clone();
        for plugin in plugins {
            let outcome = catch_unwind(AssertUnwindSafe(|| call(plugin.as_ref())));
            let failure = match outcome {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some((e.0, false)),
                Err(panic) => Some((panic_message(panic.as_ref()), true)),
            };
            if let Some((reason, panicked)) = failure {
                self.failures.fetch_add(1, Ordering::Relaxed);
                let mut recent = self.recent.lock();
                if recent.len() == MAX_REMEMBERED_FAILURES {
                    recent.remove(0);
                }
                recent.push(HookFailure {
                    plugin: plugin.name().to_owned(),
                    reason,
                    panicked,
                });
            }
        }
    }

    /// Dispatches a session hook.
    pub fn session(&self, hook: &SessionHook) {
        self.dispatch(|p| p.on_session(hook));
    }

    /// Dispatches a component hook.
    pub fn component(&self, hook: &ComponentHook) {
        self.dispatch(|p| p.on_component(hook));
    }

    /// Dispatches a generation or tool hook.
    pub fn generation(&self, hook: &GenerationHook) {
        self.dispatch(|p| p.on_generation(hook));
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic".to_owned()
    }
}

/// Span name of a session.
pub const SESSION_SPAN: &str = "session";
/// Span name of an action (a component execution).
pub const ACTION_SPAN: &str = "action";
/// Attribute holding the component type on an action span.
pub const COMPONENT_TYPE: &str = "agentrace.component.type";

/// The plugin that turns hooks into spans: `session` (root or child of the context current at
/// `PreInit`), `action` under its session, `chat {model}` under its action (or session), and
/// `execute_tool {name}` under its action. `gen_ai.conversation.id` is the session id.
pub struct TracingPlugin {
    inst: Instrumentation,
    sessions: Mutex<HashMap<String, Context>>,
    actions: Mutex<HashMap<String, Context>>,
    generations: Mutex<HashMap<String, GenAiSpan>>,
    tools: Mutex<HashMap<String, GenAiSpan>>,
}

impl fmt::Debug for TracingPlugin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TracingPlugin")
            .field("open_sessions", &self.sessions.lock().len())
            .field("open_actions", &self.actions.lock().len())
            .field("open_generations", &self.generations.lock().len())
            .field("open_tools", &self.tools.lock().len())
            .finish()
    }
}

impl TracingPlugin {
    /// A tracing plugin emitting through `inst`.
    pub fn new(inst: &Instrumentation) -> Self {
        Self {
            inst: inst.clone(),
            sessions: Mutex::default(),
            actions: Mutex::default(),
            generations: Mutex::default(),
            tools: Mutex::default(),
        }
    }

    /// The context of an open session (to run work under it, `FutureExt::with_context`).
    pub fn session_context(&self, session_id: &str) -> Option<Context> {
        self.sessions.lock().get(session_id).cloned()
    }

    /// The context of an open action.
    pub fn component_context(&self, component_id: &str) -> Option<Context> {
        self.actions.lock().get(component_id).cloned()
    }

    /// The context of an open model call.
    pub fn generation_context(&self, generation_id: &str) -> Option<Context> {
        self.generations
            .lock()
            .get(generation_id)
            .map(|s| s.context().clone())
    }

    /// How many spans are open (sessions, actions, generations, tools).
    pub fn open_spans(&self) -> usize {
        self.sessions.lock().len()
            + self.actions.lock().len()
            + self.generations.lock().len()
            + self.tools.lock().len()
    }

    fn parent_for(&self, component_id: Option<&str>, session_id: Option<&str>) -> Context {
        if let Some(cx) = component_id.and_then(|id| self.component_context(id)) {
            return cx;
        }
        if let Some(cx) = session_id.and_then(|id| self.session_context(id)) {
            return cx;
        }
        Context::current()
    }
}

fn end_with(cx: &Context, error: Option<(&str, &str)>) {
    let span = cx.span();
    if let Some((ty, message)) = error {
        span.set_attribute(KeyValue::new(attr::ERROR_TYPE, ty.to_owned()));
        span.add_event(
            "exception",
            vec![
                KeyValue::new(attr::EXCEPTION_TYPE, ty.to_owned()),
                KeyValue::new(attr::EXCEPTION_MESSAGE, message.to_owned()),
            ],
        );
        span.set_status(Status::error(message.to_owned()));
    }
    span.end();
}

impl Plugin for TracingPlugin {
    fn name(&self) -> &str {
        "tracing"
    }

    fn priority(&self) -> i32 {
        100
    }

    fn on_session(&self, hook: &SessionHook) -> HookResult {
        match hook {
            SessionHook::PreInit(p) => {
                let mut attributes = vec![
                    KeyValue::new(attr::SESSION_ID, p.session_id.clone()),
                    KeyValue::new(attr::GEN_AI_CONVERSATION_ID, p.session_id.clone()),
                ];
                if let Some(provider) = &p.provider {
                    attributes.push(KeyValue::new(attr::GEN_AI_PROVIDER_NAME, provider.clone()));
                }
                attributes.extend(p.attributes.iter().cloned());
                let cx = self.inst.start_plain(
                    SESSION_SPAN.to_owned(),
                    SpanKind::Internal,
                    attributes,
                    &Context::current(),
                );
                if let Some(old) = self.sessions.lock().insert(p.session_id.clone(), cx) {
                    end_with(&old, None);
                }
                Ok(())
            }
            SessionHook::PostInit(_) | SessionHook::Reset(_) => Ok(()),
            SessionHook::Cleanup(p) => {
                let cx = self.sessions.lock().remove(&p.session_id);
                match cx {
                    Some(cx) => {
                        end_with(&cx, None);
                        Ok(())
                    }
                    None => Err(HookError(format!("unknown session {}", p.session_id))),
                }
            }
        }
    }

    fn on_component(&self, hook: &ComponentHook) -> HookResult {
        match hook {
            ComponentHook::PreExecute(p) => {
                let parent = self.parent_for(None, p.session_id.as_deref());
                let mut attributes = vec![KeyValue::new(COMPONENT_TYPE, p.component_type.clone())];
                if let Some(s) = &p.session_id {
                    attributes.push(KeyValue::new(attr::GEN_AI_CONVERSATION_ID, s.clone()));
                }
                attributes.extend(p.attributes.iter().cloned());
                let cx = self.inst.start_plain(
                    ACTION_SPAN.to_owned(),
                    SpanKind::Internal,
                    attributes,
                    &parent,
                );
                self.actions.lock().insert(p.component_id.clone(), cx);
                Ok(())
            }
            ComponentHook::PostSuccess(p) => {
                let cx = self.actions.lock().remove(&p.component_id);
                let cx =
                    cx.ok_or_else(|| HookError(format!("unknown component {}", p.component_id)))?;
                end_with(&cx, None);
                Ok(())
            }
            ComponentHook::PostError {
                payload,
                error_type,
                message,
            } => {
                let cx = self.actions.lock().remove(&payload.component_id);
                let cx = cx.ok_or_else(|| {
                    HookError(format!("unknown component {}", payload.component_id))
                })?;
                end_with(&cx, Some((error_type, message)));
                Ok(())
            }
        }
    }

    fn on_generation(&self, hook: &GenerationHook) -> HookResult {
        match hook {
            GenerationHook::PreCall(r) => {
                let parent = self.parent_for(r.component_id.as_deref(), r.session_id.as_deref());
                let mut builder = self
                    .inst
                    .chat(r.model.clone())
                    .parent(&parent)
                    .stream(r.stream);
                if let Some(p) = &r.provider {
                    builder = builder.provider(p.clone());
                }
                if let Some(s) = &r.session_id {
                    builder = builder.conversation_id(s.clone());
                }
                let span = builder.start();
                self.generations
                    .lock()
                    .insert(r.generation_id.clone(), span);
                Ok(())
            }
            GenerationHook::PostCall(r) => {
                let span = self.generations.lock().remove(&r.generation_id);
                let mut span = span
                    .ok_or_else(|| HookError(format!("unknown generation {}", r.generation_id)))?;
                if let Some(id) = &r.response_id {
                    span.set_response_id(id.clone());
                }
                if let Some(m) = &r.response_model {
                    span.set_response_model(m.clone());
                }
                if !r.finish_reasons.is_empty() {
                    span.set_finish_reasons(r.finish_reasons.iter().cloned());
                }
                if !r.usage.is_empty() {
                    span.record_usage(&r.usage);
                }
                span.end();
                Ok(())
            }
            GenerationHook::Error {
                generation_id,
                error_type,
                message,
            } => {
                let span = self.generations.lock().remove(generation_id);
                let mut span =
                    span.ok_or_else(|| HookError(format!("unknown generation {generation_id}")))?;
                span.record_error_as(error_type.clone(), message);
                span.end();
                Ok(())
            }
            GenerationHook::ToolPreInvoke(t) => {
                let parent = self.parent_for(t.component_id.as_deref(), t.session_id.as_deref());
                let span = self
                    .inst
                    .execute_tool(t.tool_name.clone())
                    .tool_call_id(t.tool_call_id.clone())
                    .parent(&parent)
                    .start();
                self.tools.lock().insert(t.tool_call_id.clone(), span);
                Ok(())
            }
            GenerationHook::ToolPostInvoke { payload, error } => {
                let span = self.tools.lock().remove(&payload.tool_call_id);
                let mut span = span.ok_or_else(|| {
                    HookError(format!("unknown tool call {}", payload.tool_call_id))
                })?;
                if let Some((ty, message)) = error {
                    span.record_error_as(ty.clone(), message);
                }
                span.end();
                Ok(())
            }
        }
    }
}
