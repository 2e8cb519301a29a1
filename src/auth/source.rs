//! The key under which a request source is counted by the flood and failure limits.
//!
//! IPv4 counts per address. IPv6 counts per /64: one subscriber line or host is normally
//! given a whole /64, so counting single addresses there would let one attacker rotate
//! through 2^64 of them. IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`, seen on dual-stack
//! sockets) count as the IPv4 address they carry.

use std::net::{IpAddr, Ipv6Addr};

/// A source address reduced to what the limits count by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SourceKey(IpAddr);

impl SourceKey {
    pub fn new(ip: IpAddr) -> SourceKey {
        match ip {
            IpAddr::V4(_) => SourceKey(ip),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => SourceKey(IpAddr::V4(v4)),
                None => {
                    let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                    SourceKey(IpAddr::V6(Ipv6Addr::from(prefix)))
                }
            },
        }
    }

    /// The address (for IPv6 the /64 prefix) as logged.
    pub fn ip(self) -> IpAddr {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v6_counts_per_64_and_mapped_v4_as_v4() {
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(SourceKey::new(a), SourceKey::new(b));
        assert_ne!(SourceKey::new(a), SourceKey::new(c));
        let m: IpAddr = "::ffff:127.0.0.9".parse().unwrap();
        let v4: IpAddr = "127.0.0.9".parse().unwrap();
        assert_eq!(SourceKey::new(m), SourceKey::new(v4));
        assert_eq!(SourceKey::new(v4).ip(), v4);
    }
}
