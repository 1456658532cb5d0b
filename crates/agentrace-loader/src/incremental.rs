//! Incremental extraction for live use: feed spans and logs in any order and batching, ask for
//! the current result at any time. The result equals batch extraction over everything fed.
//!
//! Each trace keeps its built state: the [`Trace`] (which owns the trace's spans and logs; they
//! are held once) and the per-trace part of extraction (turn drafts, conversation key, explicit
//! case id). A push marks the traces it touches dirty; a call to [`IncrementalExtractor::extract`]
//! or [`IncrementalExtractor::report`] rebuilds only the dirty traces, then redoes the cross-trace
//! steps (grouping, continuation joining, case selection). The turns of a group are cached too and
//! reused while its member traces are unchanged, so a call costs the changed traces plus the
//! assembly of the result.
//!
//! A live session's group changes with every trace it receives, and its cached turns are dropped
//! when its traces are released. [`IncrementalExtractor::invocations_since`] answers such a
//! session by update: it keeps where each of a group's turns starts among the group's drafts (and
//! the gaps it started with), and builds the turns again only from the last turn that starts
//! before the first changed trace. A session that grows by one trace then costs that trace, not
//! all the traces it holds (docs/benchmarks.md, Loader, "Incremental extraction").
//!
//! ```
//! use agentrace_loader::extract::ExtractOptions;
//! use agentrace_loader::incremental::IncrementalExtractor;
//! use agentrace_loader::model::{Span, SpanId, TraceId};
//! use agentrace_loader::read::Format;
//!
//! let span = |t: u8, s: u8| Span {
//!     trace_id: TraceId([t; 16]),
//!     span_id: SpanId([s; 8]),
//!     ..Span::default()
//! };
//! let mut inc = IncrementalExtractor::new();
//! inc.push_spans([span(1, 1), span(1, 2), span(2, 1)]);
//! inc.push_spans([span(1, 1)]); // a duplicate: ignored
//! let report = inc.report(Format::OtlpJson, &ExtractOptions::default());
//! assert_eq!((report.trace_count, report.span_count), (2, 3));
//! let moved = inc.take_trace(TraceId([1; 16]));
//! assert_eq!(moved.spans.len(), 2);
//! assert_eq!((inc.trace_count(), inc.span_count()), (1, 1));
//! ```

use crate::extract::{
    self, Draft, ExtractOptions, Extraction, Group, GroupBy, PreparedTrace, Turn,
};
use crate::hash::{Map, Set};
use crate::model::{LogRecord, Span, SpanId, Telemetry, TraceId};
use crate::read::Format;
use crate::report::{Counts, GroupRef, Report};
use crate::trace::{Trace, TraceSet};

/// Accumulates telemetry per trace and extracts on demand, re-running only what changed.
#[derive(Debug, Default)]
pub struct IncrementalExtractor {
    /// Boxed: a table reserves room for several entries, and most live sessions hold one trace.
    traces: Map<TraceId, Box<TraceState>>,
    /// Traces pushed to since their state was last built.
    dirty: Set<TraceId>,
    /// Log records without a trace id (counted, never extracted).
    untraced_logs: Vec<LogRecord>,
    span_count: usize,
    log_count: usize,
    /// Source of trace generations: a rebuilt trace gets a new one.
    next_generation: u64,
    /// Turns per group, valid while the group's members and their generations are unchanged.
    groups: Map<String, GroupCache>,
    /// Per group, where its turns start, as of the last
    /// [`invocations_since`](Self::invocations_since).
    folds: Map<String, GroupFold>,
}

/// The built traces (with their generations), the grouping resolved for them, and the groups:
/// each a key and its members, as indexes into the traces.
type Grouped<'a> = (
    Vec<(&'a PreparedTrace, u64)>,
    GroupBy,
    Vec<(String, Vec<usize>)>,
);

/// [`Grouped`] for the traces.
fn grouped<'a>(traces: &'a Map<TraceId, Box<TraceState>>, opts: &ExtractOptions) -> Grouped<'a> {
    let prepared: Vec<(&PreparedTrace, u64)> = traces
        .values()
        .filter_map(|s| s.prepared.as_ref().map(|p| (p, s.generation)))
        .collect();
    let refs: Vec<&PreparedTrace> = prepared.iter().map(|(p, _)| *p).collect();
    let group_by = extract::resolve_group_by(opts, refs.iter().copied());
    let plan = extract::plan_groups(&refs, group_by);
    (prepared, group_by, plan)
}

/// A group as [`IncrementalExtractor::invocations_since`] last answered it.
#[derive(Debug)]
struct GroupFold {
    /// Its position among the groups.
    index: usize,
    /// The position of its first invocation among all.
    offset: usize,
    members: Vec<(TraceId, u64)>,
    starts: extract::TurnStarts,
}

/// The invocations since the last [`IncrementalExtractor::invocations_since`].
#[derive(Debug, Clone, PartialEq)]
pub struct InvocationUpdate {
    /// How many leading invocations are those of the last call, unchanged.
    pub unchanged: usize,
    /// Every invocation after those, as [`IncrementalExtractor::report`] gives them.
    pub invocations: Vec<crate::report::InvocationReport>,
}

#[derive(Debug)]
struct TraceState {
    /// Span ids held (for de-duplication: the first copy wins).
    ids: Set<SpanId>,
    /// The trace as last built; it owns the spans and logs fed before that build.
    trace: Trace,
    /// Spans and logs fed since the last build.
    new_spans: Vec<Span>,
    new_logs: Vec<LogRecord>,
    /// The per-trace extraction of `trace`; `None` while the trace has no spans.
    prepared: Option<PreparedTrace>,
    generation: u64,
    /// The spans and logs of the last build were dropped by [`IncrementalExtractor::release_rooted`]
    /// (`prepared` still holds their extraction); the caller gives them back with
    /// [`IncrementalExtractor::restore`] before the trace can be built again.
    released: bool,
    /// Log records held (as fed), released ones included.
    logs: usize,
}

impl TraceState {
    fn new(trace_id: TraceId) -> Self {
        Self {
            ids: Set::default(),
            trace: Trace::assemble(trace_id, Vec::new(), Vec::new()),
            new_spans: Vec::new(),
            new_logs: Vec::new(),
            prepared: None,
            generation: 0,
            released: false,
            logs: 0,
        }
    }

    /// Everything held, spans in a canonical order (start, span id) and logs by (span id, time,
    /// observed time), so that the build does not depend on the order of feeding.
    fn take_all(&mut self) -> (Vec<Span>, Vec<LogRecord>) {
        let (spans, logs) = self.trace.take_parts();
        // The buffers go with their contents: a built trace keeps its spans (until they are
        // released), and an emptied buffer would keep its capacity for as long as the trace.
        let mut spans = join(spans, std::mem::take(&mut self.new_spans));
        let mut logs = join(logs, std::mem::take(&mut self.new_logs));
        spans.sort_by_key(|s| (s.start_ns, s.span_id));
        logs.sort_by_key(|l| (l.span_id, l.time_ns, l.observed_time_ns));
        (spans, logs)
    }
}

/// `a` then `b`, reusing `a`'s buffer, or `b`'s when `a` is empty.
fn join<T>(mut a: Vec<T>, mut b: Vec<T>) -> Vec<T> {
    if a.is_empty() {
        return b;
    }
    a.append(&mut b);
    a
}

#[derive(Debug)]
struct GroupCache {
    members: Vec<(TraceId, u64)>,
    turns: Vec<Turn>,
}

/// One group of the current result, with its turns in the group cache.
struct PlannedGroup {
    key: String,
    trace_ids: Vec<TraceId>,
    case: Option<extract::CaseSelection>,
}

impl IncrementalExtractor {
    /// An empty extractor.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds spans; a span id seen before in the same trace is ignored (the first copy wins).
    /// Marks the traces touched for rebuilding at the next [`extract`](Self::extract) or
    /// [`report`](Self::report).
    pub fn push_spans(&mut self, spans: impl IntoIterator<Item = Span>) {
        // A run of spans of one trace (how batches usually come) finds its trace once.
        let mut spans = spans.into_iter().peekable();
        while let Some(first) = spans.next() {
            let tid = first.trace_id;
            let state = self
                .traces
                .entry(tid)
                .or_insert_with(|| Box::new(TraceState::new(tid)));
            let run = std::iter::once(first)
                .chain(std::iter::from_fn(|| spans.next_if(|s| s.trace_id == tid)));
            let mut added = false;
            for s in run {
                if state.ids.insert(s.span_id) {
                    state.new_spans.push(s);
                    self.span_count += 1;
                    added = true;
                }
            }
            if added {
                self.dirty.insert(tid);
            }
        }
    }

    /// Adds log records; a record is joined to its span by (trace id, span id) whenever that span
    /// arrives, before or after the record.
    pub fn push_logs(&mut self, logs: impl IntoIterator<Item = LogRecord>) {
        for l in logs {
            self.log_count += 1;
            let Some(tid) = l.trace_id else {
                self.untraced_logs.push(l);
                continue;
            };
            let state = self
                .traces
                .entry(tid)
                .or_insert_with(|| Box::new(TraceState::new(tid)));
            state.new_logs.push(l);
            state.logs += 1;
            self.dirty.insert(tid);
        }
    }

    /// Adds a batch of spans and logs.
    pub fn push(&mut self, t: Telemetry) {
        self.push_spans(t.spans);
        self.push_logs(t.logs);
    }

    /// Spans held (after de-duplication).
    pub fn span_count(&self) -> usize {
        self.span_count
    }

    /// Log records held (as fed: duplicates are not detected).
    pub fn log_count(&self) -> usize {
        self.log_count
    }

    /// Traces with at least one span.
    pub fn trace_count(&self) -> usize {
        self.traces.values().filter(|t| !t.ids.is_empty()).count()
    }

    /// Removes one trace and returns its spans and log records (logs fed for the trace before
    /// any of its spans included). Nothing is returned for an unknown trace.
    pub fn take_trace(&mut self, trace_id: TraceId) -> Telemetry {
        let Some(mut state) = self.traces.remove(&trace_id) else {
            return Telemetry::default();
        };
        self.dirty.remove(&trace_id);
        let (spans, logs) = state.take_all();
        self.span_count -= state.ids.len();
        self.log_count -= state.logs;
        Telemetry { spans, logs }
    }

    /// Whether a trace's built spans were released (see [`release_rooted`](Self::release_rooted)):
    /// [`take_trace`](Self::take_trace) then returns only what was fed since.
    pub fn is_released(&self, trace_id: TraceId) -> bool {
        self.traces.get(&trace_id).is_some_and(|t| t.released)
    }

    /// Drops the spans and logs of every built, unchanged trace that holds a root span (one
    /// without a parent), keeping their extraction, and the cached turns of every group (a
    /// copy of the traces' turn drafts, rebuilt from them when next needed; the turn starts of
    /// [`invocations_since`](Self::invocations_since) stay): the memory of a live
    /// session is then its traces' drafts. Spans end before their parents, so a trace whose root has arrived is
    /// usually complete; if more arrives for it, [`needs_restore`](Self::needs_restore) names it
    /// and the caller gives its whole telemetry back with [`restore`](Self::restore) before the
    /// next [`extract`](Self::extract) or [`report`](Self::report). Returns the spans released.
    pub fn release_rooted(&mut self) -> usize {
        let mut released = 0;
        for (tid, state) in &mut self.traces {
            if state.released
                || self.dirty.contains(tid)
                || state.prepared.is_none()
                || !state.trace.spans.iter().any(|s| s.parent_span_id.is_none())
            {
                continue;
            }
            released += state.trace.spans.len();
            state.trace = Trace::assemble(*tid, Vec::new(), Vec::new());
            state.released = true;
        }
        self.groups = Map::default();
        released
    }

    /// Released traces that were fed since: each needs [`restore`](Self::restore) before the
    /// next extraction.
    pub fn needs_restore(&self) -> Vec<TraceId> {
        let mut out: Vec<TraceId> = self
            .dirty
            .iter()
            .filter(|tid| self.traces.get(tid).is_some_and(|t| t.released))
            .copied()
            .collect();
        out.sort_unstable();
        out
    }

    /// Gives a released trace its whole telemetry back (everything fed for it, before and after
    /// the release; what was fed since is part of it and is not counted twice). A trace that is not
    /// released is left alone.
    pub fn restore(&mut self, trace_id: TraceId, telemetry: Telemetry) {
        let Some(state) = self.traces.get_mut(&trace_id) else {
            return;
        };
        if !state.released {
            return;
        }
        self.span_count -= state.ids.len();
        self.log_count -= state.logs;
        state.ids.clear();
        state.new_spans.clear();
        state.new_logs.clear();
        state.logs = 0;
        for span in telemetry.spans {
            if span.trace_id == trace_id && state.ids.insert(span.span_id) {
                state.new_spans.push(span);
            }
        }
        for log in telemetry.logs {
            if log.trace_id == Some(trace_id) {
                state.new_logs.push(log);
                state.logs += 1;
            }
        }
        self.span_count += state.ids.len();
        self.log_count += state.logs;
        state.released = false;
        self.dirty.insert(trace_id);
    }

    /// The traces built from everything fed so far, in a canonical order (independent of the
    /// order of feeding). This copies every span: for tests and one-off use. Released traces
    /// contribute only what was fed since their release.
    pub fn trace_set(&self) -> TraceSet {
        let mut spans: Vec<Span> = Vec::with_capacity(self.span_count);
        let mut logs: Vec<LogRecord> = Vec::with_capacity(self.log_count);
        for state in self.traces.values() {
            spans.extend(state.trace.spans.iter().cloned());
            spans.extend(state.new_spans.iter().cloned());
            logs.extend(state.trace.span_logs.iter().flatten().cloned());
            logs.extend(state.trace.orphan_logs.iter().cloned());
            logs.extend(state.new_logs.iter().cloned());
        }
        logs.extend(self.untraced_logs.iter().cloned());
        spans.sort_by_key(|s| (s.trace_id, s.start_ns, s.span_id));
        logs.sort_by_key(|l| (l.trace_id, l.span_id, l.time_ns, l.observed_time_ns));
        TraceSet::build(Telemetry { spans, logs })
    }

    /// Extracts from everything fed so far: the same result as [`extract::extract`] over
    /// [`trace_set`](Self::trace_set). Rebuilds only the traces fed since the last call.
    pub fn extract(&mut self, opts: &ExtractOptions) -> Extraction {
        let (group_by, planned) = self.plan(opts);
        let groups = planned
            .into_iter()
            .map(|g| Group {
                turns: self
                    .groups
                    .get(&g.key)
                    .map(|c| c.turns.clone())
                    .unwrap_or_default(),
                key: g.key,
                trace_ids: g.trace_ids,
                case: g.case,
            })
            .collect();
        Extraction {
            requested_group_by: opts.group_by,
            group_by,
            groups,
        }
    }

    /// The report of everything fed so far: the same as [`Report::new`] over
    /// [`trace_set`](Self::trace_set) and its extraction, without building a trace set or
    /// copying the cached turns.
    pub fn report(&mut self, format: Format, opts: &ExtractOptions) -> Report {
        let (group_by, planned) = self.plan(opts);
        let counts = Counts {
            traces: self.trace_count(),
            spans: self.span_count,
            logs: self.log_count,
        };
        let groups = &self.groups;
        Report::assemble(
            format,
            counts,
            opts.group_by,
            group_by,
            planned.iter().map(|g| GroupRef {
                key: &g.key,
                trace_ids: &g.trace_ids,
                turns: groups.get(&g.key).map_or(&[][..], |c| &c.turns[..]),
                case: g.case.as_ref(),
            }),
        )
    }

    /// The report's invocations, as an update of the last call's: the invocations after the
    /// ones that did not change. Keeping the last call's list, cutting it to `unchanged` and
    /// appending `invocations` gives [`report`](Self::report)'s `invocations`. A group's turns
    /// are built again only from the first turn its changed traces can touch: a live session that
    /// grows by one trace costs that trace, not the whole session. With golden cases (which are
    /// chosen from all of a group's turns) every call answers everything.
    pub fn invocations_since(&mut self, opts: &ExtractOptions) -> InvocationUpdate {
        self.fold(opts, false)
    }

    /// The last [`invocations_since`](Self::invocations_since), which spends the extractor: the
    /// traces' drafts move into the turns instead of being copied (a live session's final
    /// extraction, when it completes).
    pub fn into_invocations_since(mut self, opts: &ExtractOptions) -> InvocationUpdate {
        self.fold(opts, true)
    }

    /// [`invocations_since`](Self::invocations_since); with `spend`, the drafts are taken out of
    /// the traces, which leaves the extractor unfit for another call (only
    /// [`into_invocations_since`](Self::into_invocations_since) passes it).
    fn fold(&mut self, opts: &ExtractOptions, spend: bool) -> InvocationUpdate {
        if opts.cases.is_some() {
            self.folds = Map::default();
            return InvocationUpdate {
                unchanged: 0,
                invocations: self.report(Format::OtlpJson, opts).invocations,
            };
        }
        self.refresh();
        let (_, _, plan) = grouped(&self.traces, opts);
        // The same traces in the same order as `grouped`'s (the plan's indexes), writable so
        // that a spending call can take their drafts.
        let mut prepared: Vec<(&mut PreparedTrace, u64)> = self
            .traces
            .values_mut()
            .filter_map(|s| {
                let generation = s.generation;
                s.prepared.as_mut().map(|p| (p, generation))
            })
            .collect();
        let mut old = std::mem::take(&mut self.folds);
        let mut folds: Map<String, GroupFold> =
            Map::with_capacity_and_hasher(plan.len(), Default::default());
        let mut unchanged: Option<usize> = None;
        let mut offset = 0;
        let mut invocations = Vec::new();
        for (index, (key, members)) in plan.into_iter().enumerate() {
            let ids: Vec<(TraceId, u64)> = members
                .iter()
                .map(|&i| (prepared[i].0.trace_id, prepared[i].1))
                .collect();
            let mut fold = old.remove(&key).unwrap_or(GroupFold {
                index,
                offset,
                members: Vec::new(),
                starts: extract::TurnStarts::default(),
            });
            let in_place = unchanged.is_none() && fold.index == index && fold.offset == offset;
            let same_members = fold.members == ids;
            // The first turn to build again, and the index of its first draft in the group.
            let from = if !in_place || same_members {
                (0, 0)
            } else {
                let same = fold
                    .members
                    .iter()
                    .zip(&ids)
                    .take_while(|(a, b)| a == b)
                    .count();
                let first_changed: usize = members[..same]
                    .iter()
                    .map(|&i| prepared[i].0.drafts.len())
                    .sum();
                // The last turn that starts before the first changed draft: its start stands.
                match fold
                    .starts
                    .iter()
                    .rposition(|(start, _)| *start < first_changed)
                {
                    Some(turn) => (turn, fold.starts[turn].0),
                    None => (0, 0),
                }
            };
            let (first_turn, first_draft) = from;
            if in_place && same_members {
                offset += fold.starts.len();
            } else {
                let drafts: Vec<Draft> = if spend {
                    let mut drafts: Vec<Draft> = members
                        .iter()
                        .flat_map(|&i| std::mem::take(&mut prepared[i].0.drafts))
                        .collect();
                    drafts.drain(..first_draft.min(drafts.len()));
                    drafts
                } else {
                    members
                        .iter()
                        .flat_map(|&i| prepared[i].0.drafts.iter())
                        .skip(first_draft)
                        .cloned()
                        .collect()
                };
                let turns = extract::turns_from(&mut fold.starts, first_turn, drafts);
                unchanged.get_or_insert(offset + first_turn);
                // The turns are not kept: each moves into its report.
                for (i, turn) in turns.into_iter().enumerate() {
                    invocations.push(crate::report::invocation_owned(index, first_turn + i, turn));
                }
                offset += fold.starts.len();
            }
            fold.index = index;
            fold.offset = offset - fold.starts.len();
            fold.members = ids;
            folds.insert(key, fold);
        }
        self.folds = folds;
        InvocationUpdate {
            unchanged: unchanged.unwrap_or(offset),
            invocations,
        }
    }

    /// Rebuilds the dirty traces.
    fn refresh(&mut self) {
        for tid in std::mem::take(&mut self.dirty) {
            let Some(state) = self.traces.get_mut(&tid) else {
                continue;
            };
            if state.released {
                // Not given back yet: its last extraction stands, and what was fed since is
                // kept (and the trace stays dirty) until it is restored.
                self.dirty.insert(tid);
                continue;
            }
            let (spans, logs) = state.take_all();
            state.trace = Trace::assemble(tid, spans, logs);
            state.prepared = if state.trace.spans.is_empty() {
                None
            } else {
                Some(PreparedTrace::new(&state.trace))
            };
            self.next_generation += 1;
            state.generation = self.next_generation;
        }
    }

    /// Brings every trace up to date, groups the traces and fills the group cache with the
    /// turns of every group whose members changed.
    fn plan(&mut self, opts: &ExtractOptions) -> (GroupBy, Vec<PlannedGroup>) {
        self.refresh();
        let (prepared, group_by, plan) = grouped(&self.traces, opts);
        let group_count = plan.len();
        let mut cache = std::mem::take(&mut self.groups);
        let mut next_cache: Map<String, GroupCache> =
            Map::with_capacity_and_hasher(plan.len(), Default::default());
        let mut planned = Vec::with_capacity(plan.len());
        for (key, members) in plan {
            let member_ids: Vec<(TraceId, u64)> = members
                .iter()
                .map(|&i| (prepared[i].0.trace_id, prepared[i].1))
                .collect();
            let entry = match cache.remove(&key) {
                Some(c) if c.members == member_ids => c,
                _ => {
                    let drafts: Vec<Draft> = members
                        .iter()
                        .flat_map(|&i| prepared[i].0.drafts.iter().cloned())
                        .collect();
                    GroupCache {
                        members: member_ids,
                        turns: extract::conversation_turns(drafts),
                    }
                }
            };
            let member_refs: Vec<&PreparedTrace> = members.iter().map(|&i| prepared[i].0).collect();
            let case = extract::group_case(opts, &entry.turns, &member_refs, group_count);
            planned.push(PlannedGroup {
                trace_ids: entry.members.iter().map(|(t, _)| *t).collect(),
                key: key.clone(),
                case,
            });
            next_cache.insert(key, entry);
        }
        self.groups = next_cache;
        (group_by, planned)
    }
}
