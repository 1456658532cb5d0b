//! Hooks: the session > action > chat tree across tasks and threads; failing hooks are contained.

use std::sync::Arc;

use agentrace_sdk::Usage;
use agentrace_sdk::hooks::{
    ComponentHook, ComponentPayload, GenerationHook, GenerationRequest, GenerationResponse,
    HookError, HookResult, Plugin, PluginRegistry, SessionHook, SessionPayload, ToolPayload,
    TracingPlugin,
};

use crate::testkit::{Kit, tree};

struct Failing;
impl Plugin for Failing {
    fn name(&self) -> &str {
        "failing"
    }
    fn on_session(&self, _: &SessionHook) -> HookResult {
        Err(HookError("nope".into()))
    }
    fn on_component(&self, _: &ComponentHook) -> HookResult {
        panic!("plugin bug")
    }
}

fn session(id: &str) -> SessionPayload {
    SessionPayload {
        session_id: id.into(),
        provider: Some("openai".into()),
        attributes: vec![],
    }
}

fn component(id: &str) -> ComponentPayload {
    ComponentPayload {
        component_id: id.into(),
        session_id: Some("s1".into()),
        component_type: "Instruction".into(),
        attributes: vec![],
    }
}

#[test]
fn session_action_chat_tree_across_spawn_and_threads() {
    let kit = Kit::new();
    let registry = Arc::new(PluginRegistry::new());
    let tracing = Arc::new(TracingPlugin::new(&kit.inst));
    registry.register(Arc::clone(&tracing) as Arc<dyn Plugin>);
    registry.register(Arc::new(Failing));

    // The session starts on a thread of its own.
    let r = Arc::clone(&registry);
    std::thread::spawn(move || r.session(&SessionHook::PreInit(session("s1"))))
        .join()
        .unwrap();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let r = Arc::clone(&registry);
    rt.block_on(async move {
        // Each action runs on its own task.
        let mut tasks = Vec::new();
        for n in 0..2 {
            let r = Arc::clone(&r);
            tasks.push(tokio::spawn(async move {
                let cid = format!("c{n}");
                let gid = format!("g{n}");
                r.component(&ComponentHook::PreExecute(component(&cid)));
                r.generation(&GenerationHook::PreCall(GenerationRequest {
                    generation_id: gid.clone(),
                    component_id: Some(cid.clone()),
                    session_id: Some("s1".into()),
                    provider: Some("openai".into()),
                    model: "gpt-4o".into(),
                    stream: false,
                }));
                tokio::task::yield_now().await;
                r.generation(&GenerationHook::PostCall(GenerationResponse {
                    generation_id: gid,
                    response_id: Some(format!("resp_{n}")),
                    response_model: Some("gpt-4o-2024-08-06".into()),
                    finish_reasons: vec!["tool_calls".into()],
                    usage: Usage::new(10, 5),
                }));
                let tool = ToolPayload {
                    tool_call_id: format!("call_{n}"),
                    tool_name: "get_weather".into(),
                    component_id: Some(cid.clone()),
                    session_id: Some("s1".into()),
                };
                r.generation(&GenerationHook::ToolPreInvoke(tool.clone()));
                r.generation(&GenerationHook::ToolPostInvoke {
                    payload: tool,
                    error: None,
                });
                if n == 0 {
                    r.component(&ComponentHook::PostSuccess(component(&cid)));
                } else {
                    r.component(&ComponentHook::PostError {
                        payload: component(&cid),
                        error_type: "ValidationFailed".into(),
                        message: "requirement not met".into(),
                    });
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    });
    // ...and ends on yet another thread.
    let r = Arc::clone(&registry);
    std::thread::spawn(move || r.session(&SessionHook::Cleanup(session("s1"))))
        .join()
        .unwrap();

    assert_eq!(tracing.open_spans(), 0);
    // The failing plugin failed on every session and component hook and broke nothing.
    assert_eq!(registry.failures(), 2 + 4);
    assert!(
        registry
            .recent_failures()
            .iter()
            .any(|f| f.panicked && f.reason == "plugin bug")
    );

    let spans = kit.finished();
    let rendered = tree(&spans);
    assert_eq!(rendered.lines().next(), Some("session [internal]"));
    assert_eq!(rendered.matches("  action [internal]").count(), 2);
    assert_eq!(rendered.matches("    chat gpt-4o [client]").count(), 2);
    assert_eq!(
        rendered
            .matches("    execute_tool get_weather [internal]")
            .count(),
        2
    );
    assert_eq!(rendered.matches("action [internal] ERROR").count(), 1);
    // Same trace for everything; conversation id from the session on every chat.
    let trace = spans[0].span_context.trace_id();
    assert!(spans.iter().all(|s| s.span_context.trace_id() == trace));
    for s in spans.iter().filter(|s| s.name.starts_with("chat")) {
        assert_eq!(
            crate::testkit::attr(s, "gen_ai.conversation.id").map(|v| v.as_str().into_owned()),
            Some("s1".to_owned())
        );
    }
}

#[test]
fn unknown_ids_and_unregistered_plugins_are_harmless() {
    let kit = Kit::new();
    let registry = PluginRegistry::new();
    registry.register(Arc::new(TracingPlugin::new(&kit.inst)));
    registry.component(&ComponentHook::PostSuccess(component("never-started")));
    assert_eq!(registry.failures(), 1);
    assert!(registry.unregister("tracing"));
    registry.session(&SessionHook::PreInit(session("s")));
    assert!(kit.finished().is_empty());
}

/// One action on a tokio task, one on a std thread, run one after the other so that the
/// snapshot is deterministic; the session starts and ends on two more threads.
#[test]
fn session_tree_snapshot() {
    let kit = Kit::new();
    let registry = Arc::new(PluginRegistry::new());
    registry.register(Arc::new(TracingPlugin::new(&kit.inst)));
    let on_thread = |f: Box<dyn FnOnce() + Send>| std::thread::spawn(f).join().unwrap();

    let r = Arc::clone(&registry);
    on_thread(Box::new(move || {
        r.session(&SessionHook::PreInit(session("s1")))
    }));

    let action = |r: Arc<PluginRegistry>, n: usize, fail: bool| {
        let cid = format!("c{n}");
        r.component(&ComponentHook::PreExecute(component(&cid)));
        r.generation(&GenerationHook::PreCall(GenerationRequest {
            generation_id: format!("g{n}"),
            component_id: Some(cid.clone()),
            session_id: Some("s1".into()),
            provider: Some("openai".into()),
            model: "gpt-4o".into(),
            stream: true,
        }));
        if fail {
            r.generation(&GenerationHook::Error {
                generation_id: format!("g{n}"),
                error_type: "rate_limit_exceeded".into(),
                message: "429 Too Many Requests".into(),
            });
            r.component(&ComponentHook::PostError {
                payload: component(&cid),
                error_type: "rate_limit_exceeded".into(),
                message: "gave up".into(),
            });
        } else {
            r.generation(&GenerationHook::PostCall(GenerationResponse {
                generation_id: format!("g{n}"),
                response_id: Some("chatcmpl-1".into()),
                response_model: Some("gpt-4o-2024-08-06".into()),
                finish_reasons: vec!["tool_calls".into()],
                usage: Usage::new(10, 5),
            }));
            let tool = ToolPayload {
                tool_call_id: "call_1".into(),
                tool_name: "get_weather".into(),
                component_id: Some(cid.clone()),
                session_id: Some("s1".into()),
            };
            r.generation(&GenerationHook::ToolPreInvoke(tool.clone()));
            r.generation(&GenerationHook::ToolPostInvoke {
                payload: tool,
                error: None,
            });
            r.component(&ComponentHook::PostSuccess(component(&cid)));
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .unwrap();
    let r = Arc::clone(&registry);
    rt.block_on(async move {
        tokio::spawn(async move { action(r, 0, false) })
            .await
            .unwrap()
    });
    let r = Arc::clone(&registry);
    on_thread(Box::new(move || action(r, 1, true)));

    let r = Arc::clone(&registry);
    on_thread(Box::new(move || {
        r.session(&SessionHook::Cleanup(session("s1")))
    }));
    assert_eq!(registry.failures(), 0);
    check!("session_tree", kit.finished());
}
