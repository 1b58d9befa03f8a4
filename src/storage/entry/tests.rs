//! Unit tests of the entry, kept beside its file so that the file itself holds one purpose.

use super::*;

fn check(e: &Entry, key: &[u8], value: &[u8], deadline: Option<u64>) {
    assert_eq!(e.key(), key);
    assert_eq!(&*e.value(), value);
    assert_eq!(e.value_len(), value.len());
    assert_eq!(e.deadline(), deadline);
    assert_eq!(e.shared().is_some(), value.len() >= SHARED_MIN);
    assert_eq!(&e.value_bytes()[..], value);
    if e.shared().is_some() {
        return;
    }
    let stored = if e.as_int().is_some() {
        int_bytes(e.as_int().unwrap()).1
    } else {
        value.len()
    };
    let header = 5 + varint_len(key.len()) + varint_len(stored);
    let dl = if deadline.is_some() { 8 } else { 0 };
    assert_eq!(e.bytes().len(), header + dl + key.len() + stored);
    assert_eq!(e.mem_size(), chunk_size(e.bytes().len()));
}

#[test]
fn layout_roundtrip() {
    let e = Entry::new(b"key", b"value", None);
    check(&e, b"key", b"value", None);
    assert_eq!(std::mem::size_of::<Entry>(), 8);
    let e = Entry::new(b"key", b"value", Some(0x0102_0304_0506_0708));
    check(&e, b"key", b"value", Some(0x0102_0304_0506_0708));
    assert_eq!(e.bytes()[0], HAS_DEADLINE);
    assert_eq!(&e.bytes()[5..7], &[3, 5]);
    assert_eq!(&e.bytes()[7..15], &0x0102_0304_0506_0708u64.to_le_bytes());
    let e = Entry::new(b"", b"", None);
    check(&e, b"", b"", None);
    assert_eq!(e.bytes().len(), 7);
    let e = Entry::new(b"k", b"", Some(u64::MAX));
    check(&e, b"k", b"", Some(u64::MAX));
    // The benchmark's shape: 16-byte key, 32-byte value, one 64-byte chunk.
    let e = Entry::new(b"key:000000000001", &[b'x'; 32], None);
    assert_eq!(e.mem_size(), 64);
}

/// A value of SHARED_MIN bytes or more lives in its own `Bytes`: reads
/// share it, every mutation keeps what an earlier read holds intact
/// (copy on write), and a value that shrinks below the bound moves back inline.
#[test]
fn long_values_are_shared_and_copied_only_on_write() {
    let big = vec![b'a'; SHARED_MIN];
    let mut e = Entry::new(b"k", &big, None);
    check(&e, b"k", &big, None);
    let held = e.value_bytes();
    assert_eq!(
        held.as_ptr(),
        e.value_bytes().as_ptr(),
        "a read is a reference"
    );
    assert_eq!(e.value_slice(10, 20).as_ptr(), held[10..].as_ptr());
    // A write while a reply holds the value: the reply keeps the old bytes.
    e.write_at(0, b"XY");
    assert_eq!(&held[..2], b"aa");
    assert_eq!(&e.value()[..3], b"XYa");
    drop(held);
    // With nobody else holding it, writes and appends reuse the allocation.
    let before = e.value_bytes().as_ptr();
    e.write_at(5, b"Z");
    assert_eq!(e.value()[5], b'Z');
    e.append(b"tail");
    assert_eq!(e.value_len(), SHARED_MIN + 4);
    assert!(e.value().ends_with(b"atail"));
    let _ = before;
    // Deadlines and metadata change without copying the value.
    let p = e.value_bytes().as_ptr();
    e.set_deadline(Some(77));
    e.set_meta(0xdead_beef);
    e.set_freq(2);
    e.set_in_main(true);
    assert_eq!(e.value_bytes().as_ptr(), p);
    assert_eq!(
        (e.deadline(), e.meta(), e.freq(), e.in_main()),
        (Some(77), 0xdead_beef, 2, true)
    );
    e.set_deadline(None);
    assert_eq!(e.value_bytes().as_ptr(), p);
    // Clones share, compare equal, and drop independently.
    let c = e.clone();
    assert_eq!(c, e);
    assert_eq!(c.value_bytes().as_ptr(), p);
    drop(c);
    assert_eq!(e.value_len(), SHARED_MIN + 4);
    // Growing by resize stays shared; shrinking below the bound goes inline.
    e.resize_value(SHARED_MIN * 2);
    assert_eq!(e.value_len(), SHARED_MIN * 2);
    assert_eq!(e.value()[SHARED_MIN * 2 - 1], 0);
    e.resize_value(3);
    check(&e, b"k", b"XYa", None);
    // An inline value that grows past the bound becomes shared.
    e.append(&big);
    assert!(e.shared().is_some());
    assert_eq!(e.value_len(), 3 + SHARED_MIN);
    // Integers and short values replace a shared one.
    e.set_int(42);
    check(&e, b"k", b"42", None);
    e.set_value(&big);
    check(&e, b"k", &big, None);
    e.set_value(b"short");
    check(&e, b"k", b"short", None);
    // into_value hands the shared bytes over without a copy.
    let e = Entry::new(b"k", &big, Some(5));
    let p = e.value_bytes().as_ptr();
    assert_eq!(e.into_value().as_ptr(), p);
    // from_bytes keeps the given allocation.
    let v = Bytes::from(big.clone());
    let e = Entry::from_bytes(b"k2", v.clone(), Some(9));
    assert_eq!(e.value_bytes().as_ptr(), v.as_ptr());
    check(&e, b"k2", &big, Some(9));
    let small = Entry::from_bytes(b"k3", Bytes::from_static(b"17"), None);
    assert_eq!(small.as_int(), Some(17));
    // A zeroed long value (SETRANGE on a missing key) is shared and writable.
    let mut z = Entry::zeroed(b"z", SHARED_MIN + 1, None);
    z.write_at(SHARED_MIN, b"!");
    assert_eq!(z.value()[SHARED_MIN], b'!');
    assert!(z.mem_size() > SHARED_MIN);
}

#[test]
fn long_lengths_use_longer_varints() {
    for (klen, vlen) in [(127, 128), (300, 70_000), (0, 1 << 21)] {
        let key = vec![b'k'; klen];
        let value = vec![b'v'; vlen];
        let e = Entry::new(&key, &value, Some(9));
        check(&e, &key, &value, Some(9));
        assert_eq!(e.clone(), e);
    }
}

#[test]
fn integers_are_stored_as_integers() {
    for (text, stored) in [
        (&b"0"[..], 1),
        (b"127", 1),
        (b"128", 2),
        (b"-1", 1),
        (b"-128", 1),
        (b"-129", 2),
        (b"123456789", 4),
        (b"9223372036854775807", 8),
        (b"-9223372036854775808", 8),
    ] {
        let e = Entry::new(b"n", text, None);
        assert!(e.as_int().is_some(), "{:?}", String::from_utf8_lossy(text));
        assert_eq!(e.parts().vlen, stored);
        check(&e, b"n", text, None);
    }
    // Not Redis integers: kept byte for byte.
    for text in [
        &b"007"[..],
        b"+1",
        b"-0",
        b" 1",
        b"1.5",
        b"9223372036854775808",
    ] {
        let e = Entry::new(b"n", text, None);
        assert_eq!(e.as_int(), None);
        check(&e, b"n", text, None);
    }
    let mut e = Entry::new(b"n", b"5", Some(3));
    e.set_meta(77);
    e.set_int(1 << 40);
    check(&e, b"n", b"1099511627776", Some(3));
    assert_eq!(e.meta(), 77);
    e.set_int(-2);
    check(&e, b"n", b"-2", Some(3));
    e.append(b"0");
    assert_eq!(e.as_int(), None, "APPEND leaves text");
    check(&e, b"n", b"-20", Some(3));
    e.set_value(b"42");
    assert_eq!(e.as_int(), Some(42));
    e.write_at(0, b"5");
    check(&e, b"n", b"52", Some(3));
    assert_eq!(&Entry::new(b"k", b"-77", None).into_value()[..], b"-77");
}

#[test]
fn int_bytes_roundtrip() {
    for v in [
        0,
        1,
        -1,
        127,
        128,
        -128,
        -129,
        255,
        256,
        1 << 31,
        -(1 << 31),
        i64::MAX,
        i64::MIN,
    ] {
        let (b, n) = int_bytes(v);
        assert_eq!(int_from(&b[..n]), v, "{v}");
    }
}

#[test]
fn expiry() {
    let e = Entry::new(b"k", b"v", Some(100));
    assert!(!e.is_expired(99));
    assert!(e.is_expired(100));
    assert!(e.is_expired(101));
    assert!(!Entry::new(b"k", b"v", None).is_expired(u64::MAX));
}

#[test]
fn set_deadline_all_transitions() {
    let mut e = Entry::new(b"key", b"value", None);
    e.set_meta(0xdead_beef);
    e.set_freq(2);
    e.set_in_main(true);
    e.set_deadline(None);
    check(&e, b"key", b"value", None);
    e.set_deadline(Some(5));
    check(&e, b"key", b"value", Some(5));
    e.set_deadline(Some(7));
    check(&e, b"key", b"value", Some(7));
    e.set_deadline(None);
    check(&e, b"key", b"value", None);
    assert_eq!((e.meta(), e.freq(), e.in_main()), (0xdead_beef, 2, true));
}

#[test]
fn value_changes() {
    for dl in [None, Some(42)] {
        let mut e = Entry::new(b"key", b"abc", dl);
        e.set_value(b"xyz");
        check(&e, b"key", b"xyz", dl);
        e.set_value(b"longer value");
        check(&e, b"key", b"longer value", dl);
        e.set_value(b"");
        check(&e, b"key", b"", dl);
        e.append(b"12");
        e.append(b"");
        e.append(b"345");
        check(&e, b"key", b"12345", dl);
        e.resize_value(8);
        check(&e, b"key", b"12345\0\0\0", dl);
        e.resize_value(2);
        check(&e, b"key", b"12", dl);
        e.write_at(0, b"9");
        check(&e, b"key", b"92", dl);
        // Across a varint boundary of the value length.
        e.append(&[b'a'; 200]);
        assert_eq!(e.value_len(), 202);
        assert_eq!(&e.value()[..2], b"92");
        e.append(b"z");
        assert_eq!(e.value_len(), 203);
        assert_eq!(e.value().last(), Some(&b'z'));
        assert_eq!(e.deadline(), dl);
    }
}

#[test]
fn zeroed_and_into_value() {
    let e = Entry::zeroed(b"k", 4, Some(3));
    check(&e, b"k", b"\0\0\0\0", Some(3));
    let e = Entry::new(b"key", b"the value", Some(1));
    assert_eq!(&e.into_value()[..], b"the value");
    let e = Entry::new(b"key", b"", None);
    assert!(e.into_value().is_empty());
}

#[test]
fn eviction_metadata() {
    let mut e = Entry::new(b"k", b"v", Some(1));
    assert_eq!((e.meta(), e.freq(), e.in_main()), (0, 0, false));
    e.set_freq(9);
    assert_eq!(e.freq(), 3);
    e.set_freq(1);
    e.set_in_main(true);
    e.set_meta(12345);
    check(&e, b"k", b"v", Some(1));
    let mut n = Entry::new(b"k", b"other", None);
    n.inherit(&e);
    assert_eq!((n.meta(), n.freq(), n.in_main()), (12345, 1, true));
    assert_eq!(n.deadline(), None);
    e.set_in_main(false);
    assert!(!e.in_main());
    assert_eq!(e.freq(), 1);
}

#[test]
fn chunk_sizes_follow_glibc() {
    assert_eq!(chunk_size(1), 32);
    assert_eq!(chunk_size(24), 32);
    assert_eq!(chunk_size(25), 48);
    assert_eq!(chunk_size(56), 64);
    assert_eq!(chunk_size(57), 80);
}

#[test]
fn debug_shows_key() {
    let s = format!("{:?}", Entry::new(b"abc", b"12345", Some(9)));
    assert!(s.contains("abc") && s.contains("value_len: 5") && s.contains("Some(9)"));
}

/// A packed collection changed where the entry keeps it: in place when its
/// length stays, appended to in one rebuild; key, deadline and eviction
/// state kept; a string or a boxed collection left alone.
#[test]
fn compact_collections_change_in_place_or_by_append() {
    use crate::storage::object::{packed, Hash, HashRef, ObjRef, Object, TAG_HASH_PACKED};
    let mut p = Vec::new();
    packed::push_pair(&mut p, b"f", b"one");
    let mut e = Entry::with_object(b"key", Object::Hash(Hash::Packed(p)), Some(77));
    e.set_meta(12345);
    let pairs = |e: &Entry| match e.object() {
        Some(ObjRef::Hash(HashRef::Packed(p))) => packed::pairs(p)
            .map(|(f, v)| (f.to_vec(), v.to_vec()))
            .collect::<Vec<_>>(),
        _ => panic!("not a packed hash"),
    };
    let done = e.edit_compact(|tag, bytes| {
        assert_eq!(tag, TAG_HASH_PACKED);
        let at = bytes.len() - 3;
        bytes[at..].copy_from_slice(b"two");
        Some(())
    });
    assert_eq!(done, Some(()));
    assert_eq!(pairs(&e), [(b"f".to_vec(), b"two".to_vec())]);
    let (h, n) = packed::pair_header(1, 5);
    assert!(e.append_compact(&[&h[..n], b"g", b"three"]));
    assert_eq!(
        pairs(&e),
        [
            (b"f".to_vec(), b"two".to_vec()),
            (b"g".to_vec(), b"three".to_vec())
        ]
    );
    assert_eq!(
        (e.key(), e.deadline(), e.meta()),
        (&b"key"[..], Some(77), 12345)
    );
    assert_eq!(e.edit_compact(|_, _| None::<()>), None);
    let mut s = Entry::new(b"k", b"string", None);
    assert!(!s.append_compact(&[b"x"]));
    assert_eq!(s.edit_compact(|_, _| Some(())), None);
    assert_eq!(&*s.value(), b"string");
}
