//! What the caller hands to verification: the client's credentials and the stored HA1s.
//!
//! The SIP layer parses `Authorization` / `Proxy-Authorization` (RFC 3261 §25.1
//! `credentials`); the proxy maps the parsed parameters into a [`DigestResponse`] that
//! borrows the datagram. Values are the unquoted parameter contents. A parameter that
//! is absent is an empty slice (required ones) or `None` (optional ones).

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

/// The HA1s the forwarding table holds for the user named in the credentials, as hex.
/// MD5 HA1 = MD5(user:realm:password), SHA-256 HA1 = SHA-256(user:realm:password).
#[derive(Debug, Clone, Copy, Default)]
pub struct StoredHa1<'a> {
    pub md5: Option<&'a [u8]>,
    pub sha256: Option<&'a [u8]>,
}

impl StoredHa1<'_> {
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
