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
mod parse;
mod snapshot;
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

    /// Read, parse and compile a table file.
    pub fn from_file(path: &Path) -> Result<ForwardingSnapshot, TableError> {
        // Identity first: if the file changes after this, the watcher sees a difference.
        let identity = watcher::identity(path);
        let text = read_table_file(path)?;
        let mut snap = Self::parse(&text, path)?;
        snap.source_identity = identity;
        Ok(snap)
    }
}

/// Read a table file as UTF-8, mapping failures to a [`TableError`] on the file.
pub(crate) fn read_table_file(path: &Path) -> Result<String, TableError> {
    let bytes = std::fs::read(path).map_err(|e| TableError::io(path, &e))?;
    String::from_utf8(bytes).map_err(|e| {
        let upto = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = upto.iter().filter(|b| **b == b'\n').count() + 1;
        TableError::new(
            path,
            u32::try_from(line).unwrap_or(u32::MAX),
            "",
            "not valid UTF-8",
        )
    })
}
