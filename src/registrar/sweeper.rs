//! [`BindingSweeper`]: the thread that removes expired bindings from the location table.
//!
//! Lookups already ignore expired bindings, so sweeping is about memory and the database
//! (a removed binding is queued to the write-behind writer like any other change), not
//! about correctness. Each tick calls [`LocationTable::sweep`] with a bound on the shards
//! it locks, so one tick never holds the table for long however many bindings expire at
//! once; what is left is taken on the next ticks.
//!
//! ```text
//!   sweeper thread: park(interval) ─► table.sweep(Instant::now(), max_shards) ─► on_removed
//!        ▲ unpark + stop flag (BindingSweeper::stop / drop)
//! ```
//!
//! Like the persistence writer, this is an I/O edge of the registrar: it reads the
//! monotonic clock, which the table itself never does.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::location::{LocationTable, SweepReport};

/// Called after a tick that removed something (e.g. to log it).
pub type SweepHook = Box<dyn FnMut(&SweepReport) + Send>;

/// A running sweeper. Dropping it stops the thread (and waits for it).
pub struct BindingSweeper {
    stop: Arc<AtomicBool>,
    removed: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl BindingSweeper {
    /// Bindings removed so far.
    pub fn removed(&self) -> u64 {
        self.removed.load(Ordering::Acquire)
    }

    /// Stop ticking and wait for the thread (at most one sweep); returns
    /// [`BindingSweeper::removed`].
    pub fn stop(mut self) -> u64 {
        self.shutdown();
        self.removed()
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            // A panic in the sweeper thread has already been reported; nothing to add.
            let _ = t.join();
        }
    }
}

impl Drop for BindingSweeper {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Sweep `table` every `interval`, locking at most `max_shards` shards per tick.
pub fn spawn_sweeper(
    table: Arc<LocationTable>,
    interval: Duration,
    max_shards: usize,
    mut on_removed: Option<SweepHook>,
) -> std::io::Result<BindingSweeper> {
    let stop = Arc::new(AtomicBool::new(false));
    let removed = Arc::new(AtomicU64::new(0));
    let (stop_t, removed_t) = (stop.clone(), removed.clone());
    let thread = std::thread::Builder::new()
        .name("registrar-sweep".into())
        .spawn(move || {
            while !stop_t.load(Ordering::Acquire) {
                std::thread::park_timeout(interval);
                if stop_t.load(Ordering::Acquire) {
                    break;
                }
                let report = table.sweep(Instant::now(), max_shards);
                if report.bindings_removed > 0 {
                    removed_t.fetch_add(report.bindings_removed as u64, Ordering::AcqRel);
                    if let Some(hook) = on_removed.as_mut() {
                        hook(&report);
                    }
                }
            }
        })?;
    Ok(BindingSweeper {
        stop,
        removed,
        thread: Some(thread),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registrar::TimeBase;
    use crate::registrar::{BindingFlags, BindingList, ContactSet, ContactUpdate, RegisterChange};

    #[test]
    fn expired_bindings_are_removed_by_the_thread_and_live_ones_stay() {
        // The table clock starts 100 s in the past, so a 1 s registration made at its
        // start has already expired in real time; a 3600 s one has not.
        let Some(t0) = Instant::now().checked_sub(Duration::from_secs(100)) else {
            return; // a monotonic clock this young cannot express the scenario
        };
        let table = Arc::new(LocationTable::new(TimeBase::new(t0, 0), 4, 8));
        let mut out = BindingList::new();
        for (aor, expires) in [("old@d", 1), ("new@d", 3600)] {
            let c = [ContactUpdate {
                uri: b"sip:ua@127.0.0.1:5070",
                expires,
                q: 1000,
            }];
            let change = RegisterChange {
                call_id: b"c",
                cseq: 1,
                contacts: ContactSet::Contacts(&c),
                path: &[],
                user_agent: b"",
                received: None,
                local: 0,
                flags: BindingFlags::default(),
            };
            table.apply(aor.as_bytes(), t0, &change, &mut out).unwrap();
        }
        assert_eq!(table.counts(), (2, 2));
        let (tx, rx) = std::sync::mpsc::channel();
        let hook: SweepHook = Box::new(move |r: &SweepReport| {
            let _ = tx.send(r.bindings_removed);
        });
        let sweeper =
            spawn_sweeper(table.clone(), Duration::from_millis(5), 64, Some(hook)).unwrap();
        let removed = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the sweeper reports the expired binding");
        assert_eq!(removed, 1);
        assert_eq!(sweeper.stop(), 1);
        assert_eq!(table.counts(), (1, 1), "the live binding stays");
        assert!(table.is_registered(b"new@d", Instant::now()));
    }
}
