//! Decimal numbers for INCRBYFLOAT, exact where Redis uses `long double`.
//!
//! Redis parses the stored value and the increment with `strtold`, adds them in
//! 80-bit `long double` and stores `%.17Lf` with trailing zeros removed — so
//! `0.1 + 0.2` is `0.3`, not the `0.30000000000000004` an `f64` gives. Rust has
//! no `long double`; both operands are decimal text, so we add them exactly and
//! round the sum to 17 fractional digits. That agrees with Redis whenever the
//! sum fits the `long double` mantissa (about 19 significant digits) and is the
//! exact answer where it does not. The range is `long double`'s: magnitudes past
//! about 1.19e4932 are infinite, and a non-zero value under about 3.6e-4951
//! underflows (strtold's ERANGE, which Redis refuses as "not a valid float").
//! Pure arithmetic on digit strings: nothing here knows about keys or shards.

/// Redis's `MAX_LONG_DOUBLE_CHARS`: longer texts are not a valid float.
pub const MAX_CHARS: usize = 5 * 1024;
/// Fractional digits Redis keeps (`%.17Lf`).
const FRACTION_DIGITS: i64 = 17;
/// Decimal exponent of `long double`'s largest finite value (1.19e4932).
const MAX_EXP10: i64 = 4932;
/// Decimal exponent of `long double`'s smallest subnormal (3.6e-4951).
const MIN_EXP10: i64 = -4951;

/// A finite decimal `(-1)^neg × digits × 10^exp`, `digits` most significant first
/// with no leading zeros (zero is an empty `digits`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decimal {
    neg: bool,
    digits: Vec<u8>,
    exp: i64,
}

/// What a float text means to `strtold`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Number {
    Finite(Decimal),
    /// `inf` / `infinity` with either sign: valid text, but any sum is infinite.
    Infinite,
}

impl Decimal {
    pub fn zero() -> Decimal {
        Decimal {
            neg: false,
            digits: Vec::new(),
            exp: 0,
        }
    }

    fn normalize(mut self) -> Decimal {
        let lead = self.digits.iter().take_while(|&&d| d == 0).count();
        self.digits.drain(..lead);
        while self.digits.last() == Some(&0) {
            self.digits.pop();
            self.exp += 1;
        }
        if self.digits.is_empty() {
            self.neg = false;
            self.exp = 0;
        }
        self
    }

    /// Decimal exponent of the most significant digit (None for zero).
    fn magnitude(&self) -> Option<i64> {
        (!self.digits.is_empty()).then(|| self.exp + self.digits.len() as i64 - 1)
    }

    /// True when the value is past `long double`'s finite range.
    pub fn overflows(&self) -> bool {
        self.magnitude().is_some_and(|m| m > MAX_EXP10)
    }

    /// `self + other`, exact.
    pub fn add(&self, other: &Decimal) -> Decimal {
        if self.digits.is_empty() {
            return other.clone();
        }
        if other.digits.is_empty() {
            return self.clone();
        }
        let exp = self.exp.min(other.exp);
        let a = aligned(self, exp);
        let b = aligned(other, exp);
        let (neg, digits) = if self.neg == other.neg {
            (self.neg, add_mag(&a, &b))
        } else if cmp_mag(&a, &b) == std::cmp::Ordering::Less {
            (other.neg, sub_mag(&b, &a))
        } else {
            (self.neg, sub_mag(&a, &b))
        };
        Decimal { neg, digits, exp }.normalize()
    }

    /// Redis's `ld2string(.., LD_STR_HUMAN)`: fixed notation with 17 fractional
    /// digits (rounded half to even), trailing zeros and a bare `.` removed, and
    /// `-0` written `0`.
    pub fn to_human(&self) -> String {
        let mut d = self.clone();
        if d.exp < -FRACTION_DIGITS {
            let drop = (-FRACTION_DIGITS - d.exp) as usize;
            let keep = d.digits.len().saturating_sub(drop);
            let (first_dropped, rest_nonzero) = if drop > d.digits.len() {
                (0, true)
            } else {
                let tail = &d.digits[keep..];
                (tail[0], tail[1..].iter().any(|&x| x != 0))
            };
            d.digits.truncate(keep);
            d.exp = -FRACTION_DIGITS;
            let last_odd = d.digits.last().is_some_and(|&x| x % 2 == 1);
            let round_up = first_dropped > 5 || (first_dropped == 5 && (rest_nonzero || last_odd));
            if round_up {
                d.digits = add_mag(&d.digits, &[1]);
            }
            d = d.normalize();
        }
        if d.digits.is_empty() {
            return "0".into();
        }
        let mut out = String::with_capacity(d.digits.len() + 24);
        if d.neg {
            out.push('-');
        }
        let text = |ds: &[u8], out: &mut String| out.extend(ds.iter().map(|&x| (b'0' + x) as char));
        if d.exp >= 0 {
            text(&d.digits, &mut out);
            out.extend(std::iter::repeat_n('0', d.exp as usize));
            return out;
        }
        let frac = (-d.exp) as usize;
        if d.digits.len() > frac {
            let (int, f) = d.digits.split_at(d.digits.len() - frac);
            text(int, &mut out);
            out.push('.');
            text(f, &mut out);
        } else {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', frac - d.digits.len()));
            text(&d.digits, &mut out);
        }
        out
    }
}

/// Parse float text as Redis's `string2ld` accepts it: `strtold` syntax (sign,
/// digits with an optional point, optional exponent, or `inf`/`infinity`), no
/// leading space, nothing trailing, not NaN, not out of range. Hexadecimal
/// floats, which strtold also reads, are refused.
/// Why [`add_text`] found no sum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddError {
    /// The stored text is not a number.
    NotFloat,
    /// It is infinite, or the sum overflows.
    NanOrInf,
}

/// INCRBYFLOAT's and HINCRBYFLOAT's sum of a stored text and the increment,
/// as Redis stores it.
pub fn add_text(cur: &[u8], by: &Decimal) -> Result<String, AddError> {
    let cur = match parse(cur) {
        Some(Number::Finite(d)) => d,
        Some(Number::Infinite) => return Err(AddError::NanOrInf),
        None => return Err(AddError::NotFloat),
    };
    let v = cur.add(by);
    if v.overflows() {
        return Err(AddError::NanOrInf);
    }
    Ok(v.to_human())
}

pub fn parse(s: &[u8]) -> Option<Number> {
    if s.is_empty() || s.len() >= MAX_CHARS {
        return None;
    }
    let (neg, body) = match s[0] {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if body.eq_ignore_ascii_case(b"inf") || body.eq_ignore_ascii_case(b"infinity") {
        return Some(Number::Infinite);
    }
    let mut digits = Vec::with_capacity(body.len());
    let mut exp: i64 = 0;
    let mut i = 0;
    let mut seen_digit = false;
    while i < body.len() && body[i].is_ascii_digit() {
        digits.push(body[i] - b'0');
        seen_digit = true;
        i += 1;
    }
    if i < body.len() && body[i] == b'.' {
        i += 1;
        while i < body.len() && body[i].is_ascii_digit() {
            digits.push(body[i] - b'0');
            exp -= 1;
            seen_digit = true;
            i += 1;
        }
    }
    if !seen_digit {
        return None;
    }
    if i < body.len() && (body[i] == b'e' || body[i] == b'E') {
        let mut j = i + 1;
        let eneg = match body.get(j) {
            Some(b'-') => {
                j += 1;
                true
            }
            Some(b'+') => {
                j += 1;
                false
            }
            _ => false,
        };
        let start = j;
        let mut e: i64 = 0;
        while j < body.len() && body[j].is_ascii_digit() {
            // Saturate: any exponent this large is out of range either way.
            e = (e * 10 + (body[j] - b'0') as i64).min(1 << 40);
            j += 1;
        }
        // strtold leaves an `e` without digits unconsumed: trailing junk here.
        if j == start {
            return None;
        }
        exp += if eneg { -e } else { e };
        i = j;
    }
    if i != body.len() {
        return None;
    }
    let d = Decimal { neg, digits, exp }.normalize();
    match d.magnitude() {
        Some(m) if !(MIN_EXP10..=MAX_EXP10).contains(&m) => None,
        _ => Some(Number::Finite(d)),
    }
}

/// The digits of `d` scaled to exponent `exp` (`exp <= d.exp`).
fn aligned(d: &Decimal, exp: i64) -> Vec<u8> {
    let mut v = d.digits.clone();
    v.extend(std::iter::repeat_n(0, (d.exp - exp) as usize));
    v
}

fn cmp_mag(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    let a = &a[a.iter().take_while(|&&x| x == 0).count()..];
    let b = &b[b.iter().take_while(|&&x| x == 0).count()..];
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

fn add_mag(a: &[u8], b: &[u8]) -> Vec<u8> {
    let n = a.len().max(b.len());
    let mut out = vec![0u8; n + 1];
    let mut carry = 0;
    for i in 0..n {
        let x = if i < a.len() { a[a.len() - 1 - i] } else { 0 };
        let y = if i < b.len() { b[b.len() - 1 - i] } else { 0 };
        let s = x + y + carry;
        out[n - i] = s % 10;
        carry = s / 10;
    }
    out[0] = carry;
    out
}

/// `a - b` for `a >= b`.
fn sub_mag(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut out = a.to_vec();
    let mut borrow = 0i8;
    for i in 0..a.len() {
        let y = if i < b.len() {
            b[b.len() - 1 - i] as i8
        } else {
            0
        };
        let idx = a.len() - 1 - i;
        let mut s = a[idx] as i8 - y - borrow;
        borrow = 0;
        if s < 0 {
            s += 10;
            borrow = 1;
        }
        out[idx] = s as u8;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(s: &str) -> Decimal {
        match parse(s.as_bytes()) {
            Some(Number::Finite(d)) => d,
            other => panic!("{s:?} parsed as {other:?}"),
        }
    }

    fn sum(a: &str, b: &str) -> String {
        num(a).add(&num(b)).to_human()
    }

    #[test]
    fn sums_like_redis_long_double() {
        let cases = [
            ("0.1", "0.2", "0.3"),
            ("10.50", "0.1", "10.6"),
            ("10.6", "-5", "5.6"),
            ("5.0e3", "2.0e2", "5200"),
            ("0", "5.0e3", "5000"),
            ("10", "1.5", "11.5"),
            ("11.5", "-11.5", "0"),
            ("-1", "1", "0"),
            (".5", "1", "1.5"),
            ("5.", "1", "6"),
            ("+1.5", "1", "2.5"),
            ("3", "-10", "-7"),
            ("1e20", "0", "100000000000000000000"),
            ("0.000000000000000001", "0", "0"),
            ("0.000000000000000005", "0", "0"),
            ("0.000000000000000015", "0", "0.00000000000000002"),
            ("0.000000000000000025", "0", "0.00000000000000002"),
            ("0.0000000000000000251", "0", "0.00000000000000003"),
            ("-0.000000000000000001", "0", "0"),
            ("0.99999999999999999999", "0", "1"),
            ("1.5e-7", "0", "0.00000015"),
            ("-2.5e-3", "0", "-0.0025"),
            ("123456789.125", "0", "123456789.125"),
        ];
        for (a, b, want) in cases {
            assert_eq!(sum(a, b), want, "{a} + {b}");
        }
    }

    #[test]
    fn parse_accepts_strtold_syntax_only() {
        for bad in [
            "",
            " 1",
            "1 ",
            "abc",
            "nan",
            "NaN",
            "-nan",
            "1.5.5",
            "0x10",
            "1,5",
            ".",
            "-",
            "e5",
            "1e",
            "1e+",
            "1e400000",
            "1e-400000",
            "1e4933",
        ] {
            assert_eq!(parse(bad.as_bytes()), None, "{bad:?}");
        }
        for inf in ["inf", "-inf", "+inf", "Infinity", "-INFINITY"] {
            assert_eq!(parse(inf.as_bytes()), Some(Number::Infinite), "{inf:?}");
        }
        assert!(parse(&vec![b'1'; MAX_CHARS]).is_none());
        assert!(parse(b"1e4932").is_some());
        assert!(num("1e4932").add(&num("9e4932")).overflows());
        assert!(!num("1e4932").overflows());
        assert_eq!(num("000.000").to_human(), "0");
        assert_eq!(num("-0").to_human(), "0");
    }

    #[test]
    fn big_magnitudes_print_every_digit() {
        let s = num("1e300").to_human();
        assert_eq!(s.len(), 301);
        assert!(s.starts_with('1') && s[1..].bytes().all(|c| c == b'0'));
        assert_eq!(sum("1e20", "1"), "100000000000000000001");
        assert_eq!(sum("-1e20", "1"), "-99999999999999999999");
    }
}
