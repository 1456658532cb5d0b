//! How the server process should run: allocator options that mimalloc only reads from the
//! environment at start.
//!
//! mimalloc (the allocator the `agentrace` binary ships with) gives freed pages back to the
//! operating system only `MIMALLOC_PURGE_DELAY` milliseconds after they were freed (1000 by
//! default), and only when the thread that freed them allocates again. A server that finishes a
//! burst of sessions on a few worker threads and then idles kept most of that memory resident
//! (docs/benchmarks.md: about 2x the memory per stored span after sessions completed). With a
//! delay of 10 ms (mimalloc 2's default) the pages go back almost as they are freed; a delay of 0
//! cost a quarter of the OTLP/HTTP throughput in the same benchmark.
//!
//! How they go back is `MIMALLOC_PURGE_DECOMMITS`. Decommitted (mimalloc's default), a page
//! leaves the process at once and the next allocation there takes a page fault and a zeroed
//! page: under steady ingest, sessions' memory is freed as they complete and taken again by the
//! next ones, and those faults were about a tenth of the server's CPU time. Set to 0, a purged
//! page is only marked free (`MADV_FREE`): the kernel takes it back when it needs memory, and
//! until then reusing it costs nothing. The price is that resident memory no longer drops after
//! a burst while the machine has memory to spare (docs/benchmarks.md, Server). Either variable
//! set by the user is left as it is.
//!
//! The variables can only be set before the process starts (a safe Rust program cannot set them
//! later), so [`restart_with_allocator_options`] starts the same program again with them.

use std::ffi::OsString;

/// A mimalloc option the server sets.
pub const PURGE_DELAY_VAR: &str = "MIMALLOC_PURGE_DELAY";
/// Its value: milliseconds between freeing memory and giving it back to the system.
pub const PURGE_DELAY_MS: &str = "10";
/// The other mimalloc option the server sets.
pub const PURGE_DECOMMITS_VAR: &str = "MIMALLOC_PURGE_DECOMMITS";
/// Its value: purged pages are marked free (`MADV_FREE`) rather than decommitted.
pub const PURGE_DECOMMITS: &str = "0";

/// The options the server runs with: `(name, value)`.
pub const ALLOCATOR_OPTIONS: [(&str, &str); 2] = [
    (PURGE_DELAY_VAR, PURGE_DELAY_MS),
    (PURGE_DECOMMITS_VAR, PURGE_DECOMMITS),
];

/// The environment the server process wants that the current one lacks: `(name, value)` pairs.
/// A variable the user set is left as it is.
pub fn missing_allocator_options(
    current: impl Fn(&str) -> Option<OsString>,
) -> Vec<(&'static str, &'static str)> {
    ALLOCATOR_OPTIONS
        .into_iter()
        .filter(|(name, _)| current(name).is_none())
        .collect()
}

/// Replaces the current process with the same program and arguments, with the allocator options
/// of [`missing_allocator_options`] set; returns at once, doing nothing, when none is missing.
/// On failure (or where processes cannot be replaced) it returns the reason and the caller goes
/// on as it is: the options only change how and when memory is given back.
pub fn restart_with_allocator_options() -> Option<std::io::Error> {
    let missing = missing_allocator_options(|name| std::env::var_os(name));
    if missing.is_empty() {
        return None;
    }
    exec_with(&missing)
}

/// The environment variable the server's token may come from.
pub const AUTH_TOKEN_VAR: &str = "AGENTRACE_AUTH_TOKEN";

/// The command line without its `--auth-token VALUE` (or `--auth-token=VALUE`), and the value.
/// Arguments after `--` are left alone.
pub fn token_out_of_args(args: Vec<OsString>) -> (Vec<OsString>, Option<OsString>) {
    let mut kept = Vec::with_capacity(args.len());
    let mut token = None;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        if arg == "--" {
            kept.push(arg);
            kept.extend(args.by_ref());
            break;
        }
        if arg == "--auth-token" {
            token = args.next();
            continue;
        }
        if let Some(value) = arg.to_str().and_then(|a| a.strip_prefix("--auth-token=")) {
            token = Some(value.into());
            continue;
        }
        kept.push(arg);
    }
    (kept, token)
}

#[cfg(unix)]
fn exec_with(vars: &[(&str, &str)]) -> Option<std::io::Error> {
    use std::os::unix::process::CommandExt;
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(err) => return Some(err),
    };
    let mut args = std::env::args_os();
    let mut command = std::process::Command::new(exe);
    if let Some(arg0) = args.next() {
        command.arg0(arg0);
    }
    // A token given on the command line goes to the new process through its environment, not
    // its arguments (which every user of the machine can read, e.g. with `ps`).
    let (args, token) = token_out_of_args(args.collect());
    command.args(args);
    if let Some(token) = token {
        command.env(AUTH_TOKEN_VAR, token);
    }
    for (name, value) in vars {
        command.env(name, value);
    }
    // `exec` only returns on failure.
    Some(command.exec())
}

#[cfg(not(unix))]
fn exec_with(_vars: &[(&str, &str)]) -> Option<std::io::Error> {
    Some(std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        "this platform cannot replace a running process",
    ))
}

#[cfg(test)]
mod tests {
    use std::ffi::OsString;

    use super::{
        PURGE_DECOMMITS, PURGE_DECOMMITS_VAR, PURGE_DELAY_MS, PURGE_DELAY_VAR,
        missing_allocator_options, token_out_of_args,
    };

    fn os(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    #[test]
    fn the_restarted_process_gets_the_token_in_its_environment_not_its_arguments() {
        let (args, token) = token_out_of_args(os(&["serve", "--auth-token", "s3cret", "-v"]));
        assert_eq!(args, os(&["serve", "-v"]));
        assert_eq!(token, Some("s3cret".into()));
        let (args, token) = token_out_of_args(os(&["serve", "--auth-token=s3cret"]));
        assert_eq!(args, os(&["serve"]));
        assert_eq!(token, Some("s3cret".into()));
        let (args, token) = token_out_of_args(os(&["serve", "--", "--auth-token", "x"]));
        assert_eq!(args, os(&["serve", "--", "--auth-token", "x"]));
        assert_eq!(token, None);
    }

    #[test]
    fn each_allocator_option_is_set_unless_the_user_set_it() {
        assert_eq!(
            missing_allocator_options(|_| None),
            [
                (PURGE_DELAY_VAR, PURGE_DELAY_MS),
                (PURGE_DECOMMITS_VAR, PURGE_DECOMMITS)
            ]
        );
        assert_eq!(
            missing_allocator_options(|name| (name == PURGE_DELAY_VAR).then(|| "250".into())),
            [(PURGE_DECOMMITS_VAR, PURGE_DECOMMITS)]
        );
        assert!(missing_allocator_options(|_| Some("1".into())).is_empty());
    }
}
