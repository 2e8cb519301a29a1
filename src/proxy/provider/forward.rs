//! Call forwarding and voicemail (OpenSIPS book: blind forward before `lookup`, busy and
//! no answer in `failure_route`), as plans of branches plus a small per-transaction context.
//!
//! ```text
//!  route():  subscriber S ─► always?  ─yes─► divert(S, unconditional) ─► target ...
//!                │no
//!                ▼
//!           bindings of S ─► none ─► unavailable? ─yes─► divert(S, unavailable)
//!                │               └─no─► 480
//!                ▼
//!           Ring(devices of S, no-answer limit of S)   context {step: Subscriber S, chain}
//!
//!  failure_route(): best code of the step's branches ─► busy (486, 600) / no answer
//!           (408, 480; the no-answer limit ends as 408) / unavailable ─► divert(S, reason)
//!           ─► new branches in the same transaction (CANCEL still reaches them);
//!           nothing configured, a loop, too deep ─► the failure goes upstream
//!
//!  divert(S, reason, uri):  depth+1 (> max ─► stop), Diversion header (RFC 5806) on every
//!           later branch; uri = S's voicemail ─► mailbox `b<user>` / `u<user>`;
//!           local subscriber T ─► visited? stop : T's own settings apply (recursion);
//!           a number / tel: ─► PSTN gateways (S's groups); anything else ─► that URI
//! ```
//!
//! Invariants: a chain never visits a subscriber twice and never exceeds
//! `max_forward_depth` diversions, so no forward storm is possible; the context of a
//! transaction lives from `route` to `transaction_ended` and says which branches (from
//! `step_start`) belong to the step being judged.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::config::ProviderConfig;
use super::pstn::{gateway_targets, is_number};
use super::register::write_aor;
use super::users::{binding_targets, resolve_local, with_user};
use crate::proxy::best_response::is_better;
use crate::proxy::locality::next_hop;
use crate::proxy::{Reply, Target};
use crate::registrar::{BindingList, LocationTable};
use crate::sip::{Scheme, Uri};
use crate::table::{ForwardingSnapshot, SubscriberId};

/// Why a call is diverted (the RFC 5806 `reason` of the Diversion header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForwardReason {
    Unconditional,
    Busy,
    NoAnswer,
    Unavailable,
}

impl ForwardReason {
    /// RFC 5806 §4 diversion-reason.
    pub fn diversion_reason(self) -> &'static str {
        match self {
            ForwardReason::Unconditional => "unconditional",
            ForwardReason::Busy => "user-busy",
            ForwardReason::NoAnswer => "no-answer",
            ForwardReason::Unavailable => "unavailable",
        }
    }
}

/// What the branches of the step being tried are.
#[derive(Debug, Clone)]
pub(crate) enum Step {
    /// The devices of a subscriber (by name, so a reload in between cannot confuse ids):
    /// their failure is classified and may be forwarded.
    Subscriber { user: Box<str>, domain: Box<str> },
    /// A gateway of a PSTN route; the next ones are tried on failover codes.
    Gateways { rest: VecDeque<Target> },
    /// Voicemail or a URI outside: its failure goes upstream.
    Terminal,
}

/// The forwards followed so far by one call.
#[derive(Debug, Clone, Default)]
pub(crate) struct Chain {
    /// AoR keys of the subscribers the call was offered to.
    visited: Vec<Box<[u8]>>,
    /// Diversion header lines, most recent first (RFC 5806 §4).
    diversions: Vec<String>,
    depth: u8,
}

impl Chain {
    pub(crate) fn starting_at(aor: &[u8]) -> Self {
        Chain {
            visited: vec![aor.into()],
            ..Chain::default()
        }
    }

    /// How many forwards the call followed.
    pub(crate) fn depth(&self) -> u8 {
        self.depth
    }
}

/// Per-transaction context: see the module docs.
#[derive(Debug, Clone)]
pub(crate) struct CallContext {
    pub step_start: usize,
    pub step: Step,
    pub chain: Chain,
}

/// Branches to start, or the answer.
#[derive(Debug)]
pub(crate) enum Plan {
    Ring { targets: Vec<Target>, step: Step },
    Refuse(Reply),
}

/// Everything a plan is computed from, for one request.
pub(crate) struct Resolver<'a> {
    pub snap: &'a ForwardingSnapshot,
    pub location: &'a LocationTable,
    pub cfg: &'a ProviderConfig,
    pub listen: &'a [SocketAddr],
    pub now: Instant,
    pub bindings: &'a mut BindingList,
    pub key: &'a mut Vec<u8>,
}

impl Resolver<'_> {
    /// A request for subscriber `id` (already known to exist and be enabled unless reached
    /// by a forward). `invite`: call forwarding applies (only calls are forwarded).
    pub(crate) fn subscriber(&mut self, id: SubscriberId, chain: &mut Chain, invite: bool) -> Plan {
        let Some(s) = self.snap.subscriber_by_id(id) else {
            return Plan::Refuse(Reply::new(404, "Not Found"));
        };
        if !s.enabled {
            return Plan::Refuse(Reply::new(403, "Subscriber Disabled"));
        }
        let fwd = self.snap.forward(id);
        if invite {
            if let Some(uri) = fwd.and_then(|f| f.always.as_deref()) {
                return self.divert(id, ForwardReason::Unconditional, uri, chain);
            }
        }
        write_aor(self.snap, id, self.key);
        self.location.lookup(self.key, self.now, self.bindings);
        if self.bindings.is_empty() {
            if invite {
                if let Some(uri) = fwd.and_then(|f| f.unavailable.as_deref()) {
                    return self.divert(id, ForwardReason::Unavailable, uri, chain);
                }
            }
            return Plan::Refuse(Reply::new(480, "Temporarily Unavailable"));
        }
        let no_answer = match fwd {
            _ if !invite => None,
            Some(f) if f.no_answer.is_some() => {
                Some(Duration::from_secs(u64::from(f.no_answer_timeout_s)))
            }
            _ => self.cfg.ring_timeout(),
        };
        let mut targets = Vec::with_capacity(self.bindings.len());
        binding_targets(self.bindings, None, no_answer, &mut targets);
        if targets.is_empty() {
            return Plan::Refuse(Reply::new(480, "Temporarily Unavailable"));
        }
        with_diversions(&mut targets, chain);
        let domain = self.snap.domain_name(s.domain).unwrap_or("");
        Plan::Ring {
            targets,
            step: Step::Subscriber {
                user: s.user.clone(),
                domain: domain.into(),
            },
        }
    }

    /// Forward the call of subscriber `from` to `uri` for `reason`.
    pub(crate) fn divert(
        &mut self,
        from: SubscriberId,
        reason: ForwardReason,
        uri: &str,
        chain: &mut Chain,
    ) -> Plan {
        if chain.depth >= self.cfg.max_forward_depth {
            return Plan::Refuse(Reply::new(482, "Loop Detected (Too Many Call Forwards)"));
        }
        let Some(s) = self.snap.subscriber_by_id(from) else {
            return Plan::Refuse(Reply::new(404, "Not Found"));
        };
        let domain = self.snap.domain_name(s.domain).unwrap_or("");
        chain.depth += 1;
        chain.diversions.insert(
            0,
            format!(
                "Diversion: <sip:{}@{}>;reason={};counter={}",
                s.user,
                domain,
                reason.diversion_reason(),
                chain.depth
            ),
        );
        if self.snap.voicemail(from) == Some(uri) {
            let prefix = match reason {
                ForwardReason::Busy => &self.cfg.voicemail_busy_prefix,
                _ => &self.cfg.voicemail_unavailable_prefix,
            };
            let mailbox = format!("{prefix}{}", s.user);
            return self.voicemail(uri, &mailbox, chain);
        }
        let Ok(parsed) = Uri::parse(uri.as_bytes()) else {
            return Plan::Refuse(Reply::new(500, "Bad Call-Forward URI In Table"));
        };
        if parsed.scheme == Scheme::Tel {
            return self.pstn(parsed.user.unwrap_or(b""), Some(from), chain);
        }
        if self.is_local(&parsed) {
            let user = parsed.user.unwrap_or(b"");
            let us = self.is_us(&parsed);
            match resolve_local(self.snap, user, parsed.host_raw, us) {
                Some(r) => {
                    write_aor(self.snap, r.id, self.key);
                    if chain.visited.iter().any(|v| **v == **self.key) {
                        return Plan::Refuse(Reply::new(482, "Loop Detected (Call Forward)"));
                    }
                    chain.visited.push(self.key.as_slice().into());
                    return self.subscriber(r.id, chain, true);
                }
                None if is_number(user) => return self.pstn(user, Some(from), chain),
                None => return Plan::Refuse(Reply::new(404, "Call-Forward Target Not Found")),
            }
        }
        let mut targets = vec![Target::uri(uri)];
        with_diversions(&mut targets, chain);
        Plan::Ring {
            targets,
            step: Step::Terminal,
        }
    }

    /// The voicemail server at `uri`, told the mailbox in the Request-URI user part. A
    /// voicemail server registered as one of our subscribers is reached at its bindings.
    fn voicemail(&mut self, uri: &str, mailbox: &str, chain: &mut Chain) -> Plan {
        let Ok(parsed) = Uri::parse(uri.as_bytes()) else {
            return Plan::Refuse(Reply::new(500, "Bad Voicemail URI In Table"));
        };
        let mut targets = Vec::new();
        if self.is_local(&parsed) {
            let us = self.is_us(&parsed);
            let Some(r) = resolve_local(self.snap, parsed.user.unwrap_or(b""), parsed.host_raw, us)
            else {
                return Plan::Refuse(Reply::new(404, "Voicemail Server Not Found"));
            };
            write_aor(self.snap, r.id, self.key);
            self.location.lookup(self.key, self.now, self.bindings);
            binding_targets(self.bindings, Some(mailbox), None, &mut targets);
            if targets.is_empty() {
                return Plan::Refuse(Reply::new(480, "Voicemail Unavailable"));
            }
        } else {
            match with_user(uri, mailbox) {
                Some(u) => targets.push(Target::uri(u)),
                None => return Plan::Refuse(Reply::new(500, "Voicemail URI Is Not sip:")),
            }
        }
        with_diversions(&mut targets, chain);
        Plan::Ring {
            targets,
            step: Step::Terminal,
        }
    }

    /// A number: through the gateways of its route, on behalf of `caller`.
    pub(crate) fn pstn(
        &mut self,
        number: &[u8],
        caller: Option<SubscriberId>,
        chain: &mut Chain,
    ) -> Plan {
        if !is_number(number) {
            return Plan::Refuse(Reply::new(404, "Not Found"));
        }
        match gateway_targets(self.snap, number, caller) {
            Err(reply) => Plan::Refuse(reply),
            Ok(mut all) => {
                with_diversions(&mut all, chain);
                let mut rest: VecDeque<Target> = all.into();
                let first = rest.pop_front();
                match first {
                    Some(t) => Plan::Ring {
                        targets: vec![t],
                        step: Step::Gateways { rest },
                    },
                    None => Plan::Refuse(Reply::new(503, "No Gateway For Route")),
                }
            }
        }
    }

    /// Served by us: one of our listen addresses, or a table domain (unless the URI names
    /// a port we do not listen on: `sip:vm@10.0.0.5:5070` with `10.0.0.5` a domain is a
    /// voicemail server next to us, not us).
    fn is_local(&self, uri: &Uri<'_>) -> bool {
        if !uri.is_sip() {
            return false;
        }
        if self.is_us(uri) {
            return true;
        }
        if uri
            .port
            .is_some_and(|p| !self.listen.iter().any(|a| a.port() == p))
        {
            return false;
        }
        self.snap.is_local_domain(uri.host_raw)
    }

    fn is_us(&self, uri: &Uri<'_>) -> bool {
        next_hop(uri).is_ok_and(|hop| self.listen.contains(&hop))
    }
}

fn with_diversions(targets: &mut [Target], chain: &Chain) {
    for t in targets {
        t.headers.extend(chain.diversions.iter().cloned());
    }
}

/// Which forward a failure of a subscriber's devices asks for.
pub(crate) fn classify(cfg: &ProviderConfig, code: u16) -> Option<ForwardReason> {
    if cfg.busy_codes.contains(&code) {
        Some(ForwardReason::Busy)
    } else if cfg.no_answer_codes.contains(&code) {
        Some(ForwardReason::NoAnswer)
    } else if cfg.unavailable_codes.contains(&code) {
        Some(ForwardReason::Unavailable)
    } else {
        None
    }
}

/// The best final code among `codes` (RFC 3261 §16.7 step 6).
pub(crate) fn best_of(codes: &[u16]) -> Option<u16> {
    let mut best = None;
    for &c in codes {
        if is_better(c, best) {
            best = Some(c);
        }
    }
    best
}

/// A reason phrase for a code we answer with ourselves.
pub(crate) fn reason_phrase(code: u16) -> &'static str {
    match code {
        404 => "Not Found",
        403 => "Forbidden",
        408 => "Request Timeout",
        480 => "Temporarily Unavailable",
        482 => "Loop Detected",
        486 => "Busy Here",
        487 => "Request Terminated",
        500 => "Server Internal Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Server Time-out",
        600 => "Busy Everywhere",
        603 => "Decline",
        604 => "Does Not Exist Anywhere",
        _ => match code / 100 {
            3 => "Redirection",
            4 => "Request Failure",
            5 => "Server Failure",
            _ => "Global Failure",
        },
    }
}
