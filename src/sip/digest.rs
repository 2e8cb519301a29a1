//! Authorization and Proxy-Authorization credentials (RFC 3261 §25.1, RFC 2617 §3.2.2).
//!
//! `credentials = ("Digest" LWS digest-response) / other-response`. Digest parameters are
//! comma-separated `name=value` pairs whose values are tokens or quoted strings; quoted
//! values are handed out without their quotes (backslash escapes kept, they never occur
//! in practice and RFC 2617 hashes the unquoted text).

use super::scan::{self, CommaSplit, TOKEN, WS};

/// Parsed credentials.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Credentials<'a> {
    Digest(DigestCredentials<'a>),
    /// An authentication scheme other than Digest (RFC 4475 regaut01): the scheme and the
    /// rest of the value, raw.
    Other {
        scheme: &'a [u8],
        params: &'a [u8],
    },
}

/// The parameters of a Digest response. Values are unquoted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DigestCredentials<'a> {
    pub username: Option<&'a [u8]>,
    pub realm: Option<&'a [u8]>,
    pub nonce: Option<&'a [u8]>,
    pub uri: Option<&'a [u8]>,
    pub response: Option<&'a [u8]>,
    pub algorithm: Option<&'a [u8]>,
    pub cnonce: Option<&'a [u8]>,
    pub opaque: Option<&'a [u8]>,
    pub qop: Option<&'a [u8]>,
    /// nonce-count, 8 hex digits as received.
    pub nc: Option<&'a [u8]>,
}

impl DigestCredentials<'_> {
    /// The nonce-count as a number (`nc=00000001` is 1).
    pub fn nc_value(&self) -> Option<u32> {
        let nc = self.nc?;
        if nc.len() != 8 {
            return None;
        }
        u32::from_str_radix(std::str::from_utf8(nc).ok()?, 16).ok()
    }
}

/// Credentials that do not follow the grammar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BadCredentials;

impl<'a> Credentials<'a> {
    pub fn parse(v: &'a [u8]) -> Result<Credentials<'a>, BadCredentials> {
        let n = scan::span(v, TOKEN);
        if n == 0 {
            return Err(BadCredentials);
        }
        let scheme = &v[..n];
        let rest = &v[n..];
        if !scheme.eq_ignore_ascii_case(b"Digest") {
            return Ok(Credentials::Other {
                scheme,
                params: scan::trim(rest),
            });
        }
        if rest.is_empty() || !scan::is(rest[0], WS) {
            return Err(BadCredentials);
        }
        let mut d = DigestCredentials::default();
        for item in CommaSplit::new(rest) {
            let eq = item.iter().position(|&b| b == b'=').ok_or(BadCredentials)?;
            let name = scan::trim(&item[..eq]);
            let raw = scan::trim(&item[eq + 1..]);
            if !scan::is_token(name) || raw.is_empty() {
                return Err(BadCredentials);
            }
            let value = if raw[0] == b'"' {
                if scan::quoted_end(raw) != Some(raw.len()) {
                    return Err(BadCredentials);
                }
                &raw[1..raw.len() - 1]
            } else if scan::is_token(raw) {
                raw
            } else {
                return Err(BadCredentials);
            };
            let slot = if name.eq_ignore_ascii_case(b"username") {
                &mut d.username
            } else if name.eq_ignore_ascii_case(b"realm") {
                &mut d.realm
            } else if name.eq_ignore_ascii_case(b"nonce") {
                &mut d.nonce
            } else if name.eq_ignore_ascii_case(b"uri") {
                &mut d.uri
            } else if name.eq_ignore_ascii_case(b"response") {
                &mut d.response
            } else if name.eq_ignore_ascii_case(b"algorithm") {
                &mut d.algorithm
            } else if name.eq_ignore_ascii_case(b"cnonce") {
                &mut d.cnonce
            } else if name.eq_ignore_ascii_case(b"opaque") {
                &mut d.opaque
            } else if name.eq_ignore_ascii_case(b"qop") {
                &mut d.qop
            } else if name.eq_ignore_ascii_case(b"nc") {
                &mut d.nc
            } else {
                continue;
            };
            *slot = Some(value);
        }
        Ok(Credentials::Digest(d))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_response() {
        let v = b"Digest username=\"alice\", realm=\"example.com\",\r\n nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", uri=\"sip:example.com\", response=\"6629fae49393a05397450978507c4ef1\", algorithm=MD5, cnonce=\"0a4f113b\", opaque=\"5ccc069c403ebaf9f0171e9517f40e41\", qop=auth, nc=00000001";
        let Credentials::Digest(d) = Credentials::parse(v).unwrap() else {
            panic!("not digest")
        };
        assert_eq!(d.username, Some(&b"alice"[..]));
        assert_eq!(d.realm, Some(&b"example.com"[..]));
        assert_eq!(d.uri, Some(&b"sip:example.com"[..]));
        assert_eq!(d.algorithm, Some(&b"MD5"[..]));
        assert_eq!(d.qop, Some(&b"auth"[..]));
        assert_eq!(d.nc_value(), Some(1));
        assert_eq!(d.cnonce, Some(&b"0a4f113b"[..]));
        assert_eq!(d.opaque, Some(&b"5ccc069c403ebaf9f0171e9517f40e41"[..]));
    }

    #[test]
    fn other_scheme_and_errors() {
        assert_eq!(
            Credentials::parse(b"NoOneKnowsThisScheme opaque-data=here"),
            Ok(Credentials::Other {
                scheme: b"NoOneKnowsThisScheme",
                params: b"opaque-data=here"
            })
        );
        assert!(Credentials::parse(b"Digest username=\"alice").is_err());
        assert!(Credentials::parse(b"Digest username").is_err());
        assert!(Credentials::parse(b"").is_err());
    }
}
