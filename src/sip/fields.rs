//! Small typed header values: CSeq, Max-Forwards, Expires, Content-Length, option tags.

use super::method::Method;
use super::scan::{self, TOKEN, WS};

/// RFC 3261 §8.1.1.5: the CSeq sequence number must be less than 2**31.
pub const CSEQ_MAX: u32 = (1 << 31) - 1;

/// A CSeq value: `1*DIGIT LWS Method`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CSeq<'a> {
    pub seq: u32,
    pub method: Method<'a>,
}

impl<'a> CSeq<'a> {
    pub fn parse(v: &'a [u8]) -> Option<CSeq<'a>> {
        // 1*DIGIT (leading zeros allowed) up to CSEQ_MAX, in one pass.
        let mut i = 0;
        let mut seq = 0u64;
        while let Some(&b) = v.get(i) {
            let d = b.wrapping_sub(b'0');
            if d > 9 {
                break;
            }
            // seq <= CSEQ_MAX < 2^31 before this step, so this cannot overflow a u64.
            seq = seq * 10 + u64::from(d);
            if seq > u64::from(CSEQ_MAX) {
                return None;
            }
            i += 1;
        }
        if i == 0 {
            return None;
        }
        // LWS, then the method (a token).
        let ws = scan::span(&v[i..], WS);
        if ws == 0 {
            return None;
        }
        let m = &v[i + ws..];
        if !scan::is_token(m) {
            return None;
        }
        Some(CSeq {
            seq: seq as u32,
            method: Method::from_bytes(m),
        })
    }
}

/// Max-Forwards: `1*DIGIT`, 0..=255 (RFC 4475 scalar02 calls 300 out of range).
pub fn parse_max_forwards(v: &[u8]) -> Option<u8> {
    scan::parse_u32(v, 255).map(|n| n as u8)
}

/// delta-seconds (Expires, Retry-After): a 32-bit decimal (RFC 3261 §20.19).
pub fn parse_delta_seconds(v: &[u8]) -> Option<u32> {
    scan::parse_u32(v, u32::MAX)
}

/// Checks an RFC 1123 date as SIP requires (RFC 3261 §20.17: always "GMT"):
/// `Sun, 06 Nov 1994 08:49:37 GMT`. RFC 4475 baddate uses "EST" and must be refused.
pub fn check_sip_date(v: &[u8]) -> bool {
    // wkday "," SP date1 SP time SP "GMT"
    if v.len() != 29 {
        return false;
    }
    let days: [&[u8]; 7] = [b"Mon", b"Tue", b"Wed", b"Thu", b"Fri", b"Sat", b"Sun"];
    let months: [&[u8]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    let d = |r: std::ops::Range<usize>| v[r].iter().all(u8::is_ascii_digit);
    days.contains(&&v[0..3])
        && &v[3..5] == b", "
        && d(5..7)
        && v[7] == b' '
        && months.contains(&&v[8..11])
        && v[11] == b' '
        && d(12..16)
        && v[16] == b' '
        && d(17..19)
        && v[19] == b':'
        && d(20..22)
        && v[22] == b':'
        && d(23..25)
        && &v[25..] == b" GMT"
}

/// Checks a media type `type "/" subtype *(SEMI m-parameter)` (Content-Type).
pub fn check_media_type(v: &[u8]) -> bool {
    let t = scan::span(v, TOKEN);
    if t == 0 {
        return false;
    }
    let rest = scan::trim_start(&v[t..]);
    if rest.first() != Some(&b'/') {
        return false;
    }
    let rest = scan::trim_start(&rest[1..]);
    let s = scan::span(rest, TOKEN);
    s > 0 && scan::check_params(&rest[s..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cseq() {
        assert_eq!(
            CSeq::parse(b"0009\r\n  INVITE"),
            Some(CSeq {
                seq: 9,
                method: Method::Invite
            })
        );
        assert_eq!(CSeq::parse(b"36893488147419103232 REGISTER"), None);
        assert_eq!(CSeq::parse(b"2147483648 INVITE"), None);
        assert_eq!(CSeq::parse(b"1INVITE"), None);
        assert_eq!(CSeq::parse(b"-1 INVITE"), None);
    }

    #[test]
    fn dates_and_media() {
        assert!(check_sip_date(b"Sat, 13 Nov 2010 23:29:00 GMT"));
        assert!(!check_sip_date(b"Fri, 01 Jan 2010 16:00:00 EST"));
        assert!(check_media_type(b"application/sdp"));
        assert!(check_media_type(
            b"multipart/mixed;boundary=7a9cbec02ceef655"
        ));
        assert!(!check_media_type(b"application"));
        assert_eq!(parse_max_forwards(b"0068"), Some(68));
        assert_eq!(parse_max_forwards(b"300"), None);
    }
}
