//! Memory at steady state: once finished transactions are reaped as fast as new ones come
//! (Timers L/M/J/K), the proxy's live heap stops growing. Checked with a counting global
//! allocator (this test binary only, one test so nothing else allocates meanwhile).

#[path = "harness/proxy.rs"]
mod harness;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Duration;

use harness::*;
use ringlet::proxy::RelayToRequestUri;

struct Counting;

/// Bytes currently allocated.
static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards every call to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: `ptr` came from `System.alloc`/`realloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        // SAFETY: same contract as our caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const BOB_URI: &str = "sip:bob@127.0.0.3:5060";

/// One whole call (INVITE, 180, 200, ACK, BYE, 200), then `gap` of virtual time.
fn call(n: &mut Net<RelayToRequestUri>, i: u32, gap: Duration) {
    let id = format!("mem-{i}");
    let sent = n.send_str(ALICE, &invite(BOB_URI, &id, &format!("z9hG4bKi{i}")));
    let inv = one(&sent, BOB, "INVITE");
    n.send(BOB, &respond(&inv, 180, "Ringing", "b1", &[]));
    one(
        &n.send(BOB, &respond(&inv, 200, "OK", "b1", &[])),
        ALICE,
        "200",
    );
    let ack = request(
        "ACK",
        BOB_URI,
        &id,
        &format!("z9hG4bKa{i}"),
        1,
        Some("b1"),
        &[],
    );
    one(&n.send_str(ALICE, &ack), BOB, "ACK");
    let bye = request(
        "BYE",
        BOB_URI,
        &id,
        &format!("z9hG4bKb{i}"),
        2,
        Some("b1"),
        &[],
    );
    let fbye = one(&n.send_str(ALICE, &bye), BOB, "BYE");
    one(
        &n.send(BOB, &respond(&fbye, 200, "OK", "b1", &[])),
        ALICE,
        "200/BYE",
    );
    n.advance(gap);
}

#[test]
fn live_heap_stops_growing_once_transactions_are_reaped_as_fast_as_they_come() {
    let gap = Duration::from_millis(20);
    let mut n = Net::new(config(), RelayToRequestUri);
    // 40 s of virtual time: past Timer L/M (32 s), so the first calls are gone.
    let per_phase = 2000;
    for i in 0..per_phase {
        call(&mut n, i, gap);
    }
    let live_txns = n.proxy.transactions();
    let before = LIVE.load(Ordering::Relaxed);
    for i in per_phase..2 * per_phase {
        call(&mut n, i, gap);
    }
    let after = LIVE.load(Ordering::Relaxed);
    assert!(
        live_txns > 2000,
        "the table really holds lingering transactions"
    );
    assert!(
        n.proxy.transactions().abs_diff(live_txns) <= 4,
        "{} vs {live_txns}",
        n.proxy.transactions()
    );
    // Another 40 s of calls: the live heap is what it was (within a few KB of noise from
    // the timer wheel's per-slot vectors finding their size).
    assert!(
        after - before < 16 * 1024,
        "live heap grew by {} B over {per_phase} more calls ({before} -> {after})",
        after - before
    );
}
