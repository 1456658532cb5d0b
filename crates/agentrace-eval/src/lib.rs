//! Eval sets, evaluators and reports for agent traces.
//!
//! So far: the ADK `EvalSet` file model ([`eval_set::EvalSet`]) that golden case selection in
//! `agentrace-loader` and the evaluators read. Evaluation arrives with the evaluation issue.
//!
//! ```
//! use agentrace_eval::eval_set::EvalSet;
//!
//! let set: EvalSet = serde_json::from_str(r#"{"eval_set_id": "s", "eval_cases": [
//!   {"eval_id": "c", "conversation": [{"invocation_id": "i",
//!     "user_content": {"role": "user", "parts": [{"text": "hi"}]}}]}]}"#)?;
//! assert_eq!(set.expected_cases()[0].first_user_text.as_deref(), Some("hi"));
//! # Ok::<(), serde_json::Error>(())
//! ```
//!
//! Features: none.

pub mod eval_set;
