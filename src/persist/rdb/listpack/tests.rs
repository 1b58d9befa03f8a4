//! Unit tests of `listpack` (one purpose, long tests).

use super::*;
use crate::persist::rdb::testkit::{expand, hex, texts, Seg, XorShift};

// ---- helpers ---------------------------------------------------------

fn refs(elements: &[Element]) -> Vec<ElementRef<'_>> {
    elements.iter().map(ElementRef::from).collect()
}

/// Independent oracle for "Redis would store this string as an integer".
fn oracle_int(s: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(s).ok()?;
    let v: i64 = text.parse().ok()?;
    (v.to_string() == text).then_some(v)
}

/// Checks a redis-server blob both ways: it decodes to `expected` (with
/// integer-looking strings in integer form) and re-encoding that content
/// from plain strings reproduces the blob byte for byte.
fn check_fixture(blob: &[u8], expected: &[Vec<u8>]) {
    let decoded = decode(blob).expect("fixture decodes");
    assert_eq!(texts(&decoded), expected);
    for (element, text) in decoded.iter().zip(expected) {
        match oracle_int(text) {
            Some(v) => assert_eq!(element, &Element::Int(v)),
            None => assert_eq!(element, &Element::Bytes(text.clone())),
        }
    }
    let as_strings: Vec<ElementRef<'_>> = expected.iter().map(|t| ElementRef::Bytes(t)).collect();
    assert!(encode(&as_strings) == blob, "string re-encode differs");
    assert!(encode(&refs(&decoded)) == blob, "decoded re-encode differs");
}

fn rep(b: u8, n: usize) -> Vec<u8> {
    vec![b; n]
}

fn strs(items: &[&str]) -> Vec<Vec<u8>> {
    items.iter().map(|s| s.as_bytes().to_vec()).collect()
}

// ---- fixtures from redis-server 7.0.15 (DUMP, rdbcompression no) ------

/// `HSET hsmall ...` (40 pairs, hash-max-listpack-value 20000), RDB type 16.
const HASH_SMALL: &[Seg] = &[
    Seg::Hex("36030000500081660281760284696e7437057f0185696e74313306c08002836e"),
    Seg::Hex("313304d000028370313304cfff028369313604f1001003836e313604f1008003"),
    Seg::Hex("8370313604f1ff7f038369323404f200800004836e323404f200008004837032"),
    Seg::Hex("3404f2ffff7f048369333204f30000800005836e333204f30000008005837033"),
    Seg::Hex("3204f3ffffff7f058369363404f4000000800000000009836d696e04f4000000"),
    Seg::Hex("000000008009836d617804f4ffffffffffffff7f09836f766604933932323333"),
    Seg::Hex("373230333638353437373538303814846f76663205942d393232333337323033"),
    Seg::Hex("3638353437373538303915836432300494313233343536373839303132333435"),
    Seg::Hex("363738393015817a020001826d3003822d3003856c6561643006823031038470"),
    Seg::Hex("6c757305822b3103827370038220310383747370048231200385656d70747906"),
    Seg::Hex("8001846e65673105dfff02856d696e757306812d028230300383303037040101"),
    Seg::Hex("836f6e6504dfef02817802f10010038179028373363304bf"),
    Seg::Run(0x78, 63),
    Seg::Hex("408373363404e040"),
    Seg::Run(0x79, 64),
    Seg::Hex("42847331323505e07d"),
    Seg::Run(0x7a, 125),
    Seg::Hex("7f847331323605e07e"),
    Seg::Run(0x77, 126),
    Seg::Hex("0180886e65672d3530303009f178ec038362696704f4001889b7e8ffffff0983"),
    Seg::Hex("312e35048332653304ff"),
];

fn hash_small_content() -> Vec<Vec<u8>> {
    let mut v = strs(&[
        "f",
        "v",
        "int7",
        "127",
        "int13",
        "128",
        "n13",
        "-4096",
        "p13",
        "4095",
        "i16",
        "4096",
        "n16",
        "-32768",
        "p16",
        "32767",
        "i24",
        "32768",
        "n24",
        "-8388608",
        "p24",
        "8388607",
        "i32",
        "8388608",
        "n32",
        "-2147483648",
        "p32",
        "2147483647",
        "i64",
        "2147483648",
        "min",
        "-9223372036854775808",
        "max",
        "9223372036854775807",
        "ovf",
        "9223372036854775808",
        "ovf2",
        "-9223372036854775809",
        "d20",
        "12345678901234567890",
        "z",
        "0",
        "m0",
        "-0",
        "lead0",
        "01",
        "plus",
        "+1",
        "sp",
        " 1",
        "tsp",
        "1 ",
        "empty",
        "",
        "neg1",
        "-1",
        "minus",
        "-",
        "00",
        "007",
        "1",
        "one",
        "-17",
        "x",
        "4096",
        "y",
    ]);
    for (name, b, n) in [
        ("s63", b'x', 63),
        ("s64", b'y', 64),
        ("s125", b'z', 125),
        ("s126", b'w', 126),
    ] {
        v.push(name.as_bytes().to_vec());
        v.push(rep(b, n));
    }
    v.extend(strs(&[
        "neg-5000",
        "-5000",
        "big",
        "-100000000000",
        "1.5",
        "2e3",
    ]));
    v
}

/// `HSET hbig` with 4095/4096/16377/16378-byte values: the 12-bit and
/// 32-bit string forms and the 2-versus-3-byte backlen boundary.
const HASH_BIG: &[Seg] = &[
    Seg::Hex("3ca000000a00856b3430393506efff"),
    Seg::Run(0x63, 4095),
    Seg::Hex("2081856b3430393606f000100000"),
    Seg::Run(0x64, 4096),
    Seg::Hex("2085866b313633373707f0f93f0000"),
    Seg::Run(0x65, 16377),
    Seg::Hex("7ffe866b313633373807f0fa3f0000"),
    Seg::Run(0x66, 16378),
    Seg::Hex("00ffff847461696c0583656e6404ff"),
];

fn hash_big_content() -> Vec<Vec<u8>> {
    vec![
        b"k4095".to_vec(),
        rep(b'c', 4095),
        b"k4096".to_vec(),
        rep(b'd', 4096),
        b"k16377".to_vec(),
        rep(b'e', 16377),
        b"k16378".to_vec(),
        rep(b'f', 16378),
        b"tail".to_vec(),
        b"end".to_vec(),
    ]
}

/// `ZADD z 1 a 2.5 b -3 c 100000 d 0 77`, RDB type 17.
const ZSET: &[Seg] = &[
    Seg::Hex("260000000a00816302dffd024d010001816102010181620283322e3504816402"),
    Seg::Hex("f2a0860104ff"),
];

/// The single packed node of `RPUSH l a 1 -1 "" 9223372036854775807 01`
/// (RDB type 18).
const LIST_NODE: &[Seg] = &[Seg::Hex(
    "1f00000006008161020101dfff028001f4ffffffffffffff7f0982303103ff",
)];

#[test]
fn redis_hash_small() {
    check_fixture(&expand(HASH_SMALL), &hash_small_content());
}

#[test]
fn redis_hash_big() {
    let blob = expand(HASH_BIG);
    check_fixture(&blob, &hash_big_content());
}

#[test]
fn redis_zset() {
    let expected = strs(&["c", "-3", "77", "0", "a", "1", "b", "2.5", "d", "100000"]);
    check_fixture(&expand(ZSET), &expected);
}

#[test]
fn redis_list_node() {
    let expected = strs(&["a", "1", "-1", "", "9223372036854775807", "01"]);
    check_fixture(&expand(LIST_NODE), &expected);
}

/// 33000 pairs `HSET hhuge <i> v<i>`: 66000 elements, so redis-server
/// wrote the header count as 65535. The 380 KB blob is pinned by length,
/// first 16 bytes and FNV-1a-64 instead of being spelled out.
#[test]
fn redis_hash_over_65535_elements() {
    const HUGE_LEN: usize = 380905;
    const HUGE_HEAD: &str = "e9cf0500ffff00018276300301018276";
    const HUGE_FNV: u64 = 0x59e377c8b08e1621;
    let content: Vec<Vec<u8>> = (0..33000)
        .flat_map(|i| [i.to_string().into_bytes(), format!("v{i}").into_bytes()])
        .collect();
    let refs: Vec<ElementRef<'_>> = content.iter().map(|t| ElementRef::Bytes(t)).collect();
    let blob = encode(&refs);
    let fnv = blob.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    assert_eq!(blob.len(), HUGE_LEN);
    assert_eq!(blob[..16], hex(HUGE_HEAD)[..]);
    assert_eq!(fnv, HUGE_FNV);
    assert_eq!(texts(&decode(&blob).unwrap()), content);
}

/// Blobs redis-server 7.0.15 refused on RESTORE (sanitize-dump-payload
/// yes) as "Bad data format"; all must be errors here too.
#[test]
fn redis_rejected_blobs_are_errors() {
    for (name, blob) in [
        (
            "early terminator, total patched",
            "0e0000000200816102816202ffff",
        ),
        ("count", "0d0000000300816102816202ff"),
        ("backlen", "0d0000000200816103816202ff"),
        ("encoding 0xf5", "0d0000000200f56102816202ff"),
        ("string overrun", "0d0000000200856102816202ff"),
        ("eof in middle", "0f0000000200816102816202ff00ff"),
    ] {
        assert!(decode(&hex(blob)).is_err(), "{name} accepted");
    }
}

/// redis-server accepts this one (its backlen check reads backwards past
/// the 1-byte backlen into the data and happens to land on the right
/// value); Redis never writes such a backlen, so we refuse it.
#[test]
fn non_canonical_backlen_is_refused() {
    let blob = hex("0e000000020081610282620083ff");
    assert!(decode(&blob).is_err());
    // The canonical form of the same content is fine.
    assert!(decode(&hex("0e000000020081610282620003ff")).is_ok());
}

// ---- encoding choices --------------------------------------------------

#[test]
fn canonical_int_matches_oracle() {
    let samples: &[&[u8]] = &[
        b"0",
        b"-0",
        b"00",
        b"01",
        b"+1",
        b" 1",
        b"1 ",
        b"-",
        b"",
        b"1a",
        b"9223372036854775807",
        b"9223372036854775808",
        b"-9223372036854775808",
        b"-9223372036854775809",
        b"12345678901234567890",
        b"99999999999999999999",
        b"-1",
        b"-01",
        b"007",
        b"\xff1",
        b"1.0",
        b"1e3",
        b"0x10",
    ];
    for s in samples {
        assert_eq!(
            canonical_int(s),
            oracle_int(s),
            "{:?}",
            String::from_utf8_lossy(s)
        );
    }
    let mut rng = XorShift(0x1234_5678_9abc_def1);
    let alphabet = b"0123456789-+ 0";
    for _ in 0..200_000 {
        let len = rng.below(22) as usize;
        let s: Vec<u8> = (0..len)
            .map(|_| alphabet[rng.below(alphabet.len() as u64) as usize])
            .collect();
        assert_eq!(
            canonical_int(&s),
            oracle_int(&s),
            "{:?}",
            String::from_utf8_lossy(&s)
        );
    }
}

fn entry_size(element: ElementRef<'_>) -> usize {
    encode(&[element]).len() - HEADER_LEN - 1
}

#[test]
fn integer_widths_follow_redis_ranges() {
    // (value, encoding+data bytes) at every boundary.
    let cases: &[(i64, usize)] = &[
        (0, 1),
        (127, 1),
        (128, 2),
        (-1, 2),
        (-4096, 2),
        (4095, 2),
        (4096, 3),
        (-4097, 3),
        (32767, 3),
        (-32768, 3),
        (32768, 4),
        (-32769, 4),
        (8_388_607, 4),
        (-8_388_608, 4),
        (8_388_608, 5),
        (-8_388_609, 5),
        (i64::from(i32::MAX), 5),
        (i64::from(i32::MIN), 5),
        (i64::from(i32::MAX) + 1, 9),
        (i64::from(i32::MIN) - 1, 9),
        (i64::MAX, 9),
        (i64::MIN, 9),
    ];
    for &(v, len) in cases {
        assert_eq!(entry_size(ElementRef::Int(v)), len + 1, "{v}");
        let text = v.to_string();
        assert_eq!(
            entry_size(ElementRef::Bytes(text.as_bytes())),
            len + 1,
            "{v}"
        );
        assert_eq!(
            decode(&encode(&[ElementRef::Int(v)])).unwrap(),
            [Element::Int(v)]
        );
    }
}

#[test]
fn string_and_backlen_boundaries() {
    // (string length, encoding+data bytes, backlen bytes)
    let cases: &[(usize, usize, usize)] = &[
        (0, 1, 1),
        (63, 64, 1),
        (64, 66, 1),
        (125, 127, 1),
        (126, 128, 2),
        (4095, 4097, 2),
        (4096, 4101, 2),
        (16377, 16382, 2),
        (16378, 16383, 3),
        (2_097_145, 2_097_150, 3),
        (2_097_146, 2_097_151, 4),
    ];
    for &(len, encoded, backlen) in cases {
        let s = vec![b'q'; len];
        let blob = encode(&[ElementRef::Bytes(&s)]);
        assert_eq!(blob.len(), HEADER_LEN + encoded + backlen + 1, "len {len}");
        assert_eq!(decode(&blob).unwrap(), [Element::Bytes(s)]);
    }
}

#[test]
fn backlen_matches_redis_formula() {
    for l in (0..70_000usize).chain([268_435_454, 268_435_455, 1 << 31, u32::MAX as usize]) {
        let (bytes, n) = encode_backlen(l);
        let expected_n = match l {
            0..=127 => 1,
            128..=16382 => 2,
            16383..=2_097_150 => 3,
            2_097_151..=268_435_454 => 4,
            _ => 5,
        };
        assert_eq!(n, expected_n, "{l}");
        // Reading it back the way lpDecodeBacklen does gives `l`.
        let mut value = 0u64;
        for (i, b) in bytes[..n].iter().rev().enumerate() {
            value |= u64::from(b & 127) << (7 * i);
            assert_eq!(b & 128 != 0, i + 1 < n, "{l}");
        }
        assert_eq!(value, l as u64);
    }
}

#[test]
fn empty_listpack() {
    let blob = encode(&[]);
    assert_eq!(blob, hex("0700000000 00ff"));
    assert_eq!(decode(&blob).unwrap(), []);
}

#[test]
fn count_saturates_at_65535() {
    for n in [65534usize, 65535, 65536, 70000] {
        let elements: Vec<ElementRef<'_>> = (0..n).map(|i| ElementRef::Int(i as i64)).collect();
        let blob = encode(&elements);
        let count = u16::from_le_bytes([blob[4], blob[5]]);
        assert_eq!(usize::from(count), n.min(65535));
        assert_eq!(decode(&blob).unwrap().len(), n);
    }
    // An "unknown" header is also fine with few elements.
    let mut blob = encode(&[ElementRef::Bytes(b"a")]);
    blob[4] = 0xFF;
    blob[5] = 0xFF;
    assert_eq!(decode(&blob).unwrap(), [Element::Bytes(b"a".to_vec())]);
}

// ---- round trips -------------------------------------------------------

fn random_int(rng: &mut XorShift) -> i64 {
    let bits = [7, 13, 16, 24, 32, 64][rng.below(6) as usize];
    let v = rng.next() as i64 >> (64 - bits);
    match rng.below(4) {
        0 => v,
        1 => -v,
        2 => [0, -1, i64::MIN, i64::MAX, 127, 128, -4096, 4095][rng.below(8) as usize],
        _ => v.wrapping_add(rng.below(3) as i64 - 1),
    }
}

fn random_text(rng: &mut XorShift) -> Vec<u8> {
    match rng.below(10) {
        0 => random_int(rng).to_string().into_bytes(),
        1 => {
            let tricky: [&[u8]; 12] = [
                b"01",
                b"-0",
                b"+1",
                b" 1",
                b"1 ",
                b"",
                b"-",
                b"00",
                b"0.0",
                b"12345678901234567890",
                b"9223372036854775808",
                b"-9223372036854775809",
            ];
            tricky[rng.below(12) as usize].to_vec()
        }
        2 => {
            let len = 64 + rng.below(200) as usize;
            rng.bytes(len)
        }
        3 if rng.below(8) == 0 => {
            let len = 4096 + rng.below(3000) as usize;
            rng.bytes(len)
        }
        4 => format!("{:020}", rng.next()).into_bytes(),
        _ => {
            let len = rng.below(70) as usize;
            rng.bytes(len)
        }
    }
}

fn random_elements(rng: &mut XorShift) -> Vec<Element> {
    let n = rng.below(40) as usize;
    (0..n)
        .map(|_| {
            if rng.below(3) == 0 {
                Element::Int(random_int(rng))
            } else {
                Element::Bytes(random_text(rng))
            }
        })
        .collect()
}

#[test]
fn random_round_trips() {
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    for _ in 0..3000 {
        let elements = random_elements(&mut rng);
        let blob = encode(&refs(&elements));
        let decoded = decode(&blob).expect("own blob decodes");
        assert_eq!(texts(&decoded), texts(&elements));
        for (d, e) in decoded.iter().zip(&elements) {
            let expect_int = match e {
                Element::Int(_) => true,
                Element::Bytes(b) => oracle_int(b).is_some(),
            };
            assert_eq!(matches!(d, Element::Int(_)), expect_int, "{e:?}");
        }
        // Decoded content re-encodes to the very same bytes.
        assert!(encode(&refs(&decoded)) == blob);
    }
}

// ---- hostile input -----------------------------------------------------

#[test]
fn truncations_are_errors() {
    let mut rng = XorShift(77);
    for _ in 0..100 {
        let blob = encode(&refs(&random_elements(&mut rng)));
        for cut in 0..blob.len() {
            assert!(decode(&blob[..cut]).is_err(), "prefix {cut} accepted");
        }
    }
}

/// Truncating but patching the header (total bytes and terminator) so the
/// entry walker itself must notice the damage.
#[test]
fn patched_truncations_are_errors_or_consistent() {
    let mut rng = XorShift(78);
    for _ in 0..200 {
        let elements = random_elements(&mut rng);
        let blob = encode(&refs(&elements));
        for cut in HEADER_LEN..blob.len() - 1 {
            let mut damaged = blob[..cut].to_vec();
            damaged.push(TERMINATOR);
            let len = damaged.len() as u32;
            damaged[..4].copy_from_slice(&len.to_le_bytes());
            // Either rejected, or (cut at an entry boundary with a now
            // wrong count) rejected by the count check: never accepted.
            assert!(decode(&damaged).is_err(), "cut {cut} of {elements:?}");
        }
    }
}

#[test]
fn corruptions_never_panic() {
    let mut rng = XorShift(0xdead_beef);
    for _ in 0..2000 {
        let blob = encode(&refs(&random_elements(&mut rng)));
        for _ in 0..20 {
            let mut damaged = blob.clone();
            let flips = 1 + rng.below(4);
            for _ in 0..flips {
                let at = rng.below(damaged.len() as u64) as usize;
                damaged[at] ^= 1 << rng.below(8);
            }
            if let Ok(elements) = decode(&damaged) {
                // Whatever survives must be self-consistent.
                let again = encode(&refs(&elements));
                assert_eq!(decode(&again).map(|e| texts(&e)), Ok(texts(&elements)));
            }
        }
    }
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = XorShift(0x0bad_cafe);
    for _ in 0..200_000 {
        let len = rng.below(48) as usize;
        let mut blob = rng.bytes(len);
        // Half the time make the header plausible so entries get parsed.
        if len >= 7 && rng.below(2) == 0 {
            let total = len as u32;
            blob[..4].copy_from_slice(&total.to_le_bytes());
            blob[len - 1] = TERMINATOR;
        }
        let _ = decode(&blob);
    }
}

#[test]
fn forged_lengths_do_not_allocate() {
    // A 32-bit string length of 4 GiB in a 12-byte blob, and a count of
    // 65534 with no entries: both rejected without reserving memory.
    let blob = hex("0d0000000100f0ffffffff01ff");
    assert!(decode(&blob).is_err());
    assert!(decode(&hex("07000000feffff")).is_err());
}

#[test]
fn malformed_headers() {
    assert!(decode(&[]).is_err());
    assert!(decode(&hex("07000000")).is_err());
    assert!(decode(&hex("060000000000")).is_err());
    assert!(decode(&hex("0700000000 00fe")).is_err());
    assert!(decode(&hex("0e00000002008161028162 02ff")).is_err());
    assert!(decode(&hex("0800000000 00ffff")).is_err());
    for tag in 0xF5..=0xFEu8 {
        let blob = [0x09, 0, 0, 0, 1, 0, tag, 0x01, 0xFF];
        assert!(decode(&blob).is_err(), "tag {tag:#x}");
    }
}
