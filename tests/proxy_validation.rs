//! RFC 3261 §16.3 validation and §16.4 Route processing through the stateful proxy, and
//! every RFC 4475 message with the treatment tests/data/rfc4475/EXPECTED.tsv asks for.

#[path = "harness/proxy.rs"]
mod harness;

use std::time::Instant;

use harness::*;
use ringlet::proxy::{RelayToRequestUri, Reply, RequestInfo, RouteDecision, Router, Target};
use ringlet::sip::{HeaderName, Message, Method};

const BOB_URI: &str = "sip:bob@127.0.0.3:5060";

fn net() -> Net<RelayToRequestUri> {
    Net::new(config(), RelayToRequestUri)
}

fn status_of(sent: &[Sent]) -> Vec<String> {
    sent.iter()
        .map(|s| format!("{} {}", s.what(), s.dest))
        .collect()
}

#[test]
fn max_forwards_zero_is_483_even_for_options_to_us() {
    let mut n = net();
    let req = request(
        "OPTIONS",
        "sip:proxy.test",
        "v-1",
        "z9hG4bKv1",
        1,
        None,
        &[],
    )
    .replace("Max-Forwards: 70", "Max-Forwards: 0");
    let sent = n.send_str(ALICE, &req);
    let r = one(&sent, ALICE, "483/OPTIONS");
    assert!(r.msg().to().unwrap().tag.is_some());
    assert_eq!(n.proxy.stats().rejected, 1);
}

#[test]
fn max_forwards_absent_is_inserted_as_70_minus_nothing() {
    let mut n = net();
    let req = invite(BOB_URI, "v-1b", "z9hG4bKv1b").replace("Max-Forwards: 70\r\n", "");
    let sent = n.send_str(ALICE, &req);
    let fwd = one(&sent, BOB, "INVITE");
    assert_eq!(fwd.msg().max_forwards().unwrap(), Some(70));
}

#[test]
fn unknown_uri_scheme_is_416() {
    let mut n = net();
    let req = request(
        "OPTIONS",
        "http:example.test/x",
        "v-2",
        "z9hG4bKv2",
        1,
        None,
        &[],
    );
    one(&n.send_str(ALICE, &req), ALICE, "416/OPTIONS");
}

#[test]
fn unknown_proxy_require_is_420_with_unsupported() {
    let mut n = net();
    let req = request(
        "INVITE",
        BOB_URI,
        "v-3",
        "z9hG4bKv3",
        1,
        None,
        &["Proxy-Require: foo, bar", "Require: baz"],
    );
    let sent = n.send_str(ALICE, &req);
    let r = one(&sent, ALICE, "420");
    assert_eq!(
        r.header(HeaderName::Unsupported).as_deref(),
        Some("foo, bar")
    );
    assert_eq!(sent.len(), 1, "nothing forwarded");
}

#[test]
fn require_alone_is_forwarded() {
    let mut n = net();
    let req = request(
        "INVITE",
        BOB_URI,
        "v-3b",
        "z9hG4bKv3b",
        1,
        None,
        &["Require: baz"],
    );
    one(&n.send_str(ALICE, &req), BOB, "INVITE");
}

#[test]
fn missing_and_duplicated_headers_are_400_with_a_reason() {
    let mut n = net();
    let req = invite(BOB_URI, "v-4", "z9hG4bKv4").replace("Call-ID: v-4\r\n", "");
    let r = one(&n.send_str(ALICE, &req), ALICE, "400");
    assert!(
        r.text().starts_with("SIP/2.0 400 Missing Call-ID"),
        "{}",
        r.text()
    );
    let req = invite(BOB_URI, "v-5", "z9hG4bKv5")
        .replace("CSeq: 1 INVITE\r\n", "CSeq: 1 INVITE\r\nCSeq: 2 INVITE\r\n");
    let r = one(&n.send_str(ALICE, &req), ALICE, "400");
    assert!(
        r.text().starts_with("SIP/2.0 400 Multiple CSeq"),
        "{}",
        r.text()
    );
    assert_eq!(n.proxy.transactions(), 0);
}

#[test]
fn a_request_that_comes_back_is_a_loop_482_but_a_spiral_is_not() {
    let mut n = net();
    let sent = n.send_str(ALICE, &invite("sip:bob@127.0.0.1:5060", "v-6", "z9hG4bKv6"));
    // The R-URI is the proxy itself, so the default router answers 404; use a numeric
    // foreign URI and feed the forwarded INVITE back in instead.
    one(&sent, ALICE, "404");
    let sent = n.send_str(ALICE, &invite(BOB_URI, "v-7", "z9hG4bKv7"));
    let fwd = one(&sent, BOB, "INVITE");
    let sent = n.send(BOB, &fwd.bytes);
    one(&sent, BOB, "482");
    assert_eq!(n.proxy.stats().loops, 1);
    // The same request with another Request-URI (a spiral) is forwarded.
    let spiral = fwd.text().replace(
        "INVITE sip:bob@127.0.0.3:5060 SIP/2.0",
        "INVITE sip:carol@127.0.0.4:5060 SIP/2.0",
    );
    let sent = n.send_str(BOB, &spiral);
    one(&sent, CAROL, "INVITE");
}

#[test]
fn our_own_route_is_removed_and_the_next_route_is_the_next_hop() {
    let mut n = net();
    let req = request(
        "INVITE",
        BOB_URI,
        "v-8",
        "z9hG4bKv8",
        1,
        None,
        &[
            "Route: <sip:127.0.0.1:5060;lr>, <sip:127.0.0.4:5060;lr>",
            "Route: <sip:127.0.0.5;lr>",
        ],
    );
    let sent = n.send_str(ALICE, &req);
    let fwd = one(&sent, CAROL, "INVITE");
    let m = fwd.msg();
    let routes: Vec<Vec<u8>> = m.routes().map(|r| r.unwrap().uri.raw.to_vec()).collect();
    assert_eq!(
        routes,
        vec![
            b"sip:127.0.0.4:5060;lr".to_vec(),
            b"sip:127.0.0.5;lr".to_vec()
        ]
    );
    assert_eq!(m.request_uri(), Some(BOB_URI.as_bytes()));
}

#[test]
fn strict_router_upstream_gets_its_request_uri_back_from_the_last_route() {
    let mut n = net();
    // A strict router put our Record-Route URI in the Request-URI and the remote target last.
    let req = request(
        "BYE",
        "sip:127.0.0.1:5060;lr",
        "v-9",
        "z9hG4bKv9",
        2,
        Some("b9"),
        &["Route: <sip:bob@127.0.0.3:5060>"],
    );
    let sent = n.send_str(ALICE, &req);
    let fwd = one(&sent, BOB, "BYE");
    let m = fwd.msg();
    assert_eq!(m.request_uri(), Some(BOB_URI.as_bytes()));
    assert_eq!(m.routes().count(), 0);
}

#[test]
fn in_dialog_request_follows_its_route_set_without_the_router() {
    struct Refuse;
    impl Router for Refuse {
        fn route(&mut self, _: Instant, _: &Message<'_>, _: &RequestInfo) -> RouteDecision {
            RouteDecision::Respond(Reply::new(403, "Router Was Asked"))
        }
    }
    let mut n = Net::new(config(), Refuse);
    let req = request(
        "BYE",
        BOB_URI,
        "v-10",
        "z9hG4bKv10",
        2,
        Some("b10"),
        &["Route: <sip:127.0.0.1:5060;lr>, <sip:127.0.0.4;lr>"],
    );
    let sent = n.send_str(ALICE, &req);
    one(&sent, CAROL, "BYE");
    // Out of dialog, the router decides.
    let sent = n.send_str(ALICE, &invite(BOB_URI, "v-11", "z9hG4bKv11"));
    one(&sent, ALICE, "403");
}

#[test]
fn options_to_the_proxy_itself_is_answered_by_the_default_router() {
    let mut n = net();
    let sent = n.send_str(
        ALICE,
        &request(
            "OPTIONS",
            "sip:proxy.test",
            "v-12",
            "z9hG4bKv12",
            1,
            None,
            &[],
        ),
    );
    one(&sent, ALICE, "200/OPTIONS");
}

// ---- RFC 4475 --------------------------------------------------------------------------

/// The proxy's router for the torture messages: every request is relayed to a fixed hop
/// (the messages name example.com, which we never resolve); REGISTER stands in for the
/// registrar of EXPECTED.tsv (its decisions are the registrar's business, not the core's:
/// here they only show that the core hands REGISTER to the router and sends its answer).
struct Torture {
    registers: usize,
}

impl Router for Torture {
    fn route(&mut self, _: Instant, req: &Message<'_>, _: &RequestInfo) -> RouteDecision {
        if req.method() == Some(Method::Register) {
            self.registers += 1;
            let to_is_sip = req.to().map(|t| {
                matches!(
                    t.uri.scheme,
                    ringlet::sip::Scheme::Sip | ringlet::sip::Scheme::Sips
                )
            });
            if !to_is_sip.unwrap_or(false) {
                return RouteDecision::Respond(Reply::new(416, "Unsupported URI Scheme"));
            }
            if req
                .authorization()
                .is_some_and(|c| !matches!(c, Ok(ringlet::sip::Credentials::Digest(_))))
            {
                return RouteDecision::Respond(Reply::new(401, "Unauthorized"));
            }
            return RouteDecision::Respond(Reply::new(200, "OK"));
        }
        RouteDecision::Relay(vec![
            Target::request_uri().with_next_hop(addr("127.0.0.7:5060"))
        ])
    }
    /// Every name the messages use (example.com and friends) is the one test hop.
    fn resolve(&mut self, _host: &[u8], _port: u16) -> Option<std::net::SocketAddr> {
        Some(addr("127.0.0.7:5060"))
    }
}

#[test]
fn rfc4475_messages_get_the_expected_answers() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/rfc4475");
    let table = std::fs::read_to_string(format!("{dir}/EXPECTED.tsv")).expect("EXPECTED.tsv");
    let mut checked = 0;
    let mut failures = Vec::new();
    for line in table
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let cols: Vec<&str> = line.split('\t').collect();
        let (file, action) = (cols[0], cols[1]);
        let bytes = std::fs::read(format!("{dir}/{file}")).expect(file);
        let mut n = Net::new(config(), Torture { registers: 0 });
        let src = "127.0.0.9:5060";
        let sent = n.send(src, &bytes);
        let ok = match action {
            "forward" => sent
                .iter()
                .any(|s| s.dest == addr("127.0.0.7:5060") && s.msg().is_request()),
            "forward-response" | "drop" => sent.is_empty(),
            code => {
                let code: u16 = code.parse().expect("status");
                sent.iter()
                    .any(|s| s.dest.ip() == addr(src).ip() && s.status() == Some(code))
                    && sent.iter().all(|s| s.dest != addr("127.0.0.7:5060"))
            }
        };
        if !ok {
            failures.push(format!(
                "{file}: expected {action}, got {:?}",
                status_of(&sent)
            ));
        }
        checked += 1;
    }
    assert!(checked >= 49, "{checked}");
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn rfc4475_forwarded_messages_keep_their_body_and_unknown_headers() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/rfc4475");
    let bytes = std::fs::read(format!("{dir}/invut.dat")).unwrap();
    let mut n = Net::new(config(), Torture { registers: 0 });
    let sent = n.send("127.0.0.9:5060", &bytes);
    let fwd = sent.iter().find(|s| s.msg().is_request()).unwrap();
    let m = fwd.msg();
    assert_eq!(m.content_type(), Some(&b"application/unknownformat"[..]));
    let orig = ringlet::sip::parse(&bytes).unwrap();
    assert_eq!(m.body(), orig.body());
    assert_eq!(m.max_forwards().unwrap(), Some(69));
}

#[test]
fn register_to_our_domain_with_a_preloaded_route_is_not_strict_routing() {
    struct Registrar;
    impl Router for Registrar {
        fn route(&mut self, _: Instant, req: &Message<'_>, info: &RequestInfo) -> RouteDecision {
            assert_eq!(req.request_uri(), Some(&b"sip:proxy.test"[..]));
            assert!(info.uri_is_ours);
            RouteDecision::Respond(Reply::new(200, "OK"))
        }
    }
    let mut n = Net::new(config(), Registrar);
    let req = request(
        "REGISTER",
        "sip:proxy.test",
        "v-13",
        "z9hG4bKv13",
        1,
        None,
        &["Route: <sip:127.0.0.1:5060;lr>"],
    );
    one(&n.send_str(ALICE, &req), ALICE, "200/REGISTER");
}

#[test]
fn damaged_datagrams_never_panic_the_proxy() {
    // Every torture message, cut short at many points and with bytes flipped, as requests
    // from a caller and as responses from a callee, interleaved with timers.
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/rfc4475");
    let mut n = Net::new(config(), Torture { registers: 0 });
    let mut fed = 0;
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    // Also a real forwarded INVITE and a response to it, so our own branches get damaged too.
    let mut samples: Vec<Vec<u8>> = files
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "dat"))
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    let mut plain = Net::new(config(), RelayToRequestUri);
    let fwd = one(
        &plain.send_str(ALICE, &invite(BOB_URI, "dmg", "z9hG4bKdmg")),
        BOB,
        "INVITE",
    );
    samples.push(respond(&fwd, 180, "Ringing", "t", &[]));
    samples.push(fwd.bytes.clone());
    for (k, bytes) in samples.iter().enumerate() {
        for cut in (0..bytes.len()).step_by(11) {
            n.send("127.0.0.9:5060", &bytes[..cut]);
            fed += 1;
        }
        for i in (0..bytes.len()).step_by(5) {
            let mut b = bytes.clone();
            b[i] = b[i].wrapping_add(1 + (k as u8 % 7));
            n.send("127.0.0.9:5060", &b);
            plain.send(BOB, &b);
            fed += 2;
        }
        n.advance(std::time::Duration::from_secs(1));
    }
    n.advance(std::time::Duration::from_secs(300));
    plain.advance(std::time::Duration::from_secs(300));
    assert!(fed > 5000, "{fed}");
    assert_eq!(n.proxy.transactions(), 0, "every transaction ends");
}
