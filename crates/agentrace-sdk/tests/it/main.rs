//! The integration tests of agentrace-sdk, one binary.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../testkit/mod.rs"]
#[macro_use]
mod testkit;

mod content;
mod convert;
mod events;
mod hooks;
mod spans;
mod streams;
