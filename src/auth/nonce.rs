//! Stateless nonces: a nonce carries its own issue time and issuer and is authenticated by
//! an HMAC, so checking one needs no table shared between workers or nodes.
//!
//! ```text
//!   36 bytes, base64url without padding = 48 characters
//!   ┌──────────────┬──────────────┬──────────────┬───────────────────────────────┐
//!   │ issued (u64) │ issuer (u32) │ salt (u64)   │ HMAC-SHA256(secret, first 20) │
//!   │ unix seconds │ node<<16|wkr │ per-worker   │ truncated to 16 bytes         │
//!   └──────────────┴──────────────┴──────────────┴───────────────────────────────┘
//! ```
//!
//! - Authenticity: only a holder of the secret can produce a valid tag, so a forged or
//!   altered nonce is told apart from an old one (RFC 7616 §5.4: the server may reject
//!   nonces it did not issue). Nodes that configure the same secret accept each other's
//!   nonces.
//! - Freshness: the issue time is inside the MAC; a nonce older than the lifetime is
//!   `Expired` (answered with `stale=true`, RFC 7616 §3.3), one from further in the
//!   future than [`MAX_FUTURE_SKEW_SECS`] is treated as forged.
//! - Uniqueness: the salt comes from a per-worker generator seeded from the OS at start, so
//!   two nonces of one worker in one second differ; the issuer separates workers and nodes.
//!   The 16-byte tag then identifies a nonce, and is the key of the replay cache.
//!
//! Time is an argument (unix seconds): nothing here reads a clock. [`UnixTimeAnchor`]
//! turns the core's `Instant` into unix seconds from one wall-clock reading taken at start.

use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::algorithm::ct_eq;

/// How far in the future an issue time may lie before the nonce is refused as forged
/// (clock skew between nodes sharing a secret).
pub const MAX_FUTURE_SKEW_SECS: u64 = 60;

const PAYLOAD_LEN: usize = 20;
const TAG_LEN: usize = 16;
const RAW_LEN: usize = PAYLOAD_LEN + TAG_LEN;
/// Length of a nonce in characters.
pub const NONCE_LEN: usize = RAW_LEN / 3 * 4;

/// The HMAC key for nonces: 16 to 64 bytes.
#[derive(Clone)]
pub struct NonceSecret {
    // Zero-padded to the SHA-256 block size, which is exactly what HMAC does with a
    // shorter key (RFC 2104 §2), so keying from the padded block is the same MAC.
    key: [u8; 64],
}

/// Why a configured secret was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretError {
    /// Not an even number of hex digits.
    NotHex,
    /// Shorter than 16 bytes (32 hex digits) or longer than 64 bytes (128 hex digits).
    BadLength,
    /// The OS random source failed.
    Random,
}

impl std::fmt::Display for SecretError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SecretError::NotHex => "nonce secret must be hex digits",
            SecretError::BadLength => "nonce secret must be 32 to 128 hex digits (16-64 bytes)",
            SecretError::Random => "could not read the OS random source",
        })
    }
}

impl std::error::Error for SecretError {}

impl NonceSecret {
    /// 32 fresh random bytes from the OS (at start; each process then has its own secret).
    pub fn generate() -> Result<NonceSecret, SecretError> {
        let mut key = [0u8; 64];
        getrandom::getrandom(&mut key[..32]).map_err(|_| SecretError::Random)?;
        Ok(NonceSecret { key })
    }

    /// A secret shared by several nodes, as hex (from the configuration).
    pub fn from_hex(hex: &str) -> Result<NonceSecret, SecretError> {
        let hex = hex.trim().as_bytes();
        if hex.len() % 2 != 0 || !hex.iter().all(u8::is_ascii_hexdigit) {
            return Err(SecretError::NotHex);
        }
        if !(32..=128).contains(&hex.len()) {
            return Err(SecretError::BadLength);
        }
        let mut key = [0u8; 64];
        for (dst, pair) in key.iter_mut().zip(hex.chunks_exact(2)) {
            *dst = (hex_val(pair[0]) << 4) | hex_val(pair[1]);
        }
        Ok(NonceSecret { key })
    }

    /// Raw bytes (tests and benchmarks).
    pub fn from_bytes(bytes: &[u8]) -> Result<NonceSecret, SecretError> {
        if !(16..=64).contains(&bytes.len()) {
            return Err(SecretError::BadLength);
        }
        let mut key = [0u8; 64];
        key[..bytes.len()].copy_from_slice(bytes);
        Ok(NonceSecret { key })
    }

    fn mac(&self) -> Hmac<Sha256> {
        <Hmac<Sha256> as hmac::digest::KeyInit>::new(&self.key.into())
    }
}

impl std::fmt::Debug for NonceSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NonceSecret(..)")
    }
}

fn hex_val(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        b'A'..=b'F' => c - b'A' + 10,
        // Callers check `is_ascii_hexdigit` first.
        _ => 0,
    }
}

/// Converts the core's monotonic `now` into unix seconds, from one pairing of an
/// `Instant` with the wall clock that the runtime takes at start.
#[derive(Debug, Clone, Copy)]
pub struct UnixTimeAnchor {
    at: Instant,
    unix_secs: u64,
}

impl UnixTimeAnchor {
    /// `unix_secs` is the wall-clock time (seconds since 1970) at the instant `at`.
    pub fn new(at: Instant, unix_secs: u64) -> Self {
        UnixTimeAnchor { at, unix_secs }
    }

    pub fn unix_secs(&self, now: Instant) -> u64 {
        self.unix_secs
            .saturating_add(now.saturating_duration_since(self.at).as_secs())
    }
}

/// A nonce as written into a challenge.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Nonce {
    text: [u8; NONCE_LEN],
}

impl Nonce {
    pub fn as_bytes(&self) -> &[u8] {
        &self.text
    }

    pub fn as_str(&self) -> &str {
        // Only base64url characters are ever written into `text`.
        std::str::from_utf8(&self.text).unwrap_or("")
    }
}

impl std::fmt::Debug for Nonce {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Nonce({})", self.as_str())
    }
}

/// What an authentic nonce says about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NonceInfo {
    /// Unix seconds at issue.
    pub issued_at: u64,
    /// `node_id << 16 | worker` of the issuer.
    pub issuer: u32,
    /// The MAC tag: unique per nonce, the key of the replay cache.
    pub tag: u128,
}

/// The result of checking a nonce presented in credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceCheck {
    /// Authentic and within its lifetime.
    Fresh(NonceInfo),
    /// Authentic but older than the lifetime: answer with `stale=true`.
    Expired(NonceInfo),
    /// Not issued by a holder of the secret (bad encoding, bad tag, or a future time).
    Forged,
}

/// Issues and checks nonces for one worker.
#[derive(Clone)]
pub struct NonceIssuer {
    mac: Hmac<Sha256>,
    issuer: u32,
    lifetime: Duration,
    salt_state: u64,
}

impl std::fmt::Debug for NonceIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NonceIssuer")
            .field("issuer", &self.issuer)
            .field("lifetime", &self.lifetime)
            .finish_non_exhaustive()
    }
}

impl NonceIssuer {
    /// `issuer` is `node_id << 16 | worker`; `salt_seed` should come from the OS random
    /// source (`getrandom`) so that restarts and nodes do not repeat salts.
    pub fn new(secret: &NonceSecret, issuer: u32, lifetime: Duration, salt_seed: u64) -> Self {
        NonceIssuer {
            mac: secret.mac(),
            issuer,
            lifetime,
            salt_state: salt_seed,
        }
    }

    pub fn issuer(&self) -> u32 {
        self.issuer
    }

    pub fn lifetime(&self) -> Duration {
        self.lifetime
    }

    /// A new nonce issued at `unix_now`.
    pub fn issue(&mut self, unix_now: u64) -> Nonce {
        let mut raw = [0u8; RAW_LEN];
        raw[0..8].copy_from_slice(&unix_now.to_be_bytes());
        raw[8..12].copy_from_slice(&self.issuer.to_be_bytes());
        raw[12..20].copy_from_slice(&self.next_salt().to_be_bytes());
        let tag = self.tag(&raw[..PAYLOAD_LEN]);
        raw[PAYLOAD_LEN..].copy_from_slice(&tag);
        let mut text = [0u8; NONCE_LEN];
        base64url_encode(&raw, &mut text);
        Nonce { text }
    }

    /// Check a nonce taken from credentials at `unix_now`.
    pub fn check(&self, nonce: &[u8], unix_now: u64) -> NonceCheck {
        let mut raw = [0u8; RAW_LEN];
        if nonce.len() != NONCE_LEN || !base64url_decode(nonce, &mut raw) {
            return NonceCheck::Forged;
        }
        let tag = self.tag(&raw[..PAYLOAD_LEN]);
        if !ct_eq(&tag, &raw[PAYLOAD_LEN..]) {
            return NonceCheck::Forged;
        }
        let mut b8 = [0u8; 8];
        b8.copy_from_slice(&raw[0..8]);
        let issued_at = u64::from_be_bytes(b8);
        let mut b4 = [0u8; 4];
        b4.copy_from_slice(&raw[8..12]);
        let issuer = u32::from_be_bytes(b4);
        let info = NonceInfo {
            issued_at,
            issuer,
            tag: u128::from_be_bytes(tag),
        };
        if issued_at > unix_now.saturating_add(MAX_FUTURE_SKEW_SECS) {
            return NonceCheck::Forged;
        }
        if unix_now.saturating_sub(issued_at) > self.lifetime.as_secs() {
            NonceCheck::Expired(info)
        } else {
            NonceCheck::Fresh(info)
        }
    }

    fn tag(&self, payload: &[u8]) -> [u8; TAG_LEN] {
        let mut mac = self.mac.clone();
        mac.update(payload);
        let full = mac.finalize().into_bytes();
        let mut tag = [0u8; TAG_LEN];
        tag.copy_from_slice(&full[..TAG_LEN]);
        tag
    }

    /// splitmix64: a bijection of its counter, so one worker never repeats a salt within
    /// 2^64 nonces; the random seed keeps restarts and nodes apart. Unpredictability is not
    /// needed for soundness (the MAC is), uniqueness is.
    fn next_salt(&mut self) -> u64 {
        self.salt_state = self.salt_state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.salt_state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// RFC 4648 §5 base64url of `raw` (a multiple of 3 bytes) into `out` (4/3 as long).
fn base64url_encode(raw: &[u8], out: &mut [u8]) {
    for (chunk, dst) in raw.chunks_exact(3).zip(out.chunks_exact_mut(4)) {
        let n = (u32::from(chunk[0]) << 16) | (u32::from(chunk[1]) << 8) | u32::from(chunk[2]);
        dst[0] = B64[(n >> 18) as usize & 63];
        dst[1] = B64[(n >> 12) as usize & 63];
        dst[2] = B64[(n >> 6) as usize & 63];
        dst[3] = B64[n as usize & 63];
    }
}

fn b64_val(c: u8) -> Option<u32> {
    Some(u32::from(match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'-' => 62,
        b'_' => 63,
        _ => return None,
    }))
}

/// Inverse of [`base64url_encode`]; false on any character outside the alphabet.
fn base64url_decode(text: &[u8], out: &mut [u8]) -> bool {
    for (src, dst) in text.chunks_exact(4).zip(out.chunks_exact_mut(3)) {
        let mut n = 0u32;
        for &c in src {
            match b64_val(c) {
                Some(v) => n = (n << 6) | v,
                None => return false,
            }
        }
        dst[0] = (n >> 16) as u8;
        dst[1] = (n >> 8) as u8;
        dst[2] = n as u8;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issuer(seed: u64) -> NonceIssuer {
        let secret = NonceSecret::from_bytes(&[7u8; 32]).unwrap();
        NonceIssuer::new(&secret, 3, Duration::from_secs(300), seed)
    }

    #[test]
    fn fresh_expired_and_future() {
        let mut iss = issuer(1);
        let n = iss.issue(1_000_000);
        assert_eq!(n.as_bytes().len(), NONCE_LEN);
        let NonceCheck::Fresh(info) = iss.check(n.as_bytes(), 1_000_300) else {
            panic!("expected fresh");
        };
        assert_eq!((info.issued_at, info.issuer), (1_000_000, 3));
        assert!(matches!(
            iss.check(n.as_bytes(), 1_000_301),
            NonceCheck::Expired(_)
        ));
        // Checked by a clock far behind the issuer's: refused as forged.
        assert_eq!(iss.check(n.as_bytes(), 999_000), NonceCheck::Forged);
    }

    #[test]
    fn every_altered_character_is_forged() {
        let mut iss = issuer(2);
        let n = iss.issue(50);
        for i in 0..NONCE_LEN {
            let mut bad = *n.as_bytes().first_chunk::<NONCE_LEN>().unwrap();
            bad[i] = if bad[i] == b'A' { b'B' } else { b'A' };
            assert_eq!(iss.check(&bad, 50), NonceCheck::Forged, "position {i}");
        }
        assert_eq!(iss.check(b"", 50), NonceCheck::Forged);
        assert_eq!(iss.check(&[b'='; NONCE_LEN], 50), NonceCheck::Forged);
    }

    #[test]
    fn other_secret_is_forged_same_secret_is_shared() {
        let mut a = issuer(3);
        let n = a.issue(10);
        let other = NonceSecret::from_bytes(&[8u8; 32]).unwrap();
        let b = NonceIssuer::new(&other, 3, Duration::from_secs(300), 9);
        assert_eq!(b.check(n.as_bytes(), 10), NonceCheck::Forged);
        let same = NonceSecret::from_hex(&"07".repeat(32)).unwrap();
        let c = NonceIssuer::new(&same, 4, Duration::from_secs(300), 9);
        assert!(matches!(c.check(n.as_bytes(), 10), NonceCheck::Fresh(i) if i.issuer == 3));
    }

    #[test]
    fn nonces_are_unique_per_second() {
        let mut iss = issuer(4);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..1000 {
            assert!(seen.insert(iss.issue(77)));
        }
    }

    #[test]
    fn secret_parsing() {
        assert_eq!(
            NonceSecret::from_hex("xyz").err(),
            Some(SecretError::NotHex)
        );
        assert_eq!(
            NonceSecret::from_hex("abcd").err(),
            Some(SecretError::BadLength)
        );
        assert!(NonceSecret::from_hex(&"aB".repeat(16)).is_ok());
        assert!(NonceSecret::from_hex(&"ab".repeat(65)).is_err());
        assert!(NonceSecret::generate().is_ok());
    }

    #[test]
    fn anchor_converts_instants() {
        let t0 = Instant::now();
        let a = UnixTimeAnchor::new(t0, 1_700_000_000);
        assert_eq!(a.unix_secs(t0 + Duration::from_millis(2500)), 1_700_000_002);
        assert_eq!(a.unix_secs(t0), 1_700_000_000);
    }
}
