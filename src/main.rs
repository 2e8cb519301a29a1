//! The `ringlet` command: `run`, `check`, and the operator tools (`table`, `user`, `load`,
//! `tune`) that live in their own layers.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use mimalloc::MiMalloc;

use ringlet::config::Config;
use ringlet::load::cli::{run_load, run_tune, LoadArgs, TuneArgs};
use ringlet::proxy::provider::{
    build_proxy, AuthEvent, AuthShared, ProviderConfig, ProviderShared,
};
use ringlet::runtime::{self, log, RuntimeConfig};
use ringlet::table::cli::{run_table, run_user, TableCommand, UserCommand};

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
        Command::Load(args) => run_load(args),
        Command::Tune(args) => run_tune(args),
    }
}

/// Exit status for a configuration that is refused (EX_CONFIG from sysexits.h).
const EXIT_CONFIG: u8 = 78;

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
    let rt = RuntimeConfig::from_config(&config);
    let drain = Duration::from_millis(config.runtime.drain_ms);
    // The provider routing logic on the stateful proxy, one per worker, sharing the table.
    let shared =
        match ProviderShared::from_config(&config, ProviderConfig::default(), Instant::now()) {
            Ok(s) => std::sync::Arc::new(s),
            Err(e) => {
                eprintln!("ringlet: {e}");
                return ExitCode::from(EXIT_CONFIG);
            }
        };
    log::info(format_args!(
        "table {}: {}",
        shared.table.load().source().display(),
        shared.table.load().counts()
    ));
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
    let on_reload = || match shared.table.reload_from(&config.files.table) {
        Ok(report) => log::info(format_args!("{report}")),
        Err(e) => log::error(format_args!(
            "table reload refused, the old table stays: {e}"
        )),
    };
    match runtime::serve(rt, factory, drain, on_reload) {
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
