//! Content-capture settings from the standard environment variables.
//!
//! [`CaptureSettings::from_values`] is a pure function of the three variables, so it can be
//! tested without touching the process environment; [`CaptureSettings::from_env`] reads them.
//!
//! | variable | meaning |
//! |---|---|
//! | `OTEL_SEMCONV_STABILITY_OPT_IN` | comma-separated list; `gen_ai_latest_experimental` switches from the legacy (≤ v1.36) conventions to the latest ones |
//! | `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT` | legacy: a boolean; latest: `NO_CONTENT`, `SPAN_ONLY`, `EVENT_ONLY`, `SPAN_AND_EVENT` |
//! | `OTEL_INSTRUMENTATION_GENAI_EMIT_EVENT` | latest only: `true`/`false`, whether to emit `gen_ai.client.inference.operation.details` |
//!
//! # Decision table
//!
//! Values are trimmed and compared case-insensitively. "Truthy" is `true`, `1` or `yes`.
//!
//! | stability opt-in contains `gen_ai_latest_experimental` | capture value | [`ContentMode`] |
//! |---|---|---|
//! | no (legacy) | unset, or not truthy (including the enum names) | `NoContent` |
//! | no (legacy) | truthy | `EventOnly`: content goes in the bodies of the deprecated per-message events |
//! | yes (latest) | unset, empty, `NO_CONTENT`, or unrecognised | `NoContent` |
//! | yes (latest) | `SPAN_ONLY` | `SpanOnly` |
//! | yes (latest) | `EVENT_ONLY` | `EventOnly` |
//! | yes (latest) | `SPAN_AND_EVENT` | `SpanAndEvent` |
//! | yes (latest) | truthy | `SpanOnly` (deliberate: python-contrib reads this as `NO_CONTENT` with a warning; we read the intent to capture, on spans where the latest conventions put content by default) |
//!
//! | conventions | `OTEL_INSTRUMENTATION_GENAI_EMIT_EVENT` | emit `gen_ai.client.inference.operation.details`? |
//! |---|---|---|
//! | legacy | anything | no (legacy instrumentation emits the deprecated per-message events instead) |
//! | latest | `true` | yes |
//! | latest | `false` | no |
//! | latest | unset or other | yes for `EventOnly` and `SpanAndEvent`, no for `NoContent` and `SpanOnly` |
//!
//! ```
//! use agentrace_semconv::capture::{CaptureSettings, Conventions, ContentMode};
//!
//! let s = CaptureSettings::from_values(Some("span_and_event"), Some("http,gen_ai_latest_experimental"), None);
//! assert_eq!(s.conventions, Conventions::Latest);
//! assert_eq!(s.content, ContentMode::SpanAndEvent);
//! assert!(s.capture_on_spans() && s.capture_on_events() && s.emit_event);
//!
//! let legacy = CaptureSettings::from_values(Some("true"), None, None);
//! assert_eq!(legacy.conventions, Conventions::Legacy);
//! assert!(legacy.capture_on_events() && !legacy.capture_on_spans());
//! ```

use std::fmt;

/// `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`.
pub const ENV_CAPTURE_MESSAGE_CONTENT: &str = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT";
/// `OTEL_SEMCONV_STABILITY_OPT_IN`.
pub const ENV_STABILITY_OPT_IN: &str = "OTEL_SEMCONV_STABILITY_OPT_IN";
/// `OTEL_INSTRUMENTATION_GENAI_EMIT_EVENT`.
pub const ENV_EMIT_EVENT: &str = "OTEL_INSTRUMENTATION_GENAI_EMIT_EVENT";
/// The opt-in value that selects the latest experimental GenAI conventions.
pub const GEN_AI_LATEST_EXPERIMENTAL: &str = "gen_ai_latest_experimental";

/// Which version of the GenAI conventions to emit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Conventions {
    /// The conventions up to v1.36: `gen_ai.system`, the per-message events, content in event bodies.
    #[default]
    Legacy,
    /// The latest experimental conventions: `gen_ai.provider.name`, `gen_ai.input.messages` and
    /// friends, the `gen_ai.client.inference.operation.details` event.
    Latest,
}

/// Where message content (instructions, inputs, outputs, tool arguments and results) is captured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ContentMode {
    /// Nowhere (the default: the spec says content SHOULD NOT be captured by default).
    #[default]
    NoContent,
    /// On span attributes only.
    SpanOnly,
    /// On events only.
    EventOnly,
    /// On span attributes and events.
    SpanAndEvent,
}

impl ContentMode {
    /// The variable's spelling (`NO_CONTENT`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            ContentMode::NoContent => "NO_CONTENT",
            ContentMode::SpanOnly => "SPAN_ONLY",
            ContentMode::EventOnly => "EVENT_ONLY",
            ContentMode::SpanAndEvent => "SPAN_AND_EVENT",
        }
    }

    /// Parses the variable's enum form, case-insensitively; `None` if it is not one of the four.
    pub fn parse(value: &str) -> Option<Self> {
        let value = value.trim();
        [
            ContentMode::NoContent,
            ContentMode::SpanOnly,
            ContentMode::EventOnly,
            ContentMode::SpanAndEvent,
        ]
        .into_iter()
        .find(|mode| mode.as_str().eq_ignore_ascii_case(value))
    }

    /// Whether content goes on spans.
    pub fn on_spans(self) -> bool {
        matches!(self, ContentMode::SpanOnly | ContentMode::SpanAndEvent)
    }

    /// Whether content goes on events.
    pub fn on_events(self) -> bool {
        matches!(self, ContentMode::EventOnly | ContentMode::SpanAndEvent)
    }
}

impl fmt::Display for ContentMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The content-capture decision, from the three environment variables (see the module docs for
/// the decision table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct CaptureSettings {
    /// Which conventions to emit.
    pub conventions: Conventions,
    /// Where content is captured.
    pub content: ContentMode,
    /// Whether to emit the `gen_ai.client.inference.operation.details` event (latest only).
    pub emit_event: bool,
}

/// Whether `value` is a truthy boolean: `true`, `1` or `yes`, case-insensitively.
pub fn is_truthy(value: &str) -> bool {
    let value = value.trim();
    ["true", "1", "yes"]
        .iter()
        .any(|truthy| truthy.eq_ignore_ascii_case(value))
}

/// Whether a stability opt-in list (comma-separated) contains `gen_ai_latest_experimental`.
pub fn opts_into_latest(stability_opt_in: &str) -> bool {
    stability_opt_in
        .split(',')
        .any(|item| item.trim().eq_ignore_ascii_case(GEN_AI_LATEST_EXPERIMENTAL))
}

impl CaptureSettings {
    /// The decision for these variable values (`None` = unset). Pure; see the decision table.
    pub fn from_values(
        capture_message_content: Option<&str>,
        stability_opt_in: Option<&str>,
        emit_event: Option<&str>,
    ) -> Self {
        let latest = stability_opt_in.is_some_and(opts_into_latest);
        if !latest {
            let content = if capture_message_content.is_some_and(is_truthy) {
                ContentMode::EventOnly
            } else {
                ContentMode::NoContent
            };
            return Self {
                conventions: Conventions::Legacy,
                content,
                emit_event: false,
            };
        }
        let content = match capture_message_content {
            None => ContentMode::NoContent,
            Some(value) => match ContentMode::parse(value) {
                Some(mode) => mode,
                None if is_truthy(value) => ContentMode::SpanOnly,
                None => ContentMode::NoContent,
            },
        };
        let emit_event = match emit_event.map(str::trim) {
            Some(value) if value.eq_ignore_ascii_case("true") => true,
            Some(value) if value.eq_ignore_ascii_case("false") => false,
            _ => content.on_events(),
        };
        Self {
            conventions: Conventions::Latest,
            content,
            emit_event,
        }
    }

    /// The decision for the current process environment. The only I/O of this crate.
    pub fn from_env() -> Self {
        let capture = std::env::var(ENV_CAPTURE_MESSAGE_CONTENT).ok();
        let opt_in = std::env::var(ENV_STABILITY_OPT_IN).ok();
        let emit = std::env::var(ENV_EMIT_EVENT).ok();
        Self::from_values(capture.as_deref(), opt_in.as_deref(), emit.as_deref())
    }

    /// Whether the latest conventions are emitted.
    pub fn latest(&self) -> bool {
        self.conventions == Conventions::Latest
    }

    /// Whether the legacy conventions (`gen_ai.system`, per-message events) are emitted.
    pub fn legacy(&self) -> bool {
        self.conventions == Conventions::Legacy
    }

    /// Whether content goes on span attributes (`gen_ai.input.messages`, …).
    pub fn capture_on_spans(&self) -> bool {
        self.content.on_spans()
    }

    /// Whether content goes in events (the details event, or the legacy per-message events).
    pub fn capture_on_events(&self) -> bool {
        self.content.on_events()
    }

    /// Whether to emit `gen_ai.client.inference.operation.details`.
    pub fn emit_inference_details_event(&self) -> bool {
        self.latest() && self.emit_event
    }

    /// Whether to emit the deprecated per-message events (`gen_ai.user.message`, `gen_ai.choice`, …).
    pub fn emit_legacy_message_events(&self) -> bool {
        self.legacy()
    }
}
