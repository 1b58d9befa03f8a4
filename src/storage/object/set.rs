//! A set's three encodings and what can be done to each: an intset while
//! every member is an integer (up to `set-max-intset-entries`), a packed
//! list of members while small (`set-max-listpack-entries` members of at most
//! `set-max-listpack-value` bytes, as Redis 7.2), a [`Table`] of
//! [`Member`]s past that. A set never goes back to a smaller encoding (as
//! Redis). Reads go through [`SetRef`], writes through the owned [`Set`].
//! It never knows keys, deadlines or replies.

use super::member::Member;
use super::packed;
use super::table::Table;
use super::Limits;
use crate::protocol::ascii::parse_i64;
use std::borrow::Cow;

#[derive(Clone, Debug)]
pub enum Set {
    Ints(Vec<u8>),
    Packed(Vec<u8>),
    Table(Table<Member>),
}

#[derive(Clone, Copy)]
pub enum SetRef<'a> {
    Ints(&'a [u8]),
    Packed(&'a [u8]),
    Table(&'a Table<Member>),
}

/// `m` as an intset member: an integer in Redis's canonical syntax.
#[inline]
fn as_int(m: &[u8]) -> Option<i64> {
    match m.first() {
        Some(b'-' | b'0'..=b'9') if m.len() <= 20 => parse_i64(m),
        _ => None,
    }
}

fn int_text(v: i64) -> Vec<u8> {
    v.to_string().into_bytes()
}

impl<'a> SetRef<'a> {
    pub fn len(self) -> usize {
        match self {
            SetRef::Ints(s) => packed::intset_len(s),
            SetRef::Packed(p) => packed::count(p),
            SetRef::Table(t) => t.len(),
        }
    }

    pub fn is_empty(self) -> bool {
        self.len() == 0
    }

    pub fn contains(self, m: &[u8]) -> bool {
        match self {
            SetRef::Ints(s) => as_int(m).is_some_and(|v| packed::intset_find(s, v).is_ok()),
            SetRef::Packed(p) => packed::iter(p).any(|x| packed::same(x, m)),
            SetRef::Table(t) => t.get(m).is_some(),
        }
    }

    /// Every member (an intset's as decimal text), in the encoding's order.
    pub fn for_each(self, mut f: impl FnMut(Cow<'a, [u8]>)) {
        match self {
            SetRef::Ints(s) => packed::intset_iter(s).for_each(|v| f(Cow::Owned(int_text(v)))),
            SetRef::Packed(p) => packed::iter(p).for_each(|m| f(Cow::Borrowed(m))),
            SetRef::Table(t) => t.iter().for_each(|m| f(Cow::Borrowed(&**m))),
        }
    }

    pub fn members(self) -> Vec<Cow<'a, [u8]>> {
        let mut v = Vec::with_capacity(self.len());
        self.for_each(|m| v.push(m));
        v
    }

    pub fn encoding(self) -> &'static str {
        match self {
            SetRef::Ints(_) => "intset",
            SetRef::Packed(_) => "listpack",
            SetRef::Table(_) => "hashtable",
        }
    }

    /// A random member (`rand` picks it).
    pub fn random(self, rand: u64) -> Option<Cow<'a, [u8]>> {
        let n = self.len();
        if n == 0 {
            return None;
        }
        let i = (rand % n as u64) as usize;
        match self {
            SetRef::Ints(s) => Some(Cow::Owned(int_text(packed::intset_get(s, i)))),
            SetRef::Packed(p) => packed::iter(p).nth(i).map(Cow::Borrowed),
            SetRef::Table(t) => t.random(rand).map(|m| Cow::Borrowed(&**m)),
        }
    }

    pub fn to_owned(self) -> Set {
        match self {
            SetRef::Ints(s) => Set::Ints(s.to_vec()),
            SetRef::Packed(p) => Set::Packed(p.to_vec()),
            SetRef::Table(t) => Set::Table(t.clone()),
        }
    }
}

impl Set {
    pub fn as_ref(&self) -> SetRef<'_> {
        match self {
            Set::Ints(s) => SetRef::Ints(s),
            Set::Packed(p) => SetRef::Packed(p),
            Set::Table(t) => SetRef::Table(t),
        }
    }

    /// An empty set whose first member is `first` (its encoding follows it).
    pub fn for_first(first: &[u8], lim: &Limits) -> Set {
        if as_int(first).is_some() && lim.set_intset_entries > 0 {
            Set::Ints(packed::intset_new())
        } else if first.len() <= lim.set_value && lim.set_entries > 0 {
            Set::Packed(Vec::new())
        } else {
            Set::Table(Table::default())
        }
    }

    /// An empty set for `n` members (a loader's): a table when Redis would
    /// make one for that many.
    pub fn with_capacity(n: usize, ints: bool, lim: &Limits) -> Set {
        if ints && n <= lim.set_intset_entries {
            Set::Ints(packed::intset_new())
        } else if n <= lim.set_entries {
            Set::Packed(Vec::new())
        } else {
            Set::Table(Table::with_capacity(n))
        }
    }

    /// Add `m`; true when it is new.
    pub fn add(&mut self, m: &[u8], lim: &Limits) -> bool {
        match self {
            Set::Ints(s) => match as_int(m) {
                Some(v) => {
                    let added = packed::intset_add(s, v);
                    if added && packed::intset_len(s) > lim.set_intset_entries {
                        self.convert(0, 0, lim);
                    }
                    added
                }
                None => {
                    if self.as_ref().contains(m) {
                        return false;
                    }
                    self.convert(1, m.len(), lim);
                    self.add(m, lim)
                }
            },
            Set::Packed(p) => match plan_add(SetRef::Packed(p), m, lim) {
                OneMember::Present => false,
                OneMember::Append(prefix, used) => {
                    p.extend_from_slice(&prefix[..used]);
                    p.extend_from_slice(m);
                    true
                }
                OneMember::Neither => {
                    self.convert(1, m.len(), lim);
                    self.add(m, lim)
                }
            },
            Set::Table(t) => t.upsert(m, || Member::new(m), |_| {}),
        }
    }

    /// Remove `m`; true when it was there.
    pub fn remove(&mut self, m: &[u8]) -> bool {
        match self {
            Set::Ints(s) => as_int(m).is_some_and(|v| packed::intset_remove(s, v)),
            Set::Packed(p) => {
                let mut it = packed::iter(p);
                loop {
                    let start = it.offset();
                    let Some(x) = it.next() else {
                        return false;
                    };
                    if x == m {
                        let end = it.offset();
                        p.drain(start..end);
                        return true;
                    }
                }
            }
            Set::Table(t) => {
                let gone = t.remove(m).is_some();
                if gone {
                    t.maybe_shrink();
                }
                gone
            }
        }
    }

    /// Move to the next encoding that holds the members and `extra` more of
    /// at most `longest` bytes: a packed list when they fit (Redis 7.2), else
    /// a table.
    fn convert(&mut self, extra: usize, longest: usize, lim: &Limits) {
        let members: Vec<Vec<u8>> = self
            .as_ref()
            .members()
            .into_iter()
            .map(|c| c.into_owned())
            .collect();
        let fits = members.len() + extra <= lim.set_entries
            && longest <= lim.set_value
            && members.iter().all(|m| m.len() <= lim.set_value);
        *self = if fits && !matches!(self, Set::Packed(_)) {
            let mut p = Vec::new();
            for m in &members {
                packed::push(&mut p, m);
            }
            Set::Packed(p)
        } else {
            let mut t = Table::with_capacity(members.len() + extra);
            for m in &members {
                t.insert(Member::new(m));
            }
            Set::Table(t)
        };
    }
}

/// What SADD of one member takes, when it needs no copy of the set.
pub enum OneMember {
    /// The member is there already: nothing changes.
    Present,
    /// A packed set takes the member at its end: append this length prefix
    /// (its first `.1` bytes) and the member.
    Append([u8; 10], usize),
    /// Anything else (an intset's insert, a conversion, a table, which the
    /// general way already changes in place): the general way.
    Neither,
}

/// How SADD of `m` changes the set `s` without copying it: the one rule for
/// a packed set's growth, which [`Set::add`] follows too.
pub fn plan_add(s: SetRef<'_>, m: &[u8], lim: &Limits) -> OneMember {
    match s {
        SetRef::Packed(p) => {
            let mut count = 0;
            for x in packed::iter(p) {
                if packed::same(x, m) {
                    return OneMember::Present;
                }
                count += 1;
            }
            if m.len() > lim.set_value || count + 1 > lim.set_entries {
                return OneMember::Neither;
            }
            let (prefix, used) = packed::len_prefix(m.len());
            OneMember::Append(prefix, used)
        }
        SetRef::Ints(_) if s.contains(m) => OneMember::Present,
        _ => OneMember::Neither,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(s: &Set) -> Vec<String> {
        let mut v: Vec<String> = s
            .as_ref()
            .members()
            .iter()
            .map(|m| String::from_utf8_lossy(m).into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn a_set_moves_through_its_encodings() {
        let lim = Limits::default();
        let mut s = Set::for_first(b"1", &lim);
        for i in 0..512 {
            assert!(s.add(i.to_string().as_bytes(), &lim));
        }
        assert!(!s.add(b"7", &lim));
        assert_eq!(s.as_ref().encoding(), "intset");
        assert!(s.as_ref().contains(b"511"));
        assert!(!s.as_ref().contains(b"0511"));
        assert!(s.add(b"512", &lim));
        assert_eq!(s.as_ref().encoding(), "hashtable");
        assert_eq!(s.as_ref().len(), 513);

        let mut small = Set::for_first(b"1", &lim);
        small.add(b"1", &lim);
        small.add(b"a", &lim);
        assert_eq!(small.as_ref().encoding(), "listpack");
        assert_eq!(names(&small), ["1", "a"]);
        small.add(&[b'x'; 65], &lim);
        assert_eq!(small.as_ref().encoding(), "hashtable");
        assert!(small.remove(b"1"));
        assert!(!small.remove(b"1"));
        assert_eq!(small.as_ref().len(), 2);

        let mut p = Set::for_first(b"a", &lim);
        for i in 0..129 {
            p.add(format!("m{i}").as_bytes(), &lim);
        }
        assert_eq!(p.as_ref().encoding(), "hashtable");
        assert_eq!(p.as_ref().len(), 129);
    }

    /// SADD of one member done the fast ways ([`plan_add`]: nothing for a
    /// member there, an append for a new one) leaves the same bytes and
    /// answers the same as [`Set::add`], through intsets, packed sets, the
    /// conversions at the limits and tables (a table always the general way).
    #[test]
    fn one_member_plans_agree_with_the_general_way() {
        let lim = Limits {
            set_intset_entries: 12,
            set_entries: 20,
            set_value: 10,
            ..Limits::default()
        };
        let mut seen = [0usize; 3];
        let mut r = 0x2545_F491_4F6C_DD1Du64;
        for round in 0..1000 {
            let first: &[u8] = if round % 2 == 0 { b"7" } else { b"m" };
            let mut general = Set::for_first(first, &lim);
            let mut fast = general.clone();
            for _ in 0..40 {
                crate::storage::xorshift64(&mut r);
                let m = match r % 4 {
                    0 => format!("{}", (r >> 8) % 30),
                    1 => format!("a-long-member-{}", (r >> 8) % 3),
                    _ => format!("m{}", (r >> 8) % 25),
                };
                let added = general.add(m.as_bytes(), &lim);
                match plan_add(fast.as_ref(), m.as_bytes(), &lim) {
                    OneMember::Present => {
                        seen[0] += 1;
                        assert!(!added, "{m} was there");
                    }
                    OneMember::Append(prefix, used) => {
                        seen[1] += 1;
                        assert!(added, "{m} was new");
                        let Set::Packed(p) = &mut fast else {
                            panic!("append planned for a set that is not packed");
                        };
                        p.extend_from_slice(&prefix[..used]);
                        p.extend_from_slice(m.as_bytes());
                    }
                    OneMember::Neither => {
                        seen[2] += 1;
                        assert_eq!(fast.add(m.as_bytes(), &lim), added);
                    }
                }
                match (&general, &fast) {
                    (Set::Table(_), Set::Table(_)) => {
                        let mut a = Vec::new();
                        let mut b = Vec::new();
                        general.as_ref().for_each(|m| a.push(m.into_owned()));
                        fast.as_ref().for_each(|m| b.push(m.into_owned()));
                        a.sort();
                        b.sort();
                        assert_eq!(a, b);
                    }
                    (Set::Ints(a), Set::Ints(b)) | (Set::Packed(a), Set::Packed(b)) => {
                        assert_eq!(a, b)
                    }
                    _ => panic!("encodings differ"),
                }
            }
        }
        assert!(seen.iter().all(|&n| n > 100), "every way taken: {seen:?}");
    }
}
