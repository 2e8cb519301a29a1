//! The INVITE client transaction (RFC 3261 §17.1.1, with the Accepted state of RFC 6026 §7.2),
//! as pure logic over virtual time, for an unreliable transport.
//!
//! ```text
//!              start: send INVITE, A=T1, B=64*T1
//!                 │
//!   A fires:  ┌─Calling─┐──────── 2xx ──────────────┐
//!   resend,   │         │── 300-699: ACK ──┐        │
//!   A*=2      └────┬────┘                  │        │
//!          1xx     │  B fires: Timeout     │        │
//!                  ▼  (→ Terminated)       ▼        ▼
//!             Proceeding ── 300-699: ACK ► Completed  Accepted ◄─ 2xx (passed up again)
//!                  └──────── 2xx ─────────────────►  │        │ M fires
//!                                        D fires     ▼        ▼
//!                                                Terminated ◄─┘
//! ```
//! Invariants: a timer deadline is `Some` only in the states that use it; `next_deadline`
//! is the minimum of the live ones. The caller (the proxy) sends what the returned actions
//! say; this type never sees bytes.

use std::time::{Duration, Instant};

use super::TimerConfig;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InviteClientState {
    Calling,
    Proceeding,
    Completed,
    Accepted,
    Terminated,
}

/// What to do with a response that reached this transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InviteClientResponse {
    /// Hand the response to the proxy core (it may forward it upstream).
    pub pass_up: bool,
    /// Send (or resend) the hop-by-hop ACK for a non-2xx final response (§17.1.1.3).
    pub send_ack: bool,
}

/// A timer outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientTimerAction {
    /// Timer A or E: resend the request.
    Retransmit,
    /// Timer B or F: no final response; the core acts as if a 408 arrived (§16.7 / §8.1.3.1).
    Timeout,
    /// Timer D, K or M ended the transaction; nothing to send.
    Terminated,
}

#[derive(Debug, Clone)]
pub struct InviteClient {
    state: InviteClientState,
    a_interval: Duration,
    timer_a: Option<Instant>,
    timer_b: Option<Instant>,
    /// Timer D or Timer M: the end of Completed or Accepted.
    timer_end: Option<Instant>,
}

impl InviteClient {
    /// The INVITE has just been sent at `now`.
    pub fn start(now: Instant, cfg: &TimerConfig) -> Self {
        InviteClient {
            state: InviteClientState::Calling,
            // RFC 3261 §17.1.1.2: Timer A starts at T1, Timer B at 64*T1.
            a_interval: cfg.t1,
            timer_a: Some(now + cfg.t1),
            timer_b: Some(now + cfg.timer_b()),
            timer_end: None,
        }
    }

    pub fn state(&self) -> InviteClientState {
        self.state
    }

    pub fn is_terminated(&self) -> bool {
        self.state == InviteClientState::Terminated
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        [self.timer_a, self.timer_b, self.timer_end]
            .into_iter()
            .flatten()
            .min()
    }

    /// A response with status `code` matched this transaction.
    pub fn on_response(
        &mut self,
        now: Instant,
        code: u16,
        cfg: &TimerConfig,
    ) -> InviteClientResponse {
        use InviteClientState::*;
        let up = |pass_up, send_ack| InviteClientResponse { pass_up, send_ack };
        match (self.state, code) {
            (Calling | Proceeding, 100..=199) => {
                self.state = Proceeding;
                self.timer_a = None;
                // Timer B only guards Calling (§17.1.1.2); Timer C in the proxy takes over.
                self.timer_b = None;
                up(true, false)
            }
            (Calling | Proceeding, 200..=299) => {
                // RFC 6026 §7.2: wait in Accepted so 2xx retransmissions still match.
                self.state = Accepted;
                self.timer_a = None;
                self.timer_b = None;
                self.timer_end = Some(now + cfg.timer_m());
                up(true, false)
            }
            (Calling | Proceeding, 300..=699) => {
                self.state = Completed;
                self.timer_a = None;
                self.timer_b = None;
                // RFC 3261 §17.1.1.2: Timer D, at least 32 s for unreliable transports.
                self.timer_end = Some(now + cfg.timer_d());
                up(true, true)
            }
            (Completed, 300..=699) => up(false, true),
            (Accepted, 200..=299) => up(true, false),
            _ => up(false, false),
        }
    }

    /// Run the timers due at `now`; call until it returns `None`.
    pub fn poll(&mut self, now: Instant, _cfg: &TimerConfig) -> Option<ClientTimerAction> {
        if self.timer_b.is_some_and(|t| t <= now) {
            self.timer_a = None;
            self.timer_b = None;
            self.state = InviteClientState::Terminated;
            return Some(ClientTimerAction::Timeout);
        }
        if let Some(t) = self.timer_a.filter(|t| *t <= now) {
            // RFC 3261 §17.1.1.2: each retransmission doubles the interval (no T2 cap).
            self.a_interval *= 2;
            self.timer_a = Some(t + self.a_interval);
            return Some(ClientTimerAction::Retransmit);
        }
        if self.timer_end.is_some_and(|t| t <= now) {
            self.timer_end = None;
            self.state = InviteClientState::Terminated;
            return Some(ClientTimerAction::Terminated);
        }
        None
    }

    /// End the transaction at once (its owner is gone).
    pub fn terminate(&mut self) {
        self.state = InviteClientState::Terminated;
        self.timer_a = None;
        self.timer_b = None;
        self.timer_end = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(c: &mut InviteClient, now: Instant, cfg: &TimerConfig) -> Vec<ClientTimerAction> {
        std::iter::from_fn(|| c.poll(now, cfg)).take(100).collect()
    }

    #[test]
    fn retransmits_at_t1_doubling_then_times_out_at_64_t1() {
        let cfg = TimerConfig::default();
        let t0 = Instant::now();
        let mut c = InviteClient::start(t0, &cfg);
        let mut sends = Vec::new();
        while let Some(now) = c.next_deadline() {
            for a in drain(&mut c, now, &cfg) {
                sends.push((now - t0, a));
            }
        }
        let ms: Vec<u128> = sends
            .iter()
            .filter(|s| s.1 == ClientTimerAction::Retransmit)
            .map(|s| s.0.as_millis())
            .collect();
        assert_eq!(ms, vec![500, 1500, 3500, 7500, 15500, 31500]);
        assert_eq!(
            sends.last().map(|s| (s.0.as_millis(), s.1)),
            Some((32000, ClientTimerAction::Timeout))
        );
        assert!(c.is_terminated());
    }

    #[test]
    fn provisional_stops_a_and_b_final_error_acks_and_absorbs() {
        let cfg = TimerConfig::default();
        let t0 = Instant::now();
        let mut c = InviteClient::start(t0, &cfg);
        assert_eq!(
            c.on_response(t0, 180, &cfg),
            InviteClientResponse {
                pass_up: true,
                send_ack: false
            }
        );
        assert_eq!(
            c.next_deadline(),
            None,
            "no timers in Proceeding (Timer C is the proxy's)"
        );
        let r = c.on_response(t0, 486, &cfg);
        assert_eq!(
            r,
            InviteClientResponse {
                pass_up: true,
                send_ack: true
            }
        );
        assert_eq!(c.state(), InviteClientState::Completed);
        let r = c.on_response(t0, 486, &cfg);
        assert_eq!(
            r,
            InviteClientResponse {
                pass_up: false,
                send_ack: true
            },
            "retransmission: ACK again"
        );
        assert_eq!(drain(&mut c, t0 + Duration::from_secs(31), &cfg), vec![]);
        assert_eq!(
            drain(&mut c, t0 + Duration::from_secs(32), &cfg),
            vec![ClientTimerAction::Terminated]
        );
    }

    #[test]
    fn accepted_passes_2xx_retransmissions_up() {
        let cfg = TimerConfig::default();
        let t0 = Instant::now();
        let mut c = InviteClient::start(t0, &cfg);
        assert!(c.on_response(t0, 200, &cfg).pass_up);
        assert_eq!(c.state(), InviteClientState::Accepted);
        assert_eq!(
            c.on_response(t0, 200, &cfg),
            InviteClientResponse {
                pass_up: true,
                send_ack: false
            }
        );
        assert_eq!(
            c.on_response(t0, 180, &cfg),
            InviteClientResponse {
                pass_up: false,
                send_ack: false
            }
        );
        assert_eq!(
            drain(&mut c, t0 + cfg.timer_m(), &cfg),
            vec![ClientTimerAction::Terminated]
        );
    }
}
