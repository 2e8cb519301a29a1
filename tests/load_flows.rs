//! Whole call flows of `ringlet load`'s UAC against its UAS, wired back to back with a
//! simulated network and a virtual clock: no sockets, no sleeping. The network can drop
//! datagrams by a rule, which is how retransmission timers are exercised.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, Instant};

use md5::{Digest, Md5};
use ringlet::endpoint::{Endpoint, Incoming, Outbox};
use ringlet::load::scan::{self, StartLine};
use ringlet::load::stats::{FailCause, LoadStats, Method, StatsSink};
use ringlet::load::uac::{Scenario, SipTimers, UacConfig, UacEndpoint};
use ringlet::load::uas::{UasConfig, UasEndpoint};
use ringlet::load::users::User;

const UAC: &str = "127.0.0.1:40000";
const UAS: &str = "127.0.0.1:5080";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn uac_config(t0: Instant, scenario: Scenario, calls: u64, rate: f64) -> UacConfig {
    UacConfig {
        scenario,
        proxy: addr(UAS),
        locals: vec![(0, addr(UAC))],
        target: format!("sip:uas@{UAS}"),
        users: Arc::from(Vec::<User>::new()),
        user_offset: 0,
        user_stride: 1,
        identity: ("load".into(), "127.0.0.1".into()),
        rate,
        start: t0,
        place_for: Duration::from_secs(3600),
        max_calls: calls,
        max_concurrent: 100_000,
        hold: Duration::from_secs(1),
        no_answer: Duration::from_secs(2),
        drain: Duration::from_secs(60),
        expires: 300,
        timers: SipTimers::default(),
        worker: 0,
        run: 0xabc,
        record_correct: false,
    }
}

fn uas_config() -> UasConfig {
    UasConfig {
        worker: 0,
        run: 0xdef,
        contact: addr(UAS),
        ring: Duration::from_millis(500),
        busy_share: 0.0,
        no_answer_share: 0.0,
        timers: SipTimers::default(),
        call_index: Arc::new(AtomicU64::new(0)),
    }
}

/// Something that answers datagrams sent to the UAS address.
trait Peer {
    fn recv(&mut self, now: Instant, src: SocketAddr, bytes: &[u8], out: &mut Outbox);
    fn timeout(&mut self, now: Instant, out: &mut Outbox);
    fn next(&self) -> Option<Instant>;
}

impl Peer for UasEndpoint {
    fn recv(&mut self, now: Instant, src: SocketAddr, bytes: &[u8], out: &mut Outbox) {
        self.on_datagram(
            now,
            Incoming {
                local: 0,
                src,
                bytes,
                handed_off: false,
            },
            out,
        );
    }
    fn timeout(&mut self, now: Instant, out: &mut Outbox) {
        self.on_timeout(now, out);
    }
    fn next(&self) -> Option<Instant> {
        self.next_timeout()
    }
}

/// Decides whether the network loses a datagram: (towards the UAS?, bytes) -> drop?
type DropRule = Box<dyn FnMut(bool, &[u8]) -> bool>;

/// UAC and a peer joined by a lossless-unless-told network with 1 ms one-way delay.
struct Sim<P: Peer> {
    now: Instant,
    uac: UacEndpoint,
    peer: P,
    /// (deliver at, to UAS side?, bytes)
    wire: VecDeque<(Instant, bool, Vec<u8>)>,
    /// Return true to drop a datagram (to_uas, bytes).
    drop: DropRule,
    dropped: usize,
    uac_sink: Arc<StatsSink>,
}

impl<P: Peer> Sim<P> {
    fn new(t0: Instant, cfg: UacConfig, peer: P) -> Self {
        let uac_sink = StatsSink::new();
        Sim {
            now: t0,
            uac: UacEndpoint::new(cfg, uac_sink.clone()),
            peer,
            wire: VecDeque::new(),
            drop: Box::new(|_, _| false),
            dropped: 0,
            uac_sink,
        }
    }

    fn collect(&mut self, out: &mut Outbox, to_uas: bool) {
        let at = self.now + Duration::from_millis(1);
        for (t, bytes) in out.transmits() {
            if to_uas {
                assert_eq!(t.dest, addr(UAS));
            } else {
                assert_eq!(t.dest, addr(UAC));
            }
            if (self.drop)(to_uas, bytes) {
                self.dropped += 1;
            } else {
                self.wire.push_back((at, to_uas, bytes.to_vec()));
            }
        }
        assert_eq!(
            out.handoffs().len(),
            0,
            "single worker: nothing to hand over"
        );
        out.clear();
    }

    /// Run until the UAC is done; at most `limit` of virtual time.
    fn run(&mut self, limit: Duration) {
        let end = self.now + limit;
        let mut out = Outbox::new();
        for _ in 0..1_000_000 {
            if self.uac.is_done() && self.wire.is_empty() {
                return;
            }
            // Next event: a datagram on the wire or a timer.
            let mut next = self.wire.front().map(|w| w.0);
            // Once the UAC is done only datagrams in flight are delivered (so the UAS sees
            // the last ACK); timers no longer matter.
            let timers = if self.uac.is_done() {
                [None, None]
            } else {
                [self.uac.next_timeout(), self.peer.next()]
            };
            for t in timers.into_iter().flatten() {
                next = Some(next.map_or(t, |n| n.min(t)));
            }
            let Some(next) = next else {
                panic!("deadlock: nothing scheduled and UAC not done")
            };
            assert!(
                next <= end,
                "virtual time limit reached; uac active {}",
                self.uac.active()
            );
            self.now = self.now.max(next);
            while self.wire.front().is_some_and(|w| w.0 <= self.now) {
                let (_, to_uas, bytes) = self.wire.pop_front().unwrap();
                if to_uas {
                    self.peer.recv(self.now, addr(UAC), &bytes, &mut out);
                    self.collect(&mut out, false);
                } else {
                    self.uac.on_datagram(
                        self.now,
                        Incoming {
                            local: 0,
                            src: addr(UAS),
                            bytes: &bytes,
                            handed_off: false,
                        },
                        &mut out,
                    );
                    self.collect(&mut out, true);
                }
            }
            if self.uac.next_timeout().is_some_and(|t| t <= self.now) {
                self.uac.on_timeout(self.now, &mut out);
                self.collect(&mut out, true);
            }
            if self.peer.next().is_some_and(|t| t <= self.now) {
                self.peer.timeout(self.now, &mut out);
                self.collect(&mut out, false);
            }
        }
        panic!("event limit reached");
    }

    fn uac_stats(&mut self) -> LoadStats {
        self.uac_sink.take()
    }
}

fn call_sim(t0: Instant, calls: u64, uas: UasConfig) -> (Sim<UasEndpoint>, Arc<StatsSink>) {
    let uas_sink = StatsSink::new();
    let uas = UasEndpoint::new(uas, uas_sink.clone());
    (
        Sim::new(t0, uac_config(t0, Scenario::Call, calls, 10.0), uas),
        uas_sink,
    )
}

fn method_of(bytes: &[u8]) -> Vec<u8> {
    match scan::scan(bytes).unwrap().start {
        StartLine::Request { method, .. } => method.to_vec(),
        StartLine::Response { code } => code.to_string().into_bytes(),
    }
}

#[test]
fn ten_calls_complete_with_ring_and_hold() {
    let t0 = Instant::now();
    let (mut sim, uas_sink) = call_sim(t0, 10, uas_config());
    sim.run(Duration::from_secs(60));
    sim.peer.flush();
    let s = sim.uac_stats();
    let u = uas_sink.take();
    assert_eq!((s.attempted, s.succeeded, s.failed_total()), (10, 10, 0));
    assert_eq!(s.retransmissions_sent + u.retransmissions_sent, 0);
    assert_eq!(s.stray + s.malformed, 0);
    assert_eq!(
        (u.uas.invites, u.uas.answered, u.uas.acks, u.uas.byes),
        (10, 10, 10, 10)
    );
    // Set-up includes the 500 ms ring time and two 1 ms hops; the first response (100)
    // comes back after one round trip.
    assert_eq!(s.setup_us.len(), 10);
    assert!(s.setup_us.min() >= 500_000, "{}", s.setup_us.min());
    assert!(s.setup_us.max() < 510_000, "{}", s.setup_us.max());
    assert_eq!(s.response(Method::Invite).len(), 10);
    assert!(s.response(Method::Invite).max() <= 2_100);
    assert_eq!(s.response(Method::Bye).len(), 10);
    // 10 calls at 10/s, the last one starts at 0.9 s and ends after ring + hold.
    assert!(sim.now - t0 >= Duration::from_millis(2400) && sim.now - t0 < Duration::from_secs(3));
    assert_eq!(sim.peer.active(), 0);
}

#[test]
fn busy_share_fails_exactly_that_share_with_486() {
    let t0 = Instant::now();
    let (mut sim, uas_sink) = call_sim(
        t0,
        10,
        UasConfig {
            busy_share: 0.3,
            ..uas_config()
        },
    );
    sim.run(Duration::from_secs(60));
    sim.peer.flush();
    let s = sim.uac_stats();
    let u = uas_sink.take();
    assert_eq!(s.succeeded, 7);
    assert_eq!(s.failed.get(&FailCause::Status(486)), Some(&3));
    assert_eq!(u.uas.busy, 3);
    // Every final response was ACKed: 7 for 200, 3 for 486.
    assert_eq!(u.uas.acks, 10);
    assert_eq!(u.uas.ack_timeouts, 0);
    assert_eq!(sim.peer.active(), 0);
}

#[test]
fn unanswered_calls_are_cancelled_after_the_no_answer_time() {
    let t0 = Instant::now();
    let (mut sim, uas_sink) = call_sim(
        t0,
        10,
        UasConfig {
            no_answer_share: 0.2,
            ..uas_config()
        },
    );
    sim.run(Duration::from_secs(60));
    sim.peer.flush();
    let s = sim.uac_stats();
    let u = uas_sink.take();
    assert_eq!(s.succeeded, 8);
    assert_eq!(s.failed.get(&FailCause::NoAnswer), Some(&2));
    assert_eq!((u.uas.unanswered, u.uas.cancelled), (2, 2));
    assert_eq!(s.response(Method::Cancel).len(), 2);
    assert_eq!(u.uas.acks, 10, "8 ACKs for 200 and 2 for 487");
    assert_eq!(s.retransmissions_sent + u.retransmissions_sent, 0);
}

#[test]
fn a_lost_invite_is_retransmitted_after_t1() {
    let t0 = Instant::now();
    let (mut sim, uas_sink) = call_sim(t0, 1, uas_config());
    let mut invites = 0;
    sim.drop = Box::new(move |to_uas, b| {
        if to_uas && method_of(b) == b"INVITE" {
            invites += 1;
            return invites == 1;
        }
        false
    });
    sim.run(Duration::from_secs(60));
    sim.peer.flush();
    let s = sim.uac_stats();
    assert_eq!(sim.dropped, 1);
    assert_eq!((s.succeeded, s.retransmissions_sent), (1, 1));
    // The INVITE clock starts at the first send: T1 (500 ms) + ring (500 ms) + 2 ms.
    assert!(s.setup_us.min() >= 1_000_000, "{}", s.setup_us.min());
    assert!(s.response(Method::Invite).min() >= 500_000);
    assert_eq!(uas_sink.take().uas.invites, 1);
}

#[test]
fn a_lost_200_is_retransmitted_by_the_uas_and_acked_again() {
    let t0 = Instant::now();
    let (mut sim, uas_sink) = call_sim(t0, 1, uas_config());
    let mut oks = 0;
    sim.drop = Box::new(move |to_uas, b| {
        if !to_uas {
            let v = scan::scan(b).unwrap();
            if v.start == (StartLine::Response { code: 200 }) && v.cseq_method == b"INVITE" {
                oks += 1;
                return oks == 1;
            }
        }
        false
    });
    sim.run(Duration::from_secs(60));
    sim.peer.flush();
    let s = sim.uac_stats();
    let u = uas_sink.take();
    assert_eq!(s.succeeded, 1);
    assert_eq!(u.retransmissions_sent, 1, "one 200 retransmission after T1");
    assert_eq!(u.uas.acks, 1);
    assert!(s.setup_us.min() >= 1_000_000);
}

#[test]
fn a_lost_ack_makes_the_uas_retransmit_and_the_uac_ack_again() {
    let t0 = Instant::now();
    let (mut sim, uas_sink) = call_sim(t0, 1, uas_config());
    let mut acks = 0;
    sim.drop = Box::new(move |to_uas, b| {
        if to_uas && method_of(b) == b"ACK" {
            acks += 1;
            return acks == 1;
        }
        false
    });
    sim.run(Duration::from_secs(60));
    sim.peer.flush();
    let s = sim.uac_stats();
    let u = uas_sink.take();
    assert_eq!(s.succeeded, 1);
    assert_eq!(u.retransmissions_sent, 1);
    assert_eq!(s.retransmissions_received, 1, "the UAC saw the 200 twice");
    assert_eq!(u.uas.acks, 1);
}

#[test]
fn no_response_at_all_fails_by_timer_b() {
    let t0 = Instant::now();
    let (mut sim, _) = call_sim(t0, 1, uas_config());
    sim.drop = Box::new(|to_uas, _| to_uas);
    sim.run(Duration::from_secs(120));
    let s = sim.uac_stats();
    assert_eq!(s.failed.get(&FailCause::Timeout), Some(&1));
    // RFC 3261 §17.1.1.2: retransmissions at 0.5, 1.5, 3.5, 7.5, 15.5, 31.5 s; Timer B at 32 s.
    assert_eq!(s.retransmissions_sent, 6);
    assert_eq!(sim.now - t0, Duration::from_secs(32));
}

#[test]
fn drain_time_ends_stuck_calls_as_unfinished() {
    let t0 = Instant::now();
    let uas_sink = StatsSink::new();
    let uas = UasEndpoint::new(
        UasConfig {
            no_answer_share: 1.0,
            ..uas_config()
        },
        uas_sink,
    );
    let mut cfg = uac_config(t0, Scenario::Call, 3, 10.0);
    cfg.no_answer = Duration::from_secs(3600);
    cfg.drain = Duration::from_secs(5);
    let mut sim = Sim::new(t0, cfg, uas);
    sim.run(Duration::from_secs(60));
    let s = sim.uac_stats();
    assert_eq!(s.failed.get(&FailCause::Unfinished), Some(&3));
    assert_eq!(sim.uac.active(), 0);
}

#[test]
fn options_are_answered() {
    let t0 = Instant::now();
    let uas_sink = StatsSink::new();
    let uas = UasEndpoint::new(uas_config(), uas_sink.clone());
    let mut sim = Sim::new(t0, uac_config(t0, Scenario::Options, 20, 100.0), uas);
    sim.run(Duration::from_secs(10));
    sim.peer.flush();
    let s = sim.uac_stats();
    assert_eq!((s.attempted, s.succeeded), (20, 20));
    assert_eq!(s.response(Method::Options).len(), 20);
    assert_eq!(uas_sink.take().uas.options, 20);
}

#[test]
fn rate_is_respected_in_virtual_time() {
    let t0 = Instant::now();
    let uas = UasEndpoint::new(uas_config(), StatsSink::new());
    let mut cfg = uac_config(t0, Scenario::Options, 1_000_000, 200.0);
    cfg.place_for = Duration::from_secs(2);
    let mut sim = Sim::new(t0, cfg, uas);
    sim.run(Duration::from_secs(10));
    let s = sim.uac_stats();
    // 2 s at 200/s: starts at 0, 5 ms, ..., 1995 ms.
    assert_eq!(s.attempted, 400);
    assert_eq!(s.succeeded, 400);
}

/// A registrar that challenges every REGISTER without credentials and checks the digest
/// response with its own MD5 computation (independent of the generator's digest code).
struct TestRegistrar {
    passwords: Vec<(String, String)>,
    registered: Vec<String>,
    /// Users whose contact a REGISTER with `Expires: 0` removed.
    unregistered: Vec<String>,
    rejected: usize,
}

fn md5_hex(s: &str) -> String {
    format!("{:x}", Md5::digest(s.as_bytes()))
}

fn auth_param<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    let key = format!("{name}=");
    let start = header.find(&key)? + key.len();
    let rest = &header[start..];
    if let Some(q) = rest.strip_prefix('"') {
        q.split('"').next()
    } else {
        rest.split([',', '\r']).next().map(str::trim)
    }
}

impl Peer for TestRegistrar {
    fn recv(&mut self, _now: Instant, src: SocketAddr, bytes: &[u8], out: &mut Outbox) {
        let text = std::str::from_utf8(bytes).unwrap();
        let v = scan::scan(bytes).unwrap();
        assert!(matches!(
            v.start,
            StartLine::Request {
                method: b"REGISTER",
                ..
            }
        ));
        let via: Vec<&str> = text.lines().filter(|l| l.starts_with("Via:")).collect();
        let head = format!(
            "{}\r\nFrom: {}\r\nTo: {};tag=reg\r\nCall-ID: {}\r\nCSeq: {} REGISTER\r\n",
            via.join("\r\n"),
            String::from_utf8_lossy(v.from),
            String::from_utf8_lossy(v.to),
            String::from_utf8_lossy(v.call_id),
            v.cseq_num
        );
        let auth = text.lines().find(|l| l.starts_with("Authorization:"));
        let reply = match auth {
            None => format!(
                "SIP/2.0 401 Unauthorized\r\n{head}WWW-Authenticate: Digest realm=\"127.0.0.1\", nonce=\"n0nce\", qop=\"auth\", algorithm=MD5\r\nContent-Length: 0\r\n\r\n"
            ),
            Some(a) => {
                let user = auth_param(a, "username").unwrap();
                let uri = auth_param(a, "uri").unwrap();
                let (cnonce, nc) = (auth_param(a, "cnonce").unwrap(), auth_param(a, "nc").unwrap());
                let pw = self.passwords.iter().find(|(u, _)| u == user).map(|(_, p)| p.clone()).unwrap_or_default();
                let ha1 = md5_hex(&format!("{user}:127.0.0.1:{pw}"));
                let ha2 = md5_hex(&format!("REGISTER:{uri}"));
                let want = md5_hex(&format!("{ha1}:n0nce:{nc}:{cnonce}:auth:{ha2}"));
                if auth_param(a, "response") == Some(want.as_str()) && uri == "sip:127.0.0.1" {
                    if text.contains("\r\nExpires: 0\r\n") {
                        self.unregistered.push(user.to_string());
                    } else {
                        self.registered.push(user.to_string());
                    }
                    format!("SIP/2.0 200 OK\r\n{head}Content-Length: 0\r\n\r\n")
                } else {
                    self.rejected += 1;
                    format!("SIP/2.0 403 Forbidden\r\n{head}Content-Length: 0\r\n\r\n")
                }
            }
        };
        out.send(0, src, reply.as_bytes());
    }
    fn timeout(&mut self, _now: Instant, _out: &mut Outbox) {}
    fn next(&self) -> Option<Instant> {
        None
    }
}

#[test]
fn register_answers_the_digest_challenge() {
    let t0 = Instant::now();
    let users: Vec<User> = ["alice", "bob", "carol"]
        .iter()
        .map(|u| User {
            user: u.to_string(),
            domain: "127.0.0.1".into(),
            password: format!("{u}-pw"),
        })
        .chain(std::iter::once(User {
            user: "mallory".into(),
            domain: "127.0.0.1".into(),
            password: "wrong".into(),
        }))
        .collect();
    let reg = TestRegistrar {
        passwords: ["alice", "bob", "carol", "mallory"]
            .iter()
            .map(|u| (u.to_string(), format!("{u}-pw")))
            .collect(),
        registered: Vec::new(),
        unregistered: Vec::new(),
        rejected: 0,
    };
    let mut cfg = uac_config(t0, Scenario::Register, 8, 50.0);
    cfg.users = Arc::from(users);
    let mut sim = Sim::new(t0, cfg, reg);
    sim.run(Duration::from_secs(10));
    let s = sim.uac_stats();
    assert_eq!(s.attempted, 8);
    assert_eq!(s.succeeded, 6, "alice, bob, carol twice each");
    assert_eq!(
        s.failed.get(&FailCause::Status(403)),
        Some(&2),
        "mallory's wrong password, twice"
    );
    assert_eq!(
        sim.peer.registered,
        vec!["alice", "bob", "carol", "alice", "bob", "carol"]
    );
    assert_eq!(sim.peer.rejected, 2);
    assert_eq!(
        sim.peer.unregistered,
        vec!["alice", "bob", "carol"],
        "at the end, each registered contact is removed (Expires: 0), mallory never was"
    );
    assert_eq!(s.register_us.len(), 6);
    // Two round trips of 2 ms each.
    assert!(s.register_us.min() >= 4_000);
    assert_eq!(s.response(Method::Register).len(), 16);
}

#[test]
fn a_response_for_another_worker_is_handed_over() {
    let t0 = Instant::now();
    let mut cfg = uac_config(t0, Scenario::Options, 1, 10.0);
    cfg.worker = 0;
    let mut uac = UacEndpoint::new(cfg, StatsSink::new());
    let mut out = Outbox::new();
    let resp = b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:40000;branch=z9hG4bK.abc.3.0.1.0\r\nFrom: <sip:a@b>;tag=1\r\n\
To: <sip:b@c>\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
    uac.on_datagram(
        t0,
        Incoming {
            local: 0,
            src: addr(UAS),
            bytes: resp,
            handed_off: false,
        },
        &mut out,
    );
    let handoffs: Vec<_> = out
        .handoffs()
        .map(|(h, b)| (h.worker, b.to_vec()))
        .collect();
    assert_eq!(handoffs, vec![(3, resp.to_vec())]);
    // Handed-off datagrams are never handed on again.
    out.clear();
    uac.on_datagram(
        t0,
        Incoming {
            local: 0,
            src: addr(UAS),
            bytes: resp,
            handed_off: true,
        },
        &mut out,
    );
    assert!(out.is_empty());
    assert_eq!(uac.local_stats().stray, 1);
}

#[test]
fn malformed_and_foreign_datagrams_are_counted_not_fatal() {
    let t0 = Instant::now();
    let mut uac = UacEndpoint::new(uac_config(t0, Scenario::Options, 1, 10.0), StatsSink::new());
    let mut out = Outbox::new();
    for bytes in [&b"garbage"[..], b"SIP/2.0 200 OK\r\nVia: x;branch=z9hG4bK.999.0.0.1.0\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\n\r\n"] {
        uac.on_datagram(t0, Incoming { local: 0, src: addr(UAS), bytes, handed_off: false }, &mut out);
    }
    assert_eq!(uac.local_stats().malformed, 1);
    assert_eq!(uac.local_stats().stray, 1, "a response from another run");
    let mut uas = UasEndpoint::new(uas_config(), StatsSink::new());
    uas.on_datagram(
        t0,
        Incoming {
            local: 0,
            src: addr(UAC),
            bytes: b"INVITE x\r\n\r\n",
            handed_off: false,
        },
        &mut out,
    );
    assert_eq!(uas.local_stats().malformed, 1);
    assert!(out.is_empty());
}

#[test]
fn uas_counts_an_ack_that_a_proxy_relayed_after_the_bye() {
    use ringlet::load::msg::{write_request, CallRef, RequestParts};
    let t0 = Instant::now();
    let sink = StatsSink::new();
    let mut uas = UasEndpoint::new(
        UasConfig {
            ring: Duration::ZERO,
            ..uas_config()
        },
        sink.clone(),
    );
    let local = addr(UAC);
    let call = CallRef {
        run: 7,
        worker: 0,
        slot: 0,
        gen: 1,
    };
    let req = |method: &[u8], tx: u32, cseq: u32, to_tag: Option<&[u8]>| {
        let mut b = Vec::new();
        write_request(
            &mut b,
            &RequestParts {
                method,
                ruri: b"sip:uas@127.0.0.1:5080",
                local: &local,
                call,
                tx,
                from_user: b"load",
                from_domain: b"127.0.0.1",
                to_uri: b"sip:uas@127.0.0.1:5080",
                to_tag,
                cseq,
                extra: b"",
                contact: method == b"INVITE",
                body: None,
            },
        );
        b
    };
    let mut out = Outbox::new();
    let invite = req(b"INVITE", 0, 1, None);
    uas.on_datagram(
        t0,
        Incoming {
            local: 0,
            src: local,
            bytes: &invite,
            handed_off: false,
        },
        &mut out,
    );
    let to_tag = out
        .transmits()
        .find_map(|(_, b)| {
            let v = scan::scan(b).unwrap();
            (v.start == StartLine::Response { code: 200 })
                .then(|| scan::tag(v.to).unwrap().to_vec())
        })
        .expect("ring time 0: the 200 comes at once");
    out.clear();
    // The BYE overtakes the ACK.
    let bye = req(b"BYE", 2, 2, Some(&to_tag));
    uas.on_datagram(
        t0,
        Incoming {
            local: 0,
            src: local,
            bytes: &bye,
            handed_off: false,
        },
        &mut out,
    );
    let ack = req(b"ACK", 1, 1, Some(&to_tag));
    uas.on_datagram(
        t0,
        Incoming {
            local: 0,
            src: local,
            bytes: &ack,
            handed_off: false,
        },
        &mut out,
    );
    let answers: Vec<Vec<u8>> = out.transmits().map(|(_, b)| method_of(b)).collect();
    assert_eq!(
        answers,
        vec![b"200".to_vec()],
        "the BYE is answered, the ACK is not"
    );
    uas.flush();
    let s = sink.take();
    assert_eq!(
        (s.uas.answered, s.uas.byes, s.uas.acks, s.stray),
        (1, 1, 1, 0)
    );
    assert_eq!(uas.active(), 0);
}

#[test]
fn a_late_wake_up_still_starts_every_call_due_in_the_window() {
    let t0 = Instant::now();
    let mut cfg = uac_config(t0, Scenario::Options, 1_000, 10.0);
    cfg.place_for = Duration::from_secs(1);
    let sink = StatsSink::new();
    let mut uac = UacEndpoint::new(cfg, sink.clone());
    let mut out = Outbox::new();
    // The worker was busy: the first wake-up comes after the whole placing window.
    uac.on_timeout(t0 + Duration::from_millis(1500), &mut out);
    assert_eq!(out.len(), 10, "calls due at 0, 100, ..., 900 ms");
    assert_eq!(sink.take().attempted + uac.local_stats().attempted, 10);
    assert_eq!(uac.active(), 10);
}

/// A proxy in front of the UAS that challenges every INVITE without Proxy-Authorization
/// with 407 (absorbing the ACK of its 407, as a stateful proxy does), checks the digest of
/// the retried INVITE with its own MD5, and passes everything else to the UAS.
struct ChallengingProxy {
    uas: UasEndpoint,
    challenged: usize,
    acks_of_407: usize,
    verified: usize,
    invite_cseqs: Vec<u32>,
}

impl Peer for ChallengingProxy {
    fn recv(&mut self, now: Instant, src: SocketAddr, bytes: &[u8], out: &mut Outbox) {
        let text = std::str::from_utf8(bytes).unwrap();
        let v = scan::scan(bytes).unwrap();
        let branch = String::from_utf8_lossy(scan::top_branch(&v).unwrap()).to_string();
        match v.start {
            StartLine::Request {
                method: b"INVITE", ..
            } => {
                self.invite_cseqs.push(v.cseq_num);
                match text.lines().find(|l| l.starts_with("Proxy-Authorization:")) {
                    None => {
                        self.challenged += 1;
                        let via: Vec<&str> =
                            text.lines().filter(|l| l.starts_with("Via:")).collect();
                        let reply = format!(
                            "SIP/2.0 407 Proxy Authentication Required\r\n{}\r\nFrom: {}\r\nTo: {};tag=px\r\nCall-ID: {}\r\n\
CSeq: {} INVITE\r\nProxy-Authenticate: Digest realm=\"127.0.0.1\", nonce=\"pxn\", algorithm=MD5\r\nContent-Length: 0\r\n\r\n",
                            via.join("\r\n"),
                            String::from_utf8_lossy(v.from),
                            String::from_utf8_lossy(v.to),
                            String::from_utf8_lossy(v.call_id),
                            v.cseq_num
                        );
                        out.send(0, src, reply.as_bytes());
                        return;
                    }
                    Some(a) => {
                        let (user, uri) = (
                            auth_param(a, "username").unwrap(),
                            auth_param(a, "uri").unwrap(),
                        );
                        let ha1 = md5_hex(&format!("{user}:127.0.0.1:{user}-pw"));
                        let ha2 = md5_hex(&format!("INVITE:{uri}"));
                        assert_eq!(
                            auth_param(a, "response").unwrap(),
                            md5_hex(&format!("{ha1}:pxn:{ha2}"))
                        );
                        assert!(!a.contains("qop"), "no qop offered, none used");
                        self.verified += 1;
                    }
                }
            }
            StartLine::Request { method: b"ACK", .. } if text.contains("tag=px") => {
                // The ACK of our 407: same branch as the challenged INVITE (§17.1.1.3).
                assert!(branch.ends_with(".0"), "{branch}");
                self.acks_of_407 += 1;
                return;
            }
            _ => {}
        }
        self.uas.recv(now, src, bytes, out);
    }
    fn timeout(&mut self, now: Instant, out: &mut Outbox) {
        self.uas.timeout(now, out);
    }
    fn next(&self) -> Option<Instant> {
        self.uas.next()
    }
}

#[test]
fn a_407_is_acked_and_the_invite_retried_with_proxy_credentials() {
    let t0 = Instant::now();
    let proxy = ChallengingProxy {
        uas: UasEndpoint::new(uas_config(), StatsSink::new()),
        challenged: 0,
        acks_of_407: 0,
        verified: 0,
        invite_cseqs: Vec::new(),
    };
    let mut cfg = uac_config(t0, Scenario::Call, 2, 10.0);
    cfg.users = Arc::from(vec![User {
        user: "alice".into(),
        domain: "127.0.0.1".into(),
        password: "alice-pw".into(),
    }]);
    let mut sim = Sim::new(t0, cfg, proxy);
    sim.run(Duration::from_secs(30));
    let s = sim.uac_stats();
    assert_eq!((s.attempted, s.succeeded, s.failed_total()), (2, 2, 0));
    assert_eq!(
        (sim.peer.challenged, sim.peer.acks_of_407, sim.peer.verified),
        (2, 2, 2)
    );
    // CSeq 1 challenged, CSeq 2 with credentials (RFC 3261 §22.2), for each call.
    assert_eq!(sim.peer.invite_cseqs, vec![1, 2, 1, 2]);
    assert_eq!(s.setup_us.len(), 2);
}

#[test]
fn an_endpoint_with_no_calls_to_place_finishes_at_once() {
    let t0 = Instant::now();
    let cfg = uac_config(t0, Scenario::Call, 0, 10.0);
    let mut uac = UacEndpoint::new(cfg, StatsSink::new());
    assert_eq!(uac.next_timeout(), Some(t0));
    uac.on_timeout(t0, &mut Outbox::new());
    assert!(uac.is_done());
}
