//! The SIP message layer: a zero-copy parser, typed header access, validation and a writer.
//!
//! ```
//! use ringlet::sip::{self, Edits, HeaderName, NewVia, Reply};
//!
//! let datagram = b"INVITE sip:bob@example.com SIP/2.0\r\n\
//!     Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776asdhds;rport\r\n\
//!     Max-Forwards: 70\r\n\
//!     To: Bob <sip:bob@example.com>\r\n\
//!     From: Alice <sip:alice@example.com>;tag=1928301774\r\n\
//!     Call-ID: a84b4c76e66710@pc33.example.com\r\n\
//!     CSeq: 314159 INVITE\r\n\
//!     Content-Length: 0\r\n\r\n";
//! let msg = sip::parse(datagram)?;
//! sip::validate_request(&msg).map_err(|r| r.reason)?;
//! assert_eq!(msg.top_via()?.branch, Some(&b"z9hG4bK776asdhds"[..]));
//! assert_eq!(msg.cseq()?.seq, 314159);
//! assert_eq!(msg.from()?.tag, Some(&b"1928301774"[..]));
//! assert_eq!(msg.header(HeaderName::CallId), Some(&b"a84b4c76e66710@pc33.example.com"[..]));
//!
//! // Forward: new Via on top, received/rport on the old one, Max-Forwards - 1.
//! let mut out = Vec::with_capacity(2048);
//! let mut e = Edits::new();
//! e.set_received(&msg, "203.0.113.9".parse()?, 40000)
//!     .push_via(&msg, NewVia { transport: b"UDP", host: b"198.51.100.1", port: Some(5060),
//!                              branch: b"z9hG4bK-ringlet-1", rport: false })
//!     .decrement_max_forwards(&msg);
//! e.write(&msg, &mut out)?;
//! let fwd = sip::parse(&out)?;
//! assert_eq!(fwd.vias().count(), 2);
//! assert_eq!(fwd.max_forwards()?, Some(69));
//!
//! // Answer it directly.
//! out.clear();
//! sip::write_response(&msg, &Reply::new(486, "Busy Here").with_to_tag(b"x1"), &mut out)?;
//! assert_eq!(sip::parse(&out)?.to()?.tag, Some(&b"x1"[..]));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Invariants: a [`Message`] borrows the datagram and never copies it; parsing fills a
//! fixed array of [`MAX_HEADERS`] (64) header slots and allocates nothing; more header
//! lines, or a header block past [`MAX_HEAD`] (64 KiB), are refused (status 513), never
//! spilled. The parser frames (start line, header index, Content-Length); typed accessors
//! parse on each call and return [`ParseError`] naming the header and byte offset, and
//! [`validate_request`] runs the RFC 3261 §16.3 checks before routing. The fields a proxy
//! reads on every message also have cheaper accessors that skip what `validate_request`
//! already checked: [`Message::top_via_branch`] (no sent-by parse), [`Message::to_tag`] /
//! [`Message::from_tag`] (no URI parse) and [`Message::top_route_uri`] (no `NameAddr`
//! built); each returns what the full parse returns whenever that succeeds. A request that
//! [`parse`] refuses can still be answered: [`parse_for_reply`] + [`write_response`]. The
//! writer only appends to the caller's `Vec` and copies unchanged bytes verbatim.
//!
//! Files: `parse.rs` framing, `message.rs` the model and accessors, `header.rs` names,
//! `scan.rs` byte classes, `uri.rs` URIs and `uri_eq`, `via.rs`, `name_addr.rs`,
//! `fields.rs` (CSeq and scalars), `digest.rs`, `validate.rs`, `writer.rs`, `response.rs`;
//! test-only: `field_reference.rs` (the previous Via/URI/name-addr parsers) and
//! `field_equivalence.rs` (the current ones must return exactly what those return).

mod digest;
mod error;
#[cfg(test)]
mod field_equivalence;
#[cfg(test)]
mod field_reference;
mod fields;
mod header;
mod message;
mod method;
mod name_addr;
mod parse;
mod response;
mod scan;
mod uri;
mod validate;
mod via;
mod writer;

pub use digest::{BadCredentials, Credentials, DigestCredentials};
pub use error::{ParseError, ParseErrorKind};
pub use fields::{check_media_type, check_sip_date, CSeq, CSEQ_MAX};
pub use header::HeaderName;
pub use message::{Header, Message, MAX_HEADERS};
pub use method::Method;
pub use name_addr::{BadNameAddr, Contact, NameAddr};
pub use parse::{parse, parse_for_reply, MAX_HEAD};
pub use response::{write_response, Reply};
pub use scan::{unquote, Params};
pub use uri::{uri_eq, BadUri, Host, Scheme, Uri};
pub use validate::{
    check_proxy_require, check_request, validate_request, validate_response, CheckedRequest,
    Rejection, RequestHead,
};
pub use via::{BadVia, RPort, Transport, Via, BRANCH_MAGIC_COOKIE};
pub(crate) use writer::{push_decimal, push_ip};
pub use writer::{Edits, NewVia, WriteError, MAX_EDITS};
