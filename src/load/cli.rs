//! `ringlet load` and `ringlet tune` arguments and entry points.
use std::path::PathBuf;
use std::process::ExitCode;

use super::tune;

#[derive(clap::Args, Debug)]
pub struct LoadArgs {
    /// Scenario to run.
    #[arg(long, default_value = "options")]
    pub scenario: String,
}

/// `ringlet tune`: print recommended worker cores and sysctls for this machine.
#[derive(clap::Args, Debug)]
pub struct TuneArgs {
    /// Root of the tree holding sys/ and proc/ (a copy taken from another machine, or a
    /// test fixture).
    #[arg(long, default_value = "/")]
    pub root: PathBuf,
}

pub fn run_load(args: LoadArgs) -> ExitCode {
    eprintln!("ringlet load: not built yet ({args:?})");
    ExitCode::FAILURE
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
