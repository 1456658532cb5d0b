//! `cargo xtask browser`: the web page in a real headless browser.
//!
//! Uses Debian's Chromium (`/usr/bin/chromium`, installed with `apt-get install -y chromium`
//! when missing) driven by Python Playwright from PyPI, installed into the compat virtual
//! environment from `xtask/browser/requirements.txt`. Playwright's own browser downloads are
//! never used. Builds the debug `agentrace` binary and runs `xtask/browser/page_test.py`, which
//! starts the server on free loopback ports and checks the page against the API; screenshots go
//! to `<target>/browser/`.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context, Result, bail};

use crate::{build_dir, cargo, exec, has_command, step, target_dir};

const CHROMIUM: &str = "/usr/bin/chromium";

/// Installs Debian's Chromium when it is missing, with `sudo` when not root.
fn ensure_chromium() -> Result<()> {
    if Path::new(CHROMIUM).exists() {
        return Ok(());
    }
    if !has_command("apt-get", &["--version"]) {
        bail!(
            "{CHROMIUM} is missing and there is no apt-get to install it: install Chromium so that \
             it is at {CHROMIUM} (the web page test drives a real browser)"
        );
    }
    println!(
        "    installing Debian's chromium and fonts-liberation with apt-get: the web page is tested in a \
         real headless browser"
    );
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0");
    let apt = |args: &[&str]| -> Result<()> {
        if root {
            exec(
                Command::new("apt-get")
                    .args(args)
                    .env("DEBIAN_FRONTEND", "noninteractive"),
            )
        } else if has_command("sudo", &["-n", "true"]) {
            exec(
                Command::new("sudo")
                    .args(["-n", "env", "DEBIAN_FRONTEND=noninteractive", "apt-get"])
                    .args(args),
            )
        } else {
            bail!(
                "{CHROMIUM} is missing and this user can neither run apt-get nor sudo without a password: \
                 run `sudo apt-get install -y --no-install-recommends chromium fonts-liberation`"
            )
        }
    };
    let by_hand = "run `sudo apt-get update && sudo apt-get install -y --no-install-recommends chromium fonts-liberation`";
    apt(&["update", "-qq"]).with_context(|| format!("apt-get update failed; {by_hand}"))?;
    // Without recommends (no sandbox helper, printing or desktop services); a font is named so
    // that the screenshots have readable text.
    apt(&[
        "install",
        "-y",
        "-qq",
        "--no-install-recommends",
        "chromium",
        "fonts-liberation",
    ])
    .with_context(|| format!("apt-get install failed; {by_hand}"))?;
    if !Path::new(CHROMIUM).exists() {
        bail!("`apt-get install chromium` succeeded but {CHROMIUM} is still missing");
    }
    Ok(())
}

/// The compat venv's Python with Playwright installed (reinstalled when the requirements change).
fn playwright_python(root: &Path) -> Result<PathBuf> {
    let requirements = root.join("xtask/browser/requirements.txt");
    let wanted =
        std::fs::read_to_string(&requirements).context("read xtask/browser/requirements.txt")?;
    let dir = target_dir().join("compat-venv");
    let python = dir.join("bin/python");
    let marker = dir.join("installed-browser-requirements.txt");
    if std::fs::read_to_string(&marker).ok().as_deref() == Some(wanted.as_str())
        && has_command(&python.to_string_lossy(), &["-c", "import playwright"])
    {
        return Ok(python);
    }
    println!(
        "    installing Playwright ({}) into the virtual environment at {}: it drives Debian's Chromium \
         (its own browser downloads are never used)",
        requirements.display(),
        dir.display()
    );
    if !python.exists() {
        exec(
            Command::new(crate::compat::system_python()?)
                .args(["-m", "venv"])
                .arg(&dir),
        )
        .context(
            "cannot make a Python virtual environment; on Debian or Ubuntu run `sudo apt-get install -y python3-venv`",
        )?;
    }
    exec(
        Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "-r",
            ])
            .arg(&requirements),
    )
    .with_context(|| {
        format!(
            "cannot install Playwright from PyPI; once you are online run `{} -m pip install -r {}`",
            python.display(),
            requirements.display()
        )
    })?;
    std::fs::write(&marker, wanted)?;
    Ok(python)
}

/// Runs the browser test.
pub(crate) fn run(root: &Path) -> Result<()> {
    step("browser: Chromium", ensure_chromium)?;
    let python = step("browser: Playwright (venv)", || playwright_python(root))?;
    step("browser: build agentrace", || {
        exec(cargo().args(["build", "--locked", "-p", "agentrace"]))
    })?;
    let target = std::path::absolute(target_dir())?;
    let build = std::path::absolute(build_dir())?;
    let fixtures = root.join("fixtures/conformance");
    if !fixtures.join("multi_turn_cart/trace.json").exists() {
        bail!(
            "the conformance corpus is missing at {}: the browser test posts its traces",
            fixtures.display()
        );
    }
    step("browser: page test in headless Chromium", || {
        exec(
            Command::new(&python)
                .arg(root.join("xtask/browser/page_test.py"))
                .env("AGENTRACE_BIN", build.join("debug/agentrace"))
                .env("FIXTURES", &fixtures)
                .env("SHOTS", target.join("browser"))
                .env("CHROMIUM", CHROMIUM)
                .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
                .env("NO_PROXY", "127.0.0.1,localhost"),
        )
    })
}
