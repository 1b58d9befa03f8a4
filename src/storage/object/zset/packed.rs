//! The packed layout of a small sorted set, stored inside its key's entry:
//! elements one after another in the set's order (score, then member
//! bytes), each its score, its member's length (LEB128) and the member's
//! bytes. A score that is an integer of at most 2^53 in magnitude takes a
//! code byte `k` (0..=8) and `k` bytes of two's complement, little-endian
//! (0 takes the code byte alone, 1..127 two bytes: as Redis's listpack
//! keeps integer scores small); any other score the code [`DOUBLE`] and
//! its 8 bytes. Decoders return `None` on bytes that are not this layout
//! and never read past the end. Only the layout lives here: order, limits
//! and conversions are `zset`'s.

use crate::storage::object::packed;

/// The code byte of a score kept as the 8 bytes of an `f64`.
const DOUBLE: u8 = 9;
/// Integers below this magnitude are exact in an `f64`.
const EXACT: f64 = 9_007_199_254_740_992.0;

/// The integer a score is, when the packed form may keep it as one.
#[inline]
fn as_int(score: f64) -> Option<i64> {
    // -0.0 never reaches a set (scores are normalised), but keep it exact.
    (score.fract() == 0.0 && score.abs() < EXACT && !(score == 0.0 && score.is_sign_negative()))
        .then_some(score as i64)
}

/// Bytes of two's complement `v` needs (0 for 0).
#[inline]
fn int_width(v: i64) -> usize {
    if v == 0 {
        return 0;
    }
    let mut w = 1;
    while w < 8 && (v << (64 - 8 * w)) >> (64 - 8 * w) != v {
        w += 1;
    }
    w
}

/// The bytes a score's code and payload take.
#[inline]
fn score_size(score: f64) -> usize {
    match as_int(score) {
        Some(v) => 1 + int_width(v),
        None => 1 + 8,
    }
}

/// The bytes an element of `score` and a member of `len` bytes takes.
pub fn size(score: f64, len: usize) -> usize {
    score_size(score) + packed::encoded_len(len)
}

/// Append an element.
pub fn write(out: &mut Vec<u8>, score: f64, member: &[u8]) {
    out.reserve(size(score, member.len()));
    match as_int(score) {
        Some(v) => {
            let w = int_width(v);
            out.push(w as u8);
            out.extend_from_slice(&v.to_le_bytes()[..w]);
        }
        None => {
            out.push(DOUBLE);
            out.extend_from_slice(&score.to_le_bytes());
        }
    }
    let (prefix, used) = packed::len_prefix(member.len());
    out.extend_from_slice(&prefix[..used]);
    out.extend_from_slice(member);
}

/// The element at `at`: its score, its member and where the next begins.
#[inline]
fn read_at(p: &[u8], at: usize) -> Option<(f64, &[u8], usize)> {
    let code = *p.get(at)?;
    let (score, mut i) = match code {
        0..=8 => {
            let w = usize::from(code);
            let b = p.get(at + 1..at + 1 + w)?;
            let mut x = [0u8; 8];
            x[..w].copy_from_slice(b);
            if w > 0 && b[w - 1] & 0x80 != 0 {
                x[w..].fill(0xff);
            }
            (i64::from_le_bytes(x) as f64, at + 1 + w)
        }
        DOUBLE => {
            let b = p.get(at + 1..at + 9)?;
            let mut x = [0u8; 8];
            x.copy_from_slice(b);
            (f64::from_le_bytes(x), at + 9)
        }
        _ => return None,
    };
    // The member's length, LEB128.
    let mut len = 0usize;
    let mut shift = 0u32;
    loop {
        let b = *p.get(i)?;
        len |= usize::from(b & 0x7f).checked_shl(shift)?;
        i += 1;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
        if shift > 63 {
            return None;
        }
    }
    let end = i.checked_add(len).filter(|&e| e <= p.len())?;
    Some((score, &p[i..end], end))
}

/// The elements, in order.
pub fn iter(p: &[u8]) -> Iter<'_> {
    Iter { p, at: 0 }
}

pub struct Iter<'a> {
    p: &'a [u8],
    at: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = (f64, &'a [u8]);
    #[inline]
    fn next(&mut self) -> Option<(f64, &'a [u8])> {
        let (s, m, next) = read_at(self.p, self.at)?;
        self.at = next;
        Some((s, m))
    }
}

impl Iter<'_> {
    /// Where the next element starts.
    pub fn offset(&self) -> usize {
        self.at
    }
}

/// Elements in packed bytes.
pub fn count(p: &[u8]) -> usize {
    iter(p).count()
}

/// Where the well-formed elements end (all of `p` when it is whole).
#[cfg(test)]
pub fn valid_len(p: &[u8]) -> usize {
    let mut it = iter(p);
    while it.next().is_some() {}
    it.offset()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_take_their_smallest_form_and_come_back_exact() {
        let scores = [
            0.0,
            1.0,
            -1.0,
            127.0,
            128.0,
            -128.0,
            -129.0,
            65535.0,
            1e15,
            -(EXACT - 1.0),
            EXACT,
            EXACT * 4.0,
            0.5,
            -0.1,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MIN_POSITIVE,
            f64::MAX,
            5e-324,
        ];
        let mut p = Vec::new();
        for (i, &s) in scores.iter().enumerate() {
            let m = vec![b'm'; i * 20];
            let before = p.len();
            write(&mut p, s, &m);
            assert_eq!(p.len() - before, size(s, m.len()), "{s}");
        }
        let back: Vec<(f64, usize)> = iter(&p).map(|(s, m)| (s, m.len())).collect();
        assert_eq!(back.len(), scores.len());
        for (i, &(s, len)) in back.iter().enumerate() {
            assert_eq!(s.to_bits(), scores[i].to_bits(), "{}", scores[i]);
            assert_eq!(len, i * 20);
        }
        assert_eq!(size(0.0, 1), 3);
        assert_eq!(size(100.0, 1), 4);
        assert_eq!(size(1.5, 1), 11);
        assert_eq!(valid_len(&p), p.len());
    }

    #[test]
    fn damaged_bytes_end_the_walk() {
        for bad in [&[10u8][..], &[2, 1], &[9, 0, 0], &[0, 0x80], &[0, 5, b'a']] {
            assert_eq!(count(bad), 0, "{bad:?}");
        }
        let mut p = Vec::new();
        write(&mut p, 3.0, b"abc");
        let whole = p.len();
        p.push(0xff);
        assert_eq!((count(&p), valid_len(&p)), (1, whole));
    }
}
