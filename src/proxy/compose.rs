//! Writing the messages a proxy sends: forwarded requests, responses passed upstream,
//! responses we generate, and the CANCEL and hop-by-hop ACK of a branch.
//!
//! Everything is written as the received bytes with edits (see `splice.rs`), so header
//! lines the proxy does not touch leave exactly as they came, folding and compact names
//! included.

use std::net::{IpAddr, SocketAddr};
use std::ops::Range;

use crate::sip::{push_decimal, push_ip, Credentials, HeaderName, Message, RPort, Uri, Via};

use super::locality::{host_ip, Locality};
use super::splice::{is_ipv4_text, put_socket_addr, span_in, split_commas, EditList};
use super::stateful::DialogFields;

/// RFC 3261 §16.6 step 3: the Max-Forwards a proxy inserts when the request has none.
pub const DEFAULT_MAX_FORWARDS: u8 = 70;

/// One Route value of a request, located in its datagram.
#[derive(Debug, Clone)]
pub(crate) struct RouteValue {
    line: Range<usize>,
    value: Range<usize>,
    /// The URI inside the value.
    uri: Range<usize>,
    index_in_line: u16,
    removed: bool,
    ours: bool,
}

/// The outcome of Route processing (RFC 3261 §16.4) on one request.
#[derive(Debug, Clone, Default)]
pub(crate) struct RoutePlan<'a> {
    /// The Request-URI, parsed (once, here: the proxy reads it again for "is it us" and
    /// for the next hop).
    pub ruri: Option<Uri<'a>>,
    /// Strict-router compatibility: the Request-URI becomes this (the last Route's URI).
    pub strict_ruri: Option<Range<usize>>,
    /// The URI of the first Route value left after processing: the next hop when present.
    pub next_route: Option<Range<usize>>,
    /// Byte ranges to delete (whole lines or values with their comma).
    pub deletions: [Option<Range<usize>>; 4],
    /// The first Route value named us (it was removed).
    pub removed_ours: bool,
}

/// What the caller has parsed already of a request being forwarded, so that it is not
/// parsed again (the top Via for received/rport, Max-Forwards to decrement).
#[derive(Clone, Copy, Debug)]
pub(crate) struct ParsedHead<'a> {
    /// `msg.top_via()`.
    pub top_via: &'a Via<'a>,
    /// `msg.max_forwards().ok().flatten()`.
    pub max_forwards: Option<u8>,
}

/// What validation parsed that Route processing reads: the Request-URI and the URI of the
/// first Route line when it holds a single value ([`crate::sip::CheckedRequest`]).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct ParsedUris<'a> {
    pub request_uri: Option<Uri<'a>>,
    pub first_route: Option<Uri<'a>>,
}

/// Collect the Route values of `msg` into `buf` and decide which go (§16.4). `parsed`
/// holds what the caller has parsed already (validation did); the rest is parsed here.
///
/// Returns `Err(())` when a Route value does not parse (the caller answers 400).
pub(crate) fn plan_routes<'a>(
    msg: &Message<'a>,
    parsed: ParsedUris<'a>,
    here: &Locality,
    buf: &mut Vec<RouteValue>,
) -> Result<RoutePlan<'a>, ()> {
    buf.clear();
    let data = msg.datagram();
    // Only the Route lines are visited (most requests outside a dialog carry none).
    for (k, h) in msg.header_lines(HeaderName::Route).enumerate() {
        let line = span_in(data, h.line);
        if let (0, Some(uri)) = (k, parsed.first_route) {
            // A line without a comma is one value, the one validation parsed (both
            // splitters yield the whole, already trimmed, value).
            if memchr::memchr(b',', h.value).is_none() {
                buf.push(RouteValue {
                    line,
                    value: span_in(data, h.value),
                    uri: span_in(data, uri.raw),
                    index_in_line: 0,
                    removed: false,
                    ours: here.is_ours(&uri),
                });
                continue;
            }
        }
        for (i, v) in split_commas(h.value).enumerate() {
            let na = crate::sip::NameAddr::parse(v).map_err(|_| ())?;
            buf.push(RouteValue {
                line: line.clone(),
                value: span_in(data, v),
                uri: span_in(data, na.uri.raw),
                index_in_line: i.min(u16::MAX as usize) as u16,
                removed: false,
                ours: here.is_ours(&na.uri),
            });
        }
    }
    let mut plan = RoutePlan {
        ruri: parsed
            .request_uri
            .or_else(|| msg.request_uri_parsed().and_then(Result::ok)),
        ..RoutePlan::default()
    };
    // Strict router upstream (§16.4): the Request-URI is a value we put in a Record-Route
    // (our address, no user part, `lr`: a REGISTER to our domain is not one); the real
    // target is the last Route value.
    if let (Some(ruri), Some(last)) = (plan.ruri.as_ref(), buf.last_mut()) {
        if ruri.user.is_none() && ruri.lr() && here.is_ours(ruri) {
            last.removed = true;
            plan.strict_ruri = Some(last.uri.clone());
        }
    }
    // §16.4: the first Route value naming us is removed (two when we double-record-routed).
    for _ in 0..2 {
        match buf.iter_mut().find(|r| !r.removed) {
            Some(r) if r.ours => {
                r.removed = true;
                plan.removed_ours = true;
            }
            _ => break,
        }
    }
    plan.next_route = buf.iter().find(|r| !r.removed).map(|r| r.uri.clone());
    // Turn removed values into non-overlapping deletions, line by line.
    let mut n = 0;
    let mut i = 0;
    while i < buf.len() {
        let line = buf[i].line.clone();
        let mut j = i;
        while j < buf.len() && buf[j].line == line {
            j += 1;
        }
        let vals = &buf[i..j];
        if vals.iter().all(|v| v.removed) {
            if n < plan.deletions.len() {
                plan.deletions[n] = Some(line);
                n += 1;
            }
        } else {
            let mut k = 0;
            while k < vals.len() {
                if !vals[k].removed {
                    k += 1;
                    continue;
                }
                let run_start = k;
                while k < vals.len() && vals[k].removed {
                    k += 1;
                }
                let range = if vals[run_start].index_in_line == 0 {
                    // Leading run: up to the start of the next kept value.
                    vals[run_start].value.start..vals[k].value.start
                } else {
                    // Later run: from the end of the kept value before it (its comma).
                    vals[run_start - 1].value.end..vals[k - 1].value.end
                };
                if n < plan.deletions.len() {
                    plan.deletions[n] = Some(range);
                    n += 1;
                }
            }
        }
        i = j;
    }
    Ok(plan)
}

/// The RFC 3261 §16.6 step 8 loop-detection hash of a request as received (§16.3 step 4):
/// To tag, From tag, Call-ID, Request-URI, top Route, CSeq number, Proxy-Require and
/// Proxy-Authorization. FNV-1a: the same on every worker and every run.
pub(crate) fn loop_hash(msg: &Message<'_>) -> u32 {
    loop_hash_with(
        msg,
        &DialogFields {
            from_tag: msg.from_tag().ok().flatten(),
            to_tag: msg.to_tag().ok().flatten(),
            call_id: msg.call_id().unwrap_or(b""),
            seq: msg.cseq().map(|c| c.seq).unwrap_or(0),
        },
    )
}

/// [`loop_hash`] with the dialog fields already read.
pub(crate) fn loop_hash_with(msg: &Message<'_>, d: &DialogFields<'_>) -> u32 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |b: &[u8]| {
        for &x in b {
            h ^= u64::from(x);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        h ^= 0xff;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    };
    eat(d.to_tag.unwrap_or(b""));
    eat(d.from_tag.unwrap_or(b""));
    eat(d.call_id);
    eat(msg.request_uri().unwrap_or(b""));
    eat(msg.header(HeaderName::Route).unwrap_or(b""));
    eat(&d.seq.to_be_bytes());
    for v in msg.headers_named(HeaderName::ProxyRequire) {
        eat(v);
    }
    for v in msg.headers_named(HeaderName::ProxyAuthorization) {
        eat(v);
    }
    (h ^ (h >> 32)) as u32
}

/// RFC 3261 §18.2.1 and RFC 3581 §4: the edits that add `received` (and fill `rport`) in
/// the top Via of a request that came from `src`.
pub(crate) fn top_via_edits(data: &[u8], via: &Via<'_>, src: SocketAddr, edits: &mut EditList) {
    let rport_requested = via.rport == Some(RPort::Requested);
    if rport_requested {
        // Usually written `;rport` exactly: found without walking the parameters.
        let name = bare_rport(via.raw).or_else(|| {
            via.params
                .into_iter()
                .find(|(name, value)| value.is_none() && name.eq_ignore_ascii_case(b"rport"))
                .map(|(name, _)| name)
        });
        if let Some(name) = name {
            let r = span_in(data, name);
            edits.replace_with(r, |t| {
                t.extend_from_slice(b"rport=");
                push_decimal(t, u64::from(src.port()));
            });
        }
    }
    // The sent-by usually is the source address spelled as we would write it: then no
    // host parsing is needed to know that it does not differ (§18.2.1).
    let differs = || {
        !is_ipv4_text(via.host, src.ip())
            && crate::sip::Host::parse(via.host).and_then(host_ip) != Some(src.ip())
    };
    if via.received.is_none() && (rport_requested || differs()) {
        let end = span_in(data, via.raw).end;
        edits.insert_with(end, |t| {
            t.extend_from_slice(b";received=");
            push_ip(t, src.ip());
        });
    }
}

/// The name of a valueless `;rport` parameter spelled exactly so in a Via value, as a
/// subslice of `raw`; `None` for any other spelling (the caller then walks the parameters).
fn bare_rport(raw: &[u8]) -> Option<&[u8]> {
    // A plain scan: `memmem::find` would build a searcher per call, dearer than the walk.
    for i in memchr::memchr_iter(b';', raw) {
        let (start, end) = (i + 1, i + 6);
        if raw.get(start..end) == Some(b"rport")
            && matches!(
                raw.get(end),
                None | Some(b';' | b' ' | b'\t' | b'\r' | b'\n')
            )
        {
            return Some(&raw[start..end]);
        }
    }
    None
}

/// Where responses to a request go (RFC 3261 §18.2.2 for UDP, RFC 3581 §4): the source
/// address when the top Via asked for rport; otherwise the source IP (it is the `received`
/// address, or equal to the sent-by) and the sent-by port.
pub(crate) fn response_destination(via: &Via<'_>, src: SocketAddr) -> SocketAddr {
    match via.rport {
        Some(_) => src,
        None => SocketAddr::new(
            src.ip(),
            via.port.unwrap_or(super::locality::SIP_DEFAULT_PORT),
        ),
    }
}

/// Where a response is sent when the proxy forwards it statelessly: by its (new) top Via
/// (`received`/`rport` as written on the way in, else the sent-by when it is numeric).
pub(crate) fn via_destination(via: &Via<'_>) -> Option<SocketAddr> {
    let ip = match via
        .received
        .and_then(|r| std::str::from_utf8(r).ok()?.parse::<IpAddr>().ok())
    {
        Some(ip) => ip,
        None => crate::sip::Host::parse(via.host).and_then(host_ip)?,
    };
    let port = match via.rport {
        Some(RPort::Port(p)) => p,
        _ => via.port.unwrap_or(super::locality::SIP_DEFAULT_PORT),
    };
    Some(SocketAddr::new(ip, port))
}

/// How our Via line starts.
const VIA_NAME: &[u8] = b"Via: ";

/// The text of one listener as the requests we forward carry it, written once at start.
#[derive(Debug, Clone)]
pub(crate) struct ListenerText {
    /// `Via: SIP/2.0/UDP <addr>;branch=`
    pub via_prefix: Vec<u8>,
    /// `Record-Route: <sip:<addr>;lr>` and CRLF.
    pub record_route: Vec<u8>,
}

impl ListenerText {
    /// The Via value we write, up to the branch value: `SIP/2.0/UDP <addr>;branch=`.
    pub(crate) fn via_value(&self) -> &[u8] {
        &self.via_prefix[VIA_NAME.len()..]
    }

    pub(crate) fn new(addr: SocketAddr) -> Self {
        let mut via_prefix = VIA_NAME.to_vec();
        via_prefix.extend_from_slice(b"SIP/2.0/UDP ");
        put_socket_addr(&mut via_prefix, addr);
        via_prefix.extend_from_slice(b";branch=");
        let mut record_route = b"Record-Route: <sip:".to_vec();
        put_socket_addr(&mut record_route, addr);
        record_route.extend_from_slice(b";lr>\r\n");
        ListenerText {
            via_prefix,
            record_route,
        }
    }
}

/// What a forwarded copy of a request carries besides the received bytes.
pub(crate) struct ForwardSpec<'a> {
    /// Our Via up to the branch value: [`ListenerText::via_prefix`] of the listener the
    /// request leaves from.
    pub via_prefix: &'a [u8],
    pub branch: &'a [u8],
    /// The previous hop (for `received`/`rport` on its Via).
    pub src: SocketAddr,
    /// The Request-URI of this branch (overrides the strict-router rewrite).
    pub ruri: Option<&'a [u8]>,
    /// Add this Record-Route line, [`ListenerText::record_route`] (dialog-creating
    /// requests).
    pub record_route: Option<&'a [u8]>,
    /// Extra header lines, each ending with CRLF.
    pub extra_headers: &'a [u8],
    /// Whole header lines to leave out (consumed credentials, [`consumed_credentials`]).
    pub remove_lines: &'a [Range<usize>],
}

/// The `Authorization` / `Proxy-Authorization` lines of `msg` whose Digest realm
/// `consumes` claims, as byte ranges of whole lines, into `out` (cleared first). RFC 3261
/// §7.3.1: these headers are never comma-combined, so each line holds one credential.
pub(crate) fn consumed_credentials(
    msg: &Message<'_>,
    mut consumes: impl FnMut(&[u8]) -> bool,
    out: &mut Vec<Range<usize>>,
) {
    out.clear();
    if msg.header(HeaderName::Authorization).is_none()
        && msg.header(HeaderName::ProxyAuthorization).is_none()
    {
        return;
    }
    let data = msg.datagram();
    for h in msg.headers() {
        if h.name != HeaderName::Authorization && h.name != HeaderName::ProxyAuthorization {
            continue;
        }
        if let Ok(Credentials::Digest(c)) = Credentials::parse(h.value) {
            if c.realm.is_some_and(&mut consumes) {
                out.push(span_in(data, h.line));
            }
        }
    }
}

/// Write the forwarded request (RFC 3261 §16.6 steps 1-8) into `out`. `parsed` is what the
/// caller has parsed of the request already (else it is parsed here).
pub(crate) fn write_forwarded_request(
    msg: &Message<'_>,
    parsed: Option<&ParsedHead<'_>>,
    plan: &RoutePlan<'_>,
    spec: &ForwardSpec<'_>,
    edits: &mut EditList,
    out: &mut Vec<u8>,
) {
    let data = msg.datagram();
    edits.clear();
    // Request-URI: the branch target, else the strict-router rewrite.
    if let Some(r) = msg.request_uri_span() {
        if let Some(uri) = spec.ruri {
            edits.replace(r, uri);
        } else if let Some(s) = plan.strict_ruri.clone() {
            edits.replace(r, &data[s]);
        }
    }
    let top = msg.headers_span().start;
    // Our Via first, then our Record-Route (topmost).
    edits.insert_with(top, |t| {
        t.extend_from_slice(spec.via_prefix);
        t.extend_from_slice(spec.branch);
        t.extend_from_slice(b"\r\n");
    });
    if let Some(rr) = spec.record_route {
        edits.insert_with(top, |t| t.extend_from_slice(rr));
    }
    // received / rport on the previous hop's Via (parsed already by the caller, usually).
    match parsed {
        Some(p) => top_via_edits(data, p.top_via, spec.src, edits),
        None => {
            if let Ok(via) = msg.top_via() {
                top_via_edits(data, &via, spec.src, edits);
            }
        }
    }
    // Max-Forwards: decrement, or add 70 (§16.6 step 3).
    if let Some(value) = msg.header(HeaderName::MaxForwards) {
        let mf = match parsed {
            Some(p) => p.max_forwards,
            None => msg.max_forwards().ok().flatten(),
        }
        .unwrap_or(DEFAULT_MAX_FORWARDS);
        edits.replace_with(span_in(data, value), |t| {
            push_decimal(t, u64::from(mf.saturating_sub(1)));
        });
    } else {
        edits.insert_with(top, |t| {
            t.extend_from_slice(b"Max-Forwards: ");
            push_decimal(t, u64::from(DEFAULT_MAX_FORWARDS));
            t.extend_from_slice(b"\r\n");
        });
    }
    for d in plan.deletions.iter().flatten() {
        edits.delete(d.clone());
    }
    for d in spec.remove_lines {
        edits.delete(d.clone());
    }
    if !spec.extra_headers.is_empty() {
        let end = msg.headers_span().end;
        edits.insert_with(end, |t| t.extend_from_slice(spec.extra_headers));
    }
    edits.apply(data, 0..msg.len(), out);
}

/// The byte range of the first Via value of `msg` with what must go to remove it (the whole
/// line if it is the line's only value, else the value and its comma).
fn top_via_removal(msg: &Message<'_>) -> Option<Range<usize>> {
    let data = msg.datagram();
    let h = msg.headers().find(|h| h.name == HeaderName::Via)?;
    if memchr::memchr(b',', h.value).is_none() {
        // One value on the line (the usual case): the line goes.
        return Some(span_in(data, h.line));
    }
    let mut vals = split_commas(h.value);
    let first = vals.next()?;
    Some(match vals.next() {
        None => span_in(data, h.line),
        Some(second) => span_in(data, first).start..span_in(data, second).start,
    })
}

/// Write `resp` without its top Via (ours) when `strip_via`, with `extra` lines
/// (CRLF-ended) added, its challenges dropped when `drop_challenges` and, when `status` is
/// given, a new status line.
#[allow(clippy::too_many_arguments)]
pub(crate) fn write_response_upstream(
    resp: &Message<'_>,
    strip_via: bool,
    restore_vias: &[u8],
    status: Option<(u16, &str)>,
    drop_challenges: bool,
    extra: &[u8],
    edits: &mut EditList,
    out: &mut Vec<u8>,
) {
    let data = resp.datagram();
    edits.clear();
    if !restore_vias.is_empty() {
        // A peer that answered with our Via only: put the caller's Vias back (added before
        // the deletion of ours, which may start at the same offset).
        edits.insert_with(resp.headers_span().start, |t| {
            t.extend_from_slice(restore_vias)
        });
    }
    if strip_via {
        if let Some(r) = top_via_removal(resp) {
            edits.delete(r);
        }
    }
    if let Some((code, reason)) = status {
        let first = resp.headers_span().start;
        let start = span_in(data, resp.as_bytes()).start;
        edits.replace_with(start..first, |t| put_status_line(t, code, reason));
    }
    if drop_challenges {
        for h in resp.headers() {
            if matches!(
                h.name,
                HeaderName::WwwAuthenticate | HeaderName::ProxyAuthenticate
            ) {
                edits.delete(span_in(data, h.line));
            }
        }
    }
    if !extra.is_empty() {
        edits.insert_with(resp.headers_span().end, |t| t.extend_from_slice(extra));
    }
    edits.apply(data, 0..resp.len(), out);
}

/// The Via lines of a request as its responses must carry them (received/rport on the top
/// one, RFC 3261 §18.2.1, RFC 3581).
pub(crate) fn write_request_vias(
    req: &Message<'_>,
    src: SocketAddr,
    edits: &mut EditList,
    out: &mut Vec<u8>,
) {
    let data = req.datagram();
    let mut first = true;
    for h in req.headers() {
        if h.name != HeaderName::Via {
            continue;
        }
        if first {
            first = false;
            edits.clear();
            if let Ok(via) = req.top_via() {
                top_via_edits(data, &via, src, edits);
            }
            edits.apply(data, span_in(data, h.line), out);
        } else {
            out.extend_from_slice(h.line);
        }
    }
}

/// Append the WWW-/Proxy-Authenticate lines of `resp` to `into` (§16.7 step 7).
pub(crate) fn collect_challenges(resp: &Message<'_>, into: &mut Vec<u8>) {
    for h in resp.headers() {
        if matches!(
            h.name,
            HeaderName::WwwAuthenticate | HeaderName::ProxyAuthenticate
        ) {
            into.extend_from_slice(h.line);
            if !h.line.ends_with(b"\n") {
                into.extend_from_slice(b"\r\n");
            }
        }
    }
}

/// A response we generate to `req` (RFC 3261 §8.2.6): Via (with received/rport on the
/// top one), From, To (with `to_tag` added when it has none), Call-ID and CSeq copied.
#[allow(clippy::too_many_arguments)]
pub(crate) fn write_local_response(
    req: &Message<'_>,
    top_via: Option<&Via<'_>>,
    src: SocketAddr,
    code: u16,
    reason: &str,
    to_tag: Option<&[u8]>,
    extra: &[&str],
    server: &str,
    edits: &mut EditList,
    out: &mut Vec<u8>,
) {
    let data = req.datagram();
    put_status_line(out, code, reason);
    let mut first_via = true;
    for h in req.reply_header_lines() {
        match h.name {
            HeaderName::Via if first_via => {
                first_via = false;
                edits.clear();
                match top_via {
                    Some(via) => top_via_edits(data, via, src, edits),
                    None => {
                        if let Ok(via) = req.top_via() {
                            top_via_edits(data, &via, src, edits);
                        }
                    }
                }
                let line = span_in(data, h.line);
                edits.apply(data, line, out);
            }
            HeaderName::Via | HeaderName::From | HeaderName::CallId | HeaderName::CSeq => {
                out.extend_from_slice(h.line);
            }
            HeaderName::To => {
                let has_tag = || req.to_tag().ok().flatten().is_some();
                match to_tag {
                    Some(tag) if !has_tag() => {
                        let line = span_in(data, h.line);
                        let value_end = span_in(data, h.value).end;
                        out.extend_from_slice(&data[line.start..value_end]);
                        out.extend_from_slice(b";tag=");
                        out.extend_from_slice(tag);
                        out.extend_from_slice(&data[value_end..line.end]);
                    }
                    _ => out.extend_from_slice(h.line),
                }
            }
            _ => {}
        }
    }
    if !server.is_empty() {
        out.extend_from_slice(b"Server: ");
        out.extend_from_slice(server.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    for line in extra {
        out.extend_from_slice(line.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"Content-Length: 0\r\n\r\n");
}

/// `SIP/2.0 <code> <reason>` and CRLF.
fn put_status_line(out: &mut Vec<u8>, code: u16, reason: &str) {
    out.extend_from_slice(b"SIP/2.0 ");
    push_decimal(out, u64::from(code));
    out.push(b' ');
    out.extend_from_slice(reason.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// The CANCEL (RFC 3261 §9.1) or hop-by-hop ACK (§17.1.1.3) for a forwarded INVITE `fwd`:
/// same Request-URI, top Via (ours), Route, From, Call-ID and CSeq number; the ACK takes its
/// To from the response `to_line`, the CANCEL from the INVITE.
pub(crate) fn write_cancel_or_ack(
    fwd: &Message<'_>,
    ack_to_line: Option<&[u8]>,
    out: &mut Vec<u8>,
) {
    let method: &[u8] = if ack_to_line.is_some() {
        b"ACK"
    } else {
        b"CANCEL"
    };
    out.extend_from_slice(method);
    out.push(b' ');
    out.extend_from_slice(fwd.request_uri().unwrap_or(b""));
    out.extend_from_slice(b" SIP/2.0\r\n");
    let mut first_via = true;
    for h in fwd.headers() {
        match h.name {
            HeaderName::Via if first_via => {
                first_via = false;
                out.extend_from_slice(h.line);
            }
            HeaderName::Route | HeaderName::From | HeaderName::CallId => {
                out.extend_from_slice(h.line)
            }
            HeaderName::To if ack_to_line.is_none() => out.extend_from_slice(h.line),
            _ => {}
        }
    }
    if let Some(to) = ack_to_line {
        out.extend_from_slice(to);
    }
    let seq = fwd.cseq().map(|c| c.seq).unwrap_or(0);
    out.extend_from_slice(b"CSeq: ");
    push_decimal(out, u64::from(seq));
    out.push(b' ');
    out.extend_from_slice(method);
    out.extend_from_slice(b"\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `StatefulProxy::own_top_via` relies on: the Via value we write (any listener
    /// address, any branch of ours) parses, as a Via and as the top Via of a response, and
    /// its branch is what follows `via_value`.
    #[test]
    fn our_via_value_parses_with_its_branch() {
        use crate::txn::BranchId;
        for addr in [
            "127.0.0.1:5060",
            "192.0.2.200:65535",
            "[::1]:5070",
            "[2001:db8::7]:1",
        ] {
            let text = ListenerText::new(addr.parse().unwrap());
            for id in [
                BranchId {
                    salt: 0,
                    worker: 0,
                    slot: 0,
                    generation: 0,
                    fork: 0,
                    loop_hash: 0,
                },
                BranchId {
                    salt: u32::MAX,
                    worker: u16::MAX,
                    slot: u32::MAX,
                    generation: u32::MAX,
                    fork: u8::MAX,
                    loop_hash: u32::MAX,
                },
            ] {
                let branch = id.encode();
                let mut value = text.via_value().to_vec();
                value.extend_from_slice(branch.as_bytes());
                let via = Via::parse(&value).unwrap();
                assert_eq!(via.branch, Some(branch.as_bytes()), "{addr}");
                assert_eq!(BranchId::decode(&value[text.via_value().len()..]), Some(id));
                let resp = format!(
                    "SIP/2.0 200 OK\r\n{}{}\r\nVia: SIP/2.0/UDP 127.0.0.2\r\n\
                     From: <sip:a@b>;tag=1\r\nTo: <sip:b@c>\r\nCall-ID: x\r\n\
                     CSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n",
                    String::from_utf8_lossy(&text.via_prefix),
                    String::from_utf8_lossy(branch.as_bytes())
                );
                let m = crate::sip::parse(resp.as_bytes()).unwrap();
                assert_eq!(m.header(HeaderName::Via), Some(&value[..]));
                assert_eq!(m.top_via().unwrap().branch, Some(branch.as_bytes()));
            }
        }
    }

    #[test]
    fn bare_rport_is_found_only_when_valueless() {
        let raw = b"SIP/2.0/UDP h:5060;branch=z9hG4bKx;rport";
        let r = bare_rport(raw).unwrap();
        assert_eq!(r, b"rport");
        assert_eq!(span_in(raw, r), raw.len() - 5..raw.len());
        assert_eq!(
            bare_rport(b"SIP/2.0/UDP h;rport;branch=z9hG4bKx"),
            Some(&b"rport"[..])
        );
        assert_eq!(
            bare_rport(b"SIP/2.0/UDP h;rport=5060;branch=z9hG4bKx"),
            None
        );
        assert_eq!(
            bare_rport(b"SIP/2.0/UDP h;rportx;rport"),
            Some(&b"rport"[..])
        );
        assert_eq!(bare_rport(b"SIP/2.0/UDP h;RPort"), None);
    }
}
