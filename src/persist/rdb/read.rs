//! The RDB reader: [`Reader`] pulls one [`Item`] at a time from any `Read`,
//! checks the CRC64 trailer at the end, and refuses — with the byte offset —
//! whatever stairkv cannot hold: a value type other than string (named, with
//! its key), a database other than 0, module aux data, function libraries.
//! [`check_rdb`] walks a whole file for `stairkv check`. It never trusts a
//! length before the bytes behind it arrived (allocation grows with what was
//! actually read), never panics on any input, and never judges a deadline:
//! expired keys come back with theirs.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;

use super::lzf::lzf_decompress_into;
use super::object;
use super::{len, op, type_name, Crc64, Error, ErrorKind, MAX_READ_VERSION, TYPE_STRING};
use crate::storage::object::Object;

/// One thing read from the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// An aux field (`redis-ver`, `ctime`, ...), as written.
    Aux { key: Vec<u8>, value: Vec<u8> },
    /// The `RESIZEDB` hint: keys and keys with a TTL in the database that follows.
    ResizeDb { db_size: u64, expires_size: u64 },
    /// A function library's code (`FUNCTION2`).
    Function(Vec<u8>),
    /// A string key.
    Key(Record),
}

/// A string key as the file holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub key: Vec<u8>,
    /// The value's bytes (an integer encoding comes back as its decimal digits).
    pub value: Vec<u8>,
    /// Unix ms; in the past when the key expired before loading.
    pub expire_at_ms: Option<i64>,
    /// Seconds since last access, written when the saver evicted by LRU.
    pub lru_idle_secs: Option<u64>,
    /// The LFU counter, written when the saver evicted by LFU.
    pub lfu_freq: Option<u8>,
    /// A hash or set (then `value` is empty).
    pub object: Option<Box<Object>>,
}

/// What the trailer said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checksum {
    /// It matched the bytes.
    Verified(u64),
    /// It was zero: the saver had `rdbchecksum no` (Redis skips the check too).
    NotComputed,
    /// Files before version 5 have none.
    Absent,
}

/// Bytes read so far, a running CRC over them, and reads that turn a short
/// file into `Truncated` at its length.
struct Source<R> {
    inner: R,
    offset: u64,
    crc: Crc64,
}

/// Strings are read in pieces of at most this much more than already
/// arrived, so a length the file merely claims allocates nothing.
const CHUNK: usize = 64 * 1024;

impl<R: Read> Source<R> {
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), Error> {
        let mut got = 0;
        while got < buf.len() {
            match self.inner.read(&mut buf[got..]) {
                Ok(0) => {
                    self.crc.update(&buf[..got]);
                    self.offset += got as u64;
                    return Err(Error::at(self.offset, ErrorKind::Truncated));
                }
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::at(self.offset + got as u64, ErrorKind::Io(e))),
            }
        }
        self.crc.update(buf);
        self.offset += buf.len() as u64;
        Ok(())
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], Error> {
        let mut b = [0u8; N];
        self.fill(&mut b)?;
        Ok(b)
    }

    fn u8(&mut self) -> Result<u8, Error> {
        Ok(self.array::<1>()?[0])
    }

    /// `n` bytes into `v` (cleared first; its allocation reused).
    fn vec_into(&mut self, n: u64, v: &mut Vec<u8>) -> Result<(), Error> {
        let at = self.offset;
        let n = usize::try_from(n).map_err(|_| Error::at(at, ErrorKind::TooLong(n)))?;
        v.clear();
        while v.len() < n {
            let start = v.len();
            let want = (n - start).min(start.max(CHUNK));
            v.resize(start + want, 0);
            self.fill(&mut v[start..])?;
        }
        Ok(())
    }
}

/// Reads an RDB stream item by item.
pub struct Reader<R> {
    src: Source<R>,
    version: u32,
    /// Set once `EOF` and the trailer were read.
    end: Option<Checksum>,
    /// A compressed string's bytes, reused.
    scratch: Vec<u8>,
}

/// What [`Reader::next_into`] read.
#[derive(Debug)]
pub enum Step {
    /// A key, its key and (a string's) value in the caller's buffers; a
    /// hash or set decoded whole.
    Key {
        expire_at_ms: Option<i64>,
        lru_idle_secs: Option<u64>,
        lfu_freq: Option<u8>,
        object: Option<Box<Object>>,
    },
    /// Anything else.
    Other(Item),
    End,
}

/// A decoded length, or one of the special string encodings.
enum Len {
    Plain(u64),
    Encoded(u8),
}

impl<R: Read> Reader<R> {
    /// Read and check the magic and version. Wrap a file in a `BufReader`:
    /// the reader asks for a few bytes at a time.
    pub fn new(inner: R) -> Result<Reader<R>, Error> {
        let mut src = Source {
            inner,
            offset: 0,
            crc: Crc64::new(),
        };
        let magic: [u8; 9] = src.array().map_err(|e| match e.kind {
            ErrorKind::Truncated => Error::at(0, ErrorKind::NotRdb),
            _ => e,
        })?;
        if &magic[..5] != b"REDIS" || !magic[5..].iter().all(u8::is_ascii_digit) {
            return Err(Error::at(0, ErrorKind::NotRdb));
        }
        let version = magic[5..]
            .iter()
            .fold(0u32, |v, &d| v * 10 + u32::from(d - b'0'));
        if !(1..=MAX_READ_VERSION).contains(&version) {
            return Err(Error::at(5, ErrorKind::Version(version)));
        }
        Ok(Reader {
            src,
            version,
            end: None,
            scratch: Vec::new(),
        })
    }

    pub fn version(&self) -> u32 {
        self.version
    }

    /// A reader of one value with no file around it (a DUMP payload's
    /// body), in the encodings of RDB `version`.
    pub(crate) fn value_only(inner: R, version: u32) -> Reader<R> {
        Reader {
            src: Source {
                inner,
                offset: 0,
                crc: Crc64::new(),
            },
            version,
            end: None,
            scratch: Vec::new(),
        }
    }

    /// The string value at the reader's position, in any encoding.
    pub(crate) fn value_string(&mut self) -> Result<Vec<u8>, Error> {
        self.string()
    }

    /// A hash, set or list of RDB type `t` at the reader's position.
    pub(crate) fn value_object(&mut self, t: u8) -> Result<Object, Error> {
        let at = self.src.offset;
        let name = type_name(t).unwrap_or("value");
        let bad = |reason: String| {
            Error::at(
                at,
                ErrorKind::BadValue {
                    name,
                    key: Vec::new(),
                    reason,
                },
            )
        };
        let mut b;
        match t {
            object::TYPE_SET | object::TYPE_HASH => {
                let n = self.len()?;
                b = object::Builder::new(t, n);
                let (mut x, mut y) = (Vec::new(), Vec::new());
                for _ in 0..n {
                    self.string_into(&mut x)?;
                    if t == object::TYPE_SET {
                        b.member(&x).map_err(bad)?;
                    } else {
                        self.string_into(&mut y)?;
                        b.pair(&x, &y).map_err(bad)?;
                    }
                }
            }
            object::TYPE_LIST => {
                let n = self.len()?;
                b = object::Builder::new(t, n);
                let mut x = Vec::new();
                for _ in 0..n {
                    self.string_into(&mut x)?;
                    b.element(&x).map_err(bad)?;
                }
            }
            object::TYPE_ZSET | object::TYPE_ZSET_2 => {
                let n = self.len()?;
                b = object::Builder::new(t, n);
                let (mut m, mut text) = (Vec::new(), Vec::new());
                for _ in 0..n {
                    self.string_into(&mut m)?;
                    let score = if t == object::TYPE_ZSET_2 {
                        f64::from_le_bytes(self.src.array()?)
                    } else {
                        // `rdbLoadDoubleValue`: a length byte, or one of
                        // three for NaN, +inf and -inf.
                        match self.src.u8()? {
                            253 => f64::NAN,
                            254 => f64::INFINITY,
                            255 => f64::NEG_INFINITY,
                            len => {
                                self.src.vec_into(u64::from(len), &mut text)?;
                                object::score_text(&text).map_err(bad)?
                            }
                        }
                    };
                    b.scored(&m, score).map_err(bad)?;
                }
            }
            object::TYPE_LIST_QUICKLIST | object::TYPE_LIST_QUICKLIST_2 => {
                let nodes = self.len()?;
                b = object::Builder::new(t, 0);
                for _ in 0..nodes {
                    let container = if t == object::TYPE_LIST_QUICKLIST_2 {
                        self.len()?
                    } else {
                        object::NODE_PACKED
                    };
                    let blob = self.string()?;
                    match container {
                        object::NODE_PLAIN => b.element(&blob).map_err(bad)?,
                        object::NODE_PACKED => b.blob(t, &blob).map_err(bad)?,
                        c => return Err(bad(format!("quicklist node container {c}"))),
                    }
                }
            }
            _ => {
                let blob = self.string()?;
                b = object::Builder::new(t, 0);
                b.blob(t, &blob).map_err(bad)?;
            }
        }
        Ok(b.finish())
    }

    /// Bytes consumed so far (after the end: the file's length up to the trailer's end).
    pub fn offset(&self) -> u64 {
        self.src.offset
    }

    /// `Some` once the end was read and the trailer checked.
    pub fn checksum(&self) -> Option<Checksum> {
        self.end
    }

    pub fn into_inner(self) -> R {
        self.src.inner
    }

    /// The next item, or `None` at the end (after the trailer was checked).
    pub fn next_item(&mut self) -> Result<Option<Item>, Error> {
        let (mut key, mut value) = (Vec::new(), Vec::new());
        Ok(match self.next_into(&mut key, &mut value)? {
            Step::Key {
                expire_at_ms,
                lru_idle_secs,
                lfu_freq,
                object,
            } => Some(Item::Key(Record {
                key,
                value,
                expire_at_ms,
                lru_idle_secs,
                lfu_freq,
                object,
            })),
            Step::Other(item) => Some(item),
            Step::End => None,
        })
    }

    /// As [`Self::next_item`], a string key's key and value read into the
    /// caller's buffers (cleared first): a loader reuses two buffers for
    /// every key instead of allocating two a key.
    pub fn next_into(&mut self, key: &mut Vec<u8>, value: &mut Vec<u8>) -> Result<Step, Error> {
        if self.end.is_some() {
            return Ok(Step::End);
        }
        let mut expire_at_ms = None;
        let mut lru_idle_secs = None;
        let mut lfu_freq = None;
        loop {
            let at = self.src.offset;
            let t = self.src.u8()?;
            match t {
                op::EXPIRETIME_MS => {
                    expire_at_ms = Some(i64::from_le_bytes(self.src.array()?));
                }
                op::EXPIRETIME => {
                    let secs = i32::from_le_bytes(self.src.array()?);
                    expire_at_ms = Some(i64::from(secs) * 1000);
                }
                op::IDLE => lru_idle_secs = Some(self.len()?),
                op::FREQ => lfu_freq = Some(self.src.u8()?),
                op::SELECTDB => {
                    let db = self.len()?;
                    if db != 0 {
                        return Err(Error::at(at, ErrorKind::OtherDb(db)));
                    }
                }
                op::RESIZEDB => {
                    let db_size = self.len()?;
                    let expires_size = self.len()?;
                    return Ok(Step::Other(Item::ResizeDb {
                        db_size,
                        expires_size,
                    }));
                }
                op::AUX => {
                    let key = self.string()?;
                    let value = self.string()?;
                    return Ok(Step::Other(Item::Aux { key, value }));
                }
                op::MODULE_AUX => return Err(Error::at(at, ErrorKind::ModuleAux)),
                op::FUNCTION2 => return Ok(Step::Other(Item::Function(self.string()?))),
                op::FUNCTION_PRE_GA => return Err(Error::at(at, ErrorKind::Function)),
                op::EOF => {
                    self.end = Some(self.trailer()?);
                    return Ok(Step::End);
                }
                TYPE_STRING => {
                    self.string_into(key)?;
                    self.string_into(value)?;
                    return Ok(Step::Key {
                        expire_at_ms,
                        lru_idle_secs,
                        lfu_freq,
                        object: None,
                    });
                }
                t if object::is_object_type(t) => {
                    self.string_into(key)?;
                    value.clear();
                    let obj = self.value_object(t).map_err(|e| match e.kind {
                        ErrorKind::BadValue { name, reason, .. } => Error::at(
                            e.offset,
                            ErrorKind::BadValue {
                                name,
                                key: key.clone(),
                                reason,
                            },
                        ),
                        _ => e,
                    })?;
                    // Redis skips a collection that holds nothing.
                    if obj.as_ref().is_empty() {
                        (expire_at_ms, lru_idle_secs, lfu_freq) = (None, None, None);
                        continue;
                    }
                    return Ok(Step::Key {
                        expire_at_ms,
                        lru_idle_secs,
                        lfu_freq,
                        object: Some(Box::new(obj)),
                    });
                }
                other => {
                    let Some(name) = type_name(other) else {
                        return Err(Error::at(at, ErrorKind::UnknownType(other)));
                    };
                    // Every value type is followed by its key: read it to name it.
                    let key = self.string()?;
                    return Err(Error::at(
                        at,
                        ErrorKind::UnsupportedType {
                            byte: other,
                            name,
                            key,
                        },
                    ));
                }
            }
        }
    }

    /// The next key, passing over aux fields and hints.
    pub fn next_record(&mut self) -> Result<Option<Record>, Error> {
        loop {
            match self.next_item()? {
                Some(Item::Key(r)) => return Ok(Some(r)),
                Some(_) => {}
                None => return Ok(None),
            }
        }
    }

    /// After `EOF`: the 8-byte little-endian CRC64 of everything before it.
    fn trailer(&mut self) -> Result<Checksum, Error> {
        if self.version < 5 {
            return Ok(Checksum::Absent);
        }
        let computed = self.src.crc.value();
        let at = self.src.offset;
        let stored = u64::from_le_bytes(self.src.array()?);
        if stored == 0 {
            Ok(Checksum::NotComputed)
        } else if stored != computed {
            Err(Error::at(at, ErrorKind::Checksum { stored, computed }))
        } else {
            Ok(Checksum::Verified(stored))
        }
    }

    fn len_or_encoding(&mut self) -> Result<Len, Error> {
        let at = self.src.offset;
        let b = self.src.u8()?;
        Ok(match b >> 6 {
            len::BITS6 => Len::Plain(u64::from(b & 0x3f)),
            len::BITS14 => Len::Plain(u64::from(b & 0x3f) << 8 | u64::from(self.src.u8()?)),
            len::ENCVAL => Len::Encoded(b & 0x3f),
            _ => match b {
                len::BITS32 => Len::Plain(u64::from(u32::from_be_bytes(self.src.array()?))),
                len::BITS64 => Len::Plain(u64::from_be_bytes(self.src.array()?)),
                _ => return Err(Error::at(at, ErrorKind::BadLength(b))),
            },
        })
    }

    fn len(&mut self) -> Result<u64, Error> {
        let at = self.src.offset;
        match self.len_or_encoding()? {
            Len::Plain(n) => Ok(n),
            Len::Encoded(e) => Err(Error::at(at, ErrorKind::BadLength((len::ENCVAL << 6) | e))),
        }
    }

    /// A string in any encoding Redis writes: raw, int8/16/32, LZF.
    fn string(&mut self) -> Result<Vec<u8>, Error> {
        let mut v = Vec::new();
        self.string_into(&mut v)?;
        Ok(v)
    }

    /// A string into `out` (cleared first).
    fn string_into(&mut self, out: &mut Vec<u8>) -> Result<(), Error> {
        let at = self.src.offset;
        let int = |out: &mut Vec<u8>, v: i64| {
            out.clear();
            out.extend_from_slice(v.to_string().as_bytes());
        };
        match self.len_or_encoding()? {
            Len::Plain(n) => self.src.vec_into(n, out)?,
            Len::Encoded(len::ENC_INT8) => {
                int(out, i64::from(i8::from_le_bytes(self.src.array()?)))
            }
            Len::Encoded(len::ENC_INT16) => {
                int(out, i64::from(i16::from_le_bytes(self.src.array()?)))
            }
            Len::Encoded(len::ENC_INT32) => {
                int(out, i64::from(i32::from_le_bytes(self.src.array()?)))
            }
            Len::Encoded(len::ENC_LZF) => {
                let clen = self.len()?;
                let ulen_at = self.src.offset;
                let ulen = self.len()?;
                let ulen = usize::try_from(ulen)
                    .map_err(|_| Error::at(ulen_at, ErrorKind::TooLong(ulen)))?;
                let mut data = std::mem::take(&mut self.scratch);
                let read = self.src.vec_into(clen, &mut data);
                let done = read.and_then(|_| {
                    lzf_decompress_into(&data, ulen, out)
                        .map_err(|e| Error::at(at, ErrorKind::Lzf(e)))
                });
                self.scratch = data;
                done?;
            }
            Len::Encoded(e) => return Err(Error::at(at, ErrorKind::BadEncoding(e))),
        }
        Ok(())
    }
}

/// What [`check_rdb`] found in a good file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub version: u32,
    pub keys: u64,
    pub keys_with_ttl: u64,
    /// The aux fields, in file order.
    pub aux: Vec<(Vec<u8>, Vec<u8>)>,
    /// Bytes through the trailer.
    pub bytes: u64,
    /// Bytes after the trailer (Redis ignores them; a check reports them).
    pub trailing_bytes: u64,
    pub checksum: Checksum,
}

/// Read all of the RDB file at `path`, keeping no key: a good file's
/// [`Summary`], or the first error with its offset.
pub fn check_rdb(path: impl AsRef<Path>) -> Result<Summary, Error> {
    let file = File::open(path.as_ref()).map_err(|e| Error::at(0, ErrorKind::Io(e)))?;
    let mut reader = Reader::new(BufReader::with_capacity(1 << 20, file))?;
    let mut summary = Summary {
        version: reader.version(),
        keys: 0,
        keys_with_ttl: 0,
        aux: Vec::new(),
        bytes: 0,
        trailing_bytes: 0,
        checksum: Checksum::Absent,
    };
    while let Some(item) = reader.next_item()? {
        match item {
            Item::Aux { key, value } => summary.aux.push((key, value)),
            Item::ResizeDb { .. } | Item::Function(_) => {}
            Item::Key(r) => {
                summary.keys += 1;
                summary.keys_with_ttl += u64::from(r.expire_at_ms.is_some());
            }
        }
    }
    summary.bytes = reader.offset();
    summary.checksum = reader.checksum().unwrap_or(Checksum::Absent);
    let at = reader.offset();
    summary.trailing_bytes = io::copy(&mut reader.into_inner(), &mut io::sink())
        .map_err(|e| Error::at(at, ErrorKind::Io(e)))?;
    Ok(summary)
}
