//! A simulated network around one `StatefulProxy`: fabricated datagrams in, transmits out,
//! virtual time. Shared by the `proxy_*` protocol tests through `#[path]`.
#![allow(dead_code)]

#[path = "sent.rs"]
mod sent;
pub use sent::{addr, Sent};
use sent::{deliver, run_timers};

use std::time::{Duration, Instant};

use ringlet::endpoint::Outbox;
use ringlet::proxy::{ProxyConfig, Router, StatefulProxy};
use ringlet::sip::{self, HeaderName, Reply};

pub const PROXY: &str = "127.0.0.1:5060";
pub const ALICE: &str = "127.0.0.2:5060";
pub const BOB: &str = "127.0.0.3:5060";
pub const CAROL: &str = "127.0.0.4:5060";

pub struct Net<R: Router> {
    pub proxy: StatefulProxy<R>,
    pub now: Instant,
    pub t0: Instant,
    out: Outbox,
}

pub fn config() -> ProxyConfig {
    ProxyConfig {
        listen: vec![addr(PROXY)],
        hostnames: vec!["proxy.test".into()],
        branch_salt: 0x5a17,
        ..ProxyConfig::default()
    }
}

impl<R: Router> Net<R> {
    pub fn new(cfg: ProxyConfig, router: R) -> Self {
        let t0 = Instant::now();
        Net {
            proxy: StatefulProxy::new(cfg, router, t0),
            now: t0,
            t0,
            out: Outbox::new(),
        }
    }

    /// Deliver `bytes` from `from`; what the proxy sent in reaction.
    pub fn send(&mut self, from: &str, bytes: &[u8]) -> Vec<Sent> {
        self.send_with_handoffs(from, bytes).0
    }

    pub fn send_str(&mut self, from: &str, text: &str) -> Vec<Sent> {
        self.send(from, text.as_bytes())
    }

    /// Deliver raw bytes and also return the handoffs (worker, bytes).
    pub fn send_with_handoffs(
        &mut self,
        from: &str,
        bytes: &[u8],
    ) -> (Vec<Sent>, Vec<(usize, Vec<u8>)>) {
        deliver(&mut self.proxy, self.now, &mut self.out, from, bytes, false)
    }

    /// Deliver a datagram another worker handed over.
    pub fn send_handed_off(&mut self, from: &str, bytes: &[u8]) -> Vec<Sent> {
        self.send_handed_off_with_handoffs(from, bytes).0
    }

    pub fn send_handed_off_with_handoffs(
        &mut self,
        from: &str,
        bytes: &[u8],
    ) -> (Vec<Sent>, Vec<(usize, Vec<u8>)>) {
        deliver(&mut self.proxy, self.now, &mut self.out, from, bytes, true)
    }

    /// Let virtual time run for `d`, firing every timer on the way; everything sent, with the
    /// offset from the start of the test at which it was sent.
    pub fn advance(&mut self, d: Duration) -> Vec<(Duration, Sent)> {
        let (t0, end) = (self.t0, self.now + d);
        let mut got = Vec::new();
        run_timers(
            &mut self.proxy,
            &mut self.now,
            end,
            &mut self.out,
            |at, sent| {
                got.extend(sent.into_iter().map(|s| (at - t0, s)));
            },
        );
        got
    }
}

/// An INVITE from Alice to `ruri`.
pub fn invite(ruri: &str, call: &str, branch: &str) -> String {
    request("INVITE", ruri, call, branch, 1, None, &[])
}

/// A request from Alice (sent-by 127.0.0.2:5060).
pub fn request(
    method: &str,
    ruri: &str,
    call: &str,
    branch: &str,
    cseq: u32,
    to_tag: Option<&str>,
    extra: &[&str],
) -> String {
    let to_tag = to_tag.map(|t| format!(";tag={t}")).unwrap_or_default();
    let mut s = format!(
        "{method} {ruri} SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.2:5060;branch={branch};rport\r\n\
         Max-Forwards: 70\r\n\
         From: Alice <sip:alice@proxy.test>;tag=a1\r\n\
         To: Bob <sip:bob@proxy.test>{to_tag}\r\n\
         Call-ID: {call}\r\n\
         CSeq: {cseq} {method}\r\n\
         Contact: <sip:alice@127.0.0.2:5060>\r\n"
    );
    for e in extra {
        s.push_str(e);
        s.push_str("\r\n");
    }
    s.push_str("Content-Length: 0\r\n\r\n");
    s
}

/// A CANCEL for the INVITE made by [`invite`].
pub fn cancel(ruri: &str, call: &str, branch: &str) -> String {
    format!(
        "CANCEL {ruri} SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.2:5060;branch={branch};rport\r\n\
         Max-Forwards: 70\r\n\
         From: Alice <sip:alice@proxy.test>;tag=a1\r\n\
         To: Bob <sip:bob@proxy.test>\r\n\
         Call-ID: {call}\r\n\
         CSeq: 1 CANCEL\r\n\
         Content-Length: 0\r\n\r\n"
    )
}

/// The ACK Alice sends for a non-2xx final response (same branch as the INVITE).
pub fn ack_non2xx(ruri: &str, call: &str, branch: &str, resp: &Sent) -> String {
    let to = resp.header(HeaderName::To).unwrap();
    format!(
        "ACK {ruri} SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.2:5060;branch={branch};rport\r\n\
         Max-Forwards: 70\r\n\
         From: Alice <sip:alice@proxy.test>;tag=a1\r\n\
         To: {to}\r\n\
         Call-ID: {call}\r\n\
         CSeq: 1 ACK\r\n\
         Content-Length: 0\r\n\r\n"
    )
}

/// The response of a UAS to a request it received (`to_tag` added when the To has none).
pub fn respond(
    req: &Sent,
    code: u16,
    reason: &str,
    to_tag: &str,
    extra: &[(HeaderName<'static>, &'static [u8])],
) -> Vec<u8> {
    let m = req.msg();
    let mut out = Vec::new();
    let reply = Reply::new(code, reason)
        .with_to_tag(to_tag.as_bytes())
        .with_headers(extra);
    sip::write_response(&m, &reply, &mut out).unwrap();
    out
}

/// Assert exactly one datagram was sent matching `dest` and `what`, and return it.
pub fn one(sent: &[Sent], dest: &str, what: &str) -> Sent {
    let hits: Vec<&Sent> = sent.iter().filter(|s| s.is(dest, what)).collect();
    assert_eq!(
        hits.len(),
        1,
        "expected one {what} to {dest}, got: {:?}",
        sent.iter()
            .map(|s| format!("{} -> {}", s.what(), s.dest))
            .collect::<Vec<_>>()
    );
    hits[0].clone()
}

pub fn summary(sent: &[Sent]) -> Vec<String> {
    sent.iter()
        .map(|s| format!("{}>{}", s.what(), s.dest))
        .collect()
}
