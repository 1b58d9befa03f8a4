//! What a sorted set's range ops cover: ranks (Redis's index rules,
//! negative from the end, clamped as ZRANGE clamps them), scores (each end
//! inclusive or not) and members (lex ranges), and for each end whether an
//! element is before it or within it. Plain values: never a set, a
//! command's syntax or an error text (the command layer parses them).

use bytes::Bytes;

/// A score range (ZRANGEBYSCORE's `min` and `max`, each inclusive or not).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScoreRange {
    pub min: f64,
    pub min_ex: bool,
    pub max: f64,
    pub max_ex: bool,
}

impl ScoreRange {
    /// True when `s` is below the range's start.
    #[inline]
    pub(super) fn below(&self, s: f64) -> bool {
        if self.min_ex {
            s <= self.min
        } else {
            s < self.min
        }
    }

    /// True when `s` is not past the range's end.
    #[inline]
    pub(super) fn within_max(&self, s: f64) -> bool {
        if self.max_ex {
            s < self.max
        } else {
            s <= self.max
        }
    }
}

/// One end of a lex range: `-`, `+`, `[member` or `(member`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LexBound {
    NegInf,
    PosInf,
    Incl(Bytes),
    Excl(Bytes),
}

/// A lex range (ZRANGEBYLEX's `min` and `max`). Meant for a set whose
/// scores are all equal; over others it walks members as Redis's skiplist
/// descent does, by member alone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LexRange {
    pub min: LexBound,
    pub max: LexBound,
}

impl LexRange {
    #[inline]
    pub(super) fn below(&self, m: &[u8]) -> bool {
        match &self.min {
            LexBound::NegInf => false,
            LexBound::PosInf => true,
            LexBound::Incl(b) => m < &b[..],
            LexBound::Excl(b) => m <= &b[..],
        }
    }

    #[inline]
    pub(super) fn within_max(&self, m: &[u8]) -> bool {
        match &self.max {
            LexBound::NegInf => false,
            LexBound::PosInf => true,
            LexBound::Incl(b) => m <= &b[..],
            LexBound::Excl(b) => m < &b[..],
        }
    }
}

/// What a range op covers: ranks (Redis's index rules, negative from the
/// end), scores or members.
#[derive(Clone, Debug, PartialEq)]
pub enum ZRange {
    Rank { start: i64, stop: i64 },
    Score(ScoreRange),
    Lex(LexRange),
}

/// The first and last place kept of `start..=stop` over `len` elements
/// (Redis's rank rules), or `None` when nothing is.
pub(super) fn clamp(start: i64, stop: i64, len: usize) -> Option<(usize, usize)> {
    let n = i64::try_from(len).ok()?;
    let start = if start < 0 {
        start.saturating_add(n)
    } else {
        start
    }
    .max(0);
    let stop = if stop < 0 {
        stop.saturating_add(n)
    } else {
        stop
    };
    if start > stop || start >= n {
        return None;
    }
    Some((start as usize, stop.min(n - 1) as usize))
}
