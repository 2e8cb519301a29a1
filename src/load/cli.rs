//! `ringlet load` and `ringlet tune` arguments and entry points.
//! (Placeholder signatures so that `main.rs` can wire them; the load issue fills them in.)
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct LoadArgs {
    /// Scenario to run.
    #[arg(long, default_value = "options")]
    pub scenario: String,
}

#[derive(clap::Args, Debug)]
pub struct TuneArgs {}

pub fn run_load(args: LoadArgs) -> ExitCode {
    eprintln!("ringlet load: not built yet ({args:?})");
    ExitCode::FAILURE
}

pub fn run_tune(args: TuneArgs) -> ExitCode {
    eprintln!("ringlet tune: not built yet ({args:?})");
    ExitCode::FAILURE
}
