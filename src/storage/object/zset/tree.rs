//! [`Tree`]: the ordered half of a big sorted set — a B+ tree of
//! `(score, member)` items in the set's order (score, then member bytes),
//! each inner node keeping, for every child, the number of items below it
//! (so an item's rank, and the item at a rank, are found in one descent:
//! Redis's skiplist spans) and a separator key. Items sit 64 to a leaf in
//! one allocation, 24 bytes each (an `f64` and a 16-byte [`Member`],
//! inline up to 15 bytes): no allocation per item, where Redis's skiplist
//! allocates a node of 32 bytes and more per element.
//!
//! Separator keys: an inner node's child `i` (`i ≥ 1`) carries a key no
//! greater than anything below it and greater than anything in children
//! before it; child 0's key is never read (a set's smallest items may go
//! below it), and a merge or a redistribution that moves a first child
//! gives it the parent's separator first. A key is a copy of an item, so a
//! long member's bytes are copied for it: those copies are counted.
//!
//! Leaves and inner nodes split when full — at the end or the start when the
//! new item goes there (items arriving in order leave full nodes, not half
//! full ones), else in the middle — and merge with (or borrow from) a
//! neighbour when a removal leaves one under a quarter full. It owns the
//! order and the counts, never the member → score index (`big`'s) and never
//! knows commands.

use super::super::member::Member;
use crate::storage::memory::chunk_size;
use std::cmp::Ordering;

/// Items a leaf holds at most.
const LEAF_CAP: usize = 64;
/// Children an inner node holds at most.
const INNER_CAP: usize = 64;
/// Below this many items (children), a node takes from a neighbour.
const LEAF_MIN: usize = LEAF_CAP / 4;
const INNER_MIN: usize = INNER_CAP / 4;

/// One element: its score and its member.
#[derive(Debug)]
pub struct Item {
    pub score: f64,
    pub member: Member,
}

impl Item {
    fn copy(&self) -> Item {
        Item {
            score: self.score,
            member: self.member.clone(),
        }
    }
}

/// The set's order: by score, then by member bytes (Redis's). Scores are
/// never NaN.
#[inline]
pub fn order(a_score: f64, a: &[u8], b_score: f64, b: &[u8]) -> Ordering {
    if a_score < b_score {
        Ordering::Less
    } else if a_score > b_score {
        Ordering::Greater
    } else {
        a.cmp(b)
    }
}

#[inline]
fn item_order(x: &Item, score: f64, m: &[u8]) -> Ordering {
    order(x.score, &x.member, score, m)
}

enum Node {
    Leaf(Vec<Item>),
    Inner(Vec<Child>),
}

struct Child {
    key: Item,
    count: usize,
    node: Node,
}

impl Node {
    /// Items (a leaf) or children (an inner node).
    fn width(&self) -> usize {
        match self {
            Node::Leaf(v) => v.len(),
            Node::Inner(v) => v.len(),
        }
    }

    fn min(&self) -> usize {
        match self {
            Node::Leaf(_) => LEAF_MIN,
            Node::Inner(_) => INNER_MIN,
        }
    }
}

/// What the tree holds outside its root, kept as it changes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Acct {
    leaves: usize,
    inners: usize,
    /// Heap bytes of the items' members.
    heap: usize,
    /// Heap bytes of the separator keys' members.
    keys: usize,
}

impl Acct {
    fn key(&mut self, of: &Item) -> Item {
        let k = of.copy();
        self.keys += k.member.heap_size();
        k
    }

    fn drop_key(&mut self, k: Item) {
        self.keys -= k.member.heap_size();
    }
}

/// A placeholder key (no heap) while a real one is moved.
fn blank() -> Item {
    Item {
        score: 0.0,
        member: Member::new(b""),
    }
}

pub struct Tree {
    root: Node,
    len: usize,
    acct: Acct,
}

impl Default for Tree {
    fn default() -> Tree {
        Tree {
            root: Node::Leaf(Vec::with_capacity(LEAF_CAP)),
            len: 0,
            acct: Acct {
                leaves: 1,
                ..Acct::default()
            },
        }
    }
}

/// The child of `children` a key goes to: the last whose separator is not
/// above it (child 0's is never read).
#[inline]
fn route(children: &[Child], score: f64, m: &[u8]) -> usize {
    children[1..].partition_point(|c| item_order(&c.key, score, m) != Ordering::Greater)
}

/// The child holding rank `r`, and the rank within it.
#[inline]
fn route_rank(children: &[Child], mut r: usize) -> (usize, usize) {
    for (i, c) in children.iter().enumerate() {
        if r < c.count {
            return (i, r);
        }
        r -= c.count;
    }
    (children.len() - 1, r)
}

/// Where an item goes in a leaf.
#[inline]
fn leaf_pos(items: &[Item], score: f64, m: &[u8]) -> usize {
    items.partition_point(|x| item_order(x, score, m) == Ordering::Less)
}

/// Put `new` into `v` (full, `cap` long) at `pos`: the node is split, and
/// the new right half is returned. At the end, the new item alone starts
/// the right node; at the start, the old items all go right; else halves.
fn split_insert<T>(v: &mut Vec<T>, pos: usize, new: T, cap: usize) -> Vec<T> {
    let mut right = Vec::with_capacity(cap);
    if pos == v.len() {
        right.push(new);
    } else if pos == 0 {
        right.append(v);
        v.push(new);
    } else {
        let mid = cap / 2;
        right.extend(v.drain(mid..));
        if pos <= mid {
            v.insert(pos, new);
        } else {
            right.insert(pos - mid, new);
        }
    }
    right
}

/// What to find: an item by its key, or by its rank.
#[derive(Clone, Copy)]
enum Find<'a> {
    Key(f64, &'a [u8]),
    Rank(usize),
}

impl Tree {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes the tree takes from malloc: its nodes, and the members' and
    /// keys' heap strings.
    pub fn mem_size(&self) -> usize {
        let a = &self.acct;
        a.leaves * chunk_size(LEAF_CAP * std::mem::size_of::<Item>())
            + a.inners * chunk_size(INNER_CAP * std::mem::size_of::<Child>())
            + a.heap
            + a.keys
    }

    /// Insert an item whose member is not in the tree.
    pub fn insert(&mut self, item: Item) {
        self.acct.heap += item.member.heap_size();
        self.len += 1;
        if let Some(right) = insert(&mut self.root, item, &mut self.acct) {
            self.grow(right);
        }
    }

    /// Insert an item that goes after every item (`back`) or before every
    /// one: no comparisons on the way down. The caller vouches for the order.
    pub fn push_edge(&mut self, item: Item, back: bool) {
        self.acct.heap += item.member.heap_size();
        self.len += 1;
        if let Some(right) = push_edge(&mut self.root, item, back, &mut self.acct) {
            self.grow(right);
        }
    }

    /// The root split: a new root above the two halves.
    fn grow(&mut self, right: Child) {
        let left = std::mem::replace(&mut self.root, Node::Inner(Vec::new()));
        let left_count = self.len - right.count;
        let mut children = Vec::with_capacity(INNER_CAP);
        children.push(Child {
            key: blank(),
            count: left_count,
            node: left,
        });
        children.push(right);
        self.root = Node::Inner(children);
        self.acct.inners += 1;
    }

    /// The smallest (`!back`) or the largest item.
    pub fn edge(&self, back: bool) -> Option<&Item> {
        if self.len == 0 {
            return None;
        }
        self.get(if back { self.len - 1 } else { 0 })
    }

    /// Remove the item of `score` and `m`; it is returned.
    pub fn remove(&mut self, score: f64, m: &[u8]) -> Option<Item> {
        self.take(Find::Key(score, m))
    }

    /// Remove the item at rank `r` (0: the smallest).
    pub fn remove_at(&mut self, r: usize) -> Option<Item> {
        if r >= self.len {
            return None;
        }
        self.take(Find::Rank(r))
    }

    fn take(&mut self, f: Find<'_>) -> Option<Item> {
        let item = remove(&mut self.root, f, &mut self.acct)?;
        self.len -= 1;
        self.acct.heap -= item.member.heap_size();
        // A root left with one child gives way to it.
        while let Node::Inner(children) = &mut self.root {
            if children.len() != 1 {
                break;
            }
            let Some(only) = children.pop() else {
                break;
            };
            self.acct.drop_key(only.key);
            self.acct.inners -= 1;
            self.root = only.node;
        }
        Some(item)
    }

    /// The rank (0: the smallest) of the item of `score` and `m`.
    pub fn rank(&self, score: f64, m: &[u8]) -> Option<usize> {
        let mut node = &self.root;
        let mut before = 0;
        loop {
            match node {
                Node::Leaf(items) => {
                    let i = leaf_pos(items, score, m);
                    let x = items.get(i)?;
                    return (item_order(x, score, m) == Ordering::Equal).then_some(before + i);
                }
                Node::Inner(children) => {
                    let i = route(children, score, m);
                    before += children[..i].iter().map(|c| c.count).sum::<usize>();
                    node = &children[i].node;
                }
            }
        }
    }

    /// The item at rank `r`.
    pub fn get(&self, mut r: usize) -> Option<&Item> {
        if r >= self.len {
            return None;
        }
        let mut node = &self.root;
        loop {
            match node {
                Node::Leaf(items) => return items.get(r),
                Node::Inner(children) => {
                    let (i, within) = route_rank(children, r);
                    r = within;
                    node = &children[i].node;
                }
            }
        }
    }

    /// How many leading items `before` holds for: `before` must hold for a
    /// prefix of the order and for no item after it (a bound's "below").
    pub fn count_while(&self, before: impl Fn(f64, &[u8]) -> bool) -> usize {
        let mut node = &self.root;
        let mut n = 0;
        loop {
            match node {
                Node::Leaf(items) => {
                    return n + items.partition_point(|x| before(x.score, &x.member));
                }
                Node::Inner(children) => {
                    let i = children[1..].partition_point(|c| before(c.key.score, &c.key.member));
                    n += children[..i].iter().map(|c| c.count).sum::<usize>();
                    node = &children[i].node;
                }
            }
        }
    }

    /// Visit the items of ranks `from..to` in order (from the last when
    /// `rev`) until `f` answers false.
    pub fn walk(&self, from: usize, to: usize, rev: bool, mut f: impl FnMut(&Item) -> bool) {
        let to = to.min(self.len);
        if from < to {
            walk(&self.root, from, to, rev, &mut f);
        }
    }

    /// Every item, in order.
    pub fn for_each(&self, f: impl FnMut(&Item) -> bool) {
        self.walk(0, self.len, false, f);
    }

    /// Checks every invariant (tests): order, counts, separators, fill,
    /// and the byte accounting.
    #[cfg(test)]
    pub fn check(&self) {
        let mut acct = Acct::default();
        let n = check(&self.root, None, true, &mut acct);
        assert_eq!(n, self.len, "count");
        assert_eq!(acct, self.acct, "accounting");
        let mut prev: Option<(f64, Vec<u8>)> = None;
        self.for_each(|x| {
            if let Some((s, m)) = &prev {
                assert_eq!(order(*s, m, x.score, &x.member), Ordering::Less, "order");
            }
            prev = Some((x.score, x.member.to_vec()));
            true
        });
    }
}

fn insert(node: &mut Node, item: Item, acct: &mut Acct) -> Option<Child> {
    match node {
        Node::Leaf(items) => {
            let pos = leaf_pos(items, item.score, &item.member);
            if items.len() < LEAF_CAP {
                items.insert(pos, item);
                return None;
            }
            let right = split_insert(items, pos, item, LEAF_CAP);
            acct.leaves += 1;
            Some(Child {
                key: acct.key(&right[0]),
                count: right.len(),
                node: Node::Leaf(right),
            })
        }
        Node::Inner(children) => {
            let i = route(children, item.score, &item.member);
            children[i].count += 1;
            let new = insert(&mut children[i].node, item, acct)?;
            children[i].count -= new.count;
            adopt(children, i + 1, new, acct)
        }
    }
}

fn push_edge(node: &mut Node, item: Item, back: bool, acct: &mut Acct) -> Option<Child> {
    match node {
        Node::Leaf(items) => {
            let pos = if back { items.len() } else { 0 };
            if items.len() < LEAF_CAP {
                items.insert(pos, item);
                return None;
            }
            let right = split_insert(items, pos, item, LEAF_CAP);
            acct.leaves += 1;
            Some(Child {
                key: acct.key(&right[0]),
                count: right.len(),
                node: Node::Leaf(right),
            })
        }
        Node::Inner(children) => {
            let i = if back { children.len() - 1 } else { 0 };
            children[i].count += 1;
            let new = push_edge(&mut children[i].node, item, back, acct)?;
            children[i].count -= new.count;
            adopt(children, i + 1, new, acct)
        }
    }
}

/// Insert a child's new right sibling at `pos`, splitting `children` when
/// full; the new right half when it split.
fn adopt(children: &mut Vec<Child>, pos: usize, new: Child, acct: &mut Acct) -> Option<Child> {
    if children.len() < INNER_CAP {
        children.insert(pos, new);
        return None;
    }
    let right = split_insert(children, pos, new, INNER_CAP);
    acct.inners += 1;
    Some(Child {
        key: acct.key(&right[0].key),
        count: right.iter().map(|c| c.count).sum(),
        node: Node::Inner(right),
    })
}

fn remove(node: &mut Node, f: Find<'_>, acct: &mut Acct) -> Option<Item> {
    match node {
        Node::Leaf(items) => {
            let i = match f {
                Find::Key(s, m) => {
                    let i = leaf_pos(items, s, m);
                    (item_order(items.get(i)?, s, m) == Ordering::Equal).then_some(i)?
                }
                Find::Rank(r) => r,
            };
            (i < items.len()).then(|| items.remove(i))
        }
        Node::Inner(children) => {
            let (i, below) = match f {
                Find::Key(s, m) => (route(children, s, m), f),
                Find::Rank(r) => {
                    let (i, r) = route_rank(children, r);
                    (i, Find::Rank(r))
                }
            };
            let got = remove(&mut children[i].node, below, acct)?;
            children[i].count -= 1;
            if children[i].node.width() < children[i].node.min() && children.len() > 1 {
                rebalance(children, i, acct);
            }
            Some(got)
        }
    }
}

/// Child `i` is under its minimum: merge it with a neighbour when both fit
/// in one node, else even the two out.
fn rebalance(children: &mut Vec<Child>, i: usize, acct: &mut Acct) {
    let l = if i > 0 { i - 1 } else { 0 };
    let r = l + 1;
    let cap = match children[l].node {
        Node::Leaf(_) => LEAF_CAP,
        Node::Inner(_) => INNER_CAP,
    };
    let total = children[l].node.width() + children[r].node.width();
    if total <= cap {
        let right = children.remove(r);
        let left = &mut children[l];
        left.count += right.count;
        match (&mut left.node, right.node) {
            (Node::Leaf(a), Node::Leaf(mut b)) => {
                a.append(&mut b);
                acct.leaves -= 1;
                acct.drop_key(right.key);
            }
            (Node::Inner(a), Node::Inner(mut b)) => {
                // b's first child lands behind a's: it takes the separator
                // the parent held for b.
                let old = std::mem::replace(&mut b[0].key, right.key);
                acct.drop_key(old);
                a.append(&mut b);
                acct.inners -= 1;
            }
            _ => unreachable!("siblings are of one kind"),
        }
        return;
    }
    // Even the two out: the fuller gives (difference) / 2.
    let (low, high) = children.split_at_mut(r);
    let (a, b) = (&mut low[l], &mut high[0]);
    let (wa, wb) = (a.node.width(), b.node.width());
    let k = wa.abs_diff(wb) / 2;
    if k == 0 {
        return;
    }
    let moved: usize;
    match (&mut a.node, &mut b.node) {
        (Node::Leaf(x), Node::Leaf(y)) => {
            if wa < wb {
                x.extend(y.drain(..k));
            } else {
                let tail: Vec<Item> = x.drain(wa - k..).collect();
                y.splice(0..0, tail);
            }
            moved = k;
            let old = std::mem::replace(&mut b.key, acct.key(&y[0]));
            acct.drop_key(old);
        }
        (Node::Inner(x), Node::Inner(y)) => {
            // y's first child is about to sit behind another: it takes the
            // parent's separator for y first.
            let parent = std::mem::replace(&mut b.key, blank());
            let old = std::mem::replace(&mut y[0].key, parent);
            acct.drop_key(old);
            if wa < wb {
                moved = y[..k].iter().map(|c| c.count).sum();
                x.extend(y.drain(..k));
            } else {
                moved = x[wa - k..].iter().map(|c| c.count).sum();
                let tail: Vec<Child> = x.drain(wa - k..).collect();
                y.splice(0..0, tail);
            }
            b.key = acct.key(&y[0].key);
        }
        _ => unreachable!("siblings are of one kind"),
    }
    if wa < wb {
        a.count += moved;
        b.count -= moved;
    } else {
        a.count -= moved;
        b.count += moved;
    }
}

fn walk(node: &Node, from: usize, to: usize, rev: bool, f: &mut dyn FnMut(&Item) -> bool) -> bool {
    match node {
        Node::Leaf(items) => {
            let part = &items[from.min(items.len())..to.min(items.len())];
            if rev {
                part.iter().rev().all(&mut *f)
            } else {
                part.iter().all(&mut *f)
            }
        }
        Node::Inner(children) => {
            // The children's rank spans, the first at `from`'s child.
            let mut base = 0;
            let mut first = children.len();
            for (i, c) in children.iter().enumerate() {
                if base + c.count > from {
                    first = i;
                    break;
                }
                base += c.count;
            }
            let mut spans: Vec<(usize, usize)> = Vec::new();
            let mut lo = base;
            for c in &children[first.min(children.len())..] {
                if lo >= to {
                    break;
                }
                spans.push((lo, lo + c.count));
                lo += c.count;
            }
            let one = |k: usize, f: &mut dyn FnMut(&Item) -> bool| {
                let (lo, hi) = spans[k];
                let c = &children[first + k];
                walk(&c.node, from.max(lo) - lo, to.min(hi) - lo, rev, f)
            };
            if rev {
                (0..spans.len()).rev().all(|k| one(k, &mut *f))
            } else {
                (0..spans.len()).all(|k| one(k, &mut *f))
            }
        }
    }
}

/// Walks a subtree checking its invariants; returns its item count.
#[cfg(test)]
fn check(node: &Node, lower: Option<(f64, &[u8])>, root: bool, acct: &mut Acct) -> usize {
    match node {
        Node::Leaf(items) => {
            acct.leaves += 1;
            assert!(items.len() <= LEAF_CAP);
            assert!(root || !items.is_empty(), "empty leaf");
            assert_eq!(items.capacity(), LEAF_CAP, "leaf capacity");
            for x in items {
                acct.heap += x.member.heap_size();
                if let Some((s, m)) = lower {
                    assert_ne!(item_order(x, s, m), Ordering::Less, "below its separator");
                }
            }
            items.len()
        }
        Node::Inner(children) => {
            acct.inners += 1;
            assert!(children.len() <= INNER_CAP);
            assert!(!children.is_empty() && (!root || children.len() >= 2));
            assert_eq!(children.capacity(), INNER_CAP, "inner capacity");
            let mut n = 0;
            for (i, c) in children.iter().enumerate() {
                acct.keys += c.key.member.heap_size();
                let low = if i == 0 {
                    lower
                } else {
                    Some((c.key.score, &c.key.member[..]))
                };
                let got = check(&c.node, low, false, acct);
                assert_eq!(got, c.count, "child count");
                if i > 0 {
                    // Everything before this child is below its separator.
                    if let Some(x) = last(&children[i - 1].node) {
                        assert_eq!(
                            item_order(x, c.key.score, &c.key.member),
                            Ordering::Less,
                            "a separator not above the child before it"
                        );
                    }
                }
                n += got;
            }
            n
        }
    }
}

/// The largest item below a node (tests).
#[cfg(test)]
fn last(node: &Node) -> Option<&Item> {
    match node {
        Node::Leaf(items) => items.last(),
        Node::Inner(children) => last(&children.last()?.node),
    }
}
