//! The digest step of the routing script: OpenSIPS `pike_check_req`, `check_source_address`,
//! `www_authorize`/`proxy_authorize`, `check_to`/`check_from` and `consume_credentials`, as
//! one [`RequestAuthorizer`] per worker ([`DigestAuthorizer`]).
//!
//! ```text
//!  screen (every request the router sees)
//!    trusted peer? ── no ──► FloodGuard ──over the threshold──► Drop (event once per block)
//!  authorize (REGISTER to us: To, 401 │ out of dialog with From ours: From, 407)
//!    ACK / CANCEL / OPTIONS to the proxy itself ─► Pass (never challenged, RFC 3261 §22.1)
//!    trusted peer (address, port, transport) ─► Pass(TrustedPeer)
//!    claimed identity (To or From) ─► realm = the domain of the subscriber it names
//!    no credentials for the realm ─► 401/407 challenge (algorithms the user has HA1s for)
//!    Authenticator::verify ─► stale/replay: challenge stale=true │ wrong password: challenge
//!                            (counted; blocked: 403, event once) │ malformed: 400
//!    authenticated user == claimed user or an alias of it? ── no ──► 403 with the reason
//!    Pass(Subscriber(authenticated id)) ─► registrar / routing (PSTN groups use this id)
//! ```
//!
//! The credentials the step accepted are removed from the forwarded request by the core,
//! which asks [`crate::proxy::Router::consumes_credentials`] (realm = a served domain).
//!
//! Invariants: the realm of a challenge is always a domain of the snapshot the request is
//! routed with, and the HA1s are looked up in that realm, so a table's `md5=`/`sha256=`
//! values (computed with realm = domain) verify. A trusted identity is never taken from a
//! header: only the source address, port and transport make a peer trusted. Nothing here
//! does I/O: notable events go to an optional sink that the runtime points at its log.

use std::fmt;
use std::net::IpAddr;
use std::time::Instant;

use super::authorize::{
    source_identity, AuthPurpose, AuthVerdict, AuthorizeContext, CallerIdentity, RequestAuthorizer,
};
use crate::auth::{
    check_identity, AlgorithmSet, AuthConfig, AuthRequest, AuthStats, Authenticator, ChallengeKind,
    ClaimedIn, DigestResponse, FloodGuard, FloodVerdict, IdentityCheck, NonceSecret, StoredHa1,
    SuggestedReply, UnixTimeAnchor, VerifyResult,
};
use crate::proxy::{Reply, RequestInfo};
use crate::sip::{Credentials, DigestCredentials, Message, Method, NameAddr};
use crate::table::ForwardingSnapshot;

/// Something an operator should see, reported once (a block starts), never per request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthEvent {
    /// A source went over the flood threshold: its requests are dropped for the cool-down.
    FloodBlocked { src: IpAddr },
    /// Too many wrong passwords for a user: answered 403 for the block time.
    UserBlocked {
        user: String,
        realm: String,
        src: IpAddr,
    },
    /// Too many wrong passwords from a source address.
    SourceBlocked { src: IpAddr },
}

impl fmt::Display for AuthEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthEvent::FloodBlocked { src } => {
                write!(f, "auth: flood from {src}: dropping its requests")
            }
            AuthEvent::UserBlocked { user, realm, src } => write!(
                f,
                "auth: user {user}@{realm} blocked after repeated wrong passwords (last from {src})"
            ),
            AuthEvent::SourceBlocked { src } => {
                write!(
                    f,
                    "auth: source {src} blocked after repeated wrong passwords"
                )
            }
        }
    }
}

/// Where events go (the runtime logs them). Called on the worker's thread.
pub type AuthEventSink = Box<dyn FnMut(&AuthEvent) + Send>;

/// What the step decided, per worker (the digest details are in [`AuthStats`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AuthStepStats {
    /// Requests dropped by flood protection.
    pub flood_dropped: u64,
    /// Flood blocks started.
    pub flood_blocks: u64,
    /// Requests passed without a challenge because they came from a trusted peer.
    pub trusted: u64,
    /// Requests never challenged by method (ACK, CANCEL, OPTIONS to the proxy).
    pub exempt: u64,
    /// 401 answers.
    pub challenged_register: u64,
    /// 407 answers.
    pub challenged_request: u64,
    /// Requests that passed with valid credentials.
    pub authenticated: u64,
    /// 403: the authenticated user is not the To/From user (nor an alias of it).
    pub identity_refused: u64,
    /// 403: the user or source is blocked after wrong passwords.
    pub blocked_refused: u64,
    /// 400: credentials that cannot be checked.
    pub bad_credentials: u64,
    /// 403: a REGISTER whose To names a domain we do not serve.
    pub foreign_to: u64,
}

/// Digest authentication and access control for one worker's [`super::ProviderRouter`].
pub struct DigestAuthorizer {
    digest: Authenticator,
    flood: FloodGuard,
    pike_exempt_loopback: bool,
    stats: AuthStepStats,
    sink: Option<AuthEventSink>,
    /// Scratch for the challenge header lines.
    challenge: Vec<u8>,
}

impl DigestAuthorizer {
    /// `config` must have passed [`AuthConfig::validate`]; `secret` and `anchor` are the same
    /// for every worker of the process; `salt_seed` comes from the OS random source.
    pub fn new(
        config: &AuthConfig,
        secret: &NonceSecret,
        worker: u16,
        anchor: UnixTimeAnchor,
        salt_seed: u64,
    ) -> Self {
        DigestAuthorizer {
            digest: Authenticator::new(config, secret, worker, anchor, salt_seed),
            flood: FloodGuard::new(config.flood_limit(), config.pike_table_size),
            pike_exempt_loopback: config.pike_exempt_loopback,
            stats: AuthStepStats::default(),
            sink: None,
            challenge: Vec::with_capacity(512),
        }
    }

    /// Report events (blocks starting) to `sink`.
    pub fn with_event_sink(mut self, sink: AuthEventSink) -> Self {
        self.sink = Some(sink);
        self
    }

    pub fn stats(&self) -> AuthStepStats {
        self.stats
    }

    /// The digest step installed in `router`, if that is what it runs.
    pub fn of(router: &super::ProviderRouter) -> Option<&DigestAuthorizer> {
        router.authorizer().as_any()?.downcast_ref()
    }

    /// The digest counters (challenges, results by kind, blocks).
    pub fn digest_stats(&self) -> AuthStats {
        self.digest.stats()
    }

    fn emit(&mut self, event: AuthEvent) {
        if let Some(sink) = self.sink.as_mut() {
            sink(&event);
        }
    }

    /// 401/407 with a fresh nonce for `realm`, offering the algorithms in `offer`.
    fn challenge(
        &mut self,
        now: Instant,
        kind: ChallengeKind,
        realm: &str,
        offer: AlgorithmSet,
        stale: bool,
    ) -> AuthVerdict {
        self.challenge.clear();
        self.digest.write_challenge(
            now,
            &mut self.challenge,
            kind,
            realm.as_bytes(),
            offer,
            stale,
        );
        match kind {
            ChallengeKind::Www => self.stats.challenged_register += 1,
            ChallengeKind::Proxy => self.stats.challenged_request += 1,
        }
        let mut reply = Reply::new(kind.status_code(), kind.reason_phrase());
        // The writer emits whole `Name: value\r\n` lines; the core wants them without CRLF,
        // one String each (one allocation per line, sized exactly).
        let lines = self.challenge.split(|&b| b == b'\n');
        reply
            .headers
            .reserve_exact(lines.clone().filter(|l| l.len() > 1).count());
        for line in lines {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if !line.is_empty() {
                // The writer only writes the realm (a served domain, UTF-8) and ASCII.
                let text = match std::str::from_utf8(line) {
                    Ok(t) => String::from(t),
                    Err(_) => String::from_utf8_lossy(line).into_owned(),
                };
                reply.headers.push(text);
            }
        }
        AuthVerdict::Respond(reply)
    }
}

/// The identity a request claims and the realm it must prove it in.
struct Claim<'a> {
    user: &'a [u8],
    host: &'a [u8],
    /// The domain of the subscriber the claim names (an alias names its subscriber's
    /// domain), else the claimed domain itself.
    realm: &'a str,
    /// The algorithms the claimed subscriber has HA1s for (all when unknown).
    offer: AlgorithmSet,
}

fn claim<'a>(snap: &'a ForwardingSnapshot, na: &NameAddr<'a>) -> Option<Claim<'a>> {
    let user = na.uri.user.unwrap_or(b"");
    let host = na.uri.host_raw;
    let claimed_domain = snap.domain_id(host)?;
    let named = snap
        .resolve(user, host)
        .and_then(|r| snap.subscriber_by_id(r.id));
    let realm_id = named.map_or(claimed_domain, |s| s.domain);
    let realm = snap.domain_name(realm_id)?;
    let offer = named
        .and_then(StoredHa1::of_subscriber)
        .map_or(AlgorithmSet::BOTH, |h| h.algorithms());
    Some(Claim {
        user,
        host,
        realm,
        offer,
    })
}

/// The Digest credentials for `realm` among the request's `Authorization` (`proxy`:
/// `Proxy-Authorization`) headers: `Ok(None)` when there are none, `Err(())` when none
/// matched and one could not be parsed.
fn credentials_for<'a>(
    req: &Message<'a>,
    proxy: bool,
    realm: &str,
) -> Result<Option<DigestCredentials<'a>>, ()> {
    let mut unreadable = false;
    for c in req.all_credentials(proxy) {
        match c {
            Ok(Credentials::Digest(d))
                if d.realm
                    .is_some_and(|r| r.eq_ignore_ascii_case(realm.as_bytes())) =>
            {
                return Ok(Some(d));
            }
            Ok(_) => {}
            Err(_) => unreadable = true,
        }
    }
    if unreadable {
        Err(())
    } else {
        Ok(None)
    }
}

/// Requests that are never challenged: ACK and CANCEL cannot resend with credentials
/// (RFC 3261 §22.1), and OPTIONS to the proxy itself is the phones' keepalive.
fn exempt(method: Method<'_>, req: &Message<'_>, ctx: &AuthorizeContext<'_>) -> bool {
    match method {
        Method::Ack | Method::Cancel => true,
        Method::Options => match req.request_uri_parsed() {
            Some(Ok(u)) => {
                u.user.is_none()
                    && (ctx.info.uri_is_ours || ctx.snapshot.is_local_domain(u.host_raw))
            }
            _ => false,
        },
        _ => false,
    }
}

/// Untrusted bytes made fit for a log line.
fn printable(bytes: &[u8]) -> String {
    let shown = &bytes[..bytes.len().min(64)];
    shown.escape_ascii().to_string()
}

impl RequestAuthorizer for DigestAuthorizer {
    fn screen(
        &mut self,
        now: Instant,
        _req: &Message<'_>,
        info: &RequestInfo,
        snapshot: &ForwardingSnapshot,
    ) -> Option<AuthVerdict> {
        let trusted = source_identity(snapshot, info) == CallerIdentity::TrustedPeer
            || (self.pike_exempt_loopback && info.src.ip().is_loopback());
        match self.flood.check(now, info.src.ip(), trusted) {
            FloodVerdict::Accept => None,
            FloodVerdict::Drop { newly_blocked } => {
                self.stats.flood_dropped += 1;
                if newly_blocked {
                    self.stats.flood_blocks += 1;
                    self.emit(AuthEvent::FloodBlocked { src: info.src.ip() });
                }
                Some(AuthVerdict::Drop)
            }
        }
    }

    fn authorize(
        &mut self,
        now: Instant,
        req: &Message<'_>,
        ctx: &AuthorizeContext<'_>,
    ) -> AuthVerdict {
        let snap = ctx.snapshot;
        let Some(method) = req.method() else {
            return AuthVerdict::Respond(Reply::new(400, "Bad Request"));
        };
        if exempt(method, req, ctx) {
            self.stats.exempt += 1;
            return AuthVerdict::Pass(source_identity(snap, ctx.info));
        }
        if source_identity(snap, ctx.info) == CallerIdentity::TrustedPeer {
            self.stats.trusted += 1;
            return AuthVerdict::Pass(CallerIdentity::TrustedPeer);
        }
        let (kind, claimed_in, claimed) = match ctx.purpose {
            AuthPurpose::Register => (ChallengeKind::Www, ClaimedIn::To, req.to()),
            AuthPurpose::Request => (ChallengeKind::Proxy, ClaimedIn::From, req.from()),
        };
        let Ok(claimed) = claimed else {
            return AuthVerdict::Respond(Reply::new(
                400,
                match claimed_in {
                    ClaimedIn::To => "Bad Request - Malformed To",
                    ClaimedIn::From => "Bad Request - Malformed From",
                },
            ));
        };
        let Some(claim) = claim(snap, &claimed) else {
            // Only a REGISTER gets here (the router asks about requests From a served
            // domain): registering an address of a domain we do not serve.
            self.stats.foreign_to += 1;
            return AuthVerdict::Respond(Reply::new(403, "Forbidden (To Domain Not Served)"));
        };
        let creds = match credentials_for(req, kind == ChallengeKind::Proxy, claim.realm) {
            Ok(Some(c)) => c,
            Ok(None) => return self.challenge(now, kind, claim.realm, claim.offer, false),
            Err(()) => {
                self.stats.bad_credentials += 1;
                return AuthVerdict::Respond(Reply::new(
                    400,
                    "Bad Request - Malformed Credentials",
                ));
            }
        };
        let response = DigestResponse::from(&creds);
        let authenticated = snap.subscriber(response.username, claim.realm.as_bytes());
        let request = AuthRequest {
            src: ctx.info.src.ip(),
            method: method.as_bytes(),
            request_uri: req.request_uri().unwrap_or(b""),
            realm: claim.realm.as_bytes(),
        };
        let verification = self.digest.verify(
            now,
            &request,
            &response,
            authenticated.and_then(StoredHa1::of_subscriber),
        );
        let blocks = verification.newly_blocked;
        if blocks.user {
            self.emit(AuthEvent::UserBlocked {
                user: printable(response.username),
                realm: claim.realm.to_string(),
                src: request.src,
            });
        }
        if blocks.source {
            self.emit(AuthEvent::SourceBlocked { src: request.src });
        }
        match verification.result.suggested_reply() {
            SuggestedReply::Proceed => {}
            SuggestedReply::Challenge { stale } => {
                return self.challenge(now, kind, claim.realm, claim.offer, stale);
            }
            SuggestedReply::Forbidden(reason) => {
                self.stats.blocked_refused += 1;
                return AuthVerdict::Respond(Reply::new(403, reason));
            }
            SuggestedReply::BadRequest(reason) => {
                self.stats.bad_credentials += 1;
                return AuthVerdict::Respond(Reply::new(400, reason));
            }
        }
        // Verified, so the subscriber exists (an unknown user never verifies).
        let Some(user) = authenticated.filter(|_| verification.result == VerifyResult::Ok) else {
            return self.challenge(now, kind, claim.realm, claim.offer, false);
        };
        let identity = check_identity(
            user.user.as_bytes(),
            claim.realm.as_bytes(),
            claim.user,
            claim.host,
            claimed_in,
            |u, h| {
                let s = snap.subscriber_by_id(snap.resolve(u, h)?.id)?;
                Some((s.user.as_bytes(), snap.domain_name(s.domain)?.as_bytes()))
            },
        );
        match identity {
            IdentityCheck::Ok { .. } => {
                self.stats.authenticated += 1;
                AuthVerdict::Pass(CallerIdentity::Subscriber(user.id))
            }
            IdentityCheck::Forbidden(reason) => {
                self.stats.identity_refused += 1;
                AuthVerdict::Respond(Reply::new(403, reason))
            }
        }
    }

    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }
}
