//! The writer: emits an edited copy of a parsed message into a caller's buffer.
//!
//! An [`Edits`] value is a fixed-capacity list of splices against the received bytes
//! (insert at an offset, optionally deleting a range). [`Edits::write`] sorts them by
//! offset and makes one pass over the message: every byte no edit touches is copied as
//! received, in bulk. Content-Length is always made right: rewritten when the body
//! changes (or when it is absent, RFC 3261 §20.14 requires it on stream transports), copied
//! untouched otherwise.
//!
//! ```text
//!  received: [start line][Via..][Route: a,b][Max-Forwards: 70][...][\r\n][body]
//!  edits:          ^ins Via      ^del "a,"          ^repl "69"
//!  output:   [start line][Via new][Via..][Route: b][Max-Forwards: 69][...][\r\n][body]
//! ```
//!
//! Invariants: edits refer to one message (checked at `write`); deletions never overlap
//! (a second edit inside an already deleted range is refused with
//! [`WriteError::Overlap`]); inserts at the same offset come out in the order pushed, and
//! before a deletion that starts there.
//! `write` only appends to `out`, and on error truncates it back to its original length.
//! It allocates only if `out` lacks capacity.

use std::net::IpAddr;

use super::header::{HeaderId, HeaderName};
use super::message::Message;
use super::scan;
use super::via::RPort;

/// Edits one [`Edits`] can hold; the proxy needs at most about eight per forwarded message.
pub const MAX_EDITS: usize = 24;

/// Why a message could not be written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteError {
    /// More than [`MAX_EDITS`] edits.
    TooManyEdits,
    /// Two edits touch the same bytes (e.g. removing a header and editing it).
    Overlap,
    /// The edits were built against a different message.
    WrongMessage,
    /// The header an edit needs is absent (e.g. no Via to strip, no Route to remove).
    MissingHeader(&'static str),
    /// The header an edit needs is malformed.
    BadHeader(&'static str),
    /// Max-Forwards is already 0 (RFC 3261 §16.3 step 3: answer 483 instead).
    MaxForwardsExhausted,
    /// The operation needs a request (or a response) and got the other.
    WrongKind,
}

impl std::fmt::Display for WriteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WriteError::TooManyEdits => write!(f, "more than {MAX_EDITS} edits"),
            WriteError::Overlap => f.write_str("two edits touch the same bytes"),
            WriteError::WrongMessage => f.write_str("edits built for another message"),
            WriteError::MissingHeader(h) => write!(f, "no {h} header to edit"),
            WriteError::BadHeader(h) => write!(f, "malformed {h} header"),
            WriteError::MaxForwardsExhausted => f.write_str("Max-Forwards is 0"),
            WriteError::WrongKind => {
                f.write_str("operation does not apply to this kind of message")
            }
        }
    }
}

impl std::error::Error for WriteError {}

/// A Via value to push on top of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NewVia<'e> {
    /// "UDP", "TCP", "TLS"...
    pub transport: &'e [u8],
    /// The sent-by host (brackets included for IPv6).
    pub host: &'e [u8],
    pub port: Option<u16>,
    /// The whole branch, magic cookie included.
    pub branch: &'e [u8],
    /// Add `;rport` (RFC 3581) so the next hop answers to the source port.
    pub rport: bool,
}

#[derive(Clone, Copy, Debug)]
enum Piece<'e> {
    Nothing,
    Bytes(&'e [u8]),
    Via(NewVia<'e>),
    /// `;received=<ip>`
    Received(IpAddr),
    /// `=<port>` after a bare `rport`
    RPortValue(u16),
    Number(u32),
    /// `<name>: <value>\r\n`
    Line(&'e [u8], &'e [u8]),
    /// `Record-Route: <uri>\r\n` (the caller's URI, brackets added)
    RecordRoute(&'e [u8]),
    /// `Content-Length: ` placeholder resolved at write time (value or whole line)
    ContentLengthValue,
    ContentLengthLine,
    Body,
}

#[derive(Clone, Copy, Debug)]
struct Edit<'e> {
    at: u32,
    /// End of the deleted range (== at for a pure insertion).
    del_end: u32,
    piece: Piece<'e>,
}

const HEADERS_END: u32 = u32::MAX;

const NO_EDIT: Edit<'static> = Edit {
    at: 0,
    del_end: 0,
    piece: Piece::Nothing,
};

/// A list of edits against one received message; see the module docs.
///
/// Each method records its edit (or the first error, reported by [`Edits::write`]) and
/// returns `&mut Self` so calls chain.
#[derive(Clone, Debug)]
pub struct Edits<'e> {
    edits: [Edit<'e>; MAX_EDITS],
    n: u8,
    /// Identity of the message the offsets refer to (address and length of its datagram).
    msg_id: Option<(usize, usize)>,
    body: Option<&'e [u8]>,
    error: Option<WriteError>,
}

impl Default for Edits<'_> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'e> Edits<'e> {
    pub fn new() -> Self {
        Edits {
            edits: [NO_EDIT; MAX_EDITS],
            n: 0,
            msg_id: None,
            body: None,
            error: None,
        }
    }

    /// Number of edits recorded.
    pub fn len(&self) -> usize {
        self.n as usize
    }

    pub fn is_empty(&self) -> bool {
        self.n == 0 && self.body.is_none()
    }

    /// The first error recorded by an edit method, if any.
    pub fn error(&self) -> Option<WriteError> {
        self.error
    }

    fn fail(&mut self, e: WriteError) -> &mut Self {
        if self.error.is_none() {
            self.error = Some(e);
        }
        self
    }

    fn bind(&mut self, msg: &Message<'_>) -> bool {
        let id = (msg.buf.as_ptr() as usize, msg.buf.len());
        match self.msg_id {
            None => {
                self.msg_id = Some(id);
                true
            }
            Some(m) if m == id => true,
            Some(_) => {
                self.fail(WriteError::WrongMessage);
                false
            }
        }
    }

    fn push(&mut self, at: usize, del_end: usize, piece: Piece<'e>) -> &mut Self {
        if self.n as usize == MAX_EDITS {
            return self.fail(WriteError::TooManyEdits);
        }
        self.edits[self.n as usize] = Edit {
            at: at as u32,
            del_end: del_end as u32,
            piece,
        };
        self.n += 1;
        self
    }

    /// Pushes a new topmost Via (RFC 3261 §16.6 step 8), written as
    /// `Via: SIP/2.0/<transport> <host>[:<port>];branch=<branch>[;rport]`.
    pub fn push_via(&mut self, msg: &Message<'_>, via: NewVia<'e>) -> &mut Self {
        if !self.bind(msg) {
            return self;
        }
        let at = msg
            .first_slot(HeaderId::Via)
            .map_or(msg.headers_start, |s| u32::from(s.start));
        self.push(at as usize, at as usize, Piece::Via(via))
    }

    /// RFC 3261 §18.2.1 and RFC 3581 §4: on the top Via of a received request, adds
    /// `;received=<ip>` (or replaces an existing one) and, when `rport` was sent without a
    /// value, fills it with `port`. The caller decides whether `received` is needed
    /// ([`super::Via::needs_received`]).
    pub fn set_received(&mut self, msg: &Message<'_>, ip: IpAddr, port: u16) -> &mut Self {
        if !self.bind(msg) {
            return self;
        }
        let via = match msg.top_via() {
            Ok(v) => v,
            Err(_) if msg.first_slot(HeaderId::Via).is_none() => {
                return self.fail(WriteError::MissingHeader("Via"))
            }
            Err(_) => return self.fail(WriteError::BadHeader("Via")),
        };
        if via.rport == Some(RPort::Requested) {
            if let Some((name, _)) = via
                .params
                .clone()
                .find(|(n, _)| n.eq_ignore_ascii_case(b"rport"))
            {
                let at = scan::offset_in(msg.buf, name) + name.len();
                self.push(at, at, Piece::RPortValue(port));
            }
        }
        match via.received {
            Some(r) => {
                let at = scan::offset_in(msg.buf, r);
                self.push(at, at + r.len(), Piece::Received(ip))
            }
            None => {
                let at = scan::offset_in(msg.buf, via.raw) + via.raw.len();
                self.push(at, at, Piece::Received(ip))
            }
        }
    }

    /// Adds `Record-Route: <uri>` above the existing Record-Route values (RFC 3261 §16.6
    /// step 4). `uri` is written as given: include `;lr`.
    pub fn record_route(&mut self, msg: &Message<'_>, uri: &'e [u8]) -> &mut Self {
        if !self.bind(msg) {
            return self;
        }
        let at = msg
            .first_slot(HeaderId::RecordRoute)
            .map_or(HEADERS_END as usize, |s| s.start as usize);
        self.push(at, at, Piece::RecordRoute(uri))
    }

    /// Removes the topmost Route value (RFC 3261 §16.4, §16.12): the whole line when it holds
    /// one value, the first value and its comma otherwise.
    pub fn remove_top_route(&mut self, msg: &Message<'_>) -> &mut Self {
        self.remove_first_value(msg, HeaderId::Route, "Route")
    }

    /// Removes the topmost Via value of a response (RFC 3261 §16.7 step 3).
    pub fn strip_top_via(&mut self, msg: &Message<'_>) -> &mut Self {
        self.remove_first_value(msg, HeaderId::Via, "Via")
    }

    fn remove_first_value(
        &mut self,
        msg: &Message<'_>,
        id: HeaderId,
        label: &'static str,
    ) -> &mut Self {
        if !self.bind(msg) {
            return self;
        }
        let Some(index) = msg.first_index(id) else {
            return self.fail(WriteError::MissingHeader(label));
        };
        let slot = &msg.slots()[index];
        let v = msg.value_of(slot);
        match scan::next_comma(v) {
            Some(c) => {
                // Delete "first ,  " up to the start of the second value.
                let rest = &v[c + 1..];
                let skip = rest.len() - scan::trim_start(rest).len();
                let at = slot.value_start as usize;
                self.push(at, at + c + 1 + skip, Piece::Nothing)
            }
            None => self.push(
                slot.start as usize,
                msg.line_end(index) as usize,
                Piece::Nothing,
            ),
        }
    }

    /// Replaces the Request-URI (RFC 3261 §16.6 step 2).
    pub fn set_request_uri(&mut self, msg: &Message<'_>, uri: &'e [u8]) -> &mut Self {
        if !self.bind(msg) {
            return self;
        }
        match msg.request_uri_span() {
            Some(r) => self.push(r.start, r.end, Piece::Bytes(uri)),
            None => self.fail(WriteError::WrongKind),
        }
    }

    /// Decrements Max-Forwards, or inserts `Max-Forwards: 70` when absent (RFC 3261 §16.6
    /// step 3). Fails with [`WriteError::MaxForwardsExhausted`] at 0.
    pub fn decrement_max_forwards(&mut self, msg: &Message<'_>) -> &mut Self {
        if !self.bind(msg) {
            return self;
        }
        match msg.first_slot(HeaderId::MaxForwards) {
            None => self.push(
                HEADERS_END as usize,
                HEADERS_END as usize,
                Piece::Line(b"Max-Forwards", b"70"),
            ),
            Some(s) => match super::fields::parse_max_forwards(msg.value_of(s)) {
                Some(0) => self.fail(WriteError::MaxForwardsExhausted),
                Some(n) => self.push(
                    s.value_start as usize,
                    s.value_end as usize,
                    Piece::Number(u32::from(n) - 1),
                ),
                None => self.fail(WriteError::BadHeader("Max-Forwards")),
            },
        }
    }

    /// Appends `name: value` at the end of the header block. Content-Length is managed by
    /// the writer: adding it is ignored.
    pub fn add_header(&mut self, name: &'e [u8], value: &'e [u8]) -> &mut Self {
        if HeaderName::parse(name) == HeaderName::ContentLength {
            return self;
        }
        self.push(
            HEADERS_END as usize,
            HEADERS_END as usize,
            Piece::Line(name, value),
        )
    }

    /// Replaces the value of the first line named `name` and removes the other lines of
    /// that name; appends the header when absent.
    pub fn replace_header(
        &mut self,
        msg: &Message<'_>,
        name: HeaderName<'e>,
        value: &'e [u8],
    ) -> &mut Self {
        if !self.bind(msg) || name == HeaderName::ContentLength {
            return self;
        }
        let mut first = true;
        for (i, s) in msg.slots().iter().enumerate() {
            if !same_name(msg, i, &name) {
                continue;
            }
            if first {
                self.push(
                    s.value_start as usize,
                    s.value_end as usize,
                    Piece::Bytes(value),
                );
                first = false;
            } else {
                self.push(s.start as usize, msg.line_end(i) as usize, Piece::Nothing);
            }
        }
        if first {
            self.push(
                HEADERS_END as usize,
                HEADERS_END as usize,
                Piece::Line(name.as_bytes(), value),
            );
        }
        self
    }

    /// Removes every line named `name` (Content-Length excepted: the writer manages it).
    pub fn remove_header(&mut self, msg: &Message<'_>, name: HeaderName<'_>) -> &mut Self {
        if !self.bind(msg) || name == HeaderName::ContentLength {
            return self;
        }
        for (i, s) in msg.slots().iter().enumerate() {
            if same_name(msg, i, &name) {
                self.push(s.start as usize, msg.line_end(i) as usize, Piece::Nothing);
            }
        }
        self
    }

    /// Replaces the body; Content-Length follows. Pair with `replace_header(ContentType)`
    /// when the type changes.
    pub fn set_body(&mut self, body: &'e [u8]) -> &mut Self {
        self.body = Some(body);
        self
    }

    /// Writes the edited message at the end of `out`; returns the number of bytes written.
    pub fn write(&self, msg: &Message<'_>, out: &mut Vec<u8>) -> Result<usize, WriteError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        if let Some(id) = self.msg_id {
            if id != (msg.buf.as_ptr() as usize, msg.buf.len()) {
                return Err(WriteError::WrongMessage);
            }
        }
        let buf = msg.buf;
        let headers_end = msg.headers_end;
        let body = self.body.unwrap_or_else(|| msg.body());

        // Working copy: the caller's edits plus Content-Length and body, sorted by offset
        // (stable: same-offset inserts keep their order).
        let mut list = [NO_EDIT; MAX_EDITS + 2];
        let mut n = 0;
        for e in &self.edits[..self.n as usize] {
            let mut e = *e;
            if e.at == HEADERS_END {
                e.at = headers_end;
                e.del_end = headers_end;
            }
            list[n] = e;
            n += 1;
        }
        match msg.first_slot(HeaderId::ContentLength) {
            Some(s) => {
                let same = scan::parse_u32(msg.value_of(s), u32::MAX) == Some(body.len() as u32)
                    && self.body.is_none();
                if !same {
                    list[n] = Edit {
                        at: u32::from(s.value_start),
                        del_end: u32::from(s.value_end),
                        piece: Piece::ContentLengthValue,
                    };
                    n += 1;
                }
            }
            None => {
                list[n] = Edit {
                    at: headers_end,
                    del_end: headers_end,
                    piece: Piece::ContentLengthLine,
                };
                n += 1;
            }
        }
        if self.body.is_some() {
            list[n] = Edit {
                at: msg.body_start,
                del_end: msg.len,
                piece: Piece::Body,
            };
            n += 1;
        }
        let list = &mut list[..n];
        // Insertion sort (n is tiny, and it is stable): by offset, and at one offset pure
        // insertions before a deletion, so "insert before line L" and "delete line L" commute.
        let key = |e: &Edit<'_>| (e.at, e.del_end > e.at);
        for i in 1..list.len() {
            let mut j = i;
            while j > 0 && key(&list[j - 1]) > key(&list[j]) {
                list.swap(j - 1, j);
                j -= 1;
            }
        }

        let start_len = out.len();
        out.reserve(msg.len as usize - msg.line_start as usize + 256 + body.len());
        let mut cursor = msg.line_start as usize;
        for e in list.iter() {
            let at = e.at as usize;
            if at < cursor {
                out.truncate(start_len);
                return Err(WriteError::Overlap);
            }
            out.extend_from_slice(&buf[cursor..at]);
            emit(out, &e.piece, body);
            cursor = e.del_end as usize;
        }
        let end = if self.body.is_some() {
            cursor.max(msg.len as usize)
        } else {
            msg.len as usize
        };
        if cursor < end {
            out.extend_from_slice(&buf[cursor..end]);
        }
        Ok(out.len() - start_len)
    }
}

fn same_name(msg: &Message<'_>, i: usize, name: &HeaderName<'_>) -> bool {
    let s = &msg.slots()[i];
    match name.id() {
        HeaderId::Other => {
            s.id == HeaderId::Other && msg.name_of(s).eq_ignore_ascii_case(name.as_bytes())
        }
        id => s.id == id,
    }
}

// ---- number and address writers: the one set the crate uses, no `core::fmt` ----------

/// Appends `v` in decimal.
pub(crate) fn push_decimal(out: &mut Vec<u8>, mut v: u64) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&tmp[i..]);
}

/// Appends an IP address as text (IPv6 without brackets, in std's RFC 5952 form).
pub(crate) fn push_ip(out: &mut Vec<u8>, ip: IpAddr) {
    match ip {
        IpAddr::V4(v4) => {
            // Written on the stack, appended once.
            let mut buf = [0u8; 15];
            let mut n = 0;
            for (i, o) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    buf[n] = b'.';
                    n += 1;
                }
                if o >= 100 {
                    buf[n] = b'0' + o / 100;
                    n += 1;
                }
                if o >= 10 {
                    buf[n] = b'0' + o / 10 % 10;
                    n += 1;
                }
                buf[n] = b'0' + o % 10;
                n += 1;
            }
            out.extend_from_slice(&buf[..n]);
        }
        // Rare on the proxy's paths; std's formatter gets the compression rules right.
        IpAddr::V6(v6) => {
            use std::io::Write as _;
            // Writing into a Vec cannot fail.
            let _ = write!(out, "{v6}");
        }
    }
}

fn emit(out: &mut Vec<u8>, piece: &Piece<'_>, body: &[u8]) {
    match *piece {
        Piece::Nothing => {}
        Piece::Bytes(b) => out.extend_from_slice(b),
        Piece::Via(v) => {
            out.extend_from_slice(b"Via: SIP/2.0/");
            out.extend_from_slice(v.transport);
            out.push(b' ');
            out.extend_from_slice(v.host);
            if let Some(p) = v.port {
                out.push(b':');
                push_decimal(out, u64::from(p));
            }
            out.extend_from_slice(b";branch=");
            out.extend_from_slice(v.branch);
            if v.rport {
                out.extend_from_slice(b";rport");
            }
            out.extend_from_slice(b"\r\n");
        }
        Piece::Received(ip) => {
            out.extend_from_slice(b";received=");
            push_ip(out, ip);
        }
        Piece::RPortValue(p) => {
            out.push(b'=');
            push_decimal(out, u64::from(p));
        }
        Piece::Number(n) => push_decimal(out, u64::from(n)),
        Piece::Line(name, value) => {
            out.extend_from_slice(name);
            out.extend_from_slice(b": ");
            out.extend_from_slice(value);
            out.extend_from_slice(b"\r\n");
        }
        Piece::RecordRoute(uri) => {
            out.extend_from_slice(b"Record-Route: <");
            out.extend_from_slice(uri);
            out.extend_from_slice(b">\r\n");
        }
        Piece::ContentLengthValue => push_decimal(out, body.len() as u64),
        Piece::ContentLengthLine => {
            out.extend_from_slice(b"Content-Length: ");
            push_decimal(out, body.len() as u64);
            out.extend_from_slice(b"\r\n");
        }
        Piece::Body => out.extend_from_slice(body),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_and_address_writers_match_std_formatting() {
        for n in [0u64, 7, 10, 99, 100, 65535, u64::from(u32::MAX), u64::MAX] {
            let mut v = Vec::new();
            push_decimal(&mut v, n);
            assert_eq!(v, n.to_string().as_bytes());
        }
        for a in [
            "127.0.0.1",
            "0.10.200.255",
            "9.99.100.1",
            "::1",
            "2001:db8::7",
        ] {
            let ip: IpAddr = a.parse().unwrap();
            let mut v = Vec::new();
            push_ip(&mut v, ip);
            assert_eq!(v, a.as_bytes());
        }
    }
    use crate::sip::{parse, HeaderName};

    const INVITE: &[u8] = b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bKnashds8;rport, SIP/2.0/UDP h2.example.com;branch=z9hG4bK2\r\n\
Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>\r\n\
Route: <sip:p3.example.com;lr>\r\n\
Max-Forwards: 70\r\n\
To: Bob <sip:bob@biloxi.example.com>\r\n\
From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710\r\n\
CSeq: 314159 INVITE\r\n\
X-Custom: one\r\n\
Content-Type: text/plain\r\n\
Content-Length: 5\r\n\
\r\n\
hello";

    #[test]
    fn no_edits_copies_verbatim() {
        let m = parse(INVITE).unwrap();
        let mut out = Vec::new();
        Edits::new().write(&m, &mut out).unwrap();
        assert_eq!(out, INVITE);
    }

    #[test]
    fn proxy_forwarding_edits() {
        let m = parse(INVITE).unwrap();
        let mut out = b"prefix".to_vec();
        let mut e = Edits::new();
        e.push_via(
            &m,
            NewVia {
                transport: b"UDP",
                host: b"10.0.0.1",
                port: Some(5060),
                branch: b"z9hG4bKnew",
                rport: true,
            },
        )
        .set_received(&m, "192.0.2.7".parse().unwrap(), 5099)
        .record_route(&m, b"sip:10.0.0.1;lr")
        .remove_top_route(&m)
        .set_request_uri(&m, b"sip:bob@192.0.2.44:5070")
        .decrement_max_forwards(&m)
        .replace_header(&m, HeaderName::Other(b"x-custom"), b"two")
        .add_header(b"X-Added", b"yes");
        let n = e.write(&m, &mut out).unwrap();
        assert_eq!(&out[..6], b"prefix");
        assert_eq!(n, out.len() - 6);
        let f = parse(&out[6..]).unwrap();
        assert_eq!(f.request_uri(), Some(&b"sip:bob@192.0.2.44:5070"[..]));
        let vias: Vec<_> = f.vias().map(|v| v.unwrap()).collect();
        assert_eq!(vias.len(), 3);
        assert_eq!(vias[0].branch, Some(&b"z9hG4bKnew"[..]));
        assert_eq!(vias[0].rport, Some(RPort::Requested));
        assert_eq!(vias[1].received, Some(&b"192.0.2.7"[..]));
        assert_eq!(vias[1].rport, Some(RPort::Port(5099)));
        let routes: Vec<_> = f.routes().map(|r| r.unwrap().uri.host_raw).collect();
        assert_eq!(routes, vec![&b"p2.example.com"[..], b"p3.example.com"]);
        let rr: Vec<_> = f.record_routes().map(|r| r.unwrap().uri.raw).collect();
        assert_eq!(rr, vec![&b"sip:10.0.0.1;lr"[..]]);
        assert_eq!(f.max_forwards().unwrap(), Some(69));
        assert_eq!(f.header(HeaderName::Other(b"X-Custom")), Some(&b"two"[..]));
        assert_eq!(f.header(HeaderName::Other(b"X-Added")), Some(&b"yes"[..]));
        assert_eq!(f.body(), b"hello");
        assert_eq!(f.content_length().unwrap(), Some(5));
    }

    #[test]
    fn response_via_strip_and_body() {
        let resp = b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP p.example.com;branch=z9hG4bKa, SIP/2.0/UDP c.example.com;branch=z9hG4bKb\r\nVia: SIP/2.0/UDP d.example.com;branch=z9hG4bKc\r\nTo: <sip:b@x>;tag=1\r\nFrom: <sip:a@x>;tag=2\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
        let m = parse(resp).unwrap();
        let mut out = Vec::new();
        Edits::new()
            .strip_top_via(&m)
            .set_body(b"v=0\r\n")
            .write(&m, &mut out)
            .unwrap();
        let f = parse(&out).unwrap();
        let b: Vec<_> = f.vias().map(|v| v.unwrap().branch.unwrap()).collect();
        assert_eq!(b, vec![&b"z9hG4bKb"[..], b"z9hG4bKc"]);
        assert_eq!(f.body(), b"v=0\r\n");
        assert_eq!(f.content_length().unwrap(), Some(5));
        // Second strip removes the rest of the first line entirely.
        let mut out2 = Vec::new();
        Edits::new().strip_top_via(&f).write(&f, &mut out2).unwrap();
        let g = parse(&out2).unwrap();
        assert_eq!(g.vias().count(), 1);
        assert_eq!(g.header_line_count(HeaderName::Via), 1);
    }

    #[test]
    fn insert_and_delete_at_one_offset_commute() {
        let m = parse(INVITE).unwrap();
        let (mut a, mut b) = (Vec::new(), Vec::new());
        let via = NewVia {
            transport: b"UDP",
            host: b"h",
            port: None,
            branch: b"z9hG4bKn",
            rport: false,
        };
        Edits::new()
            .remove_header(&m, HeaderName::Via)
            .push_via(&m, via)
            .write(&m, &mut a)
            .unwrap();
        Edits::new()
            .push_via(&m, via)
            .remove_header(&m, HeaderName::Via)
            .write(&m, &mut b)
            .unwrap();
        assert_eq!(a, b);
        let f = parse(&a).unwrap();
        assert_eq!(f.vias().count(), 1);
        assert_eq!(f.top_via().unwrap().branch, Some(&b"z9hG4bKn"[..]));
    }

    #[test]
    fn errors_are_reported() {
        let m = parse(INVITE).unwrap();
        let mut out = b"keep".to_vec();
        let mut e = Edits::new();
        e.remove_header(&m, HeaderName::Via)
            .set_received(&m, "192.0.2.7".parse().unwrap(), 1);
        assert_eq!(e.write(&m, &mut out), Err(WriteError::Overlap));
        assert_eq!(out, b"keep");
        let zero = b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nMax-Forwards: 0\r\n\r\n";
        let z = parse(zero).unwrap();
        let mut e = Edits::new();
        e.decrement_max_forwards(&z);
        assert_eq!(e.write(&z, &mut out), Err(WriteError::MaxForwardsExhausted));
        let mut e = Edits::new();
        e.remove_top_route(&z);
        assert_eq!(e.error(), Some(WriteError::MissingHeader("Route")));
        // Edits bound to one message refuse another.
        let mut e = Edits::new();
        e.decrement_max_forwards(&m);
        assert_eq!(e.write(&z, &mut out), Err(WriteError::WrongMessage));
    }

    #[test]
    fn missing_max_forwards_and_content_length_are_inserted() {
        let req = b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\r\n";
        let m = parse(req).unwrap();
        let mut out = Vec::new();
        Edits::new()
            .decrement_max_forwards(&m)
            .write(&m, &mut out)
            .unwrap();
        let f = parse(&out).unwrap();
        assert_eq!(f.max_forwards().unwrap(), Some(70));
        assert_eq!(f.content_length().unwrap(), Some(0));
    }
}
