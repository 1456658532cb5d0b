//! Evaluating a trace file: read it group by group, pair each group with its golden case, score
//! it. Groups are evaluated on worker threads as the reader hands them over.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::Mutex;
use std::sync::mpsc::sync_channel;

use agentrace_loader::extract::{self, ExtractOptions, GroupBy};
use agentrace_loader::groups::{Streamed, for_each_group};
use agentrace_loader::read::{LoadOptions, load_path};
use agentrace_loader::trace::TraceSet;

use crate::eval_set::EvalSet;
use crate::evaluate::{MetricSpec, PreparedCases, evaluate_group_with};
use crate::invocation::Group;
use crate::output::{FileResult, RunError};
use crate::result::GroupResult;

/// How files are read and grouped.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Reader options (format override).
    pub load: LoadOptions,
    /// Grouping.
    pub group_by: GroupBy,
    /// Read each file whole instead of group by group (the same results; memory grows with the
    /// file).
    pub read_whole: bool,
}

/// Groups waiting for a worker, per worker: bounds what the reader can run ahead by.
const QUEUE_PER_WORKER: usize = 1;

/// Evaluates one group, turning a panic (a bug) into an error result instead of losing the group.
fn evaluate_caught(
    g: &Group,
    eval_set: Option<&EvalSet>,
    cases: &PreparedCases,
    specs: &[MetricSpec],
) -> GroupResult {
    catch_unwind(AssertUnwindSafe(|| {
        evaluate_group_with(g, eval_set, cases, specs)
    }))
    .unwrap_or_else(|_| {
        let mut r = evaluate_group_with(g, eval_set, cases, &[]);
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
}

/// Loads one trace file and evaluates every group in it.
///
/// The file is read group by group ([`for_each_group`]); each group is evaluated on a worker
/// thread as soon as it is complete, so memory is bounded by the largest groups in flight (plus
/// the results). A file whose groups are not contiguous is read again whole, with the same
/// results.
pub fn run_file(
    path: &Path,
    opts: &RunOptions,
    eval_set: Option<&EvalSet>,
    specs: &[MetricSpec],
) -> Result<FileResult, RunError> {
    if opts.read_whole {
        return run_file_whole(path, opts, eval_set, specs);
    }
    let file = path.display().to_string();
    let ex_opts = ExtractOptions {
        group_by: opts.group_by,
        cases: eval_set.map(EvalSet::expected_cases),
    };
    let workers = std::thread::available_parallelism()
        .map_or(1, std::num::NonZero::get)
        .max(1);
    let mut issues = Vec::new();
    let cases = PreparedCases::new(eval_set);
    let cases = &cases;
    let (tx, rx) = sync_channel::<(usize, extract::Group)>(workers * QUEUE_PER_WORKER);
    let rx = Mutex::new(rx);
    let (streamed, mut results) = std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                let rx = &rx;
                s.spawn(move || {
                    let mut out = Vec::new();
                    loop {
                        let next = match rx.lock() {
                            Ok(rx) => rx.recv(),
                            Err(_) => break,
                        };
                        let Ok((i, g)) = next else { break };
                        let g = Group::from_extracted_owned(g);
                        out.push((i, evaluate_caught(&g, eval_set, cases, specs)));
                    }
                    out
                })
            })
            .collect();
        let mut next = 0usize;
        let streamed = for_each_group(path, opts.load, &ex_opts, &mut issues, |g| {
            // A send fails only when every worker is gone, which a join below reports.
            let _ = tx.send((next, g));
            next += 1;
        });
        drop(tx);
        let mut results: Vec<(usize, GroupResult)> = Vec::with_capacity(next);
        let mut lost = false;
        for h in handles {
            match h.join() {
                Ok(r) => results.extend(r),
                Err(_) => lost = true,
            }
        }
        (streamed, (!lost).then_some(results))
    });
    let streamed = streamed.map_err(|e| RunError {
        file: file.clone(),
        error: e.to_string(),
    })?;
    match (streamed, results.as_mut()) {
        (Streamed::Complete(end), Some(results)) => {
            if end.counts.traces == 0 {
                return Err(RunError {
                    file,
                    error: "no traces in the file".to_owned(),
                });
            }
            results.sort_by_key(|(i, _)| *i);
            Ok(FileResult {
                file,
                groups: std::mem::take(results)
                    .into_iter()
                    .map(|(_, r)| r)
                    .collect(),
                warnings: issues.iter().map(ToString::to_string).collect(),
            })
        }
        // Not contiguous (or a worker lost): read whole.
        _ => run_file_whole(path, opts, eval_set, specs),
    }
}

/// [`run_file`] reading the whole file at once.
pub fn run_file_whole(
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
) -> Vec<GroupResult> {
    let cases = PreparedCases::new(eval_set);
    let threads = std::thread::available_parallelism()
        .map_or(1, std::num::NonZero::get)
        .min(groups.len() / GROUPS_PER_THREAD)
        .max(1);
    let chunk = groups.len().div_ceil(threads).max(1);
    let cases = &cases;
    std::thread::scope(|s| {
        let handles: Vec<_> = groups
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    part.iter()
                        .map(|g| evaluate_caught(g, eval_set, cases, specs))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    })
}
