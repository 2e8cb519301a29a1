//! Map keys for user names, aliases and DIDs: short keys live inline in the map's bucket.
//!
//! Almost every user part is short (`alice`, `+4930123456`), so keeping up to 22 bytes in
//! the bucket saves a pointer chase (a cache miss on a large table) on every lookup and a
//! heap block per key. Longer keys go to the heap. Either way the key hashes and compares
//! exactly like the `[u8]` it holds, so maps are queried with a plain `&[u8]` (`Borrow`).

use std::borrow::Borrow;
use std::hash::{Hash, Hasher};

const INLINE: usize = 22;

#[derive(Clone)]
pub enum BytesKey {
    Inline { len: u8, bytes: [u8; INLINE] },
    Heap(Box<[u8]>),
}

impl BytesKey {
    pub fn new(b: &[u8]) -> BytesKey {
        if b.len() <= INLINE {
            let mut bytes = [0u8; INLINE];
            bytes[..b.len()].copy_from_slice(b);
            BytesKey::Inline {
                len: b.len() as u8,
                bytes,
            }
        } else {
            BytesKey::Heap(b.into())
        }
    }

    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            BytesKey::Inline { len, bytes } => &bytes[..usize::from(*len)],
            BytesKey::Heap(b) => b,
        }
    }
}

impl Borrow<[u8]> for BytesKey {
    #[inline]
    fn borrow(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl Hash for BytesKey {
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        // Must equal `<[u8] as Hash>::hash` for `Borrow<[u8]>` lookups to work.
        self.as_bytes().hash(state)
    }
}

impl PartialEq for BytesKey {
    #[inline]
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for BytesKey {}

impl std::fmt::Debug for BytesKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::hash::FastMap;

    #[test]
    fn inline_and_heap_keys_are_found_by_slice() {
        let long = [b'x'; 40];
        let mut m: FastMap<BytesKey, u32> = FastMap::default();
        m.insert(BytesKey::new(b"alice"), 1);
        m.insert(BytesKey::new(&long), 2);
        m.insert(BytesKey::new(b""), 3);
        m.insert(BytesKey::new(&[b'y'; INLINE]), 4);
        assert_eq!(m.get(&b"alice"[..]), Some(&1));
        assert_eq!(m.get(&long[..]), Some(&2));
        assert_eq!(m.get(&b""[..]), Some(&3));
        assert_eq!(m.get(&[b'y'; INLINE][..]), Some(&4));
        assert_eq!(m.get(&b"Alice"[..]), None);
        assert!(matches!(BytesKey::new(&long), BytesKey::Heap(_)));
    }
}
