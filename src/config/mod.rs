//! `ringlet.toml`: the process configuration.
//!
//! This module owns the file format, its defaults and its validation. It does no I/O beyond
//! reading the file it is given, and it knows nothing of sockets or workers: the runtime turns
//! a validated [`Config`] into its own `RuntimeConfig`.
//!
//! Invariants:
//! - Every key has a default ([`Config::default`]); an empty file is a valid configuration and
//!   equals the defaults. `ringlet run` with no file uses exactly these.
//! - A [`Config`] returned by [`Config::from_toml_str`] or [`Config::load`] has passed
//!   [`Config::validate`]: an unknown key, a value of the wrong type or an impossible value is
//!   refused whole with a [`ConfigError`] naming the key, the line and what is allowed. The
//!   process never starts half-configured.
//! - `ringlet.example.toml` documents every key; `tests/config_example.rs` keeps it in sync.
//!
//! ```text
//!   text ──toml+serde (deny_unknown_fields)──► Config ──validate()──► Config (trusted)
//!          │ syntax / unknown key / type            │ impossible value
//!          ▼                                        ▼
//!        ConfigError { line, key, message }      ConfigError { line, key, message }
//! ```

mod error;
mod values;

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use error::ConfigError;
pub use values::{CoreSet, IoBackendChoice, LogLevel, WorkerCount};

/// The default SIP port. RFC 3261 §19.1.2.
pub const SIP_DEFAULT_PORT: u16 = 5060;

/// The whole configuration file. Field order is the order `ringlet check` prints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// UDP addresses to listen on, IPv4 (`"127.0.0.1:5060"`) or IPv6 (`"[::1]:5060"`).
    /// Every worker binds every address with `SO_REUSEPORT`.
    #[serde(with = "values::socket_addr_list")]
    pub listen: Vec<SocketAddr>,
    /// `error`, `warn`, `info`, `debug` or `trace`.
    pub log_level: LogLevel,
    pub runtime: RuntimeSection,
    pub sockets: SocketsSection,
    pub sip: SipSection,
    pub files: FilesSection,
    pub management: ManagementSection,
    /// `[auth]`: digest authentication, nonces, brute-force and flood limits.
    pub auth: crate::auth::AuthConfig,
    /// `[registrar]`: expiry policy, contacts per AoR, location table, persistence.
    pub registrar: crate::registrar::RegistrarConfig,
    /// `[provider]`: relaying policy, call forwarding, voicemail, gateway failover.
    pub provider: crate::proxy::provider::ProviderConfig,
}

/// `[runtime]`: workers, their cores and the I/O backend.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RuntimeSection {
    /// `"auto"` (one per available core, or one per listed core) or a number.
    pub workers: WorkerCount,
    /// `"auto"` (pin worker i to the i-th core this process may run on), `"none"` (do not
    /// pin) or a list of core numbers, one per worker.
    pub cores: CoreSet,
    /// `"auto"` (io_uring when the kernel allows it, else poll), `"uring"` or `"poll"`.
    pub io: IoBackendChoice,
    /// How long SIGTERM/SIGINT lets in-flight transactions finish, in milliseconds.
    pub drain_ms: u64,
    /// Datagrams read per receive call (poll backend) and sends per submission.
    pub batch: u32,
    /// Receive buffers per worker (io_uring provided-buffer ring); a power of two.
    pub recv_buffers: u32,
    /// Size of one receive buffer in bytes; a larger datagram is dropped and counted.
    pub recv_buffer_size: u32,
    /// Capacity of each worker's cross-worker handoff queue (datagrams).
    pub handoff_queue: u32,
    /// io_uring: how long a busy worker may wait to gather completions into one loop turn,
    /// in microseconds (Linux 6.12+; ignored elsewhere); an idle worker still wakes on its
    /// first datagram at once. 0 = one turn per wake-up. Trades latency for CPU per call.
    pub coalesce_us: u32,
    /// Timer wake-ups rounded up to this grid in milliseconds, so that timers due close
    /// together share one wake-up (SIP timers are hundreds of ms). 0 = exact.
    pub timer_slack_ms: u32,
    /// Let the allocator back the heap with transparent huge pages. Off by default: a
    /// huge-page fault zeroes (and on a VM may first fault in from the host) 2 MiB at once,
    /// which stalled workers for 50-150 ms and set the latency tail (p99 set-up 25-90 ms
    /// against 0.7-0.9 ms without, benches/results/cpu_per_call.md).
    pub transparent_huge_pages: bool,
}

/// `[sockets]`: kernel socket options.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SocketsSection {
    /// `SO_RCVBUF` in bytes (0 keeps the kernel default). Capped by `net.core.rmem_max`.
    pub recv_buffer: u64,
    /// `SO_SNDBUF` in bytes (0 keeps the kernel default). Capped by `net.core.wmem_max`.
    pub send_buffer: u64,
}

/// `[sip]`: protocol timers and limits, in milliseconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SipSection {
    /// RFC 3261 §17.1.1.1: T1, the round-trip estimate (default 500 ms).
    pub t1_ms: u64,
    /// RFC 3261 §17.1.2.2: T2, the cap on non-INVITE retransmission intervals (default 4 s).
    pub t2_ms: u64,
    /// RFC 3261 §17.1.2.2: T4, how long a message may live in the network (default 5 s).
    pub t4_ms: u64,
    /// Time to wait for any response to a forwarded request before answering 408
    /// (RFC 3261 §17.1.1.2 Timer B / §17.1.2.2 Timer F: 64*T1 = 32 s).
    pub final_response_timeout_ms: u64,
    /// Time an INVITE may ring (after a provisional response) before it is cancelled and
    /// answered 408 (OpenSIPS `fr_inv_timeout`).
    pub no_answer_timeout_ms: u64,
    /// RFC 3261 §16.6 step 11: Timer C for proxied INVITEs, which MUST be over 3 minutes.
    pub timer_c_ms: u64,
    /// Most transactions one worker holds; beyond it new requests get 503. Finished ones
    /// linger 32 s (Timer J / RFC 6026 Timer L): N calls/s keep about 64·N.
    pub max_transactions: u64,
}

/// `[files]`: the other files Ringlet reads and writes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FilesSection {
    /// The forwarding table (domains, subscribers, routes). Registrations persist in
    /// `[registrar] db_path`.
    pub table: PathBuf,
}

/// `[management]`: the HTTP management listener.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ManagementSection {
    /// TCP address of the management API (statistics, reload).
    #[serde(with = "values::socket_addr")]
    pub listen: SocketAddr,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: vec![SocketAddr::V4(SocketAddrV4::new(
                Ipv4Addr::LOCALHOST,
                SIP_DEFAULT_PORT,
            ))],
            log_level: LogLevel::Info,
            runtime: RuntimeSection::default(),
            sockets: SocketsSection::default(),
            sip: SipSection::default(),
            files: FilesSection::default(),
            management: ManagementSection::default(),
            auth: crate::auth::AuthConfig::default(),
            registrar: crate::registrar::RegistrarConfig::default(),
            provider: crate::proxy::provider::ProviderConfig::default(),
        }
    }
}

impl Default for RuntimeSection {
    fn default() -> Self {
        RuntimeSection {
            workers: WorkerCount::Auto,
            cores: CoreSet::Auto,
            io: IoBackendChoice::Auto,
            drain_ms: 5_000,
            batch: 64,
            recv_buffers: 1024,
            recv_buffer_size: 16 * 1024,
            handoff_queue: 4096,
            coalesce_us: 200,
            timer_slack_ms: 10,
            transparent_huge_pages: false,
        }
    }
}

impl Default for SocketsSection {
    fn default() -> Self {
        SocketsSection {
            recv_buffer: 4 * 1024 * 1024,
            send_buffer: 4 * 1024 * 1024,
        }
    }
}

impl Default for SipSection {
    fn default() -> Self {
        SipSection {
            t1_ms: 500,
            t2_ms: 4_000,
            t4_ms: 5_000,
            // RFC 3261 §17.1.1.2: Timer B = 64*T1.
            final_response_timeout_ms: 32_000,
            no_answer_timeout_ms: 120_000,
            // RFC 3261 §16.6 step 11: "larger than 3 minutes".
            timer_c_ms: 185_000,
            max_transactions: 1_048_576,
        }
    }
}

impl Default for FilesSection {
    fn default() -> Self {
        FilesSection {
            table: PathBuf::from("ringlet.table"),
        }
    }
}

impl Default for ManagementSection {
    fn default() -> Self {
        ManagementSection {
            listen: SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 8060)),
        }
    }
}

/// Bounds of the values `validate` accepts, named so the error messages and docs agree.
pub mod limits {
    pub const MAX_WORKERS: u32 = 1024;
    /// `CPU_SETSIZE` on Linux: the largest core number `sched_setaffinity` can name.
    pub const MAX_CORE: u32 = 1023;
    pub const MAX_DRAIN_MS: u64 = 3_600_000;
    pub const MAX_BATCH: u32 = 1024;
    /// The kernel's provided-buffer ring holds at most 2^15 entries.
    pub const MAX_RECV_BUFFERS: u32 = 32_768;
    pub const MIN_RECV_BUFFER_SIZE: u32 = 1024;
    /// The largest UDP payload plus room for the io_uring recvmsg header and address.
    pub const MAX_RECV_BUFFER_SIZE: u32 = 65_536 + 1024;
    pub const MIN_SOCKET_BUFFER: u64 = 4096;
    /// `SO_RCVBUF`/`SO_SNDBUF` take an `int`, which the kernel doubles.
    pub const MAX_SOCKET_BUFFER: u64 = (i32::MAX / 2) as u64;
    /// RFC 3261 §16.6 step 11: Timer C MUST be larger than 3 minutes.
    pub const MIN_TIMER_C_MS: u64 = 180_001;
    pub const MAX_TIMER_MS: u64 = 24 * 3_600_000;
}

impl Config {
    /// Read, parse and validate a configuration file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::io(path, &e))?;
        Config::from_toml_str(&text).map_err(|e| e.in_file(path))
    }

    /// Parse and validate configuration text (errors carry line numbers, not a file name).
    pub fn from_toml_str(text: &str) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| {
            let mut e = ConfigError::from_toml(text, &e);
            if e.key.as_deref() == Some("files.registrations") {
                e.message = "moved: the registrations database is now [registrar] db_path".into();
            }
            e
        })?;
        config.validate().map_err(|e| e.locate(text))?;
        Ok(config)
    }

    /// The effective configuration as TOML, every default filled in.
    pub fn to_toml_string(&self) -> String {
        // Serialising plain structs of strings, integers and arrays cannot fail.
        toml::to_string(self).unwrap_or_else(|e| format!("# cannot print configuration: {e}\n"))
    }

    /// Check every value that parses but cannot work. The error names the dotted key; the
    /// caller maps it to a line with [`ConfigError::locate`].
    pub fn validate(&self) -> Result<(), ConfigError> {
        use limits::*;
        let bad = |key: &str, msg: String| Err(ConfigError::value(key, msg));

        if self.listen.is_empty() {
            return bad(
                "listen",
                "must name at least one address, e.g. [\"127.0.0.1:5060\"]".into(),
            );
        }
        for (i, a) in self.listen.iter().enumerate() {
            if self.listen[..i].contains(a) {
                return bad(
                    "listen",
                    format!("{a} is listed twice; each address must be unique"),
                );
            }
        }

        let rt = &self.runtime;
        if let WorkerCount::Count(n) = rt.workers {
            if n == 0 || n > MAX_WORKERS {
                return bad(
                    "runtime.workers",
                    format!("{n} is out of range; allowed: \"auto\" or 1..={MAX_WORKERS}"),
                );
            }
        }
        if let CoreSet::List(cores) = &rt.cores {
            if cores.is_empty() {
                return bad(
                    "runtime.cores",
                    "an empty list pins nothing; use \"auto\", \"none\" or core numbers".into(),
                );
            }
            for (i, c) in cores.iter().enumerate() {
                if *c > MAX_CORE {
                    return bad(
                        "runtime.cores",
                        format!("core {c} is out of range; allowed: 0..={MAX_CORE}"),
                    );
                }
                if cores[..i].contains(c) {
                    return bad(
                        "runtime.cores",
                        format!("core {c} is listed twice; one worker per core"),
                    );
                }
            }
            if let WorkerCount::Count(n) = rt.workers {
                if n as usize != cores.len() {
                    return bad(
                        "runtime.workers",
                        format!(
                            "{n} workers but runtime.cores lists {} cores; use \"auto\" or one worker per listed core",
                            cores.len()
                        ),
                    );
                }
            }
        }
        if rt.drain_ms > MAX_DRAIN_MS {
            return bad(
                "runtime.drain_ms",
                format!(
                    "{} is out of range; allowed: 0..={MAX_DRAIN_MS}",
                    rt.drain_ms
                ),
            );
        }
        if rt.batch == 0 || rt.batch > MAX_BATCH {
            return bad(
                "runtime.batch",
                format!("{} is out of range; allowed: 1..={MAX_BATCH}", rt.batch),
            );
        }
        if !rt.recv_buffers.is_power_of_two() || rt.recv_buffers > MAX_RECV_BUFFERS {
            return bad(
                "runtime.recv_buffers",
                format!(
                    "{} is not allowed; must be a power of two in 1..={MAX_RECV_BUFFERS}",
                    rt.recv_buffers
                ),
            );
        }
        if !(MIN_RECV_BUFFER_SIZE..=MAX_RECV_BUFFER_SIZE).contains(&rt.recv_buffer_size) {
            return bad(
                "runtime.recv_buffer_size",
                format!(
                    "{} is out of range; allowed: {MIN_RECV_BUFFER_SIZE}..={MAX_RECV_BUFFER_SIZE} bytes",
                    rt.recv_buffer_size
                ),
            );
        }
        if rt.handoff_queue == 0 {
            return bad(
                "runtime.handoff_queue",
                "0 is not allowed; must be at least 1".into(),
            );
        }
        if rt.coalesce_us > 100_000 {
            return bad(
                "runtime.coalesce_us",
                format!(
                    "{} is out of range; allowed: 0..=100000 microseconds",
                    rt.coalesce_us
                ),
            );
        }
        if rt.timer_slack_ms > 100 {
            return bad(
                "runtime.timer_slack_ms",
                format!(
                    "{} is out of range; allowed: 0..=100 milliseconds (T1 is 500)",
                    rt.timer_slack_ms
                ),
            );
        }

        for (key, v) in [
            ("sockets.recv_buffer", self.sockets.recv_buffer),
            ("sockets.send_buffer", self.sockets.send_buffer),
        ] {
            if v != 0 && !(MIN_SOCKET_BUFFER..=MAX_SOCKET_BUFFER).contains(&v) {
                return bad(
                    key,
                    format!("{v} is out of range; allowed: 0 (kernel default) or {MIN_SOCKET_BUFFER}..={MAX_SOCKET_BUFFER} bytes"),
                );
            }
        }

        let sip = &self.sip;
        for (key, v) in [
            ("sip.t1_ms", sip.t1_ms),
            ("sip.t2_ms", sip.t2_ms),
            ("sip.t4_ms", sip.t4_ms),
            (
                "sip.final_response_timeout_ms",
                sip.final_response_timeout_ms,
            ),
            ("sip.no_answer_timeout_ms", sip.no_answer_timeout_ms),
            ("sip.timer_c_ms", sip.timer_c_ms),
        ] {
            if v == 0 || v > MAX_TIMER_MS {
                return bad(
                    key,
                    format!("{v} is out of range; allowed: 1..={MAX_TIMER_MS} ms"),
                );
            }
        }
        if sip.t2_ms < sip.t1_ms {
            return bad(
                "sip.t2_ms",
                format!(
                    "{} is below t1_ms ({}); RFC 3261 §17.1.2.2 needs T2 >= T1",
                    sip.t2_ms, sip.t1_ms
                ),
            );
        }
        if sip.final_response_timeout_ms < sip.t1_ms {
            return bad(
                "sip.final_response_timeout_ms",
                format!(
                    "{} is below t1_ms ({}); no response could ever arrive in time",
                    sip.final_response_timeout_ms, sip.t1_ms
                ),
            );
        }
        if sip.timer_c_ms < MIN_TIMER_C_MS {
            return bad(
                "sip.timer_c_ms",
                format!("{} is too short; RFC 3261 §16.6 step 11 requires more than 3 minutes (>= {MIN_TIMER_C_MS})", sip.timer_c_ms),
            );
        }
        if sip.max_transactions == 0 {
            return bad(
                "sip.max_transactions",
                "0 is not allowed; must be at least 1".into(),
            );
        }

        if self.files.table.as_os_str().is_empty() {
            return bad("files.table", "must not be empty; give a file path".into());
        }
        if let Err(e) = self.auth.validate() {
            return bad(&format!("auth.{}", e.key), e.reason);
        }
        if let Err(e) = self.registrar.validate() {
            return bad(&format!("registrar.{}", e.key), e.reason);
        }
        if let Err((key, reason)) = self.provider.validate() {
            return bad(key, reason);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_is_the_defaults() {
        assert_eq!(Config::from_toml_str("").unwrap(), Config::default());
    }

    #[test]
    fn defaults_validate_and_round_trip() {
        let d = Config::default();
        d.validate().unwrap();
        assert_eq!(Config::from_toml_str(&d.to_toml_string()).unwrap(), d);
    }

    #[test]
    fn unknown_key_names_key_and_line() {
        let e = Config::from_toml_str("log_level = \"info\"\n\n[sip]\nt1_ms = 400\nt3_ms = 9\n")
            .unwrap_err();
        assert_eq!(e.line, Some(5), "{e}");
        assert_eq!(e.key.as_deref(), Some("sip.t3_ms"), "{e}");
        assert!(
            e.to_string().contains("t1_ms"),
            "lists what is allowed: {e}"
        );
    }

    #[test]
    fn wrong_type_names_key_and_line() {
        let e = Config::from_toml_str("[runtime]\n\ndrain_ms = \"5s\"\n").unwrap_err();
        assert_eq!(e.line, Some(3), "{e}");
        assert_eq!(e.key.as_deref(), Some("runtime.drain_ms"), "{e}");
    }

    #[test]
    fn impossible_value_names_key_and_line() {
        let e = Config::from_toml_str("[sip]\nt1_ms = 500\nt2_ms = 100\n").unwrap_err();
        assert_eq!(e.line, Some(3), "{e}");
        assert_eq!(e.key.as_deref(), Some("sip.t2_ms"), "{e}");
        let e = Config::from_toml_str("[runtime]\nrecv_buffers = 1000\n").unwrap_err();
        assert_eq!(
            (e.line, e.key.as_deref()),
            (Some(2), Some("runtime.recv_buffers")),
            "{e}"
        );
        let e = Config::from_toml_str("sip.timer_c_ms = 60000\n").unwrap_err();
        assert_eq!(
            (e.line, e.key.as_deref()),
            (Some(1), Some("sip.timer_c_ms")),
            "{e}"
        );
    }

    #[test]
    fn listen_accepts_v4_and_v6_and_refuses_names() {
        let c = Config::from_toml_str("listen = [\"127.0.0.1:5070\", \"[::1]:5070\"]\n").unwrap();
        assert_eq!(c.listen.len(), 2);
        assert!(c.listen[1].is_ipv6());
        let e = Config::from_toml_str("listen = [\"localhost:5060\"]\n").unwrap_err();
        assert_eq!((e.line, e.key.as_deref()), (Some(1), Some("listen")), "{e}");
    }

    #[test]
    fn workers_and_cores_forms() {
        let c = Config::from_toml_str("[runtime]\nworkers = 3\ncores = \"none\"\nio = \"poll\"\n")
            .unwrap();
        assert_eq!(c.runtime.workers, WorkerCount::Count(3));
        assert_eq!(c.runtime.cores, CoreSet::None);
        assert_eq!(c.runtime.io, IoBackendChoice::Poll);
        let c = Config::from_toml_str("[runtime]\ncores = [0, 1]\n").unwrap();
        assert_eq!(c.runtime.cores, CoreSet::List(vec![0, 1]));
        let e = Config::from_toml_str("[runtime]\nworkers = 3\ncores = [0, 1]\n").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("runtime.workers"), "{e}");
        let e = Config::from_toml_str("[runtime]\nworkers = \"many\"\n").unwrap_err();
        assert_eq!(
            (e.line, e.key.as_deref()),
            (Some(2), Some("runtime.workers")),
            "{e}"
        );
        let e = Config::from_toml_str("[runtime]\nio = \"epoll\"\n").unwrap_err();
        assert!(e.to_string().contains("uring"), "{e}");
    }

    #[test]
    fn registrar_and_provider_sections_are_read_and_checked() {
        let c = Config::from_toml_str(
            "[registrar]\nmax_expires = 7200\ndb_path = \"\"\n[provider]\nopen_relay = true\n",
        )
        .unwrap();
        assert_eq!(c.registrar.max_expires, 7200);
        assert_eq!(c.registrar.db_file(), None);
        assert!(c.provider.open_relay);
        assert_eq!(Config::from_toml_str(&c.to_toml_string()).unwrap(), c);
        let e = Config::from_toml_str("[registrar]\n\nmin_expires = 7200\n").unwrap_err();
        assert_eq!(
            (e.line, e.key.as_deref()),
            (Some(3), Some("registrar.min_expires")),
            "{e}"
        );
        let e = Config::from_toml_str("[provider]\nbusy_codes = [200]\n").unwrap_err();
        assert_eq!(
            (e.line, e.key.as_deref()),
            (Some(2), Some("provider.busy_codes")),
            "{e}"
        );
        let e = Config::from_toml_str("[registrar]\nmax_expire = 1\n").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("registrar.max_expire"), "{e}");
        let e = Config::from_toml_str("[files]\nregistrations = \"r.db\"\n").unwrap_err();
        assert!(e.to_string().contains("[registrar] db_path"), "{e}");
    }

    #[test]
    fn syntax_error_has_a_line() {
        let e = Config::from_toml_str("[sip]\nt1_ms = = 3\n").unwrap_err();
        assert_eq!(e.line, Some(2), "{e}");
    }
}

#[cfg(test)]
mod runtime_knob_defaults {
    use std::time::Duration;

    /// The config's defaults are the runtime's documented ones (the layers cannot share the
    /// constant: config sits below runtime).
    #[test]
    fn coalesce_and_slack_defaults_match_the_runtime() {
        let rt = crate::runtime::RuntimeConfig::from_config(&super::Config::default());
        assert_eq!(rt.coalesce, crate::runtime::DEFAULT_COALESCE);
        assert_eq!(rt.timer_slack, crate::runtime::DEFAULT_TIMER_SLACK);
        assert_eq!(rt.coalesce, Duration::from_micros(200));
    }
}
