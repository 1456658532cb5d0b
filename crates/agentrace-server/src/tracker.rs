//! Live sessions' invocations, kept up to date as spans and logs arrive.
//!
//! Each live session keeps its telemetry in memory and the invocations last extracted from it.
//! Adding telemetry only marks the session dirty; extraction runs later, off the ingest path
//! ([`Tracker::refresh_dirty`], debounced by the server so a burst of batches costs one
//! extraction), or on demand when somebody reads the invocations or the session completes. Only
//! the invocations that changed are reported (and published to live subscribers). When a session
//! completes its memory is released: the final invocations are stored in SQLite.

use std::collections::HashMap;

use agentrace_loader::model::{LogRecord, Span, Telemetry};
use serde_json::Value;

/// Per-session live extraction state.
#[derive(Debug, Default)]
pub struct Tracker {
    sessions: HashMap<String, Live>,
}

#[derive(Debug, Default)]
struct Live {
    telemetry: Telemetry,
    invocations: Vec<Value>,
    dirty: bool,
}

/// Changed invocations per session: `(session id, [(index, invocation)])`.
pub type Updates = Vec<(String, Vec<(usize, Value)>)>;

impl Tracker {
    /// Adds spans (each with its session); their sessions become dirty.
    pub fn add_spans(&mut self, spans: Vec<(String, Span)>) {
        for (session, span) in spans {
            let live = self.sessions.entry(session).or_default();
            live.telemetry.spans.push(span);
            live.dirty = true;
        }
    }

    /// Adds log records (each with its session); their sessions become dirty.
    pub fn add_logs(&mut self, logs: Vec<(String, LogRecord)>) {
        for (session, record) in logs {
            let live = self.sessions.entry(session).or_default();
            live.telemetry.logs.push(record);
            live.dirty = true;
        }
    }

    /// Extracts every dirty session; returns the invocations that changed.
    pub fn refresh_dirty(&mut self) -> Updates {
        let mut dirty: Vec<String> = self
            .sessions
            .iter()
            .filter(|(_, s)| s.dirty)
            .map(|(id, _)| id.clone())
            .collect();
        dirty.sort();
        self.refresh(dirty)
    }

    /// Moves a trace's telemetry between sessions.
    pub fn move_trace(&mut self, trace_id: &str, from: &str, to: &str) {
        let Some(source) = self.sessions.get_mut(from) else {
            return;
        };
        let (moved_spans, kept): (Vec<Span>, Vec<Span>) =
            std::mem::take(&mut source.telemetry.spans)
                .into_iter()
                .partition(|s| s.trace_id.to_string() == trace_id);
        source.telemetry.spans = kept;
        let (moved_logs, kept_logs): (Vec<LogRecord>, Vec<LogRecord>) =
            std::mem::take(&mut source.telemetry.logs)
                .into_iter()
                .partition(|l| l.trace_id.is_some_and(|t| t.to_string() == trace_id));
        source.telemetry.logs = kept_logs;
        source.dirty = true;
        let target = self.sessions.entry(to.to_owned()).or_default();
        target.telemetry.spans.extend(moved_spans);
        target.telemetry.logs.extend(moved_logs);
        target.dirty = true;
    }

    /// The current invocations of a live session (extracted first when stale), with the
    /// invocations that this extraction changed.
    pub fn current(&mut self, session_id: &str) -> Option<(Vec<Value>, Updates)> {
        let updates = self.refresh(vec![session_id.to_owned()]);
        self.sessions
            .get(session_id)
            .map(|s| (s.invocations.clone(), updates))
    }

    /// Ends a session's live state: its final invocations, with the invocations that the last
    /// extraction changed.
    pub fn finish(&mut self, session_id: &str) -> (Vec<Value>, Updates) {
        let updates = self.refresh(vec![session_id.to_owned()]);
        let invocations = self
            .sessions
            .remove(session_id)
            .map(|s| s.invocations)
            .unwrap_or_default();
        (invocations, updates)
    }

    /// Forgets a session.
    pub fn remove(&mut self, session_id: &str) {
        self.sessions.remove(session_id);
    }

    fn refresh(&mut self, sessions: Vec<String>) -> Updates {
        let mut updates = Vec::new();
        for session in sessions {
            let Some(live) = self.sessions.get_mut(&session) else {
                continue;
            };
            if !live.dirty {
                continue;
            }
            live.dirty = false;
            let fresh = crate::extract::invocations(&live.telemetry);
            let changed: Vec<(usize, Value)> = fresh
                .iter()
                .enumerate()
                .filter(|(i, inv)| live.invocations.get(*i) != Some(*inv))
                .map(|(i, inv)| (i, inv.clone()))
                .collect();
            live.invocations = fresh;
            if !changed.is_empty() {
                updates.push((session, changed));
            }
        }
        updates
    }
}
