//! [`TableHandle`]: the one place the current snapshot lives, shared by every worker.
//!
//! Readers do one atomic load (`arc-swap`), never a lock. A reload parses and compiles on
//! the caller's thread (the watcher or the signal handler's thread, never a worker) and then
//! publishes with one atomic store: a worker sees either the whole old table or the whole
//! new one. Reloads are serialised by a mutex that only reloaders take; a failed reload
//! leaves the old snapshot and releases the mutex like any other (a poisoned mutex is
//! recovered, since the guarded state is `()`), so it never blocks the next reload.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::{ArcSwap, Guard};

use super::error::TableError;
use super::snapshot::{ForwardingSnapshot, TableCounts};

/// Shared, swappable pointer to the current [`ForwardingSnapshot`]. Cheap to clone.
#[derive(Clone)]
pub struct TableHandle {
    current: Arc<ArcSwap<ForwardingSnapshot>>,
    reload_lock: Arc<Mutex<()>>,
}

/// What a successful reload loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReloadReport {
    pub path: PathBuf,
    pub counts: TableCounts,
    /// Read + parse + compile time (excludes the swap, which is one store).
    pub duration: Duration,
}

impl std::fmt::Display for ReloadReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "table {} loaded: {} in {:.1} ms",
            self.path.display(),
            self.counts,
            self.duration.as_secs_f64() * 1e3
        )
    }
}

impl std::fmt::Debug for TableHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.current.load();
        f.debug_struct("TableHandle")
            .field("source", &s.source())
            .field("counts", &s.counts())
            .finish()
    }
}

impl TableHandle {
    /// A handle serving `snapshot`.
    pub fn new(snapshot: ForwardingSnapshot) -> Self {
        TableHandle {
            current: Arc::new(ArcSwap::from_pointee(snapshot)),
            reload_lock: Arc::new(Mutex::new(())),
        }
    }

    /// Load `path` and serve it.
    pub fn from_file(path: &Path) -> Result<Self, TableError> {
        Ok(Self::new(ForwardingSnapshot::from_file(path)?))
    }

    /// The current snapshot: one atomic load, no lock. Hold the guard for the duration of
    /// one datagram, not longer (a held guard keeps an old table alive).
    #[inline]
    pub fn load(&self) -> Guard<Arc<ForwardingSnapshot>> {
        self.current.load()
    }

    /// The current snapshot as an owned `Arc` (for holding across a longer task).
    pub fn load_full(&self) -> Arc<ForwardingSnapshot> {
        self.current.load_full()
    }

    /// Serve `snapshot` from now on.
    pub fn store(&self, snapshot: ForwardingSnapshot) {
        self.current.store(Arc::new(snapshot));
    }

    /// Read, parse and compile `path`, then swap it in atomically. On error the snapshot in
    /// service is untouched and the error names file, line and reason.
    pub fn reload_from(&self, path: &Path) -> Result<ReloadReport, TableError> {
        let _serial = self
            .reload_lock
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let started = Instant::now();
        let snapshot = ForwardingSnapshot::from_file(path)?;
        let report = ReloadReport {
            path: path.to_path_buf(),
            counts: snapshot.counts(),
            duration: started.elapsed(),
        };
        self.current.store(Arc::new(snapshot));
        Ok(report)
    }

    /// [`Self::reload_from`] and log the outcome in one line on stderr (what the watcher
    /// does; the SIGHUP handler should call this too, so both log alike). True on success.
    pub fn reload_logged(&self, path: &Path) -> bool {
        match self.reload_from(path) {
            Ok(report) => {
                eprintln!("ringlet: {report}");
                true
            }
            Err(e) => {
                eprintln!("ringlet: table reload refused, previous table kept: {e}");
                false
            }
        }
    }
}
