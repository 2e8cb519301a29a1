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
//! directory, AoR keys), [`config`] (`[registrar]` settings), [`sweeper`] (the thread that
//! sweeps expired bindings).
//!
//! Wiring (what the runtime and the proxy do):
//!
//! ```
//! use std::{path::Path, sync::Arc, time::{Duration, Instant}};
//! use ringlet::registrar::*;
//! use ringlet::{sip, table::ForwardingSnapshot};
//!
//! // Start: one reading of each clock, the table, persistence (off here), the registrar.
//! let cfg = RegistrarConfig::in_memory(); // default: ringlet-registrations.db
//! let (start, unix_ms) = (Instant::now(), 1_764_000_000_000);
//! let table = Arc::new(LocationTable::from_config(&cfg, TimeBase::new(start, unix_ms)));
//! let persistence = start_persistence(&cfg, &table, unix_ms)?; // Option<(PersistHandle, LoadReport)>
//! let registrar = Registrar::new(table.clone(), &cfg);
//!
//! // A worker, after sanity checks and digest authentication of a REGISTER:
//! let snapshot = ForwardingSnapshot::parse(
//!     "domain example.com\nuser alice@example.com md5=ae7914636bb60b37a9441871cf572389\n",
//!     Path::new("inline.table"),
//! )?;
//! let datagram = b"REGISTER sip:example.com SIP/2.0\r\n\
//!     Via: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK-1\r\n\
//!     From: <sip:alice@example.com>;tag=1\r\nTo: <sip:alice@example.com>\r\n\
//!     Call-ID: c1\r\nCSeq: 1 REGISTER\r\n\
//!     Contact: <sip:alice@127.0.0.1:5062>\r\nExpires: 600\r\nContent-Length: 0\r\n\r\n";
//! let msg = sip::parse(datagram)?;
//! let from = RegisterSource { src: "127.0.0.1:5062".parse()?, local: 0, flags: BindingFlags::default() };
//! let mut outcome = RegisterOutcome::new(); // one per worker, reused
//! let now = start + Duration::from_secs(1);
//! assert_eq!(registrar.process_register(&msg, &snapshot, &from, now, &mut outcome), RegisterDisposition::Answered);
//! let mut response = Vec::new();
//! outcome.write_response(&msg, b"to-tag", &mut response)?; // 200 with Contact;expires=600
//! assert_eq!(outcome.status, 200);
//!
//! // An INVITE for alice: lookup (aliases and DIDs resolved), best q first.
//! let (mut key, mut found) = (Vec::new(), BindingList::new());
//! let r = registrar.lookup_user(&snapshot, b"alice", b"example.com", now, &mut key, &mut found);
//! assert_eq!(r, UserLookup::Found(1));
//! assert_eq!(found.get(0).map(|b| b.contact()), Some(&b"sip:alice@127.0.0.1:5062"[..]));
//!
//! // A timer, e.g. every second: bounded sweep of expired bindings (`ringlet run` uses
//! // spawn_sweeper, a thread doing exactly this).
//! table.sweep(now, 32);
//! // Shutdown: last batch to disk.
//! if let Some((handle, _report)) = persistence { handle.stop(); }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Nothing here reads a clock or a socket on a worker's path: `now: Instant` is passed in,
//! and the table's [`TimeBase`] maps it to milliseconds and, for the database, to Unix time.

pub mod binding;
mod binding_set;
pub mod config;
pub mod directory;
pub mod location;
pub mod persist;
pub mod register;
pub mod sip_date;
pub mod sip_glue;
pub mod sweeper;

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
pub use sweeper::{spawn_sweeper, BindingSweeper, SweepHook};
