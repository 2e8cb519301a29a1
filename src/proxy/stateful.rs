//! The transaction-stateful proxy core (RFC 3261 §16 over §17): the [`Endpoint`] one
//! worker runs.
//!
//! ```text
//!  datagram ─► parse ─┬─ response ─► branch id ─► other worker? ─► Outbox.handoff
//!                     │                  │ ours
//!                     │                  ▼
//!                     │     client txn ─► response context ─► upstream / CANCEL others /
//!                     │                                       next serial group / failure route
//!                     └─ request ─► ACK? CANCEL? retransmission? (server txn match)
//!                                    │ new
//!                                    ▼
//!                        §16.3 validation (400/416/420/482/483) ─► table full? 503
//!                                    ▼
//!                        server txn (+100 Trying) ─► in-dialog: Route set │ else Router
//!                                    ▼
//!                        branches: our Via (worker|slot|generation|fork), Max-Forwards-1,
//!                        Record-Route on dialog-creating requests, Route processing
//! ```
//!
//! Invariants:
//! - every live transaction whose state machines want a timer has `armed` set to a deadline
//!   no later than its earliest timer, and that deadline is in the wheel; wheel entries whose
//!   deadline differs from `armed` are stale and ignored;
//! - a transaction leaves the table exactly when all its state machines are terminated;
//! - at most one final response goes upstream per transaction (the server state machine
//!   refuses a second one), except 2xx retransmissions of an INVITE (RFC 6026).

use std::net::SocketAddr;
use std::time::Instant;

use crate::endpoint::{Endpoint, Incoming, ListenerId, Outbox};
use crate::sip::{self, HeaderName, Message, Method, Uri};
use crate::txn::{
    branch, BranchId, ClientTimerAction, InviteClient, InviteServer, KeyHasher, NonInviteClient,
    NonInviteServer, ServerRequestAction, ServerTimerAction, TimerWheel, TransactionTable,
    TxHandle, TxKey,
};

use super::best_response::{forwarded_code, is_better, is_challenge};
use super::compose::{
    collect_challenges, consumed_credentials, loop_hash, loop_hash_with, plan_routes,
    response_destination, via_destination, write_cancel_or_ack, write_forwarded_request,
    write_local_response, write_request_vias, write_response_upstream, ForwardSpec, ListenerText,
    ParsedHead, ParsedUris, RoutePlan, RouteValue,
};
use super::locality::{next_hop, Locality, NextHopError};
use super::router::{Failure, FailureDecision, Reply, RequestInfo, RouteDecision, Router, Target};
use super::splice::{hex_into, split_commas, EditList};
use super::transaction::{Best, Branch, Branches, ClientSide, ProxyTransaction, ServerSide};
use super::{ProxyConfig, ProxyStats};

/// The most branches one transaction may have (the fork index is one byte of the branch).
pub const MAX_BRANCHES: usize = 255;
/// The dialog identifiers of a request (RFC 3261 §12), read once per request.
pub(crate) struct DialogFields<'a> {
    pub from_tag: Option<&'a [u8]>,
    pub to_tag: Option<&'a [u8]>,
    pub call_id: &'a [u8],
    pub seq: u32,
}

/// How often the failure route may start new branches for one transaction.
pub const MAX_FAILURE_ROUTES: u32 = 8;

/// A transaction-stateful SIP proxy for one worker. See the module docs.
pub struct StatefulProxy<R: Router> {
    cfg: ProxyConfig,
    here: Locality,
    router: R,
    table: TransactionTable<ProxyTransaction>,
    wheel: TimerWheel<TxHandle>,
    fired: Vec<(Instant, TxHandle)>,
    edits: EditList,
    routes: Vec<RouteValue>,
    /// Scratch for one message being written.
    buf: Vec<u8>,
    /// Scratch for a rebuilt forwarded request (CANCEL, ACK, retransmission).
    fwd: Vec<u8>,
    codes: Vec<u16>,
    /// Scratch: credential lines the router consumed, left out of a forwarded request.
    consumed: Vec<std::ops::Range<usize>>,
    key_hasher: KeyHasher,
    /// Our Via and Record-Route text per listener (index: [`ListenerId`]).
    listener_texts: Vec<ListenerText>,
    /// Finds [`branch::OURS_PREFIX`] in a Via line.
    ours_finder: memchr::memmem::Finder<'static>,
    stats: ProxyStats,
}

impl<R: Router> StatefulProxy<R> {
    /// A proxy for one worker. `now` is the origin of its timer wheel (any instant not
    /// later than the first `now` the runtime will pass).
    pub fn new(cfg: ProxyConfig, router: R, now: Instant) -> Self {
        let listener_texts = (0..cfg.listen.len().max(1))
            .map(|i| ListenerText::new(cfg.listen_addr(i as ListenerId)))
            .collect();
        StatefulProxy {
            here: Locality::new(&cfg),
            table: TransactionTable::new(cfg.max_transactions),
            wheel: TimerWheel::with_defaults(now),
            cfg,
            router,
            fired: Vec::new(),
            edits: EditList::default(),
            routes: Vec::new(),
            buf: Vec::with_capacity(4096),
            fwd: Vec::with_capacity(4096),
            codes: Vec::new(),
            consumed: Vec::new(),
            key_hasher: KeyHasher::random(),
            listener_texts,
            ours_finder: memchr::memmem::Finder::new(branch::OURS_PREFIX),
            stats: ProxyStats::default(),
        }
    }

    pub fn config(&self) -> &ProxyConfig {
        &self.cfg
    }

    pub fn stats(&self) -> &ProxyStats {
        &self.stats
    }

    pub fn router(&self) -> &R {
        &self.router
    }

    pub fn router_mut(&mut self) -> &mut R {
        &mut self.router
    }

    /// Live transactions in this worker's table.
    pub fn transactions(&self) -> usize {
        self.table.len()
    }

    /// Live transactions still in flight (see `ProxyTransaction::is_in_flight`).
    pub fn transactions_in_flight(&self) -> usize {
        let t = &self.table;
        t.handles()
            .filter(|&h| t.get(h).is_some_and(|x| x.is_in_flight()))
            .count()
    }

    /// Bytes held by all live transactions (slot overhead plus what each owns).
    pub fn transaction_bytes(&self) -> usize {
        self.table
            .handles()
            .filter_map(|h| self.table.get(h))
            .map(|t| {
                t.footprint() + TransactionTable::<ProxyTransaction>::slot_bytes()
                    - std::mem::size_of::<ProxyTransaction>()
            })
            .sum()
    }

    // ---- keys ----------------------------------------------------------------------------

    /// The transaction key of a request (RFC 3261 §17.2.3) for method `method` (pass INVITE
    /// for an ACK or CANCEL): branch, sent-by host (any case) and port, and the method; for
    /// RFC 2543 peers Request-URI, From tag, Call-ID, CSeq number and top Via.
    fn key_of(
        &self,
        msg: &Message<'_>,
        via: &sip::Via<'_>,
        dialog: &DialogFields<'_>,
        method: &[u8],
    ) -> TxKey {
        let k = self.key_hasher.start();
        let k = match via.branch {
            Some(b) if via.is_rfc3261_branch() => k
                .u64(1)
                .bytes(b)
                .bytes_ignore_case(via.host)
                .u64(via.port.map_or(1 << 16, u64::from)),
            _ => k
                .u64(2)
                .bytes(msg.request_uri().unwrap_or(b""))
                .bytes(dialog.from_tag.unwrap_or(b""))
                .bytes(dialog.call_id)
                .u64(u64::from(dialog.seq))
                .bytes(via.raw),
        };
        k.bytes(method).finish()
    }

    fn find_server(&self, key: &TxKey) -> Option<TxHandle> {
        self.table
            .find(key.index, |t| t.fingerprint == key.fingerprint)
    }

    fn is_local_tag(&self, tag: &[u8]) -> bool {
        let mut p = [0u8; 11];
        p[..3].copy_from_slice(b"rlt");
        hex_into(&mut p[3..], u64::from(self.cfg.branch_salt));
        tag.len() == 19 && tag.starts_with(&p)
    }

    // ---- sending ---------------------------------------------------------------------------

    /// Answer `msg` ourselves without a transaction.
    fn reply_stateless(
        &mut self,
        msg: &Message<'_>,
        inc: &Incoming<'_>,
        reply: &Reply,
        out: &mut Outbox,
    ) {
        // A request whose Via is unusable is answered where it came from (RFC 4475 badinv01).
        let dest = msg
            .top_via()
            .map_or(inc.src, |via| response_destination(&via, inc.src));
        let tag = local_tag(self.cfg.branch_salt, msg);
        let extra: Vec<&str> = reply.headers.iter().map(String::as_str).collect();
        let (edits, server) = (&mut self.edits, self.cfg.server_name.as_str());
        out.send_with(inc.local, dest, |buf| {
            write_local_response(
                msg,
                None,
                inc.src,
                reply.code,
                &reply.reason,
                Some(&tag),
                &extra,
                server,
                edits,
                buf,
            )
        });
    }

    /// Send the response in `self.buf` (status `code`) upstream through transaction `h`.
    fn send_upstream(&mut self, now: Instant, h: TxHandle, code: u16, out: &mut Outbox) {
        self.send_upstream_keeping(now, h, code, true, out);
    }

    /// [`Self::send_upstream`]; with `keep` false the response is not stored for
    /// retransmissions: only for an INVITE's `100 Trying`, which
    /// [`Self::on_retransmission`] writes again instead (see [`is_plain_trying`]).
    fn send_upstream_keeping(
        &mut self,
        now: Instant,
        h: TxHandle,
        code: u16,
        keep: bool,
        out: &mut Outbox,
    ) {
        let Some(t) = self.table.get_mut(h) else {
            return;
        };
        let allowed = match &mut t.server {
            ServerSide::Invite(s) => s.on_send(now, code, &self.cfg.timers),
            ServerSide::NonInvite(s) => s.on_send(now, code, &self.cfg.timers),
        };
        if !allowed {
            return;
        }
        out.send(t.local, t.reply_to(), &self.buf);
        if code >= 200 {
            t.answered = true;
        }
        if t.is_invite && (200..300).contains(&code) {
            // RFC 6026: INVITE retransmissions are absorbed from now on; nothing to resend.
            t.last_response = Vec::new();
        } else if !keep && t.is_invite {
            t.last_response.clear();
        } else {
            t.last_response.clear();
            t.last_response.extend_from_slice(&self.buf);
        }
    }

    /// Answer through transaction `h` with a response we generate.
    fn reply_in_txn(
        &mut self,
        now: Instant,
        h: TxHandle,
        code: u16,
        reason: &str,
        extra: &[&str],
        out: &mut Outbox,
    ) {
        {
            let Some(t) = self.table.get(h) else { return };
            let Ok(req) = sip::parse(&t.request) else {
                return;
            };
            let src = t.src;
            Self::write_reply(
                &self.cfg,
                &mut self.edits,
                &mut self.buf,
                &req,
                None,
                src,
                code,
                reason,
                extra,
            );
        }
        self.send_upstream(now, h, code, out);
    }

    /// [`Self::reply_in_txn`] when the request is at hand already parsed (no re-parse).
    #[allow(clippy::too_many_arguments)]
    fn reply_in_txn_with(
        &mut self,
        now: Instant,
        h: TxHandle,
        req: &Message<'_>,
        top_via: Option<&sip::Via<'_>>,
        src: SocketAddr,
        code: u16,
        reason: &str,
        extra: &[&str],
        out: &mut Outbox,
    ) {
        Self::write_reply(
            &self.cfg,
            &mut self.edits,
            &mut self.buf,
            req,
            top_via,
            src,
            code,
            reason,
            extra,
        );
        let keep = !is_plain_trying(code, reason, extra);
        self.send_upstream_keeping(now, h, code, keep, out);
    }

    /// Send the `100 Trying` of INVITE transaction `h` again (a retransmitted INVITE while
    /// nothing else went upstream), written from the stored request as it was the first
    /// time: the same request, source and text give the same bytes.
    fn resend_trying(&mut self, h: TxHandle, out: &mut Outbox) {
        let Some(t) = self.table.get(h) else { return };
        let Ok(req) = sip::parse(&t.request) else {
            return;
        };
        Self::write_reply(
            &self.cfg,
            &mut self.edits,
            &mut self.buf,
            &req,
            None,
            t.src,
            100,
            TRYING,
            &[],
        );
        out.send(t.local, t.reply_to(), &self.buf);
    }

    /// Write our response to `req` into `buf` (a To tag of ours above 100).
    #[allow(clippy::too_many_arguments)]
    fn write_reply(
        cfg: &ProxyConfig,
        edits: &mut EditList,
        buf: &mut Vec<u8>,
        req: &Message<'_>,
        top_via: Option<&sip::Via<'_>>,
        src: SocketAddr,
        code: u16,
        reason: &str,
        extra: &[&str],
    ) {
        // RFC 3261 §8.2.6.2: no To tag on a 100 (and no need to hash anything for one).
        let tag = if code > 100 {
            local_tag(cfg.branch_salt, req)
        } else {
            [0; 19]
        };
        let to_tag = if code > 100 { Some(&tag[..]) } else { None };
        buf.clear();
        write_local_response(
            req,
            top_via,
            src,
            code,
            reason,
            to_tag,
            extra,
            &cfg.server_name,
            edits,
            buf,
        );
    }

    /// Take the stored request of `h` out, run `f` on it parsed and Route-processed, and put
    /// it back (so `f` may use `self` freely; it must not reply through `h` meanwhile).
    fn with_request<T>(
        &mut self,
        h: TxHandle,
        f: impl FnOnce(&mut Self, &Message<'_>, &RoutePlan<'_>) -> T,
    ) -> Option<T> {
        let t = self.table.get_mut(h)?;
        let request = std::mem::take(&mut t.request);
        let result = match sip::parse(&request) {
            Ok(req) => match plan_routes(&req, ParsedUris::default(), &self.here, &mut self.routes)
            {
                Ok(plan) => Some(f(self, &req, &plan)),
                Err(()) => None,
            },
            Err(_) => None,
        };
        if let Some(t) = self.table.get_mut(h) {
            t.request = request;
        }
        result
    }

    /// Rebuild the request of branch `fork` of `h` into `self.fwd`.
    fn build_branch_request(&mut self, h: TxHandle, fork: usize) -> bool {
        self.with_request(h, |s, req, plan| {
            s.build_branch_with(req, None, plan, h, fork)
        })
        .unwrap_or(false)
    }

    /// Write the request of branch `fork` of `h` (from the parsed stored request) into
    /// `self.fwd`.
    fn build_branch_with(
        &mut self,
        req: &Message<'_>,
        parsed: Option<&ParsedHead<'_>>,
        plan: &RoutePlan<'_>,
        h: TxHandle,
        fork: usize,
    ) -> bool {
        let Some(t) = self.table.get(h) else {
            return false;
        };
        let Some(b) = t.branches.get(fork) else {
            return false;
        };
        let id = BranchId {
            salt: self.cfg.branch_salt,
            worker: self.cfg.worker,
            slot: h.slot,
            generation: h.generation,
            fork: fork as u8,
            loop_hash: t.loop_hash,
        }
        .encode();
        let text = listener_text(&self.listener_texts, t.local);
        let router = &mut self.router;
        consumed_credentials(
            req,
            |realm| router.consumes_credentials(realm),
            &mut self.consumed,
        );
        let spec = ForwardSpec {
            via_prefix: &text.via_prefix,
            branch: id.as_bytes(),
            src: t.src,
            ruri: b.uri.as_deref().map(str::as_bytes),
            record_route: t.record_route.then_some(&text.record_route[..]),
            extra_headers: b.headers.as_deref().unwrap_or(b""),
            remove_lines: &self.consumed,
        };
        self.fwd.clear();
        write_forwarded_request(req, parsed, plan, &spec, &mut self.edits, &mut self.fwd);
        true
    }

    /// Send the CANCEL (or, with `ack_to`, the ACK) of branch `fork`.
    fn send_cancel_or_ack(
        &mut self,
        h: TxHandle,
        fork: usize,
        ack_to: Option<&[u8]>,
        out: &mut Outbox,
    ) {
        if !self.build_branch_request(h, fork) {
            return;
        }
        let Some(t) = self.table.get(h) else { return };
        let (local, dest) = (t.local, t.branches[fork].dest);
        let Ok(fwd) = sip::parse(&self.fwd) else {
            return;
        };
        out.send_with(local, dest, |buf| write_cancel_or_ack(&fwd, ack_to, buf));
    }

    /// Cancel branch `fork` (§16.10, §9.1): a CANCEL now if it had a provisional, else as
    /// soon as one arrives. Either way the response context stops waiting for it.
    fn cancel_branch(&mut self, now: Instant, h: TxHandle, fork: usize, out: &mut Outbox) {
        let Some(t) = self.table.get_mut(h) else {
            return;
        };
        let Some(b) = t.branches.get_mut(fork) else {
            return;
        };
        if b.cancel.is_some() || b.cancel_pending || !matches!(b.client, ClientSide::Invite(_)) {
            return;
        }
        if b.final_code.is_some() && b.client.is_terminated() {
            return;
        }
        b.timer_c = None;
        if b.provisional {
            b.cancel = Some(Box::new(NonInviteClient::start(now, &self.cfg.timers)));
            self.send_cancel_or_ack(h, fork, None, out);
        } else {
            b.cancel_pending = true;
            if b.final_code.is_none() {
                b.final_code = Some(487);
            }
        }
    }

    fn cancel_others(&mut self, now: Instant, h: TxHandle, except: usize, out: &mut Outbox) {
        let n = self.table.get(h).map_or(0, |t| t.branches.len());
        for fork in 0..n {
            if fork != except
                && self
                    .table
                    .get(h)
                    .is_some_and(|t| t.branches[fork].final_code.is_none())
            {
                self.cancel_branch(now, h, fork, out);
            }
        }
        if let Some(t) = self.table.get_mut(h) {
            t.pending.clear();
        }
    }

    /// Re-arm the wheel for `h`, or drop the transaction when it has finished.
    fn settle(&mut self, h: TxHandle) {
        let Some(t) = self.table.get_mut(h) else {
            return;
        };
        if t.is_finished() {
            self.table.remove(h);
            self.router.transaction_ended(txn_id(h));
            return;
        }
        t.release_if_lingering();
        if let Some(d) = t.next_deadline() {
            if t.armed.map_or(true, |a| d < a) {
                t.armed = Some(d);
                self.wheel.insert(d, h);
            }
        }
    }

    // ---- requests --------------------------------------------------------------------------

    fn on_request(
        &mut self,
        now: Instant,
        inc: &Incoming<'_>,
        msg: &Message<'_>,
        out: &mut Outbox,
    ) {
        self.stats.requests += 1;
        let Some(method) = msg.method() else { return };
        let via = match msg.top_via() {
            Ok(v) => v,
            Err(e) => {
                self.stats.malformed += 1;
                if method != Method::Ack {
                    self.reply_stateless(msg, inc, &Reply::new(e.status(), e.reason()), out);
                }
                return;
            }
        };
        let (Ok(cseq), Ok(call_id), Ok(from)) = (msg.cseq(), msg.call_id(), msg.from()) else {
            self.stats.rejected += 1;
            if let Err(rej) = sip::validate_request(msg) {
                self.reply_stateless(msg, inc, &Reply::new(rej.status, rej.reason), out);
            }
            return;
        };
        // Parsed once: validation takes them as they are.
        let head = sip::RequestHead {
            top_via: via,
            cseq,
            call_id,
            from_tag: from.tag,
        };
        // The dialog fields, read once for key, loop hash and in-dialog test. The key does
        // not use the To tag: it is read here only for an ACK; validation reads it for the
        // others (the same value: `Message::to_tag`).
        let mut dialog = DialogFields {
            from_tag: from.tag,
            to_tag: None,
            call_id,
            seq: cseq.seq,
        };
        // ACK and CANCEL match the INVITE's server transaction (§17.2.3, §9.2).
        let key_method: &[u8] = match method {
            Method::Ack | Method::Cancel => b"INVITE",
            m => m.as_bytes(),
        };
        let key = self.key_of(msg, &via, &dialog, key_method);
        match method {
            Method::Ack => {
                let to_tag = msg.to_tag().ok().flatten();
                return self.on_ack(now, inc, msg, &via, to_tag, &key, out);
            }
            Method::Cancel => return self.on_cancel(now, inc, msg, &head, &key, out),
            _ => {}
        }
        if let Some(h) = self.find_server(&key) {
            self.on_retransmission(h, out);
            return;
        }
        // §16.3 validation.
        let checked = match sip::check_request(msg, Some(&head)) {
            Ok(c) => c,
            Err(rej) => {
                self.stats.rejected += 1;
                self.reply_stateless(msg, inc, &Reply::new(rej.status, rej.reason), out);
                return;
            }
        };
        if let Err(rej) = sip::check_proxy_require(msg, &[]) {
            self.stats.rejected += 1;
            let tags: Vec<&[u8]> = msg.proxy_require().collect();
            let mut unsupported = String::from("Unsupported: ");
            for (i, t) in tags.iter().enumerate() {
                if i > 0 {
                    unsupported.push_str(", ");
                }
                unsupported.push_str(&String::from_utf8_lossy(t));
            }
            let reply = Reply::new(rej.status, rej.reason).with_header(unsupported);
            self.reply_stateless(msg, inc, &reply, out);
            return;
        }
        dialog.to_tag = checked.to_tag;
        let lh = loop_hash_with(msg, &dialog);
        if self.is_loop(msg, lh) {
            self.stats.loops += 1;
            self.stats.rejected += 1;
            self.reply_stateless(msg, inc, &Reply::new(482, "Loop Detected"), out);
            return;
        }
        let in_dialog = dialog.to_tag.is_some();
        self.new_transaction(now, inc, msg, &checked, &key, lh, in_dialog, out);
    }

    /// §16.3 step 4: one of our Vias with the loop hash of this very request.
    fn is_loop(&self, msg: &Message<'_>, lh: u32) -> bool {
        // Only a Via line carrying a branch of ours (cookie + tag) can loop: most requests
        // have none, and their Vias need not be parsed to know.
        if !msg
            .headers_named(HeaderName::Via)
            .any(|v| self.ours_finder.find(v).is_some())
        {
            return false;
        }
        msg.vias().flatten().any(|v| {
            v.branch
                .and_then(BranchId::decode)
                .is_some_and(|id| id.salt == self.cfg.branch_salt && id.loop_hash == lh)
        })
    }

    fn on_retransmission(&mut self, h: TxHandle, out: &mut Outbox) {
        self.stats.retransmissions += 1;
        let Some(t) = self.table.get_mut(h) else {
            return;
        };
        let action = match &mut t.server {
            ServerSide::Invite(s) => s.on_invite(),
            ServerSide::NonInvite(s) => s.on_request(),
        };
        if action != ServerRequestAction::ResendLast {
            return;
        }
        if !t.last_response.is_empty() {
            out.send(t.local, t.reply_to(), &t.last_response);
        } else if t.is_invite && t.server.is_proceeding() {
            // Nothing but the 100 Trying went upstream (it is not stored: see
            // `send_upstream_keeping`).
            self.resend_trying(h, out);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn on_ack(
        &mut self,
        now: Instant,
        inc: &Incoming<'_>,
        msg: &Message<'_>,
        via: &sip::Via<'_>,
        to_tag: Option<&[u8]>,
        key: &TxKey,
        out: &mut Outbox,
    ) {
        if let Some(h) = self.find_server(key) {
            let Some(t) = self.table.get_mut(h) else {
                return;
            };
            let action = match &mut t.server {
                ServerSide::Invite(s) => s.on_ack(now, &self.cfg.timers),
                ServerSide::NonInvite(_) => ServerRequestAction::Absorb,
            };
            if action == ServerRequestAction::PassAck {
                self.forward_stateless(
                    inc,
                    msg,
                    &Self::parsed_head(msg, via),
                    ParsedUris::default(),
                    out,
                );
            }
            self.settle(h);
            return;
        }
        // An ACK for a negative answer we gave without a transaction ends here.
        if to_tag.is_some_and(|t| self.is_local_tag(t)) {
            return;
        }
        // ACK for a 2xx: end to end (§16.11 / RFC 6026), statelessly by Route / R-URI.
        self.forward_stateless(
            inc,
            msg,
            &Self::parsed_head(msg, via),
            ParsedUris::default(),
            out,
        );
    }

    fn on_cancel(
        &mut self,
        now: Instant,
        inc: &Incoming<'_>,
        msg: &Message<'_>,
        head: &sip::RequestHead<'_>,
        key: &TxKey,
        out: &mut Outbox,
    ) {
        let Some(h) = self.find_server(key) else {
            // §16.10: no response context: forward statelessly.
            let checked = match sip::check_request(msg, Some(head)) {
                Ok(c) => c,
                Err(rej) => {
                    self.reply_stateless(msg, inc, &Reply::new(rej.status, rej.reason), out);
                    return;
                }
            };
            let parsed = ParsedHead {
                top_via: &checked.top_via,
                max_forwards: checked.max_forwards,
            };
            if !self.forward_stateless(inc, msg, &parsed, uris_of(&checked), out) {
                self.reply_stateless(
                    msg,
                    inc,
                    &Reply::new(481, "Call/Transaction Does Not Exist"),
                    out,
                );
            }
            return;
        };
        self.stats.cancels += 1;
        // §16.10: 200 to the CANCEL itself.
        self.reply_stateless(msg, inc, &Reply::new(200, "OK"), out);
        let Some(t) = self.table.get_mut(h) else {
            return;
        };
        if !t.server.is_proceeding() || t.cancelled {
            return;
        }
        t.cancelled = true;
        t.pending.clear();
        let n = t.branches.len();
        for fork in 0..n {
            self.cancel_branch(now, h, fork, out);
        }
        self.advance_context(now, h, out);
        self.settle(h);
    }

    /// The top Via (parsed already) and Max-Forwards of a request that was not validated.
    fn parsed_head<'a>(msg: &Message<'a>, via: &'a sip::Via<'a>) -> ParsedHead<'a> {
        ParsedHead {
            top_via: via,
            max_forwards: msg.max_forwards().ok().flatten(),
        }
    }

    /// Forward a request without a transaction (2xx ACK, unmatched CANCEL); false when it
    /// has no usable next hop. `uris`: what validation parsed, when it ran.
    fn forward_stateless<'a>(
        &mut self,
        inc: &Incoming<'_>,
        msg: &Message<'a>,
        parsed: &ParsedHead<'a>,
        uris: ParsedUris<'a>,
        out: &mut Outbox,
    ) -> bool {
        if parsed.max_forwards == Some(0) {
            return false;
        }
        let Ok(plan) = plan_routes(msg, uris, &self.here, &mut self.routes) else {
            return false;
        };
        let Ok(dest) = Self::resolve(&mut self.router, msg, &plan, None) else {
            return false;
        };
        // RFC 3261 §16.11: a stateless branch is a function of the incoming branch, so the
        // CANCEL of a statelessly forwarded INVITE gets the same one.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ u64::from(self.cfg.branch_salt);
        for &b in parsed.top_via.branch.unwrap_or(b"") {
            h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
        let mut br = [0u8; 25];
        br[..9].copy_from_slice(b"z9hG4bKrs");
        hex_into(&mut br[9..], h);
        let router = &mut self.router;
        consumed_credentials(
            msg,
            |realm| router.consumes_credentials(realm),
            &mut self.consumed,
        );
        let spec = ForwardSpec {
            via_prefix: &listener_text(&self.listener_texts, inc.local).via_prefix,
            branch: &br,
            src: inc.src,
            ruri: None,
            record_route: None,
            extra_headers: b"",
            remove_lines: &self.consumed,
        };
        let edits = &mut self.edits;
        out.send_with(inc.local, dest, |buf| {
            write_forwarded_request(msg, Some(parsed), &plan, &spec, edits, buf)
        });
        self.stats.stateless_requests += 1;
        true
    }

    /// The next hop of a request after Route processing: the remaining top Route, else the
    /// branch URI, else the (possibly strict-router rewritten) Request-URI. Host names go to
    /// the router's static [`Router::resolve`] (no DNS).
    fn resolve(
        router: &mut R,
        msg: &Message<'_>,
        plan: &RoutePlan<'_>,
        branch_uri: Option<&str>,
    ) -> Result<SocketAddr, NextHopError> {
        let data = msg.datagram();
        let raw: &[u8] = if let Some(r) = plan.next_route.clone() {
            &data[r]
        } else if let Some(u) = branch_uri {
            u.as_bytes()
        } else if let Some(s) = plan.strict_ruri.clone() {
            &data[s]
        } else if let Some(u) = plan.ruri {
            // The Request-URI itself, parsed by Route processing already.
            return Self::next_hop_of(router, &u);
        } else {
            msg.request_uri().ok_or(NextHopError::BadHost)?
        };
        let uri = Uri::parse(raw).map_err(|_| NextHopError::BadHost)?;
        Self::next_hop_of(router, &uri)
    }

    /// [`next_hop`], with host names given to the router's static resolver.
    fn next_hop_of(router: &mut R, uri: &Uri<'_>) -> Result<SocketAddr, NextHopError> {
        match next_hop(uri) {
            Err(NextHopError::HostName) => {
                let port = uri.port.unwrap_or(match uri.scheme {
                    sip::Scheme::Sips => super::locality::SIPS_DEFAULT_PORT,
                    _ => super::locality::SIP_DEFAULT_PORT,
                });
                router
                    .resolve(uri.host_raw, port)
                    .ok_or(NextHopError::HostName)
            }
            other => other,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn new_transaction(
        &mut self,
        now: Instant,
        inc: &Incoming<'_>,
        msg: &Message<'_>,
        checked: &sip::CheckedRequest<'_>,
        key: &TxKey,
        lh: u32,
        in_dialog: bool,
        out: &mut Outbox,
    ) {
        let method = checked.method;
        let via = &checked.top_via;
        let parsed = ParsedHead {
            top_via: via,
            max_forwards: checked.max_forwards,
        };
        let is_invite = method == Method::Invite;
        let data = msg.datagram();
        // The one owned copy: the datagram up to the end of this message (offsets stay valid).
        let request: Box<[u8]> = data[..msg.len()].into();
        let record_route =
            !in_dialog && matches!(method, Method::Invite | Method::Subscribe | Method::Refer);
        let txn = ProxyTransaction {
            request,
            fingerprint: key.fingerprint,
            is_invite,
            src: inc.src,
            local: inc.local,
            reply_port: response_destination(via, inc.src).port(),
            loop_hash: lh,
            record_route,
            server: if is_invite {
                ServerSide::Invite(InviteServer::new())
            } else {
                ServerSide::NonInvite(NonInviteServer::new())
            },
            last_response: Vec::new(),
            branches: Branches::default(),
            pending: Vec::new(),
            best: None,
            challenges: Vec::new(),
            cancelled: false,
            answered: false,
            failure_attempts: 0,
            armed: None,
        };
        let h = match self.table.insert(key.index, txn) {
            Ok(h) => h,
            Err(_) => {
                self.stats.table_full += 1;
                let reply = Reply::new(503, "Service Unavailable")
                    .with_header(format!("Retry-After: {}", self.cfg.retry_after_secs));
                self.reply_stateless(msg, inc, &reply, out);
                return;
            }
        };
        self.stats.transactions += 1;
        if is_invite {
            // RFC 3261 §16.2 / §17.2.1: 100 Trying at once, so the caller stops retransmitting.
            self.reply_in_txn_with(now, h, msg, Some(via), inc.src, 100, TRYING, &[], out);
        }
        // Route processing (§16.4) decides whether the router is asked at all.
        let Ok(plan) = plan_routes(msg, uris_of(checked), &self.here, &mut self.routes) else {
            self.reply_in_txn(now, h, 400, "Bad Route", &[], out);
            self.settle(h);
            return;
        };
        let uri_is_ours = match &plan.ruri {
            Some(u) => plan.strict_ruri.is_none() && self.here.is_ours(u),
            None => false,
        };
        let decision = if in_dialog && plan.next_route.is_some() {
            // In-dialog with a Route set: follow it (loose routing, §16.12), no router.
            RouteDecision::Relay(vec![Target::request_uri()])
        } else {
            let info = RequestInfo {
                src: inc.src,
                local: inc.local,
                uri_is_ours,
                in_dialog,
                txn: txn_id(h),
            };
            self.router.route(now, msg, &info)
        };
        match decision {
            RouteDecision::Relay(targets) => {
                self.add_targets(h, targets);
                self.start_next_group_with(now, h, msg, Some(&parsed), &plan, out);
                self.advance_context(now, h, out);
            }
            RouteDecision::Respond(reply) => {
                let extra: Vec<&str> = reply.headers.iter().map(String::as_str).collect();
                self.reply_in_txn_with(
                    now,
                    h,
                    msg,
                    Some(via),
                    inc.src,
                    reply.code,
                    &reply.reason,
                    &extra,
                    out,
                );
            }
            RouteDecision::Drop => {
                if let Some(t) = self.table.get_mut(h) {
                    t.server.terminate();
                }
            }
        }
        self.settle(h);
    }

    /// Queue targets, highest q first (stable: equal q keep the router's order).
    fn add_targets(&mut self, h: TxHandle, mut targets: Vec<Target>) {
        let Some(t) = self.table.get_mut(h) else {
            return;
        };
        targets.sort_by_key(|t| std::cmp::Reverse(t.q));
        // `pending` is kept in decreasing q: new targets go after anything still queued.
        if t.pending.is_empty() {
            // The usual case: the router's vector becomes the queue, no copy.
            t.pending = targets;
        } else {
            t.pending.extend(targets);
        }
    }

    /// Start the next serial group: every pending target with the highest q.
    /// Take the next serial group out of `pending`: every target with the highest q.
    fn take_next_group(&mut self, h: TxHandle) -> Option<Vec<Target>> {
        let t = self.table.get_mut(h)?;
        let q = t.pending.first()?.q;
        let n = t.pending.iter().take_while(|x| x.q == q).count();
        let group: Vec<Target> = if n == t.pending.len() {
            // The last (usually the only) group: move the vector, no copy, memory given back.
            std::mem::take(&mut t.pending)
        } else {
            t.pending.drain(..n).collect()
        };
        t.branches.reserve_exact(group.len());
        Some(group)
    }

    fn start_next_group(&mut self, now: Instant, h: TxHandle, out: &mut Outbox) {
        let Some(group) = self.take_next_group(h) else {
            return;
        };
        let started = self.with_request(h, |s, req, plan| {
            for target in group {
                s.start_branch(now, h, req, None, plan, target, out);
            }
        });
        if started.is_none() {
            if let Some(t) = self.table.get_mut(h) {
                t.best = Some(Best::Local {
                    code: 500,
                    reason: "Server Internal Error",
                });
            }
        }
    }

    /// [`Self::start_next_group`] with the request at hand (`req` is the datagram the stored
    /// copy was made from, so offsets agree): no re-parse on the first forward.
    fn start_next_group_with(
        &mut self,
        now: Instant,
        h: TxHandle,
        req: &Message<'_>,
        parsed: Option<&ParsedHead<'_>>,
        plan: &RoutePlan<'_>,
        out: &mut Outbox,
    ) {
        if let Some(group) = self.take_next_group(h) {
            for target in group {
                self.start_branch(now, h, req, parsed, plan, target, out);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn start_branch(
        &mut self,
        now: Instant,
        h: TxHandle,
        req: &Message<'_>,
        parsed: Option<&ParsedHead<'_>>,
        plan: &RoutePlan<'_>,
        target: Target,
        out: &mut Outbox,
    ) {
        let Some(t) = self.table.get_mut(h) else {
            return;
        };
        if t.branches.len() >= MAX_BRANCHES {
            return;
        }
        let fork = t.branches.len();
        let headers = if target.headers.is_empty() {
            None
        } else {
            let mut v = Vec::new();
            for line in &target.headers {
                v.extend_from_slice(line.trim_end().as_bytes());
                v.extend_from_slice(b"\r\n");
            }
            Some(v.into_boxed_slice())
        };
        let dest = match target.next_hop {
            Some(a) => Ok(a),
            None => Self::resolve(&mut self.router, req, plan, target.uri.as_deref()),
        };
        let is_invite = t.is_invite;
        let mut branch = Branch {
            client: ClientSide::NotSent,
            uri: target.uri.map(String::into_boxed_str),
            headers,
            dest: dest.unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0))),
            timer_c: None,
            no_answer: target.no_answer,
            provisional: false,
            final_code: None,
            cancel: None,
            cancel_pending: false,
        };
        match dest {
            Err(e) => {
                let (code, reason) = match e {
                    NextHopError::HostName => {
                        (502, "Bad Gateway (No DNS: Next Hop Is A Host Name)")
                    }
                    NextHopError::Scheme => (416, "Unsupported URI Scheme"),
                    NextHopError::BadHost => (400, "Bad Next Hop URI"),
                };
                branch.final_code = Some(code);
                t.branches.push(branch);
                if is_better(code, t.best.as_ref().map(Best::code)) {
                    t.best = Some(Best::Local { code, reason });
                }
            }
            Ok(_) => {
                if is_invite {
                    branch.client = ClientSide::Invite(InviteClient::start(now, &self.cfg.timers));
                    let limit = target.no_answer.unwrap_or(self.cfg.timers.timer_c);
                    branch.timer_c = Some(now + limit);
                } else {
                    branch.client =
                        ClientSide::NonInvite(NonInviteClient::start(now, &self.cfg.timers));
                }
                t.branches.push(branch);
                if self.build_branch_with(req, parsed, plan, h, fork) {
                    if let Some(t) = self.table.get(h) {
                        out.send(t.local, t.branches[fork].dest, &self.fwd);
                    }
                }
            }
        }
    }

    /// The response context moves on once no branch is outstanding (§16.7 steps 4-10):
    /// next serial group, failure route, or the best response upstream.
    fn advance_context(&mut self, now: Instant, h: TxHandle, out: &mut Outbox) {
        for _ in 0..=(MAX_BRANCHES + MAX_FAILURE_ROUTES as usize) {
            let Some(t) = self.table.get_mut(h) else {
                return;
            };
            if t.answered || !t.server.is_proceeding() {
                return;
            }
            if t.branches.iter().any(|b| b.final_code.is_none()) {
                return;
            }
            if t.cancelled {
                // §16.10: a cancelled INVITE ends with 487 (the branches' own 487s, or ours).
                match t.best.as_ref().map(Best::code) {
                    Some(487) => self.send_best(now, h, out),
                    _ => self.reply_in_txn(now, h, 487, "Request Terminated", &[], out),
                }
                return;
            }
            if !t.pending.is_empty() {
                self.start_next_group(now, h, out);
                continue;
            }
            let best = t.best.as_ref().map_or(500, Best::code);
            // A 6xx reaches the failure route too (600 Busy Everywhere is busy); the router
            // decides, and the other branches were cancelled when it arrived.
            if t.failure_attempts < MAX_FAILURE_ROUTES && !t.branches.is_empty() {
                t.failure_attempts += 1;
                self.codes.clear();
                self.codes
                    .extend(t.branches.iter().filter_map(|b| b.final_code));
                let request = std::mem::take(&mut t.request);
                let failure = Failure {
                    code: best,
                    branch_codes: &self.codes,
                    attempts: t.failure_attempts - 1,
                    src: t.src,
                    local: t.local,
                    txn: txn_id(h),
                };
                let decision = match sip::parse(&request) {
                    Ok(req) => self.router.failure_route(now, &req, &failure),
                    Err(_) => FailureDecision::Forward,
                };
                if let Some(t) = self.table.get_mut(h) {
                    t.request = request;
                }
                match decision {
                    FailureDecision::Forward => {}
                    FailureDecision::Relay(targets) => {
                        if !targets.is_empty() {
                            self.add_targets(h, targets);
                            continue;
                        }
                    }
                    FailureDecision::Respond(reply) => {
                        let extra: Vec<&str> = reply.headers.iter().map(String::as_str).collect();
                        self.reply_in_txn(now, h, reply.code, &reply.reason, &extra, out);
                        return;
                    }
                }
            }
            self.send_best(now, h, out);
            return;
        }
    }

    /// Send the best response upstream (§16.7 step 6-7).
    fn send_best(&mut self, now: Instant, h: TxHandle, out: &mut Outbox) {
        let Some(t) = self.table.get_mut(h) else {
            return;
        };
        let Some(best) = t.best.take() else {
            return self.reply_in_txn(now, h, 500, "Server Internal Error", &[], out);
        };
        match &best {
            Best::Local { code, reason } => {
                if *code == 408 && !t.is_invite {
                    // RFC 4320 §4.1: no 408 to a non-INVITE; the caller has given up already.
                    t.server.terminate();
                    t.answered = true;
                } else {
                    self.reply_in_txn(now, h, forwarded_code(*code), reason, &[], out);
                }
            }
            Best::Received { code, bytes } => {
                let code = *code;
                let merge = is_challenge(code) && !t.challenges.is_empty();
                self.buf.clear();
                match sip::parse(bytes) {
                    Ok(resp) if code == 503 || merge => {
                        // §16.7 step 6: 503 goes up as 500; step 7: every branch's challenge.
                        let status = (code == 503).then_some((500, "Server Internal Error"));
                        write_response_upstream(
                            &resp,
                            false,
                            b"",
                            status,
                            merge,
                            &t.challenges,
                            &mut self.edits,
                            &mut self.buf,
                        );
                    }
                    _ => self.buf.extend_from_slice(bytes),
                }
                self.send_upstream(now, h, forwarded_code(code), out);
            }
        }
        if let Some(t) = self.table.get_mut(h) {
            t.best = Some(best);
        }
    }

    // ---- responses -------------------------------------------------------------------------

    fn on_response(
        &mut self,
        now: Instant,
        inc: &Incoming<'_>,
        msg: &Message<'_>,
        out: &mut Outbox,
    ) {
        self.stats.responses += 1;
        let (Some(code), Ok(cseq)) = (msg.status(), msg.cseq()) else {
            self.stats.dropped_responses += 1;
            return;
        };
        // The top Via must parse and carry one of our branches. Our own Via text, as we
        // wrote it, is known to parse: only anything else is parsed.
        let decoded = match self.own_top_via(msg) {
            Some(id) => Some(id),
            None => match msg.top_via() {
                Ok(via) => via.branch.and_then(BranchId::decode),
                Err(_) => {
                    self.stats.dropped_responses += 1;
                    return;
                }
            },
        };
        let id = match decoded {
            Some(id) if id.salt == self.cfg.branch_salt => id,
            _ => {
                // Not one of our branches: a response never meant for us.
                self.stats.dropped_responses += 1;
                return;
            }
        };
        if id.worker != self.cfg.worker {
            if !inc.handed_off && id.worker < self.cfg.workers {
                self.stats.handoffs += 1;
                out.handoff(usize::from(id.worker), inc.local, inc.src, inc.bytes);
            } else {
                self.stats.dropped_responses += 1;
            }
            return;
        }
        let h = TxHandle {
            slot: id.slot,
            generation: id.generation,
        };
        let fork = usize::from(id.fork);
        let known = self
            .table
            .get(h)
            .is_some_and(|t| fork < t.branches.len() && t.loop_hash == id.loop_hash);
        if !known {
            // §16.7: no context (the transaction is gone): forward statelessly. This is how
            // late 2xx retransmissions still reach the caller (RFC 6026).
            self.forward_response_stateless(inc, msg, out);
            return;
        }
        match cseq.method {
            Method::Cancel => {
                if let Some(c) = self
                    .table
                    .get_mut(h)
                    .and_then(|t| t.branches[fork].cancel.as_mut())
                {
                    c.on_response(now, code, &self.cfg.timers);
                }
            }
            Method::Ack => {}
            _ => self.on_branch_response(now, h, fork, msg, code, out),
        }
        self.settle(h);
    }

    /// The branch of the top Via of `msg` when that Via value is exactly one this proxy
    /// writes: a listener's [`ListenerText::via_value`] followed by a branch of ours and
    /// nothing else (no parameter added, no other value on the line). [`Message::top_via`]
    /// parses such a value (`compose` tests) and its branch is that rest, so the full parse
    /// is skipped; any other value (`None`) is parsed as usual.
    fn own_top_via(&self, msg: &Message<'_>) -> Option<BranchId> {
        let v = msg.header(HeaderName::Via)?;
        self.listener_texts.iter().find_map(|text| {
            let rest = v.strip_prefix(text.via_value())?;
            // Exactly BRANCH_LEN bytes: the cookie, our tag and lower-case hex digits.
            BranchId::decode(rest)
        })
    }

    fn forward_response_stateless(
        &mut self,
        inc: &Incoming<'_>,
        msg: &Message<'_>,
        out: &mut Outbox,
    ) {
        let Some(Ok(next)) = msg.vias().nth(1) else {
            self.stats.dropped_responses += 1;
            return;
        };
        let Some(dest) = via_destination(&next) else {
            self.stats.dropped_responses += 1;
            return;
        };
        self.stats.stateless_responses += 1;
        let edits = &mut self.edits;
        out.send_with(inc.local, dest, |buf| {
            write_response_upstream(msg, true, b"", None, false, b"", edits, buf)
        });
    }

    fn on_branch_response(
        &mut self,
        now: Instant,
        h: TxHandle,
        fork: usize,
        msg: &Message<'_>,
        code: u16,
        out: &mut Outbox,
    ) {
        let timers = self.cfg.timers;
        let Some(t) = self.table.get_mut(h) else {
            return;
        };
        let is_invite = t.is_invite;
        let (pass_up, send_ack) = match &mut t.branches[fork].client {
            ClientSide::Invite(c) => {
                let r = c.on_response(now, code, &timers);
                (r.pass_up, r.send_ack)
            }
            ClientSide::NonInvite(c) => (c.on_response(now, code, &timers), false),
            ClientSide::NotSent => (false, false),
        };
        if send_ack {
            // §17.1.1.3: the ACK of a non-2xx final is ours to send, hop by hop.
            if let Some(to) = msg.headers().find(|x| x.name == HeaderName::To) {
                self.send_cancel_or_ack(h, fork, Some(to.line), out);
            }
        }
        if !pass_up {
            self.stats.retransmissions += 1;
            return;
        }
        let vias = if code > 100 {
            self.missing_vias(h, msg).unwrap_or_default()
        } else {
            Vec::new()
        };
        let Some(t) = self.table.get_mut(h) else {
            return;
        };
        let b = &mut t.branches[fork];
        match code {
            100 => {}
            101..=199 => {
                if is_invite {
                    // §16.7 step 2 (via §16.6 step 11): a provisional resets Timer C.
                    if b.timer_c.is_some() && b.no_answer.is_none() {
                        b.timer_c = Some(now + timers.timer_c);
                    }
                    b.provisional = true;
                    if b.cancel_pending && b.cancel.is_none() {
                        b.cancel_pending = false;
                        b.cancel = Some(Box::new(NonInviteClient::start(now, &timers)));
                        b.timer_c = None;
                        self.send_cancel_or_ack(h, fork, None, out);
                        return;
                    }
                }
                if b.final_code.is_none() && !t.cancelled && !t.answered {
                    self.forward_upstream(now, h, msg, code, out);
                }
            }
            200..=299 => {
                b.final_code = Some(code);
                b.timer_c = None;
                // §16.7 step 5: a 2xx goes upstream at once, from every branch, retransmissions
                // included (RFC 6026).
                if is_invite || !t.answered {
                    self.forward_upstream(now, h, msg, code, out);
                }
                if is_invite {
                    self.cancel_others(now, h, fork, out);
                }
            }
            _ => {
                if b.final_code.is_some() {
                    // Already counted (Timer C / cancelled): this is the late real answer.
                    return;
                }
                b.final_code = Some(code);
                b.timer_c = None;
                if is_challenge(code) {
                    collect_challenges(msg, &mut t.challenges);
                }
                if is_better(code, t.best.as_ref().map(Best::code)) {
                    let mut bytes = Vec::with_capacity(msg.len());
                    write_response_upstream(
                        msg,
                        true,
                        &vias,
                        None,
                        false,
                        b"",
                        &mut self.edits,
                        &mut bytes,
                    );
                    t.best = Some(Best::Received { code, bytes });
                }
                if code >= 600 {
                    // §16.7 step 5: a 6xx ends the search.
                    self.cancel_others(now, h, fork, out);
                }
                self.advance_context(now, h, out);
            }
        }
    }

    /// The caller's Via lines when `resp` (from a branch of `h`) came back with our Via only
    /// (a peer that answered a CANCEL's Via, say); empty, without allocating, otherwise.
    /// `None` when they are missing and cannot be restored (the request copy was released).
    fn missing_vias(&mut self, h: TxHandle, resp: &Message<'_>) -> Option<Vec<u8>> {
        if has_second_via(resp) {
            return Some(Vec::new());
        }
        let t = self.table.get(h)?;
        let req = sip::parse(&t.request).ok()?;
        let mut vias = Vec::new();
        write_request_vias(&req, t.src, &mut self.edits, &mut vias);
        Some(vias)
    }

    /// Forward a branch response upstream through the server transaction.
    fn forward_upstream(
        &mut self,
        now: Instant,
        h: TxHandle,
        msg: &Message<'_>,
        code: u16,
        out: &mut Outbox,
    ) {
        self.buf.clear();
        let Some(vias) = self.missing_vias(h, msg) else {
            self.stats.dropped_responses += 1;
            return;
        };
        write_response_upstream(
            msg,
            true,
            &vias,
            None,
            false,
            b"",
            &mut self.edits,
            &mut self.buf,
        );
        self.send_upstream(now, h, code, out);
    }

    // ---- timers ----------------------------------------------------------------------------

    fn poll_transaction(&mut self, now: Instant, h: TxHandle, out: &mut Outbox) {
        let timers = self.cfg.timers;
        let Some(t) = self.table.get_mut(h) else {
            return;
        };
        // Server side.
        loop {
            let a = match &mut t.server {
                ServerSide::Invite(s) => s.poll(now, &timers),
                ServerSide::NonInvite(s) => s.poll(now, &timers),
            };
            match a {
                Some(ServerTimerAction::ResendLast) => {
                    if !t.last_response.is_empty() {
                        out.send(t.local, t.reply_to(), &t.last_response);
                    }
                }
                Some(_) => {}
                None => break,
            }
        }
        let n = t.branches.len();
        let mut changed = false;
        for fork in 0..n {
            let Some(t) = self.table.get_mut(h) else {
                return;
            };
            let b = &mut t.branches[fork];
            // Timer C (§16.8).
            if b.timer_c.is_some_and(|c| c <= now) {
                b.timer_c = None;
                self.stats.timer_c_fired += 1;
                if b.final_code.is_none() {
                    b.final_code = Some(408);
                    if is_better(408, t.best.as_ref().map(Best::code)) {
                        t.best = Some(Best::Local {
                            code: 408,
                            reason: "Request Timeout",
                        });
                    }
                    changed = true;
                }
                if b.provisional && b.cancel.is_none() {
                    b.cancel = Some(Box::new(NonInviteClient::start(now, &timers)));
                    self.send_cancel_or_ack(h, fork, None, out);
                } else if let ClientSide::Invite(c) = &mut b.client {
                    c.terminate();
                }
            }
            loop {
                let Some(t) = self.table.get_mut(h) else {
                    return;
                };
                let b = &mut t.branches[fork];
                let a = match &mut b.client {
                    ClientSide::Invite(c) => c.poll(now, &timers),
                    ClientSide::NonInvite(c) => c.poll(now, &timers),
                    ClientSide::NotSent => None,
                };
                match a {
                    None => break,
                    Some(ClientTimerAction::Retransmit) => {
                        let (local, dest) = (t.local, b.dest);
                        if self.build_branch_request(h, fork) {
                            out.send(local, dest, &self.fwd);
                        }
                    }
                    Some(ClientTimerAction::Timeout) => {
                        // Timer B / F: as if a 408 arrived (§16.8).
                        if b.final_code.is_none() {
                            b.final_code = Some(408);
                            b.timer_c = None;
                            if is_better(408, t.best.as_ref().map(Best::code)) {
                                t.best = Some(Best::Local {
                                    code: 408,
                                    reason: "Request Timeout",
                                });
                            }
                            changed = true;
                        }
                    }
                    Some(ClientTimerAction::Terminated) => {}
                }
            }
            let Some(t) = self.table.get_mut(h) else {
                return;
            };
            let b = &mut t.branches[fork];
            // The CANCEL's own client transaction.
            if let Some(c) = b.cancel.as_mut() {
                let mut resend = false;
                while let Some(a) = c.poll(now, &timers) {
                    resend |= a == ClientTimerAction::Retransmit;
                }
                if resend {
                    self.send_cancel_or_ack(h, fork, None, out);
                }
            }
        }
        if changed {
            self.advance_context(now, h, out);
        }
    }
}

/// The text of listener `local` (the first one for an unknown id, like
/// [`ProxyConfig::listen_addr`]).
fn listener_text(texts: &[ListenerText], local: ListenerId) -> &ListenerText {
    texts.get(usize::from(local)).unwrap_or_else(|| &texts[0])
}

/// True when `resp` has a Via value after the first (checked on the raw header lines:
/// no Via is parsed).
fn has_second_via(resp: &Message<'_>) -> bool {
    let mut vias = resp.headers_named(HeaderName::Via);
    match vias.next() {
        Some(first) => {
            vias.next().is_some()
                || (memchr::memchr(b',', first).is_some() && split_commas(first).nth(1).is_some())
        }
        None => false,
    }
}

/// Our To tag for responses we generate to `msg`: `rlt` + salt + a hash of the dialog
/// identifiers, so an ACK for one of them is recognised even without a transaction.
fn local_tag(salt: u32, msg: &Message<'_>) -> [u8; 19] {
    let h = loop_hash(msg)
        ^ (msg
            .top_via()
            .ok()
            .and_then(|v| v.branch)
            .map_or(0, |b| b.len() as u32));
    let mut t = [0u8; 19];
    t[..3].copy_from_slice(b"rlt");
    hex_into(&mut t[3..11], u64::from(salt));
    hex_into(&mut t[11..], u64::from(h));
    t
}

impl<R: Router> Endpoint for StatefulProxy<R> {
    fn on_datagram(&mut self, now: Instant, incoming: Incoming<'_>, out: &mut Outbox) {
        // Borrowed out of the result, not moved: a `Message` is some 650 bytes.
        let parsed = sip::parse(incoming.bytes);
        let msg = match &parsed {
            Ok(m) => m,
            Err(e) => {
                self.stats.malformed += 1;
                // Answer a refused request when a response can be built at all (never an
                // ACK, never a response); RFC 4475 §3.1.2.
                if let Ok(m) = sip::parse_for_reply(incoming.bytes) {
                    if m.is_request() && m.method() != Some(Method::Ack) {
                        self.reply_stateless(
                            &m,
                            &incoming,
                            &Reply::new(e.status(), e.reason()),
                            out,
                        );
                    }
                }
                return;
            }
        };
        if msg.is_request() {
            self.on_request(now, &incoming, msg, out);
        } else {
            self.on_response(now, &incoming, msg, out);
        }
    }

    fn on_timeout(&mut self, now: Instant, out: &mut Outbox) {
        let mut fired = std::mem::take(&mut self.fired);
        fired.clear();
        self.wheel.expire(now, &mut fired);
        for &(deadline, h) in &fired {
            let Some(t) = self.table.get_mut(h) else {
                continue;
            };
            if t.armed != Some(deadline) {
                continue;
            }
            t.armed = None;
            self.poll_transaction(now, h, out);
            self.settle(h);
        }
        self.fired = fired;
    }

    fn next_timeout(&self) -> Option<Instant> {
        self.wheel.next_deadline()
    }

    fn is_idle(&self) -> bool {
        self.transactions_in_flight() == 0
    }
}

/// What Route processing may take from validation.
fn uris_of<'a>(checked: &sip::CheckedRequest<'a>) -> ParsedUris<'a> {
    ParsedUris {
        request_uri: Some(checked.request_uri),
        first_route: checked.first_route_uri,
    }
}

/// The reason phrase of the 100 an INVITE transaction answers at once (RFC 3261 §16.2).
const TRYING: &str = "Trying";

/// A `100 Trying` without extra header lines, as [`StatefulProxy`] writes it for an INVITE:
/// not stored for retransmissions (an INVITE transaction in Proceeding whose stored
/// response is empty has sent only this), but written again from the request when needed.
fn is_plain_trying(code: u16, reason: &str, extra: &[&str]) -> bool {
    code == 100 && reason == TRYING && extra.is_empty()
}

/// The [`RequestInfo::txn`] value of a transaction: its handle, slot and generation.
fn txn_id(h: TxHandle) -> u64 {
    (u64::from(h.slot) << 32) | u64::from(h.generation)
}

#[allow(dead_code)]
fn _assert_send<R: Router>(p: StatefulProxy<R>) -> impl Send {
    let _ = branch::MAGIC_COOKIE;
    let _: ListenerId = 0;
    p
}
