//! SORT and SORT_RO (Redis's generic group): every option parsed with
//! Redis's rules and errors (BY, LIMIT, GET, ASC/DESC, ALPHA, STORE; SORT_RO
//! takes no STORE). SORT sorts the elements of a list, set or sorted set;
//! stairkv holds strings only, so a missing key sorts as empty (STORE then
//! deletes the destination and answers 0, as Redis) and a string key is
//! WRONGTYPE. The types issues give this the elements to sort.

use super::args::{int_arg, is, SYNTAX};
use super::context::{Ctx, Step};
use super::frame::Frame;
use crate::storage::ops::{KeyOp, OpResult};
use bytes::Bytes;

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

/// A SORT's options, as Redis reads them.
#[derive(Debug, Default, PartialEq)]
struct SortOptions {
    by: Option<Bytes>,
    limit: Option<(i64, i64)>,
    get: Vec<Bytes>,
    desc: bool,
    alpha: bool,
    store: Option<Bytes>,
}

fn parse(a: &[Bytes], read_only: bool) -> Result<SortOptions, Frame> {
    let mut o = SortOptions::default();
    let mut j = 2;
    while j < a.len() {
        let left = a.len() - j - 1;
        if is(&a[j], "ASC") {
            o.desc = false;
        } else if is(&a[j], "DESC") {
            o.desc = true;
        } else if is(&a[j], "ALPHA") {
            o.alpha = true;
        } else if is(&a[j], "LIMIT") && left >= 2 {
            o.limit = Some((int_arg(&a[j + 1])?, int_arg(&a[j + 2])?));
            j += 2;
        } else if is(&a[j], "STORE") && left >= 1 && !read_only {
            o.store = Some(a[j + 1].clone());
            j += 1;
        } else if is(&a[j], "BY") && left >= 1 {
            o.by = Some(a[j + 1].clone());
            j += 1;
        } else if is(&a[j], "GET") && left >= 1 {
            o.get.push(a[j + 1].clone());
            j += 1;
        } else {
            return Err(Frame::err(SYNTAX));
        }
        j += 1;
    }
    Ok(o)
}

pub fn sort(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    sort_generic(ctx, a, false)
}

pub fn sort_ro(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    sort_generic(ctx, a, true)
}

fn sort_generic(ctx: &mut Ctx, a: &[Bytes], read_only: bool) -> Step {
    let options = match parse(a, read_only) {
        Ok(o) => o,
        Err(f) => return Step::Done(f),
    };
    // Keys a pattern forms cannot be checked beforehand: BY and GET need a
    // user who may read every key (Redis's rule).
    if !ctx.client.user.has_all_keys() {
        if options.by.as_ref().is_some_and(|b| b.contains(&b'*')) {
            return Step::Done(Frame::err(
                "ERR BY option of SORT denied due to insufficient ACL permissions.",
            ));
        }
        if !options.get.is_empty() {
            return Step::Done(Frame::err(
                "ERR GET option of SORT denied due to insufficient ACL permissions.",
            ));
        }
    }
    let Some(dst) = options.store else {
        return Step::One(ctx.batch.key(a[1].clone(), KeyOp::Type), sorted);
    };
    let (seed, src) = (ctx.batch.seed(), a[1].clone());
    Step::Async(Box::pin(async move {
        match seed.run_key(src, KeyOp::Type).await {
            OpResult::Status("none") => {
                // Nothing to store: the destination goes, as in Redis.
                seed.run_key(dst, KeyOp::Del).await;
                Frame::Int(0)
            }
            OpResult::Status(_) => Frame::err(WRONGTYPE),
            other => Frame::from(other),
        }
    }))
}

/// The sorted elements of the source: none for a missing key.
fn sorted(r: OpResult) -> Frame {
    match r {
        OpResult::Status("none") => Frame::Array(Vec::new()),
        OpResult::Status(_) => Frame::err(WRONGTYPE),
        other => Frame::from(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<Bytes> {
        s.split(' ')
            .map(|w| Bytes::copy_from_slice(w.as_bytes()))
            .collect()
    }

    #[test]
    fn options_parse_as_redis_reads_them() {
        let o = parse(
            &args("SORT k BY w_* LIMIT 0 10 GET # GET o_* DESC ALPHA STORE d"),
            false,
        )
        .unwrap_or_default();
        assert_eq!(o.by.as_deref(), Some(&b"w_*"[..]));
        assert_eq!(o.limit, Some((0, 10)));
        assert_eq!(o.get.len(), 2);
        assert!(o.desc && o.alpha);
        assert_eq!(o.store.as_deref(), Some(&b"d"[..]));
        assert!(
            !parse(&args("SORT k DESC ASC"), false)
                .unwrap_or_default()
                .desc
        );
        for bad in ["SORT k STORE", "SORT k LIMIT 1", "SORT k NOPE", "SORT k BY"] {
            assert_eq!(parse(&args(bad), false), Err(Frame::err(SYNTAX)), "{bad}");
        }
        assert_eq!(
            parse(&args("SORT_RO k STORE d"), true),
            Err(Frame::err(SYNTAX))
        );
        assert!(parse(&args("SORT k LIMIT x 1"), false).is_err());
    }
}
