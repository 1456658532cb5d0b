//! `cargo xtask compat`: real OpenTelemetry clients from PyPI against `agentrace serve`.
//!
//! Makes a virtual environment under the target directory (reused while `requirements.txt` is
//! unchanged), installs the pinned clients, starts the server on free loopback ports with an
//! in-memory database, runs `xtask/compat/clients.py` against it, and stops the server.

use std::{
    io::{Read, Write},
    net::{TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};

use crate::{build_dir, cargo, exec, target_dir};

const AGENTEVALS: &str = "agentevals-cli==0.11.0";

fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("no free loopback port")?;
    Ok(listener.local_addr()?.port())
}

fn venv(root: &Path) -> Result<PathBuf> {
    let requirements = root.join("xtask/compat/requirements.txt");
    let wanted = std::fs::read_to_string(&requirements).context("read requirements.txt")?;
    let dir = target_dir().join("compat-venv");
    let marker = dir.join("installed-requirements.txt");
    let python = dir.join("bin/python");
    if std::fs::read_to_string(&marker).ok().as_deref() == Some(wanted.as_str()) && python.exists()
    {
        return Ok(python);
    }
    println!(
        "    installing the pinned Python clients of xtask/compat/requirements.txt and {AGENTEVALS} \
         into a virtual environment at {}: the compatibility tests run real PyPI OpenTelemetry \
         clients against the server",
        dir.display()
    );
    let system_python = system_python()?;
    exec(
        Command::new(system_python)
            .args(["-m", "venv", "--clear"])
            .arg(&dir),
    )
    .context(
        "cannot make a Python virtual environment; on Debian or Ubuntu run `sudo apt-get install -y python3-venv`",
    )?;
    let pip_install = format!(
        "{} -m pip install -r {} && {} -m pip install --no-deps {AGENTEVALS}",
        python.display(),
        requirements.display(),
        python.display()
    );
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
        format!("cannot install from PyPI; once you are online run `{pip_install}`")
    })?;
    exec(Command::new(&python).args([
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-deps",
        AGENTEVALS,
    ]))
    .with_context(|| {
        format!("cannot install from PyPI; once you are online run `{pip_install}`")
    })?;
    std::fs::write(&marker, wanted)?;
    Ok(python)
}

/// The system's Python 3, which makes the virtual environments.
pub(crate) fn system_python() -> Result<&'static str> {
    for candidate in ["python3", "python"] {
        if crate::has_command(candidate, &["--version"]) {
            return Ok(candidate);
        }
    }
    bail!(
        "no Python 3 found: the compatibility and browser tests need Python 3.11 or later; on Debian or \
         Ubuntu run `sudo apt-get install -y python3 python3-venv`"
    )
}

struct ServerProcess(Child);

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn healthy(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request =
        format!("GET /api/health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut reply = String::new();
    let _ = stream.read_to_string(&mut reply);
    reply.starts_with("HTTP/1.1 200")
}

/// Runs the compatibility suite.
pub(crate) fn run(root: &Path) -> Result<()> {
    let python = crate::step("compat: Python clients (venv)", || venv(root))?;
    crate::step("compat: build agentrace", || {
        exec(cargo().args(["build", "--locked", "-p", "agentrace"]))
    })?;
    let binary = build_dir().join("debug/agentrace");
    let (port, http, grpc) = (free_port()?, free_port()?, free_port()?);
    let server = Command::new(&binary)
        .args(["serve", "--db", ":memory:", "--headless"])
        .args(["--port", &port.to_string()])
        .args(["--otlp-http-port", &http.to_string()])
        .args(["--otlp-grpc-port", &grpc.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("cannot start {}", binary.display()))?;
    let mut server = ServerProcess(server);
    let started = Instant::now();
    while !healthy(port) {
        if let Some(status) = server.0.try_wait()? {
            bail!("agentrace serve exited early with {status}");
        }
        if started.elapsed() > Duration::from_secs(30) {
            bail!("agentrace serve did not answer /api/health within 30 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    crate::step("compat: clients against agentrace serve", || {
        exec(
            Command::new(&python)
                .arg(root.join("xtask/compat/clients.py"))
                .env("AGENTRACE_URL", format!("http://127.0.0.1:{port}"))
                .env("OTLP_HTTP", format!("http://127.0.0.1:{http}"))
                .env("OTLP_GRPC", format!("http://127.0.0.1:{grpc}"))
                .env("NO_PROXY", "127.0.0.1,localhost"),
        )
    })?;
    crate::step(
        "compat: examples/python-otel against agentrace serve",
        || {
            exec(
                Command::new(&python)
                    .arg(root.join("examples/python-otel/agent.py"))
                    .args(["--server", &format!("http://127.0.0.1:{port}")])
                    .env("NO_PROXY", "127.0.0.1,localhost"),
            )
        },
    )?;
    drop(server);
    Ok(())
}
