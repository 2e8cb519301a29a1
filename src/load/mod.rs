//! The traffic generator behind `ringlet load`, and `ringlet tune`.
//!
//! ```text
//!   cli ──► run (RunPlan, find-max) ──► runtime workers, one LoadEndpoint each
//!                                          ├─ uac: UacEndpoint  (calls / REGISTER / OPTIONS)
//!                                          └─ uas: UasEndpoint  (answers, busy, no answer)
//!   both endpoints: scan (on sip::parse) in, msg (byte templates) out, timers (lazy heap),
//!   stats (hdrhistogram) flushed to a StatsSink that the reporter drains every second
//! ```
//!
//! The UAC and UAS are sans-I/O [`crate::endpoint::Endpoint`]s: their whole call flows are
//! tested back to back with a virtual clock (tests/load_flows.rs), and on the runtime over
//! loopback (tests/load_runtime.rs). Digest responses are computed here ([`digest`]), not
//! with the proxy's `auth` layer, so a load test can catch a bug in it.
//!
//! Invariants: every run is bounded in count ([`run::MAX_CALLS`]) and time
//! ([`run::MAX_DURATION`] plus drain); only loopback destinations are accepted by the CLI.
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
