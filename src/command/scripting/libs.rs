//! The libraries Redis's Lua has beside the standard ones, as scripts written
//! for Redis call them: `cjson` (lua-cjson 2.1's `encode`, `decode` and
//! `null`, with its rules: numbers as `%.14g`, `/` escaped, an empty table
//! an object, a table with keys 1..n an array, excessively sparse arrays and
//! NaN refused, 1,000 levels at most; decoding through serde_json, 127
//! levels at most and other error texts) and `bit` (LuaBitOp: 32-bit signed
//! results); `cmsgpack` is in [`super::msgpack`]. They are pure functions
//! of their arguments: they never reach the keyspace or a command. `struct`
//! is [`super::lua_struct`].

use mlua::{Function, LightUserData, Lua, Table, Value, Variadic};

/// How deep `cjson.encode` nests (lua-cjson's default).
const MAX_DEPTH: usize = 1000;
/// How deep `cjson.decode` nests: serde_json's own bound, which keeps the
/// parser's recursion within a core's stack (lua-cjson allows 1,000).
const DECODE_DEPTH: usize = 127;

/// Make the `cjson` and `bit` tables.
pub fn install(lua: &Lua, globals: &Table) -> mlua::Result<()> {
    globals.raw_set("cjson", cjson(lua)?)?;
    globals.raw_set("bit", bit(lua)?)?;
    Ok(())
}

/// A library function of its arguments that answers a value or an error
/// text, raised as the C libraries' `luaL_error` raises theirs: with the
/// calling script's place in front (`user_script:1: ...`).
pub(super) fn function<R: mlua::IntoLuaMulti>(
    lua: &Lua,
    f: impl Fn(&Lua, Variadic<Value>) -> Result<R, String> + 'static,
) -> mlua::Result<Function> {
    lua.create_function(move |lua, args: Variadic<Value>| {
        f(lua, args).map_err(|e| {
            let place = lua.inspect_stack(1).and_then(|d| {
                let line = d.curr_line();
                let src = d.source().short_src.map(|s| s.into_owned())?;
                (line > 0).then(|| format!("{src}:{line}: "))
            });
            mlua::Error::runtime(format!("{}{e}", place.unwrap_or_default()))
        })
    })
}

fn null() -> Value {
    Value::LightUserData(LightUserData(std::ptr::null_mut()))
}

fn cjson(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "encode",
        function(lua, |lua, args| {
            if args.len() != 1 {
                return Err("bad argument #1 to 'encode' (expected 1 argument)".into());
            }
            let mut out = Vec::new();
            encode(&args[0], &mut out, 1)?;
            lua.create_string(&out)
                .map(Value::String)
                .map_err(|e| e.to_string())
        })?,
    )?;
    t.raw_set(
        "decode",
        function(lua, |lua, args| {
            if args.len() != 1 {
                return Err("bad argument #1 to 'decode' (expected 1 argument)".into());
            }
            let s = match &args[0] {
                Value::String(s) => s.as_bytes().to_vec(),
                Value::Integer(n) => n.to_string().into_bytes(),
                Value::Number(n) => format_g14(*n).into_bytes(),
                other => {
                    return Err(format!(
                        "bad argument #1 to 'decode' (string expected, got {})",
                        other.type_name()
                    ))
                }
            };
            let json: serde_json::Value = serde_json::from_slice(&s).map_err(|e| {
                if e.to_string().starts_with("recursion limit exceeded") {
                    format!(
                        "Found too many nested data structures ({}) at character {}",
                        DECODE_DEPTH + 1,
                        e.column()
                    )
                } else {
                    format!("Expected value but found invalid token ({e})")
                }
            })?;
            to_lua(lua, &json)
        })?,
    )?;
    t.raw_set("null", null())?;
    // Settings scripts may call; the values are lua-cjson's defaults.
    for (name, value) in [
        ("encode_keep_buffer", Value::Boolean(true)),
        ("encode_max_depth", Value::Integer(MAX_DEPTH as i64)),
        ("decode_max_depth", Value::Integer(DECODE_DEPTH as i64)),
        ("encode_number_precision", Value::Integer(14)),
    ] {
        t.raw_set(
            name,
            lua.create_function(move |_, _: Variadic<Value>| Ok(value.clone()))?,
        )?;
    }
    Ok(t)
}

fn encode(v: &Value, out: &mut Vec<u8>, depth: usize) -> Result<(), String> {
    match v {
        Value::Nil => out.extend_from_slice(b"null"),
        Value::LightUserData(u) if u.0.is_null() => out.extend_from_slice(b"null"),
        Value::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Integer(i) => out.extend_from_slice(format_g14(*i as f64).as_bytes()),
        Value::Number(n) => {
            if !n.is_finite() {
                return Err("Cannot serialise number: must not be NaN or Inf".into());
            }
            out.extend_from_slice(format_g14(*n).as_bytes());
        }
        Value::String(s) => string(&s.as_bytes(), out),
        Value::Table(t) => {
            if depth > MAX_DEPTH {
                return Err(format!("Cannot serialise, excessive nesting ({depth})"));
            }
            table(t, out, depth)?;
        }
        other => {
            return Err(format!(
                "Cannot serialise {}: type not supported",
                other.type_name()
            ))
        }
    }
    Ok(())
}

/// An array when every key is a positive integer (holes are `null`), unless
/// it is excessively sparse (lua-cjson's defaults: more than 10 slots and
/// over half of them holes); else an object with string or number keys.
fn table(t: &Table, out: &mut Vec<u8>, depth: usize) -> Result<(), String> {
    let (items, max) = keys_shape(t)?;
    if let Some(max) = max.filter(|_| items > 0) {
        if max > 10 && max > items * 2 {
            return Err("Cannot serialise table: excessively sparse array".into());
        }
        out.push(b'[');
        for i in 1..=max {
            if i > 1 {
                out.push(b',');
            }
            let v: Value = t.raw_get(i).map_err(|e| e.to_string())?;
            encode(&v, out, depth + 1)?;
        }
        out.push(b']');
        return Ok(());
    }
    out.push(b'{');
    let mut first = true;
    for pair in t.clone().pairs::<Value, Value>() {
        let (k, v) = pair.map_err(|e| e.to_string())?;
        if !first {
            out.push(b',');
        }
        first = false;
        match &k {
            Value::String(s) => string(&s.as_bytes(), out),
            Value::Integer(i) => string(format_g14(*i as f64).as_bytes(), out),
            Value::Number(n) => string(format_g14(*n).as_bytes(), out),
            other => {
                return Err(format!(
                    "Cannot serialise {}: table key must be a number or string",
                    other.type_name()
                ))
            }
        }
        out.push(b':');
        encode(&v, out, depth + 1)?;
    }
    out.push(b'}');
    Ok(())
}

/// How many keys `t` has and, when every one is a positive whole number,
/// the largest: what both `cjson` and `cmsgpack` decide "array" from.
pub(super) fn keys_shape(t: &Table) -> Result<(usize, Option<usize>), String> {
    let mut items = 0usize;
    let mut max = Some(0usize);
    for pair in t.clone().pairs::<Value, Value>() {
        let (k, _) = pair.map_err(|e| e.to_string())?;
        items += 1;
        max = max.zip(index_of(&k)).map(|(m, i)| m.max(i));
    }
    Ok((items, max))
}

/// The array index a key stands for: a positive whole number.
fn index_of(k: &Value) -> Option<usize> {
    match *k {
        Value::Integer(i) if i >= 1 => usize::try_from(i).ok(),
        Value::Number(n) if n >= 1.0 && n.fract() == 0.0 && n < 9.0e15 => Some(n as usize),
        _ => None,
    }
}

/// A JSON string as lua-cjson writes it: `"`, `\`, `/` and control
/// characters escaped, every other byte as it is.
fn string(s: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for &c in s {
        match c {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'/' => out.extend_from_slice(b"\\/"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            c if c < 0x20 || c == 0x7f => {
                out.extend_from_slice(format!("\\u{c:04x}").as_bytes());
            }
            c => out.push(c),
        }
    }
    out.push(b'"');
}

/// C's `%.14g`, lua-cjson's number format.
pub(super) fn format_g14(f: f64) -> String {
    let mut buf = [0u8; 32];
    String::from_utf8_lossy(crate::protocol::ascii::format_g(f, 14, &mut buf)).into_owned()
}

/// A decoded document as Lua values; its depth is serde_json's bound
/// ([`DECODE_DEPTH`]), so the recursion is too.
fn to_lua(lua: &Lua, v: &serde_json::Value) -> Result<Value, String> {
    let e = |e: mlua::Error| e.to_string();
    Ok(match v {
        serde_json::Value::Null => null(),
        serde_json::Value::Bool(b) => Value::Boolean(*b),
        serde_json::Value::Number(n) => Value::Number(n.as_f64().unwrap_or(f64::NAN)),
        serde_json::Value::String(s) => Value::String(lua.create_string(s).map_err(e)?),
        serde_json::Value::Array(a) => {
            let t = lua.create_table_with_capacity(a.len(), 0).map_err(e)?;
            for (i, x) in a.iter().enumerate() {
                t.raw_set(i + 1, to_lua(lua, x)?).map_err(e)?;
            }
            Value::Table(t)
        }
        serde_json::Value::Object(o) => {
            let t = lua.create_table_with_capacity(0, o.len()).map_err(e)?;
            for (k, x) in o {
                t.raw_set(k.as_str(), to_lua(lua, x)?).map_err(e)?;
            }
            Value::Table(t)
        }
    })
}

/// LuaBitOp: every argument taken modulo 2^32, every result a signed 32-bit
/// number.
fn bit(lua: &Lua) -> mlua::Result<Table> {
    type Op = fn(&[i32]) -> i32;
    let ops: [(&'static str, usize, Op); 11] = [
        ("tobit", 1, |a| a[0]),
        ("bnot", 1, |a| !a[0]),
        ("band", 1, |a| a.iter().fold(-1, |x, y| x & y)),
        ("bor", 1, |a| a.iter().fold(0, |x, y| x | y)),
        ("bxor", 1, |a| a.iter().fold(0, |x, y| x ^ y)),
        ("lshift", 2, |a| ((a[0] as u32) << (a[1] & 31)) as i32),
        ("rshift", 2, |a| ((a[0] as u32) >> (a[1] & 31)) as i32),
        ("arshift", 2, |a| a[0] >> (a[1] & 31)),
        ("rol", 2, |a| {
            (a[0] as u32).rotate_left(a[1] as u32 & 31) as i32
        }),
        ("ror", 2, |a| {
            (a[0] as u32).rotate_right(a[1] as u32 & 31) as i32
        }),
        ("bswap", 1, |a| a[0].swap_bytes()),
    ];
    let t = lua.create_table()?;
    for (name, at_least, op) in ops {
        t.raw_set(
            name,
            function(lua, move |_, args| {
                Ok(Value::Integer(i64::from(op(&bits(name, &args, at_least)?))))
            })?,
        )?;
    }
    t.raw_set(
        "tohex",
        function(lua, |lua, args| {
            let n = bits("tohex", &args, 1)?;
            let digits = n.get(1).copied().unwrap_or(8);
            let count = (digits.unsigned_abs() as usize).min(8);
            let x = n[0] as u32;
            let text = if digits < 0 {
                format!("{x:08X}")
            } else {
                format!("{x:08x}")
            };
            lua.create_string(&text[8 - count..])
                .map(Value::String)
                .map_err(|e| e.to_string())
        })?,
    )?;
    Ok(t)
}

/// Every argument of `name` (at least `at_least` of them) through [`tobit`].
fn bits(name: &str, args: &[Value], at_least: usize) -> Result<Vec<i32>, String> {
    (0..args.len().max(at_least))
        .map(|i| tobit(name, i + 1, args.get(i)))
        .collect()
}

/// Argument `i` of `name` as LuaBitOp normalises it: a number (or a string
/// that reads as one), rounded to the nearest whole number (ties to even)
/// and taken modulo 2^32.
fn tobit(name: &str, i: usize, v: Option<&Value>) -> Result<i32, String> {
    let n = match v {
        Some(Value::Integer(n)) => *n as f64,
        Some(Value::Number(n)) => *n,
        Some(Value::String(s)) => s
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse::<f64>().ok())
            .ok_or_else(|| {
                format!("bad argument #{i} to '{name}' (number expected, got string)")
            })?,
        other => {
            let got = other.map_or("no value", Value::type_name);
            return Err(format!(
                "bad argument #{i} to '{name}' (number expected, got {got})"
            ));
        }
    };
    if !n.is_finite() {
        return Ok(0);
    }
    Ok((n.round_ties_even().rem_euclid(4_294_967_296.0) as u64 as u32) as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_print_as_c_s_percent_14g() {
        for (f, want) in [
            (1.0, "1"),
            (-2.5, "-2.5"),
            (0.1, "0.1"),
            (1.0 / 3.0, "0.33333333333333"),
            (1e14, "1e+14"),
            (123456789012345.0, "1.2345678901234e+14"),
            (99999999999999.0, "99999999999999"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.5e-7, "1.5e-07"),
            (1e100, "1e+100"),
            (98765.43210987654, "98765.432109877"),
        ] {
            assert_eq!(format_g14(f), want, "{f}");
        }
    }

    #[test]
    fn strings_escape_as_lua_cjson_does() {
        let mut out = Vec::new();
        string(b"a\"b\\c/d\n\x01\xc3\xa9", &mut out);
        assert_eq!(out, b"\"a\\\"b\\\\c\\/d\\n\\u0001\xc3\xa9\"".to_vec());
    }
}
