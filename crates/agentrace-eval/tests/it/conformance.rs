//! The conformance corpus, scores: on every case, the reference's three CLI runs (exact,
//! in_order, any_order) give the `scores` and `exit_codes` of `expected.json` under the corpus
//! README's comparison rules (scores within 1e-6).

use agentrace_eval::evaluate::{RESPONSE_MATCH, TOOL_TRAJECTORY};
use agentrace_eval::metrics::trajectory::MatchType;
use agentrace_eval::output::{exit_code, scores};
use serde_json::Value;

use crate::testkit::{cases, read_json, run_case};

/// Compares one expected score entry with ours: only keys present in `expected`; numbers within
/// 1e-6; `error` by presence.
fn compare_entry(path: &str, expected: &Value, actual: &Value, diffs: &mut Vec<String>) {
    let Value::Object(e) = expected else {
        diffs.push(format!("{path}: not an object"));
        return;
    };
    for (k, ev) in e {
        let p = format!("{path}.{k}");
        let Some(av) = actual.get(k) else {
            diffs.push(format!("{p}: missing"));
            continue;
        };
        if k == "error" {
            if ev.is_null() != av.is_null() {
                diffs.push(format!("{p}: {av} != expected {ev} (by presence)"));
            }
            continue;
        }
        close(&p, ev, av, diffs);
    }
}

fn close(path: &str, e: &Value, a: &Value, diffs: &mut Vec<String>) {
    match (e, a) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            if (x - y).abs() > 1e-6 {
                diffs.push(format!("{path}: {y} != expected {x}"));
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            if x.len() == y.len() {
                for (i, (p, q)) in x.iter().zip(y).enumerate() {
                    close(&format!("{path}[{i}]"), p, q, diffs);
                }
            } else {
                diffs.push(format!("{path}: {a} != expected {e}"));
            }
        }
        _ => {
            if e != a {
                diffs.push(format!("{path}: {a} != expected {e}"));
            }
        }
    }
}

#[test]
fn every_case_scores_as_agentevals() {
    let dirs = cases();
    assert_eq!(dirs.len(), 18, "the corpus has 18 cases");
    let mut failures = Vec::new();
    let mut compared = 0;
    for dir in &dirs {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let expected = read_json(&dir.join("expected.json"));
        let mut diffs = Vec::new();
        let mut ours: Vec<Value> = Vec::new();
        for run in expected["cli_runs"].as_array().unwrap() {
            let mt: MatchType = run["match_type"].as_str().unwrap().parse().unwrap();
            let argv: Vec<&str> = run["argv"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap())
                .collect();
            // The metrics of this run, from its argv.
            let names: Vec<&str> = argv
                .windows(2)
                .filter(|w| w[0] == "-m")
                .map(|w| w[1])
                .collect();
            assert!(
                names
                    .iter()
                    .all(|n| [TOOL_TRAJECTORY, RESPONSE_MATCH].contains(n))
            );
            let results = run_case(dir, &names, mt);
            let code = exit_code(&results);
            let want = expected["exit_codes"][mt.as_str()].as_u64().unwrap();
            if u64::from(code) != want {
                diffs.push(format!(
                    "exit_codes.{}: {code} != expected {want}",
                    mt.as_str()
                ));
            }
            for s in scores(&results) {
                let v = serde_json::to_value(&s).unwrap();
                // response_match_score has no match type: keep it once.
                if !ours.iter().any(|o| {
                    o["trace_id"] == v["trace_id"]
                        && o["metric"] == v["metric"]
                        && o["match_type"] == v["match_type"]
                }) {
                    ours.push(v);
                }
            }
        }
        let exp_scores = expected["scores"].as_array().unwrap();
        if exp_scores.len() != ours.len() {
            diffs.push(format!(
                "scores: {} entries != expected {}",
                ours.len(),
                exp_scores.len()
            ));
        }
        for (i, e) in exp_scores.iter().enumerate() {
            let found = ours.iter().find(|o| {
                o["trace_id"] == e["trace_id"]
                    && o["metric"] == e["metric"]
                    && o["match_type"] == e["match_type"]
            });
            match found {
                Some(a) => {
                    compared += 1;
                    compare_entry(&format!("scores[{i}]"), e, a, &mut diffs);
                }
                None => diffs.push(format!("scores[{i}]: no entry for {e}")),
            }
        }
        if !diffs.is_empty() {
            failures.push(format!("{name}:\n  {}", diffs.join("\n  ")));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        dirs.len(),
        failures.join("\n")
    );
    assert_eq!(compared, 88, "every score entry of the corpus was compared");
}

/// The JSON output written group by group from the typed results
/// ([`RunReport::to_json_bytes`], what `agentrace run --format json` writes) is, byte for byte,
/// the JSON document ([`RunReport::to_json`], what the server returns) printed pretty: on every
/// corpus case, with two files, warnings and a file error; and the counts agree.
#[test]
fn written_json_is_the_json_document_byte_for_byte() {
    use agentrace_eval::evaluate::TOOL_CALL_COUNT;
    use agentrace_eval::output::{FileResult, OutputFormat, RunError, RunReport};

    let mut reports = vec![RunReport::default()];
    for dir in cases() {
        let groups = run_case(
            &dir,
            &[TOOL_TRAJECTORY, RESPONSE_MATCH, TOOL_CALL_COUNT],
            MatchType::InOrder,
        );
        let file = FileResult {
            file: dir.display().to_string(),
            groups,
            warnings: vec!["line 3: \"not JSON\" <é>".to_owned()],
        };
        let without_errors = RunReport {
            files: vec![file.clone(), file],
            errors: Vec::new(),
        };
        reports.push(RunReport {
            errors: vec![RunError {
                file: "missing.json".to_owned(),
                error: "could not read missing.json".to_owned(),
            }],
            ..without_errors.clone()
        });
        reports.push(without_errors);
    }
    // Some runs fail, some pass: both exit codes are compared.
    assert!(reports.iter().any(|r| r.exit_code() == 1));
    assert!(reports.iter().any(|r| r.exit_code() == 0));
    for report in reports {
        let mut want = serde_json::to_string_pretty(&report.to_json()).unwrap();
        want.push('\n');
        let got = String::from_utf8(report.to_json_bytes()).unwrap();
        assert_eq!(got, want);
        let rendered = report.render(OutputFormat::Junit);
        assert_eq!(rendered.summary(), report.summary());
        assert_eq!(rendered.exit_code(), report.exit_code());
    }
}

/// Group bodies spilled out of order ([`Spill::put`], as worker threads finish them) are
/// written from the spill in group order, giving the output of the groups kept in memory, in
/// every format; a group 0 put again (the file read again whole) starts the spill over.
#[test]
fn spilled_groups_write_the_same_output_in_every_format() {
    use agentrace_eval::output::{FileResult, OutputFormat, RunReport, Spill};

    let groups: Vec<_> = cases()
        .iter()
        .flat_map(|dir| run_case(dir, &[TOOL_TRAJECTORY, RESPONSE_MATCH], MatchType::Exact))
        .collect();
    assert!(groups.len() > 3);
    let report = RunReport {
        files: vec![FileResult {
            file: "t.json".to_owned(),
            groups,
            warnings: Vec::new(),
        }],
        errors: Vec::new(),
    };
    for format in [OutputFormat::Json, OutputFormat::Table, OutputFormat::Junit] {
        let mut want = Vec::new();
        report.render(format).write(&mut want).unwrap();
        let mut rendered = report.render(format);
        let spill = Spill::new(tempfile::tempfile().unwrap());
        let file = &mut rendered.files[0];
        // A first attempt that hands over two groups, then the whole read, in reverse pairs.
        let mut first = file.groups[..2].to_vec();
        spill.put(1, &mut first[1]);
        spill.put(0, &mut first[0]);
        let n = file.groups.len();
        let mut order: Vec<usize> = (0..n).collect();
        for pair in order.chunks_mut(2) {
            pair.reverse();
        }
        // Group 0 must come again first for the spill to start over.
        let zero = order.iter().position(|&i| i == 0).unwrap();
        order.swap(0, zero);
        for i in order {
            spill.put(i, &mut file.groups[i]);
        }
        file.spill = Some(spill.finish().unwrap());
        let mut got = Vec::new();
        rendered.write(&mut got).unwrap();
        assert_eq!(
            String::from_utf8(got).unwrap(),
            String::from_utf8(want).unwrap(),
            "{format:?}"
        );
    }
}
