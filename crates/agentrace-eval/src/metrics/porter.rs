//! The Porter stemmer exactly as nltk's `PorterStemmer()` applies it in its default
//! `NLTK_EXTENSIONS` mode (nltk 3.10), which google rouge-score calls for every ASCII token longer
//! than three characters. It differs from the original algorithm and from Snowball "english"
//! (Porter2) on some words, so neither would reproduce the reference's ROUGE scores.
//!
//! Input is a lowercase ASCII token (`[a-z0-9]+`, what the tokenizer hands over); the stemmer
//! works on bytes. Any other input is returned unchanged.

/// Words nltk maps by a table before the rules run.
const IRREGULAR: &[(&str, &str)] = &[
    ("sky", "sky"),
    ("skies", "sky"),
    ("dying", "die"),
    ("lying", "lie"),
    ("tying", "tie"),
    ("news", "news"),
    ("innings", "inning"),
    ("inning", "inning"),
    ("outings", "outing"),
    ("outing", "outing"),
    ("cannings", "canning"),
    ("canning", "canning"),
    ("howe", "howe"),
    ("proceed", "proceed"),
    ("exceed", "exceed"),
    ("succeed", "succeed"),
];

/// Stems one lowercase ASCII word.
pub fn stem(word: &str) -> String {
    if !word
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    {
        return word.to_owned();
    }
    if let Some((_, s)) = IRREGULAR.iter().find(|(w, _)| *w == word) {
        return (*s).to_owned();
    }
    if word.len() <= 2 {
        return word.to_owned();
    }
    let mut w = word.as_bytes().to_vec();
    step1a(&mut w);
    step1b(&mut w);
    step1c(&mut w);
    step2(&mut w);
    step3(&mut w);
    step4(&mut w);
    step5a(&mut w);
    step5b(&mut w);
    // Only ASCII bytes were ever written.
    String::from_utf8(w).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

fn is_vowel(b: u8) -> bool {
    matches!(b, b'a' | b'e' | b'i' | b'o' | b'u')
}

/// Whether position `i` is a consonant given whether position `i - 1` was: `y` is a consonant
/// at the start and after a vowel.
fn cons(b: u8, i: usize, prev: bool) -> bool {
    if is_vowel(b) {
        false
    } else if b == b'y' {
        i == 0 || !prev
    } else {
        true
    }
}

/// Calls `f` with each position's consonant flag, in order (no allocation).
fn scan(w: &[u8], mut f: impl FnMut(bool)) {
    let mut prev = false;
    for (i, &b) in w.iter().enumerate() {
        prev = cons(b, i, prev);
        f(prev);
    }
}

fn is_consonant(w: &[u8], i: usize) -> bool {
    let mut last = false;
    scan(&w[..=i], |c| last = c);
    last
}

/// The number of vowel-consonant sequences (Porter's m).
fn measure(stem: &[u8]) -> usize {
    let mut m = 0;
    let mut prev_vowel = false;
    scan(stem, |c| {
        if c && prev_vowel {
            m += 1;
        }
        prev_vowel = !c;
    });
    m
}

fn contains_vowel(stem: &[u8]) -> bool {
    let mut any = false;
    scan(stem, |c| any |= !c);
    any
}

fn ends_double_consonant(w: &[u8]) -> bool {
    let n = w.len();
    n >= 2 && w[n - 1] == w[n - 2] && is_consonant(w, n - 1)
}

fn ends_cvc(w: &[u8]) -> bool {
    let n = w.len();
    (n >= 3
        && is_consonant(w, n - 3)
        && !is_consonant(w, n - 2)
        && is_consonant(w, n - 1)
        && !matches!(w[n - 1], b'w' | b'x' | b'y'))
        || (n == 2 && !is_consonant(w, 0) && is_consonant(w, 1))
}

/// A rule's condition on the stem left after removing the suffix.
#[derive(Clone, Copy)]
enum Cond {
    None,
    /// m > 0.
    Positive,
    /// m > 1.
    Gt1,
    /// m > 1 and the stem ends in `s` or `t` (step 4's `ion`).
    Ion,
    /// nltk's `logi` rule: m > 0 of the word less its last three letters.
    Logi,
    /// Step 1c: the stem is longer than one letter and ends with a consonant.
    Y,
}

fn holds(c: Cond, word: &[u8], stem: &[u8]) -> bool {
    match c {
        Cond::None => true,
        Cond::Positive => measure(stem) > 0,
        Cond::Gt1 => measure(stem) > 1,
        Cond::Ion => measure(stem) > 1 && matches!(stem.last(), Some(b's' | b't')),
        Cond::Logi => measure(&word[..word.len().saturating_sub(3)]) > 0,
        Cond::Y => stem.len() > 1 && is_consonant(stem, stem.len() - 1),
    }
}

/// nltk's `_apply_rule_list` for plain suffix rules: the first rule whose suffix ends the word
/// decides (replaced when its condition holds, else the word stays).
fn apply(w: &mut Vec<u8>, rules: &[(&str, &str, Cond)]) {
    for (suffix, replacement, cond) in rules {
        if w.ends_with(suffix.as_bytes()) {
            let cut = w.len() - suffix.len();
            if holds(*cond, w, &w[..cut]) {
                w.truncate(cut);
                w.extend_from_slice(replacement.as_bytes());
            }
            return;
        }
    }
}

fn replace_suffix(w: &mut Vec<u8>, suffix: &str, replacement: &str) {
    w.truncate(w.len() - suffix.len());
    w.extend_from_slice(replacement.as_bytes());
}

fn step1a(w: &mut Vec<u8>) {
    if w.ends_with(b"ies") && w.len() == 4 {
        replace_suffix(w, "ies", "ie");
        return;
    }
    apply(
        w,
        &[
            ("sses", "ss", Cond::None),
            ("ies", "i", Cond::None),
            ("ss", "ss", Cond::None),
            ("s", "", Cond::None),
        ],
    );
}

fn step1b(w: &mut Vec<u8>) {
    if w.ends_with(b"ied") {
        if w.len() == 4 {
            replace_suffix(w, "ied", "ie");
        } else {
            replace_suffix(w, "ied", "i");
        }
        return;
    }
    if w.ends_with(b"eed") {
        if measure(&w[..w.len() - 3]) > 0 {
            replace_suffix(w, "eed", "ee");
        }
        return;
    }
    let mut cut = None;
    for suffix in [&b"ed"[..], &b"ing"[..]] {
        if w.ends_with(suffix) && contains_vowel(&w[..w.len() - suffix.len()]) {
            cut = Some(w.len() - suffix.len());
            break;
        }
    }
    let Some(cut) = cut else { return };
    w.truncate(cut);
    // The rules on the intermediate stem, in nltk's order.
    for (suffix, replacement) in [("at", "ate"), ("bl", "ble"), ("iz", "ize")] {
        if w.ends_with(suffix.as_bytes()) {
            replace_suffix(w, suffix, replacement);
            return;
        }
    }
    if ends_double_consonant(w) {
        let last = w[w.len() - 1];
        if !matches!(last, b'l' | b's' | b'z') {
            w.truncate(w.len() - 1);
        }
        return;
    }
    if measure(w) == 1 && ends_cvc(w) {
        w.push(b'e');
    }
}

fn step1c(w: &mut Vec<u8>) {
    apply(w, &[("y", "i", Cond::Y)]);
}

fn step2(w: &mut Vec<u8>) {
    if w.ends_with(b"alli") && measure(&w[..w.len() - 4]) > 0 {
        replace_suffix(w, "alli", "al");
        step2(w);
        return;
    }
    use Cond::Positive as P;
    apply(
        w,
        &[
            ("ational", "ate", P),
            ("tional", "tion", P),
            ("enci", "ence", P),
            ("anci", "ance", P),
            ("izer", "ize", P),
            ("bli", "ble", P),
            ("alli", "al", P),
            ("entli", "ent", P),
            ("eli", "e", P),
            ("ousli", "ous", P),
            ("ization", "ize", P),
            ("ation", "ate", P),
            ("ator", "ate", P),
            ("alism", "al", P),
            ("iveness", "ive", P),
            ("fulness", "ful", P),
            ("ousness", "ous", P),
            ("aliti", "al", P),
            ("iviti", "ive", P),
            ("biliti", "ble", P),
            ("fulli", "ful", P),
            ("logi", "log", Cond::Logi),
        ],
    );
}

fn step3(w: &mut Vec<u8>) {
    use Cond::Positive as P;
    apply(
        w,
        &[
            ("icate", "ic", P),
            ("ative", "", P),
            ("alize", "al", P),
            ("iciti", "ic", P),
            ("ical", "ic", P),
            ("ful", "", P),
            ("ness", "", P),
        ],
    );
}

fn step4(w: &mut Vec<u8>) {
    use Cond::Gt1 as G;
    apply(
        w,
        &[
            ("al", "", G),
            ("ance", "", G),
            ("ence", "", G),
            ("er", "", G),
            ("ic", "", G),
            ("able", "", G),
            ("ible", "", G),
            ("ant", "", G),
            ("ement", "", G),
            ("ment", "", G),
            ("ent", "", G),
            ("ion", "", Cond::Ion),
            ("ou", "", G),
            ("ism", "", G),
            ("ate", "", G),
            ("iti", "", G),
            ("ous", "", G),
            ("ive", "", G),
            ("ize", "", G),
        ],
    );
}

fn step5a(w: &mut Vec<u8>) {
    if w.ends_with(b"e") {
        let stem = &w[..w.len() - 1];
        let m = measure(stem);
        if m > 1 || (m == 1 && !ends_cvc(stem)) {
            w.truncate(w.len() - 1);
        }
    }
}

fn step5b(w: &mut Vec<u8>) {
    if w.ends_with(b"ll") && measure(&w[..w.len() - 1]) > 1 {
        w.truncate(w.len() - 1);
    }
}

#[cfg(test)]
mod tests {
    use super::stem;

    #[test]
    fn classic_examples() {
        for (w, s) in [
            ("caresses", "caress"),
            ("ponies", "poni"),
            ("ties", "tie"),
            ("cats", "cat"),
            ("agreed", "agre"),
            ("plastered", "plaster"),
            ("motoring", "motor"),
            ("hopping", "hop"),
            ("filing", "file"),
            ("happy", "happi"),
            ("relational", "relat"),
            ("generalization", "gener"),
            ("dying", "die"),
            ("controll", "control"),
        ] {
            assert_eq!(stem(w), s, "{w}");
        }
    }
}
