//! Custom evaluators: protocol 1.1 in and out; a crash, a hang, garbage or a bad score is an
//! error of that metric alone and the other results stay.

use std::time::{Duration, Instant};

use agentrace_eval::custom::CustomEvaluator;
use agentrace_eval::evaluate::{MetricKind, MetricSpec, evaluate_group};
use agentrace_eval::result::Status;
use serde_json::{Value, json};

use crate::testkit::{corpus_group, script};

fn custom(name: &str, path: std::path::PathBuf, timeout: Duration) -> MetricSpec {
    MetricSpec {
        name: name.to_owned(),
        kind: MetricKind::Custom(CustomEvaluator {
            path,
            timeout,
            config: json!({"min": 2}),
        }),
        threshold: 0.5,
    }
}

#[test]
fn protocol_round_trip_and_failures_stay_apart() {
    let tmp = tempfile::tempdir().unwrap();
    let seen = tmp.path().join("input.json");
    // Saves its input and answers with a score and no status (derived from the threshold).
    let good = script(
        tmp.path(),
        "good.sh",
        &format!(
            "cat > {}\necho '{{\"score\": 0.25, \"per_invocation_scores\": [0.25], \"details\": {{\"why\": \"short\"}}}}'",
            seen.display()
        ),
    );
    let crash = script(
        tmp.path(),
        "crash.sh",
        "cat >/dev/null\necho 'boom: no model' >&2\nexit 3",
    );
    let hang = script(tmp.path(), "hang.sh", "exec sleep 30");
    let garbage = script(
        tmp.path(),
        "garbage.sh",
        "cat >/dev/null\necho 'hello, not json'",
    );
    let out_of_range = script(
        tmp.path(),
        "range.sh",
        "cat >/dev/null\necho '{\"score\": 7}'",
    );
    let silent = script(tmp.path(), "silent.sh", "cat >/dev/null");
    let status = script(
        tmp.path(),
        "status.sh",
        "cat >/dev/null\necho '{\"score\": 0.1, \"status\": \"PASSED\", \"per_invocation_scores\": [null]}'",
    );
    let (group, set) = corpus_group("semconv_travel_tools");
    let t = Duration::from_secs(20);
    let specs = vec![
        custom("good", good, t),
        custom("crash", crash, t),
        custom("hang", hang, Duration::from_millis(300)),
        custom("garbage", garbage, t),
        custom("range", out_of_range, t),
        custom("silent", silent, t),
        custom("status", status, t),
        MetricSpec::builtin("tool_trajectory_avg_score", None, None, &Value::Null).unwrap(),
    ];
    let started = Instant::now();
    let r = evaluate_group(&group, Some(&set), &specs);
    // The hang was killed at its timeout, not waited for.
    assert!(started.elapsed() < Duration::from_secs(15));
    let by = |n: &str| r.metrics.iter().find(|m| m.metric == n).unwrap();

    let g = by("good");
    assert_eq!(
        (g.score, g.status, g.error.as_deref()),
        (Some(0.25), Status::Failed, None)
    );
    assert_eq!(g.details, json!({"why": "short"}));
    let input: Value = serde_json::from_str(&std::fs::read_to_string(&seen).unwrap()).unwrap();
    assert_eq!(input["protocol_version"], "1.1");
    assert_eq!(input["metric_name"], "good");
    assert_eq!(input["threshold"], 0.5);
    assert_eq!(input["config"], json!({"min": 2}));
    let inv = &input["invocations"][0];
    assert_eq!(inv["invocation_id"], group.invocations[0].invocation_id);
    assert_eq!(inv["span_id"], group.invocations[0].invocation_id);
    assert!(inv["user_content"].as_str().unwrap().len() > 5);
    assert!(inv["intermediate_steps"]["tool_calls"][0]["args"].is_object());
    let resp = &inv["intermediate_steps"]["tool_responses"][0];
    assert_eq!(
        serde_json::from_str::<Value>(resp["output"].as_str().unwrap()).unwrap(),
        resp["response"]
    );
    assert!(input["expected_invocations"][0]["final_response"].is_string());

    let c = by("crash");
    assert_eq!(c.status, Status::Failed);
    assert!(
        c.error
            .as_deref()
            .unwrap()
            .contains("exited with 3: boom: no model"),
        "{c:?}"
    );
    let h = by("hang");
    assert!(h.error.as_deref().unwrap().contains("timed out"), "{h:?}");
    assert!(by("garbage").error.as_deref().unwrap().contains("not JSON"));
    assert!(
        by("range")
            .error
            .as_deref()
            .unwrap()
            .contains("outside 0..1")
    );
    assert!(
        by("silent")
            .error
            .as_deref()
            .unwrap()
            .contains("nothing on stdout")
    );
    let s = by("status");
    assert_eq!(
        (s.status, s.per_invocation_scores.clone()),
        (Status::Passed, vec![None])
    );
    // The builtin next to them is unaffected.
    let traj = by("tool_trajectory_avg_score");
    assert_eq!((traj.score, traj.status), (Some(1.0), Status::Passed));
}

#[test]
fn a_missing_program_is_an_error_not_a_crash() {
    let (group, set) = corpus_group("session_tiny_sdk");
    let spec = custom(
        "none",
        "/nonexistent/evaluator".into(),
        Duration::from_secs(5),
    );
    let r = evaluate_group(&group, Some(&set), &[spec]);
    assert!(
        r.metrics[0]
            .error
            .as_deref()
            .unwrap()
            .contains("could not start")
    );
    assert!(r.fails());
}
