//! `example-evaluate [TRACE] [--eval-set FILE]`: scores a trace file against an eval set with
//! the `agentrace-eval` library and prints the table `agentrace run` prints. Without arguments
//! it scores the bundled trace. Exits 0 when every metric passed, 1 when one failed, 2 when it
//! could not run.

// A command-line example: printing is its job.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

/// Score a trace file against an eval set, in code.
#[derive(Debug, Parser)]
struct Args {
    /// Trace file (any format agentrace reads); the bundled one when omitted.
    trace: Option<PathBuf>,
    /// ADK EvalSet JSON; the bundled one when omitted.
    #[arg(long, short = 'e')]
    eval_set: Option<PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let trace = args.trace.unwrap_or_else(example_evaluate::bundled_trace);
    let eval_set = args
        .eval_set
        .unwrap_or_else(example_evaluate::bundled_eval_set);
    match example_evaluate::evaluate(&trace, &eval_set) {
        Ok(report) => {
            print!("{}", report.to_table());
            ExitCode::from(report.exit_code())
        }
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}
