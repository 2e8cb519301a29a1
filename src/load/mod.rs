//! The traffic generator behind `ringlet load`, and `ringlet tune`.
//!
//! - [`tune`]: reads the machine (cores, SMT, NUMA, NIC queues, sysctls) and recommends
//!   worker cores and kernel settings.
pub mod cli;
pub mod digest;
pub mod msg;
pub mod roles;
pub mod run;
pub mod scan;
pub mod stats;
pub mod timers;
pub mod tune;
pub mod uac;
pub mod uas;
pub mod users;
