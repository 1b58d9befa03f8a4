//! MONITOR: the connection becomes a monitor of every command any core runs
//! (the lines are made by `observe` and carried by `core::pubsub`). Its
//! lines wait in its mailbox, bounded by the pub/sub output limit like a slow
//! subscriber's messages. It still runs the commands it sends; RESET or
//! closing the connection ends monitoring. Never writes to a socket itself.

use super::context::{Ctx, Step};
use super::frame::Frame;
use super::subscriptions::SubState;
use crate::core::clients::Door;
use crate::core::pubsub::Kind;
use bytes::Bytes;

pub fn monitor(ctx: &mut Ctx, _a: &[Bytes]) -> Step {
    let client = &mut *ctx.client;
    if client.door != Door::Resp {
        return Step::Done(Frame::err("ERR MONITOR is served on the RESP port only"));
    }
    let subs = client
        .subs
        .get_or_insert_with(|| Box::new(SubState::new(client.fd)));
    if subs.set(Kind::Monitor).insert(Bytes::new()) {
        ctx.world.pubsub.borrow_mut().subscribe(
            Kind::Monitor,
            Bytes::new(),
            client.id,
            &subs.mailbox,
        );
    }
    Step::Done(Frame::Ok)
}
