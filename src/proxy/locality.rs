//! "Is this URI us?" and "where does this URI go?", without DNS.
//!
//! A URI names this proxy when its host is one of our hostnames or listen addresses and its
//! port (if given) is one of our listen ports. The next hop of a URI is its host and port
//! when the host is a numeric address; a host name cannot be resolved here (Ringlet does no
//! DNS on the hot path) and is reported as [`NextHopError::HostName`], which the proxy
//! answers with 502 and a reason that says so.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use crate::sip::{Host, Scheme, Uri};

use super::ProxyConfig;

/// RFC 3261 §19.1.2: the default port of sip: URIs.
pub const SIP_DEFAULT_PORT: u16 = 5060;
/// RFC 3261 §19.1.2: the default port of sips: URIs.
pub const SIPS_DEFAULT_PORT: u16 = 5061;

/// Why a URI has no next hop we can send to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextHopError {
    /// Not a sip:/sips: URI (tel:, or something else).
    Scheme,
    /// The host is a name, and we do no DNS.
    HostName,
    /// The host is missing or malformed.
    BadHost,
}

/// The proxy's idea of itself: listen addresses and names.
#[derive(Debug, Clone)]
pub struct Locality {
    addrs: Vec<SocketAddr>,
    names: Vec<String>,
}

impl Locality {
    pub fn new(cfg: &ProxyConfig) -> Self {
        Locality {
            addrs: cfg.listen.clone(),
            names: cfg
                .hostnames
                .iter()
                .map(|n| n.to_ascii_lowercase())
                .collect(),
        }
    }

    fn port_is_ours(&self, port: Option<u16>, default: u16) -> bool {
        let p = port.unwrap_or(default);
        self.addrs.iter().any(|a| a.port() == p)
    }

    /// True when `uri` names this proxy.
    pub fn is_ours(&self, uri: &Uri<'_>) -> bool {
        let default = match uri.scheme {
            Scheme::Sip => SIP_DEFAULT_PORT,
            Scheme::Sips => SIPS_DEFAULT_PORT,
            _ => return false,
        };
        match host_ip(uri.host) {
            Some(ip) => {
                let p = uri.port.unwrap_or(default);
                self.addrs.iter().any(|a| a.ip() == ip && a.port() == p)
            }
            None => match uri.host {
                Host::Name(n) => {
                    self.names
                        .iter()
                        .any(|ours| ours.as_bytes().eq_ignore_ascii_case(n))
                        && (uri.port.is_none() || self.port_is_ours(uri.port, default))
                }
                _ => false,
            },
        }
    }

    /// True when a Via sent-by (`host`, `port`) names this proxy.
    pub fn is_our_sent_by(&self, host: &[u8], port: Option<u16>) -> bool {
        match Host::parse(host).and_then(host_ip) {
            Some(ip) => {
                let p = port.unwrap_or(SIP_DEFAULT_PORT);
                self.addrs.iter().any(|a| a.ip() == ip && a.port() == p)
            }
            None => false,
        }
    }
}

/// The IP address of a numeric host.
pub fn host_ip(h: Host<'_>) -> Option<IpAddr> {
    match h {
        Host::Ipv4(v4) => Some(IpAddr::V4(v4)),
        Host::Ipv6(text) => std::str::from_utf8(text)
            .ok()?
            .parse::<Ipv6Addr>()
            .ok()
            .map(IpAddr::V6),
        _ => None,
    }
}

/// Where a request for `uri` is sent (RFC 3261 §16.6 step 7 without the DNS of RFC 3263):
/// the `maddr` parameter is ignored (no multicast), the port defaults by scheme.
pub fn next_hop(uri: &Uri<'_>) -> Result<SocketAddr, NextHopError> {
    let default = match uri.scheme {
        Scheme::Sip => SIP_DEFAULT_PORT,
        Scheme::Sips => SIPS_DEFAULT_PORT,
        _ => return Err(NextHopError::Scheme),
    };
    match uri.host {
        Host::Name(_) => Err(NextHopError::HostName),
        h => host_ip(h)
            .map(|ip| SocketAddr::new(ip, uri.port.unwrap_or(default)))
            .ok_or(NextHopError::BadHost),
    }
}
