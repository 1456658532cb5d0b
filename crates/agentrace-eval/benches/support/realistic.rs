//! A deterministic file of realistic agent traces for the whole-process benchmark of
//! `agentrace run` and `agentrace extract` (`cargo xtask bench-eval`).
//!
//! OTLP JSON Lines, one trace per line. Traces are turns of conversations (1 to 24 turns, most
//! short), each conversation a session (`agentevals.session_name` on its resource, so `auto`
//! groups by conversation) of one of several agents. A turn: an `invoke_agent` span with the
//! user's text and the answer, 2 to 6 `chat` spans whose captured input messages carry the
//! system prompt and the whole conversation so far (as real instrumentations capture them, so
//! later turns are larger), tool calls with varied JSON arguments and results, HTTP spans under
//! the tools, token usage and models. Every text is drawn from a seeded generator (words of a
//! few thousand, a little non-ASCII), so no two traces are alike and the file is the same on
//! every run.

use agentrace_semconv::attr;
use serde_json::{Value, json};

/// SplitMix64: small, fast, deterministic.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    fn pick<'a>(&mut self, items: &'a [&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

const ONSETS: [&str; 16] = [
    "b", "c", "d", "f", "g", "l", "m", "n", "p", "r", "s", "t", "v", "br", "st", "tr",
];
const VOWELS: [&str; 8] = ["a", "e", "i", "o", "u", "ai", "ou", "ea"];
const CODAS: [&str; 8] = ["", "n", "r", "s", "t", "l", "nd", "ck"];
const UNICODE: [&str; 8] = [
    "café",
    "naïve",
    "Zürich",
    "São Paulo",
    "東京",
    "Kraków",
    "résumé",
    "🙂",
];
const AGENTS: [&str; 5] = [
    "travel_planner",
    "support_bot",
    "code_helper",
    "research_assistant",
    "shop_assistant",
];
const MODELS: [&str; 4] = ["gpt-4o", "gpt-4o-mini", "claude-sonnet-4", "llama-3.3-70b"];
const TOOLS: [&str; 10] = [
    "search_flights",
    "book_hotel",
    "get_weather",
    "lookup_order",
    "refund_order",
    "run_query",
    "read_file",
    "web_search",
    "fetch_page",
    "send_email",
];

/// A word: a few syllables, sometimes a non-ASCII word.
fn word(r: &mut Rng) -> String {
    if r.below(60) == 0 {
        return r.pick(&UNICODE).to_owned();
    }
    let mut w = String::new();
    for _ in 0..r.range(1, 3) {
        w.push_str(r.pick(&ONSETS));
        w.push_str(r.pick(&VOWELS));
        w.push_str(r.pick(&CODAS));
    }
    w
}

/// A few sentences of `lo..=hi` words in all.
fn text(r: &mut Rng, lo: u64, hi: u64) -> String {
    let n = r.range(lo, hi);
    let mut s = String::new();
    let mut sentence = 0;
    for i in 0..n {
        let mut w = word(r);
        if sentence == 0
            && let Some(c) = w.get(..1)
        {
            w = c.to_uppercase() + w.get(1..).unwrap_or("");
        }
        if i > 0 {
            s.push(' ');
        }
        s.push_str(&w);
        sentence += 1;
        if sentence > 4 && r.below(8) == 0 {
            s.push(if r.below(5) == 0 { '?' } else { '.' });
            sentence = 0;
        } else if r.below(12) == 0 {
            s.push(',');
        }
    }
    s.push('.');
    s
}

fn kv(k: &str, v: Value) -> Value {
    let value = match v {
        Value::String(s) => json!({"stringValue": s}),
        Value::Number(n) => json!({"intValue": n.to_string()}),
        other => json!({"stringValue": other.to_string()}),
    };
    json!({"key": k, "value": value})
}

fn msg(role: &str, parts: Value) -> Value {
    json!({"role": role, "parts": parts})
}

fn text_part(t: &str) -> Value {
    json!([{"type": "text", "content": t}])
}

/// One expected turn of a conversation, for the eval set.
pub(crate) struct TurnSummary {
    /// What the user said.
    pub(crate) user: String,
    /// The final answer.
    pub(crate) answer: String,
    /// Tool calls: name and arguments.
    pub(crate) tools: Vec<(String, Value)>,
}

/// A generated file.
pub(crate) struct Generated {
    /// The JSON Lines text.
    pub(crate) text: String,
    /// Groups (conversations).
    pub(crate) groups: usize,
    /// Traces (turns).
    pub(crate) traces: usize,
    /// Bytes of the largest group's lines.
    pub(crate) largest_group_bytes: usize,
    /// The first conversations' turns (for an eval set).
    pub(crate) first: Vec<Vec<TurnSummary>>,
}

/// Conversations kept for the eval set.
const SUMMARIES: usize = 20;

/// Generates conversations until the text reaches `target` bytes.
pub(crate) fn generate(target: usize) -> Generated {
    let mut r = Rng(0x5eed_a6e7_7ace_0001);
    let mut out = Generated {
        text: String::with_capacity(target + (1 << 20)),
        groups: 0,
        traces: 0,
        largest_group_bytes: 0,
        first: Vec::new(),
    };
    let mut t0: u64 = 1_767_225_600_000_000_000;
    let mut trace_n: u128 = 0;
    while out.text.len() < target {
        let c = out.groups;
        let agent = r.pick(&AGENTS);
        let turns = match r.below(20) {
            0 => r.range(10, 24),
            1..=5 => r.range(4, 8),
            _ => r.range(1, 3),
        };
        let system = text(&mut r, 40, 120);
        let session = format!("session-{c:06}-{}", word(&mut r));
        let mut history: Vec<Value> = Vec::new();
        let start_len = out.text.len();
        let mut summaries = Vec::new();
        for _ in 0..turns {
            trace_n += 1;
            let tid = format!(
                "{:032x}",
                trace_n.wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835) | 1
            );
            let mut span_n: u64 = 0;
            let mut sid = || {
                span_n += 1;
                format!(
                    "{:016x}",
                    (trace_n as u64).wrapping_mul(0x100_0000) ^ span_n.wrapping_mul(0x9e37_79b9)
                        | 1 << 60
                )
            };
            let user = text(&mut r, 8, 60);
            history.push(msg("user", text_part(&user)));
            let root_id = sid();
            let mut spans = Vec::new();
            let mut clock = t0 + r.range(1_000, 900_000);
            let root_start = clock;
            let model = r.pick(&MODELS);
            let calls = r.range(1, 5);
            let mut tools = Vec::new();
            let mut answer = String::new();
            for k in 0..=calls {
                let chat_id = sid();
                let mut input = vec![msg("system", text_part(&system))];
                input.extend(history.iter().cloned());
                let last = k == calls;
                let output = if last {
                    answer = text(&mut r, 20, 90);
                    vec![
                        json!({"role": "assistant", "parts": [{"type": "text", "content": answer}], "finish_reason": "stop"}),
                    ]
                } else {
                    let tool = r.pick(&TOOLS).to_owned();
                    let call_id = format!("call_{}", r.next() % 1_000_000_000);
                    let args = json!({
                        "query": text(&mut r, 2, 8),
                        "limit": r.range(1, 50),
                        "filters": {"region": word(&mut r), "strict": r.below(2) == 0},
                    });
                    let result = json!({
                        "status": "ok",
                        "items": (0..r.range(1, 4)).map(|_| json!({"id": r.next() % 100_000, "title": text(&mut r, 3, 10), "summary": text(&mut r, 10, 40)})).collect::<Vec<_>>(),
                    });
                    let call_part = json!({"type": "tool_call", "id": call_id, "name": tool, "arguments": args});
                    history.push(msg("assistant", json!([call_part])));
                    history.push(msg(
                        "tool",
                        json!([{"type": "tool_call_response", "id": call_id, "response": result}]),
                    ));
                    tools.push((tool.clone(), args.clone(), result, call_id));
                    vec![
                        json!({"role": "assistant", "parts": [call_part], "finish_reason": "tool_call"}),
                    ]
                };
                let dur = r.range(200_000_000, 2_500_000_000);
                let input_tokens = r.range(200, 9000);
                spans.push(json!({
                    "traceId": tid, "spanId": chat_id, "parentSpanId": root_id,
                    "name": format!("chat {model}"), "kind": 3,
                    "startTimeUnixNano": clock.to_string(), "endTimeUnixNano": (clock + dur).to_string(),
                    "attributes": [
                        kv(attr::GEN_AI_OPERATION_NAME, json!("chat")),
                        kv(attr::GEN_AI_REQUEST_MODEL, json!(model)),
                        kv(attr::GEN_AI_RESPONSE_MODEL, json!(format!("{model}-2025-{:02}", r.range(1, 12)))),
                        kv(attr::GEN_AI_USAGE_INPUT_TOKENS, json!(input_tokens)),
                        kv(attr::GEN_AI_USAGE_OUTPUT_TOKENS, json!(r.range(10, 800))),
                        kv(attr::GEN_AI_INPUT_MESSAGES, json!(Value::Array(input).to_string())),
                        kv(attr::GEN_AI_OUTPUT_MESSAGES, json!(Value::Array(output).to_string())),
                    ],
                    "status": {}
                }));
                clock += dur + r.range(1_000_000, 20_000_000);
                if !last {
                    let (tool, args, result, call_id) = tools.last().cloned().unwrap_or_default();
                    let tool_id = sid();
                    let tdur = r.range(5_000_000, 900_000_000);
                    spans.push(json!({
                        "traceId": tid, "spanId": tool_id, "parentSpanId": root_id,
                        "name": format!("execute_tool {tool}"), "kind": 1,
                        "startTimeUnixNano": clock.to_string(), "endTimeUnixNano": (clock + tdur).to_string(),
                        "attributes": [
                            kv(attr::GEN_AI_OPERATION_NAME, json!("execute_tool")),
                            kv(attr::GEN_AI_TOOL_NAME, json!(tool)),
                            kv(attr::GEN_AI_TOOL_CALL_ID, json!(call_id)),
                            kv(attr::GEN_AI_TOOL_CALL_ARGUMENTS, json!(args.to_string())),
                            kv(attr::GEN_AI_TOOL_CALL_RESULT, json!(result.to_string())),
                        ],
                        "status": {}
                    }));
                    spans.push(json!({
                        "traceId": tid, "spanId": sid(), "parentSpanId": tool_id,
                        "name": "GET", "kind": 3,
                        "startTimeUnixNano": (clock + 1_000_000).to_string(), "endTimeUnixNano": (clock + tdur - 1_000_000).to_string(),
                        "attributes": [
                            kv("http.request.method", json!("GET")),
                            kv("url.full", json!(format!("https://api.example.com/{}/{}", word(&mut r), r.next() % 100_000))),
                            kv("http.response.status_code", json!(200)),
                        ],
                        "status": {}
                    }));
                    clock += tdur + r.range(1_000_000, 20_000_000);
                }
            }
            history.push(msg("assistant", text_part(&answer)));
            spans.insert(0, json!({
                "traceId": tid, "spanId": root_id, "name": format!("invoke_agent {agent}"), "kind": 1,
                "startTimeUnixNano": root_start.to_string(), "endTimeUnixNano": (clock + 1_000_000).to_string(),
                "attributes": [
                    kv(attr::GEN_AI_OPERATION_NAME, json!("invoke_agent")),
                    kv(attr::GEN_AI_AGENT_NAME, json!(agent)),
                    kv(attr::GEN_AI_PROVIDER_NAME, json!("openai")),
                    kv(attr::GEN_AI_INPUT_MESSAGES, json!(json!([msg("user", text_part(&user))]).to_string())),
                    kv(attr::GEN_AI_OUTPUT_MESSAGES, json!(json!([msg("assistant", text_part(&answer))]).to_string())),
                ],
                "status": {}
            }));
            let doc = json!({"resourceSpans": [{
                "resource": {"attributes": [
                    kv("service.name", json!(agent)),
                    kv("service.version", json!(format!("1.{}.{}", c % 7, c % 13))),
                    kv("agentevals.session_name", json!(session)),
                ]},
                "scopeSpans": [{"scope": {"name": "agent.instrumentation", "version": "0.9"}, "spans": spans}]
            }]});
            out.text.push_str(&doc.to_string());
            out.text.push('\n');
            out.traces += 1;
            t0 = clock + r.range(1_000_000_000, 60_000_000_000);
            summaries.push(TurnSummary {
                user,
                answer,
                tools: tools.into_iter().map(|(n, a, _, _)| (n, a)).collect(),
            });
        }
        out.largest_group_bytes = out.largest_group_bytes.max(out.text.len() - start_len);
        if out.first.len() < SUMMARIES {
            out.first.push(summaries);
        }
        out.groups += 1;
    }
    out
}

/// An eval set whose cases are the first conversations, turn by turn (each group that matches
/// one passes).
pub(crate) fn eval_set(g: &Generated) -> Value {
    let cases: Vec<Value> = g
        .first
        .iter()
        .enumerate()
        .map(|(c, turns)| {
            let conversation: Vec<Value> = turns
                .iter()
                .enumerate()
                .map(|(i, t)| {
                    let uses: Vec<Value> = t
                        .tools
                        .iter()
                        .map(|(n, a)| json!({"name": n, "args": a}))
                        .collect();
                    json!({
                        "invocation_id": format!("c{c}-t{i}"),
                        "user_content": {"role": "user", "parts": [{"text": t.user}]},
                        "final_response": {"role": "model", "parts": [{"text": t.answer}]},
                        "intermediate_data": {"tool_uses": uses},
                    })
                })
                .collect();
            json!({"eval_id": format!("conversation-{c}"), "conversation": conversation})
        })
        .collect();
    json!({"eval_set_id": "realistic", "eval_cases": cases})
}
