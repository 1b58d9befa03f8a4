//! The compact encodings of small collections, stored inside the key's own
//! entry: a **packed list** (each element a LEB128 length and its bytes, one
//! after another: a small set's members), **packed pairs** (a small hash's
//! fields and values: one header byte for both lengths when the field has
//! at most 15 bytes and the value at most 14 — most hashes' — else a marker
//! and two LEB128 lengths; then the field's bytes and the value's) and an
//! **intset** (a small set of integers:
//! a width byte, then the integers sorted, little-endian, each in that many
//! bytes, as Redis's intset). Lookups are linear or binary searches over a
//! few hundred elements at most — Redis's listpack trade. Only layouts live
//! here: never a limit, a command or a reply.

/// The elements of a packed list, in order.
pub fn iter(p: &[u8]) -> Iter<'_> {
    Iter { p, at: 0 }
}

pub struct Iter<'a> {
    p: &'a [u8],
    at: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a [u8];
    #[inline]
    fn next(&mut self) -> Option<&'a [u8]> {
        let (len, start) = read_len(self.p, self.at)?;
        let end = start.checked_add(len).filter(|&e| e <= self.p.len())?;
        self.at = end;
        Some(&self.p[start..end])
    }
}

impl Iter<'_> {
    /// Where the next element's length starts.
    pub fn offset(&self) -> usize {
        self.at
    }
}

#[inline]
fn read_len(p: &[u8], mut i: usize) -> Option<(usize, usize)> {
    let mut n = 0usize;
    let mut shift = 0;
    loop {
        let b = *p.get(i)?;
        n |= usize::from(b & 0x7f).checked_shl(shift)?;
        i += 1;
        if b & 0x80 == 0 {
            return Some((n, i));
        }
        shift += 7;
    }
}

/// Append an element to a packed list.
pub fn push(v: &mut Vec<u8>, s: &[u8]) {
    push_len(v, s.len());
    v.extend_from_slice(s);
}

/// Elements in a packed list.
pub fn count(p: &[u8]) -> usize {
    iter(p).count()
}

/// The byte range of the `i`-th element (its length prefix included).
pub fn span(p: &[u8], i: usize) -> Option<(usize, usize)> {
    let mut it = iter(p);
    for _ in 0..i {
        it.next()?;
    }
    let start = it.offset();
    it.next()?;
    Some((start, it.offset()))
}

/// The encoded size of an element of `len` bytes.
pub fn encoded_len(len: usize) -> usize {
    let mut n = 1;
    let mut l = len;
    while l >= 0x80 {
        l >>= 7;
        n += 1;
    }
    n + len
}

/// Byte equality for the short strings packed encodings hold, last byte
/// first: fields and members often share a prefix and a length (`field0`
/// … `field9`), and this rejects those without a call to `memcmp`.
#[inline]
pub fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.last() == b.last() && a == b
}

// --- pairs ------------------------------------------------------------------

/// Value lengths a short pair header holds (0..=14); field lengths 0..=15.
const SHORT_VALUES: usize = 15;
/// Short headers are below this (16 field lengths × 15 value lengths).
const SHORT_END: u8 = 240;
/// The header of a pair with a long field or value: two LEB128 lengths follow.
const LONG_PAIR: u8 = 0xFF;

/// The field/value pairs of packed pairs, in order.
pub fn pairs(p: &[u8]) -> Pairs<'_> {
    Pairs { p, at: 0 }
}

pub struct Pairs<'a> {
    p: &'a [u8],
    at: usize,
}

impl<'a> Iterator for Pairs<'a> {
    type Item = (&'a [u8], &'a [u8]);
    #[inline]
    fn next(&mut self) -> Option<(&'a [u8], &'a [u8])> {
        let h = *self.p.get(self.at)?;
        let (flen, vlen, start) = if h < SHORT_END {
            let h = usize::from(h);
            (h / SHORT_VALUES, h % SHORT_VALUES, self.at + 1)
        } else if h == LONG_PAIR {
            let (flen, i) = read_len(self.p, self.at + 1)?;
            let (vlen, i) = read_len(self.p, i)?;
            (flen, vlen, i)
        } else {
            return None;
        };
        let fend = start.checked_add(flen)?;
        let vend = fend.checked_add(vlen).filter(|&e| e <= self.p.len())?;
        self.at = vend;
        Some((&self.p[start..fend], &self.p[fend..vend]))
    }
}

impl Pairs<'_> {
    /// Where the next pair's header starts.
    pub fn offset(&self) -> usize {
        self.at
    }
}

/// The header of a pair of a `flen`-byte field and a `vlen`-byte value,
/// and how many of its bytes are used (one for a short pair; else
/// [`LONG_PAIR`] and two LEB128 lengths of at most 10 bytes each).
pub fn pair_header(flen: usize, vlen: usize) -> ([u8; 21], usize) {
    let mut h = [0u8; 21];
    if flen <= 15 && vlen < SHORT_VALUES {
        h[0] = (flen * SHORT_VALUES + vlen) as u8;
        return (h, 1);
    }
    h[0] = LONG_PAIR;
    let mut n = 1;
    for mut l in [flen, vlen] {
        while l >= 0x80 {
            h[n] = (l as u8) | 0x80;
            l >>= 7;
            n += 1;
        }
        h[n] = l as u8;
        n += 1;
    }
    (h, n)
}

/// Append a pair to packed pairs.
pub fn push_pair(v: &mut Vec<u8>, field: &[u8], value: &[u8]) {
    let (h, n) = pair_header(field.len(), value.len());
    v.extend_from_slice(&h[..n]);
    v.extend_from_slice(field);
    v.extend_from_slice(value);
}

/// The encoded size of a pair of `field` and `value` bytes.
pub fn pair_len(field: usize, value: usize) -> usize {
    if field <= 15 && value < SHORT_VALUES {
        1 + field + value
    } else {
        1 + encoded_len(field) + encoded_len(value)
    }
}

fn push_len(v: &mut Vec<u8>, n: usize) {
    let (prefix, used) = len_prefix(n);
    v.extend_from_slice(&prefix[..used]);
}

/// An element's length prefix (LEB128) and how many of its bytes are used.
pub fn len_prefix(mut n: usize) -> ([u8; 10], usize) {
    let mut out = [0u8; 10];
    let mut used = 0;
    while n >= 0x80 {
        out[used] = (n as u8) | 0x80;
        n >>= 7;
        used += 1;
    }
    out[used] = n as u8;
    (out, used + 1)
}

// --- intset -----------------------------------------------------------------

/// The bytes an integer needs in an intset (2, 4 or 8, as Redis).
#[inline]
pub fn int_width(v: i64) -> usize {
    if i16::try_from(v).is_ok() {
        2
    } else if i32::try_from(v).is_ok() {
        4
    } else {
        8
    }
}

/// An empty intset.
pub fn intset_new() -> Vec<u8> {
    vec![2]
}

#[inline]
fn width_of(s: &[u8]) -> usize {
    match s.first() {
        Some(&w @ (2 | 4 | 8)) => usize::from(w),
        _ => 8,
    }
}

pub fn intset_len(s: &[u8]) -> usize {
    s.len().saturating_sub(1) / width_of(s)
}

#[inline]
pub fn intset_get(s: &[u8], i: usize) -> i64 {
    let w = width_of(s);
    let at = 1 + i * w;
    let Some(b) = s.get(at..at + w) else {
        return 0;
    };
    let mut x = [0u8; 8];
    x[..w].copy_from_slice(b);
    if b[w - 1] & 0x80 != 0 {
        x[w..].fill(0xff);
    }
    i64::from_le_bytes(x)
}

/// Binary search: `Ok(index)` when present, else where it would go.
pub fn intset_find(s: &[u8], v: i64) -> Result<usize, usize> {
    let (mut lo, mut hi) = (0, intset_len(s));
    while lo < hi {
        let mid = (lo + hi) / 2;
        match intset_get(s, mid).cmp(&v) {
            std::cmp::Ordering::Equal => return Ok(mid),
            std::cmp::Ordering::Less => lo = mid + 1,
            std::cmp::Ordering::Greater => hi = mid,
        }
    }
    Err(lo)
}

pub fn intset_iter(s: &[u8]) -> impl Iterator<Item = i64> + '_ {
    (0..intset_len(s)).map(move |i| intset_get(s, i))
}

/// Insert `v`; false when it was already there. Widens the set when `v`
/// needs more bytes than its members (never narrows, as Redis).
pub fn intset_add(s: &mut Vec<u8>, v: i64) -> bool {
    let Err(at) = intset_find(s, v) else {
        return false;
    };
    let w = width_of(s);
    let need = int_width(v);
    if need > w {
        let old: Vec<i64> = intset_iter(s).collect();
        let mut n = Vec::with_capacity(1 + (old.len() + 1) * need);
        n.push(need as u8);
        for x in old
            .iter()
            .take(at)
            .chain(std::iter::once(&v))
            .chain(&old[at..])
        {
            n.extend_from_slice(&x.to_le_bytes()[..need]);
        }
        *s = n;
        return true;
    }
    let pos = 1 + at * w;
    s.splice(pos..pos, v.to_le_bytes()[..w].iter().copied());
    true
}

/// Remove `v`; false when it was not there.
pub fn intset_remove(s: &mut Vec<u8>, v: i64) -> bool {
    let Ok(at) = intset_find(s, v) else {
        return false;
    };
    let w = width_of(s);
    s.drain(1 + at * w..1 + (at + 1) * w);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_round_trip_at_every_header_boundary() {
        let lens = [0usize, 1, 13, 14, 15, 16, 127, 128, 300, 70_000];
        let mut p = Vec::new();
        let mut want = Vec::new();
        for &f in &lens {
            for &v in &lens {
                let (field, value) = (vec![b'f'; f], vec![b'v'; v]);
                let before = p.len();
                push_pair(&mut p, &field, &value);
                assert_eq!(p.len() - before, pair_len(f, v), "{f} {v}");
                want.push((field, value));
            }
        }
        let got: Vec<(Vec<u8>, Vec<u8>)> =
            pairs(&p).map(|(f, v)| (f.to_vec(), v.to_vec())).collect();
        assert_eq!(got, want);
        // The short header: a 6-byte field and a 4-byte value in 11 bytes.
        let mut short = Vec::new();
        push_pair(&mut short, b"field0", b"v123");
        assert_eq!(short.len(), 11);
        assert_eq!(short[0], 6 * 15 + 4);
        let mut long = Vec::new();
        push_pair(&mut long, b"f", &[b'x'; 15]);
        assert_eq!(long[..3], [0xFF, 1, 15]);
    }

    #[test]
    fn damaged_pairs_end_the_walk_without_reading_past_the_end() {
        // A reserved header, a length past the end, a cut LEB128.
        for bad in [
            &[240u8][..],
            &[254],
            &[14 * 15 + 3, b'a'],
            &[0xFF, 0x80],
            &[0xFF, 3, 1, b'a'],
        ] {
            assert_eq!(pairs(bad).count(), 0, "{bad:?}");
        }
        let mut p = Vec::new();
        push_pair(&mut p, b"a", b"b");
        p.push(241);
        assert_eq!(pairs(&p).count(), 1);
    }

    #[test]
    fn packed_lists_hold_any_bytes() {
        let mut v = Vec::new();
        let items: Vec<Vec<u8>> = vec![vec![], b"a".to_vec(), vec![7u8; 200], vec![0xff; 20000]];
        for i in &items {
            push(&mut v, i);
        }
        assert_eq!(
            iter(&v).collect::<Vec<_>>(),
            items.iter().map(|x| &x[..]).collect::<Vec<_>>()
        );
        assert_eq!(count(&v), 4);
        let (a, b) = span(&v, 2).expect("third");
        assert_eq!(b - a, encoded_len(200));
        assert!(span(&v, 4).is_none());
        // A truncated list ends early rather than reading past its end.
        assert_eq!(iter(&v[..v.len() - 1]).count(), 3);
    }

    #[test]
    fn intsets_stay_sorted_and_widen() {
        let mut s = intset_new();
        for v in [5i64, -3, 5, 70000, i64::MIN, 1 << 40, 0] {
            intset_add(&mut s, v);
        }
        assert_eq!(
            intset_iter(&s).collect::<Vec<_>>(),
            [i64::MIN, -3, 0, 5, 70000, 1 << 40]
        );
        assert_eq!(s[0], 8);
        assert!(intset_remove(&mut s, 5));
        assert!(!intset_remove(&mut s, 5));
        assert_eq!(intset_find(&s, 70000), Ok(3));
        let mut t = intset_new();
        intset_add(&mut t, -40000);
        assert_eq!((t[0], intset_len(&t)), (4, 1));
        assert_eq!(intset_get(&t, 0), -40000);
    }
}
