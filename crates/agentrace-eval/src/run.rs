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
    let groups = evaluate_groups(&Group::from_extraction(&ex), eval_set, specs);
    Ok(FileResult {
        file,
        groups,
        warnings,
    })
}

/// Groups per thread below which a file's groups are evaluated on the calling thread.
const GROUPS_PER_THREAD: usize = 16;

/// Evaluates groups, in parallel over the machine's cores when there are many; results keep
/// the groups' order.
pub fn evaluate_groups(
    groups: &[Group],
    eval_set: Option<&EvalSet>,
    specs: &[MetricSpec],
) -> Vec<crate::result::GroupResult> {
    let threads = std::thread::available_parallelism()
        .map_or(1, std::num::NonZero::get)
        .min(groups.len() / GROUPS_PER_THREAD)
        .max(1);
    if threads == 1 {
        return groups
            .iter()
            .map(|g| evaluate_group(g, eval_set, specs))
            .collect();
    }
    let chunk = groups.len().div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = groups
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    part.iter()
                        .map(|g| evaluate_group(g, eval_set, specs))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .zip(groups.chunks(chunk))
            .flat_map(|(h, part)| {
                // A panic would be a bug; its groups are reported as errors, not lost.
                h.join().unwrap_or_else(|_| {
                    part.iter()
                        .map(|g| {
                            let mut r = evaluate_group(g, eval_set, &[]);
                            r.metrics = vec![crate::result::MetricResult {
                                error: Some("internal error: the evaluation panicked".into()),
                                reason: None,
                                ..crate::result::MetricResult::not_evaluated(
                                    "(all)",
                                    None,
                                    None,
                                    crate::result::EvaluatorType::Deterministic,
                                    String::new(),
                                )
                            }];
                            r
                        })
                        .collect()
                })
            })
            .collect()
    })
}
