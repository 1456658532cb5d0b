//! The eval config YAML: the reference's shape, legacy keys refused with what to write, errors
//! with file, line and field, and how `-m` / `--threshold` combine with it.

use std::path::Path;

use agentrace_eval::config::{ConfigError, EvalConfig, Overrides, specs};
use agentrace_eval::evaluate::MetricKind;
use agentrace_eval::metrics::trajectory::MatchType;

fn parse(text: &str) -> Result<EvalConfig, ConfigError> {
    EvalConfig::from_yaml(text, Path::new("eval.yaml"))
}

#[test]
fn the_reference_shape_reads() {
    let cfg = parse(
        "eval_set: golden.json\noutput_format: json\nevaluators:\n  - name: tool_trajectory_avg_score\n    type: builtin\n    threshold: 0.8\n    trajectory_match_type: IN_ORDER\n  - name: response_match_score\n  - name: mine\n    type: code\n    path: ev.py\n    timeout: 5\n    config: {k: 1}\n",
    )
    .unwrap();
    assert_eq!(cfg.evaluators.len(), 3);
    let s = specs(Some(&cfg), &Overrides::default()).unwrap();
    assert_eq!(s[0].threshold, 0.8);
    assert_eq!(s[0].match_type(), Some(MatchType::InOrder));
    assert_eq!(s[1].threshold, 0.5);
    assert!(matches!(&s[2].kind, MetricKind::Custom(c) if c.timeout.as_secs() == 5));

    // Without -m, --threshold and --trajectory-match apply to every builtin entry.
    let o = Overrides {
        threshold: Some(0.9),
        match_type: Some(MatchType::AnyOrder),
        ..Overrides::default()
    };
    let s = specs(Some(&cfg), &o).unwrap();
    assert_eq!(
        (s[0].threshold, s[0].match_type()),
        (0.9, Some(MatchType::AnyOrder))
    );
    // With -m, entries of the same name are replaced and new ones appended.
    let o = Overrides {
        metrics: vec!["response_match_score".into(), "tool_call_count_v1".into()],
        threshold: Some(0.3),
        ..Overrides::default()
    };
    let s = specs(Some(&cfg), &o).unwrap();
    let names: Vec<&str> = s.iter().map(|x| x.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "tool_trajectory_avg_score",
            "response_match_score",
            "mine",
            "tool_call_count_v1"
        ]
    );
    assert_eq!((s[0].threshold, s[1].threshold), (0.8, 0.3));
}

#[test]
fn legacy_keys_say_what_to_write() {
    for (key, hint) in [
        ("metrics: [tool_trajectory_avg_score]", "evaluators:"),
        ("custom_evaluators: []", "type: code"),
        ("judge_model: gpt-4o", "judge_model:"),
        ("threshold: 0.7", "threshold:"),
        ("trajectory_match_type: exact", "--trajectory-match"),
    ] {
        let err = parse(key).unwrap_err();
        assert!(matches!(err, ConfigError::Legacy { .. }), "{key}");
        let msg = err.to_string();
        assert!(
            msg.contains("no longer supported") && msg.contains(hint),
            "{msg}"
        );
    }
}

#[test]
fn errors_name_line_and_field() {
    let msg = parse("evaluators:\n  - name: a\n    treshold: 0.5\n")
        .unwrap_err()
        .to_string();
    assert!(msg.starts_with("eval.yaml:3:"), "{msg}");
    assert!(
        msg.contains("evaluators[0]") && msg.contains("treshold"),
        "{msg}"
    );
    let msg = parse("evaluators:\n  - name: a\n    threshold: high\n")
        .unwrap_err()
        .to_string();
    assert!(msg.contains("evaluators[0].threshold"), "{msg}");
    for (text, want) in [
        (
            "evaluators:\n  - name: r\n    type: remote\n",
            "downloads no code",
        ),
        (
            "evaluators:\n  - name: c\n    type: code\n",
            "needs `path: FILE`",
        ),
        ("evaluators:\n  - name: a\n  - name: a\n", "unique"),
        (
            "evaluators:\n  - name: a\n    threshold: 3\n",
            "between 0 and 1",
        ),
        (
            "evaluators:\n  - name: a\n    credential_ref: x\n",
            "api_key_env",
        ),
        (": : :\n", ""),
    ] {
        let msg = parse(text).unwrap_err().to_string();
        assert!(msg.contains(want), "{text}: {msg}");
    }
    // Unknown metric names fail when specs are built, naming the builtins.
    let cfg = parse("evaluators:\n  - name: nope\n").unwrap();
    let msg = specs(Some(&cfg), &Overrides::default())
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("unknown metric `nope`") && msg.contains("response_match_score"),
        "{msg}"
    );
}
