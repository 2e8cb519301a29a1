//! Identity checks after authentication (OpenSIPS `check_from` / `check_to`,
//! `db_is_to_authorized`): the user that proved a password must be the one the request
//! speaks for, directly or through one of its aliases.
//!
//! - calls and other requests: the From URI (RFC 3261 §8.1.1.3) must be the authenticated
//!   user;
//! - REGISTER: the To URI, the address of record being bound (RFC 3261 §10.3 step 6), must
//!   be the authenticated user.
//!
//! User parts compare byte for byte (RFC 3261 §19.1.4: userinfo is case-sensitive), host
//! parts ASCII case-insensitively. An alias resolver supplied by the caller maps a claimed
//! (user, domain) to its canonical subscriber, as the forwarding table knows it.

/// Which header the claimed identity was taken from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimedIn {
    /// From, for calls and other non-REGISTER requests.
    From,
    /// To, for REGISTER.
    To,
}

/// The outcome of an identity check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentityCheck {
    /// The claimed identity is the authenticated user (`via_alias`: through an alias).
    Ok { via_alias: bool },
    /// Answer 403 with this reason phrase.
    Forbidden(&'static str),
}

/// Is `claimed` (from From or To) the authenticated user or one of its aliases?
///
/// `resolve_alias(user, domain)` returns the canonical (user, domain) that an alias stands
/// for, or `None` if the pair is not an alias. It is asked only when the direct comparison
/// fails.
pub fn check_identity<R, F>(
    authenticated_user: &[u8],
    authenticated_domain: &[u8],
    claimed_user: &[u8],
    claimed_domain: &[u8],
    claimed_in: ClaimedIn,
    resolve_alias: F,
) -> IdentityCheck
where
    R: AsRef<[u8]>,
    F: FnOnce(&[u8], &[u8]) -> Option<(R, R)>,
{
    let same = |user: &[u8], domain: &[u8]| {
        user == authenticated_user && domain.eq_ignore_ascii_case(authenticated_domain)
    };
    if same(claimed_user, claimed_domain) {
        return IdentityCheck::Ok { via_alias: false };
    }
    if let Some((user, domain)) = resolve_alias(claimed_user, claimed_domain) {
        if same(user.as_ref(), domain.as_ref()) {
            return IdentityCheck::Ok { via_alias: true };
        }
    }
    let domain_differs = !claimed_domain.eq_ignore_ascii_case(authenticated_domain);
    IdentityCheck::Forbidden(match (claimed_in, domain_differs) {
        (ClaimedIn::From, false) => "Authenticated user does not match From",
        (ClaimedIn::From, true) => "Authenticated domain does not match From",
        (ClaimedIn::To, false) => "Authenticated user does not match To",
        (ClaimedIn::To, true) => "Authenticated domain does not match To",
    })
}
