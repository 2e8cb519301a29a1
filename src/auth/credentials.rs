//! What the caller hands to verification: the client's credentials and the stored HA1s.
//!
//! The SIP layer parses `Authorization` / `Proxy-Authorization` (RFC 3261 §25.1
//! `credentials`); the proxy maps the parsed parameters into a [`DigestResponse`] that
//! borrows the datagram. Values are the unquoted parameter contents. A parameter that
//! is absent is an empty slice (required ones) or `None` (optional ones).
//! [`DigestResponse::from`] does that mapping from the parser's
//! [`crate::sip::DigestCredentials`], and [`StoredHa1::of_subscriber`] takes the HA1s from
//! a forwarding-table [`Subscriber`].

use crate::sip::DigestCredentials;
use crate::table::Subscriber;

/// The parameters of one `Digest` credentials header (RFC 7616 §3.4).
#[derive(Debug, Clone, Copy, Default)]
pub struct DigestResponse<'a> {
    pub username: &'a [u8],
    pub realm: &'a [u8],
    pub nonce: &'a [u8],
    /// The `uri` parameter: must equal the Request-URI (RFC 3261 §22.4).
    pub uri: &'a [u8],
    /// The client's hash, in hex.
    pub response: &'a [u8],
    /// Absent means MD5 (RFC 2617 §3.2.2).
    pub algorithm: Option<&'a [u8]>,
    pub cnonce: Option<&'a [u8]>,
    pub opaque: Option<&'a [u8]>,
    /// Absent for RFC 2069 clients.
    pub qop: Option<&'a [u8]>,
    /// Nonce count, 8 hex digits; required with `qop`.
    pub nc: Option<&'a [u8]>,
}

impl<'a> From<&DigestCredentials<'a>> for DigestResponse<'a> {
    fn from(c: &DigestCredentials<'a>) -> Self {
        DigestResponse {
            username: c.username.unwrap_or_default(),
            realm: c.realm.unwrap_or_default(),
            nonce: c.nonce.unwrap_or_default(),
            uri: c.uri.unwrap_or_default(),
            response: c.response.unwrap_or_default(),
            algorithm: c.algorithm,
            cnonce: c.cnonce,
            opaque: c.opaque,
            qop: c.qop,
            nc: c.nc,
        }
    }
}

/// The HA1s the forwarding table holds for the user named in the credentials, as hex.
/// MD5 HA1 = MD5(user:realm:password), SHA-256 HA1 = SHA-256(user:realm:password).
#[derive(Debug, Clone, Copy, Default)]
pub struct StoredHa1<'a> {
    pub md5: Option<&'a [u8]>,
    pub sha256: Option<&'a [u8]>,
}

impl<'a> StoredHa1<'a> {
    /// The HA1s of a subscriber found by user and domain; `None` (treated as an unknown
    /// user) for a disabled subscriber, which the table keeps only for its aliases.
    pub fn of_subscriber(sub: &'a Subscriber) -> Option<StoredHa1<'a>> {
        sub.enabled.then(|| StoredHa1 {
            md5: sub.ha1_md5.as_ref().map(|h| &h[..]),
            sha256: sub.ha1_sha256.as_ref().map(|h| &h[..]),
        })
    }

    /// The algorithms this user can be verified with (to narrow a challenge).
    pub fn algorithms(&self) -> super::AlgorithmSet {
        super::AlgorithmSet {
            md5: self.md5.is_some(),
            sha256: self.sha256.is_some(),
        }
    }
}

/// The request being authorised, as the digest sees it.
#[derive(Debug, Clone, Copy)]
pub struct AuthRequest<'a> {
    /// Source address of the datagram (failure limits count by it).
    pub src: std::net::IpAddr,
    /// The request method, which enters HA2 (RFC 7616 §3.4.3).
    pub method: &'a [u8],
    /// The Request-URI as received, compared with the credentials' `uri`.
    pub request_uri: &'a [u8],
    /// The realm this request must authenticate in: the served domain.
    pub realm: &'a [u8],
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::Credentials;

    #[test]
    fn parsed_credentials_map_onto_a_digest_response() {
        let header = b"Digest username=\"alice\", realm=\"example.test\", \
            nonce=\"abc\", uri=\"sip:example.test\", response=\"0123\", \
            algorithm=SHA-256, cnonce=\"xyz\", qop=auth, nc=00000001";
        let Ok(Credentials::Digest(parsed)) = Credentials::parse(header) else {
            panic!("credentials did not parse");
        };
        let r = DigestResponse::from(&parsed);
        assert_eq!(r.username, b"alice");
        assert_eq!(r.realm, b"example.test");
        assert_eq!(r.nonce, b"abc");
        assert_eq!(r.uri, b"sip:example.test");
        assert_eq!(r.response, b"0123");
        assert_eq!(r.algorithm, Some(&b"SHA-256"[..]));
        assert_eq!(r.cnonce, Some(&b"xyz"[..]));
        assert_eq!(r.qop, Some(&b"auth"[..]));
        assert_eq!(r.nc, Some(&b"00000001"[..]));
        assert_eq!(r.opaque, None);
        // Missing required parameters become empty slices (reported as Malformed).
        let Ok(Credentials::Digest(bare)) = Credentials::parse(b"Digest realm=\"x\"") else {
            panic!("credentials did not parse");
        };
        assert!(DigestResponse::from(&bare).username.is_empty());
    }
}
