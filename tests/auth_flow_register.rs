//! REGISTER through the digest step (OpenSIPS `www_authorize` + `check_to`): challenges,
//! MD5 and SHA-256 with and without qop, replay, stale nonces, wrong realm, To mismatch,
//! wrong-password blocking.

#[path = "harness/auth_flow.rs"]
mod harness;

use std::time::Duration;

use harness::*;
use ringlet::auth::AuthConfig;
use ringlet::proxy::provider::AuthEvent;

fn challenge_then_register(user: &str, algorithm: &'static str, qop: bool) {
    let mut net = Net::new();
    let first = net.register(user, ALICE, None);
    assert_eq!(first.status(), Some(401), "{}", first.text());
    let offered = first.header_lines("WWW-Authenticate");
    assert_eq!(offered.len(), 2, "SHA-256 and MD5 offered: {offered:?}");
    assert!(
        offered[0].contains("algorithm=SHA-256"),
        "SHA-256 first: {offered:?}"
    );
    let ch = Challenge::from_response(&first, algorithm);
    assert_eq!(ch.realm, DOMAIN);
    assert!(!ch.stale);
    let creds = Answer::new(user, algorithm, qop).credentials(&ch, "REGISTER", "sip:example.test");
    let second = net.register(user, ALICE, Some(&creds));
    assert_eq!(second.status(), Some(200), "{}", second.text());
    assert!(
        second
            .header_lines("Contact")
            .iter()
            .any(|c| c.contains(ALICE)),
        "binding saved: {}",
        second.text()
    );
    assert_eq!(net.stats().authenticated, 1);
    assert_eq!(net.stats().challenged_register, 1);
}

#[test]
fn register_md5_with_qop() {
    challenge_then_register("alice", "MD5", true);
}

#[test]
fn register_md5_without_qop() {
    challenge_then_register("alice", "MD5", false);
}

#[test]
fn register_sha256_with_qop() {
    challenge_then_register("bob", "SHA-256", true);
}

#[test]
fn register_sha256_without_qop() {
    challenge_then_register("bob", "SHA-256", false);
}

#[test]
fn without_qop_refused_when_the_configuration_requires_it() {
    let mut net = Net::with_auth(AuthConfig {
        allow_without_qop: false,
        ..AuthConfig::default()
    });
    let ch = Challenge::from_response(&net.register("alice", ALICE, None), "MD5");
    let creds = Answer::new("alice", "MD5", false).credentials(&ch, "REGISTER", "sip:example.test");
    let r = net.register("alice", ALICE, Some(&creds));
    assert_eq!(r.status(), Some(400), "{}", r.text());
}

#[test]
fn a_user_with_only_an_md5_ha1_is_offered_md5_only() {
    let mut net = Net::new();
    let first = net.register("md5only", ALICE, None);
    let offered = first.header_lines("WWW-Authenticate");
    assert_eq!(offered.len(), 1, "{offered:?}");
    assert!(offered[0].contains("algorithm=MD5"), "{offered:?}");
    let ch = Challenge::from_response(&first, "MD5");
    let creds =
        Answer::new("md5only", "MD5", true).credentials(&ch, "REGISTER", "sip:example.test");
    assert_eq!(
        net.register("md5only", ALICE, Some(&creds)).status(),
        Some(200)
    );
}

#[test]
fn a_replayed_nonce_count_is_challenged_stale_and_the_next_count_accepted() {
    let mut net = Net::new();
    let ch = Challenge::from_response(&net.register("alice", ALICE, None), "SHA-256");
    let mut answer = Answer::new("alice", "SHA-256", true);
    let creds = answer.credentials(&ch, "REGISTER", "sip:example.test");
    assert_eq!(
        net.register("alice", ALICE, Some(&creds)).status(),
        Some(200)
    );
    // The same credentials again (a captured REGISTER replayed in a new transaction).
    let replay = net.register("alice", ALICE, Some(&creds));
    assert_eq!(replay.status(), Some(401), "{}", replay.text());
    assert!(
        Challenge::from_response(&replay, "SHA-256").stale,
        "{}",
        replay.text()
    );
    // The phone itself counts on: nc=2 on the same nonce is fine.
    answer.nc = 2;
    let next = answer.credentials(&ch, "REGISTER", "sip:example.test");
    assert_eq!(
        net.register("alice", ALICE, Some(&next)).status(),
        Some(200)
    );
}

#[test]
fn an_expired_nonce_with_the_right_password_is_stale_and_with_a_wrong_one_is_not() {
    let mut net = Net::new();
    let ch = Challenge::from_response(&net.register("alice", ALICE, None), "MD5");
    // AuthConfig default: nonces live 300 s.
    net.advance(Duration::from_secs(301));
    let creds = Answer::new("alice", "MD5", true).credentials(&ch, "REGISTER", "sip:example.test");
    let r = net.register("alice", ALICE, Some(&creds));
    assert_eq!(r.status(), Some(401), "{}", r.text());
    let fresh = Challenge::from_response(&r, "MD5");
    assert!(fresh.stale, "stale=true: {}", r.text());
    assert_ne!(fresh.nonce, ch.nonce);
    // RFC 7616 §3.3: stale only when the digest itself was right.
    let mut wrong = Answer::new("alice", "MD5", true);
    wrong.password = "guess".into();
    let r = net.register(
        "alice",
        ALICE,
        Some(&wrong.credentials(&ch, "REGISTER", "sip:example.test")),
    );
    assert_eq!(r.status(), Some(401));
    assert!(!Challenge::from_response(&r, "MD5").stale, "{}", r.text());
    // The fresh nonce works.
    let ok = Answer::new("alice", "MD5", true).credentials(&fresh, "REGISTER", "sip:example.test");
    assert_eq!(net.register("alice", ALICE, Some(&ok)).status(), Some(200));
}

#[test]
fn credentials_for_another_realm_are_challenged_not_accepted() {
    let mut net = Net::new();
    let ch = Challenge::from_response(&net.register("alice", ALICE, None), "MD5");
    // The hash is right for the challenge's realm, but the phone names another realm.
    let mut answer = Answer::new("alice", "MD5", true);
    answer.realm = Some("other.test".into());
    let r = net.register(
        "alice",
        ALICE,
        Some(&answer.credentials(&ch, "REGISTER", "sip:example.test")),
    );
    assert_eq!(r.status(), Some(401), "{}", r.text());
    assert_eq!(Challenge::from_response(&r, "MD5").realm, DOMAIN);
    assert_eq!(net.stats().authenticated, 0);
}

#[test]
fn a_forged_nonce_is_challenged_again() {
    let mut net = Net::new();
    let mut ch = Challenge::from_response(&net.register("alice", ALICE, None), "MD5");
    ch.nonce = ch.nonce.chars().rev().collect();
    let creds = Answer::new("alice", "MD5", true).credentials(&ch, "REGISTER", "sip:example.test");
    let r = net.register("alice", ALICE, Some(&creds));
    assert_eq!(r.status(), Some(401), "{}", r.text());
    assert!(!Challenge::from_response(&r, "MD5").stale);
}

#[test]
fn to_must_be_the_authenticated_user_or_an_alias() {
    let mut net = Net::new();
    // alice authenticates but registers bob's address.
    let ch = Challenge::from_response(&net.register("bob", ALICE, None), "SHA-256");
    let creds =
        Answer::new("alice", "SHA-256", true).credentials(&ch, "REGISTER", "sip:example.test");
    let r = net.register("bob", ALICE, Some(&creds));
    assert_eq!(r.status(), Some(403), "{}", r.text());
    assert_eq!(r.reason(), "Authenticated user does not match To");
    assert_eq!(net.stats().identity_refused, 1);
    // bob registers his alias robert: allowed.
    let ch = Challenge::from_response(&net.register("robert", BOB, None), "SHA-256");
    let creds =
        Answer::new("bob", "SHA-256", true).credentials(&ch, "REGISTER", "sip:example.test");
    assert_eq!(
        net.register("robert", BOB, Some(&creds)).status(),
        Some(200)
    );
}

#[test]
fn a_to_in_a_domain_we_do_not_serve_is_refused() {
    let mut net = Net::new();
    let text = net.register_text("alice", ALICE, None).replace(
        "To: <sip:alice@example.test>",
        "To: <sip:alice@elsewhere.test>",
    );
    let sent = net.send(ALICE, &text);
    let r = final_to(&sent, ALICE);
    assert_eq!(r.status(), Some(403), "{}", r.text());
}

#[test]
fn repeated_wrong_passwords_block_the_user_with_403_and_log_once() {
    let mut net = Net::with_auth(AuthConfig {
        max_failures_per_user: 3,
        max_failures_per_source: 0,
        ..AuthConfig::default()
    });
    let mut wrong = Answer::new("alice", "MD5", true);
    wrong.password = "guess".into();
    for _ in 0..3 {
        let ch = Challenge::from_response(&net.register("alice", ALICE, None), "MD5");
        let r = net.register(
            "alice",
            ALICE,
            Some(&wrong.credentials(&ch, "REGISTER", "sip:example.test")),
        );
        assert_eq!(
            r.status(),
            Some(401),
            "a wrong password is challenged again"
        );
    }
    // Blocked now: even the right password gets 403 until the block ends.
    for _ in 0..2 {
        let ch = Challenge::from_response(&net.register("alice", ALICE, None), "MD5");
        let creds =
            Answer::new("alice", "MD5", true).credentials(&ch, "REGISTER", "sip:example.test");
        let r = net.register("alice", ALICE, Some(&creds));
        assert_eq!(r.status(), Some(403), "{}", r.text());
    }
    assert_eq!(net.stats().blocked_refused, 2);
    let blocks: Vec<AuthEvent> = net
        .events()
        .into_iter()
        .filter(|e| matches!(e, AuthEvent::UserBlocked { .. }))
        .collect();
    assert_eq!(blocks.len(), 1, "logged once per block: {blocks:?}");
    assert!(blocks[0].to_string().contains("alice@example.test"));
    // Another user from the same address is not affected (source limit off).
    net.register_ok("bob", ALICE);
    // AuthConfig default: blocks last 300 s.
    net.advance(Duration::from_secs(301));
    net.register_ok("alice", ALICE);
}

#[test]
fn a_disabled_or_unknown_user_never_authenticates() {
    let mut net = Net::new();
    let ch = Challenge::from_response(&net.register("mallory", ALICE, None), "MD5");
    let mut answer = Answer::new("mallory", "MD5", true);
    answer.password = "anything".into();
    let r = net.register(
        "mallory",
        ALICE,
        Some(&answer.credentials(&ch, "REGISTER", "sip:example.test")),
    );
    assert_eq!(r.status(), Some(401), "{}", r.text());
    assert_eq!(net.stats().authenticated, 0);
}

#[test]
fn an_alias_in_a_second_domain_authenticates_in_its_subscribers_realm() {
    // As in the demo table: the same users in a second domain through aliases.
    let table = format!(
        "{}domain alias.test\nalias alice@alias.test alice@example.test\n",
        table_text()
    );
    let mut net = Net::with_table(&table, AuthConfig::default());
    let text = net
        .register_text("alice", ALICE, None)
        .replace("sip:example.test", "sip:alias.test")
        .replace("@example.test", "@alias.test");
    let first = final_to(&net.send(ALICE, &text), ALICE);
    assert_eq!(first.status(), Some(401), "{}", first.text());
    // The HA1s were computed with realm = the subscriber's domain.
    let ch = Challenge::from_response(&first, "SHA-256");
    assert_eq!(ch.realm, DOMAIN);
    let creds =
        Answer::new("alice", "SHA-256", true).credentials(&ch, "REGISTER", "sip:alias.test");
    let text = net
        .register_text("alice", ALICE, Some(&creds))
        .replace("sip:example.test", "sip:alias.test")
        .replace("@example.test", "@alias.test");
    let r = final_to(&net.send(ALICE, &text), ALICE);
    assert_eq!(r.status(), Some(200), "{}", r.text());
}

#[test]
fn workers_share_the_nonce_secret_and_binding_to_the_issuer_is_configurable() {
    for bind in [true, false] {
        let mut net = Net::with_auth(AuthConfig {
            bind_nonce_to_worker: bind,
            ..AuthConfig::default()
        });
        let mut worker1 = net.other_worker(1);
        // Worker 0 challenges; the answer lands on worker 1.
        let ch = Challenge::from_response(&net.register("alice", ALICE, None), "MD5");
        let creds =
            Answer::new("alice", "MD5", true).credentials(&ch, "REGISTER", "sip:example.test");
        let text = net.register_text("alice", ALICE, Some(&creds));
        let r = final_to(&net.send_to(&mut worker1, ALICE, &text), ALICE);
        if bind {
            // Authentic (same secret) but another worker's: a fresh nonce, stale=true.
            assert_eq!(r.status(), Some(401), "{}", r.text());
            assert!(Challenge::from_response(&r, "MD5").stale, "{}", r.text());
        } else {
            assert_eq!(r.status(), Some(200), "{}", r.text());
        }
    }
}
