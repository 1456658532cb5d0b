//! Session routing and completion: which session a trace belongs to, and when a session is done.
//!
//! The rules are agentevals' (so its SDK and plain OpenTelemetry exporters group the same way):
//!
//! - **Key.** A trace's key is the first of: resource `agentevals.session_name` (kind `name`),
//!   `gen_ai.conversation.id` on a span then the resource (`conversation`), `session.id` on a span
//!   then the resource (`session_id`). Keys are printable and at most 256 characters.
//! - **R1.** A trace already in a session stays there; when it later shows a stronger key
//!   (name > conversation > session_id), it moves to that key's session.
//! - **R2.** A new trace with a key joins the key's head session. A `name` session starts a new
//!   generation (`name-2`, `name-3`, …) when the SDK's run id (`agentevals.session.run_id`)
//!   changes, or when the head is complete and the trace comes from another
//!   `service.instance.id` (or, with no instance id, after the rerun window). Conversation and
//!   session-id heads always rejoin.
//! - **R3.** A new trace with no key gets a session of its own, `otlp-<first 12 hex of the trace>`.
//!
//! A trace is complete the grace period after its last span when it holds a local root, otherwise
//! after the idle timeout; a session is complete when all its traces are. New spans reopen it.
//!
//! [`SessionIndex`] is the pure, synchronous state machine; the server wraps it in a mutex.

use std::{
    cmp::Reverse,
    collections::BinaryHeap,
    time::{Duration, Instant},
};

use agentrace_loader::hash::{Map, Set};

use crate::config::SessionRules;

/// Longest key kept, in characters.
pub const MAX_KEY_CHARS: usize = 256;

/// The kind of a session's key, by strength.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KeyKind {
    /// No key and no GenAI span yet: a staged trace, stored in a session of its own that is not
    /// listed (see [`SessionRules::staged_ttl`]).
    Staged,
    /// No key: one session per trace.
    Trace,
    /// `session.id`.
    SessionId,
    /// `gen_ai.conversation.id`.
    Conversation,
    /// Resource `agentevals.session_name`.
    Name,
    /// A WebSocket `session_start`: the client names the session.
    WebSocket,
}

impl KeyKind {
    /// The stored name of the kind.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Staged => "staged",
            Self::Trace => "trace",
            Self::SessionId => "session_id",
            Self::Conversation => "conversation",
            Self::Name => "name",
            Self::WebSocket => "websocket",
        }
    }

    /// Parses a stored name.
    pub fn parse(value: &str) -> Self {
        match value {
            "session_id" => Self::SessionId,
            "conversation" => Self::Conversation,
            "name" => Self::Name,
            "websocket" => Self::WebSocket,
            "staged" => Self::Staged,
            _ => Self::Trace,
        }
    }
}

/// What a batch says about one trace, gathered by the ingest path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TraceKeys {
    /// Resource `agentevals.session_name`.
    pub name: Option<String>,
    /// `gen_ai.conversation.id` (span first, then resource).
    pub conversation: Option<String>,
    /// `session.id` (span first, then resource).
    pub session_id: Option<String>,
    /// Resource `agentevals.session.run_id`.
    pub run_id: Option<String>,
    /// Resource `service.instance.id`.
    pub instance_id: Option<String>,
    /// Resource `agentevals.eval_set_id`.
    pub eval_set_id: Option<String>,
    /// Whether the batch holds a local root of the trace (a span with no parent).
    pub has_root: bool,
    /// Whether the batch holds a GenAI span of the trace (a keyless trace without one is staged).
    pub genai: bool,
}

impl TraceKeys {
    /// The strongest key, if any.
    pub fn key(&self) -> Option<(KeyKind, &str)> {
        if let Some(name) = &self.name {
            return Some((KeyKind::Name, name));
        }
        if let Some(c) = &self.conversation {
            return Some((KeyKind::Conversation, c));
        }
        self.session_id.as_deref().map(|s| (KeyKind::SessionId, s))
    }
}

/// Makes an attribute value usable as a key: control characters dropped, at most
/// [`MAX_KEY_CHARS`] characters; empty values are no key.
pub fn clean_key(value: &str) -> Option<String> {
    let cleaned: String = value
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_KEY_CHARS)
        .collect();
    let trimmed = cleaned.trim();
    (!trimmed.is_empty()).then(|| trimmed.to_owned())
}

/// A session as the index knows it.
#[derive(Debug, Clone)]
pub struct SessionState {
    /// Session id.
    pub id: String,
    /// Key kind.
    pub kind: KeyKind,
    /// Key.
    pub key: String,
    /// Run id of the producer that created it.
    pub run_id: Option<String>,
    /// Instance id of the producer that created it.
    pub instance_id: Option<String>,
    /// Traces it holds.
    pub traces: Set<String>,
    /// When it completed, if it did.
    pub completed_at: Option<Instant>,
    /// Whether it completes only by an explicit end (WebSocket sessions).
    pub explicit_end: bool,
}

#[derive(Debug, Clone)]
struct TraceState {
    session: String,
    kind: KeyKind,
    last_seen: Instant,
    has_root: bool,
}

/// Where a trace went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Routed {
    /// Into an existing session.
    Existing(String),
    /// Into a session created for it.
    Created(String),
    /// A staged trace got a GenAI span: its session is a listed session now (same id, its kind
    /// is [`KeyKind::Trace`]).
    Promoted(String),
    /// Out of `from` into `to` (a stronger key arrived); stored rows must move too.
    Moved {
        /// The session it left.
        from: String,
        /// The session it joined (which may be new).
        to: String,
        /// Whether `to` was created.
        created: bool,
    },
}

impl Routed {
    /// The session the trace is in now.
    pub fn session(&self) -> &str {
        match self {
            Self::Existing(s) | Self::Created(s) | Self::Promoted(s) => s,
            Self::Moved { to, .. } => to,
        }
    }
}

/// Where a key leads.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    /// An existing session.
    Existing(String),
    /// A session to create, with this id.
    New(String),
}

/// A routing decision, made without changing the index ([`SessionIndex::route`] applies it).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Plan {
    /// The trace stays in (or a keyless trace rejoins) this session.
    Stay(String),
    /// A staged trace's session becomes a listed session.
    Promote(String),
    /// A new trace joins a session of this key kind.
    Join { to: Target, kind: KeyKind },
    /// A known trace moves to a stronger key's session.
    Move {
        from: String,
        to: Target,
        kind: KeyKind,
    },
}

impl Plan {
    /// Whether it creates a staged session.
    fn stages(&self) -> bool {
        matches!(
            self,
            Self::Join {
                to: Target::New(_),
                kind: KeyKind::Staged,
            }
        )
    }

    fn creates(&self) -> bool {
        matches!(
            self,
            Self::Join {
                to: Target::New(_),
                ..
            } | Self::Move {
                to: Target::New(_),
                ..
            }
        )
    }
}

/// The in-memory routing index.
#[derive(Debug)]
pub struct SessionIndex {
    rules: SessionRules,
    sessions: Map<String, SessionState>,
    traces: Map<String, TraceState>,
    /// (kind, key) → the newest session (generation) of that key.
    heads: Map<(KeyKind, String), String>,
    /// Sessions that complete by timer and have not yet.
    live: Set<String>,
    /// When live sessions may complete, earliest first: what the ticker looks at. Every live
    /// session has an entry no later than its deadline ([`SessionIndex::schedule`]); an entry
    /// that comes due for a session not due yet is pushed again at the session's deadline, and
    /// one for a session no longer live is dropped.
    due: BinaryHeap<Reverse<(Instant, String)>>,
    /// Each session's current entry in `due`: entries at other times are stale and dropped when
    /// they come up, so a session that keeps receiving spans holds one entry, not one per batch.
    scheduled: Map<String, Instant>,
    /// Staged sessions (not listed, not live; deleted after [`SessionRules::staged_ttl`]).
    staged: Set<String>,
    /// The highest generation number inserted per base id (`base-n`;
    /// [`SessionIndex::next_generation`] looks after it), so a key rerun `n` times costs one
    /// look per rerun, not `n`. Kept to about the sessions' number: entries of bases that are
    /// not sessions are dropped when it grows past twice that.
    generations: Map<String, u64>,
}

impl SessionIndex {
    /// An empty index.
    pub fn new(rules: SessionRules) -> Self {
        Self {
            rules,
            sessions: Map::default(),
            traces: Map::default(),
            heads: Map::default(),
            live: Set::default(),
            due: BinaryHeap::new(),
            scheduled: Map::default(),
            staged: Set::default(),
            generations: Map::default(),
        }
    }

    /// Restores a stored session (at start). Incomplete sessions get a fresh idle clock.
    pub fn restore(&mut self, id: &str, kind: KeyKind, key: &str, complete: bool, now: Instant) {
        let state = SessionState {
            id: id.to_owned(),
            kind,
            key: key.to_owned(),
            run_id: None,
            instance_id: None,
            traces: Set::default(),
            completed_at: complete.then_some(now),
            explicit_end: kind == KeyKind::WebSocket,
        };
        if kind == KeyKind::Staged {
            self.staged.insert(id.to_owned());
        } else if !complete && kind != KeyKind::WebSocket {
            self.live.insert(id.to_owned());
        }
        self.note_generation(id);
        self.heads.insert((kind, key.to_owned()), id.to_owned());
        self.sessions.insert(id.to_owned(), state);
    }

    /// Restores a stored trace's membership (at start).
    pub fn restore_trace(&mut self, trace_id: &str, session_id: &str, now: Instant) {
        let Some(session) = self.sessions.get_mut(session_id) else {
            return;
        };
        session.traces.insert(trace_id.to_owned());
        let trace = TraceState {
            session: session_id.to_owned(),
            kind: session.kind,
            last_seen: now,
            has_root: false,
        };
        if self.live.contains(session_id) {
            self.schedule(session_id, self.trace_deadline(&trace));
        }
        self.traces.insert(trace_id.to_owned(), trace);
    }

    /// After a commit, when the index was rebuilt from the store meanwhile (another batch's
    /// write failed): puts back a session this commit stored, if the rebuild did not see it.
    pub fn reassert(&mut self, id: &str, kind: KeyKind, key: &str, now: Instant) {
        if !self.sessions.contains_key(id) {
            self.restore(id, kind, key, false, now);
        }
    }

    /// Like [`SessionIndex::reassert`], for a trace this commit stored in `session_id`.
    pub fn reassert_trace(&mut self, trace_id: &str, session_id: &str, now: Instant) {
        match self.traces.get(trace_id).map(|t| t.session.clone()) {
            Some(current) if current == session_id => {}
            Some(other) => {
                if let Some(old) = self.sessions.get_mut(&other) {
                    old.traces.remove(trace_id);
                }
                self.restore_trace(trace_id, session_id, now);
            }
            None => self.restore_trace(trace_id, session_id, now),
        }
    }

    /// The session a trace is in now.
    pub fn session_of(&self, trace_id: &str) -> Option<&str> {
        self.traces.get(trace_id).map(|t| t.session.as_str())
    }

    /// A session by id.
    pub fn get(&self, id: &str) -> Option<&SessionState> {
        self.sessions.get(id)
    }

    /// Number of sessions, staged ones included.
    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    /// Number of listed sessions (staged ones are not).
    pub fn listed_len(&self) -> usize {
        self.sessions.len() - self.staged.len()
    }

    /// Number of staged sessions (one per staged trace).
    pub fn staged_len(&self) -> usize {
        self.staged.len()
    }

    /// Whether a session is staged.
    pub fn is_staged(&self, id: &str) -> bool {
        self.staged.contains(id)
    }

    /// Whether there are no sessions.
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// Whether routing `keys` for `trace_id` would create a session (used to refuse a batch
    /// before anything is stored when the session limit is reached): [`SessionIndex::route`]'s
    /// own decision, without applying it.
    pub fn would_create(&self, trace_id: &str, keys: &TraceKeys, now: Instant) -> bool {
        let plan = self.plan(trace_id, keys, now);
        plan.creates() && !plan.stages()
    }

    /// The listed session routing `keys` for `trace_id` would create, if any (the session limit
    /// counts distinct sessions: two new traces of one new key create one).
    pub fn would_create_id(
        &self,
        trace_id: &str,
        keys: &TraceKeys,
        now: Instant,
    ) -> Option<String> {
        match self.plan(trace_id, keys, now) {
            p if p.stages() => None,
            Plan::Join {
                to: Target::New(id),
                ..
            }
            | Plan::Move {
                to: Target::New(id),
                ..
            } => Some(id),
            _ => None,
        }
    }

    /// The routing rules.
    pub fn rules(&self) -> &SessionRules {
        &self.rules
    }

    /// Whether routing `keys` for `trace_id` would stage it (for the staged-trace limit).
    pub fn would_stage(&self, trace_id: &str, keys: &TraceKeys, now: Instant) -> bool {
        // Only a keyless trace without a GenAI span can be staged: the others skip the plan.
        keys.key().is_none() && !keys.genai && self.plan(trace_id, keys, now).stages()
    }

    /// Decides where a trace goes, without changing anything.
    fn plan(&self, trace_id: &str, keys: &TraceKeys, now: Instant) -> Plan {
        if let Some(trace) = self.traces.get(trace_id) {
            return match keys.key() {
                Some((kind, key)) if kind > trace.kind => {
                    let to = self.head_target(kind, key, keys, now);
                    match to {
                        Target::Existing(id) if id == trace.session => Plan::Stay(id),
                        to => Plan::Move {
                            from: trace.session.clone(),
                            to,
                            kind,
                        },
                    }
                }
                None if trace.kind == KeyKind::Staged && keys.genai => {
                    Plan::Promote(trace.session.clone())
                }
                _ => Plan::Stay(trace.session.clone()),
            };
        }
        match keys.key() {
            Some((kind, key)) => Plan::Join {
                to: self.head_target(kind, key, keys, now),
                kind,
            },
            None => {
                let id = trace_session_id(trace_id);
                match self.sessions.get(&id) {
                    Some(s) if s.kind == KeyKind::Staged && keys.genai => Plan::Promote(id),
                    Some(_) => Plan::Stay(id),
                    None => Plan::Join {
                        to: Target::New(id),
                        kind: if keys.genai || self.rules.staged_ttl.is_zero() {
                            KeyKind::Trace
                        } else {
                            KeyKind::Staged
                        },
                    },
                }
            }
        }
    }

    /// Routes one trace of an incoming batch, creating or moving as the rules say.
    pub fn route(&mut self, trace_id: &str, keys: &TraceKeys, now: Instant) -> Routed {
        let routed = match self.plan(trace_id, keys, now) {
            Plan::Stay(id) => Routed::Existing(id),
            Plan::Promote(id) => {
                self.promote(&id);
                Routed::Promoted(id)
            }
            Plan::Join { to, kind } => {
                let key = keys.key().map_or(trace_id, |(_, key)| key).to_owned();
                let (id, created) = self.enter(to, kind, &key, keys);
                if created {
                    Routed::Created(id)
                } else {
                    Routed::Existing(id)
                }
            }
            Plan::Move { from, to, kind } => {
                let key = keys.key().map_or("", |(_, key)| key).to_owned();
                let (to, created) = self.enter(to, kind, &key, keys);
                if let Some(old) = self.sessions.get_mut(&from) {
                    old.traces.remove(trace_id);
                }
                self.left(&from, now);
                Routed::Moved { from, to, created }
            }
        };
        self.touch(trace_id, routed.session(), keys, now);
        routed
    }

    /// A staged session becomes a listed session of kind [`KeyKind::Trace`].
    fn promote(&mut self, id: &str) {
        self.staged.remove(id);
        let Some(session) = self.sessions.get_mut(id) else {
            return;
        };
        session.kind = KeyKind::Trace;
        let key = session.key.clone();
        for trace in &session.traces {
            if let Some(t) = self.traces.get_mut(trace) {
                t.kind = KeyKind::Trace;
            }
        }
        self.heads.remove(&(KeyKind::Staged, key.clone()));
        self.heads.insert((KeyKind::Trace, key), id.to_owned());
    }

    /// Staged sessions whose traces got neither a GenAI span nor a key within
    /// [`SessionRules::staged_ttl`] of their last span: forgotten here, to be deleted by the
    /// caller.
    pub fn expire_staged(&mut self, now: Instant) -> Vec<String> {
        let mut done: Vec<String> = self
            .staged
            .iter()
            .filter(|id| {
                self.staged_deadline(id)
                    .is_none_or(|deadline| deadline <= now)
            })
            .cloned()
            .collect();
        done.sort();
        for id in &done {
            self.remove(id);
        }
        done
    }

    fn staged_deadline(&self, id: &str) -> Option<Instant> {
        self.sessions
            .get(id)?
            .traces
            .iter()
            .filter_map(|t| self.traces.get(t))
            .map(|t| t.last_seen + self.rules.staged_ttl)
            .max()
    }

    /// Opens (or replaces) a WebSocket session named by the client.
    pub fn open_explicit(&mut self, id: &str) {
        let keys = TraceKeys::default();
        self.insert_session(id, KeyKind::WebSocket, id, &keys, true);
    }

    /// Routes a trace into an explicit (WebSocket) session.
    pub fn route_explicit(
        &mut self,
        trace_id: &str,
        session_id: &str,
        has_root: bool,
        now: Instant,
    ) {
        let keys = TraceKeys {
            has_root,
            ..TraceKeys::default()
        };
        if let Some(old) = self.traces.get(trace_id).map(|t| t.session.clone())
            && old != session_id
            && let Some(s) = self.sessions.get_mut(&old)
        {
            s.traces.remove(trace_id);
            self.left(&old, now);
        }
        self.touch(trace_id, session_id, &keys, now);
    }

    /// Marks an explicit session complete.
    pub fn end_explicit(&mut self, id: &str, now: Instant) -> bool {
        match self.sessions.get_mut(id) {
            Some(s) => {
                s.completed_at = Some(now);
                true
            }
            None => false,
        }
    }

    /// Forgets a session (after a delete).
    pub fn remove(&mut self, id: &str) {
        self.generations.remove(id);
        self.live.remove(id);
        self.scheduled.remove(id);
        self.staged.remove(id);
        if let Some(session) = self.sessions.remove(id) {
            for trace in &session.traces {
                self.traces.remove(trace);
            }
            // A session is the head of its own key only (promotion moves the head with the
            // kind), unless a newer generation of the key has taken it over.
            let head = (session.kind, session.key);
            if self.heads.get(&head).is_some_and(|h| h == id) {
                self.heads.remove(&head);
            }
        }
    }

    /// When a trace is done waiting: the grace period after its last span when it has a local
    /// root, else the idle timeout.
    fn trace_deadline(&self, trace: &TraceState) -> Instant {
        let wait = if trace.has_root {
            self.rules.completion_grace
        } else {
            self.rules.idle_timeout
        };
        trace.last_seen + wait
    }

    /// When a live session completes: when its last trace is done waiting.
    fn session_deadline(&self, session: &SessionState) -> Option<Instant> {
        session
            .traces
            .iter()
            .filter_map(|t| self.traces.get(t))
            .map(|t| self.trace_deadline(t))
            .max()
    }

    /// A trace left a session: its deadline may now be earlier than its entry in the queue.
    fn left(&mut self, session_id: &str, now: Instant) {
        if self.live.contains(session_id) {
            self.schedule(session_id, now);
        }
    }

    /// Makes sure the session is looked at by `at`: queues an entry unless it has one as early.
    fn schedule(&mut self, session_id: &str, at: Instant) {
        if self
            .scheduled
            .get(session_id)
            .is_some_and(|queued| *queued <= at)
        {
            return;
        }
        self.scheduled.insert(session_id.to_owned(), at);
        self.due.push(Reverse((at, session_id.to_owned())));
    }

    /// Sessions that became complete by `now`; marks them complete. Only the queue's entries due
    /// by `now` are looked at, so the cost grows with the sessions that may complete, not with
    /// those live.
    pub fn complete_due(&mut self, now: Instant) -> Vec<String> {
        let mut done: Vec<String> = Vec::new();
        while let Some(Reverse((at, _))) = self.due.peek()
            && *at <= now
        {
            let Some(Reverse((at, id))) = self.due.pop() else {
                break;
            };
            if self.scheduled.get(&id) != Some(&at) {
                // Stale: the session has an earlier entry, taken already or still queued.
                continue;
            }
            self.scheduled.remove(&id);
            if !self.live.contains(&id) {
                continue;
            }
            match self
                .sessions
                .get(&id)
                .and_then(|s| self.session_deadline(s))
            {
                Some(deadline) if deadline <= now => {
                    self.live.remove(&id);
                    if let Some(session) = self.sessions.get_mut(&id) {
                        session.completed_at = Some(now);
                    }
                    done.push(id);
                }
                Some(deadline) => self.schedule(&id, deadline),
                // No trace: nothing to wait for, and nothing completes it by timer.
                None => {}
            }
        }
        done.sort();
        done
    }

    /// How long until the next live session could complete (for the ticker), if any is live.
    /// (It may be earlier: the queue's next entry can be for a session that is not due then.)
    pub fn next_deadline(&self, now: Instant) -> Option<Duration> {
        let live = self.due.peek().map(|Reverse((at, _))| *at);
        let staged = self.staged.iter().filter_map(|id| self.staged_deadline(id));
        live.into_iter()
            .chain(staged)
            .min()
            .map(|deadline| deadline.saturating_duration_since(now))
    }

    fn touch(&mut self, trace_id: &str, session_id: &str, keys: &TraceKeys, now: Instant) {
        let kind = self
            .sessions
            .get(session_id)
            .map_or(KeyKind::Trace, |s| s.kind);
        let entry = self
            .traces
            .entry(trace_id.to_owned())
            .or_insert_with(|| TraceState {
                session: session_id.to_owned(),
                kind,
                last_seen: now,
                has_root: false,
            });
        entry.session = session_id.to_owned();
        entry.kind = kind;
        entry.last_seen = now;
        entry.has_root |= keys.has_root;
        let deadline = self.trace_deadline(&self.traces[trace_id]);
        if let Some(session) = self.sessions.get_mut(session_id) {
            session.traces.insert(trace_id.to_owned());
            if session.kind == KeyKind::Staged {
                return;
            }
            // New spans reopen a complete session.
            session.completed_at = None;
            if !session.explicit_end {
                if !self.live.contains(session_id) {
                    self.live.insert(session_id.to_owned());
                }
                self.schedule(session_id, deadline);
            }
        }
    }

    fn is_rerun(&self, head: &SessionState, keys: &TraceKeys, now: Instant) -> bool {
        if head.kind != KeyKind::Name {
            return false;
        }
        if let (Some(old), Some(new)) = (&head.run_id, &keys.run_id)
            && old != new
        {
            return true;
        }
        let Some(completed) = head.completed_at else {
            return false;
        };
        match (&head.instance_id, &keys.instance_id) {
            (Some(old), Some(new)) => old != new,
            _ => now.saturating_duration_since(completed) >= self.rules.rerun_window,
        }
    }

    /// The session a key leads to: its head, or a new session (the first of the key, or a new
    /// generation when the head is a finished run).
    fn head_target(&self, kind: KeyKind, key: &str, keys: &TraceKeys, now: Instant) -> Target {
        if let Some(head) = self.heads.get(&(kind, key.to_owned())) {
            let rerun = self
                .sessions
                .get(head)
                .is_none_or(|s| self.is_rerun(s, keys, now));
            if !rerun {
                return Target::Existing(head.clone());
            }
            return Target::New(self.next_generation(key));
        }
        let id = match kind {
            KeyKind::Name | KeyKind::WebSocket => key.to_owned(),
            _ if !self.sessions.contains_key(key) => key.to_owned(),
            _ => format!("{}:{key}", kind.as_str()),
        };
        if self.sessions.contains_key(&id) {
            Target::New(self.next_generation(&id))
        } else {
            Target::New(id)
        }
    }

    /// Enters a target: a new session is created. Returns the session id and whether it was
    /// created.
    fn enter(
        &mut self,
        target: Target,
        kind: KeyKind,
        key: &str,
        keys: &TraceKeys,
    ) -> (String, bool) {
        match target {
            Target::Existing(id) => (id, false),
            Target::New(id) => {
                self.insert_session(&id, kind, key, keys, false);
                (id, true)
            }
        }
    }

    /// A new generation of `base`: the first free id among `base-(n+1)`, `base-(n+2)`, …, where
    /// `n` is the highest generation of `base` inserted (1 when none has been, or after `base`
    /// was removed), so a deleted generation's id is not handed out again while `base` exists.
    /// At most one more id is looked at than there are sessions, so the loop is bounded
    /// whatever the ids taken. A read: routing asks it ahead of routing too.
    pub fn next_generation(&self, base: &str) -> String {
        let last = self.generations.get(base).copied().unwrap_or(1);
        let found = (last.saturating_add(1)..)
            .take(self.sessions.len().saturating_add(1))
            .find(|n| !self.sessions.contains_key(&format!("{base}-{n}")));
        // Among sessions + 1 numbers one is free: `found` is always set.
        let n = found.unwrap_or_else(|| last.saturating_add(self.sessions.len() as u64 + 1));
        format!("{base}-{n}")
    }

    /// Notes an inserted id of the form `base-n` as generation `n` of `base`.
    fn note_generation(&mut self, id: &str) {
        let Some((base, number)) = id.rsplit_once('-') else {
            return;
        };
        let Ok(n) = number.parse::<u64>() else {
            return;
        };
        if n < 2 {
            return;
        }
        let last = self.generations.entry(base.to_owned()).or_insert(n);
        *last = (*last).max(n);
        if self.generations.len() > 2 * self.sessions.len() + 64 {
            let sessions = &self.sessions;
            self.generations
                .retain(|base, _| sessions.contains_key(base));
        }
    }

    fn insert_session(
        &mut self,
        id: &str,
        kind: KeyKind,
        key: &str,
        keys: &TraceKeys,
        explicit: bool,
    ) {
        self.sessions.insert(
            id.to_owned(),
            SessionState {
                id: id.to_owned(),
                kind,
                key: key.to_owned(),
                run_id: keys.run_id.clone(),
                instance_id: keys.instance_id.clone(),
                traces: Set::default(),
                completed_at: None,
                explicit_end: explicit,
            },
        );
        if kind == KeyKind::Staged {
            self.staged.insert(id.to_owned());
        }
        self.note_generation(id);
        self.heads.insert((kind, key.to_owned()), id.to_owned());
    }
}

/// The session id of a trace that has no key.
pub fn trace_session_id(trace_id: &str) -> String {
    let prefix: String = trace_id.chars().take(12).collect();
    format!("otlp-{prefix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> SessionRules {
        SessionRules {
            completion_grace: Duration::from_secs(3),
            idle_timeout: Duration::from_secs(30),
            rerun_window: Duration::from_secs(30),
            staged_ttl: Duration::from_secs(120),
        }
    }

    fn named(name: &str) -> TraceKeys {
        TraceKeys {
            name: Some(name.to_owned()),
            has_root: true,
            ..TraceKeys::default()
        }
    }

    #[test]
    fn keyless_traces_get_their_own_session() {
        let mut index = SessionIndex::new(rules());
        let now = Instant::now();
        let routed = index.route(
            "0123456789abcdef0123456789abcdef",
            &TraceKeys::default(),
            now,
        );
        assert_eq!(routed, Routed::Created("otlp-0123456789ab".to_owned()));
        let again = index.route(
            "0123456789abcdef0123456789abcdef",
            &TraceKeys::default(),
            now,
        );
        assert_eq!(again, Routed::Existing("otlp-0123456789ab".to_owned()));
    }

    #[test]
    fn traces_with_one_name_share_a_session_and_complete_after_grace() {
        let mut index = SessionIndex::new(rules());
        let t0 = Instant::now();
        assert_eq!(
            index.route("t1", &named("demo"), t0),
            Routed::Created("demo".to_owned())
        );
        assert_eq!(
            index.route("t2", &named("demo"), t0),
            Routed::Existing("demo".to_owned())
        );
        assert!(index.complete_due(t0 + Duration::from_secs(2)).is_empty());
        assert_eq!(
            index.complete_due(t0 + Duration::from_secs(3)),
            vec!["demo".to_owned()]
        );
        // Nothing completes twice.
        assert!(index.complete_due(t0 + Duration::from_secs(4)).is_empty());
    }

    #[test]
    fn a_rootless_trace_waits_for_the_idle_timeout() {
        let mut index = SessionIndex::new(rules());
        let t0 = Instant::now();
        let keys = TraceKeys {
            conversation: Some("c".to_owned()),
            ..TraceKeys::default()
        };
        index.route("t1", &keys, t0);
        assert!(index.complete_due(t0 + Duration::from_secs(29)).is_empty());
        assert_eq!(index.complete_due(t0 + Duration::from_secs(30)).len(), 1);
    }

    #[test]
    fn a_session_touched_again_waits_from_its_last_span() {
        let mut index = SessionIndex::new(rules());
        let t0 = Instant::now();
        index.route("t1", &named("demo"), t0);
        index.route("t1", &named("demo"), t0 + Duration::from_secs(2));
        // The first span's entry comes due and finds the session not due yet.
        assert!(index.complete_due(t0 + Duration::from_secs(3)).is_empty());
        assert_eq!(
            index.next_deadline(t0 + Duration::from_secs(3)),
            Some(Duration::from_secs(2))
        );
        assert!(
            index
                .complete_due(t0 + Duration::from_millis(4999))
                .is_empty()
        );
        assert_eq!(
            index.complete_due(t0 + Duration::from_secs(5)),
            vec!["demo".to_owned()]
        );
        assert_eq!(index.next_deadline(t0 + Duration::from_secs(5)), None);
    }

    #[test]
    fn a_session_that_keeps_receiving_spans_holds_one_queue_entry() {
        let mut index = SessionIndex::new(rules());
        let t0 = Instant::now();
        for ms in 0..5_000u64 {
            let at = t0 + Duration::from_millis(ms);
            index.route("t1", &named("demo"), at);
            assert!(index.complete_due(at).is_empty());
        }
        assert!(index.due.len() <= 2, "{} entries", index.due.len());
        let last = t0 + Duration::from_millis(4_999);
        assert_eq!(
            index.complete_due(last + Duration::from_secs(3)),
            vec!["demo".to_owned()]
        );
        assert!(index.due.is_empty() && index.scheduled.is_empty());
    }

    #[test]
    fn a_trace_leaving_a_session_lets_its_other_traces_complete_it() {
        let mut index = SessionIndex::new(rules());
        let t0 = Instant::now();
        let rootless = TraceKeys {
            session_id: Some("s".to_owned()),
            ..TraceKeys::default()
        };
        let rooted = TraceKeys {
            has_root: true,
            ..rootless.clone()
        };
        index.route("t1", &rootless, t0);
        index.route("t2", &rooted, t0);
        // t2 is done waiting, t1 is not (the idle timeout): the session waits for t1.
        assert!(index.complete_due(t0 + Duration::from_secs(3)).is_empty());
        // t1 moves to another session; t2 alone is long done.
        let t4 = t0 + Duration::from_secs(4);
        assert_eq!(
            index.route("t1", &named("demo"), t4),
            Routed::Moved {
                from: "s".to_owned(),
                to: "demo".to_owned(),
                created: true
            }
        );
        assert_eq!(index.complete_due(t4), vec!["s".to_owned()]);
        assert_eq!(
            index.complete_due(t4 + Duration::from_secs(3)),
            vec!["demo".to_owned()]
        );
    }

    #[test]
    fn a_new_run_id_starts_a_new_generation() {
        let mut index = SessionIndex::new(rules());
        let t0 = Instant::now();
        let mut a = named("demo");
        a.run_id = Some("run-a".to_owned());
        let mut b = named("demo");
        b.run_id = Some("run-b".to_owned());
        assert_eq!(index.route("t1", &a, t0).session(), "demo");
        assert_eq!(
            index.route("t2", &b, t0),
            Routed::Created("demo-2".to_owned())
        );
        assert_eq!(index.route("t3", &b, t0).session(), "demo-2");
    }

    #[test]
    fn removing_an_old_generation_keeps_the_newer_head_and_removing_the_head_frees_the_key() {
        let mut index = SessionIndex::new(rules());
        let t0 = Instant::now();
        let mut a = named("demo");
        a.run_id = Some("run-a".to_owned());
        let mut b = named("demo");
        b.run_id = Some("run-b".to_owned());
        assert_eq!(index.route("t1", &a, t0).session(), "demo");
        assert_eq!(index.route("t2", &b, t0).session(), "demo-2");
        index.remove("demo");
        assert_eq!(
            index.route("t3", &b, t0),
            Routed::Existing("demo-2".to_owned())
        );
        index.remove("demo-2");
        assert!(index.heads.is_empty(), "{:?}", index.heads);
        assert!(matches!(index.route("t4", &b, t0), Routed::Created(_)));
    }

    #[test]
    fn a_complete_named_session_splits_on_rerun_but_conversations_rejoin() {
        let mut index = SessionIndex::new(rules());
        let t0 = Instant::now();
        index.route("t1", &named("demo"), t0);
        index.complete_due(t0 + Duration::from_secs(5));
        let late = t0 + Duration::from_secs(60);
        assert_eq!(
            index.route("t2", &named("demo"), late),
            Routed::Created("demo-2".to_owned())
        );

        let conv = TraceKeys {
            conversation: Some("c1".to_owned()),
            has_root: true,
            ..TraceKeys::default()
        };
        index.route("t3", &conv, t0);
        index.complete_due(t0 + Duration::from_secs(100));
        assert_eq!(
            index
                .route("t4", &conv, late + Duration::from_secs(100))
                .session(),
            "c1"
        );
    }

    #[test]
    fn a_stronger_key_moves_the_trace() {
        let mut index = SessionIndex::new(rules());
        let t0 = Instant::now();
        let weak = TraceKeys {
            session_id: Some("s".to_owned()),
            ..TraceKeys::default()
        };
        assert_eq!(index.route("t1", &weak, t0).session(), "s");
        let routed = index.route("t1", &named("demo"), t0);
        assert_eq!(
            routed,
            Routed::Moved {
                from: "s".to_owned(),
                to: "demo".to_owned(),
                created: true
            }
        );
        assert!(index.get("s").is_some_and(|s| s.traces.is_empty()));
    }

    proptest::proptest! {
        /// `would_create` is `route`'s own decision: over random sequences of traces and keys
        /// (names, conversations, session ids, run ids, instance ids, completions), it predicts
        /// exactly whether `route` creates a session.
        #[test]
        fn would_create_predicts_route(
            steps in proptest::collection::vec(
                (0u8..6, 0u8..4, 0u8..3, 0u8..3, 0u8..3, proptest::bool::ANY, 0u64..60),
                1..40,
            )
        ) {
            let mut index = SessionIndex::new(rules());
            let start = Instant::now();
            let mut clock = 0u64;
            for (trace, key_kind, key, run, instance, complete, advance) in steps {
                clock += advance;
                let now = start + Duration::from_secs(clock);
                if complete {
                    index.complete_due(now);
                }
                let value = Some(format!("k{key}"));
                let keys = TraceKeys {
                    name: (key_kind == 1).then(|| value.clone()).flatten(),
                    conversation: (key_kind == 2).then(|| value.clone()).flatten(),
                    session_id: (key_kind == 3).then(|| value.clone()).flatten(),
                    run_id: Some(format!("r{run}")),
                    instance_id: (instance > 0).then(|| format!("i{instance}")),
                    has_root: true,
                    // Keyless traces with and without GenAI spans: staged, joined, promoted.
                    genai: run == 0,
                    ..TraceKeys::default()
                };
                let trace_id = format!("{trace:032x}");
                let predicted = index.would_create(&trace_id, &keys, now);
                let stages = index.would_stage(&trace_id, &keys, now);
                let routed = index.route(&trace_id, &keys, now);
                let created = matches!(
                    routed,
                    Routed::Created(_) | Routed::Moved { created: true, .. }
                );
                let staged = index.is_staged(routed.session());
                proptest::prop_assert_eq!(predicted, created && !staged, "{:?}", routed);
                proptest::prop_assert_eq!(stages, created && staged, "{:?}", routed);
                // A staged session only ever holds keyless traces without a GenAI span so far.
                if staged {
                    proptest::prop_assert!(keys.key().is_none() && !keys.genai);
                }
                proptest::prop_assert_eq!(
                    index.listed_len() + index.staged_len(),
                    index.len()
                );
                proptest::prop_assert!(index.get(routed.session()).is_some());
            }
        }
    }

    #[test]
    fn keys_are_cleaned() {
        assert_eq!(clean_key("  a\u{0}b  "), Some("ab".to_owned()));
        assert_eq!(clean_key(" \n "), None);
        assert_eq!(
            clean_key(&"é".repeat(300)).map(|k| k.chars().count()),
            Some(256)
        );
    }
}
