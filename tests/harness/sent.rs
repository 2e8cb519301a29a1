//! A datagram the proxy under test sent, and how the protocol tests read it. Shared by the
//! harnesses in this folder (proxy, provider, auth_flow) so that every suite asserts on
//! the same helpers.
#![allow(dead_code)]

use std::net::SocketAddr;

use ringlet::sip::{self, HeaderName, Message};

pub fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// One datagram the proxy sent.
#[derive(Clone, Debug)]
pub struct Sent {
    pub dest: SocketAddr,
    pub bytes: Vec<u8>,
}

impl Sent {
    pub fn msg(&self) -> Message<'_> {
        sip::parse(&self.bytes)
            .unwrap_or_else(|e| panic!("proxy sent unparsable bytes ({e}):\n{}", self.text()))
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }
    pub fn status(&self) -> Option<u16> {
        self.msg().status()
    }
    pub fn reason(&self) -> String {
        String::from_utf8_lossy(self.msg().reason().unwrap_or(b"")).into_owned()
    }
    pub fn method(&self) -> Option<String> {
        self.msg().method().map(|m| m.to_string())
    }
    pub fn ruri(&self) -> String {
        String::from_utf8_lossy(self.msg().request_uri().unwrap_or(b"")).into_owned()
    }
    pub fn is(&self, dest: &str, what: &str) -> bool {
        self.dest == addr(dest) && self.what() == what
    }
    /// "INVITE", "ACK", "180", "200/CANCEL", ...
    pub fn what(&self) -> String {
        let m = self.msg();
        match m.status() {
            Some(code) => {
                let meth = m.cseq().map(|c| c.method.to_string()).unwrap_or_default();
                if meth == "INVITE" {
                    code.to_string()
                } else {
                    format!("{code}/{meth}")
                }
            }
            None => m.method().map(|x| x.to_string()).unwrap_or_default(),
        }
    }
    pub fn header(&self, name: HeaderName<'_>) -> Option<String> {
        self.msg()
            .header(name)
            .map(|v| String::from_utf8_lossy(v).into_owned())
    }
    /// Every line of header `name` (any case), values only.
    pub fn header_lines(&self, name: &str) -> Vec<String> {
        self.text()
            .lines()
            .filter_map(|l| {
                let (n, v) = l.split_once(':')?;
                n.trim()
                    .eq_ignore_ascii_case(name)
                    .then(|| v.trim().to_string())
            })
            .collect()
    }
}
