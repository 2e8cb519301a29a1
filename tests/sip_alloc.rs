//! The hot path allocates nothing: parsing, reading what a proxy reads, validating and
//! writing a forwarded message into a buffer with enough capacity. Checked with a counting
//! global allocator (this test binary only).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use ringlet::sip::{self, Edits, NewVia, Reply};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as our caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// 32 header lines, several multi-valued.
fn message() -> Vec<u8> {
    let mut m = b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1;rport, SIP/2.0/TCP 192.0.2.2;branch=z9hG4bK2\r\n\
Via: SIP/2.0/UDP 192.0.2.3;branch=z9hG4bK3;received=192.0.2.33\r\n\
Max-Forwards: 70\r\n\
Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>\r\n\
Record-Route: <sip:p0.example.com;lr>\r\n\
To: Bob <sip:bob@biloxi.example.com>\r\n\
From: \"Alice\" <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:alice@192.0.2.1>;expires=60;q=0.5\r\n\
Proxy-Authorization: Digest username=\"alice\", realm=\"example.com\", nonce=\"abc\", uri=\"sip:bob@biloxi.example.com\", response=\"0123456789abcdef0123456789abcdef\"\r\n\
Content-Type: application/sdp\r\n"
        .to_vec();
    for i in 0..19 {
        m.extend_from_slice(format!("X-Extra-{i}: value {i}\r\n").as_bytes());
    }
    m.extend_from_slice(b"Content-Length: 4\r\n\r\nv=0\n");
    m
}

#[test]
fn parse_read_validate_and_write_without_allocating() {
    let bytes = message();
    let mut out = Vec::with_capacity(8192);
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    for _ in 0..10 {
        let m = sip::parse(&bytes).expect("parses");
        assert_eq!(m.header_count(), 32);
        assert_eq!(m.top_via().expect("via").branch, Some(&b"z9hG4bK1"[..]));
        assert_eq!(m.vias().count(), 3);
        assert_eq!(m.routes().count(), 2);
        assert!(m.to().is_ok() && m.from().is_ok() && m.call_id().is_ok() && m.cseq().is_ok());
        assert!(matches!(
            m.proxy_authorization(),
            Some(Ok(sip::Credentials::Digest(_)))
        ));
        sip::validate_request(&m).expect("valid");
        let mut e = Edits::new();
        e.push_via(
            &m,
            NewVia {
                transport: b"UDP",
                host: b"203.0.113.1",
                port: Some(5060),
                branch: b"z9hG4bKx",
                rport: false,
            },
        )
        .set_received(&m, "198.51.100.7".parse().expect("ip"), 5070)
        .record_route(&m, b"sip:203.0.113.1;lr")
        .remove_top_route(&m)
        .decrement_max_forwards(&m);
        out.clear();
        e.write(&m, &mut out).expect("written");
        out.clear();
        sip::write_response(
            &m,
            &Reply::new(407, "Proxy Authentication Required").with_to_tag(b"t"),
            &mut out,
        )
        .expect("response");
    }
    let after = ALLOCATIONS.load(Ordering::Relaxed);
    assert_eq!(after - before, 0, "allocations on the hot path");
    // The counter does count: a Vec allocates.
    let v: Vec<u8> = Vec::with_capacity(16);
    assert!(ALLOCATIONS.load(Ordering::Relaxed) > after);
    drop(v);
}
