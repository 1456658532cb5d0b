//! The agentrace dev server: OTLP ingest, sessions, storage, live updates and the web page.
//!
//! Status: skeleton. The server arrives with the server issue.
