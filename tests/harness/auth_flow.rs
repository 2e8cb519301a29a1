//! A simulated network around one `StatefulProxy<ProviderRouter>` with the digest step
//! installed: a forwarding table whose HA1s this file computes from passwords, fabricated
//! phones that answer challenges with digest responses computed here independently of
//! `ringlet::auth` (md-5 and sha2 directly), and virtual time. Shared by the `auth_flow_*`
//! tests through `#[path]`.
#![allow(dead_code)]

#[path = "sent.rs"]
mod sent;
pub use sent::{addr, Sent};
use sent::{deliver, run_timers};

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use md5::Md5;
use sha2::{Digest, Sha256};

use ringlet::auth::{AuthConfig, NonceSecret, UnixTimeAnchor};
use ringlet::endpoint::Outbox;
use ringlet::proxy::provider::{
    build_proxy, AuthEvent, AuthShared, AuthStepStats, DigestAuthorizer, ProviderConfig,
    ProviderRouter, ProviderShared,
};
use ringlet::proxy::{ProxyConfig, StatefulProxy};
use ringlet::registrar::RegistrarConfig;
use ringlet::sip::{self, HeaderName, Reply};
use ringlet::table::{ForwardingSnapshot, TableHandle};

pub const DOMAIN: &str = "example.test";
pub const PROXY: &str = "127.0.0.1:5060";
pub const ALICE: &str = "127.0.0.2:5060";
pub const BOB: &str = "127.0.0.3:5060";
pub const CAROL: &str = "127.0.0.5:5060";
pub const EXTERNAL: &str = "127.0.0.60:5060";
pub const GW1: &str = "127.0.0.20:5060";
/// Trusted on any port.
pub const PEER: &str = "127.0.0.30:5060";
/// Trusted only from port 5070.
pub const PEER_PORT: &str = "127.0.0.31:5070";
pub const PEER_OTHER_PORT: &str = "127.0.0.31:5071";

pub const PASSWORDS: &[(&str, &str)] = &[
    ("alice", "wonderland"),
    ("bob", "builder"),
    ("carol", "singer"),
    ("md5only", "old-phone"),
];

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn md5_hex(s: &str) -> String {
    hex(&Md5::digest(s.as_bytes()))
}

pub fn sha256_hex(s: &str) -> String {
    hex(&Sha256::digest(s.as_bytes()))
}

pub fn password_of(user: &str) -> &'static str {
    PASSWORDS
        .iter()
        .find(|(u, _)| *u == user)
        .map(|(_, p)| *p)
        .unwrap_or("unknown")
}

/// alice: pstn + international; bob: pstn, alias robert; carol: no groups; md5only: an
/// MD5 HA1 only. Two trusted peers, one PSTN gateway.
pub fn table_text() -> String {
    let ha1 = |user: &str, md5: bool, sha: bool| {
        let secret = format!("{user}:{DOMAIN}:{}", password_of(user));
        let mut s = String::new();
        if md5 {
            s.push_str(&format!(" md5={}", md5_hex(&secret)));
        }
        if sha {
            s.push_str(&format!(" sha256={}", sha256_hex(&secret)));
        }
        s
    };
    format!(
        "domain {DOMAIN}\n\
         international-prefix 00\n\
         user alice@{DOMAIN}{} groups=pstn,international\n\
         user bob@{DOMAIN}{} groups=pstn\n\
         user carol@{DOMAIN}{}\n\
         user md5only@{DOMAIN}{}\n\
         alias robert@{DOMAIN} bob@{DOMAIN}\n\
         gateway gw1 127.0.0.20:5060\n\
         route * gw1\n\
         peer 127.0.0.30\n\
         peer 127.0.0.31:5070 transport=udp\n",
        ha1("alice", true, true),
        ha1("bob", true, true),
        ha1("carol", true, true),
        ha1("md5only", true, false),
    )
}

pub fn summary(sent: &[Sent]) -> Vec<String> {
    sent.iter()
        .map(|s| match s.status() {
            Some(c) => format!("{c} {}>{}", s.reason(), s.dest),
            None => format!("{}>{}", s.method().unwrap_or_default(), s.dest),
        })
        .collect()
}

/// The one final response (status >= 200) to `dest` among `sent`.
pub fn final_to(sent: &[Sent], dest: &str) -> Sent {
    let hits: Vec<&Sent> = sent
        .iter()
        .filter(|s| s.dest == addr(dest) && s.status().is_some_and(|c| c >= 200))
        .collect();
    assert_eq!(
        hits.len(),
        1,
        "one final response to {dest}: {:?}",
        summary(sent)
    );
    hits[0].clone()
}

/// The one request with `method` sent to `dest`.
pub fn request_to(sent: &[Sent], dest: &str, method: &str) -> Sent {
    let hits: Vec<&Sent> = sent
        .iter()
        .filter(|s| s.dest == addr(dest) && s.method().as_deref() == Some(method))
        .collect();
    assert_eq!(hits.len(), 1, "one {method} to {dest}: {:?}", summary(sent));
    hits[0].clone()
}

/// A digest challenge as a phone reads it.
#[derive(Clone, Debug, Default)]
pub struct Challenge {
    pub realm: String,
    pub nonce: String,
    pub algorithm: Option<String>,
    pub qop: Option<String>,
    pub opaque: Option<String>,
    pub stale: bool,
}

impl Challenge {
    /// Parse `Digest k="v", k=v, ...` (a phone's parser, written for the test).
    pub fn parse(value: &str) -> Challenge {
        let rest = value
            .strip_prefix("Digest ")
            .unwrap_or_else(|| panic!("not a Digest challenge: {value}"));
        let mut c = Challenge::default();
        let mut chars = rest.chars().peekable();
        loop {
            while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
                chars.next();
            }
            let name: String = std::iter::from_fn(|| chars.next_if(|c| *c != '=')).collect();
            if name.is_empty() {
                break;
            }
            chars.next(); // '='
            let value: String = if chars.peek() == Some(&'"') {
                chars.next();
                let v = std::iter::from_fn(|| chars.next_if(|c| *c != '"')).collect();
                chars.next();
                v
            } else {
                std::iter::from_fn(|| chars.next_if(|c| *c != ',')).collect()
            };
            let value = value.trim().to_string();
            match name.trim().to_ascii_lowercase().as_str() {
                "realm" => c.realm = value,
                "nonce" => c.nonce = value,
                "algorithm" => c.algorithm = Some(value),
                "qop" => c.qop = Some(value),
                "opaque" => c.opaque = Some(value),
                "stale" => c.stale = value.eq_ignore_ascii_case("true"),
                _ => {}
            }
        }
        c
    }

    /// The challenge of response `resp` for `algorithm` (`WWW-Authenticate` for 401,
    /// `Proxy-Authenticate` for 407).
    pub fn from_response(resp: &Sent, algorithm: &str) -> Challenge {
        let header = match resp.status() {
            Some(401) => "WWW-Authenticate",
            Some(407) => "Proxy-Authenticate",
            other => panic!("not a challenge: {other:?}\n{}", resp.text()),
        };
        let all: Vec<Challenge> = resp
            .header_lines(header)
            .iter()
            .map(|v| Challenge::parse(v))
            .collect();
        all.iter()
            .find(|c| c.algorithm.as_deref().unwrap_or("MD5") == algorithm)
            .cloned()
            .unwrap_or_else(|| panic!("no {algorithm} challenge in {all:?}"))
    }
}

/// How the phone answers a challenge.
#[derive(Clone, Debug)]
pub struct Answer {
    pub user: String,
    pub password: String,
    pub algorithm: &'static str,
    pub qop: bool,
    pub nc: u32,
    pub cnonce: String,
    /// Send this realm instead of the challenge's.
    pub realm: Option<String>,
}

impl Answer {
    pub fn new(user: &str, algorithm: &'static str, qop: bool) -> Answer {
        Answer {
            user: user.into(),
            password: password_of(user).into(),
            algorithm,
            qop,
            nc: 1,
            cnonce: "0a4f113b".into(),
            realm: None,
        }
    }

    fn h(&self, s: &str) -> String {
        match self.algorithm {
            "MD5" => md5_hex(s),
            "SHA-256" => sha256_hex(s),
            other => panic!("algorithm {other}"),
        }
    }

    /// The credentials value (RFC 7616 §3.4) for `method` to `uri`.
    pub fn credentials(&self, ch: &Challenge, method: &str, uri: &str) -> String {
        let realm = self.realm.clone().unwrap_or_else(|| ch.realm.clone());
        let ha1 = self.h(&format!("{}:{}:{}", self.user, ch.realm, self.password));
        let ha2 = self.h(&format!("{method}:{uri}"));
        let nc = format!("{:08x}", self.nc);
        let response = if self.qop {
            self.h(&format!(
                "{ha1}:{}:{nc}:{}:auth:{ha2}",
                ch.nonce, self.cnonce
            ))
        } else {
            self.h(&format!("{ha1}:{}:{ha2}", ch.nonce))
        };
        let mut v = format!(
            "Digest username=\"{}\", realm=\"{realm}\", nonce=\"{}\", uri=\"{uri}\", \
             response=\"{response}\", algorithm={}",
            self.user, ch.nonce, self.algorithm
        );
        if self.qop {
            v.push_str(&format!(", qop=auth, nc={nc}, cnonce=\"{}\"", self.cnonce));
        }
        if let Some(o) = &ch.opaque {
            v.push_str(&format!(", opaque=\"{o}\""));
        }
        v
    }
}

pub struct Net {
    pub proxy: StatefulProxy<ProviderRouter>,
    pub shared: Arc<ProviderShared>,
    pub auth: AuthShared,
    pub events: Arc<Mutex<Vec<AuthEvent>>>,
    pub now: Instant,
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
        Self::with_auth(AuthConfig::default())
    }

    pub fn with_auth(auth: AuthConfig) -> Self {
        Self::with_table(&table_text(), auth)
    }

    pub fn with_table(table: &str, auth: AuthConfig) -> Self {
        let t0 = Instant::now();
        let snap = ForwardingSnapshot::parse(table, Path::new("auth.table"))
            .unwrap_or_else(|e| panic!("{e}"));
        let shared = Arc::new(ProviderShared::new(
            TableHandle::new(snap),
            &RegistrarConfig::in_memory(),
            ProviderConfig::default(),
            proxy_config(),
            t0,
        ));
        let mut proxy = build_proxy(0, 1, &[addr(PROXY)], &shared, t0);
        auth.validate().unwrap();
        let secret = NonceSecret::from_bytes(&[7u8; 32]).unwrap();
        let auth = AuthShared::new(auth, secret, UnixTimeAnchor::new(t0, 1_800_000_000), 42);
        let events = Arc::new(Mutex::new(Vec::new()));
        let sink_events = events.clone();
        auth.install(
            &mut proxy,
            Some(Box::new(move |e: &AuthEvent| {
                sink_events.lock().unwrap().push(e.clone())
            })),
        );
        Net {
            proxy,
            shared,
            auth,
            events,
            now: t0,
            out: Outbox::new(),
            seq: 0,
        }
    }

    /// Another worker of the same process (worker `index` of 2): its own digest step from
    /// the same `AuthShared`, the same table and registrar.
    pub fn other_worker(&self, index: usize) -> StatefulProxy<ProviderRouter> {
        let mut proxy = build_proxy(index, 2, &[addr(PROXY)], &self.shared, self.now);
        self.auth.install(&mut proxy, None);
        proxy
    }

    /// Deliver `text` from `from` to another worker's proxy; what it sent.
    pub fn send_to(
        &mut self,
        proxy: &mut StatefulProxy<ProviderRouter>,
        from: &str,
        text: &str,
    ) -> Vec<Sent> {
        deliver(proxy, self.now, &mut self.out, from, text.as_bytes(), false).0
    }

    pub fn stats(&self) -> AuthStepStats {
        DigestAuthorizer::of(self.proxy.router())
            .expect("the digest step is installed")
            .stats()
    }

    pub fn events(&self) -> Vec<AuthEvent> {
        self.events.lock().unwrap().clone()
    }

    /// Deliver `text` from `from`; what the proxy sent in reaction.
    pub fn send(&mut self, from: &str, text: &str) -> Vec<Sent> {
        let bytes = text.as_bytes();
        deliver(&mut self.proxy, self.now, &mut self.out, from, bytes, false).0
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

    pub fn next_seq(&mut self) -> u32 {
        self.seq += 1;
        self.seq
    }

    /// A REGISTER from `at` for `to_user` (From the same), with optional credentials.
    pub fn register_text(
        &mut self,
        to_user: &str,
        at: &str,
        authorization: Option<&str>,
    ) -> String {
        let seq = self.next_seq();
        let auth = authorization
            .map(|a| format!("Authorization: {a}\r\n"))
            .unwrap_or_default();
        format!(
            "REGISTER sip:{DOMAIN} SIP/2.0\r\n\
             Via: SIP/2.0/UDP {at};branch=z9hG4bKreg{seq};rport\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:{to_user}@{DOMAIN}>;tag=r{seq}\r\n\
             To: <sip:{to_user}@{DOMAIN}>\r\n\
             Call-ID: reg-{to_user}-{at}\r\n\
             CSeq: {seq} REGISTER\r\n\
             Contact: <sip:{to_user}@{at}>\r\n\
             {auth}\
             Expires: 3600\r\n\
             Content-Length: 0\r\n\r\n"
        )
    }

    /// The one response to a REGISTER sent from `at`.
    pub fn register(&mut self, to_user: &str, at: &str, authorization: Option<&str>) -> Sent {
        let text = self.register_text(to_user, at, authorization);
        let sent = self.send(at, &text);
        assert_eq!(sent.len(), 1, "{:?}", summary(&sent));
        sent[0].clone()
    }

    /// Register `user` at `at` through a challenge (SHA-256, qop=auth); asserts 200.
    pub fn register_ok(&mut self, user: &str, at: &str) {
        let first = self.register(user, at, None);
        assert_eq!(first.status(), Some(401), "{}", first.text());
        let ch = Challenge::from_response(&first, "SHA-256");
        let creds =
            Answer::new(user, "SHA-256", true).credentials(&ch, "REGISTER", "sip:example.test");
        let second = self.register(user, at, Some(&creds));
        assert_eq!(second.status(), Some(200), "{}", second.text());
    }
}

impl Default for Net {
    fn default() -> Self {
        Self::new()
    }
}

/// An out-of-dialog request from `from_user` at `at`, with extra header lines.
pub fn request(
    method: &str,
    ruri: &str,
    from_user: &str,
    at: &str,
    call_id: &str,
    cseq: u32,
    extra: &[String],
) -> String {
    let mut extra_lines = String::new();
    for l in extra {
        extra_lines.push_str(l);
        extra_lines.push_str("\r\n");
    }
    format!(
        "{method} {ruri} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {at};branch=z9hG4bK{call_id}-{cseq};rport\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:{from_user}@{DOMAIN}>;tag=caller-{call_id}\r\n\
         To: <{ruri}>\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: {cseq} {method}\r\n\
         Contact: <sip:{from_user}@{at}>\r\n\
         {extra_lines}\
         Content-Length: 0\r\n\r\n"
    )
}

/// The ACK a caller sends for a non-2xx final response to its INVITE `invite`.
pub fn ack_for(invite: &str, resp: &Sent) -> String {
    let to = resp.header(HeaderName::To).unwrap();
    let mut out = String::new();
    for line in invite.split("\r\n") {
        if line.starts_with("INVITE ") {
            out.push_str(&line.replacen("INVITE", "ACK", 1));
        } else if line.starts_with("To:") {
            out.push_str(&format!("To: {to}"));
        } else if let Some(rest) = line.strip_prefix("CSeq: ") {
            let n = rest.split(' ').next().unwrap();
            out.push_str(&format!("CSeq: {n} ACK"));
        } else if line.starts_with("Contact:") || line.starts_with("Proxy-Authorization:") {
            continue;
        } else {
            out.push_str(line);
        }
        out.push_str("\r\n");
    }
    // The split left the blank line and an empty tail: one CRLF too many.
    out.truncate(out.len() - 2);
    out
}

/// The response of a UAS to a request it received.
pub fn respond(req: &Sent, code: u16, reason: &str) -> String {
    let m = req.msg();
    let mut out = Vec::new();
    let reply = Reply::new(code, reason).with_to_tag(b"uas");
    sip::write_response(&m, &reply, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}
