//! Two sessions side by side (`GET /api/compare?a=ID&b=ID`): turn by turn (the first turn of one
//! with the first of the other, and so on), their tool-call trajectories aligned, their answers
//! diffed word by word, and each turn's tokens, model calls and latency.
//!
//! Trajectories are aligned by a longest common subsequence of the tool names: a call only in the
//! first session is `deleted`, one only in the second `inserted`, a call of the same tool in both
//! is `same`, or `changed` when its arguments differ (the differing argument names are listed).
//! Answers are split on white space and aligned the same way. Both alignments are bounded
//! ([`MAX_CALLS`], [`MAX_WORDS`]), and so is the number of turns compared ([`MAX_TURNS`]).

use agentrace_semconv::attr;
use serde::Serialize;
use serde_json::{Value, json};

use crate::store::StoredItem;

/// Turns compared at most (the answer says when there were more).
pub const MAX_TURNS: usize = 500;
/// Tool calls of a turn aligned at most; the rest of a longer trajectory are listed as changed
/// without alignment.
pub const MAX_CALLS: usize = 500;
/// Words of an answer aligned at most; past it, the rest of each answer is one deleted and one
/// inserted part.
pub const MAX_WORDS: usize = 2000;

/// A step of an alignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// In both (indexes into the first and the second sequence).
    Both(usize, usize),
    /// Only in the first.
    First(usize),
    /// Only in the second.
    Second(usize),
}

/// A longest-common-subsequence alignment of `a` and `b` under `eq`. Quadratic: callers bound
/// the lengths.
fn align<T>(a: &[T], b: &[T], eq: impl Fn(&T, &T) -> bool) -> Vec<Step> {
    let (n, m) = (a.len(), b.len());
    // lengths[i][j]: the LCS of a[i..] and b[j..].
    let width = m + 1;
    let mut lengths = vec![0u32; (n + 1) * width];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lengths[i * width + j] = if eq(&a[i], &b[j]) {
                lengths[(i + 1) * width + j + 1] + 1
            } else {
                lengths[(i + 1) * width + j].max(lengths[i * width + j + 1])
            };
        }
    }
    let mut steps = Vec::with_capacity(n.max(m));
    let (mut i, mut j) = (0, 0);
    while i < n && j < m {
        if eq(&a[i], &b[j]) {
            steps.push(Step::Both(i, j));
            i += 1;
            j += 1;
        } else if lengths[(i + 1) * width + j] >= lengths[i * width + j + 1] {
            steps.push(Step::First(i));
            i += 1;
        } else {
            steps.push(Step::Second(j));
            j += 1;
        }
    }
    steps.extend((i..n).map(Step::First));
    steps.extend((j..m).map(Step::Second));
    steps
}

/// One tool call of a turn.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Call {
    /// Tool name.
    pub name: String,
    /// Arguments.
    pub args: Value,
}

/// The argument names whose values differ between two calls (sorted).
fn changed_args(a: &Value, b: &Value) -> Vec<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
            keys.sort();
            keys.dedup();
            keys.into_iter()
                .filter(|k| x.get(*k) != y.get(*k))
                .cloned()
                .collect()
        }
        _ if a == b => Vec::new(),
        _ => vec![String::new()],
    }
}

/// The aligned trajectories of two turns, as JSON operations.
pub fn trajectory(a: &[Call], b: &[Call]) -> Vec<Value> {
    let (a_head, a_rest) = a.split_at(a.len().min(MAX_CALLS));
    let (b_head, b_rest) = b.split_at(b.len().min(MAX_CALLS));
    let mut ops: Vec<Value> = align(a_head, b_head, |x, y| x.name == y.name)
        .into_iter()
        .map(|step| match step {
            Step::Both(i, j) => {
                let changed = changed_args(&a_head[i].args, &b_head[j].args);
                json!({
                    "op": if changed.is_empty() { "same" } else { "changed" },
                    "a": a_head[i], "b": b_head[j], "changedArgs": changed,
                })
            }
            Step::First(i) => json!({ "op": "deleted", "a": a_head[i], "b": null }),
            Step::Second(j) => json!({ "op": "inserted", "a": null, "b": b_head[j] }),
        })
        .collect();
    ops.extend(
        a_rest
            .iter()
            .map(|c| json!({ "op": "deleted", "a": c, "b": null })),
    );
    ops.extend(
        b_rest
            .iter()
            .map(|c| json!({ "op": "inserted", "a": null, "b": c })),
    );
    ops
}

/// The word diff of two answers: parts `{op: same|deleted|inserted, text}`, consecutive words of
/// one kind joined by single spaces.
pub fn word_diff(a: &str, b: &str) -> Vec<Value> {
    let a_words: Vec<&str> = a.split_whitespace().collect();
    let b_words: Vec<&str> = b.split_whitespace().collect();
    let (a_head, a_rest) = a_words.split_at(a_words.len().min(MAX_WORDS));
    let (b_head, b_rest) = b_words.split_at(b_words.len().min(MAX_WORDS));
    let mut parts: Vec<(&'static str, Vec<&str>)> = Vec::new();
    let steps = align(a_head, b_head, |x, y| x == y)
        .into_iter()
        .map(|step| match step {
            Step::Both(i, _) => ("same", a_head[i]),
            Step::First(i) => ("deleted", a_head[i]),
            Step::Second(j) => ("inserted", b_head[j]),
        })
        .chain(a_rest.iter().map(|w| ("deleted", *w)))
        .chain(b_rest.iter().map(|w| ("inserted", *w)));
    for (op, word) in steps {
        match parts.last_mut() {
            Some((last, words)) if *last == op => words.push(word),
            _ => parts.push((op, vec![word])),
        }
    }
    parts
        .into_iter()
        .map(|(op, words)| json!({ "op": op, "text": words.join(" ") }))
        .collect()
}

/// Tokens, model calls and latency of one turn, from its invocation and its trace's spans.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TurnFacts {
    /// Input tokens (spans whose usage no span below them repeats), if any span reports usage.
    pub input_tokens: Option<i64>,
    /// Output tokens, likewise.
    pub output_tokens: Option<i64>,
    /// Logical model calls (the invocation's `llm_call_count`).
    pub model_calls: u64,
    /// The turn's duration: its anchor span's, else its trace's extent, in milliseconds.
    pub latency_ms: Option<f64>,
}

/// The parts of a stored OTLP/JSON span the facts need.
struct SpanFacts {
    id: String,
    parent: String,
    start: Option<u64>,
    end: Option<u64>,
    input: Option<i64>,
    output: Option<i64>,
}

fn attr_number(attrs: &[Value], keys: &[&str]) -> Option<i64> {
    keys.iter().find_map(|key| {
        let v = attrs
            .iter()
            .find(|kv| kv.get("key").and_then(Value::as_str) == Some(key))?
            .get("value")?;
        v.get("intValue")
            .and_then(|i| {
                i.as_i64()
                    .or_else(|| i.as_str().and_then(|s| s.parse().ok()))
            })
            .or_else(|| {
                v.get("doubleValue")
                    .and_then(Value::as_f64)
                    .map(|f| f as i64)
            })
            .or_else(|| {
                v.get("stringValue")
                    .and_then(Value::as_str)
                    .and_then(|s| s.parse().ok())
            })
    })
}

fn span_facts(item: &StoredItem) -> Option<SpanFacts> {
    let span: Value = serde_json::from_str(&item.body).ok()?;
    let text = |k: &str| span.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    let time = |k: &str| {
        span.get(k).and_then(|v| {
            v.as_u64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        })
    };
    let attrs = span
        .get("attributes")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    Some(SpanFacts {
        id: text("spanId"),
        parent: text("parentSpanId"),
        start: time("startTimeUnixNano"),
        end: time("endTimeUnixNano"),
        input: attr_number(
            attrs,
            &[
                attr::GEN_AI_USAGE_INPUT_TOKENS,
                attr::GEN_AI_USAGE_PROMPT_TOKENS,
            ],
        ),
        output: attr_number(
            attrs,
            &[
                attr::GEN_AI_USAGE_OUTPUT_TOKENS,
                attr::GEN_AI_USAGE_COMPLETION_TOKENS,
            ],
        ),
    })
}

/// The facts of a turn whose anchor span is `anchor` (its invocation id), from the spans of its
/// trace.
pub fn turn_facts(spans: &[StoredItem], anchor: &str, model_calls: u64) -> TurnFacts {
    let spans: Vec<SpanFacts> = spans.iter().filter_map(span_facts).collect();
    let by_id: agentrace_loader::hash::Map<&str, usize> = spans
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id.as_str(), i))
        .collect();
    // Each span's ancestors, by walking parents (bounded by the span count: a cycle ends it).
    let ancestors = |i: usize| {
        let mut out = Vec::new();
        let mut at = i;
        while let Some(&p) = by_id.get(spans[at].parent.as_str()) {
            if out.len() >= spans.len() {
                break;
            }
            out.push(p);
            at = p;
        }
        out
    };
    let anchor_index = by_id.get(anchor).copied();
    let in_turn: Vec<bool> = (0..spans.len())
        .map(|i| anchor_index.is_none_or(|a| i == a || ancestors(i).contains(&a)))
        .collect();
    let mut covered = vec![false; spans.len()];
    for (i, s) in spans.iter().enumerate() {
        if in_turn[i] && (s.input.is_some() || s.output.is_some()) {
            for p in ancestors(i) {
                covered[p] = true;
            }
        }
    }
    let mut facts = TurnFacts {
        model_calls,
        ..TurnFacts::default()
    };
    for (i, s) in spans.iter().enumerate() {
        if !in_turn[i] || covered[i] || (s.input.is_none() && s.output.is_none()) {
            continue;
        }
        facts.input_tokens = Some(facts.input_tokens.unwrap_or(0) + s.input.unwrap_or(0));
        facts.output_tokens = Some(facts.output_tokens.unwrap_or(0) + s.output.unwrap_or(0));
    }
    let extent = |list: &mut dyn Iterator<Item = &SpanFacts>| {
        let (mut start, mut end) = (None::<u64>, None::<u64>);
        for s in list {
            start = match (start, s.start) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            end = match (end, s.end) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
        }
        match (start, end) {
            (Some(s), Some(e)) if e >= s => Some((e - s) as f64 / 1e6),
            _ => None,
        }
    };
    facts.latency_ms = match anchor_index {
        Some(a) => extent(&mut std::iter::once(&spans[a])),
        None => extent(&mut spans.iter()),
    };
    facts
}

/// One side of a compared turn.
pub fn side(invocation: &Value, facts: &TurnFacts) -> Value {
    json!({
        "userText": invocation.get("user_text"),
        "agentText": invocation.get("agent_text"),
        "toolCalls": calls(invocation).len(),
        "inputTokens": facts.input_tokens,
        "outputTokens": facts.output_tokens,
        "modelCalls": facts.model_calls,
        "latencyMs": facts.latency_ms,
    })
}

/// The tool calls of an invocation (as the API returns it).
pub fn calls(invocation: &Value) -> Vec<Call> {
    invocation
        .get("tool_calls")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .map(|c| Call {
                    name: c
                        .get("name")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_owned(),
                    args: c.get("args").cloned().unwrap_or(Value::Null),
                })
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(name: &str, args: Value) -> Call {
        Call {
            name: name.to_owned(),
            args,
        }
    }

    #[test]
    fn trajectories_mark_insertions_deletions_and_argument_changes() {
        let a = [
            call("search", json!({"q": "x"})),
            call("open", json!({"id": 1})),
            call("buy", json!({"n": 1, "sku": "a"})),
        ];
        let b = [
            call("search", json!({"q": "x"})),
            call("buy", json!({"n": 2, "sku": "a"})),
            call("pay", json!({})),
        ];
        let ops: Vec<(String, Value)> = trajectory(&a, &b)
            .into_iter()
            .map(|op| {
                (
                    op["op"].as_str().unwrap().to_owned(),
                    op["changedArgs"].clone(),
                )
            })
            .collect();
        assert_eq!(
            ops,
            [
                ("same".to_owned(), json!([])),
                ("deleted".to_owned(), Value::Null),
                ("changed".to_owned(), json!(["n"])),
                ("inserted".to_owned(), Value::Null),
            ]
        );
    }

    #[test]
    fn answers_diff_by_word() {
        let parts = word_diff(
            "the cart holds two apples",
            "the cart holds three apples now",
        );
        assert_eq!(
            parts,
            [
                json!({"op": "same", "text": "the cart holds"}),
                json!({"op": "deleted", "text": "two"}),
                json!({"op": "inserted", "text": "three"}),
                json!({"op": "same", "text": "apples"}),
                json!({"op": "inserted", "text": "now"}),
            ]
        );
        assert!(word_diff("", "").is_empty());
        // Past the bound the rest is one deleted and one inserted part, not an alignment.
        let long_a = "w ".repeat(MAX_WORDS + 3);
        let long_b = "v ".repeat(MAX_WORDS + 1);
        let parts = word_diff(&long_a, &long_b);
        assert!(parts.len() <= 4, "{}", parts.len());
    }

    #[test]
    fn facts_count_usage_once_and_time_the_anchor() {
        let item = |body: Value| StoredItem {
            origin: "{}".to_owned(),
            body: body.to_string(),
        };
        let usage = |input: i64, output: i64| {
            json!([
                {"key": attr::GEN_AI_USAGE_INPUT_TOKENS, "value": {"intValue": input.to_string()}},
                {"key": attr::GEN_AI_USAGE_OUTPUT_TOKENS, "value": {"intValue": output}},
            ])
        };
        let spans = [
            item(
                json!({"spanId": "a", "startTimeUnixNano": "1000000", "endTimeUnixNano": "5000000",
                "attributes": usage(30, 7)}),
            ),
            item(
                json!({"spanId": "c1", "parentSpanId": "a", "startTimeUnixNano": "2000000",
                "endTimeUnixNano": "3000000", "attributes": usage(10, 3)}),
            ),
            item(
                json!({"spanId": "c2", "parentSpanId": "a", "startTimeUnixNano": "3000000",
                "endTimeUnixNano": "4000000", "attributes": usage(20, 4)}),
            ),
            item(
                json!({"spanId": "other", "startTimeUnixNano": "0", "endTimeUnixNano": "9000000",
                "attributes": usage(100, 100)}),
            ),
            item(json!("not a span")),
        ];
        let facts = turn_facts(&spans, "a", 2);
        assert_eq!(facts.input_tokens, Some(30));
        assert_eq!(facts.output_tokens, Some(7));
        assert_eq!(facts.model_calls, 2);
        assert_eq!(facts.latency_ms, Some(4.0));
        // No anchor: the whole trace.
        let facts = turn_facts(&spans, "missing", 0);
        assert_eq!(facts.input_tokens, Some(130));
        assert_eq!(facts.latency_ms, Some(9.0));
    }
}
