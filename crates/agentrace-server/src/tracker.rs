//! Live sessions' invocations, kept up to date as spans and logs arrive.
//!
//! Each live session keeps its telemetry in the loader's incremental extractor (which re-extracts
//! only the traces that changed) and the invocations last extracted from it. Adding telemetry only
//! marks the session dirty; extraction runs later, off the ingest path
//! ([`Tracker::dirty_sessions`] then [`refresh`], debounced by the server so a burst of batches
//! costs one extraction), or on demand when somebody reads the invocations or the session
//! completes. Each session has its own lock, so extracting one session (which takes a while) holds
//! up neither the ingest of other sessions nor the session index. Only the invocations the new
//! traces can touch are extracted and serialized again ([`crate::extract::update`]), and only
//! those that changed are reported (and published to live subscribers). When a session completes its memory
//! is released: the final invocations are stored in SQLite.

use std::sync::Arc;

use agentrace_loader::{
    hash::{Map, Set},
    incremental::IncrementalExtractor,
    model::{LogRecord, Span, Telemetry, TraceId},
};
use parking_lot::Mutex;

use crate::extract::Invocation;

/// Per-session live extraction state.
#[derive(Debug, Default)]
pub struct Tracker {
    sessions: Map<String, Arc<Mutex<Live>>>,
    /// Sessions that received telemetry since [`Tracker::dirty_sessions`] last ran.
    dirty: Set<String>,
}

/// One live session's telemetry and its last extracted invocations.
#[derive(Debug, Default)]
pub struct Live {
    extractor: IncrementalExtractor,
    invocations: Vec<Invocation>,
    dirty: bool,
}

/// Changed invocations per session: `(session id, [(index, invocation)])`.
pub type Updates = Vec<(String, Vec<(usize, Invocation)>)>;

/// Reads one trace's whole telemetry (spans and logs) from the store.
pub type Fetch<'a> = &'a dyn Fn(TraceId) -> Telemetry;

impl Tracker {
    fn live(&mut self, session: String) -> &Arc<Mutex<Live>> {
        if !self.dirty.contains(&session) {
            self.dirty.insert(session.clone());
        }
        self.sessions.entry(session).or_default()
    }

    /// Adds spans (each with its session); their sessions become dirty.
    pub fn add_spans(&mut self, spans: Vec<(String, Span)>) {
        for (session, spans) in session_runs(spans) {
            let mut live = self.live(session).lock();
            live.extractor.push_spans(spans);
            live.dirty = true;
        }
    }

    /// Adds log records (each with its session); their sessions become dirty.
    pub fn add_logs(&mut self, logs: Vec<(String, LogRecord)>) {
        for (session, logs) in session_runs(logs) {
            let mut live = self.live(session).lock();
            live.extractor.push_logs(logs);
            live.dirty = true;
        }
    }

    /// The sessions waiting for extraction, to be passed to [`refresh`] without holding the
    /// tracker.
    pub fn dirty_sessions(&mut self) -> Vec<(String, Arc<Mutex<Live>>)> {
        let mut dirty: Vec<(String, Arc<Mutex<Live>>)> = self
            .dirty
            .drain()
            .filter_map(|id| {
                let live = Arc::clone(self.sessions.get(&id)?);
                Some((id, live))
            })
            .collect();
        dirty.sort_by(|a, b| a.0.cmp(&b.0));
        dirty
    }

    /// Moves a trace's telemetry between sessions; `fetch` reads a trace's whole telemetry from
    /// the store (a trace whose spans were released, or whose session has no live state, is moved
    /// from there). A target without live state gets none here: the ingest path seeds it from the
    /// store, which holds the moved trace already, with everything else the target holds.
    pub fn move_trace(&mut self, trace_id: &str, from: &str, to: &str, fetch: Fetch<'_>) {
        let Some(trace) = TraceId::from_hex(trace_id) else {
            return;
        };
        let mut moved = None;
        if let Some(source) = self.sessions.get(from).map(Arc::clone) {
            self.dirty.insert(from.to_owned());
            let mut source = source.lock();
            let released = source.extractor.is_released(trace);
            let taken = source.extractor.take_trace(trace);
            source.dirty = true;
            if !released {
                moved = Some(taken);
            }
        }
        let Some(target) = self.sessions.get(to).map(Arc::clone) else {
            return;
        };
        let moved = moved.unwrap_or_else(|| fetch(trace));
        self.dirty.insert(to.to_owned());
        let mut target = target.lock();
        target.extractor.push(moved);
        target.dirty = true;
    }

    /// A live session's state, to extract without holding the tracker.
    pub fn get(&self, session_id: &str) -> Option<Arc<Mutex<Live>>> {
        self.sessions.get(session_id).map(Arc::clone)
    }

    /// Whether a session has live state.
    pub fn contains(&self, session_id: &str) -> bool {
        self.sessions.contains_key(session_id)
    }

    /// Starts a session's live state from telemetry stored earlier (a session that completed,
    /// or that was live when the server stopped, and receives more).
    pub fn seed(&mut self, session_id: &str, telemetry: Telemetry) {
        let mut live = self.live(session_id.to_owned()).lock();
        live.extractor = IncrementalExtractor::new();
        live.extractor.push(telemetry);
        live.dirty = true;
    }

    /// Ends a session's live state, to be finished by [`finish`] without holding the tracker.
    pub fn take(&mut self, session_id: &str) -> Option<Arc<Mutex<Live>>> {
        self.dirty.remove(session_id);
        self.sessions.remove(session_id)
    }

    /// Forgets a session.
    pub fn remove(&mut self, session_id: &str) {
        self.dirty.remove(session_id);
        self.sessions.remove(session_id);
    }
}

/// The current invocations of a live session (extracted first when stale), with the invocations
/// that this extraction changed.
pub fn current(
    session_id: &str,
    live: &Mutex<Live>,
    fetch: Fetch<'_>,
) -> (Vec<Invocation>, Updates) {
    let updates = refresh(session_id, live, fetch).into_iter().collect();
    let invocations = live.lock().invocations.clone();
    (invocations, updates)
}

/// A session's final invocations (taken out of its ended live state), with the invocations that
/// the last extraction changed.
pub fn finish(
    session_id: &str,
    live: Option<Arc<Mutex<Live>>>,
    fetch: Fetch<'_>,
) -> (Vec<Invocation>, Updates) {
    let Some(live) = live else {
        return (Vec::new(), Vec::new());
    };
    let mut live = live.lock();
    let mut updates = Vec::new();
    if live.dirty {
        live.dirty = false;
        restore_released(&mut live, fetch);
        // The session is over: its extractor is spent by this last extraction (a reader still
        // holding the live state finds it empty and clean).
        let extractor = std::mem::take(&mut live.extractor);
        let changed = crate::extract::update_final(extractor, &mut live.invocations);
        if !changed.is_empty() {
            updates.push((session_id.to_owned(), changed));
        }
    }
    let invocations = std::mem::take(&mut live.invocations);
    (invocations, updates)
}

/// Gives the released traces that received more their whole telemetry back, from the store.
fn restore_released(live: &mut Live, fetch: Fetch<'_>) {
    for trace in live.extractor.needs_restore() {
        let telemetry = fetch(trace);
        live.extractor.restore(trace, telemetry);
    }
}

/// Splits `items` into the runs of consecutive items with equal keys, in order, each run in a
/// vector of its own size (spans are large: a vector grown by pushes copies them at every
/// doubling).
pub(crate) fn runs<T, K: PartialEq + ?Sized>(items: Vec<T>, key: impl Fn(&T) -> &K) -> Vec<Vec<T>> {
    let mut lengths: Vec<usize> = Vec::new();
    let mut last: Option<&T> = None;
    for item in &items {
        match (lengths.last_mut(), last) {
            (Some(n), Some(prev)) if key(prev) == key(item) => *n += 1,
            _ => lengths.push(1),
        }
        last = Some(item);
    }
    let mut items = items.into_iter();
    lengths
        .into_iter()
        .map(|n| items.by_ref().take(n).collect())
        .collect()
}

/// The runs of consecutive items of one session, each with its session (the run's first item's;
/// the others' strings are dropped) and its items, for feeding an extractor without copying them
/// into a vector first.
fn session_runs<T>(
    items: Vec<(String, T)>,
) -> impl Iterator<Item = (String, impl Iterator<Item = T>)> {
    runs(items, |(session, _)| session.as_str())
        .into_iter()
        .filter_map(|run| {
            let mut run = run.into_iter();
            let (session, first) = run.next()?;
            Some((
                session,
                std::iter::once(first).chain(run.map(|(_, item)| item)),
            ))
        })
}

/// Extracts one session again if it is dirty; returns the invocations that changed, if any.
///
/// Afterwards the spans of the session's rooted traces are released (the loader's
/// [`IncrementalExtractor::release_rooted`]): a live session keeps its extracted turns, not its
/// spans, which are in the store. A released trace that receives more is read back with `fetch`
/// first.
pub fn refresh(
    session: &str,
    live: &Mutex<Live>,
    fetch: Fetch<'_>,
) -> Option<(String, Vec<(usize, Invocation)>)> {
    let mut live = live.lock();
    if !live.dirty {
        return None;
    }
    live.dirty = false;
    restore_released(&mut live, fetch);
    let live = &mut *live;
    let changed = crate::extract::update(&mut live.extractor, &mut live.invocations);
    live.extractor.release_rooted();
    (!changed.is_empty()).then(|| (session.to_owned(), changed))
}

#[cfg(test)]
mod tests {
    use super::{runs, session_runs};

    #[test]
    fn runs_keep_order_and_each_gets_a_vector_of_its_size() {
        let items: Vec<(String, u32)> = [("a", 1), ("a", 2), ("b", 3), ("a", 4), ("a", 5)]
            .into_iter()
            .map(|(s, n)| (s.to_owned(), n))
            .collect();
        let grouped = runs(items.clone(), |(s, _)| s.as_str());
        assert_eq!(grouped.iter().map(Vec::len).collect::<Vec<_>>(), [2, 1, 2]);
        assert!(grouped.iter().all(|run| run.capacity() == run.len()));
        let by_session: Vec<(String, Vec<u32>)> = session_runs(items)
            .map(|(s, run)| (s, run.collect()))
            .collect();
        assert_eq!(
            by_session,
            [
                ("a".to_owned(), vec![1, 2]),
                ("b".to_owned(), vec![3]),
                ("a".to_owned(), vec![4, 5])
            ]
        );
        assert!(runs(Vec::<u32>::new(), |n| n).is_empty());
    }
}
