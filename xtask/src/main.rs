//! Project automation for agentrace, run as `cargo xtask <command>`.
//!
//! | command | what it does |
//! |---|---|
//! | `ci [--fast]` | everything CI checks, in order, each step timed; `--fast` skips rustdoc and cargo-deny |
//! | `bench [FILTER]` | the criterion benchmarks of every crate, then `bench-eval`; figures go to `docs/benchmarks.md` by hand |
//! | `bench-eval` | `agentrace run` timed as a whole process on the release binary (throughput, start-up) |
//! | `compat` | real OpenTelemetry clients from PyPI against the server |
//! | `browser` | the web page in headless Chromium (Playwright), against a live server |
//! | `invariants` | the architecture invariants of `docs/ARCHITECTURE.md` alone |
//! | `release --dry-run` | versions agree, CHANGELOG.md names the version, `cargo package` succeeds |

// A command-line tool: printing is its job.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod bench_eval;
mod browser;
mod compat;
mod invariants;

use std::{
    env,
    path::{Path, PathBuf},
    process::{Command, ExitCode},
    time::Instant,
};

use anyhow::{Context, Result, bail};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("xtask: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    let args: Vec<String> = env::args().skip(1).collect();
    let root = project_root();
    env::set_current_dir(&root).context("cannot enter the project root")?;
    match args.first().map(String::as_str) {
        Some("ci") => ci(&args[1..]),
        Some("bench") => {
            bench(&args[1..])?;
            bench_eval::run(&root)
        }
        Some("bench-eval") => bench_eval::run(&root),
        Some("compat") => compat::run(&root),
        Some("browser") => browser::run(&root),
        Some("invariants") => step("architecture invariants", || invariants::check(&root)),
        Some("release") => release(&args[1..]),
        Some(other) => bail!("unknown command `{other}`\n\n{USAGE}"),
        None => {
            println!("{USAGE}");
            Ok(())
        }
    }
}

const USAGE: &str = "usage: cargo xtask <command>

commands:
  ci [--fast]          fmt, clippy, tests, rustdoc, invariants, cargo-deny (--fast: no rustdoc, no deny)
  bench [FILTER]       criterion benchmarks of the whole workspace, then bench-eval
  bench-eval           `agentrace run` as a whole process on the release binary
  compat               real PyPI OpenTelemetry clients against the server
  browser              the web page in headless Chromium against the server
  invariants           check the architecture invariants only
  release --dry-run    check versions, CHANGELOG.md and `cargo package`";

fn project_root() -> PathBuf {
    let manifest = env::var("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            env::current_dir()
                .unwrap_or_else(|_| PathBuf::from("."))
                .join("xtask")
        });
    manifest.parent().map(Path::to_path_buf).unwrap_or(manifest)
}

/// Runs one named step, printing its name before and its duration after.
pub(crate) fn step<T>(name: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    println!("==> {name}");
    let started = Instant::now();
    let result = f();
    let secs = started.elapsed().as_secs_f64();
    match &result {
        Ok(_) => println!("<== {name}: ok in {secs:.1}s"),
        Err(_) => println!("<== {name}: FAILED after {secs:.1}s"),
    }
    result.with_context(|| format!("step `{name}` failed"))
}

pub(crate) fn cargo() -> Command {
    Command::new(env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()))
}

pub(crate) fn exec(cmd: &mut Command) -> Result<()> {
    let shown = format!("{cmd:?}");
    println!("    $ {shown}");
    let status = cmd
        .status()
        .with_context(|| format!("cannot start {shown}"))?;
    if !status.success() {
        bail!("{shown} exited with {status}");
    }
    Ok(())
}

pub(crate) fn has_command(program: &str, probe: &[&str]) -> bool {
    Command::new(program)
        .args(probe)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn ci(args: &[String]) -> Result<()> {
    let fast = args.iter().any(|a| a == "--fast");
    let started = Instant::now();
    step("fmt", || {
        exec(cargo().args(["fmt", "--all", "--", "--check"]))
    })?;
    step("clippy", || {
        exec(cargo().args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--locked",
            "--",
            "-D",
            "warnings",
        ]))
    })?;
    step("tests", || {
        if has_command("cargo-nextest", &["nextest", "--version"]) {
            exec(
                cargo()
                    .args([
                        "nextest",
                        "run",
                        "--workspace",
                        "--locked",
                        "--profile",
                        "ci",
                    ])
                    .args(["--no-tests", "fail"])
                    .env("INSTA_UPDATE", "no"),
            )?;
        } else {
            exec(
                cargo()
                    .args(["test", "--workspace", "--locked"])
                    .env("INSTA_UPDATE", "no"),
            )?;
        }
        exec(
            cargo()
                .args(["test", "--workspace", "--doc", "--locked"])
                .env("INSTA_UPDATE", "no"),
        )
    })?;
    step("sdk tests without its default features", || {
        // `bound-metrics` off: streams record each chunk's point through the unbound histogram.
        exec(
            cargo()
                .args([
                    "test",
                    "-p",
                    "agentrace-sdk",
                    "--no-default-features",
                    "--locked",
                    "--test",
                    "it",
                ])
                .env("INSTA_UPDATE", "no"),
        )
    })?;
    if !fast {
        step("rustdoc", || {
            exec(
                cargo()
                    .args(["doc", "--workspace", "--no-deps", "--locked"])
                    .env("RUSTDOCFLAGS", "-D warnings"),
            )
        })?;
    }
    step("architecture invariants", || {
        invariants::check(Path::new("."))
    })?;
    compat::run(&env::current_dir()?)?;
    browser::run(&env::current_dir()?)?;
    if !fast {
        step("cargo-deny", || {
            if !has_command("cargo-deny", &["--version"]) {
                exec(cargo().args(["install", "--locked", "cargo-deny"]))?;
            }
            exec(cargo().args([
                "deny",
                "--all-features",
                "check",
                "bans",
                "licenses",
                "sources",
            ]))
        })?;
    }
    println!(
        "ci: all steps passed in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn bench(args: &[String]) -> Result<()> {
    step("benchmarks", || {
        let mut cmd = cargo();
        cmd.args(["bench", "--workspace", "--locked"]);
        if !args.is_empty() {
            cmd.arg("--").args(args);
        }
        exec(&mut cmd)
    })
}

fn release(args: &[String]) -> Result<()> {
    if !args.iter().any(|a| a == "--dry-run") {
        bail!("only `cargo xtask release --dry-run` is supported: publishing is done by hand");
    }
    let metadata = invariants::Metadata::load()?;
    let version = step("versions agree", || metadata.check_versions_agree())?;
    step("CHANGELOG.md names the version", || {
        let changelog =
            std::fs::read_to_string("CHANGELOG.md").context("cannot read CHANGELOG.md")?;
        let wanted = format!("## [{version}]");
        if !changelog.contains(&wanted) {
            bail!("CHANGELOG.md has no `{wanted}` section");
        }
        Ok(())
    })?;
    step("cargo package", || {
        let mut cmd = cargo();
        cmd.args(["package", "--workspace", "--allow-dirty", "--locked"]);
        for name in metadata.unpublished() {
            cmd.args(["--exclude", &name]);
        }
        exec(&mut cmd)
    })
}
