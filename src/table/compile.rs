//! Directives → [`ForwardingSnapshot`], checking every reference between lines.
//!
//! Order of checks (each needs the previous ones): domains and the international prefix;
//! subscribers (their domain exists, no duplicates, at most 64 groups); aliases and DIDs
//! (target exists, no collision with a subscriber, an alias or another DID); forwards and
//! voicemail (subscriber exists, one value per case); gateways (unique names); routes
//! (gateways exist, one route per prefix); peers (no duplicates). Every error is kept, in
//! line order, so `ringlet table check` can list them all; a reload reports the first.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::error::TableError;
use super::hash::FastMap;
use super::key::BytesKey;
use super::parse::{self, Aor, Directive, ForwardKind, Located, DEFAULT_NO_ANSWER_TIMEOUT_S};
use super::snapshot::{
    CallForward, Domain, DomainId, ForwardingSnapshot, Gateway, GatewayId, PrefixRoute, Subscriber,
    SubscriberId, TrustedPeer, MAX_GROUPS,
};

/// Parse and compile `text` (read from `file`, which only names errors). All errors, in
/// line order, on failure.
pub fn compile_text(text: &str, file: &Path) -> Result<ForwardingSnapshot, Vec<TableError>> {
    compile_files(file, &[(file.to_path_buf(), text)])
}

/// Compile several files as one table (a table folder): `root` names the table, `files`
/// are read in the order given. Errors are sorted by file, then line.
pub fn compile_files(
    root: &Path,
    files: &[(PathBuf, &str)],
) -> Result<ForwardingSnapshot, Vec<TableError>> {
    // Sized once from the line count (an upper bound): a big table would otherwise pay
    // for the vector's doubling in time and in peak memory.
    let lines: usize = files
        .iter()
        .map(|(_, t)| memchr::memchr_iter(b'\n', t.as_bytes()).count() + 1)
        .sum();
    let mut directives = Vec::with_capacity(lines);
    let mut errors = Vec::new();
    let paths: Vec<PathBuf> = files.iter().map(|(p, _)| p.clone()).collect();
    for (i, (path, text)) in files.iter().enumerate() {
        let index = u16::try_from(i).unwrap_or(u16::MAX);
        parse::parse_text(text, path, index, &mut directives, &mut errors);
    }
    let mut snap = build(&directives, &paths, &mut errors);
    if errors.is_empty() {
        snap.source = root.to_path_buf();
        snap.source_files = paths;
        Ok(snap)
    } else {
        let order = |e: &TableError| (paths.iter().position(|p| *p == e.file), e.line);
        errors.sort_by_key(order);
        Err(errors)
    }
}

fn build(
    directives: &[Located],
    files: &[PathBuf],
    errors: &mut Vec<TableError>,
) -> ForwardingSnapshot {
    let mut snap = ForwardingSnapshot::empty();
    // One pass to sort directives by kind (file order kept within a kind), so each step
    // below walks only its own lines: a big table is mostly `user` and `did` lines.
    let mut kinds: [Vec<&Located>; 8] = Default::default();
    for d in directives {
        let k = match d.directive {
            Directive::Domain(_) | Directive::InternationalPrefix(_) => 0,
            Directive::User { .. } => 1,
            Directive::Alias { .. } => 2,
            Directive::Did { .. } => 3,
            Directive::Forward { .. } | Directive::Voicemail { .. } => 4,
            Directive::Gateway { .. } => 5,
            Directive::Route { .. } => 6,
            Directive::Peer { .. } => 7,
        };
        kinds[k].push(d);
    }
    let err = |d: &Located, field: String, reason: String| {
        TableError::new(&files[usize::from(d.file)], d.line, field, reason)
    };
    // Where something was first defined, as seen from line `d`: "line 7" in the same file,
    // "other.table:7" in another.
    let at = |d: &Located, file: u16, line: u32| -> String {
        if file == d.file {
            format!("line {line}")
        } else {
            format!("{}:{line}", files[usize::from(file)].display())
        }
    };

    // 1. Domains and the international prefix.
    let mut domain_lines: Vec<(u16, u32)> = Vec::new();
    let mut intl_line = (0u16, 0u32);
    for &d in &kinds[0] {
        match &d.directive {
            Directive::Domain(names) => {
                for name in names {
                    if let Some(id) = snap.domain_index.get(name.as_bytes()) {
                        let (ff, fl) = domain_lines[id.0 as usize];
                        let first = at(d, ff, fl);
                        errors.push(err(
                            d,
                            format!("domain \"{name}\""),
                            format!("listed twice (first at {first})"),
                        ));
                        continue;
                    }
                    let id = DomainId(snap.domains.len() as u32);
                    snap.domain_index.insert(BytesKey::new(name.as_bytes()), id);
                    snap.domains.push(Domain {
                        name: name.as_str().into(),
                        users: FastMap::default(),
                        aliases: FastMap::default(),
                    });
                    domain_lines.push((d.file, d.line));
                }
            }
            Directive::InternationalPrefix(p) => {
                if snap.international_prefix.is_some() {
                    errors.push(err(
                        d,
                        "international-prefix".into(),
                        format!("given twice (first at {})", at(d, intl_line.0, intl_line.1)),
                    ));
                } else {
                    snap.international_prefix = Some(p.as_str().into());
                    intl_line = (d.file, d.line);
                }
            }
            _ => {}
        }
    }

    // 2. Subscribers.
    let mut group_index: FastMap<&str, u8> = FastMap::default();
    for &d in &kinds[1] {
        let Directive::User {
            aor,
            md5,
            sha256,
            groups,
            enabled,
        } = &d.directive
        else {
            continue;
        };
        let field = || format!("subscriber \"{aor}\"");
        let Some(dom) = snap.domain_index.get(aor.domain.as_bytes()).copied() else {
            errors.push(err(
                d,
                field(),
                format!("unknown domain \"{}\" (add a domain line)", aor.domain),
            ));
            continue;
        };
        if let Some(first) = snap.domains[dom.0 as usize].users.get(aor.user.as_bytes()) {
            let s = &snap.subscribers[first.0 as usize];
            let first = at(d, s.file, s.line);
            errors.push(err(
                d,
                field(),
                format!("duplicate subscriber (first at {first})"),
            ));
            continue;
        }
        let mut mask = 0u64;
        let mut too_many = false;
        for g in groups {
            let next = group_index.len();
            let bit = match group_index.get(g.as_str()) {
                Some(b) => *b,
                None if next < MAX_GROUPS => {
                    group_index.insert(g.as_str(), next as u8);
                    snap.group_names.push(g.as_str().into());
                    next as u8
                }
                None => {
                    too_many = true;
                    break;
                }
            };
            mask |= 1u64 << bit;
        }
        if too_many {
            errors.push(err(
                d,
                field(),
                format!("more than {MAX_GROUPS} distinct groups in the table"),
            ));
            continue;
        }
        let id = SubscriberId(snap.subscribers.len() as u32);
        snap.domains[dom.0 as usize]
            .users
            .insert(BytesKey::new(aor.user.as_bytes()), id);
        snap.subscribers.push(Subscriber {
            id,
            user: aor.user.as_str().into(),
            domain: dom,
            enabled: *enabled,
            ha1_md5: *md5,
            ha1_sha256: *sha256,
            groups: mask,
            forward: None,
            voicemail: None,
            line: d.line,
            file: d.file,
        });
    }

    let find = |snap: &ForwardingSnapshot, aor: &Aor| -> Result<SubscriberId, String> {
        let Some(dom) = snap.domain_index.get(aor.domain.as_bytes()) else {
            return Err(format!("\"{aor}\": unknown domain \"{}\"", aor.domain));
        };
        snap.domains[dom.0 as usize]
            .users
            .get(aor.user.as_bytes())
            .copied()
            .ok_or_else(|| format!("\"{aor}\" is not a subscriber"))
    };

    // 3. Aliases, then DIDs (which hold in every local domain).
    let mut alias_lines: FastMap<(u32, &str), (u16, u32)> = FastMap::default();
    let mut accepted_aliases: Vec<(u32, &str, u16, u32)> = Vec::new();
    for &d in &kinds[2] {
        let Directive::Alias { alias, target } = &d.directive else {
            continue;
        };
        let field = || format!("alias \"{alias}\"");
        let Some(dom) = snap.domain_index.get(alias.domain.as_bytes()).copied() else {
            errors.push(err(
                d,
                field(),
                format!("unknown domain \"{}\"", alias.domain),
            ));
            continue;
        };
        let target_id = match find(&snap, target) {
            Ok(id) => id,
            Err(r) => {
                errors.push(err(d, field(), format!("target {r}")));
                continue;
            }
        };
        let domain = &mut snap.domains[dom.0 as usize];
        if let Some(s) = domain.users.get(alias.user.as_bytes()) {
            let s = &snap.subscribers[s.0 as usize];
            let line = at(d, s.file, s.line);
            errors.push(err(
                d,
                field(),
                format!("collides with the subscriber at {line}"),
            ));
            continue;
        }
        let key = (dom.0, alias.user.as_str());
        if let Some(&(ff, fl)) = alias_lines.get(&key) {
            let first = at(d, ff, fl);
            errors.push(err(
                d,
                field(),
                format!("duplicate alias (first at {first})"),
            ));
            continue;
        }
        alias_lines.insert(key, (d.file, d.line));
        accepted_aliases.push((dom.0, alias.user.as_str(), d.file, d.line));
        domain
            .aliases
            .insert(BytesKey::new(alias.user.as_bytes()), target_id);
    }
    // Every subscriber and alias user name, for the DID collision check (built only when
    // there are DIDs; first definition wins).
    enum Name {
        Subscriber(SubscriberId),
        Alias(u32, u16, u32),
    }
    let mut names: FastMap<&[u8], Name> = FastMap::default();
    if !kinds[3].is_empty() {
        names.reserve(snap.subscribers.len() + accepted_aliases.len());
        for s in &snap.subscribers {
            names
                .entry(s.user.as_bytes())
                .or_insert(Name::Subscriber(s.id));
        }
        for &(dom, user, f, l) in &accepted_aliases {
            names
                .entry(user.as_bytes())
                .or_insert(Name::Alias(dom, f, l));
        }
    }
    let mut did_lines: FastMap<&str, (u16, u32)> = FastMap::default();
    for &d in &kinds[3] {
        let Directive::Did { number, target } = &d.directive else {
            continue;
        };
        let field = || format!("did \"{number}\"");
        let target_id = match find(&snap, target) {
            Ok(id) => id,
            Err(r) => {
                errors.push(err(d, field(), format!("target {r}")));
                continue;
            }
        };
        if let Some(&(ff, fl)) = did_lines.get(number.as_str()) {
            let first = at(d, ff, fl);
            errors.push(err(d, field(), format!("duplicate DID (first at {first})")));
            continue;
        }
        // A DID answers in every local domain, so it must not shadow (or be shadowed by)
        // a subscriber or alias of any of them.
        let clash = names.get(number.as_bytes()).map(|n| match *n {
            Name::Subscriber(id) => {
                let s = &snap.subscribers[id.0 as usize];
                format!(
                    "collides with subscriber \"{number}@{}\" ({})",
                    snap.domains[s.domain.0 as usize].name,
                    at(d, s.file, s.line)
                )
            }
            Name::Alias(dom, f, l) => format!(
                "collides with alias \"{number}@{}\" ({})",
                snap.domains[dom as usize].name,
                at(d, f, l)
            ),
        });
        if let Some(reason) = clash {
            errors.push(err(d, field(), reason));
            continue;
        }
        did_lines.insert(number.as_str(), (d.file, d.line));
        snap.dids
            .insert(BytesKey::new(number.as_bytes()), target_id);
    }

    // 4. Call forwarding and voicemail.
    let mut forward_lines: FastMap<(u32, &'static str), (u16, u32)> = FastMap::default();
    let mut voicemail_lines: HashMap<Option<u32>, (u16, u32)> = HashMap::new();
    for &d in &kinds[4] {
        match &d.directive {
            Directive::Forward {
                target,
                kind,
                uri,
                timeout,
            } => {
                let field = || format!("forward for \"{target}\"");
                let id = match find(&snap, target) {
                    Ok(id) => id,
                    Err(r) => {
                        errors.push(err(d, field(), r));
                        continue;
                    }
                };
                if let Some(&(ff, fl)) = forward_lines.get(&(id.0, kind.keyword())) {
                    let first = at(d, ff, fl);
                    errors.push(err(
                        d,
                        field(),
                        format!("{} given twice (first at {first})", kind.keyword()),
                    ));
                    continue;
                }
                forward_lines.insert((id.0, kind.keyword()), (d.file, d.line));
                let fwd = snap.subscribers[id.0 as usize]
                    .forward
                    .get_or_insert_with(|| {
                        Box::new(CallForward {
                            no_answer_timeout_s: DEFAULT_NO_ANSWER_TIMEOUT_S,
                            ..CallForward::default()
                        })
                    });
                let slot = match kind {
                    ForwardKind::Always => &mut fwd.always,
                    ForwardKind::Busy => &mut fwd.busy,
                    ForwardKind::NoAnswer => &mut fwd.no_answer,
                    ForwardKind::Unavailable => &mut fwd.unavailable,
                };
                *slot = Some(uri.as_str().into());
                if let Some(t) = timeout {
                    fwd.no_answer_timeout_s = *t;
                }
            }
            Directive::Voicemail { target, uri } => {
                let (key, field) = match target {
                    None => (None, "voicemail default".to_string()),
                    Some(aor) => match find(&snap, aor) {
                        Ok(id) => (Some(id.0), format!("voicemail for \"{aor}\"")),
                        Err(r) => {
                            errors.push(err(d, format!("voicemail for \"{aor}\""), r));
                            continue;
                        }
                    },
                };
                if let Some(&(ff, fl)) = voicemail_lines.get(&key) {
                    let first = at(d, ff, fl);
                    errors.push(err(d, field, format!("given twice (first at {first})")));
                    continue;
                }
                voicemail_lines.insert(key, (d.file, d.line));
                match key {
                    None => snap.default_voicemail = Some(uri.as_str().into()),
                    Some(i) => snap.subscribers[i as usize].voicemail = Some(uri.as_str().into()),
                }
            }
            _ => {}
        }
    }

    // 5. Gateways, then the routes that name them.
    let mut gateway_index: HashMap<&str, GatewayId> = HashMap::new();
    for &d in &kinds[5] {
        let Directive::Gateway {
            name,
            host,
            port,
            transport,
            strip,
            prefix,
        } = &d.directive
        else {
            continue;
        };
        if let Some(g) = gateway_index.get(name.as_str()) {
            let g = &snap.gateways[g.0 as usize];
            let first = at(d, g.file, g.line);
            errors.push(err(
                d,
                format!("gateway \"{name}\""),
                format!("duplicate gateway name (first at {first})"),
            ));
            continue;
        }
        let id = GatewayId(snap.gateways.len() as u32);
        gateway_index.insert(name, id);
        snap.gateways.push(Gateway {
            id,
            name: name.as_str().into(),
            host: host.as_str().into(),
            port: *port,
            transport: *transport,
            strip: *strip,
            prefix: prefix.as_str().into(),
            line: d.line,
            file: d.file,
        });
    }
    for &d in &kinds[6] {
        let Directive::Route { prefix, gateways } = &d.directive else {
            continue;
        };
        let shown = if prefix.is_empty() { "*" } else { prefix };
        let field = || format!("route \"{shown}\"");
        let mut ids = Vec::with_capacity(gateways.len());
        for g in gateways {
            match gateway_index.get(g.as_str()) {
                Some(id) => ids.push(*id),
                None => errors.push(err(
                    d,
                    field(),
                    format!("gateway \"{g}\" is not defined (add a gateway line)"),
                )),
            }
        }
        if ids.len() != gateways.len() {
            continue;
        }
        let index = snap.routes.len() as u32;
        if let Err(existing) = snap.trie.insert(prefix.as_bytes(), index) {
            let r = &snap.routes[existing as usize];
            let first = at(d, r.file, r.line);
            errors.push(err(
                d,
                field(),
                format!("duplicate prefix (first at {first})"),
            ));
            continue;
        }
        snap.routes.push(PrefixRoute {
            prefix: prefix.as_str().into(),
            gateways: ids.into(),
            line: d.line,
            file: d.file,
        });
    }

    // 6. Trusted peers.
    for &d in &kinds[7] {
        let Directive::Peer {
            ip,
            port,
            transport,
            name,
        } = &d.directive
        else {
            continue;
        };
        let entry = snap.peer_index.entry(*ip).or_default();
        if let Some(&dup) = entry.iter().find(|&&i| {
            let p = &snap.peers[i as usize];
            p.port == *port && p.transport == *transport
        }) {
            let p = &snap.peers[dup as usize];
            let first = at(d, p.file, p.line);
            errors.push(err(
                d,
                format!("peer \"{ip}\""),
                format!("duplicate peer (first at {first})"),
            ));
            continue;
        }
        entry.push(snap.peers.len() as u32);
        snap.peers.push(TrustedPeer {
            ip: *ip,
            port: *port,
            transport: *transport,
            name: name.as_deref().map(Into::into),
            line: d.line,
            file: d.file,
        });
    }

    snap
}
