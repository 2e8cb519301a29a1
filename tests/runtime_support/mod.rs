//! Helpers shared by the runtime end-to-end tests: loopback clients, backend selection and
//! small test endpoints. Every wait is bounded (socket read timeouts), none is asserted on.
#![allow(dead_code)]

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use ringlet::config::IoBackendChoice;
use ringlet::endpoint::Endpoint;
use ringlet::runtime::{IoBackend, Runtime, RuntimeConfig, RuntimeHandle, WorkerInfo};

/// Both backends; io_uring is required unless RINGLET_TEST_NO_URING is set (for kernels or
/// containers without it), so a broken io_uring backend cannot pass silently.
pub fn backends() -> Vec<IoBackendChoice> {
    if std::env::var_os("RINGLET_TEST_NO_URING").is_some() {
        vec![IoBackendChoice::Poll]
    } else {
        vec![IoBackendChoice::Poll, IoBackendChoice::Uring]
    }
}

pub fn expected(io: IoBackendChoice) -> IoBackend {
    match io {
        IoBackendChoice::Uring => IoBackend::Uring,
        _ => IoBackend::Poll,
    }
}

/// Start `workers` workers on an ephemeral loopback port with backend `io`.
pub fn start<F>(io: IoBackendChoice, workers: usize, factory: F) -> RuntimeHandle
where
    F: FnMut(&WorkerInfo) -> Box<dyn Endpoint>,
{
    let mut cfg = RuntimeConfig::new(vec!["127.0.0.1:0".parse().unwrap()], workers);
    cfg.io = io;
    let h = Runtime::start(cfg, factory).unwrap();
    assert_eq!(h.backend(), expected(io));
    h
}

/// A loopback client socket with a bounded read timeout.
pub fn client() -> UdpSocket {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    // Room for bursts of answers the test reads only after sending everything.
    socket2::SockRef::from(&s)
        .set_recv_buffer_size(4 << 20)
        .unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s
}

/// Receive one datagram (None after the bounded timeout).
pub fn recv(s: &UdpSocket) -> Option<(Vec<u8>, SocketAddr)> {
    let mut buf = vec![0u8; 65536];
    match s.recv_from(&mut buf) {
        Ok((n, from)) => {
            buf.truncate(n);
            Some((buf, from))
        }
        Err(e) => {
            eprintln!("recv: {e}");
            None
        }
    }
}
