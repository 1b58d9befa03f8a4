//! Unit tests of the RDB codec: every length and string encoding both ways,
//! LZF and CRC64 against known values and each other, whole files byte for
//! byte, sections joined against one writer, and the reader's refusals with
//! their offsets. The interop tests against redis-server are in tests/rdb.rs.

use super::write::{canonical_int, put_len};
use super::*;
use proptest::prelude::*;

/// `n` pseudo-random bytes (xorshift64): what LZF cannot shrink.
fn noise(n: usize) -> Vec<u8> {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 32) as u8
        })
        .collect()
}

fn header() -> Header {
    Header::default()
}

/// A whole file of `keys` written by one `FileWriter`.
fn file_of(keys: &[(Vec<u8>, Vec<u8>, Option<i64>)], options: Options) -> Vec<u8> {
    let mut w = FileWriter::new(Vec::new(), &Header::redis(1_700_000_000, 123_456), options)
        .expect("vec write");
    for (k, v, t) in keys {
        w.write_string(k, v, *t).expect("vec write");
    }
    w.finish().expect("vec write").0
}

fn read_all(bytes: &[u8]) -> Result<(Vec<Item>, Checksum), Error> {
    let mut r = Reader::new(bytes)?;
    let mut items = Vec::new();
    while let Some(item) = r.next_item()? {
        items.push(item);
    }
    Ok((items, r.checksum().expect("ended")))
}

fn records(bytes: &[u8]) -> Vec<(Vec<u8>, Vec<u8>, Option<i64>)> {
    let (items, _) = read_all(bytes).expect("a good file");
    items
        .into_iter()
        .filter_map(|i| match i {
            Item::Key(r) => Some((r.key, r.value, r.expire_at_ms)),
            _ => None,
        })
        .collect()
}

/// The bytes one string encodes to, through a real section writer: the
/// section holds `type key value`, so the value's encoding follows the
/// 1-byte type and the 1-byte-length key "k".
fn encoded(value: &[u8], compression: bool) -> Vec<u8> {
    let mut w = SectionWriter::new(Vec::new(), Options { compression });
    w.write_string(b"k", value, None).expect("vec write");
    let (bytes, _) = w.finish().expect("vec write");
    assert_eq!(&bytes[..3], &[0, 1, b'k']);
    bytes[3..].to_vec()
}

/// A file made of the magic and `body`, ending in EOF and a correct trailer.
fn raw_file(version: u32, body: &[u8]) -> Vec<u8> {
    let mut f = format!("REDIS{version:04}").into_bytes();
    f.extend_from_slice(body);
    f.push(0xff);
    let crc = crc64(&f);
    f.extend_from_slice(&crc.to_le_bytes());
    f
}

fn err_of(bytes: &[u8]) -> Error {
    match read_all(bytes) {
        Ok(r) => panic!("expected an error, read {r:?}"),
        Err(e) => e,
    }
}

// ---------------------------------------------------------------------------
// CRC64
// ---------------------------------------------------------------------------

#[test]
fn crc64_matches_redis_check_value() {
    // Redis's crc64.c self-test: crc64(0, "123456789", 9) == 0xe9c6d914c4b8d9ca.
    assert_eq!(crc64(b"123456789"), 0xe9c6_d914_c4b8_d9ca);
    assert_eq!(crc64(b""), 0);
}

#[test]
fn running_crc_equals_one_shot() {
    let data: Vec<u8> = (0..10_000u32).map(|i| (i * 7 + i / 13) as u8).collect();
    let mut c = Crc64::new();
    for piece in data.chunks(333) {
        c.update(piece);
    }
    assert_eq!(c.value(), crc64(&data));
    assert_eq!(c.len(), data.len() as u64);
}

#[test]
fn crc64_combine_joins_any_split() {
    let data: Vec<u8> = (0..70_000u32).map(|i| (i ^ (i >> 5)) as u8).collect();
    let whole = crc64(&data);
    for cut in [0, 1, 7, 8, 9, 4095, 4096, 65_537, data.len()] {
        let (a, b) = data.split_at(cut);
        assert_eq!(
            crc64_combine(crc64(a), crc64(b), b.len() as u64),
            whole,
            "cut at {cut}"
        );
    }
}

proptest! {
    #[test]
    fn crc64_combine_is_crc_of_concatenation(a in proptest::collection::vec(any::<u8>(), 0..600),
                                             b in proptest::collection::vec(any::<u8>(), 0..600)) {
        let mut ab = a.clone();
        ab.extend_from_slice(&b);
        prop_assert_eq!(crc64_combine(crc64(&a), crc64(&b), b.len() as u64), crc64(&ab));
    }
}

// ---------------------------------------------------------------------------
// Lengths and strings
// ---------------------------------------------------------------------------

#[test]
fn lengths_encode_as_redis_at_every_boundary() {
    let cases: [(u64, &[u8]); 8] = [
        (0, &[0x00]),
        (63, &[0x3f]),
        (64, &[0x40, 0x40]),
        (16_383, &[0x7f, 0xff]),
        (16_384, &[0x80, 0x00, 0x00, 0x40, 0x00]),
        (u32::MAX as u64, &[0x80, 0xff, 0xff, 0xff, 0xff]),
        (u32::MAX as u64 + 1, &[0x81, 0, 0, 0, 1, 0, 0, 0, 0]),
        (
            u64::MAX,
            &[0x81, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
        ),
    ];
    for (n, want) in cases {
        let mut buf = Vec::new();
        put_len(&mut buf, n);
        assert_eq!(buf, want, "length {n}");
        // Read back as the RESIZEDB hint, which is two plain lengths.
        let mut body = vec![0xfb];
        body.extend_from_slice(&buf);
        body.push(0);
        let (items, _) = read_all(&raw_file(10, &body)).expect("good");
        assert_eq!(
            items,
            vec![Item::ResizeDb {
                db_size: n,
                expires_size: 0
            }]
        );
    }
}

#[test]
fn canonical_integers_only() {
    for (s, want) in [
        ("0", Some(0)),
        ("-1", Some(-1)),
        ("9223372036854775807", Some(i64::MAX)),
        ("-9223372036854775808", Some(i64::MIN)),
        ("9223372036854775808", None),
        ("-0", None),
        ("007", None),
        ("+1", None),
        ("", None),
        ("-", None),
        ("1 ", None),
        ("1e3", None),
        ("12345678901234567890", None),
    ] {
        assert_eq!(canonical_int(s.as_bytes()), want, "{s:?}");
    }
}

#[test]
fn integers_take_the_smallest_int_encoding() {
    let cases: [(&str, &[u8]); 10] = [
        ("0", &[0xc0, 0x00]),
        ("-128", &[0xc0, 0x80]),
        ("127", &[0xc0, 0x7f]),
        ("128", &[0xc1, 0x80, 0x00]),
        ("-32768", &[0xc1, 0x00, 0x80]),
        ("32768", &[0xc2, 0x00, 0x80, 0x00, 0x00]),
        ("2147483647", &[0xc2, 0xff, 0xff, 0xff, 0x7f]),
        ("-2147483648", &[0xc2, 0x00, 0x00, 0x00, 0x80]),
        // Past i32, or not canonical: raw, as Redis.
        ("2147483648", b"\x0a2147483648"),
        ("-0", b"\x02-0"),
    ];
    for (s, want) in cases {
        assert_eq!(encoded(s.as_bytes(), true), want, "{s}");
    }
    assert_eq!(encoded(b"007", true), b"\x03007");
    assert_eq!(encoded(b"12345678901", true), b"\x0b12345678901");
}

#[test]
fn every_string_encoding_reads_back() {
    let compressible = b"abcabcabcabcabcabcabcabcabcabcabcabcabcabc".repeat(100);
    let incompressible = noise(5000);
    let values: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"x".to_vec(),
        b"-17".to_vec(),
        b"300".to_vec(),
        b"-70000".to_vec(),
        b"2147483648".to_vec(),
        b"012".to_vec(),
        b"twenty bytes exactly".to_vec(),
        b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".to_vec(),
        compressible.clone(),
        incompressible.clone(),
        vec![0u8; 1 << 20],
        (0..=255u8).collect(),
    ];
    for compression in [true, false] {
        let keys: Vec<_> = values
            .iter()
            .enumerate()
            .map(|(i, v)| (format!("k{i}").into_bytes(), v.clone(), None))
            .collect();
        let file = file_of(&keys, Options { compression });
        assert_eq!(records(&file), keys);
    }
    // The encodings chosen: LZF for the compressible ones, raw for the rest.
    assert_eq!(encoded(&compressible, true)[0], 0xc3);
    // 4200 and 5000 bytes: raw with a 14-bit length.
    assert_eq!(encoded(&compressible, false)[..2], [0x40 | 0x10, 0x68]);
    assert_eq!(encoded(&incompressible, true)[..2], [0x40 | 0x13, 0x88]);
    // 20 bytes: never compressed; 21 of one byte: compressed.
    assert_eq!(encoded(&[b'a'; 20], true)[0], 20);
    assert_eq!(encoded(&[b'a'; 21], true)[0], 0xc3);
}

#[test]
fn write_int_equals_write_string_of_its_digits() {
    for v in [0i64, -1, 127, 128, -32769, 1 << 31, i64::MIN, i64::MAX] {
        let mut a = SectionWriter::new(Vec::new(), Options::default());
        a.write_int(b"n", v, Some(5)).expect("vec");
        let mut b = SectionWriter::new(Vec::new(), Options::default());
        b.write_string(b"n", v.to_string().as_bytes(), Some(5))
            .expect("vec");
        assert_eq!(a.finish().expect("vec"), b.finish().expect("vec"), "{v}");
    }
}

// ---------------------------------------------------------------------------
// LZF
// ---------------------------------------------------------------------------

#[test]
fn lzf_decodes_hand_made_streams() {
    // Literal "abc", then a back reference of 6 bytes to 3 back (overlapping).
    let stream = [2, b'a', b'b', b'c', (4 << 5), 2];
    assert_eq!(lzf_decompress(&stream, 9).expect("good"), b"abcabcabc");
    // A long reference: len 7 + 10 + 2 = 19 bytes of 'z' from 1 back.
    let stream = [0, b'z', 7 << 5, 10, 0];
    assert_eq!(lzf_decompress(&stream, 20).expect("good"), vec![b'z'; 20]);
}

#[test]
fn lzf_refuses_bad_streams() {
    assert_eq!(lzf_decompress(&[3, b'a'], 4), Err(LzfError::Truncated));
    assert_eq!(
        lzf_decompress(&[0, b'a', 1 << 5], 4),
        Err(LzfError::Truncated)
    );
    assert_eq!(
        lzf_decompress(&[0, b'a', 1 << 5, 5], 4),
        Err(LzfError::BadReference)
    );
    assert_eq!(lzf_decompress(&[1, b'a', b'b'], 1), Err(LzfError::TooLong));
    assert_eq!(lzf_decompress(&[1, b'a', b'b'], 3), Err(LzfError::TooShort));
    assert_eq!(lzf_decompress(&[0, b'a'], 1000), Err(LzfError::Impossible));
}

#[test]
fn lzf_respects_the_limit_and_is_deterministic() {
    let text = b"the quick brown fox jumps over the lazy dog; ".repeat(40);
    let once = lzf_compress(&text, text.len()).expect("compresses");
    assert!(once.len() < text.len() / 4, "{} bytes", once.len());
    assert_eq!(lzf_compress(&text, once.len() - 1), None);
    // A reused compressor gives the same bytes as a fresh one.
    let mut c = Compressor::new();
    let mut out = Vec::new();
    for _ in 0..3 {
        assert!(c.compress(b"zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz", &mut out, 100));
        assert!(c.compress(&text, &mut out, text.len()));
        assert_eq!(out, once);
    }
}

proptest! {
    #[test]
    fn lzf_round_trips(data in proptest::collection::vec(
        prop_oneof![Just(b'a'), Just(b'b'), any::<u8>()], 1..3000)) {
        if let Some(c) = lzf_compress(&data, data.len() * 2 + 16) {
            prop_assert_eq!(lzf_decompress(&c, data.len()).expect("own output"), data);
        }
    }

    #[test]
    fn lzf_never_panics(data in proptest::collection::vec(any::<u8>(), 0..300), ulen in 0usize..5000) {
        let _ = lzf_decompress(&data, ulen);
    }
}

// ---------------------------------------------------------------------------
// Whole files
// ---------------------------------------------------------------------------

#[test]
fn a_small_file_byte_for_byte() {
    let mut w =
        FileWriter::new(Vec::new(), &header().sizes(1, 1), Options::default()).expect("vec");
    w.write_string(b"a", b"b", Some(0x0102_0304_0506_0708))
        .expect("vec");
    let (bytes, written) = w.finish().expect("vec");
    let mut want = b"REDIS0010".to_vec();
    want.extend_from_slice(&[0xfe, 0x00, 0xfb, 0x01, 0x01]);
    want.extend_from_slice(&[0xfc, 8, 7, 6, 5, 4, 3, 2, 1]);
    want.extend_from_slice(&[0x00, 0x01, b'a', 0x01, b'b', 0xff]);
    let crc = crc64(&want);
    want.extend_from_slice(&crc.to_le_bytes());
    assert_eq!(bytes, want);
    assert_eq!(
        written,
        Written {
            bytes: want.len() as u64,
            keys: 1,
            keys_with_ttl: 1,
            checksum: crc
        }
    );
}

#[test]
fn the_header_carries_redis_aux_fields() {
    let file = file_of(&[], Options::default());
    let (items, sum) = read_all(&file).expect("good");
    let aux: Vec<(String, String)> = items
        .iter()
        .filter_map(|i| match i {
            Item::Aux { key, value } => Some((
                String::from_utf8_lossy(key).into_owned(),
                String::from_utf8_lossy(value).into_owned(),
            )),
            _ => None,
        })
        .collect();
    let names: Vec<&str> = aux.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "redis-ver",
            "redis-bits",
            "ctime",
            "used-mem",
            "aof-base",
            "stairkv-ver"
        ]
    );
    assert_eq!(aux[0].1, REDIS_VER);
    assert_eq!(aux[1].1, "64");
    assert_eq!(aux[2].1, "1700000000");
    assert!(matches!(sum, Checksum::Verified(_)));
}

type Keys = Vec<(Vec<u8>, Vec<u8>, Option<i64>)>;

fn arb_value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..40),
        any::<i64>().prop_map(|v| v.to_string().into_bytes()),
        (-200i64..70_000).prop_map(|v| v.to_string().into_bytes()),
        (any::<u8>(), 21usize..2000).prop_map(|(b, n)| vec![b; n]),
        proptest::collection::vec(prop_oneof![Just(b'x'), Just(b'y'), any::<u8>()], 15..700),
    ]
}

fn arb_keys() -> impl Strategy<Value = Keys> {
    proptest::collection::vec(
        (
            proptest::collection::vec(any::<u8>(), 0..30),
            arb_value(),
            proptest::option::of(any::<i64>()),
        ),
        0..40,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn files_round_trip(keys in arb_keys(), compression in any::<bool>()) {
        let file = file_of(&keys, Options { compression });
        prop_assert_eq!(records(&file), keys);
    }

    /// Keys spread over several section writers and joined give the very
    /// bytes one writer gives: the CRC joins, the encoding is per key.
    #[test]
    fn joined_sections_equal_one_writer(keys in arb_keys(), cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..4)) {
        let one = file_of(&keys, Options::default());
        let mut bounds: Vec<usize> = cuts.iter().map(|c| c.index(keys.len() + 1)).collect();
        bounds.push(0);
        bounds.push(keys.len());
        bounds.sort_unstable();
        let mut w = FileWriter::new(Vec::new(), &Header::redis(1_700_000_000, 123_456), Options::default()).expect("vec");
        for (i, pair) in bounds.windows(2).enumerate() {
            let part = &keys[pair[0]..pair[1]];
            if i % 2 == 0 {
                let mut s = SectionWriter::new(Vec::new(), Options::default());
                for (k, v, t) in part {
                    s.write_string(k, v, *t).expect("vec");
                }
                let (bytes, section) = s.finish().expect("vec");
                if i % 4 == 0 {
                    w.append_section(&bytes, section).expect("vec");
                } else {
                    w.append_section_from(&bytes[..], section).expect("vec");
                }
            } else {
                for (k, v, t) in part {
                    w.write_string(k, v, *t).expect("vec");
                }
            }
        }
        let (joined, written) = w.finish().expect("vec");
        prop_assert_eq!(written.keys, keys.len() as u64);
        prop_assert_eq!(joined, one);
    }
}

#[test]
fn a_section_with_the_wrong_length_is_refused() {
    let mut s = SectionWriter::new(Vec::new(), Options::default());
    s.write_string(b"k", b"v", None).expect("vec");
    let (bytes, section) = s.finish().expect("vec");
    let mut w = FileWriter::new(Vec::new(), &header(), Options::default()).expect("vec");
    assert!(w.append_section(&bytes[1..], section).is_err());
    assert!(w.append_section_from(&bytes[1..], section).is_err());
}

// ---------------------------------------------------------------------------
// The reader's refusals
// ---------------------------------------------------------------------------

#[test]
fn every_truncation_is_an_error_at_the_cut() {
    let keys: Keys = vec![
        (b"int".to_vec(), b"12345".to_vec(), None),
        (b"ttl".to_vec(), b"v".repeat(30), Some(1_700_000_000_000)),
        (b"raw".to_vec(), (0..100u8).collect(), Some(-5)),
    ];
    let file = file_of(&keys, Options::default());
    for cut in 0..file.len() {
        let e = err_of(&file[..cut]);
        if cut < 9 {
            assert!(matches!(e.kind, ErrorKind::NotRdb), "cut {cut}: {e}");
            assert_eq!(e.offset, 0);
        } else {
            assert!(matches!(e.kind, ErrorKind::Truncated), "cut {cut}: {e}");
            assert_eq!(e.offset, cut as u64, "cut {cut}");
        }
    }
}

#[test]
fn a_flipped_byte_fails_the_checksum_at_the_trailer() {
    let keys: Keys = vec![(
        b"key".to_vec(),
        b"a raw value, not compressed".to_vec(),
        None,
    )];
    let file = file_of(&keys, Options { compression: false });
    let at = file
        .windows(5)
        .position(|w| w == b"a raw")
        .expect("the value is in the file");
    let mut bad = file.clone();
    bad[at + 2] ^= 0x20;
    let e = err_of(&bad);
    assert!(matches!(e.kind, ErrorKind::Checksum { .. }), "{e}");
    assert_eq!(e.offset, file.len() as u64 - 8);
    // A flipped trailer too.
    let mut bad = file.clone();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    assert!(matches!(err_of(&bad).kind, ErrorKind::Checksum { .. }));
    // A zero trailer means "not computed": accepted, as Redis.
    let mut unchecked = file.clone();
    unchecked[last - 7..].fill(0);
    let (_, sum) = read_all(&unchecked).expect("accepted");
    assert_eq!(sum, Checksum::NotComputed);
}

#[test]
fn other_types_are_refused_with_their_name_and_key() {
    // A stream "mystream": type 21, key, then a body never read.
    let mut body = vec![0xfe, 0x00, 21, 8];
    body.extend_from_slice(b"mystream");
    body.extend_from_slice(&[1, 2, 3]);
    let file = raw_file(10, &body);
    let e = err_of(&file);
    assert_eq!(e.offset, 11);
    let text = e.to_string();
    assert!(
        text.contains("stream (listpacks_3)") && text.contains("\"mystream\""),
        "{text}"
    );
    assert!(text.starts_with("offset 11: "), "{text}");
    // Hashes, sets, lists and sorted sets (1, 2, 3, 4, 5, 9, 10, 11, 12,
    // 13, 14, 16, 17, 18, 20) are read: see `object`.
    for t in [6u8, 7, 15, 19, 21] {
        let file = raw_file(10, &[t, 1, b'k']);
        let e = err_of(&file);
        assert!(
            matches!(e.kind, ErrorKind::UnsupportedType { byte, ref key, .. } if byte == t && key == b"k"),
            "type {t}: {e}"
        );
    }
    let e = err_of(&raw_file(10, &[8, 1, b'k']));
    assert!(matches!(e.kind, ErrorKind::UnknownType(8)), "{e}");
}

#[test]
fn other_databases_modules_and_pre_release_functions_are_refused() {
    let e = err_of(&raw_file(
        10,
        &[0xfe, 0x00, 0x00, 1, b'a', 1, b'b', 0xfe, 0x03],
    ));
    assert!(matches!(e.kind, ErrorKind::OtherDb(3)), "{e}");
    assert_eq!(e.offset, 16);
    assert!(e.to_string().contains("database 3"));
    let e = err_of(&raw_file(10, &[0xf7, 0x81]));
    assert!(matches!(e.kind, ErrorKind::ModuleAux), "{e}");
    assert_eq!(e.offset, 9);
    let e = err_of(&raw_file(10, &[0xf6, 0x00]));
    assert!(matches!(e.kind, ErrorKind::Function), "{e}");
}

#[test]
fn function_libraries_read_back_as_written() {
    let code = b"#!lua name=l\nredis.register_function('f', function() return 1 end)".to_vec();
    let header = Header::redis(1, 2).functions(vec![code.clone(), b"#!lua name=m\n".to_vec()]);
    let mut out = Vec::new();
    let w = FileWriter::new(&mut out, &header, Options::default()).expect("header");
    w.finish().expect("finish");
    let mut reader = Reader::new(&out[..]).expect("magic");
    let mut found = Vec::new();
    while let Some(item) = reader.next_item().expect("item") {
        if let Item::Function(c) = item {
            found.push(c);
        }
    }
    assert_eq!(found, vec![code, b"#!lua name=m\n".to_vec()]);
    // As FUNCTION DUMP and RESTORE carry them.
    let payload = crate::persist::rdb::dump_functions(found.iter().map(|c| &c[..]));
    assert_eq!(crate::persist::rdb::restore_functions(&payload), Ok(found));
}

#[test]
fn versions_and_magic() {
    assert!(matches!(
        err_of(b"REDIS0013\xff").kind,
        ErrorKind::Version(13)
    ));
    assert!(matches!(
        err_of(b"REDIS0000\xff").kind,
        ErrorKind::Version(0)
    ));
    assert!(matches!(err_of(b"REDIX0010\xff").kind, ErrorKind::NotRdb));
    assert!(matches!(err_of(b"REDIS00a0\xff").kind, ErrorKind::NotRdb));
    // Version 4 has no trailer; 11 and 12 read like 10.
    let (items, sum) = read_all(b"REDIS0004\x00\x01k\x01v\xff").expect("good");
    assert_eq!(sum, Checksum::Absent);
    assert_eq!(items.len(), 1);
    for v in [11, 12] {
        let (_, sum) = read_all(&raw_file(v, &[0, 1, b'k', 1, b'v'])).expect("good");
        assert!(matches!(sum, Checksum::Verified(_)));
    }
}

#[test]
fn old_expire_idle_and_freq_are_read() {
    let mut body = vec![0xfd];
    body.extend_from_slice(&1_700_000_000i32.to_le_bytes());
    body.extend_from_slice(&[0xf8, 0x40, 0x80, 0, 1, b'a', 1, b'1']);
    body.extend_from_slice(&[0xf9, 7, 0, 1, b'b', 0xc0, 0xfe]);
    let (items, _) = read_all(&raw_file(9, &body)).expect("good");
    assert_eq!(
        items,
        vec![
            Item::Key(Record {
                object: None,
                key: b"a".to_vec(),
                value: b"1".to_vec(),
                expire_at_ms: Some(1_700_000_000_000),
                lru_idle_secs: Some(128),
                lfu_freq: None,
            }),
            Item::Key(Record {
                object: None,
                key: b"b".to_vec(),
                value: b"-2".to_vec(),
                expire_at_ms: None,
                lru_idle_secs: None,
                lfu_freq: Some(7),
            }),
        ]
    );
}

#[test]
fn bad_lengths_and_encodings_name_their_offset() {
    let e = err_of(&raw_file(10, &[0, 0x82]));
    assert!(matches!(e.kind, ErrorKind::BadLength(0x82)), "{e}");
    assert_eq!(e.offset, 10);
    let e = err_of(&raw_file(10, &[0, 1, b'k', 0xc4]));
    assert!(matches!(e.kind, ErrorKind::BadEncoding(4)), "{e}");
    assert_eq!(e.offset, 12);
    // An encoded length where a plain one must be.
    let e = err_of(&raw_file(10, &[0xfb, 0xc0, 0]));
    assert!(matches!(e.kind, ErrorKind::BadLength(0xc0)), "{e}");
    // LZF whose data does not expand to its declared length.
    let e = err_of(&raw_file(10, &[0, 1, b'k', 0xc3, 3, 5, 1, b'a', b'b']));
    assert!(matches!(e.kind, ErrorKind::Lzf(LzfError::TooShort)), "{e}");
    assert_eq!(e.offset, 12);
}

#[test]
fn a_huge_claimed_length_allocates_nothing_and_is_truncated() {
    // A 2^62-byte value claimed in a 30-byte file.
    let mut f = b"REDIS0010\x00\x01k\x81".to_vec();
    f.extend_from_slice(&(1u64 << 62).to_be_bytes());
    f.extend_from_slice(b"only a few bytes");
    let e = err_of(&f);
    assert!(matches!(e.kind, ErrorKind::Truncated), "{e}");
    assert_eq!(e.offset, f.len() as u64);
    // And an LZF record claiming 2^40 bytes from 3.
    let e = err_of(&raw_file(
        10,
        &[
            0, 1, b'k', 0xc3, 3, 0x81, 0, 0, 1, 0, 0, 0, 0, 0, 0, b'a', 0,
        ],
    ));
    assert!(
        matches!(e.kind, ErrorKind::Lzf(LzfError::Impossible)),
        "{e}"
    );
}

#[test]
fn check_rdb_summarizes_a_file() {
    let dir = std::env::temp_dir().join(format!("stairkv-rdb-unit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("dump.rdb");
    let keys: Keys = vec![
        (b"a".to_vec(), b"1".to_vec(), None),
        (b"b".to_vec(), b"2".to_vec(), Some(10)),
    ];
    let mut file = file_of(&keys, Options::default());
    std::fs::write(&path, &file).expect("write");
    let s = check_rdb(&path).expect("good");
    assert_eq!((s.version, s.keys, s.keys_with_ttl), (10, 2, 1));
    assert_eq!(s.bytes, file.len() as u64);
    assert_eq!(s.trailing_bytes, 0);
    assert!(matches!(s.checksum, Checksum::Verified(_)));
    assert_eq!(s.aux.len(), 6);
    file.extend_from_slice(b"junk");
    std::fs::write(&path, &file).expect("write");
    assert_eq!(check_rdb(&path).expect("good").trailing_bytes, 4);
    let n = file.len() - 20;
    std::fs::write(&path, &file[..n]).expect("write");
    let e = check_rdb(&path).expect_err("truncated");
    assert_eq!(e.offset, n as u64);
    let e = check_rdb(dir.join("missing.rdb")).expect_err("missing");
    assert!(matches!(e.kind, ErrorKind::Io(_)));
    std::fs::remove_dir_all(&dir).expect("clean up");
}
