//! The client side of HTTP digest authentication as SIP uses it (RFC 3261 §22.4, RFC 2617,
//! RFC 7616 for SHA-256, RFC 8760 for its use in SIP): parse a challenge, compute the
//! response, write the Authorization / Proxy-Authorization header.
//!
//! This is the load generator's own small UA-side implementation, kept separate from the
//! proxy's `auth` layer on purpose: a load test that shared the proxy's digest code could
//! not catch a bug in it.

use std::io::Write as _;

use md5::{Digest as _, Md5};
use sha2::Sha256;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Md5,
    Md5Sess,
    Sha256,
    Sha256Sess,
}

impl Algorithm {
    fn name(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Md5Sess => "MD5-sess",
            Algorithm::Sha256 => "SHA-256",
            Algorithm::Sha256Sess => "SHA-256-sess",
        }
    }
    fn is_sess(self) -> bool {
        matches!(self, Algorithm::Md5Sess | Algorithm::Sha256Sess)
    }
}

/// A parsed `Digest` challenge, borrowing the header value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Challenge<'a> {
    pub realm: &'a [u8],
    pub nonce: &'a [u8],
    pub opaque: Option<&'a [u8]>,
    pub algorithm: Algorithm,
    /// The server offered qop=auth (we never use auth-int: it would hash the body).
    pub qop_auth: bool,
    pub stale: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChallengeError {
    NotDigest,
    MissingRealm,
    MissingNonce,
    UnsupportedAlgorithm,
    /// qop offered, but only auth-int.
    UnsupportedQop,
    Malformed,
}

impl std::fmt::Display for ChallengeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = match self {
            ChallengeError::NotDigest => "challenge scheme is not Digest",
            ChallengeError::MissingRealm => "challenge has no realm",
            ChallengeError::MissingNonce => "challenge has no nonce",
            ChallengeError::UnsupportedAlgorithm => "challenge algorithm is not MD5 or SHA-256",
            ChallengeError::UnsupportedQop => "challenge offers only qop=auth-int",
            ChallengeError::Malformed => "malformed challenge parameters",
        };
        f.write_str(s)
    }
}

impl std::error::Error for ChallengeError {}

/// Split `name=value, name="quoted, value"` into pairs (quotes removed, no escapes inside:
/// SIP digest values never need them).
fn params(mut s: &[u8]) -> impl Iterator<Item = Result<(&[u8], &[u8]), ChallengeError>> {
    std::iter::from_fn(move || {
        while let [b' ' | b'\t' | b',', rest @ ..] = s {
            s = rest;
        }
        if s.is_empty() {
            return None;
        }
        let Some(eq) = memchr::memchr(b'=', s) else {
            s = &[];
            return Some(Err(ChallengeError::Malformed));
        };
        let name = s[..eq].trim_ascii();
        let rest = s[eq + 1..].trim_ascii_start();
        let (value, after) = if let Some(q) = rest.strip_prefix(b"\"") {
            match memchr::memchr(b'"', q) {
                Some(end) => (&q[..end], &q[end + 1..]),
                None => {
                    s = &[];
                    return Some(Err(ChallengeError::Malformed));
                }
            }
        } else {
            let end = memchr::memchr(b',', rest).unwrap_or(rest.len());
            (rest[..end].trim_ascii(), &rest[end..])
        };
        s = after;
        Some(Ok((name, value)))
    })
}

impl<'a> Challenge<'a> {
    /// Parse the value of a WWW-Authenticate or Proxy-Authenticate header.
    pub fn parse(value: &'a [u8]) -> Result<Self, ChallengeError> {
        let value = value.trim_ascii();
        let rest = match value.get(..6) {
            Some(scheme) if scheme.eq_ignore_ascii_case(b"digest") => &value[6..],
            _ => return Err(ChallengeError::NotDigest),
        };
        let mut c = Challenge {
            realm: &[],
            nonce: &[],
            opaque: None,
            algorithm: Algorithm::Md5,
            qop_auth: false,
            stale: false,
        };
        let (mut realm, mut nonce, mut qop_offered) = (false, false, false);
        for p in params(rest) {
            let (name, v) = p?;
            if name.eq_ignore_ascii_case(b"realm") {
                c.realm = v;
                realm = true;
            } else if name.eq_ignore_ascii_case(b"nonce") {
                c.nonce = v;
                nonce = true;
            } else if name.eq_ignore_ascii_case(b"opaque") {
                c.opaque = Some(v);
            } else if name.eq_ignore_ascii_case(b"stale") {
                c.stale = v.eq_ignore_ascii_case(b"true");
            } else if name.eq_ignore_ascii_case(b"algorithm") {
                c.algorithm = if v.eq_ignore_ascii_case(b"md5") {
                    Algorithm::Md5
                } else if v.eq_ignore_ascii_case(b"md5-sess") {
                    Algorithm::Md5Sess
                } else if v.eq_ignore_ascii_case(b"sha-256") {
                    Algorithm::Sha256
                } else if v.eq_ignore_ascii_case(b"sha-256-sess") {
                    Algorithm::Sha256Sess
                } else {
                    return Err(ChallengeError::UnsupportedAlgorithm);
                };
            } else if name.eq_ignore_ascii_case(b"qop") {
                qop_offered = true;
                c.qop_auth = v
                    .split(|&b| b == b',')
                    .any(|q| q.trim_ascii().eq_ignore_ascii_case(b"auth"));
            }
        }
        if !realm {
            return Err(ChallengeError::MissingRealm);
        }
        if !nonce || c.nonce.is_empty() {
            return Err(ChallengeError::MissingNonce);
        }
        if qop_offered && !c.qop_auth {
            return Err(ChallengeError::UnsupportedQop);
        }
        Ok(c)
    }
}

/// Lower-case hex of a hash output, in a fixed buffer (64 = SHA-256).
struct Hex {
    buf: [u8; 64],
    len: usize,
}

impl Hex {
    fn of(bytes: &[u8]) -> Hex {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut buf = [0u8; 64];
        for (i, b) in bytes.iter().take(32).enumerate() {
            buf[2 * i] = DIGITS[usize::from(b >> 4)];
            buf[2 * i + 1] = DIGITS[usize::from(b & 0xf)];
        }
        Hex {
            buf,
            len: bytes.len().min(32) * 2,
        }
    }
    fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// H(part0 ":" part1 ":" ...) in hex.
fn hash(alg: Algorithm, parts: &[&[u8]]) -> Hex {
    fn feed<D: md5::Digest>(mut d: D, parts: &[&[u8]]) -> Hex {
        for (i, p) in parts.iter().enumerate() {
            if i > 0 {
                d.update(b":");
            }
            d.update(p);
        }
        Hex::of(&d.finalize())
    }
    match alg {
        Algorithm::Md5 | Algorithm::Md5Sess => feed(Md5::new(), parts),
        Algorithm::Sha256 | Algorithm::Sha256Sess => feed(Sha256::new(), parts),
    }
}

/// The credentials and per-request values a response is computed from.
#[derive(Debug, Clone, Copy)]
pub struct Credentials<'a> {
    pub username: &'a [u8],
    pub password: &'a [u8],
    pub method: &'a [u8],
    pub uri: &'a [u8],
    /// Client nonce (used when the challenge offers qop or a -sess algorithm).
    pub cnonce: &'a [u8],
    /// Nonce count (1 for the first use of a nonce).
    pub nc: u32,
}

/// The `response=` value (RFC 2617 §3.2.2.1, RFC 7616 §3.4.1), lower-case hex.
pub fn response(ch: &Challenge<'_>, cr: &Credentials<'_>) -> String {
    let alg = ch.algorithm;
    let mut ha1 = hash(alg, &[cr.username, ch.realm, cr.password]);
    if alg.is_sess() {
        ha1 = hash(alg, &[ha1.as_bytes(), ch.nonce, cr.cnonce]);
    }
    let ha2 = hash(alg, &[cr.method, cr.uri]);
    let r = if ch.qop_auth {
        let nc = format!("{:08x}", cr.nc);
        hash(
            alg,
            &[
                ha1.as_bytes(),
                ch.nonce,
                nc.as_bytes(),
                cr.cnonce,
                b"auth",
                ha2.as_bytes(),
            ],
        )
    } else {
        hash(alg, &[ha1.as_bytes(), ch.nonce, ha2.as_bytes()])
    };
    String::from_utf8_lossy(r.as_bytes()).into_owned()
}

/// Append the credentials header line (with CRLF) answering `ch`: `Authorization` for a
/// WWW challenge, `Proxy-Authorization` for a proxy one.
pub fn write_header(buf: &mut Vec<u8>, proxy: bool, ch: &Challenge<'_>, cr: &Credentials<'_>) {
    let resp = response(ch, cr);
    buf.extend_from_slice(if proxy {
        b"Proxy-Authorization: Digest username=\""
    } else {
        b"Authorization: Digest username=\""
    });
    buf.extend_from_slice(cr.username);
    buf.extend_from_slice(b"\", realm=\"");
    buf.extend_from_slice(ch.realm);
    buf.extend_from_slice(b"\", nonce=\"");
    buf.extend_from_slice(ch.nonce);
    buf.extend_from_slice(b"\", uri=\"");
    buf.extend_from_slice(cr.uri);
    buf.extend_from_slice(b"\", response=\"");
    buf.extend_from_slice(resp.as_bytes());
    buf.extend_from_slice(b"\", algorithm=");
    buf.extend_from_slice(ch.algorithm.name().as_bytes());
    if ch.qop_auth {
        buf.extend_from_slice(b", qop=auth, cnonce=\"");
        buf.extend_from_slice(cr.cnonce);
        let _ = write!(buf, "\", nc={:08x}", cr.nc);
    }
    if let Some(o) = ch.opaque {
        buf.extend_from_slice(b", opaque=\"");
        buf.extend_from_slice(o);
        buf.push(b'"');
    }
    buf.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc2617_md5_qop_auth_vector() {
        // RFC 2617 §3.5.
        let ch = Challenge::parse(
            b"Digest realm=\"testrealm@host.com\", qop=\"auth,auth-int\", \
              nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"",
        )
        .unwrap();
        assert!(ch.qop_auth);
        let cr = Credentials {
            username: b"Mufasa",
            password: b"Circle Of Life",
            method: b"GET",
            uri: b"/dir/index.html",
            cnonce: b"0a4f113b",
            nc: 1,
        };
        assert_eq!(response(&ch, &cr), "6629fae49393a05397450978507c4ef1");
    }

    #[test]
    fn rfc7616_sha256_vector() {
        // RFC 7616 §3.9.1.
        let ch = Challenge::parse(
            b"Digest realm=\"http-auth@example.org\", qop=\"auth, auth-int\", algorithm=SHA-256, \
              nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", \
              opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"",
        )
        .unwrap();
        assert_eq!(ch.algorithm, Algorithm::Sha256);
        let cr = Credentials {
            username: b"Mufasa",
            password: b"Circle of Life",
            method: b"GET",
            uri: b"/dir/index.html",
            cnonce: b"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
            nc: 1,
        };
        assert_eq!(
            response(&ch, &cr),
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
        );
    }

    #[test]
    fn no_qop_is_rfc2069_style() {
        let ch = Challenge::parse(b"Digest realm=\"r\", nonce=\"n\"").unwrap();
        assert!(!ch.qop_auth);
        let cr = Credentials {
            username: b"u",
            password: b"p",
            method: b"REGISTER",
            uri: b"sip:r",
            cnonce: b"c",
            nc: 1,
        };
        // H(H(u:r:p):n:H(REGISTER:sip:r)) computed independently.
        let ha1 = format!("{:x}", Md5::digest(b"u:r:p"));
        let ha2 = format!("{:x}", Md5::digest(b"REGISTER:sip:r"));
        let want = format!("{:x}", Md5::digest(format!("{ha1}:n:{ha2}").as_bytes()));
        assert_eq!(response(&ch, &cr), want);
        let mut buf = Vec::new();
        write_header(&mut buf, true, &ch, &cr);
        let line = String::from_utf8(buf).unwrap();
        assert!(line
            .starts_with("Proxy-Authorization: Digest username=\"u\", realm=\"r\", nonce=\"n\""));
        assert!(!line.contains("qop"));
        assert!(line.ends_with("algorithm=MD5\r\n"));
    }

    #[test]
    fn bad_challenges_are_errors() {
        assert_eq!(
            Challenge::parse(b"Basic realm=\"x\""),
            Err(ChallengeError::NotDigest)
        );
        assert_eq!(
            Challenge::parse(b"Digest nonce=\"n\""),
            Err(ChallengeError::MissingRealm)
        );
        assert_eq!(
            Challenge::parse(b"Digest realm=\"r\""),
            Err(ChallengeError::MissingNonce)
        );
        assert_eq!(
            Challenge::parse(b"Digest realm=\"r\", nonce=\"n\", algorithm=SHA-512"),
            Err(ChallengeError::UnsupportedAlgorithm)
        );
        assert_eq!(
            Challenge::parse(b"Digest realm=\"r\", nonce=\"n\", qop=\"auth-int\""),
            Err(ChallengeError::UnsupportedQop)
        );
        assert_eq!(
            Challenge::parse(b"Digest realm=\"r, nonce=\"n\""),
            Err(ChallengeError::Malformed)
        );
        assert_eq!(
            Challenge::parse(b"Digest realm"),
            Err(ChallengeError::Malformed)
        );
    }
}
