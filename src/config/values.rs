//! Value types of `ringlet.toml` whose TOML form is not a plain integer or string: each says
//! in its `expecting` text exactly what is allowed, because serde puts that text in the error
//! the operator reads.

use std::fmt;
use std::net::SocketAddr;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// How much the process logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

/// Which I/O backend the workers use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IoBackendChoice {
    /// io_uring when the kernel (or container) allows it, else poll; the fallback is logged.
    Auto,
    /// io_uring or refuse to start.
    Uring,
    /// recvmmsg/sendmmsg with poll(2).
    Poll,
}

/// `runtime.workers`: `"auto"` or a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkerCount {
    Auto,
    Count(u32),
}

/// `runtime.cores`: `"auto"`, `"none"` or a list of core numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CoreSet {
    /// Pin worker i to the i-th core in the process's affinity mask.
    Auto,
    /// Do not pin.
    None,
    /// Pin worker i to `list[i]`; as many workers as cores.
    List(Vec<u32>),
}

impl Serialize for WorkerCount {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            WorkerCount::Auto => s.serialize_str("auto"),
            WorkerCount::Count(n) => s.serialize_u32(*n),
        }
    }
}

impl<'de> Deserialize<'de> for WorkerCount {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = WorkerCount;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("\"auto\" or a number of workers (1..=1024)")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<WorkerCount, E> {
                match v {
                    "auto" => Ok(WorkerCount::Auto),
                    _ => Err(E::invalid_value(de::Unexpected::Str(v), &self)),
                }
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<WorkerCount, E> {
                u32::try_from(v)
                    .map(WorkerCount::Count)
                    .map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<WorkerCount, E> {
                u32::try_from(v)
                    .map(WorkerCount::Count)
                    .map_err(|_| E::invalid_value(de::Unexpected::Unsigned(v), &self))
            }
        }
        d.deserialize_any(V)
    }
}

impl Serialize for CoreSet {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            CoreSet::Auto => s.serialize_str("auto"),
            CoreSet::None => s.serialize_str("none"),
            CoreSet::List(l) => l.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for CoreSet {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = CoreSet;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("\"auto\", \"none\" or a list of core numbers like [0, 1, 2]")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<CoreSet, E> {
                match v {
                    "auto" => Ok(CoreSet::Auto),
                    "none" => Ok(CoreSet::None),
                    _ => Err(E::invalid_value(de::Unexpected::Str(v), &self)),
                }
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<CoreSet, A::Error> {
                let mut cores = Vec::new();
                while let Some(c) = seq.next_element::<u32>()? {
                    cores.push(c);
                }
                Ok(CoreSet::List(cores))
            }
        }
        d.deserialize_any(V)
    }
}

struct AddrVisitor;

impl Visitor<'_> for AddrVisitor {
    type Value = SocketAddr;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a numeric IP:port like \"127.0.0.1:5060\" or \"[::1]:5060\" (no host names)")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<SocketAddr, E> {
        v.parse()
            .map_err(|_| E::invalid_value(de::Unexpected::Str(v), &self))
    }
}

/// One socket address written as a string.
pub(crate) mod socket_addr {
    use super::*;

    pub fn serialize<S: Serializer>(a: &SocketAddr, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(a)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SocketAddr, D::Error> {
        d.deserialize_str(AddrVisitor)
    }
}

/// A list of socket addresses written as strings.
pub(crate) mod socket_addr_list {
    use super::*;

    pub fn serialize<S: Serializer>(list: &[SocketAddr], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(list.iter().map(|a| a.to_string()))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<SocketAddr>, D::Error> {
        struct Elem(SocketAddr);
        impl<'de> Deserialize<'de> for Elem {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                d.deserialize_str(AddrVisitor).map(Elem)
            }
        }
        struct ListVisitor;
        impl<'de> Visitor<'de> for ListVisitor {
            type Value = Vec<SocketAddr>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "a list of numeric IP:port strings like [\"127.0.0.1:5060\", \"[::1]:5060\"]",
                )
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<SocketAddr>, A::Error> {
                let mut out = Vec::new();
                while let Some(Elem(a)) = seq.next_element()? {
                    out.push(a);
                }
                Ok(out)
            }
        }
        d.deserialize_seq(ListVisitor)
    }
}
