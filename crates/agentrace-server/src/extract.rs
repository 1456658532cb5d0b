//! Invocation extraction for the server, on top of the loader's incremental extractor.

use agentrace_loader::{
    extract::{ExtractOptions, GroupBy},
    incremental::IncrementalExtractor,
};
use serde::Serialize;
use serde_json::{Value, value::RawValue};

/// How a session is extracted: as one conversation.
fn options() -> ExtractOptions {
    ExtractOptions {
        group_by: GroupBy::Conversation,
        cases: None,
    }
}

/// One invocation as JSON text, in the shape of `expected.json`'s `invocations`, serialized once
/// when extracted: the server compares, stores and publishes it as it is. (Building a
/// `serde_json::Value` tree of every invocation cost about a tenth of the server's instructions
/// per ingested span.)
#[derive(Clone, Debug, Serialize)]
#[serde(transparent)]
pub struct Invocation(Box<RawValue>);

impl Invocation {
    /// Serializes an invocation; one that does not serialize (a map with non-string keys, which
    /// a report never holds) becomes `null`, keeping the invocations' indexes.
    pub fn new(invocation: &impl Serialize) -> Self {
        Self(
            serde_json::value::to_raw_value(invocation)
                .unwrap_or_else(|_| RawValue::NULL.to_owned()),
        )
    }

    /// An invocation from its stored JSON text; text that is not JSON becomes `null`.
    pub(crate) fn from_json(json: String) -> Self {
        Self(RawValue::from_string(json).unwrap_or_else(|_| RawValue::NULL.to_owned()))
    }

    /// The JSON text.
    pub fn json(&self) -> &str {
        self.0.get()
    }

    /// The invocation as a JSON value.
    pub fn to_value(&self) -> Value {
        serde_json::from_str(self.0.get()).unwrap_or(Value::Null)
    }
}

impl PartialEq for Invocation {
    fn eq(&self, other: &Self) -> bool {
        self.json() == other.json()
    }
}

/// Brings `invocations` (the last result of this function for the session, or empty) up to date
/// with what the extractor was fed since, and returns the ones that changed, by index: a
/// session's invocations in the shape of `expected.json`'s `invocations`, every turn of the
/// session in conversation order, numbered from 0 (`group` is always 0: a session is one group).
/// Only the invocations the new traces can touch are extracted and serialized again
/// ([`IncrementalExtractor::invocations_since`]): a session that grows by one trace costs that
/// trace, not the whole session.
pub fn update(
    extractor: &mut IncrementalExtractor,
    invocations: &mut Vec<Invocation>,
) -> Vec<(usize, Invocation)> {
    merge(extractor.invocations_since(&options()), invocations)
}

/// [`update`] for the last time, spending the extractor (a session that completes): its traces'
/// drafts move into the turns instead of being copied
/// ([`IncrementalExtractor::into_invocations_since`]).
pub fn update_final(
    extractor: IncrementalExtractor,
    invocations: &mut Vec<Invocation>,
) -> Vec<(usize, Invocation)> {
    merge(extractor.into_invocations_since(&options()), invocations)
}

/// Applies an extractor's update to the last invocations; returns the ones that changed.
fn merge(
    update: agentrace_loader::incremental::InvocationUpdate,
    invocations: &mut Vec<Invocation>,
) -> Vec<(usize, Invocation)> {
    let start = update.unchanged.min(invocations.len());
    let before = invocations.split_off(start);
    let mut changed = Vec::new();
    for (offset, mut invocation) in update.invocations.into_iter().enumerate() {
        let index = start + offset;
        invocation.group = 0;
        invocation.index = index;
        let fresh = Invocation::new(&invocation);
        if before.get(offset) != Some(&fresh) {
            changed.push((index, fresh.clone()));
        }
        invocations.push(fresh);
    }
    changed
}
