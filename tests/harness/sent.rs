//! A datagram the proxy under test sent, how the protocol tests read it, and the delivery
//! and virtual-time loop every harness drives its endpoint with. Shared by the
//! harnesses in this folder (proxy, provider, auth_flow) so that every suite asserts on
//! the same helpers.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Instant;

use ringlet::endpoint::{Endpoint, Incoming, Outbox};
use ringlet::sip::{self, HeaderName, Message};

pub fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// One datagram the proxy sent.
#[derive(Clone, Debug)]
pub struct Sent {
    pub dest: SocketAddr,
    pub bytes: Vec<u8>,
}

impl Sent {
    pub fn msg(&self) -> Message<'_> {
        sip::parse(&self.bytes)
            .unwrap_or_else(|e| panic!("proxy sent unparsable bytes ({e}):\n{}", self.text()))
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }
    pub fn status(&self) -> Option<u16> {
        self.msg().status()
    }
    pub fn reason(&self) -> String {
        String::from_utf8_lossy(self.msg().reason().unwrap_or(b"")).into_owned()
    }
    pub fn method(&self) -> Option<String> {
        self.msg().method().map(|m| m.to_string())
    }
    pub fn ruri(&self) -> String {
        String::from_utf8_lossy(self.msg().request_uri().unwrap_or(b"")).into_owned()
    }
    pub fn is(&self, dest: &str, what: &str) -> bool {
        self.dest == addr(dest) && self.what() == what
    }
    /// "INVITE", "ACK", "180", "200/CANCEL", ...
    pub fn what(&self) -> String {
        let m = self.msg();
        match m.status() {
            Some(code) => {
                let meth = m.cseq().map(|c| c.method.to_string()).unwrap_or_default();
                if meth == "INVITE" {
                    code.to_string()
                } else {
                    format!("{code}/{meth}")
                }
            }
            None => m.method().map(|x| x.to_string()).unwrap_or_default(),
        }
    }
    pub fn header(&self, name: HeaderName<'_>) -> Option<String> {
        self.msg()
            .header(name)
            .map(|v| String::from_utf8_lossy(v).into_owned())
    }
    /// Every line of header `name` (any case), values only.
    pub fn header_lines(&self, name: &str) -> Vec<String> {
        self.text()
            .lines()
            .filter_map(|l| {
                let (n, v) = l.split_once(':')?;
                n.trim()
                    .eq_ignore_ascii_case(name)
                    .then(|| v.trim().to_string())
            })
            .collect()
    }
}

/// Everything queued in `out`, taken out of it.
pub fn drain(out: &mut Outbox) -> Vec<Sent> {
    let v = out
        .transmits()
        .map(|(t, b)| Sent {
            dest: t.dest,
            bytes: b.to_vec(),
        })
        .collect();
    out.clear();
    v
}

/// Hand `bytes` from `from` to `ep` at `now`: what it sent in reaction, and what it handed
/// to other workers (worker, bytes).
pub fn deliver<E: Endpoint>(
    ep: &mut E,
    now: Instant,
    out: &mut Outbox,
    from: &str,
    bytes: &[u8],
    handed_off: bool,
) -> (Vec<Sent>, Vec<(usize, Vec<u8>)>) {
    out.clear();
    let inc = Incoming {
        local: 0,
        src: addr(from),
        bytes,
        handed_off,
    };
    ep.on_datagram(now, inc, out);
    let handoffs = out
        .handoffs()
        .map(|(h, b)| (h.worker, b.to_vec()))
        .collect();
    (drain(out), handoffs)
}

/// Let virtual time run from `*now` to `end`, firing every timer of `ep` on the way;
/// `each(at, sent)` gets what every firing sent.
pub fn run_timers<E: Endpoint>(
    ep: &mut E,
    now: &mut Instant,
    end: Instant,
    out: &mut Outbox,
    mut each: impl FnMut(Instant, Vec<Sent>),
) {
    let mut guard = 0;
    while let Some(next) = ep.next_timeout() {
        if next > end {
            break;
        }
        guard += 1;
        assert!(guard < 100_000, "timer loop does not converge");
        *now = next.max(*now);
        out.clear();
        ep.on_timeout(*now, out);
        each(*now, drain(out));
    }
    *now = end;
    out.clear();
    ep.on_timeout(*now, out);
    each(*now, drain(out));
}
