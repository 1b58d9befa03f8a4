//! Redis's `struct` library for scripts (Roberto Ierusalimschy's struct
//! 0.2, as Redis 7.0 ships it): `struct.pack(fmt, ...)`,
//! `struct.unpack(fmt, data [, init])` and `struct.size(fmt)`, with its
//! format (`>`/`<` endianness, `![n]` alignment, `x` padding, `b B h H l L T`
//! and `i[n] I[n]` integers of 1, 2, 8, 8 and n bytes, `f` and `d` floats,
//! `c[n]` fixed strings, `s` zero-terminated strings), its byte layout and
//! its error texts, as redis-server 7.0.15 answers them (the tests hold its
//! answers). Pure functions of their arguments: never a command or a key.

use super::libs::function;
use mlua::{Lua, Table, Value, Variadic};

/// The widest `i[n]`.
const MAX_INT_SIZE: usize = 32;
/// `!` without a number: the alignment of a double.
const MAX_ALIGN: usize = 8;

/// The `struct` table.
pub fn make(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set("pack", function(lua, pack)?)?;
    t.raw_set("unpack", function(lua, unpack)?)?;
    t.raw_set("size", function(lua, size)?)?;
    Ok(t)
}

/// A format being read: where it stands, its endianness and alignment.
struct Format<'a> {
    fmt: &'a [u8],
    at: usize,
    little: bool,
    align: usize,
}

impl<'a> Format<'a> {
    fn new(fmt: &'a [u8]) -> Format<'a> {
        Format {
            fmt,
            at: 0,
            little: cfg!(target_endian = "little"),
            align: 1,
        }
    }

    /// The next option and its size (0 for options without one), or None at the end.
    fn next(&mut self) -> Result<Option<(u8, usize)>, String> {
        let Some(&opt) = self.fmt.get(self.at) else {
            return Ok(None);
        };
        self.at += 1;
        let size = match opt {
            b'b' | b'B' | b'x' => 1,
            b'h' | b'H' => 2,
            b'l' | b'L' | b'T' | b'd' => 8,
            b'f' => 4,
            b'c' => self.number(1)?,
            b'i' | b'I' => {
                let n = self.number(4)?;
                if n > MAX_INT_SIZE {
                    return Err(format!(
                        "integral size {n} is larger than limit of {MAX_INT_SIZE}"
                    ));
                }
                n
            }
            _ => 0,
        };
        Ok(Some((opt, size)))
    }

    /// Digits at the cursor, or `default`.
    fn number(&mut self, default: usize) -> Result<usize, String> {
        if !self.fmt.get(self.at).is_some_and(u8::is_ascii_digit) {
            return Ok(default);
        }
        let mut n: i32 = 0;
        while let Some(&d) = self.fmt.get(self.at).filter(|d| d.is_ascii_digit()) {
            let d = i32::from(d - b'0');
            n = n
                .checked_mul(10)
                .and_then(|n| n.checked_add(d))
                .ok_or("integral size overflow")?;
            self.at += 1;
        }
        Ok(n as usize)
    }

    /// Padding before an option of `size` bytes at `pos`.
    fn padding(&self, pos: usize, opt: u8, size: usize) -> usize {
        if size == 0 || opt == b'c' {
            return 0;
        }
        let size = size.min(self.align).max(1);
        (size - (pos & (size - 1))) & (size - 1)
    }

    /// An option that is not a value: endianness, alignment, a space.
    fn control(&mut self, opt: u8, func: &str) -> Result<(), String> {
        match opt {
            b' ' => {}
            b'>' => self.little = false,
            b'<' => self.little = true,
            b'!' => {
                let a = self.number(MAX_ALIGN)?;
                if a & a.wrapping_sub(1) != 0 {
                    return Err(format!("alignment {a} is not a power of 2"));
                }
                self.align = a;
            }
            other => {
                return Err(format!(
                    "bad argument #1 to '{func}' (invalid format option '{}')",
                    other as char
                ))
            }
        }
        Ok(())
    }
}

fn format_arg(args: &[Value], func: &str) -> Result<Vec<u8>, String> {
    match args.first() {
        Some(Value::String(s)) => Ok(s.as_bytes().to_vec()),
        other => Err(format!(
            "bad argument #1 to '{func}' (string expected, got {})",
            other.map_or("nil", |v| v.type_name())
        )),
    }
}

/// `luaL_checknumber`: a number, or a string that reads as one.
fn number_arg(args: &[Value], i: usize, func: &str) -> Result<f64, String> {
    match args.get(i) {
        Some(Value::Integer(n)) => Ok(*n as f64),
        Some(Value::Number(n)) => Ok(*n),
        Some(Value::String(s)) => s
            .to_str()
            .ok()
            .and_then(|t| t.trim().parse::<f64>().ok())
            .ok_or_else(|| {
                format!(
                    "bad argument #{} to '{func}' (number expected, got string)",
                    i + 1
                )
            }),
        other => Err(format!(
            "bad argument #{} to '{func}' (number expected, got {})",
            i + 1,
            other.map_or("nil", |v| v.type_name())
        )),
    }
}

fn pack(lua: &Lua, args: Variadic<Value>) -> Result<Value, String> {
    let fmt = format_arg(&args, "pack")?;
    let mut f = Format::new(&fmt);
    let mut out: Vec<u8> = Vec::new();
    let mut arg = 1;
    while let Some((opt, size)) = f.next()? {
        let pad = f.padding(out.len(), opt, size);
        out.resize(out.len() + pad, 0);
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let n = number_arg(&args, arg, "pack")?;
                arg += 1;
                let value = if n < 0.0 { n as i64 as u64 } else { n as u64 };
                let bytes: Vec<u8> = (0..size)
                    .map(|i| if i < 8 { (value >> (8 * i)) as u8 } else { 0 })
                    .collect();
                if f.little {
                    out.extend_from_slice(&bytes);
                } else {
                    out.extend(bytes.iter().rev());
                }
            }
            b'x' => out.push(0),
            b'f' | b'd' => {
                let n = number_arg(&args, arg, "pack")?;
                arg += 1;
                let mut bytes = if opt == b'f' {
                    (n as f32).to_le_bytes().to_vec()
                } else {
                    n.to_le_bytes().to_vec()
                };
                if !f.little {
                    bytes.reverse();
                }
                out.extend_from_slice(&bytes);
            }
            b'c' | b's' => {
                let s = match args.get(arg) {
                    Some(Value::String(s)) => s.as_bytes().to_vec(),
                    Some(Value::Integer(n)) => n.to_string().into_bytes(),
                    Some(Value::Number(n)) => super::libs::format_g14(*n).into_bytes(),
                    other => {
                        return Err(format!(
                            "bad argument #{} to 'pack' (string expected, got {})",
                            arg + 1,
                            other.map_or("nil", |v| v.type_name())
                        ))
                    }
                };
                arg += 1;
                let take = if size == 0 { s.len() } else { size };
                if s.len() < take {
                    return Err(format!(
                        "bad argument #{} to 'pack' (string too short)",
                        arg + 1
                    ));
                }
                out.extend_from_slice(&s[..take]);
                if opt == b's' {
                    out.push(0);
                }
            }
            _ => f.control(opt, "pack")?,
        }
    }
    lua.create_string(&out)
        .map(Value::String)
        .map_err(|e| e.to_string())
}

fn unpack(lua: &Lua, args: Variadic<Value>) -> Result<Variadic<Value>, String> {
    let fmt = format_arg(&args, "unpack")?;
    let data = match args.get(1) {
        Some(Value::String(s)) => s.as_bytes().to_vec(),
        other => {
            return Err(format!(
                "bad argument #2 to 'unpack' (string expected, got {})",
                other.map_or("nil", |v| v.type_name())
            ))
        }
    };
    let init = match args.get(2) {
        None | Some(Value::Nil) => 1.0,
        Some(_) => number_arg(&args, 2, "unpack")?,
    } as i64;
    if init == 0 {
        return Err("bad argument #3 to 'unpack' (offset must be 1 or greater)".into());
    }
    // A negative start is a huge position once unsigned, as in C: too short.
    let mut pos = if init < 0 {
        usize::MAX / 2
    } else {
        init as usize - 1
    };
    let short = || "bad argument #2 to 'unpack' (data string too short)".to_string();
    let mut f = Format::new(&fmt);
    let mut out: Vec<Value> = Vec::new();
    let string = |b: &[u8]| {
        lua.create_string(b)
            .map(Value::String)
            .map_err(|e| e.to_string())
    };
    while let Some((opt, mut size)) = f.next()? {
        pos += f.padding(pos, opt, size);
        if pos.checked_add(size).is_none_or(|end| end > data.len()) {
            return Err(short());
        }
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let bytes = &data[pos..pos + size];
                // The low eight bytes make the value; higher ones shift out.
                let mut v: u64 = 0;
                for i in (0..size).rev() {
                    let b = if f.little {
                        bytes[i]
                    } else {
                        bytes[size - 1 - i]
                    };
                    v = (v << 8) | u64::from(b);
                }
                let n = if opt.is_ascii_lowercase() {
                    let signed = if size < 8 {
                        let shift = 64 - 8 * size as u32;
                        ((v << shift) as i64) >> shift
                    } else {
                        v as i64
                    };
                    signed as f64
                } else {
                    v as f64
                };
                out.push(Value::Number(n));
            }
            b'x' => {}
            b'f' | b'd' => {
                let mut bytes = data[pos..pos + size].to_vec();
                if !f.little {
                    bytes.reverse();
                }
                let n = if opt == b'f' {
                    f64::from(f32::from_le_bytes(
                        bytes[..4].try_into().map_err(|_| short())?,
                    ))
                } else {
                    f64::from_le_bytes(bytes[..8].try_into().map_err(|_| short())?)
                };
                out.push(Value::Number(n));
            }
            b'c' => {
                if size == 0 {
                    // The length is the result before it (a number, or a
                    // string that reads as one), which it replaces.
                    let len = match out.last() {
                        Some(Value::Number(n)) => Some(*n),
                        Some(Value::String(s)) => {
                            s.to_str().ok().and_then(|t| t.trim().parse().ok())
                        }
                        _ => None,
                    }
                    .ok_or("format 'c0' needs a previous size")?;
                    out.pop();
                    size = len as usize;
                    if size > data.len() - pos {
                        return Err(short());
                    }
                }
                out.push(string(&data[pos..pos + size])?);
            }
            b's' => {
                let end = data[pos..]
                    .iter()
                    .position(|&b| b == 0)
                    .ok_or("unfinished string in data")?;
                out.push(string(&data[pos..pos + end])?);
                size = end + 1;
            }
            _ => f.control(opt, "unpack")?,
        }
        pos += size;
    }
    out.push(Value::Number((pos + 1) as f64));
    Ok(Variadic::from_iter(out))
}

fn size(_: &Lua, args: Variadic<Value>) -> Result<Value, String> {
    let fmt = format_arg(&args, "size")?;
    let mut f = Format::new(&fmt);
    let mut pos = 0usize;
    while let Some((opt, size)) = f.next()? {
        pos += f.padding(pos, opt, size);
        if opt == b's' {
            return Err("bad argument #1 to 'size' (option 's' has no fixed size)".into());
        }
        if opt == b'c' && size == 0 {
            return Err("bad argument #1 to 'size' (option 'c0' has no fixed size)".into());
        }
        // Letters that are no option count nothing here (struct 0.2's rule).
        if !opt.is_ascii_alphanumeric() {
            f.control(opt, "size")?;
        }
        pos += size;
    }
    Ok(Value::Number(pos as f64))
}
