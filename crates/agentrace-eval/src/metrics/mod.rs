//! Deterministic metrics: pure functions of actual and expected invocations, no I/O.
//!
//! - [`trajectory`]: `tool_trajectory_avg_score` (EXACT, IN_ORDER, ANY_ORDER), ADK's rules.
//! - [`rouge`]: `response_match_score`, ROUGE-1 F as ADK computes it.
//! - [`final_response`]: the final response equals, contains or matches a pattern.
//! - [`efficiency`]: tool calls, model calls, tokens and duration per invocation, with budgets.

pub mod efficiency;
pub mod final_response;
pub mod porter;
pub mod rouge;
pub mod trajectory;

use serde_json::Value;

/// Python's `==` on JSON values as `json.loads` gives them: numbers compare by value whatever
/// their type (`250 == 250.0`), a boolean equals the number it stands for (`True == 1`,
/// `False == 0.0`), objects compare by key set and values whatever the key order, arrays by
/// position.
pub fn py_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::String(x), Value::String(y)) => x == y,
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| py_eq(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| py_eq(v, w)))
        }
        (Value::Number(_) | Value::Bool(_), Value::Number(_) | Value::Bool(_)) => {
            match (py_number(a), py_number(b)) {
                (Some(x), Some(y)) => x == y,
                _ => false,
            }
        }
        _ => false,
    }
}

/// A JSON number or boolean as Python compares it: an exact integer, or a float.
#[derive(Clone, Copy, Debug)]
enum PyNum {
    Int(i128),
    Float(f64),
}

impl PartialEq for PyNum {
    fn eq(&self, other: &Self) -> bool {
        match (*self, *other) {
            (Self::Int(x), Self::Int(y)) => x == y,
            (Self::Float(x), Self::Float(y)) => x == y,
            // Python compares an int and a float exactly, without rounding the int.
            (Self::Int(i), Self::Float(f)) | (Self::Float(f), Self::Int(i)) => {
                f.is_finite() && f.fract() == 0.0 && float_as_int(f) == Some(i)
            }
        }
    }
}

fn float_as_int(f: f64) -> Option<i128> {
    // Every finite float with no fraction below 2^127 is an integer i128 holds exactly.
    if f.abs() < 1.7e38 {
        #[allow(clippy::cast_possible_truncation)]
        Some(f as i128)
    } else {
        None
    }
}

fn py_number(v: &Value) -> Option<PyNum> {
    match v {
        Value::Bool(b) => Some(PyNum::Int(i128::from(*b))),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Some(PyNum::Int(i128::from(i)))
            } else if let Some(u) = n.as_u64() {
                Some(PyNum::Int(i128::from(u)))
            } else {
                n.as_f64().map(PyNum::Float)
            }
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::py_eq;

    #[test]
    fn python_equality() {
        assert!(py_eq(
            &json!({"a": 250, "b": [1, 2]}),
            &json!({"b": [1.0, 2], "a": 250.0})
        ));
        assert!(py_eq(&json!(true), &json!(1)));
        assert!(py_eq(&json!(false), &json!(0.0)));
        assert!(!py_eq(&json!(true), &json!(2)));
        assert!(!py_eq(&json!("1"), &json!(1)));
        assert!(!py_eq(&json!([1, 2]), &json!([2, 1])));
        assert!(!py_eq(&json!({"a": 1}), &json!({"a": 1, "b": null})));
        assert!(!py_eq(&json!(null), &json!({})));
        assert!(py_eq(
            &json!(9_007_199_254_740_993_u64),
            &json!(9_007_199_254_740_993_u64)
        ));
        assert!(!py_eq(
            &json!(9_007_199_254_740_993_u64),
            &json!(9_007_199_254_740_992.0)
        ));
    }
}
