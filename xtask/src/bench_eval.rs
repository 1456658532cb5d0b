//! The product figures of `agentrace run`, measured on the release binary as a whole process:
//! traces per second over 500 copies of a 25-span trace with trajectory and ROUGE, and process
//! start-up to the first result on a one-trace file, each against `agentrace extract` of the same
//! file timed in the same run. The files are written by the criterion benchmark of
//! `agentrace-eval` (`target/bench-eval/`), which this runs first in test mode.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::{cargo, exec, step};

/// Runs of each command; the median is reported.
const RUNS: usize = 15;

fn time_once(bin: &Path, args: &[&str], want_code: i32) -> Result<f64> {
    let started = Instant::now();
    let status = Command::new(bin)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .with_context(|| format!("cannot run {}", bin.display()))?;
    let secs = started.elapsed().as_secs_f64();
    if status.code() != Some(want_code) {
        bail!("{} {args:?} exited with {status}", bin.display());
    }
    Ok(secs)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Times `a` and `b` alternately, `RUNS` times each, after one warm-up each; the medians.
fn pair(bin: &Path, a: &[&str], b: &[&str]) -> Result<(f64, f64)> {
    time_once(bin, a, 0)?;
    time_once(bin, b, 0)?;
    let (mut ta, mut tb) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        ta.push(time_once(bin, a, 0)?);
        tb.push(time_once(bin, b, 0)?);
    }
    Ok((median(ta), median(tb)))
}

pub(crate) fn run(root: &Path) -> Result<()> {
    step("eval benchmark files (criterion test mode)", || {
        exec(cargo().args([
            "bench",
            "--locked",
            "-p",
            "agentrace-eval",
            "--bench",
            "eval",
            "--",
            "--test",
        ]))
    })?;
    step("release binary", || {
        exec(cargo().args(["build", "--locked", "--release", "-p", "agentrace"]))
    })?;
    let bin = crate::build_dir().join("release/agentrace");
    let dir = root.join("target/bench-eval");
    let s = |p: &str| dir.join(p).display().to_string();
    let (traces, small, set) = (s("traces.jsonl"), s("small.json"), s("eval_set.json"));
    step("agentrace run, 500 traces (process)", || {
        let run = [
            "run",
            &traces,
            "-e",
            &set,
            "-m",
            "tool_trajectory_avg_score",
            "-m",
            "response_match_score",
            "--format",
            "json",
        ];
        let extract = ["extract", &traces, "-e", &set, "--format", "json"];
        let (t_run, t_extract) = pair(&bin, &run, &extract)?;
        println!(
            "  run: {:.1} ms ({:.0} traces/s); extract of the same file: {:.1} ms ({:.0} traces/s); run / extract = {:.2}x",
            t_run * 1e3,
            500.0 / t_run,
            t_extract * 1e3,
            500.0 / t_extract,
            t_run / t_extract
        );
        Ok(())
    })?;
    step(
        "agentrace run, start-up to the first result on one trace (process)",
        || {
            let run = [
                "run",
                &small,
                "-e",
                &set,
                "-m",
                "tool_trajectory_avg_score",
                "-m",
                "response_match_score",
            ];
            let extract = ["extract", &small, "-e", &set];
            let (t_run, t_extract) = pair(&bin, &run, &extract)?;
            println!(
                "  run: {:.2} ms; extract of the same file: {:.2} ms; run / extract = {:.2}x",
                t_run * 1e3,
                t_extract * 1e3,
                t_run / t_extract
            );
            Ok(())
        },
    )
}
