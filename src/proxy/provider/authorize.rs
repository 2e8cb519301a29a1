//! The authentication step of the routing script: where digest authentication plugs in.
//!
//! [`super::ProviderRouter::route`] calls its [`RequestAuthorizer`] first, before anything
//! else is decided, for
//! - every REGISTER to a domain we serve (OpenSIPS `www_authorize`), and
//! - every out-of-dialog request whose From names a domain we serve, i.e. that claims to
//!   come from one of our subscribers (OpenSIPS `proxy_authorize`).
//!
//! The authorizer answers [`AuthVerdict::Pass`] with the caller's identity (used for the
//! PSTN groups and the relay policy), [`AuthVerdict::Respond`] (401/407 with a challenge, 403
//! for a forged identity) or [`AuthVerdict::Drop`] (a flooding source). Requests the step is
//! not asked about get their identity from [`source_identity`]: a trusted peer by source
//! address, else anonymous.
//!
//! [`TrustFromHeader`] is the default until the digest step is installed: it believes the
//! From header (the To header for REGISTER) and so must only be used on closed networks.
//! The digest step (`auth_step.rs`, by the auth layer) implements the same trait and is
//! installed with [`super::ProviderRouter::with_authorizer`].

use std::time::Instant;

use crate::proxy::{Reply, RequestInfo};
use crate::sip::Message;
use crate::table::{ForwardingSnapshot, SubscriberId};

/// Why the step is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthPurpose {
    /// A REGISTER to a served domain (challenge with 401).
    Register,
    /// An out-of-dialog request claiming one of our subscribers as caller (407).
    Request,
}

/// Who sent a request, as far as the proxy believes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallerIdentity {
    /// One of our subscribers (valid for the snapshot the step was given).
    Subscriber(SubscriberId),
    /// A peer trusted by source address (a gateway, a carrier).
    TrustedPeer,
    /// Nobody we know.
    Anonymous,
}

/// The step's answer.
#[derive(Debug, Clone, PartialEq)]
pub enum AuthVerdict {
    Pass(CallerIdentity),
    Respond(Reply),
    Drop,
}

/// What the step gets besides the request.
#[derive(Debug, Clone, Copy)]
pub struct AuthorizeContext<'a> {
    pub info: &'a RequestInfo,
    /// The snapshot this request is routed with (read once per request).
    pub snapshot: &'a ForwardingSnapshot,
    pub purpose: AuthPurpose,
}

/// The authentication step. One per worker, called on that worker only.
pub trait RequestAuthorizer: Send {
    /// Called first for every request the router sees, before anything else (flood
    /// protection, OpenSIPS `pike_check_req`): `None` goes on; `Some` is the verdict
    /// (`Drop` or `Respond`; a `Pass` is ignored). Default: every request goes on.
    fn screen(
        &mut self,
        now: Instant,
        req: &Message<'_>,
        info: &RequestInfo,
        snapshot: &ForwardingSnapshot,
    ) -> Option<AuthVerdict> {
        let _ = (now, req, info, snapshot);
        None
    }

    fn authorize(
        &mut self,
        now: Instant,
        req: &Message<'_>,
        ctx: &AuthorizeContext<'_>,
    ) -> AuthVerdict;

    /// The concrete step, for reading its counters (tests, the management API).
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        None
    }
}

/// No authentication: the identity is the subscriber the From header (To for REGISTER)
/// names, aliases resolved. For closed networks and tests, until digest is installed.
#[derive(Debug, Default, Clone, Copy)]
pub struct TrustFromHeader;

impl RequestAuthorizer for TrustFromHeader {
    fn authorize(
        &mut self,
        _now: Instant,
        req: &Message<'_>,
        ctx: &AuthorizeContext<'_>,
    ) -> AuthVerdict {
        let claimed = match ctx.purpose {
            AuthPurpose::Register => req.to(),
            AuthPurpose::Request => req.from(),
        };
        let Ok(na) = claimed else {
            return AuthVerdict::Respond(Reply::new(400, "Bad From/To Header"));
        };
        let id = na
            .uri
            .user
            .and_then(|u| ctx.snapshot.resolve(u, na.uri.host_raw))
            .map(|r| r.id);
        match id {
            Some(id) => AuthVerdict::Pass(CallerIdentity::Subscriber(id)),
            None => AuthVerdict::Pass(source_identity(ctx.snapshot, ctx.info)),
        }
    }
}

/// The identity of a request the step is not asked about: a trusted peer by source
/// address (OpenSIPS `check_source_address`), else anonymous.
pub fn source_identity(snapshot: &ForwardingSnapshot, info: &RequestInfo) -> CallerIdentity {
    match snapshot.trusted_peer(info.src.ip(), info.src.port()) {
        // UDP is the only transport the runtime serves today.
        Some(p)
            if p.transport
                .map_or(true, |t| t == crate::table::Transport::Udp) =>
        {
            CallerIdentity::TrustedPeer
        }
        _ => CallerIdentity::Anonymous,
    }
}
