//! What one worker's stateful proxy needs to know about itself.

use std::net::SocketAddr;

use crate::endpoint::ListenerId;
use crate::txn::TimerConfig;

/// The configuration of one [`super::StatefulProxy`] (one per worker).
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    /// The address of each listener, indexed by [`ListenerId`]: the sent-by of our Via and
    /// the host of our Record-Route on requests leaving through it.
    pub listen: Vec<SocketAddr>,
    /// Host names (and domains) that mean "this proxy" in a Request-URI or a Route, besides
    /// the listen addresses. Compared ASCII case-insensitively.
    pub hostnames: Vec<String>,
    /// SIP timers (T1, T2, T4, Timer C).
    pub timers: TimerConfig,
    /// Most live transactions this worker keeps; past it new requests get 503.
    pub max_transactions: usize,
    /// Seconds announced in Retry-After when the table is full.
    pub retry_after_secs: u32,
    /// This worker's index, encoded in every branch it writes.
    pub worker: u16,
    /// How many workers there are (a branch naming a worker outside `0..workers` is foreign).
    pub workers: u16,
    /// Per-process random value in every branch, so branches stay unique across restarts.
    /// The runtime draws it once at start and gives the same value to every worker.
    pub branch_salt: u32,
    /// Value of the Server header of responses we generate (none if empty).
    pub server_name: String,
}

impl Default for ProxyConfig {
    fn default() -> Self {
        ProxyConfig {
            listen: vec![SocketAddr::from(([127, 0, 0, 1], 5060))],
            hostnames: Vec::new(),
            timers: TimerConfig::default(),
            max_transactions: 65_536,
            retry_after_secs: 5,
            worker: 0,
            workers: 1,
            branch_salt: 0,
            server_name: String::from("ringlet"),
        }
    }
}

impl ProxyConfig {
    /// The address of listener `local` (the first one if `local` is out of range).
    pub fn listen_addr(&self, local: ListenerId) -> SocketAddr {
        self.listen
            .get(usize::from(local))
            .or_else(|| self.listen.first())
            .copied()
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 5060)))
    }
}
