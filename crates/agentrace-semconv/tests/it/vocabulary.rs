//! The vocabulary: span names, event names, metric buckets and the rename table, checked
//! against the reference.

use agentrace_semconv::enums::{OperationName, ProviderName};
use agentrace_semconv::event::{self, LiveEventGroup, LiveEventType};
use agentrace_semconv::metric::{self, InstrumentKind, ValueType};
use agentrace_semconv::span::{self, SpanKind};
use agentrace_semconv::{attr, deprecated};

use crate::testkit::check;

#[test]
fn span_names_and_kinds_per_operation() {
    let rows: Vec<(String, Option<&str>, SpanKind)> = OperationName::KNOWN
        .iter()
        .map(|op| {
            (
                span::span_name(op, Some("target")),
                span::name_attribute(op),
                span::span_kind(op),
            )
        })
        .collect();
    check(
        "span_names_and_kinds",
        &rows
            .iter()
            .map(|(n, a, k)| format!("{n} | {a:?} | {k}"))
            .collect::<Vec<_>>(),
    );
    assert_eq!(
        span::span_name(&OperationName::Chat, Some("gpt-4o")),
        "chat gpt-4o"
    );
    assert_eq!(
        span::span_name(&OperationName::InvokeAgent, None),
        "invoke_agent"
    );
    assert_eq!(
        span::span_name(&OperationName::InvokeAgent, Some("")),
        "invoke_agent"
    );
    assert_eq!(SpanKind::Client.as_otlp_str(), "SPAN_KIND_CLIENT");
}

#[test]
fn event_names() {
    assert_eq!(
        event::INFERENCE_OPERATION_DETAILS,
        "gen_ai.client.inference.operation.details"
    );
    assert_eq!(event::EVALUATION_RESULT, "gen_ai.evaluation.result");
    assert_eq!(
        event::OPERATION_EXCEPTION,
        "gen_ai.client.operation.exception"
    );
    assert_eq!(event::DEPRECATED_EVENTS.len(), 7);
    let events = std::fs::read_to_string(crate::testkit::semconv_dir().join("model/events.yaml"))
        .expect("events.yaml");
    for name in [
        event::INFERENCE_OPERATION_DETAILS,
        event::EVALUATION_RESULT,
        event::OPERATION_EXCEPTION,
    ] {
        assert!(events.contains(&format!("name: {name}")), "{name}");
    }
    let deprecated = std::fs::read_to_string(
        crate::testkit::semconv_dir().join("model/deprecated/events-deprecated.yaml"),
    )
    .expect("events-deprecated.yaml");
    for name in event::DEPRECATED_MESSAGE_EVENTS
        .iter()
        .chain([&event::CHOICE])
    {
        assert!(deprecated.contains(&format!("name: {name}")), "{name}");
    }
}

/// The 18 names of the reference §2.1, grouped as there.
#[test]
fn live_event_vocabulary() {
    let names: Vec<(String, String)> = LiveEventType::ALL
        .iter()
        .map(|ty| (ty.as_str().to_owned(), format!("{:?}", ty.group())))
        .collect();
    check("live_event_types", &names);
    assert_eq!(LiveEventType::ALL.len(), 18);
    let count = |g| LiveEventType::ALL.iter().filter(|t| t.group() == g).count();
    assert_eq!(
        [
            count(LiveEventGroup::Agent),
            count(LiveEventGroup::Model),
            count(LiveEventGroup::Tool),
            count(LiveEventGroup::Flow),
            count(LiveEventGroup::Module)
        ],
        [4, 5, 3, 3, 3]
    );
    let json = serde_json::to_string(&LiveEventType::ModelResponseChunk).expect("ser");
    assert_eq!(json, "\"gen_ai.model.response.chunk\"");
    assert!(LiveEventType::ModelResponseChunk.is_chunk() && LiveEventType::ToolError.is_error());
}

#[test]
fn metric_specs_are_exact() {
    let m = |name| metric::spec(name).expect(name);
    assert_eq!(
        m(metric::CLIENT_TOKEN_USAGE).boundaries,
        &[
            1.0, 4.0, 16.0, 64.0, 256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262144.0, 1048576.0,
            4194304.0, 16777216.0, 67108864.0
        ]
    );
    assert_eq!(m(metric::CLIENT_TOKEN_USAGE).value_type, ValueType::Int);
    assert_eq!(
        m(metric::CLIENT_TOKEN_USAGE).required_attributes.last(),
        Some(&attr::GEN_AI_TOKEN_TYPE)
    );
    for name in [
        metric::CLIENT_OPERATION_DURATION,
        metric::CLIENT_OPERATION_TIME_TO_FIRST_CHUNK,
        metric::CLIENT_OPERATION_TIME_PER_OUTPUT_CHUNK,
        metric::SERVER_REQUEST_DURATION,
    ] {
        assert_eq!(
            m(name).boundaries,
            &[
                0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96,
                81.92
            ],
            "{name}"
        );
    }
    assert_eq!(
        m(metric::SERVER_TIME_PER_OUTPUT_TOKEN).boundaries,
        &[
            0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5
        ]
    );
    assert_eq!(
        m(metric::SERVER_TIME_TO_FIRST_TOKEN).boundaries,
        &[
            0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5,
            10.0
        ]
    );
    assert!(m(metric::CLIENT_OPERATION_TIME_TO_FIRST_CHUNK).streaming_only);
    assert!(metric::spec("gen_ai.client.nope").is_none());

    // Every metric of metrics.yaml is in the table with its unit and instrument, and back.
    let yaml = std::fs::read_to_string(crate::testkit::semconv_dir().join("model/metrics.yaml"))
        .expect("metrics.yaml");
    let names: Vec<&str> = yaml
        .lines()
        .filter_map(|l| l.trim().strip_prefix("metric_name: "))
        .collect();
    assert_eq!(names.len(), metric::METRICS.len());
    for spec in metric::METRICS {
        assert!(names.contains(&spec.name), "{}", spec.name);
        assert_eq!(spec.instrument, InstrumentKind::Histogram);
        let block = yaml
            .split("metric_name: ")
            .find(|b| b.starts_with(spec.name))
            .expect("block");
        assert!(
            block.contains(&format!("unit: \"{}\"", spec.unit)),
            "{}",
            spec.name
        );
    }
}

#[test]
fn rename_table() {
    let rows: Vec<String> = deprecated::RENAMES
        .iter()
        .map(|r| format!("{} -> {:?} {:?}", r.old, r.replacement, r.values))
        .collect();
    check("rename_table", &rows);
    assert_eq!(
        deprecated::current_key(attr::GEN_AI_SYSTEM),
        Some(attr::GEN_AI_PROVIDER_NAME)
    );
    for (old, new) in deprecated::PROVIDER_VALUE_RENAMES {
        assert_eq!(ProviderName::from_system(old).as_str(), *new);
        assert!(ProviderName::from_system(old).is_known());
    }
    // Every deprecated key of the deprecated registry is in the table.
    let yaml = std::fs::read_to_string(
        crate::testkit::semconv_dir().join("model/deprecated/registry-deprecated.yaml"),
    )
    .expect("registry-deprecated.yaml");
    let prefix = ["gen", "_ai."].concat();
    let keys: Vec<&str> = yaml
        .lines()
        .filter_map(|l| l.strip_prefix("      - id: "))
        .filter(|id| id.starts_with(&prefix))
        .collect();
    assert_eq!(keys.len(), deprecated::RENAMES.len());
    for key in keys {
        assert!(deprecated::is_deprecated(key), "{key}");
    }
}

/// Every attribute of registry.yaml has a constant (checked by value, through the public API of
/// the other modules where it is used, and by listing the registry ids).
#[test]
fn registry_ids_have_constants() {
    let attr_rs = include_str!("../../src/attr.rs");
    let yaml = std::fs::read_to_string(crate::testkit::semconv_dir().join("model/registry.yaml"))
        .expect("registry.yaml");
    let prefix = ["gen", "_ai."].concat();
    let mut missing = Vec::new();
    for id in yaml.lines().filter_map(|l| l.strip_prefix("      - id: ")) {
        if id.starts_with(&prefix) && !attr_rs.contains(&format!("\"{id}\";")) {
            missing.push(id);
        }
    }
    assert!(missing.is_empty(), "no constant for {missing:?}");
}
