//! Digit trie for prefix routes: longest-prefix match over `0-9`.
//!
//! ```text
//!   nodes[0] (root, catch-all route if any)
//!     ├─'4'─► n1 ─'9'─► n2 (route "49")
//!     │                  └─'1'─► n3 ─'7'─► n4 (route "4917")
//!     └─'1'─► n5 (route "1")
//! ```
//! Nodes live in one `Vec`; a child index of 0 means "no child" (the root is never a child).
//! A lookup walks at most one node per dialled digit and remembers the deepest node that
//! carries a route, so it costs O(digits) with no allocation. The trie is built once per
//! snapshot and never changes afterwards.

const NO_ROUTE: u32 = u32::MAX;

#[derive(Clone, Debug)]
struct Node {
    child: [u32; 10],
    route: u32,
}

impl Node {
    const EMPTY: Node = Node {
        child: [0; 10],
        route: NO_ROUTE,
    };
}

/// Maps digit prefixes to a route index.
#[derive(Clone, Debug)]
pub struct DigitTrie {
    nodes: Vec<Node>,
}

impl Default for DigitTrie {
    fn default() -> Self {
        DigitTrie {
            nodes: vec![Node::EMPTY],
        }
    }
}

impl DigitTrie {
    /// Insert `prefix` (digits only; empty = catch-all). Returns the route index already
    /// stored for exactly this prefix, if any, and leaves it in place.
    pub fn insert(&mut self, prefix: &[u8], route: u32) -> Result<(), u32> {
        let mut n = 0usize;
        for &d in prefix {
            debug_assert!(d.is_ascii_digit());
            let k = usize::from(d - b'0');
            let next = self.nodes[n].child[k];
            n = if next == 0 {
                let idx = self.nodes.len();
                self.nodes.push(Node::EMPTY);
                self.nodes[n].child[k] = idx as u32;
                idx
            } else {
                next as usize
            };
        }
        match self.nodes[n].route {
            NO_ROUTE => {
                self.nodes[n].route = route;
                Ok(())
            }
            existing => Err(existing),
        }
    }

    /// Longest stored prefix of `digits`. The walk stops at the first byte that is not a
    /// digit (a `;` parameter, a `#`): what matched up to there stands.
    #[inline]
    pub fn longest_match(&self, digits: &[u8]) -> Option<u32> {
        let mut n = 0usize;
        let mut best = self.nodes[0].route;
        for &d in digits {
            let k = d.wrapping_sub(b'0');
            if k > 9 {
                break;
            }
            let next = self.nodes[n].child[usize::from(k)];
            if next == 0 {
                break;
            }
            n = next as usize;
            if self.nodes[n].route != NO_ROUTE {
                best = self.nodes[n].route;
            }
        }
        (best != NO_ROUTE).then_some(best)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_prefix_wins() {
        let mut t = DigitTrie::default();
        t.insert(b"49", 1).unwrap();
        t.insert(b"4917", 2).unwrap();
        t.insert(b"1", 3).unwrap();
        assert_eq!(t.longest_match(b"4930123"), Some(1));
        assert_eq!(t.longest_match(b"49171234"), Some(2));
        assert_eq!(t.longest_match(b"491"), Some(1));
        assert_eq!(t.longest_match(b"4"), None);
        assert_eq!(t.longest_match(b"33"), None);
        assert_eq!(t.longest_match(b""), None);
        assert_eq!(t.insert(b"49", 9), Err(1));
        t.insert(b"", 0).unwrap();
        assert_eq!(t.longest_match(b"33"), Some(0));
        assert_eq!(t.longest_match(b"49;x"), Some(1));
    }
}
