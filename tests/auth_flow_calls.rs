//! Calls and other out-of-dialog requests through the digest step (OpenSIPS
//! `proxy_authorize` + `check_from` + `consume_credentials`, `is_user_in`,
//! `check_source_address`, `pike`): 407, spoofed From, PSTN groups, trusted peers,
//! credentials removed before forwarding, flood protection, no open relay.

#[path = "harness/auth_flow.rs"]
mod harness;

use std::time::Duration;

use harness::*;
use ringlet::auth::AuthConfig;
use ringlet::proxy::provider::AuthEvent;

/// `user` at `at` sends `method` to `ruri`: first without credentials (asserts 407 and
/// ACKs it for an INVITE), then with them (plus `extra` lines). What the proxy sent for
/// the second request.
fn authenticated(
    net: &mut Net,
    method: &str,
    ruri: &str,
    user: &str,
    at: &str,
    call_id: &str,
    extra: &[String],
) -> Vec<Sent> {
    let first = request(method, ruri, user, at, call_id, 1, &[]);
    let sent = net.send(at, &first);
    let challenge = final_to(&sent, at);
    assert_eq!(challenge.status(), Some(407), "{}", challenge.text());
    assert!(challenge.header_lines("WWW-Authenticate").is_empty());
    if method == "INVITE" {
        let ack = net.send(at, &ack_for(&first, &challenge));
        assert!(
            ack.is_empty(),
            "the ACK of the 407 is absorbed: {:?}",
            summary(&ack)
        );
    }
    let ch = Challenge::from_response(&challenge, "SHA-256");
    assert_eq!(ch.realm, DOMAIN);
    let creds = Answer::new(user, "SHA-256", true).credentials(&ch, method, ruri);
    let mut lines = vec![format!("Proxy-Authorization: {creds}")];
    lines.extend_from_slice(extra);
    let second = request(method, ruri, user, at, call_id, 2, &lines);
    net.send(at, &second)
}

#[test]
fn an_invite_is_challenged_and_forwarded_without_our_credentials() {
    let mut net = Net::new();
    net.register_ok("bob", BOB);
    // A downstream proxy's credentials must pass unchanged (RFC 3261 §22.3).
    let theirs = "Proxy-Authorization: Digest username=\"a\", realm=\"carrier.test\", \
                  nonce=\"n\", uri=\"sip:bob@example.test\", response=\"00\"";
    let sent = authenticated(
        &mut net,
        "INVITE",
        "sip:bob@example.test",
        "alice",
        ALICE,
        "call1",
        &[theirs.to_string()],
    );
    let fwd = request_to(&sent, BOB, "INVITE");
    let creds = fwd.header_lines("Proxy-Authorization");
    assert_eq!(creds.len(), 1, "ours removed, theirs kept:\n{}", fwd.text());
    assert!(creds[0].contains("realm=\"carrier.test\""), "{creds:?}");
    assert!(
        !fwd.text().contains("realm=\"example.test\""),
        "{}",
        fwd.text()
    );
    assert_eq!(net.stats().authenticated, 2, "the REGISTER and the INVITE");
    // The callee's 486 reaches alice, and the ACK she sends is not challenged.
    let busy = net.send(BOB, &respond(&fwd, 486, "Busy Here"));
    let r = final_to(&busy, ALICE);
    assert_eq!(r.status(), Some(486));
}

#[test]
fn a_message_is_challenged_and_the_credentials_consumed() {
    let mut net = Net::new();
    net.register_ok("bob", BOB);
    let sent = authenticated(
        &mut net,
        "MESSAGE",
        "sip:bob@example.test",
        "carol",
        CAROL,
        "m1",
        &[],
    );
    let fwd = request_to(&sent, BOB, "MESSAGE");
    assert!(
        fwd.header_lines("Proxy-Authorization").is_empty(),
        "{}",
        fwd.text()
    );
}

#[test]
fn a_spoofed_from_is_refused() {
    let mut net = Net::new();
    net.register_ok("bob", BOB);
    // carol has valid credentials but claims to be alice.
    let first = request(
        "INVITE",
        "sip:bob@example.test",
        "alice",
        CAROL,
        "spoof",
        1,
        &[],
    );
    let challenge = final_to(&net.send(CAROL, &first), CAROL);
    net.send(CAROL, &ack_for(&first, &challenge));
    let ch = Challenge::from_response(&challenge, "MD5");
    let creds =
        Answer::new("carol", "MD5", true).credentials(&ch, "INVITE", "sip:bob@example.test");
    let second = request(
        "INVITE",
        "sip:bob@example.test",
        "alice",
        CAROL,
        "spoof",
        2,
        &[format!("Proxy-Authorization: {creds}")],
    );
    let sent = net.send(CAROL, &second);
    let r = final_to(&sent, CAROL);
    assert_eq!(r.status(), Some(403), "{}", r.text());
    assert_eq!(r.reason(), "Authenticated user does not match From");
    assert!(
        !sent.iter().any(|s| s.dest == addr(BOB)),
        "{:?}",
        summary(&sent)
    );
}

#[test]
fn a_from_alias_of_the_authenticated_user_is_accepted() {
    let mut net = Net::new();
    net.register_ok("alice", ALICE);
    let first = request(
        "INVITE",
        "sip:alice@example.test",
        "robert",
        BOB,
        "alias",
        1,
        &[],
    );
    let challenge = final_to(&net.send(BOB, &first), BOB);
    assert_eq!(challenge.status(), Some(407));
    net.send(BOB, &ack_for(&first, &challenge));
    let ch = Challenge::from_response(&challenge, "SHA-256");
    let creds =
        Answer::new("bob", "SHA-256", true).credentials(&ch, "INVITE", "sip:alice@example.test");
    let second = request(
        "INVITE",
        "sip:alice@example.test",
        "robert",
        BOB,
        "alias",
        2,
        &[format!("Proxy-Authorization: {creds}")],
    );
    request_to(&net.send(BOB, &second), ALICE, "INVITE");
}

#[test]
fn pstn_calls_need_the_callers_groups() {
    let mut net = Net::new();
    // carol: no groups.
    let sent = authenticated(
        &mut net,
        "INVITE",
        "sip:4930123@example.test",
        "carol",
        CAROL,
        "p1",
        &[],
    );
    let r = final_to(&sent, CAROL);
    assert_eq!(r.status(), Some(403), "{}", r.text());
    assert!(r.reason().contains("pstn"), "{}", r.reason());
    // bob: pstn but not international.
    let sent = authenticated(
        &mut net,
        "INVITE",
        "sip:0044201234@example.test",
        "bob",
        BOB,
        "p2",
        &[],
    );
    let r = final_to(&sent, BOB);
    assert_eq!(r.status(), Some(403), "{}", r.text());
    assert!(r.reason().contains("international"), "{}", r.reason());
    // bob, national: to the gateway, credentials removed.
    let sent = authenticated(
        &mut net,
        "INVITE",
        "sip:4930123@example.test",
        "bob",
        BOB,
        "p3",
        &[],
    );
    let fwd = request_to(&sent, GW1, "INVITE");
    assert!(
        fwd.header_lines("Proxy-Authorization").is_empty(),
        "{}",
        fwd.text()
    );
    // alice, international.
    let sent = authenticated(
        &mut net,
        "INVITE",
        "sip:0044201234@example.test",
        "alice",
        ALICE,
        "p4",
        &[],
    );
    request_to(&sent, GW1, "INVITE");
}

#[test]
fn a_trusted_peer_is_not_challenged_and_its_identity_is_not_portable() {
    let mut net = Net::new();
    net.register_ok("bob", BOB);
    // The carrier (trusted by address, any port) delivers a call claiming From alice.
    let inv = request(
        "INVITE",
        "sip:bob@example.test",
        "alice",
        PEER,
        "t1",
        1,
        &[],
    );
    let sent = net.send(PEER, &inv);
    request_to(&sent, BOB, "INVITE");
    assert_eq!(net.stats().trusted, 1);
    // The same claim from an address that is not trusted is challenged.
    let inv = request(
        "INVITE",
        "sip:bob@example.test",
        "alice",
        EXTERNAL,
        "t2",
        1,
        &[],
    );
    assert_eq!(
        final_to(&net.send(EXTERNAL, &inv), EXTERNAL).status(),
        Some(407)
    );
    // A peer trusted on one port only: another port of the same host is not trusted.
    let inv = request(
        "INVITE",
        "sip:bob@example.test",
        "alice",
        PEER_PORT,
        "t3",
        1,
        &[],
    );
    request_to(&net.send(PEER_PORT, &inv), BOB, "INVITE");
    let inv = request(
        "INVITE",
        "sip:bob@example.test",
        "alice",
        PEER_OTHER_PORT,
        "t4",
        1,
        &[],
    );
    let r = final_to(&net.send(PEER_OTHER_PORT, &inv), PEER_OTHER_PORT);
    assert_eq!(r.status(), Some(407), "{}", r.text());
}

#[test]
fn keepalive_options_cancel_and_in_dialog_requests_are_not_challenged() {
    let mut net = Net::new();
    net.register_ok("bob", BOB);
    // OPTIONS to the domain itself (a phone's keepalive): 200, no challenge.
    let opt = request("OPTIONS", "sip:example.test", "alice", ALICE, "ka", 1, &[]);
    assert_eq!(final_to(&net.send(ALICE, &opt), ALICE).status(), Some(200));
    // OPTIONS to another user is challenged.
    let opt = request(
        "OPTIONS",
        "sip:bob@example.test",
        "alice",
        ALICE,
        "ka2",
        1,
        &[],
    );
    assert_eq!(final_to(&net.send(ALICE, &opt), ALICE).status(), Some(407));
    // An authenticated INVITE, then its CANCEL (which carries no credentials).
    let sent = authenticated(
        &mut net,
        "INVITE",
        "sip:bob@example.test",
        "alice",
        ALICE,
        "c1",
        &[],
    );
    let fwd = request_to(&sent, BOB, "INVITE");
    let ringing = net.send(BOB, &respond(&fwd, 180, "Ringing"));
    assert!(ringing.iter().any(|s| s.status() == Some(180)));
    let cancel = request(
        "CANCEL",
        "sip:bob@example.test",
        "alice",
        ALICE,
        "c1",
        2,
        &[],
    );
    let sent = net.send(ALICE, &cancel);
    assert!(
        sent.iter()
            .any(|s| s.dest == addr(ALICE) && s.status() == Some(200)),
        "200 to the CANCEL: {:?}",
        summary(&sent)
    );
    request_to(&sent, BOB, "CANCEL");
    // An in-dialog BYE (To tag, no Route set) is not challenged: relayed to its target.
    let bye = request(
        "BYE",
        "sip:bob@127.0.0.3:5060",
        "alice",
        ALICE,
        "dlg",
        3,
        &[],
    )
    .replace(
        "To: <sip:bob@127.0.0.3:5060>",
        "To: <sip:bob@example.test>;tag=b1",
    );
    let sent = net.send(ALICE, &bye);
    request_to(&sent, BOB, "BYE");
}

#[test]
fn no_open_relay_with_auth_on() {
    let mut net = Net::new();
    // From outside, to a domain we do not serve.
    let inv = request(
        "INVITE",
        "sip:x@elsewhere.test",
        "alice",
        EXTERNAL,
        "r1",
        1,
        &[],
    )
    .replace(
        "From: <sip:alice@example.test>",
        "From: <sip:eve@evil.test>",
    );
    let r = final_to(&net.send(EXTERNAL, &inv), EXTERNAL);
    assert_eq!(r.status(), Some(403), "{}", r.text());
    assert_eq!(r.reason(), "Relaying Denied");
    // Claiming to be our subscriber does not help: challenged first.
    let inv = request(
        "INVITE",
        "sip:x@elsewhere.test",
        "alice",
        EXTERNAL,
        "r2",
        1,
        &[],
    );
    assert_eq!(
        final_to(&net.send(EXTERNAL, &inv), EXTERNAL).status(),
        Some(407)
    );
}

#[test]
fn a_flooding_source_is_dropped_counted_and_logged_once() {
    let mut net = Net::with_auth(AuthConfig {
        pike_threshold: 5,
        pike_window_secs: 2,
        pike_cooldown_secs: 10,
        // The harness's addresses are all loopback ones, exempt by default.
        pike_exempt_loopback: false,
        ..AuthConfig::default()
    });
    let mut answered = 0;
    for i in 0..20 {
        let opt = request(
            "OPTIONS",
            "sip:example.test",
            "alice",
            EXTERNAL,
            &format!("f{i}"),
            1,
            &[],
        );
        if !net.send(EXTERNAL, &opt).is_empty() {
            answered += 1;
        }
    }
    assert_eq!(
        answered, 5,
        "the threshold's worth is answered, the rest dropped"
    );
    let stats = net.stats();
    assert_eq!(stats.flood_dropped, 15);
    assert_eq!(stats.flood_blocks, 1);
    let floods: Vec<AuthEvent> = net
        .events()
        .into_iter()
        .filter(|e| matches!(e, AuthEvent::FloodBlocked { .. }))
        .collect();
    assert_eq!(floods.len(), 1, "{floods:?}");
    // Other sources are served meanwhile; a trusted peer is never counted.
    let opt = request(
        "OPTIONS",
        "sip:example.test",
        "alice",
        ALICE,
        "other",
        1,
        &[],
    );
    assert_eq!(final_to(&net.send(ALICE, &opt), ALICE).status(), Some(200));
    for i in 0..20 {
        let opt = request(
            "OPTIONS",
            "sip:example.test",
            "alice",
            PEER,
            &format!("p{i}"),
            1,
            &[],
        );
        assert!(
            !net.send(PEER, &opt).is_empty(),
            "trusted peer request {i} answered"
        );
    }
    // After the cool-down the source is served again.
    net.advance(Duration::from_secs(15));
    let opt = request(
        "OPTIONS",
        "sip:example.test",
        "alice",
        EXTERNAL,
        "later",
        1,
        &[],
    );
    assert_eq!(
        final_to(&net.send(EXTERNAL, &opt), EXTERNAL).status(),
        Some(200)
    );
}

#[test]
fn the_ack_of_a_2xx_is_relayed_without_our_credentials() {
    let mut net = Net::new();
    net.register_ok("bob", BOB);
    let sent = authenticated(
        &mut net,
        "INVITE",
        "sip:bob@example.test",
        "alice",
        ALICE,
        "a2xx",
        &[],
    );
    let fwd = request_to(&sent, BOB, "INVITE");
    let ok = net.send(BOB, &respond(&fwd, 200, "OK"));
    assert_eq!(final_to(&ok, ALICE).status(), Some(200));
    // RFC 3261 §22.1: the ACK of a 2xx carries the INVITE's credentials; it travels along
    // the Record-Route (our address) to bob's contact, statelessly.
    let record_route = fwd
        .header_lines("Record-Route")
        .first()
        .cloned()
        .expect("the proxy record-routed the INVITE");
    let ack = format!(
        "ACK sip:bob@{BOB} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {ALICE};branch=z9hG4bKack2xx;rport\r\n\
         Route: {record_route}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:alice@example.test>;tag=caller-a2xx\r\n\
         To: <sip:bob@example.test>;tag=uas\r\n\
         Call-ID: a2xx\r\n\
         CSeq: 2 ACK\r\n\
         Proxy-Authorization: Digest username=\"alice\", realm=\"example.test\", nonce=\"x\", \
         uri=\"sip:bob@example.test\", response=\"00\"\r\n\
         Content-Length: 0\r\n\r\n"
    );
    let sent = net.send(ALICE, &ack);
    let relayed = request_to(&sent, BOB, "ACK");
    assert!(
        relayed.header_lines("Proxy-Authorization").is_empty(),
        "{}",
        relayed.text()
    );
}

#[test]
fn loopback_sources_are_not_flood_blocked_by_default() {
    let mut net = Net::with_auth(AuthConfig {
        pike_threshold: 5,
        pike_window_secs: 2,
        pike_cooldown_secs: 10,
        ..AuthConfig::default()
    });
    let mut answered = 0;
    for i in 0..20 {
        let opt = request(
            "OPTIONS",
            "sip:example.test",
            "alice",
            EXTERNAL,
            &format!("lo{i}"),
            1,
            &[],
        );
        if !net.send(EXTERNAL, &opt).is_empty() {
            answered += 1;
        }
    }
    assert_eq!(answered, 20, "this host itself is never flood-blocked");
    assert_eq!(net.stats().flood_dropped, 0);
}
