//! Brute-force and flood limits at the protocol level, on virtual time.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use ringlet::auth::{
    compute_ha1, digest_response, Algorithm, AlgorithmSet, AuthConfig, AuthRequest, Authenticator,
    BlockFlags, ChallengeKind, DigestResponse, FloodGuard, FloodVerdict, NonceSecret, QopAuth,
    StoredHa1, SuggestedReply, UnixTimeAnchor, VerifyResult,
};

const REALM: &[u8] = b"example.test";
const RURI: &[u8] = b"sip:example.test";

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

struct Phone {
    user: String,
    password: String,
    nonce: String,
    nc: u32,
    response: String,
    nc_text: String,
}

impl Phone {
    fn new(user: &str, password: &str) -> Phone {
        Phone {
            user: user.into(),
            password: password.into(),
            nonce: String::new(),
            nc: 0,
            response: String::new(),
            nc_text: String::new(),
        }
    }

    /// Take the nonce from a challenge written by `auth`.
    fn challenged(&mut self, auth: &mut Authenticator, now: Instant) {
        let mut out = Vec::new();
        auth.write_challenge(
            now,
            &mut out,
            ChallengeKind::Www,
            REALM,
            AlgorithmSet::BOTH,
            false,
        );
        let text = String::from_utf8(out).unwrap();
        let start = text.find("nonce=\"").unwrap() + 7;
        self.nonce = text[start..start + 48].to_string();
        self.nc = 0;
    }

    /// Credentials for the next request (MD5, qop=auth), computed with the phone's password.
    fn creds(&mut self) -> DigestResponse<'_> {
        self.nc += 1;
        self.nc_text = format!("{:08x}", self.nc);
        let ha1 = compute_ha1(
            Algorithm::Md5,
            self.user.as_bytes(),
            REALM,
            self.password.as_bytes(),
        );
        let qop = QopAuth {
            nc: self.nc_text.as_bytes(),
            cnonce: b"c0ffee",
            qop: b"auth",
        };
        self.response = digest_response(
            Algorithm::Md5,
            ha1.as_bytes(),
            self.nonce.as_bytes(),
            Some(qop),
            b"REGISTER",
            RURI,
        )
        .as_str()
        .to_owned();
        DigestResponse {
            username: self.user.as_bytes(),
            realm: REALM,
            nonce: self.nonce.as_bytes(),
            uri: RURI,
            response: self.response.as_bytes(),
            algorithm: Some(b"MD5"),
            cnonce: Some(b"c0ffee"),
            opaque: None,
            qop: Some(b"auth"),
            nc: Some(self.nc_text.as_bytes()),
        }
    }
}

struct Registrar {
    auth: Authenticator,
    t0: Instant,
    table: Vec<(String, String)>,
}

impl Registrar {
    fn new(config: AuthConfig) -> Registrar {
        config.validate().unwrap();
        let t0 = Instant::now();
        let secret = NonceSecret::from_bytes(&[9u8; 32]).unwrap();
        let auth = Authenticator::new(
            &config,
            &secret,
            0,
            UnixTimeAnchor::new(t0, 1_800_000_000),
            1,
        );
        let table = ["alice", "bob", "carol"]
            .iter()
            .map(|u| {
                let ha1 = compute_ha1(Algorithm::Md5, u.as_bytes(), REALM, b"secret");
                (u.to_string(), ha1.as_str().to_owned())
            })
            .collect();
        Registrar { auth, t0, table }
    }

    fn at(&self, secs: u64) -> Instant {
        self.t0 + Duration::from_secs(secs)
    }

    fn register(
        &mut self,
        secs: u64,
        src: IpAddr,
        phone: &mut Phone,
    ) -> (VerifyResult, BlockFlags) {
        let now = self.at(secs);
        phone.challenged(&mut self.auth, now);
        let creds = phone.creds();
        let stored = self
            .table
            .iter()
            .find(|(u, _)| u.as_bytes() == creds.username)
            .map(|(_, ha1)| StoredHa1 {
                md5: Some(ha1.as_bytes()),
                sha256: None,
            });
        let req = AuthRequest {
            src,
            method: b"REGISTER",
            request_uri: RURI,
            realm: REALM,
        };
        let v = self.auth.verify(now, &req, &creds, stored);
        (v.result, v.newly_blocked)
    }
}

fn limits(per_user: u32, per_source: u32) -> AuthConfig {
    AuthConfig {
        max_failures_per_user: per_user,
        max_failures_per_source: per_source,
        failure_window_secs: 60,
        failure_block_secs: 120,
        ..AuthConfig::default()
    }
}

#[test]
fn wrong_passwords_block_the_user_then_the_cooldown_unblocks() {
    let mut r = Registrar::new(limits(3, 0));
    let mut attacker = Phone::new("alice", "guess");
    let mut owner = Phone::new("alice", "secret");
    let src = ip("127.0.0.20");
    let mut newly = Vec::new();
    for i in 0..3 {
        let (res, flags) = r.register(i, src, &mut attacker);
        assert_eq!(res, VerifyResult::WrongPassword);
        newly.push(flags.user);
    }
    // Exactly the third failure reports the new block: log once.
    assert_eq!(newly, vec![false, false, true]);
    // Blocked: even the right password from another address is refused, without a new
    // "newly blocked" report.
    for i in 3..10 {
        let (res, flags) = r.register(i, ip("127.0.0.21"), &mut owner);
        assert_eq!(
            res,
            VerifyResult::Blocked(BlockFlags {
                user: true,
                source: false
            })
        );
        assert!(!flags.any());
        assert!(matches!(
            res.suggested_reply(),
            SuggestedReply::Forbidden(_)
        ));
    }
    assert!(r.auth.blocked(r.at(10), src, b"alice", REALM).user);
    // Other users are not affected.
    let mut bob = Phone::new("bob", "secret");
    assert_eq!(r.register(10, src, &mut bob).0, VerifyResult::Ok);
    // Block started at t=2 for 120 s.
    assert!(matches!(
        r.register(121, src, &mut owner).0,
        VerifyResult::Blocked(_)
    ));
    assert_eq!(r.register(122, src, &mut owner).0, VerifyResult::Ok);
    // Counting starts again from zero after the block.
    let (res, flags) = r.register(123, src, &mut attacker);
    assert_eq!((res, flags.any()), (VerifyResult::WrongPassword, false));
    assert_eq!(r.auth.stats().blocks_started, 1);
}

#[test]
fn failures_outside_the_window_do_not_accumulate() {
    let mut r = Registrar::new(limits(3, 0));
    let mut attacker = Phone::new("alice", "guess");
    let src = ip("127.0.0.22");
    // Two failures per minute, forever: never three within one 60 s window.
    for minute in 0..10 {
        for s in [0, 30] {
            let (res, flags) = r.register(minute * 61 + s, src, &mut attacker);
            assert_eq!(res, VerifyResult::WrongPassword);
            assert!(!flags.any());
        }
    }
}

#[test]
fn wrong_passwords_from_one_source_block_that_source_only() {
    let mut r = Registrar::new(limits(0, 4));
    let scanner = ip("127.0.0.30");
    // A scanner tries one password on many users (and users that do not exist).
    let names = ["alice", "bob", "carol", "nosuchuser"];
    let mut results = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let mut p = Phone::new(name, "123456");
        results.push(r.register(i as u64, scanner, &mut p));
    }
    assert!(results
        .iter()
        .all(|(res, _)| *res == VerifyResult::WrongPassword));
    let newly: Vec<bool> = results.iter().map(|(_, f)| f.source).collect();
    assert_eq!(newly, vec![false, false, false, true]);
    let mut alice = Phone::new("alice", "secret");
    assert_eq!(
        r.register(5, scanner, &mut alice).0,
        VerifyResult::Blocked(BlockFlags {
            user: false,
            source: true
        })
    );
    // The same user from elsewhere is fine: per-user limit is off.
    assert_eq!(
        r.register(5, ip("127.0.0.31"), &mut alice).0,
        VerifyResult::Ok
    );
    assert_eq!(r.register(3 + 120, scanner, &mut alice).0, VerifyResult::Ok);
}

#[test]
fn failure_tables_stay_bounded_under_a_user_name_spray() {
    let mut r = Registrar::new(AuthConfig {
        failure_table_size: 16,
        max_failures_per_source: 0,
        max_failures_per_user: 2,
        ..limits(2, 0)
    });
    // Many names, each failing once: the table evicts, nothing grows or blocks.
    for i in 0..2000u64 {
        let mut p = Phone::new(&format!("u{i}"), "x");
        let (res, flags) = r.register(i / 100, ip("127.0.0.40"), &mut p);
        assert_eq!(res, VerifyResult::WrongPassword);
        assert!(!flags.any());
    }
    // A user under attack keeps being counted even while the spray goes on.
    let mut victim = Phone::new("alice", "guess");
    let mut spray = Phone::new("zzz", "x");
    assert!(!r.register(30, ip("127.0.0.41"), &mut victim).1.user);
    r.register(30, ip("127.0.0.40"), &mut spray);
    assert!(r.register(31, ip("127.0.0.41"), &mut victim).1.user);
}

fn pike(threshold: u32, window: u64, cooldown: u64) -> FloodGuard {
    let config = AuthConfig {
        pike_threshold: threshold,
        pike_window_secs: window,
        pike_cooldown_secs: cooldown,
        ..AuthConfig::default()
    };
    config.validate().unwrap();
    FloodGuard::new(config.flood_limit(), config.pike_table_size)
}

#[test]
fn pike_drops_above_threshold_for_the_cooldown() {
    let mut g = pike(20, 2, 60);
    let t0 = Instant::now();
    let flooder = ip("127.0.0.50");
    let quiet = ip("127.0.0.51");
    let mut verdicts = Vec::new();
    for i in 0..100u64 {
        // 100 requests within one second.
        verdicts.push(g.check(t0 + Duration::from_millis(i * 10), flooder, false));
    }
    assert!(verdicts[..20].iter().all(|v| *v == FloodVerdict::Accept));
    assert_eq!(
        verdicts[20],
        FloodVerdict::Drop {
            newly_blocked: true
        }
    );
    assert!(verdicts[21..].iter().all(|v| *v
        == FloodVerdict::Drop {
            newly_blocked: false
        }));
    assert_eq!(g.dropped(), 80);
    assert_eq!(g.blocks_started(), 1);
    // Another source is unaffected.
    assert_eq!(
        g.check(t0 + Duration::from_secs(1), quiet, false),
        FloodVerdict::Accept
    );
    // Still dropped just before the cool-down (started at t=0.2 s) ends, even when quiet.
    assert_eq!(
        g.check(t0 + Duration::from_millis(60_100), flooder, false),
        FloodVerdict::Drop {
            newly_blocked: false
        }
    );
    // After it, a source that behaves is accepted again.
    assert_eq!(
        g.check(t0 + Duration::from_secs(61), flooder, false),
        FloodVerdict::Accept
    );
    assert_eq!(g.blocks_started(), 1);
}

#[test]
fn pike_reblocks_a_source_still_flooding_once_per_cooldown() {
    let mut g = pike(10, 1, 5);
    let t0 = Instant::now();
    let src = ip("127.0.0.52");
    let mut new_blocks = 0;
    // 50 requests per second for 30 s.
    for ms in (0..30_000u64).step_by(20) {
        if let FloodVerdict::Drop {
            newly_blocked: true,
        } = g.check(t0 + Duration::from_millis(ms), src, false)
        {
            new_blocks += 1;
        }
    }
    // One block per 5 s cool-down: logged ~6 times, not 1500.
    assert!((5..=7).contains(&new_blocks), "{new_blocks}");
    assert_eq!(g.blocks_started(), new_blocks);
}

#[test]
fn pike_steady_rate_below_threshold_passes() {
    let mut g = pike(30, 2, 60);
    let t0 = Instant::now();
    let src = ip("127.0.0.53");
    // 10 requests per second (20 per 2 s window) for a minute.
    for ms in (0..60_000u64).step_by(100) {
        assert_eq!(
            g.check(t0 + Duration::from_millis(ms), src, false),
            FloodVerdict::Accept
        );
    }
    assert_eq!(g.dropped(), 0);
}

#[test]
fn trusted_peers_are_exempt_from_pike() {
    let mut g = pike(5, 2, 60);
    let t0 = Instant::now();
    let gateway = ip("127.0.0.54");
    for _ in 0..1000 {
        assert_eq!(g.check(t0, gateway, true), FloodVerdict::Accept);
    }
    assert_eq!(g.tracked(), 0);
    // The same address untrusted is limited.
    let drops = (0..10)
        .filter(|_| g.check(t0, gateway, false) != FloodVerdict::Accept)
        .count();
    assert_eq!(drops, 5);
}

#[test]
fn pike_counts_ipv6_by_64_and_stays_bounded() {
    let config = AuthConfig {
        pike_threshold: 5,
        pike_table_size: 100,
        ..AuthConfig::default()
    };
    let mut g = FloodGuard::new(config.flood_limit(), config.pike_table_size);
    let t0 = Instant::now();
    // One /64 rotating its interface identifier is one source.
    let verdicts: Vec<_> = (0..10)
        .map(|i| g.check(t0, ip(&format!("::1:0:0:0:{i}")), false))
        .collect();
    assert_eq!(
        verdicts[5],
        FloodVerdict::Drop {
            newly_blocked: true
        }
    );
    for i in 0..10_000u32 {
        let a = ip(&format!(
            "127.{}.{}.{}",
            (i >> 16) & 255,
            (i >> 8) & 255,
            i & 255
        ));
        g.check(t0, a, false);
    }
    assert_eq!(g.tracked(), 100);
    // Disabled pike accepts everything and tracks nothing.
    let mut off = pike(0, 2, 60);
    for _ in 0..100 {
        assert_eq!(off.check(t0, ip("127.0.0.55"), false), FloodVerdict::Accept);
    }
}
