//! The incremental extractor ends with the batch result whatever the order and batching.

use std::path::Path;

use agentrace_loader::extract::{self, ExpectedCase, ExtractOptions, GroupBy};
use agentrace_loader::incremental::IncrementalExtractor;
use agentrace_loader::model::{LogRecord, Span, Telemetry};
use agentrace_loader::read::{Format, LoadOptions, load_path};
use agentrace_loader::report::Report;
use agentrace_loader::trace::TraceSet;
use proptest::prelude::*;

const CASES: [&str; 5] = [
    "multi_turn_cart",
    "logs_inference_details_recipe",
    "session_logs_good",
    "jsonl_three_traces",
    "helm_jaeger_pass",
];

fn case(name: &str) -> (Telemetry, ExtractOptions) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/conformance")
        .join(name);
    let trace = ["trace.json", "trace.jsonl"]
        .iter()
        .map(|n| dir.join(n))
        .find(|p| p.exists())
        .unwrap();
    let loaded = load_path(&trace, LoadOptions::default()).unwrap();
    let eval: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("eval_set.json")).unwrap()).unwrap();
    let opts = ExtractOptions {
        cases: Some(ExpectedCase::from_eval_set_json(&eval)),
        ..ExtractOptions::default()
    };
    (loaded.telemetry, opts)
}

fn batch_report(telemetry: Telemetry, opts: &ExtractOptions) -> Report {
    let set = TraceSet::build(telemetry);
    Report::new(Format::OtlpJson, &set, &extract::extract(&set, opts))
}

/// A seeded xorshift shuffle.
fn shuffle<T>(items: &mut [T], seed: u64) {
    let mut state = seed | 1;
    for i in (1..items.len()).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let j = usize::try_from(state % (i as u64 + 1)).unwrap();
        items.swap(i, j);
    }
}

enum Item {
    Span(Span),
    Log(LogRecord),
}

/// The telemetry as a feeding order: shuffled, with `dups` spans fed twice, and with every log
/// record first when `logs_first`.
fn feed_order(t: &Telemetry, seed: u64, dups: usize, logs_first: bool) -> Vec<Item> {
    let mut spans: Vec<Item> = t.spans.iter().cloned().map(Item::Span).collect();
    spans.extend(t.spans.iter().take(dups).cloned().map(Item::Span));
    let logs: Vec<Item> = t.logs.iter().cloned().map(Item::Log).collect();
    if logs_first {
        let mut logs = logs;
        shuffle(&mut logs, seed);
        shuffle(&mut spans, seed.rotate_left(17));
        logs.extend(spans);
        logs
    } else {
        spans.extend(logs);
        shuffle(&mut spans, seed);
        spans
    }
}

fn feed(inc: &mut IncrementalExtractor, chunk: &[Item]) {
    let mut spans = Vec::new();
    let mut logs = Vec::new();
    for item in chunk {
        match item {
            Item::Span(s) => spans.push(s.clone()),
            Item::Log(l) => logs.push(l.clone()),
        }
    }
    inc.push_spans(spans);
    inc.push_logs(logs);
}

/// [`feed`], then the released traces that got more given back from `stored` (as the server
/// does before an extraction).
fn feed_restoring(inc: &mut IncrementalExtractor, chunk: &[Item], stored: &Store) {
    feed(inc, chunk);
    for tid in inc.needs_restore() {
        inc.restore(tid, stored.trace(tid));
    }
}

/// What a store would hold: every span once (the first copy) and every log record fed.
#[derive(Default)]
struct Store {
    telemetry: Telemetry,
    ids: std::collections::HashSet<(
        agentrace_loader::model::TraceId,
        agentrace_loader::model::SpanId,
    )>,
}

impl Store {
    fn keep(&mut self, chunk: &[Item]) {
        for item in chunk {
            match item {
                Item::Span(s) => {
                    if self.ids.insert((s.trace_id, s.span_id)) {
                        self.telemetry.spans.push(s.clone());
                    }
                }
                Item::Log(l) => self.telemetry.logs.push(l.clone()),
            }
        }
    }

    /// One trace's spans and logs, as the server reads them back.
    fn trace(&self, tid: agentrace_loader::model::TraceId) -> Telemetry {
        Telemetry {
            spans: self
                .telemetry
                .spans
                .iter()
                .filter(|s| s.trace_id == tid)
                .cloned()
                .collect(),
            logs: self
                .telemetry
                .logs
                .iter()
                .filter(|l| l.trace_id == Some(tid))
                .cloned()
                .collect(),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn any_order_and_batching_gives_the_batch_result(
        which in 0..CASES.len(),
        seed in any::<u64>(),
        batch in 1usize..20,
        dups in 0usize..6,
        logs_first in any::<bool>(),
        conversation in any::<bool>(),
    ) {
        let (telemetry, mut opts) = case(CASES[which]);
        if conversation {
            opts.group_by = GroupBy::Conversation;
        }
        let expected = batch_report(telemetry.clone(), &opts);
        let items = feed_order(&telemetry, seed, dups, logs_first);
        let mut inc = IncrementalExtractor::new();
        for (k, chunk) in items.chunks(batch).enumerate() {
            feed(&mut inc, chunk);
            // Asking for a result mid-way (either way) must not disturb the final one.
            if k % 2 == 0 {
                let _ = inc.report(Format::OtlpJson, &opts);
            } else {
                let _ = inc.extract(&opts);
            }
        }
        prop_assert_eq!(inc.span_count(), expected.span_count);
        prop_assert_eq!(inc.log_count(), expected.log_count);
        prop_assert_eq!(inc.trace_count(), expected.trace_count);
        prop_assert_eq!(&inc.report(Format::OtlpJson, &opts), &expected);
        let ex = inc.extract(&opts);
        prop_assert_eq!(&Report::new(Format::OtlpJson, &inc.trace_set(), &ex), &expected);
        // A second call with nothing new answers from the caches.
        prop_assert_eq!(inc.report(Format::OtlpJson, &opts), expected);
    }

    #[test]
    fn take_trace_leaves_the_batch_result_of_the_rest(
        which in 0..CASES.len(),
        seed in any::<u64>(),
        batch in 1usize..20,
        pick in any::<prop::sample::Index>(),
    ) {
        let (telemetry, opts) = case(CASES[which]);
        let items = feed_order(&telemetry, seed, 2, false);
        let mut inc = IncrementalExtractor::new();
        for chunk in items.chunks(batch) {
            feed(&mut inc, chunk);
            let _ = inc.report(Format::OtlpJson, &opts);
        }
        let ids: Vec<_> = TraceSet::build(telemetry.clone())
            .traces
            .iter()
            .map(|t| t.trace_id)
            .collect();
        let taken_id = ids[pick.index(ids.len())];
        let taken = inc.take_trace(taken_id);
        let (mine, rest): (Vec<Span>, Vec<Span>) =
            telemetry.spans.into_iter().partition(|s| s.trace_id == taken_id);
        let (my_logs, rest_logs): (Vec<LogRecord>, Vec<LogRecord>) =
            telemetry.logs.into_iter().partition(|l| l.trace_id == Some(taken_id));
        prop_assert_eq!(taken.spans.len(), mine.len());
        prop_assert_eq!(taken.logs.len(), my_logs.len());
        prop_assert!(taken.spans.iter().all(|s| s.trace_id == taken_id));
        let expected = batch_report(Telemetry { spans: rest, logs: rest_logs }, &opts);
        prop_assert_eq!(inc.report(Format::OtlpJson, &opts), expected);
        // The taken trace fed to another extractor gives that trace's batch result.
        let mut other = IncrementalExtractor::new();
        other.push(taken);
        let expected_taken = batch_report(Telemetry { spans: mine, logs: my_logs }, &opts);
        prop_assert_eq!(other.report(Format::OtlpJson, &opts), expected_taken);
        // Taking it again finds nothing.
        let again = inc.take_trace(taken_id);
        prop_assert!(again.spans.is_empty() && again.logs.is_empty());
    }

    #[test]
    fn releasing_rooted_traces_and_restoring_them_gives_the_batch_result(
        which in 0..CASES.len(),
        seed in any::<u64>(),
        batch in 1usize..20,
        dups in 0usize..6,
        logs_first in any::<bool>(),
        release_every in 1usize..4,
    ) {
        let (telemetry, opts) = case(CASES[which]);
        let expected = batch_report(telemetry.clone(), &opts);
        let items = feed_order(&telemetry, seed, dups, logs_first);
        let mut stored = Store::default();
        let mut inc = IncrementalExtractor::new();
        let mut released = 0usize;
        for (k, chunk) in items.chunks(batch).enumerate() {
            stored.keep(chunk);
            feed(&mut inc, chunk);
            for tid in inc.needs_restore() {
                prop_assert!(inc.is_released(tid));
                inc.restore(tid, stored.trace(tid));
                prop_assert!(!inc.is_released(tid));
            }
            prop_assert!(inc.needs_restore().is_empty());
            let _ = inc.report(Format::OtlpJson, &opts);
            if k % release_every == 0 {
                released += inc.release_rooted();
            }
            // Counts do not change when spans are released.
            prop_assert_eq!(inc.span_count(), stored.ids.len());
            prop_assert_eq!(inc.log_count(), stored.telemetry.logs.len());
        }
        prop_assert_eq!(inc.span_count(), expected.span_count);
        prop_assert_eq!(inc.log_count(), expected.log_count);
        prop_assert_eq!(inc.trace_count(), expected.trace_count);
        prop_assert_eq!(&inc.report(Format::OtlpJson, &opts), &expected);
        // Releasing everything left keeps the result: it is answered from the extraction.
        released += inc.release_rooted();
        prop_assert_eq!(inc.report(Format::OtlpJson, &opts), expected);
        // Every case has rooted traces, so something was released along the way.
        prop_assert!(released > 0);
    }

    #[test]
    fn invocation_updates_add_up_to_the_report_at_every_step(
        which in 0..CASES.len(),
        seed in any::<u64>(),
        batch in 1usize..20,
        dups in 0usize..6,
        logs_first in any::<bool>(),
        group_by in 0usize..3,
        release_every in 1usize..4,
    ) {
        // What the server does with a live session: after each batch, the update of the last
        // invocations, then the rooted traces released (and given back when more arrives).
        let (telemetry, _) = case(CASES[which]);
        let opts = ExtractOptions {
            group_by: [GroupBy::Auto, GroupBy::Trace, GroupBy::Conversation][group_by],
            cases: None,
        };
        let items = feed_order(&telemetry, seed, dups, logs_first);
        let mut stored = Store::default();
        let mut inc = IncrementalExtractor::new();
        let mut list: Vec<agentrace_loader::report::InvocationReport> = Vec::new();
        for (k, chunk) in items.chunks(batch).enumerate() {
            stored.keep(chunk);
            feed(&mut inc, chunk);
            for tid in inc.needs_restore() {
                inc.restore(tid, stored.trace(tid));
            }
            let update = inc.invocations_since(&opts);
            prop_assert!(update.unchanged <= list.len());
            list.truncate(update.unchanged);
            list.extend(update.invocations);
            prop_assert_eq!(&list, &inc.report(Format::OtlpJson, &opts).invocations);
            if k % release_every == 0 {
                inc.release_rooted();
            }
        }
        // Nothing new: nothing to answer.
        let again = inc.invocations_since(&opts);
        prop_assert_eq!(again.unchanged, list.len());
        prop_assert!(again.invocations.is_empty());
        prop_assert_eq!(&list, &batch_report(telemetry, &opts).invocations);
    }

    #[test]
    fn a_spending_update_answers_what_the_update_would(
        which in 0..CASES.len(),
        seed in any::<u64>(),
        batch in 1usize..20,
        dups in 0usize..6,
        group_by in 0usize..3,
        release_every in 1usize..4,
        spend_at in any::<prop::sample::Index>(),
    ) {
        // A session that completes: its last update spends the extractor, moving the drafts into
        // the turns. Two extractors fed alike, updated alike until one of them spends itself:
        // the spent one's answer is the other's, also after earlier updates left partial folds.
        let (telemetry, _) = case(CASES[which]);
        let opts = ExtractOptions {
            group_by: [GroupBy::Auto, GroupBy::Trace, GroupBy::Conversation][group_by],
            cases: None,
        };
        let items = feed_order(&telemetry, seed, dups, false);
        let chunks: Vec<&[Item]> = items.chunks(batch).collect();
        let spend_at = spend_at.index(chunks.len());
        let mut stored = Store::default();
        let (mut kept, mut spent) = (IncrementalExtractor::new(), IncrementalExtractor::new());
        let mut list: Vec<agentrace_loader::report::InvocationReport> = Vec::new();
        for (k, chunk) in chunks[..spend_at].iter().enumerate() {
            stored.keep(chunk);
            feed_restoring(&mut kept, chunk, &stored);
            feed_restoring(&mut spent, chunk, &stored);
            let update = kept.invocations_since(&opts);
            prop_assert_eq!(&update, &spent.invocations_since(&opts));
            list.truncate(update.unchanged);
            list.extend(update.invocations);
            if k % release_every == 0 {
                kept.release_rooted();
                spent.release_rooted();
            }
        }
        let chunk = chunks[spend_at];
        stored.keep(chunk);
        feed_restoring(&mut kept, chunk, &stored);
        feed_restoring(&mut spent, chunk, &stored);
        let update = kept.invocations_since(&opts);
        let last = spent.into_invocations_since(&opts);
        prop_assert_eq!(&last, &update);
        list.truncate(last.unchanged);
        list.extend(last.invocations);
        prop_assert_eq!(&list, &kept.report(Format::OtlpJson, &opts).invocations);
    }

    #[test]
    fn invocation_updates_follow_continuations_across_traces(
        kinds in proptest::collection::vec(0u8..4, 1..8),
        seed in any::<u64>(),
        batch in 1usize..6,
        late in any::<bool>(),
        release_every in 1usize..3,
        spend_at in any::<prop::sample::Index>(),
    ) {
        // One conversation whose traces request tools, continue them in the next trace (a root
        // chat answering the tool call), continue them without content (a gap), or just answer:
        // the turn boundaries depend on the trace before, which an update must respect.
        let opts = ExtractOptions { group_by: GroupBy::Conversation, cases: None };
        let mut traces: Vec<Vec<Span>> = kinds
            .iter()
            .enumerate()
            .map(|(n, kind)| conversation_trace(u8::try_from(n).unwrap() + 1, *kind))
            .collect();
        if late && traces.len() > 2 {
            // An earlier trace arrives last.
            let t = traces.remove(1);
            traces.push(t);
        }
        let mut items: Vec<Item> = Vec::new();
        for (n, mut spans) in traces.into_iter().enumerate() {
            shuffle(&mut spans, seed.wrapping_add(n as u64));
            items.extend(spans.into_iter().map(Item::Span));
        }
        let all = Telemetry {
            spans: items.iter().filter_map(|i| match i { Item::Span(s) => Some(s.clone()), Item::Log(_) => None }).collect(),
            logs: Vec::new(),
        };
        let mut inc = IncrementalExtractor::new();
        // A twin fed alike that spends itself at one step (a session completing there): its
        // answer is the update's, also when that update starts inside a group's turns.
        let mut twin = Some(IncrementalExtractor::new());
        let spend_at = spend_at.index(items.len().div_ceil(batch));
        let mut list = Vec::new();
        let mut stored = Store::default();
        for (k, chunk) in items.chunks(batch).enumerate() {
            stored.keep(chunk);
            feed_restoring(&mut inc, chunk, &stored);
            if let Some(twin) = twin.as_mut() {
                feed_restoring(twin, chunk, &stored);
            }
            let update = inc.invocations_since(&opts);
            if k == spend_at {
                let twin = twin.take().expect("the twin spends itself once");
                prop_assert_eq!(&twin.into_invocations_since(&opts), &update);
            } else if let Some(twin) = twin.as_mut() {
                prop_assert_eq!(&twin.invocations_since(&opts), &update);
                if k % release_every == 0 {
                    twin.release_rooted();
                }
            }
            list.truncate(update.unchanged);
            list.extend(update.invocations);
            prop_assert_eq!(&list, &inc.report(Format::OtlpJson, &opts).invocations);
            if k % release_every == 0 {
                inc.release_rooted();
            }
        }
        prop_assert_eq!(&list, &batch_report(all, &opts).invocations);
    }
}

/// Trace `n` of a conversation `c`, starting at `n` seconds: kind 0 an agent turn whose chat
/// requests tool `x{n}`, 1 a root chat answering the previous trace's tool call, 2 a root chat
/// without content, 3 an agent turn answering with text.
fn conversation_trace(n: u8, kind: u8) -> Vec<Span> {
    use crate::testkit::{msgs, span};
    let start = u64::from(n) * 1_000_000_000;
    let (root, child) = (n * 10, n * 10 + 1);
    let user = msgs(&[("user", &format!("question {n}"))]);
    let conversation = ("gen_ai.conversation.id", "c");
    let op = "gen_ai.operation.name";
    let answer = msgs(&[("assistant", &format!("answer {n}"))]);
    // An agent span over a chat asked `question {n}` that answered `out`.
    let agent_turn = |out: &str, finish: &[(&str, &str)]| {
        let mut chat = vec![
            (op, "chat"),
            conversation,
            ("gen_ai.input.messages", user.as_str()),
            ("gen_ai.output.messages", out),
        ];
        chat.extend_from_slice(finish);
        vec![
            span(
                n,
                root,
                None,
                start,
                "invoke_agent a",
                &[(op, "invoke_agent"), conversation],
            ),
            span(n, child, Some(root), start + 1, "chat", &chat),
        ]
    };
    match kind {
        0 => agent_turn(
            &format!(
                r#"[{{"role":"assistant","parts":[{{"type":"tool_call","id":"x{n}","name":"f","arguments":{{}}}}],"finish_reason":"tool_call"}}]"#
            ),
            &[("gen_ai.response.finish_reasons", "tool_call")],
        ),
        1 => {
            let prev = n - 1;
            let input = format!(
                r#"[{{"role":"user","parts":[{{"type":"text","content":"question {prev}"}}]}},{{"role":"tool","parts":[{{"type":"tool_call_response","id":"x{prev}","response":1}}]}}]"#
            );
            vec![span(
                n,
                root,
                None,
                start,
                "chat",
                &[
                    (op, "chat"),
                    conversation,
                    ("gen_ai.input.messages", &input),
                    ("gen_ai.output.messages", &answer),
                ],
            )]
        }
        2 => vec![span(
            n,
            root,
            None,
            start,
            "chat",
            &[(op, "chat"), conversation],
        )],
        _ => agent_turn(&answer, &[]),
    }
}
