//! The `agentrace` command line.
//!
//! Exit codes: 0 ok, 1 evaluation failed, 2 could not run.

// A command-line tool: printing is its job.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod extract;
mod run;
mod serve;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// mimalloc: the server allocates many small objects per span from several threads, where it is
/// markedly faster than the system allocator and, with `serve`'s purge delay of 10 ms
/// (`agentrace_server::process`), returns memory more readily (docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// See and judge what your AI agents do, through OpenTelemetry.
#[derive(Debug, Parser)]
#[command(name = "agentrace", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Read a trace file and print the invocations (turns) found in it.
    Extract(extract::ExtractArgs),
    /// Evaluate trace files against an eval set: exit 0 when everything passed, 1 when something
    /// failed, 2 when something could not run.
    Run(run::RunArgs),
    /// Run the dev server: OTLP/HTTP and gRPC ingest, sessions, SQLite storage, API and web page.
    Serve(Box<serve::ServeArgs>),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Extract(args) => extract::run(args),
        Command::Run(args) => run::run(args),
        Command::Serve(args) => {
            // The server gives freed memory back within 10 ms, marked free rather than unmapped
            // (agentrace_server::process); this starts the same command again with the
            // allocator's options set, once.
            if let Some(err) = agentrace_server::process::restart_with_allocator_options() {
                eprintln!("note: running with the allocator's default purge options: {err}");
            }
            serve::run(*args)
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
