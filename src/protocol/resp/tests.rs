//! Unit tests of the RESP request parser, kept beside its file so that the file itself holds one purpose.

use super::*;

use proptest::prelude::*;

pub(crate) type Parsed = (usize, RequestKind, Vec<Vec<u8>>);

/// Parse with `limits` and materialise the arguments the way the
/// connection loop does (ranges when `owned` is empty, else `owned`).
fn parse_with(buf: &[u8], limits: &Limits) -> Result<Option<Parsed>, String> {
    let mut args = vec![0..1, 5..7]; // stale junk must be cleared
    let mut owned = vec![b"stale".to_vec()];
    match parse_request(buf, limits, &mut args, &mut owned) {
        Err(e) => Err(e.message),
        Ok(None) => {
            assert!(args.is_empty() && owned.is_empty());
            Ok(None)
        }
        Ok(Some((consumed, kind))) => {
            assert!(consumed <= buf.len());
            assert!(
                args.is_empty() || owned.is_empty(),
                "both ranges and owned returned"
            );
            let vals = if owned.is_empty() {
                args.iter().map(|r| buf[r.clone()].to_vec()).collect()
            } else {
                owned
            };
            Ok(Some((consumed, kind, vals)))
        }
    }
}

fn parse(buf: &[u8]) -> Result<Option<Parsed>, String> {
    parse_with(buf, &Limits::default())
}

pub(crate) fn err(buf: &[u8]) -> String {
    match parse(buf) {
        Err(e) => e,
        other => panic!("expected error for {:?}, got {other:?}", buf),
    }
}

pub(crate) fn complete(buf: &[u8]) -> Parsed {
    match parse(buf) {
        Ok(Some(p)) => p,
        other => panic!("expected request for {:?}, got {other:?}", buf),
    }
}

pub(crate) fn bytes(v: &[&str]) -> Vec<Vec<u8>> {
    v.iter().map(|s| s.as_bytes().to_vec()).collect()
}

fn encode(args: &[Vec<u8>]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Every strict prefix of a valid request is incomplete.
fn assert_prefixes_incomplete(buf: &[u8]) {
    for cut in 0..buf.len() {
        assert_eq!(
            parse(&buf[..cut]),
            Ok(None),
            "prefix {:?} of {:?}",
            String::from_utf8_lossy(&buf[..cut]),
            String::from_utf8_lossy(buf)
        );
    }
}

// ---- multibulk: happy paths ----

#[test]
fn simple_multibulk() {
    let buf = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n";
    assert_eq!(
        complete(buf),
        (
            buf.len(),
            RequestKind::Multibulk,
            bytes(&["SET", "k", "hello"])
        )
    );
}

#[test]
fn multibulk_ranges_index_into_buffer() {
    let buf = b"*2\r\n$3\r\nGET\r\n$0\r\n\r\n";
    let mut args = Vec::new();
    let mut owned = Vec::new();
    let r = parse_request(buf, &Limits::default(), &mut args, &mut owned);
    assert_eq!(r, Ok(Some((buf.len(), RequestKind::Multibulk))));
    assert_eq!(args, vec![8..11, 17..17]);
    assert!(owned.is_empty());
}

#[test]
fn empty_bulk_argument() {
    assert_eq!(
        complete(b"*2\r\n$3\r\nGET\r\n$0\r\n\r\n").2,
        bytes(&["GET", ""])
    );
}

#[test]
fn binary_safe_bulk() {
    let payload = b"a\0b\r\nc\r\n\0*1\r\n$";
    let buf = encode(&[b"SET".to_vec(), payload.to_vec()]);
    let (consumed, _, vals) = complete(&buf);
    assert_eq!(consumed, buf.len());
    assert_eq!(vals[1], payload.to_vec());
    assert_prefixes_incomplete(&buf);
}

#[test]
fn pipelined_multibulk_and_inline() {
    let mut stream = Vec::new();
    let reqs: Vec<Vec<Vec<u8>>> = vec![
        bytes(&["PING"]),
        bytes(&["SET", "a", "1"]),
        bytes(&["GET", "a"]),
    ];
    for r in &reqs {
        stream.extend_from_slice(&encode(r));
    }
    stream.extend_from_slice(b"INCR a\r\n*0\r\nECHO \"x y\"\n");
    let mut expect: Vec<(RequestKind, Vec<Vec<u8>>)> = reqs
        .into_iter()
        .map(|r| (RequestKind::Multibulk, r))
        .collect();
    expect.push((RequestKind::Inline, bytes(&["INCR", "a"])));
    expect.push((RequestKind::Multibulk, vec![]));
    expect.push((RequestKind::Inline, bytes(&["ECHO", "x y"])));

    let mut pos = 0;
    for (kind, vals) in expect {
        let (consumed, k, v) = complete(&stream[pos..]);
        assert_eq!((k, v), (kind, vals));
        pos += consumed;
    }
    assert_eq!(pos, stream.len());
    assert_eq!(parse(&stream[pos..]), Ok(None));
}

#[test]
fn pipelined_consumed_counts_are_exact() {
    let one = b"*1\r\n$4\r\nPING\r\n";
    let mut buf = one.repeat(3);
    buf.extend_from_slice(b"*1\r\n$4\r\nPI"); // trailing partial request
    let mut pos = 0;
    for _ in 0..3 {
        let (consumed, _, vals) = complete(&buf[pos..]);
        assert_eq!(consumed, one.len());
        assert_eq!(vals, bytes(&["PING"]));
        pos += consumed;
    }
    assert_eq!(parse(&buf[pos..]), Ok(None));
}

#[test]
fn every_prefix_of_valid_requests_is_incomplete() {
    assert_prefixes_incomplete(b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$10\r\n0123456789\r\n");
    assert_prefixes_incomplete(b"*1\r\n$0\r\n\r\n");
    assert_prefixes_incomplete(b"*0\r\n");
    assert_prefixes_incomplete(b"*-1\r\n");
    assert_prefixes_incomplete(b"*12\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n");
    assert_prefixes_incomplete(b"SET k \"a b\\x41\" 'c\\'d'\r\n");
    assert_prefixes_incomplete(b"PING\n");
}

#[test]
fn empty_buffer_is_incomplete() {
    assert_eq!(parse(b""), Ok(None));
}

#[test]
fn zero_and_negative_counts_are_empty_requests() {
    for buf in [&b"*0\r\n"[..], b"*-1\r\n", b"*-5\r\n"] {
        assert_eq!(complete(buf), (buf.len(), RequestKind::Multibulk, vec![]));
    }
    // Whatever follows is the next request, untouched.
    assert_eq!(complete(b"*-1\r\n*1\r\n$1\r\nx\r\n").0, 5);
}

#[test]
fn huge_legal_bulk_not_yet_arrived_is_incomplete() {
    let mut buf = b"*2\r\n$3\r\nSET\r\n$104857600\r\n".to_vec();
    assert_eq!(parse(&buf), Ok(None));
    buf.extend_from_slice(&[b'x'; 4096]);
    assert_eq!(parse(&buf), Ok(None));
}

#[test]
fn bulk_at_exact_limit_is_accepted() {
    let limits = Limits {
        max_bulk_len: 5,
        ..Limits::default()
    };
    let ok = b"*1\r\n$5\r\nhello\r\n";
    assert_eq!(
        parse_with(ok, &limits),
        Ok(Some((ok.len(), RequestKind::Multibulk, bytes(&["hello"]))))
    );
    assert_eq!(
        parse_with(b"*1\r\n$6\r\nhello!\r\n", &limits),
        Err(INVALID_BULK.to_owned())
    );
}

#[test]
fn multibulk_count_at_exact_limit_is_accepted() {
    let limits = Limits {
        max_multibulk_len: 2,
        ..Limits::default()
    };
    let ok = b"*2\r\n$1\r\na\r\n$1\r\nb\r\n";
    assert_eq!(
        parse_with(ok, &limits).map(|r| r.map(|p| p.0)),
        Ok(Some(ok.len()))
    );
    assert_eq!(
        parse_with(b"*3\r\n", &limits),
        Err(INVALID_MBULK.to_owned())
    );
}

#[test]
fn huge_declared_count_does_not_preallocate() {
    // A legal count of a billion arguments with none sent is incomplete and
    // must not reserve memory for them.
    let mut args = Vec::new();
    let mut owned = Vec::new();
    let r = parse_request(
        b"*1000000000\r\n$1\r\na\r\n",
        &Limits::default(),
        &mut args,
        &mut owned,
    );
    assert_eq!(r, Ok(None));
    assert!(args.capacity() <= MAX_PREALLOC_ARGS);
}

// ---- multibulk: errors ----

#[test]
fn invalid_multibulk_length() {
    for buf in [
        &b"*abc\r\n"[..],
        b"*\r\n",
        b"*+1\r\n",
        b"* 1\r\n",
        b"*1 \r\n",
        b"*01\r\n",
        b"*-0\r\n",
        b"*1.5\r\n",
        b"*99999999999999999999\r\n",
        b"*1073741824\r\n", // one over Redis's default cap
        b"*9223372036854775807\r\n",
        b"*1\rX",
    ] {
        assert_eq!(
            err(buf),
            INVALID_MBULK,
            "{:?}",
            String::from_utf8_lossy(buf)
        );
    }
    // The junk is rejected as soon as the CR arrives, before the LF.
    assert_eq!(err(b"*x\r"), INVALID_MBULK);
    // The largest legal count is merely incomplete.
    assert_eq!(parse(b"*1073741823\r\n"), Ok(None));
}

#[test]
fn too_big_mbulk_count_string() {
    let mut buf = vec![b'*'];
    buf.extend(std::iter::repeat_n(b'1', MAX_COUNT_LINE - 1));
    assert_eq!(buf.len(), MAX_COUNT_LINE);
    assert_eq!(parse(&buf), Ok(None)); // still within Redis's patience
    buf.push(b'1');
    assert_eq!(
        parse(&buf),
        Err("Protocol error: too big mbulk count string".to_owned())
    );
}

#[test]
fn expected_dollar() {
    assert_eq!(
        err(b"*1\r\n:3\r\n"),
        "Protocol error: expected '$', got ':'"
    );
    assert_eq!(
        err(b"*2\r\n$1\r\na\r\nX"),
        "Protocol error: expected '$', got 'X'"
    );
    assert_eq!(
        err(b"*1\r\n*1\r\n"),
        "Protocol error: expected '$', got '*'"
    );
}

#[test]
fn invalid_bulk_length() {
    for buf in [
        &b"*1\r\n$-1\r\n"[..],
        b"*1\r\n$-5\r\n",
        b"*1\r\n$abc\r\n",
        b"*1\r\n$\r\n",
        b"*1\r\n$+3\r\nabc\r\n",
        b"*1\r\n$ 3\r\nabc\r\n",
        b"*1\r\n$03\r\nabc\r\n",
        b"*1\r\n$99999999999999999999\r\n",
        b"*1\r\n$3\rXabc\r\n",
        // 2 GB declared with the default 512 MB limit.
        b"*2\r\n$3\r\nSET\r\n$2147483648\r\n",
        b"*1\r\n$536870913\r\n",
    ] {
        assert_eq!(err(buf), INVALID_BULK, "{:?}", String::from_utf8_lossy(buf));
    }
    // Exactly proto-max-bulk-len is legal (and incomplete here).
    assert_eq!(parse(b"*1\r\n$536870912\r\n"), Ok(None));
}

#[test]
fn bulk_data_must_end_in_crlf() {
    // Declared length shorter or longer than the data sent.
    assert_eq!(err(b"*1\r\n$2\r\nabc\r\n"), INVALID_BULK);
    assert_eq!(err(b"*1\r\n$4\r\nabc\r\n\r\n"), INVALID_BULK);
    assert_eq!(err(b"*1\r\n$3\r\nabc\n\n"), INVALID_BULK);
    assert_eq!(err(b"*1\r\n$3\r\nabc\rX"), INVALID_BULK);
    // Detected as soon as the first wrong byte is visible.
    assert_eq!(err(b"*1\r\n$3\r\nabcd"), INVALID_BULK);
    assert_eq!(parse(b"*1\r\n$3\r\nabc\r"), Ok(None));
}

#[test]
fn too_big_bulk_count_string() {
    let mut buf = b"*1\r\n$".to_vec();
    buf.extend(std::iter::repeat_n(b'9', MAX_COUNT_LINE));
    assert_eq!(
        parse(&buf),
        Err("Protocol error: too big bulk count string".to_owned())
    );
    buf.pop();
    assert_eq!(parse(&buf), Ok(None));
}

// ---- inline ----

#[test]
fn inline_too_big() {
    let limits = Limits {
        max_inline_len: 16,
        ..Limits::default()
    };
    let exact = b"0123456789abcdef\n";
    assert_eq!(
        parse_with(exact, &limits).map(|r| r.map(|p| p.0)),
        Ok(Some(exact.len()))
    );
    assert_eq!(parse_with(&exact[..16], &limits), Ok(None));
    assert_eq!(
        parse_with(b"0123456789abcdefg", &limits),
        Err(TOO_BIG_INLINE.to_owned())
    );
    // The default limit is 64 KB.
    let big = vec![b'a'; 64 * 1024 + 1];
    assert_eq!(parse(&big), Err(TOO_BIG_INLINE.to_owned()));
    assert_eq!(parse(&big[..64 * 1024]), Ok(None));
}

#[test]
fn buffers_are_cleared_between_requests() {
    let mut args = Vec::new();
    let mut owned = Vec::new();
    let limits = Limits::default();
    let quoted = b"ECHO \"a\\tb\"\n";
    parse_request(quoted, &limits, &mut args, &mut owned).unwrap();
    assert_eq!(owned.len(), 2);
    let plain = b"*1\r\n$4\r\nPING\r\n";
    parse_request(plain, &limits, &mut args, &mut owned).unwrap();
    assert!(owned.is_empty());
    assert_eq!(args, vec![8..12]);
    assert_eq!(
        parse_request(b"*2\r\n$1\r\na\r\n", &limits, &mut args, &mut owned),
        Ok(None)
    );
    assert!(args.is_empty() && owned.is_empty());
}

// ---- properties ----

proptest! {
    #[test]
    fn multibulk_round_trips(
        reqs in prop::collection::vec(
            prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 1..6),
            1..5,
        ),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut stream = Vec::new();
        for r in &reqs {
            stream.extend_from_slice(&encode(r));
        }
        let mut pos = 0;
        for r in &reqs {
            let (consumed, kind, vals) = complete(&stream[pos..]);
            prop_assert_eq!(kind, RequestKind::Multibulk);
            prop_assert_eq!(&vals, r);
            pos += consumed;
        }
        prop_assert_eq!(pos, stream.len());
        // Any cut inside the first request leaves it incomplete.
        let first = encode(&reqs[0]).len();
        let at = cut.index(first);
        prop_assert_eq!(parse(&stream[..at]), Ok(None));
    }

    #[test]
    fn arbitrary_input_never_panics(data in prop::collection::vec(any::<u8>(), 0..200)) {
        let limits = Limits { max_inline_len: 64, max_bulk_len: 64, max_multibulk_len: 8, unauthenticated: false };
        let mut args = Vec::new();
        let mut owned = Vec::new();
        if let Ok(Some((consumed, _))) = parse_request(&data, &limits, &mut args, &mut owned) {
            prop_assert!(consumed > 0 && consumed <= data.len());
            for r in &args {
                prop_assert!(r.end <= consumed);
            }
        }
    }

    /// Fed in pieces (the buffer growing at its end between calls), the
    /// resumable parser gives exactly what one call over the whole input
    /// gives: the same requests, consumed counts, arguments and errors.
    #[test]
    fn pieces_parse_as_the_whole(
        reqs in prop::collection::vec(prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 1..6), 1..5),
        junk in prop::collection::vec(any::<u8>(), 0..30),
        cuts in prop::collection::vec(1usize..50, 0..20),
        unauthenticated in any::<bool>(),
    ) {
        let mut input = Vec::new();
        for r in &reqs {
            input.extend_from_slice(&encode(r));
        }
        input.extend_from_slice(&junk);
        let limits = Limits { max_inline_len: 64, max_bulk_len: 30, max_multibulk_len: 5, unauthenticated };
        let whole = parse_all(&input, &limits, &[]);
        let pieces = parse_all(&input, &limits, &cuts);
        prop_assert_eq!(whole, pieces);
    }
}

/// Every request of `input` (then the error or the incomplete rest), fed
/// to one [`RequestParser`] in pieces of the sizes in `cuts` (all at once
/// when empty), dropping each request's bytes as the connection loop does.
fn parse_all(input: &[u8], limits: &Limits, cuts: &[usize]) -> Vec<Result<Parsed, String>> {
    let mut p = RequestParser::new();
    let mut buf: Vec<u8> = Vec::new();
    let mut fed = 0;
    let mut cut = cuts.iter().cycle();
    let mut out = Vec::new();
    loop {
        let step = if cuts.is_empty() {
            input.len()
        } else {
            *cut.next().unwrap_or(&1)
        };
        let more = (input.len() - fed).min(step);
        buf.extend_from_slice(&input[fed..fed + more]);
        fed += more;
        loop {
            match p.parse(&buf, limits) {
                Ok(Some((n, kind))) => {
                    let vals = if p.owned.is_empty() {
                        p.args.iter().map(|r| buf[r.clone()].to_vec()).collect()
                    } else {
                        p.owned.clone()
                    };
                    out.push(Ok((n, kind, vals)));
                    buf.drain(..n);
                }
                Ok(None) => break,
                Err(e) => {
                    out.push(Err(e.message));
                    return out;
                }
            }
        }
        if fed == input.len() {
            return out;
        }
    }
}

/// A request arriving in pieces keeps what was parsed: each call looks
/// only at the new bytes (the arguments parsed so far are not re-parsed).
#[test]
fn a_request_in_pieces_is_resumed_not_reparsed() {
    let args: Vec<Vec<u8>> = (0..1000).map(|i| format!("a{i}").into_bytes()).collect();
    let input = encode(&args);
    let mut p = RequestParser::new();
    let limits = Limits::default();
    let mut fed = 0;
    while fed < input.len() {
        fed = (fed + 64).min(input.len());
        match p.parse(&input[..fed], &limits) {
            Ok(None) => {
                // Every argument wholly in the prefix is already held.
                let whole = args
                    .iter()
                    .scan("*1000\r\n".len(), |at, a| {
                        *at += format!("${}\r\n", a.len()).len() + a.len() + 2;
                        Some(*at)
                    })
                    .take_while(|&end| end <= fed)
                    .count();
                assert_eq!(p.args.len(), whole, "after {fed} bytes");
                assert!(p.is_mid_request());
            }
            Ok(Some((n, _))) => {
                assert_eq!(n, input.len());
                assert_eq!(p.args.len(), 1000);
                assert!(!p.is_mid_request());
            }
            Err(e) => panic!("{e}"),
        }
    }
}

#[test]
fn unauthenticated_limits_are_redis_7s() {
    let strict = Limits {
        unauthenticated: true,
        ..Limits::default()
    };
    let ten: Vec<Vec<u8>> = (0..10).map(|_| b"x".to_vec()).collect();
    assert!(matches!(parse_with(&encode(&ten), &strict), Ok(Some(_))));
    let eleven: Vec<Vec<u8>> = (0..11).map(|_| b"x".to_vec()).collect();
    assert_eq!(
        parse_with(&encode(&eleven), &strict),
        Err("Protocol error: unauthenticated multibulk length".into())
    );
    // Refused from the header alone, before any element arrives.
    assert_eq!(
        parse_with(b"*2000001\r\n", &strict),
        Err("Protocol error: unauthenticated multibulk length".into())
    );
    let big = vec![b'v'; 16385];
    assert_eq!(
        parse_with(&encode(&[b"AUTH".to_vec(), big.clone()]), &strict),
        Err("Protocol error: unauthenticated bulk length".into())
    );
    assert_eq!(
        parse_with(b"*2\r\n$4\r\nAUTH\r\n$16385\r\n", &strict),
        Err("Protocol error: unauthenticated bulk length".into())
    );
    let ok = vec![b'v'; 16384];
    assert!(matches!(
        parse_with(&encode(&[b"AUTH".to_vec(), ok]), &strict),
        Ok(Some(_))
    ));
    // Authenticated, the same requests are fine.
    assert!(matches!(parse(&encode(&eleven)), Ok(Some(_))));
    assert!(matches!(
        parse(&encode(&[b"SET".to_vec(), big])),
        Ok(Some(_))
    ));
}
