//! Datagrams per second through the stateless relay, io_uring and poll side by side.
//!
//! The proxy under test runs in this process on the real runtime (`Runtime::start` with
//! `StatelessProxy`), on a loopback port, with the backend being measured. The load comes
//! from a second runtime in the same process (always the same backend, so only the proxy's
//! backend changes between rows) whose endpoint is a closed-loop client: each socket keeps
//! `window` requests outstanding and sends a new one for every answer. Two modes:
//!
//! ```text
//!   options: client ──OPTIONS──► proxy ──200──► client                 2 proxy datagrams
//!   relay:   client ──MESSAGE──► proxy ──► uas ──200──► proxy ──► client  4 proxy datagrams
//! ```
//!
//! Bounded: each row runs `--seconds` (default 3) after a 0.5 s warm-up, and stops early
//! at `--max` answered requests. Loopback only. Run with benches/datagram_rate.sh.

use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ringlet::config::IoBackendChoice;
use ringlet::endpoint::{Endpoint, Incoming, Outbox};
use ringlet::proxy::stateless::StatelessProxy;
use ringlet::runtime::{ListenMode, Runtime, RuntimeConfig};
use ringlet::sip;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    Options,
    Relay,
}

struct Shared {
    answered: AtomicU64,
    sent: AtomicU64,
    running: AtomicBool,
}

/// Closed-loop load: listeners 0..n-1 are client sockets, listener n-1 is the UAS in relay
/// mode (it answers every request it receives with 200 to the sender).
struct LoadClient {
    mode: Mode,
    proxy: SocketAddr,
    locals: Vec<SocketAddr>,
    uas: Option<SocketAddr>,
    window: usize,
    shared: Arc<Shared>,
    seq: u64,
    next_tick: Instant,
    primed: bool,
    last_answered: u64,
}

const TICK: Duration = Duration::from_millis(100);

impl LoadClient {
    fn client_listeners(&self) -> usize {
        self.locals.len() - usize::from(self.uas.is_some())
    }

    fn send_request(&mut self, l: u16, out: &mut Outbox) {
        if !self.shared.running.load(Relaxed) {
            return;
        }
        self.seq += 1;
        let seq = self.seq;
        let me = self.locals[l as usize];
        let proxy = self.proxy;
        let (method, ruri) = match (self.mode, self.uas) {
            (Mode::Relay, Some(uas)) => ("MESSAGE", format!("sip:uas@{uas}")),
            _ => ("OPTIONS", format!("sip:{proxy}")),
        };
        out.send_with(l, proxy, |b| {
            let _ = write!(
                b,
                "{method} {ruri} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKld{seq};rport\r\n\
                 Max-Forwards: 70\r\nFrom: <sip:load@127.0.0.1>;tag=ld{l}\r\nTo: <{ruri}>\r\n\
                 Call-ID: ld{seq}@127.0.0.1\r\nCSeq: {seq} {method}\r\nContent-Length: 0\r\n\r\n"
            );
        });
        self.shared.sent.fetch_add(1, Relaxed);
    }

    fn prime(&mut self, out: &mut Outbox) {
        for l in 0..self.client_listeners() {
            for _ in 0..self.window {
                self.send_request(l as u16, out);
            }
        }
    }
}

impl Endpoint for LoadClient {
    fn on_datagram(&mut self, _now: Instant, inc: Incoming<'_>, out: &mut Outbox) {
        let Ok(msg) = sip::parse(inc.bytes) else {
            return;
        };
        if msg.is_request() {
            // The UAS: answer 200 to whoever sent it (the proxy).
            let reply = sip::Reply::new(200, "OK").with_to_tag(b"uas");
            out.send_with(inc.local, inc.src, |b| {
                let _ = sip::write_response(&msg, &reply, b);
            });
            return;
        }
        self.shared.answered.fetch_add(1, Relaxed);
        self.send_request(inc.local, out);
    }

    fn on_timeout(&mut self, now: Instant, out: &mut Outbox) {
        self.next_tick = now + TICK;
        let answered = self.shared.answered.load(Relaxed);
        if !self.primed || answered == self.last_answered {
            // Start, or recover a window lost to drops: nothing came back for a whole tick.
            self.primed = true;
            self.prime(out);
        }
        self.last_answered = answered;
    }

    fn next_timeout(&self) -> Option<Instant> {
        Some(self.next_tick)
    }
}

struct Row {
    backend: &'static str,
    mode: Mode,
    workers: usize,
    seconds: f64,
    answered: u64,
    proxy_datagrams: u64,
    proxy_dropped: u64,
    proxy_turns: u64,
    proxy_cpu_ns: u64,
    client_cpu_ns: u64,
    proxy_sleeps: u64,
}

/// The knobs shared by every row.
#[derive(Clone, Copy)]
struct Shape {
    workers: usize,
    seconds: f64,
    max: u64,
    sockets: usize,
    window: usize,
}

fn run_row(io: IoBackendChoice, client_io: IoBackendChoice, mode: Mode, shape: Shape) -> Row {
    let Shape {
        workers,
        seconds,
        max,
        sockets,
        window,
    } = shape;
    let mut cfg = RuntimeConfig::new(vec!["127.0.0.1:0".parse().unwrap()], workers);
    cfg.io = io;
    cfg.thread_name = "proxy".into();
    let proxy = Runtime::start(cfg, |w| {
        Box::new(StatelessProxy::new(w.local_addrs.clone()))
    })
    .expect("proxy starts");
    let proxy_addr = proxy.local_addrs()[0][0];

    let shared = Arc::new(Shared {
        answered: AtomicU64::new(0),
        sent: AtomicU64::new(0),
        running: AtomicBool::new(true),
    });
    let listeners = sockets + usize::from(mode == Mode::Relay);
    let mut ccfg = RuntimeConfig::new(vec!["127.0.0.1:0".parse().unwrap(); listeners], 1);
    ccfg.listen_mode = ListenMode::PerWorker;
    ccfg.io = client_io;
    ccfg.thread_name = "load".into();
    let s2 = shared.clone();
    let client = Runtime::start(ccfg, move |w| {
        let uas = (mode == Mode::Relay).then(|| *w.local_addrs.last().unwrap());
        Box::new(LoadClient {
            mode,
            proxy: proxy_addr,
            locals: w.local_addrs.clone(),
            uas,
            window,
            shared: s2.clone(),
            seq: 0,
            next_tick: Instant::now(),
            primed: false,
            last_answered: 0,
        })
    })
    .expect("load client starts");

    std::thread::sleep(Duration::from_millis(500));
    let a0 = shared.answered.load(Relaxed);
    let p0 = proxy.total();
    let c0 = cpu_ns("proxy-");
    let l0 = cpu_ns("load-");
    let s0 = sleeps("proxy-");
    let t0 = Instant::now();
    let limit = Duration::from_secs_f64(seconds);
    while t0.elapsed() < limit && shared.answered.load(Relaxed) - a0 < max {
        std::thread::sleep(Duration::from_millis(20));
    }
    let elapsed = t0.elapsed().as_secs_f64();
    let a1 = shared.answered.load(Relaxed);
    let p1 = proxy.total();
    let c1 = cpu_ns("proxy-");
    let l1 = cpu_ns("load-");
    let s1 = sleeps("proxy-");
    shared.running.store(false, Relaxed);
    client.shutdown(Duration::ZERO);
    let _ = client.join();
    proxy.shutdown(Duration::ZERO);
    let _ = proxy.join();
    Row {
        backend: match io {
            IoBackendChoice::Uring => "io_uring",
            _ => "poll",
        },
        mode,
        workers,
        seconds: elapsed,
        answered: a1 - a0,
        proxy_datagrams: (p1.datagrams_in + p1.datagrams_out)
            - (p0.datagrams_in + p0.datagrams_out),
        proxy_dropped: (p1.drop_socket_overflow + p1.send_errors)
            - (p0.drop_socket_overflow + p0.send_errors),
        proxy_turns: p1.loop_turns - p0.loop_turns,
        proxy_cpu_ns: c1 - c0,
        client_cpu_ns: l1 - l0,
        proxy_sleeps: s1 - s0,
    }
}

/// Nanoseconds on CPU so far of this process's threads whose name starts with `prefix`
/// (from /proc/self/task/*/schedstat): the proxy's cost, independent of what else runs.
fn cpu_ns(prefix: &str) -> u64 {
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    let mut total = 0;
    for task in dir.flatten() {
        let p = task.path();
        let comm = std::fs::read_to_string(p.join("comm")).unwrap_or_default();
        if comm.trim_end().starts_with(prefix) {
            let stat = std::fs::read_to_string(p.join("schedstat")).unwrap_or_default();
            total += stat
                .split_whitespace()
                .next()
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    total
}

/// Voluntary context switches (sleeps) so far of the threads named `prefix*`.
fn sleeps(prefix: &str) -> u64 {
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    let mut total = 0;
    for task in dir.flatten() {
        let p = task.path();
        let comm = std::fs::read_to_string(p.join("comm")).unwrap_or_default();
        if comm.trim_end().starts_with(prefix) {
            let status = std::fs::read_to_string(p.join("status")).unwrap_or_default();
            total += status
                .lines()
                .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
                .and_then(|v| v.trim().parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    total
}

fn arg<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> T {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    // `cargo bench` passes `--bench`; ignore what we do not know.
    let seconds: f64 = arg(&args, "--seconds", 3.0f64).clamp(0.5, 30.0);
    let max: u64 = arg(&args, "--max", 50_000_000u64);
    let workers: usize = arg(&args, "--workers", 1usize).clamp(1, 64);
    let sockets: usize = arg(&args, "--sockets", 8usize).clamp(1, 256);
    let window: usize = arg(&args, "--window", 32usize).clamp(1, 1024);
    let modes: Vec<Mode> = match args
        .iter()
        .position(|a| a == "--mode")
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
    {
        Some("options") => vec![Mode::Options],
        Some("relay") => vec![Mode::Relay],
        _ => vec![Mode::Options, Mode::Relay],
    };
    let mut backends = vec![IoBackendChoice::Poll];
    match ringlet::runtime::probe_io_uring() {
        Ok(()) => backends.insert(0, IoBackendChoice::Uring),
        Err(why) => println!("io_uring unavailable here ({why}); poll only"),
    }
    match args
        .iter()
        .position(|a| a == "--backend")
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
    {
        Some("uring") => backends.retain(|b| *b == IoBackendChoice::Uring),
        Some("poll") => backends.retain(|b| *b == IoBackendChoice::Poll),
        _ => {}
    }
    println!(
        "datagram_rate: {workers} proxy worker(s), load client 1 worker x {sockets} sockets x window {window}, {seconds} s per row"
    );
    println!("| backend | mode | proxy workers | answered req/s | proxy datagrams/s (in+out) | datagrams per loop turn | proxy CPU ns per datagram | proxy CPU use | load client CPU use | datagrams per proxy sleep | proxy drops |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    let client_io = match args
        .iter()
        .position(|a| a == "--client-backend")
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
    {
        Some("poll") => IoBackendChoice::Poll,
        Some("uring") => IoBackendChoice::Uring,
        _ => IoBackendChoice::Auto,
    };
    let rounds: usize = arg(&args, "--rounds", 1usize).clamp(1, 10);
    // Rounds alternate the backends, so a change in the machine's load hits both alike.
    for _ in 0..rounds {
        for &mode in &modes {
            for &io in &backends {
                let shape = Shape {
                    workers,
                    seconds,
                    max,
                    sockets,
                    window,
                };
                let r = run_row(io, client_io, mode, shape);
                println!(
                    "| {} | {:?} | {} | {:.0} | {:.0} | {:.1} | {:.0} | {:.0}% | {:.0}% | {:.1} | {} |",
                    r.backend,
                    r.mode,
                    r.workers,
                    r.answered as f64 / r.seconds,
                    r.proxy_datagrams as f64 / r.seconds,
                    r.proxy_datagrams as f64 / r.proxy_turns.max(1) as f64,
                    r.proxy_cpu_ns as f64 / r.proxy_datagrams.max(1) as f64,
                    r.proxy_cpu_ns as f64 / 1e7 / r.seconds,
                    r.client_cpu_ns as f64 / 1e7 / r.seconds,
                    r.proxy_datagrams as f64 / r.proxy_sleeps.max(1) as f64,
                    r.proxy_dropped
                );
            }
        }
    }
}
