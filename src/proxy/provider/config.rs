//! [`ProviderConfig`]: the operator's knobs for the provider routing logic.
//!
//! Meant to be embedded in `ringlet.toml` as a `[provider]` section (the config layer owns
//! that file); every key has a default, unknown keys are refused.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// `[provider]`: relaying policy, call-forward rules, voicemail conventions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProviderConfig {
    /// Relay requests for domains we do not serve when the caller is one of our
    /// subscribers (From in a served domain, identity from the auth step).
    pub allow_relay_from_subscribers: bool,
    /// Relay requests for domains we do not serve when they come from a trusted peer.
    pub allow_relay_from_trusted_peers: bool,
    /// Relay anything from anyone (an open relay: only for closed test networks).
    pub open_relay: bool,
    /// How many call forwards one call may follow (A → B → C is two).
    pub max_forward_depth: u8,
    /// Final codes that mean "busy" (forward on busy). The book: 486 and 600.
    pub busy_codes: Vec<u16>,
    /// Final codes that mean "no answer" (forward on no answer, also after the subscriber's
    /// no-answer timeout, which the proxy reports as 408). The book: 408 and 480.
    pub no_answer_codes: Vec<u16>,
    /// Final codes that mean "unavailable" (forward when unavailable; a subscriber with no
    /// binding is unavailable without any code). Empty by default.
    pub unavailable_codes: Vec<u16>,
    /// Request-URI user prefix for the voicemail server on busy (`b<user>`, Asterisk).
    pub voicemail_busy_prefix: String,
    /// Request-URI user prefix for the voicemail server otherwise (`u<user>`).
    pub voicemail_unavailable_prefix: String,
    /// How long calls to a subscriber without a no-answer forward may ring, in
    /// milliseconds (OpenSIPS `fr_inv_timeout`); 0 leaves it to Timer C. `ringlet run` sets it
    /// from `[sip] no_answer_timeout_ms`.
    pub ring_timeout_ms: u64,
    /// Gateway failover (`use_next_gw`): final codes after which the next gateway of the
    /// route is tried. Any 5xx and 408 by default.
    pub next_gateway_codes: Vec<u16>,
}

impl Default for ProviderConfig {
    fn default() -> Self {
        ProviderConfig {
            allow_relay_from_subscribers: true,
            allow_relay_from_trusted_peers: true,
            open_relay: false,
            max_forward_depth: 5,
            busy_codes: vec![486, 600],
            no_answer_codes: vec![408, 480],
            unavailable_codes: Vec::new(),
            voicemail_busy_prefix: "b".into(),
            voicemail_unavailable_prefix: "u".into(),
            ring_timeout_ms: 0,
            next_gateway_codes: vec![408, 500, 502, 503, 504],
        }
    }
}

impl ProviderConfig {
    /// The ring limit for calls without a no-answer forward, if any.
    pub fn ring_timeout(&self) -> Option<Duration> {
        (self.ring_timeout_ms > 0).then(|| Duration::from_millis(self.ring_timeout_ms))
    }

    /// Is `code` a reason to try the next gateway?
    pub fn next_gateway_on(&self, code: u16) -> bool {
        self.next_gateway_codes.contains(&code)
    }

    /// Check values that parse but cannot work; the error names the key.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        if self.max_forward_depth == 0 || self.max_forward_depth > 16 {
            return Err((
                "provider.max_forward_depth",
                format!(
                    "{} is out of range; allowed: 1..=16",
                    self.max_forward_depth
                ),
            ));
        }
        for (key, codes) in [
            ("provider.busy_codes", &self.busy_codes),
            ("provider.no_answer_codes", &self.no_answer_codes),
            ("provider.unavailable_codes", &self.unavailable_codes),
            ("provider.next_gateway_codes", &self.next_gateway_codes),
        ] {
            if let Some(c) = codes.iter().find(|c| !(300..=699).contains(*c)) {
                return Err((key, format!("{c} is not a final failure code (300..=699)")));
            }
        }
        for (key, p) in [
            (
                "provider.voicemail_busy_prefix",
                &self.voicemail_busy_prefix,
            ),
            (
                "provider.voicemail_unavailable_prefix",
                &self.voicemail_unavailable_prefix,
            ),
        ] {
            if !p
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.!~*'+".contains(&b))
            {
                return Err((
                    key,
                    format!("{p:?} must be URI user characters (letters, digits, -_.!~*'+)"),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_books_and_round_trip() {
        let d = ProviderConfig::default();
        assert_eq!(d.busy_codes, [486, 600]);
        assert_eq!(d.no_answer_codes, [408, 480]);
        d.validate().unwrap();
        let text = toml::to_string(&d).unwrap();
        assert_eq!(toml::from_str::<ProviderConfig>(&text).unwrap(), d);
        assert_eq!(toml::from_str::<ProviderConfig>("").unwrap(), d);
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused() {
        assert!(toml::from_str::<ProviderConfig>("open_relais = true").is_err());
        let c: ProviderConfig = toml::from_str("busy_codes = [486, 200]").unwrap();
        assert_eq!(c.validate().unwrap_err().0, "provider.busy_codes");
        let c: ProviderConfig = toml::from_str("voicemail_busy_prefix = \"b@\"").unwrap();
        assert_eq!(
            c.validate().unwrap_err().0,
            "provider.voicemail_busy_prefix"
        );
    }
}
