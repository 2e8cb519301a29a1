//! `Endpoint::is_idle` of the stateful proxy: what a draining worker waits for. A
//! transaction is in flight until its final response went upstream and no branch still
//! waits for one; completed transactions kept for retransmissions (Timers D, G/H, J, K)
//! hold timers but are idle.

#[path = "harness/proxy.rs"]
mod harness;

use std::time::Duration;

use harness::*;
use ringlet::endpoint::Endpoint;
use ringlet::proxy::RelayToRequestUri;

const BOB_URI: &str = "sip:bob@127.0.0.3:5060";

fn net() -> Net<RelayToRequestUri> {
    Net::new(config(), RelayToRequestUri)
}

#[test]
fn an_invite_is_in_flight_until_its_final_response_then_idle_with_timers_left() {
    let mut n = net();
    assert!(n.proxy.is_idle());
    let sent = n.send_str(ALICE, &invite(BOB_URI, "idle-1", "z9hG4bKi1"));
    let inv = one(&sent, BOB, "INVITE");
    assert!(!n.proxy.is_idle(), "the INVITE waits for Bob");
    assert_eq!(n.proxy.transactions_in_flight(), 1);

    one(
        &n.send(BOB, &respond(&inv, 180, "Ringing", "b1", &[])),
        ALICE,
        "180",
    );
    assert!(!n.proxy.is_idle(), "ringing is not final");

    let sent = n.send(BOB, &respond(&inv, 486, "Busy Here", "b1", &[]));
    one(&sent, ALICE, "486");
    assert!(n.proxy.is_idle(), "final response sent, branch completed");
    assert_eq!(
        n.proxy.transactions(),
        1,
        "kept for the ACK and retransmissions"
    );
    assert!(
        n.proxy.next_timeout().is_some(),
        "Timers D and G/H still run"
    );
}

#[test]
fn a_non_invite_is_idle_once_answered_though_timer_k_runs() {
    let mut n = net();
    let msg = request("MESSAGE", BOB_URI, "idle-2", "z9hG4bKi2", 1, None, &[]);
    let fwd = one(&n.send_str(ALICE, &msg), BOB, "MESSAGE");
    assert!(!n.proxy.is_idle());
    one(
        &n.send(BOB, &respond(&fwd, 200, "OK", "b2", &[])),
        ALICE,
        "200/MESSAGE",
    );
    assert!(n.proxy.is_idle());
    assert!(
        n.proxy.next_timeout().is_some(),
        "Timer J/K absorb retransmissions"
    );
}

#[test]
fn an_unanswered_request_stays_in_flight_until_its_timeout_ends_it() {
    let mut n = net();
    one(
        &n.send_str(ALICE, &invite(BOB_URI, "idle-3", "z9hG4bKi3")),
        BOB,
        "INVITE",
    );
    // Retransmissions (Timer A) leave it in flight.
    n.advance(Duration::from_secs(2));
    assert!(!n.proxy.is_idle());
    // RFC 3261 §17.1.1.2 Timer B (64*T1): the proxy answers 408 itself.
    let sent = n.advance(Duration::from_secs(40));
    assert!(
        sent.iter().any(|(_, s)| s.is(ALICE, "408")),
        "{:?}",
        sent.iter().map(|(_, s)| s.what()).collect::<Vec<_>>()
    );
    assert!(n.proxy.is_idle());

    // A non-INVITE that times out gets no 408 (RFC 4320 §4.1) but ends all the same.
    let msg = request("MESSAGE", BOB_URI, "idle-4", "z9hG4bKi4", 1, None, &[]);
    one(&n.send_str(ALICE, &msg), BOB, "MESSAGE");
    assert!(!n.proxy.is_idle());
    n.advance(Duration::from_secs(40));
    assert!(n.proxy.is_idle());
}
