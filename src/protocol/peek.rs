//! A guess at the key of the request at the front of a connection's buffer,
//! so the connection loop can prefetch its entry before the request is parsed
//! for real. It never decides anything: a wrong or missing guess only costs
//! the prefetch, and it never errors, allocates or consumes bytes.

/// The second argument of the first request in `buf` — the key of most
/// commands — when `buf` starts with a complete multibulk header and holds
/// that argument whole; a guess made for prefetching only, never for running
/// anything: it checks no more than it needs and allocates nothing.
pub fn peek_first_key(buf: &[u8]) -> Option<&[u8]> {
    fn small_number(buf: &[u8], pos: usize, lead: u8) -> Option<(usize, usize)> {
        if *buf.get(pos)? != lead {
            return None;
        }
        let mut n = 0usize;
        let mut i = pos + 1;
        while i < buf.len() && i < pos + 12 {
            match buf[i] {
                d @ b'0'..=b'9' => n = n * 10 + (d - b'0') as usize,
                b'\r' => return (buf.get(i + 1) == Some(&b'\n')).then_some((n, i + 2)),
                _ => return None,
            }
            i += 1;
        }
        None
    }
    let (argc, pos) = small_number(buf, 0, b'*')?;
    if argc < 2 {
        return None;
    }
    let (name_len, pos) = small_number(buf, pos, b'$')?;
    let (key_len, pos) = small_number(buf, pos.checked_add(name_len)?.checked_add(2)?, b'$')?;
    buf.get(pos..pos.checked_add(key_len)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peek_first_key_finds_the_second_argument_or_nothing() {
        assert_eq!(
            peek_first_key(b"*2\r\n$3\r\nGET\r\n$3\r\nfoo\r\n"),
            Some(&b"foo"[..])
        );
        assert_eq!(
            peek_first_key(b"*3\r\n$3\r\nSET\r\n$16\r\nkey:000000000042\r\n$1\r\nx\r\n"),
            Some(&b"key:000000000042"[..])
        );
        // A key cut short, a one-word request, inline commands, junk.
        assert_eq!(peek_first_key(b"*2\r\n$3\r\nGET\r\n$3\r\nfo"), None);
        assert_eq!(peek_first_key(b"*1\r\n$4\r\nPING\r\n"), None);
        assert_eq!(peek_first_key(b"GET foo\r\n"), None);
        assert_eq!(peek_first_key(b"*2\r\n$99999999999999999999\r\n"), None);
        assert_eq!(peek_first_key(b"*2\r\n$-1\r\n"), None);
        assert_eq!(peek_first_key(b""), None);
    }
}
