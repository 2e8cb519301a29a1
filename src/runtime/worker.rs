//! The worker role shared by both I/O backends: everything a worker does between reading
//! datagrams and submitting sends, with no I/O of its own.
//!
//! A backend's loop turn is always the same (aquatic style: the backend owns the sockets,
//! [`WorkerCore`] owns the endpoint and the bookkeeping):
//!
//! ```text
//!   wait (ring / poll) until I/O, a wake, or core.deadline()
//!   now = Instant::now()                       ── one clock read per turn
//!   for each datagram read: core.deliver(now, ..)
//!   core.take_handoffs(now)                    ── datagrams other workers passed us
//!   core.run_timers(now)
//!   core.route_handoffs()                      ── Outbox.handoffs → peers' queues + wake
//!   backend sends core.out's transmits, then clears it
//!   core.phase(): Running | Draining (stop reading; leave when idle or at the deadline) | Stop
//! ```

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, TrySendError};

use super::counters::WorkerCounters;
use super::handoff::{EventFd, HandoffMsg, Peer};
use crate::endpoint::{Endpoint, Incoming, ListenerId, Outbox};

const RUNNING: u8 = 0;
const DRAINING: u8 = 1;
const STOP: u8 = 2;

/// Most handed-over datagrams taken per turn, so a flood from peers cannot starve the sockets.
const HANDOFFS_PER_TURN: usize = 1024;
/// Most `on_timeout` calls per turn (an endpoint whose deadline stays in the past).
const TIMEOUTS_PER_TURN: usize = 64;

/// What the workers should be doing, shared by the handle and every worker.
#[derive(Debug)]
pub(crate) struct Control {
    phase: AtomicU8,
    drain_deadline: Mutex<Option<Instant>>,
    wakes: Vec<Arc<EventFd>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Running,
    /// Stop reading; finish in-flight work; leave by this instant at the latest.
    Draining(Instant),
    Stop,
}

impl Control {
    pub fn new(wakes: Vec<Arc<EventFd>>) -> Control {
        Control {
            phase: AtomicU8::new(RUNNING),
            drain_deadline: Mutex::new(None),
            wakes,
        }
    }

    pub fn shutdown(&self, drain: Duration) {
        {
            let mut d = self
                .drain_deadline
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            if d.is_none() {
                *d = Some(Instant::now() + drain);
            }
        }
        // Release: a worker that sees DRAINING also sees the deadline written above.
        let _ =
            self.phase
                .compare_exchange(RUNNING, DRAINING, Ordering::Release, Ordering::Relaxed);
        self.wake_all();
    }

    pub fn stop(&self) {
        self.phase.store(STOP, Ordering::Release);
        self.wake_all();
    }

    fn wake_all(&self) {
        for w in &self.wakes {
            w.notify();
        }
    }

    pub fn phase(&self) -> Phase {
        match self.phase.load(Ordering::Acquire) {
            RUNNING => Phase::Running,
            DRAINING => {
                let d = self
                    .drain_deadline
                    .lock()
                    .unwrap_or_else(|p| p.into_inner());
                Phase::Draining(d.unwrap_or_else(Instant::now))
            }
            _ => Phase::Stop,
        }
    }
}

/// One worker's endpoint, outbox, inbox and counters.
pub(crate) struct WorkerCore {
    pub index: usize,
    endpoint: Box<dyn Endpoint>,
    /// What the endpoint wants sent; the backend sends and clears it every turn.
    pub out: Outbox,
    pub counters: Arc<WorkerCounters>,
    peers: Arc<[Peer]>,
    inbox: Receiver<HandoffMsg>,
    pub wake: Arc<EventFd>,
    control: Arc<Control>,
    woken: Vec<bool>,
}

impl WorkerCore {
    pub fn new(
        index: usize,
        endpoint: Box<dyn Endpoint>,
        counters: Arc<WorkerCounters>,
        peers: Arc<[Peer]>,
        inbox: Receiver<HandoffMsg>,
        control: Arc<Control>,
    ) -> WorkerCore {
        let wake = peers[index].wake.clone();
        let woken = vec![false; peers.len()];
        WorkerCore {
            index,
            endpoint,
            out: Outbox::new(),
            counters,
            peers,
            inbox,
            wake,
            control,
            woken,
        }
    }

    /// Hand one datagram read from a socket to the endpoint.
    #[inline]
    pub fn deliver(&mut self, now: Instant, local: ListenerId, src: SocketAddr, bytes: &[u8]) {
        WorkerCounters::add(&self.counters.datagrams_in, 1);
        WorkerCounters::add(&self.counters.bytes_in, bytes.len() as u64);
        self.endpoint.on_datagram(
            now,
            Incoming {
                local,
                src,
                bytes,
                handed_off: false,
            },
            &mut self.out,
        );
    }

    /// Give the endpoint what other workers handed over.
    pub fn take_handoffs(&mut self, now: Instant) {
        for _ in 0..HANDOFFS_PER_TURN {
            let Ok(m) = self.inbox.try_recv() else { break };
            WorkerCounters::add(&self.counters.handoffs_in, 1);
            let incoming = Incoming {
                local: m.local,
                src: m.src,
                bytes: &m.bytes,
                handed_off: true,
            };
            self.endpoint.on_datagram(now, incoming, &mut self.out);
        }
    }

    /// Fire the endpoint's timer if its deadline has come.
    pub fn run_timers(&mut self, now: Instant) {
        for _ in 0..TIMEOUTS_PER_TURN {
            match self.endpoint.next_timeout() {
                Some(d) if d <= now => {
                    WorkerCounters::add(&self.counters.timer_wakes, 1);
                    self.endpoint.on_timeout(now, &mut self.out);
                }
                _ => break,
            }
        }
    }

    /// Push the outbox's handoffs onto the named workers' queues and wake them. The
    /// transmits stay in `out` for the backend.
    pub fn route_handoffs(&mut self) {
        if self.out.handoffs().len() == 0 {
            return;
        }
        for (h, bytes) in self.out.handoffs() {
            let Some(peer) = self.peers.get(h.worker) else {
                WorkerCounters::add(&self.counters.drop_handoff_bad_worker, 1);
                continue;
            };
            let msg = HandoffMsg {
                local: h.local,
                src: h.src,
                bytes: bytes.to_vec(),
            };
            match peer.tx.try_send(msg) {
                Ok(()) => {
                    WorkerCounters::add(&self.counters.handoffs_out, 1);
                    self.woken[h.worker] = true;
                }
                Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                    WorkerCounters::add(&self.counters.drop_handoff_full, 1);
                }
            }
        }
        for (i, w) in self.woken.iter_mut().enumerate() {
            if std::mem::take(w) {
                self.peers[i].wake.notify();
            }
        }
    }

    pub fn phase(&self) -> Phase {
        self.control.phase()
    }

    /// When the loop must wake at the latest: the endpoint's deadline, or the drain deadline.
    pub fn deadline(&self) -> Option<Instant> {
        let ep = self.endpoint.next_timeout();
        match self.control.phase() {
            Phase::Running => ep,
            Phase::Draining(d) => Some(ep.map_or(d, |e| e.min(d))),
            Phase::Stop => Some(Instant::now()),
        }
    }

    /// While draining, whether the worker may leave now: yes once the endpoint has nothing
    /// left in flight ([`Endpoint::is_idle`]) and the backend has no send outstanding; yes,
    /// counted in `drain_expired`, when the drain time is over regardless.
    pub fn may_leave(&self, now: Instant, drain_deadline: Instant, sends_in_flight: bool) -> bool {
        if self.endpoint.is_idle() && !sends_in_flight {
            return true;
        }
        if now >= drain_deadline {
            WorkerCounters::add(&self.counters.drain_expired, 1);
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::handoff;

    struct HandAll;
    impl Endpoint for HandAll {
        fn on_datagram(&mut self, _now: Instant, inc: Incoming<'_>, out: &mut Outbox) {
            out.handoff(1, inc.local, inc.src, inc.bytes);
            out.handoff(7, inc.local, inc.src, inc.bytes);
        }
        fn on_timeout(&mut self, _now: Instant, _out: &mut Outbox) {}
        fn next_timeout(&self) -> Option<Instant> {
            None
        }
    }

    #[test]
    fn a_full_handoff_queue_drops_and_counts() {
        let wakes: Vec<Arc<EventFd>> = (0..2).map(|_| Arc::new(EventFd::new().unwrap())).collect();
        let (tx0, rx0) = handoff::inbox(1);
        let (tx1, rx1) = handoff::inbox(1);
        let peers: Arc<[Peer]> = vec![
            Peer {
                tx: tx0,
                wake: wakes[0].clone(),
            },
            Peer {
                tx: tx1,
                wake: wakes[1].clone(),
            },
        ]
        .into();
        let control = Arc::new(Control::new(wakes));
        let counters = Arc::new(WorkerCounters::default());
        let mut core = WorkerCore::new(0, Box::new(HandAll), counters.clone(), peers, rx0, control);
        let now = Instant::now();
        let src = "127.0.0.1:9".parse().unwrap();
        for _ in 0..3 {
            core.deliver(now, 0, src, b"x");
        }
        core.route_handoffs();
        let c = counters.snapshot();
        assert_eq!(c.handoffs_out, 1, "the queue holds one");
        assert_eq!(c.drop_handoff_full, 2);
        assert_eq!(c.drop_handoff_bad_worker, 3, "worker 7 does not exist");
        let m = rx1.try_recv().unwrap();
        assert_eq!(m.bytes, b"x");
        assert!(rx1.try_recv().is_err());
    }

    #[test]
    fn shutdown_moves_to_draining_with_a_deadline_then_stop() {
        let control = Control::new(Vec::new());
        assert_eq!(control.phase(), Phase::Running);
        control.shutdown(Duration::from_secs(5));
        assert!(matches!(control.phase(), Phase::Draining(d) if d > Instant::now()));
        control.stop();
        assert_eq!(control.phase(), Phase::Stop);
    }
}
