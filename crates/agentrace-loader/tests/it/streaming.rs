//! Streaming extraction (`groups::for_each_group` with `report::ReportStream`): its output is
//! byte for byte the whole extraction's report, on the conformance corpus and on generated
//! multi-group files; files whose groups are not contiguous are detected (the caller then reads
//! them whole).

use std::io::Cursor;
use std::path::{Path, PathBuf};

use agentrace_loader::extract::{ExpectedCase, ExtractOptions, GroupBy};
use agentrace_loader::groups::{NotContiguous, Streamed, for_each_group, for_each_group_bytes};
use agentrace_loader::read::{Format, LoadOptions};
use agentrace_loader::report::{Report, ReportFormat, ReportStream};
use agentrace_loader::{extract_bytes, extract_path};
use serde_json::Value;

use crate::testkit::{jsonl_line, turn_spans};

const FORMATS: [ReportFormat; 2] = [ReportFormat::Json, ReportFormat::Table];

fn render(report: &Report, format: ReportFormat) -> String {
    match format {
        ReportFormat::Table => report.to_table(),
        ReportFormat::Json => serde_json::to_string_pretty(report).unwrap() + "\n",
    }
}

/// The streamed output, or why the input could not be streamed.
fn streamed(
    run: impl FnOnce(&mut dyn FnMut(agentrace_loader::extract::Group)) -> Streamed,
    format: ReportFormat,
) -> Result<String, NotContiguous> {
    let mut w = ReportStream::new(format, Cursor::new(Vec::new()), Cursor::new(Vec::new()));
    let outcome = run(&mut |g| w.push(g).unwrap());
    match outcome {
        Streamed::Complete(end) => {
            let mut out = Vec::new();
            w.finish(&end, &mut out).unwrap();
            Ok(String::from_utf8(out).unwrap())
        }
        Streamed::NotContiguous(why) => Err(why),
    }
}

fn stream_bytes(
    bytes: &[u8],
    opts: &ExtractOptions,
    format: ReportFormat,
) -> Result<String, NotContiguous> {
    streamed(
        |f| {
            let mut issues = Vec::new();
            for_each_group_bytes(bytes, LoadOptions::default(), opts, &mut issues, f).unwrap()
        },
        format,
    )
}

fn whole_bytes(bytes: &[u8], opts: &ExtractOptions, format: ReportFormat) -> String {
    let (_, report) = extract_bytes(bytes, LoadOptions::default(), opts).unwrap();
    render(&report, format)
}

fn corpus() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/conformance");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("expected.json").exists())
        .collect();
    dirs.sort();
    dirs
}

#[test]
fn corpus_streamed_equals_whole_byte_for_byte() {
    let mut complete = 0;
    let mut fallbacks = Vec::new();
    for dir in corpus() {
        let read = |name: &str| -> Value {
            serde_json::from_str(&std::fs::read_to_string(dir.join(name)).unwrap()).unwrap()
        };
        let options = read("case.json")
            .get("options")
            .cloned()
            .unwrap_or(Value::Null);
        let format: Option<Format> = options
            .get("trace_format")
            .and_then(Value::as_str)
            .map(|s| s.parse().unwrap());
        let load = LoadOptions { format };
        let trace = ["trace.json", "trace.jsonl"]
            .iter()
            .map(|n| dir.join(n))
            .find(|p| p.exists())
            .unwrap();
        let cases = ExpectedCase::from_eval_set_json(&read("eval_set.json"));
        for group_by in [GroupBy::Auto, GroupBy::Trace, GroupBy::Conversation] {
            for cases in [Some(cases.clone()), None] {
                let opts = ExtractOptions { group_by, cases };
                let (_, report) = extract_path(&trace, load, &opts).unwrap();
                for format in FORMATS {
                    let out = streamed(
                        |f| {
                            let mut issues = Vec::new();
                            for_each_group(&trace, load, &opts, &mut issues, f).unwrap()
                        },
                        format,
                    );
                    match out {
                        Ok(text) => {
                            assert_eq!(
                                text,
                                render(&report, format),
                                "{} {group_by:?} {format:?}",
                                dir.display()
                            );
                            complete += 1;
                        }
                        Err(why) => fallbacks.push(format!("{}: {why}", dir.display())),
                    }
                }
            }
        }
    }
    // Most of the corpus streams; the rest is read whole by the callers.
    assert!(
        complete > fallbacks.len() * 2,
        "{complete} streamed; not streamed: {fallbacks:#?}"
    );
}

/// `convs` conversations of `turns` turns each, one line per turn, in start order.
fn conversations(convs: usize, turns: usize, session: bool) -> (String, Vec<(usize, String)>) {
    let mut lines = Vec::new();
    let mut trace = 0u32;
    for c in 0..convs {
        for t in 0..turns {
            trace += 1;
            let start = 1_000_000 * u64::from(trace);
            let name = format!("session-{c}");
            let line = jsonl_line(
                &turn_spans(c, t, trace, start),
                session.then_some(name.as_str()),
            );
            lines.push((c, line));
        }
    }
    (lines.iter().map(|(_, l)| l.as_str()).collect(), lines)
}

#[test]
fn contiguous_groups_stream_in_every_grouping() {
    for session in [false, true] {
        let (text, _) = conversations(5, 3, session);
        for group_by in [GroupBy::Auto, GroupBy::Trace, GroupBy::Conversation] {
            let opts = ExtractOptions {
                group_by,
                cases: None,
            };
            for format in FORMATS {
                let out = stream_bytes(text.as_bytes(), &opts, format)
                    .unwrap_or_else(|why| panic!("{group_by:?} {session}: {why}"));
                assert_eq!(out, whole_bytes(text.as_bytes(), &opts, format));
            }
        }
    }
}

#[test]
fn a_single_group_selects_the_single_case_as_whole_extraction_does() {
    let (text, _) = conversations(1, 2, true);
    let cases = Some(vec![ExpectedCase {
        eval_id: "only".into(),
        first_user_text: Some("nothing alike".into()),
        invocations: 2,
    }]);
    let opts = ExtractOptions {
        group_by: GroupBy::Auto,
        cases,
    };
    let out = stream_bytes(text.as_bytes(), &opts, ReportFormat::Json).unwrap();
    assert_eq!(out, whole_bytes(text.as_bytes(), &opts, ReportFormat::Json));
    assert!(out.contains("single_case"), "{out}");
    // Two groups: no single-case pairing, streamed or whole.
    let (text, _) = conversations(2, 2, true);
    let out = stream_bytes(text.as_bytes(), &opts, ReportFormat::Json).unwrap();
    assert_eq!(out, whole_bytes(text.as_bytes(), &opts, ReportFormat::Json));
    assert!(!out.contains("single_case"), "{out}");
}

#[test]
fn interleaved_conversations_are_detected() {
    let (_, lines) = conversations(2, 2, true);
    // conv 0 turn 0, conv 1 turn 0, conv 0 turn 1, conv 1 turn 1.
    let text: String = [0, 2, 1, 3].iter().map(|&i| lines[i].1.as_str()).collect();
    let opts = ExtractOptions::default();
    assert_eq!(
        stream_bytes(text.as_bytes(), &opts, ReportFormat::Json),
        Err(NotContiguous::GroupSplit("session-0".into()))
    );
    // By trace the same file is contiguous, and its groups come in start order.
    let by_trace = ExtractOptions {
        group_by: GroupBy::Trace,
        cases: None,
    };
    let (text, _) = conversations(2, 2, false);
    assert_eq!(
        stream_bytes(text.as_bytes(), &by_trace, ReportFormat::Json).unwrap(),
        whole_bytes(text.as_bytes(), &by_trace, ReportFormat::Json)
    );
}

#[test]
fn a_trace_split_across_the_file_is_detected() {
    let a = turn_spans(0, 0, 1, 1_000);
    let b = turn_spans(1, 0, 2, 2_000);
    let text = jsonl_line(&a[..1], None) + &jsonl_line(&b, None) + &jsonl_line(&a[1..], None);
    let opts = ExtractOptions::default();
    let tid = agentrace_loader::model::TraceId({
        let mut id = [0u8; 16];
        id[15] = 1;
        id
    });
    assert_eq!(
        stream_bytes(text.as_bytes(), &opts, ReportFormat::Json),
        Err(NotContiguous::TraceSplit(tid))
    );
    // The same spans with the trace's lines next to each other stream.
    let text = jsonl_line(&a[..1], None) + &jsonl_line(&a[1..], None) + &jsonl_line(&b, None);
    assert_eq!(
        stream_bytes(text.as_bytes(), &opts, ReportFormat::Json).unwrap(),
        whole_bytes(text.as_bytes(), &opts, ReportFormat::Json)
    );
}

#[test]
fn groups_out_of_start_order_are_detected() {
    let (_, lines) = conversations(3, 1, false);
    let text: String = [0, 2, 1].iter().map(|&i| lines[i].1.as_str()).collect();
    let out = stream_bytes(
        text.as_bytes(),
        &ExtractOptions::default(),
        ReportFormat::Json,
    );
    assert!(matches!(out, Err(NotContiguous::OutOfOrder(_))), "{out:?}");
}

#[test]
fn a_late_session_name_under_auto_is_detected() {
    let mut text = jsonl_line(&turn_spans(0, 0, 1, 1_000), None);
    text += &jsonl_line(&turn_spans(1, 0, 2, 2_000), Some("late"));
    assert_eq!(
        stream_bytes(
            text.as_bytes(),
            &ExtractOptions::default(),
            ReportFormat::Json
        ),
        Err(NotContiguous::LateSessionName)
    );
}

mod prop {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: crate::testkit::fuzz_cases(48),
            ..ProptestConfig::default()
        })]

        /// Any arrangement of a multi-group file's lines (shuffled, traces split over lines):
        /// when it streams, it streams to exactly the whole output; when its lines are in
        /// order and whole, it always streams.
        #[test]
        fn streamed_equals_whole_whenever_it_streams(
            convs in 1usize..5,
            turns in 1usize..4,
            session in any::<bool>(),
            group_by in prop_oneof![Just(GroupBy::Auto), Just(GroupBy::Trace), Just(GroupBy::Conversation)],
            shuffle in proptest::collection::vec(any::<u32>(), 0..6),
            split in any::<bool>(),
        ) {
            let (_, lines) = conversations(convs, turns, session);
            let opts = ExtractOptions { group_by, cases: None };
            let ordered: String = lines.iter().map(|(_, l)| l.as_str()).collect();
            for format in FORMATS {
                let out = stream_bytes(ordered.as_bytes(), &opts, format);
                let whole = whole_bytes(ordered.as_bytes(), &opts, format);
                prop_assert_eq!(out.ok(), Some(whole));
            }
            // Rearranged: swaps, and each trace's first span on a line of its own.
            let mut parts: Vec<String> = Vec::new();
            let mut trace = 0u32;
            for c in 0..convs {
                for t in 0..turns {
                    trace += 1;
                    let spans = turn_spans(c, t, trace, 1_000_000 * u64::from(trace));
                    let name = format!("session-{c}");
                    let s = session.then_some(name.as_str());
                    if split {
                        parts.push(jsonl_line(&spans[..1], s));
                        parts.push(jsonl_line(&spans[1..], s));
                    } else {
                        parts.push(jsonl_line(&spans, s));
                    }
                }
            }
            let n = parts.len();
            for (k, r) in shuffle.iter().enumerate() {
                parts.swap(k % n, *r as usize % n);
            }
            let text: String = parts.concat();
            for format in FORMATS {
                if let Ok(out) = stream_bytes(text.as_bytes(), &opts, format) {
                    prop_assert_eq!(out, whole_bytes(text.as_bytes(), &opts, format));
                }
            }
        }
    }
}
