//! Building a response to a received request (RFC 3261 §8.2.6, §16.7 for a proxy's own).
//!
//! Via (all lines, in order), From, To, Call-ID and CSeq are copied byte for byte as
//! received; To gains `;tag=<to_tag>` when the status is above 100 and To has no tag
//! (RFC 3261 §8.2.6.2); a 100 also copies Timestamp (§8.2.6.1). Then come the caller's
//! extra headers, Content-Type when there is a body, Content-Length, and the body.

use super::header::{HeaderId, HeaderName};
use super::message::Message;
use super::writer::{push_decimal, WriteError};

/// What to answer. Build with [`Reply::new`] and the `with_*` methods.
#[derive(Clone, Copy, Debug)]
pub struct Reply<'r> {
    pub status: u16,
    pub reason: &'r [u8],
    /// The To tag to add when the status is above 100 and the request's To has none.
    pub to_tag: Option<&'r [u8]>,
    /// Extra header lines `(name, value)`: Warning, Unsupported, Retry-After,
    /// WWW-Authenticate, Contact, ...
    pub headers: &'r [(HeaderName<'r>, &'r [u8])],
    pub content_type: Option<&'r [u8]>,
    pub body: &'r [u8],
}

impl<'r> Reply<'r> {
    pub fn new(status: u16, reason: &'r str) -> Self {
        Reply {
            status,
            reason: reason.as_bytes(),
            to_tag: None,
            headers: &[],
            content_type: None,
            body: &[],
        }
    }

    pub fn with_to_tag(mut self, tag: &'r [u8]) -> Self {
        self.to_tag = Some(tag);
        self
    }

    pub fn with_headers(mut self, headers: &'r [(HeaderName<'r>, &'r [u8])]) -> Self {
        self.headers = headers;
        self
    }

    pub fn with_body(mut self, content_type: &'r [u8], body: &'r [u8]) -> Self {
        self.content_type = Some(content_type);
        self.body = body;
        self
    }
}

/// Writes the response `reply` to `req` at the end of `out`; returns the bytes written.
/// Fails only when `req` is a response.
pub fn write_response(
    req: &Message<'_>,
    reply: &Reply<'_>,
    out: &mut Vec<u8>,
) -> Result<usize, WriteError> {
    if !req.is_request() {
        return Err(WriteError::WrongKind);
    }
    let start = out.len();
    out.reserve(512 + reply.body.len());
    out.extend_from_slice(b"SIP/2.0 ");
    push_decimal(out, u64::from(reply.status));
    out.push(b' ');
    out.extend_from_slice(reply.reason);
    out.extend_from_slice(b"\r\n");
    let need_tag = reply.status > 100 && reply.to_tag.is_some() && !to_has_tag(req);
    for (i, s) in req.slots().iter().enumerate() {
        let copy = match s.id {
            HeaderId::Via | HeaderId::From | HeaderId::CallId | HeaderId::CSeq => true,
            HeaderId::Timestamp => reply.status == 100,
            HeaderId::To => {
                if need_tag {
                    let buf = req.datagram();
                    out.extend_from_slice(&buf[s.start as usize..s.value_end as usize]);
                    out.extend_from_slice(b";tag=");
                    out.extend_from_slice(reply.to_tag.unwrap_or_default());
                    out.extend_from_slice(&buf[s.value_end as usize..req.line_end(i) as usize]);
                    // Only the first To line gets the tag; a duplicate To is not copied.
                    false
                } else {
                    true
                }
            }
            _ => false,
        };
        if copy {
            let line = &req.datagram()[s.start as usize..req.line_end(i) as usize];
            out.extend_from_slice(line);
            if !line.ends_with(b"\n") {
                out.extend_from_slice(b"\r\n");
            }
        }
    }
    for (name, value) in reply.headers {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    }
    if let Some(ct) = reply.content_type {
        out.extend_from_slice(b"Content-Type: ");
        out.extend_from_slice(ct);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"Content-Length: ");
    push_decimal(out, reply.body.len() as u64);
    out.extend_from_slice(b"\r\n\r\n");
    out.extend_from_slice(reply.body);
    Ok(out.len() - start)
}

fn to_has_tag(req: &Message<'_>) -> bool {
    match req.to() {
        Ok(to) => to.tag.is_some(),
        // A malformed To: look for a tag parameter textually so we never add a second one.
        Err(_) => req
            .header(HeaderName::To)
            .is_some_and(|v| v.windows(4).any(|w| w.eq_ignore_ascii_case(b"tag="))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::parse;

    const REQ: &[u8] = b"INVITE sip:bob@example.com SIP/2.0\r\n\
v: SIP/2.0/UDP a.example.com;branch=z9hG4bK1, SIP/2.0/UDP b.example.com;branch=z9hG4bK2\r\n\
Via: SIP/2.0/UDP c.example.com;branch=z9hG4bK3\r\n\
t: <sip:bob@example.com>\r\n\
f: <sip:alice@example.com>;tag=77\r\n\
i: call-1\r\n\
CSeq: 4 INVITE\r\n\
Timestamp: 54\r\n\
Max-Forwards: 70\r\n\
Content-Length: 0\r\n\r\n";

    #[test]
    fn busy_here_with_tag_and_extras() {
        let m = parse(REQ).unwrap();
        let mut out = Vec::new();
        let extra = [
            (HeaderName::RetryAfter, &b"30"[..]),
            (HeaderName::Other(b"Warning"), b"399 ringlet \"busy\""),
        ];
        let n = write_response(
            &m,
            &Reply::new(486, "Busy Here")
                .with_to_tag(b"srv1")
                .with_headers(&extra),
            &mut out,
        )
        .unwrap();
        assert_eq!(n, out.len());
        let r = parse(&out).unwrap();
        assert_eq!(r.status(), Some(486));
        assert_eq!(r.reason(), Some(&b"Busy Here"[..]));
        assert_eq!(r.vias().count(), 3);
        assert_eq!(r.to().unwrap().tag, Some(&b"srv1"[..]));
        assert_eq!(r.from().unwrap().tag, Some(&b"77"[..]));
        assert_eq!(r.call_id().unwrap(), b"call-1");
        assert_eq!(r.cseq().unwrap().seq, 4);
        assert_eq!(r.header(HeaderName::RetryAfter), Some(&b"30"[..]));
        assert_eq!(r.header(HeaderName::Timestamp), None);
        assert_eq!(r.header(HeaderName::MaxForwards), None);
        assert!(crate::sip::validate_response(&r).is_ok());
    }

    #[test]
    fn trying_keeps_timestamp_and_adds_no_tag() {
        let m = parse(REQ).unwrap();
        let mut out = Vec::new();
        write_response(&m, &Reply::new(100, "Trying").with_to_tag(b"x"), &mut out).unwrap();
        let r = parse(&out).unwrap();
        assert_eq!(r.to().unwrap().tag, None);
        assert_eq!(r.header(HeaderName::Timestamp), Some(&b"54"[..]));
        let mut out = Vec::new();
        write_response(
            &m,
            &Reply::new(488, "Not Acceptable Here").with_body(b"text/plain", b"no"),
            &mut out,
        )
        .unwrap();
        let r = parse(&out).unwrap();
        assert_eq!(r.body(), b"no");
        assert_eq!(r.content_type(), Some(&b"text/plain"[..]));
    }
}
