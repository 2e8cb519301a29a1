//! SIP timer values (RFC 3261 §17.1.1.1 and table 4), with the RFC defaults.
//!
//! Every timer a transaction arms is derived from these four numbers plus the proxy's
//! Timer C. They are plain data: the runtime reads them from `ringlet.toml` and hands them
//! to the core, which never reads a clock itself.

use std::time::Duration;

/// The timer base values of one worker's transactions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimerConfig {
    /// RFC 3261 §17.1.1.1: the round-trip estimate, 500 ms by default.
    pub t1: Duration,
    /// RFC 3261 §17.1.2.2: the cap on non-INVITE request and INVITE response retransmit
    /// intervals, 4 s by default.
    pub t2: Duration,
    /// RFC 3261 §17.1.2.2: the longest time a message stays in the network, 5 s by default.
    pub t4: Duration,
    /// RFC 3261 §16.6 step 11: how long a proxy waits for a final answer to an INVITE
    /// branch (reset on each provisional); must be more than 3 minutes, 180 s by default.
    pub timer_c: Duration,
}

impl Default for TimerConfig {
    fn default() -> Self {
        TimerConfig {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
            timer_c: Duration::from_secs(180),
        }
    }
}

impl TimerConfig {
    /// RFC 3261 §17.1.1.2: Timer B (INVITE transaction timeout) is 64*T1.
    pub fn timer_b(&self) -> Duration {
        self.t1 * 64
    }
    /// RFC 3261 §17.1.2.2: Timer F (non-INVITE transaction timeout) is 64*T1.
    pub fn timer_f(&self) -> Duration {
        self.t1 * 64
    }
    /// RFC 3261 §17.2.1: Timer H (wait for ACK receipt) is 64*T1.
    pub fn timer_h(&self) -> Duration {
        self.t1 * 64
    }
    /// RFC 3261 §17.2.1: Timer I (wait for ACK retransmits) is T4 for UDP.
    pub fn timer_i(&self) -> Duration {
        self.t4
    }
    /// RFC 3261 §17.2.2: Timer J (wait for non-INVITE request retransmits) is 64*T1 for UDP.
    pub fn timer_j(&self) -> Duration {
        self.t1 * 64
    }
    /// RFC 3261 §17.1.2.2: Timer K (wait for response retransmits) is T4 for UDP.
    pub fn timer_k(&self) -> Duration {
        self.t4
    }
    /// RFC 3261 §17.1.1.2: Timer D (wait for response retransmits) is at least 32 s for UDP.
    pub fn timer_d(&self) -> Duration {
        Duration::from_secs(32).max(self.t1 * 64)
    }
    /// RFC 6026 §8.4 and §8.7: Timers L and M (wait in Accepted for 2xx retransmits
    /// and ACKs) are 64*T1.
    pub fn timer_l(&self) -> Duration {
        self.t1 * 64
    }
    pub fn timer_m(&self) -> Duration {
        self.t1 * 64
    }
}
