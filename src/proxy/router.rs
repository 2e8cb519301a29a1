//! The routing hook: where the proxy core asks "where does this request go?" and, when every
//! branch failed, "what now?" (OpenSIPS' request route and `failure_route`).
//!
//! The core does everything RFC 3261 §16 asks of any proxy (validation, loop detection,
//! Route processing, transactions, forking, CANCEL) and hands the *decision* to a
//! [`Router`]. The registrar, call forwarding and PSTN gateways are routers (or layers of
//! one); [`RelayToRequestUri`] is the plain default.
//!
//! ```text
//!   request ─► validation ─► txn ─► in-dialog? ──yes──► follow Route / R-URI
//!                                      │no
//!                                      ▼
//!                             Router::route ─► Relay(targets) ─► branches (q groups)
//!                                      │         Respond(reply)
//!                                      ▼
//!             all branches failed ─► Router::failure_route ─► Forward best | Relay | Respond
//! ```

use std::borrow::Cow;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::endpoint::ListenerId;
use crate::sip::Message;

/// One destination of a request: one branch of the response context.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Target {
    /// The Request-URI of this branch (`None`: the request's own, after Route processing).
    pub uri: Option<String>,
    /// Send to this address instead of resolving the next hop from Route / Request-URI
    /// (a gateway, the received address of a NATed contact).
    pub next_hop: Option<SocketAddr>,
    /// q-value in thousandths (RFC 3261 §16.6, §8.1.3.4 ordering): targets with higher q
    /// are tried first; targets with equal q are tried in parallel. Default 1000.
    pub q: u16,
    /// Extra header lines for this branch only, each a whole `Name: value` without CRLF
    /// (e.g. `Diversion: <sip:alice@example.com>;reason=no-answer`).
    pub headers: Vec<String>,
    /// INVITE only: give up on this branch (CANCEL it, count it as 408) when it has no
    /// final response this long after it was sent, instead of waiting for Timer C (the
    /// subscriber's no-answer timeout, OpenSIPS `fr_inv_timer`). Provisionals do not extend
    /// it. `None`: Timer C as configured.
    pub no_answer: Option<Duration>,
}

impl Target {
    /// Relay to the request's own Request-URI (the default target).
    pub fn request_uri() -> Self {
        Target {
            q: 1000,
            ..Target::default()
        }
    }

    /// Relay with a new Request-URI.
    pub fn uri(uri: impl Into<String>) -> Self {
        Target {
            uri: Some(uri.into()),
            q: 1000,
            ..Target::default()
        }
    }

    pub fn with_q(mut self, q: u16) -> Self {
        self.q = q.min(1000);
        self
    }

    pub fn with_next_hop(mut self, hop: SocketAddr) -> Self {
        self.next_hop = Some(hop);
        self
    }

    pub fn with_header(mut self, line: impl Into<String>) -> Self {
        self.headers.push(line.into());
        self
    }

    pub fn with_no_answer(mut self, after: Duration) -> Self {
        self.no_answer = Some(after);
        self
    }
}

/// A response the core builds and sends for the router (with Via, From, To with our tag,
/// Call-ID and CSeq copied from the request).
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub code: u16,
    pub reason: Cow<'static, str>,
    /// Extra header lines, each a whole `Name: value` without CRLF (Contact, Retry-After,
    /// WWW-Authenticate, ...).
    pub headers: Vec<String>,
}

impl Reply {
    pub fn new(code: u16, reason: impl Into<Cow<'static, str>>) -> Self {
        Reply {
            code,
            reason: reason.into(),
            headers: Vec::new(),
        }
    }

    pub fn with_header(mut self, line: impl Into<String>) -> Self {
        self.headers.push(line.into());
        self
    }
}

/// What to do with a new request (out of dialog, or in dialog without a Route set left).
#[derive(Debug, Clone, PartialEq)]
pub enum RouteDecision {
    /// Fork to these targets: groups of equal q in parallel, groups in decreasing q serially.
    Relay(Vec<Target>),
    /// Answer it ourselves.
    Respond(Reply),
    /// Say nothing (flood protection, a blocked source).
    Drop,
}

/// What the core knows about a request when it asks the router.
#[derive(Debug, Clone, Copy)]
pub struct RequestInfo {
    pub src: SocketAddr,
    pub local: ListenerId,
    /// The Request-URI names this proxy (one of its hostnames or listen addresses).
    pub uri_is_ours: bool,
    /// The request has a To tag. In-dialog requests that still carry a Route set after our
    /// own Route was removed are relayed along it by the core without asking the router; the
    /// router sees the others (no Route left: the Request-URI is the remote target).
    pub in_dialog: bool,
    /// Names this transaction until [`Router::transaction_ended`] is called with it (the
    /// same value is in [`Failure::txn`]), for routers that keep per-transaction state.
    pub txn: u64,
}

/// Why the failure route runs: every branch ended without a 2xx and nothing is left to try.
#[derive(Debug, Clone, Copy)]
pub struct Failure<'a> {
    /// The best final response so far (§16.7 step 6), before the 503 → 500 rewrite; 408
    /// when a branch timed out (Timer B or Timer C) without a better answer.
    pub code: u16,
    /// The final code of every branch of this transaction so far, in branch order.
    pub branch_codes: &'a [u16],
    /// How many times the failure route already ran for this transaction.
    pub attempts: u32,
    pub src: SocketAddr,
    pub local: ListenerId,
    /// The transaction, as in [`RequestInfo::txn`].
    pub txn: u64,
}

/// What the failure route decided.
#[derive(Debug, Clone, PartialEq)]
pub enum FailureDecision {
    /// Send the best response upstream (the default).
    Forward,
    /// Try these targets as new branches of the same transaction (call forward on busy /
    /// no answer, the next gateway).
    Relay(Vec<Target>),
    /// Answer with this instead of the best response.
    Respond(Reply),
}

/// The routing logic of a proxy. One instance per worker, called on that worker only.
pub trait Router: Send {
    /// Decide where a new request goes. `req` is the request as received.
    fn route(&mut self, now: Instant, req: &Message<'_>, info: &RequestInfo) -> RouteDecision;

    /// Every branch failed. Not called for a cancelled transaction (RFC 3261 §16.10: it
    /// ends with 487) or once a 2xx was received. It is called after a 6xx (the other
    /// branches are already cancelled, §16.7 step 5), so that a router may treat 600 Busy
    /// Everywhere as busy; routers that do not want that answer `Forward` for 6xx.
    /// `req` is the original request.
    fn failure_route(
        &mut self,
        now: Instant,
        req: &Message<'_>,
        failure: &Failure<'_>,
    ) -> FailureDecision {
        let _ = (now, req, failure);
        FailureDecision::Forward
    }

    /// The address of a next hop whose host is a name, from static data (peers and gateways
    /// of the forwarding table). Ringlet does no DNS: `None` (the default) makes the branch
    /// fail with 502.
    fn resolve(&mut self, host: &[u8], port: u16) -> Option<SocketAddr> {
        let _ = (host, port);
        None
    }

    /// Transaction `txn` (see [`RequestInfo::txn`]) has left the table: forget anything kept
    /// for it. Called once per transaction.
    fn transaction_ended(&mut self, txn: u64) {
        let _ = txn;
    }

    /// Credentials (`Authorization`, `Proxy-Authorization`) for `realm` were meant for this
    /// proxy: they are removed from every request it forwards, on every branch (OpenSIPS
    /// `consume_credentials`). RFC 3261 §22.3: credentials for other realms pass unchanged,
    /// so the default consumes none.
    fn consumes_credentials(&mut self, realm: &[u8]) -> bool {
        let _ = realm;
        false
    }
}

/// The default router: requests for other domains go to their Request-URI; requests for
/// this proxy itself are answered (OPTIONS 200, anything else 404: nobody is registered
/// until the registrar is plugged in).
#[derive(Debug, Default, Clone, Copy)]
pub struct RelayToRequestUri;

impl Router for RelayToRequestUri {
    fn route(&mut self, _now: Instant, req: &Message<'_>, info: &RequestInfo) -> RouteDecision {
        if info.uri_is_ours {
            if req.method() == Some(crate::sip::Method::Options) {
                return RouteDecision::Respond(Reply::new(200, "OK"));
            }
            return RouteDecision::Respond(Reply::new(404, "Not Found"));
        }
        RouteDecision::Relay(vec![Target::request_uri()])
    }
}
