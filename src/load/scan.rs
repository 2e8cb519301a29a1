//! The few fields of a SIP message that the load generator reads, found without allocating
//! on top of [`crate::sip::parse`].
//!
//! `SipView` borrows the datagram. It holds only what the UAC and UAS act on: the start
//! line, every Via line (copied verbatim into responses), the dialog identifiers, CSeq,
//! Contact, Record-Route lines and a digest challenge. Everything else is skipped.
//! Malformed input is a [`ScanError`], never a panic; the endpoints count it and drop
//! the datagram.
//!
//! Compact header forms (RFC 3261 §7.3.3) are accepted (the parser maps them).

use std::fmt;

use crate::sip::{self, HeaderName, ParseError};

/// At most this many Via / Record-Route header lines are kept (more is a loop or an attack:
/// Max-Forwards is 70, and a real path has a handful).
pub const MAX_LINES: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanError {
    /// The SIP parser refused the datagram.
    Parse(ParseError),
    TooManyHeaderLines,
    MissingCallId,
    MissingCSeq,
    BadCSeq,
    MissingVia,
}

impl fmt::Display for ScanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            ScanError::Parse(e) => return write!(f, "{e}"),
            ScanError::TooManyHeaderLines => "more than 16 Via or Record-Route lines",
            ScanError::MissingCallId => "no Call-ID",
            ScanError::MissingCSeq => "no CSeq",
            ScanError::BadCSeq => "malformed CSeq",
            ScanError::MissingVia => "no Via",
        };
        f.write_str(s)
    }
}

impl std::error::Error for ScanError {}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartLine<'a> {
    Request { method: &'a [u8], uri: &'a [u8] },
    Response { code: u16 },
}

/// Which header carried a digest challenge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChallengeKind {
    /// WWW-Authenticate (401): answer with Authorization.
    Www,
    /// Proxy-Authenticate (407): answer with Proxy-Authorization.
    Proxy,
}

/// A fixed-capacity list of borrowed header lines (whole lines, name included, no CRLF).
#[derive(Debug, Clone, Copy)]
pub struct Lines<'a> {
    items: [&'a [u8]; MAX_LINES],
    len: usize,
}

impl<'a> Lines<'a> {
    const fn new() -> Self {
        Lines {
            items: [&[]; MAX_LINES],
            len: 0,
        }
    }
    fn push(&mut self, line: &'a [u8]) -> Result<(), ScanError> {
        if self.len == MAX_LINES {
            return Err(ScanError::TooManyHeaderLines);
        }
        self.items[self.len] = line;
        self.len += 1;
        Ok(())
    }
    pub fn as_slice(&self) -> &[&'a [u8]] {
        &self.items[..self.len]
    }
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &'a [u8]> + '_ {
        self.items[..self.len].iter().copied()
    }
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// The scanned message.
#[derive(Debug, Clone, Copy)]
pub struct SipView<'a> {
    pub start: StartLine<'a>,
    /// Via header lines in order, verbatim.
    pub vias: Lines<'a>,
    /// Record-Route header lines in order, verbatim.
    pub record_routes: Lines<'a>,
    pub call_id: &'a [u8],
    /// Whole header values (after the colon, trimmed).
    pub from: &'a [u8],
    pub to: &'a [u8],
    pub cseq_num: u32,
    pub cseq_method: &'a [u8],
    /// The first Contact value, if any.
    pub contact: Option<&'a [u8]>,
    pub challenge: Option<(ChallengeKind, &'a [u8])>,
    pub body: &'a [u8],
}

fn trim(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if first.is_ascii_whitespace() {
            s = rest;
        } else {
            break;
        }
    }
    while let [rest @ .., last] = s {
        if last.is_ascii_whitespace() {
            s = rest;
        } else {
            break;
        }
    }
    s
}

/// Scan `bytes` as one SIP message: framing, start line and header slots come from
/// [`crate::sip::parse`] (zero-copy, no allocation); this picks out the fields above.
pub fn scan(bytes: &[u8]) -> Result<SipView<'_>, ScanError> {
    let msg = sip::parse(bytes).map_err(ScanError::Parse)?;
    let start = match (msg.status(), msg.method(), msg.request_uri()) {
        (Some(code), _, _) => StartLine::Response { code },
        (None, Some(m), Some(uri)) => StartLine::Request {
            method: m.as_bytes(),
            uri,
        },
        _ => {
            return Err(ScanError::Parse(ParseError {
                kind: sip::ParseErrorKind::BadStartLine,
                header: None,
                offset: 0,
            }))
        }
    };

    let mut vias = Lines::new();
    let mut record_routes = Lines::new();
    let mut call_id = None;
    let mut from: &[u8] = &[];
    let mut to: &[u8] = &[];
    let mut cseq = None;
    let mut contact = None;
    let mut challenge = None;

    for h in msg.headers() {
        let line = h
            .line
            .strip_suffix(b"\r\n")
            .or_else(|| h.line.strip_suffix(b"\n"))
            .unwrap_or(h.line);
        match h.name {
            HeaderName::Via => vias.push(line)?,
            HeaderName::RecordRoute => record_routes.push(line)?,
            HeaderName::CallId => call_id = Some(h.value),
            HeaderName::From => from = h.value,
            HeaderName::To => to = h.value,
            HeaderName::CSeq => {
                let c = sip::CSeq::parse(h.value).ok_or(ScanError::BadCSeq)?;
                cseq = Some((c.seq, c.method.as_bytes()));
            }
            HeaderName::Contact if contact.is_none() => contact = Some(h.value),
            HeaderName::WwwAuthenticate => challenge = Some((ChallengeKind::Www, h.value)),
            HeaderName::ProxyAuthenticate => challenge = Some((ChallengeKind::Proxy, h.value)),
            _ => {}
        }
    }

    let call_id = call_id
        .filter(|c| !c.is_empty())
        .ok_or(ScanError::MissingCallId)?;
    let (cseq_num, cseq_method) = cseq.ok_or(ScanError::MissingCSeq)?;
    if vias.is_empty() {
        return Err(ScanError::MissingVia);
    }
    Ok(SipView {
        start,
        vias,
        record_routes,
        call_id,
        from,
        to,
        cseq_num,
        cseq_method,
        contact,
        challenge,
        body: msg.body(),
    })
}

/// The value part of a Via line (after the colon), trimmed.
pub fn header_value(line: &[u8]) -> &[u8] {
    match memchr::memchr(b':', line) {
        Some(i) => trim(&line[i + 1..]),
        None => line,
    }
}

/// The first value of a possibly comma-joined header value (commas inside `<>` or quotes
/// do not split).
pub fn first_value(value: &[u8]) -> &[u8] {
    let mut in_quotes = false;
    let mut in_angle = false;
    for (i, &b) in value.iter().enumerate() {
        match b {
            b'"' => in_quotes = !in_quotes,
            b'<' if !in_quotes => in_angle = true,
            b'>' if !in_quotes => in_angle = false,
            b',' if !in_quotes && !in_angle => return trim(&value[..i]),
            _ => {}
        }
    }
    trim(value)
}

/// A `;name=value` parameter of a header value (outside `<>`), case-insensitive name.
pub fn param<'a>(value: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    // Parameters of a name-addr follow the closing '>'; of a Via, the sent-by.
    let params = match memchr::memrchr(b'>', value) {
        Some(i) => &value[i + 1..],
        None => value,
    };
    for p in params.split(|&b| b == b';').skip(1) {
        let (n, v) = match memchr::memchr(b'=', p) {
            Some(i) => (trim(&p[..i]), trim(&p[i + 1..])),
            None => (trim(p), &b""[..]),
        };
        if n.eq_ignore_ascii_case(name) {
            return Some(v);
        }
    }
    None
}

/// The branch of the top Via.
pub fn top_branch<'a>(view: &SipView<'a>) -> Option<&'a [u8]> {
    let line = view.vias.iter().next()?;
    param(first_value(header_value(line)), b"branch")
}

/// The tag of a From/To value.
pub fn tag(value: &[u8]) -> Option<&[u8]> {
    param(value, b"tag").filter(|t| !t.is_empty())
}

/// The URI inside a name-addr (`"x" <sip:a@b>;p` -> `sip:a@b`) or an addr-spec up to `;`.
pub fn uri_of(value: &[u8]) -> &[u8] {
    if let Some(open) = memchr::memchr(b'<', value) {
        if let Some(close) = memchr::memchr(b'>', &value[open..]) {
            return &value[open + 1..open + close];
        }
    }
    match memchr::memchr(b';', value) {
        Some(i) => trim(&value[..i]),
        None => trim(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RESPONSE: &[u8] = b"SIP/2.0 200 OK\r\n\
Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKproxy, SIP/2.0/UDP 127.0.0.1:40000;branch=z9hG4bKuac;rport=40000\r\n\
v: SIP/2.0/UDP 127.0.0.1:1;branch=z9hG4bKthird\r\n\
Record-Route: <sip:127.0.0.1:5070;lr>\r\n\
From: \"A, B\" <sip:a@x>;tag=ft\r\n\
t: <sip:b@x>;tag=tt\r\n\
i: abc@x\r\n\
CSeq: 7 INVITE\r\n\
m: <sip:b@127.0.0.1:5080>;expires=60\r\n\
Content-Length: 4\r\n\r\nv=0\nJUNK";

    #[test]
    fn scans_response_fields() {
        let v = scan(RESPONSE).unwrap();
        assert_eq!(v.start, StartLine::Response { code: 200 });
        assert_eq!(v.vias.len(), 2);
        assert_eq!(top_branch(&v), Some(&b"z9hG4bKproxy"[..]));
        assert_eq!(v.call_id, b"abc@x");
        assert_eq!(v.cseq_num, 7);
        assert_eq!(v.cseq_method, b"INVITE");
        assert_eq!(tag(v.to), Some(&b"tt"[..]));
        assert_eq!(tag(v.from), Some(&b"ft"[..]));
        assert_eq!(uri_of(v.contact.unwrap()), b"sip:b@127.0.0.1:5080");
        assert_eq!(v.record_routes.len(), 1);
        assert_eq!(v.body, b"v=0\n");
    }

    #[test]
    fn scans_request_and_challenge() {
        let m = b"REGISTER sip:x SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=b1\r\nCall-ID: c\r\nCSeq: 1 REGISTER\r\n\
WWW-Authenticate: Digest realm=\"x\", nonce=\"n\"\r\n\r\n";
        let v = scan(m).unwrap();
        assert_eq!(
            v.start,
            StartLine::Request {
                method: b"REGISTER",
                uri: b"sip:x"
            }
        );
        let (kind, value) = v.challenge.unwrap();
        assert_eq!(kind, ChallengeKind::Www);
        assert!(value.starts_with(b"Digest"));
        assert!(v.body.is_empty());
    }

    #[test]
    fn malformed_inputs_are_errors() {
        let parse_err = |m: &[u8]| matches!(scan(m), Err(ScanError::Parse(_)));
        assert!(
            parse_err(b"SIP/2.0 200 OK\r\nCall-ID: x\r\n"),
            "no blank line"
        );
        assert!(parse_err(b"SIP/2.0 2x0 OK\r\n\r\n"));
        assert!(parse_err(b"INVITE sip:x\r\n\r\n"));
        assert!(parse_err(b"SIP/2.0 200 OK\r\nnocolon\r\n\r\n"));
        assert!(parse_err(
            b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP a\r\ni: c\r\nCSeq: 1 X\r\nl: 9\r\n\r\nab"
        ));
        assert_eq!(
            scan(b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP a\r\nCSeq: 1 X\r\n\r\n").unwrap_err(),
            ScanError::MissingCallId
        );
        assert_eq!(
            scan(b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP a\r\ni: c\r\nCSeq: x X\r\n\r\n").unwrap_err(),
            ScanError::BadCSeq
        );
        assert_eq!(
            scan(b"SIP/2.0 200 OK\r\ni: c\r\nCSeq: 1 X\r\n\r\n").unwrap_err(),
            ScanError::MissingVia
        );
        let many = format!(
            "SIP/2.0 200 OK\r\n{}i: c\r\nCSeq: 1 X\r\n\r\n",
            "Via: SIP/2.0/UDP a\r\n".repeat(17)
        );
        assert_eq!(
            scan(many.as_bytes()).unwrap_err(),
            ScanError::TooManyHeaderLines
        );
    }

    #[test]
    fn params_and_values() {
        assert_eq!(
            first_value(b"\"a,b\" <sip:x,y>;p=1, second"),
            b"\"a,b\" <sip:x,y>;p=1"
        );
        assert_eq!(param(b"<sip:a;tag=no>;tag=yes", b"tag"), Some(&b"yes"[..]));
        assert_eq!(
            param(b"SIP/2.0/UDP h;rport;BRANCH=z", b"branch"),
            Some(&b"z"[..])
        );
        assert_eq!(param(b"SIP/2.0/UDP h;rport", b"rport"), Some(&b""[..]));
        assert_eq!(tag(b"<sip:a>"), None);
        assert_eq!(uri_of(b"sip:a@b;expires=3"), b"sip:a@b");
    }
}
