//! Redis's CRC64 (Jones polynomial `0xad93d23594c935a9`, reflected, init 0,
//! no final xor — the `crc` crate's `CRC_64_REDIS`), running over a stream,
//! and the combination of two CRCs of adjacent byte runs without their bytes
//! ([`crc64_combine`]), which is what lets cores checksum their own sections
//! of one file. It owns nothing but arithmetic: no I/O.

use crc::{Crc, Digest, Table, CRC_64_REDIS};

/// Slice-by-16 tables (32 KiB, built at compile time): several GB/s, so
/// checksumming stays far below the cost of encoding the keys.
static REDIS: Crc<u64, Table<16>> = Crc::<u64, Table<16>>::new(&CRC_64_REDIS);

/// The CRC64 of `bytes` from zero, as Redis's `crc64(0, bytes, len)`.
pub fn crc64(bytes: &[u8]) -> u64 {
    REDIS.checksum(bytes)
}

/// A running CRC64 and the number of bytes it covers.
#[derive(Clone)]
pub struct Crc64 {
    digest: Digest<'static, u64, Table<16>>,
    len: u64,
}

impl Default for Crc64 {
    fn default() -> Self {
        Crc64::new()
    }
}

impl Crc64 {
    pub fn new() -> Crc64 {
        Crc64 {
            digest: REDIS.digest(),
            len: 0,
        }
    }

    pub fn update(&mut self, bytes: &[u8]) {
        self.digest.update(bytes);
        self.len += bytes.len() as u64;
    }

    /// The CRC of every byte given so far.
    pub fn value(&self) -> u64 {
        self.digest.clone().finalize()
    }

    /// How many bytes it covers.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// The Jones polynomial reflected, as a right-shifting CRC register uses it.
const POLY_REFLECTED: u64 = 0xad93_d235_94c9_35a9u64.reverse_bits();

/// `mat × vec` over GF(2): the xor of the columns of `mat` picked by `vec`'s bits.
fn gf2_times(mat: &[u64; 64], mut vec: u64) -> u64 {
    let mut sum = 0;
    let mut i = 0;
    while vec != 0 {
        if vec & 1 != 0 {
            sum ^= mat[i];
        }
        vec >>= 1;
        i += 1;
    }
    sum
}

fn gf2_square(square: &mut [u64; 64], mat: &[u64; 64]) {
    for (n, row) in square.iter_mut().enumerate() {
        *row = gf2_times(mat, mat[n]);
    }
}

/// The CRC64 of `A ‖ B` from `crc1 = crc64(A)`, `crc2 = crc64(B)` and
/// `len2 = |B|`. With init 0 and no final xor the CRC is linear:
/// `crc(A ‖ B) = crc(A ‖ 0^|B|) ⊕ crc(B)`, and appending zero bytes is a
/// linear operator on the register, applied here by squaring the one-zero-bit
/// operator (zlib's `crc32_combine`, widened to 64 bits): O(log len2).
pub fn crc64_combine(mut crc1: u64, crc2: u64, mut len2: u64) -> u64 {
    if len2 == 0 {
        return crc1;
    }
    let mut even = [0u64; 64];
    let mut odd = [0u64; 64];
    // The operator for one zero bit.
    odd[0] = POLY_REFLECTED;
    let mut row = 1u64;
    for slot in odd.iter_mut().skip(1) {
        *slot = row;
        row <<= 1;
    }
    gf2_square(&mut even, &odd); // two zero bits
    gf2_square(&mut odd, &even); // four zero bits
    loop {
        // Eight zero bits (one byte) on the first pass, then doubling.
        gf2_square(&mut even, &odd);
        if len2 & 1 != 0 {
            crc1 = gf2_times(&even, crc1);
        }
        len2 >>= 1;
        if len2 == 0 {
            break;
        }
        gf2_square(&mut odd, &even);
        if len2 & 1 != 0 {
            crc1 = gf2_times(&odd, crc1);
        }
        len2 >>= 1;
        if len2 == 0 {
            break;
        }
    }
    crc1 ^ crc2
}
