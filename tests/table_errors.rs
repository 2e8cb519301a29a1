//! Every validation error refuses the file and names the line, the item and the reason.

use std::path::Path;

use ringlet::table::{ForwardingSnapshot, TableError};

/// A valid table; its lines are numbered 1..=9. Each case appends lines after it.
const BASE: &str = "\
domain example.com
user alice@example.com md5=0123456789abcdef0123456789abcdef
user bob@example.com md5=0123456789abcdef0123456789abcdef groups=pstn
alias 100@example.com alice@example.com
did +4930100 bob@example.com
gateway gw1 127.0.0.1:5080
route 49 gw1
peer 127.0.0.2
forward bob@example.com busy sip:vm@example.com
";
const BASE_LINES: u32 = 9;

fn refuse(extra: &str) -> TableError {
    let text = format!("{BASE}{extra}");
    match ForwardingSnapshot::parse(&text, Path::new("table")) {
        Ok(_) => panic!("accepted: {extra:?}"),
        Err(e) => e,
    }
}

/// (appended lines, offset of the bad line within them, field contains, reason contains)
const CASES: &[(&str, u32, &str, &str)] = &[
    ("frobnicate x\n", 1, "", "unknown directive"),
    ("\n# comment\nuser x@example.com md5=123\n", 3, "subscriber \"x@example.com\"", "md5 must be 32 hex digits"),
    ("user x@example.com md5=0123456789abcdef0123456789abcdeg\n", 1, "subscriber", "md5 must be 32 hex digits"),
    ("user x@example.com sha256=00\n", 1, "subscriber", "sha256 must be 64 hex digits"),
    ("user x@example.com groups=pstn\n", 1, "subscriber \"x@example.com\"", "needs md5= or sha256="),
    ("user x@example.com md5=0123456789abcdef0123456789abcdef enabled=maybe\n", 1, "subscriber", "enabled must be yes or no"),
    ("user x@example.com md5=0123456789abcdef0123456789abcdef color=red\n", 1, "subscriber", "unknown attribute"),
    ("user x@example.com md5=0123456789abcdef0123456789abcdef md5=0123456789abcdef0123456789abcdef\n", 1, "subscriber", "given twice"),
    ("user x@example.org md5=0123456789abcdef0123456789abcdef\n", 1, "subscriber \"x@example.org\"", "unknown domain"),
    ("user alice@EXAMPLE.com md5=0123456789abcdef0123456789abcdef\n", 1, "subscriber \"alice@example.com\"", "duplicate subscriber (first at line 2)"),
    ("user al ice@example.com\n", 1, "subscriber", "must be user@domain"),
    ("user a<b@example.com md5=0123456789abcdef0123456789abcdef\n", 1, "subscriber", "not a valid SIP user part"),
    ("domain bad_domain.com\n", 1, "domain \"bad_domain.com\"", "not a valid host name"),
    ("domain Example.COM\n", 1, "domain \"example.com\"", "listed twice (first at line 1)"),
    ("alias 200@example.com carol@example.com\n", 1, "alias \"200@example.com\"", "is not a subscriber"),
    ("alias bob@example.com alice@example.com\n", 1, "alias \"bob@example.com\"", "collides with the subscriber at line 3"),
    ("alias 100@example.com bob@example.com\n", 1, "alias \"100@example.com\"", "duplicate alias (first at line 4)"),
    ("alias 100@example.net alice@example.com\n", 1, "alias \"100@example.net\"", "unknown domain"),
    ("did 12a alice@example.com\n", 1, "did \"12a\"", "must be digits"),
    ("did +4930100 alice@example.com\n", 1, "did \"+4930100\"", "duplicate DID (first at line 5)"),
    ("did 100 alice@example.com\n", 1, "did \"100\"", "collides with alias"),
    ("did alice bob@example.com\n", 1, "did \"alice\"", "must be digits"),
    ("did 555 nobody@example.com\n", 1, "did \"555\"", "is not a subscriber"),
    ("forward nobody@example.com busy sip:vm@example.com\n", 1, "forward for \"nobody@example.com\"", "is not a subscriber"),
    ("forward bob@example.com sometimes sip:vm@example.com\n", 1, "forward for", "not one of always"),
    ("forward bob@example.com always http://vm.example.com\n", 1, "forward for", "must start with sip:"),
    ("forward bob@example.com always sip:vm@bad_host\n", 1, "forward for", "invalid host"),
    ("forward bob@example.com busy sip:other@example.com\n", 1, "forward for", "busy given twice (first at line 9)"),
    ("forward bob@example.com no-answer sip:vm@example.com timeout=0\n", 1, "forward for", "timeout must be 1 to"),
    ("forward bob@example.com always sip:vm@example.com timeout=5\n", 1, "forward for", "only to no-answer"),
    ("voicemail default sip:vm@example.com\nvoicemail default sip:vm2@example.com\n", 2, "voicemail default", "given twice (first at line 10)"),
    ("voicemail nobody@example.com sip:vm@example.com\n", 1, "voicemail for", "is not a subscriber"),
    ("voicemail alice@example.com not-a-uri\n", 1, "voicemail for", "must start with sip:"),
    ("peer 300.1.2.3\n", 1, "peer \"300.1.2.3\"", "not an IP address"),
    ("peer gw.example.com\n", 1, "peer", "not an IP address"),
    ("peer 127.0.0.3:0\n", 1, "peer", "not an IP address"),
    ("peer 127.0.0.3 transport=sctp\n", 1, "peer", "transport must be"),
    ("peer 127.0.0.2\n", 1, "peer \"127.0.0.2\"", "duplicate peer (first at line 8)"),
    ("gateway gw1 127.0.0.9\n", 1, "gateway \"gw1\"", "duplicate gateway name (first at line 6)"),
    ("gateway gw2 127.0.0.1:99999\n", 1, "gateway \"gw2\"", "is not HOST[:PORT]"),
    ("gateway gw2 127.0.0.1 strip=99\n", 1, "gateway \"gw2\"", "strip must be"),
    ("gateway gw2 127.0.0.1 prefix=12x\n", 1, "gateway \"gw2\"", "prefix must be"),
    ("gateway 2gw 127.0.0.1\n", 1, "gateway \"2gw\"", "name must start with a letter"),
    ("route 33 gw9\n", 1, "route \"33\"", "gateway \"gw9\" is not defined"),
    ("route 49 gw1\n", 1, "route \"49\"", "duplicate prefix (first at line 7)"),
    ("route 4x gw1\n", 1, "route \"4x\"", "prefix must be"),
    ("route 33\n", 1, "route \"33\"", "needs at least one gateway"),
    ("route 33 gw1 gw1\n", 1, "route \"33\"", "listed twice"),
    ("international-prefix 00\ninternational-prefix 011\n", 2, "international-prefix", "given twice"),
    ("international-prefix +\n", 1, "international-prefix", "must be 1 to 8 digits"),
];

#[test]
fn every_error_names_its_line_item_and_reason() {
    for (extra, offset, field, reason) in CASES {
        let e = refuse(extra);
        assert_eq!(e.line, BASE_LINES + offset, "line for {extra:?}: {e}");
        assert!(e.field.contains(field), "field for {extra:?}: {e}");
        assert!(e.reason.contains(reason), "reason for {extra:?}: {e}");
        assert_eq!(e.file, Path::new("table"));
    }
}

#[test]
fn display_is_file_line_item_reason() {
    let e = refuse("user x@example.com md5=123\n");
    assert_eq!(
        e.to_string(),
        "table:10: subscriber \"x@example.com\": md5 must be 32 hex digits (got 3)"
    );
    let e = refuse("frobnicate\n");
    assert!(
        e.to_string()
            .starts_with("table:10: unknown directive \"frobnicate\""),
        "{e}"
    );
}

#[test]
fn references_may_come_before_definitions() {
    let text = "route * later\nalias x@d.example u@d.example\nuser u@d.example md5=0123456789abcdef0123456789abcdef\ndomain d.example\ngateway later 127.0.0.1\n";
    let s = ForwardingSnapshot::parse(text, Path::new("t")).unwrap();
    assert!(s.resolve_alias(b"x", b"d.example").is_some());
}

#[test]
fn check_lists_every_error_in_line_order() {
    let text = format!("{BASE}route 33 nowhere\nfrobnicate\nuser y@nowhere.example md5=0123456789abcdef0123456789abcdef\n");
    let errors = ForwardingSnapshot::check(&text, Path::new("t")).unwrap_err();
    let lines: Vec<u32> = errors.iter().map(|e| e.line).collect();
    assert_eq!(lines, [10, 11, 12]);
}

#[test]
fn too_many_groups_is_refused() {
    let mut text = String::from("domain d.example\n");
    for i in 0..65 {
        text.push_str(&format!(
            "user u{i}@d.example md5=0123456789abcdef0123456789abcdef groups=g{i}\n"
        ));
    }
    let e = ForwardingSnapshot::parse(&text, Path::new("t")).unwrap_err();
    assert_eq!(e.line, 66);
    assert!(e.reason.contains("more than 64 distinct groups"), "{e}");
}

#[test]
fn non_utf8_file_names_its_line() {
    let dir = std::env::temp_dir().join(format!("ringlet-table-utf8-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("t.table");
    std::fs::write(&path, b"domain a.example\n# caf\xe9\n").unwrap();
    let e = ForwardingSnapshot::from_file(&path).unwrap_err();
    assert_eq!(e.line, 2);
    assert!(e.reason.contains("UTF-8"));
    let e = ForwardingSnapshot::from_file(&dir.join("missing.table")).unwrap_err();
    assert_eq!(e.line, 0);
    std::fs::remove_dir_all(&dir).unwrap();
}
