//! Ringlet: a SIP proxy and registrar for VoIP providers.
//!
//! The crate is layered (see `README.md` and the module docs); each layer may use only the
//! layers listed above it here:
//!
//! | module       | owns                                                                  |
//! |--------------|-----------------------------------------------------------------------|
//! | [`sip`]      | zero-copy message model: parse, typed header access, the writer        |
//! | [`txn`]      | RFC 3261 §17 transactions, the per-worker table and timer wheel        |
//! | [`table`]    | the forwarding-table file, validation, the immutable snapshot          |
//! | [`registrar`]| location service, REGISTER processing, persistence                     |
//! | [`auth`]     | digest challenge and verification, nonces, flood protection            |
//! | [`proxy`]    | the routing pipeline and failure routing                               |
//! | [`endpoint`] | the one small sans-I/O interface between the protocol core and runtime |
//! | [`config`]   | `ringlet.toml`: the process configuration                              |
//! | [`runtime`]  | workers, io_uring and poll backends, sockets, pinning, signals         |
//! | [`load`]     | the traffic generator behind `ringlet load`                            |
//!
//! The protocol core (everything above `runtime`) never reads a clock or touches a socket:
//! bytes and `now` go in, datagrams and the next deadline come out.

pub mod auth;
pub mod config;
pub mod endpoint;
pub mod load;
pub mod proxy;
pub mod registrar;
pub mod runtime;
pub mod sip;
pub mod table;
pub mod txn;
