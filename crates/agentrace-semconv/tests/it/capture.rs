//! The content-capture decision table, row by row.

use agentrace_semconv::capture::{
    CaptureSettings, ContentMode, Conventions, is_truthy, opts_into_latest,
};

const LATEST: Option<&str> = Some("gen_ai_latest_experimental");

/// What a row expects: conventions, content mode, emit the details event.
type Decision = (Conventions, ContentMode, bool);

fn settings(capture: Option<&str>, opt_in: Option<&str>, emit: Option<&str>) -> Decision {
    let s = CaptureSettings::from_values(capture, opt_in, emit);
    (s.conventions, s.content, s.emit_event)
}

#[test]
fn legacy_mode_reads_a_boolean() {
    use ContentMode::*;
    use Conventions::Legacy;
    let rows: &[(Option<&str>, Option<&str>, Decision)] = &[
        (None, None, (Legacy, NoContent, false)),
        (Some("true"), None, (Legacy, EventOnly, false)),
        (Some("TRUE"), None, (Legacy, EventOnly, false)),
        (Some(" 1 "), None, (Legacy, EventOnly, false)),
        (Some("yes"), None, (Legacy, EventOnly, false)),
        (Some("false"), None, (Legacy, NoContent, false)),
        (Some("0"), None, (Legacy, NoContent, false)),
        (Some(""), None, (Legacy, NoContent, false)),
        // The enum names mean nothing without the opt-in.
        (Some("SPAN_AND_EVENT"), None, (Legacy, NoContent, false)),
        // Other opt-ins do not switch GenAI conventions.
        (
            Some("true"),
            Some("http,database"),
            (Legacy, EventOnly, false),
        ),
        // EMIT_EVENT is a latest-only switch.
        (Some("true"), Some(""), (Legacy, EventOnly, false)),
    ];
    for (capture, opt_in, expected) in rows {
        assert_eq!(
            settings(*capture, *opt_in, Some("true")),
            *expected,
            "{capture:?} {opt_in:?}"
        );
    }
    let legacy = CaptureSettings::from_values(Some("true"), None, None);
    assert!(legacy.legacy() && legacy.emit_legacy_message_events());
    assert!(legacy.capture_on_events() && !legacy.capture_on_spans());
    assert!(!legacy.emit_inference_details_event());
}

#[test]
fn latest_mode_reads_the_enum() {
    use ContentMode::*;
    use Conventions::Latest;
    let rows: &[(Option<&str>, Decision)] = &[
        (None, (Latest, NoContent, false)),
        (Some(""), (Latest, NoContent, false)),
        (Some("NO_CONTENT"), (Latest, NoContent, false)),
        (Some("SPAN_ONLY"), (Latest, SpanOnly, false)),
        (Some("span_only"), (Latest, SpanOnly, false)),
        (Some("EVENT_ONLY"), (Latest, EventOnly, true)),
        (Some("SPAN_AND_EVENT"), (Latest, SpanAndEvent, true)),
        (Some(" Span_And_Event "), (Latest, SpanAndEvent, true)),
        (Some("SPAN_ONLYY"), (Latest, NoContent, false)),
        // Deliberate: a boolean `true` under the opt-in means "capture", on spans.
        (Some("true"), (Latest, SpanOnly, false)),
        (Some("false"), (Latest, NoContent, false)),
    ];
    for (capture, expected) in rows {
        assert_eq!(settings(*capture, LATEST, None), *expected, "{capture:?}");
    }
}

#[test]
fn emit_event_overrides_the_default_of_the_mode() {
    for (mode, default) in [
        ("NO_CONTENT", false),
        ("SPAN_ONLY", false),
        ("EVENT_ONLY", true),
        ("SPAN_AND_EVENT", true),
    ] {
        assert_eq!(settings(Some(mode), LATEST, None).2, default, "{mode}");
        assert_eq!(
            settings(Some(mode), LATEST, Some("maybe")).2,
            default,
            "{mode}"
        );
        assert_eq!(settings(Some(mode), LATEST, Some("")).2, default, "{mode}");
        assert!(settings(Some(mode), LATEST, Some("True")).2, "{mode}");
        assert!(!settings(Some(mode), LATEST, Some(" false ")).2, "{mode}");
    }
    let s = CaptureSettings::from_values(Some("NO_CONTENT"), LATEST, Some("true"));
    assert!(s.emit_inference_details_event() && !s.capture_on_events() && !s.capture_on_spans());
    assert!(!s.emit_legacy_message_events());
}

#[test]
fn opt_in_is_a_comma_list() {
    assert!(opts_into_latest("gen_ai_latest_experimental"));
    assert!(opts_into_latest(
        "http, gen_ai_latest_experimental ,database"
    ));
    assert!(!opts_into_latest("gen_ai_latest"));
    assert!(!opts_into_latest("http/dup"));
    assert!(is_truthy("Yes") && !is_truthy("y") && !is_truthy("on"));
    assert_eq!(
        CaptureSettings::default(),
        CaptureSettings::from_values(None, None, None)
    );
}
