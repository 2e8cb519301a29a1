//! name-addr / addr-spec values: From, To, Contact, Route, Record-Route (RFC 3261 §20.10,
//! §25.1).
//!
//! ```text
//!  "Display Name" <sip:user@host;uri-param> ;tag=abc;q=0.5
//!  └ display ─────┘ └ uri ─────────────────┘ └ params ─────┘
//!  sip:user@host ;tag=abc          (addr-spec: every `;` after the URI is a header param)
//! ```
//!
//! In the addr-spec form the URI may not contain `,`, `;` or `?` (RFC 3261 §20.10), so a
//! Contact with an escaped header outside `<>` is refused (RFC 4475 regbadct), and a
//! URI inside `<>` may not be surrounded by spaces (RFC 4475 badaspec).

use super::scan::{self, Params, TOKEN, WS};
use super::uri::Uri;

/// A name-addr or addr-spec with its header parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NameAddr<'a> {
    /// The display name as received: a quoted string with its quotes, or tokens; `None`
    /// when absent.
    pub display_name: Option<&'a [u8]>,
    pub uri: Uri<'a>,
    /// Header parameters after the URI (after `>` in the name-addr form).
    pub params: Params<'a>,
    /// The `tag` parameter (From/To).
    pub tag: Option<&'a [u8]>,
    /// True when the URI was enclosed in `<>`.
    pub angle_brackets: bool,
    /// The whole value as received.
    pub raw: &'a [u8],
}

/// Why a name-addr was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BadNameAddr {
    /// Unbalanced quotes, non-token display name, missing `>`, spaces inside `<>`...
    Syntax,
    /// The URI itself is malformed.
    Uri,
}

/// A name-addr or addr-spec split into its parts without looking inside the URI: what
/// [`NameAddr::parse`] checks before `Uri::parse`, shared with the cheap accessors
/// ([`Message::to_tag`](super::Message::to_tag), [`Message::top_route_uri`](super::Message::top_route_uri)).
#[derive(Clone, Copy, Debug)]
pub(crate) struct NameAddrParts<'a> {
    pub(crate) display_name: Option<&'a [u8]>,
    /// The URI text (inside `<>` or the addr-spec), not yet checked.
    pub(crate) uri: &'a [u8],
    /// The header parameters, not yet checked.
    pub(crate) rest: &'a [u8],
    pub(crate) angle: bool,
}

impl<'a> NameAddrParts<'a> {
    /// Splits one value (already separated from its neighbours by commas, trimmed).
    #[inline]
    pub(crate) fn split(s: &'a [u8]) -> Result<NameAddrParts<'a>, BadNameAddr> {
        // The common form `*(token LWS) <uri>` in one pass: the span of token and LWS
        // bytes ends at the first '<' (neither class holds '<'), and the display name is
        // that span trimmed, i.e. from its first to its last token byte. Anything else
        // (quoted display name, addr-spec, a refused display name) takes the paths below.
        let (mut first, mut last, mut i) = (usize::MAX, 0, 0);
        while i < s.len() {
            let c = scan::CLASS[s[i] as usize];
            if c & (TOKEN | WS) == 0 {
                break;
            }
            if c & TOKEN != 0 {
                first = first.min(i);
                last = i + 1;
            }
            i += 1;
        }
        if s.get(i) == Some(&b'<') {
            let (uri, rest) = NameAddr::angle(&s[i..])?;
            return Ok(NameAddrParts {
                display_name: (first < last).then(|| &s[first..last]),
                uri,
                rest,
                angle: true,
            });
        }
        if s.first() == Some(&b'"') {
            let e = scan::quoted_end(s).ok_or(BadNameAddr::Syntax)?;
            let t = scan::trim_start(&s[e..]);
            if t.first() != Some(&b'<') {
                return Err(BadNameAddr::Syntax);
            }
            let (uri, rest) = NameAddr::angle(t)?;
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
                // *(token LWS): tokens and white space only (RFC 4475 baddn).
                if !dn.iter().all(|&b| scan::is(b, TOKEN | WS)) {
                    return Err(BadNameAddr::Syntax);
                }
                display_name = Some(dn);
            }
            let (uri, rest) = NameAddr::angle(&s[lt..])?;
            Ok(NameAddrParts {
                display_name,
                uri,
                rest,
                angle: true,
            })
        } else {
            // addr-spec: the URI ends at the first `;` or LWS; it may not hold `?` or `,`.
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

    /// The URI, parsed: a refused URI with white space inside `<>` is a name-addr syntax
    /// error (RFC 4475 badaspec), any other a URI error. No URI grammar admits white space,
    /// so it is only looked for once the URI is refused.
    #[inline]
    pub(crate) fn parse_uri(&self) -> Result<Uri<'a>, BadNameAddr> {
        Uri::parse_in_place(self.uri).map_err(|_| {
            if self.angle && self.uri.iter().any(|&b| scan::is(b, WS)) {
                BadNameAddr::Syntax
            } else {
                BadNameAddr::Uri
            }
        })
    }

    /// Checks the header-parameter grammar and returns the first `tag` (as `Params::get`
    /// finds it; a `tag` without a value is a syntax error).
    #[inline]
    pub(crate) fn tag(&self) -> Result<Option<&'a [u8]>, BadNameAddr> {
        // The common form: exactly `;tag=token` (the name in any case). The general check
        // below returns the same for it: one parameter, named tag, with a token value.
        let r = self.rest;
        if let Some(p) = r.first_chunk::<5>() {
            if p[0] == b';'
                && p[4] == b'='
                && p[1..4].iter().zip(b"tag").all(|(&b, &w)| b | 0x20 == w)
            {
                let n = scan::span_long(&r[5..], TOKEN);
                if n > 0 && 5 + n == r.len() {
                    return Ok(Some(&r[5..]));
                }
            }
        }
        match scan::check_params_find(self.rest, b"tag") {
            Err(()) | Ok(Some(None)) => Err(BadNameAddr::Syntax),
            Ok(Some(Some(t))) => Ok(Some(t)),
            Ok(None) => Ok(None),
        }
    }
}

impl<'a> NameAddr<'a> {
    /// Parses one value (already separated from its neighbours by commas, trimmed).
    #[inline]
    pub fn parse(raw: &'a [u8]) -> Result<NameAddr<'a>, BadNameAddr> {
        let parts = NameAddrParts::split(raw)?;
        let uri = parts.parse_uri()?;
        // One pass: the generic-param grammar and the first `tag`.
        let tag = parts.tag()?;
        Ok(NameAddr {
            display_name: parts.display_name,
            uri,
            params: Params::new(parts.rest),
            tag,
            angle_brackets: parts.angle,
            raw,
        })
    }

    /// Splits `<uri>rest` (LWS inside the brackets is refused after `Uri::parse`).
    fn angle(t: &'a [u8]) -> Result<(&'a [u8], &'a [u8]), BadNameAddr> {
        let gt = scan::find(t, b'>').ok_or(BadNameAddr::Syntax)?;
        let u = &t[1..gt];
        if u.is_empty() {
            return Err(BadNameAddr::Syntax);
        }
        Ok((u, &t[gt + 1..]))
    }

    /// The display name without its quotes (escapes kept), if any.
    pub fn display_name_unquoted(&self) -> Option<&'a [u8]> {
        self.display_name.map(scan::unquote)
    }

    /// The `expires` parameter (Contact), `Err` when present but not a 32-bit delta-seconds.
    pub fn expires(&self) -> Result<Option<u32>, BadNameAddr> {
        match self.params.get(b"expires") {
            None => Ok(None),
            Some(Some(v)) => scan::parse_u32(v, u32::MAX)
                .map(Some)
                .ok_or(BadNameAddr::Syntax),
            Some(None) => Err(BadNameAddr::Syntax),
        }
    }

    /// The `q` parameter (Contact) in thousandths (`q=0.5` is 500), `Err` when malformed.
    pub fn q(&self) -> Result<Option<u16>, BadNameAddr> {
        match self.params.get(b"q") {
            None => Ok(None),
            Some(Some(v)) => parse_qvalue(v).map(Some).ok_or(BadNameAddr::Syntax),
            Some(None) => Err(BadNameAddr::Syntax),
        }
    }
}

/// `qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )`, in thousandths.
fn parse_qvalue(v: &[u8]) -> Option<u16> {
    let (int, frac) = match v.iter().position(|&b| b == b'.') {
        Some(d) => (&v[..d], &v[d + 1..]),
        None => (v, &v[v.len()..]),
    };
    if frac.len() > 3 || !frac.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut f = 0u16;
    for i in 0..3 {
        f = f * 10 + frac.get(i).map_or(0, |&d| u16::from(d - b'0'));
    }
    match int {
        b"0" => Some(f),
        b"1" if f == 0 => Some(1000),
        _ => None,
    }
}

/// One Contact value: `*` or an address.
// A Contact is used by value and briefly; boxing the address would allocate per value.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Contact<'a> {
    /// `Contact: *` (REGISTER removing all bindings, RFC 3261 §10.2.2).
    Star,
    Addr(NameAddr<'a>),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let n = NameAddr::parse(
            b"\"J Rosenberg \\\\\\\"\"       <sip:jdrosen@example.com>\r\n  ;\r\n  tag = 98asjd8",
        )
        .unwrap();
        assert_eq!(
            n.display_name_unquoted(),
            Some(&b"J Rosenberg \\\\\\\""[..])
        );
        assert_eq!(n.tag, Some(&b"98asjd8"[..]));
        assert_eq!(n.uri.user, Some(&b"jdrosen"[..]));
        let n =
            NameAddr::parse(b"sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n").unwrap();
        assert_eq!(n.tag, Some(&b"1918181833n"[..]));
        assert!(!n.angle_brackets);
        let n = NameAddr::parse(b"caller<sip:caller@example.com>;tag=323").unwrap();
        assert_eq!(n.display_name, Some(&b"caller"[..]));
        let n = NameAddr::parse(b"<sip:a@b>;expires=60;q=0.33").unwrap();
        assert_eq!(n.expires(), Ok(Some(60)));
        assert_eq!(n.q(), Ok(Some(330)));
    }

    #[test]
    fn refused() {
        for bad in [
            &b"\"Bell, Alexander <sip:a.g.bell@example.com>;tag=43"[..],
            b"Bell, Alexander <sip:a.g.bell@example.com>;tag=43",
            b"\"Watson, Thomas\" < sip:t.watson@example.org >",
            b"sip:user@example.com?Route=%3Csip:sip.example.com%3E",
            b"<sip:a@b>;;",
            b"<sip:a@b",
        ] {
            assert!(
                NameAddr::parse(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        let n = NameAddr::parse(b"<sip:a@b>;expires=280297596632815").unwrap();
        assert!(n.expires().is_err());
    }
}
