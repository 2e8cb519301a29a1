//! A whole call through the stateful proxy endpoint, in memory: INVITE (100 Trying), 180,
//! 200, ACK, BYE, 200 — both transactions, the forwarded bytes and the timers — plus the
//! bytes a live transaction holds.
//!
//! Virtual time moves 1 ms per call and the wheel is expired every 1000 calls, so the cost of
//! reaping finished transactions (Timers L/M/J/K) is part of the figure.
//!
//! Run: `cargo bench --bench txn -- --warm-up-time 1 --measurement-time 3`

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ringlet::endpoint::{Endpoint, Incoming, Outbox};
use ringlet::proxy::{ProxyConfig, RelayToRequestUri, StatefulProxy};

const ALICE: &str = "127.0.0.2:5060";
const BOB: &str = "127.0.0.3:5060";
/// Our branch: `z9hG4bKrl` + 38 hex digits.
const OUR_BRANCH_LEN: usize = 47;
const OUR_BRANCH_PLACEHOLDER: &str = "z9hG4bKrl00000000000000000000000000000000000000";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// Message templates with fixed-width fields patched per call.
struct Templates {
    invite: Vec<u8>,
    ringing: Vec<u8>,
    ok: Vec<u8>,
    ack: Vec<u8>,
    bye: Vec<u8>,
    bye_ok: Vec<u8>,
}

fn alice_req(method: &str, branch: &str, cseq: u32, to_tag: &str, route: bool) -> String {
    format!(
        "{method} sip:bob@127.0.0.3:5060 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.2:5060;branch={branch};rport\r\n\
         Max-Forwards: 70\r\n\
         {route}From: Alice <sip:alice@example.test>;tag=a1\r\n\
         To: Bob <sip:bob@example.test>{to_tag}\r\n\
         Call-ID: CALLID00000000@bench\r\n\
         CSeq: {cseq} {method}\r\n\
         Contact: <sip:alice@127.0.0.2:5060>\r\n\
         User-Agent: bench\r\n\
         Content-Length: 0\r\n\r\n",
        route = if route {
            "Route: <sip:127.0.0.1:5060;lr>\r\n"
        } else {
            ""
        }
    )
}

fn bob_resp(code: &str, method: &str, cseq: u32, alice_branch: &str) -> String {
    format!(
        "SIP/2.0 {code}\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:5060;branch={OUR_BRANCH_PLACEHOLDER}\r\n\
         Via: SIP/2.0/UDP 127.0.0.2:5060;branch={alice_branch};rport=5060;received=127.0.0.2\r\n\
         Record-Route: <sip:127.0.0.1:5060;lr>\r\n\
         From: Alice <sip:alice@example.test>;tag=a1\r\n\
         To: Bob <sip:bob@example.test>;tag=b1\r\n\
         Call-ID: CALLID00000000@bench\r\n\
         CSeq: {cseq} {method}\r\n\
         Contact: <sip:bob@127.0.0.3:5060>\r\n\
         Content-Length: 0\r\n\r\n"
    )
}

impl Templates {
    fn new() -> Self {
        Templates {
            invite: alice_req("INVITE", "z9hG4bKI00000000", 1, "", false).into_bytes(),
            ringing: bob_resp("180 Ringing", "INVITE", 1, "z9hG4bKI00000000").into_bytes(),
            ok: bob_resp("200 OK", "INVITE", 1, "z9hG4bKI00000000").into_bytes(),
            ack: alice_req("ACK", "z9hG4bKA00000000", 1, ";tag=b1", true).into_bytes(),
            bye: alice_req("BYE", "z9hG4bKB00000000", 2, ";tag=b1", true).into_bytes(),
            bye_ok: bob_resp("200 OK", "BYE", 2, "z9hG4bKB00000000").into_bytes(),
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(hay, needle)
}

/// Offsets of the 8 hex digits after every per-call marker (Call-ID, Alice's branches).
fn stamp_offsets(buf: &[u8]) -> Vec<usize> {
    let mut v = Vec::new();
    for marker in [&b"CALLID"[..], b"z9hG4bKI", b"z9hG4bKA", b"z9hG4bKB"] {
        v.extend(memchr::memmem::find_iter(buf, marker).map(|i| i + marker.len()));
    }
    v
}

/// Overwrite the fields at `offsets` with `n` in hex.
fn stamp(buf: &mut [u8], offsets: &[usize], n: u32) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut hex = [0u8; 8];
    for (i, h) in hex.iter_mut().enumerate() {
        *h = HEX[((n >> (28 - 4 * i)) & 0xf) as usize];
    }
    for &at in offsets {
        buf[at..at + 8].copy_from_slice(&hex);
    }
}

/// Copy our branch from the forwarded request in `out` into the response template.
fn patch_our_branch(resp: &mut [u8], fwd: &[u8]) {
    let i = find(fwd, b"branch=z9hG4bKrl").expect("our branch") + 7;
    // The template's top Via is ours (the placeholder on the first call, last call's after).
    let j = find(resp, b"branch=z9hG4bKrl").expect("our Via in the template") + 7;
    resp[j..j + OUR_BRANCH_LEN].copy_from_slice(&fwd[i..i + OUR_BRANCH_LEN]);
}

struct Call {
    proxy: StatefulProxy<RelayToRequestUri>,
    out: Outbox,
    t: Templates,
    offsets: Vec<Vec<usize>>,
    now: Instant,
    n: u32,
}

impl Call {
    fn new() -> Self {
        let cfg = ProxyConfig {
            listen: vec![addr("127.0.0.1:5060")],
            max_transactions: 1 << 20,
            ..ProxyConfig::default()
        };
        let now = Instant::now();
        let t = Templates::new();
        let offsets = [&t.invite, &t.ringing, &t.ok, &t.ack, &t.bye, &t.bye_ok]
            .iter()
            .map(|m| stamp_offsets(m))
            .collect();
        Call {
            proxy: StatefulProxy::new(cfg, RelayToRequestUri, now),
            out: Outbox::new(),
            t,
            offsets,
            now,
            n: 0,
        }
    }

    fn deliver(&mut self, from: SocketAddr, bytes: &[u8]) {
        self.out.clear();
        self.proxy.on_datagram(
            self.now,
            Incoming {
                local: 0,
                src: from,
                bytes,
                handed_off: false,
            },
            &mut self.out,
        );
    }

    fn forwarded(&self) -> &[u8] {
        self.out.transmits().last().map(|(_, b)| b).unwrap_or(b"")
    }

    /// One whole call; returns the datagrams the proxy sent (7 expected).
    fn run(&mut self) -> usize {
        let (alice, bob) = (addr(ALICE), addr(BOB));
        self.n = self.n.wrapping_add(1);
        let n = self.n;
        let mut sent = 0;
        let t = &mut self.t;
        for (m, offs) in [
            &mut t.invite,
            &mut t.ringing,
            &mut t.ok,
            &mut t.ack,
            &mut t.bye,
            &mut t.bye_ok,
        ]
        .into_iter()
        .zip(&self.offsets)
        {
            stamp(m, offs, n);
        }
        let invite = std::mem::take(&mut self.t.invite);
        self.deliver(alice, &invite);
        self.t.invite = invite;
        sent += self.out.len();
        let fwd = self.forwarded().to_vec();
        patch_our_branch(&mut self.t.ringing, &fwd);
        patch_our_branch(&mut self.t.ok, &fwd);
        for which in 0..2 {
            let m = if which == 0 {
                std::mem::take(&mut self.t.ringing)
            } else {
                std::mem::take(&mut self.t.ok)
            };
            self.deliver(bob, &m);
            sent += self.out.len();
            if which == 0 {
                self.t.ringing = m;
            } else {
                self.t.ok = m;
            }
        }
        let ack = std::mem::take(&mut self.t.ack);
        self.deliver(alice, &ack);
        self.t.ack = ack;
        sent += self.out.len();
        let bye = std::mem::take(&mut self.t.bye);
        self.deliver(alice, &bye);
        self.t.bye = bye;
        sent += self.out.len();
        let fwd = self.forwarded().to_vec();
        patch_our_branch(&mut self.t.bye_ok, &fwd);
        let bye_ok = std::mem::take(&mut self.t.bye_ok);
        self.deliver(bob, &bye_ok);
        self.t.bye_ok = bye_ok;
        sent += self.out.len();
        self.now += Duration::from_millis(1);
        if n % 1000 == 0 {
            self.out.clear();
            self.proxy.on_timeout(self.now, &mut self.out);
        }
        sent
    }
}

/// The measured calls of the `TXN_BENCH_LOOP` mode, in a function of their own so that
/// `valgrind --tool=callgrind --toggle-collect='*measured_calls*'` counts them alone.
#[inline(never)]
fn measured_calls(call: &mut Call, n: u64) -> usize {
    let mut sent = 0;
    for _ in 0..n {
        sent += call.run();
    }
    sent
}

/// `TXN_BENCH_LOOP=<n>[:<warm-up>]`: run `warm-up` calls (default 40 000, past the 32 s of
/// virtual time after which the first finished transactions are reaped, so the table is at
/// steady state), then `n` measured calls, print the table's figures and exit. For
/// instruction counts under callgrind (they do not depend on machine load):
///
/// ```text
/// TXN_BENCH_LOOP=5000 valgrind --tool=callgrind --collect-atstart=no \
///     --toggle-collect='*measured_calls*' target/release/deps/txn-<hash>
/// ```
fn plain_loop(spec: &str) {
    let (n, warm) = match spec.split_once(':') {
        Some((n, w)) => (n, w),
        None => (spec, "40000"),
    };
    let n: u64 = n.parse().expect("TXN_BENCH_LOOP=<n>[:<warm-up>]");
    let warm: u64 = warm.parse().expect("warm-up call count");
    let mut call = Call::new();
    for _ in 0..warm {
        call.run();
    }
    let sent = measured_calls(&mut call, std::hint::black_box(n));
    let live = call.proxy.transactions();
    let bytes = call.proxy.transaction_bytes();
    println!(
        "{n} calls after {warm}: {sent} datagrams sent; {live} live transactions, {} bytes each",
        bytes / live.max(1)
    );
}

fn bench(c: &mut Criterion) {
    if let Some(spec) = std::env::var_os("TXN_BENCH_LOOP") {
        return plain_loop(&spec.to_string_lossy());
    }
    // Sanity: the flow really goes through (100, INVITE, 180, 200, ACK, BYE, 200 = 7 sends).
    let mut call = Call::new();
    assert_eq!(call.run(), 7);

    // Bytes per live transaction: an INVITE in Proceeding (after its 180) and, separately,
    // what the whole table holds at steady state with 1 ms between calls.
    let mut probe = Call::new();
    for _ in 0..1000 {
        probe.run();
    }
    let live = probe.proxy.transactions();
    let bytes = probe.proxy.transaction_bytes();
    println!(
        "steady state: {live} live transactions, {bytes} bytes, {} bytes per transaction",
        bytes / live.max(1)
    );

    // A plain timed loop beside criterion's figure (same work, no statistics).
    let mut plain = Call::new();
    let calls = 50_000;
    let t = Instant::now();
    for _ in 0..calls {
        plain.run();
    }
    println!(
        "plain loop: {} ns per call over {calls} calls",
        t.elapsed().as_nanos() / calls as u128
    );
    // Calibration on this (shared, noisy) machine: one parse of the INVITE, same loop style.
    let t = Instant::now();
    let mut sum = 0usize;
    for _ in 0..calls {
        sum += ringlet::sip::parse(std::hint::black_box(&plain.t.invite))
            .map_or(0, |m| m.header_count());
    }
    println!(
        "calibration: sip::parse of the INVITE {} ns ({sum})",
        t.elapsed().as_nanos() / calls as u128
    );
    if std::env::var_os("TXN_BENCH_PLAIN_ONLY").is_some() {
        return;
    }

    let mut g = c.benchmark_group("txn");
    g.throughput(Throughput::Elements(1));
    g.bench_function("whole_call_invite_to_bye", |b| b.iter(|| call.run()));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
