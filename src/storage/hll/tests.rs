//! Unit tests of `hll` (one purpose, long tests).

//! Expected bytes and counts were recorded from redis-server 7.0.15 (Debian
//! 7.0.15-1~deb12u10, which carries the CVE-2025-32023 fix): PFADD (elements
//! in the order given), then PFCOUNT so that the cached count is filled in,
//! then GET. Large values are pinned by length and MurmurHash64A (seed 0).

use super::*;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// `prefix0`, `prefix1`, ... as the fixture script sent them.
fn named(prefix: &str, n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| format!("{prefix}{i}").into_bytes())
        .collect()
}

fn add_all(v: &mut Vec<u8>, elements: &[Vec<u8>], sparse_max: usize) -> bool {
    let refs: Vec<&[u8]> = elements.iter().map(Vec::as_slice).collect();
    add(v, &refs, sparse_max).unwrap()
}

fn built(elements: &[Vec<u8>], sparse_max: usize) -> Vec<u8> {
    let mut v = new_empty();
    add_all(&mut v, elements, sparse_max);
    v
}

/// Fills the cache as PFCOUNT does and checks the count Redis replied.
fn assert_redis(mut v: Vec<u8>, dense: bool, len: usize, hash: u64, card: u64) {
    assert_eq!(count(&mut v), Ok((card, true)));
    assert_eq!(count(&mut v), Ok((card, false)));
    assert_eq!(
        (is_dense(&v), v.len(), murmur64a(&v, 0)),
        (dense, len, hash)
    );
}

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn constants_are_redis_ones() {
    assert_eq!("0.721347520444481703680".parse::<f64>(), Ok(ALPHA_INF));
    assert_eq!((Q, DENSE_LEN), (50, 12304));
}

#[test]
fn empty_values_match_redis() {
    // `PFADD k` and `PFMERGE k missing` on a missing key both store this.
    let empty = hex("48594c4c0100000000000000000000807fff");
    assert_eq!(new_empty(), empty);
    let merged = merge_into(None, &Registers::new(), false, DEFAULT_SPARSE_MAX);
    assert_eq!(merged.as_ref(), Ok(&empty));
    let mut v = new_empty();
    assert_eq!(add(&mut v, &[], DEFAULT_SPARSE_MAX), Ok(false));
    assert_eq!(count(&mut v), Ok((0, true)));
}

#[test]
fn sparse_encoding_of_few_adds() {
    let mut v = new_empty();
    assert_eq!(
        add(&mut v, &[b"a", b"b", b"c"], DEFAULT_SPARSE_MAX),
        Ok(true)
    );
    // XZERO:8436 VAL:1,1 XZERO:4274 VAL:2,1 XZERO:3068 VAL:1,1 XZERO:603, stale cache.
    assert_eq!(
        v,
        hex("48594c4c01000000000000000000008060f38050b1844bfb80425a")
    );
    assert_eq!(count(&mut v), Ok((3, true)));
    assert_eq!(
        v,
        hex("48594c4c01000000030000000000000060f38050b1844bfb80425a")
    );
    // Nothing changes, so the cache stays valid.
    assert_eq!(add(&mut v, &[b"c", b"a"], DEFAULT_SPARSE_MAX), Ok(false));
    assert_eq!(count(&mut v), Ok((3, false)));

    let mut v = built(&named("e", 10), DEFAULT_SPARSE_MAX);
    assert_eq!(count(&mut v), Ok((10, true)));
    let redis = "48594c4c010000000a00000000000000452580472e844fc9804412844a51\
                 84430d844103844eb984408880406a8441b1";
    assert_eq!(v, hex(redis));
}

#[test]
fn values_and_counts_match_redis() {
    let cases: [(usize, usize, bool, usize, u64, u64); 6] = [
        (100, 3000, false, 285, 0x8775_4322_2fca_0567, 100),
        (1000, 3000, false, 1906, 0x4c9a_9f74_ec3c_e8ed, 1008),
        (20000, 3000, true, DENSE_LEN, 0xc2b6_cbfe_1808_b713, 19901),
        // The size trigger: 1683 elements fill exactly 3000 bytes, the
        // next split would exceed them.
        (1683, 3000, false, 3000, 0x316c_1061_2d48_be94, 1683),
        (1684, 3000, true, DENSE_LEN, 0x513e_d454_827d_e5ab, 1685),
        (100, 200, true, DENSE_LEN, 0xf5be_bee4_f6f8_a61a, 100),
    ];
    for (n, max, dense, len, hash, card) in cases {
        assert_redis(built(&named("e", n), max), dense, len, hash, card);
    }
}

#[test]
fn register_above_32_promotes_to_dense() {
    // Found by brute force: its hash has 32 zero bits above the index.
    let big = 3_130_853_818u64.to_le_bytes();
    assert_eq!(pattern(&big), (0xe47, 33));
    assert_redis(
        built(&[big.to_vec()], 3000),
        true,
        DENSE_LEN,
        0xe981_923c_0267_ce23,
        1,
    );
    let mut elements = named("e", 10);
    elements.push(big.to_vec());
    assert_redis(
        built(&elements, 3000),
        true,
        DENSE_LEN,
        0x12b9_2822_df2a_e83a,
        11,
    );
}

#[test]
fn merge_matches_redis() {
    let sparse = built(&named("e", 1000), DEFAULT_SPARSE_MAX);
    let other = built(&named("f", 300), DEFAULT_SPARSE_MAX);
    let dense = built(&named("e", 20000), DEFAULT_SPARSE_MAX);
    let regs_of = |values: &[&Vec<u8>]| {
        let mut regs = Registers::new();
        values.iter().for_each(|v| regs.merge(v).unwrap());
        regs
    };

    // Multi-key PFCOUNT.
    assert_eq!(regs_of(&[&sparse, &other, &dense]).count(), 20183);
    assert_eq!(regs_of(&[&sparse, &other]).count(), 1311);

    // PFMERGE into a new key: sparse stays sparse, any dense input forces dense.
    let m1 = merge_into(
        None,
        &regs_of(&[&sparse, &other]),
        false,
        DEFAULT_SPARSE_MAX,
    );
    assert_redis(m1.unwrap(), false, 2410, 0x8390_3ab3_6312_c555, 1311);
    let m2 = merge_into(None, &regs_of(&[&other, &dense]), true, DEFAULT_SPARSE_MAX);
    assert_redis(m2.unwrap(), true, DENSE_LEN, 0x4e74_b714_fa27_2f6e, 20183);

    // PFMERGE into an existing sparse key whose cache is valid: the stale bit
    // is set over the old count, which stays in the header.
    let mut dest = built(&named("e", 10), DEFAULT_SPARSE_MAX);
    count(&mut dest).unwrap();
    let m3 = merge_into(Some(&dest), &regs_of(&[&other]), false, DEFAULT_SPARSE_MAX).unwrap();
    assert_eq!((m3.len(), murmur64a(&m3, 0)), (720, 0xcf58_30e4_0ac2_a6e0));
    assert_redis(m3, false, 720, 0x3880_18e1_5712_5212, 311);
}

#[test]
fn counts_stay_within_redis_error() {
    let rel_err = 1.04 / (REGISTERS as f64).sqrt();
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let mut v = new_empty();
    let mut dense = new_empty();
    to_dense(&mut dense).unwrap();
    let mut checkpoint = 1;
    for n in 1..=1_000_000u64 {
        let element = rng.next().to_le_bytes();
        add(&mut v, &[&element], DEFAULT_SPARSE_MAX).unwrap();
        if n <= 10_000 {
            add(&mut dense, &[&element], DEFAULT_SPARSE_MAX).unwrap();
        }
        if n == checkpoint {
            let card = count(&mut v).unwrap().0;
            if n <= 10_000 {
                assert_eq!(count(&mut dense).unwrap().0, card, "sparse/dense at {n}");
            }
            // Redis's self-test bound, with its allowance at 10.
            let max_err = if n == 10 {
                1.0
            } else {
                (rel_err * 6.0 * n as f64).ceil()
            };
            assert!((card as f64 - n as f64).abs() <= max_err, "{card} for {n}");
            checkpoint *= 10;
        }
    }
    assert!(is_dense(&v));
}

#[test]
fn invalid_values_are_rejected() {
    let stale = |body: &[u8]| [&hex("48594c4c010000000000000000000080")[..], body].concat();
    let mut dense = new_empty();
    to_dense(&mut dense).unwrap();
    for not_hll in [
        &b""[..],
        b"HYLL",
        b"HYLL\x01\0\0\0\0\0\0\0\0\0\0",
        b"HYLX\x01\0\0\0\0\0\0\0\0\0\0\0\x7f\xff",
        b"HYLL\x02\0\0\0\0\0\0\0\0\0\0\0\x7f\xff",
        &dense[..DENSE_LEN - 1],
        &[&dense[..], b"\0"].concat(),
    ] {
        assert_eq!(check(not_hll), Err(HllError::NotHll));
        assert_eq!(count(&mut not_hll.to_vec()), Err(HllError::NotHll));
        assert_eq!(
            add(&mut not_hll.to_vec(), &[b"a"], 3000),
            Err(HllError::NotHll)
        );
        assert_eq!(Registers::new().merge(not_hll), Err(HllError::NotHll));
        assert!(!is_dense(not_hll));
    }

    // Runs that cover too few or too many registers.
    for body in [
        &[][..],
        &[0x7f, 0xfe],
        &[0x7f, 0xff, 0x00],
        &[0x7f, 0xff, 0x80],
    ] {
        let v = stale(body);
        assert_eq!(check(&v), Ok(()));
        assert_eq!(count(&mut v.clone()), Err(HllError::Corrupt));
        assert_eq!(Registers::new().merge(&v), Err(HllError::Corrupt));
        let regs = Registers::new();
        assert_eq!(
            merge_into(Some(&v), &regs, true, 3000),
            Err(HllError::Corrupt)
        );
    }
    // Like Redis, adding only walks up to the register it changes, so a
    // surplus after it goes unnoticed; counting then fails.
    let mut v = stale(&[0x7f, 0xff, 0x80]);
    assert_eq!(add(&mut v, &[b"a"], 3000), Ok(true));
    assert_eq!(v, stale(&hex("71a6844e5780")));
    assert_eq!(count(&mut v), Err(HllError::Corrupt));
    // A body covering only 9000 registers: Redis keeps the edit made for e0
    // (stale bit included) and fails on e1, whose register lies beyond.
    let mut v = hex("48594c4c0100000005000000000000006327");
    let elements = named("e", 10);
    let refs: Vec<&[u8]> = elements.iter().map(Vec::as_slice).collect();
    assert_eq!(add(&mut v, &refs, 3000), Err(HllError::Corrupt));
    assert_eq!(v, hex("48594c4c0100000005000000000000804525805e00"));
    // A valid cached count is returned without reading the body.
    let mut v = hex("48594c4c010000000700000000000000");
    assert_eq!(count(&mut v), Ok((7, false)));
    assert_eq!(add(&mut v, &[b"a"], 3000), Err(HllError::Corrupt));

    // An XZERO cut short at the end reads its missing byte as 0, as Redis
    // reads the NUL after a freshly stored string.
    let mut v = stale(&[0x3f, 0x3f, 0x3f, 0x3e, 0x7f]);
    assert_eq!(count(&mut v.clone()), Ok((0, true)));
    assert_eq!(add(&mut v, &[b"a"], 3000), Ok(true));
    assert_eq!(v, stale(&hex("3f3f3f3e70a7844e")));
    assert_eq!(
        HllError::Corrupt.to_string(),
        "INVALIDOBJ Corrupted HLL object detected"
    );
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
    let seeds = [
        new_empty(),
        built(&named("e", 300), 3000),
        built(&named("e", 3000), 3000),
    ];
    for round in 0..3000 {
        let mut v = match round % 3 {
            0 => seeds[round % seeds.len()].clone(),
            1 => stale_header(rng.next() as u8 % 3),
            _ => Vec::new(),
        };
        let extra = rng.next() as usize % 48;
        v.extend((0..extra).map(|_| rng.next() as u8));
        for _ in 0..rng.next() % 8 {
            let at = rng.next() as usize % v.len().max(1);
            match rng.next() % 3 {
                0 => v.truncate(at),
                1 if at < v.len() => v[at] = rng.next() as u8,
                _ => v.insert(at.min(v.len()), rng.next() as u8),
            }
        }
        let _ = check(&v);
        let _ = count(&mut v.clone());
        let mut regs = Registers::new();
        let _ = regs.merge(&v);
        let _ = regs.merge(&seeds[2]);
        let _ = merge_into(Some(&v), &regs, false, 3000);
        let element = rng.next().to_le_bytes();
        let max = [0, 40, 3000][round % 3];
        let _ = add(&mut v, &[&element, b"a", b"b"], max);
        let _ = count(&mut v);
    }
}

fn stale_header(encoding: u8) -> Vec<u8> {
    let mut v = hex("48594c4c000000000000000000000080");
    v[ENCODING_AT] = encoding;
    if encoding == 0 {
        v.resize(DENSE_LEN, 0);
    }
    v
}
