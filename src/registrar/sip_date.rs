//! The `Date` header value of a 200 to REGISTER (RFC 3261 §10.3 step 8: "SHOULD include a
//! Date header field"; §20.17: RFC 1123 form, always GMT), computed from Unix time that the
//! caller derived from its virtual clock; no clock is read here.

const DAYS: [&[u8; 3]; 7] = [b"Sun", b"Mon", b"Tue", b"Wed", b"Thu", b"Fri", b"Sat"];
const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

/// Year, month (1-12), day (1-31) of a day count since 1970-01-01 (proleptic Gregorian;
/// H. Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, usize, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // day of era, 0..=146096
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as usize;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn two(out: &mut Vec<u8>, v: u64) {
    out.push(b'0' + (v / 10 % 10) as u8);
    out.push(b'0' + (v % 10) as u8);
}

/// Appends `Sat, 13 Nov 2010 23:29:00 GMT` for `unix_ms` (years past 9999 are not
/// representable in the format and print as 9999).
pub fn write_sip_date(unix_ms: u64, out: &mut Vec<u8>) {
    let secs = unix_ms / 1000;
    let days = (secs / 86_400) as i64;
    let (year, month, day) = civil_from_days(days);
    let weekday = ((days + 4) % 7) as usize; // 1970-01-01 was a Thursday
    out.extend_from_slice(DAYS[weekday]);
    out.extend_from_slice(b", ");
    two(out, u64::from(day));
    out.push(b' ');
    out.extend_from_slice(MONTHS[month - 1]);
    out.push(b' ');
    let y = year.clamp(0, 9999) as u64;
    two(out, y / 100);
    two(out, y % 100);
    out.push(b' ');
    let s = secs % 86_400;
    two(out, s / 3600);
    out.push(b':');
    two(out, s / 60 % 60);
    out.push(b':');
    two(out, s % 60);
    out.extend_from_slice(b" GMT");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(unix_s: u64) -> String {
        let mut v = Vec::new();
        write_sip_date(unix_s * 1000, &mut v);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn rfc_1123_dates() {
        assert_eq!(date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        // RFC 3261 §20.17's example.
        assert_eq!(date(1_289_690_940), "Sat, 13 Nov 2010 23:29:00 GMT");
        assert_eq!(date(951_782_400), "Tue, 29 Feb 2000 00:00:00 GMT");
        assert_eq!(date(1_764_000_000), "Mon, 24 Nov 2025 16:00:00 GMT");
    }
}
