//! A connection's client-side caching mode ([`TrackState`]): held by the
//! context's `ClientState`, set and read by the tracking family
//! (`command::tracking`). It sits under both so neither imports the other
//! for it; it holds data only.

use bytes::Bytes;

/// A tracking connection's mode.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrackState {
    pub bcast: bool,
    pub optin: bool,
    pub optout: bool,
    pub noloop: bool,
    /// The client notices go to (0: this one).
    pub redirect: u64,
    pub prefixes: Vec<Bytes>,
    /// CLIENT CACHING YES/NO, for the next command (or transaction).
    pub caching: Option<bool>,
}
