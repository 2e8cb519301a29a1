//! Byte classes and small scanners shared by every SIP grammar in this module.
//!
//! Every class is one bit in a 256-entry table built at compile time, so a class test is one
//! load and one mask (the httparse habit). Scanners work on borrowed slices and never allocate.
//!
//! Linear white space (LWS, RFC 3261 §25.1) inside a header value that was folded over
//! several lines contains CR and LF; the parser only ever hands a folded value to these
//! scanners when the continuation line starts with SP/HTAB, so treating CR and LF as white
//! space here is exactly the RFC's `LWS = [*WSP CRLF] 1*WSP`.

/// RFC 3261 §25.1 `token` characters.
pub(crate) const TOKEN: u16 = 1;
/// SP, HTAB, CR, LF (white space inside a possibly folded value).
pub(crate) const WS: u16 = 2;
/// Characters allowed in a SIP URI user part: unreserved / escaped / user-unreserved.
pub(crate) const USER: u16 = 4;
/// Characters allowed in URI parameter names and values: unreserved / escaped / param-unreserved.
pub(crate) const PARAM: u16 = 8;
/// Characters allowed in URI header names and values: unreserved / escaped / hnv-unreserved.
pub(crate) const HNV: u16 = 16;
/// Characters of a host name, an IPv4 address or the inside of an IPv6 reference.
pub(crate) const HOST: u16 = 32;
/// Characters of a password: unreserved / escaped / & = + $ ,
pub(crate) const PASSWORD: u16 = 64;
/// RFC 3261 §25.1 `word` characters (Call-ID).
pub(crate) const WORD: u16 = 128;
/// Host name characters: alphanumeric, '-', '.', '_' (no ':').
pub(crate) const HOSTNAME: u16 = 256;
/// Digits and '.' (an all-NUMERIC host is an IPv4 address or nothing).
pub(crate) const NUMERIC: u16 = 512;
/// `word` characters and '@' (Call-ID).
pub(crate) const CALLID: u16 = 1024;
/// Visible characters allowed in a Request-URI by the framing check: not CTL, SP, DEL,
/// `<` or `>`.
pub(crate) const URI_VISIBLE: u16 = 2048;

const fn build_classes() -> [u16; 256] {
    let mut t = [0u16; 256];
    let mut c = 0usize;
    while c < 256 {
        let b = c as u8;
        let alnum = b.is_ascii_alphanumeric();
        let mark = matches!(
            b,
            b'-' | b'_' | b'.' | b'!' | b'~' | b'*' | b'\'' | b'(' | b')'
        );
        let unreserved = alnum || mark;
        let mut v = 0u16;
        if alnum
            || matches!(
                b,
                b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
            )
        {
            v |= TOKEN;
        }
        if matches!(b, b' ' | b'\t' | b'\r' | b'\n') {
            v |= WS;
        }
        if unreserved
            || b == b'%'
            || matches!(b, b'&' | b'=' | b'+' | b'$' | b',' | b';' | b'?' | b'/')
        {
            v |= USER;
        }
        if unreserved || b == b'%' || matches!(b, b'[' | b']' | b'/' | b':' | b'&' | b'+' | b'$') {
            v |= PARAM;
        }
        if unreserved || b == b'%' || matches!(b, b'[' | b']' | b'/' | b'?' | b':' | b'+' | b'$') {
            v |= HNV;
        }
        if alnum || matches!(b, b'-' | b'.' | b':' | b'_') {
            v |= HOST;
        }
        if alnum || matches!(b, b'-' | b'.' | b'_') {
            v |= HOSTNAME;
        }
        if b.is_ascii_digit() || b == b'.' {
            v |= NUMERIC;
        }
        if unreserved || b == b'%' || matches!(b, b'&' | b'=' | b'+' | b'$' | b',') {
            v |= PASSWORD;
        }
        if alnum
            || matches!(
                b,
                b'-' | b'.'
                    | b'!'
                    | b'%'
                    | b'*'
                    | b'_'
                    | b'+'
                    | b'`'
                    | b'\''
                    | b'~'
                    | b'('
                    | b')'
                    | b'<'
                    | b'>'
                    | b':'
                    | b'\\'
                    | b'"'
                    | b'/'
                    | b'['
                    | b']'
                    | b'?'
                    | b'{'
                    | b'}'
            )
        {
            v |= WORD | CALLID;
        }
        if b == b'@' {
            v |= CALLID;
        }
        if b > 0x20 && b != 0x7f && b != b'<' && b != b'>' {
            v |= URI_VISIBLE;
        }
        t[c] = v;
        c += 1;
    }
    t
}

pub(crate) static CLASS: [u16; 256] = build_classes();

/// URI component classes without `%`: a span scanned with [`span_escaped`] stops at each
/// `%` and checks its escape there, so a URI is read once (no separate escape pass).
pub(crate) const U_USER: u8 = 1;
/// [`PASSWORD`] without `%`.
pub(crate) const U_PASSWORD: u8 = 2;
/// [`PARAM`] without `%`.
pub(crate) const U_PARAM: u8 = 4;
/// [`HNV`] without `%`.
pub(crate) const U_HNV: u8 = 8;

const fn build_uri_classes() -> [u8; 256] {
    let c = build_classes();
    let mut t = [0u8; 256];
    let mut i = 0usize;
    while i < 256 {
        if i != b'%' as usize {
            let mut v = 0u8;
            if c[i] & USER != 0 {
                v |= U_USER;
            }
            if c[i] & PASSWORD != 0 {
                v |= U_PASSWORD;
            }
            if c[i] & PARAM != 0 {
                v |= U_PARAM;
            }
            if c[i] & HNV != 0 {
                v |= U_HNV;
            }
            t[i] = v;
        }
        i += 1;
    }
    t
}

static URI_CLASS: [u8; 256] = build_uri_classes();

/// The end of the span of `s` from `i` whose bytes are in the URI class `class` (`U_*`) or
/// are `%XX` escapes; `Err` at a `%` not followed by two hex digits (inside `s`). The
/// classes of RFC 3261 §25.1 that admit `escaped` are exactly these plus `%`, so
/// `span_escaped(s, i, U_USER)` reaches `j` without error iff `s[i..j]` is all [`USER`]
/// and every `%` in it starts a valid escape.
#[inline(always)]
pub(crate) fn span_escaped(s: &[u8], mut i: usize, class: u8) -> Result<usize, ()> {
    loop {
        while i < s.len() && URI_CLASS[s[i] as usize] & class != 0 {
            i += 1;
        }
        if i < s.len() && s[i] == b'%' {
            if i + 2 >= s.len() || !s[i + 1].is_ascii_hexdigit() || !s[i + 2].is_ascii_hexdigit() {
                return Err(());
            }
            i += 3;
        } else {
            return Ok(i);
        }
    }
}

#[inline(always)]
pub(crate) fn is(b: u8, class: u16) -> bool {
    CLASS[b as usize] & class != 0
}

#[inline]
pub(crate) fn all(s: &[u8], class: u16) -> bool {
    classes_of(s) & class != 0
}

/// The classes every byte of `s` belongs to (AND of their class bits; all bits for an empty
/// slice). Branch-free, so checking a whole span costs about two instructions a byte.
#[inline]
pub(crate) fn classes_of(s: &[u8]) -> u16 {
    s.iter().fold(u16::MAX, |acc, &b| acc & CLASS[b as usize])
}
/// True when `s` is a non-empty token.
#[inline]
pub(crate) fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && all(s, TOKEN)
}

/// Strips leading and trailing LWS.
#[inline]
pub(crate) fn trim(s: &[u8]) -> &[u8] {
    let mut a = 0;
    let mut b = s.len();
    while a < b && is(s[a], WS) {
        a += 1;
    }
    while b > a && is(s[b - 1], WS) {
        b -= 1;
    }
    &s[a..b]
}

#[inline]
pub(crate) fn trim_start(s: &[u8]) -> &[u8] {
    let mut a = 0;
    while a < s.len() && is(s[a], WS) {
        a += 1;
    }
    &s[a..]
}

/// Index of the first byte of `s` that is not in `class`, or `s.len()`.
#[inline]
pub(crate) fn span(s: &[u8], class: u16) -> usize {
    s.iter().position(|&b| !is(b, class)).unwrap_or(s.len())
}

/// [`span`] for spans that are often long (branch ids, tags, host names): eight bytes at a
/// time while they all belong (one branch per eight table lookups), then byte by byte.
#[inline]
pub(crate) fn span_long(s: &[u8], class: u16) -> usize {
    let mut i = 0;
    while let Some(c) = s.get(i..i + 8) {
        let all = c.iter().fold(u16::MAX, |acc, &b| acc & CLASS[b as usize]);
        if all & class == 0 {
            break;
        }
        i += 8;
    }
    while i < s.len() && is(s[i], class) {
        i += 1;
    }
    i
}

/// Index of the first `needle` in `buf` at or after `from`, or `None`.
///
/// Inlined where the header framing calls it once per line: lines are short (20 to 80
/// bytes), so a library call's setup costs more than the scan. On x86_64 it compares 16
/// bytes at a time with SSE2 (part of the x86_64 baseline), the last partial block with
/// one overlapping load of the final 16 bytes (byte by byte only below 16 bytes).
#[inline(always)]
pub(crate) fn find_byte(buf: &[u8], from: usize, needle: u8) -> Option<usize> {
    let mut i = from;
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{
            __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8,
        };
        // SAFETY: SSE2 is always available on x86_64; each load reads the 16 bytes
        // buf[at..at + 16] with at + 16 <= buf.len() (the loop condition, or
        // at = buf.len() - 16 when buf.len() >= 16), so inside `buf` (`_mm_loadu_si128`
        // has no alignment requirement).
        unsafe {
            let n = _mm_set1_epi8(needle as i8);
            let hits = |at: usize| {
                let v = _mm_loadu_si128(buf.as_ptr().add(at).cast::<__m128i>());
                _mm_movemask_epi8(_mm_cmpeq_epi8(v, n)) as u32
            };
            while i + 16 <= buf.len() {
                let m = hits(i);
                if m != 0 {
                    return Some(i + m.trailing_zeros() as usize);
                }
                i += 16;
            }
            if buf.len() >= 16 && i < buf.len() {
                // Overlapping last block: drop the bytes before `i`, already searched.
                let base = buf.len() - 16;
                let m = hits(base) >> (i - base);
                return (m != 0).then(|| i + m.trailing_zeros() as usize);
            }
        }
    }
    buf.get(i..)?
        .iter()
        .position(|&b| b == needle)
        .map(|p| i + p)
}

/// Index of the first byte of `s` at or after `from` that is `a`, `b` or `c`, or `None`.
/// Like [`find_byte`] (SSE2 on x86_64), for the short values `next_comma` walks; the last
/// partial block is covered by one overlapping load of the final 16 bytes.
#[inline(always)]
pub(crate) fn find3(s: &[u8], from: usize, a: u8, b: u8, c: u8) -> Option<usize> {
    let mut i = from;
    #[cfg(target_arch = "x86_64")]
    if s.len() >= 16 {
        use std::arch::x86_64::{
            __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128,
            _mm_set1_epi8,
        };
        // SAFETY: SSE2 is always available on x86_64. Every load reads 16 bytes starting
        // at `i` with `i + 16 <= s.len()`, or at `s.len() - 16` (s.len() >= 16 here), so
        // all reads stay inside `s`; `_mm_loadu_si128` has no alignment requirement.
        unsafe {
            let (va, vb, vc) = (
                _mm_set1_epi8(a as i8),
                _mm_set1_epi8(b as i8),
                _mm_set1_epi8(c as i8),
            );
            let hits = |at: usize| {
                let v = _mm_loadu_si128(s.as_ptr().add(at).cast::<__m128i>());
                let m = _mm_or_si128(
                    _mm_or_si128(_mm_cmpeq_epi8(v, va), _mm_cmpeq_epi8(v, vb)),
                    _mm_cmpeq_epi8(v, vc),
                );
                _mm_movemask_epi8(m) as u32
            };
            while i + 16 <= s.len() {
                let m = hits(i);
                if m != 0 {
                    return Some(i + m.trailing_zeros() as usize);
                }
                i += 16;
            }
            if i >= s.len() {
                return None;
            }
            // Overlapping last block: drop the bytes before `i`, already searched.
            let base = s.len() - 16;
            let m = hits(base) >> (i - base);
            return (m != 0).then(|| i + m.trailing_zeros() as usize);
        }
    }
    s.get(i..)?
        .iter()
        .position(|&x| x == a || x == b || x == c)
        .map(|p| i + p)
}

/// True when every byte of `s` is in [`URI_VISIBLE`] (not CTL, SP, DEL, `<` or `>`; bytes
/// from 0x80 on are allowed). 16 bytes at a time with SSE2 on x86_64.
#[inline]
pub(crate) fn all_uri_visible(s: &[u8]) -> bool {
    #[cfg(target_arch = "x86_64")]
    if s.len() >= 16 {
        use std::arch::x86_64::{
            __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_max_epu8, _mm_movemask_epi8,
            _mm_or_si128, _mm_set1_epi8,
        };
        // SAFETY: SSE2 is always available on x86_64. Every load reads 16 bytes starting
        // at `i` with `i + 16 <= s.len()`, or at `s.len() - 16` (s.len() >= 16 here), so
        // all reads stay inside `s`; `_mm_loadu_si128` has no alignment requirement.
        unsafe {
            let ok = |at: usize| {
                let x = _mm_loadu_si128(s.as_ptr().add(at).cast::<__m128i>());
                let eq = |c: u8| _mm_cmpeq_epi8(x, _mm_set1_epi8(c as i8));
                // Unsigned x > 0x20: max(x, 0x21) == x.
                let above_sp = _mm_cmpeq_epi8(_mm_max_epu8(x, _mm_set1_epi8(0x21)), x);
                let excluded = _mm_or_si128(_mm_or_si128(eq(0x7f), eq(b'<')), eq(b'>'));
                (_mm_movemask_epi8(above_sp) as u32 & !(_mm_movemask_epi8(excluded) as u32))
                    & 0xFFFF
                    == 0xFFFF
            };
            let mut i = 0;
            while i + 16 <= s.len() {
                if !ok(i) {
                    return false;
                }
                i += 16;
            }
            // The overlapping last block re-checks some bytes, which changes nothing.
            return i == s.len() || ok(s.len() - 16);
        }
    }
    all(s, URI_VISIBLE)
}

/// Whether every byte of `s` is a host-name character ([`HOSTNAME`]) and whether every
/// byte is a digit or '.' ([`NUMERIC`]): `classes_of(s) & HOSTNAME != 0` and
/// `classes_of(s) & NUMERIC != 0`, 16 bytes at a time with SSE2 on x86_64 (`Host::parse`
/// of a long name; the parsers span a host with `uri::scan_host` instead).
#[inline]
pub(crate) fn host_classes(s: &[u8]) -> (bool, bool) {
    #[cfg(target_arch = "x86_64")]
    if s.len() >= 16 {
        use std::arch::x86_64::{
            __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_min_epu8, _mm_movemask_epi8,
            _mm_or_si128, _mm_set1_epi8, _mm_sub_epi8,
        };
        // SAFETY: SSE2 is always available on x86_64. Every load reads 16 bytes starting
        // at `i` with `i + 16 <= s.len()`, or at `s.len() - 16` (s.len() >= 16 here), so
        // all reads stay inside `s`; `_mm_loadu_si128` has no alignment requirement.
        unsafe {
            let block = |at: usize| -> (u32, u32) {
                let x = _mm_loadu_si128(s.as_ptr().add(at).cast::<__m128i>());
                let eq = |c: u8| _mm_cmpeq_epi8(x, _mm_set1_epi8(c as i8));
                // Unsigned t <= n: min(t, n) == t.
                let at_most =
                    |t: __m128i, n: u8| _mm_cmpeq_epi8(_mm_min_epu8(t, _mm_set1_epi8(n as i8)), t);
                let lower = _mm_or_si128(x, _mm_set1_epi8(0x20));
                let alpha = at_most(_mm_sub_epi8(lower, _mm_set1_epi8(b'a' as i8)), 25);
                let digit = at_most(_mm_sub_epi8(x, _mm_set1_epi8(b'0' as i8)), 9);
                let dot = eq(b'.');
                let name =
                    _mm_or_si128(_mm_or_si128(alpha, digit), _mm_or_si128(eq(b'-'), eq(b'_')));
                let name = _mm_or_si128(name, dot);
                let numeric = _mm_or_si128(digit, dot);
                (
                    _mm_movemask_epi8(name) as u32,
                    _mm_movemask_epi8(numeric) as u32,
                )
            };
            let (mut name, mut numeric) = (0xFFFFu32, 0xFFFFu32);
            let mut i = 0;
            while i + 16 <= s.len() {
                let (a, b) = block(i);
                name &= a;
                numeric &= b;
                i += 16;
            }
            if i < s.len() {
                // The overlapping last block re-checks some bytes, which changes nothing.
                let (a, b) = block(s.len() - 16);
                name &= a;
                numeric &= b;
            }
            return (name == 0xFFFF, numeric == 0xFFFF);
        }
    }
    let c = classes_of(s);
    (c & HOSTNAME != 0, c & NUMERIC != 0)
}

/// True when `v` is a Call-ID: `word [ "@" word ]` (RFC 3261 §25.1), i.e. non-empty, only
/// `word` characters and at most one '@', neither first nor last.
///
/// On x86_64, 16 bytes at a time with SSE2: the `word` characters are exactly the visible
/// ASCII bytes (0x21..=0x7E) other than `# $ & , ; = ^ |` and '@', which is counted.
#[inline]
pub(crate) fn is_call_id(v: &[u8]) -> bool {
    let (Some(&first), Some(&last)) = (v.first(), v.last()) else {
        return false;
    };
    if first == b'@' || last == b'@' {
        return false;
    }
    #[cfg(target_arch = "x86_64")]
    if v.len() >= 16 {
        use std::arch::x86_64::{
            __m128i, _mm_and_si128, _mm_cmpeq_epi8, _mm_cmpgt_epi8, _mm_cmplt_epi8,
            _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
        };
        // SAFETY: SSE2 is always available on x86_64. Every load reads 16 bytes starting
        // at `i` with `i + 16 <= v.len()`, or at `v.len() - 16` (v.len() >= 16 here), so
        // all reads stay inside `v`; `_mm_loadu_si128` has no alignment requirement.
        unsafe {
            // (bytes that are `word` characters or '@', bytes that are '@') as bit masks.
            let block = |at: usize| -> (u32, u32) {
                let x = _mm_loadu_si128(v.as_ptr().add(at).cast::<__m128i>());
                let eq = |c: u8| _mm_cmpeq_epi8(x, _mm_set1_epi8(c as i8));
                // Signed compares: bytes >= 0x80 are negative, so not > 0x20.
                let visible = _mm_and_si128(
                    _mm_cmpgt_epi8(x, _mm_set1_epi8(0x20)),
                    _mm_cmplt_epi8(x, _mm_set1_epi8(0x7f)),
                );
                let excluded = _mm_or_si128(
                    _mm_or_si128(
                        _mm_or_si128(eq(b'#'), eq(b'$')),
                        _mm_or_si128(eq(b'&'), eq(b',')),
                    ),
                    _mm_or_si128(
                        _mm_or_si128(eq(b';'), eq(b'=')),
                        _mm_or_si128(eq(b'^'), eq(b'|')),
                    ),
                );
                let ok = _mm_movemask_epi8(visible) as u32 & !(_mm_movemask_epi8(excluded) as u32);
                (ok & 0xFFFF, _mm_movemask_epi8(eq(b'@')) as u32)
            };
            let mut ats = 0;
            let mut i = 0;
            while i + 16 <= v.len() {
                let (ok, at) = block(i);
                if ok != 0xFFFF {
                    return false;
                }
                ats += at.count_ones();
                i += 16;
            }
            if i < v.len() {
                // Overlapping last block: only the bytes from `i` on are new.
                let base = v.len() - 16;
                let keep = (0xFFFFu32 << (i - base)) & 0xFFFF;
                let (ok, at) = block(base);
                if ok & keep != keep {
                    return false;
                }
                ats += (at & keep).count_ones();
            }
            return ats <= 1;
        }
    }
    // One branch-free pass: the classes every byte shares, and the number of '@'.
    let (classes, ats) = v.iter().fold((u16::MAX, 0u32), |(c, n), &b| {
        (c & CLASS[b as usize], n + u32::from(b == b'@'))
    });
    classes & CALLID != 0 && ats <= 1
}

/// Index of the first `needle` in `s`: [`find_byte`] from the start. Header values and
/// URIs are short, so this beats a library call for them.
#[inline(always)]
pub(crate) fn find(s: &[u8], needle: u8) -> Option<usize> {
    find_byte(s, 0, needle)
}

/// Offset of `sub` inside `buf`. `sub` must be a sub-slice of `buf` (every slice handed out by
/// this module is); the debug assertion checks it.
#[inline]
pub(crate) fn offset_in(buf: &[u8], sub: &[u8]) -> usize {
    let off = (sub.as_ptr() as usize).wrapping_sub(buf.as_ptr() as usize);
    debug_assert!(off <= buf.len() && off + sub.len() <= buf.len());
    off
}

/// Parses an unsigned decimal of at most `max`; `None` on empty, non-digit or overflow.
/// Leading zeros are legal ("0068" in RFC 4475 wsinv).
#[inline]
pub(crate) fn parse_u32(s: &[u8], max: u32) -> Option<u32> {
    if s.is_empty() {
        return None;
    }
    let mut v: u64 = 0;
    for &b in s {
        if !b.is_ascii_digit() {
            return None;
        }
        // v <= max <= u32::MAX here, so this cannot overflow a u64.
        v = v * 10 + u64::from(b - b'0');
        if v > u64::from(max) {
            return None;
        }
    }
    Some(v as u32)
}

/// Finds the end of a quoted string that starts at `s[0] == '"'`; returns the index just past
/// the closing quote. `\` escapes the next byte (RFC 3261 §25.1 quoted-pair).
pub(crate) fn quoted_end(s: &[u8]) -> Option<usize> {
    let mut i = 1;
    while i < s.len() {
        match s[i] {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

/// Splits a header value on commas that are outside quoted strings and `<...>`; yields each
/// element with LWS trimmed (possibly empty, callers decide whether that is an error).
#[derive(Clone, Debug)]
pub(crate) struct CommaSplit<'a> {
    rest: Option<&'a [u8]>,
}

impl<'a> CommaSplit<'a> {
    pub(crate) fn new(s: &'a [u8]) -> Self {
        CommaSplit { rest: Some(s) }
    }
}

/// Index of the next top-level comma in `s` (outside quoted strings and angle brackets).
/// Jumps between the only bytes that matter with a SIMD search, so long values cost little.
pub(crate) fn next_comma(s: &[u8]) -> Option<usize> {
    let mut i = 0;
    while let Some(j) = find3(s, i, b',', b'"', b'<') {
        match s[j] {
            b',' => return Some(j),
            b'"' => i = j + quoted_end(&s[j..])?,
            // '<': a URI may hold commas; skip to its '>'.
            _ => i = find_byte(s, j + 1, b'>')? + 1,
        }
    }
    None
}

impl<'a> Iterator for CommaSplit<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        let s = self.rest?;
        match next_comma(s) {
            Some(i) => {
                self.rest = Some(&s[i + 1..]);
                Some(trim(&s[..i]))
            }
            None => {
                self.rest = None;
                Some(trim(s))
            }
        }
    }
}

/// Iterator over `;name[=value]` parameters (header or URI parameters). LWS around `;` and
/// `=` is skipped; quoted values are returned with their quotes. Yields `(name, value)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Params<'a> {
    rest: &'a [u8],
}

impl<'a> Params<'a> {
    /// `s` is the text after the element the parameters belong to, starting at the first `;`
    /// (or empty).
    pub fn new(s: &'a [u8]) -> Self {
        Params { rest: s }
    }

    /// The raw parameter text.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.rest
    }

    /// The value of the first parameter named `name` (ASCII case-insensitive): `Some(None)`
    /// when present without a value.
    pub fn get(&self, name: &[u8]) -> Option<Option<&'a [u8]>> {
        self.filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
            .next()
    }

    /// True when a parameter named `name` is present.
    pub fn has(&self, name: &[u8]) -> bool {
        self.get(name).is_some()
    }
}

impl<'a> Iterator for Params<'a> {
    type Item = (&'a [u8], Option<&'a [u8]>);
    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let s = trim_start(self.rest);
            if s.is_empty() {
                self.rest = s;
                return None;
            }
            let s = if s[0] == b';' { &s[1..] } else { s };
            // The element ends at the next `;` outside quotes.
            let mut i = 0;
            loop {
                match memchr::memchr2(b';', b'"', &s[i..]) {
                    None => {
                        i = s.len();
                        break;
                    }
                    Some(off) if s[i + off] == b';' => {
                        i += off;
                        break;
                    }
                    Some(off) => {
                        i += off;
                        i += quoted_end(&s[i..]).unwrap_or(s.len() - i);
                        if i >= s.len() {
                            i = s.len();
                            break;
                        }
                    }
                }
            }
            let item = trim(&s[..i]);
            self.rest = &s[i..];
            if item.is_empty() {
                if self.rest.is_empty() {
                    return None;
                }
                continue;
            }
            return Some(match item.iter().position(|&b| b == b'=') {
                Some(eq) => (trim(&item[..eq]), Some(trim(&item[eq + 1..]))),
                None => (item, None),
            });
        }
    }
}

/// Checks the syntax of a header parameter list (RFC 3261 §25.1 generic-param):
/// `*( SEMI token [ EQUAL ( token / host / quoted-string ) ] )`. Empty parameters
/// (`;;`) are refused.
pub(crate) fn check_params(s: &[u8]) -> bool {
    check_params_find(s, b"").is_ok()
}

/// [`check_params`] that also returns the first parameter named `want` (ASCII
/// case-insensitive) the way [`Params::get`] does: `Some(None)` when present without a
/// value, `None` when absent (always `None` for an empty `want`). `Err` on bad syntax.
#[allow(clippy::type_complexity)]
#[inline]
pub(crate) fn check_params_find<'a>(
    s: &'a [u8],
    want: &[u8],
) -> Result<Option<Option<&'a [u8]>>, ()> {
    params_find::<false>(s, want)
}

/// [`check_params_find`] over the parameters of the first element of a comma-separated
/// list (a Via value): stops at the first comma outside a quoted string, as if the list
/// had been cut there with [`next_comma`] (a `<` is a syntax error either way), so the
/// value is read once.
#[allow(clippy::type_complexity)]
#[inline]
pub(crate) fn check_params_find_until_comma<'a>(
    s: &'a [u8],
    want: &[u8],
) -> Result<Option<Option<&'a [u8]>>, ()> {
    params_find::<true>(s, want)
}

#[allow(clippy::type_complexity)]
#[inline(always)]
fn params_find<'a, const UNTIL_COMMA: bool>(
    s: &'a [u8],
    want: &[u8],
) -> Result<Option<Option<&'a [u8]>>, ()> {
    // Index-based: one bounds-checked read per byte, no sub-slice per step. White space is
    // rare here, so each skip is usually one failed test.
    let n = s.len();
    let skip_ws = |mut i: usize| {
        while i < n && is(s[i], WS) {
            i += 1;
        }
        i
    };
    // `want` is lower-case letters (callers pass "tag", "branch"), and a name is a token:
    // for those `b | 0x20 == w` is exactly a case-insensitive match.
    debug_assert!(want.iter().all(u8::is_ascii_lowercase));
    let mut found = None;
    let mut i = skip_ws(0);
    while i < n {
        if s[i] != b';' {
            if UNTIL_COMMA && s[i] == b',' {
                break;
            }
            return Err(());
        }
        i = skip_ws(i + 1);
        let name_start = i;
        i += span(&s[i..], TOKEN);
        if i == name_start {
            return Err(());
        }
        let name = &s[name_start..i];
        i = skip_ws(i);
        let mut value = None;
        if i < n && s[i] == b'=' {
            i = skip_ws(i + 1);
            let v = match s.get(i) {
                Some(b'"') => quoted_end(&s[i..]).ok_or(())?,
                Some(b'[') => match find(&s[i..], b']') {
                    Some(e) if all(&s[i + 1..i + e], HOST) => e + 1,
                    _ => return Err(()),
                },
                _ => span_long(&s[i..], TOKEN),
            };
            if v == 0 {
                return Err(());
            }
            value = Some(&s[i..i + v]);
            i = skip_ws(i + v);
        }
        if found.is_none()
            && !want.is_empty()
            && name.len() == want.len()
            && name.iter().zip(want).all(|(&b, &w)| b | 0x20 == w)
        {
            found = Some(value);
        }
    }
    Ok(found)
}

/// Removes surrounding double quotes if present (the inside is returned raw: quoted-pairs
/// such as `\"` stay escaped).
pub fn unquote(s: &[u8]) -> &[u8] {
    if s.len() >= 2 && s[0] == b'"' && s[s.len() - 1] == b'"' {
        &s[1..s.len() - 1]
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn u32_parsing_handles_leading_zeros_and_overflow() {
        assert_eq!(parse_u32(b"0068", 255), Some(68));
        assert_eq!(parse_u32(b"0009", u32::MAX), Some(9));
        assert_eq!(parse_u32(b"300", 255), None);
        assert_eq!(parse_u32(b"36893488147419103232", u32::MAX), None);
        assert_eq!(parse_u32(b"-1", 10), None);
        assert_eq!(parse_u32(b"", 10), None);
        assert_eq!(parse_u32(b"0000000000000000", 10), Some(0));
    }

    #[test]
    fn comma_split_respects_quotes_and_angles() {
        let v: Vec<_> = CommaSplit::new(b"\"a,b\" <sip:x,y>;p=1 , <sip:z>").collect();
        assert_eq!(v, vec![&b"\"a,b\" <sip:x,y>;p=1"[..], &b"<sip:z>"[..]]);
    }

    #[test]
    fn params_iterate_with_lws() {
        let p = Params::new(b" ;   tag    = 1918181833n ; lr;x=\"a;b\"");
        let v: Vec<_> = p.collect();
        assert_eq!(v[0], (&b"tag"[..], Some(&b"1918181833n"[..])));
        assert_eq!(v[1], (&b"lr"[..], None));
        assert_eq!(v[2], (&b"x"[..], Some(&b"\"a;b\""[..])));
        assert!(check_params(b" ;   tag    = 1918181833n ; lr"));
        assert!(!check_params(b";;"));
        for list in [
            &b" ;   tag    = 1918181833n ; lr"[..],
            b";lr;TAG=\"q;x\";tag=2",
            b";tag",
            b";x=[2001:db8::1];tag=a",
            b"",
        ] {
            assert_eq!(
                check_params_find(list, b"tag"),
                Ok(Params::new(list).get(b"tag")),
                "{}",
                String::from_utf8_lossy(list)
            );
        }
        assert_eq!(check_params_find(b";tag=a;;", b"tag"), Err(()));
    }

    #[test]
    fn uri_visible_check_agrees_with_the_byte_class() {
        for len in [1usize, 15, 16, 17, 31, 32, 33, 40] {
            for pos in [0, len / 2, len - 1] {
                for b in 0..=255u8 {
                    let mut v = vec![b'a'; len];
                    v[pos] = b;
                    assert_eq!(
                        all_uri_visible(&v),
                        all(&v, URI_VISIBLE),
                        "len {len} pos {pos} byte {b}"
                    );
                }
            }
        }
        assert!(all_uri_visible(b""));
    }

    #[test]
    fn host_classes_agree_with_the_byte_classes() {
        for len in [1usize, 15, 16, 17, 31, 32, 33, 40] {
            for pos in [0, len / 2, len - 1] {
                for fill in [b'a', b'7'] {
                    for b in 0..=255u8 {
                        let mut v = vec![fill; len];
                        v[pos] = b;
                        let c = classes_of(&v);
                        assert_eq!(
                            host_classes(&v),
                            (c & HOSTNAME != 0, c & NUMERIC != 0),
                            "len {len} pos {pos} fill {fill} byte {b}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn call_id_check_agrees_with_the_byte_classes() {
        let slow = |v: &[u8]| {
            !v.is_empty()
                && v.iter().all(|&b| is(b, CALLID))
                && v.iter().filter(|&&b| b == b'@').count() <= 1
                && v[0] != b'@'
                && v[v.len() - 1] != b'@'
        };
        // Every byte value at several positions of short and long (SIMD) values.
        for len in [1usize, 5, 15, 16, 17, 31, 32, 33, 40] {
            for pos in [0, len / 2, len - 1] {
                for b in 0..=255u8 {
                    let mut v = vec![b'a'; len];
                    v[pos] = b;
                    assert_eq!(is_call_id(&v), slow(&v), "len {len} pos {pos} byte {b}");
                    if len > 2 {
                        // A second '@' anywhere else.
                        let other = if pos == 1 { 2 } else { 1 };
                        v[other] = b'@';
                        assert_eq!(is_call_id(&v), slow(&v), "len {len} pos {pos} byte {b} @");
                    }
                }
            }
        }
        assert!(is_call_id(b"a84b4c76e66710@pc33.atlanta.example.com"));
        assert!(!is_call_id(b"a84b4c76e66710@pc33@atlanta.example.com"));
        assert!(!is_call_id(b""));
    }

    #[test]
    fn find_byte_agrees_with_a_plain_search() {
        let text: Vec<u8> = (0..100u8)
            .map(|i| if i % 37 == 36 { b'\n' } else { b'a' + i % 26 })
            .collect();
        for from in 0..=text.len() + 2 {
            let want = text
                .get(from..)
                .and_then(|t| t.iter().position(|&b| b == b'\n'))
                .map(|p| from + p);
            assert_eq!(find_byte(&text, from, b'\n'), want, "from {from}");
        }
        assert_eq!(find_byte(b"", 0, b'x'), None);
        for len in 0..40usize {
            let t: Vec<u8> = (0..len)
                .map(|i| {
                    if i % 11 == 7 {
                        b','
                    } else if i % 13 == 12 {
                        b'<'
                    } else {
                        b'x'
                    }
                })
                .collect();
            for from in 0..=len + 1 {
                let want = t
                    .get(from..)
                    .and_then(|r| r.iter().position(|&b| b == b',' || b == b'"' || b == b'<'))
                    .map(|p| from + p);
                assert_eq!(
                    find3(&t, from, b',', b'"', b'<'),
                    want,
                    "len {len} from {from}"
                );
            }
        }
    }
}
