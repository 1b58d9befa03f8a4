//! What every door (RESP, text, HTTP) does the same way: admitting a connection
//! (protected mode, `maxclients`, its row in CLIENT LIST), running its
//! requests in bounded batches, sending replies under the output limits, and
//! letting it go. A rule about who may connect or what a connection may cost
//! lives here once, so no door can miss it; this module never parses a
//! request or encodes a reply itself.
//!
//! Back-pressure: at most one send is in flight per connection, and a batch
//! stops taking requests once its replies pass `command::dispatch::OUT_BUDGET`
//! (or `MAX_QUEUED` steps wait on other cores). The next send waits for the
//! one in flight, and no batch is built while a large send is in flight, so
//! a client that does not read its replies stops being read: its further
//! requests wait in the kernel and TCP slows it down. What a connection can
//! hold is then about one receive inbox, the input taken from it and one
//! batch of replies, whatever it sends (README, "Security").

use super::socket::Socket;
use crate::command::acl::users;
use crate::command::context::ClientState;
use crate::command::dispatch::{run_pipeline, OUT_BUDGET};
use crate::command::pubsub::forget_client;
use crate::core::clients::{ClientInfo, Door};
use crate::core::world::World;
use crate::protocol::out::Out;
use bytes::Bytes;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;
use std::time::{Duration, Instant};

/// Redis's reply to a non-loopback client while protected mode is on.
const DENIED: &str = "DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Set up an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.";

/// The text door's form of the same refusal.
const DENIED_TEXT: &str = "ERROR DENIED stairkv is running in protected mode: no password is set, so only loopback clients are served. Set requirepass, or start with --protected-mode no on a trusted network.";

/// True for 127.0.0.0/8, ::1 and their IPv4-mapped forms: the addresses
/// protected mode serves. An address that does not parse is not loopback.
pub fn is_loopback(addr: &str) -> bool {
    match addr.parse::<SocketAddr>() {
        Ok(a) => match a.ip() {
            IpAddr::V4(ip) => ip.is_loopback(),
            IpAddr::V6(ip) => {
                ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
            }
        },
        Err(_) => false,
    }
}

/// Whether `bind` lets clients from beyond this machine connect.
pub fn binds_beyond_loopback(bind: &str) -> bool {
    match bind.parse::<IpAddr>() {
        Ok(ip) => !ip.is_loopback(),
        // A host name: whatever it resolves to, assume the worst.
        Err(_) => bind != "localhost",
    }
}

/// Why a connection was not let in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Protected mode: not loopback, and no password is set.
    Protected,
    /// `maxclients` reached.
    Full,
}

impl Refusal {
    /// The refusal in a door's words (the HTTP door answers it as JSON).
    pub fn message(self, door: Door) -> &'static str {
        match (self, door) {
            (Refusal::Protected, Door::Text) => DENIED_TEXT,
            (Refusal::Protected, _) => DENIED,
            (Refusal::Full, Door::Text) => "ERROR max number of clients reached",
            (Refusal::Full, _) => "ERR max number of clients reached",
        }
    }
}

/// Let a new connection in, or refuse it with its door's words and close it.
/// Returns the connection's state, registered in this core's client table.
pub async fn admit(world: &Rc<World>, stream: &mut Socket, door: Door) -> Option<ClientState> {
    match admission(world, stream, door) {
        Ok(client) => Some(client),
        Err(why) => {
            let mut msg = Out::new();
            match door {
                Door::Text => {
                    msg.extend_from_slice(why.message(door).as_bytes());
                    msg.extend_from_slice(b"\n");
                }
                _ => crate::protocol::reply::error(&mut msg, why.message(door)),
            }
            let _ = stream.write_all(&mut msg).await;
            let _ = stream.finish().await;
            None
        }
    }
}

/// The rules every door applies to a new connection (protected mode,
/// `maxclients`); when it may come in, its state, registered in this core's
/// client table. A refused connection is the door's to answer and close.
pub fn admission(world: &Rc<World>, stream: &Socket, door: Door) -> Result<ClientState, Refusal> {
    world
        .stats
        .connections_received
        .set(world.stats.connections_received.get() + 1);
    let (maxclients, protected) = {
        let c = world.config.borrow();
        (c.maxclients, c.protected_mode)
    };
    let addr = stream.peer_addr();
    // Protected mode holds while the default user has no password (set by
    // requirepass or ACL SETUSER default), as Redis's.
    if protected && !users::default_has_password() && !is_loopback(&addr) {
        tracing::debug!(peer = %addr, "refused by protected mode");
        return Err(Refusal::Protected);
    }
    // maxclients is split evenly over cores: the kernel spreads connections evenly.
    let per_core = maxclients.div_ceil(world.ncores as u64) as usize;
    if world.clients.borrow().len() >= per_core {
        world
            .stats
            .rejected_connections
            .set(world.stats.rejected_connections.get() + 1);
        return Err(Refusal::Full);
    }
    let keepalive = world.config.borrow().tcp_keepalive;
    if keepalive > 0 {
        if let Err(e) = set_keepalive(stream.raw_fd(), keepalive) {
            tracing::debug!(peer = %addr, error = %e, "cannot turn TCP keepalive on");
        }
    }
    let laddr = stream.local_addr();
    let id = world.clients.borrow_mut().next_id(world.id, world.ncores);
    let row = ClientInfo::new(
        id,
        addr.clone(),
        laddr.clone(),
        stream.raw_fd(),
        world.id,
        door,
    );
    world.clients.borrow_mut().add(row);
    let mut client = ClientState::new(id, addr, laddr, door);
    client.fd = stream.raw_fd();
    Ok(client)
}

/// Redis's `tcp-keepalive`: probes after `secs` of silence, then every
/// third of that, and the connection is dropped after three unanswered
/// (Redis's `anetKeepAlive`), so a peer that vanished without a FIN is found.
pub fn set_keepalive(fd: std::os::fd::RawFd, secs: u64) -> io::Result<()> {
    let idle = secs.min(i32::MAX as u64) as libc::c_int;
    let opts = [
        (libc::SOL_SOCKET, libc::SO_KEEPALIVE, 1),
        (libc::IPPROTO_TCP, libc::TCP_KEEPIDLE, idle),
        (libc::IPPROTO_TCP, libc::TCP_KEEPINTVL, (idle / 3).max(1)),
        (libc::IPPROTO_TCP, libc::TCP_KEEPCNT, 3),
    ];
    for (level, name, value) in opts {
        // SAFETY: `value` is a live c_int for the call and its size is
        // passed; setsockopt reads it and keeps nothing. A bad descriptor is
        // an error return, not undefined behaviour.
        let r = unsafe {
            libc::setsockopt(
                fd,
                level,
                name,
                (&value as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if r != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Read more of a client's input. With `timeout` set, a client that sends
/// nothing for that long gets an error instead (the connection then ends,
/// as Redis closes idle clients); subscribers and monitors wait elsewhere
/// and are never closed for it.
pub async fn read_or_idle(
    world: &World,
    stream: &mut Socket,
    rbuf: &mut bytes::BytesMut,
) -> io::Result<usize> {
    let idle = world.config.borrow().timeout;
    if idle == 0 {
        return stream.read_into(rbuf).await;
    }
    // The read is cancel-safe: what it took stays in `rbuf`.
    let read = async { Some(stream.read_into(rbuf).await) };
    let limit = async {
        crate::runtime::timer::sleep(Duration::from_secs(idle)).await;
        None
    };
    match futures_lite::future::or(read, limit).await {
        Some(r) => r,
        None => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("idle for {idle} s (timeout)"),
        )),
    }
}

/// The connection is over: deliver its last replies (unless it was killed or
/// dropped for its output), then forget it everywhere.
pub async fn leave(world: &Rc<World>, stream: &mut Socket, client: &mut ClientState) {
    let killed = world.clients.borrow().is_killed(client.id);
    if !killed && !client.output_dropped {
        if let Err(e) = stream.finish().await {
            tracing::debug!(client = client.id, error = %e, "last reply not delivered");
        }
    }
    forget(world, client);
}

/// Forget a connection that is over everywhere: its subscriptions, watches,
/// tracking and its row in CLIENT LIST.
pub fn forget(world: &Rc<World>, client: &mut ClientState) {
    forget_client(world, client);
    crate::command::transactions::forget_client(world, client);
    crate::command::tracking::reset(world, client);
    world.clients.borrow_mut().remove(client.id);
}

/// A connection between reading requests and sending their last reply: the
/// shutdown drain waits until no connection holds one, so a reply built
/// before the stop (a waiter's null, say) still reaches its client.
pub struct Busy<'a>(&'a World);

impl<'a> Busy<'a> {
    pub fn new(world: &'a World) -> Busy<'a> {
        world.busy.set(world.busy.get() + 1);
        Busy(world)
    }
}

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.0.busy.set(self.0.busy.get() - 1);
    }
}

/// Run `requests` in order, in batches bounded by the output budget, sending
/// the replies as each batch ends (see the module doc).
pub async fn run(
    world: &Rc<World>,
    stream: &mut Socket,
    client: &mut ClientState,
    requests: &mut Vec<Vec<Bytes>>,
    out: &mut Out,
) -> io::Result<()> {
    while !requests.is_empty() {
        if stream.unsent() >= OUT_BUDGET {
            // A large send is still in flight: let it go before building the
            // next batch, so a client that does not read holds one batch.
            settle(world, stream, client, out.len()).await?;
        }
        run_pipeline(world, client, requests, out).await;
        if client.closing {
            requests.clear();
            break;
        }
        if !requests.is_empty() || out.len() >= OUT_BUDGET {
            send(world, stream, client, out).await?;
        }
    }
    Ok(())
}

/// Hand `out` to the socket once the send in flight is done (see `settle`).
pub async fn send(
    world: &World,
    stream: &mut Socket,
    client: &mut ClientState,
    out: &mut Out,
) -> io::Result<()> {
    if out.is_empty() {
        return Ok(());
    }
    settle(world, stream, client, out.len()).await?;
    world.count_io(0, out.len() as u64);
    stream.write_all(out).await
}

/// Wait until the send in flight is done, `more` bytes of replies being
/// ready behind it, under the `client-output-buffer-limit normal` rule: past
/// the hard limit, or past the soft limit for its seconds, the client is
/// closed (Redis's rule) and its unsent replies are dropped. Since the server
/// stops reading a client that does not read, what it holds itself stays
/// small; the limit counts every reply the client has not taken: those held
/// here and those waiting in the socket's send queue in the kernel.
async fn settle(
    world: &World,
    stream: &mut Socket,
    client: &mut ClientState,
    more: usize,
) -> io::Result<()> {
    let in_flight = stream.unsent();
    if in_flight == 0 {
        client.over_soft_limit_since = None;
        return Ok(());
    }
    let [hard, soft, soft_secs] = world.config.borrow().normal_limit;
    let mut unsent = in_flight + more;
    if hard > 0 || soft > 0 {
        unsent += stream.queued_in_kernel();
    }
    // This may wait: CLIENT LIST shows what is held meanwhile.
    world
        .clients
        .borrow_mut()
        .update(client.id, |c| c.omem = unsent);
    if hard > 0 && unsent as u64 > hard {
        return Err(over_limit(client, unsent));
    }
    if soft > 0 && unsent as u64 > soft {
        let since = *client
            .over_soft_limit_since
            .get_or_insert_with(Instant::now);
        let left = Duration::from_secs(soft_secs).saturating_sub(since.elapsed());
        if left.is_zero() {
            return Err(over_limit(client, unsent));
        }
        // The send in flight may take long if the client does not read: the
        // soft limit's clock must be able to end the wait.
        let settled = futures_lite::future::or(async { Some(stream.settle().await) }, async {
            crate::runtime::timer::sleep(left).await;
            None
        })
        .await;
        match settled {
            Some(r) => r?,
            None => return Err(over_limit(client, unsent)),
        }
    } else {
        client.over_soft_limit_since = None;
        stream.settle().await?;
    }
    world.clients.borrow_mut().update(client.id, |c| c.omem = 0);
    Ok(())
}

fn over_limit(client: &mut ClientState, unsent: usize) -> io::Error {
    tracing::warn!(
        client = client.id,
        addr = %client.addr,
        unsent,
        "client closed for overcoming of output buffer limits"
    );
    client.output_dropped = true;
    // SAFETY: shutdown only ends I/O on the connection's own live descriptor;
    // the socket closes it later. A send stuck on a client that does not read
    // then fails at once instead of holding the connection open.
    unsafe { libc::shutdown(client.fd, libc::SHUT_RDWR) };
    io::Error::other("output buffer limit")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    fn sockopt(fd: std::os::fd::RawFd, level: libc::c_int, name: libc::c_int) -> libc::c_int {
        let mut v: libc::c_int = -1;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: `v` and `len` are live for the call and `len` is `v`'s size.
        let r = unsafe {
            libc::getsockopt(
                fd,
                level,
                name,
                (&mut v as *mut libc::c_int).cast(),
                &mut len,
            )
        };
        assert_eq!(r, 0, "getsockopt");
        v
    }

    #[test]
    fn keepalive_is_set_as_redis_sets_it() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let _c = std::net::TcpStream::connect(l.local_addr().expect("addr")).expect("connect");
        let (s, _) = l.accept().expect("accept");
        let fd = s.as_raw_fd();
        set_keepalive(fd, 300).expect("set");
        assert_eq!(sockopt(fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE), 1);
        assert_eq!(sockopt(fd, libc::IPPROTO_TCP, libc::TCP_KEEPIDLE), 300);
        assert_eq!(sockopt(fd, libc::IPPROTO_TCP, libc::TCP_KEEPINTVL), 100);
        assert_eq!(sockopt(fd, libc::IPPROTO_TCP, libc::TCP_KEEPCNT), 3);
        assert!(set_keepalive(-1, 300).is_err());
    }

    #[test]
    fn loopback_addresses_are_told_apart() {
        assert!(is_loopback("127.0.0.1:5000"));
        assert!(is_loopback("127.3.4.5:1"));
        assert!(is_loopback("[::1]:6379"));
        assert!(is_loopback("[::ffff:127.0.0.1]:6379"));
        assert!(!is_loopback("10.0.0.2:5000"));
        assert!(!is_loopback("[2001:db8::1]:1"));
        assert!(!is_loopback("[::ffff:10.0.0.1]:6379"));
        assert!(!is_loopback(""));
        assert!(!binds_beyond_loopback("127.0.0.1"));
        assert!(!binds_beyond_loopback("::1"));
        assert!(binds_beyond_loopback("0.0.0.0"));
        assert!(binds_beyond_loopback("::"));
        assert!(binds_beyond_loopback("10.1.2.3"));
    }
}
