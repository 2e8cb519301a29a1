//! The hasher of the auth layer's per-worker tables: aHash with secret random keys.
//!
//! The tables are keyed by things an attacker can choose (source addresses, user names
//! through [`super::failures`]), so the hash must be keyed with a secret, like std's
//! SipHash; aHash keyed the same way costs a fraction of SipHash on these short keys. The
//! keys come from std's own randomly keyed `RandomState` (no extra system call).

use std::hash::BuildHasher;

/// The hasher builder of every auth table.
pub type KeyedState = ahash::RandomState;

/// A builder with fresh secret keys (different for every table and every process).
pub fn keyed_state() -> KeyedState {
    let std_keys = std::collections::hash_map::RandomState::new();
    ahash::RandomState::with_seeds(
        std_keys.hash_one(0u8),
        std_keys.hash_one(1u8),
        std_keys.hash_one(2u8),
        std_keys.hash_one(3u8),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builders_are_keyed_differently() {
        let (a, b) = (keyed_state(), keyed_state());
        assert_eq!(a.hash_one(b"alice"), a.hash_one(b"alice"));
        assert_ne!(a.hash_one(b"alice"), b.hash_one(b"alice"));
    }
}
