//! Reader tests: shapes, detection, override, errors, and arbitrary bytes never panicking.

use std::io::Write as _;

use agentrace_loader::model::{AnyValue, StatusCode};
use agentrace_loader::read::{Format, LoadOptions, load_bytes, load_path};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue as PAny, KeyValue as PKv, any_value};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span as PSpan};
use proptest::prelude::*;

const TID: &str = "0af7651916cd43dd8448eb211c80319c";

fn load(bytes: &[u8]) -> agentrace_loader::read::Loaded {
    load_bytes(bytes, LoadOptions::default()).unwrap()
}

#[test]
fn protobuf_field_names_and_flat_attributes() {
    let doc = format!(
        r#"{{"resource_spans":[{{"resource":{{"attributes":{{"service":{{"name":"svc"}}}}}},
        "scope_spans":[{{"scope":{{"name":"s"}},"spans":[{{"trace_id":"{TID}","span_id":"b7ad6b7169203331",
        "name":"x","kind":"SPAN_KIND_CLIENT","start_time_unix_nano":5,"end_time_unix_nano":"9",
        "status":{{"code":"STATUS_CODE_ERROR"}},
        "attributes":{{"gen_ai.usage.input_tokens":3,"a":{{"b":true}}}}}}]}}]}}]}}"#
    );
    let l = load(doc.as_bytes());
    assert_eq!(l.format, Some(Format::OtlpJson));
    let s = &l.telemetry.spans[0];
    assert_eq!(s.resource.attributes.get_str("service.name"), Some("svc"));
    assert_eq!(
        s.attributes.get("gen_ai.usage.input_tokens"),
        Some(&AnyValue::Int(3))
    );
    assert_eq!(s.attributes.get("a.b"), Some(&AnyValue::Bool(true)));
    assert_eq!(s.status.code, StatusCode::Error);
    assert_eq!((s.start_ns, s.end_ns), (5, 9));
}

#[test]
fn base64_ids_nested_any_values_and_logs() {
    let doc = r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"CvdlGRbNQ92ESOshHIAxnA==",
      "spanId":"t61rcWkgMzE=","name":"x","attributes":[{"key":"m","value":{"kvlistValue":{"values":[
      {"key":"n","value":{"arrayValue":{"values":[{"intValue":"7"},{"doubleValue":1.5}]}}}]}}}]}]}]}],
      "resourceLogs":[{"scopeLogs":[{"logRecords":[{"traceId":"0af7651916cd43dd8448eb211c80319c",
      "spanId":"b7ad6b7169203331","eventName":"e","body":{"stringValue":"hi"}}]}]}]}"#;
    let l = load(doc.as_bytes());
    let s = &l.telemetry.spans[0];
    assert_eq!(s.trace_id.to_string(), TID);
    assert_eq!(s.span_id.to_string(), "b7ad6b7169203331");
    let m = s.attributes.get("m").unwrap().to_json();
    assert_eq!(m, serde_json::json!({"n": [7, 1.5]}));
    assert_eq!(l.telemetry.logs.len(), 1);
    assert_eq!(l.telemetry.logs[0].name(), "e");
}

#[test]
fn tempo_wrapper_and_bare_spans_are_detected() {
    let span = format!(r#"{{"traceId":"{TID}","spanId":"b7ad6b7169203331","name":"x"}}"#);
    let wrapper =
        format!(r#"{{"trace":{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{span}]}}]}}]}}}}"#);
    assert_eq!(
        load(wrapper.as_bytes()).format,
        Some(Format::TempoTraceWrapper)
    );
    let bare = format!("[{span}]");
    let l = load(bare.as_bytes());
    assert_eq!(l.format, Some(Format::OtlpBareSpans));
    assert_eq!(l.telemetry.spans.len(), 1);
}

#[test]
fn jsonl_bad_line_is_reported_and_skipped() {
    let good = |sid: &str| {
        format!(
            r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{{"traceId":"{TID}","spanId":"{sid}","name":"x"}}]}}]}}]}}"#
        )
    };
    let text = format!(
        "{}\n{{not json\n{}\n{{\"traceId\":\"zz\",\"spanId\":\"b7ad6b7169203331\"}}\n",
        good("b7ad6b7169203331"),
        good("b7ad6b7169203332")
    );
    let dir = tempfile_dir("jsonl");
    let path = dir.join("t.jsonl");
    std::fs::write(&path, text).unwrap();
    let l = load_path(&path, LoadOptions::default()).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(l.format, Some(Format::OtlpJsonl));
    assert_eq!(l.telemetry.spans.len(), 2);
    assert_eq!(l.skipped(), 2);
    assert_eq!(l.issues[0].line, Some(2));
    assert_eq!(l.issues[1].line, Some(4));
    assert_eq!(l.issues[1].field, "span.traceId");
    let shown = l.issues[1].to_string();
    assert!(shown.contains("t.jsonl:4: span.traceId"), "{shown}");
}

/// A fresh directory for one test; the test removes it.
fn tempfile_dir(test: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("agentrace-loader-it-{}-{test}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn gzip_is_detected() {
    let doc = format!(
        r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{{"traceId":"{TID}","spanId":"b7ad6b7169203331","name":"x"}}]}}]}}]}}"#
    );
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(doc.as_bytes()).unwrap();
    let bytes = gz.finish().unwrap();
    let l = load(&bytes);
    assert_eq!(l.telemetry.spans.len(), 1);
}

#[test]
fn protobuf_file_and_request_conversion() {
    use prost::Message as _;
    let req = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: vec![PSpan {
                    trace_id: hex::decode(TID).unwrap(),
                    span_id: vec![1, 2, 3, 4, 5, 6, 7, 8],
                    name: "chat m".into(),
                    attributes: vec![PKv {
                        key: "gen_ai.operation.name".into(),
                        value: Some(PAny {
                            value: Some(any_value::Value::StringValue("chat".into())),
                        }),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let l = load(&req.encode_to_vec());
    assert_eq!(l.format, Some(Format::OtlpProtobuf));
    assert_eq!(l.telemetry.spans[0].name, "chat m");
    assert_eq!(
        l.telemetry.spans[0]
            .attributes
            .get_str("gen_ai.operation.name"),
        Some("chat")
    );
}

#[test]
fn jaeger_tags_map_to_envelope_fields() {
    let doc = format!(
        r#"{{"data":[{{"traceID":"{TID}","spans":[{{"traceID":"{TID}","spanID":"b7ad6b7169203331",
        "operationName":"x","references":[],"startTime":2,"duration":3,"processID":"p1",
        "tags":[{{"key":"span.kind","type":"string","value":"client"}},{{"key":"error","type":"bool","value":true}},
        {{"key":"n","type":"int64","value":"12"}},{{"key":"otel.scope.name","type":"string","value":"sc"}}],
        "logs":[{{"timestamp":4,"fields":[{{"key":"event","type":"string","value":"ev"}}]}}]}}],
        "processes":{{"p1":{{"serviceName":"svc","tags":[]}}}}}}]}}"#
    );
    let l = load(doc.as_bytes());
    assert_eq!(l.format, Some(Format::JaegerJson));
    let s = &l.telemetry.spans[0];
    assert_eq!(s.status.code, StatusCode::Error);
    assert_eq!(s.scope.name, "sc");
    assert_eq!((s.start_ns, s.end_ns), (2000, 5000));
    assert_eq!(s.attributes.get("n"), Some(&AnyValue::Int(12)));
    assert!(s.attributes.get("span.kind").is_none());
    assert_eq!(s.events[0].name, "ev");
    assert_eq!(s.resource.attributes.get_str("service.name"), Some("svc"));
}

#[test]
fn override_and_detection_errors() {
    assert!(load_bytes(br#"{"foo": 1}"#, LoadOptions::default()).is_err());
    assert!(load_bytes(b"", LoadOptions::default()).is_err());
    let l = load_bytes(
        br#"{"foo": 1}"#,
        LoadOptions {
            format: Some(Format::OtlpJson),
        },
    )
    .unwrap();
    assert_eq!(l.read(), 0);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: crate::testkit::fuzz_cases(512), ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        for format in [None, Some(Format::OtlpJson), Some(Format::OtlpJsonl), Some(Format::JaegerJson), Some(Format::OtlpProtobuf)] {
            let _ = load_bytes(&bytes, LoadOptions { format });
        }
    }

    #[test]
    fn arbitrary_json_never_panics(text in json_like()) {
        for format in [None, Some(Format::JaegerJson)] {
            if let Ok(l) = load_bytes(text.as_bytes(), LoadOptions { format }) {
                let set = agentrace_loader::trace::TraceSet::build(l.telemetry);
                let _ = agentrace_loader::extract::extract(&set, &Default::default());
            }
        }
    }
}

/// JSON built from OTLP and Jaeger vocabulary, so that the fuzzing reaches the readers' insides.
fn json_like() -> impl Strategy<Value = String> {
    let key = prop::sample::select(vec![
        "resourceSpans",
        "scopeSpans",
        "spans",
        "traceId",
        "spanId",
        "parentSpanId",
        "attributes",
        "key",
        "value",
        "stringValue",
        "intValue",
        "arrayValue",
        "kvlistValue",
        "values",
        "events",
        "name",
        "data",
        "traceID",
        "spanID",
        "tags",
        "references",
        "refType",
        "resourceLogs",
        "scopeLogs",
        "logRecords",
        "body",
        "batches",
        "trace",
        "gen_ai.operation.name",
        "gen_ai.input.messages",
        "role",
        "parts",
        "type",
        "content",
    ]);
    let leaf = prop_oneof![
        Just("null".to_owned()),
        any::<i64>().prop_map(|i| i.to_string()),
        Just(format!("\"{TID}\"")),
        Just("\"b7ad6b7169203331\"".to_owned()),
        Just("\"chat\"".to_owned()),
        Just("\"invoke_agent\"".to_owned()),
        Just("\"[{\\\"role\\\":\\\"user\\\"}]\"".to_owned()),
        "[a-z]{0,4}".prop_map(|s| format!("\"{s}\"")),
    ];
    leaf.prop_recursive(5, 64, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(|v| format!("[{}]", v.join(","))),
            prop::collection::vec((key.clone(), inner), 0..5).prop_map(|kv| {
                let body: Vec<String> = kv
                    .into_iter()
                    .map(|(k, v)| format!("\"{k}\":{v}"))
                    .collect();
                format!("{{{}}}", body.join(","))
            }),
        ]
    })
}

#[test]
fn jsonl_streams_trace_by_trace() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/conformance/jsonl_three_traces/trace.jsonl");
    let mut sets = Vec::new();
    let mut issues = Vec::new();
    let format = agentrace_loader::read::for_each_trace_set(
        &path,
        LoadOptions::default(),
        &mut issues,
        |set| sets.push((set.traces.len(), set.span_count())),
    )
    .unwrap();
    assert_eq!(format, Format::OtlpJsonl);
    assert!(issues.is_empty());
    assert_eq!(sets.len(), 3);
    assert!(sets.iter().all(|(t, _)| *t == 1));
    assert_eq!(sets.iter().map(|(_, s)| s).sum::<usize>(), 13);
}

#[test]
fn a_bad_span_in_a_document_is_reported_with_its_line() {
    let doc = format!(
        "{{\n \"resourceSpans\": [\n  {{\"scopeSpans\": [\n   {{\"spans\": [\n    {{\"traceId\": \"{TID}\", \"spanId\": \"b7ad6b7169203331\"}},\n    {{\"traceId\": \"{TID}\",\n     \"spanId\": \"nothex\"}}\n   ]}}\n  ]}}\n ]\n}}\n"
    );
    let dir = tempfile_dir("doc");
    let path = dir.join("doc.json");
    std::fs::write(&path, doc).unwrap();
    let l = load_path(&path, LoadOptions::default()).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(l.telemetry.spans.len(), 1);
    assert_eq!(l.skipped(), 1);
    let issue = &l.issues[0];
    assert_eq!(
        issue.field,
        "resourceSpans[0].scopeSpans[0].spans[1].spanId"
    );
    assert_eq!(issue.line, Some(7), "{issue}");
    assert!(
        issue.to_string().contains("doc.json:7: resourceSpans[0]"),
        "{issue}"
    );
}

/// A Jaeger document with a syntax error deep inside: the streaming reader gives up its fast
/// scan and the walk names the line and column; from a file and from memory alike.
#[test]
fn invalid_json_in_a_streamed_document_names_line_and_column() {
    let doc = format!(
        "{{\"data\": [\n {{\"traceID\": \"{TID}\", \"spans\": []}},\n {{\"traceID\": \"{TID}\", \"spans\": [1,]}}\n]}}\n"
    );
    let dir = tempfile_dir("invalid-jaeger");
    let path = dir.join("jaeger.json");
    std::fs::write(&path, &doc).unwrap();
    let from_file = load_path(&path, LoadOptions::default()).unwrap_err();
    std::fs::remove_dir_all(&dir).unwrap();
    let from_memory = load_bytes(doc.as_bytes(), LoadOptions::default()).unwrap_err();
    for e in [from_file.to_string(), from_memory.to_string()] {
        assert!(e.contains(":3:"), "{e}");
        assert!(e.contains("invalid JSON"), "{e}");
    }
}

/// Pretty-printed documents one after another stream one at a time; a broken one ends the read
/// with an issue, and what came before is kept (once, even though the fast scan gave up).
#[test]
fn concatenated_documents_stream_and_a_broken_one_is_reported() {
    let span = |id: &str| {
        format!(
            "{{\n \"data\": [{{\"traceID\": \"{TID}\", \"spans\": [\n  {{\"traceID\": \"{TID}\", \"spanID\": \"{id}\", \"operationName\": \"x\"}}\n ]}}]\n}}\n"
        )
    };
    let good = format!("{}{}", span("b7ad6b7169203331"), span("b7ad6b7169203332"));
    let l = load_bytes(good.as_bytes(), LoadOptions::default()).unwrap();
    assert_eq!(l.format, Some(Format::OtlpJsonl));
    assert_eq!((l.telemetry.spans.len(), l.skipped()), (2, 0));
    let broken = format!("{good}{{\n \"data\": [\n");
    let l = load_bytes(broken.as_bytes(), LoadOptions::default()).unwrap();
    assert_eq!((l.telemetry.spans.len(), l.skipped()), (2, 1));
    assert!(
        l.issues[0].message.contains("invalid JSON"),
        "{}",
        l.issues[0]
    );
    assert_eq!(l.issues[0].line, Some(13));
}

/// Lines longer than 1 MiB take the path that reads the file again instead of holding the line:
/// one-line documents (canonical, Tempo, Jaeger), a long first line of JSON Lines, and a
/// document whose long first line is not a whole value. Each gives what reading from memory gives.
#[test]
fn long_first_lines_read_from_the_file_equal_reading_from_memory() {
    let span = |i: usize| {
        format!(
            r#"{{"traceId":"{TID}","spanId":"{:016x}","name":"s","startTimeUnixNano":"{i}","endTimeUnixNano":"{i}","attributes":[{{"key":"k","value":{{"stringValue":"v{i}"}}}}]}}"#,
            i + 1
        )
    };
    let spans: Vec<String> = (0..9000).map(span).collect();
    let rs = |list: &[String]| {
        format!(
            r#"{{"resource":{{"attributes":[]}},"scopeSpans":[{{"scope":{{"name":"t"}},"spans":[{}]}}]}}"#,
            list.join(",")
        )
    };
    let canonical = format!(r#"{{"resourceSpans":[{}]}}"#, rs(&spans));
    let tempo = format!(r#"{{"batches":[{}]}}"#, rs(&spans));
    let jaeger = format!(
        r#"{{"data":[{{"traceID":"{TID}","spans":[{}]}}]}}"#,
        (0..9000)
            .map(|i| format!(
                r#"{{"traceID":"{TID}","spanID":"{:016x}","operationName":"s","tags":[{{"key":"k","type":"string","value":"v{i}"}}]}}"#,
                i + 1
            ))
            .collect::<Vec<_>>()
            .join(",")
    );
    let jsonl = format!("{canonical}\n{}\n", r#"{"resourceSpans":[]}"#);
    let split = format!(
        "{{\"resourceSpans\":[{},\n{}\n]}}\n",
        rs(&spans[..8000]),
        rs(&spans[8000..])
    );
    let dir = tempfile_dir("long-lines");
    for (name, text, want) in [
        ("canonical", &canonical, Format::OtlpJson),
        ("tempo", &tempo, Format::TempoBatches),
        ("jaeger", &jaeger, Format::JaegerJson),
        ("jsonl", &jsonl, Format::OtlpJsonl),
        ("split", &split, Format::OtlpJson),
    ] {
        assert!(text.len() > 1 << 20, "{name}");
        let path = dir.join(format!("{name}.json"));
        std::fs::write(&path, text).unwrap();
        let file = load_path(&path, LoadOptions::default()).unwrap();
        let memory = load_bytes(text.as_bytes(), LoadOptions::default()).unwrap();
        assert_eq!(file.format, Some(want), "{name}");
        assert_eq!(file.telemetry.spans.len(), 9000, "{name}");
        assert_eq!(file.telemetry, memory.telemetry, "{name}");
        assert_eq!((file.format, file.skipped()), (memory.format, 0), "{name}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn one_line_pretty_and_lenient_documents_read_alike() {
    // The same canonical document on one line (read in place by the typed fast path), with
    // trailing blank lines, and pretty-printed (the general route); and a one-line document the
    // fast path refuses (flat attributes), which the lenient reader takes.
    let doc = serde_json::json!({"resourceSpans": [{"resource": {"attributes": [
        {"key": "service.name", "value": {"stringValue": "svc"}}]},
        "scopeSpans": [{"scope": {"name": "s"}, "spans": [{
            "traceId": "0102030405060708090a0b0c0d0e0f10", "spanId": "0102030405060708",
            "name": "chat", "kind": 3, "startTimeUnixNano": "1", "endTimeUnixNano": "2",
            "attributes": [{"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}}]}]}]}]});
    let one_line = serde_json::to_vec(&doc).unwrap();
    let mut trailing = one_line.clone();
    trailing.extend_from_slice(b"\n\n  \n");
    let pretty = serde_json::to_vec_pretty(&doc).unwrap();
    let expected = load(&pretty);
    assert_eq!(expected.telemetry.spans.len(), 1);
    for (what, bytes) in [("one line", &one_line), ("trailing blank lines", &trailing)] {
        for format in [None, Some(Format::OtlpJson)] {
            let loaded = load_bytes(bytes, LoadOptions { format }).unwrap();
            assert_eq!(loaded.telemetry, expected.telemetry, "{what}, {format:?}");
            assert_eq!(loaded.format, Some(Format::OtlpJson), "{what}, {format:?}");
            assert!(loaded.issues.is_empty());
        }
    }
    let mut flat = doc.clone();
    flat["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["attributes"] =
        serde_json::json!({"gen_ai.operation.name": "chat"});
    let flat = load_bytes(
        &serde_json::to_vec(&flat).unwrap(),
        LoadOptions {
            format: Some(Format::OtlpJson),
        },
    )
    .unwrap();
    assert_eq!(
        flat.telemetry.spans[0].attributes,
        expected.telemetry.spans[0].attributes
    );
}
