//! Provider routing, basic calls: REGISTER through the router into the registrar, calls to
//! registered users (parallel and serial forking), 480/404/403, aliases and DIDs, the
//! OPTIONS keepalive and the no-open-relay policy. Virtual time, fabricated phones.

#[path = "harness/provider.rs"]
mod harness;

use harness::*;
use ringlet::proxy::provider::{
    AuthPurpose, AuthVerdict, AuthorizeContext, CallerIdentity, ProviderConfig, RequestAuthorizer,
};
use ringlet::proxy::Reply;
use ringlet::sip::HeaderName;

#[test]
fn register_two_users_and_call_between_them() {
    let mut net = Net::new();
    let r = net.register("alice", ALICE, None);
    assert_eq!(r.status(), Some(200), "{}", r.text());
    assert_eq!(r.dest, addr(ALICE));
    let contact = r.header(HeaderName::Contact).unwrap();
    assert!(
        contact.contains("<sip:alice@127.0.0.2:5060>;expires=3600"),
        "{contact}"
    );
    assert_eq!(net.register("bob", BOB1, None).status(), Some(200));

    let call = Call::new("alice", ALICE, "sip:bob@example.test", "c1");
    let sent = call.start(&mut net);
    one(&sent, ALICE, "100");
    let inv = one(&sent, BOB1, "INVITE");
    assert_eq!(inv.ruri(), "sip:bob@127.0.0.3:5060", "R-URI is the contact");
    let sent = answer(&mut net, &inv, 180, "Ringing");
    one(&sent, ALICE, "180");
    let sent = answer(&mut net, &inv, 200, "OK");
    one(&sent, ALICE, "200");
}

#[test]
fn register_refusals_unknown_and_disabled() {
    let mut net = Net::new();
    assert_eq!(net.register("nobody", ALICE, None).status(), Some(404));
    assert_eq!(net.register("gone", ALICE, None).status(), Some(403));
}

#[test]
fn two_devices_ring_in_parallel() {
    let mut net = Net::new();
    net.register("bob", BOB1, None);
    net.register("bob", BOB2, None);
    let call = Call::new("alice", ALICE, "sip:bob@example.test", "c2");
    let sent = call.start(&mut net);
    let a = one(&sent, BOB1, "INVITE");
    let b = one(&sent, BOB2, "INVITE");
    assert_eq!(a.ruri(), "sip:bob@127.0.0.3:5060");
    assert_eq!(b.ruri(), "sip:bob@127.0.0.4:5060");
    // One answers: the other is cancelled once it has rung.
    answer(&mut net, &b, 180, "Ringing");
    let sent = answer(&mut net, &a, 200, "OK");
    one(&sent, ALICE, "200");
    one(&sent, BOB2, "CANCEL");
}

#[test]
fn higher_q_rings_first_then_lower_q() {
    let mut net = Net::new();
    net.register("bob", BOB1, Some("0.5"));
    net.register("bob", BOB2, Some("1.0"));
    let call = Call::new("alice", ALICE, "sip:bob@example.test", "c3");
    let sent = call.start(&mut net);
    let first = one(&sent, BOB2, "INVITE");
    none(&sent, BOB1, "INVITE");
    let sent = answer(&mut net, &first, 486, "Busy Here");
    one(&sent, BOB2, "ACK");
    let second = one(&sent, BOB1, "INVITE");
    none(&sent, ALICE, "486");
    let sent = answer(&mut net, &second, 200, "OK");
    one(&sent, ALICE, "200");
}

#[test]
fn unregistered_unknown_and_disabled_callees() {
    let mut net = Net::new();
    let sent = Call::new("alice", ALICE, "sip:bob@example.test", "c4").start(&mut net);
    assert_eq!(one(&sent, ALICE, "480").status(), Some(480));
    let sent = Call::new("alice", ALICE, "sip:nobody@example.test", "c5").start(&mut net);
    one(&sent, ALICE, "404");
    let sent = Call::new("alice", ALICE, "sip:gone@example.test", "c6").start(&mut net);
    one(&sent, ALICE, "403");
    // A disabled caller is refused too.
    let sent = Call::new("gone", ALICE, "sip:bob@example.test", "c7").start(&mut net);
    one(&sent, ALICE, "403");
}

#[test]
fn alias_and_did_reach_the_subscriber() {
    let mut net = Net::new();
    net.register("bob", BOB1, None);
    let sent = Call::new("alice", ALICE, "sip:robert@example.test", "c8").start(&mut net);
    assert_eq!(one(&sent, BOB1, "INVITE").ruri(), "sip:bob@127.0.0.3:5060");
    let sent = Call::new("alice", ALICE, "sip:4930555@example.test", "c9").start(&mut net);
    assert_eq!(
        one(&sent, BOB1, "INVITE").ruri(),
        "sip:bob@127.0.0.3:5060",
        "a DID is not a PSTN number"
    );
    // Our own address as host: the DID still resolves.
    let sent = Call::new("alice", ALICE, "sip:4930555@127.0.0.1:5060", "c10").start(&mut net);
    one(&sent, BOB1, "INVITE");
}

#[test]
fn options_to_the_domain_is_a_keepalive() {
    let mut net = Net::new();
    let sent = net.send_str(
        PEER,
        &Call::new("x", PEER, "sip:example.test", "o1").request("OPTIONS"),
    );
    one(&sent, PEER, "200/OPTIONS");
    let sent = net.send_str(
        PEER,
        &Call::new("x", PEER, "sip:127.0.0.1:5060", "o2").request("OPTIONS"),
    );
    one(&sent, PEER, "200/OPTIONS");
}

#[test]
fn no_open_relay() {
    let mut net = Net::new();
    // From a domain we do not serve, from a source we do not trust: refused.
    let mut stranger = Call::new(
        "mallory",
        "127.0.0.99:5060",
        "sip:victim@127.0.0.77:5060",
        "r1",
    );
    stranger.ruri = "sip:victim@127.0.0.77:5060".into();
    let text = stranger
        .invite()
        .replace("@example.test>;tag=caller1", "@evil.test>;tag=caller1");
    let sent = net.send_str("127.0.0.99:5060", &text);
    let r = one(&sent, "127.0.0.99:5060", "403");
    assert!(r.text().contains("Relaying Denied"), "{}", r.text());
    none(&sent, "127.0.0.77:5060", "INVITE");
    // Claiming to be one of ours but unknown: refused as well.
    let sent =
        Call::new("nobody", "127.0.0.99:5060", "sip:x@127.0.0.77:5060", "r2").start(&mut net);
    one(&sent, "127.0.0.99:5060", "403");
    // Our subscriber: relayed.
    let sent = Call::new("alice", ALICE, "sip:friend@127.0.0.77:5060", "r3").start(&mut net);
    one(&sent, "127.0.0.77:5060", "INVITE");
    // A trusted peer: relayed.
    let text = Call::new("carrier", PEER, "sip:x@127.0.0.77:5060", "r4")
        .invite()
        .replace("@example.test>;tag", "@carrier.test>;tag");
    let sent = net.send_str(PEER, &text);
    one(&sent, "127.0.0.77:5060", "INVITE");
}

#[test]
fn relay_policy_is_configurable() {
    let cfg = ProviderConfig {
        allow_relay_from_subscribers: false,
        ..ProviderConfig::default()
    };
    let mut net = Net::with(&table_text(), cfg);
    let sent = Call::new("alice", ALICE, "sip:friend@127.0.0.77:5060", "r5").start(&mut net);
    one(&sent, ALICE, "403");
    none(&sent, "127.0.0.77:5060", "INVITE");
}

#[test]
fn non_invite_requests_reach_all_bindings_without_forwarding() {
    let mut net = Net::new();
    net.register("dave", DAVE, None);
    // dave forwards calls unconditionally, but a MESSAGE is not a call.
    let sent = net.send_str(
        ALICE,
        &Call::new("alice", ALICE, "sip:dave@example.test", "m1").request("MESSAGE"),
    );
    assert_eq!(
        one(&sent, DAVE, "MESSAGE").ruri(),
        "sip:dave@127.0.0.7:5060"
    );
}

/// An authentication step that challenges every request without credentials and passes
/// the others as alice.
struct Challenge;

impl RequestAuthorizer for Challenge {
    fn authorize(
        &mut self,
        _now: std::time::Instant,
        req: &ringlet::sip::Message<'_>,
        ctx: &AuthorizeContext<'_>,
    ) -> AuthVerdict {
        let has_credentials = req.headers().any(|h| {
            h.name == HeaderName::ProxyAuthorization || h.name == HeaderName::Authorization
        });
        if !has_credentials {
            let code = if ctx.purpose == AuthPurpose::Register {
                401
            } else {
                407
            };
            return AuthVerdict::Respond(
                Reply::new(code, "Unauthorized")
                    .with_header("Proxy-Authenticate: Digest realm=\"example.test\", nonce=\"n\""),
            );
        }
        let alice = ctx
            .snapshot
            .subscriber(b"alice", b"example.test")
            .map(|s| s.id);
        AuthVerdict::Pass(alice.map_or(CallerIdentity::Anonymous, CallerIdentity::Subscriber))
    }
}

#[test]
fn the_auth_step_runs_first_and_its_identity_is_used() {
    let mut net = Net::new();
    net.proxy.router_mut().set_authorizer(Box::new(Challenge));
    let reg = net.register("bob", BOB1, None);
    assert_eq!(
        reg.status(),
        Some(401),
        "REGISTER challenged before the registrar"
    );
    let sent = Call::new("carol", CAROL1, "sip:4930123@example.test", "a1").start(&mut net);
    let r = one(&sent, CAROL1, "407");
    assert!(
        r.text().contains("Proxy-Authenticate: Digest"),
        "{}",
        r.text()
    );
    none(&sent, GW1, "INVITE");
    // With credentials the step says "alice" (group pstn), whatever the From claims.
    let text = Call::new("carol", CAROL1, "sip:4930123@example.test", "a2")
        .invite()
        .replace(
            "Contact:",
            "Proxy-Authorization: Digest username=\"alice\"\r\nContact:",
        );
    let sent = net.send_str(CAROL1, &text);
    one(&sent, GW1, "INVITE");
    // Requests not claiming one of our subscribers skip the step.
    let sent = net.send_str(
        PEER,
        &Call::new("x", PEER, "sip:example.test", "a3")
            .request("OPTIONS")
            .replace("@example.test>;tag", "@carrier.test>;tag"),
    );
    one(&sent, PEER, "200/OPTIONS");
}

#[test]
fn register_to_our_address_uses_the_to_domain() {
    let mut net = Net::new();
    let text = "REGISTER sip:127.0.0.1:5060 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.3:5060;branch=z9hG4bKip1;rport\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:bob@example.test>;tag=r1\r\n\
         To: <sip:bob@example.test>\r\n\
         Call-ID: reg-ip\r\n\
         CSeq: 1 REGISTER\r\n\
         Contact: <sip:bob@127.0.0.3:5060>\r\n\
         Content-Length: 0\r\n\r\n";
    let sent = net.send_str(BOB1, text);
    assert_eq!(one(&sent, BOB1, "200/REGISTER").status(), Some(200));
    let sent = Call::new("alice", ALICE, "sip:bob@example.test", "ip2").start(&mut net);
    one(&sent, BOB1, "INVITE");
    let sent = net.send_str(
        BOB1,
        &text
            .replace("example.test", "elsewhere.test")
            .replace("CSeq: 1", "CSeq: 2")
            .replace("ip1", "ip3"),
    );
    one(&sent, BOB1, "404/REGISTER");
}
