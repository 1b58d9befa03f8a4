//! HyperLogLog values, byte-compatible with Redis 7.0's `hyperloglog.c`
//! (7.0.15 with the CVE-2025-32023 fix, as distributions ship it).
//!
//! This module owns the bytes of an HLL string value: its header, the dense and
//! sparse register encodings, the in-place sparse edits (whose exact byte output
//! depends on the order of adds, so they follow Redis step by step), promotion to
//! dense, the cached cardinality and the estimator. It must never know about
//! keys, databases, commands or reply framing: callers look values up, map
//! [`HllError`] to replies and decide what to store. It must never panic or read
//! out of bounds, whatever bytes it is handed, because values arrive from `SET`,
//! `RESTORE` and replication unvalidated.

use std::fmt;

/// Redis's default `hll-sparse-max-bytes`.
pub const DEFAULT_SPARSE_MAX: usize = 3000;
/// Number of registers (P = 14).
pub const REGISTERS: usize = 16384;

const HEADER_LEN: usize = 16;
const MAGIC: &[u8; 4] = b"HYLL";
const ENCODING_AT: usize = 4;
const CARD_AT: usize = 8;
/// The MSB of the cached cardinality's last little-endian byte marks it stale.
const CARD_STALE_AT: usize = 15;
const CARD_STALE_BIT: u8 = 0x80;

const P: u32 = 14;
/// Hash bits left after the register index; the longest run is `Q + 1`.
const Q: usize = 64 - P as usize;
const DENSE_BODY_LEN: usize = REGISTERS * 6 / 8;
const DENSE_LEN: usize = HEADER_LEN + DENSE_BODY_LEN;

const SPARSE_VAL_MAX_VALUE: u8 = 32;
const SPARSE_VAL_MAX_RUN: usize = 4;
const SPARSE_ZERO_MAX_RUN: usize = 64;
const SPARSE_XZERO_MAX_RUN: usize = 16384;

/// 0.5 / ln 2, written as Redis's `HLL_ALPHA_INF` rounds to a double.
const ALPHA_INF: f64 = 0.721_347_520_444_481_7;
const HASH_SEED: u64 = 0xadc8_3b19;

/// Why a value cannot be used as an HLL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HllError {
    /// The header or length rules out an HLL; Redis answers WRONGTYPE.
    NotHll,
    /// The header is fine but the sparse body does not describe 16384 registers.
    Corrupt,
}

impl fmt::Display for HllError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HllError::NotHll => "WRONGTYPE Key is not a valid HyperLogLog string value.",
            HllError::Corrupt => "INVALIDOBJ Corrupted HLL object detected",
        })
    }
}

impl std::error::Error for HllError {}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Dense,
    Sparse,
}

/// A new empty HLL as Redis creates it (sparse).
///
/// Redis builds it with a valid cached cardinality of 0, but both commands that
/// create a key (PFADD, PFMERGE) mark the cache stale before storing, so the
/// bytes a client can ever observe carry the stale bit; we return those, which
/// lets PFADD on a missing key with no elements store exactly what Redis does.
pub fn new_empty() -> Vec<u8> {
    let mut v = Vec::with_capacity(HEADER_LEN + 2);
    v.extend_from_slice(MAGIC);
    v.extend_from_slice(&[1, 0, 0, 0]);
    v.extend_from_slice(&[0; 8]);
    push_zero_run(&mut v, SPARSE_XZERO_MAX_RUN);
    invalidate_cache(&mut v);
    v
}

/// Validate like isHLLObjectOrReply.
///
/// Only the header and the dense length are checked, as Redis does; a broken
/// sparse body surfaces later as [`HllError::Corrupt`] from whichever operation
/// has to walk it.
pub fn check(v: &[u8]) -> Result<(), HllError> {
    encoding(v).map(|_| ())
}

/// Whether `v` is a valid dense HLL, the encoding that makes PFMERGE go dense.
pub fn is_dense(v: &[u8]) -> bool {
    encoding(v) == Ok(Encoding::Dense)
}

fn encoding(v: &[u8]) -> Result<Encoding, HllError> {
    if v.len() < HEADER_LEN || v.get(..4) != Some(MAGIC.as_slice()) {
        return Err(HllError::NotHll);
    }
    match v.get(ENCODING_AT) {
        Some(0) if v.len() == DENSE_LEN => Ok(Encoding::Dense),
        Some(1) => Ok(Encoding::Sparse),
        _ => Err(HllError::NotHll),
    }
}

fn body(v: &[u8]) -> &[u8] {
    v.get(HEADER_LEN..).unwrap_or_default()
}

fn body_mut(v: &mut [u8]) -> &mut [u8] {
    v.get_mut(HEADER_LEN..).unwrap_or_default()
}

fn invalidate_cache(v: &mut [u8]) {
    if let Some(b) = v.get_mut(CARD_STALE_AT) {
        *b |= CARD_STALE_BIT;
    }
}

fn cached_card(v: &[u8]) -> Option<u64> {
    let card: [u8; 8] = v.get(CARD_AT..HEADER_LEN)?.try_into().ok()?;
    (card[7] & CARD_STALE_BIT == 0).then(|| u64::from_le_bytes(card))
}

/// PFADD: add elements; Ok(true) when a register changed (then the cache is invalidated).
///
/// Whether the key was just created is the caller's business (Redis replies 1
/// then even with no elements). On `Err(Corrupt)` `v` keeps the edits made for
/// the elements before the one that hit the corruption, because Redis edits its
/// value in place and leaves them there; store `v` to mirror it.
pub fn add(v: &mut Vec<u8>, elements: &[&[u8]], sparse_max: usize) -> Result<bool, HllError> {
    encoding(v)?;
    let mut changed = false;
    for element in elements {
        let (index, count) = pattern(element);
        changed |= raise(v, index, count, sparse_max)?;
    }
    if changed {
        invalidate_cache(v);
    }
    Ok(changed)
}

/// Raises register `index` to `count` if lower, in whichever encoding `v` is,
/// promoting a sparse value when Redis would.
fn raise(v: &mut Vec<u8>, index: usize, count: u8, sparse_max: usize) -> Result<bool, HllError> {
    if encoding(v)? == Encoding::Sparse {
        match sparse_raise(v, index, count, sparse_max)? {
            SparseRaise::Unchanged => return Ok(false),
            SparseRaise::Changed => return Ok(true),
            SparseRaise::Promote => to_dense(v)?,
        }
    }
    Ok(dense_raise(body_mut(v), index, count))
}

/// PFCOUNT of one key: uses the cache if valid, else computes and stores it in
/// `v`. Returns (count, whether v changed); a changed value is what Redis
/// writes back and propagates, though PFCOUNT counts as a read.
#[expect(
    clippy::ptr_arg,
    reason = "the module's API takes values as the Vec callers store, like `add`"
)]
pub fn count(v: &mut Vec<u8>) -> Result<(u64, bool), HllError> {
    encoding(v)?;
    if let Some(card) = cached_card(v) {
        return Ok((card, false));
    }
    let card = estimate(&histogram(registers_of(v)?.iter()));
    if let Some(slot) = v.get_mut(CARD_AT..HEADER_LEN) {
        slot.copy_from_slice(&card.to_le_bytes());
    }
    Ok((card, true))
}

/// Raw registers (one u8 per register, 0..=63) for merging across keys.
#[derive(Clone, PartialEq, Eq)]
pub struct Registers(pub Box<[u8; REGISTERS]>);

impl Default for Registers {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Registers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let set = self.0.iter().filter(|&&r| r != 0).count();
        write!(f, "Registers({set} non-zero)")
    }
}

impl Registers {
    pub fn new() -> Self {
        Registers(Box::new([0; REGISTERS]))
    }

    /// Takes the register-wise max with the HLL value `v`. `self` is left
    /// untouched on error, although Redis aborts the command then anyway.
    pub fn merge(&mut self, v: &[u8]) -> Result<(), HllError> {
        let other = registers_of(v)?;
        for (mine, theirs) in self.0.iter_mut().zip(other.iter()) {
            *mine = (*mine).max(*theirs);
        }
        Ok(())
    }

    /// The estimate for these registers; never cached, like multi-key PFCOUNT.
    pub fn count(&self) -> u64 {
        estimate(&histogram(self.0.iter()))
    }
}

/// PFMERGE's result: `dest` (None if the key did not exist) merged with
/// already-merged `regs`; Redis 7.0's sparse/dense choice; the cache invalidated.
///
/// Redis merges the destination into the maximum as the first of its inputs
/// (so callers should validate it before the sources to report the same error)
/// and goes dense up front when any input, the destination included, is dense;
/// `dest` is therefore merged and inspected here too and `any_dense` need only
/// cover the other sources. A sparse destination otherwise gets every non-zero register
/// raised in index order, which may still promote it on the way, exactly as in
/// Redis; the header of an existing destination (stale cached count included)
/// survives apart from the encoding byte and the stale bit.
pub fn merge_into(
    dest: Option<&[u8]>,
    regs: &Registers,
    any_dense: bool,
    sparse_max: usize,
) -> Result<Vec<u8>, HllError> {
    let mut max = regs.clone();
    let mut out = match dest {
        Some(d) => {
            max.merge(d)?;
            d.to_vec()
        }
        None => new_empty(),
    };
    if any_dense || is_dense(&out) {
        to_dense(&mut out)?;
    }
    for (index, &value) in max.0.iter().enumerate() {
        if value != 0 {
            raise(&mut out, index, value, sparse_max)?;
        }
    }
    invalidate_cache(&mut out);
    Ok(out)
}

// ---------------------------------------------------------------------------
// Hashing

/// MurmurHash64A as Redis ships it: little-endian word loads on every platform.
fn murmur64a(data: &[u8], seed: u64) -> u64 {
    const M: u64 = 0xc6a4_a793_5bd1_e995;
    const R: u32 = 47;
    let le = |bytes: &[u8]| {
        bytes
            .iter()
            .rev()
            .fold(0u64, |acc, &b| acc << 8 | u64::from(b))
    };

    let mut h = seed ^ (data.len() as u64).wrapping_mul(M);
    let mut words = data.chunks_exact(8);
    for word in &mut words {
        let mut k = le(word).wrapping_mul(M);
        k ^= k >> R;
        h = (h ^ k.wrapping_mul(M)).wrapping_mul(M);
    }
    let tail = words.remainder();
    if !tail.is_empty() {
        h = (h ^ le(tail)).wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^ (h >> R)
}

/// The register an element lands in and the length of its "000..1" pattern
/// (1..=Q+1) in the hash bits above the index.
fn pattern(element: &[u8]) -> (usize, u8) {
    let hash = murmur64a(element, HASH_SEED);
    let index = (hash & (REGISTERS as u64 - 1)) as usize;
    // The sentinel bit caps the run at Q + 1 when all Q bits are zero.
    let rest = (hash >> P) | (1 << Q);
    (index, rest.trailing_zeros() as u8 + 1)
}

// ---------------------------------------------------------------------------
// Dense encoding: 6-bit registers packed LSB first, four per three bytes.

fn dense_get(body: &[u8], index: usize) -> u8 {
    let (at, shift) = (index * 6 / 8, index * 6 % 8);
    let lo = u16::from(body.get(at).copied().unwrap_or(0));
    let hi = u16::from(body.get(at + 1).copied().unwrap_or(0));
    ((lo | hi << 8) >> shift) as u8 & 63
}

fn dense_raise(body: &mut [u8], index: usize, count: u8) -> bool {
    if count <= dense_get(body, index) {
        return false;
    }
    let (at, shift) = (index * 6 / 8, index * 6 % 8);
    let mask = 63u16 << shift;
    let bits = u16::from(count & 63) << shift;
    for (offset, byte) in body.iter_mut().skip(at).take(2).enumerate() {
        let keep = !(mask >> (8 * offset)) as u8;
        *byte = (*byte & keep) | (bits >> (8 * offset)) as u8;
    }
    true
}

fn unpack_dense(body: &[u8]) -> Box<[u8; REGISTERS]> {
    let mut regs = Box::new([0u8; REGISTERS]);
    for (four, three) in regs.chunks_exact_mut(4).zip(body.chunks_exact(3)) {
        let word = u32::from(three[0]) | u32::from(three[1]) << 8 | u32::from(three[2]) << 16;
        for (i, reg) in four.iter_mut().enumerate() {
            *reg = (word >> (6 * i)) as u8 & 63;
        }
    }
    regs
}

fn pack_dense(regs: &[u8; REGISTERS], body: &mut [u8]) {
    for (three, four) in body.chunks_exact_mut(3).zip(regs.chunks_exact(4)) {
        let word = four
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &r)| acc | u32::from(r & 63) << (6 * i));
        three.copy_from_slice(&word.to_le_bytes()[..3]);
    }
}

// ---------------------------------------------------------------------------
// Sparse encoding: run-length opcodes ZERO (00xxxxxx), XZERO (01xxxxxx
// yyyyyyyy) and VAL (1vvvvvxx).

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Zero(usize),
    XZero(usize),
    Val { value: u8, run: usize },
}

impl Op {
    /// Decodes the opcode at `body[at]`.
    ///
    /// An XZERO cut short by the end of the value reads its missing byte as 0:
    /// Redis reads the byte past its string there, which is the terminating NUL
    /// of a value as `SET` stored it. Once Redis has itself split such an XZERO
    /// that byte holds a leftover of the edit, invisible in the value's bytes;
    /// only values crafted with a half opcode at the end can tell the difference.
    fn decode(body: &[u8], at: usize) -> Option<Op> {
        let b = *body.get(at)?;
        Some(match b & 0xc0 {
            0x00 => Op::Zero(usize::from(b & 0x3f) + 1),
            0x40 => {
                let low = body.get(at + 1).copied().unwrap_or(0);
                Op::XZero((usize::from(b & 0x3f) << 8 | usize::from(low)) + 1)
            }
            _ => Op::Val {
                value: (b >> 2 & 0x1f) + 1,
                run: usize::from(b & 3) + 1,
            },
        })
    }

    fn span(self) -> usize {
        match self {
            Op::Zero(n) | Op::XZero(n) => n,
            Op::Val { run, .. } => run,
        }
    }

    fn width(self) -> usize {
        match self {
            Op::XZero(_) => 2,
            _ => 1,
        }
    }
}

/// Walks the opcodes of a sparse body, yielding each with its byte offset.
fn sparse_ops(body: &[u8]) -> impl Iterator<Item = (usize, Op)> + '_ {
    let mut at = 0;
    std::iter::from_fn(move || {
        let op = Op::decode(body, at)?;
        let here = at;
        at += op.width();
        Some((here, op))
    })
}

/// Only ever called with 1..=32 and 1..=4, which is what the 5 + 2 bits hold.
fn val_byte(value: u8, run: usize) -> u8 {
    0x80 | (value.wrapping_sub(1) & 0x1f) << 2 | (run.wrapping_sub(1) & 3) as u8
}

/// Appends the shortest opcode for `run` (1..=16384) zero registers.
fn push_zero_run(out: &mut Vec<u8>, run: usize) {
    let n = run.wrapping_sub(1);
    if run > SPARSE_ZERO_MAX_RUN {
        out.push((n >> 8 & 0x3f) as u8 | 0x40);
        out.push((n & 0xff) as u8);
    } else {
        out.push(n as u8);
    }
}

/// Registers of a sparse body. The runs must cover exactly 16384 registers:
/// Redis 7.0.15 as shipped with the CVE-2025-32023 fix (upstream from 7.2.10)
/// rejects any opcode running past the last register, trailing ones included,
/// in counting, merging and conversion alike.
fn sparse_registers(body: &[u8]) -> Result<Box<[u8; REGISTERS]>, HllError> {
    let mut regs = Box::new([0u8; REGISTERS]);
    let mut next = 0;
    for (_, op) in sparse_ops(body) {
        let run = regs
            .get_mut(next..next + op.span())
            .ok_or(HllError::Corrupt)?;
        if let Op::Val { value, .. } = op {
            run.fill(value);
        }
        next += op.span();
    }
    if next == REGISTERS {
        Ok(regs)
    } else {
        Err(HllError::Corrupt)
    }
}

fn registers_of(v: &[u8]) -> Result<Box<[u8; REGISTERS]>, HllError> {
    match encoding(v)? {
        Encoding::Dense => Ok(unpack_dense(body(v))),
        Encoding::Sparse => sparse_registers(body(v)),
    }
}

/// Rewrites a sparse value as dense, keeping the rest of the header as Redis
/// does (its cached count included). A no-op on a dense value.
fn to_dense(v: &mut Vec<u8>) -> Result<(), HllError> {
    if encoding(v)? == Encoding::Dense {
        return Ok(());
    }
    let regs = sparse_registers(body(v))?;
    let mut dense = vec![0u8; DENSE_LEN];
    dense[..HEADER_LEN].copy_from_slice(v.get(..HEADER_LEN).unwrap_or(&[0; HEADER_LEN]));
    dense[ENCODING_AT] = 0;
    pack_dense(&regs, body_mut(&mut dense));
    *v = dense;
    Ok(())
}

enum SparseRaise {
    Unchanged,
    Changed,
    Promote,
}

/// Raises one register of a sparse value in place, the way hllSparseSet does:
/// the covering opcode is split into at most three, then a few neighbouring
/// VALs are coalesced. The result is order-dependent, so it cannot be replaced
/// by re-encoding the registers without breaking byte compatibility.
fn sparse_raise(
    v: &mut Vec<u8>,
    index: usize,
    count: u8,
    sparse_max: usize,
) -> Result<SparseRaise, HllError> {
    if count > SPARSE_VAL_MAX_VALUE {
        return Ok(SparseRaise::Promote);
    }
    let mut first = 0usize;
    let mut prev = None;
    let mut found = None;
    for (at, op) in sparse_ops(body(v)) {
        if index < first + op.span() {
            found = Some((at, op));
            break;
        }
        prev = Some(at);
        first += op.span();
    }
    let (at, op) = found.ok_or(HllError::Corrupt)?;

    match op {
        Op::Val { value, .. } if value >= count => return Ok(SparseRaise::Unchanged),
        Op::Val { run: 1, .. } | Op::Zero(1) => {
            if let Some(b) = body_mut(v).get_mut(at) {
                *b = val_byte(count, 1);
            }
        }
        _ => {
            let last = first + op.span() - 1;
            let mut seq = Vec::with_capacity(5);
            let push_run = |seq: &mut Vec<u8>, run: usize| match op {
                Op::Val { value, .. } => seq.push(val_byte(value, run)),
                _ => push_zero_run(seq, run),
            };
            if index > first {
                push_run(&mut seq, index - first);
            }
            seq.push(val_byte(count, 1));
            if index < last {
                push_run(&mut seq, last - index);
            }

            let old_len = v.len();
            if seq.len() > op.width() && old_len + seq.len() - op.width() > sparse_max {
                return Ok(SparseRaise::Promote);
            }
            // An XZERO cut short at the very end occupies one byte, not two;
            // Redis still accounts for two and so drops the last byte of `seq`.
            let new_len = old_len + seq.len() - op.width();
            let start = HEADER_LEN + at;
            let end = (start + op.width()).min(old_len);
            v.splice(start..end, seq);
            v.truncate(new_len);
        }
    }
    coalesce_vals(v, HEADER_LEN + prev.unwrap_or(0));
    invalidate_cache(v);
    Ok(SparseRaise::Changed)
}

/// Merges equal adjacent VALs in the few opcodes around an edit. Redis looks
/// at five opcodes from the one before the edit and no further, so runs it
/// leaves unmerged must stay unmerged here too.
fn coalesce_vals(v: &mut Vec<u8>, mut at: usize) {
    let mut budget = 5;
    while budget > 0 {
        let Some(&b) = v.get(at) else { break };
        budget -= 1;
        let Some(Op::Val { value, run }) = Op::decode(v, at) else {
            at += if b & 0xc0 == 0x40 { 2 } else { 1 };
            continue;
        };
        if let Some(Op::Val {
            value: next_value,
            run: next_run,
        }) = Op::decode(v, at + 1)
        {
            if next_value == value && run + next_run <= SPARSE_VAL_MAX_RUN {
                v[at + 1] = val_byte(value, run + next_run);
                v.remove(at);
                continue;
            }
        }
        at += 1;
    }
}

// ---------------------------------------------------------------------------
// Estimation (Ertl, "New cardinality estimation algorithms for HyperLogLog
// sketches", arXiv:1702.01284), in Redis's exact order of floating-point
// operations so that results agree to the unit.

fn histogram<'a>(regs: impl Iterator<Item = &'a u8>) -> [u64; 256] {
    let mut hist = [0u64; 256];
    for &r in regs {
        hist[usize::from(r)] += 1;
    }
    hist
}

fn estimate(hist: &[u64; 256]) -> u64 {
    let m = REGISTERS as f64;
    let mut z = m * tau((m - hist[Q + 1] as f64) / m);
    for &h in hist[1..=Q].iter().rev() {
        z += h as f64;
        z *= 0.5;
    }
    z += m * sigma(hist[0] as f64 / m);
    (ALPHA_INF * m * m / z).round() as u64
}

fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let mut y = 1.0;
    let mut z = x;
    loop {
        x *= x;
        let before = z;
        z += x * y;
        y += y;
        if z == before {
            return z;
        }
    }
}

fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let mut y = 1.0;
    let mut z = 1.0 - x;
    loop {
        x = x.sqrt();
        let before = z;
        y *= 0.5;
        // C's pow(1 - x, 2), which compilers fold to this exact product.
        z -= (1.0 - x) * (1.0 - x) * y;
        if z == before {
            return z / 3.0;
        }
    }
}

#[cfg(test)]
mod tests;
