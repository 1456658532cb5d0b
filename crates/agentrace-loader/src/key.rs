//! Attribute keys, with the well-known ones held without an allocation of their own.
//!
//! Most attributes a GenAI producer sends have one of a few dozen keys (the GenAI semantic
//! conventions, a few resource keys, Google ADK's). Decoding each as a `String` cost an
//! allocation, a copy and later a free per attribute, and reading it back during extraction a
//! cache miss on that string (long after decoding, when a session completes). A [`Key`] holds
//! such a key as its position in [`KNOWN`] instead; every other key is owned as before.

use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::sync::LazyLock;

use agentrace_semconv::attr;

use crate::hash::Map;

/// Google ADK's attribute keys that extraction reads.
pub(crate) const ADK_LLM_REQUEST: &str = "gcp.vertex.agent.llm_request";
pub(crate) const ADK_LLM_RESPONSE: &str = "gcp.vertex.agent.llm_response";
pub(crate) const ADK_TOOL_ARGS: &str = "gcp.vertex.agent.tool_call_args";
pub(crate) const ADK_TOOL_RESPONSE: &str = "gcp.vertex.agent.tool_response";
pub(crate) const ADK_INVOCATION_ID: &str = "gcp.vertex.agent.invocation_id";
pub(crate) const ADK_SESSION_ID: &str = "gcp.vertex.agent.session_id";

/// The keys held by position. At most 255 (the position is a `u8`).
pub(crate) const KNOWN: &[&str] = &[
    attr::GEN_AI_PROVIDER_NAME,
    attr::GEN_AI_REQUEST_MODEL,
    attr::GEN_AI_REQUEST_MAX_TOKENS,
    attr::GEN_AI_REQUEST_CHOICE_COUNT,
    attr::GEN_AI_REQUEST_TEMPERATURE,
    attr::GEN_AI_REQUEST_TOP_P,
    attr::GEN_AI_REQUEST_TOP_K,
    attr::GEN_AI_REQUEST_STOP_SEQUENCES,
    attr::GEN_AI_REQUEST_FREQUENCY_PENALTY,
    attr::GEN_AI_REQUEST_PRESENCE_PENALTY,
    attr::GEN_AI_REQUEST_ENCODING_FORMATS,
    attr::GEN_AI_REQUEST_SEED,
    attr::GEN_AI_REQUEST_STREAM,
    attr::GEN_AI_RESPONSE_ID,
    attr::GEN_AI_RESPONSE_MODEL,
    attr::GEN_AI_RESPONSE_FINISH_REASONS,
    attr::GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK,
    attr::GEN_AI_USAGE_INPUT_TOKENS,
    attr::GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
    attr::GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
    attr::GEN_AI_USAGE_OUTPUT_TOKENS,
    attr::GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,
    attr::GEN_AI_TOKEN_TYPE,
    attr::GEN_AI_CONVERSATION_ID,
    attr::GEN_AI_AGENT_ID,
    attr::GEN_AI_AGENT_NAME,
    attr::GEN_AI_AGENT_DESCRIPTION,
    attr::GEN_AI_AGENT_VERSION,
    attr::GEN_AI_TOOL_NAME,
    attr::GEN_AI_TOOL_CALL_ID,
    attr::GEN_AI_TOOL_DESCRIPTION,
    attr::GEN_AI_TOOL_TYPE,
    attr::GEN_AI_TOOL_CALL_ARGUMENTS,
    attr::GEN_AI_TOOL_CALL_RESULT,
    attr::GEN_AI_TOOL_DEFINITIONS,
    attr::GEN_AI_DATA_SOURCE_ID,
    attr::GEN_AI_OPERATION_NAME,
    attr::GEN_AI_OUTPUT_TYPE,
    attr::GEN_AI_EMBEDDINGS_DIMENSION_COUNT,
    attr::GEN_AI_RETRIEVAL_DOCUMENTS,
    attr::GEN_AI_RETRIEVAL_QUERY_TEXT,
    attr::GEN_AI_SYSTEM_INSTRUCTIONS,
    attr::GEN_AI_INPUT_MESSAGES,
    attr::GEN_AI_OUTPUT_MESSAGES,
    attr::GEN_AI_EVALUATION_NAME,
    attr::GEN_AI_EVALUATION_SCORE_VALUE,
    attr::GEN_AI_EVALUATION_SCORE_LABEL,
    attr::GEN_AI_EVALUATION_EXPLANATION,
    attr::GEN_AI_PROMPT_NAME,
    attr::GEN_AI_WORKFLOW_NAME,
    attr::ERROR_TYPE,
    attr::SERVER_ADDRESS,
    attr::SERVER_PORT,
    attr::EXCEPTION_TYPE,
    attr::EXCEPTION_MESSAGE,
    attr::EXCEPTION_STACKTRACE,
    attr::SESSION_ID,
    attr::SERVICE_NAME,
    attr::GEN_AI_USAGE_PROMPT_TOKENS,
    attr::GEN_AI_USAGE_COMPLETION_TOKENS,
    attr::GEN_AI_PROMPT,
    attr::GEN_AI_COMPLETION,
    attr::GEN_AI_SYSTEM,
    attr::GEN_AI_OPENAI_REQUEST_SEED,
    attr::GEN_AI_OPENAI_REQUEST_RESPONSE_FORMAT,
    attr::GEN_AI_OPENAI_REQUEST_SERVICE_TIER,
    attr::GEN_AI_OPENAI_RESPONSE_SERVICE_TIER,
    attr::GEN_AI_OPENAI_RESPONSE_SYSTEM_FINGERPRINT,
    attr::GEN_AI_RESPONSE_FINISH_REASON,
    attr::OPENAI_REQUEST_SERVICE_TIER,
    attr::OPENAI_RESPONSE_SERVICE_TIER,
    attr::OPENAI_RESPONSE_SYSTEM_FINGERPRINT,
    // Resource keys every SDK sends, and the reference's session keys.
    "service.instance.id",
    "service.version",
    "service.namespace",
    "telemetry.sdk.name",
    "telemetry.sdk.language",
    "telemetry.sdk.version",
    "agentevals.session_name",
    "agentevals.eval_set_id",
    "agentevals.run_id",
    "event.name",
    // Google ADK.
    ADK_LLM_REQUEST,
    ADK_LLM_RESPONSE,
    ADK_TOOL_ARGS,
    ADK_TOOL_RESPONSE,
    ADK_INVOCATION_ID,
    ADK_SESSION_ID,
    "gcp.vertex.agent.event_id",
];

/// [`KNOWN`] by key.
static POSITIONS: LazyLock<Map<&'static str, u8>> = LazyLock::new(|| {
    KNOWN
        .iter()
        .enumerate()
        .filter_map(|(i, k)| Some((*k, u8::try_from(i).ok()?)))
        .collect()
});

/// An attribute key (see the module documentation). It reads as a `str`.
#[derive(Clone)]
pub struct Key(Repr);

#[derive(Clone)]
enum Repr {
    Known(u8),
    Other(Box<str>),
}

impl Key {
    /// The key `s`: held by position when it is a known one, else copied.
    pub fn new(s: &str) -> Self {
        match POSITIONS.get(s) {
            Some(&i) => Self(Repr::Known(i)),
            None => Self(Repr::Other(s.into())),
        }
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Known(i) => KNOWN.get(usize::from(*i)).copied().unwrap_or_default(),
            Repr::Other(s) => s,
        }
    }

    /// The key's position in the known keys, if it is one.
    pub(crate) fn known(&self) -> Option<u8> {
        match self.0 {
            Repr::Known(i) => Some(i),
            Repr::Other(_) => None,
        }
    }
}

impl From<&str> for Key {
    fn from(s: &str) -> Self {
        Self::new(s)
    }
}

impl From<String> for Key {
    fn from(s: String) -> Self {
        match POSITIONS.get(s.as_str()) {
            Some(&i) => Self(Repr::Known(i)),
            None => Self(Repr::Other(s.into_boxed_str())),
        }
    }
}

impl From<Key> for String {
    fn from(k: Key) -> Self {
        match k.0 {
            Repr::Known(_) => k.as_str().to_owned(),
            Repr::Other(s) => s.into_string(),
        }
    }
}

impl Deref for Key {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Key {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for Key {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        match (&self.0, &other.0) {
            (Repr::Known(a), Repr::Known(b)) => a == b,
            // A known key is never held as `Other`, so a known and an other key differ.
            (Repr::Other(a), Repr::Other(b)) => a == b,
            _ => false,
        }
    }
}

impl Eq for Key {}

impl PartialEq<str> for Key {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Key {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for Key {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other
    }
}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Key {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::{KNOWN, Key, attr};
    use crate::hash::Set;

    #[test]
    fn known_keys_are_held_by_position_and_read_as_the_same_text() {
        assert!(KNOWN.len() <= 255, "positions are a u8");
        let distinct: Set<&str> = KNOWN.iter().copied().collect();
        assert_eq!(distinct.len(), KNOWN.len(), "no key is listed twice");
        for (i, k) in KNOWN.iter().enumerate() {
            let key = Key::new(k);
            assert_eq!(key.known(), u8::try_from(i).ok(), "{k}");
            assert_eq!(key.as_str(), *k);
            assert_eq!(Key::from((*k).to_owned()), key);
        }
        let other = Key::from("my.own.key".to_owned());
        assert_eq!(other.known(), None);
        assert_eq!(&*other, "my.own.key");
        assert_eq!(other, Key::new("my.own.key"));
        assert_ne!(other, Key::new(attr::GEN_AI_OPERATION_NAME));
        assert_eq!(
            Key::new(attr::GEN_AI_OPERATION_NAME),
            attr::GEN_AI_OPERATION_NAME
        );
        // Hash and order follow the text, so keys mix with `str` lookups and sorting.
        let mut set: Set<Key> = Set::default();
        set.insert(Key::new("service.name"));
        assert!(set.contains("service.name"));
        assert!(Key::new("a.b") < Key::new("service.name"));
        assert_eq!(String::from(Key::new("service.name")), "service.name");
        assert_eq!(format!("{:?}", Key::new("x")), "\"x\"");
    }
}
