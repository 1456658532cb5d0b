//! Span and log processors that stream finished spans and logs to an agentrace server.
//!
//! Status: skeleton. The processors arrive with the stream issue.
