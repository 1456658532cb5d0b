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

/// Batches waiting for a worker, per worker: bounds what the reader can run ahead by.
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

/// The outcome of a file for [`run_file_with`]: what was kept of each group, in order.
#[derive(Clone, Debug, PartialEq)]
pub struct FileOutcome<R> {
    /// The file as given.
    pub file: String,
    /// What was kept of each group, in order.
    pub groups: Vec<R>,
    /// Records the reader skipped, with why.
    pub warnings: Vec<String>,
    /// Why the file was read whole after streaming was tried (its groups are not contiguous);
    /// the results are the same.
    pub read_whole_because: Option<String>,
}

/// Groups handed to a worker at once, at most: fewer hand-offs for small groups.
const BATCH_GROUPS: usize = 32;

/// The weight of a batch ([`weight`]) at which it is handed over before it has
/// [`BATCH_GROUPS`] groups: large groups go one by one, so what is in flight stays bounded by
/// the largest groups.
const BATCH_WEIGHT: usize = 1024;

/// A rough measure of a group's size: its turns, model calls, tool calls and captured messages
/// (what most of its memory is).
fn weight(g: &extract::Group) -> usize {
    g.turns
        .iter()
        .map(|t| {
            let messages: usize = t
                .llm_calls
                .iter()
                .map(|c| {
                    c.input_messages.as_ref().map_or(0, Vec::len)
                        + c.output_messages.as_ref().map_or(0, Vec::len)
                })
                .sum();
            1 + t.llm_calls.len() + t.tool_calls.len() + messages
        })
        .sum()
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
    run_file_with(path, opts, eval_set, specs, |_, g| g).map(|o| FileResult {
        file: o.file,
        groups: o.groups,
        warnings: o.warnings,
    })
}

/// [`run_file`], keeping of each group's results only what `keep` makes of them, on the worker
/// thread that evaluated the group, as soon as it is evaluated (a rendered output and counts,
/// say, instead of every detail until the end of the run). `keep` gets the group's index in the
/// file and its results; the indexes start from 0 again when the file is read again whole
/// (after a streaming attempt that found the file not contiguous).
pub fn run_file_with<R, F>(
    path: &Path,
    opts: &RunOptions,
    eval_set: Option<&EvalSet>,
    specs: &[MetricSpec],
    keep: F,
) -> Result<FileOutcome<R>, RunError>
where
    R: Send,
    F: Fn(usize, GroupResult) -> R + Sync,
{
    if opts.read_whole {
        return whole_with(path, opts, eval_set, specs, &keep, None);
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
    let keep = &keep;
    type Batch = Vec<(usize, extract::Group)>;
    let (tx, rx) = sync_channel::<Batch>(workers * QUEUE_PER_WORKER);
    let rx = Mutex::new(rx);
    let evaluate = |batch: Batch, out: &mut Vec<(usize, R)>| {
        for (i, g) in batch {
            let g = Group::from_extracted_owned(g);
            let r = evaluate_caught(&g, eval_set, cases, specs);
            drop(g);
            out.push((i, keep(i, r)));
        }
    };
    let (streamed, mut results) = std::thread::scope(|s| {
        // The workers start with the first full batch: a file of one small group is evaluated
        // on this thread, with no thread to start.
        let mut handles = Vec::new();
        let mut next = 0usize;
        let mut batch: Batch = Vec::new();
        let mut batch_weight = 0usize;
        let streamed = for_each_group(path, opts.load, &ex_opts, &mut issues, |g| {
            batch_weight += weight(&g);
            batch.push((next, g));
            next += 1;
            if batch.len() >= BATCH_GROUPS || batch_weight >= BATCH_WEIGHT {
                if handles.is_empty() {
                    handles = (0..workers)
                        .map(|_| {
                            let rx = &rx;
                            s.spawn(move || {
                                let mut out = Vec::new();
                                loop {
                                    let next = match rx.lock() {
                                        Ok(rx) => rx.recv(),
                                        Err(_) => break,
                                    };
                                    let Ok(batch) = next else { break };
                                    evaluate(batch, &mut out);
                                }
                                out
                            })
                        })
                        .collect();
                }
                // A send fails only when every worker is gone, which a join below reports.
                let _ = tx.send(std::mem::take(&mut batch));
                batch_weight = 0;
            }
        });
        let mut results: Vec<(usize, R)> = Vec::with_capacity(next);
        if !batch.is_empty() {
            if handles.is_empty() {
                evaluate(std::mem::take(&mut batch), &mut results);
            } else {
                let _ = tx.send(std::mem::take(&mut batch));
            }
        }
        drop(tx);
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
            Ok(FileOutcome {
                file,
                groups: std::mem::take(results)
                    .into_iter()
                    .map(|(_, r)| r)
                    .collect(),
                warnings: issues.iter().map(ToString::to_string).collect(),
                read_whole_because: None,
            })
        }
        (Streamed::NotContiguous(why), _) => {
            drop(results);
            whole_with(path, opts, eval_set, specs, keep, Some(why.to_string()))
        }
        // A worker lost: read whole.
        (Streamed::Complete(_), None) => whole_with(
            path,
            opts,
            eval_set,
            specs,
            keep,
            Some("an evaluation thread failed".to_owned()),
        ),
    }
}

/// [`run_file`] reading the whole file at once.
pub fn run_file_whole(
    path: &Path,
    opts: &RunOptions,
    eval_set: Option<&EvalSet>,
    specs: &[MetricSpec],
) -> Result<FileResult, RunError> {
    whole_with(path, opts, eval_set, specs, &|_, g| g, None).map(|o| FileResult {
        file: o.file,
        groups: o.groups,
        warnings: o.warnings,
    })
}

/// [`run_file_with`] reading the whole file at once.
fn whole_with<R>(
    path: &Path,
    opts: &RunOptions,
    eval_set: Option<&EvalSet>,
    specs: &[MetricSpec],
    keep: &(impl Fn(usize, GroupResult) -> R + Sync),
    read_whole_because: Option<String>,
) -> Result<FileOutcome<R>, RunError> {
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
    let groups = evaluate_groups(&Group::from_extraction(&ex), eval_set, specs)
        .into_iter()
        .enumerate()
        .map(|(i, g)| keep(i, g))
        .collect();
    Ok(FileOutcome {
        file,
        groups,
        warnings,
        read_whole_because,
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
