//! The keyed hash of transaction keys: two independent 64-bit lanes computed in one pass,
//! one to index the table and one (the fingerprint) to confirm a match.
//!
//! Keys contain network-supplied strings (branch, sent-by host, and for RFC 2543 peers the
//! Request-URI, tags and Call-ID), so both lanes are keyed with random seeds chosen per
//! table: a peer cannot aim many keys at one index chain without knowing the seeds. The
//! mixing step is the folded 64x64→128 multiply (as in foldhash / wyhash), a few cycles per
//! 8 bytes instead of SipHash's rounds.
//!
//! A transaction matches when the index lane selects its chain and the fingerprint lane is
//! equal: two independent 64-bit keyed hashes of the same bytes, so a false match needs a
//! 128-bit collision of hashes whose seeds the sender does not know. This lets a lingering
//! transaction drop its request copy: it keeps 16 bytes of key, not the key's text.
//!
//! Every field is written with its length first, so field boundaries cannot shift (the
//! encoding is prefix-free).

/// Two random 64-bit seeds per lane.
#[derive(Debug, Clone, Copy)]
pub struct KeyHasher {
    index: [u64; 2],
    check: [u64; 2],
}

/// An index hash and an independent fingerprint of one transaction key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TxKey {
    pub index: u64,
    pub fingerprint: u64,
}

#[inline(always)]
fn fold_mul(a: u64, b: u64) -> u64 {
    let p = u128::from(a) * u128::from(b);
    (p as u64) ^ ((p >> 64) as u64)
}

/// Odd constants (digits of π) that keep a zero seed from zeroing the state.
const K0: u64 = 0x243f_6a88_85a3_08d3;
const K1: u64 = 0x1319_8a2e_0370_7344;

impl KeyHasher {
    /// Seeds from the operating system's random source.
    pub fn random() -> Self {
        let mut b = [0u8; 32];
        if getrandom::getrandom(&mut b).is_err() {
            // No OS randomness: fall back to std's per-process random keys.
            use std::hash::{BuildHasher, Hasher};
            for (i, chunk) in b.chunks_mut(8).enumerate() {
                let mut h = std::collections::hash_map::RandomState::new().build_hasher();
                h.write_usize(i);
                chunk.copy_from_slice(&h.finish().to_le_bytes());
            }
        }
        let w = |i: usize| {
            let mut x = [0u8; 8];
            x.copy_from_slice(&b[i * 8..i * 8 + 8]);
            u64::from_le_bytes(x)
        };
        Self::with_seeds([w(0), w(1), w(2), w(3)])
    }

    /// Fixed seeds (tests).
    pub fn with_seeds(s: [u64; 4]) -> Self {
        KeyHasher {
            index: [s[0] ^ K0, s[1] | 1],
            check: [s[2] ^ K1, s[3] | 1],
        }
    }

    /// Start hashing one key.
    #[inline]
    pub fn start(&self) -> KeyHash {
        KeyHash {
            a: self.index[0],
            b: self.check[0],
            ma: self.index[1],
            mb: self.check[1],
        }
    }
}

/// One key being hashed (see [`KeyHasher::start`]).
#[derive(Debug, Clone, Copy)]
pub struct KeyHash {
    a: u64,
    b: u64,
    ma: u64,
    mb: u64,
}

impl KeyHash {
    #[inline(always)]
    fn word(&mut self, w: u64) {
        self.a = fold_mul(self.a ^ w, self.ma);
        self.b = fold_mul(self.b ^ w, self.mb);
    }

    /// A 64-bit field.
    #[inline]
    pub fn u64(mut self, v: u64) -> Self {
        self.word(v);
        self
    }

    /// A byte string, as is.
    #[inline]
    pub fn bytes(mut self, s: &[u8]) -> Self {
        self.word(s.len() as u64 ^ (1 << 63));
        let mut chunks = s.chunks_exact(8);
        for c in &mut chunks {
            let mut x = [0u8; 8];
            x.copy_from_slice(c);
            self.word(u64::from_le_bytes(x));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut x = [0u8; 8];
            x[..rest.len()].copy_from_slice(rest);
            self.word(u64::from_le_bytes(x));
        }
        self
    }

    /// A byte string compared without regard to ASCII case (a host name).
    #[inline]
    pub fn bytes_ignore_case(mut self, s: &[u8]) -> Self {
        self.word(s.len() as u64 ^ (3 << 62));
        for c in s.chunks(8) {
            let mut x = [0u8; 8];
            for (d, b) in x.iter_mut().zip(c) {
                *d = b.to_ascii_lowercase();
            }
            self.word(u64::from_le_bytes(x));
        }
        self
    }

    #[inline]
    pub fn finish(self) -> TxKey {
        TxKey {
            index: fold_mul(self.a, self.ma ^ K1),
            fingerprint: fold_mul(self.b, self.mb ^ K0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(h: &KeyHasher, parts: &[&[u8]]) -> TxKey {
        parts.iter().fold(h.start(), |k, p| k.bytes(p)).finish()
    }

    #[test]
    fn equal_keys_hash_equal_and_fields_do_not_shift() {
        let h = KeyHasher::with_seeds([1, 2, 3, 4]);
        assert_eq!(key(&h, &[b"abc", b"def"]), key(&h, &[b"abc", b"def"]));
        assert_ne!(key(&h, &[b"abc", b"def"]), key(&h, &[b"abcd", b"ef"]));
        assert_ne!(key(&h, &[b"", b"x"]), key(&h, &[b"x", b""]));
        // Trailing zero bytes are not the same as a shorter string.
        assert_ne!(key(&h, &[b"ab"]), key(&h, &[b"ab\0"]));
        let k = key(&h, &[b"z9hG4bK776asdhds"]);
        assert_ne!(k.index, k.fingerprint, "the lanes are independent");
    }

    #[test]
    fn host_case_is_ignored_only_where_asked() {
        let h = KeyHasher::with_seeds([5, 6, 7, 8]);
        let a = h.start().bytes_ignore_case(b"Atlanta.Example.COM").finish();
        let b = h.start().bytes_ignore_case(b"atlanta.example.com").finish();
        assert_eq!(a, b);
        let c = h.start().bytes(b"Atlanta.Example.COM").finish();
        let d = h.start().bytes(b"atlanta.example.com").finish();
        assert_ne!(c, d);
    }

    #[test]
    fn seeds_change_everything() {
        let a = KeyHasher::with_seeds([1, 2, 3, 4])
            .start()
            .bytes(b"k")
            .finish();
        let b = KeyHasher::with_seeds([9, 2, 3, 4])
            .start()
            .bytes(b"k")
            .finish();
        let c = KeyHasher::with_seeds([1, 2, 9, 4])
            .start()
            .bytes(b"k")
            .finish();
        assert_ne!(a.index, b.index);
        assert_eq!(a.fingerprint, b.fingerprint);
        assert_ne!(a.fingerprint, c.fingerprint);
    }
}
