//! Registrar benchmarks: REGISTER processing in memory (and with write-behind to SQLite),
//! lookups alone and under a concurrent REGISTER storm, and heap bytes per binding.
//!
//! Run (short): `cargo bench --bench registrar -- --warm-up-time 1 --measurement-time 3`
//! Figures and the machine: benches/results/registrar.md.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicIsize, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ringlet::registrar::{
    AorLookup, BindingFlags, BindingList, ContactSet, ContactUpdate, LocationTable, ParsedRegister,
    RegisterChange, RegisterOutcome, RegisterSource, Registrar, RegistrarConfig, RegistrationStore,
    RequestedContact, SubscriberDirectory, TimeBase,
};

/// Counts live heap bytes so the bytes-per-binding figure includes hash-table slots and
/// allocator requests, not just an estimate.
struct Counting;
static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator, which upholds the
// GlobalAlloc contract; the counter is only arithmetic on the requested sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as isize, Ordering::Relaxed);
        // SAFETY: same layout the caller gave us, forwarded to System.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as isize, Ordering::Relaxed);
        // SAFETY: `p` was allocated by System.alloc with layout `l` (above).
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        LIVE.fetch_add(new as isize - l.size() as isize, Ordering::Relaxed);
        // SAFETY: `p`/`l` come from a previous allocation by System via this wrapper.
        unsafe { System.realloc(p, l, new) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const SUBSCRIBERS: usize = 100_000;

/// Every user of example.test exists.
struct AnyUser;

impl SubscriberDirectory for AnyUser {
    fn is_local_domain(&self, host: &[u8]) -> bool {
        host == b"example.test"
    }
    fn registration_aor(&self, user: &[u8], host: &[u8], out: &mut Vec<u8>) -> AorLookup {
        out.clear();
        out.extend_from_slice(user);
        out.push(b'@');
        out.extend_from_slice(host);
        AorLookup::Found
    }
}

struct Names {
    users: Vec<String>,
    contacts: Vec<String>,
    call_ids: Vec<String>,
}

fn names(n: usize) -> Names {
    Names {
        users: (0..n).map(|i| format!("user{i:06}")).collect(),
        contacts: (0..n)
            .map(|i| {
                format!(
                    "sip:user{i:06}@127.0.{}.{}:5060;transport=udp",
                    i / 250 % 250,
                    i % 250 + 1
                )
            })
            .collect(),
        call_ids: (0..n)
            .map(|i| format!("{i:08x}-4c2f-9a1b-5e7d3c2a1f00@127.0.0.1"))
            .collect(),
    }
}

fn source() -> RegisterSource {
    RegisterSource {
        src: "127.0.0.1:5062".parse::<SocketAddr>().unwrap(),
        local: 0,
        flags: BindingFlags::default(),
    }
}

/// REGISTER refreshes through `Registrar::process`, cycling over the subscribers.
fn bench_process(c: &mut Criterion) {
    let n = names(SUBSCRIBERS);
    let t0 = Instant::now();
    let mut g = c.benchmark_group("registrar");
    g.throughput(Throughput::Elements(1));
    for persisted in [false, true] {
        let table = Arc::new(LocationTable::new(
            TimeBase::new(t0, 1_750_000_000_000),
            256,
            16,
        ));
        let registrar = Registrar::new(table.clone(), &RegistrarConfig::in_memory());
        let dir = std::env::temp_dir().join(format!("ringlet-bench-reg-{}", std::process::id()));
        let handle = if persisted {
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            let store = RegistrationStore::open(dir.join("reg.db")).unwrap();
            Some(
                store
                    .start(table.clone(), Duration::from_millis(1000), 65_536)
                    .unwrap(),
            )
        } else {
            None
        };
        let mut out = RegisterOutcome::new();
        let from = source();
        let mut i = 0usize;
        let mut cseq = 0u32;
        let name = if persisted {
            "process_register_write_behind"
        } else {
            "process_register_in_memory"
        };
        g.bench_function(name, |b| {
            b.iter(|| {
                let k = i % SUBSCRIBERS;
                if k == 0 {
                    cseq += 1;
                }
                i += 1;
                let mut r = ParsedRegister::new(
                    b"example.test",
                    n.users[k].as_bytes(),
                    b"example.test",
                    n.call_ids[k].as_bytes(),
                    cseq,
                );
                r.expires = Some(3600);
                r.user_agent = b"Ringlet-Bench/1.0";
                r.push_contact(RequestedContact {
                    uri: n.contacts[k].as_bytes(),
                    expires: None,
                    q: None,
                });
                registrar.process(
                    &r,
                    &AnyUser,
                    &from,
                    t0 + Duration::from_millis(i as u64 / 64),
                    &mut out,
                );
                black_box(out.status);
            })
        });
        if let Some(h) = handle {
            let s = h.stop();
            eprintln!(
                "write-behind: queued {} dropped {} batches {} rows {} shards rewritten {} errors {} last batch {} rows in {} us",
                s.updates_queued, s.updates_dropped, s.batches, s.rows_written, s.shards_rewritten, s.errors, s.last_batch_rows, s.last_batch_micros
            );
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
    g.finish();
}

fn fill(table: &LocationTable, n: &Names, t0: Instant) {
    let mut out = BindingList::new();
    for k in 0..n.users.len() {
        let aor = format!("{}@example.test", n.users[k]);
        let c = [ContactUpdate {
            uri: n.contacts[k].as_bytes(),
            expires: 3600,
            q: 1000,
        }];
        let change = RegisterChange {
            call_id: n.call_ids[k].as_bytes(),
            cseq: 1,
            contacts: ContactSet::Contacts(&c),
            path: &[],
            user_agent: b"Ringlet-Bench/1.0",
            received: Some("127.0.0.1:5062".parse().unwrap()),
            local: 0,
            flags: BindingFlags::default(),
        };
        table.apply(aor.as_bytes(), t0, &change, &mut out).unwrap();
    }
}

/// The whole REGISTER path of a worker: parse the datagram, process against a table
/// snapshot of 10 000 subscribers, write the 200 with the sip writer.
fn bench_datagram(c: &mut Criterion) {
    const USERS: usize = 10_000;
    let mut text = String::from("domain example.test\n");
    for i in 0..USERS {
        text.push_str(&format!(
            "user user{i:06}@example.test md5=ae7914636bb60b37a9441871cf572389\n"
        ));
    }
    let snapshot =
        ringlet::table::ForwardingSnapshot::parse(&text, std::path::Path::new("bench.table"))
            .unwrap();
    let datagrams: Vec<Vec<u8>> = (0..USERS)
        .map(|i| {
            format!(
                "REGISTER sip:example.test SIP/2.0\r\n\
                 Via: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK-{i:08x};rport\r\n\
                 Max-Forwards: 70\r\n\
                 From: <sip:user{i:06}@example.test>;tag=8f3a{i}\r\n\
                 To: <sip:user{i:06}@example.test>\r\n\
                 Call-ID: {i:08x}-4c2f-9a1b-5e7d3c2a1f00@127.0.0.1\r\n\
                 CSeq: CSEQ REGISTER\r\n\
                 Contact: <sip:user{i:06}@127.0.0.1:5062;transport=udp>;expires=3600\r\n\
                 User-Agent: Ringlet-Bench/1.0\r\n\
                 Content-Length: 0\r\n\r\n"
            )
            .into_bytes()
        })
        .collect();
    let t0 = Instant::now();
    let table = Arc::new(LocationTable::new(TimeBase::new(t0, 0), 256, 16));
    let registrar = Registrar::new(table, &RegistrarConfig::in_memory());
    let from = source();
    let mut out = RegisterOutcome::new();
    let mut response = Vec::with_capacity(1024);
    let mut buf = Vec::with_capacity(1024);
    let mut i = 0usize;
    let mut g = c.benchmark_group("registrar");
    g.throughput(Throughput::Elements(1));
    g.bench_function("parse_process_respond", |b| {
        b.iter(|| {
            let k = i % USERS;
            // CSeq grows each round over the users so every REGISTER is a valid refresh.
            let round = (i / USERS + 1) % 10_000;
            let digits = [round / 1000, round / 100 % 10, round / 10 % 10, round % 10]
                .map(|d| b'0' + d as u8);
            buf.clear();
            buf.extend_from_slice(&datagrams[k]);
            if let Some(p) = buf.windows(4).position(|w| w == b"CSEQ") {
                buf[p..p + 4].copy_from_slice(&digits);
            }
            i += 1;
            let Ok(msg) = ringlet::sip::parse(&buf) else {
                return;
            };
            registrar.process_register(&msg, &snapshot, &from, t0, &mut out);
            response.clear();
            let _ = out.write_response(&msg, b"tag1", &mut response);
            black_box(response.len());
        })
    });
    // When the benchmark ran (it may be filtered out), it measured accepted REGISTERs.
    assert!(
        out.counters.requests == 0 || out.status == 200,
        "status {}",
        out.status
    );
    g.finish();
}

/// Lookups of random registered AoRs, alone and while `STORM` threads refresh bindings.
fn bench_lookup(c: &mut Criterion) {
    let n = names(SUBSCRIBERS);
    let aors: Vec<String> = n
        .users
        .iter()
        .map(|u| format!("{u}@example.test"))
        .collect();
    let t0 = Instant::now();
    let table = Arc::new(LocationTable::new(TimeBase::new(t0, 0), 256, 16));
    fill(&table, &n, t0);
    let mut g = c.benchmark_group("location");
    g.throughput(Throughput::Elements(1));
    let mut out = BindingList::new();
    let mut i = 0usize;
    g.bench_function("lookup", |b| {
        b.iter(|| {
            i = i.wrapping_add(7919);
            black_box(table.lookup(aors[i % SUBSCRIBERS].as_bytes(), t0, &mut out));
        })
    });

    // The storm: one thread refreshing bindings as fast as it can (bounded in count), the
    // machine having 2 cores. Its rate is printed so the lookup figure has its context.
    let stop = Arc::new(AtomicBool::new(false));
    let applied = Arc::new(AtomicU64::new(0));
    const STORM: usize = 1;
    let storm: Vec<_> = (0..STORM)
        .map(|s| {
            let (table, stop, applied) = (table.clone(), stop.clone(), applied.clone());
            let n = names(SUBSCRIBERS);
            let aors = aors.clone();
            std::thread::spawn(move || {
                let mut out = BindingList::new();
                'outer: for cseq in 2..1_002u32 {
                    for k in (s..SUBSCRIBERS).step_by(STORM) {
                        if stop.load(Ordering::Relaxed) {
                            break 'outer;
                        }
                        let c = [ContactUpdate {
                            uri: n.contacts[k].as_bytes(),
                            expires: 3600,
                            q: 1000,
                        }];
                        let change = RegisterChange {
                            call_id: n.call_ids[k].as_bytes(),
                            cseq,
                            contacts: ContactSet::Contacts(&c),
                            path: &[],
                            user_agent: b"Ringlet-Bench/1.0",
                            received: None,
                            local: 0,
                            flags: BindingFlags::default(),
                        };
                        let _ = table.apply(aors[k].as_bytes(), t0, &change, &mut out);
                        applied.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    let started = Instant::now();
    g.bench_function("lookup_during_register_storm", |b| {
        b.iter(|| {
            i = i.wrapping_add(7919);
            black_box(table.lookup(aors[i % SUBSCRIBERS].as_bytes(), t0, &mut out));
        })
    });
    stop.store(true, Ordering::Relaxed);
    for t in storm {
        let _ = t.join();
    }
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "storm: {} REGISTER applies in {:.1} s by {STORM} thread(s) = {:.0}/s alongside the lookups",
        applied.load(Ordering::Relaxed),
        secs,
        applied.load(Ordering::Relaxed) as f64 / secs
    );
    g.finish();
}

/// The write-behind writer's worst case: every shard dirty (the queue overflowed), so one
/// batch rewrites the whole table. Printed, not a criterion measurement.
fn persist_full_rewrite(_c: &mut Criterion) {
    let n = names(SUBSCRIBERS);
    let t0 = Instant::now();
    let dir = std::env::temp_dir().join(format!("ringlet-bench-rewrite-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let table = Arc::new(LocationTable::new(
        TimeBase::new(t0, 1_750_000_000_000),
        256,
        16,
    ));
    let store = RegistrationStore::open(dir.join("reg.db")).unwrap();
    // Queue of one and an hour-long interval: the fill overflows it, every shard goes dirty.
    let handle = store
        .start(table.clone(), Duration::from_secs(3600), 1)
        .unwrap();
    fill(&table, &n, t0);
    let started = Instant::now();
    handle.flush();
    let first = started.elapsed();
    // Second pass: refresh everything again (the db is now populated: deletes + inserts).
    let mut out = BindingList::new();
    for k in 0..SUBSCRIBERS {
        let aor = format!("{}@example.test", n.users[k]);
        let c = [ContactUpdate {
            uri: n.contacts[k].as_bytes(),
            expires: 3600,
            q: 1000,
        }];
        let change = RegisterChange {
            call_id: n.call_ids[k].as_bytes(),
            cseq: 2,
            contacts: ContactSet::Contacts(&c),
            path: &[],
            user_agent: b"Ringlet-Bench/1.0",
            received: Some("127.0.0.1:5062".parse().unwrap()),
            local: 0,
            flags: BindingFlags::default(),
        };
        table.apply(aor.as_bytes(), t0, &change, &mut out).unwrap();
    }
    let started = Instant::now();
    handle.flush();
    let second = started.elapsed();
    let s = handle.stop();
    eprintln!(
        "write-behind full rewrite of {SUBSCRIBERS} bindings: {:.2} s into an empty db ({:.0} rows/s), {:.2} s over a populated one ({:.0} rows/s); {} batches, {} rows, {} errors",
        first.as_secs_f64(),
        SUBSCRIBERS as f64 / first.as_secs_f64(),
        second.as_secs_f64(),
        SUBSCRIBERS as f64 / second.as_secs_f64(),
        s.batches,
        s.rows_written,
        s.errors
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Heap bytes per binding: live heap before and after filling a table with 100k AoRs,
/// one binding each (75-byte contact, 45-byte Call-ID, 17-byte User-Agent).
fn bytes_per_binding(_c: &mut Criterion) {
    let n = names(SUBSCRIBERS);
    let t0 = Instant::now();
    let before = LIVE.load(Ordering::Relaxed);
    let table = LocationTable::new(TimeBase::new(t0, 0), 256, 16);
    fill(&table, &n, t0);
    let after = LIVE.load(Ordering::Relaxed);
    let est = table.memory_estimate();
    let measured = (after - before) as f64 / SUBSCRIBERS as f64;
    eprintln!(
        "bytes per binding: {measured:.0} measured (heap delta / {SUBSCRIBERS}), {} estimated by memory_estimate(); {:.1} M bindings per GiB",
        est.bytes_per_binding(),
        (1u64 << 30) as f64 / measured / 1e6
    );
}

criterion_group!(
    benches,
    bytes_per_binding,
    persist_full_rewrite,
    bench_process,
    bench_datagram,
    bench_lookup
);
criterion_main!(benches);
