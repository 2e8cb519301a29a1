//! Forking: parallel and serial branches, best response selection, challenge merging and
//! the failure route, through the stateful proxy with virtual time.

#[path = "harness/proxy.rs"]
mod harness;

use std::time::{Duration, Instant};

use harness::*;
use ringlet::proxy::{Failure, FailureDecision, Reply, RequestInfo, RouteDecision, Router, Target};
use ringlet::sip::{HeaderName, Message};

/// Relays every new request to fixed targets; its failure route is scripted.
#[derive(Default)]
struct Fork {
    targets: Vec<Target>,
    /// What the failure route answers, in order (then Forward).
    on_failure: Vec<FailureDecision>,
    failures: Vec<(u16, Vec<u16>, u32)>,
}

impl Router for Fork {
    fn route(&mut self, _now: Instant, _req: &Message<'_>, _info: &RequestInfo) -> RouteDecision {
        RouteDecision::Relay(self.targets.clone())
    }
    fn failure_route(
        &mut self,
        _now: Instant,
        _req: &Message<'_>,
        f: &Failure<'_>,
    ) -> FailureDecision {
        self.failures
            .push((f.code, f.branch_codes.to_vec(), f.attempts));
        if self.on_failure.is_empty() {
            FailureDecision::Forward
        } else {
            self.on_failure.remove(0)
        }
    }
}

fn bob() -> Target {
    Target::uri("sip:bob@127.0.0.3:5060")
}
fn carol() -> Target {
    Target::uri("sip:carol@127.0.0.4:5060")
}

fn net(targets: Vec<Target>) -> Net<Fork> {
    Net::new(
        config(),
        Fork {
            targets,
            ..Fork::default()
        },
    )
}

const RURI: &str = "sip:bob@proxy.test";

#[test]
fn parallel_branches_one_answers_the_other_is_cancelled() {
    let mut n = net(vec![bob(), carol()]);
    let sent = n.send_str(ALICE, &invite(RURI, "fork-1", "z9hG4bKp1"));
    let to_bob = one(&sent, BOB, "INVITE");
    let to_carol = one(&sent, CAROL, "INVITE");
    assert_eq!(
        to_bob.msg().request_uri(),
        Some(&b"sip:bob@127.0.0.3:5060"[..])
    );
    assert_eq!(
        to_carol.msg().request_uri(),
        Some(&b"sip:carol@127.0.0.4:5060"[..])
    );
    let (bb, cb) = (
        to_bob.msg().top_via().unwrap().branch.unwrap().to_vec(),
        to_carol.msg().top_via().unwrap().branch.unwrap().to_vec(),
    );
    assert_ne!(bb, cb, "each branch has its own Via branch");
    one(
        &n.send(CAROL, &respond(&to_carol, 180, "Ringing", "c1", &[])),
        ALICE,
        "180",
    );
    one(
        &n.send(BOB, &respond(&to_bob, 180, "Ringing", "b1", &[])),
        ALICE,
        "180",
    );
    let sent = n.send(BOB, &respond(&to_bob, 200, "OK", "b1", &[]));
    one(&sent, ALICE, "200");
    let c = one(&sent, CAROL, "CANCEL");
    assert_eq!(c.msg().top_via().unwrap().branch.unwrap(), &cb[..]);
    assert!(n.send(CAROL, &respond(&c, 200, "OK", "c1", &[])).is_empty());
    let sent = n.send(
        CAROL,
        &respond(&to_carol, 487, "Request Terminated", "c1", &[]),
    );
    assert_eq!(
        summary(&sent),
        vec![format!("ACK>{CAROL}")],
        "the 487 is absorbed"
    );
}

#[test]
fn second_2xx_from_another_branch_is_also_forwarded() {
    let mut n = net(vec![bob(), carol()]);
    let sent = n.send_str(ALICE, &invite(RURI, "fork-2", "z9hG4bKp2"));
    let to_bob = one(&sent, BOB, "INVITE");
    let to_carol = one(&sent, CAROL, "INVITE");
    one(
        &n.send(BOB, &respond(&to_bob, 200, "OK", "b2", &[])),
        ALICE,
        "200",
    );
    let sent = n.send(CAROL, &respond(&to_carol, 200, "OK", "c2", &[]));
    let second = one(&sent, ALICE, "200");
    assert_eq!(second.msg().to().unwrap().tag, Some(&b"c2"[..]));
}

#[test]
fn branch_cancelled_before_its_provisional_still_gets_cancel_and_ack_after_the_2xx() {
    // Bob answers before Carol sent anything: the 2xx goes up (the server transaction is
    // Accepted) but Carol's CANCEL must wait for her provisional (§9.1), so the request copy
    // it is built from must outlive the final answer.
    let mut n = net(vec![bob(), carol()]);
    let sent = n.send_str(ALICE, &invite(RURI, "fork-9", "z9hG4bKp9"));
    let to_bob = one(&sent, BOB, "INVITE");
    let to_carol = one(&sent, CAROL, "INVITE");
    let sent = n.send(BOB, &respond(&to_bob, 200, "OK", "b9", &[]));
    assert_eq!(summary(&sent), vec![format!("200>{ALICE}")]);
    let sent = n.send(CAROL, &respond(&to_carol, 180, "Ringing", "c9", &[]));
    let c = one(&sent, CAROL, "CANCEL");
    assert_eq!(
        c.msg().top_via().unwrap().branch,
        to_carol.msg().top_via().unwrap().branch
    );
    assert!(n.send(CAROL, &respond(&c, 200, "OK", "c9", &[])).is_empty());
    let sent = n.send(
        CAROL,
        &respond(&to_carol, 487, "Request Terminated", "c9", &[]),
    );
    let ack = one(&sent, CAROL, "ACK");
    assert_eq!(ack.msg().cseq().unwrap().seq, 1);
    n.advance(Duration::from_secs(40));
    assert_eq!(n.proxy.transactions(), 0);
}

#[test]
fn serial_branches_by_q() {
    let mut n = net(vec![carol().with_q(500), bob().with_q(1000)]);
    let sent = n.send_str(ALICE, &invite(RURI, "fork-3", "z9hG4bKp3"));
    let to_bob = one(&sent, BOB, "INVITE");
    assert!(sent.iter().all(|s| s.dest != addr(CAROL)), "lower q waits");
    let sent = n.send(BOB, &respond(&to_bob, 486, "Busy Here", "b3", &[]));
    one(&sent, BOB, "ACK");
    let to_carol = one(&sent, CAROL, "INVITE");
    assert!(
        sent.iter().all(|s| s.dest != addr(ALICE)),
        "the 486 is held while carol is tried"
    );
    let sent = n.send(CAROL, &respond(&to_carol, 200, "OK", "c3", &[]));
    one(&sent, ALICE, "200");
    assert!(n.proxy.router().failures.is_empty());
}

#[test]
fn best_response_six_wins_and_cancels_the_rest() {
    let mut n = net(vec![bob(), carol()]);
    let sent = n.send_str(ALICE, &invite(RURI, "fork-4", "z9hG4bKp4"));
    let to_bob = one(&sent, BOB, "INVITE");
    let to_carol = one(&sent, CAROL, "INVITE");
    n.send(CAROL, &respond(&to_carol, 180, "Ringing", "c4", &[]));
    let sent = n.send(BOB, &respond(&to_bob, 603, "Decline", "b4", &[]));
    one(&sent, BOB, "ACK");
    let c = one(&sent, CAROL, "CANCEL");
    assert!(sent
        .iter()
        .all(|s| s.dest != addr(ALICE) || s.what() == "180"));
    n.send(CAROL, &respond(&c, 200, "OK", "c4", &[]));
    let sent = n.send(
        CAROL,
        &respond(&to_carol, 487, "Request Terminated", "c4", &[]),
    );
    one(&sent, ALICE, "603");
    // The failure route runs after a 6xx too (600 Busy Everywhere may be forwarded on
    // busy); a router answering Forward sends the 6xx upstream.
    assert_eq!(
        n.proxy.router().failures,
        vec![(603, vec![603, 487], 0)],
        "failure route once, after the cancelled branch ended"
    );
}

#[test]
fn best_response_lowest_class_and_503_becomes_500() {
    let mut n = net(vec![bob(), carol()]);
    let sent = n.send_str(ALICE, &invite(RURI, "fork-5", "z9hG4bKp5"));
    let to_bob = one(&sent, BOB, "INVITE");
    let to_carol = one(&sent, CAROL, "INVITE");
    n.send(
        BOB,
        &respond(&to_bob, 503, "Service Unavailable", "b5", &[]),
    );
    let sent = n.send(CAROL, &respond(&to_carol, 404, "Not Found", "c5", &[]));
    one(&sent, ALICE, "404");

    let sent = n.send_str(ALICE, &invite(RURI, "fork-6", "z9hG4bKp6"));
    let to_bob = one(&sent, BOB, "INVITE");
    let to_carol = one(&sent, CAROL, "INVITE");
    n.send(
        BOB,
        &respond(&to_bob, 503, "Service Unavailable", "b6", &[]),
    );
    let sent = n.send(
        CAROL,
        &respond(&to_carol, 503, "Service Unavailable", "c6", &[]),
    );
    let up = one(&sent, ALICE, "500");
    assert_eq!(
        up.msg().to().unwrap().tag,
        Some(&b"b6"[..]),
        "the first 503 of the class, as 500"
    );
}

#[test]
fn challenges_of_all_branches_are_merged() {
    let mut n = net(vec![bob(), carol()]);
    let sent = n.send_str(ALICE, &invite(RURI, "fork-7", "z9hG4bKp7"));
    let to_bob = one(&sent, BOB, "INVITE");
    let to_carol = one(&sent, CAROL, "INVITE");
    n.send(
        BOB,
        &respond(
            &to_bob,
            407,
            "Proxy Authentication Required",
            "b7",
            &[(
                HeaderName::ProxyAuthenticate,
                b"Digest realm=\"bob.test\", nonce=\"1\"",
            )],
        ),
    );
    let sent = n.send(
        CAROL,
        &respond(
            &to_carol,
            401,
            "Unauthorized",
            "c7",
            &[(
                HeaderName::WwwAuthenticate,
                b"Digest realm=\"carol.test\", nonce=\"2\"",
            )],
        ),
    );
    let up = one(&sent, ALICE, "407");
    let m = up.msg();
    let pa: Vec<&[u8]> = m.headers_named(HeaderName::ProxyAuthenticate).collect();
    let wa: Vec<&[u8]> = m.headers_named(HeaderName::WwwAuthenticate).collect();
    assert_eq!(pa, vec![&b"Digest realm=\"bob.test\", nonce=\"1\""[..]]);
    assert_eq!(wa, vec![&b"Digest realm=\"carol.test\", nonce=\"2\""[..]]);
}

#[test]
fn failure_route_starts_new_branches_in_the_same_transaction() {
    let mut n = net(vec![bob()]);
    n.proxy.router_mut().on_failure =
        vec![FailureDecision::Relay(vec![carol().with_header(
            "Diversion: <sip:bob@proxy.test>;reason=user-busy",
        )])];
    let sent = n.send_str(ALICE, &invite(RURI, "fork-8", "z9hG4bKp8"));
    let to_bob = one(&sent, BOB, "INVITE");
    let sent = n.send(BOB, &respond(&to_bob, 486, "Busy Here", "b8", &[]));
    one(&sent, BOB, "ACK");
    let to_carol = one(&sent, CAROL, "INVITE");
    assert_eq!(
        to_carol.header(HeaderName::Other(b"Diversion")).as_deref(),
        Some("<sip:bob@proxy.test>;reason=user-busy")
    );
    assert_eq!(n.proxy.router().failures, vec![(486, vec![486], 0)]);
    // Carol does not answer: Timer C ends her branch, the failure route runs again (now
    // forwarding), and the best response (486 beats 408? both 4xx: the first stays) goes up.
    let sent = n.send(CAROL, &respond(&to_carol, 180, "Ringing", "c8", &[]));
    one(&sent, ALICE, "180");
    let later = n.advance(Duration::from_secs(181));
    let up: Vec<String> = later
        .iter()
        .filter(|(_, s)| s.dest == addr(ALICE))
        .map(|(_, s)| s.what())
        .collect();
    assert_eq!(up.first().map(String::as_str), Some("486"));
    assert_eq!(n.proxy.router().failures[1], (486, vec![486, 408], 1));
}

#[test]
fn failure_route_may_answer_itself() {
    let mut n = net(vec![bob()]);
    n.proxy.router_mut().on_failure = vec![FailureDecision::Respond(
        Reply::new(480, "Temporarily Unavailable").with_header("Retry-After: 60"),
    )];
    let sent = n.send_str(ALICE, &invite(RURI, "fork-9", "z9hG4bKp9"));
    let to_bob = one(&sent, BOB, "INVITE");
    let sent = n.send(BOB, &respond(&to_bob, 500, "Oops", "b9", &[]));
    let up = one(&sent, ALICE, "480");
    assert_eq!(up.header(HeaderName::RetryAfter).as_deref(), Some("60"));
}

#[test]
fn no_failure_route_for_a_cancelled_transaction() {
    let mut n = net(vec![bob()]);
    let sent = n.send_str(ALICE, &invite(RURI, "fork-10", "z9hG4bKp10"));
    let to_bob = one(&sent, BOB, "INVITE");
    n.send(BOB, &respond(&to_bob, 180, "Ringing", "b10", &[]));
    let sent = n.send_str(ALICE, &cancel(RURI, "fork-10", "z9hG4bKp10"));
    let c = one(&sent, BOB, "CANCEL");
    n.send(BOB, &respond(&c, 200, "OK", "b10", &[]));
    let sent = n.send(
        BOB,
        &respond(&to_bob, 487, "Request Terminated", "b10", &[]),
    );
    one(&sent, ALICE, "487");
    assert!(n.proxy.router().failures.is_empty());
}

#[test]
fn host_name_targets_are_answered_502_without_dns() {
    let mut n = net(vec![Target::uri("sip:bob@elsewhere.example")]);
    let sent = n.send_str(ALICE, &invite(RURI, "fork-11", "z9hG4bKp11"));
    let up = one(&sent, ALICE, "502");
    assert!(up.text().contains("No DNS"), "{}", up.text());
}

#[test]
fn explicit_next_hop_overrides_the_request_uri_host() {
    let mut n = net(vec![
        Target::uri("sip:+15551234@gw.example").with_next_hop(addr(CAROL))
    ]);
    let sent = n.send_str(ALICE, &invite(RURI, "fork-12", "z9hG4bKp12"));
    let to_gw = one(&sent, CAROL, "INVITE");
    assert_eq!(
        to_gw.msg().request_uri(),
        Some(&b"sip:+15551234@gw.example"[..])
    );
}
