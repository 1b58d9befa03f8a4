//! Sockets: one SO_REUSEPORT listener per core per protocol, the per-core
//! socket ring that carries their bytes ([`ring`], [`socket`]), and the
//! connection loops that read requests, run them through the command layer and
//! write replies. A connection lives and dies on the core that accepted it;
//! this layer never interprets a command itself.

pub mod bufring;
pub mod door;
pub mod listener;
pub mod prefetch;
pub mod resp;
pub mod ring;
pub mod socket;
pub mod text;
