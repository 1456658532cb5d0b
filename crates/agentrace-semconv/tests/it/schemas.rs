//! The official schemas and the examples of the conventions: every example parses into the
//! model and serializes back to equal JSON, and what the model writes validates.

use agentrace_semconv::enums::{FinishReason, Modality, Role};
use agentrace_semconv::message::{
    BlobPart, ChatMessage, Extra, FilePart, OutputMessage, Part, RetrievalDocument,
    ServerToolCallPart, ServerToolCallResponsePart, ServerToolDetails, SystemInstructions,
    ToolDefinition, UriPart,
};
use agentrace_semconv::parse;
use serde_json::{Value, json};

use crate::testkit::{
    DOCUMENTS_SCHEMA, INPUT_SCHEMA, OUTPUT_SCHEMA, SYSTEM_SCHEMA, TOOLS_SCHEMA, assert_valid,
    fixture_path, read_json, validator, yaml_block_examples,
};

/// Parses `json` with `parse_fn`, serializes the model back, and checks equal JSON and schema
/// validity of what the model wrote.
fn round_trip<T: serde::Serialize>(
    what: &str,
    json: &str,
    parse_fn: impl Fn(&str) -> Result<T, parse::ParseError>,
    schema: &str,
) -> T {
    let model = parse_fn(json).unwrap_or_else(|err| panic!("{what}: {err}"));
    let written = serde_json::to_value(&model).expect("serializable");
    let original: Value = serde_json::from_str(json).expect("example is JSON");
    assert_eq!(written, original, "{what}: round trip changed the JSON");
    assert_valid(&validator(schema), &written, what);
    // And what we wrote parses back to the same JSON again.
    let again =
        serde_json::to_value(parse_fn(&written.to_string()).expect("reparse")).expect("ser");
    assert_eq!(again, written, "{what}: second round trip");
    model
}

#[test]
fn registry_system_instructions_examples_round_trip() {
    let examples = yaml_block_examples("registry.yaml", "gen_ai.system_instructions");
    assert_eq!(examples.len(), 2);
    for (i, example) in examples.iter().enumerate() {
        let model = round_trip(
            &format!("system_instructions example {i}"),
            example,
            parse::system_instructions_strict,
            SYSTEM_SCHEMA,
        );
        assert!(model.parts.iter().all(|p| p.as_text().is_some()));
    }
}

#[test]
fn registry_output_messages_example_round_trips() {
    let examples = yaml_block_examples("registry.yaml", "gen_ai.output.messages");
    assert_eq!(examples.len(), 1);
    let model = round_trip(
        "output example",
        &examples[0],
        parse::output_messages_strict,
        OUTPUT_SCHEMA,
    );
    assert_eq!(model[0].finish_reason, FinishReason::Stop);
    assert_eq!(model[0].role, Role::Assistant);
}

#[test]
fn registry_tool_definitions_example_round_trips() {
    let examples = yaml_block_examples("registry.yaml", "gen_ai.tool.definitions");
    assert_eq!(examples.len(), 1);
    let model = round_trip(
        "tool definitions example",
        &examples[0],
        parse::tool_definitions,
        TOOLS_SCHEMA,
    );
    let ToolDefinition::Function(function) = &model[0] else {
        panic!("a function tool: {model:?}");
    };
    assert_eq!(function.name, "get_current_weather");
    assert!(function.parameters.is_some());
}

#[test]
fn registry_retrieval_documents_example_round_trips() {
    let examples = yaml_block_examples("registry.yaml", "gen_ai.retrieval.documents");
    assert_eq!(examples.len(), 1);
    let docs: Vec<RetrievalDocument> = round_trip(
        "retrieval documents example",
        &examples[0],
        parse::retrieval_documents,
        DOCUMENTS_SCHEMA,
    );
    assert_eq!(docs.len(), 3);
    assert_eq!(docs[0].id, "doc_123");
}

/// The registry's `gen_ai.input.messages` example writes `"result"` in a `tool_call_response`
/// part, but the schema requires `response`. Honestly: the part is valid only as the schema's
/// `GenericPart`, so the model keeps it as a generic part of type `tool_call_response` with
/// `result` (round trip exact, validates), the strict parser rejects it and says where, and the
/// corrected example parses as a real tool call response.
#[test]
fn registry_input_messages_example_keeps_result_as_generic_part() {
    let examples = yaml_block_examples("registry.yaml", "gen_ai.input.messages");
    assert_eq!(examples.len(), 1);
    let example = &examples[0];
    assert!(
        example.contains("\"result\""),
        "the pitfall is still in the example"
    );

    let model = round_trip(
        "input example",
        example,
        parse::input_messages,
        INPUT_SCHEMA,
    );
    let Part::Generic(generic) = &model[2].parts[0] else {
        panic!("kept as a generic part: {:?}", model[2].parts[0]);
    };
    assert_eq!(generic.kind, "tool_call_response");
    assert_eq!(generic.fields["result"], json!("rainy, 57°F"));
    assert!(model[2].parts[0].is_misfit());
    assert_eq!(
        model[1].parts[0],
        Part::tool_call(
            Some("call_VSPygqKTWdrhaFErNvMV18Yl".into()),
            "get_weather",
            Some(json!({"location": "Paris"}))
        )
    );

    let err = parse::input_messages_strict(example).expect_err("strict parse rejects `result`");
    assert_eq!(
        err.to_string(),
        "messages[2].parts[0]: missing field `response`"
    );

    let corrected = example.replace("\"result\"", "\"response\"");
    let model = round_trip(
        "corrected input example",
        &corrected,
        parse::input_messages_strict,
        INPUT_SCHEMA,
    );
    assert!(
        matches!(&model[2].parts[0], Part::ToolCallResponse(r) if r.response == json!("rainy, 57°F"))
    );
}

#[test]
fn fixtures_with_every_part_type_round_trip_and_validate() {
    let text = |name: &str| read_json(fixture_path(name)).to_string();
    let input = round_trip(
        "input fixture",
        &text("input-all-parts.json"),
        parse::input_messages_strict,
        INPUT_SCHEMA,
    );
    let kinds: Vec<&str> = input
        .iter()
        .flat_map(|m| m.parts.iter().map(Part::kind))
        .collect();
    for kind in agentrace_semconv::message::KNOWN_PART_TYPES {
        assert!(kinds.contains(kind), "fixture covers {kind}");
    }
    assert_eq!(input[4].role, Role::Other("critic".into()));
    assert!(matches!(&input[4].parts[0], Part::Generic(g) if g.kind == "citation"));
    assert_eq!(input[2].extra["x_latency_ms"], json!(120));
    // An explicit `"mime_type": null` is kept, not turned into an absent field.
    assert!(
        matches!(&input[1].parts[5], Part::Blob(b) if b.mime_type.is_none() && b.extra["mime_type"].is_null())
    );

    let output = round_trip(
        "output fixture",
        &text("output-all-parts.json"),
        parse::output_messages_strict,
        OUTPUT_SCHEMA,
    );
    let reasons: Vec<&str> = output.iter().map(|m| m.finish_reason.as_str()).collect();
    assert_eq!(
        reasons,
        [
            "stop",
            "tool_call",
            "length",
            "content_filter",
            "error",
            "end_turn"
        ]
    );

    round_trip(
        "system instructions fixture",
        &text("system-instructions.json"),
        parse::system_instructions_strict,
        SYSTEM_SCHEMA,
    );
    let tools = round_trip(
        "tool definitions fixture",
        &text("tool-definitions.json"),
        parse::tool_definitions,
        TOOLS_SCHEMA,
    );
    let kinds: Vec<&str> = tools.iter().map(ToolDefinition::kind).collect();
    assert_eq!(
        kinds,
        ["function", "function", "function", "web_search", "mcp"]
    );
}

/// Messages built in code (the producer side) validate, for every part variant.
#[test]
fn model_built_messages_validate() {
    let mut extra = Extra::new();
    extra.insert("x_note".into(), json!("kept"));
    let parts = vec![
        Part::text("hi"),
        Part::reasoning("thinking"),
        Part::tool_call(None, "f", None),
        Part::tool_call(Some("c1".into()), "f", Some(json!({"a": 1}))),
        Part::tool_call_response(Some("c1".into()), json!(["any", 1])),
        Part::ServerToolCall(ServerToolCallPart {
            id: None,
            name: "code_interpreter".into(),
            server_tool_call: ServerToolDetails {
                kind: "code_interpreter".into(),
                fields: extra.clone(),
            },
            extra: Extra::new(),
        }),
        Part::ServerToolCallResponse(ServerToolCallResponsePart {
            id: Some("s1".into()),
            server_tool_call_response: ServerToolDetails {
                kind: "code_interpreter".into(),
                fields: Extra::new(),
            },
            extra: extra.clone(),
        }),
        Part::Blob(BlobPart {
            modality: Modality::Audio,
            mime_type: Some("audio/wav".into()),
            content: "AAAA".into(),
            extra: Extra::new(),
        }),
        Part::File(FilePart {
            modality: Modality::Other("3d".into()),
            mime_type: None,
            file_id: "f1".into(),
            extra: Extra::new(),
        }),
        Part::Uri(UriPart {
            modality: Modality::Image,
            mime_type: None,
            uri: "https://x".into(),
            extra,
        }),
        Part::generic("custom", Extra::new()),
    ];
    let input = vec![
        ChatMessage::new(Role::User, parts.clone()).with_name("bob"),
        ChatMessage::new("moderator", vec![]),
    ];
    let output = vec![OutputMessage::new(Role::Assistant, parts.clone(), "stop")];
    let system = SystemInstructions {
        parts: parts
            .into_iter()
            .filter(|p| !matches!(p, Part::ServerToolCall(_) | Part::ServerToolCallResponse(_)))
            .collect(),
    };
    let tools = vec![
        ToolDefinition::function("f", Some("does f".into()), Some(json!({"type": "object"}))),
        ToolDefinition::function("g", None, None),
    ];
    assert_valid(
        &validator(INPUT_SCHEMA),
        &serde_json::to_value(&input).expect("ser"),
        "input",
    );
    assert_valid(
        &validator(OUTPUT_SCHEMA),
        &serde_json::to_value(&output).expect("ser"),
        "output",
    );
    assert_valid(
        &validator(SYSTEM_SCHEMA),
        &serde_json::to_value(&system).expect("ser"),
        "system",
    );
    assert_valid(
        &validator(TOOLS_SCHEMA),
        &serde_json::to_value(&tools).expect("ser"),
        "tools",
    );
}

/// The validator really checks: a message without `parts`, a part without `type` and a tool
/// definition without a name are rejected (so the tests above mean something). The tool
/// schema compiling at all shows that its draft-07 `$ref` resolves offline.
#[test]
fn validator_rejects_invalid_documents() {
    let input = validator(INPUT_SCHEMA);
    assert!(!input.is_valid(&json!([{"role": "user"}])));
    assert!(!input.is_valid(&json!([{"role": "user", "parts": [{"content": "no type"}]}])));
    let tools = validator(TOOLS_SCHEMA);
    assert!(!tools.is_valid(&json!([{"type": "function"}])));
    assert!(!tools.is_valid(&json!([{"type": "function", "name": 5}])));
    assert!(
        tools.is_valid(
            &json!([{"type": "function", "name": "f", "parameters": {"type": "object"}}])
        )
    );
}

/// The model's parts are exactly the schemas' part definitions (plus `GenericPart`), so a new
/// part type in an updated schema shows up here.
#[test]
fn known_part_types_match_the_schema() {
    let schema = read_json(crate::testkit::semconv_dir().join(INPUT_SCHEMA));
    let mut from_schema: Vec<String> = schema["$defs"]
        .as_object()
        .expect("$defs")
        .values()
        .filter_map(|def| {
            def["properties"]["type"]["const"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    from_schema.sort();
    let mut ours: Vec<String> = agentrace_semconv::message::KNOWN_PART_TYPES
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    ours.sort();
    assert_eq!(ours, from_schema);
}
