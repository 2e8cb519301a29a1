//! The forwarding table: the operator's text file, its validation with line numbers, the
//! immutable [`ForwardingSnapshot`] the workers read, and reloading it while running.
//!
//! ```text
//!   table file ──parse──► directives ──compile──► ForwardingSnapshot ──► TableHandle
//!   (text, any order)    (line numbers)  (refs checked)   (immutable)      (arc-swap)
//!                                                                           ▲    │ load():
//!   watcher thread (mtime+inode poll) / SIGHUP ── reload_from(path) ────────┘    ▼ one atomic
//!                                                                             workers
//! ```
//!
//! A file with any error is refused whole (first error: file, line, item, reason) and the
//! snapshot in service stays; the next reload is attempted as if nothing had happened.
//! The file format is documented in `docs/table.md`.

pub mod cli;
mod compile;
mod demo;
pub mod edit;
mod error;
pub mod ha1;
mod handle;
mod hash;
mod key;
mod parse;
mod snapshot;
mod source;
mod syntax;
mod trie;
mod watcher;

use std::path::Path;

pub use demo::{DEMO_PASSWORDS, DEMO_TABLE};
pub use error::TableError;
pub use handle::{ReloadReport, TableHandle};
pub use parse::{DEFAULT_NO_ANSWER_TIMEOUT_S, DEFAULT_SIP_PORT};
pub use snapshot::{
    CallForward, DomainId, ForwardingSnapshot, Gateway, GatewayId, GroupId, PrefixRoute, Resolved,
    ResolvedVia, Subscriber, SubscriberId, TableCounts, TrustedPeer, MAX_GROUPS,
};
pub use source::{TableSource, TABLE_EXTENSION};
pub use watcher::{spawn_watcher, TableWatcher};

/// A transport a peer or gateway is restricted to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    Udp,
    Tcp,
    Tls,
}

impl Transport {
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
            Transport::Tls => "tls",
        }
    }
}

impl ForwardingSnapshot {
    /// Parse and compile table text. `file` names the source in errors. On failure the
    /// first error (lowest line) is returned; [`ForwardingSnapshot::check`] returns all.
    pub fn parse(text: &str, file: &Path) -> Result<ForwardingSnapshot, TableError> {
        Self::check(text, file).map_err(|errs| {
            // compile never returns an empty error list; stay total anyway.
            errs.into_iter()
                .next()
                .unwrap_or_else(|| TableError::new(file, 0, "", "refused"))
        })
    }

    /// Like [`ForwardingSnapshot::parse`] but returns every error, in line order.
    pub fn check(text: &str, file: &Path) -> Result<ForwardingSnapshot, Vec<TableError>> {
        compile::compile_text(text, file)
    }

    /// Read, parse and compile a table: a file, or a folder of `*.table` files.
    pub fn from_file(path: &Path) -> Result<ForwardingSnapshot, TableError> {
        // Identity first: if the source changes after this, the watcher sees a difference.
        let identity = source::identity(path);
        let snap = TableSource::read(path)?.compile().map_err(|errs| {
            errs.into_iter()
                .next()
                .unwrap_or_else(|| TableError::new(path, 0, "", "refused"))
        })?;
        Ok(ForwardingSnapshot {
            source_identity: identity,
            ..snap
        })
    }
}
