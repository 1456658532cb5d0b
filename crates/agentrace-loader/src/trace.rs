//! Span trees: spans grouped by trace, parents resolved, logs joined to their spans.

use crate::hash::Map;
use crate::model::{LogRecord, Span, SpanId, Telemetry, TraceId};

/// One trace: its spans as a tree, and the log records that belong to it.
#[derive(Debug, Clone)]
pub struct Trace {
    /// The trace id.
    pub trace_id: TraceId,
    /// Spans, in the order first read (a duplicated span id keeps its first copy).
    pub spans: Vec<Span>,
    /// For each span (by index), its parent's index; `None` for roots.
    pub parent: Vec<Option<usize>>,
    /// For each span, its children's indexes sorted by (start, span id).
    pub children: Vec<Vec<usize>>,
    /// Root span indexes sorted by (start, span id).
    pub roots: Vec<usize>,
    /// For each span, the log records joined to it by (trace id, span id).
    pub span_logs: Vec<Vec<LogRecord>>,
    /// Log records of this trace whose span is not in the trace.
    pub orphan_logs: Vec<LogRecord>,
    /// The earliest span start, ns.
    pub start_ns: u64,
}

impl Trace {
    /// Builds one trace from its spans (distinct span ids, all of `trace_id`) and its log
    /// records (all of `trace_id`): the per-trace part of [`TraceSet::build`].
    pub(crate) fn assemble(trace_id: TraceId, spans: Vec<Span>, logs: Vec<LogRecord>) -> Self {
        let ids: Map<SpanId, usize> = spans
            .iter()
            .enumerate()
            .map(|(i, s)| (s.span_id, i))
            .collect();
        let mut trace = build_trace(trace_id, spans, &ids);
        for log in logs {
            match log.span_id.and_then(|s| ids.get(&s)) {
                Some(si) => trace.span_logs[*si].push(log),
                None => trace.orphan_logs.push(log),
            }
        }
        trace
    }

    /// Takes the spans and log records out of the trace (leaving it empty).
    pub(crate) fn take_parts(&mut self) -> (Vec<Span>, Vec<LogRecord>) {
        let spans = std::mem::take(&mut self.spans);
        let mut logs: Vec<LogRecord> = std::mem::take(&mut self.span_logs)
            .into_iter()
            .flatten()
            .collect();
        logs.append(&mut self.orphan_logs);
        self.parent.clear();
        self.children.clear();
        self.roots.clear();
        (spans, logs)
    }

    /// The index of a span by id.
    pub fn index_of(&self, id: SpanId) -> Option<usize> {
        self.spans.iter().position(|s| s.span_id == id)
    }
}

/// Traces built from a set of spans and logs.
#[derive(Debug, Clone, Default)]
pub struct TraceSet {
    /// Traces in the order their first span was read.
    pub traces: Vec<Trace>,
    /// Log records whose trace has no spans (or that have no trace id).
    pub unattributed_logs: Vec<LogRecord>,
    /// All log records decoded.
    pub log_count: usize,
}

impl TraceSet {
    /// Total spans after de-duplication.
    pub fn span_count(&self) -> usize {
        self.traces.iter().map(|t| t.spans.len()).sum()
    }

    /// Builds the traces: groups spans by trace id (a duplicate span id keeps its first copy),
    /// makes a span whose parent is missing or itself a root, breaks parent cycles at the
    /// earliest-starting member, sorts children by (start, span id), and joins logs by
    /// (trace id, span id).
    pub fn build(telemetry: Telemetry) -> Self {
        let mut order: Vec<TraceId> = Vec::new();
        let mut by_trace: Map<TraceId, (Vec<Span>, Map<SpanId, usize>)> = Map::default();
        for span in telemetry.spans {
            let entry = by_trace.entry(span.trace_id).or_insert_with(|| {
                order.push(span.trace_id);
                (Vec::new(), Map::default())
            });
            if entry.1.contains_key(&span.span_id) {
                continue;
            }
            entry.1.insert(span.span_id, entry.0.len());
            entry.0.push(span);
        }
        let log_count = telemetry.logs.len();
        let mut traces: Vec<Trace> = Vec::with_capacity(order.len());
        let mut trace_index: Map<TraceId, (usize, Map<SpanId, usize>)> = Map::default();
        for tid in order {
            let Some((spans, ids)) = by_trace.remove(&tid) else {
                continue;
            };
            let trace = build_trace(tid, spans, &ids);
            trace_index.insert(tid, (traces.len(), ids));
            traces.push(trace);
        }
        let mut unattributed_logs = Vec::new();
        for log in telemetry.logs {
            let Some(tid) = log.trace_id else {
                unattributed_logs.push(log);
                continue;
            };
            let Some((ti, ids)) = trace_index.get(&tid) else {
                unattributed_logs.push(log);
                continue;
            };
            let trace = &mut traces[*ti];
            match log.span_id.and_then(|s| ids.get(&s)) {
                Some(si) => trace.span_logs[*si].push(log),
                None => trace.orphan_logs.push(log),
            }
        }
        Self {
            traces,
            unattributed_logs,
            log_count,
        }
    }
}

fn build_trace(trace_id: TraceId, spans: Vec<Span>, ids: &Map<SpanId, usize>) -> Trace {
    let n = spans.len();
    let mut parent: Vec<Option<usize>> = spans
        .iter()
        .enumerate()
        .map(|(i, s)| {
            s.parent_span_id
                .and_then(|p| ids.get(&p).copied())
                .filter(|p| *p != i)
        })
        .collect();
    // Break cycles: walk up from every span; a walk that returns to a visited member of the
    // current path is a cycle, cut at its earliest-starting member.
    let mut state = vec![0u8; n]; // 0 new, 1 on path, 2 done
    for startv in 0..n {
        if state[startv] != 0 {
            continue;
        }
        let mut path = Vec::new();
        let mut cur = Some(startv);
        while let Some(c) = cur {
            if state[c] == 2 {
                break;
            }
            if state[c] == 1 {
                // Cycle: members are path from position of c.
                let pos = path.iter().position(|x| *x == c).unwrap_or(0);
                let cycle = &path[pos..];
                let cut = cycle
                    .iter()
                    .copied()
                    .min_by_key(|i: &usize| (spans[*i].start_ns, spans[*i].span_id))
                    .unwrap_or(c);
                parent[cut] = None;
                break;
            }
            state[c] = 1;
            path.push(c);
            cur = parent[c];
        }
        for p in path {
            state[p] = 2;
        }
    }
    let mut children = vec![Vec::new(); n];
    let mut roots = Vec::new();
    for (i, p) in parent.iter().enumerate() {
        match p {
            Some(p) => children[*p].push(i),
            None => roots.push(i),
        }
    }
    let key = |i: &usize| (spans[*i].start_ns, spans[*i].span_id);
    for c in &mut children {
        c.sort_by_key(key);
    }
    roots.sort_by_key(key);
    let start_ns = spans.iter().map(|s| s.start_ns).min().unwrap_or(0);
    Trace {
        trace_id,
        span_logs: vec![Vec::new(); n],
        spans,
        parent,
        children,
        roots,
        orphan_logs: Vec::new(),
        start_ns,
    }
}
