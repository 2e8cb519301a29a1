//! `ringlet table ...` and `ringlet user ...`: operator commands over the table file.
//! (Placeholder signatures so that `main.rs` can wire them; the table issue fills them in.)
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Subcommand, Debug)]
pub enum TableCommand {
    /// Validate a forwarding-table file and print a summary.
    Check { file: PathBuf },
}

#[derive(clap::Subcommand, Debug)]
pub enum UserCommand {
    /// Add a subscriber.
    Add { file: PathBuf, user: String },
}

pub fn run_table(cmd: TableCommand) -> ExitCode {
    eprintln!("ringlet table: not built yet ({cmd:?})");
    ExitCode::FAILURE
}

pub fn run_user(cmd: UserCommand) -> ExitCode {
    eprintln!("ringlet user: not built yet ({cmd:?})");
    ExitCode::FAILURE
}
