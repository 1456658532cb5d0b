//! Invocation extraction: traces become turns (invocations), grouped into conversations and
//! paired with golden eval cases, following agentevals 0.11.0 (`genai/*`).

pub mod message;
pub mod overlay;

use agentrace_semconv::{attr, event};
use serde::Serialize;
use serde_json::Value;

use crate::hash::{Map, Set};
use crate::model::{AnyValue, Span, SpanId, TraceId};
use crate::trace::{Trace, TraceSet};
use message::MessageCache;
pub use message::{Message, Part, SharedMessages, text_of};
pub use overlay::{SpanView, Usage, overlay};

/// JSON-string attributes larger than this are not parsed (as in the reference).
pub const MAX_JSON_PARSE_BYTES: usize = 4 * 1024 * 1024;

const SESSION_NAME: &str = "agentevals.session_name";
const EVAL_CASE_ID: &str = "agentevals.eval.case.id";

/// What a span is, from its operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpanClass {
    /// chat, generate_content, text_completion.
    Inference,
    /// invoke_agent.
    Agent,
    /// invoke_workflow.
    Workflow,
    /// execute_tool.
    Tool,
    /// Another GenAI operation.
    Other,
    /// No operation.
    NonGenAi,
    /// ADK merged tool spans.
    Ignored,
}

/// Classifies a view.
pub fn classify(view: &SpanView) -> SpanClass {
    if view.ignored {
        return SpanClass::Ignored;
    }
    match view.operation.as_deref() {
        Some("chat" | "generate_content" | "text_completion") => SpanClass::Inference,
        Some("invoke_agent") => SpanClass::Agent,
        Some("invoke_workflow") => SpanClass::Workflow,
        Some("execute_tool") => SpanClass::Tool,
        Some(_) => SpanClass::Other,
        None => SpanClass::NonGenAi,
    }
}

/// Whether extraction sees `span` (without its logs) as a GenAI span: classified as anything but
/// [`SpanClass::NonGenAi`] or [`SpanClass::Ignored`]. The server stages keyless traces that have
/// none. A span naming its operation is answered without building its view.
pub fn is_genai_span(span: &Span) -> bool {
    if let Some(AnyValue::String(op)) = span.attributes.get(attr::GEN_AI_OPERATION_NAME)
        && !op.is_empty()
        && !overlay::is_adk_span(span)
    {
        return true;
    }
    !matches!(
        classify(&overlay(span, &[])),
        SpanClass::NonGenAi | SpanClass::Ignored
    )
}

/// A gap in the data that extraction bridged with a heuristic.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Gap {
    /// `tool_name_missing`, `tool_result_by_order`, `tool_data_by_name`, `tool_from_parts_only`,
    /// `possible_continuation`.
    pub code: &'static str,
    /// Why.
    pub reason: String,
}

/// What anchors a turn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnchorKind {
    /// A top-level agent span.
    Agent,
    /// A top-level workflow span.
    Workflow,
    /// A root span whose model calls no agent covers.
    Root,
}

/// One logical model call (nested wrapper spans over one provider span count once).
#[derive(Clone, Debug, Default)]
pub struct LlmCall {
    /// The outermost span of the call.
    pub span_id: Option<SpanId>,
    /// Operation.
    pub operation: Option<String>,
    /// Provider.
    pub provider: Option<String>,
    /// Requested model.
    pub request_model: Option<String>,
    /// Responding model.
    pub response_model: Option<String>,
    /// Usage, counted once per logical call.
    pub usage: Usage,
    /// Finish reasons.
    pub finish_reasons: Vec<String>,
    /// Input messages (shared with the other calls that repeat them).
    pub input_messages: Option<SharedMessages>,
    /// Output messages.
    pub output_messages: Option<Vec<Message>>,
    /// Made inside a tool (an agent-as-tool delegate): its output is not the turn's.
    pub delegated: bool,
    /// Start, ns.
    pub start_ns: u64,
    /// End, ns.
    pub end_ns: u64,
    /// Span status error.
    pub status_error: bool,
}

impl LlmCall {
    /// The response model, else the request model.
    pub fn model(&self) -> Option<&str> {
        self.response_model
            .as_deref()
            .or(self.request_model.as_deref())
    }

    fn speaks(&self) -> bool {
        self.output_messages
            .as_ref()
            .is_some_and(|m| m.iter().any(Message::has_text))
    }
}

/// One tool call of the trajectory.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ToolCall {
    /// The tool span (outermost of a nested chain), `None` for a call known only from parts.
    pub span_id: Option<SpanId>,
    /// Tool name.
    pub name: String,
    /// Call id.
    pub call_id: Option<String>,
    /// Arguments.
    pub arguments: Option<Value>,
    /// Result.
    pub result: Option<Value>,
    /// Failed.
    pub is_error: bool,
    /// Start, ns.
    pub start_ns: u64,
}

/// One turn (invocation).
#[derive(Clone, Debug)]
pub struct Turn {
    /// Trace of the anchor span.
    pub trace_id: TraceId,
    /// The anchor span (the invocation id).
    pub anchor: SpanId,
    /// Kind of anchor.
    pub anchor_kind: AnchorKind,
    /// Agent name.
    pub agent_name: Option<String>,
    /// The user's input messages.
    pub user_input: Vec<Message>,
    /// The final output messages.
    pub final_output: Vec<Message>,
    /// Logical model calls, by start.
    pub llm_calls: Vec<LlmCall>,
    /// The tool trajectory.
    pub tool_calls: Vec<ToolCall>,
    /// Start, ns.
    pub start_ns: u64,
    /// End, ns.
    pub end_ns: u64,
    /// Anchor status error.
    pub status_error: bool,
    /// Conversation id seen on the turn.
    pub conversation_id: Option<String>,
    /// Gaps bridged.
    pub warnings: Vec<Gap>,
    /// `gen_ai.evaluation.result` events (span events or log records) found on the turn's spans.
    pub external_evaluations: Vec<Evaluation>,
    /// Google ADK invocation id, when the turn's spans carry one.
    pub adk_invocation_id: Option<String>,
}

/// An evaluation result recorded in the telemetry (`gen_ai.evaluation.result`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Evaluation {
    /// The span it was recorded on.
    pub span_id: SpanId,
    /// `gen_ai.evaluation.name`.
    pub name: Option<String>,
    /// `gen_ai.evaluation.score.value`.
    pub score_value: Option<f64>,
    /// `gen_ai.evaluation.score.label`.
    pub score_label: Option<String>,
    /// `gen_ai.evaluation.explanation`.
    pub explanation: Option<String>,
}

impl Evaluation {
    fn from_attributes(span_id: SpanId, a: &crate::model::Attributes) -> Self {
        let text = |k: &str| a.get_str(k).map(str::to_owned);
        Self {
            span_id,
            name: text(attr::GEN_AI_EVALUATION_NAME),
            score_value: match a.get(attr::GEN_AI_EVALUATION_SCORE_VALUE) {
                Some(AnyValue::Double(d)) => Some(*d),
                #[allow(clippy::cast_precision_loss)]
                Some(AnyValue::Int(i)) => Some(*i as f64),
                Some(AnyValue::String(s)) => s.trim().parse().ok(),
                _ => None,
            },
            score_label: text(attr::GEN_AI_EVALUATION_SCORE_LABEL),
            explanation: text(attr::GEN_AI_EVALUATION_EXPLANATION),
        }
    }
}

impl Turn {
    /// Text of the user input.
    pub fn user_text(&self) -> Option<String> {
        text_of(&self.user_input)
    }

    /// Text of the final output.
    pub fn agent_text(&self) -> Option<String> {
        text_of(&self.final_output)
    }

    /// Token usage over the turn's logical calls (each counted once).
    pub fn usage(&self) -> Usage {
        let add = |a: Option<i64>, b: Option<i64>| match (a, b) {
            (None, None) => None,
            (x, y) => Some(x.unwrap_or(0) + y.unwrap_or(0)),
        };
        self.llm_calls.iter().fold(Usage::default(), |u, c| Usage {
            input: add(u.input, c.usage.input),
            output: add(u.output, c.usage.output),
            cache_read_input: add(u.cache_read_input, c.usage.cache_read_input),
            cache_write_input: add(u.cache_write_input, c.usage.cache_write_input),
            reasoning_output: add(u.reasoning_output, c.usage.reasoning_output),
        })
    }

    /// True when any model call of the turn carries message content.
    pub fn content_captured(&self) -> bool {
        self.llm_calls
            .iter()
            .any(|c| c.input_messages.is_some() || c.output_messages.is_some())
    }

    /// Distinct models in call order.
    pub fn models(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for c in &self.llm_calls {
            if let Some(m) = c.model()
                && !out.iter().any(|x| x == m)
            {
                out.push(m.to_owned());
            }
        }
        out
    }
}

/// Grouping of traces into evaluation groups.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum GroupBy {
    /// Conversation when any trace has `agentevals.session_name` or a golden case has more than
    /// one invocation, else trace.
    #[default]
    Auto,
    /// One group per trace.
    Trace,
    /// One group per conversation key.
    Conversation,
}

impl GroupBy {
    /// The name (`auto`, `trace`, `conversation`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Trace => "trace",
            Self::Conversation => "conversation",
        }
    }
}

impl std::str::FromStr for GroupBy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(Self::Auto),
            "trace" => Ok(Self::Trace),
            "conversation" => Ok(Self::Conversation),
            other => Err(format!(
                "unknown grouping `{other}` (auto, trace, conversation)"
            )),
        }
    }
}

/// A golden case as case selection needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpectedCase {
    /// The case id.
    pub eval_id: String,
    /// The text of the first invocation's user content, if any.
    pub first_user_text: Option<String>,
    /// Number of invocations.
    pub invocations: usize,
}

impl ExpectedCase {
    /// Reads the cases of an ADK EvalSet JSON value loosely (for callers without a typed model).
    pub fn from_eval_set_json(v: &Value) -> Vec<ExpectedCase> {
        v.get("eval_cases")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|c| {
                let eval_id = c.get("eval_id")?.as_str()?.to_owned();
                let conv = c
                    .get("conversation")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                let first_user_text = conv.first().and_then(|inv| {
                    let parts = inv.get("user_content")?.get("parts")?.as_array()?;
                    let t: String = parts
                        .iter()
                        .filter_map(|p| p.get("text").and_then(Value::as_str))
                        .collect();
                    Some(t)
                });
                Some(ExpectedCase {
                    eval_id,
                    first_user_text,
                    invocations: conv.len(),
                })
            })
            .collect()
    }
}

/// Options of an extraction.
#[derive(Clone, Debug, Default)]
pub struct ExtractOptions {
    /// How to group traces.
    pub group_by: GroupBy,
    /// Golden cases to pair groups with (from an eval set), if any.
    pub cases: Option<Vec<ExpectedCase>>,
}

/// An evaluation group: traces, their turns and the golden case paired with them.
#[derive(Clone, Debug)]
pub struct Group {
    /// The group key.
    pub key: String,
    /// Member traces by start.
    pub trace_ids: Vec<TraceId>,
    /// Turns.
    pub turns: Vec<Turn>,
    /// Golden case selection, when cases were given.
    pub case: Option<CaseSelection>,
}

/// The outcome of golden case selection for a group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaseSelection {
    /// The case, if one was selected.
    pub eval_case_id: Option<String>,
    /// How: `explicit`, `user_text`, `single_case`.
    pub how: Option<&'static str>,
    /// Why none was selected.
    pub reason: Option<String>,
}

/// The result of extraction over a set of traces.
#[derive(Clone, Debug)]
pub struct Extraction {
    /// The grouping mode asked for.
    pub requested_group_by: GroupBy,
    /// The grouping mode used (`auto` resolved).
    pub group_by: GroupBy,
    /// Groups in order.
    pub groups: Vec<Group>,
}

/// Normalises text for case matching: casefold, collapse whitespace, trim.
pub fn normalize_text(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

// ---------------------------------------------------------------------------------------------
// Per trace: views, anchors, drafts.

struct TraceCtx<'a> {
    trace: &'a Trace,
    views: Vec<SpanView>,
    class: Vec<SpanClass>,
}

impl<'a> TraceCtx<'a> {
    fn new(trace: &'a Trace, mut cache: Option<&mut MessageCache>) -> Self {
        let mut views: Vec<SpanView> = trace
            .spans
            .iter()
            .zip(&trace.span_logs)
            .map(|(s, l)| overlay::overlay_with(s, l, cache.as_deref_mut()))
            .collect();
        let mut class: Vec<SpanClass> = views.iter().map(classify).collect();
        // A trace-level orphan log without a span id goes to the only inference span.
        let orphans: Vec<_> = trace
            .orphan_logs
            .iter()
            .filter(|l| l.span_id.is_none())
            .cloned()
            .collect();
        if !orphans.is_empty() {
            let inf: Vec<usize> = (0..class.len())
                .filter(|i| class[*i] == SpanClass::Inference)
                .collect();
            if let [only] = inf[..] {
                let mut logs = trace.span_logs[only].clone();
                logs.extend(orphans);
                views[only] = overlay::overlay_with(&trace.spans[only], &logs, cache);
                class[only] = classify(&views[only]);
            }
        }
        Self {
            trace,
            views,
            class,
        }
    }

    fn is_agentic(&self, i: usize) -> bool {
        matches!(
            self.class[i],
            SpanClass::Agent | SpanClass::Workflow | SpanClass::Tool
        )
    }

    /// Pre-order walk of the subtree of `root` (children by start), skipping subtrees of `skip`.
    fn walk(&self, root: usize, skip: &Set<usize>) -> Vec<usize> {
        let mut out = Vec::new();
        let mut stack = vec![root];
        while let Some(i) = stack.pop() {
            out.push(i);
            for c in self.trace.children[i].iter().rev() {
                if !skip.contains(c) {
                    stack.push(*c);
                }
            }
        }
        out
    }
}

/// Raw material of a turn before continuation joining and trajectory building.
#[derive(Clone, Debug)]
pub(crate) struct Draft {
    trace_id: TraceId,
    anchor: SpanId,
    anchor_kind: AnchorKind,
    agent_name: Option<String>,
    anchor_input: Option<SharedMessages>,
    anchor_output: Option<Vec<Message>>,
    calls: Vec<LlmCall>,
    /// Tool calls from spans, by start, with the span start for ordering against calls.
    tool_spans: Vec<ToolCall>,
    tool_name_missing: Vec<String>,
    has_tool_spans: bool,
    start_ns: u64,
    end_ns: u64,
    status_error: bool,
    conversation_id: Option<String>,
    evaluations: Vec<Evaluation>,
    adk_invocation_id: Option<String>,
}

/// Builds the trace's drafts. The views' message lists move into the model calls (each inference
/// span belongs to one call of one draft), so `ctx` is spent afterwards.
fn trace_drafts(ctx: &mut TraceCtx<'_>) -> Vec<Draft> {
    let t = ctx.trace;
    let n = t.spans.len();
    // Anchors: agent/workflow spans with no agent, workflow or tool ancestor.
    let mut agentic_ancestor = vec![false; n];
    let mut order = Vec::with_capacity(n);
    for r in &t.roots {
        order.extend(ctx.walk(*r, &Set::default()));
    }
    for &i in &order {
        if let Some(p) = t.parent[i] {
            agentic_ancestor[i] = agentic_ancestor[p] || ctx.is_agentic(p);
        }
    }
    let agentic_anchors: Vec<usize> = order
        .iter()
        .copied()
        .filter(|&i| {
            matches!(ctx.class[i], SpanClass::Agent | SpanClass::Workflow) && !agentic_ancestor[i]
        })
        .collect();
    let anchor_set: Set<usize> = agentic_anchors.iter().copied().collect();
    let mut anchors: Vec<(usize, AnchorKind, Vec<usize>)> = Vec::new();
    for &a in &agentic_anchors {
        let kind = if ctx.class[a] == SpanClass::Agent {
            AnchorKind::Agent
        } else {
            AnchorKind::Workflow
        };
        anchors.push((a, kind, ctx.walk(a, &Set::default())));
    }
    for &r in &t.roots {
        if anchor_set.contains(&r) {
            continue;
        }
        let members = ctx.walk(r, &anchor_set);
        if members
            .iter()
            .any(|&i| ctx.class[i] == SpanClass::Inference)
        {
            anchors.push((r, AnchorKind::Root, members));
        }
    }
    anchors.sort_by_key(|(a, _, _)| (t.spans[*a].start_ns, t.spans[*a].span_id));
    anchors
        .into_iter()
        .filter_map(|(a, kind, members)| build_draft(ctx, a, kind, &members))
        .collect()
}

fn build_draft(
    ctx: &mut TraceCtx<'_>,
    anchor: usize,
    kind: AnchorKind,
    members: &[usize],
) -> Option<Draft> {
    let t = ctx.trace;
    let member_set: Set<usize> = members.iter().copied().collect();
    // Context per member: under a tool, nearest inference ancestor (no agent/tool between),
    // nearest tool ancestor (no agent/inference between).
    let mut under_tool: Map<usize, bool> = Map::default();
    let mut inf_parent: Map<usize, Option<usize>> = Map::default();
    let mut tool_parent: Map<usize, Option<usize>> = Map::default();
    for &i in members {
        let p = t.parent[i].filter(|p| member_set.contains(p) && i != anchor);
        let (ut, ip, tp) = match p {
            None => (false, None, None),
            Some(p) => {
                let ut = under_tool[&p] || ctx.class[p] == SpanClass::Tool;
                let ip = match ctx.class[p] {
                    SpanClass::Inference => Some(p),
                    SpanClass::Agent | SpanClass::Workflow | SpanClass::Tool => None,
                    _ => inf_parent[&p],
                };
                let tp = match ctx.class[p] {
                    SpanClass::Tool => Some(p),
                    SpanClass::Agent | SpanClass::Workflow | SpanClass::Inference => None,
                    _ => tool_parent[&p],
                };
                (ut, ip, tp)
            }
        };
        under_tool.insert(i, ut);
        inf_parent.insert(i, ip);
        tool_parent.insert(i, tp);
    }
    // Logical LLM calls.
    let inference: Vec<usize> = members
        .iter()
        .copied()
        .filter(|&i| ctx.class[i] == SpanClass::Inference)
        .collect();
    let mut top_of: Map<usize, usize> = Map::default();
    for &i in &inference {
        // Members are in pre-order, so a parent's top is known first.
        let top = inf_parent[&i].map_or(i, |p| top_of.get(&p).copied().unwrap_or(p));
        top_of.insert(i, top);
    }
    let has_inf_child: Set<usize> = inference.iter().filter_map(|i| inf_parent[i]).collect();
    let tops: Vec<usize> = inference
        .iter()
        .copied()
        .filter(|i| top_of[i] == *i)
        .collect();
    // Sized for one call per top (a draft is kept for as long as its live session).
    let mut calls = Vec::with_capacity(tops.len());
    for top in tops {
        let leaves: Vec<usize> = inference
            .iter()
            .copied()
            .filter(|i| top_of[i] == top && !has_inf_child.contains(i))
            .collect();
        if leaves.len() <= 1 {
            let leaf = leaves.first().copied().unwrap_or(top);
            let mut chain = vec![leaf];
            let mut cur = leaf;
            while cur != top {
                match inf_parent[&cur] {
                    Some(p) => {
                        chain.push(p);
                        cur = p;
                    }
                    None => break,
                }
            }
            calls.push(make_call(ctx, &chain, top, under_tool[&top], anchor));
        } else {
            for leaf in leaves {
                calls.push(make_call(ctx, &[leaf], leaf, under_tool[&leaf], anchor));
            }
        }
    }
    calls.shrink_to_fit();
    calls.sort_by_key(|c| (c.start_ns, c.span_id));
    // Tool calls from spans; nested tool spans with the same name or call id are one call.
    let mut tool_spans: Vec<(usize, ToolCall)> = Vec::new();
    let mut tool_name_missing = Vec::new();
    let mut merged_into: Map<usize, usize> = Map::default();
    for &i in members {
        if ctx.class[i] != SpanClass::Tool {
            continue;
        }
        // Each tool span belongs to one draft: its arguments and result move into the call.
        let v = &mut ctx.views[i];
        let span = &t.spans[i];
        let name = match &v.tool_name {
            Some(n) => n.clone(),
            None => {
                let n = span
                    .name
                    .strip_prefix("execute_tool ")
                    .map(|r| r.split_whitespace().next().unwrap_or("").to_owned())
                    .unwrap_or_default();
                tool_name_missing.push(span.name.clone());
                n
            }
        };
        let is_error = v.status_error || v.error_type.is_some();
        if let Some(p) = tool_parent[&i] {
            let root = merged_into.get(&p).copied().unwrap_or(p);
            if let Some((_, outer)) = tool_spans.iter_mut().find(|(s, _)| *s == root) {
                let same_id = v.tool_call_id.is_some() && v.tool_call_id == outer.call_id;
                if outer.name == name || same_id {
                    if outer.arguments.is_none() {
                        outer.arguments = v.tool_arguments.take();
                    }
                    if outer.result.is_none() {
                        outer.result = v.tool_result.take();
                    }
                    if outer.call_id.is_none() {
                        outer.call_id.clone_from(&v.tool_call_id);
                    }
                    outer.is_error |= is_error;
                    merged_into.insert(i, root);
                    continue;
                }
            }
        }
        tool_spans.push((
            i,
            ToolCall {
                span_id: Some(span.span_id),
                name,
                call_id: v.tool_call_id.clone(),
                arguments: v.tool_arguments.take(),
                result: v.tool_result.take(),
                is_error,
                start_ns: span.start_ns,
            },
        ));
    }
    tool_spans.sort_by_key(|(i, _)| (t.spans[*i].start_ns, t.spans[*i].span_id));
    let has_tool_spans = !tool_spans.is_empty();
    let av = &ctx.views[anchor];
    let anchor_span = &t.spans[anchor];
    if kind != AnchorKind::Root
        && calls.is_empty()
        && !has_tool_spans
        && av.input_messages.is_none()
        && av.output_messages.is_none()
        && !av.status_error
        && av.error_type.is_none()
    {
        return None;
    }
    let agent_name = match kind {
        AnchorKind::Root => None,
        _ => av.agent_name.clone().or_else(|| {
            members
                .iter()
                .find(|&&i| ctx.class[i] == SpanClass::Agent && ctx.views[i].agent_name.is_some())
                .and_then(|&i| ctx.views[i].agent_name.clone())
        }),
    };
    let conversation_id = av.conversation_id.clone().or_else(|| {
        members
            .iter()
            .find_map(|&i| ctx.views[i].conversation_id.clone())
    });
    Some(Draft {
        trace_id: t.trace_id,
        anchor: anchor_span.span_id,
        anchor_kind: kind,
        agent_name,
        anchor_input: av.input_messages.clone(),
        anchor_output: av.output_messages.clone(),
        calls,
        tool_spans: tool_spans.into_iter().map(|(_, c)| c).collect(),
        tool_name_missing,
        has_tool_spans,
        start_ns: anchor_span.start_ns,
        end_ns: anchor_span.end_ns,
        status_error: av.status_error,
        conversation_id,
        evaluations: members
            .iter()
            .flat_map(|&i| {
                let id = t.spans[i].span_id;
                t.spans[i]
                    .events
                    .iter()
                    .filter(|e| e.name == event::EVALUATION_RESULT)
                    .map(move |e| Evaluation::from_attributes(id, &e.attributes))
                    .chain(
                        t.span_logs[i]
                            .iter()
                            .filter(|l| l.name() == event::EVALUATION_RESULT)
                            .map(move |l| Evaluation::from_attributes(id, &l.attributes)),
                    )
            })
            .collect(),
        adk_invocation_id: members
            .iter()
            .find_map(|&i| ctx.views[i].adk_invocation_id.clone()),
    })
}

/// One logical model call from its chain of nested spans. The chain's message lists move out of
/// the views (no other call reads them), except the anchor's, which its draft reads too.
fn make_call(
    ctx: &mut TraceCtx<'_>,
    chain: &[usize],
    top: usize,
    delegated: bool,
    anchor: usize,
) -> LlmCall {
    let mut c = LlmCall {
        span_id: Some(ctx.trace.spans[top].span_id),
        delegated,
        start_ns: ctx.trace.spans[top].start_ns,
        end_ns: ctx.trace.spans[top].end_ns,
        ..LlmCall::default()
    };
    for &i in chain {
        let v = &mut ctx.views[i];
        let fill = |slot: &mut Option<String>, val: &Option<String>| {
            if slot.is_none() {
                slot.clone_from(val);
            }
        };
        fill(&mut c.operation, &v.operation);
        fill(&mut c.provider, &v.provider);
        fill(&mut c.request_model, &v.request_model);
        fill(&mut c.response_model, &v.response_model);
        if c.usage == Usage::default() {
            c.usage = v.usage;
        }
        if c.finish_reasons.is_empty() {
            c.finish_reasons.clone_from(&v.finish_reasons);
        }
        fn messages<T: Clone>(slot: &mut Option<T>, from: &mut Option<T>, keep: bool) {
            if slot.is_none() {
                if keep {
                    slot.clone_from(from);
                } else {
                    *slot = from.take();
                }
            }
        }
        messages(&mut c.input_messages, &mut v.input_messages, i == anchor);
        messages(&mut c.output_messages, &mut v.output_messages, i == anchor);
        c.status_error |= v.status_error;
    }
    c
}

// ---------------------------------------------------------------------------------------------
// Drafts to turns.

/// The trailing run of user messages that carry text: whatever follows the last of them (the
/// model's tool calls, tool results) is skipped, as is the history before the run. An input that
/// ends with a tool round, `[user, assistant tool_call, tool]`, gives the user message.
fn is_user_text(m: &Message) -> bool {
    m.role == "user" && m.has_text()
}

fn trailing_user_text(msgs: &[std::sync::Arc<Message>]) -> Vec<Message> {
    let mut end = msgs.len();
    while end > 0 && !is_user_text(&msgs[end - 1]) {
        end -= 1;
    }
    let mut start = end;
    while start > 0 && is_user_text(&msgs[start - 1]) {
        start -= 1;
    }
    msgs[start..end].iter().map(|m| Message::clone(m)).collect()
}

fn is_tool_finish(r: &str) -> bool {
    matches!(
        r,
        "tool_call" | "tool_calls" | "function_call" | "tool_use" | "TOOL_CALL" | "TOOL_CALLS"
    )
}

fn requested_call_ids(call: &LlmCall) -> (bool, Set<String>) {
    let mut any = false;
    let mut ids = Set::default();
    for m in call.output_messages.iter().flatten() {
        for p in &m.parts {
            if let Part::ToolCall { id, .. } = p {
                any = true;
                if let Some(id) = id {
                    ids.insert(id.clone());
                }
            }
        }
    }
    (any, ids)
}

/// Joins continuation turns into the turn that requested the tools.
fn join_continuations(drafts: Vec<Draft>) -> Vec<(Draft, Vec<Gap>)> {
    let mut out: Vec<(Draft, Vec<Gap>)> = Vec::new();
    for d in drafts {
        join_step(&mut out, d);
    }
    out
}

/// One step of [`join_continuations`]: `d` joins the last turn of `out` as its continuation, or
/// starts a turn of its own (returns `true`). A turn's gaps are decided when it starts, from the
/// turn before it, and never change afterwards.
fn join_step(out: &mut Vec<(Draft, Vec<Gap>)>, d: Draft) -> bool {
    if d.anchor_kind == AnchorKind::Root
        && let Some((prev, _)) = out.last_mut()
    {
        let first_input = d.calls.first().and_then(|c| c.input_messages.as_ref());
        let last_prev = prev.calls.last();
        let ends_with_response = first_input
            .and_then(|m| m.last())
            .is_some_and(|m| m.is_tool_result());
        if let (Some(lp), true) = (last_prev, ends_with_response) {
            let (requested, ids) = requested_call_ids(lp);
            let resp_ids: Set<String> = first_input
                .into_iter()
                .flatten()
                .rev()
                .take_while(|m| m.is_tool_result())
                .flat_map(|m| m.parts.iter())
                .filter_map(|p| match p {
                    Part::ToolCallResponse { id: Some(id), .. } => Some(id.clone()),
                    _ => None,
                })
                .collect();
            let ids_ok = ids.is_empty() || resp_ids.is_empty() || !ids.is_disjoint(&resp_ids);
            if requested && ids_ok {
                // One invocation: the user text of the turn that asked, the final output of
                // the one that answered (its anchor's output, else its last speaking call).
                prev.anchor_output = d.anchor_output;
                prev.calls.extend(d.calls);
                prev.tool_spans.extend(d.tool_spans);
                prev.tool_name_missing.extend(d.tool_name_missing);
                prev.has_tool_spans |= d.has_tool_spans;
                prev.end_ns = prev.end_ns.max(d.end_ns);
                prev.evaluations.extend(d.evaluations);
                return false;
            }
        }
        let no_content = d.calls.iter().all(|c| c.input_messages.is_none());
        if no_content
            && last_prev.is_some_and(|c| c.finish_reasons.iter().any(|r| is_tool_finish(r)))
        {
            let gap = Gap {
                code: "possible_continuation",
                reason: "content not captured; the previous turn ended requesting tools".into(),
            };
            out.push((d, vec![gap]));
            return true;
        }
    }
    out.push((d, Vec::new()));
    true
}

/// Per turn of a group: the index of its first draft in the group's drafts (its members'
/// drafts, in order), and the gaps it started with. What [`turns_from`] needs to build the turns
/// again from one of them on, without the drafts before it.
pub(crate) type TurnStarts = Vec<(usize, Vec<Gap>)>;

/// The turns of a group from its turn `first` on, given the group's drafts from that turn's first
/// draft on (`drafts`, where the turn's first draft is number `starts[first].0` of the group).
/// The same as the turns of [`conversation_turns`] over all the group's drafts from `first` on:
/// a turn depends on the turn before it only when it starts (its gaps), and those are kept in
/// `starts`, which is updated to the new drafts. From turn 0 nothing is kept: the first turn
/// starts without gaps.
pub(crate) fn turns_from(starts: &mut TurnStarts, first: usize, drafts: Vec<Draft>) -> Vec<Turn> {
    let mut out: Vec<(Draft, Vec<Gap>)> = Vec::new();
    let seed = if first == 0 {
        starts.clear();
        None
    } else {
        starts.drain(first..).next()
    };
    let base = seed.as_ref().map_or(0, |(i, _)| *i);
    for (offset, d) in drafts.into_iter().enumerate() {
        let started = match (offset, &seed) {
            // The turn's start stands: its gaps came from the turn before, unchanged.
            (0, Some((_, gaps))) => {
                out.push((d, gaps.clone()));
                true
            }
            _ => join_step(&mut out, d),
        };
        if started {
            let gaps = out.last().map(|(_, g)| g.clone()).unwrap_or_default();
            starts.push((base + offset, gaps));
        }
    }
    out.into_iter().map(|(d, g)| finish_turn(d, g)).collect()
}

struct PartCall {
    call_idx: usize,
    id: Option<String>,
    name: String,
    arguments: Option<Value>,
    claimed: bool,
}

fn finish_turn(d: Draft, mut warnings: Vec<Gap>) -> Turn {
    let calls = d.calls;
    for n in &d.tool_name_missing {
        warnings.push(Gap {
            code: "tool_name_missing",
            reason: format!("tool name taken from the span name `{n}`"),
        });
    }
    // Tool call parts of model outputs.
    let mut parts: Vec<PartCall> = Vec::new();
    for (ci, c) in calls.iter().enumerate() {
        for m in c.output_messages.iter().flatten() {
            for p in &m.parts {
                if let Part::ToolCall {
                    id,
                    name,
                    arguments,
                } = p
                {
                    parts.push(PartCall {
                        call_idx: ci,
                        id: id.clone(),
                        name: name.clone().unwrap_or_default(),
                        arguments: arguments.clone(),
                        claimed: false,
                    });
                }
            }
        }
    }
    // Claim parts by call id, then by name for spans without data.
    let mut traj: Vec<(ToolCall, Option<usize>)> = Vec::new();
    for mut tc in d.tool_spans {
        let mut src = None;
        if let Some(id) = &tc.call_id
            && let Some(p) = parts
                .iter_mut()
                .find(|p| !p.claimed && p.id.as_deref() == Some(id.as_str()))
        {
            p.claimed = true;
            src = Some(p.call_idx);
            if tc.arguments.is_none() {
                tc.arguments.clone_from(&p.arguments);
            }
        }
        if src.is_none()
            && let Some(p) = parts.iter_mut().find(|p| !p.claimed && p.name == tc.name)
        {
            p.claimed = true;
            src = Some(p.call_idx);
            if tc.arguments.is_none() && p.arguments.is_some() {
                tc.arguments.clone_from(&p.arguments);
                warnings.push(Gap {
                    code: "tool_data_by_name",
                    reason: format!(
                        "arguments of `{}` joined from a tool_call part by name",
                        tc.name
                    ),
                });
            }
        }
        if src.is_none() {
            // The last model call that started before the tool.
            src = calls.iter().rposition(|c| c.start_ns <= tc.start_ns);
        }
        traj.push((tc, src));
    }
    // Unclaimed parts go after the previously claimed call.
    let mut insert_at = 0usize;
    let mut from_parts = 0usize;
    for p in &parts {
        if p.claimed {
            if let Some(pos) = traj
                .iter()
                .position(|(t, _)| t.call_id.is_some() && t.call_id == p.id)
            {
                insert_at = insert_at.max(pos + 1);
            } else if let Some(pos) = traj.iter().position(|(t, _)| t.name == p.name) {
                insert_at = insert_at.max(pos + 1);
            }
            continue;
        }
        let tc = ToolCall {
            span_id: None,
            name: p.name.clone(),
            call_id: p.id.clone(),
            arguments: p.arguments.clone(),
            result: None,
            is_error: false,
            start_ns: calls.get(p.call_idx).map_or(0, |c| c.end_ns),
        };
        traj.insert(insert_at.min(traj.len()), (tc, Some(p.call_idx)));
        insert_at += 1;
        from_parts += 1;
    }
    if from_parts > 0 && d.has_tool_spans {
        warnings.push(Gap {
            code: "tool_from_parts_only",
            reason: format!("{from_parts} tool call(s) known only from model output parts"),
        });
    }
    // Results from tool_call_response parts in later calls' inputs.
    let mut by_order_used: Set<(usize, usize, usize)> = Set::default();
    let mut by_order_gap = false;
    for (tc, src) in &mut traj {
        if tc.result.is_some() {
            continue;
        }
        let from = src.map_or(0, |s| s + 1);
        let responses = || {
            calls.iter().enumerate().skip(from).flat_map(|(ci, c)| {
                c.input_messages
                    .iter()
                    .flatten()
                    .enumerate()
                    .flat_map(move |(mi, m)| {
                        m.parts
                            .iter()
                            .enumerate()
                            .filter_map(move |(pi, p)| match p {
                                Part::ToolCallResponse { id, name, response } => {
                                    Some(((ci, mi, pi), id, name, response))
                                }
                                _ => None,
                            })
                    })
            })
        };
        if let Some(id) = &tc.call_id {
            if let Some((_, _, _, r)) =
                responses().find(|(_, rid, _, _)| rid.as_deref() == Some(id.as_str()))
            {
                tc.result = Some(r.clone());
            }
            continue;
        }
        if let Some((key, _, _, r)) = responses().find(|(key, rid, rname, _)| {
            rid.is_none()
                && !by_order_used.contains(key)
                && rname.as_deref().is_none_or(|n| n == tc.name)
        }) {
            by_order_used.insert(key);
            tc.result = Some(r.clone());
            by_order_gap = true;
        }
    }
    if by_order_gap {
        warnings.push(Gap {
            code: "tool_result_by_order",
            reason: "tool result joined by order".into(),
        });
    }
    // User input and final output.
    let user_input = d
        .anchor_input
        .as_deref()
        .map(trailing_user_text)
        .filter(|m| !m.is_empty())
        .or_else(|| {
            calls
                .iter()
                .find_map(|c| c.input_messages.as_deref())
                .map(trailing_user_text)
        })
        .unwrap_or_default();
    let final_output = d
        .anchor_output
        .filter(|m| !m.is_empty())
        .or_else(|| {
            calls
                .iter()
                .rev()
                .find(|c| !c.delegated && c.speaks())
                .and_then(|c| c.output_messages.clone())
        })
        .unwrap_or_default();
    Turn {
        trace_id: d.trace_id,
        anchor: d.anchor,
        anchor_kind: d.anchor_kind,
        agent_name: d.agent_name,
        user_input,
        final_output,
        llm_calls: calls,
        tool_calls: traj.into_iter().map(|(t, _)| t).collect(),
        start_ns: d.start_ns,
        end_ns: d.end_ns,
        status_error: d.status_error,
        conversation_id: d.conversation_id,
        warnings,
        external_evaluations: d.evaluations,
        adk_invocation_id: d.adk_invocation_id,
    }
}

/// Extracts the turns of a set of traces taken as one conversation (in start order).
pub fn extract_conversation(traces: &[&Trace]) -> Vec<Turn> {
    let mut sorted: Vec<&Trace> = traces.to_vec();
    sorted.sort_by_key(|t| (t.start_ns, t.trace_id));
    let mut drafts = Vec::new();
    let mut cache = MessageCache::default();
    for t in sorted {
        let mut ctx = TraceCtx::new(t, Some(&mut cache));
        drafts.extend(trace_drafts(&mut ctx));
    }
    conversation_turns(drafts)
}

/// Continuation joining and trajectory building over the drafts of one conversation (traces in
/// start order).
pub(crate) fn conversation_turns(drafts: Vec<Draft>) -> Vec<Turn> {
    join_continuations(drafts)
        .into_iter()
        .map(|(d, g)| finish_turn(d, g))
        .collect()
}

/// What extraction keeps of one trace: its drafts and what grouping and case selection read.
/// Built once per trace ([`PreparedTrace::new`]); the incremental extractor caches it.
#[derive(Clone, Debug)]
pub(crate) struct PreparedTrace {
    /// The trace id.
    pub(crate) trace_id: TraceId,
    /// The earliest span start, ns.
    pub(crate) start_ns: u64,
    /// Turn drafts of the trace, by anchor start.
    pub(crate) drafts: Vec<Draft>,
    /// [`conversation_key`] of the trace.
    pub(crate) conversation_key: String,
    /// Some span's resource carries `agentevals.session_name`.
    pub(crate) session_named: bool,
    /// The first explicit eval case id of the trace (spans by start).
    pub(crate) explicit_case: Option<String>,
}

impl PreparedTrace {
    /// Runs the per-trace part of extraction.
    pub(crate) fn new(t: &Trace) -> Self {
        Self::build(t, None)
    }

    /// [`PreparedTrace::new`], with the input messages of the trace's model calls parsed once
    /// per conversation through `cache` (the result is the same).
    pub(crate) fn with_cache(t: &Trace, cache: &mut MessageCache) -> Self {
        Self::build(t, Some(cache))
    }

    fn build(t: &Trace, mut cache: Option<&mut MessageCache>) -> Self {
        let conversation_key = conversation_key(t);
        if let Some(cache) = cache.as_deref_mut() {
            cache.conversation(&conversation_key);
        }
        let mut ctx = TraceCtx::new(t, cache);
        Self {
            trace_id: t.trace_id,
            start_ns: t.start_ns,
            drafts: trace_drafts(&mut ctx),
            conversation_key,
            session_named: t
                .spans
                .iter()
                .any(|s| attr_str(&s.resource.attributes, SESSION_NAME).is_some()),
            explicit_case: explicit_case_id(&[t]),
        }
    }
}

/// The grouping used: `auto` resolved from the traces and the cases.
pub(crate) fn resolve_group_by<'a>(
    opts: &ExtractOptions,
    mut traces: impl Iterator<Item = &'a PreparedTrace>,
) -> GroupBy {
    match opts.group_by {
        GroupBy::Auto => {
            let multi = opts
                .cases
                .as_ref()
                .is_some_and(|c| c.iter().any(|c| c.invocations > 1));
            if multi || traces.any(|t| t.session_named) {
                GroupBy::Conversation
            } else {
                GroupBy::Trace
            }
        }
        other => other,
    }
}

/// Groups traces: keys in order of their earliest trace, each with its members (indexes into
/// `traces`) by (start, trace id).
pub(crate) fn plan_groups(
    traces: &[&PreparedTrace],
    group_by: GroupBy,
) -> Vec<(String, Vec<usize>)> {
    let mut order: Vec<usize> = (0..traces.len()).collect();
    order.sort_by_key(|&i| (traces[i].start_ns, traces[i].trace_id));
    let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
    let mut index: Map<String, usize> = Map::default();
    for i in order {
        let key = match group_by {
            GroupBy::Trace | GroupBy::Auto => traces[i].trace_id.to_string(),
            GroupBy::Conversation => traces[i].conversation_key.clone(),
        };
        match index.get(&key) {
            Some(&g) => groups[g].1.push(i),
            None => {
                index.insert(key.clone(), groups.len());
                groups.push((key, vec![i]));
            }
        }
    }
    groups
}

/// The golden case of one group, when cases were given.
pub(crate) fn group_case(
    opts: &ExtractOptions,
    turns: &[Turn],
    members: &[&PreparedTrace],
    group_count: usize,
) -> Option<CaseSelection> {
    let cases = opts.cases.as_ref()?;
    let single_pairing =
        group_count == 1 && cases.iter().filter(|c| c.invocations > 0).count() == 1;
    let explicit = members.iter().find_map(|t| t.explicit_case.as_deref());
    Some(select_case(turns, cases, explicit, single_pairing))
}

// ---------------------------------------------------------------------------------------------
// Grouping and case selection.

fn attr_str<'a>(a: &'a crate::model::Attributes, key: &str) -> Option<&'a str> {
    match a.get(key) {
        Some(AnyValue::String(s)) if !s.is_empty() => Some(s),
        _ => None,
    }
}

/// The conversation key of a trace: resource `agentevals.session_name`, else
/// `gen_ai.conversation.id` on a span (in start order) then the resource, else `session.id`,
/// else the trace id.
pub fn conversation_key(t: &Trace) -> String {
    let mut order: Vec<usize> = (0..t.spans.len()).collect();
    order.sort_by_key(|&i| (t.spans[i].start_ns, t.spans[i].span_id));
    for &i in &order {
        if let Some(s) = attr_str(&t.spans[i].resource.attributes, SESSION_NAME) {
            return s.to_owned();
        }
    }
    for key in [attr::GEN_AI_CONVERSATION_ID, attr::SESSION_ID] {
        for &i in &order {
            if let Some(s) = attr_str(&t.spans[i].attributes, key) {
                return s.to_owned();
            }
        }
        for &i in &order {
            if let Some(s) = attr_str(&t.spans[i].resource.attributes, key) {
                return s.to_owned();
            }
        }
    }
    t.trace_id.to_string()
}

fn explicit_case_id(traces: &[&Trace]) -> Option<String> {
    for t in traces {
        let mut order: Vec<usize> = (0..t.spans.len()).collect();
        order.sort_by_key(|&i| (t.spans[i].start_ns, t.spans[i].span_id));
        for i in order {
            let s = &t.spans[i];
            if let Some(id) = attr_str(&s.attributes, EVAL_CASE_ID)
                .or_else(|| attr_str(&s.resource.attributes, EVAL_CASE_ID))
            {
                return Some(id.to_owned());
            }
        }
    }
    None
}

/// Selects the golden case for a group: explicit id, else normalised first user text (ties
/// broken by turn count), else the single-case rule, else none with a reason.
pub fn select_case(
    turns: &[Turn],
    cases: &[ExpectedCase],
    explicit: Option<&str>,
    single_pairing: bool,
) -> CaseSelection {
    let cases: Vec<&ExpectedCase> = cases.iter().filter(|c| c.invocations > 0).collect();
    if let Some(id) = explicit {
        if cases.iter().any(|c| c.eval_id == id) {
            return CaseSelection {
                eval_case_id: Some(id.to_owned()),
                how: Some("explicit"),
                reason: None,
            };
        }
        return CaseSelection {
            eval_case_id: None,
            how: None,
            reason: Some(format!("eval case {id} not found")),
        };
    }
    if let Some(text) = turns.first().and_then(Turn::user_text) {
        let norm = normalize_text(&text);
        let hits: Vec<&&ExpectedCase> = cases
            .iter()
            .filter(|c| {
                c.first_user_text
                    .as_deref()
                    .is_some_and(|t| normalize_text(t) == norm)
            })
            .collect();
        match hits.len() {
            0 => {}
            1 => {
                return CaseSelection {
                    eval_case_id: Some(hits[0].eval_id.clone()),
                    how: Some("user_text"),
                    reason: None,
                };
            }
            _ => {
                let same_len: Vec<_> = hits
                    .iter()
                    .filter(|c| c.invocations == turns.len())
                    .collect();
                if same_len.len() == 1 {
                    return CaseSelection {
                        eval_case_id: Some(same_len[0].eval_id.clone()),
                        how: Some("user_text"),
                        reason: None,
                    };
                }
                return CaseSelection {
                    eval_case_id: None,
                    how: None,
                    reason: Some("ambiguous eval case".into()),
                };
            }
        }
    }
    if single_pairing && cases.len() == 1 {
        return CaseSelection {
            eval_case_id: Some(cases[0].eval_id.clone()),
            how: Some("single_case"),
            reason: None,
        };
    }
    let reason = if turns.is_empty() {
        "no turns to match"
    } else {
        "no matching eval case"
    };
    CaseSelection {
        eval_case_id: None,
        how: None,
        reason: Some(reason.into()),
    }
}

/// Every trace of a set prepared, with one message cache across them (a conversation's
/// repeated messages are parsed once).
fn prepare_all(set: &TraceSet) -> Vec<PreparedTrace> {
    let mut cache = MessageCache::default();
    set.traces
        .iter()
        .map(|t| PreparedTrace::with_cache(t, &mut cache))
        .collect()
}

/// Extracts groups and turns from built traces.
pub fn extract(set: &TraceSet, opts: &ExtractOptions) -> Extraction {
    let mut prepared = prepare_all(set);
    let group_by = resolve_group_by(opts, prepared.iter());
    let plan = {
        let refs: Vec<&PreparedTrace> = prepared.iter().collect();
        plan_groups(&refs, group_by)
    };
    let group_count = plan.len();
    let groups = plan
        .into_iter()
        .map(|(key, members)| {
            let drafts: Vec<Draft> = members
                .iter()
                .flat_map(|&i| std::mem::take(&mut prepared[i].drafts))
                .collect();
            let turns = conversation_turns(drafts);
            let refs: Vec<&PreparedTrace> = members.iter().map(|&i| &prepared[i]).collect();
            let case = group_case(opts, &turns, &refs, group_count);
            Group {
                key,
                trace_ids: refs.iter().map(|t| t.trace_id).collect(),
                turns,
                case,
            }
        })
        .collect();
    Extraction {
        requested_group_by: opts.group_by,
        group_by,
        groups,
    }
}

/// Extracts every trace of a set as one group, whatever keys its traces carry: a server session
/// is one evaluation unit. Its turns come in trace start order (continuations joined as in a
/// conversation), and with `cases` its golden case is selected as for a file's only group.
pub fn extract_one_group(set: &TraceSet, key: &str, cases: Option<Vec<ExpectedCase>>) -> Group {
    let mut prepared = prepare_all(set);
    prepared.sort_by_key(|t| (t.start_ns, t.trace_id));
    let drafts: Vec<Draft> = prepared
        .iter_mut()
        .flat_map(|t| std::mem::take(&mut t.drafts))
        .collect();
    let turns = conversation_turns(drafts);
    let refs: Vec<&PreparedTrace> = prepared.iter().collect();
    let opts = ExtractOptions {
        group_by: GroupBy::Conversation,
        cases,
    };
    let case = group_case(&opts, &turns, &refs, 1);
    Group {
        key: key.to_owned(),
        trace_ids: refs.iter().map(|t| t.trace_id).collect(),
        turns,
        case,
    }
}
