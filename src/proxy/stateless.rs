//! The stateless relay (RFC 3261 §16.11): the smallest complete SIP core, used to run the
//! runtime end to end until the stateful proxy replaces it.
//!
//! What it does with each datagram, without keeping any state between datagrams:
//!
//! ```text
//!   CRLF keep-alive ────────────────────────────────► ignored (RFC 5626 §4.4.1)
//!   unparseable / invalid request ──────────────────► 400 (or 416/420/483/505/513) + reason
//!   invalid response ───────────────────────────────► dropped, counted
//!   request for us (R-URI host is ours, no user) ───► OPTIONS: 200 · ACK: absorbed · else 405
//!   other request ──► our Via on top (deterministic branch), Max-Forwards − 1 (483 at 0),
//!                     received/rport on the sender's Via, our Route removed
//!                     ──► next hop = top Route or Request-URI, numeric host:port only
//!                         (a host name is answered 502: this relay does no DNS)
//!   response whose top Via is ours ─► top Via stripped ─► second Via's received/rport
//!                                                        (RFC 3581 §4), else sent-by
//! ```
//!
//! Invariants: the outgoing branch is a pure function of the incoming request (so a
//! retransmission, and a CANCEL or non-2xx ACK sharing its INVITE's branch, get the same
//! one, as §16.11 requires); replies we generate carry a To tag that is a pure function of
//! the request too, so retransmitted requests get byte-identical answers. Nothing here
//! reads a clock or a socket: `now` is unused because a stateless relay has no timers.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Instant;

use crate::endpoint::{Endpoint, Incoming, ListenerId, Outbox};
use crate::sip::{
    self, Edits, HeaderName, Host, Message, Method, NewVia, RPort, Reply, Scheme, Uri, Via,
    BRANCH_MAGIC_COOKIE,
};

/// The port a URI or Via without one means. RFC 3261 §19.1.2.
const DEFAULT_SIP_PORT: u16 = 5060;

/// What we put after the magic cookie in our branches, so they are recognisable in traces.
const BRANCH_TAG: &[u8] = b"rl";

/// Methods this relay answers itself when they are addressed to it (RFC 3261 §8.2.1: a 405
/// lists them in Allow).
const ALLOW_HERE: &[u8] = b"OPTIONS, ACK";

/// Counters of one worker's stateless relay: single writer (the worker), read by anyone.
#[derive(Debug, Default)]
#[repr(align(128))]
pub struct StatelessCounters {
    /// Requests forwarded to a next hop.
    pub requests_relayed: AtomicU64,
    /// Responses forwarded to the previous hop.
    pub responses_relayed: AtomicU64,
    /// OPTIONS addressed to us, answered 200.
    pub options_answered: AtomicU64,
    /// Datagrams that failed to parse or validate (each request among them was answered).
    pub parse_errors: AtomicU64,
    /// Error responses we generated (4xx/5xx), including those for parse errors.
    pub errors_answered: AtomicU64,
    /// Responses whose top Via is not ours (RFC 3261 §18.1.2: discarded).
    pub drop_not_ours: AtomicU64,
    /// Responses with no second Via, or one we cannot route (a host name), dropped.
    pub drop_unroutable: AtomicU64,
    /// Malformed datagrams nobody can be answered for (unparseable responses, junk, ACKs).
    pub drop_malformed: AtomicU64,
    /// CRLF keep-alives.
    pub keepalives: AtomicU64,
}

impl StatelessCounters {
    fn bump(field: &AtomicU64) {
        // Single writer: a plain load and store cannot lose an update.
        field.store(field.load(Relaxed) + 1, Relaxed);
    }
}

/// One worker's stateless relay.
pub struct StatelessProxy {
    /// Our listening addresses, indexed by `ListenerId`.
    listeners: Vec<SocketAddr>,
    /// The sent-by text of each listener's Via (`ip:port`, IPv6 in brackets).
    via_hosts: Vec<Vec<u8>>,
    counters: Arc<StatelessCounters>,
    branch: Vec<u8>,
    tag: Vec<u8>,
}

/// Where a request goes next, or why it cannot.
enum NextHop {
    Addr(SocketAddr),
    /// A host name: this relay does no DNS.
    Name,
    /// The target is one of our own listeners (a user at our address: no location service).
    Us,
    /// `sips:` or a non-UDP transport: not served by a UDP relay.
    Transport,
}

impl StatelessProxy {
    /// A relay serving `listeners` (the addresses actually bound, in `ListenerId` order).
    pub fn new(listeners: Vec<SocketAddr>) -> StatelessProxy {
        let via_hosts = listeners
            .iter()
            .map(|a| host_text(a.ip()).into_bytes())
            .collect();
        StatelessProxy {
            listeners,
            via_hosts,
            counters: Arc::new(StatelessCounters::default()),
            branch: Vec::with_capacity(64),
            tag: Vec::with_capacity(32),
        }
    }

    /// This worker's counters (keep a clone to read them while the relay runs).
    pub fn counters(&self) -> Arc<StatelessCounters> {
        self.counters.clone()
    }

    fn on_request(&mut self, inc: &Incoming<'_>, msg: &Message<'_>, out: &mut Outbox) {
        let is_ack = msg.method() == Some(Method::Ack);
        // Validation parses the Request-URI and the top Via: relaying takes them from it
        // (the Request-URI is parsed apart only for a refused request).
        let checked = sip::check_request(msg, None);
        let for_us = match &checked {
            Ok(c) => Some(c.request_uri),
            Err(_) => msg.request_uri_parsed().and_then(Result::ok),
        }
        .is_some_and(|u| self.addressed_to_us(&u));
        if let Err(rej) = &checked {
            // RFC 3261 §16.3 step 3: an OPTIONS for the proxy itself is answered even when
            // Max-Forwards is exhausted.
            let options_here = for_us && rej.status == 483 && msg.method() == Some(Method::Options);
            if !options_here {
                if rej.status != 483 {
                    StatelessCounters::bump(&self.counters.parse_errors);
                }
                if is_ack {
                    // RFC 3261 §17: an ACK is never answered.
                    StatelessCounters::bump(&self.counters.drop_malformed);
                    return;
                }
                let unsupported;
                let extra: &[(HeaderName<'_>, &[u8])] = match rej.unsupported {
                    Some(tag) => {
                        unsupported = [(HeaderName::Unsupported, tag)];
                        &unsupported
                    }
                    None => &[],
                };
                self.reply(inc, msg, rej.status, rej.reason, extra, out);
                return;
            }
        }
        if let Err(rej) = sip::check_proxy_require(msg, &[]) {
            if !is_ack {
                let tag = rej.unsupported.unwrap_or(b"");
                self.reply(
                    inc,
                    msg,
                    420,
                    rej.reason,
                    &[(HeaderName::Unsupported, tag)],
                    out,
                );
            }
            return;
        }

        if for_us {
            match msg.method() {
                Some(Method::Options) => {
                    StatelessCounters::bump(&self.counters.options_answered);
                    let headers = [
                        (HeaderName::Allow, ALLOW_HERE),
                        (HeaderName::Accept, &b"application/sdp"[..]),
                    ];
                    self.reply(inc, msg, 200, "OK", &headers, out);
                }
                // An ACK for a response we generated ends there (RFC 3261 §17.2.1).
                Some(Method::Ack) => {}
                _ => self.reply(
                    inc,
                    msg,
                    405,
                    "Method Not Allowed",
                    &[(HeaderName::Allow, ALLOW_HERE)],
                    out,
                ),
            }
            return;
        }
        self.relay_request(inc, msg, checked.as_ref().ok(), is_ack, out);
    }

    /// RFC 3261 §16.11 with §16.6 steps 3, 4 (no Record-Route: a stateless relay need not
    /// stay on the path), 6/7 (next hop from Route or Request-URI) and 8 (our Via).
    fn relay_request(
        &mut self,
        inc: &Incoming<'_>,
        msg: &Message<'_>,
        checked: Option<&sip::CheckedRequest<'_>>,
        is_ack: bool,
        out: &mut Outbox,
    ) {
        // §16.4: a top Route naming us is consumed; the next one (if any) is the next hop.
        let mut routes = msg.routes().filter_map(Result::ok);
        let mut top_route_is_us = false;
        let mut next_route = routes.next();
        if let Some(r) = &next_route {
            if self.addressed_to_us_any_user(&r.uri) {
                top_route_is_us = true;
                next_route = routes.next();
            }
        }
        let ruri = match checked {
            Some(c) => Some(Ok(c.request_uri)),
            None => msg.request_uri_parsed(),
        };
        let target = match (&next_route, ruri) {
            (Some(r), _) => self.next_hop(&r.uri),
            (None, Some(Ok(u))) => self.next_hop(&u),
            // validate_request has already refused a request without a parseable URI.
            _ => return,
        };
        let dest = match target {
            NextHop::Addr(a) => a,
            NextHop::Name => {
                if !is_ack {
                    let w: &[u8] =
                        b"399 ringlet \"host names are not resolved: use a numeric address\"";
                    self.reply(
                        inc,
                        msg,
                        502,
                        "Bad Gateway (no DNS)",
                        &[(HeaderName::Warning, w)],
                        out,
                    );
                }
                return;
            }
            NextHop::Us => {
                if !is_ack {
                    self.reply(inc, msg, 404, "Not Found", &[], out);
                }
                return;
            }
            NextHop::Transport => {
                if !is_ack {
                    self.reply(inc, msg, 416, "Unsupported URI Scheme", &[], out);
                }
                return;
            }
        };
        let Some(local) = self.listener_for(dest, inc.local) else {
            if !is_ack {
                let w: &[u8] = b"399 ringlet \"no listener of the destination's address family\"";
                self.reply(
                    inc,
                    msg,
                    502,
                    "Bad Gateway",
                    &[(HeaderName::Warning, w)],
                    out,
                );
            }
            return;
        };
        let top_via = match checked {
            Some(c) => c.top_via,
            None => match msg.top_via() {
                Ok(v) => v,
                Err(_) => return,
            },
        };
        self.compute_branch(msg, &top_via);

        let listener = self.listeners[local as usize];
        let via_host = &self.via_hosts[local as usize];
        let mut edits = Edits::new();
        if top_via.needs_received(inc.src.ip()) {
            edits.set_received(msg, inc.src.ip(), inc.src.port());
        }
        edits.push_via(
            msg,
            NewVia {
                transport: b"UDP",
                host: via_host,
                port: Some(listener.port()),
                branch: &self.branch,
                rport: false,
            },
        );
        if top_route_is_us {
            edits.remove_top_route(msg);
        }
        edits.decrement_max_forwards(msg);
        let mut result = Ok(0);
        out.send_with(local, dest, |buf| result = edits.write(msg, buf));
        match result {
            Ok(_) => StatelessCounters::bump(&self.counters.requests_relayed),
            Err(sip::WriteError::MaxForwardsExhausted) if !is_ack => {
                self.reply(inc, msg, 483, "Too Many Hops", &[], out)
            }
            Err(_) if !is_ack => self.reply(inc, msg, 500, "Server Internal Error", &[], out),
            Err(_) => StatelessCounters::bump(&self.counters.drop_malformed),
        }
    }

    /// RFC 3261 §16.11 (responses) and §18.2.2 with RFC 3581 §4: strip our Via, send to
    /// the next Via's received/rport, or its sent-by.
    fn on_response(&mut self, inc: &Incoming<'_>, msg: &Message<'_>, out: &mut Outbox) {
        if sip::validate_response(msg).is_err() {
            StatelessCounters::bump(&self.counters.parse_errors);
            StatelessCounters::bump(&self.counters.drop_malformed);
            return;
        }
        let mut vias = msg.vias();
        let ours = matches!(vias.next(), Some(Ok(v)) if self.via_is_ours(&v));
        if !ours {
            // §18.1.2: a response whose top Via is not ours is discarded.
            StatelessCounters::bump(&self.counters.drop_not_ours);
            return;
        }
        if msg.status() == Some(100) {
            // §16.7 step 5: 100 (Trying) is hop by hop, never forwarded.
            return;
        }
        let Some(Ok(next)) = vias.next() else {
            StatelessCounters::bump(&self.counters.drop_unroutable);
            return;
        };
        let Some(dest) = response_destination(&next) else {
            StatelessCounters::bump(&self.counters.drop_unroutable);
            return;
        };
        let Some(local) = self.listener_for(dest, inc.local) else {
            StatelessCounters::bump(&self.counters.drop_unroutable);
            return;
        };
        let mut edits = Edits::new();
        edits.strip_top_via(msg);
        let mut result = Ok(0);
        out.send_with(local, dest, |buf| result = edits.write(msg, buf));
        match result {
            Ok(_) => StatelessCounters::bump(&self.counters.responses_relayed),
            Err(_) => StatelessCounters::bump(&self.counters.drop_malformed),
        }
    }

    /// Answer `msg` ourselves with `status` and `reason`.
    fn reply(
        &mut self,
        inc: &Incoming<'_>,
        msg: &Message<'_>,
        status: u16,
        reason: &str,
        headers: &[(HeaderName<'_>, &[u8])],
        out: &mut Outbox,
    ) {
        if status >= 300 {
            StatelessCounters::bump(&self.counters.errors_answered);
        }
        self.compute_tag(msg);
        let dest = reply_destination(msg, inc.src);
        let reply = Reply::new(status, reason)
            .with_to_tag(&self.tag)
            .with_headers(headers);
        out.send_with(inc.local, dest, |buf| {
            // Only fails for a response, and `msg` is a request here.
            let _ = sip::write_response(msg, &reply, buf);
        });
    }

    /// A datagram that `sip::parse` refused: answer 400 (or what the error says) with the
    /// reason, if enough of it frames as a request to build a response.
    fn on_unparseable(&mut self, inc: &Incoming<'_>, err: sip::ParseError, out: &mut Outbox) {
        StatelessCounters::bump(&self.counters.parse_errors);
        match sip::parse_for_reply(inc.bytes) {
            Ok(msg)
                if msg.is_request()
                    && msg.method() != Some(Method::Ack)
                    && msg.top_via().is_ok() =>
            {
                self.reply(inc, &msg, err.status(), err.reason(), &[], out);
            }
            _ => StatelessCounters::bump(&self.counters.drop_malformed),
        }
    }

    /// The Request-URI names this proxy: no user part, host one of our addresses (or
    /// `localhost`), port one of ours (or absent: 5060).
    fn addressed_to_us(&self, uri: &Uri<'_>) -> bool {
        uri.user.is_none() && self.addressed_to_us_any_user(uri)
    }

    fn addressed_to_us_any_user(&self, uri: &Uri<'_>) -> bool {
        if !matches!(uri.scheme, Scheme::Sip | Scheme::Sips) {
            return false;
        }
        let port = uri.port.unwrap_or(DEFAULT_SIP_PORT);
        match host_ip(&uri.host) {
            Some(ip) => self.is_our_address(SocketAddr::new(ip, port)),
            None => {
                matches!(uri.host, Host::Name(n) if n.eq_ignore_ascii_case(b"localhost"))
                    && self
                        .listeners
                        .iter()
                        .any(|l| l.port() == port && l.ip().is_loopback())
            }
        }
    }

    fn is_our_address(&self, a: SocketAddr) -> bool {
        self.listeners.iter().any(|l| {
            l.port() == a.port()
                && (l.ip() == a.ip()
                    || (l.ip().is_unspecified()
                        && a.ip().is_loopback()
                        && l.is_ipv4() == a.is_ipv4()))
        })
    }

    /// RFC 3261 §18.1.2: our Via has our address as sent-by.
    fn via_is_ours(&self, via: &Via<'_>) -> bool {
        let port = via.port.unwrap_or(DEFAULT_SIP_PORT);
        via.host_kind()
            .as_ref()
            .and_then(host_ip)
            .is_some_and(|ip| self.is_our_address(SocketAddr::new(ip, port)))
            && via.branch.is_some_and(|b| {
                b.starts_with(BRANCH_MAGIC_COOKIE)
                    && b[BRANCH_MAGIC_COOKIE.len()..].starts_with(BRANCH_TAG)
            })
    }

    fn next_hop(&self, uri: &Uri<'_>) -> NextHop {
        if uri.scheme != Scheme::Sip {
            return NextHop::Transport;
        }
        if uri
            .transport()
            .is_some_and(|t| !t.eq_ignore_ascii_case(b"udp"))
        {
            return NextHop::Transport;
        }
        // RFC 3261 §16.5/§19.1.1: maddr overrides the host.
        let host = match uri.maddr().and_then(Host::parse) {
            Some(h) => h,
            None => uri.host,
        };
        let Some(ip) = host_ip(&host) else {
            return NextHop::Name;
        };
        let addr = SocketAddr::new(ip, uri.port.unwrap_or(DEFAULT_SIP_PORT));
        if self.is_our_address(addr) {
            NextHop::Us
        } else {
            NextHop::Addr(addr)
        }
    }

    /// The listener to send to `dest` from: the one the datagram came in on when the
    /// address family matches, else the first of the right family.
    fn listener_for(&self, dest: SocketAddr, arrived_on: ListenerId) -> Option<ListenerId> {
        let same = |l: &SocketAddr| l.is_ipv4() == dest.is_ipv4();
        if self.listeners.get(arrived_on as usize).is_some_and(same) {
            return Some(arrived_on);
        }
        self.listeners
            .iter()
            .position(same)
            .map(|i| i as ListenerId)
    }

    /// RFC 3261 §16.11: a hash of the received branch when it is an RFC 3261 one, else of
    /// the top Via, To and From tags, Call-ID, CSeq number and Request-URI.
    fn compute_branch(&mut self, msg: &Message<'_>, top_via: &Via<'_>) {
        let mut h = Fnv64::new();
        if top_via.is_rfc3261_branch() {
            h.write(b"b");
            h.write(top_via.branch.unwrap_or(b""));
        } else {
            h.write(b"v");
            h.write(top_via.raw);
            h.write(msg.to_tag().ok().flatten().unwrap_or(b""));
            h.write(msg.from_tag().ok().flatten().unwrap_or(b""));
            h.write(msg.call_id().unwrap_or(b""));
            h.write(&msg.cseq().map(|c| c.seq).unwrap_or(0).to_be_bytes());
            h.write(msg.request_uri().unwrap_or(b""));
        }
        self.branch.clear();
        self.branch.extend_from_slice(BRANCH_MAGIC_COOKIE);
        self.branch.extend_from_slice(BRANCH_TAG);
        push_hex(&mut self.branch, h.finish());
    }

    /// A To tag that is the same for every retransmission of the request.
    fn compute_tag(&mut self, msg: &Message<'_>) {
        let mut h = Fnv64::new();
        h.write(msg.call_id().unwrap_or(b""));
        h.write(msg.from_tag().ok().flatten().unwrap_or(b""));
        h.write(&msg.cseq().map(|c| c.seq).unwrap_or(0).to_be_bytes());
        h.write(msg.top_via_branch().ok().flatten().unwrap_or(b""));
        self.tag.clear();
        self.tag.extend_from_slice(b"rl");
        push_hex(&mut self.tag, h.finish());
    }
}

impl Endpoint for StatelessProxy {
    fn on_datagram(&mut self, _now: Instant, inc: Incoming<'_>, out: &mut Outbox) {
        if inc
            .bytes
            .iter()
            .all(|b| matches!(b, b'\r' | b'\n' | b' ' | b'\t'))
        {
            StatelessCounters::bump(&self.counters.keepalives);
            return;
        }
        match sip::parse(inc.bytes) {
            Ok(msg) if msg.is_request() => self.on_request(&inc, &msg, out),
            Ok(msg) => self.on_response(&inc, &msg, out),
            Err(e) => self.on_unparseable(&inc, e, out),
        }
    }

    fn on_timeout(&mut self, _now: Instant, _out: &mut Outbox) {}

    /// A stateless relay has no timers.
    fn next_timeout(&self) -> Option<Instant> {
        None
    }
}

/// RFC 3261 §18.2.2 for unreliable transports, with RFC 3581 §4: a response goes to the
/// source address; the port is the source port when the client asked for rport, else
/// the Via's sent-by port (5060 when absent).
fn reply_destination(msg: &Message<'_>, src: SocketAddr) -> SocketAddr {
    match msg.top_via() {
        Ok(v) if v.rport.is_none() => SocketAddr::new(src.ip(), v.port.unwrap_or(DEFAULT_SIP_PORT)),
        _ => src,
    }
}

/// Where to send a response whose next Via is `via` (RFC 3581 §4, RFC 3261 §18.2.2):
/// `received` (else the sent-by host, when numeric) and `rport=N` (else the sent-by port).
fn response_destination(via: &Via<'_>) -> Option<SocketAddr> {
    let ip = match via.received {
        Some(r) => Host::parse(r)
            .as_ref()
            .and_then(host_ip)
            .or_else(|| parse_ip(r))?,
        None => host_ip(&via.host_kind()?)?,
    };
    let port = match via.rport {
        Some(RPort::Port(p)) => p,
        _ => via.port.unwrap_or(DEFAULT_SIP_PORT),
    };
    Some(SocketAddr::new(ip, port))
}

fn host_ip(h: &Host<'_>) -> Option<IpAddr> {
    match h {
        Host::Ipv4(a) => Some(IpAddr::V4(*a)),
        Host::Ipv6(text) => std::str::from_utf8(text)
            .ok()?
            .parse::<Ipv6Addr>()
            .ok()
            .map(IpAddr::V6),
        _ => None,
    }
}

/// `received` may carry an IPv6 address without brackets (RFC 3261 §20.42 allows both).
fn parse_ip(b: &[u8]) -> Option<IpAddr> {
    std::str::from_utf8(b).ok()?.parse().ok()
}

/// The host text of a Via sent-by: IPv6 in brackets.
fn host_text(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(a) => a.to_string(),
        IpAddr::V6(a) => format!("[{a}]"),
    }
}

fn push_hex(out: &mut Vec<u8>, v: u64) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for i in (0..16).rev() {
        out.push(HEX[((v >> (i * 4)) & 0xf) as usize]);
    }
}

/// FNV-1a, 64 bit: deterministic across workers, processes and restarts (unlike the
/// std hasher, whose keys may change), which §16.11 branch stability needs.
struct Fnv64(u64);

impl Fnv64 {
    fn new() -> Fnv64 {
        Fnv64(0xcbf2_9ce4_8422_2325)
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
        // A separator, so ("ab","c") and ("a","bc") differ.
        self.0 ^= 0xff;
        self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const US: &str = "127.0.0.1:5070";

    fn proxy() -> StatelessProxy {
        StatelessProxy::new(vec![US.parse().unwrap(), "[::1]:5070".parse().unwrap()])
    }

    fn feed(
        p: &mut StatelessProxy,
        src: &str,
        bytes: &[u8],
    ) -> Vec<(SocketAddr, ListenerId, Vec<u8>)> {
        let mut out = Outbox::new();
        let inc = Incoming {
            local: 0,
            src: src.parse().unwrap(),
            bytes,
            handed_off: false,
        };
        p.on_datagram(Instant::now(), inc, &mut out);
        out.transmits()
            .map(|(t, b)| (t.dest, t.local, b.to_vec()))
            .collect()
    }

    fn invite(ruri: &str, branch: &str) -> String {
        format!(
            "INVITE {ruri} SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch={branch}\r\n\
             Max-Forwards: 3\r\nFrom: <sip:a@10.0.0.1>;tag=1\r\nTo: <sip:b@127.0.0.2>\r\n\
             Call-ID: c1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
        )
    }

    #[test]
    fn relayed_request_gets_our_via_a_stable_branch_and_received() {
        let mut p = proxy();
        let sent = feed(
            &mut p,
            "127.0.0.9:4000",
            invite("sip:b@127.0.0.2:5080", "z9hG4bKabc").as_bytes(),
        );
        assert_eq!(sent.len(), 1);
        let (dest, local, bytes) = &sent[0];
        assert_eq!((dest.to_string().as_str(), *local), ("127.0.0.2:5080", 0));
        let m = sip::parse(bytes).unwrap();
        let vias: Vec<Via<'_>> = m.vias().map(|v| v.unwrap()).collect();
        assert_eq!(vias[0].host, b"127.0.0.1");
        assert_eq!(vias[0].port, Some(5070));
        assert_eq!(
            vias[1].received,
            Some(&b"127.0.0.9"[..]),
            "RFC 3261 §18.2.1: source differs from sent-by"
        );
        assert_eq!(m.max_forwards().unwrap(), Some(2));
        // Same incoming branch, same outgoing branch; another incoming branch, another one.
        let again = feed(
            &mut p,
            "127.0.0.9:4000",
            invite("sip:b@127.0.0.2:5080", "z9hG4bKabc").as_bytes(),
        );
        assert_eq!(again[0].2, *bytes);
        let other = feed(
            &mut p,
            "127.0.0.9:4000",
            invite("sip:b@127.0.0.2:5080", "z9hG4bKabd").as_bytes(),
        );
        let b1 = vias[0].branch.unwrap().to_vec();
        let m2 = sip::parse(&other[0].2).unwrap();
        assert_ne!(m2.top_via().unwrap().branch.unwrap(), &b1[..]);
    }

    #[test]
    fn rfc2543_branches_hash_the_transaction_fields() {
        let mut p = proxy();
        let a = feed(
            &mut p,
            "10.0.0.1:5060",
            invite("sip:b@127.0.0.2", "old1").as_bytes(),
        );
        let b = feed(
            &mut p,
            "10.0.0.1:5060",
            invite("sip:b@127.0.0.2", "old1").as_bytes(),
        );
        let c = feed(
            &mut p,
            "10.0.0.1:5060",
            invite("sip:b@127.0.0.2", "old1")
                .replace("CSeq: 1", "CSeq: 2")
                .as_bytes(),
        );
        assert_eq!(a[0].2, b[0].2, "a retransmission gets the same branch");
        let branch = |x: &[u8]| {
            sip::parse(x)
                .unwrap()
                .top_via()
                .unwrap()
                .branch
                .unwrap()
                .to_vec()
        };
        assert_ne!(
            branch(&a[0].2),
            branch(&c[0].2),
            "another CSeq, another transaction"
        );
        assert_eq!(a[0].0.port(), 5060, "no port in the URI: 5060");
    }

    fn response(status: u16, vias: &[&str]) -> String {
        let mut s = format!("SIP/2.0 {status} Whatever\r\n");
        for v in vias {
            s.push_str(&format!("Via: {v}\r\n"));
        }
        s.push_str("From: <sip:a@10.0.0.1>;tag=1\r\nTo: <sip:b@127.0.0.2>;tag=2\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n");
        s
    }

    #[test]
    fn responses_follow_received_and_rport() {
        let mut p = proxy();
        let ours = "SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKrl0123456789abcdef";
        let sent = feed(
            &mut p,
            "127.0.0.2:5080",
            response(
                180,
                &[
                    ours,
                    "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKx;received=192.0.2.7;rport=6001",
                ],
            )
            .as_bytes(),
        );
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].0, "192.0.2.7:6001".parse().unwrap());
        let m = sip::parse(&sent[0].2).unwrap();
        assert_eq!(m.vias().count(), 1);
        assert_eq!(m.top_via().unwrap().branch, Some(&b"z9hG4bKx"[..]));
        // Without received/rport: the sent-by.
        let sent = feed(
            &mut p,
            "127.0.0.2:5080",
            response(200, &[ours, "SIP/2.0/UDP 10.0.0.1:5061;branch=z9hG4bKx"]).as_bytes(),
        );
        assert_eq!(sent[0].0, "10.0.0.1:5061".parse().unwrap());
    }

    #[test]
    fn foreign_vias_100_trying_and_lone_vias_are_not_forwarded() {
        let mut p = proxy();
        let ours = "SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKrl0123456789abcdef";
        let theirs = "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKx";
        assert!(feed(
            &mut p,
            "127.0.0.2:1",
            response(200, &[theirs, theirs]).as_bytes()
        )
        .is_empty());
        assert!(feed(
            &mut p,
            "127.0.0.2:1",
            response(100, &[ours, theirs]).as_bytes()
        )
        .is_empty());
        assert!(feed(&mut p, "127.0.0.2:1", response(200, &[ours]).as_bytes()).is_empty());
        let c = p.counters();
        assert_eq!(c.drop_not_ours.load(Relaxed), 1);
        assert_eq!(c.drop_unroutable.load(Relaxed), 1);
        assert_eq!(c.responses_relayed.load(Relaxed), 0);
    }

    #[test]
    fn options_for_us_is_answered_and_its_to_tag_is_stable() {
        let mut p = proxy();
        let opt = format!(
            "OPTIONS sip:{US} SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5062;branch=z9hG4bKo1\r\n\
             From: <sip:a@10.0.0.1>;tag=1\r\nTo: <sip:{US}>\r\nCall-ID: o1\r\nCSeq: 7 OPTIONS\r\n\r\n"
        );
        let a = feed(&mut p, "10.0.0.1:40000", opt.as_bytes());
        let b = feed(&mut p, "10.0.0.1:40000", opt.as_bytes());
        assert_eq!(a.len(), 1);
        assert_eq!(
            a[0].0,
            "10.0.0.1:5062".parse().unwrap(),
            "no rport: the sent-by port (RFC 3261 §18.2.2)"
        );
        assert_eq!(a[0].2, b[0].2, "a retransmission gets the same answer");
        let m = sip::parse(&a[0].2).unwrap();
        assert_eq!(m.status(), Some(200));
        assert!(m.header(HeaderName::Allow).is_some());
        // localhost and the IPv6 listener are us too; a REGISTER for us is 405.
        let local = opt.replace(&format!("sip:{US} SIP"), "sip:localhost:5070 SIP");
        assert_eq!(
            sip::parse(&feed(&mut p, "10.0.0.1:40000", local.as_bytes())[0].2)
                .unwrap()
                .status(),
            Some(200)
        );
        let v6 = opt.replace(&format!("sip:{US} SIP"), "sip:[::1]:5070 SIP");
        assert_eq!(
            sip::parse(&feed(&mut p, "10.0.0.1:40000", v6.as_bytes())[0].2)
                .unwrap()
                .status(),
            Some(200)
        );
        let reg = opt.replace("OPTIONS", "REGISTER");
        assert_eq!(
            sip::parse(&feed(&mut p, "10.0.0.1:40000", reg.as_bytes())[0].2)
                .unwrap()
                .status(),
            Some(405)
        );
        assert_eq!(p.counters().options_answered.load(Relaxed), 4);
    }

    #[test]
    fn ipv6_targets_leave_from_the_ipv6_listener() {
        let mut p = proxy();
        let sent = feed(
            &mut p,
            "127.0.0.9:4000",
            invite("sip:b@[::1]:5090", "z9hG4bK6").as_bytes(),
        );
        assert_eq!(sent[0].0, "[::1]:5090".parse().unwrap());
        assert_eq!(sent[0].1, 1, "the IPv6 listener");
        let m = sip::parse(&sent[0].2).unwrap();
        assert_eq!(m.top_via().unwrap().host, b"[::1]");
    }

    #[test]
    fn acks_are_never_answered_and_keepalives_are_ignored() {
        let mut p = proxy();
        let ack = invite("sip:b@example.com", "z9hG4bKa").replace("INVITE", "ACK");
        assert!(
            feed(&mut p, "10.0.0.1:5060", ack.as_bytes()).is_empty(),
            "no 502 for an ACK"
        );
        assert!(feed(&mut p, "10.0.0.1:5060", b"\r\n\r\n").is_empty());
        assert_eq!(p.counters().keepalives.load(Relaxed), 1);
        let bad_ack = "ACK sip:b@127.0.0.2 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1\r\n\r\n";
        assert!(feed(&mut p, "10.0.0.1:5060", bad_ack.as_bytes()).is_empty());
    }

    #[test]
    fn max_forwards_one_is_forwarded_as_zero_and_zero_is_refused() {
        let mut p = proxy();
        let one =
            invite("sip:b@127.0.0.2", "z9hG4bKm1").replace("Max-Forwards: 3", "Max-Forwards: 1");
        let sent = feed(&mut p, "10.0.0.1:5060", one.as_bytes());
        assert_eq!(
            sip::parse(&sent[0].2).unwrap().max_forwards().unwrap(),
            Some(0)
        );
        let zero =
            invite("sip:b@127.0.0.2", "z9hG4bKm0").replace("Max-Forwards: 3", "Max-Forwards: 0");
        let sent = feed(&mut p, "10.0.0.1:5060", zero.as_bytes());
        assert_eq!(sent[0].0, "10.0.0.1:5060".parse().unwrap());
        assert_eq!(sip::parse(&sent[0].2).unwrap().status(), Some(483));
    }
}
