//! Timer slack: the worker sleeps until its endpoint's deadline rounded *up* to a grid, so
//! that timers due within one grid cell share one wake-up.
//!
//! ```text
//!   origin      +grain      +2·grain     +3·grain
//!     │───────────│────────────│────────────│──►
//!                   ▲   ▲  ▲   ▲
//!                   deadlines  └─ the one wake-up that serves all three
//! ```
//!
//! Why: a stateful proxy's timer wheel has a 1 ms tick and lazily cancelled entries (Timer
//! A/E/B/F entries stay armed after the response came), so under load it wants a wake-up
//! almost every millisecond. Each wake-up is a context switch, which costs more than the
//! timers it fires. RFC 3261 timers are hundreds of milliseconds (T1 = 500 ms), so firing
//! them up to one grain late changes nothing a peer can see; a busy worker fires due
//! timers on its datagram turns anyway, without any wake-up of their own.
//!
//! Invariant: [`TimerSlack::round_up`] never returns an instant earlier than its input
//! (nothing fires early) nor later than input + grain.

use std::time::{Duration, Instant};

/// Rounds wake-up deadlines up to multiples of `grain` counted from `origin`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TimerSlack {
    origin: Instant,
    grain_nanos: u64,
}

impl TimerSlack {
    /// A grid of `grain` from `origin`; a zero grain leaves deadlines as they are.
    pub fn new(origin: Instant, grain: Duration) -> TimerSlack {
        TimerSlack {
            origin,
            grain_nanos: grain.as_nanos().min(u128::from(u64::MAX)) as u64,
        }
    }

    /// `deadline` moved up to the next grid point (itself when it lies on one).
    pub fn round_up(&self, deadline: Option<Instant>) -> Option<Instant> {
        let d = deadline?;
        if self.grain_nanos == 0 || d <= self.origin {
            return Some(d);
        }
        let since = d.duration_since(self.origin).as_nanos();
        let grain = u128::from(self.grain_nanos);
        let rounded = since.div_ceil(grain) * grain;
        let extra = (rounded - since) as u64;
        Some(d + Duration::from_nanos(extra))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_in_one_cell_share_its_end_and_never_move_earlier() {
        let t0 = Instant::now();
        let s = TimerSlack::new(t0, Duration::from_millis(10));
        let ms = |n: u64| t0 + Duration::from_millis(n);
        let us = |n: u64| t0 + Duration::from_micros(n);
        assert_eq!(s.round_up(Some(us(10_001))), Some(ms(20)));
        assert_eq!(s.round_up(Some(ms(13))), Some(ms(20)));
        assert_eq!(s.round_up(Some(us(19_999))), Some(ms(20)));
        assert_eq!(
            s.round_up(Some(ms(20))),
            Some(ms(20)),
            "on the grid: unchanged"
        );
        assert_eq!(s.round_up(Some(us(20_001))), Some(ms(30)));
        assert_eq!(s.round_up(None), None);
        for n in [1u64, 999, 5_000, 123_456, 9_999_999] {
            let d = us(n);
            let r = s.round_up(Some(d)).unwrap();
            assert!(
                r >= d && r - d < Duration::from_millis(10),
                "{n} µs -> {r:?}"
            );
        }
    }

    #[test]
    fn zero_grain_and_past_deadlines_are_left_alone() {
        let t0 = Instant::now();
        let d = t0 + Duration::from_micros(1234);
        assert_eq!(
            TimerSlack::new(t0, Duration::ZERO).round_up(Some(d)),
            Some(d)
        );
        let s = TimerSlack::new(d, Duration::from_millis(10));
        assert_eq!(s.round_up(Some(t0)), Some(t0), "before the origin: due now");
    }
}
