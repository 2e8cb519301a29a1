//! The traffic generator behind `ringlet load` (being built).
pub mod cli;
