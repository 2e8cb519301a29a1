//! Flood protection, as OpenSIPS `pike`: the request rate of each source address over a
//! sliding window; a source above the threshold is dropped for a cool-down.
//!
//! The rate is a two-slot estimate (the sliding-window counter of rate limiters): slots are
//! `window` long and aligned per source; the count for the last `window` is
//!
//! ```text
//!      previous slot             current slot
//!   |─────────────────────|───────────┬─────────|
//!                         slot_start  now
//!   estimate = previous × (1 − elapsed/window) + current      elapsed = now − slot_start
//! ```
//!
//! which assumes the previous slot's requests were spread evenly. A request that makes the
//! estimate exceed `threshold` blocks the source until `now + cooldown`; it and every later
//! request from that source up to then are `Drop`. Requests keep being counted while
//! blocked, so a source still flooding when the cool-down ends is blocked again at once
//! (and logged again: once per cool-down, never per packet).
//!
//! Trusted peers (gateways, other proxies) are exempt and never enter the table. Memory is
//! bounded: when the table is full the least recently seen source is forgotten; a source
//! that floods is by definition recently seen, so it is not the one evicted. Tables are per
//! worker: a source that rotates its port spreads over workers (see `failures`).

use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::bounded::BoundedLru;
use super::source::SourceKey;

/// The configured limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FloodLimit {
    /// Requests per window above which a source is blocked; 0 disables flood protection.
    pub threshold: u32,
    pub window: Duration,
    pub cooldown: Duration,
}

/// What to do with a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FloodVerdict {
    Accept,
    /// Drop silently. `newly_blocked` is true for the one request that started the block:
    /// log the source then, and only then.
    Drop {
        newly_blocked: bool,
    },
}

#[derive(Debug, Clone, Copy)]
struct Rate {
    slot_start: Instant,
    previous: u32,
    current: u32,
    blocked_until: Option<Instant>,
}

/// Per-worker flood detector.
pub struct FloodGuard {
    sources: BoundedLru<SourceKey, Rate>,
    limit: FloodLimit,
    dropped: u64,
    blocks: u64,
}

impl FloodGuard {
    pub fn new(limit: FloodLimit, capacity: usize) -> Self {
        let capacity = if limit.threshold == 0 { 1 } else { capacity };
        FloodGuard {
            sources: BoundedLru::new(capacity),
            limit,
            dropped: 0,
            blocks: 0,
        }
    }

    /// Account one request from `src` at `now`.
    pub fn check(&mut self, now: Instant, src: IpAddr, trusted: bool) -> FloodVerdict {
        if trusted || self.limit.threshold == 0 {
            return FloodVerdict::Accept;
        }
        let window = self.limit.window.max(Duration::from_millis(1));
        let fresh = Rate {
            slot_start: now,
            previous: 0,
            current: 0,
            blocked_until: None,
        };
        let (rate, _) = self
            .sources
            .get_or_insert_with(SourceKey::new(src), || fresh);

        // Advance the slots to the one holding `now`.
        let since = now.saturating_duration_since(rate.slot_start);
        if since >= window * 2 {
            rate.previous = 0;
            rate.current = 0;
            rate.slot_start = now;
        } else if since >= window {
            rate.previous = rate.current;
            rate.current = 0;
            rate.slot_start += window;
        }
        rate.current = rate.current.saturating_add(1);

        if let Some(until) = rate.blocked_until {
            if now < until {
                self.dropped += 1;
                return FloodVerdict::Drop {
                    newly_blocked: false,
                };
            }
            rate.blocked_until = None;
        }

        let elapsed = now.saturating_duration_since(rate.slot_start).as_nanos();
        let window_ns = window.as_nanos();
        let carried = u128::from(rate.previous) * window_ns.saturating_sub(elapsed) / window_ns;
        let estimate = carried + u128::from(rate.current);
        if estimate > u128::from(self.limit.threshold) {
            rate.blocked_until = Some(now + self.limit.cooldown);
            self.dropped += 1;
            self.blocks += 1;
            return FloodVerdict::Drop {
                newly_blocked: true,
            };
        }
        FloodVerdict::Accept
    }

    /// Requests dropped since creation.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Blocks started since creation.
    pub fn blocks_started(&self) -> u64 {
        self.blocks
    }

    /// Sources currently tracked.
    pub fn tracked(&self) -> usize {
        self.sources.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn previous_slot_is_carried_proportionally() {
        let mut g = FloodGuard::new(
            FloodLimit {
                threshold: 10,
                window: Duration::from_secs(2),
                cooldown: Duration::from_secs(60),
            },
            16,
        );
        let ip: IpAddr = "127.0.0.5".parse().unwrap();
        let t0 = Instant::now();
        for _ in 0..10 {
            assert_eq!(g.check(t0, ip, false), FloodVerdict::Accept);
        }
        // Half-way through the next slot half of the 10 still count: 5 + 5 = 10 is fine...
        let mid = t0 + Duration::from_secs(3);
        for _ in 0..5 {
            assert_eq!(g.check(mid, ip, false), FloodVerdict::Accept);
        }
        // ...and one more exceeds.
        assert_eq!(
            g.check(mid, ip, false),
            FloodVerdict::Drop {
                newly_blocked: true
            }
        );
    }
}
