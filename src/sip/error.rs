//! Parse errors: what is wrong, in which header, at which byte offset.
//!
//! A [`ParseError`] is small and `Copy`. [`ParseError::reason`] is a short phrase fit for the
//! reason phrase of a 400 response; `Display` adds the header and the offset for logs.

use std::fmt;

/// What is wrong with a message or one of its header values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// The datagram is empty or ends before the blank line that closes the header block.
    Incomplete,
    /// The first line is neither a Request-Line nor a Status-Line.
    BadStartLine,
    /// The method is not a token.
    BadMethod,
    /// The Request-URI is malformed (LWS, `<>`, no scheme, headers in a SIP Request-URI...).
    BadRequestUri,
    /// The SIP-Version is not `SIP/2.0`.
    BadVersion,
    /// The status code is not three digits in 100..=699.
    BadStatusCode,
    /// The reason phrase holds control characters.
    BadReasonPhrase,
    /// A header line has no name or no colon.
    BadHeaderLine,
    /// More header fields than [`crate::sip::MAX_HEADERS`].
    TooManyHeaders,
    /// Content-Length is not a non-negative decimal.
    BadContentLength,
    /// Content-Length announces more bytes than the datagram holds.
    BodyTruncated,
    /// A mandatory header field is absent.
    MissingHeader,
    /// A typed header value does not follow its grammar.
    BadHeaderValue,
    /// A URI inside a header value is malformed.
    BadUri,
    /// A number is larger than its grammar allows (CSeq, Max-Forwards, Expires...).
    ValueTooLarge,
    /// The message is too large for this parser (offsets are 32-bit).
    MessageTooLarge,
}

impl ParseErrorKind {
    /// A short phrase for a reason phrase ("Bad Via", "Malformed Request-URI", ...).
    pub fn reason(self) -> &'static str {
        match self {
            ParseErrorKind::Incomplete => "Incomplete Message",
            ParseErrorKind::BadStartLine => "Malformed Start Line",
            ParseErrorKind::BadMethod => "Malformed Method",
            ParseErrorKind::BadRequestUri => "Malformed Request-URI",
            ParseErrorKind::BadVersion => "Unsupported SIP Version",
            ParseErrorKind::BadStatusCode => "Malformed Status Code",
            ParseErrorKind::BadReasonPhrase => "Malformed Reason Phrase",
            ParseErrorKind::BadHeaderLine => "Malformed Header Line",
            ParseErrorKind::TooManyHeaders => "Too Many Header Fields",
            ParseErrorKind::BadContentLength => "Malformed Content-Length",
            ParseErrorKind::BodyTruncated => "Content-Length Exceeds Message",
            ParseErrorKind::MissingHeader => "Missing Header Field",
            ParseErrorKind::BadHeaderValue => "Malformed Header Field",
            ParseErrorKind::BadUri => "Malformed URI",
            ParseErrorKind::ValueTooLarge => "Value Too Large",
            ParseErrorKind::MessageTooLarge => "Message Too Large",
        }
    }
}

/// A parse failure: its kind, the header concerned (canonical name, or `None` for the start
/// line, framing and unknown headers) and the byte offset in the datagram where the problem
/// was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ParseError {
    pub kind: ParseErrorKind,
    pub header: Option<&'static str>,
    pub offset: u32,
}

impl ParseError {
    pub(crate) fn new(kind: ParseErrorKind, offset: usize) -> Self {
        ParseError {
            kind,
            header: None,
            offset: offset.min(u32::MAX as usize) as u32,
        }
    }

    pub(crate) fn in_header(kind: ParseErrorKind, header: &'static str, offset: usize) -> Self {
        ParseError {
            kind,
            header: Some(header),
            offset: offset.min(u32::MAX as usize) as u32,
        }
    }

    /// A short reason phrase for a 400 response, naming the header where one is concerned:
    /// "Bad Via", "Bad CSeq", "Missing Call-ID", or the kind's phrase.
    pub fn reason(&self) -> &'static str {
        if let Some(h) = self.header {
            let missing = self.kind == ParseErrorKind::MissingHeader;
            if let Some(p) = header_phrase(h, missing) {
                return p;
            }
        }
        self.kind.reason()
    }

    /// The SIP status a server should answer with (400 for everything but an oversized message).
    pub fn status(&self) -> u16 {
        match self.kind {
            ParseErrorKind::MessageTooLarge | ParseErrorKind::TooManyHeaders => 513,
            ParseErrorKind::BadVersion => 505,
            _ => 400,
        }
    }
}

fn header_phrase(h: &str, missing: bool) -> Option<&'static str> {
    Some(match (h, missing) {
        ("Via", false) => "Bad Via",
        ("Via", true) => "Missing Via",
        ("From", false) => "Bad From",
        ("From", true) => "Missing From",
        ("To", false) => "Bad To",
        ("To", true) => "Missing To",
        ("Call-ID", false) => "Bad Call-ID",
        ("Call-ID", true) => "Missing Call-ID",
        ("CSeq", false) => "Bad CSeq",
        ("CSeq", true) => "Missing CSeq",
        ("Max-Forwards", _) => "Bad Max-Forwards",
        ("Contact", _) => "Bad Contact",
        ("Expires", _) => "Bad Expires",
        ("Route", _) => "Bad Route",
        ("Record-Route", _) => "Bad Record-Route",
        ("Content-Length", _) => "Bad Content-Length",
        ("Content-Type", _) => "Bad Content-Type",
        ("Authorization", _) => "Bad Authorization",
        ("Proxy-Authorization", _) => "Bad Proxy-Authorization",
        ("Date", _) => "Bad Date",
        ("Require", _) | ("Proxy-Require", _) | ("Supported", _) => "Bad Option Tag",
        _ => return None,
    })
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind.reason())?;
        if let Some(h) = self.header {
            write!(f, " in {h}")?;
        }
        write!(f, " at byte {}", self.offset)
    }
}

impl std::error::Error for ParseError {}
