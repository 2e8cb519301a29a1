//! Building digest challenges (RFC 3261 §22.1, §22.3; RFC 7616 §3.3; RFC 8760 §2.4) into a
//! caller's buffer, without allocating.
//!
//! A REGISTER is challenged by the registrar with 401 and `WWW-Authenticate`, any other
//! request by the proxy with 407 and `Proxy-Authenticate`. When both algorithms are
//! offered, one header per algorithm is written, SHA-256 first (RFC 8760 §2.4: in order of
//! preference), all carrying the same nonce:
//!
//! ```text
//! WWW-Authenticate: Digest realm="example.com", nonce="…48 chars…", algorithm=SHA-256, qop="auth"
//! WWW-Authenticate: Digest realm="example.com", nonce="…48 chars…", algorithm=MD5, qop="auth"
//! ```

use super::algorithm::{Algorithm, AlgorithmSet};

/// Which challenge: registrar (401) or proxy (407).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChallengeKind {
    /// 401 Unauthorized with `WWW-Authenticate` (REGISTER, RFC 3261 §22.2).
    Www,
    /// 407 Proxy Authentication Required with `Proxy-Authenticate` (RFC 3261 §22.3).
    Proxy,
}

impl ChallengeKind {
    pub fn status_code(self) -> u16 {
        match self {
            ChallengeKind::Www => 401,
            ChallengeKind::Proxy => 407,
        }
    }

    pub fn reason_phrase(self) -> &'static str {
        match self {
            ChallengeKind::Www => "Unauthorized",
            ChallengeKind::Proxy => "Proxy Authentication Required",
        }
    }

    /// The header that carries the challenge.
    pub fn challenge_header(self) -> &'static str {
        match self {
            ChallengeKind::Www => "WWW-Authenticate",
            ChallengeKind::Proxy => "Proxy-Authenticate",
        }
    }

    /// The header in which the client answers it.
    pub fn credentials_header(self) -> &'static str {
        match self {
            ChallengeKind::Www => "Authorization",
            ChallengeKind::Proxy => "Proxy-Authorization",
        }
    }
}

/// The parameters shared by the challenges of one response.
#[derive(Debug, Clone, Copy)]
pub struct ChallengeParams<'a> {
    /// The protection domain: Ringlet uses the SIP domain (RFC 3261 §22.1).
    pub realm: &'a [u8],
    pub nonce: &'a [u8],
    /// The previous nonce was authentic but stale: the client retries without asking its
    /// user for the password again (RFC 7616 §3.3).
    pub stale: bool,
    /// Returned unchanged by the client; omitted when `None`.
    pub opaque: Option<&'a [u8]>,
}

/// Append one challenge value (`Digest realm="…", nonce="…", …`) for `alg`.
pub fn write_challenge_value(out: &mut Vec<u8>, alg: Algorithm, params: &ChallengeParams<'_>) {
    out.extend_from_slice(b"Digest realm=");
    write_quoted(out, params.realm);
    out.extend_from_slice(b", nonce=");
    write_quoted(out, params.nonce);
    if let Some(opaque) = params.opaque {
        out.extend_from_slice(b", opaque=");
        write_quoted(out, opaque);
    }
    if params.stale {
        out.extend_from_slice(b", stale=true");
    }
    out.extend_from_slice(b", algorithm=");
    out.extend_from_slice(alg.token().as_bytes());
    // RFC 3261 §22.4 / RFC 7616 §3.3: offer qop=auth; clients that predate it ignore it.
    out.extend_from_slice(b", qop=\"auth\"");
}

/// Append one full header line (`Name: value\r\n`) per algorithm in `algorithms`, SHA-256
/// first. Writes nothing when the set is empty.
pub fn write_challenge_headers(
    out: &mut Vec<u8>,
    kind: ChallengeKind,
    algorithms: AlgorithmSet,
    params: &ChallengeParams<'_>,
) {
    for alg in algorithms.iter() {
        out.extend_from_slice(kind.challenge_header().as_bytes());
        out.extend_from_slice(b": ");
        write_challenge_value(out, alg, params);
        out.extend_from_slice(b"\r\n");
    }
}

/// RFC 3261 §25.1 quoted-string: `"` and `\` are escaped; control characters (CR, LF, …)
/// are dropped so that a value can never end the header line.
fn write_quoted(out: &mut Vec<u8>, value: &[u8]) {
    out.push(b'"');
    for &b in value {
        match b {
            b'"' | b'\\' => {
                out.push(b'\\');
                out.push(b);
            }
            0..=0x1f | 0x7f => {}
            _ => out.push(b),
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_escapes_and_drops_controls() {
        let mut out = Vec::new();
        write_quoted(&mut out, b"a\"b\\c\r\nd");
        assert_eq!(out, b"\"a\\\"b\\\\cd\"");
    }
}
