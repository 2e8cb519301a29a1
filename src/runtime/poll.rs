//! The portable backend: `poll(2)` on the listening sockets and the wake eventfd, then
//! `recvmmsg` in batches and `sendmmsg` per run of datagrams leaving the same socket.
//!
//! For kernels or containers where io_uring is missing or forbidden (seccomp). Same worker
//! loop, same counters; all buffers are allocated once at start:
//!
//! ```text
//!   recv: msgs[i] ─► iovs[i] ─► bufs[i*size .. (i+1)*size]     (batch slots, reused per call)
//!                └─► names[i] (sockaddr_storage), controls[i] (SO_RXQ_OVFL cmsg)
//!   send: core.out transmits ─► send_msgs/send_iovs/send_addrs, rebuilt per run, then cleared
//! ```

use std::io;
use std::net::UdpSocket;
use std::os::fd::AsRawFd;
use std::time::Instant;

use socket2::SockAddr;

use super::counters::WorkerCounters;
use super::slack::TimerSlack;
use super::socket::{
    rxq_overflow_from_control, sockaddr_bytes_to_std, OverflowTracker, RXQ_OVFL_CMSG_SPACE,
};
use super::worker::{Phase, WorkerCore};
use crate::endpoint::ListenerId;

/// recvmmsg calls per socket per turn while batches come back full, so one busy socket
/// cannot starve timers, handoffs and the other sockets.
const RECV_ROUNDS_PER_TURN: usize = 4;

pub(crate) struct PollWorker {
    sockets: Vec<UdpSocket>,
    batch: usize,
    buf_size: usize,
    bufs: Vec<u8>,
    names: Vec<libc::sockaddr_storage>,
    /// Control buffers as u64 words: cmsghdr needs word alignment.
    controls: Vec<u64>,
    control_words: usize,
    iovs: Vec<libc::iovec>,
    msgs: Vec<libc::mmsghdr>,
    overflow: Vec<OverflowTracker>,
    send_msgs: Vec<libc::mmsghdr>,
    send_iovs: Vec<libc::iovec>,
    send_addrs: Vec<SockAddr>,
    pollfds: Vec<libc::pollfd>,
    slack: TimerSlack,
}

impl PollWorker {
    pub fn new(
        sockets: Vec<UdpSocket>,
        batch: usize,
        buf_size: usize,
        slack: TimerSlack,
    ) -> io::Result<PollWorker> {
        let batch = batch.max(1);
        let control_words = RXQ_OVFL_CMSG_SPACE.div_ceil(8);
        let n = sockets.len();
        Ok(PollWorker {
            sockets,
            batch,
            buf_size,
            bufs: vec![0; batch * buf_size],
            // SAFETY: sockaddr_storage is plain data; zeroed is a valid (empty) value.
            names: vec![unsafe { std::mem::zeroed() }; batch],
            controls: vec![0; batch * control_words],
            control_words,
            iovs: Vec::with_capacity(batch),
            msgs: Vec::with_capacity(batch),
            overflow: vec![OverflowTracker::default(); n],
            send_msgs: Vec::with_capacity(batch),
            send_iovs: Vec::with_capacity(batch),
            send_addrs: Vec::with_capacity(batch),
            pollfds: Vec::with_capacity(n + 1),
            slack,
        })
    }

    pub fn run(&mut self, core: &mut WorkerCore) -> io::Result<()> {
        let mut now = Instant::now();
        loop {
            let phase = core.phase();
            let reading = phase == Phase::Running;
            self.pollfds.clear();
            self.pollfds.push(libc::pollfd {
                fd: core.wake.fd(),
                events: libc::POLLIN,
                revents: 0,
            });
            if reading {
                for s in &self.sockets {
                    self.pollfds.push(libc::pollfd {
                        fd: s.as_raw_fd(),
                        events: libc::POLLIN,
                        revents: 0,
                    });
                }
            }
            // While running, timer wake-ups go to the slack grid; a drain ends on time.
            let deadline = if reading {
                self.slack.round_up(core.deadline())
            } else {
                core.deadline()
            };
            let timeout_ms: libc::c_int = match deadline {
                None => -1,
                // Round up: waking a little late is harmless, waking early spins.
                Some(d) => {
                    let wait = d.saturating_duration_since(now);
                    let ms = wait.as_micros().div_ceil(1000);
                    ms.min(i32::MAX as u128) as libc::c_int
                }
            };
            // SAFETY: pollfds is a live, correctly sized array of pollfd.
            let rc = unsafe {
                libc::poll(
                    self.pollfds.as_mut_ptr(),
                    self.pollfds.len() as libc::nfds_t,
                    timeout_ms,
                )
            };
            if rc < 0 {
                let e = io::Error::last_os_error();
                if e.raw_os_error() != Some(libc::EINTR) {
                    return Err(e);
                }
            }
            now = Instant::now();
            WorkerCounters::add(&core.counters.loop_turns, 1);

            if self.pollfds[0].revents != 0 {
                core.wake.drain();
            }
            if reading {
                for l in 0..self.sockets.len() {
                    // POLLERR too: the read returns (and so clears) a pending socket error,
                    // which would otherwise make every poll return at once.
                    if self.pollfds[l + 1].revents != 0 {
                        self.receive(core, now, l);
                    }
                }
            }
            core.take_handoffs(now);
            core.run_timers(now);
            core.route_handoffs();
            self.flush_sends(core);

            match core.phase() {
                Phase::Running => {}
                Phase::Draining(deadline) => {
                    if core.may_leave(now, deadline, false) {
                        return Ok(());
                    }
                }
                Phase::Stop => return Ok(()),
            }
        }
    }

    /// Read batches from socket `l` until it is empty or the turn's budget is spent.
    fn receive(&mut self, core: &mut WorkerCore, now: Instant, l: usize) {
        let fd = self.sockets[l].as_raw_fd();
        for _ in 0..RECV_ROUNDS_PER_TURN {
            self.iovs.clear();
            self.msgs.clear();
            for i in 0..self.batch {
                self.iovs.push(libc::iovec {
                    iov_base: self.bufs[i * self.buf_size..].as_mut_ptr().cast(),
                    iov_len: self.buf_size,
                });
            }
            for i in 0..self.batch {
                // SAFETY: mmsghdr is plain data; zeroed is a valid start.
                let mut m: libc::mmsghdr = unsafe { std::mem::zeroed() };
                m.msg_hdr.msg_name = (&mut self.names[i] as *mut libc::sockaddr_storage).cast();
                m.msg_hdr.msg_namelen =
                    std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
                m.msg_hdr.msg_iov = &mut self.iovs[i];
                m.msg_hdr.msg_iovlen = 1;
                m.msg_hdr.msg_control = self.controls[i * self.control_words..].as_mut_ptr().cast();
                m.msg_hdr.msg_controllen = (self.control_words * 8) as _;
                self.msgs.push(m);
            }
            // SAFETY: every mmsghdr points at buffers owned by `self` that outlive the call;
            // vlen equals the number of initialised entries.
            let n = unsafe {
                libc::recvmmsg(
                    fd,
                    self.msgs.as_mut_ptr(),
                    self.batch as libc::c_uint,
                    libc::MSG_DONTWAIT,
                    std::ptr::null_mut(),
                )
            };
            if n <= 0 {
                // EAGAIN: drained. Other errors (e.g. ICMP-reported ECONNREFUSED on a UDP
                // socket) concern an earlier send, not this read: try again next turn.
                return;
            }
            let n = n as usize;
            for i in 0..n {
                let m = &self.msgs[i];
                let len = (m.msg_len as usize).min(self.buf_size);
                // msg_controllen is size_t on glibc, socklen_t on musl.
                #[allow(clippy::unnecessary_cast)]
                let control_len = (m.msg_hdr.msg_controllen as usize).min(self.control_words * 8);
                // SAFETY: the control words are initialised u64s; viewing them as bytes is sound.
                let control = unsafe {
                    std::slice::from_raw_parts(
                        self.controls[i * self.control_words..]
                            .as_ptr()
                            .cast::<u8>(),
                        control_len,
                    )
                };
                if let Some(total) = rxq_overflow_from_control(control) {
                    WorkerCounters::add(
                        &core.counters.drop_socket_overflow,
                        self.overflow[l].observe(total),
                    );
                }
                if m.msg_hdr.msg_flags & libc::MSG_TRUNC != 0 {
                    WorkerCounters::add(&core.counters.drop_truncated, 1);
                    continue;
                }
                let name_len = (m.msg_hdr.msg_namelen as usize)
                    .min(std::mem::size_of::<libc::sockaddr_storage>());
                // SAFETY: names[i] is a live sockaddr_storage; name_len is within its size.
                let name = unsafe {
                    std::slice::from_raw_parts(
                        (&self.names[i] as *const libc::sockaddr_storage).cast::<u8>(),
                        name_len,
                    )
                };
                match sockaddr_bytes_to_std(name) {
                    Some(src) => {
                        let bytes = &self.bufs[i * self.buf_size..i * self.buf_size + len];
                        core.deliver(now, l as ListenerId, src, bytes);
                    }
                    None => WorkerCounters::add(&core.counters.drop_bad_source, 1),
                }
            }
            if n < self.batch {
                return;
            }
        }
    }

    /// Send the core's outbox with one sendmmsg per run of datagrams on the same socket
    /// (at most `batch` per call), then clear it.
    fn flush_sends(&mut self, core: &mut WorkerCore) {
        let counters = &core.counters;
        let mut run_local: Option<ListenerId> = None;
        self.send_addrs.clear();
        self.send_iovs.clear();
        for (t, bytes) in core.out.transmits() {
            if run_local != Some(t.local) || self.send_iovs.len() == self.batch {
                if let Some(l) = run_local {
                    self.send_run(l, counters);
                }
                run_local = Some(t.local);
            }
            self.send_addrs.push(SockAddr::from(t.dest));
            self.send_iovs.push(libc::iovec {
                iov_base: bytes.as_ptr() as *mut libc::c_void,
                iov_len: bytes.len(),
            });
        }
        if let Some(l) = run_local {
            self.send_run(l, counters);
        }
        core.out.clear();
    }

    /// Send the datagrams gathered in `send_addrs`/`send_iovs` from listener `local`, then
    /// empty those lists. The iovecs point into the core's outbox, which outlives the call.
    fn send_run(&mut self, local: ListenerId, counters: &WorkerCounters) {
        let n = self.send_iovs.len();
        let Some(fd) = self.sockets.get(local as usize).map(|s| s.as_raw_fd()) else {
            WorkerCounters::add(&counters.send_errors, n as u64);
            self.send_addrs.clear();
            self.send_iovs.clear();
            return;
        };
        self.send_msgs.clear();
        for i in 0..n {
            // SAFETY: mmsghdr is plain data; zeroed means no control data and no flags.
            let mut m: libc::mmsghdr = unsafe { std::mem::zeroed() };
            m.msg_hdr.msg_name = self.send_addrs[i].as_ptr() as *mut libc::c_void;
            m.msg_hdr.msg_namelen = self.send_addrs[i].len();
            m.msg_hdr.msg_iov = &mut self.send_iovs[i];
            m.msg_hdr.msg_iovlen = 1;
            self.send_msgs.push(m);
        }
        self.sendmmsg_all(fd, counters);
        self.send_addrs.clear();
        self.send_iovs.clear();
    }

    fn sendmmsg_all(&mut self, fd: i32, counters: &WorkerCounters) {
        let run_len = self.send_msgs.len();
        let mut done = 0;
        while done < run_len {
            // SAFETY: entries done..len are initialised and point at live addresses and bytes.
            let rc = unsafe {
                libc::sendmmsg(
                    fd,
                    self.send_msgs[done..].as_mut_ptr(),
                    (run_len - done) as libc::c_uint,
                    libc::MSG_DONTWAIT,
                )
            };
            if rc < 0 {
                let e = io::Error::last_os_error();
                if matches!(e.raw_os_error(), Some(libc::EAGAIN) | Some(libc::ENOBUFS)) {
                    // The socket buffer is full: the rest of this run is dropped, and SIP
                    // retransmission recovers, as after any loss on the wire.
                    WorkerCounters::add(&counters.send_errors, (run_len - done) as u64);
                    return;
                }
                // This one datagram is refused (e.g. EINVAL for its address): skip it.
                WorkerCounters::add(&counters.send_errors, 1);
                done += 1;
                continue;
            }
            for m in &self.send_msgs[done..done + rc as usize] {
                WorkerCounters::add(&counters.datagrams_out, 1);
                WorkerCounters::add(&counters.bytes_out, m.msg_len as u64);
            }
            done += rc as usize;
        }
    }
}
