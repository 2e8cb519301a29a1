//! Reloading: atomic swap, a refused file keeps the old table and does not block the next
//! reload, and the watcher notices a save-by-rename.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

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

fn table_with(users: &[&str]) -> String {
    let mut t = String::from("domain example.com\n");
    for u in users {
        t.push_str(&format!("user {u}@example.com md5={MD5}\n"));
    }
    t
}

/// Save the way editors and deploy tools do: new file, then rename over the old one.
fn save_by_rename(path: &Path, text: &str) {
    let tmp = path.with_extension("new");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn has_user(h: &TableHandle, user: &str) -> bool {
    h.load()
        .subscriber(user.as_bytes(), b"example.com")
        .is_some()
}

/// Wait (bounded) for `cond`; the bound is generous because the machine is shared.
fn wait_until(mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    cond()
}

#[test]
fn failed_reload_keeps_old_snapshot_and_next_reload_works() {
    let dir = TempDir::new("reload");
    let path = dir.0.join("t.table");
    std::fs::write(&path, table_with(&["alice"])).unwrap();
    let h = TableHandle::from_file(&path).unwrap();
    assert!(has_user(&h, "alice"));

    std::fs::write(
        &path,
        format!(
            "{}user bob@nowhere.example md5={MD5}\n",
            table_with(&["alice", "bob"])
        ),
    )
    .unwrap();
    let e = h.reload_from(&path).unwrap_err();
    assert_eq!(e.line, 4);
    assert!(e.reason.contains("unknown domain"), "{e}");
    assert!(has_user(&h, "alice"), "old table stays in service");
    assert!(
        !has_user(&h, "bob"),
        "nothing of the refused file is served"
    );

    // A missing file is refused the same way.
    let e = h.reload_from(&dir.0.join("missing.table")).unwrap_err();
    assert_eq!(e.line, 0);
    assert!(has_user(&h, "alice"));

    std::fs::write(&path, table_with(&["bob"])).unwrap();
    let report = h.reload_from(&path).unwrap();
    assert_eq!(report.counts.subscribers, 1);
    assert!(report.to_string().contains("1 subscribers"), "{report}");
    assert!(has_user(&h, "bob"));
    assert!(!has_user(&h, "alice"));
}

#[test]
fn readers_see_whole_tables_during_reloads() {
    let dir = TempDir::new("atomic");
    let a: Vec<String> = (0..200).map(|i| format!("a{i}")).collect();
    let b: Vec<String> = (0..200).map(|i| format!("b{i}")).collect();
    let pa = dir.0.join("a.table");
    let pb = dir.0.join("b.table");
    std::fs::write(
        &pa,
        table_with(&a.iter().map(String::as_str).collect::<Vec<_>>()),
    )
    .unwrap();
    std::fs::write(
        &pb,
        table_with(&b.iter().map(String::as_str).collect::<Vec<_>>()),
    )
    .unwrap();
    let h = TableHandle::from_file(&pa).unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let h = h.clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut checked = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) && checked < 1_000_000 {
                    let s = h.load();
                    let first = if s.subscriber(b"a0", b"example.com").is_some() {
                        "a"
                    } else {
                        "b"
                    };
                    // Every user of the same table is there; none of the other.
                    assert!(s
                        .subscriber(format!("{first}199").as_bytes(), b"example.com")
                        .is_some());
                    let other = if first == "a" { "b0" } else { "a0" };
                    assert!(s.subscriber(other.as_bytes(), b"example.com").is_none());
                    checked += 1;
                }
                checked
            })
        })
        .collect();
    for i in 0..40 {
        h.reload_from(if i % 2 == 0 { &pb } else { &pa }).unwrap();
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for r in readers {
        assert!(r.join().unwrap() > 0);
    }
}

#[test]
fn watcher_sees_save_by_rename_and_survives_a_broken_save() {
    let dir = TempDir::new("watch");
    let path = dir.0.join("t.table");
    std::fs::write(&path, table_with(&["alice"])).unwrap();
    let h = TableHandle::from_file(&path).unwrap();
    let w = spawn_watcher(h.clone(), path.clone(), Duration::from_millis(20)).unwrap();

    save_by_rename(&path, &table_with(&["alice", "bob"]));
    assert!(
        wait_until(|| has_user(&h, "bob")),
        "watcher reloaded after rename"
    );

    let before = w.attempts();
    save_by_rename(
        &path,
        "domain example.com\nuser carol@example.com md5=short\n",
    );
    assert!(
        wait_until(|| w.attempts() > before),
        "watcher tried the broken file"
    );
    assert!(has_user(&h, "bob"), "broken save keeps the old table");
    assert!(!has_user(&h, "carol"));

    save_by_rename(&path, &table_with(&["carol"]));
    assert!(
        wait_until(|| has_user(&h, "carol")),
        "a later good save is loaded"
    );
    assert!(!has_user(&h, "bob"));
    w.stop();
}

#[test]
fn handle_serves_demo_and_store_replaces() {
    let h = TableHandle::new(ForwardingSnapshot::demo());
    assert!(h.load().is_demo());
    h.store(ForwardingSnapshot::empty());
    assert!(!h.load().is_demo());
    assert!(!h.load().is_local_domain(b"localhost"));
}
