//! Tests of the log format: framing, every record kind both ways, the reader's
//! stops (clean end, a torn tail cut at every byte, zeroed tails, corruption
//! at every byte of a middle record, positions and epochs that break order),
//! and `check_log` with and without `fix` on real files.

use super::*;
use proptest::prelude::*;
use std::io::Read;

/// Every kind, with a few edge values.
fn samples() -> Vec<(u64, ShardId, Op<'static>)> {
    static SET: [&[u8]; 5] = [b"SET", b"k", b"v\r\n\0", b"PXAT", b"1700000000000"];
    static DEL: [&[u8]; 2] = [b"DEL", b""];
    static FLUSH: [&[u8]; 1] = [b"FLUSHALL"];
    vec![
        (1, 0, Op::Write(Cmd::Args(&SET))),
        (1, 3, Op::Write(Cmd::Args(&DEL))),
        (2, NO_SHARD, Op::Write(Cmd::Args(&FLUSH))),
        (
            2,
            7,
            Op::Import {
                from: 1,
                cmd: Cmd::Args(&SET),
            },
        ),
        (3, 7, Op::ShardLeaving { to: u16::MAX }),
        (5, 7, Op::ShardLeft { to: 2 }),
        (5, 9, Op::ShardArriving { from: 0 }),
        (6, 9, Op::ShardArrived { from: 0 }),
        (6, 1, Op::SplitBegin { new_shard: 5 }),
        (7, 1, Op::SplitDone { new_shard: 5 }),
        (8, 1, Op::MergeBegin { from_shard: 5 }),
        (
            8,
            NO_SHARD,
            Op::Claim {
                base: true,
                intervals: Intervals::List(&[(0, Some(1 << 62)), (3 << 62, None)]),
            },
        ),
        (
            9,
            NO_SHARD,
            Op::Claim {
                base: false,
                intervals: Intervals::List(&[]),
            },
        ),
        (
            9,
            3,
            Op::TxWrite {
                tx: u64::MAX - 1,
                cmd: Cmd::Args(&SET),
            },
        ),
        (9, NO_SHARD, Op::TxEnd { tx: 7, parts: 2 }),
        (9, NO_SHARD, Op::TxCommit { tx: 7 }),
        (
            9,
            NO_SHARD,
            Op::TxClaim {
                tx: 7,
                intervals: Intervals::List(&[(5, Some(9))]),
            },
        ),
        (u64::MAX, 1, Op::MergeDone { from_shard: 5 }),
    ]
}

const START: u64 = 1000;

/// A log of `samples()` and the offset where each record starts, in a file
/// without room written ahead (so zeros after it are a torn tail).
fn sample_log() -> (Vec<u8>, Vec<usize>) {
    sample_log_with(false)
}

fn sample_log_with(zero_tail: bool) -> (Vec<u8>, Vec<usize>) {
    let mut out = BytesMut::new();
    let mut w = if zero_tail {
        LogWriter::start(&mut out, 4, START, 1)
    } else {
        Header {
            core: 4,
            start_lsn: START,
            epoch: 1,
            zero_tail: false,
        }
        .encode(&mut out);
        LogWriter::new(START, 1)
    };
    let mut starts = Vec::new();
    for (epoch, shard, op) in samples() {
        starts.push(out.len());
        w.append(&mut out, epoch, shard, op).expect("encode");
    }
    (out.to_vec(), starts)
}

#[derive(Debug, PartialEq, Eq)]
struct Owned {
    lsn: u64,
    epoch: u64,
    shard: ShardId,
    kind: u8,
    args: Vec<Vec<u8>>,
    op: String,
}

fn own(r: &Record<'_>) -> Owned {
    let args = match r.op {
        Op::Write(c) | Op::Import { cmd: c, .. } | Op::TxWrite { cmd: c, .. } => {
            c.args().map(|a| a.to_vec()).collect()
        }
        _ => Vec::new(),
    };
    // The `Cmd` representations differ (Args vs Resp); their args and the
    // rest of the op are compared instead.
    let op = match r.op {
        Op::Write(_) => "write".to_string(),
        Op::Import { from, .. } => format!("import {from}"),
        Op::TxWrite { tx, .. } => format!("tx write {tx}"),
        Op::TxClaim { tx, intervals } => {
            format!("tx claim {tx} {:?}", intervals.iter().collect::<Vec<_>>())
        }
        Op::Claim { base, intervals } => {
            format!("claim {base} {:?}", intervals.iter().collect::<Vec<_>>())
        }
        other => format!("{other:?}"),
    };
    Owned {
        lsn: r.lsn,
        epoch: r.epoch,
        shard: r.shard,
        kind: r.op.kind(),
        args,
        op,
    }
}

#[test]
fn claims_say_which_positions_they_cover() {
    let list = [(0, Some(1u64 << 62)), (3 << 62, None)];
    let mut out = BytesMut::new();
    Intervals::List(&list).encode(&mut out);
    let raw = Intervals::Raw(&out);
    for iv in [Intervals::List(&list), raw] {
        assert!(iv.contain(0) && iv.contain((1 << 62) - 1) && iv.contain(u64::MAX));
        assert!(!iv.contain(1 << 62) && !iv.contain((3 << 62) - 1));
    }
    assert_eq!(raw, Intervals::List(&list));
    assert!(!Intervals::List(&[]).contain(5));
    // A count that does not match the body, or a flag past 1, is refused.
    let mut p = BytesMut::new();
    p.put_bytes(0, PAYLOAD_FIXED - 1);
    p.put_u8(11);
    p.put_u8(0);
    p.put_u32_le(2);
    p.put_bytes(0, 16);
    assert!(Record::decode(&p).is_err());
    let last = p.len() - 21;
    p[last] = 2;
    assert!(Record::decode(&p).is_err());
}

#[test]
fn transaction_records_without_their_id_or_with_no_parts_are_refused() {
    let payload = |kind: u8, body: &[u8]| {
        let mut p = BytesMut::new();
        p.put_bytes(0, PAYLOAD_FIXED - 1);
        p.put_u8(kind);
        p.put_slice(body);
        p
    };
    assert!(Record::decode(&payload(12, &[1, 2, 3])).is_err());
    let mut w = 7u64.to_le_bytes().to_vec();
    w.extend_from_slice(b"*1\r\n$3\r\nDEL\r\n");
    assert_eq!(
        Record::decode(&payload(12, &w)).map(|r| r.op.kind()),
        Ok(12)
    );
    // An id but a command that is not one.
    assert!(Record::decode(&payload(12, &w[..12])).is_err());
    let mut end = 7u64.to_le_bytes().to_vec();
    end.extend_from_slice(&2u16.to_le_bytes());
    assert_eq!(
        Record::decode(&payload(13, &end)).map(|r| r.op),
        Ok(Op::TxEnd { tx: 7, parts: 2 })
    );
    assert!(Record::decode(&payload(13, &end[..9])).is_err());
    end[8] = 0;
    assert!(Record::decode(&payload(13, &end)).is_err());
    assert_eq!(
        Record::decode(&payload(14, &end[..8])).map(|r| r.op),
        Ok(Op::TxCommit { tx: 7 })
    );
    assert!(Record::decode(&payload(14, &end)).is_err());
    let mut claim = 7u64.to_le_bytes().to_vec();
    claim.extend_from_slice(&1u32.to_le_bytes());
    claim.extend_from_slice(&[0; 16]);
    assert_eq!(
        Record::decode(&payload(15, &claim)).map(|r| r.op.kind()),
        Ok(15)
    );
    assert!(Record::decode(&payload(15, &claim[..20])).is_err());
    // Recovery starts new ids above the highest any record names.
    let ids: Vec<Option<u64>> = samples().iter().map(|(_, _, op)| op.tx()).collect();
    assert_eq!(ids.iter().flatten().max(), Some(&(u64::MAX - 1)));
    assert_eq!(ids.iter().flatten().count(), 4);
    assert_eq!(Op::Write(Cmd::Args(&[b"DEL", b"k"])).tx(), None);
    assert!(Record::decode(&payload(15, &claim[..6])).is_err());
}

/// Reads a whole log: its records and its stop.
fn read_all(src: impl Read) -> (Vec<Owned>, Stop, u64) {
    let mut r = LogReader::new(src);
    let mut out = Vec::new();
    while let Some(rec) = r.next_record().expect("no I/O error") {
        out.push(own(&rec));
    }
    let stop = r.stop().cloned().expect("stopped");
    (out, stop, r.good_len())
}

fn expected() -> Vec<Owned> {
    samples()
        .into_iter()
        .enumerate()
        .map(|(i, (epoch, shard, op))| {
            own(&Record {
                lsn: START + i as u64,
                epoch,
                shard,
                op,
            })
        })
        .collect()
}

/// A source that hands out one byte per read.
struct Trickle<'a>(&'a [u8]);

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match (self.0.split_first(), buf.first_mut()) {
            (Some((&b, rest)), Some(slot)) => {
                *slot = b;
                self.0 = rest;
                Ok(1)
            }
            _ => Ok(0),
        }
    }
}

/// A source that hands out at most `n` bytes per read.
struct Pieces<'a>(&'a [u8], usize);

impl Read for Pieces<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.1.min(buf.len()).min(self.0.len());
        buf[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Ok(n)
    }
}

/// Found by the `aof` fuzz target's seeds: a frame whose payload needed a
/// second read moved the buffer under a stale index, and a bad record after
/// it panicked instead of reporting corruption.
#[test]
fn every_read_size_gives_the_same_answer() {
    let (log, starts) = sample_log();
    let mut bad = log.clone();
    bad[starts[5] + 14] ^= 0x20;
    let mut zeroed = log.clone();
    let last = *starts.last().expect("records");
    zeroed[last + 5..].fill(0);
    zeroed.extend([0u8; 300]);
    for variant in [&log[..], &bad[..], &zeroed[..], &log[..log.len() - 9]] {
        let whole = read_all(variant);
        for n in 1..=100 {
            assert_eq!(read_all(Pieces(variant, n)), whole, "pieces of {n}");
        }
    }
}

#[test]
fn crc32c_is_castagnoli() {
    // The check value of CRC-32C (RFC 3720).
    assert_eq!(crc32c(b"123456789"), 0xE306_9283);
    // An all-zero length field never passes its check.
    assert_ne!(crc32c(&[0; 4]), 0);
}

#[test]
fn header_round_trip_and_damage() {
    let h = Header {
        core: 513,
        start_lsn: u64::MAX - 1,
        epoch: 77,
        zero_tail: true,
    };
    let mut out = BytesMut::new();
    h.encode(&mut out);
    assert_eq!(out.len(), HEADER_LEN);
    let mut b = [0u8; HEADER_LEN];
    b.copy_from_slice(&out);
    assert_eq!(Header::decode(&b), Ok(h));
    for i in 0..HEADER_LEN {
        let mut bad = b;
        bad[i] ^= 0x10;
        assert!(Header::decode(&bad).is_err(), "byte {i} flipped passed");
    }
}

#[test]
fn every_kind_round_trips_in_order() {
    let (log, _) = sample_log();
    let (recs, stop, good) = read_all(&log[..]);
    assert_eq!(stop, Stop::End);
    assert_eq!(good, log.len() as u64);
    assert_eq!(recs, expected());
    // The same records, a byte at a time.
    let (recs1, stop1, _) = read_all(Trickle(&log));
    assert_eq!((recs1, stop1), (recs, stop));
}

#[test]
fn frame_layout_is_the_documented_one() {
    let mut out = BytesMut::new();
    Record {
        lsn: 0x0102,
        epoch: 9,
        shard: 3,
        op: Op::Write(Cmd::Args(&[b"DEL", b"ab"])),
    }
    .encode(&mut out)
    .expect("encode");
    let body = b"*2\r\n$3\r\nDEL\r\n$2\r\nab\r\n";
    let len = (PAYLOAD_FIXED + body.len()) as u32;
    assert_eq!(out.len(), FRAME_LEN + len as usize);
    assert_eq!(&out[0..4], len.to_le_bytes());
    assert_eq!(&out[4..8], crc32c(&len.to_le_bytes()).to_le_bytes());
    assert_eq!(&out[8..12], crc32c(&out[12..]).to_le_bytes());
    assert_eq!(&out[12..20], 0x0102u64.to_le_bytes());
    assert_eq!(&out[20..28], 9u64.to_le_bytes());
    assert_eq!(&out[28..32], 3u32.to_le_bytes());
    assert_eq!(out[32], 1);
    assert_eq!(&out[33..], body);
}

#[test]
fn append_keeps_what_the_buffer_held_and_refuses_older_epochs() {
    let mut out = BytesMut::from(&b"earlier bytes"[..]);
    let mut w = LogWriter::new(5, 10);
    assert_eq!(w.append(&mut out, 10, 0, Op::ShardLeft { to: 1 }), Ok(5));
    assert!(out.starts_with(b"earlier bytes"));
    let len = out.len();
    assert_eq!(
        w.append(&mut out, 9, 0, Op::ShardLeft { to: 1 }),
        Err(EncodeError::EpochWentBack { epoch: 9, last: 10 })
    );
    assert_eq!(out.len(), len, "a refused record left bytes behind");
    assert_eq!(w.next_lsn(), 6, "a refused record used a position");
}

#[test]
fn multibulk_validation() {
    for good in [
        &b"*1\r\n$0\r\n\r\n"[..],
        b"*2\r\n$3\r\nDEL\r\n$10\r\n0123456789\r\n",
    ] {
        assert_eq!(validate_multibulk(good), Ok(()), "{good:?}");
        let args: Vec<&[u8]> = Cmd::Resp(good).args().collect();
        assert!(!args.is_empty());
    }
    for bad in [
        &b""[..],
        b"*0\r\n",
        b"*1\r\n",
        b"*01\r\n$1\r\na\r\n",
        b"*1\r\n$01\r\na\r\n",
        b"*1\r\n$-1\r\n",
        b"*1\r\n$2\r\na\r\n",
        b"*1\r\n$1\r\nab\r\n",
        b"*1\r\n$1\r\na\r\nx",
        b"*1\n$1\r\na\r\n",
        b"*99999999999999999999999\r\n",
        b"*1\r\n$99999999999999999999\r\na\r\n",
        b"*3\r\n$1\r\na\r\n",
        b"+OK\r\n",
    ] {
        assert!(validate_multibulk(bad).is_err(), "{bad:?} passed");
    }
}

#[test]
fn torn_at_every_byte_of_the_last_record() {
    let (log, starts) = sample_log();
    let last = *starts.last().expect("records");
    let mut want = expected();
    want.pop();
    for cut in last..log.len() {
        let (recs, stop, good) = read_all(&log[..cut]);
        assert_eq!(recs, want, "cut at {cut}");
        assert_eq!(good, last as u64);
        if cut == last {
            assert_eq!(stop, Stop::End);
        } else {
            match stop {
                Stop::Torn { offset, lost, .. } => {
                    assert_eq!(
                        (offset, lost),
                        (last as u64, (cut - last) as u64),
                        "cut {cut}"
                    )
                }
                other => panic!("cut at {cut}: {other:?}"),
            }
        }
    }
}

#[test]
fn every_cut_of_the_whole_log_reads_the_records_before_it() {
    let (log, starts) = sample_log();
    let all = expected();
    for cut in 0..=log.len() {
        let (recs, stop, _) = read_all(Trickle(&log[..cut]));
        let whole = starts.iter().filter(|&&s| s < cut).count();
        let ends: Vec<usize> = starts[1..].iter().copied().chain([log.len()]).collect();
        let n = ends.iter().filter(|&&e| e <= cut).count();
        assert_eq!(recs[..], all[..n], "cut at {cut}");
        let boundary = cut == 0 || cut == HEADER_LEN || ends.contains(&cut);
        match stop {
            Stop::End => assert!(boundary, "cut {cut}: clean end inside a record"),
            Stop::Torn { .. } => assert!(!boundary && whole >= n),
            Stop::Corrupt { .. } => panic!("cut at {cut}: {stop:?}"),
        }
    }
}

#[test]
fn zeroed_tails_are_torn() {
    let (log, starts) = sample_log();
    let last = *starts.last().expect("records");
    // Preallocated space never written, after a whole log.
    let mut z = log.clone();
    z.extend(std::iter::repeat_n(0u8, 10_000));
    let (recs, stop, good) = read_all(&z[..]);
    assert_eq!(recs, expected());
    assert_eq!(good, log.len() as u64);
    assert!(matches!(stop, Stop::Torn { offset, lost: 10_000, .. } if offset == log.len() as u64));
    // The last record's later bytes never reached the disk, at every split
    // point, with zeros past the end too.
    for from in last..log.len() {
        if log[from..].iter().all(|&b| b == 0) {
            // Zeros already (the last field's high bytes): nothing changes.
            continue;
        }
        let mut z = log.clone();
        z[from..].fill(0);
        z.extend([0u8; 100]);
        let (recs, stop, _) = read_all(&z[..]);
        assert_eq!(recs.len(), expected().len() - 1, "zeros from {from}");
        match stop {
            Stop::Torn { offset, lost, .. } => {
                assert_eq!(offset, last as u64);
                assert_eq!(lost, (z.len() - last) as u64);
            }
            other => panic!("zeros from {from}: {other:?}"),
        }
    }
}

#[test]
fn room_written_ahead_is_the_clean_end() {
    let (log, starts) = sample_log_with(true);
    let last = *starts.last().expect("records");
    let mut z = log.clone();
    z.extend(std::iter::repeat_n(0u8, 1 << 20));
    let (recs, stop, good) = read_all(&z[..]);
    assert_eq!(recs, expected());
    assert_eq!(stop, Stop::End);
    assert_eq!(good, log.len() as u64);
    // A last record never written is room not yet used; one written in part
    // is still a torn tail.
    let mut z = log.clone();
    z[last..].fill(0);
    z.extend([0u8; 100]);
    let (recs, stop, good) = read_all(&z[..]);
    assert_eq!(
        (recs.len(), stop, good),
        (expected().len() - 1, Stop::End, last as u64)
    );
    let mut z = log.clone();
    z[last + FRAME_LEN + 3..].fill(0);
    z.extend([0u8; 100]);
    let (recs, stop, _) = read_all(&z[..]);
    assert_eq!(recs.len(), expected().len() - 1);
    assert!(
        matches!(stop, Stop::Torn { offset, .. } if offset == last as u64),
        "{stop:?}"
    );
    // Zeros at a record boundary with data after them: corruption.
    let mut z = log.clone();
    z[last..last + FRAME_LEN].fill(0);
    let (_, stop, _) = read_all(&z[..]);
    assert!(
        matches!(stop, Stop::Corrupt { offset, .. } if offset == last as u64),
        "{stop:?}"
    );
}

#[test]
fn corruption_in_the_middle_at_every_byte() {
    let (log, starts) = sample_log();
    let k = 3;
    let (from, to) = (starts[k], starts[k + 1]);
    for i in from..to {
        for flip in [0x01u8, 0x80, 0xff] {
            let mut bad = log.clone();
            bad[i] ^= flip;
            let (recs, stop, good) = read_all(&bad[..]);
            assert_eq!(recs[..], expected()[..k], "byte {i} ^ {flip:#x}");
            assert_eq!(good, from as u64);
            match stop {
                Stop::Corrupt { offset, lost, .. } => {
                    assert_eq!(offset, from as u64);
                    assert_eq!(lost, (log.len() - from) as u64);
                }
                other => panic!("byte {i} ^ {flip:#x}: {other:?}"),
            }
        }
    }
}

#[test]
fn a_length_that_lies_past_the_end_is_torn_and_allocates_nothing_for_it() {
    let (mut log, _) = sample_log();
    let len = u32::MAX.to_le_bytes();
    log.extend(len);
    log.extend(crc32c(&len).to_le_bytes());
    log.extend([1, 2, 3, 4, 5, 6]);
    let mut r = LogReader::new(&log[..]);
    while r.next_record().expect("read").is_some() {}
    assert!(matches!(r.stop(), Some(Stop::Torn { lost: 14, .. })));
    // The buffer never grew toward the 4 GiB the length claimed.
    assert!(r.buffer_capacity() < 1 << 20, "{}", r.buffer_capacity());
}

fn frame_of(rec: Record<'_>) -> Vec<u8> {
    let mut out = BytesMut::new();
    rec.encode(&mut out).expect("encode");
    out.to_vec()
}

#[test]
fn positions_and_epochs_out_of_order_are_corruption() {
    let mut head = BytesMut::new();
    Header {
        core: 0,
        start_lsn: 10,
        epoch: 5,
        zero_tail: false,
    }
    .encode(&mut head);
    let rec = |lsn, epoch| {
        frame_of(Record {
            lsn,
            epoch,
            shard: 0,
            op: Op::ShardArrived { from: 1 },
        })
    };
    for (recs, good, why) in [
        (vec![rec(11, 5)], 0, "position 11 where 10"),
        (vec![rec(10, 5), rec(12, 5)], 1, "position 12 where 11"),
        (vec![rec(10, 5), rec(10, 5)], 1, "position 10 where 11"),
        (vec![rec(10, 4)], 0, "epoch 4 after epoch 5"),
        (vec![rec(10, 6), rec(11, 5)], 1, "epoch 5 after epoch 6"),
    ] {
        let mut log = head.to_vec();
        for r in &recs {
            log.extend(r);
        }
        let (got, stop, _) = read_all(&log[..]);
        assert_eq!(got.len(), good, "{why}");
        match stop {
            Stop::Corrupt { reason, .. } => assert!(reason.contains(why), "{reason} / {why}"),
            other => panic!("{why}: {other:?}"),
        }
    }
}

#[test]
fn a_good_checksum_over_a_bad_payload_is_corruption_even_at_the_end() {
    let mut log = BytesMut::new();
    LogWriter::start(&mut log, 0, 0, 0);
    // Kind 11 does not exist; a Write whose body is not a command.
    for payload in [
        [0u8; 8]
            .iter()
            .chain(&[0; 8])
            .chain(&[0; 4])
            .chain(&[11])
            .copied()
            .collect::<Vec<u8>>(),
        [0u8; 20]
            .iter()
            .chain(&[1])
            .chain(b"PING\r\n")
            .copied()
            .collect(),
        vec![0u8; 5],
    ] {
        let mut bad = log.to_vec();
        let len = (payload.len() as u32).to_le_bytes();
        bad.extend(len);
        bad.extend(crc32c(&len).to_le_bytes());
        bad.extend(crc32c(&payload).to_le_bytes());
        bad.extend(&payload);
        let (recs, stop, _) = read_all(&bad[..]);
        assert!(recs.is_empty());
        assert!(
            matches!(stop, Stop::Corrupt { offset, .. } if offset == HEADER_LEN as u64),
            "{stop:?}"
        );
    }
}

#[test]
fn headers_empty_cut_and_foreign() {
    assert_eq!(read_all(&b""[..]).1, Stop::End);
    let (log, _) = sample_log();
    for cut in 1..HEADER_LEN {
        assert!(
            matches!(read_all(&log[..cut]).1, Stop::Torn { offset: 0, .. }),
            "cut {cut}"
        );
    }
    assert!(matches!(
        read_all(&[0u8; 4096][..]).1,
        Stop::Torn {
            offset: 0,
            lost: 4096,
            ..
        }
    ));
    for foreign in [
        &b"REDIS0011\xfa\x09redis-ver"[..],
        b"*2\r\n$3\r\nDEL\r\n$1\r\nk\r\n*1\r\n$4\r\nPING\r\n",
    ] {
        assert!(
            matches!(read_all(foreign).1, Stop::Corrupt { offset: 0, .. }),
            "{foreign:?}"
        );
    }
    let mut wrong_version = log.clone();
    wrong_version[8] = 2;
    let crc = crc32c(&wrong_version[..32]).to_le_bytes();
    wrong_version[32..36].copy_from_slice(&crc);
    match read_all(&wrong_version[..]).1 {
        Stop::Corrupt { reason, .. } => assert!(reason.contains("version 2"), "{reason}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_resumed_writer_continues_the_log() {
    let (log, starts) = sample_log();
    let last = *starts.last().expect("records");
    let torn = &log[..log.len() - 3];
    let mut r = LogReader::new(torn);
    while r.next_record().expect("read").is_some() {}
    assert_eq!(r.good_len(), last as u64);
    let mut out = BytesMut::from(&torn[..last]);
    let mut w = LogWriter::new(r.next_lsn(), r.epoch());
    assert_eq!(w.next_lsn(), START + starts.len() as u64 - 1);
    w.append(
        &mut out,
        r.epoch(),
        2,
        Op::Write(Cmd::Args(&[b"DEL", b"x"])),
    )
    .expect("encode");
    let (recs, stop, _) = read_all(&out[..]);
    assert_eq!(stop, Stop::End);
    assert_eq!(recs.len(), starts.len());
    assert_eq!(
        recs.last().map(|r| r.args.clone()),
        Some(vec![b"DEL".to_vec(), b"x".to_vec()])
    );
}

fn temp_file(name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("stairkv-log-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write");
    path
}

#[test]
fn check_and_fix_on_real_files() {
    let (log, starts) = sample_log();
    let n = starts.len() as u64;
    // Clean.
    let p = temp_file("clean.log", &log);
    let rep = check_log(&p, true).expect("check");
    assert!(rep.is_clean() && !rep.truncated);
    assert_eq!((rep.records, rep.last_lsn), (n, Some(START + n - 1)));
    assert_eq!(rep.header.map(|h| h.core), Some(4));
    assert!(rep.to_string().contains("OK"), "{rep}");
    // Torn: reported, untouched without fix; truncated with it.
    let p = temp_file("torn.log", &log[..log.len() - 5]);
    let rep = check_log(&p, false).expect("check");
    assert!(matches!(rep.stop, Stop::Torn { .. }) && !rep.truncated);
    assert_eq!(
        std::fs::metadata(&p).expect("meta").len(),
        log.len() as u64 - 5
    );
    let rep = check_log(&p, true).expect("fix");
    assert!(rep.truncated);
    assert_eq!(
        std::fs::metadata(&p).expect("meta").len(),
        *starts.last().expect("r") as u64
    );
    let again = check_log(&p, false).expect("check");
    assert!(again.is_clean());
    assert_eq!(again.records, n - 1);
    // Corrupt in the middle: the fix says what it threw away.
    let mut bad = log.clone();
    bad[starts[2] + 20] ^= 0x40;
    let p = temp_file("corrupt.log", &bad);
    let rep = check_log(&p, false).expect("check");
    assert!(matches!(rep.stop, Stop::Corrupt { offset, .. } if offset == starts[2] as u64));
    assert!(rep.to_string().contains("--fix"), "{rep}");
    let rep = check_log(&p, true).expect("fix");
    let text = rep.to_string();
    let lost = log.len() - starts[2];
    assert!(
        text.contains(&format!("{lost} bytes from offset {}", starts[2])),
        "{text}"
    );
    assert!(text.contains("not at the end"), "{text}");
    assert_eq!(std::fs::metadata(&p).expect("meta").len(), starts[2] as u64);
    assert_eq!(check_log(&p, false).expect("check").records, 2);
    // Not a log: never truncated.
    let p = temp_file(
        "foreign.rdb",
        b"REDIS0011 and then some bytes of a snapshot",
    );
    let rep = check_log(&p, true).expect("check");
    assert!(!rep.truncated);
    assert_eq!(std::fs::metadata(&p).expect("meta").len(), 43);
    let _ = std::fs::remove_dir_all(p.parent().expect("dir"));
}

// ---------------------------------------------------------------------------
// Property: any sequence of records reads back as written, whole or trickled.

fn arb_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..40)
}

#[derive(Debug, Clone)]
enum Gen {
    Write(Vec<Vec<u8>>),
    Import(u16, Vec<Vec<u8>>),
    TxWrite(u64, Vec<Vec<u8>>),
    TxEnd(u64, u16),
    TxCommit(u64),
    Small(u8, u32),
}

fn arb_gen() -> impl Strategy<Value = (u8, ShardId, Gen)> {
    let cmd = || prop::collection::vec(arb_bytes(), 1..5);
    let g = prop_oneof![
        cmd().prop_map(Gen::Write),
        (any::<u16>(), cmd()).prop_map(|(f, c)| Gen::Import(f, c)),
        (any::<u64>(), cmd()).prop_map(|(t, c)| Gen::TxWrite(t, c)),
        (any::<u64>(), 1u16..).prop_map(|(t, p)| Gen::TxEnd(t, p)),
        any::<u64>().prop_map(Gen::TxCommit),
        (3u8..=10, any::<u32>()).prop_map(|(k, v)| Gen::Small(k, v)),
    ];
    (0u8..3, any::<u32>(), g)
}

/// The op of a fixed-size kind (commands borrow their arguments, so the
/// property builds those itself).
fn op_of(g: &Gen) -> Op<'static> {
    match g {
        Gen::Small(3, v) => Op::ShardLeaving { to: *v as u16 },
        Gen::Small(4, v) => Op::ShardLeft { to: *v as u16 },
        Gen::Small(5, v) => Op::ShardArriving { from: *v as u16 },
        Gen::Small(6, v) => Op::ShardArrived { from: *v as u16 },
        Gen::Small(7, v) => Op::SplitBegin { new_shard: *v },
        Gen::Small(8, v) => Op::SplitDone { new_shard: *v },
        Gen::Small(9, v) => Op::MergeBegin { from_shard: *v },
        Gen::Small(_, v) => Op::MergeDone { from_shard: *v },
        Gen::TxEnd(tx, parts) => Op::TxEnd {
            tx: *tx,
            parts: *parts,
        },
        Gen::TxCommit(tx) => Op::TxCommit { tx: *tx },
        _ => unreachable!("commands are encoded by the caller"),
    }
}

proptest! {
    #[test]
    fn records_round_trip(start in any::<u32>(), epoch0 in 0u64..1000,
                          gens in prop::collection::vec(arb_gen(), 0..30),
                          cut in any::<prop::sample::Index>()) {
        let mut out = BytesMut::new();
        let mut w = LogWriter::start(&mut out, 2, u64::from(start), epoch0);
        let mut epoch = epoch0;
        let mut ends = vec![out.len()];
        for (bump, shard, g) in &gens {
            epoch += u64::from(*bump);
            let op = match g {
                Gen::Write(args) => {
                    let refs: Vec<&[u8]> = args.iter().map(|a| &a[..]).collect();
                    w.append(&mut out, epoch, *shard, Op::Write(Cmd::Args(&refs)))
                }
                Gen::Import(from, args) => {
                    let refs: Vec<&[u8]> = args.iter().map(|a| &a[..]).collect();
                    w.append(&mut out, epoch, *shard, Op::Import { from: *from, cmd: Cmd::Args(&refs) })
                }
                Gen::TxWrite(tx, args) => {
                    let refs: Vec<&[u8]> = args.iter().map(|a| &a[..]).collect();
                    w.append(&mut out, epoch, *shard, Op::TxWrite { tx: *tx, cmd: Cmd::Args(&refs) })
                }
                small => w.append(&mut out, epoch, *shard, op_of(small)),
            };
            prop_assert!(op.is_ok());
            ends.push(out.len());
        }
        let mut r = LogReader::new(Trickle(&out));
        let mut i = 0;
        let mut epoch = epoch0;
        while let Some(rec) = r.next_record().expect("read") {
            let (bump, shard, g) = &gens[i];
            epoch += u64::from(*bump);
            prop_assert_eq!(rec.lsn, u64::from(start) + i as u64);
            prop_assert_eq!(rec.epoch, epoch);
            prop_assert_eq!(rec.shard, *shard);
            match (g, rec.op) {
                (Gen::Write(args), Op::Write(c)) => {
                    prop_assert_eq!(c.args().collect::<Vec<_>>(), args.iter().map(|a| &a[..]).collect::<Vec<_>>())
                }
                (Gen::Import(f, args), Op::Import { from, cmd }) => {
                    prop_assert_eq!(*f, from);
                    prop_assert_eq!(cmd.args().collect::<Vec<_>>(), args.iter().map(|a| &a[..]).collect::<Vec<_>>())
                }
                (Gen::TxWrite(t, args), Op::TxWrite { tx, cmd }) => {
                    prop_assert_eq!(*t, tx);
                    prop_assert_eq!(cmd.args().collect::<Vec<_>>(), args.iter().map(|a| &a[..]).collect::<Vec<_>>())
                }
                (small, op) => prop_assert_eq!(op_of(small), op),
            }
            // Re-encoding what was read gives the same bytes.
            let mut again = BytesMut::new();
            rec.encode(&mut again).expect("encode");
            prop_assert_eq!(&again[..], &out[ends[i]..ends[i + 1]]);
            i += 1;
        }
        prop_assert_eq!(i, gens.len());
        prop_assert_eq!(r.stop(), Some(&Stop::End));
        // Cut anywhere: the records that end before the cut, then End or Torn.
        let c = cut.index(out.len() + 1);
        let (recs, stop, good) = read_all(&out[..c]);
        let n = ends.iter().skip(1).filter(|&&e| e <= c).count();
        prop_assert_eq!(recs.len(), n);
        if c >= HEADER_LEN {
            prop_assert_eq!(good, ends[n] as u64);
        }
        prop_assert!(!matches!(stop, Stop::Corrupt { .. }), "{:?}", stop);
    }
}
