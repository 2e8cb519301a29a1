//! SIP messages the load generator sends, written as bytes straight into a buffer.
//!
//! No message model, no intermediate strings: each function appends one whole datagram to
//! a `Vec<u8>` (the outbox arena or a transaction's retransmission copy). The identifiers
//! the endpoints match on are written here too:
//!
//! ```text
//!   branch  = z9hG4bK.<run>.<worker>.<slot>.<gen>.<tx>    (UAC client transactions)
//!   Call-ID = <run>.<worker>.<slot>.<gen>@ringlet-load
//!   tag     = <run>.<worker>.<slot>.<gen>                 (UAC From tag, UAS To tag)
//! ```
//!
//! `run` is a random number per run (hex), so a datagram left over from an earlier run on
//! the same port never matches; `worker` lets a worker that reads a datagram meant for
//! another hand it over; `slot`/`gen` index the endpoint's call table directly, no lookup.

use std::io::Write as _;
use std::net::SocketAddr;

/// The magic cookie that marks an RFC 3261 branch (§8.1.1.7).
pub const BRANCH_COOKIE: &[u8] = b"z9hG4bK";

/// The identifiers written into a tag, Call-ID or branch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallRef {
    pub run: u32,
    pub worker: u16,
    pub slot: u32,
    pub gen: u32,
}

impl CallRef {
    pub fn write_tag(&self, buf: &mut Vec<u8>) {
        let _ = write!(
            buf,
            "{:x}.{}.{}.{}",
            self.run, self.worker, self.slot, self.gen
        );
    }
    pub fn write_call_id(&self, buf: &mut Vec<u8>) {
        self.write_tag(buf);
        buf.extend_from_slice(b"@ringlet-load");
    }
    pub fn write_branch(&self, buf: &mut Vec<u8>, tx: u32) {
        buf.extend_from_slice(BRANCH_COOKIE);
        buf.push(b'.');
        self.write_tag(buf);
        let _ = write!(buf, ".{tx}");
    }

    /// Parse a tag written by [`CallRef::write_tag`].
    pub fn parse_tag(s: &[u8]) -> Option<CallRef> {
        let mut it = s.split(|&b| b == b'.');
        let run = u32::from_str_radix(std::str::from_utf8(it.next()?).ok()?, 16).ok()?;
        let worker = num(it.next()?)?;
        let slot = num(it.next()?)?;
        let gen = num(it.next()?)?;
        if it.next().is_some() {
            return None;
        }
        Some(CallRef {
            run,
            worker: u16::try_from(worker).ok()?,
            slot,
            gen,
        })
    }

    /// Parse a branch written by [`CallRef::write_branch`]: the reference and the tx number.
    pub fn parse_branch(s: &[u8]) -> Option<(CallRef, u32)> {
        let rest = s.strip_prefix(BRANCH_COOKIE)?.strip_prefix(b".")?;
        let dot = memchr::memrchr(b'.', rest)?;
        let tx = num(&rest[dot + 1..])?;
        Some((CallRef::parse_tag(&rest[..dot])?, tx))
    }
}

fn num(s: &[u8]) -> Option<u32> {
    if s.is_empty() || s.len() > 10 {
        return None;
    }
    std::str::from_utf8(s).ok()?.parse().ok()
}

/// The small SDP offer/answer every call carries (no media is ever sent).
pub fn sdp(addr: &SocketAddr, port: u16) -> Vec<u8> {
    let ip = addr.ip();
    let family = if ip.is_ipv4() { "IP4" } else { "IP6" };
    format!(
        "v=0\r\no=ringlet-load 1 1 IN {family} {ip}\r\ns=-\r\nc=IN {family} {ip}\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP 0 8\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"
    )
    .into_bytes()
}

/// `host:port` of a socket address as it appears in a SIP URI or Via.
pub fn write_hostport(buf: &mut Vec<u8>, addr: &SocketAddr) {
    match addr {
        SocketAddr::V4(a) => {
            let _ = write!(buf, "{}:{}", a.ip(), a.port());
        }
        SocketAddr::V6(a) => {
            let _ = write!(buf, "[{}]:{}", a.ip(), a.port());
        }
    }
}

/// What a UAC request needs besides its method.
pub struct RequestParts<'a> {
    pub method: &'a [u8],
    pub ruri: &'a [u8],
    /// Local address: Via sent-by and Contact.
    pub local: &'a SocketAddr,
    pub call: CallRef,
    pub tx: u32,
    pub from_user: &'a [u8],
    pub from_domain: &'a [u8],
    /// To URI (without brackets) and the remote tag once the dialog exists.
    pub to_uri: &'a [u8],
    pub to_tag: Option<&'a [u8]>,
    pub cseq: u32,
    /// Pre-rendered header lines (each ending in CRLF): Route set, credentials, Expires.
    pub extra: &'a [u8],
    pub contact: bool,
    pub body: Option<(&'a [u8], &'a [u8])>,
}

/// Append a whole request.
pub fn write_request(buf: &mut Vec<u8>, p: &RequestParts<'_>) {
    buf.extend_from_slice(p.method);
    buf.push(b' ');
    buf.extend_from_slice(p.ruri);
    buf.extend_from_slice(b" SIP/2.0\r\nVia: SIP/2.0/UDP ");
    write_hostport(buf, p.local);
    buf.extend_from_slice(b";rport;branch=");
    p.call.write_branch(buf, p.tx);
    buf.extend_from_slice(b"\r\nMax-Forwards: 70\r\nFrom: <sip:");
    buf.extend_from_slice(p.from_user);
    buf.push(b'@');
    buf.extend_from_slice(p.from_domain);
    buf.extend_from_slice(b">;tag=");
    p.call.write_tag(buf);
    buf.extend_from_slice(b"\r\nTo: <");
    buf.extend_from_slice(p.to_uri);
    buf.push(b'>');
    if let Some(t) = p.to_tag {
        buf.extend_from_slice(b";tag=");
        buf.extend_from_slice(t);
    }
    buf.extend_from_slice(b"\r\nCall-ID: ");
    p.call.write_call_id(buf);
    let _ = write!(buf, "\r\nCSeq: {} ", p.cseq);
    buf.extend_from_slice(p.method);
    buf.extend_from_slice(b"\r\n");
    if p.contact {
        buf.extend_from_slice(b"Contact: <sip:");
        buf.extend_from_slice(p.from_user);
        buf.push(b'@');
        write_hostport(buf, p.local);
        buf.extend_from_slice(b">\r\n");
    }
    buf.extend_from_slice(p.extra);
    buf.extend_from_slice(b"User-Agent: ringlet-load\r\n");
    match p.body {
        Some((ctype, body)) => {
            buf.extend_from_slice(b"Content-Type: ");
            buf.extend_from_slice(ctype);
            let _ = write!(buf, "\r\nContent-Length: {}\r\n\r\n", body.len());
            buf.extend_from_slice(body);
        }
        None => buf.extend_from_slice(b"Content-Length: 0\r\n\r\n"),
    }
}

/// The reason phrase we send with a status code.
pub fn reason(code: u16) -> &'static str {
    match code {
        100 => "Trying",
        180 => "Ringing",
        200 => "OK",
        405 => "Method Not Allowed",
        481 => "Call/Transaction Does Not Exist",
        486 => "Busy Here",
        487 => "Request Terminated",
        _ => "Unknown",
    }
}

/// The header lines a response copies from its request (RFC 3261 §8.2.6.2), borrowed.
pub struct ResponseParts<'a> {
    pub vias: &'a [&'a [u8]],
    pub record_routes: &'a [&'a [u8]],
    pub from: &'a [u8],
    /// The request's To value (if it already has a tag, no tag is added).
    pub to: &'a [u8],
    pub to_tag: Option<CallRef>,
    pub call_id: &'a [u8],
    pub cseq_num: u32,
    pub cseq_method: &'a [u8],
}

/// Append the part of a response shared by every response to one request: the status line
/// is written by [`write_response`]; this is everything from Via to CSeq, with CRLFs.
pub fn write_response_common(buf: &mut Vec<u8>, p: &ResponseParts<'_>, with_record_route: bool) {
    for v in p.vias {
        buf.extend_from_slice(v);
        buf.extend_from_slice(b"\r\n");
    }
    if with_record_route {
        for r in p.record_routes {
            buf.extend_from_slice(r);
            buf.extend_from_slice(b"\r\n");
        }
    }
    buf.extend_from_slice(b"From: ");
    buf.extend_from_slice(p.from);
    buf.extend_from_slice(b"\r\nTo: ");
    buf.extend_from_slice(p.to);
    if let Some(t) = p.to_tag {
        if super::scan::tag(p.to).is_none() {
            buf.extend_from_slice(b";tag=");
            t.write_tag(buf);
        }
    }
    buf.extend_from_slice(b"\r\nCall-ID: ");
    buf.extend_from_slice(p.call_id);
    let _ = write!(buf, "\r\nCSeq: {} ", p.cseq_num);
    buf.extend_from_slice(p.cseq_method);
    buf.extend_from_slice(b"\r\n");
}

/// Append a response's status line.
pub fn write_status_line(buf: &mut Vec<u8>, code: u16) {
    let _ = write!(buf, "SIP/2.0 {code} {}\r\n", reason(code));
}

/// Append what follows the copied headers: an optional Contact, Server, the body.
pub fn write_response_tail(buf: &mut Vec<u8>, contact: Option<&SocketAddr>, body: Option<&[u8]>) {
    if let Some(c) = contact {
        buf.extend_from_slice(b"Contact: <sip:uas@");
        write_hostport(buf, c);
        buf.extend_from_slice(b">\r\n");
    }
    buf.extend_from_slice(b"Server: ringlet-load\r\n");
    match body {
        Some(b) => {
            let _ = write!(
                buf,
                "Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n",
                b.len()
            );
            buf.extend_from_slice(b);
        }
        None => buf.extend_from_slice(b"Content-Length: 0\r\n\r\n"),
    }
}

/// Append a whole response: status line, `common` (from [`write_response_common`]),
/// an optional Contact and body.
pub fn write_response(
    buf: &mut Vec<u8>,
    code: u16,
    common: &[u8],
    contact: Option<&SocketAddr>,
    body: Option<&[u8]>,
) {
    write_status_line(buf, code);
    buf.extend_from_slice(common);
    write_response_tail(buf, contact, body);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::scan::{scan, tag, top_branch, StartLine};

    #[test]
    fn identifiers_round_trip() {
        let c = CallRef {
            run: 0xdead_beef,
            worker: 3,
            slot: 17,
            gen: 9,
        };
        let mut b = Vec::new();
        c.write_branch(&mut b, 2);
        assert_eq!(b, b"z9hG4bK.deadbeef.3.17.9.2");
        assert_eq!(CallRef::parse_branch(&b), Some((c, 2)));
        let mut t = Vec::new();
        c.write_tag(&mut t);
        assert_eq!(CallRef::parse_tag(&t), Some(c));
        assert_eq!(CallRef::parse_tag(b"deadbeef.3.17"), None);
        assert_eq!(CallRef::parse_tag(b"zz.3.17.9"), None);
        assert_eq!(CallRef::parse_branch(b"z9hG4bKother"), None);
        assert_eq!(
            CallRef::parse_branch(b"z9hG4bK.1.99999.1.1.1"),
            None,
            "worker beyond u16"
        );
    }

    #[test]
    fn request_scans_back() {
        let local: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        let c = CallRef {
            run: 1,
            worker: 0,
            slot: 5,
            gen: 1,
        };
        let body = sdp(&local, 6000);
        let mut buf = Vec::new();
        write_request(
            &mut buf,
            &RequestParts {
                method: b"INVITE",
                ruri: b"sip:uas@127.0.0.1:5080",
                local: &local,
                call: c,
                tx: 0,
                from_user: b"load",
                from_domain: b"127.0.0.1",
                to_uri: b"sip:uas@127.0.0.1:5080",
                to_tag: None,
                cseq: 1,
                extra: b"",
                contact: true,
                body: Some((b"application/sdp", &body)),
            },
        );
        let v = scan(&buf).unwrap();
        assert_eq!(
            v.start,
            StartLine::Request {
                method: b"INVITE",
                uri: b"sip:uas@127.0.0.1:5080"
            }
        );
        assert_eq!(CallRef::parse_branch(top_branch(&v).unwrap()), Some((c, 0)));
        assert_eq!(CallRef::parse_tag(tag(v.from).unwrap()), Some(c));
        assert_eq!(v.body, &body[..]);
        assert_eq!(v.call_id, b"1.0.5.1@ringlet-load");
    }

    #[test]
    fn response_copies_request_headers_and_adds_tag() {
        let req = b"INVITE sip:x SIP/2.0\r\nVia: SIP/2.0/UDP p;branch=z9hG4bKp\r\nVia: SIP/2.0/UDP u;branch=z9hG4bKu\r\n\
Record-Route: <sip:p;lr>\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@x>\r\nCall-ID: c1\r\nCSeq: 4 INVITE\r\n\r\n";
        let v = scan(req).unwrap();
        let vias: Vec<&[u8]> = v.vias.iter().collect();
        let rrs: Vec<&[u8]> = v.record_routes.iter().collect();
        let me = CallRef {
            run: 2,
            worker: 1,
            slot: 0,
            gen: 7,
        };
        let parts = ResponseParts {
            vias: &vias,
            record_routes: &rrs,
            from: v.from,
            to: v.to,
            to_tag: Some(me),
            call_id: v.call_id,
            cseq_num: v.cseq_num,
            cseq_method: v.cseq_method,
        };
        let mut common = Vec::new();
        write_response_common(&mut common, &parts, true);
        let addr: SocketAddr = "127.0.0.1:5080".parse().unwrap();
        let mut resp = Vec::new();
        write_response(&mut resp, 180, &common, Some(&addr), None);
        let r = scan(&resp).unwrap();
        assert_eq!(r.start, StartLine::Response { code: 180 });
        assert_eq!(r.vias.len(), 2);
        assert_eq!(top_branch(&r), Some(&b"z9hG4bKp"[..]));
        assert_eq!(r.record_routes.len(), 1);
        assert_eq!(CallRef::parse_tag(tag(r.to).unwrap()), Some(me));
        assert_eq!((r.cseq_num, r.cseq_method), (4, &b"INVITE"[..]));
    }
}
