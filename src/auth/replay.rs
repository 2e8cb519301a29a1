//! Replay protection for `qop=auth` responses: per nonce, the highest nonce count (`nc`)
//! accepted so far (RFC 7616 §3.4, §5.4: "the server can refuse a request whose nc it has
//! already seen").
//!
//! ```text
//!   tag(nonce) ──► BoundedLru ──► { highest nc accepted, issued_at }
//!                       │ full: evict least recently used; if the evicted nonce is still
//!                       ▼ within its lifetime, raise `forgotten_upto` to its issue time
//!   lookup miss and issued_at <= forgotten_upto  ──► Forgotten (caller answers stale)
//! ```
//!
//! Per worker, no sharing. With `SO_REUSEPORT` the kernel picks the worker by hashing the
//! 4-tuple, so a phone that keeps its source address and port (every UDP phone, and a TCP
//! phone on one connection) presents every use of a nonce to the worker that issued it, and
//! that worker's cache sees the whole `nc` sequence. A request that reaches another worker
//! (new source port after a NAT rebinding, a second connection, another node sharing the
//! secret) would find no entry there. Therefore the authenticator by default binds a nonce
//! to the worker that issued it: a valid response on a nonce from another issuer gets
//! `stale=true` and a fresh nonce from the worker now serving the phone (one extra round
//! trip, no password prompt). With binding switched off, such a request is accepted and
//! starts a new `nc` sequence on that worker: a captured request could then be replayed
//! once per other worker within the nonce lifetime.
//!
//! Entries are recorded only after the response has verified, so an attacker without the
//! password cannot push a nonce's count up and lock its owner out. Evicting a live entry
//! must not reopen it to replay: hence the `forgotten_upto` watermark, which turns a lookup
//! miss for any nonce issued no later than an evicted live one into a re-challenge. The
//! watermark only moves when the cache is too small for the live nonces of its worker.

use super::bounded::BoundedLru;
use super::nonce::NonceInfo;

#[derive(Debug, Clone, Copy)]
struct NonceCount {
    highest: u32,
    issued_at: u64,
}

/// What the cache says about a nonce count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceCountCheck {
    /// Greater than every count accepted on this nonce (or the first use).
    Accept,
    /// Not greater than a count already accepted on this nonce.
    Replay,
    /// The nonce may have been used here but its entry was evicted: re-challenge.
    Forgotten,
}

/// Per-worker cache of (nonce, highest `nc` accepted), bounded, least recently used
/// evicted first.
pub struct NonceCountCache {
    entries: BoundedLru<u128, NonceCount>,
    lifetime_secs: u64,
    forgotten_upto: Option<u64>,
    evictions_live: u64,
}

impl NonceCountCache {
    pub fn new(capacity: usize, lifetime_secs: u64) -> Self {
        NonceCountCache {
            entries: BoundedLru::new(capacity),
            lifetime_secs,
            forgotten_upto: None,
            evictions_live: 0,
        }
    }

    /// Would `nc` be accepted on this nonce? Does not record anything.
    pub fn check(&self, nonce: &NonceInfo, nc: u32) -> NonceCountCheck {
        match self.entries.peek(&nonce.tag) {
            Some(e) if nc <= e.highest => NonceCountCheck::Replay,
            Some(_) => NonceCountCheck::Accept,
            None => match self.forgotten_upto {
                Some(w) if nonce.issued_at <= w => NonceCountCheck::Forgotten,
                _ => NonceCountCheck::Accept,
            },
        }
    }

    /// Record that `nc` was accepted on this nonce (after the response verified).
    pub fn record(&mut self, nonce: &NonceInfo, nc: u32, unix_now: u64) {
        let fresh = NonceCount {
            highest: nc,
            issued_at: nonce.issued_at,
        };
        let (entry, evicted) = self.entries.get_or_insert_with(nonce.tag, || fresh);
        entry.highest = entry.highest.max(nc);
        if let Some((_, old)) = evicted {
            let still_live = unix_now.saturating_sub(old.issued_at) <= self.lifetime_secs;
            if still_live {
                self.evictions_live += 1;
                self.forgotten_upto = Some(self.forgotten_upto.unwrap_or(0).max(old.issued_at));
            }
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// How many entries were evicted while their nonce was still live (a sign the cache is
    /// too small for the load).
    pub fn live_evictions(&self) -> u64 {
        self.evictions_live
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(tag: u128, issued_at: u64) -> NonceInfo {
        NonceInfo {
            issued_at,
            issuer: 0,
            tag,
        }
    }

    #[test]
    fn counts_must_increase() {
        let mut c = NonceCountCache::new(8, 300);
        let n = info(1, 100);
        assert_eq!(c.check(&n, 1), NonceCountCheck::Accept);
        c.record(&n, 1, 100);
        assert_eq!(c.check(&n, 1), NonceCountCheck::Replay);
        assert_eq!(c.check(&n, 2), NonceCountCheck::Accept);
        c.record(&n, 5, 101);
        assert_eq!(c.check(&n, 3), NonceCountCheck::Replay);
        assert_eq!(c.check(&n, 6), NonceCountCheck::Accept);
        // Another nonce has its own sequence.
        assert_eq!(c.check(&info(2, 100), 1), NonceCountCheck::Accept);
    }

    #[test]
    fn evicting_a_live_nonce_forgets_it_safely() {
        let mut c = NonceCountCache::new(2, 300);
        c.record(&info(1, 100), 1, 100);
        c.record(&info(2, 110), 1, 110);
        c.record(&info(3, 120), 1, 120); // evicts tag 1, still live
        assert_eq!(c.len(), 2);
        assert_eq!(c.live_evictions(), 1);
        assert_eq!(c.check(&info(1, 100), 1), NonceCountCheck::Forgotten);
        // A nonce issued after the evicted one is unaffected.
        assert_eq!(c.check(&info(9, 101), 1), NonceCountCheck::Accept);
    }

    #[test]
    fn evicting_an_expired_nonce_moves_nothing() {
        let mut c = NonceCountCache::new(1, 300);
        c.record(&info(1, 100), 1, 100);
        c.record(&info(2, 500), 1, 500); // tag 1 expired at 400
        assert_eq!(c.live_evictions(), 0);
        assert_eq!(c.check(&info(3, 100), 1), NonceCountCheck::Accept);
    }
}
