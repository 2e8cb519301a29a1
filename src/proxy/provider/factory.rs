//! The endpoint `ringlet run` starts on each worker: a [`StatefulProxy`] driven by a
//! [`ProviderRouter`], all workers sharing one table handle, one location table and one
//! registrar.
//!
//! ```text
//!   ProviderShared (Arc, built once) ── table: TableHandle (arc-swap)
//!        │                            ├─ location: Arc<LocationTable> (sharded)
//!        │                            └─ registrar: Arc<Registrar>, configs
//!        └─ build_proxy(worker k) ──► StatefulProxy<ProviderRouter> (owned by worker k)
//! ```

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::{ProviderConfig, ProviderRouter};
use crate::config::Config;
use crate::proxy::{ProxyConfig, StatefulProxy};
use crate::registrar::{LocationTable, Registrar, RegistrarConfig, TimeBase};
use crate::table::{ForwardingSnapshot, TableHandle};
use crate::txn::TimerConfig;

/// What every worker's router shares.
pub struct ProviderShared {
    pub table: TableHandle,
    pub location: Arc<LocationTable>,
    pub registrar: Arc<Registrar>,
    pub provider: ProviderConfig,
    /// The proxy configuration every worker starts from (`worker`, `workers` and `listen`
    /// are set per worker by [`build_proxy`]).
    pub proxy: ProxyConfig,
}

impl ProviderShared {
    /// Shared state over an existing table handle, with an in-memory location table.
    pub fn new(
        table: TableHandle,
        registrar_cfg: &RegistrarConfig,
        provider: ProviderConfig,
        proxy: ProxyConfig,
        now: Instant,
    ) -> Self {
        let unix_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let location = Arc::new(LocationTable::from_config(
            registrar_cfg,
            TimeBase::new(now, unix_ms),
        ));
        let registrar = Arc::new(Registrar::new(location.clone(), registrar_cfg));
        ProviderShared {
            table,
            location,
            registrar,
            provider,
            proxy,
        }
    }

    /// Everything `ringlet run` needs from a validated configuration: the table file
    /// (`[files] table`; the embedded demo table when that file does not exist and is the
    /// default path), SIP timers, a fresh branch salt, the `[registrar]` settings. The
    /// location table starts empty: the caller loads persisted registrations into it
    /// (`registrar::start_persistence`) before the workers start.
    pub fn from_config(
        config: &Config,
        provider: ProviderConfig,
        now: Instant,
    ) -> Result<Self, String> {
        let path: &Path = &config.files.table;
        let table = if path.exists() {
            TableHandle::from_file(path).map_err(|e| e.to_string())?
        } else if *path == *crate::config::Config::default().files.table {
            TableHandle::new(ForwardingSnapshot::demo())
        } else {
            return Err(format!("table file {} does not exist", path.display()));
        };
        if table.load().is_demo() {
            if let Some(a) = config.listen.iter().find(|a| !a.ip().is_loopback()) {
                return Err(format!(
                    "the embedded demo table (public passwords) serves loopback only, but listen has {a}; give a table in [files] table"
                ));
            }
        }
        provider.validate().map_err(|(k, m)| format!("{k}: {m}"))?;
        let mut salt = [0u8; 4];
        getrandom::getrandom(&mut salt)
            .map_err(|e| format!("no randomness for the branch salt: {e}"))?;
        let sip = &config.sip;
        let proxy = ProxyConfig {
            listen: config.listen.clone(),
            hostnames: Vec::new(),
            timers: TimerConfig {
                t1: Duration::from_millis(sip.t1_ms),
                t2: Duration::from_millis(sip.t2_ms),
                t4: Duration::from_millis(sip.t4_ms),
                timer_c: Duration::from_millis(sip.timer_c_ms),
            },
            max_transactions: usize::try_from(sip.max_transactions).unwrap_or(usize::MAX),
            branch_salt: u32::from_le_bytes(salt),
            ..ProxyConfig::default()
        };
        let provider = ProviderConfig {
            ring_timeout_ms: if provider.ring_timeout_ms == 0 {
                sip.no_answer_timeout_ms
            } else {
                provider.ring_timeout_ms
            },
            ..provider
        };
        Ok(ProviderShared::new(
            table,
            &config.registrar,
            provider,
            proxy,
            now,
        ))
    }
}

/// The stateful proxy of worker `worker` of `workers`, listening on `local_addrs` (the
/// addresses actually bound, ports resolved), with its own [`ProviderRouter`].
pub fn build_proxy(
    worker: usize,
    workers: usize,
    local_addrs: &[SocketAddr],
    shared: &Arc<ProviderShared>,
    now: Instant,
) -> StatefulProxy<ProviderRouter> {
    let mut cfg = shared.proxy.clone();
    cfg.worker = u16::try_from(worker).unwrap_or(u16::MAX);
    cfg.workers = u16::try_from(workers).unwrap_or(u16::MAX);
    if !local_addrs.is_empty() {
        cfg.listen = local_addrs.to_vec();
    }
    // The served domains name this proxy in Route headers too (loose routing, §16.4).
    let snap = shared.table.load();
    for d in snap.domains() {
        if !cfg.hostnames.iter().any(|h| h.eq_ignore_ascii_case(d)) {
            cfg.hostnames.push(d.to_string());
        }
    }
    let router = ProviderRouter::new(
        shared.table.clone(),
        shared.location.clone(),
        shared.registrar.clone(),
        shared.provider.clone(),
        cfg.listen.clone(),
    );
    StatefulProxy::new(cfg, router, now)
}
