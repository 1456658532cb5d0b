//! Deprecated attribute keys and values, and what replaced them.
//!
//! Telemetry written against older versions of the conventions still arrives: `gen_ai.system`
//! instead of `gen_ai.provider.name`, `gen_ai.usage.prompt_tokens` instead of
//! `gen_ai.usage.input_tokens`, and so on. [`RENAMES`] is the table (from
//! `model/deprecated/registry-deprecated.yaml`); [`current_key`] and [`current_value`] look it up.
//!
//! ```
//! use agentrace_semconv::{attr, deprecated};
//!
//! assert_eq!(deprecated::current_key(attr::GEN_AI_SYSTEM), Some(attr::GEN_AI_PROVIDER_NAME));
//! assert_eq!(deprecated::current_provider_value("az.ai.openai"), Some("azure.ai.openai"));
//! // A key that was removed without replacement has no current key.
//! assert_eq!(deprecated::current_key(attr::GEN_AI_PROMPT), None);
//! assert!(deprecated::is_deprecated(attr::GEN_AI_PROMPT));
//! ```

use crate::attr;

/// What happened to a deprecated attribute key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replacement {
    /// The key was renamed; the value keeps its meaning (see [`Rename::values`] for value renames).
    Renamed(&'static str),
    /// The key was removed without a replacement attribute.
    Obsoleted(&'static str),
}

/// One entry of the rename table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rename {
    /// The deprecated key.
    pub old: &'static str,
    /// What replaced it.
    pub replacement: Replacement,
    /// Values that were renamed along with the key, as `(old value, current value)`.
    pub values: &'static [(&'static str, &'static str)],
}

/// `gen_ai.system` values that `gen_ai.provider.name` spells differently, `(old, current)`.
pub const PROVIDER_VALUE_RENAMES: &[(&str, &str)] = &[
    ("vertex_ai", "gcp.vertex_ai"),
    ("gemini", "gcp.gemini"),
    ("az.ai.inference", "azure.ai.inference"),
    ("az.ai.openai", "azure.ai.openai"),
    ("xai", "x_ai"),
];

/// `gen_ai.openai.request.response_format` values as `gen_ai.output.type` values, `(old, current)`.
pub const RESPONSE_FORMAT_VALUE_RENAMES: &[(&str, &str)] = &[
    ("text", "text"),
    ("json_object", "json"),
    ("json_schema", "json"),
];

/// Deprecated `gen_ai.token.type` values, `(old, current)`.
pub const TOKEN_TYPE_VALUE_RENAMES: &[(&str, &str)] = &[("completion", "output")];

/// Every deprecated key and what replaced it.
pub const RENAMES: &[Rename] = &[
    Rename {
        old: attr::GEN_AI_SYSTEM,
        replacement: Replacement::Renamed(attr::GEN_AI_PROVIDER_NAME),
        values: PROVIDER_VALUE_RENAMES,
    },
    Rename {
        old: attr::GEN_AI_USAGE_PROMPT_TOKENS,
        replacement: Replacement::Renamed(attr::GEN_AI_USAGE_INPUT_TOKENS),
        values: &[],
    },
    Rename {
        old: attr::GEN_AI_USAGE_COMPLETION_TOKENS,
        replacement: Replacement::Renamed(attr::GEN_AI_USAGE_OUTPUT_TOKENS),
        values: &[],
    },
    Rename {
        old: attr::GEN_AI_PROMPT,
        replacement: Replacement::Obsoleted(
            "removed; prompts go in gen_ai.input.messages or the inference details event",
        ),
        values: &[],
    },
    Rename {
        old: attr::GEN_AI_COMPLETION,
        replacement: Replacement::Obsoleted(
            "removed; completions go in gen_ai.output.messages or the inference details event",
        ),
        values: &[],
    },
    Rename {
        old: attr::GEN_AI_OPENAI_REQUEST_SEED,
        replacement: Replacement::Renamed(attr::GEN_AI_REQUEST_SEED),
        values: &[],
    },
    Rename {
        old: attr::GEN_AI_OPENAI_REQUEST_RESPONSE_FORMAT,
        replacement: Replacement::Renamed(attr::GEN_AI_OUTPUT_TYPE),
        values: RESPONSE_FORMAT_VALUE_RENAMES,
    },
    Rename {
        old: attr::GEN_AI_OPENAI_REQUEST_SERVICE_TIER,
        replacement: Replacement::Renamed(attr::OPENAI_REQUEST_SERVICE_TIER),
        values: &[],
    },
    Rename {
        old: attr::GEN_AI_OPENAI_RESPONSE_SERVICE_TIER,
        replacement: Replacement::Renamed(attr::OPENAI_RESPONSE_SERVICE_TIER),
        values: &[],
    },
    Rename {
        old: attr::GEN_AI_OPENAI_RESPONSE_SYSTEM_FINGERPRINT,
        replacement: Replacement::Renamed(attr::OPENAI_RESPONSE_SYSTEM_FINGERPRINT),
        values: &[],
    },
];

/// The table entry for a deprecated key, if `key` is one.
pub fn rename(key: &str) -> Option<&'static Rename> {
    RENAMES.iter().find(|rename| rename.old == key)
}

/// Whether `key` is a deprecated key (renamed or removed).
pub fn is_deprecated(key: &str) -> bool {
    rename(key).is_some()
}

/// The current key that replaced the deprecated `old` key; `None` when `old` is not deprecated
/// or was removed without a replacement.
pub fn current_key(old: &str) -> Option<&'static str> {
    match rename(old)?.replacement {
        Replacement::Renamed(current) => Some(current),
        Replacement::Obsoleted(_) => None,
    }
}

/// The current spelling of a value of the deprecated key `old_key`, when the value was renamed
/// together with the key (`gen_ai.system = vertex_ai` → `gcp.vertex_ai`,
/// `gen_ai.openai.request.response_format = json_object` → `json`). `None` when the value is
/// unchanged. Also maps the deprecated `gen_ai.token.type` value `completion` to `output`.
pub fn current_value(old_key: &str, value: &str) -> Option<&'static str> {
    let table = if old_key == attr::GEN_AI_TOKEN_TYPE {
        TOKEN_TYPE_VALUE_RENAMES
    } else {
        rename(old_key)?.values
    };
    table
        .iter()
        .find(|(old, _)| *old == value)
        .map(|(_, current)| *current)
        .filter(|current| *current != value)
}

/// The current `gen_ai.provider.name` spelling of a deprecated `gen_ai.system` value; `None`
/// when the value is unchanged.
pub fn current_provider_value(old: &str) -> Option<&'static str> {
    current_value(attr::GEN_AI_SYSTEM, old)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renames_cover_the_deprecated_registry() {
        assert_eq!(
            current_key(attr::GEN_AI_USAGE_PROMPT_TOKENS),
            Some(attr::GEN_AI_USAGE_INPUT_TOKENS)
        );
        assert_eq!(
            current_key(attr::GEN_AI_USAGE_COMPLETION_TOKENS),
            Some(attr::GEN_AI_USAGE_OUTPUT_TOKENS)
        );
        assert_eq!(
            current_key(attr::GEN_AI_OPENAI_REQUEST_SEED),
            Some(attr::GEN_AI_REQUEST_SEED)
        );
        assert_eq!(
            current_key(attr::GEN_AI_OPENAI_REQUEST_RESPONSE_FORMAT),
            Some(attr::GEN_AI_OUTPUT_TYPE)
        );
        assert_eq!(
            current_key(attr::GEN_AI_OPENAI_RESPONSE_SYSTEM_FINGERPRINT),
            Some(attr::OPENAI_RESPONSE_SYSTEM_FINGERPRINT)
        );
        assert_eq!(current_key(attr::GEN_AI_COMPLETION), None);
        assert_eq!(current_key(attr::GEN_AI_PROVIDER_NAME), None);
        assert!(!is_deprecated(attr::GEN_AI_PROVIDER_NAME));
    }

    #[test]
    fn value_renames() {
        assert_eq!(current_provider_value("vertex_ai"), Some("gcp.vertex_ai"));
        assert_eq!(current_provider_value("gemini"), Some("gcp.gemini"));
        assert_eq!(
            current_provider_value("az.ai.inference"),
            Some("azure.ai.inference")
        );
        assert_eq!(current_provider_value("xai"), Some("x_ai"));
        assert_eq!(current_provider_value("openai"), None);
        assert_eq!(
            current_value(attr::GEN_AI_OPENAI_REQUEST_RESPONSE_FORMAT, "json_schema"),
            Some("json")
        );
        assert_eq!(
            current_value(attr::GEN_AI_OPENAI_REQUEST_RESPONSE_FORMAT, "text"),
            None
        );
        assert_eq!(
            current_value(attr::GEN_AI_TOKEN_TYPE, "completion"),
            Some("output")
        );
    }
}
