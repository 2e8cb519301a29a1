//! REGISTER end to end in the protocol core: datagram bytes → `sip::parse` →
//! `Registrar::process_register` against a real forwarding-table snapshot →
//! `RegisterOutcome::write_response` → bytes parsed back. Virtual time, no sockets.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ringlet::registrar::{
    BindingFlags, BindingList, LocationTable, RegisterDisposition, RegisterOutcome, RegisterSource,
    Registrar, RegistrarConfig, SubscriberDirectory, TimeBase, UserLookup,
};
use ringlet::sip::{self, Contact, HeaderName};
use ringlet::table::ForwardingSnapshot;

const TABLE: &str = "\
domain example.com sip.example.com
domain example.net
user alice@example.com md5=ae7914636bb60b37a9441871cf572389
user bob@example.com md5=ede4211a900d51d7799431a9b031f433
user Carol@example.com md5=ea80bc0c77f7eab357550d12cdad4f59 enabled=no
alias alice@sip.example.com alice@example.com
did +4930123456 alice@example.com
";

struct Core {
    t0: Instant,
    snapshot: ForwardingSnapshot,
    registrar: Registrar,
    out: RegisterOutcome,
    response: Vec<u8>,
}

impl Core {
    fn new() -> Self {
        let t0 = Instant::now();
        let snapshot = ForwardingSnapshot::parse(TABLE, Path::new("test.table")).unwrap();
        let table = Arc::new(LocationTable::new(TimeBase::new(t0, 0), 16, 8));
        let registrar = Registrar::new(table, &RegistrarConfig::in_memory());
        Core {
            t0,
            snapshot,
            registrar,
            out: RegisterOutcome::new(),
            response: Vec::new(),
        }
    }

    /// Feeds one datagram at `t0 + secs`; returns the disposition, the response parsed
    /// back lives in `self.response`.
    fn register(&mut self, datagram: &str, secs: u64) -> RegisterDisposition {
        let msg = sip::parse(datagram.as_bytes()).unwrap();
        let from = RegisterSource {
            src: "127.0.0.1:40000".parse::<SocketAddr>().unwrap(),
            local: 0,
            flags: BindingFlags::default(),
        };
        let now = self.t0 + Duration::from_secs(secs);
        let d = self
            .registrar
            .process_register(&msg, &self.snapshot, &from, now, &mut self.out);
        self.response.clear();
        if d == RegisterDisposition::Answered {
            self.out
                .write_response(&msg, b"reg-tag", &mut self.response)
                .unwrap();
        }
        d
    }

    fn response(&self) -> sip::Message<'_> {
        sip::parse(&self.response).unwrap()
    }

    fn contacts(&self) -> Vec<(String, Option<u32>, Option<u16>)> {
        let r = self.response();
        r.contacts()
            .map(|c| match c.unwrap() {
                Contact::Addr(n) => (
                    String::from_utf8_lossy(n.uri.raw).into_owned(),
                    n.expires().unwrap(),
                    n.q().unwrap(),
                ),
                Contact::Star => ("*".into(), None, None),
            })
            .collect()
    }
}

fn register_msg(to: &str, call_id: &str, cseq: u32, extra: &str) -> String {
    format!(
        "REGISTER sip:example.com SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:40000;branch=z9hG4bK-{call_id}-{cseq};rport\r\n\
         Max-Forwards: 70\r\n\
         From: <{to}>;tag=f1\r\n\
         To: <{to}>\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: {cseq} REGISTER\r\n\
         {extra}\
         Content-Length: 0\r\n\r\n"
    )
}

#[test]
fn register_through_the_parser_and_writer() {
    let mut c = Core::new();
    let m = register_msg(
        "sip:alice@example.com",
        "a1",
        1,
        "Contact: <sip:alice@127.0.0.1:40000;transport=udp>;q=0.7\r\nExpires: 600\r\nUser-Agent: test-phone/1.0\r\n",
    );
    assert_eq!(c.register(&m, 0), RegisterDisposition::Answered);
    let r = c.response();
    assert_eq!(r.status(), Some(200));
    assert_eq!(r.to().unwrap().tag, Some(&b"reg-tag"[..]));
    assert_eq!(r.cseq().unwrap().seq, 1);
    assert_eq!(r.call_id().unwrap(), b"a1");
    assert_eq!(r.top_via().unwrap().branch, Some(&b"z9hG4bK-a1-1"[..]));
    let date = r
        .header(HeaderName::Date)
        .expect("a 200 to REGISTER carries Date");
    assert!(
        sip::check_sip_date(date),
        "{}",
        String::from_utf8_lossy(date)
    );
    assert_eq!(
        c.contacts(),
        vec![(
            "sip:alice@127.0.0.1:40000;transport=udp".into(),
            Some(600),
            Some(700)
        )]
    );
    assert_eq!(c.out.aor(), b"alice@example.com");

    // A second device via the alias domain lands on the same AoR; the 200 lists both.
    let m = register_msg(
        "sip:alice@sip.example.com",
        "a2",
        1,
        "Contact: <sip:alice@127.0.0.2:5060>\r\n",
    );
    c.register(&m, 100);
    assert_eq!(
        c.contacts(),
        vec![
            ("sip:alice@127.0.0.2:5060".into(), Some(3600), None),
            (
                "sip:alice@127.0.0.1:40000;transport=udp".into(),
                Some(500),
                Some(700)
            ),
        ]
    );

    // The proxy's lookup by DID finds both, highest q first.
    let (mut key, mut list) = (Vec::new(), BindingList::new());
    let found = c.registrar.lookup_user(
        &c.snapshot,
        b"+4930123456",
        b"example.com",
        c.t0 + Duration::from_secs(100),
        &mut key,
        &mut list,
    );
    assert_eq!(found, UserLookup::Found(2));
    assert_eq!(list.get(0).unwrap().contact(), b"sip:alice@127.0.0.2:5060");
    assert_eq!(
        list.get(0).unwrap().received(),
        Some("127.0.0.1:40000".parse().unwrap())
    );
}

#[test]
fn wildcard_and_removal_through_the_parser() {
    let mut c = Core::new();
    let m = register_msg(
        "sip:bob@example.com",
        "b1",
        1,
        "Contact: <sip:bob@127.0.0.3:5060>, <sip:bob@127.0.0.4:5060>\r\n",
    );
    c.register(&m, 0);
    assert_eq!(c.contacts().len(), 2);
    let m = register_msg(
        "sip:bob@example.com",
        "b1",
        2,
        "Contact: *\r\nExpires: 60\r\n",
    );
    c.register(&m, 0);
    assert_eq!(c.response().status(), Some(400));
    let m = register_msg(
        "sip:bob@example.com",
        "b1",
        3,
        "Contact: *\r\nExpires: 0\r\n",
    );
    c.register(&m, 0);
    assert_eq!(c.response().status(), Some(200));
    assert!(c.contacts().is_empty());
    assert!(!c.registrar.table().is_registered(b"bob@example.com", c.t0));
}

#[test]
fn refusals_carry_the_right_status_and_headers() {
    let mut c = Core::new();
    // 423 with Min-Expires.
    let m = register_msg(
        "sip:bob@example.com",
        "b1",
        1,
        "Contact: <sip:bob@127.0.0.3:5060>;expires=10\r\n",
    );
    c.register(&m, 0);
    let r = c.response();
    assert_eq!(
        (r.status(), r.reason()),
        (Some(423), Some(&b"Interval Too Brief"[..]))
    );
    assert_eq!(r.header(HeaderName::MinExpires), Some(&b"60"[..]));

    // 420 with Unsupported.
    let m = register_msg(
        "sip:bob@example.com",
        "b1",
        2,
        "Require: path, foo\r\nContact: <sip:bob@127.0.0.3:5060>\r\n",
    );
    c.register(&m, 0);
    let r = c.response();
    assert_eq!(r.status(), Some(420));
    assert_eq!(r.header(HeaderName::Unsupported), Some(&b"foo"[..]));

    // Unknown and disabled subscribers.
    let m = register_msg(
        "sip:mallory@example.com",
        "m1",
        1,
        "Contact: <sip:m@127.0.0.9>\r\n",
    );
    c.register(&m, 0);
    assert_eq!(c.response().status(), Some(404));
    let m = register_msg(
        "sip:Carol@example.com",
        "c1",
        1,
        "Contact: <sip:c@127.0.0.9>\r\n",
    );
    c.register(&m, 0);
    assert_eq!(c.response().status(), Some(403));

    // CSeq of another method, and a malformed contact `expires`.
    let m = register_msg(
        "sip:bob@example.com",
        "b1",
        3,
        "Contact: <sip:bob@127.0.0.3:5060>\r\n",
    )
    .replace("3 REGISTER", "3 INVITE");
    c.register(&m, 0);
    assert_eq!(c.response().status(), Some(400));
    let m = register_msg(
        "sip:bob@example.com",
        "b1",
        4,
        "Contact: <sip:bob@127.0.0.3:5060>;expires=soon\r\n",
    );
    c.register(&m, 0);
    assert_eq!(c.response().status(), Some(400));

    // Stale CSeq after a successful registration.
    let m = register_msg(
        "sip:bob@example.com",
        "b9",
        5,
        "Contact: <sip:bob@127.0.0.3:5060>\r\n",
    );
    c.register(&m, 0);
    assert_eq!(c.response().status(), Some(200));
    c.register(&m, 1);
    assert_eq!(c.response().status(), Some(500));
    assert_eq!(c.out.counters.stale_cseq, 1);

    // A domain we do not serve is not ours to answer.
    let m = register_msg(
        "sip:bob@example.com",
        "x1",
        1,
        "Contact: <sip:bob@127.0.0.3:5060>\r\n",
    )
    .replace("REGISTER sip:example.com", "REGISTER sip:elsewhere.org");
    assert_eq!(c.register(&m, 0), RegisterDisposition::NotLocal);
    assert!(c.response.is_empty());
}

#[test]
fn path_is_echoed_and_kept_for_lookups() {
    let mut c = Core::new();
    let m = register_msg(
        "sip:bob@example.com",
        "p1",
        1,
        "Path: <sip:edge1.example.net;lr>\r\nPath: <sip:edge2.example.net;lr>, <sip:edge3.example.net;lr>\r\nSupported: path\r\nContact: <sip:bob@127.0.0.3:5060>\r\n",
    );
    c.register(&m, 0);
    let r = c.response();
    assert_eq!(r.status(), Some(200));
    assert_eq!(
        r.header(HeaderName::Path),
        Some(
            &b"<sip:edge1.example.net;lr>, <sip:edge2.example.net;lr>, <sip:edge3.example.net;lr>"
                [..]
        )
    );
    let mut list = BindingList::new();
    c.registrar
        .table()
        .lookup(b"bob@example.com", c.t0, &mut list);
    assert_eq!(
        list.get(0).unwrap().path(),
        b"<sip:edge1.example.net;lr>, <sip:edge2.example.net;lr>, <sip:edge3.example.net;lr>"
    );
    // The snapshot is the registrar's directory: sanity of the trait impl on its own.
    let mut key = Vec::new();
    assert_eq!(
        c.snapshot
            .registration_aor(b"alice", b"SIP.EXAMPLE.COM", &mut key),
        ringlet::registrar::AorLookup::Found
    );
    assert_eq!(key, b"alice@example.com");
}
