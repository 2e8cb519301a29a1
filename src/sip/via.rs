//! Via header values (RFC 3261 §20.42, RFC 3581 rport).
//!
//! `via-parm = sent-protocol LWS sent-by *( SEMI via-params )`, where the slashes of
//! sent-protocol and the colon of sent-by may be surrounded by LWS (RFC 4475 wsinv).
//! Parsing one value reads its parameters once and keeps the ones a proxy needs (branch,
//! received, rport, maddr, ttl); the rest stay reachable through [`Via::params`].
//!
//! [`Via::parse`] reads the value once, front to back, by index: the common unspaced
//! `SIP/2.0/` and `;branch=` as 8-byte words, the sent-by host classified while it is
//! spanned. Its results are those of the previous, step-by-step parser, kept as the
//! reference in `field_reference.rs` and compared on every input kind by the tests in
//! `field_equivalence.rs`: change both or neither.

use super::scan::{self, Params, TOKEN, WS};
use super::uri::{ipv6_reference, scan_host, Host};

/// RFC 3261 §8.1.1.7: branches of RFC 3261 elements start with this magic cookie.
pub const BRANCH_MAGIC_COOKIE: &[u8] = b"z9hG4bK";

/// The transport of a Via (`SIP/2.0/<transport>`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Transport<'a> {
    Udp,
    Tcp,
    Tls,
    Sctp,
    Ws,
    Wss,
    Other(&'a [u8]),
}

impl<'a> Transport<'a> {
    #[inline]
    pub fn from_bytes(b: &'a [u8]) -> Transport<'a> {
        // By length first: one comparison for the common names.
        match b.len() {
            3 if lower_eq(b, b"udp") => Transport::Udp,
            3 if lower_eq(b, b"tcp") => Transport::Tcp,
            3 if lower_eq(b, b"tls") => Transport::Tls,
            3 if lower_eq(b, b"wss") => Transport::Wss,
            4 if lower_eq(b, b"sctp") => Transport::Sctp,
            2 if lower_eq(b, b"ws") => Transport::Ws,
            _ => Transport::Other(b),
        }
    }

    pub fn as_bytes(&self) -> &'a [u8] {
        match self {
            Transport::Udp => b"UDP",
            Transport::Tcp => b"TCP",
            Transport::Tls => b"TLS",
            Transport::Sctp => b"SCTP",
            Transport::Ws => b"WS",
            Transport::Wss => b"WSS",
            Transport::Other(b) => b,
        }
    }
}

/// The `rport` parameter (RFC 3581).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RPort {
    /// `;rport` without a value: the client asks to have it filled in.
    Requested,
    /// `;rport=N`.
    Port(u16),
}

/// One Via value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Via<'a> {
    pub transport: Transport<'a>,
    /// The sent-by host as received (brackets kept for IPv6).
    pub host: &'a [u8],
    pub port: Option<u16>,
    pub branch: Option<&'a [u8]>,
    pub received: Option<&'a [u8]>,
    pub rport: Option<RPort>,
    pub maddr: Option<&'a [u8]>,
    pub ttl: Option<u8>,
    /// All parameters, starting at the first `;`.
    pub params: Params<'a>,
    /// The whole via-parm as received (one comma-separated element).
    pub raw: &'a [u8],
}

/// Why a Via value was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BadVia;

/// `name` is `want` ignoring ASCII case, for a `want` of lower-case letters only: then
/// `b | 0x20 == w` holds exactly for `b` in {`w`, upper-case `w`}.
#[inline(always)]
fn lower_eq<const N: usize>(name: &[u8], want: &[u8; N]) -> bool {
    debug_assert!(want.iter().all(u8::is_ascii_lowercase));
    match name.first_chunk::<N>() {
        Some(c) if name.len() == N => c.iter().zip(want).all(|(&b, &w)| b | 0x20 == w),
        _ => false,
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

/// `w` (eight bytes) is `;branch=` with the name in any case.
#[inline(always)]
fn is_branch_eq(w: &[u8]) -> bool {
    // Bytes 1 to 6 are letters: OR-ing 0x20 lower-cases exactly 'A'-'Z' among the bytes
    // that can then equal a lower-case letter; ';' and '=' are compared as they are.
    const MASK: u64 = 0x0020_2020_2020_2000;
    match w.first_chunk::<8>() {
        Some(c) => u64::from_le_bytes(*c) | MASK == u64::from_le_bytes(*b";branch="),
        None => false,
    }
}

/// The index of the first byte of `s` at or after `i` that is not LWS (or `s.len()`).
/// LWS is rare inside a Via, so only the first byte is tested inline: a loop inlined at
/// each of the parser's dozen LWS points costs more in register spills than it saves.
#[inline(always)]
fn ws_from(s: &[u8], i: usize) -> usize {
    match s.get(i) {
        Some(&b) if scan::is(b, WS) => ws_after(s, i + 1),
        _ => i,
    }
}

#[cold]
#[inline(never)]
fn ws_after(s: &[u8], i: usize) -> usize {
    i + scan::span(s.get(i..).unwrap_or_default(), WS)
}

/// `"SIP" SLASH "2.0" SLASH` with LWS allowed around the slashes (RFC 4475 wsinv): the
/// index after it and the LWS that follows.
#[cold]
fn sent_protocol_with_lws(raw: &[u8]) -> Result<usize, BadVia> {
    let (name, s) = token(raw)?;
    if !name.eq_ignore_ascii_case(b"SIP") {
        return Err(BadVia);
    }
    let (version, s) = token(expect(s, b'/')?)?;
    if version != b"2.0" {
        return Err(BadVia);
    }
    let s = expect(s, b'/')?;
    Ok(raw.len() - s.len())
}

impl<'a> Via<'a> {
    /// Parses one via-parm (already separated from its neighbours by commas, trimmed).
    ///
    /// One forward pass over the value by index: `SIP/2.0/` read as one word when written
    /// without LWS, the sent-by host read and classified in one pass
    /// (`uri::scan_host`), the port accumulated while its digits are
    /// read, and each parameter checked and, when a proxy needs it, kept as it is read.
    #[inline]
    pub fn parse(raw: &'a [u8]) -> Result<Via<'a>, BadVia> {
        let n = raw.len();
        let ws = |i: usize| ws_from(raw, i);
        let mut i = match raw.first_chunk::<8>() {
            Some(p) if u64::from_le_bytes(*p) | 0x20_2020 == u64::from_le_bytes(*b"sip/2.0/") => {
                ws(8)
            }
            _ => sent_protocol_with_lws(raw)?,
        };
        let t = i;
        i += scan::span(&raw[i..], TOKEN);
        if i == t {
            return Err(BadVia);
        }
        let transport = &raw[t..i];
        // LWS then sent-by
        if i >= n || !scan::is(raw[i], WS) {
            return Err(BadVia);
        }
        i = ws(i);
        let host_start = i;
        if raw.get(i) == Some(&b'[') {
            let e = raw[i..].iter().position(|&b| b == b']').ok_or(BadVia)? + 1;
            ipv6_reference(&raw[i..i + e]).ok_or(BadVia)?;
            i += e;
        } else {
            // A name or IPv4 host never contains ':'; the port follows it.
            let (end, host) = scan_host(raw, i);
            host.ok_or(BadVia)?;
            i = end;
        }
        let host = &raw[host_start..i];
        i = ws(i);
        let mut port = None;
        if i < n && raw[i] == b':' {
            i = ws(i + 1);
            let digits = i;
            let mut p = 0u32;
            while i < n && raw[i].is_ascii_digit() {
                p = p * 10 + u32::from(raw[i] - b'0');
                if p > 65535 {
                    return Err(BadVia);
                }
                i += 1;
            }
            if i == digits {
                return Err(BadVia);
            }
            port = Some(p as u16);
            i = ws(i);
        }
        let mut v = Via {
            transport: Transport::from_bytes(transport),
            host,
            port,
            branch: None,
            received: None,
            rport: None,
            maddr: None,
            ttl: None,
            params: Params::new(&raw[i..]),
            raw,
        };
        // One pass over `*( SEMI via-params )`: checks the generic-param grammar (as
        // `scan::check_params` does) and keeps the parameters a proxy reads.
        loop {
            i = ws(i);
            if i >= n {
                break;
            }
            if raw[i] != b';' {
                return Err(BadVia);
            }
            let name_start;
            if raw.get(i..i + 8).is_some_and(is_branch_eq) {
                // `;branch=` in any case, read as one word: the same name the token scan
                // below finds (no LWS, six token bytes, then the '=' it stops at).
                name_start = i + 1;
                i += 7;
            } else {
                i = ws(i + 1);
                name_start = i;
                i += scan::span(&raw[i..], TOKEN);
                if i == name_start {
                    return Err(BadVia);
                }
            }
            let name = &raw[name_start..i];
            i = ws(i);
            let mut val = None;
            if i < n && raw[i] == b'=' {
                i = ws(i + 1);
                let p = &raw[i..];
                let len = match p.first() {
                    Some(b'"') => scan::quoted_end(p).ok_or(BadVia)?,
                    Some(b'[') => {
                        let e = memchr::memchr(b']', p).ok_or(BadVia)?;
                        if !scan::all(&p[1..e], scan::HOST) {
                            return Err(BadVia);
                        }
                        e + 1
                    }
                    _ => scan::span_long(p, TOKEN),
                };
                if len == 0 {
                    return Err(BadVia);
                }
                val = Some(&p[..len]);
                i += len;
            }
            match name.len() {
                6 if lower_eq(name, b"branch") => v.branch = Some(val.ok_or(BadVia)?),
                8 if lower_eq(name, b"received") => v.received = Some(val.ok_or(BadVia)?),
                5 if lower_eq(name, b"rport") => {
                    v.rport = Some(match val {
                        None => RPort::Requested,
                        Some(p) => RPort::Port(scan::parse_u32(p, 65535).ok_or(BadVia)? as u16),
                    })
                }
                5 if lower_eq(name, b"maddr") => v.maddr = Some(val.ok_or(BadVia)?),
                3 if lower_eq(name, b"ttl") => {
                    v.ttl = Some(scan::parse_u32(val.ok_or(BadVia)?, 255).ok_or(BadVia)? as u8)
                }
                _ => {}
            }
        }
        Ok(v)
    }

    /// True when the branch starts with the RFC 3261 magic cookie and has something after it
    /// (RFC 4475 badbranch: a bare cookie is not an RFC 3261 transaction id).
    pub fn is_rfc3261_branch(&self) -> bool {
        matches!(self.branch, Some(b) if b.len() > BRANCH_MAGIC_COOKIE.len() && b.starts_with(BRANCH_MAGIC_COOKIE))
    }

    /// RFC 3261 §18.2.1 / RFC 3581 §4: a server adds `received` when the sent-by host is
    /// not the source address, or always when the client asked for `rport`.
    pub fn needs_received(&self, source: std::net::IpAddr) -> bool {
        if self.rport.is_some() {
            return true;
        }
        match (Host::parse(self.host), source) {
            (Some(Host::Ipv4(a)), std::net::IpAddr::V4(b)) => a != b,
            (Some(Host::Ipv6(a)), std::net::IpAddr::V6(b)) => {
                std::str::from_utf8(a)
                    .ok()
                    .and_then(|s| s.parse::<std::net::Ipv6Addr>().ok())
                    != Some(b)
            }
            _ => true,
        }
    }

    /// The sent-by host, classified.
    pub fn host_kind(&self) -> Option<Host<'a>> {
        Host::parse(self.host)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn via_with_lws_and_params() {
        let v = Via::parse(
            b"SIP  / 2.0  / TCP     spindle.example.com   ;\r\n  branch  =   z9hG4bK9ikj8",
        )
        .unwrap();
        assert_eq!(v.transport, Transport::Tcp);
        assert_eq!(v.host, b"spindle.example.com");
        assert_eq!(v.port, None);
        assert_eq!(v.branch, Some(&b"z9hG4bK9ikj8"[..]));
        let v = Via::parse(b"SIP/2.0/UDP [2001:db8::1]:5070;rport;received=192.0.2.1;maddr=224.0.0.1;ttl=16;branch=z9hG4bKx").unwrap();
        assert_eq!(v.host, b"[2001:db8::1]");
        assert_eq!(v.port, Some(5070));
        assert_eq!(v.rport, Some(RPort::Requested));
        assert_eq!(v.received, Some(&b"192.0.2.1"[..]));
        assert_eq!(v.maddr, Some(&b"224.0.0.1"[..]));
        assert_eq!(v.ttl, Some(16));
        assert!(v.is_rfc3261_branch());
        let v = Via::parse(b"SIP/2.0/UDP h.example.com : 5060 ;rport=1234").unwrap();
        assert_eq!(v.port, Some(5060));
        assert_eq!(v.rport, Some(RPort::Port(1234)));
    }

    #[test]
    fn bad_vias() {
        for bad in [
            &b"SIP/2.0/UDP 192.0.2.15;;"[..],
            b"SIP/2.0/UDP",
            b"SIP/3.0/UDP host",
            b"SIP/2.0/UDP host:99999",
            b"SIP/2.0/UDP host;branch",
            b"SIP/2.0 host",
        ] {
            assert!(Via::parse(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        let v = Via::parse(b"SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK").unwrap();
        assert!(!v.is_rfc3261_branch());
    }
}
