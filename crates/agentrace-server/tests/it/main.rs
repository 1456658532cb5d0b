//! Integration tests of the server: one binary, one module per area.

mod api;
mod docs;
mod fuzz;
mod grpc;
mod hardening;
mod live;
mod otlp_http;
mod page_api;
mod staging;
mod store;
mod testkit;
mod workers;
