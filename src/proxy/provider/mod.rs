//! The provider's routing script: what an OpenSIPS operator writes in `route` and
//! `failure_route`, as one [`Router`] ([`ProviderRouter`], one per worker).
//!
//! ```text
//!  route(req) ── table snapshot (one atomic load per request; reloads apply to the next one)
//!   ├─ auth step (REGISTER to us; requests whose From is ours) ─► Pass(identity) | reply | drop
//!   ├─ REGISTER to a served domain ─► registrar save ─► 200 + Contacts / 4xx
//!   ├─ Request-URI not served ─► in dialog, our subscriber, trusted peer? relay : 403
//!   ├─ served, no user part ─► OPTIONS 200 (keepalive) / 404
//!   ├─ subscriber, alias, DID ─► disabled 403 │ forward.rs: always / bindings / unavailable
//!   ├─ a number ─► pstn.rs: groups pstn/international, longest prefix, first gateway
//!   └─ else 404
//!  failure_route(failure) ─► context of the transaction: busy / no answer / unavailable
//!                            forward, next gateway, or the failure upstream
//! ```
//!
//! | file           | owns                                                            |
//! |----------------|-----------------------------------------------------------------|
//! | `authorize.rs` | [`RequestAuthorizer`]: where digest authentication plugs in     |
//! | `auth_step.rs` | [`DigestAuthorizer`]: pike, trusted peers, digest, check_to/from |
//! | `auth_shared.rs` | [`AuthShared`]: nonce secret and clock anchor of all workers  |
//! | `register.rs`  | REGISTER → registrar, the table as its directory                |
//! | `users.rs`     | alias/DID resolution, bindings → branches (Path, NAT)           |
//! | `forward.rs`   | call forwarding, voicemail, Diversion, per-transaction context  |
//! | `pstn.rs`      | numbers, groups, prefix routes, gateway failover                |
//! | `config.rs`    | [`ProviderConfig`] (`[provider]` in ringlet.toml)               |
//! | `factory.rs`   | [`ProviderShared`], [`build_proxy`]: the endpoint of `ringlet run` |
//!
//! Invariants: the router never relays a request for a domain we do not serve unless the
//! relay policy allows it (no open relay); every per-transaction context is removed when
//! the core reports the transaction ended, so the map holds live calls only (and never
//! more than [`MAX_CALL_CONTEXTS`]).

mod auth_shared;
mod auth_step;
mod authorize;
pub mod config;
mod factory;
mod forward;
mod pstn;
mod register;
mod users;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

pub use auth_shared::AuthShared;
pub use auth_step::{AuthEvent, AuthEventSink, AuthStepStats, DigestAuthorizer};
pub use authorize::{
    source_identity, AuthPurpose, AuthVerdict, AuthorizeContext, CallerIdentity, RequestAuthorizer,
    TrustFromHeader,
};
pub use config::ProviderConfig;
pub use factory::{build_proxy, ProviderShared};
pub use forward::ForwardReason;
pub use pstn::is_number;
pub use register::write_aor;
pub use users::with_user;

use crate::proxy::{Failure, FailureDecision, Reply, RequestInfo, RouteDecision, Router, Target};
use crate::registrar::{BindingList, LocationTable, RegisterOutcome, Registrar};
use crate::sip::{Message, Method, Scheme};
use crate::table::{ForwardingSnapshot, TableHandle};
use forward::{best_of, classify, reason_phrase, CallContext, Chain, Plan, Resolver, Step};

/// Most per-transaction contexts one worker keeps (a call beyond it is routed normally
/// but gets no call forward on failure).
pub const MAX_CALL_CONTEXTS: usize = 1 << 20;

/// Per-worker counters (plain integers; summed by whoever reports them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProviderStats {
    pub registers: u64,
    pub calls_to_subscribers: u64,
    pub pstn_calls: u64,
    pub relayed: u64,
    pub relay_denied: u64,
    pub forwards_unconditional: u64,
    pub forwards_on_failure: u64,
    pub next_gateway: u64,
    pub refused: u64,
}

/// The provider routing logic of one worker: see the module docs.
pub struct ProviderRouter {
    table: TableHandle,
    location: Arc<LocationTable>,
    registrar: Arc<Registrar>,
    cfg: ProviderConfig,
    listen: Vec<SocketAddr>,
    authorizer: Box<dyn RequestAuthorizer>,
    outcome: RegisterOutcome,
    bindings: BindingList,
    key: Vec<u8>,
    calls: HashMap<u64, CallContext>,
    stats: ProviderStats,
}

impl ProviderRouter {
    /// A router reading `table`, registering into `registrar` (whose location table is
    /// `location`), for a proxy listening on `listen`. Authentication: [`TrustFromHeader`]
    /// until [`Self::with_authorizer`] installs a real step.
    pub fn new(
        table: TableHandle,
        location: Arc<LocationTable>,
        registrar: Arc<Registrar>,
        cfg: ProviderConfig,
        listen: Vec<SocketAddr>,
    ) -> Self {
        ProviderRouter {
            table,
            location,
            registrar,
            cfg,
            listen,
            authorizer: Box::new(TrustFromHeader),
            outcome: RegisterOutcome::new(),
            bindings: BindingList::new(),
            key: Vec::with_capacity(64),
            calls: HashMap::new(),
            stats: ProviderStats::default(),
        }
    }

    /// Install the authentication step (digest).
    pub fn with_authorizer(mut self, step: Box<dyn RequestAuthorizer>) -> Self {
        self.authorizer = step;
        self
    }

    /// Replace the authentication step of a running router.
    pub fn set_authorizer(&mut self, step: Box<dyn RequestAuthorizer>) {
        self.authorizer = step;
    }

    /// The authentication step in use.
    pub fn authorizer(&self) -> &dyn RequestAuthorizer {
        &*self.authorizer
    }

    pub fn stats(&self) -> &ProviderStats {
        &self.stats
    }

    pub fn config(&self) -> &ProviderConfig {
        &self.cfg
    }

    /// Calls with a live failure-route context (for tests and the management API).
    pub fn live_contexts(&self) -> usize {
        self.calls.len()
    }

    fn relay_policy(&mut self, identity: CallerIdentity, from_local: bool) -> RouteDecision {
        let allowed = self.cfg.open_relay
            || (identity == CallerIdentity::TrustedPeer && self.cfg.allow_relay_from_trusted_peers)
            || (from_local
                && matches!(identity, CallerIdentity::Subscriber(_))
                && self.cfg.allow_relay_from_subscribers);
        if allowed {
            self.stats.relayed += 1;
            RouteDecision::Relay(vec![Target::request_uri()])
        } else {
            self.stats.relay_denied += 1;
            RouteDecision::Respond(Reply::new(403, "Relaying Denied"))
        }
    }

    fn remember(&mut self, txn: u64, step: Step, chain: Chain) {
        let worth_it = match &step {
            Step::Subscriber { .. } => true,
            Step::Gateways { rest } => !rest.is_empty(),
            Step::Terminal => false,
        };
        if worth_it && self.calls.len() < MAX_CALL_CONTEXTS {
            self.calls.insert(
                txn,
                CallContext {
                    step_start: 0,
                    step,
                    chain,
                },
            );
        }
    }

    fn route_local(
        &mut self,
        now: Instant,
        snap: &ForwardingSnapshot,
        req: &Message<'_>,
        info: &RequestInfo,
        identity: CallerIdentity,
    ) -> RouteDecision {
        let Some(method) = req.method() else {
            return RouteDecision::Respond(Reply::new(400, "Bad Request"));
        };
        let Some(Ok(ruri)) = req.request_uri_parsed() else {
            return RouteDecision::Respond(Reply::new(400, "Bad Request-URI"));
        };
        let is_tel = ruri.scheme == Scheme::Tel;
        let user = ruri.user.unwrap_or(b"");
        if user.is_empty() {
            // OPTIONS to the domain itself: the keepalive of phones and peers.
            return RouteDecision::Respond(match method {
                Method::Options => Reply::new(200, "OK"),
                _ => Reply::new(404, "Not Found (No User Part)"),
            });
        }
        if let CallerIdentity::Subscriber(id) = identity {
            if snap.subscriber_by_id(id).is_some_and(|s| !s.enabled) {
                self.stats.refused += 1;
                return RouteDecision::Respond(Reply::new(403, "Caller Disabled"));
            }
        }
        let host_is_us = info.uri_is_ours || self.is_us(&ruri);
        let resolved = if is_tel {
            None
        } else {
            users::resolve_local(snap, user, ruri.host_raw, host_is_us)
        };
        let invite = method == Method::Invite;
        let mut resolver = Resolver {
            snap,
            location: &self.location,
            cfg: &self.cfg,
            listen: &self.listen,
            now,
            bindings: &mut self.bindings,
            key: &mut self.key,
        };
        let (plan, chain) = match resolved {
            Some(r) => {
                write_aor(snap, r.id, resolver.key);
                let mut chain = Chain::starting_at(resolver.key);
                let plan = resolver.subscriber(r.id, &mut chain, invite);
                self.stats.calls_to_subscribers += u64::from(invite);
                (plan, chain)
            }
            None if invite && is_number(user) => {
                let caller = match identity {
                    CallerIdentity::Subscriber(id) => Some(id),
                    _ => None,
                };
                let mut chain = Chain::default();
                let plan = resolver.pstn(user, caller, &mut chain);
                self.stats.pstn_calls += 1;
                (plan, chain)
            }
            None => return RouteDecision::Respond(Reply::new(404, "Not Found")),
        };
        match plan {
            Plan::Refuse(reply) => {
                self.stats.refused += 1;
                RouteDecision::Respond(reply)
            }
            Plan::Ring { targets, step } => {
                if chain.depth() > 0 {
                    self.stats.forwards_unconditional += 1;
                }
                if invite {
                    self.remember(info.txn, step, chain);
                }
                RouteDecision::Relay(targets)
            }
        }
    }

    fn is_us(&self, uri: &crate::sip::Uri<'_>) -> bool {
        crate::proxy::locality::next_hop(uri).is_ok_and(|hop| self.listen.contains(&hop))
    }
}

impl Router for ProviderRouter {
    fn route(&mut self, now: Instant, req: &Message<'_>, info: &RequestInfo) -> RouteDecision {
        let guard = self.table.load();
        let snap: &ForwardingSnapshot = &guard;
        match self.authorizer.screen(now, req, info, snap) {
            Some(AuthVerdict::Drop) => return RouteDecision::Drop,
            Some(AuthVerdict::Respond(reply)) => return RouteDecision::Respond(reply),
            Some(AuthVerdict::Pass(_)) | None => {}
        }
        let Some(method) = req.method() else {
            return RouteDecision::Respond(Reply::new(400, "Bad Request"));
        };
        if info.in_dialog {
            // In dialog with no Route set left: the Request-URI is the remote target.
            return if info.uri_is_ours {
                RouteDecision::Respond(Reply::new(481, "Call/Transaction Does Not Exist"))
            } else {
                RouteDecision::Relay(vec![Target::request_uri()])
            };
        }
        let Some(Ok(ruri)) = req.request_uri_parsed() else {
            return RouteDecision::Respond(Reply::new(400, "Bad Request-URI"));
        };
        let served = ruri.scheme == Scheme::Tel
            || (ruri.is_sip()
                && (info.uri_is_ours || snap.is_local_domain(ruri.host_raw) || self.is_us(&ruri)));
        let from_local = req
            .from()
            .is_ok_and(|f| f.uri.is_sip() && snap.is_local_domain(f.uri.host_raw));
        let purpose = match method {
            Method::Register if served => Some(AuthPurpose::Register),
            _ if from_local => Some(AuthPurpose::Request),
            _ => None,
        };
        let identity = match purpose {
            None => source_identity(snap, info),
            Some(purpose) => {
                let ctx = AuthorizeContext {
                    info,
                    snapshot: snap,
                    purpose,
                };
                match self.authorizer.authorize(now, req, &ctx) {
                    AuthVerdict::Pass(identity) => identity,
                    AuthVerdict::Respond(reply) => return RouteDecision::Respond(reply),
                    AuthVerdict::Drop => return RouteDecision::Drop,
                }
            }
        };
        if method == Method::Register && served {
            self.stats.registers += 1;
            return match register::process_register(
                &self.registrar,
                snap,
                now,
                req,
                info,
                info.uri_is_ours || self.is_us(&ruri),
                &mut self.outcome,
            ) {
                Some(reply) => RouteDecision::Respond(reply),
                // Our address, and the To names no domain of the table either.
                None => RouteDecision::Respond(Reply::new(404, "Domain Not Served")),
            };
        }
        if !served {
            return self.relay_policy(identity, from_local);
        }
        self.route_local(now, snap, req, info, identity)
    }

    fn failure_route(
        &mut self,
        now: Instant,
        _req: &Message<'_>,
        failure: &Failure<'_>,
    ) -> FailureDecision {
        let Some(mut ctx) = self.calls.remove(&failure.txn) else {
            return FailureDecision::Forward;
        };
        let codes = failure.branch_codes;
        let step_best = best_of(&codes[ctx.step_start.min(codes.len())..]).unwrap_or(failure.code);
        // The failure of the step being judged is what goes upstream (a forward target's
        // own failure, not the busy signal that led to it).
        let upstream = if step_best == failure.code {
            FailureDecision::Forward
        } else {
            FailureDecision::Respond(Reply::new(step_best, reason_phrase(step_best)))
        };
        let guard = self.table.load();
        let snap: &ForwardingSnapshot = &guard;
        let step = std::mem::replace(&mut ctx.step, Step::Terminal);
        let plan = match step {
            Step::Terminal => return upstream,
            Step::Gateways { mut rest } => {
                if !self.cfg.next_gateway_on(step_best) {
                    return upstream;
                }
                let Some(next) = rest.pop_front() else {
                    return upstream;
                };
                self.stats.next_gateway += 1;
                Plan::Ring {
                    targets: vec![next],
                    step: Step::Gateways { rest },
                }
            }
            Step::Subscriber { user, domain } => {
                let Some(reason) = classify(&self.cfg, step_best) else {
                    return upstream;
                };
                let Some(s) = snap.subscriber(user.as_bytes(), domain.as_bytes()) else {
                    return upstream;
                };
                let fwd = snap.forward(s.id);
                let uri = fwd.and_then(|f| match reason {
                    ForwardReason::Busy => f.busy.as_deref(),
                    ForwardReason::NoAnswer => f.no_answer.as_deref(),
                    ForwardReason::Unavailable => f.unavailable.as_deref(),
                    ForwardReason::Unconditional => None,
                });
                let Some(uri) = uri else { return upstream };
                let mut resolver = Resolver {
                    snap,
                    location: &self.location,
                    cfg: &self.cfg,
                    listen: &self.listen,
                    now,
                    bindings: &mut self.bindings,
                    key: &mut self.key,
                };
                let plan = resolver.divert(s.id, reason, uri, &mut ctx.chain);
                if matches!(plan, Plan::Ring { .. }) {
                    self.stats.forwards_on_failure += 1;
                }
                plan
            }
        };
        match plan {
            // A loop, a chain too long, a target that does not exist: stop here.
            Plan::Refuse(_) => upstream,
            Plan::Ring { targets, step } => {
                ctx.step = step;
                ctx.step_start = codes.len();
                // Kept even for a terminal step: its own failure must go upstream.
                self.calls.insert(failure.txn, ctx);
                FailureDecision::Relay(targets)
            }
        }
    }

    fn transaction_ended(&mut self, txn: u64) {
        self.calls.remove(&txn);
    }

    /// Credentials for one of our domains (the realm the auth step challenges with) are ours.
    fn consumes_credentials(&mut self, realm: &[u8]) -> bool {
        self.table.load().is_local_domain(realm)
    }
}
