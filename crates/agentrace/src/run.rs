//! `agentrace run`: evaluate trace files against an eval set; arguments, then calls into
//! `agentrace-eval`. Files are evaluated in parallel; a progress bar shows on a terminal.

use std::fs::File;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use agentrace_eval::config::{EvalConfig, Overrides, specs};
use agentrace_eval::eval_set::EvalSet;
use agentrace_eval::evaluate::MetricSpec;
use agentrace_eval::metrics::trajectory::MatchType;
use agentrace_eval::output::{
    FileResult, OutputFormat, Rendered, RenderedFile, RunError, RunReport, Spill, render_group,
};
use agentrace_eval::result::GroupResult;
use agentrace_eval::run::{FileOutcome, RunOptions, run_file_with};
use agentrace_loader::extract::GroupBy;
use agentrace_loader::read::{Format, LoadOptions};
use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Output format of `run`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum RunFormat {
    /// A readable table with the reason for each failure and a trajectory diff.
    Table,
    /// JSON: `scores` (the conformance corpus' shape), `groups`, `errors`, `summary`.
    Json,
    /// JUnit XML for CI.
    Junit,
}

/// Trajectory match type (`--trajectory-match`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum TrajectoryMatch {
    /// Same calls in the same order, nothing extra.
    Exact,
    /// The expected calls in order; extra calls allowed.
    #[value(name = "in_order", alias = "in-order")]
    InOrder,
    /// The expected calls in any order; extra calls allowed.
    #[value(name = "any_order", alias = "any-order")]
    AnyOrder,
}

impl From<TrajectoryMatch> for MatchType {
    fn from(t: TrajectoryMatch) -> Self {
        match t {
            TrajectoryMatch::Exact => Self::Exact,
            TrajectoryMatch::InOrder => Self::InOrder,
            TrajectoryMatch::AnyOrder => Self::AnyOrder,
        }
    }
}

/// Arguments of `agentrace run`.
#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// Trace files: OTLP JSON or JSON Lines, OTLP protobuf, Jaeger JSON, Tempo export; gzip is
    /// detected.
    #[arg(required = true)]
    traces: Vec<PathBuf>,
    /// ADK EvalSet JSON with the golden cases.
    #[arg(long, short = 'e')]
    eval_set: Option<PathBuf>,
    /// Metric to compute (repeatable); default tool_trajectory_avg_score.
    #[arg(long = "metric", short = 'm')]
    metrics: Vec<String>,
    /// Pass threshold for every builtin metric (default 0.5).
    #[arg(long, short = 't')]
    threshold: Option<f64>,
    /// How tool trajectories are matched.
    #[arg(long, value_enum, ignore_case = true, alias = "trajectory-match-type")]
    trajectory_match: Option<TrajectoryMatch>,
    /// How traces are grouped: auto (conversation when a session name is present or a golden
    /// case has several turns), trace, conversation.
    /// [default: auto]
    #[arg(long)]
    group_by: Option<GroupBy>,
    /// Read the files as this format instead of detecting it (otlp-json, otlp-jsonl,
    /// jaeger-json, otlp-protobuf, ...).
    #[arg(long, short = 'f')]
    trace_format: Option<Format>,
    /// Output format [default: table].
    #[arg(long, value_enum)]
    format: Option<RunFormat>,
    /// Eval config YAML: an `evaluators:` list (builtin metrics with thresholds, LLM judges,
    /// custom evaluator programs), and optionally `eval_set`, `trace_format`, `output_format`.
    #[arg(long, short = 'c')]
    config: Option<PathBuf>,
    /// Send a `gen_ai.evaluation.result` log record per metric and invocation over OTLP/HTTP
    /// (protobuf), configured by the standard OTEL_EXPORTER_OTLP_* variables.
    #[arg(long)]
    emit_otel: bool,
    /// Write the output to this file instead of standard output.
    #[arg(long, short = 'o')]
    output: Option<PathBuf>,
    /// Read each file whole instead of group by group: the same output, with memory that grows
    /// with the file (for comparison).
    #[arg(long)]
    read_whole: bool,
}

/// Runs `run`: 0 when everything passed (NOT_EVALUATED does not fail), 1 when something failed,
/// 2 when something could not run.
pub(crate) fn run(args: RunArgs) -> Result<ExitCode> {
    if let Some(t) = args.threshold
        && !(t.is_finite() && (0.0..=1.0).contains(&t))
    {
        anyhow::bail!("--threshold must be between 0 and 1, not {t}");
    }
    let config = match &args.config {
        Some(p) => Some(EvalConfig::from_path(p)?),
        None => None,
    };
    let eval_set_path = args.eval_set.clone().or_else(|| {
        config
            .as_ref()
            .and_then(|c| c.eval_set.as_deref().map(|p| c.resolve(p)))
    });
    let eval_set = match &eval_set_path {
        Some(p) => Some(EvalSet::from_path(p)?),
        None => None,
    };
    let specs: Vec<MetricSpec> = specs(
        config.as_ref(),
        &Overrides {
            metrics: args.metrics.clone(),
            threshold: args.threshold,
            match_type: args.trajectory_match.map(MatchType::from),
        },
    )?;
    let from_config =
        |get: fn(&EvalConfig) -> Option<&String>| config.as_ref().and_then(get).map(String::as_str);
    let trace_format = match (args.trace_format, from_config(|c| c.trace_format.as_ref())) {
        (Some(f), _) => Some(f),
        (None, Some(s)) => Some(
            s.parse::<Format>()
                .map_err(|e| anyhow::anyhow!("config trace_format: {e}"))?,
        ),
        (None, None) => None,
    };
    let group_by = match (args.group_by, from_config(|c| c.group_by.as_ref())) {
        (Some(g), _) => g,
        (None, Some(s)) => s
            .parse::<GroupBy>()
            .map_err(|e| anyhow::anyhow!("config group_by: {e}"))?,
        (None, None) => GroupBy::Auto,
    };
    let format = match (args.format, from_config(|c| c.output_format.as_ref())) {
        (Some(f), _) => f,
        (None, Some(s)) => RunFormat::from_str(s, true)
            .map_err(|e| anyhow::anyhow!("config output_format: {e}"))?,
        (None, None) => RunFormat::Table,
    };
    let opts = RunOptions {
        load: LoadOptions {
            format: trace_format,
        },
        group_by,
        read_whole: args.read_whole,
    };
    let format = match format {
        RunFormat::Table => OutputFormat::Table,
        RunFormat::Json => OutputFormat::Json,
        RunFormat::Junit => OutputFormat::Junit,
    };
    // Each group is rendered as soon as it is evaluated and its results dropped, unless
    // `--emit-otel` needs them whole after the run.
    let (rendered, report) = if args.emit_otel {
        let report = evaluate_files(
            &args.traces,
            &opts,
            eval_set.as_ref(),
            &specs,
            false,
            |_, g, _| g,
        );
        let rendered = RunReport {
            files: report
                .files
                .into_iter()
                .map(|(f, _)| FileResult {
                    file: f.file,
                    groups: f.groups,
                    warnings: f.warnings,
                })
                .collect(),
            errors: report.errors,
        };
        (rendered.render(format), Some(rendered))
    } else {
        // Each group's part of the output goes to a temporary file as it is rendered (in
        // order); what stays in memory is what the summary and `scores` need.
        let report = evaluate_files(
            &args.traces,
            &opts,
            eval_set.as_ref(),
            &specs,
            true,
            |i, g, spill| {
                let mut r = render_group(format, &g);
                if let Some(s) = spill {
                    s.put(i, &mut r);
                }
                r
            },
        );
        (
            Rendered {
                format,
                files: report
                    .files
                    .into_iter()
                    .map(|(f, spill)| RenderedFile {
                        file: f.file,
                        groups: f.groups,
                        warnings: f.warnings,
                        spill,
                    })
                    .collect(),
                errors: report.errors,
            },
            None,
        )
    };
    let exit_code = rendered.exit_code();
    // The output is written as it is serialized (no whole-output string to grow).
    let write = |w: &mut dyn std::io::Write| -> std::io::Result<()> {
        let mut w = std::io::BufWriter::with_capacity(1 << 16, w);
        rendered.write(&mut w)?;
        w.flush()
    };
    match &args.output {
        Some(p) => std::fs::File::create(p)
            .and_then(|mut f| write(&mut f))
            .with_context(|| format!("could not write {}", p.display()))?,
        None => write(&mut std::io::stdout().lock()).context("writing the results")?,
    }
    if let Some(report) = &report {
        emit_otel(report, eval_set.as_ref());
    }
    Ok(ExitCode::from(exit_code))
}

/// Sends the run's evaluation records; a failure is reported on stderr and does not change the
/// exit code (the evaluation itself ran).
fn emit_otel(report: &RunReport, eval_set: Option<&EvalSet>) {
    use agentrace_eval::otel::{OtlpLogs, evaluation_records};
    let cfg = match OtlpLogs::from_env(|k| std::env::var(k).ok()) {
        Ok(Some(c)) => c,
        Ok(None) => {
            eprintln!(
                "note: --emit-otel: OTEL_SDK_DISABLED or OTEL_LOGS_EXPORTER=none, nothing sent"
            );
            return;
        }
        Err(e) => {
            eprintln!("warning: --emit-otel: {e}");
            return;
        }
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    let records = evaluation_records(
        report.files.iter().flat_map(|f| &f.groups),
        eval_set.map(|s| s.eval_set_id.as_str()),
        now,
    );
    if let Err(e) = cfg.send(records) {
        eprintln!("warning: --emit-otel: {e}");
    }
}

/// The files' outcomes (what `keep` made of each group) and the files that could not be
/// evaluated.
struct Evaluated<R> {
    files: Vec<(FileOutcome<R>, Option<File>)>,
    errors: Vec<RunError>,
}

/// Evaluates the files on as many threads as there are cores (at most one per file), keeping
/// their order; of each group only what `keep` makes of its results. A file read whole because
/// its groups are not contiguous is noted on stderr, as `extract` does. With `spill`, each file
/// gets a [`Spill`] in a temporary file (kept in memory when none can be created), which `keep`
/// is given with each group's index in its file.
fn evaluate_files<R: Send>(
    files: &[PathBuf],
    opts: &RunOptions,
    eval_set: Option<&EvalSet>,
    specs: &[MetricSpec],
    spill: bool,
    keep: impl Fn(usize, GroupResult, Option<&Spill>) -> R + Sync,
) -> Evaluated<R> {
    let bar = ProgressBar::with_draw_target(Some(files.len() as u64), ProgressDrawTarget::stderr());
    if files.len() > 1 {
        bar.set_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} files {elapsed}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
    } else {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    type Slot<R> = Mutex<Option<Result<(FileOutcome<R>, Option<File>), RunError>>>;
    let slots: Vec<Slot<R>> = files.iter().map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    let workers = std::thread::available_parallelism()
        .map_or(1, std::num::NonZero::get)
        .min(files.len())
        .max(1);
    let keep = &keep;
    let work = || {
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(path) = files.get(i) else { break };
            let sp = if spill {
                tempfile::tempfile().ok().map(Spill::new)
            } else {
                None
            };
            let r = run_file_with(path, opts, eval_set, specs, |i, g| keep(i, g, sp.as_ref()));
            if let Ok(f) = &r
                && let Some(why) = &f.read_whole_because
            {
                bar.suspend(|| {
                    eprintln!(
                        "note: {}: {why}: read whole (the same output, more memory)",
                        path.display()
                    );
                });
            }
            let r = r.and_then(|f| match sp.map(Spill::finish).transpose() {
                Ok(spilled) => Ok((f, spilled)),
                Err(e) => Err(RunError {
                    file: path.display().to_string(),
                    error: format!("could not write a temporary file: {e}"),
                }),
            });
            if let Ok(mut slot) = slots[i].lock() {
                *slot = Some(r);
            }
            bar.inc(1);
        }
    };
    if workers == 1 {
        // One file: no thread to start.
        work();
    } else {
        std::thread::scope(|s| {
            for _ in 0..workers {
                s.spawn(work);
            }
        });
    }
    bar.finish_and_clear();
    let mut out = Evaluated {
        files: Vec::new(),
        errors: Vec::new(),
    };
    for (i, slot) in slots.into_iter().enumerate() {
        let r = slot.into_inner().ok().flatten().unwrap_or_else(|| {
            Err(RunError {
                file: files[i].display().to_string(),
                error: "evaluation did not finish".to_owned(),
            })
        });
        match r {
            Ok(f) => out.files.push(f),
            Err(e) => out.errors.push(e),
        }
    }
    out
}
