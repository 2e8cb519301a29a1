//! The io_uring backend: one ring per worker, multishot receives into a provided-buffer ring,
//! batched sends on registered sockets, one `submit_with_args` (submit + wait with the
//! endpoint's deadline as timeout) per loop turn.
//!
//! Operations in flight and the memory each one uses (all owned by [`UringWorker`], whose
//! field order drops the ring before any of that memory):
//!
//! ```text
//!   op                 user_data         memory the kernel may touch        ends when
//!   RecvMsgMulti × L   RECV | listener   recv_hdr (msghdr template),        CQE without F_MORE
//!                                        BufRing buffers (see buf_ring.rs)  (ENOBUFS, cancel, error)
//!   Read (eventfd)     WAKE              wake_buf (8 bytes)                 its one CQE
//!   Send × N           SEND | batch,i    SendBatch b: addresses (and        its one CQE; batch b is
//!   (or SendMsg)                         msghdrs, iovecs), Outbox arena     reusable when all N are in
//!   AsyncCancel        CANCEL            none                               its one CQE
//! ```
//!
//! A send batch is the outbox of one loop turn, swapped out of the core whole so that the
//! bytes the kernel reads stay put until every send of the batch has completed; the core
//! gets an empty outbox from the free list. At exit the worker cancels its receives and its
//! eventfd read and reaps every outstanding completion before the ring and buffers drop.

use std::io;
use std::net::UdpSocket;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use io_uring::{cqueue, opcode, squeue, types, IoUring};
use socket2::SockAddr;

use super::buf_ring::BufRing;
use super::counters::WorkerCounters;
use super::slack::TimerSlack;
use super::socket::{
    rxq_overflow_from_control, sockaddr_bytes_to_std, OverflowTracker, RXQ_OVFL_CMSG_SPACE,
};
use super::worker::{Phase, WorkerCore};
use crate::endpoint::{ListenerId, Outbox};

const KIND_SHIFT: u32 = 56;
const KIND_RECV: u64 = 1;
const KIND_SEND: u64 = 2;
const KIND_WAKE: u64 = 3;
const KIND_CANCEL: u64 = 4;

/// `io_uring_enter(2)` flag: process completions (and, with DEFER_TASKRUN, the ring's
/// deferred work) in this call. Kernel ABI, `include/uapi/linux/io_uring.h`.
const IORING_ENTER_GETEVENTS: u32 = 1 << 0;

fn user_data(kind: u64, index: usize) -> u64 {
    (kind << KIND_SHIFT) | index as u64
}

/// A send's user_data also names its place in the batch (to take back its byte count if
/// it fails): batch in bits 24..56, datagram in bits 0..24.
const SEND_INDEX_BITS: u32 = 24;

fn send_user_data(batch: usize, i: usize) -> u64 {
    user_data(
        KIND_SEND,
        (batch << SEND_INDEX_BITS) | (i & ((1 << SEND_INDEX_BITS) - 1)),
    )
}

/// Send batches beyond this many in flight are refused (sends dropped and counted): the
/// kernel is not completing sends, and memory must stay bounded.
const MAX_SEND_BATCHES: usize = 256;
/// Longest completion coalescing window honoured (a longer one is cut to this).
const MAX_COALESCE_US: u32 = 10_000;
/// The wait's timeout when the endpoint has no deadline but coalescing needs one (the
/// kernel's min-wait applies only to waits with a timeout longer than the window).
const IDLE_WAIT: Duration = Duration::from_secs(3600);

/// Turns spent reaping cancelled operations at exit before giving up.
const TEARDOWN_TURNS: usize = 200;

/// Check that this kernel (or container) gives us everything the backend needs: a ring,
/// `IORING_FEAT_EXT_ARG` (5.11) for waits with a timeout, multishot recvmsg and a provided
/// buffer ring (5.19+). Returns why not, for the one log line of `io = "auto"`.
///
/// Runs on a short-lived thread of its own: when a ring is torn down, the kernel interrupts
/// every task that used it (task work with TWA_SIGNAL), which would make a blocking call of
/// the caller's thread (e.g. a `recv` with a timeout) fail with EINTR.
pub(crate) fn probe() -> Result<(), String> {
    std::thread::Builder::new()
        .name("ringlet-probe".into())
        .spawn(probe_here)
        .map_err(|e| format!("cannot start the probe thread: {e}"))?
        .join()
        .map_err(|_| "the io_uring probe panicked".to_string())?
}

fn probe_here() -> Result<(), String> {
    let ring = IoUring::new(8).map_err(|e| format!("io_uring_setup failed: {e}"))?;
    if !ring.params().is_feature_ext_arg() {
        return Err("kernel lacks IORING_FEAT_EXT_ARG (needs Linux 5.11+)".into());
    }
    let mut probe = io_uring::Probe::new();
    ring.submitter()
        .register_probe(&mut probe)
        .map_err(|e| format!("io_uring probe failed: {e}"))?;
    for (code, name) in [
        (opcode::RecvMsg::CODE, "recvmsg"),
        (opcode::SendMsg::CODE, "sendmsg"),
        (opcode::Read::CODE, "read"),
    ] {
        if !probe.is_supported(code) {
            return Err(format!("kernel io_uring lacks {name}"));
        }
    }
    let bufs = BufRing::new(1, 64, 0).map_err(|e| format!("cannot map a buffer ring: {e}"))?;
    bufs.register(&ring.submitter())
        .map_err(|e| format!("provided-buffer rings unsupported (needs Linux 5.19+): {e}"))?;
    // Dropping `ring` before `bufs` releases the registration first.
    drop(ring);
    drop(bufs);
    Ok(())
}

/// One turn's outbox while its sends are in flight.
struct SendBatch {
    out: Outbox,
    msgs: Vec<libc::msghdr>,
    iovs: Vec<libc::iovec>,
    addrs: Vec<SockAddr>,
    /// The socket each datagram leaves from: its listener index when the sockets are
    /// registered files, its fd otherwise.
    fds: Vec<i32>,
    pending: usize,
}

impl SendBatch {
    fn new() -> SendBatch {
        SendBatch {
            out: Outbox::new(),
            msgs: Vec::new(),
            iovs: Vec::new(),
            addrs: Vec::new(),
            fds: Vec::new(),
            pending: 0,
        }
    }
}

/// The io_uring state of one worker. Field order matters: `ring` drops first.
pub(crate) struct UringWorker {
    ring: IoUring,
    bufs: BufRing,
    sockets: Vec<UdpSocket>,
    /// The msghdr template the multishot receives were armed with (name and control sizes).
    recv_hdr: Box<libc::msghdr>,
    recv_armed: Vec<bool>,
    overflow: Vec<OverflowTracker>,
    wake_buf: Box<u64>,
    wake_armed: bool,
    batches: Vec<SendBatch>,
    free_batches: Vec<usize>,
    sends_in_flight: usize,
    /// Sends pushed since the last wait (see `submit_and_wait`).
    sends_queued: usize,
    setup: &'static str,
    cqes: Vec<(u64, i32, u32)>,
    /// Completions taken off the ring before a coalesced wait (see `submit_and_wait`),
    /// handled first by the next `reap`.
    stashed: Vec<(u64, i32, u32)>,
    slack: TimerSlack,
    /// Completion coalescing window in µs (0: off, or the kernel lacks min-wait).
    coalesce_us: u32,
    /// Completions a coalesced wait asks for before its window is over.
    coalesce_want: u32,
    /// Send with the destination in the SQE (`IORING_OP_SEND` + address, Linux 6.0)
    /// rather than `SendMsg`: the kernel then copies no msghdr and imports no iovec per
    /// datagram. Used when the kernel has min-wait (6.12), which implies it.
    send_with_addr: bool,
    /// The sockets are registered with the ring (fixed file i = listener i), so no
    /// operation looks up and reference-counts its file (fget/fput per datagram).
    fixed_files: bool,
}

impl UringWorker {
    /// Build the ring with the best setup flags this kernel accepts, and register buffers.
    pub fn new(
        sockets: Vec<UdpSocket>,
        recv_buffers: u16,
        recv_buffer_size: usize,
        batch: usize,
        slack: TimerSlack,
        coalesce: Duration,
    ) -> io::Result<UringWorker> {
        let entries = (batch.max(64) * 4).next_power_of_two().min(4096) as u32;
        let (ring, setup) = build_ring(entries)?;
        if !ring.params().is_feature_ext_arg() {
            return Err(io::Error::other(
                "kernel lacks IORING_FEAT_EXT_ARG (needs Linux 5.11+)",
            ));
        }
        let bufs = BufRing::new(recv_buffers, recv_buffer_size, 0)?;
        bufs.register(&ring.submitter())?;
        // SAFETY: msghdr is plain data; zeroed is "no name, no iovec, no control".
        let mut recv_hdr: Box<libc::msghdr> = Box::new(unsafe { std::mem::zeroed() });
        recv_hdr.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        recv_hdr.msg_controllen = RXQ_OVFL_CMSG_SPACE as _;
        let n = sockets.len();
        // IORING_FEAT_MIN_TIMEOUT (Linux 6.12): without it there is no coalescing.
        let send_with_addr = ring.params().is_feature_min_timeout();
        let raw: Vec<i32> = sockets.iter().map(|s| s.as_raw_fd()).collect();
        // Without registration (old kernel, file limit) every operation names the fd.
        let fixed_files = ring.submitter().register_files(&raw).is_ok();
        let coalesce_us = if ring.params().is_feature_min_timeout() {
            coalesce.as_micros().min(u128::from(MAX_COALESCE_US)) as u32
        } else {
            0
        };
        Ok(UringWorker {
            ring,
            bufs,
            sockets,
            recv_hdr,
            recv_armed: vec![false; n],
            overflow: vec![OverflowTracker::default(); n],
            wake_buf: Box::new(0),
            wake_armed: false,
            batches: Vec::new(),
            free_batches: Vec::new(),
            sends_in_flight: 0,
            sends_queued: 0,
            setup,
            cqes: Vec::with_capacity(entries as usize * 2),
            stashed: Vec::with_capacity(entries as usize),
            slack,
            coalesce_us,
            coalesce_want: batch.clamp(1, 4096) as u32,
            send_with_addr,
            fixed_files,
        })
    }

    /// The setup flags in use, for the start-up log line.
    pub fn setup_flags(&self) -> &'static str {
        self.setup
    }

    /// Push one SQE, submitting first if the submission queue is full.
    fn push(&mut self, entry: squeue::Entry) -> io::Result<()> {
        loop {
            // SAFETY: every entry we build points only at memory owned by `self` that stays
            // put until its completion is reaped (see the module table).
            if unsafe { self.ring.submission().push(&entry) }.is_ok() {
                return Ok(());
            }
            self.ring.submit()?;
        }
    }

    fn arm_recv(&mut self, l: usize) -> io::Result<()> {
        let hdr = &*self.recv_hdr as *const libc::msghdr;
        let e = if self.fixed_files {
            opcode::RecvMsgMulti::new(types::Fixed(l as u32), hdr, self.bufs.bgid).build()
        } else {
            let fd = types::Fd(self.sockets[l].as_raw_fd());
            opcode::RecvMsgMulti::new(fd, hdr, self.bufs.bgid).build()
        };
        let e = e.user_data(user_data(KIND_RECV, l));
        self.push(e)?;
        self.recv_armed[l] = true;
        Ok(())
    }

    fn arm_wake(&mut self, wake_fd: i32) -> io::Result<()> {
        let buf = &mut *self.wake_buf as *mut u64 as *mut u8;
        let e = opcode::Read::new(types::Fd(wake_fd), buf, 8)
            .build()
            .user_data(user_data(KIND_WAKE, 0));
        self.push(e)?;
        self.wake_armed = true;
        Ok(())
    }

    /// Submit what is queued and wait for one completion or `deadline`.
    ///
    /// Sends queued since the last wait complete inline during this very submit (UDP sends
    /// do not block), so waiting for just one completion would return at once with only
    /// those and cost an extra turn. Waiting for `queued sends + 1` returns when something
    /// new has happened: a datagram, a wake, the deadline (or a send that took longer).
    /// While draining, the completion of those sends is itself the news the loop waits for
    /// (it may leave once they are done), so one completion is enough.
    ///
    /// Coalescing (`coalesce_us` > 0, kernel min-wait): first a non-blocking enter submits
    /// the sends and posts whatever already arrived; if anything besides the sends' own
    /// completions is there, the turn goes on without sleeping. Otherwise the wait asks
    /// for a whole batch of completions but settles for whatever has arrived once
    /// `coalesce_us` have passed since it began; when nothing at all has arrived by then,
    /// the first completion ends it at once. So an idle worker answers its first datagram without delay, and a busy
    /// one takes a turn (a context switch) per window instead of per datagram or two:
    ///
    /// ```text
    ///   wait begins ──── coalesce_us ────┬─ something arrived? return with all of it
    ///                                    └─ nothing: return on the first completion
    ///                                       (or the deadline)
    /// ```
    fn submit_and_wait(
        &mut self,
        last_now: Instant,
        deadline: Option<Instant>,
        draining: bool,
    ) -> io::Result<()> {
        let queued = std::mem::take(&mut self.sends_queued) as u32;
        let coalesce = self.coalesce_us > 0 && !draining;
        if coalesce {
            // Before sleeping: submit the sends and let the kernel post what is already
            // there, without waiting (GETEVENTS with min_complete 0 runs the ring's deferred
            // work, i.e. the receives of datagrams that arrived while the last turn ran).
            // - The sends' completions are taken off the ring: the kernel ends a min-wait
            //   as soon as the window is over if the ring holds *any* completion, so they
            //   would end every wait after `coalesce_us` with nothing new to do (measured:
            //   twice the turns, a context switch each, in request-response traffic).
            // - A datagram that arrived during the last turn is handled now instead of
            //   waiting out a whole window on top of the time it already waited.
            // One syscall without a sleep costs far less than a turn.
            let to_submit = self.ring.submission().len() as u32;
            // SAFETY: no argument is passed (`None`), so the kernel reads nothing of ours
            // but the rings, which `self.ring` owns; every queued SQE points at memory that
            // stays put until its completion is reaped (module table).
            let r = unsafe {
                self.ring.submitter().enter::<libc::sigset_t>(
                    to_submit,
                    0,
                    IORING_ENTER_GETEVENTS,
                    None,
                )
            };
            if let Err(e) = r {
                if !matches!(
                    e.raw_os_error(),
                    Some(libc::EINTR) | Some(libc::EBUSY) | Some(libc::EAGAIN)
                ) {
                    return Err(e);
                }
            }
            let before = self.stashed.len();
            self.stashed.extend(
                self.ring
                    .completion()
                    .map(|c| (c.user_data(), c.result(), c.flags())),
            );
            if self.stashed[before..]
                .iter()
                .any(|(ud, _, _)| ud >> KIND_SHIFT != KIND_SEND)
            {
                // Something besides our sends is there already: no wait at all.
                return Ok(());
            }
        }
        let want = if draining {
            1
        } else if coalesce {
            // The sends' completions were taken off above.
            self.coalesce_want
        } else {
            1 + queued
        };
        let r = match (deadline, coalesce) {
            (None, false) => self.ring.submit_and_wait(want as usize),
            (d, _) => {
                // Measured from the previous turn's clock read: the wait may end slightly late
                // (by that turn's processing time), never early.
                let wait = d.map_or(IDLE_WAIT, |d| d.saturating_duration_since(last_now));
                let ts = types::Timespec::from(wait);
                let args = types::SubmitArgs::new().timespec(&ts);
                let args = if coalesce {
                    args.min_wait_usec(self.coalesce_us)
                } else {
                    args
                };
                self.ring.submitter().submit_with_args(want as usize, &args)
            }
        };
        match r {
            Ok(_) => Ok(()),
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::ETIME) | Some(libc::EINTR) | Some(libc::EBUSY) | Some(libc::EAGAIN)
                ) =>
            {
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Run the worker until shutdown.
    pub fn run(&mut self, core: &mut WorkerCore) -> io::Result<()> {
        for l in 0..self.sockets.len() {
            self.arm_recv(l)?;
        }
        let wake_fd = core.wake.fd();
        self.arm_wake(wake_fd)?;
        let mut reading = true;
        let mut now = Instant::now();
        loop {
            // While running, timer wake-ups go to the slack grid; a drain ends on time.
            let deadline = if reading {
                self.slack.round_up(core.deadline())
            } else {
                core.deadline()
            };
            self.submit_and_wait(now, deadline, !reading)?;
            now = Instant::now();
            WorkerCounters::add(&core.counters.loop_turns, 1);

            self.reap(core, now);
            self.bufs.publish();
            core.take_handoffs(now);
            core.run_timers(now);
            core.route_handoffs();
            self.flush_sends(core)?;

            match core.phase() {
                Phase::Running => {
                    for l in 0..self.sockets.len() {
                        if !self.recv_armed[l] {
                            WorkerCounters::add(&core.counters.recv_rearms, 1);
                            self.arm_recv(l)?;
                        }
                    }
                }
                Phase::Draining(deadline) => {
                    if reading {
                        reading = false;
                        self.cancel_receives()?;
                    }
                    if core.may_leave(now, deadline, self.sends_in_flight > 0) {
                        break;
                    }
                }
                Phase::Stop => break,
            }
            if !self.wake_armed {
                self.arm_wake(wake_fd)?;
            }
        }
        self.teardown(core)
    }

    /// Take every completion off the queue and act on it.
    fn reap(&mut self, core: &mut WorkerCore, now: Instant) {
        self.cqes.clear();
        self.cqes.append(&mut self.stashed);
        self.cqes.extend(
            self.ring
                .completion()
                .map(|c| (c.user_data(), c.result(), c.flags())),
        );
        for i in 0..self.cqes.len() {
            let (ud, res, flags) = self.cqes[i];
            let index = (ud & ((1 << KIND_SHIFT) - 1)) as usize;
            match ud >> KIND_SHIFT {
                KIND_RECV => self.on_recv(core, now, index, res, flags),
                KIND_SEND => self.on_send(core, index, res),
                KIND_WAKE => self.wake_armed = false,
                _ => {}
            }
        }
    }

    fn on_recv(&mut self, core: &mut WorkerCore, now: Instant, l: usize, res: i32, flags: u32) {
        if !cqueue::more(flags) {
            // The multishot ended (ENOBUFS, cancel, error); re-armed after this turn.
            self.recv_armed[l] = false;
        }
        if res < 0 {
            if -res == libc::ENOBUFS {
                WorkerCounters::add(&core.counters.recv_no_buffers, 1);
            }
            return;
        }
        let Some(bid) = cqueue::buffer_select(flags) else {
            return;
        };
        match types::RecvMsgOut::parse(self.bufs.buffer(bid, res as usize), &self.recv_hdr) {
            Ok(msg) => {
                if let Some(total) = rxq_overflow_from_control(msg.control_data()) {
                    WorkerCounters::add(
                        &core.counters.drop_socket_overflow,
                        self.overflow[l].observe(total),
                    );
                }
                let name_len = (msg.incoming_name_len() as usize).min(msg.name_data().len());
                if msg.is_payload_truncated() {
                    WorkerCounters::add(&core.counters.drop_truncated, 1);
                } else if let Some(src) = sockaddr_bytes_to_std(&msg.name_data()[..name_len]) {
                    core.deliver(now, l as ListenerId, src, msg.payload_data());
                } else {
                    WorkerCounters::add(&core.counters.drop_bad_source, 1);
                }
            }
            Err(()) => WorkerCounters::add(&core.counters.drop_bad_source, 1),
        }
        self.bufs.recycle(bid);
    }

    /// A send completed. It was counted in `datagrams_out` when submitted (so the counters
    /// do not lag behind while the worker sleeps with its completion unreaped); a failure
    /// takes the datagram back and counts it as a send error.
    fn on_send(&mut self, core: &mut WorkerCore, index: usize, res: i32) {
        let b = index >> SEND_INDEX_BITS;
        let i = index & ((1 << SEND_INDEX_BITS) - 1);
        if res < 0 {
            WorkerCounters::add(&core.counters.send_errors, 1);
            let len = self
                .batches
                .get(b)
                .and_then(|batch| batch.iovs.get(i))
                .map_or(0, |v| v.iov_len);
            WorkerCounters::add(&core.counters.datagrams_out, u64::MAX);
            WorkerCounters::add(&core.counters.bytes_out, (len as u64).wrapping_neg());
        }
        self.sends_in_flight = self.sends_in_flight.saturating_sub(1);
        if let Some(batch) = self.batches.get_mut(b) {
            batch.pending = batch.pending.saturating_sub(1);
            if batch.pending == 0 {
                batch.out.clear();
                self.free_batches.push(b);
            }
        }
    }

    /// Turn the core's outbox into a batch of SendMsg operations.
    fn flush_sends(&mut self, core: &mut WorkerCore) -> io::Result<()> {
        if core.out.transmits().next().is_none() {
            core.out.clear();
            return Ok(());
        }
        let b = match self.free_batches.pop() {
            Some(b) => b,
            None if self.batches.len() < MAX_SEND_BATCHES => {
                self.batches.push(SendBatch::new());
                self.batches.len() - 1
            }
            None => {
                WorkerCounters::add(&core.counters.send_errors, core.out.len() as u64);
                core.out.clear();
                return Ok(());
            }
        };
        let batch = &mut self.batches[b];
        // The batch's outbox is empty; the core continues with it while the kernel reads this one.
        std::mem::swap(&mut core.out, &mut batch.out);
        batch.msgs.clear();
        batch.iovs.clear();
        batch.addrs.clear();
        batch.fds.clear();
        for (t, bytes) in batch.out.transmits() {
            let Some(sock) = self.sockets.get(t.local as usize) else {
                WorkerCounters::add(&core.counters.send_errors, 1);
                continue;
            };
            batch.fds.push(if self.fixed_files {
                t.local as i32
            } else {
                sock.as_raw_fd()
            });
            batch.addrs.push(SockAddr::from(t.dest));
            batch.iovs.push(libc::iovec {
                iov_base: bytes.as_ptr() as *mut libc::c_void,
                iov_len: bytes.len(),
            });
        }
        // Built only after `addrs` and `iovs` are complete, so their elements no longer move.
        // Only `SendMsg` reads them.
        if !self.send_with_addr {
            for i in 0..batch.iovs.len() {
                // SAFETY: msghdr is plain data; zeroed means no control data and no flags.
                let mut m: libc::msghdr = unsafe { std::mem::zeroed() };
                m.msg_name = batch.addrs[i].as_ptr() as *mut libc::c_void;
                m.msg_namelen = batch.addrs[i].len();
                m.msg_iov = &mut batch.iovs[i];
                m.msg_iovlen = 1;
                batch.msgs.push(m);
            }
        }
        let n = batch.iovs.len();
        batch.pending = n;
        if n == 0 {
            batch.out.clear();
            self.free_batches.push(b);
            return Ok(());
        }
        self.sends_in_flight += n;
        self.sends_queued += n;
        let bytes: usize = self.batches[b].iovs.iter().map(|v| v.iov_len).sum();
        WorkerCounters::add(&core.counters.datagrams_out, n as u64);
        WorkerCounters::add(&core.counters.bytes_out, bytes as u64);
        for i in 0..n {
            let batch = &self.batches[b];
            let e = match (self.send_with_addr, self.fixed_files) {
                (true, fixed) => {
                    let (iov, addr) = (&batch.iovs[i], &batch.addrs[i]);
                    let (buf, len) = (iov.iov_base as *const u8, iov.iov_len as u32);
                    let op = if fixed {
                        opcode::Send::new(types::Fixed(batch.fds[i] as u32), buf, len)
                    } else {
                        opcode::Send::new(types::Fd(batch.fds[i]), buf, len)
                    };
                    op.dest_addr(addr.as_ptr())
                        .dest_addr_len(addr.len())
                        .build()
                }
                (false, true) => {
                    let fd = types::Fixed(batch.fds[i] as u32);
                    opcode::SendMsg::new(fd, &batch.msgs[i] as *const libc::msghdr).build()
                }
                (false, false) => {
                    let fd = types::Fd(batch.fds[i]);
                    opcode::SendMsg::new(fd, &batch.msgs[i] as *const libc::msghdr).build()
                }
            };
            self.push(e.user_data(send_user_data(b, i)))?;
        }
        Ok(())
    }

    fn cancel_receives(&mut self) -> io::Result<()> {
        for l in 0..self.sockets.len() {
            if self.recv_armed[l] {
                let e = opcode::AsyncCancel::new(user_data(KIND_RECV, l))
                    .build()
                    .user_data(user_data(KIND_CANCEL, l));
                self.push(e)?;
            }
        }
        Ok(())
    }

    /// Cancel what is still armed and reap until the kernel holds nothing of ours.
    fn teardown(&mut self, core: &mut WorkerCore) -> io::Result<()> {
        self.cancel_receives()?;
        if self.wake_armed {
            let e = opcode::AsyncCancel::new(user_data(KIND_WAKE, 0))
                .build()
                .user_data(user_data(KIND_CANCEL, 0));
            self.push(e)?;
            // The eventfd read may complete or be cancelled; a wake makes sure it ends.
            core.wake.notify();
        }
        for _ in 0..TEARDOWN_TURNS {
            let busy =
                self.recv_armed.iter().any(|a| *a) || self.wake_armed || self.sends_in_flight > 0;
            if !busy {
                return Ok(());
            }
            let now = Instant::now();
            self.submit_and_wait(now, Some(now + std::time::Duration::from_millis(10)), true)?;
            // Datagrams still completing are counted and recycled, but no longer answered:
            // the endpoint is done. Deliveries here would have nowhere to go.
            self.reap_quietly(core);
            self.bufs.publish();
        }
        Err(io::Error::other(
            "io_uring operations still in flight at exit",
        ))
    }

    fn reap_quietly(&mut self, core: &mut WorkerCore) {
        self.cqes.clear();
        self.cqes.append(&mut self.stashed);
        self.cqes.extend(
            self.ring
                .completion()
                .map(|c| (c.user_data(), c.result(), c.flags())),
        );
        for i in 0..self.cqes.len() {
            let (ud, res, flags) = self.cqes[i];
            let index = (ud & ((1 << KIND_SHIFT) - 1)) as usize;
            match ud >> KIND_SHIFT {
                KIND_RECV => {
                    if !cqueue::more(flags) {
                        self.recv_armed[index] = false;
                    }
                    if res >= 0 {
                        if let Some(bid) = cqueue::buffer_select(flags) {
                            self.bufs.recycle(bid);
                        }
                    }
                }
                KIND_SEND => self.on_send(core, index, res),
                KIND_WAKE => self.wake_armed = false,
                _ => {}
            }
        }
    }
}

/// Try the setup flags from the most to the least capable; older kernels refuse unknown
/// flags with EINVAL.
fn build_ring(entries: u32) -> io::Result<(IoUring, &'static str)> {
    type Setup = fn(&mut io_uring::Builder);
    let attempts: [(&'static str, Setup); 4] = [
        ("single_issuer+defer_taskrun", |b| {
            b.setup_single_issuer().setup_defer_taskrun();
        }),
        ("single_issuer+coop_taskrun", |b| {
            b.setup_single_issuer().setup_coop_taskrun();
        }),
        ("coop_taskrun", |b| {
            b.setup_coop_taskrun();
        }),
        ("plain", |_| {}),
    ];
    let mut last = io::Error::other("no io_uring setup attempted");
    for (name, apply) in attempts {
        let mut b = IoUring::builder();
        b.setup_cqsize(entries * 4);
        apply(&mut b);
        match b.build(entries) {
            Ok(r) => return Ok((r, name)),
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => last = e,
            Err(e) => return Err(e),
        }
    }
    Err(last)
}
