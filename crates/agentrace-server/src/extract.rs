//! Invocation extraction for the server, on top of the loader's incremental extractor.

use agentrace_loader::{
    extract::{ExtractOptions, GroupBy},
    incremental::IncrementalExtractor,
    read::Format,
};
use serde_json::Value;

/// How a session is extracted: as one conversation.
fn options() -> ExtractOptions {
    ExtractOptions {
        group_by: GroupBy::Conversation,
        cases: None,
    }
}

/// A session's invocations in the shape of `expected.json`'s `invocations`: every turn of the
/// session, in conversation order, numbered from 0 (`group` is always 0: a session is one group).
/// Only the traces that changed since the last call are extracted again.
pub fn invocations(extractor: &mut IncrementalExtractor) -> Vec<Value> {
    let report = extractor.report(Format::OtlpJson, &options());
    report
        .invocations
        .into_iter()
        .enumerate()
        .map(|(index, mut invocation)| {
            invocation.group = 0;
            invocation.index = index;
            serde_json::to_value(invocation).unwrap_or(Value::Null)
        })
        .collect()
}
