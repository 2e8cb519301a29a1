//! Arbitrary text never panics the table compiler; errors always carry a real line.

use std::path::Path;

use proptest::prelude::*;
use ringlet::table::ForwardingSnapshot;

/// Lines built from the table's own vocabulary, so the fuzzer reaches deep into
/// validation instead of stopping at "unknown directive".
fn line() -> impl Strategy<Value = String> {
    let keyword = prop::sample::select(vec![
        "domain",
        "user",
        "alias",
        "did",
        "forward",
        "voicemail",
        "peer",
        "gateway",
        "route",
        "international-prefix",
        "#",
        "",
    ]);
    let word = prop::sample::select(vec![
        "a@d.example",
        "b@d.example",
        "x@e.example",
        "d.example",
        "E.EXAMPLE",
        "md5=0123456789abcdef0123456789abcdef",
        "md5=12",
        "sha256=",
        "groups=pstn,intl",
        "enabled=no",
        "busy",
        "no-answer",
        "always",
        "sip:vm@d.example",
        "tel:+49",
        "timeout=20",
        "timeout=0",
        "default",
        "127.0.0.1",
        "[::1]:5060",
        "127.0.0.1:0",
        "gw",
        "gw:5060",
        "strip=2",
        "prefix=+",
        "*",
        "49",
        "4",
        "+4930",
        "transport=udp",
        "name=x",
        "=",
        "@",
        "%",
        "\u{e9}",
        "#c",
    ]);
    (keyword, prop::collection::vec(word, 0..5)).prop_map(|(k, ws)| format!("{k} {}", ws.join(" ")))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn vocabulary_lines_never_panic(lines in prop::collection::vec(line(), 0..25)) {
        let text = lines.join("\n");
        let n = text.lines().count() as u32;
        match ForwardingSnapshot::check(&text, Path::new("fuzz")) {
            Ok(s) => {
                // Whatever compiled answers lookups without panicking.
                let _ = s.subscriber(b"a", b"d.example");
                let _ = s.resolve(b"+4930", b"D.EXAMPLE");
                let _ = s.route_for_number(b"4930");
                prop_assert!(s.counts().subscribers <= lines.len());
            }
            Err(errors) => {
                prop_assert!(!errors.is_empty());
                for e in errors {
                    prop_assert!(e.line >= 1 && e.line <= n, "{}", e);
                }
            }
        }
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,400}") {
        let _ = ForwardingSnapshot::check(&text, Path::new("fuzz"));
    }
}
