//! REGISTER to a served domain: the request reduced by the registrar, the NAT verdict, the
//! registrar's outcome turned into the reply (OpenSIPS `save("location")`).
//!
//! The NAT verdict stored with the bindings is a simple `nat_uac_test` (flags 1 and 32 of
//! OpenSIPS together): a Contact with a private address (RFC 1918, RFC 6598 shared space,
//! link-local, unique-local) that is not the source address, or a Contact host name (which
//! this proxy cannot resolve): such bindings are reached at the address the REGISTER came
//! from. A public or loopback Contact elsewhere is a third-party registration and is kept.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use crate::proxy::locality::next_hop;
use crate::proxy::{Reply, RequestInfo};
use crate::registrar::{
    BindingFlags, ParsedRegister, RegisterDisposition, RegisterOutcome, RegisterSource, Registrar,
};
use crate::sip::{Message, Uri};
use crate::table::ForwardingSnapshot;

/// The location-table key of a subscriber: `user@domain`, domain lowercase.
pub fn write_aor(snap: &ForwardingSnapshot, id: crate::table::SubscriberId, out: &mut Vec<u8>) {
    out.clear();
    if let Some(s) = snap.subscriber_by_id(id) {
        out.extend_from_slice(s.user.as_bytes());
        out.push(b'@');
        out.extend_from_slice(snap.domain_name(s.domain).unwrap_or("").as_bytes());
    }
}

/// Process a REGISTER whose Request-URI host is a served domain or (`host_is_us`) one of
/// our own addresses. `None`: the registrar says the domain is not ours after all.
pub fn process_register(
    registrar: &Registrar,
    snap: &ForwardingSnapshot,
    now: Instant,
    req: &Message<'_>,
    info: &RequestInfo,
    host_is_us: bool,
    outcome: &mut RegisterOutcome,
) -> Option<Reply> {
    let mut nat = false;
    let reduced = ParsedRegister::from_message_with(req, |uri| {
        nat |= uri_differs_from_source(uri, info.src);
    });
    let mut reduced = match reduced {
        Ok(r) => r,
        Err((status, reason)) => return Some(Reply::new(status, reason)),
    };
    if host_is_us && !snap.is_local_domain(reduced.request_uri_host) {
        // `REGISTER sip:<our address>`: the domain is the one the To names (OpenSIPS
        // `is_myself($ru)` then `save()` on the To AoR).
        reduced.request_uri_host = reduced.to_host;
    }
    let mut flags = BindingFlags::default();
    if nat {
        flags.0 |= BindingFlags::NAT;
    }
    let from = RegisterSource {
        src: info.src,
        local: info.local,
        flags,
    };
    // The table is the registrar's directory: aliases and DIDs resolved, disabled refused.
    match registrar.process(&reduced, snap, &from, now, outcome) {
        RegisterDisposition::NotLocal => None,
        RegisterDisposition::Answered => {
            let mut reply = Reply::new(outcome.status, outcome.reason);
            reply.headers.reserve_exact(outcome.header_fields().len());
            reply.headers.extend(outcome.header_lines());
            Some(reply)
        }
    }
}

/// See the module docs: reach this Contact at the source address instead.
fn uri_differs_from_source(uri: &Uri<'_>, src: SocketAddr) -> bool {
    match next_hop(uri) {
        Ok(hop) => hop != src && is_private(hop.ip()),
        Err(_) => true,
    }
}

fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_private() || v4.is_link_local() || (o[0] == 100 && (64..128).contains(&o[1]))
        }
        // fc00::/7 unique local, fe80::/10 link local.
        IpAddr::V6(v6) => {
            let s = v6.segments()[0];
            (s & 0xfe00) == 0xfc00 || (s & 0xffc0) == 0xfe80
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contact_differs_from_source(uri: &[u8], src: SocketAddr) -> bool {
        Uri::parse(uri).map_or(true, |u| uri_differs_from_source(&u, src))
    }

    #[test]
    fn nat_guess_private_elsewhere_or_a_name() {
        let src: SocketAddr = "203.0.113.7:40000".parse().unwrap();
        assert!(contact_differs_from_source(b"sip:a@192.168.1.20:5060", src));
        assert!(
            contact_differs_from_source(b"sip:a@100.64.3.3", src),
            "RFC 6598 shared space"
        );
        assert!(
            contact_differs_from_source(b"sip:a@phone.example", src),
            "a name: no DNS here"
        );
        assert!(
            !contact_differs_from_source(b"sip:a@203.0.113.7:40000", src),
            "the source itself"
        );
        assert!(
            !contact_differs_from_source(b"sip:a@198.51.100.9:5060", src),
            "third-party registration"
        );
        assert!(!contact_differs_from_source(b"sip:a@127.0.0.1:5090", src));
        let lan: SocketAddr = "192.168.1.20:5060".parse().unwrap();
        assert!(
            !contact_differs_from_source(b"sip:a@192.168.1.20:5060", lan),
            "same LAN, no NAT"
        );
    }
}
