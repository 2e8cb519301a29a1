//! REGISTER processing (RFC 3261 §10.3, Path of RFC 3327), sans I/O.
//!
//! ```text
//!  proxy: sanity ─► auth (digest, To == authenticated user) ─► Registrar::process_register
//!                                                                │
//!      1 Request-URI host served?  no ─► NotLocal (the proxy forwards it, §10.3 step 1)
//!      2 Require: only `path`       else 420 + Unsupported          (§10.3 step 2)
//!      5 To AoR → subscriber (aliases resolved by the directory)    else 404 / 403
//!      6 `*` only alone and with Expires: 0                          else 400
//!      7 expiry per contact: param > Expires header > default;
//!        0 < e < min ─► 423 + Min-Expires, e > max ─► clamped
//!        apply atomically (Call-ID/CSeq rule; limit)      else 500 / 503, nothing changed
//!      8 200 with every current binding: Contact: <uri>;expires=N[;q=..], Path echoed, Date
//! ```
//!
//! Steps 3 and 4 (authentication, authorisation) belong to `auth/`: the proxy runs them
//! before calling in here, which is why this takes no credentials.
//!
//! [`ParsedRegister`] holds what the steps need, borrowed from the request, in fixed-size
//! arrays (no allocation); [`RegisterOutcome`] is the per-worker, reusable answer.

use std::net::SocketAddr;
use std::ops::Range;
use std::sync::Arc;
use std::time::Instant;

use super::binding::{BindingFlags, BindingList, QValue, DEFAULT_Q};
use super::config::RegistrarConfig;
use super::location::{ApplyError, ContactSet, ContactUpdate, LocationTable, RegisterChange};
use super::sip_date::write_sip_date;
use crate::endpoint::ListenerId;
use crate::sip::push_decimal;

/// Contacts one REGISTER may carry; more gets 400 (real UAs send one to three).
pub const MAX_REQUEST_CONTACTS: usize = 32;
/// Path entries one REGISTER may carry (RFC 3327 sets no limit; 8 edge hops is plenty).
pub const MAX_PATH_ENTRIES: usize = 8;

/// How long a binding lives: the registrar's side of RFC 3261 §10.3 step 7.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExpiryPolicy {
    pub min: u32,
    pub max: u32,
    pub default: u32,
}

/// The policy's verdict on one requested expiry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granted {
    /// Remove the binding (expiry 0).
    Remove,
    /// Keep it this many seconds.
    Seconds(u32),
    /// Non-zero but below the minimum: 423 Interval Too Brief.
    TooBrief,
}

impl ExpiryPolicy {
    pub fn from_config(cfg: &RegistrarConfig) -> Self {
        ExpiryPolicy {
            min: cfg.min_expires,
            max: cfg.max_expires,
            default: cfg.default_expires,
        }
    }

    /// `contact_param` (the Contact's `expires`) wins over `header` (Expires), which wins
    /// over the default (RFC 3261 §10.2.1.1, §10.3 step 7).
    pub fn grant(&self, contact_param: Option<u32>, header: Option<u32>) -> Granted {
        match contact_param.or(header).unwrap_or(self.default) {
            0 => Granted::Remove,
            e if e < self.min => Granted::TooBrief,
            e => Granted::Seconds(e.min(self.max)),
        }
    }
}

/// The part of the forwarding table the registrar needs. Implemented for the table's
/// snapshot; tests may use a small map.
pub trait SubscriberDirectory {
    /// Do we serve `host` (any case)? OpenSIPS `is_uri_host_local`.
    fn is_local_domain(&self, host: &[u8]) -> bool;
    /// The canonical AoR key (`user@domain`, domain lowercase) of the subscriber that
    /// `user@host` names, aliases resolved, written into `out` (cleared first).
    fn registration_aor(&self, user: &[u8], host: &[u8], out: &mut Vec<u8>) -> AorLookup;
}

/// Answer of [`SubscriberDirectory::registration_aor`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AorLookup {
    Found,
    Unknown,
    /// The subscriber exists but is disabled.
    Disabled,
}

/// One Contact of the request, as the UA asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RequestedContact<'a> {
    /// The URI without `<>`.
    pub uri: &'a [u8],
    /// The `expires` parameter.
    pub expires: Option<u32>,
    /// The `q` parameter, thousandths.
    pub q: Option<QValue>,
}

/// A REGISTER, reduced to what processing needs; every slice borrows the datagram.
#[derive(Debug, Clone, Copy)]
pub struct ParsedRegister<'a> {
    pub request_uri_host: &'a [u8],
    /// To URI user part (empty when the URI has none).
    pub to_user: &'a [u8],
    pub to_host: &'a [u8],
    pub call_id: &'a [u8],
    pub cseq: u32,
    /// Expires header.
    pub expires: Option<u32>,
    /// A `Contact: *` was present.
    pub wildcard: bool,
    contacts: [RequestedContact<'a>; MAX_REQUEST_CONTACTS],
    n_contacts: usize,
    path: [&'a [u8]; MAX_PATH_ENTRIES],
    n_path: usize,
    /// `Supported: path` (RFC 3327 §5.3: then the 200 echoes Path).
    pub supported_path: bool,
    /// The first Require option tag this registrar does not support.
    pub unsupported: Option<&'a [u8]>,
    /// User-Agent value (empty when absent).
    pub user_agent: &'a [u8],
    /// More contacts or Path entries than the arrays hold were offered.
    pub overflow: bool,
}

impl<'a> ParsedRegister<'a> {
    pub fn new(
        request_uri_host: &'a [u8],
        to_user: &'a [u8],
        to_host: &'a [u8],
        call_id: &'a [u8],
        cseq: u32,
    ) -> Self {
        ParsedRegister {
            request_uri_host,
            to_user,
            to_host,
            call_id,
            cseq,
            expires: None,
            wildcard: false,
            contacts: [RequestedContact::default(); MAX_REQUEST_CONTACTS],
            n_contacts: 0,
            path: [&[]; MAX_PATH_ENTRIES],
            n_path: 0,
            supported_path: false,
            unsupported: None,
            user_agent: b"",
            overflow: false,
        }
    }

    /// Adds a contact; past [`MAX_REQUEST_CONTACTS`] sets `overflow` instead.
    pub fn push_contact(&mut self, c: RequestedContact<'a>) {
        match self.contacts.get_mut(self.n_contacts) {
            Some(slot) => {
                *slot = c;
                self.n_contacts += 1;
            }
            None => self.overflow = true,
        }
    }

    /// Adds a Path value (one route entry); past [`MAX_PATH_ENTRIES`] sets `overflow`.
    pub fn push_path(&mut self, p: &'a [u8]) {
        match self.path.get_mut(self.n_path) {
            Some(slot) => {
                *slot = p;
                self.n_path += 1;
            }
            None => self.overflow = true,
        }
    }

    pub fn contacts(&self) -> &[RequestedContact<'a>] {
        &self.contacts[..self.n_contacts]
    }

    pub fn path(&self) -> &[&'a [u8]] {
        &self.path[..self.n_path]
    }
}

/// Where a REGISTER came from, and what the layers before the registrar concluded.
#[derive(Debug, Clone, Copy)]
pub struct RegisterSource {
    pub src: SocketAddr,
    pub local: ListenerId,
    /// e.g. [`BindingFlags::NAT`] from the NAT layer's test.
    pub flags: BindingFlags,
}

/// Result of [`Registrar::lookup_user`]; the usual answers are in the comments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserLookup {
    /// This many bindings were copied out.
    Found(usize),
    /// A subscriber with no live binding: 480 Temporarily Unavailable (or voicemail).
    NotRegistered,
    /// No such subscriber, alias or DID: 404 Not Found.
    UnknownUser,
    /// The subscriber is disabled: 403 or 404, operator's choice.
    Disabled,
    /// The host is not a domain we serve: route elsewhere.
    NotLocal,
}

/// What happened to a REGISTER.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegisterDisposition {
    /// `out` holds the final response (status, reason, header lines).
    Answered,
    /// The Request-URI names a domain we do not serve: forward it (RFC 3261 §10.3 step 1).
    NotLocal,
}

/// Per-worker counters (plain integers; the management API sums the workers').
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RegisterCounters {
    pub requests: u64,
    pub accepted: u64,
    pub bad_request: u64,
    pub not_found: u64,
    pub forbidden: u64,
    pub bad_extension: u64,
    pub interval_too_brief: u64,
    pub stale_cseq: u64,
    pub too_many_contacts: u64,
}

/// A header line the registrar adds to its response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseHeader {
    /// One per current binding in a 200 (RFC 3261 §10.3 step 8).
    Contact,
    /// With 423 (RFC 3261 §20.23).
    MinExpires,
    /// With 420 (RFC 3261 §20.40).
    Unsupported,
    /// The stored Path echoed in a 200 (RFC 3327 §5.3).
    Path,
    /// With a 200 (RFC 3261 §10.3 step 8 SHOULD; lets simple UAs set their clock).
    Date,
}

impl ResponseHeader {
    pub fn name(self) -> &'static str {
        match self {
            ResponseHeader::Contact => "Contact",
            ResponseHeader::MinExpires => "Min-Expires",
            ResponseHeader::Unsupported => "Unsupported",
            ResponseHeader::Path => "Path",
            ResponseHeader::Date => "Date",
        }
    }
}

/// The answer to one REGISTER, reused across requests by one worker: after warm-up,
/// answering does not allocate (header values live in one arena kept across requests).
#[derive(Debug, Default)]
pub struct RegisterOutcome {
    pub status: u16,
    pub reason: &'static str,
    /// Header values, back to back; `fields` indexes them.
    values: Vec<u8>,
    fields: Vec<(ResponseHeader, Range<usize>)>,
    /// After a 200: the current bindings, highest q first.
    pub bindings: BindingList,
    /// The canonical AoR the request addressed (empty before step 5).
    aor: Vec<u8>,
    /// Accumulate across calls.
    pub counters: RegisterCounters,
}

impl RegisterOutcome {
    pub fn new() -> Self {
        Self::default()
    }

    /// The header fields to add to the response, in order.
    pub fn header_fields(&self) -> impl ExactSizeIterator<Item = (ResponseHeader, &[u8])> {
        self.fields
            .iter()
            .map(|(h, r)| (*h, &self.values[r.clone()]))
    }

    /// Appends the header fields as `Name: value` CRLF lines, for a caller writing the
    /// response itself.
    pub fn write_header_lines(&self, out: &mut Vec<u8>) {
        for (h, v) in self.header_fields() {
            out.extend_from_slice(h.name().as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(v);
            out.extend_from_slice(b"\r\n");
        }
    }

    /// The header fields as whole `Name: value` lines without CRLF (the proxy router's
    /// `Reply::headers` form). Allocates one String per line, sized exactly, no `fmt`.
    pub fn header_lines(&self) -> impl Iterator<Item = String> + '_ {
        self.header_fields().map(|(h, v)| header_line(h.name(), v))
    }

    /// The AoR key (`user@domain`) of the last request, once resolved.
    pub fn aor(&self) -> &[u8] {
        &self.aor
    }

    /// Answers `status` without processing (the request could not be reduced).
    pub(crate) fn refuse(&mut self, status: u16, reason: &'static str) -> RegisterDisposition {
        self.reset();
        self.counters.requests += 1;
        self.answer(status, reason)
    }

    fn reset(&mut self) {
        self.status = 0;
        self.reason = "";
        self.values.clear();
        self.fields.clear();
        self.bindings.clear();
        self.aor.clear();
    }

    fn answer(&mut self, status: u16, reason: &'static str) -> RegisterDisposition {
        self.status = status;
        self.reason = reason;
        let c = &mut self.counters;
        match status {
            200 => c.accepted += 1,
            400 => c.bad_request += 1,
            403 => c.forbidden += 1,
            404 => c.not_found += 1,
            420 => c.bad_extension += 1,
            423 => c.interval_too_brief += 1,
            500 => c.stale_cseq += 1,
            503 => c.too_many_contacts += 1,
            _ => {}
        }
        RegisterDisposition::Answered
    }

    /// Adds a header whose value `write` appends to the arena.
    fn header_with(&mut self, h: ResponseHeader, write: impl FnOnce(&mut Vec<u8>)) {
        let start = self.values.len();
        write(&mut self.values);
        self.fields.push((h, start..self.values.len()));
    }

    fn header(&mut self, h: ResponseHeader, value: &[u8]) {
        self.header_with(h, |v| v.extend_from_slice(value));
    }

    /// One Contact per current binding: `<uri>;expires=N[;q=0.x]` (RFC 3261 §10.3 step 8).
    fn contacts_from_bindings(&mut self) {
        for i in 0..self.bindings.len() {
            let Some(b) = self.bindings.get(i) else { break };
            let start = self.values.len();
            self.values.push(b'<');
            self.values.extend_from_slice(b.contact());
            self.values.extend_from_slice(b">;expires=");
            push_decimal(&mut self.values, u64::from(b.expires_in()));
            if b.q() != DEFAULT_Q {
                self.values.extend_from_slice(b";q=");
                write_q(b.q(), &mut self.values);
            }
            self.fields
                .push((ResponseHeader::Contact, start..self.values.len()));
        }
    }
}

/// The registrar: REGISTER in, bindings changed, answer out. Shared by all workers.
pub struct Registrar {
    table: Arc<LocationTable>,
    policy: ExpiryPolicy,
}

impl Registrar {
    pub fn new(table: Arc<LocationTable>, cfg: &RegistrarConfig) -> Self {
        Registrar {
            table,
            policy: ExpiryPolicy::from_config(cfg),
        }
    }

    pub fn table(&self) -> &Arc<LocationTable> {
        &self.table
    }

    pub fn policy(&self) -> ExpiryPolicy {
        self.policy
    }

    /// OpenSIPS `lookup("location")` for `user@host` (e.g. the Request-URI of an INVITE):
    /// resolves aliases and DIDs through `dir`, then copies the live bindings, highest q
    /// first, into `out`. `key` is scratch for the AoR key (reused, no allocation once
    /// grown). The caller rewrites the Request-URI to the first binding and forks to the
    /// rest (each with its Path as Route, and `received` as destination when NATed).
    pub fn lookup_user(
        &self,
        dir: &impl SubscriberDirectory,
        user: &[u8],
        host: &[u8],
        now: Instant,
        key: &mut Vec<u8>,
        out: &mut BindingList,
    ) -> UserLookup {
        out.clear();
        if !dir.is_local_domain(host) {
            return UserLookup::NotLocal;
        }
        match dir.registration_aor(user, host, key) {
            AorLookup::Found => {}
            AorLookup::Unknown => return UserLookup::UnknownUser,
            AorLookup::Disabled => return UserLookup::Disabled,
        }
        match self.table.lookup(key, now, out) {
            0 => UserLookup::NotRegistered,
            n => UserLookup::Found(n),
        }
    }

    /// Steps 1, 2 and 5 to 8 of RFC 3261 §10.3 for an already reduced request; see the
    /// module docs. Authentication must have passed before.
    pub fn process(
        &self,
        req: &ParsedRegister<'_>,
        dir: &impl SubscriberDirectory,
        from: &RegisterSource,
        now: Instant,
        out: &mut RegisterOutcome,
    ) -> RegisterDisposition {
        out.reset();
        // Step 1.
        if !dir.is_local_domain(req.request_uri_host) {
            return RegisterDisposition::NotLocal;
        }
        out.counters.requests += 1;
        // Step 2: the only extension a registrar here honours in Require is `path`.
        if let Some(tag) = req.unsupported {
            out.header(ResponseHeader::Unsupported, tag);
            return out.answer(420, "Bad Extension");
        }
        if req.overflow {
            return out.answer(400, "Too Many Contact or Path Values");
        }
        // Step 5.
        match dir.registration_aor(req.to_user, req.to_host, &mut out.aor) {
            AorLookup::Found => {}
            AorLookup::Unknown => return out.answer(404, "Not Found"),
            AorLookup::Disabled => return out.answer(403, "Subscriber Disabled"),
        }
        // Step 6: `*` must stand alone with Expires: 0.
        if req.wildcard && (req.n_contacts > 0 || req.expires != Some(0)) {
            return out.answer(400, "Invalid Wildcard Contact");
        }
        // Step 7: the expiry of each contact.
        let mut updates = [ContactUpdate {
            uri: b"",
            expires: 0,
            q: DEFAULT_Q,
        }; MAX_REQUEST_CONTACTS];
        for (slot, c) in updates.iter_mut().zip(req.contacts()) {
            let expires = match self.policy.grant(c.expires, req.expires) {
                Granted::Remove => 0,
                Granted::Seconds(s) => s,
                Granted::TooBrief => {
                    // RFC 3261 §10.3 step 7 / §20.23: tell the UA the least we accept.
                    let min = u64::from(self.policy.min);
                    out.header_with(ResponseHeader::MinExpires, |v| push_decimal(v, min));
                    return out.answer(423, "Interval Too Brief");
                }
            };
            *slot = ContactUpdate {
                uri: c.uri,
                expires,
                q: c.q.unwrap_or(DEFAULT_Q).min(1000),
            };
        }
        let contacts = if req.wildcard {
            ContactSet::RemoveAll
        } else if req.n_contacts == 0 {
            ContactSet::Query
        } else {
            ContactSet::Contacts(&updates[..req.n_contacts])
        };
        let change = RegisterChange {
            call_id: req.call_id,
            cseq: req.cseq,
            contacts,
            path: req.path(),
            user_agent: req.user_agent,
            received: Some(from.src),
            local: from.local,
            flags: if req.supported_path {
                BindingFlags(from.flags.0 | BindingFlags::PATH_SUPPORTED)
            } else {
                from.flags
            },
        };
        let aor = std::mem::take(&mut out.aor);
        let applied = self.table.apply(&aor, now, &change, &mut out.bindings);
        out.aor = aor;
        match applied {
            Ok(()) => {}
            // RFC 3261 §10.3 step 7: "the update MUST be aborted and the request fails";
            // failing registrar updates are 500 (Server Internal Error).
            Err(ApplyError::StaleCSeq { .. }) => return out.answer(500, "Stale CSeq For Binding"),
            // OpenSIPS `max_contacts` answers the same.
            Err(ApplyError::TooManyContacts { .. }) => {
                return out.answer(503, "Too Many Registered Contacts")
            }
        }
        // Step 8: every current binding with its remaining expiry.
        out.contacts_from_bindings();
        if req.supported_path && req.n_path > 0 {
            // RFC 3327 §5.3: echo the stored Path to a UA that supports it.
            out.header_with(ResponseHeader::Path, |v| {
                for (i, p) in req.path().iter().enumerate() {
                    if i > 0 {
                        v.extend_from_slice(b", ");
                    }
                    v.extend_from_slice(p);
                }
            });
        }
        let time = self.table.time_base();
        let unix_ms = time.to_unix_ms(time.ms(now));
        out.header_with(ResponseHeader::Date, |v| write_sip_date(unix_ms, v));
        out.answer(200, "OK")
    }
}

/// `name: value` as one String of exactly that length. The value comes from the request
/// (a Contact URI, a Path) or from us; bytes that are not UTF-8 become U+FFFD.
pub fn header_line(name: &str, value: &[u8]) -> String {
    let mut line = String::with_capacity(name.len() + 2 + value.len());
    line.push_str(name);
    line.push_str(": ");
    match std::str::from_utf8(value) {
        Ok(v) => line.push_str(v),
        Err(_) => line.push_str(&String::from_utf8_lossy(value)),
    }
    line
}

/// Thousandths as a qvalue: 500 → `0.5`, 1000 → `1`, 75 → `0.075`.
pub fn write_q(q: QValue, out: &mut Vec<u8>) {
    if q >= 1000 {
        out.push(b'1');
        return;
    }
    out.extend_from_slice(b"0.");
    let digits = [
        b'0' + (q / 100) as u8,
        b'0' + (q / 10 % 10) as u8,
        b'0' + (q % 10) as u8,
    ];
    let keep = 3 - digits.iter().rev().take_while(|&&d| d == b'0').count();
    out.extend_from_slice(&digits[..keep.max(1)]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_policy_follows_param_then_header_then_default() {
        let p = ExpiryPolicy {
            min: 60,
            max: 3600,
            default: 1800,
        };
        assert_eq!(p.grant(None, None), Granted::Seconds(1800));
        assert_eq!(p.grant(None, Some(120)), Granted::Seconds(120));
        assert_eq!(p.grant(Some(300), Some(120)), Granted::Seconds(300));
        assert_eq!(p.grant(Some(0), Some(120)), Granted::Remove);
        assert_eq!(p.grant(None, Some(0)), Granted::Remove);
        assert_eq!(p.grant(Some(30), None), Granted::TooBrief);
        assert_eq!(p.grant(Some(u32::MAX), None), Granted::Seconds(3600));
    }

    #[test]
    fn q_values_print_without_trailing_zeros() {
        for (q, s) in [
            (1000, "1"),
            (500, "0.5"),
            (250, "0.25"),
            (75, "0.075"),
            (0, "0.0"),
            (1, "0.001"),
        ] {
            let mut out = Vec::new();
            write_q(q, &mut out);
            assert_eq!(out, s.as_bytes(), "{q}");
        }
    }
}
