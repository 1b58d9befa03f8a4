//! Accept loops: each core binds its own SO_REUSEPORT listener (glommio sets the
//! option) so the kernel spreads connections over cores, and spawns one task per
//! connection on this core. On shutdown the loop stops accepting.

use crate::core::world::World;
use futures_lite::future;
use glommio::net::{TcpListener, TcpStream};
use std::future::Future;
use std::rc::Rc;

/// Accept until shutdown, running `serve` for each connection on this core.
pub async fn accept_loop<F, Fut>(world: Rc<World>, listener: TcpListener, serve: F)
where
    F: Fn(Rc<World>, TcpStream) -> Fut + 'static,
    Fut: Future<Output = ()> + 'static,
{
    loop {
        let accepted = future::or(async { Some(listener.accept().await) }, async {
            world.shutdown_notify.wait().await;
            None
        })
        .await;
        let Some(res) = accepted else {
            // Keep the notification for other waiters on this core.
            world.shutdown_notify.notify();
            return;
        };
        match res {
            Ok(stream) => {
                let w = world.clone();
                glommio::spawn_local(serve(w, stream)).detach();
            }
            Err(e) => {
                tracing::warn!(core = world.id, error = %e, "accept failed");
                glommio::timer::sleep(std::time::Duration::from_millis(10)).await;
            }
        }
        if world.shutting_down.get() {
            return;
        }
    }
}
