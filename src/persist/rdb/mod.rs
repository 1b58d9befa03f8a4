//! Redis's RDB snapshot format (version 10, what redis-server 7.0 writes), both
//! ways, as a pure codec: [`SectionWriter`] encodes a run of string keys into
//! any `Write`, [`FileWriter`] joins a header, any number of such sections and
//! the trailer into one `dump.rdb`, [`Reader`] reads one back over any `Read`,
//! and [`check_rdb`] walks a file for `stairkv check`. It owns the byte layout
//! (opcodes, length and string encodings, LZF, the CRC64 trailer) and nothing
//! else: it never opens a file it was not handed (except `check_rdb`), never
//! touches a shard or a core, never decides what an expired key means, and
//! never skips a record it does not understand — a type stairkv does not hold
//! yet is an error naming the type and the key.
//!
//! # Sections and the checksum
//! A snapshot is written by every core in parallel, each serializing its own
//! shards. The file is `header ‖ section₁ ‖ … ‖ sectionₙ ‖ EOF ‖ crc64`, and
//! the trailer is Redis's CRC64 (Jones polynomial, reflected, init 0) over
//! every byte before it. Each [`SectionWriter`] keeps the CRC of its own bytes
//! (from zero) while it encodes them, so the cost of checksumming is spread
//! over the cores that produce the bytes; [`FileWriter`] then joins the
//! sections' CRCs with [`crc64_combine`] (zlib's GF(2) matrix method: O(log n)
//! 64×64 bit-matrix products for a section of n bytes, microseconds) instead
//! of reading every byte again on one thread. The same property lets sections
//! be kept as separate files and joined later, or written in place, as long as
//! their [`Section`] (CRC, length, counts) travels with them.
//!
//! `RESIZEDB` comes before the keys but is only a hint to the loader (Redis
//! uses it to presize its tables), so a joined file may carry counts taken
//! when the snapshot began.
//!
//! # Reading
//! [`Reader`] pulls one [`Item`] at a time over a `Read` (wrap a file in a
//! `BufReader`): memory stays at one record whatever the file's size, and a
//! string is allocated as its bytes arrive, never from a length the file
//! merely claims, so a corrupt length cannot make it allocate gigabytes.
//! Every error is an [`Error`] with the byte offset where the bad field
//! starts. A key's deadline is returned as written (unix ms), expired or not:
//! the caller decides.

mod crc;
mod dump;
mod intset;
mod listpack;
mod lzf;
pub mod object;
mod read;
mod write;
mod ziplist;
mod zipmap;

#[cfg(test)]
mod testkit;
#[cfg(test)]
mod tests;

pub use crc::{crc64, crc64_combine, Crc64};
pub use dump::{
    decode_object, dump_functions, dump_string, dump_value, encode_object, restore_functions,
    restore_string, restore_value, BadPayload, RestoreFunctions,
};
pub use lzf::{lzf_compress, lzf_decompress, Compressor, LzfError};
pub use read::{check_rdb, Checksum, Item, Reader, Record, Step, Summary};
pub use write::{FileWriter, Header, Options, Section, SectionWriter, Written};

use std::fmt;

/// The version this codec writes: `REDIS0010`, as redis-server 7.0.
pub const RDB_VERSION: u32 = 10;
/// The newest version the reader accepts. 11 (7.2) and 12 (7.4) changed only
/// types stairkv refuses anyway, so a string-only file of theirs reads the
/// same way; an opcode or type they added is still an error.
pub const MAX_READ_VERSION: u32 = 12;
/// The `redis-ver` aux field written: the Redis release whose format and
/// encodings this file follows (tools such as redis-check-rdb print it).
pub const REDIS_VER: &str = "7.0.15";

/// Opcodes, the byte before a record (rdb.h).
pub(crate) mod op {
    pub const FUNCTION2: u8 = 245;
    pub const FUNCTION_PRE_GA: u8 = 246;
    pub const MODULE_AUX: u8 = 247;
    pub const IDLE: u8 = 248;
    pub const FREQ: u8 = 249;
    pub const AUX: u8 = 250;
    pub const RESIZEDB: u8 = 251;
    pub const EXPIRETIME_MS: u8 = 252;
    pub const EXPIRETIME: u8 = 253;
    pub const SELECTDB: u8 = 254;
    pub const EOF: u8 = 255;
}

/// The string value type, the only one stairkv holds so far.
pub(crate) const TYPE_STRING: u8 = 0;

/// Length-encoding tags (the top two bits of the first byte).
pub(crate) mod len {
    pub const BITS6: u8 = 0;
    pub const BITS14: u8 = 1;
    pub const BITS32: u8 = 0x80;
    pub const BITS64: u8 = 0x81;
    pub const ENCVAL: u8 = 3;
    /// The special string encodings after an `ENCVAL` tag.
    pub const ENC_INT8: u8 = 0;
    pub const ENC_INT16: u8 = 1;
    pub const ENC_INT32: u8 = 2;
    pub const ENC_LZF: u8 = 3;
}

/// The name of an RDB value type byte that is not a string, for the error
/// that refuses it (rdb.h, through Redis 7.4), or `None` for a byte no Redis
/// release uses as a type.
pub fn type_name(t: u8) -> Option<&'static str> {
    Some(match t {
        1 => "list",
        2 => "set",
        3 => "zset",
        4 => "hash",
        5 => "zset (zset_2)",
        6 => "module (pre-GA)",
        7 => "module",
        9 => "hash (zipmap)",
        10 => "list (ziplist)",
        11 => "set (intset)",
        12 => "zset (ziplist)",
        13 => "hash (ziplist)",
        14 => "list (quicklist)",
        15 => "stream (listpacks)",
        16 => "hash (listpack)",
        17 => "zset (listpack)",
        18 => "list (quicklist_2)",
        19 => "stream (listpacks_2)",
        20 => "set (listpack)",
        21 => "stream (listpacks_3)",
        22 => "hash (metadata, pre-GA)",
        23 => "hash (listpack_ex, pre-GA)",
        24 => "hash (metadata)",
        25 => "hash (listpack_ex)",
        _ => return None,
    })
}

/// What went wrong reading an RDB stream, and where.
#[derive(Debug, thiserror::Error)]
#[error("offset {offset}: {kind}")]
pub struct Error {
    /// Byte offset from the start of the file of the field that is wrong
    /// (for a truncated file: its length).
    pub offset: u64,
    pub kind: ErrorKind,
}

/// The kinds of [`Error`].
#[derive(Debug, thiserror::Error)]
pub enum ErrorKind {
    #[error("read error: {0}")]
    Io(#[from] std::io::Error),
    #[error("the file ends in the middle of a record (truncated)")]
    Truncated,
    #[error("not an RDB file (it does not start with REDIS and four digits)")]
    NotRdb,
    #[error("RDB version {0} is not supported (1 to {MAX_READ_VERSION})")]
    Version(u32),
    #[error("checksum mismatch: the file says {stored:016x}, its bytes give {computed:016x}")]
    Checksum { stored: u64, computed: u64 },
    #[error("key {} has type {name} (RDB type {byte}), which stairkv does not hold yet", Quoted(.key))]
    UnsupportedType {
        byte: u8,
        name: &'static str,
        key: Vec<u8>,
    },
    #[error(
        "a key in database {0}: stairkv holds one database (0); move or flush the others first"
    )]
    OtherDb(u64),
    #[error("module auxiliary data (MODULE_AUX): stairkv loads no Redis modules")]
    ModuleAux,
    #[error(
        "a pre-release function library (FUNCTION_PRE_GA, Redis 7.0 release candidates): save it again with a Redis 7.0 release"
    )]
    Function,
    #[error("unknown opcode or value type {0}")]
    UnknownType(u8),
    #[error("bad length encoding {0:#04x}")]
    BadLength(u8),
    #[error("a length of {0} does not fit in memory here")]
    TooLong(u64),
    #[error("bad string encoding {0}")]
    BadEncoding(u8),
    #[error("bad LZF data: {0}")]
    Lzf(#[from] LzfError),
    #[error("key {} holds a bad {name} value: {reason}", Quoted(.key))]
    BadValue {
        name: &'static str,
        key: Vec<u8>,
        reason: String,
    },
}

impl Error {
    pub(crate) fn at(offset: u64, kind: ErrorKind) -> Error {
        Error { offset, kind }
    }
}

/// Bytes shown the way redis-cli quotes them: printable ASCII as is, the
/// rest as `\xNN`, in double quotes.
pub struct Quoted<'a>(pub &'a [u8]);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"")?;
        for &b in self.0 {
            match b {
                b'"' => f.write_str("\\\"")?,
                b'\\' => f.write_str("\\\\")?,
                b'\n' => f.write_str("\\n")?,
                b'\r' => f.write_str("\\r")?,
                b'\t' => f.write_str("\\t")?,
                0x20..=0x7e => write!(f, "{}", b as char)?,
                _ => write!(f, "\\x{b:02x}")?,
            }
        }
        f.write_str("\"")
    }
}
