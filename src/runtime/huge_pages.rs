//! Transparent huge pages, off for this process.
//!
//! The allocator (mimalloc) asks for transparent huge pages on its arenas
//! (`MADV_HUGEPAGE`). The first touch of such a region then zeroes 2 MiB in one page
//! fault, and on a VM whose memory the host hands out lazily it first faults those 2 MiB
//! in from the host as well. A worker taking that fault stops answering for tens of
//! milliseconds: measured here, the p99 INVITE→200 of 2,000 calls/s went from 0.7-0.9 ms
//! to 25-90 ms, with single stalls of 90-160 ms, while the heap grew (finished
//! transactions linger 32 s). Small pages cost a few more faults and TLB misses, spread
//! evenly. `PR_SET_THP_DISABLE` makes the kernel ignore `MADV_HUGEPAGE` for this process
//! and is inherited by every thread started afterwards.

use std::io;

/// Stop this process (all its threads, present and future) from getting transparent huge
/// pages. Memory already backed by huge pages stays so.
pub fn disable() -> io::Result<()> {
    // SAFETY: prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0) takes no pointers; it only sets a flag
    // on this process's memory descriptor.
    let rc = unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether transparent huge pages are disabled for this process.
    fn disabled() -> io::Result<bool> {
        // SAFETY: prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0) takes no pointers and only reads a flag.
        let rc = unsafe { libc::prctl(libc::PR_GET_THP_DISABLE, 0, 0, 0, 0) };
        if rc < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(rc == 1)
        }
    }

    #[test]
    fn disable_sets_the_process_flag() {
        disable().unwrap();
        assert!(disabled().unwrap());
    }
}
