//! Loader benchmark (filled in below).

fn main() {}
