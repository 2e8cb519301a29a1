//! The runtime with small test endpoints, over loopback, on both backends: datagrams in and
//! out, cross-worker handoff with the eventfd wake, endpoint timers, drain on shutdown.

mod runtime_support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ringlet::endpoint::{Endpoint, Incoming, Outbox};
use runtime_support::{backends, client, recv, start};

/// Replies `w<index>:<bytes>` to the sender.
struct Echo {
    index: usize,
}

impl Endpoint for Echo {
    fn on_datagram(&mut self, _now: Instant, inc: Incoming<'_>, out: &mut Outbox) {
        let index = self.index;
        out.send_with(inc.local, inc.src, |b| {
            b.extend_from_slice(format!("w{index}:").as_bytes());
            b.extend_from_slice(inc.bytes);
        });
    }
    fn on_timeout(&mut self, _now: Instant, _out: &mut Outbox) {}
    fn next_timeout(&self) -> Option<Instant> {
        None
    }
}

/// Hands every datagram read from a socket to the next worker, which answers
/// `h<index>:<bytes>` (so the answer proves which worker processed it).
struct Relay {
    index: usize,
    count: usize,
}

impl Endpoint for Relay {
    fn on_datagram(&mut self, _now: Instant, inc: Incoming<'_>, out: &mut Outbox) {
        if inc.handed_off {
            let index = self.index;
            out.send_with(inc.local, inc.src, |b| {
                b.extend_from_slice(format!("h{index}:").as_bytes());
                b.extend_from_slice(inc.bytes);
            });
        } else {
            out.handoff((self.index + 1) % self.count, inc.local, inc.src, inc.bytes);
        }
    }
    fn on_timeout(&mut self, _now: Instant, _out: &mut Outbox) {}
    fn next_timeout(&self) -> Option<Instant> {
        None
    }
}

/// Answers each datagram only when a timer set on arrival (virtual delay `delay`) fires.
struct Delayed {
    delay: Duration,
    pending: Vec<(Instant, SocketAddr, Vec<u8>)>,
}

impl Endpoint for Delayed {
    fn on_datagram(&mut self, now: Instant, inc: Incoming<'_>, _out: &mut Outbox) {
        self.pending
            .push((now + self.delay, inc.src, inc.bytes.to_vec()));
    }
    fn on_timeout(&mut self, now: Instant, out: &mut Outbox) {
        let (due, later): (Vec<_>, Vec<_>) = self.pending.drain(..).partition(|p| p.0 <= now);
        self.pending = later;
        for (_, src, bytes) in due {
            out.send_with(0, src, |b| {
                b.extend_from_slice(b"late:");
                b.extend_from_slice(&bytes);
            });
        }
    }
    fn next_timeout(&self) -> Option<Instant> {
        self.pending.iter().map(|p| p.0).min()
    }
}

#[test]
fn every_datagram_from_many_ports_is_answered() {
    for io in backends() {
        let h = start(io, 2, |w| Box::new(Echo { index: w.index }));
        let server = h.local_addrs()[0][0];
        assert_eq!(
            h.local_addrs()[1][0],
            server,
            "shared mode: both workers on one port"
        );
        let clients: Vec<_> = (0..64).map(|_| client()).collect();
        let per_client = 20;
        for round in 0..per_client {
            for (i, c) in clients.iter().enumerate() {
                c.send_to(format!("c{i}r{round}").as_bytes(), server)
                    .unwrap();
            }
        }
        let mut answered = 0;
        for (i, c) in clients.iter().enumerate() {
            let mut seen = vec![false; per_client];
            for _ in 0..per_client {
                let (bytes, from) =
                    recv(c).unwrap_or_else(|| panic!("{io:?}: client {i} not answered"));
                assert_eq!(from, server);
                let text = String::from_utf8(bytes).unwrap();
                let (_, body) = text.split_once(':').unwrap();
                let round: usize = body
                    .strip_prefix(&format!("c{i}r"))
                    .unwrap()
                    .parse()
                    .unwrap();
                seen[round] = true;
                answered += 1;
            }
            assert!(
                seen.iter().all(|s| *s),
                "{io:?}: client {i} missed some answers"
            );
        }
        assert_eq!(answered, 64 * per_client);
        let per_worker = h.counters();
        let total = h.total();
        assert_eq!(total.datagrams_in, (64 * per_client) as u64, "{io:?}");
        assert_eq!(total.datagrams_out, (64 * per_client) as u64, "{io:?}");
        assert!(
            per_worker.iter().all(|c| c.datagrams_in > 0),
            "{io:?}: both workers got traffic: {per_worker:?}"
        );
        h.shutdown(Duration::ZERO);
        let last = h.join().unwrap();
        assert_eq!(last.datagrams_in, (64 * per_client) as u64);
    }
}

#[test]
fn handoffs_reach_the_named_worker_and_wake_it() {
    for io in backends() {
        let h = start(io, 2, |w| {
            Box::new(Relay {
                index: w.index,
                count: w.count,
            })
        });
        let server = h.local_addrs()[0][0];
        let clients: Vec<_> = (0..16).map(|_| client()).collect();
        for (i, c) in clients.iter().enumerate() {
            c.send_to(format!("m{i}").as_bytes(), server).unwrap();
        }
        for (i, c) in clients.iter().enumerate() {
            let (bytes, _) = recv(c).unwrap_or_else(|| panic!("{io:?}: client {i} not answered"));
            let text = String::from_utf8(bytes).unwrap();
            assert!(
                text.starts_with('h') && text.ends_with(&format!(":m{i}")),
                "{text}"
            );
        }
        let per = h.counters();
        // Worker k hands to worker 1-k: what one sent, the other received.
        assert_eq!(per[0].handoffs_out, per[1].handoffs_in, "{io:?} {per:?}");
        assert_eq!(per[1].handoffs_out, per[0].handoffs_in, "{io:?} {per:?}");
        assert_eq!(per[0].handoffs_out + per[1].handoffs_out, 16);
        assert_eq!(h.total().drop_handoff_full, 0);
    }
}

#[test]
fn endpoint_deadlines_fire_and_drain_waits_for_them() {
    for io in backends() {
        let h = start(io, 1, |_| {
            Box::new(Delayed {
                delay: Duration::from_millis(300),
                pending: Vec::new(),
            })
        });
        let server = h.local_addrs()[0][0];
        let c = client();
        c.send_to(b"one", server).unwrap();
        let (bytes, _) = recv(&c).expect("timer answer");
        assert_eq!(bytes, b"late:one");
        assert!(h.total().timer_wakes >= 1);

        // A datagram whose answer is still pending when the shutdown begins: the drain time
        // is long enough, so the worker stays until the endpoint has sent it.
        c.send_to(b"two", server).unwrap();
        // The worker has read it once datagrams_in says so (bounded wait, no timing claim).
        let t0 = Instant::now();
        while h.total().datagrams_in < 2 && t0.elapsed() < Duration::from_secs(10) {
            std::thread::yield_now();
        }
        h.shutdown(Duration::from_secs(30));
        let (bytes, _) = recv(&c).expect("answer sent while draining");
        assert_eq!(bytes, b"late:two");
        let total = h.join().unwrap();
        assert_eq!(total.datagrams_out, 2);
        assert_eq!(
            total.drain_expired, 0,
            "{io:?}: left because the work was done, not because time ran out"
        );
    }
}

#[test]
fn per_worker_listen_mode_gives_each_worker_its_own_ports() {
    for io in backends() {
        let mut cfg =
            ringlet::runtime::RuntimeConfig::new(vec!["127.0.0.1:0".parse().unwrap(); 3], 2);
        cfg.io = io;
        cfg.listen_mode = ringlet::runtime::ListenMode::PerWorker;
        let h =
            ringlet::runtime::Runtime::start(cfg, |w| Box::new(Echo { index: w.index })).unwrap();
        let addrs = h.local_addrs().to_vec();
        assert_eq!(addrs.len(), 2);
        let mut ports: Vec<u16> = addrs.iter().flatten().map(|a| a.port()).collect();
        ports.sort_unstable();
        ports.dedup();
        assert_eq!(ports.len(), 6, "six distinct source ports: {addrs:?}");
        let c = client();
        for (w, socks) in addrs.iter().enumerate() {
            for a in socks {
                c.send_to(b"x", a).unwrap();
                let (bytes, from) = recv(&c).unwrap();
                assert_eq!(&from, a, "answered from the socket it reached");
                assert_eq!(bytes, format!("w{w}:x").as_bytes());
            }
        }
    }
}

#[test]
fn oversized_datagrams_are_dropped_and_counted() {
    for io in backends() {
        let mut cfg = ringlet::runtime::RuntimeConfig::new(vec!["127.0.0.1:0".parse().unwrap()], 1);
        cfg.io = io;
        cfg.recv_buffer_size = 2048;
        let h =
            ringlet::runtime::Runtime::start(cfg, |w| Box::new(Echo { index: w.index })).unwrap();
        let server = h.local_addrs()[0][0];
        let c = client();
        c.send_to(&vec![b'a'; 4000], server).unwrap();
        c.send_to(b"small", server).unwrap();
        let (bytes, _) = recv(&c).unwrap();
        assert_eq!(bytes, b"w0:small");
        assert_eq!(h.total().drop_truncated, 1, "{io:?}");
    }
}

#[test]
fn an_exhausted_buffer_ring_is_refilled_and_rearmed_without_loss() {
    for io in backends() {
        let mut cfg = ringlet::runtime::RuntimeConfig::new(vec!["127.0.0.1:0".parse().unwrap()], 1);
        cfg.io = io;
        // One provided buffer: any second queued datagram finds the ring empty (ENOBUFS),
        // which ends the multishot receive; the datagrams wait in the socket buffer.
        cfg.recv_buffers = 1;
        let h =
            ringlet::runtime::Runtime::start(cfg, |w| Box::new(Echo { index: w.index })).unwrap();
        let server = h.local_addrs()[0][0];
        let c = client();
        let n = 300;
        for i in 0..n {
            c.send_to(format!("{i}").as_bytes(), server).unwrap();
        }
        for _ in 0..n {
            recv(&c).unwrap_or_else(|| panic!("{io:?}: an answer is missing"));
        }
        let t = h.total();
        assert_eq!(t.datagrams_in, n as u64, "{io:?}: {t:?}");
        if io == ringlet::config::IoBackendChoice::Uring {
            assert!(
                t.recv_no_buffers > 0 && t.recv_rearms > 0,
                "the ENOBUFS path ran: {t:?}"
            );
        }
    }
}

#[test]
fn a_drain_that_runs_out_leaves_and_says_so() {
    for io in backends() {
        let h = start(io, 1, |_| {
            Box::new(Delayed {
                delay: Duration::from_secs(3600),
                pending: Vec::new(),
            })
        });
        let server = h.local_addrs()[0][0];
        let c = client();
        c.send_to(b"never", server).unwrap();
        let t0 = Instant::now();
        while h.total().datagrams_in < 1 && t0.elapsed() < Duration::from_secs(10) {
            std::thread::yield_now();
        }
        h.shutdown(Duration::ZERO);
        let total = h.join().unwrap();
        assert_eq!(total.datagrams_in, 1, "{io:?}");
        assert_eq!(
            total.datagrams_out, 0,
            "{io:?}: the answer was an hour away"
        );
        assert_eq!(total.drain_expired, 1, "{io:?}");
    }
}

/// Answers every datagram from listeners 0, 1, 1, 2, 0, in that order (runs of the same
/// socket interleaved: the poll backend groups them per sendmmsg, io_uring per SQE).
struct Fanout;

impl Endpoint for Fanout {
    fn on_datagram(&mut self, _now: Instant, inc: Incoming<'_>, out: &mut Outbox) {
        for l in [0u16, 1, 1, 2, 0] {
            out.send(l, inc.src, format!("from{l}").as_bytes());
        }
    }
    fn on_timeout(&mut self, _now: Instant, _out: &mut Outbox) {}
    fn next_timeout(&self) -> Option<Instant> {
        None
    }
}

#[test]
fn sends_leave_from_the_listener_the_endpoint_names() {
    for io in backends() {
        let mut cfg =
            ringlet::runtime::RuntimeConfig::new(vec!["127.0.0.1:0".parse().unwrap(); 3], 1);
        cfg.io = io;
        let h = ringlet::runtime::Runtime::start(cfg, |_| Box::new(Fanout)).unwrap();
        let addrs = h.local_addrs()[0].clone();
        let c = client();
        c.send_to(b"go", addrs[2]).unwrap();
        let mut got: Vec<(String, SocketAddr)> = (0..5)
            .map(|_| {
                let (b, from) = recv(&c).expect("all five answers");
                (String::from_utf8(b).unwrap(), from)
            })
            .collect();
        got.sort();
        let mut want: Vec<(String, SocketAddr)> = [0usize, 1, 1, 2, 0]
            .iter()
            .map(|l| (format!("from{l}"), addrs[*l]))
            .collect();
        want.sort();
        assert_eq!(got, want, "{io:?}");
        assert_eq!(h.total().datagrams_out, 5);
    }
}
