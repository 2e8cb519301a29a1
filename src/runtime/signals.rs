//! SIGTERM, SIGINT and SIGHUP, taken synchronously by the main thread.
//!
//! [`SignalWaiter::install`] blocks the three signals in the calling thread; threads it
//! spawns afterwards (the workers) inherit the mask, so no worker is ever interrupted and no
//! async handler runs: the main thread picks each signal up with `sigtimedwait`.

use std::io;
use std::time::Duration;

/// A signal the process reacts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGTERM or SIGINT: drain and exit.
    Terminate(i32),
    /// SIGHUP: reload.
    Reload,
}

pub struct SignalWaiter {
    set: libc::sigset_t,
}

impl SignalWaiter {
    /// Block SIGTERM, SIGINT and SIGHUP in this thread. Call before starting any thread.
    pub fn install() -> io::Result<SignalWaiter> {
        // SAFETY: sigset_t is plain data, initialised by sigemptyset before use.
        let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
        // SAFETY: `set` is a live sigset_t; these calls only edit it and this thread's mask.
        let rc = unsafe {
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGTERM);
            libc::sigaddset(&mut set, libc::SIGINT);
            libc::sigaddset(&mut set, libc::SIGHUP);
            libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut())
        };
        if rc != 0 {
            return Err(io::Error::from_raw_os_error(rc));
        }
        Ok(SignalWaiter { set })
    }

    /// Wait up to `timeout` for one of the signals.
    pub fn wait(&self, timeout: Duration) -> Option<Signal> {
        let ts = libc::timespec {
            tv_sec: timeout.as_secs() as libc::time_t,
            tv_nsec: timeout.subsec_nanos() as libc::c_long,
        };
        // SAFETY: `self.set` is initialised; a null siginfo pointer is allowed.
        let sig = unsafe { libc::sigtimedwait(&self.set, std::ptr::null_mut(), &ts) };
        match sig {
            libc::SIGTERM | libc::SIGINT => Some(Signal::Terminate(sig)),
            libc::SIGHUP => Some(Signal::Reload),
            _ => None,
        }
    }
}
