//! [`Frame`]: a reply value before encoding. Command handlers build frames;
//! [`Frame::write`] is the one place a frame meets a protocol: RESP2, RESP3
//! ([`Frame::encode`]) or the text door's lines ([`Frame::encode_text`]).

use crate::core::clients::Door;
use crate::protocol::out::Out;
use crate::protocol::reply::{self, Proto};
use crate::storage::ops::OpResult;
use bytes::Bytes;
use std::borrow::Cow;

#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    Ok,
    Simple(Cow<'static, str>),
    Error(Cow<'static, str>),
    Int(i64),
    Bulk(Bytes),
    Null,
    NullArray,
    Array(Vec<Frame>),
    Map(Vec<(Frame, Frame)>),
    Set(Vec<Frame>),
    Double(f64),
    /// A sorted set's score: `%.17g`, a bulk string in RESP2, a double in
    /// RESP3 (Redis's `addReplyDouble`).
    Score(f64),
    /// Pairs as Redis 7 replies with a sorted set's members and scores:
    /// one flat array in RESP2, an array of two-element arrays in RESP3.
    Pairs(Vec<(Frame, Frame)>),
    Bool(bool),
    Verbatim(String),
    /// An out-of-band message: a RESP3 push, a plain array in RESP2 (pub/sub).
    Push(Vec<Frame>),
    /// Several replies to one command, written back to back (SUBSCRIBE a b c).
    Multi(Vec<Frame>),
    /// A collection's whole reply (SMEMBERS, HGETALL, ...) already encoded
    /// by its core, in pages: `len` elements (pairs for a map) under
    /// `shape`'s header, the chunks written as they are.
    Encoded {
        shape: Shape,
        len: usize,
        chunks: Vec<Bytes>,
    },
}

/// The header an [`Frame::Encoded`] reply goes under.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    Array,
    Set,
    Map,
}

impl Frame {
    pub fn err(msg: impl Into<Cow<'static, str>>) -> Frame {
        Frame::Error(msg.into())
    }

    pub fn bulk(s: impl AsRef<[u8]>) -> Frame {
        Frame::Bulk(Bytes::copy_from_slice(s.as_ref()))
    }

    pub fn simple(s: &'static str) -> Frame {
        Frame::Simple(Cow::Borrowed(s))
    }

    /// Write this reply in the protocol of the connection's door.
    pub fn write(&self, out: &mut Out, proto: Proto, door: Door) {
        match door {
            // The HTTP door keeps frames whole (`ClientState::answer`); were
            // one written, RESP is what it would read.
            Door::Resp | Door::Http => self.encode(out, proto),
            Door::Text => self.encode_text(out),
        }
    }

    /// The text door's answer, one line: `OK`, the value, `NOT_FOUND` or
    /// `ERROR <reason>`. A value holding CR or LF cannot be told apart from
    /// the next line, so it is refused rather than sent (use RESP for it).
    pub fn encode_text(&self, out: &mut Out) {
        match self {
            Frame::Ok => out.extend_from_slice(b"OK\n"),
            Frame::Bulk(v) if v.contains(&b'\n') || v.contains(&b'\r') => {
                out.extend_from_slice(
                    b"ERROR value not representable in the text protocol (use RESP)\n",
                );
            }
            Frame::Bulk(v) => {
                out.put_bytes(v);
                out.extend_from_slice(b"\n");
            }
            Frame::Null | Frame::NullArray | Frame::Int(0) => out.extend_from_slice(b"NOT_FOUND\n"),
            Frame::Score(f) => {
                let mut buf = [0u8; 32];
                out.extend_from_slice(crate::protocol::ascii::format_score(*f, &mut buf));
                out.extend_from_slice(b"\n");
            }
            Frame::Int(_) => out.extend_from_slice(b"OK\n"),
            Frame::Simple(s) => text_line(out, s.as_bytes()),
            Frame::Error(e) => {
                let reason = if e.starts_with("NOAUTH") {
                    "authentication required"
                } else if e.starts_with("WRONGPASS") {
                    "invalid password"
                } else {
                    e.strip_prefix("ERR ").unwrap_or(e)
                };
                out.extend_from_slice(b"ERROR ");
                text_line(out, reason.as_bytes());
            }
            Frame::Multi(frames) => frames.iter().for_each(|f| f.encode_text(out)),
            _ => out.extend_from_slice(
                b"ERROR reply not representable in the text protocol (use RESP)\n",
            ),
        }
    }

    pub fn encode(&self, out: &mut Out, proto: Proto) {
        match self {
            Frame::Ok => out.extend_from_slice(b"+OK\r\n"),
            Frame::Simple(s) => reply::simple(out, s),
            Frame::Error(e) => reply::error(out, e),
            Frame::Int(n) => reply::int(out, *n),
            Frame::Bulk(b) => out.bulk(b),
            Frame::Null => reply::null(out, proto),
            Frame::NullArray => reply::null_array(out, proto),
            Frame::Array(items) => {
                reply::array_header(out, items.len());
                for f in items {
                    f.encode(out, proto);
                }
            }
            Frame::Push(items) => {
                reply::push_header(out, items.len(), proto);
                for f in items {
                    f.encode(out, proto);
                }
            }
            Frame::Multi(frames) => {
                for f in frames {
                    f.encode(out, proto);
                }
            }
            Frame::Set(items) => {
                reply::set_header(out, items.len(), proto);
                for f in items {
                    f.encode(out, proto);
                }
            }
            Frame::Map(pairs) => {
                reply::map_header(out, pairs.len(), proto);
                for (k, v) in pairs {
                    k.encode(out, proto);
                    v.encode(out, proto);
                }
            }
            Frame::Encoded { shape, len, chunks } => {
                match shape {
                    Shape::Array => reply::array_header(out, *len),
                    Shape::Set => reply::set_header(out, *len, proto),
                    Shape::Map => reply::map_header(out, *len, proto),
                }
                chunks.iter().for_each(|c| out.put_bytes(c));
            }
            Frame::Double(f) => reply::double(out, *f, proto),
            Frame::Score(f) => reply::score(out, *f, proto),
            Frame::Pairs(pairs) => {
                match proto {
                    Proto::Resp2 => reply::array_header(out, pairs.len() * 2),
                    Proto::Resp3 => reply::array_header(out, pairs.len()),
                }
                for (a, b) in pairs {
                    if proto == Proto::Resp3 {
                        reply::array_header(out, 2);
                    }
                    a.encode(out, proto);
                    b.encode(out, proto);
                }
            }
            Frame::Bool(b) => reply::boolean(out, *b, proto),
            Frame::Verbatim(s) => reply::verbatim(out, "txt", s.as_bytes(), proto),
        }
    }
}

/// `text` and a newline, with any CR or LF in it made a space.
fn text_line(out: &mut Out, text: &[u8]) {
    out.extend(
        text.iter()
            .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
    );
    out.extend_from_slice(b"\n");
}

impl From<OpResult> for Frame {
    /// The direct reading of a single op's result; commands with other shapes map results themselves.
    fn from(r: OpResult) -> Frame {
        match r {
            OpResult::Ok => Frame::Ok,
            OpResult::Nil => Frame::Null,
            OpResult::Int(n) => Frame::Int(n),
            OpResult::Bulk(b) => Frame::Bulk(b),
            OpResult::Status(s) => Frame::Simple(Cow::Borrowed(s)),
            OpResult::Err(e) => Frame::Error(Cow::Owned(e.to_string())),
            OpResult::Keys(ks) => Frame::Array(ks.into_iter().map(Frame::Bulk).collect()),
            OpResult::Counted { result, .. } => Frame::from(*result),
            OpResult::Scan { next, keys, .. } => Frame::Array(vec![
                Frame::bulk(next.to_string()),
                Frame::Array(keys.into_iter().map(Frame::Bulk).collect()),
            ]),
            OpResult::Bulks(v) => Frame::Array(
                v.into_iter()
                    .map(|b| b.map_or(Frame::Null, Frame::Bulk))
                    .collect(),
            ),
            OpResult::Pairs(v) => Frame::Map(
                v.into_iter()
                    .map(|(k, v)| (Frame::Bulk(k), Frame::Bulk(v)))
                    .collect(),
            ),
            OpResult::Members(v) => Frame::Set(v.into_iter().map(Frame::Bulk).collect()),
            OpResult::Page { count, chunk, .. } => Frame::Encoded {
                shape: Shape::Array,
                len: count,
                chunks: vec![chunk],
            },
            OpResult::Ints(v) => Frame::Array(v.into_iter().map(Frame::Int).collect()),
            OpResult::Scored(v) => Frame::Pairs(
                v.into_iter()
                    .map(|(m, s)| (Frame::Bulk(m), Frame::Score(s)))
                    .collect(),
            ),
            OpResult::Scores(v) => Frame::Array(
                v.into_iter()
                    .map(|s| s.map_or(Frame::Null, Frame::Score))
                    .collect(),
            ),
            OpResult::Rank(r, s) => Frame::Array(vec![Frame::Int(r), Frame::Score(s)]),
            OpResult::Zadd { added, .. } => Frame::Int(added),
            OpResult::Fields(v) => Frame::Array(
                v.into_iter()
                    .map(|n| n.map_or(Frame::Null, Frame::Int))
                    .collect(),
            ),
            OpResult::Taken(_) | OpResult::Stats(_) => {
                Frame::err("ERR internal: unexpected result shape")
            }
        }
    }
}
