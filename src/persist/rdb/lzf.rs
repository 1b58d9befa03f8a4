//! LZF, the compression Redis applies to RDB strings longer than 20 bytes
//! (`rdbcompression yes`): liblzf's format, written in safe Rust. The
//! decompressor must accept anything liblzf (so redis-server) produces and
//! must never read or write out of bounds nor panic on hostile input; the
//! compressor must produce what liblzf's decompressor accepts, it need not
//! produce the same bytes. It owns the two transforms and nothing else.
//!
//! The format is a sequence of runs, each opened by a control byte `c`:
//! - `c < 32`: `c + 1` literal bytes follow;
//! - else a back reference: `len = c >> 5` (7 means "add the next byte"),
//!   `off = (c & 31) << 8 | next byte`, copying `len + 2` bytes from
//!   `off + 1` bytes back in the output (overlapping copies repeat bytes).
//!
//! (A well-kept crate would have been preferable; the one on crates.io is
//! marked deprecated, and the format is small enough to own with tests on
//! both sides against redis-server.)

use std::fmt;

const MAX_LIT: usize = 32;
const MAX_OFF: usize = 1 << 13;
const MAX_REF: usize = (1 << 8) + (1 << 3);
/// The most output one input byte can become: a long back reference is 3
/// bytes for 264 output bytes.
pub const MAX_EXPANSION: usize = 88;
/// Hash table size (log2). 2^14 slots of 4 bytes: 64 KiB, stays in L2 while
/// compressing; Redis's liblzf uses 2^16 for a slightly better ratio.
const HLOG: u32 = 14;

/// Why LZF data could not be decompressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LzfError {
    /// A run or back reference goes past the end of the compressed bytes.
    Truncated,
    /// A back reference points before the start of the output.
    BadReference,
    /// The output would be longer than the length the record declares.
    TooLong,
    /// The output ended shorter than the length the record declares.
    TooShort,
    /// The declared length is more than the compressed bytes could ever hold.
    Impossible,
}

impl fmt::Display for LzfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LzfError::Truncated => "a run goes past the end of the compressed data",
            LzfError::BadReference => "a back reference points before the start",
            LzfError::TooLong => "more output than the declared length",
            LzfError::TooShort => "less output than the declared length",
            LzfError::Impossible => "the declared length exceeds what the data can expand to",
        })
    }
}

impl std::error::Error for LzfError {}

/// Decompress `input`, which must expand to exactly `ulen` bytes.
pub fn lzf_decompress(input: &[u8], ulen: usize) -> Result<Vec<u8>, LzfError> {
    let mut out = Vec::new();
    lzf_decompress_into(input, ulen, &mut out)?;
    Ok(out)
}

/// As [`lzf_decompress`], into `out` (cleared first), so a loader reuses one
/// buffer for every value.
pub fn lzf_decompress_into(input: &[u8], ulen: usize, out: &mut Vec<u8>) -> Result<(), LzfError> {
    out.clear();
    if ulen > input.len().saturating_mul(MAX_EXPANSION) {
        return Err(LzfError::Impossible);
    }
    out.reserve(ulen);
    let mut i = 0;
    while i < input.len() {
        let ctrl = usize::from(input[i]);
        i += 1;
        if ctrl < 32 {
            let run = ctrl + 1;
            let lit = input.get(i..i + run).ok_or(LzfError::Truncated)?;
            if out.len() + run > ulen {
                return Err(LzfError::TooLong);
            }
            out.extend_from_slice(lit);
            i += run;
        } else {
            let mut len = ctrl >> 5;
            if len == 7 {
                len += usize::from(*input.get(i).ok_or(LzfError::Truncated)?);
                i += 1;
            }
            len += 2;
            let low = usize::from(*input.get(i).ok_or(LzfError::Truncated)?);
            i += 1;
            let back = ((ctrl & 0x1f) << 8) + low + 1;
            if back > out.len() {
                return Err(LzfError::BadReference);
            }
            if out.len() + len > ulen {
                return Err(LzfError::TooLong);
            }
            let from = out.len() - back;
            if back >= len {
                out.extend_from_within(from..from + len);
            } else {
                // Overlapping: each byte may be one this copy just wrote.
                for k in 0..len {
                    let b = out[from + k];
                    out.push(b);
                }
            }
        }
    }
    if out.len() != ulen {
        return Err(LzfError::TooShort);
    }
    Ok(())
}

/// An LZF compressor with its hash table, kept between calls so short values
/// do not pay for clearing a fresh table. A slot holds `base + position + 1`,
/// and `base` moves past every input compressed, so a slot from an earlier
/// call reads as empty: the output depends on the input alone (a key
/// compresses to the same bytes whichever core's writer encodes it).
pub struct Compressor {
    table: Box<[u32]>,
    base: u32,
}

impl Default for Compressor {
    fn default() -> Self {
        Compressor::new()
    }
}

fn hash(a: u8, b: u8, c: u8) -> usize {
    let v = u32::from(a) << 16 | u32::from(b) << 8 | u32::from(c);
    (v.wrapping_mul(2_654_435_761) >> (32 - HLOG)) as usize
}

impl Compressor {
    pub fn new() -> Compressor {
        Compressor {
            table: vec![0u32; 1 << HLOG].into_boxed_slice(),
            base: 0,
        }
    }

    /// Compress `input` into `out` (cleared first). Returns false, leaving
    /// `out` unspecified, when the result would be longer than `limit` bytes:
    /// the caller then stores the input raw.
    pub fn compress(&mut self, input: &[u8], out: &mut Vec<u8>, limit: usize) -> bool {
        out.clear();
        let n = input.len();
        // Positions are kept as u32; a longer input is never worth it here
        // (Redis's own strings stop at 512 MB) and simply stays raw.
        if n == 0 || n > u32::MAX as usize {
            return false;
        }
        if u64::from(self.base) + n as u64 + 1 > u64::from(u32::MAX) {
            self.table.fill(0);
            self.base = 0;
        }
        let base = self.base as usize;
        self.base += n as u32 + 1;
        out.reserve(limit.min(n) + 1);
        let mut lit = 0usize;
        out.push(0); // the control byte of the first literal run
        let mut ip = 0usize;
        while ip + 2 < n {
            let h = hash(input[ip], input[ip + 1], input[ip + 2]);
            let slot = self.table[h] as usize;
            self.table[h] = (base + ip + 1) as u32;
            // `slot > base`: written during this call, at position `slot - base - 1`.
            let r = slot.wrapping_sub(base + 1);
            if slot > base && r < ip && ip - r - 1 < MAX_OFF && input[r..r + 3] == input[ip..ip + 3]
            {
                let off = ip - r - 1;
                let maxlen = (n - ip - 2).min(MAX_REF);
                let mut len = 3;
                while len < maxlen && input[r + len] == input[ip + len] {
                    len += 1;
                }
                close_literals(out, lit);
                let l = len - 2;
                if l < 7 {
                    out.push(((off >> 8) + (l << 5)) as u8);
                } else {
                    out.push(((off >> 8) + (7 << 5)) as u8);
                    out.push((l - 7) as u8);
                }
                out.push(off as u8);
                lit = 0;
                out.push(0);
                // Remember the positions inside the match, for later matches.
                let end = ip + len;
                ip += 1;
                while ip < end && ip + 2 < n {
                    self.table[hash(input[ip], input[ip + 1], input[ip + 2])] =
                        (base + ip + 1) as u32;
                    ip += 1;
                }
                ip = end;
            } else {
                push_literal(out, &mut lit, input[ip]);
                ip += 1;
            }
            if out.len() > limit + 1 {
                return false;
            }
        }
        while ip < n {
            push_literal(out, &mut lit, input[ip]);
            ip += 1;
        }
        close_literals(out, lit);
        out.len() <= limit
    }
}

/// One literal byte into the run being written; a full run is closed and a
/// new one's control byte reserved.
#[inline]
fn push_literal(out: &mut Vec<u8>, lit: &mut usize, byte: u8) {
    *lit += 1;
    out.push(byte);
    if *lit == MAX_LIT {
        let at = out.len() - *lit - 1;
        out[at] = (MAX_LIT - 1) as u8;
        *lit = 0;
        out.push(0);
    }
}

/// Close the literal run of `lit` bytes: write its control byte, or take back
/// the reserved one when the run is empty.
#[inline]
fn close_literals(out: &mut Vec<u8>, lit: usize) {
    if lit == 0 {
        out.pop();
    } else {
        let at = out.len() - lit - 1;
        out[at] = (lit - 1) as u8;
    }
}

/// Compress with a fresh table; `None` when the result would exceed `limit`.
pub fn lzf_compress(input: &[u8], limit: usize) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    Compressor::new()
        .compress(input, &mut out, limit)
        .then_some(out)
}
