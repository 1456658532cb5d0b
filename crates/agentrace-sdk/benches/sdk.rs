//! SDK benchmarks (placeholder until written).

fn main() {}
