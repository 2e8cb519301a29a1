//! Cross-worker handoff: a bounded queue per worker plus an eventfd that wakes it.
//!
//! A datagram read by worker k that belongs to worker j (the endpoint says so through
//! `Outbox::handoff`) is copied into a [`HandoffMsg`] and pushed onto j's queue; k then
//! writes j's eventfd once per loop turn. Worker j keeps a read armed on its eventfd (a
//! Read op in the ring, or POLLIN in the poll backend), so the write ends its wait.
//!
//! ```text
//!   worker k ──try_send──► [ bounded queue of j ] ──try_recv──► worker j
//!            └─write(eventfd j)───────────────────► wakes j's wait
//! ```
//!
//! A full queue is never waited on: the datagram is dropped and counted by the sender
//! (`drop_handoff_full`), exactly as the kernel drops on a full socket buffer. SIP's
//! retransmissions recover it. The same eventfd is written by `RuntimeHandle::shutdown`.

use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use crossbeam_channel::{Receiver, Sender};

use crate::endpoint::ListenerId;

/// One handed-over datagram.
#[derive(Debug)]
pub(crate) struct HandoffMsg {
    pub local: ListenerId,
    pub src: SocketAddr,
    pub bytes: Vec<u8>,
}

/// A non-blocking eventfd used as a wake-up doorbell.
#[derive(Debug)]
pub(crate) struct EventFd(OwnedFd);

impl EventFd {
    pub fn new() -> io::Result<EventFd> {
        // SAFETY: plain syscall with constant flags; the result is checked below.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a fresh descriptor that nothing else owns.
        Ok(EventFd(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    /// Ring the doorbell. Never blocks: a saturated counter already means "wake up".
    pub fn notify(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live u64 to our own eventfd.
        let _ = unsafe { libc::write(self.0.as_raw_fd(), (&one as *const u64).cast(), 8) };
    }

    /// Reset the counter (poll backend; the io_uring backend reads it with a Read op).
    pub fn drain(&self) {
        let mut v: u64 = 0;
        // SAFETY: reads at most 8 bytes into a live u64; EAGAIN when already zero is fine.
        let _ = unsafe { libc::read(self.0.as_raw_fd(), (&mut v as *mut u64).cast(), 8) };
    }

    pub fn fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }
}

/// The sending side of one worker's inbox.
#[derive(Debug, Clone)]
pub(crate) struct Peer {
    pub tx: Sender<HandoffMsg>,
    pub wake: std::sync::Arc<EventFd>,
}

/// Make the queue for one worker.
pub(crate) fn inbox(capacity: usize) -> (Sender<HandoffMsg>, Receiver<HandoffMsg>) {
    crossbeam_channel::bounded(capacity)
}
