//! DUMP and RESTORE payloads: one value in RDB encoding, then the RDB version
//! (2 bytes, little-endian) and Redis's CRC64 of everything before it (8
//! bytes, little-endian), as `dumpCommand` writes them. Strings in every
//! encoding Redis uses (raw, int8/16/32, LZF), hashes and sets in those of
//! [`super::object`] (and the log's records of them); the version written is
//! [`super::RDB_VERSION`] (10, redis-server 7.0's), so a 7.0 server accepts
//! what stairkv dumps. A payload of a type stairkv does not hold, a newer
//! version than the reader knows, a wrong checksum, or trailing bytes after
//! the value is refused; nothing here touches a key.

use super::read::Reader;
use super::write::{encode_string_head, Payload};
use super::{crc64, MAX_READ_VERSION, RDB_VERSION};
use crate::storage::object::{ObjRef, Object};
use crate::storage::ops::Stored;

/// The RDB type of a string value.
const TYPE_STRING: u8 = 0;

/// Why a payload cannot be restored (the command layer words the errors).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BadPayload {
    /// Too short, a version this reader does not know, or a wrong checksum:
    /// Redis's "DUMP payload version or checksum are wrong".
    VersionOrChecksum,
    /// The body does not decode to one string: Redis's "Bad data format".
    Format,
}

/// DUMP of a string value, encoded as `rdbSaveRawString` does it.
pub fn dump_string(value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len() + 16);
    out.push(TYPE_STRING);
    let (mut compressor, mut packed) = (None, Vec::new());
    match encode_string_head(&mut out, value, Some((&mut compressor, &mut packed))) {
        Payload::None => {}
        Payload::Raw => out.extend_from_slice(value),
        Payload::Lzf => out.extend_from_slice(&packed),
    }
    seal(out)
}

/// DUMP of any value: a string as [`dump_string`], a hash or set in the
/// encodings of [`super::object`].
pub fn dump_value(value: &Stored) -> Vec<u8> {
    let obj = match value {
        Stored::Str(s) => return dump_string(s),
        Stored::Obj(o) => o,
    };
    let mut out = vec![0u8];
    out[0] = super::object::encode(&mut out, Object::as_ref(obj), true);
    seal(out)
}

/// A payload's footer after its type and value: the RDB version written,
/// then the CRC64 of everything before it.
fn seal(mut out: Vec<u8>) -> Vec<u8> {
    out.extend_from_slice(&(RDB_VERSION as u16).to_le_bytes());
    let crc = crc64(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// The value a RESTORE payload holds, of any type stairkv keeps.
pub fn restore_value(payload: &[u8]) -> Result<Stored, BadPayload> {
    let (body, version) = checked_body(payload)?;
    let (&kind, value) = body.split_first().ok_or(BadPayload::Format)?;
    let mut reader = Reader::value_only(value, version);
    let stored = if kind == TYPE_STRING {
        Stored::Str(
            reader
                .value_string()
                .map_err(|_| BadPayload::Format)?
                .into(),
        )
    } else if super::object::is_object_type(kind) {
        let obj = reader.value_object(kind).map_err(|_| BadPayload::Format)?;
        if obj.as_ref().is_empty() {
            return Err(BadPayload::Format);
        }
        Stored::Obj(Box::new(obj))
    } else {
        return Err(BadPayload::Format);
    };
    // Nothing may follow the value.
    if reader.offset() != value.len() as u64 {
        return Err(BadPayload::Format);
    }
    Ok(stored)
}

/// The string a RESTORE payload holds.
pub fn restore_string(payload: &[u8]) -> Result<Vec<u8>, BadPayload> {
    match restore_value(payload)? {
        Stored::Str(s) => Ok(s.to_vec()),
        Stored::Obj(_) => Err(BadPayload::Format),
    }
}

/// FUNCTION DUMP: each library's code after the `FUNCTION2` opcode, as
/// `rdbFunctionSave` writes it, then the version and checksum as DUMP's.
pub fn dump_functions<'a>(codes: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    let (mut compressor, mut packed) = (None, Vec::new());
    for code in codes {
        out.push(super::op::FUNCTION2);
        match encode_string_head(&mut out, code, Some((&mut compressor, &mut packed))) {
            Payload::None => {}
            Payload::Raw => out.extend_from_slice(code),
            Payload::Lzf => out.extend_from_slice(&packed),
        }
    }
    seal(out)
}

/// What a FUNCTION RESTORE payload holds: the libraries' code, in order.
/// `NotFunction`: a well-formed payload of something else (a key's DUMP).
pub fn restore_functions(payload: &[u8]) -> Result<Vec<Vec<u8>>, RestoreFunctions> {
    let (body, version) = checked_body(payload).map_err(|_| RestoreFunctions::VersionOrChecksum)?;
    let mut codes = Vec::new();
    let mut at = 0;
    while at < body.len() {
        if body[at] != super::op::FUNCTION2 {
            return Err(RestoreFunctions::NotFunction);
        }
        let mut reader = Reader::value_only(&body[at + 1..], version);
        codes.push(
            reader
                .value_string()
                .map_err(|_| RestoreFunctions::Format)?,
        );
        at += 1 + reader.offset() as usize;
    }
    Ok(codes)
}

/// Why FUNCTION RESTORE refuses a payload (the command layer words it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RestoreFunctions {
    VersionOrChecksum,
    NotFunction,
    Format,
}

/// A collection as the log keeps it: its RDB type byte and body (no
/// version, no checksum: the log's record has its own).
pub fn encode_object(obj: ObjRef<'_>) -> Vec<u8> {
    let mut body = vec![0u8];
    body[0] = super::object::encode(&mut body, obj, false);
    body
}

/// What [`encode_object`] made, back.
pub fn decode_object(payload: &[u8]) -> Result<Object, String> {
    let (&kind, value) = payload.split_first().ok_or("an empty payload")?;
    if !super::object::is_object_type(kind) {
        return Err(format!("RDB type {kind} is not a hash or set"));
    }
    let mut reader = Reader::value_only(value, RDB_VERSION);
    let obj = reader.value_object(kind).map_err(|e| e.to_string())?;
    if reader.offset() != value.len() as u64 {
        return Err("bytes after the value".into());
    }
    Ok(obj)
}

/// The body (type and value) of a payload whose length, version and
/// checksum are good, and that version.
fn checked_body(payload: &[u8]) -> Result<(&[u8], u32), BadPayload> {
    if payload.len() < 10 {
        return Err(BadPayload::VersionOrChecksum);
    }
    let (body, footer) = payload.split_at(payload.len() - 10);
    let version = u32::from(u16::from_le_bytes([footer[0], footer[1]]));
    let crc = u64::from_le_bytes(footer[2..].try_into().map_err(|_| BadPayload::Format)?);
    if version > MAX_READ_VERSION || crc64(&payload[..payload.len() - 8]) != crc {
        return Err(BadPayload::VersionOrChecksum);
    }
    Ok((body, version))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_layout_is_redis_s() {
        // Type, length, bytes, version 10, then the CRC64 of all that
        // (tests/dump.rs compares with redis-server's own DUMP).
        let p = dump_string(b"bar");
        assert_eq!(&p[..5], b"\x00\x03bar");
        assert_eq!(&p[5..7], b"\x0a\x00");
        assert_eq!(p[7..], crc64(&p[..7]).to_le_bytes());
        assert_eq!(restore_string(&p), Ok(b"bar".to_vec()));
        assert_eq!(&dump_string(b"42")[..3], b"\x00\xc0\x2a");
    }

    #[test]
    fn every_encoding_round_trips() {
        let long = vec![b'a'; 1000];
        let noise: Vec<u8> = (0..300u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 24) as u8)
            .collect();
        for v in [
            &b""[..],
            b"0",
            b"-1",
            b"127",
            b"-129",
            b"40000",
            b"2147483647",
            b"2147483648",
            b"007",
            b"-0",
            &long,
            &noise,
        ] {
            let p = dump_string(v);
            assert_eq!(restore_string(&p).as_deref(), Ok(v), "{v:?}");
        }
        assert!(dump_string(&long).len() < 100, "compressed");
    }

    #[test]
    fn bad_payloads_are_refused() {
        let mut p = dump_string(b"hello");
        assert_eq!(restore_string(&p[..5]), Err(BadPayload::VersionOrChecksum));
        let last = p.len() - 1;
        p[last] ^= 1;
        assert_eq!(restore_string(&p), Err(BadPayload::VersionOrChecksum));
        // A newer version than the reader knows.
        let mut body = vec![TYPE_STRING, 1, b'x'];
        body.extend_from_slice(&99u16.to_le_bytes());
        let crc = crc64(&body);
        body.extend_from_slice(&crc.to_le_bytes());
        assert_eq!(restore_string(&body), Err(BadPayload::VersionOrChecksum));
        // Another type, a cut value, bytes after the value: bad format.
        for bad in [&[2u8, 1, b'x'][..], &[0, 5, b'x'], &[0, 1, b'x', b'y']] {
            let mut b = bad.to_vec();
            b.extend_from_slice(&10u16.to_le_bytes());
            let crc = crc64(&b);
            b.extend_from_slice(&crc.to_le_bytes());
            assert_eq!(restore_string(&b), Err(BadPayload::Format), "{bad:?}");
        }
    }
}
