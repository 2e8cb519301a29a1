//! REGISTER to a served domain: the request reduced for the registrar, the registrar's
//! outcome turned into the reply (OpenSIPS `save("location")`).
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
    AorLookup, BindingFlags, ParsedRegister, RegisterDisposition, RegisterOutcome, RegisterSource,
    Registrar, RequestedContact, SubscriberDirectory,
};
use crate::sip::{Contact, HeaderName, Message, Uri};
use crate::table::ForwardingSnapshot;

/// The forwarding table as the registrar's directory: aliases and DIDs resolved, disabled
/// subscribers reported.
pub struct TableDirectory<'a>(pub &'a ForwardingSnapshot);

impl SubscriberDirectory for TableDirectory<'_> {
    fn is_local_domain(&self, host: &[u8]) -> bool {
        self.0.is_local_domain(host)
    }

    fn registration_aor(&self, user: &[u8], host: &[u8], out: &mut Vec<u8>) -> AorLookup {
        out.clear();
        let Some(r) = self.0.resolve(user, host) else {
            return AorLookup::Unknown;
        };
        let Some(s) = self.0.subscriber_by_id(r.id) else {
            return AorLookup::Unknown;
        };
        if !s.enabled {
            return AorLookup::Disabled;
        }
        write_aor(self.0, r.id, out);
        AorLookup::Found
    }
}

/// The location-table key of a subscriber: `user@domain`, domain lowercase.
pub fn write_aor(snap: &ForwardingSnapshot, id: crate::table::SubscriberId, out: &mut Vec<u8>) {
    out.clear();
    if let Some(s) = snap.subscriber_by_id(id) {
        out.extend_from_slice(s.user.as_bytes());
        out.push(b'@');
        out.extend_from_slice(snap.domain_name(s.domain).unwrap_or("").as_bytes());
    }
}

/// Why a REGISTER could not be reduced.
fn bad(reason: &'static str) -> Reply {
    Reply::new(400, reason)
}

/// Process a REGISTER whose Request-URI host is a served domain. `None`: the registrar says
/// it is not ours after all (the caller relays it).
pub fn process_register(
    registrar: &Registrar,
    snap: &ForwardingSnapshot,
    now: Instant,
    req: &Message<'_>,
    info: &RequestInfo,
    outcome: &mut RegisterOutcome,
) -> Option<Reply> {
    let reduced = match reduce(req) {
        Ok(r) => r,
        Err(reply) => return Some(reply),
    };
    let mut flags = BindingFlags::default();
    if reduced
        .contacts()
        .iter()
        .any(|c| contact_differs_from_source(c.uri, info.src))
    {
        flags.0 |= BindingFlags::NAT;
    }
    let from = RegisterSource {
        src: info.src,
        local: info.local,
        flags,
    };
    match registrar.process(&reduced, &TableDirectory(snap), &from, now, outcome) {
        RegisterDisposition::NotLocal => None,
        RegisterDisposition::Answered => {
            let mut reply = Reply::new(outcome.status, outcome.reason);
            for (h, v) in outcome.header_fields() {
                reply
                    .headers
                    .push(format!("{}: {}", h.name(), String::from_utf8_lossy(v)));
            }
            Some(reply)
        }
    }
}

/// See the module docs: reach this Contact at the source address instead.
fn contact_differs_from_source(uri: &[u8], src: SocketAddr) -> bool {
    match Uri::parse(uri).ok().map(|u| next_hop(&u)) {
        Some(Ok(hop)) => hop != src && is_private(hop.ip()),
        _ => true,
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

fn reduce<'a>(req: &Message<'a>) -> Result<ParsedRegister<'a>, Reply> {
    let ruri = match req.request_uri_parsed() {
        Some(Ok(u)) => u,
        _ => return Err(bad("Bad Request-URI")),
    };
    let to = req.to().map_err(|_| bad("Bad To Header"))?;
    let call_id = req.call_id().map_err(|_| bad("Bad Call-ID"))?;
    let cseq = req.cseq().map_err(|_| bad("Bad CSeq"))?;
    let mut r = ParsedRegister::new(
        ruri.host_raw,
        to.uri.user.unwrap_or(b""),
        to.uri.host_raw,
        call_id,
        cseq.seq,
    );
    r.expires = req.expires().map_err(|_| bad("Bad Expires"))?;
    for c in req.contacts() {
        match c.map_err(|_| bad("Bad Contact"))? {
            Contact::Star => r.wildcard = true,
            Contact::Addr(na) => r.push_contact(RequestedContact {
                uri: na.uri.raw,
                expires: na.expires().map_err(|_| bad("Bad Contact expires"))?,
                q: na.q().map_err(|_| bad("Bad Contact q"))?,
            }),
        }
    }
    for line in req.headers_named(HeaderName::Path) {
        for p in crate::proxy::provider::users::split_list(line) {
            r.push_path(p);
        }
    }
    r.supported_path = req.supported().any(|t| t.eq_ignore_ascii_case(b"path"));
    r.unsupported = req.require().find(|t| !t.eq_ignore_ascii_case(b"path"));
    r.user_agent = req.header(HeaderName::UserAgent).unwrap_or(b"");
    Ok(r)
}
