//! Listpack codec: the compact container Redis 7 stores inside RDB values of
//! type 16 (hash), 17 (sorted set), 20 (set) and in quicklist-2 list nodes.
//!
//! This module owns the byte layout of one listpack blob and nothing else. It
//! never reads a file or a socket, never knows keys, RDB opcodes, LZF, or what
//! the elements mean (pairs, scores, duplicates are the RDB reader's business):
//! the reader hands it the blob and gets elements back, the writer hands it
//! elements and gets the blob. Decoding treats every blob as hostile: any
//! inconsistency is an `Err` with a short reason, never a panic, and nothing
//! is allocated beyond what the blob's own bytes can justify.
//!
//! Layout: `<total-bytes u32 LE> <count u16 LE> <entry>* <0xFF>`, each entry
//! being `<encoding+data> <backlen>` where backlen is the byte length of
//! `<encoding+data>` written big-endian-first in 7-bit groups.

/// A decoded listpack element, owning its bytes.
///
/// Redis treats the two variants as the same value when their text matches
/// (`Int(7)` is the string `"7"`); the integer form is kept so callers need
/// not re-parse numbers they want as numbers.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Element {
    Int(i64),
    Bytes(Vec<u8>),
}

/// A borrowed element to encode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ElementRef<'a> {
    Int(i64),
    Bytes(&'a [u8]),
}

impl Element {
    /// The element as Redis would reply with it: integers in decimal.
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            Element::Int(v) => v.to_string().into_bytes(),
            Element::Bytes(b) => b.clone(),
        }
    }
}

impl<'a> From<&'a Element> for ElementRef<'a> {
    fn from(element: &'a Element) -> Self {
        match element {
            Element::Int(v) => ElementRef::Int(*v),
            Element::Bytes(b) => ElementRef::Bytes(b),
        }
    }
}

const HEADER_LEN: usize = 6;
const TERMINATOR: u8 = 0xFF;
/// Header count meaning "too many to count in 16 bits, walk the entries".
const COUNT_UNKNOWN: u16 = u16::MAX;
/// Smallest possible entry: one encoding byte plus one backlen byte.
const MIN_ENTRY_LEN: usize = 2;

/// Decodes a listpack blob, validating everything Redis's deep
/// `lpValidateIntegrity` does (total bytes, terminator, count unless 65535,
/// every entry's encoding and extent) and one thing more: each backlen must
/// be byte-identical to what Redis writes, where Redis only checks that
/// reading it backwards yields the right number.
///
/// Non-minimal encodings (a small integer in 64-bit form, a short string in
/// 32-bit form) are accepted, as Redis accepts them.
pub fn decode(blob: &[u8]) -> Result<Vec<Element>, String> {
    let Some((header, rest)) = blob.split_first_chunk::<HEADER_LEN>() else {
        return Err("listpack: shorter than its header".into());
    };
    let [t0, t1, t2, t3, c0, c1] = *header;
    let total = u32::from_le_bytes([t0, t1, t2, t3]);
    if usize::try_from(total).ok() != Some(blob.len()) {
        return Err(format!(
            "listpack: header says {total} bytes, blob has {}",
            blob.len()
        ));
    }
    let Some((&TERMINATOR, mut entries)) = rest.split_last() else {
        return Err("listpack: missing 0xFF terminator".into());
    };
    let count = u16::from_le_bytes([c0, c1]);

    let room = entries.len() / MIN_ENTRY_LEN;
    let capacity = if count == COUNT_UNKNOWN {
        room
    } else {
        room.min(usize::from(count))
    };
    let mut elements = Vec::with_capacity(capacity);
    while !entries.is_empty() {
        let (element, used) = decode_entry(entries)?;
        elements.push(element);
        entries = entries.get(used..).unwrap_or_default();
    }

    if count != COUNT_UNKNOWN && usize::from(count) != elements.len() {
        return Err(format!(
            "listpack: header counts {count} elements, found {}",
            elements.len()
        ));
    }
    Ok(elements)
}

/// Decodes the entry at the start of `entries` (which excludes the
/// terminator) and returns it with the number of bytes it occupies.
fn decode_entry(entries: &[u8]) -> Result<(Element, usize), String> {
    let Some(&first) = entries.first() else {
        return Err("listpack: entry expected".into());
    };
    let (encoded_len, element) = match first {
        0x00..=0x7F => (1, Element::Int(i64::from(first))),
        0x80..=0xBF => string_entry(entries, 1, usize::from(first & 0x3F))?,
        0xC0..=0xDF => {
            let low = take(entries, 1, 1)?;
            let raw = (u64::from(first & 0x1F) << 8) | little_endian(low);
            (2, Element::Int(sign_extend(raw, 13)))
        }
        0xE0..=0xEF => {
            let low = take(entries, 1, 1)?;
            let len = (u64::from(first & 0x0F) << 8) | little_endian(low);
            string_entry(entries, 2, to_usize(len)?)?
        }
        0xF0 => {
            let len = little_endian(take(entries, 1, 4)?);
            string_entry(entries, 5, to_usize(len)?)?
        }
        0xF1 => int_entry(entries, 2)?,
        0xF2 => int_entry(entries, 3)?,
        0xF3 => int_entry(entries, 4)?,
        0xF4 => int_entry(entries, 8)?,
        TERMINATOR => return Err("listpack: terminator before the last byte".into()),
        _ => return Err(format!("listpack: invalid entry encoding 0x{first:02x}")),
    };

    let (backlen, backlen_len) = encode_backlen(encoded_len);
    let stored = encoded_len
        .checked_add(backlen_len)
        .and_then(|end| entries.get(encoded_len..end));
    match stored {
        Some(stored) if stored == &backlen[..backlen_len] => {}
        Some(_) => return Err("listpack: entry backlen does not match its size".into()),
        None => return Err("listpack: entry runs past the terminator".into()),
    }
    Ok((element, encoded_len + backlen_len))
}

fn string_entry(entries: &[u8], header: usize, len: usize) -> Result<(usize, Element), String> {
    let data = take(entries, header, len)?;
    Ok((header + len, Element::Bytes(data.to_vec())))
}

fn int_entry(entries: &[u8], width: usize) -> Result<(usize, Element), String> {
    let raw = little_endian(take(entries, 1, width)?);
    // `width` is at most 8, so the bit count cannot overflow.
    let bits = (width * 8) as u32;
    Ok((1 + width, Element::Int(sign_extend(raw, bits))))
}

/// `len` bytes starting `offset` bytes into `entries`, or an error if the
/// blob does not hold them; checking first is what keeps a forged length
/// from turning into a huge allocation.
fn take(entries: &[u8], offset: usize, len: usize) -> Result<&[u8], String> {
    offset
        .checked_add(len)
        .and_then(|end| entries.get(offset..end))
        .ok_or_else(|| "listpack: entry runs past the terminator".to_string())
}

fn to_usize(len: u64) -> Result<usize, String> {
    usize::try_from(len).map_err(|_| "listpack: string length does not fit in memory".to_string())
}

fn little_endian(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .rev()
        .fold(0, |acc, &b| (acc << 8) | u64::from(b))
}

/// Reinterprets the low `bits` bits of `raw` as two's complement.
fn sign_extend(raw: u64, bits: u32) -> i64 {
    let shift = 64 - bits;
    ((raw << shift) as i64) >> shift
}

/// Redis's `lpEncodeBacklen`: the first byte stored carries the most
/// significant 7 bits with the high bit clear, every later byte has the high
/// bit set so the length can be read backwards from the next entry. The
/// thresholds are Redis's own, including the off-by-one `< 16383` that makes
/// a 16383-byte entry take three backlen bytes; matching them exactly is what
/// keeps our blobs byte-identical to redis-server's.
fn encode_backlen(len: usize) -> ([u8; 5], usize) {
    let l = len as u64;
    let group = |shift: u32| ((l >> shift) & 127) as u8 | 128;
    // The leading byte is truncated exactly like Redis's `unsigned char`
    // store; entries are far below 2^35 bytes, so nothing is lost.
    let lead = |shift: u32| (l >> shift) as u8;
    if l <= 127 {
        ([l as u8, 0, 0, 0, 0], 1)
    } else if l < 16383 {
        ([lead(7), group(0), 0, 0, 0], 2)
    } else if l < 2_097_151 {
        ([lead(14), group(7), group(0), 0, 0], 3)
    } else if l < 268_435_455 {
        ([lead(21), group(14), group(7), group(0), 0], 4)
    } else {
        ([lead(28), group(21), group(14), group(7), group(0)], 5)
    }
}

/// Encodes elements into a listpack byte-identical to the one redis-server
/// builds by appending the same elements in order.
///
/// A `Bytes` element whose text is a canonical `i64` ("-12", never "012",
/// "+1" or "-0") is stored in integer form, as Redis's `lpAppend` does. The
/// header count saturates at 65535 ("unknown"), as Redis's does.
///
/// A listpack cannot exceed `u32::MAX` bytes; elements that would need more
/// yield an empty `Vec`, which is never a valid listpack (`decode` rejects
/// it). Use [`try_encode`] to get the reason instead.
pub fn encode(elements: &[ElementRef<'_>]) -> Vec<u8> {
    try_encode(elements).unwrap_or_default()
}

/// Like [`encode`], but reports elements that do not fit in a listpack.
pub fn try_encode(elements: &[ElementRef<'_>]) -> Result<Vec<u8>, String> {
    let encodings: Vec<Encoding<'_>> = elements.iter().map(|&e| Encoding::of(e)).collect();
    let mut total = HEADER_LEN + 1;
    for encoding in &encodings {
        let len = encoding.entry_len()?;
        total = total
            .checked_add(len)
            .ok_or("listpack: elements exceed the 4 GiB listpack limit")?;
    }
    let total_field = u32::try_from(total)
        .map_err(|_| "listpack: elements exceed the 4 GiB listpack limit".to_string())?;
    // 65535 itself already reads as "unknown", exactly as Redis leaves it.
    let count = u16::try_from(elements.len()).unwrap_or(COUNT_UNKNOWN);

    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&total_field.to_le_bytes());
    out.extend_from_slice(&count.to_le_bytes());
    for encoding in &encodings {
        let start = out.len();
        encoding.write(&mut out);
        let (backlen, backlen_len) = encode_backlen(out.len() - start);
        out.extend_from_slice(&backlen[..backlen_len]);
    }
    out.push(TERMINATOR);
    Ok(out)
}

/// How one element will be stored, decided once so sizing and writing agree.
#[derive(Clone, Copy)]
enum Encoding<'a> {
    Int(i64),
    Str(&'a [u8]),
}

impl<'a> Encoding<'a> {
    fn of(element: ElementRef<'a>) -> Self {
        match element {
            ElementRef::Int(v) => Encoding::Int(v),
            ElementRef::Bytes(b) => canonical_int(b).map_or(Encoding::Str(b), Encoding::Int),
        }
    }

    /// Encoding, data and backlen bytes together.
    fn entry_len(self) -> Result<usize, String> {
        let encoded = match self {
            Encoding::Int(v) => int_width(v).0,
            Encoding::Str(s) if s.len() < 64 => 1 + s.len(),
            Encoding::Str(s) if s.len() < 4096 => 2 + s.len(),
            Encoding::Str(s) if u32::try_from(s.len()).is_ok() => 5 + s.len(),
            Encoding::Str(_) => return Err("listpack: element longer than 4 GiB".into()),
        };
        Ok(encoded + encode_backlen(encoded).1)
    }

    fn write(self, out: &mut Vec<u8>) {
        match self {
            Encoding::Int(v) => {
                let (len, tag) = int_width(v);
                let le = v.to_le_bytes();
                match tag {
                    // 7-bit and 13-bit forms fold the value into the tag byte.
                    None if len == 1 => out.push(v as u8),
                    None => {
                        out.push(0xC0 | ((v >> 8) as u8 & 0x1F));
                        out.push(v as u8);
                    }
                    Some(tag) => {
                        out.push(tag);
                        out.extend_from_slice(&le[..len - 1]);
                    }
                }
            }
            Encoding::Str(s) => {
                let len = s.len();
                if len < 64 {
                    out.push(0x80 | len as u8);
                } else if len < 4096 {
                    out.push(0xE0 | (len >> 8) as u8);
                    out.push(len as u8);
                } else {
                    // entry_len() already refused lengths beyond u32.
                    out.push(0xF0);
                    out.extend_from_slice(&(len as u32).to_le_bytes());
                }
                out.extend_from_slice(s);
            }
        }
    }
}

/// Encoded length of an integer and, for the multi-byte forms, its tag byte.
/// The ranges are `lpEncodeGetType`'s: always the narrowest form that fits.
fn int_width(v: i64) -> (usize, Option<u8>) {
    match v {
        0..=127 => (1, None),
        -4096..=4095 => (2, None),
        -32_768..=32_767 => (3, Some(0xF1)),
        -8_388_608..=8_388_607 => (4, Some(0xF2)),
        -2_147_483_648..=2_147_483_647 => (5, Some(0xF3)),
        _ => (9, Some(0xF4)),
    }
}

/// Redis's `lpStringToInt64`: the value of `s` if it is exactly what printing
/// an `i64` with `%lld` produces. Anything that would not come back
/// byte-for-byte ("01", "-0", "+1", " 1", out of range) stays a string,
/// because storing it as an integer would change the value users read back.
fn canonical_int(s: &[u8]) -> Option<i64> {
    let (negative, digits) = match s {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, s),
    };
    match digits {
        [b'0'] if !negative => return Some(0),
        [b'1'..=b'9', ..] => {}
        _ => return None,
    }
    let mut magnitude: u64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        magnitude = magnitude
            .checked_mul(10)?
            .checked_add(u64::from(d - b'0'))?;
    }
    if negative {
        0i64.checked_sub_unsigned(magnitude)
    } else {
        i64::try_from(magnitude).ok()
    }
}

#[cfg(test)]
mod tests;
