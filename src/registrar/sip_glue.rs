//! The REGISTER as the SIP parser gives it: reduction of a [`Message`] to a
//! [`ParsedRegister`], the entry point the proxy calls, and the response written with the
//! sip writer.

use std::time::Instant;

use super::register::{
    ParsedRegister, RegisterDisposition, RegisterOutcome, RegisterSource, Registrar,
    RequestedContact, ResponseHeader, SubscriberDirectory,
};
use crate::sip::{self, Contact, HeaderName, Message, Method, Reply, Uri};

/// Header fields a response carries on the stack before the writer needs a heap list.
const STACK_FIELDS: usize = 24;

impl<'a> ParsedRegister<'a> {
    /// Reduces a parsed REGISTER to what processing needs. `Err` is the status and reason
    /// to answer with (400 and the parser's phrase naming the bad header, mostly).
    pub fn from_message(msg: &Message<'a>) -> Result<ParsedRegister<'a>, (u16, &'static str)> {
        Self::from_message_with(msg, |_| {})
    }

    /// [`ParsedRegister::from_message`], showing each Contact URI, parsed, to `each_contact`
    /// on the way (the proxy's NAT test), so that no one parses a Contact twice.
    pub fn from_message_with(
        msg: &Message<'a>,
        mut each_contact: impl FnMut(&Uri<'a>),
    ) -> Result<ParsedRegister<'a>, (u16, &'static str)> {
        let bad = |e: sip::ParseError| (e.status(), e.reason());
        let ruri = match msg.request_uri_parsed() {
            Some(Ok(u)) => u,
            Some(Err(e)) => return Err(bad(e)),
            None => return Err((400, "Not a Request")),
        };
        let to = msg.to().map_err(bad)?;
        let call_id = msg.call_id().map_err(bad)?;
        let cseq = msg.cseq().map_err(bad)?;
        if cseq.method != Method::Register {
            // RFC 3261 §8.1.1.5: the CSeq method matches the request method.
            return Err((400, "CSeq Method Does Not Match"));
        }
        let mut r = ParsedRegister::new(
            ruri.host_raw,
            to.uri.user.unwrap_or(b""),
            to.uri.host_raw,
            call_id,
            cseq.seq,
        );
        r.expires = msg.expires().map_err(bad)?;
        for c in msg.contacts() {
            match c.map_err(bad)? {
                Contact::Star => r.wildcard = true,
                Contact::Addr(n) => {
                    each_contact(&n.uri);
                    r.push_contact(RequestedContact {
                        uri: n.uri.raw,
                        // `contacts()` already refused malformed `expires` and `q`.
                        expires: n.expires().ok().flatten(),
                        q: n.q().ok().flatten(),
                    })
                }
            }
        }
        for p in msg.header_values(HeaderName::Path) {
            r.push_path(p);
        }
        r.supported_path = msg.supported().any(|t| t.eq_ignore_ascii_case(b"path"));
        r.unsupported = msg.require().find(|t| !t.eq_ignore_ascii_case(b"path"));
        r.user_agent = msg.header(HeaderName::UserAgent).unwrap_or(b"");
        Ok(r)
    }
}

impl Registrar {
    /// The proxy's entry point for a REGISTER that passed sanity checks and
    /// authentication: RFC 3261 §10.3 steps 1, 2 and 5 to 8. On
    /// [`RegisterDisposition::Answered`], send [`RegisterOutcome::write_response`];
    /// on `NotLocal`, route the request like any other.
    pub fn process_register(
        &self,
        msg: &Message<'_>,
        dir: &impl SubscriberDirectory,
        from: &RegisterSource,
        now: Instant,
        out: &mut RegisterOutcome,
    ) -> RegisterDisposition {
        match ParsedRegister::from_message(msg) {
            Ok(req) => self.process(&req, dir, from, now, out),
            Err((status, reason)) => out.refuse(status, reason),
        }
    }
}

fn header_name(h: ResponseHeader) -> HeaderName<'static> {
    match h {
        ResponseHeader::Contact => HeaderName::Contact,
        ResponseHeader::MinExpires => HeaderName::MinExpires,
        ResponseHeader::Unsupported => HeaderName::Unsupported,
        ResponseHeader::Path => HeaderName::Path,
        ResponseHeader::Date => HeaderName::Date,
    }
}

impl RegisterOutcome {
    /// Writes the response to `req` at the end of `out` with the sip writer: Via, From,
    /// To (+ `to_tag` if it has none), Call-ID, CSeq copied, then this outcome's header
    /// fields. Returns the bytes written.
    pub fn write_response(
        &self,
        req: &Message<'_>,
        to_tag: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<usize, sip::WriteError> {
        let reply = Reply::new(self.status, self.reason).with_to_tag(to_tag);
        let n = self.header_fields().len();
        if n <= STACK_FIELDS {
            let mut fields: [(HeaderName<'_>, &[u8]); STACK_FIELDS] =
                [(HeaderName::Contact, &[]); STACK_FIELDS];
            for (slot, (h, v)) in fields.iter_mut().zip(self.header_fields()) {
                *slot = (header_name(h), v);
            }
            sip::write_response(req, &reply.with_headers(&fields[..n]), out)
        } else {
            // Only with max_contacts above STACK_FIELDS: one allocation for the list.
            let fields: Vec<_> = self
                .header_fields()
                .map(|(h, v)| (header_name(h), v))
                .collect();
            sip::write_response(req, &reply.with_headers(&fields), out)
        }
    }
}
