//! Evaluating a trace file: load, extract, pair with golden cases, score every group.

use std::path::Path;

use agentrace_loader::extract::{ExtractOptions, GroupBy};
use agentrace_loader::read::{LoadOptions, load_path};
use agentrace_loader::trace::TraceSet;

use crate::eval_set::EvalSet;
use crate::evaluate::{MetricSpec, evaluate_group};
use crate::invocation::Group;
use crate::output::{FileResult, RunError};

/// How files are read and grouped.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Reader options (format override).
    pub load: LoadOptions,
    /// Grouping.
    pub group_by: GroupBy,
}

/// Loads one trace file and evaluates every group in it.
pub fn run_file(
    path: &Path,
    opts: &RunOptions,
    eval_set: Option<&EvalSet>,
    specs: &[MetricSpec],
) -> Result<FileResult, RunError> {
    let file = path.display().to_string();
    let loaded = load_path(path, opts.load).map_err(|e| RunError {
        file: file.clone(),
        error: e.to_string(),
    })?;
    let warnings = loaded.issues.iter().map(ToString::to_string).collect();
    let set = TraceSet::build(loaded.telemetry);
    if set.traces.is_empty() {
        return Err(RunError {
            file,
            error: "no traces in the file".to_owned(),
        });
    }
    let ex = agentrace_loader::extract::extract(
        &set,
        &ExtractOptions {
            group_by: opts.group_by,
            cases: eval_set.map(EvalSet::expected_cases),
        },
    );
    let groups = Group::from_extraction(&ex)
        .iter()
        .map(|g| evaluate_group(g, eval_set, specs))
        .collect();
    Ok(FileResult {
        file,
        groups,
        warnings,
    })
}
