//! An edit list over one borrowed message: the proxy's way of writing a forwarded request
//! or response as "the received bytes, with these ranges replaced".
//!
//! Replacement texts are rendered into one reusable buffer, so a whole edit costs no
//! allocation once the buffers have grown to their working size.
//!
//! ```text
//!   src:  [ ..keep.. | edit 0 range | ..keep.. | edit 1 (insert: empty range) | ..keep.. ]
//!   out:  [ ..keep.. |  edit 0 text | ..keep.. |        edit 1 text          | ..keep.. ]
//! ```
//!
//! Invariants: edit ranges lie inside `src` and do not overlap (an insertion is an empty
//! range); edits at the same position are written in the order they were added.

use crate::sip::{push_decimal, push_ip};
use std::net::{IpAddr, SocketAddr};
use std::ops::Range;

#[derive(Debug, Clone)]
struct Edit {
    at: Range<usize>,
    text: Range<usize>,
}

/// A reusable list of edits.
#[derive(Debug, Default)]
pub(crate) struct EditList {
    edits: Vec<Edit>,
    text: Vec<u8>,
}

impl EditList {
    pub(crate) fn clear(&mut self) {
        self.edits.clear();
        self.text.clear();
    }

    /// Replace `at` with what `write` appends.
    pub(crate) fn replace_with(&mut self, at: Range<usize>, write: impl FnOnce(&mut Vec<u8>)) {
        let start = self.text.len();
        write(&mut self.text);
        self.edits.push(Edit {
            at,
            text: start..self.text.len(),
        });
    }

    pub(crate) fn replace(&mut self, at: Range<usize>, bytes: &[u8]) {
        self.replace_with(at, |t| t.extend_from_slice(bytes));
    }

    pub(crate) fn insert_with(&mut self, at: usize, write: impl FnOnce(&mut Vec<u8>)) {
        self.replace_with(at..at, write);
    }

    pub(crate) fn delete(&mut self, at: Range<usize>) {
        self.replace_with(at, |_| {});
    }

    /// Append `src[range]` with the edits applied to `out` (edits outside `range` are
    /// ignored).
    pub(crate) fn apply(&mut self, src: &[u8], range: Range<usize>, out: &mut Vec<u8>) {
        // Stable: insertions at one position keep their order, and come before a
        // replacement that starts there (which would otherwise swallow them).
        self.edits
            .sort_by_key(|e| (e.at.start, e.at.end > e.at.start));
        let end = range.end.min(src.len());
        let mut cursor = range.start.min(end);
        for e in &self.edits {
            if e.at.start < cursor || e.at.start > end {
                continue;
            }
            let start = e.at.start.clamp(cursor, end);
            out.extend_from_slice(&src[cursor..start]);
            out.extend_from_slice(&self.text[e.text.clone()]);
            cursor = e.at.end.clamp(start, end);
        }
        out.extend_from_slice(&src[cursor..end]);
    }
}

// ---- number and address writers (no `core::fmt` on the hot path) --------------------------

/// Fill `out` with the low `4 * out.len()` bits of `v` in lower-case hex.
pub(crate) fn hex_into(out: &mut [u8], mut v: u64) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for b in out.iter_mut().rev() {
        *b = HEX[(v & 0xf) as usize];
        v >>= 4;
    }
}

/// Append `host:port` as a Via sent-by or URI hostport (IPv6 in brackets).
pub(crate) fn put_socket_addr(out: &mut Vec<u8>, a: SocketAddr) {
    if a.is_ipv6() {
        out.push(b'[');
        push_ip(out, a.ip());
        out.push(b']');
    } else {
        push_ip(out, a.ip());
    }
    out.push(b':');
    push_decimal(out, u64::from(a.port()));
}

/// True when `text` is exactly how [`push_ip`] writes the IPv4 address `ip` (the usual case
/// of a sent-by that matches the packet source: no parsing needed to know). False for
/// IPv6 and for any other spelling (the caller then parses).
pub(crate) fn is_ipv4_text(text: &[u8], ip: IpAddr) -> bool {
    let IpAddr::V4(v4) = ip else {
        return false;
    };
    let mut rest = text;
    for (i, o) in v4.octets().into_iter().enumerate() {
        if i > 0 {
            match rest.split_first() {
                Some((b'.', r)) => rest = r,
                _ => return false,
            }
        }
        let digits: &[u8] = match o {
            0..=9 => &[b'0' + o],
            10..=99 => &[b'0' + o / 10, b'0' + o % 10],
            _ => &[b'0' + o / 100, b'0' + o / 10 % 10, b'0' + o % 10],
        };
        match rest.strip_prefix(digits) {
            Some(r) => rest = r,
            None => return false,
        }
    }
    rest.is_empty()
}

/// Byte offset of `part` inside `whole` (both from the same buffer).
pub(crate) fn offset_in(whole: &[u8], part: &[u8]) -> usize {
    (part.as_ptr() as usize)
        .saturating_sub(whole.as_ptr() as usize)
        .min(whole.len())
}

/// Range of `part` inside `whole`.
pub(crate) fn span_in(whole: &[u8], part: &[u8]) -> Range<usize> {
    let s = offset_in(whole, part);
    s..(s + part.len()).min(whole.len())
}

/// The comma-separated elements of a header value (commas inside quotes or `<>` do not
/// split), as trimmed subslices of `value`.
pub(crate) fn split_commas(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = value;
    // Most values hold no comma at all: then the scan below would run to the end and
    // yield the whole value, which a SIMD search for ',' says at once.
    let one_value = memchr::memchr(b',', value).is_none();
    std::iter::from_fn(move || loop {
        if rest.is_empty() {
            return None;
        }
        if one_value {
            let item = trim(rest);
            rest = &rest[rest.len()..];
            return (!item.is_empty()).then_some(item);
        }
        let mut i = 0;
        let (mut quoted, mut angle) = (false, false);
        while i < rest.len() {
            match rest[i] {
                b'\\' if quoted => i += 1,
                b'"' => quoted = !quoted,
                b'<' if !quoted => angle = true,
                b'>' if !quoted => angle = false,
                b',' if !quoted && !angle => break,
                _ => {}
            }
            i += 1;
        }
        let i = i.min(rest.len());
        let item = trim(&rest[..i]);
        rest = if i < rest.len() {
            &rest[i + 1..]
        } else {
            &rest[rest.len()..]
        };
        if !item.is_empty() {
            return Some(item);
        }
    })
}

pub(crate) fn trim(s: &[u8]) -> &[u8] {
    let is_ws = |b: &u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    let start = s.iter().position(|b| !is_ws(b)).unwrap_or(s.len());
    let end = s.iter().rposition(|b| !is_ws(b)).map_or(start, |e| e + 1);
    &s[start..end.max(start)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applies_sorted_edits_and_inserts_in_order() {
        let src = b"abcdefghij";
        let mut e = EditList::default();
        e.replace(7..8, b"H");
        e.insert_with(2, |t| t.extend_from_slice(b"1"));
        e.insert_with(2, |t| t.extend_from_slice(b"2"));
        e.delete(4..6);
        let mut out = Vec::new();
        e.apply(src, 0..src.len(), &mut out);
        assert_eq!(out, b"ab12cdgHij");
        out.clear();
        e.apply(src, 0..5, &mut out);
        assert_eq!(
            out, b"ab12cd",
            "an edit reaching past the range is cut at its end"
        );
        out.clear();
        e.apply(src, 3..9, &mut out);
        assert_eq!(out, b"dgHi");
        // An insertion added after a deletion at the same offset is still written.
        let mut e = EditList::default();
        e.delete(0..3);
        e.insert_with(0, |t| t.extend_from_slice(b"X"));
        out.clear();
        e.apply(src, 0..src.len(), &mut out);
        assert_eq!(out, b"Xdefghij");
    }

    #[test]
    fn writers_match_std_formatting() {
        let mut v = [0u8; 12];
        hex_into(&mut v[..8], 0xdead_beef);
        hex_into(&mut v[8..], 0x1f);
        assert_eq!(&v, b"deadbeef001f");
        for a in [
            "127.0.0.1:5060",
            "0.10.200.255:0",
            "[::1]:5061",
            "[2001:db8::7]:1",
        ] {
            let sa: SocketAddr = a.parse().unwrap();
            let mut v = Vec::new();
            put_socket_addr(&mut v, sa);
            assert_eq!(v, sa.to_string().as_bytes());
        }
        let ip: IpAddr = "10.0.200.7".parse().unwrap();
        assert!(is_ipv4_text(b"10.0.200.7", ip));
        assert!(!is_ipv4_text(b"10.0.200.70", ip));
        assert!(!is_ipv4_text(b"10.0.200", ip));
        assert!(!is_ipv4_text(b"010.0.200.7", ip));
        assert!(!is_ipv4_text(b"::1", "::1".parse().unwrap()));
    }

    #[test]
    fn comma_split_respects_quotes_and_angles() {
        let v = b" <sip:a@x;lr>, \"B, b\" <sip:b@y> ,sip:c@z ,, ";
        let items: Vec<&[u8]> = split_commas(v).collect();
        assert_eq!(
            items,
            vec![&b"<sip:a@x;lr>"[..], b"\"B, b\" <sip:b@y>", b"sip:c@z"]
        );
        let first = items[0];
        assert_eq!(span_in(v, first), 1..13);
        // Without a comma: the whole value, trimmed, or nothing when it is blank.
        for (v, want) in [
            (&b" <sip:a@x;lr> "[..], vec![&b"<sip:a@x;lr>"[..]]),
            (
                b"\"B\" <sip:b@y>;p=\"q\"",
                vec![&b"\"B\" <sip:b@y>;p=\"q\""[..]],
            ),
            (b"\"open <sip:c>", vec![&b"\"open <sip:c>"[..]]),
            (b"  \t ", vec![]),
            (b"", vec![]),
        ] {
            assert_eq!(split_commas(v).collect::<Vec<_>>(), want);
        }
    }
}
