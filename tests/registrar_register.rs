//! REGISTER processing (RFC 3261 §10.3) on reduced requests, in virtual time: the status,
//! reason and header lines the proxy sends back, and what the location table holds after.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ringlet::registrar::{
    AorLookup, BindingFlags, BindingList, LocationTable, ParsedRegister, RegisterDisposition,
    RegisterOutcome, RegisterSource, Registrar, RegistrarConfig, RequestedContact,
    SubscriberDirectory, TimeBase, UserLookup,
};

/// example.test served; alice (alias `100`), bob, and a disabled carol.
struct Directory {
    users: HashMap<&'static str, (&'static str, bool)>,
}

impl Directory {
    fn new() -> Self {
        let mut users = HashMap::new();
        users.insert("alice", ("alice", true));
        users.insert("100", ("alice", true));
        users.insert("bob", ("bob", true));
        users.insert("carol", ("carol", false));
        Directory { users }
    }
}

impl SubscriberDirectory for Directory {
    fn is_local_domain(&self, host: &[u8]) -> bool {
        host.eq_ignore_ascii_case(b"example.test")
    }
    fn registration_aor(&self, user: &[u8], host: &[u8], out: &mut Vec<u8>) -> AorLookup {
        out.clear();
        if !self.is_local_domain(host) {
            return AorLookup::Unknown;
        }
        let user = std::str::from_utf8(user).unwrap_or("");
        match self.users.get(user) {
            Some((_, false)) => AorLookup::Disabled,
            Some((canonical, true)) => {
                out.extend_from_slice(canonical.as_bytes());
                out.extend_from_slice(b"@example.test");
                AorLookup::Found
            }
            None => AorLookup::Unknown,
        }
    }
}

struct Fixture {
    t0: Instant,
    registrar: Registrar,
    dir: Directory,
    out: RegisterOutcome,
}

impl Fixture {
    fn new() -> Self {
        let t0 = Instant::now();
        let table = Arc::new(LocationTable::new(TimeBase::new(t0, 0), 16, 8));
        let cfg = RegistrarConfig {
            default_expires: 1800,
            ..RegistrarConfig::in_memory()
        };
        Fixture {
            t0,
            registrar: Registrar::new(table, &cfg),
            dir: Directory::new(),
            out: RegisterOutcome::new(),
        }
    }

    fn run(&mut self, req: &ParsedRegister<'_>, at_secs: u64) -> RegisterDisposition {
        let from = RegisterSource {
            src: "127.0.0.5:40123".parse::<SocketAddr>().unwrap(),
            local: 0,
            flags: BindingFlags::default(),
        };
        self.registrar.process(
            req,
            &self.dir,
            &from,
            self.t0 + Duration::from_secs(at_secs),
            &mut self.out,
        )
    }

    fn status(&self) -> (u16, &'static str) {
        (self.out.status, self.out.reason)
    }

    /// The response's header lines, Date left out (checked on its own below).
    fn headers(&self) -> String {
        let mut lines = Vec::new();
        self.out.write_header_lines(&mut lines);
        String::from_utf8(lines)
            .unwrap()
            .split_inclusive("\r\n")
            .filter(|l| !l.starts_with("Date: "))
            .collect()
    }

    fn lookup(&self, aor: &str, at_secs: u64) -> BindingList {
        let mut list = BindingList::new();
        self.registrar.table().lookup(
            aor.as_bytes(),
            self.t0 + Duration::from_secs(at_secs),
            &mut list,
        );
        list
    }
}

fn req<'a>(user: &'a str, call_id: &'a str, cseq: u32) -> ParsedRegister<'a> {
    ParsedRegister::new(
        b"example.test",
        user.as_bytes(),
        b"example.test",
        call_id.as_bytes(),
        cseq,
    )
}

fn contact(uri: &str) -> RequestedContact<'_> {
    RequestedContact {
        uri: uri.as_bytes(),
        expires: None,
        q: None,
    }
}

#[test]
fn register_refresh_and_remove() {
    let mut f = Fixture::new();
    let mut r = req("alice", "c1", 1);
    r.expires = Some(600);
    r.push_contact(contact("sip:alice@127.0.0.5:40123"));
    assert_eq!(f.run(&r, 0), RegisterDisposition::Answered);
    assert_eq!(f.status(), (200, "OK"));
    assert_eq!(
        f.headers(),
        "Contact: <sip:alice@127.0.0.5:40123>;expires=600\r\n"
    );
    assert_eq!(f.out.aor(), b"alice@example.test");
    let l = f.lookup("alice@example.test", 10);
    assert_eq!(l.len(), 1);
    assert_eq!(
        l.get(0).unwrap().received(),
        Some("127.0.0.5:40123".parse().unwrap())
    );

    // Refresh 500 s later without Expires: the default (1800) applies.
    let mut r = req("alice", "c1", 2);
    r.push_contact(contact("sip:alice@127.0.0.5:40123"));
    f.run(&r, 500);
    assert_eq!(
        f.headers(),
        "Contact: <sip:alice@127.0.0.5:40123>;expires=1800\r\n"
    );
    assert_eq!(
        f.lookup("alice@example.test", 1000).len(),
        1,
        "refresh outlived the first 600 s"
    );

    // Remove with the contact's expires=0 (beats a non-zero Expires header).
    let mut r = req("alice", "c1", 3);
    r.expires = Some(3600);
    r.push_contact(RequestedContact {
        expires: Some(0),
        ..contact("sip:alice@127.0.0.5:40123")
    });
    f.run(&r, 600);
    assert_eq!(f.status(), (200, "OK"));
    assert_eq!(f.headers(), "");
    assert_eq!(f.lookup("alice@example.test", 600).len(), 0);
    assert_eq!(f.out.counters.accepted, 3);
}

#[test]
fn an_alias_registers_the_canonical_aor() {
    let mut f = Fixture::new();
    let mut r = req("100", "c1", 1);
    r.push_contact(contact("sip:alice@127.0.0.5:40123"));
    f.run(&r, 0);
    assert_eq!(f.status().0, 200);
    assert_eq!(f.lookup("alice@example.test", 0).len(), 1);
}

#[test]
fn too_brief_gets_423_with_min_expires_and_too_long_is_clamped() {
    let mut f = Fixture::new();
    let mut r = req("alice", "c1", 1);
    r.expires = Some(3600);
    r.push_contact(contact("sip:alice@127.0.0.5:1"));
    r.push_contact(RequestedContact {
        expires: Some(30),
        ..contact("sip:alice@127.0.0.5:2")
    });
    f.run(&r, 0);
    assert_eq!(f.status(), (423, "Interval Too Brief"));
    assert_eq!(f.headers(), "Min-Expires: 60\r\n");
    assert_eq!(
        f.out.header_lines().collect::<Vec<_>>(),
        ["Min-Expires: 60"]
    );
    assert_eq!(
        f.lookup("alice@example.test", 0).len(),
        0,
        "nothing of a refused request applies"
    );

    let mut r = req("alice", "c1", 2);
    r.expires = Some(86_400);
    r.push_contact(contact("sip:alice@127.0.0.5:1"));
    f.run(&r, 0);
    assert_eq!(f.status().0, 200);
    assert_eq!(
        f.headers(),
        "Contact: <sip:alice@127.0.0.5:1>;expires=3600\r\n"
    );
}

#[test]
fn wildcard_needs_expires_zero_and_no_other_contact() {
    let mut f = Fixture::new();
    let mut r = req("alice", "c1", 1);
    r.push_contact(contact("sip:alice@127.0.0.5:1"));
    r.push_contact(contact("sip:alice@127.0.0.5:2"));
    f.run(&r, 0);
    assert_eq!(f.lookup("alice@example.test", 0).len(), 2);

    let mut r = req("alice", "c2", 1);
    r.wildcard = true;
    r.expires = Some(60);
    f.run(&r, 0);
    assert_eq!(f.status(), (400, "Invalid Wildcard Contact"));
    let mut r = req("alice", "c2", 1);
    r.wildcard = true;
    f.run(&r, 0);
    assert_eq!(f.status().0, 400, "no Expires at all is not zero");
    let mut r = req("alice", "c2", 1);
    r.wildcard = true;
    r.expires = Some(0);
    r.push_contact(contact("sip:alice@127.0.0.5:3"));
    f.run(&r, 0);
    assert_eq!(f.status().0, 400);
    assert_eq!(f.lookup("alice@example.test", 0).len(), 2);

    let mut r = req("alice", "c2", 1);
    r.wildcard = true;
    r.expires = Some(0);
    f.run(&r, 0);
    assert_eq!(f.status(), (200, "OK"));
    assert_eq!(f.headers(), "");
    assert_eq!(f.lookup("alice@example.test", 0).len(), 0);
}

#[test]
fn stale_cseq_for_the_same_call_id_fails_with_500() {
    let mut f = Fixture::new();
    let mut r = req("alice", "c1", 5);
    r.push_contact(contact("sip:alice@127.0.0.5:1"));
    f.run(&r, 0);
    for cseq in [5, 4] {
        let mut r = req("alice", "c1", cseq);
        r.push_contact(RequestedContact {
            expires: Some(0),
            ..contact("sip:alice@127.0.0.5:1")
        });
        f.run(&r, 1);
        assert_eq!(f.status(), (500, "Stale CSeq For Binding"));
    }
    assert_eq!(f.lookup("alice@example.test", 1).len(), 1);
    assert_eq!(f.out.counters.stale_cseq, 2);
}

#[test]
fn two_devices_are_listed_by_q_and_a_query_changes_nothing() {
    let mut f = Fixture::new();
    let mut r = req("bob", "desk", 1);
    r.push_contact(RequestedContact {
        q: Some(500),
        ..contact("sip:bob@127.0.0.6:5060")
    });
    f.run(&r, 0);
    let mut r = req("bob", "mobile", 1);
    r.expires = Some(300);
    r.push_contact(RequestedContact {
        q: Some(1000),
        ..contact("sip:bob@127.0.0.7:5060")
    });
    f.run(&r, 0);
    assert_eq!(
        f.headers(),
        "Contact: <sip:bob@127.0.0.7:5060>;expires=300\r\nContact: <sip:bob@127.0.0.6:5060>;expires=1800;q=0.5\r\n"
    );
    // A REGISTER without Contact lists the bindings (RFC 3261 §10.2.3).
    f.run(&req("bob", "query", 1), 100);
    assert_eq!(f.status().0, 200);
    assert_eq!(
        f.headers(),
        "Contact: <sip:bob@127.0.0.7:5060>;expires=200\r\nContact: <sip:bob@127.0.0.6:5060>;expires=1700;q=0.5\r\n"
    );
}

#[test]
fn unknown_users_foreign_domains_disabled_users_and_extensions() {
    let mut f = Fixture::new();
    let mut r = req("mallory", "c1", 1);
    r.push_contact(contact("sip:m@127.0.0.9"));
    f.run(&r, 0);
    assert_eq!(f.status(), (404, "Not Found"));

    let mut r = ParsedRegister::new(b"example.test", b"alice", b"elsewhere.test", b"c1", 1);
    r.push_contact(contact("sip:m@127.0.0.9"));
    f.run(&r, 0);
    assert_eq!(f.status().0, 404, "AoR of a domain we do not serve");

    let mut r = ParsedRegister::new(b"elsewhere.test", b"alice", b"elsewhere.test", b"c1", 1);
    r.push_contact(contact("sip:m@127.0.0.9"));
    assert_eq!(f.run(&r, 0), RegisterDisposition::NotLocal);

    let mut r = req("carol", "c1", 1);
    r.push_contact(contact("sip:c@127.0.0.9"));
    f.run(&r, 0);
    assert_eq!(f.status().0, 403);

    let mut r = req("alice", "c1", 1);
    r.unsupported = Some(b"100rel");
    r.push_contact(contact("sip:a@127.0.0.9"));
    f.run(&r, 0);
    assert_eq!(f.status(), (420, "Bad Extension"));
    assert_eq!(f.headers(), "Unsupported: 100rel\r\n");
    assert_eq!(f.lookup("alice@example.test", 0).len(), 0);
}

#[test]
fn path_is_stored_and_echoed_only_to_a_ua_that_supports_it() {
    let mut f = Fixture::new();
    let mut r = req("alice", "c1", 1);
    r.push_contact(contact("sip:alice@127.0.0.5:1"));
    r.push_path(b"<sip:edge1.example.test;lr>");
    r.push_path(b"<sip:edge2.example.test;lr>");
    r.supported_path = true;
    f.run(&r, 0);
    assert_eq!(
        f.headers(),
        "Contact: <sip:alice@127.0.0.5:1>;expires=1800\r\nPath: <sip:edge1.example.test;lr>, <sip:edge2.example.test;lr>\r\n"
    );
    let l = f.lookup("alice@example.test", 0);
    assert_eq!(
        l.get(0).unwrap().path(),
        b"<sip:edge1.example.test;lr>, <sip:edge2.example.test;lr>"
    );
    assert!(l.get(0).unwrap().flags().has(BindingFlags::PATH_SUPPORTED));

    let mut r = req("bob", "c1", 1);
    r.push_contact(contact("sip:bob@127.0.0.6:1"));
    r.push_path(b"<sip:edge1.example.test;lr>");
    f.run(&r, 0);
    assert_eq!(
        f.headers(),
        "Contact: <sip:bob@127.0.0.6:1>;expires=1800\r\n"
    );
    assert_eq!(
        f.lookup("bob@example.test", 0).get(0).unwrap().path(),
        b"<sip:edge1.example.test;lr>"
    );
}

#[test]
fn more_contacts_than_a_request_may_carry_is_400() {
    let mut f = Fixture::new();
    let uris: Vec<String> = (0..40)
        .map(|i| format!("sip:a@127.0.0.1:{}", 1000 + i))
        .collect();
    let mut r = req("alice", "c1", 1);
    for u in &uris {
        r.push_contact(contact(u));
    }
    f.run(&r, 0);
    assert_eq!(f.status().0, 400);
    assert_eq!(f.lookup("alice@example.test", 0).len(), 0);
}

#[test]
fn lookup_user_resolves_aliases_and_tells_why_nothing_was_found() {
    let mut f = Fixture::new();
    let mut r = req("alice", "c1", 1);
    r.expires = Some(60);
    r.push_contact(contact("sip:alice@127.0.0.5:1"));
    f.run(&r, 0);
    let (mut key, mut list) = (Vec::new(), BindingList::new());
    let reg = &f.registrar;
    let at = |s| f.t0 + Duration::from_secs(s);
    assert_eq!(
        reg.lookup_user(&f.dir, b"100", b"EXAMPLE.test", at(1), &mut key, &mut list),
        UserLookup::Found(1)
    );
    assert_eq!(list.get(0).unwrap().contact(), b"sip:alice@127.0.0.5:1");
    assert_eq!(
        reg.lookup_user(
            &f.dir,
            b"alice",
            b"example.test",
            at(60),
            &mut key,
            &mut list
        ),
        UserLookup::NotRegistered
    );
    assert!(list.is_empty());
    assert_eq!(
        reg.lookup_user(&f.dir, b"bob", b"example.test", at(1), &mut key, &mut list),
        UserLookup::NotRegistered
    );
    assert_eq!(
        reg.lookup_user(&f.dir, b"eve", b"example.test", at(1), &mut key, &mut list),
        UserLookup::UnknownUser
    );
    assert_eq!(
        reg.lookup_user(
            &f.dir,
            b"carol",
            b"example.test",
            at(1),
            &mut key,
            &mut list
        ),
        UserLookup::Disabled
    );
    assert_eq!(
        reg.lookup_user(&f.dir, b"alice", b"other.test", at(1), &mut key, &mut list),
        UserLookup::NotLocal
    );
}

#[test]
fn a_200_carries_the_date_from_the_virtual_clock() {
    let t0 = Instant::now();
    // Unix time 1 289 690 880 s at t0; the REGISTER is processed 60 s later.
    let table = Arc::new(LocationTable::new(
        TimeBase::new(t0, 1_289_690_880_000),
        16,
        8,
    ));
    let registrar = Registrar::new(table, &RegistrarConfig::in_memory());
    let mut out = RegisterOutcome::new();
    let mut r = req("alice", "c1", 1);
    r.push_contact(contact("sip:alice@127.0.0.5:1"));
    let from = RegisterSource {
        src: "127.0.0.5:1".parse().unwrap(),
        local: 0,
        flags: BindingFlags::default(),
    };
    registrar.process(
        &r,
        &Directory::new(),
        &from,
        t0 + Duration::from_secs(60),
        &mut out,
    );
    assert_eq!(out.status, 200);
    let date: Vec<_> = out
        .header_lines()
        .filter(|l| l.starts_with("Date: "))
        .collect();
    // RFC 3261 §20.17's example date.
    assert_eq!(date, ["Date: Sat, 13 Nov 2010 23:29:00 GMT"]);
    // Refusals carry no Date.
    let mut r = req("nobody", "c1", 1);
    r.push_contact(contact("sip:x@127.0.0.5:1"));
    registrar.process(&r, &Directory::new(), &from, t0, &mut out);
    assert_eq!(out.header_lines().count(), 0);
}
