//! Unit tests of `bits` (one purpose, long tests).

use super::*;

/// Deterministic xorshift64 so failures reproduce without a crate.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn between(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }

    /// Random bytes, often nearly all zeros or all ones so that the word
    /// skipping in BITPOS gets exercised.
    fn bytes(&mut self, max_len: u64) -> Vec<u8> {
        let len = self.below(max_len + 1) as usize;
        let style = self.below(3);
        let mut v: Vec<u8> = (0..len)
            .map(|_| match style {
                0 => self.next() as u8,
                1 => 0,
                _ => 0xFF,
            })
            .collect();
        if style != 0 && len > 0 {
            for _ in 0..self.below(3) {
                let i = self.below(len as u64) as usize;
                v[i] ^= 1 << self.below(8);
            }
        }
        v
    }
}

fn naive_bit(v: &[u8], i: u64) -> bool {
    v.get((i / 8) as usize)
        .is_some_and(|b| b >> (7 - i % 8) & 1 == 1)
}

/// Redis's range arithmetic followed by a bit-by-bit scan.
fn naive_span(len: usize, start: i64, end: i64, unit: Unit) -> Option<(u64, u64)> {
    let total = match unit {
        Unit::Byte => len as i128,
        Unit::Bit => len as i128 * 8,
    };
    let (mut s, mut e) = (start as i128, end as i128);
    if s < 0 {
        s += total;
    }
    if e < 0 {
        e += total;
    }
    s = s.max(0);
    e = e.max(0).min(total - 1);
    if s > e {
        return None;
    }
    Some(match unit {
        Unit::Byte => (s as u64 * 8, e as u64 * 8 + 7),
        Unit::Bit => (s as u64, e as u64),
    })
}

fn naive_bitcount(v: &[u8], range: Option<(i64, i64)>, unit: Unit) -> u64 {
    let (first, last) = match range {
        None if v.is_empty() => return 0,
        None => (0, v.len() as u64 * 8 - 1),
        Some((s, e)) if s < 0 && e < 0 && s > e => return 0,
        Some((s, e)) => match naive_span(v.len(), s, e, unit) {
            Some(span) => span,
            None => return 0,
        },
    };
    (first..=last).filter(|&i| naive_bit(v, i)).count() as u64
}

fn naive_bitpos(v: &[u8], bit: bool, start: Option<i64>, end: Option<i64>, unit: Unit) -> i64 {
    let Some((first, last)) = naive_span(v.len(), start.unwrap_or(0), end.unwrap_or(-1), unit)
    else {
        return -1;
    };
    match (first..=last).find(|&i| naive_bit(v, i) == bit) {
        Some(i) => i as i64,
        None if !bit && end.is_none() => last as i64 + 1,
        None => -1,
    }
}

fn naive_bitop(op: BitOp, srcs: &[&[u8]]) -> Vec<u8> {
    if op == BitOp::Not {
        return srcs[0].iter().map(|b| !b).collect();
    }
    let len = srcs.iter().map(|s| s.len()).max().unwrap_or(0);
    (0..len)
        .map(|j| {
            let at = |s: &[u8]| s.get(j).copied().unwrap_or(0);
            srcs[1..].iter().fold(at(srcs[0]), |acc, s| match op {
                BitOp::And => acc & at(s),
                BitOp::Or => acc | at(s),
                _ => acc ^ at(s),
            })
        })
        .collect()
}

/// Parses and runs one BITFIELD call the way Redis does, growing `v` first.
fn bitfield(v: &mut Vec<u8>, args: &str) -> Result<Vec<Option<i64>>, &'static str> {
    let args: Vec<&[u8]> = args.split_whitespace().map(str::as_bytes).collect();
    let ops = parse_bitfield(&args, false, DEFAULT_MAX_BYTES)?;
    let needed = bitfield_needed_len(&ops);
    if v.len() < needed {
        v.resize(needed, 0);
    }
    Ok(bitfield_run(v, &ops).0)
}

const N: Option<i64> = None;

fn some(values: &[i64]) -> Vec<Option<i64>> {
    values.iter().copied().map(Some).collect()
}

#[test]
fn parse_i64_follows_string2ll() {
    for (input, expected) in [
        ("0", Some(0)),
        ("7", Some(7)),
        ("-7", Some(-7)),
        ("9223372036854775807", Some(i64::MAX)),
        ("-9223372036854775808", Some(i64::MIN)),
        ("9223372036854775808", None),
        ("-9223372036854775809", None),
        ("99999999999999999999", None),
        ("", None),
        ("-", None),
        ("-0", None),
        ("00", None),
        ("01", None),
        ("+1", None),
        (" 1", None),
        ("1 ", None),
        ("1.5", None),
        ("1\0", None),
    ] {
        assert_eq!(parse_i64(input.as_bytes()), expected, "{input:?}");
    }
}

// Answers of redis-server 7.0.15 for `SET s foobar` then BITCOUNT s ...
#[test]
fn bitcount_matches_redis() {
    use Unit::{Bit, Byte};
    let s = b"foobar";
    assert_eq!(bitcount(s, None, Byte), 26);
    for (start, end, unit, expected) in [
        (0, 0, Byte, 4),
        (1, 1, Byte, 6),
        (1, -2, Byte, 18),
        (-2, -1, Byte, 7),
        (-1, -2, Byte, 0),
        (-100, -200, Byte, 0),
        (-200, -100, Byte, 4),
        (-100, 100, Byte, 26),
        (5, 100, Byte, 4),
        (6, 100, Byte, 0),
        (3, 2, Byte, 0),
        (0, -100, Byte, 4),
        (-1, -100, Byte, 0),
        (100, -100, Byte, 0),
        (5, 30, Bit, 17),
        (5, 5, Bit, 1),
        (1, 6, Bit, 4),
        (-1, -1, Bit, 0),
        (-10, -3, Bit, 4),
        (-3, -10, Bit, 0),
        (0, 47, Bit, 26),
        (0, 1000, Bit, 26),
        (47, 47, Bit, 0),
        (9, 14, Bit, 5),
        (0, -1, Byte, 26),
        (0, i64::MIN, Byte, 4),
        (i64::MIN, i64::MAX, Bit, 26),
    ] {
        assert_eq!(
            bitcount(s, Some((start, end)), unit),
            expected,
            "BITCOUNT s {start} {end} {unit:?}"
        );
    }
    assert_eq!(bitcount(b"", None, Byte), 0);
    assert_eq!(bitcount(b"", Some((0, -1)), Byte), 0);
    assert_eq!(bitcount(b"", Some((0, 0)), Bit), 0);
    assert_eq!(bitcount(b"", Some((-1, -1)), Byte), 0);
}

// Answers of redis-server 7.0.15; `end` None means it was not given.
#[test]
fn bitpos_matches_redis() {
    use Unit::{Bit, Byte};
    let ones = b"\xff\xff\xff";
    let zeros = b"\x00\x00\x00";
    let mixed = b"\x00\xff\xf0";
    let mut long = vec![0xFF; 17];
    long.push(0xFE);
    // (value, bit, start, end, unit, answer)
    type Case<'a> = (&'a [u8], bool, Option<i64>, Option<i64>, Unit, i64);
    let cases: &[Case] = &[
        (ones, false, None, None, Byte, 24),
        (ones, false, Some(0), None, Byte, 24),
        (ones, false, Some(1), None, Byte, 24),
        (ones, false, Some(0), Some(-1), Byte, -1),
        (ones, false, Some(5), None, Byte, -1),
        (ones, false, Some(-1), None, Byte, 24),
        (ones, false, Some(-100), None, Byte, 24),
        (ones, true, None, None, Byte, 0),
        (ones, true, Some(2), None, Byte, 16),
        (ones, true, Some(3), None, Byte, -1),
        (ones, false, Some(0), Some(100), Byte, -1),
        (ones, false, Some(0), Some(23), Bit, -1),
        (ones, false, Some(3), Some(5), Bit, -1),
        (zeros, true, None, None, Byte, -1),
        (zeros, false, None, None, Byte, 0),
        (zeros, false, Some(1), None, Byte, 8),
        (zeros, true, Some(0), Some(-1), Bit, -1),
        (zeros, false, Some(-3), Some(-1), Bit, 21),
        (zeros, false, Some(-100), Some(-1), Bit, 0),
        (mixed, true, None, None, Byte, 8),
        (mixed, false, Some(1), None, Byte, 20),
        (mixed, false, Some(1), Some(2), Byte, 20),
        (mixed, false, Some(1), Some(1), Byte, -1),
        (mixed, true, Some(2), Some(-1), Byte, 16),
        (mixed, false, Some(7), Some(15), Bit, 7),
        (mixed, false, Some(8), Some(15), Bit, -1),
        (mixed, false, Some(8), Some(19), Bit, -1),
        (mixed, false, Some(8), Some(20), Bit, 20),
        (mixed, false, Some(9), Some(19), Bit, -1),
        (mixed, true, Some(0), Some(7), Bit, -1),
        (mixed, true, Some(7), Some(7), Bit, -1),
        (mixed, true, Some(3), Some(9), Bit, 8),
        (mixed, true, Some(17), Some(16), Bit, -1),
        (mixed, false, Some(-5), Some(-1), Bit, 20),
        (mixed, false, Some(-4), Some(-1), Bit, 20),
        (mixed, true, Some(-4), Some(-1), Bit, -1),
        (mixed, true, Some(2), Some(1), Byte, -1),
        (mixed, true, Some(-1), Some(-2), Byte, -1),
        // No early reversed-range check in BITPOS: both clamp to byte 0.
        (mixed, false, Some(-100), Some(-200), Byte, 0),
        (mixed, true, Some(-100), Some(-200), Byte, -1),
        (mixed, true, Some(-2), Some(-100), Byte, -1),
        (mixed, false, Some(i64::MAX), None, Byte, -1),
        (mixed, false, Some(i64::MIN), Some(i64::MAX), Bit, 0),
        (mixed, true, Some(i64::MIN), None, Byte, 8),
        (b"", false, None, None, Byte, -1),
        (b"", true, None, None, Byte, -1),
        (b"", false, Some(0), None, Byte, -1),
        (b"", false, Some(0), Some(-1), Byte, -1),
        (&long, false, None, None, Byte, 143),
        (&long, false, Some(0), Some(-1), Bit, 143),
        (&long, false, Some(0), Some(142), Bit, -1),
        (&long, false, Some(0), Some(143), Bit, 143),
    ];
    for &(v, bit, start, end, unit, expected) in cases {
        assert_eq!(
            bitpos(v, bit, start, end, unit),
            expected,
            "BITPOS {v:x?} {bit} {start:?} {end:?} {unit:?}"
        );
    }
}

#[test]
fn bitop_matches_redis() {
    let a: &[u8] = b"\xff\x0f\xaa";
    let b: &[u8] = b"\x0f";
    assert_eq!(bitop(BitOp::And, &[a, b]), b"\x0f\x00\x00");
    assert_eq!(bitop(BitOp::Or, &[a, b]), b"\xff\x0f\xaa");
    assert_eq!(bitop(BitOp::Xor, &[a, b]), b"\xf0\x0f\xaa");
    assert_eq!(bitop(BitOp::Not, &[a]), b"\x00\xf0\x55");
    assert_eq!(bitop(BitOp::And, &[a, b""]), b"\x00\x00\x00");
    assert_eq!(bitop(BitOp::Or, &[a, b""]), a);
    assert_eq!(bitop(BitOp::And, &[b"", b""]), b"");
    assert_eq!(bitop(BitOp::Not, &[b""]), b"");
    assert_eq!(bitop(BitOp::Or, &[]), b"");
    assert_eq!(BitOp::parse(b"aNd"), Ok(BitOp::And));
    assert_eq!(BitOp::parse(b"and\0x"), Ok(BitOp::And));
    assert_eq!(BitOp::parse(b"FOO"), Err("ERR syntax error"));
    assert_eq!(Unit::parse(b"BiT"), Ok(Unit::Bit));
    assert_eq!(Unit::parse(b"byte"), Ok(Unit::Byte));
    assert_eq!(Unit::parse(b"bit\0x"), Ok(Unit::Bit));
    assert_eq!(Unit::parse(b"bits"), Err("ERR syntax error"));
}

#[test]
fn setbit_and_getbit() {
    let mut v = vec![0u8; 1];
    assert_eq!(setbit(&mut v, 7, true), 0);
    assert_eq!(v, b"\x01");
    assert_eq!(setbit(&mut v, 7, true), 1);
    assert_eq!(getbit(&v, 7), 1);
    assert_eq!(getbit(&v, 6), 0);
    assert_eq!(getbit(&v, 100), 0);
    assert_eq!(getbit(&v, u64::MAX), 0);
    assert_eq!(setbit(&mut v, 7, false), 1);
    assert_eq!(setbit(&mut v, 8, true), 0, "past the end is ignored");
    assert_eq!(v, b"\x00");

    const OFFSET: &str = "ERR bit offset is not an integer or out of range";
    const BIT: &str = "ERR bit is not an integer or out of range";
    let max = DEFAULT_MAX_BYTES;
    assert_eq!(parse_bit_offset(b"7", max), Ok(7));
    assert_eq!(parse_bit_offset(b"4294967295", max), Ok(4294967295));
    for bad in [
        "-1",
        "4294967296",
        "01",
        "+1",
        "#1",
        " 1",
        "-0",
        "1\0",
        "99999999999999999999",
    ] {
        assert_eq!(
            parse_bit_offset(bad.as_bytes(), max),
            Err(OFFSET),
            "{bad:?}"
        );
    }
    // proto-max-bulk-len 1mb, as checked with CONFIG SET.
    assert_eq!(parse_bit_offset(b"8388607", 1 << 20), Ok(8388607));
    assert_eq!(parse_bit_offset(b"8388608", 1 << 20), Err(OFFSET));
    assert_eq!(parse_bit_value(b"0"), Ok(false));
    assert_eq!(parse_bit_value(b"1"), Ok(true));
    for bad in ["2", "-1", "01", "+1", " 1", "a", "-0", ""] {
        assert_eq!(parse_bit_value(bad.as_bytes()), Err(BIT), "{bad:?}");
    }
}

// One key, successive BITFIELD calls, answers of redis-server 7.0.15.
#[test]
fn bitfield_overflow_matches_redis() {
    const MAX: i64 = i64::MAX;
    const MIN: i64 = i64::MIN;
    let calls: &[(&str, Vec<Option<i64>>)] = &[
        (
            "SET i8 0 100 INCRBY i8 0 100 GET i8 0",
            some(&[0, -56, -56]),
        ),
        (
            "OVERFLOW SAT INCRBY i8 0 100 INCRBY i8 0 -300 GET i8 0",
            some(&[44, -128, -128]),
        ),
        (
            "OVERFLOW FAIL INCRBY i8 0 -1 INCRBY i8 0 1 GET i8 0",
            vec![N, Some(-127), Some(-127)],
        ),
        (
            "OVERFLOW WRAP SET i8 0 200 GET i8 0 GET u8 0",
            some(&[-127, -56, 200]),
        ),
        ("OVERFLOW SAT SET i8 0 200 GET i8 0", some(&[-56, 127])),
        ("OVERFLOW SAT SET i8 0 -200 GET i8 0", some(&[127, -128])),
        ("OVERFLOW FAIL SET i8 0 200 GET i8 0", vec![N, Some(-128)]),
        ("OVERFLOW SAT SET u8 0 -1 GET u8 0", some(&[128, 255])),
        ("OVERFLOW WRAP SET u8 0 -1 GET u8 0", some(&[255, 255])),
        ("OVERFLOW FAIL SET u8 0 -1 GET u8 0", vec![N, Some(255)]),
        ("OVERFLOW SAT SET u8 0 256 GET u8 0", some(&[255, 255])),
        ("OVERFLOW WRAP SET u8 0 257 GET u8 0", some(&[255, 1])),
        (
            "SET u8 0 250 OVERFLOW WRAP INCRBY u8 0 10 OVERFLOW SAT INCRBY u8 0 300 \
             INCRBY u8 0 -1000 OVERFLOW FAIL INCRBY u8 0 -1 INCRBY u8 0 255 INCRBY u8 0 256",
            vec![Some(1), Some(4), Some(255), Some(0), N, Some(255), N],
        ),
        (
            "SET i64 0 9223372036854775807 INCRBY i64 0 1 OVERFLOW SAT \
             INCRBY i64 0 9223372036854775807 INCRBY i64 0 -9223372036854775808 \
             INCRBY i64 0 -1 OVERFLOW FAIL INCRBY i64 0 -9223372036854775808 \
             INCRBY i64 0 9223372036854775807",
            vec![
                Some(-72057594037927936),
                Some(MIN),
                Some(-1),
                Some(MIN),
                Some(MIN),
                N,
                Some(-1),
            ],
        ),
        (
            "OVERFLOW WRAP SET i64 0 -9223372036854775808 INCRBY i64 0 -1 \
             INCRBY i64 0 -9223372036854775808 GET i64 0",
            some(&[-1, MAX, -1, -1]),
        ),
        (
            "SET u63 0 9223372036854775807 INCRBY u63 0 1 OVERFLOW SAT INCRBY u63 0 -5 \
             INCRBY u63 0 9223372036854775807 OVERFLOW FAIL INCRBY u63 0 1 SET u63 0 -1 \
             OVERFLOW SAT SET u63 0 -1 OVERFLOW WRAP SET u63 0 -2 GET u63 0",
            vec![
                Some(MAX),
                Some(0),
                Some(0),
                Some(MAX),
                N,
                N,
                Some(MAX),
                Some(MAX),
                Some(MAX - 1),
            ],
        ),
        (
            "OVERFLOW WRAP INCRBY u63 0 -9223372036854775808 GET u63 0",
            some(&[MAX - 1, MAX - 1]),
        ),
        (
            "SET u63 0 0 OVERFLOW SAT INCRBY u63 0 -9223372036854775808",
            some(&[MAX - 1, 0]),
        ),
        (
            "SET u1 3 1 GET u1 3 INCRBY u1 3 1 OVERFLOW SAT INCRBY u1 3 5 \
             INCRBY i1 3 -3 INCRBY i1 3 3 GET i1 3",
            some(&[0, 1, 0, 1, -1, 0, 0]),
        ),
        (
            "SET i5 7 23 GET u5 7 GET i5 7 GET u16 0",
            some(&[0, 23, -9, 368]),
        ),
    ];
    let mut v = Vec::new();
    for (args, expected) in calls {
        assert_eq!(
            bitfield(&mut v, args).as_ref(),
            Ok(expected),
            "BITFIELD {args}"
        );
    }
}

// SAT on a hugely negative signed SET stores the maximum (see `settle`);
// successive calls on one fresh key, answers of redis-server 7.0.15.
#[test]
fn bitfield_sat_quirk_matches_redis() {
    let calls: &[(&str, Vec<Option<i64>>)] = &[
        (
            "OVERFLOW SAT SET i8 0 -9223372036854775680 GET i8 0",
            some(&[0, -128]),
        ),
        (
            "OVERFLOW SAT SET i8 0 -9223372036854775681 GET i8 0",
            some(&[-128, 127]),
        ),
        (
            "OVERFLOW SAT SET i8 0 -9223372036854775808 GET i8 0",
            some(&[127, 127]),
        ),
        (
            "OVERFLOW FAIL SET i8 0 -9223372036854775808 GET i8 0",
            vec![N, Some(127)],
        ),
        (
            "OVERFLOW WRAP SET i8 0 -9223372036854775807 GET i8 0",
            some(&[127, 1]),
        ),
        (
            "OVERFLOW SAT SET i63 0 -9223372036854775808 GET i63 0",
            some(&[36028797018963968, 4611686018427387903]),
        ),
        (
            "OVERFLOW SAT SET i63 0 -4611686018427387905 GET i63 0",
            some(&[4611686018427387903, 4611686018427387903]),
        ),
        (
            "OVERFLOW SAT SET i63 0 -4611686018427387904 GET i63 0",
            some(&[4611686018427387903, -4611686018427387904]),
        ),
        (
            "OVERFLOW SAT SET i1 0 -9223372036854775807 GET i1 0",
            some(&[-1, -1]),
        ),
        (
            "OVERFLOW SAT SET i1 0 -9223372036854775808 GET i1 0",
            some(&[-1, 0]),
        ),
        (
            "OVERFLOW SAT SET u8 0 -9223372036854775808 GET u8 0",
            some(&[0, 255]),
        ),
    ];
    let mut v = Vec::new();
    for (args, expected) in calls {
        assert_eq!(
            bitfield(&mut v, args).as_ref(),
            Ok(expected),
            "BITFIELD {args}"
        );
    }
}

#[test]
fn bitfield_offsets_match_redis() {
    let mut v = Vec::new();
    assert_eq!(
        bitfield(
            &mut v,
            "SET u8 #1 255 SET u8 #0 1 GET u16 #0 GET u4 #3 GET i4 #2"
        ),
        Ok(some(&[0, 0, 511, 15, -1]))
    );
    assert_eq!(v, b"\x01\xff");
    assert_eq!(
        bitfield(&mut v, "GET u8 #100 GET i64 1000000 GET u63 7"),
        Ok(some(&[0, 0, 9205357638345293824]))
    );
    assert_eq!(v.len(), 2, "GET never grows the string");
    // `#N` times the width wraps like Redis's unchecked C multiplication.
    assert_eq!(
        bitfield(&mut v, "GET i8 #2305843009213693953"),
        Ok(some(&[-1]))
    );
    assert_eq!(
        bitfield(&mut v, "GET i64 #2305843009213693952"),
        Ok(some(&[143833713099145216]))
    );
    assert_eq!(bitfield(&mut v, "GET i8 4294967295"), Ok(some(&[0])));
    assert_eq!(bitfield(&mut v, "GET i8 #536870911"), Ok(some(&[0])));

    // A write refused by FAIL still leaves the key grown, as Redis does.
    let mut fresh = Vec::new();
    assert_eq!(
        bitfield(&mut fresh, "OVERFLOW FAIL INCRBY u2 100 10"),
        Ok(vec![N])
    );
    assert_eq!(fresh.len(), 13);
    let mut fresh = Vec::new();
    assert_eq!(
        bitfield(&mut fresh, "OVERFLOW FAIL INCRBY u2 100 1 INCRBY u2 100 10"),
        Ok(vec![Some(1), N])
    );

    // proto-max-bulk-len 1mb: an i64 may start on the last allowed bit.
    let ops = parse_bitfield(&[b"SET", b"i64", b"8388607", b"-1"], false, 1 << 20).unwrap();
    assert_eq!(bitfield_needed_len(&ops), 1048584);
    assert!(parse_bitfield(&[b"GET", b"i64", b"8388608"], false, 1 << 20).is_err());
}

#[test]
fn bitfield_errors_match_redis() {
    const TYPE: &str = "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.";
    const OFFSET: &str = "ERR bit offset is not an integer or out of range";
    const SYNTAX: &str = "ERR syntax error";
    const VALUE: &str = "ERR value is not an integer or out of range";
    const OVERFLOW: &str = "ERR Invalid OVERFLOW type specified";
    const RO: &str = "ERR BITFIELD_RO only supports the GET subcommand";
    let parse = |args: &[&str], read_only| {
        let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        parse_bitfield(&args, read_only, DEFAULT_MAX_BYTES).map(|ops| ops.len())
    };
    for (args, expected) in [
        (&["GET", "u64", "0"][..], Err(TYPE)),
        (&["GET", "i65", "0"], Err(TYPE)),
        (&["GET", "i0", "0"], Err(TYPE)),
        (&["GET", "I8", "0"], Err(TYPE)),
        (&["GET", "U8", "0"], Err(TYPE)),
        (&["GET", "i08", "0"], Err(TYPE)),
        (&["GET", "i+8", "0"], Err(TYPE)),
        (&["GET", "i", "0"], Err(TYPE)),
        (&["GET", "", "0"], Err(TYPE)),
        (&["GET", "\0", "0"], Err(TYPE)),
        (&["GET", "i8", "-1"], Err(OFFSET)),
        (&["GET", "i8", "#-1"], Err(OFFSET)),
        (&["GET", "i8", "##1"], Err(OFFSET)),
        (&["GET", "i8", "#"], Err(OFFSET)),
        (&["GET", "i8", "4294967296"], Err(OFFSET)),
        (&["GET", "i8", "#536870912"], Err(OFFSET)),
        (&["GET", "i8", "#1152921504606846977"], Err(OFFSET)),
        (&["GET", "i8", "8\0"], Err(OFFSET)),
        (&["GET", "i8"], Err(SYNTAX)),
        (&["SET", "i8", "0"], Err(SYNTAX)),
        (&["SET", "i8", "0", "x"], Err(VALUE)),
        (&["SET", "i8", "0", "1.5"], Err(VALUE)),
        (&["INCRBY", "i8", "0", "99999999999999999999"], Err(VALUE)),
        (&["OVERFLOW"], Err(SYNTAX)),
        (&["OVERFLOW", "foo", "GET", "i8", "0"], Err(OVERFLOW)),
        (
            &[
                "overflow", "sat", "get", "i8", "0", "incrby", "i8", "0", "1000",
            ],
            Ok(2),
        ),
        (&["FOO"], Err(SYNTAX)),
        (&[], Ok(0)),
        (
            &["GET", "i8", "0", "GET", "x", "0", "SET", "i8", "0", "zz"],
            Err(TYPE),
        ),
        (&["SET", "i8", "0", "zz", "GET", "x", "0"], Err(VALUE)),
        // strcasecmp and strlen stop at NUL.
        (&["GET\0zz", "i8", "0"], Ok(1)),
        (&["GET", "i8\0zz", "0"], Ok(1)),
        (&["OVERFLOW", "sat\0q", "INCRBY", "i8", "0", "1000"], Ok(1)),
    ] {
        assert_eq!(parse(args, false), expected, "BITFIELD {args:?}");
    }
    for (args, expected) in [
        (&["GET", "i8", "0", "GET", "u4", "4"][..], Ok(2)),
        (&["GET", "i8", "0", "SET", "i8", "0", "1"], Err(RO)),
        (&["SET", "i8", "0", "1", "GET", "x", "0"], Err(TYPE)),
        (&["OVERFLOW", "SAT", "GET", "i8", "0"], Ok(1)),
        (&["INCRBY", "i8", "0", "1"], Err(RO)),
    ] {
        assert_eq!(parse(args, true), expected, "BITFIELD_RO {args:?}");
    }
}

#[test]
fn bitfield_reports_changes_like_redis() {
    let ops = |args: &str| {
        let args: Vec<&[u8]> = args.split_whitespace().map(str::as_bytes).collect();
        parse_bitfield(&args, false, DEFAULT_MAX_BYTES).unwrap()
    };
    let mut v = vec![5];
    assert_eq!(
        bitfield_run(&mut v, &ops("SET u8 0 5")),
        (some(&[5]), false)
    );
    assert_eq!(
        bitfield_run(&mut v, &ops("SET u8 0 5 SET u8 0 6")),
        (some(&[5, 5]), true)
    );
    assert_eq!(
        bitfield_run(&mut v, &ops("OVERFLOW FAIL INCRBY u8 0 1000")),
        (vec![N], false)
    );
    assert_eq!(bitfield_run(&mut v, &ops("GET u8 0")), (some(&[6]), false));
    assert_eq!(bitfield_needed_len(&ops("GET u8 1000")), 0);
    assert_eq!(
        bitfield_needed_len(&ops("SET u8 0 1 INCRBY i5 20 1 GET u8 999")),
        4
    );
}

#[test]
fn arbitrary_arguments_do_not_panic() {
    let vocabulary: [&[u8]; 16] = [
        b"GET",
        b"set",
        b"INCRBY",
        b"OVERFLOW",
        b"sat",
        b"fail",
        b"i64",
        b"u63",
        b"i1",
        b"#",
        b"#9223372036854775807",
        b"-9223372036854775808",
        b"4294967295",
        b"0",
        b"",
        b"\0",
    ];
    let mut rng = Rng(99);
    for _ in 0..20_000 {
        let args: Vec<Vec<u8>> = (0..rng.below(9))
            .map(|_| match rng.below(3) {
                0 => (0..rng.below(4)).map(|_| rng.next() as u8).collect(),
                _ => vocabulary[rng.below(16) as usize].to_vec(),
            })
            .collect();
        let args: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
        for arg in &args {
            let _ = (parse_bit_offset(arg, rng.next()), parse_bit_value(arg));
            let _ = (Unit::parse(arg), BitOp::parse(arg), FieldType::parse(arg));
        }
        if let Ok(ops) = parse_bitfield(&args, rng.below(2) == 0, rng.next()) {
            let mut v = rng.bytes(16);
            if bitfield_needed_len(&ops) <= 1 << 16 {
                v.resize(v.len().max(bitfield_needed_len(&ops)), 0);
            }
            bitfield_run(&mut v, &ops);
        }
    }
}

#[test]
fn hand_built_field_types_do_not_panic() {
    let mut v = vec![0xAB; 4];
    for bits in [0, 64, 65, 255] {
        for signed in [false, true] {
            let ty = FieldType { signed, bits };
            let ops = [
                FieldOp::Get {
                    ty,
                    offset: u64::MAX,
                },
                FieldOp::Set {
                    ty,
                    offset: 30,
                    value: -1,
                    overflow: Overflow::Sat,
                },
                FieldOp::IncrBy {
                    ty,
                    offset: u64::MAX,
                    incr: i64::MIN,
                    overflow: Overflow::Wrap,
                },
            ];
            bitfield_run(&mut v, &ops);
            assert!(bitfield_needed_len(&ops) > 0);
        }
    }
}

#[test]
fn word_engines_agree_with_bit_by_bit_reference() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for _ in 0..20_000 {
        let v = rng.bytes(70);
        let bits = v.len() as i64 * 8;
        let unit = if rng.below(2) == 0 {
            Unit::Byte
        } else {
            Unit::Bit
        };
        let index = |rng: &mut Rng| match rng.below(12) {
            0 => i64::MIN,
            1 => i64::MAX,
            _ => rng.between(-bits - 10, bits + 10),
        };
        let (start, end) = (index(&mut rng), index(&mut rng));
        let range = (rng.below(5) != 0).then_some((start, end));
        assert_eq!(
            bitcount(&v, range, unit),
            naive_bitcount(&v, range, unit),
            "BITCOUNT {v:x?} {range:?} {unit:?}"
        );
        let bit = rng.below(2) == 0;
        let (start, end) = match rng.below(4) {
            0 => (None, None),
            1 => (Some(start), None),
            _ => (Some(start), Some(end)),
        };
        assert_eq!(
            bitpos(&v, bit, start, end, unit),
            naive_bitpos(&v, bit, start, end, unit),
            "BITPOS {v:x?} {bit} {start:?} {end:?} {unit:?}"
        );
    }
    for _ in 0..5_000 {
        let srcs: Vec<Vec<u8>> = (0..1 + rng.below(4)).map(|_| rng.bytes(70)).collect();
        let srcs: Vec<&[u8]> = srcs.iter().map(Vec::as_slice).collect();
        for op in [BitOp::And, BitOp::Or, BitOp::Xor] {
            assert_eq!(bitop(op, &srcs), naive_bitop(op, &srcs), "{op:?} {srcs:x?}");
        }
        assert_eq!(
            bitop(BitOp::Not, &srcs[..1]),
            naive_bitop(BitOp::Not, &srcs[..1])
        );
    }
}

#[test]
fn bitop_handles_results_longer_than_a_block() {
    let mut rng = Rng(7);
    let long: Vec<u8> = (0..40_000).map(|_| rng.next() as u8).collect();
    let short: Vec<u8> = (0..20_001).map(|_| rng.next() as u8).collect();
    let srcs: [&[u8]; 3] = [&short, &long, &short[..5]];
    for op in [BitOp::And, BitOp::Or, BitOp::Xor] {
        assert_eq!(bitop(op, &srcs), naive_bitop(op, &srcs), "{op:?}");
    }
}

#[test]
fn fields_agree_with_bit_by_bit_reference() {
    let mut rng = Rng(0xDEAD_BEEF);
    for _ in 0..20_000 {
        let mut v = rng.bytes(20);
        let ty = FieldType {
            signed: rng.below(2) == 0,
            bits: 1 + rng.below(64) as u8,
        };
        let offset = rng.below(v.len() as u64 * 8 + 80);
        let expected_raw = (0..u64::from(ty.bits)).fold(0u64, |acc, k| {
            acc << 1 | u64::from(naive_bit(&v, offset + k))
        });
        assert_eq!(read_field(&v, offset, ty), expected_raw);

        let before = v.clone();
        let raw = rng.next();
        write_field(&mut v, offset, ty, raw);
        for i in 0..v.len() as u64 * 8 {
            let expected = if (offset..offset + u64::from(ty.bits)).contains(&i) {
                raw >> (u64::from(ty.bits) - 1 - (i - offset)) & 1 == 1
            } else {
                naive_bit(&before, i)
            };
            assert_eq!(naive_bit(&v, i), expected, "bit {i} of {ty:?} at {offset}");
        }
    }
}
