//! The INVITE server transaction (RFC 3261 §17.2.1, with the Accepted state of RFC 6026 §7.1),
//! as pure logic over virtual time, for an unreliable transport.
//!
//! ```text
//!   INVITE received → Proceeding (the core sends 100 Trying at once)
//!   Proceeding ── TU sends 2xx ──────► Accepted ── L (64*T1) ──► Terminated
//!        │  retransmission: resend       │ INVITE retransmission: absorbed
//!        │  the last provisional         │ ACK: passed to the core (end to end)
//!        │                               │ more 2xx from the TU: sent
//!        └─ TU sends 300-699 ─► Completed ── ACK ──► Confirmed ── I (T4) ──► Terminated
//!                  G: resend final, G=min(2G,T2)      ACK / INVITE absorbed
//!                  H (64*T1): no ACK → Terminated
//! ```

use std::time::{Duration, Instant};

use super::TimerConfig;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InviteServerState {
    Proceeding,
    Completed,
    Confirmed,
    Accepted,
    Terminated,
}

/// What to do with a request (INVITE retransmission or ACK) that matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerRequestAction {
    /// Resend the last response sent (the transaction keeps its bytes).
    ResendLast,
    /// Nothing to send.
    Absorb,
    /// An ACK for a 2xx: the core forwards it end to end (RFC 6026 §7.1).
    PassAck,
}

/// A timer outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerTimerAction {
    /// Timer G: resend the final response.
    ResendLast,
    /// Timer H: the ACK never came (the transaction is terminated).
    AckTimeout,
    /// Timer I, J or L ended the transaction.
    Terminated,
}

#[derive(Debug, Clone)]
pub struct InviteServer {
    state: InviteServerState,
    g_interval: Duration,
    timer_g: Option<Instant>,
    /// Timer H in Completed, Timer I in Confirmed, Timer L in Accepted.
    timer_end: Option<Instant>,
}

impl Default for InviteServer {
    fn default() -> Self {
        Self::new()
    }
}

impl InviteServer {
    /// An INVITE arrived; the transaction starts in Proceeding.
    pub fn new() -> Self {
        InviteServer {
            state: InviteServerState::Proceeding,
            g_interval: Duration::ZERO,
            timer_g: None,
            timer_end: None,
        }
    }

    pub fn state(&self) -> InviteServerState {
        self.state
    }

    pub fn is_terminated(&self) -> bool {
        self.state == InviteServerState::Terminated
    }

    /// True until a final response was sent.
    pub fn is_proceeding(&self) -> bool {
        self.state == InviteServerState::Proceeding
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        [self.timer_g, self.timer_end].into_iter().flatten().min()
    }

    /// The INVITE was retransmitted.
    pub fn on_invite(&mut self) -> ServerRequestAction {
        match self.state {
            InviteServerState::Proceeding | InviteServerState::Completed => {
                ServerRequestAction::ResendLast
            }
            _ => ServerRequestAction::Absorb,
        }
    }

    /// An ACK matched.
    pub fn on_ack(&mut self, now: Instant, cfg: &TimerConfig) -> ServerRequestAction {
        match self.state {
            InviteServerState::Completed => {
                self.state = InviteServerState::Confirmed;
                self.timer_g = None;
                // RFC 3261 §17.2.1: Timer I is T4 for unreliable transports.
                self.timer_end = Some(now + cfg.timer_i());
                ServerRequestAction::Absorb
            }
            InviteServerState::Accepted => ServerRequestAction::PassAck,
            _ => ServerRequestAction::Absorb,
        }
    }

    /// The core is about to send a response with `code`; returns whether it may be sent
    /// (false: the transaction already has its final answer and this one must be dropped).
    pub fn on_send(&mut self, now: Instant, code: u16, cfg: &TimerConfig) -> bool {
        match (self.state, code) {
            (InviteServerState::Proceeding, 100..=199) => true,
            (InviteServerState::Proceeding | InviteServerState::Accepted, 200..=299) => {
                if self.state == InviteServerState::Proceeding {
                    self.state = InviteServerState::Accepted;
                    // RFC 6026 §7.1: Timer L, 64*T1.
                    self.timer_end = Some(now + cfg.timer_l());
                }
                true
            }
            (InviteServerState::Proceeding, 300..=699) => {
                self.state = InviteServerState::Completed;
                // RFC 3261 §17.2.1: Timer G starts at T1, Timer H at 64*T1.
                self.g_interval = cfg.t1;
                self.timer_g = Some(now + cfg.t1);
                self.timer_end = Some(now + cfg.timer_h());
                true
            }
            _ => false,
        }
    }

    /// Run the timers due at `now`; call until it returns `None`.
    pub fn poll(&mut self, now: Instant, cfg: &TimerConfig) -> Option<ServerTimerAction> {
        if self.timer_end.is_some_and(|t| t <= now) {
            let was = self.state;
            self.terminate();
            return Some(if was == InviteServerState::Completed {
                ServerTimerAction::AckTimeout
            } else {
                ServerTimerAction::Terminated
            });
        }
        if let Some(t) = self.timer_g.filter(|t| *t <= now) {
            self.g_interval = (self.g_interval * 2).min(cfg.t2);
            self.timer_g = Some(t + self.g_interval);
            return Some(ServerTimerAction::ResendLast);
        }
        None
    }

    pub fn terminate(&mut self) {
        self.state = InviteServerState::Terminated;
        self.timer_g = None;
        self.timer_end = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_final_resends_on_g_until_ack_then_waits_i() {
        let cfg = TimerConfig::default();
        let t0 = Instant::now();
        let mut s = InviteServer::new();
        assert_eq!(s.on_invite(), ServerRequestAction::ResendLast);
        assert!(s.on_send(t0, 100, &cfg));
        assert!(s.on_send(t0, 486, &cfg));
        assert!(!s.on_send(t0, 200, &cfg), "a second final is refused");
        let mut resends = Vec::new();
        for ms in [500u64, 1500, 3500, 7500, 11500] {
            let now = t0 + Duration::from_millis(ms);
            assert_eq!(s.poll(now, &cfg), Some(ServerTimerAction::ResendLast));
            resends.push(ms);
            assert_eq!(s.poll(now, &cfg), None);
        }
        let ack_at = t0 + Duration::from_secs(12);
        assert_eq!(s.on_ack(ack_at, &cfg), ServerRequestAction::Absorb);
        assert_eq!(s.state(), InviteServerState::Confirmed);
        assert_eq!(s.on_invite(), ServerRequestAction::Absorb);
        assert_eq!(s.next_deadline(), Some(ack_at + cfg.t4));
        assert_eq!(
            s.poll(ack_at + cfg.t4, &cfg),
            Some(ServerTimerAction::Terminated)
        );
        assert!(s.is_terminated());
    }

    #[test]
    fn no_ack_ends_with_timer_h() {
        let cfg = TimerConfig::default();
        let t0 = Instant::now();
        let mut s = InviteServer::new();
        assert!(s.on_send(t0, 404, &cfg));
        let mut last = None;
        let mut n = 0;
        while let Some(d) = s.next_deadline() {
            last = s.poll(d, &cfg);
            n += 1;
            assert!(n < 100);
        }
        assert_eq!(last, Some(ServerTimerAction::AckTimeout));
    }

    #[test]
    fn accepted_passes_ack_and_absorbs_invite() {
        let cfg = TimerConfig::default();
        let t0 = Instant::now();
        let mut s = InviteServer::new();
        assert!(s.on_send(t0, 200, &cfg));
        assert!(
            s.on_send(t0, 200, &cfg),
            "2xx retransmissions pass (RFC 6026)"
        );
        assert_eq!(s.on_invite(), ServerRequestAction::Absorb);
        assert_eq!(s.on_ack(t0, &cfg), ServerRequestAction::PassAck);
        assert_eq!(
            s.poll(t0 + cfg.timer_l(), &cfg),
            Some(ServerTimerAction::Terminated)
        );
    }
}
