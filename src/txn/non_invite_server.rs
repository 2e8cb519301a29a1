//! The non-INVITE server transaction (RFC 3261 §17.2.2) as pure logic over virtual time, for
//! an unreliable transport.
//!
//! ```text
//!   request received → Trying ── 1xx sent ──► Proceeding ── final sent ──► Completed
//!        retransmission: absorbed   retransmission: resend      retransmission: resend
//!        └──────────── final sent ───────────────────────────►  J (64*T1) ──► Terminated
//! ```

use std::time::Instant;

use super::{ServerRequestAction, ServerTimerAction, TimerConfig};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonInviteServerState {
    Trying,
    Proceeding,
    Completed,
    Terminated,
}

#[derive(Debug, Clone)]
pub struct NonInviteServer {
    state: NonInviteServerState,
    timer_j: Option<Instant>,
}

impl Default for NonInviteServer {
    fn default() -> Self {
        Self::new()
    }
}

impl NonInviteServer {
    pub fn new() -> Self {
        NonInviteServer {
            state: NonInviteServerState::Trying,
            timer_j: None,
        }
    }

    pub fn state(&self) -> NonInviteServerState {
        self.state
    }

    pub fn is_terminated(&self) -> bool {
        self.state == NonInviteServerState::Terminated
    }

    /// True until a final response was sent.
    pub fn is_proceeding(&self) -> bool {
        matches!(
            self.state,
            NonInviteServerState::Trying | NonInviteServerState::Proceeding
        )
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        self.timer_j
    }

    /// The request was retransmitted.
    pub fn on_request(&mut self) -> ServerRequestAction {
        match self.state {
            NonInviteServerState::Proceeding | NonInviteServerState::Completed => {
                ServerRequestAction::ResendLast
            }
            _ => ServerRequestAction::Absorb,
        }
    }

    /// The core is about to send a response; returns whether it may be sent.
    pub fn on_send(&mut self, now: Instant, code: u16, cfg: &TimerConfig) -> bool {
        match (self.state, code) {
            (NonInviteServerState::Trying | NonInviteServerState::Proceeding, 100..=199) => {
                self.state = NonInviteServerState::Proceeding;
                true
            }
            (NonInviteServerState::Trying | NonInviteServerState::Proceeding, 200..=699) => {
                self.state = NonInviteServerState::Completed;
                // RFC 3261 §17.2.2: Timer J is 64*T1 for unreliable transports.
                self.timer_j = Some(now + cfg.timer_j());
                true
            }
            _ => false,
        }
    }

    pub fn poll(&mut self, now: Instant, _cfg: &TimerConfig) -> Option<ServerTimerAction> {
        if self.timer_j.is_some_and(|t| t <= now) {
            self.terminate();
            return Some(ServerTimerAction::Terminated);
        }
        None
    }

    pub fn terminate(&mut self) {
        self.state = NonInviteServerState::Terminated;
        self.timer_j = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absorbs_then_resends_then_ends_with_j() {
        let cfg = TimerConfig::default();
        let t0 = std::time::Instant::now();
        let mut s = NonInviteServer::new();
        assert_eq!(s.on_request(), ServerRequestAction::Absorb);
        assert!(s.on_send(t0, 100, &cfg));
        assert_eq!(s.on_request(), ServerRequestAction::ResendLast);
        assert!(s.on_send(t0, 200, &cfg));
        assert!(!s.on_send(t0, 500, &cfg));
        assert_eq!(s.on_request(), ServerRequestAction::ResendLast);
        assert_eq!(
            s.poll(
                t0 + cfg.timer_j() - std::time::Duration::from_millis(1),
                &cfg
            ),
            None
        );
        assert_eq!(
            s.poll(t0 + cfg.timer_j(), &cfg),
            Some(ServerTimerAction::Terminated)
        );
        assert!(s.is_terminated());
    }
}
