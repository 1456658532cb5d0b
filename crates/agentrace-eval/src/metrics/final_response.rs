//! The final response equals, contains or matches a pattern: per invocation 1.0 or 0.0.
//!
//! The text compared against is the metric's own `value` when it has one (no eval set needed),
//! else the expected invocation's final response.

use regex::Regex;

/// How the final response is compared.
#[derive(Clone, Debug)]
pub enum TextMatch {
    /// Equal after trimming both ends.
    Exact,
    /// The response contains the text.
    Contains,
    /// The response matches the regular expression (anywhere, unless anchored).
    Regex(Regex),
}

/// The score of one response: 1.0 when it matches `want` under `how`, else 0.0. A missing
/// response scores 0.0; `case_sensitive: false` lowercases both sides (regexes: use `(?i)`).
pub fn score(how: &TextMatch, response: Option<&str>, want: &str, case_sensitive: bool) -> f64 {
    let Some(resp) = response else { return 0.0 };
    let fold = |s: &str| {
        if case_sensitive {
            s.to_owned()
        } else {
            s.to_lowercase()
        }
    };
    let hit = match how {
        TextMatch::Exact => fold(resp.trim()) == fold(want.trim()),
        TextMatch::Contains => fold(resp).contains(&fold(want)),
        TextMatch::Regex(re) => re.is_match(resp),
    };
    if hit { 1.0 } else { 0.0 }
}
