//! Eval sets, evaluators and reports for agent traces.
//!
//! Status: skeleton. Evaluation arrives with the evaluation issue.
