//! Whole call flows through the stateful proxy, with virtual time and no sockets.

#[path = "harness/proxy.rs"]
mod harness;

use std::time::Duration;

use harness::*;
use ringlet::endpoint::Endpoint;
use ringlet::proxy::RelayToRequestUri;
use ringlet::sip::HeaderName;

const BOB_URI: &str = "sip:bob@127.0.0.3:5060";

fn net() -> Net<RelayToRequestUri> {
    Net::new(config(), RelayToRequestUri)
}

#[test]
fn basic_call_invite_180_200_ack_bye() {
    let mut n = net();
    let sent = n.send_str(ALICE, &invite(BOB_URI, "call-1", "z9hG4bKa1"));
    let trying = one(&sent, ALICE, "100");
    assert!(
        trying.msg().to().unwrap().tag.is_none(),
        "100 Trying carries no To tag"
    );
    let inv = one(&sent, BOB, "INVITE");
    let m = inv.msg();
    let vias: Vec<_> = m.vias().map(|v| v.unwrap()).collect();
    assert_eq!(vias.len(), 2);
    assert_eq!(vias[0].host, b"127.0.0.1");
    assert!(vias[0].branch.unwrap().starts_with(b"z9hG4bKrl"));
    assert_eq!(
        vias[1].rport,
        Some(ringlet::sip::RPort::Port(5060)),
        "rport filled in (RFC 3581)"
    );
    assert_eq!(vias[1].received, Some(&b"127.0.0.2"[..]));
    assert_eq!(m.max_forwards().unwrap(), Some(69));
    let rr = m.record_routes().next().unwrap().unwrap();
    assert_eq!(rr.uri.raw, b"sip:127.0.0.1:5060;lr");
    assert_eq!(m.request_uri(), Some(BOB_URI.as_bytes()));

    let sent = n.send(BOB, &respond(&inv, 180, "Ringing", "b1", &[]));
    let ringing = one(&sent, ALICE, "180");
    assert_eq!(ringing.msg().vias().count(), 1, "our Via is removed");
    assert_eq!(sent.len(), 1);

    let sent = n.send(BOB, &respond(&inv, 200, "OK", "b1", &[]));
    let ok = one(&sent, ALICE, "200");
    assert_eq!(ok.msg().to().unwrap().tag, Some(&b"b1"[..]));

    // ACK for the 2xx: a new transaction, end to end through our Record-Route.
    let ack = request(
        "ACK",
        BOB_URI,
        "call-1",
        "z9hG4bKa2",
        1,
        Some("b1"),
        &["Route: <sip:127.0.0.1:5060;lr>"],
    );
    let sent = n.send_str(ALICE, &ack);
    let fwd = one(&sent, BOB, "ACK");
    assert_eq!(fwd.msg().routes().count(), 0, "our Route is consumed");
    assert_eq!(fwd.msg().vias().count(), 2);

    // BYE in the dialog, and its 200.
    let bye = request(
        "BYE",
        BOB_URI,
        "call-1",
        "z9hG4bKa3",
        2,
        Some("b1"),
        &["Route: <sip:127.0.0.1:5060;lr>"],
    );
    let sent = n.send_str(ALICE, &bye);
    let fbye = one(&sent, BOB, "BYE");
    assert!(
        fbye.msg().record_routes().next().is_none(),
        "no Record-Route inside a dialog"
    );
    let sent = n.send(BOB, &respond(&fbye, 200, "OK", "b1", &[]));
    one(&sent, ALICE, "200/BYE");

    assert_eq!(n.proxy.transactions(), 2);
    // Everything ends by itself: Timer L/M (32 s) for the INVITE, J/K for the BYE.
    n.advance(Duration::from_secs(40));
    assert_eq!(n.proxy.transactions(), 0, "transactions are reaped");
    assert_eq!(n.proxy.next_timeout(), None);
}

#[test]
fn busy_486_is_acked_hop_by_hop_and_forwarded() {
    let mut n = net();
    let sent = n.send_str(ALICE, &invite(BOB_URI, "call-486", "z9hG4bKb1"));
    let inv = one(&sent, BOB, "INVITE");
    let sent = n.send(BOB, &respond(&inv, 486, "Busy Here", "b2", &[]));
    let ack = one(&sent, BOB, "ACK");
    let am = ack.msg();
    assert_eq!(
        am.top_via().unwrap().branch,
        inv.msg().top_via().unwrap().branch,
        "ACK has the INVITE's branch"
    );
    assert_eq!(am.to().unwrap().tag, Some(&b"b2"[..]));
    assert_eq!(am.cseq().unwrap().seq, 1);
    let busy = one(&sent, ALICE, "486");
    // A retransmitted 486 is ACKed again and not forwarded twice.
    let sent = n.send(BOB, &respond(&inv, 486, "Busy Here", "b2", &[]));
    assert_eq!(summary(&sent), vec![format!("ACK>{BOB}")]);
    // Alice's ACK is absorbed; her retransmitted INVITE gets the 486 again.
    let sent = n.send_str(ALICE, &ack_non2xx(BOB_URI, "call-486", "z9hG4bKb1", &busy));
    assert!(sent.is_empty(), "{:?}", summary(&sent));
    n.advance(Duration::from_secs(40));
    assert_eq!(n.proxy.transactions(), 0);
}

#[test]
fn error_final_is_retransmitted_until_acked() {
    let mut n = net();
    let sent = n.send_str(ALICE, &invite(BOB_URI, "call-g", "z9hG4bKg1"));
    let inv = one(&sent, BOB, "INVITE");
    n.send(BOB, &respond(&inv, 404, "Not Found", "b3", &[]));
    let later = n.advance(Duration::from_millis(1600));
    let resends: Vec<u128> = later
        .iter()
        .filter(|(_, s)| s.is(ALICE, "404"))
        .map(|(t, _)| t.as_millis())
        .collect();
    assert_eq!(resends, vec![500, 1500], "Timer G: T1, then 2*T1");
    let retrans = n.send_str(ALICE, &invite(BOB_URI, "call-g", "z9hG4bKg1"));
    one(&retrans, ALICE, "404");
    let ack = ack_non2xx(BOB_URI, "call-g", "z9hG4bKg1", &later[0].1);
    assert!(n.send_str(ALICE, &ack).is_empty());
    let later = n.advance(Duration::from_secs(10));
    assert!(
        later.iter().all(|(_, s)| !s.is(ALICE, "404")),
        "no resend after the ACK"
    );
}

#[test]
fn retransmitted_invite_is_absorbed_and_answered_with_last_response() {
    let mut n = net();
    let inv_text = invite(BOB_URI, "call-r", "z9hG4bKr1");
    let sent = n.send_str(ALICE, &inv_text);
    let inv = one(&sent, BOB, "INVITE");
    let again = n.send_str(ALICE, &inv_text);
    assert_eq!(
        summary(&again),
        vec![format!("100>{ALICE}")],
        "only the 100 again, nothing downstream"
    );
    n.send(BOB, &respond(&inv, 180, "Ringing", "b4", &[]));
    let again = n.send_str(ALICE, &inv_text);
    assert_eq!(summary(&again), vec![format!("180>{ALICE}")]);
    // 200 and its retransmission both reach Alice (RFC 6026).
    let ok = respond(&inv, 200, "OK", "b4", &[]);
    one(&n.send(BOB, &ok), ALICE, "200");
    one(&n.send(BOB, &ok), ALICE, "200");
    // After the 2xx, INVITE retransmissions are absorbed (Accepted state).
    assert!(n.send_str(ALICE, &inv_text).is_empty());
    assert_eq!(n.proxy.stats().retransmissions, 3);
}

#[test]
fn retransmitted_invite_gets_the_same_100_trying_byte_for_byte() {
    // The 100 Trying is written again from the stored request, not kept: it must be the
    // same bytes (received/rport on the top Via, a second Via and a folded header kept).
    let mut n = net();
    let inv_text = invite(BOB_URI, "call-t", "z9hG4bKt1")
        .replace(
            "Via: SIP/2.0/UDP 127.0.0.2:5060;branch=z9hG4bKt1;rport\r\n",
            "Via: SIP/2.0/UDP alice.test:5080;branch=z9hG4bKt1;rport ,\r\n \
             SIP/2.0/UDP 192.0.2.8;branch=z9hG4bKx\r\n",
        )
        .replace("Call-ID: call-t", "i:  call-t");
    let first = one(&n.send_str(ALICE, &inv_text), ALICE, "100");
    assert!(first.text().contains(";rport=5060;received=127.0.0.2"));
    assert!(first
        .text()
        .contains("SIP/2.0/UDP 192.0.2.8;branch=z9hG4bKx"));
    for _ in 0..2 {
        let again = n.send_str(ALICE, &inv_text);
        assert_eq!(summary(&again), vec![format!("100>{ALICE}")]);
        assert_eq!(again[0].bytes, first.bytes, "the same 100 Trying");
    }
    assert_eq!(n.proxy.stats().retransmissions, 2);
}

#[test]
fn responses_to_our_branch_go_up_only_when_their_top_via_parses() {
    // Our Via exactly as written is recognised without parsing it; anything a peer did to
    // it is parsed as before: still forwarded when it parses, dropped when it does not.
    let mut n = net();
    let sent = n.send_str(ALICE, &invite(BOB_URI, "call-v", "z9hG4bKv1"));
    let inv = one(&sent, BOB, "INVITE");
    let ours = inv.msg().top_via().unwrap().raw.to_vec();
    let ours = String::from_utf8(ours).unwrap();
    let with_top_via = |code: u16, reason: &str, via: &str| {
        let r = String::from_utf8(respond(&inv, code, reason, "b7", &[])).unwrap();
        r.replacen(&ours, via, 1).into_bytes()
    };
    let mut dropped = 0;
    for (via, forwarded) in [
        (format!("{ours};received=192.0.2.50"), true),
        (ours.replace("SIP/2.0/UDP", "SIP/2.0/udp"), true),
        (format!("{ours} ;x=\"y\""), true),
        (format!("{ours};;"), false),
        (format!("{ours};branch"), false),
        (ours.replace("SIP/2.0/UDP", "SIP/2.0/ UDP x"), false),
        (ours.replace("SIP/2.0", "SIP/3.0"), false),
    ] {
        let sent = n.send(BOB, &with_top_via(183, "Progress", &via));
        if forwarded {
            let up = one(&sent, ALICE, "183");
            assert_eq!(up.msg().vias().count(), 1, "{via}: our Via removed");
        } else {
            dropped += 1;
            assert!(sent.is_empty(), "{via}: dropped");
        }
        assert_eq!(n.proxy.stats().dropped_responses, dropped, "{via}");
    }
    // Our Via as written: forwarded.
    one(
        &n.send(BOB, &with_top_via(180, "Ringing", &ours)),
        ALICE,
        "180",
    );
    assert_eq!(n.proxy.stats().dropped_responses, dropped);
}

#[test]
fn late_2xx_without_transaction_is_forwarded_statelessly() {
    let mut n = net();
    let sent = n.send_str(ALICE, &invite(BOB_URI, "call-late", "z9hG4bKl1"));
    let inv = one(&sent, BOB, "INVITE");
    let ok = respond(&inv, 200, "OK", "b5", &[]);
    one(&n.send(BOB, &ok), ALICE, "200");
    n.advance(Duration::from_secs(40));
    assert_eq!(n.proxy.transactions(), 0);
    let sent = n.send(BOB, &ok);
    let fwd = one(&sent, ALICE, "200");
    assert_eq!(fwd.msg().vias().count(), 1);
    assert_eq!(n.proxy.stats().stateless_responses, 1);
}

#[test]
fn invite_client_retransmits_on_timer_a_and_times_out_with_timer_b() {
    let mut n = net();
    let sent = n.send_str(ALICE, &invite(BOB_URI, "call-b", "z9hG4bKtb"));
    let first = one(&sent, BOB, "INVITE");
    let later = n.advance(Duration::from_secs(33));
    let resends: Vec<u128> = later
        .iter()
        .filter(|(_, s)| s.is(BOB, "INVITE"))
        .map(|(t, _)| t.as_millis())
        .collect();
    assert_eq!(
        resends,
        vec![500, 1500, 3500, 7500, 15500, 31500],
        "Timer A doubling from T1"
    );
    for (_, s) in later.iter().filter(|(_, s)| s.is(BOB, "INVITE")) {
        assert_eq!(s.bytes, first.bytes, "a retransmission is byte-identical");
    }
    let timeouts: Vec<u128> = later
        .iter()
        .filter(|(_, s)| s.is(ALICE, "408"))
        .map(|(t, _)| t.as_millis())
        .collect();
    // Timer B = 64*T1; then the 408 itself is resent by Timer G until Alice ACKs.
    assert_eq!(timeouts, vec![32_000, 32_500]);
}

#[test]
fn non_invite_client_timer_e_and_f_then_no_408_upstream() {
    let mut n = net();
    let msg = request("MESSAGE", BOB_URI, "call-f", "z9hG4bKtf", 1, None, &[]);
    let sent = n.send_str(ALICE, &msg);
    one(&sent, BOB, "MESSAGE");
    assert!(
        sent.iter().all(|s| s.dest != addr(ALICE)),
        "no 100 for a non-INVITE"
    );
    let later = n.advance(Duration::from_secs(33));
    let resends: Vec<u128> = later
        .iter()
        .filter(|(_, s)| s.is(BOB, "MESSAGE"))
        .map(|(t, _)| t.as_millis())
        .collect();
    assert_eq!(
        &resends[..6],
        &[500, 1500, 3500, 7500, 11500, 15500],
        "Timer E capped at T2"
    );
    assert_eq!(*resends.last().unwrap(), 31500);
    assert!(
        later.iter().all(|(_, s)| s.dest != addr(ALICE)),
        "RFC 4320: no 408 to a non-INVITE"
    );
    n.advance(Duration::from_secs(1));
    assert_eq!(n.proxy.transactions(), 0);
}

#[test]
fn timer_c_cancels_the_branch_and_answers_408() {
    let mut n = net();
    let sent = n.send_str(ALICE, &invite(BOB_URI, "call-c", "z9hG4bKtc"));
    let inv = one(&sent, BOB, "INVITE");
    one(
        &n.send(BOB, &respond(&inv, 180, "Ringing", "b6", &[])),
        ALICE,
        "180",
    );
    // A second provisional at 100 s resets Timer C (180 s).
    n.advance(Duration::from_secs(100));
    one(
        &n.send(BOB, &respond(&inv, 183, "Session Progress", "b6", &[])),
        ALICE,
        "183",
    );
    let later = n.advance(Duration::from_secs(179));
    assert!(
        later.is_empty(),
        "{:?}",
        later
            .iter()
            .map(|(t, s)| (t.as_secs(), s.what()))
            .collect::<Vec<_>>()
    );
    let later = n.advance(Duration::from_millis(1200));
    // Only what left at the Timer C instant (later: Timer E resends the CANCEL, Timer G the 408).
    let at = later.first().map(|(t, _)| *t).unwrap();
    assert_eq!(at.as_millis(), 280_000);
    let sent: Vec<Sent> = later
        .into_iter()
        .filter(|(t, _)| *t == at)
        .map(|(_, s)| s)
        .collect();
    let c = one(&sent, BOB, "CANCEL");
    assert_eq!(
        c.msg().top_via().unwrap().branch,
        inv.msg().top_via().unwrap().branch
    );
    one(&sent, ALICE, "408");
    assert_eq!(n.proxy.stats().timer_c_fired, 1);
    // Bob answers the CANCEL and the INVITE: the 487 is ACKed, not forwarded.
    assert!(n.send(BOB, &respond(&c, 200, "OK", "b6", &[])).is_empty());
    let sent = n.send(BOB, &respond(&inv, 487, "Request Terminated", "b6", &[]));
    assert_eq!(summary(&sent), vec![format!("ACK>{BOB}")]);
}

#[test]
fn cancel_before_any_provisional() {
    let mut n = net();
    let sent = n.send_str(ALICE, &invite(BOB_URI, "call-x1", "z9hG4bKx1"));
    let inv = one(&sent, BOB, "INVITE");
    let sent = n.send_str(ALICE, &cancel(BOB_URI, "call-x1", "z9hG4bKx1"));
    one(&sent, ALICE, "200/CANCEL");
    one(&sent, ALICE, "487");
    assert!(
        sent.iter().all(|s| s.dest != addr(BOB)),
        "no CANCEL before a provisional (§9.1)"
    );
    // The provisional arrives later: now the CANCEL goes, and the 180 is not forwarded.
    let sent = n.send(BOB, &respond(&inv, 180, "Ringing", "b7", &[]));
    assert_eq!(summary(&sent), vec![format!("CANCEL>{BOB}")]);
    let sent = n.send(BOB, &respond(&inv, 487, "Request Terminated", "b7", &[]));
    assert_eq!(summary(&sent), vec![format!("ACK>{BOB}")]);
}

#[test]
fn cancel_after_provisional() {
    let mut n = net();
    let sent = n.send_str(ALICE, &invite(BOB_URI, "call-x2", "z9hG4bKx2"));
    let inv = one(&sent, BOB, "INVITE");
    n.send(BOB, &respond(&inv, 180, "Ringing", "b8", &[]));
    let sent = n.send_str(ALICE, &cancel(BOB_URI, "call-x2", "z9hG4bKx2"));
    one(&sent, ALICE, "200/CANCEL");
    let c = one(&sent, BOB, "CANCEL");
    let cm = c.msg();
    assert_eq!(cm.request_uri(), inv.msg().request_uri());
    assert_eq!(cm.cseq().unwrap().seq, 1);
    assert_eq!(cm.vias().count(), 1, "a CANCEL carries only our Via");
    assert!(
        sent.iter().all(|s| !s.is(ALICE, "487")),
        "waits for the branch's 487"
    );
    assert!(n.send(BOB, &respond(&c, 200, "OK", "b8", &[])).is_empty());
    let sent = n.send(BOB, &respond(&inv, 487, "Request Terminated", "b8", &[]));
    one(&sent, BOB, "ACK");
    one(&sent, ALICE, "487");
    // A retransmitted CANCEL is answered again and changes nothing.
    let sent = n.send_str(ALICE, &cancel(BOB_URI, "call-x2", "z9hG4bKx2"));
    assert_eq!(summary(&sent), vec![format!("200/CANCEL>{ALICE}")]);
}

#[test]
fn cancel_racing_a_200() {
    // The 200 wins: the CANCEL gets its 200 and nothing else happens.
    let mut n = net();
    let sent = n.send_str(ALICE, &invite(BOB_URI, "call-x3", "z9hG4bKx3"));
    let inv = one(&sent, BOB, "INVITE");
    n.send(BOB, &respond(&inv, 180, "Ringing", "b9", &[]));
    one(
        &n.send(BOB, &respond(&inv, 200, "OK", "b9", &[])),
        ALICE,
        "200",
    );
    let sent = n.send_str(ALICE, &cancel(BOB_URI, "call-x3", "z9hG4bKx3"));
    assert_eq!(summary(&sent), vec![format!("200/CANCEL>{ALICE}")]);

    // The CANCEL wins downstream but Bob had already answered: the 200 still goes up.
    let sent = n.send_str(ALICE, &invite(BOB_URI, "call-x4", "z9hG4bKx4"));
    let inv = one(&sent, BOB, "INVITE");
    n.send(BOB, &respond(&inv, 180, "Ringing", "b10", &[]));
    let sent = n.send_str(ALICE, &cancel(BOB_URI, "call-x4", "z9hG4bKx4"));
    one(&sent, BOB, "CANCEL");
    let sent = n.send(BOB, &respond(&inv, 200, "OK", "b10", &[]));
    one(&sent, ALICE, "200");
    assert!(sent.iter().all(|s| !s.is(ALICE, "487")));
}

#[test]
fn unmatched_cancel_and_2xx_ack_are_forwarded_statelessly() {
    let mut n = net();
    let sent = n.send_str(ALICE, &cancel(BOB_URI, "call-nomatch", "z9hG4bKnm"));
    let c = one(&sent, BOB, "CANCEL");
    assert!(c
        .msg()
        .top_via()
        .unwrap()
        .branch
        .unwrap()
        .starts_with(b"z9hG4bKrs"));
    assert_eq!(n.proxy.transactions(), 0);
    assert_eq!(n.proxy.stats().stateless_requests, 1);
}

#[test]
fn response_for_another_worker_is_handed_off() {
    let mut cfg = config();
    cfg.workers = 2;
    let mut n = Net::new(cfg.clone(), RelayToRequestUri);
    let sent = n.send_str(ALICE, &invite(BOB_URI, "call-h", "z9hG4bKh1"));
    let inv = one(&sent, BOB, "INVITE");
    // The same INVITE as forwarded by worker 1: rewrite the worker field of our branch.
    let text = inv.text();
    let b = inv.msg().top_via().unwrap().branch.unwrap().to_vec();
    let mut other = b.clone();
    other[17..21].copy_from_slice(b"0001");
    let text = text.replace(
        std::str::from_utf8(&b).unwrap(),
        std::str::from_utf8(&other).unwrap(),
    );
    let fake = Sent {
        dest: inv.dest,
        bytes: text.into_bytes(),
    };
    let (sent, handoffs) = n.send_with_handoffs(BOB, &respond(&fake, 180, "Ringing", "b11", &[]));
    assert!(sent.is_empty());
    assert_eq!(handoffs.len(), 1);
    assert_eq!(handoffs[0].0, 1);
    assert_eq!(n.proxy.stats().handoffs, 1);
}

#[test]
fn full_table_answers_503_with_retry_after() {
    let mut cfg = config();
    cfg.max_transactions = 1;
    let mut n = Net::new(cfg, RelayToRequestUri);
    one(
        &n.send_str(ALICE, &invite(BOB_URI, "call-t1", "z9hG4bKf1")),
        BOB,
        "INVITE",
    );
    let sent = n.send_str(ALICE, &invite(BOB_URI, "call-t2", "z9hG4bKf2"));
    let busy = one(&sent, ALICE, "503");
    assert_eq!(busy.header(HeaderName::RetryAfter).as_deref(), Some("5"));
    assert!(busy.msg().to().unwrap().tag.is_some());
    assert_eq!(sent.len(), 1);
    assert_eq!(n.proxy.stats().table_full, 1);
    // Its ACK is recognised by our To tag and absorbed.
    let ack = ack_non2xx(BOB_URI, "call-t2", "z9hG4bKf2", &busy);
    assert!(n.send_str(ALICE, &ack).is_empty());
}

#[test]
fn bytes_per_transaction_are_reported() {
    let mut n = net();
    n.send_str(ALICE, &invite(BOB_URI, "call-m", "z9hG4bKm1"));
    let bytes = n.proxy.transaction_bytes();
    assert!(bytes > 400 && bytes < 8192, "{bytes}");
}

#[test]
fn a_487_carrying_only_our_via_still_reaches_the_caller_with_hers() {
    let mut n = net();
    let sent = n.send_str(ALICE, &invite(BOB_URI, "call-v", "z9hG4bKv1"));
    let inv = one(&sent, BOB, "INVITE");
    n.send(BOB, &respond(&inv, 180, "Ringing", "b12", &[]));
    let sent = n.send_str(ALICE, &cancel(BOB_URI, "call-v", "z9hG4bKv1"));
    let c = one(&sent, BOB, "CANCEL");
    n.send(BOB, &respond(&c, 200, "OK", "b12", &[]));
    // A sloppy UAS builds its 487 from the CANCEL: only the proxy's Via.
    let bad = String::from_utf8(respond(&c, 487, "Request Terminated", "b12", &[]))
        .unwrap()
        .replace("CSeq: 1 CANCEL", "CSeq: 1 INVITE");
    let sent = n.send_str(BOB, &bad);
    let up = one(&sent, ALICE, "487");
    let via = up.msg().top_via().unwrap();
    assert_eq!(via.branch, Some(&b"z9hG4bKv1"[..]));
    assert_eq!(up.msg().vias().count(), 1);
}

#[test]
fn handed_off_response_is_processed_by_the_owning_worker() {
    let mut cfg0 = config();
    cfg0.workers = 2;
    let mut cfg1 = cfg0.clone();
    cfg1.worker = 1;
    let mut w0 = Net::new(cfg0, RelayToRequestUri);
    let mut w1 = Net::new(cfg1, RelayToRequestUri);
    // Worker 1 owns the INVITE; Bob's 180 happens to be read by worker 0.
    let sent = w1.send_str(ALICE, &invite(BOB_URI, "call-ho", "z9hG4bKho"));
    let inv = one(&sent, BOB, "INVITE");
    let ringing = respond(&inv, 180, "Ringing", "b13", &[]);
    let (sent, handoffs) = w0.send_with_handoffs(BOB, &ringing);
    assert!(sent.is_empty());
    assert_eq!(handoffs.len(), 1);
    assert_eq!(handoffs[0].0, 1);
    let sent = w1.send_handed_off(BOB, &handoffs[0].1);
    one(&sent, ALICE, "180");
    // A handed-off datagram is never handed on again (no ping-pong between workers).
    let (sent, again) = w0.send_handed_off_with_handoffs(BOB, &ringing);
    assert!(sent.is_empty() && again.is_empty());
}

#[test]
fn rfc2543_peer_without_branch_is_matched_by_dialog_fields() {
    let mut n = net();
    let inv = invite(BOB_URI, "call-2543", "x").replace(";branch=x;rport", "");
    let sent = n.send_str(ALICE, &inv);
    let fwd = one(&sent, BOB, "INVITE");
    // The retransmission is recognised without a branch.
    assert_eq!(
        summary(&n.send_str(ALICE, &inv)),
        vec![format!("100>{ALICE}")]
    );
    let sent = n.send(BOB, &respond(&fwd, 404, "Not Found", "b14", &[]));
    let nf = one(&sent, ALICE, "404");
    // The ACK (same Via, no branch) is absorbed.
    let ack = ack_non2xx(BOB_URI, "call-2543", "x", &nf).replace(";branch=x;rport", "");
    assert!(n.send_str(ALICE, &ack).is_empty());
    assert_eq!(n.proxy.transactions(), 1);
}
