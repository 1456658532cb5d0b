//! An evaluation in code: read a trace file, score it against an eval set with
//! `agentrace-eval`, and look at the result, as `agentrace run` does from the command line.
//!
//! The bundled trace (`data/trace.json`) is an agent that called its four tools in another order
//! than the golden conversation (`data/eval_set.json`) expects: the trajectory fails when the
//! order counts and passes when it does not, and the answer's ROUGE-1 match passes.
//!
//! ```
//! let report = example_evaluate::evaluate(
//!     &example_evaluate::bundled_trace(),
//!     &example_evaluate::bundled_eval_set(),
//! )?;
//! assert_eq!(report.exit_code(), 1); // one metric failed
//! # Ok::<(), anyhow::Error>(())
//! ```

use std::path::{Path, PathBuf};

use agentrace_eval::{
    eval_set::EvalSet,
    evaluate::MetricSpec,
    metrics::trajectory::MatchType,
    output::RunReport,
    run::{RunOptions, run_file},
};
use anyhow::Result;

/// The bundled trace file.
pub fn bundled_trace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/trace.json")
}

/// The bundled eval set.
pub fn bundled_eval_set() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/eval_set.json")
}

/// The metrics this example scores: the tool trajectory in order and in any order, and the
/// final response's ROUGE-1 match, each at the reference's default threshold.
pub fn metrics() -> Result<Vec<MetricSpec>> {
    let none = serde_json::Value::Null;
    Ok(vec![
        MetricSpec::builtin(
            "tool_trajectory_avg_score",
            None,
            Some(MatchType::InOrder),
            &none,
        )?,
        MetricSpec {
            name: "tool_trajectory_any_order".to_owned(),
            ..MetricSpec::builtin(
                "tool_trajectory_avg_score",
                None,
                Some(MatchType::AnyOrder),
                &none,
            )?
        },
        MetricSpec::builtin("response_match_score", None, None, &none)?,
    ])
}

/// Reads `trace`, groups its traces as `agentrace run` does (`auto`), selects each group's
/// golden case in `eval_set` and scores [`metrics`]. A trace file that cannot be read is an
/// error of the report (its exit code is then 2); an unreadable eval set is an error here.
pub fn evaluate(trace: &Path, eval_set: &Path) -> Result<RunReport> {
    let set = EvalSet::from_path(eval_set)?;
    let mut report = RunReport {
        files: Vec::new(),
        errors: Vec::new(),
    };
    match run_file(trace, &RunOptions::default(), Some(&set), &metrics()?) {
        Ok(file) => report.files.push(file),
        Err(err) => report.errors.push(err),
    }
    Ok(report)
}
