//! Our subscribers as destinations: the Request-URI resolved to a subscriber (aliases and
//! DIDs), and the location lookup turned into branches (OpenSIPS `alias_db_lookup`,
//! `lookup("location")`).
//!
//! One binding becomes one [`Target`]: the Contact is the branch's Request-URI and its q the
//! branch's q (the core forks equal q in parallel, descending q in series). A binding that
//! came with a Path (RFC 3327) is reached through it: the Path is the branch's Route set
//! and its first entry the next hop. A NATed binding is reached at the address its
//! REGISTER came from.

use std::time::Duration;

use crate::proxy::locality::next_hop;
use crate::proxy::Target;
use crate::registrar::{BindingFlags, BindingList};
use crate::sip::{NameAddr, Uri};
use crate::table::{ForwardingSnapshot, Resolved};

/// The comma-separated elements of a header value (commas inside `<>` or quotes kept).
pub(crate) fn split_list(v: &[u8]) -> impl Iterator<Item = &[u8]> {
    crate::proxy::splice::split_commas(v)
}

/// The subscriber `user@host` names. `host` is a served domain, or (when `host_is_us`) one
/// of our own addresses, in which case every served domain is tried in table order.
pub fn resolve_local(
    snap: &ForwardingSnapshot,
    user: &[u8],
    host: &[u8],
    host_is_us: bool,
) -> Option<Resolved> {
    if let Some(r) = snap.resolve(user, host) {
        return Some(r);
    }
    if host_is_us && !snap.is_local_domain(host) {
        return snap
            .domains()
            .find_map(|d| snap.resolve(user, d.as_bytes()));
    }
    None
}

/// One branch per binding (see the module docs). `mailbox`: replace each Contact's user
/// part (voicemail servers registered as subscribers). `no_answer`: the ring limit.
pub fn binding_targets(
    bindings: &BindingList,
    mailbox: Option<&str>,
    no_answer: Option<Duration>,
    out: &mut Vec<Target>,
) {
    for b in bindings.iter() {
        let contact = String::from_utf8_lossy(b.contact());
        let uri = match mailbox {
            Some(m) => match with_user(&contact, m) {
                Some(u) => u,
                None => continue,
            },
            None => contact.into_owned(),
        };
        let mut t = Target::uri(uri).with_q(b.q());
        t.no_answer = no_answer;
        let path = b.path();
        if !path.is_empty() {
            // RFC 3327 §5.1: the stored Path is the Route set towards this contact.
            let first = split_list(path)
                .next()
                .and_then(|p| NameAddr::parse(p).ok())
                .map(|na| next_hop(&na.uri));
            match first {
                Some(Ok(hop)) => t.next_hop = Some(hop),
                _ => continue,
            }
            t.headers
                .push(format!("Route: {}", String::from_utf8_lossy(path)));
        } else if b.flags().has(BindingFlags::NAT) {
            t.next_hop = b.received();
        }
        out.push(t);
    }
}

/// `uri` with its user part set to `user` (added when it has none). `None` when `uri` is
/// not a sip:/sips: URI.
pub fn with_user(uri: &str, user: &str) -> Option<String> {
    let parsed = Uri::parse(uri.as_bytes()).ok()?;
    if !parsed.is_sip() {
        return None;
    }
    let colon = uri.find(':')?;
    let host_at = offset(uri.as_bytes(), parsed.host_raw)?;
    let mut out = String::with_capacity(uri.len() + user.len() + 1);
    out.push_str(&uri[..=colon]);
    out.push_str(user);
    out.push('@');
    out.push_str(&uri[host_at..]);
    Some(out)
}

fn offset(whole: &[u8], part: &[u8]) -> Option<usize> {
    let o = (part.as_ptr() as usize).checked_sub(whole.as_ptr() as usize)?;
    (o + part.len() <= whole.len()).then_some(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn with_user_replaces_or_adds_the_user_part() {
        assert_eq!(
            with_user("sip:vm@127.0.0.1:5090;transport=udp", "bcarol").unwrap(),
            "sip:bcarol@127.0.0.1:5090;transport=udp"
        );
        assert_eq!(
            with_user("sip:127.0.0.1", "ubob").unwrap(),
            "sip:ubob@127.0.0.1"
        );
        assert_eq!(
            with_user("sip:a:secret@h.example", "x").unwrap(),
            "sip:x@h.example"
        );
        assert!(with_user("tel:+123", "x").is_none());
    }
}
