//! Accept loops: each core binds its own SO_REUSEPORT listener (glommio sets the
//! option) so the kernel spreads connections over cores, and spawns one task per
//! connection on this core. On shutdown the server cancels the loop.

use crate::core::world::World;
use glommio::net::{TcpListener, TcpStream};
use std::future::Future;
use std::rc::Rc;

/// Accept forever, running `serve` for each connection on this core. Shutdown
/// cancels this task (dropping the listener), so it never waits on a signal itself.
pub async fn accept_loop<F, Fut>(world: Rc<World>, listener: TcpListener, serve: F)
where
    F: Fn(Rc<World>, TcpStream) -> Fut + 'static,
    Fut: Future<Output = ()> + 'static,
{
    loop {
        match listener.accept().await {
            Ok(stream) => {
                glommio::spawn_local(serve(world.clone(), stream)).detach();
            }
            Err(e) => {
                // Out of descriptors or a connection reset before accept: keep serving.
                tracing::warn!(core = world.id, error = %e, "accept failed");
                glommio::timer::sleep(std::time::Duration::from_millis(10)).await;
            }
        }
    }
}
