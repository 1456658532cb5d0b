//! Incremental extraction for live use: feed spans and logs in any order and batching, ask for
//! the current result at any time. The result equals batch extraction over everything fed.

use std::collections::HashSet;

use crate::extract::{self, ExtractOptions, Extraction};
use crate::model::{LogRecord, Span, SpanId, Telemetry, TraceId};
use crate::trace::TraceSet;

/// Accumulates telemetry and extracts on demand.
#[derive(Debug, Default)]
pub struct IncrementalExtractor {
    spans: Vec<Span>,
    seen: HashSet<(TraceId, SpanId)>,
    logs: Vec<LogRecord>,
}

impl IncrementalExtractor {
    /// An empty extractor.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds spans; a span id seen before in the same trace is ignored (the first copy wins).
    pub fn push_spans(&mut self, spans: impl IntoIterator<Item = Span>) {
        for s in spans {
            if self.seen.insert((s.trace_id, s.span_id)) {
                self.spans.push(s);
            }
        }
    }

    /// Adds log records.
    pub fn push_logs(&mut self, logs: impl IntoIterator<Item = LogRecord>) {
        self.logs.extend(logs);
    }

    /// Adds a batch of spans and logs.
    pub fn push(&mut self, t: Telemetry) {
        self.push_spans(t.spans);
        self.push_logs(t.logs);
    }

    /// Spans held.
    pub fn span_count(&self) -> usize {
        self.spans.len()
    }

    /// The traces built from everything fed so far, in a canonical order (independent of the
    /// order of feeding).
    pub fn trace_set(&self) -> TraceSet {
        let mut spans = self.spans.clone();
        spans.sort_by_key(|s| (s.trace_id, s.start_ns, s.span_id));
        let mut logs = self.logs.clone();
        logs.sort_by(|a, b| {
            (a.trace_id, a.span_id, a.time_ns, a.observed_time_ns).cmp(&(
                b.trace_id,
                b.span_id,
                b.time_ns,
                b.observed_time_ns,
            ))
        });
        TraceSet::build(Telemetry { spans, logs })
    }

    /// Extracts from everything fed so far.
    pub fn extract(&self, opts: &ExtractOptions) -> Extraction {
        extract::extract(&self.trace_set(), opts)
    }
}
