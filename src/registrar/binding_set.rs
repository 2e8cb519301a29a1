//! The bindings of one AoR as the location table stores them: the first one inline in the
//! hash-table slot (most AoRs have one device), more in a vector.
//!
//! ```text
//!   One(Binding)        1 binding, no extra allocation, no extra pointer to follow
//!   Many(Vec<Binding>)  0 (transient, while a REGISTER is applied) or ≥ 2 bindings
//! ```
//!
//! Invariant: after every mutating call, a set of exactly one binding is `One`. It derefs
//! to a slice, so readers see `&[Binding]` either way.

use std::ops::{Deref, DerefMut};

use super::binding::Binding;

#[derive(Debug, Clone)]
pub(crate) enum BindingSet {
    One(Binding),
    Many(Vec<Binding>),
}

impl Default for BindingSet {
    fn default() -> Self {
        BindingSet::Many(Vec::new())
    }
}

impl Deref for BindingSet {
    type Target = [Binding];
    fn deref(&self) -> &[Binding] {
        match self {
            BindingSet::One(b) => std::slice::from_ref(b),
            BindingSet::Many(v) => v,
        }
    }
}

impl DerefMut for BindingSet {
    fn deref_mut(&mut self) -> &mut [Binding] {
        match self {
            BindingSet::One(b) => std::slice::from_mut(b),
            BindingSet::Many(v) => v,
        }
    }
}

impl BindingSet {
    pub(crate) fn push(&mut self, b: Binding) {
        match std::mem::take(self) {
            BindingSet::Many(v) if v.is_empty() => *self = BindingSet::One(b),
            BindingSet::One(first) => *self = BindingSet::Many(vec![first, b]),
            BindingSet::Many(mut v) => {
                // Exact growth: sets are small, doubling would waste a Binding per slot.
                v.reserve_exact(1);
                v.push(b);
                *self = BindingSet::Many(v);
            }
        }
    }

    pub(crate) fn remove(&mut self, i: usize) {
        match self {
            BindingSet::One(_) if i == 0 => *self = BindingSet::default(),
            BindingSet::One(_) => {}
            BindingSet::Many(v) => {
                if i < v.len() {
                    v.remove(i);
                }
                self.normalize();
            }
        }
    }

    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&Binding) -> bool) {
        match self {
            BindingSet::One(b) => {
                if !keep(b) {
                    *self = BindingSet::default();
                }
            }
            BindingSet::Many(v) => {
                v.retain(|b| keep(b));
                self.normalize();
            }
        }
    }

    /// A copy of `list` in set form: one binding is copied inline (no vector).
    pub(crate) fn copy_of(list: &[Binding]) -> Self {
        match list {
            [one] => BindingSet::One(one.clone()),
            more => BindingSet::Many(more.to_vec()),
        }
    }

    pub(crate) fn clear(&mut self) {
        *self = BindingSet::default();
    }

    /// Bytes held outside the slot: the vector's buffer (the bindings' own byte blocks
    /// are counted by [`Binding::heap_len`]).
    pub(crate) fn vec_bytes(&self) -> usize {
        match self {
            BindingSet::One(_) => 0,
            BindingSet::Many(v) => v.capacity() * std::mem::size_of::<Binding>(),
        }
    }

    /// One binding left in a vector goes back inline (and the vector is freed).
    fn normalize(&mut self) {
        if let BindingSet::Many(v) = self {
            if v.len() == 1 {
                if let Some(b) = v.pop() {
                    *self = BindingSet::One(b);
                }
            } else if v.is_empty() && v.capacity() > 0 {
                *v = Vec::new();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registrar::binding::{BindingFields, BindingFlags};

    fn b(contact: &[u8]) -> Binding {
        Binding::new(&BindingFields {
            contact,
            call_id: b"c",
            path: &[],
            user_agent: b"",
            q: 1000,
            cseq: 1,
            local: 0,
            flags: BindingFlags::default(),
            expires_at_ms: 1000,
            updated_ms: 0,
            received: None,
        })
    }

    fn contacts(s: &BindingSet) -> Vec<&[u8]> {
        s.iter().map(|b| b.contact()).collect()
    }

    #[test]
    fn one_binding_is_always_inline() {
        let mut s = BindingSet::default();
        assert!(s.is_empty());
        s.push(b(b"sip:1"));
        assert!(matches!(s, BindingSet::One(_)));
        s.push(b(b"sip:2"));
        s.push(b(b"sip:3"));
        assert_eq!(contacts(&s), [&b"sip:1"[..], b"sip:2", b"sip:3"]);
        assert_eq!(s.vec_bytes(), 3 * std::mem::size_of::<Binding>());
        s.remove(0);
        assert_eq!(contacts(&s), [&b"sip:2"[..], b"sip:3"]);
        s.retain(|x| x.contact() != b"sip:2");
        assert!(matches!(s, BindingSet::One(_)));
        assert_eq!(s.vec_bytes(), 0);
        s[0] = b(b"sip:4");
        assert_eq!(contacts(&s), [&b"sip:4"[..]]);
        s.remove(1); // out of range: nothing
        assert_eq!(s.len(), 1);
        s.retain(|_| false);
        assert!(s.is_empty());
        s.push(b(b"sip:5"));
        s.push(b(b"sip:6"));
        s.clear();
        assert!(s.is_empty() && s.vec_bytes() == 0);
    }
}
