//! The answering side of `ringlet load`, as a sans-I/O [`Endpoint`].
//!
//! Every INVITE gets 100 Trying and 180 Ringing at once; then, decided per call by exact
//! shares (not by chance, so counts are reproducible):
//!
//! ```text
//!   answer  : after the ring time 200 OK (SDP) ──retransmit T1..T2 until ACK──► Confirmed ──BYE──► 200, free
//!   busy    : 486 Busy Here ──retransmit (Timer G) until ACK──► free
//!   no answer: nothing more; CANCEL ──► 200 (CANCEL) + 487 ──until ACK──► free
//! ```
//!
//! A final response nobody ACKs is given up after 64·T1 (RFC 3261 §13.3.1.4 for 2xx,
//! Timer H §17.2.1 for the rest) and counted as an ACK timeout.
//!
//! Calls are found by the To tag we gave them (`msg::CallRef`: direct slot index) for
//! ACK and BYE, and by Call-ID (a hash map) for INVITE retransmissions and CANCEL, which
//! carry no To tag of ours. OPTIONS is answered 200, other methods 405, statelessly.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::msg::{self, CallRef, ResponseParts};
use super::scan::{self, SipView, StartLine};
use super::stats::{LoadStats, StatsSink, FLUSH_EVERY};
use super::timers::{arm, TimerHeap};
use super::uac::SipTimers;
use crate::endpoint::{Endpoint, Incoming, ListenerId, Outbox};

#[derive(Debug, Clone)]
pub struct UasConfig {
    pub worker: u16,
    pub run: u32,
    /// Our address, advertised in Contact (in-dialog requests come back through the proxy).
    pub contact: SocketAddr,
    /// Time between 180 Ringing and 200 OK.
    pub ring: Duration,
    /// Share of calls answered 486 Busy Here (0..=1).
    pub busy_share: f64,
    /// Share of calls never answered (0..=1); busy + no-answer ≤ 1.
    pub no_answer_share: f64,
    pub timers: SipTimers,
    /// INVITEs seen by all UAS workers of the run: numbers calls for the exact shares.
    pub call_index: Arc<AtomicU64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Free,
    Ringing,
    /// 200 sent, waiting for the ACK.
    Answered,
    /// 486 or 487 sent, waiting for the ACK.
    Rejected,
    Confirmed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum UasTimer {
    Answer,
    Retransmit,
    GiveUp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Answer,
    Busy,
    NoAnswer,
}

#[derive(Debug)]
struct UasCall {
    gen: u32,
    phase: Phase,
    call_id: Vec<u8>,
    invite_cseq: u32,
    /// Via..CSeq of responses to the INVITE, with our To tag (Record-Route kept apart:
    /// only 18x/2xx carry it).
    common: Vec<u8>,
    common_rr: Vec<u8>,
    /// The last response sent to the INVITE, re-sent when the INVITE is retransmitted.
    last: Vec<u8>,
    local: ListenerId,
    peer: SocketAddr,
    interval: Duration,
    answer_at: Option<Instant>,
    retx_at: Option<Instant>,
    give_up_at: Option<Instant>,
}

impl UasCall {
    fn new(peer: SocketAddr) -> Self {
        UasCall {
            gen: 0,
            phase: Phase::Free,
            call_id: Vec::new(),
            invite_cseq: 0,
            common: Vec::new(),
            common_rr: Vec::new(),
            last: Vec::new(),
            local: 0,
            peer,
            interval: Duration::ZERO,
            answer_at: None,
            retx_at: None,
            give_up_at: None,
        }
    }
}

/// Exact shares without randomness, over every UAS worker of the run: INVITE number n
/// (from a counter shared by the workers) is refused when ⌊(n+1)·r⌋ > ⌊n·r⌋ with
/// r = busy + no-answer, and the k-th refused call is busy when ⌊(k+1)·q⌋ > ⌊k·q⌋ with
/// q = busy / r. Over n calls each count is within one of n·share, so runs are
/// reproducible and comparable with sipp's counts whatever worker an INVITE lands on.
fn outcome_of(n: u64, busy: f64, no_answer: f64) -> Outcome {
    const EPSILON: f64 = 1e-9;
    let steps = |i: u64, share: f64| (i as f64 * share + EPSILON).floor();
    let refuse = busy + no_answer;
    if refuse <= 0.0 || steps(n + 1, refuse) <= steps(n, refuse) {
        return Outcome::Answer;
    }
    let k = steps(n, refuse) as u64;
    let q = busy / refuse;
    if steps(k + 1, q) > steps(k, q) {
        Outcome::Busy
    } else {
        Outcome::NoAnswer
    }
}

pub struct UasEndpoint {
    cfg: UasConfig,
    sdp: Vec<u8>,
    calls: Vec<UasCall>,
    free: Vec<u32>,
    /// Call-ID hash -> slot, for INVITE retransmissions and CANCEL (no To tag of ours).
    by_call_id: HashMap<u64, u32>,
    timers: TimerHeap<UasTimer>,
    stats: LoadStats,
    sink: Arc<StatsSink>,
    next_flush: Option<Instant>,
}

/// Append a response to the request `view` built from the request itself (no state):
/// 100 Trying, answers to BYE/CANCEL/OPTIONS, errors. Written straight into `buf` (the
/// outbox arena): no allocation.
fn write_stateless(buf: &mut Vec<u8>, view: &SipView<'_>, code: u16, to_tag: Option<CallRef>) {
    let parts = ResponseParts {
        vias: view.vias.as_slice(),
        record_routes: &[],
        from: view.from,
        to: view.to,
        to_tag,
        call_id: view.call_id,
        cseq_num: view.cseq_num,
        cseq_method: view.cseq_method,
    };
    msg::write_status_line(buf, code);
    msg::write_response_common(buf, &parts, false);
    msg::write_response_tail(buf, None, None);
}

/// The key of the Call-ID index: a hash, checked against the slot's stored Call-ID on
/// lookup (so the index needs no owned copy of every Call-ID).
fn call_id_key(call_id: &[u8]) -> u64 {
    use std::hash::Hasher as _;
    let mut h = std::collections::hash_map::DefaultHasher::new();
    h.write(call_id);
    h.finish()
}

impl UasEndpoint {
    pub fn new(cfg: UasConfig, sink: Arc<StatsSink>) -> Self {
        UasEndpoint {
            sdp: msg::sdp(&cfg.contact, 7000),
            calls: Vec::new(),
            free: Vec::new(),
            by_call_id: HashMap::new(),
            timers: TimerHeap::default(),
            stats: LoadStats::default(),
            sink,
            next_flush: None,
            cfg,
        }
    }

    fn slot_by_call_id(&self, call_id: &[u8]) -> Option<u32> {
        let slot = *self.by_call_id.get(&call_id_key(call_id))?;
        let c = self.calls.get(slot as usize)?;
        (c.phase != Phase::Free && c.call_id == call_id).then_some(slot)
    }

    /// Calls with state (ringing, answered and not yet ended).
    pub fn active(&self) -> usize {
        self.by_call_id.len()
    }

    pub fn local_stats(&self) -> &LoadStats {
        &self.stats
    }

    fn reply(
        &mut self,
        incoming: &Incoming<'_>,
        view: &SipView<'_>,
        code: u16,
        to_tag: Option<CallRef>,
        out: &mut Outbox,
    ) {
        out.send_with(incoming.local, incoming.src, |buf| {
            write_stateless(buf, view, code, to_tag)
        });
    }

    /// A scanned request (the combined endpoint scans once for both roles).
    pub fn handle(
        &mut self,
        now: Instant,
        incoming: &Incoming<'_>,
        view: &SipView<'_>,
        out: &mut Outbox,
    ) {
        match view.start {
            StartLine::Request { method, .. } => match method {
                b"INVITE" => self.on_invite(now, incoming, view, out),
                b"ACK" => self.on_ack(incoming, view, out),
                b"BYE" => self.on_bye(incoming, view, out),
                b"CANCEL" => self.on_cancel(now, incoming, view, out),
                b"OPTIONS" => {
                    self.stats.uas.options += 1;
                    self.reply(incoming, view, 200, None, out);
                }
                _ => {
                    self.stats.uas.other_requests += 1;
                    self.reply(incoming, view, 405, None, out);
                }
            },
            // Responses belong to the UAC role.
            StartLine::Response { .. } => self.stats.stray += 1,
        }
        self.after_event(now);
    }

    pub fn count_malformed(&mut self) {
        self.stats.malformed += 1;
    }

    /// The call named by the To tag of an in-dialog request, or a hand-over to its worker.
    fn dialog_slot(
        &mut self,
        incoming: &Incoming<'_>,
        view: &SipView<'_>,
        out: &mut Outbox,
    ) -> Result<u32, bool> {
        let Some(cref) = scan::tag(view.to).and_then(CallRef::parse_tag) else {
            return Err(false);
        };
        if cref.run != self.cfg.run {
            return Err(false);
        }
        if cref.worker != self.cfg.worker {
            if !incoming.handed_off {
                out.handoff(
                    usize::from(cref.worker),
                    incoming.local,
                    incoming.src,
                    incoming.bytes,
                );
                return Err(true);
            }
            return Err(false);
        }
        match self.calls.get(cref.slot as usize) {
            Some(c) if c.gen == cref.gen && c.phase != Phase::Free => Ok(cref.slot),
            _ => Err(false),
        }
    }

    fn on_invite(
        &mut self,
        now: Instant,
        incoming: &Incoming<'_>,
        view: &SipView<'_>,
        out: &mut Outbox,
    ) {
        if scan::tag(view.to).is_some() {
            // A re-INVITE: not part of any scenario; refuse it without touching the dialog.
            self.stats.uas.other_requests += 1;
            self.reply(incoming, view, 405, None, out);
            return;
        }
        if let Some(slot) = self.slot_by_call_id(view.call_id) {
            let c = &self.calls[slot as usize];
            if view.cseq_num == c.invite_cseq {
                // RFC 3261 §17.2.1: a retransmitted INVITE gets the last response again.
                self.stats.retransmissions_received += 1;
                if c.last.is_empty() {
                    self.reply(incoming, view, 100, None, out);
                } else {
                    out.send(c.local, c.peer, &c.last);
                }
                return;
            }
            if view.cseq_num < c.invite_cseq {
                self.stats.stray += 1;
                return;
            }
            // A new INVITE with a higher CSeq and no tag (e.g. after an auth challenge
            // that reached us): the old attempt is over.
            self.free_slot(slot);
        }
        self.stats.uas.invites += 1;
        let slot = match self.free.pop() {
            Some(s) => s,
            None => {
                self.calls.push(UasCall::new(incoming.src));
                (self.calls.len() - 1) as u32
            }
        };
        let cref = {
            let c = &mut self.calls[slot as usize];
            c.gen = c.gen.wrapping_add(1);
            CallRef {
                run: self.cfg.run,
                worker: self.cfg.worker,
                slot,
                gen: c.gen,
            }
        };
        let parts = ResponseParts {
            vias: view.vias.as_slice(),
            record_routes: view.record_routes.as_slice(),
            from: view.from,
            to: view.to,
            to_tag: Some(cref),
            call_id: view.call_id,
            cseq_num: view.cseq_num,
            cseq_method: view.cseq_method,
        };
        let n = self.cfg.call_index.fetch_add(1, Ordering::Relaxed);
        let outcome = outcome_of(n, self.cfg.busy_share, self.cfg.no_answer_share);
        let c = &mut self.calls[slot as usize];
        c.phase = Phase::Ringing;
        c.call_id.clear();
        c.call_id.extend_from_slice(view.call_id);
        c.invite_cseq = view.cseq_num;
        c.local = incoming.local;
        c.peer = incoming.src;
        c.common.clear();
        msg::write_response_common(&mut c.common, &parts, false);
        c.common_rr.clear();
        msg::write_response_common(&mut c.common_rr, &parts, true);
        c.answer_at = None;
        c.retx_at = None;
        c.give_up_at = None;
        self.by_call_id.insert(call_id_key(view.call_id), slot);
        // 100 Trying stops the proxy's (or UAC's) INVITE retransmissions at once (§8.2.6.1).
        self.reply(incoming, view, 100, None, out);
        let c = &mut self.calls[slot as usize];
        c.last.clear();
        match outcome {
            Outcome::Busy => {
                self.stats.uas.busy += 1;
                msg::write_response(&mut c.last, 486, &c.common, None, None);
                out.send(c.local, c.peer, &c.last);
                self.await_ack(slot, Phase::Rejected, now);
            }
            Outcome::NoAnswer | Outcome::Answer => {
                msg::write_response(
                    &mut c.last,
                    180,
                    &c.common_rr,
                    Some(&self.cfg.contact),
                    None,
                );
                out.send(c.local, c.peer, &c.last);
                if outcome == Outcome::NoAnswer {
                    self.stats.uas.unanswered += 1;
                } else if self.cfg.ring.is_zero() {
                    self.answer(slot, now, out);
                } else {
                    let gen = c.gen;
                    arm(
                        &mut self.timers,
                        &mut c.answer_at,
                        now + self.cfg.ring,
                        slot,
                        gen,
                        UasTimer::Answer,
                    );
                }
            }
        }
    }

    fn answer(&mut self, slot: u32, now: Instant, out: &mut Outbox) {
        let c = &mut self.calls[slot as usize];
        c.answer_at = None;
        c.last.clear();
        msg::write_response(
            &mut c.last,
            200,
            &c.common_rr,
            Some(&self.cfg.contact),
            Some(&self.sdp),
        );
        out.send(c.local, c.peer, &c.last);
        self.stats.uas.answered += 1;
        self.await_ack(slot, Phase::Answered, now);
    }

    /// A final response was sent: retransmit it until the ACK (RFC 3261 §13.3.1.4 for 2xx,
    /// Timer G/H §17.2.1 otherwise: T1 doubling up to T2, give up after 64·T1).
    fn await_ack(&mut self, slot: u32, phase: Phase, now: Instant) {
        let c = &mut self.calls[slot as usize];
        c.phase = phase;
        c.interval = self.cfg.timers.t1;
        let gen = c.gen;
        arm(
            &mut self.timers,
            &mut c.retx_at,
            now + self.cfg.timers.t1,
            slot,
            gen,
            UasTimer::Retransmit,
        );
        let give_up = now + self.cfg.timers.transaction_timeout();
        arm(
            &mut self.timers,
            &mut c.give_up_at,
            give_up,
            slot,
            gen,
            UasTimer::GiveUp,
        );
    }

    fn free_slot(&mut self, slot: u32) {
        let c = &mut self.calls[slot as usize];
        if c.phase == Phase::Free {
            return;
        }
        c.phase = Phase::Free;
        c.answer_at = None;
        c.retx_at = None;
        c.give_up_at = None;
        let key = call_id_key(&c.call_id);
        if self.by_call_id.get(&key) == Some(&slot) {
            self.by_call_id.remove(&key);
        }
        self.free.push(slot);
    }

    fn on_ack(&mut self, incoming: &Incoming<'_>, view: &SipView<'_>, out: &mut Outbox) {
        let slot = match self.dialog_slot(incoming, view, out) {
            Ok(s) => s,
            Err(true) => return, // handed over to its worker
            Err(false) => {
                // An ACK never gets an answer. One for a call we already ended is still an
                // ACK we received: a proxy with several workers may relay the BYE that
                // follows a 2xx's ACK before the ACK itself.
                if scan::tag(view.to)
                    .and_then(CallRef::parse_tag)
                    .is_some_and(|r| r.run == self.cfg.run)
                {
                    self.stats.uas.acks += 1;
                } else {
                    self.stats.stray += 1;
                }
                return;
            }
        };
        let c = &mut self.calls[slot as usize];
        match c.phase {
            Phase::Answered => {
                self.stats.uas.acks += 1;
                c.phase = Phase::Confirmed;
                c.retx_at = None;
                c.give_up_at = None;
            }
            Phase::Rejected => {
                self.stats.uas.acks += 1;
                self.free_slot(slot);
            }
            // The UAC re-ACKs a 2xx we retransmitted before its first ACK arrived.
            Phase::Confirmed => self.stats.retransmissions_received += 1,
            Phase::Ringing | Phase::Free => self.stats.stray += 1,
        }
    }

    fn on_bye(&mut self, incoming: &Incoming<'_>, view: &SipView<'_>, out: &mut Outbox) {
        match self.dialog_slot(incoming, view, out) {
            Ok(slot) => {
                self.stats.uas.byes += 1;
                self.free_slot(slot);
                self.reply(incoming, view, 200, None, out);
            }
            Err(true) => {}
            Err(false) => {
                let ours = scan::tag(view.to)
                    .and_then(CallRef::parse_tag)
                    .is_some_and(|r| r.run == self.cfg.run);
                if ours {
                    // A retransmitted BYE for a call we already ended (our 200 was lost).
                    self.stats.retransmissions_received += 1;
                    self.reply(incoming, view, 200, None, out);
                } else {
                    self.reply(incoming, view, 481, None, out);
                }
            }
        }
    }

    fn on_cancel(
        &mut self,
        now: Instant,
        incoming: &Incoming<'_>,
        view: &SipView<'_>,
        out: &mut Outbox,
    ) {
        let Some(slot) = self.slot_by_call_id(view.call_id) else {
            self.reply(incoming, view, 481, None, out);
            return;
        };
        let (gen, phase) = (
            self.calls[slot as usize].gen,
            self.calls[slot as usize].phase,
        );
        let cref = CallRef {
            run: self.cfg.run,
            worker: self.cfg.worker,
            slot,
            gen,
        };
        // RFC 3261 §9.2: 200 to the CANCEL (with the INVITE's To tag), then 487 to the INVITE
        // if it is still pending.
        self.reply(incoming, view, 200, Some(cref), out);
        if phase != Phase::Ringing {
            self.stats.retransmissions_received += u64::from(phase == Phase::Rejected);
            return;
        }
        self.stats.uas.cancelled += 1;
        let c = &mut self.calls[slot as usize];
        c.answer_at = None;
        c.last.clear();
        msg::write_response(&mut c.last, 487, &c.common, None, None);
        out.send(c.local, c.peer, &c.last);
        self.await_ack(slot, Phase::Rejected, now);
    }

    fn on_timer(
        &mut self,
        now: Instant,
        slot: u32,
        gen: u32,
        kind: UasTimer,
        when: Instant,
        out: &mut Outbox,
    ) {
        let Some(c) = self.calls.get_mut(slot as usize) else {
            return;
        };
        if c.gen != gen || c.phase == Phase::Free {
            return;
        }
        let field = match kind {
            UasTimer::Answer => c.answer_at,
            UasTimer::Retransmit => c.retx_at,
            UasTimer::GiveUp => c.give_up_at,
        };
        if field != Some(when) {
            return;
        }
        match kind {
            UasTimer::Answer => {
                if c.phase == Phase::Ringing {
                    self.answer(slot, now, out);
                }
            }
            UasTimer::Retransmit => {
                out.send(c.local, c.peer, &c.last);
                self.stats.retransmissions_sent += 1;
                c.interval = (c.interval * 2).min(self.cfg.timers.t2);
                let next = now + c.interval;
                arm(
                    &mut self.timers,
                    &mut c.retx_at,
                    next,
                    slot,
                    gen,
                    UasTimer::Retransmit,
                );
            }
            UasTimer::GiveUp => {
                self.stats.uas.ack_timeouts += 1;
                self.free_slot(slot);
            }
        }
    }

    fn after_event(&mut self, now: Instant) {
        match self.next_flush {
            None => self.next_flush = Some(now + FLUSH_EVERY),
            Some(t) if now >= t => {
                self.sink.flush(&mut self.stats);
                self.next_flush = Some(now + FLUSH_EVERY);
            }
            Some(_) => {}
        }
    }

    /// Hand everything counted so far to the sink (at the end of a run).
    pub fn flush(&mut self) {
        self.sink.flush(&mut self.stats);
    }
}

impl Endpoint for UasEndpoint {
    fn on_datagram(&mut self, now: Instant, incoming: Incoming<'_>, out: &mut Outbox) {
        match scan::scan(incoming.bytes) {
            Ok(view) => self.handle(now, &incoming, &view, out),
            Err(_) => {
                // Malformed requests get no answer: there may be no Via to answer to.
                self.stats.malformed += 1;
                self.after_event(now);
            }
        }
    }

    fn on_timeout(&mut self, now: Instant, out: &mut Outbox) {
        for _ in 0..65_536 {
            let Some(e) = self.timers.pop_due(now) else {
                break;
            };
            self.on_timer(now, e.slot, e.gen, e.kind, e.when, out);
        }
        self.after_event(now);
    }

    fn next_timeout(&self) -> Option<Instant> {
        let t = self.timers.peek();
        match (t, self.next_flush) {
            (Some(a), Some(b)) if !self.stats.is_empty() => Some(a.min(b)),
            (None, Some(b)) if !self.stats.is_empty() => Some(b),
            _ => t,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_are_exact() {
        let count = |n: u64, b: f64, na: f64, o: Outcome| {
            (0..n).filter(|i| outcome_of(*i, b, na) == o).count()
        };
        assert_eq!(count(10, 0.2, 0.1, Outcome::Busy), 2);
        assert_eq!(count(10, 0.2, 0.1, Outcome::NoAnswer), 1);
        assert_eq!(count(40, 0.25, 0.25, Outcome::Busy), 10);
        assert_eq!(count(40, 0.25, 0.25, Outcome::NoAnswer), 10);
        assert_eq!(count(1000, 0.1, 0.0, Outcome::Busy), 100);
        assert_eq!(count(1000, 0.0, 1.0, Outcome::NoAnswer), 1000);
        assert_eq!(count(5, 0.0, 0.0, Outcome::Answer), 5);
    }
}
