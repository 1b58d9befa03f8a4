//! One key and its value in a single allocation, with the deadline inline when
//! the key has one. Per-entry metadata is a handful of bytes (a flags byte and
//! the key length); the table slot holding an [`Entry`] is one boxed slice. An
//! entry never knows which shard or core holds it.

/// A key, its string value and an optional deadline (unix ms).
/// Layout of `buf`: `[flags: u8][klen: u32 LE][deadline: u64 LE, only if flags & HAS_DEADLINE][key][value]`.
#[derive(Clone, PartialEq, Eq)]
pub struct Entry {
    buf: Box<[u8]>,
}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entry")
            .field("key", &String::from_utf8_lossy(self.key()))
            .field("value_len", &self.value().len())
            .field("deadline", &self.deadline())
            .finish()
    }
}

/// `flags` bit: an 8-byte deadline follows the key length.
const HAS_DEADLINE: u8 = 1;
/// Bytes before the optional deadline: flags and key length.
const FIXED: usize = 1 + 4;
/// Longest key an entry can hold (the key length is a `u32`). The keyspace
/// refuses longer keys before building an entry.
pub const MAX_KEY_LEN: usize = u32::MAX as usize;

impl Entry {
    /// # Panics
    /// When `key` is longer than [`MAX_KEY_LEN`] (callers check first).
    pub fn new(key: &[u8], value: &[u8], deadline: Option<u64>) -> Entry {
        assert!(key.len() <= MAX_KEY_LEN, "key longer than MAX_KEY_LEN");
        let dlen = if deadline.is_some() { 8 } else { 0 };
        // Exact capacity, so `into_boxed_slice` does not reallocate.
        let mut v = Vec::with_capacity(FIXED + dlen + key.len() + value.len());
        v.push(if deadline.is_some() { HAS_DEADLINE } else { 0 });
        v.extend_from_slice(&(key.len() as u32).to_le_bytes());
        if let Some(d) = deadline {
            v.extend_from_slice(&d.to_le_bytes());
        }
        v.extend_from_slice(key);
        v.extend_from_slice(value);
        Entry {
            buf: v.into_boxed_slice(),
        }
    }

    /// An entry whose value is `value_len` zero bytes (SETRANGE on a missing key).
    pub fn zeroed(key: &[u8], value_len: usize, deadline: Option<u64>) -> Entry {
        let mut e = Entry::new(key, &[], deadline);
        e.resize_value(value_len);
        e
    }

    /// The value as [`Bytes`] without copying it: the entry's buffer becomes the
    /// `Bytes` storage (the key stays allocated until the `Bytes` is dropped).
    pub fn into_value(self) -> bytes::Bytes {
        let (_, end) = self.bounds();
        bytes::Bytes::from(self.buf).slice(end..)
    }

    /// Where the key starts, and where it ends (= where the value starts).
    #[inline]
    fn bounds(&self) -> (usize, usize) {
        let b = &self.buf;
        let klen = u32::from_le_bytes([b[1], b[2], b[3], b[4]]) as usize;
        let start = if b[0] & HAS_DEADLINE != 0 {
            FIXED + 8
        } else {
            FIXED
        };
        (start, start + klen)
    }

    #[inline]
    pub fn key(&self) -> &[u8] {
        let (start, end) = self.bounds();
        &self.buf[start..end]
    }
    #[inline]
    pub fn value(&self) -> &[u8] {
        let (_, end) = self.bounds();
        &self.buf[end..]
    }
    /// The value, writable in place (its length cannot change this way, so the
    /// memory accounting of the shard holding the entry stays true).
    #[inline]
    pub fn value_mut(&mut self) -> &mut [u8] {
        let (_, end) = self.bounds();
        &mut self.buf[end..]
    }
    #[inline]
    pub fn deadline(&self) -> Option<u64> {
        if self.buf[0] & HAS_DEADLINE == 0 {
            return None;
        }
        let mut d = [0u8; 8];
        d.copy_from_slice(&self.buf[FIXED..FIXED + 8]);
        Some(u64::from_le_bytes(d))
    }
    /// True when the entry has a deadline at or before `now` (ms).
    #[inline]
    pub fn is_expired(&self, now: u64) -> bool {
        matches!(self.deadline(), Some(d) if d <= now)
    }
    /// Replace the deadline (reallocates only when presence changes).
    pub fn set_deadline(&mut self, deadline: Option<u64>) {
        let has = self.buf[0] & HAS_DEADLINE != 0;
        match (has, deadline) {
            (true, Some(d)) => self.buf[FIXED..FIXED + 8].copy_from_slice(&d.to_le_bytes()),
            (false, None) => {}
            (false, Some(d)) => {
                let mut v = Vec::with_capacity(self.buf.len() + 8);
                v.push(self.buf[0] | HAS_DEADLINE);
                v.extend_from_slice(&self.buf[1..FIXED]);
                v.extend_from_slice(&d.to_le_bytes());
                v.extend_from_slice(&self.buf[FIXED..]);
                self.buf = v.into_boxed_slice();
            }
            (true, None) => {
                let mut v = Vec::with_capacity(self.buf.len() - 8);
                v.push(self.buf[0] & !HAS_DEADLINE);
                v.extend_from_slice(&self.buf[1..FIXED]);
                v.extend_from_slice(&self.buf[FIXED + 8..]);
                self.buf = v.into_boxed_slice();
            }
        }
    }
    /// Replace the value, keeping key and deadline. In place when the length is
    /// unchanged; otherwise one `realloc` of the buffer.
    pub fn set_value(&mut self, value: &[u8]) {
        let (_, end) = self.bounds();
        if self.buf.len() - end == value.len() {
            self.buf[end..].copy_from_slice(value);
            return;
        }
        let mut v = std::mem::take(&mut self.buf).into_vec();
        v.truncate(end);
        v.reserve_exact(value.len());
        v.extend_from_slice(value);
        self.buf = v.into_boxed_slice();
    }
    /// Append to the value (one `realloc`, which may grow in place).
    pub fn append(&mut self, extra: &[u8]) {
        if extra.is_empty() {
            return;
        }
        let mut v = std::mem::take(&mut self.buf).into_vec();
        v.reserve_exact(extra.len());
        v.extend_from_slice(extra);
        self.buf = v.into_boxed_slice();
    }
    /// Truncate the value to `len` bytes or pad it with zero bytes up to `len`.
    pub fn resize_value(&mut self, len: usize) {
        let (_, end) = self.bounds();
        let cur = self.buf.len() - end;
        if cur == len {
            return;
        }
        let mut v = std::mem::take(&mut self.buf).into_vec();
        if len > cur {
            v.reserve_exact(len - cur);
        }
        v.resize(end + len, 0);
        self.buf = v.into_boxed_slice();
    }
    /// Bytes this entry costs in memory (allocation plus the table slot), for accounting.
    ///
    /// An approximation: the buffer, the slot holding the [`Entry`] (a boxed slice)
    /// and 8 more bytes standing for the table's control byte plus its unused
    /// slots at hashbrown's 7/8 load factor. Allocator rounding and headers are not
    /// counted.
    #[inline]
    pub fn mem_size(&self) -> usize {
        self.buf.len() + std::mem::size_of::<Entry>() + 8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(e: &Entry, key: &[u8], value: &[u8], deadline: Option<u64>) {
        assert_eq!(e.key(), key);
        assert_eq!(e.value(), value);
        assert_eq!(e.deadline(), deadline);
        let header = 5 + if deadline.is_some() { 8 } else { 0 };
        assert_eq!(e.mem_size(), header + key.len() + value.len() + 16 + 8);
    }

    #[test]
    fn layout_roundtrip() {
        let e = Entry::new(b"key", b"value", None);
        check(&e, b"key", b"value", None);
        let e = Entry::new(b"key", b"value", Some(0x0102_0304_0506_0708));
        check(&e, b"key", b"value", Some(0x0102_0304_0506_0708));
        assert_eq!(e.buf[0], HAS_DEADLINE);
        assert_eq!(&e.buf[1..5], &3u32.to_le_bytes());
        assert_eq!(&e.buf[5..13], &0x0102_0304_0506_0708u64.to_le_bytes());
        let e = Entry::new(b"", b"", None);
        check(&e, b"", b"", None);
        assert_eq!(e.buf.len(), 5);
        let e = Entry::new(b"k", b"", Some(u64::MAX));
        check(&e, b"k", b"", Some(u64::MAX));
    }

    #[test]
    fn expiry() {
        let e = Entry::new(b"k", b"v", Some(100));
        assert!(!e.is_expired(99));
        assert!(e.is_expired(100));
        assert!(e.is_expired(101));
        assert!(!Entry::new(b"k", b"v", None).is_expired(u64::MAX));
    }

    #[test]
    fn set_deadline_all_transitions() {
        let mut e = Entry::new(b"key", b"value", None);
        e.set_deadline(None);
        check(&e, b"key", b"value", None);
        e.set_deadline(Some(5));
        check(&e, b"key", b"value", Some(5));
        e.set_deadline(Some(7));
        check(&e, b"key", b"value", Some(7));
        e.set_deadline(None);
        check(&e, b"key", b"value", None);
    }

    #[test]
    fn value_changes() {
        for dl in [None, Some(42)] {
            let mut e = Entry::new(b"key", b"abc", dl);
            e.set_value(b"xyz");
            check(&e, b"key", b"xyz", dl);
            e.set_value(b"longer value");
            check(&e, b"key", b"longer value", dl);
            e.set_value(b"");
            check(&e, b"key", b"", dl);
            e.append(b"12");
            e.append(b"");
            e.append(b"345");
            check(&e, b"key", b"12345", dl);
            e.resize_value(8);
            check(&e, b"key", b"12345\0\0\0", dl);
            e.resize_value(2);
            check(&e, b"key", b"12", dl);
            e.value_mut()[0] = b'9';
            check(&e, b"key", b"92", dl);
        }
    }

    #[test]
    fn zeroed_and_into_value() {
        let e = Entry::zeroed(b"k", 4, Some(3));
        check(&e, b"k", b"\0\0\0\0", Some(3));
        let e = Entry::new(b"key", b"the value", Some(1));
        assert_eq!(&e.into_value()[..], b"the value");
        let e = Entry::new(b"key", b"", None);
        assert!(e.into_value().is_empty());
    }

    #[test]
    fn debug_shows_key() {
        let s = format!("{:?}", Entry::new(b"abc", b"12345", Some(9)));
        assert!(s.contains("abc") && s.contains("value_len: 5") && s.contains("Some(9)"));
    }
}
