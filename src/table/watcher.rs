//! A thread that reloads the table when its file changes.
//!
//! It polls the identity (device, inode, size, modification time) of the file, or of a
//! table folder and each of its files, every `poll_interval`. Editors and deploy tools often save by writing a new file and renaming
//! it over the old one: the inode changes even if the mtime happens to be equal, so both
//! are compared. A missing file (between unlink and rename, or deleted) is not a change:
//! the table in service stays and the watcher waits for the file to come back.
//!
//! After a failed reload the watcher remembers the identity it tried, so it does not retry
//! the same broken file every second; the next save is tried as usual. Each reload attempt
//! logs one line on stderr: the counts and duration, or the error with file:line.
//!
//! This module and `handle` are the table layer's I/O edge (a thread, file metadata, a
//! clock for the reload duration); parsing, compiling and lookups do none.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use super::handle::TableHandle;
use super::source::identity;

/// A running watcher. Dropping it stops the thread (and waits for it).
pub struct TableWatcher {
    stop: Arc<AtomicBool>,
    attempts: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl TableWatcher {
    /// Reload attempts made so far (successful or not).
    pub fn attempts(&self) -> u64 {
        self.attempts.load(Ordering::Acquire)
    }

    /// Stop polling and wait for the thread to end (at most one poll interval).
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            // A panic in the watcher thread has already been reported; nothing to add.
            let _ = t.join();
        }
    }
}

impl Drop for TableWatcher {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Watch `path` and reload `handle` from it whenever it changes. The starting point is the
/// file version the handle's snapshot was read from (its identity is taken just before the
/// read), so a save between the first load and this call is not missed; if the snapshot
/// came from elsewhere (the demo table), the version on disk now counts as loaded.
pub fn spawn_watcher(
    handle: TableHandle,
    path: PathBuf,
    poll_interval: Duration,
) -> std::io::Result<TableWatcher> {
    let stop = Arc::new(AtomicBool::new(false));
    let attempts = Arc::new(AtomicU64::new(0));
    let (stop_t, attempts_t) = (stop.clone(), attempts.clone());
    let mut seen = {
        let current = handle.load();
        if current.source() == path.as_path() && current.source_identity.is_some() {
            current.source_identity.clone()
        } else {
            identity(&path)
        }
    };
    let thread = std::thread::Builder::new()
        .name("table-watch".into())
        .spawn(move || {
            while !stop_t.load(Ordering::Acquire) {
                std::thread::park_timeout(poll_interval);
                if stop_t.load(Ordering::Acquire) {
                    break;
                }
                let now = identity(&path);
                if now.is_none() || now == seen {
                    continue;
                }
                seen = now;
                handle.reload_logged(&path);
                attempts_t.fetch_add(1, Ordering::AcqRel);
            }
        })?;
    Ok(TableWatcher {
        stop,
        attempts,
        thread: Some(thread),
    })
}
