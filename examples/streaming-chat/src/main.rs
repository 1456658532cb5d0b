//! A streaming chat (a `TracedStream` over a scripted model) streamed live to `agentrace serve`
//! through the async `agentrace_stream::session`; prints the session's invocations and its page.
//!
//! ```text
//! agentrace serve &
//! cargo run -p example-streaming-chat -- --server http://127.0.0.1:8001
//! ```

#![allow(clippy::print_stdout)]

use std::{io::Write, process::ExitCode};

use agentrace_sdk::Instrumentation;
use agentrace_stream::{SessionOptions, session};
use clap::Parser;

/// A streaming chat streamed to agentrace serve.
#[derive(Debug, Parser)]
struct Args {
    /// The server's main address (it serves the WebSocket at /ws/traces).
    #[arg(long, default_value = "http://127.0.0.1:8001")]
    server: String,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = Args::parse();
    let options = SessionOptions::builder(&args.server)
        .with_name("streaming-chat")
        .with_service_name("example-streaming-chat")
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
        .with_capture(example_streaming_chat::capture())
        .build();
    let prompts = [
        "Write a haiku about streaming spans.",
        "Thanks, that was nice.",
    ];
    match example_streaming_chat::run(&inst, &prompts).await {
        Ok(turns) => {
            for (user, answer) in turns {
                println!("you:   {user}");
                println!("model: {answer}");
            }
        }
        Err(e) => println!("chat failed: {e}"),
    }
    let _ = std::io::stdout().flush();
    let end = session.end().await;
    print!("{end}");
    if end.has_invocations() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
