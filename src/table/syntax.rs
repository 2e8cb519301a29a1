//! Lexical rules of the table file: tokens, comments, and the shape of names, numbers,
//! hosts and URIs.
//!
//! A line is whitespace-separated tokens; `#` at the start of a token begins a comment that
//! runs to the end of the line (a `#` inside a token is part of it). Tokens keep their byte
//! offset in the line so that `ringlet user passwd` can replace one value and leave the rest
//! of the line, spacing and comment included, as the operator wrote it.
//!
//! These checks are the table's own: the file is read before any SIP message exists, and
//! they are deliberately strict (what passes here is also acceptable to the SIP layer).

/// One whitespace-separated token of a line and where it starts (byte offset).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token<'a> {
    pub text: &'a str,
    pub start: usize,
}

impl Token<'_> {
    pub fn end(&self) -> usize {
        self.start + self.text.len()
    }
}

/// Split a line into tokens, stopping at a comment.
pub fn tokenize(line: &str) -> Vec<Token<'_>> {
    let bytes = line.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if bytes[i] == b'#' {
            break;
        }
        let start = i;
        while i < bytes.len() && !bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        tokens.push(Token {
            text: &line[start..i],
            start,
        });
    }
    tokens
}

/// Split `key=value`; `None` when the token has no `=`.
pub fn key_value(token: &str) -> Option<(&str, &str)> {
    token.split_once('=')
}

/// RFC 3261 §25.1 `user`: unreserved / escaped / user-unreserved, at least one character.
pub fn is_valid_user(user: &str) -> bool {
    let b = user.as_bytes();
    if b.is_empty() {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'%' {
            if i + 2 >= b.len() {
                return false;
            }
            if !(b[i + 1].is_ascii_hexdigit() && b[i + 2].is_ascii_hexdigit()) {
                return false;
            }
            i += 3;
            continue;
        }
        let ok = c.is_ascii_alphanumeric()
            // mark
            || b"-_.!~*'()".contains(&c)
            // user-unreserved
            || b"&=+$,;?/".contains(&c);
        if !ok {
            return false;
        }
        i += 1;
    }
    true
}

/// Check a host (RFC 3261 §25.1 `host`: hostname, IPv4 address or `[IPv6]`) and return it
/// lowercased, the form the snapshot indexes by. A single trailing dot is not accepted: the
/// table names domains the way URIs carry them.
pub fn normalize_host(host: &str) -> Option<String> {
    if host.is_empty() || host.len() > 253 {
        return None;
    }
    if let Some(inner) = host.strip_prefix('[') {
        let inner = inner.strip_suffix(']')?;
        let addr: std::net::Ipv6Addr = inner.parse().ok()?;
        return Some(format!("[{addr}]"));
    }
    if host.parse::<std::net::Ipv4Addr>().is_ok() {
        return Some(host.to_string());
    }
    // A dotted string of digits that is not an IPv4 address is a typo, not a hostname.
    if host.bytes().all(|c| c.is_ascii_digit() || c == b'.') {
        return None;
    }
    for label in host.split('.') {
        let lb = label.as_bytes();
        if lb.is_empty() || lb.len() > 63 {
            return None;
        }
        if !lb.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-') {
            return None;
        }
        if lb[0] == b'-' || lb[lb.len() - 1] == b'-' {
            return None;
        }
    }
    Some(host.to_ascii_lowercase())
}

/// `host[:port]` with an IPv6 host in brackets. Returns the lowercased host and the port.
pub fn parse_hostport(s: &str) -> Option<(String, Option<u16>)> {
    let (host, port) = if s.starts_with('[') {
        let close = s.find(']')?;
        let rest = &s[close + 1..];
        let port = match rest {
            "" => None,
            _ => Some(rest.strip_prefix(':')?),
        };
        (&s[..=close], port)
    } else {
        match s.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        }
    };
    let host = normalize_host(host)?;
    let port = match port {
        None => None,
        Some(p) => Some(parse_port(p)?),
    };
    Some((host, port))
}

/// A port number 1..=65535, decimal digits only.
pub fn parse_port(s: &str) -> Option<u16> {
    if s.is_empty() || s.len() > 5 || !is_digits(s) {
        return None;
    }
    match s.parse::<u16>() {
        Ok(0) | Err(_) => None,
        Ok(p) => Some(p),
    }
}

/// Non-empty and only `0-9`.
pub fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit())
}

/// A telephone number as it appears in a DID or a gateway prefix: optional `+`, digits.
pub fn is_number(s: &str) -> bool {
    is_digits(s.strip_prefix('+').unwrap_or(s))
}

/// Exactly `len` hex digits; returns them lowercased (digest HA1s are compared as lowercase
/// hex, RFC 2617 §3.2.2.2).
pub fn parse_hex<const N: usize>(s: &str) -> Result<[u8; N], String> {
    if s.len() != N {
        return Err(format!("must be {N} hex digits (got {})", s.len()));
    }
    let mut out = [0u8; N];
    for (o, c) in out.iter_mut().zip(s.bytes()) {
        if !c.is_ascii_hexdigit() {
            return Err(format!("must be {N} hex digits (found {:?})", c as char));
        }
        *o = c.to_ascii_lowercase();
    }
    Ok(out)
}

/// A name of a gateway or a group: letters, digits, `-`, `_`, `.`; starts with a letter.
pub fn is_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 64
        && b[0].is_ascii_alphabetic()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || b"-_.".contains(c))
}

/// Check a target URI: `sip:`/`sips:` with an optional user part, a valid host and port,
/// and parameters/headers free of whitespace and controls; or a `tel:` number
/// (RFC 3966 global number `+digits` with visual separators `-.()`, or local digits).
pub fn check_uri(uri: &str) -> Result<(), &'static str> {
    if uri.bytes().any(|c| c <= b' ' || c == 0x7f) {
        return Err("URI must not contain spaces or control characters");
    }
    let lower = uri
        .get(..5)
        .map(|s| s.to_ascii_lowercase())
        .unwrap_or_default();
    if lower.starts_with("tel:") {
        let num = &uri[4..];
        let num = num.split(';').next().unwrap_or("");
        let digits = num.strip_prefix('+').unwrap_or(num);
        let ok = !digits.is_empty()
            && digits.bytes().any(|c| c.is_ascii_digit())
            && digits
                .bytes()
                .all(|c| c.is_ascii_hexdigit() || b"-.()*#".contains(&c));
        return if ok {
            Ok(())
        } else {
            Err("tel: URI needs a telephone number")
        };
    }
    let rest = if lower.starts_with("sips:") {
        &uri[5..]
    } else if lower.starts_with("sip:") {
        &uri[4..]
    } else {
        return Err("URI must start with sip:, sips: or tel:");
    };
    // Parameters and headers follow the host part; the user part may itself hold ';'
    // (user-unreserved), so find the host after the last '@' first.
    let (user, hostpart) = match rest.rfind('@') {
        Some(at) => (Some(&rest[..at]), &rest[at + 1..]),
        None => (None, rest),
    };
    if let Some(user) = user {
        let user = user.split_once(':').map(|(u, _)| u).unwrap_or(user);
        if !is_valid_user(user) {
            return Err("URI has an invalid user part");
        }
    }
    let end = hostpart.find([';', '?']).unwrap_or(hostpart.len());
    if parse_hostport(&hostpart[..end]).is_none() {
        return Err("URI has an invalid host or port");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_keep_offsets_and_stop_at_comments() {
        let t = tokenize("  user a@b  md5=x # note");
        let texts: Vec<_> = t.iter().map(|t| t.text).collect();
        assert_eq!(texts, ["user", "a@b", "md5=x"]);
        assert_eq!(t[2].start, 12);
        assert!(tokenize("# only a comment").is_empty());
        assert_eq!(
            tokenize("a b#c").len(),
            2,
            "a # inside a token is not a comment"
        );
    }

    #[test]
    fn users_follow_rfc3261() {
        assert!(is_valid_user("alice"));
        assert!(is_valid_user("+4930123;phone-context=x"));
        assert!(is_valid_user("a%20b"));
        assert!(!is_valid_user("a%2"));
        assert!(!is_valid_user("a%"));
        assert!(!is_valid_user("a b"));
        assert!(!is_valid_user("a@b"));
        assert!(!is_valid_user(""));
    }

    #[test]
    fn hosts() {
        assert_eq!(
            normalize_host("Example.COM").as_deref(),
            Some("example.com")
        );
        assert_eq!(normalize_host("127.0.0.1").as_deref(), Some("127.0.0.1"));
        assert_eq!(normalize_host("[::1]").as_deref(), Some("[::1]"));
        assert_eq!(normalize_host("1.2.3.456"), None);
        assert_eq!(normalize_host("a..b"), None);
        assert_eq!(normalize_host("-a.b"), None);
        assert_eq!(normalize_host("a_b.c"), None);
        assert_eq!(
            parse_hostport("gw.example.net:5070"),
            Some(("gw.example.net".into(), Some(5070)))
        );
        assert_eq!(
            parse_hostport("[::1]:5060"),
            Some(("[::1]".into(), Some(5060)))
        );
        assert_eq!(parse_hostport("h:0"), None);
        assert_eq!(parse_hostport("h:70000"), None);
    }

    #[test]
    fn uris() {
        assert!(check_uri("sip:alice@example.com").is_ok());
        assert!(check_uri("sip:voicemail@127.0.0.1:5090;transport=udp").is_ok());
        assert!(check_uri("sips:[::1]").is_ok());
        assert!(check_uri("tel:+49-30-1234").is_ok());
        assert!(check_uri("http://x").is_err());
        assert!(check_uri("sip:").is_err());
        assert!(check_uri("sip:a b@c").is_err());
        assert!(check_uri("sip:alice@bad_host").is_err());
        assert!(check_uri("tel:").is_err());
    }

    #[test]
    fn hex() {
        assert_eq!(parse_hex::<4>("aB09"), Ok(*b"ab09"));
        assert!(parse_hex::<4>("ab0").is_err());
        assert!(parse_hex::<4>("ab0g").is_err());
    }
}
