//! End to end: the dice agent streams to a real `agentrace serve` (in-process on 127.0.0.1:0),
//! and the server's invocations match what the agent did.

#![allow(clippy::unwrap_used, missing_docs)]

use agentrace_sdk::Instrumentation;
use agentrace_server::{Server, ServerConfig};
use agentrace_stream::{SessionOptions, session};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_servers_invocations_are_what_the_agent_did() {
    let config = ServerConfig::ephemeral().build().unwrap();
    let server = Server::start(config).await.unwrap();
    let base = format!("http://{}", server.main_addr());
    let session = session(SessionOptions::builder(&base).with_name("dice").build())
        .await
        .unwrap();
    let inst = Instrumentation::builder()
        .with_tracer_provider(session.tracer_provider())
        .with_capture(example_dice::capture())
        .build();
    let prompts = [
        "Roll a 20-sided die",
        "Roll a 6-sided die",
        "Roll a 100-sided die",
    ];
    let turns = example_dice::run(&inst, &prompts, 7);
    let end = session.end().await;
    assert_eq!(end.error, None);
    assert_eq!(end.stats.dropped(), 0);
    // 3 turns × (invoke_agent + 3 chat + 2 execute_tool).
    assert_eq!(end.stats.sent, 18);
    // What the example prints: every turn with its tools, and the session's page.
    let shown = end.to_string();
    assert!(
        shown.starts_with("sent 18 spans and logs, dropped 0\ninvocations (3):\n"),
        "{shown}"
    );
    for turn in &turns {
        assert!(
            shown.contains(&format!("  user:  {}\n", turn.user)),
            "{shown}"
        );
        assert!(
            shown.contains(&format!("  agent: {}\n", turn.answer)),
            "{shown}"
        );
    }
    assert!(
        shown.contains("  tools: roll_die({\"sides\":20})"),
        "{shown}"
    );
    assert!(shown.contains(&format!("page: {base}/")), "{shown}");
    let invocations = end.invocations.unwrap();
    assert_eq!(invocations.len(), turns.len());
    for (invocation, turn) in invocations.iter().zip(&turns) {
        assert_eq!(invocation.user_text, turn.user);
        assert_eq!(invocation.agent_text, turn.answer);
        let calls: Vec<(String, serde_json::Value)> = invocation
            .tool_calls
            .iter()
            .map(|c| (c.name.clone(), c.args.clone()))
            .collect();
        assert_eq!(calls, turn.tool_calls);
        assert_eq!(invocation.models, [example_dice::MODEL]);
    }
    // The answers name the rolls the tools made.
    assert!(
        turns[0]
            .answer
            .starts_with("I rolled a 20-sided die and got ")
    );
    server.shutdown().await;
}
