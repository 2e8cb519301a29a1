//! The provided-buffer ring that io_uring's multishot `RecvMsgMulti` reads datagrams into.
//!
//! Two anonymous mappings, both owned by this struct and unmapped on drop:
//!
//! ```text
//!   ring (registered with IORING_REGISTER_PBUF_RING, group `bgid`)
//!   ┌────────┬────────┬────────┬─────┬──────────┐      entries = 2^k, index = tail & mask
//!   │ e[0]   │ e[1]   │ e[2]   │ ... │ e[n-1]   │      e = {addr, len, bid}; e[0].resv
//!   └───┬────┴───┬────┴────────┴─────┴──────────┘      doubles as the shared u16 tail
//!       │        └──────────┐
//!       ▼                   ▼
//!   buffers: [ bid 0 | bid 1 | bid 2 | ... | bid n-1 ]   each `buf_size` bytes
//!
//!   head (kernel's, private) ─► next entry the kernel will consume
//!   tail (ours, published with a Release store) ─► one past the last entry we provided
//! ```
//!
//! Ownership of buffer `bid` moves in a cycle, and only one side ever touches it:
//! 1. **Kernel**: from the moment an entry naming `bid` is published (tail store) until the
//!    kernel posts a completion whose flags carry `bid`. We never read or write it then.
//! 2. **Worker**: from that completion until [`BufRing::recycle`]. The datagram is borrowed
//!    by the endpoint during `on_datagram` only (anything it keeps, it copies into the
//!    Outbox or its own state), so the worker recycles the buffer in the same loop turn.
//! 3. `recycle` writes a new entry at our private tail; [`BufRing::publish`] makes all
//!    recycled entries visible at once before the next submit.
//!
//! Entries never outnumber buffers: each `bid` is in the ring at most once, because it
//! is only recycled after the kernel has handed it back. So the tail never laps the head.
//! When every buffer is with the kernel and unused the ring is full; when the kernel has
//! consumed them all the multishot receive fails with ENOBUFS and ends; the worker then
//! recycles, publishes and re-arms (counted in `recv_no_buffers`/`recv_rearms`).
//!
//! The mappings must outlive every operation that can still pick a buffer: the worker
//! cancels and reaps its receives, then drops the ring, and only then this struct.

use std::io;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU16, Ordering};

use io_uring::types::BufRingEntry;
use io_uring::Submitter;

/// One anonymous private mapping, unmapped on drop.
struct Mapping {
    ptr: NonNull<u8>,
    len: usize,
}

impl Mapping {
    fn new(len: usize) -> io::Result<Mapping> {
        // SAFETY: anonymous private mapping with no address hint; the result is checked.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        // mmap never returns null on success (MAP_FIXED is not used).
        let ptr =
            NonNull::new(p.cast::<u8>()).ok_or_else(|| io::Error::other("mmap returned null"))?;
        Ok(Mapping { ptr, len })
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: exactly the region mmap returned; no references into it outlive `self`.
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}

pub(crate) struct BufRing {
    ring: Mapping,
    buffers: Mapping,
    entries: u16,
    mask: u16,
    /// Our private copy of the tail; published with [`BufRing::publish`].
    tail: u16,
    buf_size: usize,
    pub bgid: u16,
}

impl BufRing {
    /// Map `entries` (a power of two, at most 2^15) buffers of `buf_size` bytes, all
    /// provided to the kernel once [`BufRing::register`] has run.
    pub fn new(entries: u16, buf_size: usize, bgid: u16) -> io::Result<BufRing> {
        if !entries.is_power_of_two() || entries > 32768 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "buffer ring entries must be a power of two <= 32768",
            ));
        }
        let ring = Mapping::new(entries as usize * std::mem::size_of::<BufRingEntry>())?;
        let buffers = Mapping::new(entries as usize * buf_size)?;
        let mut br = BufRing {
            ring,
            buffers,
            entries,
            mask: entries - 1,
            tail: 0,
            buf_size,
            bgid,
        };
        for bid in 0..entries {
            br.recycle(bid);
        }
        br.publish();
        Ok(br)
    }

    /// Register the ring with `submitter`'s io_uring as buffer group `bgid`.
    pub fn register(&self, submitter: &Submitter<'_>) -> io::Result<()> {
        // SAFETY: the ring mapping is page aligned, holds `entries` entries, and lives until
        // after the io_uring is dropped (the worker's field order guarantees it).
        unsafe {
            submitter.register_buf_ring_with_flags(
                self.ring.ptr.as_ptr() as u64,
                self.entries,
                self.bgid,
                0,
            )
        }
    }

    /// Give buffer `bid` back to the kernel (visible after [`BufRing::publish`]).
    pub fn recycle(&mut self, bid: u16) {
        let bid = bid & self.mask;
        let idx = (self.tail & self.mask) as usize;
        // SAFETY: idx < entries, inside the ring mapping. The entry at our private tail is not
        // visible to the kernel until publish(), so we are its only writer. The setters do
        // not touch `resv`, which in entry 0 is the shared tail.
        let entry = unsafe { &mut *self.ring.ptr.as_ptr().cast::<BufRingEntry>().add(idx) };
        // SAFETY: bid < entries, so the buffer lies inside the buffers mapping.
        let addr = unsafe { self.buffers.ptr.as_ptr().add(bid as usize * self.buf_size) };
        entry.set_addr(addr as u64);
        entry.set_len(self.buf_size as u32);
        entry.set_bid(bid);
        self.tail = self.tail.wrapping_add(1);
    }

    /// Make every recycled entry visible to the kernel.
    pub fn publish(&self) {
        // SAFETY: BufRingEntry::tail points at the u16 tail inside entry 0 of our mapping,
        // which is suitably aligned for AtomicU16; the kernel only reads it.
        let tail = unsafe {
            &*(BufRingEntry::tail(self.ring.ptr.as_ptr().cast::<BufRingEntry>())
                as *const AtomicU16)
        };
        // Release: the entry writes above happen-before the kernel sees the new tail.
        tail.store(self.tail, Ordering::Release);
    }

    /// The first `len` bytes of buffer `bid`, which the kernel has just handed back.
    pub fn buffer(&self, bid: u16, len: usize) -> &[u8] {
        let bid = (bid & self.mask) as usize;
        let len = len.min(self.buf_size);
        // SAFETY: inside the buffers mapping (bid < entries, len <= buf_size); the worker owns
        // this buffer until it recycles it (see the module doc), and the kernel wrote `len`
        // bytes into it before posting the completion.
        unsafe {
            std::slice::from_raw_parts(self.buffers.ptr.as_ptr().add(bid * self.buf_size), len)
        }
    }
}
