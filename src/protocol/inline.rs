//! Redis's inline request syntax: one line, arguments split on blanks with
//! `sdssplitargs`'s quoting rules and quirks. The request parser
//! ([`super::resp`]) finds the line and enforces its length limit; this file
//! only splits it, handing back ranges into the caller's buffer while every
//! argument is a plain slice of the line, and owned copies once one needed
//! unescaping. It never looks past the line it is given.

use std::ops::Range;

use super::ascii::find_byte;
use super::error::{perr, ParseError, UNBALANCED_QUOTES};

/// Split the inline request whose line ends in the `\n` at `newline`.
pub(super) fn parse_inline_line(
    buf: &[u8],
    newline: usize,
    args: &mut Vec<Range<usize>>,
    owned: &mut Vec<Vec<u8>>,
) -> Result<(), ParseError> {
    let mut end = newline;
    if end > 0 && buf[end - 1] == b'\r' {
        end -= 1;
    }
    // Redis splits the line as a C string, so a NUL ends it: everything after
    // the first NUL is ignored (and a quote still open there is unbalanced).
    if let Some(nul) = find_byte(0, &buf[..end]) {
        end = nul;
    }
    split_args(buf, end, args, owned)
}

/// C's `isspace` in the "C" locale, which `sdssplitargs` uses to skip blanks
/// and to check what follows a closing quote.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// One inline argument being assembled: stays a range into the line for as
/// long as its bytes are a contiguous, unaltered run of the input (the common
/// case, including a quoted word without escapes) and becomes an owned copy the
/// moment an escape or a dropped quote breaks that.
enum Token {
    Empty,
    Span(Range<usize>),
    Owned(Vec<u8>),
}

impl Token {
    /// Append the input byte at `i` verbatim.
    fn push_input(&mut self, buf: &[u8], i: usize) {
        self.push_run(buf, i..i + 1);
    }

    /// Append the input bytes `run` verbatim.
    fn push_run(&mut self, buf: &[u8], run: Range<usize>) {
        match self {
            Token::Empty => *self = Token::Span(run),
            Token::Span(r) if r.end == run.start => r.end = run.end,
            Token::Span(r) => {
                let mut v = buf[r.clone()].to_vec();
                v.extend_from_slice(&buf[run]);
                *self = Token::Owned(v);
            }
            Token::Owned(v) => v.extend_from_slice(&buf[run]),
        }
    }

    /// Append a byte produced by unescaping, which never matches the input.
    fn push_byte(&mut self, buf: &[u8], b: u8) {
        match self {
            Token::Empty => *self = Token::Owned(vec![b]),
            Token::Span(r) => {
                let mut v = buf[r.clone()].to_vec();
                v.push(b);
                *self = Token::Owned(v);
            }
            Token::Owned(v) => v.push(b),
        }
    }
}

/// Hands finished inline arguments to the caller: ranges while every argument
/// is a plain slice of the line, and the moment one is not, every argument
/// (earlier ones copied over) in `owned`. `owned` is non-empty exactly when we
/// are in the owned mode, so it doubles as the mode flag.
struct InlineArgs<'a> {
    buf: &'a [u8],
    args: &'a mut Vec<Range<usize>>,
    owned: &'a mut Vec<Vec<u8>>,
}

impl InlineArgs<'_> {
    fn push(&mut self, token: Token, at: usize) {
        match token {
            Token::Empty => self.push_range(at..at),
            Token::Span(r) => self.push_range(r),
            Token::Owned(v) => {
                if self.owned.is_empty() {
                    let buf = self.buf;
                    self.owned
                        .extend(self.args.drain(..).map(|r| buf[r].to_vec()));
                }
                self.owned.push(v);
            }
        }
    }

    fn push_range(&mut self, r: Range<usize>) {
        if self.owned.is_empty() {
            self.args.push(r);
        } else {
            self.owned.push(self.buf[r].to_vec());
        }
    }
}

/// Redis's `sdssplitargs` over `buf[..end]` (which holds no NUL), including its
/// quirks: quotes may open mid-word (`a"b c"` is one argument `ab c`), `\v` and
/// `\f` separate arguments only between them, unknown escapes yield the escaped
/// character, and a closing quote must be followed by whitespace or the end.
fn split_args(
    buf: &[u8],
    end: usize,
    args: &mut Vec<Range<usize>>,
    owned: &mut Vec<Vec<u8>>,
) -> Result<(), ParseError> {
    let line = &buf[..end];
    // Reads past the line yield 0, the C string terminator the algorithm expects.
    let at = |i: usize| line.get(i).copied().unwrap_or(0);
    let mut out = InlineArgs { buf, args, owned };
    let mut p = 0;
    loop {
        while p < end && is_space(line[p]) {
            p += 1;
        }
        if p >= end {
            return Ok(());
        }
        let start = p;
        let mut token = Token::Empty;
        let mut in_double = false;
        let mut in_single = false;
        loop {
            let c = at(p);
            let mut done = false;
            if in_double {
                if c == b'\\' && at(p + 1) == b'x' {
                    if let (Some(hi), Some(lo)) = (hex_val(at(p + 2)), hex_val(at(p + 3))) {
                        token.push_byte(buf, hi * 16 + lo);
                        p += 3;
                    } else {
                        // `\x` without two hex digits is just an escaped `x`.
                        token.push_byte(buf, b'x');
                        p += 1;
                    }
                } else if c == b'\\' && at(p + 1) != 0 {
                    p += 1;
                    let unescaped = match at(p) {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 0x08,
                        b'a' => 0x07,
                        other => other,
                    };
                    token.push_byte(buf, unescaped);
                } else if c == b'"' {
                    if at(p + 1) != 0 && !is_space(at(p + 1)) {
                        return Err(perr(UNBALANCED_QUOTES));
                    }
                    done = true;
                } else if c == 0 {
                    return Err(perr(UNBALANCED_QUOTES));
                } else {
                    token.push_input(buf, p);
                }
            } else if in_single {
                if c == b'\\' && at(p + 1) == b'\'' {
                    p += 1;
                    token.push_byte(buf, b'\'');
                } else if c == b'\'' {
                    if at(p + 1) != 0 && !is_space(at(p + 1)) {
                        return Err(perr(UNBALANCED_QUOTES));
                    }
                    done = true;
                } else if c == 0 {
                    return Err(perr(UNBALANCED_QUOTES));
                } else {
                    token.push_input(buf, p);
                }
            } else {
                match c {
                    b' ' | b'\n' | b'\r' | b'\t' | 0 => done = true,
                    b'"' => in_double = true,
                    b'\'' => in_single = true,
                    _ => {
                        // Fast path: take the whole run of ordinary bytes at
                        // once; stop on anything the match above handles.
                        let run = line[p..]
                            .iter()
                            .position(|&b| matches!(b, b' ' | b'\n' | b'\r' | b'\t' | b'"' | b'\''))
                            .map_or(end, |n| p + n);
                        token.push_run(buf, p..run);
                        // The shared step below moves past the run's last byte.
                        p = run - 1;
                    }
                }
            }
            if at(p) != 0 {
                p += 1;
            }
            if done {
                break;
            }
        }
        out.push(token, start);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::resp::tests::{bytes, complete, err};
    use crate::protocol::resp::{parse_request, Limits, RequestKind};
    use proptest::prelude::*;

    fn inline(line: &str) -> Vec<Vec<u8>> {
        let (consumed, kind, vals) = complete(line.as_bytes());
        assert_eq!(kind, RequestKind::Inline);
        assert_eq!(consumed, line.len());
        vals
    }

    #[test]
    fn inline_basic() {
        assert_eq!(inline("PING\r\n"), bytes(&["PING"]));
        assert_eq!(inline("PING\n"), bytes(&["PING"]));
        assert_eq!(inline("SET  k \t v\n"), bytes(&["SET", "k", "v"]));
        assert_eq!(inline("  GET k  \r\n"), bytes(&["GET", "k"]));
        // Only the final CR is stripped; an inner CR separates like a space.
        assert_eq!(inline("a\rb\r\n"), bytes(&["a", "b"]));
    }

    #[test]
    fn inline_empty_lines_are_empty_requests() {
        for line in ["\n", "\r\n", "   \n", " \t \r\n"] {
            assert_eq!(inline(line), Vec::<Vec<u8>>::new(), "{line:?}");
        }
    }

    #[test]
    fn inline_unquoted_args_are_ranges() {
        let buf = b"SET key \"val\"\r\n";
        let mut args = Vec::new();
        let mut owned = Vec::new();
        let r = parse_request(buf, &Limits::default(), &mut args, &mut owned);
        assert_eq!(r, Ok(Some((buf.len(), RequestKind::Inline))));
        // A quoted word without escapes is still a plain slice of the line.
        assert_eq!(args, vec![0..3, 4..7, 9..12]);
        assert!(owned.is_empty());
    }

    #[test]
    fn inline_escaped_args_switch_everything_to_owned() {
        let buf = b"SET k \"a\\nb\" tail\n";
        let mut args = Vec::new();
        let mut owned = Vec::new();
        let r = parse_request(buf, &Limits::default(), &mut args, &mut owned);
        assert_eq!(r, Ok(Some((buf.len(), RequestKind::Inline))));
        assert!(args.is_empty());
        assert_eq!(owned, bytes(&["SET", "k", "a\nb", "tail"]));
    }

    #[test]
    fn inline_double_quote_escapes() {
        assert_eq!(
            inline("ECHO \"a\\nb\\rc\\td\\be\\af\\\\g\\\"h\"\n"),
            vec![b"ECHO".to_vec(), b"a\nb\rc\td\x08e\x07f\\g\"h".to_vec()]
        );
        assert_eq!(
            inline("ECHO \"\\x41\\x7a\\xff\\x00\"\n"),
            vec![b"ECHO".to_vec(), b"Az\xff\x00".to_vec()]
        );
        // `\x` without two hex digits and unknown escapes yield the character.
        assert_eq!(inline("ECHO \"\\xg1\\q\"\n"), bytes(&["ECHO", "xg1q"]));
        assert_eq!(inline("ECHO \"\\x4\"\n"), bytes(&["ECHO", "x4"]));
        assert_eq!(inline("ECHO \"a b\"  \"\"\n"), bytes(&["ECHO", "a b", ""]));
        // Single quotes inside double quotes are literal.
        assert_eq!(inline("ECHO \"it's\"\n"), bytes(&["ECHO", "it's"]));
    }

    #[test]
    fn inline_single_quotes() {
        assert_eq!(inline("ECHO 'a b'\n"), bytes(&["ECHO", "a b"]));
        assert_eq!(inline("ECHO 'it\\'s'\n"), bytes(&["ECHO", "it's"]));
        // Only \' is an escape inside single quotes.
        assert_eq!(inline("ECHO 'a\\nb'\n"), bytes(&["ECHO", "a\\nb"]));
        assert_eq!(
            inline("ECHO 'say \"hi\"'\n"),
            bytes(&["ECHO", "say \"hi\""])
        );
        assert_eq!(inline("ECHO ''\n"), bytes(&["ECHO", ""]));
    }

    #[test]
    fn inline_sdssplitargs_quirks() {
        // A quote may open mid-word and the word continues inside it.
        assert_eq!(inline("ECHO ab\"c d\"\n"), bytes(&["ECHO", "abc d"]));
        assert_eq!(inline("ECHO a'b'\n"), bytes(&["ECHO", "ab"]));
        // Backslashes outside quotes are literal.
        assert_eq!(inline("ECHO a\\nb\n"), bytes(&["ECHO", "a\\nb"]));
        // \v and \f separate words only between words (isspace), not inside.
        assert_eq!(inline("\x0bECHO a\x0bb\n"), bytes(&["ECHO", "a\x0bb"]));
        // A closing quote may be followed by any isspace byte.
        assert_eq!(inline("ECHO \"a\"\x0bb\n"), bytes(&["ECHO", "a", "b"]));
        assert_eq!(inline("ECHO \"a\"\tb\n"), bytes(&["ECHO", "a", "b"]));
    }

    #[test]
    fn inline_nul_ends_the_line_like_a_c_string() {
        let (consumed, _, vals) = complete(b"SET k v\0junk more\n");
        assert_eq!(consumed, 18);
        assert_eq!(vals, bytes(&["SET", "k", "v"]));
        assert_eq!(err(b"ECHO \"ab\0cd\"\n"), UNBALANCED_QUOTES);
    }

    #[test]
    fn inline_unbalanced_quotes() {
        for line in [
            &b"ECHO \"abc\n"[..],
            b"ECHO 'abc\n",
            b"ECHO \"a\"b\n",
            b"ECHO 'a'b\n",
            b"ECHO \"a\"\"b\"\n",
            b"ECHO \"abc\\\"\n",
            b"ECHO \"\n",
            b"\"\n",
            b"ECHO \"a\\\n",
        ] {
            assert_eq!(
                err(line),
                UNBALANCED_QUOTES,
                "{:?}",
                String::from_utf8_lossy(line)
            );
        }
    }

    proptest! {
        #[test]
        fn inline_round_trips_through_redis_quoting(
            args in prop::collection::vec(prop::collection::vec(1u8..=255, 0..20), 1..6),
        ) {
            // Quote every argument the way redis-cli's sdscatrepr does.
            let mut line = Vec::new();
            for a in &args {
                line.push(b'"');
                for &b in a {
                    match b {
                        b'\\' | b'"' => { line.push(b'\\'); line.push(b); }
                        b'\n' => line.extend_from_slice(b"\\n"),
                        b'\r' => line.extend_from_slice(b"\\r"),
                        0x20..=0x7e => line.push(b),
                        _ => line.extend_from_slice(format!("\\x{b:02x}").as_bytes()),
                    }
                }
                line.extend_from_slice(b"\" ");
            }
            line.extend_from_slice(b"\r\n");
            let (consumed, kind, vals) = complete(&line);
            prop_assert_eq!(consumed, line.len());
            prop_assert_eq!(kind, RequestKind::Inline);
            prop_assert_eq!(vals, args);
        }
    }
}
