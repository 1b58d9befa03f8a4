//! The packed layout: each element is its length (LEB128), its bytes and
//! its *back length* — the size of those two, written as listpack's backlen:
//! 7-bit groups, most significant first, every byte but the first with its
//! high bit set, so that a reader starting at an element's last byte knows
//! where the number, and so the element, begins. Decoders return `None` on
//! bytes that are not this layout, and accept only the shortest encodings,
//! so that a list has one byte form and a chunk's size is the sum of its
//! elements' [`entry_size`]. It never knows lists as values: chunks,
//! limits and conversions are `list`'s.

use crate::storage::object::packed;

/// The 7-bit groups needed to write `n` (at least one).
pub fn groups(mut n: usize) -> usize {
    let mut g = 1;
    while n >= 0x80 {
        n >>= 7;
        g += 1;
    }
    g
}

/// The bytes an element of `len` bytes takes.
pub fn entry_size(len: usize) -> usize {
    let fwd = groups(len) + len;
    fwd + groups(fwd)
}

/// Append an element.
pub fn write(out: &mut Vec<u8>, s: &[u8]) {
    let (prefix, used) = packed::len_prefix(s.len());
    out.reserve(entry_size(s.len()));
    out.extend_from_slice(&prefix[..used]);
    out.extend_from_slice(s);
    let fwd = used + s.len();
    let n = groups(fwd);
    for g in (0..n).rev() {
        let b = ((fwd >> (7 * g)) & 0x7f) as u8;
        out.push(if g + 1 == n { b } else { b | 0x80 });
    }
}

pub fn encode(s: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(entry_size(s.len()));
    write(&mut v, s);
    v
}

/// Where one element lies: it starts at `start`, its bytes are
/// `lo..hi`, the next element starts at `end`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    pub start: usize,
    pub lo: usize,
    pub hi: usize,
    pub end: usize,
}

/// A LEB128 number at `at`: its value and where it ends.
fn read_leb(p: &[u8], mut at: usize) -> Option<(usize, usize)> {
    let mut n = 0usize;
    for shift in (0..70).step_by(7) {
        let b = *p.get(at)?;
        at += 1;
        n |= usize::from(b & 0x7f).checked_shl(shift)?;
        if b & 0x80 == 0 {
            return Some((n, at));
        }
    }
    None
}

/// A back length whose last byte is just before `end`: its value and
/// where it starts.
fn read_back(p: &[u8], end: usize) -> Option<(usize, usize)> {
    let mut n = 0usize;
    let mut i = end;
    for shift in (0..70).step_by(7) {
        i = i.checked_sub(1)?;
        let b = *p.get(i)?;
        n |= usize::from(b & 0x7f).checked_shl(shift)?;
        if b & 0x80 == 0 {
            return Some((n, i));
        }
    }
    None
}

/// The element starting at `at`.
pub fn read_at(p: &[u8], at: usize) -> Option<Span> {
    let (len, lo) = read_leb(p, at)?;
    let hi = lo.checked_add(len).filter(|&h| h <= p.len())?;
    let fwd = hi - at;
    let end = hi.checked_add(groups(fwd))?;
    let (back, first) = read_back(p, end)?;
    (lo - at == groups(len) && back == fwd && first == hi).then_some(Span {
        start: at,
        lo,
        hi,
        end,
    })
}

/// The element ending just before `end`.
pub fn read_before(p: &[u8], end: usize) -> Option<Span> {
    let (fwd, first) = read_back(p, end)?;
    let start = first.checked_sub(fwd)?;
    read_at(p, start).filter(|s| s.end == end)
}

/// How many of `p`'s first bytes are well-formed elements.
pub fn valid_len(p: &[u8]) -> usize {
    let mut at = 0;
    while let Some(s) = read_at(p, at) {
        at = s.end;
    }
    at
}

/// True when `p` is a whole number of well-formed elements.
pub fn valid(p: &[u8]) -> bool {
    valid_len(p) == p.len()
}

/// The elements from either end. A damaged element ends the walk from
/// the side that met it.
#[derive(Clone, Debug, Default)]
pub struct Iter<'a> {
    p: &'a [u8],
    front: usize,
    back: usize,
}

pub fn iter(p: &[u8]) -> Iter<'_> {
    Iter {
        p,
        front: 0,
        back: p.len(),
    }
}

impl<'a> Iter<'a> {
    /// Pass over the next `n` elements from the front (see [`end_of`]).
    pub fn skip_front(&mut self, n: usize) {
        for _ in 0..n {
            match end_of(self.p, self.front).filter(|&end| end <= self.back) {
                Some(end) => self.front = end,
                None => {
                    self.front = self.back;
                    return;
                }
            }
        }
    }

    pub fn next_span(&mut self) -> Option<Span> {
        if self.front >= self.back {
            return None;
        }
        let s = read_at(self.p, self.front).filter(|s| s.end <= self.back);
        self.front = s.map_or(self.back, |s| s.end);
        s
    }

    pub fn next_back_span(&mut self) -> Option<Span> {
        if self.front >= self.back {
            return None;
        }
        let s = read_before(self.p, self.back).filter(|s| s.start >= self.front);
        self.back = s.map_or(self.front, |s| s.start);
        s
    }
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a [u8];
    #[inline]
    fn next(&mut self) -> Option<&'a [u8]> {
        let s = self.next_span()?;
        Some(&self.p[s.lo..s.hi])
    }
}

impl DoubleEndedIterator for Iter<'_> {
    #[inline]
    fn next_back(&mut self) -> Option<Self::Item> {
        let s = self.next_back_span()?;
        Some(&self.p[s.lo..s.hi])
    }
}

/// Where the element at `at` ends, read from its forward length alone.
/// Counting and skipping trust the bytes (a list's own, checked when they
/// came in: [`valid`]) rather than check every back length, as a read
/// does: LLEN, LPUSH's reply and LRANGE's start walk a packed list of up
/// to a node's size on every call. Still never past the end.
#[inline]
fn end_of(p: &[u8], at: usize) -> Option<usize> {
    let (len, lo) = read_leb(p, at)?;
    let hi = lo.checked_add(len)?;
    let end = hi.checked_add(groups(hi - at))?;
    (end <= p.len()).then_some(end)
}

/// The elements in `p` (see [`end_of`]).
pub fn count(p: &[u8]) -> usize {
    let (mut at, mut n) = (0, 0);
    while at < p.len() {
        match end_of(p, at) {
            Some(end) => at = end,
            None => break,
        }
        n += 1;
    }
    n
}

/// The `k`-th element from the front.
pub fn span_front(p: &[u8], k: usize) -> Option<Span> {
    let mut it = iter(p);
    it.skip_front(k);
    it.next_span()
}

/// The `k`-th element from the back.
pub fn span_back(p: &[u8], k: usize) -> Option<Span> {
    let mut it = iter(p);
    for _ in 0..k {
        it.next_back_span()?;
    }
    it.next_back_span()
}

/// The `k`-th of `n` elements, walked to from the nearer end.
pub fn nth(p: &[u8], k: usize, n: usize) -> Option<Span> {
    if k < n / 2 {
        span_front(p, k)
    } else {
        span_back(p, n.checked_sub(k + 1)?)
    }
}

/// Where the `k`-th of `n` elements starts (`p.len()` for `k == n`).
pub fn offset(p: &[u8], k: usize, n: usize) -> Option<usize> {
    if k >= n {
        return (k == n).then_some(p.len());
    }
    nth(p, k, n).map(|s| s.start)
}

/// Where the `k`-th element starts, walking from the front (`p.len()`
/// after the last).
pub fn skip(p: &[u8], k: usize) -> Option<usize> {
    let mut at = 0;
    for _ in 0..k {
        at = end_of(p, at)?;
    }
    Some(at)
}

/// Insert an element at byte `at` (an element's start, or the end).
pub fn insert(p: &mut Vec<u8>, at: usize, s: &[u8]) {
    let at = at.min(p.len());
    let n = entry_size(s.len());
    write(p, s);
    p[at..].rotate_right(n);
}

/// Replace the element at `span` by `s`.
pub fn replace(p: &mut Vec<u8>, span: Span, s: &[u8]) {
    p.splice(span.start..span.end, encode(s));
}

pub fn pop_front(p: &mut Vec<u8>) -> Option<Vec<u8>> {
    let s = read_at(p, 0)?;
    let v = p[s.lo..s.hi].to_vec();
    p.drain(..s.end);
    Some(v)
}

pub fn pop_back(p: &mut Vec<u8>) -> Option<Vec<u8>> {
    let s = read_before(p, p.len())?;
    let v = p[s.lo..s.hi].to_vec();
    p.truncate(s.start);
    Some(v)
}

/// Remove up to `limit` elements equal to `v`, the first ones met from
/// the front (or the back); how many went.
pub fn remove_matching(p: &mut Vec<u8>, v: &[u8], limit: usize, from_back: bool) -> usize {
    let mut hits: Vec<(usize, usize)> = Vec::new();
    let mut it = iter(p);
    while hits.len() < limit {
        let s = if from_back {
            it.next_back_span()
        } else {
            it.next_span()
        };
        let Some(s) = s else { break };
        if packed::same(&p[s.lo..s.hi], v) {
            hits.push((s.start, s.end));
        }
    }
    if from_back {
        hits.reverse();
    }
    let Some(&(mut w, _)) = hits.first() else {
        return 0;
    };
    // Close the gaps in one pass: every kept run moves once.
    for (j, &(_, end)) in hits.iter().enumerate() {
        let next = hits.get(j + 1).map_or(p.len(), |h| h.0);
        p.copy_within(end..next, w);
        w += next - end;
    }
    p.truncate(w);
    hits.len()
}
