//! Core pinning with `sched_setaffinity` and discovery of the cores this process may use.

use std::io;

/// The cores in this process's affinity mask (what a container or `taskset` allows), in
/// increasing order. Never empty: if the mask cannot be read, `0..available_parallelism`.
pub fn available_cores() -> Vec<usize> {
    // SAFETY: cpu_set_t is plain data; zeroed is an empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: we pass the real size of `set`, which the kernel fills; pid 0 is this thread.
    let rc =
        unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    let mut cores = Vec::new();
    if rc == 0 {
        for c in 0..libc::CPU_SETSIZE as usize {
            // SAFETY: c < CPU_SETSIZE, the bound CPU_ISSET requires.
            if unsafe { libc::CPU_ISSET(c, &set) } {
                cores.push(c);
            }
        }
    }
    if cores.is_empty() {
        let n = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        cores = (0..n).collect();
    }
    cores
}

/// Pin the calling thread to `core`.
pub fn pin_current_thread(core: usize) -> io::Result<()> {
    if core >= libc::CPU_SETSIZE as usize {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("core {core} is beyond CPU_SETSIZE"),
        ));
    }
    // SAFETY: cpu_set_t is plain data; zeroed is an empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: core < CPU_SETSIZE (checked above).
    unsafe { libc::CPU_SET(core, &mut set) };
    // SAFETY: `set` is a valid cpu_set_t of the size passed; pid 0 is the calling thread.
    let rc = unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
