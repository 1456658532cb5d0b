//! The `agentrace` command line.

use std::process::ExitCode;

use clap::Parser;

/// See and judge what your AI agents do, through OpenTelemetry.
#[derive(Debug, Parser)]
#[command(name = "agentrace", version, about)]
struct Cli {}

fn main() -> ExitCode {
    let _cli = Cli::parse();
    ExitCode::SUCCESS
}
