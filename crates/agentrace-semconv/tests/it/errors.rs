//! Malformed input gives an error that says where; unknown part types and roles survive.

use agentrace_semconv::enums::Role;
use agentrace_semconv::message::{ModelError, Part};
use agentrace_semconv::parse;
use serde_json::{Value, json};

#[test]
fn missing_field_in_a_part_names_the_path() {
    let json = r#"[
        {"role": "user", "parts": [{"type": "text", "content": "a"}]},
        {"role": "assistant", "parts": [{"type": "text", "content": "b"}]},
        {"role": "user", "parts": [{"type": "text"}]}
    ]"#;
    let err = parse::input_messages_strict(json).expect_err("strict");
    assert_eq!(err.path, "messages[2].parts[0]");
    assert_eq!(
        err.to_string(),
        "messages[2].parts[0]: missing field `content`"
    );
}

#[test]
fn structural_errors_name_the_path() {
    let cases: &[(&str, &str, &str)] = &[
        (
            r#"[{"role":"user"}]"#,
            "messages[0]",
            "missing field `parts`",
        ),
        (r#"[{"parts":[]}]"#, "messages[0]", "missing field `role`"),
        (
            r#"[{"role":7,"parts":[]}]"#,
            "messages[0].role",
            "invalid type: integer `7`",
        ),
        (
            r#"[{"role":"user","parts":[{"type":"text","content":"x"},{"content":"no type"}]}]"#,
            "messages[0].parts[1]",
            "missing field `type`",
        ),
        (
            r#"[{"role":"user","parts":[{"type":3}]}]"#,
            "messages[0].parts[0]",
            "invalid type for field `type`: expected a string, found number `3`",
        ),
        (
            r#"[{"role":"user","parts":["just text"]}]"#,
            "messages[0].parts[0]",
            "invalid type: expected an object, found string \"just text\"",
        ),
        (
            r#"[{"role":"user","parts":[],"name":5}]"#,
            "messages[0].name",
            "invalid type: integer `5`",
        ),
        (
            r#"{"role":"user"}"#,
            "messages",
            "invalid type: map, expected a sequence",
        ),
    ];
    for (json, path, message) in cases {
        let err = parse::input_messages(json).expect_err(json);
        assert_eq!(&err.path, path, "{json}: {err}");
        assert!(err.message.starts_with(message), "{json}: {err}");
    }
}

#[test]
fn output_messages_need_a_finish_reason() {
    let err =
        parse::output_messages(r#"[{"role":"assistant","parts":[]}]"#).expect_err("no reason");
    assert_eq!(err.path, "messages[0]");
    assert!(
        err.message.starts_with("missing field `finish_reason`"),
        "{err}"
    );
}

#[test]
fn syntax_errors_give_the_path_and_position() {
    let err = parse::input_messages(
        r#"[{"role":"user","parts":[{"type":"text","content":"x"}]},{"role":"us"#,
    )
    .expect_err("truncated");
    assert!(err.path.starts_with("messages[1]"), "{err}");
    assert!(err.message.contains("line 1 column"), "{err}");
    let err = parse::input_messages("[] trailing").expect_err("trailing characters");
    assert!(err.message.contains("trailing characters"), "{err}");
}

#[test]
fn strict_errors_in_other_documents() {
    let err = parse::output_messages_strict(
        r#"[{"role":"assistant","parts":[{"type":"uri","modality":"image"}],"finish_reason":"stop"}]"#,
    )
    .expect_err("uri without uri");
    assert_eq!(err.to_string(), "messages[0].parts[0]: missing field `uri`");
    let err = parse::system_instructions_strict(
        r#"[{"type":"text","content":"a"},{"type":"blob","modality":"image","content":5}]"#,
    )
    .expect_err("blob content not a string");
    assert_eq!(
        err.to_string(),
        "instructions[1]: invalid type for field `content`: expected a string, found number `5`"
    );
    let err = parse::tool_definitions(r#"[{"type":"function"}]"#).expect_err("no name");
    assert!(
        err.to_string()
            .starts_with("tools[0]: missing field `name`"),
        "{err}"
    );
    let err = parse::retrieval_documents(r#"[{"id":"a","score":"high"}]"#).expect_err("score");
    assert_eq!(err.path, "documents[0].score");
}

#[test]
fn structured_values_parse_with_paths_too() {
    let err = parse::output_messages_value(
        json!([{"role": "assistant", "parts": [], "finish_reason": 1}]),
    )
    .expect_err("finish_reason not a string");
    assert_eq!(err.path, "messages[0].finish_reason");
}

#[test]
fn unknown_part_types_and_roles_survive_a_round_trip() {
    let json = json!([{
        "role": "reviewer",
        "parts": [
            {"type": "video_frame", "frame": 12, "nested": {"a": [1, 2, {"b": null}]}},
            {"type": "text", "content": "ok", "confidence": 0.9}
        ],
        "session": {"turn": 3}
    }]);
    let model = parse::input_messages_value(json.clone()).expect("valid");
    assert_eq!(model[0].role, Role::Other("reviewer".into()));
    assert_eq!(model[0].parts[0].kind(), "video_frame");
    assert!(!model[0].parts[0].is_misfit());
    assert_eq!(model[0].parts[1].extra()["confidence"], json!(0.9));
    assert_eq!(serde_json::to_value(&model).expect("ser"), json);
}

#[test]
fn part_parsing_modes() {
    let misfit = json!({"type": "text", "text": "OpenAI spelling"});
    assert_eq!(
        Part::from_value_strict(misfit.clone()),
        Err(ModelError::MissingField("content"))
    );
    let part = Part::from_value(misfit.clone()).expect("generic");
    assert!(part.is_misfit());
    assert_eq!(part.to_value(), misfit);

    // The lenient form never fails and keeps non-parts whole.
    let odd = json!([1, "two"]);
    let part = Part::from_value_lenient(odd.clone());
    assert_eq!(part.kind(), agentrace_semconv::message::UNMAPPED_PART_TYPE);
    assert_eq!(part.extra()["value"], odd);
    assert!(Part::from_value(Value::Null).is_err());
}
