//! The conformance corpus: for every case, the extraction part of our output equals agentevals
//! 0.11.0's `expected.json` under the corpus README's comparison rules.

use std::path::{Path, PathBuf};

use agentrace_loader::extract::{ExpectedCase, ExtractOptions, GroupBy};
use agentrace_loader::extract_path;
use agentrace_loader::read::{Format, LoadOptions};
use serde_json::Value;

/// Where we knowingly differ from the reference: (case, JSON path, reason). Listed in
/// docs/conformance.md.
const KNOWN_DIFFERENCES: &[(&str, &str, &str)] = &[];

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/conformance")
}

fn norm_ws(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

const WS_KEYS: [&str; 3] = ["user_text", "agent_text", "eval_case_reason"];

/// Compares `actual` against `expected`: only keys present in `expected`, numbers by value,
/// arrays by position, whitespace-normalised for the text keys.
fn compare(
    path: &str,
    key: Option<&str>,
    expected: &Value,
    actual: &Value,
    diffs: &mut Vec<String>,
) {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (k, ev) in e {
                let p = format!("{path}.{k}");
                match a.get(k) {
                    Some(av) => compare(&p, Some(k), ev, av, diffs),
                    None => diffs.push(format!("{p}: missing")),
                }
            }
        }
        (Value::Array(e), Value::Array(a)) => {
            if e.len() != a.len() {
                diffs.push(format!(
                    "{path}: length {} != expected {}",
                    a.len(),
                    e.len()
                ));
            }
            for (i, (ev, av)) in e.iter().zip(a).enumerate() {
                compare(&format!("{path}[{i}]"), key, ev, av, diffs);
            }
        }
        (Value::Number(e), Value::Number(a)) => {
            if (e.as_f64().unwrap_or(f64::NAN) - a.as_f64().unwrap_or(f64::NAN)).abs() > 1e-9 {
                diffs.push(format!("{path}: {a} != expected {e}"));
            }
        }
        (Value::String(e), Value::String(a)) if key.is_some_and(|k| WS_KEYS.contains(&k)) => {
            if norm_ws(e) != norm_ws(a) {
                diffs.push(format!("{path}: {a:?} != expected {e:?}"));
            }
        }
        (e, a) => {
            if e != a {
                diffs.push(format!("{path}: {a} != expected {e}"));
            }
        }
    }
}

const COMPARED: [&str; 7] = [
    "format",
    "agentevals_format",
    "trace_count",
    "span_count",
    "log_count",
    "groups",
    "invocations",
];

fn run_case(dir: &Path) -> Vec<String> {
    let read = |name: &str| -> Value {
        let text = std::fs::read_to_string(dir.join(name)).unwrap();
        serde_json::from_str(&text).unwrap()
    };
    let case = read("case.json");
    let expected = read("expected.json");
    let options = case.get("options").cloned().unwrap_or(Value::Null);
    let group_by: GroupBy = options
        .get("group_by")
        .and_then(Value::as_str)
        .map_or(GroupBy::Auto, |s| s.parse().unwrap());
    let format: Option<Format> = options
        .get("trace_format")
        .and_then(Value::as_str)
        .map(|s| s.parse().unwrap());
    let trace = ["trace.json", "trace.jsonl"]
        .iter()
        .map(|n| dir.join(n))
        .find(|p| p.exists())
        .unwrap();
    let cases = ExpectedCase::from_eval_set_json(&read("eval_set.json"));
    let opts = ExtractOptions {
        group_by,
        cases: Some(cases),
    };
    let (loaded, report) = extract_path(&trace, LoadOptions { format }, &opts).unwrap();
    assert!(loaded.issues.is_empty(), "{:?}", loaded.issues);
    let actual = serde_json::to_value(&report).unwrap();
    let mut diffs = Vec::new();
    for k in COMPARED {
        match (expected.get(k), actual.get(k)) {
            (Some(e), Some(a)) => compare(k, Some(k), e, a, &mut diffs),
            (Some(_), None) => diffs.push(format!("{k}: missing")),
            _ => {}
        }
    }
    diffs
}

#[test]
fn every_case_matches_agentevals() {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(corpus())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("expected.json").exists())
        .collect();
    dirs.sort();
    assert_eq!(dirs.len(), 18, "the corpus has 18 cases");
    let mut failures = Vec::new();
    let mut passed = 0;
    for dir in &dirs {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let diffs: Vec<String> = run_case(dir)
            .into_iter()
            .filter(|d| {
                !KNOWN_DIFFERENCES
                    .iter()
                    .any(|(c, p, _)| *c == name && d.starts_with(p))
            })
            .collect();
        if diffs.is_empty() {
            passed += 1;
        } else {
            failures.push(format!("{name}:\n  {}", diffs.join("\n  ")));
        }
    }
    assert!(
        failures.is_empty(),
        "{passed}/{} cases pass; differences:\n{}",
        dirs.len(),
        failures.join("\n")
    );
}

/// The report example in docs/trace-formats.md is what `multi_turn_cart` gives (its first
/// invocation; the example is abridged).
#[test]
fn docs_report_example_matches() {
    let doc = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/trace-formats.md"),
    )
    .unwrap();
    let block = doc
        .split("```json\n")
        .nth(1)
        .unwrap()
        .split("```")
        .next()
        .unwrap();
    let mut example: Value = serde_json::from_str(block).unwrap();
    let dir = corpus().join("multi_turn_cart");
    let cases = ExpectedCase::from_eval_set_json(
        &serde_json::from_str(&std::fs::read_to_string(dir.join("eval_set.json")).unwrap())
            .unwrap(),
    );
    let opts = ExtractOptions {
        cases: Some(cases),
        ..ExtractOptions::default()
    };
    let (_, report) = extract_path(&dir.join("trace.json"), LoadOptions::default(), &opts).unwrap();
    let mut actual = serde_json::to_value(&report).unwrap();
    actual["invocations"].as_array_mut().unwrap().truncate(1);
    example["invocations"].as_array_mut().unwrap().truncate(1);
    let mut diffs = Vec::new();
    compare("", None, &example, &actual, &mut diffs);
    assert!(diffs.is_empty(), "{diffs:?}");
}
