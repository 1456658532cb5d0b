//! Custom evaluators: an external program speaks the reference's stdin/stdout JSON protocol,
//! version 1.1, so evaluator programs written for agentevals run unchanged.
//!
//! The program reads one JSON document on stdin:
//!
//! ```json
//! {"protocol_version": "1.1", "metric_name": "x", "threshold": 0.5, "config": {},
//!  "invocations": [{"invocation_id": "…", "user_content": "…", "final_response": "…",
//!    "intermediate_steps": {"tool_calls": [{"name": "…", "args": {}, "id": "…"}],
//!                           "tool_responses": [{"name": "…", "output": "<json text>",
//!                                               "status": null, "id": "…", "response": {}}]},
//!    "performance_metrics": {…}, "trace_id": "…", "span_id": "…"}],
//!  "expected_invocations": [… same shape …] or null}
//! ```
//!
//! and writes `{"score": 0..1, "status"?: "PASSED|FAILED|NOT_EVALUATED",
//! "per_invocation_scores": [float|null], "details"?: {}}` on stdout. A missing status is
//! `score >= threshold`. A non-zero exit, no output, output that is not this document, or a
//! score outside 0..1 is an error of this metric alone. The program is killed after its timeout
//! (30 s by default). `.py` files run with `python3`, `.js` / `.ts` with `node`, anything else
//! is run as it is.

use std::io::{Read, Write as _};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::invocation::{Group, Invocation};
use crate::result::{MetricResult, Status};

/// The protocol version spoken.
pub const PROTOCOL_VERSION: &str = "1.1";
/// Default time a program may take.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Most bytes read from a program's stdout.
pub const MAX_OUTPUT_BYTES: usize = 16 << 20;
/// Most bytes of stderr kept for an error message.
const MAX_STDERR_BYTES: usize = 4096;

/// A custom evaluator program.
#[derive(Clone, Debug)]
pub struct CustomEvaluator {
    /// The program.
    pub path: PathBuf,
    /// Time before it is killed.
    pub timeout: Duration,
    /// Its `config` object.
    pub config: Value,
}

/// The protocol's view of one invocation.
pub fn protocol_invocation(inv: &Invocation, group: Option<&Group>) -> Value {
    let tool_calls: Vec<Value> = inv
        .tool_calls
        .iter()
        .map(|c| json!({"name": c.name, "args": c.args, "id": c.id}))
        .collect();
    let tool_responses: Vec<Value> = inv
        .tool_responses
        .iter()
        .map(|r| {
            json!({
                "name": r.name,
                "output": r.response.to_string(),
                "status": if r.is_error { Some("error") } else { None },
                "id": r.id,
                "response": r.response,
            })
        })
        .collect();
    let perf = group.map(|_| {
        json!({
            "llm_calls": inv.llm_calls,
            "tool_calls": inv.tool_calls.len(),
            "tokens": inv.tokens.map(|t| json!({"input": t.input, "output": t.output, "total": t.input + t.output})),
            "duration_ms": inv.duration_s.map(|s| s * 1000.0),
        })
    });
    json!({
        "invocation_id": inv.invocation_id,
        "user_content": inv.user_text.clone().unwrap_or_default(),
        "final_response": inv.final_response,
        "intermediate_steps": {"tool_calls": tool_calls, "tool_responses": tool_responses},
        "performance_metrics": perf,
        "trace_id": inv.trace_id,
        "span_id": group.map(|_| inv.invocation_id.clone()),
    })
}

/// What running the program gave.
#[derive(Debug)]
enum RunFailure {
    Spawn(std::io::Error),
    Timeout(Duration),
    Exit(Option<i32>, String),
    Output(String),
}

impl std::fmt::Display for RunFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Spawn(e) => write!(f, "could not start the evaluator: {e}"),
            Self::Timeout(d) => write!(
                f,
                "timed out after {:.1} s; the process was killed",
                d.as_secs_f64()
            ),
            Self::Exit(code, err) => {
                let code = code.map_or_else(|| "a signal".to_owned(), |c| c.to_string());
                if err.is_empty() {
                    write!(f, "exited with {code}")
                } else {
                    write!(f, "exited with {code}: {err}")
                }
            }
            Self::Output(m) => write!(f, "bad output: {m}"),
        }
    }
}

impl CustomEvaluator {
    fn command(&self) -> Command {
        let ext = self.path.extension().and_then(|e| e.to_str()).unwrap_or("");
        match ext {
            "py" => {
                let mut c = Command::new("python3");
                c.arg(&self.path);
                c
            }
            "js" | "ts" | "mjs" | "cjs" => {
                let mut c = Command::new("node");
                c.arg(&self.path);
                c
            }
            _ => Command::new(&self.path),
        }
    }

    /// Runs the program on `input`, returning its stdout.
    fn run(&self, input: &[u8]) -> Result<Vec<u8>, RunFailure> {
        let started = Instant::now();
        let mut child = self
            .command()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(RunFailure::Spawn)?;
        let (tx, rx) = mpsc::channel::<()>();
        let stdin = child.stdin.take();
        let input = input.to_vec();
        // A program that never reads its input must not block us: writing is a thread of its own.
        let writer = std::thread::spawn(move || {
            if let Some(mut s) = stdin {
                let _ = s.write_all(&input);
            }
        });
        let stdout = child.stdout.take();
        let tx_out = tx.clone();
        let reader = std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(s) = stdout {
                let _ = s.take(MAX_OUTPUT_BYTES as u64 + 1).read_to_end(&mut buf);
            }
            let _ = tx_out.send(());
            buf
        });
        let stderr = child.stderr.take();
        let err_reader = std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(s) = stderr {
                let _ = s.take(1 << 20).read_to_end(&mut buf);
            }
            buf
        });
        drop(tx);
        let deadline = started + self.timeout;
        let status = match rx.recv_timeout(self.timeout) {
            Ok(()) => wait_until(&mut child, deadline),
            Err(_) => None,
        };
        let Some(status) = status else {
            let _ = child.kill();
            let _ = child.wait();
            let _ = writer.join();
            return Err(RunFailure::Timeout(self.timeout));
        };
        let _ = writer.join();
        let out = reader.join().unwrap_or_default();
        let err = err_reader.join().unwrap_or_default();
        if !status.success() {
            let mut e = String::from_utf8_lossy(&err).trim().to_owned();
            if e.len() > MAX_STDERR_BYTES {
                let cut = (0..=MAX_STDERR_BYTES)
                    .rev()
                    .find(|i| e.is_char_boundary(*i))
                    .unwrap_or(0);
                e.truncate(cut);
                e.push('…');
            }
            return Err(RunFailure::Exit(status.code(), e));
        }
        if out.len() > MAX_OUTPUT_BYTES {
            return Err(RunFailure::Output(format!(
                "more than {MAX_OUTPUT_BYTES} bytes on stdout"
            )));
        }
        Ok(out)
    }

    /// Scores a group: the program's document, or an error of this metric alone.
    pub(crate) fn evaluate(
        &self,
        mut base: MetricResult,
        group: &Group,
        actual: &[Invocation],
        expected: Option<&[Invocation]>,
    ) -> MetricResult {
        let input = json!({
            "protocol_version": PROTOCOL_VERSION,
            "metric_name": base.metric,
            "threshold": base.threshold,
            "config": self.config,
            "invocations": actual.iter().map(|i| protocol_invocation(i, Some(group))).collect::<Vec<_>>(),
            "expected_invocations": expected.map(|e| e.iter().map(|i| protocol_invocation(i, None)).collect::<Vec<_>>()),
        });
        let bytes = serde_json::to_vec(&input).unwrap_or_default();
        let threshold = base.threshold.unwrap_or(crate::evaluate::DEFAULT_THRESHOLD);
        match self.run(&bytes).and_then(|out| parse_output(&out)) {
            Ok(o) => {
                base.score = Some(o.score);
                base.status = o.status.unwrap_or_else(|| Status::of(o.score, threshold));
                base.per_invocation_scores = o.per_invocation_scores;
                base.details = o.details;
            }
            Err(e) => {
                base.status = Status::Failed;
                base.error = Some(e.to_string());
            }
        }
        base
    }
}

/// Waits for the child until `deadline`; `None` when it is still running then.
fn wait_until(child: &mut Child, deadline: Instant) -> Option<std::process::ExitStatus> {
    // The program closed its stdout; it normally exits at once. Bounded by the deadline.
    loop {
        match child.try_wait() {
            Ok(Some(s)) => return Some(s),
            Ok(None) => {}
            Err(_) => return None,
        }
        let now = Instant::now();
        if now >= deadline {
            return None;
        }
        std::thread::sleep((deadline - now).min(Duration::from_millis(2)));
    }
}

struct Output {
    score: f64,
    status: Option<Status>,
    per_invocation_scores: Vec<Option<f64>>,
    details: Value,
}

fn parse_output(out: &[u8]) -> Result<Output, RunFailure> {
    let text = std::str::from_utf8(out).map_err(|_| RunFailure::Output("not UTF-8".into()))?;
    if text.trim().is_empty() {
        return Err(RunFailure::Output("nothing on stdout".into()));
    }
    let v: Value = serde_json::from_str(text.trim()).map_err(|e| {
        let head: String = text.trim().chars().take(80).collect();
        RunFailure::Output(format!("not JSON ({e}): {head:?}"))
    })?;
    let score = v
        .get("score")
        .and_then(Value::as_f64)
        .ok_or_else(|| RunFailure::Output("no numeric `score`".into()))?;
    if !(0.0..=1.0).contains(&score) {
        return Err(RunFailure::Output(format!("score {score} is outside 0..1")));
    }
    let status = match v.get("status") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(match s.to_ascii_uppercase().as_str() {
            "PASSED" => Status::Passed,
            "FAILED" => Status::Failed,
            "NOT_EVALUATED" => Status::NotEvaluated,
            other => return Err(RunFailure::Output(format!("unknown status `{other}`"))),
        }),
        Some(other) => {
            return Err(RunFailure::Output(format!(
                "status is not a string: {other}"
            )));
        }
    };
    let per_invocation_scores = match v.get("per_invocation_scores") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a
            .iter()
            .map(|x| match x {
                Value::Null => Ok(None),
                x => x.as_f64().map(Some).ok_or_else(|| {
                    RunFailure::Output(format!("per-invocation score {x} is not a number"))
                }),
            })
            .collect::<Result<_, _>>()?,
        Some(other) => {
            return Err(RunFailure::Output(format!(
                "per_invocation_scores is not a list: {other}"
            )));
        }
    };
    Ok(Output {
        score,
        status,
        per_invocation_scores,
        details: v.get("details").cloned().unwrap_or(Value::Null),
    })
}
