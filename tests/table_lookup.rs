//! Parsing the example table and every kind of lookup on the compiled snapshot.

use std::net::IpAddr;
use std::path::Path;

use ringlet::table::{ForwardingSnapshot, ResolvedVia, Transport, DEFAULT_NO_ANSWER_TIMEOUT_S};

const EXAMPLE: &str = include_str!("../tables/example.table");

fn example() -> ForwardingSnapshot {
    ForwardingSnapshot::parse(EXAMPLE, Path::new("example.table")).unwrap()
}

#[test]
fn example_table_counts() {
    let s = example();
    let c = s.counts();
    assert_eq!(c.domains, 3);
    assert_eq!(c.subscribers, 4);
    assert_eq!(c.aliases, 2);
    assert_eq!(c.dids, 2);
    assert_eq!(c.forwards, 2);
    assert_eq!(c.peers, 3);
    assert_eq!(c.gateways, 2);
    assert_eq!(c.routes, 4);
    assert_eq!(c.groups, 2);
    assert!(!s.is_demo());
    assert_eq!(s.international_prefix(), Some("00"));
    assert_eq!(
        s.domains().collect::<Vec<_>>(),
        ["example.com", "sip.example.com", "example.net"]
    );
}

#[test]
fn domains_are_case_insensitive() {
    let s = example();
    assert!(s.is_local_domain(b"example.com"));
    assert!(s.is_local_domain(b"EXAMPLE.Com"));
    assert!(s.is_local_domain(b"Sip.Example.COM"));
    assert!(!s.is_local_domain(b"example.org"));
    assert!(!s.is_local_domain(b""));
    assert!(!s.is_local_domain(&[b'a'; 300]));
}

#[test]
fn users_are_case_sensitive() {
    let s = example();
    let alice = s.subscriber(b"alice", b"EXAMPLE.COM").unwrap();
    assert_eq!(&*alice.user, "alice");
    assert!(alice.enabled);
    assert!(s.subscriber(b"Alice", b"example.com").is_none());
    let carol = s.subscriber(b"Carol", b"example.com").unwrap();
    assert!(!carol.enabled);
    assert!(s.subscriber(b"carol", b"example.com").is_none());
    // Same user name, other domain: not the same subscriber.
    assert!(s.subscriber(b"dan", b"example.com").is_none());
    assert!(s.subscriber(b"dan", b"example.net").is_some());
    assert_eq!(
        s.subscriber_by_id(alice.id).map(|x| &*x.user),
        Some("alice")
    );
}

#[test]
fn aliases_and_dids() {
    let s = example();
    let alice = s.subscriber(b"alice", b"example.com").unwrap().id;
    let bob = s.subscriber(b"bob", b"example.com").unwrap().id;
    assert_eq!(s.resolve_alias(b"a.smith", b"example.com"), Some(alice));
    assert_eq!(s.resolve_alias(b"a.smith", b"Example.COM"), Some(alice));
    assert_eq!(s.resolve_alias(b"A.Smith", b"example.com"), None);
    // An alias belongs to its domain only.
    assert_eq!(s.resolve_alias(b"a.smith", b"example.net"), None);
    assert_eq!(s.resolve_alias(b"alice", b"sip.example.com"), Some(alice));
    // DIDs answer in every local domain, never in a foreign one.
    assert_eq!(s.resolve_alias(b"+4930123456", b"example.net"), Some(alice));
    assert_eq!(
        s.resolve_alias(b"4930123457", b"sip.example.com"),
        Some(bob)
    );
    assert_eq!(s.resolve_alias(b"4930123457", b"example.org"), None);
    assert_eq!(
        s.resolve_alias(b"4930123456", b"example.com"),
        None,
        "DIDs match exactly"
    );

    let r = s.resolve(b"alice", b"example.com").unwrap();
    assert_eq!((r.id, r.via), (alice, ResolvedVia::Subscriber));
    let r = s.resolve(b"a.smith", b"example.com").unwrap();
    assert_eq!((r.id, r.via), (alice, ResolvedVia::Alias));
    let r = s.resolve(b"4930123457", b"example.com").unwrap();
    assert_eq!((r.id, r.via), (bob, ResolvedVia::Did));
    assert!(s.resolve(b"nobody", b"example.com").is_none());
}

#[test]
fn groups() {
    let s = example();
    let alice = s.subscriber(b"alice", b"example.com").unwrap();
    let bob = s.subscriber(b"bob", b"example.com").unwrap();
    let intl = s.group("international").unwrap();
    let pstn = s.group("pstn").unwrap();
    assert!(alice.in_group(intl) && alice.in_group(pstn));
    assert!(bob.in_group(pstn) && !bob.in_group(intl));
    assert!(s.is_in_group(bob.id, "pstn"));
    assert!(!s.is_in_group(bob.id, "international"));
    assert!(!s.is_in_group(bob.id, "no-such-group"));
    assert!(s.group("no-such-group").is_none());
    assert_eq!(
        s.groups_of(alice.id).collect::<Vec<_>>(),
        ["pstn", "international"]
    );
}

#[test]
fn forwards_and_voicemail() {
    let s = example();
    let alice = s.subscriber(b"alice", b"example.com").unwrap().id;
    let bob = s.subscriber(b"bob", b"example.com").unwrap().id;
    let dan = s.subscriber(b"dan", b"example.net").unwrap().id;
    let f = s.forward(bob).unwrap();
    assert_eq!(
        f.busy.as_deref(),
        Some("sip:voicemail@vm.example.com;mailbox=bob")
    );
    assert_eq!(
        f.no_answer.as_deref(),
        Some("sip:voicemail@vm.example.com;mailbox=bob")
    );
    assert_eq!(f.no_answer_timeout_s, 20);
    assert_eq!(f.always, None);
    assert_eq!(f.unavailable, None);
    let f = s.forward(dan).unwrap();
    assert_eq!(f.always.as_deref(), Some("tel:+4930999888"));
    assert_eq!(f.no_answer_timeout_s, DEFAULT_NO_ANSWER_TIMEOUT_S);
    assert!(s.forward(alice).is_none());
    assert_eq!(s.voicemail(alice), Some("sip:alice@vm.example.com"));
    assert_eq!(s.voicemail(bob), Some("sip:voicemail@vm.example.com"));
}

#[test]
fn longest_prefix_routes() {
    let s = example();
    let route = |n: &[u8]| s.route_for_number(n).map(|r| &*r.prefix);
    assert_eq!(route(b"4930555"), Some("4930"));
    assert_eq!(route(b"4989555"), Some("49"));
    assert_eq!(route(b"49"), Some("49"));
    assert_eq!(route(b"4"), Some(""), "falls back to the catch-all");
    assert_eq!(route(b"0012125550100"), Some("001"));
    assert_eq!(route(b"33123"), Some(""));
    let r = s.route_for_number(b"4989").unwrap();
    let names: Vec<_> = r
        .gateways
        .iter()
        .map(|g| &*s.gateway(*g).unwrap().name)
        .collect();
    assert_eq!(names, ["gw-berlin", "gw-backup"]);
    let backup = s.gateway_by_name("gw-backup").unwrap();
    assert_eq!((&*backup.host, backup.port), ("gw.carrier-b.example", 5070));
    assert_eq!(backup.transport, Some(Transport::Udp));
    let mut out = Vec::new();
    backup.rewrite_number(b"004930123", &mut out);
    assert_eq!(out, b"+4930123");
    assert!(s.is_international(b"0044123"));
    assert!(s.is_international(b"+44123"));
    assert!(!s.is_international(b"030123"));
}

#[test]
fn no_catch_all_means_no_route() {
    let text = "gateway g 127.0.0.1\nroute 49 g\n";
    let s = ForwardingSnapshot::parse(text, Path::new("t")).unwrap();
    assert!(s.route_for_number(b"33").is_none());
    assert!(s.route_for_number(b"491").is_some());
}

#[test]
fn trusted_peers() {
    let s = example();
    let ip = |t: &str| t.parse::<IpAddr>().unwrap();
    let a = s.trusted_peer(ip("192.0.2.10"), 5099).unwrap();
    assert_eq!(a.name.as_deref(), Some("carrier-a"));
    assert_eq!(a.port, None);
    assert!(s.trusted_peer(ip("192.0.2.20"), 5060).is_some());
    assert!(
        s.trusted_peer(ip("192.0.2.20"), 5061).is_none(),
        "port is part of the match"
    );
    let v6 = s.trusted_peer(ip("2001:db8::5"), 5060).unwrap();
    assert_eq!(v6.transport, Some(Transport::Tcp));
    assert!(s.trusted_peer(ip("192.0.2.11"), 5060).is_none());
}

#[test]
fn exact_port_wins_over_any_port() {
    let text = "peer 127.0.0.2 name=any\npeer 127.0.0.2:5080 name=exact\n";
    let s = ForwardingSnapshot::parse(text, Path::new("t")).unwrap();
    let ip: IpAddr = "127.0.0.2".parse().unwrap();
    assert_eq!(
        s.trusted_peer(ip, 5080).unwrap().name.as_deref(),
        Some("exact")
    );
    assert_eq!(
        s.trusted_peer(ip, 5060).unwrap().name.as_deref(),
        Some("any")
    );
}

#[test]
fn crlf_and_comments_are_fine() {
    let text = "# c\r\ndomain a.example # trailing\r\n\r\n   \t\r\nuser u@a.example md5=0123456789abcdefABCDEF0123456789\r\n";
    let s = ForwardingSnapshot::parse(text, Path::new("t")).unwrap();
    let u = s.subscriber(b"u", b"a.example").unwrap();
    assert_eq!(
        u.ha1_md5.as_ref().map(|h| &h[..]),
        Some(&b"0123456789abcdefabcdef0123456789"[..])
    );
    assert_eq!(u.ha1_sha256, None);
    assert_eq!(u.line, 5);
}
