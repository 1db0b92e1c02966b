//! Repository checks; see tests/tidy.rs.
