//! The per-worker digest authenticator: issues challenges and verifies credentials,
//! combining the stateless nonces, the replay cache and the failure limits.
//!
//! Verification order (cheap and non-secret checks first; counters change only on a
//! verified response or a wrong password):
//!
//! ```text
//!  required params ─► algorithm ─► realm ─► blocked? ─► qop/nc/cnonce ─► opaque ─► uri
//!      Malformed   Unsupported  WrongRealm  Blocked      Malformed      Malformed  UriMismatch
//!  ─► nonce MAC ─► response hex ─► HA1 for alg ─► response == expected? ─► nonce expired
//!      BadNonce    Malformed       Unsupported    WrongPassword (counted;     or another
//!                                                 also unknown user, hashed   worker's?
//!                                                 against a dummy HA1)        StaleNonce
//!  ─► nc > highest seen? ─► record nc ─► Ok
//!      Replay / StaleNonce (forgotten)
//! ```
//!
//! RFC 7616 §3.3: `stale=true` is only for a request whose digest was valid for its
//! nonce, so expiry is judged after the response has been checked; a wrong password on an
//! old nonce is a wrong password.

use std::time::Instant;

use crate::sip::{uri_eq, Uri};

use super::algorithm::{
    ct_eq, digest_ha2, digest_response_from_ha2, Algorithm, AlgorithmSet, HexDigest, QopAuth,
};
use super::challenge::{write_challenge_headers, ChallengeKind, ChallengeParams};
use super::config::AuthConfig;
use super::credentials::{AuthRequest, DigestResponse, StoredHa1};
use super::failures::{BlockFlags, FailureTracker};
use super::nonce::{Nonce, NonceCheck, NonceIssuer, NonceSecret, UnixTimeAnchor};
use super::outcome::{MalformedReason, Verification, VerifyResult};
use super::replay::{NonceCountCache, NonceCountCheck};

/// Counters of one worker's authenticator (summed over workers by the management API).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AuthStats {
    pub challenges: u64,
    pub ok: u64,
    pub wrong_password: u64,
    pub stale_nonce: u64,
    pub bad_nonce: u64,
    pub wrong_realm: u64,
    pub uri_mismatch: u64,
    pub replay: u64,
    pub unsupported_algorithm: u64,
    pub malformed: u64,
    pub blocked: u64,
    pub blocks_started: u64,
}

/// Digest authentication for one worker. Not shared: each worker owns one, built from the
/// same configuration and secret.
pub struct Authenticator {
    nonces: NonceIssuer,
    anchor: UnixTimeAnchor,
    counts: NonceCountCache,
    failures: FailureTracker,
    algorithms: AlgorithmSet,
    allow_without_qop: bool,
    bind_to_worker: bool,
    opaque: Option<Box<[u8]>>,
    ha2: Ha2Cache,
    stats: AuthStats,
}

/// The last HA2 computed: phones of one registrar all send `REGISTER` to the same URI
/// (`sip:<domain>`), so HA2 = H(method ":" uri) repeats; one hash of four saved (MD5).
/// The key is exactly the hashed text (plus the algorithm), so a hit is always right; the
/// key is public (method and URI) and the value depends on nothing secret.
#[derive(Default)]
struct Ha2Cache {
    /// `alg` as a byte, then method, `:`, uri; empty when nothing is cached.
    key: Vec<u8>,
    ha2: Option<HexDigest>,
}

impl Ha2Cache {
    /// Longest method + URI kept (longer ones are hashed each time, not cached).
    const MAX_KEY: usize = 256;

    fn get(&mut self, alg: Algorithm, method: &[u8], uri: &[u8]) -> HexDigest {
        let tag = match alg {
            Algorithm::Md5 => b'm',
            Algorithm::Sha256 => b's',
        };
        let len = 2 + method.len() + uri.len();
        if let Some(h) = &self.ha2 {
            let k = &self.key;
            if k.len() == len
                && k[0] == tag
                && &k[1..1 + method.len()] == method
                && k[1 + method.len()] == b':'
                && &k[2 + method.len()..] == uri
            {
                return *h;
            }
        }
        let ha2 = digest_ha2(alg, method, uri);
        if len <= Self::MAX_KEY {
            self.key.clear();
            self.key.push(tag);
            self.key.extend_from_slice(method);
            self.key.push(b':');
            self.key.extend_from_slice(uri);
            self.ha2 = Some(ha2);
        }
        ha2
    }
}

impl Authenticator {
    /// `config` must have passed [`AuthConfig::validate`]; `secret` is the same for every
    /// worker (and every node that must accept this node's nonces); `worker` is this
    /// worker's index; `anchor` pairs an `Instant` with the wall clock once at start;
    /// `salt_seed` should be drawn from the OS random source.
    pub fn new(
        config: &AuthConfig,
        secret: &NonceSecret,
        worker: u16,
        anchor: UnixTimeAnchor,
        salt_seed: u64,
    ) -> Self {
        let issuer = (u32::from(config.node_id) << 16) | u32::from(worker);
        let algorithms = match config.algorithm_set() {
            set if set.is_empty() => AlgorithmSet::BOTH,
            set => set,
        };
        Authenticator {
            nonces: NonceIssuer::new(secret, issuer, config.nonce_lifetime(), salt_seed),
            anchor,
            counts: NonceCountCache::new(
                config.nonce_cache_size,
                config.nonce_lifetime().as_secs(),
            ),
            failures: FailureTracker::new(
                config.user_failure_limit(),
                config.source_failure_limit(),
                config.failure_table_size,
                config.failure_table_size,
            ),
            algorithms,
            allow_without_qop: config.allow_without_qop,
            bind_to_worker: config.bind_nonce_to_worker,
            opaque: config.opaque.as_ref().map(|o| o.as_bytes().into()),
            ha2: Ha2Cache {
                key: Vec::with_capacity(Ha2Cache::MAX_KEY),
                ha2: None,
            },
            stats: AuthStats::default(),
        }
    }

    /// The configured algorithms.
    pub fn algorithms(&self) -> AlgorithmSet {
        self.algorithms
    }

    /// A fresh nonce issued at `now`.
    pub fn issue_nonce(&mut self, now: Instant) -> Nonce {
        self.nonces.issue(self.anchor.unix_secs(now))
    }

    /// Append the challenge header lines (`WWW-Authenticate: …\r\n` for 401,
    /// `Proxy-Authenticate: …\r\n` for 407) with a fresh nonce. `offer` narrows the
    /// configured algorithms (e.g. to the HA1s the user has, [`StoredHa1::algorithms`]);
    /// if nothing is left, all configured ones are offered.
    pub fn write_challenge(
        &mut self,
        now: Instant,
        out: &mut Vec<u8>,
        kind: ChallengeKind,
        realm: &[u8],
        offer: AlgorithmSet,
        stale: bool,
    ) {
        let nonce = self.issue_nonce(now);
        let algorithms = match self.algorithms.intersect(offer) {
            set if set.is_empty() => self.algorithms,
            set => set,
        };
        let params = ChallengeParams {
            realm,
            nonce: nonce.as_bytes(),
            stale,
            opaque: self.opaque.as_deref(),
        };
        write_challenge_headers(out, kind, algorithms, &params);
        self.stats.challenges += 1;
    }

    /// Whether a user (in `realm`) or the source is blocked by the failure limits; for a
    /// caller that wants to refuse before looking credentials up ([`Self::verify`] checks
    /// this itself).
    pub fn blocked(
        &mut self,
        now: Instant,
        src: std::net::IpAddr,
        username: &[u8],
        realm: &[u8],
    ) -> BlockFlags {
        let user = self.failures.user_key(username, realm);
        self.failures.blocked(now, Some(user), src)
    }

    /// Verify `creds` for `request`. `stored` is what the forwarding table holds for
    /// `creds.username` in `request.realm` (`None`: no such user).
    pub fn verify(
        &mut self,
        now: Instant,
        request: &AuthRequest<'_>,
        creds: &DigestResponse<'_>,
        stored: Option<StoredHa1<'_>>,
    ) -> Verification {
        let mut newly_blocked = BlockFlags::default();
        let result = self.verify_inner(now, request, creds, stored, &mut newly_blocked);
        let s = &mut self.stats;
        match result {
            VerifyResult::Ok => s.ok += 1,
            VerifyResult::WrongPassword => s.wrong_password += 1,
            VerifyResult::StaleNonce => s.stale_nonce += 1,
            VerifyResult::BadNonce => s.bad_nonce += 1,
            VerifyResult::WrongRealm => s.wrong_realm += 1,
            VerifyResult::UriMismatch => s.uri_mismatch += 1,
            VerifyResult::Replay => s.replay += 1,
            VerifyResult::UnsupportedAlgorithm => s.unsupported_algorithm += 1,
            VerifyResult::Malformed(_) => s.malformed += 1,
            VerifyResult::Blocked(_) => s.blocked += 1,
        }
        s.blocks_started += u64::from(newly_blocked.user) + u64::from(newly_blocked.source);
        Verification {
            result,
            newly_blocked,
        }
    }

    fn verify_inner(
        &mut self,
        now: Instant,
        request: &AuthRequest<'_>,
        creds: &DigestResponse<'_>,
        stored: Option<StoredHa1<'_>>,
        newly_blocked: &mut BlockFlags,
    ) -> VerifyResult {
        use MalformedReason as M;
        let required = [
            (creds.username, M::MissingUsername),
            (creds.nonce, M::MissingNonce),
            (creds.uri, M::MissingUri),
            (creds.response, M::MissingResponse),
        ];
        if let Some((_, reason)) = required.iter().find(|(v, _)| v.is_empty()) {
            return VerifyResult::Malformed(*reason);
        }

        // RFC 2617 §3.2.2: no algorithm means MD5.
        let alg = match creds.algorithm {
            None => Algorithm::Md5,
            Some(token) => match Algorithm::from_token(token) {
                Some(alg) => alg,
                None => return VerifyResult::UnsupportedAlgorithm,
            },
        };
        if !self.algorithms.contains(alg) {
            return VerifyResult::UnsupportedAlgorithm;
        }

        if !creds.realm.eq_ignore_ascii_case(request.realm) {
            return VerifyResult::WrongRealm;
        }

        // Counted under the served realm, so case variants of it are one user.
        let user = self.failures.user_key(creds.username, request.realm);
        let blocked = self.failures.blocked(now, Some(user), request.src);
        if blocked.any() {
            return VerifyResult::Blocked(blocked);
        }

        let qop = match creds.qop {
            Some(q) if q.eq_ignore_ascii_case(b"auth") => {
                let cnonce = match creds.cnonce {
                    Some(c) if !c.is_empty() => c,
                    _ => return VerifyResult::Malformed(M::MissingCnonce),
                };
                let (nc_text, nc) = match creds.nc.and_then(|t| parse_nc(t).map(|n| (t, n))) {
                    Some(pair) => pair,
                    None => return VerifyResult::Malformed(M::BadNonceCount),
                };
                Some((
                    QopAuth {
                        nc: nc_text,
                        cnonce,
                        qop: q,
                    },
                    nc,
                ))
            }
            Some(_) => return VerifyResult::Malformed(M::UnsupportedQop),
            None if self.allow_without_qop => None,
            None => return VerifyResult::Malformed(M::QopRequired),
        };

        if let Some(expected) = &self.opaque {
            if !creds.opaque.is_some_and(|o| ct_eq(o, expected)) {
                return VerifyResult::Malformed(M::OpaqueMismatch);
            }
        }

        // RFC 3261 §22.4 / RFC 2617 §3.2.2.5: the digest covers `uri`, so it must be the
        // Request-URI or a valid response could be moved onto another request. Clients
        // copy the Request-URI verbatim, so bytes are compared first; only a difference
        // pays for parsing both and comparing by RFC 3261 §19.1.4 URI equality.
        if creds.uri != request.request_uri && !same_uri(creds.uri, request.request_uri) {
            return VerifyResult::UriMismatch;
        }

        let unix_now = self.anchor.unix_secs(now);
        let (info, expired) = match self.nonces.check(creds.nonce, unix_now) {
            NonceCheck::Fresh(info) => (info, false),
            NonceCheck::Expired(info) => (info, true),
            NonceCheck::Forged => return VerifyResult::BadNonce,
        };

        let Some(given) = HexDigest::parse_lower(creds.response, alg.hex_len()) else {
            return VerifyResult::Malformed(M::BadResponse);
        };
        let stored_ha1 = match stored {
            // The table validates HA1s; one that is not hex of the right length is unusable.
            Some(stored) => match alg {
                Algorithm::Md5 => stored.md5,
                Algorithm::Sha256 => stored.sha256,
            }
            .and_then(|h| HexDigest::parse_lower(h, alg.hex_len())),
            None => None,
        };
        if stored.is_some() && stored_ha1.is_none() {
            return VerifyResult::UnsupportedAlgorithm;
        }
        // Unknown user: computed against a dummy HA1 all the same, so that neither the
        // verdict nor the time taken tells a missing user from a wrong password.
        let ha1: &[u8] = match (&stored_ha1, alg) {
            (Some(h), _) => h.as_bytes(),
            (None, Algorithm::Md5) => &[b'0'; 32],
            (None, Algorithm::Sha256) => &[b'0'; 64],
        };
        let ha2 = self.ha2.get(alg, request.method, creds.uri);
        let expected =
            digest_response_from_ha2(alg, ha1, creds.nonce, qop.map(|(q, _)| q), ha2.as_bytes());
        let matches = expected == given;
        if !matches || stored_ha1.is_none() {
            *newly_blocked = self.failures.record_failure(now, Some(user), request.src);
            return VerifyResult::WrongPassword;
        }

        if expired || (self.bind_to_worker && info.issuer != self.nonces.issuer()) {
            return VerifyResult::StaleNonce;
        }

        if let Some((_, nc)) = qop {
            match self.counts.check(&info, nc) {
                NonceCountCheck::Accept => self.counts.record(&info, nc, unix_now),
                NonceCountCheck::Replay => return VerifyResult::Replay,
                NonceCountCheck::Forgotten => return VerifyResult::StaleNonce,
            }
        }
        VerifyResult::Ok
    }

    pub fn stats(&self) -> AuthStats {
        self.stats
    }

    /// Nonces whose replay entry had to be evicted while still live (cache too small).
    pub fn nonce_cache_live_evictions(&self) -> u64 {
        self.counts.live_evictions()
    }
}

/// Equal as SIP URIs (RFC 3261 §19.1.4); false when either does not parse.
fn same_uri(a: &[u8], b: &[u8]) -> bool {
    match (Uri::parse(a), Uri::parse(b)) {
        (Ok(a), Ok(b)) => uri_eq(&a, &b),
        _ => false,
    }
}

/// RFC 7616 §3.4: nc is 8 hex digits; 1 to 8 are accepted (some phones drop leading zeros).
fn parse_nc(text: &[u8]) -> Option<u32> {
    if text.is_empty() || text.len() > 8 {
        return None;
    }
    let mut n = 0u32;
    for &c in text {
        let d = (c as char).to_digit(16)?;
        n = (n << 4) | d;
    }
    Some(n)
}

#[cfg(test)]
mod tests {
    use super::{digest_ha2, parse_nc, Algorithm, Ha2Cache};

    #[test]
    fn ha2_cache_answers_what_hashing_would() {
        let mut cache = Ha2Cache::default();
        let long_uri = vec![b'x'; 300];
        let inputs: [(Algorithm, &[u8], &[u8]); 7] = [
            (Algorithm::Md5, b"REGISTER", b"sip:example.test"),
            (Algorithm::Md5, b"REGISTER", b"sip:example.test"),
            (Algorithm::Sha256, b"REGISTER", b"sip:example.test"),
            (Algorithm::Md5, b"REGISTER", b"sip:example.tesu"),
            (Algorithm::Md5, b"INVITE", b"sip:example.test"),
            (Algorithm::Md5, b"REGISTER", &long_uri),
            (Algorithm::Md5, b"REGISTER", b"sip:example.test"),
        ];
        for (alg, method, uri) in inputs {
            assert_eq!(
                cache.get(alg, method, uri).as_bytes(),
                digest_ha2(alg, method, uri).as_bytes(),
                "{alg:?} {}",
                String::from_utf8_lossy(uri)
            );
        }
    }

    #[test]
    fn nc_parsing() {
        assert_eq!(parse_nc(b"00000001"), Some(1));
        assert_eq!(parse_nc(b"0000000A"), Some(10));
        assert_eq!(parse_nc(b"ffffffff"), Some(u32::MAX));
        assert_eq!(parse_nc(b"1"), Some(1));
        assert_eq!(parse_nc(b""), None);
        assert_eq!(parse_nc(b"000000001"), None);
        assert_eq!(parse_nc(b"0000000g"), None);
    }
}
