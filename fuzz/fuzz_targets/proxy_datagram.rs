//! Fuzzes the stateful proxy endpoint: arbitrary datagrams into one long-lived
//! `StatefulProxy` (so transactions, branches and timers carry over from one input to the
//! next), in virtual time.
//!
//! Nothing may panic. Every datagram the proxy sends because of a timer or of an input that
//! validates must parse as SIP (a stateless 400 to garbage echoes the garbage's Via, From
//! and To lines, best effort, so it need not). To let the
//! fuzzer reach transactions, the bytes `@B@` in an input are replaced by the branch of the
//! last request the proxy forwarded, so a mutated response can name a live client
//! transaction (the validated-Via shortcut, response matching, CANCEL and ACK paths).
//!
//! First byte: bit 0 picks the source (127.0.0.2:5060, the caller, or 127.0.0.3:5060, the
//! callee), bits 1-3 how far virtual time moves before the datagram (0 to 7 × 4 s, past
//! Timers A-K and the 32 s linger), so timers fire between inputs.
#![no_main]

use std::cell::RefCell;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use ringlet::endpoint::{Endpoint, Incoming, Outbox};
use ringlet::proxy::{ProxyConfig, RelayToRequestUri, StatefulProxy};
use ringlet::sip;

struct Harness {
    proxy: StatefulProxy<RelayToRequestUri>,
    out: Outbox,
    now: Instant,
    last_branch: Vec<u8>,
}

impl Harness {
    fn new() -> Self {
        let cfg = ProxyConfig {
            listen: vec![SocketAddr::from(([127, 0, 0, 1], 5060))],
            // Small, so that a full table (503) is reachable too.
            max_transactions: 256,
            ..ProxyConfig::default()
        };
        let now = Instant::now();
        Harness {
            proxy: StatefulProxy::new(cfg, RelayToRequestUri, now),
            out: Outbox::new(),
            now,
            last_branch: b"z9hG4bKnone".to_vec(),
        }
    }

    /// With `strict`, every datagram sent must parse; remember the branch of the last
    /// forwarded request.
    fn check_sent(&mut self, strict: bool) {
        for (_, bytes) in self.out.transmits() {
            let m = match sip::parse(bytes) {
                Ok(m) => m,
                Err(_) if !strict => continue,
                Err(e) => panic!(
                    "the proxy sent a datagram that does not parse ({e}):\n{}",
                    String::from_utf8_lossy(bytes)
                ),
            };
            if m.is_request() {
                if let Ok(v) = m.top_via() {
                    if let Some(b) = v.branch {
                        self.last_branch = b.to_vec();
                    }
                }
            }
        }
        self.out.clear();
    }
}

thread_local! {
    static HARNESS: RefCell<Harness> = RefCell::new(Harness::new());
}

fn substitute(data: &[u8], branch: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(data.len() + branch.len());
    let mut i = 0;
    while i < data.len() {
        if data[i..].starts_with(b"@B@") {
            v.extend_from_slice(branch);
            i += 3;
        } else {
            v.push(data[i]);
            i += 1;
        }
    }
    v
}

fuzz_target!(|data: &[u8]| {
    let Some((&ctl, rest)) = data.split_first() else {
        return;
    };
    HARNESS.with(|h| {
        let mut h = h.borrow_mut();
        let step = Duration::from_secs(4 * u64::from((ctl >> 1) & 7));
        if !step.is_zero() {
            h.now += step;
            let now = h.now;
            let Harness { proxy, out, .. } = &mut *h;
            proxy.on_timeout(now, out);
            h.check_sent(true);
        }
        let src = if ctl & 1 == 0 {
            [127, 0, 0, 2]
        } else {
            [127, 0, 0, 3]
        };
        let bytes = substitute(rest, &h.last_branch);
        let valid = sip::parse(&bytes).is_ok_and(|m| {
            if m.is_request() {
                sip::validate_request(&m).is_ok()
            } else {
                sip::validate_response(&m).is_ok()
            }
        });
        let now = h.now;
        let Harness { proxy, out, .. } = &mut *h;
        proxy.on_datagram(
            now,
            Incoming {
                local: 0,
                src: SocketAddr::from((src, 5060)),
                bytes: &bytes,
                handed_off: false,
            },
            out,
        );
        h.check_sent(valid);
    });
});
