//! The evaluation example scores the bundled trace as agentevals 0.11.0 does (the same trace and
//! eval set are the conformance case `tool_order_differs`), and a bad file is reported, not lost.

#![allow(clippy::unwrap_used, missing_docs)]

use agentrace_eval::result::Status;

#[test]
fn the_bundled_trace_fails_in_order_passes_in_any_order_and_matches_its_answer() {
    let report = example_evaluate::evaluate(
        &example_evaluate::bundled_trace(),
        &example_evaluate::bundled_eval_set(),
    )
    .unwrap();
    assert!(report.errors.is_empty());
    let group = &report.files[0].groups[0];
    assert_eq!(group.trace_id, "6cf622bc5362a2e5e237c943e7aec56f");
    let by_name = |name: &str| group.metrics.iter().find(|m| m.metric == name).unwrap();
    // The reference's scores for this case: in order 0.0 FAILED, any order 1.0 PASSED,
    // response match 0.6667 PASSED.
    let in_order = by_name("tool_trajectory_avg_score");
    assert_eq!(
        (in_order.score, in_order.status),
        (Some(0.0), Status::Failed)
    );
    let any_order = by_name("tool_trajectory_any_order");
    assert_eq!(
        (any_order.score, any_order.status),
        (Some(1.0), Status::Passed)
    );
    let rouge = by_name("response_match_score");
    assert!((rouge.score.unwrap() - 0.666_666_666_666_666_7).abs() < 1e-6);
    assert_eq!(rouge.status, Status::Passed);
    assert_eq!(report.exit_code(), 1);
    let table = report.to_table();
    assert!(table.contains("tool_trajectory_any_order"), "{table}");
}

#[test]
fn an_unreadable_trace_is_an_error_of_the_report() {
    let missing = example_evaluate::bundled_trace().with_file_name("no-such-trace.json");
    let report =
        example_evaluate::evaluate(&missing, &example_evaluate::bundled_eval_set()).unwrap();
    assert!(report.files.is_empty());
    assert_eq!(report.errors.len(), 1);
    assert_eq!(report.exit_code(), 2);
}
