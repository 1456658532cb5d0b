//! End to end: the multi-agent session streams to a real `agentrace serve` (in-process on
//! 127.0.0.1:0); the server's invocation is the planner's turn with both agents' tool calls, and
//! the span tree nests the agents under the planner although they ran in other tasks.

#![allow(clippy::unwrap_used, missing_docs)]

use std::collections::HashMap;

use agentrace_sdk::Instrumentation;
use agentrace_server::{Server, ServerConfig};
use agentrace_stream::{SessionOptions, session};
use example_multi_agent::Framework;
use serde_json::Value;

async fn spans(base: &str, session: &str) -> Vec<Value> {
    let body: Value = reqwest::get(format!("{base}/api/sessions/{session}/spans"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["spans"].as_array().cloned().unwrap()
}

fn attr<'a>(span: &'a Value, key: &str) -> Option<&'a str> {
    span["attributes"]
        .as_array()?
        .iter()
        .find(|a| a["key"] == key)?
        .pointer("/value/stringValue")?
        .as_str()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_planner_turn_has_both_agents_tool_calls() {
    let config = ServerConfig::ephemeral().build().unwrap();
    let server = Server::start(config).await.unwrap();
    let base = format!("http://{}", server.main_addr());
    let session = session(SessionOptions::builder(&base).with_name("multi").build())
        .await
        .unwrap();
    let id = session.id().to_owned();
    let inst = Instrumentation::builder()
        .with_tracer_provider(session.tracer_provider())
        .with_capture(example_multi_agent::capture())
        .build();
    let fw = Framework::new(&inst);
    let request = "Plan a trip to Oslo with 100 EUR";
    let outcome = example_multi_agent::run(&fw, &id, request, "Oslo", 100.0).await;
    assert_eq!(fw.failures(), 0);
    assert_eq!(fw.open_spans(), 0);
    let end = session.end().await;
    assert_eq!(end.error, None);
    // session, planner action, 2 planner chats, 2 × (action, 2 chats, tool).
    assert_eq!((end.stats.sent, end.stats.dropped()), (12, 0));
    let invocations = end.invocations.unwrap();
    assert_eq!(invocations.len(), 1);
    let turn = &invocations[0];
    assert_eq!(turn.user_text, outcome.request);
    assert_eq!(turn.agent_text, outcome.answer);
    let mut got: Vec<(String, Value)> = turn
        .tool_calls
        .iter()
        .map(|c| (c.name.clone(), c.args.clone()))
        .collect();
    let mut want: Vec<(String, Value)> = outcome.runs.iter().map(|r| r.tool.clone()).collect();
    got.sort_by(|a, b| a.0.cmp(&b.0));
    want.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(got, want);
    assert_eq!(want.len(), 2);
    // The tree: each agent's action is a child of the planner's, its tool a child of its action.
    let spans = spans(&base, &id).await;
    let by_agent: HashMap<&str, &Value> = spans
        .iter()
        .filter(|s| s["name"] == "action")
        .filter_map(|s| Some((attr(s, "gen_ai.agent.name")?, s)))
        .collect();
    let planner = by_agent["planner"];
    for agent in ["weather_agent", "currency_agent"] {
        assert_eq!(
            by_agent[agent]["parentSpanId"], planner["spanId"],
            "{agent}"
        );
        assert_eq!(by_agent[agent]["traceId"], planner["traceId"]);
    }
    let tools: Vec<&Value> = spans
        .iter()
        .filter(|s| attr(s, "gen_ai.operation.name") == Some("execute_tool"))
        .collect();
    assert_eq!(tools.len(), 2);
    for tool in tools {
        let parent = &tool["parentSpanId"];
        assert!(
            [
                &by_agent["weather_agent"]["spanId"],
                &by_agent["currency_agent"]["spanId"]
            ]
            .contains(&parent),
            "{tool}"
        );
    }
    server.shutdown().await;
}
