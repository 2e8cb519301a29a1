//! Per-worker counters: plain integers with one writer each, summed by whoever reads them.
//!
//! Each worker owns one [`WorkerCounters`], aligned to its own cache lines so that two workers
//! never write the same line. Only the owning worker thread writes a field (load + store,
//! no read-modify-write instruction needed); readers (the main thread, the management API,
//! tests) load with `Relaxed` and may see a slightly stale value, never a torn one.
//!
//! ```text
//!   worker 0 ──writes──► [WorkerCounters 0 | pad to 128 B]
//!   worker 1 ──writes──► [WorkerCounters 1 | pad to 128 B]     reader: snapshot() each, sum
//! ```

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering::Relaxed};

/// The I/O backend a worker runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IoBackend {
    Uring,
    Poll,
}

impl IoBackend {
    pub fn name(self) -> &'static str {
        match self {
            IoBackend::Uring => "io_uring",
            IoBackend::Poll => "poll",
        }
    }
}

macro_rules! counters {
    ($( $(#[$doc:meta])* $name:ident ),* $(,)?) => {
        /// Live counters of one worker (see the module doc for the single-writer rule).
        #[derive(Debug, Default)]
        #[repr(align(128))]
        pub struct WorkerCounters {
            $( $(#[$doc])* pub $name: AtomicU64, )*
            backend: AtomicU8,
        }

        /// A copy of the counters at one moment, plain integers that add up.
        #[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
        pub struct CounterSnapshot {
            $( $(#[$doc])* pub $name: u64, )*
        }

        impl WorkerCounters {
            pub fn snapshot(&self) -> CounterSnapshot {
                CounterSnapshot { $( $name: self.$name.load(Relaxed), )* }
            }
        }

        impl std::ops::AddAssign for CounterSnapshot {
            fn add_assign(&mut self, o: CounterSnapshot) {
                $( self.$name += o.$name; )*
            }
        }

        impl CounterSnapshot {
            /// `name=value` pairs, for logs.
            pub fn fields(&self) -> [(&'static str, u64); counters!(@count $($name)*)] {
                [ $( (stringify!($name), self.$name), )* ]
            }
        }
    };
    (@count) => { 0 };
    (@count $head:ident $($tail:ident)*) => { 1 + counters!(@count $($tail)*) };
}

counters! {
    /// Datagrams read from the sockets.
    datagrams_in,
    /// Payload bytes read from the sockets.
    bytes_in,
    /// Datagrams sent (io_uring counts them at submission and takes back any that fail).
    datagrams_out,
    /// Payload bytes sent (same rule).
    bytes_out,
    /// Sends that failed (e.g. EAGAIN with a full socket buffer, unreachable destination).
    send_errors,
    /// Datagrams larger than a receive buffer, dropped.
    drop_truncated,
    /// Datagrams the kernel dropped because the socket receive queue was full
    /// (`SO_RXQ_OVFL`), e.g. while the provided-buffer ring was empty.
    drop_socket_overflow,
    /// Times the io_uring provided-buffer ring ran empty (ENOBUFS).
    recv_no_buffers,
    /// Times a multishot receive ended and was armed again.
    recv_rearms,
    /// Datagrams handed to another worker.
    handoffs_out,
    /// Datagrams received from another worker.
    handoffs_in,
    /// Handoffs dropped because the target worker's queue was full.
    drop_handoff_full,
    /// Handoffs naming a worker that does not exist (an endpoint bug), dropped.
    drop_handoff_bad_worker,
    /// Datagrams whose source address could not be decoded, dropped.
    drop_bad_source,
    /// Times the endpoint's deadline was reached and `on_timeout` ran.
    timer_wakes,
    /// Loop turns (one clock read each).
    loop_turns,
    /// Shutdowns where the drain time ran out with work still in flight (0 or 1).
    drain_expired,
}

impl WorkerCounters {
    /// Add `n` to `field`; only the owning worker calls this.
    #[inline]
    pub(crate) fn add(field: &AtomicU64, n: u64) {
        // Single writer: a plain load and store cannot lose an update.
        field.store(field.load(Relaxed).wrapping_add(n), Relaxed);
    }

    pub(crate) fn set_backend(&self, b: IoBackend) {
        self.backend.store(b as u8 + 1, Relaxed);
    }

    /// The backend this worker runs, once it has started.
    pub fn backend(&self) -> Option<IoBackend> {
        match self.backend.load(Relaxed) {
            1 => Some(IoBackend::Uring),
            2 => Some(IoBackend::Poll),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshots_add_up() {
        let a = WorkerCounters::default();
        let b = WorkerCounters::default();
        WorkerCounters::add(&a.datagrams_in, 3);
        WorkerCounters::add(&b.datagrams_in, 4);
        WorkerCounters::add(&b.drop_truncated, 1);
        let mut total = a.snapshot();
        total += b.snapshot();
        assert_eq!(total.datagrams_in, 7);
        assert_eq!(total.drop_truncated, 1);
        assert!(total.fields().contains(&("datagrams_in", 7)));
        assert!(std::mem::align_of::<WorkerCounters>() >= 128);
        a.set_backend(IoBackend::Poll);
        assert_eq!(a.backend(), Some(IoBackend::Poll));
        assert_eq!(b.backend(), None);
    }
}
