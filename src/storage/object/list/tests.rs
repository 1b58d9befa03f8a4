//! The packed layout at its size boundaries and on damaged bytes, the
//! conversions at their exact thresholds, and every operation against a
//! plain `VecDeque` that follows Redis's rules, with the encoding each step
//! should leave and the chunks' invariants checked after every step.

use super::*;
use proptest::prelude::*;
use std::collections::VecDeque;

fn bytes_of(items: &[&[u8]]) -> Vec<u8> {
    let mut p = Vec::new();
    for x in items {
        lp::write(&mut p, x);
    }
    p
}

// --- the packed layout --------------------------------------------------

/// Element sizes where the length prefix or the back length needs one more
/// byte: the forward size (prefix + bytes) crosses 127/128 at 126/127 bytes
/// and 16383/16384 at 16381/16382; the prefix alone at 127/128 and
/// 16383/16384.
#[test]
fn back_lengths_at_every_size_boundary() {
    // (element bytes, prefix bytes, back length bytes)
    let table = [
        (0usize, 1usize, 1usize),
        (1, 1, 1),
        (125, 1, 1),
        (126, 1, 1),
        (127, 1, 2),
        (128, 2, 2),
        (129, 2, 2),
        (16381, 2, 2),
        (16382, 2, 3),
        (16383, 2, 3),
        (16384, 3, 3),
        (16385, 3, 3),
    ];
    let mut all = Vec::new();
    for &(len, prefix, back) in &table {
        let x: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        let e = lp::encode(&x);
        assert_eq!(e.len(), len + prefix + back, "{len}");
        assert_eq!(e.len(), lp::entry_size(len), "{len}");
        // The back length alone, read from the end, finds the element.
        let s = lp::read_before(&e, e.len()).expect("read back");
        assert_eq!(
            (s.start, s.lo, s.hi, s.end),
            (0, prefix, prefix + len, e.len())
        );
        assert_eq!(lp::read_at(&e, 0), Some(s));
        all.push(x);
    }
    // Listpack's byte form: the low group last, marked; the first unmarked.
    let e = lp::encode(&[7u8; 127]);
    assert_eq!(e[e.len() - 2..], [0x01, 0x80]); // 128
    let e = lp::encode(&[7u8; 128]);
    assert_eq!(e[e.len() - 2..], [0x01, 0x82]); // 130
    let e = lp::encode(&[7u8; 16382]);
    assert_eq!(e[e.len() - 3..], [0x01, 0x80, 0x80]); // 16384

    // Walked both ways in one buffer, reached from either end.
    let refs: Vec<&[u8]> = all.iter().map(|x| &x[..]).collect();
    let p = bytes_of(&refs);
    assert!(lp::valid(&p));
    assert_eq!(lp::iter(&p).collect::<Vec<_>>(), refs);
    let mut back: Vec<&[u8]> = lp::iter(&p).rev().collect();
    back.reverse();
    assert_eq!(back, refs);
    let n = refs.len();
    for (k, &x) in refs.iter().enumerate() {
        let s = lp::nth(&p, k, n).expect("nth");
        assert_eq!(&p[s.lo..s.hi], x);
        assert_eq!(lp::span_front(&p, k), Some(s));
        assert_eq!(lp::span_back(&p, n - 1 - k), Some(s));
        assert_eq!(lp::offset(&p, k, n), Some(s.start));
        assert_eq!(lp::skip(&p, k), Some(s.start));
    }
    assert_eq!(lp::offset(&p, n, n), Some(p.len()));
    assert_eq!(lp::span_front(&p, n), None);
    assert_eq!(lp::span_back(&p, n), None);

    // Popped from both ends, alternately.
    let mut q = p.clone();
    let (mut lo, mut hi) = (0, n);
    while lo < hi {
        assert_eq!(lp::pop_front(&mut q).as_deref(), Some(refs[lo]));
        lo += 1;
        if lo < hi {
            hi -= 1;
            assert_eq!(lp::pop_back(&mut q).as_deref(), Some(refs[hi]));
        }
    }
    assert!(q.is_empty());
    assert_eq!(lp::pop_front(&mut q), None);
    assert_eq!(lp::pop_back(&mut q), None);
}

#[test]
fn packed_edits_keep_the_layout() {
    let mut p = Vec::new();
    for x in [&b"b"[..], b"", b"c"] {
        lp::write(&mut p, x);
    }
    lp::insert(&mut p, 0, b"a");
    let at = lp::skip(&p, 2).expect("third");
    lp::insert(&mut p, at, &[b'x'; 200]);
    assert_eq!(
        lp::iter(&p).collect::<Vec<_>>(),
        [&b"a"[..], b"b", &[b'x'; 200], b"", b"c"]
    );
    let s = lp::span_front(&p, 2).expect("x");
    lp::replace(&mut p, s, b"y");
    let s = lp::span_back(&p, 0).expect("c");
    lp::replace(&mut p, s, &[b'z'; 300]);
    assert!(lp::valid(&p));
    assert_eq!(
        lp::iter(&p).rev().collect::<Vec<_>>(),
        [&[b'z'; 300][..], b"", b"y", b"b", b"a"]
    );
    lp::write(&mut p, b"b");
    lp::write(&mut p, b"y");
    // [a b y "" zzz b y]: two b's from the back, then the rest from the front.
    assert_eq!(lp::remove_matching(&mut p, b"b", 1, true), 1);
    assert_eq!(lp::remove_matching(&mut p, b"y", 9, false), 2);
    assert_eq!(lp::remove_matching(&mut p, b"q", 9, false), 0);
    assert!(lp::valid(&p));
    assert_eq!(
        lp::iter(&p).collect::<Vec<_>>(),
        [&b"a"[..], b"b", b"", &[b'z'; 300]]
    );
}

#[test]
fn damaged_buffers_decode_to_none() {
    let items: [&[u8]; 4] = [b"one", &[9u8; 130], b"", &[1u8; 20]];
    let p = bytes_of(&items);
    let mut bounds = vec![0];
    let mut it = lp::iter(&p);
    while let Some(s) = it.next_span() {
        bounds.push(s.end);
    }
    // Cut anywhere: valid only at an element boundary, and the forward
    // walk gives exactly the whole elements before the cut.
    for cut in 0..=p.len() {
        let q = &p[..cut];
        let whole = bounds.iter().filter(|&&b| b <= cut).count() - 1;
        assert_eq!(lp::valid(q), bounds.contains(&cut), "cut {cut}");
        assert_eq!(lp::iter(q).count(), whole, "cut {cut}");
        assert_eq!(lp::iter(q).collect::<Vec<_>>(), items[..whole], "cut {cut}");
        // Whatever the backward walk makes of it, it never reads past the
        // cut or panics; the list's reads and writes neither.
        let _ = lp::iter(q).rev().count();
        poke(q.to_vec());
    }
    let bad: [&[u8]; 8] = [
        &[0x80],                // a length cut short
        &[0x80, 0x00, 0x01],    // a length not in its shortest form
        &[0x01, b'a', 0x03],    // a back length that disagrees
        &[0x01, b'a', 0x82],    // a back length with no first byte
        &[0x05, b'a', 0x02],    // a length past the end
        &[0xff; 12],            // a length of more than ten bytes
        &[0x00, 0x00, 0x81],    // a back length not in its shortest form
        &[0x01, b'a', 0x02, 0], // a good element, then a cut one
    ];
    for b in bad {
        assert!(!lp::valid(b), "{b:?}");
        assert!(List::from_packed(b.to_vec()).is_none(), "{b:?}");
        poke(b.to_vec());
    }
    assert_eq!(lp::read_at(&[0x01, b'a', 0x03], 0), None);
    assert_eq!(lp::read_before(&[0x01, b'a', 0x03], 3), None);
    assert_eq!(lp::read_before(&[0x00, 0x00, 0x81], 3), None);
    assert_eq!(lp::read_before(&[0x00, 0x01], 2).map(|s| s.end), Some(2));
    assert_eq!(lp::read_at(&[], 0), None);
    assert_eq!(lp::read_before(&[], 0), None);
    assert_eq!(lp::iter(&[0x01, b'a', 0x02, 0]).count(), 1);
    assert!(List::from_packed(bytes_of(&items)).is_some());
}

/// Every read and write on `p` taken as a packed list: answers may be
/// wrong for bytes that are not a list, but nothing panics.
fn poke(p: Vec<u8>) {
    let lim = ListLimit(3);
    let r = ListRef::Packed(&p);
    let n = r.len();
    let _ = (r.is_empty(), r.get(0), r.get(-1), r.get(2), r.get(-3));
    let _ = (r.range(0, -1), r.range(-2, 1), r.iter().rev().count());
    let _ = (r.positions(b"a", 1, 0, 0), r.positions(b"a", -1, 0, 0));
    let mut l = List::Packed(p);
    let _ = l.set(1, b"x", lim);
    let _ = l.set(-1, &[0u8; 300], lim);
    let _ = l.insert(true, b"x", b"y", lim);
    let _ = l.remove(0, b"a", lim);
    l.trim(1, -2, lim);
    let _ = (l.pop_front(lim), l.pop_back(lim));
    l.push_front(b"a", lim);
    l.push_back(b"b", lim);
    for _ in 0..n + 2 {
        let _ = l.pop_back(lim);
    }
    let _ = l.mem_size();
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn arbitrary_bytes_never_panic(p in prop::collection::vec(any::<u8>(), 0..64)) {
        poke(p);
    }
}

// --- limits and conversions ---------------------------------------------

#[test]
fn limits_read_as_redis_reads_them() {
    let d = ListLimit::default();
    assert_eq!(d, ListLimit(-2));
    assert!(d.fits(8192, 1_000_000) && !d.fits(8193, 1));
    for (fill, bytes) in [
        (-1, 4096),
        (-3, 16384),
        (-4, 32768),
        (-5, 65536),
        (-6, 65536),
    ] {
        let l = ListLimit(fill);
        assert!(l.fits(bytes, usize::MAX) && !l.fits(bytes + 1, 1), "{fill}");
    }
    assert!(ListLimit(i64::MIN).fits(65536, 1));
    assert!(ListLimit(0).fits(10, 1) && !ListLimit(0).fits(10, 2));
    let five = ListLimit(5);
    assert!(five.fits(ListLimit::SAFETY, 5));
    assert!(!five.fits(10, 6) && !five.fits(ListLimit::SAFETY + 1, 1));
    assert!(five.fits_half(4096, 2) && !five.fits_half(10, 3) && !five.fits_half(4097, 1));
    assert!(d.fits_half(4096, 1_000_000) && !d.fits_half(4097, 1));
}

fn filled(lim: ListLimit, n: usize, size: usize) -> List {
    List::from_elements((0..n).map(|i| vec![(i % 250) as u8; size]), lim)
}

#[test]
fn converts_past_one_node_and_back_under_half() {
    // 100-byte elements take 102 bytes: 80 of them fit 8 KB, 40 fit 4 KB.
    let lim = ListLimit::default();
    let mut l = filled(lim, 80, 100);
    assert_eq!(l.as_ref().encoding(), "listpack");
    // (and the count ahead of them)
    assert_eq!(l.inline().map(<[u8]>::len), Some(HDR + 80 * 102));
    l.push_back(&[1; 100], lim);
    assert_eq!(l.as_ref().encoding(), "quicklist");
    let List::Quick(q) = &l else { panic!("quick") };
    assert_eq!((q.nodes(), q.len()), (2, 81));
    assert!(l.inline().is_none());
    for left in (41..=80).rev() {
        l.pop_front(lim);
        assert_eq!(l.as_ref().encoding(), "quicklist", "{left}");
    }
    l.pop_back(lim);
    assert_eq!(l.as_ref().encoding(), "listpack");
    assert_eq!(l.as_ref().len(), 40);
    // No going back at once: packed again until it passes a whole node.
    let mut l2 = l.clone();
    for _ in 40..80 {
        l2.push_front(&[2; 100], lim);
    }
    assert_eq!(l2.as_ref().encoding(), "listpack");
    assert_eq!(l2.insert(false, &[2; 100], &[3; 100], lim), Some(81));
    assert_eq!(l2.as_ref().encoding(), "quicklist");
    // A bigger element in place of a small one passes the node as well.
    let mut l3 = filled(lim, 80, 100);
    assert!(l3.set(-1, &[4; 200], lim));
    assert_eq!(l3.as_ref().encoding(), "quicklist");
    assert!(l3.set(-1, &[4; 100], lim));
    assert_eq!(l3.as_ref().encoding(), "quicklist");
    l3.trim(0, 39, lim);
    assert_eq!(l3.as_ref().encoding(), "listpack");

    // In elements: 5 per node, back at 2.
    let five = ListLimit(5);
    let mut c = filled(five, 5, 1);
    assert_eq!(c.as_ref().encoding(), "listpack");
    c.push_front(b"x", five);
    assert_eq!(c.as_ref().encoding(), "quicklist");
    assert_eq!(c.remove(0, b"x", five), 1);
    assert_eq!(c.as_ref().encoding(), "quicklist");
    c.trim(2, -1, five);
    assert_eq!(c.as_ref().encoding(), "quicklist");
    c.pop_back(five);
    assert_eq!(c.as_ref().encoding(), "listpack");
    assert_eq!(c.as_ref().len(), 2);
}

#[test]
fn an_element_bigger_than_a_node_gets_a_node_of_its_own() {
    let lim = ListLimit(-1);
    let mut l = List::default();
    l.push_back(&[1; 5000], lim);
    assert_eq!(l.as_ref().encoding(), "quicklist");
    l.push_back(b"a", lim);
    l.push_front(b"b", lim);
    let List::Quick(q) = &l else { panic!("quick") };
    assert_eq!(q.nodes(), 3);
    assert_eq!(l.as_ref().get(1), Some(&[1u8; 5000][..]));
    assert!(l.set(1, b"c", lim));
    // The small element joins its neighbours, and the list is one small node.
    assert_eq!(l.as_ref().encoding(), "listpack");
    assert_eq!(l.as_ref().range(0, -1), [&b"b"[..], b"c", b"a"]);
    // Emptied, a quick list is an empty packed one.
    let mut big = List::from_elements([[7u8; 5000]], lim);
    assert_eq!(big.as_ref().encoding(), "quicklist");
    assert_eq!(big.pop_front(lim).map(|v| v.len()), Some(5000));
    assert_eq!(big.as_ref().encoding(), "listpack");
    assert_eq!(big.inline(), Some(&[][..]));
}

#[test]
fn memory_follows_the_chunks() {
    let lim = ListLimit::default();
    let mut l = filled(lim, 2000, 60);
    let List::Quick(q) = &l else { panic!("quick") };
    let bytes = 2000 * lp::entry_size(60);
    assert_eq!(q.bytes, bytes);
    // Full chunks hold no more than a node's bytes: not twice their size,
    // as doubling would leave them.
    let before = l.mem_size();
    assert!(
        before >= bytes && before < bytes + bytes / 8,
        "{before} for {bytes}"
    );
    assert!(q.chunks.iter().all(|c| c.buf.capacity() <= 8192));
    l.trim(0, 99, lim);
    assert!(l.mem_size() < before / 4, "{}", l.mem_size());
    let small = filled(lim, 10, 10);
    let List::Packed(p) = &small else {
        panic!("packed")
    };
    assert_eq!(small.mem_size(), chunk_size(p.capacity()));
}

// --- the model ----------------------------------------------------------

/// Eight values that recur (so LREM, LPOS and LINSERT find something),
/// at lengths around the layout's boundaries.
fn pool(i: u8) -> Vec<u8> {
    let len = [0usize, 1, 5, 126, 127, 128, 200, 299][usize::from(i % 8)];
    vec![b'a' + i % 8; len]
}

fn value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        12 => (0u8..8).prop_map(pool),
        8 => prop::collection::vec(any::<u8>(), 0..300),
        // Now and then one bigger than a 4 KB node.
        1 => (4000usize..9000).prop_map(|n| vec![b'!'; n]),
    ]
}

/// An index: mostly near the list (reduced modulo its length at run time),
/// now and then an extreme.
fn index() -> impl Strategy<Value = i64> {
    prop_oneof![
        20 => -1000i64..1000,
        1 => Just(i64::MIN),
        1 => Just(i64::MAX),
    ]
}

fn near(raw: i64, len: usize) -> i64 {
    if raw.unsigned_abs() >= 1000 {
        return raw;
    }
    raw % (len as i64 + 3)
}

#[derive(Clone, Debug)]
enum Op {
    PushFront(Vec<u8>),
    PushBack(Vec<u8>),
    PopFront,
    PopBack,
    Get(i64),
    Set(i64, Vec<u8>),
    Range(i64, i64),
    Insert(bool, Vec<u8>, Vec<u8>),
    Remove(i64, Vec<u8>),
    /// Mostly a little off each end, now and then anything.
    Trim(i64, i64),
    Positions(Vec<u8>, i64, usize, i64),
    Walk(u8),
}

fn op() -> impl Strategy<Value = Op> {
    let trim = prop_oneof![
        6 => (0i64..3, -3i64..0),
        1 => (index(), index()),
    ];
    prop_oneof![
        9 => value().prop_map(Op::PushFront),
        9 => value().prop_map(Op::PushBack),
        2 => Just(Op::PopFront),
        2 => Just(Op::PopBack),
        2 => index().prop_map(Op::Get),
        2 => (index(), value()).prop_map(|(i, v)| Op::Set(i, v)),
        2 => (index(), index()).prop_map(|(a, b)| Op::Range(a, b)),
        2 => (any::<bool>(), value(), value()).prop_map(|(b, p, v)| Op::Insert(b, p, v)),
        1 => (-3i64..=3, value()).prop_map(|(c, v)| Op::Remove(c, v)),
        1 => trim.prop_map(|(a, b)| Op::Trim(a, b)),
        2 => (value(), prop_oneof![-3i64..=3, Just(i64::MIN)], 0usize..4, index())
            .prop_map(|(v, r, c, m)| Op::Positions(v, r, c, m)),
        1 => any::<u8>().prop_map(Op::Walk),
    ]
}

/// Redis's semantics on a plain deque, and the encoding Redis 7.2's rules
/// give, worked out from the total size alone.
struct Model {
    items: VecDeque<Vec<u8>>,
    quick: bool,
    /// The bytes and elements of one node, read from the limit here rather
    /// than by [`ListLimit`], so that a mistake there shows.
    node: (usize, usize),
}

fn node_of(lim: ListLimit) -> (usize, usize) {
    match lim.0 {
        -1 => (4096, usize::MAX),
        -2 => (8192, usize::MAX),
        n if n > 0 => (8192, n as usize),
        n => unreachable!("no model for {n}"),
    }
}

impl Model {
    fn fits(&self, bytes: usize, count: usize) -> bool {
        bytes <= self.node.0 && count <= self.node.1
    }

    fn fits_half(&self, bytes: usize, count: usize) -> bool {
        bytes <= self.node.0 / 2 && count <= self.node.1 / 2
    }

    fn bytes(&self) -> usize {
        self.items.iter().map(|x| lp::entry_size(x.len())).sum()
    }

    fn place(&self, i: i64) -> Option<usize> {
        let n = self.items.len() as i128;
        let j = if i < 0 {
            i128::from(i) + n
        } else {
            i128::from(i)
        };
        (0..n).contains(&j).then_some(j as usize)
    }

    /// After a write that grew the list: packed past one node is quick.
    fn grew(&mut self) {
        if !self.quick && !self.fits(self.bytes(), self.items.len()) {
            self.quick = true;
        }
    }

    /// After a write that may have shrunk it: quick within half a node (so
    /// one chunk, as no two chunks may fit one) or empty is packed.
    fn shrank(&mut self) {
        if self.quick && self.fits_half(self.bytes(), self.items.len()) {
            self.quick = false;
        }
    }

    fn range(&self, start: i64, stop: i64) -> Vec<Vec<u8>> {
        let n = self.items.len() as i128;
        let (mut a, mut b) = (i128::from(start), i128::from(stop));
        if a < 0 {
            a += n;
        }
        if b < 0 {
            b += n;
        }
        a = a.max(0);
        if a > b || a >= n {
            return Vec::new();
        }
        b = b.min(n - 1);
        (a..=b).map(|i| self.items[i as usize].clone()).collect()
    }

    fn remove(&mut self, count: i64, v: &[u8]) -> usize {
        let limit = if count == 0 {
            usize::MAX
        } else {
            count.unsigned_abs() as usize
        };
        let n = self.items.len();
        let order: Vec<usize> = if count < 0 {
            (0..n).rev().collect()
        } else {
            (0..n).collect()
        };
        let mut gone: Vec<usize> = order
            .into_iter()
            .filter(|&i| self.items[i] == v)
            .take(limit)
            .collect();
        gone.sort_unstable();
        for &i in gone.iter().rev() {
            self.items.remove(i);
        }
        gone.len()
    }

    fn positions(&self, v: &[u8], rank: i64, count: usize, maxlen: usize) -> Vec<usize> {
        let n = self.items.len();
        let order: Vec<usize> = if rank < 0 {
            (0..n).rev().collect()
        } else {
            (0..n).collect()
        };
        let looked = if maxlen == 0 { n } else { maxlen.min(n) };
        let mut rank = rank.unsigned_abs().max(1);
        let mut out = Vec::new();
        for &i in &order[..looked] {
            if self.items[i] != v {
                continue;
            }
            if rank > 1 {
                rank -= 1;
                continue;
            }
            out.push(i);
            if out.len() == count {
                break;
            }
        }
        out
    }
}

/// What a run went through.
#[derive(Default, Debug)]
struct Seen {
    most_nodes: usize,
    to_quick: usize,
    to_packed: usize,
}

/// The chunks' invariants, the counts kept, and the contents walked every
/// way.
fn check(l: &List, m: &Model, step: usize) {
    let r = l.as_ref();
    let want: Vec<&[u8]> = m.items.iter().map(|x| &x[..]).collect();
    assert_eq!(r.len(), want.len(), "step {step}");
    assert_eq!(r.iter().collect::<Vec<_>>(), want, "step {step}");
    let mut back: Vec<&[u8]> = r.iter().rev().collect();
    back.reverse();
    assert_eq!(back, want, "step {step}");
    // Taken from both ends at once, the iterator meets itself in the middle.
    let mut it = r.iter();
    let (mut front, mut tail) = (Vec::new(), Vec::new());
    while let Some(x) = it.next() {
        front.push(x);
        match it.next_back() {
            Some(x) => tail.push(x),
            None => break,
        }
    }
    front.extend(tail.into_iter().rev());
    assert_eq!(front, want, "step {step}");
    assert_eq!(r.is_empty(), want.is_empty());
    let encoding = if m.quick { "quicklist" } else { "listpack" };
    assert_eq!(r.encoding(), encoding, "step {step}, {} bytes", m.bytes());
    assert!(l.mem_size() >= m.bytes());
    match l {
        List::Packed(p) => {
            let b = body(p);
            assert!(lp::valid(b));
            assert_eq!(b.len(), m.bytes());
            assert!(m.fits(b.len(), want.len()), "step {step}");
            // The count in the bytes is the elements' (LLEN reads it).
            assert!(p.is_empty() || p.len() >= HDR);
            assert_eq!(packed_len(p), want.len(), "step {step}: the packed count");
            assert_eq!(lp::count(b), want.len(), "step {step}: the elements");
        }
        List::Quick(q) => {
            let n = q.chunks.len();
            assert!(
                n >= 2 || (n == 1 && !m.fits_half(q.bytes, q.len)),
                "step {step}: a quick list that should be packed"
            );
            let mut heap = 0;
            for (i, c) in q.chunks.iter().enumerate() {
                assert!(c.count > 0, "step {step}: empty chunk {i}");
                assert!(lp::valid(&c.buf));
                assert_eq!(lp::count(&c.buf), c.count, "step {step}: chunk {i}");
                assert_eq!(lp::iter(&c.buf).rev().count(), c.count);
                assert!(
                    c.count == 1 || m.fits(c.buf.len(), c.count),
                    "step {step}: chunk {i} over the limit"
                );
                heap += c.heap();
            }
            for (i, (a, b)) in q.chunks.iter().zip(q.chunks.iter().skip(1)).enumerate() {
                assert!(
                    !m.fits(a.buf.len() + b.buf.len(), a.count + b.count),
                    "step {step}: chunks {i} and {} could be one",
                    i + 1
                );
            }
            assert_eq!(q.len, want.len());
            assert_eq!(q.bytes, m.bytes());
            assert_eq!(q.heap, heap);
        }
    }
}

fn run(ops: &[Op], lim: ListLimit) -> Seen {
    let mut l = List::default();
    let mut m = Model {
        items: VecDeque::new(),
        quick: false,
        node: node_of(lim),
    };
    let mut seen = Seen::default();
    for (step, op) in ops.iter().enumerate() {
        let was_quick = m.quick;
        let len = m.items.len();
        match op {
            Op::PushFront(v) => {
                l.push_front(v, lim);
                m.items.push_front(v.clone());
                m.grew();
            }
            Op::PushBack(v) => {
                l.push_back(v, lim);
                m.items.push_back(v.clone());
                m.grew();
            }
            Op::PopFront => {
                assert_eq!(l.pop_front(lim), m.items.pop_front());
                m.shrank();
            }
            Op::PopBack => {
                assert_eq!(l.pop_back(lim), m.items.pop_back());
                m.shrank();
            }
            Op::Get(i) => {
                let i = near(*i, len);
                let want = m.place(i).map(|j| &m.items[j][..]);
                assert_eq!(l.as_ref().get(i), want, "LINDEX {i}");
            }
            Op::Set(i, v) => {
                let i = near(*i, len);
                let place = m.place(i);
                assert_eq!(l.set(i, v, lim), place.is_some(), "LSET {i}");
                if let Some(j) = place {
                    m.items[j] = v.clone();
                    m.grew();
                    m.shrank();
                }
            }
            Op::Range(a, b) => {
                let (a, b) = (near(*a, len), near(*b, len));
                let got: Vec<Vec<u8>> = l
                    .as_ref()
                    .range(a, b)
                    .into_iter()
                    .map(<[u8]>::to_vec)
                    .collect();
                assert_eq!(got, m.range(a, b), "LRANGE {a} {b}");
            }
            Op::Insert(before, pivot, v) => {
                let at = m.items.iter().position(|x| x == pivot);
                let want = at.map(|at| {
                    m.items.insert(if *before { at } else { at + 1 }, v.clone());
                    m.items.len()
                });
                assert_eq!(l.insert(*before, pivot, v, lim), want, "LINSERT");
                m.grew();
            }
            Op::Remove(count, v) => {
                assert_eq!(
                    l.remove(*count, v, lim),
                    m.remove(*count, v),
                    "LREM {count}"
                );
                m.shrank();
            }
            Op::Trim(a, b) => {
                let (a, b) = (near(*a, len), near(*b, len));
                l.trim(a, b, lim);
                m.items = m.range(a, b).into();
                m.shrank();
            }
            Op::Positions(v, rank, count, maxlen) => {
                let maxlen = near(*maxlen, len).unsigned_abs() as usize;
                assert_eq!(
                    l.as_ref().positions(v, *rank, *count, maxlen),
                    m.positions(v, *rank, *count, maxlen),
                    "LPOS {rank} {count} {maxlen}"
                );
            }
            Op::Walk(k) => {
                // The packed bytes round-trip; the chunks clone alike.
                if let Some(p) = l.inline() {
                    let back = List::from_packed(body(p).to_vec()).expect("own bytes");
                    assert_eq!(back.as_ref().iter().count(), len);
                    assert_eq!(back.as_ref().len(), len);
                    if len > 0 {
                        assert_eq!(back.inline(), Some(p), "the same bytes, count and all");
                    }
                }
                let copy = l.as_ref().to_owned();
                assert!(copy.as_ref().iter().eq(l.as_ref().iter()));
                let k = usize::from(*k) % (len + 1);
                let rest: Vec<&[u8]> = l.as_ref().iter_from(k).collect();
                assert_eq!(rest.len(), len - k);
            }
        }
        check(&l, &m, step);
        if let List::Quick(q) = &l {
            seen.most_nodes = seen.most_nodes.max(q.nodes());
        }
        seen.to_quick += usize::from(!was_quick && m.quick);
        seen.to_packed += usize::from(was_quick && !m.quick);
    }
    seen
}

const LIMITS: [ListLimit; 4] = [ListLimit(3), ListLimit(5), ListLimit(-1), ListLimit(-2)];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]
    #[test]
    fn matches_a_model(ops in prop::collection::vec(op(), 1..700)) {
        for lim in LIMITS {
            run(&ops, lim);
        }
    }
}

/// The model run on long sequences drawn from the same strategy with a
/// fixed seed: every limit sees lists of several nodes and both conversions
/// (which the random cases are not made to assert).
#[test]
fn the_model_runs_through_several_nodes_and_back() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]);
    let mut runner = TestRunner::new_with_rng(Config::default(), rng);
    let ops = prop::collection::vec(op(), 2000)
        .new_tree(&mut runner)
        .expect("ops")
        .current();
    for lim in LIMITS {
        let seen = run(&ops, lim);
        assert!(seen.most_nodes >= 4, "{lim:?}: {seen:?}");
        assert!(
            seen.to_quick >= 2 && seen.to_packed >= 1,
            "{lim:?}: {seen:?}"
        );
    }
}
