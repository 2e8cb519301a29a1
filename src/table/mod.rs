//! The forwarding table: its file format, validation, the immutable snapshot (being built).
pub mod cli;
