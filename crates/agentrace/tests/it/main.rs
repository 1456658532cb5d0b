//! Integration tests of the `agentrace` binary: one test binary, one module per area.

mod crash;
mod extract;
mod run;
mod stream_restart;
