//! Read trace files (OTLP JSON, JSON Lines and protobuf, Jaeger JSON, Tempo exports, gzip) and
//! extract agent invocations from them.
//!
//! The read side of agentrace, shared by the server and the command line. It is synchronous.
//!
//! - [`model`]: the trace model (resource, scope, span, span event, link, log record, typed ids,
//!   `AnyValue` attributes).
//! - [`read`]: readers with format detection from content ([`read::load_path`]), an explicit
//!   override ([`read::LoadOptions`]), streaming ([`read::for_each_batch`]), conversion from
//!   `opentelemetry_proto` requests ([`read::proto::from_trace_request`]), and protobuf trace
//!   requests decoded from the wire straight into the model ([`read::wire::decode_trace_request`],
//!   the same result without the intermediate messages).
//! - [`trace`]: span trees and log joining ([`trace::TraceSet::build`]).
//! - [`extract`]: turns, tool trajectories, grouping and golden case selection, following
//!   agentevals 0.11.0; [`incremental::IncrementalExtractor`] for live use.
//! - [`groups`]: streaming extraction, a file read group by group ([`groups::for_each_group`]),
//!   memory bounded by the largest group where a file's groups are contiguous.
//! - [`report`]: the extraction part of agentevals' `expected.json`.
//! - [`write`](mod@write): the model back to canonical OTLP/JSON and `opentelemetry_proto` requests.
//!
//! ```
//! use agentrace_loader::{extract_bytes, extract::ExtractOptions, read::LoadOptions};
//! use agentrace_semconv::attr;
//!
//! let messages = r#"[{\"role\":\"user\",\"parts\":[{\"type\":\"text\",\"content\":\"hi\"}]}]"#;
//! let doc = format!(
//!     r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[
//!       {{"traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"b7ad6b7169203331",
//!        "name":"invoke_agent a","startTimeUnixNano":"1","endTimeUnixNano":"9",
//!        "attributes":[{{"key":"{op}","value":{{"stringValue":"invoke_agent"}}}},
//!                      {{"key":"{input}","value":{{"stringValue":"{messages}"}}}}]}}
//!     ]}}]}}]}}"#,
//!     op = attr::GEN_AI_OPERATION_NAME,
//!     input = attr::GEN_AI_INPUT_MESSAGES,
//! );
//! let (loaded, report) =
//!     extract_bytes(doc.as_bytes(), LoadOptions::default(), &ExtractOptions::default())?;
//! assert_eq!(loaded.skipped(), 0);
//! assert_eq!(report.invocations[0].user_text.as_deref(), Some("hi"));
//! # Ok::<(), agentrace_loader::read::LoadError>(())
//! ```
//!
//! Features: none. The crate has no async dependencies.

pub mod extract;
pub mod groups;
pub mod hash;
pub mod incremental;
mod json_scan;
mod key;
pub mod model;
pub mod read;
pub mod report;
pub mod trace;
pub mod write;

use std::path::Path;

use extract::ExtractOptions;
use read::{Format, LoadError, LoadOptions, Loaded};
use report::Report;
use trace::TraceSet;

/// Loads a file and extracts its invocations: the loaded records (with skipped ones) and the report.
pub fn extract_path(
    path: &Path,
    load: LoadOptions,
    opts: &ExtractOptions,
) -> Result<(Loaded, Report), LoadError> {
    let loaded = read::load_path(path, load)?;
    Ok(finish(loaded, opts))
}

/// Like [`extract_path`], from memory.
pub fn extract_bytes(
    bytes: &[u8],
    load: LoadOptions,
    opts: &ExtractOptions,
) -> Result<(Loaded, Report), LoadError> {
    let loaded = read::load_bytes(bytes, load)?;
    Ok(finish(loaded, opts))
}

fn finish(mut loaded: Loaded, opts: &ExtractOptions) -> (Loaded, Report) {
    let telemetry = std::mem::take(&mut loaded.telemetry);
    let set = TraceSet::build(telemetry);
    let ex = extract::extract(&set, opts);
    let report = Report::new(loaded.format.unwrap_or(Format::OtlpJson), &set, &ex);
    (loaded, report)
}
