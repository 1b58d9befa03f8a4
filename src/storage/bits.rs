//! Bit-level algorithms behind Redis's string bit commands (BITCOUNT, BITPOS,
//! GETBIT, SETBIT, BITOP, BITFIELD and BITFIELD_RO) and the argument parsers
//! whose exact error texts are part of the protocol. Everything works on plain
//! byte slices with Redis's bit numbering: bit 0 is the most significant bit
//! of byte 0. This module owns the Redis 7.0 semantics of those commands
//! (index clamping, zero padding, overflow rules, parse quirks) and nothing
//! else: it never knows about keys, commands, shards, the keyspace or reply
//! encoding. Callers look values up, grow them, store results and turn the
//! returned values into replies. Nothing here may panic on any input, since
//! every argument arrives straight off the wire.

/// Redis's default `proto-max-bulk-len`, the usual `max_bytes` bound.
pub const DEFAULT_MAX_BYTES: u64 = 512 * 1024 * 1024;

const ERR_SYNTAX: &str = "ERR syntax error";
const ERR_BIT_OFFSET: &str = "ERR bit offset is not an integer or out of range";
const ERR_BIT_VALUE: &str = "ERR bit is not an integer or out of range";
const ERR_FIELD_TYPE: &str = "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.";
const ERR_OVERFLOW_TYPE: &str = "ERR Invalid OVERFLOW type specified";
const ERR_NOT_INTEGER: &str = "ERR value is not an integer or out of range";
const ERR_READ_ONLY: &str = "ERR BITFIELD_RO only supports the GET subcommand";

/// How BITCOUNT and BITPOS interpret their `start`/`end` indexes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Byte,
    Bit,
}

impl Unit {
    /// Parses the optional `BYTE|BIT` argument; anything else is a syntax error.
    pub fn parse(arg: &[u8]) -> Result<Self, &'static str> {
        if is_keyword(arg, b"byte") {
            Ok(Unit::Byte)
        } else if is_keyword(arg, b"bit") {
            Ok(Unit::Bit)
        } else {
            Err(ERR_SYNTAX)
        }
    }
}

/// BITCOUNT key [start end [BYTE|BIT]]. `range` None counts the whole string.
///
/// A missing key is the caller's business (Redis answers 0, as does an empty slice).
pub fn bitcount(v: &[u8], range: Option<(i64, i64)>, unit: Unit) -> u64 {
    let Some((start, end)) = range else {
        return popcount(v);
    };
    // Redis rejects a reversed all-negative range before clamping; without this
    // (-100, -200) would clamp to (0, 0) and count the first byte. BITPOS has no
    // such check and does search that byte.
    if start < 0 && end < 0 && start > end {
        return 0;
    }
    resolve_span(v.len(), start, end, unit).map_or(0, |(first, last)| count_span(v, first, last))
}

/// BITPOS key bit [start [end [BYTE|BIT]]]. Returns -1 when no such bit exists.
///
/// `start` None means the whole string. Looking for a clear bit without an
/// explicit `end`, Redis treats the string as zero-padded on the right, so an
/// all-ones string answers `len * 8` rather than -1. A missing key is the
/// caller's business: Redis answers 0 for bit 0 and -1 for bit 1, whereas an
/// existing empty string answers -1 for both.
pub fn bitpos(v: &[u8], bit: bool, start: Option<i64>, end: Option<i64>, unit: Unit) -> i64 {
    // An absent end is the last index, which -1 denotes in either unit.
    let span = resolve_span(v.len(), start.unwrap_or(0), end.unwrap_or(-1), unit);
    let Some((first, last)) = span else {
        return -1;
    };
    match find_bit(v, first, last, bit) {
        Some(pos) => saturating_i64(pos),
        None if !bit && end.is_none() => saturating_i64(last.saturating_add(1)),
        None => -1,
    }
}

/// GETBIT: bits past the end of the string read as 0.
pub fn getbit(v: &[u8], offset: u64) -> u8 {
    byte_index(offset)
        .and_then(|i| v.get(i))
        .map_or(0, |byte| (byte >> (7 - offset % 8)) & 1)
}

/// SETBIT on a string the caller has already grown to `offset / 8 + 1` bytes
/// (zero-filled); returns the previous bit. An offset past the end is a broken
/// contract: nothing is written and 0 is returned.
pub fn setbit(v: &mut [u8], offset: u64, on: bool) -> u8 {
    let Some(byte) = byte_index(offset).and_then(|i| v.get_mut(i)) else {
        return 0;
    };
    let mask = 0x80u8 >> (offset % 8);
    let old = u8::from(*byte & mask != 0);
    if on {
        *byte |= mask;
    } else {
        *byte &= !mask;
    }
    old
}

/// Parses a GETBIT/SETBIT offset: a non-negative integer whose byte index is
/// below `max_bytes` (Redis's `proto-max-bulk-len`).
pub fn parse_bit_offset(arg: &[u8], max_bytes: u64) -> Result<u64, &'static str> {
    parse_offset(arg, None, max_bytes)
}

/// Parses the SETBIT value, which must be exactly `0` or `1`.
pub fn parse_bit_value(arg: &[u8]) -> Result<bool, &'static str> {
    match parse_i64(arg) {
        Some(0) => Ok(false),
        Some(1) => Ok(true),
        _ => Err(ERR_BIT_VALUE),
    }
}

/// The BITOP operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BitOp {
    And,
    Or,
    Xor,
    Not,
}

impl BitOp {
    /// Parses the operation name; anything else is a syntax error.
    pub fn parse(arg: &[u8]) -> Result<Self, &'static str> {
        [
            (&b"and"[..], BitOp::And),
            (b"or", BitOp::Or),
            (b"xor", BitOp::Xor),
            (b"not", BitOp::Not),
        ]
        .into_iter()
        .find(|(name, _)| is_keyword(arg, name))
        .map(|(_, op)| op)
        .ok_or(ERR_SYNTAX)
    }
}

/// BITOP: the result is as long as the longest source, shorter sources (and
/// missing keys, passed as empty slices) reading as zero-padded, so AND with a
/// missing key yields zeros. An empty result means Redis deletes the
/// destination. NOT uses only the first source: rejecting any other count
/// ("ERR BITOP NOT must be called with a single source key.") is the caller's job.
pub fn bitop(op: BitOp, srcs: &[&[u8]]) -> Vec<u8> {
    let Some((&first, rest)) = srcs.split_first() else {
        return Vec::new();
    };
    if op == BitOp::Not {
        let mut out = vec![0; first.len()];
        zip_words(&mut out, first, |_, s| !s);
        return out;
    }
    let combine: fn(u64, u64) -> u64 = match op {
        BitOp::And => |d, s| d & s,
        BitOp::Or => |d, s| d | s,
        BitOp::Xor | BitOp::Not => |d, s| d ^ s,
    };
    let len = srcs.iter().map(|s| s.len()).max().unwrap_or(0);
    let mut out = vec![0; len];
    zip_words(&mut out, first, |_, s| s);
    // Blocks keep the output chunk in cache while every source is folded into
    // it, instead of streaming the whole result once per source.
    const BLOCK: usize = 16 * 1024;
    for (n, block) in out.chunks_mut(BLOCK).enumerate() {
        let at = n * BLOCK;
        for src in rest {
            let src = src.get(at..).unwrap_or_default();
            zip_words(block, src, combine);
            if op == BitOp::And {
                if let Some(padding) = block.get_mut(src.len()..) {
                    padding.fill(0);
                }
            }
        }
    }
    out
}

/// A BITFIELD integer type: `i1`..`i64` or `u1`..`u63`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldType {
    pub signed: bool,
    pub bits: u8,
}

impl FieldType {
    /// Parses `i<bits>` or `u<bits>`. Only a lowercase prefix is accepted, as in Redis.
    pub fn parse(arg: &[u8]) -> Result<Self, &'static str> {
        let (signed, width) = match arg {
            [b'i', width @ ..] => (true, width),
            [b'u', width @ ..] => (false, width),
            _ => return Err(ERR_FIELD_TYPE),
        };
        // Redis reads the width with strlen, so `i8\0junk` is an i8.
        let bits = parse_i64(c_str(width)).ok_or(ERR_FIELD_TYPE)?;
        // u64 is refused because its values would not fit a RESP integer.
        let widest = if signed { 64 } else { 63 };
        match u8::try_from(bits) {
            Ok(bits) if (1..=widest).contains(&bits) => Ok(FieldType { signed, bits }),
            _ => Err(ERR_FIELD_TYPE),
        }
    }

    /// The width in bits; hand-built types outside 1..=64 are clamped so that
    /// the shifts below stay defined.
    fn width(self) -> u32 {
        u32::from(self.bits.clamp(1, 64))
    }

    fn mask(self) -> u64 {
        u64::MAX >> (64 - self.width())
    }

    /// Smallest and largest representable values.
    fn limits(self) -> (i128, i128) {
        if self.signed {
            let half = 1i128 << (self.width() - 1);
            (-half, half - 1)
        } else {
            (0, i128::from(self.mask()))
        }
    }

    /// The value a stored bit pattern stands for. Unsigned values are reported
    /// through a signed 64-bit integer, as Redis does.
    fn decode(self, raw: u64) -> i64 {
        if self.signed {
            let unused = 64 - self.width();
            ((raw << unused) as i64) >> unused
        } else {
            raw as i64
        }
    }
}

/// What INCRBY and SET do when the result does not fit the field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Overflow {
    /// Keep the low bits (two's complement wrap-around). Redis's default.
    #[default]
    Wrap,
    /// Clamp to the type's minimum or maximum.
    Sat,
    /// Write nothing and reply nil.
    Fail,
}

impl Overflow {
    /// Parses the argument of `OVERFLOW WRAP|SAT|FAIL`.
    pub fn parse(arg: &[u8]) -> Result<Self, &'static str> {
        [
            (&b"wrap"[..], Overflow::Wrap),
            (b"sat", Overflow::Sat),
            (b"fail", Overflow::Fail),
        ]
        .into_iter()
        .find(|(name, _)| is_keyword(arg, name))
        .map(|(_, overflow)| overflow)
        .ok_or(ERR_OVERFLOW_TYPE)
    }
}

/// One BITFIELD subcommand, with the OVERFLOW mode in force where it appeared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldOp {
    Get {
        ty: FieldType,
        offset: u64,
    },
    /// Redis applies OVERFLOW to SET as well: an out-of-range value wraps,
    /// saturates or fails exactly like an INCRBY result would.
    Set {
        ty: FieldType,
        offset: u64,
        value: i64,
        overflow: Overflow,
    },
    IncrBy {
        ty: FieldType,
        offset: u64,
        incr: i64,
        overflow: Overflow,
    },
}

impl FieldOp {
    /// SET and INCRBY write; GET does not.
    pub fn is_write(&self) -> bool {
        !matches!(self, FieldOp::Get { .. })
    }
}

/// Parses the arguments after the key of `BITFIELD key ...` (or BITFIELD_RO
/// when `read_only`). Errors come in argument order, as in Redis; the
/// BITFIELD_RO refusal of SET/INCRBY comes only once everything parsed.
/// `max_bytes` is Redis's `proto-max-bulk-len`.
pub fn parse_bitfield(
    args: &[&[u8]],
    read_only: bool,
    max_bytes: u64,
) -> Result<Vec<FieldOp>, &'static str> {
    let field = |ty: &[u8], offset: &[u8]| -> Result<(FieldType, u64), &'static str> {
        let ty = FieldType::parse(ty)?;
        Ok((ty, parse_offset(offset, Some(ty.bits), max_bytes)?))
    };
    let integer = |arg: &[u8]| parse_i64(arg).ok_or(ERR_NOT_INTEGER);
    let mut ops = Vec::new();
    let mut overflow = Overflow::default();
    let mut rest = args;
    while let [subcommand, tail @ ..] = rest {
        let is = |name: &[u8]| is_keyword(subcommand, name);
        rest = match tail {
            [mode, tail @ ..] if is(b"overflow") => {
                overflow = Overflow::parse(mode)?;
                tail
            }
            [ty, offset, tail @ ..] if is(b"get") => {
                let (ty, offset) = field(ty, offset)?;
                ops.push(FieldOp::Get { ty, offset });
                tail
            }
            [ty, offset, value, tail @ ..] if is(b"set") => {
                let (ty, offset) = field(ty, offset)?;
                let value = integer(value)?;
                ops.push(FieldOp::Set {
                    ty,
                    offset,
                    value,
                    overflow,
                });
                tail
            }
            [ty, offset, incr, tail @ ..] if is(b"incrby") => {
                let (ty, offset) = field(ty, offset)?;
                let incr = integer(incr)?;
                ops.push(FieldOp::IncrBy {
                    ty,
                    offset,
                    incr,
                    overflow,
                });
                tail
            }
            _ => return Err(ERR_SYNTAX),
        };
    }
    if read_only && ops.iter().any(FieldOp::is_write) {
        return Err(ERR_READ_ONLY);
    }
    Ok(ops)
}

/// Bytes the string must hold before `bitfield_run` (0 when nothing writes).
///
/// Redis grows (or creates) the value to this length, zero-filled, before
/// running anything, and keeps it even when every write is refused by
/// OVERFLOW FAIL.
pub fn bitfield_needed_len(ops: &[FieldOp]) -> usize {
    ops.iter()
        .filter_map(|op| match *op {
            FieldOp::Get { .. } => None,
            FieldOp::Set { ty, offset, .. } | FieldOp::IncrBy { ty, offset, .. } => {
                Some(offset.saturating_add(u64::from(ty.width()) - 1) / 8 + 1)
            }
        })
        .max()
        .map_or(0, |len| usize::try_from(len).unwrap_or(usize::MAX))
}

/// Runs the ops in order on `v`, which must already be `bitfield_needed_len`
/// long; GETs past the end read zeros. Returns one reply per op (None where
/// OVERFLOW FAIL refused a write) and whether any write changed the stored
/// value. Redis counts a modification when that flag is set or, if the caller
/// had to grow the string, when any write was carried out (a write op with a
/// `Some` reply).
pub fn bitfield_run(v: &mut [u8], ops: &[FieldOp]) -> (Vec<Option<i64>>, bool) {
    let mut changed = false;
    let mut replies = Vec::with_capacity(ops.len());
    for op in ops {
        let reply = match *op {
            FieldOp::Get { ty, offset } => Some(ty.decode(read_field(v, offset, ty))),
            FieldOp::Set {
                ty,
                offset,
                value,
                overflow,
            } => {
                let old = read_field(v, offset, ty);
                // An unsigned SET sees the value as its u64 bit pattern, so a
                // negative value overflows upwards: SAT stores the maximum.
                let value = if ty.signed {
                    i128::from(value)
                } else {
                    i128::from(value as u64)
                };
                settle(ty, value, 0, overflow).map(|new| {
                    write_field(v, offset, ty, new);
                    changed |= new != old;
                    ty.decode(old)
                })
            }
            FieldOp::IncrBy {
                ty,
                offset,
                incr,
                overflow,
            } => {
                let old = read_field(v, offset, ty);
                let base = if ty.signed {
                    i128::from(ty.decode(old))
                } else {
                    i128::from(old)
                };
                settle(ty, base, incr, overflow).map(|new| {
                    write_field(v, offset, ty, new);
                    changed |= new != old;
                    ty.decode(new)
                })
            }
        };
        replies.push(reply);
    }
    (replies, changed)
}

/// The bit pattern to store for `base + delta` under the overflow mode, or
/// None when FAIL refuses it.
fn settle(ty: FieldType, base: i128, delta: i64, overflow: Overflow) -> Option<u64> {
    let (min, max) = ty.limits();
    let sum = base + i128::from(delta);
    // Redis computes `max - base` in wrapping 64-bit arithmetic. When a SET
    // value is so negative that this wraps (below 2^(bits-1) - 2^63, which is
    // every underflow for i63), Redis takes it for an upward overflow and SAT
    // stores the maximum; INCRBY bases are in range and never get here.
    let upward = sum > max || (base < min && max - base > i128::from(i64::MAX));
    let target = match overflow {
        _ if !upward && sum >= min => sum,
        Overflow::Fail => return None,
        Overflow::Sat if upward => max,
        Overflow::Sat => min,
        // Truncating to the field keeps exactly the low bits Redis keeps.
        Overflow::Wrap => sum,
    };
    Some(target as u64 & ty.mask())
}

/// Up to 64 bits starting anywhere lie within 9 bytes, so a field is read
/// through a 72-bit big-endian window; bytes past the end read as zero.
fn read_field(v: &[u8], offset: u64, ty: FieldType) -> u64 {
    let Some(start) = byte_index(offset) else {
        return 0;
    };
    let window = (0..9).fold(0u128, |acc, k| {
        let byte = start.checked_add(k).and_then(|i| v.get(i)).copied();
        acc << 8 | u128::from(byte.unwrap_or(0))
    });
    (window >> window_shift(offset, ty)) as u64 & ty.mask()
}

/// Stores the low `ty.bits` of `raw`; bits falling past the end are dropped.
fn write_field(v: &mut [u8], offset: u64, ty: FieldType, raw: u64) {
    let Some(start) = byte_index(offset) else {
        return;
    };
    let shift = window_shift(offset, ty);
    let field_mask = u128::from(ty.mask()) << shift;
    let value = u128::from(raw & ty.mask()) << shift;
    for k in 0..9 {
        if let Some(byte) = start.checked_add(k).and_then(|i| v.get_mut(i)) {
            let lane = 8 * (8 - k as u32);
            let keep = (field_mask >> lane) as u8;
            *byte = (*byte & !keep) | (value >> lane) as u8;
        }
    }
}

/// Distance from the window's least significant bit to the field's.
fn window_shift(offset: u64, ty: FieldType) -> u32 {
    72 - (offset % 8) as u32 - ty.width()
}

fn byte_index(offset: u64) -> Option<usize> {
    usize::try_from(offset / 8).ok()
}

/// Shared by SETBIT/GETBIT (`hash_width` None) and BITFIELD, where `#N`
/// addresses the N-th field of that width.
fn parse_offset(arg: &[u8], hash_width: Option<u8>, max_bytes: u64) -> Result<u64, &'static str> {
    let (digits, scale) = match (arg, hash_width) {
        ([b'#', digits @ ..], Some(width)) => (digits, i64::from(width)),
        _ => (arg, 1),
    };
    let n = parse_i64(digits).ok_or(ERR_BIT_OFFSET)?;
    // Redis multiplies in a C long long without checking and the product wraps,
    // so `#2305843009213693953` as i8 lands on bit 8; a product that wraps
    // negative is refused below.
    let offset = u64::try_from(n.wrapping_mul(scale)).map_err(|_| ERR_BIT_OFFSET)?;
    if offset / 8 >= max_bytes {
        return Err(ERR_BIT_OFFSET);
    }
    Ok(offset)
}

/// Redis's index rules shared by BITCOUNT and BITPOS: negative indexes count
/// from the end, then both ends are clamped into the string. Returns the
/// inclusive span in bits, or None when it is empty. i128 keeps the
/// arithmetic exact for any i64 index.
fn resolve_span(len: usize, start: i64, end: i64, unit: Unit) -> Option<(u64, u64)> {
    let bits_per_index = match unit {
        Unit::Byte => 8,
        Unit::Bit => 1,
    };
    let len = i128::try_from(len).ok()?;
    let total = match unit {
        Unit::Byte => len,
        Unit::Bit => len * 8,
    };
    let from_end = |i: i64| {
        let i = i128::from(i);
        if i < 0 {
            (total + i).max(0)
        } else {
            i
        }
    };
    let start = from_end(start);
    let end = from_end(end).min(total - 1);
    if start > end {
        return None;
    }
    let first = start * bits_per_index;
    let last = (end + 1) * bits_per_index - 1;
    Some((u64::try_from(first).ok()?, u64::try_from(last).ok()?))
}

/// Set bits within the inclusive bit span: whole bytes are counted, then the
/// bits of the edge bytes that fall outside the span are taken back.
fn count_span(v: &[u8], first: u64, last: u64) -> u64 {
    let (Some(lo), Some(hi)) = (byte_index(first), byte_index(last)) else {
        return 0;
    };
    let Some(bytes) = v.get(lo..=hi) else {
        return 0;
    };
    let (Some(&head), Some(&tail)) = (bytes.first(), bytes.last()) else {
        return 0;
    };
    let before = head & !(0xFF >> (first % 8));
    let after = tail & !(0xFF << (7 - last % 8));
    popcount(bytes) - u64::from(before.count_ones()) - u64::from(after.count_ones())
}

fn popcount(bytes: &[u8]) -> u64 {
    let (words, rest) = bytes.as_chunks::<8>();
    let wide: u64 = words
        .iter()
        .map(|w| u64::from(u64::from_ne_bytes(*w).count_ones()))
        .sum();
    wide + rest.iter().map(|b| u64::from(b.count_ones())).sum::<u64>()
}

/// Position of the first bit equal to `bit` within the inclusive bit span.
fn find_bit(v: &[u8], first: u64, last: u64, bit: bool) -> Option<u64> {
    let bytes = v.get(byte_index(first)?..=byte_index(last)?)?;
    // A clear bit is a set bit of the complement, so both searches look for ones.
    let flip = if bit { 0 } else { u8::MAX };
    let head_mask = 0xFFu8 >> (first % 8);
    let tail_mask = 0xFFu8 << (7 - last % 8);
    let mut pos = first - first % 8;
    let (&head, body) = bytes.split_first()?;
    let head = (head ^ flip) & head_mask & if body.is_empty() { tail_mask } else { 0xFF };
    if head != 0 {
        return Some(pos + u64::from(head.leading_zeros()));
    }
    pos += 8;
    let (&tail, middle) = body.split_last()?;
    let (words, rest) = middle.as_chunks::<8>();
    let word_flip = if bit { 0 } else { u64::MAX };
    for word in words {
        let ones = u64::from_be_bytes(*word) ^ word_flip;
        if ones != 0 {
            return Some(pos + u64::from(ones.leading_zeros()));
        }
        pos += 64;
    }
    for &byte in rest {
        let ones = byte ^ flip;
        if ones != 0 {
            return Some(pos + u64::from(ones.leading_zeros()));
        }
        pos += 8;
    }
    let tail = (tail ^ flip) & tail_mask;
    (tail != 0).then(|| pos + u64::from(tail.leading_zeros()))
}

/// Applies `f` to `dst` and `src` over their common length, a word at a time
/// where possible; the trailing bytes go through the same function widened.
fn zip_words(dst: &mut [u8], src: &[u8], f: impl Fn(u64, u64) -> u64) {
    let (dst_words, dst_rest) = dst.as_chunks_mut::<8>();
    let (src_words, src_rest) = src.as_chunks::<8>();
    let common = dst_words.len().min(src_words.len());
    for (d, s) in dst_words.iter_mut().zip(src_words) {
        *d = f(u64::from_ne_bytes(*d), u64::from_ne_bytes(*s)).to_ne_bytes();
    }
    // Whatever follows the common words, byte by byte: the tail of a longer
    // side's words lines up with the other side's leftover bytes.
    let dst_tail = dst_words
        .get_mut(common..)
        .unwrap_or_default()
        .iter_mut()
        .flatten()
        .chain(dst_rest);
    let src_tail = src_words
        .get(common..)
        .unwrap_or_default()
        .iter()
        .flatten()
        .chain(src_rest);
    for (d, s) in dst_tail.zip(src_tail) {
        *d = f(u64::from(*d), u64::from(*s)) as u8;
    }
}

fn saturating_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Redis compares keywords with strcasecmp and reads some numbers with strlen,
/// both of which stop at the first NUL, so `GET\0junk` is accepted as GET.
fn c_str(arg: &[u8]) -> &[u8] {
    arg.split(|&b| b == 0).next().unwrap_or(arg)
}

fn is_keyword(arg: &[u8], keyword: &[u8]) -> bool {
    c_str(arg).eq_ignore_ascii_case(keyword)
}

/// Redis's string2ll: optional '-', then digits without a leading zero (a lone
/// "0" excepted), no '+', no spaces, within i64.
fn parse_i64(s: &[u8]) -> Option<i64> {
    let (negative, digits) = match s {
        [b'-', digits @ ..] => (true, digits),
        _ => (false, s),
    };
    match digits {
        [b'0'] if !negative => return Some(0),
        [b'1'..=b'9', ..] => {}
        _ => return None,
    }
    let mut magnitude = 0u64;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        magnitude = magnitude
            .checked_mul(10)?
            .checked_add(u64::from(d - b'0'))?;
    }
    if negative {
        0i64.checked_sub_unsigned(magnitude)
    } else {
        i64::try_from(magnitude).ok()
    }
}

#[cfg(test)]
mod tests;
