//! Attribute keys of the GenAI semantic conventions.
//!
//! Every `gen_ai.*` key of the registry (`model/gen-ai/registry.yaml`), the general keys the GenAI
//! spans use with them, and the deprecated keys (kept so that readers recognise old telemetry; see
//! [`crate::deprecated`] for the rename table). These are the only `gen_ai.` literals in the
//! workspace: every other crate names attributes through these constants.

/// `gen_ai.provider.name`: The Generative AI provider as identified by the client or server instrumentation.
pub const GEN_AI_PROVIDER_NAME: &str = "gen_ai.provider.name";

/// `gen_ai.request.model`: The name of the GenAI model a request is being made to.
pub const GEN_AI_REQUEST_MODEL: &str = "gen_ai.request.model";

/// `gen_ai.request.max_tokens`: The maximum number of tokens the model generates for a request.
pub const GEN_AI_REQUEST_MAX_TOKENS: &str = "gen_ai.request.max_tokens";

/// `gen_ai.request.choice.count`: The target number of candidate completions to return.
pub const GEN_AI_REQUEST_CHOICE_COUNT: &str = "gen_ai.request.choice.count";

/// `gen_ai.request.temperature`: The temperature setting for the GenAI request.
pub const GEN_AI_REQUEST_TEMPERATURE: &str = "gen_ai.request.temperature";

/// `gen_ai.request.top_p`: The top_p sampling setting for the GenAI request.
pub const GEN_AI_REQUEST_TOP_P: &str = "gen_ai.request.top_p";

/// `gen_ai.request.top_k`: The top_k sampling setting for the GenAI request.
pub const GEN_AI_REQUEST_TOP_K: &str = "gen_ai.request.top_k";

/// `gen_ai.request.stop_sequences`: List of sequences that the model will use to stop generating further tokens.
pub const GEN_AI_REQUEST_STOP_SEQUENCES: &str = "gen_ai.request.stop_sequences";

/// `gen_ai.request.frequency_penalty`: The frequency penalty setting for the GenAI request.
pub const GEN_AI_REQUEST_FREQUENCY_PENALTY: &str = "gen_ai.request.frequency_penalty";

/// `gen_ai.request.presence_penalty`: The presence penalty setting for the GenAI request.
pub const GEN_AI_REQUEST_PRESENCE_PENALTY: &str = "gen_ai.request.presence_penalty";

/// `gen_ai.request.encoding_formats`: The encoding formats requested in an embeddings operation, if specified.
pub const GEN_AI_REQUEST_ENCODING_FORMATS: &str = "gen_ai.request.encoding_formats";

/// `gen_ai.request.seed`: Requests with same seed value more likely to return same result.
pub const GEN_AI_REQUEST_SEED: &str = "gen_ai.request.seed";

/// `gen_ai.request.stream`: Indicates whether the GenAI request was made in streaming mode.
pub const GEN_AI_REQUEST_STREAM: &str = "gen_ai.request.stream";

/// `gen_ai.response.id`: The unique identifier for the completion.
pub const GEN_AI_RESPONSE_ID: &str = "gen_ai.response.id";

/// `gen_ai.response.model`: The name of the model that generated the response.
pub const GEN_AI_RESPONSE_MODEL: &str = "gen_ai.response.model";

/// `gen_ai.response.finish_reasons`: Array of reasons the model stopped generating tokens, corresponding to each generation received.
pub const GEN_AI_RESPONSE_FINISH_REASONS: &str = "gen_ai.response.finish_reasons";

/// `gen_ai.response.time_to_first_chunk`: Time to first chunk in a streaming response, measured from request issuance, in seconds. The value is measured from when the client issues the generation request to when the first chunk is received in the response stream.
pub const GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK: &str = "gen_ai.response.time_to_first_chunk";

/// `gen_ai.usage.input_tokens`: The number of tokens used in the GenAI input (prompt).
pub const GEN_AI_USAGE_INPUT_TOKENS: &str = "gen_ai.usage.input_tokens";

/// `gen_ai.usage.cache_read.input_tokens`: The number of input tokens served from a provider-managed cache.
pub const GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: &str = "gen_ai.usage.cache_read.input_tokens";

/// `gen_ai.usage.cache_creation.input_tokens`: The number of input tokens written to a provider-managed cache.
pub const GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS: &str =
    "gen_ai.usage.cache_creation.input_tokens";

/// `gen_ai.usage.output_tokens`: The number of tokens used in the GenAI response (completion).
pub const GEN_AI_USAGE_OUTPUT_TOKENS: &str = "gen_ai.usage.output_tokens";

/// `gen_ai.usage.reasoning.output_tokens`: The number of output tokens used for reasoning (e.g. chain-of-thought, extended thinking).
pub const GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: &str = "gen_ai.usage.reasoning.output_tokens";

/// `gen_ai.token.type`: The type of token being counted.
pub const GEN_AI_TOKEN_TYPE: &str = "gen_ai.token.type";

/// `gen_ai.conversation.id`: The unique identifier for a conversation (session, thread), used to store and correlate messages within this conversation.
pub const GEN_AI_CONVERSATION_ID: &str = "gen_ai.conversation.id";

/// `gen_ai.agent.id`: The unique identifier of the GenAI agent.
pub const GEN_AI_AGENT_ID: &str = "gen_ai.agent.id";

/// `gen_ai.agent.name`: Human-readable name of the GenAI agent provided by the application.
pub const GEN_AI_AGENT_NAME: &str = "gen_ai.agent.name";

/// `gen_ai.agent.description`: Free-form description of the GenAI agent provided by the application.
pub const GEN_AI_AGENT_DESCRIPTION: &str = "gen_ai.agent.description";

/// `gen_ai.agent.version`: The version of the GenAI agent.
pub const GEN_AI_AGENT_VERSION: &str = "gen_ai.agent.version";

/// `gen_ai.tool.name`: Name of the tool utilized by the agent.
pub const GEN_AI_TOOL_NAME: &str = "gen_ai.tool.name";

/// `gen_ai.tool.call.id`: The tool call identifier.
pub const GEN_AI_TOOL_CALL_ID: &str = "gen_ai.tool.call.id";

/// `gen_ai.tool.description`: The tool description.
pub const GEN_AI_TOOL_DESCRIPTION: &str = "gen_ai.tool.description";

/// `gen_ai.tool.type`: Type of the tool utilized by the agent
pub const GEN_AI_TOOL_TYPE: &str = "gen_ai.tool.type";

/// `gen_ai.tool.call.arguments`: Parameters passed to the tool call.
pub const GEN_AI_TOOL_CALL_ARGUMENTS: &str = "gen_ai.tool.call.arguments";

/// `gen_ai.tool.call.result`: The result returned by the tool call (if any and if execution was successful).
pub const GEN_AI_TOOL_CALL_RESULT: &str = "gen_ai.tool.call.result";

/// `gen_ai.tool.definitions`: The list of tool definitions available to the GenAI agent or model.
pub const GEN_AI_TOOL_DEFINITIONS: &str = "gen_ai.tool.definitions";

/// `gen_ai.data_source.id`: The data source identifier.
pub const GEN_AI_DATA_SOURCE_ID: &str = "gen_ai.data_source.id";

/// `gen_ai.operation.name`: The name of the operation being performed.
pub const GEN_AI_OPERATION_NAME: &str = "gen_ai.operation.name";

/// `gen_ai.output.type`: Represents the content type requested by the client.
pub const GEN_AI_OUTPUT_TYPE: &str = "gen_ai.output.type";

/// `gen_ai.embeddings.dimension.count`: The number of dimensions the resulting output embeddings should have.
pub const GEN_AI_EMBEDDINGS_DIMENSION_COUNT: &str = "gen_ai.embeddings.dimension.count";

/// `gen_ai.retrieval.documents`: The documents retrieved.
pub const GEN_AI_RETRIEVAL_DOCUMENTS: &str = "gen_ai.retrieval.documents";

/// `gen_ai.retrieval.query.text`: The query text used for retrieval.
pub const GEN_AI_RETRIEVAL_QUERY_TEXT: &str = "gen_ai.retrieval.query.text";

/// `gen_ai.system_instructions`: The system message or instructions provided to the GenAI model separately from the chat history.
pub const GEN_AI_SYSTEM_INSTRUCTIONS: &str = "gen_ai.system_instructions";

/// `gen_ai.input.messages`: The chat history provided to the model as an input.
pub const GEN_AI_INPUT_MESSAGES: &str = "gen_ai.input.messages";

/// `gen_ai.output.messages`: Messages returned by the model where each message represents a specific model response (choice, candidate).
pub const GEN_AI_OUTPUT_MESSAGES: &str = "gen_ai.output.messages";

/// `gen_ai.evaluation.name`: The name of the evaluation metric used for the GenAI response.
pub const GEN_AI_EVALUATION_NAME: &str = "gen_ai.evaluation.name";

/// `gen_ai.evaluation.score.value`: The evaluation score returned by the evaluator.
pub const GEN_AI_EVALUATION_SCORE_VALUE: &str = "gen_ai.evaluation.score.value";

/// `gen_ai.evaluation.score.label`: Human readable label for evaluation.
pub const GEN_AI_EVALUATION_SCORE_LABEL: &str = "gen_ai.evaluation.score.label";

/// `gen_ai.evaluation.explanation`: A free-form explanation for the assigned score provided by the evaluator.
pub const GEN_AI_EVALUATION_EXPLANATION: &str = "gen_ai.evaluation.explanation";

/// `gen_ai.prompt.name`: The name of the prompt that uniquely identifies it.
pub const GEN_AI_PROMPT_NAME: &str = "gen_ai.prompt.name";

/// `gen_ai.workflow.name`: Human-readable name of the GenAI workflow provided by the application.
pub const GEN_AI_WORKFLOW_NAME: &str = "gen_ai.workflow.name";

/// `error.type`: Describes a class of error the operation ended with; `_OTHER` when no better value is known.
pub const ERROR_TYPE: &str = "error.type";

/// `server.address`: GenAI server address: domain name, IP address or Unix domain socket name.
pub const SERVER_ADDRESS: &str = "server.address";

/// `server.port`: GenAI server port; conditionally required when `server.address` is set.
pub const SERVER_PORT: &str = "server.port";

/// `exception.type`: The type of an exception (its fully-qualified class name or equivalent).
pub const EXCEPTION_TYPE: &str = "exception.type";

/// `exception.message`: The exception message.
pub const EXCEPTION_MESSAGE: &str = "exception.message";

/// `exception.stacktrace`: A stack trace as a string in the natural representation for the language runtime.
pub const EXCEPTION_STACKTRACE: &str = "exception.stacktrace";

/// `session.id`: A unique id to identify a session (general semantic conventions).
pub const SESSION_ID: &str = "session.id";

/// `service.name`: Logical name of the service (resource attribute).
pub const SERVICE_NAME: &str = "service.name";

/// The value of `error.type` when no more specific error class is known.
pub const ERROR_TYPE_OTHER: &str = "_OTHER";

/// `gen_ai.usage.prompt_tokens` (deprecated): Deprecated, use `gen_ai.usage.input_tokens` instead.
pub const GEN_AI_USAGE_PROMPT_TOKENS: &str = "gen_ai.usage.prompt_tokens";

/// `gen_ai.usage.completion_tokens` (deprecated): Deprecated, use `gen_ai.usage.output_tokens` instead.
pub const GEN_AI_USAGE_COMPLETION_TOKENS: &str = "gen_ai.usage.completion_tokens";

/// `gen_ai.prompt` (deprecated): Deprecated, use Event API to report prompt contents.
pub const GEN_AI_PROMPT: &str = "gen_ai.prompt";

/// `gen_ai.completion` (deprecated): Deprecated, use Event API to report completions contents.
pub const GEN_AI_COMPLETION: &str = "gen_ai.completion";

/// `gen_ai.system` (deprecated): Deprecated, use `gen_ai.provider.name` instead.
pub const GEN_AI_SYSTEM: &str = "gen_ai.system";

/// `gen_ai.openai.request.seed` (deprecated): Deprecated, use `gen_ai.request.seed`.
pub const GEN_AI_OPENAI_REQUEST_SEED: &str = "gen_ai.openai.request.seed";

/// `gen_ai.openai.request.response_format` (deprecated): Deprecated, use `gen_ai.output.type`.
pub const GEN_AI_OPENAI_REQUEST_RESPONSE_FORMAT: &str = "gen_ai.openai.request.response_format";

/// `gen_ai.openai.request.service_tier` (deprecated): Deprecated, use `openai.request.service_tier`.
pub const GEN_AI_OPENAI_REQUEST_SERVICE_TIER: &str = "gen_ai.openai.request.service_tier";

/// `gen_ai.openai.response.service_tier` (deprecated): Deprecated, use `openai.response.service_tier`.
pub const GEN_AI_OPENAI_RESPONSE_SERVICE_TIER: &str = "gen_ai.openai.response.service_tier";

/// `gen_ai.openai.response.system_fingerprint` (deprecated): Deprecated, use `openai.response.system_fingerprint`.
pub const GEN_AI_OPENAI_RESPONSE_SYSTEM_FINGERPRINT: &str =
    "gen_ai.openai.response.system_fingerprint";

// Keys the read side (agentrace-loader) needs to recognise old telemetry. Event names are in
// [`crate::event`].

/// `gen_ai.response.finish_reason`: Deprecated single finish reason (use `gen_ai.response.finish_reasons`).
pub const GEN_AI_RESPONSE_FINISH_REASON: &str = "gen_ai.response.finish_reason";

/// `openai.request.service_tier`: The service tier requested (replaces `gen_ai.openai.request.service_tier`).
pub const OPENAI_REQUEST_SERVICE_TIER: &str = "openai.request.service_tier";

/// `openai.response.service_tier`: The service tier used for the response (replaces `gen_ai.openai.response.service_tier`).
pub const OPENAI_RESPONSE_SERVICE_TIER: &str = "openai.response.service_tier";

/// `openai.response.system_fingerprint`: A fingerprint to track any eventual change in the backend (replaces `gen_ai.openai.response.system_fingerprint`).
pub const OPENAI_RESPONSE_SYSTEM_FINGERPRINT: &str = "openai.response.system_fingerprint";
