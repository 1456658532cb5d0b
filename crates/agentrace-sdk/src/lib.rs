//! GenAI instrumentation on the OpenTelemetry API.
//!
//! Spans for chat, tools and agents; a traced stream wrapper that ends its span exactly once; GenAI
//! metrics; opt-in message content; live events; plugin hooks. Built on the `opentelemetry` API
//! only, so an application keeps its own SDK and exporter.
//!
//! Status: skeleton. The instrumentation arrives with the SDK issue.
