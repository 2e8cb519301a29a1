//! The parsed message: start line, the header index and the body, all borrowed.
//!
//! ```text
//!  Message<'a>
//!  ├─ buf: &'a [u8]            the datagram (the message is buf[..len])
//!  ├─ start_line               method + Request-URI span, or status + reason span
//!  ├─ slots[0..count]          one per header line, in order: id, name/value/line spans
//!  ├─ first[id]                index of the first slot with that id (u8::MAX: none)
//!  └─ headers_end, body_start  the blank line and the body
//! ```
//!
//! Invariants: `count <= MAX_HEADERS`; slot spans lie inside `buf[..body_start]`;
//! `first[id]` is the smallest slot index whose id is `id`. Typed accessors parse the
//! value on each call (cheap, no allocation) and report errors with header and offset.

use super::digest::Credentials;
use super::error::{ParseError, ParseErrorKind as K};
use super::fields::{self, CSeq};
use super::header::{HeaderId, HeaderName};
use super::method::Method;
use super::name_addr::{BadNameAddr, Contact, NameAddr, NameAddrParts};
use super::scan::{self, CommaSplit};
use super::uri::Uri;
use super::via::Via;

/// Header fields one message may hold; a message with more is refused with
/// [`ParseErrorKind::TooManyHeaders`](super::ParseErrorKind::TooManyHeaders) (status 513).
/// Real traffic carries 10 to 25 header lines.
pub const MAX_HEADERS: usize = 64;

/// One header line. Offsets are 16-bit: the header block of a message must fit in the
/// first 64 KiB of the datagram (the parser refuses larger ones with `MessageTooLarge`),
/// which keeps a slot at 8 bytes and the whole index at 512 bytes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct HeaderSlot {
    /// Start of the line (the name).
    pub(crate) start: u16,
    pub(crate) value_start: u16,
    pub(crate) value_end: u16,
    pub(crate) id: HeaderId,
    /// Length of the name (names are at most 255 bytes).
    pub(crate) name_len: u8,
}

impl HeaderSlot {
    const EMPTY: HeaderSlot = HeaderSlot {
        id: HeaderId::Other,
        name_len: 0,
        start: 0,
        value_start: 0,
        value_end: 0,
    };
}

#[derive(Clone, Copy, Debug)]
pub(crate) enum StartLine<'a> {
    Request { method: Method<'a>, uri: (u32, u32) },
    Response { code: u16, reason: (u32, u32) },
}

/// A parsed SIP message borrowing its datagram. See the module docs for the layout.
#[derive(Clone)]
pub struct Message<'a> {
    pub(crate) buf: &'a [u8],
    pub(crate) start_line: StartLine<'a>,
    pub(crate) line_start: u32,
    pub(crate) headers_start: u32,
    pub(crate) headers_end: u32,
    pub(crate) body_start: u32,
    pub(crate) len: u32,
    pub(crate) count: u8,
    pub(crate) first: [u8; HeaderId::COUNT],
    pub(crate) slots: [HeaderSlot; MAX_HEADERS],
}

impl std::fmt::Debug for Message<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Message")
            .field(
                "start_line",
                &String::from_utf8_lossy(self.start_line_bytes()),
            )
            .field("headers", &self.count)
            .field("body_len", &self.body().len())
            .finish()
    }
}

/// One header field line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header<'a> {
    pub name: HeaderName<'a>,
    /// The value with surrounding LWS trimmed (folded lines included as received).
    pub value: &'a [u8],
    /// The whole line, name to line end included.
    pub line: &'a [u8],
}

impl<'a> Message<'a> {
    #[inline(always)]
    pub(crate) fn empty(
        buf: &'a [u8],
        start_line: StartLine<'a>,
        line_start: u32,
        headers_start: u32,
    ) -> Self {
        Message {
            buf,
            start_line,
            line_start,
            headers_start,
            headers_end: headers_start,
            body_start: headers_start,
            len: 0,
            count: 0,
            first: [u8::MAX; HeaderId::COUNT],
            slots: [HeaderSlot::EMPTY; MAX_HEADERS],
        }
    }

    #[inline]
    pub(crate) fn slots(&self) -> &[HeaderSlot] {
        &self.slots[..self.count as usize]
    }

    #[inline]
    pub(crate) fn first_slot(&self, id: HeaderId) -> Option<&HeaderSlot> {
        let i = self.first[id as usize];
        if i == u8::MAX {
            None
        } else {
            Some(&self.slots[i as usize])
        }
    }

    /// Index of the first slot with this id.
    #[inline]
    pub(crate) fn first_index(&self, id: HeaderId) -> Option<usize> {
        let i = self.first[id as usize];
        (i != u8::MAX).then_some(i as usize)
    }

    /// End of slot `i`'s line, just past its LF (after any continuation lines): lines are
    /// contiguous, so it is where the next line starts, or the blank line for the last.
    #[inline]
    pub(crate) fn line_end(&self, i: usize) -> u32 {
        if i + 1 < self.count as usize {
            u32::from(self.slots[i + 1].start)
        } else {
            self.headers_end
        }
    }

    #[inline]
    pub(crate) fn value_of(&self, s: &HeaderSlot) -> &'a [u8] {
        &self.buf[s.value_start as usize..s.value_end as usize]
    }

    #[inline]
    pub(crate) fn name_of(&self, s: &HeaderSlot) -> &'a [u8] {
        &self.buf[s.start as usize..s.start as usize + s.name_len as usize]
    }

    pub(crate) fn start_line_bytes(&self) -> &'a [u8] {
        let end = memchr::memchr(b'\n', &self.buf[self.line_start as usize..])
            .map_or(self.buf.len(), |i| self.line_start as usize + i);
        let end = if end > 0 && self.buf.get(end - 1) == Some(&b'\r') {
            end - 1
        } else {
            end
        };
        &self.buf[self.line_start as usize..end]
    }

    fn err(&self, kind: K, header: &'static str, at: &[u8]) -> ParseError {
        ParseError::in_header(kind, header, scan::offset_in(self.buf, at))
    }

    fn missing(&self, header: &'static str) -> ParseError {
        ParseError::in_header(K::MissingHeader, header, self.headers_end as usize)
    }

    // ---- start line -------------------------------------------------------------------

    /// True for a request, false for a response.
    pub fn is_request(&self) -> bool {
        matches!(self.start_line, StartLine::Request { .. })
    }

    /// The request method (`None` for a response; use [`Message::cseq`] there).
    pub fn method(&self) -> Option<Method<'a>> {
        match self.start_line {
            StartLine::Request { method, .. } => Some(method),
            StartLine::Response { .. } => None,
        }
    }

    /// The Request-URI as received (`None` for a response).
    pub fn request_uri(&self) -> Option<&'a [u8]> {
        match self.start_line {
            StartLine::Request { uri: (a, b), .. } => Some(&self.buf[a as usize..b as usize]),
            StartLine::Response { .. } => None,
        }
    }

    /// The Request-URI, parsed (`None` for a response). The parser only checked its
    /// framing (scheme, no LWS); this checks the whole grammar, and refuses a SIP or SIPS
    /// Request-URI with headers (RFC 3261 §19.1.1 table; RFC 4475 escruri).
    pub fn request_uri_parsed(&self) -> Option<Result<Uri<'a>, ParseError>> {
        let raw = self.request_uri()?;
        let err = || ParseError::new(K::BadRequestUri, scan::offset_in(self.buf, raw));
        Some(match Uri::parse(raw) {
            Ok(u) if u.is_sip() && !u.headers.is_empty() => Err(err()),
            Ok(u) => Ok(u),
            Err(_) => Err(err()),
        })
    }

    /// The status code (`None` for a request).
    pub fn status(&self) -> Option<u16> {
        match self.start_line {
            StartLine::Response { code, .. } => Some(code),
            StartLine::Request { .. } => None,
        }
    }

    /// The reason phrase (`None` for a request; may be empty).
    pub fn reason(&self) -> Option<&'a [u8]> {
        match self.start_line {
            StartLine::Response { reason: (a, b), .. } => Some(&self.buf[a as usize..b as usize]),
            StartLine::Request { .. } => None,
        }
    }

    // ---- framing ----------------------------------------------------------------------

    /// Bytes of this message in the datagram (start line to end of body). Trailing octets
    /// after the body (RFC 4475 dblreq) are not counted.
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// The bytes of this message (leading CRLFs excluded).
    pub fn as_bytes(&self) -> &'a [u8] {
        &self.buf[self.line_start as usize..self.len as usize]
    }

    /// The body (empty when there is none).
    pub fn body(&self) -> &'a [u8] {
        &self.buf[self.body_start as usize..self.len as usize]
    }

    /// Number of header field lines.
    pub fn header_count(&self) -> usize {
        self.count as usize
    }

    // ---- raw header access ------------------------------------------------------------

    /// Every header line in order.
    pub fn headers(&self) -> impl Iterator<Item = Header<'a>> + '_ {
        (0..self.count as usize).map(move |i| self.header_at(i))
    }

    fn header_at(&self, i: usize) -> Header<'a> {
        let s = &self.slots[i];
        Header {
            name: s.id.name(self.name_of(s)),
            value: self.value_of(s),
            line: &self.buf[s.start as usize..self.line_end(i) as usize],
        }
    }

    /// The value of the first header line named `name` (compact forms match long ones).
    pub fn header(&self, name: HeaderName<'_>) -> Option<&'a [u8]> {
        self.slot_of(name).map(|s| self.value_of(s))
    }

    pub(crate) fn slot_of(&self, name: HeaderName<'_>) -> Option<&HeaderSlot> {
        match name.id() {
            HeaderId::Other => {
                let raw = name.as_bytes();
                self.slots()
                    .iter()
                    .find(|s| s.id == HeaderId::Other && self.name_of(s).eq_ignore_ascii_case(raw))
            }
            id => self.first_slot(id),
        }
    }

    /// Every header line named `name`, in order: [`Message::headers`] filtered by name,
    /// without building the lines of the others (the walk starts at the first line of a
    /// known name).
    pub fn header_lines<'m>(
        &'m self,
        name: HeaderName<'m>,
    ) -> impl Iterator<Item = Header<'a>> + 'm {
        let id = name.id();
        let first = match id {
            HeaderId::Other => 0,
            id => self.first[id as usize] as usize,
        };
        let raw = name.as_bytes();
        (first.min(self.count as usize)..self.count as usize)
            .filter(move |&i| {
                let s = &self.slots[i];
                s.id == id && (id != HeaderId::Other || self.name_of(s).eq_ignore_ascii_case(raw))
            })
            .map(move |i| self.header_at(i))
    }

    /// The lines a response to this request copies (RFC 3261 §8.2.6.2): every Via, From,
    /// To, Call-ID and CSeq line, in message order; the other lines are not built.
    pub(crate) fn reply_header_lines(&self) -> impl Iterator<Item = Header<'a>> + '_ {
        (0..self.count as usize)
            .filter(move |&i| {
                matches!(
                    self.slots[i].id,
                    HeaderId::Via
                        | HeaderId::From
                        | HeaderId::To
                        | HeaderId::CallId
                        | HeaderId::CSeq
                )
            })
            .map(move |i| self.header_at(i))
    }

    /// Number of lines of header `name`.
    pub fn header_line_count(&self, name: HeaderName<'_>) -> usize {
        self.headers_named(name).count()
    }

    /// The values of every line named `name`, in order (one item per line; a line holding
    /// several comma-separated values is one item: see [`Message::header_values`]).
    pub fn headers_named<'m>(
        &'m self,
        name: HeaderName<'m>,
    ) -> impl Iterator<Item = &'a [u8]> + 'm {
        let id = name.id();
        let first = match id {
            HeaderId::Other => 0,
            id => self.first[id as usize] as usize,
        };
        let raw = name.as_bytes();
        self.slots()
            .get(first..)
            .unwrap_or(&[])
            .iter()
            .filter(move |s| {
                s.id == id && (id != HeaderId::Other || self.name_of(s).eq_ignore_ascii_case(raw))
            })
            .map(move |s| self.value_of(s))
    }

    /// Every comma-separated value of every line named `name` (Require, Supported, Allow...),
    /// trimmed; empty elements are skipped.
    pub fn header_values<'m>(
        &'m self,
        name: HeaderName<'m>,
    ) -> impl Iterator<Item = &'a [u8]> + 'm {
        self.headers_named(name)
            .flat_map(CommaSplit::new)
            .filter(|v| !v.is_empty())
    }

    // ---- typed access -----------------------------------------------------------------

    /// The topmost Via value.
    pub fn top_via(&self) -> Result<Via<'a>, ParseError> {
        let s = self
            .first_slot(HeaderId::Via)
            .ok_or_else(|| self.missing("Via"))?;
        let v = self.value_of(s);
        let first = match scan::next_comma(v) {
            Some(i) => scan::trim(&v[..i]),
            None => v,
        };
        Via::parse(first).map_err(|_| self.err(K::BadHeaderValue, "Via", first))
    }

    /// The `branch` parameter of the topmost Via, without parsing the rest of it: the hot
    /// path of a proxy matching transactions needs only this. The parameter list of the
    /// top via-parm is checked as [`Message::top_via`] checks it (generic-param grammar, a
    /// `branch` without a value is an error); the sent-protocol and sent-by are not. Use it
    /// after [`validate_request`](super::validate_request) /
    /// [`validate_response`](super::validate_response), which parse every Via in full.
    #[inline]
    pub fn top_via_branch(&self) -> Result<Option<&'a [u8]>, ParseError> {
        let s = self
            .first_slot(HeaderId::Via)
            .ok_or_else(|| self.missing("Via"))?;
        let v = self.value_of(s);
        // sent-protocol and sent-by hold no ';' or ',' (an IPv6 reference neither), so the
        // first of these starts the parameters or ends the via-parm.
        let params = match scan::find3(v, 0, b';', b',', b',') {
            Some(i) if v[i] == b';' => &v[i..],
            _ => return Ok(None),
        };
        match scan::check_params_find_until_comma(params, b"branch") {
            Ok(Some(Some(b))) => Ok(Some(b)),
            Ok(None) => Ok(None),
            Ok(Some(None)) | Err(()) => Err(self.err(K::BadHeaderValue, "Via", params)),
        }
    }

    /// Every Via value, top first, across lines and commas.
    pub fn vias(&self) -> impl Iterator<Item = Result<Via<'a>, ParseError>> + '_ {
        self.headers_named(HeaderName::Via)
            .flat_map(CommaSplit::new)
            .map(move |v| Via::parse(v).map_err(|_| self.err(K::BadHeaderValue, "Via", v)))
    }

    /// Every Via value after the topmost one, as [`Message::vias`] yields them (for a
    /// caller that has the top one parsed already).
    pub(crate) fn vias_after_top(&self) -> impl Iterator<Item = Result<Via<'a>, ParseError>> + '_ {
        self.headers_named(HeaderName::Via)
            .flat_map(CommaSplit::new)
            .skip(1)
            .map(move |v| Via::parse(v).map_err(|_| self.err(K::BadHeaderValue, "Via", v)))
    }

    fn name_addr(&self, id: HeaderId, name: &'static str) -> Result<NameAddr<'a>, ParseError> {
        let s = self.first_slot(id).ok_or_else(|| self.missing(name))?;
        let v = self.value_of(s);
        NameAddr::parse(v).map_err(|e| self.err(na_kind(e), name, v))
    }

    /// The From header.
    pub fn from(&self) -> Result<NameAddr<'a>, ParseError> {
        self.name_addr(HeaderId::From, "From")
    }

    /// The To header.
    pub fn to(&self) -> Result<NameAddr<'a>, ParseError> {
        self.name_addr(HeaderId::To, "To")
    }

    fn tag_of(&self, id: HeaderId, name: &'static str) -> Result<Option<&'a [u8]>, ParseError> {
        let s = self.first_slot(id).ok_or_else(|| self.missing(name))?;
        let v = self.value_of(s);
        NameAddrParts::split(v)
            .and_then(|p| p.tag())
            .map_err(|e| self.err(na_kind(e), name, v))
    }

    /// The `tag` parameter of To, without parsing its URI: the name-addr framing (quotes,
    /// `<>`, addr-spec) and the header-parameter grammar are checked as [`Message::to`]
    /// checks them, the URI is not. Equal to `to()?.tag` whenever `to()` succeeds; a To
    /// with a malformed URI is refused by `to()` and
    /// [`validate_request`](super::validate_request), not here.
    #[inline]
    pub fn to_tag(&self) -> Result<Option<&'a [u8]>, ParseError> {
        self.tag_of(HeaderId::To, "To")
    }

    /// The `tag` parameter of From, without parsing its URI (see [`Message::to_tag`]).
    #[inline]
    pub fn from_tag(&self) -> Result<Option<&'a [u8]>, ParseError> {
        self.tag_of(HeaderId::From, "From")
    }

    /// The Call-ID (`word [ "@" word ]`).
    pub fn call_id(&self) -> Result<&'a [u8], ParseError> {
        let s = self
            .first_slot(HeaderId::CallId)
            .ok_or_else(|| self.missing("Call-ID"))?;
        let v = self.value_of(s);
        let ok = scan::is_call_id(v);
        if ok {
            Ok(v)
        } else {
            Err(self.err(K::BadHeaderValue, "Call-ID", v))
        }
    }

    /// The CSeq header.
    pub fn cseq(&self) -> Result<CSeq<'a>, ParseError> {
        let s = self
            .first_slot(HeaderId::CSeq)
            .ok_or_else(|| self.missing("CSeq"))?;
        let v = self.value_of(s);
        CSeq::parse(v).ok_or_else(|| {
            let too_large = v.first().is_some_and(u8::is_ascii_digit);
            self.err(
                if too_large {
                    K::ValueTooLarge
                } else {
                    K::BadHeaderValue
                },
                "CSeq",
                v,
            )
        })
    }

    /// Max-Forwards, `None` when absent.
    pub fn max_forwards(&self) -> Result<Option<u8>, ParseError> {
        match self.first_slot(HeaderId::MaxForwards) {
            None => Ok(None),
            Some(s) => {
                let v = self.value_of(s);
                fields::parse_max_forwards(v)
                    .map(Some)
                    .ok_or_else(|| self.err(K::BadHeaderValue, "Max-Forwards", v))
            }
        }
    }

    /// Expires, `None` when absent.
    pub fn expires(&self) -> Result<Option<u32>, ParseError> {
        match self.first_slot(HeaderId::Expires) {
            None => Ok(None),
            Some(s) => {
                let v = self.value_of(s);
                fields::parse_delta_seconds(v)
                    .map(Some)
                    .ok_or_else(|| self.err(K::BadHeaderValue, "Expires", v))
            }
        }
    }

    /// Content-Length, `None` when absent (the parser already framed the body with it).
    pub fn content_length(&self) -> Result<Option<u32>, ParseError> {
        match self.first_slot(HeaderId::ContentLength) {
            None => Ok(None),
            Some(s) => {
                let v = self.value_of(s);
                scan::parse_u32(v, u32::MAX)
                    .map(Some)
                    .ok_or_else(|| self.err(K::BadContentLength, "Content-Length", v))
            }
        }
    }

    /// Content-Type as received, `None` when absent.
    pub fn content_type(&self) -> Option<&'a [u8]> {
        self.first_slot(HeaderId::ContentType)
            .map(|s| self.value_of(s))
    }

    /// Every Contact value in order (`*` included as [`Contact::Star`]); `expires` and `q`
    /// parameters are checked.
    pub fn contacts(&self) -> impl Iterator<Item = Result<Contact<'a>, ParseError>> + '_ {
        self.headers_named(HeaderName::Contact)
            .flat_map(CommaSplit::new)
            .map(move |v| {
                if v == b"*" {
                    return Ok(Contact::Star);
                }
                let n = NameAddr::parse(v).map_err(|e| self.err(na_kind(e), "Contact", v))?;
                n.expires()
                    .map_err(|_| self.err(K::ValueTooLarge, "Contact", v))?;
                n.q()
                    .map_err(|_| self.err(K::BadHeaderValue, "Contact", v))?;
                Ok(Contact::Addr(n))
            })
    }

    fn name_addrs(
        &self,
        name: HeaderName<'static>,
        label: &'static str,
    ) -> impl Iterator<Item = Result<NameAddr<'a>, ParseError>> + '_ {
        self.headers_named(name)
            .flat_map(CommaSplit::new)
            .map(move |v| NameAddr::parse(v).map_err(|e| self.err(na_kind(e), label, v)))
    }

    /// Every Route value, top first.
    pub fn routes(&self) -> impl Iterator<Item = Result<NameAddr<'a>, ParseError>> + '_ {
        self.name_addrs(HeaderName::Route, "Route")
    }

    /// The topmost Route value, `None` when there is no Route.
    pub fn top_route(&self) -> Option<Result<NameAddr<'a>, ParseError>> {
        // The first comma-separated element of the first Route line, as `routes()` yields
        // it, without building the iterator chain.
        let v = self.value_of(self.first_slot(HeaderId::Route)?);
        let first = match scan::next_comma(v) {
            Some(i) => scan::trim(&v[..i]),
            None => v,
        };
        Some(NameAddr::parse(first).map_err(|e| self.err(na_kind(e), "Route", first)))
    }

    /// The URI of the topmost Route, `None` when there is no Route: the same checks and
    /// the same result as `top_route().map(|r| r.map(|n| n.uri))`, without building (and
    /// copying out) the whole [`NameAddr`].
    #[inline]
    pub fn top_route_uri(&self) -> Option<Result<Uri<'a>, ParseError>> {
        let v = self.value_of(self.first_slot(HeaderId::Route)?);
        let first = match scan::next_comma(v) {
            Some(i) => scan::trim(&v[..i]),
            None => v,
        };
        let parsed = NameAddrParts::split(first).and_then(|p| {
            let uri = p.parse_uri()?;
            p.tag()?;
            Ok(uri)
        });
        Some(parsed.map_err(|e| self.err(na_kind(e), "Route", first)))
    }

    /// Every Record-Route value, top first.
    pub fn record_routes(&self) -> impl Iterator<Item = Result<NameAddr<'a>, ParseError>> + '_ {
        self.name_addrs(HeaderName::RecordRoute, "Record-Route")
    }

    /// Option tags of Require.
    pub fn require(&self) -> impl Iterator<Item = &'a [u8]> + '_ {
        self.header_values(HeaderName::Require)
    }

    /// Option tags of Proxy-Require.
    pub fn proxy_require(&self) -> impl Iterator<Item = &'a [u8]> + '_ {
        self.header_values(HeaderName::ProxyRequire)
    }

    /// Option tags of Supported.
    pub fn supported(&self) -> impl Iterator<Item = &'a [u8]> + '_ {
        self.header_values(HeaderName::Supported)
    }

    fn credentials(
        &self,
        id: HeaderId,
        label: &'static str,
    ) -> Option<Result<Credentials<'a>, ParseError>> {
        let s = self.first_slot(id)?;
        let v = self.value_of(s);
        Some(Credentials::parse(v).map_err(|_| self.err(K::BadHeaderValue, label, v)))
    }

    /// The first Authorization header, parsed.
    pub fn authorization(&self) -> Option<Result<Credentials<'a>, ParseError>> {
        self.credentials(HeaderId::Authorization, "Authorization")
    }

    /// The first Proxy-Authorization header, parsed.
    pub fn proxy_authorization(&self) -> Option<Result<Credentials<'a>, ParseError>> {
        self.credentials(HeaderId::ProxyAuthorization, "Proxy-Authorization")
    }

    /// Every Authorization (or Proxy-Authorization, with `proxy`) header, parsed: a UA may
    /// send one per realm (RFC 3261 §22.3).
    pub fn all_credentials(
        &self,
        proxy: bool,
    ) -> impl Iterator<Item = Result<Credentials<'a>, ParseError>> + '_ {
        let (name, label) = if proxy {
            (HeaderName::ProxyAuthorization, "Proxy-Authorization")
        } else {
            (HeaderName::Authorization, "Authorization")
        };
        self.headers_named(name)
            .map(move |v| Credentials::parse(v).map_err(|_| self.err(K::BadHeaderValue, label, v)))
    }

    // ---- raw spans for the writer -------------------------------------------------------

    /// Byte range of the Request-URI in the datagram.
    pub fn request_uri_span(&self) -> Option<std::ops::Range<usize>> {
        match self.start_line {
            StartLine::Request { uri: (a, b), .. } => Some(a as usize..b as usize),
            StartLine::Response { .. } => None,
        }
    }

    /// Byte range of the header block (first header line to the blank line, exclusive).
    pub fn headers_span(&self) -> std::ops::Range<usize> {
        self.headers_start as usize..self.headers_end as usize
    }

    /// Byte range of the body.
    pub fn body_span(&self) -> std::ops::Range<usize> {
        self.body_start as usize..self.len as usize
    }

    /// The whole datagram the message was parsed from.
    pub fn datagram(&self) -> &'a [u8] {
        self.buf
    }
}

fn na_kind(e: BadNameAddr) -> K {
    match e {
        BadNameAddr::Syntax => K::BadHeaderValue,
        BadNameAddr::Uri => K::BadUri,
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse;
    use super::*;

    fn msg_with(lines: &str) -> Vec<u8> {
        format!(
            "OPTIONS sip:a@example.com SIP/2.0\r\n{lines}Call-ID: c1\r\nCSeq: 1 OPTIONS\r\n\
             From: <sip:a@example.com>;tag=f1\r\nContent-Length: 0\r\n\r\n"
        )
        .into_bytes()
    }

    #[test]
    fn top_via_branch_reads_the_first_via_parm_only() {
        for (via, want) in [
            (
                "Via: SIP/2.0/UDP h;branch=z9hG4bKa\r\n",
                Some(&b"z9hG4bKa"[..]),
            ),
            (
                "Via: SIP/2.0/UDP h ; rport ; BRANCH = z9hG4bKb\r\n",
                Some(b"z9hG4bKb"),
            ),
            (
                "Via: SIP/2.0/UDP h;x=\"a;branch=no,\";branch=z9hG4bKc\r\n",
                Some(b"z9hG4bKc"),
            ),
            (
                "Via: SIP/2.0/UDP [2001:db8::1]:5060;branch=z9hG4bKd\r\n",
                Some(b"z9hG4bKd"),
            ),
            (
                "Via: SIP/2.0/UDP h, SIP/2.0/UDP g;branch=z9hG4bKe\r\n",
                None,
            ),
            (
                "Via: SIP/2.0/UDP h;rport, SIP/2.0/UDP g;branch=z9hG4bKe\r\n",
                None,
            ),
            (
                "Via: SIP/2.0/UDP h:5060\r\nVia: SIP/2.0/UDP g;branch=z9hG4bKf\r\n",
                None,
            ),
        ] {
            let b = msg_with(via);
            let m = parse(&b).unwrap();
            assert_eq!(m.top_via_branch(), Ok(want), "{via}");
            assert_eq!(m.top_via().unwrap().branch, want, "{via}");
        }
        for bad in [
            "Via: SIP/2.0/UDP h;branch\r\n",
            "Via: SIP/2.0/UDP h;;branch=z9hG4bKa\r\n",
            "Via: SIP/2.0/UDP h;branch=\"open\r\n",
        ] {
            let b = msg_with(bad);
            let m = parse(&b).unwrap();
            assert!(m.top_via_branch().is_err(), "{bad}");
            assert!(m.top_via().is_err(), "{bad}");
        }
        let b = msg_with("");
        assert_eq!(
            parse(&b).unwrap().top_via_branch().unwrap_err().kind,
            K::MissingHeader
        );
    }

    #[test]
    fn to_tag_checks_framing_and_params_but_not_the_uri() {
        for (to, want) in [
            (
                "To: \"Bob; a, <x>\" <sip:b@example.com>;tag=t1\r\n",
                Some(&b"t1"[..]),
            ),
            ("To: Bob Smith <sip:b@example.com;tag=no>\r\n", None),
            ("To: sip:b@example.com ; TAG = t2 ;x=\"y\"\r\n", Some(b"t2")),
            ("t: <sip:b@example.com>\r\n", None),
        ] {
            let b = msg_with(&format!("Via: SIP/2.0/UDP h;branch=z9hG4bKa\r\n{to}"));
            let m = parse(&b).unwrap();
            assert_eq!(m.to_tag(), Ok(want), "{to}");
            assert_eq!(m.to().unwrap().tag, want, "{to}");
        }
        // A malformed URI: to() refuses it, to_tag() does not look.
        let b = msg_with("Via: SIP/2.0/UDP h;branch=z9hG4bKa\r\nTo: <sip:b@>;tag=t3\r\n");
        let m = parse(&b).unwrap();
        assert_eq!(m.to_tag(), Ok(Some(&b"t3"[..])));
        assert_eq!(m.to().unwrap_err().kind, K::BadUri);
        assert!(crate::sip::validate_request(&m).is_err());
        for bad in [
            "To: \"Bob <sip:b@example.com>;tag=x\r\n",
            "To: <sip:b@example.com;tag=x\r\n",
            "To: Bob, Al <sip:b@example.com>;tag=x\r\n",
            "To: <sip:b@example.com>;tag\r\n",
            "To: <sip:b@example.com>;;tag=x\r\n",
            "To: sip:b@example.com?x=y;tag=x\r\n",
        ] {
            let b = msg_with(&format!("Via: SIP/2.0/UDP h;branch=z9hG4bKa\r\n{bad}"));
            let m = parse(&b).unwrap();
            assert!(m.to_tag().is_err(), "{bad}");
            assert!(m.to().is_err(), "{bad}");
        }
        assert_eq!(
            parse(&msg_with("")).unwrap().from_tag(),
            Ok(Some(&b"f1"[..]))
        );
    }

    #[test]
    fn reply_header_lines_and_header_lines_filter_the_index() {
        let b = msg_with(
            "v: SIP/2.0/UDP h;branch=z9hG4bKa\r\nRoute: <sip:p1>\r\nTo: <sip:b@c>\r\n\
             Via: SIP/2.0/UDP g\r\nX-Route: 1\r\nROUTE: <sip:p2>\r\n",
        );
        let m = parse(&b).unwrap();
        let want: Vec<_> = m
            .headers()
            .filter(|h| {
                matches!(
                    h.name,
                    HeaderName::Via
                        | HeaderName::From
                        | HeaderName::To
                        | HeaderName::CallId
                        | HeaderName::CSeq
                )
            })
            .collect();
        assert_eq!(want.len(), 6);
        assert_eq!(m.reply_header_lines().collect::<Vec<_>>(), want);
        for name in [
            HeaderName::Route,
            HeaderName::Via,
            HeaderName::Other(b"X-Route"),
        ] {
            let want: Vec<_> = m.headers().filter(|h| h.name == name).collect();
            assert!(!want.is_empty());
            assert_eq!(m.header_lines(name).collect::<Vec<_>>(), want, "{name:?}");
        }
        assert_eq!(m.header_lines(HeaderName::Expires).count(), 0);
    }

    #[test]
    fn top_route_uri_is_the_top_route_uri() {
        for route in [
            "Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>\r\n",
            "Route: \"x,y\" <sip:p1.example.com:5070;lr>;foo=bar\r\nRoute: <sip:p2>\r\n",
            "Route: <sip:p1.example.com;lr>;;\r\n",
            "Route: <sip:@p1>\r\n",
            "Route: < sip:p1 >\r\n",
            "",
        ] {
            let b = msg_with(&format!("Via: SIP/2.0/UDP h;branch=z9hG4bKa\r\n{route}"));
            let m = parse(&b).unwrap();
            assert_eq!(
                m.top_route_uri(),
                m.top_route().map(|r| r.map(|n| n.uri)),
                "{route}"
            );
        }
        let b = msg_with("Route: <sip:p1.example.com:5070;lr>\r\n");
        let u = parse(&b).unwrap().top_route_uri().unwrap().unwrap();
        assert_eq!(
            (u.host_raw, u.port, u.lr()),
            (&b"p1.example.com"[..], Some(5070), true)
        );
    }
}
