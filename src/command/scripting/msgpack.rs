//! Redis's `cmsgpack` library for scripts (lua-cmsgpack 0.4, as job queues
//! such as BullMQ call it): `pack` of any number of values, `unpack` of every
//! object in a string (`unpack_one` and `unpack_limit` for some of them),
//! with its choices — a whole number in the smallest integer form, other
//! numbers as a float32 when that is exact else a float64, strings as `str`,
//! a table with keys 1..n (or empty) an array, any other a map, tables nested
//! deeper than 16 and values of other types as nil. Pure functions: it never
//! reaches the keyspace or a command.

use super::libs::{function, keys_shape};
use mlua::{Lua, MultiValue, Table, Value};

/// Tables nested deeper than this are packed as nil (lua-cmsgpack's
/// `LUACMSGPACK_MAX_NESTING`).
const MAX_NESTING: usize = 16;
/// Arrays and maps nested deeper than this are refused by `unpack`: the
/// decoder recurses, and the input is whatever a client sent.
const MAX_UNPACK_DEPTH: usize = 1000;

pub fn cmsgpack(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "pack",
        function(lua, |lua, args| {
            if args.is_empty() {
                return Err("bad argument #0 to 'pack' (MessagePack pack needs input.)".into());
            }
            let mut out = Vec::new();
            for v in args.iter() {
                pack(v, &mut out, 0)?;
            }
            lua.create_string(&out).map_err(|e| e.to_string())
        })?,
    )?;
    t.raw_set(
        "unpack",
        function(lua, |lua, args| unpack_args(lua, &args, "unpack", 0, 0))?,
    )?;
    t.raw_set(
        "unpack_one",
        function(lua, |lua, args| {
            let offset = int_arg(&args, 1)?;
            unpack_args(lua, &args, "unpack_one", 1, offset)
        })?,
    )?;
    t.raw_set(
        "unpack_limit",
        function(lua, |lua, args| {
            let limit = int_arg(&args, 1)?;
            let offset = int_arg(&args, 2)?;
            unpack_args(lua, &args, "unpack_limit", limit, offset)
        })?,
    )?;
    Ok(t)
}

/// The whole-number argument `i` (0 when absent).
fn int_arg(args: &[Value], i: usize) -> Result<usize, String> {
    match args.get(i) {
        None | Some(Value::Nil) => Ok(0),
        Some(Value::Integer(n)) if *n >= 0 => Ok(*n as usize),
        Some(Value::Number(n)) if *n >= 0.0 => Ok(*n as usize),
        _ => Err(format!(
            "bad argument #{} (non-negative number expected)",
            i + 1
        )),
    }
}

fn pack(v: &Value, out: &mut Vec<u8>, depth: usize) -> Result<(), String> {
    match v {
        Value::Boolean(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Integer(i) => pack_int(*i, out),
        Value::Number(n) => {
            if n.fract() == 0.0 && *n >= i64::MIN as f64 && *n < i64::MAX as f64 {
                pack_int(*n as i64, out);
            } else if f64::from(*n as f32) == *n {
                out.push(0xca);
                out.extend_from_slice(&(*n as f32).to_be_bytes());
            } else {
                out.push(0xcb);
                out.extend_from_slice(&n.to_be_bytes());
            }
        }
        Value::String(s) => {
            let b = s.as_bytes();
            let n = b.len();
            if n < 32 {
                out.push(0xa0 | n as u8);
            } else if n <= 0xff {
                out.extend_from_slice(&[0xd9, n as u8]);
            } else if n <= 0xffff {
                out.push(0xda);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            } else {
                out.push(0xdb);
                out.extend_from_slice(&(n as u32).to_be_bytes());
            }
            out.extend_from_slice(&b);
        }
        Value::Table(t) if depth < MAX_NESTING => pack_table(t, out, depth + 1)?,
        _ => out.push(0xc0),
    }
    Ok(())
}

fn pack_int(i: i64, out: &mut Vec<u8>) {
    if i >= 0 {
        let u = i as u64;
        if u < 128 {
            out.push(u as u8);
        } else if u <= 0xff {
            out.extend_from_slice(&[0xcc, u as u8]);
        } else if u <= 0xffff {
            out.push(0xcd);
            out.extend_from_slice(&(u as u16).to_be_bytes());
        } else if u <= 0xffff_ffff {
            out.push(0xce);
            out.extend_from_slice(&(u as u32).to_be_bytes());
        } else {
            out.push(0xcf);
            out.extend_from_slice(&u.to_be_bytes());
        }
    } else if i >= -32 {
        out.push(i as i8 as u8);
    } else if i >= -128 {
        out.extend_from_slice(&[0xd0, i as i8 as u8]);
    } else if i >= -32768 {
        out.push(0xd1);
        out.extend_from_slice(&(i as i16).to_be_bytes());
    } else if i >= -2_147_483_648 {
        out.push(0xd2);
        out.extend_from_slice(&(i as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&i.to_be_bytes());
    }
}

/// An array when the keys are exactly 1..n (an empty table too), else a map.
fn pack_table(t: &Table, out: &mut Vec<u8>, depth: usize) -> Result<(), String> {
    let (count, max) = keys_shape(t)?;
    let header = |out: &mut Vec<u8>, n: usize, fix: u8, b16: u8, b32: u8| {
        if n < 16 {
            out.push(fix | n as u8);
        } else if n <= 0xffff {
            out.push(b16);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        } else {
            out.push(b32);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        }
    };
    if max == Some(count) {
        header(out, count, 0x90, 0xdc, 0xdd);
        for i in 1..=count {
            let v: Value = t.raw_get(i).map_err(|e| e.to_string())?;
            pack(&v, out, depth)?;
        }
        return Ok(());
    }
    header(out, count, 0x80, 0xde, 0xdf);
    for pair in t.clone().pairs::<Value, Value>() {
        let (k, v) = pair.map_err(|e| e.to_string())?;
        pack(&k, out, depth)?;
        pack(&v, out, depth)?;
    }
    Ok(())
}

/// `unpack*`: up to `limit` objects (0: all) from byte `offset` of the
/// string argument; `unpack_one` and `unpack_limit` answer the offset after
/// them first (-1 at the end), as lua-cmsgpack does.
fn unpack_args(
    lua: &Lua,
    args: &[Value],
    name: &str,
    limit: usize,
    offset: usize,
) -> Result<MultiValue, String> {
    let Some(Value::String(s)) = args.first() else {
        return Err(format!("bad argument #1 to '{name}' (string expected)"));
    };
    let bytes = s.as_bytes();
    let mut at = offset.min(bytes.len());
    let mut values = Vec::new();
    while at < bytes.len() && (limit == 0 || values.len() < limit) {
        values.push(unpack(lua, &bytes, &mut at, 0)?);
    }
    if name == "unpack" {
        return Ok(MultiValue::from_vec(values));
    }
    let next = if at >= bytes.len() { -1 } else { at as i64 };
    let mut all = vec![Value::Integer(next)];
    all.extend(values);
    Ok(MultiValue::from_vec(all))
}

fn take<'a>(b: &'a [u8], at: &mut usize, n: usize) -> Result<&'a [u8], String> {
    let s = b
        .get(*at..at.saturating_add(n))
        .ok_or("Missing bytes in input.")?;
    *at += n;
    Ok(s)
}

fn be(b: &[u8]) -> u64 {
    b.iter().fold(0, |x, &y| x << 8 | u64::from(y))
}

fn unpack(lua: &Lua, b: &[u8], at: &mut usize, depth: usize) -> Result<Value, String> {
    if depth > MAX_UNPACK_DEPTH {
        return Err("Bad data format in input: nested too deep.".into());
    }
    let e = |e: mlua::Error| e.to_string();
    let tag = take(b, at, 1)?[0];
    let string = |lua: &Lua, at: &mut usize, n: usize| -> Result<Value, String> {
        let s = take(b, at, n)?;
        lua.create_string(s).map(Value::String).map_err(e)
    };
    let array = |lua: &Lua, at: &mut usize, n: usize| -> Result<Value, String> {
        // Each element takes at least a byte: a count past the input lies.
        if n > b.len() - *at {
            return Err("Missing bytes in input.".into());
        }
        let t = lua.create_table_with_capacity(n, 0).map_err(e)?;
        for i in 1..=n {
            t.raw_set(i, unpack(lua, b, at, depth + 1)?).map_err(e)?;
        }
        Ok(Value::Table(t))
    };
    let map = |lua: &Lua, at: &mut usize, n: usize| -> Result<Value, String> {
        if n > (b.len() - *at) / 2 {
            return Err("Missing bytes in input.".into());
        }
        let t = lua.create_table_with_capacity(0, n).map_err(e)?;
        for _ in 0..n {
            let k = unpack(lua, b, at, depth + 1)?;
            let v = unpack(lua, b, at, depth + 1)?;
            if k != Value::Nil {
                t.raw_set(k, v).map_err(e)?;
            }
        }
        Ok(Value::Table(t))
    };
    let int = |v: i64| Value::Number(v as f64);
    Ok(match tag {
        0x00..=0x7f => int(i64::from(tag)),
        0x80..=0x8f => map(lua, at, usize::from(tag & 0x0f))?,
        0x90..=0x9f => array(lua, at, usize::from(tag & 0x0f))?,
        0xa0..=0xbf => string(lua, at, usize::from(tag & 0x1f))?,
        0xc0 => Value::Nil,
        0xc2 => Value::Boolean(false),
        0xc3 => Value::Boolean(true),
        0xc4 | 0xd9 => {
            let n = take(b, at, 1)?[0];
            string(lua, at, usize::from(n))?
        }
        0xc5 | 0xda => {
            let n = be(take(b, at, 2)?) as usize;
            string(lua, at, n)?
        }
        0xc6 | 0xdb => {
            let n = be(take(b, at, 4)?) as usize;
            string(lua, at, n)?
        }
        0xca => {
            let raw = be(take(b, at, 4)?) as u32;
            Value::Number(f64::from(f32::from_bits(raw)))
        }
        0xcb => Value::Number(f64::from_bits(be(take(b, at, 8)?))),
        0xcc => int(be(take(b, at, 1)?) as i64),
        0xcd => int(be(take(b, at, 2)?) as i64),
        0xce => int(be(take(b, at, 4)?) as i64),
        0xcf => Value::Number(be(take(b, at, 8)?) as f64),
        0xd0 => int(i64::from(take(b, at, 1)?[0] as i8)),
        0xd1 => int(i64::from(be(take(b, at, 2)?) as u16 as i16)),
        0xd2 => int(i64::from(be(take(b, at, 4)?) as u32 as i32)),
        0xd3 => int(be(take(b, at, 8)?) as i64),
        // array16/32, map16/32: the count's width is the tag's low bit.
        0xdc..=0xdf => {
            let n = be(take(b, at, if tag & 1 == 0 { 2 } else { 4 })?) as usize;
            if tag < 0xde {
                array(lua, at, n)?
            } else {
                map(lua, at, n)?
            }
        }
        0xe0..=0xff => int(i64::from(tag as i8)),
        _ => return Err("Bad data format in input.".into()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whatever bytes a client sends, `unpack` answers values or an error:
    /// it never panics, never recurses without bound, never allocates from
    /// a count the input does not back.
    #[test]
    fn unpack_of_any_bytes_answers_or_errs() {
        let lua = Lua::new();
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for round in 0..20_000 {
            let len = (next() % 64) as usize;
            let mut bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            if round % 4 == 0 {
                // Containers and big counts, the bytes that stress a decoder.
                for b in bytes.iter_mut().step_by(3) {
                    *b = [0x91, 0xdc, 0xdd, 0xde, 0xdf, 0xdb, 0x81][(next() % 7) as usize];
                }
            }
            let s = Value::String(lua.create_string(&bytes).expect("string"));
            let _ = unpack_args(&lua, &[s], "unpack", 0, 0);
        }
    }

    #[test]
    fn what_pack_writes_unpack_reads_back() {
        let lua = Lua::new();
        let v: Value = lua
            .load("return {1, -7, 300, -70000, 2^40, 0.5, 'x', string.rep('y', 70000), true, {a = {b = 'c'}}}")
            .eval()
            .expect("value");
        let mut out = Vec::new();
        pack(&v, &mut out, 0).expect("pack");
        let s = Value::String(lua.create_string(&out).expect("string"));
        let back = unpack_args(&lua, &[s], "unpack", 0, 0).expect("unpack");
        let mut again = Vec::new();
        pack(back.iter().next().expect("one value"), &mut again, 0).expect("pack");
        assert_eq!(again, out);
    }
}
