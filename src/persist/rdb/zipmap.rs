//! Zipmap decoder: the small-hash container of Redis 2.x, still loadable from
//! RDB values of type 9 (HASH_ZIPMAP). Redis 7 only reads it, and so do we:
//! there is deliberately no encoder outside the tests.
//!
//! This module owns the byte layout of one zipmap blob and nothing else. It
//! never reads a file or a socket and never knows keys, RDB opcodes or LZF,
//! and it leaves duplicate-field detection to the RDB reader: the reader
//! hands it the blob and gets field/value pairs back. Decoding treats every
//! blob as hostile: any inconsistency is an `Err` with a short reason, never
//! a panic, and nothing is allocated beyond what the blob's own bytes can
//! justify.
//!
//! Layout: `<count u8> (<len> field <len> <free u8> value <free bytes>)* <0xFF>`
//! where `<len>` is one byte below 254, else 0xFE and a u32 LE, and a count
//! of 254 means "254 or more, walk the entries".

/// A field and its value, as stored.
pub type Pair = (Vec<u8>, Vec<u8>);

const END: u8 = 0xFF;
const BIG_LEN: u8 = 0xFE;
/// Smallest possible pair: field length, value length and free bytes.
const MIN_PAIR_LEN: usize = 3;

/// Decodes a zipmap into its field/value pairs, in stored order, validating
/// it as Redis's `zipmapValidateIntegrity` does (every length and free-space
/// run inside the blob, at least one pair, a count byte that matches unless
/// it is 254) and additionally requiring the end marker to be the last byte:
/// Redis stops at the first 0xFF and ignores what follows, but never writes
/// anything there.
pub fn decode(blob: &[u8]) -> Result<Vec<Pair>, String> {
    let Some((&count, rest)) = blob.split_first() else {
        return Err("zipmap: empty blob".into());
    };
    let Some((&END, mut body)) = rest.split_last() else {
        return Err("zipmap: missing 0xFF end marker".into());
    };

    let capacity = (body.len() / MIN_PAIR_LEN).min(usize::from(count));
    let mut pairs = Vec::with_capacity(capacity);
    while !body.is_empty() {
        if body.first() == Some(&END) {
            return Err("zipmap: end marker before the last byte".into());
        }
        let (field, after_field) = length_prefixed(body)?;
        if after_field.first() == Some(&END) {
            return Err("zipmap: invalid value length byte 0xff".into());
        }
        let (value_len, after_len) = length(after_field)?;
        let Some((&free, after_free)) = after_len.split_first() else {
            return Err("zipmap: pair runs past the end marker".into());
        };
        // The value is followed by `free` unused bytes left over from an
        // in-place update; they must exist but carry nothing.
        let value = take(after_free, value_len)?;
        body = after_free
            .get(value_len..)
            .and_then(|rest| rest.get(usize::from(free)..))
            .ok_or_else(|| "zipmap: free space runs past the end marker".to_string())?;
        pairs.push((field.to_vec(), value.to_vec()));
    }

    if pairs.is_empty() {
        // Redis never saves an empty hash, and refuses to load one.
        return Err("zipmap: no pairs".into());
    }
    if count != BIG_LEN && usize::from(count) != pairs.len() {
        return Err(format!(
            "zipmap: header counts {count} pairs, found {}",
            pairs.len()
        ));
    }
    Ok(pairs)
}

/// A `<len>` field and what follows it.
fn length(bytes: &[u8]) -> Result<(usize, &[u8]), String> {
    match bytes.split_first() {
        Some((&BIG_LEN, rest)) => {
            let Some((len, rest)) = rest.split_first_chunk::<4>() else {
                return Err("zipmap: length runs past the end marker".into());
            };
            let len = usize::try_from(u32::from_le_bytes(*len))
                .map_err(|_| "zipmap: length does not fit in memory".to_string())?;
            Ok((len, rest))
        }
        Some((&len, rest)) => Ok((usize::from(len), rest)),
        None => Err("zipmap: length runs past the end marker".into()),
    }
}

/// A `<len>`-prefixed byte string and what follows it.
fn length_prefixed(bytes: &[u8]) -> Result<(&[u8], &[u8]), String> {
    let (len, rest) = length(bytes)?;
    let data = take(rest, len)?;
    Ok((data, rest.get(len..).unwrap_or_default()))
}

/// Checked before anything is copied, so a forged length can neither read out
/// of bounds nor size an allocation.
fn take(bytes: &[u8], len: usize) -> Result<&[u8], String> {
    bytes
        .get(..len)
        .ok_or_else(|| "zipmap: string runs past the end marker".to_string())
}

#[cfg(test)]
mod tests {
    use super::super::listpack;
    use super::*;
    use crate::persist::rdb::testkit::{expand, hex, Seg, XorShift};

    type Pairs = Vec<Pair>;

    /// A test-only zipmap writer following zipmap.c: 1-byte lengths below
    /// 254, count byte saturating at 254, and `free[i]` junk bytes after
    /// value `i` as an in-place update shrinking the value would leave.
    fn encode(pairs: &[Pair], free: &[u8]) -> Vec<u8> {
        fn push_len(out: &mut Vec<u8>, len: usize) {
            if len < usize::from(BIG_LEN) {
                out.push(len as u8);
            } else {
                out.push(BIG_LEN);
                out.extend_from_slice(&(len as u32).to_le_bytes());
            }
        }
        let mut out = vec![pairs.len().min(254) as u8];
        for (i, (field, value)) in pairs.iter().enumerate() {
            let slack = free.get(i).copied().unwrap_or(0);
            push_len(&mut out, field.len());
            out.extend_from_slice(field);
            push_len(&mut out, value.len());
            out.push(slack);
            out.extend_from_slice(value);
            out.extend(std::iter::repeat_n(0xAA, usize::from(slack)));
        }
        out.push(END);
        out
    }

    fn pair(f: &[u8], v: &[u8]) -> Pair {
        (f.to_vec(), v.to_vec())
    }

    fn flatten(pairs: &Pairs) -> Vec<Vec<u8>> {
        pairs
            .iter()
            .flat_map(|(f, v)| [f.clone(), v.clone()])
            .collect()
    }

    // ---- hand-built fixtures, cross-checked with redis-server 7.0.15 ---------
    //
    // Redis 7 cannot write zipmaps, so these were built by hand from the
    // format description by a throwaway script, RESTOREd into
    // redis-server 7.0.15 with sanitize-dump-payload yes (it validates and
    // converts them to a listpack hash), and DUMPed back; `OUT_*` are the
    // listpacks Redis produced.

    /// foo=bar, hello=world, empty="", k*300=v (5-byte field length),
    /// free=abc followed by 2 free bytes, num=12345, big=B*1000.
    const IN_ZM_HASH: &[Seg] = &[
        Seg::Hex("0703666f6f03006261720568656c6c6f0500776f726c6405656d7074790000fe"),
        Seg::Hex("2c010000"),
        Seg::Run(0x6b, 300),
        Seg::Hex("01007604667265650302616263aaaa036e756d0500313233343503626967fee8"),
        Seg::Hex("03000000"),
        Seg::Run(0x42, 1000),
        Seg::Hex("ff"),
    ];
    const OUT_ZM_HASH: &[Seg] = &[
        Seg::Hex("600500000e0083666f6f0483626172048568656c6c6f0685776f726c64068565"),
        Seg::Hex("6d707479068001e12c"),
        Seg::Run(0x6b, 300),
        Seg::Hex("02ae8176028466726565058361626304836e756d04f13930038362696704e3e8"),
        Seg::Run(0x42, 1000),
        Seg::Hex("07eaff"),
    ];
    /// a=1, b=2 with the count byte at 254 ("unknown").
    const IN_ZM_UNKNOWN_COUNT: &[Seg] = &[Seg::Hex("fe01610100310162010032ff")];
    const OUT_ZM_UNKNOWN_COUNT: &[Seg] = &[Seg::Hex("11000000040081610201018162020201ff")];

    fn hash_content() -> Pairs {
        vec![
            pair(b"foo", b"bar"),
            pair(b"hello", b"world"),
            pair(b"empty", b""),
            (vec![b'k'; 300], b"v".to_vec()),
            pair(b"free", b"abc"),
            pair(b"num", b"12345"),
            (b"big".to_vec(), vec![b'B'; 1000]),
        ]
    }

    fn check_against_redis(zipmap: &[Seg], listpack: &[Seg]) -> Pairs {
        let ours = decode(&expand(zipmap)).expect("fixture decodes");
        let redis = listpack::decode(&expand(listpack)).expect("redis listpack decodes");
        let redis: Vec<Vec<u8>> = redis.iter().map(listpack::Element::to_bytes).collect();
        assert_eq!(flatten(&ours), redis);
        ours
    }

    #[test]
    fn redis_zipmaps() {
        let ours = check_against_redis(IN_ZM_HASH, OUT_ZM_HASH);
        assert_eq!(ours, hash_content());
        assert_eq!(encode(&ours, &[0, 0, 0, 0, 2]), expand(IN_ZM_HASH));

        let ours = check_against_redis(IN_ZM_UNKNOWN_COUNT, OUT_ZM_UNKNOWN_COUNT);
        assert_eq!(ours, [pair(b"a", b"1"), pair(b"b", b"2")]);
    }

    /// Hand-built corrupt zipmaps that redis-server 7.0.15 refused on RESTORE
    /// with "Bad data format".
    #[test]
    fn redis_rejected_blobs_are_errors() {
        for (name, blob) in [
            ("count", "0301610100310162010032ff"),
            ("empty", "00ff"),
            ("field overrun", "01096162010063ff"),
            ("value overrun", "010161050063ff"),
            ("free overrun", "010161010963ff"),
            ("value length 0xff", "010161ff0000000000ff"),
        ] {
            assert!(decode(&hex(blob)).is_err(), "{name} accepted");
        }
    }

    /// redis-server accepts bytes after an early end marker (it stops at the
    /// first one and only checks that the last byte is also 0xFF). Redis
    /// always writes the marker last, so we refuse the ambiguity.
    #[test]
    fn bytes_after_early_end_are_refused() {
        let blob = hex("010161010063ff00ff");
        assert!(decode(&blob).is_err());
        assert_eq!(
            decode(&hex("01 01 61 01 00 63 ff")).unwrap(),
            [pair(b"a", b"c")]
        );
    }

    // ---- format corner cases -------------------------------------------------

    #[test]
    fn documented_example() {
        // zipmap.c: "foo" => "bar", "hello" => "world".
        let blob = b"\x02\x03foo\x03\x00bar\x05hello\x05\x00world\xff";
        let pairs = decode(blob).unwrap();
        assert_eq!(pairs, [pair(b"foo", b"bar"), pair(b"hello", b"world")]);
        assert_eq!(encode(&pairs, &[]), blob);
    }

    #[test]
    fn length_forms() {
        for n in [0usize, 1, 253, 254, 255, 70000] {
            let pairs = vec![(vec![b'f'; n], vec![b'v'; n])];
            let blob = encode(&pairs, &[]);
            let len_bytes = if n < 254 { 1 } else { 5 };
            assert_eq!(blob.len(), 1 + 2 * (len_bytes + n) + 1 + 1, "{n}");
            assert_eq!(decode(&blob).unwrap(), pairs);
        }
        // A 5-byte length holding a small value: never written, harmless.
        assert_eq!(
            decode(&hex("01 fe01000000 61 01 00 62 ff")).unwrap(),
            [pair(b"a", b"b")]
        );
    }

    #[test]
    fn count_byte() {
        let many: Pairs = (0..300u32)
            .map(|i| (i.to_le_bytes().to_vec(), vec![b'x'; (i % 7) as usize]))
            .collect();
        let blob = encode(&many, &[]);
        assert_eq!(blob[0], 254);
        assert_eq!(decode(&blob).unwrap(), many);
        // 254 pairs exactly, and 254 as "unknown" with fewer pairs.
        let blob = encode(&many[..254], &[]);
        assert_eq!(decode(&blob).unwrap(), &many[..254]);
        let mut blob = encode(&many[..3], &[]);
        blob[0] = 254;
        assert_eq!(decode(&blob).unwrap(), &many[..3]);
        blob[0] = 2;
        assert!(decode(&blob).is_err());
    }

    // ---- round trips and hostile input ---------------------------------------

    fn random_pairs(rng: &mut XorShift) -> (Pairs, Vec<u8>) {
        let n = 1 + rng.below(20) as usize;
        let text = |rng: &mut XorShift| match rng.below(8) {
            0 => Vec::new(),
            1 => {
                let len = 250 + rng.below(20) as usize;
                rng.bytes(len)
            }
            2 => (rng.next() as i64).to_string().into_bytes(),
            _ => {
                let len = rng.below(40) as usize;
                rng.bytes(len)
            }
        };
        let pairs = (0..n).map(|_| (text(rng), text(rng))).collect();
        let free = (0..n)
            .map(|_| {
                if rng.below(4) == 0 {
                    rng.below(5) as u8
                } else {
                    0
                }
            })
            .collect();
        (pairs, free)
    }

    #[test]
    fn random_round_trips() {
        let mut rng = XorShift(0x0dd_ba11);
        for _ in 0..5000 {
            let (pairs, free) = random_pairs(&mut rng);
            let blob = encode(&pairs, &free);
            assert_eq!(decode(&blob).unwrap(), pairs);
        }
    }

    #[test]
    fn truncations_are_errors() {
        let mut rng = XorShift(7);
        for _ in 0..300 {
            let (pairs, free) = random_pairs(&mut rng);
            let blob = encode(&pairs, &free);
            for cut in 0..blob.len() {
                assert!(decode(&blob[..cut]).is_err());
                if cut > 1 && cut + 1 < blob.len() {
                    // Cut short but re-terminated: a missing pair changes the
                    // count, a partial one overruns.
                    let mut damaged = blob[..cut].to_vec();
                    damaged.push(END);
                    if let Ok(got) = decode(&damaged) {
                        panic!("cut {cut} accepted as {got:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn corruptions_never_panic() {
        let mut rng = XorShift(0x5ca1_ab1e);
        for _ in 0..2000 {
            let (pairs, free) = random_pairs(&mut rng);
            let blob = encode(&pairs, &free);
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
            let len = rng.below(40) as usize;
            let mut blob = rng.bytes(len);
            if len >= 2 && rng.below(2) == 0 {
                blob[len - 1] = END;
            }
            let _ = decode(&blob);
        }
    }

    #[test]
    fn forged_lengths_are_errors() {
        assert!(decode(&hex("01 feffffffff 61 01 00 62 ff")).is_err());
        assert!(decode(&hex("01 01 61 feffffffff 00 62 ff")).is_err());
        assert!(decode(&hex("01 01 61 01 ff 62 ff")).is_err());
        assert!(decode(&[]).is_err());
        assert!(decode(&[END]).is_err());
        assert!(decode(&[0, 0]).is_err());
    }
}
