//! Request and response sanity checks a proxy runs before routing (RFC 3261 §16.3, §8.2).
//!
//! The parser is lazy: a message can frame correctly and still carry a malformed From or
//! an out-of-range CSeq. [`validate_request`] reads every header a proxy relies on and
//! turns the first problem into a status and reason phrase: 400 for syntax and
//! consistency, 416 for a Request-URI scheme the proxy cannot route, 483 when
//! Max-Forwards is exhausted. [`check_proxy_require`] is step 5's 420.

use super::error::{ParseError, ParseErrorKind as K};
use super::fields;
use super::header::{HeaderId, HeaderName};
use super::message::Message;
use super::uri::Scheme;

/// Why a request is refused: the status to answer and a short reason phrase.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rejection<'a> {
    pub status: u16,
    pub reason: &'static str,
    /// The underlying parse error, when the problem is a malformed header.
    pub error: Option<ParseError>,
    /// For 420: the first option tag of Proxy-Require the proxy does not support (to list
    /// in an Unsupported header, RFC 3261 §16.3 step 5).
    pub unsupported: Option<&'a [u8]>,
}

impl<'a> Rejection<'a> {
    fn new(status: u16, reason: &'static str) -> Self {
        Rejection {
            status,
            reason,
            error: None,
            unsupported: None,
        }
    }

    fn parse(e: ParseError) -> Self {
        Rejection {
            status: e.status(),
            reason: e.reason(),
            error: Some(e),
            unsupported: None,
        }
    }
}

impl std::fmt::Display for Rejection<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status, self.reason)?;
        if let Some(e) = self.error {
            write!(f, " ({e})")?;
        }
        Ok(())
    }
}

/// Headers that may appear at most once (RFC 3261 §7.3.1, §20; RFC 4475 multi01, mcl01).
const SINGLE: [(HeaderId, &str); 6] = [
    (HeaderId::From, "Multiple From"),
    (HeaderId::To, "Multiple To"),
    (HeaderId::CallId, "Multiple Call-ID"),
    (HeaderId::CSeq, "Multiple CSeq"),
    (HeaderId::MaxForwards, "Multiple Max-Forwards"),
    (HeaderId::ContentLength, "Multiple Content-Length"),
];

fn check_common<'a>(msg: &Message<'a>) -> Result<(), Rejection<'a>> {
    for (id, reason) in SINGLE {
        if msg.slots().iter().filter(|s| s.id == id).count() > 1 {
            return Err(Rejection::new(400, reason));
        }
        // A single line holding two values ("CSeq: 1 INVITE, 2 INVITE") is caught by the
        // typed parse below.
    }
    let mut vias = 0;
    for v in msg.vias() {
        v.map_err(Rejection::parse)?;
        vias += 1;
    }
    if vias == 0 {
        return Err(Rejection::parse(ParseError::in_header(
            K::MissingHeader,
            "Via",
            msg.headers_end as usize,
        )));
    }
    msg.from().map_err(Rejection::parse)?;
    msg.to().map_err(Rejection::parse)?;
    msg.call_id().map_err(Rejection::parse)?;
    msg.cseq().map_err(Rejection::parse)?;
    msg.max_forwards().map_err(Rejection::parse)?;
    if let Some(cl) = msg.content_length().map_err(Rejection::parse)? {
        if cl as usize != msg.body().len() {
            return Err(Rejection::new(400, "Bad Content-Length"));
        }
    }
    if let Some(ct) = msg.content_type() {
        if !fields::check_media_type(ct) {
            return Err(Rejection::parse(err_at(msg, "Content-Type", ct)));
        }
    }
    if let Some(d) = msg.header(HeaderName::Date) {
        if !fields::check_sip_date(d) {
            return Err(Rejection::parse(err_at(msg, "Date", d)));
        }
    }
    Ok(())
}

fn err_at(msg: &Message<'_>, header: &'static str, v: &[u8]) -> ParseError {
    ParseError::in_header(
        K::BadHeaderValue,
        header,
        super::scan::offset_in(msg.datagram(), v),
    )
}

/// RFC 3261 §16.3 steps 1–3 and §8.2.2 for a request: mandatory headers (To, From,
/// Call-ID, CSeq, Via; Max-Forwards optional), single-valued headers not repeated, every
/// header the proxy reads well formed (Via, From, To, Call-ID, CSeq, Max-Forwards,
/// Content-Length, Content-Type, Contact, Expires, Route, Record-Route, Date), CSeq method
/// equal to the request method, Content-Length equal to the body, then 416 for a
/// Request-URI that is not sip/sips/tel and 483 for Max-Forwards 0.
pub fn validate_request<'a>(msg: &Message<'a>) -> Result<(), Rejection<'a>> {
    let Some(method) = msg.method() else {
        return Err(Rejection::new(400, "Not A Request"));
    };
    check_common(msg)?;
    let cseq = msg.cseq().map_err(Rejection::parse)?;
    if cseq.method != method {
        return Err(Rejection::new(400, "CSeq Method Mismatch"));
    }
    msg.expires().map_err(Rejection::parse)?;
    for c in msg.contacts() {
        c.map_err(Rejection::parse)?;
    }
    for r in msg.routes() {
        r.map_err(Rejection::parse)?;
    }
    for r in msg.record_routes() {
        r.map_err(Rejection::parse)?;
    }
    match msg.request_uri_parsed() {
        Some(Ok(u)) => {
            if !matches!(u.scheme, Scheme::Sip | Scheme::Sips | Scheme::Tel) {
                // RFC 3261 §16.3 step 2, §8.2.2.1.
                return Err(Rejection::new(416, "Unsupported URI Scheme"));
            }
        }
        Some(Err(e)) => return Err(Rejection::parse(e)),
        None => return Err(Rejection::new(400, "Not A Request")),
    }
    if msg.max_forwards().map_err(Rejection::parse)? == Some(0) {
        // RFC 3261 §16.3 step 3.
        return Err(Rejection::new(483, "Too Many Hops"));
    }
    Ok(())
}

/// RFC 3261 §16.3 step 5: every Proxy-Require option tag must be in `supported`
/// (compared case-insensitively); otherwise 420 Bad Extension naming the first unknown tag.
pub fn check_proxy_require<'a>(
    msg: &Message<'a>,
    supported: &[&[u8]],
) -> Result<(), Rejection<'a>> {
    for tag in msg.proxy_require() {
        if !supported.iter().any(|s| s.eq_ignore_ascii_case(tag)) {
            return Err(Rejection {
                unsupported: Some(tag),
                ..Rejection::new(420, "Bad Extension")
            });
        }
    }
    Ok(())
}

/// Checks a response before a proxy forwards it (RFC 3261 §16.7): the headers it reads
/// (Via, From, To, Call-ID, CSeq, Content-Length) are well formed and not repeated.
/// A response that fails is dropped (there is nobody to answer).
pub fn validate_response<'a>(msg: &Message<'a>) -> Result<(), Rejection<'a>> {
    if msg.is_request() {
        return Err(Rejection::new(400, "Not A Response"));
    }
    check_common(msg)
}
