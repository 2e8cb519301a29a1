//! `ringlet table check` and `ringlet user add|del|passwd`, through the command functions,
//! on a real file.

use std::path::PathBuf;
use std::process::ExitCode;

use ringlet::table::cli::{self, TableCommand, UserCommand};
use ringlet::table::{ha1, ForwardingSnapshot};

const EXAMPLE: &str = include_str!("../tables/example.table");

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("ringlet-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn load(path: &std::path::Path) -> ForwardingSnapshot {
    ForwardingSnapshot::from_file(path).unwrap()
}

#[test]
fn check_summarises_or_lists_errors() {
    let dir = TempDir::new("cli-check");
    let path = dir.0.join("example.table");
    std::fs::write(&path, EXAMPLE).unwrap();
    let summary = cli::check(&path).unwrap();
    assert!(summary.contains("subscribers  4 (1 disabled)"), "{summary}");
    assert!(summary.contains("routes       4"), "{summary}");
    assert_eq!(
        cli::run_table(TableCommand::Check { file: path.clone() }),
        ExitCode::SUCCESS
    );

    std::fs::write(&path, format!("{EXAMPLE}route 7 nowhere\nbogus\n")).unwrap();
    let errors = cli::check(&path).unwrap_err();
    assert_eq!(errors.len(), 2);
    let n = EXAMPLE.lines().count() as u32;
    assert_eq!(errors[0].line, n + 1);
    assert_eq!(errors[1].line, n + 2);
    assert_eq!(
        cli::run_table(TableCommand::Check { file: path }),
        ExitCode::FAILURE
    );
}

#[test]
fn add_passwd_del_round_trip() {
    let dir = TempDir::new("cli-user");
    let path = dir.0.join("example.table");
    std::fs::write(&path, EXAMPLE).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();

    let add = UserCommand::Add {
        file: path.clone(),
        user: "erin@example.com".into(),
        password: Some("Pw-erin-1".into()),
        groups: vec!["pstn".into()],
    };
    assert_eq!(cli::run_user(add), ExitCode::SUCCESS);
    let s = load(&path);
    let erin = s.subscriber(b"erin", b"example.com").unwrap();
    assert_eq!(
        erin.ha1_md5,
        Some(ha1::ha1_md5("erin", "example.com", "Pw-erin-1"))
    );
    assert_eq!(
        erin.ha1_sha256,
        Some(ha1::ha1_sha256("erin", "example.com", "Pw-erin-1"))
    );
    assert!(s.is_in_group(erin.id, "pstn"));
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains("Pw-erin-1"), "the password is never written");
    // Comments and layout of the rest of the file are kept.
    for line in EXAMPLE.lines() {
        assert!(text.contains(line), "lost line {line:?}");
    }
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o640, "permissions survive the rename");

    let passwd = UserCommand::Passwd {
        file: path.clone(),
        user: "erin@example.com".into(),
        password: Some("Pw-erin-2".into()),
    };
    assert_eq!(cli::run_user(passwd), ExitCode::SUCCESS);
    let s = load(&path);
    let erin = s.subscriber(b"erin", b"example.com").unwrap();
    assert_eq!(
        erin.ha1_md5,
        Some(ha1::ha1_md5("erin", "example.com", "Pw-erin-2"))
    );
    assert_eq!(
        erin.ha1_sha256,
        Some(ha1::ha1_sha256("erin", "example.com", "Pw-erin-2"))
    );
    assert!(s.is_in_group(erin.id, "pstn"), "passwd keeps the groups");

    let del = UserCommand::Del {
        file: path.clone(),
        user: "erin@example.com".into(),
    };
    assert_eq!(cli::run_user(del), ExitCode::SUCCESS);
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        EXAMPLE,
        "add + del is the identity"
    );
    let leftovers: Vec<_> = std::fs::read_dir(&dir.0).unwrap().collect();
    assert_eq!(leftovers.len(), 1, "no temporary files left behind");
}

#[test]
fn refused_edits_leave_the_file_untouched() {
    let dir = TempDir::new("cli-refuse");
    let path = dir.0.join("example.table");
    std::fs::write(&path, EXAMPLE).unwrap();
    let cases = [
        UserCommand::Add {
            file: path.clone(),
            user: "alice@example.com".into(),
            password: Some("x".into()),
            groups: vec![],
        },
        UserCommand::Add {
            file: path.clone(),
            user: "zed@unknown.example".into(),
            password: Some("x".into()),
            groups: vec![],
        },
        // Would collide with the alias a.smith@example.com.
        UserCommand::Add {
            file: path.clone(),
            user: "a.smith@example.com".into(),
            password: Some("x".into()),
            groups: vec![],
        },
        // alice still has an alias and a DID.
        UserCommand::Del {
            file: path.clone(),
            user: "alice@example.com".into(),
        },
        UserCommand::Passwd {
            file: path.clone(),
            user: "nobody@example.com".into(),
            password: Some("x".into()),
        },
    ];
    for cmd in cases {
        let shown = format!("{cmd:?}");
        assert_eq!(cli::run_user(cmd), ExitCode::FAILURE, "{shown}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), EXAMPLE, "{shown}");
    }
    // Deleting dan (no aliases) takes his forward line with him.
    let del = UserCommand::Del {
        file: path.clone(),
        user: "dan@example.net".into(),
    };
    assert_eq!(cli::run_user(del), ExitCode::SUCCESS);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains("dan@example.net"));
    assert_eq!(text.lines().count(), EXAMPLE.lines().count() - 2);
}

/// The same round trip through the `ringlet` binary, password on stdin for `passwd`.
#[test]
fn binary_round_trip_and_error_exit() {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let bin = env!("CARGO_BIN_EXE_ringlet");
    let dir = TempDir::new("cli-bin");
    let path = dir.0.join("example.table");
    std::fs::write(&path, EXAMPLE).unwrap();

    let out = Command::new(bin)
        .args(["user", "add"])
        .arg(&path)
        .args([
            "zoe@example.net",
            "--password",
            "Pw-zoe-1",
            "--groups",
            "pstn,international",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = load(&path);
    let zoe = s.subscriber(b"zoe", b"example.net").unwrap();
    assert_eq!(
        zoe.ha1_md5,
        Some(ha1::ha1_md5("zoe", "example.net", "Pw-zoe-1"))
    );
    assert!(s.is_in_group(zoe.id, "international"));

    let mut child = Command::new(bin)
        .args(["user", "passwd"])
        .arg(&path)
        .arg("zoe@example.net")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"Pw-zoe-2\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = load(&path);
    let zoe = s.subscriber(b"zoe", b"example.net").unwrap();
    assert_eq!(
        zoe.ha1_sha256,
        Some(ha1::ha1_sha256("zoe", "example.net", "Pw-zoe-2"))
    );

    let out = Command::new(bin)
        .args(["table", "check"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("subscribers  5"));

    let out = Command::new(bin)
        .args(["user", "del"])
        .arg(&path)
        .arg("zoe@example.net")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(std::fs::read_to_string(&path).unwrap(), EXAMPLE);

    std::fs::write(&path, format!("{EXAMPLE}user x@example.com md5=123\n")).unwrap();
    let out = Command::new(bin)
        .args(["table", "check"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let want = format!(
        "{}:{}: subscriber \"x@example.com\": md5 must be 32 hex digits",
        path.display(),
        EXAMPLE.lines().count() + 1
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&want),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
