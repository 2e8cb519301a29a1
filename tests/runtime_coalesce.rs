//! The runtime with `ringlet run`'s wake-up settings (timer slack and completion
//! coalescing, see src/runtime/slack.rs and uring.rs), on both backends: coalescing must
//! not lose or hold back datagrams, and rounded timer wake-ups must still fire every timer.

mod runtime_support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ringlet::config::IoBackendChoice;
use ringlet::endpoint::{Endpoint, Incoming, Outbox};
use ringlet::runtime::{
    Runtime, RuntimeConfig, RuntimeHandle, WorkerInfo, DEFAULT_COALESCE, DEFAULT_TIMER_SLACK,
};
use runtime_support::{backends, client, expected, recv};

fn start_like_run<F>(io: IoBackendChoice, factory: F) -> RuntimeHandle
where
    F: FnMut(&WorkerInfo) -> Box<dyn Endpoint>,
{
    let mut cfg = RuntimeConfig::new(vec!["127.0.0.1:0".parse().unwrap()], 1);
    cfg.io = io;
    cfg.timer_slack = DEFAULT_TIMER_SLACK;
    cfg.coalesce = DEFAULT_COALESCE;
    let h = Runtime::start(cfg, factory).unwrap();
    assert_eq!(h.backend(), expected(io));
    h
}

/// Replies `ok:<bytes>` at once; or, for `t:<bytes>`, `late:<bytes>` when a timer set
/// 50 ms after arrival fires.
#[derive(Default)]
struct EchoOrLater {
    pending: Vec<(Instant, SocketAddr, Vec<u8>)>,
}

impl Endpoint for EchoOrLater {
    fn on_datagram(&mut self, now: Instant, inc: Incoming<'_>, out: &mut Outbox) {
        if let Some(rest) = inc.bytes.strip_prefix(b"t:") {
            self.pending
                .push((now + Duration::from_millis(50), inc.src, rest.to_vec()));
        } else {
            out.send_with(inc.local, inc.src, |b| {
                b.extend_from_slice(b"ok:");
                b.extend_from_slice(inc.bytes);
            });
        }
    }
    fn on_timeout(&mut self, now: Instant, out: &mut Outbox) {
        let (due, later): (Vec<_>, Vec<_>) = self.pending.drain(..).partition(|p| p.0 <= now);
        self.pending = later;
        for (_, src, bytes) in due {
            out.send_with(0, src, |b| {
                b.extend_from_slice(b"late:");
                b.extend_from_slice(&bytes);
            });
        }
    }
    fn next_timeout(&self) -> Option<Instant> {
        self.pending.iter().map(|p| p.0).min()
    }
}

#[test]
fn a_lone_datagram_and_a_burst_are_all_answered() {
    for io in backends() {
        let h = start_like_run(io, |_| Box::<EchoOrLater>::default());
        let server = h.local_addrs()[0][0];
        let c = client();
        // Idle worker, one datagram: answered (the first completion ends a coalesced wait).
        c.send_to(b"alone", server).unwrap();
        let (bytes, _) = recv(&c).unwrap_or_else(|| panic!("{io:?}: lone datagram"));
        assert_eq!(bytes, b"ok:alone");
        // A burst from many sources: every one answered once. Small enough (192 datagrams)
        // to fit a default-sized socket receive buffer even when this worker is not
        // scheduled for a while on a busy machine: UDP drops what overflows it.
        const ROUNDS: usize = 12;
        let clients: Vec<_> = (0..16).map(|_| client()).collect();
        for round in 0..ROUNDS {
            for (i, cl) in clients.iter().enumerate() {
                cl.send_to(format!("c{i}r{round}").as_bytes(), server)
                    .unwrap();
            }
        }
        for (i, cl) in clients.iter().enumerate() {
            let mut seen = [false; ROUNDS];
            for _ in 0..ROUNDS {
                let (bytes, _) = recv(cl).unwrap_or_else(|| panic!("{io:?}: client {i}"));
                let text = String::from_utf8(bytes).unwrap();
                let round: usize = text
                    .strip_prefix(&format!("ok:c{i}r"))
                    .unwrap_or_else(|| panic!("{io:?}: unexpected answer {text}"))
                    .parse()
                    .unwrap();
                assert!(!seen[round], "{io:?}: client {i} round {round} twice");
                seen[round] = true;
            }
        }
        // After the burst the worker is idle again: a lone datagram is still answered.
        c.send_to(b"again", server).unwrap();
        let (bytes, _) = recv(&c).unwrap_or_else(|| panic!("{io:?}: second lone datagram"));
        assert_eq!(bytes, b"ok:again");
        let total = h.total();
        assert_eq!(total.datagrams_in, 2 + 16 * ROUNDS as u64, "{io:?}");
        assert_eq!(total.datagrams_out, 2 + 16 * ROUNDS as u64, "{io:?}");
        h.shutdown(Duration::ZERO);
        h.join().unwrap();
    }
}

#[test]
fn timers_fire_on_the_slack_grid_including_one_set_while_idle() {
    for io in backends() {
        let h = start_like_run(io, |_| Box::<EchoOrLater>::default());
        let server = h.local_addrs()[0][0];
        let c = client();
        for i in 0..5 {
            c.send_to(format!("t:{i}").as_bytes(), server).unwrap();
        }
        let mut got: Vec<Vec<u8>> = (0..5)
            .map(|_| recv(&c).unwrap_or_else(|| panic!("{io:?}: timer answer")).0)
            .collect();
        got.sort();
        let want: Vec<Vec<u8>> = (0..5).map(|i| format!("late:{i}").into_bytes()).collect();
        assert_eq!(got, want, "{io:?}");
        assert!(h.total().timer_wakes >= 1, "{io:?}");
        h.shutdown(Duration::ZERO);
        h.join().unwrap();
    }
}

/// Request-response traffic with gaps longer than the coalescing window: each request
/// must cost the worker one turn (one wait), not two. The answer's send completion is
/// taken off the ring before the coalesced wait; left there, it ended every wait after the
/// window with nothing new to do.
#[test]
fn a_reply_send_does_not_cost_an_extra_turn() {
    const ROUNDS: u64 = 40;
    for io in backends() {
        let h = start_like_run(io, |_| Box::<EchoOrLater>::default());
        let server = h.local_addrs()[0][0];
        let c = client();
        let before = h.total().loop_turns;
        for i in 0..ROUNDS {
            c.send_to(format!("p{i}").as_bytes(), server).unwrap();
            let (bytes, _) = recv(&c).unwrap_or_else(|| panic!("{io:?}: answer {i}"));
            assert_eq!(bytes, format!("ok:p{i}").into_bytes());
            // Longer than the window (DEFAULT_COALESCE), so no two requests share a turn.
            std::thread::sleep(Duration::from_millis(2));
        }
        let turns = h.total().loop_turns - before;
        assert!(
            turns < ROUNDS * 3 / 2,
            "{io:?}: {turns} loop turns for {ROUNDS} request-response rounds"
        );
        h.shutdown(Duration::ZERO);
        h.join().unwrap();
    }
}
