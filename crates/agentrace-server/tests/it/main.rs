//! Integration tests of the server: one binary, one module per area.

mod otlp_http;
mod store;
mod testkit;
