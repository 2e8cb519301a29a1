//! The `ringlet` command: `run`, `check`, and the operator tools (`table`, `user`, `load`,
//! `tune`) that live in their own layers.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use mimalloc::MiMalloc;

use ringlet::config::Config;
use ringlet::load::cli::{run_load, run_tune, LoadArgs, TuneArgs};
use ringlet::proxy::provider::{build_proxy, AuthEvent, AuthShared, ProviderShared};
use ringlet::registrar::{spawn_sweeper, start_persistence, SweepReport};
use ringlet::runtime::{self, log, RuntimeConfig};
use ringlet::table::cli::{run_table, run_user, TableCommand, UserCommand};
use ringlet::table::spawn_watcher;

#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

/// A SIP proxy and registrar for VoIP providers: one worker per core on io_uring.
#[derive(Parser, Debug)]
#[command(name = "ringlet", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Start the proxy (with no --config: loopback 127.0.0.1:5060, one worker per core).
    Run {
        /// The configuration file (ringlet.toml).
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Validate a configuration and print the effective one, every default filled in.
    Check {
        /// The configuration file (ringlet.toml); without it the defaults are printed.
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Forwarding-table operations.
    Table {
        #[command(subcommand)]
        command: TableCommand,
    },
    /// Subscriber operations on the forwarding table.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Generate SIP traffic against a proxy and report rates and latencies.
    Load(LoadArgs),
    /// Print the host tuning (sysctls, pinning) Ringlet wants.
    Tune(TuneArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run { config } => run(config),
        Command::Check { config } => check(config),
        Command::Table { command } => run_table(command),
        Command::User { command } => run_user(command),
        Command::Load(args) => {
            // The generator's latency figures must not include huge-page fault stalls of its
            // own (see runtime::huge_pages); nothing to configure here.
            let _ = ringlet::runtime::huge_pages::disable();
            run_load(args)
        }
        Command::Tune(args) => run_tune(args),
    }
}

/// Exit status for a configuration that is refused (EX_CONFIG from sysexits.h).
const EXIT_CONFIG: u8 = 78;
/// Exit status when the registrations database cannot be opened or read (EX_CANTCREAT).
const EXIT_CANTCREAT: u8 = 73;
/// How often expired registrations are swept, and how many location shards one sweep may
/// lock (each briefly, one at a time); shards with nothing due are skipped without a lock.
const SWEEP_INTERVAL: Duration = Duration::from_secs(1);
const SWEEP_MAX_SHARDS: usize = 64;
/// How often the table file's identity (inode, size, mtime) is checked for a change.
const TABLE_POLL_INTERVAL: Duration = Duration::from_secs(1);

fn load_config(path: Option<&PathBuf>) -> Result<Config, ExitCode> {
    match path {
        None => Ok(Config::default()),
        Some(p) => Config::load(p).map_err(|e| {
            eprintln!("ringlet: configuration refused: {e}");
            ExitCode::from(EXIT_CONFIG)
        }),
    }
}

fn check(path: Option<PathBuf>) -> ExitCode {
    match load_config(path.as_ref()) {
        Ok(config) => {
            print!("{}", config.to_toml_string());
            print!("{}", resolved_here(&config));
            ExitCode::SUCCESS
        }
        Err(code) => code,
    }
}

/// Comment lines saying what the "auto" values mean on this machine.
fn resolved_here(config: &Config) -> String {
    let rt = RuntimeConfig::from_config(config);
    let cores = match &rt.pinning {
        runtime::Pinning::None => "unpinned".to_string(),
        runtime::Pinning::Cores(c) => format!("pinned to cores {c:?}"),
    };
    let io = match (config.runtime.io, runtime::probe_io_uring()) {
        (ringlet::config::IoBackendChoice::Poll, _) => "poll".to_string(),
        (_, Ok(())) => "io_uring".to_string(),
        (ringlet::config::IoBackendChoice::Uring, Err(why)) => {
            format!("io_uring REFUSED here: {why}")
        }
        (ringlet::config::IoBackendChoice::Auto, Err(why)) => format!("poll ({why})"),
    };
    format!(
        "\n# On this machine: {} workers, {cores}, io backend {io}.\n",
        rt.workers
    )
}

fn run(path: Option<PathBuf>) -> ExitCode {
    let config = match load_config(path.as_ref()) {
        Ok(c) => c,
        Err(code) => return code,
    };
    log::set_level(config.log_level);
    match &path {
        Some(p) => log::info(format_args!("configuration {}", p.display())),
        None => log::info(format_args!("no configuration file; built-in defaults")),
    }
    // Block SIGTERM/SIGINT/SIGHUP before the first thread (registration writer, sweeper,
    // table watcher, workers) so every thread inherits the mask and only `serve` takes
    // them; a signal arriving during start-up waits for it instead of killing the process.
    if let Err(e) = runtime::signals::SignalWaiter::install() {
        eprintln!("ringlet: cannot block signals: {e}");
        return ExitCode::FAILURE;
    }
    if !config.runtime.transparent_huge_pages {
        // Before the tables, the registrar and the workers allocate (see runtime::huge_pages).
        if let Err(e) = runtime::huge_pages::disable() {
            log::warn(format_args!(
                "cannot turn transparent huge pages off ({e}); workers may stall on huge-page faults"
            ));
        }
    }
    let rt = RuntimeConfig::from_config(&config);
    let drain = Duration::from_millis(config.runtime.drain_ms);
    // The provider routing logic on the stateful proxy, one per worker, sharing the table.
    let shared = match ProviderShared::from_config(&config, config.provider.clone(), Instant::now())
    {
        Ok(s) => std::sync::Arc::new(s),
        Err(e) => {
            eprintln!("ringlet: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let table_is_demo = shared.table.load().is_demo();
    log::info(format_args!(
        "table {}: {}",
        shared.table.load().source().display(),
        shared.table.load().counts()
    ));
    // Registrations from the last run, then the write-behind writer, before any worker.
    let persistence = match start_persistence(
        &config.registrar,
        &shared.location,
        shared.location.time_base().epoch_unix_ms,
    ) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("ringlet: registrations database refused: {e}");
            return ExitCode::from(EXIT_CANTCREAT);
        }
    };
    match (&persistence, config.registrar.db_file()) {
        (Some((_, report)), Some(db)) => log::info(format_args!(
            "registrations {}: {} bindings restored ({} expired while down dropped, {} unreadable), written every {} ms",
            db.display(),
            report.loaded,
            report.expired,
            report.invalid,
            config.registrar.batch_interval_ms
        )),
        _ => log::warn(format_args!(
            "[registrar] db_path = \"\": registrations are kept in memory only and lost on restart"
        )),
    }
    // Expired bindings leave memory (and the database) within a second or so.
    let sweeper = match spawn_sweeper(
        shared.location.clone(),
        SWEEP_INTERVAL,
        SWEEP_MAX_SHARDS,
        Some(Box::new(|r: &SweepReport| {
            log::debug(format_args!(
                "registrar sweep: {} expired bindings removed ({} AoRs)",
                r.bindings_removed, r.aors_removed
            ))
        })),
    ) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("ringlet: cannot start the registration sweeper: {e}");
            return ExitCode::FAILURE;
        }
    };
    // A table read from a file is reloaded when the file changes; the demo has no file.
    let watcher = if table_is_demo {
        None
    } else {
        match spawn_watcher(
            shared.table.clone(),
            config.files.table.clone(),
            TABLE_POLL_INTERVAL,
        ) {
            Ok(w) => {
                log::info(format_args!(
                    "watching {} for changes (every {} ms)",
                    config.files.table.display(),
                    TABLE_POLL_INTERVAL.as_millis()
                ));
                Some(w)
            }
            Err(e) => {
                eprintln!("ringlet: cannot start the table watcher: {e}");
                return ExitCode::FAILURE;
            }
        }
    };
    // Digest authentication: one nonce secret and clock anchor, a step per worker.
    let auth = if config.auth.enabled {
        let unix_secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        match AuthShared::from_config(&config.auth, Instant::now(), unix_secs) {
            Ok(a) => Some(a),
            Err(e) => {
                eprintln!("ringlet: {e}");
                return ExitCode::from(EXIT_CONFIG);
            }
        }
    } else {
        log::warn(format_args!(
            "[auth] enabled = false: From/To headers are believed, nobody is challenged"
        ));
        None
    };
    let factory = |w: &runtime::WorkerInfo| -> Box<dyn ringlet::endpoint::Endpoint> {
        let mut proxy = build_proxy(w.index, w.count, &w.local_addrs, &shared, Instant::now());
        if let Some(auth) = &auth {
            auth.install(
                &mut proxy,
                Some(Box::new(|e: &AuthEvent| log::warn(format_args!("{e}")))),
            );
        }
        Box::new(proxy)
    };
    let on_reload = || {
        if table_is_demo {
            log::warn(format_args!(
                "the embedded demo table is in use; nothing to reload (set [files] table)"
            ));
            return;
        }
        match shared.table.reload_from(&config.files.table) {
            Ok(report) => log::info(format_args!("{report}")),
            Err(e) => log::error(format_args!(
                "table reload refused, the old table stays: {e}"
            )),
        }
    };
    let served = runtime::serve(rt, factory, drain, on_reload);
    // The workers are gone: no more changes. Stop the helpers, then write the last batch.
    if let Some(w) = watcher {
        w.stop();
    }
    let swept = sweeper.stop();
    if let Some((handle, _)) = persistence {
        let s = handle.stop();
        let (aors, bindings) = shared.location.counts();
        let outcome = format!(
            "registrations saved: {aors} AoRs, {bindings} bindings in memory; {} batches, {} rows written, {} expired bindings swept",
            s.batches, s.rows_written, swept
        );
        match (&s.last_error, s.errors) {
            (Some(e), n) if n > 0 => {
                log::error(format_args!("{outcome}; {n} database errors, last: {e}"))
            }
            _ => log::info(format_args!("{outcome}")),
        }
    }
    match served {
        Ok(total) => {
            let fields: Vec<String> = total
                .fields()
                .iter()
                .filter(|(_, v)| *v != 0)
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            log::info(format_args!("stopped: {}", fields.join(" ")));
            ExitCode::SUCCESS
        }
        Err(e) => {
            log::error(format_args!("{e}"));
            ExitCode::FAILURE
        }
    }
}
