//! A list's two encodings and what can be done to each, after Redis 7.2's
//! listpack and quicklist: a **packed** list while it fits one node of
//! `list-max-listpack-size` ([`ListLimit`]) — stored inside the key's own
//! entry — and a **quick** list past that: a deque of packed chunks, each at
//! most one node, boxed beside the entry. Every packed element carries its
//! size at its end as well as at its start, so a chunk is walked from either
//! side and both ends of a list are reached in O(1); a packed list keeps
//! its element count ahead of its elements, as a listpack's header does,
//! so its length is read, not walked. Reads go through
//! [`ListRef`], writes through the owned [`List`]. This file owns the
//! layout, the conversions and the operations with Redis's index rules; it
//! never knows keys, deadlines, commands or replies.

use super::packed;
use crate::storage::memory::chunk_size;

/// `list-max-listpack-size`: how big one node — a packed list, or one chunk
/// of a quick list — may grow. Negative -1..-5: at most 4, 8, 16, 32 or 64 KB
/// of encoded bytes (below -5 as -5); positive N: at most N elements (0 as 1)
/// and never more than [`ListLimit::SAFETY`] bytes, so that a count alone
/// cannot make a node huge (Redis's `SIZE_SAFETY_LIMIT`). An element bigger
/// than a node gets a node of its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListLimit(pub i64);

impl Default for ListLimit {
    fn default() -> Self {
        ListLimit(-2)
    }
}

impl ListLimit {
    const SIZES: [usize; 5] = [4096, 8192, 16384, 32768, 65536];
    /// The bytes a count-limited node may hold.
    pub const SAFETY: usize = 8192;

    /// The bytes and the elements one node may hold.
    fn bounds(self) -> (usize, usize) {
        if self.0 < 0 {
            let level = usize::try_from(self.0.unsigned_abs() - 1).unwrap_or(usize::MAX);
            (Self::SIZES[level.min(Self::SIZES.len() - 1)], usize::MAX)
        } else {
            let n = usize::try_from(self.0).unwrap_or(usize::MAX);
            (Self::SAFETY, n.max(1))
        }
    }

    /// Whether a node of `bytes` encoded bytes and `count` elements is
    /// within the limit.
    pub fn fits(self, bytes: usize, count: usize) -> bool {
        let (b, c) = self.bounds();
        bytes <= b && count <= c
    }

    /// [`ListLimit::fits`], counting the elements only when the limit is a
    /// count: a packed list does not keep its count, and walking it for a
    /// limit in bytes would be wasted.
    fn fits_with(self, bytes: usize, count: impl FnOnce() -> usize) -> bool {
        let (b, c) = self.bounds();
        bytes <= b && (c == usize::MAX || count() <= c)
    }

    /// Whether a one-node quick list is small enough to go back to packed.
    /// Half the limit, not the limit (Redis's `listTypeTryConvertQuicklist`):
    /// a list at the boundary would otherwise change encoding — move
    /// between its entry and a box — on every push and pop. Unlike Redis, a count-limited node's
    /// byte bound is halved too, for the same reason.
    fn fits_half(self, bytes: usize, count: usize) -> bool {
        let (b, c) = self.bounds();
        bytes <= b / 2 && count <= c / 2
    }
}

mod layout;
use layout as lp;

mod quick;
use quick::{reserve, Chunk};
pub use quick::{Iter, Quick};

/// A packed list's bytes begin with its element count (u16, little end),
/// as a listpack's header does: LLEN, a push's reply and a range's bounds
/// read it instead of walking the elements. [`UNKNOWN`] (a count past it)
/// means walk. The elements follow in `layout`'s form.
const HDR: usize = 2;
const UNKNOWN: u16 = u16::MAX;

/// The elements of packed bytes (after the count).
fn body(p: &[u8]) -> &[u8] {
    p.get(HDR..).unwrap_or(&[])
}

/// The element count of packed bytes.
fn packed_len(p: &[u8]) -> usize {
    match p {
        [a, b, ..] => match u16::from_le_bytes([*a, *b]) {
            UNKNOWN => lp::count(body(p)),
            n => usize::from(n),
        },
        _ => 0,
    }
}

/// Write the count `n` into packed bytes (making the header of an empty
/// list).
fn set_len(p: &mut Vec<u8>, n: usize) {
    if p.len() < HDR {
        p.resize(HDR, 0);
    }
    let n = u16::try_from(n).unwrap_or(UNKNOWN);
    p[..HDR].copy_from_slice(&n.to_le_bytes());
}

/// Packed bytes for `elements`, `n` of them.
fn with_header(elements: &[u8], n: usize) -> Vec<u8> {
    let mut p = Vec::with_capacity(HDR + elements.len());
    set_len(&mut p, n);
    p.extend_from_slice(elements);
    p
}

/// Change the elements of packed bytes with `f` (on a copy: for the rare
/// writes in the middle — LSET, LINSERT, LREM, LTRIM — which are O(n)
/// anyway), counting them again after.
fn edit_body<R>(p: &mut Vec<u8>, f: impl FnOnce(&mut Vec<u8>) -> R) -> R {
    let mut b = body(p).to_vec();
    let r = f(&mut b);
    let n = lp::count(&b);
    p.truncate(HDR.min(p.len()));
    set_len(p, n);
    p.extend_from_slice(&b);
    r
}

#[derive(Clone, Debug)]
pub enum List {
    /// Packed bytes: the count, then the elements.
    Packed(Vec<u8>),
    Quick(Quick),
}

#[derive(Clone, Copy)]
pub enum ListRef<'a> {
    Packed(&'a [u8]),
    Quick(&'a Quick),
}

impl Default for List {
    fn default() -> Self {
        List::Packed(Vec::new())
    }
}

/// A Redis index (negative counts from the tail) as a place from the head,
/// when there is such an element.
fn place(index: i64, len: usize) -> Option<usize> {
    let i = if index < 0 {
        index.checked_add(i64::try_from(len).ok()?)?
    } else {
        index
    };
    usize::try_from(i).ok().filter(|&i| i < len)
}

/// LRANGE's and LTRIM's reading of `start` and `stop` over `len` elements:
/// the first and the last place kept, or `None` when nothing is.
fn clamp(start: i64, stop: i64, len: usize) -> Option<(usize, usize)> {
    let n = i64::try_from(len).ok()?;
    let from_tail = |i: i64| if i < 0 { i.saturating_add(n) } else { i };
    let start = from_tail(start).max(0);
    let stop = from_tail(stop);
    if start > stop || start >= n {
        return None;
    }
    Some((
        usize::try_from(start).ok()?,
        usize::try_from(stop.min(n - 1)).ok()?,
    ))
}

impl<'a> ListRef<'a> {
    pub fn len(self) -> usize {
        match self {
            ListRef::Packed(p) => packed_len(p),
            ListRef::Quick(q) => q.len,
        }
    }

    pub fn is_empty(self) -> bool {
        self.iter().next().is_none()
    }

    /// OBJECT ENCODING's name (Redis's).
    pub fn encoding(self) -> &'static str {
        match self {
            ListRef::Packed(_) => "listpack",
            ListRef::Quick(_) => "quicklist",
        }
    }

    pub fn iter(self) -> Iter<'a> {
        match self {
            ListRef::Packed(p) => Iter {
                front: lp::iter(body(p)),
                ..Iter::default()
            },
            ListRef::Quick(q) => Iter {
                mid: q.chunks.iter(),
                ..Iter::default()
            },
        }
    }

    pub fn iter_from(self, index: usize) -> Iter<'a> {
        match self {
            ListRef::Packed(p) => {
                let mut front = lp::iter(body(p));
                front.skip_front(index);
                Iter {
                    front,
                    ..Iter::default()
                }
            }
            ListRef::Quick(q) => q.iter_from(index),
        }
    }

    /// LINDEX.
    pub fn get(self, index: i64) -> Option<&'a [u8]> {
        match self {
            ListRef::Packed(p) => {
                let p = body(p);
                let s = if index < 0 {
                    lp::span_back(p, usize::try_from(index.unsigned_abs() - 1).ok()?)
                } else {
                    lp::span_front(p, usize::try_from(index).ok()?)
                }?;
                Some(&p[s.lo..s.hi])
            }
            ListRef::Quick(q) => q.get(place(index, q.len)?),
        }
    }

    /// LRANGE.
    /// The first and last index LRANGE's `start` and `stop` name, None
    /// for an empty range.
    pub fn range_bounds(self, start: i64, stop: i64) -> Option<(usize, usize)> {
        clamp(start, stop, self.len())
    }

    pub fn range(self, start: i64, stop: i64) -> Vec<&'a [u8]> {
        match clamp(start, stop, self.len()) {
            Some((a, b)) => self.iter_from(a).take(b - a + 1).collect(),
            None => Vec::new(),
        }
    }

    /// LPOS: the places (from the head) of up to `count` elements equal to
    /// `value` (0: all), skipping the first `|rank| - 1` found, looking from
    /// the tail when `rank` is negative and at no more than `maxlen`
    /// elements (0: all). A rank of 0, which Redis refuses, is taken as 1.
    pub fn positions(self, value: &[u8], rank: i64, count: usize, maxlen: usize) -> Vec<usize> {
        let skip = usize::try_from(rank.unsigned_abs())
            .unwrap_or(usize::MAX)
            .saturating_sub(1);
        let count = if count == 0 { usize::MAX } else { count };
        let maxlen = if maxlen == 0 { usize::MAX } else { maxlen };
        let hits = |(i, x): (usize, &[u8])| packed::same(x, value).then_some(i);
        if rank >= 0 {
            let found = self.iter().take(maxlen).enumerate().filter_map(hits);
            found.skip(skip).take(count).collect()
        } else {
            let last = self.len().saturating_sub(1);
            let found = self.iter().rev().take(maxlen).enumerate().filter_map(hits);
            found
                .skip(skip)
                .take(count)
                .map(|i| last.saturating_sub(i))
                .collect()
        }
    }

    pub fn to_owned(self) -> List {
        match self {
            ListRef::Packed(p) => List::Packed(p.to_vec()),
            ListRef::Quick(q) => List::Quick(q.clone()),
        }
    }
}

impl List {
    pub fn as_ref(&self) -> ListRef<'_> {
        match self {
            List::Packed(p) => ListRef::Packed(p),
            List::Quick(q) => ListRef::Quick(q),
        }
    }

    /// A list of `items` in order (a loader's): the encoding pushing them
    /// one by one would reach.
    pub fn from_elements<I, T>(items: I, lim: ListLimit) -> List
    where
        I: IntoIterator<Item = T>,
        T: AsRef<[u8]>,
    {
        let mut l = List::default();
        for x in items {
            l.push_back(x.as_ref(), lim);
        }
        l
    }

    /// A packed list from its elements' bytes (`layout`'s form, no count),
    /// when they are well formed.
    pub fn from_packed(p: Vec<u8>) -> Option<List> {
        lp::valid(&p).then(|| List::Packed(with_header(&p, lp::count(&p))))
    }

    /// The packed bytes, when the list is small enough to be stored inside
    /// its entry.
    pub fn inline(&self) -> Option<&[u8]> {
        match self {
            List::Packed(p) => Some(p),
            List::Quick(_) => None,
        }
    }

    /// Bytes the list takes outside its entry and box.
    pub fn mem_size(&self) -> usize {
        match self {
            List::Packed(p) => chunk_size(p.capacity()),
            List::Quick(q) => q.mem_size(),
        }
    }

    /// Ahead of a write that adds `extra` bytes (and one element when
    /// `grows`): a packed list that would pass one node becomes a quick list
    /// first (Redis's `listTypeTryConvertListpack`). The quick list when the
    /// list is one now; `None` leaves the write to the packed bytes.
    fn make_room(&mut self, extra: usize, grows: bool, lim: ListLimit) -> Option<&mut Quick> {
        if let List::Packed(p) = self {
            let body_len = p.len().saturating_sub(HDR);
            if lim.fits_with(body_len + extra, || packed_len(p) + usize::from(grows)) {
                return None;
            }
            let mut buf = body(p).to_vec();
            *p = Vec::new();
            // A chunk's count must match its bytes: damaged bytes (which a
            // packed list only stops at) are left behind.
            buf.truncate(lp::valid_len(&buf));
            let mut q = Quick::default();
            if !buf.is_empty() {
                let count = lp::count(&buf);
                q.add_chunk(0, Chunk { buf, count });
            }
            *self = List::Quick(q);
        }
        match self {
            List::Quick(q) => Some(q),
            List::Packed(_) => None,
        }
    }

    /// After a write that may have shrunk the list: a quick list left with
    /// one node of at most half the limit (or none) goes back to packed.
    fn try_pack(&mut self, lim: ListLimit) {
        let List::Quick(q) = self else { return };
        let small = match q.chunks.len() {
            0 => true,
            1 => lim.fits_half(q.bytes, q.len),
            _ => false,
        };
        if small {
            // An emptied list is no bytes at all, as a new one; the chunk
            // knows its count.
            *self = List::Packed(match q.chunks.pop_front() {
                Some(c) if !c.buf.is_empty() => with_header(&c.buf, c.count),
                _ => Vec::new(),
            });
        }
    }

    /// LPUSH of one element.
    pub fn push_front(&mut self, v: &[u8], lim: ListLimit) {
        match self.make_room(lp::entry_size(v.len()), true, lim) {
            Some(q) => q.push_front(v, lim),
            None => {
                if let List::Packed(p) = self {
                    let n = packed_len(p);
                    set_len(p, n + 1);
                    reserve(p, lp::entry_size(v.len()), lim);
                    lp::insert(p, HDR, v);
                }
            }
        }
    }

    /// RPUSH of one element.
    pub fn push_back(&mut self, v: &[u8], lim: ListLimit) {
        match self.make_room(lp::entry_size(v.len()), true, lim) {
            Some(q) => q.push_back(v, lim),
            None => {
                if let List::Packed(p) = self {
                    let n = packed_len(p);
                    set_len(p, n + 1);
                    reserve(p, lp::entry_size(v.len()), lim);
                    lp::write(p, v);
                }
            }
        }
    }

    /// LPOP of one element.
    pub fn pop_front(&mut self, lim: ListLimit) -> Option<Vec<u8>> {
        let v = match self {
            List::Packed(p) => {
                let s = lp::read_at(body(p), 0)?;
                let v = body(p)[s.lo..s.hi].to_vec();
                let n = packed_len(p);
                p.drain(HDR..HDR + s.end);
                set_len(p, n.saturating_sub(1));
                Some(v)
            }
            List::Quick(q) => q.pop_front(lim),
        };
        self.try_pack(lim);
        v
    }

    /// RPOP of one element.
    pub fn pop_back(&mut self, lim: ListLimit) -> Option<Vec<u8>> {
        let v = match self {
            List::Packed(p) => {
                let b = body(p);
                let s = lp::read_before(b, b.len())?;
                let v = b[s.lo..s.hi].to_vec();
                let n = packed_len(p);
                p.truncate(HDR + s.start);
                set_len(p, n.saturating_sub(1));
                Some(v)
            }
            List::Quick(q) => q.pop_back(lim),
        };
        self.try_pack(lim);
        v
    }

    /// LPUSH (`front`) or RPUSH of `values`, one after another.
    pub fn push<V: AsRef<[u8]>>(&mut self, front: bool, values: &[V], lim: ListLimit) {
        for v in values {
            if front {
                self.push_front(v.as_ref(), lim);
            } else {
                self.push_back(v.as_ref(), lim);
            }
        }
    }

    /// LPOP (`front`) or RPOP of up to `n` elements, in the order taken.
    pub fn pop(&mut self, front: bool, n: usize, lim: ListLimit) -> Vec<Vec<u8>> {
        let mut out = Vec::with_capacity(n.min(self.as_ref().len()));
        while out.len() < n {
            let v = if front {
                self.pop_front(lim)
            } else {
                self.pop_back(lim)
            };
            match v {
                Some(v) => out.push(v),
                None => break,
            }
        }
        out
    }

    /// LSET: false when there is no element at `index`.
    pub fn set(&mut self, index: i64, v: &[u8], lim: ListLimit) -> bool {
        if let List::Packed(p) = self {
            let b = body(p);
            let span = if index < 0 {
                usize::try_from(index.unsigned_abs() - 1)
                    .ok()
                    .and_then(|k| lp::span_back(b, k))
            } else {
                usize::try_from(index)
                    .ok()
                    .and_then(|k| lp::span_front(b, k))
            };
            let Some(span) = span else {
                return false;
            };
            // The list grows by the difference (or shrinks): only a bigger
            // element can take it past the node.
            let extra = lp::entry_size(v.len()).saturating_sub(span.end - span.start);
            if self.make_room(extra, false, lim).is_none() {
                if let List::Packed(p) = self {
                    edit_body(p, |b| lp::replace(b, span, v));
                }
                return true;
            }
        }
        let done = match self {
            List::Quick(q) => place(index, q.len).is_some_and(|i| q.set(i, v, lim)),
            List::Packed(_) => false,
        };
        self.try_pack(lim);
        done
    }

    /// LINSERT: `v` before (or after) the first element equal to `pivot`;
    /// the new length, or `None` when there is no such element.
    pub fn insert(
        &mut self,
        before: bool,
        pivot: &[u8],
        v: &[u8],
        lim: ListLimit,
    ) -> Option<usize> {
        let at = self.as_ref().iter().position(|x| packed::same(x, pivot))?;
        let pos = if before { at } else { at + 1 };
        match self.make_room(lp::entry_size(v.len()), true, lim) {
            Some(q) => q.insert_at(pos, v, lim),
            None => {
                if let List::Packed(p) = self {
                    if let Some(off) = lp::skip(body(p), pos) {
                        let n = packed_len(p);
                        set_len(p, n + 1);
                        reserve(p, lp::entry_size(v.len()), lim);
                        lp::insert(p, HDR + off, v);
                    }
                }
            }
        }
        Some(self.as_ref().len())
    }

    /// LREM: up to `count` elements equal to `v` from the head (negative:
    /// `|count|` from the tail; 0: all of them); how many went.
    pub fn remove(&mut self, count: i64, v: &[u8], lim: ListLimit) -> usize {
        let limit = match count {
            0 => usize::MAX,
            c => usize::try_from(c.unsigned_abs()).unwrap_or(usize::MAX),
        };
        let gone = match self {
            List::Packed(p) => edit_body(p, |b| lp::remove_matching(b, v, limit, count < 0)),
            List::Quick(q) => q.remove(limit, v, count < 0, lim),
        };
        self.try_pack(lim);
        gone
    }

    /// LTRIM: keep `start..=stop` (Redis's reading of them), which may be
    /// nothing.
    pub fn trim(&mut self, start: i64, stop: i64, lim: ListLimit) {
        let len = self.as_ref().len();
        let (front, back) = match clamp(start, stop, len) {
            Some((a, b)) => (a, len - 1 - b),
            None => (len, 0),
        };
        match self {
            List::Packed(p) if front == len => p.clear(),
            List::Packed(p) => edit_body(p, |b| {
                if let Some(at) = lp::offset(b, len - back, len) {
                    b.truncate(at);
                }
                if let Some(at) = lp::skip(b, front) {
                    b.drain(..at);
                }
            }),
            List::Quick(q) => q.trim(front, back, lim),
        }
        self.try_pack(lim);
    }
}

#[cfg(test)]
mod tests;
