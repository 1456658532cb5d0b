//! The seeded vocabulary of the load generators: `cargo xtask soak` and the stream client's
//! `stream_load` example (which includes this file by path) make their varied text from it.

/// A small seeded generator (xorshift64*): the load is different in every request and turn,
/// and the same in every run.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    pub(crate) fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

#[rustfmt::skip]
pub(crate) const WORDS: &[&str] = &[
    "the", "agent", "calls", "a", "tool", "weather", "in", "Zürich", "is", "mild", "today",
    "and", "tomorrow", "will", "bring", "rain", "please", "book", "flight", "to", "東京", "on",
    "Friday", "café", "naïve", "résumé", "invoice", "total", "€42.10", "refund", "order",
    "#4411", "shipped", "🚀", "ok", "✅", "summarize", "this", "document", "for", "me", "Привет",
    "answer", "with", "three", "bullet", "points", "why", "did", "the", "build", "fail",
    "error", "timeout", "after", "30s", "retry", "database", "query", "returned", "no", "rows",
    "user", "asked", "about", "pricing", "plans", "مرحبا", "limit", "tokens", "model",
    "temperature", "0.2", "JSON", "{\"k\": [1, 2]}", "line\nbreak", "tab\there", "quote\"d",
    "back\\slash",
];

pub(crate) const TOOLS: &[&str] = &[
    "get_weather",
    "search_flights",
    "lookup_order",
    "run_sql",
    "fetch_url",
];
pub(crate) const MODELS: &[&str] = &["gpt-4o", "claude-sonnet", "gemini-flash", "llama-3-70b"];

/// `min` to `min + spread - 1` words of varied text.
pub(crate) fn sentence(rng: &mut Rng, min: u64, spread: u64) -> String {
    let words = min + rng.below(spread);
    let mut text = String::new();
    for i in 0..words {
        if i > 0 {
            text.push(' ');
        }
        text.push_str(rng.pick(WORDS));
        if rng.below(11) == 0 {
            text.push_str(&rng.next().to_string());
        }
    }
    text
}
