//! Equivalence of the fast field parsers with the reference copies in
//! `field_reference.rs` (the code of main 5ecd8d7): `Via::parse`, `Uri::parse`,
//! `Host::parse`, `NameAddr::parse` and the `NameAddrParts` steps must return the same
//! fields, the same borrowed slices (pointer and length, not only contents), the same
//! accept/reject decision and the same error kind for every input. Inputs: every header
//! value, comma element, Request-URI and bracketed URI of the 49 RFC 4475 messages in
//! tests/data, typical values (the txn and sip_parse bench messages, RFC 3261 examples,
//! edge cases), every single-byte replacement / insertion / deletion of those with the
//! bytes that matter to the grammars, and random multi-byte mutations and generated values
//! (proptest). Test-only.

use proptest::prelude::*;

use super::field_reference as reference;
use super::name_addr::{NameAddr, NameAddrParts};
use super::scan::{self, CommaSplit};
use super::uri::{Host, Scheme, Uri};
use super::via::{Transport, Via};

/// A borrowed slice by identity: address and length.
type Span = (usize, usize);

fn sp(s: &[u8]) -> Span {
    (s.as_ptr() as usize, s.len())
}

fn osp(s: Option<&[u8]>) -> Option<Span> {
    s.map(sp)
}

type HostKey = (u8, Option<Span>, Option<std::net::Ipv4Addr>);

fn host_key(h: &Host<'_>) -> HostKey {
    match *h {
        Host::Name(b) => (0, Some(sp(b)), None),
        Host::Ipv4(a) => (1, None, Some(a)),
        Host::Ipv6(b) => (2, Some(sp(b)), None),
        Host::None => (3, None, None),
    }
}

type UriKey = (
    (u8, Option<Span>),
    Option<Span>,
    Option<Span>,
    HostKey,
    Span,
    Option<u16>,
    Span,
    Span,
    Span,
);

fn uri_key(u: &Uri<'_>) -> UriKey {
    let scheme = match u.scheme {
        Scheme::Sip => (0, None),
        Scheme::Sips => (1, None),
        Scheme::Tel => (2, None),
        Scheme::Other(b) => (3, Some(sp(b))),
    };
    (
        scheme,
        osp(u.user),
        osp(u.password),
        host_key(&u.host),
        sp(u.host_raw),
        u.port,
        sp(u.params.as_bytes()),
        sp(u.headers),
        sp(u.raw),
    )
}

fn transport_key(t: &Transport<'_>) -> (u8, Option<Span>) {
    match *t {
        Transport::Udp => (0, None),
        Transport::Tcp => (1, None),
        Transport::Tls => (2, None),
        Transport::Sctp => (3, None),
        Transport::Ws => (4, None),
        Transport::Wss => (5, None),
        Transport::Other(b) => (6, Some(sp(b))),
    }
}

#[allow(clippy::type_complexity)]
fn via_key(
    v: &Via<'_>,
) -> (
    (u8, Option<Span>),
    Span,
    Option<u16>,
    Option<Span>,
    Option<Span>,
    Option<super::via::RPort>,
    Option<Span>,
    Option<u8>,
    Span,
    Span,
) {
    (
        transport_key(&v.transport),
        sp(v.host),
        v.port,
        osp(v.branch),
        osp(v.received),
        v.rport,
        osp(v.maddr),
        v.ttl,
        sp(v.params.as_bytes()),
        sp(v.raw),
    )
}

fn parts_key(p: &NameAddrParts<'_>) -> (Option<Span>, Span, Span, bool) {
    (osp(p.display_name), sp(p.uri), sp(p.rest), p.angle)
}

fn name_addr_key(n: &NameAddr<'_>) -> (Option<Span>, UriKey, Span, Option<Span>, bool, Span) {
    (
        osp(n.display_name),
        uri_key(&n.uri),
        sp(n.params.as_bytes()),
        osp(n.tag),
        n.angle_brackets,
        sp(n.raw),
    )
}

/// Runs every parser, fast and reference, on `v`; panics naming the input on a difference.
fn check(v: &[u8]) {
    let show = || format!("{:?}", String::from_utf8_lossy(v));
    assert_eq!(
        transport_key(&Transport::from_bytes(v)),
        transport_key(&reference::transport_from_bytes(v)),
        "Transport::from_bytes {}",
        show()
    );
    assert_eq!(
        Via::parse(v).as_ref().map(via_key),
        reference::via_parse(v).as_ref().map(via_key),
        "Via::parse {}",
        show()
    );
    assert_eq!(
        Uri::parse(v).as_ref().map(uri_key),
        reference::uri_parse(v).as_ref().map(uri_key),
        "Uri::parse {}",
        show()
    );
    assert_eq!(
        Host::parse(v).as_ref().map(host_key),
        reference::host_parse(v).as_ref().map(host_key),
        "Host::parse {}",
        show()
    );
    assert_eq!(
        NameAddr::parse(v).as_ref().map(name_addr_key),
        reference::name_addr_parse(v).as_ref().map(name_addr_key),
        "NameAddr::parse {}",
        show()
    );
    let fast = NameAddrParts::split(v);
    let slow = reference::name_addr_split(v);
    assert_eq!(
        fast.as_ref().map(parts_key),
        slow.as_ref().map(parts_key),
        "NameAddrParts::split {}",
        show()
    );
    if let (Ok(f), Ok(s)) = (fast, slow) {
        assert_eq!(
            f.parse_uri().as_ref().map(uri_key),
            reference::name_addr_parse_uri(&s).as_ref().map(uri_key),
            "NameAddrParts::parse_uri {}",
            show()
        );
        assert_eq!(
            f.tag().map(osp),
            reference::name_addr_tag(&s).map(osp),
            "NameAddrParts::tag {}",
            show()
        );
    }
}

/// Typical and edge-case values of every field kind.
const TYPICAL: &[&str] = &[
    // txn bench
    "SIP/2.0/UDP 127.0.0.2:5060;branch=z9hG4bKI00000000;rport",
    "SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKrl00000000000000000000000000000000000000",
    "SIP/2.0/UDP 127.0.0.2:5060;branch=z9hG4bKI00000000;rport=5060;received=127.0.0.2",
    "Alice <sip:alice@example.test>;tag=a1",
    "Bob <sip:bob@example.test>",
    "Bob <sip:bob@example.test>;tag=b1",
    "<sip:alice@127.0.0.2:5060>",
    "<sip:127.0.0.1:5060;lr>",
    "sip:bob@127.0.0.3:5060",
    "sip:127.0.0.1:5060;lr",
    // sip_parse bench and RFC 3261 examples
    "SIP/2.0/UDP 203.0.113.10:5060;branch=z9hG4bK-ringlet-0-4f1c2d;received=203.0.113.10",
    "SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds",
    "SIP/2.0/TCP client.atlanta.example.com:5060;branch=z9hG4bK74bf9;received=192.0.2.101",
    "SIP/2.0/TLS [2001:db8::1]:5061;branch=z9hG4bKx;maddr=224.2.0.1;ttl=16",
    "SIP/2.0/SCTP h;branch=\"quoted;x\";x=[::1]",
    "SIP/2.0/WS h;rport;received=[2001:db8::9]",
    "SIP/2.0/WSS h:0",
    "SIP/2.0/FOO h:65535;ttl=255",
    "sip/2.0/udp h:65536",
    "SIP / 2.0 / UDP h ; branch = x",
    "SIP/2.0/UDP 1.2.3.4.5",
    "SIP/2.0/UDP 1.2.3.256:5060",
    "SIP/2.0/UDP 01.2.3.4",
    "SIP/2.0/UDP 1.2.3.4a",
    "SIP/2.0/UDP -h",
    "SIP/2.0/UDP .h",
    "SIP/2.0/UDP h_1-x.example.com;BRANCH=A;Received=b;RPORT=7;MADDR=m;TTL=1",
    "SIP/2.0/UDP h;branch",
    "SIP/2.0/UDP h;rport=x",
    "SIP/2.0/UDP h;ttl=256",
    "SIP/2.0/UDP h;branch=a;branch=b",
    "Bob <sips:bob@biloxi.com>;tag=a6c85cf",
    "\"Bob\" <sip:bob@biloxi.com>;tag=a6c85cf",
    "\"J Rosenberg \\\\\\\"\"       <sip:jdrosen@example.com>\r\n  ;\r\n  tag = 98asjd8",
    "sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n",
    "caller<sip:caller@example.com>;tag=323",
    "<sip:a@b>;expires=60;q=0.33",
    "\"Watson, Thomas\" < sip:t.watson@example.org >",
    "sip:user@example.com?Route=%3Csip:sip.example.com%3E",
    "<sip:user@example.com?Route=%3Csip:sip.example.com%3E>",
    "sip:alice:secret@[2001:db8::10]:5070;transport=tcp;lr?Subject=hi&Priority=urgent",
    "sips:192.0.2.4",
    "tel:+1-201-555-0123;phone-context=example.com",
    "sip:user;par=u%40example.net@example.com",
    "sip:%61lice@atlanta.com;transport=TCP",
    "sip:alice@AtLanTa.CoM;Transport=tcp",
    "sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com",
    "sip:alice@atlanta.com?subject=project%20x&priority=urgent",
    "SIP:ALICE@AtLanTa.CoM;Transport=udp",
    "sip:alice:@h",
    "sip:alice:p:q@h",
    "sip::p@h",
    "sip:a@b@c",
    "sip:a%4@b",
    "sip:a@b;x=%4",
    "sip:a@b;x=%41?h=%4g",
    "sip:a@b?",
    "sip:a@b?=v",
    "sip:a@b?n=",
    "sip:a@b?n=&m=1",
    "sip:a@b;x=1=2",
    "sip:a@b;=1",
    "sip:a@b;x=",
    "sip:h:5060x",
    "sip:h:",
    "sip:[::1]",
    "sip:[::1]:5060;lr",
    "sip:[1]",
    "sip:[::1",
    "sip:[::g]",
    "sip:u@[::1]x",
    "sips:u@h",
    "SIPS:u@h",
    "Sip:u@h",
    "http://www.example.com",
    "isbn:2983792873",
    "1http:x",
    "sip",
    ":",
    "nocolon",
    "*",
    "",
    "<>",
    "<sip:a@b",
    "<sip:a@b>;;",
    "<sip:a@b>;tag",
    "<sip:a@b>;tag=\"x\";tag=y",
    "<sip:a@b>;x=[2001:db8::1];tag=a",
    "Bell, Alexander <sip:a.g.bell@example.com>;tag=43",
    "\"Bell, Alexander <sip:a.g.bell@example.com>;tag=43",
    "\"unterminated <sip:a@b>",
    "\"x\"sip:a@b",
    "<sip:a b@c>",
    "tel:",
    "tel:+1;a=b",
    "tel:+1%zz",
    // transports
    "udp",
    "Tcp",
    "tLs",
    "wss",
    "Ws",
    "sctp",
    "SCTP",
    "UDP ",
    "ud",
    "WSSS",
    // numeric boundaries
    "sip:h:65535",
    "sip:h:65536",
    "sip:h:0065535",
    "sip:h:99999999999",
    "sip:u@h:0",
    "SIP/2.0/UDP h:65535;rport=65535;ttl=255",
    "SIP/2.0/UDP h:65536",
    "SIP/2.0/UDP h:0065535;rport=65536",
    "SIP/2.0/UDP h:99999999999",
    "SIP/2.0/UDP h;ttl=0255",
    "255.255.255.255",
    "256.1.1.1",
    "1.256.1.1",
    "1.1.256.1",
    "1.2.3.04",
    "1.2.3.1234",
    "1234.2.3.4",
    "1.2.3.4.",
    "1.2.3",
    "1.2.3.",
    "1..3.4",
    "999.999.999.999",
    "sip:u@255.255.255.255:5060",
    "sip:u@1.2.3.4x",
    "sip:u@1.2.3.4-",
    "sip:u@1.2.3.4.example.com",
    "sip:u@1example.com",
    "SIP/2.0/UDP 10.0.0.1.5060",
];

/// The bytes that matter to the grammars, for the mutations.
const SPECIALS: &[u8] = b";=\"<>:@[]% \t\r\n,?&/.-09aZ\\+\x00\x7f\x80\xff";

fn rfc4475_values() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut files = 0;
    for entry in std::fs::read_dir("tests/data/rfc4475").expect("tests/data/rfc4475") {
        let path = entry.expect("dir entry").path();
        if path.extension().is_none_or(|e| e != "dat") {
            continue;
        }
        files += 1;
        let bytes = std::fs::read(&path).expect("read .dat");
        let head_end = bytes
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap_or(bytes.len());
        let head = &bytes[..head_end];
        // Logical lines: a line starting with SP/HTAB continues the previous one, and the
        // value keeps the folding CRLF, as the parser hands it over.
        let mut starts = vec![0];
        let mut i = 0;
        while let Some(p) = head[i..].windows(2).position(|w| w == b"\r\n") {
            let next = i + p + 2;
            if next < head.len() && !matches!(head[next], b' ' | b'\t') {
                starts.push(next);
            }
            i = next;
        }
        starts.push(head.len() + 2);
        for (k, w) in starts.windows(2).enumerate() {
            let line = &head[w[0]..(w[1] - 2).max(w[0]).min(head.len())];
            if k == 0 {
                // Request-URI: the second space-separated field of a request line.
                if let Some(uri) = line.split(|&b| b == b' ').nth(1) {
                    out.push(uri.to_vec());
                }
                out.push(line.to_vec());
                continue;
            }
            let Some(colon) = line.iter().position(|&b| b == b':') else {
                continue;
            };
            let value = scan::trim(&line[colon + 1..]);
            out.push(value.to_vec());
            for e in CommaSplit::new(value) {
                out.push(e.to_vec());
                if let Ok(p) = reference::name_addr_split(e) {
                    out.push(p.uri.to_vec());
                }
            }
        }
    }
    assert_eq!(files, 49, "RFC 4475 torture messages in tests/data/rfc4475");
    out
}

/// Every single-byte replacement, insertion and deletion of `seed` with [`SPECIALS`].
fn single_mutations(seed: &[u8], mut f: impl FnMut(&[u8])) {
    let mut m = Vec::with_capacity(seed.len() + 1);
    for i in 0..=seed.len() {
        for &c in SPECIALS {
            if i < seed.len() {
                m.clear();
                m.extend_from_slice(seed);
                m[i] = c;
                f(&m);
            }
            m.clear();
            m.extend_from_slice(&seed[..i]);
            m.push(c);
            m.extend_from_slice(&seed[i..]);
            f(&m);
        }
        if i < seed.len() {
            m.clear();
            m.extend_from_slice(&seed[..i]);
            m.extend_from_slice(&seed[i + 1..]);
            f(&m);
        }
    }
}

#[test]
fn fast_parsers_match_the_reference_on_rfc4475_values() {
    let values = rfc4475_values();
    assert!(values.len() > 400, "{} values", values.len());
    for v in &values {
        check(v);
    }
}

#[test]
fn fast_parsers_match_the_reference_on_single_mutations_of_typical_values() {
    for seed in TYPICAL {
        check(seed.as_bytes());
        single_mutations(seed.as_bytes(), check);
    }
}

#[test]
fn fast_parsers_match_the_reference_on_single_mutations_of_rfc4475_values() {
    // Values up to 120 bytes (the long ones are covered by the random mutations).
    let mut values = rfc4475_values();
    values.retain(|v| v.len() <= 120);
    values.sort();
    values.dedup();
    for v in &values {
        single_mutations(v, check);
    }
}

#[test]
fn fast_parsers_match_the_reference_on_every_short_tail() {
    // Every tail of up to three bytes from the grammar bytes after the points where the
    // fast paths decide (scheme, sent-by, port, parameters, display name, tag).
    const PREFIXES: &[&str] = &[
        "",
        "sip:",
        "sip:a@",
        "sip:a@1.2.3.4",
        "sip:h:5",
        "sip:h;x",
        "SIP/2.0/UDP ",
        "SIP/2.0/UDP 1.2.3.4",
        "SIP/2.0/UDP h:5060;branch",
        "SIP/2.0/UDP h;rport",
        "A <sip:a@b>;tag",
        "<sip:a@b>",
    ];
    let alphabet: Vec<u8> = SPECIALS.iter().copied().chain(*b"1b5").collect();
    let mut v = Vec::new();
    for p in PREFIXES {
        for len in 0..=3u32 {
            for k in 0..alphabet.len().pow(len) {
                v.clear();
                v.extend_from_slice(p.as_bytes());
                let mut k = k;
                for _ in 0..len {
                    v.push(alphabet[k % alphabet.len()]);
                    k /= alphabet.len();
                }
                check(&v);
            }
        }
    }
}

fn seeds() -> Vec<Vec<u8>> {
    let mut s: Vec<Vec<u8>> = TYPICAL.iter().map(|v| v.as_bytes().to_vec()).collect();
    s.extend(rfc4475_values());
    s
}

fn token() -> impl Strategy<Value = String> {
    "[A-Za-z0-9][A-Za-z0-9.!%*_+`'~-]{0,15}"
}

fn host() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z][a-z0-9-]{0,10}(\\.[a-z][a-z0-9-]{0,8}){0,3}",
        (any::<u8>(), any::<u8>(), any::<u8>(), any::<u8>())
            .prop_map(|(a, b, c, d)| format!("{a}.{b}.{c}.{d}")),
        "[0-9]{1,4}(\\.[0-9]{1,4}){0,4}",
        Just("[2001:db8::1]".to_string()),
    ]
}

/// Values built like the ones tests/sip_props.rs puts in its messages.
fn generated() -> impl Strategy<Value = String> {
    (
        host(),
        proptest::option::of(0..100_000u32),
        token(),
        "[a-z][a-z0-9._-]{0,12}",
        0..6usize,
    )
        .prop_map(|(h, port, t, user, kind)| {
            let port = port.map(|p| format!(":{p}")).unwrap_or_default();
            match kind {
                0 => format!("SIP/2.0/UDP {h}{port};branch=z9hG4bK{t};rport"),
                1 => format!("\"Caller\" <sip:caller@{h}>;tag={t}"),
                2 => format!("<sip:{user}@{h}{port}>;tag={t}"),
                3 => format!("sip:{user}@{h}{port}"),
                4 => format!("<sip:{h}{port};lr>"),
                _ => format!("sip:{user}@{h}{port};transport=udp?subject={t}"),
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn fast_parsers_match_the_reference_on_random_mutations(
        which in any::<prop::sample::Index>(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<prop::sample::Index>(), any::<u8>(), 0..4u8), 1..6),
    ) {
        let seeds = seeds();
        let mut v = seeds[which.index(seeds.len())].clone();
        for (at, sym, byte, op) in edits {
            let c = if byte % 4 == 0 { byte } else { SPECIALS[sym.index(SPECIALS.len())] };
            if v.is_empty() {
                v.push(c);
                continue;
            }
            let i = at.index(v.len());
            match op {
                0 => v[i] = c,
                1 => v.insert(i, c),
                2 => { v.remove(i); }
                _ => v.truncate(i),
            }
        }
        check(&v);
    }

    #[test]
    fn fast_parsers_match_the_reference_on_generated_values(v in generated()) {
        check(v.as_bytes());
    }

    #[test]
    fn fast_parsers_match_the_reference_on_grammar_shaped_strings(
        prefix in 0..5usize,
        body in "[a-zA-Z0-9;=\"<>:@\\[\\]% \t\r\n,.?&/+_-]{0,40}",
    ) {
        let p = ["SIP/2.0/UDP ", "sip:", "<sip:", "sip:a@", ""][prefix];
        check(format!("{p}{body}").as_bytes());
    }
}
