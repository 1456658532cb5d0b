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
