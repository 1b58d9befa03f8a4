//! Hashes, sets, lists and sorted sets in RDB encoding, both ways. Written as redis-server 7.0
//! writes them: a small hash as `HASH_LISTPACK` (16), a large one as `HASH`
//! (4) — field and value strings —, an intset as `SET_INTSET` (11), any
//! other set as `SET` (2) (7.0 has no listpack sets; it re-encodes small ones
//! on load), a list as `LIST_QUICKLIST_2` (18: listpack nodes of at most
//! 8 KB, as its default `list-max-listpack-size -2`), a small sorted set as
//! `ZSET_LISTPACK` (17: member and `%.17g` score), a big one as `ZSET_2` (5:
//! binary scores, from the highest). Read in every encoding a Redis
//! release writes: those, the zipmap (9), ziplist (13) and listpack
//! (16) hashes, the listpack set (20), the plain (1), ziplist (10),
//! quicklist (14) and quicklist 2 (18) lists, and the plain (3: scores as
//! text) and ziplist (12) sorted sets — each blob decoded by its codec
//! beside this file, each element checked (no duplicates, pairs whole), an
//! empty collection reported as such (Redis skips those keys). The writers'
//! `write_object` is here (beside the encoding it writes, so `write` never
//! needs to know collections); the record around a value read is the
//! reader's.

use super::listpack::Element;
use super::write::{encode_string_head, put_len, FileWriter, Payload, SectionWriter};
use super::{intset, listpack, ziplist, zipmap, Compressor};
use crate::protocol::ascii::format_score;
use crate::storage::object::{
    zset, Hash, HashRef, Limits, List, ObjRef, Object, Set, SetRef, Zset, ZsetRef,
};
use std::io::{self, Write};

pub const TYPE_LIST: u8 = 1;
pub const TYPE_SET: u8 = 2;
pub const TYPE_HASH: u8 = 4;
pub const TYPE_HASH_ZIPMAP: u8 = 9;
pub const TYPE_LIST_ZIPLIST: u8 = 10;
pub const TYPE_SET_INTSET: u8 = 11;
pub const TYPE_HASH_ZIPLIST: u8 = 13;
pub const TYPE_LIST_QUICKLIST: u8 = 14;
pub const TYPE_HASH_LISTPACK: u8 = 16;
pub const TYPE_LIST_QUICKLIST_2: u8 = 18;
pub const TYPE_ZSET_LISTPACK: u8 = 17;
pub const TYPE_SET_LISTPACK: u8 = 20;
pub const TYPE_ZSET: u8 = 3;
pub const TYPE_ZSET_2: u8 = 5;
pub const TYPE_ZSET_ZIPLIST: u8 = 12;

/// A quicklist 2 node's container: one element as it is, or a listpack.
pub const NODE_PLAIN: u64 = 1;
pub const NODE_PACKED: u64 = 2;

/// The encoded size past which a written list node is closed: Redis's
/// default `list-max-listpack-size -2` (8 KB).
const NODE_BYTES: usize = 8192;

/// Whether `t` is a value type this module reads.
pub fn is_object_type(t: u8) -> bool {
    matches!(
        t,
        TYPE_SET
            | TYPE_HASH
            | TYPE_HASH_ZIPMAP
            | TYPE_SET_INTSET
            | TYPE_HASH_ZIPLIST
            | TYPE_HASH_LISTPACK
            | TYPE_SET_LISTPACK
            | TYPE_LIST
            | TYPE_LIST_ZIPLIST
            | TYPE_LIST_QUICKLIST
            | TYPE_LIST_QUICKLIST_2
            | TYPE_ZSET
            | TYPE_ZSET_2
            | TYPE_ZSET_ZIPLIST
            | TYPE_ZSET_LISTPACK
    )
}

/// Append one string as `rdbSaveRawString` does (LZF when `lzf` is given).
fn put_string(out: &mut Vec<u8>, s: &[u8], lzf: &mut Option<(Option<Compressor>, Vec<u8>)>) {
    let pack = lzf.as_mut().map(|(c, p)| (c, p));
    match encode_string_head(out, s, pack) {
        Payload::None => {}
        Payload::Raw => out.extend_from_slice(s),
        Payload::Lzf => {
            if let Some((_, packed)) = lzf {
                out.extend_from_slice(packed);
            }
        }
    }
}

/// The value's RDB type byte and body appended to `out`; strings LZF
/// compressed when `compress` (as Redis's `rdbcompression`).
pub fn encode(out: &mut Vec<u8>, obj: ObjRef<'_>, compress: bool) -> u8 {
    let mut lzf = compress.then(|| (None, Vec::new()));
    match obj {
        // A small hash as redis-server 7.0 writes it: one listpack blob.
        ObjRef::Hash(h @ HashRef::Packed(_)) => {
            let mut parts: Vec<&[u8]> = Vec::with_capacity(2 * h.len());
            h.for_each(|f, v| {
                parts.push(f);
                parts.push(v);
            });
            let elements: Vec<listpack::ElementRef<'_>> =
                parts.into_iter().map(listpack::ElementRef::Bytes).collect();
            put_string(out, &listpack::encode(&elements), &mut lzf);
            TYPE_HASH_LISTPACK
        }
        ObjRef::Hash(h) => {
            put_len(out, h.len() as u64);
            h.for_each(|f, v| {
                put_string(out, f, &mut lzf);
                put_string(out, v, &mut lzf);
            });
            TYPE_HASH
        }
        ObjRef::Set(SetRef::Ints(s)) => {
            let v: Vec<i64> = crate::storage::object::packed::intset_iter(s).collect();
            put_string(out, &intset::encode(&v), &mut lzf);
            TYPE_SET_INTSET
        }
        ObjRef::Set(s) => {
            put_len(out, s.len() as u64);
            s.for_each(|m| put_string(out, &m, &mut lzf));
            TYPE_SET
        }
        // As redis-server 7.0 writes a list: listpack nodes.
        ObjRef::List(l) => {
            let mut nodes: Vec<Vec<&[u8]>> = Vec::new();
            let mut size = 0;
            for e in l.iter() {
                // A few bytes of header per element on top of its own.
                let cost = e.len() + 11;
                match nodes.last_mut() {
                    Some(n) if size + cost <= NODE_BYTES => n.push(e),
                    _ => {
                        nodes.push(vec![e]);
                        size = 0;
                    }
                }
                size += cost;
            }
            put_len(out, nodes.len() as u64);
            for n in nodes {
                put_len(out, NODE_PACKED);
                let elements: Vec<listpack::ElementRef<'_>> =
                    n.into_iter().map(listpack::ElementRef::Bytes).collect();
                put_string(out, &listpack::encode(&elements), &mut lzf);
            }
            TYPE_LIST_QUICKLIST_2
        }
        // A small sorted set as redis-server 7.0 writes it: one listpack of
        // member and score (its `%.17g` text, an integer where it is one).
        ObjRef::Zset(ZsetRef::Packed(p)) => {
            let all: Vec<(f64, &[u8])> = zset::packed_elements(p).collect();
            let scores: Vec<([u8; 32], usize)> = all
                .iter()
                .map(|(s, _)| {
                    let mut b = [0u8; 32];
                    let n = format_score(*s, &mut b).len();
                    (b, n)
                })
                .collect();
            let mut elements = Vec::with_capacity(2 * all.len());
            for ((_, m), (b, n)) in all.iter().zip(&scores) {
                elements.push(listpack::ElementRef::Bytes(m));
                elements.push(listpack::ElementRef::Bytes(&b[..*n]));
            }
            put_string(out, &listpack::encode(&elements), &mut lzf);
            TYPE_ZSET_LISTPACK
        }
        // A big one as ZSET_2: members with binary scores, from the highest
        // (Redis's order: its loader then inserts each at the head).
        ObjRef::Zset(z) => {
            put_len(out, z.len() as u64);
            z.walk(0, usize::MAX, true, |s, m| {
                put_string(out, m, &mut lzf);
                out.extend_from_slice(&s.to_le_bytes());
                true
            });
            TYPE_ZSET_2
        }
    }
}

impl<W: Write> SectionWriter<W> {
    /// One hash or set key (see [`super::object`] for the encodings).
    pub fn write_object(
        &mut self,
        key: &[u8],
        obj: ObjRef<'_>,
        expire_at_ms: Option<i64>,
    ) -> io::Result<()> {
        let mut body = Vec::new();
        let t = encode(&mut body, obj, self.options.compression);
        self.head.clear();
        self.record_head(expire_at_ms);
        if let Some(last) = self.head.last_mut() {
            *last = t;
        }
        self.string(key)?;
        self.flush_head()?;
        self.raw(&body)?;
        self.keys += 1;
        Ok(())
    }
}

impl<W: Write> FileWriter<W> {
    /// One hash or set key, written here (the single-writer path).
    pub fn write_object(
        &mut self,
        key: &[u8],
        obj: ObjRef<'_>,
        expire_at_ms: Option<i64>,
    ) -> io::Result<()> {
        self.w.write_object(key, obj, expire_at_ms)
    }
}

/// Elements a loader makes room for before they arrive.
pub const PRESIZE_MAX: usize = 1024;

/// Builds a collection element by element, refusing what Redis refuses.
pub struct Builder {
    obj: Object,
    lim: Limits,
}

impl Builder {
    /// A builder for a value of RDB type `t` with `n` elements announced.
    /// The count only chooses the encoding; room is made for at most
    /// [`PRESIZE_MAX`] elements ahead (a file's count is never trusted for an
    /// allocation: a big collection's table grows as its elements arrive).
    pub fn new(t: u8, n: u64) -> Builder {
        let lim = Limits::default();
        let n = usize::try_from(n.min(PRESIZE_MAX as u64)).unwrap_or(PRESIZE_MAX);
        let obj = match t {
            TYPE_SET | TYPE_SET_INTSET | TYPE_SET_LISTPACK => {
                Object::Set(Set::with_capacity(n, true, &lim))
            }
            TYPE_LIST | TYPE_LIST_ZIPLIST | TYPE_LIST_QUICKLIST | TYPE_LIST_QUICKLIST_2 => {
                Object::List(List::default())
            }
            // Many members announced: big from the start (`finish` packs a
            // set that turns out small).
            TYPE_ZSET | TYPE_ZSET_2 if n > lim.zset_entries => {
                Object::Zset(Zset::Big(zset::Big::default()))
            }
            TYPE_ZSET | TYPE_ZSET_2 | TYPE_ZSET_ZIPLIST | TYPE_ZSET_LISTPACK => {
                Object::Zset(Zset::default())
            }
            _ => Object::Hash(Hash::with_capacity(n, &lim)),
        };
        Builder { obj, lim }
    }

    pub fn member(&mut self, m: &[u8]) -> Result<(), String> {
        match &mut self.obj {
            Object::Set(s) => {
                if s.add(m, &self.lim) {
                    Ok(())
                } else {
                    Err("duplicate set member".into())
                }
            }
            _ => Err("a set member in another type".into()),
        }
    }

    /// A list's next element, at its tail.
    pub fn element(&mut self, e: &[u8]) -> Result<(), String> {
        match &mut self.obj {
            Object::List(l) => {
                l.push_back(e, self.lim.list);
                Ok(())
            }
            _ => Err("a list element in another type".into()),
        }
    }

    /// A sorted set's member and score (NaN refused, as Redis refuses it).
    pub fn scored(&mut self, m: &[u8], score: f64) -> Result<(), String> {
        if score.is_nan() {
            return Err("a sorted set score that is not a number".into());
        }
        match &mut self.obj {
            Object::Zset(z) => {
                if z.load(score, m) {
                    Ok(())
                } else {
                    Err("duplicate sorted set member".into())
                }
            }
            _ => Err("a sorted set member in another type".into()),
        }
    }

    pub fn pair(&mut self, f: &[u8], v: &[u8]) -> Result<(), String> {
        match &mut self.obj {
            Object::Hash(h) => {
                if h.set(f, v, &self.lim) {
                    Ok(())
                } else {
                    Err("duplicate hash field".into())
                }
            }
            _ => Err("a hash field in another type".into()),
        }
    }

    /// A whole compact blob of type `t` (the string the record holds).
    pub fn blob(&mut self, t: u8, blob: &[u8]) -> Result<(), String> {
        match t {
            TYPE_SET_INTSET => {
                for v in intset::decode(blob)? {
                    self.member(v.to_string().as_bytes())?;
                }
            }
            TYPE_SET_LISTPACK => {
                for e in listpack::decode(blob)? {
                    self.member(&e.to_bytes())?;
                }
            }
            TYPE_HASH_ZIPMAP => {
                for (f, v) in zipmap::decode(blob)? {
                    self.pair(&f, &v)?;
                }
            }
            TYPE_HASH_ZIPLIST => self.pairs(ziplist::decode(blob)?)?,
            TYPE_HASH_LISTPACK => self.pairs(listpack::decode(blob)?)?,
            // A whole ziplist list, or one node of a quicklist (both kinds).
            TYPE_LIST_ZIPLIST | TYPE_LIST_QUICKLIST => {
                for e in ziplist::decode(blob)? {
                    self.element(&e.to_bytes())?;
                }
            }
            TYPE_LIST_QUICKLIST_2 => {
                let elements = listpack::decode(blob)?;
                if elements.is_empty() {
                    // Redis refuses an empty node as corrupt.
                    return Err("an empty quicklist node".into());
                }
                for e in elements {
                    self.element(&e.to_bytes())?;
                }
            }
            // Member, score, member, score...: a score as an integer or
            // its text.
            TYPE_ZSET_ZIPLIST | TYPE_ZSET_LISTPACK => {
                let elements = if t == TYPE_ZSET_ZIPLIST {
                    ziplist::decode(blob)?
                } else {
                    listpack::decode(blob)?
                };
                if !elements.len().is_multiple_of(2) {
                    return Err("a sorted set member with no score".into());
                }
                for p in elements.chunks(2) {
                    let score = match &p[1] {
                        Element::Int(v) => *v as f64,
                        Element::Bytes(b) => score_text(b)?,
                    };
                    self.scored(&p[0].to_bytes(), score)?;
                }
            }
            _ => return Err(format!("type {t} is not a compact blob")),
        }
        Ok(())
    }

    fn pairs(&mut self, elements: Vec<Element>) -> Result<(), String> {
        if !elements.len().is_multiple_of(2) {
            return Err("a hash with a field but no value".into());
        }
        for p in elements.chunks(2) {
            self.pair(&p[0].to_bytes(), &p[1].to_bytes())?;
        }
        Ok(())
    }

    pub fn finish(mut self) -> Object {
        if let Object::Zset(z) = &mut self.obj {
            z.loaded(&self.lim);
        }
        self.obj
    }
}

/// A score written as text (a ziplist's or listpack's, `ZSET`'s): what
/// `strtod` reads of `%.17g`, `inf` and `-inf`.
pub fn score_text(b: &[u8]) -> Result<f64, String> {
    std::str::from_utf8(b)
        .ok()
        .and_then(|t| t.parse::<f64>().ok())
        .filter(|v| !v.is_nan())
        .ok_or_else(|| format!("a sorted set score {:?}", String::from_utf8_lossy(b)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::persist::rdb::Reader;

    fn round_trip(obj: &Object, compress: bool) -> Object {
        let mut body = Vec::new();
        let t = encode(&mut body, obj.as_ref(), compress);
        let mut r = Reader::value_only(&body[..], super::super::RDB_VERSION);
        let back = r.value_object(t).expect("decodes");
        assert_eq!(r.offset(), body.len() as u64);
        back
    }

    #[test]
    fn hashes_and_sets_round_trip() {
        let lim = Limits::default();
        let mut h = Hash::default();
        for i in 0..300 {
            h.set(format!("field:{i}").as_bytes(), &vec![b'v'; i % 70], &lim);
        }
        let h = Object::Hash(h);
        assert_eq!(round_trip(&h, true), h);
        assert_eq!(round_trip(&h, false), h);
        let mut ints = Set::for_first(b"1", &lim);
        for v in [-5i64, 1, 70000, 1 << 40] {
            ints.add(v.to_string().as_bytes(), &lim);
        }
        let ints = Object::Set(ints);
        let mut body = Vec::new();
        assert_eq!(encode(&mut body, ints.as_ref(), false), TYPE_SET_INTSET);
        assert_eq!(round_trip(&ints, false), ints);
        let mut s = Set::for_first(b"a", &lim);
        for i in 0..1000 {
            s.add(format!("member-{i}").as_bytes(), &lim);
        }
        let s = Object::Set(s);
        assert_eq!(round_trip(&s, true), s);
    }

    #[test]
    fn sorted_sets_round_trip_in_both_encodings() {
        let lim = Limits::default();
        let small: Vec<(Vec<u8>, f64)> = vec![
            (b"a".to_vec(), 1.0),
            (b"b".to_vec(), 2.5),
            (b"c".to_vec(), -3.0),
            (b"d".to_vec(), 100000.0),
            (b"77".to_vec(), 0.0),
            (b"e".to_vec(), f64::INFINITY),
            (b"f".to_vec(), 0.1),
        ];
        let z = Object::Zset(Zset::from_pairs(small, &lim));
        let mut body = Vec::new();
        assert_eq!(encode(&mut body, z.as_ref(), false), TYPE_ZSET_LISTPACK);
        assert_eq!(round_trip(&z, false), z);
        let big: Vec<(Vec<u8>, f64)> = (0..1000)
            .map(|i| (format!("member:{i}").into_bytes(), f64::from(i % 37) / 3.0))
            .collect();
        let z = Object::Zset(Zset::from_pairs(big, &lim));
        let mut body = Vec::new();
        assert_eq!(encode(&mut body, z.as_ref(), true), TYPE_ZSET_2);
        let back = round_trip(&z, true);
        assert_eq!(back, z);
        assert_eq!(back.as_ref().encoding(), "btree");
        assert_eq!(round_trip(&z, false), z);
    }

    #[test]
    fn old_sorted_sets_read_with_their_text_scores() {
        // ZSET (type 3): a length, then member and score; a score is a
        // length byte and its text, or 253/254/255 for nan, +inf, -inf.
        let mut body = vec![3u8];
        for (m, score) in [(&b"a"[..], &b"1.5"[..]), (b"b", b"-2")] {
            body.push(m.len() as u8);
            body.extend_from_slice(m);
            body.push(score.len() as u8);
            body.extend_from_slice(score);
        }
        body.extend_from_slice(&[1, b'c', 254]);
        let mut r = Reader::value_only(&body[..], super::super::RDB_VERSION);
        let z = r.value_object(TYPE_ZSET).expect("decodes");
        assert_eq!(r.offset(), body.len() as u64);
        let ObjRef::Zset(zr) = z.as_ref() else {
            panic!("a sorted set")
        };
        assert_eq!(zr.score(b"a"), Some(1.5));
        assert_eq!(zr.score(b"b"), Some(-2.0));
        assert_eq!(zr.score(b"c"), Some(f64::INFINITY));
        let mut more = body.clone();
        more[0] = 4;
        let mut r = Reader::value_only(&more[..], super::super::RDB_VERSION);
        assert!(r.value_object(TYPE_ZSET).is_err(), "a count past the bytes");
        // NaN is refused, and so is a member twice.
        let nan = [1u8, 1, b'x', 253];
        let mut r = Reader::value_only(&nan[..], super::super::RDB_VERSION);
        assert!(r.value_object(TYPE_ZSET).is_err());
        let mut b = Builder::new(TYPE_ZSET_2, 2);
        b.scored(b"m", 1.0).expect("first");
        assert!(b.scored(b"m", 2.0).is_err());
        // Redis's own listpack (ZADD z 1 a 2.5 b -3 c 100000 d 0 77) and
        // the same pairs as a ziplist.
        let lp = listpack::encode(&[
            listpack::ElementRef::Bytes(b"c"),
            listpack::ElementRef::Int(-3),
            listpack::ElementRef::Bytes(b"77"),
            listpack::ElementRef::Int(0),
            listpack::ElementRef::Bytes(b"a"),
            listpack::ElementRef::Int(1),
            listpack::ElementRef::Bytes(b"b"),
            listpack::ElementRef::Bytes(b"2.5"),
            listpack::ElementRef::Bytes(b"d"),
            listpack::ElementRef::Int(100000),
        ]);
        let mut b = Builder::new(TYPE_ZSET_LISTPACK, 0);
        b.blob(TYPE_ZSET_LISTPACK, &lp).expect("decodes");
        let z = b.finish();
        let ObjRef::Zset(zr) = z.as_ref() else {
            panic!("a sorted set")
        };
        assert_eq!(zr.len(), 5);
        assert_eq!(zr.rank(b"b"), Some((3, 2.5)));
        let odd = listpack::encode(&[listpack::ElementRef::Bytes(b"a")]);
        assert!(Builder::new(TYPE_ZSET_LISTPACK, 0)
            .blob(TYPE_ZSET_LISTPACK, &odd)
            .is_err());
        let bad = listpack::encode(&[
            listpack::ElementRef::Bytes(b"a"),
            listpack::ElementRef::Bytes(b"x1"),
        ]);
        assert!(Builder::new(TYPE_ZSET_LISTPACK, 0)
            .blob(TYPE_ZSET_LISTPACK, &bad)
            .is_err());
    }

    #[test]
    fn duplicates_and_odd_pairs_are_refused() {
        let mut b = Builder::new(TYPE_SET, 2);
        b.member(b"a").expect("first");
        assert!(b.member(b"a").is_err());
        let mut h = Builder::new(TYPE_HASH_LISTPACK, 0);
        let blob = listpack::encode(&[listpack::ElementRef::Bytes(b"f")]);
        assert!(h.blob(TYPE_HASH_LISTPACK, &blob).is_err());
    }
}
