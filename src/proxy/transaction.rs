//! One proxied transaction: the server transaction towards the caller, its response
//! context (RFC 3261 §16.7) and the client transactions of its branches.
//!
//! ```text
//!   ProxyTransaction (one table slot)
//!   ├─ request: Box<[u8]>      the only owned copy of the request (as received)
//!   ├─ fingerprint             second lane of the key hash (the table holds the first)
//!   ├─ server: INVITE or non-INVITE server transaction, last response sent (for resends)
//!   ├─ branches[fork]          one client transaction per target: state, Timer C,
//!   │                          CANCEL client transaction, final code (the first one
//!   │                          inline, the others in a vector: see `Branches`)
//!   ├─ pending                 targets of later serial groups (lower q)
//!   └─ best                    the best final response so far (§16.7 step 6)
//! ```
//!
//! Once the final response went upstream and no branch can rebuild its request any more
//! (the transaction only absorbs retransmissions until Timers J/K/L/M/I/D end), the request
//! copy and everything derived from it is released: see
//! [`ProxyTransaction::release_if_lingering`]. Matching never needs the request: the
//! server key is an index hash plus an independent fingerprint (`crate::txn::key_hash`).
//!
//! Forwarded copies are not kept: a retransmission, a CANCEL or a hop-by-hop ACK rebuilds
//! the branch's request from `request` and the branch's target (the same bytes every time,
//! because building is a pure function of them).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::endpoint::ListenerId;
use crate::txn::{
    InviteClient, InviteClientState, InviteServer, NonInviteClient, NonInviteClientState,
    NonInviteServer,
};

use super::router::Target;

#[derive(Debug)]
pub(crate) enum ServerSide {
    Invite(InviteServer),
    NonInvite(NonInviteServer),
}

impl ServerSide {
    pub(crate) fn is_terminated(&self) -> bool {
        match self {
            ServerSide::Invite(s) => s.is_terminated(),
            ServerSide::NonInvite(s) => s.is_terminated(),
        }
    }

    /// No final response sent yet.
    pub(crate) fn is_proceeding(&self) -> bool {
        match self {
            ServerSide::Invite(s) => s.is_proceeding(),
            ServerSide::NonInvite(s) => s.is_proceeding(),
        }
    }

    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        match self {
            ServerSide::Invite(s) => s.next_deadline(),
            ServerSide::NonInvite(s) => s.next_deadline(),
        }
    }

    pub(crate) fn terminate(&mut self) {
        match self {
            ServerSide::Invite(s) => s.terminate(),
            ServerSide::NonInvite(s) => s.terminate(),
        }
    }
}

#[derive(Debug)]
pub(crate) enum ClientSide {
    Invite(InviteClient),
    NonInvite(NonInviteClient),
    /// The branch never left (its next hop could not be resolved).
    NotSent,
}

impl ClientSide {
    pub(crate) fn is_terminated(&self) -> bool {
        match self {
            ClientSide::Invite(c) => c.is_terminated(),
            ClientSide::NonInvite(c) => c.is_terminated(),
            ClientSide::NotSent => true,
        }
    }

    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        match self {
            ClientSide::Invite(c) => c.next_deadline(),
            ClientSide::NonInvite(c) => c.next_deadline(),
            ClientSide::NotSent => None,
        }
    }
    /// Sent and still waiting for a final response (Calling/Trying/Proceeding).
    pub(crate) fn awaits_final(&self) -> bool {
        match self {
            ClientSide::Invite(c) => matches!(
                c.state(),
                InviteClientState::Calling | InviteClientState::Proceeding
            ),
            ClientSide::NonInvite(c) => non_invite_awaits_final(c),
            ClientSide::NotSent => false,
        }
    }
}

fn non_invite_awaits_final(c: &NonInviteClient) -> bool {
    matches!(
        c.state(),
        NonInviteClientState::Trying | NonInviteClientState::Proceeding
    )
}

/// One branch (fork) of a proxied request.
#[derive(Debug)]
pub(crate) struct Branch {
    pub client: ClientSide,
    /// The Request-URI of this branch, when it differs from the request's.
    pub uri: Option<Box<str>>,
    /// Extra header lines of this branch, CRLF-terminated.
    pub headers: Option<Box<[u8]>>,
    pub dest: SocketAddr,
    /// RFC 3261 §16.6 step 11: Timer C (INVITE branches only).
    pub timer_c: Option<Instant>,
    /// The target's no-answer limit ([`Target::no_answer`]): Timer C runs for this long from
    /// the branch's start and provisionals do not reset it.
    pub no_answer: Option<Duration>,
    /// A provisional response (101-199) arrived: the branch may be cancelled (§9.1).
    pub provisional: bool,
    /// The branch's final status as the response context sees it (a real response, or 408
    /// for a timeout, or 487 when it was cancelled before any provisional).
    pub final_code: Option<u16>,
    /// The CANCEL sent on this branch (boxed: most branches never send one).
    pub cancel: Option<Box<NonInviteClient>>,
    /// Send a CANCEL as soon as a provisional arrives (§9.1: not before).
    pub cancel_pending: bool,
}

impl Branch {
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        [
            self.client.next_deadline(),
            self.timer_c,
            self.cancel.as_ref().and_then(|c| c.next_deadline()),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    pub(crate) fn is_terminated(&self) -> bool {
        self.client.is_terminated() && self.cancel.as_ref().map_or(true, |c| c.is_terminated())
    }
    /// The branch may still rebuild its request from the transaction's stored copy: to
    /// retransmit it, to send its CANCEL (now or once a provisional arrives), to retransmit
    /// that CANCEL, or to resend the ACK of a non-2xx final (§17.1.1.3, INVITE Completed).
    pub(crate) fn needs_request(&self) -> bool {
        self.is_in_flight()
            || self.cancel_pending
            || matches!(&self.client, ClientSide::Invite(c) if c.state() == InviteClientState::Completed)
    }

    /// The branch's request (or its CANCEL) still waits for a final response.
    pub(crate) fn is_in_flight(&self) -> bool {
        self.client.awaits_final() || self.cancel.as_deref().is_some_and(non_invite_awaits_final)
    }
}

/// The branches of one transaction in fork order, the first one held inline: most
/// requests go to a single target, and their transaction then owns no branch allocation.
///
/// Invariant: `more` is empty while `first` is `None` (branches are only ever appended).
#[derive(Debug, Default)]
pub(crate) struct Branches {
    first: Option<Branch>,
    more: Vec<Branch>,
}

impl Branches {
    pub(crate) fn len(&self) -> usize {
        usize::from(self.first.is_some()) + self.more.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.first.is_none()
    }

    pub(crate) fn get(&self, fork: usize) -> Option<&Branch> {
        match fork {
            0 => self.first.as_ref(),
            _ => self.more.get(fork - 1),
        }
    }

    pub(crate) fn get_mut(&mut self, fork: usize) -> Option<&mut Branch> {
        match fork {
            0 => self.first.as_mut(),
            _ => self.more.get_mut(fork - 1),
        }
    }

    /// Append a branch (its fork index is the old `len()`).
    pub(crate) fn push(&mut self, b: Branch) {
        if self.first.is_none() {
            self.first = Some(b);
        } else {
            self.more.push(b);
        }
    }

    /// Room for `n` more branches (none allocated for the one that fits inline).
    pub(crate) fn reserve_exact(&mut self, n: usize) {
        let extra = n.saturating_sub(usize::from(self.first.is_none()));
        if extra > 0 {
            self.more.reserve_exact(extra);
        }
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &Branch> {
        self.first.iter().chain(self.more.iter())
    }

    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = &mut Branch> {
        self.first.iter_mut().chain(self.more.iter_mut())
    }

    /// Heap bytes (the inline branch is part of the transaction's own size).
    pub(crate) fn heap_bytes(&self) -> usize {
        self.more.capacity() * std::mem::size_of::<Branch>()
    }
}

impl std::ops::Index<usize> for Branches {
    type Output = Branch;
    fn index(&self, fork: usize) -> &Branch {
        match self.get(fork) {
            Some(b) => b,
            None => panic!("no branch {fork} of {}", self.len()),
        }
    }
}

impl std::ops::IndexMut<usize> for Branches {
    fn index_mut(&mut self, fork: usize) -> &mut Branch {
        let n = self.len();
        match self.get_mut(fork) {
            Some(b) => b,
            None => panic!("no branch {fork} of {n}"),
        }
    }
}

/// The best final response so far.
#[derive(Debug)]
pub(crate) enum Best {
    /// Received from a branch: the bytes as they will go upstream (our Via removed).
    Received { code: u16, bytes: Vec<u8> },
    /// Made up by the proxy (timeout, unresolvable next hop).
    Local { code: u16, reason: &'static str },
}

impl Best {
    pub(crate) fn code(&self) -> u16 {
        match self {
            Best::Received { code, .. } | Best::Local { code, .. } => *code,
        }
    }
}

/// One proxied transaction: see the module docs.
#[derive(Debug)]
pub(crate) struct ProxyTransaction {
    /// The request as received; empty once released ([`Self::release_if_lingering`]).
    pub request: Box<[u8]>,
    /// The fingerprint lane of the transaction key (`crate::txn::key_hash`): with the
    /// table's index lane it identifies the server transaction without the key's text.
    pub fingerprint: u64,
    pub is_invite: bool,
    pub src: SocketAddr,
    pub local: ListenerId,
    /// The port responses go to (RFC 3261 §18.2.2, RFC 3581); the address is always the
    /// source's IP (see `compose::response_destination`), so only the port is kept.
    pub reply_port: u16,
    pub loop_hash: u32,
    pub record_route: bool,
    pub server: ServerSide,
    pub last_response: Vec<u8>,
    pub branches: Branches,
    /// Targets not tried yet, in decreasing q (later serial groups).
    pub pending: Vec<Target>,
    pub best: Option<Best>,
    /// WWW-/Proxy-Authenticate lines of every 401/407 received (§16.7 step 7).
    pub challenges: Vec<u8>,
    /// A CANCEL for this transaction arrived (§16.10).
    pub cancelled: bool,
    /// A final response (or the 2xx) went upstream.
    pub answered: bool,
    pub failure_attempts: u32,
    /// The deadline last put in the timer wheel for this transaction.
    pub armed: Option<Instant>,
}

impl ProxyTransaction {
    /// Where responses go (RFC 3261 §18.2.2, RFC 3581).
    pub(crate) fn reply_to(&self) -> SocketAddr {
        if self.reply_port == self.src.port() {
            // The source itself (an IPv6 scope id included).
            self.src
        } else {
            SocketAddr::new(self.src.ip(), self.reply_port)
        }
    }

    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.branches
            .iter()
            .filter_map(Branch::next_deadline)
            .chain(self.server.next_deadline())
            .min()
    }

    /// Nothing left to do: every state machine has ended.
    pub(crate) fn is_finished(&self) -> bool {
        self.server.is_terminated() && self.branches.iter().all(Branch::is_terminated)
    }

    /// Still working: no final response sent upstream yet, or a branch waits for one.
    /// A completed transaction kept only for retransmissions and ACKs (Timers D, G/H, J,
    /// K) is not in flight.
    pub(crate) fn is_in_flight(&self) -> bool {
        self.server.is_proceeding() || self.branches.iter().any(Branch::is_in_flight)
    }

    /// Give back what a lingering transaction no longer needs. Once the final response went
    /// upstream and no branch can rebuild its request any more, the transaction only
    /// absorbs retransmissions until its timers end (Timers J/K, L/M of RFC 6026, I, D):
    /// it keeps its key fingerprint, where responses go, the last response (to resend on a
    /// retransmitted request) and the state machines; the request copy, branch targets,
    /// collected challenges and the best response go. Returns true when it released.
    pub(crate) fn release_if_lingering(&mut self) -> bool {
        if self.request.is_empty()
            || self.server.is_proceeding()
            || self.branches.iter().any(Branch::needs_request)
        {
            return false;
        }
        self.request = Box::default();
        for b in self.branches.iter_mut() {
            b.uri = None;
            b.headers = None;
        }
        self.pending = Vec::new();
        self.best = None;
        self.challenges = Vec::new();
        true
    }

    /// Heap and inline bytes this transaction holds (for the memory-per-transaction figure).
    pub(crate) fn footprint(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.request.len()
            + self.last_response.capacity()
            + self.branches.heap_bytes()
            + self
                .branches
                .iter()
                .map(|b| {
                    b.uri.as_ref().map_or(0, |u| u.len())
                        + b.headers.as_ref().map_or(0, |h| h.len())
                })
                .sum::<usize>()
            + self.pending.capacity() * std::mem::size_of::<Target>()
            + match &self.best {
                Some(Best::Received { bytes, .. }) => bytes.capacity(),
                _ => 0,
            }
            + self.challenges.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn branch(code: u16) -> Branch {
        Branch {
            client: ClientSide::NotSent,
            uri: None,
            headers: None,
            dest: SocketAddr::from(([127, 0, 0, 1], 5060)),
            timer_c: None,
            no_answer: None,
            provisional: false,
            final_code: Some(code),
            cancel: None,
            cancel_pending: false,
        }
    }

    #[test]
    fn branches_keep_fork_order_and_the_first_allocates_nothing() {
        let mut b = Branches::default();
        assert!(b.is_empty());
        assert!(b.get(0).is_none());
        b.reserve_exact(1);
        b.push(branch(400));
        assert_eq!((b.len(), b.heap_bytes()), (1, 0), "one branch: inline");
        b.reserve_exact(2);
        assert_eq!(b.heap_bytes(), 2 * std::mem::size_of::<Branch>());
        b.push(branch(401));
        b.push(branch(402));
        assert_eq!(b.len(), 3);
        let codes: Vec<_> = b.iter().filter_map(|x| x.final_code).collect();
        assert_eq!(codes, [400, 401, 402]);
        b[2].final_code = Some(500);
        for x in b.iter_mut() {
            x.provisional = true;
        }
        assert_eq!(b.get(2).and_then(|x| x.final_code), Some(500));
        assert!(b.get(3).is_none());
        assert!(b.iter().all(|x| x.provisional));
        assert_eq!(b[1].final_code, Some(401));
    }
}
