//! A hashed timer wheel with virtual time: one per worker, holding every transaction timer.
//!
//! Time is cut into ticks of a fixed length counted from an origin instant. A deadline is
//! rounded *up* to its tick, so nothing fires early. The wheel has `N` slots (a power of
//! two); an entry for tick `t` lives in slot `t % N` and carries `t` itself, so entries more
//! than one revolution away simply wait in their slot until the cursor comes round with
//! `current >= t`.
//!
//! ```text
//!            current (first tick not yet expired)
//!               │
//!   slots: [ 0 ][ 1 ][ 2 ][ 3 ] ... [N-1]
//!                  │
//!                  └─ entries {tick: 1, ..}, {tick: 1+N, ..}, {tick: 1+3N, ..}
//! ```
//!
//! Invariants:
//! - every entry with `tick < current` has been handed out by [`TimerWheel::expire`];
//! - `earliest` is `None` iff the wheel is empty, otherwise the smallest tick of any entry;
//! - cancellation is lazy: the owner of a timer decides, when it fires, whether it still
//!   matters (a transaction compares the fired deadline with the one it armed last). This keeps
//!   insert O(1) and avoids any handle bookkeeping; a stale entry costs one spurious wake-up.

use std::time::{Duration, Instant};

/// One armed timer.
#[derive(Debug, Clone, Copy)]
struct Entry<T> {
    tick: u64,
    deadline: Instant,
    value: T,
}

/// A hashed timer wheel of values `T` (usually a small copyable transaction handle).
#[derive(Debug)]
pub struct TimerWheel<T> {
    origin: Instant,
    tick_nanos: u64,
    slots: Vec<Vec<Entry<T>>>,
    mask: u64,
    current: u64,
    len: usize,
    earliest: Option<u64>,
}

impl<T: Copy> TimerWheel<T> {
    /// A wheel starting at `origin`, with ticks of `tick` (at least 1 µs) and at least
    /// `slots` slots (rounded up to a power of two).
    pub fn new(origin: Instant, tick: Duration, slots: usize) -> Self {
        let n = slots.max(2).next_power_of_two();
        TimerWheel {
            origin,
            tick_nanos: (tick.as_nanos() as u64).max(1_000),
            slots: (0..n).map(|_| Vec::new()).collect(),
            mask: (n - 1) as u64,
            current: 0,
            len: 0,
            earliest: None,
        }
    }

    /// The default wheel of a worker: 1 ms ticks, 1024 slots (one revolution ≈ 1 s).
    pub fn with_defaults(origin: Instant) -> Self {
        Self::new(origin, Duration::from_millis(1), 1024)
    }

    /// Number of armed entries (stale ones included until they fire).
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn tick_ceil(&self, at: Instant) -> u64 {
        let nanos = at.saturating_duration_since(self.origin).as_nanos() as u64;
        nanos.div_ceil(self.tick_nanos)
    }

    fn tick_floor(&self, at: Instant) -> u64 {
        let nanos = at.saturating_duration_since(self.origin).as_nanos() as u64;
        nanos / self.tick_nanos
    }

    /// Arm `value` to fire at or after `deadline`. A deadline in the past fires on the next
    /// [`TimerWheel::expire`].
    pub fn insert(&mut self, deadline: Instant, value: T) {
        let tick = self.tick_ceil(deadline).max(self.current);
        self.slots[(tick & self.mask) as usize].push(Entry {
            tick,
            deadline,
            value,
        });
        self.len += 1;
        self.earliest = Some(self.earliest.map_or(tick, |e| e.min(tick)));
    }

    /// The instant the wheel next wants to be expired, if any entry is armed. It is never
    /// earlier than the earliest entry's deadline.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.earliest.map(|t| {
            let nanos = t.saturating_mul(self.tick_nanos);
            self.origin + Duration::from_nanos(nanos)
        })
    }

    /// Move every entry whose tick has been reached by `now` into `fired` as
    /// `(deadline, value)`, in no particular order.
    pub fn expire(&mut self, now: Instant, fired: &mut Vec<(Instant, T)>) {
        let now_tick = self.tick_floor(now);
        if now_tick < self.current || self.len == 0 {
            if self.len == 0 {
                self.current = self.current.max(now_tick + 1);
            }
            return;
        }
        let n = self.slots.len() as u64;
        // One revolution visits every slot; more would only revisit them.
        let start = match self.earliest {
            Some(e) => e.max(self.current),
            None => self.current,
        };
        let end = now_tick.min(start + n - 1);
        if start <= now_tick {
            for t in start..=end {
                let slot = &mut self.slots[(t & self.mask) as usize];
                let mut i = 0;
                while i < slot.len() {
                    if slot[i].tick <= now_tick {
                        let e = slot.swap_remove(i);
                        fired.push((e.deadline, e.value));
                        self.len -= 1;
                    } else {
                        i += 1;
                    }
                }
            }
        }
        self.current = now_tick + 1;
        self.recompute_earliest();
    }

    fn recompute_earliest(&mut self) {
        if self.len == 0 {
            self.earliest = None;
            return;
        }
        let n = self.slots.len() as u64;
        for d in 0..n {
            let t = self.current + d;
            let slot = &self.slots[(t & self.mask) as usize];
            if slot.iter().any(|e| e.tick == t) {
                self.earliest = Some(t);
                return;
            }
        }
        // Everything is more than a revolution away.
        self.earliest = self.slots.iter().flatten().map(|e| e.tick).min();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn fires_not_before_deadline_and_in_due_batches() {
        let t0 = Instant::now();
        let mut w = TimerWheel::new(t0, ms(1), 8);
        w.insert(t0 + ms(5), 'a');
        w.insert(t0 + ms(3), 'b');
        w.insert(t0 + ms(30), 'c'); // several revolutions away
        assert_eq!(w.next_deadline(), Some(t0 + ms(3)));
        let mut fired = Vec::new();
        w.expire(t0 + ms(2), &mut fired);
        assert!(fired.is_empty());
        w.expire(t0 + ms(4), &mut fired);
        assert_eq!(fired.iter().map(|f| f.1).collect::<Vec<_>>(), vec!['b']);
        assert_eq!(w.next_deadline(), Some(t0 + ms(5)));
        fired.clear();
        w.expire(t0 + ms(29), &mut fired);
        assert_eq!(fired.iter().map(|f| f.1).collect::<Vec<_>>(), vec!['a']);
        assert_eq!(w.next_deadline(), Some(t0 + ms(30)));
        fired.clear();
        w.expire(t0 + ms(30), &mut fired);
        assert_eq!(fired, vec![(t0 + ms(30), 'c')]);
        assert!(w.is_empty());
        assert_eq!(w.next_deadline(), None);
    }

    #[test]
    fn sub_tick_deadline_rounds_up() {
        let t0 = Instant::now();
        let mut w = TimerWheel::new(t0, ms(10), 16);
        w.insert(t0 + Duration::from_micros(10_500), 1u32);
        let mut fired = Vec::new();
        w.expire(t0 + ms(15), &mut fired);
        assert!(fired.is_empty(), "must not fire before its deadline");
        assert_eq!(w.next_deadline(), Some(t0 + ms(20)));
        w.expire(t0 + ms(20), &mut fired);
        assert_eq!(fired.len(), 1);
    }

    #[test]
    fn past_deadline_fires_on_next_expire_and_long_jump_catches_all() {
        let t0 = Instant::now();
        let mut w = TimerWheel::new(t0, ms(1), 4);
        let mut fired = Vec::new();
        w.expire(t0 + ms(100), &mut fired);
        w.insert(t0 + ms(50), 7u8); // already past
        for k in 0..20 {
            w.insert(t0 + ms(101 + k * 3), k as u8 + 10);
        }
        w.expire(t0 + ms(101), &mut fired);
        let got: Vec<u8> = fired.iter().map(|f| f.1).collect();
        assert!(
            got.contains(&7) && got.contains(&10) && got.len() == 2,
            "{got:?}"
        );
        fired.clear();
        w.expire(t0 + ms(10_000), &mut fired);
        assert_eq!(fired.len(), 19);
        assert!(w.is_empty());
    }
}
