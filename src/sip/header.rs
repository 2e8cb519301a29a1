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
/// index + 1 into `NAME_LIST` (0 = empty). The hash takes the length and the first and last
/// bytes (case-folded): those three are distinct for every known spelling, and the
/// multiplier was chosen so that no two known spellings share a slot, so a known name is
/// found on the first probe (the probe loop stays for correctness, not speed). Lookup
/// confirms with a case-insensitive compare, so a header name costs a few loads.
const TABLE_BITS: u32 = 8;
const TABLE_SIZE: usize = 1 << TABLE_BITS;

#[inline(always)]
const fn name_hash(len: usize, first: u8, last: u8) -> usize {
    let key = ((len as u32) << 16) | (((first | 0x20) as u32) << 8) | ((last | 0x20) as u32);
    (key.wrapping_mul(0xA0B9_6B29) >> (32 - TABLE_BITS)) as usize
}

#[inline(always)]
const fn hash_of(name: &[u8]) -> usize {
    name_hash(name.len(), name[0], name[name.len() - 1])
}

const NAME_TABLE: [u8; TABLE_SIZE] = {
    assert!(NAME_LIST.len() < u8::MAX as usize);
    let mut t = [0u8; TABLE_SIZE];
    let mut i = 0;
    while i < NAME_LIST.len() {
        let mut h = hash_of(NAME_LIST[i].0);
        while t[h] != 0 {
            h = (h + 1) & (TABLE_SIZE - 1);
        }
        t[h] = (i + 1) as u8;
        i += 1;
    }
    t
};

/// True when no two known spellings share a table slot (checked by a unit test, so a new
/// name that collides is noticed and the multiplier re-chosen).
#[cfg(test)]
fn table_is_collision_free() -> bool {
    NAME_LIST
        .iter()
        .enumerate()
        .all(|(i, (name, _))| NAME_TABLE[hash_of(name)] as usize == i + 1)
}

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

/// True when the first `len` bytes of `w` spell `NAME_LIST[i]` in any case (`len` is that
/// name's length). The name is compared as three masked 8-byte words. `NAME_LIST` names
/// are lower-case letters and '-'; for them `r | 0x20 == n` holds for exactly the two cases
/// of a letter, and for '-' or CR: callers make sure `w[..len]` holds no CR.
#[inline(always)]
fn window_matches(w: &[u8; NAME_BYTES], i: usize, len: usize) -> bool {
    let (words, masks) = (&NAME_LIST_WORDS[i], &LEN_MASKS[len]);
    let word = |k: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&w[8 * k..8 * k + 8]);
        u64::from_le_bytes(b) | 0x2020_2020_2020_2020
    };
    ((word(0) & masks[0]) ^ words[0])
        | ((word(1) & masks[1]) ^ words[1])
        | ((word(2) & masks[2]) ^ words[2])
        == 0
}

/// Bit `k` set when `w[k]` is ':' or CR, for the first 16 bytes of `w`.
#[inline(always)]
fn colon_or_cr_mask(w: &[u8; NAME_BYTES]) -> u32 {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{
            __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128,
            _mm_set1_epi8,
        };
        // SAFETY: SSE2 is always available on x86_64; the load reads w[0..16] and `w` holds
        // 24 bytes (`_mm_loadu_si128` has no alignment requirement).
        unsafe {
            let v = _mm_loadu_si128(w.as_ptr().cast::<__m128i>());
            let m = _mm_or_si128(
                _mm_cmpeq_epi8(v, _mm_set1_epi8(b':' as i8)),
                _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\r' as i8)),
            );
            _mm_movemask_epi8(m) as u32
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        w[..16].iter().enumerate().fold(0, |m, (k, &b)| {
            m | (u32::from(b == b':' || b == b'\r') << k)
        })
    }
}

impl HeaderId {
    /// Maps a header name as received (any case, compact or long) to its id.
    #[inline]
    pub(crate) fn from_name(raw: &[u8]) -> HeaderId {
        Self::from_line(raw, raw.len())
    }

    /// The framing parser's fast path for a header line: when `line` (the rest of the
    /// datagram from the line start, at least 24 bytes) starts with a known header name,
    /// optional SP/HTAB and a ':' within its first 16 bytes, returns the name length, the
    /// index of the ':' and the id. `None` means "not decided here" (an unknown or long
    /// name, a malformed line, a short datagram): the caller then takes the general path,
    /// which gives the same answer for every line this accepts. A name found here is a
    /// token (it equals a known spelling), so it is exactly what a byte-class scan finds.
    #[inline(always)]
    pub(crate) fn known_name_at(line: &[u8]) -> Option<(usize, usize, HeaderId)> {
        let w = line.first_chunk::<NAME_BYTES>()?;
        let m = colon_or_cr_mask(w);
        let colon = m.trailing_zeros() as usize;
        // No hit in 16 bytes (colon == 32), or a CR before the first ':'.
        if colon >= 16 || w[colon] != b':' {
            return None;
        }
        let mut len = colon;
        while len > 0 && (w[len - 1] == b' ' || w[len - 1] == b'\t') {
            len -= 1;
        }
        if len == 0 {
            return None;
        }
        let slot = NAME_TABLE[name_hash(len, w[0], w[len - 1])];
        if slot == 0 {
            return None;
        }
        let i = slot as usize - 1;
        let (name, id) = NAME_LIST[i];
        // `len <= 15` and no CR in w[..colon]: `window_matches` applies.
        (name.len() == len && window_matches(w, i, len)).then_some((len, colon, id))
    }

    /// Maps the name `line[..len]` (a token) to its id. `line` may go on past the name (the
    /// parser passes the rest of the datagram): when it holds 24 bytes, the name is
    /// compared as three masked 8-byte words instead of byte by byte.
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
            // `raw` is a token, so it holds no CR: `window_matches` applies.
            if name.len() == len {
                let matched = match window {
                    // len == name.len() <= NAME_BYTES, so LEN_MASKS[len] exists.
                    Some(w) => window_matches(w, i, len),
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
        assert!(table_is_collision_free());
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
    fn known_name_fast_path_agrees_with_the_general_lookup() {
        let tail = b" value\r\n\r\n0123456789abcdefghijklmnopqrstuvwxyz";
        for (name, id) in NAME_LIST {
            for sep in [&b":"[..], b" :", b"\t :"] {
                let line = [&name.to_ascii_uppercase()[..], sep, tail].concat();
                let got = HeaderId::known_name_at(&line);
                if name.len() + sep.len() <= 16 {
                    assert_eq!(got, Some((name.len(), name.len() + sep.len() - 1, *id)));
                } else {
                    assert_eq!(got, None, "{}", String::from_utf8_lossy(name));
                }
            }
        }
        for line in [
            // CR ORs to '-': must not pass for "max-forwards".
            &b"Max\rForwards: 70\r\n\r\n0123456789"[..],
            b"X-Foo: bar\r\n\r\n0123456789abcdef",
            b"Vi a: x\r\n\r\n0123456789abcdefgh",
            b": x\r\n\r\n0123456789abcdefghijklm",
            b"Via\r\nTo: x\r\n\r\n0123456789abcde",
            b"Via: SIP/2.0/UDP",
        ] {
            assert_eq!(
                HeaderId::known_name_at(line),
                None,
                "{}",
                String::from_utf8_lossy(line)
            );
        }
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
