//! RFC 4475 torture messages through the parser, the typed accessors, the validator and
//! the writer. `tests/data/rfc4475/MANIFEST.tsv` classifies each message;
//! `EXPECTED.tsv` says what a proxy + registrar does with it, and this test checks that the
//! sip layer gives the proxy what it needs to do exactly that.

use std::collections::BTreeMap;
use std::path::Path;

use ringlet::sip::{
    self, check_proxy_require, parse, parse_for_reply, validate_request, validate_response,
    write_response, Contact, Credentials, Edits, HeaderName, Host, Message, Method, NewVia,
    ParseErrorKind, Reply, Scheme, Transport,
};

const DIR: &str = "tests/data/rfc4475";

fn table(name: &str) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(Path::new(DIR).join(name)).expect("test data table");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| l.split('\t').map(str::to_owned).collect())
        .collect()
}

fn read(file: &str) -> Vec<u8> {
    std::fs::read(Path::new(DIR).join(file)).expect("test message")
}

/// (class, expected action) per file.
fn catalogue() -> BTreeMap<String, (String, String)> {
    let manifest = table("MANIFEST.tsv");
    let expected: BTreeMap<String, String> = table("EXPECTED.tsv")
        .into_iter()
        .map(|r| (r[0].clone(), r[1].clone()))
        .collect();
    assert_eq!(manifest.len(), 49, "RFC 4475 has 49 messages");
    assert_eq!(expected.len(), 49, "EXPECTED.tsv covers every message");
    manifest
        .into_iter()
        .map(|r| {
            let action = expected
                .get(&r[0])
                .unwrap_or_else(|| panic!("{} not in EXPECTED.tsv", r[0]));
            (r[0].clone(), (r[2].clone(), action.clone()))
        })
        .collect()
}

/// Every accessor a proxy uses, forced; returns the first error.
fn read_everything(m: &Message<'_>) -> Result<(), sip::ParseError> {
    for v in m.vias() {
        v?;
    }
    m.from()?;
    m.to()?;
    m.call_id()?;
    m.cseq()?;
    m.max_forwards()?;
    m.content_length()?;
    for c in m.contacts() {
        c?;
    }
    for r in m.routes().chain(m.record_routes()) {
        r?;
    }
    Ok(())
}

/// Forwarding must produce a message that parses back with the same key fields.
fn forward_roundtrip(m: &Message<'_>) {
    let mut out = Vec::with_capacity(m.len() + 256);
    let mut e = Edits::new();
    e.push_via(
        m,
        NewVia {
            transport: b"UDP",
            host: b"127.0.0.1",
            port: Some(5060),
            branch: b"z9hG4bKtest1",
            rport: false,
        },
    )
    .decrement_max_forwards(m);
    e.write(m, &mut out).expect("forwarded message written");
    let f = parse(&out).expect("forwarded message parses");
    assert_eq!(f.vias().count(), m.vias().count() + 1);
    assert_eq!(f.top_via().unwrap().branch, Some(&b"z9hG4bKtest1"[..]));
    assert_eq!(f.call_id().unwrap(), m.call_id().unwrap());
    assert_eq!(f.cseq().unwrap(), m.cseq().unwrap());
    assert_eq!(f.body(), m.body());
    let mf = m.max_forwards().unwrap().map_or(70, |n| n - 1);
    assert_eq!(f.max_forwards().unwrap(), Some(mf));
    validate_request(&f).expect("forwarded message is valid");
}

/// Builds the error response `status` for `bytes` and checks it.
fn answer(bytes: &[u8], status: u16, reason: &str) {
    let m = match parse(bytes) {
        Ok(m) => m,
        Err(_) => parse_for_reply(bytes).expect("lenient parse for a reply"),
    };
    let mut out = Vec::new();
    write_response(
        &m,
        &Reply::new(status, reason).with_to_tag(b"rl1"),
        &mut out,
    )
    .expect("response written");
    let r = parse(&out).expect("response parses");
    assert_eq!(r.status(), Some(status));
    assert_eq!(r.reason(), Some(reason.as_bytes()));
    assert_eq!(r.vias().count(), m.vias().count());
    assert_eq!(r.header(HeaderName::CallId), m.header(HeaderName::CallId));
}

#[test]
fn every_message_gets_the_expected_treatment() {
    for (file, (class, action)) in catalogue() {
        let bytes = read(&file);
        let parsed = parse(&bytes);
        match (class.as_str(), action.as_str()) {
            ("valid", _) | (_, "forward") | (_, "forward-response") | (_, "200") | (_, "401") => {
                let m = parsed.unwrap_or_else(|e| panic!("{file}: {e}"));
                read_everything(&m).unwrap_or_else(|e| panic!("{file}: {e}"));
                if m.is_request() {
                    validate_request(&m).unwrap_or_else(|e| panic!("{file}: {e}"));
                    check_proxy_require(&m, &[]).unwrap_or_else(|e| panic!("{file}: {e}"));
                    forward_roundtrip(&m);
                    if action == "200" {
                        assert_eq!(m.method(), Some(Method::Register), "{file}");
                        assert!(m.contacts().count() >= 1, "{file}");
                    }
                } else {
                    validate_response(&m).unwrap_or_else(|e| panic!("{file}: {e}"));
                }
            }
            (_, "drop") => {
                // A response that must not be relayed as sound: refused by the parser or
                // the validator (bcast is sound but its top Via is not ours: checked below).
                if file != "bcast.dat" {
                    let refused = match &parsed {
                        Err(_) => true,
                        Ok(m) => validate_response(m).is_err(),
                    };
                    assert!(refused, "{file} should be refused");
                }
            }
            (_, status) => {
                let status: u16 = status
                    .parse()
                    .unwrap_or_else(|_| panic!("{file}: action {status}"));
                let got = match &parsed {
                    Err(e) => (e.status(), e.reason()),
                    Ok(m) => match validate_request(m).and_then(|_| check_proxy_require(m, &[])) {
                        Err(r) => (r.status, r.reason),
                        // The registrar check (RFC 3261 §10.3: the AoR is a SIP URI).
                        Ok(()) if file == "unksm2.dat" => {
                            assert!(matches!(m.to().unwrap().uri.scheme, Scheme::Other(b"isbn")));
                            (416, "Unsupported URI Scheme")
                        }
                        Ok(()) => panic!("{file}: accepted, expected {status}"),
                    },
                };
                assert_eq!(got.0, status, "{file}: {got:?}");
                assert!(!got.1.is_empty());
                answer(&bytes, got.0, got.1);
            }
        }
    }
}

#[test]
fn invalid_messages_are_all_refused() {
    for (file, (class, _)) in catalogue() {
        if class != "invalid" {
            continue;
        }
        let bytes = read(&file);
        let refused = match parse(&bytes) {
            Err(e) => {
                assert!(!e.to_string().is_empty());
                true
            }
            Ok(m) if m.is_request() => validate_request(&m).is_err(),
            Ok(m) => validate_response(&m).is_err(),
        };
        assert!(refused, "{file} must be refused");
    }
}

#[test]
fn wsinv_fields() {
    let b = read("wsinv.dat");
    let m = parse(&b).unwrap();
    assert_eq!(m.method(), Some(Method::Invite));
    assert_eq!(
        m.request_uri(),
        Some(&b"sip:vivekg@chair-dnrc.example.com;unknownparam"[..])
    );
    assert_eq!(m.call_id().unwrap(), b"wsinv.ndaksdj@192.0.2.1");
    let cseq = m.cseq().unwrap();
    assert_eq!((cseq.seq, cseq.method), (9, Method::Invite));
    assert_eq!(m.max_forwards().unwrap(), Some(68));
    let vias: Vec<_> = m.vias().map(Result::unwrap).collect();
    assert_eq!(vias.len(), 3);
    assert_eq!(vias[0].transport, Transport::Udp);
    assert_eq!(vias[0].host, b"192.0.2.2");
    assert_eq!(vias[0].branch, Some(&b"390skdjuw"[..]));
    assert_eq!(vias[1].transport, Transport::Tcp);
    assert_eq!(vias[1].host, b"spindle.example.com");
    assert_eq!(vias[1].branch, Some(&b"z9hG4bK9ikj8"[..]));
    assert_eq!(vias[2].host, b"192.168.255.111");
    assert_eq!(vias[2].branch, Some(&b"z9hG4bK30239"[..]));
    assert_eq!(m.to().unwrap().tag, Some(&b"1918181833n"[..]));
    let from = m.from().unwrap();
    assert_eq!(from.tag, Some(&b"98asjd8"[..]));
    assert_eq!(from.display_name, Some(&b"\"J Rosenberg \\\\\\\"\""[..]));
    assert_eq!(from.uri.user, Some(&b"jdrosen"[..]));
    let routes: Vec<_> = m.routes().map(Result::unwrap).collect();
    assert_eq!(routes.len(), 1);
    assert!(routes[0].uri.lr());
    assert_eq!(
        routes[0].uri.param(b"unknownwith"),
        Some(Some(&b"value"[..]))
    );
    let c: Vec<_> = m.contacts().map(Result::unwrap).collect();
    let Contact::Addr(c0) = c[0] else {
        panic!("star")
    };
    assert_eq!(c0.q(), Ok(Some(330)));
    assert_eq!(c0.params.get(b"newparam"), Some(Some(&b"newvalue"[..])));
    assert_eq!(
        m.header(HeaderName::Other(b"newfangledheader")),
        Some(&b"newfangled value\r\n continued newfangled value"[..])
    );
    assert_eq!(
        m.header(HeaderName::Other(b"UnknownHeaderWithUnusualValue")),
        Some(&b";;,,;;,;"[..])
    );
    assert_eq!(m.header(HeaderName::Subject), Some(&b""[..]));
    assert_eq!(m.content_type(), Some(&b"application/sdp"[..]));
    assert_eq!(m.body().len(), 150);
    assert!(m.body().starts_with(b"v=0\r\n"));
}

#[test]
fn valid_message_details() {
    let b = read("intmeth.dat");
    let m = parse(&b).unwrap();
    let Some(Method::Other(meth)) = m.method() else {
        panic!("extension method")
    };
    assert_eq!(meth, b"!interesting-Method0123456789_*+`.%indeed'~");
    assert_eq!(m.cseq().unwrap().method, Method::Other(meth));
    let ruri = m.request_uri_parsed().unwrap().unwrap();
    assert_eq!(
        ruri.user,
        Some(&b"1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"[..])
    );
    assert_eq!(
        ruri.password,
        Some(&b"&it+has=1,weird!*pas$wo~d_too.(doesn't-it)"[..])
    );
    assert_eq!(m.max_forwards().unwrap(), Some(255));
    assert_eq!(
        m.top_via().unwrap().branch,
        Some(&b"z9hG4bK-.!%66*_+`'~"[..])
    );

    let b = read("esc01.dat");
    let m = parse(&b).unwrap();
    let to = m.to().unwrap();
    let plain = sip::Uri::parse(b"sip:user@example.com").unwrap();
    assert!(
        sip::uri_eq(&to.uri, &plain),
        "escaped user equals unescaped"
    );
    assert_eq!(
        m.header(HeaderName::ContentType),
        Some(&b"application/sdp"[..])
    );

    let b = read("escnull.dat");
    let m = parse(&b).unwrap();
    assert_eq!(m.contacts().count(), 2);
    assert_eq!(m.to().unwrap().uri.user, Some(&b"null-%00-null"[..]));

    let b = read("esc02.dat");
    let m = parse(&b).unwrap();
    assert_eq!(m.method(), Some(Method::Other(b"RE%47IST%45R")));
    // "C%6Fntact" is not Contact: two Contact values, one unknown header.
    assert_eq!(m.contacts().count(), 2);
    assert_eq!(
        m.header(HeaderName::Other(b"C%6Fntact")),
        Some(&b"<sip:alias2@host2.example.com>"[..])
    );

    let b = read("lwsdisp.dat");
    let m = parse(&b).unwrap();
    assert_eq!(m.from().unwrap().display_name, Some(&b"caller"[..]));

    let b = read("longreq.dat");
    let m = parse(&b).unwrap();
    assert_eq!(m.vias().count(), 34);
    assert!(m.call_id().unwrap().len() > 100);
    assert!(m.to().unwrap().uri.params.count() > 1);

    let b = read("dblreq.dat");
    let m = parse(&b).unwrap();
    assert_eq!(m.method(), Some(Method::Register));
    assert!(m.len() < b.len(), "trailing INVITE ignored");
    assert!(
        parse(&b[m.len()..]).is_ok(),
        "the second message starts where the first ends"
    );
    assert_eq!(m.body(), b"");

    let b = read("semiuri.dat");
    let m = parse(&b).unwrap();
    let u = m.request_uri_parsed().unwrap().unwrap();
    assert_eq!(u.user, Some(&b"user;par=u%40example.net"[..]));
    assert_eq!(u.host, Host::Name(b"example.com"));
    assert_eq!(m.header_values(HeaderName::Accept).count(), 6);

    let b = read("transports.dat");
    let m = parse(&b).unwrap();
    let t: Vec<_> = m.vias().map(|v| v.unwrap().transport).collect();
    assert_eq!(
        t,
        vec![
            Transport::Udp,
            Transport::Sctp,
            Transport::Tls,
            Transport::Other(b"UNKNOWN"),
            Transport::Tcp
        ]
    );

    let b = read("mpart01.dat");
    let m = parse(&b).unwrap();
    assert_eq!(m.body().len(), 553);
    assert!(m.content_type().unwrap().starts_with(b"multipart/mixed"));

    let b = read("unreason.dat");
    let m = parse(&b).unwrap();
    assert_eq!(m.status(), Some(200));
    assert!(std::str::from_utf8(m.reason().unwrap())
        .unwrap()
        .contains("простое"));

    let b = read("noreason.dat");
    let m = parse(&b).unwrap();
    assert_eq!(m.status(), Some(100));
    assert_eq!(m.reason(), Some(&b""[..]));
}

#[test]
fn lazily_parsed_invalid_messages_are_refused_by_accessors() {
    let check = |file: &str, header: &str| {
        let b = read(file);
        let m = parse(&b).unwrap_or_else(|e| panic!("{file} frames: {e}"));
        let r = validate_request(&m).expect_err(file);
        assert_eq!(r.status, 400, "{file}");
        assert_eq!(r.error.and_then(|e| e.header), Some(header), "{file}: {r}");
    };
    check("baddate.dat", "Date");
    check("regbadct.dat", "Contact");
    check("badaspec.dat", "To");
    check("quotbal.dat", "To");
    check("scalar02.dat", "CSeq");
    check("badinv01.dat", "Via");

    // Each accessor on its own.
    let b = read("regbadct.dat");
    let m = parse(&b).unwrap();
    assert!(m.contacts().next().unwrap().is_err());
    let b = read("scalar02.dat");
    let m = parse(&b).unwrap();
    assert_eq!(m.cseq().unwrap_err().kind, ParseErrorKind::ValueTooLarge);
    assert!(m.max_forwards().is_err());
    assert!(m.expires().is_err());
    assert!(m.contacts().next().unwrap().is_err());
    let b = read("scalarlg.dat");
    let m = parse(&b).unwrap();
    assert!(m.cseq().is_err());
    let b = read("badaspec.dat");
    let m = parse(&b).unwrap();
    assert!(m.from().is_ok(), "quoted display name with a comma is fine");
    assert!(m.to().is_err());

    // baddn ends without its blank line; with one added, the From display name is refused.
    let mut b = read("baddn.dat");
    assert_eq!(parse(&b).unwrap_err().kind, ParseErrorKind::Incomplete);
    b.extend_from_slice(b"\r\n");
    let m = parse(&b).unwrap();
    assert!(m.from().is_err());
    assert!(m.to().is_err());

    let b = read("mismatch01.dat");
    let m = parse(&b).unwrap();
    assert_eq!(
        validate_request(&m).unwrap_err().reason,
        "CSeq Method Mismatch"
    );
}

#[test]
fn framing_errors_name_the_place() {
    let b = read("clerr.dat");
    let e = parse(&b).unwrap_err();
    assert_eq!(e.kind, ParseErrorKind::BodyTruncated);
    assert_eq!(e.header, Some("Content-Length"));
    assert_eq!(&b[e.offset as usize..e.offset as usize + 4], b"9999");
    let b = read("ncl.dat");
    let e = parse(&b).unwrap_err();
    assert_eq!(e.kind, ParseErrorKind::BadContentLength);
    assert_eq!(&b[e.offset as usize..e.offset as usize + 4], b"-999");
    assert_eq!(e.reason(), "Bad Content-Length");
    for (f, kind) in [
        ("ltgtruri.dat", ParseErrorKind::BadRequestUri),
        ("lwsruri.dat", ParseErrorKind::BadRequestUri),
        ("lwsstart.dat", ParseErrorKind::BadRequestUri),
        ("trws.dat", ParseErrorKind::BadStartLine),
        ("badvers.dat", ParseErrorKind::BadVersion),
        ("bigcode.dat", ParseErrorKind::BadStatusCode),
    ] {
        assert_eq!(parse(&read(f)).unwrap_err().kind, kind, "{f}");
    }
}

#[test]
fn request_uri_grammar_is_checked_by_the_validator() {
    // The parser frames the Request-URI (scheme, no LWS, no <>); the full grammar, such
    // as "no headers in a SIP Request-URI", is the validator's (and request_uri_parsed's).
    let b = read("escruri.dat");
    let m = parse(&b).unwrap();
    let e = m.request_uri_parsed().unwrap().unwrap_err();
    assert_eq!(e.kind, ParseErrorKind::BadRequestUri);
    assert_eq!(e.offset, 7);
    let r = validate_request(&m).unwrap_err();
    assert_eq!((r.status, r.reason), (400, "Malformed Request-URI"));
}

#[test]
fn semantic_details() {
    let b = read("badbranch.dat");
    let m = parse(&b).unwrap();
    assert!(!m.top_via().unwrap().is_rfc3261_branch());

    let b = read("bext01.dat");
    let m = parse(&b).unwrap();
    let r = check_proxy_require(&m, &[b"path"]).unwrap_err();
    assert_eq!(
        (r.status, r.unsupported),
        (420, Some(&b"noProxiesSupportThis"[..]))
    );
    assert_eq!(
        m.proxy_require().collect::<Vec<_>>(),
        vec![&b"noProxiesSupportThis"[..], b"norDoAnyProxiesSupportThis"]
    );
    assert_eq!(m.require().count(), 2);
    assert!(check_proxy_require(
        &m,
        &[b"noproxiessupportthis", b"NORDOANYPROXIESSUPPORTTHIS"]
    )
    .is_ok());

    let b = read("regaut01.dat");
    let m = parse(&b).unwrap();
    assert_eq!(
        m.authorization().unwrap().unwrap(),
        Credentials::Other {
            scheme: b"NoOneKnowsThisScheme",
            params: b"opaque-data=here"
        }
    );

    let b = read("bcast.dat");
    let m = parse(&b).unwrap();
    let vias: Vec<_> = m.vias().map(Result::unwrap).collect();
    assert_eq!(
        vias[1].host_kind(),
        Some(Host::Ipv4(std::net::Ipv4Addr::BROADCAST))
    );

    let b = read("multi01.dat");
    let m = parse(&b).unwrap();
    assert_eq!(m.header_line_count(HeaderName::CSeq), 2);
    assert_eq!(m.cseq().unwrap().seq, 5, "the first CSeq is the one read");

    let b = read("cparam01.dat");
    let m = parse(&b).unwrap();
    let Contact::Addr(c) = m.contacts().next().unwrap().unwrap() else {
        panic!()
    };
    assert!(
        c.params.has(b"unknownparam"),
        "addr-spec: the parameter belongs to the header"
    );
    assert!(!c.uri.params.has(b"unknownparam"));
    let b = read("cparam02.dat");
    let m = parse(&b).unwrap();
    let Contact::Addr(c) = m.contacts().next().unwrap().unwrap() else {
        panic!()
    };
    assert!(
        c.uri.params.has(b"unknownparam"),
        "name-addr: the parameter belongs to the URI"
    );
    assert!(!c.params.has(b"unknownparam"));

    let b = read("regescrt.dat");
    let m = parse(&b).unwrap();
    let Contact::Addr(c) = m.contacts().next().unwrap().unwrap() else {
        panic!()
    };
    assert_eq!(
        c.uri.header_fields().next(),
        Some((&b"Route"[..], &b"%3Csip:sip.example.com%3E"[..]))
    );

    let b = read("invut.dat");
    let m = parse(&b).unwrap();
    assert_eq!(m.content_type(), Some(&b"application/unknownformat"[..]));
    assert_eq!(m.body().len(), 40);

    let b = read("inv2543.dat");
    let m = parse(&b).unwrap();
    assert_eq!(m.top_via().unwrap().branch, None);
    assert_eq!(m.max_forwards().unwrap(), None);
    assert_eq!(m.content_length().unwrap(), None);
    assert!(m.body().starts_with(b"v=0"));
}
