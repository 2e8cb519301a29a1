//! The stateless relay (src/proxy/stateless.rs) on the real runtime, over loopback, on both
//! backends: OPTIONS answered from many ports, a relay between two test endpoints, malformed
//! datagrams counted and answered.

mod runtime_support;

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use ringlet::config::IoBackendChoice;
use ringlet::proxy::stateless::{StatelessCounters, StatelessProxy};
use ringlet::runtime::RuntimeHandle;
use ringlet::sip;
use runtime_support::{backends, client, recv, start};

fn start_proxy(
    io: IoBackendChoice,
    workers: usize,
) -> (RuntimeHandle, Vec<Arc<StatelessCounters>>) {
    let mut counters = Vec::new();
    let h = start(io, workers, |w| {
        let p = StatelessProxy::new(w.local_addrs.clone());
        counters.push(p.counters());
        Box::new(p)
    });
    (h, counters)
}

fn sum(
    c: &[Arc<StatelessCounters>],
    f: impl Fn(&StatelessCounters) -> &std::sync::atomic::AtomicU64,
) -> u64 {
    c.iter().map(|c| f(c).load(Relaxed)).sum()
}

fn options(proxy: SocketAddr, me: SocketAddr, call: &str, cseq: u32) -> String {
    format!(
        "OPTIONS sip:{proxy} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {me};branch=z9hG4bK{call}x{cseq};rport\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:probe@127.0.0.1>;tag=f{call}\r\n\
         To: <sip:{proxy}>\r\n\
         Call-ID: {call}\r\n\
         CSeq: {cseq} OPTIONS\r\n\
         Content-Length: 0\r\n\r\n"
    )
}

fn status_of(bytes: &[u8]) -> u16 {
    let m = sip::parse(bytes).unwrap_or_else(|e| {
        panic!(
            "unparseable answer ({e}): {}",
            String::from_utf8_lossy(bytes)
        )
    });
    m.status().expect("a response")
}

#[test]
fn thousands_of_options_from_many_ports_are_all_answered() {
    for io in backends() {
        let (h, counters) = start_proxy(io, 2);
        let proxy = h.local_addrs()[0][0];
        let clients: Vec<UdpSocket> = (0..50).map(|_| client()).collect();
        let per = 40u32;
        for cseq in 1..=per {
            for (i, c) in clients.iter().enumerate() {
                let me = c.local_addr().unwrap();
                c.send_to(
                    options(proxy, me, &format!("opt{i}"), cseq).as_bytes(),
                    proxy,
                )
                .unwrap();
            }
        }
        for (i, c) in clients.iter().enumerate() {
            let mut seen = vec![false; per as usize + 1];
            for _ in 0..per {
                let (bytes, from) =
                    recv(c).unwrap_or_else(|| panic!("{io:?}: client {i} lacks an answer"));
                assert_eq!(from, proxy);
                let m = sip::parse(&bytes).unwrap();
                assert_eq!(m.status(), Some(200), "{}", String::from_utf8_lossy(&bytes));
                assert_eq!(m.call_id().unwrap(), format!("opt{i}").as_bytes());
                assert!(m.to().unwrap().tag.is_some(), "200 carries a To tag");
                seen[m.cseq().unwrap().seq as usize] = true;
            }
            assert!(
                seen[1..].iter().all(|s| *s),
                "{io:?}: client {i}: every CSeq answered"
            );
        }
        let total = 50 * per as u64;
        assert_eq!(sum(&counters, |c| &c.options_answered), total, "{io:?}");
        let per_worker = h.counters();
        assert!(
            per_worker.iter().all(|w| w.datagrams_in > 0),
            "{io:?}: both workers served: {per_worker:?}"
        );
        assert_eq!(h.total().datagrams_out, total);
    }
}

/// A UAC and a UAS (two test sockets) talk through the relay: INVITE, 180, 200, ACK,
/// and a retransmitted INVITE that keeps its branch.
#[test]
fn requests_and_responses_are_relayed_between_two_endpoints() {
    for io in backends() {
        let (h, counters) = start_proxy(io, 2);
        let proxy = h.local_addrs()[0][0];
        let uac = client();
        let uas = client();
        let (a, b) = (uac.local_addr().unwrap(), uas.local_addr().unwrap());
        let invite = format!(
            "INVITE sip:bob@{b} SIP/2.0\r\n\
             Via: SIP/2.0/UDP {a};branch=z9hG4bKinv1;rport\r\n\
             Max-Forwards: 70\r\n\
             From: Alice <sip:alice@127.0.0.1>;tag=a1\r\n\
             To: Bob <sip:bob@{b}>\r\n\
             Call-ID: relay-{io:?}\r\n\
             CSeq: 1 INVITE\r\n\
             Contact: <sip:alice@{a}>\r\n\
             Content-Length: 0\r\n\r\n"
        );
        uac.send_to(invite.as_bytes(), proxy).unwrap();
        let (fwd, from) = recv(&uas).expect("the INVITE reaches the UAS");
        assert_eq!(from, proxy, "relayed from the proxy's listening socket");
        let m = sip::parse(&fwd).unwrap();
        assert_eq!(m.max_forwards().unwrap(), Some(69));
        let vias: Vec<_> = m.vias().map(|v| v.unwrap()).collect();
        assert_eq!(vias.len(), 2);
        assert_eq!(vias[0].host, proxy.ip().to_string().as_bytes());
        assert_eq!(vias[0].port, Some(proxy.port()));
        let branch = vias[0].branch.unwrap().to_vec();
        assert!(
            branch.starts_with(b"z9hG4bK") && branch != b"z9hG4bKinv1",
            "our own branch"
        );
        assert_eq!(vias[1].branch, Some(&b"z9hG4bKinv1"[..]));
        assert_eq!(
            vias[1].rport,
            Some(sip::RPort::Port(a.port())),
            "rport filled in (RFC 3581)"
        );

        // A retransmission gets the same branch (RFC 3261 §16.11).
        uac.send_to(invite.as_bytes(), proxy).unwrap();
        let (again, _) = recv(&uas).unwrap();
        let m2 = sip::parse(&again).unwrap();
        assert_eq!(m2.top_via().unwrap().branch.unwrap(), &branch[..]);

        // The UAS answers 180 and 200 to the top Via (the proxy), echoing the Vias.
        for (status, reason) in [(180, "Ringing"), (200, "OK")] {
            let mut resp = Vec::new();
            let reply = sip::Reply::new(status, reason).with_to_tag(b"b1");
            sip::write_response(&m, &reply, &mut resp).unwrap();
            uas.send_to(&resp, proxy).unwrap();
            let (got, from) =
                recv(&uac).unwrap_or_else(|| panic!("{io:?}: {status} reaches the UAC"));
            assert_eq!(from, proxy);
            let r = sip::parse(&got).unwrap();
            assert_eq!(r.status(), Some(status));
            let vias: Vec<_> = r.vias().map(|v| v.unwrap()).collect();
            assert_eq!(vias.len(), 1, "our Via stripped");
            assert_eq!(vias[0].branch, Some(&b"z9hG4bKinv1"[..]));
        }

        // The ACK for the 2xx (a new transaction) is relayed too.
        let ack = format!(
            "ACK sip:bob@{b} SIP/2.0\r\n\
             Via: SIP/2.0/UDP {a};branch=z9hG4bKack1;rport\r\n\
             Max-Forwards: 70\r\n\
             From: Alice <sip:alice@127.0.0.1>;tag=a1\r\n\
             To: Bob <sip:bob@{b}>;tag=b1\r\n\
             Call-ID: relay-{io:?}\r\n\
             CSeq: 1 ACK\r\n\
             Content-Length: 0\r\n\r\n"
        );
        uac.send_to(ack.as_bytes(), proxy).unwrap();
        let (got, _) = recv(&uas).expect("the ACK reaches the UAS");
        let m = sip::parse(&got).unwrap();
        assert_eq!(m.method(), Some(sip::Method::Ack));
        assert_ne!(
            m.top_via().unwrap().branch.unwrap(),
            &branch[..],
            "a new transaction, a new branch"
        );

        assert_eq!(sum(&counters, |c| &c.requests_relayed), 3, "{io:?}");
        assert_eq!(sum(&counters, |c| &c.responses_relayed), 2, "{io:?}");
    }
}

#[test]
fn max_forwards_zero_is_answered_483_and_names_are_not_resolved() {
    for io in backends() {
        let (h, _) = start_proxy(io, 1);
        let proxy = h.local_addrs()[0][0];
        let c = client();
        let me = c.local_addr().unwrap();
        let req = |ruri: &str, mf: u32, call: &str| {
            format!(
                "MESSAGE {ruri} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bK{call};rport\r\n\
                 Max-Forwards: {mf}\r\nFrom: <sip:a@127.0.0.1>;tag=1\r\nTo: <{ruri}>\r\n\
                 Call-ID: {call}\r\nCSeq: 1 MESSAGE\r\nContent-Length: 0\r\n\r\n"
            )
        };
        c.send_to(req("sip:bob@127.0.0.1:9", 0, "mf0").as_bytes(), proxy)
            .unwrap();
        assert_eq!(status_of(&recv(&c).unwrap().0), 483);
        c.send_to(req("sip:bob@example.invalid", 70, "dns").as_bytes(), proxy)
            .unwrap();
        let (bytes, _) = recv(&c).unwrap();
        assert_eq!(status_of(&bytes), 502);
        assert!(String::from_utf8_lossy(&bytes).contains("not resolved"));
        c.send_to(
            req(&format!("sip:carol@{proxy}"), 70, "us").as_bytes(),
            proxy,
        )
        .unwrap();
        assert_eq!(
            status_of(&recv(&c).unwrap().0),
            404,
            "a user at our own address: no location service here"
        );
        // OPTIONS for the proxy itself is answered even at Max-Forwards 0 (RFC 3261 §16.3).
        let opt = options(proxy, me, "mf0opt", 1).replace("Max-Forwards: 70", "Max-Forwards: 0");
        c.send_to(opt.as_bytes(), proxy).unwrap();
        assert_eq!(status_of(&recv(&c).unwrap().0), 200);
    }
}

#[test]
fn malformed_datagrams_are_counted_and_answered() {
    for io in backends() {
        let (h, counters) = start_proxy(io, 2);
        let proxy = h.local_addrs()[0][0];
        let c = client();
        let me = c.local_addr().unwrap();
        // Missing Call-ID and CSeq: frames, fails validation.
        let no_callid = format!(
            "INVITE sip:bob@127.0.0.1:9 SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKbad1;rport\r\n\
             From: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:bob@127.0.0.1>\r\nContent-Length: 0\r\n\r\n"
        );
        // Content-Length larger than the body: refused by the parser, answered from parse_for_reply.
        let bad_length = format!(
            "OPTIONS sip:{proxy} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKbad2;rport\r\n\
             From: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:b@127.0.0.1>\r\nCall-ID: bad2\r\n\
             CSeq: 1 OPTIONS\r\nContent-Length: 999\r\n\r\nshort"
        );
        for (i, m) in [no_callid, bad_length].iter().enumerate() {
            c.send_to(m.as_bytes(), proxy).unwrap();
            let (bytes, _) =
                recv(&c).unwrap_or_else(|| panic!("{io:?}: malformed request {i} answered"));
            let status = status_of(&bytes);
            assert!(
                (400..500).contains(&status),
                "{io:?}: {}",
                String::from_utf8_lossy(&bytes)
            );
            let reason = sip::parse(&bytes).unwrap().reason().unwrap().to_vec();
            assert!(
                reason.len() > 3 && reason != b"Bad Request",
                "the reason says what was wrong: {}",
                String::from_utf8_lossy(&reason)
            );
        }
        // Junk gets no answer (there is nobody to address one to), but is counted.
        for junk in [
            &b"\x00\x01\x02garbage"[..],
            b"SIP/2.0 200 OK\r\nVia: broken\r\n\r\n",
        ] {
            c.send_to(junk, proxy).unwrap();
        }
        // A well-formed OPTIONS after the junk is still answered: nothing got stuck.
        c.send_to(options(proxy, me, "after", 1).as_bytes(), proxy)
            .unwrap();
        assert_eq!(status_of(&recv(&c).unwrap().0), 200);
        assert_eq!(sum(&counters, |c| &c.parse_errors), 4, "{io:?}");
        assert_eq!(sum(&counters, |c| &c.errors_answered), 2, "{io:?}");
        assert_eq!(sum(&counters, |c| &c.drop_malformed), 2, "{io:?}");
        assert_eq!(h.total().datagrams_in, 5);
    }
}

/// One worker listening on IPv4 and IPv6: OPTIONS answered on each, and a request that
/// arrives over IPv4 for an IPv6 target leaves from the IPv6 listener.
#[test]
fn ipv4_and_ipv6_listeners_work_side_by_side() {
    for io in backends() {
        let mut cfg = ringlet::runtime::RuntimeConfig::new(
            vec!["127.0.0.1:0".parse().unwrap(), "[::1]:0".parse().unwrap()],
            1,
        );
        cfg.io = io;
        let h = ringlet::runtime::Runtime::start(cfg, |w| {
            Box::new(StatelessProxy::new(w.local_addrs.clone()))
        })
        .unwrap();
        let (v4, v6) = (h.local_addrs()[0][0], h.local_addrs()[0][1]);
        assert!(v6.is_ipv6());
        let c6 = UdpSocket::bind("[::1]:0").unwrap();
        c6.set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        let me6 = c6.local_addr().unwrap();
        c6.send_to(options(v6, me6, "v6", 1).as_bytes(), v6)
            .unwrap();
        let mut buf = [0u8; 4096];
        let (n, from) = c6.recv_from(&mut buf).expect("OPTIONS over IPv6 answered");
        assert_eq!(from, v6);
        assert_eq!(status_of(&buf[..n]), 200);

        let c4 = client();
        let me4 = c4.local_addr().unwrap();
        let msg = format!(
            "MESSAGE sip:bob@{me6} SIP/2.0\r\nVia: SIP/2.0/UDP {me4};branch=z9hG4bKv4v6;rport\r\n\
             Max-Forwards: 70\r\nFrom: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:bob@{me6}>\r\n\
             Call-ID: v4v6\r\nCSeq: 1 MESSAGE\r\nContent-Length: 0\r\n\r\n"
        );
        c4.send_to(msg.as_bytes(), v4).unwrap();
        let (n, from) = c6.recv_from(&mut buf).expect("relayed to the IPv6 target");
        assert_eq!(from, v6, "{io:?}: left from the IPv6 listener");
        let m = sip::parse(&buf[..n]).unwrap();
        assert_eq!(
            m.top_via().unwrap().host,
            format!("[{}]", v6.ip()).as_bytes()
        );
    }
}
