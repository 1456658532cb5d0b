//! `agentrace extract`: the JSON report equals the conformance corpus' extraction part, the
//! table prints, and a file that cannot be read exits with 2.

use std::path::{Path, PathBuf};
use std::process::Command;

fn corpus(case: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/conformance")
        .join(case)
}

fn agentrace() -> Command {
    Command::new(env!("CARGO_BIN_EXE_agentrace"))
}

#[test]
fn json_output_is_the_extraction_part_of_expected_json() {
    let dir = corpus("multi_turn_cart");
    let out = agentrace()
        .arg("extract")
        .arg(dir.join("trace.json"))
        .arg("--eval-set")
        .arg(dir.join("eval_set.json"))
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let actual: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
    for key in [
        "format",
        "trace_count",
        "span_count",
        "log_count",
        "group_by",
        "groups",
    ] {
        assert_eq!(actual[key], expected[key], "{key}");
    }
    assert_eq!(actual["invocations"].as_array().map(Vec::len), Some(3));
    assert_eq!(
        actual["invocations"][2]["invocation_id"],
        expected["invocations"][2]["invocation_id"]
    );
}

#[test]
fn table_output_and_exit_codes() {
    let dir = corpus("jaeger_converted_github");
    let out = agentrace()
        .args(["extract", "--group-by", "trace"])
        .arg(dir.join("trace.json"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("jaeger-json"), "{text}");
    assert!(text.contains("get_pull_request, list_check_runs"), "{text}");

    let out = agentrace()
        .args(["extract", "/nonexistent/trace.json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("could not read"));
}

/// The corpus directories.
#[allow(clippy::unwrap_used)] // A test helper: a failed unwrap is a failed test.
fn cases() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(corpus(""))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("expected.json").exists())
        .collect();
    dirs.sort();
    dirs
}

/// `extract` (group by group) prints exactly what `extract --read-whole` prints, on every corpus
/// case, in both formats and every grouping.
#[test]
fn streamed_output_equals_the_whole_read_on_the_corpus() {
    for dir in cases() {
        let trace = ["trace.json", "trace.jsonl"]
            .iter()
            .map(|n| dir.join(n))
            .find(|p| p.exists())
            .unwrap();
        for format in ["json", "table"] {
            for group_by in ["auto", "trace", "conversation"] {
                let run = |whole: bool| {
                    let mut cmd = agentrace();
                    cmd.arg("extract")
                        .arg(&trace)
                        .arg("--eval-set")
                        .arg(dir.join("eval_set.json"))
                        .args(["--format", format, "--group-by", group_by]);
                    if whole {
                        cmd.arg("--read-whole");
                    }
                    let out = cmd.output().unwrap();
                    assert_eq!(out.status.code(), Some(0), "{}", dir.display());
                    out.stdout
                };
                assert!(
                    run(false) == run(true),
                    "{} {format} {group_by}",
                    dir.display()
                );
            }
        }
    }
}

/// A file whose conversations interleave cannot be streamed: it is read whole, with a note, and
/// the output is the whole read's.
#[test]
fn interleaved_conversations_fall_back_to_the_whole_read() {
    let corpus_trace = corpus("jsonl_three_traces").join("trace.jsonl");
    let lines: Vec<String> = std::fs::read_to_string(corpus_trace)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert!(lines.len() >= 3);
    // The same session name on the first and the last line, another one between them.
    let named = |line: &str, name: &str| {
        line.replacen(
            "\"attributes\": [",
            &format!(
                "\"attributes\": [{{\"key\": \"agentevals.session_name\", \"value\": {{\"stringValue\": \"{name}\"}}}}, "
            ),
            1,
        )
    };
    let text = [
        named(&lines[0], "a"),
        named(&lines[1], "b"),
        named(&lines[2], "a"),
    ]
    .join("\n");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("interleaved.jsonl");
    std::fs::write(&file, text).unwrap();
    let run = |whole: bool| {
        let mut cmd = agentrace();
        cmd.arg("extract").arg(&file).args(["--format", "json"]);
        if whole {
            cmd.arg("--read-whole");
        }
        cmd.output().unwrap()
    };
    let (streamed, whole) = (run(false), run(true));
    assert_eq!(streamed.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&streamed.stderr).contains("not contiguous"),
        "{}",
        String::from_utf8_lossy(&streamed.stderr)
    );
    assert_eq!(streamed.stdout, whole.stdout);
    let report: serde_json::Value = serde_json::from_slice(&streamed.stdout).unwrap();
    assert_eq!(report["groups"].as_array().map(Vec::len), Some(2));
}
