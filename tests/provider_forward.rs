//! Call forwarding and voicemail through `StatefulProxy<ProviderRouter>` (issue 7): always,
//! busy (486, 600), no answer (timeout, 408, 480), unavailable (no binding), cancellation,
//! chains, loops, failing targets, and the voicemail Request-URI and Diversion header.

#[path = "harness/provider.rs"]
mod harness;

use std::time::Duration;

use harness::*;

/// carol's voicemail: R-URI user `<prefix>carol`, one Diversion line naming carol.
fn assert_voicemail(inv: &Sent, prefix: &str, reason: &str) {
    assert_eq!(
        inv.ruri(),
        format!("sip:{prefix}carol@127.0.0.9:5070"),
        "{}",
        inv.text()
    );
    assert_eq!(
        inv.header_lines("Diversion"),
        vec![format!(
            "<sip:carol@example.test>;reason={reason};counter=1"
        )],
        "{}",
        inv.text()
    );
}

fn call_carol(net: &mut Net, id: &str) -> (Call, Sent) {
    net.register("carol", CAROL1, None);
    let call = Call::new("alice", ALICE, "sip:carol@example.test", id);
    let sent = call.start(net);
    let inv = one(&sent, CAROL1, "INVITE");
    (call, inv)
}

#[test]
fn forward_always_never_rings_the_subscriber() {
    let mut net = Net::new();
    net.register("dave", DAVE, None);
    net.register("bob", BOB1, None);
    let sent = Call::new("alice", ALICE, "sip:dave@example.test", "f1").start(&mut net);
    none(&sent, DAVE, "INVITE");
    let inv = one(&sent, BOB1, "INVITE");
    assert_eq!(inv.ruri(), "sip:bob@127.0.0.3:5060");
    assert_eq!(
        inv.header_lines("Diversion"),
        vec!["<sip:dave@example.test>;reason=unconditional;counter=1"]
    );
    let sent = answer(&mut net, &inv, 200, "OK");
    one(&sent, ALICE, "200");
}

#[test]
fn busy_486_goes_to_voicemail_with_b_mailbox() {
    let mut net = Net::new();
    let (_call, inv) = call_carol(&mut net, "f2");
    let sent = answer(&mut net, &inv, 486, "Busy Here");
    one(&sent, CAROL1, "ACK");
    none(&sent, ALICE, "486");
    let vm = one(&sent, VM, "INVITE");
    assert_voicemail(&vm, "b", "user-busy");
    let sent = answer(&mut net, &vm, 200, "OK");
    one(&sent, ALICE, "200");
}

#[test]
fn busy_everywhere_600_is_busy_too() {
    let mut net = Net::new();
    let (_call, inv) = call_carol(&mut net, "f3");
    let sent = answer(&mut net, &inv, 600, "Busy Everywhere");
    assert_voicemail(&one(&sent, VM, "INVITE"), "b", "user-busy");
}

#[test]
fn other_6xx_and_plain_failures_are_not_forwarded() {
    let mut net = Net::new();
    let (_call, inv) = call_carol(&mut net, "f4");
    let sent = answer(&mut net, &inv, 603, "Decline");
    none(&sent, VM, "INVITE");
    one(&sent, ALICE, "603");
    let mut net = Net::new();
    let (_call, inv) = call_carol(&mut net, "f5");
    let sent = answer(&mut net, &inv, 404, "Not Found");
    none(&sent, VM, "INVITE");
    one(&sent, ALICE, "404");
}

#[test]
fn no_answer_within_the_subscribers_timeout_goes_to_voicemail() {
    let mut net = Net::new();
    let (_call, inv) = call_carol(&mut net, "f6");
    let sent = answer(&mut net, &inv, 180, "Ringing");
    one(&sent, ALICE, "180");
    // carol's no-answer timeout is 15 s: nothing happens before.
    let sent = net.advance(Duration::from_millis(14_900));
    none(&sent, VM, "INVITE");
    none(&sent, CAROL1, "CANCEL");
    let sent = net.advance(Duration::from_millis(200));
    one(&sent, CAROL1, "CANCEL");
    assert_voicemail(&one(&sent, VM, "INVITE"), "u", "no-answer");
    none(&sent, ALICE, "408");
}

#[test]
fn answers_408_and_480_are_no_answer() {
    for code in [408, 480] {
        let mut net = Net::new();
        let (_call, inv) = call_carol(&mut net, &format!("f7-{code}"));
        let sent = answer(&mut net, &inv, code, "No");
        assert_voicemail(&one(&sent, VM, "INVITE"), "u", "no-answer");
    }
}

#[test]
fn no_binding_goes_to_the_unavailable_target_at_once() {
    let mut net = Net::new();
    let sent = Call::new("alice", ALICE, "sip:carol@example.test", "f8").start(&mut net);
    none(&sent, ALICE, "480");
    assert_voicemail(&one(&sent, VM, "INVITE"), "u", "unavailable");
}

#[test]
fn caller_cancelling_while_ringing_is_never_forwarded() {
    let mut net = Net::new();
    let (call, inv) = call_carol(&mut net, "f9");
    answer(&mut net, &inv, 180, "Ringing");
    let sent = net.send_str(ALICE, &call.cancel());
    one(&sent, ALICE, "200/CANCEL");
    let cancel = one(&sent, CAROL1, "CANCEL");
    answer(&mut net, &cancel, 200, "OK");
    let sent = answer(&mut net, &inv, 487, "Request Terminated");
    one(&sent, ALICE, "487");
    none(&sent, VM, "INVITE");
    // Nor later, when carol's no-answer timeout would have expired.
    let later = net.settle();
    none(&later, VM, "INVITE");
    assert_eq!(net.contexts(), 0, "the context went with the transaction");
}

#[test]
fn caller_cancelling_while_voicemail_rings_cancels_voicemail() {
    let mut net = Net::new();
    let (call, inv) = call_carol(&mut net, "f10");
    let sent = answer(&mut net, &inv, 486, "Busy Here");
    let vm = one(&sent, VM, "INVITE");
    answer(&mut net, &vm, 180, "Ringing");
    let sent = net.send_str(ALICE, &call.cancel());
    one(&sent, VM, "CANCEL");
    let sent = answer(&mut net, &vm, 487, "Request Terminated");
    one(&sent, ALICE, "487");
}

#[test]
fn forward_to_a_subscriber_who_forwards_again() {
    // erin busy → frank, frank always → bob.
    let mut net = Net::new();
    net.register("erin", ERIN, None);
    net.register("bob", BOB1, None);
    let sent = Call::new("alice", ALICE, "sip:erin@example.test", "f11").start(&mut net);
    let inv = one(&sent, ERIN, "INVITE");
    let sent = answer(&mut net, &inv, 486, "Busy Here");
    let to_bob = one(&sent, BOB1, "INVITE");
    assert_eq!(
        to_bob.header_lines("Diversion"),
        vec![
            "<sip:frank@example.test>;reason=unconditional;counter=2".to_string(),
            "<sip:erin@example.test>;reason=user-busy;counter=1".to_string(),
        ]
    );
    let sent = answer(&mut net, &to_bob, 200, "OK");
    one(&sent, ALICE, "200");
}

fn loop_table() -> String {
    table_text()
        + "user xavier@example.test md5=00000000000000000000000000000000\n\
           user yvonne@example.test md5=00000000000000000000000000000000\n\
           forward xavier@example.test busy sip:yvonne@example.test\n\
           forward yvonne@example.test busy sip:xavier@example.test\n\
           user p@example.test md5=00000000000000000000000000000000\n\
           user q@example.test md5=00000000000000000000000000000000\n\
           forward p@example.test always sip:q@example.test\n\
           forward q@example.test always sip:p@example.test\n"
}

#[test]
fn a_busy_loop_stops_with_the_failure_upstream() {
    let mut net = Net::with(&loop_table(), Default::default());
    net.register("xavier", "127.0.0.40:5060", None);
    net.register("yvonne", "127.0.0.41:5060", None);
    let sent = Call::new("alice", ALICE, "sip:xavier@example.test", "f12").start(&mut net);
    let x = one(&sent, "127.0.0.40:5060", "INVITE");
    let sent = answer(&mut net, &x, 486, "Busy Here");
    let y = one(&sent, "127.0.0.41:5060", "INVITE");
    let sent = answer(&mut net, &y, 486, "Busy Here");
    // xavier was visited already: no new branch, the busy signal goes to the caller.
    none(&sent, "127.0.0.40:5060", "INVITE");
    one(&sent, ALICE, "486");
}

#[test]
fn an_unconditional_loop_is_refused_at_once() {
    let mut net = Net::with(&loop_table(), Default::default());
    net.register("p", "127.0.0.42:5060", None);
    net.register("q", "127.0.0.43:5060", None);
    let sent = Call::new("alice", ALICE, "sip:p@example.test", "f13").start(&mut net);
    one(&sent, ALICE, "482");
    assert_eq!(
        sent.iter().filter(|s| s.what() == "INVITE").count(),
        0,
        "{:?}",
        summary(&sent)
    );
}

#[test]
fn chains_stop_at_the_configured_depth() {
    let mut table = table_text();
    for i in 0..7 {
        table += &format!("user h{i}@example.test md5=00000000000000000000000000000000\n");
        table += &format!(
            "forward h{i}@example.test always sip:h{}@example.test\n",
            i + 1
        );
    }
    table += "user h7@example.test md5=00000000000000000000000000000000\n";
    let mut net = Net::with(&table, Default::default());
    net.register("h7", "127.0.0.44:5060", None);
    let sent = Call::new("alice", ALICE, "sip:h0@example.test", "f14").start(&mut net);
    one(&sent, ALICE, "482");
    // Within the depth it works: h3 → h4 → ... → h7 is four forwards.
    let sent = Call::new("alice", ALICE, "sip:h3@example.test", "f15").start(&mut net);
    let inv = one(&sent, "127.0.0.44:5060", "INVITE");
    assert_eq!(inv.header_lines("Diversion").len(), 4);
}

#[test]
fn a_failing_forward_target_sends_its_own_failure_upstream() {
    let table = table_text().replace(
        "forward carol@example.test busy sip:vm@127.0.0.9:5070",
        "forward carol@example.test busy sip:office@127.0.0.60:5060",
    );
    let mut net = Net::with(&table, Default::default());
    let (_call, inv) = call_carol(&mut net, "f16");
    let sent = answer(&mut net, &inv, 486, "Busy Here");
    let ext = one(&sent, EXTERNAL, "INVITE");
    assert_eq!(ext.ruri(), "sip:office@127.0.0.60:5060");
    let sent = answer(&mut net, &ext, 404, "Not Found");
    one(&sent, ALICE, "404");
    none(&sent, VM, "INVITE");
}

#[test]
fn one_device_busy_and_one_not_answering_is_busy() {
    let mut net = Net::new();
    net.register("carol", CAROL1, None);
    net.register("carol", CAROL2, None);
    let sent = Call::new("alice", ALICE, "sip:carol@example.test", "f17").start(&mut net);
    let a = one(&sent, CAROL1, "INVITE");
    let b = one(&sent, CAROL2, "INVITE");
    answer(&mut net, &b, 180, "Ringing");
    let sent = answer(&mut net, &a, 486, "Busy Here");
    none(&sent, VM, "INVITE");
    let sent = net.advance(Duration::from_millis(15_100));
    one(&sent, CAROL2, "CANCEL");
    assert_voicemail(&one(&sent, VM, "INVITE"), "b", "user-busy");
}

#[test]
fn table_changes_apply_to_the_next_call() {
    let mut net = Net::new();
    let (_call, inv) = call_carol(&mut net, "f18");
    let sent = answer(&mut net, &inv, 486, "Busy Here");
    one(&sent, VM, "INVITE");
    net.load_table(&table_text().replace(
        "forward carol@example.test busy sip:vm@127.0.0.9:5070",
        "forward carol@example.test busy sip:office@127.0.0.60:5060",
    ));
    let call = Call::new("alice", ALICE, "sip:carol@example.test", "f19");
    let inv = one(&call.start(&mut net), CAROL1, "INVITE");
    let sent = answer(&mut net, &inv, 486, "Busy Here");
    none(&sent, VM, "INVITE");
    one(&sent, EXTERNAL, "INVITE");
}

#[test]
fn voicemail_registered_as_a_subscriber_gets_the_mailbox_in_its_contact() {
    let table = table_text().replace("sip:vm@127.0.0.9:5070", "sip:voicemail@example.test")
        + "user voicemail@example.test md5=00000000000000000000000000000000\n";
    let mut net = Net::with(&table, Default::default());
    net.register("voicemail", VM, None);
    let (_call, inv) = call_carol(&mut net, "f20");
    let sent = answer(&mut net, &inv, 486, "Busy Here");
    let vm = one(&sent, VM, "INVITE");
    assert_eq!(vm.ruri(), "sip:bcarol@127.0.0.9:5070");
}

#[test]
fn contexts_do_not_outlive_their_transactions() {
    let mut net = Net::new();
    let (_call, inv) = call_carol(&mut net, "f21");
    assert_eq!(net.contexts(), 1);
    let sent = answer(&mut net, &inv, 486, "Busy Here");
    let vm = one(&sent, VM, "INVITE");
    answer(&mut net, &vm, 200, "OK");
    net.settle();
    assert_eq!(net.contexts(), 0);
    assert_eq!(net.proxy.transactions(), 0);
}

#[test]
fn diversion_counter_continues_from_earlier_diversions() {
    let mut net = Net::new();
    net.register("dave", DAVE, None);
    net.register("bob", BOB1, None);
    let call = Call::new("alice", ALICE, "sip:dave@example.test", "f22");
    let text = call.invite().replace(
        "Contact:",
        "Diversion: <sip:x@carrier.test>;reason=unconditional;counter=1\r\nContact:",
    );
    let sent = net.send_str(ALICE, &text);
    let inv = one(&sent, BOB1, "INVITE");
    assert!(
        inv.header_lines("Diversion")
            .contains(&"<sip:dave@example.test>;reason=unconditional;counter=2".to_string()),
        "{}",
        inv.text()
    );
}
