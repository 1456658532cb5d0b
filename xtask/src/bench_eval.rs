//! The product figures of `agentrace run`, measured on the release binary as a whole process:
//! traces per second over 500 copies of a 25-span trace with trajectory and ROUGE, and process
//! start-up to the first result on a one-trace file, each against `agentrace extract` of the same
//! file timed in the same run; and `agentrace extract` and `agentrace run` over a 100 MB JSON
//! Lines file of realistic traces (MB/s and peak resident memory, streamed against
//! `--read-whole` in the same run). The files are written by the criterion benchmark of
//! `agentrace-eval` (`target/bench-eval/`), which this runs first in test mode.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

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

/// Runs `bin args` once with stdout and stderr discarded: (seconds, peak resident set in bytes),
/// the peak from GNU time (the kernel's `ru_maxrss` of the child) when `/usr/bin/time` exists,
/// else the child's `VmHWM` read from `/proc` every millisecond until it exits.
fn measure_once(bin: &Path, args: &[&str], codes: &[i32]) -> Result<(f64, u64)> {
    let gnu_time = Path::new("/usr/bin/time");
    let report = std::env::temp_dir().join(format!("agentrace-bench-rss-{}", std::process::id()));
    let mut cmd = if gnu_time.exists() {
        let mut c = Command::new(gnu_time);
        c.arg("-f").arg("%M").arg("-o").arg(&report).arg(bin);
        c
    } else {
        Command::new(bin)
    };
    let started = Instant::now();
    let mut child = cmd
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("cannot run {}", bin.display()))?;
    let status_file = format!("/proc/{}/status", child.id());
    let mut polled_kb = 0u64;
    let status = loop {
        if let Some(s) = child.try_wait()? {
            break s;
        }
        if let Ok(text) = std::fs::read_to_string(&status_file)
            && let Some(kb) = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        {
            polled_kb = polled_kb.max(kb);
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    let secs = started.elapsed().as_secs_f64();
    if !status.code().is_some_and(|c| codes.contains(&c)) {
        bail!("{} {args:?} exited with {status}", bin.display());
    }
    let kb = if gnu_time.exists() {
        let text = std::fs::read_to_string(&report).context("reading GNU time's report")?;
        let _ = std::fs::remove_file(&report);
        text.trim()
            .lines()
            .last()
            .and_then(|l| l.trim().parse::<u64>().ok())
            .context("GNU time's report has no peak")?
    } else {
        polled_kb
    };
    Ok((secs, kb * 1024))
}

/// `a` and `b` measured alternately, `runs` times each after one warm-up each: for each, the
/// median time and the largest peak.
fn measure_pair(
    bin: &Path,
    a: &[&str],
    b: &[&str],
    codes: &[i32],
    runs: usize,
) -> Result<((f64, u64), (f64, u64))> {
    measure_once(bin, a, codes)?;
    measure_once(bin, b, codes)?;
    let (mut ta, mut tb, mut pa, mut pb) = (Vec::new(), Vec::new(), 0, 0);
    for _ in 0..runs {
        let (t, p) = measure_once(bin, a, codes)?;
        ta.push(t);
        pa = pa.max(p);
        let (t, p) = measure_once(bin, b, codes)?;
        tb.push(t);
        pb = pb.max(p);
    }
    Ok(((median(ta), pa), (median(tb), pb)))
}

/// [`measure_once`] `runs` times after one warm-up: the median time and the largest peak.
fn measure(bin: &Path, args: &[&str], codes: &[i32], runs: usize) -> Result<(f64, u64)> {
    measure_once(bin, args, codes)?;
    let mut times = Vec::new();
    let mut peak = 0;
    for _ in 0..runs {
        let (t, p) = measure_once(bin, args, codes)?;
        times.push(t);
        peak = peak.max(p);
    }
    Ok((median(times), peak))
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
    )?;
    realistic(&bin, &dir)
}

/// Runs of each command on the realistic file (alternated with `--read-whole`); the median time
/// and the largest peak are reported.
const BIG_RUNS: usize = 5;

/// `agentrace extract` and `agentrace run` over the realistic file, streamed and `--read-whole`.
#[allow(clippy::cast_precision_loss)]
fn realistic(bin: &Path, dir: &Path) -> Result<()> {
    let s = |p: &str| dir.join(p).display().to_string();
    let (file, set, small) = (
        s("realistic.jsonl"),
        s("realistic_eval_set.json"),
        s("small.json"),
    );
    let meta: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("realistic.meta.json"))
            .context("reading realistic.meta.json")?,
    )?;
    let num = |k: &str| meta[k].as_u64().unwrap_or(0);
    let (bytes, largest) = (num("bytes"), num("largest_group_bytes"));
    let (mb, largest_mb) = (bytes as f64 / 1e6, largest as f64 / 1e6);
    step(
        "agentrace extract and run, realistic JSON Lines (process)",
        || {
            println!(
                "  file: {mb:.1} MB, {} groups (conversations), {} traces; largest group {largest_mb:.2} MB",
                num("groups"),
                num("traces")
            );
            let extract = ["extract", file.as_str(), "--format", "json"];
            let run = [
                "run",
                file.as_str(),
                "-e",
                set.as_str(),
                "-m",
                "tool_trajectory_avg_score",
                "-m",
                "response_match_score",
                "--format",
                "json",
            ];
            // The process' own floor: the same commands on a one-trace file.
            let (_, floor_extract) =
                measure(bin, &["extract", &small, "--format", "json"], &[0], 3)?;
            let (_, floor_run) = measure(
                bin,
                &["run", &small, "-e", &set, "-m", "response_match_score"],
                &[0, 1],
                3,
            )?;
            for (name, args, floor) in [
                ("extract", &extract[..], floor_extract),
                ("run", &run[..], floor_run),
            ] {
                let whole: Vec<&str> = args.iter().copied().chain(["--read-whole"]).collect();
                let ((t_stream, p_stream), (t_whole, p_whole)) =
                    measure_pair(bin, args, &whole, &[0, 1], BIG_RUNS)?;
                let ratio = |p: u64, of: u64| p as f64 / of.max(1) as f64;
                println!(
                    "  {name}: streamed {:.0} MB/s, peak {:.1} MB = {:.3}x the file = {:.2}x the largest group ({:.2}x above the process floor of {:.1} MB)",
                    mb / t_stream,
                    p_stream as f64 / 1e6,
                    ratio(p_stream, bytes),
                    ratio(p_stream, largest),
                    ratio(p_stream.saturating_sub(floor), largest),
                    floor as f64 / 1e6,
                );
                println!(
                    "  {name}: --read-whole {:.0} MB/s, peak {:.1} MB = {:.2}x the file; streamed is {:.2}x as fast",
                    mb / t_whole,
                    p_whole as f64 / 1e6,
                    ratio(p_whole, bytes),
                    t_whole / t_stream,
                );
            }
            Ok(())
        },
    )
}
