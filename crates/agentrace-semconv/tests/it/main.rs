//! The integration tests of agentrace-semconv, as one binary (one link).

mod capture;
mod errors;
mod legacy;
mod properties;
mod schemas;
mod testkit;
mod vocabulary;
