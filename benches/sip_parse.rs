//! Parser and writer benchmark: ringlet::sip against rsip and ezk-sip-types on three
//! realistic messages (an INVITE with SDP, a REGISTER with digest credentials, a 200 OK to
//! an INVITE).
//!
//! For each message and library:
//! - `parse_fields`: parse, then read what a proxy reads (top Via branch, Call-ID, CSeq,
//!   To tag, Max-Forwards, top Route);
//! - `forward`: the same plus writing the forwarded message (a request gets a new top Via,
//!   Max-Forwards - 1 and its top Route removed; a response loses its top Via).
//!
//! Run: `cargo bench --bench sip_parse -- --warm-up-time 1 --measurement-time 3`
//! Results: benches/results/sip_parse.md.

use std::hint::black_box;
use std::str::FromStr;

use criterion::{criterion_group, Criterion};

const INVITE: &[u8] = b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.101:5060;branch=z9hG4bK776asdhds-1a2b3c;rport\r\n\
Max-Forwards: 70\r\n\
Route: <sip:edge1.atlanta.example.com;lr>\r\n\
Route: <sip:core.biloxi.example.com;lr>\r\n\
To: \"Bob\" <sip:bob@biloxi.example.com>\r\n\
From: \"Alice\" <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:alice@192.0.2.101:5060;transport=udp>\r\n\
Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, PRACK, UPDATE, REFER, NOTIFY, MESSAGE\r\n\
Supported: replaces, timer, 100rel\r\n\
User-Agent: Example Softphone 5.2.1\r\n\
Session-Expires: 1800\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 419\r\n\
\r\n\
v=0\r\n\
o=alice 2890844526 2890844526 IN IP4 192.0.2.101\r\n\
s=-\r\n\
c=IN IP4 192.0.2.101\r\n\
t=0 0\r\n\
m=audio 49170 RTP/AVP 0 8 9 18 101\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:9 G722/8000\r\n\
a=rtpmap:18 G729/8000\r\n\
a=fmtp:18 annexb=no\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-16\r\n\
a=ptime:20\r\n\
a=sendrecv\r\n\
m=video 51372 RTP/AVP 96\r\n\
a=rtpmap:96 H264/90000\r\n\
a=fmtp:96 profile-level-id=42e01f\r\n\
a=rtcp-fb:96 nack pli\r\n";

const REGISTER: &[u8] = b"REGISTER sip:example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.55:5060;branch=z9hG4bKnashds7-register-2;rport\r\n\
Max-Forwards: 70\r\n\
To: <sip:alice@example.com>\r\n\
From: <sip:alice@example.com>;tag=a73kszlfl\r\n\
Call-ID: 1j9FpLxk3uxtm8tn@192.0.2.55\r\n\
CSeq: 2 REGISTER\r\n\
Contact: <sip:alice@192.0.2.55:5060;transport=udp>;expires=3600\r\n\
Authorization: Digest username=\"alice\", realm=\"example.com\", nonce=\"ea9c8e88df84f1cec4341ae6cbe5a359\", uri=\"sip:example.com\", response=\"dfe56131d1958046689d83306477ecc\", algorithm=MD5, cnonce=\"0a4f113b\", qop=auth, nc=00000001, opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"\r\n\
User-Agent: Example Softphone 5.2.1\r\n\
Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, PRACK, UPDATE, REFER, NOTIFY, MESSAGE\r\n\
Content-Length: 0\r\n\
\r\n";

const OK200: &[u8] = b"SIP/2.0 200 OK\r\n\
Via: SIP/2.0/UDP 203.0.113.10:5060;branch=z9hG4bK-ringlet-0-4f1c2d;received=203.0.113.10\r\n\
Via: SIP/2.0/UDP 192.0.2.101:5060;branch=z9hG4bK776asdhds-1a2b3c;rport=5060;received=192.0.2.101\r\n\
Record-Route: <sip:203.0.113.10;lr>\r\n\
To: \"Bob\" <sip:bob@biloxi.example.com>;tag=a6c85cf\r\n\
From: \"Alice\" <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:bob@192.0.2.4:5060>\r\n\
Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, PRACK, UPDATE\r\n\
Supported: replaces, timer\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 129\r\n\
\r\n\
v=0\r\n\
o=bob 2808844564 2808844564 IN IP4 192.0.2.4\r\n\
s=-\r\n\
c=IN IP4 192.0.2.4\r\n\
t=0 0\r\n\
m=audio 3456 RTP/AVP 0\r\n\
a=rtpmap:0 PCMU/8000\r\n";

/// What a proxy reads from every message.
#[derive(Debug, Default)]
struct Fields {
    branch_len: usize,
    call_id_len: usize,
    cseq: u32,
    to_tag_len: usize,
    max_forwards: u32,
    route_len: usize,
}

// ---- ringlet ---------------------------------------------------------------------------

fn ringlet_fields(m: &ringlet::sip::Message<'_>) -> Fields {
    // The per-message accessors: the Via branch and the To tag without parsing the rest of
    // those headers (the sent-by and the To URI are checked once, by `validate_request`),
    // the top Route's URI parsed in full, as rsip and ezk parse theirs.
    Fields {
        branch_len: m.top_via_branch().ok().flatten().map_or(0, <[u8]>::len),
        call_id_len: m.call_id().map_or(0, <[u8]>::len),
        cseq: m.cseq().map_or(0, |c| c.seq),
        to_tag_len: m.to_tag().ok().flatten().map_or(0, <[u8]>::len),
        max_forwards: m.max_forwards().ok().flatten().map_or(0, u32::from),
        route_len: m
            .top_route_uri()
            .and_then(Result::ok)
            .map_or(0, |u| u.raw.len()),
    }
}

// ringlet and rsip: the parsed message is read where the `Result` holds it (`as_ref`),
// not moved out of it first: a ringlet `Message` is a 600-byte index, and moving it costs
// a copy a caller does not need to make.
fn ringlet_parse_fields(bytes: &[u8]) -> Fields {
    let parsed = ringlet::sip::parse(bytes);
    let m = parsed.as_ref().expect("bench message parses");
    ringlet_fields(m)
}

fn ringlet_forward(bytes: &[u8], out: &mut Vec<u8>) -> Fields {
    use ringlet::sip::{Edits, NewVia};
    let m = ringlet::sip::parse(bytes).expect("bench message parses");
    let f = ringlet_fields(&m);
    let mut e = Edits::new();
    if m.is_request() {
        e.push_via(
            &m,
            NewVia {
                transport: b"UDP",
                host: b"203.0.113.10",
                port: Some(5060),
                branch: b"z9hG4bK-ringlet-0-4f1c2d",
                rport: false,
            },
        )
        .decrement_max_forwards(&m);
        if f.route_len > 0 {
            e.remove_top_route(&m);
        }
    } else {
        e.strip_top_via(&m);
    }
    out.clear();
    e.write(&m, out).expect("bench message written");
    f
}

// ---- rsip ------------------------------------------------------------------------------

fn rsip_fields(m: &rsip::SipMessage) -> Fields {
    use rsip::prelude::*;
    let via = m.via_header().ok().and_then(|v| v.typed().ok());
    Fields {
        branch_len: via
            .as_ref()
            .and_then(|v| v.branch().map(|b| b.to_string().len()))
            .unwrap_or(0),
        call_id_len: m.call_id_header().map_or(0, |c| c.value().len()),
        cseq: m.cseq_header().ok().and_then(|c| c.seq().ok()).unwrap_or(0),
        to_tag_len: m
            .to_header()
            .ok()
            .and_then(|t| t.tag().ok().flatten())
            .map_or(0, |t| t.value().len()),
        max_forwards: m
            .max_forwards_header()
            .ok()
            .and_then(|h| h.num().ok())
            .unwrap_or(0),
        route_len: m
            .headers()
            .iter()
            .find_map(|h| match h {
                rsip::Header::Route(r) => r.typed().ok().map(|r| r.uris().len()),
                _ => None,
            })
            .unwrap_or(0),
    }
}

fn rsip_parse_fields(bytes: &[u8]) -> Fields {
    let parsed = rsip::SipMessage::try_from(bytes);
    let m = parsed.as_ref().expect("rsip parses");
    rsip_fields(m)
}

fn rsip_forward(bytes: &[u8], out: &mut Vec<u8>) -> Fields {
    use rsip::prelude::*;
    let mut m = rsip::SipMessage::try_from(bytes).expect("rsip parses");
    let f = rsip_fields(&m);
    let headers = m.headers_mut();
    let mut list: Vec<rsip::Header> = std::mem::take(headers).into();
    if f.branch_len > 0 && matches!(bytes.first(), Some(b'S')) {
        // Response: drop the top Via.
        if let Some(i) = list.iter().position(|h| matches!(h, rsip::Header::Via(_))) {
            list.remove(i);
        }
    } else {
        list.insert(
            0,
            rsip::Header::Via(rsip::headers::Via::new(
                "SIP/2.0/UDP 203.0.113.10:5060;branch=z9hG4bK-ringlet-0-4f1c2d",
            )),
        );
        for h in list.iter_mut() {
            if let rsip::Header::MaxForwards(_) = h {
                *h = rsip::Header::MaxForwards(rsip::headers::MaxForwards::new(
                    (f.max_forwards - 1).to_string(),
                ));
            }
        }
        if let Some(i) = list
            .iter()
            .position(|h| matches!(h, rsip::Header::Route(_)))
        {
            list.remove(i);
        }
    }
    *m.headers_mut() = list.into();
    out.clear();
    out.extend_from_slice(m.to_string().as_bytes());
    f
}

// ---- ezk-sip-types ---------------------------------------------------------------------

struct EzkMessage {
    line: ezk_sip_types::msg::MessageLine,
    headers: ezk_sip_types::Headers,
    body: Vec<u8>,
}

fn ezk_parse(bytes: &[u8]) -> EzkMessage {
    use ezk_sip_types::msg::{MessageLine, PullParser};
    let mut p = PullParser::new(bytes, 0);
    let first = p.next().expect("line").expect("complete");
    let line =
        MessageLine::from_str(std::str::from_utf8(first).expect("utf8")).expect("ezk start line");
    let mut headers = ezk_sip_types::Headers::with_capacity(16);
    for l in &mut p {
        let l = std::str::from_utf8(l.expect("complete")).expect("utf8");
        let (n, v) = l.split_once(':').expect("header line");
        headers.insert(n.trim(), v.trim());
    }
    let body = bytes[p.head_end()..].to_vec();
    EzkMessage {
        line,
        headers,
        body,
    }
}

fn ezk_fields(m: &EzkMessage) -> Fields {
    use ezk_sip_types::header::typed::{CSeq, CallID, FromTo, MaxForwards, Routing, Via};
    use ezk_sip_types::Name;
    let h = &m.headers;
    Fields {
        branch_len: h
            .get_named::<Via>()
            .ok()
            .and_then(|v| v.params.get_val("branch").map(|b| b.len()))
            .unwrap_or(0),
        call_id_len: h.get_named::<CallID>().map_or(0, |c| c.0.len()),
        cseq: h.get_named::<CSeq>().map_or(0, |c| c.cseq),
        to_tag_len: h
            .get::<FromTo>(Name::TO)
            .ok()
            .and_then(|t| t.tag.map(|t| t.len()))
            .unwrap_or(0),
        max_forwards: h.get_named::<MaxForwards>().map_or(0, |m| u32::from(m.0)),
        route_len: h
            .get::<Vec<Routing>>(Name::ROUTE)
            .ok()
            .map_or(0, |r| r.len()),
    }
}

fn ezk_parse_fields(bytes: &[u8]) -> Fields {
    let m = ezk_parse(bytes);
    ezk_fields(&m)
}

fn ezk_forward(bytes: &[u8], out: &mut Vec<u8>) -> Fields {
    use ezk_sip_types::header::typed::{MaxForwards, Routing, Via};
    use ezk_sip_types::print::AppendCtx;
    use ezk_sip_types::Name;
    use std::io::Write;
    let mut m = ezk_parse(bytes);
    let f = ezk_fields(&m);
    if m.line.is_request() {
        let sent_by: std::net::SocketAddr = "203.0.113.10:5060".parse().expect("addr");
        let mut vias: Vec<Via> = m.headers.take::<Vec<Via>>(Name::VIA).unwrap_or_default();
        vias.insert(0, Via::new("UDP", sent_by, "z9hG4bK-ringlet-0-4f1c2d"));
        m.headers.insert_type_front(Name::VIA, &vias);
        let _ = m.headers.take_named::<MaxForwards>();
        m.headers
            .insert_named(&MaxForwards((f.max_forwards - 1) as u8));
        if let Some(mut routes) = m.headers.take::<Vec<Routing>>(Name::ROUTE) {
            routes.remove(0);
            if !routes.is_empty() {
                m.headers.insert_type(Name::ROUTE, &routes);
            }
        }
    } else {
        let mut vias: Vec<Via> = m.headers.take::<Vec<Via>>(Name::VIA).unwrap_or_default();
        vias.remove(0);
        m.headers.insert_type_front(Name::VIA, &vias);
    }
    out.clear();
    let _ = write!(out, "{}\r\n{}\r\n", m.line.default_print_ctx(), m.headers);
    out.extend_from_slice(&m.body);
    f
}

// ---- harness ---------------------------------------------------------------------------

fn bench(c: &mut Criterion) {
    // Sanity: the three libraries read the same fields from each message.
    for (name, msg) in [("invite", INVITE), ("register", REGISTER), ("ok200", OK200)] {
        let a = ringlet_parse_fields(msg);
        let b = rsip_parse_fields(msg);
        let e = ezk_parse_fields(msg);
        assert_eq!(
            (a.call_id_len, a.cseq, a.max_forwards),
            (b.call_id_len, b.cseq, b.max_forwards),
            "{name} rsip"
        );
        assert_eq!(
            (a.call_id_len, a.cseq, a.to_tag_len),
            (e.call_id_len, e.cseq, e.to_tag_len),
            "{name} ezk"
        );
        let mut out = Vec::new();
        ringlet_forward(msg, &mut out);
        assert!(ringlet::sip::parse(&out).is_ok(), "{name} forwarded");
    }
    for (name, msg) in [("invite", INVITE), ("register", REGISTER), ("ok200", OK200)] {
        let mut g = c.benchmark_group(format!("{name}/parse_fields"));
        g.bench_function("ringlet", |b| {
            b.iter(|| ringlet_parse_fields(black_box(msg)))
        });
        g.bench_function("rsip", |b| b.iter(|| rsip_parse_fields(black_box(msg))));
        g.bench_function("ezk-sip-types", |b| {
            b.iter(|| ezk_parse_fields(black_box(msg)))
        });
        g.finish();
        let mut g = c.benchmark_group(format!("{name}/forward"));
        let mut out = Vec::with_capacity(4096);
        g.bench_function("ringlet", |b| {
            b.iter(|| ringlet_forward(black_box(msg), &mut out))
        });
        g.bench_function("rsip", |b| {
            b.iter(|| rsip_forward(black_box(msg), &mut out))
        });
        g.bench_function("ezk-sip-types", |b| {
            b.iter(|| ezk_forward(black_box(msg), &mut out))
        });
        g.finish();
    }
}

/// CPU time of this thread (CLOCK_THREAD_CPUTIME_ID): unlike wall time it does not grow
/// when the scheduler runs other processes, which matters on a shared, loaded machine.
fn thread_cpu_ns() -> u128 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant the kernel knows.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime");
    ts.tv_sec as u128 * 1_000_000_000 + ts.tv_nsec as u128
}

/// Median over 7 rounds of the thread-CPU nanoseconds per call, each round about 100 ms.
fn cpu_ns_per_op(mut f: impl FnMut()) -> f64 {
    let mut iters = 64u64;
    loop {
        let t = thread_cpu_ns();
        for _ in 0..iters {
            f();
        }
        if thread_cpu_ns() - t > 20_000_000 {
            break;
        }
        iters *= 2;
    }
    iters *= 5;
    let mut rounds: Vec<f64> = (0..7)
        .map(|_| {
            let t = thread_cpu_ns();
            for _ in 0..iters {
                f();
            }
            (thread_cpu_ns() - t) as f64 / iters as f64
        })
        .collect();
    rounds.sort_by(f64::total_cmp);
    rounds[3]
}

/// Prints a markdown table of thread-CPU ns per op (the figures in benches/results).
fn cpu_table() {
    println!("\n| message / operation | ringlet ns | rsip ns | ezk-sip-types ns | rsip / ringlet | ezk / ringlet |");
    println!("|---|---:|---:|---:|---:|---:|");
    let mut out = Vec::with_capacity(4096);
    for (name, msg) in [
        ("INVITE+SDP", INVITE),
        ("REGISTER+auth", REGISTER),
        ("200 OK", OK200),
    ] {
        let r = cpu_ns_per_op(|| {
            black_box(ringlet_parse_fields(black_box(msg)));
        });
        let s = cpu_ns_per_op(|| {
            black_box(rsip_parse_fields(black_box(msg)));
        });
        let e = cpu_ns_per_op(|| {
            black_box(ezk_parse_fields(black_box(msg)));
        });
        println!(
            "| {name} parse+fields | {r:.0} | {s:.0} | {e:.0} | {:.1}x | {:.1}x |",
            s / r,
            e / r
        );
        let p = cpu_ns_per_op(|| {
            black_box(ringlet::sip::parse(black_box(msg)).map(|m| m.len()).ok());
        });
        println!("| {name} parse only (ringlet) | {p:.0} | | | | |");
        let r = cpu_ns_per_op(|| {
            black_box(ringlet_forward(black_box(msg), &mut out));
        });
        let s = cpu_ns_per_op(|| {
            black_box(rsip_forward(black_box(msg), &mut out));
        });
        let e = cpu_ns_per_op(|| {
            black_box(ezk_forward(black_box(msg), &mut out));
        });
        println!(
            "| {name} parse+fields+forward | {r:.0} | {s:.0} | {e:.0} | {:.1}x | {:.1}x |",
            s / r,
            e / r
        );
    }
}

criterion_group!(benches, bench);

fn main() {
    // `SIP_PARSE_CPU_TABLE=1`: only the thread-CPU-time table (fast, load-independent).
    if std::env::var_os("SIP_PARSE_CPU_TABLE").is_some() {
        cpu_table();
        return;
    }
    // `SIP_PARSE_LOOP=<lib>:<n>`: run INVITE parse+fields n times and exit (lib
    // `ringlet-parse`: ringlet's parse alone), for
    // `perf stat -e instructions:u` (an instruction count does not depend on machine load).
    if let Some(spec) = std::env::var_os("SIP_PARSE_LOOP") {
        let spec = spec.to_string_lossy().into_owned();
        let (lib, n) = spec.split_once(':').expect("SIP_PARSE_LOOP=<lib>:<n>");
        let n: u64 = n.parse().expect("iteration count");
        for _ in 0..n {
            match lib {
                "ringlet-parse" => {
                    black_box(ringlet::sip::parse(black_box(INVITE)).map(|m| m.len()).ok());
                    continue;
                }
                "ringlet" => black_box(ringlet_parse_fields(black_box(INVITE))),
                "rsip" => black_box(rsip_parse_fields(black_box(INVITE))),
                _ => black_box(ezk_parse_fields(black_box(INVITE))),
            };
        }
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
    cpu_table();
}
