//! Provider routing through the whole stateful proxy, in virtual time: one call set up
//! per iteration (INVITE in, routed, forwarded, the callee's final answer relayed back).
//!
//! - `call_registered_user`: INVITE → location lookup → INVITE to the contact; 200 back.
//! - `call_busy_to_voicemail`: INVITE → contact; 486 → failure route → INVITE to voicemail
//!   (mailbox `b<user>`, Diversion); 200 back.
//! - `call_pstn`: INVITE to a number → groups, longest prefix → gateway; 200 back.
//! - `register`: REGISTER → registrar (refresh of one binding).
//!
//! Each iteration also builds the fabricated callee's response with the sip writer, and
//! every 4096 calls the clock jumps 60 s so finished transactions leave the table: both
//! are in the figures.
//!
//! Run (short): `cargo bench --bench provider -- --warm-up-time 1 --measurement-time 3`
//! Figures and the machine: benches/results/provider.md.

use std::hint::black_box;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ringlet::endpoint::{Endpoint, Incoming, Outbox};
use ringlet::proxy::provider::{build_proxy, ProviderConfig, ProviderRouter, ProviderShared};
use ringlet::proxy::{ProxyConfig, StatefulProxy};
use ringlet::registrar::RegistrarConfig;
use ringlet::sip::{self, Reply};
use ringlet::table::{ForwardingSnapshot, TableHandle};

const TABLE: &str = "domain example.test\n\
    user alice@example.test md5=00000000000000000000000000000000 groups=pstn\n\
    user bob@example.test md5=00000000000000000000000000000000\n\
    user carol@example.test md5=00000000000000000000000000000000\n\
    forward carol@example.test busy sip:vm@127.0.0.9:5070\n\
    voicemail default sip:vm@127.0.0.9:5070\n\
    gateway gw1 127.0.0.20:5060\n\
    route 49 gw1\n";

struct Bench {
    proxy: StatefulProxy<ProviderRouter>,
    now: Instant,
    out: Outbox,
    n: u64,
    req: Vec<u8>,
    resp: Vec<u8>,
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

impl Bench {
    fn new() -> Self {
        let now = Instant::now();
        let snap = ForwardingSnapshot::parse(TABLE, Path::new("bench.table")).unwrap();
        let proxy_cfg = ProxyConfig {
            listen: vec![addr("127.0.0.1:5060")],
            max_transactions: 1 << 20,
            ..ProxyConfig::default()
        };
        let shared = Arc::new(ProviderShared::new(
            TableHandle::new(snap),
            &RegistrarConfig::in_memory(),
            ProviderConfig::default(),
            proxy_cfg,
            now,
        ));
        let proxy = build_proxy(0, 1, &[addr("127.0.0.1:5060")], &shared, now);
        let mut b = Bench {
            proxy,
            now,
            out: Outbox::new(),
            n: 0,
            req: Vec::new(),
            resp: Vec::new(),
        };
        for (user, at) in [("bob", "127.0.0.3:5060"), ("carol", "127.0.0.5:5060")] {
            b.register(user, at);
        }
        b
    }

    fn deliver(&mut self, from: SocketAddr, which: Which) {
        self.out.clear();
        let bytes = match which {
            Which::Req => &self.req,
            Which::Resp => &self.resp,
        };
        let inc = Incoming {
            local: 0,
            src: from,
            bytes,
            handed_off: false,
        };
        self.proxy.on_datagram(self.now, inc, &mut self.out);
    }

    fn tick(&mut self) {
        self.n += 1;
        if self.n % 4096 == 0 {
            self.now += Duration::from_secs(60);
            self.out.clear();
            self.proxy.on_timeout(self.now, &mut self.out);
        }
    }

    fn register(&mut self, user: &str, at: &str) {
        self.n += 1;
        self.req.clear();
        self.req.extend_from_slice(
            format!(
                "REGISTER sip:example.test SIP/2.0\r\nVia: SIP/2.0/UDP {at};branch=z9hG4bKr{n}\r\n\
                 Max-Forwards: 70\r\nFrom: <sip:{user}@example.test>;tag=r\r\nTo: <sip:{user}@example.test>\r\n\
                 Call-ID: reg-{user}\r\nCSeq: {n} REGISTER\r\nContact: <sip:{user}@{at}>\r\nExpires: 3600\r\n\
                 Content-Length: 0\r\n\r\n",
                n = self.n
            )
            .as_bytes(),
        );
        self.deliver(addr(at), Which::Req);
        assert_eq!(self.out.len(), 1);
    }

    /// One call to `ruri`; the branch answers `codes` in turn (each to the newest INVITE).
    fn call(&mut self, ruri: &str, codes: &[u16]) {
        self.tick();
        self.req.clear();
        self.req.extend_from_slice(
            format!(
                "INVITE {ruri} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.2:5060;branch=z9hG4bKb{n}\r\n\
                 Max-Forwards: 70\r\nFrom: <sip:alice@example.test>;tag=a{n}\r\nTo: <{ruri}>\r\n\
                 Call-ID: call-{n}\r\nCSeq: 1 INVITE\r\nContact: <sip:alice@127.0.0.2:5060>\r\n\
                 Content-Length: 0\r\n\r\n",
                n = self.n
            )
            .as_bytes(),
        );
        self.deliver(addr("127.0.0.2:5060"), Which::Req);
        for &code in codes {
            let (dest, fwd) = self
                .out
                .transmits()
                .find(|(_, b)| b.starts_with(b"INVITE"))
                .map(|(t, b)| (t.dest, b.to_vec()))
                .expect("an INVITE went out");
            let m = sip::parse(&fwd).unwrap();
            self.resp.clear();
            sip::write_response(
                &m,
                &Reply::new(code, "X").with_to_tag(b"uas"),
                &mut self.resp,
            )
            .unwrap();
            self.deliver(dest, Which::Resp);
        }
        assert!(self
            .out
            .transmits()
            .any(|(t, _)| t.dest == addr("127.0.0.2:5060")));
    }
}

enum Which {
    Req,
    Resp,
}

fn provider(c: &mut Criterion) {
    let mut g = c.benchmark_group("provider");
    g.throughput(Throughput::Elements(1));
    let mut b = Bench::new();
    g.bench_function("call_registered_user", |x| {
        x.iter(|| b.call(black_box("sip:bob@example.test"), &[200]))
    });
    let mut b = Bench::new();
    g.bench_function("call_busy_to_voicemail", |x| {
        x.iter(|| b.call(black_box("sip:carol@example.test"), &[486, 200]))
    });
    let mut b = Bench::new();
    g.bench_function("call_pstn", |x| {
        x.iter(|| b.call(black_box("sip:4930123456@example.test"), &[200]))
    });
    let mut b = Bench::new();
    g.bench_function("register", |x| {
        x.iter(|| b.register("bob", "127.0.0.3:5060"))
    });
    g.finish();
}

criterion_group!(benches, provider);
criterion_main!(benches);
