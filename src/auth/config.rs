//! `[auth]` settings: every key has a default, unknown keys are refused.
//!
//! ```toml
//! [auth]
//! algorithms = ["SHA-256", "MD5"]   # offered SHA-256 first whatever the order here
//! nonce_lifetime_secs = 300
//! nonce_secret = "…64 hex digits…"  # same on every node that must accept the others' nonces
//! max_failures_per_source = 30
//! pike_threshold = 30               # requests per pike_window_secs; 0 = off
//! pike_exempt_loopback = true      # the host itself is never flood-blocked
//! ```

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::algorithm::{Algorithm, AlgorithmSet};
use super::failures::FailureLimit;
use super::nonce::{NonceSecret, SecretError};
use super::pike::FloodLimit;

/// Authentication, nonce and flood-protection settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// Challenge REGISTERs and our subscribers' requests. `false` believes the From/To
    /// headers (closed networks and tests only: anyone can register as anyone).
    pub enabled: bool,
    /// Digest algorithms offered and accepted (`"SHA-256"`, `"MD5"`). Challenges list
    /// SHA-256 first (RFC 8760 §2.4).
    pub algorithms: Vec<Algorithm>,
    /// Accept RFC 2069 responses without `qop` from old phones. They carry no nonce count,
    /// so within the nonce lifetime they cannot be protected against replay.
    pub allow_without_qop: bool,
    /// Seconds a nonce stays valid; an authentic older nonce is answered with `stale=true`.
    pub nonce_lifetime_secs: u64,
    /// Hex key (32-128 digits) for the nonce MAC. When absent each process draws a random
    /// one at start, and nonces do not survive a restart or cross nodes.
    pub nonce_secret: Option<String>,
    /// Distinguishes nodes sharing a `nonce_secret` (it goes into every nonce).
    pub node_id: u16,
    /// Accept a nonce only on the worker that issued it (see `auth::replay`); a valid
    /// response on another worker's nonce is answered with `stale=true`.
    pub bind_nonce_to_worker: bool,
    /// Nonces per worker whose highest `nc` is remembered (replay protection).
    pub nonce_cache_size: usize,
    /// `opaque` sent in challenges and required back unchanged; none when absent.
    pub opaque: Option<String>,
    /// Wrong passwords for one user within the window that block the user; 0 = off.
    pub max_failures_per_user: u32,
    /// Wrong passwords from one source address within the window that block it; 0 = off.
    pub max_failures_per_source: u32,
    /// Seconds over which wrong passwords are counted.
    pub failure_window_secs: u64,
    /// Seconds a user or source stays blocked.
    pub failure_block_secs: u64,
    /// Users, and separately sources, tracked per worker for failures.
    pub failure_table_size: usize,
    /// Requests per `pike_window_secs` from one source above which it is dropped; 0 = off.
    pub pike_threshold: u32,
    /// The pike sampling window in seconds.
    pub pike_window_secs: u64,
    /// Seconds a flooding source is dropped.
    pub pike_cooldown_secs: u64,
    /// Sources tracked per worker by pike.
    pub pike_table_size: usize,
    /// Loopback sources (127.0.0.0/8, ::1) are never flood-blocked: they are this host
    /// itself (a co-located media server, a load generator, the operator's own tests), and
    /// blocking them protects nothing that the network can reach.
    pub pike_exempt_loopback: bool,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            enabled: true,
            algorithms: vec![Algorithm::Sha256, Algorithm::Md5],
            allow_without_qop: true,
            nonce_lifetime_secs: 300,
            nonce_secret: None,
            node_id: 0,
            bind_nonce_to_worker: true,
            nonce_cache_size: 16_384,
            opaque: None,
            max_failures_per_user: 10,
            max_failures_per_source: 30,
            failure_window_secs: 300,
            failure_block_secs: 300,
            failure_table_size: 8_192,
            // OpenSIPS pike defaults: 30 requests per 2 s sampling unit.
            pike_threshold: 30,
            pike_window_secs: 2,
            pike_cooldown_secs: 60,
            pike_table_size: 65_536,
            pike_exempt_loopback: true,
        }
    }
}

/// A setting that cannot be used: the key under `[auth]` and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthConfigError {
    pub key: &'static str,
    pub reason: String,
}

impl std::fmt::Display for AuthConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "auth.{}: {}", self.key, self.reason)
    }
}

impl std::error::Error for AuthConfigError {}

fn invalid(key: &'static str, reason: impl Into<String>) -> AuthConfigError {
    AuthConfigError {
        key,
        reason: reason.into(),
    }
}

impl AuthConfig {
    /// Check what serde cannot: non-empty algorithms, usable durations and sizes, the secret.
    pub fn validate(&self) -> Result<(), AuthConfigError> {
        if self.algorithms.is_empty() {
            return Err(invalid("algorithms", "at least one algorithm is required"));
        }
        if self.nonce_lifetime_secs == 0 {
            return Err(invalid("nonce_lifetime_secs", "must be at least 1"));
        }
        if let Some(hex) = &self.nonce_secret {
            NonceSecret::from_hex(hex).map_err(|e| invalid("nonce_secret", e.to_string()))?;
        }
        if let Some(opaque) = &self.opaque {
            if opaque
                .bytes()
                .any(|b| b < 0x20 || b == 0x7f || b == b'"' || b == b'\\')
            {
                return Err(invalid(
                    "opaque",
                    "must not contain quotes, backslashes or controls",
                ));
            }
        }
        for (key, size) in [
            ("nonce_cache_size", self.nonce_cache_size),
            ("failure_table_size", self.failure_table_size),
            ("pike_table_size", self.pike_table_size),
        ] {
            if size == 0 || size > u32::MAX as usize / 2 {
                return Err(invalid(key, "must be between 1 and 2^31"));
            }
        }
        let failures_on = self.max_failures_per_user > 0 || self.max_failures_per_source > 0;
        if failures_on && (self.failure_window_secs == 0 || self.failure_block_secs == 0) {
            return Err(invalid(
                "failure_window_secs",
                "failure window and block time must be at least 1 s when failure limits are on",
            ));
        }
        if self.pike_threshold > 0 && (self.pike_window_secs == 0 || self.pike_cooldown_secs == 0) {
            return Err(invalid(
                "pike_window_secs",
                "pike window and cool-down must be at least 1 s when pike is on",
            ));
        }
        Ok(())
    }

    pub fn algorithm_set(&self) -> AlgorithmSet {
        self.algorithms
            .iter()
            .fold(AlgorithmSet::NONE, |set, &alg| set.with(alg))
    }

    /// The configured secret, or a fresh random one when none is configured.
    pub fn nonce_secret(&self) -> Result<NonceSecret, SecretError> {
        match &self.nonce_secret {
            Some(hex) => NonceSecret::from_hex(hex),
            None => NonceSecret::generate(),
        }
    }

    pub fn nonce_lifetime(&self) -> Duration {
        Duration::from_secs(self.nonce_lifetime_secs.max(1))
    }

    pub fn user_failure_limit(&self) -> FailureLimit {
        FailureLimit {
            max_failures: self.max_failures_per_user,
            window: Duration::from_secs(self.failure_window_secs),
            block: Duration::from_secs(self.failure_block_secs),
        }
    }

    pub fn source_failure_limit(&self) -> FailureLimit {
        FailureLimit {
            max_failures: self.max_failures_per_source,
            ..self.user_failure_limit()
        }
    }

    pub fn flood_limit(&self) -> FloodLimit {
        FloodLimit {
            threshold: self.pike_threshold,
            window: Duration::from_secs(self.pike_window_secs),
            cooldown: Duration::from_secs(self.pike_cooldown_secs),
        }
    }
}

impl Serialize for Algorithm {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.token())
    }
}

impl<'de> Deserialize<'de> for Algorithm {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        Algorithm::from_token(name.as_bytes()).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown digest algorithm {name:?} (expected \"SHA-256\" or \"MD5\")"
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Wrapper {
        #[serde(default)]
        auth: AuthConfig,
    }

    #[test]
    fn empty_section_is_the_default() {
        let w: Wrapper = toml::from_str("[auth]\n").unwrap();
        assert_eq!(w.auth, AuthConfig::default());
        assert!(w.auth.validate().is_ok());
        assert_eq!(w.auth.algorithm_set(), AlgorithmSet::BOTH);
    }

    #[test]
    fn keys_parse_and_unknown_keys_are_refused() {
        let w: Wrapper = toml::from_str(
            "[auth]\nalgorithms = [\"md5\"]\nnonce_lifetime_secs = 60\npike_threshold = 0\n",
        )
        .unwrap();
        assert_eq!(w.auth.algorithms, vec![Algorithm::Md5]);
        assert_eq!(w.auth.nonce_lifetime_secs, 60);
        assert_eq!(w.auth.pike_threshold, 0);
        let err = toml::from_str::<Wrapper>("[auth]\nnonce_lifetime = 60\n").err();
        assert!(err.is_some_and(|e| e.to_string().contains("unknown field")));
        let err = toml::from_str::<Wrapper>("[auth]\nalgorithms = [\"SHA-1\"]\n").err();
        assert!(err.is_some_and(|e| e.to_string().contains("unknown digest algorithm")));
    }

    #[test]
    fn validation_names_the_key() {
        let bad = AuthConfig {
            nonce_secret: Some("abc".into()),
            ..AuthConfig::default()
        };
        assert_eq!(bad.validate().map_err(|e| e.key), Err("nonce_secret"));
        let bad = AuthConfig {
            algorithms: vec![],
            ..AuthConfig::default()
        };
        assert_eq!(bad.validate().map_err(|e| e.key), Err("algorithms"));
        let bad = AuthConfig {
            pike_window_secs: 0,
            ..AuthConfig::default()
        };
        assert_eq!(bad.validate().map_err(|e| e.key), Err("pike_window_secs"));
        let good = AuthConfig {
            nonce_secret: Some("00".repeat(32)),
            ..AuthConfig::default()
        };
        assert!(good.validate().is_ok() && good.nonce_secret().is_ok());
    }
}
