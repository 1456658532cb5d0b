//! LLM judges against a mock OpenAI-compatible endpoint on loopback: the request, each metric's
//! scoring, and an endpoint that errors, answers nonsense or times out.

use std::time::Duration;

use agentrace_eval::evaluate::{MetricKind, MetricSpec, evaluate_group};
use agentrace_eval::judge::{JudgeClient, JudgeKind, JudgeMetric, Rubric};
use agentrace_eval::result::{EvaluatorType, Status};
use serde_json::Value;

use crate::testkit::{MockJudge, Reply, corpus_group};

fn judge(kind: JudgeKind, url: &str, timeout: Duration, rubrics: Vec<Rubric>) -> MetricSpec {
    MetricSpec {
        name: format!("{kind:?}"),
        kind: MetricKind::Judge(JudgeMetric {
            kind,
            client: JudgeClient::new(Some(url), Some("judge-model"), None, Some(timeout)).unwrap(),
            rubrics,
        }),
        threshold: 0.5,
    }
}

#[test]
fn each_judge_metric_scores_from_the_answer() {
    let mock = MockJudge::start(vec![
        Reply::Chat("```json\n{\"is_the_agent_response_valid\": \"valid\", \"reasoning\": \"same facts\"}\n```".into()),
        Reply::Chat("{\"score\": 0.4, \"reasoning\": \"two of five claims unsupported\"}".into()),
        Reply::Chat("{\"rubrics\": [{\"id\": \"polite\", \"verdict\": \"yes\"}, {\"id\": \"brief\", \"verdict\": \"no\"}]}".into()),
    ]);
    let (group, set) = corpus_group("semconv_travel_tools");
    let t = Duration::from_secs(10);
    let rubrics = vec![
        Rubric {
            id: "polite".into(),
            text: "The response is polite.".into(),
        },
        Rubric {
            id: "brief".into(),
            text: "The response is under ten words.".into(),
        },
    ];
    let specs = vec![
        judge(JudgeKind::FinalResponseMatch, &mock.base_url, t, Vec::new()),
        judge(JudgeKind::Hallucinations, &mock.base_url, t, Vec::new()),
        judge(JudgeKind::RubricFinalResponse, &mock.base_url, t, rubrics),
    ];
    let r = evaluate_group(&group, Some(&set), &specs);
    let got: Vec<(Option<f64>, Status)> = r.metrics.iter().map(|m| (m.score, m.status)).collect();
    assert_eq!(
        got,
        [
            (Some(1.0), Status::Passed),
            (Some(0.4), Status::Failed),
            (Some(0.5), Status::Passed)
        ]
    );
    assert!(
        r.metrics
            .iter()
            .all(|m| m.evaluator_type == EvaluatorType::LlmJudge && m.error.is_none())
    );
    assert_eq!(r.metrics[0].details["rationales"][0], "same facts");
    let reqs = mock.requests();
    assert_eq!(reqs.len(), 3);
    let (head, body) = &reqs[0];
    assert!(head.starts_with("POST /v1/chat/completions "), "{head}");
    assert!(
        !head.to_ascii_lowercase().contains("authorization"),
        "no key configured: {head}"
    );
    let body: Value = serde_json::from_slice(body).unwrap();
    assert_eq!(body["model"], "judge-model");
    let prompt = body["messages"][1]["content"].as_str().unwrap();
    // The request carries the user text, the expected and the actual response.
    let exp = set.eval_cases[0].conversation[0]
        .final_response
        .as_ref()
        .unwrap()
        .text()
        .unwrap();
    assert!(prompt.contains(&exp), "{prompt}");
    assert!(prompt.contains(group.invocations[0].final_response.as_deref().unwrap()));
    let rubric_prompt: Value = serde_json::from_slice(&reqs[2].1).unwrap();
    assert!(
        rubric_prompt["messages"][1]["content"]
            .as_str()
            .unwrap()
            .contains("- brief: The response is under ten words.")
    );
}

#[test]
fn a_failing_endpoint_is_that_metric_error_only() {
    let mock = MockJudge::start(vec![
        Reply::Http(500, "{\"error\": \"overloaded\"}".into()),
        Reply::Chat("I think it is fine.".into()),
        Reply::Chat("{\"is_the_agent_response_valid\": \"maybe\"}".into()),
        Reply::Hang,
    ]);
    let (group, set) = corpus_group("semconv_travel_tools");
    let t = Duration::from_secs(10);
    let specs = vec![
        judge(JudgeKind::FinalResponseMatch, &mock.base_url, t, Vec::new()),
        judge(JudgeKind::Hallucinations, &mock.base_url, t, Vec::new()),
        judge(JudgeKind::FinalResponseMatch, &mock.base_url, t, Vec::new()),
        judge(
            JudgeKind::Hallucinations,
            &mock.base_url,
            Duration::from_millis(300),
            Vec::new(),
        ),
        MetricSpec::builtin("response_match_score", None, None, &Value::Null).unwrap(),
    ];
    let r = evaluate_group(&group, Some(&set), &specs);
    let err = |i: usize| r.metrics[i].error.clone().unwrap_or_default();
    assert!(
        err(0).contains("500") && err(0).contains("overloaded"),
        "{}",
        err(0)
    );
    assert!(err(1).contains("no JSON object"), "{}", err(1));
    assert!(err(2).contains("not valid/invalid"), "{}", err(2));
    assert!(err(3).contains("timed out"), "{}", err(3));
    assert!(r.metrics[..4].iter().all(|m| m.status == Status::Failed));
    // The deterministic metric next to them is scored.
    assert!(r.metrics[4].error.is_none() && r.metrics[4].score.is_some());
    assert_eq!(mock.requests().len(), 4);
}

#[test]
fn configuration_is_checked() {
    assert!(JudgeClient::new(None, Some("m"), None, None).is_err());
    assert!(JudgeClient::new(Some("http://127.0.0.1:1/v1"), None, None, None).is_err());
    assert!(JudgeClient::new(Some("file:///etc/passwd"), Some("m"), None, None).is_err());
    let err = JudgeClient::new(
        Some("http://127.0.0.1:1/v1"),
        Some("m"),
        Some("AGENTRACE_TEST_SURELY_UNSET_VARIABLE"),
        None,
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("AGENTRACE_TEST_SURELY_UNSET_VARIABLE")
    );
    // A refused connection is an error, not a hang.
    let (group, set) = corpus_group("session_tiny_sdk");
    let r = evaluate_group(
        &group,
        Some(&set),
        &[judge(
            JudgeKind::Hallucinations,
            "http://127.0.0.1:1/v1",
            Duration::from_secs(5),
            Vec::new(),
        )],
    );
    assert!(
        r.metrics[0]
            .error
            .as_deref()
            .unwrap()
            .contains("judge request failed")
    );
}

/// `--emit-otel`'s records reach an OTLP/HTTP endpoint as protobuf, one per metric and
/// invocation, parented to the invocation's span.
#[test]
fn evaluation_records_are_sent_over_otlp_http() {
    use agentrace_eval::otel::{OtlpLogs, evaluation_records};
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
    use prost::Message as _;

    let (group, set) = corpus_group("multi_turn_cart");
    let specs = vec![
        MetricSpec::builtin("tool_trajectory_avg_score", None, None, &Value::Null).unwrap(),
        MetricSpec::builtin("response_match_score", None, None, &Value::Null).unwrap(),
    ];
    let r = evaluate_group(&group, Some(&set), &specs);
    let records = evaluation_records([&r], Some("cart"), 42);
    assert_eq!(records.len(), 6, "two metrics, three turns");
    let mock = MockJudge::start(vec![Reply::Http(200, String::new())]);
    let env = |k: &str| match k {
        "OTEL_EXPORTER_OTLP_ENDPOINT" => {
            Some(mock.base_url.trim_end_matches("/v1").to_owned() + "/")
        }
        "OTEL_EXPORTER_OTLP_HEADERS" => Some("x-tenant=a%20b".to_owned()),
        _ => None,
    };
    let cfg = OtlpLogs::from_env(env).unwrap().unwrap();
    assert_eq!(cfg.send(records).unwrap(), 6);
    let (head, body) = mock.requests().remove(0);
    assert!(head.starts_with("POST /v1/logs "), "{head}");
    assert!(
        head.to_ascii_lowercase().contains("x-tenant: a b"),
        "{head}"
    );
    assert!(head.contains("application/x-protobuf"), "{head}");
    let req = ExportLogsServiceRequest::decode(&body[..]).unwrap();
    let recs = &req.resource_logs[0].scope_logs[0].log_records;
    assert_eq!(recs.len(), 6);
    let first = &recs[0];
    assert_eq!(first.event_name, "gen_ai.evaluation.result");
    assert_eq!(
        hex::encode(&first.span_id),
        group.invocations[0].invocation_id
    );
    assert_eq!(first.flags, 1);
    let attr = |k: &str| {
        first
            .attributes
            .iter()
            .find(|a| a.key == k)
            .and_then(|a| a.value.clone())
    };
    assert!(
        attr("gen_ai.evaluation.name").is_some() && attr("gen_ai.evaluation.score.label").is_some()
    );
    assert!(attr("agentevals.eval_set.id").is_some());
    // Turned off, or an unsupported protocol.
    assert!(
        OtlpLogs::from_env(|k| (k == "OTEL_SDK_DISABLED").then(|| "true".into()))
            .unwrap()
            .is_none()
    );
    assert!(
        OtlpLogs::from_env(|k| (k == "OTEL_EXPORTER_OTLP_PROTOCOL").then(|| "grpc".into()))
            .is_err()
    );
}
