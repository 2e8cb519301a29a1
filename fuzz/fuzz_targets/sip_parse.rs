//! Fuzzes the SIP parser, every typed accessor, the validator and the writer.
//!
//! Whatever the bytes, nothing may panic; when a message parses, writing it through a set
//! of proxy edits must give bytes that parse again with the same Call-ID and body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ringlet::sip::{self, Edits, HeaderName, NewVia, Reply};

fuzz_target!(|data: &[u8]| {
    let _ = sip::parse_for_reply(data).map(|m| {
        let mut out = Vec::new();
        let _ = sip::write_response(&m, &Reply::new(400, "Bad Request").with_to_tag(b"f"), &mut out);
    });
    let Ok(m) = sip::parse(data) else { return };
    // Every accessor.
    let _ = m.top_via();
    for v in m.vias() {
        let _ = v.map(|v| (v.is_rfc3261_branch(), v.host_kind()));
    }
    let _ = (m.from(), m.to(), m.call_id(), m.cseq(), m.max_forwards(), m.expires());
    let _ = (m.content_length(), m.content_type(), m.body(), m.request_uri_parsed());
    for c in m.contacts() {
        let _ = c;
    }
    for r in m.routes().chain(m.record_routes()) {
        if let Ok(r) = r {
            let _ = sip::uri_eq(&r.uri, &r.uri);
        }
    }
    let _ = (m.require().count(), m.proxy_require().count(), m.supported().count());
    let _ = (m.authorization(), m.proxy_authorization());
    let _ = m.headers().count();
    let valid = if m.is_request() { sip::validate_request(&m).is_ok() } else { sip::validate_response(&m).is_ok() };
    let _ = sip::check_proxy_require(&m, &[b"path"]);

    // Writer: the edits a proxy makes.
    let mut out = Vec::new();
    let mut e = Edits::new();
    if m.is_request() {
        e.push_via(&m, NewVia { transport: b"UDP", host: b"127.0.0.1", port: Some(5060), branch: b"z9hG4bKfuzz", rport: true })
            .set_received(&m, std::net::IpAddr::from([127, 0, 0, 2]), 5062)
            .record_route(&m, b"sip:127.0.0.1;lr")
            .decrement_max_forwards(&m)
            .add_header(b"X-Fuzz", b"1");
        if m.header(HeaderName::Route).is_some() {
            e.remove_top_route(&m);
        }
    } else {
        e.strip_top_via(&m);
    }
    if let Ok(n) = e.write(&m, &mut out) {
        assert_eq!(n, out.len());
        if valid {
            let f = sip::parse(&out).expect("a valid message stays parseable after edits");
            assert_eq!(f.body(), m.body());
            assert_eq!(f.call_id().ok(), m.call_id().ok());
        }
    }
    let mut resp = Vec::new();
    let _ = sip::write_response(&m, &Reply::new(404, "Not Found").with_to_tag(b"t"), &mut resp);
    if valid && m.is_request() {
        let r = sip::parse(&resp).expect("a response to a valid request parses");
        assert_eq!(r.status(), Some(404));
    }
});
