//! The few fields of a SIP message that the load generator reads, found without allocating.
//!
//! `SipView` borrows the datagram. It holds only what the UAC and UAS act on: the start
//! line, every Via line (copied verbatim into responses), the dialog identifiers, CSeq,
//! Contact, Record-Route lines and a digest challenge. Everything else is skipped.
//! Malformed input is a [`ScanError`], never a panic; the endpoints count it and drop
//! the datagram.
//!
//! Compact header forms (RFC 3261 §7.3.3) are accepted: v, i, f, t, m, l.

use std::fmt;

/// At most this many Via / Record-Route header lines are kept (more is a loop or an attack:
/// Max-Forwards is 70, and a real path has a handful).
pub const MAX_LINES: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanError {
    Truncated,
    BadStartLine,
    BadHeader,
    TooManyHeaderLines,
    MissingCallId,
    MissingCSeq,
    BadCSeq,
    MissingVia,
    BadContentLength,
}

impl fmt::Display for ScanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            ScanError::Truncated => "message ends before the blank line after the headers",
            ScanError::BadStartLine => "malformed start line",
            ScanError::BadHeader => "header line without a colon",
            ScanError::TooManyHeaderLines => "more than 16 Via or Record-Route lines",
            ScanError::MissingCallId => "no Call-ID",
            ScanError::MissingCSeq => "no CSeq",
            ScanError::BadCSeq => "malformed CSeq",
            ScanError::MissingVia => "no Via",
            ScanError::BadContentLength => "malformed Content-Length",
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

fn parse_u32(s: &[u8]) -> Option<u32> {
    if s.is_empty() || s.len() > 9 {
        return None;
    }
    let mut v: u32 = 0;
    for &b in s {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u32::from(b - b'0');
    }
    Some(v)
}

/// Scan `bytes` as one SIP message.
pub fn scan(bytes: &[u8]) -> Result<SipView<'_>, ScanError> {
    let head_end = memchr::memmem::find(bytes, b"\r\n\r\n").ok_or(ScanError::Truncated)?;
    let head = &bytes[..head_end];
    let mut lines = head
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let first = lines.next().ok_or(ScanError::BadStartLine)?;
    let start = parse_start(first)?;

    let mut vias = Lines::new();
    let mut record_routes = Lines::new();
    let mut call_id = None;
    let mut from: &[u8] = &[];
    let mut to: &[u8] = &[];
    let mut cseq = None;
    let mut contact = None;
    let mut challenge = None;
    let mut content_length = None;
    let mut last_was_via = false;

    for line in lines {
        if line.is_empty() {
            continue;
        }
        // Folded continuation lines (RFC 3261 §7.3.1) belong to the previous header: the
        // only ones we keep verbatim are Via lines, and a folded Via is vanishingly rare
        // from proxies; treat a continuation as malformed rather than guess.
        if line[0] == b' ' || line[0] == b'\t' {
            if last_was_via {
                return Err(ScanError::BadHeader);
            }
            continue;
        }
        let colon = memchr::memchr(b':', line).ok_or(ScanError::BadHeader)?;
        let name = trim(&line[..colon]);
        let value = trim(&line[colon + 1..]);
        last_was_via = false;
        if name.eq_ignore_ascii_case(b"via") || name.eq_ignore_ascii_case(b"v") {
            vias.push(line)?;
            last_was_via = true;
        } else if name.eq_ignore_ascii_case(b"call-id") || name.eq_ignore_ascii_case(b"i") {
            call_id = Some(value);
        } else if name.eq_ignore_ascii_case(b"from") || name.eq_ignore_ascii_case(b"f") {
            from = value;
        } else if name.eq_ignore_ascii_case(b"to") || name.eq_ignore_ascii_case(b"t") {
            to = value;
        } else if name.eq_ignore_ascii_case(b"cseq") {
            let mut parts = value
                .split(|b| b.is_ascii_whitespace())
                .filter(|p| !p.is_empty());
            let num = parts.next().and_then(parse_u32).ok_or(ScanError::BadCSeq)?;
            let method = parts.next().ok_or(ScanError::BadCSeq)?;
            cseq = Some((num, method));
        } else if name.eq_ignore_ascii_case(b"contact") || name.eq_ignore_ascii_case(b"m") {
            if contact.is_none() {
                contact = Some(value);
            }
        } else if name.eq_ignore_ascii_case(b"record-route") {
            record_routes.push(line)?;
        } else if name.eq_ignore_ascii_case(b"www-authenticate") {
            challenge = Some((ChallengeKind::Www, value));
        } else if name.eq_ignore_ascii_case(b"proxy-authenticate") {
            challenge = Some((ChallengeKind::Proxy, value));
        } else if name.eq_ignore_ascii_case(b"content-length") || name.eq_ignore_ascii_case(b"l") {
            content_length = Some(parse_u32(value).ok_or(ScanError::BadContentLength)?);
        }
    }

    let call_id = call_id
        .filter(|c| !c.is_empty())
        .ok_or(ScanError::MissingCallId)?;
    let (cseq_num, cseq_method) = cseq.ok_or(ScanError::MissingCSeq)?;
    if vias.is_empty() {
        return Err(ScanError::MissingVia);
    }
    let rest = &bytes[head_end + 4..];
    let body = match content_length {
        Some(n) => rest.get(..n as usize).ok_or(ScanError::BadContentLength)?,
        None => rest,
    };
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
        body,
    })
}

fn parse_start(line: &[u8]) -> Result<StartLine<'_>, ScanError> {
    if let Some(rest) = line.strip_prefix(b"SIP/2.0 ") {
        let code = rest
            .get(..3)
            .and_then(parse_u32)
            .ok_or(ScanError::BadStartLine)?;
        if !(100..=699).contains(&code) || rest.get(3).is_some_and(|b| *b != b' ') {
            return Err(ScanError::BadStartLine);
        }
        return Ok(StartLine::Response { code: code as u16 });
    }
    let mut parts = line.split(|&b| b == b' ');
    let method = parts
        .next()
        .filter(|m| !m.is_empty())
        .ok_or(ScanError::BadStartLine)?;
    let uri = parts
        .next()
        .filter(|u| !u.is_empty())
        .ok_or(ScanError::BadStartLine)?;
    if parts.next() != Some(b"SIP/2.0") || parts.next().is_some() {
        return Err(ScanError::BadStartLine);
    }
    Ok(StartLine::Request { method, uri })
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
        assert_eq!(
            scan(b"SIP/2.0 200 OK\r\nCall-ID: x\r\n").unwrap_err(),
            ScanError::Truncated
        );
        assert_eq!(
            scan(b"SIP/2.0 2x0 OK\r\n\r\n").unwrap_err(),
            ScanError::BadStartLine
        );
        assert_eq!(
            scan(b"SIP/2.0 999 OK\r\n\r\n").unwrap_err(),
            ScanError::BadStartLine
        );
        assert_eq!(
            scan(b"INVITE sip:x\r\n\r\n").unwrap_err(),
            ScanError::BadStartLine
        );
        assert_eq!(
            scan(b"SIP/2.0 200 OK\r\nVia: a\r\nCSeq: 1 X\r\n\r\n").unwrap_err(),
            ScanError::MissingCallId
        );
        assert_eq!(
            scan(b"SIP/2.0 200 OK\r\nVia: a\r\ni: c\r\nCSeq: x X\r\n\r\n").unwrap_err(),
            ScanError::BadCSeq
        );
        assert_eq!(
            scan(b"SIP/2.0 200 OK\r\ni: c\r\nCSeq: 1 X\r\n\r\n").unwrap_err(),
            ScanError::MissingVia
        );
        assert_eq!(
            scan(b"SIP/2.0 200 OK\r\nVia: a\r\ni: c\r\nCSeq: 1 X\r\nl: 9\r\n\r\nab").unwrap_err(),
            ScanError::BadContentLength
        );
        assert_eq!(
            scan(b"SIP/2.0 200 OK\r\nnocolon\r\n\r\n").unwrap_err(),
            ScanError::BadHeader
        );
        let many = format!(
            "SIP/2.0 200 OK\r\n{}i: c\r\nCSeq: 1 X\r\n\r\n",
            "Via: a\r\n".repeat(17)
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
