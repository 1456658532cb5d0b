//! The enumerated values of the conventions, each with an `Other(String)` fallback.
//!
//! Every enum here is an *open* enum: the conventions allow custom values, so parsing never fails.
//! A known value parses to its variant and anything else to `Other(String)`, kept verbatim.
//! Each type has `as_str`, an infallible [`FromStr`], [`Display`](fmt::Display), and
//! serializes to and from the plain string.
//!
//! ```
//! use agentrace_semconv::enums::{OperationName, ProviderName, TokenType};
//!
//! let op: OperationName = "chat".parse().unwrap_or_else(|never| match never {});
//! assert_eq!(op, OperationName::Chat);
//! assert_eq!(OperationName::from("my_op"), OperationName::Other("my_op".into()));
//! // Deprecated spellings parse to the current value where the conventions renamed them.
//! assert_eq!(TokenType::from("completion"), TokenType::Output);
//! assert_eq!(ProviderName::from_system("vertex_ai"), ProviderName::GcpVertexAi);
//! ```

use std::convert::Infallible;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Defines an open string enum: known variants, `Other(String)`, `as_str`, `FromStr`, `Display`,
/// serde as the string, and a `KNOWN` list.
macro_rules! open_enum {
    (
        $(#[$meta:meta])*
        $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $value:literal, )+
        }
        $( aliases { $( $alias:literal => $target:ident, )+ } )?
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
            /// A value the conventions do not list, kept verbatim.
            Other(String),
        }

        impl $name {
            /// Every known value, in the order the conventions list them (no `Other`).
            pub const KNOWN: &'static [$name] = &[ $( $name::$variant, )+ ];

            /// The value as the conventions spell it.
            pub fn as_str(&self) -> &str {
                match self {
                    $( $name::$variant => $value, )+
                    $name::Other(other) => other.as_str(),
                }
            }

            /// Parses a value; unknown values become `Other`. Never fails.
            pub fn parse_str(value: &str) -> Self {
                match value {
                    $( $value => $name::$variant, )+
                    $( $( $alias => $name::$target, )+ )?
                    other => $name::Other(other.to_owned()),
                }
            }

            /// Whether this is one of the values the conventions list.
            pub fn is_known(&self) -> bool {
                !matches!(self, $name::Other(_))
            }
        }

        impl FromStr for $name {
            type Err = Infallible;

            fn from_str(value: &str) -> Result<Self, Self::Err> {
                Ok(Self::parse_str(value))
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                Self::parse_str(value)
            }
        }

        impl From<String> for $name {
            fn from(value: String) -> Self {
                match Self::parse_str(&value) {
                    $name::Other(_) => $name::Other(value),
                    known => known,
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                self.as_str()
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let value = String::deserialize(deserializer)?;
                Ok(Self::from(value))
            }
        }
    };
}

open_enum! {
    /// `gen_ai.operation.name`: the operation a span or metric describes.
    ///
    /// Includes the values added after the conventions moved to their own repository (`plan` and
    /// the memory operations).
    OperationName {
        /// `chat`: a chat completion (e.g. the OpenAI Chat API).
        Chat = "chat",
        /// `generate_content`: multimodal content generation (e.g. Gemini Generate Content).
        GenerateContent = "generate_content",
        /// `text_completion`: a legacy text completion.
        TextCompletion = "text_completion",
        /// `embeddings`: an embeddings request.
        Embeddings = "embeddings",
        /// `retrieval`: a retrieval request (e.g. a vector store search).
        Retrieval = "retrieval",
        /// `create_agent`: creating an agent.
        CreateAgent = "create_agent",
        /// `invoke_agent`: invoking an agent.
        InvokeAgent = "invoke_agent",
        /// `execute_tool`: executing a tool.
        ExecuteTool = "execute_tool",
        /// `invoke_workflow`: invoking a workflow (e.g. a CrewAI crew).
        InvokeWorkflow = "invoke_workflow",
        /// `plan` (post-move): an agent planning step.
        Plan = "plan",
        /// `search_memory` (post-move): searching an agent memory.
        SearchMemory = "search_memory",
        /// `create_memory` (post-move): creating a memory entry.
        CreateMemory = "create_memory",
        /// `update_memory` (post-move): updating a memory entry.
        UpdateMemory = "update_memory",
        /// `upsert_memory` (post-move): creating or updating a memory entry.
        UpsertMemory = "upsert_memory",
        /// `delete_memory` (post-move): deleting a memory entry.
        DeleteMemory = "delete_memory",
        /// `create_memory_store` (post-move): creating a memory store.
        CreateMemoryStore = "create_memory_store",
        /// `delete_memory_store` (post-move): deleting a memory store.
        DeleteMemoryStore = "delete_memory_store",
    }
}

impl OperationName {
    /// Whether this is a model inference (`chat`, `generate_content` or `text_completion`).
    pub fn is_inference(&self) -> bool {
        matches!(
            self,
            Self::Chat | Self::GenerateContent | Self::TextCompletion
        )
    }
}

open_enum! {
    /// `gen_ai.provider.name`: the GenAI provider as the instrumentation identifies it.
    ///
    /// Includes `moonshot_ai`, added after the move. For values of the deprecated `gen_ai.system`
    /// attribute use [`ProviderName::from_system`], which applies the value renames.
    ProviderName {
        /// `openai`.
        OpenAi = "openai",
        /// `gcp.gen_ai`: any Google generative AI endpoint.
        GcpGenAi = "gcp.gen_ai",
        /// `gcp.vertex_ai`: Vertex AI (`aiplatform.googleapis.com`).
        GcpVertexAi = "gcp.vertex_ai",
        /// `gcp.gemini`: Gemini / AI Studio (`generativelanguage.googleapis.com`).
        GcpGemini = "gcp.gemini",
        /// `anthropic`.
        Anthropic = "anthropic",
        /// `cohere`.
        Cohere = "cohere",
        /// `azure.ai.inference`.
        AzureAiInference = "azure.ai.inference",
        /// `azure.ai.openai`.
        AzureAiOpenAi = "azure.ai.openai",
        /// `ibm.watsonx.ai`.
        IbmWatsonxAi = "ibm.watsonx.ai",
        /// `aws.bedrock`.
        AwsBedrock = "aws.bedrock",
        /// `perplexity`.
        Perplexity = "perplexity",
        /// `x_ai`.
        XAi = "x_ai",
        /// `deepseek`.
        DeepSeek = "deepseek",
        /// `groq`.
        Groq = "groq",
        /// `mistral_ai`.
        MistralAi = "mistral_ai",
        /// `moonshot_ai` (post-move).
        MoonshotAi = "moonshot_ai",
    }
}

impl ProviderName {
    /// Parses a value of the deprecated `gen_ai.system` attribute, applying the value renames of
    /// [`crate::deprecated::PROVIDER_VALUE_RENAMES`] (`vertex_ai` → `gcp.vertex_ai`, …).
    pub fn from_system(value: &str) -> Self {
        match crate::deprecated::current_provider_value(value) {
            Some(renamed) => Self::parse_str(renamed),
            None => Self::parse_str(value),
        }
    }
}

open_enum! {
    /// The reason a model stopped generating (`finish_reason` of an output message, and the
    /// entries of `gen_ai.response.finish_reasons`).
    ///
    /// Parsing is exact so that JSON round-trips: the legacy `tool_calls` (of the `gen_ai.choice`
    /// event and the OpenAI API) parses to `Other("tool_calls")`. Use
    /// [`FinishReason::from_legacy`] when converting legacy data to map it to `tool_call`.
    FinishReason {
        /// `stop`: a natural stop or a stop sequence.
        Stop = "stop",
        /// `length`: the token limit was reached.
        Length = "length",
        /// `content_filter`: content was filtered.
        ContentFilter = "content_filter",
        /// `tool_call`: the model requested a tool call.
        ToolCall = "tool_call",
        /// `error`: generation failed (also for a stream that broke off).
        Error = "error",
    }
}

impl FinishReason {
    /// Parses a finish reason of legacy telemetry: like [`FinishReason::parse_str`], but the
    /// legacy plural `tool_calls` and OpenAI's deprecated `function_call` map to
    /// [`FinishReason::ToolCall`].
    pub fn from_legacy(value: &str) -> Self {
        match value {
            "tool_calls" | "function_call" => Self::ToolCall,
            other => Self::parse_str(other),
        }
    }
}

impl FinishReason {
    /// Maps a provider's own stop reason to the conventions' value, for instrumentations that
    /// read raw API responses. Known spellings (case-insensitive where providers shout):
    ///
    /// | provider value | finish reason |
    /// |---|---|
    /// | `stop`, `end_turn`, `stop_sequence`, `complete`, `finish`, `endoftext`, `eos` | `stop` |
    /// | `length`, `max_tokens`, `model_length`, `max_output_tokens` | `length` |
    /// | `tool_call`, `tool_calls`, `function_call`, `tool_use` | `tool_call` |
    /// | `content_filter`, `safety`, `recitation`, `blocklist`, `prohibited_content`, `spii`, `guardrail_intervened`, `refusal` | `content_filter` |
    /// | `error` | `error` |
    ///
    /// Anything else is kept verbatim as `Other`. (Bedrock's map in openllmetry and the OpenAI,
    /// Anthropic and Gemini APIs are the sources.)
    pub fn from_provider(value: &str) -> Self {
        let lower = value.trim().to_ascii_lowercase();
        match lower.as_str() {
            "stop" | "end_turn" | "stop_sequence" | "complete" | "finish" | "endoftext" | "eos" => {
                Self::Stop
            }
            "length" | "max_tokens" | "model_length" | "max_output_tokens" => Self::Length,
            "tool_call" | "tool_calls" | "function_call" | "tool_use" => Self::ToolCall,
            "content_filter"
            | "safety"
            | "recitation"
            | "blocklist"
            | "prohibited_content"
            | "spii"
            | "guardrail_intervened"
            | "refusal" => Self::ContentFilter,
            "error" => Self::Error,
            _ => Self::Other(value.to_owned()),
        }
    }
}

open_enum! {
    /// `gen_ai.token.type`: the kind of tokens a `gen_ai.client.token.usage` point counts.
    ///
    /// The deprecated value `completion` parses to [`TokenType::Output`].
    TokenType {
        /// `input`: prompt tokens.
        Input = "input",
        /// `output`: completion tokens.
        Output = "output",
    }
    aliases {
        "completion" => Output,
    }
}

open_enum! {
    /// `gen_ai.output.type`: the content type the client requested.
    OutputType {
        /// `text`: plain text.
        Text = "text",
        /// `json`: a JSON object with a known or unknown schema.
        Json = "json",
        /// `image`: an image.
        Image = "image",
        /// `speech`: speech.
        Speech = "speech",
    }
}

open_enum! {
    /// The role of the entity that created a message.
    Role {
        /// `system`: system instructions in the chat history.
        System = "system",
        /// `user`: the user.
        User = "user",
        /// `assistant`: the model.
        Assistant = "assistant",
        /// `tool`: a tool result.
        Tool = "tool",
    }
}

open_enum! {
    /// `gen_ai.tool.type`: where a tool runs.
    ToolType {
        /// `function`: executed on the client side with parameters the model generated.
        Function = "function",
        /// `extension`: executed on the agent side to call external APIs.
        Extension = "extension",
        /// `datastore`: used to query external data for retrieval-augmented tasks.
        Datastore = "datastore",
    }
}

open_enum! {
    /// The general modality of blob, file and uri message parts.
    ///
    /// `document` was added after the move.
    Modality {
        /// `image`.
        Image = "image",
        /// `video`.
        Video = "video",
        /// `audio`.
        Audio = "audio",
        /// `document` (post-move).
        Document = "document",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_string_keeps_unknown_values_verbatim() {
        assert_eq!(
            Role::from("critic".to_owned()),
            Role::Other("critic".into())
        );
        assert_eq!(Role::from("user".to_owned()), Role::User);
        assert!(!Role::Other("x".into()).is_known());
    }

    #[test]
    fn legacy_finish_reasons_map_to_tool_call() {
        assert_eq!(
            FinishReason::parse_str("tool_calls"),
            FinishReason::Other("tool_calls".into())
        );
        assert_eq!(
            FinishReason::from_legacy("tool_calls"),
            FinishReason::ToolCall
        );
        assert_eq!(FinishReason::from_legacy("stop"), FinishReason::Stop);
    }

    #[test]
    fn provider_finish_reasons() {
        assert_eq!(FinishReason::from_provider("end_turn"), FinishReason::Stop);
        assert_eq!(
            FinishReason::from_provider("MAX_TOKENS"),
            FinishReason::Length
        );
        assert_eq!(
            FinishReason::from_provider("tool_use"),
            FinishReason::ToolCall
        );
        assert_eq!(
            FinishReason::from_provider("SAFETY"),
            FinishReason::ContentFilter
        );
        assert_eq!(
            FinishReason::from_provider("guardrail_intervened"),
            FinishReason::ContentFilter
        );
        assert_eq!(FinishReason::from_provider("ERROR"), FinishReason::Error);
        assert_eq!(
            FinishReason::from_provider("Paused"),
            FinishReason::Other("Paused".into())
        );
    }
}
