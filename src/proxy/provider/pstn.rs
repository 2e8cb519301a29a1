//! Calls to telephone numbers: the caller's permission (OpenSIPS `is_user_in("pstn")`,
//! `"international"`), the longest-prefix route and its gateways in order (drouting
//! `do_routing`; the failure route tries the next one, `use_next_gw`).
//!
//! A number is a Request-URI user part of digits with an optional leading `+` (or a tel:
//! URI) that is not one of our subscribers, aliases or DIDs. The route is looked up with
//! the digits (a leading `+` skipped); each gateway gets the number as dialled, rewritten by
//! its `strip` and `prefix`.

use std::net::SocketAddr;

use crate::proxy::locality::host_ip;
use crate::proxy::{Reply, Target};
use crate::sip::Host;
use crate::table::{ForwardingSnapshot, Gateway, SubscriberId};

/// Digits with an optional leading `+`.
pub fn is_number(user: &[u8]) -> bool {
    let digits = user.strip_prefix(b"+").unwrap_or(user);
    !digits.is_empty() && digits.iter().all(u8::is_ascii_digit)
}

/// The gateway branches for `number` in order of preference, or the refusal. `caller` is the
/// subscriber the call is made for (the caller, or the subscriber who forwards it).
pub fn gateway_targets(
    snap: &ForwardingSnapshot,
    number: &[u8],
    caller: Option<SubscriberId>,
) -> Result<Vec<Target>, Reply> {
    let Some(caller) = caller else {
        return Err(Reply::new(403, "Forbidden (PSTN Calls Need A Subscriber)"));
    };
    if !snap.is_in_group(caller, "pstn") {
        return Err(Reply::new(403, "Forbidden (Not In Group pstn)"));
    }
    if snap.is_international(number) && !snap.is_in_group(caller, "international") {
        return Err(Reply::new(403, "Forbidden (Not In Group international)"));
    }
    let digits = number.strip_prefix(b"+").unwrap_or(number);
    let Some(route) = snap.route_for_number(digits) else {
        return Err(Reply::new(404, "No Route To Number"));
    };
    let mut buf = Vec::new();
    let targets: Vec<Target> = route
        .gateways
        .iter()
        .filter_map(|id| snap.gateway(*id))
        .map(|gw| gateway_target(gw, number, &mut buf))
        .collect();
    if targets.is_empty() {
        return Err(Reply::new(503, "No Gateway For Route"));
    }
    Ok(targets)
}

fn gateway_target(gw: &Gateway, number: &[u8], buf: &mut Vec<u8>) -> Target {
    gw.rewrite_number(number, buf);
    let uri = format!(
        "sip:{}@{}:{}",
        String::from_utf8_lossy(buf),
        gw.host,
        gw.port
    );
    let mut t = Target::uri(uri);
    // A host name is left to the core (which does no DNS: 502 unless it can resolve it).
    if let Some(ip) = Host::parse(gw.host.as_bytes()).and_then(host_ip) {
        t.next_hop = Some(SocketAddr::new(ip, gw.port));
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert!(is_number(b"+4930123"));
        assert!(is_number(b"004930123"));
        assert!(!is_number(b"+"));
        assert!(!is_number(b"alice"));
        assert!(!is_number(b"12a"));
        assert!(!is_number(b""));
    }
}
