//! The one interface between the sans-I/O protocol core and the runtime.
//!
//! A worker owns one [`Endpoint`]. It hands it every datagram it reads together with `now`
//! (read once per batch of completions), and after each batch asks for the next deadline.
//! The endpoint writes what must be sent into an [`Outbox`]; the runtime submits the whole
//! outbox as one batch of sends. Nothing in an endpoint reads a clock, a socket or a thread
//! id, so a test drives it with fabricated datagrams and a virtual clock.
//!
//! ```text
//!   runtime (worker k)                       Endpoint (protocol core, worker k)
//!   ──────────────────                       ─────────────────────────────────
//!   recv batch ──(now, Incoming)──────────►  on_datagram ──► Outbox.transmits
//!   timer fires ──(now)────────────────────►  on_timeout  ──► Outbox.transmits
//!   handoff queue ──(now, Incoming{handoff})► on_datagram ──► Outbox.handoffs ──► worker j
//!   after batch ◄──next_timeout()───────────
//!   draining ◄──is_idle()────────────────────  leave when nothing is in flight
//! ```
//!
//! The outbox keeps every datagram in one contiguous arena so that building N responses
//! costs no allocation once the arena has grown to its working size.

use std::net::SocketAddr;
use std::ops::Range;
use std::time::Instant;

/// Index of a listening socket of this worker (the order of `listen` in the configuration).
pub type ListenerId = u16;

/// One datagram handed to the core.
#[derive(Debug, Clone, Copy)]
pub struct Incoming<'a> {
    /// The listener it arrived on (and the one replies should leave from).
    pub local: ListenerId,
    /// The address it came from.
    pub src: SocketAddr,
    /// The bytes, borrowed from the receive buffer.
    pub bytes: &'a [u8],
    /// True when another worker read it and handed it over to us (it names our branch).
    pub handed_off: bool,
}

/// One datagram to send: its bytes live in the outbox arena.
#[derive(Debug, Clone)]
pub struct Transmit {
    pub local: ListenerId,
    pub dest: SocketAddr,
    range: Range<usize>,
}

/// A datagram read by this worker that belongs to worker `worker`.
#[derive(Debug, Clone)]
pub struct Handoff {
    pub worker: usize,
    pub local: ListenerId,
    pub src: SocketAddr,
    range: Range<usize>,
}

/// What the core wants sent, built without allocating per datagram.
#[derive(Debug, Default)]
pub struct Outbox {
    arena: Vec<u8>,
    transmits: Vec<Transmit>,
    handoffs: Vec<Handoff>,
}

impl Outbox {
    pub fn new() -> Self {
        Self::with_capacity(64 * 1024, 64)
    }

    pub fn with_capacity(bytes: usize, datagrams: usize) -> Self {
        Outbox {
            arena: Vec::with_capacity(bytes),
            transmits: Vec::with_capacity(datagrams),
            handoffs: Vec::new(),
        }
    }

    /// Queue a copy of `bytes` for `dest`.
    pub fn send(&mut self, local: ListenerId, dest: SocketAddr, bytes: &[u8]) {
        self.send_with(local, dest, |buf| buf.extend_from_slice(bytes));
    }

    /// Queue a datagram written directly into the arena by `write` (which must only append).
    pub fn send_with(
        &mut self,
        local: ListenerId,
        dest: SocketAddr,
        write: impl FnOnce(&mut Vec<u8>),
    ) {
        let start = self.arena.len();
        write(&mut self.arena);
        let end = self.arena.len();
        if end > start {
            self.transmits.push(Transmit {
                local,
                dest,
                range: start..end,
            });
        }
    }

    /// Queue `bytes` (read from `src` on `local`) for worker `worker`.
    pub fn handoff(&mut self, worker: usize, local: ListenerId, src: SocketAddr, bytes: &[u8]) {
        let start = self.arena.len();
        self.arena.extend_from_slice(bytes);
        self.handoffs.push(Handoff {
            worker,
            local,
            src,
            range: start..self.arena.len(),
        });
    }

    pub fn transmits(&self) -> impl ExactSizeIterator<Item = (&Transmit, &[u8])> {
        self.transmits
            .iter()
            .map(|t| (t, &self.arena[t.range.clone()]))
    }

    pub fn handoffs(&self) -> impl ExactSizeIterator<Item = (&Handoff, &[u8])> {
        self.handoffs
            .iter()
            .map(|h| (h, &self.arena[h.range.clone()]))
    }

    pub fn len(&self) -> usize {
        self.transmits.len()
    }

    pub fn is_empty(&self) -> bool {
        self.transmits.is_empty() && self.handoffs.is_empty()
    }

    /// Forget everything queued, keeping the allocations.
    pub fn clear(&mut self) {
        self.arena.clear();
        self.transmits.clear();
        self.handoffs.clear();
    }
}

/// The protocol core as one worker sees it. One instance per worker; never shared.
pub trait Endpoint: Send {
    /// A datagram arrived (or was handed over by another worker).
    fn on_datagram(&mut self, now: Instant, incoming: Incoming<'_>, out: &mut Outbox);
    /// `now` has reached (or passed) the deadline last returned by [`Endpoint::next_timeout`].
    fn on_timeout(&mut self, now: Instant, out: &mut Outbox);
    /// When the core next wants [`Endpoint::on_timeout`] called, if ever.
    fn next_timeout(&self) -> Option<Instant>;
    /// Nothing in flight that still needs this worker: no request waiting for a final
    /// response, no request of ours waiting for one. A draining worker leaves once this
    /// holds, even if timers remain (e.g. a completed transaction kept to absorb
    /// retransmissions, RFC 3261 §17.2.2 Timer J, which a worker that no longer reads
    /// cannot receive anyway). The default: idle when no timer is armed.
    fn is_idle(&self) -> bool {
        self.next_timeout().is_none()
    }
}
