//! Cost of digest authentication on one worker: verifying one `qop=auth` response
//! (MD5 and SHA-256; parameter checks, nonce MAC and expiry, HA1/HA2/response hashes,
//! constant-time compare, replay cache) and writing a challenge (nonce issue + two header
//! lines). Also the per-request flood check.
//!
//! `cargo bench --bench digest -- --warm-up-time 1 --measurement-time 3`
//! Results and machine: benches/results/digest.md.

use std::hint::black_box;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use ringlet::auth::nonce::NonceIssuer;
use ringlet::auth::{
    compute_ha1, digest_response, Algorithm, AlgorithmSet, AuthConfig, AuthRequest, Authenticator,
    ChallengeKind, DigestResponse, FloodGuard, NonceSecret, QopAuth, StoredHa1, UnixTimeAnchor,
    VerifyResult,
};

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

criterion_group!(
    benches,
    bench_verify,
    bench_parts,
    bench_challenge,
    bench_pike
);
criterion_main!(benches);
