//! `stairkv check FILE [--fix]` for logs: read a log file to its end, report
//! its records, its last position and the first bad offset, and with `fix`
//! truncate it to its last good record, as `redis-check-aof --fix` does. It
//! never truncates a file whose header is not a stairkv log's (it may be
//! another file entirely), and a fix of corruption in the middle says how many
//! bytes it threw away: nothing goes silently. It runs in a plain process
//! (the command line), never on a core.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use super::read::{LogReader, Stop};
use super::Header;

/// What [`check_log`] found (and did).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckReport {
    pub path: PathBuf,
    /// `None`: the file has no readable header (see `stop`).
    pub header: Option<Header>,
    pub records: u64,
    /// The last good record's position.
    pub last_lsn: Option<u64>,
    /// The newest epoch among the good records (the header's if none).
    pub last_epoch: u64,
    /// Bytes up to the end of the last good record.
    pub good_len: u64,
    pub file_len: u64,
    /// Why reading stopped.
    pub stop: Stop,
    /// `fix` truncated the file to `good_len`.
    pub truncated: bool,
}

impl CheckReport {
    /// The file reads to its end with nothing dropped.
    pub fn is_clean(&self) -> bool {
        self.stop == Stop::End
    }
}

/// Reads the log at `path` to its end; with `fix`, truncates a torn or
/// corrupt one to its last good record (and syncs it). A file whose header is
/// unreadable for any reason but being cut short is left as it is.
pub fn check_log(path: &Path, fix: bool) -> io::Result<CheckReport> {
    let file = File::open(path)?;
    let file_len = file.metadata()?.len();
    let mut reader = LogReader::new(file);
    let mut last_lsn = None;
    while let Some(r) = reader.next_record()? {
        last_lsn = Some(r.lsn);
    }
    let header = reader.header()?;
    let stop = reader.stop().cloned().unwrap_or(Stop::End);
    let good_len = reader.good_len();
    let fixable = header.is_some() || matches!(stop, Stop::Torn { .. });
    let truncated = fix && stop != Stop::End && fixable;
    if truncated {
        let f = OpenOptions::new().write(true).open(path)?;
        f.set_len(good_len)?;
        f.sync_all()?;
    }
    Ok(CheckReport {
        path: path.to_path_buf(),
        header,
        records: reader.records(),
        last_lsn,
        last_epoch: reader.epoch(),
        good_len,
        file_len,
        stop,
        truncated,
    })
}

impl std::fmt::Display for CheckReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let path = self.path.display();
        match &self.header {
            Some(h) => writeln!(
                f,
                "{path}: stairkv log of core {}, first position {}, started at epoch {}",
                h.core, h.start_lsn, h.epoch
            )?,
            None => writeln!(f, "{path}: no readable log header")?,
        }
        match self.last_lsn {
            Some(lsn) => writeln!(
                f,
                "{} good records, last position {lsn}, last epoch {}, {} of {} bytes",
                self.records, self.last_epoch, self.good_len, self.file_len
            )?,
            None => writeln!(
                f,
                "0 records, {} of {} bytes good",
                self.good_len, self.file_len
            )?,
        }
        match &self.stop {
            Stop::End => write!(f, "OK: the log reads to its end"),
            Stop::Torn { offset, lost, .. } | Stop::Corrupt { offset, lost, .. } => {
                writeln!(f, "{}", self.stop)?;
                if self.truncated {
                    write!(
                        f,
                        "fixed: truncated to {} bytes, {lost} bytes from offset {offset} removed",
                        self.good_len
                    )?;
                    if matches!(self.stop, Stop::Corrupt { .. }) {
                        write!(
                            f,
                            " (the corruption was not at the end: whatever records \
                             those bytes held are lost)"
                        )?;
                    }
                    Ok(())
                } else if self.header.is_none() && matches!(self.stop, Stop::Corrupt { .. }) {
                    write!(f, "not fixable: this does not look like a stairkv log")
                } else {
                    write!(
                        f,
                        "run with --fix to truncate to the last good record \
                         ({lost} bytes from offset {offset} would be removed)"
                    )
                }
            }
        }
    }
}
