//! Lingering transactions (RFC 3261 Timer J/K, RFC 6026 Accepted): once a transaction has
//! its final answer and no branch can rebuild its request, the proxy releases the request
//! copy and keeps only what absorbing retransmissions needs. These tests check that the
//! memory goes and the behaviour stays.

#[path = "harness/proxy.rs"]
mod harness;

use std::time::Duration;

use harness::*;
use ringlet::endpoint::Endpoint;
use ringlet::proxy::RelayToRequestUri;

const BOB_URI: &str = "sip:bob@127.0.0.3:5060";

fn net() -> Net<RelayToRequestUri> {
    Net::new(config(), RelayToRequestUri)
}

#[test]
fn completed_bye_resends_its_200_after_the_request_copy_is_released() {
    let mut n = net();
    let sent = n.send_str(ALICE, &invite(BOB_URI, "linger-1", "z9hG4bKl1"));
    let inv = one(&sent, BOB, "INVITE");
    one(
        &n.send(BOB, &respond(&inv, 200, "OK", "b1", &[])),
        ALICE,
        "200",
    );
    // The BYE's sent-by is a host name, so its case may change on a retransmission
    // (RFC 3261 §17.2.3 compares hosts without regard to case).
    let bye = request("BYE", BOB_URI, "linger-1", "z9hG4bKl3", 2, Some("b1"), &[])
        .replace("UDP 127.0.0.2:5060", "UDP alice.test:5060");
    let sent = n.send_str(ALICE, &bye);
    let fbye = one(&sent, BOB, "BYE");
    let in_flight = n.proxy.transaction_bytes();
    let sent = n.send(BOB, &respond(&fbye, 200, "OK", "b1", &[]));
    let ok = one(&sent, ALICE, "200/BYE");
    let lingering = n.proxy.transaction_bytes();
    // Completed: it now holds the 200 (to resend) but no longer the BYE.
    assert!(
        lingering + bye.len() <= in_flight + ok.bytes.len(),
        "request copy released: {in_flight} B in flight, {lingering} B lingering, \
         BYE {} B, 200 {} B",
        bye.len(),
        ok.bytes.len()
    );
    // A retransmitted BYE (sent-by in another case) gets the same 200, byte for byte, and
    // nothing goes to Bob.
    let again = n.send_str(
        ALICE,
        &bye.replace("UDP alice.test:5060", "UDP ALICE.Test:5060"),
    );
    assert_eq!(again.len(), 1, "{:?}", summary(&again));
    assert_eq!(one(&again, ALICE, "200/BYE").bytes, ok.bytes);
    // Bob's retransmitted 200 is absorbed by the client transaction (Timer K).
    assert!(n
        .send(BOB, &respond(&fbye, 200, "OK", "b1", &[]))
        .is_empty());
    n.advance(Duration::from_secs(40));
    assert_eq!(n.proxy.transactions(), 0);
    assert_eq!(n.proxy.next_timeout(), None);
}

#[test]
fn accepted_invite_still_absorbs_forwards_2xx_and_passes_ack_once_released() {
    let mut n = net();
    let invite_text = invite(BOB_URI, "linger-2", "z9hG4bKl2");
    let sent = n.send_str(ALICE, &invite_text);
    let inv = one(&sent, BOB, "INVITE");
    one(
        &n.send(BOB, &respond(&inv, 180, "Ringing", "b2", &[])),
        ALICE,
        "180",
    );
    let proceeding = n.proxy.transaction_bytes();
    let first = one(
        &n.send(BOB, &respond(&inv, 200, "OK", "b2", &[])),
        ALICE,
        "200",
    );
    let accepted = n.proxy.transaction_bytes();
    assert_eq!(n.proxy.transactions(), 1, "kept for RFC 6026 Accepted");
    assert!(
        accepted + invite_text.len() <= proceeding,
        "request copy released: {proceeding} B proceeding, {accepted} B accepted"
    );
    // INVITE retransmission: absorbed (RFC 6026 §7.1).
    assert!(n.send_str(ALICE, &invite_text).is_empty());
    // 2xx retransmission from Bob: forwarded upstream again, unchanged.
    let again = n.send(BOB, &respond(&inv, 200, "OK", "b2", &[]));
    assert_eq!(one(&again, ALICE, "200").bytes, first.bytes);
    // The ACK for the 2xx goes end to end.
    let ack = request("ACK", BOB_URI, "linger-2", "z9hG4bKl2a", 1, Some("b2"), &[]);
    one(&n.send_str(ALICE, &ack), BOB, "ACK");
    n.advance(Duration::from_secs(40));
    assert_eq!(n.proxy.transactions(), 0);
}

#[test]
fn failed_invite_keeps_its_request_for_the_ack_of_a_retransmitted_final() {
    let mut n = net();
    let sent = n.send_str(ALICE, &invite(BOB_URI, "linger-3", "z9hG4bKl4"));
    let inv = one(&sent, BOB, "INVITE");
    let sent = n.send(BOB, &respond(&inv, 486, "Busy Here", "b3", &[]));
    let ack = one(&sent, BOB, "ACK");
    let busy = one(&sent, ALICE, "486");
    // Alice's ACK ends her side; the client side (Timer D) must still ACK a retransmitted
    // 486, which is rebuilt from the request copy.
    assert!(n
        .send_str(ALICE, &ack_non2xx(BOB_URI, "linger-3", "z9hG4bKl4", &busy))
        .is_empty());
    n.advance(Duration::from_secs(10));
    let sent = n.send(BOB, &respond(&inv, 486, "Busy Here", "b3", &[]));
    assert_eq!(one(&sent, BOB, "ACK").bytes, ack.bytes);
    n.advance(Duration::from_secs(40));
    assert_eq!(n.proxy.transactions(), 0);
}
