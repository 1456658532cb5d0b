//! Read trace files (OTLP JSON, JSON Lines and protobuf, Jaeger JSON) and extract agent invocations.
//!
//! Status: skeleton. The readers and the extractor arrive with the loader issue.
