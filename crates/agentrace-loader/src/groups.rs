//! Streaming extraction: a file read group by group, each group extracted as soon as it is known
//! complete, so that memory is bounded by the largest group rather than by the file.
//!
//! Batches (one per JSON Lines line, or one per document) are gathered into traces as
//! [`read::for_each_trace_set`] gathers them: a trace is complete when a batch arrives that
//! shares no trace id with it. A complete trace is prepared at once (its turn drafts, grouping
//! key and case hints) and its spans are dropped. The input messages its model calls captured,
//! which repeat the conversation so far, are parsed once per conversation (a cache by their
//! exact JSON text) and shared between the drafts that hold them. A group is complete when a
//! trace with another key arrives; it is then extracted (continuations joined, golden case
//! selected) and handed over.
//!
//! The result equals [`extract::extract`] over the whole file when the file is *contiguous*:
//!
//! - every trace's records (spans and log records) are in consecutive batches;
//! - every group's traces are consecutive (in `conversation` grouping);
//! - groups come in the order of their earliest trace (start time, then trace id), which is the
//!   order whole extraction gives them;
//! - with `auto` grouping (and no multi-turn golden case), either the first trace has a session
//!   name or none has.
//!
//! Anything else is detected and reported as [`Streamed::NotContiguous`]: the caller then
//! discards what it received and reads the file whole ([`crate::extract_path`]), which is
//! always correct.

use std::fmt;
use std::hash::BuildHasher as _;
use std::path::Path;

use crate::extract::{
    self, Draft, ExtractOptions, Group, GroupBy, PreparedTrace, conversation_turns, group_case,
    message::MessageCache,
};
use crate::hash::Set;
use crate::model::{Telemetry, TraceId};
use crate::read::{self, Format, LoadError, LoadOptions, RecordIssue};
use crate::report::Counts;
use crate::trace::TraceSet;

/// Why a file could not be streamed group by group (its result would differ from reading it
/// whole).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NotContiguous {
    /// Records of this trace came in two places of the file.
    TraceSplit(TraceId),
    /// The traces of this group (conversation key) came in two places of the file.
    GroupSplit(String),
    /// A group started before the group read ahead of it.
    OutOfOrder(String),
    /// `auto` grouping: a trace after the first has a session name (the whole file groups by
    /// conversation).
    LateSessionName,
}

impl fmt::Display for NotContiguous {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TraceSplit(t) => write!(f, "the records of trace {t} are not contiguous"),
            Self::GroupSplit(k) => write!(f, "the traces of group {k} are not contiguous"),
            Self::OutOfOrder(k) => write!(f, "group {k} starts before the group ahead of it"),
            Self::LateSessionName => f.write_str(
                "a trace after the first has a session name (auto grouping: by conversation)",
            ),
        }
    }
}

/// What a completed stream read: what a report's header states.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamEnd {
    /// The format read.
    pub format: Format,
    /// Traces, spans and log records.
    pub counts: Counts,
    /// Records read (spans and log records as decoded, before spans repeated within a trace
    /// are dropped): [`read::Loaded::read`] of the whole file.
    pub records: usize,
    /// Grouping asked for.
    pub requested_group_by: GroupBy,
    /// Grouping used (`auto` resolved).
    pub group_by: GroupBy,
    /// Groups handed over.
    pub groups: usize,
}

/// The outcome of [`for_each_group`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Streamed {
    /// Every group was handed over, in the order and with the content of whole extraction.
    Complete(StreamEnd),
    /// The file is not contiguous: what was handed over must be discarded and the file read
    /// whole.
    NotContiguous(NotContiguous),
}

/// Streams a trace file group by group: `f` receives each group (in the order of
/// [`extract::extract`]) as soon as it is complete. Skipped records are appended to `issues`.
pub fn for_each_group(
    path: &Path,
    load: LoadOptions,
    opts: &ExtractOptions,
    issues: &mut Vec<RecordIssue>,
    mut f: impl FnMut(Group),
) -> Result<Streamed, LoadError> {
    let mut stream = GroupStream::new(opts);
    let format = read::for_each_batch(path, load, issues, |batch| stream.push(batch, &mut f))?;
    Ok(stream.finish(format, &mut f))
}

/// [`for_each_group`] over bytes in memory.
pub fn for_each_group_bytes(
    bytes: &[u8],
    load: LoadOptions,
    opts: &ExtractOptions,
    issues: &mut Vec<RecordIssue>,
    mut f: impl FnMut(Group),
) -> Result<Streamed, LoadError> {
    let mut stream = GroupStream::new(opts);
    let format =
        read::for_each_batch_bytes(bytes, load, issues, |batch| stream.push(batch, &mut f))?;
    Ok(stream.finish(format, &mut f))
}

/// The group being gathered.
struct Current {
    key: String,
    members: Vec<PreparedTrace>,
}

impl Current {
    fn first(&self) -> (u64, TraceId) {
        self.members
            .iter()
            .map(|t| (t.start_ns, t.trace_id))
            .min()
            .unwrap_or((0, TraceId([0; 16])))
    }
}

/// The state of a stream: batches gathered into a trace set, the group being gathered, what has
/// been seen.
struct GroupStream<'o> {
    opts: &'o ExtractOptions,
    /// The batches of the trace set being gathered, and their trace ids.
    pending: Telemetry,
    pending_ids: Set<TraceId>,
    /// Trace ids of every trace set handed on.
    seen: Set<TraceId>,
    /// Keys of closed groups (conversation grouping), by their hash under `hasher`. A key's
    /// text is not kept: one small string per group, allocated amid a group's short-lived data,
    /// would pin that memory for the whole file. Two keys with one hash can only make a
    /// contiguous file look split, which reads it whole: the same output.
    closed: Set<u64>,
    hasher: foldhash::fast::RandomState,
    resolved: Option<GroupBy>,
    current: Option<Current>,
    /// The earliest trace of the last group handed over.
    last_first: Option<(u64, TraceId)>,
    emitted: usize,
    counts: Counts,
    records: usize,
    broken: Option<NotContiguous>,
    /// Input messages already parsed, of this conversation and the one before.
    cache: MessageCache,
}

impl<'o> GroupStream<'o> {
    fn new(opts: &'o ExtractOptions) -> Self {
        let multi = opts
            .cases
            .as_ref()
            .is_some_and(|c| c.iter().any(|c| c.invocations > 1));
        let resolved = match opts.group_by {
            GroupBy::Auto if multi => Some(GroupBy::Conversation),
            GroupBy::Auto => None,
            other => Some(other),
        };
        Self {
            opts,
            pending: Telemetry::default(),
            pending_ids: Set::default(),
            seen: Set::default(),
            closed: Set::default(),
            hasher: foldhash::fast::RandomState::default(),
            resolved,
            current: None,
            last_first: None,
            emitted: 0,
            counts: Counts::default(),
            records: 0,
            broken: None,
            cache: MessageCache::default(),
        }
    }

    fn push(&mut self, batch: Telemetry, f: &mut dyn FnMut(Group)) {
        if self.broken.is_some() {
            return;
        }
        self.records += batch.spans.len() + batch.logs.len();
        let mut shares = false;
        let mut batch_ids: Vec<TraceId> = Vec::new();
        for id in batch
            .spans
            .iter()
            .map(|s| s.trace_id)
            .chain(batch.logs.iter().filter_map(|l| l.trace_id))
        {
            if batch_ids.last() != Some(&id) {
                shares |= self.pending_ids.contains(&id);
                batch_ids.push(id);
            }
        }
        if !self.pending.spans.is_empty() && !shares {
            let set = TraceSet::build(std::mem::take(&mut self.pending));
            self.pending_ids.clear();
            self.take_set(set, f);
        }
        self.pending_ids.extend(batch_ids);
        self.pending.extend(batch);
    }

    fn take_set(&mut self, set: TraceSet, f: &mut dyn FnMut(Group)) {
        self.counts.traces += set.traces.len();
        self.counts.spans += set.span_count();
        self.counts.logs += set.log_count;
        // Every trace id of this set (traces, and log records whose trace has no spans here) must
        // be new: one seen in an earlier set means a trace split across the file.
        let ids: Vec<TraceId> = set
            .traces
            .iter()
            .map(|t| t.trace_id)
            .chain(set.unattributed_logs.iter().filter_map(|l| l.trace_id))
            .collect();
        if let Some(id) = ids.iter().find(|id| self.seen.contains(*id)) {
            self.broken = Some(NotContiguous::TraceSplit(*id));
            return;
        }
        self.seen.extend(ids);
        for trace in &set.traces {
            let prepared = PreparedTrace::with_cache(trace, &mut self.cache);
            self.take_trace(prepared, f);
            if self.broken.is_some() {
                return;
            }
        }
    }

    fn take_trace(&mut self, t: PreparedTrace, f: &mut dyn FnMut(Group)) {
        let resolved = match self.resolved {
            Some(g) => {
                if g == GroupBy::Trace && self.opts.group_by == GroupBy::Auto && t.session_named {
                    self.broken = Some(NotContiguous::LateSessionName);
                    return;
                }
                g
            }
            None => {
                let g = if t.session_named {
                    GroupBy::Conversation
                } else {
                    GroupBy::Trace
                };
                self.resolved = Some(g);
                g
            }
        };
        let key = match resolved {
            GroupBy::Conversation => t.conversation_key.clone(),
            GroupBy::Trace | GroupBy::Auto => t.trace_id.to_string(),
        };
        match &mut self.current {
            Some(cur) if cur.key == key => cur.members.push(t),
            _ => {
                if resolved == GroupBy::Conversation
                    && self.closed.contains(&self.hasher.hash_one(&key))
                {
                    self.broken = Some(NotContiguous::GroupSplit(key));
                    return;
                }
                if let Some(cur) = self.current.take() {
                    // Another group follows, so this one is not the file's only group.
                    self.close(cur, false, f);
                }
                self.current = Some(Current {
                    key,
                    members: vec![t],
                });
            }
        }
    }

    /// Extracts a complete group and hands it over.
    fn close(&mut self, mut cur: Current, last: bool, f: &mut dyn FnMut(Group)) {
        if self.broken.is_some() {
            return;
        }
        let first = cur.first();
        if self.last_first.is_some_and(|prev| first < prev) {
            self.broken = Some(NotContiguous::OutOfOrder(cur.key));
            return;
        }
        self.last_first = Some(first);
        if self.resolved == Some(GroupBy::Conversation) {
            self.closed.insert(self.hasher.hash_one(&cur.key));
        }
        cur.members.sort_by_key(|t| (t.start_ns, t.trace_id));
        let drafts: Vec<Draft> = cur
            .members
            .iter_mut()
            .flat_map(|t| std::mem::take(&mut t.drafts))
            .collect();
        let turns = conversation_turns(drafts);
        let refs: Vec<&PreparedTrace> = cur.members.iter().collect();
        // Only the count's being 1 matters to case selection.
        let group_count = if last {
            self.emitted + 1
        } else {
            self.emitted + 2
        };
        let case = group_case(self.opts, &turns, &refs, group_count);
        self.emitted += 1;
        f(Group {
            key: cur.key,
            trace_ids: refs.iter().map(|t| t.trace_id).collect(),
            turns,
            case,
        });
    }

    fn finish(mut self, format: Format, f: &mut dyn FnMut(Group)) -> Streamed {
        if self.broken.is_none()
            && (!self.pending.spans.is_empty() || !self.pending.logs.is_empty())
        {
            let set = TraceSet::build(std::mem::take(&mut self.pending));
            self.take_set(set, f);
        }
        if self.broken.is_none()
            && let Some(cur) = self.current.take()
        {
            self.close(cur, true, f);
        }
        if let Some(why) = self.broken {
            return Streamed::NotContiguous(why);
        }
        let group_by = self
            .resolved
            .unwrap_or_else(|| extract::resolve_group_by(self.opts, std::iter::empty()));
        Streamed::Complete(StreamEnd {
            format,
            counts: self.counts,
            records: self.records,
            requested_group_by: self.opts.group_by,
            group_by,
            groups: self.emitted,
        })
    }
}
