//! The non-INVITE client transaction (RFC 3261 §17.1.2) as pure logic over virtual time, for
//! an unreliable transport.
//!
//! ```text
//!   start: send, E=T1, F=64*T1
//!   Trying ──1xx──► Proceeding ──200-699──► Completed ──K (T4)──► Terminated
//!     │  E: resend, E=min(2E,T2)   │ E: resend every T2
//!     └──200-699──► Completed      │
//!   F fires in Trying or Proceeding: Timeout (→ Terminated)
//! ```

use std::time::{Duration, Instant};

use super::{ClientTimerAction, TimerConfig};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonInviteClientState {
    Trying,
    Proceeding,
    Completed,
    Terminated,
}

#[derive(Debug, Clone)]
pub struct NonInviteClient {
    state: NonInviteClientState,
    e_interval: Duration,
    timer_e: Option<Instant>,
    timer_f: Option<Instant>,
    timer_k: Option<Instant>,
}

impl NonInviteClient {
    /// The request has just been sent at `now`.
    pub fn start(now: Instant, cfg: &TimerConfig) -> Self {
        NonInviteClient {
            state: NonInviteClientState::Trying,
            // RFC 3261 §17.1.2.2: Timer E starts at T1, Timer F at 64*T1.
            e_interval: cfg.t1,
            timer_e: Some(now + cfg.t1),
            timer_f: Some(now + cfg.timer_f()),
            timer_k: None,
        }
    }

    pub fn state(&self) -> NonInviteClientState {
        self.state
    }

    pub fn is_terminated(&self) -> bool {
        self.state == NonInviteClientState::Terminated
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        [self.timer_e, self.timer_f, self.timer_k]
            .into_iter()
            .flatten()
            .min()
    }

    /// A response with status `code` matched; returns whether to pass it to the core.
    pub fn on_response(&mut self, now: Instant, code: u16, cfg: &TimerConfig) -> bool {
        use NonInviteClientState::*;
        match (self.state, code) {
            (Trying | Proceeding, 100..=199) => {
                self.state = Proceeding;
                true
            }
            (Trying | Proceeding, 200..=699) => {
                self.state = Completed;
                self.timer_e = None;
                self.timer_f = None;
                // RFC 3261 §17.1.2.2: Timer K is T4 for unreliable transports.
                self.timer_k = Some(now + cfg.timer_k());
                true
            }
            _ => false,
        }
    }

    /// Run the timers due at `now`; call until it returns `None`.
    pub fn poll(&mut self, now: Instant, cfg: &TimerConfig) -> Option<ClientTimerAction> {
        if self.timer_f.is_some_and(|t| t <= now) {
            self.timer_e = None;
            self.timer_f = None;
            self.state = NonInviteClientState::Terminated;
            return Some(ClientTimerAction::Timeout);
        }
        if let Some(t) = self.timer_e.filter(|t| *t <= now) {
            // RFC 3261 §17.1.2.2: double up to T2 in Trying; every T2 in Proceeding.
            self.e_interval = match self.state {
                NonInviteClientState::Proceeding => cfg.t2,
                _ => (self.e_interval * 2).min(cfg.t2),
            };
            self.timer_e = Some(t + self.e_interval);
            return Some(ClientTimerAction::Retransmit);
        }
        if self.timer_k.is_some_and(|t| t <= now) {
            self.timer_k = None;
            self.state = NonInviteClientState::Terminated;
            return Some(ClientTimerAction::Terminated);
        }
        None
    }

    pub fn terminate(&mut self) {
        self.state = NonInviteClientState::Terminated;
        self.timer_e = None;
        self.timer_f = None;
        self.timer_k = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timer_e_caps_at_t2_and_f_times_out() {
        let cfg = TimerConfig::default();
        let t0 = Instant::now();
        let mut c = NonInviteClient::start(t0, &cfg);
        let mut log = Vec::new();
        while let Some(d) = c.next_deadline() {
            while let Some(a) = c.poll(d, &cfg) {
                log.push(((d - t0).as_millis(), a));
            }
        }
        let rx: Vec<u128> = log
            .iter()
            .filter(|l| l.1 == ClientTimerAction::Retransmit)
            .map(|l| l.0)
            .collect();
        assert_eq!(&rx[..6], &[500, 1500, 3500, 7500, 11500, 15500]);
        assert_eq!(log.last(), Some(&(32000, ClientTimerAction::Timeout)));
        assert!(c.is_terminated());
    }

    #[test]
    fn proceeding_resends_every_t2_and_final_completes() {
        let cfg = TimerConfig::default();
        let t0 = Instant::now();
        let mut c = NonInviteClient::start(t0, &cfg);
        assert!(c.on_response(t0, 100, &cfg));
        assert_eq!(
            c.poll(t0 + Duration::from_millis(500), &cfg),
            Some(ClientTimerAction::Retransmit)
        );
        assert_eq!(c.next_deadline(), Some(t0 + Duration::from_millis(4500)));
        assert!(c.on_response(t0 + Duration::from_secs(1), 200, &cfg));
        assert!(
            !c.on_response(t0 + Duration::from_secs(1), 200, &cfg),
            "retransmission absorbed"
        );
        assert_eq!(c.next_deadline(), Some(t0 + Duration::from_secs(6)));
        assert_eq!(
            c.poll(t0 + Duration::from_secs(6), &cfg),
            Some(ClientTimerAction::Terminated)
        );
    }
}
