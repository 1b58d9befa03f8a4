//! [`Member`]: one element of a large hash or set — a byte string in 16
//! bytes. Up to 15 bytes live inline (no allocation: a set of integers or
//! short names costs its table slots and nothing else); longer ones live in
//! their own heap allocation that the member owns alone. It only holds bytes:
//! it never knows which collection holds it or how that collection is counted.

use std::ptr::NonNull;

/// Bytes kept inline; longer strings go to the heap.
const INLINE_MAX: usize = 15;
/// The tag byte of a heap member (an inline member's tag is its length, ≤ 15).
const HEAP: u8 = 0xff;

/// A byte string: inline (`bytes[15]` is the length) or on the heap
/// (`bytes[0..8]` the address of a `Box<[u8]>`'s data, `bytes[8..15]` its
/// length, `bytes[15] == HEAP`).
#[repr(C, align(8))]
pub struct Member {
    bytes: [u8; 16],
}

// SAFETY: a heap `Member` owns its allocation alone, exactly as the
// `Box<[u8]>` it was made from (which is `Send` and `Sync`); an inline one is
// plain bytes.
unsafe impl Send for Member {}
// SAFETY: as above; `&Member` only reads.
unsafe impl Sync for Member {}

impl Member {
    pub fn new(s: &[u8]) -> Member {
        let mut bytes = [0u8; 16];
        if s.len() <= INLINE_MAX {
            bytes[..s.len()].copy_from_slice(s);
            bytes[15] = s.len() as u8;
            return Member { bytes };
        }
        let boxed: Box<[u8]> = s.into();
        let len = boxed.len() as u64;
        let ptr = Box::into_raw(boxed) as *mut u8 as usize as u64;
        bytes[..8].copy_from_slice(&ptr.to_ne_bytes());
        // Seven bytes of length: far past any bulk string a client may send.
        bytes[8..15].copy_from_slice(&len.to_le_bytes()[..7]);
        bytes[15] = HEAP;
        Member { bytes }
    }

    #[inline]
    fn heap(&self) -> Option<(NonNull<u8>, usize)> {
        if self.bytes[15] != HEAP {
            return None;
        }
        let mut p = [0u8; 8];
        p.copy_from_slice(&self.bytes[..8]);
        let mut l = [0u8; 8];
        l[..7].copy_from_slice(&self.bytes[8..15]);
        let ptr = u64::from_ne_bytes(p) as usize as *mut u8;
        // `new` stored the address of a live box here; it is never null.
        NonNull::new(ptr).map(|p| (p, u64::from_le_bytes(l) as usize))
    }

    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        match self.heap() {
            // SAFETY: `heap` returns the address and length of the
            // `Box<[u8]>` `new` leaked, which this member owns until `drop`;
            // the slice lives no longer than `&self`.
            Some((ptr, len)) => unsafe { std::slice::from_raw_parts(ptr.as_ptr(), len) },
            None => &self.bytes[..usize::from(self.bytes[15])],
        }
    }

    /// Bytes this member takes outside its 16 (a heap string's malloc chunk).
    #[inline]
    pub fn heap_size(&self) -> usize {
        match self.heap() {
            Some((_, len)) => crate::storage::memory::chunk_size(len),
            None => 0,
        }
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        if let Some((ptr, len)) = self.heap() {
            // SAFETY: the box `new` leaked, of exactly `len` bytes, freed once:
            // `drop` runs once and nothing reads the member after it.
            drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(ptr.as_ptr(), len)) });
        }
    }
}

impl Clone for Member {
    fn clone(&self) -> Member {
        Member::new(self.as_bytes())
    }
}

impl PartialEq for Member {
    fn eq(&self, other: &Member) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}
impl Eq for Member {}

impl std::fmt::Debug for Member {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.as_bytes()))
    }
}

impl std::ops::Deref for Member {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        self.as_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_and_heap_members_hold_their_bytes() {
        assert_eq!(std::mem::size_of::<Member>(), 16);
        for len in [0usize, 1, 14, 15, 16, 17, 100, 70_000] {
            let s: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
            let m = Member::new(&s);
            assert_eq!(m.as_bytes(), &s[..], "len {len}");
            assert_eq!(m.heap_size() > 0, len > INLINE_MAX);
            let c = m.clone();
            drop(m);
            assert_eq!(&*c, &s[..]);
        }
        // A 15-byte string whose last byte is 0xff is still inline and intact.
        let s = [0xffu8; 15];
        assert_eq!(Member::new(&s).as_bytes(), &s);
        assert_eq!(Member::new(b"a"), Member::new(b"a"));
        assert_ne!(Member::new(b"a"), Member::new(&[b'a'; 20]));
    }
}
