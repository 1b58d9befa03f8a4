//! Reading a log back: a streaming reader over any byte source that yields
//! records in order and says why it stopped — a clean end, a torn tail, or
//! corruption in the middle. It must never panic on any input and never
//! allocate from a length field before the bytes are there: its buffer grows
//! only with bytes the source actually delivered, so a lying length costs at
//! most the file's size (twice, while the buffer doubles), never more.
//!
//! The rule for the first frame that does not read (at offset `o`):
//! - **torn** (dropped with a warning, as Redis's `aof-load-truncated yes`):
//!   the file ends inside the frame's header; or the frame's length passes its
//!   check and the frame runs past the end of the file; or the frame is whole
//!   but its payload checksum fails and nothing but zero bytes follows it; or
//!   the length check fails and nothing but zero bytes follows the two fields
//!   (pages that a crash left unwritten read back as zeros, and a page
//!   boundary may cut a frame's header anywhere). Everything from
//!   `o` to the end is what gets dropped, and the stop says how many bytes.
//! - **corrupt** (the start stops, naming the offset): anything else — a frame
//!   that fails with non-zero data after it, a payload whose checksum passes
//!   but whose content breaks the format, a position that is not the next one,
//!   an epoch that goes back. A whole frame with a good checksum is never
//!   "torn": it was written as it reads.
//!
//! In a file whose header has `zero_tail`, zeros from a frame boundary to the
//! end are room the writer pre-wrote, not yet used: the clean end. Zeros at a
//! frame boundary with data after them are corruption in either kind of file.
//!
//! A crash that loses a page in the middle of the unsynced tail while later
//! pages survive reads as corruption by this rule (Redis's loader would refuse
//! such a file too); `stairkv check --fix` then truncates at `o` and says how
//! many bytes go.

use std::io::{self, Read};

use super::{crc32c, le_u32, Header, Record, FRAME_LEN, HEADER_LEN, MAGIC};

/// How much the reader asks its source for at a time.
const CHUNK: usize = 64 * 1024;

/// Why a reader stopped yielding records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stop {
    /// The file ends right after a whole record (or is empty).
    End,
    /// The last frame from `offset` on is incomplete or unwritten: `lost`
    /// bytes (to the end of the file) are not records.
    Torn {
        offset: u64,
        lost: u64,
        reason: String,
    },
    /// The frame at `offset` is damaged and data follows it: `lost` bytes from
    /// there to the end of the file cannot be read.
    Corrupt {
        offset: u64,
        lost: u64,
        reason: String,
    },
}

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stop::End => write!(f, "clean end"),
            Stop::Torn {
                offset,
                lost,
                reason,
            } => write!(
                f,
                "torn tail at offset {offset} ({reason}; {lost} bytes to the end)"
            ),
            Stop::Corrupt {
                offset,
                lost,
                reason,
            } => write!(
                f,
                "corruption at offset {offset} ({reason}; {lost} bytes from there to the end)"
            ),
        }
    }
}

/// Reads one log file's records in order. Call [`LogReader::next_record`]
/// until it returns `None`, then [`LogReader::stop`] says why.
pub struct LogReader<R> {
    src: R,
    /// Storage, zeroed once as it grows; `buf[..end]` is what the source gave.
    buf: Vec<u8>,
    end: usize,
    /// The first unread byte in `buf`.
    pos: usize,
    /// The file offset of `buf[pos]`.
    offset: u64,
    /// The source returned 0 bytes.
    eof: bool,
    header: Option<Header>,
    next_lsn: u64,
    epoch: u64,
    records: u64,
    stop: Option<Stop>,
}

impl<R: Read> LogReader<R> {
    pub fn new(src: R) -> LogReader<R> {
        LogReader {
            src,
            buf: Vec::new(),
            end: 0,
            pos: 0,
            offset: 0,
            eof: false,
            header: None,
            next_lsn: 0,
            epoch: 0,
            records: 0,
            stop: None,
        }
    }

    /// Reads the header if it is not read yet; `None` when the file has none
    /// (empty, cut short, or not a log: [`LogReader::stop`] says which).
    pub fn header(&mut self) -> io::Result<Option<Header>> {
        if self.header.is_none() && self.stop.is_none() {
            self.read_header()?;
        }
        Ok(self.header)
    }

    /// The next record, or `None` once the log stopped (see [`LogReader::stop`]).
    /// An error is the source's own (the file could not be read); the reader
    /// is then stopped.
    pub fn next_record(&mut self) -> io::Result<Option<Record<'_>>> {
        if self.header.is_none() && self.stop.is_none() {
            self.read_header()?;
        }
        if self.stop.is_some() {
            return Ok(None);
        }
        match self.frame()? {
            Some((start, end)) => {
                self.pos = end;
                self.offset += (end - start) as u64;
                self.records += 1;
                // `frame` decoded this very payload already; decoding again
                // here (cheap: a few fixed fields) is what lets the record
                // borrow the buffer after `self` was updated.
                Record::decode(&self.buf[start + FRAME_LEN..end])
                    .map(Some)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
            }
            None => Ok(None),
        }
    }

    /// Why the reader stopped; `None` while it has not.
    pub fn stop(&self) -> Option<&Stop> {
        self.stop.as_ref()
    }

    /// Records read so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// The file offset just after the last good record (or the header): where
    /// a torn or corrupt file is truncated, and where appending goes on.
    pub fn good_len(&self) -> u64 {
        self.offset
    }

    /// The position the next record would carry: a writer resuming this log
    /// starts here ([`super::LogWriter::new`]).
    pub fn next_lsn(&self) -> u64 {
        self.next_lsn
    }

    /// The newest epoch read (the header's when no record was).
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    #[cfg(test)]
    pub(super) fn buffer_capacity(&self) -> usize {
        self.buf.capacity()
    }

    fn read_header(&mut self) -> io::Result<()> {
        self.fill(HEADER_LEN)?;
        let avail = self.end - self.pos;
        if avail == 0 {
            self.stop = Some(Stop::End);
            return Ok(());
        }
        if avail < HEADER_LEN {
            let have = &self.buf[self.pos..self.end];
            let n = have.len().min(MAGIC.len());
            self.stop = Some(if have[..n] == MAGIC[..n] || have.iter().all(|&b| b == 0) {
                Stop::Torn {
                    offset: 0,
                    lost: avail as u64,
                    reason: format!("header cut short at {avail} of {HEADER_LEN} bytes"),
                }
            } else {
                Stop::Corrupt {
                    offset: 0,
                    lost: avail as u64,
                    reason: "not a stairkv log (bad magic)".into(),
                }
            });
            return Ok(());
        }
        let mut h = [0u8; HEADER_LEN];
        h.copy_from_slice(&self.buf[self.pos..self.pos + HEADER_LEN]);
        match Header::decode(&h) {
            Ok(header) => {
                self.header = Some(header);
                self.next_lsn = header.start_lsn;
                self.epoch = header.epoch;
                self.pos += HEADER_LEN;
                self.offset = HEADER_LEN as u64;
            }
            Err(reason) => {
                let (all_zero, lost) = self.scan_rest(self.pos)?;
                self.stop = Some(if all_zero {
                    Stop::Torn {
                        offset: 0,
                        lost,
                        reason: "header never written (zeros)".into(),
                    }
                } else {
                    Stop::Corrupt {
                        offset: 0,
                        lost,
                        reason,
                    }
                });
            }
        }
        Ok(())
    }

    /// Finds the next good frame: `Some((start, end))` in `buf`, or `None`
    /// with `stop` set.
    fn frame(&mut self) -> io::Result<Option<(usize, usize)>> {
        self.fill(FRAME_LEN)?;
        let avail = self.end - self.pos;
        if avail == 0 {
            self.stop = Some(Stop::End);
            return Ok(None);
        }
        let zero_tail = self.header.is_some_and(|h| h.zero_tail);
        let head = &self.buf[self.pos..self.pos + avail.min(FRAME_LEN)];
        if zero_tail && head.iter().all(|&b| b == 0) {
            let (all_zero, lost) = self.scan_rest(self.pos)?;
            if all_zero {
                self.stop = Some(Stop::End);
                return Ok(None);
            }
            return self.corrupt(lost, "zeros at a record boundary, then data".into());
        }
        if avail < FRAME_LEN {
            return self.torn(
                avail as u64,
                format!("frame header cut short at {avail} of {FRAME_LEN} bytes"),
            );
        }
        let p = self.pos;
        let len_bytes = &self.buf[p..p + 4];
        if crc32c(len_bytes) != le_u32(&self.buf[p + 4..p + 8]) {
            let (all_zero, lost) = self.scan_rest(p + 8)?;
            let reason = "frame length fails its checksum".to_string();
            return if all_zero {
                self.torn(lost, format!("{reason}, zeros to the end"))
            } else {
                self.corrupt(lost, reason)
            };
        }
        let len = le_u32(len_bytes) as usize;
        // Bytes arrive before the buffer grows for them (see `fill`), so a
        // length that lies costs nothing beyond the file itself.
        self.fill(FRAME_LEN + len)?;
        let avail = self.end - self.pos;
        if avail < FRAME_LEN + len {
            return self.torn(
                avail as u64,
                format!(
                    "last record cut short at {} of {} bytes",
                    avail,
                    FRAME_LEN + len
                ),
            );
        }
        // `fill` may have moved the unread bytes to the buffer's front.
        let p = self.pos;
        let end = p + FRAME_LEN + len;
        let payload = &self.buf[p + FRAME_LEN..end];
        if crc32c(payload) != le_u32(&self.buf[p + 8..p + 12]) {
            let (all_zero, lost) = self.scan_rest(end)?;
            return if all_zero {
                self.torn(lost, "last record fails its checksum".into())
            } else {
                self.corrupt(lost, "record fails its checksum".into())
            };
        }
        let problem = match Record::decode(payload) {
            Err(e) => Some(e),
            Ok(r) if r.lsn != self.next_lsn => Some(format!(
                "record at position {} where {} was expected",
                r.lsn, self.next_lsn
            )),
            Ok(r) if r.epoch < self.epoch => Some(format!(
                "record of epoch {} after epoch {}",
                r.epoch, self.epoch
            )),
            Ok(r) => {
                self.next_lsn = r.lsn.wrapping_add(1);
                self.epoch = r.epoch;
                None
            }
        };
        if let Some(reason) = problem {
            let (_, lost) = self.scan_rest(end)?;
            return self.corrupt(lost, reason);
        }
        Ok(Some((p, end)))
    }

    fn torn(&mut self, lost: u64, reason: String) -> io::Result<Option<(usize, usize)>> {
        self.stop = Some(Stop::Torn {
            offset: self.offset,
            lost,
            reason,
        });
        Ok(None)
    }

    fn corrupt(&mut self, lost: u64, reason: String) -> io::Result<Option<(usize, usize)>> {
        self.stop = Some(Stop::Corrupt {
            offset: self.offset,
            lost,
            reason,
        });
        Ok(None)
    }

    /// Ensures `n` unread bytes are buffered, or that the source is at its
    /// end. Reads `CHUNK` at a time, so the buffer holds at most what the
    /// source delivered plus one chunk.
    fn fill(&mut self, n: usize) -> io::Result<()> {
        if self.end - self.pos >= n || self.eof {
            return Ok(());
        }
        if self.pos > 0 {
            self.buf.copy_within(self.pos..self.end, 0);
            self.end -= self.pos;
            self.pos = 0;
        }
        while self.end < n && !self.eof {
            self.read_chunk()?;
        }
        Ok(())
    }

    fn read_chunk(&mut self) -> io::Result<()> {
        if self.buf.len() < self.end + CHUNK {
            self.buf.resize(self.end + CHUNK, 0);
        }
        let got = loop {
            match self.src.read(&mut self.buf[self.end..self.end + CHUNK]) {
                Ok(k) => break k.min(CHUNK),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.stop = Some(Stop::End);
                    return Err(e);
                }
            }
        };
        self.end += got;
        if got == 0 {
            self.eof = true;
        }
        Ok(())
    }

    /// Whether every byte from `buf[from]` to the end of the source is zero,
    /// and how many bytes there are from `buf[pos]` (the frame in question)
    /// to the end. Reads the rest of the source a chunk at a time, keeping
    /// only one chunk: the reader stops after this.
    fn scan_rest(&mut self, from: usize) -> io::Result<(bool, u64)> {
        let mut zero = self.buf[from..self.end].iter().all(|&b| b == 0);
        let mut count = (self.end - self.pos) as u64;
        self.end = from;
        while !self.eof {
            self.read_chunk()?;
            let new = &self.buf[from..self.end];
            zero &= new.iter().all(|&b| b == 0);
            count += new.len() as u64;
            self.end = from;
        }
        Ok((zero, count))
    }
}
