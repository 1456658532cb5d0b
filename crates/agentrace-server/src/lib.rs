//! The agentrace dev server: OTLP ingest, sessions, storage, live updates and the web page.
//!
//! Status: being built (issue 5). The modules below are complete in themselves; the HTTP app
//! that ties them together arrives with the loader's incremental extractor.

pub mod body;
pub mod config;
pub mod error;
pub mod live;
pub mod sessions;
pub mod store;

/// Shared state of every handler.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The live fan-out.
    pub hub: live::LiveHub,
}
