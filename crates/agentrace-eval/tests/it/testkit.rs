//! Test helpers: the corpus, running a case, comparing values as the corpus README says.

use std::path::{Path, PathBuf};

use agentrace_eval::eval_set::EvalSet;
use agentrace_eval::evaluate::{MetricSpec, evaluate_group};
use agentrace_eval::invocation::Group;
use agentrace_eval::metrics::trajectory::MatchType;
use agentrace_eval::result::GroupResult;
use agentrace_loader::extract::{ExtractOptions, GroupBy};
use agentrace_loader::read::{Format, LoadOptions};
use serde_json::Value;

/// The conformance corpus.
pub(crate) fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/conformance")
}

/// Test data of this crate.
pub(crate) fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// Reads a JSON file.
pub(crate) fn read_json(p: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

/// The corpus case folders, sorted.
pub(crate) fn cases() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(corpus())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("expected.json").exists())
        .collect();
    dirs.sort();
    dirs
}

/// Runs one corpus case as one of the reference's CLI runs: extraction with the case's
/// options, then the metrics `names` with the match type.
pub(crate) fn run_case(dir: &Path, names: &[&str], mt: MatchType) -> Vec<GroupResult> {
    let case = read_json(&dir.join("case.json"));
    let options = case.get("options").cloned().unwrap_or(Value::Null);
    let group_by: GroupBy = options
        .get("group_by")
        .and_then(Value::as_str)
        .map_or(GroupBy::Auto, |s| s.parse().unwrap());
    let format: Option<Format> = options
        .get("trace_format")
        .and_then(Value::as_str)
        .map(|s| s.parse().unwrap());
    let threshold = options.get("threshold").and_then(Value::as_f64);
    let trace = ["trace.json", "trace.jsonl"]
        .iter()
        .map(|n| dir.join(n))
        .find(|p| p.exists())
        .unwrap();
    let set = EvalSet::from_path(&dir.join("eval_set.json")).unwrap();
    let opts = ExtractOptions {
        group_by,
        cases: Some(set.expected_cases()),
    };
    let loaded = agentrace_loader::read::load_path(&trace, LoadOptions { format }).unwrap();
    let tset = agentrace_loader::trace::TraceSet::build(loaded.telemetry);
    let ex = agentrace_loader::extract::extract(&tset, &opts);
    let specs: Vec<MetricSpec> = names
        .iter()
        .map(|n| MetricSpec::builtin(n, threshold, Some(mt), &Value::Null).unwrap())
        .collect();
    Group::from_extraction(&ex)
        .iter()
        .map(|g| evaluate_group(g, Some(&set), &specs))
        .collect()
}

/// Writes an executable shell script and returns its path.
pub(crate) fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt as _;
    let p = dir.join(name);
    std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

/// A group of one corpus case with its golden case selected, and the eval set.
pub(crate) fn corpus_group(case: &str) -> (Group, EvalSet) {
    let dir = corpus().join(case);
    let set = EvalSet::from_path(&dir.join("eval_set.json")).unwrap();
    let loaded =
        agentrace_loader::read::load_path(&dir.join("trace.json"), LoadOptions::default()).unwrap();
    let tset = agentrace_loader::trace::TraceSet::build(loaded.telemetry);
    let ex = agentrace_loader::extract::extract(
        &tset,
        &ExtractOptions {
            group_by: GroupBy::Auto,
            cases: Some(set.expected_cases()),
        },
    );
    (Group::from_extraction(&ex).remove(0), set)
}

/// What the mock judge does with one request.
#[derive(Clone, Debug)]
pub(crate) enum Reply {
    /// Answers with this status and body.
    Http(u16, String),
    /// Answers 200 with a chat completion whose content is this text.
    Chat(String),
    /// Never answers; waits for the client to give up.
    Hang,
}

/// A mock OpenAI-compatible endpoint on 127.0.0.1:0 that serves the scripted replies in order
/// and records each request (head and body).
pub(crate) struct MockJudge {
    /// `http://127.0.0.1:PORT/v1`.
    pub(crate) base_url: String,
    handle: std::thread::JoinHandle<Vec<(String, Vec<u8>)>>,
}

impl MockJudge {
    pub(crate) fn start(replies: Vec<Reply>) -> Self {
        use std::io::{BufRead as _, BufReader, Read as _, Write as _};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base_url = format!("http://{}/v1", listener.local_addr().unwrap());
        let handle = std::thread::spawn(move || {
            let mut seen = Vec::new();
            for reply in replies {
                let (stream, _) = listener.accept().unwrap();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut head = String::new();
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
                        break;
                    }
                    head.push_str(&line);
                }
                let len = head
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case("content-length")
                            .then(|| v.trim().parse::<usize>().ok())?
                    })
                    .unwrap_or(0);
                let mut body = vec![0; len];
                reader.read_exact(&mut body).unwrap();
                seen.push((head, body));
                let (status, text) = match reply {
                    Reply::Hang => {
                        // Read until the client closes the connection.
                        let mut sink = Vec::new();
                        let _ = reader.read_to_end(&mut sink);
                        continue;
                    }
                    Reply::Http(s, b) => (s, b),
                    Reply::Chat(content) => (
                        200,
                        serde_json::json!({"choices": [{"message": {"role": "assistant", "content": content}}]})
                            .to_string(),
                    ),
                };
                let mut s = stream;
                let _ = write!(
                    s,
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
                    text.len()
                );
            }
            seen
        });
        Self { base_url, handle }
    }

    /// The requests received, once every reply was served.
    pub(crate) fn requests(self) -> Vec<(String, Vec<u8>)> {
        self.handle.join().unwrap()
    }
}
