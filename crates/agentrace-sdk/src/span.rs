//! GenAI spans: builders that set the sampling-relevant attributes at start, and a live span with
//! recorders for the response, usage, content and errors.

use std::borrow::Cow;
use std::error::Error;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use agentrace_semconv::{attr, event};
use opentelemetry::context::{FutureExt, WithContext};
use opentelemetry::logs::{AnyValue, Severity};
use opentelemetry::trace::{SpanContext, SpanKind, Status, TraceContextExt, Tracer};
use opentelemetry::{Array, Context, Key, KeyValue, StringValue, Value};

use crate::content::ContentState;
use crate::instrumentation::{Instrumentation, LogEvent};
use agentrace_semconv::{OperationName, TokenType};

use crate::vocab;

/// The name of a span started by this crate, kept in its [`Context`] so that live events can say
/// which span they were written to (the `opentelemetry` API cannot read a span's name back).
#[derive(Debug, Clone)]
pub struct SpanLabel(pub Arc<str>);

impl SpanLabel {
    pub(crate) fn new(name: &str) -> Self {
        Self(Arc::from(name))
    }
}

/// Token counts reported by a provider. Every field is optional: a count that was not reported is
/// not recorded (the conventions forbid guessing).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Input tokens, cached ones included.
    pub input_tokens: Option<u64>,
    /// Output tokens, reasoning ones included.
    pub output_tokens: Option<u64>,
    /// Input tokens served from a provider cache (a subset of `input_tokens`).
    pub cache_read_input_tokens: Option<u64>,
    /// Input tokens written to a provider cache (a subset of `input_tokens`).
    pub cache_creation_input_tokens: Option<u64>,
    /// Output tokens spent on reasoning (a subset of `output_tokens`).
    pub reasoning_output_tokens: Option<u64>,
}

impl Usage {
    /// Usage with input and output counts.
    pub fn new(input_tokens: u64, output_tokens: u64) -> Self {
        Self {
            input_tokens: Some(input_tokens),
            output_tokens: Some(output_tokens),
            ..Self::default()
        }
    }

    /// Merges a later report into this one: every count the later report has wins. Providers
    /// report input early (Anthropic `message_start`) and output late (`message_delta`, OpenAI's
    /// final chunk); merging keeps both.
    pub fn merge(&mut self, later: &Usage) {
        fn pick(a: &mut Option<u64>, b: Option<u64>) {
            if b.is_some() {
                *a = b;
            }
        }
        pick(&mut self.input_tokens, later.input_tokens);
        pick(&mut self.output_tokens, later.output_tokens);
        pick(
            &mut self.cache_read_input_tokens,
            later.cache_read_input_tokens,
        );
        pick(
            &mut self.cache_creation_input_tokens,
            later.cache_creation_input_tokens,
        );
        pick(
            &mut self.reasoning_output_tokens,
            later.reasoning_output_tokens,
        );
    }

    /// Whether no count is known.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    pub(crate) fn attributes(&self) -> impl Iterator<Item = KeyValue> {
        [
            (attr::GEN_AI_USAGE_INPUT_TOKENS, self.input_tokens),
            (attr::GEN_AI_USAGE_OUTPUT_TOKENS, self.output_tokens),
            (
                attr::GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
                self.cache_read_input_tokens,
            ),
            (
                attr::GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
                self.cache_creation_input_tokens,
            ),
            (
                attr::GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,
                self.reasoning_output_tokens,
            ),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| KeyValue::new(k, saturating_i64(v))))
    }
}

pub(crate) fn saturating_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// The low-cardinality `error.type` of an error type: its path without generic arguments.
pub fn error_type_of<E: ?Sized>() -> Cow<'static, str> {
    let full = std::any::type_name::<E>();
    match full.split_once('<') {
        Some((head, _)) => Cow::Owned(head.to_owned()),
        None => Cow::Borrowed(full),
    }
}

/// A GenAI span about to start. Created by the constructors on [`Instrumentation`]
/// ([`Instrumentation::chat`], [`Instrumentation::execute_tool`], ...).
#[must_use = "a span builder does nothing until started"]
pub struct GenAiSpanBuilder {
    inst: Instrumentation,
    operation: OperationName,
    subject: Option<String>,
    kind: SpanKind,
    provider: Option<String>,
    request_model: Option<String>,
    server_address: Option<String>,
    server_port: Option<i64>,
    attributes: Vec<KeyValue>,
    parent: Option<Context>,
    streaming: bool,
}

impl fmt::Debug for GenAiSpanBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GenAiSpanBuilder")
            .field("operation", &self.operation)
            .field("subject", &self.subject)
            .field("kind", &self.kind)
            .field("attributes", &self.attributes)
            .finish_non_exhaustive()
    }
}

macro_rules! str_setter {
    ($(#[$doc:meta])* $name:ident, $key:expr) => {
        $(#[$doc])*
        pub fn $name(mut self, value: impl Into<String>) -> Self {
            self.attributes.push(KeyValue::new($key, value.into()));
            self
        }
    };
}

macro_rules! setter {
    ($(#[$doc:meta])* $name:ident, $key:expr, $ty:ty, $conv:expr) => {
        $(#[$doc])*
        pub fn $name(mut self, value: $ty) -> Self {
            #[allow(clippy::redundant_closure_call)]
            self.attributes.push(KeyValue::new($key, ($conv)(value)));
            self
        }
    };
}

impl GenAiSpanBuilder {
    pub(crate) fn new(
        inst: &Instrumentation,
        operation: OperationName,
        subject: Option<String>,
    ) -> Self {
        let kind = vocab::default_kind(&operation);
        let mut builder = Self {
            inst: inst.clone(),
            operation,
            subject: None,
            kind,
            provider: None,
            request_model: None,
            server_address: None,
            server_port: None,
            attributes: Vec::new(),
            parent: None,
            streaming: false,
        };
        let subject = subject.filter(|s| !s.is_empty());
        if let Some(s) = &subject {
            match &builder.operation {
                op if vocab::is_model_call(op) => builder.request_model = Some(s.clone()),
                OperationName::ExecuteTool => builder
                    .attributes
                    .push(KeyValue::new(attr::GEN_AI_TOOL_NAME, s.clone())),
                OperationName::Retrieval => builder
                    .attributes
                    .push(KeyValue::new(attr::GEN_AI_DATA_SOURCE_ID, s.clone())),
                OperationName::InvokeWorkflow => builder
                    .attributes
                    .push(KeyValue::new(attr::GEN_AI_WORKFLOW_NAME, s.clone())),
                OperationName::CreateAgent | OperationName::InvokeAgent => builder
                    .attributes
                    .push(KeyValue::new(attr::GEN_AI_AGENT_NAME, s.clone())),
                _ => {}
            }
        }
        builder.subject = subject;
        builder
    }

    /// `gen_ai.provider.name` (set at start: it matters for sampling).
    pub fn provider(mut self, provider: impl Into<String>) -> Self {
        self.provider = Some(provider.into());
        self
    }

    /// `gen_ai.request.model` for operations whose subject is not the model (agents).
    pub fn request_model(mut self, model: impl Into<String>) -> Self {
        self.request_model = Some(model.into());
        self
    }

    /// `server.address` and `server.port`.
    pub fn server(mut self, address: impl Into<String>, port: u16) -> Self {
        self.server_address = Some(address.into());
        self.server_port = Some(i64::from(port));
        self
    }

    /// Overrides the span kind (an in-process model or agent is `INTERNAL`).
    pub fn kind(mut self, kind: SpanKind) -> Self {
        self.kind = kind;
        self
    }

    /// Starts the span as a child of this context instead of the current one.
    pub fn parent(mut self, parent: &Context) -> Self {
        self.parent = Some(parent.clone());
        self
    }

    /// Any other attribute, set at start.
    pub fn attribute(mut self, kv: KeyValue) -> Self {
        self.attributes.push(kv);
        self
    }

    setter!(
        /// `gen_ai.request.temperature`.
        temperature, attr::GEN_AI_REQUEST_TEMPERATURE, f64, |v| v);
    setter!(
        /// `gen_ai.request.top_p`.
        top_p, attr::GEN_AI_REQUEST_TOP_P, f64, |v| v);
    setter!(
        /// `gen_ai.request.top_k`.
        top_k, attr::GEN_AI_REQUEST_TOP_K, f64, |v| v);
    setter!(
        /// `gen_ai.request.max_tokens`.
        max_tokens, attr::GEN_AI_REQUEST_MAX_TOKENS, u64, saturating_i64);
    setter!(
        /// `gen_ai.request.seed`.
        seed, attr::GEN_AI_REQUEST_SEED, i64, |v| v);
    setter!(
        /// `gen_ai.request.frequency_penalty`.
        frequency_penalty, attr::GEN_AI_REQUEST_FREQUENCY_PENALTY, f64, |v| v);
    setter!(
        /// `gen_ai.request.presence_penalty`.
        presence_penalty, attr::GEN_AI_REQUEST_PRESENCE_PENALTY, f64, |v| v);
    str_setter!(
        /// `gen_ai.conversation.id`.
        conversation_id, attr::GEN_AI_CONVERSATION_ID);
    str_setter!(
        /// `gen_ai.agent.id`.
        agent_id, attr::GEN_AI_AGENT_ID);
    str_setter!(
        /// `gen_ai.agent.description`.
        agent_description, attr::GEN_AI_AGENT_DESCRIPTION);
    str_setter!(
        /// `gen_ai.agent.version`.
        agent_version, attr::GEN_AI_AGENT_VERSION);
    str_setter!(
        /// `gen_ai.tool.call.id`.
        tool_call_id, attr::GEN_AI_TOOL_CALL_ID);
    str_setter!(
        /// `gen_ai.tool.description`.
        tool_description, attr::GEN_AI_TOOL_DESCRIPTION);
    str_setter!(
        /// `gen_ai.tool.type` (`function`, `extension`, `datastore`).
        tool_type, attr::GEN_AI_TOOL_TYPE);
    str_setter!(
        /// `gen_ai.data_source.id`.
        data_source_id, attr::GEN_AI_DATA_SOURCE_ID);
    str_setter!(
        /// `gen_ai.output.type` (`text`, `json`, `image`, `speech`).
        output_type, attr::GEN_AI_OUTPUT_TYPE);
    setter!(
        /// `gen_ai.embeddings.dimension.count`.
        dimension_count, attr::GEN_AI_EMBEDDINGS_DIMENSION_COUNT, u64, saturating_i64);

    /// `gen_ai.request.choice.count`, recorded only when it is not 1.
    pub fn choice_count(mut self, n: u64) -> Self {
        if n != 1 {
            self.attributes.push(KeyValue::new(
                attr::GEN_AI_REQUEST_CHOICE_COUNT,
                saturating_i64(n),
            ));
        }
        self
    }

    /// `gen_ai.request.stream`, recorded only when true (unset means non-streaming).
    pub fn stream(mut self, streaming: bool) -> Self {
        if streaming && !self.streaming {
            self.attributes
                .push(KeyValue::new(attr::GEN_AI_REQUEST_STREAM, true));
        }
        self.streaming |= streaming;
        self
    }

    /// `gen_ai.request.stop_sequences`.
    pub fn stop_sequences<I, S>(mut self, sequences: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.attributes.push(KeyValue::new(
            attr::GEN_AI_REQUEST_STOP_SEQUENCES,
            string_array(sequences),
        ));
        self
    }

    /// `gen_ai.request.encoding_formats` (embeddings).
    pub fn encoding_formats<I, S>(mut self, formats: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.attributes.push(KeyValue::new(
            attr::GEN_AI_REQUEST_ENCODING_FORMATS,
            string_array(formats),
        ));
        self
    }

    /// The span name this builder will use.
    pub fn name(&self) -> String {
        vocab::span_name(&self.operation, self.subject.as_deref())
    }

    /// Starts the span. It is not made current: run work inside it with [`GenAiSpan::in_scope`]
    /// or [`GenAiSpan::instrument`].
    pub fn start(self) -> GenAiSpan {
        let name = self.name();
        let mut attributes = Vec::with_capacity(self.attributes.len() + 5);
        let mut metric_attrs = Vec::with_capacity(6);
        let op = KeyValue::new(
            attr::GEN_AI_OPERATION_NAME,
            vocab::operation_value(&self.operation),
        );
        attributes.push(op.clone());
        metric_attrs.push(op);
        if let Some(p) = self.provider {
            let kv = KeyValue::new(attr::GEN_AI_PROVIDER_NAME, p);
            attributes.push(kv.clone());
            metric_attrs.push(kv);
        }
        if let Some(m) = self.request_model {
            let kv = KeyValue::new(attr::GEN_AI_REQUEST_MODEL, m);
            attributes.push(kv.clone());
            metric_attrs.push(kv);
        }
        if let Some(a) = self.server_address {
            let kv = KeyValue::new(attr::SERVER_ADDRESS, a);
            attributes.push(kv.clone());
            metric_attrs.push(kv);
        }
        if let Some(p) = self.server_port {
            let kv = KeyValue::new(attr::SERVER_PORT, p);
            attributes.push(kv.clone());
            metric_attrs.push(kv);
        }
        attributes.extend(self.attributes);
        let content = ContentState::for_span(
            self.inst.capture(),
            self.operation.is_inference(),
            &attributes,
        );
        let parent = self.parent.unwrap_or_else(Context::current);
        let label = SpanLabel::new(&name);
        let tracer = self.inst.tracer();
        let client = self.kind == SpanKind::Client;
        let span = tracer
            .span_builder(name)
            .with_kind(self.kind)
            .with_attributes(attributes)
            .start_with_context(tracer, &parent);
        let cx = parent.with_span(span).with_value(label);
        GenAiSpan {
            content,
            inst: self.inst,
            cx,
            operation: self.operation,
            metric_attrs,
            response_model: None,
            started: Instant::now(),
            error_type: None,
            usage: Usage::default(),
            ended: false,
            late: Vec::new(),
            streaming: self.streaming,
            client,
        }
    }
}

fn string_array<I, S>(items: I) -> Value
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    Value::Array(Array::String(
        items
            .into_iter()
            .map(|s| StringValue::from(s.into()))
            .collect(),
    ))
}

/// A started GenAI span. It ends exactly once: on [`GenAiSpan::end`] or when dropped. Ending
/// records the client metrics (duration, token usage) and, per the capture settings, the
/// `operation.details` event.
pub struct GenAiSpan {
    pub(crate) inst: Instrumentation,
    pub(crate) cx: Context,
    pub(crate) operation: OperationName,
    metric_attrs: Vec<KeyValue>,
    response_model: Option<String>,
    pub(crate) started: Instant,
    error_type: Option<Cow<'static, str>>,
    usage: Usage,
    ended: bool,
    pub(crate) content: ContentState,
    late: Vec<KeyValue>,
    pub(crate) streaming: bool,
    /// Whether the span is a client operation (kind `CLIENT`): its errors also emit
    /// `gen_ai.client.operation.exception`.
    client: bool,
}

impl fmt::Debug for GenAiSpan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GenAiSpan")
            .field("operation", &self.operation)
            .field("span_context", self.cx.span().span_context())
            .field("usage", &self.usage)
            .field("error_type", &self.error_type)
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}

impl GenAiSpan {
    /// The context holding this span: pass it to work that should nest under it.
    pub fn context(&self) -> &Context {
        &self.cx
    }

    /// The span's ids.
    pub fn span_context(&self) -> SpanContext {
        self.cx.span().span_context().clone()
    }

    /// The operation of this span.
    pub fn operation(&self) -> &OperationName {
        &self.operation
    }

    /// Runs `f` with this span current (synchronously; the guard never crosses an `.await`).
    pub fn in_scope<R>(&self, f: impl FnOnce() -> R) -> R {
        let _guard = self.cx.clone().attach();
        f()
    }

    /// Wraps a future so that it runs with this span current on every poll.
    pub fn instrument<F: Future>(&self, fut: F) -> WithContext<F> {
        fut.with_context(self.cx.clone())
    }

    /// Sets any attribute, at once. (The SDK appends: setting a key twice exports it twice. The
    /// recorders below replace earlier values and write once, when the span ends.)
    pub fn set_attribute(&self, kv: KeyValue) {
        self.cx.span().set_attribute(kv);
    }

    /// `gen_ai.response.id`.
    pub fn set_response_id(&mut self, id: impl Into<String>) {
        self.set_noted(KeyValue::new(attr::GEN_AI_RESPONSE_ID, id.into()));
    }

    /// Sets an attribute that the `operation.details` event repeats.
    fn set_noted(&mut self, kv: KeyValue) {
        self.content.note(&kv);
        self.set_late(kv);
    }

    /// Sets an attribute when the span ends, replacing an earlier value of the same key: the
    /// SDK appends every `set_attribute`, so setting a key twice would export it twice.
    pub(crate) fn set_late(&mut self, kv: KeyValue) {
        match self.late.iter_mut().find(|a| a.key == kv.key) {
            Some(a) => *a = kv,
            None => self.late.push(kv),
        }
    }

    /// `gen_ai.response.model` (also a metric attribute).
    pub fn set_response_model(&mut self, model: impl Into<String>) {
        let model = model.into();
        self.set_noted(KeyValue::new(attr::GEN_AI_RESPONSE_MODEL, model.clone()));
        self.response_model = Some(model);
    }

    pub(crate) fn response_model(&self) -> Option<&str> {
        self.response_model.as_deref()
    }

    /// `gen_ai.response.finish_reasons`, one per choice.
    pub fn set_finish_reasons<I, S>(&mut self, reasons: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.set_noted(KeyValue::new(
            attr::GEN_AI_RESPONSE_FINISH_REASONS,
            string_array(reasons),
        ));
    }

    /// Records (merges) provider-reported usage; the span attributes are updated at once and the
    /// token histogram is recorded when the span ends.
    pub fn record_usage(&mut self, usage: &Usage) {
        self.usage.merge(usage);
        let attrs: Vec<KeyValue> = self.usage.attributes().collect();
        for kv in attrs {
            self.set_noted(kv);
        }
    }

    /// The usage recorded so far.
    pub fn usage(&self) -> &Usage {
        &self.usage
    }

    /// Records an error: status ERROR, `error.type` from the error's type, an `exception` span
    /// event and, for a client operation (a span of kind `CLIENT`) when a logger is configured,
    /// a `gen_ai.client.operation.exception` log event (severity WARN, with `exception.type`
    /// and `exception.message`, in the span's context).
    pub fn record_error<E: Error + ?Sized>(&mut self, error: &E) {
        self.record_error_as(error_type_of::<E>(), &error.to_string());
    }

    /// Records an error with an explicit low-cardinality `error.type` (a provider error code,
    /// say); otherwise as [`GenAiSpan::record_error`].
    pub fn record_error_as(&mut self, error_type: impl Into<Cow<'static, str>>, message: &str) {
        let error_type = error_type.into();
        let message = message.to_owned();
        self.content
            .note(&KeyValue::new(attr::ERROR_TYPE, error_type.clone()));
        self.set_late(KeyValue::new(attr::ERROR_TYPE, error_type.clone()));
        let span = self.cx.span();
        span.add_event(
            "exception",
            vec![
                KeyValue::new(attr::EXCEPTION_TYPE, error_type.clone()),
                KeyValue::new(attr::EXCEPTION_MESSAGE, message.clone()),
            ],
        );
        span.set_status(Status::error(message.clone()));
        if self.client {
            self.emit(LogEvent {
                name: event::OPERATION_EXCEPTION,
                severity: Severity::Warn,
                attributes: vec![
                    (
                        Key::from_static_str(attr::EXCEPTION_TYPE),
                        AnyValue::String(StringValue::from(error_type.clone())),
                    ),
                    (
                        Key::from_static_str(attr::EXCEPTION_MESSAGE),
                        AnyValue::String(message.into()),
                    ),
                ],
                body: None,
            });
        }
        self.error_type = Some(error_type);
    }

    /// The `error.type` recorded, if any.
    pub fn error_type(&self) -> Option<&str> {
        self.error_type.as_deref()
    }

    /// Runs a fallible future inside the span, records its error if any, and ends the span.
    pub async fn run<F, T, E>(mut self, fut: F) -> Result<T, E>
    where
        F: Future<Output = Result<T, E>>,
        E: fmt::Display,
    {
        let result = fut.with_context(self.cx.clone()).await;
        if let Err(e) = &result {
            self.record_error_as(error_type_of::<E>(), &e.to_string());
        }
        self.end();
        result
    }

    /// Runs a fallible closure inside the span, records its error if any, and ends the span.
    pub fn run_sync<T, E: fmt::Display>(
        mut self,
        f: impl FnOnce(&mut Self) -> Result<T, E>,
    ) -> Result<T, E> {
        let guard = self.cx.clone().attach();
        let result = f(&mut self);
        drop(guard);
        if let Err(e) = &result {
            self.record_error_as(error_type_of::<E>(), &e.to_string());
        }
        self.end();
        result
    }

    /// Ends the span now.
    pub fn end(mut self) {
        self.finish();
    }

    pub(crate) fn finish(&mut self) {
        if self.ended {
            return;
        }
        self.ended = true;
        let span = self.cx.span();
        for kv in self.late.drain(..) {
            span.set_attribute(kv);
        }
        crate::content::flush(self);
        if vocab::is_model_call(&self.operation) {
            self.record_metrics();
        }
        self.cx.span().end();
    }

    pub(crate) fn metric_attributes(&self, with_error: bool) -> Vec<KeyValue> {
        let mut attrs = Vec::with_capacity(self.metric_attrs.len() + 2);
        attrs.extend(self.metric_attrs.iter().cloned());
        if let Some(m) = &self.response_model {
            attrs.push(KeyValue::new(attr::GEN_AI_RESPONSE_MODEL, m.clone()));
        }
        if with_error && let Some(e) = &self.error_type {
            attrs.push(KeyValue::new(attr::ERROR_TYPE, e.clone()));
        }
        attrs
    }

    pub(crate) fn base_metric_attributes(&self) -> &[KeyValue] {
        &self.metric_attrs
    }

    fn record_metrics(&self) {
        let metrics = self.inst.metrics();
        let elapsed = self.started.elapsed().as_secs_f64();
        let attrs = self.metric_attributes(true);
        metrics.duration.record(elapsed, &attrs);
        let mut attrs = self.metric_attributes(false);
        let idx = attrs.len();
        for (ty, count) in [
            (TokenType::Input, self.usage.input_tokens),
            (TokenType::Output, self.usage.output_tokens),
        ] {
            if let Some(count) = count {
                attrs.truncate(idx);
                attrs.push(KeyValue::new(
                    attr::GEN_AI_TOKEN_TYPE,
                    token_type_value(&ty),
                ));
                metrics.token_usage.record(count, &attrs);
            }
        }
    }
}

impl Drop for GenAiSpan {
    fn drop(&mut self) {
        self.finish();
    }
}

/// Constructors of the GenAI spans.
impl Instrumentation {
    /// A `chat {model}` span (CLIENT).
    pub fn chat(&self, model: impl Into<String>) -> GenAiSpanBuilder {
        GenAiSpanBuilder::new(self, OperationName::Chat, Some(model.into()))
    }

    /// A `text_completion {model}` span (CLIENT).
    pub fn text_completion(&self, model: impl Into<String>) -> GenAiSpanBuilder {
        GenAiSpanBuilder::new(self, OperationName::TextCompletion, Some(model.into()))
    }

    /// A `generate_content {model}` span (CLIENT).
    pub fn generate_content(&self, model: impl Into<String>) -> GenAiSpanBuilder {
        GenAiSpanBuilder::new(self, OperationName::GenerateContent, Some(model.into()))
    }

    /// An `embeddings {model}` span (CLIENT).
    pub fn embeddings(&self, model: impl Into<String>) -> GenAiSpanBuilder {
        GenAiSpanBuilder::new(self, OperationName::Embeddings, Some(model.into()))
    }

    /// A `retrieval {data_source_id}` span (CLIENT).
    pub fn retrieval(&self, data_source_id: impl Into<String>) -> GenAiSpanBuilder {
        GenAiSpanBuilder::new(self, OperationName::Retrieval, Some(data_source_id.into()))
    }

    /// An `execute_tool {tool}` span (INTERNAL).
    pub fn execute_tool(&self, tool_name: impl Into<String>) -> GenAiSpanBuilder {
        GenAiSpanBuilder::new(self, OperationName::ExecuteTool, Some(tool_name.into()))
    }

    /// An `invoke_agent {name}` span (CLIENT; use `.kind(SpanKind::Internal)` for an in-process
    /// agent). An empty name gives the bare `invoke_agent`.
    pub fn invoke_agent(&self, agent_name: impl Into<String>) -> GenAiSpanBuilder {
        GenAiSpanBuilder::new(self, OperationName::InvokeAgent, Some(agent_name.into()))
    }

    /// A `create_agent {name}` span (CLIENT).
    pub fn create_agent(&self, agent_name: impl Into<String>) -> GenAiSpanBuilder {
        GenAiSpanBuilder::new(self, OperationName::CreateAgent, Some(agent_name.into()))
    }

    /// An `invoke_workflow {name}` span (INTERNAL).
    pub fn invoke_workflow(&self, workflow_name: impl Into<String>) -> GenAiSpanBuilder {
        GenAiSpanBuilder::new(
            self,
            OperationName::InvokeWorkflow,
            Some(workflow_name.into()),
        )
    }
}

fn token_type_value(t: &TokenType) -> StringValue {
    vocab::static_value(
        TokenType::KNOWN,
        t,
        |k| k.as_str(),
        || t.as_str().to_owned(),
    )
}
