//! Reply encoding for RESP2 and RESP3 into a growable buffer.
//!
//! Every reply the server sends goes through these functions so the two
//! protocol versions differ in exactly one place. Nothing here allocates except
//! the output buffer growing.

use bytes::BytesMut;

/// The protocol version a connection negotiated with HELLO (2 unless HELLO 3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Proto {
    #[default]
    Resp2,
    Resp3,
}

/// `+OK\r\n`-style status. `s` must not contain CR or LF.
pub fn simple(out: &mut BytesMut, s: &str) {
    let _ = (out, s);
    todo!()
}
/// `-{msg}\r\n`. `msg` includes its code word, e.g. `ERR syntax error`. CR/LF in msg are replaced by spaces.
pub fn error(out: &mut BytesMut, msg: &str) {
    let _ = (out, msg);
    todo!()
}
/// `:{n}\r\n`
pub fn int(out: &mut BytesMut, n: i64) {
    let _ = (out, n);
    todo!()
}
/// `${len}\r\n{data}\r\n`
pub fn bulk(out: &mut BytesMut, data: &[u8]) {
    let _ = (out, data);
    todo!()
}
/// Null: `$-1\r\n` in RESP2, `_\r\n` in RESP3.
pub fn null(out: &mut BytesMut, proto: Proto) {
    let _ = (out, proto);
    todo!()
}
/// Null array: `*-1\r\n` in RESP2, `_\r\n` in RESP3.
pub fn null_array(out: &mut BytesMut, proto: Proto) {
    let _ = (out, proto);
    todo!()
}
/// `*{n}\r\n`
pub fn array_header(out: &mut BytesMut, n: usize) {
    let _ = (out, n);
    todo!()
}
/// RESP3 `%{n}\r\n`; RESP2 `*{2n}\r\n` (a flat key/value array).
pub fn map_header(out: &mut BytesMut, n: usize, proto: Proto) {
    let _ = (out, n, proto);
    todo!()
}
/// RESP3 `~{n}\r\n`; RESP2 `*{n}\r\n`.
pub fn set_header(out: &mut BytesMut, n: usize, proto: Proto) {
    let _ = (out, n, proto);
    todo!()
}
/// RESP3 `>{n}\r\n`; RESP2 `*{n}\r\n`.
pub fn push_header(out: &mut BytesMut, n: usize, proto: Proto) {
    let _ = (out, n, proto);
    todo!()
}
/// RESP3 `,{f}\r\n` (inf/-inf/nan spelled as Redis does); RESP2 a bulk string of
/// the shortest decimal that round-trips (Redis's `%.17g` then trimmed form:
/// `3.5`, `10`, `1.0000000000000001e+20` → use the same text INCRBYFLOAT returns).
pub fn double(out: &mut BytesMut, f: f64, proto: Proto) {
    let _ = (out, f, proto);
    todo!()
}
/// RESP3 `#t\r\n`/`#f\r\n`; RESP2 `:1`/`:0`.
pub fn boolean(out: &mut BytesMut, b: bool, proto: Proto) {
    let _ = (out, b, proto);
    todo!()
}
/// RESP3 verbatim string `={len+4}\r\n{fmt}:{data}\r\n` (fmt is 3 bytes, e.g. "txt");
/// RESP2 a bulk string of `data`.
pub fn verbatim(out: &mut BytesMut, fmt: &str, data: &[u8], proto: Proto) {
    let _ = (out, fmt, data, proto);
    todo!()
}

/// Format a float the way Redis formats INCRBYFLOAT results and RESP2 doubles:
/// up to 17 significant digits, no trailing zeros, no exponent for values that
/// Redis prints plainly (Redis uses `%.17Lf` then strips trailing zeros, so
/// `1e20` prints as `100000000000000000000`). `inf`/`-inf` as Redis prints them.
pub fn format_double(f: f64) -> String {
    let _ = f;
    todo!()
}
