//! How the server process should run: allocator options that mimalloc only reads from the
//! environment at start.
//!
//! mimalloc (the allocator the `agentrace` binary ships with) gives freed pages back to the
//! operating system only `MIMALLOC_PURGE_DELAY` milliseconds after they were freed (1000 by
//! default), and only when the thread that freed them allocates again. A server that finishes a
//! burst of sessions on a few worker threads and then idles kept most of that memory resident
//! (docs/benchmarks.md: about 2x the memory per stored span after sessions completed). With a
//! delay of 10 ms (mimalloc 2's default) the pages go back almost as they are freed, at no
//! measurable cost in ingest speed; a delay of 0 cost a quarter of the OTLP/HTTP throughput in
//! the same benchmark. The variable can only be set before the process starts (a safe Rust
//! program cannot set it later), so [`restart_with_allocator_options`] starts the same program
//! again with it.

use std::ffi::OsString;

/// The mimalloc option the server sets.
pub const PURGE_DELAY_VAR: &str = "MIMALLOC_PURGE_DELAY";
/// Its value: milliseconds between freeing memory and giving it back to the system.
pub const PURGE_DELAY_MS: &str = "10";

/// The environment the server process wants that the current one lacks: `(name, value)` pairs.
/// A variable the user set is left as it is.
pub fn missing_allocator_options(
    current: impl Fn(&str) -> Option<OsString>,
) -> Vec<(&'static str, &'static str)> {
    if current(PURGE_DELAY_VAR).is_some() {
        Vec::new()
    } else {
        vec![(PURGE_DELAY_VAR, PURGE_DELAY_MS)]
    }
}

/// Replaces the current process with the same program and arguments, with the allocator options
/// of [`missing_allocator_options`] set; returns at once, doing nothing, when none is missing.
/// On failure (or where processes cannot be replaced) it returns the reason and the caller goes
/// on as it is: the options only change how soon memory is given back.
pub fn restart_with_allocator_options() -> Option<std::io::Error> {
    let missing = missing_allocator_options(|name| std::env::var_os(name));
    if missing.is_empty() {
        return None;
    }
    exec_with(&missing)
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
    command.args(args);
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
    use super::{PURGE_DELAY_MS, PURGE_DELAY_VAR, missing_allocator_options};

    #[test]
    fn the_purge_delay_is_set_unless_the_user_set_it() {
        assert_eq!(
            missing_allocator_options(|_| None),
            [(PURGE_DELAY_VAR, PURGE_DELAY_MS)]
        );
        assert!(
            missing_allocator_options(|name| (name == PURGE_DELAY_VAR).then(|| "250".into()))
                .is_empty()
        );
    }
}
