//! The compiled, immutable forwarding table every worker reads.
//!
//! ```text
//!   domain_index: "example.com" ─► DomainId(0) ──► domains[0] ─┬─ users:   b"alice" ─► SubscriberId(0)
//!   (lowercase keys)                                          └─ aliases: b"4930123" ─► SubscriberId(0)
//!   dids:        b"+4930123456" ─► SubscriberId(1)      (any local domain)
//!   subscribers: [Subscriber{id 0, ...}, Subscriber{id 1, ...}]   (SubscriberId = index)
//!   trie:        digits ─► routes[i] ─► [GatewayId] ─► gateways[g]
//!   peers:       IpAddr ─► [peer index]  (exact port first, then any port)
//! ```
//!
//! Invariants (established by `compile`, never broken afterwards since nothing mutates a
//! snapshot): every id stored anywhere indexes its vector; domain keys are lowercase; user,
//! alias and DID keys are byte-exact (the user part of a SIP URI is case-sensitive,
//! RFC 3261 §19.1.4); an alias never equals a subscriber of the same domain, and a DID never
//! equals a subscriber or alias user of a local domain, so a name resolves to one subscriber.
//!
//! Lookups take the user and host as byte slices straight from a parsed URI and allocate
//! nothing: the host is lowercased into a stack buffer (a DNS name is at most 253 bytes).

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use super::hash::FastMap;
use super::key::BytesKey;
use super::trie::DigitTrie;
use super::Transport;

/// Index of a subscriber in its snapshot. Valid only for the snapshot that produced it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SubscriberId(pub u32);

/// Index of a local domain in its snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DomainId(pub u32);

/// Index of a PSTN gateway in its snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GatewayId(pub u32);

/// A group (`pstn`, `international`, ...), one bit of a subscriber's group mask.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GroupId(pub(crate) u8);

/// At most this many distinct groups per table (one bit each in a `u64`).
pub const MAX_GROUPS: usize = 64;

/// One subscriber: credentials, state, groups and call handling.
#[derive(Debug, Clone)]
pub struct Subscriber {
    pub id: SubscriberId,
    /// User part, byte-exact as in the file.
    pub user: Box<str>,
    pub domain: DomainId,
    /// A disabled subscriber keeps its record (so its aliases stay valid) but must be
    /// refused by authentication (OpenSIPS operators delete or flag; we flag).
    pub enabled: bool,
    /// `MD5(user ":" realm ":" password)`, lowercase hex; realm = the domain.
    pub ha1_md5: Option<[u8; 32]>,
    /// `SHA-256(user ":" realm ":" password)`, lowercase hex (RFC 7616, RFC 8760).
    pub ha1_sha256: Option<[u8; 64]>,
    pub(crate) groups: u64,
    pub(crate) forward: Option<Box<CallForward>>,
    pub(crate) voicemail: Option<Box<str>>,
    /// Line of the `user` directive, for messages.
    pub line: u32,
    /// Index of its file in [`ForwardingSnapshot::source_files`].
    pub file: u16,
}

impl Subscriber {
    /// Member of `group`?
    #[inline]
    pub fn in_group(&self, group: GroupId) -> bool {
        self.groups & (1u64 << group.0) != 0
    }

    /// Call-forward settings, if the file gave any.
    pub fn forward(&self) -> Option<&CallForward> {
        self.forward.as_deref()
    }
}

/// Per-subscriber call forwarding. Each target is a URI checked at load time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallForward {
    /// Unconditional: rewrite the request URI before the location lookup.
    pub always: Option<Box<str>>,
    /// On 486 Busy Here (failure route; never after 487).
    pub busy: Option<Box<str>>,
    /// When nobody answers within `no_answer_timeout_s` (408 / the INVITE timer).
    pub no_answer: Option<Box<str>>,
    /// When the subscriber has no registration or answers 480.
    pub unavailable: Option<Box<str>>,
    /// Seconds to ring before the no-answer forward (OpenSIPS `fr_inv_timer`).
    pub no_answer_timeout_s: u32,
}

/// A peer trusted by source address (permissions `check_source_address`): gateways and
/// carriers that cannot answer a digest challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedPeer {
    pub ip: IpAddr,
    /// `None`: any source port.
    pub port: Option<u16>,
    /// `None`: any transport.
    pub transport: Option<Transport>,
    pub name: Option<Box<str>>,
    pub line: u32,
    pub file: u16,
}

/// A PSTN gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gateway {
    pub id: GatewayId,
    pub name: Box<str>,
    /// Lowercase host name or IP address (`[v6]` bracketed).
    pub host: Box<str>,
    pub port: u16,
    pub transport: Option<Transport>,
    /// Leading digits removed from the dialled number before sending to this gateway.
    pub strip: u8,
    /// Digits put in front of the number after stripping (technical prefix).
    pub prefix: Box<str>,
    pub line: u32,
    pub file: u16,
}

impl Gateway {
    /// The number as this gateway wants it: strip leading digits, then add the prefix.
    /// Writes into `out` (cleared first) so the caller controls the allocation.
    pub fn rewrite_number(&self, digits: &[u8], out: &mut Vec<u8>) {
        out.clear();
        out.extend_from_slice(self.prefix.as_bytes());
        let strip = usize::from(self.strip).min(digits.len());
        out.extend_from_slice(&digits[strip..]);
    }
}

/// Prefix → gateways in order of preference (the next one is tried on failure).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrefixRoute {
    /// Digits; empty for the catch-all route `*`.
    pub prefix: Box<str>,
    pub gateways: Box<[GatewayId]>,
    pub line: u32,
    pub file: u16,
}

/// How a (user, domain) pair named a subscriber.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResolvedVia {
    Subscriber,
    Alias,
    Did,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resolved {
    pub id: SubscriberId,
    pub via: ResolvedVia,
}

/// Sizes of a snapshot, for `ringlet table check` and reload log lines.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TableCounts {
    pub domains: usize,
    pub subscribers: usize,
    pub aliases: usize,
    pub dids: usize,
    pub forwards: usize,
    pub peers: usize,
    pub gateways: usize,
    pub routes: usize,
    pub groups: usize,
}

impl std::fmt::Display for TableCounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} domains, {} subscribers, {} aliases, {} DIDs, {} forwards, {} peers, {} gateways, {} routes",
            self.domains,
            self.subscribers,
            self.aliases,
            self.dids,
            self.forwards,
            self.peers,
            self.gateways,
            self.routes
        )
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Domain {
    pub(crate) name: Box<str>,
    pub(crate) users: FastMap<BytesKey, SubscriberId>,
    pub(crate) aliases: FastMap<BytesKey, SubscriberId>,
}

/// The immutable forwarding table. Built by [`ForwardingSnapshot::parse`] /
/// [`ForwardingSnapshot::from_file`] / [`ForwardingSnapshot::demo`], shared through
/// [`super::TableHandle`].
#[derive(Debug, Clone)]
pub struct ForwardingSnapshot {
    pub(crate) source: PathBuf,
    pub(crate) source_files: Vec<PathBuf>,
    pub(crate) domains: Vec<Domain>,
    pub(crate) domain_index: FastMap<BytesKey, DomainId>,
    pub(crate) subscribers: Vec<Subscriber>,
    pub(crate) dids: FastMap<BytesKey, SubscriberId>,
    pub(crate) group_names: Vec<Box<str>>,
    pub(crate) peers: Vec<TrustedPeer>,
    pub(crate) peer_index: FastMap<IpAddr, Vec<u32>>,
    pub(crate) gateways: Vec<Gateway>,
    pub(crate) routes: Vec<PrefixRoute>,
    pub(crate) trie: DigitTrie,
    pub(crate) international_prefix: Option<Box<str>>,
    pub(crate) default_voicemail: Option<Box<str>>,
    pub(crate) demo: bool,
    /// The version of the source file read (taken just before reading it), for the watcher.
    pub(crate) source_identity: Option<super::source::SourceIdentity>,
}

/// Longest host we look up; longer is not a DNS name (RFC 1035 §2.3.4) nor an IP literal.
const MAX_HOST: usize = 255;

impl ForwardingSnapshot {
    /// A table that serves nothing (what a process holds before its first load).
    pub fn empty() -> Self {
        ForwardingSnapshot {
            source: PathBuf::from("(empty)"),
            source_files: Vec::new(),
            domains: Vec::new(),
            domain_index: FastMap::default(),
            subscribers: Vec::new(),
            dids: FastMap::default(),
            group_names: Vec::new(),
            peers: Vec::new(),
            peer_index: FastMap::default(),
            gateways: Vec::new(),
            routes: Vec::new(),
            trie: DigitTrie::default(),
            international_prefix: None,
            default_voicemail: None,
            demo: false,
            source_identity: None,
        }
    }

    /// The file or folder this snapshot was compiled from.
    pub fn source(&self) -> &Path {
        &self.source
    }

    /// The files it was compiled from, in reading order (one, unless the table is a
    /// folder). Records' `file` fields index this.
    pub fn source_files(&self) -> &[PathBuf] {
        &self.source_files
    }

    /// True for the embedded demo table, whose passwords are public: the runtime must not
    /// listen beyond loopback with it.
    pub fn is_demo(&self) -> bool {
        self.demo
    }

    /// Which local domain is `host` (any case)? `None` if we do not serve it.
    #[inline]
    pub fn domain_id(&self, host: &[u8]) -> Option<DomainId> {
        if host.len() > MAX_HOST || host.is_empty() {
            return None;
        }
        let mut buf = [0u8; MAX_HOST];
        let lower = &mut buf[..host.len()];
        lower.copy_from_slice(host);
        lower.make_ascii_lowercase();
        self.domain_index.get(&*lower).copied()
    }

    /// OpenSIPS `is_uri_host_local` / `uri==myself` for a host.
    #[inline]
    pub fn is_local_domain(&self, host: &[u8]) -> bool {
        self.domain_id(host).is_some()
    }

    /// The name of a local domain (lowercase).
    pub fn domain_name(&self, id: DomainId) -> Option<&str> {
        self.domains.get(id.0 as usize).map(|d| &*d.name)
    }

    /// All local domains (lowercase), in file order.
    pub fn domains(&self) -> impl Iterator<Item = &str> {
        self.domains.iter().map(|d| &*d.name)
    }

    /// The subscriber `user@host` (user byte-exact, host any case); aliases not consulted.
    #[inline]
    pub fn subscriber(&self, user: &[u8], host: &[u8]) -> Option<&Subscriber> {
        let d = self.domain_id(host)?;
        let id = self.domains[d.0 as usize].users.get(user)?;
        self.subscribers.get(id.0 as usize)
    }

    /// A subscriber by id.
    #[inline]
    pub fn subscriber_by_id(&self, id: SubscriberId) -> Option<&Subscriber> {
        self.subscribers.get(id.0 as usize)
    }

    /// All subscribers, by id.
    pub fn subscribers(&self) -> &[Subscriber] {
        &self.subscribers
    }

    /// OpenSIPS `alias_db_lookup`: an alias of `host`'s domain, else a DID (DIDs hold for
    /// every local domain). Subscribers themselves are not consulted: see [`Self::resolve`].
    #[inline]
    pub fn resolve_alias(&self, user: &[u8], host: &[u8]) -> Option<SubscriberId> {
        let d = self.domain_id(host)?;
        self.alias_in(d, user)
    }

    #[inline]
    fn alias_in(&self, d: DomainId, user: &[u8]) -> Option<SubscriberId> {
        if let Some(id) = self.domains[d.0 as usize].aliases.get(user) {
            return Some(*id);
        }
        self.dids.get(user).copied()
    }

    /// The subscriber a request URI names: itself, an alias, or a DID.
    #[inline]
    pub fn resolve(&self, user: &[u8], host: &[u8]) -> Option<Resolved> {
        let d = self.domain_id(host)?;
        let dom = &self.domains[d.0 as usize];
        if let Some(id) = dom.users.get(user) {
            return Some(Resolved {
                id: *id,
                via: ResolvedVia::Subscriber,
            });
        }
        if let Some(id) = dom.aliases.get(user) {
            return Some(Resolved {
                id: *id,
                via: ResolvedVia::Alias,
            });
        }
        self.dids.get(user).map(|id| Resolved {
            id: *id,
            via: ResolvedVia::Did,
        })
    }

    /// A group by name (`pstn`, `international`). `None` if no subscriber is in it.
    pub fn group(&self, name: &str) -> Option<GroupId> {
        self.group_names
            .iter()
            .position(|g| &**g == name)
            .map(|i| GroupId(i as u8))
    }

    /// OpenSIPS `is_user_in`.
    pub fn is_in_group(&self, id: SubscriberId, name: &str) -> bool {
        match (self.subscriber_by_id(id), self.group(name)) {
            (Some(s), Some(g)) => s.in_group(g),
            _ => false,
        }
    }

    /// Names of the groups `id` belongs to.
    pub fn groups_of(&self, id: SubscriberId) -> impl Iterator<Item = &str> {
        let mask = self.subscriber_by_id(id).map_or(0, |s| s.groups);
        self.group_names
            .iter()
            .enumerate()
            .filter(move |(i, _)| mask & (1u64 << i) != 0)
            .map(|(_, n)| &**n)
    }

    /// Call-forward settings of a subscriber.
    pub fn forward(&self, id: SubscriberId) -> Option<&CallForward> {
        self.subscriber_by_id(id)?.forward.as_deref()
    }

    /// The voicemail URI of a subscriber: its own, else the table's default.
    pub fn voicemail(&self, id: SubscriberId) -> Option<&str> {
        self.subscriber_by_id(id)
            .and_then(|s| s.voicemail.as_deref())
            .or(self.default_voicemail.as_deref())
    }

    /// The table's default voicemail URI.
    pub fn default_voicemail(&self) -> Option<&str> {
        self.default_voicemail.as_deref()
    }

    /// OpenSIPS `check_source_address`: the trusted peer matching a source address. A peer
    /// with this exact port wins over one that allows any port. The caller checks
    /// [`TrustedPeer::transport`] against the transport the request came on.
    #[inline]
    pub fn trusted_peer(&self, ip: IpAddr, port: u16) -> Option<&TrustedPeer> {
        let candidates = self.peer_index.get(&ip)?;
        let mut any_port = None;
        for &i in candidates {
            let p = &self.peers[i as usize];
            match p.port {
                Some(pp) if pp == port => return Some(p),
                None if any_port.is_none() => any_port = Some(p),
                _ => {}
            }
        }
        any_port
    }

    /// All trusted peers, in file order.
    pub fn peers(&self) -> &[TrustedPeer] {
        &self.peers
    }

    /// Longest-prefix route for a dialled number (digits; matching stops at the first
    /// non-digit). Normalising `+` to the international prefix is the caller's job.
    #[inline]
    pub fn route_for_number(&self, digits: &[u8]) -> Option<&PrefixRoute> {
        self.trie
            .longest_match(digits)
            .and_then(|i| self.routes.get(i as usize))
    }

    /// All routes, in file order.
    pub fn routes(&self) -> &[PrefixRoute] {
        &self.routes
    }

    /// A gateway by id.
    #[inline]
    pub fn gateway(&self, id: GatewayId) -> Option<&Gateway> {
        self.gateways.get(id.0 as usize)
    }

    /// A gateway by name.
    pub fn gateway_by_name(&self, name: &str) -> Option<&Gateway> {
        self.gateways.iter().find(|g| &*g.name == name)
    }

    /// All gateways, in file order.
    pub fn gateways(&self) -> &[Gateway] {
        &self.gateways
    }

    /// The digits that start an international number (`00` in most of the world).
    pub fn international_prefix(&self) -> Option<&str> {
        self.international_prefix.as_deref()
    }

    /// Is this dialled number international (leading `+` or the international prefix)?
    /// Gate such calls with the `international` group.
    pub fn is_international(&self, digits: &[u8]) -> bool {
        digits.first() == Some(&b'+')
            || self
                .international_prefix
                .as_deref()
                .is_some_and(|p| digits.starts_with(p.as_bytes()))
    }

    /// Sizes, for summaries and log lines.
    pub fn counts(&self) -> TableCounts {
        TableCounts {
            domains: self.domains.len(),
            subscribers: self.subscribers.len(),
            aliases: self.domains.iter().map(|d| d.aliases.len()).sum(),
            dids: self.dids.len(),
            forwards: self
                .subscribers
                .iter()
                .filter(|s| s.forward.is_some())
                .count(),
            peers: self.peers.len(),
            gateways: self.gateways.len(),
            routes: self.routes.len(),
            groups: self.group_names.len(),
        }
    }
}
