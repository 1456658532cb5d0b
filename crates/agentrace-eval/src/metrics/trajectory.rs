//! `tool_trajectory_avg_score`: per invocation 1.0 when the actual tool calls match the
//! expected ones under the match type, else 0.0 (ADK 2.13.0 `TrajectoryEvaluator`).

use serde::{Deserialize, Serialize};

use super::py_eq;
use crate::invocation::ToolUse;

/// How actual tool calls are matched against expected ones.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchType {
    /// Same calls, same order, nothing extra.
    #[default]
    Exact,
    /// The expected calls appear in order; extra calls are allowed.
    InOrder,
    /// Every expected call finds a distinct actual call; order and extras do not matter.
    AnyOrder,
}

impl MatchType {
    /// `exact`, `in_order`, `any_order`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Exact => "exact",
            Self::InOrder => "in_order",
            Self::AnyOrder => "any_order",
        }
    }
}

impl std::str::FromStr for MatchType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "exact" => Ok(Self::Exact),
            "in_order" => Ok(Self::InOrder),
            "any_order" => Ok(Self::AnyOrder),
            other => Err(format!(
                "unknown trajectory match type `{other}` (exact, in_order, any_order)"
            )),
        }
    }
}

/// Two calls match: equal names and arguments equal as Python dicts.
pub fn calls_match(actual: &ToolUse, expected: &ToolUse) -> bool {
    actual.name == expected.name && py_eq(&actual.args, &expected.args)
}

/// Whether the actual calls match the expected ones under `mt`.
pub fn matches(mt: MatchType, actual: &[ToolUse], expected: &[ToolUse]) -> bool {
    match mt {
        MatchType::Exact => {
            actual.len() == expected.len()
                && actual.iter().zip(expected).all(|(a, e)| calls_match(a, e))
        }
        MatchType::InOrder => {
            let mut want = expected.iter().peekable();
            for a in actual {
                match want.peek() {
                    Some(e) if calls_match(a, e) => {
                        want.next();
                    }
                    Some(_) => {}
                    None => break,
                }
            }
            want.peek().is_none()
        }
        MatchType::AnyOrder => {
            let mut used = vec![false; actual.len()];
            expected.iter().all(|e| {
                let hit = actual
                    .iter()
                    .enumerate()
                    .find(|(i, a)| !used[*i] && calls_match(a, e));
                match hit {
                    Some((i, _)) => {
                        used[i] = true;
                        true
                    }
                    None => false,
                }
            })
        }
    }
}

/// The score of one invocation: 1.0 or 0.0.
pub fn score(mt: MatchType, actual: &[ToolUse], expected: &[ToolUse]) -> f64 {
    if matches(mt, actual, expected) {
        1.0
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::{MatchType, matches};
    use crate::invocation::ToolUse;

    fn calls(spec: &[(&str, Value)]) -> Vec<ToolUse> {
        spec.iter()
            .map(|(n, a)| ToolUse {
                name: (*n).to_owned(),
                args: a.clone(),
                id: None,
            })
            .collect()
    }

    #[test]
    fn empty_and_repeated() {
        let none = calls(&[]);
        let a = calls(&[("a", json!({}))]);
        let aa = calls(&[("a", json!({})), ("a", json!({}))]);
        // Both empty: every match type passes.
        for mt in [MatchType::Exact, MatchType::InOrder, MatchType::AnyOrder] {
            assert!(matches(mt, &none, &none));
            assert!(
                !matches(mt, &none, &a),
                "{mt:?}: nothing happened, a call was expected"
            );
        }
        // An empty expected list passes IN_ORDER and ANY_ORDER, not EXACT.
        assert!(!matches(MatchType::Exact, &a, &none));
        assert!(matches(MatchType::InOrder, &a, &none));
        assert!(matches(MatchType::AnyOrder, &a, &none));
        // A repeated expected call needs as many actual calls.
        assert!(!matches(MatchType::InOrder, &a, &aa));
        assert!(!matches(MatchType::AnyOrder, &a, &aa));
        assert!(matches(MatchType::AnyOrder, &aa, &a));
        assert!(matches(MatchType::InOrder, &aa, &aa));
    }

    #[test]
    fn order_and_arguments() {
        let actual = calls(&[
            ("a", json!({})),
            ("b", json!({"n": 250})),
            ("c", json!({})),
            ("d", json!({})),
        ]);
        let expected = calls(&[
            ("b", json!({"n": 250.0})),
            ("a", json!({})),
            ("d", json!({})),
        ]);
        assert!(!matches(MatchType::Exact, &actual, &expected));
        assert!(!matches(MatchType::InOrder, &actual, &expected));
        assert!(matches(MatchType::AnyOrder, &actual, &expected));
        let in_order = calls(&[("a", json!({})), ("d", json!({}))]);
        assert!(matches(MatchType::InOrder, &actual, &in_order));
        // Arguments differ: no match.
        let wrong = calls(&[("b", json!({"n": "250"}))]);
        assert!(!matches(MatchType::AnyOrder, &actual, &wrong));
        // An expected call without arguments (null) is not one with `{}` (Python: None != {}).
        assert!(!matches(
            MatchType::Exact,
            &calls(&[("a", json!({}))]),
            &calls(&[("a", Value::Null)])
        ));
    }
}
