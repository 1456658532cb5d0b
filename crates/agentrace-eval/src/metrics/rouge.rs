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
fn default_tokenize(word: &str, f: &mut dyn FnMut(&str)) {
    let lower = word.to_ascii_lowercase();
    ascii_tokens(&lower, f);
}

/// The tokens of lowercase ASCII text: runs of `[a-z0-9]`, stemmed when longer than three
/// characters, kept when the stem is still `[a-z0-9]` and not empty.
fn ascii_tokens(lower: &str, f: &mut dyn FnMut(&str)) {
    let mut keep = |t: &str| {
        if !t.is_empty()
            && t.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        {
            f(t);
        }
    };
    for tok in lower.split(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit())) {
        if tok.is_empty() {
            continue;
        }
        if tok.len() > 3 {
            with_stem(tok, &mut keep);
        } else {
            keep(tok);
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

/// Calls `f` with [`porter::stem`] of `word`, remembered per thread: a run scores the same
/// golden answers and similar agent answers again and again, so most words recur.
fn with_stem(word: &str, f: &mut dyn FnMut(&str)) {
    STEMS.with(|cache| {
        if let Ok(c) = cache.try_borrow()
            && let Some(stem) = c.get(word)
        {
            f(stem);
            return;
        }
        let stem = porter::stem(word);
        if let Ok(mut c) = cache.try_borrow_mut()
            && c.len() < STEM_CACHE_WORDS
        {
            c.insert(word.into(), stem.as_str().into());
        }
        f(&stem);
    });
}

/// ADK's `_UnicodeAwareTokenizer` with stemming: NFKC, lowercase; CJK characters are tokens of
/// their own; in Thai, Lao, Khmer and Myanmar a combining mark stays with the character before it
/// and every other character starts a token; other letters, numbers and marks are kept, anything
/// else separates. ASCII words go through rouge-score's tokenizer, other words stay whole.
pub fn tokenize(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for_each_token(text, &mut |t| out.push(t.to_owned()));
    out
}

/// [`tokenize`], handing each token to `f` instead of collecting them.
pub fn for_each_token(text: &str, f: &mut dyn FnMut(&str)) {
    if text.is_ascii() {
        // NFKC leaves ASCII as it is, and no ASCII character is CJK, non-spaced or a mark: every
        // character outside [a-z0-9] separates, as in the words of the general path.
        ascii_tokens(&text.to_ascii_lowercase(), f);
        return;
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
    for word in buf.split(' ').filter(|w| !w.is_empty()) {
        if word.is_ascii() {
            default_tokenize(word, f);
        } else {
            f(word);
        }
    }
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
    /// Each distinct token and its place in `counts`.
    index: HashMap<String, usize>,
    /// How often each distinct token occurs.
    counts: Vec<usize>,
    tokens: usize,
}

impl Reference {
    /// Tokenizes `reference`.
    pub fn new(reference: &str) -> Self {
        let mut r = Self::default();
        for_each_token(reference, &mut |t| {
            r.tokens += 1;
            match r.index.get(t) {
                Some(&i) => r.counts[i] += 1,
                None => {
                    r.index.insert(t.to_owned(), r.counts.len());
                    r.counts.push(1);
                }
            }
        });
        r
    }
}

/// ROUGE-1 of `candidate` (the agent's response) against `reference` (the expected one).
pub fn rouge1(candidate: &str, reference: &str) -> Rouge1 {
    rouge1_against(candidate, &Reference::new(reference))
}

/// [`rouge1`] against a reference tokenized beforehand.
pub fn rouge1_against(candidate: &str, reference: &Reference) -> Rouge1 {
    // The candidate's tokens are only counted where the reference has them: no token is kept.
    let mut seen = vec![0usize; reference.counts.len()];
    let mut cn = 0usize;
    for_each_token(candidate, &mut |t| {
        cn += 1;
        if let Some(&i) = reference.index.get(t) {
            seen[i] += 1;
        }
    });
    let rn = reference.tokens;
    let overlap: usize = seen
        .iter()
        .zip(&reference.counts)
        .map(|(c, r)| (*c).min(*r))
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
