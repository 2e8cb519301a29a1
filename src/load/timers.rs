//! Deadlines of the load endpoints' calls: a min-heap with lazy cancellation.
//!
//! An entry is `(when, slot, gen, kind)`. Nothing is ever removed from the middle: a call
//! that no longer wants a timer clears the matching deadline field in its own slot, and
//! the endpoint drops a popped entry whose slot generation or deadline field does not match
//! (see `Entry::is_current` in the endpoints). So arming is O(log n), cancelling is O(1),
//! and the heap holds at most a few stale entries per call.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Entry<K: Ord> {
    pub when: Instant,
    pub slot: u32,
    pub gen: u32,
    pub kind: K,
}

#[derive(Debug)]
pub struct TimerHeap<K: Ord> {
    heap: BinaryHeap<Reverse<Entry<K>>>,
}

impl<K: Ord + Copy> Default for TimerHeap<K> {
    fn default() -> Self {
        TimerHeap {
            heap: BinaryHeap::new(),
        }
    }
}

impl<K: Ord + Copy> TimerHeap<K> {
    pub fn arm(&mut self, when: Instant, slot: u32, gen: u32, kind: K) {
        self.heap.push(Reverse(Entry {
            when,
            slot,
            gen,
            kind,
        }));
    }
    /// The earliest entry (possibly stale).
    pub fn peek(&self) -> Option<Instant> {
        self.heap.peek().map(|r| r.0.when)
    }
    /// Pop the earliest entry if it is due at `now`.
    pub fn pop_due(&mut self, now: Instant) -> Option<Entry<K>> {
        if self.heap.peek().is_some_and(|r| r.0.when <= now) {
            self.heap.pop().map(|r| r.0)
        } else {
            None
        }
    }
    pub fn len(&self) -> usize {
        self.heap.len()
    }
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

/// Record `when` in a call's timer `field` and push the heap entry: the field is what a
/// firing entry is checked against, so a re-armed or cancelled timer's old entry is stale.
pub fn arm<K: Ord + Copy>(
    timers: &mut TimerHeap<K>,
    field: &mut Option<Instant>,
    when: Instant,
    slot: u32,
    gen: u32,
    kind: K,
) {
    *field = Some(when);
    timers.arm(when, slot, gen, kind);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn pops_in_deadline_order_only_when_due() {
        let t0 = Instant::now();
        let mut h = TimerHeap::default();
        h.arm(t0 + Duration::from_millis(30), 1, 0, 'c');
        h.arm(t0 + Duration::from_millis(10), 2, 0, 'a');
        h.arm(t0 + Duration::from_millis(20), 3, 0, 'b');
        assert_eq!(h.peek(), Some(t0 + Duration::from_millis(10)));
        assert!(h.pop_due(t0).is_none());
        let now = t0 + Duration::from_millis(25);
        assert_eq!(h.pop_due(now).map(|e| e.kind), Some('a'));
        assert_eq!(h.pop_due(now).map(|e| e.kind), Some('b'));
        assert!(h.pop_due(now).is_none());
        assert_eq!(h.len(), 1);
    }
}
