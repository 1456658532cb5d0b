//! Project automation for agentrace, run as `cargo xtask <command>`.
//!
//! | command | what it does |
//! |---|---|
//! | `ci [--fast]` | everything CI checks, in order, each step timed, in a copy of the repository with nothing beside it; `--fast` skips rustdoc and cargo-deny |
//! | `bench [FILTER]` | the criterion benchmarks of every crate, then `bench-eval` and `bench-stream`; figures go to `docs/benchmarks.md` by hand |
//! | `bench-eval` | `agentrace run` and `agentrace extract` timed as whole processes on the release binary (throughput, start-up; MB/s and peak memory on a generated 100 MB file of realistic traces) |
//! | `bench-stream [ARGS]` | the stream client's product benchmark: realistic agent sessions streamed by `agentrace-stream` over TCP to the release `agentrace serve` (spans/s end to end, server CPU per span, the client-alone baseline); `ARGS` go to the load generator (`--producers N --turns N --session-turns N --seed N`) |
//! | `fuzz [--cases N]` | the property tests over hostile input with `N` cases each (default 10,000) |
//! | `soak [--seconds N] [--rss-ceiling-mib M]` | mixed load against the release binary for `N` seconds (default 300): memory stays under the ceiling, the only errors are documented 503s, every acknowledged span is read back |
//! | `fixtures [--check]` | new cases from the folder beside the repository into `fixtures/` |
//! | `compat` | real OpenTelemetry clients from PyPI against the server |
//! | `browser` | the web page in headless Chromium (Playwright), against a live server |
//! | `invariants` | the architecture invariants of `docs/ARCHITECTURE.md` alone |
//! | `release --dry-run` | versions agree, CHANGELOG.md names the version, `cargo package` succeeds |

// A command-line tool: printing is its job.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod bench_eval;
mod browser;
mod compat;
mod fixtures;
mod invariants;
mod lone;
mod soak;
mod vocab;

use std::{
    env,
    path::{Path, PathBuf},
    process::{Command, ExitCode},
    sync::OnceLock,
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
    let target = env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let target = std::path::absolute(&target).context("cannot resolve the target directory")?;
    TARGET.get_or_init(|| target);
    match args.first().map(String::as_str) {
        Some("ci") => ci(&root, &args[1..]),
        Some("fixtures") => fixtures::run(&root, &args[1..]),
        Some("bench") => {
            bench(&args[1..])?;
            bench_eval::run(&root)?;
            bench_stream(&[])
        }
        Some("bench-eval") => bench_eval::run(&root),
        Some("bench-stream") => bench_stream(&args[1..]),
        Some("fuzz") => fuzz(&args[1..]),
        Some("soak") => soak::run(&args[1..]),
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
  ci [--fast]          fmt, clippy, tests, rustdoc, invariants, compat, browser, cargo-deny, run in
                       a copy of the repository with nothing beside it (--fast: no rustdoc, no deny)
  soak [--seconds N] [--rss-ceiling-mib M]
                       mixed load (OTLP protobuf, JSON, gRPC, WebSocket, live feeds, API reads
                       and deletes) against the release binary for N seconds (default 300): RSS
                       under M MiB (default 256), only documented 503s, every acknowledged span
                       read back
  fixtures [--check]   copy new or changed cases from the folder beside the repository into
                       fixtures/ and say what changed
  bench [FILTER]       criterion benchmarks of the whole workspace, then bench-eval and
                       bench-stream
  bench-eval           `agentrace run` as a whole process on the release binary
  bench-stream [--producers N] [--turns N] [--session-turns N] [--seed N]
                       agent sessions streamed by agentrace-stream to the release
                       `agentrace serve` over TCP: spans/s end to end, server CPU per span,
                       the client-alone baseline (default 4 producers of 1500 turns each, in
                       sessions of 50 turns)
  fuzz [--cases N]     the property tests over hostile input (decoders, protocol handlers) with N
                       cases each (default 10000)
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

/// How long each step takes on a cold machine (2 cores, nothing built or installed yet), so that a
/// newcomer's first `cargo xtask ci` says what it is doing and for how long. Warm runs are faster.
const COLD: &[(&str, &str)] = &[
    ("copy of the repository alone", "5 s"),
    ("fmt", "5 s"),
    ("clippy", "4 min"),
    (
        "tests (from a copy of the repository alone)",
        "7 min: builds the tests of every crate, then runs them (the first `ci` on a machine where \
         the crates were already built still builds them once more, for the copy)",
    ),
    ("sdk tests without its default features", "1.5 min"),
    ("rustdoc", "30 s"),
    ("architecture invariants", "5 s"),
    ("compat: Python clients (venv)", "1 min, once"),
    ("compat: build agentrace", "2.5 min"),
    ("compat: clients against agentrace serve", "30 s"),
    (
        "compat: examples/python-otel against agentrace serve",
        "5 s",
    ),
    (
        "compat: agentevals-cli with its server (venv)",
        "2.5 min, once (about 1 GB)",
    ),
    ("compat: build example-dice", "30 s"),
    (
        "compat: agentrace-stream's OTLP transport against agentevals serve",
        "15 s",
    ),
    ("soak: build agentrace (debug)", "1 s: compat built it"),
    (
        "soak: 45 s of mixed load on the debug binary, RSS ceiling 256 MiB",
        "50 s",
    ),
    ("browser: Chromium", "2 min, once"),
    ("browser: Playwright (venv)", "1 min, once"),
    ("browser: build agentrace", "5 s"),
    ("browser: page test in headless Chromium", "1 min"),
    (
        "cargo-deny",
        "5 min, once (it installs cargo-deny from crates.io)",
    ),
];

/// The expected cold duration of a step, if it is listed in [`COLD`].
fn cold(name: &str) -> Option<&'static str> {
    COLD.iter().find(|(step, _)| *step == name).map(|(_, d)| *d)
}

/// Runs one named step, printing its name (with its expected duration on a cold machine) before
/// and its duration after.
pub(crate) fn step<T>(name: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    match cold(name) {
        Some(expected) => println!("==> {name} (cold machine: about {expected})"),
        None => println!("==> {name}"),
    }
    let started = Instant::now();
    let result = f();
    let secs = started.elapsed().as_secs_f64();
    match &result {
        Ok(_) => println!("<== {name}: ok in {secs:.1}s"),
        Err(_) => println!("<== {name}: FAILED after {secs:.1}s"),
    }
    result.with_context(|| format!("step `{name}` failed"))
}

/// The absolute target directory of the project (`CARGO_TARGET_DIR`, else `target/`): the
/// virtual environments and screenshots live there.
static TARGET: OnceLock<PathBuf> = OnceLock::new();

/// Where cargo builds: the target directory, except in `ci`, which builds the copy of the
/// repository into a directory of its own under it (`lone-build/`). A build shared with the
/// original would be taken as fresh (cargo names workspace units by their path inside the
/// workspace, and the copy keeps file times), so its test binaries would still read the
/// original's files.
static BUILD: OnceLock<PathBuf> = OnceLock::new();

pub(crate) fn target_dir() -> PathBuf {
    TARGET
        .get()
        .cloned()
        .unwrap_or_else(|| PathBuf::from("target"))
}

pub(crate) fn build_dir() -> PathBuf {
    BUILD.get_or_init(target_dir).clone()
}

/// A `cargo` command that builds into [`build_dir`], wherever it runs.
pub(crate) fn cargo() -> Command {
    let mut cmd = Command::new(env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()));
    cmd.env("CARGO_TARGET_DIR", build_dir());
    cmd
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

fn ci(root: &Path, args: &[String]) -> Result<()> {
    let fast = args.iter().any(|a| a == "--fast");
    let started = Instant::now();
    println!(
        "ci: every step below runs on 2 cores in about 25 min on a cold machine (nothing built or \
         installed yet) and 4 to 10 min warm.\n    \
         It installs, the first time: Python packages into a virtual environment under {venv} \
         (real OpenTelemetry clients and agentevals-cli from PyPI, to test compatibility; Playwright, \
         to drive the browser), agentevals-cli with all its dependencies (about 1 GB) into another \
         under {agentevals} (its server receives the stream client's OTLP), Debian's chromium with \
         apt-get (the web page is tested in a real browser) and cargo-deny from crates.io (license \
         and source checks).",
        venv = target_dir().join("compat-venv").display(),
        agentevals = target_dir().join("agentevals-venv").display()
    );
    let copy = lone::location(root);
    BUILD.get_or_init(|| target_dir().join("lone-build"));
    step("copy of the repository alone", || {
        let synced = lone::sync(root, &copy)?;
        println!(
            "    {} ({} files copied, {} unchanged, {} removed): the checks run there, with nothing \
             beside it, as in a user's clone, and build into {}; paths in messages below are in that \
             copy, edit the originals",
            copy.display(),
            synced.copied,
            synced.unchanged,
            synced.removed,
            build_dir().display(),
        );
        disk_room(&build_dir())
    })?;
    env::set_current_dir(&copy).context("cannot enter the copy of the repository")?;
    let root = copy.as_path();
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
    step("tests (from a copy of the repository alone)", || {
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
    step("architecture invariants", || invariants::check(root))?;
    compat::run(root)?;
    // The debug binary compat built: a short soak, without a release build of its own.
    soak::run(&[
        "--seconds".to_owned(),
        "45".to_owned(),
        "--debug".to_owned(),
    ])?;
    browser::run(root)?;
    if !fast {
        step("cargo-deny", || {
            if !has_command("cargo-deny", &["--version"]) {
                println!(
                    "    installing cargo-deny from crates.io (it checks licenses and sources)"
                );
                exec(cargo().args(["install", "--locked", "cargo-deny"])).context(
                    "cannot install cargo-deny; run `cargo install --locked cargo-deny` once you are online",
                )?;
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

/// `cargo xtask bench-stream`: builds the release server and the load generator
/// (`crates/agentrace-stream/examples/stream_load.rs`), then runs it against the server binary.
/// It takes a few seconds of load (about 85,000 spans by default) and fails if a span is lost.
fn bench_stream(args: &[String]) -> Result<()> {
    step("release binary and load generator", || {
        exec(cargo().args([
            "build",
            "--locked",
            "--release",
            "-p",
            "agentrace",
            "-p",
            "agentrace-stream",
            "--bin",
            "agentrace",
            "--example",
            "stream_load",
        ]))
    })?;
    let release = build_dir().join("release");
    let mut load = Command::new(release.join("examples/stream_load"));
    load.arg("--server-bin").arg(release.join("agentrace"));
    if args.is_empty() {
        load.args([
            "--producers",
            "4",
            "--turns",
            "1500",
            "--session-turns",
            "50",
        ]);
    }
    load.args(args);
    step(
        "stream client end to end (load generator, release server)",
        || exec(&mut load),
    )
}

/// The property tests whose input is hostile: every trace reader on arbitrary bytes and JSON,
/// the protobuf wire decoder against prost, the streaming reader against the tree reader, the
/// server's OTLP/HTTP routes, WebSocket handler, wire item count and Host check, and the
/// adversarial tests of the server's decoders and protocol handlers (deep nesting, huge counts,
/// long strings, truncated input, gRPC framing, a gzip bomb).
const FUZZ_FILTER: &str = "test(/never_panic/) | test(/^fuzz::/) | test(/^adversarial::/) \
    | test(/decodes_as_prost_and_the_conversion_do/) | test(/streaming_equals_the_tree_reader/)";

/// `cargo xtask fuzz [--cases N]`: runs [`FUZZ_FILTER`]'s tests with `N` cases each (their
/// default in `cargo xtask ci` is 64 to 512).
fn fuzz(args: &[String]) -> Result<()> {
    let cases: u32 = match args.iter().position(|a| a == "--cases") {
        Some(i) => args
            .get(i + 1)
            .context("`--cases` needs a number")?
            .parse()
            .context("`--cases` needs a whole number")?,
        None => 10_000,
    };
    step(
        &format!("fuzz: decoders and protocol handlers, {cases} cases each"),
        || {
            exec(
                cargo()
                    .args([
                        "nextest",
                        "run",
                        "--locked",
                        "--profile",
                        "fuzz",
                        "-p",
                        "agentrace-loader",
                        "-p",
                        "agentrace-server",
                        "--no-tests",
                        "fail",
                        "-E",
                        FUZZ_FILTER,
                    ])
                    .env("AGENTRACE_FUZZ_CASES", cases.to_string())
                    .env("INSTA_UPDATE", "no"),
            )
        },
    )
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

/// What a cold `ci` takes on disk, with room to spare: the build in `lone-build` (debug line
/// tables only; 4.8 GiB measured) and the Python environments under the target directory
/// (1.2 GiB, agentevals-cli with its dependencies most of it).
const COLD_BUILD_GIB: u64 = 8;

/// Says how much disk is free where the build goes, and stops before a cold build that cannot
/// fit: a build that runs out of space fails minutes in, with a message about a temp file.
fn disk_room(build: &Path) -> Result<()> {
    let probe = build
        .ancestors()
        .find(|p| p.exists())
        .unwrap_or(Path::new("."));
    let out = match Command::new("df").args(["-Pk"]).arg(probe).output() {
        Ok(out) if out.status.success() => out,
        _ => {
            println!("    free disk: unknown (`df` did not answer)");
            return Ok(());
        }
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let Some(free_kib) = text
        .lines()
        .nth(1)
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|v| v.parse::<u64>().ok())
    else {
        println!("    free disk: unknown (`df` printed no figure)");
        return Ok(());
    };
    let free_gib = free_kib as f64 / (1024.0 * 1024.0);
    let cold = !build.join("debug").exists();
    println!(
        "    free disk at {}: {free_gib:.1} GiB (a cold run takes about {COLD_BUILD_GIB} GiB)",
        probe.display()
    );
    if cold && free_gib < COLD_BUILD_GIB as f64 {
        bail!(
            "only {free_gib:.1} GiB free at {}, and a cold run needs about {COLD_BUILD_GIB} GiB: \
             free some space (or point CARGO_TARGET_DIR at a larger disk) and run again",
            probe.display()
        );
    }
    Ok(())
}
