//! A hash's two encodings and what can be done to each: packed pairs of
//! fields and values while it is small (Redis's listpack: up to
//! `hash-max-listpack-entries` fields of at most `hash-max-listpack-value`
//! bytes), a [`Table`] of [`Pair`]s past that. A hash never goes back to
//! packed (as Redis). Reads go through [`HashRef`], which borrows either
//! form where it is stored (in the entry, or boxed); writes through the
//! owned [`Hash`]. It never knows keys, deadlines or replies.

use super::member::Member;
use super::packed;
use super::table::{Pair, Table};
use super::Limits;

#[derive(Clone, Debug)]
pub enum Hash {
    Packed(Vec<u8>),
    Table(Table<Pair>),
}

#[derive(Clone, Copy)]
pub enum HashRef<'a> {
    Packed(&'a [u8]),
    Table(&'a Table<Pair>),
}

impl Default for Hash {
    fn default() -> Self {
        Hash::Packed(Vec::new())
    }
}

impl<'a> HashRef<'a> {
    pub fn len(self) -> usize {
        match self {
            HashRef::Packed(p) => packed::pairs(p).count(),
            HashRef::Table(t) => t.len(),
        }
    }

    pub fn is_empty(self) -> bool {
        self.len() == 0
    }

    pub fn get(self, field: &[u8]) -> Option<&'a [u8]> {
        match self {
            HashRef::Packed(p) => packed::pairs(p)
                .find(|(f, _)| packed::same(f, field))
                .map(|(_, v)| v),
            HashRef::Table(t) => t.get(field).map(|p| &*p.value),
        }
    }

    /// Every field and value, in the encoding's order.
    pub fn for_each(self, mut f: impl FnMut(&'a [u8], &'a [u8])) {
        match self {
            HashRef::Packed(p) => packed::pairs(p).for_each(|(k, v)| f(k, v)),
            HashRef::Table(t) => t.iter().for_each(|p| f(&p.field, &p.value)),
        }
    }

    pub fn encoding(self) -> &'static str {
        match self {
            HashRef::Packed(_) => "listpack",
            HashRef::Table(_) => "hashtable",
        }
    }

    /// The `i`-th field and value of a packed hash, or a random one of a
    /// table (`rand` picks either way).
    pub fn random(self, rand: u64) -> Option<(&'a [u8], &'a [u8])> {
        match self {
            HashRef::Packed(p) => {
                let n = packed::pairs(p).count();
                if n == 0 {
                    return None;
                }
                packed::pairs(p).nth((rand % n as u64) as usize)
            }
            HashRef::Table(t) => t.random(rand).map(|p| (&*p.field, &*p.value)),
        }
    }

    pub fn to_owned(self) -> Hash {
        match self {
            HashRef::Packed(p) => Hash::Packed(p.to_vec()),
            HashRef::Table(t) => Hash::Table(t.clone()),
        }
    }
}

impl Hash {
    pub fn as_ref(&self) -> HashRef<'_> {
        match self {
            Hash::Packed(p) => HashRef::Packed(p),
            Hash::Table(t) => HashRef::Table(t),
        }
    }

    /// A hash sized for `n` fields that may be long (a loader's): packed
    /// when Redis would keep it so.
    pub fn with_capacity(n: usize, lim: &Limits) -> Hash {
        if n > lim.hash_entries {
            Hash::Table(Table::with_capacity(n))
        } else {
            Hash::Packed(Vec::new())
        }
    }

    /// Set `field` to `value`; true when the field is new.
    pub fn set(&mut self, field: &[u8], value: &[u8], lim: &Limits) -> bool {
        if let Hash::Packed(p) = self {
            if field.len() > lim.hash_value || value.len() > lim.hash_value {
                self.grow_into_table();
            } else {
                let at = find(p, field);
                if let Some((a, b)) = at {
                    let mut enc = Vec::with_capacity(packed::pair_len(field.len(), value.len()));
                    packed::push_pair(&mut enc, field, value);
                    p.splice(a..b, enc);
                    return false;
                }
                packed::push_pair(p, field, value);
                if packed::pairs(p).count() > lim.hash_entries {
                    self.grow_into_table();
                }
                return true;
            }
        }
        match self {
            // A field already there keeps its allocation; only the value changes.
            Hash::Table(t) => t.upsert(
                field,
                || Pair {
                    field: Member::new(field),
                    value: Member::new(value),
                },
                |p| p.value = Member::new(value),
            ),
            Hash::Packed(_) => false,
        }
    }

    /// Remove `field`; true when it was there.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match self {
            Hash::Packed(p) => match find(p, field) {
                Some((start, end)) => {
                    p.drain(start..end);
                    true
                }
                None => false,
            },
            Hash::Table(t) => {
                let gone = t.remove(field).is_some();
                if gone {
                    t.maybe_shrink();
                }
                gone
            }
        }
    }

    fn grow_into_table(&mut self) {
        if let Hash::Packed(p) = self {
            let mut t = Table::with_capacity(packed::pairs(p).count() + 1);
            for (f, v) in packed::pairs(p) {
                t.insert(Pair {
                    field: Member::new(f),
                    value: Member::new(v),
                });
            }
            *self = Hash::Table(t);
        }
    }
}

/// The byte range of `field`'s pair in packed pairs.
fn find(p: &[u8], field: &[u8]) -> Option<(usize, usize)> {
    locate(p, field).ok().map(|(start, end, _)| (start, end))
}

/// `field`'s pair in packed pairs `p` (where it starts, where it ends, its
/// value's length), or, when it is not there, how many pairs there are:
/// both from one pass.
fn locate(p: &[u8], field: &[u8]) -> Result<(usize, usize, usize), usize> {
    let mut it = packed::pairs(p);
    let mut count = 0;
    loop {
        let start = it.offset();
        let Some((f, v)) = it.next() else {
            return Err(count);
        };
        if packed::same(f, field) {
            return Ok((start, it.offset(), v.len()));
        }
        count += 1;
    }
}

/// Where `field`'s value sits in packed pairs `p` (a pair ends with its value).
fn value_range(p: &[u8], field: &[u8]) -> Option<std::ops::Range<usize>> {
    let (_, end, vlen) = locate(p, field).ok()?;
    Some(end - vlen..end)
}

/// True when HSET of `pairs` can be done in packed pairs `p` where they are
/// stored: every field is there already with a value as long as its new
/// one (a counter's or a session's field rewritten), so the pair headers
/// stay as they are and only value bytes change.
pub fn fits_in_place<F: AsRef<[u8]>, V: AsRef<[u8]>>(p: &[u8], pairs: &[(F, V)]) -> bool {
    pairs
        .iter()
        .all(|(f, v)| value_range(p, f.as_ref()).is_some_and(|r| r.len() == v.as_ref().len()))
}

/// What HSET of one pair takes in packed pairs, when it needs no copy of them.
pub enum OnePair {
    /// The field is there with a value as long as the new one: these bytes
    /// of the encoding are the value to overwrite.
    Overwrite(std::ops::Range<usize>),
    /// The field is new and the hash stays packed with it (as
    /// [`Hash::set`] would decide): append this pair header
    /// ([`packed::pair_header`], its first `.1` bytes), the field and the value.
    Append([u8; 21], usize),
    /// Anything else: the general way.
    Neither,
}

/// How HSET of `field` and `value` can change packed pairs `p` in place
/// (one pass over them).
pub fn plan_one(p: &[u8], field: &[u8], value: &[u8], lim: &Limits) -> OnePair {
    match locate(p, field) {
        Ok((_, end, vlen)) if vlen == value.len() => OnePair::Overwrite(end - vlen..end),
        Err(count)
            if field.len() <= lim.hash_value
                && value.len() <= lim.hash_value
                && count < lim.hash_entries =>
        {
            let (header, n) = packed::pair_header(field.len(), value.len());
            OnePair::Append(header, n)
        }
        _ => OnePair::Neither,
    }
}

/// HSET of `pairs` into packed pairs `p` where they are stored, when
/// [`fits_in_place`]; false, with nothing changed, when not (the caller then
/// takes the general way, [`Hash::set`]). Nothing is added: HSET answers 0.
pub fn set_in_place<F: AsRef<[u8]>, V: AsRef<[u8]>>(p: &mut [u8], pairs: &[(F, V)]) -> bool {
    if !fits_in_place(p, pairs) {
        return false;
    }
    for (f, v) in pairs {
        if let Some(r) = value_range(p, f.as_ref()) {
            p[r].copy_from_slice(v.as_ref());
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_converts_past_its_limits_and_keeps_its_fields() {
        let lim = Limits::default();
        let mut h = Hash::default();
        for i in 0..128 {
            assert!(h.set(format!("f{i}").as_bytes(), b"v", &lim));
        }
        assert_eq!(h.as_ref().encoding(), "listpack");
        assert!(!h.set(b"f7", b"seven", &lim));
        assert_eq!(h.as_ref().get(b"f7"), Some(&b"seven"[..]));
        assert!(h.set(b"f128", b"v", &lim));
        assert_eq!(h.as_ref().encoding(), "hashtable");
        assert_eq!(h.as_ref().len(), 129);
        assert_eq!(h.as_ref().get(b"f7"), Some(&b"seven"[..]));
        let mut small = Hash::default();
        small.set(b"a", &[b'x'; 65], &lim);
        assert_eq!(small.as_ref().encoding(), "hashtable");
        let mut p = Hash::default();
        p.set(b"a", b"1", &lim);
        p.set(b"b", b"2", &lim);
        assert!(p.remove(b"a"));
        assert!(!p.remove(b"a"));
        assert_eq!(p.as_ref().len(), 1);
        assert_eq!(p.as_ref().get(b"b"), Some(&b"2"[..]));
    }

    /// HSET of one pair done the fast ways ([`plan_one`]: overwrite in
    /// place, append) leaves the same bytes, and answers the same, as
    /// [`Hash::set`], through short and long pair headers, values changing
    /// length, and the entry limit.
    #[test]
    fn one_pair_plans_agree_with_the_general_way() {
        let lim = Limits {
            hash_entries: 24,
            ..Limits::default()
        };
        let mut general = Hash::default();
        let mut fast: Vec<u8> = Vec::new();
        let mut seen = [0usize; 3];
        let mut r = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..20_000 {
            crate::storage::xorshift64(&mut r);
            let field = match r % 5 {
                0 => format!("a-long-field-name-{:02}", r % 7),
                _ => format!("f{}", (r >> 8) % 30),
            };
            let value = vec![b'v'; ((r >> 16) % 20) as usize];
            let added = general.set(field.as_bytes(), &value, &lim);
            let Hash::Packed(want) = &general else {
                general = Hash::default();
                fast.clear();
                continue;
            };
            match plan_one(&fast, field.as_bytes(), &value, &lim) {
                OnePair::Overwrite(at) => {
                    seen[0] += 1;
                    assert!(!added);
                    fast[at].copy_from_slice(&value);
                }
                OnePair::Append(header, n) => {
                    seen[1] += 1;
                    assert!(added);
                    fast.extend_from_slice(&header[..n]);
                    fast.extend_from_slice(field.as_bytes());
                    fast.extend_from_slice(&value);
                }
                OnePair::Neither => {
                    seen[2] += 1;
                    let mut h = Hash::Packed(std::mem::take(&mut fast));
                    assert_eq!(h.set(field.as_bytes(), &value, &lim), added);
                    if let Hash::Packed(p) = h {
                        fast = p;
                    }
                }
            }
            assert_eq!(&fast, want);
        }
        assert!(seen.iter().all(|&n| n > 100), "every way taken: {seen:?}");
        // Several pairs in place: all there with values as long, or nothing.
        let mut p = Vec::new();
        packed::push_pair(&mut p, b"a", b"11");
        packed::push_pair(&mut p, b"b", b"22");
        let before = p.clone();
        assert!(!set_in_place(
            &mut p,
            &[(&b"a"[..], &b"33"[..]), (b"b", b"444")]
        ));
        assert!(!set_in_place(
            &mut p,
            &[(&b"a"[..], &b"33"[..]), (b"c", b"44")]
        ));
        assert_eq!(p, before);
        assert!(set_in_place(
            &mut p,
            &[(&b"b"[..], &b"55"[..]), (b"a", b"66")]
        ));
        let got: Vec<_> = packed::pairs(&p).collect();
        assert_eq!(got, [(&b"a"[..], &b"66"[..]), (b"b", b"55")]);
    }
}
