//! Brute-force protection: wrong passwords counted per user and per source address; a key
//! that reaches the limit within the window is blocked for a cool-down.
//!
//! ```text
//!   key ──► BoundedLru ──► { window_start, failures, blocked_until }
//!
//!   failure:  window over? restart it │ failures += 1 │ failures == max ──► blocked_until =
//!                                                                         now + block  (newly)
//!   request:  blocked_until > now ──► Blocked (entry touched, so a key under attack stays)
//!             blocked_until <= now ──► entry reset, counting starts again
//! ```
//!
//! The window is fixed, starting at the first failure after the previous window ended.
//! Memory is bounded by the table sizes; when full, the least recently failing or probed key
//! is forgotten. Counting is per worker: with `SO_REUSEPORT` one phone stays on one worker,
//! but an attacker that rotates source ports spreads over workers, so the effective limit per
//! source lies between `max` and `max × workers`.
//!
//! A per-user limit lets anyone who knows a user name lock that user out for the cool-down
//! (also a stale phone with an old password does). Operators who prefer availability set
//! the per-user limit to 0 (off) and rely on the per-source one.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::bounded::BoundedLru;
use super::keyed_hash::{keyed_state, KeyedState};
use super::source::SourceKey;

/// Limits for one kind of key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailureLimit {
    /// Failures within `window` that block the key; 0 disables the limit.
    pub max_failures: u32,
    pub window: Duration,
    pub block: Duration,
}

#[derive(Debug, Clone, Copy)]
struct FailureState {
    window_start: Instant,
    failures: u32,
    blocked_until: Option<Instant>,
}

/// Counts failures for one kind of key.
struct FailureCounter<K> {
    entries: BoundedLru<K, FailureState>,
    limit: FailureLimit,
}

impl<K: Copy + Eq + std::hash::Hash> FailureCounter<K> {
    fn new(limit: FailureLimit, capacity: usize) -> Self {
        // A disabled limit keeps no table beyond one slot.
        let capacity = if limit.max_failures == 0 { 1 } else { capacity };
        FailureCounter {
            entries: BoundedLru::new(capacity),
            limit,
        }
    }

    fn is_blocked(&mut self, key: &K, now: Instant) -> bool {
        if self.limit.max_failures == 0 {
            return false;
        }
        let Some(state) = self.entries.get_mut(key) else {
            return false;
        };
        match state.blocked_until {
            Some(until) if now < until => true,
            Some(_) => {
                // Cool-down over: start from a clean slate.
                *state = FailureState {
                    window_start: now,
                    failures: 0,
                    blocked_until: None,
                };
                false
            }
            None => false,
        }
    }

    /// Count one failure; true when it is the one that blocks the key.
    fn record_failure(&mut self, key: K, now: Instant) -> bool {
        if self.limit.max_failures == 0 {
            return false;
        }
        let fresh = FailureState {
            window_start: now,
            failures: 0,
            blocked_until: None,
        };
        let (state, _) = self.entries.get_or_insert_with(key, || fresh);
        if let Some(until) = state.blocked_until {
            if now < until {
                return false;
            }
            *state = fresh;
        }
        if now.saturating_duration_since(state.window_start) >= self.limit.window {
            *state = fresh;
        }
        state.failures += 1;
        if state.failures >= self.limit.max_failures {
            state.blocked_until = Some(now + self.limit.block);
            return true;
        }
        false
    }
}

/// A user as counted by the failure limits: a keyed 128-bit hash of (user, realm), so the
/// table holds fixed-size keys and never allocates per name. The hash keys are random per
/// tracker, so names that collide cannot be chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UserKey(u128);

/// Which keys a request or a failure concerns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BlockFlags {
    pub user: bool,
    pub source: bool,
}

impl BlockFlags {
    pub fn any(self) -> bool {
        self.user || self.source
    }
}

/// Per-worker brute-force limiter.
pub struct FailureTracker {
    users: FailureCounter<UserKey>,
    sources: FailureCounter<SourceKey>,
    hash_hi: KeyedState,
    hash_lo: KeyedState,
    blocks: u64,
}

impl FailureTracker {
    pub fn new(
        per_user: FailureLimit,
        per_source: FailureLimit,
        users_capacity: usize,
        sources_capacity: usize,
    ) -> Self {
        FailureTracker {
            users: FailureCounter::new(per_user, users_capacity),
            sources: FailureCounter::new(per_source, sources_capacity),
            hash_hi: keyed_state(),
            hash_lo: keyed_state(),
            blocks: 0,
        }
    }

    pub fn user_key(&self, user: &[u8], realm: &[u8]) -> UserKey {
        let hi = self.hash_hi.hash_one((user, realm));
        let lo = self.hash_lo.hash_one((user, realm));
        UserKey((u128::from(hi) << 64) | u128::from(lo))
    }

    /// Which of the keys are blocked at `now`.
    pub fn blocked(&mut self, now: Instant, user: Option<UserKey>, src: IpAddr) -> BlockFlags {
        BlockFlags {
            user: user.is_some_and(|u| self.users.is_blocked(&u, now)),
            source: self.sources.is_blocked(&SourceKey::new(src), now),
        }
    }

    /// Count one wrong password; returns the keys this failure has just blocked (log them
    /// once; later requests see them through [`FailureTracker::blocked`]).
    pub fn record_failure(
        &mut self,
        now: Instant,
        user: Option<UserKey>,
        src: IpAddr,
    ) -> BlockFlags {
        let flags = BlockFlags {
            user: user.is_some_and(|u| self.users.record_failure(u, now)),
            source: self.sources.record_failure(SourceKey::new(src), now),
        };
        self.blocks += u64::from(flags.user) + u64::from(flags.source);
        flags
    }

    /// Blocks started since creation (users and sources).
    pub fn blocks_started(&self) -> u64 {
        self.blocks
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(max: u32) -> FailureLimit {
        FailureLimit {
            max_failures: max,
            window: Duration::from_secs(60),
            block: Duration::from_secs(300),
        }
    }

    #[test]
    fn window_restarts_after_it_ends() {
        let mut c = FailureCounter::new(limit(3), 16);
        let t0 = Instant::now();
        assert!(!c.record_failure(1u8, t0));
        assert!(!c.record_failure(1u8, t0 + Duration::from_secs(30)));
        // The third failure comes after the window: counting restarted, no block.
        assert!(!c.record_failure(1u8, t0 + Duration::from_secs(61)));
        assert!(!c.is_blocked(&1, t0 + Duration::from_secs(62)));
        assert!(!c.record_failure(1u8, t0 + Duration::from_secs(62)));
        assert!(c.record_failure(1u8, t0 + Duration::from_secs(63)));
        assert!(c.is_blocked(&1, t0 + Duration::from_secs(63 + 299)));
        assert!(!c.is_blocked(&1, t0 + Duration::from_secs(63 + 300)));
    }

    #[test]
    fn disabled_limit_never_blocks() {
        let mut c = FailureCounter::new(limit(0), 16);
        let t0 = Instant::now();
        for _ in 0..100 {
            assert!(!c.record_failure(1u8, t0));
        }
        assert!(!c.is_blocked(&1, t0));
    }

    #[test]
    fn user_keys_separate_users_and_realms() {
        let t = FailureTracker::new(limit(1), limit(1), 4, 4);
        assert_eq!(
            t.user_key(b"alice", b"a.test"),
            t.user_key(b"alice", b"a.test")
        );
        assert_ne!(
            t.user_key(b"alice", b"a.test"),
            t.user_key(b"alice", b"b.test")
        );
        assert_ne!(
            t.user_key(b"alic", b"ea.test"),
            t.user_key(b"alice", b".test")
        );
    }
}
