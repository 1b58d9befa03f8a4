//! Black-box frame fuzzing: 100,000 mutated RESP frames (bit flips,
//! truncations, splices of valid frames, random length fields, inserted and
//! deleted bytes) thrown at the real server over many connections, after which
//! the server must still answer and a key set before must be intact. The
//! mutations come from a fixed seed, so a failure reproduces with the same
//! frames (their interleaving across connections is up to the scheduler). A
//! connection the server closes after a protocol error is expected: the
//! sender reconnects and goes on.

mod common;

use common::{resp as multibulk, Server};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

const FRAMES: usize = 100_000;
const SENDERS: usize = 4;
const _: () = assert!(
    FRAMES.is_multiple_of(SENDERS),
    "senders share the frames evenly"
);
const SEED: u64 = 0x5741_4952_4b56_0014;
/// How long the server may take to close a connection whose client stopped
/// writing; past it the server is stuck on that connection.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(20);

const KEEP_KEY: &str = "fuzz-frames:intact";
const KEEP_VALUE: &str = "set before 100,000 mutated frames \u{2014} must survive them";

/// A valid frame: a harmless command on keys `k0..k99` / `n0..n99` (never the
/// kept key, never a flush), inline or multibulk, or a RESP3 value the server
/// must reject as a request.
fn valid_frame(rng: &mut StdRng) -> Vec<u8> {
    let k = format!("k{}", rng.gen_range(0..100));
    let n = format!("n{}", rng.gen_range(0..100));
    let val: Vec<u8> = (0..rng.gen_range(0..40)).map(|_| rng.gen()).collect();
    let k = k.as_bytes();
    let n = n.as_bytes();
    match rng.gen_range(0..20) {
        0 => multibulk(&[b"PING"]),
        1 => multibulk(&[b"SET", k, &val]),
        2 => multibulk(&[b"GET", k]),
        3 => multibulk(&[b"INCR", n]),
        4 => multibulk(&[b"DEL", k]),
        5 => multibulk(&[b"ECHO", &val]),
        6 => multibulk(&[b"MSET", k, &val, n, b"1"]),
        7 => multibulk(&[b"MGET", k, n, b"k1"]),
        8 => multibulk(&[b"EXPIRE", k, b"100"]),
        9 => multibulk(&[b"APPEND", k, &val]),
        10 => multibulk(&[b"GETRANGE", k, b"0", b"-1"]),
        11 => multibulk(&[b"HELLO", if rng.gen() { b"3" } else { b"2" }]),
        12 => multibulk(&[b"INCRBY", n, b"5"]),
        13 => format!("SET i{} \"a b\\x41\\n\" tail\r\n", rng.gen_range(0..100)).into_bytes(),
        14 => format!("GET i{}\n", rng.gen_range(0..100)).into_bytes(),
        15 => b"ECHO 'it\\'s' \"q\\\"\"\r\nPING\r\n".to_vec(),
        16 => b"*0\r\n*-1\r\n".to_vec(),
        17 => b"%1\r\n+key\r\n:1\r\n".to_vec(),
        18 => b"_\r\n#t\r\n,1.5\r\n(123\r\n".to_vec(),
        _ => multibulk(&[b"EXISTS", k, n]),
    }
}

/// A digit run (after `*` or `$`) replaced by an interesting length.
fn random_length(rng: &mut StdRng, frame: &mut Vec<u8>) {
    let marks: Vec<usize> = frame
        .iter()
        .enumerate()
        .filter(|(_, &b)| b == b'*' || b == b'$')
        .map(|(i, _)| i + 1)
        .collect();
    let Some(&start) = marks.get(rng.gen_range(0..marks.len().max(1))) else {
        return;
    };
    let end = start
        + frame[start..]
            .iter()
            .take_while(|b| b.is_ascii_digit() || **b == b'-')
            .count();
    let len: String = match rng.gen_range(0..10) {
        0 => "-1".into(),
        1 => "0".into(),
        2 => "-7".into(),
        3 => "2147483648".into(),
        4 => "99999999999999999999".into(),
        5 => "9223372036854775807".into(),
        6 => rng.gen_range(0..100_000u32).to_string(),
        7 => format!("0{}", rng.gen_range(0..9)),
        _ => rng.gen_range(0..64u32).to_string(),
    };
    frame.splice(start..end, len.into_bytes());
}

/// One mutated frame: 1 to 3 mutations of one to three valid frames; one
/// frame in eight goes unmutated so real commands keep running in between.
fn mutated_frame(rng: &mut StdRng) -> Vec<u8> {
    let mut frame = valid_frame(rng);
    for _ in 0..rng.gen_range(0..3) {
        frame.extend(valid_frame(rng));
    }
    if rng.gen_range(0..8) == 0 {
        return frame;
    }
    for _ in 0..rng.gen_range(1..=3) {
        let len = frame.len();
        match rng.gen_range(0..8) {
            0 if len > 0 => {
                for _ in 0..rng.gen_range(1..=8) {
                    let i = rng.gen_range(0..len);
                    frame[i] ^= 1 << rng.gen_range(0..8);
                }
            }
            1 => frame.truncate(rng.gen_range(0..=len)),
            2 => {
                let other = valid_frame(rng);
                let at = rng.gen_range(0..=len);
                let from = rng.gen_range(0..=other.len());
                frame.truncate(at);
                frame.extend_from_slice(&other[from..]);
            }
            3 => random_length(rng, &mut frame),
            4 => {
                let at = rng.gen_range(0..=len);
                let junk: Vec<u8> = (0..rng.gen_range(1..=8)).map(|_| rng.gen()).collect();
                frame.splice(at..at, junk);
            }
            5 if len > 0 => {
                let a = rng.gen_range(0..len);
                let b = rng.gen_range(a..=len);
                frame.drain(a..b);
            }
            6 if len > 0 => {
                let a = rng.gen_range(0..len);
                let b = rng.gen_range(a..=len.min(a + 32));
                let dup = frame[a..b].to_vec();
                frame.splice(b..b, dup);
            }
            _ if len > 0 => {
                let i = rng.gen_range(0..len);
                frame[i] = *[b'\r', b'\n', 0, b'"', b'\'', b'*', b'$', b'\\', b' ']
                    .get(rng.gen_range(0..9))
                    .unwrap_or(&b'*');
            }
            _ => {}
        }
    }
    frame
}

#[derive(Default)]
struct Tally {
    frames: usize,
    connections: usize,
    /// Frames whose sync echo came back: parsed and run, connection alive.
    answered: usize,
    /// Frames after which the server closed the connection (a protocol error).
    refused: usize,
    /// Frames that left a request incomplete (no echo within `SYNC_WAIT`).
    pending: usize,
    /// Closes that came with Redis's protocol error reply.
    protocol_errors: usize,
    stuck: usize,
}

/// How long to wait for a frame's sync echo before taking the frame as an
/// incomplete request and sending the next one after it.
const SYNC_WAIT: Duration = Duration::from_millis(3);

/// What the server did with the last frame.
enum After {
    Answered,
    Closed,
    Pending,
}

/// Reads replies until `token` shows up, the server closes, or `wait` passes.
/// `seen` keeps the tail of the reply stream so a token split across reads
/// is still found; `errors` counts protocol error replies.
fn await_sync(
    s: &mut TcpStream,
    token: &[u8],
    wait: Duration,
    seen: &mut Vec<u8>,
    errors: &mut usize,
) -> After {
    let deadline = Instant::now() + wait;
    let mut buf = [0u8; 16 * 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return After::Pending;
        }
        s.set_read_timeout(Some(left)).ok();
        match s.read(&mut buf) {
            Ok(0) => return After::Closed,
            Ok(n) => {
                seen.extend_from_slice(&buf[..n]);
                let found = count(seen, token) > 0;
                *errors += count(seen, PROTOCOL_ERROR);
                // Keep less than one error reply's worth, so none counts twice
                // and one cut by a read boundary is completed next time.
                let keep = seen.len().min(PROTOCOL_ERROR.len() - 1);
                seen.drain(..seen.len() - keep);
                if found {
                    return After::Answered;
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return After::Pending
            }
            Err(_) => return After::Closed,
        }
    }
}

const PROTOCOL_ERROR: &[u8] = b"-ERR Protocol error";

fn count(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len()).filter(|w| *w == needle).count()
}

/// One sender: `frames` mutated frames, each followed by an `ECHO <token>` to
/// learn whether the server ran it (echo), refused it (close) or is waiting
/// for the rest of a request (neither, soon). Connections end when the server
/// closes them, or after a few hundred frames or a run of pending ones (a
/// length mutated to a large value would swallow the rest as bulk data): then
/// the client closes its side and the server must close within
/// `CLOSE_TIMEOUT`.
fn sender(port: u16, seed: u64, frames: usize) -> Tally {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut t = Tally::default();
    let mut seen = Vec::new();
    while t.frames < frames {
        let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        s.set_nodelay(true).ok();
        t.connections += 1;
        seen.clear();
        let quota = rng.gen_range(20..=400);
        let mut pending_run = 0;
        let mut closed = false;
        for _ in 0..quota {
            if t.frames == frames || pending_run == 8 {
                break;
            }
            t.frames += 1;
            let token = format!("~sync:{seed}:{}~", t.frames);
            let mut bytes = mutated_frame(&mut rng);
            bytes.extend(multibulk(&[b"ECHO", token.as_bytes()]));
            if s.write_all(&bytes).is_err() {
                t.refused += 1;
                closed = true;
                break;
            }
            let mut errors = 0;
            match await_sync(&mut s, token.as_bytes(), SYNC_WAIT, &mut seen, &mut errors) {
                After::Answered => {
                    t.answered += 1;
                    pending_run = 0;
                }
                After::Pending => {
                    t.pending += 1;
                    pending_run += 1;
                }
                After::Closed => {
                    t.refused += 1;
                    closed = true;
                }
            }
            t.protocol_errors += errors;
            if closed {
                break;
            }
        }
        if !closed {
            let _ = s.shutdown(Shutdown::Write);
            let mut errors = 0;
            // No token comes any more: this waits for the server's close.
            let after = await_sync(&mut s, b"\0never\0", CLOSE_TIMEOUT, &mut seen, &mut errors);
            t.protocol_errors += errors;
            if matches!(after, After::Pending) {
                t.stuck += 1;
            }
        }
    }
    t
}

#[test]
fn server_survives_100k_mutated_frames_with_a_key_intact() {
    let s = Server::start(2, &[]);
    let mut con = s.client();
    redis::cmd("SET")
        .arg(KEEP_KEY)
        .arg(KEEP_VALUE)
        .query::<()>(&mut con)
        .expect("SET before");

    let started = Instant::now();
    let port = s.port;
    let handles: Vec<_> = (0..SENDERS)
        .map(|i| thread::spawn(move || sender(port, SEED + i as u64, FRAMES / SENDERS)))
        .collect();
    let mut total = Tally::default();
    for h in handles {
        let t = h.join().expect("sender");
        total.frames += t.frames;
        total.connections += t.connections;
        total.answered += t.answered;
        total.refused += t.refused;
        total.pending += t.pending;
        total.protocol_errors += t.protocol_errors;
        total.stuck += t.stuck;
    }
    eprintln!(
        "fuzz_frames: {} frames over {} connections in {:.1} s: {} answered, {} refused \
         (connection closed; {} protocol error replies), {} left a request incomplete",
        total.frames,
        total.connections,
        started.elapsed().as_secs_f64(),
        total.answered,
        total.refused,
        total.protocol_errors,
        total.pending
    );
    assert_eq!(total.frames, FRAMES);
    assert_eq!(
        total.stuck, 0,
        "connections the server did not close within {CLOSE_TIMEOUT:?} of the client's EOF"
    );
    // The run exercised both paths: malformed input refused, valid commands served.
    assert!(
        total.protocol_errors > 0,
        "no protocol error in {FRAMES} mutated frames"
    );
    assert!(total.answered > 0, "no frame answered during the run");
    assert!(total.refused > 0, "no connection refused during the run");

    // Still serving, on the old connection and on new ones, and the key is intact.
    let pong: String = redis::cmd("PING").query(&mut con).expect("PING after");
    assert_eq!(pong, "PONG");
    let mut fresh = s.client();
    let pong: String = redis::cmd("PING")
        .query(&mut fresh)
        .expect("PING, new connection");
    assert_eq!(pong, "PONG");
    let got: Option<String> = redis::cmd("GET")
        .arg(KEEP_KEY)
        .query(&mut fresh)
        .expect("GET");
    assert_eq!(
        got.as_deref(),
        Some(KEEP_VALUE),
        "the key set before was changed"
    );
    let ttl: i64 = redis::cmd("TTL")
        .arg(KEEP_KEY)
        .query(&mut fresh)
        .expect("TTL");
    assert_eq!(ttl, -1, "the key set before got an expiry");
    // The valid commands among the frames did reach the keyspace.
    let keys: i64 = redis::cmd("DBSIZE").query(&mut fresh).expect("DBSIZE");
    assert!(
        keys > 1,
        "no key written by the mutated frames' valid commands ({keys})"
    );
}
