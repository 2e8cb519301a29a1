//! `ringlet table ...` and `ringlet user ...`: operator commands over the table file.
//!
//! `table check` validates and summarises; `user add|del|passwd` edit the file through
//! [`super::edit`] (validate before and after, write atomically). A running Ringlet picks
//! the change up through its watcher or SIGHUP.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::edit;
use super::{ForwardingSnapshot, TableError, TableSource};

#[derive(clap::Subcommand, Debug)]
pub enum TableCommand {
    /// Validate a forwarding table (a file, or a folder of *.table files) and print a
    /// summary; on error print every error with its file and line.
    Check { file: PathBuf },
}

#[derive(clap::Subcommand, Debug)]
pub enum UserCommand {
    /// Add a subscriber (both HA1s are computed; the password is not stored).
    Add {
        file: PathBuf,
        /// user@domain; the domain must be served by the table.
        user: String,
        /// The password; read from the first line of stdin when absent.
        #[arg(long)]
        password: Option<String>,
        /// Comma-separated groups, e.g. `pstn,international`.
        #[arg(long, value_delimiter = ',')]
        groups: Vec<String>,
    },
    /// Remove a subscriber with its forward and voicemail lines.
    Del { file: PathBuf, user: String },
    /// Change a subscriber's password (both HA1s are recomputed).
    Passwd {
        file: PathBuf,
        user: String,
        /// The password; read from the first line of stdin when absent.
        #[arg(long)]
        password: Option<String>,
    },
}

pub fn run_table(cmd: TableCommand) -> ExitCode {
    match cmd {
        TableCommand::Check { file } => match check(&file) {
            Ok(summary) => {
                print!("{summary}");
                ExitCode::SUCCESS
            }
            Err(errors) => {
                for e in &errors {
                    eprintln!("{e}");
                }
                eprintln!("{}: refused ({} error(s))", file.display(), errors.len());
                ExitCode::FAILURE
            }
        },
    }
}

/// Validate `file`; the summary `ringlet table check` prints, or every error.
pub fn check(file: &Path) -> Result<String, Vec<TableError>> {
    let snap = TableSource::read(file).map_err(|e| vec![e])?.compile()?;
    Ok(summary(&snap))
}

/// A human summary of a snapshot.
pub fn summary(snap: &ForwardingSnapshot) -> String {
    use std::fmt::Write;
    let c = snap.counts();
    let disabled = snap.subscribers().iter().filter(|s| !s.enabled).count();
    let mut out = String::new();
    let domains: Vec<&str> = snap.domains().collect();
    let groups: Vec<&str> = snap.group_names.iter().map(|g| &**g).collect();
    let _ = writeln!(out, "{}: OK", snap.source().display());
    let _ = writeln!(out, "  domains      {} ({})", c.domains, domains.join(", "));
    let _ = writeln!(
        out,
        "  subscribers  {} ({disabled} disabled)",
        c.subscribers
    );
    let _ = writeln!(out, "  aliases      {}", c.aliases);
    let _ = writeln!(out, "  DIDs         {}", c.dids);
    let _ = writeln!(out, "  forwards     {}", c.forwards);
    let _ = writeln!(out, "  groups       {} ({})", c.groups, groups.join(", "));
    let _ = writeln!(out, "  peers        {}", c.peers);
    let _ = writeln!(out, "  gateways     {}", c.gateways);
    let _ = writeln!(out, "  routes       {}", c.routes);
    if let Some(p) = snap.international_prefix() {
        let _ = writeln!(out, "  international prefix {p}");
    }
    if let Some(v) = snap.default_voicemail() {
        let _ = writeln!(out, "  default voicemail    {v}");
    }
    out
}

fn password_or_stdin(password: Option<String>) -> Result<String, String> {
    if let Some(p) = password {
        return Ok(p);
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| format!("cannot read the password from stdin: {e}"))?;
    let p = line.trim_end_matches(['\n', '\r']).to_string();
    if p.is_empty() {
        return Err("no password given (use --password or one line on stdin)".into());
    }
    Ok(p)
}

pub fn run_user(cmd: UserCommand) -> ExitCode {
    let (file, done, result) = match cmd {
        UserCommand::Add {
            file,
            user,
            password,
            groups,
        } => {
            let password = match password_or_stdin(password) {
                Ok(p) => p,
                Err(e) => {
                    eprintln!("ringlet user add: {e}");
                    return ExitCode::FAILURE;
                }
            };
            let r = edit::edit_table(&file, |t| edit::add_user(t, &user, &password, &groups));
            (file.clone(), format!("added {user}"), r)
        }
        UserCommand::Del { file, user } => {
            let r = edit::edit_table(&file, |t| edit::delete_user(t, &user));
            (file.clone(), format!("removed {user}"), r)
        }
        UserCommand::Passwd {
            file,
            user,
            password,
        } => {
            let password = match password_or_stdin(password) {
                Ok(p) => p,
                Err(e) => {
                    eprintln!("ringlet user passwd: {e}");
                    return ExitCode::FAILURE;
                }
            };
            let r = edit::edit_table(&file, |t| edit::set_password(t, &user, &password));
            (file.clone(), format!("password of {user} changed"), r)
        }
    };
    match result {
        Ok(snap) => {
            println!("{}: {done} ({})", file.display(), snap.counts());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
