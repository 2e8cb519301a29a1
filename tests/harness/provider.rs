//! A simulated network around one `StatefulProxy<ProviderRouter>`: a forwarding table from
//! text, fabricated phones, virtual time. Shared by the `provider_*` tests through `#[path]`.
#![allow(dead_code)]

#[path = "sent.rs"]
mod sent;
pub use sent::{addr, Sent};
use sent::{deliver, run_timers};

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ringlet::endpoint::Outbox;
use ringlet::proxy::provider::{build_proxy, ProviderConfig, ProviderRouter, ProviderShared};
use ringlet::proxy::{ProxyConfig, StatefulProxy};
use ringlet::registrar::RegistrarConfig;
use ringlet::sip::{self, HeaderName, Reply};
use ringlet::table::{ForwardingSnapshot, TableHandle};

pub const PROXY: &str = "127.0.0.1:5060";
pub const ALICE: &str = "127.0.0.2:5060";
pub const BOB1: &str = "127.0.0.3:5060";
pub const BOB2: &str = "127.0.0.4:5060";
pub const CAROL1: &str = "127.0.0.5:5060";
pub const CAROL2: &str = "127.0.0.6:5060";
pub const DAVE: &str = "127.0.0.7:5060";
pub const ERIN: &str = "127.0.0.8:5060";
pub const VM: &str = "127.0.0.9:5070";
pub const EXTERNAL: &str = "127.0.0.60:5060";
pub const GW1: &str = "127.0.0.20:5060";
pub const GW2: &str = "127.0.0.21:5060";
pub const PEER: &str = "127.0.0.30:5060";

const HA1: &str = "md5=00000000000000000000000000000000";

/// The table most tests use. carol: busy and no answer (15 s) to voicemail, unavailable to
/// voicemail; dave: always to bob; erin: busy to frank, frank: always to bob.
pub fn table_text() -> String {
    format!(
        "domain example.test\n\
         international-prefix 00\n\
         user alice@example.test {HA1} groups=pstn,international\n\
         user bob@example.test {HA1} groups=pstn\n\
         user carol@example.test {HA1}\n\
         user dave@example.test {HA1}\n\
         user erin@example.test {HA1}\n\
         user frank@example.test {HA1}\n\
         user gone@example.test {HA1} enabled=no\n\
         alias robert@example.test bob@example.test\n\
         did 4930555 bob@example.test\n\
         forward carol@example.test busy sip:vm@127.0.0.9:5070\n\
         forward carol@example.test no-answer sip:vm@127.0.0.9:5070 timeout=15\n\
         forward carol@example.test unavailable sip:vm@127.0.0.9:5070\n\
         forward dave@example.test always sip:bob@example.test\n\
         forward erin@example.test busy sip:frank@example.test\n\
         forward frank@example.test always sip:bob@example.test\n\
         voicemail default sip:vm@127.0.0.9:5070\n\
         gateway gw1 127.0.0.20:5060\n\
         gateway gw2 127.0.0.21:5060\n\
         route 49 gw1 gw2\n\
         route * gw1\n\
         peer 127.0.0.30\n"
    )
}

pub struct Net {
    pub proxy: StatefulProxy<ProviderRouter>,
    pub shared: Arc<ProviderShared>,
    pub now: Instant,
    pub t0: Instant,
    out: Outbox,
    seq: u32,
}

pub fn proxy_config() -> ProxyConfig {
    ProxyConfig {
        listen: vec![addr(PROXY)],
        branch_salt: 0x5a17,
        ..ProxyConfig::default()
    }
}

impl Net {
    pub fn new() -> Self {
        Self::with(&table_text(), ProviderConfig::default())
    }

    pub fn with(table: &str, cfg: ProviderConfig) -> Self {
        let t0 = Instant::now();
        let snap = ForwardingSnapshot::parse(table, Path::new("test.table"))
            .unwrap_or_else(|e| panic!("{e}"));
        let shared = Arc::new(ProviderShared::new(
            TableHandle::new(snap),
            &RegistrarConfig::in_memory(),
            cfg,
            proxy_config(),
            t0,
        ));
        let proxy = build_proxy(0, 1, &[addr(PROXY)], &shared, t0);
        Net {
            proxy,
            shared,
            now: t0,
            t0,
            out: Outbox::new(),
            seq: 0,
        }
    }

    /// Replace the table (what a reload does).
    pub fn load_table(&mut self, table: &str) {
        let snap = ForwardingSnapshot::parse(table, Path::new("test.table"))
            .unwrap_or_else(|e| panic!("{e}"));
        self.shared.table.store(snap);
    }

    /// Deliver `bytes` from `from`; what the proxy sent in reaction.
    pub fn send(&mut self, from: &str, bytes: &[u8]) -> Vec<Sent> {
        deliver(&mut self.proxy, self.now, &mut self.out, from, bytes, false).0
    }

    pub fn send_str(&mut self, from: &str, text: &str) -> Vec<Sent> {
        self.send(from, text.as_bytes())
    }

    /// Let virtual time run for `d`, firing every timer on the way.
    pub fn advance(&mut self, d: Duration) -> Vec<Sent> {
        let end = self.now + d;
        let mut got = Vec::new();
        run_timers(
            &mut self.proxy,
            &mut self.now,
            end,
            &mut self.out,
            |_, sent| got.extend(sent),
        );
        got
    }

    /// REGISTER `user@example.test` with a contact at `at` (sent from `at`); the answer.
    pub fn register(&mut self, user: &str, at: &str, q: Option<&str>) -> Sent {
        self.seq += 1;
        let q = q.map(|q| format!(";q={q}")).unwrap_or_default();
        let text = format!(
            "REGISTER sip:example.test SIP/2.0\r\n\
             Via: SIP/2.0/UDP {at};branch=z9hG4bKreg{seq};rport\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:{user}@example.test>;tag=r{seq}\r\n\
             To: <sip:{user}@example.test>\r\n\
             Call-ID: reg-{user}-{at}\r\n\
             CSeq: {seq} REGISTER\r\n\
             Contact: <sip:{user}@{at}>{q}\r\n\
             Expires: 3600\r\n\
             Content-Length: 0\r\n\r\n",
            seq = self.seq
        );
        let sent = self.send_str(at, &text);
        assert_eq!(sent.len(), 1, "{:?}", summary(&sent));
        sent[0].clone()
    }

    /// Forget the transactions in flight: run the clock far ahead (every timer fires).
    pub fn settle(&mut self) -> Vec<Sent> {
        self.advance(Duration::from_secs(400))
    }

    pub fn contexts(&self) -> usize {
        self.proxy.router().live_contexts()
    }
}

impl Default for Net {
    fn default() -> Self {
        Self::new()
    }
}

/// A call: one INVITE from `from_user` at `from_addr` to `ruri`, with its CANCEL and ACK.
#[derive(Clone)]
pub struct Call {
    pub from_user: String,
    pub from_addr: String,
    pub ruri: String,
    pub call_id: String,
    pub branch: String,
}

impl Call {
    pub fn new(from_user: &str, from_addr: &str, ruri: &str, call_id: &str) -> Self {
        Call {
            from_user: from_user.into(),
            from_addr: from_addr.into(),
            ruri: ruri.into(),
            call_id: call_id.into(),
            branch: format!("z9hG4bK{call_id}"),
        }
    }

    fn head(&self, method: &str, cseq_method: &str, to: &str) -> String {
        format!(
            "{method} {ruri} SIP/2.0\r\n\
             Via: SIP/2.0/UDP {addr};branch={branch};rport\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:{user}@example.test>;tag=caller1\r\n\
             To: {to}\r\n\
             Call-ID: {cid}\r\n\
             CSeq: 1 {cseq_method}\r\n",
            ruri = self.ruri,
            addr = self.from_addr,
            branch = self.branch,
            user = self.from_user,
            cid = self.call_id,
        )
    }

    pub fn invite(&self) -> String {
        self.request("INVITE")
    }

    pub fn request(&self, method: &str) -> String {
        let mut s = self.head(method, method, &format!("<{}>", self.ruri));
        s.push_str(&format!(
            "Contact: <sip:{}@{}>\r\nContent-Length: 0\r\n\r\n",
            self.from_user, self.from_addr
        ));
        s
    }

    pub fn cancel(&self) -> String {
        let mut s = self.head("CANCEL", "CANCEL", &format!("<{}>", self.ruri));
        s.push_str("Content-Length: 0\r\n\r\n");
        s
    }

    /// The ACK for a non-2xx final response `resp` (same branch as the INVITE).
    pub fn ack(&self, resp: &Sent) -> String {
        let to = resp.header(HeaderName::To).unwrap();
        let mut s = self.head("ACK", "ACK", &to);
        s.push_str("Content-Length: 0\r\n\r\n");
        s
    }

    /// Send the INVITE from the caller.
    pub fn start(&self, net: &mut Net) -> Vec<Sent> {
        net.send_str(&self.from_addr, &self.invite())
    }
}

/// The response of a UAS to a request it received.
pub fn respond(req: &Sent, code: u16, reason: &str) -> Vec<u8> {
    let m = req.msg();
    let mut out = Vec::new();
    let tag = format!("uas{}", req.dest.ip().to_string().replace('.', ""));
    let reply = Reply::new(code, reason).with_to_tag(tag.as_bytes());
    sip::write_response(&m, &reply, &mut out).unwrap();
    out
}

/// The UAS at `req.dest` answers `req` with `code`; what the proxy sent in reaction.
pub fn answer(net: &mut Net, req: &Sent, code: u16, reason: &str) -> Vec<Sent> {
    let bytes = respond(req, code, reason);
    let from = req.dest.to_string();
    net.send(&from, &bytes)
}

/// Exactly one datagram matching `dest` and `what`.
pub fn one(sent: &[Sent], dest: &str, what: &str) -> Sent {
    let hits: Vec<&Sent> = sent.iter().filter(|s| s.is(dest, what)).collect();
    assert_eq!(
        hits.len(),
        1,
        "expected one {what} to {dest}, got: {:?}",
        summary(sent)
    );
    hits[0].clone()
}

/// Nothing matching `dest` and `what`.
pub fn none(sent: &[Sent], dest: &str, what: &str) {
    assert!(
        !sent.iter().any(|s| s.is(dest, what)),
        "unexpected {what} to {dest} in {:?}",
        summary(sent)
    );
}

pub fn summary(sent: &[Sent]) -> Vec<String> {
    sent.iter()
        .map(|s| format!("{}>{}", s.what(), s.dest))
        .collect()
}
