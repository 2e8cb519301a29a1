//! The traffic generator behind `ringlet load`, and `ringlet tune`.
//!
//! - [`tune`]: reads the machine (cores, SMT, NUMA, NIC queues, sysctls) and recommends
//!   worker cores and kernel settings.
pub mod cli;
pub mod tune;
