//! The ingest pipeline shared by OTLP/HTTP, OTLP/gRPC and the WebSocket protocol: one pipeline
//! for spans and log records alike.
//!
//! One call handles one decoded batch, synchronously (the handlers run it on a blocking thread):
//!
//! 1. **prepare**, without a lock: reject, with a reason, the items holding a string longer than
//!    [`Limits::max_string_bytes`] and the log records without trace context (the request's item
//!    count was checked before decoding, [`Ingest::check_items`]); group the spans by trace, read
//!    each trace's session keys and write every item's stored form;
//! 2. **plan and check**, under the routing lock: refuse the whole batch with
//!    [`IngestError::Unavailable`] (503 / `UNAVAILABLE`) when it would create sessions past
//!    [`Limits::max_sessions`] (distinct sessions, not traces) — nothing is evicted to make
//!    room; reject the items that would stage traces past [`Limits::max_staged_traces`]; route
//!    every trace (the sessions it creates, promotes, moves and empties become the batch's
//!    store changes); reject the items past a session's span or log limit, counting what
//!    batches routed before this one will add;
//! 3. **apply**: every store change of the batch in one SQLite transaction
//!    ([`crate::store::Writer::apply`]), in the order the batches were routed (a write ticket
//!    taken under the lock), committed before the producer is answered; on an error nothing of
//!    the batch is stored and the index and counts are rebuilt from the store;
//! 4. take the sessions' counts from what was committed, update the live sessions'
//!    invocations incrementally and publish live events.
//!
//! Session deletes (API, staging expiry, a WebSocket `session_start` that replaces a session)
//! and creates go through the same tickets.

use std::{collections::BTreeMap, sync::Arc, time::Instant};

use agentrace_loader::{
    extract,
    hash::{Map, Set},
    model::{LogRecord, Resource, Scope, Span, Telemetry, TraceId},
    read::{Format, LoadOptions, load_bytes},
    write,
};
use agentrace_semconv::attr;
use parking_lot::Mutex;
use serde_json::{Map as JsonMap, Value, json};

use crate::{
    config::{Limits, SessionRules},
    extract::Invocation,
    live::{LiveEvent, LiveHub, SpanSummary},
    otlp_json,
    sessions::{KeyKind, Routed, SessionIndex, TraceKeys, clean_key},
    store::{Change, NewLog, NewSpan, SessionRow, Store, StoreError, StoredItem, now_ns},
    tracker::{self, Live, Tracker, Updates},
};

/// Resource attribute naming an agentevals session.
pub const AGENTEVALS_SESSION_NAME: &str = "agentevals.session_name";
/// Resource attribute with the agentevals SDK's run id.
pub const AGENTEVALS_RUN_ID: &str = "agentevals.session.run_id";
/// Resource attribute naming the eval set of a session.
pub const AGENTEVALS_EVAL_SET_ID: &str = "agentevals.eval_set_id";
/// Prefix of resource attributes promoted to session metadata.
pub const AGENTEVALS_METADATA_PREFIX: &str = "agentevals.metadata.";
/// Resource attribute identifying the producing process.
pub const SERVICE_INSTANCE_ID: &str = "service.instance.id";

/// Why a batch was refused as a whole.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// A configured capacity is reached; the producer should retry later.
    #[error("{0}")]
    Unavailable(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A trace of a batch ready to route: its id, its session keys, its spans with their stored form.
type PreparedTrace = (String, TraceKeys, Vec<(Span, NewSpan)>);
/// A log record ready to route: its trace and keys (none for an explicit session), the record
/// and its stored form.
type PreparedLog = (Option<(String, TraceKeys)>, LogRecord, NewLog);

/// Span and log counts of a session: committed (what the store holds) and pending (routed into
/// batches not yet committed), so limits hold across concurrent batches and the committed part
/// is always what the store says.
#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    spans: i64,
    logs: i64,
    pending_spans: i64,
    pending_logs: i64,
}

/// What one batch does, decided under the routing lock and applied in one transaction.
#[derive(Debug, Default)]
struct Plan {
    /// Sessions to create.
    created: Vec<SessionRow>,
    /// Staged sessions to promote.
    promoted: Vec<String>,
    /// `(trace, from, to)` moves.
    moves: Vec<(String, String, String)>,
    /// Staged sessions a move empties.
    emptied: Vec<String>,
    /// Span rows to store, by session.
    span_rows: Vec<(Arc<str>, NewSpan)>,
    /// The spans stored, each with the index of its trace in `traces`.
    spans: Vec<(usize, Span)>,
    /// The batch's traces, in routing order.
    traces: Vec<String>,
    /// Traces the index had never seen (nothing stored).
    new_traces: Set<String>,
    /// Log rows to store, by session.
    log_rows: Vec<(String, NewLog)>,
    /// The records stored, with their sessions.
    logs: Vec<(String, LogRecord)>,
    /// Spans past a session's span limit.
    spans_over: u64,
    /// Records past a session's log limit.
    logs_over: u64,
}

/// What happened to a batch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IngestOutcome {
    /// Items stored (or already stored: a retried export is accepted again).
    pub accepted: u64,
    /// Items rejected, each counted once.
    pub rejected: u64,
    /// Why items were rejected (at most a few distinct reasons, with counts).
    pub reasons: Vec<String>,
}

impl IngestOutcome {
    /// The OTLP partial-success message: empty when nothing was rejected.
    pub fn error_message(&self) -> String {
        self.reasons.join("; ")
    }

    fn reject(&mut self, count: u64, reason: String) {
        if count == 0 {
            return;
        }
        self.rejected += count;
        self.reasons.push(reason);
    }
}

/// Completed sessions indexed for search per transaction by [`Ingest::index_pending`]: the
/// write connection is given back to ingest between them.
pub const INDEX_BATCH: usize = 8;
/// Transactions one call of [`Ingest::index_pending`] runs at most.
pub const INDEX_ROUNDS: usize = 64;

/// The ingest pipeline and the live session state.
#[derive(Debug)]
pub struct Ingest {
    store: Arc<Store>,
    hub: LiveHub,
    limits: Limits,
    state: Mutex<State>,
    /// Signalled when a batch made live sessions dirty.
    dirty: tokio::sync::Notify,
    /// Signalled when a completion left sessions to index for search.
    unindexed: tokio::sync::Notify,
    /// Staged traces deleted because nothing made them a session in time (since start).
    staged_expired: std::sync::atomic::AtomicU64,
    /// Where completed sessions are announced for evaluation, once set.
    completions: std::sync::OnceLock<crate::evaluation::Completions>,
}

#[derive(Debug)]
struct State {
    index: SessionIndex,
    /// Span and log counts per session (the store's, plus what routed batches will add), for
    /// limit checks without a query.
    counts: Map<String, Counts>,
    /// Live sessions' incremental extraction.
    tracker: Tracker,
    /// Rebuilds of the index from the store since start: a batch that commits after a rebuild
    /// it did not plan under puts its sessions and traces back ([`Ingest::reassert`]).
    rebuilds: u64,
}

impl Ingest {
    /// Builds the pipeline over a store, restoring the session index from it.
    pub fn new(
        store: Arc<Store>,
        hub: LiveHub,
        limits: Limits,
        rules: SessionRules,
    ) -> Result<Self, StoreError> {
        let now = Instant::now();
        let mut index = SessionIndex::new(rules);
        let mut counts = Map::default();
        for row in store.all_sessions()? {
            index.restore(
                &row.id,
                KeyKind::parse(&row.key_kind),
                &row.key,
                row.completed_at_ns.is_some(),
                now,
            );
            counts.insert(
                row.id.clone(),
                Counts {
                    spans: row.span_count,
                    logs: row.log_count,
                    ..Counts::default()
                },
            );
        }
        for (trace, session) in store.trace_sessions()? {
            index.restore_trace(&trace, &session, now);
        }
        Ok(Self {
            store,
            hub,
            limits,
            state: Mutex::new(State {
                index,
                counts,
                tracker: Tracker::default(),
                rebuilds: 0,
            }),
            dirty: tokio::sync::Notify::new(),
            unindexed: tokio::sync::Notify::new(),
            staged_expired: std::sync::atomic::AtomicU64::new(0),
            completions: std::sync::OnceLock::new(),
        })
    }

    /// Announces every session completed from now on to `completions` (the evaluation at
    /// completion); set once, later calls are ignored.
    pub fn announce_completions(&self, completions: crate::evaluation::Completions) {
        let _ = self.completions.set(completions);
    }

    fn completed(&self, session_id: &str) {
        self.unindexed.notify_one();
        if let Some(c) = self.completions.get() {
            c.push(session_id);
        }
    }

    /// A session's stored spans and logs, read back into the model (what evaluation reads).
    pub fn session_telemetry(&self, session_id: &str) -> Result<Telemetry, StoreError> {
        self.stored_telemetry(session_id)
    }

    /// The store.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// Refuses a request of `items` spans and log records past
    /// [`Limits::max_items_per_request`], with the message the producer gets.
    pub fn check_items(&self, items: u64) -> Result<(), String> {
        let max = self.limits.max_items_per_request;
        if items > max {
            return Err(format!(
                "{items} items in one request, more than the limit of {max}; send smaller \
                 batches or raise --max-items-per-request"
            ));
        }
        Ok(())
    }

    /// Ingests decoded spans. `rejected` are items the decoder already refused, with reasons.
    pub fn spans(
        &self,
        spans: Vec<Span>,
        decode_rejected: &[String],
    ) -> Result<IngestOutcome, IngestError> {
        self.ingest(spans, Vec::new(), decode_rejected, None)
    }

    /// Ingests spans into an explicit (WebSocket) session.
    pub fn spans_for_session(
        &self,
        session_id: &str,
        spans: Vec<Span>,
    ) -> Result<IngestOutcome, IngestError> {
        self.ingest(spans, Vec::new(), &[], Some(session_id))
    }

    /// Ingests decoded log records. Records without trace context are rejected with a reason.
    pub fn logs(
        &self,
        logs: Vec<LogRecord>,
        decode_rejected: &[String],
    ) -> Result<IngestOutcome, IngestError> {
        self.ingest(Vec::new(), logs, decode_rejected, None)
    }

    /// Ingests log records into an explicit (WebSocket) session.
    pub fn logs_for_session(
        &self,
        session_id: &str,
        logs: Vec<LogRecord>,
    ) -> Result<IngestOutcome, IngestError> {
        self.ingest(Vec::new(), logs, &[], Some(session_id))
    }

    /// The one pipeline, for spans and log records alike: prepare without a lock, plan and
    /// check under the routing lock, apply every store change of the batch in one ticketed
    /// transaction, then take the counts from what was committed.
    fn ingest(
        &self,
        spans: Vec<Span>,
        logs: Vec<LogRecord>,
        decode_rejected: &[String],
        explicit: Option<&str>,
    ) -> Result<IngestOutcome, IngestError> {
        let mut outcome = IngestOutcome::default();
        outcome.reject(decode_rejected.len() as u64, summarize(decode_rejected));
        let (traces, records) = self.prepare(spans, logs, explicit, &mut outcome);
        if traces.is_empty() && records.is_empty() {
            return Ok(outcome);
        }
        let now = Instant::now();

        // Plan and check, under the routing lock.
        let mut state = self.state.lock();
        let (traces, records) = if explicit.is_none() {
            self.check_plan(&state, traces, records, now, &mut outcome)?
        } else {
            (traces, records)
        };
        let mut plan = Plan::default();
        let planned_under = state.rebuilds;
        for (trace_id, keys, items) in traces {
            if state.index.session_of(&trace_id).is_none() {
                plan.new_traces.insert(trace_id.clone());
            }
            let session = match explicit {
                Some(id) => {
                    state
                        .index
                        .route_explicit(&trace_id, id, keys.has_root, now);
                    id.to_owned()
                }
                None => {
                    let resource = items
                        .first()
                        .map(|(s, _)| Arc::clone(&s.resource))
                        .unwrap_or_default();
                    self.route(&mut state, &trace_id, &keys, &resource, now, &mut plan)
                }
            };
            let shared: Arc<str> = session.as_str().into();
            let counts = state.counts.entry(session).or_default();
            let trace = plan.traces.len();
            for (span, row) in items {
                if at_limit(
                    counts.spans + counts.pending_spans,
                    self.limits.max_spans_per_session,
                ) {
                    plan.spans_over += 1;
                    continue;
                }
                counts.pending_spans += 1;
                plan.span_rows.push((Arc::clone(&shared), row));
                plan.spans.push((trace, span));
            }
            plan.traces.push(trace_id);
        }
        for (route, record, row) in records {
            let session = match (explicit, route) {
                (Some(id), _) => id.to_owned(),
                (None, None) => continue,
                (None, Some((trace_id, keys))) => {
                    let resource = Arc::clone(&record.resource);
                    self.route(&mut state, &trace_id, &keys, &resource, now, &mut plan)
                }
            };
            let counts = state.counts.entry(session.clone()).or_default();
            if at_limit(
                counts.logs + counts.pending_logs,
                self.limits.max_logs_per_session,
            ) {
                plan.logs_over += 1;
                continue;
            }
            counts.pending_logs += 1;
            plan.log_rows.push((session.clone(), row));
            plan.logs.push((session, record));
        }
        outcome.reject(
            plan.spans_over,
            format!(
                "{} span(s) rejected: session span limit ({}) reached",
                plan.spans_over, self.limits.max_spans_per_session
            ),
        );
        outcome.reject(
            plan.logs_over,
            format!(
                "{} log record(s) rejected: session log limit ({}) reached",
                plan.logs_over, self.limits.max_logs_per_session
            ),
        );

        // Apply: the turn at the write connection is taken before the routing lock is let go,
        // so batches commit in the order they were routed while the next one is being routed.
        let ticket = self.store.ticket();
        drop(state);
        let change = Change {
            deleted: &[],
            created: &plan.created,
            promoted: &plan.promoted,
            moves: &plan.moves,
            emptied: &plan.emptied,
            spans: &plan.span_rows,
            new_traces: Some(&plan.new_traces),
            logs: &plan.log_rows,
        };
        let mut writer = ticket.writer();
        let applied = writer.apply(&change);
        drop(writer);

        // Take the counts from what was committed.
        let mut state = self.state.lock();
        for (session, _) in &plan.span_rows {
            if let Some(c) = state.counts.get_mut(&**session) {
                c.pending_spans -= 1;
            }
        }
        for (session, _) in &plan.log_rows {
            if let Some(c) = state.counts.get_mut(session) {
                c.pending_logs -= 1;
            }
        }
        let applied = match applied {
            Ok(applied) => applied,
            Err(err) => {
                // Nothing of the batch was stored: the index and the counts go back to what
                // the store holds.
                if let Err(rebuild) = self.rebuild(&mut state) {
                    tracing::error!(%rebuild, "cannot rebuild the session index from the store");
                }
                return Err(err.into());
            }
        };
        if state.rebuilds != planned_under {
            Self::reassert(&mut state, &plan, explicit);
        }
        for (session, spans, logs) in &applied.counts {
            let c = state.counts.entry(session.clone()).or_default();
            c.spans = *spans;
            c.logs = *logs;
        }
        outcome.accepted = (plan.span_rows.len() + plan.log_rows.len()) as u64;
        for (trace_id, from, to) in &plan.moves {
            state
                .tracker
                .move_trace(trace_id, from, to, &|t| self.trace_telemetry(to, t));
        }
        for id in &plan.emptied {
            state.tracker.remove(id);
            state.counts.remove(id.as_str());
        }
        self.announce_created(&state, &plan.created);
        for id in &plan.promoted {
            match self.store.session(id) {
                Ok(row) => self.hub.publish(LiveEvent::SessionStarted {
                    session: session_summary(&row),
                }),
                Err(err) => tracing::error!(%err, session = %id, "promoted session not found"),
            }
        }
        // A trace may have moved to another session while this batch was being written: its
        // spans go where the trace is now.
        let sessions_now: Vec<&str> = plan
            .traces
            .iter()
            .map(|trace_id| match explicit {
                Some(id) => id,
                None => state.index.session_of(trace_id).unwrap_or_default(),
            })
            .collect();
        let spans: Vec<(String, Span)> = plan
            .spans
            .into_iter()
            .map(|(trace, span)| (sessions_now[trace].to_owned(), span))
            .collect();
        let spans = without_staged(&state, spans);
        self.publish_spans(&state, &spans);
        let spans = self.resume_stored(&mut state, spans, |_| (1, 0))?;
        state.tracker.add_spans(spans);
        let logs = without_staged(&state, plan.logs);
        let logs = self.resume_stored(&mut state, logs, |_| (0, 1))?;
        state.tracker.add_logs(logs);
        drop(state);
        self.dirty.notify_one();
        Ok(outcome)
    }

    /// Prepares a batch without any lock: rejects the items holding too long a string and the
    /// records without trace context, groups the spans by trace with each trace's keys, and
    /// writes the stored form of every item (so concurrent batches do this in parallel).
    fn prepare(
        &self,
        mut spans: Vec<Span>,
        mut logs: Vec<LogRecord>,
        explicit: Option<&str>,
        outcome: &mut IngestOutcome,
    ) -> (Vec<PreparedTrace>, Vec<PreparedLog>) {
        let max = self.limits.max_string_bytes;
        let long = drop_long(&mut spans, max, longest_in_span);
        outcome.reject(long, string_limit_reason(long, "span", max));
        let long = drop_long(&mut logs, max, longest_in_log);
        outcome.reject(long, string_limit_reason(long, "log record", max));
        let mut by_trace: BTreeMap<TraceId, Vec<Span>> = BTreeMap::new();
        for run in crate::tracker::runs(spans, |s| &s.trace_id) {
            let Some(first) = run.first() else { continue };
            let held = by_trace.entry(first.trace_id).or_default();
            if held.is_empty() {
                *held = run;
            } else {
                held.extend(run);
            }
        }
        let mut origins = Origins::default();
        let traces: Vec<PreparedTrace> = by_trace
            .into_iter()
            .map(|(trace_id, spans)| {
                let keys = trace_keys(&spans);
                let trace_id = trace_id.to_string();
                let hex: Arc<str> = trace_id.as_str().into();
                let items = spans
                    .into_iter()
                    .map(|span| {
                        let origin = origins.get(&span.resource, &span.scope);
                        let row = NewSpan::of_trace(&span, Arc::clone(&hex), origin);
                        (span, row)
                    })
                    .collect();
                (trace_id, keys, items)
            })
            .collect();
        let mut no_context = 0u64;
        let records: Vec<PreparedLog> = logs
            .into_iter()
            .filter_map(|record| {
                let route = match (explicit, record.trace_id) {
                    (Some(_), _) => None,
                    (None, None) => {
                        no_context += 1;
                        return None;
                    }
                    (None, Some(trace)) => Some((trace.to_string(), log_keys(&record))),
                };
                let row = new_log(&record, &mut origins);
                Some((route, record, row))
            })
            .collect();
        outcome.reject(
            no_context,
            format!("{no_context} log record(s) rejected: no trace context (traceId) to join"),
        );
        (traces, records)
    }

    /// Checks a batch's plan against the session and staged-trace limits: a batch that would
    /// create sessions past [`Limits::max_sessions`] is refused whole (counting distinct
    /// sessions: two new traces of one new key create one); the items that would stage a trace
    /// past [`Limits::max_staged_traces`] are rejected.
    fn check_plan(
        &self,
        state: &State,
        mut traces: Vec<PreparedTrace>,
        mut records: Vec<PreparedLog>,
        now: Instant,
        outcome: &mut IngestOutcome,
    ) -> Result<(Vec<PreparedTrace>, Vec<PreparedLog>), IngestError> {
        let creating: Set<String> = traces
            .iter()
            .map(|(trace, keys, _)| (trace, keys))
            .chain(
                records
                    .iter()
                    .filter_map(|(route, _, _)| route.as_ref().map(|(t, k)| (t, k))),
            )
            .filter_map(|(trace, keys)| state.index.would_create_id(trace, keys, now))
            .collect();
        if !creating.is_empty()
            && state.index.listed_len() as u64 + creating.len() as u64 > self.limits.max_sessions
        {
            return Err(IngestError::Unavailable(format!(
                "session limit reached ({} sessions); delete sessions or raise --max-sessions",
                self.limits.max_sessions
            )));
        }
        let mut admitted: Set<String> = Set::default();
        let refused = self.refuse_past_staged_limit(
            state,
            &mut traces,
            |(t, k, _)| Some((t.as_str(), k)),
            now,
            &mut admitted,
        );
        let spans: u64 = refused.iter().map(|(_, _, items)| items.len() as u64).sum();
        outcome.reject(
            spans,
            format!(
                "{spans} span(s) rejected: staged trace limit ({}) reached (traces without a \
                 session key or a GenAI span wait staged); raise --max-staged-traces",
                self.limits.max_staged_traces
            ),
        );
        let refused = self.refuse_past_staged_limit(
            state,
            &mut records,
            |(route, _, _)| route.as_ref().map(|(t, k)| (t.as_str(), k)),
            now,
            &mut admitted,
        );
        let refused = refused.len() as u64;
        outcome.reject(
            refused,
            format!(
                "{refused} log record(s) rejected: staged trace limit ({}) reached (traces \
                 without a session key or a GenAI span wait staged); raise --max-staged-traces",
                self.limits.max_staged_traces
            ),
        );
        Ok((traces, records))
    }

    /// Routes one trace (changing the index) and adds the store changes it needs to `plan`:
    /// a session it creates, a staged session it promotes, a move to a stronger key's session
    /// and the staged session that move empties. Returns the trace's session.
    fn route(
        &self,
        state: &mut State,
        trace_id: &str,
        keys: &TraceKeys,
        resource: &Resource,
        now: Instant,
        plan: &mut Plan,
    ) -> String {
        let routed = state.index.route(trace_id, keys, now);
        let created = match &routed {
            Routed::Existing(_) => None,
            Routed::Promoted(id) => {
                plan.promoted.push(id.clone());
                None
            }
            Routed::Created(id) => Some(id.as_str()),
            Routed::Moved { to, created, .. } => created.then_some(to.as_str()),
        };
        if let Some(id) = created {
            let session = state.index.get(id).map(|s| (s.kind, s.key.clone()));
            let (kind, key) = session.unwrap_or((KeyKind::Trace, trace_id.to_owned()));
            state.counts.insert(id.to_owned(), Counts::default());
            plan.created.push(SessionRow {
                id: id.to_owned(),
                key_kind: kind.as_str().to_owned(),
                key,
                eval_set_id: keys.eval_set_id.clone(),
                metadata: metadata(resource),
                created_at_ns: now_ns(),
                updated_at_ns: now_ns(),
                completed_at_ns: None,
                span_count: 0,
                log_count: 0,
            });
        }
        if let Routed::Moved { from, to, .. } = &routed {
            plan.moves
                .push((trace_id.to_owned(), from.clone(), to.clone()));
            // A staged trace that got a key leaves its staged session empty: it goes.
            if state.index.is_staged(from)
                && state.index.get(from).is_some_and(|s| s.traces.is_empty())
            {
                state.index.remove(from);
                plan.emptied.push(from.clone());
            }
        }
        routed.session().to_owned()
    }

    /// Applies a change in the order of the write tickets: the ticket is taken under the
    /// routing lock (`state`), which is let go while the change waits for its turn and commits;
    /// after a failure the index and the counts are rebuilt from the store.
    fn apply_in_turn(
        &self,
        state: parking_lot::MutexGuard<'_, State>,
        change: &Change<'_>,
    ) -> Result<(), StoreError> {
        let ticket = self.store.ticket();
        drop(state);
        let mut writer = ticket.writer();
        let applied = writer.apply(change);
        drop(writer);
        if let Err(err) = applied {
            let mut state = self.state.lock();
            if let Err(rebuild) = self.rebuild(&mut state) {
                tracing::error!(%rebuild, "cannot rebuild the session index from the store");
            }
            return Err(err);
        }
        Ok(())
    }

    /// Puts a committed batch's sessions and traces back into an index rebuilt while it waited.
    fn reassert(state: &mut State, plan: &Plan, explicit: Option<&str>) {
        let now = Instant::now();
        if let Some(id) = explicit {
            state.index.reassert(id, KeyKind::WebSocket, id, now);
        }
        for row in &plan.created {
            state
                .index
                .reassert(&row.id, KeyKind::parse(&row.key_kind), &row.key, now);
        }
        let sessions: Map<&str, &str> = plan
            .span_rows
            .iter()
            .zip(&plan.spans)
            .filter_map(|((session, _), (trace, _))| {
                plan.traces.get(*trace).map(|t| (t.as_str(), &**session))
            })
            .collect();
        for (trace, session) in sessions {
            state.index.reassert_trace(trace, session, now);
        }
        for (trace, _, to) in &plan.moves {
            state.index.reassert_trace(trace, to, now);
        }
    }

    /// After a failed write: the session index and the counts are rebuilt from what the store
    /// holds (as at start), and live state of sessions the store does not hold is dropped.
    fn rebuild(&self, state: &mut State) -> Result<(), StoreError> {
        let now = Instant::now();
        let mut index = SessionIndex::new(state.index.rules().clone());
        let mut counts: Map<String, Counts> = Map::default();
        for row in self.store.all_sessions()? {
            index.restore(
                &row.id,
                KeyKind::parse(&row.key_kind),
                &row.key,
                row.completed_at_ns.is_some(),
                now,
            );
            let pending = state.counts.get(&row.id).copied().unwrap_or_default();
            counts.insert(
                row.id.clone(),
                Counts {
                    spans: row.span_count,
                    logs: row.log_count,
                    pending_spans: pending.pending_spans,
                    pending_logs: pending.pending_logs,
                },
            );
        }
        for (trace, session) in self.store.trace_sessions()? {
            index.restore_trace(&trace, &session, now);
        }
        let gone: Vec<String> = state
            .counts
            .keys()
            .filter(|id| !counts.contains_key(*id))
            .cloned()
            .collect();
        for id in gone {
            state.tracker.remove(&id);
        }
        state.index = index;
        state.counts = counts;
        state.rebuilds += 1;
        Ok(())
    }

    /// Announces the sessions a batch created; a staged one is announced when it is promoted.
    fn announce_created(&self, state: &State, created: &[SessionRow]) {
        if !self.hub.has_subscribers() {
            return;
        }
        for row in created.iter().filter(|r| !state.index.is_staged(&r.id)) {
            self.hub.publish(LiveEvent::SessionStarted {
                session: session_summary(row),
            });
        }
    }

    /// Takes out of `items` the ones that would stage a new trace past
    /// [`Limits::max_staged_traces`] (traces admitted in batch order) and returns them.
    fn refuse_past_staged_limit<T>(
        &self,
        state: &State,
        items: &mut Vec<T>,
        route: impl Fn(&T) -> Option<(&str, &TraceKeys)>,
        now: Instant,
        admitted: &mut Set<String>,
    ) -> Vec<T> {
        let free = self
            .limits
            .max_staged_traces
            .saturating_sub(state.index.staged_len() as u64);
        let (keep, refused): (Vec<T>, Vec<T>) =
            std::mem::take(items).into_iter().partition(|item| {
                let Some((trace, keys)) = route(item) else {
                    return true;
                };
                if admitted.contains(trace) || !state.index.would_stage(trace, keys, now) {
                    return true;
                }
                if (admitted.len() as u64) < free {
                    admitted.insert(trace.to_owned());
                    return true;
                }
                false
            });
        *items = keep;
        refused
    }

    /// Deletes the staged traces that got neither a GenAI span nor a session key within
    /// [`SessionRules::staged_ttl`] of their last item; returns their (staged) sessions.
    pub fn expire_staged(&self) -> Result<Vec<String>, IngestError> {
        let mut state = self.state.lock();
        let expired = state.index.expire_staged(Instant::now());
        if expired.is_empty() {
            return Ok(expired);
        }
        for id in &expired {
            state.counts.remove(id);
            state.tracker.remove(id);
        }
        self.apply_in_turn(
            state,
            &Change {
                deleted: &expired,
                ..Change::default()
            },
        )?;
        if !expired.is_empty() {
            self.staged_expired
                .fetch_add(expired.len() as u64, std::sync::atomic::Ordering::Relaxed);
            tracing::info!(
                traces = expired.len(),
                "deleted staged traces: no GenAI span or session key arrived in time"
            );
        }
        Ok(expired)
    }

    /// Traces staged now, and staged traces deleted since start.
    pub fn staged(&self) -> (u64, u64) {
        let now = self.state.lock().index.staged_len() as u64;
        (
            now,
            self.staged_expired
                .load(std::sync::atomic::Ordering::Relaxed),
        )
    }

    /// A session without live state that already holds stored items (it completed, or was live
    /// when the server stopped) gets its live state back from the store before more is added,
    /// so its invocations are extracted from everything it holds. Returns the items still to add:
    /// a resumed session's items are already in what was loaded.
    fn resume_stored<T>(
        &self,
        state: &mut State,
        items: Vec<(String, T)>,
        count: impl Fn(&T) -> (i64, i64),
    ) -> Result<Vec<(String, T)>, StoreError> {
        let mut incoming: Map<&str, (i64, i64)> = Map::default();
        for (session, item) in &items {
            let (spans, logs) = count(item);
            let entry = incoming.entry(session.as_str()).or_default();
            entry.0 += spans;
            entry.1 += logs;
        }
        let mut resumed: Vec<String> = Vec::new();
        for (session, (spans, logs)) in incoming {
            if state.tracker.contains(session) {
                continue;
            }
            let stored = state.counts.get(session).copied().unwrap_or_default();
            if stored.spans > spans || stored.logs > logs {
                let telemetry = self.stored_telemetry(session)?;
                state.tracker.seed(session, telemetry);
                resumed.push(session.to_owned());
            }
        }
        if resumed.is_empty() {
            return Ok(items);
        }
        Ok(items
            .into_iter()
            .filter(|(session, _)| !resumed.contains(session))
            .collect())
    }

    /// A session's stored spans and logs, read back into the model.
    fn stored_telemetry(&self, session: &str) -> Result<Telemetry, StoreError> {
        let spans = self.store.spans(session)?;
        let logs = self.store.logs(session)?;
        Ok(read_stored(&spans, &logs))
    }

    /// One trace's stored spans and logs, read back into the model (for live extraction of a
    /// trace whose spans it released). A store error leaves the trace out of live extraction
    /// (logged); the stored data itself is untouched.
    fn trace_telemetry(&self, session_id: &str, trace_id: TraceId) -> Telemetry {
        match self.store.trace(session_id, &trace_id.to_string()) {
            Ok((spans, logs)) => read_stored(&spans, &logs),
            Err(err) => {
                tracing::error!(%err, trace = %trace_id, "cannot read a trace back for live extraction");
                Telemetry::default()
            }
        }
    }

    fn publish_spans(&self, state: &State, accepted: &[(String, Span)]) {
        if !self.hub.has_subscribers() {
            return;
        }
        // Each event lists at most `MAX_EVENT_SPANS` spans (names cut to `MAX_SUMMARY_NAME`
        // bytes) and counts the others, so an event's size is bounded whatever the batch.
        let mut per_session: BTreeMap<&str, (Vec<SpanSummary>, u64)> = BTreeMap::new();
        for (session, span) in accepted {
            let (listed, omitted) = per_session.entry(session.as_str()).or_default();
            if listed.len() < crate::live::MAX_EVENT_SPANS {
                listed.push(SpanSummary::of(span));
            } else {
                *omitted += 1;
            }
        }
        for (session, (spans, spans_omitted)) in per_session {
            let span_count = state
                .counts
                .get(session)
                .map_or(0, |c| c.spans.max(0) as u64);
            self.hub.publish(LiveEvent::SpansReceived {
                session_id: session.to_owned(),
                spans,
                spans_omitted,
                span_count,
            });
        }
    }

    /// Opens an explicit session named by a WebSocket client; returns the id it is stored as.
    ///
    /// A `session_start` naming a WebSocket session that exists replaces it, as the reference
    /// does (announced with `session_deleted`). One naming a session that came from OTLP
    /// (`agentevals.session_name`, a conversation id, …) leaves that session alone and opens a
    /// new generation (`name-2`, …) instead: a WebSocket client cannot wipe another producer's
    /// data.
    pub fn open_session(
        &self,
        session_id: &str,
        eval_set_id: Option<String>,
        metadata: Value,
    ) -> Result<String, IngestError> {
        let mut state = self.state.lock();
        let existing = state.index.get(session_id).map(|s| s.kind);
        let mut replaced = false;
        let id = match existing {
            Some(KeyKind::WebSocket) => {
                state.index.remove(session_id);
                state.counts.remove(session_id);
                state.tracker.remove(session_id);
                replaced = true;
                session_id.to_owned()
            }
            Some(_) => state.index.next_generation(session_id),
            None => session_id.to_owned(),
        };
        if !replaced && state.index.listed_len() as u64 >= self.limits.max_sessions {
            return Err(IngestError::Unavailable(format!(
                "session limit reached ({} sessions)",
                self.limits.max_sessions
            )));
        }
        state.index.open_explicit(&id);
        let row = SessionRow {
            id: id.clone(),
            key_kind: KeyKind::WebSocket.as_str().to_owned(),
            key: session_id.to_owned(),
            eval_set_id,
            metadata,
            created_at_ns: now_ns(),
            updated_at_ns: now_ns(),
            completed_at_ns: None,
            span_count: 0,
            log_count: 0,
        };
        state.counts.insert(id.clone(), Counts::default());
        let replaced_ids = if replaced {
            vec![id.clone()]
        } else {
            Vec::new()
        };
        let planned_under = state.rebuilds;
        self.apply_in_turn(
            state,
            &Change {
                deleted: &replaced_ids,
                created: std::slice::from_ref(&row),
                ..Change::default()
            },
        )?;
        let mut state = self.state.lock();
        if state.rebuilds != planned_under {
            state
                .index
                .reassert(&id, KeyKind::WebSocket, session_id, Instant::now());
            state.counts.entry(id.clone()).or_default();
        }
        drop(state);
        if replaced {
            self.hub.publish(LiveEvent::SessionDeleted {
                session_id: id.clone(),
            });
        }
        self.hub.publish(LiveEvent::SessionStarted {
            session: session_summary(&row),
        });
        Ok(id)
    }

    /// Whether a session exists.
    pub fn has_session(&self, session_id: &str) -> bool {
        self.state.lock().index.get(session_id).is_some()
    }

    /// Completes an explicit session now; returns its invocations.
    pub fn end_session(&self, session_id: &str) -> Result<Vec<Invocation>, IngestError> {
        let mut state = self.state.lock();
        if !state.index.end_explicit(session_id, Instant::now()) {
            return Err(StoreError::NotFound(format!("no session `{session_id}`")).into());
        }
        let live = state.tracker.take(session_id);
        drop(state);
        let (invocations, updates) =
            tracker::finish(session_id, live, &|t| self.trace_telemetry(session_id, t));
        // Completion indexes every turn for search: the changed ones are only published.
        self.publish_updates(updates, false);
        self.complete(session_id, invocations.clone())?;
        Ok(invocations)
    }

    /// Completes the sessions that are due, in one transaction; returns their ids.
    pub fn complete_due(&self) -> Result<Vec<String>, IngestError> {
        let mut state = self.state.lock();
        let due = state.index.complete_due(Instant::now());
        if due.is_empty() {
            return Ok(due);
        }
        let ended: Vec<(String, Option<Arc<Mutex<Live>>>)> = due
            .into_iter()
            .map(|id| {
                let live = state.tracker.take(&id);
                (id, live)
            })
            .collect();
        drop(state);
        // Extraction runs without the routing lock: ingest goes on meanwhile.
        let mut sessions = Vec::with_capacity(ended.len());
        for (id, live) in ended {
            let (invocations, updates) =
                tracker::finish(&id, live, &|t| self.trace_telemetry(&id, t));
            self.publish_updates(updates, false);
            sessions.push((id, invocations));
        }
        self.store.complete_sessions(&sessions, now_ns())?;
        for (id, invocations) in &sessions {
            self.hub.publish(LiveEvent::SessionComplete {
                session_id: id.clone(),
                invocation_count: invocations.len(),
            });
            self.completed(id);
        }
        Ok(sessions.into_iter().map(|(id, _)| id).collect())
    }

    /// Indexes for search the completed sessions waiting for it, oldest first, a few per
    /// transaction, at most [`INDEX_ROUNDS`] transactions; asks to be called again if some are
    /// left. Returns how many were indexed.
    pub fn index_pending(&self) -> Result<usize, IngestError> {
        let mut indexed = 0;
        for _ in 0..INDEX_ROUNDS {
            let taken = self.store.index_pending(INDEX_BATCH)?;
            indexed += taken;
            if taken < INDEX_BATCH {
                return Ok(indexed);
            }
        }
        self.unindexed.notify_one();
        Ok(indexed)
    }

    /// Waits until completions leave sessions to index for search.
    pub async fn unindexed(&self) {
        self.unindexed.notified().await;
    }

    /// How long until a session could complete, if any is live.
    pub fn next_deadline(&self) -> Option<std::time::Duration> {
        self.state.lock().index.next_deadline(Instant::now())
    }

    fn complete(&self, session_id: &str, invocations: Vec<Invocation>) -> Result<(), IngestError> {
        let invocation_count = invocations.len();
        self.store
            .complete_sessions(&[(session_id.to_owned(), invocations)], now_ns())?;
        self.hub.publish(LiveEvent::SessionComplete {
            session_id: session_id.to_owned(),
            invocation_count,
        });
        self.completed(session_id);
        Ok(())
    }

    /// Deletes a session everywhere.
    pub fn delete_session(&self, session_id: &str) -> Result<(), IngestError> {
        let mut state = self.state.lock();
        if state.index.get(session_id).is_none() {
            return Err(StoreError::NotFound(format!("no session `{session_id}`")).into());
        }
        state.index.remove(session_id);
        state.counts.remove(session_id);
        state.tracker.remove(session_id);
        self.apply_in_turn(
            state,
            &Change {
                deleted: &[session_id.to_owned()],
                ..Change::default()
            },
        )?;
        self.hub.publish(LiveEvent::SessionDeleted {
            session_id: session_id.to_owned(),
        });
        Ok(())
    }

    /// A session's current invocations: live ones from the tracker (extracted now if stale),
    /// else the stored ones.
    pub fn invocations(&self, session_id: &str) -> Result<Vec<Value>, StoreError> {
        let live = self.state.lock().tracker.get(session_id);
        if let Some(live) = live {
            let (invocations, updates) =
                tracker::current(session_id, &live, &|t| self.trace_telemetry(session_id, t));
            self.publish_updates(updates, true);
            return Ok(invocations.iter().map(Invocation::to_value).collect());
        }
        self.store.invocations(session_id)
    }

    /// Extracts the invocations of every live session that changed since the last call, and
    /// publishes the invocations that changed. The server calls it off the ingest path, debounced.
    pub fn refresh_live(&self) {
        // Only the list of dirty sessions is taken under the state lock; each session is
        // extracted under its own lock, so ingest goes on meanwhile.
        let dirty = self.state.lock().tracker.dirty_sessions();
        let updates: Updates = dirty
            .iter()
            .filter_map(|(id, live)| {
                crate::tracker::refresh(id, live, &|t| self.trace_telemetry(id, t))
            })
            .collect();
        self.publish_updates(updates, true);
    }

    /// Waits until a batch leaves live sessions to extract.
    pub async fn dirty(&self) {
        self.dirty.notified().await;
    }

    /// Publishes the changed turns of live sessions; with `index`, they go into the search index
    /// first (a completing session's turns are indexed whole by the completion instead).
    fn publish_updates(&self, updates: Updates, index: bool) {
        // Off the ingest path: extraction runs debounced, or for a reader. A failure leaves the
        // index behind until the session completes and is indexed whole; the live feed goes on.
        if index && !updates.is_empty() {
            let changed = updates.iter().map(|(id, turns)| {
                let turns = turns.iter().map(|(i, inv)| (*i, inv.json())).collect();
                (id.as_str(), turns)
            });
            if let Err(err) = crate::search::index_changed(&self.store, changed) {
                tracing::warn!(%err, "search index not updated");
            }
        }
        for (session_id, changed) in updates {
            for (_, invocation) in changed {
                self.hub.publish(LiveEvent::InvocationUpdated {
                    session_id: session_id.clone(),
                    invocation: crate::live::bounded_invocation(invocation),
                });
            }
        }
    }
}

/// Stored spans and logs back into the model.
fn read_stored(spans: &[StoredItem], logs: &[StoredItem]) -> Telemetry {
    let document = otlp_json::document(spans, logs, &[]).to_string();
    let options = LoadOptions {
        format: Some(Format::OtlpJson),
    };
    // What the store holds was written by the loader's writer; a record that no longer reads is
    // left out of live extraction (the stored data itself is untouched).
    load_bytes(document.as_bytes(), options)
        .map(|loaded| loaded.telemetry)
        .unwrap_or_default()
}

/// Whether a count has reached a limit (compared without sign or width surprises).
fn at_limit(count: i64, limit: u64) -> bool {
    u64::try_from(count).unwrap_or(0) >= limit
}

/// Distinct reasons a rejection summary names at most; the others are counted.
pub const SHOWN_REASONS: usize = 5;

/// Groups identical reasons with counts: the first [`SHOWN_REASONS`] distinct ones are named,
/// every other item is counted. Linear in the number of reasons (each is compared with at most
/// [`SHOWN_REASONS`] others) and bounded in its length whatever the batch holds.
pub fn summarize(reasons: &[String]) -> String {
    let mut shown: Vec<(&str, usize)> = Vec::with_capacity(SHOWN_REASONS);
    let mut others = 0usize;
    for reason in reasons {
        if let Some((_, n)) = shown.iter_mut().find(|(r, _)| *r == reason.as_str()) {
            *n += 1;
        } else if shown.len() < SHOWN_REASONS {
            shown.push((reason.as_str(), 1));
        } else {
            others += 1;
        }
    }
    let named: Vec<String> = shown
        .iter()
        .map(|(r, n)| {
            let r = clip(r, 300);
            if *n == 1 {
                r.to_owned()
            } else {
                format!("{r} (x{n})")
            }
        })
        .collect();
    let mut text = format!("{} item(s) rejected: {}", reasons.len(), named.join("; "));
    if others > 0 {
        text.push_str(&format!("; and {others} other item(s) with other reasons"));
    }
    text
}

/// At most `max` bytes of `text`, cut at a character boundary.
pub(crate) fn clip(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.get(..end).unwrap_or_default()
}

fn string_attr(value: Option<&agentrace_loader::model::AnyValue>) -> Option<String> {
    let value = value?;
    let text = match value {
        agentrace_loader::model::AnyValue::String(s) => s.clone(),
        agentrace_loader::model::AnyValue::Int(i) => i.to_string(),
        agentrace_loader::model::AnyValue::Double(d) => d.to_string(),
        agentrace_loader::model::AnyValue::Bool(b) => b.to_string(),
        _ => return None,
    };
    clean_key(&text)
}

/// A trace's session keys, read from its spans (in start order) and their resources.
pub fn trace_keys(spans: &[Span]) -> TraceKeys {
    let mut keys = TraceKeys::default();
    let mut ordered: Vec<&Span> = spans.iter().collect();
    ordered.sort_by_key(|s| s.start_ns);
    for span in &ordered {
        keys.has_root |= span.parent_span_id.is_none();
        if keys.conversation.is_none() {
            keys.conversation = string_attr(span.attributes.get(attr::GEN_AI_CONVERSATION_ID));
        }
        if keys.session_id.is_none() {
            keys.session_id = string_attr(span.attributes.get(attr::SESSION_ID));
        }
    }
    if let Some(first) = ordered.first() {
        resource_keys(&first.resource, &mut keys);
    }
    // Only a keyless trace is staged without a GenAI span: the others need not know.
    keys.genai = keys.key().is_none() && spans.iter().any(extract::is_genai_span);
    keys
}

fn resource_keys(resource: &Resource, keys: &mut TraceKeys) {
    let attrs = &resource.attributes;
    keys.name = string_attr(attrs.get(AGENTEVALS_SESSION_NAME));
    keys.run_id = string_attr(attrs.get(AGENTEVALS_RUN_ID));
    keys.instance_id = string_attr(attrs.get(SERVICE_INSTANCE_ID));
    keys.eval_set_id = string_attr(attrs.get(AGENTEVALS_EVAL_SET_ID));
    if keys.conversation.is_none() {
        keys.conversation = string_attr(attrs.get(attr::GEN_AI_CONVERSATION_ID));
    }
    if keys.session_id.is_none() {
        keys.session_id = string_attr(attrs.get(attr::SESSION_ID));
    }
}

fn log_keys(record: &LogRecord) -> TraceKeys {
    let mut keys = TraceKeys {
        conversation: string_attr(record.attributes.get(attr::GEN_AI_CONVERSATION_ID)),
        session_id: string_attr(record.attributes.get(attr::SESSION_ID)),
        ..TraceKeys::default()
    };
    resource_keys(&record.resource, &mut keys);
    keys
}

/// Session metadata from a resource: `agentevals.metadata.X` becomes `X`, `service.name` is kept.
pub fn metadata(resource: &Resource) -> Value {
    let mut out = JsonMap::new();
    for kv in resource.attributes.iter() {
        if let Some(name) = kv.key.strip_prefix(AGENTEVALS_METADATA_PREFIX) {
            out.insert(name.to_owned(), kv.value.to_json());
        } else if kv.key == attr::SERVICE_NAME {
            out.insert(kv.key.as_str().to_owned(), kv.value.to_json());
        }
    }
    Value::Object(out)
}

/// A session's summary as sent to live subscribers and listed by the API.
pub fn session_summary(row: &SessionRow) -> Value {
    json!({
        "id": row.id,
        "keyKind": row.key_kind,
        "key": row.key,
        "evalSetId": row.eval_set_id,
        "metadata": row.metadata,
        "createdAtNs": row.created_at_ns,
        "updatedAtNs": row.updated_at_ns,
        "completedAtNs": row.completed_at_ns,
        "complete": row.completed_at_ns.is_some(),
        "spanCount": row.span_count,
        "logCount": row.log_count,
    })
}

fn nanos(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// Origin JSON per distinct (resource, scope) pair of a batch: computed once, shared by pointer.
#[derive(Default)]
struct Origins(Vec<(*const Resource, *const Scope, Arc<str>)>);

impl Origins {
    fn get(&mut self, resource: &Arc<Resource>, scope: &Arc<Scope>) -> Arc<str> {
        let key = (Arc::as_ptr(resource), Arc::as_ptr(scope));
        if let Some((_, _, json)) = self.0.iter().find(|(r, s, _)| (*r, *s) == key) {
            return Arc::clone(json);
        }
        let json: Arc<str> = Arc::from(otlp_json::origin(resource, scope));
        self.0.push((key.0, key.1, Arc::clone(&json)));
        json
    }
}

fn new_log(record: &LogRecord, origins: &mut Origins) -> NewLog {
    let body = write::to_json_string(record);
    NewLog {
        trace_id: record.trace_id.map(|t| t.to_string()),
        span_id: record.span_id.map(|s| s.to_string()),
        time_ns: nanos(if record.time_ns != 0 {
            record.time_ns
        } else {
            record.observed_time_ns
        }),
        origin: origins.get(&record.resource, &record.scope),
        fingerprint: fingerprint(&body),
        body,
    }
}

/// The items not in a staged session: staged sessions have no live state and publish nothing
/// until they are promoted.
fn without_staged<T>(state: &State, items: Vec<(String, T)>) -> Vec<(String, T)> {
    if state.index.staged_len() == 0 {
        return items;
    }
    items
        .into_iter()
        .filter(|(session, _)| !state.index.is_staged(session))
        .collect()
}

/// A content fingerprint (FNV-1a 128, hex): identical records from a retried export match.
fn fingerprint(body: &str) -> String {
    let mut hash: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    for byte in body.bytes() {
        hash ^= u128::from(byte);
        hash = hash.wrapping_mul(0x0000_0000_0100_0000_0000_0000_0000_013b);
    }
    format!("{hash:032x}")
}

/// The longest string (text or bytes) in a value, nested values included.
fn longest_in_value(value: &agentrace_loader::model::AnyValue) -> usize {
    use agentrace_loader::model::AnyValue;
    match value {
        AnyValue::String(s) => s.len(),
        AnyValue::Bytes(b) => b.len(),
        AnyValue::Array(items) => items.iter().map(longest_in_value).max().unwrap_or(0),
        AnyValue::KvList(kvs) => kvs
            .iter()
            .map(|kv| kv.key.as_str().len().max(longest_in_value(&kv.value)))
            .max()
            .unwrap_or(0),
        AnyValue::Empty | AnyValue::Bool(_) | AnyValue::Int(_) | AnyValue::Double(_) => 0,
    }
}

fn longest_in_attributes(attributes: &agentrace_loader::model::Attributes) -> usize {
    attributes
        .iter()
        .map(|kv| kv.key.as_str().len().max(longest_in_value(&kv.value)))
        .max()
        .unwrap_or(0)
}

/// The longest string of the resources and scopes items share, measured once per distinct one.
#[derive(Default)]
struct SharedLengths(Map<(usize, usize), usize>);

impl SharedLengths {
    fn of(&mut self, resource: &Arc<Resource>, scope: &Arc<Scope>) -> usize {
        let key = (Arc::as_ptr(resource) as usize, Arc::as_ptr(scope) as usize);
        *self.0.entry(key).or_insert_with(|| {
            longest_in_attributes(&resource.attributes)
                .max(longest_in_attributes(&scope.attributes))
                .max(scope.name.len())
                .max(scope.version.len())
        })
    }
}

/// The longest string of a span (its name, attributes, events, links, status and origin).
fn longest_in_span(span: &Span, shared: &mut SharedLengths) -> usize {
    let events = span
        .events
        .iter()
        .map(|e| e.name.len().max(longest_in_attributes(&e.attributes)))
        .max()
        .unwrap_or(0);
    let links = span
        .links
        .iter()
        .map(|l| longest_in_attributes(&l.attributes))
        .max()
        .unwrap_or(0);
    span.name
        .len()
        .max(span.status.message.len())
        .max(longest_in_attributes(&span.attributes))
        .max(events)
        .max(links)
        .max(shared.of(&span.resource, &span.scope))
}

/// The longest string of a log record (its body, attributes, event name and origin).
fn longest_in_log(record: &LogRecord, shared: &mut SharedLengths) -> usize {
    longest_in_value(&record.body)
        .max(longest_in_attributes(&record.attributes))
        .max(record.event_name.len())
        .max(record.severity_text.len())
        .max(shared.of(&record.resource, &record.scope))
}

/// Takes out of `items` those holding a string longer than `max` bytes; returns how many.
fn drop_long<T>(
    items: &mut Vec<T>,
    max: u64,
    longest: impl Fn(&T, &mut SharedLengths) -> usize,
) -> u64 {
    let mut shared = SharedLengths::default();
    let before = items.len();
    items.retain(|item| longest(item, &mut shared) as u64 <= max);
    (before - items.len()) as u64
}

fn string_limit_reason(count: u64, what: &str, max: u64) -> String {
    format!(
        "{count} {what}(s) rejected: a string longer than {max} bytes (the limit; raise \
         --max-string-bytes)"
    )
}

#[cfg(test)]
mod tests {
    use super::{SHOWN_REASONS, at_limit, summarize};

    #[test]
    fn a_summary_names_a_few_reasons_and_counts_the_rest() {
        let mut reasons: Vec<String> = (0..1000).map(|i| format!("span {i}: bad id")).collect();
        reasons.extend(std::iter::repeat_n("span 0: bad id".to_owned(), 3));
        let text = summarize(&reasons);
        assert!(text.starts_with("1003 item(s) rejected: span 0: bad id (x4); span 1: bad id;"));
        assert!(text.ends_with(&format!(
            "and {} other item(s) with other reasons",
            1000 - SHOWN_REASONS
        )));
        assert!(text.len() < 400, "{text}");
        let long = vec!["é".repeat(10_000)];
        assert!(summarize(&long).len() < 400);
    }

    #[test]
    fn limits_compare_without_wrapping() {
        assert!(
            !at_limit(0, u64::MAX),
            "an unbounded limit is never reached"
        );
        assert!(!at_limit(i64::MAX, u64::MAX));
        assert!(at_limit(3, 3));
        assert!(!at_limit(2, 3));
        assert!(at_limit(0, 0));
    }
}
