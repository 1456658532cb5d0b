//! Integration tests of the server: one binary, one module per area.

mod adversarial;
mod api;
mod docs;
mod evaluation;
mod faults;
mod fuzz;
mod generations;
mod grpc;
mod hardening;
mod live;
mod live_bounds;
mod otlp_http;
mod page_api;
mod pipeline;
mod staging;
mod store;
mod testkit;
mod workers;
