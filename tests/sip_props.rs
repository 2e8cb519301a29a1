//! Property tests for the SIP layer: built messages parse back to the fields they were
//! built from, edited messages keep every field the edits did not touch, and neither the
//! parser nor the accessors panic on arbitrary bytes or on mutated valid messages.

use proptest::prelude::*;
use ringlet::sip::{self, Edits, HeaderName, Method, NewVia, RPort, Reply};

const METHODS: [&str; 8] = [
    "INVITE",
    "REGISTER",
    "OPTIONS",
    "BYE",
    "MESSAGE",
    "SUBSCRIBE",
    "NOTIFY",
    "FOO-BAR",
];

#[derive(Debug, Clone)]
struct Fields {
    method: &'static str,
    user: String,
    host: String,
    port: Option<u16>,
    branch: String,
    call_id: String,
    cseq: u32,
    max_forwards: Option<u8>,
    from_tag: String,
    to_tag: Option<String>,
    routes: Vec<String>,
    routes_one_line: bool,
    compact: bool,
    body: Vec<u8>,
}

fn token() -> impl Strategy<Value = String> {
    "[A-Za-z0-9][A-Za-z0-9.!%*_+`'~-]{0,15}"
}

fn host() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z][a-z0-9-]{0,10}(\\.[a-z][a-z0-9-]{0,8}){0,3}",
        (any::<u8>(), any::<u8>(), any::<u8>(), any::<u8>())
            .prop_map(|(a, b, c, d)| format!("{a}.{b}.{c}.{d}")),
        Just("[2001:db8::1]".to_string()),
    ]
}

fn fields() -> impl Strategy<Value = Fields> {
    (
        (
            0..METHODS.len(),
            "[a-z][a-z0-9._-]{0,12}",
            host(),
            proptest::option::of(1u16..),
        ),
        (
            token(),
            "[A-Za-z0-9][A-Za-z0-9.!%*_+-]{0,20}(@[a-z0-9.]{1,12})?",
            0u32..(1 << 31),
            proptest::option::of(any::<u8>()),
        ),
        (
            token(),
            proptest::option::of(token()),
            proptest::collection::vec(host(), 0..4),
            any::<bool>(),
            any::<bool>(),
        ),
        proptest::collection::vec(any::<u8>(), 0..300),
    )
        .prop_map(
            |(
                (m, user, host, port),
                (branch, call_id, cseq, mf),
                (from_tag, to_tag, routes, one_line, compact),
                body,
            )| Fields {
                method: METHODS[m],
                user,
                host,
                port,
                branch: format!("z9hG4bK{branch}"),
                call_id,
                cseq,
                max_forwards: mf,
                from_tag,
                to_tag,
                routes,
                routes_one_line: one_line,
                compact,
                body,
            },
        )
}

fn build(f: &Fields) -> Vec<u8> {
    let mut s = Vec::new();
    let port = f.port.map(|p| format!(":{p}")).unwrap_or_default();
    s.extend_from_slice(
        format!("{} sip:{}@{}{} SIP/2.0\r\n", f.method, f.user, f.host, port).as_bytes(),
    );
    let (v, fr, t, i, l) = if f.compact {
        ("v", "f", "t", "i", "l")
    } else {
        ("Via", "From", "To", "Call-ID", "Content-Length")
    };
    s.extend_from_slice(
        format!(
            "{v}: SIP/2.0/UDP {}{};branch={};rport\r\n",
            f.host, port, f.branch
        )
        .as_bytes(),
    );
    if let Some(mf) = f.max_forwards {
        s.extend_from_slice(format!("Max-Forwards: {mf}\r\n").as_bytes());
    }
    s.extend_from_slice(
        format!(
            "{fr}: \"Caller\" <sip:caller@{}>;tag={}\r\n",
            f.host, f.from_tag
        )
        .as_bytes(),
    );
    match &f.to_tag {
        Some(tag) => s.extend_from_slice(
            format!("{t}: <sip:{}@{}>;tag={tag}\r\n", f.user, f.host).as_bytes(),
        ),
        None => s.extend_from_slice(format!("{t}: sip:{}@{}\r\n", f.user, f.host).as_bytes()),
    }
    s.extend_from_slice(format!("{i}: {}\r\n", f.call_id).as_bytes());
    s.extend_from_slice(format!("CSeq: {} {}\r\n", f.cseq, f.method).as_bytes());
    if f.routes_one_line && !f.routes.is_empty() {
        let list: Vec<_> = f.routes.iter().map(|r| format!("<sip:{r};lr>")).collect();
        s.extend_from_slice(format!("Route: {}\r\n", list.join(", ")).as_bytes());
    } else {
        for r in &f.routes {
            s.extend_from_slice(format!("Route: <sip:{r};lr>\r\n").as_bytes());
        }
    }
    s.extend_from_slice(format!("{l}: {}\r\n\r\n", f.body.len()).as_bytes());
    s.extend_from_slice(&f.body);
    s
}

fn check_fields(m: &sip::Message<'_>, f: &Fields) {
    assert_eq!(m.method(), Some(Method::from_bytes(f.method.as_bytes())));
    let via = m.top_via().unwrap();
    assert_eq!(via.branch, Some(f.branch.as_bytes()));
    assert_eq!(via.host, f.host.as_bytes());
    assert_eq!(via.port, f.port);
    assert_eq!(m.call_id().unwrap(), f.call_id.as_bytes());
    let cseq = m.cseq().unwrap();
    assert_eq!(cseq.seq, f.cseq);
    assert_eq!(cseq.method.as_bytes(), f.method.as_bytes());
    assert_eq!(m.from().unwrap().tag, Some(f.from_tag.as_bytes()));
    assert_eq!(m.to().unwrap().tag, f.to_tag.as_ref().map(|t| t.as_bytes()));
    assert_eq!(m.body(), &f.body[..]);
    // The cheap accessors read the same values.
    assert_eq!(m.top_via_branch().unwrap(), Some(f.branch.as_bytes()));
    assert_eq!(m.from_tag().unwrap(), Some(f.from_tag.as_bytes()));
    assert_eq!(m.to_tag().unwrap(), f.to_tag.as_ref().map(|t| t.as_bytes()));
    assert_eq!(
        m.top_route_uri().map(|u| u.unwrap().host_raw),
        f.routes.first().map(|r| r.as_bytes())
    );
}

const VALID: &[&str] = &[
    "wsinv",
    "intmeth",
    "esc01",
    "escnull",
    "esc02",
    "lwsdisp",
    "longreq",
    "dblreq",
    "semiuri",
    "transports",
    "mpart01",
    "unreason",
    "noreason",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn built_messages_parse_back(f in fields()) {
        let bytes = build(&f);
        let m = sip::parse(&bytes).unwrap();
        check_fields(&m, &f);
        prop_assert_eq!(m.max_forwards().unwrap(), f.max_forwards);
        let routes: Vec<Vec<u8>> = m.routes().map(|r| r.unwrap().uri.host_raw.to_vec()).collect();
        let want: Vec<Vec<u8>> = f.routes.iter().map(|r| r.as_bytes().to_vec()).collect();
        prop_assert_eq!(routes, want);
        prop_assert_eq!(m.len(), bytes.len());
    }

    #[test]
    fn written_messages_parse_back(f in fields(), branch in token(), ip in any::<[u8; 4]>(), port in 1u16.., rr in host(), new_body in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..200))) {
        prop_assume!(f.max_forwards != Some(0));
        let bytes = build(&f);
        let m = sip::parse(&bytes).unwrap();
        let branch = format!("z9hG4bK{branch}");
        let rr_uri = format!("sip:{rr};lr");
        let mut e = Edits::new();
        e.push_via(&m, NewVia { transport: b"TCP", host: b"proxy.example.net", port: Some(5061), branch: branch.as_bytes(), rport: false })
            .set_received(&m, std::net::IpAddr::from(ip), port)
            .record_route(&m, rr_uri.as_bytes())
            .decrement_max_forwards(&m);
        if !f.routes.is_empty() {
            e.remove_top_route(&m);
        }
        if let Some(b) = &new_body {
            e.set_body(b);
        }
        let mut out = Vec::with_capacity(4096);
        let cap = out.capacity();
        let n = e.write(&m, &mut out).unwrap();
        prop_assert_eq!(n, out.len());
        if out.len() <= cap {
            prop_assert_eq!(out.capacity(), cap, "no reallocation when capacity suffices");
        }
        let g = sip::parse(&out).unwrap();
        let vias: Vec<_> = g.vias().map(|v| v.unwrap()).collect();
        prop_assert_eq!(vias.len(), 2);
        prop_assert_eq!(vias[0].branch, Some(branch.as_bytes()));
        prop_assert_eq!(vias[0].transport, sip::Transport::Tcp);
        prop_assert_eq!(vias[1].branch, Some(f.branch.as_bytes()));
        let ip_text = std::net::Ipv4Addr::from(ip).to_string();
        prop_assert_eq!(vias[1].received, Some(ip_text.as_bytes()));
        prop_assert_eq!(vias[1].rport, Some(RPort::Port(port)));
        prop_assert_eq!(g.max_forwards().unwrap(), Some(f.max_forwards.map_or(70, |n| n - 1)));
        let routes: Vec<Vec<u8>> = g.routes().map(|r| r.unwrap().uri.host_raw.to_vec()).collect();
        let want: Vec<Vec<u8>> = f.routes.iter().skip(1).map(|r| r.as_bytes().to_vec()).collect();
        prop_assert_eq!(routes, want);
        let rrs: Vec<_> = g.record_routes().map(|r| r.unwrap().uri.raw.to_vec()).collect();
        prop_assert_eq!(rrs, vec![rr_uri.into_bytes()]);
        prop_assert_eq!(g.call_id().unwrap(), f.call_id.as_bytes());
        prop_assert_eq!(g.from().unwrap().tag, Some(f.from_tag.as_bytes()));
        let body = new_body.as_deref().unwrap_or(&f.body);
        prop_assert_eq!(g.body(), body);
        prop_assert_eq!(g.content_length().unwrap(), Some(body.len() as u32));
        match sip::validate_request(&g) {
            // Max-Forwards was 1 and is now 0: the next hop answers 483.
            Err(r) if f.max_forwards == Some(1) => prop_assert_eq!(r.status, 483),
            r => r.unwrap(),
        }
    }

    #[test]
    fn responses_carry_the_dialog_fields(f in fields(), status in 100u16..700, tag in token()) {
        let bytes = build(&f);
        let m = sip::parse(&bytes).unwrap();
        let mut out = Vec::new();
        sip::write_response(&m, &Reply::new(status, "Whatever").with_to_tag(tag.as_bytes()), &mut out).unwrap();
        let r = sip::parse(&out).unwrap();
        prop_assert_eq!(r.status(), Some(status));
        prop_assert_eq!(r.top_via().unwrap().branch, Some(f.branch.as_bytes()));
        prop_assert_eq!(r.call_id().unwrap(), f.call_id.as_bytes());
        prop_assert_eq!(r.cseq().unwrap(), m.cseq().unwrap());
        let want_tag = match (&f.to_tag, status > 100) {
            (Some(t), _) => Some(t.as_bytes()),
            (None, true) => Some(tag.as_bytes()),
            (None, false) => None,
        };
        prop_assert_eq!(r.to().unwrap().tag, want_tag);
        prop_assert!(r.body().is_empty());
        sip::validate_response(&r).unwrap();
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        exercise(&data);
    }

    #[test]
    fn sip_shaped_bytes_never_panic(lines in proptest::collection::vec("[ -~\t]{0,60}", 0..20), head in 0..3usize) {
        let start = ["INVITE sip:a@b SIP/2.0", "SIP/2.0 200 OK", "REGISTER sip:x SIP/2.0"][head];
        let mut s = format!("{start}\r\n");
        for l in &lines {
            s.push_str(l);
            s.push_str("\r\n");
        }
        s.push_str("\r\n");
        exercise(s.as_bytes());
    }

    #[test]
    fn mutated_valid_messages_never_panic(which in 0..VALID.len(), edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0..3u8), 1..8)) {
        let mut b = std::fs::read(format!("tests/data/rfc4475/{}.dat", VALID[which])).unwrap();
        for (at, byte, op) in edits {
            if b.is_empty() {
                break;
            }
            let i = at.index(b.len());
            match op {
                0 => b[i] = byte,
                1 => b.insert(i, byte),
                _ => { b.remove(i); }
            }
        }
        exercise(&b);
    }
}

/// The cheap accessors agree with the full parses: the same value whenever the full parse
/// succeeds, and an error from a cheap accessor means the full parse fails too (the cheap
/// ones skip the URI / sent-by checks, so the converse need not hold).
fn check_cheap_accessors(m: &sip::Message<'_>) {
    if let Ok(v) = m.top_via() {
        assert_eq!(m.top_via_branch(), Ok(v.branch));
    }
    if m.top_via_branch().is_err() {
        assert!(m.top_via().is_err());
    }
    if let Ok(t) = m.to() {
        assert_eq!(m.to_tag(), Ok(t.tag));
    }
    if m.to_tag().is_err() {
        assert!(m.to().is_err());
    }
    if let Ok(f) = m.from() {
        assert_eq!(m.from_tag(), Ok(f.tag));
    }
    if m.from_tag().is_err() {
        assert!(m.from().is_err());
    }
    assert_eq!(m.top_route_uri(), m.top_route().map(|r| r.map(|n| n.uri)));
}

#[test]
fn cheap_accessors_agree_on_every_rfc4475_message() {
    let mut n = 0;
    for entry in std::fs::read_dir("tests/data/rfc4475").unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "dat") {
            let bytes = std::fs::read(&path).unwrap();
            if let Ok(m) = sip::parse(&bytes) {
                check_cheap_accessors(&m);
                n += 1;
            }
        }
    }
    assert!(n >= 30, "only {n} RFC 4475 messages parsed");
}

/// Runs every accessor and the writer; returns nothing, asserts only self-consistency.
fn exercise(data: &[u8]) {
    if let Ok(m) = sip::parse_for_reply(data) {
        let mut out = Vec::new();
        let _ = sip::write_response(&m, &Reply::new(400, "Bad Request"), &mut out);
    }
    let Ok(m) = sip::parse(data) else { return };
    assert!(m.len() <= data.len());
    let _ = (
        m.top_via(),
        m.from(),
        m.to(),
        m.call_id(),
        m.cseq(),
        m.max_forwards(),
        m.expires(),
    );
    let _ = (
        m.vias().count(),
        m.contacts().count(),
        m.routes().count(),
        m.record_routes().count(),
    );
    let _ = (
        m.authorization(),
        m.proxy_authorization(),
        m.content_length(),
        m.request_uri_parsed(),
    );
    let _ = (
        m.headers().count(),
        m.header(HeaderName::Other(b"X")),
        m.require().count(),
    );
    check_cheap_accessors(&m);
    let valid = if m.is_request() {
        sip::validate_request(&m).is_ok()
    } else {
        sip::validate_response(&m).is_ok()
    };
    let mut out = Vec::new();
    let mut e = Edits::new();
    if m.is_request() {
        e.push_via(
            &m,
            NewVia {
                transport: b"UDP",
                host: b"127.0.0.1",
                port: None,
                branch: b"z9hG4bKp",
                rport: true,
            },
        )
        .set_received(&m, std::net::IpAddr::from([127, 0, 0, 1]), 1)
        .decrement_max_forwards(&m);
    } else {
        e.strip_top_via(&m);
    }
    if e.write(&m, &mut out).is_ok() && valid {
        let f = sip::parse(&out).expect("edited valid message parses");
        assert_eq!(f.body(), m.body());
    }
}
