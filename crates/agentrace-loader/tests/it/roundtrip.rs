//! Round trips: model -> OTLP/JSON -> model and model -> OTLP protobuf -> model are identity.

use std::sync::Arc;

use agentrace_loader::model::{
    AnyValue, Attributes, KeyValue, Link, LogRecord, Resource, Scope, Span, SpanEvent, SpanId,
    SpanKind, Status, StatusCode, Telemetry, TraceId,
};
use agentrace_loader::read::{LoadOptions, load_bytes, proto};
use agentrace_loader::write;
use proptest::prelude::*;

fn any_value() -> impl Strategy<Value = AnyValue> {
    let leaf = prop_oneof![
        Just(AnyValue::Empty),
        ".{0,12}".prop_map(AnyValue::String),
        any::<bool>().prop_map(AnyValue::Bool),
        any::<i64>().prop_map(AnyValue::Int),
        (-1e12f64..1e12).prop_map(AnyValue::Double),
        prop::collection::vec(any::<u8>(), 0..8).prop_map(AnyValue::Bytes),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(AnyValue::Array),
            prop::collection::vec(("[a-z.]{1,8}", inner), 0..4).prop_map(|kv| {
                AnyValue::KvList(kv.into_iter().map(|(k, v)| KeyValue::new(k, v)).collect())
            }),
        ]
    })
}

fn attributes() -> impl Strategy<Value = Attributes> {
    prop::collection::vec(("[a-z_.]{1,12}", any_value()), 0..5)
        .prop_map(|kv| Attributes(kv.into_iter().map(|(k, v)| KeyValue::new(k, v)).collect()))
}

fn trace_id() -> impl Strategy<Value = TraceId> {
    any::<[u8; 16]>().prop_map(|mut b| {
        b[0] |= 1;
        TraceId(b)
    })
}

fn span_id() -> impl Strategy<Value = SpanId> {
    any::<[u8; 8]>().prop_map(|mut b| {
        b[0] |= 1;
        SpanId(b)
    })
}

fn kind() -> impl Strategy<Value = SpanKind> {
    (0i64..6).prop_map(SpanKind::from_i64)
}

fn span(res: Arc<Resource>, scope: Arc<Scope>) -> impl Strategy<Value = Span> {
    (
        (
            trace_id(),
            span_id(),
            prop::option::of(span_id()),
            ".{0,10}",
            kind(),
        ),
        (any::<u64>(), any::<u64>(), attributes()),
        prop::collection::vec((any::<u64>(), ".{0,6}", attributes()), 0..3),
        prop::collection::vec((trace_id(), span_id(), attributes()), 0..2),
        ((0i64..3).prop_map(StatusCode::from_i64), ".{0,6}"),
    )
        .prop_map(
            move |((t, s, p, name, kind), (start, end, attrs), events, links, (code, msg))| Span {
                trace_id: t,
                span_id: s,
                parent_span_id: p,
                name,
                kind,
                start_ns: start,
                end_ns: end,
                attributes: attrs,
                events: events
                    .into_iter()
                    .map(|(time_ns, name, attributes)| SpanEvent {
                        time_ns,
                        name,
                        attributes,
                    })
                    .collect(),
                links: links
                    .into_iter()
                    .map(|(trace_id, span_id, attributes)| Link {
                        trace_id,
                        span_id,
                        attributes,
                    })
                    .collect(),
                status: Status { code, message: msg },
                resource: Arc::clone(&res),
                scope: Arc::clone(&scope),
            },
        )
}

fn log(res: Arc<Resource>, scope: Arc<Scope>) -> impl Strategy<Value = LogRecord> {
    (
        (any::<u64>(), any::<u64>(), 0i32..25, ".{0,6}", ".{0,10}"),
        (
            any_value(),
            attributes(),
            prop::option::of(trace_id()),
            prop::option::of(span_id()),
        ),
    )
        .prop_map(
            move |(
                (time_ns, observed_time_ns, severity_number, severity_text, event_name),
                (body, attributes, trace_id, span_id),
            )| LogRecord {
                time_ns,
                observed_time_ns,
                severity_number,
                severity_text,
                event_name,
                body,
                attributes,
                trace_id,
                span_id,
                resource: Arc::clone(&res),
                scope: Arc::clone(&scope),
            },
        )
}

fn telemetry() -> impl Strategy<Value = Telemetry> {
    (attributes(), "[a-z.]{0,8}", ".{0,4}", attributes()).prop_flat_map(|(ra, sn, sv, sa)| {
        let res = Arc::new(Resource { attributes: ra });
        let scope = Arc::new(Scope {
            name: sn,
            version: sv,
            attributes: sa,
        });
        (
            prop::collection::vec(span(Arc::clone(&res), Arc::clone(&scope)), 1..5),
            prop::collection::vec(log(res, scope), 0..3),
        )
            .prop_map(|(spans, logs)| Telemetry { spans, logs })
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn otlp_json_round_trip(t in telemetry()) {
        let text = write::to_otlp_json(&t).to_string();
        let back = load_bytes(text.as_bytes(), LoadOptions::default()).unwrap();
        prop_assert!(back.issues.is_empty(), "{:?}", back.issues);
        prop_assert_eq!(back.telemetry, t);
    }

    #[test]
    fn pretty_document_file_round_trip(t in telemetry()) {
        // A multi-line document read from a file takes the element-by-element streaming path.
        let text = serde_json::to_string_pretty(&write::to_otlp_json(&t)).unwrap();
        let path = std::env::temp_dir().join(format!("agentrace-rt-{}.json", std::process::id()));
        std::fs::write(&path, text).unwrap();
        let back = agentrace_loader::read::load_path(&path, LoadOptions::default()).unwrap();
        let _ = std::fs::remove_file(&path);
        prop_assert!(back.issues.is_empty(), "{:?}", back.issues);
        prop_assert_eq!(back.telemetry, t);
    }

    #[test]
    fn otlp_protobuf_round_trip(t in telemetry()) {
        let (spans, errors) = proto::from_trace_request(write::to_trace_request(&t.spans));
        prop_assert!(errors.is_empty());
        prop_assert_eq!(spans, t.spans);
        let (logs, errors) = proto::from_logs_request(write::to_logs_request(&t.logs));
        prop_assert!(errors.is_empty());
        prop_assert_eq!(logs, t.logs);
    }
}
