//! Registrations survive a restart: write-behind to SQLite, reload skipping what expired
//! while the process was down, whole-shard rewrite after a full queue, clear errors.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ringlet::registrar::{
    BindingFlags, BindingList, ContactSet, ContactUpdate, LocationTable, RegisterChange,
    RegistrationStore, TimeBase,
};

/// Wall clock at the (virtual) start of the first run.
const WALL0: u64 = 1_750_000_000_000;

/// A fresh database path under the system temp dir, unique per test and process.
fn db_path(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ringlet-reg-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("registrations.db")
}

fn change<'a>(call_id: &'a [u8], cseq: u32, contacts: ContactSet<'a>) -> RegisterChange<'a> {
    RegisterChange {
        call_id,
        cseq,
        contacts,
        path: &[b"<sip:edge.example.test;lr>"],
        user_agent: b"ua/2",
        received: Some("127.0.0.7:40000".parse().unwrap()),
        local: 1,
        flags: BindingFlags(BindingFlags::NAT),
    }
}

fn register(t: &LocationTable, aor: &str, uri: &str, expires: u32, cseq: u32, now: Instant) {
    let c = [ContactUpdate {
        uri: uri.as_bytes(),
        expires,
        q: 700,
    }];
    let mut out = BindingList::new();
    t.apply(
        aor.as_bytes(),
        now,
        &change(b"cid", cseq, ContactSet::Contacts(&c)),
        &mut out,
    )
    .unwrap();
}

#[test]
fn bindings_come_back_after_a_restart_and_expired_ones_do_not() {
    let path = db_path("restart");
    let t0 = Instant::now();
    {
        let table = Arc::new(LocationTable::new(TimeBase::new(t0, WALL0), 8, 8));
        let store = RegistrationStore::open(&path).unwrap();
        let handle = store
            .start(table.clone(), Duration::from_millis(1000), 1024)
            .unwrap();
        register(
            &table,
            "alice@example.test",
            "sip:alice@127.0.0.7:40000",
            3600,
            1,
            t0,
        );
        register(
            &table,
            "bob@example.test",
            "sip:bob@127.0.0.8:5060",
            120,
            1,
            t0,
        );
        register(
            &table,
            "carol@example.test",
            "sip:carol@127.0.0.9:5060",
            3600,
            1,
            t0,
        );
        // carol unregisters: the row must go too.
        register(
            &table,
            "carol@example.test",
            "sip:carol@127.0.0.9:5060",
            0,
            2,
            t0,
        );
        let stats = handle.stop();
        assert_eq!(stats.errors, 0, "{stats:?}");
        assert_eq!(stats.batch_interval_ms, 1000);
        assert!(stats.batches >= 1);
    }
    // The process comes back 10 minutes (wall clock) later with a new monotonic epoch.
    let t1 = Instant::now();
    let wall1 = WALL0 + 600_000;
    let table = LocationTable::new(TimeBase::new(t1, wall1), 16, 8);
    let mut store = RegistrationStore::open(&path).unwrap();
    let report = store.load_into(&table, wall1).unwrap();
    assert_eq!((report.loaded, report.expired, report.invalid), (1, 1, 0));

    let mut out = BindingList::new();
    assert_eq!(table.lookup(b"alice@example.test", t1, &mut out), 1);
    let b = out.get(0).unwrap();
    assert_eq!(b.contact(), b"sip:alice@127.0.0.7:40000");
    assert_eq!(b.expires_in(), 3000);
    assert_eq!(b.q(), 700);
    assert_eq!(b.path(), b"<sip:edge.example.test;lr>");
    assert_eq!(b.received(), Some("127.0.0.7:40000".parse().unwrap()));
    assert_eq!(b.local(), 1);
    assert!(b.flags().has(BindingFlags::NAT));
    assert_eq!(b.next_hop(), Some("127.0.0.7:40000".parse().unwrap()));
    assert_eq!(
        table.lookup(b"bob@example.test", t1, &mut out),
        0,
        "expired while down"
    );
    assert_eq!(
        table.lookup(b"carol@example.test", t1, &mut out),
        0,
        "removed before stop"
    );

    // The reloaded binding keeps its Call-ID and CSeq: a stale refresh is still refused.
    let c = [ContactUpdate {
        uri: b"sip:alice@127.0.0.7:40000",
        expires: 60,
        q: 1000,
    }];
    let e = table.apply(
        b"alice@example.test",
        t1,
        &change(b"cid", 1, ContactSet::Contacts(&c)),
        &mut out,
    );
    assert!(e.is_err());
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

#[test]
fn a_batch_is_on_disk_before_stop_so_a_kill_loses_at_most_one_interval() {
    let path = db_path("flush");
    let t0 = Instant::now();
    let table = Arc::new(LocationTable::new(TimeBase::new(t0, WALL0), 4, 8));
    let handle = RegistrationStore::open(&path)
        .unwrap()
        .start(table.clone(), Duration::from_secs(3600), 64)
        .unwrap();
    register(
        &table,
        "alice@example.test",
        "sip:alice@127.0.0.7:40000",
        3600,
        1,
        t0,
    );
    handle.flush(); // what the interval timer does; the handle is still running
                    // Read the file from a second connection while the writer is alive (as after kill -9).
    let other = LocationTable::new(TimeBase::new(t0, WALL0), 4, 8);
    let report = RegistrationStore::open(&path)
        .unwrap()
        .load_into(&other, WALL0)
        .unwrap();
    assert_eq!(report.loaded, 1);
    drop(handle);
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

#[test]
fn a_full_queue_never_blocks_and_the_dirty_shard_is_rewritten_whole() {
    let path = db_path("full");
    let t0 = Instant::now();
    let table = Arc::new(LocationTable::new(TimeBase::new(t0, WALL0), 4, 8));
    // Capacity 1 and a long interval: nearly every update finds the queue full.
    let handle = RegistrationStore::open(&path)
        .unwrap()
        .start(table.clone(), Duration::from_secs(3600), 1)
        .unwrap();
    for i in 0..300 {
        register(
            &table,
            &format!("u{i}@example.test"),
            &format!("sip:u{i}@127.0.0.1:{}", 1000 + i),
            3600,
            1,
            t0,
        );
    }
    // A third of them leave again.
    for i in (0..300).step_by(3) {
        register(
            &table,
            &format!("u{i}@example.test"),
            &format!("sip:u{i}@127.0.0.1:{}", 1000 + i),
            0,
            2,
            t0,
        );
    }
    let stats = handle.stop();
    assert!(stats.updates_dropped > 0, "{stats:?}");
    assert!(stats.shards_rewritten > 0, "{stats:?}");
    assert_eq!(stats.errors, 0);

    let again = LocationTable::new(TimeBase::new(t0, WALL0), 4, 8);
    let report = RegistrationStore::open(&path)
        .unwrap()
        .load_into(&again, WALL0)
        .unwrap();
    assert_eq!(report.loaded, 200);
    let mut out = BindingList::new();
    for i in 0..300 {
        let n = again.lookup(format!("u{i}@example.test").as_bytes(), t0, &mut out);
        assert_eq!(n, usize::from(i % 3 != 0), "u{i}");
    }
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

#[test]
fn sweeping_expired_bindings_deletes_their_rows_and_a_changed_shard_count_is_handled() {
    let path = db_path("sweep");
    let t0 = Instant::now();
    let table = Arc::new(LocationTable::new(TimeBase::new(t0, WALL0), 4, 8));
    let handle = RegistrationStore::open(&path)
        .unwrap()
        .start(table.clone(), Duration::from_secs(3600), 64)
        .unwrap();
    register(&table, "short@example.test", "sip:s@127.0.0.1:1", 60, 1, t0);
    register(
        &table,
        "long@example.test",
        "sip:l@127.0.0.1:2",
        3600,
        1,
        t0,
    );
    handle.flush();
    let r = table.sweep(t0 + Duration::from_secs(61), usize::MAX);
    assert_eq!(r.bindings_removed, 1);
    drop(handle);

    // Reload into a table with another shard count, at a wall time when nothing expired.
    let big = Arc::new(LocationTable::new(TimeBase::new(t0, WALL0), 64, 8));
    let mut store = RegistrationStore::open(&path).unwrap();
    let report = store.load_into(&big, WALL0).unwrap();
    assert_eq!(
        (report.loaded, report.expired),
        (1, 0),
        "the swept row was deleted"
    );
    let handle = store
        .start(big.clone(), Duration::from_secs(3600), 64)
        .unwrap();
    register(&big, "long@example.test", "sip:l@127.0.0.1:2", 0, 2, t0);
    handle.flush();
    drop(handle);
    let empty = LocationTable::new(TimeBase::new(t0, WALL0), 64, 8);
    let report = RegistrationStore::open(&path)
        .unwrap()
        .load_into(&empty, WALL0)
        .unwrap();
    assert_eq!(report.loaded, 0);
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

#[test]
fn errors_name_the_database_file() {
    let path = std::env::temp_dir().join("ringlet-no-such-dir-for-sure/x/registrations.db");
    let e = RegistrationStore::open(&path)
        .err()
        .expect("a missing directory cannot be opened");
    let msg = e.to_string();
    assert!(
        msg.contains("ringlet-no-such-dir-for-sure/x/registrations.db"),
        "{msg}"
    );

    // A file from a newer schema is refused, not silently reused.
    let path = db_path("version");
    drop(RegistrationStore::open(&path).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    let msg = RegistrationStore::open(&path)
        .err()
        .expect("newer schema")
        .to_string();
    assert!(
        msg.contains("registrations.db") && msg.contains("version 99"),
        "{msg}"
    );
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

#[test]
fn start_persistence_follows_the_config() {
    use ringlet::registrar::{start_persistence, RegistrarConfig};
    let t0 = Instant::now();
    let table = Arc::new(LocationTable::new(TimeBase::new(t0, WALL0), 8, 8));
    let off = RegistrarConfig::in_memory();
    assert!(start_persistence(&off, &table, WALL0).unwrap().is_none());

    let path = db_path("config");
    let cfg = RegistrarConfig {
        db_path: Some(path.clone()),
        batch_interval_ms: 250,
        ..RegistrarConfig::default()
    };
    let (handle, report) = start_persistence(&cfg, &table, WALL0).unwrap().unwrap();
    assert_eq!(report.loaded, 0);
    assert_eq!(handle.stats().batch_interval_ms, 250);
    register(
        &table,
        "alice@example.test",
        "sip:alice@127.0.0.7:40000",
        3600,
        1,
        t0,
    );
    drop(handle); // final batch on drop

    let again = Arc::new(LocationTable::new(TimeBase::new(t0, WALL0), 8, 8));
    let (handle, report) = start_persistence(&cfg, &again, WALL0 + 1000)
        .unwrap()
        .unwrap();
    assert_eq!(report.loaded, 1);
    let mut out = BindingList::new();
    assert_eq!(again.lookup(b"alice@example.test", t0, &mut out), 1);
    drop(handle);
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

/// Several threads register, refresh and remove while the writer runs with a tiny queue
/// and a short interval (so updates are dropped and shards rewritten concurrently). After
/// stop, the file must hold exactly what the table holds.
#[test]
fn concurrent_writers_and_the_write_behind_converge_to_the_table() {
    let path = db_path("storm");
    let t0 = Instant::now();
    let table = Arc::new(LocationTable::new(TimeBase::new(t0, WALL0), 8, 8));
    let handle = RegistrationStore::open(&path)
        .unwrap()
        .start(table.clone(), Duration::from_millis(2), 8)
        .unwrap();
    let threads: Vec<_> = (0..3)
        .map(|w| {
            let table = table.clone();
            std::thread::spawn(move || {
                for round in 1..=30u32 {
                    for a in 0..60 {
                        let aor = format!("w{w}a{a}@example.test");
                        // Every third AoR ends unregistered on odd rounds.
                        let expires = if a % 3 == 0 && round % 2 == 1 { 0 } else { 600 };
                        let uri = format!("sip:w{w}a{a}@127.0.0.{}:{}", w + 1, 5000 + round % 2);
                        register(&table, &aor, &uri, expires, round, t0);
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let stats = handle.stop();
    assert_eq!(stats.errors, 0, "{stats:?}");

    let reloaded = LocationTable::new(TimeBase::new(t0, WALL0), 8, 8);
    let report = RegistrationStore::open(&path)
        .unwrap()
        .load_into(&reloaded, WALL0)
        .unwrap();
    assert_eq!(report.loaded, table.counts().1, "{stats:?}");
    let (mut a, mut b) = (BindingList::new(), BindingList::new());
    for w in 0..3 {
        for i in 0..60 {
            let aor = format!("w{w}a{i}@example.test");
            table.lookup(aor.as_bytes(), t0, &mut a);
            reloaded.lookup(aor.as_bytes(), t0, &mut b);
            let left: Vec<_> = a
                .iter()
                .map(|x| (x.contact().to_vec(), x.expires_in()))
                .collect();
            let right: Vec<_> = b
                .iter()
                .map(|x| (x.contact().to_vec(), x.expires_in()))
                .collect();
            assert_eq!(left, right, "{aor}");
        }
    }
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}
