//! Line by line: table text → directives, each with the line it came from.
//!
//! This step checks what one line can say about itself (syntax, hex lengths, URIs, ports);
//! references between lines (a user's domain, an alias's target, a route's gateways) are
//! checked by `compile`, once every line has been read, so the file may name things in any
//! order.

use std::net::IpAddr;
use std::path::Path;

use super::error::TableError;
use super::syntax::{self, Token};
use super::Transport;

/// `user@domain` as written: user part verbatim (case-sensitive), domain lowercased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aor {
    pub user: String,
    pub domain: String,
}

impl std::fmt::Display for Aor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}", self.user, self.domain)
    }
}

/// The four call-forward cases (OpenSIPS book: blind forward before lookup; busy,
/// no-answer and unavailable in the failure route on 486/408/480).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForwardKind {
    Always,
    Busy,
    NoAnswer,
    Unavailable,
}

impl ForwardKind {
    pub fn keyword(self) -> &'static str {
        match self {
            ForwardKind::Always => "always",
            ForwardKind::Busy => "busy",
            ForwardKind::NoAnswer => "no-answer",
            ForwardKind::Unavailable => "unavailable",
        }
    }
}

#[derive(Debug, Clone)]
pub enum Directive {
    Domain(Vec<String>),
    InternationalPrefix(String),
    User {
        aor: Aor,
        md5: Option<[u8; 32]>,
        sha256: Option<[u8; 64]>,
        groups: Vec<String>,
        enabled: bool,
    },
    Alias {
        alias: Aor,
        target: Aor,
    },
    Did {
        number: String,
        target: Aor,
    },
    Forward {
        target: Aor,
        kind: ForwardKind,
        uri: String,
        timeout: Option<u32>,
    },
    Voicemail {
        /// `None` for `voicemail default URI`.
        target: Option<Aor>,
        uri: String,
    },
    Peer {
        ip: IpAddr,
        port: Option<u16>,
        transport: Option<Transport>,
        name: Option<String>,
    },
    Gateway {
        name: String,
        host: String,
        port: u16,
        transport: Option<Transport>,
        strip: u8,
        prefix: String,
    },
    Route {
        /// Digits; empty for the catch-all `*`.
        prefix: String,
        gateways: Vec<String>,
    },
}

/// A directive and the line that holds it.
#[derive(Debug, Clone)]
pub struct Located {
    /// Index of the file in the table's file list (a table may be a folder of files).
    pub file: u16,
    pub line: u32,
    pub directive: Directive,
}

/// RFC 3261 §18.1.1: SIP's default port.
pub const DEFAULT_SIP_PORT: u16 = 5060;
/// How long a no-answer forward waits when the line gives no `timeout=`.
pub const DEFAULT_NO_ANSWER_TIMEOUT_S: u32 = 30;
/// The longest no-answer timeout accepted (RFC 3261 Timer C is > 3 min; a ringing phone is
/// not left for longer than this by any operator).
pub const MAX_NO_ANSWER_TIMEOUT_S: u32 = 600;
/// Strip at most this many leading digits before a gateway.
pub const MAX_STRIP: u8 = 32;

struct LineCtx<'a> {
    file: &'a Path,
    line: u32,
}

impl LineCtx<'_> {
    fn err(&self, field: impl Into<String>, reason: impl Into<String>) -> TableError {
        TableError::new(self.file, self.line, field, reason)
    }
}

/// Parse `user@domain`.
pub fn parse_aor(s: &str) -> Result<Aor, String> {
    let Some((user, domain)) = s.split_once('@') else {
        return Err(format!("{s:?} must be user@domain"));
    };
    if !syntax::is_valid_user(user) {
        return Err(format!("{user:?} is not a valid SIP user part"));
    }
    let Some(domain) = syntax::normalize_host(domain) else {
        return Err(format!("{domain:?} is not a valid domain"));
    };
    Ok(Aor {
        user: user.to_string(),
        domain,
    })
}

fn parse_transport(s: &str) -> Option<Transport> {
    match s.to_ascii_lowercase().as_str() {
        "udp" => Some(Transport::Udp),
        "tcp" => Some(Transport::Tcp),
        "tls" => Some(Transport::Tls),
        _ => None,
    }
}

/// Parse every line, appending directives to `out` and errors (in line order) to `errors`.
pub fn parse_text(
    text: &str,
    file: &Path,
    file_index: u16,
    out: &mut Vec<Located>,
    errors: &mut Vec<TableError>,
) {
    for (idx, line) in text.lines().enumerate() {
        let ctx = LineCtx {
            file,
            line: u32::try_from(idx + 1).unwrap_or(u32::MAX),
        };
        let tokens = syntax::tokenize(line);
        if tokens.is_empty() {
            continue;
        }
        match parse_line(&ctx, &tokens) {
            Ok(directive) => out.push(Located {
                file: file_index,
                line: ctx.line,
                directive,
            }),
            Err(e) => errors.push(e),
        }
    }
}

fn parse_line(ctx: &LineCtx<'_>, t: &[Token<'_>]) -> Result<Directive, TableError> {
    let keyword = t[0].text;
    let args = &t[1..];
    match keyword {
        "domain" => parse_domain(ctx, args),
        "international-prefix" => parse_intl(ctx, args),
        "user" => parse_user(ctx, args),
        "alias" => parse_alias(ctx, args),
        "did" => parse_did(ctx, args),
        "forward" => parse_forward(ctx, args),
        "voicemail" => parse_voicemail(ctx, args),
        "peer" => parse_peer(ctx, args),
        "gateway" => parse_gateway(ctx, args),
        "route" => parse_route(ctx, args),
        other => Err(ctx.err(
            "",
            format!(
                "unknown directive {other:?} (expected domain, user, alias, did, forward, \
                 voicemail, peer, gateway, route or international-prefix)"
            ),
        )),
    }
}

fn parse_domain(ctx: &LineCtx<'_>, args: &[Token<'_>]) -> Result<Directive, TableError> {
    if args.is_empty() {
        return Err(ctx.err("domain", "needs at least one domain name"));
    }
    let mut names = Vec::with_capacity(args.len());
    for a in args {
        match syntax::normalize_host(a.text) {
            Some(n) => names.push(n),
            None => {
                return Err(ctx.err(
                    format!("domain {:?}", a.text),
                    "not a valid host name or IP address",
                ))
            }
        }
    }
    Ok(Directive::Domain(names))
}

fn parse_intl(ctx: &LineCtx<'_>, args: &[Token<'_>]) -> Result<Directive, TableError> {
    let field = "international-prefix";
    match args {
        [p] if syntax::is_digits(p.text) && p.text.len() <= 8 => {
            Ok(Directive::InternationalPrefix(p.text.to_string()))
        }
        [p] => Err(ctx.err(field, format!("{:?} must be 1 to 8 digits", p.text))),
        _ => Err(ctx.err(
            field,
            "takes exactly one value, e.g. `international-prefix 00`",
        )),
    }
}

fn parse_user(ctx: &LineCtx<'_>, args: &[Token<'_>]) -> Result<Directive, TableError> {
    let Some(first) = args.first() else {
        return Err(ctx.err("subscriber", "needs user@domain"));
    };
    let aor = parse_aor(first.text).map_err(|r| ctx.err("subscriber", r))?;
    let field = || format!("subscriber \"{aor}\"");
    let (mut md5, mut sha256, mut groups, mut enabled) = (None, None, Vec::new(), true);
    let mut seen = [false; 4];
    for a in &args[1..] {
        let Some((k, v)) = syntax::key_value(a.text) else {
            return Err(ctx.err(
                field(),
                format!(
                    "{:?} is not key=value (md5=, sha256=, groups=, enabled=)",
                    a.text
                ),
            ));
        };
        let slot = match k {
            "md5" => 0,
            "sha256" => 1,
            "groups" => 2,
            "enabled" => 3,
            _ => {
                return Err(ctx.err(
                    field(),
                    format!("unknown attribute {k:?} (md5=, sha256=, groups=, enabled=)"),
                ))
            }
        };
        if std::mem::replace(&mut seen[slot], true) {
            return Err(ctx.err(field(), format!("{k} given twice")));
        }
        match k {
            "md5" => {
                md5 = Some(
                    syntax::parse_hex::<32>(v).map_err(|r| ctx.err(field(), format!("md5 {r}")))?,
                )
            }
            "sha256" => {
                sha256 = Some(
                    syntax::parse_hex::<64>(v)
                        .map_err(|r| ctx.err(field(), format!("sha256 {r}")))?,
                )
            }
            "groups" => {
                for g in v.split(',').filter(|g| !g.is_empty()) {
                    if !syntax::is_name(g) {
                        return Err(ctx.err(field(), format!("group {g:?} is not a valid name")));
                    }
                    if !groups.iter().any(|x| x == g) {
                        groups.push(g.to_string());
                    }
                }
            }
            "enabled" => {
                enabled = match v {
                    "yes" | "true" => true,
                    "no" | "false" => false,
                    _ => return Err(ctx.err(field(), "enabled must be yes or no")),
                }
            }
            _ => {
                return Err(ctx.err(
                    field(),
                    format!("unknown attribute {k:?} (md5=, sha256=, groups=, enabled=)"),
                ))
            }
        }
    }
    if md5.is_none() && sha256.is_none() {
        return Err(ctx.err(
            field(),
            "needs md5= or sha256= (an HA1; passwords are never stored)",
        ));
    }
    Ok(Directive::User {
        aor,
        md5,
        sha256,
        groups,
        enabled,
    })
}

fn parse_alias(ctx: &LineCtx<'_>, args: &[Token<'_>]) -> Result<Directive, TableError> {
    let [a, t] = args else {
        return Err(ctx.err("alias", "expects `alias ALIAS@DOMAIN USER@DOMAIN`"));
    };
    let alias = parse_aor(a.text).map_err(|r| ctx.err("alias", r))?;
    let field = || format!("alias \"{alias}\"");
    let target = parse_aor(t.text).map_err(|r| ctx.err(field(), format!("target {r}")))?;
    Ok(Directive::Alias { alias, target })
}

fn parse_did(ctx: &LineCtx<'_>, args: &[Token<'_>]) -> Result<Directive, TableError> {
    let [n, t] = args else {
        return Err(ctx.err("did", "expects `did NUMBER USER@DOMAIN`"));
    };
    let field = || format!("did \"{}\"", n.text);
    if !syntax::is_number(n.text) {
        return Err(ctx.err(field(), "must be digits, optionally after +"));
    }
    let target = parse_aor(t.text).map_err(|r| ctx.err(field(), format!("target {r}")))?;
    Ok(Directive::Did {
        number: n.text.to_string(),
        target,
    })
}

fn parse_forward(ctx: &LineCtx<'_>, args: &[Token<'_>]) -> Result<Directive, TableError> {
    let usage =
        "expects `forward USER@DOMAIN always|busy|no-answer|unavailable URI [timeout=SECONDS]`";
    if args.len() < 3 || args.len() > 4 {
        return Err(ctx.err("forward", usage));
    }
    let target = parse_aor(args[0].text).map_err(|r| ctx.err("forward", r))?;
    let field = || format!("forward for \"{target}\"");
    let kind = match args[1].text {
        "always" => ForwardKind::Always,
        "busy" => ForwardKind::Busy,
        "no-answer" => ForwardKind::NoAnswer,
        "unavailable" => ForwardKind::Unavailable,
        other => {
            return Err(ctx.err(
                field(),
                format!("{other:?} is not one of always, busy, no-answer, unavailable"),
            ))
        }
    };
    let uri = args[2].text;
    syntax::check_uri(uri).map_err(|r| ctx.err(field(), format!("{uri:?}: {r}")))?;
    let mut timeout = None;
    if let Some(t) = args.get(3) {
        let Some(("timeout", v)) = syntax::key_value(t.text) else {
            return Err(ctx.err(
                field(),
                format!("{:?}: only timeout=SECONDS may follow the URI", t.text),
            ));
        };
        if kind != ForwardKind::NoAnswer {
            return Err(ctx.err(field(), "timeout= applies only to no-answer"));
        }
        match v.parse::<u32>() {
            Ok(s) if (1..=MAX_NO_ANSWER_TIMEOUT_S).contains(&s) && syntax::is_digits(v) => {
                timeout = Some(s)
            }
            _ => {
                return Err(ctx.err(
                    field(),
                    format!("timeout must be 1 to {MAX_NO_ANSWER_TIMEOUT_S} seconds"),
                ))
            }
        }
    }
    Ok(Directive::Forward {
        target,
        kind,
        uri: uri.to_string(),
        timeout,
    })
}

fn parse_voicemail(ctx: &LineCtx<'_>, args: &[Token<'_>]) -> Result<Directive, TableError> {
    let [who, uri] = args else {
        return Err(ctx.err("voicemail", "expects `voicemail USER@DOMAIN|default URI`"));
    };
    let target = if who.text == "default" {
        None
    } else {
        Some(parse_aor(who.text).map_err(|r| ctx.err("voicemail", r))?)
    };
    let field = match &target {
        Some(a) => format!("voicemail for \"{a}\""),
        None => "voicemail default".to_string(),
    };
    syntax::check_uri(uri.text).map_err(|r| ctx.err(&field, format!("{:?}: {r}", uri.text)))?;
    Ok(Directive::Voicemail {
        target,
        uri: uri.text.to_string(),
    })
}

/// `IP`, `IP:PORT`, `[IPv6]:PORT` or a bare IPv6 address.
fn parse_ip_port(s: &str) -> Option<(IpAddr, Option<u16>)> {
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some((ip, None));
    }
    if let Some(inner) = s.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        return Some((IpAddr::V6(inner.parse().ok()?), None));
    }
    let sa: std::net::SocketAddr = s.parse().ok()?;
    (sa.port() != 0).then_some((sa.ip(), Some(sa.port())))
}

fn parse_peer(ctx: &LineCtx<'_>, args: &[Token<'_>]) -> Result<Directive, TableError> {
    let Some(addr) = args.first() else {
        return Err(ctx.err(
            "peer",
            "expects `peer IP[:PORT] [transport=udp|tcp|tls] [name=LABEL]`",
        ));
    };
    let field = || format!("peer \"{}\"", addr.text);
    let Some((ip, port)) = parse_ip_port(addr.text) else {
        return Err(ctx.err(field(), "not an IP address with an optional port (1-65535)"));
    };
    let (mut transport, mut name) = (None, None);
    for a in &args[1..] {
        match syntax::key_value(a.text) {
            Some(("transport", v)) => {
                transport = Some(
                    parse_transport(v)
                        .ok_or_else(|| ctx.err(field(), "transport must be udp, tcp or tls"))?,
                )
            }
            Some(("name", v)) if syntax::is_name(v) => name = Some(v.to_string()),
            Some(("name", _)) => {
                return Err(ctx.err(field(), "name must be letters, digits, - _ ."))
            }
            _ => {
                return Err(ctx.err(
                    field(),
                    format!("{:?}: expected transport= or name=", a.text),
                ))
            }
        }
    }
    Ok(Directive::Peer {
        ip,
        port,
        transport,
        name,
    })
}

fn parse_gateway(ctx: &LineCtx<'_>, args: &[Token<'_>]) -> Result<Directive, TableError> {
    if args.len() < 2 {
        return Err(ctx.err(
            "gateway",
            "expects `gateway NAME HOST[:PORT] [strip=N] [prefix=DIGITS] [transport=udp|tcp|tls]`",
        ));
    }
    let name = args[0].text;
    let field = || format!("gateway \"{name}\"");
    if !syntax::is_name(name) {
        return Err(ctx.err(
            field(),
            "name must start with a letter and hold letters, digits, - _ .",
        ));
    }
    let Some((host, port)) = syntax::parse_hostport(args[1].text) else {
        return Err(ctx.err(field(), format!("{:?} is not HOST[:PORT]", args[1].text)));
    };
    let (mut strip, mut prefix, mut transport) = (0u8, String::new(), None);
    for a in &args[2..] {
        match syntax::key_value(a.text) {
            Some(("strip", v)) => {
                strip = match v.parse::<u8>() {
                    Ok(n) if n <= MAX_STRIP && syntax::is_digits(v) => n,
                    _ => return Err(ctx.err(field(), format!("strip must be 0 to {MAX_STRIP}"))),
                }
            }
            Some(("prefix", v)) => {
                if v != "+" && !syntax::is_number(v) {
                    return Err(ctx.err(field(), "prefix must be digits, + or +digits"));
                }
                prefix = v.to_string();
            }
            Some(("transport", v)) => {
                transport = Some(
                    parse_transport(v)
                        .ok_or_else(|| ctx.err(field(), "transport must be udp, tcp or tls"))?,
                )
            }
            _ => {
                return Err(ctx.err(
                    field(),
                    format!("{:?}: expected strip=, prefix= or transport=", a.text),
                ))
            }
        }
    }
    Ok(Directive::Gateway {
        name: name.to_string(),
        host,
        port: port.unwrap_or(DEFAULT_SIP_PORT),
        transport,
        strip,
        prefix,
    })
}

fn parse_route(ctx: &LineCtx<'_>, args: &[Token<'_>]) -> Result<Directive, TableError> {
    let Some(p) = args.first() else {
        return Err(ctx.err("route", "expects `route PREFIX|* GATEWAY...`"));
    };
    let field = || format!("route \"{}\"", p.text);
    let prefix = if p.text == "*" {
        String::new()
    } else if syntax::is_digits(p.text) && p.text.len() <= 32 {
        p.text.to_string()
    } else {
        return Err(ctx.err(
            field(),
            "prefix must be 1 to 32 digits, or * for every number",
        ));
    };
    if args.len() < 2 {
        return Err(ctx.err(field(), "needs at least one gateway"));
    }
    let mut gateways: Vec<String> = Vec::with_capacity(args.len() - 1);
    for g in &args[1..] {
        if gateways.iter().any(|x| x == g.text) {
            return Err(ctx.err(field(), format!("gateway {:?} listed twice", g.text)));
        }
        gateways.push(g.text.to_string());
    }
    Ok(Directive::Route { prefix, gateways })
}
