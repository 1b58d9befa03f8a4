//! Redis's glob-style pattern matching (`stringmatchlen`): `*`, `?`, `[abc]`,
//! `[^a]`, `[a-z]`, and `\` escapes, byte-wise, for KEYS and SCAN MATCH.
//!
//! Every token other than `*` consumes exactly one byte of text, so instead of
//! Redis's recursion we keep only the last `*` seen and, on a mismatch, let it
//! swallow one more byte: the classic linear-backtracking matcher, at worst
//! `O(pattern × text)` — never exponential on patterns like `a*a*a*a*b`.
//! Bytes compare unsigned (Redis compares `char`, signed on x86, which only
//! matters for ranges with an end at or above 0x80).

/// True when `text` matches `pattern` under Redis's rules (case-sensitive).
///
/// As in Redis, an empty text matches only an empty pattern — even `*` does not
/// match it; callers that treat `*` as "everything" (KEYS, SCAN) special-case it.
pub fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    if text.is_empty() {
        // Redis's loop never runs for an empty string: only an empty pattern matches.
        return pattern.is_empty();
    }
    let (mut p, mut t) = (0usize, 0usize);
    // After the last `*`: the pattern index just past it, and the text index its
    // next attempt should start at.
    let mut star: Option<(usize, usize)> = None;
    loop {
        if t == text.len() {
            // Text used up: only stars may remain.
            while p < pattern.len() && pattern[p] == b'*' {
                p += 1;
            }
            if p == pattern.len() {
                return true;
            }
        } else if p < pattern.len() {
            if pattern[p] == b'*' {
                while p < pattern.len() && pattern[p] == b'*' {
                    p += 1;
                }
                if p == pattern.len() {
                    return true;
                }
                star = Some((p, t + 1));
                continue;
            }
            let (ok, next) = match_one(pattern, p, text[t]);
            if ok {
                p = next;
                t += 1;
                continue;
            }
        }
        // Mismatch: let the last star swallow one more byte, if there is one to swallow.
        match star {
            Some((sp, st)) if st <= text.len() => {
                p = sp;
                t = st;
                star = Some((sp, st + 1));
            }
            _ => return false,
        }
    }
}

/// Match the single-byte token at `pattern[p]` (not `*`) against `c`.
/// Returns whether it matched and the index of the next token.
#[inline]
fn match_one(pattern: &[u8], p: usize, c: u8) -> (bool, usize) {
    match pattern[p] {
        b'?' => (true, p + 1),
        b'[' => match_class(pattern, p, c),
        b'\\' if pattern.len() - p >= 2 => (pattern[p + 1] == c, p + 2),
        lit => (lit == c, p + 1),
    }
}

/// A `[...]` class starting at `pattern[p] == b'['`, ported from Redis including
/// its quirks: an unterminated class ends with the pattern, `\x` inside a class is
/// a literal `x`, `a-z` is a range in either direction, and a `-` right before
/// the closing `]` makes a range ending at `]`.
fn match_class(pattern: &[u8], p: usize, c: u8) -> (bool, usize) {
    let n = pattern.len();
    let mut i = p + 1;
    let negate = i < n && pattern[i] == b'^';
    if negate {
        i += 1;
    }
    let mut matched = false;
    loop {
        if i >= n {
            // Unterminated: the class runs to the end of the pattern.
            return (matched != negate, n);
        }
        let b = pattern[i];
        if b == b'\\' && n - i >= 2 {
            i += 1;
            if pattern[i] == c {
                matched = true;
            }
        } else if b == b']' {
            return (matched != negate, i + 1);
        } else if n - i >= 3 && pattern[i + 1] == b'-' {
            let (mut lo, mut hi) = (b, pattern[i + 2]);
            if lo > hi {
                std::mem::swap(&mut lo, &mut hi);
            }
            if (lo..=hi).contains(&c) {
                matched = true;
            }
            i += 2;
        } else if b == c {
            matched = true;
        }
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// A direct port of Redis's recursive `stringmatchlen_impl` (nocase = 0), the
    /// reference the fast matcher is checked against.
    fn redis_match(pattern: &[u8], string: &[u8]) -> bool {
        let mut skip = false;
        redis_impl(pattern, string, &mut skip, 0)
    }

    fn redis_impl(mut pat: &[u8], mut s: &[u8], skip_longer: &mut bool, nesting: u32) -> bool {
        if nesting > 1000 {
            return false;
        }
        while !pat.is_empty() && !s.is_empty() {
            match pat[0] {
                b'*' => {
                    while pat.len() > 1 && pat[1] == b'*' {
                        pat = &pat[1..];
                    }
                    if pat.len() == 1 {
                        return true;
                    }
                    while !s.is_empty() {
                        if redis_impl(&pat[1..], s, skip_longer, nesting + 1) {
                            return true;
                        }
                        if *skip_longer {
                            return false;
                        }
                        s = &s[1..];
                    }
                    *skip_longer = true;
                    return false;
                }
                b'?' => s = &s[1..],
                b'[' => {
                    // Index into the pattern from the `[` on, so C's final `pattern--`
                    // (an unterminated class) can step back onto the `[` or `^`.
                    let full = pat;
                    let mut i = 1usize;
                    let not = full.len() > 1 && full[1] == b'^';
                    if not {
                        i += 1;
                    }
                    let mut matched = false;
                    loop {
                        let len = full.len() - i;
                        if len >= 2 && full[i] == b'\\' {
                            i += 1;
                            if full[i] == s[0] {
                                matched = true;
                            }
                        } else if len > 0 && full[i] == b']' {
                            break;
                        } else if len == 0 {
                            i -= 1;
                            break;
                        } else if len >= 3 && full[i + 1] == b'-' {
                            let (mut a, mut b) = (full[i], full[i + 2]);
                            if a > b {
                                std::mem::swap(&mut a, &mut b);
                            }
                            if s[0] >= a && s[0] <= b {
                                matched = true;
                            }
                            i += 2;
                        } else if full[i] == s[0] {
                            matched = true;
                        }
                        i += 1;
                    }
                    pat = &full[i..];
                    if not {
                        matched = !matched;
                    }
                    if !matched {
                        return false;
                    }
                    s = &s[1..];
                }
                b => {
                    let lit = if b == b'\\' && pat.len() >= 2 {
                        pat = &pat[1..];
                        pat[0]
                    } else {
                        b
                    };
                    if lit != s[0] {
                        return false;
                    }
                    s = &s[1..];
                }
            }
            pat = &pat[1..];
            if s.is_empty() {
                while !pat.is_empty() && pat[0] == b'*' {
                    pat = &pat[1..];
                }
                break;
            }
        }
        pat.is_empty() && s.is_empty()
    }

    #[test]
    fn redis_cases() {
        let cases: &[(&str, &str, bool)] = &[
            ("", "", true),
            ("*", "", false),
            ("", "a", false),
            ("*", "anything", true),
            ("**", "x", true),
            ("a*", "a", true),
            ("a**", "a", true),
            ("*a", "a", true),
            ("*a", "ba", true),
            ("*a", "ab", false),
            ("h?llo", "hello", true),
            ("h?llo", "hllo", false),
            ("h*llo", "hllo", true),
            ("h*llo", "heeeello", true),
            ("h[ae]llo", "hello", true),
            ("h[ae]llo", "hallo", true),
            ("h[ae]llo", "hillo", false),
            ("h[^e]llo", "hallo", true),
            ("h[^e]llo", "hbllo", true),
            ("h[^e]llo", "hello", false),
            ("h[a-b]llo", "hallo", true),
            ("h[a-b]llo", "hbllo", true),
            ("h[a-b]llo", "hcllo", false),
            ("h[b-a]llo", "hallo", true),
            ("h[z-a]llo", "hqllo", true),
            ("h[^a-c]llo", "hbllo", false),
            ("h[^a-c]llo", "hdllo", true),
            ("\\*", "*", true),
            ("\\*", "a", false),
            ("\\?", "?", true),
            ("\\?", "x", false),
            ("a\\", "a\\", true),
            ("[\\]]", "]", true),
            ("[\\-]", "-", true),
            ("[\\-]", "a", false),
            ("[abc", "b", true),
            ("[abc", "d", false),
            ("[a-", "a", true),
            ("[a-]", "^", true),
            ("[]", "]", false),
            ("[", "[", false),
            ("[^", "a", true),
            ("user:*:name", "user:1000:name", true),
            ("user:*:name", "user:1000:email", false),
            ("*:*", "a:b", true),
            ("*a*b*c*", "xaxbxcx", true),
            ("*a*b*c*", "xcxbxax", false),
            ("a*b?c", "aXXbYc", true),
            ("a*b?c", "abc", false),
            ("*?", "a", true),
            ("*??", "a", false),
            ("?*?", "ab", true),
        ];
        for &(pat, text, want) in cases {
            assert_eq!(
                glob_match(pat.as_bytes(), text.as_bytes()),
                want,
                "pattern {pat:?} text {text:?}"
            );
            assert_eq!(
                redis_match(pat.as_bytes(), text.as_bytes()),
                want,
                "reference: pattern {pat:?} text {text:?}"
            );
        }
    }

    #[test]
    fn no_exponential_blowup() {
        let text = vec![b'a'; 10_000];
        let pattern = b"*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b";
        let started = std::time::Instant::now();
        assert!(!glob_match(pattern, &text));
        let mut yes = text.clone();
        yes.push(b'b');
        assert!(glob_match(pattern, &yes));
        assert!(!glob_match(b"a*a*a*a*a*a*a*a*a*a*a*a*a*a*b", &text[..64]));
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
    }

    #[test]
    fn binary_bytes() {
        assert!(glob_match(b"\x00*\xff", b"\x00abc\xff"));
        assert!(glob_match(b"[\x80-\xff]", b"\x90"));
        assert!(!glob_match(b"[\x80-\xff]", b"\x10"));
        assert!(glob_match(b"?", b"\xff"));
    }

    /// Random short patterns and texts over a small alphabet full of metacharacters:
    /// the linear matcher agrees with the recursive Redis port.
    #[test]
    fn agrees_with_redis_port() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(0x5eed);
        let pat_alpha = b"ab*?[]^-\\c";
        let text_alpha = b"abc]-^\\";
        for _ in 0..200_000 {
            let plen = rng.gen_range(0..9);
            let tlen = rng.gen_range(0..8);
            let pat: Vec<u8> = (0..plen)
                .map(|_| pat_alpha[rng.gen_range(0..pat_alpha.len())])
                .collect();
            let text: Vec<u8> = (0..tlen)
                .map(|_| text_alpha[rng.gen_range(0..text_alpha.len())])
                .collect();
            assert_eq!(
                glob_match(&pat, &text),
                redis_match(&pat, &text),
                "pattern {:?} text {:?}",
                String::from_utf8_lossy(&pat),
                String::from_utf8_lossy(&text)
            );
        }
    }
}
