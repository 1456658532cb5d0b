//! Live events (seed 000): [`add_event`] writes a span event on the current span AND publishes the
//! event, with its original typed attributes, to in-process subscribers ([`EventStream`]).
//!
//! With nobody subscribed, publishing costs one relaxed atomic load: no event is built, nothing
//! is cloned. Channels are bounded; a subscriber that falls behind receives
//! [`LiveItem::Lagged`] with the number of events it missed, and the producer never blocks.

use std::borrow::Cow;
use std::fmt;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context as TaskContext, Poll};
use std::time::{SystemTime, UNIX_EPOCH};

use futures_core::Stream;
use opentelemetry::context::{FutureExt, WithContext};
use opentelemetry::trace::TraceContextExt;
use opentelemetry::{Context, Key, KeyValue, StringValue, Value};
use tokio::sync::broadcast;

use crate::span::SpanLabel;

/// Default capacity of a subscriber's channel.
pub const DEFAULT_CAPACITY: usize = 1024;

/// The value of a live-event attribute. Scalars go to the span as they are; [`EventValue::Json`]
/// (maps, lists of anything) is JSON-encoded on the span, while subscribers get it unencoded.
#[derive(Debug, Clone, PartialEq)]
pub enum EventValue {
    /// A boolean.
    Bool(bool),
    /// An integer.
    I64(i64),
    /// A float.
    F64(f64),
    /// A string.
    String(StringValue),
    /// Any JSON value (boxed, so that an attribute is as small as a `KeyValue` and converts in
    /// place).
    Json(Box<serde_json::Value>),
}

impl EventValue {
    fn into_otel(self) -> Value {
        match self {
            EventValue::Bool(b) => Value::Bool(b),
            EventValue::I64(i) => Value::I64(i),
            EventValue::F64(f) => Value::F64(f),
            EventValue::String(s) => Value::String(s),
            EventValue::Json(j) => match *j {
                serde_json::Value::String(s) => Value::String(s.into()),
                other => Value::String(other.to_string().into()),
            },
        }
    }

    fn from_otel(v: &Value) -> Self {
        match v {
            Value::Bool(b) => EventValue::Bool(*b),
            Value::I64(i) => EventValue::I64(*i),
            Value::F64(f) => EventValue::F64(*f),
            Value::String(s) => EventValue::String(s.clone()),
            other => EventValue::String(other.as_str().into_owned().into()),
        }
    }

    /// The value as JSON.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            EventValue::Bool(b) => serde_json::Value::Bool(*b),
            EventValue::I64(i) => serde_json::Value::from(*i),
            EventValue::F64(f) => serde_json::Value::from(*f),
            EventValue::String(s) => serde_json::Value::String(s.as_str().to_owned()),
            EventValue::Json(j) => (**j).clone(),
        }
    }
}

macro_rules! event_value_from {
    ($($t:ty => $v:ident $(as $cast:ty)?),* $(,)?) => {$(
        impl From<$t> for EventValue {
            fn from(v: $t) -> Self { EventValue::$v((v $(as $cast)?).into()) }
        }
    )*};
}

event_value_from!(
    bool => Bool,
    i64 => I64,
    i32 => I64,
    u32 => I64,
    f64 => F64,
    &'static str => String,
    String => String,
    StringValue => String,
);

impl From<serde_json::Value> for EventValue {
    fn from(v: serde_json::Value) -> Self {
        EventValue::Json(Box::new(v))
    }
}

impl From<u64> for EventValue {
    fn from(v: u64) -> Self {
        EventValue::I64(i64::try_from(v).unwrap_or(i64::MAX))
    }
}

impl From<usize> for EventValue {
    fn from(v: usize) -> Self {
        EventValue::I64(i64::try_from(v).unwrap_or(i64::MAX))
    }
}

/// One attribute of a live event.
#[derive(Debug, Clone, PartialEq)]
pub struct EventAttribute {
    /// The key.
    pub key: Key,
    /// The value.
    pub value: EventValue,
}

/// Builds an [`EventAttribute`].
pub fn attr(key: impl Into<Key>, value: impl Into<EventValue>) -> EventAttribute {
    EventAttribute {
        key: key.into(),
        value: value.into(),
    }
}

/// An event as subscribers receive it.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamEvent {
    /// The event name.
    pub name: Cow<'static, str>,
    /// The attributes, with their original (unencoded) values.
    pub attributes: Vec<EventAttribute>,
    /// Wall-clock time of the event, in nanoseconds since the Unix epoch.
    pub timestamp_ns: u64,
    /// Name of the span the event was written to, if it was started by this crate; empty when no
    /// span was recording.
    pub span_name: String,
    /// The span id (16 hex digits), empty when no span was recording.
    pub span_id: String,
    /// The trace id (32 hex digits), empty when no span was recording.
    pub trace_id: String,
}

impl StreamEvent {
    /// The value of one attribute.
    pub fn get(&self, key: &str) -> Option<&EventValue> {
        self.attributes
            .iter()
            .find(|a| a.key.as_str() == key)
            .map(|a| &a.value)
    }
}

/// What an [`EventStream`] yields.
#[derive(Debug, Clone, PartialEq)]
pub enum LiveItem {
    /// The next event.
    Event(Arc<StreamEvent>),
    /// The subscriber fell behind and this many events were dropped for it.
    Lagged(u64),
}

/// Number of live subscribers of any kind; the only thing [`add_event`] reads when it is zero.
static SUBSCRIBERS: AtomicUsize = AtomicUsize::new(0);

fn global_bus() -> &'static broadcast::Sender<Arc<StreamEvent>> {
    static BUS: OnceLock<broadcast::Sender<Arc<StreamEvent>>> = OnceLock::new();
    BUS.get_or_init(|| broadcast::channel(DEFAULT_CAPACITY).0)
}

/// The sink a scoped [`EventStream`] installs in a [`Context`].
#[derive(Clone)]
struct ScopedSink(broadcast::Sender<Arc<StreamEvent>>);

/// Attributes that [`add_event`] accepts: `Vec<KeyValue>` (scalars, passed to the span as they
/// are: the cheapest) or `Vec<EventAttribute>` (any JSON value, kept unencoded for subscribers).
pub trait IntoEventAttributes {
    /// The attributes for the span event.
    fn into_key_values(self) -> Vec<KeyValue>;
    /// The attributes for subscribers, and for the span.
    fn into_both(self) -> (Vec<EventAttribute>, Vec<KeyValue>);
}

impl IntoEventAttributes for Vec<KeyValue> {
    fn into_key_values(self) -> Vec<KeyValue> {
        self
    }
    fn into_both(self) -> (Vec<EventAttribute>, Vec<KeyValue>) {
        let typed = self
            .iter()
            .map(|kv| EventAttribute {
                key: kv.key.clone(),
                value: EventValue::from_otel(&kv.value),
            })
            .collect();
        (typed, self)
    }
}

impl IntoEventAttributes for () {
    fn into_key_values(self) -> Vec<KeyValue> {
        Vec::new()
    }
    fn into_both(self) -> (Vec<EventAttribute>, Vec<KeyValue>) {
        (Vec::new(), Vec::new())
    }
}

impl IntoEventAttributes for Vec<EventAttribute> {
    fn into_key_values(self) -> Vec<KeyValue> {
        self.into_iter()
            .map(|a| KeyValue::new(a.key, a.value.into_otel()))
            .collect()
    }
    fn into_both(self) -> (Vec<EventAttribute>, Vec<KeyValue>) {
        let kvs = self.clone().into_key_values();
        (self, kvs)
    }
}

/// Adds an event to the current span and publishes it to live subscribers.
///
/// Without a recording span the event still reaches subscribers (with empty span fields).
pub fn add_event(name: impl Into<Cow<'static, str>>, attributes: impl IntoEventAttributes) {
    Context::map_current(|cx| add_event_in(cx, name.into(), attributes));
}

/// Like [`add_event`], but builds the attributes only if someone will see them (a recording
/// current span or a subscriber).
pub fn add_event_with<A: IntoEventAttributes>(
    name: impl Into<Cow<'static, str>>,
    attributes: impl FnOnce() -> A,
) {
    Context::map_current(|cx| {
        if SUBSCRIBERS.load(Ordering::Relaxed) == 0 && !cx.span().is_recording() {
            return;
        }
        add_event_in(cx, name.into(), attributes());
    });
}

/// Whether any live subscriber exists (one relaxed atomic load).
pub fn has_subscribers() -> bool {
    SUBSCRIBERS.load(Ordering::Relaxed) > 0
}

/// Like [`add_event`], on the span of an explicit context.
pub fn add_event_in(cx: &Context, name: Cow<'static, str>, attributes: impl IntoEventAttributes) {
    if SUBSCRIBERS.load(Ordering::Relaxed) == 0 {
        // The span ignores the event itself when it is not recording: no extra check here.
        cx.span().add_event(name, attributes.into_key_values());
        return;
    }
    // Someone subscribed somewhere; publish only if this event has a destination.
    let sink = cx.get::<ScopedSink>();
    if sink.is_none() && global_bus().receiver_count() == 0 {
        cx.span().add_event(name, attributes.into_key_values());
        return;
    }
    let (typed, kvs) = attributes.into_both();
    publish_slow(cx, name, typed, kvs);
}

#[cold]
fn publish_slow(
    cx: &Context,
    name: Cow<'static, str>,
    attributes: Vec<EventAttribute>,
    kvs: Vec<KeyValue>,
) {
    let span = cx.span();
    let recording = span.is_recording();
    let timestamp = SystemTime::now();
    let timestamp_ns = timestamp
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    let (span_name, span_id, trace_id) = if recording {
        let sc = span.span_context();
        let label = cx
            .get::<SpanLabel>()
            .map(|l| l.0.to_string())
            .unwrap_or_default();
        (label, sc.span_id().to_string(), sc.trace_id().to_string())
    } else {
        (String::new(), String::new(), String::new())
    };
    let event = Arc::new(StreamEvent {
        name: name.clone(),
        attributes,
        timestamp_ns,
        span_name,
        span_id,
        trace_id,
    });
    if recording {
        span.add_event_with_timestamp(name, timestamp, kvs);
    }
    let bus = global_bus();
    if bus.receiver_count() > 0 {
        // A send error only means every receiver has gone since the check.
        let _ = bus.send(Arc::clone(&event));
    }
    if let Some(sink) = cx.get::<ScopedSink>() {
        let _ = sink.0.send(event);
    }
}

type Callback = Box<dyn FnMut(&StreamEvent) + Send>;

/// A subscription to live events.
///
/// [`EventStream::global`] receives every event of the process. [`EventStream::scoped`] receives
/// only events added under its context ([`EventStream::context`], [`EventStream::scope`]): tasks
/// and threads started with that context (see [`crate::propagation`]) feed it too, as the seed's
/// context variable did.
///
/// It is a `futures::Stream` of [`LiveItem`]s, ends when its scoped context has been dropped
/// everywhere, and can also be drained synchronously ([`EventStream::try_next`],
/// [`EventStream::drain`]). Callbacks registered with [`EventStream::on_event`] run for each event
/// as it is consumed.
pub struct EventStream {
    rx: broadcast::Receiver<Arc<StreamEvent>>,
    scope: Option<Context>,
    callbacks: Vec<Callback>,
    recv: Option<PendingRecv>,
}

type RecvResult = Result<Arc<StreamEvent>, broadcast::error::RecvError>;
type PendingRecv = Pin<
    Box<
        dyn std::future::Future<Output = (RecvResult, broadcast::Receiver<Arc<StreamEvent>>)>
            + Send,
    >,
>;

impl fmt::Debug for EventStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventStream")
            .field("scoped", &self.scope.is_some())
            .field("callbacks", &self.callbacks.len())
            .finish_non_exhaustive()
    }
}

impl EventStream {
    /// Subscribes to every live event of the process (a channel of [`DEFAULT_CAPACITY`]
    /// events shared by all global subscribers).
    pub fn global() -> Self {
        SUBSCRIBERS.fetch_add(1, Ordering::Relaxed);
        Self::from_rx(global_bus().subscribe(), None)
    }

    /// A stream fed only by events added under [`EventStream::context`].
    pub fn scoped() -> Self {
        Self::scoped_with_capacity(DEFAULT_CAPACITY)
    }

    /// Like [`EventStream::scoped`], with a channel of `capacity` events.
    pub fn scoped_with_capacity(capacity: usize) -> Self {
        let (tx, rx) = broadcast::channel(capacity.max(1));
        SUBSCRIBERS.fetch_add(1, Ordering::Relaxed);
        let scope = Context::current().with_value(ScopedSink(tx));
        Self::from_rx(rx, Some(scope))
    }

    fn from_rx(rx: broadcast::Receiver<Arc<StreamEvent>>, scope: Option<Context>) -> Self {
        Self {
            rx,
            scope,
            callbacks: Vec::new(),
            recv: None,
        }
    }

    /// The context that feeds a scoped stream (the current context at subscription, plus the
    /// sink). `None` for the global stream.
    pub fn context(&self) -> Option<&Context> {
        self.scope.as_ref()
    }

    /// Wraps a future so that events it adds feed this stream (a no-op for the global stream).
    pub fn scope<F: std::future::Future>(&self, fut: F) -> WithContext<F> {
        let cx = self.scope.clone().unwrap_or_else(Context::current);
        fut.with_context(cx)
    }

    /// Runs `f` with this stream's context current.
    pub fn in_scope<R>(&self, f: impl FnOnce() -> R) -> R {
        match &self.scope {
            Some(cx) => {
                let _guard = cx.clone().attach();
                f()
            }
            None => f(),
        }
    }

    /// Stops feeding a scoped stream from this handle's context: once every clone of the
    /// context (in spawned tasks, say) is gone, the stream ends after the buffered events.
    pub fn close(&mut self) {
        self.scope = None;
    }

    /// Registers a callback that runs for each event as it is consumed.
    pub fn on_event(&mut self, callback: impl FnMut(&StreamEvent) + Send + 'static) {
        self.callbacks.push(Box::new(callback));
    }

    fn deliver(&mut self, item: LiveItem) -> LiveItem {
        if let LiveItem::Event(ev) = &item {
            for cb in &mut self.callbacks {
                cb(ev);
            }
        }
        item
    }

    /// The next buffered item without waiting; `None` when nothing is buffered or the stream
    /// ended.
    pub fn try_next(&mut self) -> Option<LiveItem> {
        // A pending async receive holds the original receiver, which was empty when the wait
        // began; `self.rx` was subscribed at that same position, so it has everything since:
        // drop the wait and read from it (nothing lost, nothing twice).
        self.recv = None;
        let item = match self.rx.try_recv() {
            Ok(ev) => LiveItem::Event(ev),
            Err(broadcast::error::TryRecvError::Lagged(n)) => LiveItem::Lagged(n),
            Err(_) => return None,
        };
        Some(self.deliver(item))
    }

    /// Every buffered item, without waiting.
    pub fn drain(&mut self) -> Vec<LiveItem> {
        std::iter::from_fn(|| self.try_next()).collect()
    }
}

impl Drop for EventStream {
    fn drop(&mut self) {
        SUBSCRIBERS.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Stream for EventStream {
    type Item = LiveItem;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<LiveItem>> {
        let this = &mut *self;
        if this.recv.is_none() {
            if let Some(item) = this.try_next() {
                return Poll::Ready(Some(item));
            }
            // Nothing buffered: wait on a receiver moved into a boxed future.
            let mut rx = this.rx.resubscribe();
            std::mem::swap(&mut rx, &mut this.rx);
            this.recv = Some(Box::pin(async move {
                let r = rx.recv().await;
                (r, rx)
            }));
        }
        let Some(fut) = this.recv.as_mut() else {
            return Poll::Pending;
        };
        match fut.as_mut().poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready((result, rx)) => {
                this.recv = None;
                this.rx = rx;
                let item = match result {
                    Ok(ev) => LiveItem::Event(ev),
                    Err(broadcast::error::RecvError::Lagged(n)) => LiveItem::Lagged(n),
                    Err(broadcast::error::RecvError::Closed) => return Poll::Ready(None),
                };
                Poll::Ready(Some(this.deliver(item)))
            }
        }
    }
}

/// Convenience emitters for the live event vocabulary of seed 000 (`gen_ai.agent.*`,
/// `gen_ai.model.*`, `gen_ai.tool.*`, `gen_ai.flow.*`, `gen_ai.module.*`). Each takes extra
/// attributes to append, and builds nothing when nobody would see the event.
pub mod emit {
    use agentrace_semconv::event as names;
    use serde_json::Value;

    use super::{EventAttribute, add_event_with, attr};

    fn with(mut base: Vec<EventAttribute>, extra: Vec<EventAttribute>) -> Vec<EventAttribute> {
        base.extend(extra);
        base
    }

    fn push_opt(
        v: &mut Vec<EventAttribute>,
        key: &'static str,
        value: Option<impl Into<super::EventValue>>,
    ) {
        if let Some(value) = value {
            v.push(attr(key, value));
        }
    }

    /// `gen_ai.agent.start` `{agent_name}`.
    pub fn agent_start(agent_name: &str, extra: Vec<EventAttribute>) {
        add_event_with(names::AGENT_START, || {
            with(vec![attr("agent_name", agent_name.to_owned())], extra)
        });
    }

    /// `gen_ai.agent.step` `{agent_name, step_number, step_type}`.
    pub fn agent_step(
        agent_name: &str,
        step_number: u64,
        step_type: &str,
        extra: Vec<EventAttribute>,
    ) {
        add_event_with(names::AGENT_STEP, || {
            with(
                vec![
                    attr("agent_name", agent_name.to_owned()),
                    attr("step_number", step_number),
                    attr("step_type", step_type.to_owned()),
                ],
                extra,
            )
        });
    }

    /// `gen_ai.agent.complete` `{agent_name, response?}`.
    pub fn agent_complete(agent_name: &str, response: Option<Value>, extra: Vec<EventAttribute>) {
        add_event_with(names::AGENT_COMPLETE, || {
            let mut v = vec![attr("agent_name", agent_name.to_owned())];
            push_opt(&mut v, "response", response);
            with(v, extra)
        });
    }

    /// `gen_ai.agent.error` `{agent_name, error}` (no helper in the seed; added here).
    pub fn agent_error(agent_name: &str, error: &str, extra: Vec<EventAttribute>) {
        add_event_with(names::AGENT_ERROR, || {
            with(
                vec![
                    attr("agent_name", agent_name.to_owned()),
                    attr("error", error.to_owned()),
                ],
                extra,
            )
        });
    }

    /// `gen_ai.model.request` `{model?, message_count?}`.
    pub fn model_request(
        model: Option<&str>,
        message_count: Option<u64>,
        extra: Vec<EventAttribute>,
    ) {
        add_event_with(names::MODEL_REQUEST, || {
            let mut v = Vec::new();
            push_opt(&mut v, "model", model.map(str::to_owned));
            push_opt(&mut v, "message_count", message_count);
            with(v, extra)
        });
    }

    /// `gen_ai.model.response` `{response_type}`.
    pub fn model_response(response_type: &str, extra: Vec<EventAttribute>) {
        add_event_with(names::MODEL_RESPONSE, || {
            with(vec![attr("response_type", response_type.to_owned())], extra)
        });
    }

    /// `gen_ai.model.response.chunk` `{chunk, index}`.
    ///
    /// One span event per chunk: the SDK keeps 128 events per span by default
    /// (`OTEL_SPAN_EVENT_COUNT_LIMIT`) and drops the rest, while live subscribers get every one.
    pub fn model_response_chunk(chunk: &str, index: u64, extra: Vec<EventAttribute>) {
        add_event_with(names::MODEL_RESPONSE_CHUNK, || {
            with(
                vec![attr("chunk", chunk.to_owned()), attr("index", index)],
                extra,
            )
        });
    }

    /// `gen_ai.model.reasoning` `{reasoning, step?}`.
    pub fn model_reasoning(reasoning: &str, step: Option<u64>, extra: Vec<EventAttribute>) {
        add_event_with(names::MODEL_REASONING, || {
            let mut v = vec![attr("reasoning", reasoning.to_owned())];
            push_opt(&mut v, "step", step);
            with(v, extra)
        });
    }

    /// `gen_ai.model.reasoning.chunk` `{chunk, index}` (no helper in the seed; added here).
    pub fn model_reasoning_chunk(chunk: &str, index: u64, extra: Vec<EventAttribute>) {
        add_event_with(names::MODEL_REASONING_CHUNK, || {
            with(
                vec![attr("chunk", chunk.to_owned()), attr("index", index)],
                extra,
            )
        });
    }

    /// `gen_ai.tool.call` `{tool_name, tool_id, arguments?, step?}`.
    pub fn tool_call(
        tool_name: &str,
        tool_id: &str,
        arguments: Option<Value>,
        step: Option<u64>,
        extra: Vec<EventAttribute>,
    ) {
        add_event_with(names::TOOL_CALL, || {
            let mut v = vec![
                attr("tool_name", tool_name.to_owned()),
                attr("tool_id", tool_id.to_owned()),
            ];
            push_opt(&mut v, "arguments", arguments);
            push_opt(&mut v, "step", step);
            with(v, extra)
        });
    }

    /// `gen_ai.tool.result` `{tool_name, tool_id, result?, step?}`.
    pub fn tool_result(
        tool_name: &str,
        tool_id: &str,
        result: Option<Value>,
        step: Option<u64>,
        extra: Vec<EventAttribute>,
    ) {
        add_event_with(names::TOOL_RESULT, || {
            let mut v = vec![
                attr("tool_name", tool_name.to_owned()),
                attr("tool_id", tool_id.to_owned()),
            ];
            push_opt(&mut v, "result", result);
            push_opt(&mut v, "step", step);
            with(v, extra)
        });
    }

    /// `gen_ai.tool.error` `{tool_name, tool_id, error, step?}`.
    pub fn tool_error(
        tool_name: &str,
        tool_id: &str,
        error: &str,
        step: Option<u64>,
        extra: Vec<EventAttribute>,
    ) {
        add_event_with(names::TOOL_ERROR, || {
            let mut v = vec![
                attr("tool_name", tool_name.to_owned()),
                attr("tool_id", tool_id.to_owned()),
                attr("error", error.to_owned()),
            ];
            push_opt(&mut v, "step", step);
            with(v, extra)
        });
    }

    /// `gen_ai.flow.step` `{step_number}`.
    pub fn flow_step(step_number: u64, extra: Vec<EventAttribute>) {
        add_event_with(names::FLOW_STEP, || {
            with(vec![attr("step_number", step_number)], extra)
        });
    }

    /// `gen_ai.flow.reasoning` `{reasoning, step?}`.
    pub fn flow_reasoning(reasoning: &str, step: Option<u64>, extra: Vec<EventAttribute>) {
        add_event_with(names::FLOW_REASONING, || {
            let mut v = vec![attr("reasoning", reasoning.to_owned())];
            push_opt(&mut v, "step", step);
            with(v, extra)
        });
    }

    /// `gen_ai.flow.complete` `{step?}`.
    pub fn flow_complete(step: Option<u64>, extra: Vec<EventAttribute>) {
        add_event_with(names::FLOW_COMPLETE, || {
            let mut v = Vec::new();
            push_opt(&mut v, "step", step);
            with(v, extra)
        });
    }

    /// `gen_ai.module.start` `{module_name}` (no helper in the seed; added here).
    pub fn module_start(module_name: &str, extra: Vec<EventAttribute>) {
        add_event_with(names::MODULE_START, || {
            with(vec![attr("module_name", module_name.to_owned())], extra)
        });
    }

    /// `gen_ai.module.complete` `{module_name}`.
    pub fn module_complete(module_name: &str, extra: Vec<EventAttribute>) {
        add_event_with(names::MODULE_COMPLETE, || {
            with(vec![attr("module_name", module_name.to_owned())], extra)
        });
    }

    /// `gen_ai.module.error` `{module_name, error}`.
    pub fn module_error(module_name: &str, error: &str, extra: Vec<EventAttribute>) {
        add_event_with(names::MODULE_ERROR, || {
            with(
                vec![
                    attr("module_name", module_name.to_owned()),
                    attr("error", error.to_owned()),
                ],
                extra,
            )
        });
    }
}
