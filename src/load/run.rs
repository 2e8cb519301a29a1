//! Running a load test: endpoints on the runtime's workers, the per-second report, the
//! end-of-run figures, and the `--find-max` search.
//!
//! ```text
//!   main thread                                  worker k (runtime, PerWorker sockets)
//!   ───────────                                  ─────────────────────────────────────
//!   Runtime::start(factory) ───────────────────► LoadEndpoint { uac: k's ports, uas: shared port }
//!   every second: drain each StatsSink ◄──────── endpoint flushes its LoadStats every 100 ms
//!     print one line, merge into the total
//!   all UACs done (or duration / hard cap) ────► shutdown(drain) ─► join
//!   getrusage(RUSAGE_SELF) before/after ──────── CPU per call
//! ```
//!
//! Every run is bounded: the wall-clock loop below stops at `hard_deadline` whatever the
//! endpoints say, and the counts are capped by `MAX_CALLS`.

use std::io::{self, Write as _};
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::roles::LoadEndpoint;
use super::stats::{interval_line, LoadStats, RunFigures, StatsSink};
use super::uac::{Scenario, SipTimers, UacConfig, UacEndpoint};
use super::uas::{UasConfig, UasEndpoint};
use super::users::User;
use crate::config::IoBackendChoice;
use crate::endpoint::Endpoint;
use crate::runtime::{ListenMode, Pinning, Runtime, RuntimeConfig, WorkerInfo};

/// Hard cap on calls per run, whatever the arguments say.
pub const MAX_CALLS: u64 = 100_000_000;
/// Hard cap on one run's placing time.
pub const MAX_DURATION: Duration = Duration::from_secs(3600);

/// Which roles this process plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Roles {
    Both,
    Uac,
    Uas,
}

impl Roles {
    fn uac(self) -> bool {
        self != Roles::Uas
    }
    fn uas(self) -> bool {
        self != Roles::Uac
    }
}

/// One run, fully specified.
#[derive(Debug, Clone)]
pub struct RunPlan {
    pub scenario: Scenario,
    pub roles: Roles,
    pub proxy: SocketAddr,
    /// The UAS's listening address (role uas/both).
    pub uas_addr: SocketAddr,
    pub target: String,
    /// Local address the UAC sends from (port 0: ephemeral ports per worker).
    pub uac_local: SocketAddr,
    pub ports_per_worker: usize,
    pub workers: usize,
    pub cores: Option<Vec<usize>>,
    pub io: IoBackendChoice,
    pub rate: f64,
    pub duration: Duration,
    pub count: u64,
    pub max_concurrent: usize,
    pub ring: Duration,
    pub hold: Duration,
    pub no_answer: Duration,
    pub busy_share: f64,
    pub no_answer_share: f64,
    pub users: Arc<[User]>,
    pub identity: (String, String),
    pub expires: u32,
    pub drain: Duration,
    pub timers: SipTimers,
    pub record_correct: bool,
    /// Print a line per second to stderr.
    pub progress: bool,
}

/// What a run produced.
#[derive(Debug, Clone)]
pub struct RunResult {
    pub stats: LoadStats,
    pub figures: RunFigures,
    /// Datagrams the runtime dropped (socket overflow, full handoff queue, send errors).
    pub runtime_drops: u64,
    pub send_errors: u64,
}

fn cpu_time() -> Duration {
    // SAFETY: getrusage writes into the zeroed struct we own; RUSAGE_SELF is always valid.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: as above; the pointer is to a live, properly aligned rusage.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    if rc != 0 {
        return Duration::ZERO;
    }
    let tv = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

fn random_run_id() -> u32 {
    let mut b = [0u8; 4];
    // A failure here only makes identifiers of two runs more likely to collide.
    let _ = getrandom::getrandom(&mut b);
    u32::from_le_bytes(b)
}

/// Run one plan to its end (or its hard deadline).
pub fn run_once(plan: &RunPlan) -> io::Result<RunResult> {
    let workers = plan.workers.max(1);
    let mut listen = Vec::new();
    if plan.roles.uas() {
        listen.push(plan.uas_addr);
    }
    let uac_first_listener = listen.len();
    if plan.roles.uac() {
        for _ in 0..plan.ports_per_worker.max(1) {
            listen.push(plan.uac_local);
        }
    }
    let mut rt = RuntimeConfig::new(listen, workers);
    // Each worker binds its own sockets: the UAC's port 0 becomes distinct source ports per
    // worker (so a proxy's SO_REUSEPORT workers all get traffic); the UAS port is shared
    // through SO_REUSEPORT.
    rt.listen_mode = ListenMode::PerWorker;
    rt.io = plan.io;
    rt.thread_name = "ringlet-load".into();
    if let Some(c) = &plan.cores {
        if c.len() < workers {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("--cores names {} cores for {workers} workers", c.len()),
            ));
        }
        rt.pinning = Pinning::Cores(c[..workers].to_vec());
    }

    let run = random_run_id();
    let start = Instant::now() + Duration::from_millis(50);
    let count = plan.count.min(MAX_CALLS);
    let duration = plan.duration.min(MAX_DURATION);
    let mut sinks: Vec<Arc<StatsSink>> = Vec::new();
    let call_index = Arc::new(AtomicU64::new(0));
    let mut uac_sinks: Vec<Arc<StatsSink>> = Vec::new();
    let factory = |w: &WorkerInfo| -> Box<dyn Endpoint> {
        let sink = StatsSink::new();
        sinks.push(sink.clone());
        let uas = plan.roles.uas().then(|| {
            UasEndpoint::new(
                UasConfig {
                    worker: w.index as u16,
                    run,
                    contact: w.local_addrs.first().copied().unwrap_or(plan.uas_addr),
                    ring: plan.ring,
                    busy_share: plan.busy_share,
                    no_answer_share: plan.no_answer_share,
                    timers: plan.timers,
                    call_index: call_index.clone(),
                },
                sink.clone(),
            )
        });
        let uac = plan.roles.uac().then(|| {
            let uac_sink = StatsSink::new();
            uac_sinks.push(uac_sink.clone());
            let n = w.count as u64;
            let i = w.index as u64;
            let my_count = count / n + u64::from(i < count % n);
            UacEndpoint::new(
                UacConfig {
                    scenario: plan.scenario,
                    proxy: plan.proxy,
                    locals: w
                        .local_addrs
                        .iter()
                        .enumerate()
                        .skip(uac_first_listener)
                        .map(|(l, a)| (l as u16, *a))
                        .collect(),
                    target: plan.target.clone(),
                    users: plan.users.clone(),
                    user_offset: w.index,
                    user_stride: w.count,
                    identity: plan.identity.clone(),
                    rate: plan.rate / w.count as f64,
                    // Workers start staggered by a fraction of their interval, so the
                    // combined stream is evenly spaced rather than in bursts of `workers`.
                    start: start + Duration::from_secs_f64(i as f64 / plan.rate.max(1e-9)),
                    place_for: duration,
                    max_calls: my_count,
                    max_concurrent: plan.max_concurrent,
                    hold: plan.hold,
                    no_answer: plan.no_answer,
                    drain: plan.drain,
                    expires: plan.expires,
                    timers: plan.timers,
                    worker: w.index as u16,
                    run,
                    record_correct: plan.record_correct,
                },
                uac_sink,
            )
        });
        Box::new(LoadEndpoint { uac, uas })
    };

    let cpu_before = cpu_time();
    let handle = Runtime::start(rt, factory)?;
    let t0 = Instant::now();
    // Nothing ends a run later than this: placing time + drain + a margin for the runtime.
    let hard_deadline = start + duration + plan.drain + Duration::from_secs(5);
    let mut total = LoadStats::default();
    let mut second = 0u64;
    let mut next_report = t0 + Duration::from_secs(1);
    let take_all =
        |total: &mut LoadStats, sinks: &[Arc<StatsSink>], uac_sinks: &[Arc<StatsSink>]| {
            let mut delta = LoadStats::default();
            for s in sinks.iter().chain(uac_sinks) {
                delta.merge(&s.take());
            }
            total.merge(&delta);
            delta
        };
    loop {
        let now = Instant::now();
        let uacs_done = plan.roles.uac() && uac_sinks.iter().all(|s| s.is_done());
        let uas_only_done = !plan.roles.uac() && now >= start + duration;
        if uacs_done || uas_only_done || now >= hard_deadline || handle.is_finished() {
            break;
        }
        if now >= next_report {
            second += 1;
            let delta = take_all(&mut total, &sinks, &uac_sinks);
            if plan.progress {
                eprintln!("{}", interval_line(second, &delta));
            }
            next_report += Duration::from_secs(1);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let placing_end = Instant::now();
    // The UACs are done, but the UAS may still be reading the last ACKs (a stateful proxy
    // ACKs a 487 itself, after relaying it) and holds up to 100 ms of counters: keep reading
    // for a moment, then stop reading and let the last timers (stats flush) run.
    let grace_end = (Instant::now() + Duration::from_millis(300)).min(hard_deadline);
    while Instant::now() < grace_end && !handle.is_finished() {
        std::thread::sleep(Duration::from_millis(20));
    }
    handle.shutdown(Duration::from_millis(300));
    let counters = handle.join()?;
    let cpu = cpu_time().saturating_sub(cpu_before);
    let last = take_all(&mut total, &sinks, &uac_sinks);
    if plan.progress && !last.is_empty() {
        eprintln!("{}", interval_line(second + 1, &last));
    }
    // The placing window: until the count was reached at the nominal rate, or the duration.
    let nominal = if plan.rate > 0.0 {
        Duration::from_secs_f64(count as f64 / plan.rate)
    } else {
        duration
    };
    let window = nominal.min(duration).max(Duration::from_millis(1));
    let calls = total.attempted.max(total.uas.invites).max(1);
    let figures = RunFigures {
        target_rate: plan.rate,
        achieved_rate: total.succeeded as f64 / window.as_secs_f64(),
        elapsed: placing_end - t0,
        cpu_us_per_call: cpu.as_secs_f64() * 1e6 / calls as f64,
        cpu_total: cpu,
    };
    let _ = io::stderr().flush();
    Ok(RunResult {
        stats: total,
        figures,
        runtime_drops: counters.drop_socket_overflow
            + counters.drop_handoff_full
            + counters.drop_truncated,
        send_errors: counters.send_errors,
    })
}

/// `--find-max`: how the rate is stepped.
#[derive(Debug, Clone, Copy)]
pub struct FindMax {
    pub start_rate: f64,
    pub factor: f64,
    pub max_rate: f64,
    pub step: Duration,
    /// Bisection rounds between the last clean and the first unclean rate.
    pub refine: u32,
    /// Total time budget for the search (hard cap).
    pub budget: Duration,
}

/// One step of the search.
#[derive(Debug, Clone)]
pub struct Step {
    pub rate: f64,
    pub clean: bool,
    pub result: RunResult,
}

/// A step is clean when every call succeeded, nothing was retransmitted either way, the
/// runtime dropped nothing and the generator kept up (≥ 97 % of the target completed).
pub fn step_is_clean(r: &RunResult, target: f64, step: Duration) -> bool {
    let expected = target * step.as_secs_f64();
    r.stats.clean()
        && r.runtime_drops == 0
        && r.send_errors == 0
        && (r.stats.succeeded as f64) >= 0.97 * expected.floor()
}

/// Step the rate up (×factor) until a step is not clean, then bisect. Returns every step
/// run; the answer is the highest clean rate among them.
pub fn find_max(base: &RunPlan, fm: &FindMax) -> io::Result<Vec<Step>> {
    let began = Instant::now();
    let mut steps: Vec<Step> = Vec::new();
    let run_at = |rate: f64, steps: &mut Vec<Step>| -> io::Result<bool> {
        let plan = RunPlan {
            rate,
            duration: fm.step,
            count: MAX_CALLS,
            ..base.clone()
        };
        let result = run_once(&plan)?;
        let clean = step_is_clean(&result, rate, fm.step);
        if base.progress {
            eprintln!(
                "find-max: {rate:.0}/s -> {} (ok {}, failed {}, retrans {}/{}, drops {})",
                if clean { "clean" } else { "NOT clean" },
                result.stats.succeeded,
                result.stats.failed_total(),
                result.stats.retransmissions_sent,
                result.stats.retransmissions_received,
                result.runtime_drops
            );
        }
        steps.push(Step {
            rate,
            clean,
            result,
        });
        Ok(clean)
    };
    let over_budget = |began: Instant| began.elapsed() + fm.step + base.drain >= fm.budget;
    let mut good: Option<f64> = None;
    let mut bad: Option<f64> = None;
    let mut rate = fm.start_rate.max(1.0);
    // Bounded: the rate grows geometrically to max_rate, and the budget caps the time.
    for _ in 0..64 {
        if rate > fm.max_rate || over_budget(began) {
            break;
        }
        if run_at(rate, &mut steps)? {
            good = Some(rate);
            rate *= fm.factor.max(1.05);
        } else {
            bad = Some(rate);
            break;
        }
    }
    if let (Some(mut lo), Some(mut hi)) = (good, bad) {
        for _ in 0..fm.refine {
            if hi - lo < 0.02 * hi || over_budget(began) {
                break;
            }
            let mid = ((lo + hi) / 2.0).round();
            if run_at(mid, &mut steps)? {
                lo = mid;
            } else {
                hi = mid;
            }
        }
    }
    Ok(steps)
}

/// The highest clean step.
pub fn best_step(steps: &[Step]) -> Option<&Step> {
    steps
        .iter()
        .filter(|s| s.clean)
        .max_by(|a, b| a.rate.total_cmp(&b.rate))
}
