//! Integration tests of agentrace-stream: the queue model, the WebSocket and OTLP transports
//! against a real `agentrace serve` (in-process on 127.0.0.1:0), restarts and unreachable
//! servers.

#![allow(clippy::unwrap_used, missing_docs)]

mod model;
mod otlp;
mod resilience;
mod testkit;
mod websocket;
