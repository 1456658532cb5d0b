//! A planner delegating to two tool-using agents across tokio tasks, traced through
//! agentrace-sdk's hooks and streamed live to `agentrace serve`; prints the session's
//! invocations and its page.
//!
//! ```text
//! agentrace serve &
//! cargo run -p example-multi-agent -- --server http://127.0.0.1:8001
//! ```

#![allow(clippy::print_stdout)]

use std::process::ExitCode;

use agentrace_sdk::Instrumentation;
use agentrace_stream::{SessionOptions, session};
use clap::Parser;
use example_multi_agent::Framework;

/// A multi-agent session streamed to agentrace serve.
#[derive(Debug, Parser)]
struct Args {
    /// The server's main address (it serves the WebSocket at /ws/traces).
    #[arg(long, default_value = "http://127.0.0.1:8001")]
    server: String,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    let args = Args::parse();
    let options = SessionOptions::builder(&args.server)
        .with_name("multi-agent")
        .with_service_name("example-multi-agent")
        .build();
    let session = match session(options).await {
        Ok(s) => s,
        Err(e) => {
            println!("could not start the session: {e}");
            return ExitCode::from(2);
        }
    };
    println!("session {}", session.id());
    let inst = Instrumentation::builder()
        .with_tracer_provider(session.tracer_provider())
        .with_capture(example_multi_agent::capture())
        .build();
    let fw = Framework::new(&inst);
    let outcome = example_multi_agent::run(
        &fw,
        session.id(),
        "Plan my trip to Lisbon; I have 250 EUR.",
        "Lisbon",
        250.0,
    )
    .await;
    for run in &outcome.runs {
        println!(
            "{}: {}({}) -> {}",
            run.agent, run.tool.0, run.tool.1, run.answer
        );
    }
    println!("planner: {}", outcome.answer);
    let end = session.end().await;
    print!("{end}");
    if end.has_invocations() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
