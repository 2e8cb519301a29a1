//! The result of verifying credentials, and the SIP answer it calls for.

use super::failures::BlockFlags;

/// Why credentials could not even be checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MalformedReason {
    MissingUsername,
    MissingNonce,
    MissingUri,
    MissingResponse,
    /// `qop` other than `auth` (we never offer `auth-int`).
    UnsupportedQop,
    /// No `qop`, and responses without it are not allowed by the configuration.
    QopRequired,
    /// `qop=auth` without `cnonce`.
    MissingCnonce,
    /// `qop=auth` without a valid `nc` (1 to 8 hex digits).
    BadNonceCount,
    /// `response` is not a hex hash of the algorithm's length.
    BadResponse,
    /// `opaque` differs from the configured one.
    OpaqueMismatch,
}

impl MalformedReason {
    /// A reason phrase for the 400 answer.
    pub fn reason_phrase(self) -> &'static str {
        match self {
            MalformedReason::MissingUsername => "Bad Request - Credentials without username",
            MalformedReason::MissingNonce => "Bad Request - Credentials without nonce",
            MalformedReason::MissingUri => "Bad Request - Credentials without uri",
            MalformedReason::MissingResponse => "Bad Request - Credentials without response",
            MalformedReason::UnsupportedQop => "Bad Request - Unsupported qop",
            MalformedReason::QopRequired => "Bad Request - qop=auth required",
            MalformedReason::MissingCnonce => "Bad Request - qop=auth without cnonce",
            MalformedReason::BadNonceCount => "Bad Request - Invalid nc",
            MalformedReason::BadResponse => "Bad Request - Invalid digest response",
            MalformedReason::OpaqueMismatch => "Bad Request - Opaque mismatch",
        }
    }
}

/// The verdict on one set of credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyResult {
    /// Authenticated.
    Ok,
    /// The response does not match (or the user is unknown: not told apart, so that user
    /// names cannot be probed). Counted by the failure limits.
    WrongPassword,
    /// The response was right but the nonce is expired, was issued by another worker
    /// (binding on), or its replay entry was evicted: challenge again with `stale=true`.
    StaleNonce,
    /// The nonce was not issued by us (forged or altered).
    BadNonce,
    /// The credentials are for another realm.
    WrongRealm,
    /// The credentials' `uri` differs from the Request-URI.
    UriMismatch,
    /// A nonce count already accepted on this nonce.
    Replay,
    /// An algorithm not configured, or one for which the user has no HA1.
    UnsupportedAlgorithm,
    Malformed(MalformedReason),
    /// The user or source is blocked after too many wrong passwords; not verified.
    Blocked(BlockFlags),
}

/// What to answer, as the OpenSIPS `www_authorize`/`proxy_authorize` idiom does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SuggestedReply {
    /// Go on with the request.
    Proceed,
    /// Answer 401/407 with a fresh challenge.
    Challenge { stale: bool },
    /// Answer 403 with this reason phrase (or drop, for blocked sources).
    Forbidden(&'static str),
    /// Answer 400 with this reason phrase.
    BadRequest(&'static str),
}

impl VerifyResult {
    pub fn is_ok(self) -> bool {
        self == VerifyResult::Ok
    }

    pub fn suggested_reply(self) -> SuggestedReply {
        match self {
            VerifyResult::Ok => SuggestedReply::Proceed,
            VerifyResult::StaleNonce | VerifyResult::Replay => {
                SuggestedReply::Challenge { stale: true }
            }
            VerifyResult::WrongPassword
            | VerifyResult::BadNonce
            | VerifyResult::WrongRealm
            | VerifyResult::UnsupportedAlgorithm => SuggestedReply::Challenge { stale: false },
            VerifyResult::UriMismatch => SuggestedReply::BadRequest(
                "Bad Request - Authorization uri does not match Request-URI",
            ),
            VerifyResult::Malformed(r) => SuggestedReply::BadRequest(r.reason_phrase()),
            VerifyResult::Blocked(_) => {
                SuggestedReply::Forbidden("Too many failed authentication attempts")
            }
        }
    }
}

/// A verdict plus what it changed in the failure limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verification {
    pub result: VerifyResult,
    /// Keys this very request has just blocked: log them now (once per block).
    pub newly_blocked: BlockFlags,
}
