//! `cargo xtask compat`: real OpenTelemetry clients from PyPI against `agentrace serve`.
//!
//! Makes a virtual environment under the target directory (reused while `requirements.txt` is
//! unchanged), installs the pinned clients, starts the server on free loopback ports with an
//! in-memory database, runs `xtask/compat/clients.py` and `examples/python-otel` against it, and
//! stops the server. Then the other way round: agentrace-stream's OTLP transport (example-dice,
//! over OTLP/HTTP and OTLP/gRPC) against `agentevals serve` from agentevals-cli 0.11.0, installed
//! with all its dependencies in a second virtual environment.

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

impl ServerProcess {
    /// Waits until the server answers `GET /api/health` on `port`, at most `limit`.
    fn wait_healthy(&mut self, name: &str, port: u16, limit: Duration) -> Result<()> {
        let started = Instant::now();
        while !healthy(port) {
            if let Some(status) = self.0.try_wait()? {
                bail!("{name} exited early with {status}");
            }
            if started.elapsed() > limit {
                bail!(
                    "{name} did not answer /api/health within {} s",
                    limit.as_secs()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
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
    server.wait_healthy("agentrace serve", port, Duration::from_secs(30))?;
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
    let agentevals = crate::step("compat: agentevals-cli with its server (venv)", || {
        agentevals_venv()
    })?;
    crate::step("compat: build example-dice", || {
        exec(cargo().args(["build", "--locked", "-p", "example-dice"]))
    })?;
    crate::step(
        "compat: agentrace-stream's OTLP transport against agentevals serve",
        || stream_to_agentevals(&agentevals),
    )?;
    Ok(())
}

/// A second virtual environment with agentevals-cli and all its dependencies (about 1 GB: Google
/// ADK, LiteLLM, ...), for its server: the stream client's OTLP transport is checked against a
/// receiver that is not ours.
fn agentevals_venv() -> Result<PathBuf> {
    let dir = target_dir().join("agentevals-venv");
    let marker = dir.join("installed.txt");
    let bin = dir.join("bin/agentevals");
    if std::fs::read_to_string(&marker).ok().as_deref() == Some(AGENTEVALS) && bin.exists() {
        return Ok(bin);
    }
    println!(
        "    installing {AGENTEVALS} with all its dependencies (about 1 GB, 2 to 3 minutes) into \
         {}: its `agentevals serve` receives the stream client's OTLP, to check the client \
         against a server that is not agentrace",
        dir.display()
    );
    exec(
        Command::new(system_python()?)
            .args(["-m", "venv", "--clear"])
            .arg(&dir),
    )
    .context(
        "cannot make a Python virtual environment; on Debian or Ubuntu run `sudo apt-get install -y python3-venv`",
    )?;
    let python = dir.join("bin/python");
    exec(Command::new(&python).args([
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        AGENTEVALS,
    ]))
    .with_context(|| {
        format!(
            "cannot install from PyPI; once you are online run `{} -m pip install {AGENTEVALS}`",
            python.display()
        )
    })?;
    std::fs::write(&marker, AGENTEVALS)?;
    Ok(bin)
}

/// `GET path` on 127.0.0.1:`port`; the body when the status is 200.
fn get_body(port: u16, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut reply = String::new();
    stream.read_to_string(&mut reply).ok()?;
    if !reply.starts_with("HTTP/1.1 200") {
        return None;
    }
    let (head, body) = reply.split_once("\r\n\r\n")?;
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        // One chunk is all these small answers take: its size line, then the data.
        let (_, rest) = body.split_once("\r\n")?;
        return rest
            .rsplit_once("\r\n0\r\n")
            .map(|(data, _)| data.to_owned());
    }
    Some(body.to_owned())
}

/// Starts `agentevals serve` on free loopback ports, streams example-dice to its OTLP/HTTP and
/// OTLP/gRPC receivers with agentrace-stream, and checks that agentevals lists each session
/// with every span the client says it sent.
fn stream_to_agentevals(agentevals: &Path) -> Result<()> {
    let (port, http, grpc) = (free_port()?, free_port()?, free_port()?);
    let server = Command::new(agentevals)
        .args(["serve", "--dev", "--headless", "--host", "127.0.0.1"])
        .args(["--port", &port.to_string()])
        .args(["--otlp-http-port", &http.to_string()])
        .args(["--otlp-grpc-port", &grpc.to_string()])
        .args(["--api-grpc-port", "0"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("cannot start {}", agentevals.display()))?;
    let mut server = ServerProcess(server);
    server.wait_healthy("agentevals serve", port, Duration::from_secs(90))?;
    let dice = build_dir().join("debug/example-dice");
    for (transport, receiver) in [("otlp-http", http), ("otlp-grpc", grpc)] {
        let out = Command::new(&dice)
            .args(["--server", &format!("http://127.0.0.1:{receiver}")])
            .args(["--transport", transport])
            .env("NO_PROXY", "127.0.0.1,localhost")
            .output()
            .with_context(|| format!("cannot run {}", dice.display()))?;
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        if !out.status.success() {
            bail!(
                "example-dice --transport {transport} failed ({}):\n{text}{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let id = text
            .lines()
            .find_map(|l| l.strip_prefix("session "))
            .context("example-dice printed no session id")?
            .trim()
            .to_owned();
        let sent: u64 = text
            .lines()
            .find_map(|l| l.strip_prefix("sent "))
            .and_then(|l| l.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .context("example-dice printed no sent count")?;
        let mut found = None;
        for _ in 0..100 {
            let listed = get_body(port, "/api/streaming/sessions")
                .and_then(|b| serde_json::from_str::<serde_json::Value>(&b).ok());
            let session = listed.as_ref().and_then(|v| {
                v["data"]
                    .as_array()?
                    .iter()
                    .find(|s| s["sessionId"] == id.as_str())
                    .cloned()
            });
            if let Some(s) = session.filter(|s| s["spanCount"] == sent) {
                found = Some(s);
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let session = found.with_context(|| {
            format!(
                "agentevals serve does not list session {id} with its {sent} spans ({transport})"
            )
        })?;
        println!(
            "    {transport}: agentevals serve lists session {id} with {} spans",
            session["spanCount"]
        );
    }
    drop(server);
    Ok(())
}
