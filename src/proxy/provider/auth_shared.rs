//! What every worker's digest step shares, built once at start: the `[auth]` settings, the
//! nonce secret and the wall-clock anchor.
//!
//! ```text
//!   AuthShared (built once) ── config: AuthConfig (validated)
//!        │                   ├─ secret: NonceSecret  (one per process, or from the config:
//!        │                   │                        a nonce from worker j verifies on k)
//!        │                   └─ anchor: UnixTimeAnchor (one Instant ↔ wall-clock pairing)
//!        └─ install(proxy of worker k) ──► DigestAuthorizer k (own nonce issuer, replay
//!                                          cache, failure and flood tables: no locks)
//! ```

use std::time::Instant;

use super::auth_step::{AuthEventSink, DigestAuthorizer};
use super::ProviderRouter;
use crate::auth::{AuthConfig, NonceSecret, UnixTimeAnchor};
use crate::proxy::StatefulProxy;

/// The process-wide part of digest authentication.
#[derive(Debug, Clone)]
pub struct AuthShared {
    config: AuthConfig,
    secret: NonceSecret,
    anchor: UnixTimeAnchor,
    /// Drawn once; each worker's nonce salt is derived from it and the worker index.
    salt_seed: u64,
}

impl AuthShared {
    /// From `[auth]`: validated, the configured secret or a fresh random one. `now` and
    /// `unix_secs` are the same moment on the monotonic and the wall clock (the runtime
    /// reads both once at start).
    pub fn from_config(config: &AuthConfig, now: Instant, unix_secs: u64) -> Result<Self, String> {
        config.validate().map_err(|e| e.to_string())?;
        let secret = config
            .nonce_secret()
            .map_err(|e| format!("auth.nonce_secret: {e}"))?;
        let mut seed = [0u8; 8];
        getrandom::getrandom(&mut seed)
            .map_err(|e| format!("no randomness for the nonce salt: {e}"))?;
        Ok(AuthShared {
            config: config.clone(),
            secret,
            anchor: UnixTimeAnchor::new(now, unix_secs),
            salt_seed: u64::from_le_bytes(seed),
        })
    }

    /// With a given secret, anchor and salt seed (tests, nodes sharing one secret).
    pub fn new(
        config: AuthConfig,
        secret: NonceSecret,
        anchor: UnixTimeAnchor,
        salt_seed: u64,
    ) -> Self {
        AuthShared {
            config,
            secret,
            anchor,
            salt_seed,
        }
    }

    pub fn config(&self) -> &AuthConfig {
        &self.config
    }

    /// The digest step of worker `worker`; `salt_seed` from the OS random source.
    pub fn authorizer(&self, worker: u16, salt_seed: u64) -> DigestAuthorizer {
        DigestAuthorizer::new(&self.config, &self.secret, worker, self.anchor, salt_seed)
    }

    /// Put the digest step of the proxy's worker into its router, events to `sink`.
    pub fn install(&self, proxy: &mut StatefulProxy<ProviderRouter>, sink: Option<AuthEventSink>) {
        let worker = proxy.config().worker;
        // SplitMix64 step: distinct, well-mixed salts per worker from one random seed.
        let mut z = self.salt_seed.wrapping_add(
            u64::from(worker)
                .wrapping_add(1)
                .wrapping_mul(0x9e37_79b9_7f4a_7c15),
        );
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        let mut step = self.authorizer(worker, z ^ (z >> 31));
        if let Some(sink) = sink {
            step = step.with_event_sink(sink);
        }
        proxy.router_mut().set_authorizer(Box::new(step));
    }
}
