//! A sorted set's two encodings and what can be done to each: **packed**
//! while small (`zset-max-listpack-entries` members of at most
//! `zset-max-listpack-value` bytes, Redis's settings) — its elements in
//! order inside the key's own entry ([`packed`]) — and **big** past that: a
//! B+ tree in order with a count per subtree (ranks in one descent) beside a
//! member → score index that shares the tree's member strings ([`Big`]).
//! A set never goes back to packed as it shrinks (as Redis); a set made
//! whole (the STORE forms, a loader) takes the encoding its size calls for.
//!
//! The order is Redis's: by score, then by member bytes. Scores are never
//! NaN (a write that would make one is refused) and -0 is kept as 0, as
//! Redis keeps it. Reads go through [`ZsetRef`], writes through the owned
//! [`Zset`]. Everything is in ranks: a score or lex range is first turned
//! into the ranks it covers ([`ZsetRef::span`]), then walked. This file
//! owns the encodings, the conversions and ZADD's rules; it never knows
//! keys, deadlines, commands or replies.
//!
//! Its parts: `packed` (the compact layout), `range` (what a rank, score
//! or lex range covers), `tree` (the B+ tree with counts), `big` (the tree
//! and its member index, kept in agreement), `tests` (both encodings
//! against a model).

mod big;
mod packed;
mod range;
mod tree;

pub use big::{Big, Slot};
use range::clamp;
pub use range::{LexBound, LexRange, ScoreRange, ZRange};
pub use tree::order;

use super::Limits;
use bytes::Bytes;
use std::borrow::Cow;

#[derive(Clone, Debug)]
pub enum Zset {
    Packed(Vec<u8>),
    Big(Big),
}

#[derive(Clone, Copy)]
pub enum ZsetRef<'a> {
    Packed(&'a [u8]),
    Big(&'a Big),
}

impl Default for Zset {
    fn default() -> Zset {
        Zset::Packed(Vec::new())
    }
}

/// A score as stored: -0 becomes 0 (Redis never keeps -0).
#[inline]
pub fn normal(score: f64) -> f64 {
    if score == 0.0 {
        0.0
    } else {
        score
    }
}

/// ZADD's options.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AddFlags {
    pub nx: bool,
    pub xx: bool,
    pub gt: bool,
    pub lt: bool,
    pub incr: bool,
}

/// What one ZADD element did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Added {
    /// A new member.
    Added,
    /// A member's score changed.
    Updated,
    /// The member was there with that score already.
    Same,
    /// NX, XX, GT or LT kept it from changing anything.
    Skipped,
}

impl<'a> ZsetRef<'a> {
    pub fn len(self) -> usize {
        match self {
            ZsetRef::Packed(p) => packed::count(p),
            ZsetRef::Big(b) => b.len(),
        }
    }

    pub fn is_empty(self) -> bool {
        match self {
            ZsetRef::Packed(p) => packed::iter(p).next().is_none(),
            ZsetRef::Big(b) => b.is_empty(),
        }
    }

    /// OBJECT ENCODING's name: Redis's `listpack` for the compact one;
    /// the big one is a B-tree, not Redis's skiplist, and says so.
    pub fn encoding(self) -> &'static str {
        match self {
            ZsetRef::Packed(_) => "listpack",
            ZsetRef::Big(_) => "btree",
        }
    }

    pub fn score(self, m: &[u8]) -> Option<f64> {
        match self {
            ZsetRef::Packed(p) => packed::iter(p).find(|(_, x)| *x == m).map(|(s, _)| s),
            ZsetRef::Big(b) => b.score(m),
        }
    }

    /// A member's rank (0: the lowest) and score.
    pub fn rank(self, m: &[u8]) -> Option<(usize, f64)> {
        match self {
            ZsetRef::Packed(p) => packed::iter(p)
                .enumerate()
                .find(|(_, (_, x))| *x == m)
                .map(|(i, (s, _))| (i, s)),
            ZsetRef::Big(b) => {
                let s = b.score(m)?;
                b.tree().rank(s, m).map(|r| (r, s))
            }
        }
    }

    /// How many leading elements `before` holds for (it must hold for a
    /// prefix of the order and for nothing after it).
    pub fn count_while(self, before: impl Fn(f64, &[u8]) -> bool) -> usize {
        match self {
            ZsetRef::Packed(p) => packed::iter(p).take_while(|(s, m)| before(*s, m)).count(),
            ZsetRef::Big(b) => b.tree().count_while(before),
        }
    }

    /// The ranks `from..to` a range covers, in the set's order; for ranks
    /// with `rev`, counted from the highest (ZREVRANGE's reading). None when
    /// it covers nothing.
    pub fn span(self, range: &ZRange, rev: bool) -> Option<(usize, usize)> {
        let len = self.len();
        let (lo, hi) = match range {
            ZRange::Rank { start, stop } => {
                let (a, b) = clamp(*start, *stop, len)?;
                if rev {
                    (len - 1 - b, len - a)
                } else {
                    (a, b + 1)
                }
            }
            ZRange::Score(r) => (
                self.count_while(|s, _| r.below(s)),
                self.count_while(|s, _| r.within_max(s)),
            ),
            ZRange::Lex(r) => (
                self.count_while(|_, m| r.below(m)),
                self.count_while(|_, m| r.within_max(m)),
            ),
        };
        (lo < hi).then_some((lo, hi))
    }

    /// Visit the elements of ranks `from..to`, from the highest when
    /// `rev`, until `f` answers false.
    pub fn walk(self, from: usize, to: usize, rev: bool, mut f: impl FnMut(f64, &[u8]) -> bool) {
        match self {
            ZsetRef::Packed(p) => {
                let all: Vec<(f64, &[u8])> = packed::iter(p).take(to).skip(from).collect();
                if rev {
                    let _ = all.iter().rev().all(|(s, m)| f(*s, m));
                } else {
                    let _ = all.iter().all(|(s, m)| f(*s, m));
                }
            }
            ZsetRef::Big(b) => b.tree().walk(from, to, rev, |x| f(x.score, &x.member)),
        }
    }

    /// Every element in order.
    pub fn for_each(self, mut f: impl FnMut(f64, &[u8])) {
        self.walk(0, usize::MAX, false, |s, m| {
            f(s, m);
            true
        });
    }

    /// The ranks `from..to` of what [`ZsetRef::range`] answers (walked from
    /// `to` down when `rev`), or None when it answers nothing. A reply read
    /// in pages walks these ranks a page at a time.
    pub fn range_ranks(
        self,
        range: &ZRange,
        rev: bool,
        offset: usize,
        count: Option<usize>,
    ) -> Option<(usize, usize)> {
        let (lo, hi) = self.span(range, rev)?;
        let n = (hi - lo)
            .saturating_sub(offset)
            .min(count.unwrap_or(usize::MAX));
        if n == 0 {
            return None;
        }
        Some(if rev {
            (hi - offset - n, hi - offset)
        } else {
            (lo + offset, lo + offset + n)
        })
    }

    /// The elements a range covers, `offset` of them skipped and at most
    /// `count` (None: all) taken, from the highest when `rev`.
    pub fn range(
        self,
        range: &ZRange,
        rev: bool,
        offset: usize,
        count: Option<usize>,
    ) -> Vec<(Bytes, f64)> {
        let Some((from, to)) = self.range_ranks(range, rev, offset, count) else {
            return Vec::new();
        };
        let mut out = Vec::with_capacity(to - from);
        self.walk(from, to, rev, |s, m| {
            out.push((Bytes::copy_from_slice(m), s));
            true
        });
        out
    }

    /// The element at rank `r`.
    pub fn get(self, r: usize) -> Option<(f64, Cow<'a, [u8]>)> {
        match self {
            ZsetRef::Packed(p) => packed::iter(p).nth(r).map(|(s, m)| (s, Cow::Borrowed(m))),
            ZsetRef::Big(b) => b
                .tree()
                .get(r)
                .map(|x| (x.score, Cow::Owned(x.member.to_vec()))),
        }
    }

    /// A random element (`rand` picks it), every one as likely.
    pub fn random(self, rand: u64) -> Option<(f64, Cow<'a, [u8]>)> {
        let n = self.len();
        if n == 0 {
            return None;
        }
        self.get((rand % n as u64) as usize)
    }

    pub fn to_owned(self) -> Zset {
        match self {
            ZsetRef::Packed(p) => Zset::Packed(p.to_vec()),
            ZsetRef::Big(b) => Zset::Big(b.clone()),
        }
    }
}

impl Zset {
    pub fn as_ref(&self) -> ZsetRef<'_> {
        match self {
            Zset::Packed(p) => ZsetRef::Packed(p),
            Zset::Big(b) => ZsetRef::Big(b),
        }
    }

    /// The packed bytes, when the set is small enough to be stored inside
    /// its entry.
    pub fn inline(&self) -> Option<&[u8]> {
        match self {
            Zset::Packed(p) => Some(p),
            Zset::Big(_) => None,
        }
    }

    /// Bytes the set takes outside its entry and box.
    pub fn mem_size(&self) -> usize {
        match self {
            Zset::Packed(p) => crate::storage::memory::chunk_size(p.capacity()),
            Zset::Big(b) => b.mem_size(),
        }
    }

    /// Move up to `budget` elements of an index resize under way.
    pub fn settle(&mut self, budget: &mut usize) -> bool {
        match self {
            Zset::Big(b) => b.settle(budget),
            Zset::Packed(_) => false,
        }
    }

    /// A set of `pairs` with distinct members, in any order (the STORE
    /// forms, a loader): packed when they fit its limits, as Redis
    /// converts a result that does.
    pub fn from_pairs<M: AsRef<[u8]>>(mut pairs: Vec<(M, f64)>, lim: &Limits) -> Zset {
        pairs.sort_by(|(a, sa), (b, sb)| order(*sa, a.as_ref(), *sb, b.as_ref()));
        pairs.dedup_by(|(a, _), (b, _)| a.as_ref() == b.as_ref());
        let fits = |n: usize, longest: usize| n <= lim.zset_entries && longest <= lim.zset_value;
        let longest = pairs
            .iter()
            .map(|(m, _)| m.as_ref().len())
            .max()
            .unwrap_or(0);
        if fits(pairs.len(), longest) {
            let mut p = Vec::new();
            for (m, s) in &pairs {
                packed::write(&mut p, normal(*s), m.as_ref());
            }
            return Zset::Packed(p);
        }
        let mut b = Big::default();
        for (m, s) in &pairs {
            b.load(normal(*s), m.as_ref());
        }
        Zset::Big(b)
    }

    /// Add a loaded member (an RDB file's, a DUMP's): false when it is
    /// there already. Call [`Zset::loaded`] once every member is in.
    pub fn load(&mut self, score: f64, m: &[u8]) -> bool {
        let score = normal(score);
        match self {
            Zset::Big(b) => b.load(score, m),
            Zset::Packed(p) => {
                if packed::iter(p).any(|(_, x)| x == m) {
                    return false;
                }
                // Kept in order as it grows; `loaded` chooses the encoding.
                let at = place(p, score, m);
                let mut e = Vec::with_capacity(packed::size(score, m.len()));
                packed::write(&mut e, score, m);
                p.splice(at..at, e);
                if p.len() > LOAD_PACKED_MAX {
                    self.convert();
                }
                true
            }
        }
    }

    /// After [`Zset::load`]: the encoding Redis's loader would choose — big
    /// past the limits, packed within them.
    pub fn loaded(&mut self, lim: &Limits) {
        let (n, longest) = {
            let mut longest = 0;
            let z = self.as_ref();
            z.for_each(|_, m| longest = longest.max(m.len()));
            (z.len(), longest)
        };
        let fits = n <= lim.zset_entries && longest <= lim.zset_value;
        match self {
            Zset::Packed(_) if !fits => self.convert(),
            Zset::Big(b) if fits => {
                let mut p = Vec::new();
                b.tree().for_each(|x| {
                    packed::write(&mut p, x.score, &x.member);
                    true
                });
                *self = Zset::Packed(p);
            }
            _ => {}
        }
    }

    /// From packed to big.
    fn convert(&mut self) {
        if let Zset::Packed(p) = self {
            let mut b = Big::default();
            for (s, m) in packed::iter(p) {
                b.load(s, m);
            }
            *self = Zset::Big(b);
        }
    }

    /// ZADD of one element with Redis's rules (`zsetAdd`): what it did and
    /// the member's score after, or `Err` when an increment makes a NaN.
    pub fn add(
        &mut self,
        m: &[u8],
        score: f64,
        flags: AddFlags,
        lim: &Limits,
    ) -> Result<(Added, f64), NanScore> {
        if score.is_nan() {
            return Err(NanScore);
        }
        let score = normal(score);
        let cur = self.as_ref().score(m);
        let Some(cur) = cur else {
            if flags.xx {
                return Ok((Added::Skipped, score));
            }
            if let Zset::Packed(p) = self {
                let n = packed::count(p);
                if n + 1 > lim.zset_entries || m.len() > lim.zset_value {
                    self.convert();
                }
            }
            match self {
                Zset::Packed(p) => {
                    let at = place(p, score, m);
                    let mut e = Vec::with_capacity(packed::size(score, m.len()));
                    packed::write(&mut e, score, m);
                    p.splice(at..at, e);
                }
                Zset::Big(b) => b.insert(score, m),
            }
            return Ok((Added::Added, score));
        };
        if flags.nx {
            return Ok((Added::Skipped, cur));
        }
        let new = if flags.incr {
            let s = cur + score;
            if s.is_nan() {
                return Err(NanScore);
            }
            normal(s)
        } else {
            score
        };
        if (flags.lt && new >= cur) || (flags.gt && new <= cur) {
            return Ok((Added::Skipped, cur));
        }
        if new == cur {
            return Ok((Added::Same, cur));
        }
        match self {
            Zset::Packed(p) => {
                if let Some((a, b)) = find(p, m) {
                    p.drain(a..b);
                }
                let at = place(p, new, m);
                let mut e = Vec::with_capacity(packed::size(new, m.len()));
                packed::write(&mut e, new, m);
                p.splice(at..at, e);
            }
            Zset::Big(b) => b.rescore(m, new),
        }
        Ok((Added::Updated, new))
    }

    /// Remove `m`; true when it was there.
    pub fn remove(&mut self, m: &[u8]) -> bool {
        match self {
            Zset::Packed(p) => match find(p, m) {
                Some((a, b)) => {
                    p.drain(a..b);
                    true
                }
                None => false,
            },
            Zset::Big(b) => b.remove(m).is_some(),
        }
    }

    /// Remove the elements of ranks `from..to`; how many went.
    pub fn remove_ranks(&mut self, from: usize, to: usize) -> usize {
        let to = to.min(self.as_ref().len());
        if from >= to {
            return 0;
        }
        match self {
            Zset::Packed(p) => {
                let mut it = packed::iter(p);
                let mut a = 0;
                for i in 0..to {
                    if i == from {
                        a = it.offset();
                    }
                    it.next();
                }
                let b = it.offset();
                p.drain(a..b);
            }
            Zset::Big(b) => {
                for _ in from..to {
                    b.remove_at(from);
                }
            }
        }
        to - from
    }

    /// ZPOPMIN (or ZPOPMAX, `max`) of up to `count` elements, in the order
    /// taken.
    pub fn pop(&mut self, max: bool, count: usize) -> Vec<(Bytes, f64)> {
        let len = self.as_ref().len();
        let n = count.min(len);
        if n == 0 {
            return Vec::new();
        }
        let (from, to) = if max { (len - n, len) } else { (0, n) };
        let out = self.as_ref().range(
            &ZRange::Rank {
                start: from as i64,
                stop: to as i64 - 1,
            },
            false,
            0,
            None,
        );
        self.remove_ranks(from, to);
        if max {
            out.into_iter().rev().collect()
        } else {
            out
        }
    }
}

/// Elements a loaded set keeps packed before it turns big while it loads
/// (a huge packed set would make each insert a long copy); `loaded` packs
/// it again when it fits.
const LOAD_PACKED_MAX: usize = 64 * 1024;

/// Where an element of `score` and `m` goes in packed bytes.
fn place(p: &[u8], score: f64, m: &[u8]) -> usize {
    let mut it = packed::iter(p);
    loop {
        let at = it.offset();
        match it.next() {
            Some((s, x)) if order(s, x, score, m) == std::cmp::Ordering::Less => {}
            _ => return at,
        }
    }
}

/// The byte range of member `m` in packed bytes.
fn find(p: &[u8], m: &[u8]) -> Option<(usize, usize)> {
    let mut it = packed::iter(p);
    loop {
        let at = it.offset();
        let (_, x) = it.next()?;
        if x == m {
            return Some((at, it.offset()));
        }
    }
}

/// The elements of packed bytes, in order (an RDB writer's).
pub fn packed_elements(p: &[u8]) -> impl Iterator<Item = (f64, &[u8])> {
    packed::iter(p)
}

/// An increment that made a score NaN (`+inf` plus `-inf`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NanScore;

#[cfg(test)]
mod tests;
