//! Client-side caching, the connection's side: CLIENT TRACKING (ON/OFF,
//! REDIRECT, BCAST, PREFIX, OPTIN, OPTOUT, NOLOOP), CLIENT CACHING, CLIENT
//! TRACKINGINFO and CLIENT GETREDIR with Redis's rules and errors, and the
//! hook the dispatcher (and EXEC) runs before each command of a tracking
//! connection: a read's keys are remembered where they live by an op sent
//! just ahead of the read (`KeyOp::Track`), and a NOLOOP client's writes are
//! marked as its own (`KeyOp::Writer`). The cores keep the readers and send
//! the notices (`core::tracking`, `core::invalidate`); the connection writes
//! them as RESP3 pushes. It never decides what changed.

use super::args::{is, SYNTAX};
use super::context::{clip, ClientState, CommandSpec, Ctx, Step};
use super::frame::Frame;
use super::keyspec::command_keys;
use super::subscriptions::SubState;
pub use super::trackstate::TrackState;
use crate::core::mesh::CoreTask;
use crate::core::router::Batch;
use crate::core::tracking::{Bcast, Local};
use crate::core::world::World;
use crate::storage::ops::KeyOp;
use bytes::Bytes;
use std::rc::Rc;

/// Before a command of a tracking connection runs: remember its keys for
/// this client if it reads and caches them, and mark its writes as its own
/// under NOLOOP. Commands MULTI queues are looked at when EXEC runs them.
pub fn before_command(
    client: &mut ClientState,
    batch: &mut Batch,
    spec: &'static CommandSpec,
    args: &[Bytes],
) {
    let id = client.id;
    let in_multi = client.multi.is_some();
    let executing = client.executing;
    if client.tracking.is_none() || !still_on(batch.world(), client) {
        return;
    }
    let Some(t) = client.tracking.as_deref_mut() else {
        return;
    };
    let caching_cmd = spec.name == "client" && args.get(1).is_some_and(|s| is(s, "CACHING"));
    // MULTI queues, EXEC runs each command through here: CLIENT CACHING
    // holds for the whole transaction.
    if caching_cmd || in_multi || matches!(spec.name, "multi" | "exec") {
        return;
    }
    let reads = spec.flags.contains(&"readonly");
    let writes = spec.flags.contains(&"write");
    if reads && !t.bcast {
        let cache = if t.optin {
            t.caching == Some(true)
        } else if t.optout {
            t.caching != Some(false)
        } else {
            true
        };
        if cache {
            for key in command_keys(spec, args) {
                batch.key(
                    key,
                    KeyOp::Track {
                        client: id,
                        noloop: t.noloop,
                    },
                );
            }
        }
    }
    if writes && t.noloop {
        for key in command_keys(spec, args) {
            batch.key(key, KeyOp::Writer { client: id });
        }
    }
    // CLIENT CACHING holds for one command (EXEC clears it at its end).
    if !executing {
        t.caching = None;
    }
}

/// EXEC ran its commands: a CLIENT CACHING before MULTI is used up.
pub fn transaction_done(client: &mut ClientState) {
    if let Some(t) = client.tracking.as_deref_mut() {
        t.caching = None;
    }
}

/// Whether the connection's tracking is on: its core holds it (a CLIENT
/// TRACKING ON whose redirect target turned out not to exist took it back).
/// A mode left over from such a refusal is dropped here.
fn still_on(world: &World, client: &mut ClientState) -> bool {
    let on = world.tracking.borrow().local.contains_key(&client.id);
    if !on {
        client.tracking = None;
    }
    on
}

/// RESET, CLIENT TRACKING OFF, or the connection ends: tracking off now.
/// The BCAST prefixes are dropped on every core by messages sent at once,
/// so a later CLIENT TRACKING ON reaches each core after them; nothing waits
/// (a closing connection must not wait on cores that may be stopping). Its
/// readers elsewhere are forgotten lazily (Redis's way).
pub fn reset(world: &Rc<World>, client: &mut ClientState) {
    let Some(t) = client.tracking.take() else {
        return;
    };
    world.tracking.borrow_mut().local.remove(&client.id);
    if t.bcast {
        world.tell_every_core(CoreTask::TrackBcast {
            client: client.id,
            reg: None,
        });
    }
}

fn err(s: &str) -> Step {
    Step::Done(Frame::err(s.to_owned()))
}

/// CLIENT TRACKING ON|OFF [REDIRECT id] [PREFIX p …] [BCAST] [OPTIN] [OPTOUT] [NOLOOP].
pub fn client_tracking(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    let on = if is(&a[2], "ON") {
        true
    } else if is(&a[2], "OFF") {
        false
    } else {
        return err(SYNTAX);
    };
    let mut want = TrackState::default();
    let mut i = 3;
    while i < a.len() {
        if is(&a[i], "REDIRECT") && i + 1 < a.len() {
            match super::args::parse_u64(&a[i + 1]) {
                Some(id) => want.redirect = id,
                None => return err("ERR Invalid client ID"),
            }
            i += 1;
        } else if is(&a[i], "PREFIX") && i + 1 < a.len() {
            want.prefixes.push(a[i + 1].clone());
            i += 1;
        } else if is(&a[i], "BCAST") {
            want.bcast = true;
        } else if is(&a[i], "OPTIN") {
            want.optin = true;
        } else if is(&a[i], "OPTOUT") {
            want.optout = true;
        } else if is(&a[i], "NOLOOP") {
            want.noloop = true;
        } else {
            return err(SYNTAX);
        }
        i += 1;
    }
    let world = ctx.world.clone();
    if !on {
        reset(&world, ctx.client);
        update_redir(ctx, -1);
        return Step::Done(Frame::Ok);
    }
    still_on(&world, ctx.client);
    if let Err(e) = check_modes(ctx.client.tracking.as_deref(), &want) {
        return Step::Done(Frame::Error(e.into()));
    }
    if want.redirect == ctx.client.id {
        return err("ERR The client ID you want redirect to does not exist");
    }
    // Prefixes add up over calls in BCAST mode (Redis's rule).
    let mut prefixes = ctx
        .client
        .tracking
        .as_ref()
        .map(|t| t.prefixes.clone())
        .unwrap_or_default();
    if let Err(e) = check_prefixes(&prefixes, &want.prefixes) {
        return Step::Done(Frame::Error(e.into()));
    }
    prefixes.extend(want.prefixes.iter().cloned());
    want.prefixes = prefixes;
    let client_id = ctx.client.id;
    let fd = ctx.client.fd;
    let mailbox = ctx
        .client
        .subs
        .get_or_insert_with(|| Box::new(SubState::new(fd)))
        .mailbox
        .clone();
    // On at once, so the next command of this pipeline is tracked; taken
    // back below if the redirect target does not exist.
    world.tracking.borrow_mut().local.insert(
        client_id,
        Local {
            mailbox,
            redirect: want.redirect,
            broken: false,
        },
    );
    let redirect = want.redirect;
    let bcast = want.bcast.then(|| Bcast {
        client: client_id,
        prefixes: want.prefixes.clone(),
        noloop: want.noloop,
    });
    ctx.client.tracking = Some(Box::new(want));
    update_redir(ctx, redirect as i64);
    if redirect == 0 && bcast.is_none() {
        return Step::Done(Frame::Ok);
    }
    Step::Async(Box::pin(async move {
        if redirect != 0 {
            let found = world
                .count_every_core(CoreTask::HasClient { id: redirect })
                .await;
            if found == 0 {
                world.tracking.borrow_mut().local.remove(&client_id);
                return Frame::err("ERR The client ID you want redirect to does not exist");
            }
        }
        if let Some(reg) = bcast {
            world
                .broadcast_task(CoreTask::TrackBcast {
                    client: client_id,
                    reg: Some(reg),
                })
                .await;
        }
        Frame::Ok
    }))
}

/// Redis's refusals of a mode change, in its order.
fn check_modes(now: Option<&TrackState>, want: &TrackState) -> Result<(), String> {
    if !want.bcast && !want.prefixes.is_empty() {
        return Err("ERR PREFIX option requires BCAST mode to be enabled".into());
    }
    if now.is_some_and(|n| n.bcast != want.bcast) {
        return Err("ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.".into());
    }
    if want.bcast && (want.optin || want.optout) {
        return Err("ERR OPTIN and OPTOUT are not compatible with BCAST".into());
    }
    if want.optin && want.optout {
        return Err("ERR You can't use both OPTIN and OPTOUT".into());
    }
    if now.is_some_and(|n| (want.optin && n.optout) || (want.optout && n.optin)) {
        return Err("ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.".into());
    }
    Ok(())
}

/// Prefixes of one client must not overlap (one a prefix of another).
fn check_prefixes(have: &[Bytes], new: &[Bytes]) -> Result<(), String> {
    let overlap = |a: &[u8], b: &[u8]| a.starts_with(b) || b.starts_with(a);
    for (i, p) in new.iter().enumerate() {
        if let Some(h) = have.iter().find(|h| overlap(p, h) && *h != p) {
            return Err(format!(
                "ERR Prefix '{}' overlaps with an existing prefix '{}'. Prefixes for a single client must not overlap.",
                clip(p),
                clip(h)
            ));
        }
        if let Some(o) = new[i + 1..].iter().find(|o| overlap(p, o)) {
            return Err(format!(
                "ERR Prefix '{}' overlaps with another provided prefix '{}'. Prefixes for a single client must not overlap.",
                clip(p),
                clip(o)
            ));
        }
    }
    Ok(())
}

/// CLIENT LIST's `redir=`.
fn update_redir(ctx: &mut Ctx, redir: i64) {
    let id = ctx.client.id;
    ctx.world
        .clients
        .borrow_mut()
        .update(id, |c| c.redir = redir);
}

/// CLIENT CACHING YES|NO.
pub fn client_caching(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    still_on(ctx.world, ctx.client);
    let Some(t) = ctx.client.tracking.as_deref_mut() else {
        return err("ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled");
    };
    if !t.optin && !t.optout {
        return err("ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled");
    }
    if is(&a[2], "YES") {
        if !t.optin {
            return err(
                "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.",
            );
        }
        t.caching = Some(true);
    } else if is(&a[2], "NO") {
        if !t.optout {
            return err(
                "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.",
            );
        }
        t.caching = Some(false);
    } else {
        return err(SYNTAX);
    }
    Step::Done(Frame::Ok)
}

/// CLIENT GETREDIR: -1 when not tracking, 0 without a redirect.
pub fn client_getredir(ctx: &mut Ctx) -> Step {
    still_on(ctx.world, ctx.client);
    Step::Done(Frame::Int(
        ctx.client
            .tracking
            .as_ref()
            .map_or(-1, |t| t.redirect as i64),
    ))
}

/// CLIENT TRACKINGINFO: flags, redirect and prefixes, as Redis lists them.
pub fn client_trackinginfo(ctx: &mut Ctx) -> Step {
    still_on(ctx.world, ctx.client);
    let broken = ctx
        .world
        .tracking
        .borrow()
        .local
        .get(&ctx.client.id)
        .is_some_and(|l| l.broken);
    let (flags, redirect, prefixes) = match ctx.client.tracking.as_deref() {
        None => (vec!["off"], -1, Vec::new()),
        Some(t) => {
            let mut f = vec!["on"];
            if t.bcast {
                f.push("bcast");
            }
            if t.optin {
                f.push("optin");
                if t.caching == Some(true) {
                    f.push("caching-yes");
                }
            }
            if t.optout {
                f.push("optout");
                if t.caching == Some(false) {
                    f.push("caching-no");
                }
            }
            if t.noloop {
                f.push("noloop");
            }
            if broken {
                f.push("broken_redirect");
            }
            (f, t.redirect as i64, t.prefixes.clone())
        }
    };
    Step::Done(Frame::Map(vec![
        (
            Frame::bulk("flags"),
            Frame::Set(flags.into_iter().map(Frame::bulk).collect()),
        ),
        (Frame::bulk("redirect"), Frame::Int(redirect)),
        (
            Frame::bulk("prefixes"),
            Frame::Array(prefixes.into_iter().map(Frame::Bulk).collect()),
        ),
    ]))
}
