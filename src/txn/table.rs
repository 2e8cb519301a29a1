//! The per-worker transaction table: a slab of slots with generations, plus a hash index.
//!
//! Exactly one worker owns a table; nothing in it is shared or locked.
//!
//! ```text
//!   index: HashMap<key hash, head slot>          slots (slab)
//!   ┌──────────┬──────┐            ┌────┬─────┬──────┬───────────────────┐
//!   │ 0x9f3..  │  2 ──┼──────────► │ #2 │ g=7 │ next─┼─► #5 (same hash)   │
//!   │ 0x11a..  │  0   │            │ #0 │ g=3 │ none │ value: Some(txn)  │
//!   └──────────┴──────┘            │ #1 │ g=4 │  -   │ value: None (free)│──► free list
//!                                  └────┴─────┴──────┴───────────────────┘
//! ```
//!
//! Invariants:
//! - a [`TxHandle`] `(slot, generation)` is valid iff `slots[slot].generation == generation`
//!   and the slot holds a value; removing a value bumps the generation, so stale handles (in
//!   the timer wheel, in a branch parameter on the wire) never reach the slot's next tenant;
//! - every occupied slot is on exactly one index chain, the one of its key hash; free slots
//!   are on the free list and on no chain;
//! - the index stores hashes only. The caller confirms a candidate with its own check (the
//!   proxy compares an independent fingerprint of the key, `key_hash.rs`), so neither the
//!   index nor the transaction owns a copy of the key's text;
//! - slab, free list and index are reserved for `max_len` (up to [`PRESIZE_LIMIT`]) at
//!   creation: filling the table never rehashes the index nor moves the slab;
//! - `len() <= max_len()`: past the limit, [`TransactionTable::insert`] refuses and the caller
//!   answers 503 (and counts it).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

const NONE: u32 = u32::MAX;

/// The most slots a table reserves when it is created (a larger table grows past it).
/// Covers `[sip] max_transactions` up to a million per worker: a table that outgrows its
/// reservation rehashes its index and moves its slab in one go, a stall of tens of
/// milliseconds at 100 k transactions that shows up in the latency tail (calls linger
/// 32 s, so 2,000 calls/s per worker keep ~130 k transactions). Reserved pages that are
/// never touched cost address space only.
pub const PRESIZE_LIMIT: usize = 1 << 20;

/// A handle naming one tenant of one slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TxHandle {
    pub slot: u32,
    pub generation: u32,
}

/// The table is at its configured maximum size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableFull;

#[derive(Debug)]
struct Slot<T> {
    generation: u32,
    key: u64,
    next: u32,
    value: Option<T>,
}

/// Keys are already well-mixed hashes: pass them through.
#[derive(Default)]
pub struct PassThroughHasher(u64);

impl Hasher for PassThroughHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// A slab of transactions `T` with an index by key hash.
#[derive(Debug)]
pub struct TransactionTable<T> {
    slots: Vec<Slot<T>>,
    free: Vec<u32>,
    index: HashMap<u64, u32, BuildHasherDefault<PassThroughHasher>>,
    len: usize,
    max_len: usize,
}

impl<T> TransactionTable<T> {
    /// A table that holds at most `max_len` transactions (at most `u32::MAX - 1`).
    ///
    /// Slots and index are reserved up front for `max_len` (up to [`PRESIZE_LIMIT`]), so the
    /// hot path never rehashes the index nor moves the slab while the table fills: pages
    /// reserved but never touched cost no memory.
    pub fn new(max_len: usize) -> Self {
        let max_len = max_len.min((NONE - 1) as usize);
        let reserve = max_len.min(PRESIZE_LIMIT);
        let mut index = HashMap::default();
        index.reserve(reserve);
        TransactionTable {
            slots: Vec::with_capacity(reserve),
            free: Vec::with_capacity(reserve),
            index,
            len: 0,
            max_len,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn max_len(&self) -> usize {
        self.max_len
    }

    /// Bytes of table overhead per slot (slot header plus the inline value, without what
    /// the value owns on the heap).
    pub const fn slot_bytes() -> usize {
        std::mem::size_of::<Slot<T>>()
    }

    /// Store `value` under `key` (a hash of its transaction key).
    pub fn insert(&mut self, key: u64, value: T) -> Result<TxHandle, TableFull> {
        self.insert_with(key, |_| value)
    }

    /// Store the value built by `make` (which learns the handle first, e.g. to encode it
    /// in a branch) under `key`.
    pub fn insert_with(
        &mut self,
        key: u64,
        make: impl FnOnce(TxHandle) -> T,
    ) -> Result<TxHandle, TableFull> {
        if self.len >= self.max_len {
            return Err(TableFull);
        }
        let slot = match self.free.pop() {
            Some(s) => s,
            None => {
                self.slots.push(Slot {
                    generation: 0,
                    key: 0,
                    next: NONE,
                    value: None,
                });
                (self.slots.len() - 1) as u32
            }
        };
        let head = self.index.insert(key, slot).unwrap_or(NONE);
        let s = &mut self.slots[slot as usize];
        let handle = TxHandle {
            slot,
            generation: s.generation,
        };
        s.key = key;
        s.next = head;
        s.value = Some(make(handle));
        self.len += 1;
        Ok(handle)
    }

    fn valid(&self, h: TxHandle) -> bool {
        self.slots
            .get(h.slot as usize)
            .is_some_and(|s| s.generation == h.generation && s.value.is_some())
    }

    pub fn get(&self, h: TxHandle) -> Option<&T> {
        if !self.valid(h) {
            return None;
        }
        self.slots[h.slot as usize].value.as_ref()
    }

    pub fn get_mut(&mut self, h: TxHandle) -> Option<&mut T> {
        if !self.valid(h) {
            return None;
        }
        self.slots[h.slot as usize].value.as_mut()
    }

    /// The first transaction stored under `key` for which `is_it` holds.
    pub fn find(&self, key: u64, mut is_it: impl FnMut(&T) -> bool) -> Option<TxHandle> {
        let mut cur = *self.index.get(&key)?;
        while cur != NONE {
            let s = &self.slots[cur as usize];
            if let Some(v) = &s.value {
                if is_it(v) {
                    return Some(TxHandle {
                        slot: cur,
                        generation: s.generation,
                    });
                }
            }
            cur = s.next;
        }
        None
    }

    /// Take the transaction out; its handle (and every copy of it) becomes stale.
    pub fn remove(&mut self, h: TxHandle) -> Option<T> {
        if !self.valid(h) {
            return None;
        }
        let key = self.slots[h.slot as usize].key;
        let next = self.slots[h.slot as usize].next;
        // Unlink from the chain of its key.
        match self.index.get(&key).copied() {
            Some(head) if head == h.slot => {
                if next == NONE {
                    self.index.remove(&key);
                } else {
                    self.index.insert(key, next);
                }
            }
            Some(head) => {
                let mut cur = head;
                while cur != NONE {
                    let n = self.slots[cur as usize].next;
                    if n == h.slot {
                        self.slots[cur as usize].next = next;
                        break;
                    }
                    cur = n;
                }
            }
            None => {}
        }
        let s = &mut self.slots[h.slot as usize];
        s.generation = s.generation.wrapping_add(1);
        s.next = NONE;
        self.free.push(h.slot);
        self.len -= 1;
        s.value.take()
    }

    /// Handles of every live transaction (for shutdown and statistics; not the hot path).
    pub fn handles(&self) -> impl Iterator<Item = TxHandle> + '_ {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.value.is_some())
            .map(|(i, s)| TxHandle {
                slot: i as u32,
                generation: s.generation,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_find_remove_with_collisions() {
        let mut t = TransactionTable::new(10);
        let a = t.insert(7, "a").unwrap();
        let b = t.insert(7, "b").unwrap(); // same hash, different key
        let c = t.insert(9, "c").unwrap();
        assert_eq!(t.find(7, |v| *v == "a"), Some(a));
        assert_eq!(t.find(7, |v| *v == "b"), Some(b));
        assert_eq!(t.find(7, |v| *v == "c"), None);
        assert_eq!(t.find(9, |_| true), Some(c));
        assert_eq!(t.remove(b), Some("b"));
        assert_eq!(t.find(7, |v| *v == "a"), Some(a));
        assert_eq!(t.find(7, |v| *v == "b"), None);
        assert_eq!(t.remove(a), Some("a"));
        assert_eq!(t.find(7, |_| true), None);
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn stale_handles_never_reach_the_next_tenant() {
        let mut t = TransactionTable::new(10);
        let a = t.insert(1, 10).unwrap();
        assert_eq!(t.remove(a), Some(10));
        let b = t.insert(2, 20).unwrap();
        assert_eq!(a.slot, b.slot, "slot is reused");
        assert_ne!(a.generation, b.generation);
        assert_eq!(t.get(a), None);
        assert_eq!(t.remove(a), None);
        assert_eq!(t.get(b), Some(&20));
    }

    #[test]
    fn filling_to_max_len_never_grows_slab_or_index() {
        let mut t = TransactionTable::new(5000);
        let (slots, index) = (t.slots.capacity(), t.index.capacity());
        assert!(slots >= 5000 && index >= 5000);
        let hs: Vec<TxHandle> = (0..5000u64)
            .map(|k| t.insert(k.wrapping_mul(0x9e37_79b9_7f4a_7c15), k).unwrap())
            .collect();
        for h in hs.iter().step_by(2) {
            t.remove(*h);
        }
        for k in 0..2500u64 {
            t.insert(k ^ 0x5555, k).unwrap();
        }
        assert_eq!(t.len(), 5000);
        assert_eq!(t.slots.capacity(), slots, "the slab never moved");
        assert_eq!(
            t.index.capacity(),
            index,
            "the index never rehashed to grow"
        );
    }

    #[test]
    fn refuses_past_max_len() {
        let mut t = TransactionTable::new(2);
        let a = t.insert(1, ()).unwrap();
        t.insert(2, ()).unwrap();
        assert_eq!(t.insert(3, ()), Err(TableFull));
        t.remove(a);
        assert!(t.insert(3, ()).is_ok());
        assert_eq!(t.handles().count(), 2);
    }
}
