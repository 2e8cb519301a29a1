//! The framing parser: start line, header index, body boundaries.
//!
//! One pass over the head of the message. Each header line is split into name and value
//! once and recorded in a fixed slot (a known name is recognised from one 16-byte search
//! for its ':' and one hash probe, `HeaderId::known_name_at`); nothing in a header value is interpreted here except
//! Content-Length, which frames the body. Typed values are parsed on demand by the
//! accessors of [`Message`].
//!
//! ```text
//!  buf: INVITE sip:b@x SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9..\r\n ... \r\n\r\nv=0...
//!       └─ start line ─────────┘└ slot 0: line [start, end) ──────┘     │   └ body
//!                                  name ^   ^ value [value_start, value_end)
//!                                                                       └ headers_end
//! ```
//!
//! Invariants: slots are in message order and their lines are contiguous (a line ends
//! where the next slot starts, the last one at the blank line), so a slot stores no end;
//! `start <= value_start <= value_end`; a folded value (continuation lines starting with
//! SP/HTAB) is one slot whose value span covers the continuation lines.

use memchr::memchr;

use super::error::{ParseError, ParseErrorKind as K};
use super::header::HeaderId;
use super::message::{HeaderSlot, Message, StartLine, MAX_HEADERS};
use super::method::Method;
use super::scan::{self, TOKEN, WS};
use super::uri::Uri;

/// The header block (start line included) must end within this many bytes of the datagram.
pub const MAX_HEAD: usize = u16::MAX as usize;

/// Parses one SIP message from the start of `buf`.
///
/// Trailing bytes after the body (the second message of RFC 4475 dblreq) are ignored:
/// [`Message::len`] says how many bytes this message took. Without a Content-Length the
/// body runs to the end of `buf` (RFC 3261 §18.3, datagram transports).
// Kept out of line: the framing loop is large, and inlining it into a caller that also
// reads fields made the whole slower (register pressure; benches/results/sip_parse.md).
#[inline(never)]
pub fn parse(buf: &[u8]) -> Result<Message<'_>, ParseError> {
    parse_with(buf, false)
}

/// A forgiving parse for answering a message that [`parse`] refused: the Request-URI and
/// version are taken as they are (anything between the first and last SP), a bad or
/// too-large Content-Length makes the body run to the end of `buf`, and a missing blank
/// line ends the header block at the end of `buf`. Header lines must still split into
/// name and value. Use it only to build the 400 (with [`super::write_response`]) that
/// [`ParseError::reason`] explains; never forward what it returns.
pub fn parse_for_reply(buf: &[u8]) -> Result<Message<'_>, ParseError> {
    parse_with(buf, true)
}

// Inlined into `parse`. The `Message` (600 bytes) is built in place inside the returned
// `Result`, which is the only value returned, so it is not copied into it at the end.
#[inline(always)]
fn parse_with(buf: &[u8], lenient: bool) -> Result<Message<'_>, ParseError> {
    let placeholder = StartLine::Response {
        code: 0,
        reason: (0, 0),
    };
    let mut res = Ok(Message::empty(buf, placeholder, 0, 0));
    if let Ok(msg) = &mut res {
        if let Err(e) = fill(msg, buf, lenient) {
            res = Err(e);
        }
    }
    res
}

#[inline(always)]
fn fill<'a>(msg: &mut Message<'a>, buf: &'a [u8], lenient: bool) -> Result<(), ParseError> {
    if buf.len() > u32::MAX as usize {
        return Err(ParseError::new(K::MessageTooLarge, 0));
    }
    // RFC 3261 §7.5: CRLFs before the start line are ignored (keep-alives).
    let mut pos = 0;
    while pos < buf.len() && (buf[pos] == b'\r' || buf[pos] == b'\n') {
        pos += 1;
    }
    let line_start = pos;
    let nl = match scan::find_byte(buf, pos, b'\n') {
        Some(nl) => nl,
        None => return Err(ParseError::new(K::Incomplete, buf.len())),
    };
    let line_end = if nl > pos && buf[nl - 1] == b'\r' {
        nl - 1
    } else {
        nl
    };
    let start_line = parse_start_line(buf, line_start, line_end, lenient)?;
    pos = nl + 1;

    msg.start_line = start_line;
    msg.line_start = line_start as u32;
    msg.headers_start = pos as u32;
    msg.headers_end = pos as u32;
    msg.body_start = pos as u32;
    let mut n = 0usize;
    loop {
        // One pass per line: the name, the colon and the leading white space are read
        // byte by byte from the line start, then the line end is found with `find_byte`
        // starting at the value, so no byte of the line is scanned twice.
        let first = match buf.get(pos) {
            Some(&b) => b,
            None if lenient => {
                msg.headers_end = buf.len() as u32;
                pos = buf.len();
                break;
            }
            None => return Err(ParseError::new(K::Incomplete, buf.len())),
        };
        if first == b'\n' || (first == b'\r' && buf.get(pos + 1) == Some(&b'\n')) {
            // The blank line that ends the header block.
            let nl = if first == b'\n' { pos } else { pos + 1 };
            if nl >= MAX_HEAD {
                return Err(ParseError::new(K::MessageTooLarge, pos));
            }
            msg.headers_end = pos as u32;
            pos = nl + 1;
            break;
        }
        if first == b' ' || first == b'\t' {
            // Line folding (RFC 3261 §7.3.1): the line continues the previous value.
            let nl = match find_line_end(buf, pos, lenient)? {
                Some(nl) => nl,
                None => {
                    msg.headers_end = buf.len() as u32;
                    pos = buf.len();
                    break;
                }
            };
            if n == 0 {
                return Err(ParseError::new(K::BadHeaderLine, pos));
            }
            let content_end = if buf[nl - 1] == b'\r' { nl - 1 } else { nl };
            let slot = &mut msg.slots[n - 1];
            let text = &buf[pos..content_end];
            let lead = scan::span(text, WS);
            if lead < text.len() {
                if slot.value_start == slot.value_end {
                    slot.value_start = (pos + lead) as u16;
                }
                let mut e = content_end;
                while e > pos && scan::is(buf[e - 1], WS) {
                    e -= 1;
                }
                slot.value_end = e as u16;
            }
            pos = nl + 1;
            continue;
        }
        // name *(SP/HTAB) ":" LWS value
        let rest = &buf[pos..];
        // Known names (nearly every line) are found with one 16-byte compare and one hash
        // probe; anything else takes the byte-class scan, which decides the same way.
        let (name_len, mut i, known) = match known_name(rest) {
            Some((len, colon, id)) => (len, colon, Some(id)),
            None => {
                let (name_len, i) = match name_and_colon(rest) {
                    Ok(n) => n,
                    Err(at) => {
                        // Report what the line-at-a-time framing reports: a message cut
                        // short (no line end) or too large first, then the malformed line.
                        if find_line_end(buf, pos, lenient)?.is_none() {
                            msg.headers_end = buf.len() as u32;
                            pos = buf.len();
                            break;
                        }
                        return Err(ParseError::new(K::BadHeaderLine, pos + at));
                    }
                };
                (name_len, i, None)
            }
        };
        i += 1;
        // Leading LWS of the value; a CR stops it only where it starts the line end.
        // Usually one SP: the first test of the loop is then a single table lookup.
        if rest.get(i) == Some(&b' ') {
            i += 1;
        }
        while let Some(&b) = rest.get(i) {
            if !scan::is(b, WS) || b == b'\n' || (b == b'\r' && rest.get(i + 1) == Some(&b'\n')) {
                break;
            }
            i += 1;
        }
        let value_start = pos + i;
        let nl = match scan::find_byte(buf, value_start, b'\n') {
            Some(nl) if nl < MAX_HEAD => nl,
            // Slots hold 16-bit offsets (see `HeaderSlot`).
            Some(_) => return Err(ParseError::new(K::MessageTooLarge, pos)),
            None if lenient => {
                msg.headers_end = buf.len() as u32;
                pos = buf.len();
                break;
            }
            None => return Err(ParseError::new(K::Incomplete, buf.len())),
        };
        // Trailing LWS: usually just the CR of the CRLF.
        let mut e = nl;
        if e > value_start && buf[e - 1] == b'\r' {
            e -= 1;
        }
        if e > value_start && scan::is(buf[e - 1], WS) {
            while e > value_start && scan::is(buf[e - 1], WS) {
                e -= 1;
            }
        }
        if n == MAX_HEADERS {
            return Err(ParseError::new(K::TooManyHeaders, pos));
        }
        let id = match known {
            Some(id) => id,
            None => HeaderId::from_line(rest, name_len),
        };
        msg.slots[n] = HeaderSlot {
            id,
            name_len: name_len as u8,
            start: pos as u16,
            value_start: value_start as u16,
            value_end: e as u16,
        };
        let first = &mut msg.first[id as usize];
        if *first == u8::MAX {
            *first = n as u8;
        }
        n += 1;
        pos = nl + 1;
    }
    msg.count = n as u8;
    msg.body_start = pos as u32;

    // Frame the body with the first Content-Length; duplicates are the validator's business
    // (RFC 4475 mcl01 answers 400).
    let body_end = match msg.first_slot(HeaderId::ContentLength) {
        Some(slot) => {
            let v = &buf[slot.value_start as usize..slot.value_end as usize];
            let cl = scan::parse_u32(v, u32::MAX);
            if lenient && !matches!(cl, Some(cl) if buf.len() - pos >= cl as usize) {
                msg.len = buf.len() as u32;
                return Ok(());
            }
            let cl = cl.ok_or_else(|| {
                ParseError::in_header(
                    K::BadContentLength,
                    "Content-Length",
                    slot.value_start as usize,
                )
            })? as usize;
            if buf.len() - pos < cl {
                return Err(ParseError::in_header(
                    K::BodyTruncated,
                    "Content-Length",
                    slot.value_start as usize,
                ));
            }
            pos + cl
        }
        None => buf.len(),
    };
    msg.len = body_end as u32;
    Ok(())
}

/// Bytes `HeaderId::known_name_at` reads from a line (it declines shorter input).
const NAME_WINDOW: usize = 24;

/// `HeaderId::known_name_at`, also for a line that starts fewer than [`NAME_WINDOW`]
/// bytes before the end of the datagram (the last header, usually `Content-Length: 0`):
/// such a line is copied into a zero-padded window first. The answer depends only on the
/// bytes up to the ':' (found among the line's own bytes: the padding holds none), so it is
/// the answer the same line gets in a longer datagram.
#[inline(always)]
fn known_name(rest: &[u8]) -> Option<(usize, usize, HeaderId)> {
    if rest.len() >= NAME_WINDOW {
        return HeaderId::known_name_at(rest);
    }
    let mut w = [0u8; NAME_WINDOW];
    w[..rest.len()].copy_from_slice(rest);
    HeaderId::known_name_at(&w)
}

/// The general path for a header line's `name *(SP/HTAB) ":"`, kept out of the framing
/// loop (nearly every line takes `HeaderId::known_name_at`): the name length and the index
/// of the ':', or the offset in `line` to report a malformed line at.
#[inline(never)]
fn name_and_colon(line: &[u8]) -> Result<(usize, usize), usize> {
    let name_len = scan::span(line, TOKEN);
    if name_len == 0 || name_len > usize::from(u8::MAX) {
        return Err(0);
    }
    let mut i = name_len;
    while i < line.len() && (line[i] == b' ' || line[i] == b'\t') {
        i += 1;
    }
    if line.get(i) != Some(&b':') {
        return Err(i);
    }
    Ok((name_len, i))
}

/// The LF ending the line that starts at `pos`: `Ok(None)` when there is none and the parse
/// is lenient (the header block then ends at the end of `buf`), `Incomplete` when strict,
/// `MessageTooLarge` past [`MAX_HEAD`] (slots hold 16-bit offsets, see `HeaderSlot`).
fn find_line_end(buf: &[u8], pos: usize, lenient: bool) -> Result<Option<usize>, ParseError> {
    match scan::find_byte(buf, pos, b'\n') {
        Some(nl) if nl >= MAX_HEAD => Err(ParseError::new(K::MessageTooLarge, pos)),
        Some(nl) => Ok(Some(nl)),
        None if lenient => Ok(None),
        None => Err(ParseError::new(K::Incomplete, buf.len())),
    }
}

fn parse_start_line(
    buf: &[u8],
    start: usize,
    end: usize,
    lenient: bool,
) -> Result<StartLine<'_>, ParseError> {
    let line = &buf[start..end];
    if line.starts_with(b"SIP/") {
        // Status-Line = SIP-Version SP Status-Code SP Reason-Phrase
        let sp = match memchr(b' ', line) {
            Some(i) => i,
            None => return Err(ParseError::new(K::BadStartLine, start)),
        };
        if &line[..sp] != b"SIP/2.0" {
            return Err(ParseError::new(K::BadVersion, start));
        }
        let rest = &line[sp + 1..];
        if rest.len() < 3
            || !rest[..3].iter().all(u8::is_ascii_digit)
            || (rest.len() > 3 && rest[3] != b' ')
        {
            return Err(ParseError::new(K::BadStatusCode, start + sp + 1));
        }
        let code = u16::from(rest[0] - b'0') * 100
            + u16::from(rest[1] - b'0') * 10
            + u16::from(rest[2] - b'0');
        if !(100..=699).contains(&code) {
            return Err(ParseError::new(K::BadStatusCode, start + sp + 1));
        }
        let reason_start = (start + sp + 1 + rest.len().min(4)) as u32;
        // Reason-Phrase = *(reserved / unreserved / escaped / UTF8-NONASCII / UTF8-CONT / SP / HTAB)
        if buf[reason_start as usize..end]
            .iter()
            .any(|&b| b < 0x20 && b != b'\t' || b == 0x7f)
        {
            return Err(ParseError::new(K::BadReasonPhrase, reason_start as usize));
        }
        return Ok(StartLine::Response {
            code,
            reason: (reason_start, end as u32),
        });
    }
    // Request-Line = Method SP Request-URI SP SIP-Version: exactly one SP each (RFC 4475
    // lwsstart, trws), so the URI is what lies between the first and the last SP.
    let m = scan::span(line, TOKEN);
    if m == 0 || m >= line.len() || line[m] != b' ' {
        return Err(ParseError::new(
            if m == 0 {
                K::BadStartLine
            } else {
                K::BadMethod
            },
            start + m,
        ));
    }
    // Trailing white space after the version (RFC 4475 trws) is a malformed line, not an
    // unknown version.
    let trimmed = line.len()
        - line
            .iter()
            .rev()
            .take_while(|&&b| b == b' ' || b == b'\t')
            .count();
    if trimmed < line.len() && !lenient {
        return Err(ParseError::new(K::BadStartLine, start + trimmed));
    }
    let line = &line[..trimmed];
    // Nearly always the line ends in " SIP/2.0"; otherwise search for the last SP.
    let last_sp = match line.len().checked_sub(8) {
        Some(i) if i > m && line[i..].eq(b" SIP/2.0") => i,
        _ => match memchr::memrchr(b' ', line) {
            Some(i) if i > m => i,
            _ => return Err(ParseError::new(K::BadStartLine, start + m)),
        },
    };
    let version = &line[last_sp + 1..];
    if version != b"SIP/2.0" && !lenient {
        // RFC 3261 §21.5.7 / RFC 4475 badvers: a well-formed but unknown version gets 505.
        let well_formed = version.starts_with(b"SIP/") && version.len() > 4;
        return Err(ParseError::new(
            if well_formed {
                K::BadVersion
            } else {
                K::BadStartLine
            },
            start + last_sp + 1,
        ));
    }
    let uri = &line[m + 1..last_sp];
    if !lenient && !Uri::looks_like_request_uri(uri) {
        return Err(ParseError::new(K::BadRequestUri, start + m + 1));
    }
    Ok(StartLine::Request {
        method: Method::from_bytes(&line[..m]),
        uri: ((start + m + 1) as u32, (start + last_sp) as u32),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(headers: &[String], body: &[u8]) -> Vec<u8> {
        let mut m = b"OPTIONS sip:a@example.com SIP/2.0\r\n".to_vec();
        for h in headers {
            m.extend_from_slice(h.as_bytes());
            m.extend_from_slice(b"\r\n");
        }
        m.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
        m.extend_from_slice(body);
        m
    }

    #[test]
    fn limits() {
        let h: Vec<String> = (0..63).map(|i| format!("X-H{i}: {i}")).collect();
        let m = request(&h, b"");
        assert_eq!(parse(&m).unwrap().header_count(), 64);
        let h: Vec<String> = (0..64).map(|i| format!("X-H{i}: {i}")).collect();
        let e = parse(&request(&h, b"")).unwrap_err();
        assert_eq!((e.kind, e.status()), (K::TooManyHeaders, 513));
        // A large body is fine; a header block past 64 KiB is not.
        let big = vec![b'x'; 100_000];
        assert_eq!(parse(&request(&[], &big)).unwrap().body().len(), 100_000);
        let long = format!("X-Long: {}", "y".repeat(70_000));
        assert_eq!(
            parse(&request(&[long], b"")).unwrap_err().kind,
            K::MessageTooLarge
        );
        let name = format!("{}: v", "n".repeat(256));
        assert_eq!(
            parse(&request(&[name], b"")).unwrap_err().kind,
            K::BadHeaderLine
        );
    }

    #[test]
    fn last_lines_get_the_ids_they_get_in_a_longer_datagram() {
        for tail in [
            "Content-Length: 0\r\n",
            "l: 0\r\n",
            "CONTENT-LENGTH : 0\r\n",
            "Content-Length\t:\t0\r\n",
            "Content-Lengthy: 0\r\nl: 0\r\n",
            "Contact: <sip:a@b>\r\nl: 0\r\n",
            "To: <sip:b@c>\r\nv: SIP/2.0/UDP h\r\nl:0\r\n",
            "X: 1\r\nl: 0\r\n",
            "Content-L: 0\r\nl: 0\r\n",
        ] {
            let short = format!("OPTIONS sip:a@b SIP/2.0\r\n{tail}\r\n");
            // The same message followed by bytes past its body (RFC 4475 dblreq): every
            // line is then at least 24 bytes from the end of the datagram.
            let long = format!("{short}{}", "x".repeat(32));
            let (s, l) = (
                parse(short.as_bytes()).unwrap(),
                parse(long.as_bytes()).unwrap(),
            );
            assert_eq!(s.header_count(), l.header_count(), "{tail}");
            for (a, b) in s.headers().zip(l.headers()) {
                assert_eq!(
                    (a.name, a.value, a.line),
                    (b.name, b.value, b.line),
                    "{tail}"
                );
            }
            assert_eq!(
                s.header(crate::sip::HeaderName::ContentLength),
                Some(&b"0"[..])
            );
        }
    }

    #[test]
    fn start_lines() {
        assert!(parse(b"\r\n\r\nOPTIONS sip:a@b SIP/2.0\r\nl: 0\r\n\r\n").is_ok());
        for (bad, kind) in [
            (&b"OPTIONS sip:a@b SIP/2.0 \r\n\r\n"[..], K::BadStartLine),
            (b"OPTIONS  sip:a@b SIP/2.0\r\n\r\n", K::BadRequestUri),
            (b"OPTIONS sip:a@b SIP/3.0\r\n\r\n", K::BadVersion),
            (b"OPTIONS sip:a@b\r\n\r\n", K::BadStartLine),
            (b"SIP/2.0 99 Low\r\n\r\n", K::BadStatusCode),
            (b"SIP/2.0 2000 OK\r\n\r\n", K::BadStatusCode),
            (b"SIP/2.0 200 O\x01K\r\n\r\n", K::BadReasonPhrase),
            (
                b"OPTIONS sip:a@b SIP/2.0\r\nno colon\r\n\r\n",
                K::BadHeaderLine,
            ),
            (
                b"OPTIONS sip:a@b SIP/2.0\r\n folded first\r\n\r\n",
                K::BadHeaderLine,
            ),
            (b"OPTIONS sip:a@b SIP/2.0\r\nVia: x\r\n", K::Incomplete),
            (b"", K::Incomplete),
        ] {
            assert_eq!(
                parse(bad).unwrap_err().kind,
                kind,
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        let r = parse(b"SIP/2.0 180 Ringing\r\nl: 0\r\n\r\n").unwrap();
        assert_eq!((r.status(), r.reason()), (Some(180), Some(&b"Ringing"[..])));
    }
}
