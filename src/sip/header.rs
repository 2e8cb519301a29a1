//! Header field names: the known ones as enum variants, everything else kept verbatim.
//!
//! Names are matched ASCII case-insensitively, and every compact form of RFC 3261 §7.3.3
//! (i m e l c f s k t v) and of later RFCs (o u r b x y, a j d n) maps to its long name.
//! Inside a parsed message each header slot stores a one-byte [`HeaderId`]; the public
//! [`HeaderName`] adds `Other(name bytes)` for the unknown ones.

macro_rules! known_headers {
    ($( $(#[$doc:meta])* $var:ident = $canon:literal $(| $alias:literal)* ; )*) => {
        /// A header field name. Unknown names are kept as received in `Other`.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum HeaderName<'a> {
            $( $(#[$doc])* $var, )*
            /// Any other header field, with its name as received.
            Other(&'a [u8]),
        }

        /// One-byte id of a header name inside a parsed message (`Other` for unknown names).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub(crate) enum HeaderId {
            $( $var, )*
            Other,
        }

        const ALL_IDS: &[HeaderId] = &[$( HeaderId::$var, )* HeaderId::Other];

        /// Every spelling (lower case) with its id: long names and compact forms.
        const NAME_LIST: &[(&[u8], HeaderId)] = &[
            $( ($canon, HeaderId::$var), $( ($alias, HeaderId::$var), )* )*
        ];

        impl HeaderId {
            pub(crate) const COUNT: usize = ALL_IDS.len();

            pub(crate) fn name<'a>(self, raw: &'a [u8]) -> HeaderName<'a> {
                match self {
                    $( HeaderId::$var => HeaderName::$var, )*
                    HeaderId::Other => HeaderName::Other(raw),
                }
            }
        }

        impl<'a> HeaderName<'a> {
            pub(crate) fn id(&self) -> HeaderId {
                match self {
                    $( HeaderName::$var => HeaderId::$var, )*
                    HeaderName::Other(raw) => HeaderId::from_name(raw),
                }
            }

            /// The canonical (long) name as written in RFC text, lower-cased for known
            /// headers' lookup tables; for display use [`HeaderName::as_str`].
            pub fn as_bytes(&self) -> &'a [u8] {
                match self {
                    $( HeaderName::$var => canonical_case(stringify!($var), $canon), )*
                    HeaderName::Other(raw) => raw,
                }
            }
        }
    };
}

/// The canonical spelling of a known header: given explicitly where the Title-Case rule
/// would not produce it.
const fn canonical_case(_var: &'static str, lower: &'static [u8]) -> &'static [u8] {
    match lower {
        b"via" => b"Via",
        b"from" => b"From",
        b"to" => b"To",
        b"call-id" => b"Call-ID",
        b"cseq" => b"CSeq",
        b"max-forwards" => b"Max-Forwards",
        b"contact" => b"Contact",
        b"expires" => b"Expires",
        b"route" => b"Route",
        b"record-route" => b"Record-Route",
        b"require" => b"Require",
        b"proxy-require" => b"Proxy-Require",
        b"supported" => b"Supported",
        b"unsupported" => b"Unsupported",
        b"authorization" => b"Authorization",
        b"proxy-authorization" => b"Proxy-Authorization",
        b"www-authenticate" => b"WWW-Authenticate",
        b"proxy-authenticate" => b"Proxy-Authenticate",
        b"authentication-info" => b"Authentication-Info",
        b"content-type" => b"Content-Type",
        b"content-length" => b"Content-Length",
        b"content-encoding" => b"Content-Encoding",
        b"content-disposition" => b"Content-Disposition",
        b"content-language" => b"Content-Language",
        b"accept" => b"Accept",
        b"accept-encoding" => b"Accept-Encoding",
        b"accept-language" => b"Accept-Language",
        b"allow" => b"Allow",
        b"allow-events" => b"Allow-Events",
        b"event" => b"Event",
        b"date" => b"Date",
        b"timestamp" => b"Timestamp",
        b"user-agent" => b"User-Agent",
        b"server" => b"Server",
        b"subject" => b"Subject",
        b"warning" => b"Warning",
        b"retry-after" => b"Retry-After",
        b"min-expires" => b"Min-Expires",
        b"path" => b"Path",
        b"refer-to" => b"Refer-To",
        b"referred-by" => b"Referred-By",
        b"session-expires" => b"Session-Expires",
        b"min-se" => b"Min-SE",
        b"identity" => b"Identity",
        b"identity-info" => b"Identity-Info",
        b"accept-contact" => b"Accept-Contact",
        b"reject-contact" => b"Reject-Contact",
        b"request-disposition" => b"Request-Disposition",
        b"rseq" => b"RSeq",
        b"rack" => b"RAck",
        b"privacy" => b"Privacy",
        b"p-asserted-identity" => b"P-Asserted-Identity",
        b"p-preferred-identity" => b"P-Preferred-Identity",
        b"organization" => b"Organization",
        b"priority" => b"Priority",
        b"mime-version" => b"MIME-Version",
        b"sip-etag" => b"SIP-ETag",
        b"sip-if-match" => b"SIP-If-Match",
        b"subscription-state" => b"Subscription-State",
        _ => lower,
    }
}

known_headers! {
    Via = b"via" | b"v";
    From = b"from" | b"f";
    To = b"to" | b"t";
    CallId = b"call-id" | b"i";
    CSeq = b"cseq";
    MaxForwards = b"max-forwards";
    Contact = b"contact" | b"m";
    Expires = b"expires";
    Route = b"route";
    RecordRoute = b"record-route";
    Require = b"require";
    ProxyRequire = b"proxy-require";
    Supported = b"supported" | b"k";
    Unsupported = b"unsupported";
    Authorization = b"authorization";
    ProxyAuthorization = b"proxy-authorization";
    WwwAuthenticate = b"www-authenticate";
    ProxyAuthenticate = b"proxy-authenticate";
    AuthenticationInfo = b"authentication-info";
    ContentType = b"content-type" | b"c";
    ContentLength = b"content-length" | b"l";
    ContentEncoding = b"content-encoding" | b"e";
    ContentDisposition = b"content-disposition";
    ContentLanguage = b"content-language";
    Accept = b"accept";
    AcceptEncoding = b"accept-encoding";
    AcceptLanguage = b"accept-language";
    Allow = b"allow";
    AllowEvents = b"allow-events" | b"u";
    Event = b"event" | b"o";
    Date = b"date";
    Timestamp = b"timestamp";
    UserAgent = b"user-agent";
    Server = b"server";
    Subject = b"subject" | b"s";
    Warning = b"warning";
    RetryAfter = b"retry-after";
    MinExpires = b"min-expires";
    Path = b"path";
    ReferTo = b"refer-to" | b"r";
    ReferredBy = b"referred-by" | b"b";
    SessionExpires = b"session-expires" | b"x";
    MinSe = b"min-se";
    Identity = b"identity" | b"y";
    IdentityInfo = b"identity-info" | b"n";
    AcceptContact = b"accept-contact" | b"a";
    RejectContact = b"reject-contact" | b"j";
    RequestDisposition = b"request-disposition" | b"d";
    RSeq = b"rseq";
    RAck = b"rack";
    Privacy = b"privacy";
    PAssertedIdentity = b"p-asserted-identity";
    PPreferredIdentity = b"p-preferred-identity";
    Organization = b"organization";
    Priority = b"priority";
    MimeVersion = b"mime-version";
    SipEtag = b"sip-etag";
    SipIfMatch = b"sip-if-match";
    SubscriptionState = b"subscription-state";
}

/// Open-addressing hash table over [`NAME_LIST`], built at compile time: slot value is
/// index + 1 into `NAME_LIST` (0 = empty). Lookup hashes the length and three bytes
/// (case-folded), probes linearly and confirms with a case-insensitive compare, so a
/// header name costs a few loads instead of a chain of string compares.
const TABLE_BITS: u32 = 9;
const TABLE_SIZE: usize = 1 << TABLE_BITS;

#[inline(always)]
const fn name_hash(len: usize, first: u8, mid: u8, last: u8) -> usize {
    let h = (len as u32)
        .wrapping_mul(0x9E37_79B1)
        .wrapping_add(((first | 0x20) as u32).wrapping_mul(0x85EB_CA77))
        .wrapping_add(((mid | 0x20) as u32).wrapping_mul(0xC2B2_AE3D))
        .wrapping_add(((last | 0x20) as u32).wrapping_mul(0x27D4_EB2F));
    (h >> (32 - TABLE_BITS)) as usize
}

#[inline(always)]
const fn hash_of(name: &[u8]) -> usize {
    let n = name.len();
    name_hash(n, name[0], name[n / 2], name[n - 1])
}

const NAME_TABLE: [u16; TABLE_SIZE] = {
    let mut t = [0u16; TABLE_SIZE];
    let mut i = 0;
    while i < NAME_LIST.len() {
        let mut h = hash_of(NAME_LIST[i].0);
        while t[h] != 0 {
            h = (h + 1) & (TABLE_SIZE - 1);
        }
        t[h] = (i + 1) as u16;
        i += 1;
    }
    t
};

/// Longest known name in 8-byte words ("p-preferred-identity" is 20 bytes).
const NAME_WORDS: usize = 3;
const NAME_BYTES: usize = 8 * NAME_WORDS;

/// `NAME_LIST` names as little-endian 8-byte words, zero padded.
const NAME_LIST_WORDS: [[u64; NAME_WORDS]; NAME_LIST.len()] = {
    let mut t = [[0u64; NAME_WORDS]; NAME_LIST.len()];
    let mut i = 0;
    while i < NAME_LIST.len() {
        let name = NAME_LIST[i].0;
        assert!(name.len() <= NAME_BYTES);
        let mut j = 0;
        while j < name.len() {
            t[i][j / 8] |= (name[j] as u64) << (8 * (j % 8));
            j += 1;
        }
        i += 1;
    }
    t
};

/// `LEN_MASKS[n]`: the words of a 24-byte window that keep its first `n` bytes.
const LEN_MASKS: [[u64; NAME_WORDS]; NAME_BYTES + 1] = {
    let mut t = [[0u64; NAME_WORDS]; NAME_BYTES + 1];
    let mut n = 0;
    while n <= NAME_BYTES {
        let mut j = 0;
        while j < n {
            t[n][j / 8] |= 0xFF << (8 * (j % 8));
            j += 1;
        }
        n += 1;
    }
    t
};

impl HeaderId {
    /// Maps a header name as received (any case, compact or long) to its id.
    #[inline]
    pub(crate) fn from_name(raw: &[u8]) -> HeaderId {
        Self::from_line(raw, raw.len())
    }

    /// Maps the name `line[..len]` to its id. `line` may go on past the name (the parser
    /// passes the rest of the datagram): when it holds 24 bytes, the name is compared as
    /// three masked 8-byte words instead of byte by byte.
    #[inline]
    pub(crate) fn from_line(line: &[u8], len: usize) -> HeaderId {
        let raw = &line[..len];
        if raw.is_empty() {
            return HeaderId::Other;
        }
        let window = line.first_chunk::<NAME_BYTES>();
        let mut h = hash_of(raw);
        loop {
            let slot = NAME_TABLE[h];
            if slot == 0 {
                return HeaderId::Other;
            }
            let i = slot as usize - 1;
            let (name, id) = NAME_LIST[i];
            // `name` is lower case letters and '-'; `raw` is a token. For such bytes
            // `r | 0x20 == n` is exactly a case-insensitive match (the only other byte that
            // ORs to '-' is CR, never in a token).
            if name.len() == len {
                let matched = match window {
                    // len == name.len() <= NAME_BYTES, so LEN_MASKS[len] exists.
                    Some(w) => {
                        let (words, masks) = (&NAME_LIST_WORDS[i], &LEN_MASKS[len]);
                        let word = |k: usize| {
                            let b = |j: usize| u64::from(w[8 * k + j]) << (8 * j);
                            (b(0) | b(1) | b(2) | b(3) | b(4) | b(5) | b(6) | b(7))
                                | 0x2020_2020_2020_2020
                        };
                        ((word(0) & masks[0]) ^ words[0])
                            | ((word(1) & masks[1]) ^ words[1])
                            | ((word(2) & masks[2]) ^ words[2])
                            == 0
                    }
                    None => name.iter().zip(raw).all(|(&n, &r)| r | 0x20 == n),
                };
                if matched {
                    return id;
                }
            }
            h = (h + 1) & (TABLE_SIZE - 1);
        }
    }
}

impl<'a> HeaderName<'a> {
    /// Maps a name as received (any case, compact or long form) to a `HeaderName`.
    pub fn parse(raw: &'a [u8]) -> HeaderName<'a> {
        HeaderId::from_name(raw).name(raw)
    }

    /// The canonical name (`"Call-ID"`, `"CSeq"`, ...) or the unknown name as received
    /// (lossy when it is not UTF-8, which a token always is).
    pub fn as_str(&self) -> &'a str {
        std::str::from_utf8(self.as_bytes()).unwrap_or("?")
    }

    /// True when `self` and `other` name the same header (case-insensitive, compact forms
    /// equal to long ones).
    pub fn matches(&self, other: &HeaderName<'_>) -> bool {
        match (self.id(), other.id()) {
            (HeaderId::Other, HeaderId::Other) => {
                self.as_bytes().eq_ignore_ascii_case(other.as_bytes())
            }
            (a, b) => a == b,
        }
    }
}

impl std::fmt::Display for HeaderName<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&String::from_utf8_lossy(self.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_resolves_through_the_hash_table() {
        for (name, id) in NAME_LIST {
            assert_eq!(HeaderId::from_name(name), *id);
            assert_eq!(HeaderId::from_name(&name.to_ascii_uppercase()), *id);
        }
        for other in [&b"X-Foo"[..], b"viaa", b"vi", b"content-lengthx", b"@"] {
            assert_eq!(HeaderId::from_name(other), HeaderId::Other);
        }
        // As the parser calls it: the name followed by the rest of the datagram, so the
        // word compare is taken.
        for (name, id) in NAME_LIST {
            let line = [
                &name.to_ascii_uppercase()[..],
                b": value\r\n\r\n0123456789abcdefghij",
            ]
            .concat();
            assert_eq!(HeaderId::from_line(&line, name.len()), *id);
        }
        let tail = b": 70\r\n\r\n0123456789abcdefghijklmn";
        assert_eq!(
            HeaderId::from_line(&[&b"Max-Forwardz"[..], tail].concat(), 12),
            HeaderId::Other
        );
        assert_eq!(
            HeaderId::from_line(&[&b"Vi_"[..], tail].concat(), 3),
            HeaderId::Other
        );
    }

    #[test]
    fn compact_and_case_insensitive_names() {
        for (raw, want) in [
            (&b"i"[..], HeaderName::CallId),
            (b"m", HeaderName::Contact),
            (b"e", HeaderName::ContentEncoding),
            (b"L", HeaderName::ContentLength),
            (b"c", HeaderName::ContentType),
            (b"f", HeaderName::From),
            (b"s", HeaderName::Subject),
            (b"k", HeaderName::Supported),
            (b"T", HeaderName::To),
            (b"v", HeaderName::Via),
            (b"o", HeaderName::Event),
            (b"u", HeaderName::AllowEvents),
            (b"r", HeaderName::ReferTo),
            (b"b", HeaderName::ReferredBy),
            (b"x", HeaderName::SessionExpires),
            (b"y", HeaderName::Identity),
            (b"MaX-fOrWaRdS", HeaderName::MaxForwards),
            (b"call-id", HeaderName::CallId),
        ] {
            assert_eq!(
                HeaderName::parse(raw),
                want,
                "{}",
                String::from_utf8_lossy(raw)
            );
        }
        assert_eq!(
            HeaderName::parse(b"NewFangledHeader"),
            HeaderName::Other(b"NewFangledHeader")
        );
        assert_eq!(HeaderName::CallId.as_str(), "Call-ID");
        assert!(HeaderName::Other(b"x-FOO").matches(&HeaderName::Other(b"X-foo")));
    }
}
