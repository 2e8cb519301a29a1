//! Digest authentication (RFC 3261 §22, RFC 7616, RFC 8760), stateless nonces, replay and
//! brute-force protection, flood protection (OpenSIPS `pike`) and identity checks.
//!
//! Sans-I/O like the rest of the core: time comes in as an argument, nothing here reads a
//! clock, a socket or a thread. One [`Authenticator`] and one [`FloodGuard`] per worker;
//! the only state shared between workers (and nodes) is the nonce secret.
//!
//! ```text
//!  request ─► FloodGuard::check ──Drop──► (silently dropped; log once if newly_blocked)
//!               │Accept
//!               ▼ no credentials for our realm
//!        Authenticator::write_challenge ──► 401 (REGISTER) / 407 with nonce
//!               │ credentials (DigestResponse borrowed from the parsed header)
//!               ▼
//!        Authenticator::verify(now, AuthRequest, DigestResponse, StoredHa1 from table)
//!               │ Verification { result, newly_blocked }  ──► result.suggested_reply()
//!               ▼ Ok
//!        check_identity(user, domain, From or To, alias resolver) ──► Ok / 403 reason
//! ```
//!
//! Module map: [`algorithm`] hashes and the response formula, [`nonce`] the stateless
//! nonce, [`challenge`] header writing, [`replay`] the nonce-count cache, [`failures`]
//! the brute-force limits, [`pike`] the flood limits, [`identity`] From/To checks,
//! [`authenticator`] the per-worker combination, [`config`] the `[auth]` section.

pub mod algorithm;
pub mod authenticator;
mod bounded;
pub mod challenge;
pub mod config;
pub mod credentials;
pub mod failures;
pub mod identity;
pub mod keyed_hash;
pub mod nonce;
pub mod outcome;
pub mod pike;
pub mod replay;
pub mod source;

pub use algorithm::{compute_ha1, digest_response, Algorithm, AlgorithmSet, HexDigest, QopAuth};
pub use authenticator::{AuthStats, Authenticator};
pub use challenge::{
    write_challenge_headers, write_challenge_value, ChallengeKind, ChallengeParams,
};
pub use config::{AuthConfig, AuthConfigError};
pub use credentials::{AuthRequest, DigestResponse, StoredHa1};
pub use failures::BlockFlags;
pub use identity::{check_identity, ClaimedIn, IdentityCheck};
pub use nonce::{Nonce, NonceSecret, SecretError, UnixTimeAnchor};
pub use outcome::{MalformedReason, SuggestedReply, Verification, VerifyResult};
pub use pike::{FloodGuard, FloodLimit, FloodVerdict};
