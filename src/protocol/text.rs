//! The seed's plain newline text protocol (port 7171 by default), for `nc`.
//!
//! `PUT <key> <value>` → `OK`, `GET <key>` → the value or `NOT_FOUND`,
//! `DEL <key>` → `OK` or `NOT_FOUND`, `AUTH <password>` and `LOGIN <user>
//! <password>` (an ACL user) → `OK`, anything else →
//! `ERROR <reason>`. Lines end in `\n` (a trailing `\r` is stripped). The value
//! of PUT (and the password of AUTH) is the rest of the line after the single
//! separating space, so it may contain spaces. [`TextParser`] resumes its
//! search for a line's end where the last call stopped, so a long line
//! arriving in pieces costs linear work. This module only parses lines; it
//! never touches storage.

use std::ops::Range;

use super::ascii::find_byte;

/// A parsed text-protocol line. Ranges index into the buffer given to [`parse_line`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TextRequest {
    Put {
        key: Range<usize>,
        value: Range<usize>,
    },
    Get {
        key: Range<usize>,
    },
    Del {
        key: Range<usize>,
    },
    Auth {
        password: Range<usize>,
    },
    /// `LOGIN <user> <password>`: AUTH as a named ACL user.
    Login {
        user: Range<usize>,
        password: Range<usize>,
    },
    /// A line that is not a valid request: answer `ERROR {0}` and keep the connection.
    Invalid(String),
}

/// Longest line accepted; a longer line without `\n` is an error and the connection closes.
pub const MAX_LINE: usize = 1024 * 1024;
/// Longest line accepted before AUTH when a password is required (RESP's
/// unauthenticated bulk bound, Redis 7).
pub const UNAUTH_MAX_LINE: usize = 16 * 1024;

/// Finds lines in a buffer that only grows at its end between calls (the
/// caller drops a line's bytes from the front once it is returned).
#[derive(Debug, Default)]
pub struct TextParser {
    /// How far the search for the current line's end got.
    scanned: usize,
}

impl TextParser {
    /// As [`parse_line`], with lines up to `max_line` bytes.
    pub fn parse(
        &mut self,
        buf: &[u8],
        max_line: usize,
    ) -> Result<Option<(TextRequest, usize)>, String> {
        let limit = buf.len().min(max_line + 1);
        let from = self.scanned.min(limit);
        let Some(newline) = find_byte(b'\n', &buf[from..limit]).map(|i| from + i) else {
            self.scanned = limit;
            return if buf.len() > max_line {
                Err(format!("line too long (max {max_line} bytes)"))
            } else {
                Ok(None)
            };
        };
        self.scanned = 0;
        let mut end = newline;
        if end > 0 && buf[end - 1] == b'\r' {
            end -= 1;
        }
        Ok(Some((parse_command(&buf[..end]), newline + 1)))
    }
}

/// Bytes of an unknown command's name quoted in the error, as Redis quotes them.
const MAX_QUOTED_NAME: usize = 128;

/// Parse one line from the front of `buf`. Returns `Ok(None)` when no full line
/// is present yet, `Ok(Some((request, consumed)))` otherwise (consumed includes
/// the newline), and `Err(reason)` when `buf` holds more than [`MAX_LINE`] bytes
/// without a newline (the caller answers `ERROR {reason}` and closes).
/// Commands are case-insensitive. Empty lines are `Invalid("empty command")`.
pub fn parse_line(buf: &[u8]) -> Result<Option<(TextRequest, usize)>, String> {
    TextParser::default().parse(buf, MAX_LINE)
}

/// The next space-separated token at or after `from`: (token range, index
/// just past it). Only spaces separate, as documented; tabs belong to tokens.
fn next_token(line: &[u8], from: usize) -> Option<Range<usize>> {
    let start = from + line.get(from..)?.iter().position(|&b| b != b' ')?;
    let len = line[start..]
        .iter()
        .position(|&b| b == b' ')
        .unwrap_or(line.len() - start);
    Some(start..start + len)
}

fn parse_command(line: &[u8]) -> TextRequest {
    let Some(cmd) = next_token(line, 0) else {
        return TextRequest::Invalid("empty command".to_owned());
    };
    let name = &line[cmd.clone()];
    let key = next_token(line, cmd.end);
    if name.eq_ignore_ascii_case(b"PUT") {
        // The value is everything after the one space that ends the key, so it
        // keeps inner and trailing spaces and may be empty (`PUT k `).
        match key {
            Some(key) if key.end < line.len() => TextRequest::Put {
                value: key.end + 1..line.len(),
                key,
            },
            _ => TextRequest::Invalid("usage: PUT <key> <value>".to_owned()),
        }
    } else if name.eq_ignore_ascii_case(b"GET") {
        match single_key(line, key) {
            Some(key) => TextRequest::Get { key },
            None => TextRequest::Invalid("usage: GET <key>".to_owned()),
        }
    } else if name.eq_ignore_ascii_case(b"AUTH") {
        // The password is everything after the one space that ends the word.
        if cmd.end < line.len() {
            TextRequest::Auth {
                password: cmd.end + 1..line.len(),
            }
        } else {
            TextRequest::Invalid("usage: AUTH <password>".to_owned())
        }
    } else if name.eq_ignore_ascii_case(b"LOGIN") {
        // One word of user name, then the password: the rest of the line.
        match key {
            Some(user) if user.end < line.len() => TextRequest::Login {
                password: user.end + 1..line.len(),
                user,
            },
            _ => TextRequest::Invalid("usage: LOGIN <user> <password>".to_owned()),
        }
    } else if name.eq_ignore_ascii_case(b"DEL") {
        match single_key(line, key) {
            Some(key) => TextRequest::Del { key },
            None => TextRequest::Invalid("usage: DEL <key>".to_owned()),
        }
    } else {
        // At most 128 bytes of the name, as Redis's `unknown command '%.128s'`:
        // the name may be a whole 1 MiB line, and quoting it all made one line
        // of junk allocate ~15x its size (found by the `text` fuzz target).
        let shown = &name[..name.len().min(MAX_QUOTED_NAME)];
        TextRequest::Invalid(format!(
            "unknown command '{}'",
            String::from_utf8_lossy(shown)
        ))
    }
}

/// `key` if it is the line's last token (trailing spaces are tolerated).
fn single_key(line: &[u8], key: Option<Range<usize>>) -> Option<Range<usize>> {
    let key = key?;
    match next_token(line, key.end) {
        None => Some(key),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(line: &[u8]) -> TextRequest {
        match parse_line(line) {
            Ok(Some((r, consumed))) => {
                assert_eq!(consumed, line.len(), "{:?}", String::from_utf8_lossy(line));
                r
            }
            other => panic!("expected a line for {line:?}, got {other:?}"),
        }
    }

    fn invalid(s: &str) -> TextRequest {
        TextRequest::Invalid(s.to_owned())
    }

    /// Resolve a request's ranges to strings for readable assertions.
    fn show(line: &[u8], r: &TextRequest) -> String {
        let s = |r: &Range<usize>| String::from_utf8_lossy(&line[r.clone()]).into_owned();
        match r {
            TextRequest::Put { key, value } => format!("PUT[{}][{}]", s(key), s(value)),
            TextRequest::Get { key } => format!("GET[{}]", s(key)),
            TextRequest::Del { key } => format!("DEL[{}]", s(key)),
            TextRequest::Auth { password } => format!("AUTH[{}]", s(password)),
            TextRequest::Login { user, password } => {
                format!("LOGIN[{}|{}]", s(user), s(password))
            }
            TextRequest::Invalid(e) => format!("ERR[{e}]"),
        }
    }

    fn check(line: &str, want: &str) {
        let r = req(line.as_bytes());
        assert_eq!(show(line.as_bytes(), &r), want, "{line:?}");
    }

    #[test]
    fn put_get_del() {
        assert_eq!(
            req(b"PUT k hello world\n"),
            TextRequest::Put {
                key: 4..5,
                value: 6..17
            }
        );
        assert_eq!(req(b"get k\r\n"), TextRequest::Get { key: 4..5 });
        assert_eq!(req(b"Del key\n"), TextRequest::Del { key: 4..7 });
        check("PUT k hello world\n", "PUT[k][hello world]");
        check("put k v\r\n", "PUT[k][v]");
        check("pUt k v\n", "PUT[k][v]");
    }

    #[test]
    fn put_value_is_rest_of_line() {
        check("PUT k  two spaces\n", "PUT[k][ two spaces]");
        check("PUT k trailing \n", "PUT[k][trailing ]");
        check("PUT k \n", "PUT[k][]");
        check("PUT k \r\n", "PUT[k][]");
        check("PUT   k v\n", "PUT[k][v]");
        check("  PUT k v\n", "PUT[k][v]");
        check("PUT k\tv w\n", "PUT[k\tv][w]");
        check("PUT k a\rb\n", "PUT[k][a\rb]");
    }

    #[test]
    fn usage_errors() {
        assert_eq!(req(b"PUT k\n"), invalid("usage: PUT <key> <value>"));
        assert_eq!(req(b"PUT\n"), invalid("usage: PUT <key> <value>"));
        assert_eq!(req(b"PUT   \n"), invalid("usage: PUT <key> <value>"));
        assert_eq!(req(b"GET\n"), invalid("usage: GET <key>"));
        assert_eq!(req(b"GET a b\n"), invalid("usage: GET <key>"));
        assert_eq!(req(b"DEL\r\n"), invalid("usage: DEL <key>"));
        assert_eq!(req(b"DEL a b\n"), invalid("usage: DEL <key>"));
        // Trailing spaces after a lone key are harmless.
        assert_eq!(req(b"GET a  \n"), TextRequest::Get { key: 4..5 });
    }

    #[test]
    fn unknown_and_empty() {
        assert_eq!(req(b"FOO\n"), invalid("unknown command 'FOO'"));
        assert_eq!(req(b"foo bar baz\n"), invalid("unknown command 'foo'"));
        assert_eq!(req(b"GETX k\n"), invalid("unknown command 'GETX'"));
        assert_eq!(req(b"\n"), invalid("empty command"));
        assert_eq!(req(b"\r\n"), invalid("empty command"));
        assert_eq!(req(b"    \n"), invalid("empty command"));
    }

    #[test]
    fn incomplete_lines() {
        assert_eq!(parse_line(b""), Ok(None));
        let line = b"PUT k hello\r\n";
        for cut in 0..line.len() {
            assert_eq!(parse_line(&line[..cut]), Ok(None), "cut {cut}");
        }
    }

    #[test]
    fn pipelined_lines() {
        let buf = b"PUT a 1\nGET a\r\nDEL a\nNOPE\nGET";
        let mut pos = 0;
        let mut seen = Vec::new();
        while let Ok(Some((r, consumed))) = parse_line(&buf[pos..]) {
            seen.push(show(&buf[pos..], &r));
            pos += consumed;
        }
        assert_eq!(
            seen,
            [
                "PUT[a][1]",
                "GET[a]",
                "DEL[a]",
                "ERR[unknown command 'NOPE']"
            ]
        );
        assert_eq!(&buf[pos..], b"GET");
    }

    #[test]
    fn binary_bytes_in_values_and_keys() {
        let line = b"PUT \xff\x00k v\x00\xfe\n";
        let r = req(line);
        assert_eq!(
            r,
            TextRequest::Put {
                key: 4..7,
                value: 8..11
            }
        );
        assert_eq!(req(b"\xff\n"), invalid("unknown command '\u{fffd}'"));
    }

    #[test]
    fn auth_takes_the_rest_of_the_line() {
        check("AUTH secret\n", "AUTH[secret]");
        check("auth two words \r\n", "AUTH[two words ]");
        assert_eq!(req(b"AUTH\n"), invalid("usage: AUTH <password>"));
    }

    #[test]
    fn login_takes_a_user_and_the_rest_of_the_line() {
        check("LOGIN alice two words\n", "LOGIN[alice|two words]");
        check("login  bob pw\r\n", "LOGIN[bob|pw]");
        assert_eq!(
            req(b"LOGIN alice\n"),
            invalid("usage: LOGIN <user> <password>")
        );
        assert_eq!(req(b"LOGIN\n"), invalid("usage: LOGIN <user> <password>"));
    }

    /// A line fed one byte at a time is found once, with no re-scan from its start.
    #[test]
    fn a_line_in_pieces_is_resumed() {
        let line = b"PUT key a value that arrives slowly\n";
        let mut p = TextParser::default();
        for cut in 1..line.len() {
            assert_eq!(p.parse(&line[..cut], MAX_LINE), Ok(None));
            assert_eq!(p.scanned, cut);
        }
        let (r, n) = p.parse(line, MAX_LINE).expect("ok").expect("line");
        assert_eq!(n, line.len());
        assert_eq!(show(line, &r), "PUT[key][a value that arrives slowly]");
        assert!(p.parse(&[b'x'; 20], 16).is_err());
    }

    #[test]
    fn unknown_command_quotes_at_most_128_bytes_of_its_name() {
        // Fuzz regression (text target, allocation check): a line of 6 KB of
        // junk was quoted whole, each invalid byte as a 3-byte U+FFFD.
        let mut line = vec![0xff; 6000];
        line.push(b'\n');
        let want = format!("unknown command '{}'", "\u{fffd}".repeat(128));
        assert_eq!(req(&line), TextRequest::Invalid(want));
        let mut line = b"x".repeat(MAX_LINE);
        line.push(b'\n');
        let want = format!("unknown command '{}'", "x".repeat(128));
        assert_eq!(req(&line), TextRequest::Invalid(want));
        // Short names are quoted whole, as before.
        assert_eq!(req(b"NOPE\n"), invalid("unknown command 'NOPE'"));
    }

    #[test]
    fn line_length_limit() {
        let mut buf = vec![b'x'; MAX_LINE];
        assert_eq!(parse_line(&buf), Ok(None));
        buf.push(b'\n');
        assert!(matches!(parse_line(&buf), Ok(Some((_, n))) if n == MAX_LINE + 1));
        buf.pop();
        buf.push(b'x');
        let err = parse_line(&buf).expect_err("over MAX_LINE without newline");
        assert!(err.contains("too long"), "{err}");
    }
}
