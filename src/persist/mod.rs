//! Persistence: the formats that let the store outlive its process — each
//! core's append-only log (`log`). Pure codecs and file checks: the cores write
//! and fsync through their own rings one floor up (`core`), so nothing here
//! awaits or runs on a core's thread, and nothing here imports `core` or above.

pub mod log;
