//! PSTN routing through `StatefulProxy<ProviderRouter>`: group permissions, longest-prefix
//! routes, gateway failover on 5xx/408 (`use_next_gw`) and not on other failures, and call
//! forwards to numbers.

#[path = "harness/provider.rs"]
mod harness;

use std::time::Duration;

use harness::*;

#[test]
fn next_gateway_on_503() {
    let mut net = Net::new();
    let sent = Call::new("alice", ALICE, "sip:4930123456@example.test", "p1").start(&mut net);
    let first = one(&sent, GW1, "INVITE");
    assert_eq!(first.ruri(), "sip:4930123456@127.0.0.20:5060");
    none(&sent, GW2, "INVITE");
    let sent = answer(&mut net, &first, 503, "Service Unavailable");
    one(&sent, GW1, "ACK");
    let second = one(&sent, GW2, "INVITE");
    assert_eq!(second.ruri(), "sip:4930123456@127.0.0.21:5060");
    none(&sent, ALICE, "500");
    let sent = answer(&mut net, &second, 200, "OK");
    one(&sent, ALICE, "200");
}

#[test]
fn next_gateway_when_the_first_does_not_answer_at_all() {
    let mut net = Net::new();
    let sent = Call::new("alice", ALICE, "sip:+4930123456@example.test", "p2").start(&mut net);
    one(&sent, GW1, "INVITE");
    // Timer B (64*T1 = 32 s) ends the silent branch as 408: the next gateway is tried.
    let sent = net.advance(Duration::from_millis(32_100));
    let second = one(&sent, GW2, "INVITE");
    assert_eq!(second.ruri(), "sip:+4930123456@127.0.0.21:5060");
}

#[test]
fn last_gateway_failure_goes_upstream_and_4xx_is_not_failed_over() {
    let mut net = Net::new();
    let sent = Call::new("alice", ALICE, "sip:4930123456@example.test", "p3").start(&mut net);
    let first = one(&sent, GW1, "INVITE");
    let sent = answer(&mut net, &first, 486, "Busy Here");
    none(&sent, GW2, "INVITE");
    one(&sent, ALICE, "486");

    let sent = Call::new("alice", ALICE, "sip:4930999@example.test", "p4").start(&mut net);
    let first = one(&sent, GW1, "INVITE");
    let sent = answer(&mut net, &first, 503, "Service Unavailable");
    let second = one(&sent, GW2, "INVITE");
    let sent = answer(&mut net, &second, 502, "Bad Gateway");
    one(&sent, ALICE, "502");
}

#[test]
fn catch_all_route_with_one_gateway() {
    let mut net = Net::new();
    let sent = Call::new("bob", BOB1, "sip:3312345@example.test", "p5").start(&mut net);
    let gw = one(&sent, GW1, "INVITE");
    let sent = answer(&mut net, &gw, 503, "Service Unavailable");
    none(&sent, GW2, "INVITE");
    one(&sent, BOB1, "500");
}

#[test]
fn groups_gate_pstn_and_international_calls() {
    let mut net = Net::new();
    // carol is in no group.
    let sent = Call::new("carol", CAROL1, "sip:4930123456@example.test", "p6").start(&mut net);
    let r = one(&sent, CAROL1, "403");
    assert!(r.text().contains("pstn"), "{}", r.text());
    none(&sent, GW1, "INVITE");
    // bob may call nationally but not internationally (prefix 00 or +).
    let sent = Call::new("bob", BOB1, "sip:004420123@example.test", "p7").start(&mut net);
    one(&sent, BOB1, "403");
    let sent = Call::new("bob", BOB1, "sip:+4420123@example.test", "p8").start(&mut net);
    one(&sent, BOB1, "403");
    // alice may.
    let sent = Call::new("alice", ALICE, "sip:004420123@example.test", "p9").start(&mut net);
    one(&sent, GW1, "INVITE");
    // Nobody we know may not.
    let text = Call::new("x", PEER, "sip:4930123456@example.test", "p10")
        .invite()
        .replace("@example.test>;tag", "@carrier.test>;tag");
    let sent = net.send_str(PEER, &text);
    one(&sent, PEER, "403");
}

#[test]
fn forward_to_a_number_uses_the_forwarding_subscribers_permission() {
    // bob (group pstn) forwards on busy to a number; the caller carol has no pstn group.
    let table = table_text() + "forward bob@example.test busy tel:4930777\n";
    let mut net = Net::with(&table, Default::default());
    net.register("bob", BOB1, None);
    let sent = Call::new("carol", CAROL1, "sip:bob@example.test", "p11").start(&mut net);
    let inv = one(&sent, BOB1, "INVITE");
    let sent = answer(&mut net, &inv, 486, "Busy Here");
    let gw = one(&sent, GW1, "INVITE");
    assert_eq!(gw.ruri(), "sip:4930777@127.0.0.20:5060");
    assert_eq!(
        gw.header_lines("Diversion"),
        vec!["<sip:bob@example.test>;reason=user-busy;counter=1"]
    );
    // and the gateway failover still works after the forward.
    let sent = answer(&mut net, &gw, 503, "Service Unavailable");
    one(&sent, GW2, "INVITE");
}
