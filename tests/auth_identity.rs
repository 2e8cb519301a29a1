//! From/To identity checks after authentication, with an alias table.

use ringlet::auth::{check_identity, ClaimedIn, IdentityCheck};

/// A tiny alias table as the forwarding table would answer: alias → (user, domain).
fn aliases(user: &[u8], domain: &[u8]) -> Option<(&'static [u8], &'static [u8])> {
    // (alias user, alias domain, canonical user, canonical domain)
    let table: [[&'static [u8]; 4]; 2] = [
        [b"+4930123456", b"example.test", b"alice", b"example.test"],
        [b"sales", b"example.test", b"bob", b"example.test"],
    ];
    table
        .iter()
        .find(|[u, d, _, _]| *u == user && d.eq_ignore_ascii_case(domain))
        .map(|[_, _, cu, cd]| (*cu, *cd))
}

fn check(claimed_user: &str, claimed_domain: &str, role: ClaimedIn) -> IdentityCheck {
    check_identity(
        b"alice",
        b"example.test",
        claimed_user.as_bytes(),
        claimed_domain.as_bytes(),
        role,
        aliases,
    )
}

#[test]
fn own_identity_passes_domain_case_insensitively() {
    assert_eq!(
        check("alice", "example.test", ClaimedIn::From),
        IdentityCheck::Ok { via_alias: false }
    );
    assert_eq!(
        check("alice", "EXAMPLE.test", ClaimedIn::To),
        IdentityCheck::Ok { via_alias: false }
    );
}

#[test]
fn own_alias_passes() {
    assert_eq!(
        check("+4930123456", "example.test", ClaimedIn::From),
        IdentityCheck::Ok { via_alias: true }
    );
    assert_eq!(
        check("+4930123456", "Example.Test", ClaimedIn::To),
        IdentityCheck::Ok { via_alias: true }
    );
}

#[test]
fn someone_elses_identity_or_alias_is_forbidden_with_a_reason() {
    assert_eq!(
        check("bob", "example.test", ClaimedIn::From),
        IdentityCheck::Forbidden("Authenticated user does not match From")
    );
    assert_eq!(
        check("sales", "example.test", ClaimedIn::To),
        IdentityCheck::Forbidden("Authenticated user does not match To")
    );
    // User parts are case-sensitive (RFC 3261 §19.1.4).
    assert_eq!(
        check("Alice", "example.test", ClaimedIn::From),
        IdentityCheck::Forbidden("Authenticated user does not match From")
    );
    assert_eq!(
        check("alice", "other.test", ClaimedIn::From),
        IdentityCheck::Forbidden("Authenticated domain does not match From")
    );
    assert_eq!(
        check("alice", "other.test", ClaimedIn::To),
        IdentityCheck::Forbidden("Authenticated domain does not match To")
    );
}

#[test]
fn resolver_is_asked_only_when_needed() {
    let mut asked = 0;
    let r = check_identity(
        b"alice",
        b"example.test",
        b"alice",
        b"example.test",
        ClaimedIn::From,
        |_: &[u8], _: &[u8]| -> Option<(Vec<u8>, Vec<u8>)> {
            asked += 1;
            None
        },
    );
    assert_eq!(r, IdentityCheck::Ok { via_alias: false });
    assert_eq!(asked, 0);
    let r = check_identity(
        b"alice",
        b"example.test",
        b"x",
        b"example.test",
        ClaimedIn::From,
        |u: &[u8], d: &[u8]| {
            asked += 1;
            // An owned answer works as well as a borrowed one.
            (u == b"x").then(|| (b"alice".to_vec(), d.to_vec()))
        },
    );
    assert_eq!(r, IdentityCheck::Ok { via_alias: true });
    assert_eq!(asked, 1);
}
