//! The field parsers as they were before the 2026-11-27 instruction-count work (main
//! 5ecd8d7), kept verbatim for the equivalence tests in `field_equivalence.rs`: the fast
//! parsers in `via.rs`, `uri.rs` and `name_addr.rs` must return exactly what these return
//! (same fields, same borrowed slices, same accept/reject decision and error kind) for
//! every input. Test-only.

use std::net::Ipv4Addr;

use super::name_addr::{BadNameAddr, NameAddr, NameAddrParts};
use super::scan::{self, Params, HNV, PARAM, PASSWORD, TOKEN, USER, WS};
use super::uri::{BadUri, Host, Scheme, Uri};
use super::via::{BadVia, RPort, Transport, Via};

// ---- via.rs --------------------------------------------------------------------------

pub(crate) fn transport_from_bytes(b: &[u8]) -> Transport<'_> {
    if b.eq_ignore_ascii_case(b"UDP") {
        Transport::Udp
    } else if b.eq_ignore_ascii_case(b"TCP") {
        Transport::Tcp
    } else if b.eq_ignore_ascii_case(b"TLS") {
        Transport::Tls
    } else if b.eq_ignore_ascii_case(b"SCTP") {
        Transport::Sctp
    } else if b.eq_ignore_ascii_case(b"WS") {
        Transport::Ws
    } else if b.eq_ignore_ascii_case(b"WSS") {
        Transport::Wss
    } else {
        Transport::Other(b)
    }
}

fn skip_ws(s: &[u8]) -> &[u8] {
    &s[scan::span(s, WS)..]
}

fn expect(s: &[u8], c: u8) -> Result<&[u8], BadVia> {
    let s = skip_ws(s);
    if s.first() == Some(&c) {
        Ok(skip_ws(&s[1..]))
    } else {
        Err(BadVia)
    }
}

fn token(s: &[u8]) -> Result<(&[u8], &[u8]), BadVia> {
    let n = scan::span(s, TOKEN);
    if n == 0 {
        return Err(BadVia);
    }
    Ok((&s[..n], &s[n..]))
}

pub(crate) fn via_parse(raw: &[u8]) -> Result<Via<'_>, BadVia> {
    let (name, s) = token(raw)?;
    if !name.eq_ignore_ascii_case(b"SIP") {
        return Err(BadVia);
    }
    let (version, s) = token(expect(s, b'/')?)?;
    if version != b"2.0" {
        return Err(BadVia);
    }
    let (transport, s) = token(expect(s, b'/')?)?;
    // LWS then sent-by
    if s.is_empty() || !scan::is(s[0], WS) {
        return Err(BadVia);
    }
    let s = skip_ws(s);
    let host_len = if s.first() == Some(&b'[') {
        s.iter().position(|&b| b == b']').ok_or(BadVia)? + 1
    } else {
        // A name or IPv4 host never contains ':'; the port follows it.
        s.iter()
            .position(|&b| !scan::is(b, scan::HOST) || b == b':')
            .unwrap_or(s.len())
    };
    let host = &s[..host_len];
    if host_parse(host).is_none() {
        return Err(BadVia);
    }
    let mut s = skip_ws(&s[host_len..]);
    let mut port = None;
    if s.first() == Some(&b':') {
        let t = skip_ws(&s[1..]);
        let n = t
            .iter()
            .position(|b| !b.is_ascii_digit())
            .unwrap_or(t.len());
        port = Some(scan::parse_u32(&t[..n], 65535).ok_or(BadVia)? as u16);
        s = skip_ws(&t[n..]);
    }
    let params = Params::new(s);
    let mut v = Via {
        transport: transport_from_bytes(transport),
        host,
        port,
        branch: None,
        received: None,
        rport: None,
        maddr: None,
        ttl: None,
        params,
        raw,
    };
    let mut p = s;
    loop {
        p = skip_ws(p);
        let Some(&first) = p.first() else { break };
        if first != b';' {
            return Err(BadVia);
        }
        p = skip_ws(&p[1..]);
        let n = scan::span(p, TOKEN);
        if n == 0 {
            return Err(BadVia);
        }
        let name = &p[..n];
        p = skip_ws(&p[n..]);
        let mut val = None;
        if p.first() == Some(&b'=') {
            p = skip_ws(&p[1..]);
            let len = match p.first() {
                Some(b'"') => scan::quoted_end(p).ok_or(BadVia)?,
                Some(b'[') => {
                    let e = memchr::memchr(b']', p).ok_or(BadVia)?;
                    if !scan::all(&p[1..e], scan::HOST) {
                        return Err(BadVia);
                    }
                    e + 1
                }
                _ => scan::span(p, TOKEN),
            };
            if len == 0 {
                return Err(BadVia);
            }
            val = Some(&p[..len]);
            p = &p[len..];
        }
        match name.len() {
            6 if name.eq_ignore_ascii_case(b"branch") => v.branch = Some(val.ok_or(BadVia)?),
            8 if name.eq_ignore_ascii_case(b"received") => v.received = Some(val.ok_or(BadVia)?),
            5 if name.eq_ignore_ascii_case(b"rport") => {
                v.rport = Some(match val {
                    None => RPort::Requested,
                    Some(p) => RPort::Port(scan::parse_u32(p, 65535).ok_or(BadVia)? as u16),
                })
            }
            5 if name.eq_ignore_ascii_case(b"maddr") => v.maddr = Some(val.ok_or(BadVia)?),
            3 if name.eq_ignore_ascii_case(b"ttl") => {
                v.ttl = Some(scan::parse_u32(val.ok_or(BadVia)?, 255).ok_or(BadVia)? as u8)
            }
            _ => {}
        }
    }
    Ok(v)
}

// ---- uri.rs --------------------------------------------------------------------------

pub(crate) fn host_parse(s: &[u8]) -> Option<Host<'_>> {
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
    let (name, numeric) = scan::host_classes(s);
    if !name {
        return None;
    }
    if numeric {
        return parse_ipv4(s).map(Host::Ipv4);
    }
    if s[0] == b'.' || s[0] == b'-' {
        return None;
    }
    Some(Host::Name(s))
}

fn parse_ipv4(s: &[u8]) -> Option<Ipv4Addr> {
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

pub(crate) fn uri_parse(s: &[u8]) -> Result<Uri<'_>, BadUri> {
    let colon = scan::find(s, b':').ok_or(BadUri)?;
    let scheme_raw = &s[..colon];
    let rest = &s[colon + 1..];
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
        Scheme::Sip | Scheme::Sips => parse_sip(empty, rest),
        Scheme::Tel => {
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

fn parse_sip<'a>(mut u: Uri<'a>, rest: &'a [u8]) -> Result<Uri<'a>, BadUri> {
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
    let host_end = if hp.first() == Some(&b'[') {
        hp.iter().position(|&b| b == b']').ok_or(BadUri)? + 1
    } else {
        scan::find3(hp, 0, b':', b';', b'?').unwrap_or(hp.len())
    };
    let host_raw = &hp[..host_end];
    u.host = host_parse(host_raw).ok_or(BadUri)?;
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

// ---- name_addr.rs --------------------------------------------------------------------

fn angle(t: &[u8]) -> Result<(&[u8], &[u8]), BadNameAddr> {
    let gt = scan::find(t, b'>').ok_or(BadNameAddr::Syntax)?;
    let u = &t[1..gt];
    if u.is_empty() {
        return Err(BadNameAddr::Syntax);
    }
    Ok((u, &t[gt + 1..]))
}

pub(crate) fn name_addr_split(s: &[u8]) -> Result<NameAddrParts<'_>, BadNameAddr> {
    if s.first() == Some(&b'"') {
        let e = scan::quoted_end(s).ok_or(BadNameAddr::Syntax)?;
        let t = scan::trim_start(&s[e..]);
        if t.first() != Some(&b'<') {
            return Err(BadNameAddr::Syntax);
        }
        let (uri, rest) = angle(t)?;
        Ok(NameAddrParts {
            display_name: Some(&s[..e]),
            uri,
            rest,
            angle: true,
        })
    } else if let Some(lt) = scan::find(s, b'<') {
        let dn = scan::trim(&s[..lt]);
        let mut display_name = None;
        if !dn.is_empty() {
            if !dn.iter().all(|&b| scan::is(b, TOKEN | WS)) {
                return Err(BadNameAddr::Syntax);
            }
            display_name = Some(dn);
        }
        let (uri, rest) = angle(&s[lt..])?;
        Ok(NameAddrParts {
            display_name,
            uri,
            rest,
            angle: true,
        })
    } else {
        let e = s
            .iter()
            .position(|&b| b == b';' || scan::is(b, WS))
            .unwrap_or(s.len());
        let u = &s[..e];
        if scan::find3(u, 0, b'?', b',', b',').is_some() {
            return Err(BadNameAddr::Syntax);
        }
        Ok(NameAddrParts {
            display_name: None,
            uri: u,
            rest: &s[e..],
            angle: false,
        })
    }
}

pub(crate) fn name_addr_parse_uri<'a>(p: &NameAddrParts<'a>) -> Result<Uri<'a>, BadNameAddr> {
    uri_parse(p.uri).map_err(|_| {
        if p.angle && p.uri.iter().any(|&b| scan::is(b, WS)) {
            BadNameAddr::Syntax
        } else {
            BadNameAddr::Uri
        }
    })
}

pub(crate) fn name_addr_tag<'a>(p: &NameAddrParts<'a>) -> Result<Option<&'a [u8]>, BadNameAddr> {
    match scan::check_params_find(p.rest, b"tag") {
        Err(()) | Ok(Some(None)) => Err(BadNameAddr::Syntax),
        Ok(Some(Some(t))) => Ok(Some(t)),
        Ok(None) => Ok(None),
    }
}

pub(crate) fn name_addr_parse(raw: &[u8]) -> Result<NameAddr<'_>, BadNameAddr> {
    let parts = name_addr_split(raw)?;
    let uri = name_addr_parse_uri(&parts)?;
    let tag = name_addr_tag(&parts)?;
    Ok(NameAddr {
        display_name: parts.display_name,
        uri,
        params: Params::new(parts.rest),
        tag,
        angle_brackets: parts.angle,
        raw,
    })
}
