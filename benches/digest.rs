//! Cost of digest authentication on one worker: verifying one `qop=auth` response
//! (MD5 and SHA-256; parameter checks, nonce MAC and expiry, HA1/HA2/response hashes,
//! constant-time compare, replay cache) and writing a challenge (nonce issue + two header
//! lines). Also the per-request flood check, and a whole challenged registration through
//! the proxy (`register_flow`).
//!
//! `cargo bench --bench digest -- --warm-up-time 1 --measurement-time 3`
//! Results and machine: benches/results/digest.md.

use std::alloc::{GlobalAlloc, Layout};
use std::hint::black_box;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use ringlet::auth::nonce::NonceIssuer;
use ringlet::auth::{
    compute_ha1, digest_response, Algorithm, AlgorithmSet, AuthConfig, AuthRequest, Authenticator,
    ChallengeKind, DigestResponse, FloodGuard, NonceSecret, QopAuth, StoredHa1, UnixTimeAnchor,
    VerifyResult,
};
use ringlet::endpoint::{Endpoint, Incoming, Outbox};
use ringlet::proxy::provider::{
    build_proxy, AuthShared, ProviderConfig, ProviderRouter, ProviderShared,
};
use ringlet::proxy::{ProxyConfig, StatefulProxy};
use ringlet::registrar::RegistrarConfig;
use ringlet::table::{ForwardingSnapshot, TableHandle};

/// The production allocator, counting allocations (the `register_flow` figure).
struct CountingMimalloc;
static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: every call is forwarded unchanged to MiMalloc, itself a sound GlobalAlloc.
unsafe impl GlobalAlloc for CountingMimalloc {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's layout, forwarded.
        unsafe { mimalloc::MiMalloc.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: `p` came from MiMalloc with layout `l` (every path above allocates there).
        unsafe { mimalloc::MiMalloc.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: `p`/`l` come from a previous MiMalloc allocation through this wrapper.
        unsafe { mimalloc::MiMalloc.realloc(p, l, new) }
    }
}

#[global_allocator]
static GLOBAL: CountingMimalloc = CountingMimalloc;

/// Allocations made inside the proxy's calls in `register_flow`.
static PROXY_ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

const REALM: &[u8] = b"example.test";
const URI: &[u8] = b"sip:bob@example.test";
const CNONCE: &[u8] = b"0a4f113b";

struct Creds {
    nonce: Vec<u8>,
    nc: [u8; 8],
    response: Vec<u8>,
    alg: &'static [u8],
}

fn authenticator(t0: Instant) -> Authenticator {
    let secret = NonceSecret::from_bytes(&[3u8; 32]).expect("32-byte secret");
    let config = AuthConfig {
        max_failures_per_user: 0,
        max_failures_per_source: 0,
        ..AuthConfig::default()
    };
    Authenticator::new(
        &config,
        &secret,
        0,
        UnixTimeAnchor::new(t0, 1_800_000_000),
        7,
    )
}

fn bench_verify(c: &mut Criterion) {
    let t0 = Instant::now();
    let now = t0 + Duration::from_secs(1);
    let src: IpAddr = "127.0.0.1".parse().expect("address");
    for alg in [Algorithm::Md5, Algorithm::Sha256] {
        let mut auth = authenticator(t0);
        let md5 = compute_ha1(Algorithm::Md5, b"alice", REALM, b"secret");
        let sha = compute_ha1(Algorithm::Sha256, b"alice", REALM, b"secret");
        let ha1 = if alg == Algorithm::Md5 { md5 } else { sha };
        let nonce = auth.issue_nonce(t0).as_bytes().to_vec();
        let mut nc = 0u32;
        let request = AuthRequest {
            src,
            method: b"INVITE",
            request_uri: URI,
            realm: REALM,
        };
        let stored = StoredHa1 {
            md5: Some(md5.as_bytes()),
            sha256: Some(sha.as_bytes()),
        };
        let name = format!("verify/{}_qop_auth", alg.token());
        c.bench_function(&name, |b| {
            b.iter_batched_ref(
                // The phone's side, not timed: next nc and its response.
                || {
                    nc += 1;
                    let mut nc_text = [0u8; 8];
                    nc_text.copy_from_slice(format!("{nc:08x}").as_bytes());
                    let qop = QopAuth {
                        nc: &nc_text,
                        cnonce: CNONCE,
                        qop: b"auth",
                    };
                    let r = digest_response(alg, ha1.as_bytes(), &nonce, Some(qop), b"INVITE", URI);
                    Creds {
                        nonce: nonce.clone(),
                        nc: nc_text,
                        response: r.as_bytes().to_vec(),
                        alg: alg.token().as_bytes(),
                    }
                },
                |creds| {
                    let view = DigestResponse {
                        username: b"alice",
                        realm: REALM,
                        nonce: &creds.nonce,
                        uri: URI,
                        response: &creds.response,
                        algorithm: Some(creds.alg),
                        cnonce: Some(CNONCE),
                        opaque: None,
                        qop: Some(b"auth"),
                        nc: Some(&creds.nc),
                    };
                    let v = auth.verify(now, &request, &view, Some(stored));
                    assert_eq!(v.result, VerifyResult::Ok);
                    black_box(v)
                },
                BatchSize::SmallInput,
            )
        });
    }
}

/// The parts of a verification, to see where its time goes.
fn bench_parts(c: &mut Criterion) {
    let secret = NonceSecret::from_bytes(&[3u8; 32]).expect("32-byte secret");
    let mut issuer = NonceIssuer::new(&secret, 0, Duration::from_secs(300), 7);
    let nonce = issuer.issue(1_800_000_000);
    c.bench_function("parts/nonce_check", |b| {
        b.iter(|| black_box(issuer.check(black_box(nonce.as_bytes()), 1_800_000_001)))
    });
    for alg in [Algorithm::Md5, Algorithm::Sha256] {
        let ha1 = compute_ha1(alg, b"alice", REALM, b"secret");
        let qop = QopAuth {
            nc: b"00000001",
            cnonce: CNONCE,
            qop: b"auth",
        };
        c.bench_function(&format!("parts/response_hashes_{}", alg.token()), |b| {
            b.iter(|| {
                black_box(digest_response(
                    alg,
                    black_box(ha1.as_bytes()),
                    nonce.as_bytes(),
                    Some(qop),
                    b"INVITE",
                    URI,
                ))
            })
        });
    }
}

fn bench_challenge(c: &mut Criterion) {
    let t0 = Instant::now();
    let mut auth = authenticator(t0);
    let mut out = Vec::with_capacity(1024);
    c.bench_function("challenge/407_sha256+md5", |b| {
        b.iter(|| {
            out.clear();
            auth.write_challenge(
                t0,
                &mut out,
                ChallengeKind::Proxy,
                REALM,
                AlgorithmSet::BOTH,
                false,
            );
            black_box(out.len())
        })
    });
}

fn bench_pike(c: &mut Criterion) {
    let config = AuthConfig {
        pike_threshold: u32::MAX,
        ..AuthConfig::default()
    };
    let mut guard = FloodGuard::new(config.flood_limit(), config.pike_table_size);
    let t0 = Instant::now();
    // 4096 sources in turn, as from a busy customer base.
    let sources: Vec<IpAddr> = (0..4096u32)
        .map(|i| IpAddr::from([127, 1, (i >> 8) as u8, i as u8]))
        .collect();
    let mut i = 0usize;
    c.bench_function("pike/check_4096_sources", |b| {
        b.iter(|| {
            i = (i + 1) & 4095;
            black_box(guard.check(t0, sources[i], false))
        })
    });
}

/// One worker's user-space cost of a challenged registration, end to end through
/// `StatefulProxy<ProviderRouter>` (sans I/O, virtual time at 2,000 registrations/s, 200
/// users refreshing their one binding, timers run as they fall due): REGISTER → 401 →
/// REGISTER with MD5 qop=auth credentials → 200. Only the proxy's `on_datagram` and
/// `on_timeout` calls are timed; building the phones' requests is not.
fn bench_register_flow(c: &mut Criterion) {
    const DOMAIN: &str = "load.test";
    const USERS: usize = 200;
    let t0 = Instant::now();
    let mut table = format!("domain {DOMAIN}\n");
    for i in 0..USERS {
        let user = format!("load{i}");
        let ha1 = compute_ha1(
            Algorithm::Md5,
            user.as_bytes(),
            DOMAIN.as_bytes(),
            format!("pw-{i}").as_bytes(),
        );
        table.push_str(&format!(
            "user {user}@{DOMAIN} md5={}\n",
            String::from_utf8_lossy(ha1.as_bytes())
        ));
    }
    let snap = ForwardingSnapshot::parse(&table, Path::new("bench.table")).expect("table");
    let proxy_addr: SocketAddr = "127.0.0.1:5060".parse().expect("addr");
    let proxy_cfg = ProxyConfig {
        listen: vec![proxy_addr],
        // As `ringlet run` configures it ([sip] max_transactions): at 4,000 transactions/s
        // Timer J (32 s) keeps about 128,000 of them.
        max_transactions: 262_144,
        ..ProxyConfig::default()
    };
    let shared = Arc::new(ProviderShared::new(
        TableHandle::new(snap),
        &RegistrarConfig::in_memory(),
        ProviderConfig::default(),
        proxy_cfg,
        t0,
    ));
    let mut proxy = build_proxy(0, 1, &[proxy_addr], &shared, t0);
    let config = AuthConfig {
        algorithms: vec![Algorithm::Md5],
        pike_threshold: 0,
        ..AuthConfig::default()
    };
    config.validate().expect("auth config");
    let secret = NonceSecret::from_bytes(&[5u8; 32]).expect("32-byte secret");
    let auth = AuthShared::new(config, secret, UnixTimeAnchor::new(t0, 1_800_000_000), 9);
    auth.install(&mut proxy, None);

    let phone: SocketAddr = "127.0.0.2:40000".parse().expect("addr");
    let mut out = Outbox::new();
    let mut now = t0;
    let mut seq = 0u64;
    let mut text = Vec::with_capacity(1024);
    let time_call = |proxy: &mut StatefulProxy<ProviderRouter>,
                     now: Instant,
                     bytes: &[u8],
                     out: &mut Outbox|
     -> Duration {
        out.clear();
        let allocations = ALLOCATIONS.load(Ordering::Relaxed);
        let started = Instant::now();
        proxy.on_datagram(
            now,
            Incoming {
                local: 0,
                src: phone,
                bytes,
                handed_off: false,
            },
            out,
        );
        let mut spent = started.elapsed();
        if proxy.next_timeout().is_some_and(|t| t <= now) {
            let started = Instant::now();
            proxy.on_timeout(now, out);
            spent += started.elapsed();
        }
        PROXY_ALLOCATIONS.fetch_add(
            ALLOCATIONS.load(Ordering::Relaxed) - allocations,
            Ordering::Relaxed,
        );
        spent
    };
    // `REGFLOW_ITERS=n`: run n registrations once, outside criterion, and print the time
    // spent in the proxy: for `perf stat -e instructions:u`, which a shared machine
    // disturbs far less than time.
    let fixed: Option<u64> = std::env::var("REGFLOW_ITERS")
        .ok()
        .and_then(|v| v.parse().ok());
    let mut run = |iters: u64| {
        let mut total = Duration::ZERO;
        for _ in 0..iters {
            seq += 1;
            now += Duration::from_micros(500);
            let i = (seq % USERS as u64) as usize;
            let user = format!("load{i}");
            let cseq = 2 * seq;
            text.clear();
            write_register(&mut text, DOMAIN, &user, seq, cseq, 'a', None);
            total += time_call(&mut proxy, now, &text, &mut out);
            let first = out.transmits().next().map_or(&[][..], |(_, r)| r);
            let Some(nonce) = quoted_param(first, b"nonce=\"") else {
                panic!("not a 401: {}", String::from_utf8_lossy(first));
            };
            let ha1 = compute_ha1(
                Algorithm::Md5,
                user.as_bytes(),
                DOMAIN.as_bytes(),
                format!("pw-{i}").as_bytes(),
            );
            let uri = format!("sip:{DOMAIN}");
            let response = digest_response(
                Algorithm::Md5,
                ha1.as_bytes(),
                &nonce,
                Some(QopAuth {
                    nc: b"00000001",
                    cnonce: CNONCE,
                    qop: b"auth",
                }),
                b"REGISTER",
                uri.as_bytes(),
            );
            let creds = format!(
                "Digest username=\"{user}\", realm=\"{DOMAIN}\", nonce=\"{}\", uri=\"{uri}\", \
                     response=\"{}\", algorithm=MD5, qop=auth, nc=00000001, cnonce=\"{}\"",
                String::from_utf8_lossy(&nonce),
                String::from_utf8_lossy(response.as_bytes()),
                String::from_utf8_lossy(CNONCE),
            );
            text.clear();
            write_register(&mut text, DOMAIN, &user, seq, cseq + 1, 'b', Some(&creds));
            total += time_call(&mut proxy, now, &text, &mut out);
            let ok = out
                .transmits()
                .next()
                .is_some_and(|(_, r)| r.starts_with(b"SIP/2.0 200 "));
            assert!(ok, "the second REGISTER is accepted");
        }
        total
    };
    if let Some(n) = fixed {
        // The first round fills the transaction table to its steady state (Timer J).
        run(n);
        PROXY_ALLOCATIONS.store(0, Ordering::Relaxed);
        let spent = run(n);
        println!(
            "register_flow: {n} registrations, {:.2} µs and {:.1} allocations each in the proxy \
             (second round of {n})",
            spent.as_secs_f64() * 1e6 / n.max(1) as f64,
            PROXY_ALLOCATIONS.load(Ordering::Relaxed) as f64 / n.max(1) as f64
        );
        return;
    }
    c.bench_function("register_flow/challenged_md5_qop", |b| {
        b.iter_custom(&mut run)
    });
}

/// A REGISTER like `ringlet load --scenario register` sends.
fn write_register(
    out: &mut Vec<u8>,
    domain: &str,
    user: &str,
    seq: u64,
    cseq: u64,
    leg: char,
    authorization: Option<&str>,
) {
    use std::io::Write;
    let _ = write!(
        out,
        "REGISTER sip:{domain} SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.2:40000;branch=z9hG4bK-{seq}-{leg};rport\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:{user}@{domain}>;tag=f{seq}\r\n\
         To: <sip:{user}@{domain}>\r\n\
         Call-ID: reg-{user}@127.0.0.2\r\n\
         CSeq: {cseq} REGISTER\r\n\
         Contact: <sip:{user}@127.0.0.2:40000>\r\n\
         Expires: 300\r\n\
         User-Agent: ringlet-load\r\n"
    );
    if let Some(a) = authorization {
        let _ = write!(out, "Authorization: {a}\r\n");
    }
    out.extend_from_slice(b"Content-Length: 0\r\n\r\n");
}

/// The value of the quoted parameter that starts after `key` in `msg`.
fn quoted_param(msg: &[u8], key: &[u8]) -> Option<Vec<u8>> {
    let at = msg.windows(key.len()).position(|w| w == key)? + key.len();
    let len = msg[at..].iter().position(|&b| b == b'"')?;
    Some(msg[at..at + len].to_vec())
}

criterion_group!(
    benches,
    bench_verify,
    bench_parts,
    bench_challenge,
    bench_pike,
    bench_register_flow
);
criterion_main!(benches);
