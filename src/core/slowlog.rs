//! One core's slow log: the commands run here that took at least
//! `slowlog-log-slower-than` microseconds, newest first, at most
//! `slowlog-max-len` of them, each as Redis's SLOWLOG GET shows it (id, unix
//! time, microseconds, arguments trimmed as Redis trims them, client address
//! and name). SLOWLOG gathers every core's entries and orders them by id,
//! which one process-wide counter hands out so that ids never repeat and
//! follow the order entries were made in.
//!
//! It only keeps what it is given: the command layer decides what is slow
//! and hides passwords before an entry gets here.

use bytes::Bytes;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};

/// Redis's limits on what an entry keeps of a command: 32 arguments (the last
/// saying how many more there were) and 128 bytes of each (plus how many more).
pub const MAX_ARGS: usize = 32;
pub const MAX_ARG_BYTES: usize = 128;

static NEXT_ID: AtomicU64 = AtomicU64::new(0);

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlowEntry {
    pub id: u64,
    /// Unix seconds when the command ended.
    pub at: u64,
    pub micros: u64,
    pub args: Vec<Bytes>,
    /// `ip:port` of the client (or `lua` for a script's command) and its name.
    pub peer: String,
    pub name: String,
}

#[derive(Default)]
pub struct SlowLog {
    /// Newest first.
    entries: VecDeque<SlowEntry>,
}

/// A command's arguments as an entry keeps them.
fn trimmed(args: &[Bytes]) -> Vec<Bytes> {
    let keep = args.len().min(MAX_ARGS);
    let mut out = Vec::with_capacity(keep);
    for (i, a) in args.iter().take(keep).enumerate() {
        if keep != args.len() && i == keep - 1 {
            let more = args.len() - keep + 1;
            out.push(Bytes::from(format!("... ({more} more arguments)")));
        } else if a.len() > MAX_ARG_BYTES {
            let mut v = a[..MAX_ARG_BYTES].to_vec();
            v.extend_from_slice(format!("... ({} more bytes)", a.len() - MAX_ARG_BYTES).as_bytes());
            out.push(v.into());
        } else {
            out.push(a.clone());
        }
    }
    out
}

impl SlowLog {
    /// Keep a slow command's entry, dropping the oldest past `max_len`.
    pub fn push(&mut self, args: &[Bytes], micros: u64, peer: &str, name: &str, max_len: usize) {
        let at = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        self.entries.push_front(SlowEntry {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            at,
            micros,
            args: trimmed(args),
            peer: peer.to_owned(),
            name: name.to_owned(),
        });
        self.entries.truncate(max_len);
    }

    /// The newest `count` entries (all with None).
    pub fn newest(&self, count: Option<usize>) -> Vec<SlowEntry> {
        let n = count.unwrap_or(self.entries.len());
        self.entries.iter().take(n).cloned().collect()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn reset(&mut self) {
        self.entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(n: usize, len: usize) -> Vec<Bytes> {
        (0..n).map(|_| Bytes::from(vec![b'a'; len])).collect()
    }

    #[test]
    fn keeps_the_newest_up_to_the_limit_with_rising_ids() {
        let mut log = SlowLog::default();
        for i in 0..5u64 {
            log.push(&[Bytes::from(format!("cmd{i}"))], i, "1.2.3.4:5", "", 3);
        }
        assert_eq!(log.len(), 3);
        let got = log.newest(None);
        assert_eq!(got[0].args[0], Bytes::from("cmd4"));
        assert!(got[0].id > got[1].id && got[1].id > got[2].id);
        assert_eq!(log.newest(Some(1)).len(), 1);
        log.reset();
        assert!(log.is_empty());
    }

    #[test]
    fn trims_arguments_as_redis_does() {
        let t = trimmed(&args(40, 3));
        assert_eq!(t.len(), MAX_ARGS);
        assert_eq!(t[31], Bytes::from("... (9 more arguments)"));
        let t = trimmed(&args(2, 200));
        assert_eq!(t[1].len(), 128 + "... (72 more bytes)".len());
        assert!(t[1].ends_with(b"... (72 more bytes)"));
        assert_eq!(trimmed(&args(32, 1)).len(), 32);
    }
}
