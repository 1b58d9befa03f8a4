//! A big list's encoding: a deque of packed chunks (see `layout`), each
//! within the node limit, no two neighbours small enough to be one, with
//! running totals of elements, bytes and heap. It owns splitting and merging
//! chunks; Redis's index rules and the packed/quick conversions are `list`'s.

use super::{lp, ListLimit};
use crate::storage::memory::chunk_size;
use std::collections::{vec_deque, VecDeque};

/// Room in a node's buffer for `extra` more bytes: doubling as a `Vec`
/// does, but not past the node limit — a full node would otherwise carry up
/// to as much again unused, and a big list is mostly full nodes.
pub(super) fn reserve(buf: &mut Vec<u8>, extra: usize, lim: ListLimit) {
    let need = buf.len() + extra;
    if need > buf.capacity() {
        let cap = (buf.capacity() * 2).min(lim.bounds().0).max(need);
        buf.reserve_exact(cap - buf.len());
    }
}

/// One node of a quick list: packed elements and how many.
#[derive(Clone, Debug)]
pub(super) struct Chunk {
    pub(super) buf: Vec<u8>,
    pub(super) count: usize,
}

impl Chunk {
    pub(super) fn of(v: &[u8]) -> Chunk {
        Chunk {
            buf: lp::encode(v),
            count: 1,
        }
    }

    pub(super) fn heap(&self) -> usize {
        if self.buf.capacity() == 0 {
            0
        } else {
            chunk_size(self.buf.capacity())
        }
    }

    /// Insert `v` at byte `at` (an element's start, or the end).
    pub(super) fn insert(&mut self, at: usize, v: &[u8], lim: ListLimit) {
        reserve(&mut self.buf, lp::entry_size(v.len()), lim);
        lp::insert(&mut self.buf, at, v);
        self.count += 1;
    }

    pub(super) fn push_back(&mut self, v: &[u8], lim: ListLimit) {
        self.insert(self.buf.len(), v, lim);
    }

    pub(super) fn append(&mut self, b: &Chunk, lim: ListLimit) {
        reserve(&mut self.buf, b.buf.len(), lim);
        self.buf.extend_from_slice(&b.buf);
        self.count += b.count;
    }
}

/// A big list: packed chunks, each within the node limit (or one element
/// bigger than a node), no two neighbours small enough to be one — so a
/// push or pop touches one chunk of a few KB and memory per element stays
/// close to a packed list's.
#[derive(Clone, Debug, Default)]
pub struct Quick {
    pub(super) chunks: VecDeque<Chunk>,
    pub(super) len: usize,
    /// The chunks' encoded bytes.
    pub(super) bytes: usize,
    /// The chunks' buffers as malloc chunks, kept as they change: the
    /// keyspace reads [`List::mem_size`] after every write.
    pub(super) heap: usize,
}

impl Quick {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Its nodes (chunks).
    pub fn nodes(&self) -> usize {
        self.chunks.len()
    }

    pub(super) fn mem_size(&self) -> usize {
        let slots = self.chunks.capacity() * std::mem::size_of::<Chunk>();
        self.heap + if slots == 0 { 0 } else { chunk_size(slots) }
    }

    pub(super) fn add_chunk(&mut self, i: usize, c: Chunk) {
        self.len += c.count;
        self.bytes += c.buf.len();
        self.heap += c.heap();
        self.chunks.insert(i.min(self.chunks.len()), c);
    }

    pub(super) fn take_chunk(&mut self, i: usize) -> Option<Chunk> {
        let c = self.chunks.remove(i)?;
        self.len -= c.count;
        self.bytes -= c.buf.len();
        self.heap -= c.heap();
        // A list that shrank a lot gives back its deque's slots once a
        // quarter of them are used (amortised, as a Vec's doubling).
        if self.chunks.len() * 4 < self.chunks.capacity() {
            self.chunks.shrink_to(self.chunks.len() * 2);
        }
        Some(c)
    }

    /// Change chunk `i` through `f`, keeping the totals.
    pub(super) fn edit<R>(&mut self, i: usize, f: impl FnOnce(&mut Chunk) -> R) -> Option<R> {
        let c = self.chunks.get_mut(i)?;
        let before = (c.count, c.buf.len(), c.heap());
        let r = f(c);
        self.len = self.len + c.count - before.0;
        self.bytes = self.bytes + c.buf.len() - before.1;
        self.heap = self.heap + c.heap() - before.2;
        Some(r)
    }

    /// The chunk holding element `index` and the element's place in it.
    pub(super) fn locate(&self, index: usize) -> Option<(usize, usize)> {
        if index >= self.len {
            return None;
        }
        if index < self.len / 2 {
            let mut rest = index;
            for (i, c) in self.chunks.iter().enumerate() {
                if rest < c.count {
                    return Some((i, rest));
                }
                rest -= c.count;
            }
        } else {
            let mut rest = self.len - 1 - index;
            for (i, c) in self.chunks.iter().enumerate().rev() {
                if rest < c.count {
                    return Some((i, c.count - 1 - rest));
                }
                rest -= c.count;
            }
        }
        None
    }

    pub(super) fn get(&self, index: usize) -> Option<&[u8]> {
        let (i, k) = self.locate(index)?;
        let c = self.chunks.get(i)?;
        let s = lp::nth(&c.buf, k, c.count)?;
        Some(&c.buf[s.lo..s.hi])
    }

    pub(super) fn fits_in(&self, i: usize, bytes: usize, lim: ListLimit) -> bool {
        self.chunks
            .get(i)
            .is_some_and(|c| lim.fits(c.buf.len() + bytes, c.count + 1))
    }

    pub(super) fn push_back(&mut self, v: &[u8], lim: ListLimit) {
        let last = self.chunks.len().wrapping_sub(1);
        if self.fits_in(last, lp::entry_size(v.len()), lim) {
            self.edit(last, |c| c.push_back(v, lim));
        } else {
            self.add_chunk(self.chunks.len(), Chunk::of(v));
        }
    }

    pub(super) fn push_front(&mut self, v: &[u8], lim: ListLimit) {
        if self.fits_in(0, lp::entry_size(v.len()), lim) {
            self.edit(0, |c| c.insert(0, v, lim));
        } else {
            self.add_chunk(0, Chunk::of(v));
        }
    }

    pub(super) fn pop_front(&mut self, lim: ListLimit) -> Option<Vec<u8>> {
        let v = self.edit(0, |c| {
            let v = lp::pop_front(&mut c.buf)?;
            c.count -= 1;
            Some(v)
        })??;
        self.settle(0, 0, lim);
        Some(v)
    }

    pub(super) fn pop_back(&mut self, lim: ListLimit) -> Option<Vec<u8>> {
        let last = self.chunks.len().checked_sub(1)?;
        let v = self.edit(last, |c| {
            let v = lp::pop_back(&mut c.buf)?;
            c.count -= 1;
            Some(v)
        })??;
        self.settle(last, last, lim);
        Some(v)
    }

    /// Insert `v` so that it becomes element `pos` (`pos <= len`). A full
    /// chunk is split at the place, as quicklist does, rather than spilling
    /// elements along the list.
    pub(super) fn insert_at(&mut self, pos: usize, v: &[u8], lim: ListLimit) {
        if pos == 0 {
            return self.push_front(v, lim);
        }
        let Some((i, k)) = self.locate(pos) else {
            return self.push_back(v, lim);
        };
        let e = lp::entry_size(v.len());
        if self.fits_in(i, e, lim) {
            self.edit(i, |c| {
                if let Some(at) = lp::offset(&c.buf, k, c.count) {
                    c.insert(at, v, lim);
                }
            });
            return;
        }
        if k == 0 {
            // Between two chunks, and the right one is full for it.
            match i.checked_sub(1) {
                Some(left) if self.fits_in(left, e, lim) => {
                    self.edit(left, |c| c.push_back(v, lim));
                }
                _ => self.add_chunk(i, Chunk::of(v)),
            }
            return;
        }
        let right = self.edit(i, |c| {
            let at = lp::offset(&c.buf, k, c.count)?;
            let buf = c.buf.split_off(at);
            let count = c.count - k;
            c.count = k;
            Some(Chunk { buf, count })
        });
        let Some(Some(right)) = right else { return };
        self.add_chunk(i + 1, right);
        if self.fits_in(i, e, lim) {
            self.edit(i, |c| c.push_back(v, lim));
        } else if self.fits_in(i + 1, e, lim) {
            self.edit(i + 1, |c| c.insert(0, v, lim));
        } else {
            self.add_chunk(i + 1, Chunk::of(v));
        }
        self.settle(i, i + 2, lim);
    }

    pub(super) fn remove_at(&mut self, index: usize, lim: ListLimit) {
        let Some((i, k)) = self.locate(index) else {
            return;
        };
        self.edit(i, |c| {
            if let Some(s) = lp::nth(&c.buf, k, c.count) {
                c.buf.drain(s.start..s.end);
                c.count -= 1;
            }
        });
        self.settle(i, i, lim);
    }

    pub(super) fn set(&mut self, index: usize, v: &[u8], lim: ListLimit) -> bool {
        let Some((i, k)) = self.locate(index) else {
            return false;
        };
        let Some(c) = self.chunks.get(i) else {
            return false;
        };
        let Some(s) = lp::nth(&c.buf, k, c.count) else {
            return false;
        };
        let bytes = c.buf.len() - (s.end - s.start) + lp::entry_size(v.len());
        if c.count == 1 || lim.fits(bytes, c.count) {
            self.edit(i, |c| {
                let extra = bytes.saturating_sub(c.buf.len());
                reserve(&mut c.buf, extra, lim);
                lp::replace(&mut c.buf, s, v);
            });
            self.settle(i, i, lim);
        } else {
            self.remove_at(index, lim);
            self.insert_at(index, v, lim);
        }
        true
    }

    pub(super) fn remove(
        &mut self,
        limit: usize,
        v: &[u8],
        from_back: bool,
        lim: ListLimit,
    ) -> usize {
        let n = self.chunks.len();
        let mut removed = 0;
        for j in 0..n {
            if removed == limit {
                break;
            }
            let i = if from_back { n - 1 - j } else { j };
            let want = limit - removed;
            removed += self
                .edit(i, |c| {
                    let gone = lp::remove_matching(&mut c.buf, v, want, from_back);
                    c.count -= gone;
                    gone
                })
                .unwrap_or(0);
        }
        if removed > 0 {
            self.settle_all(lim);
        }
        removed
    }

    /// Drop `front` elements at the head and `back` at the tail.
    pub(super) fn trim(&mut self, mut front: usize, mut back: usize, lim: ListLimit) {
        while front > 0 {
            let Some(c) = self.chunks.front() else { break };
            if c.count <= front {
                front -= c.count;
                self.take_chunk(0);
                continue;
            }
            self.edit(0, |c| {
                if let Some(at) = lp::offset(&c.buf, front, c.count) {
                    c.buf.drain(..at);
                    c.count -= front;
                }
            });
            break;
        }
        while back > 0 {
            let Some(c) = self.chunks.back() else { break };
            let last = self.chunks.len() - 1;
            if c.count <= back {
                back -= c.count;
                self.take_chunk(last);
                continue;
            }
            self.edit(last, |c| {
                if let Some(at) = lp::offset(&c.buf, c.count - back, c.count) {
                    c.buf.truncate(at);
                    c.count -= back;
                }
            });
            break;
        }
        self.settle(0, 0, lim);
        let last = self.chunks.len().saturating_sub(1);
        self.settle(last, last, lim);
    }

    /// After chunks `lo..=hi` shrank: drop the ones left empty and merge
    /// neighbours that fit one node together, as quicklist does, so no two
    /// neighbours could be one chunk. Only pairs touching the range need a
    /// look: the others were unmergeable before, and merging only grows
    /// chunks.
    pub(super) fn settle(&mut self, lo: usize, hi: usize, lim: ListLimit) {
        let mut end = (hi + 1).min(self.chunks.len());
        for i in (lo..end).rev() {
            if self.chunks.get(i).is_some_and(|c| c.count == 0) {
                self.take_chunk(i);
                end -= 1;
            }
        }
        // Pairs (i, i + 1) for i from lo - 1 to end - 1: every pair touching
        // what is left of the range (or, when all of it went, the two chunks
        // now side by side).
        let mut i = lo.saturating_sub(1);
        while i < end && i + 1 < self.chunks.len() {
            if self.mergeable(i, lim) {
                self.merge(i, lim);
                // The merged chunk must be checked against its new right
                // neighbour.
                end = (end - 1).max(i + 1);
            } else {
                i += 1;
            }
        }
    }

    /// [`Quick::settle`] over the whole list in one pass, for an operation
    /// that may have shrunk any chunk (LREM): rebuilding the deque costs
    /// O(chunks) where removing and merging chunks in place would shift it
    /// once per change.
    pub(super) fn settle_all(&mut self, lim: ListLimit) {
        let old = std::mem::take(&mut self.chunks);
        (self.len, self.bytes, self.heap) = (0, 0, 0);
        for c in old.into_iter().filter(|c| c.count > 0) {
            let n = self.chunks.len();
            let joins = self
                .chunks
                .back()
                .is_some_and(|a| lim.fits(a.buf.len() + c.buf.len(), a.count + c.count));
            if joins {
                self.edit(n - 1, |a| a.append(&c, lim));
            } else {
                self.add_chunk(n, c);
            }
        }
    }

    pub(super) fn mergeable(&self, i: usize, lim: ListLimit) -> bool {
        match (self.chunks.get(i), self.chunks.get(i + 1)) {
            (Some(a), Some(b)) => lim.fits(a.buf.len() + b.buf.len(), a.count + b.count),
            _ => false,
        }
    }

    pub(super) fn merge(&mut self, i: usize, lim: ListLimit) {
        let Some(b) = self.take_chunk(i + 1) else {
            return;
        };
        self.edit(i, |a| a.append(&b, lim));
    }

    /// The elements from `index` (counted from the head) to the tail.
    pub(super) fn iter_from(&self, index: usize) -> Iter<'_> {
        let Some((i, k)) = self.locate(index) else {
            return Iter::default();
        };
        let mut front = self
            .chunks
            .get(i)
            .map(|c| lp::iter(&c.buf))
            .unwrap_or_default();
        for _ in 0..k {
            front.next_span();
        }
        Iter {
            front,
            mid: self.chunks.range(i + 1..),
            back: lp::Iter::default(),
        }
    }
}

/// A list's elements in order; `.rev()` walks it from the tail.
#[derive(Clone, Default)]
pub struct Iter<'a> {
    pub(super) front: lp::Iter<'a>,
    pub(super) mid: vec_deque::Iter<'a, Chunk>,
    pub(super) back: lp::Iter<'a>,
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        loop {
            if let Some(x) = self.front.next() {
                return Some(x);
            }
            match self.mid.next() {
                Some(c) => self.front = lp::iter(&c.buf),
                None => return self.back.next(),
            }
        }
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(x) = self.back.next_back() {
                return Some(x);
            }
            match self.mid.next_back() {
                Some(c) => self.back = lp::iter(&c.buf),
                None => return self.front.next_back(),
            }
        }
    }
}
