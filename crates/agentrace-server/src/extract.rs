//! Invocation extraction for the server, on top of the loader's extractor.

use agentrace_loader::{
    extract::{ExtractOptions, GroupBy, extract},
    model::Telemetry,
    read::Format,
    report::Report,
    trace::TraceSet,
};
use serde_json::Value;

/// A session's invocations in the shape of `expected.json`'s `invocations`: every turn of the
/// session, in conversation order, numbered from 0 (`group` is always 0: a session is one group).
pub fn invocations(telemetry: &Telemetry) -> Vec<Value> {
    let set = TraceSet::build(telemetry.clone());
    let options = ExtractOptions {
        group_by: GroupBy::Conversation,
        cases: None,
    };
    let extraction = extract(&set, &options);
    let report = Report::new(Format::OtlpJson, &set, &extraction);
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
