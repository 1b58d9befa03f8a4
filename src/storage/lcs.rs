//! Longest common subsequence of two byte strings, as Redis 7.0's LCS command
//! computes it: the same dynamic-programming table, the same walk back through
//! it (so the same answer among equally long ones), the same matched ranges in
//! the same order, and the same refusal when the table would be too big. This
//! module owns only that algorithm; it never knows about keys, commands,
//! shards, option parsing or reply encoding: callers fetch the two values
//! (a missing key is an empty string), parse `LEN`/`IDX`/`MINMATCHLEN`/
//! `WITHMATCHLEN` and shape the reply. Nothing here may panic on any input.

/// Redis's default `proto-max-bulk-len`, which also caps the LCS table.
pub const DEFAULT_MAX_TABLE_BYTES: u64 = 512 * 1024 * 1024;

const ERR_TOO_LONG: &str = "ERR String too long for LCS";
const ERR_TABLE_LIMIT: &str =
    "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len";
const ERR_ALLOCATION: &str = "ERR Insufficient memory, failed allocating transient memory for LCS";

/// A run of consecutive matching bytes, as inclusive index ranges into each string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Match {
    pub a: (usize, usize),
    pub b: (usize, usize),
    pub len: usize,
}

/// The outcome of [`lcs`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lcs {
    /// The subsequence itself; empty unless asked for.
    pub text: Vec<u8>,
    /// Its length, always computed (the `len` of an IDX reply, whatever the filter).
    pub len: usize,
    /// Matched runs from the end of the strings backwards, as Redis lists
    /// them; empty unless asked for.
    pub matches: Vec<Match>,
}

/// Computes the LCS of `a` and `b`.
///
/// `want_text` and `want_matches` say what to produce; with neither (the LEN
/// option) only the length is computed, in memory linear in the shorter
/// string. Runs shorter than `min_match_len` are left out of `matches`
/// (Redis turns a negative MINMATCHLEN into 0, which keeps every run).
///
/// Like Redis, the full table of `(a.len()+1) * (b.len()+1)` u32 cells is
/// refused when it would exceed `max_table_bytes` (Redis's
/// `proto-max-bulk-len`, normally [`DEFAULT_MAX_TABLE_BYTES`]), even for LEN.
pub fn lcs(
    a: &[u8],
    b: &[u8],
    want_text: bool,
    want_matches: bool,
    min_match_len: usize,
    max_table_bytes: u64,
) -> Result<Lcs, &'static str> {
    // Redis indexes with u32 and reserves the top values, hence the odd bound.
    let too_long = |s: &[u8]| u64::try_from(s.len()).map_or(true, |n| n >= u64::from(u32::MAX - 1));
    if too_long(a) || too_long(b) {
        return Err(ERR_TOO_LONG);
    }
    let cells = (a.len() as u128 + 1) * (b.len() as u128 + 1);
    if cells * 4 > u128::from(max_table_bytes) {
        return Err(ERR_TABLE_LIMIT);
    }
    if !want_text && !want_matches {
        return Ok(Lcs {
            len: lcs_len(a, b)?,
            ..Lcs::default()
        });
    }

    let table = Table::build(a, b)?;
    let len = table.at(a.len(), b.len()) as usize;
    let mut text = Vec::with_capacity(if want_text { len } else { 0 });
    let mut matches = Vec::new();
    let mut keep = |run: Match| {
        if want_matches && run.len >= min_match_len {
            matches.push(run);
        }
    };
    // Walk back from the bottom-right corner. A run only ever grows backwards
    // by one in both strings at once, and any step that skips a byte ends it.
    let mut run: Option<Match> = None;
    let (mut i, mut j) = (a.len(), b.len());
    while i > 0 && j > 0 {
        let (x, y) = (a.get(i - 1), b.get(j - 1));
        if x == y {
            if let (true, Some(&byte)) = (want_text, x) {
                text.push(byte);
            }
            run = Some(match run {
                Some(m) => Match {
                    a: (i - 1, m.a.1),
                    b: (j - 1, m.b.1),
                    len: m.len + 1,
                },
                None => Match {
                    a: (i - 1, i - 1),
                    b: (j - 1, j - 1),
                    len: 1,
                },
            });
            i -= 1;
            j -= 1;
        } else {
            // Redis's tie-break, which picks the reported answer among equally
            // long ones: skip a byte of `b` unless skipping one of `a` keeps a
            // strictly longer subsequence.
            if table.at(i - 1, j) > table.at(i, j - 1) {
                i -= 1;
            } else {
                j -= 1;
            }
            if let Some(m) = run.take() {
                keep(m);
            }
        }
    }
    if let Some(m) = run {
        keep(m);
    }
    text.reverse();
    Ok(Lcs { text, len, matches })
}

/// Cell `(i, j)` holds the LCS length of `a[..i]` and `b[..j]`, stored row-major.
struct Table {
    width: usize,
    cells: Vec<u32>,
}

impl Table {
    fn build(a: &[u8], b: &[u8]) -> Result<Self, &'static str> {
        let width = b.len() + 1;
        let size = (a.len() + 1).checked_mul(width).ok_or(ERR_ALLOCATION)?;
        let mut cells = zeroed(size)?;
        for (i, &byte) in a.iter().enumerate() {
            let Some((done, todo)) = cells.split_at_mut_checked((i + 1) * width) else {
                break;
            };
            let prev = done.get(i * width..).unwrap_or_default();
            let row = todo.get_mut(..width).unwrap_or_default();
            fill_row(prev, row, byte, b);
        }
        Ok(Table { width, cells })
    }

    fn at(&self, i: usize, j: usize) -> u32 {
        i.checked_mul(self.width)
            .and_then(|row| row.checked_add(j))
            .and_then(|k| self.cells.get(k))
            .copied()
            .unwrap_or(0)
    }
}

/// The LEN-only answer: the same recurrence keeping just two rows, sized by
/// the shorter string since the length does not depend on the order.
fn lcs_len(a: &[u8], b: &[u8]) -> Result<usize, &'static str> {
    let (long, short) = if a.len() >= b.len() { (a, b) } else { (b, a) };
    let mut prev = zeroed(short.len() + 1)?;
    let mut row = zeroed(short.len() + 1)?;
    for &byte in long {
        fill_row(&prev, &mut row, byte, short);
        std::mem::swap(&mut prev, &mut row);
    }
    Ok(prev.last().map_or(0, |&n| n as usize))
}

/// Computes row `i` from row `i - 1` for the byte `a[i - 1]`; cell 0 stays 0,
/// the LCS with an empty prefix of `b`.
fn fill_row(prev: &[u32], row: &mut [u32], byte: u8, b: &[u8]) {
    let above = prev.get(1..).unwrap_or_default();
    let mut left = 0;
    for (((cell, &diagonal), &up), &other) in row.iter_mut().skip(1).zip(prev).zip(above).zip(b) {
        left = if byte == other {
            diagonal + 1
        } else {
            up.max(left)
        };
        *cell = left;
    }
}

/// A zeroed buffer, reporting allocation failure as Redis does instead of aborting.
fn zeroed(len: usize) -> Result<Vec<u32>, &'static str> {
    let mut v = Vec::new();
    v.try_reserve_exact(len).map_err(|_| ERR_ALLOCATION)?;
    v.resize(len, 0);
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: u64 = DEFAULT_MAX_TABLE_BYTES;

    fn m(a: (usize, usize), b: (usize, usize), len: usize) -> Match {
        Match { a, b, len }
    }

    fn full(a: &str, b: &str, min_match_len: usize) -> Lcs {
        lcs(a.as_bytes(), b.as_bytes(), true, true, min_match_len, LIMIT).unwrap()
    }

    // Answers of redis-server 7.0.15 (LCS, LCS ... IDX WITHMATCHLEN [MINMATCHLEN n]).
    #[test]
    fn matches_redis() {
        let r = full("ohmytext", "mynewtext", 0);
        assert_eq!((r.text.as_slice(), r.len), (&b"mytext"[..], 6));
        assert_eq!(r.matches, [m((4, 7), (5, 8), 4), m((2, 3), (0, 1), 2)]);
        assert_eq!(
            full("ohmytext", "mynewtext", 4).matches,
            [m((4, 7), (5, 8), 4)]
        );
        assert_eq!(full("ohmytext", "mynewtext", 4).len, 6);

        let r = full("abcabcxyzab", "cbaxyzbcaab", 0);
        assert_eq!((r.text.as_slice(), r.len), (&b"cbxyzab"[..], 7));
        assert_eq!(
            r.matches,
            [
                m((9, 10), (9, 10), 2),
                m((6, 8), (3, 5), 3),
                m((4, 4), (1, 1), 1),
                m((2, 2), (0, 0), 1),
            ]
        );

        assert_eq!(full("aaaa", "aa", 0).matches, [m((2, 3), (0, 1), 2)]);
        assert_eq!(full("aa", "aaaa", 0).matches, [m((0, 1), (2, 3), 2)]);

        let r = full("ABCBDAB", "BDCABA", 0);
        assert_eq!(r.text, b"BDAB");
        assert_eq!(r.matches, [m((5, 6), (3, 4), 2), m((3, 4), (0, 1), 2)]);
        let r = full("BDCABA", "ABCBDAB", 0);
        assert_eq!(
            r.matches,
            [
                m((5, 5), (5, 5), 1),
                m((4, 4), (3, 3), 1),
                m((2, 2), (2, 2), 1),
                m((0, 0), (1, 1), 1)
            ]
        );

        let r = full("GXTXAYBTTAXYB", "AGGTABXTXAYB", 0);
        assert_eq!((r.text.as_slice(), r.len), (&b"GTABTXYB"[..], 8));
        assert_eq!(
            r.matches,
            [
                m((11, 12), (10, 11), 2),
                m((10, 10), (8, 8), 1),
                m((8, 8), (7, 7), 1),
                m((6, 6), (5, 5), 1),
                m((4, 4), (4, 4), 1),
                m((2, 2), (3, 3), 1),
                m((0, 0), (1, 1), 1),
            ]
        );
        assert_eq!(
            full("GXTXAYBTTAXYB", "AGGTABXTXAYB", 2).matches,
            [m((11, 12), (10, 11), 2)]
        );

        assert_eq!(full("ohmytext", "", 0), Lcs::default());
        assert_eq!(full("", "", 0), Lcs::default());
    }

    #[test]
    fn computes_only_what_is_asked() {
        let (a, b) = (&b"ohmytext"[..], &b"mynewtext"[..]);
        let len_only = lcs(a, b, false, false, 0, LIMIT).unwrap();
        assert_eq!(
            len_only,
            Lcs {
                len: 6,
                ..Lcs::default()
            }
        );
        let text_only = lcs(a, b, true, false, 0, LIMIT).unwrap();
        assert_eq!(
            (text_only.text.as_slice(), text_only.matches.len()),
            (&b"mytext"[..], 0)
        );
        let idx_only = lcs(a, b, false, true, 0, LIMIT).unwrap();
        assert_eq!(
            (idx_only.text.len(), idx_only.matches.len(), idx_only.len),
            (0, 2, 6)
        );
    }

    // With `CONFIG SET proto-max-bulk-len 1mb`, 7.0.15 accepts 511x511 bytes
    // (exactly 1 MiB of table) and refuses 512x511, even with LEN.
    #[test]
    fn table_limit_matches_redis() {
        let (a511, a512) = (vec![b'a'; 511], vec![b'a'; 512]);
        let b511 = vec![b'b'; 511];
        assert_eq!(
            lcs(&a511, &b511, false, false, 0, 1 << 20).map(|r| r.len),
            Ok(0)
        );
        assert_eq!(
            lcs(&a511, &a511, false, false, 0, 1 << 20).map(|r| r.len),
            Ok(511)
        );
        let refused =
            Err("ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len");
        assert_eq!(lcs(&a512, &b511, false, false, 0, 1 << 20), refused);
        assert_eq!(lcs(&b511, &a512, true, true, 0, 1 << 20), refused);
        assert_eq!(
            lcs(&a512, b"", true, false, 0, 1 << 20).map(|r| r.len),
            Ok(0)
        );
        assert_eq!(lcs(b"", b"", true, true, 0, 0), refused);
    }

    /// Brute force over every subsequence of `a`, for short strings.
    fn reference_len(a: &[u8], b: &[u8]) -> usize {
        let is_subsequence = |s: &[u8]| {
            let mut rest = b.iter();
            s.iter().all(|c| rest.any(|d| d == c))
        };
        (0u32..1 << a.len())
            .map(|mask| {
                (0..a.len())
                    .filter(|i| mask >> i & 1 == 1)
                    .map(|i| a[i])
                    .collect::<Vec<_>>()
            })
            .filter(|s| is_subsequence(s))
            .map(|s| s.len())
            .max()
            .unwrap_or(0)
    }

    #[test]
    fn random_strings_are_consistent() {
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..3_000 {
            let mut string = |max: u64| -> Vec<u8> {
                let len = next() % (max + 1);
                (0..len).map(|_| b"abc"[(next() % 3) as usize]).collect()
            };
            let (a, b) = (string(9), string(12));
            let r = lcs(&a, &b, true, true, 0, LIMIT).unwrap();
            assert_eq!(r.len, reference_len(&a, &b), "{a:?} {b:?}");
            assert_eq!(r.len, lcs(&a, &b, false, false, 0, LIMIT).unwrap().len);
            assert_eq!(r.len, lcs(&b, &a, false, false, 0, LIMIT).unwrap().len);
            assert_eq!(r.text.len(), r.len);

            // The runs, read front to back, spell the text and move strictly forward.
            let mut spelled = Vec::new();
            let mut ends = (None::<usize>, None::<usize>);
            for run in r.matches.iter().rev() {
                let (sa, sb) = (&a[run.a.0..=run.a.1], &b[run.b.0..=run.b.1]);
                assert_eq!((sa, sa.len(), sb.len()), (sb, run.len, run.len));
                assert!(ends.0.is_none_or(|e| e < run.a.0) && ends.1.is_none_or(|e| e < run.b.0));
                ends = (Some(run.a.1), Some(run.b.1));
                spelled.extend_from_slice(sa);
            }
            assert_eq!(spelled, r.text);

            let min = (next() % 4) as usize;
            let filtered = lcs(&a, &b, false, true, min, LIMIT).unwrap().matches;
            let expected: Vec<Match> = r.matches.iter().copied().filter(|m| m.len >= min).collect();
            assert_eq!(filtered, expected);
        }
    }
}
