//! Reader tests: shapes, detection, errors, and arbitrary bytes never panicking.
