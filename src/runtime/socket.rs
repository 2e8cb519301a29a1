//! UDP listening sockets: `SO_REUSEPORT` binding, buffer sizes (with a warning naming the
//! sysctl to raise when the kernel caps them), `SO_RXQ_OVFL` drop counting, and the
//! conversions between `std::net::SocketAddr` and the kernel's `sockaddr` bytes.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use super::log;

/// Kernel socket options applied to every listening socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SocketOptions {
    /// `SO_RCVBUF` in bytes; `None` keeps the kernel default.
    pub recv_buffer: Option<usize>,
    /// `SO_SNDBUF` in bytes; `None` keeps the kernel default.
    pub send_buffer: Option<usize>,
}

static WARNED_RMEM: AtomicBool = AtomicBool::new(false);
static WARNED_WMEM: AtomicBool = AtomicBool::new(false);

/// Bind a non-blocking UDP socket to `addr` with `SO_REUSEPORT`, so that every worker can
/// bind the same address and the kernel spreads datagrams between them by 4-tuple.
pub fn bind_udp(addr: SocketAddr, opts: SocketOptions) -> io::Result<UdpSocket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if addr.is_ipv6() {
        // An IPv6 listener serves IPv6 only; IPv4 gets its own listen entry.
        socket.set_only_v6(true)?;
    }
    socket.set_reuse_port(true)?;
    socket.set_nonblocking(true)?;
    if let Some(want) = opts.recv_buffer {
        socket.set_recv_buffer_size(want)?;
        // Linux reports twice the value it granted (the doubling covers bookkeeping).
        let got = socket.recv_buffer_size()? / 2;
        if got < want && !WARNED_RMEM.swap(true, Relaxed) {
            log::warn(format_args!(
                "socket receive buffer capped at {got} bytes (asked {want}); raise it with `sysctl -w net.core.rmem_max={want}`"
            ));
        }
    }
    if let Some(want) = opts.send_buffer {
        socket.set_send_buffer_size(want)?;
        let got = socket.send_buffer_size()? / 2;
        if got < want && !WARNED_WMEM.swap(true, Relaxed) {
            log::warn(format_args!(
                "socket send buffer capped at {got} bytes (asked {want}); raise it with `sysctl -w net.core.wmem_max={want}`"
            ));
        }
    }
    enable_rxq_overflow_counter(&socket);
    socket.bind(&SockAddr::from(addr))?;
    Ok(socket.into())
}

/// Ask the kernel to report, with every datagram, how many it has dropped on this socket
/// because its receive queue was full (`SO_RXQ_OVFL`). Best effort: without it we simply
/// do not count those drops.
fn enable_rxq_overflow_counter(socket: &Socket) {
    use std::os::fd::AsRawFd;
    let one: libc::c_int = 1;
    // SAFETY: valid fd, a pointer to a c_int and its size, as setsockopt(2) requires.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RXQ_OVFL,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        log::debug(format_args!(
            "SO_RXQ_OVFL unavailable: {}",
            io::Error::last_os_error()
        ));
    }
}

/// Room for the `SO_RXQ_OVFL` control message (one u32 payload).
// SAFETY: CMSG_SPACE is a pure computation on its argument.
pub const RXQ_OVFL_CMSG_SPACE: usize = unsafe { libc::CMSG_SPACE(4) } as usize;

/// The drop counter carried by a `SO_RXQ_OVFL` control message in `control`, if any.
pub fn rxq_overflow_from_control(control: &[u8]) -> Option<u32> {
    let hdr_len = std::mem::size_of::<libc::cmsghdr>();
    let mut off = 0usize;
    while off + hdr_len <= control.len() {
        // SAFETY: `off + hdr_len <= control.len()`, and read_unaligned has no alignment needs.
        let hdr: libc::cmsghdr = unsafe {
            control
                .as_ptr()
                .add(off)
                .cast::<libc::cmsghdr>()
                .read_unaligned()
        };
        // cmsg_len is size_t on glibc, socklen_t on musl.
        #[allow(clippy::unnecessary_cast)]
        let len = hdr.cmsg_len as usize;
        if len < hdr_len || off + len > control.len() {
            return None;
        }
        // SAFETY: CMSG_LEN is a pure computation.
        let data_off = unsafe { libc::CMSG_LEN(0) } as usize;
        if hdr.cmsg_level == libc::SOL_SOCKET
            && hdr.cmsg_type == libc::SO_RXQ_OVFL
            && len >= data_off + 4
        {
            let d = &control[off + data_off..off + data_off + 4];
            return Some(u32::from_ne_bytes([d[0], d[1], d[2], d[3]]));
        }
        // Control messages are padded to the alignment of cmsghdr (CMSG_ALIGN).
        let align = std::mem::size_of::<usize>();
        off += (len + align - 1) & !(align - 1);
    }
    None
}

/// Decode the kernel's `sockaddr` bytes (as filled in by recvmsg) into a `SocketAddr`.
pub fn sockaddr_bytes_to_std(name: &[u8]) -> Option<SocketAddr> {
    if name.len() < 2 {
        return None;
    }
    let family = u16::from_ne_bytes([name[0], name[1]]) as libc::c_int;
    match family {
        libc::AF_INET if name.len() >= std::mem::size_of::<libc::sockaddr_in>() => {
            // SAFETY: the length check above covers a whole sockaddr_in; unaligned read.
            let sin: libc::sockaddr_in =
                unsafe { name.as_ptr().cast::<libc::sockaddr_in>().read_unaligned() };
            let ip = Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr));
            Some(SocketAddr::V4(SocketAddrV4::new(
                ip,
                u16::from_be(sin.sin_port),
            )))
        }
        libc::AF_INET6 if name.len() >= std::mem::size_of::<libc::sockaddr_in6>() => {
            // SAFETY: the length check above covers a whole sockaddr_in6; unaligned read.
            let sin6: libc::sockaddr_in6 =
                unsafe { name.as_ptr().cast::<libc::sockaddr_in6>().read_unaligned() };
            let ip = Ipv6Addr::from(sin6.sin6_addr.s6_addr);
            Some(SocketAddr::V6(SocketAddrV6::new(
                ip,
                u16::from_be(sin6.sin6_port),
                sin6.sin6_flowinfo,
                sin6.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

/// Keeps the per-socket `SO_RXQ_OVFL` value last seen, to turn the kernel's running total
/// into increments.
#[derive(Debug, Default, Clone, Copy)]
pub struct OverflowTracker {
    last: u32,
}

impl OverflowTracker {
    /// New drops since the previous observation.
    pub fn observe(&mut self, total: u32) -> u64 {
        let delta = total.wrapping_sub(self.last);
        self.last = total;
        delta as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sockaddr_round_trip() {
        for a in ["127.0.0.1:5060", "[::1]:5070"] {
            let a: SocketAddr = a.parse().unwrap();
            let sa = SockAddr::from(a);
            // SAFETY: as_ptr points at `len` initialised bytes owned by `sa`.
            let bytes =
                unsafe { std::slice::from_raw_parts(sa.as_ptr().cast::<u8>(), sa.len() as usize) };
            assert_eq!(sockaddr_bytes_to_std(bytes), Some(a));
        }
        assert_eq!(sockaddr_bytes_to_std(&[0, 0, 1]), None);
    }

    #[test]
    fn reuse_port_lets_two_sockets_share_an_address() {
        let a = bind_udp("127.0.0.1:0".parse().unwrap(), SocketOptions::default()).unwrap();
        let addr = a.local_addr().unwrap();
        let b = bind_udp(addr, SocketOptions::default()).unwrap();
        assert_eq!(b.local_addr().unwrap(), addr);
    }

    #[test]
    fn overflow_tracker_counts_increments() {
        let mut t = OverflowTracker::default();
        assert_eq!(t.observe(5), 5);
        assert_eq!(t.observe(5), 0);
        assert_eq!(t.observe(7), 2);
    }
}
