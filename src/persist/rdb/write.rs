//! The RDB writer: [`SectionWriter`] encodes string keys (a core's part of a
//! snapshot) into any `Write` with their CRC, [`FileWriter`] frames sections
//! into one file (magic, aux fields, `SELECTDB 0`, `RESIZEDB`, the sections,
//! `EOF`, the CRC64 trailer). Strings are encoded as Redis's
//! `rdbSaveRawString` does, so redis-server 7.0 loads the result and a file
//! read back and written again comes out the same. It never buffers more than
//! one record of its own (a big value goes straight to the `Write`), never
//! flushes or syncs on its own except in `finish`, and never reads the clock:
//! the caller passes the header's times.

use std::io::{self, Read, Write};

use super::crc::{crc64_combine, Crc64};
use super::lzf::Compressor;
use super::{len, op, RDB_VERSION, REDIS_VER, TYPE_STRING};

/// How strings are written.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// LZF-compress strings longer than 20 bytes when that saves at least
    /// 4 bytes (Redis's `rdbcompression yes`, its default).
    pub compression: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options { compression: true }
    }
}

/// What a run of encoded bytes holds: its CRC64 (from zero), its length and
/// its keys. Two adjacent runs join with [`Section::then`] without their bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Section {
    pub crc: u64,
    pub len: u64,
    pub keys: u64,
    pub keys_with_ttl: u64,
}

impl Section {
    /// `self` followed by `next`.
    pub fn then(self, next: Section) -> Section {
        Section {
            crc: crc64_combine(self.crc, next.crc, next.len),
            len: self.len + next.len,
            keys: self.keys + next.keys,
            keys_with_ttl: self.keys_with_ttl + next.keys_with_ttl,
        }
    }
}

/// What a finished file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    /// File size, trailer included.
    pub bytes: u64,
    pub keys: u64,
    pub keys_with_ttl: u64,
    /// The trailer.
    pub checksum: u64,
}

/// The header's fields: the aux pairs written after the magic and the
/// `RESIZEDB` hint.
#[derive(Debug, Clone, Default)]
pub struct Header {
    pub aux: Vec<(Vec<u8>, Vec<u8>)>,
    /// Function libraries' code, each after a `FUNCTION2` opcode (as
    /// redis-server 7.0 writes them, after the aux fields).
    pub functions: Vec<Vec<u8>>,
    /// Keys in db 0 and keys with a TTL, as a hint for the loader's tables.
    pub db_size: u64,
    pub expires_size: u64,
}

impl Header {
    /// The aux fields redis-server 7.0 writes for a plain `SAVE` (`redis-ver`,
    /// `redis-bits`, `ctime`, `used-mem`, `aof-base`), plus `stairkv-ver`
    /// (Redis ignores aux fields it does not know).
    pub fn redis(ctime_secs: u64, used_mem: u64) -> Header {
        let pairs: [(&str, String); 6] = [
            ("redis-ver", REDIS_VER.to_string()),
            ("redis-bits", (usize::BITS).to_string()),
            ("ctime", ctime_secs.to_string()),
            ("used-mem", used_mem.to_string()),
            ("aof-base", "0".to_string()),
            ("stairkv-ver", env!("CARGO_PKG_VERSION").to_string()),
        ];
        Header {
            aux: pairs
                .into_iter()
                .map(|(k, v)| (k.as_bytes().to_vec(), v.into_bytes()))
                .collect(),
            functions: Vec::new(),
            db_size: 0,
            expires_size: 0,
        }
    }

    pub fn functions(mut self, codes: Vec<Vec<u8>>) -> Header {
        self.functions = codes;
        self
    }

    pub fn sizes(mut self, db_size: u64, expires_size: u64) -> Header {
        self.db_size = db_size;
        self.expires_size = expires_size;
        self
    }
}

/// `rdbSaveRawString`'s choice for `s`, its head appended to `head`: an
/// integer of at most 11 characters as int8/16/32; else, given a compressor
/// (made on first need), LZF when `s` is longer than 20 bytes and packs at
/// least 4 bytes smaller (the packed bytes left in the buffer beside it);
/// else raw. Snapshots and DUMP payloads both encode strings through this.
pub(crate) fn encode_string_head(
    head: &mut Vec<u8>,
    s: &[u8],
    lzf: Option<(&mut Option<Compressor>, &mut Vec<u8>)>,
) -> Payload {
    if s.len() <= 11 {
        if let Some(v) = canonical_int(s) {
            if put_int(head, v) {
                return Payload::None;
            }
        }
    }
    if let Some((compressor, packed)) = lzf.filter(|_| s.len() > 20) {
        let c = compressor.get_or_insert_with(Compressor::new);
        if c.compress(s, packed, s.len() - 4) {
            head.push((len::ENCVAL << 6) | len::ENC_LZF);
            put_len(head, packed.len() as u64);
            put_len(head, s.len() as u64);
            return Payload::Lzf;
        }
    }
    put_len(head, s.len() as u64);
    Payload::Raw
}

/// Append Redis's length encoding of `n`.
pub(crate) fn put_len(buf: &mut Vec<u8>, n: u64) {
    if n < 1 << 6 {
        buf.push(n as u8);
    } else if n < 1 << 14 {
        buf.push((len::BITS14 << 6) | (n >> 8) as u8);
        buf.push(n as u8);
    } else if n <= u64::from(u32::MAX) {
        buf.push(len::BITS32);
        buf.extend_from_slice(&(n as u32).to_be_bytes());
    } else {
        buf.push(len::BITS64);
        buf.extend_from_slice(&n.to_be_bytes());
    }
}

/// The integer `s` spells, when it spells one exactly as Redis would print
/// it back (no sign but `-`, no leading zero, not `-0`): only those are
/// stored as integers, so the loaded string is byte for byte the saved one.
pub(crate) fn canonical_int(s: &[u8]) -> Option<i64> {
    let digits = s.strip_prefix(b"-").unwrap_or(s);
    let negative = digits.len() != s.len();
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    if digits[0] == b'0' && (digits.len() > 1 || negative) {
        return None;
    }
    // At most 19 digits: fits u64 without overflow.
    let mag = digits
        .iter()
        .fold(0u64, |acc, &d| acc * 10 + u64::from(d - b'0'));
    if negative {
        0i64.checked_sub_unsigned(mag)
    } else {
        i64::try_from(mag).ok()
    }
}

/// Append the int8/16/32 encoding of `v`, when it has one.
pub(crate) fn put_int(buf: &mut Vec<u8>, v: i64) -> bool {
    let enc = |e: u8| (len::ENCVAL << 6) | e;
    if let Ok(b) = i8::try_from(v) {
        buf.push(enc(len::ENC_INT8));
        buf.extend_from_slice(&b.to_le_bytes());
    } else if let Ok(h) = i16::try_from(v) {
        buf.push(enc(len::ENC_INT16));
        buf.extend_from_slice(&h.to_le_bytes());
    } else if let Ok(w) = i32::try_from(v) {
        buf.push(enc(len::ENC_INT32));
        buf.extend_from_slice(&w.to_le_bytes());
    } else {
        return false;
    }
    true
}

/// Where a string's bytes are after its encoded head.
pub(crate) enum Payload {
    /// Nothing more: the head held it all (an integer).
    None,
    /// The string itself.
    Raw,
    /// The compressed bytes in the writer's LZF buffer.
    Lzf,
}

/// Encodes key records into `W`, keeping the CRC of what it wrote.
pub struct SectionWriter<W: Write> {
    out: W,
    crc: Crc64,
    pub(super) keys: u64,
    keys_with_ttl: u64,
    pub(super) options: Options,
    /// One record's head (opcodes, lengths, a short key).
    pub(super) head: Vec<u8>,
    lzf_out: Vec<u8>,
    /// Made on the first string long enough to compress.
    compressor: Option<Compressor>,
}

/// Heads this long are written out before the payload goes straight to `W`;
/// a key or value under it is copied into the head so a small record is one
/// write.
const INLINE_MAX: usize = 512;

impl<W: Write> SectionWriter<W> {
    pub fn new(out: W, options: Options) -> SectionWriter<W> {
        SectionWriter {
            out,
            crc: Crc64::new(),
            keys: 0,
            keys_with_ttl: 0,
            options,
            head: Vec::with_capacity(INLINE_MAX + 64),
            lzf_out: Vec::new(),
            compressor: None,
        }
    }

    /// One string key, with its deadline (unix ms) when it has a TTL.
    pub fn write_string(
        &mut self,
        key: &[u8],
        value: &[u8],
        expire_at_ms: Option<i64>,
    ) -> io::Result<()> {
        self.head.clear();
        self.record_head(expire_at_ms);
        self.string(key)?;
        self.string(value)?;
        self.flush_head()?;
        self.keys += 1;
        Ok(())
    }

    /// One string key whose value is an integer (as storage keeps canonical
    /// integers), without spelling it out first.
    pub fn write_int(
        &mut self,
        key: &[u8],
        value: i64,
        expire_at_ms: Option<i64>,
    ) -> io::Result<()> {
        self.head.clear();
        self.record_head(expire_at_ms);
        self.string(key)?;
        if !put_int(&mut self.head, value) {
            let s = value.to_string();
            put_len(&mut self.head, s.len() as u64);
            self.head.extend_from_slice(s.as_bytes());
        }
        self.flush_head()?;
        self.keys += 1;
        Ok(())
    }

    pub(super) fn record_head(&mut self, expire_at_ms: Option<i64>) {
        if let Some(ms) = expire_at_ms {
            self.head.push(op::EXPIRETIME_MS);
            self.head.extend_from_slice(&ms.to_le_bytes());
            self.keys_with_ttl += 1;
        }
        self.head.push(TYPE_STRING);
    }

    /// Encode `s` as `rdbSaveRawString` does: an integer of at most 11
    /// characters as int8/16/32, else LZF when enabled, longer than 20 bytes
    /// and at least 4 bytes smaller, else raw.
    pub(super) fn string(&mut self, s: &[u8]) -> io::Result<()> {
        match self.encode_head(s) {
            Payload::None => Ok(()),
            Payload::Raw if s.len() <= INLINE_MAX => {
                self.head.extend_from_slice(s);
                Ok(())
            }
            Payload::Raw => {
                self.flush_head()?;
                self.raw(s)
            }
            Payload::Lzf if self.lzf_out.len() <= INLINE_MAX => {
                self.head.extend_from_slice(&self.lzf_out);
                Ok(())
            }
            Payload::Lzf => {
                self.flush_head()?;
                let data = std::mem::take(&mut self.lzf_out);
                let res = self.raw(&data);
                self.lzf_out = data;
                res
            }
        }
    }

    fn encode_head(&mut self, s: &[u8]) -> Payload {
        let lzf = self
            .options
            .compression
            .then_some((&mut self.compressor, &mut self.lzf_out));
        encode_string_head(&mut self.head, s, lzf)
    }

    pub(super) fn flush_head(&mut self) -> io::Result<()> {
        if self.head.is_empty() {
            return Ok(());
        }
        let head = std::mem::take(&mut self.head);
        let res = self.raw(&head);
        self.head = head;
        self.head.clear();
        res
    }

    /// Bytes into `W` and the CRC.
    pub(super) fn raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes)?;
        self.crc.update(bytes);
        Ok(())
    }

    /// What was written since the start (or the last [`take`](Self::take)).
    pub fn section(&self) -> Section {
        Section {
            crc: self.crc.value(),
            len: self.crc.len(),
            keys: self.keys,
            keys_with_ttl: self.keys_with_ttl,
        }
    }

    /// The section so far, starting a new one from here.
    pub fn take(&mut self) -> Section {
        let s = self.section();
        self.crc = Crc64::new();
        self.keys = 0;
        self.keys_with_ttl = 0;
        s
    }

    pub fn get_ref(&self) -> &W {
        &self.out
    }

    /// The `Write`, to write bytes that are not part of the section's CRC.
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.out
    }

    /// Flush `W` and hand it back with the section's summary.
    pub fn finish(mut self) -> io::Result<(W, Section)> {
        self.out.flush()?;
        let s = self.section();
        Ok((self.out, s))
    }
}

/// One RDB file: the header on creation, then keys written directly and/or
/// sections produced elsewhere, then the trailer on [`finish`](Self::finish).
pub struct FileWriter<W: Write> {
    pub(super) w: SectionWriter<W>,
    /// Everything before what `w` is counting now.
    done: Section,
}

impl<W: Write> FileWriter<W> {
    /// Write the magic, `header`'s aux fields, `SELECTDB 0` and `RESIZEDB`.
    pub fn new(out: W, header: &Header, options: Options) -> io::Result<FileWriter<W>> {
        let mut w = SectionWriter::new(out, options);
        let magic = format!("REDIS{RDB_VERSION:04}");
        w.raw(magic.as_bytes())?;
        for (k, v) in &header.aux {
            w.head.clear();
            w.head.push(op::AUX);
            w.string(k)?;
            w.string(v)?;
            w.flush_head()?;
        }
        for code in &header.functions {
            w.head.clear();
            w.head.push(op::FUNCTION2);
            w.string(code)?;
            w.flush_head()?;
        }
        w.head.clear();
        w.head.push(op::SELECTDB);
        put_len(&mut w.head, 0);
        w.head.push(op::RESIZEDB);
        put_len(&mut w.head, header.db_size);
        put_len(&mut w.head, header.expires_size);
        w.flush_head()?;
        let done = w.take();
        Ok(FileWriter { w, done })
    }

    /// One string key, written here (the single-writer path).
    pub fn write_string(
        &mut self,
        key: &[u8],
        value: &[u8],
        expire_at_ms: Option<i64>,
    ) -> io::Result<()> {
        self.w.write_string(key, value, expire_at_ms)
    }

    /// A section another [`SectionWriter`] produced into `bytes`: copied
    /// through, its CRC joined without reading it.
    pub fn append_section(&mut self, bytes: &[u8], section: Section) -> io::Result<()> {
        if bytes.len() as u64 != section.len {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "a section of {} bytes described as {} bytes",
                    bytes.len(),
                    section.len
                ),
            ));
        }
        self.done = self.done.then(self.w.take());
        self.w.out.write_all(bytes)?;
        self.done = self.done.then(section);
        Ok(())
    }

    /// A section kept elsewhere (a spill file): its `section.len` bytes are
    /// copied from `from`; fewer is an error.
    pub fn append_section_from(&mut self, from: impl Read, section: Section) -> io::Result<()> {
        self.done = self.done.then(self.w.take());
        let copied = io::copy(&mut from.take(section.len), &mut self.w.out)?;
        if copied != section.len {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("a section of {} bytes ended after {copied}", section.len),
            ));
        }
        self.done = self.done.then(section);
        Ok(())
    }

    /// Bytes written so far (the file's current size).
    pub fn position(&self) -> u64 {
        self.done.len + self.w.crc.len()
    }

    /// Write `EOF` and the CRC64 trailer, flush, hand back the `Write`.
    pub fn finish(mut self) -> io::Result<(W, Written)> {
        self.w.raw(&[op::EOF])?;
        let all = self.done.then(self.w.take());
        self.w.out.write_all(&all.crc.to_le_bytes())?;
        self.w.out.flush()?;
        Ok((
            self.w.out,
            Written {
                bytes: all.len + 8,
                keys: all.keys,
                keys_with_ttl: all.keys_with_ttl,
                checksum: all.crc,
            },
        ))
    }
}
