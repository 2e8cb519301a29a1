//! The Via branch this proxy writes on the requests it forwards, and its decoding.
//!
//! A response finds its transaction by the top Via branch alone: the branch names the worker
//! that owns the transaction, the table slot and the slot's generation, and the index of the
//! client branch (fork) inside that transaction. No hash lookup is needed for responses,
//! and a response read by another worker is handed to the owner without touching any table.
//!
//! ```text
//!   z9hG4bK rl 1a2b3c4d 0003 0000002a 00000007 01 9e3779b9
//!   └cookie┘└┘└─salt──┘└wkr┘└─slot──┘└─gen───┘└┘ └─loop──┘
//!            tag         worker  slot  generation fork  loop-detection hash
//! ```
//!
//! All fields are fixed-width lower-case hex (47 bytes in all), so encoding writes into a
//! stack array and decoding is a bounds check plus hex digits.
//! - `loop` is the RFC 3261 §16.6 step 8 loop-detection hash of the request as received
//!   (§16.3 step 4): a request that comes back with one of our Vias whose loop hash equals
//!   the hash of the request now is a loop (482); a different hash is a spiral.
//! - `salt` is chosen per process start, so a branch stays unique across restarts
//!   (RFC 3261 §8.1.1.7: unique across space and time) even though slots and generations
//!   restart from zero.
//! - `generation` changes every time a slot is reused, so a late response for a finished
//!   transaction never matches the slot's next tenant.

use std::fmt;

/// RFC 3261 §8.1.1.7: the magic cookie that starts every RFC 3261 branch.
pub const MAGIC_COOKIE: &[u8] = b"z9hG4bK";

/// The tag after the cookie that marks a branch as one of ours.
const TAG: &[u8] = b"rl";

/// How every branch of ours starts (cookie and tag): a Via without it is not ours.
pub const OURS_PREFIX: &[u8] = b"z9hG4bKrl";

/// Total length of an encoded branch.
pub const BRANCH_LEN: usize = MAGIC_COOKIE.len() + TAG.len() + 8 + 4 + 8 + 8 + 2 + 8;

/// The decoded contents of one of our branches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BranchId {
    pub salt: u32,
    pub worker: u16,
    pub slot: u32,
    pub generation: u32,
    pub fork: u8,
    pub loop_hash: u32,
}

/// An encoded branch value, kept on the stack.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct BranchBuf([u8; BRANCH_LEN]);

impl BranchBuf {
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
    pub fn as_str(&self) -> &str {
        // Only ASCII is ever written into the buffer (cookie, tag, hex digits).
        std::str::from_utf8(&self.0).unwrap_or("")
    }
}

impl fmt::Debug for BranchBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn put_hex(out: &mut [u8], mut v: u64) {
    for b in out.iter_mut().rev() {
        *b = HEX[(v & 0xf) as usize];
        v >>= 4;
    }
}

fn get_hex(inp: &[u8]) -> Option<u64> {
    let mut v: u64 = 0;
    for &b in inp {
        let d = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            _ => return None,
        };
        v = (v << 4) | u64::from(d);
    }
    Some(v)
}

impl BranchId {
    /// Encode this branch as it goes on the wire.
    pub fn encode(&self) -> BranchBuf {
        let mut b = [0u8; BRANCH_LEN];
        let mut i = 0;
        b[..MAGIC_COOKIE.len()].copy_from_slice(MAGIC_COOKIE);
        i += MAGIC_COOKIE.len();
        b[i..i + TAG.len()].copy_from_slice(TAG);
        i += TAG.len();
        put_hex(&mut b[i..i + 8], u64::from(self.salt));
        i += 8;
        put_hex(&mut b[i..i + 4], u64::from(self.worker));
        i += 4;
        put_hex(&mut b[i..i + 8], u64::from(self.slot));
        i += 8;
        put_hex(&mut b[i..i + 8], u64::from(self.generation));
        i += 8;
        put_hex(&mut b[i..i + 2], u64::from(self.fork));
        i += 2;
        put_hex(&mut b[i..i + 8], u64::from(self.loop_hash));
        BranchBuf(b)
    }

    /// Decode a branch parameter value; `None` if it is not one of ours (any salt).
    pub fn decode(branch: &[u8]) -> Option<BranchId> {
        if branch.len() != BRANCH_LEN
            || !branch.starts_with(MAGIC_COOKIE)
            || &branch[MAGIC_COOKIE.len()..MAGIC_COOKIE.len() + TAG.len()] != TAG
        {
            return None;
        }
        let mut i = MAGIC_COOKIE.len() + TAG.len();
        let mut field = |w: usize| {
            let v = get_hex(&branch[i..i + w]);
            i += w;
            v
        };
        Some(BranchId {
            salt: field(8)? as u32,
            worker: field(4)? as u16,
            slot: field(8)? as u32,
            generation: field(8)? as u32,
            fork: field(2)? as u8,
            loop_hash: field(8)? as u32,
        })
    }
}

/// True if `branch` carries the RFC 3261 magic cookie and something after it (RFC 4475
/// §3.2.1: a bare cookie is not a transaction identifier).
pub fn is_rfc3261(branch: &[u8]) -> bool {
    branch.len() > MAGIC_COOKIE.len()
        && branch[..MAGIC_COOKIE.len()].eq_ignore_ascii_case(MAGIC_COOKIE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_extremes() {
        for id in [
            BranchId {
                salt: 0,
                worker: 0,
                slot: 0,
                generation: 0,
                fork: 0,
                loop_hash: 0,
            },
            BranchId {
                salt: u32::MAX,
                worker: u16::MAX,
                slot: u32::MAX,
                generation: u32::MAX,
                fork: u8::MAX,
                loop_hash: u32::MAX,
            },
            BranchId {
                salt: 0xdead_beef,
                worker: 3,
                slot: 42,
                generation: 7,
                fork: 1,
                loop_hash: 0x1234_5678,
            },
        ] {
            let enc = id.encode();
            assert_eq!(enc.as_bytes().len(), BRANCH_LEN);
            assert!(enc.as_str().starts_with("z9hG4bKrl"));
            assert_eq!(BranchId::decode(enc.as_bytes()), Some(id));
        }
    }

    #[test]
    fn foreign_and_damaged_branches_are_not_ours() {
        let good = BranchId {
            salt: 1,
            worker: 2,
            slot: 3,
            generation: 4,
            fork: 5,
            loop_hash: 6,
        }
        .encode();
        assert_eq!(
            good.as_str(),
            "z9hG4bKrl00000001000200000003000000040500000006"
        );
        assert_eq!(BranchId::decode(b"z9hG4bK776asdhds"), None);
        assert_eq!(BranchId::decode(b""), None);
        let mut bad = good.as_bytes().to_vec();
        bad[20] = b'G';
        assert_eq!(BranchId::decode(&bad), None);
        assert_eq!(BranchId::decode(&good.as_bytes()[..BRANCH_LEN - 1]), None);
        assert!(good.as_bytes().starts_with(OURS_PREFIX));
        assert!(is_rfc3261(b"z9hG4bK776asdhds"));
        assert!(!is_rfc3261(b"z9hG4bK"));
        assert!(!is_rfc3261(b"1234"));
    }
}
