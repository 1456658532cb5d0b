//! Extraction rules on small hand-built traces.

use agentrace_loader::extract::{AnchorKind, ExpectedCase, select_case};

use crate::testkit::{failed, msgs, span, turns};

const OP: &str = "gen_ai.operation.name";

#[test]
fn agent_without_content_is_not_a_turn_but_a_root_with_calls_is() {
    let user = msgs(&[("user", "hi")]);
    let out = msgs(&[("assistant", "hello")]);
    let t = turns(vec![
        span(1, 1, None, 0, "root", &[]),
        span(
            1,
            2,
            Some(1),
            1,
            "invoke_agent empty",
            &[(OP, "invoke_agent")],
        ),
        span(
            1,
            3,
            Some(1),
            2,
            "chat",
            &[
                (OP, "chat"),
                ("gen_ai.input.messages", &user),
                ("gen_ai.output.messages", &out),
            ],
        ),
    ]);
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].anchor_kind, AnchorKind::Root);
    assert_eq!(t[0].user_text().as_deref(), Some("hi"));
    assert_eq!(t[0].agent_text().as_deref(), Some("hello"));
    assert_eq!(t[0].agent_name, None);
}

#[test]
fn wrapper_calls_collapse_and_several_leaves_count_each() {
    let t = turns(vec![
        span(
            1,
            1,
            None,
            0,
            "invoke_agent a",
            &[(OP, "invoke_agent"), ("gen_ai.agent.name", "a")],
        ),
        span(
            1,
            2,
            Some(1),
            1,
            "chat outer",
            &[(OP, "chat"), ("gen_ai.request.model", "m1")],
        ),
        span(
            1,
            3,
            Some(2),
            2,
            "chat inner",
            &[(OP, "chat"), ("gen_ai.response.model", "m1-x")],
        ),
        span(1, 4, Some(1), 5, "chat wrapper", &[(OP, "chat")]),
        span(
            1,
            5,
            Some(4),
            6,
            "chat leaf a",
            &[(OP, "chat"), ("gen_ai.request.model", "m2")],
        ),
        span(
            1,
            6,
            Some(4),
            7,
            "chat leaf b",
            &[(OP, "chat"), ("gen_ai.request.model", "m3")],
        ),
    ]);
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].llm_calls.len(), 3);
    assert_eq!(t[0].models(), ["m1-x", "m2", "m3"]);
    assert_eq!(t[0].agent_name.as_deref(), Some("a"));
}

#[test]
fn nested_tool_spans_merge_and_names_fall_back_to_span_names() {
    let t = turns(vec![
        span(1, 1, None, 0, "invoke_agent a", &[(OP, "invoke_agent")]),
        span(
            1,
            2,
            Some(1),
            1,
            "execute_tool search",
            &[(OP, "execute_tool"), ("gen_ai.tool.call.id", "c1")],
        ),
        failed(span(
            1,
            3,
            Some(2),
            2,
            "mcp call",
            &[
                (OP, "execute_tool"),
                ("gen_ai.tool.call.id", "c1"),
                ("gen_ai.tool.call.arguments", "{\"q\":1}"),
            ],
        )),
    ]);
    assert_eq!(t.len(), 1);
    let calls = &t[0].tool_calls;
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].name, "search");
    assert_eq!(calls[0].arguments, Some(serde_json::json!({"q": 1})));
    assert!(calls[0].is_error);
    assert_eq!(t[0].warnings[0].code, "tool_name_missing");
}

#[test]
fn results_join_by_id_from_later_calls_and_parts_fill_the_trajectory() {
    let out1 = r#"[{"role":"assistant","parts":[{"type":"tool_call","id":"x","name":"f","arguments":{"a":1}},
        {"type":"tool_call","id":"y","name":"g","arguments":"{\"b\":2}"}]}]"#;
    let in2 = r#"[{"role":"user","parts":[{"type":"text","content":"go"}]},
        {"role":"tool","parts":[{"type":"tool_call_response","id":"x","response":"ok"}]},
        {"role":"tool","parts":[{"type":"tool_call_response","id":"y","response":{"v":3}}]}]"#;
    let out2 = msgs(&[("assistant", "done")]);
    let t = turns(vec![
        span(1, 1, None, 0, "invoke_agent a", &[(OP, "invoke_agent")]),
        span(
            1,
            2,
            Some(1),
            1,
            "chat",
            &[(OP, "chat"), ("gen_ai.output.messages", out1)],
        ),
        span(
            1,
            3,
            Some(1),
            2,
            "execute_tool f",
            &[
                (OP, "execute_tool"),
                ("gen_ai.tool.name", "f"),
                ("gen_ai.tool.call.id", "x"),
            ],
        ),
        span(
            1,
            4,
            Some(1),
            3,
            "chat",
            &[
                (OP, "chat"),
                ("gen_ai.input.messages", in2),
                ("gen_ai.output.messages", &out2),
            ],
        ),
    ]);
    let c = &t[0].tool_calls;
    assert_eq!(c.len(), 2);
    assert_eq!((c[0].name.as_str(), c[1].name.as_str()), ("f", "g"));
    assert_eq!(c[0].arguments, Some(serde_json::json!({"a": 1})));
    assert_eq!(c[0].result, Some(serde_json::json!("ok")));
    assert_eq!(c[1].arguments, Some(serde_json::json!({"b": 2})));
    assert_eq!(c[1].result, Some(serde_json::json!({"v": 3})));
    assert_eq!(t[0].user_text().as_deref(), Some("go"));
    let codes: Vec<_> = t[0].warnings.iter().map(|g| g.code).collect();
    assert_eq!(codes, ["tool_from_parts_only"]);
}

#[test]
fn a_root_turn_continuing_tool_calls_joins_the_previous_turn() {
    let out1 = r#"[{"role":"assistant","parts":[{"type":"tool_call","id":"x","name":"f","arguments":{}}]}]"#;
    let in2 = r#"[{"role":"user","parts":[{"type":"text","content":"q"}]},
        {"role":"tool","parts":[{"type":"tool_call_response","id":"x","response":1}]}]"#;
    let out2 = msgs(&[("assistant", "answer")]);
    let user = msgs(&[("user", "q")]);
    let t = turns(vec![
        span(
            1,
            1,
            None,
            0,
            "invoke_agent a",
            &[(OP, "invoke_agent"), ("gen_ai.conversation.id", "c")],
        ),
        span(
            1,
            2,
            Some(1),
            1,
            "chat",
            &[
                (OP, "chat"),
                ("gen_ai.input.messages", &user),
                ("gen_ai.output.messages", out1),
            ],
        ),
        span(
            2,
            3,
            None,
            100,
            "chat",
            &[
                (OP, "chat"),
                ("gen_ai.input.messages", in2),
                ("gen_ai.output.messages", &out2),
            ],
        ),
    ]);
    // Grouped by trace (auto without session or multi-turn case): two groups, no joining.
    assert_eq!(t.len(), 2);
    let set = agentrace_loader::trace::TraceSet::build(agentrace_loader::model::Telemetry {
        spans: vec![
            span(
                1,
                1,
                None,
                0,
                "invoke_agent a",
                &[(OP, "invoke_agent"), ("gen_ai.conversation.id", "c")],
            ),
            span(
                1,
                2,
                Some(1),
                1,
                "chat",
                &[
                    (OP, "chat"),
                    ("gen_ai.input.messages", &user),
                    ("gen_ai.output.messages", out1),
                ],
            ),
            span(
                2,
                3,
                None,
                100,
                "chat",
                &[
                    (OP, "chat"),
                    ("gen_ai.conversation.id", "c"),
                    ("gen_ai.input.messages", in2),
                    ("gen_ai.output.messages", &out2),
                ],
            ),
        ],
        logs: Vec::new(),
    });
    let ex = agentrace_loader::extract::extract(
        &set,
        &agentrace_loader::extract::ExtractOptions {
            group_by: agentrace_loader::extract::GroupBy::Conversation,
            cases: None,
        },
    );
    assert_eq!(ex.groups.len(), 1);
    let turns = &ex.groups[0].turns;
    assert_eq!(turns.len(), 1);
    assert_eq!(turns[0].llm_calls.len(), 2);
    assert_eq!(turns[0].agent_text().as_deref(), Some("answer"));
    assert_eq!(turns[0].tool_calls[0].result, Some(serde_json::json!(1)));
}

#[test]
fn case_selection_rules() {
    let user = msgs(&[("user", "  Hello\nWorld ")]);
    let t = turns(vec![span(
        1,
        1,
        None,
        0,
        "chat",
        &[(OP, "chat"), ("gen_ai.input.messages", &user)],
    )]);
    let case = |id: &str, text: &str, n: usize| ExpectedCase {
        eval_id: id.into(),
        first_user_text: Some(text.into()),
        invocations: n,
    };
    let s = select_case(
        &t,
        &[case("a", "hello world", 1), case("b", "x", 1)],
        None,
        false,
    );
    assert_eq!(
        (s.eval_case_id.as_deref(), s.how),
        (Some("a"), Some("user_text"))
    );
    let s = select_case(
        &t,
        &[case("a", "hello world", 2), case("b", "HELLO WORLD", 2)],
        None,
        false,
    );
    assert_eq!(s.reason.as_deref(), Some("ambiguous eval case"));
    let s = select_case(
        &t,
        &[case("a", "hello world", 2), case("b", "HELLO WORLD", 1)],
        None,
        false,
    );
    assert_eq!(s.eval_case_id.as_deref(), Some("b"));
    let s = select_case(&t, &[case("z", "nope", 1)], None, true);
    assert_eq!(s.how, Some("single_case"));
    let s = select_case(&t, &[case("z", "nope", 1), case("y", "no", 1)], None, false);
    assert_eq!(s.reason.as_deref(), Some("no matching eval case"));
    let s = select_case(&t, &[case("z", "nope", 1)], Some("z"), false);
    assert_eq!(s.how, Some("explicit"));
}

#[test]
fn evaluation_events_and_usage_are_attached_to_the_turn() {
    let mut agent = span(1, 1, None, 0, "invoke_agent a", &[(OP, "invoke_agent")]);
    let mut ev = agentrace_loader::model::SpanEvent {
        name: "gen_ai.evaluation.result".into(),
        ..Default::default()
    };
    ev.attributes.push(
        "gen_ai.evaluation.name",
        agentrace_loader::model::AnyValue::String("relevance".into()),
    );
    ev.attributes.push(
        "gen_ai.evaluation.score.value",
        agentrace_loader::model::AnyValue::Double(0.5),
    );
    agent.events.push(ev);
    let t = turns(vec![
        agent,
        span(
            1,
            2,
            Some(1),
            1,
            "chat",
            &[(OP, "chat"), ("gen_ai.usage.input_tokens", "10")],
        ),
        span(
            1,
            3,
            Some(1),
            2,
            "chat",
            &[
                (OP, "chat"),
                ("gen_ai.usage.input_tokens", "5"),
                ("gen_ai.usage.output_tokens", "2"),
            ],
        ),
    ]);
    let e = &t[0].external_evaluations;
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].name.as_deref(), Some("relevance"));
    assert_eq!(e[0].score_value, Some(0.5));
    let u = t[0].usage();
    assert_eq!(
        (u.input, u.output, u.reasoning_output),
        (Some(15), Some(2), None)
    );
}

#[test]
fn strands_style_span_events_are_read() {
    use agentrace_loader::model::{AnyValue, SpanEvent};
    let event = |name: &str, attrs: &[(&str, &str)]| {
        let mut e = SpanEvent {
            name: name.into(),
            ..SpanEvent::default()
        };
        for (k, v) in attrs {
            e.attributes.push(*k, AnyValue::String((*v).into()));
        }
        e
    };
    let mut chat1 = span(1, 2, Some(1), 1, "chat", &[(OP, "chat")]);
    chat1.events = vec![
        event(
            "gen_ai.user.message",
            &[("content", r#"[{"text": "weather in Oslo?"}]"#)],
        ),
        event(
            "gen_ai.choice",
            &[
                (
                    "message",
                    r#"[{"toolUse": {"toolUseId": "t1", "name": "weather", "input": {"city": "Oslo"}}}]"#,
                ),
                ("finish_reason", "tool_use"),
            ],
        ),
    ];
    let mut chat2 = span(1, 3, Some(1), 5, "chat", &[(OP, "chat")]);
    chat2.events = vec![
        event(
            "gen_ai.user.message",
            &[("content", r#"[{"text": "weather in Oslo?"}]"#)],
        ),
        event(
            "gen_ai.tool.message",
            &[
                (
                    "content",
                    r#"[{"toolResult": {"toolUseId": "t1", "content": [{"text": "rain"}]}}]"#,
                ),
                ("id", "t1"),
            ],
        ),
        event(
            "gen_ai.choice",
            &[
                ("message", r#"[{"text": "It rains."}]"#),
                ("finish_reason", "end_turn"),
            ],
        ),
    ];
    let t = turns(vec![
        span(1, 1, None, 0, "invoke_agent a", &[(OP, "invoke_agent")]),
        chat1,
        chat2,
    ]);
    assert_eq!(t[0].user_text().as_deref(), Some("weather in Oslo?"));
    assert_eq!(t[0].agent_text().as_deref(), Some("It rains."));
    let c = &t[0].tool_calls;
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].name, "weather");
    assert_eq!(c[0].arguments, Some(serde_json::json!({"city": "Oslo"})));
    assert_eq!(c[0].result, Some(serde_json::json!([{"text": "rain"}])));
}

mod random {
    //! Random GenAI-shaped traces (including parent cycles and self-parents): extraction never
    //! panics, and the incremental extractor agrees with the batch one.

    use agentrace_loader::extract::{self, ExtractOptions, GroupBy};
    use agentrace_loader::incremental::IncrementalExtractor;
    use agentrace_loader::model::{Span, Telemetry};
    use agentrace_loader::read::Format;
    use agentrace_loader::report::Report;
    use agentrace_loader::trace::TraceSet;
    use proptest::prelude::*;

    use crate::testkit::span;

    const OPS: [&str; 6] = [
        "chat",
        "invoke_agent",
        "execute_tool",
        "invoke_workflow",
        "embeddings",
        "",
    ];
    const MSGS: [&str; 6] = [
        r#"[{"role":"user","parts":[{"type":"text","content":"hi"}]}]"#,
        r#"[{"role":"assistant","parts":[{"type":"tool_call","id":"c1","name":"f","arguments":{"a":1}}]}]"#,
        r#"[{"role":"tool","parts":[{"type":"tool_call_response","id":"c1","response":"ok"}]}]"#,
        r#"[{"role":"assistant","parts":[{"type":"text","content":"done"}],"finish_reason":"stop"}]"#,
        r#"[{"role":"user","content":"plain"},{"role":"tool","content":"{\"x\":1}","tool_call_id":"c2"}]"#,
        "<REDACTED>",
    ];

    fn one_span() -> impl Strategy<Value = Span> {
        (
            (0u8..3, 1u8..12, prop::option::of(1u8..12), 0u64..50),
            (
                0..OPS.len(),
                prop::option::of(0..MSGS.len()),
                prop::option::of(0..MSGS.len()),
            ),
            (
                prop::option::of("[fg]"),
                prop::option::of("c[12]"),
                any::<bool>(),
            ),
        )
            .prop_map(
                |((t, id, parent, start), (op, input, output), (tool, call, conv))| {
                    let mut attrs: Vec<(&str, &str)> = Vec::new();
                    if !OPS[op].is_empty() {
                        attrs.push(("gen_ai.operation.name", OPS[op]));
                    }
                    if let Some(i) = input {
                        attrs.push(("gen_ai.input.messages", MSGS[i]));
                    }
                    if let Some(o) = output {
                        attrs.push(("gen_ai.output.messages", MSGS[o]));
                    }
                    let tool = tool.unwrap_or_default();
                    if !tool.is_empty() {
                        attrs.push(("gen_ai.tool.name", &tool));
                    }
                    let call = call.unwrap_or_default();
                    if !call.is_empty() {
                        attrs.push(("gen_ai.tool.call.id", &call));
                    }
                    if conv {
                        attrs.push(("gen_ai.conversation.id", "conv"));
                    }
                    span(t, id, parent, start, "execute_tool x", &attrs)
                },
            )
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn extraction_never_panics_and_is_order_independent(
            spans in prop::collection::vec(one_span(), 0..24),
            conversation in any::<bool>(),
        ) {
            let opts = ExtractOptions {
                group_by: if conversation { GroupBy::Conversation } else { GroupBy::Trace },
                cases: None,
            };
            // Duplicated span ids keep their first copy; keep only first copies so that order
            // does not decide which copy wins.
            let mut seen = std::collections::HashSet::new();
            let spans: Vec<Span> = spans
                .into_iter()
                .filter(|s| seen.insert((s.trace_id, s.span_id)))
                .collect();
            let set = TraceSet::build(Telemetry { spans: spans.clone(), logs: Vec::new() });
            let batch = Report::new(Format::OtlpJson, &set, &extract::extract(&set, &opts));
            let mut inc = IncrementalExtractor::new();
            for s in spans.into_iter().rev() {
                inc.push_spans([s]);
                // Each call rebuilds only the trace just fed; the result must still be the batch one.
                let _ = inc.report(Format::OtlpJson, &opts);
            }
            let set2 = inc.trace_set();
            let got = Report::new(Format::OtlpJson, &set2, &inc.extract(&opts));
            prop_assert_eq!(&got, &batch);
            prop_assert_eq!(inc.report(Format::OtlpJson, &opts), batch);
        }
    }
}

#[test]
fn the_overlay_reads_each_key_once_by_its_first_occurrence_and_notices_prefixed_keys() {
    use agentrace_loader::extract::overlay;
    use agentrace_loader::model::{AnyValue, Attributes, KeyValue, LogRecord};

    // Two values for one key: the first is read, as a lookup by key finds it.
    let s = span(
        1,
        1,
        None,
        0,
        "chat",
        &[
            (OP, "chat"),
            ("gen_ai.request.model", "first"),
            ("http.method", "POST"),
            ("gen_ai.request.model", "second"),
            ("gen_ai.usage.input_tokens", "not a number"),
        ],
    );
    let v = overlay(&s, &[]);
    assert_eq!(v.operation.as_deref(), Some("chat"));
    assert_eq!(v.request_model.as_deref(), Some("first"));
    assert_eq!(v.usage.input, None);

    // A Google ADK key alone (no ADK scope) makes the span an ADK one: its tool arguments are read
    // and a merged tool span is ignored.
    let adk = span(
        1,
        2,
        None,
        0,
        "execute_tool (merged)",
        &[("gcp.vertex.agent.tool_call_args", r#"{"q":"Lisbon"}"#)],
    );
    let v = overlay(&adk, &[]);
    assert_eq!(v.tool_arguments, Some(serde_json::json!({"q": "Lisbon"})));
    assert!(v.ignored);
    // The same attribute under another prefix is nobody's.
    let other = span(
        1,
        3,
        None,
        0,
        "execute_tool (merged)",
        &[("gcp.vertex.agentx.tool_call_args", r#"{"q":"Lisbon"}"#)],
    );
    let v = overlay(&other, &[]);
    assert_eq!(v.tool_arguments, None);
    assert!(!v.ignored);

    // OpenLLMetry's indexed keys are read, and with a system they make the span a chat; a
    // `gen_ai.prompt.name` alone is not an indexed key.
    let indexed = span(
        1,
        4,
        None,
        0,
        "openai.chat",
        &[
            ("gen_ai.system", "openai"),
            ("gen_ai.prompt.0.role", "user"),
            ("gen_ai.prompt.0.content", "hi"),
        ],
    );
    let v = overlay(&indexed, &[]);
    assert_eq!(v.operation.as_deref(), Some("chat"));
    assert_eq!(v.provider.as_deref(), Some("openai"));
    let input = v.input_messages.expect("indexed prompt read");
    assert_eq!((input.len(), input[0].role.as_str()), (1, "user"));
    let named = span(
        1,
        5,
        None,
        0,
        "prompt",
        &[
            ("gen_ai.system", "openai"),
            ("gen_ai.prompt.name", "greeting"),
        ],
    );
    let v = overlay(&named, &[]);
    assert_eq!((v.operation, v.input_messages), (None, None));

    // The inference details event as a log record: its attributes, then its key-value body.
    let mut attributes = Attributes::default();
    attributes.push(
        "event.name",
        AnyValue::String("gen_ai.client.inference.operation.details".to_owned()),
    );
    attributes.push(
        "gen_ai.response.model",
        AnyValue::String("from-attributes".to_owned()),
    );
    let log = LogRecord {
        attributes,
        body: AnyValue::KvList(vec![
            KeyValue::new(
                "gen_ai.response.model",
                AnyValue::String("from-body".to_owned()),
            ),
            KeyValue::new("gen_ai.response.id", AnyValue::String("r1".to_owned())),
        ]),
        ..LogRecord::default()
    };
    let v = overlay(&span(1, 6, None, 0, "chat", &[(OP, "chat")]), &[log]);
    assert_eq!(v.response_model.as_deref(), Some("from-attributes"));
    assert_eq!(v.response_id.as_deref(), Some("r1"));
}
