//! The evaluation crate's integration tests (one binary).

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod config;
mod conformance;
mod custom;
mod eval_set;
mod judge;
mod metrics;
mod testkit;
