//! End to end: the streaming chat streams to a real `agentrace serve` (in-process on
//! 127.0.0.1:0), and the server's invocations are the prompts and the streamed answers.

#![allow(clippy::unwrap_used, missing_docs)]

use agentrace_sdk::Instrumentation;
use agentrace_server::{Server, ServerConfig};
use agentrace_stream::{SessionOptions, session};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_servers_invocations_are_the_streamed_turns() {
    let config = ServerConfig::ephemeral().build().unwrap();
    let server = Server::start(config).await.unwrap();
    let base = format!("http://{}", server.main_addr());
    let session = session(SessionOptions::builder(&base).with_name("chat").build())
        .await
        .unwrap();
    let inst = Instrumentation::builder()
        .with_tracer_provider(session.tracer_provider())
        .with_capture(example_streaming_chat::capture())
        .build();
    let prompts = ["Write a haiku", "Hello there", "One more"];
    let turns = example_streaming_chat::run(&inst, &prompts).await.unwrap();
    let end = session.end().await;
    assert_eq!(end.error, None);
    assert_eq!((end.stats.sent, end.stats.dropped()), (6, 0));
    let invocations = end.invocations.unwrap();
    let got: Vec<(String, String)> = invocations
        .iter()
        .map(|i| (i.user_text.clone(), i.agent_text.clone()))
        .collect();
    assert_eq!(got, turns);
    assert!(turns[0].1.starts_with("Spans end in order"));
    for invocation in &invocations {
        assert_eq!(invocation.models, [example_streaming_chat::MODEL]);
        assert!(invocation.tool_calls.is_empty());
    }
    server.shutdown().await;
}
