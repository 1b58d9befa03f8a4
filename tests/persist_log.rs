//! `stairkv check FILE [--fix]` as a person runs it: the real binary on log
//! files written with the library's encoder — whole, torn, corrupt in the
//! middle, not a log at all — checking its report, its exit code and what
//! `--fix` leaves on disk.

use bytes::BytesMut;
use stairkv::persist::log::{Cmd, LogWriter, Op, NO_SHARD};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A log of core 3 from position 100: `n` writes, a FLUSHALL, a migration.
/// Returns the bytes and where each record starts.
fn log(n: usize) -> (Vec<u8>, Vec<usize>) {
    let mut out = BytesMut::new();
    let mut w = LogWriter::start(&mut out, 3, 100, 7);
    let mut starts = Vec::new();
    for i in 0..n {
        starts.push(out.len());
        let key = format!("key:{i}");
        let val = format!("value {i}");
        let args: [&[u8]; 5] = [
            b"SET",
            key.as_bytes(),
            val.as_bytes(),
            b"PXAT",
            b"1900000000000",
        ];
        w.append(&mut out, 7, (i % 4) as u32, Op::Write(Cmd::Args(&args)))
            .expect("encode");
    }
    starts.push(out.len());
    w.append(&mut out, 8, NO_SHARD, Op::Write(Cmd::Args(&[b"FLUSHALL"])))
        .expect("encode");
    starts.push(out.len());
    w.append(&mut out, 9, 2, Op::ShardLeaving { to: 1 })
        .expect("encode");
    (out.to_vec(), starts)
}

fn dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("stairkv-persist-log-{}", std::process::id()));
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

/// Runs `stairkv check [--fix] path`: exit code and stdout.
fn check(path: &Path, fix: bool) -> (i32, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_stairkv"));
    cmd.arg("check").arg(path);
    if fix {
        cmd.arg("--fix");
    }
    let out = cmd.output().expect("run stairkv check");
    (
        out.status.code().expect("exit code"),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn file_len(p: &Path) -> u64 {
    std::fs::metadata(p).expect("metadata").len()
}

#[test]
fn check_reports_and_fixes_logs() {
    let d = dir();
    let (bytes, starts) = log(50);
    let records = starts.len();
    let last_lsn = 100 + records - 1;

    // A whole log: exit 0, its records and last position.
    let good = d.join("good.log");
    std::fs::write(&good, &bytes).expect("write");
    let (code, out) = check(&good, false);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("core 3, first position 100"), "{out}");
    assert!(
        out.contains(&format!(
            "{records} good records, last position {last_lsn}, last epoch 9"
        )),
        "{out}"
    );
    assert!(out.contains("OK"), "{out}");

    // Torn in the last record: exit 1 and untouched; --fix truncates to the
    // record before, and the file then checks clean.
    let torn = d.join("torn.log");
    let cut = bytes.len() - 4;
    std::fs::write(&torn, &bytes[..cut]).expect("write");
    let (code, out) = check(&torn, false);
    assert_eq!(code, 1, "{out}");
    let last = *starts.last().expect("records");
    assert!(
        out.contains(&format!("torn tail at offset {last}")),
        "{out}"
    );
    assert_eq!(file_len(&torn), cut as u64);
    let (code, out) = check(&torn, true);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(&format!("truncated to {last} bytes")), "{out}");
    assert_eq!(file_len(&torn), last as u64);
    let (code, out) = check(&torn, false);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(&format!("last position {}", last_lsn - 1)),
        "{out}"
    );

    // Corrupt in the middle (one bit of record 20's payload): the offset is
    // named; --fix says how many bytes it threw away.
    let bad_at = starts[20];
    let mut corrupt_bytes = bytes.clone();
    corrupt_bytes[bad_at + 30] ^= 0x04;
    let corrupt = d.join("corrupt.log");
    std::fs::write(&corrupt, &corrupt_bytes).expect("write");
    let (code, out) = check(&corrupt, false);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!("corruption at offset {bad_at}")),
        "{out}"
    );
    assert!(out.contains("20 good records, last position 119"), "{out}");
    assert_eq!(
        file_len(&corrupt),
        bytes.len() as u64,
        "checked without --fix"
    );
    let (code, out) = check(&corrupt, true);
    assert_eq!(code, 0, "{out}");
    let lost = bytes.len() - bad_at;
    assert!(
        out.contains(&format!("{lost} bytes from offset {bad_at} removed")),
        "{out}"
    );
    assert!(out.contains("not at the end"), "{out}");
    assert_eq!(file_len(&corrupt), bad_at as u64);

    // Not a log: refused, never truncated, even with --fix.
    let foreign = d.join("notes.txt");
    let text = b"STAIRKV? no: a text file that is no log";
    std::fs::write(&foreign, text).expect("write");
    let (code, out) = check(&foreign, true);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("not a stairkv log"), "{out}");
    assert_eq!(file_len(&foreign), text.len() as u64);
    // An RDB snapshot is checked as one, and never cut to "fix" it.
    let rdb_file = d.join("dump.rdb");
    let rdb = b"REDIS0011\xfa\x09redis-ver\x057.0.15";
    std::fs::write(&rdb_file, rdb).expect("write");
    let (code, out) = check(&rdb_file, true);
    assert_eq!(code, 2, "{out}");
    assert_eq!(file_len(&rdb_file), rdb.len() as u64);
    let (code, out) = check(&rdb_file, false);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("offset"), "{out}");

    // A file that is not there: exit 2.
    let (code, _) = check(&d.join("missing.log"), false);
    assert_eq!(code, 2);

    let _ = std::fs::remove_dir_all(&d);
}
