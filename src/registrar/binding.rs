//! One registered contact of an address-of-record, the virtual clock bindings expire on,
//! and the caller-owned list that lookups and REGISTER replies copy bindings into.
//!
//! A [`Binding`] keeps all of its variable-length fields in ONE heap allocation, so a
//! binding costs one allocation plus its fixed part:
//!
//! ```text
//!   data: [ contact URI | Call-ID | Path (route set) | User-Agent ]
//!          └ contact_len ┘└ call_id_len┘└ path_len ┘ └ the rest  ┘
//! ```
//!
//! Times are milliseconds on the table's virtual clock ([`TimeBase`]): the caller hands in
//! `now: Instant`, the table never reads a clock. The persistence layer converts to wall
//! time with the wall-clock reading that the runtime took when it built the `TimeBase`.

use std::net::SocketAddr;
use std::ops::Range;
use std::time::Instant;

use crate::endpoint::ListenerId;

/// Maps the caller's `Instant`s onto the table's millisecond clock and that clock onto
/// Unix time (for the database). Built once at start from one reading of each clock.
#[derive(Debug, Clone, Copy)]
pub struct TimeBase {
    /// The `Instant` that is millisecond 0 of the table clock.
    pub epoch: Instant,
    /// Unix time, milliseconds, at `epoch` (read by the runtime, never by the table).
    pub epoch_unix_ms: u64,
}

impl TimeBase {
    pub fn new(epoch: Instant, epoch_unix_ms: u64) -> Self {
        TimeBase {
            epoch,
            epoch_unix_ms,
        }
    }

    /// Milliseconds since the epoch (0 for instants before it).
    pub fn ms(&self, now: Instant) -> u64 {
        u64::try_from(now.saturating_duration_since(self.epoch).as_millis()).unwrap_or(u64::MAX)
    }

    /// Table time → Unix milliseconds.
    pub fn to_unix_ms(&self, table_ms: u64) -> u64 {
        self.epoch_unix_ms.saturating_add(table_ms)
    }

    /// Unix milliseconds → table time (0 for times before the epoch).
    pub fn from_unix_ms(&self, unix_ms: u64) -> u64 {
        unix_ms.saturating_sub(self.epoch_unix_ms)
    }
}

/// Per-binding flags. The registrar sets none by itself except what the REGISTER's caller
/// tells it (e.g. the NAT layer's verdict); the meaning of the upper bits belongs to them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct BindingFlags(pub u32);

impl BindingFlags {
    /// The UA is behind NAT: send to `received`, not to the Contact host (nathelper's
    /// `fix_nated_register` idea).
    pub const NAT: u32 = 1 << 0;
    /// The REGISTER carried `Supported: path` (RFC 3327 §5.3): the 200 echoes Path.
    pub const PATH_SUPPORTED: u32 = 1 << 1;

    pub fn has(self, bit: u32) -> bool {
        self.0 & bit != 0
    }
}

/// Quality value in thousandths (RFC 3261 §20.10: `q` is 0 to 1 with up to 3 decimals).
pub type QValue = u16;

/// The q a contact without a `q` parameter gets. RFC 3261 leaves it open; OpenSIPS and
/// Kamailio rank such contacts as q=1.0 in lookup order, which this follows.
pub const DEFAULT_Q: QValue = 1000;

/// One contact bound to an AoR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    data: Box<[u8]>,
    contact_len: u16,
    call_id_len: u16,
    path_len: u16,
    /// q in thousandths.
    pub q: QValue,
    /// CSeq number of the REGISTER that last set this binding (RFC 3261 §10.3 step 7).
    pub cseq: u32,
    /// Listener the REGISTER arrived on (replies to a NATed UA leave from it).
    pub local: ListenerId,
    pub flags: BindingFlags,
    /// Expiry, table milliseconds.
    pub expires_at_ms: u64,
    /// When the binding was last written, table milliseconds (tie-break: newest first).
    pub updated_ms: u64,
    /// Source address the REGISTER came from (for NAT traversal).
    pub received: Option<SocketAddr>,
}

/// The fields of a binding, borrowed; what [`Binding::new`] copies in.
#[derive(Debug, Clone, Copy)]
pub struct BindingFields<'a> {
    pub contact: &'a [u8],
    pub call_id: &'a [u8],
    /// Path header values of the REGISTER, in order (RFC 3327 §5.3: the route set a
    /// request to this contact takes); stored joined with `, ` as one Route header value.
    pub path: &'a [&'a [u8]],
    pub user_agent: &'a [u8],
    pub q: QValue,
    pub cseq: u32,
    pub local: ListenerId,
    pub flags: BindingFlags,
    pub expires_at_ms: u64,
    pub updated_ms: u64,
    pub received: Option<SocketAddr>,
}

/// Longest field a binding stores; longer ones cannot come from one UDP datagram anyway.
pub const MAX_FIELD_LEN: usize = u16::MAX as usize;

impl Binding {
    /// Copies `f` into a new binding. Fields longer than [`MAX_FIELD_LEN`] are cut (the
    /// REGISTER parser never yields such, a datagram being smaller).
    pub fn new(f: &BindingFields<'_>) -> Binding {
        let cut = |s: &[u8]| s.len().min(MAX_FIELD_LEN);
        let (c, i, u) = (cut(f.contact), cut(f.call_id), cut(f.user_agent));
        let joined: usize = f
            .path
            .iter()
            .map(|p| p.len() + 2)
            .sum::<usize>()
            .saturating_sub(2);
        let p = joined.min(MAX_FIELD_LEN);
        let mut data = Vec::with_capacity(c + i + joined + u);
        data.extend_from_slice(&f.contact[..c]);
        data.extend_from_slice(&f.call_id[..i]);
        for (n, part) in f.path.iter().enumerate() {
            if n > 0 {
                data.extend_from_slice(b", ");
            }
            data.extend_from_slice(part);
        }
        data.truncate(c + i + p);
        data.extend_from_slice(&f.user_agent[..u]);
        Binding {
            data: data.into_boxed_slice(),
            // The casts cannot truncate: each length was cut to u16::MAX above.
            contact_len: c as u16,
            call_id_len: i as u16,
            path_len: p as u16,
            q: f.q,
            cseq: f.cseq,
            local: f.local,
            flags: f.flags,
            expires_at_ms: f.expires_at_ms,
            updated_ms: f.updated_ms,
            received: f.received,
        }
    }

    /// Makes this binding hold `f`, as [`Binding::new`] would. A refresh by the same UA
    /// (same contact, Call-ID, Path and User-Agent) writes into the existing heap block:
    /// no allocation; otherwise the block is replaced.
    pub fn overwrite(&mut self, f: &BindingFields<'_>) {
        let cut = |s: &[u8]| s.len().min(MAX_FIELD_LEN);
        let (c, i, u) = (cut(f.contact), cut(f.call_id), cut(f.user_agent));
        let joined: usize = f
            .path
            .iter()
            .map(|p| p.len() + 2)
            .sum::<usize>()
            .saturating_sub(2);
        let p = joined.min(MAX_FIELD_LEN);
        if c + i + p + u != self.data.len() || p != joined {
            *self = Binding::new(f);
            return;
        }
        // Same total length and no Path cut: write the fields in place, in order.
        let data = &mut self.data[..];
        data[..c].copy_from_slice(&f.contact[..c]);
        data[c..c + i].copy_from_slice(&f.call_id[..i]);
        let mut at = c + i;
        for (n, part) in f.path.iter().enumerate() {
            if n > 0 {
                data[at..at + 2].copy_from_slice(b", ");
                at += 2;
            }
            data[at..at + part.len()].copy_from_slice(part);
            at += part.len();
        }
        data[at..at + u].copy_from_slice(&f.user_agent[..u]);
        // The casts cannot truncate: each length was cut to u16::MAX above.
        self.contact_len = c as u16;
        self.call_id_len = i as u16;
        self.path_len = p as u16;
        self.q = f.q;
        self.cseq = f.cseq;
        self.local = f.local;
        self.flags = f.flags;
        self.expires_at_ms = f.expires_at_ms;
        self.updated_ms = f.updated_ms;
        self.received = f.received;
    }

    fn ranges(&self) -> [Range<usize>; 4] {
        let c = self.contact_len as usize;
        let i = c + self.call_id_len as usize;
        let p = i + self.path_len as usize;
        [0..c, c..i, i..p, p..self.data.len()]
    }

    /// The contact URI, as the REGISTER gave it (without `<>` and header parameters).
    pub fn contact(&self) -> &[u8] {
        &self.data[self.ranges()[0].clone()]
    }

    pub fn call_id(&self) -> &[u8] {
        &self.data[self.ranges()[1].clone()]
    }

    /// The stored Path as a Route header value (empty when the REGISTER had none).
    pub fn path(&self) -> &[u8] {
        &self.data[self.ranges()[2].clone()]
    }

    /// User-Agent header value (empty when absent).
    pub fn user_agent(&self) -> &[u8] {
        &self.data[self.ranges()[3].clone()]
    }

    /// Still bound at `now_ms`? (A binding expiring exactly now is gone.)
    pub fn is_live(&self, now_ms: u64) -> bool {
        self.expires_at_ms > now_ms
    }

    /// Seconds left at `now_ms`, rounded up, as a 200 to REGISTER reports them.
    pub fn remaining_secs(&self, now_ms: u64) -> u32 {
        let left = self.expires_at_ms.saturating_sub(now_ms);
        u32::try_from(left.div_ceil(1000)).unwrap_or(u32::MAX)
    }

    /// Length of the binding's one heap block (its variable-length fields).
    pub fn heap_len(&self) -> usize {
        self.data.len()
    }

    /// Bytes this binding occupies: the fixed part plus its one heap block (allocator
    /// rounding not counted).
    pub fn footprint(&self) -> usize {
        std::mem::size_of::<Binding>() + self.data.len()
    }

    /// Lookup order: higher q first, then the most recently refreshed first, then by
    /// contact bytes, so that the order is total and a reload reproduces it exactly.
    pub(crate) fn order(a: &Binding, b: &Binding) -> std::cmp::Ordering {
        b.q.cmp(&a.q)
            .then(b.updated_ms.cmp(&a.updated_ms))
            .then_with(|| a.contact().cmp(b.contact()))
    }
}

/// One binding copied out of the table; its bytes live in the owning [`BindingList`].
#[derive(Debug, Clone)]
pub struct FoundBinding {
    contact: Range<usize>,
    path: Range<usize>,
    pub q: QValue,
    /// Seconds left (rounded up) at the `now` the list was filled.
    pub expires_in: u32,
    pub received: Option<SocketAddr>,
    pub local: ListenerId,
    pub flags: BindingFlags,
}

/// Caller-owned, reusable result of a lookup or a REGISTER: after warm-up, filling it does
/// not allocate (one byte arena, one entry vector, both kept across `clear`).
#[derive(Debug, Default, Clone)]
pub struct BindingList {
    arena: Vec<u8>,
    entries: Vec<FoundBinding>,
}

impl BindingList {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn clear(&mut self) {
        self.arena.clear();
        self.entries.clear();
    }

    pub(crate) fn push(&mut self, b: &Binding, now_ms: u64) {
        let start = self.arena.len();
        self.arena.extend_from_slice(b.contact());
        let mid = self.arena.len();
        self.arena.extend_from_slice(b.path());
        self.entries.push(FoundBinding {
            contact: start..mid,
            path: mid..self.arena.len(),
            q: b.q,
            expires_in: b.remaining_secs(now_ms),
            received: b.received,
            local: b.local,
            flags: b.flags,
        });
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The bindings, highest q first.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = BindingRef<'_>> {
        self.entries.iter().map(|e| BindingRef {
            list: self,
            entry: e,
        })
    }

    pub fn get(&self, i: usize) -> Option<BindingRef<'_>> {
        self.entries.get(i).map(|e| BindingRef {
            list: self,
            entry: e,
        })
    }
}

/// A binding in a [`BindingList`].
#[derive(Debug, Clone, Copy)]
pub struct BindingRef<'a> {
    list: &'a BindingList,
    entry: &'a FoundBinding,
}

impl<'a> BindingRef<'a> {
    pub fn contact(&self) -> &'a [u8] {
        &self.list.arena[self.entry.contact.clone()]
    }

    /// Route set to put in front of a request to this contact (RFC 3327), maybe empty.
    pub fn path(&self) -> &'a [u8] {
        &self.list.arena[self.entry.path.clone()]
    }

    pub fn q(&self) -> QValue {
        self.entry.q
    }

    pub fn expires_in(&self) -> u32 {
        self.entry.expires_in
    }

    pub fn received(&self) -> Option<SocketAddr> {
        self.entry.received
    }

    /// Where a request to this contact should be sent instead of resolving its URI: the
    /// REGISTER's source address when the binding is flagged NAT (nathelper's
    /// `fix_nated_register` behaviour), else `None`.
    pub fn next_hop(&self) -> Option<SocketAddr> {
        if self.entry.flags.has(BindingFlags::NAT) {
            self.entry.received
        } else {
            None
        }
    }

    pub fn local(&self) -> ListenerId {
        self.entry.local
    }

    pub fn flags(&self) -> BindingFlags {
        self.entry.flags
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields<'a>(contact: &'a [u8], path: &'a [&'a [u8]]) -> BindingFields<'a> {
        BindingFields {
            contact,
            call_id: b"cid-1",
            path,
            user_agent: b"phone/1",
            q: 500,
            cseq: 7,
            local: 0,
            flags: BindingFlags::default(),
            expires_at_ms: 10_500,
            updated_ms: 0,
            received: None,
        }
    }

    #[test]
    fn fields_round_trip_through_the_single_allocation() {
        let b = Binding::new(&fields(
            b"sip:a@127.0.0.1:5062",
            &[b"<sip:edge;lr>", b"<sip:core;lr>"],
        ));
        assert_eq!(b.contact(), b"sip:a@127.0.0.1:5062");
        assert_eq!(b.call_id(), b"cid-1");
        assert_eq!(b.path(), b"<sip:edge;lr>, <sip:core;lr>");
        assert_eq!(b.user_agent(), b"phone/1");
        assert_eq!(b.remaining_secs(0), 11);
        assert_eq!(b.remaining_secs(500), 10);
        assert!(b.is_live(10_499));
        assert!(!b.is_live(10_500));
    }

    #[test]
    fn overwrite_equals_new_and_reuses_the_block_when_lengths_match() {
        let path: [&[u8]; 2] = [b"<sip:edge;lr>", b"<sip:core;lr>"];
        let mut b = Binding::new(&fields(b"sip:a@127.0.0.1:5062", &path));
        let block = b.data.as_ptr();
        // Same lengths, other bytes: written in place.
        let mut f = fields(
            b"sip:b@127.0.0.1:5063",
            &[b"<sip:edgf;lr>", b"<sip:cord;lr>"],
        );
        f.cseq = 8;
        f.expires_at_ms = 20_000;
        f.updated_ms = 9_000;
        b.overwrite(&f);
        assert_eq!(b, Binding::new(&f));
        assert_eq!(b.data.as_ptr(), block, "same length: the block is reused");
        assert_eq!(b.path(), b"<sip:edgf;lr>, <sip:cord;lr>");
        // Other lengths (no Path now, longer contact): a new block, same result as new().
        let g = fields(b"sip:abc@127.0.0.1:5062", &[]);
        b.overwrite(&g);
        assert_eq!(b, Binding::new(&g));
        assert_eq!(b.contact(), b"sip:abc@127.0.0.1:5062");
        assert_eq!(b.path(), b"");
        assert_eq!(b.user_agent(), b"phone/1");
        assert_eq!(b.cseq, 7);
    }

    #[test]
    fn binding_list_reuses_its_buffers() {
        let b = Binding::new(&fields(b"sip:a@127.0.0.1", &[]));
        let mut list = BindingList::new();
        list.push(&b, 0);
        list.push(&b, 0);
        let cap = (list.arena.capacity(), list.entries.capacity());
        list.clear();
        list.push(&b, 0);
        list.push(&b, 0);
        assert_eq!((list.arena.capacity(), list.entries.capacity()), cap);
        assert_eq!(
            list.get(1).map(|r| r.contact()),
            Some(&b"sip:a@127.0.0.1"[..])
        );
        assert_eq!(list.get(1).map(|r| r.path().len()), Some(0));
    }
}
