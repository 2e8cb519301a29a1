//! The registrar: the location service shared by all workers, REGISTER processing
//! (RFC 3261 §10.3, Path of RFC 3327) and registrations persisted across restarts.
//!
//! ```text
//!   proxy (worker k) ── REGISTER ──► [auth: digest, identity] ──► Registrar::process_register
//!                                                                     │ apply (atomic per AoR)
//!                                                                     ▼
//!   proxy (any worker) ── lookup(aor, now) ─────────────────────► LocationTable (sharded)
//!                                                                     │ AorUpdate (bounded queue)
//!                                                                     ▼
//!                                                    writer thread ──► SQLite (write-behind)
//! ```
//!
//! Files: [`binding`] (one binding, the virtual clock, the caller-owned result list),
//! [`location`] (the sharded table), [`persist`] (SQLite write-behind and reload),
//! [`register`] (REGISTER processing), [`sip_glue`] (from a parsed `sip::Message`, the
//! response through the sip writer), [`directory`] (the forwarding table as subscriber
//! directory, AoR keys), [`config`] (`[registrar]` settings).
//!
//! Nothing here reads a clock or a socket on a worker's path: `now: Instant` is passed in,
//! and the table's [`TimeBase`] maps it to milliseconds and, for the database, to Unix time.

pub mod binding;
pub mod config;
pub mod directory;
pub mod location;
pub mod persist;
pub mod register;
pub mod sip_glue;

pub use binding::{BindingFlags, BindingList, BindingRef, QValue, TimeBase, DEFAULT_Q};
pub use config::{RegistrarConfig, RegistrarConfigError};
pub use directory::aor_key;
pub use location::{
    ApplyError, ContactSet, ContactUpdate, LocationTable, MemoryEstimate, RegisterChange,
    SweepReport,
};
pub use persist::{
    start_persistence, LoadReport, PersistError, PersistHandle, PersistStatsSnapshot,
    RegistrationStore,
};
pub use register::{
    AorLookup, ExpiryPolicy, Granted, ParsedRegister, RegisterCounters, RegisterDisposition,
    RegisterOutcome, RegisterSource, Registrar, RequestedContact, ResponseHeader,
    SubscriberDirectory, UserLookup,
};
