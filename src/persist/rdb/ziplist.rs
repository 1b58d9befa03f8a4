//! Ziplist decoder: the pre-7.0 compact container found in RDB values of type
//! 10 (LIST_ZIPLIST), 12 (ZSET_ZIPLIST), 13 (HASH_ZIPLIST) and in the nodes
//! of type 14 (quicklist v1). Redis 7 only reads these, and so do we: there
//! is deliberately no encoder outside the tests.
//!
//! This module owns the byte layout of one ziplist blob and nothing else. It
//! never reads a file or a socket and never knows keys, RDB opcodes, LZF, or
//! what the elements mean (pairs, scores, duplicates are the RDB reader's
//! business): the reader hands it the blob and gets elements back. Decoding
//! treats every blob as hostile: any inconsistency is an `Err` with a short
//! reason, never a panic, and nothing is allocated beyond what the blob's own
//! bytes can justify.
//!
//! Layout: `<zlbytes u32 LE> <zltail u32 LE> <zllen u16 LE> <entry>* <0xFF>`,
//! each entry being `<prevlen> <encoding> <data>`, where prevlen is the byte
//! length of the previous entry (one byte below 254, else 0xFE and a u32 LE).

use super::listpack::Element;

const HEADER_LEN: usize = 10;
const END: u8 = 0xFF;
const BIG_PREVLEN: u8 = 0xFE;
/// Header count meaning "too many to count in 16 bits, walk the entries".
const COUNT_UNKNOWN: u16 = u16::MAX;
/// Smallest possible entry: a prevlen byte and an immediate-integer byte.
const MIN_ENTRY_LEN: usize = 2;

/// Decodes a ziplist, validating it as Redis's `ziplistValidateIntegrity`
/// does in deep mode: total bytes, terminator, every entry's prevlen and
/// encoding and extent, the tail offset and the element count.
///
/// Like Redis we accept what Redis's own writer may leave behind: a 5-byte
/// prevlen holding a small length (it avoids shrinking them), integers in a
/// wider encoding than needed, and an empty ziplist (whose tail offset must
/// be the 10 that `ziplistNew` writes; Redis does not check it). Integer
/// entries come back as `Element::Int`.
pub fn decode(blob: &[u8]) -> Result<Vec<Element>, String> {
    let Some((header, rest)) = blob.split_first_chunk::<HEADER_LEN>() else {
        return Err("ziplist: shorter than its header".into());
    };
    let [b0, b1, b2, b3, t0, t1, t2, t3, n0, n1] = *header;
    let total = u32::from_le_bytes([b0, b1, b2, b3]);
    if usize::try_from(total).ok() != Some(blob.len()) {
        return Err(format!(
            "ziplist: header says {total} bytes, blob has {}",
            blob.len()
        ));
    }
    let Some((&END, body)) = rest.split_last() else {
        return Err("ziplist: missing 0xFF end marker".into());
    };
    let tail = usize::try_from(u32::from_le_bytes([t0, t1, t2, t3])).ok();
    let count = u16::from_le_bytes([n0, n1]);

    let room = body.len() / MIN_ENTRY_LEN;
    let capacity = if count == COUNT_UNKNOWN {
        room
    } else {
        room.min(usize::from(count))
    };
    let mut elements = Vec::with_capacity(capacity);
    let mut offset = 0;
    let mut prev_len = 0;
    let mut last_offset = None;
    while let Some(entry) = body.get(offset..).filter(|e| !e.is_empty()) {
        let decoded = decode_entry(entry)?;
        if decoded.prevlen != prev_len {
            return Err(format!(
                "ziplist: entry at {} says the previous one is {} bytes, it is {prev_len}",
                HEADER_LEN + offset,
                decoded.prevlen
            ));
        }
        elements.push(decoded.element);
        last_offset = Some(offset);
        prev_len = decoded.len;
        offset += decoded.len;
    }

    // An empty ziplist's tail points at the end marker, where ziplistNew puts it.
    let expected_tail = HEADER_LEN + last_offset.unwrap_or(0);
    if tail != Some(expected_tail) {
        return Err(format!(
            "ziplist: tail offset is not the last entry ({expected_tail})"
        ));
    }
    if count != COUNT_UNKNOWN && usize::from(count) != elements.len() {
        return Err(format!(
            "ziplist: header counts {count} entries, found {}",
            elements.len()
        ));
    }
    Ok(elements)
}

struct Entry {
    prevlen: usize,
    element: Element,
    /// Bytes the whole entry occupies, prevlen field included.
    len: usize,
}

/// Decodes the entry at the start of `entry` (a suffix of the entries that
/// excludes the end marker, so nothing can run into or past it).
fn decode_entry(entry: &[u8]) -> Result<Entry, String> {
    let (prevlen, at) = match entry.first() {
        Some(&END) => return Err("ziplist: end marker before the last byte".into()),
        Some(&BIG_PREVLEN) => (to_usize(little_endian(take(entry, 1, 4)?))?, 5),
        Some(&small) => (usize::from(small), 1),
        None => return Err("ziplist: entry expected".into()),
    };
    let Some(&encoding) = entry.get(at) else {
        return Err("ziplist: entry runs past the end marker".into());
    };
    let data = at + 1;
    let (len, element) = match encoding >> 6 {
        0b00 => string(entry, data, u64::from(encoding & 0x3F))?,
        0b01 => {
            let low = little_endian(take(entry, data, 1)?);
            string(entry, data + 1, (u64::from(encoding & 0x3F) << 8) | low)?
        }
        // Redis ignores the six low bits of the 32-bit string tag (they are
        // documented as unused), so we do too.
        0b10 => {
            let len = take(entry, data, 4)?
                .iter()
                .fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
            string(entry, data + 4, len)?
        }
        _ => match encoding {
            0xC0 => integer(entry, data, 2)?,
            0xD0 => integer(entry, data, 4)?,
            0xE0 => integer(entry, data, 8)?,
            0xF0 => integer(entry, data, 3)?,
            0xFE => integer(entry, data, 1)?,
            // 4-bit immediates 0..=12, stored off by one so that neither
            // 0xF0 nor 0xFF is needed.
            0xF1..=0xFD => (data, Element::Int(i64::from(encoding & 0x0F) - 1)),
            _ => return Err(format!("ziplist: invalid entry encoding 0x{encoding:02x}")),
        },
    };
    Ok(Entry {
        prevlen,
        element,
        len,
    })
}

fn string(entry: &[u8], start: usize, len: u64) -> Result<(usize, Element), String> {
    let len = to_usize(len)?;
    let bytes = take(entry, start, len)?;
    Ok((start + len, Element::Bytes(bytes.to_vec())))
}

fn integer(entry: &[u8], start: usize, width: usize) -> Result<(usize, Element), String> {
    let raw = little_endian(take(entry, start, width)?);
    // `width` is at most 8.
    let shift = 64 - 8 * width as u32;
    let value = ((raw << shift) as i64) >> shift;
    Ok((start + width, Element::Int(value)))
}

/// `len` bytes starting at `offset`, checked before anything is copied so a
/// forged length can neither read out of bounds nor size an allocation.
fn take(entry: &[u8], offset: usize, len: usize) -> Result<&[u8], String> {
    offset
        .checked_add(len)
        .and_then(|end| entry.get(offset..end))
        .ok_or_else(|| "ziplist: entry runs past the end marker".to_string())
}

fn to_usize(len: u64) -> Result<usize, String> {
    usize::try_from(len).map_err(|_| "ziplist: length does not fit in memory".to_string())
}

fn little_endian(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .rev()
        .fold(0, |acc, &b| (acc << 8) | u64::from(b))
}

#[cfg(test)]
mod tests;
