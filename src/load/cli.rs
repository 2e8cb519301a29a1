//! `ringlet load` and `ringlet tune` arguments and entry points.
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use super::run::{self, FindMax, Roles, RunPlan, MAX_CALLS};
use super::stats::{report_json, report_text};
use super::tune;
use super::uac::{Scenario, SipTimers};
use super::users::{load_users, User};
use crate::config::IoBackendChoice;

/// `ringlet load`: SIP traffic against a proxy (loopback in tests), with a UAC, a UAS or
/// both in this process. Every run is bounded in time and count.
#[derive(clap::Args, Debug)]
pub struct LoadArgs {
    /// Boxed: the options are many, and `LoadArgs` sits in the CLI's command enum.
    #[command(flatten)]
    pub opts: Box<LoadOptions>,
}

/// Every option of `ringlet load`.
#[derive(clap::Args, Debug)]
pub struct LoadOptions {
    /// Scenario: options, register or call.
    #[arg(long, default_value = "options", value_parser = ["options", "register", "call"])]
    pub scenario: String,
    /// Roles in this process: both, uac or uas.
    #[arg(long, default_value = "both", value_parser = ["both", "uac", "uas"])]
    pub role: String,
    /// The proxy every request is sent to.
    #[arg(long, default_value = "127.0.0.1:5060")]
    pub proxy: SocketAddr,
    /// Where the UAS listens (and the default call target).
    #[arg(long, default_value = "127.0.0.1:5080")]
    pub uas: SocketAddr,
    /// Request-URI of calls and OPTIONS [default: sip:uas@<--uas>; with --role uac and
    /// --scenario options: sip:<--proxy>].
    #[arg(long)]
    pub target: Option<String>,
    /// Local address the UAC sends from (port 0: ephemeral ports).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub local: SocketAddr,
    /// UAC source ports per worker.
    #[arg(long, default_value_t = 8)]
    pub ports: usize,
    /// Worker threads (each runs a UAC and/or a UAS endpoint).
    #[arg(long, default_value_t = 1)]
    pub workers: usize,
    /// Pin workers to these cores (comma-separated, one per worker).
    #[arg(long, value_delimiter = ',')]
    pub cores: Option<Vec<usize>>,
    /// I/O backend: auto, uring or poll.
    #[arg(long, default_value = "auto", value_parser = ["auto", "uring", "poll"])]
    pub io: String,
    /// Calls (or registrations, or OPTIONS) started per second, all workers together.
    #[arg(long, default_value_t = 100.0)]
    pub rate: f64,
    /// Seconds to keep starting calls (hard cap 3600).
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Stop after this many calls (hard cap 100 000 000).
    #[arg(long)]
    pub count: Option<u64>,
    /// Calls allowed in progress at once; more are failed as local-overload.
    #[arg(long, default_value_t = 200_000)]
    pub max_concurrent: usize,
    /// UAS: milliseconds between 180 Ringing and 200 OK.
    #[arg(long, default_value_t = 0)]
    pub ring_ms: u64,
    /// UAC: milliseconds between ACK and BYE.
    #[arg(long, default_value_t = 0)]
    pub hold_ms: u64,
    /// UAC: cancel a ringing call after this many milliseconds.
    #[arg(long, default_value_t = 5000)]
    pub no_answer_ms: u64,
    /// UAS: share of calls answered 486 Busy Here (0..1).
    #[arg(long, default_value_t = 0.0)]
    pub busy: f64,
    /// UAS: share of calls never answered (0..1).
    #[arg(long, default_value_t = 0.0)]
    pub unanswered: f64,
    /// Subscribers to act as: `user domain password` per line.
    #[arg(long)]
    pub users: Option<PathBuf>,
    /// Domain of the anonymous caller when no --users [default: the proxy's IP].
    #[arg(long)]
    pub domain: Option<String>,
    /// Expires of REGISTER, seconds.
    #[arg(long, default_value_t = 3600)]
    pub expires: u32,
    /// Seconds to wait for calls in progress after the last one started.
    #[arg(long, default_value_t = 5.0)]
    pub drain: f64,
    /// RFC 3261 T1 in milliseconds.
    #[arg(long, default_value_t = 500)]
    pub t1_ms: u64,
    /// Also apply HdrHistogram record_correct with the call interval (closed-loop style).
    #[arg(long)]
    pub record_correct: bool,
    /// Step the rate up to the highest with no failure and no retransmission.
    #[arg(long)]
    pub find_max: bool,
    /// --find-max: multiply the rate by this after a clean step.
    #[arg(long, default_value_t = 1.5)]
    pub step_factor: f64,
    /// --find-max: seconds per step.
    #[arg(long, default_value_t = 5.0)]
    pub step_secs: f64,
    /// --find-max: never try more than this rate.
    #[arg(long, default_value_t = 1_000_000.0)]
    pub max_rate: f64,
    /// --find-max: bisection rounds after the first unclean step.
    #[arg(long, default_value_t = 3)]
    pub refine: u32,
    /// --find-max: total seconds for the search (hard cap 3600).
    #[arg(long, default_value_t = 300.0)]
    pub max_time: f64,
    /// Print the result as one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
    /// No per-second lines on stderr.
    #[arg(long)]
    pub quiet: bool,
}

/// `ringlet tune`: print recommended worker cores and sysctls for this machine.
#[derive(clap::Args, Debug)]
pub struct TuneArgs {
    /// Root of the tree holding sys/ and proc/ (a copy taken from another machine, or a
    /// test fixture).
    #[arg(long, default_value = "/")]
    pub root: PathBuf,
}

fn secs(name: &str, v: f64, cap: f64) -> Result<Duration, String> {
    if !v.is_finite() || v < 0.0 {
        return Err(format!("--{name} must be a non-negative number of seconds"));
    }
    Ok(Duration::from_secs_f64(v.min(cap)))
}

fn share(name: &str, v: f64) -> Result<f64, String> {
    if !(0.0..=1.0).contains(&v) {
        return Err(format!("--{name} must be between 0 and 1"));
    }
    Ok(v)
}

/// Turn the arguments into a plan (every value checked; errors name the flag).
pub fn plan_from_args(a: &LoadOptions) -> Result<RunPlan, String> {
    let scenario = match a.scenario.as_str() {
        "register" => Scenario::Register,
        "call" => Scenario::Call,
        _ => Scenario::Options,
    };
    let roles = match a.role.as_str() {
        "uac" => Roles::Uac,
        "uas" => Roles::Uas,
        _ => Roles::Both,
    };
    for (flag, addr) in [("proxy", a.proxy), ("uas", a.uas), ("local", a.local)] {
        if !addr.ip().is_loopback() && !a.allow_non_loopback() {
            return Err(format!("--{flag} {addr} is not a loopback address (this build only sends to 127.0.0.0/8 and ::1)"));
        }
    }
    if !a.rate.is_finite() || a.rate <= 0.0 {
        return Err("--rate must be positive".into());
    }
    if a.workers == 0 || a.workers > 256 {
        return Err("--workers must be between 1 and 256".into());
    }
    if a.ports == 0 || a.ports > 1024 {
        return Err("--ports must be between 1 and 1024".into());
    }
    let busy = share("busy", a.busy)?;
    let unanswered = share("unanswered", a.unanswered)?;
    if busy + unanswered > 1.0 {
        return Err("--busy + --unanswered must not exceed 1".into());
    }
    if a.t1_ms == 0 || a.t1_ms > 10_000 {
        return Err("--t1-ms must be between 1 and 10000".into());
    }
    let users: Arc<[User]> = match &a.users {
        Some(p) => Arc::from(load_users(p).map_err(|e| e.to_string())?),
        None => Arc::from(Vec::new()),
    };
    let target = match &a.target {
        Some(t) => t.clone(),
        None if roles == Roles::Uac && scenario == Scenario::Options => format!("sip:{}", a.proxy),
        None => format!("sip:uas@{}", a.uas),
    };
    let io = match a.io.as_str() {
        "uring" => IoBackendChoice::Uring,
        "poll" => IoBackendChoice::Poll,
        _ => IoBackendChoice::Auto,
    };
    let t1 = Duration::from_millis(a.t1_ms);
    Ok(RunPlan {
        scenario,
        roles,
        proxy: a.proxy,
        uas_addr: a.uas,
        target,
        uac_local: a.local,
        ports_per_worker: a.ports,
        workers: a.workers,
        cores: a.cores.clone(),
        io,
        rate: a.rate,
        duration: secs("duration", a.duration, 3600.0)?,
        count: a.count.unwrap_or(MAX_CALLS).min(MAX_CALLS),
        max_concurrent: a.max_concurrent.max(1),
        ring: Duration::from_millis(a.ring_ms),
        hold: Duration::from_millis(a.hold_ms),
        no_answer: Duration::from_millis(a.no_answer_ms),
        busy_share: busy,
        no_answer_share: unanswered,
        users,
        identity: (
            "load".into(),
            a.domain.clone().unwrap_or_else(|| a.proxy.ip().to_string()),
        ),
        expires: a.expires,
        drain: secs("drain", a.drain, 120.0)?,
        // RFC 3261 §17.1.2.2: T2 defaults to 4 s = 8·T1; it scales with a changed T1.
        timers: SipTimers { t1, t2: t1 * 8 },
        record_correct: a.record_correct,
        progress: !a.quiet,
    })
}

impl LoadOptions {
    /// The rules allow traffic to loopback only; there is no switch to lift that.
    fn allow_non_loopback(&self) -> bool {
        false
    }
}

pub fn run_load(args: LoadArgs) -> ExitCode {
    let args = args.opts;
    let plan = match plan_from_args(&args) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("ringlet load: {e}");
            return ExitCode::from(2);
        }
    };
    let scenario = plan.scenario.name();
    if args.find_max {
        let fm = FindMax {
            start_rate: plan.rate,
            factor: args.step_factor,
            max_rate: args.max_rate,
            step: Duration::from_secs_f64(args.step_secs.clamp(1.0, 600.0)),
            refine: args.refine.min(10),
            budget: Duration::from_secs_f64(args.max_time.clamp(1.0, 3600.0)),
        };
        let steps = match run::find_max(&plan, &fm) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("ringlet load: {e}");
                return ExitCode::from(2);
            }
        };
        let best = run::best_step(&steps);
        if args.json {
            let list: Vec<String> = steps
                .iter()
                .map(|s| {
                    format!(
                        "{{\"rate\":{:.1},\"clean\":{},\"result\":{}}}",
                        s.rate,
                        s.clean,
                        report_json(scenario, &s.result.stats, &s.result.figures)
                    )
                })
                .collect();
            // found_limit: false when the search stopped at --max-rate or --max-time before
            // any step failed, i.e. best_rate is a lower bound.
            println!(
                "{{\"find_max\":{{\"best_rate\":{},\"found_limit\":{},\"steps\":[{}]}}}}",
                best.map_or("null".to_string(), |b| format!("{:.1}", b.rate)),
                steps.iter().any(|s| !s.clean),
                list.join(",")
            );
        } else {
            for s in &steps {
                println!(
                    "step {:>9.1}/s  {}",
                    s.rate,
                    if s.clean { "clean" } else { "NOT clean" }
                );
            }
            match best {
                Some(b) => {
                    let bound = if steps.iter().any(|s| !s.clean) {
                        ""
                    } else {
                        " (lower bound: no step failed before --max-rate/--max-time)"
                    };
                    println!("max clean rate: {:.1}/s{bound}", b.rate);
                    print!(
                        "{}",
                        report_text(scenario, &b.result.stats, &b.result.figures)
                    );
                }
                None => println!(
                    "max clean rate: none (the first step at {:.1}/s was not clean)",
                    plan.rate
                ),
            }
        }
        return if best.is_some() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        };
    }
    match run::run_once(&plan) {
        Ok(r) => {
            if args.json {
                println!("{}", report_json(scenario, &r.stats, &r.figures));
            } else {
                print!("{}", report_text(scenario, &r.stats, &r.figures));
                if r.runtime_drops + r.send_errors > 0 {
                    println!(
                        "  runtime: {} datagrams dropped, {} send errors",
                        r.runtime_drops, r.send_errors
                    );
                }
            }
            if r.stats.failed_total() > 0 {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            eprintln!("ringlet load: {e}");
            ExitCode::from(2)
        }
    }
}

pub fn run_tune(args: TuneArgs) -> ExitCode {
    match tune::read_machine(&args.root) {
        Ok(facts) => {
            let rec = tune::recommend(&facts);
            print!("{}", tune::render(&facts, &rec));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ringlet tune: cannot read the machine: {e}");
            ExitCode::FAILURE
        }
    }
}
