//! A connection's transaction state: the commands queued since MULTI, whether
//! a queue-time error doomed them ([`MultiState`]), and the keys it WATCHes
//! with the core each watch was registered on ([`WatchState`]). The context
//! holds it in `ClientState` and the dispatcher queues into it; the
//! transactions family fills, runs and empties it. It sits under both so
//! neither imports the other for it. It never runs a command and never
//! sends a message.

use bytes::Bytes;

/// Between MULTI and EXEC/DISCARD.
#[derive(Debug, Default)]
pub struct MultiState {
    /// Each queued request, its command's name first (looked up again at EXEC).
    pub queued: Vec<Vec<Bytes>>,
    /// A command was refused while queueing: EXEC answers EXECABORT.
    pub aborted: bool,
}

/// What WATCH registered, and where.
#[derive(Debug, Default)]
pub struct WatchState {
    /// Each watched key and the core its watch was registered on (it follows
    /// the key when the key's shard moves).
    pub keys: Vec<(Bytes, usize)>,
}
