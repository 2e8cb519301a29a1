//! Workers, sockets, io_uring and poll backends, core pinning, signals: the only layer that
//! does I/O. It drives any protocol core through the [`Endpoint`] trait (src/endpoint.rs).
//!
//! # Public API (used by `ringlet run`, the load generator and tests)
//!
//! ```text
//!   let cfg = RuntimeConfig::new(vec!["127.0.0.1:0".parse()?], 2);   // or from_config(&Config)
//!   let handle = Runtime::start(cfg, |w: &WorkerInfo| -> Box<dyn Endpoint> { ... })?;
//!   handle.local_addrs()        // per worker, per listener: the addresses actually bound
//!   handle.counters()           // Vec<CounterSnapshot>, one per worker; handle.total() sums
//!   handle.shutdown(drain)      // stop reading; endpoints finish in-flight work up to `drain`
//!   handle.join()               // wait for the workers; returns the final summed counters
//!   serve(cfg, factory, drain, on_reload)   // start + SIGTERM/SIGINT/SIGHUP handling
//! ```
//!
//! - The factory runs on the calling thread, once per worker, before any worker starts; it
//!   gets a [`WorkerInfo`] (index, count, bound addresses, backend) and returns that worker's
//!   endpoint, which then lives on the worker thread.
//! - [`ListenMode::Shared`] (the proxy): every worker binds every listen address with
//!   `SO_REUSEPORT`; a port 0 is resolved once by worker 0 and the others bind the same port.
//!   [`ListenMode::PerWorker`] (the load generator): each worker binds its own sockets, so port
//!   0 gives every worker its own ephemeral source ports; list an address several times to get
//!   several source ports per worker. `Incoming::local`/`Transmit::local` index this list.
//! - Draining: a worker stops reading its sockets (handoffs and timers still run) and leaves
//!   once its endpoint reports `is_idle()` (by default: `next_timeout()` is `None`) and its
//!   sends are done, or when the drain time is over (counted in `drain_expired`). An
//!   endpoint with work in flight must therefore not report idle and keep returning a
//!   deadline; responses arriving on the sockets are no longer read while draining, so
//!   in-flight transactions end through their timers.
//! - [`IoBackendChoice`]: `Auto` probes io_uring once and falls back to poll with one log
//!   line saying why; `Uring` refuses to start without it; `Poll` never tries it.
//!
//! # Threads and ownership
//!
//! ```text
//!   main thread ── Runtime::start ──► worker 0 (pinned core c0): sockets, ring|poll, endpoint 0
//!        │                       └──► worker 1 (pinned core c1): sockets, ring|poll, endpoint 1
//!        │ RuntimeHandle: Control (phase + drain deadline), counters, wake eventfds
//!        └─ shutdown(): phase = Draining, write every eventfd ──► workers stop reading,
//!           keep running timers and handoffs until the endpoint has no deadline left or the
//!           drain deadline passes, then reap their I/O and exit.
//! ```
//!
//! Nothing is shared on the hot path except the handoff queues (see `handoff.rs`) and the
//! counters (single writer, see `counters.rs`).

pub mod affinity;
mod buf_ring;
pub mod counters;
mod handoff;
pub mod huge_pages;
pub mod log;
mod poll;
pub mod signals;
mod slack;
pub mod socket;
mod uring;
mod worker;

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::Duration;

pub use counters::{CounterSnapshot, IoBackend, WorkerCounters};
pub use socket::SocketOptions;

use crate::config::{Config, CoreSet, IoBackendChoice, WorkerCount};
use crate::endpoint::Endpoint;
use handoff::{EventFd, Peer};
use signals::{Signal, SignalWaiter};
use worker::{Control, WorkerCore};

/// How workers share listen addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListenMode {
    /// Every worker binds every address (`SO_REUSEPORT`); port 0 resolves to one port for all.
    Shared,
    /// Every worker binds its own sockets; port 0 gives each worker its own port.
    PerWorker,
}

/// Which cores the workers run on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pinning {
    None,
    /// Worker i is pinned to `cores[i]` (same length as the worker count).
    Cores(Vec<usize>),
}

/// Everything the runtime needs; built from a [`Config`] or by hand (load generator, tests).
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    pub listen: Vec<SocketAddr>,
    pub listen_mode: ListenMode,
    pub workers: usize,
    pub pinning: Pinning,
    pub io: IoBackendChoice,
    /// Datagrams per recvmmsg / sends per submission.
    pub batch: usize,
    /// Provided buffers per worker (power of two, <= 32768).
    pub recv_buffers: u16,
    /// Bytes per receive buffer; longer datagrams are dropped and counted.
    pub recv_buffer_size: usize,
    /// Capacity of each worker's handoff queue.
    pub handoff_queue: usize,
    pub sockets: SocketOptions,
    /// Worker threads are named `{thread_name}-{index}`.
    pub thread_name: String,
    /// Wake-ups for the endpoint's timers are rounded up to this grid (see `slack.rs`), so
    /// timers due close together share one wake-up; zero wakes at each deadline exactly.
    pub timer_slack: Duration,
    /// io_uring only (Linux 6.12+ min-wait, else ignored): once a wait has lasted this long,
    /// return with whatever completions arrived instead of one turn per datagram; an idle
    /// worker still wakes on its first datagram at once. Zero turns it off.
    pub coalesce: Duration,
}

/// The completion coalescing window `ringlet run` uses by default (`[runtime] coalesce_us`).
pub const DEFAULT_COALESCE: Duration = Duration::from_micros(200);

/// The timer slack `ringlet run` uses by default (`[runtime] timer_slack_ms`): 10 ms, 2 % of T1.
pub const DEFAULT_TIMER_SLACK: Duration = Duration::from_millis(10);

impl RuntimeConfig {
    /// `workers` unpinned workers sharing `listen`, backend chosen automatically, the
    /// configuration file's defaults for everything else.
    pub fn new(listen: Vec<SocketAddr>, workers: usize) -> RuntimeConfig {
        let d = Config::default();
        RuntimeConfig {
            listen,
            listen_mode: ListenMode::Shared,
            workers: workers.max(1),
            pinning: Pinning::None,
            io: IoBackendChoice::Auto,
            batch: d.runtime.batch as usize,
            recv_buffers: d.runtime.recv_buffers as u16,
            recv_buffer_size: d.runtime.recv_buffer_size as usize,
            handoff_queue: d.runtime.handoff_queue as usize,
            sockets: SocketOptions {
                recv_buffer: Some(d.sockets.recv_buffer as usize),
                send_buffer: Some(d.sockets.send_buffer as usize),
            },
            thread_name: "ringlet-w".into(),
            // Exact wake-ups: the load generator paces calls with its timers.
            timer_slack: Duration::ZERO,
            coalesce: Duration::ZERO,
        }
    }

    /// The runtime part of a validated configuration ("auto" resolved against the cores this
    /// process may use).
    pub fn from_config(c: &Config) -> RuntimeConfig {
        let available = affinity::available_cores();
        let workers = match (c.runtime.workers, &c.runtime.cores) {
            (WorkerCount::Count(n), _) => n as usize,
            (WorkerCount::Auto, CoreSet::List(l)) => l.len(),
            (WorkerCount::Auto, _) => available.len(),
        };
        let pinning = match &c.runtime.cores {
            CoreSet::None => Pinning::None,
            CoreSet::Auto => Pinning::Cores(
                (0..workers)
                    .map(|i| available[i % available.len()])
                    .collect(),
            ),
            CoreSet::List(l) => Pinning::Cores(l.iter().map(|c| *c as usize).collect()),
        };
        let size = |v: u64| if v == 0 { None } else { Some(v as usize) };
        RuntimeConfig {
            listen: c.listen.clone(),
            listen_mode: ListenMode::Shared,
            workers: workers.max(1),
            pinning,
            io: c.runtime.io,
            batch: c.runtime.batch as usize,
            // validate() bounds recv_buffers to a power of two <= 32768.
            recv_buffers: c.runtime.recv_buffers.min(32768) as u16,
            recv_buffer_size: c.runtime.recv_buffer_size as usize,
            handoff_queue: c.runtime.handoff_queue as usize,
            sockets: SocketOptions {
                recv_buffer: size(c.sockets.recv_buffer),
                send_buffer: size(c.sockets.send_buffer),
            },
            thread_name: "ringlet-w".into(),
            timer_slack: Duration::from_millis(u64::from(c.runtime.timer_slack_ms)),
            coalesce: Duration::from_micros(u64::from(c.runtime.coalesce_us)),
        }
    }
}

/// What an endpoint factory learns about the worker it builds for.
#[derive(Debug, Clone)]
pub struct WorkerInfo {
    pub index: usize,
    pub count: usize,
    /// The bound address of each listener, in `RuntimeConfig::listen` order (ports resolved).
    pub local_addrs: Vec<SocketAddr>,
    pub backend: IoBackend,
}

/// Starts workers; see the module documentation.
pub struct Runtime;

impl Runtime {
    /// Bind every socket, build every endpoint, start and pin every worker, and return once
    /// all of them are ready (or the first error, with every started worker stopped again).
    pub fn start<F>(config: RuntimeConfig, mut factory: F) -> io::Result<RuntimeHandle>
    where
        F: FnMut(&WorkerInfo) -> Box<dyn Endpoint>,
    {
        if config.listen.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "no listen address",
            ));
        }
        if let Pinning::Cores(c) = &config.pinning {
            if c.len() != config.workers {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "pinning must name one core per worker",
                ));
            }
        }
        let backend = choose_backend(config.io)?;
        let n = config.workers.max(1);

        let mut sockets: Vec<Vec<UdpSocket>> = Vec::with_capacity(n);
        let mut shared = config.listen.clone();
        for w in 0..n {
            let addrs = match config.listen_mode {
                ListenMode::Shared => shared.clone(),
                ListenMode::PerWorker => config.listen.clone(),
            };
            let mut socks = Vec::with_capacity(addrs.len());
            for (l, a) in addrs.iter().enumerate() {
                let s = socket::bind_udp(*a, config.sockets).map_err(|e| {
                    io::Error::new(e.kind(), format!("cannot bind udp {a} (worker {w}): {e}"))
                })?;
                if w == 0 && config.listen_mode == ListenMode::Shared {
                    shared[l] = s.local_addr()?;
                }
                socks.push(s);
            }
            sockets.push(socks);
        }
        let local_addrs: Vec<Vec<SocketAddr>> = sockets
            .iter()
            .map(|s| s.iter().map(|s| s.local_addr()).collect::<io::Result<_>>())
            .collect::<io::Result<_>>()?;

        let wakes: Vec<Arc<EventFd>> = (0..n)
            .map(|_| EventFd::new().map(Arc::new))
            .collect::<io::Result<_>>()?;
        let mut receivers = Vec::with_capacity(n);
        let mut peers = Vec::with_capacity(n);
        for wake in &wakes {
            let (tx, rx) = handoff::inbox(config.handoff_queue.max(1));
            peers.push(Peer {
                tx,
                wake: wake.clone(),
            });
            receivers.push(rx);
        }
        let peers: Arc<[Peer]> = peers.into();
        let control = Arc::new(Control::new(wakes));
        let counters: Vec<Arc<WorkerCounters>> = (0..n)
            .map(|_| Arc::new(WorkerCounters::default()))
            .collect();

        let (ready_tx, ready_rx) = mpsc::channel::<io::Result<()>>();
        let mut threads = Vec::with_capacity(n);
        for (index, (socks, inbox)) in sockets.into_iter().zip(receivers).enumerate() {
            let info = WorkerInfo {
                index,
                count: n,
                local_addrs: local_addrs[index].clone(),
                backend,
            };
            let endpoint = factory(&info);
            let core = WorkerCore::new(
                index,
                endpoint,
                counters[index].clone(),
                peers.clone(),
                inbox,
                control.clone(),
            );
            let pin = match &config.pinning {
                Pinning::None => None,
                Pinning::Cores(c) => Some(c[index]),
            };
            let knobs = Knobs {
                batch: config.batch,
                recv_buffers: config.recv_buffers,
                recv_buffer_size: config.recv_buffer_size,
                timer_slack: config.timer_slack,
                coalesce: config.coalesce,
            };
            let ready = ready_tx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("{}-{index}", config.thread_name))
                .spawn(move || worker_thread(core, socks, backend, pin, knobs, ready));
            match spawned {
                Ok(t) => threads.push(t),
                Err(e) => {
                    control.stop();
                    let _ = join_all(threads);
                    return Err(e);
                }
            }
        }
        drop(ready_tx);
        let mut first_err = None;
        for _ in 0..n {
            match ready_rx.recv() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    first_err.get_or_insert(e);
                }
                Err(_) => {
                    first_err
                        .get_or_insert(io::Error::other("a worker exited before it was ready"));
                }
            }
        }
        if let Some(e) = first_err {
            control.stop();
            let _ = join_all(threads);
            return Err(e);
        }
        Ok(RuntimeHandle {
            control,
            threads,
            counters,
            local_addrs,
            backend,
        })
    }
}

/// Whether the io_uring backend can run here, and if not, why (what `io = "auto"` logs).
pub fn probe_io_uring() -> Result<(), String> {
    uring::probe()
}

fn choose_backend(choice: IoBackendChoice) -> io::Result<IoBackend> {
    match choice {
        IoBackendChoice::Poll => Ok(IoBackend::Poll),
        IoBackendChoice::Uring => match uring::probe() {
            Ok(()) => Ok(IoBackend::Uring),
            Err(why) => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!("io = \"uring\" but {why}"),
            )),
        },
        IoBackendChoice::Auto => match uring::probe() {
            Ok(()) => Ok(IoBackend::Uring),
            Err(why) => {
                log::warn(format_args!(
                    "io_uring unavailable ({why}); using the poll backend"
                ));
                Ok(IoBackend::Poll)
            }
        },
    }
}

#[derive(Clone, Copy)]
struct Knobs {
    batch: usize,
    recv_buffers: u16,
    recv_buffer_size: usize,
    timer_slack: Duration,
    coalesce: Duration,
}

fn worker_thread(
    mut core: WorkerCore,
    sockets: Vec<UdpSocket>,
    backend: IoBackend,
    pin: Option<usize>,
    knobs: Knobs,
    ready: mpsc::Sender<io::Result<()>>,
) -> io::Result<()> {
    let index = core.index;
    let fail = |ready: &mpsc::Sender<io::Result<()>>, e: io::Error| {
        let e = io::Error::new(e.kind(), format!("worker {index}: {e}"));
        let _ = ready.send(Err(io::Error::new(e.kind(), e.to_string())));
        Err(e)
    };
    if let Some(c) = pin {
        if let Err(e) = affinity::pin_current_thread(c) {
            return fail(
                &ready,
                io::Error::new(e.kind(), format!("cannot pin to core {c}: {e}")),
            );
        }
    }
    let addrs = sockets
        .iter()
        .filter_map(|s| s.local_addr().ok())
        .map(|a| a.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let core_txt = pin.map_or("unpinned".to_string(), |c| format!("core {c}"));
    core.counters.set_backend(backend);
    let slack = slack::TimerSlack::new(std::time::Instant::now(), knobs.timer_slack);
    match backend {
        IoBackend::Uring => {
            let mut w = match uring::UringWorker::new(
                sockets,
                knobs.recv_buffers,
                knobs.recv_buffer_size,
                knobs.batch,
                slack,
                knobs.coalesce,
            ) {
                Ok(w) => w,
                Err(e) => {
                    return fail(
                        &ready,
                        io::Error::new(e.kind(), format!("io_uring setup failed: {e}")),
                    )
                }
            };
            log::info(format_args!(
                "worker {index}: {core_txt}, io_uring ({}), sockets {addrs}",
                w.setup_flags()
            ));
            let _ = ready.send(Ok(()));
            drop(ready);
            w.run(&mut core)
        }
        IoBackend::Poll => {
            let mut w =
                match poll::PollWorker::new(sockets, knobs.batch, knobs.recv_buffer_size, slack) {
                    Ok(w) => w,
                    Err(e) => return fail(&ready, e),
                };
            log::info(format_args!(
                "worker {index}: {core_txt}, poll (recvmmsg/sendmmsg), sockets {addrs}"
            ));
            let _ = ready.send(Ok(()));
            drop(ready);
            w.run(&mut core)
        }
    }
}

fn join_all(threads: Vec<JoinHandle<io::Result<()>>>) -> io::Result<()> {
    let mut first = Ok(());
    for (i, t) in threads.into_iter().enumerate() {
        let r = match t.join() {
            Ok(r) => r,
            Err(_) => Err(io::Error::other(format!("worker {i} panicked"))),
        };
        if let (Err(e), true) = (r, first.is_ok()) {
            first = Err(e);
        }
    }
    first
}

/// The running workers. Dropping it stops them at once (no drain) and waits for them.
pub struct RuntimeHandle {
    control: Arc<Control>,
    threads: Vec<JoinHandle<io::Result<()>>>,
    counters: Vec<Arc<WorkerCounters>>,
    local_addrs: Vec<Vec<SocketAddr>>,
    backend: IoBackend,
}

impl RuntimeHandle {
    /// Per worker, per listener: the bound addresses.
    pub fn local_addrs(&self) -> &[Vec<SocketAddr>] {
        &self.local_addrs
    }

    /// The backend every worker runs.
    pub fn backend(&self) -> IoBackend {
        self.backend
    }

    pub fn workers(&self) -> usize {
        self.counters.len()
    }

    /// One snapshot per worker.
    pub fn counters(&self) -> Vec<CounterSnapshot> {
        self.counters.iter().map(|c| c.snapshot()).collect()
    }

    /// The sum over all workers.
    pub fn total(&self) -> CounterSnapshot {
        sum(&self.counters)
    }

    /// Stop reading; let endpoints finish in-flight work for at most `drain`, then exit.
    pub fn shutdown(&self, drain: Duration) {
        self.control.shutdown(drain);
    }

    /// True once any worker has exited (after a shutdown, or on its own after an error).
    pub fn is_finished(&self) -> bool {
        self.threads.iter().any(|t| t.is_finished())
    }

    /// Wait for every worker; the first worker error, or the final summed counters.
    pub fn join(mut self) -> io::Result<CounterSnapshot> {
        let threads = std::mem::take(&mut self.threads);
        join_all(threads)?;
        Ok(sum(&self.counters))
    }
}

impl Drop for RuntimeHandle {
    fn drop(&mut self) {
        if !self.threads.is_empty() {
            self.control.stop();
            let _ = join_all(std::mem::take(&mut self.threads));
        }
    }
}

fn sum(counters: &[Arc<WorkerCounters>]) -> CounterSnapshot {
    let mut total = CounterSnapshot::default();
    for c in counters {
        total += c.snapshot();
    }
    total
}

/// Run until SIGTERM/SIGINT (then drain for up to `drain` and return the final counters);
/// SIGHUP calls `on_reload`. Blocks those signals in the calling thread before any worker
/// starts, so only this thread ever receives them.
pub fn serve<F, R>(
    config: RuntimeConfig,
    factory: F,
    drain: Duration,
    mut on_reload: R,
) -> io::Result<CounterSnapshot>
where
    F: FnMut(&WorkerInfo) -> Box<dyn Endpoint>,
    R: FnMut(),
{
    let signals = SignalWaiter::install()?;
    let handle = Runtime::start(config, factory)?;
    let listen: Vec<String> = handle.local_addrs()[0]
        .iter()
        .map(|a| a.to_string())
        .collect();
    log::info(format_args!(
        "listening on udp {} with {} workers ({})",
        listen.join(", "),
        handle.workers(),
        handle.backend().name()
    ));
    loop {
        match signals.wait(Duration::from_millis(200)) {
            Some(Signal::Terminate(sig)) => {
                log::info(format_args!(
                    "signal {sig}: no longer reading; draining for up to {} ms",
                    drain.as_millis()
                ));
                handle.shutdown(drain);
                break;
            }
            Some(Signal::Reload) => {
                log::info(format_args!("SIGHUP: reloading"));
                on_reload();
            }
            None => {
                if handle.is_finished() {
                    log::error(format_args!("a worker stopped on its own; shutting down"));
                    handle.shutdown(Duration::ZERO);
                    break;
                }
            }
        }
    }
    handle.join()
}
