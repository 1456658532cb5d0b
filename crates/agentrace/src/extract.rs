//! `agentrace extract`: arguments, then a call into `agentrace-loader`.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use agentrace_eval::eval_set::EvalSet;
use agentrace_loader::extract::{ExtractOptions, GroupBy};
use agentrace_loader::read::{Format, LoadOptions};
use anyhow::{Context, Result};
use clap::{Args, ValueEnum};

/// Output format of `extract`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum OutputFormat {
    /// A readable table of the invocations.
    Table,
    /// The extraction part of agentevals' `expected.json` (`format` through `invocations`).
    Json,
}

/// Arguments of `agentrace extract`.
#[derive(Debug, Args)]
pub(crate) struct ExtractArgs {
    /// Trace file: OTLP JSON or JSON Lines, OTLP protobuf, Jaeger JSON, Tempo export; gzip is
    /// detected.
    trace_file: PathBuf,
    /// ADK EvalSet JSON: select the golden case of each group.
    #[arg(long, short = 'e')]
    eval_set: Option<PathBuf>,
    /// How traces are grouped: auto (conversation when a session name is present or a golden
    /// case has several turns), trace, conversation.
    #[arg(long, default_value = "auto")]
    group_by: GroupBy,
    /// Read the file as this format instead of detecting it (otlp-json, otlp-jsonl,
    /// jaeger-json, otlp-protobuf, ...).
    #[arg(long, short = 'f')]
    trace_format: Option<Format>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: OutputFormat,
}

/// Runs `extract`. Records that could not be read are reported on stderr and skipped.
pub(crate) fn run(args: ExtractArgs) -> Result<ExitCode> {
    let cases = match &args.eval_set {
        Some(p) => Some(EvalSet::from_path(p)?.expected_cases()),
        None => None,
    };
    let opts = ExtractOptions {
        group_by: args.group_by,
        cases,
    };
    let (loaded, report) = agentrace_loader::extract_path(
        &args.trace_file,
        LoadOptions {
            format: args.trace_format,
        },
        &opts,
    )?;
    for issue in &loaded.issues {
        eprintln!("warning: skipped: {issue}");
    }
    if loaded.skipped() > 0 {
        eprintln!(
            "warning: {} record(s) read, {} skipped",
            loaded.read(),
            loaded.skipped()
        );
    }
    let text = match args.format {
        OutputFormat::Table => report.to_table(),
        OutputFormat::Json => {
            let mut s = serde_json::to_string_pretty(&report).context("serializing the report")?;
            s.push('\n');
            s
        }
    };
    std::io::stdout()
        .lock()
        .write_all(text.as_bytes())
        .context("writing the report")?;
    Ok(ExitCode::SUCCESS)
}
