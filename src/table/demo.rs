//! The embedded demo table (`tables/demo.table`): serves `localhost` and `127.0.0.1` with
//! a handful of users whose passwords are public, so `ringlet run` works out of the box on
//! loopback. [`ForwardingSnapshot::is_demo`] lets the runtime refuse any other address.

use std::path::Path;

use super::snapshot::ForwardingSnapshot;
use super::TableError;

/// The demo table's text.
pub const DEMO_TABLE: &str = include_str!("../../tables/demo.table");

/// `(user@domain, password)` of every demo subscriber; realm = domain = `localhost`.
/// The README prints these; a test proves the table's HA1s match them.
pub const DEMO_PASSWORDS: &[(&str, &str)] = &[
    ("alice@localhost", "wonderland"),
    ("bob@localhost", "builder"),
    ("carol@localhost", "singer"),
    ("dave@localhost", "diver"),
    ("voicemail@localhost", "voicemail"),
];

impl ForwardingSnapshot {
    /// The embedded demo table, flagged as such.
    pub fn demo() -> ForwardingSnapshot {
        Self::try_demo().unwrap_or_else(|e| {
            // The text is part of the binary and a unit test compiles it; reaching this
            // means the build itself is broken, not the operator's input.
            panic!("embedded demo table is invalid: {e}")
        })
    }

    fn try_demo() -> Result<ForwardingSnapshot, TableError> {
        let mut snap = ForwardingSnapshot::parse(DEMO_TABLE, Path::new("(demo table)"))?;
        snap.demo = true;
        Ok(snap)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::ha1;

    #[test]
    fn demo_table_compiles_and_is_flagged() {
        let snap = ForwardingSnapshot::try_demo().unwrap();
        assert!(snap.is_demo());
        assert!(snap.is_local_domain(b"localhost"));
        assert!(snap.is_local_domain(b"127.0.0.1"));
        assert_eq!(snap.subscribers().len(), DEMO_PASSWORDS.len());
    }

    #[test]
    fn demo_ha1s_match_documented_passwords() {
        let snap = ForwardingSnapshot::demo();
        for (aor, password) in DEMO_PASSWORDS {
            let (user, domain) = aor.split_once('@').unwrap();
            let s = snap.subscriber(user.as_bytes(), domain.as_bytes()).unwrap();
            assert_eq!(
                s.ha1_md5,
                Some(ha1::ha1_md5(user, domain, password)),
                "{aor} md5"
            );
            assert_eq!(
                s.ha1_sha256,
                Some(ha1::ha1_sha256(user, domain, password)),
                "{aor} sha256"
            );
        }
    }
}
