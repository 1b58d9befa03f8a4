//! One key and its value in a single allocation reached through a thin pointer,
//! so a table slot is 8 bytes. The header is a flags byte, four bytes of
//! eviction metadata (an access clock or an LFU counter) and the key and value
//! lengths as varints: 7 bytes for short keys and values. A value that is a
//! canonical 64-bit integer is stored as 1 to 8 bytes of two's complement. A
//! value of [`SHARED_MIN`] bytes or more lives in its own `Bytes` (the entry
//! holds a pointer to it): a read hands out a reference to it instead of a
//! copy, so a GET of a 512 MB value copies nothing, and any number of unsent
//! replies of one value hold it once. A write to such a value copies it only
//! while a reply still holds it. An entry never knows which shard or core
//! holds it, and never decides what to evict: it only carries what the
//! eviction policies read.

use super::object::{ObjRef, Object};
use super::ops::Stored;
use crate::protocol::ascii::{format_u64, parse_i64};
use bytes::{Bytes, BytesMut};
use std::ops::Deref;
use std::ptr::NonNull;

/// A key, its string value, an optional deadline (unix ms) and eviction metadata.
///
/// Layout of the allocation:
/// `[flags: u8][meta: u32 LE][klen: varint][vlen: varint][deadline: u64 LE, if HAS_DEADLINE][key][value]`,
/// where a `SHARED` value is the 8-byte address of a `Box<Bytes>` (and `vlen` is 8).
pub struct Entry {
    /// The allocation: a `Box<[u8]>` whose length the header records.
    ptr: NonNull<u8>,
}

// SAFETY: an `Entry` owns its allocation alone, exactly as the `Box<[u8]>` it is
// made from (which is `Send` and `Sync`); nothing else points into it.
unsafe impl Send for Entry {}
// SAFETY: as above; `&Entry` only reads.
unsafe impl Sync for Entry {}

/// `flags` bit: an 8-byte deadline follows the lengths.
const HAS_DEADLINE: u8 = 1;
/// `flags` bit: the value is an integer, stored as 1–8 bytes of two's complement.
const INT: u8 = 2;
/// `flags` bits 2–3: S3-FIFO's access count since insertion or the last pass (0–3).
const FREQ_SHIFT: u8 = 2;
const FREQ_MASK: u8 = 0b1100;
/// `flags` bit: S3-FIFO keeps this entry in its main queue (else its small queue).
const IN_MAIN: u8 = 16;
/// `flags` bit: the value is a `Box<Bytes>`'s address, the bytes live there.
const SHARED: u8 = 32;
/// `flags` bit: the value is a small collection stored here: a tag byte
/// ([`super::object`]'s `TAG_*`) and its compact encoding.
const INLINE_OBJ: u8 = 64;
/// `flags` bit: the value is a `Box<Object>`'s address (a large collection).
const BOXED_OBJ: u8 = 128;
/// Values at least this long are stored `SHARED`. The pointer, the box and
/// the `Bytes` header cost about 100 bytes: under 3% from here up. Replies of
/// smaller values are copies, so this also bounds what one reply copies
/// (see `command::dispatch::MAX_QUEUED`).
pub const SHARED_MIN: usize = 4 * 1024;
/// Where the varint lengths start.
const LENGTHS: usize = 5;
/// Longest key an entry can hold. The keyspace refuses longer keys before
/// building an entry (Redis's own bound is the 512 MB bulk limit).
pub const MAX_KEY_LEN: usize = u32::MAX as usize;

/// Where the parts of an entry are.
#[derive(Clone, Copy)]
struct Parts {
    /// Where the key starts (after the header and the deadline).
    key: usize,
    klen: usize,
    vlen: usize,
}

impl Parts {
    #[inline]
    fn value(&self) -> usize {
        self.key + self.klen
    }
    #[inline]
    fn total(&self) -> usize {
        self.key + self.klen + self.vlen
    }
}

/// Bytes of `n` as a LEB128 varint.
#[inline]
fn varint_len(mut n: usize) -> usize {
    let mut len = 1;
    while n >= 0x80 {
        n >>= 7;
        len += 1;
    }
    len
}

#[inline]
fn put_varint(out: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// The fewest little-endian bytes whose sign extension is `v`.
#[inline]
fn int_bytes(v: i64) -> ([u8; 8], usize) {
    let bytes = v.to_le_bytes();
    let mut n = 8;
    while n > 1 {
        // The top byte is droppable when it only repeats the sign of the one below.
        let top = bytes[n - 1];
        let below_negative = bytes[n - 2] & 0x80 != 0;
        if (top == 0 && !below_negative) || (top == 0xff && below_negative) {
            n -= 1;
        } else {
            break;
        }
    }
    (bytes, n)
}

#[inline]
fn int_from(bytes: &[u8]) -> i64 {
    let fill = if bytes.last().is_some_and(|b| b & 0x80 != 0) {
        0xff
    } else {
        0
    };
    let mut b = [fill; 8];
    b[..bytes.len()].copy_from_slice(bytes);
    i64::from_le_bytes(b)
}

pub use super::memory::chunk_size;

/// A value as stored: borrowed bytes, or an integer's decimal text.
pub enum Value<'a> {
    Raw(&'a [u8]),
    Int { buf: [u8; 20], start: u8 },
}

impl Value<'_> {
    fn int(v: i64) -> Value<'static> {
        let mut buf = [0u8; 20];
        let digits = format_u64(v.unsigned_abs(), &mut buf).len();
        let mut start = buf.len() - digits;
        if v < 0 {
            start -= 1;
            buf[start] = b'-';
        }
        Value::Int {
            buf,
            start: start as u8,
        }
    }
}

impl Deref for Value<'_> {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        match self {
            Value::Raw(v) => v,
            Value::Int { buf, start } => &buf[*start as usize..],
        }
    }
}

impl Entry {
    /// An entry holding `value`; an integer in Redis's syntax is stored as one.
    ///
    /// # Panics
    /// When `key` is longer than [`MAX_KEY_LEN`] (callers check first).
    pub fn new(key: &[u8], value: &[u8], deadline: Option<u64>) -> Entry {
        assert!(key.len() <= MAX_KEY_LEN, "key longer than MAX_KEY_LEN");
        match encodable_int(value) {
            Some(v) => Entry::with_int(key, v, deadline),
            None => Entry::assemble(0, 0, deadline, key, &[value], 0),
        }
    }

    /// An entry whose value is `value_len` zero bytes (SETRANGE on a missing key).
    pub fn zeroed(key: &[u8], value_len: usize, deadline: Option<u64>) -> Entry {
        assert!(key.len() <= MAX_KEY_LEN, "key longer than MAX_KEY_LEN");
        Entry::assemble(0, 0, deadline, key, &[], value_len)
    }

    /// An entry holding the integer `v`.
    pub fn from_int(key: &[u8], v: i64, deadline: Option<u64>) -> Entry {
        assert!(key.len() <= MAX_KEY_LEN, "key longer than MAX_KEY_LEN");
        Entry::with_int(key, v, deadline)
    }

    fn with_int(key: &[u8], v: i64, deadline: Option<u64>) -> Entry {
        let (bytes, n) = int_bytes(v);
        Entry::assemble(INT, 0, deadline, key, &[&bytes[..n]], 0)
    }

    /// Build an entry: `flags` (the deadline bit is set from `deadline`), `meta`,
    /// and a value made of `value` followed by `zeros` zero bytes.
    fn assemble(
        flags: u8,
        meta: u32,
        deadline: Option<u64>,
        key: &[u8],
        value: &[&[u8]],
        zeros: usize,
    ) -> Entry {
        let vlen = value.iter().map(|p| p.len()).sum::<usize>() + zeros;
        if vlen >= SHARED_MIN && flags & INT == 0 {
            let mut v = Vec::with_capacity(vlen);
            for p in value {
                v.extend_from_slice(p);
            }
            v.resize(vlen, 0);
            return Entry::assemble_shared(flags, meta, deadline, key, Bytes::from(v));
        }
        Entry::assemble_inline(flags & !SHARED, meta, deadline, key, value, zeros)
    }

    /// Build an entry whose value (`value` followed by `zeros` zero bytes) is
    /// held inside it whatever its size: `flags` (the deadline bit is set
    /// from `deadline`), `meta`.
    pub(super) fn assemble_inline(
        flags: u8,
        meta: u32,
        deadline: Option<u64>,
        key: &[u8],
        value: &[&[u8]],
        zeros: usize,
    ) -> Entry {
        let vlen = value.iter().map(|p| p.len()).sum::<usize>() + zeros;
        let dlen = if deadline.is_some() { 8 } else { 0 };
        let size = LENGTHS + varint_len(key.len()) + varint_len(vlen) + dlen + key.len() + vlen;
        // Exact capacity, so `into_boxed_slice` does not reallocate.
        let mut v = Vec::with_capacity(size);
        let flags = (flags & !HAS_DEADLINE) | if deadline.is_some() { HAS_DEADLINE } else { 0 };
        v.push(flags);
        v.extend_from_slice(&meta.to_le_bytes());
        put_varint(&mut v, key.len());
        put_varint(&mut v, vlen);
        if let Some(d) = deadline {
            v.extend_from_slice(&d.to_le_bytes());
        }
        v.extend_from_slice(key);
        for p in value {
            v.extend_from_slice(p);
        }
        v.resize(size, 0);
        Entry::from_box(v.into_boxed_slice())
    }

    /// Build an entry whose value is `value`, held by reference.
    fn assemble_shared(
        flags: u8,
        meta: u32,
        deadline: Option<u64>,
        key: &[u8],
        value: Bytes,
    ) -> Entry {
        let addr = Box::into_raw(Box::new(value)) as usize as u64;
        let flags = (flags & !INT) | SHARED;
        let mut e = Entry::assemble(
            flags & !SHARED,
            meta,
            deadline,
            key,
            &[&addr.to_le_bytes()],
            0,
        );
        // The 8 bytes just written are the box's address: mark them as such
        // only now, so a failure above could never free a box twice.
        let f = e.flags() | SHARED;
        e.set_flags(f);
        e
    }

    /// An entry holding `value` by reference when it is long enough (a value
    /// that left another entry, so nothing else shares its allocation).
    pub fn from_bytes(key: &[u8], value: Bytes, deadline: Option<u64>) -> Entry {
        assert!(key.len() <= MAX_KEY_LEN, "key longer than MAX_KEY_LEN");
        if value.len() >= SHARED_MIN {
            Entry::assemble_shared(0, 0, deadline, key, value)
        } else {
            Entry::new(key, &value, deadline)
        }
    }

    /// The shared value's `Bytes`, when the value is [`SHARED`].
    #[inline]
    fn shared(&self) -> Option<&Bytes> {
        let ptr = self.shared_ptr()?;
        // SAFETY: a SHARED entry's value is the address of a live `Box<Bytes>`
        // made by `assemble_shared` and owned by this entry alone; it is freed
        // only by `take_shared`, which clears the flag first. The borrow
        // lives no longer than `&self`.
        Some(unsafe { &*ptr })
    }

    /// The address of the shared value's box, when the value is [`SHARED`].
    #[inline]
    fn shared_ptr(&self) -> Option<*mut Bytes> {
        if self.flags() & SHARED == 0 {
            return None;
        }
        let at = self.parts().value();
        let mut a = [0u8; 8];
        a.copy_from_slice(&self.bytes()[at..at + 8]);
        Some(u64::from_le_bytes(a) as usize as *mut Bytes)
    }

    /// Take the shared value's box back (the entry no longer points to it).
    fn take_shared(&mut self) -> Option<Bytes> {
        let ptr = self.shared_ptr()?;
        let f = self.flags() & !SHARED;
        self.set_flags(f);
        // SAFETY: as in `shared`; the flag is cleared above, so no other path
        // reads or frees this box again.
        Some(*unsafe { Box::from_raw(ptr) })
    }

    /// The value as `Bytes`: a reference to a shared value, else a copy.
    pub fn value_bytes(&self) -> Bytes {
        match self.shared() {
            Some(b) => b.clone(),
            None => Bytes::copy_from_slice(&self.value()),
        }
    }

    /// `value[a..b]` as `Bytes`: a slice of a shared value, else a copy.
    pub fn value_slice(&self, a: usize, b: usize) -> Bytes {
        match self.shared() {
            Some(v) => v.slice(a..b),
            None => Bytes::copy_from_slice(&self.value()[a..b]),
        }
    }

    /// The shared value made uniquely this entry's and writable (copied only
    /// if a reply still holds it), handed to `f`, then stored back.
    fn edit_shared<R>(&mut self, f: impl FnOnce(&mut BytesMut) -> R) -> Option<R> {
        let old = self.take_shared()?;
        let mut m = old
            .try_into_mut()
            .unwrap_or_else(|shared| BytesMut::from(&shared[..]));
        let r = f(&mut m);
        self.put_shared(m);
        Some(r)
    }

    /// Store `m` as this entry's shared value (taken out before).
    fn put_shared(&mut self, m: BytesMut) {
        *self = Entry::assemble_shared(
            self.flags(),
            self.meta(),
            self.deadline(),
            self.key(),
            m.freeze(),
        );
    }

    fn from_box(b: Box<[u8]>) -> Entry {
        let raw = Box::into_raw(b) as *mut u8;
        // SAFETY: `Box::into_raw` never returns null; every entry's buffer holds
        // at least the 7-byte header, so the pointer is to a real allocation.
        Entry {
            ptr: unsafe { NonNull::new_unchecked(raw) },
        }
    }

    /// Take the allocation back as the box it was made from.
    fn into_box(self) -> Box<[u8]> {
        let len = self.parts().total();
        let ptr = self.ptr.as_ptr();
        std::mem::forget(self);
        // SAFETY: `ptr` came from `Box::into_raw` of a `Box<[u8]>` of exactly
        // `len` bytes (the header records every length; nothing changes them
        // without rebuilding the box), and `forget` keeps `Drop` from freeing it too.
        unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(ptr, len)) }
    }

    /// Ask the CPU to start loading this entry's first cache line, without
    /// reading it: a prefetch never faults, whatever the address.
    #[inline]
    pub fn prefetch(&self) {
        crate::storage::prefetch::prefetch_addr(self.ptr.as_ptr() as usize);
    }

    /// Byte `i` of the header.
    #[inline]
    fn byte(&self, i: usize) -> u8 {
        // SAFETY: only called for header bytes, which every entry has: the flags,
        // the meta word and the varints, each read only up to its last byte.
        unsafe { *self.ptr.as_ptr().add(i) }
    }

    #[inline]
    fn varint_at(&self, i: usize) -> (usize, usize) {
        read_varint(|k| self.byte(k), i)
    }

    #[inline]
    fn parts(&self) -> Parts {
        let (klen, i) = self.varint_at(LENGTHS);
        let (vlen, i) = self.varint_at(i);
        let key = if self.flags() & HAS_DEADLINE != 0 {
            i + 8
        } else {
            i
        };
        Parts { key, klen, vlen }
    }

    /// The whole allocation.
    #[inline]
    fn bytes(&self) -> &[u8] {
        let len = self.parts().total();
        // SAFETY: the allocation is `len` bytes long (see `into_box`) and is
        // borrowed for as long as `self` is.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), len) }
    }

    #[inline]
    fn bytes_mut(&mut self) -> &mut [u8] {
        let len = self.parts().total();
        // SAFETY: as in `bytes`, and `&mut self` makes the borrow unique.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), len) }
    }

    #[inline]
    fn flags(&self) -> u8 {
        self.byte(0)
    }

    #[inline]
    fn set_flags(&mut self, flags: u8) {
        self.bytes_mut()[0] = flags;
    }

    #[inline]
    pub fn key(&self) -> &[u8] {
        let p = self.parts();
        &self.bytes()[p.key..p.value()]
    }

    /// The value; an integer comes back as its decimal text.
    #[inline]
    pub fn value(&self) -> Value<'_> {
        if let Some(b) = self.shared() {
            return Value::Raw(b);
        }
        let raw = self.stored_value();
        if self.flags() & INT != 0 {
            Value::int(int_from(raw))
        } else {
            Value::Raw(raw)
        }
    }

    /// The value's length as a client sees it (an integer's decimal length).
    #[inline]
    pub fn value_len(&self) -> usize {
        self.value().len()
    }

    /// The value when it is stored as an integer.
    #[inline]
    pub fn as_int(&self) -> Option<i64> {
        (self.flags() & INT != 0).then(|| int_from(self.stored_value()))
    }

    /// Store `v` as an integer, keeping key, deadline and metadata.
    pub fn set_int(&mut self, v: i64) {
        self.take_shared();
        let (bytes, n) = int_bytes(v);
        let p = self.parts();
        if self.flags() & INT != 0 && p.vlen == n {
            let start = p.value();
            self.bytes_mut()[start..].copy_from_slice(&bytes[..n]);
            return;
        }
        *self = self.rebuilt(self.flags() | INT, self.deadline(), &[&bytes[..n]], 0);
    }

    /// Overwrite the value's bytes from `offset` with `data` (its length does
    /// not change this way, so the memory accounting of the shard holding the
    /// entry stays true). An integer becomes text first.
    ///
    /// # Panics
    /// When `offset + data.len()` passes the value's end (callers resize first).
    pub fn write_at(&mut self, offset: usize, data: &[u8]) {
        let end = offset + data.len();
        if self
            .edit_shared(|m| m[offset..end].copy_from_slice(data))
            .is_some()
        {
            return;
        }
        self.make_raw();
        let start = self.parts().value();
        self.bytes_mut()[start + offset..start + end].copy_from_slice(data);
    }

    /// The string value's bytes, writable in place (an integer becomes its
    /// text first; a shared value is copied only while a reply holds it).
    /// Its length does not change this way.
    pub fn value_mut<R>(&mut self, f: impl FnOnce(&mut [u8]) -> R) -> R {
        if let Some(old) = self.take_shared() {
            let mut m = old
                .try_into_mut()
                .unwrap_or_else(|shared| BytesMut::from(&shared[..]));
            let r = f(&mut m[..]);
            self.put_shared(m);
            return r;
        }
        self.make_raw();
        let start = self.parts().value();
        f(&mut self.bytes_mut()[start..])
    }

    /// Turn an integer value into its text, so it can be edited byte by byte.
    fn make_raw(&mut self) {
        if self.flags() & INT != 0 {
            let text = self.value();
            *self = self.rebuilt(self.flags() & !INT, self.deadline(), &[&text], 0);
        }
    }

    #[inline]
    pub fn deadline(&self) -> Option<u64> {
        if self.flags() & HAS_DEADLINE == 0 {
            return None;
        }
        let at = self.parts().key - 8;
        let mut d = [0u8; 8];
        d.copy_from_slice(&self.bytes()[at..at + 8]);
        Some(u64::from_le_bytes(d))
    }

    /// True when the entry has a deadline at or before `now` (ms).
    #[inline]
    pub fn is_expired(&self, now: u64) -> bool {
        matches!(self.deadline(), Some(d) if d <= now)
    }

    /// Replace the deadline (rebuilds the entry only when presence changes).
    pub fn set_deadline(&mut self, deadline: Option<u64>) {
        match (self.deadline(), deadline) {
            (Some(_), Some(d)) => {
                let at = self.parts().key - 8;
                self.bytes_mut()[at..at + 8].copy_from_slice(&d.to_le_bytes());
            }
            (None, None) => {}
            _ if !self.is_string() => {
                let obj = match self.take_boxed() {
                    Some(b) => Some(*b),
                    None => self.object().map(|o| o.to_owned()),
                };
                if let Some(obj) = obj {
                    self.rebuild_object(obj, deadline);
                }
            }
            _ => match self.shared() {
                Some(b) => {
                    let b = b.clone();
                    *self =
                        Entry::assemble_shared(self.flags(), self.meta(), deadline, self.key(), b);
                }
                None => {
                    *self = self.rebuilt(self.flags(), deadline, &[self.stored_value()], 0);
                }
            },
        }
    }

    /// Replace the value, keeping key, deadline and metadata. In place when the
    /// stored form keeps its length.
    pub fn set_value(&mut self, value: &[u8]) {
        if let Some(v) = encodable_int(value) {
            return self.set_int(v);
        }
        let p = self.parts();
        if self.flags() & (INT | SHARED) == 0 && p.vlen == value.len() {
            let start = p.value();
            self.bytes_mut()[start..].copy_from_slice(value);
            return;
        }
        *self = self.rebuilt(self.flags() & !INT, self.deadline(), &[value], 0);
    }

    /// Append to the value (the result is text, as Redis's APPEND leaves it).
    /// When the value's length keeps its varint size this is one `realloc`,
    /// which may grow in place, so repeated appends do not copy every time.
    pub fn append(&mut self, extra: &[u8]) {
        if extra.is_empty() {
            return;
        }
        // A shared value grows in its own buffer (amortised, as Redis's sds).
        if self.edit_shared(|m| m.extend_from_slice(extra)).is_some() {
            return;
        }
        self.make_raw();
        let p = self.parts();
        let new_len = p.vlen + extra.len();
        if new_len >= SHARED_MIN {
            *self = self.rebuilt(
                self.flags(),
                self.deadline(),
                &[self.stored_value(), extra],
                0,
            );
            return;
        }
        if varint_len(new_len) != varint_len(p.vlen) {
            *self = self.rebuilt(
                self.flags(),
                self.deadline(),
                &[self.stored_value(), extra],
                0,
            );
            return;
        }
        let mut v = std::mem::replace(self, Entry::empty())
            .into_box()
            .into_vec();
        v.reserve_exact(extra.len());
        v.extend_from_slice(extra);
        // Rewrite the value length in place: same varint size, checked above.
        let (_, vstart) = read_varint(|k| v[k], LENGTHS);
        let mut len = Vec::with_capacity(10);
        put_varint(&mut len, new_len);
        v[vstart..vstart + len.len()].copy_from_slice(&len);
        *self = Entry::from_box(v.into_boxed_slice());
    }

    /// Truncate the value to `len` bytes or pad it with zero bytes up to `len`.
    pub fn resize_value(&mut self, len: usize) {
        if self.shared().is_some() && len >= SHARED_MIN {
            self.edit_shared(|m| m.resize(len, 0));
            return;
        }
        self.make_raw();
        if self.value_len() == len {
            return;
        }
        let value = self.value();
        let keep = &value[..len.min(value.len())];
        *self = self.rebuilt(self.flags(), self.deadline(), &[keep], len - keep.len());
    }

    /// This entry's key and metadata with other `flags`, `deadline` and value
    /// (`value` then `zeros` zero bytes), in a new allocation (a new shared
    /// value when long enough).
    fn rebuilt(&self, flags: u8, deadline: Option<u64>, value: &[&[u8]], zeros: usize) -> Entry {
        Entry::assemble(flags, self.meta(), deadline, self.key(), value, zeros)
    }

    /// The value's bytes as stored (an integer's two's complement, not its
    /// text; a shared value's own bytes).
    #[inline]
    fn stored_value(&self) -> &[u8] {
        if let Some(b) = self.shared() {
            return b;
        }
        &self.bytes()[self.parts().value()..]
    }

    /// A placeholder with an empty key and value (never stored).
    fn empty() -> Entry {
        Entry::assemble(0, 0, None, b"", &[], 0)
    }

    /// The value as [`bytes::Bytes`]: a text value's allocation becomes the
    /// `Bytes` storage (the key stays allocated until the `Bytes` is dropped).
    pub fn into_value(mut self) -> bytes::Bytes {
        if let Some(v) = self.as_int() {
            return bytes::Bytes::copy_from_slice(&Value::int(v));
        }
        if let Some(b) = self.take_shared() {
            return b;
        }
        let start = self.parts().value();
        bytes::Bytes::from(self.into_box()).slice(start..)
    }

    /// Bytes this entry's allocation takes from malloc (the table slot holding
    /// the pointer is the shard's to count).
    #[inline]
    pub fn mem_size(&self) -> usize {
        let own = chunk_size(self.parts().total());
        if let Some(obj) = self.boxed() {
            return own + chunk_size(std::mem::size_of::<Object>()) + obj.mem_size();
        }
        match self.shared() {
            // The box, the value's allocation, and the refcount block `Bytes`
            // makes once a reply shares it.
            Some(b) => own + chunk_size(std::mem::size_of::<Bytes>()) + chunk_size(b.len()) + 32,
            None => own,
        }
    }

    // --- Eviction metadata -------------------------------------------------

    /// The 32-bit word the eviction policy keeps here (an access clock, or
    /// an LFU counter and its decay time).
    #[inline]
    pub fn meta(&self) -> u32 {
        u32::from_le_bytes([self.byte(1), self.byte(2), self.byte(3), self.byte(4)])
    }
    #[inline]
    pub fn set_meta(&mut self, meta: u32) {
        self.bytes_mut()[1..5].copy_from_slice(&meta.to_le_bytes());
    }
    /// S3-FIFO's access count, 0–3.
    #[inline]
    pub fn freq(&self) -> u8 {
        (self.flags() & FREQ_MASK) >> FREQ_SHIFT
    }
    #[inline]
    pub fn set_freq(&mut self, f: u8) {
        let flags = (self.flags() & !FREQ_MASK) | ((f.min(3) << FREQ_SHIFT) & FREQ_MASK);
        self.set_flags(flags);
    }
    /// True when S3-FIFO keeps this entry in its main queue.
    #[inline]
    pub fn in_main(&self) -> bool {
        self.flags() & IN_MAIN != 0
    }
    #[inline]
    pub fn set_in_main(&mut self, main: bool) {
        let flags = if main {
            self.flags() | IN_MAIN
        } else {
            self.flags() & !IN_MAIN
        };
        self.set_flags(flags);
    }
    /// Carry `from`'s eviction state over (a value replaced by SET keeps its history).
    pub fn inherit(&mut self, from: &Entry) {
        self.keep_access(from.meta(), from.flags());
    }

    /// Take the eviction state of an entry that had `meta` and `flags`
    /// (one this entry replaces, built from its parts).
    fn keep_access(&mut self, meta: u32, flags: u8) {
        let keep = FREQ_MASK | IN_MAIN;
        let f = (self.flags() & !keep) | (flags & keep);
        self.set_flags(f);
        self.set_meta(meta);
    }
}

/// A LEB128 varint starting at byte `i` (read through `at`): its value and
/// where the next field starts.
#[inline]
fn read_varint(at: impl Fn(usize) -> u8, mut i: usize) -> (usize, usize) {
    let mut n = 0usize;
    let mut shift = 0;
    loop {
        let b = at(i);
        n |= usize::from(b & 0x7f) << shift;
        i += 1;
        if b & 0x80 == 0 {
            return (n, i);
        }
        shift += 7;
    }
}

/// `value` as an integer when it is one in Redis's syntax (so its text comes
/// back byte for byte).
#[inline]
fn encodable_int(value: &[u8]) -> Option<i64> {
    match value.first() {
        Some(b'-' | b'0'..=b'9') if value.len() <= 20 => parse_i64(value),
        _ => None,
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        drop(self.take_shared());
        if let Some(obj) = self.take_boxed() {
            super::object::lazyfree::dispose(obj);
        }
        let len = self.parts().total();
        // SAFETY: see `into_box`; `drop` runs once and nothing uses `ptr` after.
        drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(self.ptr.as_ptr(), len)) });
    }
}

impl Clone for Entry {
    fn clone(&self) -> Entry {
        if let Some(obj) = self.boxed() {
            let mut e = Entry::with_object(self.key(), obj.clone(), self.deadline());
            e.inherit(self);
            return e;
        }
        match self.shared() {
            Some(b) => Entry::assemble_shared(
                self.flags(),
                self.meta(),
                self.deadline(),
                self.key(),
                b.clone(),
            ),
            None => Entry::from_box(self.bytes().into()),
        }
    }
}

impl PartialEq for Entry {
    fn eq(&self, other: &Entry) -> bool {
        if let (Some(a), Some(b)) = (self.boxed(), other.boxed()) {
            return self.flags() == other.flags()
                && self.meta() == other.meta()
                && self.key() == other.key()
                && self.deadline() == other.deadline()
                && a == b;
        }
        match (self.shared(), other.shared()) {
            (None, None) => self.bytes() == other.bytes(),
            (Some(a), Some(b)) => {
                self.flags() == other.flags()
                    && self.meta() == other.meta()
                    && self.key() == other.key()
                    && self.deadline() == other.deadline()
                    && a == b
            }
            _ => false,
        }
    }
}
impl Eq for Entry {}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entry")
            .field("key", &String::from_utf8_lossy(self.key()))
            .field("value_len", &self.value_len())
            .field("deadline", &self.deadline())
            .finish()
    }
}

mod objects;

#[cfg(test)]
mod tests;
