//! `response_match_score`: ROUGE-1 F-measure with ADK's Unicode-aware tokenizer over google
//! rouge-score's default tokenizer and nltk's Porter stemmer (ADK 2.13.0
//! `final_response_match_v1`, rouge-score 0.1.2).

use std::collections::HashMap;

use unicode_general_category::{GeneralCategory as C, get_general_category};
use unicode_normalization::UnicodeNormalization;

use super::porter;

fn is_cjk(c: char) -> bool {
    matches!(u32::from(c), 0x4E00..=0x9FFF | 0x3040..=0x309F | 0x30A0..=0x30FF | 0xAC00..=0xD7AF)
}

fn is_non_spaced(c: char) -> bool {
    matches!(u32::from(c), 0x0E00..=0x0E7F | 0x0E80..=0x0EFF | 0x1780..=0x17FF | 0x1000..=0x109F)
}

fn is_mark(c: char) -> bool {
    matches!(
        get_general_category(c),
        C::NonspacingMark | C::SpacingMark | C::EnclosingMark
    )
}

/// Python's `str.isalnum` for one character: a letter (L*) or a number (N*).
fn is_alnum(c: char) -> bool {
    matches!(
        get_general_category(c),
        C::UppercaseLetter
            | C::LowercaseLetter
            | C::TitlecaseLetter
            | C::ModifierLetter
            | C::OtherLetter
            | C::DecimalNumber
            | C::LetterNumber
            | C::OtherNumber
    )
}

/// rouge-score's default tokenizer with stemming, on one ASCII word: every run of characters
/// outside `[a-z0-9]` separates, tokens longer than three characters are stemmed.
fn default_tokenize(word: &str, out: &mut Vec<String>) {
    let lower = word.to_ascii_lowercase();
    ascii_tokens(&lower, out);
}

/// The tokens of lowercase ASCII text: runs of `[a-z0-9]`, stemmed when longer than three
/// characters, kept when the stem is still `[a-z0-9]` and not empty.
fn ascii_tokens(lower: &str, out: &mut Vec<String>) {
    for tok in lower.split(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit())) {
        if tok.is_empty() {
            continue;
        }
        let t = if tok.len() > 3 {
            stem_cached(tok)
        } else {
            tok.to_owned()
        };
        if !t.is_empty()
            && t.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        {
            out.push(t);
        }
    }
}

/// Distinct words a thread remembers the stem of; past this, words are stemmed without being
/// remembered (the cache never evicts, so its memory is bounded by this count).
const STEM_CACHE_WORDS: usize = 16_384;

thread_local! {
    static STEMS: std::cell::RefCell<HashMap<Box<str>, Box<str>>> =
        std::cell::RefCell::new(HashMap::new());
}

/// [`porter::stem`], remembered per thread: a run scores the same golden answers and similar
/// agent answers again and again, so most words recur.
fn stem_cached(word: &str) -> String {
    STEMS.with(|cache| {
        if let Some(stem) = cache.borrow().get(word) {
            return stem.to_string();
        }
        let stem = porter::stem(word);
        let mut cache = cache.borrow_mut();
        if cache.len() < STEM_CACHE_WORDS {
            cache.insert(word.into(), stem.as_str().into());
        }
        stem
    })
}

/// ADK's `_UnicodeAwareTokenizer` with stemming: NFKC, lowercase; CJK characters are tokens of
/// their own; in Thai, Lao, Khmer and Myanmar a combining mark stays with the character before it
/// and every other character starts a token; other letters, numbers and marks are kept, anything
/// else separates. ASCII words go through rouge-score's tokenizer, other words stay whole.
pub fn tokenize(text: &str) -> Vec<String> {
    if text.is_ascii() {
        // NFKC leaves ASCII as it is, and no ASCII character is CJK, non-spaced or a mark: every
        // character outside [a-z0-9] separates, as in the words of the general path.
        let mut out = Vec::new();
        ascii_tokens(&text.to_ascii_lowercase(), &mut out);
        return out;
    }
    let lower = text.nfkc().collect::<String>().to_lowercase();
    let mut buf = String::with_capacity(lower.len() + 8);
    for c in lower.chars() {
        if is_cjk(c) {
            buf.push(' ');
            buf.push(c);
            buf.push(' ');
        } else if is_non_spaced(c) {
            if !is_mark(c) {
                buf.push(' ');
            }
            buf.push(c);
        } else if is_alnum(c) || is_mark(c) {
            buf.push(c);
        } else {
            buf.push(' ');
        }
    }
    let mut out = Vec::new();
    for word in buf.split(' ').filter(|w| !w.is_empty()) {
        if word.is_ascii() {
            default_tokenize(word, &mut out);
        } else {
            out.push(word.to_owned());
        }
    }
    out
}

/// ROUGE-1 precision, recall and F-measure of `candidate` against `reference`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rouge1 {
    /// Overlap over candidate tokens.
    pub precision: f64,
    /// Overlap over reference tokens.
    pub recall: f64,
    /// Harmonic mean (0 when both are 0).
    pub fmeasure: f64,
}

/// A reference text tokenized once, to score many candidates against it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reference {
    counts: HashMap<String, usize>,
    tokens: usize,
}

/// Tokens and how often each occurs.
fn count(toks: Vec<String>) -> (HashMap<String, usize>, usize) {
    let n = toks.len();
    let mut m: HashMap<String, usize> = HashMap::with_capacity(n);
    for t in toks {
        *m.entry(t).or_default() += 1;
    }
    (m, n)
}

impl Reference {
    /// Tokenizes `reference`.
    pub fn new(reference: &str) -> Self {
        let (counts, tokens) = count(tokenize(reference));
        Self { counts, tokens }
    }
}

/// ROUGE-1 of `candidate` (the agent's response) against `reference` (the expected one).
pub fn rouge1(candidate: &str, reference: &str) -> Rouge1 {
    rouge1_against(candidate, &Reference::new(reference))
}

/// [`rouge1`] against a reference tokenized beforehand.
pub fn rouge1_against(candidate: &str, reference: &Reference) -> Rouge1 {
    let (c, cn) = count(tokenize(candidate));
    let (r, rn) = (&reference.counts, reference.tokens);
    let overlap: usize = r
        .iter()
        .map(|(t, n)| (*n).min(c.get(t).copied().unwrap_or(0)))
        .sum();
    #[allow(clippy::cast_precision_loss)]
    let (precision, recall) = (
        overlap as f64 / cn.max(1) as f64,
        overlap as f64 / rn.max(1) as f64,
    );
    let fmeasure = if precision + recall > 0.0 {
        2.0 * precision * recall / (precision + recall)
    } else {
        0.0
    };
    Rouge1 {
        precision,
        recall,
        fmeasure,
    }
}
