//! Unit tests of `ziplist` (one purpose, long tests).

use super::super::listpack;
use super::*;
use crate::persist::rdb::testkit::{expand, hex, texts, Seg, XorShift};

// ---- helpers ---------------------------------------------------------

fn canonical(s: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(s).ok()?;
    let v: i64 = text.parse().ok()?;
    (v.to_string() == text).then_some(v)
}

/// A test-only ziplist writer following ziplist.c's choices (strings
/// shorter than 32 bytes that are canonical integers become integers,
/// narrowest integer encoding, prevlen 1 byte below 254). Entries listed
/// in `big_prevlen` get a 5-byte prevlen regardless, as Redis leaves
/// behind when it avoids cascading shrinks.
fn encode(values: &[Element], big_prevlen: &[usize]) -> Vec<u8> {
    let mut body = Vec::new();
    let mut prev = 0usize;
    let mut last = 0usize;
    for (i, value) in values.iter().enumerate() {
        let start = body.len();
        last = start;
        if prev < 254 && !big_prevlen.contains(&i) {
            body.push(prev as u8);
        } else {
            body.push(BIG_PREVLEN);
            body.extend_from_slice(&(prev as u32).to_le_bytes());
        }
        let int = match value {
            Element::Int(v) => Some(*v),
            Element::Bytes(b) if b.len() < 32 => canonical(b),
            Element::Bytes(_) => None,
        };
        match (int, value) {
            (Some(v), _) => {
                let le = v.to_le_bytes();
                match v {
                    0..=12 => body.push(0xF1 + v as u8),
                    -128..=127 => body.extend_from_slice(&[0xFE, le[0]]),
                    -32768..=32767 => body.extend_from_slice(&[0xC0, le[0], le[1]]),
                    -8_388_608..=8_388_607 => body.extend_from_slice(&[0xF0, le[0], le[1], le[2]]),
                    -2_147_483_648..=2_147_483_647 => {
                        body.push(0xD0);
                        body.extend_from_slice(&le[..4]);
                    }
                    _ => {
                        body.push(0xE0);
                        body.extend_from_slice(&le);
                    }
                }
            }
            (None, Element::Bytes(s)) => {
                let n = s.len();
                if n <= 0x3F {
                    body.push(n as u8);
                } else if n <= 0x3FFF {
                    body.extend_from_slice(&[0x40 | (n >> 8) as u8, n as u8]);
                } else {
                    body.push(0x80);
                    body.extend_from_slice(&(n as u32).to_be_bytes());
                }
                body.extend_from_slice(s);
            }
            (None, Element::Int(_)) => unreachable!(),
        }
        prev = body.len() - start;
    }
    let total = (HEADER_LEN + body.len() + 1) as u32;
    let mut out = Vec::with_capacity(total as usize);
    out.extend_from_slice(&total.to_le_bytes());
    out.extend_from_slice(&((HEADER_LEN + last) as u32).to_le_bytes());
    out.extend_from_slice(&(values.len().min(65535) as u16).to_le_bytes());
    out.extend_from_slice(&body);
    out.push(END);
    out
}

fn strs(items: &[&str]) -> Vec<Element> {
    items
        .iter()
        .map(|s| Element::Bytes(s.as_bytes().to_vec()))
        .collect()
}

// ---- hand-built fixtures, cross-checked with redis-server 7.0.15 ---------
//
// Redis 7 cannot write ziplists, so these were built by hand from the
// format description by a throwaway script, RESTOREd into
// redis-server 7.0.15 with sanitize-dump-payload yes (which runs its deep
// ziplist validation and converts to listpack), and DUMPed back. The
// `OUT_*` blobs are the listpacks Redis produced: decoding ours must give
// the same elements Redis saw.

/// HASH_ZIPLIST: 24 pairs covering every integer encoding, 6/14/32-bit
/// strings ("huge" is 16400 bytes), a 5-byte prevlen after a 300-byte
/// entry, and a gratuitous 5-byte prevlen holding 3 (entry 3).
const IN_ZL_HASH: &[Seg] = &[
    Seg::Hex("c0420000bd420000300000046e616d650605726564697307026e30fe04000000"),
    Seg::Hex("f106036e313205fd02036e313305fe0d03036e656705feff030569386d617807"),
    Seg::Hex("fe7f030569386d696e07fe80030369313605c0008004046931366206c0ff7f04"),
    Seg::Hex("0369323405f0ffff7f05046932346e06f0000080050369333205d0ffffff7f06"),
    Seg::Hex("046933326e06d000000080060369363405e0ffffffffffffff7f0a046936346e"),
    Seg::Hex("06e000000000000000800a05656d707479070002056c65616430070230310402"),
    Seg::Hex("6d3004022d3004046c6f6e6706412c"),
    Seg::Run(0x4c, 300),
    Seg::Hex("fe2f0100000561667465720b01780303733633053f"),
    Seg::Run(0x61, 63),
    Seg::Hex("4103733634054040"),
    Seg::Run(0x62, 64),
    Seg::Hex("430468756765068000004010"),
    Seg::Run(0x48, 16400),
    Seg::Hex("fe16400000046c6173740af2ff"),
];
const OUT_ZL_HASH: &[Seg] = &[
    Seg::Hex("b14200003000846e616d650585726564697306826e30030001836e3132040c01"),
    Seg::Hex("836e3133040d01836e656704dfff028569386d6178067f018569386d696e06df"),
    Seg::Hex("80028369313604f1008003846931366205f1ff7f038369323404f2ffff7f0484"),
    Seg::Hex("6932346e05f2000080048369333204f3ffffff7f05846933326e05f300000080"),
    Seg::Hex("058369363404f4ffffffffffffff7f09846936346e05f4000000000000008009"),
    Seg::Hex("85656d707479068001856c656164300682303103826d3003822d3003846c6f6e"),
    Seg::Hex("6705e12c"),
    Seg::Run(0x4c, 300),
    Seg::Hex("02ae856166746572068178028373363304bf"),
    Seg::Run(0x61, 63),
    Seg::Hex("408373363404e040"),
    Seg::Run(0x62, 64),
    Seg::Hex("42846875676505f010400000"),
    Seg::Run(0x48, 16400),
    Seg::Hex("018095846c617374050101ff"),
];

/// HASH_ZIPLIST `a 5 b -3 c short d 100` with 5 in int64, -3 in int16,
/// 100 in int32 encoding: never written by Redis, accepted by it.
const IN_ZL_HASH_WIDE: &[Seg] = &[
    Seg::Hex("320000002b000000080000016103e005000000000000000a016203c0fdff0401"),
    Seg::Hex("63030573686f727407016403d064000000ff"),
];
const OUT_ZL_HASH_WIDE: &[Seg] = &[
    Seg::Hex("2100000008008161020501816202dffd028163028573686f7274068164026401"),
    Seg::Hex("ff"),
];

/// ZSET_ZIPLIST `c -3 a 1 b 2.5 d 1e+20`.
const IN_ZL_ZSET: &[Seg] = &[
    Seg::Hex("2800000020000000080000016303fefd03016103f20201620303322e35050164"),
    Seg::Hex("030531652b3230ff"),
];
const OUT_ZL_ZSET: &[Seg] = &[
    Seg::Hex("240000000800816302dffd02816102010181620283322e35048164028531652b"),
    Seg::Hex("323006ff"),
];

/// LIST_ZIPLIST `x 5 -100000 "" y*70 12345678901234567890`.
const IN_ZL_LIST: &[Seg] = &[
    Seg::Hex("760000005f000000060000017803f602f06079fe0500024046"),
    Seg::Run(0x79, 70),
    Seg::Hex("49143132333435363738393031323334353637383930ff"),
];
const OUT_ZL_LIST: &[Seg] = &[
    Seg::Hex("7200000006008178020501f26079fe048001e046"),
    Seg::Run(0x79, 70),
    Seg::Hex("4894313233343536373839303132333435363738393015ff"),
];

/// The two ziplist nodes of a QUICKLIST (v1) value, and the two listpack
/// nodes Redis turned them into.
const IN_ZL_QUICKLIST_0: &[Seg] = &[Seg::Hex("1700000011000000030000036e316105f202036e3163ff")];
const IN_ZL_QUICKLIST_1: &[Seg] = &[
    Seg::Hex("2301000018010000050000f302036e326205f02fd0fe0540ff"),
    Seg::Run(0x7a, 255),
    Seg::Hex("fe02010000047461696cff"),
];
const OUT_ZL_QUICKLIST_0: &[Seg] = &[Seg::Hex("130000000300836e3161040101836e316304ff")];
const OUT_ZL_QUICKLIST_1: &[Seg] = &[
    Seg::Hex("1c01000005000201836e326204f22fd0fe04e0ff"),
    Seg::Run(0x7a, 255),
    Seg::Hex("0281847461696c05ff"),
];

fn hash_content() -> Vec<Element> {
    let mut v = strs(&[
        "name",
        "redis",
        "n0",
        "0",
        "n12",
        "12",
        "n13",
        "13",
        "neg",
        "-1",
        "i8max",
        "127",
        "i8min",
        "-128",
        "i16",
        "-32768",
        "i16b",
        "32767",
        "i24",
        "8388607",
        "i24n",
        "-8388608",
        "i32",
        "2147483647",
        "i32n",
        "-2147483648",
        "i64",
        "9223372036854775807",
        "i64n",
        "-9223372036854775808",
        "empty",
        "",
        "lead0",
        "01",
        "m0",
        "-0",
        "long",
    ]);
    v.push(Element::Bytes(vec![b'L'; 300]));
    v.extend(strs(&["after", "x", "s63"]));
    v.push(Element::Bytes(vec![b'a'; 63]));
    v.extend(strs(&["s64"]));
    v.push(Element::Bytes(vec![b'b'; 64]));
    v.extend(strs(&["huge"]));
    v.push(Element::Bytes(vec![b'H'; 16400]));
    v.extend(strs(&["last", "1"]));
    v
}

fn check_against_redis(ziplist: &[Seg], listpack: &[Seg]) -> Vec<Element> {
    let ours = decode(&expand(ziplist)).expect("fixture decodes");
    let redis = listpack::decode(&expand(listpack)).expect("redis listpack decodes");
    assert_eq!(texts(&ours), texts(&redis));
    ours
}

#[test]
fn redis_hash_ziplist() {
    let ours = check_against_redis(IN_ZL_HASH, OUT_ZL_HASH);
    let expected = hash_content();
    assert_eq!(texts(&ours), texts(&expected));
    // Canonical integers (and only those) were stored as integers.
    for (element, text) in ours.iter().zip(texts(&expected)) {
        match canonical(&text) {
            Some(v) => assert_eq!(element, &Element::Int(v)),
            None => assert_eq!(element, &Element::Bytes(text)),
        }
    }
    // Our test writer agrees with the fixture builder apart from the
    // gratuitous big prevlen, which it can be told to reproduce.
    assert!(encode(&expected, &[3]) == expand(IN_ZL_HASH));
}

#[test]
fn redis_hash_ziplist_with_wide_integers() {
    let ours = check_against_redis(IN_ZL_HASH_WIDE, OUT_ZL_HASH_WIDE);
    assert_eq!(
        ours,
        [
            Element::Bytes(b"a".to_vec()),
            Element::Int(5),
            Element::Bytes(b"b".to_vec()),
            Element::Int(-3),
            Element::Bytes(b"c".to_vec()),
            Element::Bytes(b"short".to_vec()),
            Element::Bytes(b"d".to_vec()),
            Element::Int(100),
        ]
    );
}

#[test]
fn redis_zset_list_and_quicklist_ziplists() {
    let zset = check_against_redis(IN_ZL_ZSET, OUT_ZL_ZSET);
    assert_eq!(
        texts(&zset),
        texts(&strs(&["c", "-3", "a", "1", "b", "2.5", "d", "1e+20"]))
    );
    assert!(encode(&zset, &[]) == expand(IN_ZL_ZSET));

    let list = check_against_redis(IN_ZL_LIST, OUT_ZL_LIST);
    let mut expected = strs(&["x", "5", "-100000", ""]);
    expected.push(Element::Bytes(vec![b'y'; 70]));
    expected.extend(strs(&["12345678901234567890"]));
    assert_eq!(texts(&list), texts(&expected));
    assert!(encode(&list, &[]) == expand(IN_ZL_LIST));

    let first = check_against_redis(IN_ZL_QUICKLIST_0, OUT_ZL_QUICKLIST_0);
    assert_eq!(texts(&first), texts(&strs(&["n1a", "1", "n1c"])));
    let second = check_against_redis(IN_ZL_QUICKLIST_1, OUT_ZL_QUICKLIST_1);
    let mut expected = strs(&["2", "n2b", "-77777"]);
    expected.push(Element::Bytes(vec![b'z'; 255]));
    expected.extend(strs(&["tail"]));
    assert_eq!(texts(&second), texts(&expected));
}

/// Hand-built corrupt ziplists that redis-server 7.0.15 refused on
/// RESTORE with "Bad data format".
#[test]
fn redis_rejected_blobs_are_errors() {
    for (name, blob) in [
        (
            "zltail off by one",
            "1700000013000000040000016b03017603026b3204fdff",
        ),
        ("zllen", "1700000014000000030000016b03017603026b3204fdff"),
        ("prevlen", "1700000014000000040000010301017603026b3204fdff"),
        ("encoding 0xc1", "110000000d000000020000c16b030176ff"),
        ("string overrun", "110000000d0000000200003f6b030176ff"),
        (
            "no end marker",
            "1700000014000000040000016b03017603026b3204fd00",
        ),
        ("early end marker", "120000000d000000020000016b030176ffff"),
        ("truncated", "1700000014000000040000016b03017603026b32ff"),
    ] {
        assert!(decode(&hex(blob)).is_err(), "{name} accepted");
    }
}

// ---- format corner cases -------------------------------------------------

#[test]
fn empty_ziplist() {
    // What ziplistNew() builds.
    assert_eq!(decode(&hex("0b000000 0a000000 0000 ff")).unwrap(), []);
    assert!(decode(&hex("0b000000 0b000000 0000 ff")).is_err());
    assert!(decode(&hex("0b000000 0a000000 0100 ff")).is_err());
}

#[test]
fn documented_example() {
    // ziplist.c's own example: "2" and "5", then "Hello World" appended.
    let blob = hex("0f000000 0c000000 0200 00f3 02f6 ff");
    assert_eq!(decode(&blob).unwrap(), [Element::Int(2), Element::Int(5)]);
    let mut values = decode(&blob).unwrap();
    values.push(Element::Bytes(b"Hello World".to_vec()));
    let grown = encode(&values, &[]);
    assert!(grown.ends_with(&hex("02 0b 48656c6c6f20576f726c64 ff")));
    assert_eq!(decode(&grown).unwrap(), values);
}

#[test]
fn every_integer_encoding() {
    let cases: &[(&str, i64)] = &[
        ("f1", 0),
        ("fd", 12),
        ("fe80", -128),
        ("fe7f", 127),
        ("c00080", -32768),
        ("c0ff7f", 32767),
        ("f0000080", -8_388_608),
        ("f0ffff7f", 8_388_607),
        ("d000000080", i64::from(i32::MIN)),
        ("d0ffffff7f", i64::from(i32::MAX)),
        ("e00000000000000080", i64::MIN),
        ("e0ffffffffffffff7f", i64::MAX),
    ];
    for &(entry, value) in cases {
        let body = hex(&format!("00{entry}"));
        let mut blob = ((HEADER_LEN + body.len() + 1) as u32)
            .to_le_bytes()
            .to_vec();
        blob.extend_from_slice(&(HEADER_LEN as u32).to_le_bytes());
        blob.extend_from_slice(&[1, 0]);
        blob.extend_from_slice(&body);
        blob.push(END);
        assert_eq!(decode(&blob).unwrap(), [Element::Int(value)], "{entry}");
        assert!(encode(&[Element::Int(value)], &[]) == blob, "{entry}");
    }
    // -1 in 24 bits: wider than Redis would pick (int8), still valid.
    let blob = hex("10000000 0a000000 0100 00f0ffffff ff");
    assert_eq!(decode(&blob).unwrap(), [Element::Int(-1)]);
    // Tags 0xc1..0xcf etc. are not encodings.
    for tag in [0xC1u8, 0xCF, 0xD1, 0xE1, 0xEF] {
        let blob = [13, 0, 0, 0, 10, 0, 0, 0, 1, 0, 0, tag, 0xFF];
        assert!(decode(&blob[..]).is_err(), "{tag:#x}");
    }
}

#[test]
fn string_length_forms() {
    for n in [0usize, 63, 64, 16383, 16384, 70000] {
        let s = vec![b's'; n];
        let blob = encode(&[Element::Bytes(s.clone())], &[]);
        let header = match n {
            0..=63 => 1,
            64..=16383 => 2,
            _ => 5,
        };
        assert_eq!(blob.len(), HEADER_LEN + 1 + header + n + 1, "{n}");
        assert_eq!(decode(&blob).unwrap(), [Element::Bytes(s)]);
    }
    // 32-bit string tag with stray low bits: ignored, as Redis does.
    let blob = hex("13000000 0a000000 0100 00 81 00000002 6869 ff");
    assert_eq!(decode(&blob).unwrap(), [Element::Bytes(b"hi".to_vec())]);
}

#[test]
fn unknown_count_walks_the_entries() {
    let values: Vec<Element> = (0..70_000).map(|i| Element::Int(i % 13)).collect();
    let blob = encode(&values, &[]);
    assert_eq!(&blob[8..10], &[0xFF, 0xFF]);
    assert_eq!(decode(&blob).unwrap(), values);
    let few = encode(&[Element::Int(1)], &[]);
    let mut unknown = few.clone();
    unknown[8] = 0xFF;
    unknown[9] = 0xFF;
    assert_eq!(decode(&unknown).unwrap(), [Element::Int(1)]);
}

// ---- round trips and hostile input ---------------------------------------

fn random_values(rng: &mut XorShift) -> Vec<Element> {
    let n = rng.below(30) as usize;
    (0..n)
        .map(|_| match rng.below(9) {
            0 => Element::Int(rng.next() as i64 >> (rng.below(64) as u32)),
            1 => Element::Int(rng.below(40) as i64 - 20),
            2 => Element::Bytes(
                (rng.next() as i64 >> rng.below(64))
                    .to_string()
                    .into_bytes(),
            ),
            3 => {
                let tricky: [&[u8]; 8] = [
                    b"01",
                    b"-0",
                    b"+1",
                    b" 1",
                    b"",
                    b"-",
                    b"12345678901234567890",
                    b"9223372036854775808",
                ];
                Element::Bytes(tricky[rng.below(8) as usize].to_vec())
            }
            4 => {
                let len = 200 + rng.below(300) as usize;
                Element::Bytes(rng.bytes(len))
            }
            5 if rng.below(10) == 0 => {
                let len = 16384 + rng.below(100) as usize;
                Element::Bytes(rng.bytes(len))
            }
            _ => {
                let len = rng.below(80) as usize;
                Element::Bytes(rng.bytes(len))
            }
        })
        .collect()
}

#[test]
fn random_round_trips() {
    let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
    for _ in 0..3000 {
        let values = random_values(&mut rng);
        let big: Vec<usize> = (0..values.len()).filter(|_| rng.below(5) == 0).collect();
        let blob = encode(&values, &big);
        let decoded = decode(&blob).expect("own blob decodes");
        assert_eq!(texts(&decoded), texts(&values));
        for (d, v) in decoded.iter().zip(&values) {
            let int = match v {
                Element::Int(_) => true,
                Element::Bytes(b) => canonical(b).is_some(),
            };
            assert_eq!(matches!(d, Element::Int(_)), int);
        }
    }
}

#[test]
fn truncations_are_errors() {
    let mut rng = XorShift(99);
    for _ in 0..200 {
        let blob = encode(&random_values(&mut rng), &[]);
        for cut in 0..blob.len() {
            assert!(decode(&blob[..cut]).is_err());
            // Same cut with a header and end marker patched to match.
            if cut > HEADER_LEN && cut + 1 < blob.len() {
                let mut damaged = blob[..cut].to_vec();
                damaged.push(END);
                let len = damaged.len() as u32;
                damaged[..4].copy_from_slice(&len.to_le_bytes());
                assert!(decode(&damaged).is_err(), "cut {cut}");
            }
        }
    }
}

#[test]
fn corruptions_never_panic() {
    let mut rng = XorShift(0xabad_1dea);
    for _ in 0..2000 {
        let blob = encode(&random_values(&mut rng), &[]);
        for _ in 0..20 {
            let mut damaged = blob.clone();
            for _ in 0..1 + rng.below(4) {
                let at = rng.below(damaged.len() as u64) as usize;
                damaged[at] ^= 1 << rng.below(8);
            }
            let _ = decode(&damaged);
        }
    }
    for _ in 0..200_000 {
        let len = rng.below(48) as usize;
        let mut blob = rng.bytes(len);
        if len >= 11 && rng.below(2) == 0 {
            blob[..4].copy_from_slice(&(len as u32).to_le_bytes());
            blob[len - 1] = END;
        }
        let _ = decode(&blob);
    }
}

#[test]
fn forged_lengths_are_errors() {
    // 32-bit string of 4 GiB, 5-byte prevlen of 4 GiB, header total of
    // 4 GiB: none may allocate or read out of bounds.
    assert!(decode(&hex("13000000 0a000000 0100 00 80ffffffff 6869 ff")).is_err());
    assert!(decode(&hex("11000000 0a000000 0100 feffffffff f1 ff")).is_err());
    assert!(decode(&hex("ffffffff 0a000000 0000 ff")).is_err());
    assert!(decode(&hex("0b000000 ffffffff 0000 ff")).is_err());
}
