//! Property tests: message model ↔ JSON round trips (validating against the schemas), enum
//! round trips, and legacy → current conversions keep every piece of content.

use std::str::FromStr;
use std::sync::LazyLock;

use agentrace_semconv::enums::{
    FinishReason, Modality, OperationName, OutputType, ProviderName, Role, TokenType, ToolType,
};
use agentrace_semconv::event;
use agentrace_semconv::legacy;
use agentrace_semconv::message::{
    BlobPart, ChatMessage, Extra, FilePart, GenericPart, KNOWN_PART_TYPES, OutputMessage, Part,
    ReasoningPart, ServerToolCallPart, ServerToolCallResponsePart, ServerToolDetails,
    SystemInstructions, TextPart, ToolCallRequestPart, ToolCallResponsePart, UriPart,
};
use agentrace_semconv::parse;
use proptest::prelude::*;
use serde_json::{Value, json};

use crate::testkit::{INPUT_SCHEMA, OUTPUT_SCHEMA, SYSTEM_SCHEMA, validator};

static INPUT: LazyLock<jsonschema::Validator> = LazyLock::new(|| validator(INPUT_SCHEMA));
static OUTPUT: LazyLock<jsonschema::Validator> = LazyLock::new(|| validator(OUTPUT_SCHEMA));
static SYSTEM: LazyLock<jsonschema::Validator> = LazyLock::new(|| validator(SYSTEM_SCHEMA));

/// Any printable text, multi-byte included.
fn text() -> impl Strategy<Value = String> {
    "\\PC{0,12}"
}

/// Any JSON value (integers, not floats, so equality is exact).
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("\\PC{0,6}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Extra fields: keys that no known field uses.
fn extra() -> impl Strategy<Value = Extra> {
    prop::collection::btree_map("x_[a-z0-9_]{0,6}", json_value(), 0..3)
        .prop_map(|m| m.into_iter().collect())
}

fn modality() -> impl Strategy<Value = Modality> {
    prop_oneof![
        Just(Modality::Image),
        Just(Modality::Video),
        Just(Modality::Audio),
        Just(Modality::Document),
        text().prop_map(Modality::from),
    ]
}

fn role() -> impl Strategy<Value = Role> {
    prop_oneof![
        Just(Role::System),
        Just(Role::User),
        Just(Role::Assistant),
        Just(Role::Tool),
        text().prop_map(Role::from),
    ]
}

fn details() -> impl Strategy<Value = ServerToolDetails> {
    (text(), extra()).prop_map(|(kind, fields)| ServerToolDetails { kind, fields })
}

fn part() -> impl Strategy<Value = Part> {
    let opt = || prop::option::of(text());
    prop_oneof![
        (text(), extra()).prop_map(|(content, extra)| Part::Text(TextPart { content, extra })),
        (opt(), text(), prop::option::of(json_value()), extra()).prop_map(
            |(id, name, arguments, extra)| {
                Part::ToolCall(ToolCallRequestPart {
                    id,
                    name,
                    arguments,
                    extra,
                })
            }
        ),
        (opt(), json_value(), extra()).prop_map(|(id, response, extra)| {
            Part::ToolCallResponse(ToolCallResponsePart {
                id,
                response,
                extra,
            })
        }),
        (opt(), text(), details(), extra()).prop_map(|(id, name, server_tool_call, extra)| {
            Part::ServerToolCall(ServerToolCallPart {
                id,
                name,
                server_tool_call,
                extra,
            })
        }),
        (opt(), details(), extra()).prop_map(|(id, server_tool_call_response, extra)| {
            Part::ServerToolCallResponse(ServerToolCallResponsePart {
                id,
                server_tool_call_response,
                extra,
            })
        }),
        (modality(), opt(), "[A-Za-z0-9+/]{0,16}", extra()).prop_map(
            |(modality, mime_type, content, extra)| {
                Part::Blob(BlobPart {
                    modality,
                    mime_type,
                    content,
                    extra,
                })
            }
        ),
        (modality(), opt(), text(), extra()).prop_map(|(modality, mime_type, file_id, extra)| {
            Part::File(FilePart {
                modality,
                mime_type,
                file_id,
                extra,
            })
        }),
        (modality(), opt(), text(), extra()).prop_map(|(modality, mime_type, uri, extra)| {
            Part::Uri(UriPart {
                modality,
                mime_type,
                uri,
                extra,
            })
        }),
        (text(), extra())
            .prop_map(|(content, extra)| Part::Reasoning(ReasoningPart { content, extra })),
        // Generic parts: an unknown type with arbitrary extra fields (any key but `type`).
        (
            "\\PC{0,10}".prop_filter("not a known part type", |k| !KNOWN_PART_TYPES
                .contains(&k.as_str())),
            prop::collection::btree_map(
                "\\PC{0,6}".prop_filter("not `type`", |k| k != "type"),
                json_value(),
                0..4
            ),
        )
            .prop_map(|(kind, fields)| Part::Generic(GenericPart {
                kind,
                fields: fields.into_iter().collect()
            })),
    ]
}

fn chat_message() -> impl Strategy<Value = ChatMessage> {
    (
        role(),
        prop::collection::vec(part(), 0..5),
        prop::option::of(text()),
        extra(),
    )
        .prop_map(|(role, parts, name, extra)| ChatMessage {
            role,
            parts,
            name,
            extra,
        })
}

fn finish_reason() -> impl Strategy<Value = FinishReason> {
    prop_oneof![
        Just(FinishReason::Stop),
        Just(FinishReason::ToolCall),
        Just(FinishReason::Error),
        text().prop_map(FinishReason::from),
    ]
}

fn output_message() -> impl Strategy<Value = OutputMessage> {
    (chat_message(), finish_reason()).prop_map(|(m, finish_reason)| OutputMessage {
        role: m.role,
        parts: m.parts,
        name: m.name,
        finish_reason,
        extra: m.extra,
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn input_messages_round_trip(messages in prop::collection::vec(chat_message(), 0..4)) {
        let json = serde_json::to_string(&messages).expect("serializable");
        let value: Value = serde_json::from_str(&json).expect("JSON");
        prop_assert!(INPUT.is_valid(&value), "invalid: {value:#}");
        let back = parse::input_messages_strict(&json).expect("parses");
        prop_assert_eq!(&back, &messages);
        prop_assert_eq!(serde_json::to_value(&back).expect("ser"), value);
    }

    #[test]
    fn output_messages_round_trip(messages in prop::collection::vec(output_message(), 0..4)) {
        let value = serde_json::to_value(&messages).expect("serializable");
        prop_assert!(OUTPUT.is_valid(&value), "invalid: {value:#}");
        let back = parse::output_messages_value(value.clone()).expect("parses");
        prop_assert_eq!(&back, &messages);
    }

    #[test]
    fn system_instructions_round_trip(parts in prop::collection::vec(part(), 0..6)) {
        let parts: Vec<Part> = parts
            .into_iter()
            .filter(|p| !matches!(p, Part::ServerToolCall(_) | Part::ServerToolCallResponse(_)))
            .collect();
        let instructions = SystemInstructions { parts };
        let json = serde_json::to_string(&instructions).expect("serializable");
        let value: Value = serde_json::from_str(&json).expect("JSON");
        prop_assert!(SYSTEM.is_valid(&value), "invalid: {value:#}");
        prop_assert_eq!(parse::system_instructions(&json).expect("parses"), instructions);
    }

    /// Parsing arbitrary JSON never panics, and whatever parses writes back the same JSON.
    #[test]
    fn arbitrary_parts_parse_or_fail_cleanly(value in json_value()) {
        if let Ok(part) = Part::from_value(value.clone()) {
            prop_assert_eq!(part.to_value(), value.clone());
        }
        let lenient = Part::from_value_lenient(value.clone());
        let written = lenient.to_value();
        prop_assert!(contains_value(&written, &value));
    }

    #[test]
    fn enums_round_trip(s in "\\PC{0,16}") {
        fn check<T: FromStr<Err = std::convert::Infallible> + ToString + PartialEq + std::fmt::Debug + serde::Serialize + serde::de::DeserializeOwned>(s: &str, aliases: &[&str]) -> Result<(), TestCaseError> {
            let Ok(parsed) = T::from_str(s);
            if !aliases.contains(&s) {
                prop_assert_eq!(parsed.to_string(), s);
            }
            let json = serde_json::to_string(&parsed).expect("ser");
            prop_assert_eq!(serde_json::from_str::<T>(&json).expect("de"), parsed);
            Ok(())
        }
        check::<OperationName>(&s, &[])?;
        check::<ProviderName>(&s, &[])?;
        check::<FinishReason>(&s, &[])?;
        check::<TokenType>(&s, &["completion"])?;
        check::<OutputType>(&s, &[])?;
        check::<Role>(&s, &[])?;
        check::<ToolType>(&s, &[])?;
        check::<Modality>(&s, &[])?;
    }

    #[test]
    fn span_names_split_back(op in prop::sample::select(OperationName::KNOWN), target in "[^ ]\\PC{0,10}") {
        let name = agentrace_semconv::span::span_name(&op, Some(&target));
        let trimmed = target.trim();
        let expected = (!trimmed.is_empty()).then_some(trimmed);
        prop_assert_eq!(agentrace_semconv::span::parse_span_name(&name), Some((op, expected)));
    }

    #[test]
    fn openai_conversion_keeps_every_string(message in openai_message()) {
        let converted = legacy::from_openai_message(&message).expect("has a role");
        let written = serde_json::to_value(&converted).expect("ser");
        prop_assert!(INPUT.is_valid(&serde_json::to_value([&converted]).expect("ser")));
        assert_keeps_strings(&message, &written)?;
    }

    #[test]
    fn deprecated_bodies_keep_every_string(body in openai_message(), reason in "[a-z_]{0,10}", index in prop::option::of(0u64..5)) {
        let mut body = body;
        if let Value::Object(map) = &mut body {
            map.remove("role");
        }
        for name in event::DEPRECATED_MESSAGE_EVENTS {
            let converted = legacy::from_message_event_body(name, &body).expect("a body");
            assert_keeps_strings(&body, &serde_json::to_value(&converted).expect("ser"))?;
        }
        let mut choice = json!({"finish_reason": reason, "message": body});
        if let Some(index) = index {
            choice["index"] = json!(index);
        }
        let converted = legacy::from_choice_event_body(&choice).expect("a choice");
        let written = serde_json::to_value(&converted.message).expect("ser");
        prop_assert!(OUTPUT.is_valid(&Value::Array(vec![written.clone()])));
        prop_assume!(reason != "tool_calls" && reason != "function_call");
        assert_keeps_strings(&choice, &written)?;
    }

    #[test]
    fn legacy_event_models_keep_every_string(body in openai_message()) {
        if let Ok(event) = serde_json::from_value::<legacy::MessageEvent>(body.clone()) {
            let converted = ChatMessage::from(&event);
            let original = serde_json::to_value(&event).expect("ser");
            assert_keeps_strings(&original, &serde_json::to_value(&converted).expect("ser"))?;
        }
    }
}

/// An OpenAI-style chat message with every shape of content the converter knows, plus
/// arbitrary items and extra fields.
fn openai_message() -> impl Strategy<Value = Value> {
    let item = prop_oneof![
        text().prop_map(Value::String),
        (text(), extra()).prop_map(|(t, mut e)| {
            e.insert("type".into(), json!("text"));
            e.insert("text".into(), json!(t));
            Value::Object(e)
        }),
        (text(), text()).prop_map(|(u, d)| json!({"type": "image_url", "image_url": {"url": format!("https://x/{u}"), "detail": d}})),
        (text(), text()).prop_map(|(data, format)| json!({"type": "input_audio", "input_audio": {"data": data, "format": format}})),
        (text(), text()).prop_map(|(id, name)| json!({"type": "file", "file": {"file_id": id, "filename": name}})),
        (text(), extra()).prop_map(|(kind, mut e)| {
            e.insert("type".into(), json!(kind));
            Value::Object(e)
        }),
        (text(), text(), json_value()).prop_map(|(id, name, input)| json!({"type": "tool_use", "id": id, "name": name, "input": input})),
        (text(), json_value()).prop_map(|(id, content)| json!({"type": "tool_result", "tool_use_id": id, "content": content, "is_error": true})),
        (text(), text()).prop_map(|(t, sig)| json!({"type": "thinking", "thinking": t, "signature": sig})),
        (text(), text()).prop_map(|(mime, data)| json!({"type": "image", "source": {"type": "base64", "media_type": mime, "data": data}})),
        (text(), text(), json_value()).prop_map(|(id, name, input)| json!({"toolUse": {"toolUseId": id, "name": name, "input": input}})),
        (text(), json_value(), text()).prop_map(|(id, content, status)| json!({"toolResult": {"toolUseId": id, "content": content, "status": status}})),
        (text(), text()).prop_map(|(t, sig)| json!({"reasoningContent": {"reasoningText": {"text": t, "signature": sig}}})),
        (text(), text()).prop_map(|(format, bytes)| json!({"image": {"format": format, "source": {"bytes": bytes}}})),
        json_value(),
    ];
    let content = prop_oneof![
        Just(Value::Null),
        text().prop_map(Value::String),
        prop::collection::vec(item, 0..4).prop_map(Value::Array),
    ];
    let arguments = prop_oneof![
        text().prop_map(Value::String),
        json_value().prop_map(|v| Value::String(json!({"arg": v}).to_string())),
        json_value(),
    ];
    let call = prop_oneof![
        (text(), text(), arguments).prop_map(|(id, name, arguments)| json!({"id": id, "type": "function", "function": {"name": name, "arguments": arguments}})),
        json_value(),
    ];
    let role = prop_oneof![
        Just("user".to_owned()),
        Just("assistant".to_owned()),
        Just("system".to_owned()),
        Just("tool".to_owned()),
        Just("function".to_owned()),
        text(),
    ];
    (
        role,
        content,
        prop::option::of(prop::collection::vec(call, 0..3)),
        prop::option::of(text()),
        prop::option::of(text()),
        prop::option::of(text()),
        extra(),
    )
        .prop_map(
            |(role, content, calls, tool_call_id, name, reasoning, extra)| {
                let mut m = extra;
                m.insert("role".into(), json!(role));
                m.insert("content".into(), content);
                if let Some(calls) = calls {
                    m.insert("tool_calls".into(), Value::Array(calls));
                }
                if let Some(id) = tool_call_id {
                    m.insert("tool_call_id".into(), json!(id));
                }
                if let Some(name) = name {
                    m.insert("name".into(), json!(name));
                }
                if let Some(reasoning) = reasoning {
                    m.insert("reasoning_content".into(), json!(reasoning));
                }
                Value::Object(m)
            },
        )
}

/// Every string value of the input (other than `type` discriminators) appears in the output:
/// as a string, or, for a JSON string the converter parsed (tool call arguments), as the
/// parsed value.
fn assert_keeps_strings(input: &Value, output: &Value) -> Result<(), TestCaseError> {
    let mut strings = Vec::new();
    collect_strings(input, None, &mut strings);
    for s in strings {
        let kept = contains_string(output, s)
            || serde_json::from_str::<Value>(s).is_ok_and(|parsed| contains_value(output, &parsed));
        prop_assert!(kept, "lost {s:?}\ninput: {input:#}\noutput: {output:#}");
    }
    Ok(())
}

fn collect_strings<'a>(value: &'a Value, key: Option<&str>, out: &mut Vec<&'a str>) {
    match value {
        Value::String(s) if key != Some("type") => out.push(s),
        Value::Array(items) => items.iter().for_each(|v| collect_strings(v, None, out)),
        Value::Object(map) => map
            .iter()
            .for_each(|(k, v)| collect_strings(v, Some(k), out)),
        _ => {}
    }
}

fn contains_string(value: &Value, s: &str) -> bool {
    match value {
        Value::String(v) => v == s,
        Value::Array(items) => items.iter().any(|v| contains_string(v, s)),
        Value::Object(map) => map.values().any(|v| contains_string(v, s)),
        _ => false,
    }
}

fn contains_value(haystack: &Value, needle: &Value) -> bool {
    haystack == needle
        || match haystack {
            Value::Array(items) => items.iter().any(|v| contains_value(v, needle)),
            Value::Object(map) => map.values().any(|v| contains_value(v, needle)),
            _ => false,
        }
}
