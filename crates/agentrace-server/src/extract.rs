//! Invocation extraction for the server, on top of the loader's extractor.

use agentrace_loader::model::Telemetry;
use serde_json::Value;

/// A session's invocations in the shape of `expected.json`'s `invocations`.
pub fn invocations(telemetry: &Telemetry) -> Vec<Value> {
    // WIP: wired to the loader's extractor when it lands (this session).
    let _ = telemetry;
    Vec::new()
}
