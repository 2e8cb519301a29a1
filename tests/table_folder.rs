//! A table may be a folder of `*.table` files, compiled as one; errors name the file.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use ringlet::table::cli::{self, UserCommand};
use ringlet::table::{spawn_watcher, ForwardingSnapshot, TableHandle};

const MD5: &str = "0123456789abcdef0123456789abcdef";

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

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

fn folder(tag: &str) -> TempDir {
    let d = TempDir::new(tag);
    write(
        &d.0,
        "00-domains.table",
        "domain a.example b.example\ngateway gw 127.0.0.1:5080\n",
    );
    write(
        &d.0,
        "10-a.table",
        &format!("# customer a\nuser u1@a.example md5={MD5}\n"),
    );
    write(
        &d.0,
        "20-b.table",
        &format!("user u1@b.example md5={MD5}\nalias 7@b.example u1@b.example\nroute * gw\n"),
    );
    // Ignored: other extensions, hidden files.
    write(&d.0, "notes.txt", "not a table\n");
    write(&d.0, ".20-b.table.swp", "garbage\n");
    d
}

#[test]
fn folder_compiles_as_one_table() {
    let d = folder("folder-load");
    let s = ForwardingSnapshot::from_file(&d.0).unwrap();
    assert_eq!(s.counts().subscribers, 2);
    assert_eq!(s.source_files().len(), 3);
    let u = s.subscriber(b"u1", b"b.example").unwrap();
    assert_eq!(
        s.source_files()[usize::from(u.file)],
        d.0.join("20-b.table")
    );
    assert_eq!(u.line, 1);
    assert!(s.resolve_alias(b"7", b"B.EXAMPLE").is_some());
    assert!(
        s.route_for_number(b"123").is_some(),
        "route in one file, gateway in another"
    );
}

#[test]
fn folder_errors_name_the_file_and_the_first_definition() {
    let d = folder("folder-errors");
    write(
        &d.0,
        "30-c.table",
        &format!("\nuser u1@a.example md5={MD5}\n"),
    );
    let e = ForwardingSnapshot::from_file(&d.0).unwrap_err();
    assert_eq!(e.file, d.0.join("30-c.table"));
    assert_eq!(e.line, 2);
    let first = d.0.join("10-a.table");
    assert!(
        e.reason
            .contains(&format!("first at {}:2", first.display())),
        "{e}"
    );

    let empty = TempDir::new("folder-empty");
    let e = ForwardingSnapshot::from_file(&empty.0).unwrap_err();
    assert!(e.reason.contains("no *.table files"), "{e}");
}

#[test]
fn watcher_sees_a_file_added_to_the_folder() {
    let d = folder("folder-watch");
    let h = TableHandle::from_file(&d.0).unwrap();
    let w = spawn_watcher(h.clone(), d.0.clone(), Duration::from_millis(20)).unwrap();
    let tmp = d.0.join(".new");
    std::fs::write(&tmp, format!("user u9@a.example md5={MD5}\n")).unwrap();
    std::fs::rename(&tmp, d.0.join("40-new.table")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline && h.load().subscriber(b"u9", b"a.example").is_none() {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(h.load().subscriber(b"u9", b"a.example").is_some());
    w.stop();
}

#[test]
fn user_commands_edit_the_right_file_of_a_folder() {
    let d = folder("folder-cli");
    let before_b = std::fs::read_to_string(d.0.join("20-b.table")).unwrap();
    let add = UserCommand::Add {
        file: d.0.clone(),
        user: "u2@a.example".into(),
        password: Some("pw".into()),
        groups: vec![],
    };
    assert_eq!(cli::run_user(add), ExitCode::SUCCESS);
    let a = std::fs::read_to_string(d.0.join("10-a.table")).unwrap();
    assert!(a.starts_with("# customer a\nuser u1@a.example"), "{a}");
    assert!(a.contains("\nuser u2@a.example md5="), "{a}");
    assert_eq!(
        std::fs::read_to_string(d.0.join("20-b.table")).unwrap(),
        before_b
    );

    // u1@b.example has an alias: refused, nothing written.
    let del = UserCommand::Del {
        file: d.0.clone(),
        user: "u1@b.example".into(),
    };
    assert_eq!(cli::run_user(del), ExitCode::FAILURE);
    assert_eq!(
        std::fs::read_to_string(d.0.join("20-b.table")).unwrap(),
        before_b
    );
    assert!(cli::check(&d.0).is_ok());
}
