//! Instruction counts of the SIP field parsers alone: `Via::parse`, `NameAddr::parse`,
//! `Uri::parse` and `Host::parse` on the field values of the call benches/txn.rs runs
//! (its INVITE, 180/200, ACK, BYE and 200), each parser in a function of its own so that
//! callgrind counts them apart. Instructions do not depend on machine load.
//!
//! ```text
//! cargo build --profile bench --example field_parsers
//! FIELD_LOOP=10000 valgrind --tool=callgrind --collect-atstart=no \
//!     --toggle-collect='*measure_*' target/release/examples/field_parsers
//! callgrind_annotate --inclusive=yes callgrind.out.<pid> | grep measure_
//! ```
//!
//! Each `measure_*` figure divided by `FIELD_LOOP` × the number of values is the cost of
//! one parse (the loop and `black_box` add a few instructions per parse).

use std::hint::black_box;

use ringlet::sip::{Host, NameAddr, Uri, Via};

/// The Via values of the txn bench call (alice's, then the proxy's on the responses).
const VIAS: &[&str] = &[
    "SIP/2.0/UDP 127.0.0.2:5060;branch=z9hG4bKI00000000;rport",
    "SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKrl00000000000000000000000000000000000000",
    "SIP/2.0/UDP 127.0.0.2:5060;branch=z9hG4bKI00000000;rport=5060;received=127.0.0.2",
];

/// From, To (without and with tag), Contact, Route / Record-Route.
const NAME_ADDRS: &[&str] = &[
    "Alice <sip:alice@example.test>;tag=a1",
    "Bob <sip:bob@example.test>",
    "Bob <sip:bob@example.test>;tag=b1",
    "<sip:alice@127.0.0.2:5060>",
    "<sip:bob@127.0.0.3:5060>",
    "<sip:127.0.0.1:5060;lr>",
];

/// The Request-URI and the URIs inside the name-addrs.
const URIS: &[&str] = &[
    "sip:bob@127.0.0.3:5060",
    "sip:alice@example.test",
    "sip:127.0.0.1:5060;lr",
    "sip:alice@127.0.0.2:5060",
];

const HOSTS: &[&str] = &["127.0.0.2", "example.test", "[2001:db8::1]"];

#[inline(never)]
fn measure_via(n: u64) -> usize {
    let mut ok = 0;
    for _ in 0..n {
        for v in VIAS {
            ok += usize::from(black_box(Via::parse(black_box(v.as_bytes()))).is_ok());
        }
    }
    ok
}

#[inline(never)]
fn measure_name_addr(n: u64) -> usize {
    let mut ok = 0;
    for _ in 0..n {
        for v in NAME_ADDRS {
            ok += usize::from(black_box(NameAddr::parse(black_box(v.as_bytes()))).is_ok());
        }
    }
    ok
}

#[inline(never)]
fn measure_uri(n: u64) -> usize {
    let mut ok = 0;
    for _ in 0..n {
        for v in URIS {
            ok += usize::from(black_box(Uri::parse(black_box(v.as_bytes()))).is_ok());
        }
    }
    ok
}

#[inline(never)]
fn measure_host(n: u64) -> usize {
    let mut ok = 0;
    for _ in 0..n {
        for v in HOSTS {
            ok += usize::from(black_box(Host::parse(black_box(v.as_bytes()))).is_some());
        }
    }
    ok
}

fn main() {
    let n: u64 = match std::env::var("FIELD_LOOP") {
        Ok(s) => match s.parse() {
            Ok(n) => n,
            Err(_) => {
                eprintln!("FIELD_LOOP must be a number of iterations");
                std::process::exit(2);
            }
        },
        Err(_) => 10_000,
    };
    let counts = [
        ("Via::parse", measure_via(n), VIAS.len()),
        ("NameAddr::parse", measure_name_addr(n), NAME_ADDRS.len()),
        ("Uri::parse", measure_uri(n), URIS.len()),
        ("Host::parse", measure_host(n), HOSTS.len()),
    ];
    for (name, ok, values) in counts {
        println!("{name}: {ok} of {} parses accepted", n * values as u64);
    }
}
