//! Digest algorithms (RFC 7616 §3.4.1, RFC 8760 for SIP) and the response computation.
//!
//! Everything here is pure and allocation-free: hashes are fed piecewise and their hex
//! forms land in a fixed [`HexDigest`] on the stack.

use md5::Md5;
use sha2::{Digest, Sha256};

/// A digest algorithm Ringlet can verify. The `-sess` variants are not offered and not
/// accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// RFC 2617 / RFC 3261 §22.4: the default when a response names no algorithm.
    Md5,
    /// RFC 7616 §3.4.1, required of SIP by RFC 8760 §2.
    Sha256,
}

impl Algorithm {
    /// The token written in challenges (`algorithm=SHA-256`).
    pub fn token(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Sha256 => "SHA-256",
        }
    }

    /// Parse an `algorithm` parameter value (tokens compare case-insensitively,
    /// RFC 7616 §3.3).
    pub fn from_token(token: &[u8]) -> Option<Algorithm> {
        if token.eq_ignore_ascii_case(b"MD5") {
            Some(Algorithm::Md5)
        } else if token.eq_ignore_ascii_case(b"SHA-256") {
            Some(Algorithm::Sha256)
        } else {
            None
        }
    }

    /// Length of a hash of this algorithm in lowercase hex.
    pub fn hex_len(self) -> usize {
        match self {
            Algorithm::Md5 => 32,
            Algorithm::Sha256 => 64,
        }
    }
}

/// A set of algorithms, offered in the fixed order SHA-256 then MD5 (RFC 7616 §3.7: the
/// server lists challenges in order of preference; clients take the first they support).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AlgorithmSet {
    pub sha256: bool,
    pub md5: bool,
}

impl AlgorithmSet {
    pub const BOTH: AlgorithmSet = AlgorithmSet {
        sha256: true,
        md5: true,
    };
    pub const NONE: AlgorithmSet = AlgorithmSet {
        sha256: false,
        md5: false,
    };

    pub fn contains(self, alg: Algorithm) -> bool {
        match alg {
            Algorithm::Md5 => self.md5,
            Algorithm::Sha256 => self.sha256,
        }
    }

    pub fn with(mut self, alg: Algorithm) -> Self {
        match alg {
            Algorithm::Md5 => self.md5 = true,
            Algorithm::Sha256 => self.sha256 = true,
        }
        self
    }

    /// Algorithms in both sets (e.g. configured ∩ the HA1s a subscriber has).
    pub fn intersect(self, other: AlgorithmSet) -> Self {
        AlgorithmSet {
            sha256: self.sha256 && other.sha256,
            md5: self.md5 && other.md5,
        }
    }

    pub fn is_empty(self) -> bool {
        !self.sha256 && !self.md5
    }

    /// The members in offer order: SHA-256 first.
    pub fn iter(self) -> impl Iterator<Item = Algorithm> {
        [(self.sha256, Algorithm::Sha256), (self.md5, Algorithm::Md5)]
            .into_iter()
            .filter_map(|(on, alg)| on.then_some(alg))
    }
}

/// A hash in lowercase hex, on the stack (64 bytes fits SHA-256).
#[derive(Clone, Copy)]
pub struct HexDigest {
    buf: [u8; 64],
    len: u8,
}

impl HexDigest {
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len as usize]
    }

    pub fn as_str(&self) -> &str {
        // Only lowercase hex digits are ever written into `buf`.
        std::str::from_utf8(self.as_bytes()).unwrap_or("")
    }

    fn from_raw(raw: &[u8]) -> HexDigest {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut buf = [0u8; 64];
        for (i, b) in raw.iter().take(32).enumerate() {
            buf[2 * i] = HEX[(b >> 4) as usize];
            buf[2 * i + 1] = HEX[(b & 0x0f) as usize];
        }
        HexDigest {
            buf,
            len: (raw.len().min(32) * 2) as u8,
        }
    }

    /// Copy `hex` (any case) as lowercase; `None` if it is not `expected_len` hex digits.
    pub(crate) fn parse_lower(hex: &[u8], expected_len: usize) -> Option<HexDigest> {
        if hex.len() != expected_len || expected_len > 64 {
            return None;
        }
        let mut buf = [0u8; 64];
        for (dst, &c) in buf.iter_mut().zip(hex) {
            if !c.is_ascii_hexdigit() {
                return None;
            }
            *dst = c.to_ascii_lowercase();
        }
        Some(HexDigest {
            buf,
            len: expected_len as u8,
        })
    }
}

impl std::fmt::Debug for HexDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq for HexDigest {
    fn eq(&self, other: &Self) -> bool {
        ct_eq(self.as_bytes(), other.as_bytes())
    }
}

enum Hasher {
    Md5(Md5),
    Sha256(Sha256),
}

impl Hasher {
    fn new(alg: Algorithm) -> Hasher {
        match alg {
            Algorithm::Md5 => Hasher::Md5(Md5::new()),
            Algorithm::Sha256 => Hasher::Sha256(Sha256::new()),
        }
    }

    fn update(&mut self, data: &[u8]) -> &mut Self {
        match self {
            Hasher::Md5(h) => h.update(data),
            Hasher::Sha256(h) => h.update(data),
        }
        self
    }

    fn finish(self) -> HexDigest {
        match self {
            Hasher::Md5(h) => HexDigest::from_raw(&h.finalize()),
            Hasher::Sha256(h) => HexDigest::from_raw(&h.finalize()),
        }
    }
}

/// HA1 = H(username ":" realm ":" password) (RFC 7616 §3.4.2). The proxy never sees
/// passwords; this is for the table tooling and for tests.
pub fn compute_ha1(alg: Algorithm, username: &[u8], realm: &[u8], password: &[u8]) -> HexDigest {
    let mut h = Hasher::new(alg);
    h.update(username)
        .update(b":")
        .update(realm)
        .update(b":")
        .update(password);
    h.finish()
}

/// The `qop=auth` parameters that enter the response (RFC 7616 §3.4.1).
#[derive(Debug, Clone, Copy)]
pub struct QopAuth<'a> {
    /// `nc` exactly as sent (8 hex digits).
    pub nc: &'a [u8],
    pub cnonce: &'a [u8],
    /// `qop` exactly as sent (`auth`).
    pub qop: &'a [u8],
}

/// The expected `response`:
/// with qop: `H(HA1:nonce:nc:cnonce:qop:H(method:uri))` (RFC 7616 §3.4.1),
/// without:  `H(HA1:nonce:H(method:uri))` (RFC 2069, kept by RFC 2617 §3.2.2.1).
/// `ha1` must already be lowercase hex.
pub fn digest_response(
    alg: Algorithm,
    ha1: &[u8],
    nonce: &[u8],
    qop: Option<QopAuth<'_>>,
    method: &[u8],
    uri: &[u8],
) -> HexDigest {
    let ha2 = digest_ha2(alg, method, uri);
    digest_response_from_ha2(alg, ha1, nonce, qop, ha2.as_bytes())
}

/// HA2 of RFC 7616 §3.4.3 for qop=auth or none: `H(method ":" uri)`.
pub fn digest_ha2(alg: Algorithm, method: &[u8], uri: &[u8]) -> HexDigest {
    let mut h2 = Hasher::new(alg);
    h2.update(method).update(b":").update(uri);
    h2.finish()
}

/// [`digest_response`] with HA2 already computed (a registrar sees the same method and URI
/// again and again; see [`super::authenticator`]).
pub fn digest_response_from_ha2(
    alg: Algorithm,
    ha1: &[u8],
    nonce: &[u8],
    qop: Option<QopAuth<'_>>,
    ha2: &[u8],
) -> HexDigest {
    let mut h = Hasher::new(alg);
    h.update(ha1).update(b":").update(nonce).update(b":");
    if let Some(q) = qop {
        h.update(q.nc)
            .update(b":")
            .update(q.cnonce)
            .update(b":")
            .update(q.qop)
            .update(b":");
    }
    h.update(ha2);
    h.finish()
}

/// Equality whose running time depends only on the lengths, not on where the inputs
/// first differ (so a response cannot be guessed byte by byte from timing).
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut diff = 0u8;
    for (x, y) in a.iter().zip(b) {
        diff |= x ^ y;
    }
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offer_order_is_sha256_first() {
        let order: Vec<_> = AlgorithmSet::BOTH.iter().collect();
        assert_eq!(order, vec![Algorithm::Sha256, Algorithm::Md5]);
        let md5_only = AlgorithmSet::NONE.with(Algorithm::Md5);
        assert_eq!(md5_only.iter().collect::<Vec<_>>(), vec![Algorithm::Md5]);
        assert!(md5_only
            .intersect(AlgorithmSet::NONE.with(Algorithm::Sha256))
            .is_empty());
    }

    #[test]
    fn tokens_are_case_insensitive_and_sess_is_refused() {
        assert_eq!(Algorithm::from_token(b"md5"), Some(Algorithm::Md5));
        assert_eq!(Algorithm::from_token(b"sha-256"), Some(Algorithm::Sha256));
        assert_eq!(Algorithm::from_token(b"MD5-sess"), None);
        assert_eq!(Algorithm::from_token(b"SHA-512-256"), None);
    }

    #[test]
    fn hex_parse_lowercases_and_checks_length() {
        let h = HexDigest::parse_lower(b"ABCDEF0123456789abcdef0123456789", 32);
        assert_eq!(
            h.map(|h| h.as_str().to_owned()).as_deref(),
            Some("abcdef0123456789abcdef0123456789")
        );
        assert!(HexDigest::parse_lower(b"abc", 32).is_none());
        assert!(HexDigest::parse_lower(b"zbcdef0123456789abcdef0123456789", 32).is_none());
    }

    #[test]
    fn ct_eq_compares() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"abcd"));
    }
}
