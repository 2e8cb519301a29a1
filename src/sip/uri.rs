//! SIP, SIPS and tel URIs (RFC 3261 §19.1, RFC 3966), borrowed from the message.
//!
//! [`Uri::parse`] splits a URI into its components without copying and checks each one
//! against its character class; escapes (`%XX`) are kept as received and decoded only when
//! comparing ([`uri_eq`], RFC 3261 §19.1.4). Other schemes (`http:`, `isbn:`...) are
//! accepted as `Scheme::Other` with their opaque part, so a proxy can answer 416.
//!
//! SIP and SIPS URIs are read in one forward pass (see `parse_sip`), hosts with
//! `scan_host`; the results are those of the previous multi-pass parser, kept as the
//! reference in `field_reference.rs` and compared by the tests in `field_equivalence.rs`.

use std::net::Ipv4Addr;

use super::scan::{
    self, Params, HOSTNAME, NUMERIC, PARAM, USER, U_HNV, U_PARAM, U_PASSWORD, U_USER,
};

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
        match s.first() {
            None => None,
            Some(b'[') => ipv6_reference(s),
            // A long name: its classes 16 bytes at a time (SSE2), then the same decision
            // as `scan_host` makes.
            Some(_) if s.len() >= 16 => {
                let (name, numeric) = scan::host_classes(s);
                match s[0] {
                    _ if !name => None,
                    _ if numeric => parse_ipv4(s).map(Host::Ipv4),
                    b'.' | b'-' => None,
                    _ => Some(Host::Name(s)),
                }
            }
            Some(_) => match scan_host(s, 0) {
                (end, host) if end == s.len() => host,
                _ => None,
            },
        }
    }
}

/// `[` IPv6 `]` (brackets included): hex digits, `:` and `.` inside, at least one `:`.
pub(crate) fn ipv6_reference(s: &[u8]) -> Option<Host<'_>> {
    if s.len() < 4 || s[s.len() - 1] != b']' {
        return None;
    }
    let inner = &s[1..s.len() - 1];
    let ok = inner
        .iter()
        .all(|&b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
        && inner.contains(&b':');
    ok.then_some(Host::Ipv6(inner))
}

/// Reads a host name or IPv4 address at `s[start..]`: the span of [`HOSTNAME`] bytes
/// (everything up to the first byte that is not one; a host never holds `:`), classified
/// as [`Host::parse`] classifies that span: `None` when it is empty or malformed.
///
/// One pass: a dotted quad is read digit by digit ([`ipv4_prefix`]); anything else is
/// spanned once while its byte classes are collected (all digits and dots: an IPv4
/// address or nothing, since a toplabel starts with a letter; otherwise a name, which may
/// not start with `.` or `-`).
#[inline(always)]
pub(crate) fn scan_host(s: &[u8], start: usize) -> (usize, Option<Host<'_>>) {
    if let Some((end, a)) = ipv4_prefix(s, start) {
        if end == s.len() || !scan::is(s[end], HOSTNAME) {
            return (end, Some(Host::Ipv4(a)));
        }
    }
    let mut i = start;
    let mut classes = u16::MAX;
    // Eight bytes a step while they are all host bytes, then byte by byte.
    while let Some(c) = s.get(i..i + 8) {
        let c = c
            .iter()
            .fold(u16::MAX, |acc, &b| acc & scan::CLASS[b as usize]);
        if c & HOSTNAME == 0 {
            break;
        }
        classes &= c;
        i += 8;
    }
    while i < s.len() {
        let c = scan::CLASS[s[i] as usize];
        if c & HOSTNAME == 0 {
            break;
        }
        classes &= c;
        i += 1;
    }
    let h = &s[start..i];
    let host = match h.first() {
        None => None,
        Some(_) if classes & NUMERIC != 0 => parse_ipv4(h).map(Host::Ipv4),
        Some(b'.' | b'-') => None,
        Some(_) => Some(Host::Name(h)),
    };
    (i, host)
}

/// A dotted quad at `s[i..]`: four parts of 1 to 3 digits, each at most 255, separated by
/// dots; returns where it ends. `None` when the text there is not one (the caller then
/// takes the general path, which decides).
#[inline(always)]
fn ipv4_prefix(s: &[u8], mut i: usize) -> Option<(usize, Ipv4Addr)> {
    let digit = |i: usize| s.get(i).map(|&b| b.wrapping_sub(b'0')).filter(|&d| d <= 9);
    let mut parts = [0u8; 4];
    let mut k = 0;
    loop {
        let mut v = u32::from(digit(i)?);
        i += 1;
        if let Some(d) = digit(i) {
            v = v * 10 + u32::from(d);
            i += 1;
            if let Some(d) = digit(i) {
                v = v * 10 + u32::from(d);
                i += 1;
            }
        }
        if v > 255 {
            return None;
        }
        parts[k] = v as u8;
        k += 1;
        if k == 4 {
            return Some((i, Ipv4Addr::from(parts)));
        }
        if s.get(i) != Some(&b'.') {
            return None;
        }
        i += 1;
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
        Self::parse_in_place(s)
    }

    /// [`Uri::parse`] inlined into its caller, so that a caller embedding the `Uri` in a
    /// larger result (`NameAddr::parse`) has it built in place rather than copied.
    #[inline(always)]
    pub(crate) fn parse_in_place(s: &'a [u8]) -> Result<Uri<'a>, BadUri> {
        // `sip:` / `sips:` in any case, read as one word: the first ':' is then the one
        // after the scheme, as below.
        if let Some(p) = s.first_chunk::<4>() {
            let w = u32::from_le_bytes(*p) | 0x0020_2020;
            if w == u32::from_le_bytes(*b"sip:") {
                return Self::parse_sip(Scheme::Sip, s, 4);
            }
            if w | 0x2000_0000 == u32::from_le_bytes(*b"sips") && s.get(4) == Some(&b':') {
                return Self::parse_sip(Scheme::Sips, s, 5);
            }
        }
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
        let empty = Self::empty(scheme, s);
        match scheme {
            Scheme::Sip | Scheme::Sips => Self::parse_sip(scheme, s, colon + 1),
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

    /// A URI of `scheme` with no component but `raw`.
    #[inline(always)]
    fn empty(scheme: Scheme<'a>, raw: &'a [u8]) -> Uri<'a> {
        Uri {
            scheme,
            user: None,
            password: None,
            host: Host::None,
            host_raw: &[],
            port: None,
            params: Params::new(&[]),
            headers: &[],
            raw,
        }
    }

    /// `[ userinfo "@" ] hostport uri-parameters [ headers ]`, in one forward pass: every
    /// byte is read once against the class of the component it is in (escapes checked
    /// where they occur, [`scan::span_escaped`]), except the host of a URI without
    /// userinfo, spanned again as a host after the user-class span found no `@`.
    ///
    /// Why that is the grammar (RFC 3261 §19.1.1, §25.1): the userinfo ends at the first
    /// `@` when there is one; the user part has no `:` and is the span of user bytes; a
    /// URI without `@` holds none anywhere (no class after the host admits `@`, so a
    /// parse from the host that succeeds proves it); the host ends at the first `:`, `;`,
    /// `?` or the end (a host byte is none of them); every `%` is an escape, and no
    /// delimiter is a hex digit, so an escape never straddles two components.
    ///
    /// `rest` is `raw[after_colon..]`. The components are kept in locals
    /// and the `Uri` is built once at the end (no 160-byte copy per step).
    #[inline(always)]
    fn parse_sip(scheme: Scheme<'a>, raw: &'a [u8], after_colon: usize) -> Result<Uri<'a>, BadUri> {
        let rest = &raw[after_colon..];
        let n = rest.len();
        let (mut user, mut password, mut port, mut headers) = (None, None, None, &[][..]);
        let user_end = scan::span_escaped(rest, 0, U_USER).map_err(|()| BadUri)?;
        let mut h = 0;
        match rest.get(user_end) {
            Some(b'@') => {
                if user_end == 0 {
                    return Err(BadUri);
                }
                user = Some(&rest[..user_end]);
                h = user_end + 1;
            }
            Some(b':') => {
                // `user:password@` or `host:port`: the first `@` decides.
                if let Some(at) = scan::find_byte(rest, user_end + 1, b'@') {
                    let pw_end =
                        scan::span_escaped(rest, user_end + 1, U_PASSWORD).map_err(|()| BadUri)?;
                    if user_end == 0 || pw_end != at {
                        return Err(BadUri);
                    }
                    user = Some(&rest[..user_end]);
                    password = Some(&rest[user_end + 1..at]);
                    h = at + 1;
                }
            }
            // No userinfo; an `@` further on makes the host parse below fail.
            _ => {}
        }
        // hostport
        let (host, host_raw, mut i) = if rest.get(h) == Some(&b'[') {
            let e = rest[h..].iter().position(|&b| b == b']').ok_or(BadUri)? + 1;
            let host_raw = &rest[h..h + e];
            (ipv6_reference(host_raw).ok_or(BadUri)?, host_raw, h + e)
        } else {
            let (end, host) = scan_host(rest, h);
            if !matches!(rest.get(end), None | Some(b':' | b';' | b'?')) {
                return Err(BadUri);
            }
            (host.ok_or(BadUri)?, &rest[h..end], end)
        };
        if i < n && rest[i] == b':' {
            i += 1;
            let digits = i;
            let mut p = 0u32;
            while i < n && rest[i].is_ascii_digit() {
                p = p * 10 + u32::from(rest[i] - b'0');
                if p > 65535 {
                    return Err(BadUri);
                }
                i += 1;
            }
            if i == digits {
                return Err(BadUri);
            }
            port = Some(p as u16);
        }
        // uri-parameters: *( ";" pname [ "=" pvalue ] ), both 1*paramchar, up to the '?'.
        let params = i;
        while i < n && rest[i] == b';' {
            let name = i + 1;
            i = scan::span_escaped(rest, name, U_PARAM).map_err(|()| BadUri)?;
            if i == name {
                return Err(BadUri);
            }
            if i < n && rest[i] == b'=' {
                let value = i + 1;
                i = scan::span_escaped(rest, value, U_PARAM).map_err(|()| BadUri)?;
                if i == value {
                    return Err(BadUri);
                }
            }
        }
        let params = Params::new(&rest[params..i]);
        if i < n {
            if rest[i] != b'?' {
                return Err(BadUri);
            }
            // headers: hname "=" hvalue *( "&" hname "=" hvalue ), hname not empty.
            let h = i + 1;
            i = h;
            loop {
                let name = i;
                i = scan::span_escaped(rest, name, U_HNV).map_err(|()| BadUri)?;
                if i == name || rest.get(i) != Some(&b'=') {
                    return Err(BadUri);
                }
                i = scan::span_escaped(rest, i + 1, U_HNV).map_err(|()| BadUri)?;
                match rest.get(i) {
                    None => break,
                    Some(b'&') => i += 1,
                    Some(_) => return Err(BadUri),
                }
            }
            headers = &rest[h..];
        }
        Ok(Uri {
            scheme,
            user,
            password,
            host,
            host_raw,
            port,
            params,
            headers,
            raw,
        })
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
