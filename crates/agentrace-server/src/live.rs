//! Live fan-out: one broadcast channel, two views of it (SSE and WebSocket).
//!
//! Every change the server makes is published once as a [`LiveEvent`]. Subscribers read from a
//! bounded buffer ([`crate::config::Limits::live_buffer`]); a subscriber that falls behind gets a
//! `{"type":"lagged","missed":N}` message and continues with the newest events, so a slow reader
//! never makes the server buffer without bound. The wire shape is documented in `docs/live.md`.

use std::{convert::Infallible, time::Duration};

use axum::{
    extract::{
        State,
        ws::{Message, WebSocket, WebSocketUpgrade},
    },
    response::{
        IntoResponse, Response,
        sse::{Event, KeepAlive, Sse},
    },
};
use futures::{Stream, StreamExt};
use serde::Serialize;
use serde_json::Value;
use tokio::sync::broadcast;

use agentrace_loader::model::{Span, SpanId, TraceId};

use crate::AppState;

/// One live update.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LiveEvent {
    /// A session was created.
    SessionStarted {
        /// The session's summary.
        session: Value,
    },
    /// Spans arrived for a session (one event per request and session, not per span).
    SpansReceived {
        /// Session id.
        session_id: String,
        /// The spans' ids and names, in arrival order: `[{traceId, spanId, parentSpanId, name}]`;
        /// at most [`MAX_EVENT_SPANS`] of them.
        spans: Vec<SpanSummary>,
        /// Spans of the batch not listed in `spans` (absent when none).
        #[serde(skip_serializing_if = "is_zero")]
        spans_omitted: u64,
        /// Spans the session now holds.
        span_count: u64,
    },
    /// An invocation was added or changed.
    InvocationUpdated {
        /// Session id.
        session_id: String,
        /// The invocation, in the shape of `GET /api/sessions/{id}/invocations`.
        invocation: crate::extract::Invocation,
    },
    /// A session completed.
    SessionComplete {
        /// Session id.
        session_id: String,
        /// Invocations extracted.
        invocation_count: usize,
    },
    /// An evaluation of a session finished (asked through the API, or at completion).
    EvaluationComplete {
        /// Session id.
        session_id: String,
        /// Its summary: `{id, evalSetId, trigger, passed, error, summary, metrics}`, `metrics`
        /// listing at most [`crate::evaluation::MAX_EVENT_METRICS`] `{metric, score, status}`;
        /// the whole evaluation is at `GET /api/evaluations/{id}`.
        evaluation: Value,
    },
    /// A session was deleted.
    SessionDeleted {
        /// Session id.
        session_id: String,
    },
    /// The subscriber fell behind and missed this many events.
    Lagged {
        /// Events dropped for this subscriber.
        missed: u64,
    },
}

/// A span as `spans_received` lists it: `{traceId, spanId, parentSpanId, name}` (ids in hex,
/// `parentSpanId` null for a root). Typed rather than a JSON value: building one is a copy of
/// the name, and it is written out only for subscribers.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SpanSummary {
    /// Trace id.
    pub trace_id: TraceId,
    /// Span id.
    pub span_id: SpanId,
    /// Parent span id, if any.
    pub parent_span_id: Option<SpanId>,
    /// Span name.
    pub name: String,
}

/// Spans a `spans_received` event lists at most; the others of the batch are counted in
/// `spans_omitted`.
pub const MAX_EVENT_SPANS: usize = 256;
/// Bytes of a span's name a `spans_received` event carries at most (cut at a character
/// boundary, with `…` appended).
pub const MAX_SUMMARY_NAME: usize = 256;

/// Bytes of an invocation's JSON an `invocation_updated` event carries at most: a longer one is
/// sent clipped ([`bounded_invocation`]), and `GET /api/sessions/{id}/invocations` has it whole.
pub const MAX_EVENT_INVOCATION: usize = 64 * 1024;
/// Bytes of each string a clipped invocation keeps (cut at a character boundary, with `…`).
pub const MAX_CLIPPED_STRING: usize = 4 * 1024;
/// Items of each array a clipped invocation keeps.
pub const MAX_CLIPPED_ITEMS: usize = 32;

/// The invocation as an `invocation_updated` event carries it: itself when its JSON is at most
/// [`MAX_EVENT_INVOCATION`] bytes; else with every string cut to [`MAX_CLIPPED_STRING`] bytes,
/// every array to its first [`MAX_CLIPPED_ITEMS`] items and `"clipped": true`; and when that is
/// still too long, only its `group`, `index` and `invocation_id` with `"clipped": true`.
pub fn bounded_invocation(invocation: crate::extract::Invocation) -> crate::extract::Invocation {
    if invocation.json().len() <= MAX_EVENT_INVOCATION {
        return invocation;
    }
    let mut value = invocation.to_value();
    clip_value(&mut value);
    if let Some(object) = value.as_object_mut() {
        object.insert("clipped".to_owned(), Value::Bool(true));
    }
    let clipped = crate::extract::Invocation::new(&value);
    if clipped.json().len() <= MAX_EVENT_INVOCATION {
        return clipped;
    }
    let mut summary = serde_json::Map::new();
    for key in ["group", "index", "invocation_id"] {
        if let Some(v) = value.get(key) {
            summary.insert(key.to_owned(), v.clone());
        }
    }
    summary.insert("clipped".to_owned(), Value::Bool(true));
    crate::extract::Invocation::new(&summary)
}

/// Cuts the strings and arrays of a value (its depth is bounded: the value was written by the
/// server from a model whose nesting is bounded).
fn clip_value(value: &mut Value) {
    match value {
        Value::String(text) if text.len() > MAX_CLIPPED_STRING => {
            *text = format!("{}…", crate::ingest::clip(text, MAX_CLIPPED_STRING));
        }
        Value::Array(items) => {
            items.truncate(MAX_CLIPPED_ITEMS);
            items.iter_mut().for_each(clip_value);
        }
        Value::Object(fields) => fields.values_mut().for_each(clip_value),
        _ => {}
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl SpanSummary {
    /// The summary of a span (its name cut to [`MAX_SUMMARY_NAME`] bytes).
    pub fn of(span: &Span) -> Self {
        let name = if span.name.len() > MAX_SUMMARY_NAME {
            format!("{}…", crate::ingest::clip(&span.name, MAX_SUMMARY_NAME))
        } else {
            span.name.clone()
        };
        Self {
            trace_id: span.trace_id,
            span_id: span.span_id,
            parent_span_id: span.parent_span_id,
            name,
        }
    }
}

/// A bounded number of connections of one kind (live subscribers, WebSocket ingest
/// connections): [`Slots::take`] gives a slot while fewer than the bound are taken.
#[derive(Debug, Clone)]
pub struct Slots {
    taken: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    max: usize,
}

/// A taken slot, given back when dropped.
#[derive(Debug)]
pub struct Slot(std::sync::Arc<std::sync::atomic::AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    }
}

impl Slots {
    /// At most `max` slots.
    pub fn new(max: usize) -> Self {
        Self {
            taken: std::sync::Arc::default(),
            max,
        }
    }

    /// A slot, or `None` when all are taken.
    pub fn take(&self) -> Option<Slot> {
        use std::sync::atomic::Ordering;
        self.taken
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max).then_some(n + 1)
            })
            .ok()
            .map(|_| Slot(std::sync::Arc::clone(&self.taken)))
    }

    /// Slots taken now.
    pub fn taken(&self) -> usize {
        self.taken.load(std::sync::atomic::Ordering::Acquire)
    }

    /// The bound.
    pub fn max(&self) -> usize {
        self.max
    }
}

/// The answer to a connection past its bound: 503 with `Retry-After`.
pub(crate) fn too_many(what: &str, max: usize, flag: &str) -> Response {
    crate::error::ApiError::Unavailable(format!(
        "too many {what} ({max}, the limit); retry later, or raise {flag}"
    ))
    .into_response()
}

/// The publishing side of the live channel.
#[derive(Debug, Clone)]
pub struct LiveHub {
    tx: broadcast::Sender<LiveEvent>,
}

impl LiveHub {
    /// A hub whose subscribers each buffer at most `capacity` events.
    pub fn new(capacity: usize) -> Self {
        let (tx, _) = broadcast::channel(capacity.max(1));
        Self { tx }
    }

    /// Publishes an event; never blocks, and costs nothing when nobody listens.
    pub fn publish(&self, event: LiveEvent) {
        if self.tx.receiver_count() > 0 {
            // An error only means every receiver went away in between.
            let _ = self.tx.send(event);
        }
    }

    /// Whether anybody listens (lets publishers skip building events).
    pub fn has_subscribers(&self) -> bool {
        self.tx.receiver_count() > 0
    }

    /// A stream of events for one subscriber, with lag turned into [`LiveEvent::Lagged`].
    pub fn subscribe(&self) -> impl Stream<Item = LiveEvent> + Send + use<> {
        let rx = self.tx.subscribe();
        futures::stream::unfold(rx, |mut rx| async move {
            match rx.recv().await {
                Ok(event) => Some((event, rx)),
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    Some((LiveEvent::Lagged { missed }, rx))
                }
                Err(broadcast::error::RecvError::Closed) => None,
            }
        })
    }
}

fn to_json(event: &LiveEvent) -> String {
    serde_json::to_string(event).unwrap_or_else(|_| r#"{"type":"error"}"#.to_owned())
}

/// `GET /stream/ui-updates`: the live feed as Server-Sent Events, one JSON object per `data:`.
///
/// At most [`crate::config::Limits::max_live_subscribers`] subscribers (SSE and `/ws/live`
/// together); one more gets 503 with `Retry-After`.
pub async fn sse(State(state): State<AppState>) -> Response {
    let Some(slot) = state.live_slots.take() else {
        return too_many(
            "live subscribers",
            state.live_slots.max(),
            "--max-live-subscribers",
        );
    };
    let stream = state.hub.subscribe().map(move |event| {
        // The slot is held as long as the stream is.
        let _held = &slot;
        Ok::<_, Infallible>(Event::default().data(to_json(&event)))
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

/// `GET /ws/live`: the live feed over a WebSocket, one JSON text message per event.
///
/// The client only ever sends control frames, so its messages are bounded by
/// [`MAX_LIVE_CLIENT_MESSAGE`].
pub async fn ws_live(State(state): State<AppState>, upgrade: WebSocketUpgrade) -> Response {
    let Some(slot) = state.live_slots.take() else {
        return too_many(
            "live subscribers",
            state.live_slots.max(),
            "--max-live-subscribers",
        );
    };
    let hub = state.hub.clone();
    upgrade
        .max_message_size(MAX_LIVE_CLIENT_MESSAGE)
        .max_frame_size(MAX_LIVE_CLIENT_MESSAGE)
        .on_upgrade(move |socket| async move {
            forward(socket, hub).await;
            drop(slot);
        })
        .into_response()
}

/// The largest message a `/ws/live` client may send (it has nothing to say but close).
pub const MAX_LIVE_CLIENT_MESSAGE: usize = 4096;

async fn forward(mut socket: WebSocket, hub: LiveHub) {
    let mut events = Box::pin(hub.subscribe());
    loop {
        tokio::select! {
            event = events.next() => {
                let Some(event) = event else { break };
                if socket.send(Message::Text(to_json(&event).into())).await.is_err() {
                    break;
                }
            }
            incoming = socket.recv() => {
                match incoming {
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                    Some(Ok(_)) => {}
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use futures::StreamExt;

    use super::{LiveEvent, LiveHub};

    fn deleted(n: usize) -> LiveEvent {
        LiveEvent::SessionDeleted {
            session_id: n.to_string(),
        }
    }

    #[tokio::test]
    async fn a_slow_subscriber_is_told_what_it_missed_and_continues_with_the_newest() {
        let hub = LiveHub::new(2);
        let mut events = Box::pin(hub.subscribe());
        for n in 0..10 {
            hub.publish(deleted(n));
        }
        // The buffer held 2 events; the 8 older ones were dropped for this subscriber only.
        assert_eq!(events.next().await, Some(LiveEvent::Lagged { missed: 8 }));
        assert_eq!(events.next().await, Some(deleted(8)));
        assert_eq!(events.next().await, Some(deleted(9)));
    }

    #[tokio::test]
    async fn publishing_without_subscribers_costs_nothing_and_fails_nothing() {
        let hub = LiveHub::new(4);
        assert!(!hub.has_subscribers());
        hub.publish(deleted(1));
        let mut events = Box::pin(hub.subscribe());
        assert!(hub.has_subscribers());
        hub.publish(deleted(2));
        assert_eq!(events.next().await, Some(deleted(2)));
    }
}
