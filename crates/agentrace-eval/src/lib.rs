//! Eval sets, metrics and evaluation of agent traces, compatible with agentevals 0.11.0.
//!
//! - [`eval_set`]: the ADK `EvalSet` file model (golden conversations), with errors that name
//!   the file, line and field.
//! - [`invocation`]: actual invocations (from extracted turns) and expected ones (from an eval
//!   set), grouped as [`invocation::Group`].
//! - [`metrics`]: deterministic metrics, pure functions: tool trajectory (exact, in order, any
//!   order), ROUGE-1 response match with ADK's tokenizer and nltk's Porter stemmer, final
//!   response exact / contains / regex, efficiency (tool calls, model calls, tokens, duration).
//! - [`evaluate`]: [`evaluate::evaluate_group`] applies metric specs to one group and its golden
//!   case; the server and the command line both call it ([`evaluate::evaluate_group_with`] with
//!   the eval set's cases prepared once, [`evaluate::PreparedCases`], for many groups).
//! - [`result`]: results in the shape of the conformance corpus' `scores`.
//! - [`config`]: the eval config YAML (`evaluators:` list); [`config::specs`] turns it and the
//!   command line's choices into metric specs.
//! - [`judge`]: LLM-judge metrics through an OpenAI-compatible chat endpoint (blocking, with a
//!   timeout; the key only from the environment variable the operator names).
//! - [`custom`]: custom evaluator programs (the reference's stdin/stdout protocol 1.1).
//! - [`output`], [`run`]: evaluating trace files (read group by group, each group evaluated on
//!   a worker thread as it comes) and writing table, JSON and JUnit reports, either from the
//!   results ([`output::RunReport`]) or group by group as groups are evaluated
//!   ([`run::run_file_with`], [`output::render_group`], [`output::Spill`], [`output::Rendered`]),
//!   keeping of each group only what the summary and `scores` need.
//!
//! ```
//! use agentrace_eval::metrics::rouge::rouge1;
//! use agentrace_eval::metrics::trajectory::{MatchType, matches};
//!
//! assert!((rouge1("the cats are running", "a cat runs").fmeasure - 0.5714285714).abs() < 1e-9);
//! assert!(matches(MatchType::AnyOrder, &[], &[]));
//! ```
//!
//! The crate is synchronous. Features: none.

pub mod config;
pub mod custom;
pub mod eval_set;
pub mod evaluate;
pub mod invocation;
pub mod judge;
pub mod metrics;
pub mod otel;
pub mod output;
pub mod result;
pub mod run;
