//! A fixed-capacity map that evicts its least recently touched entry.
//!
//! Every per-worker table of the auth layer (nonce counts, password failures, request rates)
//! must keep bounded memory however many distinct keys an attacker invents, so they all sit
//! on this one structure.
//!
//! ```text
//!   index: HashMap<K, slot>          slots: Vec<Slot>  (len ≤ capacity, never reallocated)
//!
//!   head ─► [most recent] ◄─► [ ... ] ◄─► [least recent] ◄─ tail
//!                                              │
//!                      insert when full ───────┘ reuses this slot (evicted entry returned)
//! ```
//!
//! Invariants: `index.len() == slots.len() <= capacity`; every slot is on the list exactly
//! once; `index[slot.key] == position of slot`. Both containers are allocated once at their
//! full capacity, so a steady-state insert or eviction does not allocate (hashbrown may
//! rehash in place after many removals, within the same allocation).

use std::collections::HashMap;
use std::hash::Hash;

use super::keyed_hash::{keyed_state, KeyedState};

const NIL: u32 = u32::MAX;

struct Slot<K, V> {
    key: K,
    value: V,
    prev: u32,
    next: u32,
}

/// A map of at most `capacity` entries; inserting into a full map evicts the least
/// recently inserted-or-touched entry and hands it back.
pub struct BoundedLru<K, V> {
    index: HashMap<K, u32, KeyedState>,
    slots: Vec<Slot<K, V>>,
    head: u32,
    tail: u32,
    capacity: usize,
}

impl<K: Copy + Eq + Hash, V> BoundedLru<K, V> {
    /// A map that holds at most `capacity` entries (at least one, at most `u32::MAX - 1`).
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.clamp(1, (NIL - 1) as usize);
        BoundedLru {
            index: HashMap::with_capacity_and_hasher(capacity, keyed_state()),
            slots: Vec::with_capacity(capacity),
            head: NIL,
            tail: NIL,
            capacity,
        }
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Read an entry without making it more recent.
    pub fn peek(&self, key: &K) -> Option<&V> {
        self.index.get(key).map(|&i| &self.slots[i as usize].value)
    }

    /// Look an entry up and make it the most recent.
    pub fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        let i = *self.index.get(key)?;
        self.move_to_front(i);
        Some(&mut self.slots[i as usize].value)
    }

    /// The entry for `key` (made most recent), inserting `make()` if absent. When the insert
    /// had to evict, the evicted entry is returned alongside.
    pub fn get_or_insert_with(
        &mut self,
        key: K,
        make: impl FnOnce() -> V,
    ) -> (&mut V, Option<(K, V)>) {
        if let Some(&i) = self.index.get(&key) {
            self.move_to_front(i);
            return (&mut self.slots[i as usize].value, None);
        }
        let (i, evicted) = self.insert_new(key, make());
        (&mut self.slots[i as usize].value, evicted)
    }

    /// Insert or replace; returns the entry evicted to make room, if any.
    #[cfg(test)]
    pub fn insert(&mut self, key: K, value: V) -> Option<(K, V)> {
        if let Some(&i) = self.index.get(&key) {
            self.slots[i as usize].value = value;
            self.move_to_front(i);
            return None;
        }
        self.insert_new(key, value).1
    }

    fn insert_new(&mut self, key: K, value: V) -> (u32, Option<(K, V)>) {
        if self.slots.len() < self.capacity {
            let i = self.slots.len() as u32;
            self.slots.push(Slot {
                key,
                value,
                prev: NIL,
                next: NIL,
            });
            self.index.insert(key, i);
            self.push_front(i);
            return (i, None);
        }
        // Full: recycle the least recent slot.
        let i = self.tail;
        self.unlink(i);
        let slot = &mut self.slots[i as usize];
        let old_key = std::mem::replace(&mut slot.key, key);
        let old_value = std::mem::replace(&mut slot.value, value);
        self.index.remove(&old_key);
        self.index.insert(key, i);
        self.push_front(i);
        (i, Some((old_key, old_value)))
    }

    fn move_to_front(&mut self, i: u32) {
        if self.head != i {
            self.unlink(i);
            self.push_front(i);
        }
    }

    fn unlink(&mut self, i: u32) {
        let (prev, next) = {
            let s = &self.slots[i as usize];
            (s.prev, s.next)
        };
        if prev == NIL {
            self.head = next;
        } else {
            self.slots[prev as usize].next = next;
        }
        if next == NIL {
            self.tail = prev;
        } else {
            self.slots[next as usize].prev = prev;
        }
    }

    fn push_front(&mut self, i: u32) {
        let old_head = self.head;
        {
            let s = &mut self.slots[i as usize];
            s.prev = NIL;
            s.next = old_head;
        }
        if old_head == NIL {
            self.tail = i;
        } else {
            self.slots[old_head as usize].prev = i;
        }
        self.head = i;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_least_recently_touched() {
        let mut m = BoundedLru::new(3);
        assert!(m.insert(1, "a").is_none());
        assert!(m.insert(2, "b").is_none());
        assert!(m.insert(3, "c").is_none());
        // Touch 1 so that 2 becomes the oldest.
        assert_eq!(m.get_mut(&1).map(|v| *v), Some("a"));
        assert_eq!(m.insert(4, "d"), Some((2, "b")));
        assert_eq!(m.len(), 3);
        assert!(m.peek(&2).is_none());
        assert_eq!(m.insert(5, "e"), Some((3, "c")));
        assert_eq!(m.insert(6, "f"), Some((1, "a")));
        assert_eq!(m.peek(&4), Some(&"d"));
    }

    #[test]
    fn replace_does_not_evict() {
        let mut m = BoundedLru::new(2);
        m.insert(1, 10);
        m.insert(2, 20);
        assert!(m.insert(1, 11).is_none());
        assert_eq!(m.peek(&1), Some(&11));
        assert_eq!(m.insert(3, 30), Some((2, 20)));
    }

    #[test]
    fn capacity_one_and_churn_stay_bounded() {
        let mut m = BoundedLru::new(1);
        for k in 0..1000u32 {
            let (v, evicted) = m.get_or_insert_with(k, || k * 2);
            assert_eq!(*v, k * 2);
            assert_eq!(evicted.map(|e| e.0), k.checked_sub(1));
        }
        assert_eq!(m.len(), 1);
        let mut m = BoundedLru::new(64);
        for k in 0..10_000u32 {
            m.insert(k, ());
        }
        assert_eq!(m.len(), 64);
        assert!(m.peek(&9_999).is_some() && m.peek(&9_936).is_some());
        assert!(m.peek(&9_935).is_none());
    }
}
