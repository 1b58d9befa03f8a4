//! [`Frame`]: a reply value before encoding. Command handlers build frames;
//! [`Frame::encode`] is the one place a frame meets a protocol version.

use crate::protocol::reply::{self, Proto};
use crate::storage::ops::OpResult;
use bytes::{Bytes, BytesMut};
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
    Bool(bool),
    Verbatim(String),
    /// An out-of-band message: a RESP3 push, a plain array in RESP2 (pub/sub).
    Push(Vec<Frame>),
    /// Several replies to one command, written back to back (SUBSCRIBE a b c).
    Multi(Vec<Frame>),
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

    pub fn encode(&self, out: &mut BytesMut, proto: Proto) {
        match self {
            Frame::Ok => out.extend_from_slice(b"+OK\r\n"),
            Frame::Simple(s) => reply::simple(out, s),
            Frame::Error(e) => reply::error(out, e),
            Frame::Int(n) => reply::int(out, *n),
            Frame::Bulk(b) => reply::bulk(out, b),
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
            Frame::Double(f) => reply::double(out, *f, proto),
            Frame::Bool(b) => reply::boolean(out, *b, proto),
            Frame::Verbatim(s) => reply::verbatim(out, "txt", s.as_bytes(), proto),
        }
    }
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
            OpResult::Scan { next, keys } => Frame::Array(vec![
                Frame::bulk(next.to_string()),
                Frame::Array(keys.into_iter().map(Frame::Bulk).collect()),
            ]),
            OpResult::Taken(_) | OpResult::Stats(_) => {
                Frame::err("ERR internal: unexpected result shape")
            }
        }
    }
}
