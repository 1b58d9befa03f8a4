//! Short forms for tests that send many commands: a command from words, its
//! reply typed (panicking with the command on failure), and the error a
//! command answers as Redis writes it (code and detail). Shared by the
//! type tests.
#![allow(dead_code)]

use redis::{Connection, FromRedisValue, Value};

pub const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

pub fn cmd(args: &[&str]) -> redis::Cmd {
    let mut c = redis::cmd(args[0]);
    for a in &args[1..] {
        c.arg(*a);
    }
    c
}

#[track_caller]
pub fn q<T: FromRedisValue>(con: &mut Connection, args: &[&str]) -> T {
    match cmd(args).query(con) {
        Ok(v) => v,
        Err(e) => panic!("{args:?} failed: {e}"),
    }
}

/// Redis's error text of a reply: its code and detail.
#[track_caller]
pub fn err_of(r: redis::RedisResult<Value>) -> String {
    match r {
        Err(e) => match (e.code(), e.detail()) {
            (Some(code), Some(d)) if !d.is_empty() => format!("{code} {d}"),
            (Some(code), _) => code.to_string(),
            _ => format!("client error: {e}"),
        },
        Ok(v) => panic!("expected an error, got {v:?}"),
    }
}

/// The error `args` answers.
#[track_caller]
pub fn e(con: &mut Connection, args: &[&str]) -> String {
    err_of(cmd(args).query::<Value>(con))
}

pub fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}
