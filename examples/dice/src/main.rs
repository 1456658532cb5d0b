//! A dice-rolling agent with tool calls and a scripted model, streamed live to `agentrace serve`
//! through `agentrace_stream::session_blocking`; prints the session's invocations (as the server
//! extracted them) and its page.
//!
//! ```text
//! agentrace serve &
//! cargo run -p example-dice -- --server http://127.0.0.1:8001
//! ```
//!
//! With `--transport otlp-http` (or `otlp-grpc`) it sends plain OTLP to any receiver instead
//! (`--server` is then the OTLP endpoint's base, e.g. `http://127.0.0.1:4318`); a plain OTLP
//! receiver sends no invocations back, so it prints what it sent.

#![allow(clippy::print_stdout)]

use std::process::ExitCode;

use agentrace_sdk::Instrumentation;
use agentrace_stream::{SessionOptions, SessionTransport, session_blocking};
use clap::{Parser, ValueEnum};

/// How the session is sent.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum Transport {
    /// agentrace's live-session WebSocket protocol (invocations come back).
    Websocket,
    /// OTLP/HTTP protobuf to any OTLP receiver.
    OtlpHttp,
    /// OTLP/gRPC to any OTLP receiver.
    OtlpGrpc,
}

/// A dice-rolling agent streamed to agentrace serve.
#[derive(Debug, Parser)]
struct Args {
    /// The server's main address (it serves the WebSocket at /ws/traces).
    #[arg(long, default_value = "http://127.0.0.1:8001")]
    server: String,
    /// The die's seed.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// How the session is sent.
    #[arg(long, value_enum, default_value = "websocket")]
    transport: Transport,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let options = SessionOptions::builder(&args.server)
        .with_name("dice")
        .with_metadata("example", "dice")
        .with_service_name("example-dice")
        .with_transport(match args.transport {
            Transport::Websocket => SessionTransport::WebSocket,
            Transport::OtlpHttp => SessionTransport::OtlpHttp,
            Transport::OtlpGrpc => SessionTransport::OtlpGrpc,
        })
        .build();
    let session = match session_blocking(options) {
        Ok(s) => s,
        Err(e) => {
            println!("could not start the session: {e}");
            return ExitCode::from(2);
        }
    };
    println!("session {}", session.id());
    let inst = Instrumentation::builder()
        .with_tracer_provider(session.tracer_provider())
        .with_logger_provider(session.logger_provider())
        .with_capture(example_dice::capture())
        .build();
    let prompts = [
        "Roll a 20-sided die and tell me if it is prime.",
        "Roll a 6-sided die and tell me if it is prime.",
    ];
    for turn in example_dice::run(&inst, &prompts, args.seed) {
        println!("agent: {} -> {}", turn.user, turn.answer);
    }
    let end = session.end_blocking();
    print!("{end}");
    let plain_otlp = !matches!(args.transport, Transport::Websocket);
    let delivered = end.error.is_none() && end.stats.sent > 0 && end.stats.dropped() == 0;
    if end.has_invocations() || (plain_otlp && delivered) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
