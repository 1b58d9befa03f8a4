//! The clients connected to this core: what CLIENT LIST/INFO/KILL and INFO
//! report. A connection registers itself here and updates its own row; other
//! cores see these rows only through a mesh task that copies them. Killing a
//! client shuts its socket down so its blocked read ends.

use std::collections::BTreeMap;
use std::time::Instant;

/// Which door a connection came in by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Door {
    #[default]
    Resp,
    /// The seed's line protocol (`PUT`/`GET`/`DEL`/`AUTH`).
    Text,
    /// The HTTP door (keys API, WebSocket events and stats).
    Http,
}

impl Door {
    pub fn name(self) -> &'static str {
        match self {
            Door::Resp => "resp",
            Door::Text => "text",
            Door::Http => "http",
        }
    }
}

/// One connection's public facts (a copy of this is `Send` and crosses cores).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientInfo {
    pub id: u64,
    pub addr: String,
    pub laddr: String,
    pub fd: i32,
    pub name: String,
    pub age_secs: u64,
    pub idle_secs: u64,
    pub db: u32,
    pub resp: u8,
    pub last_cmd: String,
    pub core: usize,
    pub lib_name: String,
    pub lib_ver: String,
    /// Channel, pattern and shard-channel subscriptions.
    pub subs: [usize; 3],
    pub door: Door,
    /// The ACL user the connection is logged in as.
    pub user: String,
    /// Where its client-side caching notices go (-1: not tracking; 0: itself).
    pub redir: i64,
    /// Reply bytes handed to the socket and not yet taken by the kernel, plus
    /// those still being assembled (CLIENT LIST `omem`), as of the last send.
    pub omem: usize,
    /// Waiting in a blocking command or WAIT (CLIENT LIST's `b` flag).
    pub blocked: bool,
}

impl ClientInfo {
    /// A new connection's row: no name, database 0, RESP2, nothing run yet.
    pub fn new(
        id: u64,
        addr: String,
        laddr: String,
        fd: i32,
        core: usize,
        door: Door,
    ) -> ClientInfo {
        ClientInfo {
            id,
            addr,
            laddr,
            fd,
            name: String::new(),
            age_secs: 0,
            idle_secs: 0,
            db: 0,
            resp: 2,
            last_cmd: String::new(),
            core,
            lib_name: String::new(),
            lib_ver: String::new(),
            subs: [0; 3],
            door,
            user: "default".into(),
            redir: -1,
            omem: 0,
            blocked: false,
        }
    }

    /// CLIENT LIST's flags, as Redis spells them (`N`: none).
    fn flags(&self) -> &'static str {
        match (self.subs.iter().any(|&n| n > 0), self.blocked) {
            (true, true) => "Pb",
            (true, false) => "P",
            (false, true) => "b",
            (false, false) => "N",
        }
    }

    /// One line of CLIENT LIST / CLIENT INFO, in Redis's field order for the fields we have.
    pub fn line(&self) -> String {
        format!(
            "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db={} sub={} psub={} ssub={} multi=-1 watch=0 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem={} tot-mem={} events=r cmd={} user={} redir={} resp={} lib-name={} lib-ver={} core={} door={}",
            self.id,
            self.addr,
            self.laddr,
            self.fd,
            self.name,
            self.age_secs,
            self.idle_secs,
            self.flags(),
            self.db,
            self.subs[0],
            self.subs[1],
            self.subs[2],
            self.omem,
            self.omem,
            if self.last_cmd.is_empty() { "NULL" } else { &self.last_cmd },
            self.user,
            self.redir,
            self.resp,
            self.lib_name,
            self.lib_ver,
            self.core,
            self.door.name()
        )
    }
}

/// A filter for CLIENT KILL (new-style `ID`/`ADDR`/`LADDR`/`USER` filters, ANDed).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KillFilter {
    pub id: Option<u64>,
    pub addr: Option<String>,
    pub laddr: Option<String>,
    /// Connections logged in as this ACL user (`USER`; ACL DELUSER).
    pub user: Option<String>,
    /// Only connections with a subscription (a user's channels changed).
    pub subscribed: bool,
    /// Never kill the connection that asked (`SKIPME yes`, the default).
    pub skip_id: Option<u64>,
}

struct Row {
    info: ClientInfo,
    created: Instant,
    last_active: Instant,
    killed: bool,
}

#[derive(Default)]
pub struct Clients {
    rows: BTreeMap<u64, Row>,
    next_seq: u64,
}

impl Clients {
    /// A new client id, unique across cores: core ids are the residue.
    pub fn next_id(&mut self, core: usize, ncores: usize) -> u64 {
        self.next_seq += 1;
        self.next_seq * ncores as u64 + core as u64
    }

    pub fn add(&mut self, info: ClientInfo) {
        let now = Instant::now();
        self.rows.insert(
            info.id,
            Row {
                info,
                created: now,
                last_active: now,
                killed: false,
            },
        );
    }

    pub fn remove(&mut self, id: u64) {
        self.rows.remove(&id);
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Record activity (a command) on a client.
    pub fn touch(&mut self, id: u64, cmd: &str) {
        if let Some(r) = self.rows.get_mut(&id) {
            r.last_active = Instant::now();
            if r.info.last_cmd != cmd {
                r.info.last_cmd.clear();
                r.info.last_cmd.push_str(cmd);
            }
        }
    }

    pub fn update(&mut self, id: u64, f: impl FnOnce(&mut ClientInfo)) {
        if let Some(r) = self.rows.get_mut(&id) {
            f(&mut r.info);
        }
    }

    pub fn is_killed(&self, id: u64) -> bool {
        self.rows.get(&id).map(|r| r.killed).unwrap_or(false)
    }

    pub fn snapshot(&self) -> Vec<ClientInfo> {
        self.rows.values().map(Self::row_info).collect()
    }

    pub fn get(&self, id: u64) -> Option<ClientInfo> {
        self.rows.get(&id).map(Self::row_info)
    }

    fn row_info(r: &Row) -> ClientInfo {
        let mut info = r.info.clone();
        info.age_secs = r.created.elapsed().as_secs();
        info.idle_secs = r.last_active.elapsed().as_secs();
        info
    }

    /// Mark matching clients killed and shut their sockets; returns how many.
    pub fn kill(&mut self, filter: &KillFilter) -> usize {
        let mut n = 0;
        for r in self.rows.values_mut() {
            if r.killed || filter.skip_id == Some(r.info.id) {
                continue;
            }
            if filter.id.is_some_and(|id| id != r.info.id)
                || filter.addr.as_ref().is_some_and(|a| *a != r.info.addr)
                || filter.laddr.as_ref().is_some_and(|a| *a != r.info.laddr)
                || filter.user.as_ref().is_some_and(|u| *u != r.info.user)
                || (filter.subscribed && r.info.subs.iter().all(|&n| n == 0))
            {
                continue;
            }
            r.killed = true;
            // SAFETY: the fd belongs to a live connection registered on this core (rows are
            // removed before the socket is closed); shutdown only ends its I/O, the owner closes it.
            unsafe {
                libc::shutdown(r.info.fd, libc::SHUT_RDWR);
            }
            n += 1;
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(id: u64, addr: &str) -> ClientInfo {
        ClientInfo::new(id, addr.into(), "127.0.0.1:6379".into(), -1, 0, Door::Resp)
    }

    #[test]
    fn ids_are_unique_across_cores() {
        let mut a = Clients::default();
        let mut b = Clients::default();
        let ids: Vec<u64> = (0..5)
            .flat_map(|_| [a.next_id(0, 2), b.next_id(1, 2)])
            .collect();
        let mut sorted = ids.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), ids.len());
    }

    #[test]
    fn kill_filters_and_skips_self() {
        let mut c = Clients::default();
        c.add(info(1, "127.0.0.1:1000"));
        c.add(info(2, "127.0.0.1:1001"));
        let f = KillFilter {
            addr: Some("127.0.0.1:1001".into()),
            ..Default::default()
        };
        assert_eq!(c.kill(&f), 1);
        assert!(c.is_killed(2));
        assert!(!c.is_killed(1));
        let me = KillFilter {
            id: Some(1),
            skip_id: Some(1),
            ..Default::default()
        };
        assert_eq!(c.kill(&me), 0);
        assert!(c.snapshot()[0]
            .line()
            .starts_with("id=1 addr=127.0.0.1:1000"));
    }
}
