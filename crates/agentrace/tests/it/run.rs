//! `agentrace run`: the reference's three CLI runs of every corpus case give its exit codes and
//! scores; the table, JSON and JUnit outputs; exit code 2 when something cannot run.

// Test helpers: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/conformance")
}

fn agentrace(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_agentrace"))
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap()
}

fn read_json(p: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

/// The reference's argv, as an `agentrace run` argv (`-o json` is `--format json`).
fn translate(argv: &[Value]) -> Vec<String> {
    let mut out = Vec::new();
    let mut it = argv.iter().skip(1).map(|v| v.as_str().unwrap().to_owned());
    while let Some(a) = it.next() {
        match a.as_str() {
            "-o" => {
                out.push("--format".into());
                out.push(it.next().unwrap());
            }
            "--trajectory-match-type" => out.push("--trajectory-match".into()),
            _ => out.push(a),
        }
    }
    out
}

#[test]
fn corpus_cli_runs_give_the_reference_exit_codes_and_scores() {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(corpus())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("expected.json").exists())
        .collect();
    dirs.sort();
    assert_eq!(dirs.len(), 18);
    let mut diffs = Vec::new();
    let mut runs = 0;
    for dir in &dirs {
        let expected = read_json(&dir.join("expected.json"));
        for run in expected["cli_runs"].as_array().unwrap() {
            let args = translate(run["argv"].as_array().unwrap());
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let out = agentrace(dir, &args);
            runs += 1;
            let want = run["exit_code"].as_i64().unwrap();
            if i64::from(out.status.code().unwrap_or(-1)) != want {
                diffs.push(format!(
                    "{}: {args:?} exited {:?}, expected {want}",
                    dir.display(),
                    out.status.code()
                ));
            }
            let ours: Value = serde_json::from_slice(&out.stdout).unwrap();
            let mt = run["match_type"].as_str().unwrap();
            for e in expected["scores"].as_array().unwrap() {
                let wanted_here = e["match_type"].as_str().is_none_or(|m| m == mt);
                if !wanted_here || (e["match_type"].is_null() && mt != "exact") {
                    continue;
                }
                let Some(a) = ours["scores"].as_array().unwrap().iter().find(|a| {
                    a["trace_id"] == e["trace_id"]
                        && a["metric"] == e["metric"]
                        && a["match_type"] == e["match_type"]
                }) else {
                    diffs.push(format!("{}: no score for {e}", dir.display()));
                    continue;
                };
                let close = |x: &Value, y: &Value| match (x.as_f64(), y.as_f64()) {
                    (Some(x), Some(y)) => (x - y).abs() <= 1e-6,
                    _ => x == y,
                };
                let per_ok = e["per_invocation_scores"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .zip(a["per_invocation_scores"].as_array().unwrap())
                    .all(|(x, y)| close(x, y))
                    && e["per_invocation_scores"].as_array().unwrap().len()
                        == a["per_invocation_scores"].as_array().unwrap().len();
                if !close(&e["score"], &a["score"]) || e["status"] != a["status"] || !per_ok {
                    diffs.push(format!("{}: {a} != expected {e}", dir.display()));
                }
            }
        }
    }
    assert_eq!(runs, 54);
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
}

#[test]
fn table_shows_reasons_and_a_trajectory_diff() {
    let dir = corpus().join("tool_order_differs");
    let out = agentrace(
        &dir,
        &[
            "run",
            "trace.json",
            "-e",
            "eval_set.json",
            "-m",
            "tool_trajectory_avg_score",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("[FAIL]"), "{text}");
    assert!(
        text.contains("score 0.0000 is below the threshold 0.5"),
        "{text}"
    );
    assert!(text.contains("+ log_event("), "{text}");
    assert!(text.contains("- check_inventory("), "{text}");
    // any_order passes the same case.
    let out = agentrace(
        &dir,
        &[
            "run",
            "trace.json",
            "-e",
            "eval_set.json",
            "--trajectory-match",
            "any_order",
        ],
    );
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn junit_goes_to_the_output_file() {
    let dir = corpus().join("jsonl_three_traces");
    let tmp = tempfile::tempdir().unwrap();
    let junit = tmp.path().join("results.xml");
    let out = agentrace(
        &dir,
        &[
            "run",
            "trace.jsonl",
            "-e",
            "eval_set.json",
            "--format",
            "junit",
            "--output",
            junit.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.starts_with("<?xml"), "{xml}");
    assert!(
        xml.contains(
            "<testsuites name=\"agentrace\" tests=\"3\" failures=\"1\" errors=\"0\" skipped=\"0\">"
        ),
        "{xml}"
    );
    assert_eq!(xml.matches("<testsuite ").count(), 3);
    assert_eq!(xml.matches("<failure ").count(), 1);
    assert!(xml.contains("- fx_convert({&quot;amount&quot;:100,&quot;from&quot;:&quot;USD&quot;,&quot;to&quot;:&quot;GBP&quot;})"), "{xml}");
}

#[test]
fn not_evaluated_does_not_fail() {
    // No eval set: every metric is NOT_EVALUATED, with the reason, and the run exits 0.
    let dir = corpus().join("multi_turn_cart");
    let out = agentrace(&dir, &["run", "trace.json", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        v["scores"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["status"] == "NOT_EVALUATED")
    );
    assert_eq!(v["scores"][0]["reason"], "no eval set given");
    // An eval set with no case for the trace: NOT_EVALUATED, the reason says why.
    let other = corpus().join("helm_jaeger_pass/eval_set.json");
    let out = agentrace(
        &dir,
        &[
            "run",
            "trace.json",
            "-e",
            other.to_str().unwrap(),
            "--format",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["scores"][0]["reason"], "no matching eval case", "{v}");
}

#[test]
fn what_cannot_run_exits_2() {
    let dir = corpus().join("multi_turn_cart");
    // A missing trace file: the others are still evaluated and reported.
    let out = agentrace(
        &dir,
        &[
            "run",
            "trace.json",
            "/nonexistent/trace.json",
            "-e",
            "eval_set.json",
            "--format",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["errors"][0]["file"], "/nonexistent/trace.json");
    assert_eq!(v["scores"].as_array().unwrap().len(), 1);
    // A broken eval set: file, line and field named.
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("set.json");
    std::fs::write(
        &bad,
        "{\"eval_set_id\": \"s\",\n\"eval_cases\": [{\"eval_id\": 5}]}",
    )
    .unwrap();
    let out = agentrace(&dir, &["run", "trace.json", "-e", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("set.json:2:") && err.contains("eval_cases[0].eval_id"),
        "{err}"
    );
    // An unknown metric, a Vertex-only metric, a bad threshold.
    for args in [
        &["run", "trace.json", "-m", "no_such_metric"][..],
        &["run", "trace.json", "-m", "safety_v1"][..],
        &["run", "trace.json", "-t", "2"][..],
    ] {
        let out = agentrace(&dir, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(!out.stderr.is_empty());
    }
}

#[test]
fn config_file_sets_evaluators_eval_set_and_format() {
    let dir = corpus().join("tool_order_differs");
    let tmp = tempfile::tempdir().unwrap();
    let eval = tmp.path().join("count.sh");
    std::fs::write(
        &eval,
        "#!/bin/sh\ncat >/dev/null\necho '{\"score\": 1.0, \"per_invocation_scores\": [1.0]}'\n",
    )
    .unwrap();
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&eval, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let cfg = tmp.path().join("eval.yaml");
    std::fs::write(
        &cfg,
        format!(
            "eval_set: {}\noutput_format: json\nevaluators:\n  - name: tool_trajectory_avg_score\n    trajectory_match_type: any_order\n  - name: tool_call_count_v1\n    config: {{max: 3}}\n  - name: mine\n    type: code\n    path: count.sh\n",
            dir.join("eval_set.json").display()
        ),
    )
    .unwrap();
    let out = agentrace(
        &dir,
        &["run", "trace.json", "--config", cfg.to_str().unwrap()],
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let scores = v["scores"].as_array().unwrap();
    let by = |n: &str| scores.iter().find(|s| s["metric"] == n).unwrap();
    assert_eq!(by("tool_trajectory_avg_score")["status"], "PASSED");
    assert_eq!(by("mine")["status"], "PASSED");
    // Four tool calls against a budget of three.
    assert_eq!(by("tool_call_count_v1")["status"], "FAILED");
    assert_eq!(by("tool_call_count_v1")["score"], 4.0);
    assert_eq!(out.status.code(), Some(1));

    std::fs::write(&cfg, "metrics: [response_match_score]\n").unwrap();
    let out = agentrace(
        &dir,
        &["run", "trace.json", "--config", cfg.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no longer supported"));
}

/// A one-request OpenAI-compatible endpoint on loopback: answers `content` and returns the
/// request head it received.
fn one_shot_judge(content: &str) -> (String, std::thread::JoinHandle<String>) {
    use std::io::{BufRead as _, BufReader, Read as _, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    let reply = serde_json::json!({"choices": [{"message": {"content": content}}]}).to_string();
    let handle = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut head = String::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
                break;
            }
            head.push_str(&line);
        }
        let len: usize = head
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-length:")
                    .map(|v| v.trim().parse().unwrap())
            })
            .unwrap_or(0);
        let mut body = vec![0; len];
        reader.read_exact(&mut body).unwrap();
        let mut s = stream;
        write!(
            s,
            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{reply}",
            reply.len()
        )
        .unwrap();
        head
    });
    (url, handle)
}

#[test]
fn judge_key_goes_only_to_the_configured_endpoint() {
    let dir = corpus().join("semconv_travel_tools");
    let (url, server) =
        one_shot_judge("{\"is_the_agent_response_valid\": \"valid\", \"reasoning\": \"ok\"}");
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("eval.yaml");
    std::fs::write(
        &cfg,
        format!("judge:\n  base_url: {url}\n  model: m\n  api_key_env: AGENTRACE_TEST_JUDGE_KEY\nevaluators:\n  - name: final_response_match_v2\n"),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_agentrace"))
        .current_dir(&dir)
        .env("AGENTRACE_TEST_JUDGE_KEY", "sk-test-secret-4242")
        .env("RUST_LOG", "trace")
        .args([
            "run",
            "trace.json",
            "-e",
            "eval_set.json",
            "--format",
            "json",
            "-c",
            cfg.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let head = server.join().unwrap();
    assert!(head.contains("Bearer sk-test-secret-4242"), "{head}");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["scores"][0]["metric"], "final_response_match_v2");
    assert_eq!(v["scores"][0]["score"], 1.0);
    for stream in [&out.stdout, &out.stderr] {
        assert!(!String::from_utf8_lossy(stream).contains("sk-test-secret"));
    }
    // The variable unset: the run cannot start, and says which variable.
    let out = agentrace(&dir, &["run", "trace.json", "-c", cfg.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("AGENTRACE_TEST_JUDGE_KEY"));
}

#[test]
fn emit_otel_sends_evaluation_records() {
    let dir = corpus().join("session_tiny_sdk");
    let (url, server) = one_shot_judge("");
    let endpoint = url.trim_end_matches("/v1").to_owned();
    let out = Command::new(env!("CARGO_BIN_EXE_agentrace"))
        .current_dir(&dir)
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint)
        .env_remove("OTEL_SDK_DISABLED")
        .env_remove("OTEL_LOGS_EXPORTER")
        .env_remove("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT")
        .env_remove("OTEL_EXPORTER_OTLP_PROTOCOL")
        .env_remove("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL")
        .args(["run", "trace.json", "-e", "eval_set.json", "--emit-otel"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let head = server.join().unwrap();
    assert!(head.starts_with("POST /v1/logs "), "{head}");
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Drops every `duration_ms` (a measured time) from a JSON value.
fn without_durations(v: &mut Value) {
    match v {
        Value::Object(o) => {
            o.remove("duration_ms");
            o.values_mut().for_each(without_durations);
        }
        Value::Array(a) => a.iter_mut().for_each(without_durations),
        _ => {}
    }
}

/// `run` (group by group, evaluated as groups come) gives the results and exit code of
/// `run --read-whole` on every corpus case and grouping (times aside).
#[test]
fn streamed_results_equal_the_whole_read_on_the_corpus() {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(corpus())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("expected.json").exists())
        .collect();
    dirs.sort();
    for dir in dirs {
        let trace = if dir.join("trace.json").exists() {
            "trace.json"
        } else {
            "trace.jsonl"
        };
        for group_by in ["auto", "trace", "conversation"] {
            let args = [
                "run",
                trace,
                "-e",
                "eval_set.json",
                "-m",
                "tool_trajectory_avg_score",
                "-m",
                "response_match_score",
                "--group-by",
                group_by,
                "--format",
                "json",
            ];
            let streamed = agentrace(&dir, &args);
            let whole = agentrace(
                &dir,
                &args
                    .iter()
                    .copied()
                    .chain(["--read-whole"])
                    .collect::<Vec<_>>(),
            );
            assert_eq!(
                streamed.status.code(),
                whole.status.code(),
                "{}",
                dir.display()
            );
            let mut a: Value = serde_json::from_slice(&streamed.stdout).unwrap();
            let mut b: Value = serde_json::from_slice(&whole.stdout).unwrap();
            without_durations(&mut a);
            without_durations(&mut b);
            assert_eq!(a, b, "{} {group_by}", dir.display());
        }
    }
}

/// A file whose groups are not contiguous is read whole, and `run` says so on stderr as
/// `extract` does; a contiguous file and `--read-whole` give no note.
#[test]
fn a_file_read_whole_after_streaming_is_noted_on_stderr() {
    let args = |trace: &str, whole: bool| {
        let mut a = vec![
            "run",
            trace,
            "-e",
            "eval_set.json",
            "-m",
            "tool_trajectory_avg_score",
            "--format",
            "json",
        ];
        if whole {
            a.push("--read-whole");
        }
        a.into_iter().map(str::to_owned).collect::<Vec<_>>()
    };
    let run = |case: &str, whole: bool| {
        let dir = corpus().join(case);
        let a = args("trace.jsonl", whole);
        let out = agentrace(&dir, &a.iter().map(String::as_str).collect::<Vec<_>>());
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "{case}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        (
            String::from_utf8_lossy(&out.stderr).into_owned(),
            serde_json::from_slice::<Value>(&out.stdout).unwrap(),
        )
    };
    // Its trace's records are split by another trace's.
    let (stderr, mut streamed) = run("trace_level_logs_garden_jsonl", false);
    assert!(
        stderr.contains("note: trace.jsonl: ")
            && stderr.contains("not contiguous")
            && stderr.contains("read whole (the same output, more memory)"),
        "{stderr}"
    );
    let (stderr, mut whole) = run("trace_level_logs_garden_jsonl", true);
    assert!(!stderr.contains("note:"), "{stderr}");
    without_durations(&mut streamed);
    without_durations(&mut whole);
    assert_eq!(streamed, whole);
    assert!(!streamed["groups"].as_array().unwrap().is_empty());
    let (stderr, _) = run("jsonl_three_traces", false);
    assert!(!stderr.contains("note:"), "{stderr}");
}
