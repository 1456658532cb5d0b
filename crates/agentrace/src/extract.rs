//! `agentrace extract`: arguments, then a call into `agentrace-loader`.
//!
//! The file is read group by group ([`agentrace_loader::groups::for_each_group`]) and the report
//! written as the groups come, through two temporary spill files; a file whose groups are not
//! contiguous is read again whole, with the same output.

use std::io::{BufWriter, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;

use agentrace_eval::eval_set::EvalSet;
use agentrace_loader::extract::{ExtractOptions, GroupBy};
use agentrace_loader::groups::{Streamed, for_each_group};
use agentrace_loader::read::{Format, LoadOptions, RecordIssue};
use agentrace_loader::report::{ReportFormat, ReportStream};
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
    /// Read the file whole instead of group by group: the same output, with memory that grows
    /// with the file (for comparison).
    #[arg(long)]
    read_whole: bool,
}

fn warn(issues: &[RecordIssue], read: usize) {
    for issue in issues {
        eprintln!("warning: skipped: {issue}");
    }
    if !issues.is_empty() {
        eprintln!("warning: {read} record(s) read, {} skipped", issues.len());
    }
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
    let load = LoadOptions {
        format: args.trace_format,
    };
    let spill = || tempfile::tempfile().context("creating a temporary file");
    let format = match args.format {
        OutputFormat::Table => ReportFormat::Table,
        OutputFormat::Json => ReportFormat::Json,
    };
    let mut out = BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let streamed = if args.read_whole {
        None
    } else {
        let mut writer = ReportStream::new(format, spill()?, spill()?);
        let mut spill_error = None;
        let mut issues = Vec::new();
        let streamed = for_each_group(&args.trace_file, load, &opts, &mut issues, |g| {
            if spill_error.is_none()
                && let Err(e) = writer.push(g)
            {
                spill_error = Some(e);
            }
        })?;
        if let Some(e) = spill_error {
            return Err(e).context("writing a temporary file");
        }
        Some((streamed, writer, issues))
    };
    match streamed {
        Some((Streamed::Complete(end), writer, issues)) => {
            warn(&issues, end.records);
            writer
                .finish(&end, &mut out)
                .context("writing the report")?;
        }
        Some((Streamed::NotContiguous(why), _, _)) => {
            eprintln!(
                "note: {}: {why}: read whole (the same output, more memory)",
                args.trace_file.display()
            );
            whole(&args, load, &opts, &mut out)?;
        }
        None => whole(&args, load, &opts, &mut out)?,
    }
    out.flush().context("writing the report")?;
    Ok(ExitCode::SUCCESS)
}

/// Reads the file whole and writes its report.
fn whole(
    args: &ExtractArgs,
    load: LoadOptions,
    opts: &ExtractOptions,
    out: &mut impl std::io::Write,
) -> Result<()> {
    let (loaded, report) = agentrace_loader::extract_path(&args.trace_file, load, opts)?;
    warn(&loaded.issues, loaded.read());
    match args.format {
        OutputFormat::Table => out.write_all(report.to_table().as_bytes()),
        OutputFormat::Json => serde_json::to_writer_pretty(&mut *out, &report)
            .map_err(std::io::Error::from)
            .and_then(|()| out.write_all(b"\n")),
    }
    .context("writing the report")
}
