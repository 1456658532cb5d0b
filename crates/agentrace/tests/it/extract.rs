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
