//! The calling side of `ringlet load`: places calls, registrations or OPTIONS pings at a
//! fixed rate, as a sans-I/O [`Endpoint`].
//!
//! Every request goes to the one proxy address (an outbound proxy, RFC 3261 §8.1.2);
//! the proxy routes by Request-URI and Route. One endpoint per worker; it owns a table of
//! call slots indexed directly by the slot number written into Via branches, Call-IDs and
//! tags (see `msg`), so matching a response is one parse and one array index.
//!
//! A call in the `call` scenario:
//!
//! ```text
//!   Inviting ──1xx──► (Proceeding: no retransmission) ──2xx──► Confirmed ──hold──► Byeing ──2xx──► done
//!      │   └─401/407 (once): ACK, INVITE again with credentials                       └─err/timeout► failed
//!      ├─3xx-6xx: ACK, failed (Lingering absorbs the final response's retransmissions: Timer D)
//!      ├─Timer B (no response at all): failed "timeout"
//!      └─no-answer time after a 1xx: CANCEL ──► 487 ──► ACK, failed "no-answer"
//! ```
//!
//! `register`: REGISTER ──401/407──► REGISTER with credentials ──200──► done. When the run
//! is over (every registration ended), each (user, contact) this endpoint registered is
//! unregistered (REGISTER with `Expires: 0`, challenged the same way) so that repeated runs
//! against one proxy do not pile bindings up to its `max_contacts`; this clean-up is bounded
//! by [`UNREGISTER_FOR`] and counted nowhere (the run's figures are final before it).
//! `options`: OPTIONS ──2xx──► done.
//!
//! Client transaction timers are RFC 3261 §17.1: INVITE retransmitted at T1, 2·T1, 4·T1…
//! until the first response or Timer B (64·T1); non-INVITE at T1 doubling up to T2, then
//! T2, until Timer F (64·T1). Time only comes in as `now`.

use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::digest::{self, Challenge, Credentials};
use super::msg::{self, CallRef, RequestParts};
use super::scan::{self, ChallengeKind, SipView, StartLine};
use super::stats::{FailCause, LoadStats, Method, StatsSink, FLUSH_EVERY};
use super::timers::{arm, TimerHeap};
use super::users::User;
use crate::endpoint::{Endpoint, Incoming, ListenerId, Outbox};

/// The longest the end-of-run unregistration may take (see the module docs).
pub const UNREGISTER_FOR: Duration = Duration::from_secs(3);

/// The slowest pace of the unregistration: at least 1,000 REGISTERs/s.
const UNREGISTER_INTERVAL: Duration = Duration::from_millis(1);

/// The end-of-run unregistration in progress.
#[derive(Debug)]
struct Unregistering {
    /// (user, local) pairs still to unregister.
    pending: Vec<(usize, usize)>,
    next: Instant,
    interval: Duration,
    until: Instant,
}

/// RFC 3261 timer base values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SipTimers {
    /// RFC 3261 §17.1.1.1: T1, the RTT estimate, 500 ms by default.
    pub t1: Duration,
    /// RFC 3261 §17.1.2.2: T2, the cap on non-INVITE retransmission intervals, 4 s.
    pub t2: Duration,
}

impl Default for SipTimers {
    fn default() -> Self {
        SipTimers {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
        }
    }
}

impl SipTimers {
    /// RFC 3261 §17.1.1.2 / §17.1.2.2: Timers B and F (and D's floor for UDP) are 64·T1.
    pub fn transaction_timeout(&self) -> Duration {
        self.t1 * 64
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    Options,
    Register,
    Call,
}

impl Scenario {
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Options => "options",
            Scenario::Register => "register",
            Scenario::Call => "call",
        }
    }
}

/// Everything one UAC endpoint needs to know.
#[derive(Debug, Clone)]
pub struct UacConfig {
    pub scenario: Scenario,
    /// Where every request is sent.
    pub proxy: SocketAddr,
    /// This worker's sockets to send from (calls are spread over them round-robin), with
    /// their addresses for Via and Contact.
    pub locals: Vec<(ListenerId, SocketAddr)>,
    /// Request-URI (and To) of calls and OPTIONS.
    pub target: String,
    /// Subscribers to act as; empty means the anonymous `identity`.
    pub users: Arc<[User]>,
    /// First user this endpoint uses, and the step between its users, so that several
    /// workers cover the list without overlap.
    pub user_offset: usize,
    pub user_stride: usize,
    /// `user@domain` used when `users` is empty.
    pub identity: (String, String),
    /// Calls (or requests) per second this endpoint starts.
    pub rate: f64,
    /// When the first call starts.
    pub start: Instant,
    /// How long to keep starting calls.
    pub place_for: Duration,
    /// At most this many calls in total (hard cap).
    pub max_calls: u64,
    /// At most this many calls in progress; a call due beyond it fails as "overload".
    pub max_concurrent: usize,
    /// Time between the ACK and the BYE.
    pub hold: Duration,
    /// Time after the first provisional response after which an unanswered call is
    /// cancelled.
    pub no_answer: Duration,
    /// After the last call started, how long to wait for calls in progress before
    /// counting them "unfinished".
    pub drain: Duration,
    /// Expires of REGISTER.
    pub expires: u32,
    pub timers: SipTimers,
    /// This endpoint's worker index (written into identifiers for hand-over).
    pub worker: u16,
    /// Random per run; identifiers from another run never match.
    pub run: u32,
    /// Also apply HdrHistogram's `record_correct` with the call interval. Latencies are
    /// always measured from each call's scheduled start (which already accounts for a
    /// generator that falls behind); `record_correct` additionally back-fills samples for
    /// any response slower than the interval, which suits closed-loop testers but skews an
    /// open-loop run whose set-up time legitimately exceeds the interval (ring time).
    pub record_correct: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum UacTimer {
    Retransmit,
    Timeout,
    CancelRetransmit,
    CancelTimeout,
    Hold,
    NoAnswer,
    Linger,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Free,
    Inviting,
    Confirmed,
    Byeing,
    Registering,
    Optioning,
    /// The call is over (counted) but the slot absorbs retransmitted final responses.
    Lingering,
}

/// A client transaction: the request kept for retransmission and its timers.
#[derive(Debug)]
struct ClientTx {
    live: bool,
    method: Method,
    /// The transaction number in the branch.
    tx: u32,
    cseq: u32,
    sent: Instant,
    responded: bool,
    /// Current retransmission interval.
    interval: Duration,
    retx_at: Option<Instant>,
    timeout_at: Option<Instant>,
    bytes: Vec<u8>,
}

impl ClientTx {
    fn new(now: Instant) -> Self {
        ClientTx {
            live: false,
            method: Method::Options,
            tx: 0,
            cseq: 0,
            sent: now,
            responded: false,
            interval: Duration::ZERO,
            retx_at: None,
            timeout_at: None,
            bytes: Vec::new(),
        }
    }
    fn stop(&mut self) {
        self.live = false;
        self.retx_at = None;
        self.timeout_at = None;
    }
}

#[derive(Debug)]
struct Call {
    gen: u32,
    phase: Phase,
    user: Option<usize>,
    local: usize,
    started: Instant,
    next_tx: u32,
    cseq: u32,
    main: ClientTx,
    cancel: ClientTx,
    provisional: bool,
    cancelled: bool,
    auth_tried: bool,
    /// An end-of-run REGISTER with `Expires: 0`.
    unregister: bool,
    /// The credentials line sent with the current request (kept for BYE after INVITE auth).
    to_tag: Vec<u8>,
    remote_target: Vec<u8>,
    /// `Route:` lines (CRLF-terminated) from the 2xx's Record-Route, reversed.
    routes: Vec<u8>,
    /// The ACK for the 2xx, re-sent when the 2xx is retransmitted (RFC 3261 §13.2.2.4).
    ack: Vec<u8>,
    hold_at: Option<Instant>,
    no_answer_at: Option<Instant>,
    linger_at: Option<Instant>,
}

impl Call {
    fn new(now: Instant) -> Self {
        Call {
            gen: 0,
            phase: Phase::Free,
            user: None,
            local: 0,
            started: now,
            next_tx: 0,
            cseq: 0,
            main: ClientTx::new(now),
            cancel: ClientTx::new(now),
            provisional: false,
            cancelled: false,
            auth_tried: false,
            unregister: false,
            to_tag: Vec::new(),
            remote_target: Vec::new(),
            routes: Vec::new(),
            ack: Vec::new(),
            hold_at: None,
            no_answer_at: None,
            linger_at: None,
        }
    }
    fn is_active(&self) -> bool {
        !matches!(self.phase, Phase::Free | Phase::Lingering)
    }
}

/// The UAC as an [`Endpoint`].
pub struct UacEndpoint {
    cfg: UacConfig,
    /// Pre-rendered: the call's SDP offer.
    sdp: Vec<u8>,
    calls: Vec<Call>,
    free: Vec<u32>,
    timers: TimerHeap<UacTimer>,
    interval: Duration,
    /// The expected interval handed to `record_correct`, or zero (see `UacConfig`).
    co_interval: Duration,
    placed: u64,
    next_start: Instant,
    place_until: Instant,
    drain_until: Option<Instant>,
    active: usize,
    stats: LoadStats,
    sink: Arc<StatsSink>,
    next_flush: Instant,
    done: bool,
    scratch: Vec<u8>,
    uri_buf: Vec<u8>,
    /// `register`: which (user × locals + local) this endpoint has a binding for.
    registered: Vec<bool>,
    unregistering: Option<Unregistering>,
}

impl UacEndpoint {
    pub fn new(cfg: UacConfig, sink: Arc<StatsSink>) -> Self {
        let rate = if cfg.rate.is_finite() && cfg.rate > 0.0 {
            cfg.rate
        } else {
            1.0
        };
        let interval = Duration::from_secs_f64(1.0 / rate);
        let sdp_addr = cfg.locals.first().map(|l| l.1).unwrap_or(cfg.proxy);
        UacEndpoint {
            sdp: msg::sdp(&sdp_addr, 6000),
            next_start: cfg.start,
            place_until: cfg.start + cfg.place_for,
            next_flush: cfg.start + FLUSH_EVERY,
            interval,
            co_interval: if cfg.record_correct {
                interval
            } else {
                Duration::ZERO
            },
            calls: Vec::new(),
            free: Vec::new(),
            timers: TimerHeap::default(),
            placed: 0,
            drain_until: None,
            active: 0,
            stats: LoadStats::default(),
            sink,
            done: false,
            scratch: Vec::with_capacity(2048),
            uri_buf: Vec::with_capacity(128),
            registered: if cfg.scenario == Scenario::Register {
                vec![false; cfg.users.len() * cfg.locals.len().max(1)]
            } else {
                Vec::new()
            },
            unregistering: None,
            cfg,
        }
    }

    /// All calls placed and ended (or the drain time ran out).
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Calls in progress.
    pub fn active(&self) -> usize {
        self.active
    }

    /// Counters not yet flushed to the sink (tests read these directly).
    pub fn local_stats(&self) -> &LoadStats {
        &self.stats
    }

    /// Calls remain to be started: judged by the schedule, not by `now`, so a late wake-up
    /// near the end of the window still starts the calls that were due inside it.
    fn placing(&self) -> bool {
        self.placed < self.cfg.max_calls && self.next_start < self.place_until
    }

    fn call_ref(&self, slot: u32, gen: u32) -> CallRef {
        CallRef {
            run: self.cfg.run,
            worker: self.cfg.worker,
            slot,
            gen,
        }
    }

    fn start_due_calls(&mut self, now: Instant, out: &mut Outbox) {
        // At most this many calls per wake-up, so one late wake-up cannot monopolise the
        // worker; the remainder start on the next (immediate) timeout.
        let mut burst = 0;
        while self.placing() && self.next_start <= now && burst < 1024 {
            let scheduled = self.next_start;
            self.next_start += self.interval;
            self.placed += 1;
            burst += 1;
            self.stats.attempted += 1;
            if self.active >= self.cfg.max_concurrent {
                self.stats.fail(FailCause::Overload);
                continue;
            }
            self.start_call(scheduled, now, out);
        }
        if !self.placing() && self.drain_until.is_none() {
            self.drain_until = Some(now + self.cfg.drain);
        }
    }

    /// Start the call due at `scheduled` (≤ `now`). Its latencies are measured from
    /// `scheduled`, not from when it was actually sent, so a generator that falls behind
    /// cannot hide the delay (coordinated omission, as wrk2 measures it).
    fn start_call(&mut self, scheduled: Instant, now: Instant, out: &mut Outbox) {
        let slot = match self.free.pop() {
            Some(s) => s,
            None => {
                self.calls.push(Call::new(now));
                (self.calls.len() - 1) as u32
            }
        };
        let n = self.placed - 1;
        let nlocals = self.cfg.locals.len().max(1);
        let user = if self.cfg.users.is_empty() {
            None
        } else {
            let stride = self.cfg.user_stride.max(1) as u64;
            Some(
                ((self.cfg.user_offset as u64 + n * stride) % self.cfg.users.len() as u64) as usize,
            )
        };
        self.launch(
            slot,
            user,
            (n % nlocals as u64) as usize,
            false,
            scheduled,
            now,
            out,
        );
    }

    /// Start the new call in the free `slot` for `user` from `locals[local]`; `unregister`:
    /// the end-of-run REGISTER with `Expires: 0` (register scenario only).
    #[allow(clippy::too_many_arguments)]
    fn launch(
        &mut self,
        slot: u32,
        user: Option<usize>,
        local: usize,
        unregister: bool,
        scheduled: Instant,
        now: Instant,
        out: &mut Outbox,
    ) {
        let c = &mut self.calls[slot as usize];
        c.gen = c.gen.wrapping_add(1);
        c.user = user;
        c.local = local;
        c.unregister = unregister;
        c.started = now;
        c.next_tx = 0;
        c.cseq = 1;
        c.provisional = false;
        c.cancelled = false;
        c.auth_tried = false;
        c.to_tag.clear();
        c.remote_target.clear();
        c.routes.clear();
        c.ack.clear();
        c.hold_at = None;
        c.no_answer_at = None;
        c.linger_at = None;
        c.cancel.stop();
        c.phase = match self.cfg.scenario {
            Scenario::Call => Phase::Inviting,
            Scenario::Register => Phase::Registering,
            Scenario::Options => Phase::Optioning,
        };
        self.active += 1;
        let method = match self.cfg.scenario {
            Scenario::Call => Method::Invite,
            Scenario::Register => Method::Register,
            Scenario::Options => Method::Options,
        };
        self.send_new_request(slot, method, None, now, out);
        let c = &mut self.calls[slot as usize];
        c.started = scheduled;
        c.main.sent = scheduled;
        if self.cfg.scenario == Scenario::Call {
            let gen = self.calls[slot as usize].gen;
            let when = now + self.cfg.no_answer;
            let c = &mut self.calls[slot as usize];
            arm(
                &mut self.timers,
                &mut c.no_answer_at,
                when,
                slot,
                gen,
                UacTimer::NoAnswer,
            );
        }
    }

    /// Build the request of a new client transaction of `slot` into its `main` tx, send it
    /// and arm its timers. `auth` is the challenge to answer, if any.
    fn send_new_request(
        &mut self,
        slot: u32,
        method: Method,
        auth: Option<(ChallengeKind, Challenge<'_>)>,
        now: Instant,
        out: &mut Outbox,
    ) {
        let cfg = &self.cfg;
        let c = &mut self.calls[slot as usize];
        let call = CallRef {
            run: cfg.run,
            worker: cfg.worker,
            slot,
            gen: c.gen,
        };
        let (from_user, from_domain, password) = match c.user.and_then(|u| cfg.users.get(u)) {
            Some(u) => (
                u.user.as_bytes(),
                u.domain.as_bytes(),
                Some(u.password.as_bytes()),
            ),
            None => (cfg.identity.0.as_bytes(), cfg.identity.1.as_bytes(), None),
        };
        let (lid, local) = cfg.locals.get(c.local).copied().unwrap_or((0, cfg.proxy));
        let tx = c.next_tx;
        c.next_tx += 1;
        if tx > 0 {
            // CSeq grows with every new request in the call (RFC 3261 §8.1.1.5, §12.2.1.1).
            c.cseq += 1;
        }
        // REGISTER: Request-URI is the domain, To is the address of record (§10.2); both
        // written into one reusable buffer: "sip:<domain>" then "sip:<user>@<domain>".
        let uri_buf = &mut self.uri_buf;
        uri_buf.clear();
        uri_buf.extend_from_slice(b"sip:");
        uri_buf.extend_from_slice(from_domain);
        let split = uri_buf.len();
        uri_buf.extend_from_slice(b"sip:");
        uri_buf.extend_from_slice(from_user);
        uri_buf.push(b'@');
        uri_buf.extend_from_slice(from_domain);
        let (domain_uri, aor) = uri_buf.split_at(split);
        let target = cfg.target.as_bytes();
        let (name, ruri, to_uri): (&[u8], &[u8], &[u8]) = match method {
            Method::Invite => (b"INVITE", target, target),
            Method::Register => (b"REGISTER", domain_uri, aor),
            Method::Options => (b"OPTIONS", target, target),
            Method::Bye => (
                b"BYE",
                if c.remote_target.is_empty() {
                    target
                } else {
                    &c.remote_target
                },
                target,
            ),
            Method::Cancel => (b"CANCEL", target, target),
        };
        let extra = &mut self.scratch;
        extra.clear();
        if method == Method::Register {
            let expires = if c.unregister { 0 } else { cfg.expires };
            let _ = write!(extra, "Expires: {expires}\r\n");
        }
        if method == Method::Bye {
            extra.extend_from_slice(&c.routes);
        }
        if let (Some((kind, ch)), Some(pw)) = (auth, password) {
            let mut cnonce = Vec::with_capacity(24);
            call.write_tag(&mut cnonce);
            digest::write_header(
                extra,
                kind == ChallengeKind::Proxy,
                &ch,
                &Credentials {
                    username: from_user,
                    password: pw,
                    method: name,
                    uri: ruri,
                    cnonce: &cnonce,
                    nc: 1,
                },
            );
        }
        let to_tag = if method == Method::Bye {
            Some(&c.to_tag[..])
        } else {
            None
        };
        let body = if method == Method::Invite {
            Some((&b"application/sdp"[..], &self.sdp[..]))
        } else {
            None
        };
        let mut bytes = std::mem::take(&mut c.main.bytes);
        bytes.clear();
        msg::write_request(
            &mut bytes,
            &RequestParts {
                method: name,
                ruri,
                local: &local,
                call,
                tx,
                from_user,
                from_domain,
                to_uri,
                to_tag,
                cseq: c.cseq,
                extra,
                contact: matches!(method, Method::Invite | Method::Register),
                body,
            },
        );
        c.main.bytes = bytes;
        c.main.live = true;
        c.main.method = method;
        c.main.tx = tx;
        c.main.cseq = c.cseq;
        c.main.sent = now;
        c.main.responded = false;
        c.main.interval = cfg.timers.t1;
        out.send(lid, cfg.proxy, &c.main.bytes);
        let gen = c.gen;
        arm(
            &mut self.timers,
            &mut c.main.retx_at,
            now + cfg.timers.t1,
            slot,
            gen,
            UacTimer::Retransmit,
        );
        let to = now + cfg.timers.transaction_timeout();
        arm(
            &mut self.timers,
            &mut c.main.timeout_at,
            to,
            slot,
            gen,
            UacTimer::Timeout,
        );
    }

    /// Write an ACK for the INVITE of `slot`: for a non-2xx final response it reuses the
    /// INVITE's branch (RFC 3261 §17.1.1.3); for a 2xx it is a new transaction to the
    /// remote target through the route set (§13.2.2.4).
    fn write_ack(&mut self, slot: u32, for_2xx: bool, into_call: bool, out: &mut Outbox) {
        let gen = self.calls[slot as usize].gen;
        let call = self.call_ref(slot, gen);
        let c = &mut self.calls[slot as usize];
        let (from_user, from_domain, _) = match c.user.and_then(|u| self.cfg.users.get(u)) {
            Some(u) => (u.user.as_str(), u.domain.as_str(), ()),
            None => (
                self.cfg.identity.0.as_str(),
                self.cfg.identity.1.as_str(),
                (),
            ),
        };
        let (lid, local) = self
            .cfg
            .locals
            .get(c.local)
            .copied()
            .unwrap_or((0, self.cfg.proxy));
        let tx = if for_2xx {
            let t = c.next_tx;
            c.next_tx += 1;
            t
        } else {
            c.main.tx
        };
        let ruri: &[u8] = if for_2xx && !c.remote_target.is_empty() {
            &c.remote_target
        } else {
            self.cfg.target.as_bytes()
        };
        let mut buf = std::mem::take(&mut self.scratch);
        buf.clear();
        msg::write_request(
            &mut buf,
            &RequestParts {
                method: b"ACK",
                ruri,
                local: &local,
                call,
                tx,
                from_user: from_user.as_bytes(),
                from_domain: from_domain.as_bytes(),
                to_uri: self.cfg.target.as_bytes(),
                to_tag: Some(&c.to_tag),
                cseq: c.main.cseq,
                extra: if for_2xx { &c.routes } else { b"" },
                contact: false,
                body: None,
            },
        );
        out.send(lid, self.cfg.proxy, &buf);
        if into_call {
            c.ack.clear();
            c.ack.extend_from_slice(&buf);
        }
        self.scratch = buf;
    }

    fn send_cancel(&mut self, slot: u32, now: Instant, out: &mut Outbox) {
        let gen = self.calls[slot as usize].gen;
        let call = self.call_ref(slot, gen);
        let c = &mut self.calls[slot as usize];
        let (from_user, from_domain) = match c.user.and_then(|u| self.cfg.users.get(u)) {
            Some(u) => (u.user.as_str(), u.domain.as_str()),
            None => (self.cfg.identity.0.as_str(), self.cfg.identity.1.as_str()),
        };
        let (lid, local) = self
            .cfg
            .locals
            .get(c.local)
            .copied()
            .unwrap_or((0, self.cfg.proxy));
        c.cancel.bytes.clear();
        // RFC 3261 §9.1: same Request-URI, Call-ID, From, To (no tag), CSeq number and
        // branch as the INVITE.
        msg::write_request(
            &mut c.cancel.bytes,
            &RequestParts {
                method: b"CANCEL",
                ruri: self.cfg.target.as_bytes(),
                local: &local,
                call,
                tx: c.main.tx,
                from_user: from_user.as_bytes(),
                from_domain: from_domain.as_bytes(),
                to_uri: self.cfg.target.as_bytes(),
                to_tag: None,
                cseq: c.main.cseq,
                extra: b"",
                contact: false,
                body: None,
            },
        );
        c.cancel.live = true;
        c.cancel.method = Method::Cancel;
        c.cancel.tx = c.main.tx;
        c.cancel.sent = now;
        c.cancel.responded = false;
        c.cancel.interval = self.cfg.timers.t1;
        c.cancelled = true;
        out.send(lid, self.cfg.proxy, &c.cancel.bytes);
        let t1 = self.cfg.timers.t1;
        arm(
            &mut self.timers,
            &mut c.cancel.retx_at,
            now + t1,
            slot,
            gen,
            UacTimer::CancelRetransmit,
        );
        let to = now + self.cfg.timers.transaction_timeout();
        arm(
            &mut self.timers,
            &mut c.cancel.timeout_at,
            to,
            slot,
            gen,
            UacTimer::CancelTimeout,
        );
        // The INVITE must now end with a 487 (or a 2xx that raced the CANCEL); if neither
        // comes, give up after 64·T1 like Timer B would.
        arm(
            &mut self.timers,
            &mut c.main.timeout_at,
            to,
            slot,
            gen,
            UacTimer::Timeout,
        );
    }

    /// End the call in `slot`: counted already; free it (or let it linger).
    fn finish(&mut self, slot: u32, now: Instant, linger: bool) {
        let c = &mut self.calls[slot as usize];
        if c.is_active() {
            self.active -= 1;
        }
        c.main.stop();
        c.hold_at = None;
        c.no_answer_at = None;
        if !linger {
            c.cancel.stop();
        }
        // When lingering, a CANCEL still in progress keeps its transaction: its 200 may come
        // after the INVITE's 487 (a proxy with several workers may reorder them).
        if linger {
            // RFC 3261 §17.1.1.2: Timer D (≥ 32 s on UDP) absorbs retransmitted finals.
            c.phase = Phase::Lingering;
            let when = now + self.cfg.timers.transaction_timeout();
            let gen = c.gen;
            arm(
                &mut self.timers,
                &mut c.linger_at,
                when,
                slot,
                gen,
                UacTimer::Linger,
            );
        } else {
            c.phase = Phase::Free;
            c.linger_at = None;
            self.free.push(slot);
        }
    }

    fn fail(&mut self, slot: u32, cause: FailCause, now: Instant, linger: bool) {
        self.stats.fail(cause);
        self.finish(slot, now, linger);
    }

    fn on_response(
        &mut self,
        now: Instant,
        incoming: &Incoming<'_>,
        view: &SipView<'_>,
        code: u16,
        out: &mut Outbox,
    ) {
        let Some((cref, tx)) = scan::top_branch(view).and_then(CallRef::parse_branch) else {
            self.stats.stray += 1;
            return;
        };
        if cref.run != self.cfg.run {
            self.stats.stray += 1;
            return;
        }
        if cref.worker != self.cfg.worker {
            if incoming.handed_off {
                self.stats.stray += 1;
            } else {
                out.handoff(
                    usize::from(cref.worker),
                    incoming.local,
                    incoming.src,
                    incoming.bytes,
                );
            }
            return;
        }
        let slot = cref.slot;
        let Some(c) = self.calls.get(slot as usize) else {
            self.stats.stray += 1;
            return;
        };
        if c.gen != cref.gen || c.phase == Phase::Free {
            self.stats.stray += 1;
            return;
        }
        let is_cancel = view.cseq_method == b"CANCEL";
        if is_cancel {
            let c = &mut self.calls[slot as usize];
            if c.cancel.live && c.cancel.tx == tx && code >= 200 {
                record_first(&mut self.stats, &mut c.cancel, now, self.co_interval);
                c.cancel.stop();
            } else if code >= 200 {
                self.stats.retransmissions_received += 1;
            }
            return;
        }
        let phase = self.calls[slot as usize].phase;
        if phase == Phase::Lingering {
            // A retransmitted final response to an INVITE we already ACKed: ACK again.
            if view.cseq_method == b"INVITE" && code >= 300 {
                self.stats.retransmissions_received += 1;
                self.write_ack(slot, false, false, out);
            } else {
                self.stats.stray += 1;
            }
            return;
        }
        let c = &mut self.calls[slot as usize];
        if c.main.tx != tx || !c.main.live {
            // A response to an earlier transaction of this call: the 2xx to our INVITE
            // retransmitted while we hold or say BYE (our ACK was lost): ACK it again.
            if view.cseq_method == b"INVITE" && (200..300).contains(&code) && !c.ack.is_empty() {
                let (lid, _) = self
                    .cfg
                    .locals
                    .get(c.local)
                    .copied()
                    .unwrap_or((0, self.cfg.proxy));
                out.send(lid, self.cfg.proxy, &c.ack);
                self.stats.retransmissions_received += 1;
            } else if code >= 200 {
                self.stats.retransmissions_received += 1;
            }
            return;
        }
        record_first(&mut self.stats, &mut c.main, now, self.co_interval);
        let method = c.main.method;
        match method {
            Method::Invite => self.on_invite_response(slot, now, view, code, out),
            Method::Bye => {
                if code < 200 {
                    // RFC 3261 §17.1.2.2: Proceeding, keep retransmitting at T2.
                    c.main.interval = self.cfg.timers.t2;
                    return;
                }
                if code < 300 {
                    self.stats.succeeded += 1;
                    self.finish(slot, now, false);
                } else {
                    self.fail(slot, FailCause::Status(code), now, false);
                }
            }
            Method::Register | Method::Options => {
                if code < 200 {
                    c.main.interval = self.cfg.timers.t2;
                    return;
                }
                if code < 300 {
                    if method == Method::Register {
                        let started = c.started;
                        self.stats.record_register(now - started, self.co_interval);
                        if !c.unregister {
                            let nlocals = self.cfg.locals.len().max(1);
                            if let Some(u) = c.user {
                                if let Some(r) = self.registered.get_mut(u * nlocals + c.local) {
                                    *r = true;
                                }
                            }
                        }
                    }
                    self.stats.succeeded += 1;
                    self.finish(slot, now, false);
                } else if (code == 401 || code == 407) && !c.auth_tried {
                    self.retry_with_credentials(slot, method, view, code, now, out);
                } else {
                    let cause = if code == 401 || code == 407 {
                        FailCause::AuthRejected
                    } else {
                        FailCause::Status(code)
                    };
                    self.fail(slot, cause, now, false);
                }
            }
            Method::Cancel => {}
        }
    }

    fn retry_with_credentials(
        &mut self,
        slot: u32,
        method: Method,
        view: &SipView<'_>,
        code: u16,
        now: Instant,
        out: &mut Outbox,
    ) {
        let c = &mut self.calls[slot as usize];
        c.auth_tried = true;
        c.main.stop();
        let has_password = c.user.and_then(|u| self.cfg.users.get(u)).is_some();
        let challenge = view
            .challenge
            .and_then(|(kind, v)| Challenge::parse(v).ok().map(|ch| (kind, ch)));
        match challenge {
            Some((kind, ch)) if has_password && ((code == 401) == (kind == ChallengeKind::Www)) => {
                self.send_new_request(slot, method, Some((kind, ch)), now, out);
            }
            _ => self.fail(slot, FailCause::AuthRejected, now, false),
        }
    }

    fn on_invite_response(
        &mut self,
        slot: u32,
        now: Instant,
        view: &SipView<'_>,
        code: u16,
        out: &mut Outbox,
    ) {
        let c = &mut self.calls[slot as usize];
        if code < 200 {
            // RFC 3261 §17.1.1.2: Proceeding: stop retransmitting, Timer B no longer runs.
            // After our CANCEL the INVITE keeps its 64·T1 guard.
            c.provisional = true;
            c.main.retx_at = None;
            if !c.cancelled {
                c.main.timeout_at = None;
            }
            return;
        }
        c.to_tag.clear();
        if let Some(t) = scan::tag(view.to) {
            c.to_tag.extend_from_slice(t);
        }
        if code < 300 {
            let started = c.started;
            c.remote_target.clear();
            if let Some(ct) = view.contact {
                c.remote_target
                    .extend_from_slice(scan::uri_of(scan::first_value(ct)));
            }
            // RFC 3261 §12.1.2: the UAC's route set is the Record-Route values reversed.
            c.routes.clear();
            for line in view.record_routes.iter().rev() {
                let values = split_values(scan::header_value(line));
                for v in values.iter().rev() {
                    c.routes.extend_from_slice(b"Route: ");
                    c.routes.extend_from_slice(v);
                    c.routes.extend_from_slice(b"\r\n");
                }
            }
            c.main.stop();
            c.no_answer_at = None;
            c.phase = Phase::Confirmed;
            let gen = c.gen;
            let when = now + self.cfg.hold;
            arm(
                &mut self.timers,
                &mut c.hold_at,
                when,
                slot,
                gen,
                UacTimer::Hold,
            );
            self.stats.record_setup(now - started, self.co_interval);
            self.write_ack(slot, true, true, out);
            return;
        }
        // Final error: ACK it on the INVITE's branch (hop by hop).
        let cancelled = c.cancelled;
        let auth_tried = c.auth_tried;
        self.write_ack(slot, false, false, out);
        if (code == 401 || code == 407) && !auth_tried {
            let c = &mut self.calls[slot as usize];
            // A fresh INVITE: forget the provisional state of the challenged one.
            c.provisional = false;
            self.retry_with_credentials(slot, Method::Invite, view, code, now, out);
            return;
        }
        let cause = if cancelled && code == 487 {
            FailCause::NoAnswer
        } else if code == 401 || code == 407 {
            FailCause::AuthRejected
        } else {
            FailCause::Status(code)
        };
        self.fail(slot, cause, now, true);
    }

    fn on_timer(
        &mut self,
        now: Instant,
        slot: u32,
        gen: u32,
        kind: UacTimer,
        when: Instant,
        out: &mut Outbox,
    ) {
        let Some(c) = self.calls.get_mut(slot as usize) else {
            return;
        };
        if c.gen != gen || c.phase == Phase::Free {
            return;
        }
        let field = match kind {
            UacTimer::Retransmit => c.main.retx_at,
            UacTimer::Timeout => c.main.timeout_at,
            UacTimer::CancelRetransmit => c.cancel.retx_at,
            UacTimer::CancelTimeout => c.cancel.timeout_at,
            UacTimer::Hold => c.hold_at,
            UacTimer::NoAnswer => c.no_answer_at,
            UacTimer::Linger => c.linger_at,
        };
        if field != Some(when) {
            return; // cancelled or re-armed since
        }
        let (lid, _) = self
            .cfg
            .locals
            .get(c.local)
            .copied()
            .unwrap_or((0, self.cfg.proxy));
        match kind {
            UacTimer::Retransmit => {
                out.send(lid, self.cfg.proxy, &c.main.bytes);
                self.stats.retransmissions_sent += 1;
                // INVITE: T1, 2·T1, 4·T1… (§17.1.1.2); non-INVITE capped at T2 (§17.1.2.2).
                c.main.interval = if c.main.method == Method::Invite {
                    c.main.interval * 2
                } else {
                    (c.main.interval * 2).min(self.cfg.timers.t2)
                };
                let next = now + c.main.interval;
                arm(
                    &mut self.timers,
                    &mut c.main.retx_at,
                    next,
                    slot,
                    gen,
                    UacTimer::Retransmit,
                );
            }
            UacTimer::CancelRetransmit => {
                out.send(lid, self.cfg.proxy, &c.cancel.bytes);
                self.stats.retransmissions_sent += 1;
                c.cancel.interval = (c.cancel.interval * 2).min(self.cfg.timers.t2);
                let next = now + c.cancel.interval;
                arm(
                    &mut self.timers,
                    &mut c.cancel.retx_at,
                    next,
                    slot,
                    gen,
                    UacTimer::CancelRetransmit,
                );
            }
            UacTimer::Timeout => self.fail(slot, FailCause::Timeout, now, false),
            UacTimer::CancelTimeout => c.cancel.stop(),
            UacTimer::Hold => {
                c.hold_at = None;
                c.phase = Phase::Byeing;
                self.send_new_request(slot, Method::Bye, None, now, out);
            }
            UacTimer::NoAnswer => {
                c.no_answer_at = None;
                // RFC 3261 §9.1: a CANCEL only after a provisional response; without one
                // the INVITE ends by Timer B.
                if c.phase == Phase::Inviting && c.provisional && !c.cancelled {
                    self.send_cancel(slot, now, out);
                }
            }
            UacTimer::Linger => {
                c.linger_at = None;
                c.phase = Phase::Free;
                self.free.push(slot);
            }
        }
    }

    /// The run's figures are final: hand them over and say so.
    fn finish_run(&mut self) {
        self.done = true;
        if self.unregistering.is_some() {
            // Flushed when the unregistration began; what it counted is not the run's.
            self.stats.reset();
        } else {
            self.sink.flush(&mut self.stats);
        }
        self.sink.set_done();
    }

    /// After the last registration: flush the final figures, then unregister every
    /// (user, contact) registered. False when there is nothing to unregister.
    fn start_unregistering(&mut self, now: Instant) -> bool {
        let nlocals = self.cfg.locals.len().max(1);
        let pending: Vec<(usize, usize)> = self
            .registered
            .iter()
            .enumerate()
            .filter(|(_, r)| **r)
            .map(|(i, _)| (i / nlocals, i % nlocals))
            .rev()
            .collect();
        if pending.is_empty() {
            return false;
        }
        self.registered.iter_mut().for_each(|r| *r = false);
        self.sink.flush(&mut self.stats);
        self.unregistering = Some(Unregistering {
            pending,
            next: now,
            interval: self.interval.min(UNREGISTER_INTERVAL),
            until: now + UNREGISTER_FOR,
        });
        true
    }

    /// Send the unregistrations that are due (paced like calls, bounded per wake-up).
    fn start_due_unregistrations(&mut self, now: Instant, out: &mut Outbox) {
        for _ in 0..1024 {
            let Some(u) = self.unregistering.as_mut() else {
                return;
            };
            if u.next > now || now >= u.until || self.active >= self.cfg.max_concurrent {
                return;
            }
            let Some((user, local)) = u.pending.pop() else {
                return;
            };
            u.next += u.interval;
            let slot = match self.free.pop() {
                Some(s) => s,
                None => {
                    self.calls.push(Call::new(now));
                    (self.calls.len() - 1) as u32
                }
            };
            self.launch(slot, Some(user), local, true, now, now, out);
        }
    }

    fn end_drain(&mut self, now: Instant) {
        for slot in 0..self.calls.len() as u32 {
            if self.calls[slot as usize].is_active() {
                self.fail(slot, FailCause::Unfinished, now, false);
            }
        }
    }

    fn after_event(&mut self, now: Instant) {
        if !self.done && !self.placing() {
            if let Some(u) = &self.unregistering {
                let over = now >= u.until;
                let finished = u.pending.is_empty() && self.active == 0;
                if over && self.active > 0 {
                    self.end_drain(now);
                }
                if over || finished {
                    self.finish_run();
                }
            } else {
                if self.drain_until.is_none() {
                    self.drain_until = Some(now + self.cfg.drain);
                }
                if self.drain_until.is_some_and(|d| now >= d) && self.active > 0 {
                    self.end_drain(now);
                }
                if self.active == 0 && !self.start_unregistering(now) {
                    self.finish_run();
                }
            }
        }
        if now >= self.next_flush && self.unregistering.is_none() {
            self.sink.flush(&mut self.stats);
            self.next_flush = now + FLUSH_EVERY;
        }
    }
}

/// Record the first response time of a transaction (once; retransmissions do not restart
/// the clock).
fn record_first(stats: &mut LoadStats, tx: &mut ClientTx, now: Instant, interval: Duration) {
    if !tx.responded {
        tx.responded = true;
        stats.record_response(tx.method, now - tx.sent, interval);
    }
}

/// The comma-separated values of a header value (commas inside `<>` or quotes kept).
fn split_values(mut v: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while !v.is_empty() {
        let first = scan::first_value(v);
        if !first.is_empty() {
            out.push(first);
        }
        // first_value returns a trimmed prefix; skip past it and the comma.
        let start = first.as_ptr() as usize - v.as_ptr() as usize;
        let rest = &v[start + first.len()..];
        match memchr::memchr(b',', rest) {
            Some(i) => v = &rest[i + 1..],
            None => break,
        }
    }
    out
}

impl UacEndpoint {
    /// A scanned datagram (the combined endpoint scans once for both roles).
    pub fn handle(
        &mut self,
        now: Instant,
        incoming: &Incoming<'_>,
        view: &SipView<'_>,
        out: &mut Outbox,
    ) {
        match view.start {
            StartLine::Response { code } => self.on_response(now, incoming, view, code, out),
            // A UAC answers no requests; the combined endpoint routes requests to the UAS.
            StartLine::Request { .. } => self.stats.stray += 1,
        }
        self.after_event(now);
    }

    /// A datagram that did not scan as SIP.
    pub fn count_malformed(&mut self) {
        self.stats.malformed += 1;
    }
}

impl Endpoint for UacEndpoint {
    fn on_datagram(&mut self, now: Instant, incoming: Incoming<'_>, out: &mut Outbox) {
        match scan::scan(incoming.bytes) {
            Ok(view) => self.handle(now, &incoming, &view, out),
            Err(_) => {
                self.stats.malformed += 1;
                self.after_event(now);
            }
        }
    }

    fn on_timeout(&mut self, now: Instant, out: &mut Outbox) {
        self.start_due_calls(now, out);
        self.start_due_unregistrations(now, out);
        // Bounded per wake-up like call starts, for the same reason.
        for _ in 0..65_536 {
            let Some(e) = self.timers.pop_due(now) else {
                break;
            };
            self.on_timer(now, e.slot, e.gen, e.kind, e.when, out);
        }
        self.after_event(now);
    }

    fn next_timeout(&self) -> Option<Instant> {
        let mut next = self.timers.peek();
        let mut consider = |t: Instant| next = Some(next.map_or(t, |n: Instant| n.min(t)));
        if let Some(u) = self.unregistering.as_ref().filter(|_| !self.done) {
            if !u.pending.is_empty() {
                consider(u.next);
            }
            consider(u.until);
        } else if !self.done {
            if self.placed < self.cfg.max_calls && self.next_start < self.place_until {
                consider(self.next_start);
            } else if let Some(d) = self.drain_until {
                consider(d);
            } else {
                // Nothing (more) to place and no drain started yet (e.g. this worker's share
                // of --count is 0): wake at once to start the drain and finish.
                consider(self.cfg.start);
            }
            if !self.stats.is_empty() {
                consider(self.next_flush);
            }
        }
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_values_respects_brackets() {
        let v = split_values(b"<sip:a;lr>, <sip:b,c;lr> ,<sip:d>");
        assert_eq!(v, vec![&b"<sip:a;lr>"[..], b"<sip:b,c;lr>", b"<sip:d>"]);
        assert!(split_values(b"").is_empty());
    }
}
