//! Directives → [`ForwardingSnapshot`], checking every reference between lines.
//!
//! Order of checks (each needs the previous ones): domains and the international prefix;
//! subscribers (their domain exists, no duplicates, at most 64 groups); aliases and DIDs
//! (target exists, no collision with a subscriber, an alias or another DID); forwards and
//! voicemail (subscriber exists, one value per case); gateways (unique names); routes
//! (gateways exist, one route per prefix); peers (no duplicates). Every error is kept, in
//! line order, so `ringlet table check` can list them all; a reload reports the first.

use std::collections::HashMap;
use std::path::Path;

use super::error::TableError;
use super::hash::FastMap;
use super::parse::{self, Aor, Directive, ForwardKind, Located, DEFAULT_NO_ANSWER_TIMEOUT_S};
use super::snapshot::{
    CallForward, Domain, DomainId, ForwardingSnapshot, Gateway, GatewayId, PrefixRoute, Subscriber,
    SubscriberId, TrustedPeer, MAX_GROUPS,
};

/// Parse and compile `text` (read from `file`, which only names errors). All errors, in
/// line order, on failure.
pub fn compile_text(text: &str, file: &Path) -> Result<ForwardingSnapshot, Vec<TableError>> {
    let (directives, mut errors) = parse::parse_text(text, file);
    let snap = build(&directives, file, &mut errors);
    if errors.is_empty() {
        Ok(snap)
    } else {
        errors.sort_by_key(|e| e.line);
        Err(errors)
    }
}

fn build(directives: &[Located], file: &Path, errors: &mut Vec<TableError>) -> ForwardingSnapshot {
    let mut snap = ForwardingSnapshot::empty();
    snap.source = file.to_path_buf();
    let err = |line: u32, field: String, reason: String| TableError::new(file, line, field, reason);

    // 1. Domains and the international prefix.
    let mut domain_lines: Vec<u32> = Vec::new();
    let mut intl_line = 0u32;
    for d in directives {
        match &d.directive {
            Directive::Domain(names) => {
                for name in names {
                    if let Some(id) = snap.domain_index.get(name.as_bytes()) {
                        let first = domain_lines[id.0 as usize];
                        errors.push(err(
                            d.line,
                            format!("domain \"{name}\""),
                            format!("listed twice (first at line {first})"),
                        ));
                        continue;
                    }
                    let id = DomainId(snap.domains.len() as u32);
                    snap.domain_index.insert(name.as_bytes().into(), id);
                    snap.domains.push(Domain {
                        name: name.as_str().into(),
                        users: FastMap::default(),
                        aliases: FastMap::default(),
                    });
                    domain_lines.push(d.line);
                }
            }
            Directive::InternationalPrefix(p) => {
                if snap.international_prefix.is_some() {
                    errors.push(err(
                        d.line,
                        "international-prefix".into(),
                        format!("given twice (first at line {intl_line})"),
                    ));
                } else {
                    snap.international_prefix = Some(p.as_str().into());
                    intl_line = d.line;
                }
            }
            _ => {}
        }
    }

    // 2. Subscribers.
    let mut group_index: HashMap<String, u8> = HashMap::new();
    for d in directives {
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
        let field = format!("subscriber \"{aor}\"");
        let Some(dom) = snap.domain_index.get(aor.domain.as_bytes()).copied() else {
            errors.push(err(
                d.line,
                field,
                format!("unknown domain \"{}\" (add a domain line)", aor.domain),
            ));
            continue;
        };
        if let Some(first) = snap.domains[dom.0 as usize].users.get(aor.user.as_bytes()) {
            let first = snap.subscribers[first.0 as usize].line;
            errors.push(err(
                d.line,
                field,
                format!("duplicate subscriber (first at line {first})"),
            ));
            continue;
        }
        let mut mask = 0u64;
        let mut too_many = false;
        for g in groups {
            let next = group_index.len();
            let bit = match group_index.get(g) {
                Some(b) => *b,
                None if next < MAX_GROUPS => {
                    group_index.insert(g.clone(), next as u8);
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
                d.line,
                field,
                format!("more than {MAX_GROUPS} distinct groups in the table"),
            ));
            continue;
        }
        let id = SubscriberId(snap.subscribers.len() as u32);
        snap.domains[dom.0 as usize]
            .users
            .insert(aor.user.as_bytes().into(), id);
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
    let mut alias_lines: HashMap<(u32, String), u32> = HashMap::new();
    for d in directives {
        let Directive::Alias { alias, target } = &d.directive else {
            continue;
        };
        let field = format!("alias \"{alias}\"");
        let Some(dom) = snap.domain_index.get(alias.domain.as_bytes()).copied() else {
            errors.push(err(
                d.line,
                field,
                format!("unknown domain \"{}\"", alias.domain),
            ));
            continue;
        };
        let target_id = match find(&snap, target) {
            Ok(id) => id,
            Err(r) => {
                errors.push(err(d.line, field, format!("target {r}")));
                continue;
            }
        };
        let domain = &mut snap.domains[dom.0 as usize];
        if let Some(s) = domain.users.get(alias.user.as_bytes()) {
            let line = snap.subscribers[s.0 as usize].line;
            errors.push(err(
                d.line,
                field,
                format!("collides with the subscriber at line {line}"),
            ));
            continue;
        }
        let key = (dom.0, alias.user.clone());
        if let Some(first) = alias_lines.get(&key) {
            errors.push(err(
                d.line,
                field,
                format!("duplicate alias (first at line {first})"),
            ));
            continue;
        }
        alias_lines.insert(key, d.line);
        domain
            .aliases
            .insert(alias.user.as_bytes().into(), target_id);
    }
    let mut did_lines: HashMap<String, u32> = HashMap::new();
    for d in directives {
        let Directive::Did { number, target } = &d.directive else {
            continue;
        };
        let field = format!("did \"{number}\"");
        let target_id = match find(&snap, target) {
            Ok(id) => id,
            Err(r) => {
                errors.push(err(d.line, field, format!("target {r}")));
                continue;
            }
        };
        if let Some(first) = did_lines.get(number) {
            errors.push(err(
                d.line,
                field,
                format!("duplicate DID (first at line {first})"),
            ));
            continue;
        }
        // A DID answers in every local domain, so it must not shadow (or be shadowed by)
        // a subscriber or alias of any of them.
        let mut clash = None;
        for (di, dom) in snap.domains.iter().enumerate() {
            if let Some(s) = dom.users.get(number.as_bytes()) {
                clash = Some(format!(
                    "collides with subscriber \"{number}@{}\" (line {})",
                    dom.name, snap.subscribers[s.0 as usize].line
                ));
                break;
            }
            if dom.aliases.contains_key(number.as_bytes()) {
                let line = alias_lines
                    .get(&(di as u32, number.clone()))
                    .copied()
                    .unwrap_or(0);
                clash = Some(format!(
                    "collides with alias \"{number}@{}\" (line {line})",
                    dom.name
                ));
                break;
            }
        }
        if let Some(reason) = clash {
            errors.push(err(d.line, field, reason));
            continue;
        }
        did_lines.insert(number.clone(), d.line);
        snap.dids.insert(number.as_bytes().into(), target_id);
    }

    // 4. Call forwarding and voicemail.
    let mut forward_lines: HashMap<(u32, &'static str), u32> = HashMap::new();
    let mut voicemail_lines: HashMap<Option<u32>, u32> = HashMap::new();
    for d in directives {
        match &d.directive {
            Directive::Forward {
                target,
                kind,
                uri,
                timeout,
            } => {
                let field = format!("forward for \"{target}\"");
                let id = match find(&snap, target) {
                    Ok(id) => id,
                    Err(r) => {
                        errors.push(err(d.line, field, r));
                        continue;
                    }
                };
                if let Some(first) = forward_lines.get(&(id.0, kind.keyword())) {
                    errors.push(err(
                        d.line,
                        field,
                        format!("{} given twice (first at line {first})", kind.keyword()),
                    ));
                    continue;
                }
                forward_lines.insert((id.0, kind.keyword()), d.line);
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
                            errors.push(err(d.line, format!("voicemail for \"{aor}\""), r));
                            continue;
                        }
                    },
                };
                if let Some(first) = voicemail_lines.get(&key) {
                    errors.push(err(
                        d.line,
                        field,
                        format!("given twice (first at line {first})"),
                    ));
                    continue;
                }
                voicemail_lines.insert(key, d.line);
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
    for d in directives {
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
            let first = snap.gateways[g.0 as usize].line;
            errors.push(err(
                d.line,
                format!("gateway \"{name}\""),
                format!("duplicate gateway name (first at line {first})"),
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
        });
    }
    for d in directives {
        let Directive::Route { prefix, gateways } = &d.directive else {
            continue;
        };
        let shown = if prefix.is_empty() { "*" } else { prefix };
        let field = format!("route \"{shown}\"");
        let mut ids = Vec::with_capacity(gateways.len());
        for g in gateways {
            match gateway_index.get(g.as_str()) {
                Some(id) => ids.push(*id),
                None => errors.push(err(
                    d.line,
                    field.clone(),
                    format!("gateway \"{g}\" is not defined (add a gateway line)"),
                )),
            }
        }
        if ids.len() != gateways.len() {
            continue;
        }
        let index = snap.routes.len() as u32;
        if let Err(existing) = snap.trie.insert(prefix.as_bytes(), index) {
            let first = snap.routes[existing as usize].line;
            errors.push(err(
                d.line,
                field,
                format!("duplicate prefix (first at line {first})"),
            ));
            continue;
        }
        snap.routes.push(PrefixRoute {
            prefix: prefix.as_str().into(),
            gateways: ids.into(),
            line: d.line,
        });
    }

    // 6. Trusted peers.
    for d in directives {
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
            let first = snap.peers[dup as usize].line;
            errors.push(err(
                d.line,
                format!("peer \"{ip}\""),
                format!("duplicate peer (first at line {first})"),
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
        });
    }

    snap
}
