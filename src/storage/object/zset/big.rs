//! [`Big`]: a sorted set past its compact encoding — the ordered [`Tree`]
//! of `(score, member)` items, and beside it a member → score index, a
//! [`Table`] (so it grows in steps as big hashes and sets do, and ZSCAN
//! walks it by stable bucket indexes). As Redis's dict and skiplist share
//! one string per element, the index shares the tree's: an index slot holds
//! the member's 16 bytes as the tree's item holds them — the bytes
//! themselves up to 15, else the address of the one heap string the tree's
//! item owns — and its score. 24 bytes a slot, no allocation per element.
//!
//! What keeps that sound: a slot is made from the tree's item only
//! ([`alias`]) and removed from the index before its item leaves the tree;
//! a heap member's bytes never move while its item moves between nodes;
//! slots are never dropped as members (`ManuallyDrop`) nor cloned (a clone
//! of the set rebuilds its index from the new tree). Everything that
//! changes the set goes through this file, so the two halves agree; it
//! never knows limits, commands or replies.

use super::super::member::Member;
use super::super::table::{Elem, Table};
use super::tree::{Item, Tree};
use std::mem::ManuallyDrop;

/// An index slot: a member's bytes, shared with its tree item, and its score.
pub struct Slot {
    member: ManuallyDrop<Member>,
    score: f64,
}

impl Slot {
    #[inline]
    pub fn member(&self) -> &[u8] {
        &self.member
    }

    #[inline]
    pub fn score(&self) -> f64 {
        self.score
    }
}

impl Elem for Slot {
    #[inline]
    fn key(&self) -> &[u8] {
        &self.member
    }
    /// The member's heap string is the tree's, counted there.
    #[inline]
    fn heap_size(&self) -> usize {
        0
    }
}

/// A slot sharing `item`'s member.
fn alias(item: &Item) -> Slot {
    // SAFETY: a bitwise copy of the member's 16 bytes: inline bytes, or the
    // address and length of the heap string `item.member` owns. The copy is
    // never dropped (`ManuallyDrop`: the string is freed once, by the
    // tree's item) and never cloned (`Slot` is not `Clone`); it is read only
    // while the item lives — `Big` removes the slot before the item leaves
    // the tree, and moving the item moves its 16 bytes, not the string.
    let member = unsafe { ManuallyDrop::new(std::ptr::read(&item.member)) };
    Slot {
        member,
        score: item.score,
    }
}

#[derive(Default)]
pub struct Big {
    tree: Tree,
    index: Table<Slot>,
}

impl Big {
    pub fn len(&self) -> usize {
        self.tree.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tree.is_empty()
    }

    pub fn tree(&self) -> &Tree {
        &self.tree
    }

    pub fn index(&self) -> &Table<Slot> {
        &self.index
    }

    pub fn mem_size(&self) -> usize {
        self.tree.mem_size() + self.index.mem_size()
    }

    #[inline]
    pub fn score(&self, m: &[u8]) -> Option<f64> {
        self.index.get(m).map(|s| s.score)
    }

    /// Add a member that is not in the set.
    pub fn insert(&mut self, score: f64, m: &[u8]) {
        let item = Item {
            score,
            member: Member::new(m),
        };
        self.index.insert(alias(&item));
        self.tree.insert(item);
    }

    /// Add a member that may be there (a loader's): false when it was. An
    /// item beyond the current smallest or largest goes to that edge
    /// without comparisons (a file or a copy gives them in order).
    pub fn load(&mut self, score: f64, m: &[u8]) -> bool {
        if self.index.get(m).is_some() {
            return false;
        }
        let item = Item {
            score,
            member: Member::new(m),
        };
        let beyond = |back: bool| {
            self.tree.edge(back).is_none_or(|e| {
                let o = super::tree::order(e.score, &e.member, score, m);
                o == if back {
                    std::cmp::Ordering::Less
                } else {
                    std::cmp::Ordering::Greater
                }
            })
        };
        let edge = if beyond(true) {
            Some(true)
        } else if beyond(false) {
            Some(false)
        } else {
            None
        };
        self.index.insert(alias(&item));
        match edge {
            Some(back) => self.tree.push_edge(item, back),
            None => self.tree.insert(item),
        }
        true
    }

    /// Give a member that is in the set a new score.
    pub fn rescore(&mut self, m: &[u8], score: f64) {
        let Some(old) = self
            .index
            .update(m, |s| std::mem::replace(&mut s.score, score))
        else {
            return;
        };
        if let Some(mut item) = self.tree.remove(old, m) {
            item.score = score;
            self.tree.insert(item);
        }
    }

    /// Remove a member; its score when it was there.
    pub fn remove(&mut self, m: &[u8]) -> Option<f64> {
        // The slot goes first: it borrows the item's string.
        let score = self.index.remove(m)?.score;
        self.index.maybe_shrink();
        self.tree.remove(score, m);
        Some(score)
    }

    /// Remove the member at rank `r`.
    pub fn remove_at(&mut self, r: usize) -> Option<(Vec<u8>, f64)> {
        let (m, score) = {
            let x = self.tree.get(r)?;
            (x.member.to_vec(), x.score)
        };
        self.index.remove(&m);
        self.index.maybe_shrink();
        self.tree.remove_at(r);
        Some((m, score))
    }

    /// Move up to `budget` index slots of a resize under way.
    pub fn settle(&mut self, budget: &mut usize) -> bool {
        self.index.settle(budget)
    }
}

impl Clone for Big {
    /// A new tree in order (each item at the back: no comparisons), and an
    /// index of its own items.
    fn clone(&self) -> Big {
        let mut b = Big {
            tree: Tree::default(),
            index: Table::with_capacity(self.len()),
        };
        self.tree.for_each(|x| {
            let item = Item {
                score: x.score,
                member: x.member.clone(),
            };
            b.index.insert(alias(&item));
            b.tree.push_edge(item, true);
            true
        });
        b
    }
}

impl std::fmt::Debug for Big {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Big({} members)", self.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The index and the tree agree after every change, heap members
    /// included: each slot reads the bytes of the one item with its member,
    /// and a clone's slots read the clone's own strings.
    #[test]
    fn index_and_tree_share_members_and_agree() {
        let mut b = Big::default();
        let name = |i: u64| {
            if i.is_multiple_of(3) {
                format!("a-member-long-enough-for-the-heap-{i}")
            } else {
                format!("m{i}")
            }
        };
        let mut r = 0x9E37_79B9_7F4A_7C15u64;
        let mut model = std::collections::BTreeMap::new();
        for round in 0..20_000u64 {
            crate::storage::xorshift64(&mut r);
            let i = r % 3000;
            let m = name(i);
            let score = ((r >> 20) % 100) as f64 / 4.0;
            match round % 5 {
                0 | 1 => {
                    if b.score(m.as_bytes()).is_none() {
                        b.insert(score, m.as_bytes());
                    } else {
                        b.rescore(m.as_bytes(), score);
                    }
                    model.insert(m, score);
                }
                2 => assert_eq!(b.remove(m.as_bytes()), model.remove(&m)),
                3 => {
                    if !model.is_empty() {
                        let at = (r >> 8) as usize % b.len();
                        let (gone, s) = b.remove_at(at).expect("rank in range");
                        let gone = String::from_utf8(gone).expect("utf8");
                        assert_eq!(model.remove(&gone), Some(s));
                    }
                }
                _ => assert_eq!(b.score(m.as_bytes()), model.get(&m).copied()),
            }
        }
        b.tree.check();
        assert_eq!(b.len(), model.len());
        assert_eq!(b.index.len(), model.len());
        let copy = b.clone();
        drop(b);
        copy.tree.check();
        for (m, s) in &model {
            assert_eq!(copy.score(m.as_bytes()), Some(*s), "{m}");
            let slot = copy.index.get(m.as_bytes()).expect("slot");
            assert_eq!(slot.member(), m.as_bytes());
        }
    }
}
