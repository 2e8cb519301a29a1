//! Digest authentication at the protocol level: challenges as a phone reads them, responses
//! as a phone computes them (independently, straight from md-5/sha2), virtual time.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use md5::Md5;
use ringlet::auth::{
    compute_ha1, digest_response, Algorithm, AlgorithmSet, AuthConfig, AuthRequest, Authenticator,
    ChallengeKind, DigestResponse, MalformedReason, NonceSecret, QopAuth, StoredHa1,
    SuggestedReply, UnixTimeAnchor, VerifyResult,
};
use sha2::{Digest, Sha256};

const REALM: &str = "example.test";
const USER: &str = "alice";
const PASSWORD: &str = "correct horse";
const RURI: &str = "sip:example.test";
const UNIX_T0: u64 = 1_800_000_000;

fn hex_hash(alg: Algorithm, data: &str) -> String {
    let raw: Vec<u8> = match alg {
        Algorithm::Md5 => Md5::digest(data.as_bytes()).to_vec(),
        Algorithm::Sha256 => Sha256::digest(data.as_bytes()).to_vec(),
    };
    raw.iter().map(|b| format!("{b:02x}")).collect()
}

/// The table's HA1 for USER, computed the way an operator's tool would.
fn ha1(alg: Algorithm, password: &str) -> String {
    hex_hash(alg, &format!("{USER}:{REALM}:{password}"))
}

/// A parsed challenge value, as a phone sees it.
#[derive(Debug, Clone)]
struct Challenge {
    header: String,
    realm: String,
    nonce: String,
    algorithm: String,
    opaque: Option<String>,
    stale: bool,
    qop: Option<String>,
}

fn param(value: &str, name: &str) -> Option<String> {
    let quoted = format!("{name}=\"");
    if let Some(i) = value.find(&quoted) {
        let rest = &value[i + quoted.len()..];
        return Some(rest[..rest.find('"')?].to_string());
    }
    let bare = format!("{name}=");
    let i = value.find(&bare)?;
    let rest = &value[i + bare.len()..];
    Some(rest.split([',', '\r']).next()?.trim().to_string())
}

fn parse_challenges(bytes: &[u8]) -> Vec<Challenge> {
    let text = std::str::from_utf8(bytes).unwrap();
    assert!(
        text.ends_with("\r\n"),
        "header lines end with CRLF: {text:?}"
    );
    text.split("\r\n")
        .filter(|l| !l.is_empty())
        .map(|line| {
            let (header, value) = line.split_once(": ").unwrap();
            assert!(value.starts_with("Digest "), "{value}");
            Challenge {
                header: header.to_string(),
                realm: param(value, "realm").unwrap(),
                nonce: param(value, "nonce").unwrap(),
                algorithm: param(value, "algorithm").unwrap(),
                opaque: param(value, "opaque"),
                stale: param(value, "stale").is_some_and(|s| s == "true"),
                qop: param(value, "qop"),
            }
        })
        .collect()
}

/// Owned credentials, the way a phone would fill an Authorization header.
#[derive(Debug, Clone)]
struct Creds {
    username: String,
    realm: String,
    nonce: String,
    uri: String,
    response: String,
    algorithm: Option<String>,
    cnonce: Option<String>,
    opaque: Option<String>,
    qop: Option<String>,
    nc: Option<String>,
}

impl Creds {
    fn view(&self) -> DigestResponse<'_> {
        DigestResponse {
            username: self.username.as_bytes(),
            realm: self.realm.as_bytes(),
            nonce: self.nonce.as_bytes(),
            uri: self.uri.as_bytes(),
            response: self.response.as_bytes(),
            algorithm: self.algorithm.as_deref().map(str::as_bytes),
            cnonce: self.cnonce.as_deref().map(str::as_bytes),
            opaque: self.opaque.as_deref().map(str::as_bytes),
            qop: self.qop.as_deref().map(str::as_bytes),
            nc: self.nc.as_deref().map(str::as_bytes),
        }
    }
}

/// A phone answering `ch` for `method` with `password`: qop=auth with `nc` when `nc` is
/// Some, RFC 2069 form otherwise.
fn answer(ch: &Challenge, method: &str, password: &str, nc: Option<u32>) -> Creds {
    let alg = Algorithm::from_token(ch.algorithm.as_bytes()).unwrap();
    let ha1 = hex_hash(alg, &format!("{USER}:{}:{password}", ch.realm));
    let ha2 = hex_hash(alg, &format!("{method}:{RURI}"));
    let cnonce = "0a4f113b".to_string();
    let (response, qop, nc_text) = match nc {
        Some(n) => {
            let nc = format!("{n:08x}");
            let r = hex_hash(alg, &format!("{ha1}:{}:{nc}:{cnonce}:auth:{ha2}", ch.nonce));
            (r, Some("auth".to_string()), Some(nc))
        }
        None => (
            hex_hash(alg, &format!("{ha1}:{}:{ha2}", ch.nonce)),
            None,
            None,
        ),
    };
    Creds {
        username: USER.into(),
        realm: ch.realm.clone(),
        nonce: ch.nonce.clone(),
        uri: RURI.into(),
        response,
        algorithm: Some(ch.algorithm.clone()),
        cnonce: nc.map(|_| cnonce),
        opaque: ch.opaque.clone(),
        qop,
        nc: nc_text,
    }
}

struct Harness {
    auth: Authenticator,
    t0: Instant,
    src: IpAddr,
    md5: String,
    sha256: String,
}

impl Harness {
    fn new(config: AuthConfig) -> Harness {
        Harness::with_worker(config, &NonceSecret::from_bytes(&[42u8; 32]).unwrap(), 0)
    }

    fn with_worker(config: AuthConfig, secret: &NonceSecret, worker: u16) -> Harness {
        config.validate().unwrap();
        let t0 = Instant::now();
        let anchor = UnixTimeAnchor::new(t0, UNIX_T0);
        Harness {
            auth: Authenticator::new(&config, secret, worker, anchor, 0x5eed + u64::from(worker)),
            t0,
            src: "127.0.0.10".parse().unwrap(),
            md5: ha1(Algorithm::Md5, PASSWORD),
            sha256: ha1(Algorithm::Sha256, PASSWORD),
        }
    }

    fn at(&self, secs: u64) -> Instant {
        self.t0 + Duration::from_secs(secs)
    }

    fn challenge(&mut self, secs: u64, kind: ChallengeKind) -> Vec<Challenge> {
        let mut out = Vec::new();
        self.auth.write_challenge(
            self.at(secs),
            &mut out,
            kind,
            REALM.as_bytes(),
            AlgorithmSet::BOTH,
            false,
        );
        parse_challenges(&out)
    }

    fn challenge_for(&mut self, secs: u64, alg: Algorithm) -> Challenge {
        let all = self.challenge(secs, ChallengeKind::Proxy);
        all.into_iter()
            .find(|c| c.algorithm == alg.token())
            .unwrap()
    }

    fn verify_as(&mut self, secs: u64, method: &str, creds: &Creds, src: IpAddr) -> VerifyResult {
        let stored = StoredHa1 {
            md5: Some(self.md5.as_bytes()),
            sha256: Some(self.sha256.as_bytes()),
        };
        let req = AuthRequest {
            src,
            method: method.as_bytes(),
            request_uri: RURI.as_bytes(),
            realm: REALM.as_bytes(),
        };
        self.auth
            .verify(self.at(secs), &req, &creds.view(), Some(stored))
            .result
    }

    fn verify(&mut self, secs: u64, creds: &Creds) -> VerifyResult {
        let src = self.src;
        self.verify_as(secs, "INVITE", creds, src)
    }
}

#[test]
fn rfc2617_section_3_5_md5_qop_vector() {
    // RFC 2617 §3.5: Mufasa / "Circle Of Life", GET /dir/index.html.
    let ha1 = compute_ha1(
        Algorithm::Md5,
        b"Mufasa",
        b"testrealm@host.com",
        b"Circle Of Life",
    );
    assert_eq!(ha1.as_str(), "939e7578ed9e3c518a452acee763bce9");
    let r = digest_response(
        Algorithm::Md5,
        ha1.as_bytes(),
        b"dcd98b7102dd2f0e8b11d0f600bfb0c093",
        Some(QopAuth {
            nc: b"00000001",
            cnonce: b"0a4f113b",
            qop: b"auth",
        }),
        b"GET",
        b"/dir/index.html",
    );
    assert_eq!(r.as_str(), "6629fae49393a05397450978507c4ef1");
}

#[test]
fn rfc7616_section_3_9_1_sha256_and_md5_vectors() {
    let nonce = b"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v";
    let qop = QopAuth {
        nc: b"00000001",
        cnonce: b"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
        qop: b"auth",
    };
    for (alg, expected) in [
        (
            Algorithm::Sha256,
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
        ),
        (Algorithm::Md5, "8ca523f5e9506fed4657c9700eebdbec"),
    ] {
        let ha1 = compute_ha1(alg, b"Mufasa", b"http-auth@example.org", b"Circle of Life");
        let r = digest_response(
            alg,
            ha1.as_bytes(),
            nonce,
            Some(qop),
            b"GET",
            b"/dir/index.html",
        );
        assert_eq!(r.as_str(), expected, "{alg:?}");
    }
}

#[test]
fn rfc2069_form_matches_an_independent_computation() {
    for alg in [Algorithm::Md5, Algorithm::Sha256] {
        let ha1 = ha1(alg, PASSWORD);
        let ha2 = hex_hash(alg, "REGISTER:sip:example.test");
        let expected = hex_hash(alg, &format!("{ha1}:abc:{ha2}"));
        let r = digest_response(
            alg,
            ha1.as_bytes(),
            b"abc",
            None,
            b"REGISTER",
            RURI.as_bytes(),
        );
        assert_eq!(r.as_str(), expected);
    }
}

#[test]
fn challenges_offer_sha256_first_with_one_nonce() {
    let mut h = Harness::new(AuthConfig::default());
    let www = h.challenge(0, ChallengeKind::Www);
    assert_eq!(www.len(), 2);
    assert_eq!(www[0].algorithm, "SHA-256");
    assert_eq!(www[1].algorithm, "MD5");
    for c in &www {
        assert_eq!(c.header, "WWW-Authenticate");
        assert_eq!(c.realm, REALM);
        assert_eq!(c.qop.as_deref(), Some("auth"));
        assert!(!c.stale);
        assert!(c.opaque.is_none());
        assert_eq!(c.nonce.len(), 48);
    }
    assert_eq!(www[0].nonce, www[1].nonce);
    let proxy = h.challenge(0, ChallengeKind::Proxy);
    assert!(proxy.iter().all(|c| c.header == "Proxy-Authenticate"));
    assert_ne!(
        proxy[0].nonce, www[0].nonce,
        "each challenge gets a fresh nonce"
    );
    assert_eq!(ChallengeKind::Www.status_code(), 401);
    assert_eq!(ChallengeKind::Proxy.status_code(), 407);
    assert_eq!(
        ChallengeKind::Proxy.credentials_header(),
        "Proxy-Authorization"
    );
}

#[test]
fn challenge_variants_stale_opaque_and_narrowed_offer() {
    let config = AuthConfig {
        opaque: Some("op4que".into()),
        ..AuthConfig::default()
    };
    let mut h = Harness::new(config);
    let mut out = Vec::new();
    let md5_only = StoredHa1 {
        md5: Some(b"00"),
        sha256: None,
    }
    .algorithms();
    h.auth.write_challenge(
        h.at(0),
        &mut out,
        ChallengeKind::Www,
        REALM.as_bytes(),
        md5_only,
        true,
    );
    let chs = parse_challenges(&out);
    assert_eq!(chs.len(), 1);
    assert_eq!(chs[0].algorithm, "MD5");
    assert!(chs[0].stale);
    assert_eq!(chs[0].opaque.as_deref(), Some("op4que"));

    // Configured for SHA-256 only: MD5 is never offered, even when asked for.
    let mut h = Harness::new(AuthConfig {
        algorithms: vec![Algorithm::Sha256],
        ..AuthConfig::default()
    });
    out.clear();
    h.auth.write_challenge(
        h.at(0),
        &mut out,
        ChallengeKind::Www,
        REALM.as_bytes(),
        md5_only,
        false,
    );
    let chs = parse_challenges(&out);
    assert_eq!(chs.len(), 1);
    assert_eq!(chs[0].algorithm, "SHA-256");
}

#[test]
fn writing_a_challenge_into_a_sized_buffer_does_not_allocate() {
    let mut h = Harness::new(AuthConfig::default());
    let mut out = Vec::with_capacity(1024);
    let (ptr, cap) = (out.as_ptr(), out.capacity());
    for i in 0..3 {
        out.clear();
        h.auth.write_challenge(
            h.at(i),
            &mut out,
            ChallengeKind::Proxy,
            REALM.as_bytes(),
            AlgorithmSet::BOTH,
            i == 1,
        );
        assert!(!out.is_empty());
        assert_eq!((out.as_ptr(), out.capacity()), (ptr, cap));
    }
}

#[test]
fn sha256_and_md5_with_qop_authenticate() {
    let mut h = Harness::new(AuthConfig::default());
    for alg in [Algorithm::Sha256, Algorithm::Md5] {
        let ch = h.challenge_for(0, alg);
        let creds = answer(&ch, "INVITE", PASSWORD, Some(1));
        assert_eq!(h.verify(1, &creds), VerifyResult::Ok, "{alg:?}");
        assert_eq!(
            h.verify(1, &creds).suggested_reply(),
            SuggestedReply::Challenge { stale: true }
        );
    }
    assert_eq!(h.auth.stats().ok, 2);
    assert_eq!(h.auth.stats().replay, 2);
}

#[test]
fn without_qop_rfc2069_phones_authenticate_when_allowed() {
    let mut h = Harness::new(AuthConfig::default());
    for alg in [Algorithm::Sha256, Algorithm::Md5] {
        let ch = h.challenge_for(0, alg);
        let creds = answer(&ch, "REGISTER", PASSWORD, None);
        assert_eq!(h.verify_as(2, "REGISTER", &creds, h.src), VerifyResult::Ok);
        // No nc to protect: the nonce can be reused until it expires.
        assert_eq!(h.verify_as(3, "REGISTER", &creds, h.src), VerifyResult::Ok);
        assert_eq!(
            h.verify_as(400, "REGISTER", &creds, h.src),
            VerifyResult::StaleNonce
        );
    }
    let mut strict = Harness::new(AuthConfig {
        allow_without_qop: false,
        ..AuthConfig::default()
    });
    let ch = strict.challenge_for(0, Algorithm::Md5);
    let creds = answer(&ch, "INVITE", PASSWORD, None);
    assert_eq!(
        strict.verify(1, &creds),
        VerifyResult::Malformed(MalformedReason::QopRequired)
    );
}

#[test]
fn absent_algorithm_means_md5() {
    let mut h = Harness::new(AuthConfig::default());
    let ch = h.challenge_for(0, Algorithm::Md5);
    let mut creds = answer(&ch, "INVITE", PASSWORD, Some(1));
    creds.algorithm = None;
    assert_eq!(h.verify(1, &creds), VerifyResult::Ok);
}

#[test]
fn method_enters_the_digest() {
    let mut h = Harness::new(AuthConfig::default());
    let ch = h.challenge_for(0, Algorithm::Sha256);
    let creds = answer(&ch, "INVITE", PASSWORD, Some(1));
    // The same credentials presented on a BYE do not verify.
    assert_eq!(
        h.verify_as(1, "BYE", &creds, h.src),
        VerifyResult::WrongPassword
    );
}

#[test]
fn replayed_nonce_count_is_refused() {
    let mut h = Harness::new(AuthConfig::default());
    let ch = h.challenge_for(0, Algorithm::Sha256);
    let first = answer(&ch, "INVITE", PASSWORD, Some(1));
    let second = answer(&ch, "INVITE", PASSWORD, Some(2));
    let fifth = answer(&ch, "INVITE", PASSWORD, Some(5));
    assert_eq!(h.verify(1, &first), VerifyResult::Ok);
    assert_eq!(h.verify(2, &first), VerifyResult::Replay);
    assert_eq!(h.verify(3, &fifth), VerifyResult::Ok);
    // Lower than the highest seen: refused even though never used.
    assert_eq!(h.verify(4, &second), VerifyResult::Replay);
    assert_eq!(
        h.verify(5, &answer(&ch, "INVITE", PASSWORD, Some(6))),
        VerifyResult::Ok
    );
}

#[test]
fn failed_attempts_do_not_advance_the_nonce_count() {
    let mut h = Harness::new(AuthConfig::default());
    let ch = h.challenge_for(0, Algorithm::Md5);
    // An attacker without the password sends nc=ffffffff: it fails and leaves no trace.
    let forged = answer(&ch, "INVITE", "guess", Some(u32::MAX));
    assert_eq!(h.verify(1, &forged), VerifyResult::WrongPassword);
    assert_eq!(
        h.verify(2, &answer(&ch, "INVITE", PASSWORD, Some(1))),
        VerifyResult::Ok
    );
}

#[test]
fn expired_nonce_is_stale_only_with_the_right_password() {
    let mut h = Harness::new(AuthConfig::default());
    let ch = h.challenge_for(0, Algorithm::Sha256);
    assert_eq!(
        h.verify(300, &answer(&ch, "INVITE", PASSWORD, Some(1))),
        VerifyResult::Ok
    );
    let late = answer(&ch, "INVITE", PASSWORD, Some(2));
    assert_eq!(h.verify(301, &late), VerifyResult::StaleNonce);
    assert_eq!(late.nonce, ch.nonce);
    assert_eq!(
        VerifyResult::StaleNonce.suggested_reply(),
        SuggestedReply::Challenge { stale: true }
    );
    let wrong = answer(&ch, "INVITE", "guess", Some(3));
    assert_eq!(h.verify(301, &wrong), VerifyResult::WrongPassword);

    // A configured lifetime is honoured.
    let mut short = Harness::new(AuthConfig {
        nonce_lifetime_secs: 30,
        ..AuthConfig::default()
    });
    let ch = short.challenge_for(100, Algorithm::Md5);
    assert_eq!(
        short.verify(131, &answer(&ch, "INVITE", PASSWORD, Some(1))),
        VerifyResult::StaleNonce
    );
}

#[test]
fn forged_nonces_are_bad() {
    let mut h = Harness::new(AuthConfig::default());
    let ch = h.challenge_for(0, Algorithm::Sha256);
    // One character changed, then the phone computes a "valid" response over it.
    let mut tampered = ch.clone();
    let mut bytes = tampered.nonce.into_bytes();
    bytes[3] = if bytes[3] == b'x' { b'y' } else { b'x' };
    tampered.nonce = String::from_utf8(bytes).unwrap();
    assert_eq!(
        h.verify(1, &answer(&tampered, "INVITE", PASSWORD, Some(1))),
        VerifyResult::BadNonce
    );
    // A nonce of a server that does not hold our secret.
    let mut other = Harness::with_worker(
        AuthConfig::default(),
        &NonceSecret::from_bytes(&[1u8; 32]).unwrap(),
        0,
    );
    let foreign = other.challenge_for(0, Algorithm::Sha256);
    assert_eq!(
        h.verify(1, &answer(&foreign, "INVITE", PASSWORD, Some(1))),
        VerifyResult::BadNonce
    );
    // Someone else's format altogether.
    let mut junk = ch.clone();
    junk.nonce = "dcd98b7102dd2f0e8b11d0f600bfb0c093".into();
    assert_eq!(
        h.verify(1, &answer(&junk, "INVITE", PASSWORD, Some(1))),
        VerifyResult::BadNonce
    );
    assert_eq!(h.auth.stats().bad_nonce, 3);
}

#[test]
fn wrong_realm_and_wrong_uri() {
    let mut h = Harness::new(AuthConfig::default());
    let ch = h.challenge_for(0, Algorithm::Sha256);
    let mut other_realm = ch.clone();
    other_realm.realm = "other.test".into();
    assert_eq!(
        h.verify(1, &answer(&other_realm, "INVITE", PASSWORD, Some(1))),
        VerifyResult::WrongRealm
    );
    // Realms are domains: case does not matter.
    let mut upper = ch.clone();
    upper.realm = REALM.to_uppercase();
    let creds = answer(&upper, "INVITE", PASSWORD, Some(1));
    // ...but the HA1 is over the exact string, so the hash does not match ours.
    assert_eq!(h.verify(1, &creds), VerifyResult::WrongPassword);

    let mut moved = answer(&ch, "INVITE", PASSWORD, Some(1));
    moved.uri = "sip:bob@example.test".into();
    assert_eq!(h.verify(1, &moved), VerifyResult::UriMismatch);
    assert!(matches!(
        VerifyResult::UriMismatch.suggested_reply(),
        SuggestedReply::BadRequest(_)
    ));
    // The right request still goes through with the same nonce.
    assert_eq!(
        h.verify(1, &answer(&ch, "INVITE", PASSWORD, Some(1))),
        VerifyResult::Ok
    );
}

#[test]
fn nonce_of_another_worker_is_stale_when_bound_and_accepted_when_not() {
    let secret = NonceSecret::from_bytes(&[42u8; 32]).unwrap();
    let mut w0 = Harness::with_worker(AuthConfig::default(), &secret, 0);
    let mut w1 = Harness::with_worker(AuthConfig::default(), &secret, 1);
    let ch = w0.challenge_for(0, Algorithm::Sha256);
    let creds = answer(&ch, "INVITE", PASSWORD, Some(1));
    assert_eq!(w1.verify(1, &creds), VerifyResult::StaleNonce);
    assert_eq!(w0.verify(1, &creds), VerifyResult::Ok);

    let unbound = AuthConfig {
        bind_nonce_to_worker: false,
        ..AuthConfig::default()
    };
    let mut w2 = Harness::with_worker(unbound, &secret, 2);
    assert_eq!(w2.verify(1, &creds), VerifyResult::Ok);
    assert_eq!(w2.verify(1, &creds), VerifyResult::Replay);
}

#[test]
fn nodes_sharing_a_configured_secret_accept_each_others_nonces() {
    let shared = AuthConfig {
        nonce_secret: Some("a5".repeat(32)),
        bind_nonce_to_worker: false,
        ..AuthConfig::default()
    };
    let secret = shared.nonce_secret().unwrap();
    let mut a = Harness::with_worker(
        AuthConfig {
            node_id: 1,
            ..shared.clone()
        },
        &secret,
        0,
    );
    let mut b = Harness::with_worker(
        AuthConfig {
            node_id: 2,
            ..shared
        },
        &secret,
        0,
    );
    let ch = a.challenge_for(0, Algorithm::Md5);
    assert_eq!(
        b.verify(1, &answer(&ch, "INVITE", PASSWORD, Some(1))),
        VerifyResult::Ok
    );
}

#[test]
fn unsupported_algorithms() {
    let mut h = Harness::new(AuthConfig::default());
    let ch = h.challenge_for(0, Algorithm::Md5);
    for token in ["MD5-sess", "SHA-512-256", "SHA-1"] {
        let mut creds = answer(&ch, "INVITE", PASSWORD, Some(1));
        creds.algorithm = Some(token.into());
        assert_eq!(
            h.verify(1, &creds),
            VerifyResult::UnsupportedAlgorithm,
            "{token}"
        );
    }
    // MD5 switched off in the configuration.
    let mut sha_only = Harness::new(AuthConfig {
        algorithms: vec![Algorithm::Sha256],
        ..AuthConfig::default()
    });
    let ch_sha = sha_only.challenge_for(0, Algorithm::Sha256);
    let mut md5_creds = answer(&ch_sha, "INVITE", PASSWORD, Some(1));
    md5_creds.algorithm = Some("MD5".into());
    assert_eq!(
        sha_only.verify(1, &md5_creds),
        VerifyResult::UnsupportedAlgorithm
    );
    // A subscriber with only an MD5 HA1 answering with SHA-256.
    let creds = answer(
        &h.challenge_for(0, Algorithm::Sha256),
        "INVITE",
        PASSWORD,
        Some(1),
    );
    let req = AuthRequest {
        src: h.src,
        method: b"INVITE",
        request_uri: RURI.as_bytes(),
        realm: REALM.as_bytes(),
    };
    let md5 = h.md5.clone();
    let only_md5 = StoredHa1 {
        md5: Some(md5.as_bytes()),
        sha256: None,
    };
    let v = h.auth.verify(h.at(1), &req, &creds.view(), Some(only_md5));
    assert_eq!(v.result, VerifyResult::UnsupportedAlgorithm);
}

type Mutation = Box<dyn Fn(&mut Creds)>;

#[test]
fn malformed_credentials_name_the_problem() {
    let mut h = Harness::new(AuthConfig::default());
    let ch = h.challenge_for(0, Algorithm::Sha256);
    let good = answer(&ch, "INVITE", PASSWORD, Some(1));
    let cases: Vec<(Mutation, MalformedReason)> = vec![
        (
            Box::new(|c| c.username.clear()),
            MalformedReason::MissingUsername,
        ),
        (Box::new(|c| c.nonce.clear()), MalformedReason::MissingNonce),
        (Box::new(|c| c.uri.clear()), MalformedReason::MissingUri),
        (
            Box::new(|c| c.response.clear()),
            MalformedReason::MissingResponse,
        ),
        (
            Box::new(|c| c.cnonce = None),
            MalformedReason::MissingCnonce,
        ),
        (Box::new(|c| c.nc = None), MalformedReason::BadNonceCount),
        (
            Box::new(|c| c.nc = Some("00000001x".into())),
            MalformedReason::BadNonceCount,
        ),
        (
            Box::new(|c| c.qop = Some("auth-int".into())),
            MalformedReason::UnsupportedQop,
        ),
        (
            Box::new(|c| c.response.truncate(10)),
            MalformedReason::BadResponse,
        ),
        (
            Box::new(|c| c.response.replace_range(0..1, "z")),
            MalformedReason::BadResponse,
        ),
    ];
    for (mutate, reason) in cases {
        let mut c = good.clone();
        mutate(&mut c);
        let r = h.verify(1, &c);
        assert_eq!(r, VerifyResult::Malformed(reason));
        assert_eq!(
            r.suggested_reply(),
            SuggestedReply::BadRequest(reason.reason_phrase())
        );
    }
    // None of that was a password failure, and the good credentials still work.
    assert_eq!(h.auth.stats().wrong_password, 0);
    assert_eq!(h.verify(1, &good), VerifyResult::Ok);
}

#[test]
fn response_hex_case_does_not_matter() {
    let mut h = Harness::new(AuthConfig::default());
    let ch = h.challenge_for(0, Algorithm::Md5);
    let mut creds = answer(&ch, "INVITE", PASSWORD, Some(1));
    creds.response = creds.response.to_uppercase();
    assert_eq!(h.verify(1, &creds), VerifyResult::Ok);
}

#[test]
fn unknown_user_looks_like_a_wrong_password() {
    let mut h = Harness::new(AuthConfig::default());
    let ch = h.challenge_for(0, Algorithm::Md5);
    let creds = answer(&ch, "INVITE", PASSWORD, Some(1));
    let req = AuthRequest {
        src: h.src,
        method: b"INVITE",
        request_uri: RURI.as_bytes(),
        realm: REALM.as_bytes(),
    };
    let v = h.auth.verify(h.at(1), &req, &creds.view(), None);
    assert_eq!(v.result, VerifyResult::WrongPassword);
    assert_eq!(h.auth.stats().wrong_password, 1);
}

#[test]
fn configured_opaque_must_come_back() {
    let mut h = Harness::new(AuthConfig {
        opaque: Some("5ccc069c403ebaf9f0171e9517f40e41".into()),
        ..AuthConfig::default()
    });
    let ch = h.challenge_for(0, Algorithm::Sha256);
    let good = answer(&ch, "INVITE", PASSWORD, Some(1));
    let mut missing = good.clone();
    missing.opaque = None;
    assert_eq!(
        h.verify(1, &missing),
        VerifyResult::Malformed(MalformedReason::OpaqueMismatch)
    );
    assert_eq!(h.verify(1, &good), VerifyResult::Ok);
}

#[test]
fn evicted_live_nonces_are_rechallenged_not_replayable() {
    let mut h = Harness::new(AuthConfig {
        nonce_cache_size: 2,
        ..AuthConfig::default()
    });
    let chs: Vec<_> = (0..3).map(|i| h.challenge_for(i, Algorithm::Md5)).collect();
    let first = answer(&chs[0], "INVITE", PASSWORD, Some(1));
    assert_eq!(h.verify(5, &first), VerifyResult::Ok);
    for ch in &chs[1..] {
        assert_eq!(
            h.verify(5, &answer(ch, "INVITE", PASSWORD, Some(1))),
            VerifyResult::Ok
        );
    }
    // The first nonce's entry was evicted: its replay is not accepted.
    assert_eq!(h.verify(6, &first), VerifyResult::StaleNonce);
    assert_eq!(h.auth.nonce_cache_live_evictions(), 1);
    // A nonce issued later than the evicted one is unaffected.
    let later = h.challenge_for(7, Algorithm::Md5);
    assert_eq!(
        h.verify(8, &answer(&later, "INVITE", PASSWORD, Some(1))),
        VerifyResult::Ok
    );
}
