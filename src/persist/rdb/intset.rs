//! Intset codec: the sorted integer array Redis stores for RDB type 11
//! (SET_INTSET), a set whose members are all 64-bit integers.
//!
//! This module owns the byte layout of one intset blob and nothing else. It
//! never reads a file or a socket and never knows keys, RDB opcodes or LZF:
//! the RDB reader hands it the blob and gets the members back, the writer
//! hands it members and gets the blob. Decoding treats every blob as hostile:
//! any inconsistency is an `Err` with a short reason, never a panic, and
//! nothing is allocated beyond what the blob's own bytes can justify.
//!
//! Layout: `<width u32 LE: 2, 4 or 8> <count u32 LE> <member>*`, members
//! being `width` bytes each, little-endian two's complement, strictly
//! ascending.

const HEADER_LEN: usize = 8;

/// Decodes an intset, validating it the way Redis's
/// `intsetValidateIntegrity` does in deep mode: known width, a size that
/// matches the count exactly, at least one member, strictly ascending.
///
/// The width need not be the narrowest that fits: Redis never narrows an
/// intset after removing its widest members, so such blobs are legitimate.
pub fn decode(blob: &[u8]) -> Result<Vec<i64>, String> {
    let Some((header, members)) = blob.split_first_chunk::<HEADER_LEN>() else {
        return Err("intset: shorter than its header".into());
    };
    let [w0, w1, w2, w3, c0, c1, c2, c3] = *header;
    let width = match u32::from_le_bytes([w0, w1, w2, w3]) {
        width @ (2 | 4 | 8) => width as usize,
        other => return Err(format!("intset: invalid member width {other}")),
    };
    let count = u32::from_le_bytes([c0, c1, c2, c3]);
    // Compare in u64 so a forged count cannot overflow the multiplication.
    if u64::from(count) * width as u64 != members.len() as u64 {
        return Err(format!(
            "intset: {count} members of {width} bytes do not fill {} bytes",
            members.len()
        ));
    }
    if count == 0 {
        // Redis deletes a set when its last member goes, so an empty intset
        // can only come from corruption; Redis refuses it too.
        return Err("intset: empty".into());
    }

    let mut out = Vec::with_capacity(members.len() / width);
    for chunk in members.chunks_exact(width) {
        let value = read_member(chunk);
        if out.last().is_some_and(|&previous| value <= previous) {
            return Err("intset: members not strictly ascending".into());
        }
        out.push(value);
    }
    Ok(out)
}

fn read_member(chunk: &[u8]) -> i64 {
    let raw = chunk
        .iter()
        .rev()
        .fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
    // Sign-extend from the member width (at most 8 bytes).
    let shift = 64 - 8 * chunk.len() as u32;
    ((raw << shift) as i64) >> shift
}

/// Encodes members (which must be sorted ascending and unique, as the name
/// says: this is not checked, and anything else yields a blob `decode` and
/// Redis refuse) with the narrowest width that holds all of them. That is
/// what Redis builds for a set whose members were only ever added; a Redis
/// intset that once held wider members keeps its wider width.
///
/// An intset holds at most `u32::MAX` members; beyond that the result is an
/// empty `Vec`, which is never a valid intset.
///
/// An empty slice yields the empty intset Redis starts from (width 2, count
/// 0), which `decode` refuses just as Redis's loader does: don't save empty
/// sets.
pub fn encode(sorted_unique: &[i64]) -> Vec<u8> {
    let Ok(count) = u32::try_from(sorted_unique.len()) else {
        return Vec::new();
    };
    let width = sorted_unique
        .iter()
        .map(|&v| width_of(v))
        .max()
        .unwrap_or(2);
    let mut out = Vec::with_capacity(HEADER_LEN + sorted_unique.len() * width);
    // `width` is 2, 4 or 8.
    out.extend_from_slice(&(width as u32).to_le_bytes());
    out.extend_from_slice(&count.to_le_bytes());
    for v in sorted_unique {
        out.extend_from_slice(&v.to_le_bytes()[..width]);
    }
    out
}

/// Redis's `_intsetValueEncoding`.
fn width_of(v: i64) -> usize {
    if i16::try_from(v).is_ok() {
        2
    } else if i32::try_from(v).is_ok() {
        4
    } else {
        8
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::persist::rdb::testkit::{expand, hex, Seg, XorShift};

    // ---- fixtures from redis-server 7.0.15 (SADD, then DUMP) ----------------

    /// `SADD is16 -5 1 2 3 100 32767 -32768`
    const IS16: &[Seg] = &[Seg::Hex("02000000070000000080fbff0100020003006400ff7f")];
    /// `SADD is32 -70000 1 70000 2147483647 -2147483648 -32769 32768`
    const IS32: &[Seg] = &[
        Seg::Hex("04000000070000000000008090eefeffff7fffff010000000080000070110100"),
        Seg::Hex("ffffff7f"),
    ];
    /// `SADD is64 -9223372036854775808 -1 0 5000000000 9223372036854775807
    /// 2147483648 -2147483649`
    const IS64: &[Seg] = &[
        Seg::Hex("08000000070000000000000000000080ffffff7fffffffffffffffffffffffff"),
        Seg::Hex("0000000000000000000000800000000000f2052a01000000ffffffffffffff7f"),
    ];
    /// `SADD is_wide 1 2 5000000000` then `SREM is_wide 5000000000`: Redis
    /// keeps the 8-byte width.
    const IS_WIDE: &[Seg] = &[Seg::Hex("080000000200000001000000000000000200000000000000")];

    #[test]
    fn redis_fixtures_round_trip_exactly() {
        let cases: [(&[Seg], &[i64]); 3] = [
            (IS16, &[-32768, -5, 1, 2, 3, 100, 32767]),
            (
                IS32,
                &[-2147483648, -70000, -32769, 1, 32768, 70000, 2147483647],
            ),
            (
                IS64,
                &[
                    i64::MIN,
                    -2147483649,
                    -1,
                    0,
                    2147483648,
                    5000000000,
                    i64::MAX,
                ],
            ),
        ];
        for (segs, members) in cases {
            let blob = expand(segs);
            assert_eq!(decode(&blob).unwrap(), members);
            assert_eq!(encode(members), blob);
        }
    }

    #[test]
    fn redis_wide_intset_decodes_but_we_encode_narrow() {
        let blob = expand(IS_WIDE);
        assert_eq!(decode(&blob).unwrap(), [1, 2]);
        let ours = encode(&[1, 2]);
        assert_eq!(ours, hex("02000000 02000000 0100 0200"));
        assert_eq!(decode(&ours).unwrap(), [1, 2]);
    }

    /// Blobs redis-server 7.0.15 refused on RESTORE (sanitize-dump-payload
    /// yes) as "Bad data format".
    #[test]
    fn redis_rejected_blobs_are_errors() {
        for blob in [
            "020000000200000002000100",
            "020000000200000001000100",
            "030000000100000001000000",
            "02000000030000000100020000",
            "0200000000000000",
        ] {
            assert!(decode(&hex(blob)).is_err(), "{blob} accepted");
        }
    }

    #[test]
    fn width_boundaries() {
        let cases: &[(i64, usize)] = &[
            (0, 2),
            (i64::from(i16::MAX), 2),
            (i64::from(i16::MIN), 2),
            (i64::from(i16::MAX) + 1, 4),
            (i64::from(i16::MIN) - 1, 4),
            (i64::from(i32::MAX), 4),
            (i64::from(i32::MIN), 4),
            (i64::from(i32::MAX) + 1, 8),
            (i64::from(i32::MIN) - 1, 8),
            (i64::MAX, 8),
            (i64::MIN, 8),
        ];
        for &(v, width) in cases {
            let blob = encode(&[v]);
            assert_eq!(blob.len(), HEADER_LEN + width, "{v}");
            assert_eq!(blob[0] as usize, width);
            assert_eq!(decode(&blob).unwrap(), [v]);
        }
        // The widest member decides for everyone.
        let blob = encode(&[-1, 1 << 40]);
        assert_eq!(blob.len(), HEADER_LEN + 16);
        assert_eq!(decode(&blob).unwrap(), [-1, 1 << 40]);
    }

    fn random_set(rng: &mut XorShift) -> Vec<i64> {
        let bits = [8, 16, 17, 32, 33, 64][rng.below(6) as usize];
        let n = 1 + rng.below(300) as usize;
        let mut v: Vec<i64> = (0..n)
            .map(|_| {
                let x = rng.next() as i64 >> (64 - bits);
                match rng.below(10) {
                    0 => [i64::MIN, i64::MAX, 0, -1][rng.below(4) as usize],
                    _ => x,
                }
            })
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    #[test]
    fn random_round_trips() {
        let mut rng = XorShift(0x5eed_1234);
        for _ in 0..5000 {
            let set = random_set(&mut rng);
            let blob = encode(&set);
            let width = set.iter().map(|&v| width_of(v)).max().unwrap();
            assert_eq!(blob.len(), HEADER_LEN + set.len() * width);
            assert_eq!(decode(&blob).unwrap(), set);
        }
    }

    #[test]
    fn wider_than_needed_is_accepted() {
        // 1, 2 stored at widths 4 and 8.
        assert_eq!(
            decode(&hex("04000000 02000000 01000000 02000000")).unwrap(),
            [1, 2]
        );
        assert_eq!(
            decode(&hex("08000000 01000000 ffffffffffffffff")).unwrap(),
            [-1]
        );
    }

    #[test]
    fn structural_errors() {
        assert!(decode(&[]).is_err());
        assert!(decode(&hex("02000000 010000")).is_err());
        // Width 0, 1, 3, 16.
        for w in ["00", "01", "03", "10"] {
            assert!(decode(&hex(&format!("{w}000000 01000000 0100"))).is_err());
        }
        // Count too large for the bytes, and forged counts that would
        // overflow 32-bit arithmetic.
        assert!(decode(&hex("02000000 02000000 0100")).is_err());
        assert!(decode(&hex("08000000 ffffffff 0100000000000000")).is_err());
        assert!(decode(&hex("08000000 00000020 0100000000000000")).is_err());
        // Trailing byte.
        assert!(decode(&hex("02000000 01000000 0100 00")).is_err());
        // Empty slice encodes to Redis's empty intset, which decode refuses.
        assert_eq!(encode(&[]), hex("02000000 00000000"));
        assert!(decode(&encode(&[])).is_err());
        // Unsorted input to encode gives a blob decode refuses.
        assert!(decode(&encode(&[2, 1])).is_err());
    }

    #[test]
    fn truncations_and_corruptions_never_panic() {
        let mut rng = XorShift(0xfeed);
        for _ in 0..500 {
            let set = random_set(&mut rng);
            let blob = encode(&set);
            for cut in 0..blob.len() {
                assert!(decode(&blob[..cut]).is_err());
            }
            for _ in 0..20 {
                let mut damaged = blob.clone();
                let at = rng.below(damaged.len() as u64) as usize;
                damaged[at] ^= 1 << rng.below(8);
                if let Ok(members) = decode(&damaged) {
                    assert!(members.windows(2).all(|w| w[0] < w[1]));
                }
            }
        }
        for _ in 0..100_000 {
            let len = rng.below(40) as usize;
            let mut blob: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            if len >= 8 && rng.below(2) == 0 {
                let width = [2u32, 4, 8][rng.below(3) as usize];
                blob[..4].copy_from_slice(&width.to_le_bytes());
                let count = ((len - 8) / width as usize) as u32;
                blob[4..8].copy_from_slice(&count.to_le_bytes());
            }
            let _ = decode(&blob);
        }
    }
}
