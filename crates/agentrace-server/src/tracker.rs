//! Live sessions' invocations, kept up to date as spans and logs arrive.
//!
//! Each live session keeps its telemetry in memory and the invocations last extracted from it.
//! After every batch the session's invocations are extracted again with the loader's extractor,
//! and only the invocations that changed are reported (and published to live subscribers). When a
//! session completes its memory is released: the final invocations are stored in SQLite.

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
}

/// Changed invocations per session: `(session id, [(index, invocation)])`.
pub type Updates = Vec<(String, Vec<(usize, Value)>)>;

impl Tracker {
    /// Adds spans (each with its session) and returns the invocations that changed.
    pub fn add_spans(&mut self, spans: Vec<(String, Span)>) -> Updates {
        let mut touched: Vec<String> = Vec::new();
        for (session, span) in spans {
            if touched.last() != Some(&session) && !touched.contains(&session) {
                touched.push(session.clone());
            }
            self.sessions
                .entry(session)
                .or_default()
                .telemetry
                .spans
                .push(span);
        }
        self.refresh(touched)
    }

    /// Adds log records (each with its session) and returns the invocations that changed.
    pub fn add_logs(&mut self, logs: Vec<(String, LogRecord)>) -> Updates {
        let mut touched: Vec<String> = Vec::new();
        for (session, record) in logs {
            if !touched.contains(&session) {
                touched.push(session.clone());
            }
            self.sessions
                .entry(session)
                .or_default()
                .telemetry
                .logs
                .push(record);
        }
        self.refresh(touched)
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
        let target = self.sessions.entry(to.to_owned()).or_default();
        target.telemetry.spans.extend(moved_spans);
        target.telemetry.logs.extend(moved_logs);
    }

    /// The current invocations of a live session.
    pub fn current(&self, session_id: &str) -> Option<Vec<Value>> {
        self.sessions.get(session_id).map(|s| s.invocations.clone())
    }

    /// Ends a session's live state and returns its final invocations.
    pub fn finish(&mut self, session_id: &str) -> Vec<Value> {
        self.sessions
            .remove(session_id)
            .map(|s| s.invocations)
            .unwrap_or_default()
    }

    /// Forgets a session.
    pub fn remove(&mut self, session_id: &str) {
        self.sessions.remove(session_id);
    }

    fn refresh(&mut self, touched: Vec<String>) -> Updates {
        let mut updates = Vec::new();
        for session in touched {
            let Some(live) = self.sessions.get_mut(&session) else {
                continue;
            };
            let fresh = extract(&live.telemetry);
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

/// Extracts a session's invocations in the shape of `expected.json`'s `invocations`.
fn extract(telemetry: &Telemetry) -> Vec<Value> {
    crate::extract::invocations(telemetry)
}
