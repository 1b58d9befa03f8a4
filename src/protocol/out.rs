//! [`Out`]: a connection's unsent replies, as one byte sequence made of a
//! growable tail and, ahead of it, sealed segments. A large bulk value
//! ([`SHARE_MIN`] bytes or more) is not copied in: it becomes a segment of its
//! own that shares the value's `Bytes` (a refcount, no copy), and the socket
//! sends the segments with one gathering `sendmsg`. A 512 MB GET reply is then
//! never copied once it left the keyspace, and a pipeline of GETs of one big
//! value holds that value once, whatever the count.
//!
//! This module only assembles bytes; it never decides when they are sent.

use bytes::{Bytes, BytesMut};
use std::collections::VecDeque;
use std::ops::{Deref, DerefMut};

/// Values of at least this many bytes are sent from their own allocation
/// instead of being copied into the reply buffer. The keyspace stores values
/// from the same length in their own `Bytes` (`storage::entry::SHARED_MIN`),
/// so from here on a reply copies nothing, and what a batch of replies can
/// copy into a connection's buffer is bounded by this (`command::dispatch`).
pub const SHARE_MIN: usize = 4 * 1024;

/// Unsent replies: `sealed` segments first, then `tail`.
#[derive(Default, Debug)]
pub struct Out {
    sealed: VecDeque<Bytes>,
    sealed_len: usize,
    tail: BytesMut,
}

impl Out {
    pub fn new() -> Out {
        Out::default()
    }

    pub fn with_capacity(n: usize) -> Out {
        Out {
            tail: BytesMut::with_capacity(n),
            ..Out::default()
        }
    }

    /// Every unsent byte, segments and tail.
    pub fn len(&self) -> usize {
        self.sealed_len + self.tail.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True when everything is in the tail (one plain `send` carries it).
    pub fn is_contiguous(&self) -> bool {
        self.sealed.is_empty()
    }

    /// Append `data` as it is, sharing it when it is large.
    pub fn put_bytes(&mut self, data: &Bytes) {
        if data.len() >= SHARE_MIN {
            self.seal();
            self.sealed_len += data.len();
            self.sealed.push_back(data.clone());
        } else {
            self.tail.extend_from_slice(data);
        }
    }

    /// A RESP bulk string `${len}\r\n{data}\r\n`, sharing `data` when large.
    pub fn bulk(&mut self, data: &Bytes) {
        if data.len() < SHARE_MIN {
            return super::reply::bulk(&mut self.tail, data);
        }
        super::reply::bulk_header(&mut self.tail, data.len());
        self.put_bytes(data);
        self.tail.extend_from_slice(b"\r\n");
    }

    /// Move the tail behind the sealed segments, so a shared segment can follow.
    fn seal(&mut self) {
        if !self.tail.is_empty() {
            let t = self.tail.split().freeze();
            self.sealed_len += t.len();
            self.sealed.push_back(t);
        }
    }

    /// Split into the sealed segments and the tail (for a gathering send).
    pub fn into_parts(self) -> (VecDeque<Bytes>, BytesMut) {
        (self.sealed, self.tail)
    }

    /// The tail alone, when [`Self::is_contiguous`].
    pub fn from_tail(tail: BytesMut) -> Out {
        Out {
            tail,
            ..Out::default()
        }
    }

    /// Every byte, copied into one buffer (tests and the rare caller that needs one slice).
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.len());
        for s in &self.sealed {
            v.extend_from_slice(s);
        }
        v.extend_from_slice(&self.tail);
        v
    }

    /// Forget every byte, keeping the tail's allocation.
    pub fn clear(&mut self) {
        self.sealed.clear();
        self.sealed_len = 0;
        self.tail.clear();
    }
}

/// Small writes go straight into the tail: every `reply::*` encoder works on it.
impl Deref for Out {
    type Target = BytesMut;
    fn deref(&self) -> &BytesMut {
        &self.tail
    }
}

impl DerefMut for Out {
    fn deref_mut(&mut self) -> &mut BytesMut {
        &mut self.tail
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_bulks_are_copied_large_ones_shared_in_order() {
        let mut out = Out::new();
        out.bulk(&Bytes::from_static(b"ab"));
        let big = Bytes::from(vec![7u8; SHARE_MIN]);
        out.bulk(&big);
        out.extend_from_slice(b"+OK\r\n");
        assert!(!out.is_contiguous());
        let mut want = b"$2\r\nab\r\n".to_vec();
        want.extend_from_slice(format!("${SHARE_MIN}\r\n").as_bytes());
        want.extend_from_slice(&big);
        want.extend_from_slice(b"\r\n+OK\r\n");
        assert_eq!(out.to_vec(), want);
        assert_eq!(out.len(), want.len());
        let (sealed, tail) = out.into_parts();
        // The big value's segment is the value's own allocation.
        assert!(sealed.iter().any(|s| s.as_ptr() == big.as_ptr()));
        assert_eq!(&tail[..], b"\r\n+OK\r\n");
    }

    #[test]
    fn clear_empties_everything() {
        let mut out = Out::with_capacity(64);
        out.bulk(&Bytes::from(vec![1u8; SHARE_MIN * 2]));
        out.clear();
        assert!(out.is_empty());
        assert!(out.is_contiguous());
    }
}
