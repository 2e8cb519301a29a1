//! The location service on its own: atomic per-AoR updates, RFC 3261 §10.3 ordering rules,
//! lookup order, expiry and sweeping, and a concurrent REGISTER storm with readers. All
//! in virtual time: `t0 + offset`, no sleeping.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ringlet::registrar::{
    ApplyError, BindingFlags, BindingList, ContactSet, ContactUpdate, LocationTable,
    RegisterChange, TimeBase,
};

const AOR: &[u8] = b"alice@example.test";

fn table(t0: Instant) -> LocationTable {
    LocationTable::new(TimeBase::new(t0, 1_700_000_000_000), 16, 4)
}

fn change<'a>(call_id: &'a [u8], cseq: u32, contacts: ContactSet<'a>) -> RegisterChange<'a> {
    RegisterChange {
        call_id,
        cseq,
        contacts,
        path: &[],
        user_agent: b"test-ua",
        received: Some("127.0.0.1:5062".parse::<SocketAddr>().unwrap()),
        local: 0,
        flags: BindingFlags::default(),
    }
}

fn contact(uri: &[u8], expires: u32, q: u16) -> ContactUpdate<'_> {
    ContactUpdate { uri, expires, q }
}

fn contacts_of(list: &BindingList) -> Vec<(String, u16, u32)> {
    list.iter()
        .map(|b| {
            (
                String::from_utf8_lossy(b.contact()).into_owned(),
                b.q(),
                b.expires_in(),
            )
        })
        .collect()
}

#[test]
fn register_then_lookup_returns_the_binding_with_its_details() {
    let t0 = Instant::now();
    let t = table(t0);
    let mut out = BindingList::new();
    let c = [contact(b"sip:alice@127.0.0.1:5062", 3600, 1000)];
    let mut ch = change(b"call-1", 1, ContactSet::Contacts(&c));
    ch.path = &[b"<sip:edge.example.test;lr>"];
    t.apply(AOR, t0, &ch, &mut out).unwrap();
    assert_eq!(
        contacts_of(&out),
        vec![("sip:alice@127.0.0.1:5062".into(), 1000, 3600)]
    );

    let n = t.lookup(AOR, t0 + Duration::from_secs(100), &mut out);
    assert_eq!(n, 1);
    let b = out.get(0).unwrap();
    assert_eq!(b.expires_in(), 3500);
    assert_eq!(b.path(), b"<sip:edge.example.test;lr>");
    assert_eq!(b.received(), Some("127.0.0.1:5062".parse().unwrap()));
    assert_eq!(t.counts(), (1, 1));
    assert!(t.is_registered(AOR, t0));
    assert_eq!(t.lookup(b"bob@example.test", t0, &mut out), 0);
}

#[test]
fn refresh_keeps_one_binding_and_extends_it() {
    let t0 = Instant::now();
    let t = table(t0);
    let mut out = BindingList::new();
    let c = [contact(b"sip:alice@127.0.0.1:5062", 600, 1000)];
    t.apply(
        AOR,
        t0,
        &change(b"call-1", 1, ContactSet::Contacts(&c)),
        &mut out,
    )
    .unwrap();
    let later = t0 + Duration::from_secs(500);
    t.apply(
        AOR,
        later,
        &change(b"call-1", 2, ContactSet::Contacts(&c)),
        &mut out,
    )
    .unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(t.counts(), (1, 1));
    // Without the refresh it would have expired at t0+600.
    assert_eq!(t.lookup(AOR, t0 + Duration::from_secs(1000), &mut out), 1);
    assert_eq!(out.get(0).unwrap().expires_in(), 100);
}

#[test]
fn expires_zero_removes_only_that_contact() {
    let t0 = Instant::now();
    let t = table(t0);
    let mut out = BindingList::new();
    let c = [
        contact(b"sip:a@127.0.0.1:1", 600, 1000),
        contact(b"sip:a@127.0.0.1:2", 600, 1000),
    ];
    t.apply(
        AOR,
        t0,
        &change(b"call-1", 1, ContactSet::Contacts(&c)),
        &mut out,
    )
    .unwrap();
    assert_eq!(out.len(), 2);
    let rm = [contact(b"sip:a@127.0.0.1:1", 0, 1000)];
    t.apply(
        AOR,
        t0,
        &change(b"call-1", 2, ContactSet::Contacts(&rm)),
        &mut out,
    )
    .unwrap();
    assert_eq!(
        contacts_of(&out),
        vec![("sip:a@127.0.0.1:2".into(), 1000, 600)]
    );
    assert_eq!(t.counts(), (1, 1));
    let rm = [contact(b"sip:a@127.0.0.1:2", 0, 1000)];
    t.apply(
        AOR,
        t0,
        &change(b"call-1", 3, ContactSet::Contacts(&rm)),
        &mut out,
    )
    .unwrap();
    assert!(out.is_empty());
    assert_eq!(t.counts(), (0, 0));
}

#[test]
fn wildcard_removes_all_but_not_with_a_stale_cseq() {
    let t0 = Instant::now();
    let t = table(t0);
    let mut out = BindingList::new();
    let c1 = [contact(b"sip:a@127.0.0.1:1", 600, 1000)];
    let c2 = [contact(b"sip:a@127.0.0.1:2", 600, 1000)];
    t.apply(
        AOR,
        t0,
        &change(b"phone-1", 10, ContactSet::Contacts(&c1)),
        &mut out,
    )
    .unwrap();
    t.apply(
        AOR,
        t0,
        &change(b"phone-2", 5, ContactSet::Contacts(&c2)),
        &mut out,
    )
    .unwrap();
    // Same Call-ID as phone-1's binding with CSeq 10 = stored: the whole request fails.
    let e = t.apply(
        AOR,
        t0,
        &change(b"phone-1", 10, ContactSet::RemoveAll),
        &mut out,
    );
    assert_eq!(e, Err(ApplyError::StaleCSeq { stored: 10 }));
    assert_eq!(t.lookup(AOR, t0, &mut out), 2);
    // A new Call-ID may remove everything whatever its CSeq.
    t.apply(
        AOR,
        t0,
        &change(b"admin", 1, ContactSet::RemoveAll),
        &mut out,
    )
    .unwrap();
    assert!(out.is_empty());
    assert_eq!(t.lookup(AOR, t0, &mut out), 0);
    assert_eq!(t.counts(), (0, 0));
}

#[test]
fn stale_cseq_aborts_the_whole_request() {
    let t0 = Instant::now();
    let t = table(t0);
    let mut out = BindingList::new();
    let c = [contact(b"sip:a@127.0.0.1:1", 600, 1000)];
    t.apply(
        AOR,
        t0,
        &change(b"call-1", 5, ContactSet::Contacts(&c)),
        &mut out,
    )
    .unwrap();
    // A new contact plus a stale refresh of the old one: neither may be applied.
    let both = [
        contact(b"sip:a@127.0.0.1:9", 600, 1000),
        contact(b"sip:a@127.0.0.1:1", 0, 1000),
    ];
    for cseq in [4, 5] {
        let e = t.apply(
            AOR,
            t0,
            &change(b"call-1", cseq, ContactSet::Contacts(&both)),
            &mut out,
        );
        assert_eq!(e, Err(ApplyError::StaleCSeq { stored: 5 }));
        assert!(out.is_empty());
    }
    assert_eq!(t.lookup(AOR, t0, &mut out), 1);
    assert_eq!(out.get(0).unwrap().contact(), b"sip:a@127.0.0.1:1");
    // A different Call-ID (the phone rebooted) updates regardless of CSeq.
    t.apply(
        AOR,
        t0,
        &change(b"call-2", 1, ContactSet::Contacts(&both)),
        &mut out,
    )
    .unwrap();
    assert_eq!(
        contacts_of(&out),
        vec![("sip:a@127.0.0.1:9".into(), 1000, 600)]
    );
}

#[test]
fn two_devices_come_back_highest_q_first_then_newest() {
    let t0 = Instant::now();
    let t = table(t0);
    let mut out = BindingList::new();
    let desk = [contact(b"sip:desk@127.0.0.1:1", 600, 300)];
    let mobile = [contact(b"sip:mobile@127.0.0.1:2", 600, 900)];
    let soft = [contact(b"sip:soft@127.0.0.1:3", 600, 300)];
    t.apply(
        AOR,
        t0,
        &change(b"d", 1, ContactSet::Contacts(&desk)),
        &mut out,
    )
    .unwrap();
    t.apply(
        AOR,
        t0 + Duration::from_secs(1),
        &change(b"m", 1, ContactSet::Contacts(&mobile)),
        &mut out,
    )
    .unwrap();
    t.apply(
        AOR,
        t0 + Duration::from_secs(2),
        &change(b"s", 1, ContactSet::Contacts(&soft)),
        &mut out,
    )
    .unwrap();
    t.lookup(AOR, t0 + Duration::from_secs(2), &mut out);
    let order: Vec<_> = contacts_of(&out)
        .into_iter()
        .map(|(c, q, _)| (c, q))
        .collect();
    assert_eq!(
        order,
        vec![
            ("sip:mobile@127.0.0.1:2".into(), 900),
            ("sip:soft@127.0.0.1:3".into(), 300),
            ("sip:desk@127.0.0.1:1".into(), 300),
        ]
    );
}

#[test]
fn too_many_contacts_is_refused_without_change() {
    let t0 = Instant::now();
    let t = table(t0); // max 4 per AoR
    let mut out = BindingList::new();
    let uris: Vec<Vec<u8>> = (0..5)
        .map(|i| format!("sip:a@127.0.0.1:{i}").into_bytes())
        .collect();
    let four: Vec<_> = uris[..4].iter().map(|u| contact(u, 600, 1000)).collect();
    t.apply(
        AOR,
        t0,
        &change(b"c", 1, ContactSet::Contacts(&four)),
        &mut out,
    )
    .unwrap();
    let fifth = [contact(&uris[4], 600, 1000)];
    let e = t.apply(
        AOR,
        t0,
        &change(b"c", 2, ContactSet::Contacts(&fifth)),
        &mut out,
    );
    assert_eq!(e, Err(ApplyError::TooManyContacts { max: 4 }));
    assert_eq!(t.counts(), (1, 4));
    // Replacing one with the fifth in the same request stays within the limit.
    let swap = [contact(&uris[0], 0, 1000), contact(&uris[4], 600, 1000)];
    t.apply(
        AOR,
        t0,
        &change(b"c", 3, ContactSet::Contacts(&swap)),
        &mut out,
    )
    .unwrap();
    assert_eq!(out.len(), 4);
}

#[test]
fn expired_bindings_vanish_from_lookup_and_the_sweep_frees_them() {
    let t0 = Instant::now();
    let t = table(t0);
    let mut out = BindingList::new();
    for i in 0..10u32 {
        let aor = format!("user{i}@example.test");
        let uri = format!("sip:user{i}@127.0.0.1:5060");
        let c = [contact(uri.as_bytes(), 60 + i * 60, 1000)];
        t.apply(
            aor.as_bytes(),
            t0,
            &change(b"x", 1, ContactSet::Contacts(&c)),
            &mut out,
        )
        .unwrap();
    }
    assert_eq!(t.counts(), (10, 10));
    let at = t0 + Duration::from_secs(300); // user0..=user3 expired (60..=240 s), user4 at 300 too
    assert_eq!(t.lookup(b"user0@example.test", at, &mut out), 0);
    assert_eq!(t.lookup(b"user4@example.test", at, &mut out), 0);
    assert_eq!(t.lookup(b"user5@example.test", at, &mut out), 1);
    assert_eq!(t.counts(), (10, 10), "lookup does not mutate");

    // Bounded: one shard per call at most.
    let one = t.sweep(at, 1);
    assert!(one.shards_swept <= 1);
    let mut total = one;
    for _ in 0..t.shard_count() {
        let r = t.sweep(at, 1);
        total.bindings_removed += r.bindings_removed;
        total.aors_removed += r.aors_removed;
    }
    assert_eq!(total.bindings_removed, 5);
    assert_eq!(total.aors_removed, 5);
    assert_eq!(t.counts(), (5, 5));
    // Nothing more is due: a full pass takes no lock.
    assert_eq!(t.sweep(at, usize::MAX).shards_swept, 0);
    let m = t.memory_estimate();
    assert_eq!((m.aors, m.bindings), (5, 5));
    assert!(m.bytes_per_binding() > 100, "{m:?}");
}

#[test]
fn query_lists_without_changing_and_drops_expired() {
    let t0 = Instant::now();
    let t = table(t0);
    let mut out = BindingList::new();
    let c = [
        contact(b"sip:a@127.0.0.1:1", 60, 1000),
        contact(b"sip:a@127.0.0.1:2", 600, 500),
    ];
    t.apply(
        AOR,
        t0,
        &change(b"c", 1, ContactSet::Contacts(&c)),
        &mut out,
    )
    .unwrap();
    let later = t0 + Duration::from_secs(61);
    t.apply(AOR, later, &change(b"c", 2, ContactSet::Query), &mut out)
        .unwrap();
    assert_eq!(
        contacts_of(&out),
        vec![("sip:a@127.0.0.1:2".into(), 500, 539)]
    );
    assert_eq!(t.counts(), (1, 1));
}

/// Several writer threads register and refresh their own AoRs while a reader looks them
/// up: every lookup must see a consistent, ordered list; the final state is exact.
#[test]
fn concurrent_register_storm_with_lookups_stays_consistent() {
    let t0 = Instant::now();
    let table = Arc::new(LocationTable::new(TimeBase::new(t0, 0), 8, 8));
    const WRITERS: usize = 4;
    const AORS: usize = 200;
    const ROUNDS: u32 = 20;
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let table = table.clone();
            std::thread::spawn(move || {
                let mut out = BindingList::new();
                for round in 1..=ROUNDS {
                    for a in 0..AORS {
                        let aor = format!("w{w}u{a}@example.test");
                        let hi = format!("sip:hi@127.0.0.{}:5060", w + 1);
                        let lo = format!("sip:lo@127.0.0.{}:5060", w + 1);
                        // Even rounds: both contacts; odd rounds: drop `lo`.
                        let lo_exp = if round % 2 == 0 { 600 } else { 0 };
                        let c = [
                            contact(hi.as_bytes(), 600, 900),
                            contact(lo.as_bytes(), lo_exp, 100),
                        ];
                        let now = t0 + Duration::from_millis(u64::from(round));
                        table
                            .apply(
                                aor.as_bytes(),
                                now,
                                &change(b"storm", round, ContactSet::Contacts(&c)),
                                &mut out,
                            )
                            .unwrap();
                    }
                }
            })
        })
        .collect();
    let reader = {
        let table = table.clone();
        std::thread::spawn(move || {
            let mut out = BindingList::new();
            let mut seen = 0usize;
            for i in 0..20_000usize {
                let w = i % WRITERS;
                let aor = format!("w{w}u{}@example.test", i % AORS);
                let n = table.lookup(aor.as_bytes(), t0 + Duration::from_millis(30), &mut out);
                assert!(n <= 2);
                if n > 0 {
                    seen += 1;
                    assert_eq!(
                        out.get(0).unwrap().contact(),
                        format!("sip:hi@127.0.0.{}:5060", w + 1).as_bytes()
                    );
                    assert_eq!(out.get(0).unwrap().q(), 900);
                }
                if n == 2 {
                    assert_eq!(out.get(1).unwrap().q(), 100);
                }
            }
            seen
        })
    };
    for w in writers {
        w.join().unwrap();
    }
    reader.join().unwrap();
    // ROUNDS is even: every AoR ends with both contacts.
    assert_eq!(table.counts(), (WRITERS * AORS, WRITERS * AORS * 2));
    let mut out = BindingList::new();
    for w in 0..WRITERS {
        for a in 0..AORS {
            let aor = format!("w{w}u{a}@example.test");
            assert_eq!(table.lookup(aor.as_bytes(), t0, &mut out), 2, "{aor}");
        }
    }
}

#[test]
fn dump_lists_live_bindings_and_remove_aor_clears_one() {
    let t0 = Instant::now();
    let t = table(t0);
    let mut out = BindingList::new();
    for (aor, exp) in [
        (&b"a@example.test"[..], 60),
        (b"b@example.test", 600),
        (b"c@example.test", 600),
    ] {
        let c = [contact(b"sip:x@127.0.0.1", exp, 1000)];
        t.apply(
            aor,
            t0,
            &change(b"c", 1, ContactSet::Contacts(&c)),
            &mut out,
        )
        .unwrap();
    }
    let mut seen = Vec::new();
    t.for_each_aor(t0 + Duration::from_secs(100), &mut out, |aor, list| {
        seen.push((String::from_utf8_lossy(aor).into_owned(), list.len()));
    });
    seen.sort();
    assert_eq!(
        seen,
        vec![("b@example.test".into(), 1), ("c@example.test".into(), 1)]
    );
    assert_eq!(t.remove_aor(b"b@example.test"), 1);
    assert_eq!(t.remove_aor(b"b@example.test"), 0);
    assert_eq!(t.lookup(b"b@example.test", t0, &mut out), 0);
    assert_eq!(t.counts(), (2, 2));
}
