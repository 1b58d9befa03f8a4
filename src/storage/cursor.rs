//! SCAN cursors: what a cursor a client holds says about where its scan is,
//! packed below 2^53 so that every client language (JavaScript numbers
//! included) holds it exactly. Pure arithmetic: it never reads a shard.
//!
//! A scan walks the position space (`staircase`: a key's position is its
//! route hash reversed, and every shard covers one interval of it) shard by
//! shard, and walks each shard's table bucket by bucket, as Redis walks its
//! dict. So a cursor is one of:
//! - [`Cursor::At`]: the next shard starts at a position (kept to its top 52
//!   bits, which a shard boundary always is; see [`POS_SHIFT`]). Also where a
//!   shard that is being filled (a split's or merge's target, an incoming
//!   migration) is walked by position, the old way.
//! - [`Cursor::Bucket`]: inside a shard (named by its level and interval), at
//!   a bucket of its table, with a tag of the table's layout. A bucket walk
//!   is exact only while the table keeps its layout (entries never move
//!   between buckets until the table is rebuilt); when the shard, its bucket
//!   count or its layout tag differ, the walk starts the shard over. Keys
//!   come twice then, which SCAN allows; none present throughout is missed.
//!
//! The tag is `TAG_MIN..` bits of a layout number that no other table on the
//! core had (see `shard`): a rebuild the tag misses needs that many bits of
//! luck, once per rebuild of the one shard between two calls.

/// Cursors are below this: 2^53, JavaScript's exact integers.
pub const LIMIT: u64 = 1 << 53;
/// Positions in cursors drop their low bits: a shard's interval starts on a
/// multiple of 2^(64 - level), so for levels up to 52 a boundary is exact.
pub const POS_SHIFT: u32 = 12;
/// Fewest bits of layout tag a bucket cursor keeps (bucket index bits go first).
const TAG_MIN: u32 = 16;
/// Bits of a bucket cursor's header: kind (1), level (5), log2 buckets (5).
const HEAD: u32 = 11;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cursor {
    /// At position `pos52 << POS_SHIFT`: every key before it was listed.
    At(u64),
    /// At bucket `bucket` of the shard at `level` whose interval starts at
    /// `start` (a full 64-bit position), while its table has `2^log2_buckets`
    /// buckets and a layout whose tag is `tag`.
    Bucket {
        level: u32,
        start: u64,
        log2_buckets: u32,
        bucket: usize,
        tag: u64,
    },
}

/// `bits` low bits set (`bits < 64`).
fn mask(bits: u32) -> u64 {
    (1u64 << bits) - 1
}

/// Bits of a bucket index dropped (resumed from the bucket rounded down) and
/// tag bits kept, so that a cursor of this shard fits below [`LIMIT`].
fn widths(level: u32, log2_buckets: u32) -> (u32, u32) {
    let room = 53 - HEAD - level;
    let drop = (log2_buckets + TAG_MIN)
        .saturating_sub(room)
        .min(log2_buckets);
    (drop, room - (log2_buckets - drop))
}

/// Bucket indexes a cursor of this shard can name are multiples of this.
pub fn bucket_step(level: u32, log2_buckets: u32) -> usize {
    1 << widths(level, log2_buckets).0
}

/// The tag a table with layout number `layout` is known by in cursors.
pub fn layout_tag(layout: u64) -> u64 {
    // Spread the counter's low bits over the whole word (Fibonacci hashing).
    layout.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 11
}

/// Whether a bucket cursor's `tag` names a table with layout number `layout`.
pub fn tag_matches(level: u32, log2_buckets: u32, tag: u64, layout: u64) -> bool {
    tag == layout_tag(layout) & mask(widths(level, log2_buckets).1)
}

impl Cursor {
    /// The cursor a client sent; None when it is not one this server makes.
    pub fn decode(c: u64) -> Option<Cursor> {
        if c >= LIMIT {
            return None;
        }
        if c & 1 == 0 {
            return Some(Cursor::At(c >> 1));
        }
        let level = ((c >> 1) & mask(5)) as u32;
        let log2_buckets = ((c >> 6) & mask(5)) as u32;
        if level + HEAD > 53 {
            return None;
        }
        let (drop, tag_bits) = widths(level, log2_buckets);
        let mut rest = c >> HEAD;
        let prefix = rest & mask(level);
        rest >>= level;
        let bucket = ((rest & mask(log2_buckets - drop)) << drop) as usize;
        rest >>= log2_buckets - drop;
        let start = if level == 0 {
            0
        } else {
            prefix << (64 - level)
        };
        Some(Cursor::Bucket {
            level,
            start,
            log2_buckets,
            bucket,
            tag: rest & mask(tag_bits),
        })
    }

    /// The number a client is given for this cursor (0 only for the start).
    pub fn encode(self) -> u64 {
        match self {
            Cursor::At(pos52) => (pos52 & mask(52)) << 1,
            Cursor::Bucket {
                level,
                start,
                log2_buckets,
                bucket,
                tag,
            } => {
                debug_assert!(level <= 31 && log2_buckets <= 31);
                let (drop, tag_bits) = widths(level, log2_buckets);
                let prefix = if level == 0 { 0 } else { start >> (64 - level) };
                let mut c = tag & mask(tag_bits);
                c = (c << (log2_buckets - drop))
                    | ((bucket as u64 >> drop) & mask(log2_buckets - drop));
                c = (c << level) | prefix;
                (c << HEAD) | ((log2_buckets as u64) << 6) | ((level as u64) << 1) | 1
            }
        }
    }

    /// A cursor as the server reads it: one it cannot have made (the command
    /// refuses those before they get here) starts over.
    pub fn read(c: u64) -> Cursor {
        Cursor::decode(c).unwrap_or(Cursor::At(0))
    }

    /// The full position the cursor's shard or next key is found at.
    pub fn position(self) -> u64 {
        match self {
            Cursor::At(pos52) => pos52 << POS_SHIFT,
            Cursor::Bucket { start, .. } => start,
        }
    }
}

/// A full position as the 52 bits a cursor keeps.
#[inline]
pub fn pos52(pos: u64) -> u64 {
    pos >> POS_SHIFT
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    #[test]
    fn cursors_round_trip_below_two_to_the_53() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        assert_eq!(Cursor::decode(0), Some(Cursor::At(0)));
        for _ in 0..100_000 {
            let c = if rng.gen_bool(0.3) {
                Cursor::At(rng.gen::<u64>() >> 12)
            } else {
                let level = rng.gen_range(0..=31);
                let log2_buckets = rng.gen_range(0..=31);
                let start = if level == 0 {
                    0
                } else {
                    (rng.gen::<u64>() >> (64 - level)) << (64 - level)
                };
                let step = bucket_step(level, log2_buckets);
                let bucket = (rng.gen_range(0..1usize << log2_buckets) / step) * step;
                let (_, tag_bits) = widths(level, log2_buckets);
                let tag = rng.gen::<u64>() & mask(tag_bits);
                Cursor::Bucket {
                    level,
                    start,
                    log2_buckets,
                    bucket,
                    tag,
                }
            };
            let n = c.encode();
            assert!(n < LIMIT, "{c:?} -> {n}");
            assert_eq!(Cursor::decode(n), Some(c), "{n}");
            if n != 0 {
                assert!(c != Cursor::At(0));
            }
        }
        assert_eq!(Cursor::decode(LIMIT), None);
        assert_eq!(Cursor::decode(u64::MAX), None);
    }

    #[test]
    fn tags_keep_at_least_sixteen_bits_where_the_room_allows() {
        // A shard of 2^21 buckets (a million tagged keys) at level 16.
        let (drop, tag_bits) = widths(16, 21);
        assert_eq!((drop, tag_bits), (11, 16));
        // Typical: level 9, 8192 buckets: exact buckets and 20 bits of tag.
        assert_eq!(widths(9, 13), (0, 20));
        assert_eq!(bucket_step(9, 13), 1);
    }
}
