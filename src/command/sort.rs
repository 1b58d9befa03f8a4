//! SORT and SORT_RO (Redis's generic group), with Redis 7's semantics
//! (`sortCommandGeneric`): the elements of a list, set or sorted set in
//! order, numeric by default (each read as C's `strtod` reads it, or
//! "One or more scores can't be converted into double"), with ALPHA by
//! their bytes, DESC, and LIMIT clamped as Redis clamps it. BY and GET
//! patterns are Redis's `lookupKeyByPattern`: the first `*` becomes the
//! element, `->field` reads a hash field, `GET #` is the element itself; a
//! missing weight sorts as 0 (ALPHA: before every present one), a missing
//! GET is nil (an empty string under STORE). A BY without `*` does not sort:
//! a list or sorted set keeps its own order, DESC and LIMIT applying to it.
//! STORE makes the destination a list, whatever it held (`sortstore`), or
//! deletes it when the result is empty (`del`), and answers the count.
//! SORT_RO takes no STORE. Options, their errors and the ACL rule for BY and
//! GET (a user who may read every key) come first, in Redis's order; then
//! WRONGTYPE for a source of another type.
//!
//! Atomic wherever its keys live, although the keys its patterns form are
//! known only from the elements: outside a transaction it reads the elements
//! once, forms their keys, then holds the source, those keys and the
//! destination (`atomic`) and reads the elements again. Should they now form
//! a key it does not hold, nothing has been written: it lets go and tries
//! again with the new keys, and after [`TRIES`] tries (or past [`MOST_HELD`]
//! keys) holds every core whole. A sort with no pattern-formed key holds
//! just the source and the destination, or (without STORE) is one read.
//! Inside MULTI the transaction holds every core for it already
//! (`transactions`, by `keyspec::sort_forms_keys`); in a script a formed
//! key must be one the script declared, as any key it touches.
//!
//! It sorts on the client's core, over what the keys' cores send. It never
//! reads or changes a key but through ops, and never imports another family.

use super::args::{int_arg, is, sort_score, SYNTAX};
use super::atomic::{atomically, holding_everything};
use super::context::{Ctx, Reply, Step};
use super::frame::Frame;
use super::keyspec::{is_hash_sign, sort_star};
use crate::core::router::{BatchSeed, Ticket};
use crate::storage::ops::{HashOp, KeyOp, ListOp, OpResult};
use ahash::RandomState;
use bytes::Bytes;
use std::cell::RefCell;
use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;

/// Keys a run may form: those held for it (or a script's declared keys).
type Held = HashSet<Bytes>;

const NOT_DOUBLE: &str = "ERR One or more scores can't be converted into double";
/// What `scripting::call` answers for a key a script did not declare.
const UNDECLARED: &str = "ERR Script attempted to access a non local key in a cluster node script";
/// How many times the keys are formed and held again (the elements changed
/// between the look and the hold) before every core is held instead.
const TRIES: usize = 3;
/// Past this many formed keys, one hold of every core costs less than a
/// lock per key (and Redis stops everyone for a big SORT too).
const MOST_HELD: usize = 4096;

/// A SORT's options, as Redis reads them.
#[derive(Debug, Default, PartialEq)]
struct SortOptions {
    /// The last BY pattern.
    by: Option<Bytes>,
    /// Some BY pattern had no `*`: do not sort. Redis keeps this even when
    /// a later BY has one.
    dontsort: bool,
    limit: Option<(i64, i64)>,
    get: Vec<Bytes>,
    desc: bool,
    alpha: bool,
    store: Option<Bytes>,
}

impl SortOptions {
    /// Whether a pattern forms keys from the elements (what
    /// `keyspec::sort_forms_keys` says of the arguments).
    fn forms_keys(&self) -> bool {
        let by = self.by.is_some() && !self.dontsort;
        by || self
            .get
            .iter()
            .any(|g| !is_hash_sign(g) && sort_star(g).is_some())
    }
}

/// The options in Redis's order: the first bad one answers, be it a syntax
/// error, a bad LIMIT or a BY or GET the user may not use (`all_keys`: the
/// user may read every key, Redis's rule for keys no argument names).
fn parse(a: &[Bytes], read_only: bool, all_keys: bool) -> Result<SortOptions, Frame> {
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
            if sort_star(&a[j + 1]).is_none() {
                o.dontsort = true;
            } else if !all_keys {
                return Err(Frame::err(
                    "ERR BY option of SORT denied due to insufficient ACL permissions.",
                ));
            }
            o.by = Some(a[j + 1].clone());
            j += 1;
        } else if is(&a[j], "GET") && left >= 1 {
            if !all_keys {
                return Err(Frame::err(
                    "ERR GET option of SORT denied due to insufficient ACL permissions.",
                ));
            }
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
    let o = match parse(a, read_only, ctx.client.user.has_all_keys()) {
        Ok(o) => o,
        Err(f) => return Step::Done(f),
    };
    let script = ctx.client.script_keys.clone();
    let forms = o.forms_keys();
    let plan = Rc::new(Plan {
        src: a[1].clone(),
        o,
        script: script.is_some(),
    });
    if !forms && plan.o.store.is_none() {
        // One read, so atomic by itself; GET here is `#` or nothing.
        let t = ctx.batch.key(a[1].clone(), KeyOp::Sortable);
        return Step::Then(t, Box::new(move |r| Reply::Now(plan.answer(r))));
    }
    let seed = ctx.batch.seed();
    let writes = plan.o.store.is_some();
    let mut keys = vec![plan.src.clone()];
    keys.extend(plan.o.store.clone());
    if !forms {
        return Step::Async(Box::pin(atomically(seed, keys, writes, move |s| {
            Box::pin(run_any(s, plan))
        })));
    }
    if let Some(declared) = script {
        return Step::Async(Box::pin(async move {
            run(seed, plan, Some(declared))
                .await
                .unwrap_or_else(|_| Frame::err(UNDECLARED))
        }));
    }
    if seed.tx() != 0 {
        // EXEC holds every core whole for a SORT that forms keys.
        return Step::Async(Box::pin(run_any(seed, plan)));
    }
    Step::Async(Box::pin(formed_and_held(seed, plan, keys, writes)))
}

/// [`run`] where every key it may form is held (or needs no holding).
async fn run_any(s: BatchSeed, p: Rc<Plan>) -> Frame {
    // Given no set of held keys, `run` never stops for one.
    run(s, p, None)
        .await
        .unwrap_or_else(|_| Frame::err("ERR SORT met a key it does not hold"))
}

/// Look at the elements, hold the keys they form (with the source and the
/// destination), and sort with them held; again while the elements form
/// keys not held, then with every core held.
async fn formed_and_held(seed: BatchSeed, plan: Rc<Plan>, base: Vec<Bytes>, writes: bool) -> Frame {
    let mut formed = match source(seed.run_key(plan.src.clone(), KeyOp::Sortable).await) {
        Ok((kind, elems)) => plan.formed(kind, &elems),
        // One read answers WRONGTYPE atomically by itself.
        Err(f) => return f,
    };
    for _ in 0..TRIES {
        if formed.len() > MOST_HELD {
            break;
        }
        let held: Rc<Held> = Rc::new(formed.iter().cloned().collect());
        let mut keys = base.clone();
        keys.append(&mut formed);
        let missed = Rc::new(RefCell::new(None));
        let (p, m) = (plan.clone(), missed.clone());
        let reply = atomically(seed.clone(), keys, writes, move |s| {
            Box::pin(async move {
                run(s, p, Some(held)).await.unwrap_or_else(|need| {
                    *m.borrow_mut() = Some(need);
                    // Never sent: the next try answers.
                    Frame::Null
                })
            })
        })
        .await;
        match missed.take() {
            None => return reply,
            Some(need) => formed = need,
        }
    }
    holding_everything(seed, writes, move |s| Box::pin(run_any(s, plan))).await
}

/// The source's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    List,
    Set,
    Zset,
}

/// The source's elements in its own order, and its type (a missing key is
/// an empty list, as Redis sorts one), or its error.
fn source(r: OpResult) -> Result<(Kind, Vec<Bytes>), Frame> {
    match r {
        OpResult::Nil => Ok((Kind::List, Vec::new())),
        OpResult::Bulks(v) => Ok((Kind::List, v.into_iter().flatten().collect())),
        OpResult::Members(v) => Ok((Kind::Set, v)),
        OpResult::Scored(v) => Ok((Kind::Zset, v.into_iter().map(|(m, _)| m).collect())),
        other => Err(Frame::from(other)),
    }
}

/// One SORT: its options and whether a script runs it.
struct Plan {
    src: Bytes,
    o: SortOptions,
    script: bool,
}

/// How the elements are put in order, once the source's type is known.
struct Mode<'a> {
    sort: bool,
    alpha: bool,
    /// The BY pattern to sort by (only when sorting).
    by: Option<&'a [u8]>,
}

impl Plan {
    fn mode(&self, kind: Kind) -> Mode<'_> {
        let o = &self.o;
        // A set left unsorted would come out in its table's order, which
        // replicas and scripts must not see: Redis sorts it ALPHA then.
        if o.dontsort && kind == Kind::Set && (o.store.is_some() || self.script) {
            return Mode {
                sort: true,
                alpha: true,
                by: None,
            };
        }
        Mode {
            sort: !o.dontsort,
            alpha: o.alpha,
            by: o.by.as_deref().filter(|_| !o.dontsort),
        }
    }

    /// Every key the patterns form from `elems` (BY's when it sorts by
    /// one, every GET's): what a run must hold.
    fn formed(&self, kind: Kind, elems: &[Bytes]) -> Vec<Bytes> {
        let by = self.mode(kind).by;
        let mut keys = Vec::new();
        for p in by.into_iter().chain(self.o.get.iter().map(|g| &g[..])) {
            for e in elems {
                if let Lookup::Key(k) | Lookup::Field(k, _) = lookup(p, e) {
                    keys.push(k);
                }
            }
        }
        keys
    }

    /// The reply of a SORT that forms no key and stores nothing, from its
    /// source's read.
    fn answer(&self, r: OpResult) -> Frame {
        let (kind, elems) = match source(r) {
            Ok(s) => s,
            Err(f) => return f,
        };
        match order(&self.o, kind, &self.mode(kind), elems, None) {
            Ok(out) => {
                let items = if self.o.get.is_empty() {
                    out.into_iter().map(Some).collect()
                } else {
                    out.iter()
                        .flat_map(|e| self.o.get.iter().map(move |g| known(&lookup(g, e), e)))
                        .map(Option::flatten)
                        .collect()
                };
                array(items)
            }
            Err(f) => f,
        }
    }
}

/// SORT with ops of `s`. `held`: the only keys its patterns may form (None:
/// any); should the elements form another, it stops before reading from it
/// or writing anything, with every key they form.
async fn run(s: BatchSeed, p: Rc<Plan>, held: Option<Rc<Held>>) -> Result<Frame, Vec<Bytes>> {
    let (kind, elems) = match source(s.run_key(p.src.clone(), KeyOp::Sortable).await) {
        Ok(x) => x,
        Err(f) => return Ok(f),
    };
    if let Some(held) = held {
        let need = p.formed(kind, &elems);
        if need.iter().any(|k| !held.contains(k)) {
            return Err(need);
        }
    }
    let mode = p.mode(kind);
    let weights = match mode.by {
        Some(by) => {
            let lookups = elems.iter().map(|e| lookup(by, e)).collect();
            Some(values(&s, lookups, &elems).await)
        }
        None => None,
    };
    let out = match order(&p.o, kind, &mode, elems, weights) {
        Ok(out) => out,
        Err(f) => return Ok(f),
    };
    let items = if p.o.get.is_empty() {
        out.into_iter().map(Some).collect()
    } else {
        let mut lookups = Vec::with_capacity(out.len() * p.o.get.len());
        let mut owners = Vec::with_capacity(lookups.capacity());
        for e in &out {
            for g in &p.o.get {
                lookups.push(lookup(g, e));
                owners.push(e.clone());
            }
        }
        values(&s, lookups, &owners).await
    };
    let Some(dst) = p.o.store.clone() else {
        return Ok(array(items));
    };
    let n = items.len() as i64;
    let values = items.into_iter().map(Option::unwrap_or_default).collect();
    let store = ListOp::Store {
        values,
        event: "sortstore",
    };
    Ok(match s.run_key(dst, KeyOp::OnList(store)).await {
        OpResult::Int(_) => Frame::Int(n),
        other => Frame::from(other),
    })
}

fn array(items: Vec<Option<Bytes>>) -> Frame {
    Frame::Array(
        items
            .into_iter()
            .map(|v| v.map_or(Frame::Null, Frame::Bulk))
            .collect(),
    )
}

/// What a BY or GET pattern makes of an element (Redis's
/// `lookupKeyByPattern`, C strings and all: a NUL ends the pattern where C
/// would look for `#`, `*` and `->`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Lookup {
    /// `#`: the element itself.
    Itself,
    /// No `*`: nothing (nil).
    Nothing,
    /// A string key.
    Key(Bytes),
    /// A hash key's field.
    Field(Bytes, Bytes),
}

fn lookup(pattern: &[u8], elem: &[u8]) -> Lookup {
    if is_hash_sign(pattern) {
        return Lookup::Itself;
    }
    let Some(star) = sort_star(pattern) else {
        return Lookup::Nothing;
    };
    let c_len = pattern
        .iter()
        .position(|&c| c == 0)
        .unwrap_or(pattern.len());
    // The first `->` after the `*`, with a field after it.
    let arrow = pattern[star + 1..c_len]
        .windows(2)
        .position(|w| w == b"->")
        .map(|i| star + 1 + i)
        .filter(|&f| f + 2 < c_len);
    let rest = arrow.unwrap_or(pattern.len());
    let mut key = Vec::with_capacity(pattern.len() + elem.len());
    key.extend_from_slice(&pattern[..star]);
    key.extend_from_slice(elem);
    key.extend_from_slice(&pattern[star + 1..rest]);
    match arrow {
        Some(f) => Lookup::Field(key.into(), Bytes::copy_from_slice(&pattern[f + 2..])),
        None => Lookup::Key(key.into()),
    }
}

/// A lookup's value when no key need be read for it.
fn known(l: &Lookup, elem: &Bytes) -> Option<Option<Bytes>> {
    match l {
        Lookup::Itself => Some(Some(elem.clone())),
        Lookup::Nothing => Some(None),
        Lookup::Key(_) | Lookup::Field(..) => None,
    }
}

/// The value of each lookup of `owners[i]`'s, reading the keys in one
/// batch (each once): None for no such key or field, or a key of another
/// type (Redis's lookup wants a string, or a hash for a field).
async fn values(s: &BatchSeed, lookups: Vec<Lookup>, owners: &[Bytes]) -> Vec<Option<Bytes>> {
    let mut b = s.batch();
    let mut asked: HashMap<Lookup, Ticket, RandomState> = HashMap::default();
    for l in &lookups {
        let op = match l {
            Lookup::Key(k) => (k, KeyOp::Get),
            Lookup::Field(k, f) => (k, KeyOp::OnHash(HashOp::Get(f.clone()))),
            Lookup::Itself | Lookup::Nothing => continue,
        };
        if !asked.contains_key(l) {
            let t = b.key(op.0.clone(), op.1);
            asked.insert(l.clone(), t);
        }
    }
    let mut results = b.finish().await;
    let got: HashMap<Lookup, Option<Bytes>, RandomState> = asked
        .into_iter()
        .map(|(l, t)| {
            let v = match results.take(t) {
                OpResult::Bulk(v) => Some(v),
                _ => None,
            };
            (l, v)
        })
        .collect();
    lookups
        .iter()
        .zip(owners)
        .map(|(l, e)| known(l, e).unwrap_or_else(|| got.get(l).cloned().flatten()))
        .collect()
}

/// LIMIT's first and last index over `len` elements, clamped as Redis
/// clamps them (a negative offset is 0, a negative count is all); None
/// when nothing is in range.
fn range(limit: Option<(i64, i64)>, len: usize) -> Option<(usize, usize)> {
    let (offset, count) = limit.unwrap_or((0, -1));
    let n = i64::try_from(len).unwrap_or(i64::MAX);
    let start = offset.clamp(0, n);
    let count = count.clamp(-1, n);
    if start >= n {
        return None;
    }
    let end = if count < 0 { n - 1 } else { start + count - 1 }.min(n - 1);
    (end >= start).then_some((start as usize, end as usize))
}

/// An element with what it sorts by.
struct Item {
    elem: Bytes,
    score: f64,
    /// ALPHA by a pattern: the weight (None: missing).
    text: Option<Bytes>,
}

/// Strings as `strcoll` sees them in the C locale: up to the first NUL.
fn c_str(b: &[u8]) -> &[u8] {
    &b[..b.iter().position(|&c| c == 0).unwrap_or(b.len())]
}

/// The elements SORT answers (before GET), from the source's elements and,
/// when it sorts by a pattern, each one's weight.
fn order(
    o: &SortOptions,
    kind: Kind,
    mode: &Mode,
    mut elems: Vec<Bytes>,
    weights: Option<Vec<Option<Bytes>>>,
) -> Result<Vec<Bytes>, Frame> {
    if !mode.sort {
        // A set has no order of its own to turn round.
        if o.desc && kind != Kind::Set {
            elems.reverse();
        }
        return Ok(match range(o.limit, elems.len()) {
            Some((start, end)) => elems.drain(start..=end).collect(),
            None => Vec::new(),
        });
    }
    let mut weights = weights.map(Vec::into_iter);
    let mut items = Vec::with_capacity(elems.len());
    let mut bad = false;
    for elem in elems {
        let weight = weights.as_mut().map(|w| w.next().flatten());
        let mut item = Item {
            elem,
            score: 0.0,
            text: None,
        };
        if mode.alpha {
            item.text = weight.flatten();
        } else {
            // A missing weight is 0; the element is its own weight.
            let by = match &weight {
                Some(w) => w.as_deref(),
                None => Some(&item.elem[..]),
            };
            if let Some(by) = by {
                match sort_score(by) {
                    Some(v) => item.score = v,
                    None => bad = true,
                }
            }
        }
        items.push(item);
    }
    if bad {
        return Err(Frame::err(NOT_DOUBLE));
    }
    // Under STORE Redis compares whole strings; a reply is collated.
    let store = o.store.is_some();
    let text = |a: &[u8], b: &[u8]| {
        if store {
            a.cmp(b)
        } else {
            c_str(a).cmp(c_str(b))
        }
    };
    let by = mode.by.is_some();
    items.sort_by(|a, b| {
        let c = if !mode.alpha {
            // Equal scores: the elements' bytes, so the order is defined.
            a.score
                .partial_cmp(&b.score)
                .unwrap_or(Ordering::Equal)
                .then_with(|| a.elem.cmp(&b.elem))
        } else if by {
            match (&a.text, &b.text) {
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Less,
                (Some(_), None) => Ordering::Greater,
                (Some(x), Some(y)) => text(x, y),
            }
        } else {
            text(&a.elem, &b.elem)
        };
        if o.desc {
            c.reverse()
        } else {
            c
        }
    });
    Ok(match range(o.limit, items.len()) {
        Some((start, end)) => items.drain(start..=end).map(|i| i.elem).collect(),
        None => Vec::new(),
    })
}

#[cfg(test)]
mod tests;
