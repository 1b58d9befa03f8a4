//! Accept loops: each core binds its own SO_REUSEPORT listener (glommio sets the
//! option) so the kernel spreads connections over cores, and spawns one task per
//! connection on this core. On shutdown the server cancels the loop.

use super::socket::{Acceptor, Socket};
use crate::core::world::World;
use std::future::Future;
use std::io;
use std::net::ToSocketAddrs;
use std::rc::Rc;

/// Pending connections the kernel queues per listener (Redis's tcp-backlog).
const BACKLOG: i32 = 511;

/// A listening socket on `bind:port` with SO_REUSEPORT, so every core can bind
/// the same address and the kernel spreads connections over them.
pub fn bind_reuseport(bind: &str, port: u16) -> io::Result<std::net::TcpListener> {
    let addr = (bind, port)
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no address to bind"))?;
    let sock = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        Some(socket2::Protocol::TCP),
    )?;
    sock.set_reuse_address(true)?;
    sock.set_reuse_port(true)?;
    sock.bind(&addr.into())?;
    sock.listen(BACKLOG)?;
    Ok(sock.into())
}

/// Fail if something already listens on `bind:port`. Every core binds with
/// SO_REUSEPORT, which would let a second stairkv (or any process of the same
/// user that set the option) silently share the port and take half the
/// connections; a plain bind first refuses, as Redis does, with EADDRINUSE.
pub fn check_free(bind: &str, port: u16) -> io::Result<()> {
    let addr = (bind, port)
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no address to bind"))?;
    let sock = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        Some(socket2::Protocol::TCP),
    )?;
    // SO_REUSEADDR lets the probe past sockets in TIME_WAIT (a quick restart),
    // never past a listener.
    sock.set_reuse_address(true)?;
    sock.bind(&addr.into())?;
    Ok(())
}

/// Accept forever, running `serve` for each connection on this core. Shutdown
/// cancels this task (dropping the listener), so it never waits on a signal itself.
pub async fn accept_loop<F, Fut>(world: Rc<World>, acceptor: Acceptor, serve: F)
where
    F: Fn(Rc<World>, Socket) -> Fut + 'static,
    Fut: Future<Output = ()> + 'static,
{
    loop {
        match acceptor.accept().await {
            Ok(sock) => {
                crate::runtime::task::spawn(serve(world.clone(), sock)).detach();
            }
            Err(e) => {
                // Out of descriptors or a connection reset before accept: keep serving.
                tracing::warn!(core = world.id, error = %e, "accept failed");
                crate::runtime::timer::sleep(std::time::Duration::from_millis(10)).await;
            }
        }
    }
}
