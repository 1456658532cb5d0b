//! The loader's integration tests (one binary).

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod conformance;
mod extract;
mod incremental;
mod readers;
mod roundtrip;
mod streaming;
mod testkit;
