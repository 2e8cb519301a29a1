//! The forwarding table as the registrar's [`SubscriberDirectory`]: which domains are
//! served, and which subscriber (aliases and DIDs resolved) a To URI names.
//!
//! The AoR key is `user@domain`: the subscriber's canonical user (byte-exact) and its
//! domain in lowercase, so `alice@Example.COM`, an alias of alice and a DID of hers all
//! key the same bindings. The proxy's lookup must build keys the same way: it calls
//! [`SubscriberDirectory::registration_aor`] (or [`aor_key`]) too.

use super::register::{AorLookup, SubscriberDirectory};
use crate::table::ForwardingSnapshot;

/// Writes the AoR key of `user` in `domain` (already lowercase) into `out` (cleared).
pub fn aor_key(user: &[u8], domain: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(user);
    out.push(b'@');
    out.extend_from_slice(domain);
}

impl SubscriberDirectory for ForwardingSnapshot {
    fn is_local_domain(&self, host: &[u8]) -> bool {
        ForwardingSnapshot::is_local_domain(self, host)
    }

    fn registration_aor(&self, user: &[u8], host: &[u8], out: &mut Vec<u8>) -> AorLookup {
        out.clear();
        let Some(resolved) = self.resolve(user, host) else {
            return AorLookup::Unknown;
        };
        let Some(sub) = self.subscriber_by_id(resolved.id) else {
            return AorLookup::Unknown;
        };
        let Some(domain) = self.domain_name(sub.domain) else {
            return AorLookup::Unknown;
        };
        if !sub.enabled {
            return AorLookup::Disabled;
        }
        aor_key(sub.user.as_bytes(), domain.as_bytes(), out);
        AorLookup::Found
    }
}
