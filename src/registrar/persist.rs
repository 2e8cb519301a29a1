//! Registrations on disk: a SQLite file written behind the location table, read back at
//! start.
//!
//! ```text
//!  workers ──apply()──► LocationTable ──(under the shard lock) try_send(AorUpdate)──┐
//!                            ▲  dirty[k] ◄── queue full: update dropped, counted     │
//!                            │                                                       ▼
//!                            └── rewrite shard k whole ◄── writer thread: every batch
//!                                                          interval, one transaction:
//!                                                          pending AoRs + dirty shards
//! ```
//!
//! Invariants:
//! - A worker never waits on the database: it only `try_send`s into a bounded queue.
//! - Each queued update is the AoR's complete state, queued while its shard lock is held,
//!   so the queue orders an AoR's states as they happened; the writer keeps the last one
//!   per AoR of each batch (last wins).
//! - A dropped update leaves its shard `dirty`. The writer clears the flag, drains the
//!   queue, THEN copies the shard from the table: everything the dropped update carried is
//!   in that copy, and any update queued after the drain is newer and replays on top next
//!   batch. After a failed commit, every shard the batch touched is marked dirty again.
//! - Each batch is one transaction (WAL, `synchronous=NORMAL`): a process killed with -9
//!   loses at most the updates of the batch interval in progress.
//! - Expiry is stored as absolute Unix milliseconds, so a restart after downtime drops the
//!   bindings that expired meanwhile; conversion uses the table's [`TimeBase`], i.e. the
//!   wall-clock reading the runtime took at start.
//! - Rows record their shard; the shard count is kept in `meta`, and a change of it makes
//!   the first batch rewrite the whole table.
//!
//! The writer thread is I/O, not protocol core: it reads the monotonic clock to pace its
//! batches. Nothing here runs on a worker except [`PersistSink::try_send`].

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender, TrySendError};
use rusqlite::{params, Connection, OptionalExtension};

use super::binding::{Binding, BindingFields, BindingFlags, TimeBase};
use super::location::LocationTable;

/// Schema version written to `PRAGMA user_version`.
const SCHEMA_VERSION: i64 = 1;

const SCHEMA_V1: &str = "
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS binding (
    aor             BLOB NOT NULL,
    contact         BLOB NOT NULL,
    shard           INTEGER NOT NULL,
    q               INTEGER NOT NULL,
    expires_unix_ms INTEGER NOT NULL,
    updated_unix_ms INTEGER NOT NULL,
    call_id         BLOB NOT NULL,
    cseq            INTEGER NOT NULL,
    path            BLOB NOT NULL,
    user_agent      BLOB NOT NULL,
    received        TEXT,
    local           INTEGER NOT NULL,
    flags           INTEGER NOT NULL,
    PRIMARY KEY (aor, contact)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS binding_shard ON binding (shard);
";

/// A database failure, naming the file and what was being done.
#[derive(Debug)]
pub struct PersistError {
    pub path: PathBuf,
    pub doing: &'static str,
    pub detail: String,
}

impl std::fmt::Display for PersistError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "registration database {}: {}: {}",
            self.path.display(),
            self.doing,
            self.detail
        )
    }
}

impl std::error::Error for PersistError {}

fn err(path: &Path, doing: &'static str, e: impl std::fmt::Display) -> PersistError {
    PersistError {
        path: path.to_path_buf(),
        doing,
        detail: e.to_string(),
    }
}

/// An AoR's complete state after a change (empty: the AoR is gone).
#[derive(Debug)]
pub(crate) struct AorUpdate {
    pub shard: usize,
    pub aor: Box<[u8]>,
    pub bindings: Vec<Binding>,
}

/// Counters of the write-behind path, shared by the workers' sink and the writer.
#[derive(Debug, Default)]
pub struct PersistStats {
    updates_queued: AtomicU64,
    updates_dropped: AtomicU64,
    batches: AtomicU64,
    rows_written: AtomicU64,
    shards_rewritten: AtomicU64,
    errors: AtomicU64,
    last_batch_rows: AtomicU64,
    last_batch_micros: AtomicU64,
    last_error: Mutex<Option<String>>,
}

/// A copy of [`PersistStats`] for reporting.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PersistStatsSnapshot {
    pub batch_interval_ms: u64,
    pub updates_queued: u64,
    /// Updates that found the queue full (their shard was rewritten whole instead).
    pub updates_dropped: u64,
    pub batches: u64,
    pub rows_written: u64,
    pub shards_rewritten: u64,
    pub errors: u64,
    pub last_batch_rows: u64,
    pub last_batch_micros: u64,
    pub last_error: Option<String>,
}

/// The workers' end of the queue (held by the [`LocationTable`]).
#[derive(Debug)]
pub(crate) struct PersistSink {
    tx: Sender<AorUpdate>,
    stats: Arc<PersistStats>,
}

impl PersistSink {
    /// Queues without waiting; false (and counted) when the queue is full or closed.
    pub(crate) fn try_send(&self, u: AorUpdate) -> bool {
        match self.tx.try_send(u) {
            Ok(()) => {
                self.stats.updates_queued.fetch_add(1, Ordering::Relaxed);
                true
            }
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.stats.updates_dropped.fetch_add(1, Ordering::Relaxed);
                false
            }
        }
    }
}

/// What [`RegistrationStore::load_into`] found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoadReport {
    pub loaded: usize,
    /// Rows whose expiry had passed at the wall-clock time given; deleted from the file.
    pub expired: usize,
    /// Rows that could not be used (bad values); left in the file, named in the log.
    pub invalid: usize,
}

/// The open database, before the writer starts.
pub struct RegistrationStore {
    conn: Connection,
    path: PathBuf,
    stored_shards: Option<usize>,
}

impl RegistrationStore {
    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, PersistError> {
        let path = path.as_ref();
        let conn = Connection::open(path).map_err(|e| err(path, "open", e))?;
        conn.busy_timeout(Duration::from_secs(5))
            .map_err(|e| err(path, "set busy timeout", e))?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| err(path, "enable WAL", e))?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(|e| err(path, "set synchronous", e))?;
        // 32 MiB of page cache: a whole-shard rewrite stays in memory until commit.
        conn.pragma_update(None, "cache_size", -32_768i64)
            .map_err(|e| err(path, "set cache size", e))?;
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(|e| err(path, "read schema version", e))?;
        match version {
            0 => {
                conn.execute_batch(SCHEMA_V1)
                    .map_err(|e| err(path, "create schema", e))?;
                conn.pragma_update(None, "user_version", SCHEMA_VERSION)
                    .map_err(|e| err(path, "write schema version", e))?;
            }
            SCHEMA_VERSION => {}
            v => {
                return Err(err(
                    path,
                    "check schema version",
                    format!(
                        "version {v} is not one this ringlet knows (it writes {SCHEMA_VERSION})"
                    ),
                ))
            }
        }
        let stored_shards: Option<String> = conn
            .query_row("SELECT value FROM meta WHERE key = 'shards'", [], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| err(path, "read meta", e))?;
        let stored_shards = stored_shards.and_then(|s| s.parse().ok());
        Ok(RegistrationStore {
            conn,
            path: path.to_path_buf(),
            stored_shards,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Loads every binding not expired at `wall_now_unix_ms` into `table` (whose
    /// [`TimeBase`] converts the stored Unix expiry) and deletes the expired rows.
    pub fn load_into(
        &mut self,
        table: &LocationTable,
        wall_now_unix_ms: u64,
    ) -> Result<LoadReport, PersistError> {
        let path = self.path.clone();
        let now = i64::try_from(wall_now_unix_ms).unwrap_or(i64::MAX);
        let expired = self
            .conn
            .execute("DELETE FROM binding WHERE expires_unix_ms <= ?1", [now])
            .map_err(|e| err(&path, "delete expired bindings", e))?;
        let mut report = LoadReport {
            expired,
            ..LoadReport::default()
        };
        let time = table.time_base();
        let mut stmt = self
            .conn
            .prepare(
                "SELECT aor, contact, q, expires_unix_ms, updated_unix_ms, call_id, cseq, path,
                        user_agent, received, local, flags
                 FROM binding WHERE expires_unix_ms > ?1",
            )
            .map_err(|e| err(&path, "prepare load", e))?;
        let mut rows = stmt
            .query([now])
            .map_err(|e| err(&path, "load bindings", e))?;
        while let Some(row) = rows.next().map_err(|e| err(&path, "load bindings", e))? {
            match row_to_binding(row, &time) {
                Ok((aor, b)) => {
                    table.insert_loaded(&aor, b);
                    report.loaded += 1;
                }
                Err(_) => report.invalid += 1,
            }
        }
        Ok(report)
    }

    /// Starts the writer thread for `table` and attaches the workers' queue to it. Fails if
    /// the table already has a writer.
    pub fn start(
        self,
        table: Arc<LocationTable>,
        batch_interval: Duration,
        queue_capacity: usize,
    ) -> Result<PersistHandle, PersistError> {
        let (tx, rx) = bounded(queue_capacity.max(1));
        let (ctl_tx, ctl_rx) = bounded(4);
        let stats = Arc::new(PersistStats::default());
        if !table.attach_sink(PersistSink {
            tx,
            stats: stats.clone(),
        }) {
            return Err(err(
                &self.path,
                "start writer",
                "the location table already has one",
            ));
        }
        let full_rewrite = self.stored_shards != Some(table.shard_count());
        let writer = Writer {
            conn: self.conn,
            path: self.path,
            table,
            rx,
            ctl: ctl_rx,
            stats: stats.clone(),
            pending: HashMap::new(),
            full_rewrite,
        };
        let interval = batch_interval.max(Duration::from_millis(1));
        let thread = std::thread::Builder::new()
            .name("ringlet-regdb".into())
            .spawn(move || writer.run(interval))
            .map_err(|e| err(Path::new("-"), "spawn writer thread", e))?;
        Ok(PersistHandle {
            ctl: ctl_tx,
            thread: Some(thread),
            stats,
            interval_ms: u64::try_from(interval.as_millis()).unwrap_or(u64::MAX),
        })
    }
}

fn row_to_binding(row: &rusqlite::Row<'_>, time: &TimeBase) -> Result<(Vec<u8>, Binding), ()> {
    let get_u64 = |i: usize| -> Result<u64, ()> {
        let v: i64 = row.get(i).map_err(|_| ())?;
        u64::try_from(v).map_err(|_| ())
    };
    let aor: Vec<u8> = row.get(0).map_err(|_| ())?;
    let contact: Vec<u8> = row.get(1).map_err(|_| ())?;
    let q = u16::try_from(get_u64(2)?).map_err(|_| ())?;
    let expires = get_u64(3)?;
    let updated = get_u64(4)?;
    let call_id: Vec<u8> = row.get(5).map_err(|_| ())?;
    let cseq = u32::try_from(get_u64(6)?).map_err(|_| ())?;
    let path: Vec<u8> = row.get(7).map_err(|_| ())?;
    let ua: Vec<u8> = row.get(8).map_err(|_| ())?;
    let received: Option<String> = row.get(9).map_err(|_| ())?;
    let received = match received {
        Some(s) => Some(s.parse::<SocketAddr>().map_err(|_| ())?),
        None => None,
    };
    let local = u16::try_from(get_u64(10)?).map_err(|_| ())?;
    let flags = u32::try_from(get_u64(11)?).map_err(|_| ())?;
    if aor.is_empty() || contact.is_empty() || q > 1000 {
        return Err(());
    }
    let b = Binding::new(&BindingFields {
        contact: &contact,
        call_id: &call_id,
        path: &[&path],
        user_agent: &ua,
        q,
        cseq,
        local,
        flags: BindingFlags(flags),
        expires_at_ms: time.from_unix_ms(expires),
        updated_ms: time.from_unix_ms(updated),
        received,
    });
    Ok((aor, b))
}

/// A shard copied out of the table for a whole rewrite: its index and every AoR in it.
type ShardCopy = (usize, Vec<(Box<[u8]>, Vec<Binding>)>);

enum Control {
    /// Commit what is pending now, then answer.
    Flush(Sender<()>),
    /// Commit what is pending and end the thread.
    Stop,
}

/// The running writer. Dropping it stops the writer after a final batch.
pub struct PersistHandle {
    ctl: Sender<Control>,
    thread: Option<JoinHandle<()>>,
    stats: Arc<PersistStats>,
    interval_ms: u64,
}

impl PersistHandle {
    pub fn stats(&self) -> PersistStatsSnapshot {
        let s = &self.stats;
        let ld = |a: &AtomicU64| a.load(Ordering::Relaxed);
        PersistStatsSnapshot {
            batch_interval_ms: self.interval_ms,
            updates_queued: ld(&s.updates_queued),
            updates_dropped: ld(&s.updates_dropped),
            batches: ld(&s.batches),
            rows_written: ld(&s.rows_written),
            shards_rewritten: ld(&s.shards_rewritten),
            errors: ld(&s.errors),
            last_batch_rows: ld(&s.last_batch_rows),
            last_batch_micros: ld(&s.last_batch_micros),
            last_error: s.last_error.lock().map(|e| e.clone()).unwrap_or(None),
        }
    }

    /// Commits everything queued so far and waits for it (management "sync", tests).
    pub fn flush(&self) {
        let (tx, rx) = bounded(1);
        if self.ctl.send(Control::Flush(tx)).is_ok() {
            let _ = rx.recv();
        }
    }

    /// Commits what is pending, ends the writer and returns the final counters.
    pub fn stop(mut self) -> PersistStatsSnapshot {
        self.shutdown();
        self.stats()
    }

    fn shutdown(&mut self) {
        if let Some(t) = self.thread.take() {
            let _ = self.ctl.send(Control::Stop);
            let _ = t.join();
        }
    }
}

impl Drop for PersistHandle {
    fn drop(&mut self) {
        self.shutdown();
    }
}

struct Writer {
    conn: Connection,
    path: PathBuf,
    table: Arc<LocationTable>,
    rx: Receiver<AorUpdate>,
    ctl: Receiver<Control>,
    stats: Arc<PersistStats>,
    pending: HashMap<Box<[u8]>, (usize, Vec<Binding>)>,
    full_rewrite: bool,
}

impl Writer {
    /// Sleeps between batches and takes the queue whole at each one. It does not wake per
    /// update: a receiver blocked on the queue would make every worker `try_send` a futex
    /// wake and every registration a context switch of this thread (measured: a quarter of
    /// the process's CPU at 2,000 registrations/s). Only control messages wake it early.
    fn run(mut self, interval: Duration) {
        let mut deadline = Instant::now() + interval;
        loop {
            let wait = deadline.saturating_duration_since(Instant::now());
            match self.ctl.recv_timeout(wait) {
                Ok(Control::Flush(done)) => {
                    self.batch();
                    let _ = done.send(());
                }
                Ok(Control::Stop) | Err(RecvTimeoutError::Disconnected) => {
                    self.batch();
                    return;
                }
                Err(RecvTimeoutError::Timeout) => {}
            }
            if Instant::now() >= deadline {
                self.batch();
                deadline = Instant::now() + interval;
            }
        }
    }

    /// One batch: pending AoRs and dirty shards in one transaction.
    fn batch(&mut self) {
        let started = Instant::now();
        let n = self.table.shard_count();
        let full = self.full_rewrite;
        // Order matters (see the module invariants): clear dirty flags, drain, then copy.
        let dirty: Vec<usize> = (0..n)
            .filter(|&k| self.table.take_dirty(k) || full)
            .collect();
        while let Ok(u) = self.rx.try_recv() {
            self.pending.insert(u.aor, (u.shard, u.bindings));
        }
        if dirty.is_empty() && self.pending.is_empty() {
            return;
        }
        let mut shard_rows: Vec<ShardCopy> = Vec::new();
        for &k in &dirty {
            let mut rows = Vec::new();
            self.table
                .for_each_in_shard(k, |aor, list| rows.push((Box::from(aor), list.to_vec())));
            shard_rows.push((k, rows));
        }
        let mut is_dirty = vec![false; n];
        for &k in &dirty {
            is_dirty[k] = true;
        }
        let pending = std::mem::take(&mut self.pending);
        let time = self.table.time_base();
        match self.write(&pending, &is_dirty, &shard_rows, full, &time) {
            Ok(rows) => {
                self.full_rewrite = false;
                self.stats.batches.fetch_add(1, Ordering::Relaxed);
                self.stats.rows_written.fetch_add(rows, Ordering::Relaxed);
                self.stats
                    .shards_rewritten
                    .fetch_add(dirty.len() as u64, Ordering::Relaxed);
                self.stats.last_batch_rows.store(rows, Ordering::Relaxed);
            }
            Err(e) => {
                self.stats.errors.fetch_add(1, Ordering::Relaxed);
                if let Ok(mut last) = self.stats.last_error.lock() {
                    *last = Some(e.to_string());
                }
                // Nothing of the batch is on disk: rewrite every shard it touched.
                for (_, (k, _)) in pending.iter() {
                    self.table.mark_dirty(*k);
                }
                for &k in &dirty {
                    self.table.mark_dirty(k);
                }
            }
        }
        let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.stats
            .last_batch_micros
            .store(micros, Ordering::Relaxed);
    }

    fn write(
        &mut self,
        pending: &HashMap<Box<[u8]>, (usize, Vec<Binding>)>,
        is_dirty: &[bool],
        shard_rows: &[ShardCopy],
        full: bool,
        time: &TimeBase,
    ) -> Result<u64, PersistError> {
        let path = self.path.clone();
        let n = self.table.shard_count();
        let tx = self
            .conn
            .transaction()
            .map_err(|e| err(&path, "begin batch", e))?;
        let mut rows = 0u64;
        {
            let mut del_aor = tx
                .prepare_cached("DELETE FROM binding WHERE aor = ?1")
                .map_err(|e| err(&path, "prepare delete", e))?;
            let mut del_shard = tx
                .prepare_cached("DELETE FROM binding WHERE shard = ?1")
                .map_err(|e| err(&path, "prepare delete", e))?;
            let mut ins = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO binding (aor, contact, shard, q, expires_unix_ms,
                        updated_unix_ms, call_id, cseq, path, user_agent, received, local, flags)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                )
                .map_err(|e| err(&path, "prepare insert", e))?;
            let mut insert = |aor: &[u8], shard: usize, b: &Binding| {
                let to_i64 = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
                ins.execute(params![
                    aor,
                    b.contact(),
                    shard as i64,
                    i64::from(b.q),
                    to_i64(time.to_unix_ms(b.expires_at_ms)),
                    to_i64(time.to_unix_ms(b.updated_ms)),
                    b.call_id(),
                    i64::from(b.cseq),
                    b.path(),
                    b.user_agent(),
                    b.received.map(|a| a.to_string()),
                    i64::from(b.local),
                    i64::from(b.flags.0),
                ])
                .map_err(|e| err(&path, "insert binding", e))
            };
            if full {
                tx.execute("DELETE FROM binding", [])
                    .map_err(|e| err(&path, "clear table", e))?;
            }
            for (aor, (shard, list)) in pending {
                if is_dirty.get(*shard).copied().unwrap_or(true) {
                    continue; // rewritten whole below, from a newer copy
                }
                del_aor
                    .execute([&aor[..]])
                    .map_err(|e| err(&path, "delete aor", e))?;
                for b in list {
                    insert(aor, *shard, b)?;
                    rows += 1;
                }
            }
            for (k, aors) in shard_rows {
                if !full {
                    del_shard
                        .execute([*k as i64])
                        .map_err(|e| err(&path, "delete shard", e))?;
                }
                for (aor, list) in aors {
                    for b in list {
                        insert(aor, *k, b)?;
                        rows += 1;
                    }
                }
            }
        }
        if full {
            tx.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('shards', ?1)",
                [n.to_string()],
            )
            .map_err(|e| err(&path, "write meta", e))?;
        }
        tx.commit().map_err(|e| err(&path, "commit batch", e))?;
        Ok(rows)
    }
}

/// What the runtime calls once at start: if `cfg` names a database, open it, load the
/// bindings still valid at `wall_now_unix_ms` into `table`, and start the write-behind
/// writer with the configured batch interval and queue. `None` when persistence is off.
/// Stop it with [`PersistHandle::stop`] (or drop it) at shutdown for a final batch.
pub fn start_persistence(
    cfg: &super::RegistrarConfig,
    table: &Arc<LocationTable>,
    wall_now_unix_ms: u64,
) -> Result<Option<(PersistHandle, LoadReport)>, PersistError> {
    let Some(path) = cfg.db_file() else {
        return Ok(None);
    };
    let mut store = RegistrationStore::open(path)?;
    let report = store.load_into(table, wall_now_unix_ms)?;
    let handle = store.start(
        table.clone(),
        cfg.batch_interval(),
        cfg.queue_capacity as usize,
    )?;
    Ok(Some((handle, report)))
}
