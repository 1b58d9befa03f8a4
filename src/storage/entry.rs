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

impl Entry {
    pub fn new(key: &[u8], value: &[u8], deadline: Option<u64>) -> Entry {
        let _ = (key, value, deadline);
        todo!()
    }
    pub fn key(&self) -> &[u8] {
        todo!()
    }
    pub fn value(&self) -> &[u8] {
        todo!()
    }
    pub fn deadline(&self) -> Option<u64> {
        todo!()
    }
    /// True when the entry has a deadline at or before `now` (ms).
    pub fn is_expired(&self, now: u64) -> bool {
        matches!(self.deadline(), Some(d) if d <= now)
    }
    /// Replace the deadline (reallocates only when presence changes).
    pub fn set_deadline(&mut self, deadline: Option<u64>) {
        let _ = deadline;
        todo!()
    }
    /// Replace the value, keeping key and deadline.
    pub fn set_value(&mut self, value: &[u8]) {
        let _ = value;
        todo!()
    }
    /// Bytes this entry costs in memory (allocation plus the table slot), for accounting.
    pub fn mem_size(&self) -> usize {
        todo!()
    }
}
