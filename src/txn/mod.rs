//! RFC 3261 §17 transactions for one worker: the state machines, the table that holds them
//! and the timer wheel that drives them.
//!
//! Everything here is pure logic over virtual time: a state machine is told what arrived or
//! what is about to be sent, and `now`; it answers what to send (resend, ACK, timeout) and
//! when it next wants to be polled. It never sees a socket or a clock, and it does not know
//! that routing exists: the proxy core (`crate::proxy`) owns the bytes and the decisions.
//!
//! | file                    | owns                                                        |
//! |-------------------------|-------------------------------------------------------------|
//! | `timers.rs`             | T1/T2/T4/Timer C and the timers derived from them           |
//! | `timer_wheel.rs`        | the hashed wheel of one worker                              |
//! | `table.rs`              | slab + hash index with slot generations                     |
//! | `key_hash.rs`           | keyed two-lane hash of transaction keys (index, fingerprint)|
//! | `branch.rs`             | our Via branch: worker, slot, generation, fork index        |
//! | `invite_client.rs`      | §17.1.1 (+ RFC 6026 Accepted)                               |
//! | `non_invite_client.rs`  | §17.1.2                                                     |
//! | `invite_server.rs`      | §17.2.1 (+ RFC 6026 Accepted)                               |
//! | `non_invite_server.rs`  | §17.2.2                                                     |
//!
//! Transports: the machines implement the unreliable (UDP) timer rules, the only transport
//! Ringlet serves.

pub mod branch;
pub mod invite_client;
pub mod invite_server;
pub mod key_hash;
pub mod non_invite_client;
pub mod non_invite_server;
pub mod table;
pub mod timer_wheel;
pub mod timers;

pub use branch::{BranchBuf, BranchId, MAGIC_COOKIE};
pub use invite_client::{ClientTimerAction, InviteClient, InviteClientResponse, InviteClientState};
pub use invite_server::{InviteServer, InviteServerState, ServerRequestAction, ServerTimerAction};
pub use key_hash::{KeyHasher, TxKey};
pub use non_invite_client::{NonInviteClient, NonInviteClientState};
pub use non_invite_server::{NonInviteServer, NonInviteServerState};
pub use table::{TableFull, TransactionTable, TxHandle};
pub use timer_wheel::TimerWheel;
pub use timers::TimerConfig;
