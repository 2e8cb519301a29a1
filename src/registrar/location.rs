//! The location service: address-of-record → bindings, shared by every worker.
//!
//! ```text
//!   aor ──fnv1a──► shard k = hash & (N-1)          (N a power of two, default 256)
//!                  ┌──────────────────────────── Shard k (own cache lines) ──────────┐
//!                  │ RwLock<HashMap<aor, BindingSet>>     next_expiry_ms   dirty    │
//!                  └──────────────────────────────────────────────────────────────────┘
//! ```
//!
//! Invariants:
//! - Each AoR's [`BindingSet`] (first binding inline) is non-empty and sorted in lookup
//!   order (q descending, then
//!   most recently refreshed first), so a lookup copies without sorting.
//! - A REGISTER's changes to one AoR are validated first and applied only if all pass, under
//!   that shard's write lock: readers see all of a REGISTER or none of it
//!   (RFC 3261 §10.3 step 7, "committed if and only if all binding updates succeed").
//! - Expired bindings may linger until the next sweep or REGISTER of their AoR, but a
//!   lookup never returns one: every read filters by `now`.
//! - `next_expiry_ms` is a lower bound of the shard's earliest expiry: a sweep skips a
//!   shard whose bound is in the future without taking its lock.
//! - When persistence is attached, every change of an AoR is queued to the writer while the
//!   shard lock is still held, so the queue carries each AoR's states in the order they
//!   happened. If the queue is full the update is dropped, counted, and the shard's `dirty`
//!   flag tells the writer to rewrite that shard whole from the table.
//!
//! Lookups take a shard read lock; REGISTERs on other shards never contend with them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{OnceLock, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Instant;

use super::binding::{Binding, BindingFields, BindingFlags, BindingList, QValue, TimeBase};
use super::binding_set::BindingSet;
use super::persist::{AorUpdate, PersistSink};
use crate::endpoint::ListenerId;

/// One contact of a REGISTER after the expiry policy was applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContactUpdate<'a> {
    /// Contact URI bytes (without `<>`); bindings match on exact bytes, as usrloc does.
    pub uri: &'a [u8],
    /// Granted expiry, seconds; 0 removes the binding.
    pub expires: u32,
    pub q: QValue,
}

/// What a REGISTER asks of one AoR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContactSet<'a> {
    /// No Contact header: a query, the 200 lists the current bindings (RFC 3261 §10.2.3).
    Query,
    /// `Contact: *` with `Expires: 0`: remove every binding (RFC 3261 §10.2.2).
    RemoveAll,
    /// Add, refresh or (expires 0) remove these.
    Contacts(&'a [ContactUpdate<'a>]),
}

/// A REGISTER's changes to one AoR, borrowed from the request.
#[derive(Debug, Clone, Copy)]
pub struct RegisterChange<'a> {
    pub call_id: &'a [u8],
    pub cseq: u32,
    pub contacts: ContactSet<'a>,
    /// Path header values in order (RFC 3327), or none.
    pub path: &'a [&'a [u8]],
    pub user_agent: &'a [u8],
    pub received: Option<std::net::SocketAddr>,
    pub local: ListenerId,
    pub flags: BindingFlags,
}

/// Why a REGISTER's changes were not applied (nothing of it was).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApplyError {
    /// Same Call-ID as a stored binding and a CSeq not above it (RFC 3261 §10.3 step 7:
    /// "the update MUST be aborted and the request fails").
    StaleCSeq { stored: u32 },
    /// The AoR would hold more than `max_contacts` bindings.
    TooManyContacts { max: u32 },
}

/// What a sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Shards whose lock was taken (the others had nothing due).
    pub shards_swept: usize,
    pub bindings_removed: usize,
    pub aors_removed: usize,
}

/// Sizes, for the management API and the bytes-per-binding figure.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MemoryEstimate {
    pub aors: usize,
    pub bindings: usize,
    /// Bytes of keys, binding lists and bindings, plus hash-table slots; allocator rounding
    /// and the maps' spare capacity are not counted.
    pub bytes: usize,
}

impl MemoryEstimate {
    pub fn bytes_per_binding(&self) -> usize {
        self.bytes.checked_div(self.bindings).unwrap_or(0)
    }
}

type AorMap = HashMap<Box<[u8]>, BindingSet, ahash::RandomState>;

/// The shards' hasher: aHash with secret keys taken from std's randomly keyed
/// `RandomState`; as keyed as SipHash against crafted keys, several times cheaper on AoRs.
fn aor_hasher() -> ahash::RandomState {
    use std::hash::BuildHasher;
    let std_keys = std::collections::hash_map::RandomState::new();
    ahash::RandomState::with_seeds(
        std_keys.hash_one(0u8),
        std_keys.hash_one(1u8),
        std_keys.hash_one(2u8),
        std_keys.hash_one(3u8),
    )
}

/// One shard, aligned so that two shards never share a cache line.
#[repr(align(128))]
struct Shard {
    map: RwLock<AorMap>,
    next_expiry_ms: AtomicU64,
    dirty: AtomicBool,
}

/// The location service. `Sync`: share it as `Arc<LocationTable>` between workers.
pub struct LocationTable {
    shards: Box<[Shard]>,
    mask: usize,
    time: TimeBase,
    max_contacts: u32,
    aors: AtomicUsize,
    bindings: AtomicUsize,
    sweep_cursor: AtomicUsize,
    sink: OnceLock<PersistSink>,
}

/// FNV-1a: stable across runs (the database records each row's shard) and cheap. Keys are
/// AoRs of provisioned subscribers, not attacker-chosen, so flooding one shard is not a
/// concern; within a shard the HashMap uses a randomly keyed hasher ([`aor_hasher`]).
pub(crate) fn shard_hash(aor: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in aor {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^ (h >> 29)
}

impl LocationTable {
    /// A table with `shards` shards (rounded up to a power of two) and at most
    /// `max_contacts` bindings per AoR (0: no limit).
    pub fn new(time: TimeBase, shards: usize, max_contacts: u32) -> Self {
        let n = shards.max(1).next_power_of_two();
        let shards = (0..n)
            .map(|_| Shard {
                map: RwLock::new(HashMap::with_hasher(aor_hasher())),
                next_expiry_ms: AtomicU64::new(u64::MAX),
                dirty: AtomicBool::new(false),
            })
            .collect();
        LocationTable {
            shards,
            mask: n - 1,
            time,
            max_contacts,
            aors: AtomicUsize::new(0),
            bindings: AtomicUsize::new(0),
            sweep_cursor: AtomicUsize::new(0),
            sink: OnceLock::new(),
        }
    }

    pub fn from_config(cfg: &super::RegistrarConfig, time: TimeBase) -> Self {
        Self::new(time, cfg.shard_count(), cfg.max_contacts)
    }

    pub fn time_base(&self) -> TimeBase {
        self.time
    }

    pub fn shard_count(&self) -> usize {
        self.shards.len()
    }

    pub(crate) fn shard_of(&self, aor: &[u8]) -> usize {
        // The mask keeps the value below the shard count, which is a usize.
        (shard_hash(aor) & self.mask as u64) as usize
    }

    // A poisoned lock means a thread panicked while holding it. Every mutation here is
    // validated before it starts, so the map is still consistent: keep serving.
    fn read(&self, k: usize) -> RwLockReadGuard<'_, AorMap> {
        self.shards[k].map.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self, k: usize) -> RwLockWriteGuard<'_, AorMap> {
        self.shards[k]
            .map
            .write()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Copies the live bindings of `aor` into `out` (cleared first), highest q first, and
    /// returns how many there are.
    pub fn lookup(&self, aor: &[u8], now: Instant, out: &mut BindingList) -> usize {
        out.clear();
        let now_ms = self.time.ms(now);
        let map = self.read(self.shard_of(aor));
        if let Some(list) = map.get(aor) {
            for b in list.iter().filter(|b| b.is_live(now_ms)) {
                out.push(b, now_ms);
            }
        }
        out.len()
    }

    /// Is anything bound to `aor` at `now`? (OpenSIPS `registered()`.)
    pub fn is_registered(&self, aor: &[u8], now: Instant) -> bool {
        let now_ms = self.time.ms(now);
        let map = self.read(self.shard_of(aor));
        map.get(aor)
            .is_some_and(|l| l.iter().any(|b| b.is_live(now_ms)))
    }

    /// Applies a REGISTER's changes to `aor` atomically and copies the resulting live
    /// bindings into `out` (cleared first) for the 200. On error nothing changed and `out`
    /// is empty.
    pub fn apply(
        &self,
        aor: &[u8],
        now: Instant,
        change: &RegisterChange<'_>,
        out: &mut BindingList,
    ) -> Result<(), ApplyError> {
        out.clear();
        let now_ms = self.time.ms(now);
        let k = self.shard_of(aor);
        let mut map = self.write(k);
        let existed = map.contains_key(aor);
        let existing = map.get_mut(aor);

        // Drop what already expired: it neither blocks a CSeq nor counts against the limit.
        let mut removed = 0usize;
        if let Some(list) = existing {
            let before = list.len();
            list.retain(|b| b.is_live(now_ms));
            removed = before - list.len();
        }
        let stored: &[Binding] = map.get(aor).map_or(&[], |l| &l[..]);

        // Validation: nothing is written unless every change may be.
        let updates: &[ContactUpdate<'_>] = match change.contacts {
            ContactSet::Query => &[],
            ContactSet::Contacts(u) => u,
            ContactSet::RemoveAll => {
                // RFC 3261 §10.3 step 6: each binding with the same Call-ID must have a
                // lower CSeq, else the whole request fails.
                if let Some(b) = stored.iter().find(|b| is_stale(b, change)) {
                    let stored = b.cseq;
                    self.finish_without_change(&mut map, k, aor, removed);
                    return Err(ApplyError::StaleCSeq { stored });
                }
                &[]
            }
        };
        for u in updates {
            if let Some(b) = stored.iter().find(|b| *b.contact() == *u.uri) {
                if is_stale(b, change) {
                    let stored = b.cseq;
                    self.finish_without_change(&mut map, k, aor, removed);
                    return Err(ApplyError::StaleCSeq { stored });
                }
            }
        }
        if self.max_contacts > 0 && !updates.is_empty() {
            let final_count = final_binding_count(stored, updates);
            if final_count > self.max_contacts as usize && final_count > stored.len() {
                self.finish_without_change(&mut map, k, aor, removed);
                return Err(ApplyError::TooManyContacts {
                    max: self.max_contacts,
                });
            }
        }

        // Mutation.
        let changed = removed > 0 || !matches!(change.contacts, ContactSet::Query);
        let list = match change.contacts {
            ContactSet::Query => map.get_mut(aor),
            ContactSet::RemoveAll => {
                if let Some(list) = map.get_mut(aor) {
                    removed += list.len();
                    list.clear();
                }
                map.get_mut(aor)
            }
            ContactSet::Contacts(updates) => {
                if !existed {
                    map.insert(Box::from(aor), BindingSet::default());
                }
                let Some(list) = map.get_mut(aor) else {
                    // Unreachable: the key is present (inserted just above if it was not).
                    return Ok(());
                };
                let mut added = 0usize;
                let mut earliest = u64::MAX;
                for u in updates {
                    let pos = list.iter().position(|b| *b.contact() == *u.uri);
                    if u.expires == 0 {
                        if let Some(i) = pos {
                            list.remove(i);
                            removed += 1;
                        }
                        continue;
                    }
                    let expires_at_ms = now_ms.saturating_add(u64::from(u.expires) * 1000);
                    earliest = earliest.min(expires_at_ms);
                    let fields = BindingFields {
                        contact: u.uri,
                        call_id: change.call_id,
                        path: change.path,
                        user_agent: change.user_agent,
                        q: u.q,
                        cseq: change.cseq,
                        local: change.local,
                        flags: change.flags,
                        expires_at_ms,
                        updated_ms: now_ms,
                        received: change.received,
                    };
                    match pos {
                        // A refresh: the usual REGISTER, written in place.
                        Some(i) => list[i].overwrite(&fields),
                        None => {
                            list.push(Binding::new(&fields));
                            added += 1;
                        }
                    }
                }
                list.sort_by(Binding::order);
                self.shards[k]
                    .next_expiry_ms
                    .fetch_min(earliest, Ordering::Relaxed);
                self.bindings.fetch_add(added, Ordering::Relaxed);
                Some(list)
            }
        };
        if let Some(list) = list {
            for b in list.iter() {
                out.push(b, now_ms);
            }
        }
        self.bindings.fetch_sub(removed, Ordering::Relaxed);
        if changed {
            self.settle(&mut map, k, aor, existed);
        }
        Ok(())
    }

    /// After a refused REGISTER: the only change may be expired bindings dropped.
    fn finish_without_change(&self, map: &mut AorMap, k: usize, aor: &[u8], removed: usize) {
        if removed > 0 {
            self.bindings.fetch_sub(removed, Ordering::Relaxed);
            self.settle(map, k, aor, true);
        }
    }

    /// Removes `aor` if it has no binding left (the map never holds an empty list), keeps
    /// the AoR count, and queues the AoR's state for persistence. `existed`: the key was in
    /// the map before this change. Called with the shard write-locked.
    fn settle(&self, map: &mut AorMap, k: usize, aor: &[u8], existed: bool) {
        match map.get(aor) {
            Some(list) if list.is_empty() => {
                map.remove(aor);
                if existed {
                    self.aors.fetch_sub(1, Ordering::Relaxed);
                    self.queue(k, aor, &[]);
                }
            }
            Some(list) => {
                if !existed {
                    self.aors.fetch_add(1, Ordering::Relaxed);
                }
                self.queue(k, aor, &list[..]);
            }
            None => {}
        }
    }

    /// Queues `aor`'s current bindings to the persistence writer, if attached.
    fn queue(&self, k: usize, aor: &[u8], list: &[Binding]) {
        let Some(sink) = self.sink.get() else { return };
        let shard = &self.shards[k];
        if shard.dirty.load(Ordering::Acquire) {
            // The writer rewrites this shard whole from the table at its next batch, and
            // it reads the table after this lock is released: nothing to send.
            return;
        }
        let update = AorUpdate {
            shard: k,
            aor: Box::from(aor),
            bindings: BindingSet::copy_of(list),
        };
        if !sink.try_send(update) {
            shard.dirty.store(true, Ordering::Release);
        }
    }

    /// Removes expired bindings from up to `max_shards` shards that have something due,
    /// continuing round-robin where the previous call stopped. The runtime calls this on a
    /// timer (e.g. every second with `max_shards` = a few): each call holds one shard lock
    /// at a time and takes at most `max_shards` of them.
    pub fn sweep(&self, now: Instant, max_shards: usize) -> SweepReport {
        let now_ms = self.time.ms(now);
        let mut report = SweepReport::default();
        let n = self.shards.len();
        for _ in 0..n {
            if report.shards_swept >= max_shards {
                break;
            }
            let k = self.sweep_cursor.fetch_add(1, Ordering::Relaxed) & self.mask;
            if self.shards[k].next_expiry_ms.load(Ordering::Relaxed) > now_ms {
                continue;
            }
            report.shards_swept += 1;
            let mut map = self.write(k);
            let mut earliest = u64::MAX;
            let mut changed: Vec<Box<[u8]>> = Vec::new();
            map.retain(|aor, list| {
                let before = list.len();
                list.retain(|b| b.is_live(now_ms));
                let gone = before - list.len();
                if gone > 0 {
                    report.bindings_removed += gone;
                    changed.push(aor.clone());
                }
                if let Some(e) = list.iter().map(|b| b.expires_at_ms).min() {
                    earliest = earliest.min(e);
                }
                if list.is_empty() {
                    report.aors_removed += 1;
                    false
                } else {
                    true
                }
            });
            self.shards[k]
                .next_expiry_ms
                .store(earliest, Ordering::Relaxed);
            for aor in &changed {
                let list = map.get(aor).map_or(&[][..], |l| &l[..]);
                self.queue(k, aor, list);
            }
        }
        self.bindings
            .fetch_sub(report.bindings_removed, Ordering::Relaxed);
        self.aors.fetch_sub(report.aors_removed, Ordering::Relaxed);
        report
    }

    /// Removes every binding of `aor` (management `ul_rm`); returns how many it had.
    pub fn remove_aor(&self, aor: &[u8]) -> usize {
        let k = self.shard_of(aor);
        let mut map = self.write(k);
        let Some(list) = map.remove(aor) else {
            return 0;
        };
        self.aors.fetch_sub(1, Ordering::Relaxed);
        self.bindings.fetch_sub(list.len(), Ordering::Relaxed);
        self.queue(k, aor, &[]);
        list.len()
    }

    /// Calls `f` with every AoR that has live bindings at `now` and those bindings
    /// (management `ul_dump`). Holds one shard read lock at a time; `scratch` is refilled
    /// for each AoR.
    pub fn for_each_aor(
        &self,
        now: Instant,
        scratch: &mut BindingList,
        mut f: impl FnMut(&[u8], &BindingList),
    ) {
        let now_ms = self.time.ms(now);
        for k in 0..self.shards.len() {
            let map = self.read(k);
            for (aor, list) in map.iter() {
                scratch.clear();
                for b in list.iter().filter(|b| b.is_live(now_ms)) {
                    scratch.push(b, now_ms);
                }
                if !scratch.is_empty() {
                    f(aor, scratch);
                }
            }
        }
    }

    /// AoRs and bindings held (expired ones not yet swept included). Approximate while
    /// other threads write.
    pub fn counts(&self) -> (usize, usize) {
        (
            self.aors.load(Ordering::Relaxed),
            self.bindings.load(Ordering::Relaxed),
        )
    }

    /// Walks every shard (one read lock at a time) to size the table.
    pub fn memory_estimate(&self) -> MemoryEstimate {
        let mut m = MemoryEstimate::default();
        // A hashbrown slot holds the key (fat pointer) and the Vec, plus one control byte.
        let slot = std::mem::size_of::<(Box<[u8]>, BindingSet)>() + 1;
        for k in 0..self.shards.len() {
            let map = self.read(k);
            m.bytes += map.capacity() * slot;
            for (aor, list) in map.iter() {
                m.aors += 1;
                m.bindings += list.len();
                m.bytes += aor.len();
                m.bytes += list.iter().map(Binding::heap_len).sum::<usize>();
                m.bytes += list.vec_bytes();
            }
        }
        m
    }

    // ----- used by the persistence layer -----

    /// Inserts a binding read from the database (no persistence queued, no checks beyond
    /// keeping the list order). Used at start, before workers run.
    pub(crate) fn insert_loaded(&self, aor: &[u8], b: Binding) {
        let k = self.shard_of(aor);
        let mut map = self.write(k);
        self.shards[k]
            .next_expiry_ms
            .fetch_min(b.expires_at_ms, Ordering::Relaxed);
        if !map.contains_key(aor) {
            self.aors.fetch_add(1, Ordering::Relaxed);
            map.insert(Box::from(aor), BindingSet::default());
        }
        let Some(list) = map.get_mut(aor) else { return };
        match list.iter().position(|x| x.contact() == b.contact()) {
            Some(i) => list[i] = b,
            None => {
                list.push(b);
                self.bindings.fetch_add(1, Ordering::Relaxed);
            }
        }
        list.sort_by(Binding::order);
    }

    pub(crate) fn attach_sink(&self, sink: PersistSink) -> bool {
        self.sink.set(sink).is_ok()
    }

    /// Clears shard `k`'s dirty flag, returning whether it was set.
    pub(crate) fn take_dirty(&self, k: usize) -> bool {
        self.shards[k].dirty.swap(false, Ordering::AcqRel)
    }

    pub(crate) fn mark_dirty(&self, k: usize) {
        self.shards[k].dirty.store(true, Ordering::Release);
    }

    /// Calls `f` with every AoR of shard `k` and its bindings, under the shard read lock.
    pub(crate) fn for_each_in_shard(&self, k: usize, mut f: impl FnMut(&[u8], &[Binding])) {
        let map = self.read(k);
        for (aor, list) in map.iter() {
            f(aor, list);
        }
    }
}

/// Same Call-ID and a CSeq not above the stored one (RFC 3261 §10.3 step 7).
fn is_stale(b: &Binding, change: &RegisterChange<'_>) -> bool {
    b.call_id() == change.call_id && change.cseq <= b.cseq
}

/// Bindings the AoR would hold after `updates`: untouched stored ones, plus every distinct
/// URI whose last occurrence in the request has a non-zero expiry.
fn final_binding_count(stored: &[Binding], updates: &[ContactUpdate<'_>]) -> usize {
    let untouched = stored
        .iter()
        .filter(|b| !updates.iter().any(|u| *u.uri == *b.contact()))
        .count();
    let kept = updates
        .iter()
        .enumerate()
        .filter(|(i, u)| u.expires > 0 && !updates[i + 1..].iter().any(|later| later.uri == u.uri))
        .count();
    untouched + kept
}
