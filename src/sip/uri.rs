//! SIP, SIPS and tel URIs (RFC 3261 §19.1, RFC 3966), borrowed from the message.
//!
//! [`Uri::parse`] splits a URI into its components without copying and checks each one
//! against its character class; escapes (`%XX`) are kept as received and decoded only when
//! comparing ([`uri_eq`], RFC 3261 §19.1.4). Other schemes (`http:`, `isbn:`...) are
//! accepted as `Scheme::Other` with their opaque part, so a proxy can answer 416.

use std::net::Ipv4Addr;

use super::scan::{self, Params, HNV, PARAM, PASSWORD, USER};

/// The URI scheme.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scheme<'a> {
    Sip,
    Sips,
    Tel,
    /// Any other scheme, as received (without the colon).
    Other(&'a [u8]),
}

/// The host part of a SIP URI or a Via sent-by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Host<'a> {
    /// A domain name, as received.
    Name(&'a [u8]),
    Ipv4(Ipv4Addr),
    /// An IPv6 reference: the text between the brackets.
    Ipv6(&'a [u8]),
    /// No host (tel and other schemes).
    None,
}

impl<'a> Host<'a> {
    /// Classifies host text (brackets included for IPv6). `None` when malformed.
    pub fn parse(s: &'a [u8]) -> Option<Host<'a>> {
        if s.is_empty() {
            return None;
        }
        if s[0] == b'[' {
            if s.len() < 4 || s[s.len() - 1] != b']' {
                return None;
            }
            let inner = &s[1..s.len() - 1];
            let ok = inner
                .iter()
                .all(|&b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
                && inner.contains(&b':');
            return ok.then_some(Host::Ipv6(inner));
        }
        // One pass: host-name characters only, and whether all are digits/dots.
        let (name, numeric) = scan::host_classes(s);
        if !name {
            return None;
        }
        if numeric {
            // All digits and dots: an IPv4 address or nothing (RFC 3261 toplabel starts
            // with a letter).
            return parse_ipv4(s).map(Host::Ipv4);
        }
        if s[0] == b'.' || s[0] == b'-' {
            return None;
        }
        Some(Host::Name(s))
    }
}

/// Dotted-quad IPv4 (digits and dots already checked): four parts of 1 to 3 digits, each
/// at most 255.
fn parse_ipv4(s: &[u8]) -> Option<Ipv4Addr> {
    // One pass: `part` accumulates the current octet, `digits` counts its digits.
    let mut parts = [0u8; 4];
    let mut n = 0;
    let mut part = 0u32;
    let mut digits = 0;
    for &b in s {
        if b == b'.' {
            if digits == 0 || n == 3 {
                return None;
            }
            parts[n] = part as u8;
            n += 1;
            part = 0;
            digits = 0;
        } else {
            digits += 1;
            part = part * 10 + u32::from(b.wrapping_sub(b'0'));
            if digits > 3 || part > 255 {
                return None;
            }
        }
    }
    if digits == 0 || n != 3 {
        return None;
    }
    parts[3] = part as u8;
    Some(Ipv4Addr::from(parts))
}

/// A parsed URI. All slices borrow from the message; escapes are not decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Uri<'a> {
    pub scheme: Scheme<'a>,
    /// The user part (for tel, the number; for other schemes, the opaque part).
    pub user: Option<&'a [u8]>,
    pub password: Option<&'a [u8]>,
    pub host: Host<'a>,
    /// The host text as received (brackets kept for IPv6); empty for tel and other schemes.
    pub host_raw: &'a [u8],
    pub port: Option<u16>,
    /// `;name[=value]` parameters, starting at the first `;` (or empty).
    pub params: Params<'a>,
    /// The header part after `?` (without the `?`), raw.
    pub headers: &'a [u8],
    /// The whole URI as received.
    pub raw: &'a [u8],
}

/// A URI that does not follow its grammar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BadUri;

/// Every `%` starts a `%XX` escape. Most URIs hold none, so a SIMD search for `%` decides.
fn valid_escapes(s: &[u8]) -> bool {
    let Some(mut i) = scan::find(s, b'%') else {
        return true;
    };
    while i < s.len() {
        if s[i] == b'%' {
            if i + 2 >= s.len() || !s[i + 1].is_ascii_hexdigit() || !s[i + 2].is_ascii_hexdigit() {
                return false;
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    true
}

fn scheme_ok(s: &[u8]) -> bool {
    !s.is_empty()
        && s[0].is_ascii_alphabetic()
        && s.iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}

impl<'a> Uri<'a> {
    /// Parses a URI (no surrounding `<>` and no LWS).
    #[inline]
    pub fn parse(s: &'a [u8]) -> Result<Uri<'a>, BadUri> {
        let colon = scan::find(s, b':').ok_or(BadUri)?;
        let scheme_raw = &s[..colon];
        let rest = &s[colon + 1..];
        // The three known schemes are valid scheme names; only others need the check.
        let scheme = if scheme_raw.eq_ignore_ascii_case(b"sip") {
            Scheme::Sip
        } else if scheme_raw.eq_ignore_ascii_case(b"sips") {
            Scheme::Sips
        } else if scheme_raw.eq_ignore_ascii_case(b"tel") {
            Scheme::Tel
        } else if scheme_ok(scheme_raw) {
            Scheme::Other(scheme_raw)
        } else {
            return Err(BadUri);
        };
        let empty = Uri {
            scheme,
            user: None,
            password: None,
            host: Host::None,
            host_raw: &[],
            port: None,
            params: Params::new(&[]),
            headers: &[],
            raw: s,
        };
        match scheme {
            Scheme::Sip | Scheme::Sips => Self::parse_sip(empty, rest),
            Scheme::Tel => {
                // telephone-subscriber *par: the number, then parameters.
                let semi = rest.iter().position(|&b| b == b';').unwrap_or(rest.len());
                let number = &rest[..semi];
                let ok = !number.is_empty()
                    && number.iter().all(|&b| {
                        b.is_ascii_hexdigit()
                            || matches!(b, b'+' | b'-' | b'.' | b'(' | b')' | b'*' | b'#')
                    });
                if !ok || !scan::all(&rest[semi..], PARAM | USER) || !valid_escapes(rest) {
                    return Err(BadUri);
                }
                Ok(Uri {
                    user: Some(number),
                    params: Params::new(&rest[semi..]),
                    ..empty
                })
            }
            Scheme::Other(_) => {
                // Opaque: any visible characters (no LWS, no controls, no `<>"`).
                if rest.is_empty()
                    || !rest
                        .iter()
                        .all(|&b| b > 0x20 && b < 0x7f && !matches!(b, b'<' | b'>' | b'"'))
                {
                    return Err(BadUri);
                }
                Ok(Uri {
                    user: Some(rest),
                    ..empty
                })
            }
        }
    }

    #[inline]
    fn parse_sip(mut u: Uri<'a>, rest: &'a [u8]) -> Result<Uri<'a>, BadUri> {
        if !valid_escapes(rest) {
            return Err(BadUri);
        }
        let mut hp = rest;
        if let Some(at) = scan::find(rest, b'@') {
            let userinfo = &rest[..at];
            let (user, password) = match userinfo.iter().position(|&b| b == b':') {
                Some(c) => (&userinfo[..c], Some(&userinfo[c + 1..])),
                None => (userinfo, None),
            };
            if user.is_empty() || !scan::all(user, USER) {
                return Err(BadUri);
            }
            if let Some(p) = password {
                if !scan::all(p, PASSWORD) {
                    return Err(BadUri);
                }
            }
            u.user = Some(user);
            u.password = password;
            hp = &rest[at + 1..];
        }
        // hostport, then ;params, then ?headers
        let host_end = if hp.first() == Some(&b'[') {
            hp.iter().position(|&b| b == b']').ok_or(BadUri)? + 1
        } else {
            scan::find3(hp, 0, b':', b';', b'?').unwrap_or(hp.len())
        };
        let host_raw = &hp[..host_end];
        u.host = Host::parse(host_raw).ok_or(BadUri)?;
        u.host_raw = host_raw;
        let mut r = &hp[host_end..];
        if r.first() == Some(&b':') {
            let n = r[1..]
                .iter()
                .position(|b| !b.is_ascii_digit())
                .unwrap_or(r.len() - 1);
            let port = scan::parse_u32(&r[1..1 + n], 65535).ok_or(BadUri)?;
            u.port = Some(port as u16);
            r = &r[1 + n..];
        }
        let q = scan::find(r, b'?').unwrap_or(r.len());
        let params = &r[..q];
        if !params.is_empty() {
            if params[0] != b';' {
                return Err(BadUri);
            }
            // uri-parameter = pname [ "=" pvalue ], both 1*paramchar
            for p in params[1..].split(|&b| b == b';') {
                let (n, v) = match p.iter().position(|&b| b == b'=') {
                    Some(e) => (&p[..e], Some(&p[e + 1..])),
                    None => (p, None),
                };
                if n.is_empty() || !scan::all(n, PARAM) {
                    return Err(BadUri);
                }
                if let Some(v) = v {
                    if v.is_empty() || !scan::all(v, PARAM) {
                        return Err(BadUri);
                    }
                }
            }
        }
        u.params = Params::new(params);
        if q < r.len() {
            let h = &r[q + 1..];
            for hv in h.split(|&b| b == b'&') {
                let e = hv.iter().position(|&b| b == b'=').ok_or(BadUri)?;
                if e == 0 || !scan::all(&hv[..e], HNV) || !scan::all(&hv[e + 1..], HNV) {
                    return Err(BadUri);
                }
            }
            u.headers = h;
        }
        Ok(u)
    }

    /// The framing check the parser makes on a Request-URI: a scheme, a colon, then
    /// visible characters only (no LWS, no `<>`). The full grammar is checked by
    /// [`Message::request_uri_parsed`](super::Message::request_uri_parsed) and
    /// [`validate_request`](super::validate_request).
    pub(crate) fn looks_like_request_uri(s: &[u8]) -> bool {
        // `sip:` (any case) is a valid scheme and holds the first ':'; others are checked.
        let colon = match s.first_chunk::<4>() {
            Some(p) if p[3] == b':' && p[..3].eq_ignore_ascii_case(b"sip") => 3,
            _ => match s.iter().position(|&b| b == b':') {
                Some(c) if scheme_ok(&s[..c]) => c,
                _ => return false,
            },
        };
        colon + 1 < s.len() && scan::all_uri_visible(&s[colon + 1..])
    }

    /// True for `sip:` and `sips:` URIs.
    pub fn is_sip(&self) -> bool {
        matches!(self.scheme, Scheme::Sip | Scheme::Sips)
    }

    /// The `transport` parameter.
    pub fn transport(&self) -> Option<&'a [u8]> {
        self.params.get(b"transport").flatten()
    }

    /// True when the `lr` parameter is present (RFC 3261 §19.1.1 loose routing).
    pub fn lr(&self) -> bool {
        self.params.has(b"lr")
    }

    /// The `maddr` parameter.
    pub fn maddr(&self) -> Option<&'a [u8]> {
        self.params.get(b"maddr").flatten()
    }

    /// The `user` parameter (`phone`, `ip`, ...).
    pub fn user_param(&self) -> Option<&'a [u8]> {
        self.params.get(b"user").flatten()
    }

    /// A parameter by name (case-insensitive): `Some(None)` when present without value.
    pub fn param(&self, name: &[u8]) -> Option<Option<&'a [u8]>> {
        self.params.get(name)
    }

    /// The `name=value` pairs of the header part (raw, escapes kept).
    pub fn header_fields(&self) -> impl Iterator<Item = (&'a [u8], &'a [u8])> {
        let h = self.headers;
        h.split(|&b| b == b'&').filter(|p| !p.is_empty()).map(|p| {
            match p.iter().position(|&b| b == b'=') {
                Some(e) => (&p[..e], &p[e + 1..]),
                None => (p, &p[p.len()..]),
            }
        })
    }
}

/// Yields the bytes of `s` with `%XX` escapes decoded.
fn unescaped(s: &[u8]) -> impl Iterator<Item = u8> + '_ {
    let mut i = 0;
    std::iter::from_fn(move || {
        if i >= s.len() {
            return None;
        }
        if s[i] == b'%' && i + 2 < s.len() {
            let h = |c: u8| (c as char).to_digit(16);
            if let (Some(a), Some(b)) = (h(s[i + 1]), h(s[i + 2])) {
                i += 3;
                return Some((a * 16 + b) as u8);
            }
        }
        i += 1;
        Some(s[i - 1])
    })
}

fn eq_unescaped(a: &[u8], b: &[u8], ignore_case: bool) -> bool {
    let mut x = unescaped(a);
    let mut y = unescaped(b);
    loop {
        match (x.next(), y.next()) {
            (None, None) => return true,
            (Some(p), Some(q)) => {
                let same = if ignore_case {
                    p.eq_ignore_ascii_case(&q)
                } else {
                    p == q
                };
                if !same {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

fn opt_eq(a: Option<&[u8]>, b: Option<&[u8]>, ignore_case: bool) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => eq_unescaped(a, b, ignore_case),
        _ => false,
    }
}

fn tel_digits(s: &[u8]) -> impl Iterator<Item = u8> + '_ {
    // RFC 3966 §4: visual separators are ignored when comparing.
    s.iter()
        .copied()
        .filter(|b| !matches!(b, b'-' | b'.' | b'(' | b')'))
        .map(|b| b.to_ascii_lowercase())
}

/// URI equality, RFC 3261 §19.1.4: user and password case-sensitive, host and parameters
/// case-insensitive, escapes decoded; `user`, `ttl`, `method`, `maddr` and `transport`
/// must match when either URI has them, other parameters only when both have them;
/// headers must match exactly as a set. tel URIs compare the number without visual
/// separators and their parameters as a set (RFC 3966 §4).
pub fn uri_eq(a: &Uri<'_>, b: &Uri<'_>) -> bool {
    match (a.scheme, b.scheme) {
        (Scheme::Sip, Scheme::Sip) | (Scheme::Sips, Scheme::Sips) => {}
        (Scheme::Tel, Scheme::Tel) => {
            let (Some(x), Some(y)) = (a.user, b.user) else {
                return false;
            };
            return tel_digits(x).eq(tel_digits(y)) && params_same_set(a.params, b.params);
        }
        (Scheme::Other(x), Scheme::Other(y)) => {
            return x.eq_ignore_ascii_case(y) && a.user == b.user;
        }
        _ => return false,
    }
    if !opt_eq(a.user, b.user, false) || !opt_eq(a.password, b.password, false) {
        return false;
    }
    let host_eq = match (a.host, b.host) {
        (Host::Ipv4(x), Host::Ipv4(y)) => x == y,
        (Host::Ipv6(x), Host::Ipv6(y)) => {
            match (
                std::str::from_utf8(x)
                    .ok()
                    .and_then(|s| s.parse::<std::net::Ipv6Addr>().ok()),
                std::str::from_utf8(y)
                    .ok()
                    .and_then(|s| s.parse::<std::net::Ipv6Addr>().ok()),
            ) {
                (Some(p), Some(q)) => p == q,
                _ => x.eq_ignore_ascii_case(y),
            }
        }
        (Host::Name(x), Host::Name(y)) => eq_unescaped(x, y, true),
        _ => false,
    };
    if !host_eq || a.port != b.port {
        return false;
    }
    // Parameters that must match when present in either.
    for name in [&b"user"[..], b"ttl", b"method", b"maddr", b"transport"] {
        match (a.params.get(name), b.params.get(name)) {
            (None, None) => {}
            (Some(x), Some(y)) => {
                if !opt_eq(x, y, true) {
                    return false;
                }
            }
            _ => return false,
        }
    }
    // Any other parameter present in both must match.
    for (n, v) in a.params {
        if let Some(w) = b.params.get(n) {
            if !opt_eq(v, w, true) {
                return false;
            }
        }
    }
    // Headers: same set, names case-insensitive, values case-sensitive after unescaping.
    let count = |u: &Uri<'_>| u.header_fields().count();
    if count(a) != count(b) {
        return false;
    }
    a.header_fields().all(|(n, v)| {
        b.header_fields()
            .any(|(m, w)| eq_unescaped(n, m, true) && eq_unescaped(v, w, false))
    })
}

fn params_same_set(a: Params<'_>, b: Params<'_>) -> bool {
    a.count() == b.count()
        && a.clone()
            .all(|(n, v)| matches!(b.get(n), Some(w) if opt_eq(v, w, true)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(s: &str) -> Uri<'_> {
        Uri::parse(s.as_bytes()).unwrap_or_else(|_| panic!("parse {s}"))
    }

    #[test]
    fn sip_uri_components() {
        let x =
            u("sip:alice:secret@[2001:db8::10]:5070;transport=tcp;lr?Subject=hi&Priority=urgent");
        assert_eq!(x.scheme, Scheme::Sip);
        assert_eq!(x.user, Some(&b"alice"[..]));
        assert_eq!(x.password, Some(&b"secret"[..]));
        assert_eq!(x.host, Host::Ipv6(b"2001:db8::10"));
        assert_eq!(x.host_raw, b"[2001:db8::10]");
        assert_eq!(x.port, Some(5070));
        assert_eq!(x.transport(), Some(&b"tcp"[..]));
        assert!(x.lr());
        assert_eq!(x.header_fields().count(), 2);
        assert_eq!(Host::parse(b"1.2.3"), None);
        assert_eq!(Host::parse(b"1.2.3.256"), None);
        assert_eq!(Host::parse(b"1..2.3"), None);
        assert_eq!(Host::parse(b"1.2.3.4.5"), None);
        assert_eq!(Host::parse(b"1.2.3.0255"), None);
        assert_eq!(Host::parse(b"1.2.3."), None);
        assert_eq!(Host::parse(b".1.2.3"), None);
        assert_eq!(
            Host::parse(b"010.0.0.1"),
            Some(Host::Ipv4(Ipv4Addr::new(10, 0, 0, 1)))
        );
        assert_eq!(
            Host::parse(b"255.0.10.1"),
            Some(Host::Ipv4(Ipv4Addr::new(255, 0, 10, 1)))
        );
        let y = u("sips:192.0.2.4");
        assert_eq!(y.host, Host::Ipv4(Ipv4Addr::new(192, 0, 2, 4)));
        assert_eq!(y.user, None);
        let t = u("tel:+1-201-555-0123;phone-context=example.com");
        assert_eq!(t.scheme, Scheme::Tel);
        assert_eq!(t.user, Some(&b"+1-201-555-0123"[..]));
        let s = u("sip:user;par=u%40example.net@example.com");
        assert_eq!(s.user, Some(&b"user;par=u%40example.net"[..]));
        assert_eq!(s.host, Host::Name(b"example.com"));
    }

    #[test]
    fn malformed_uris_are_refused() {
        for bad in [
            "sip:user@example.com; lr",
            "<sip:user@example.com>",
            "sip:user@",
            "sip:@example.com",
            "sip:user@host:99999",
            "sip:user@host:",
            "sip:us%zzer@host",
            "sip:host;;lr",
            "sip:[::1",
            "nocolon",
        ] {
            assert!(Uri::parse(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn rfc3261_19_1_4_equal_uris() {
        for (a, b) in [
            (
                "sip:%61lice@atlanta.com;transport=TCP",
                "sip:alice@AtLanTa.CoM;Transport=tcp",
            ),
            ("sip:carol@chicago.com", "sip:carol@chicago.com;newparam=5"),
            ("sip:carol@chicago.com", "sip:carol@chicago.com;security=on"),
            (
                "sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com",
                "sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com",
            ),
            (
                "sip:alice@atlanta.com?subject=project%20x&priority=urgent",
                "sip:alice@atlanta.com?priority=urgent&subject=project%20x",
            ),
            ("tel:+1-201-555-0123", "tel:+12015550123"),
        ] {
            assert!(uri_eq(&u(a), &u(b)), "{a} == {b}");
        }
    }

    #[test]
    fn rfc3261_19_1_4_unequal_uris() {
        for (a, b) in [
            (
                "SIP:ALICE@AtLanTa.CoM;Transport=udp",
                "sip:alice@AtLanTa.CoM;Transport=UDP",
            ),
            ("sip:bob@biloxi.com", "sip:bob@biloxi.com:5060"),
            ("sip:bob@biloxi.com", "sip:bob@biloxi.com;transport=udp"),
            (
                "sip:bob@biloxi.com",
                "sip:bob@biloxi.com:6000;transport=tcp",
            ),
            (
                "sip:carol@chicago.com",
                "sip:carol@chicago.com?Subject=next%20meeting",
            ),
            ("sip:bob@phone21.boxesbybob.com", "sip:bob@192.0.2.4"),
            (
                "sip:carol@chicago.com;security=on",
                "sip:carol@chicago.com;security=off",
            ),
            ("sip:alice@atlanta.com", "sips:alice@atlanta.com"),
        ] {
            assert!(!uri_eq(&u(a), &u(b)), "{a} != {b}");
        }
    }
}
