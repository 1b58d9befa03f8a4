//! The server's function libraries (FUNCTION LOAD): each library's code and
//! what it declared — its functions' names, flags and descriptions — in one
//! store for every core, so a library loaded on one core is callable on all
//! of them, snapshots save it and a restart brings it back. It never runs
//! Lua: the command layer (`command::scripting::function`) reads a library's
//! declarations by running its code, and installs that reader here
//! ([`set_reader`]) so a load at start (`recover`) can do the same.
//!
//! Each library carries a version, new for every load, by which each core's
//! Lua engine knows whether the functions it compiled are still the store's.

use bytes::Bytes;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// A function's flags (`redis.register_function`'s `flags`), as bits.
pub const NO_WRITES: u8 = 1;
pub const ALLOW_OOM: u8 = 2;
pub const ALLOW_STALE: u8 = 4;
pub const NO_CLUSTER: u8 = 8;
pub const ALLOW_CROSS_SLOT_KEYS: u8 = 16;

/// The flags' names, in the order FUNCTION LIST gives them.
pub const FLAG_NAMES: [(&str, u8); 5] = [
    ("no-writes", NO_WRITES),
    ("allow-oom", ALLOW_OOM),
    ("allow-stale", ALLOW_STALE),
    ("no-cluster", NO_CLUSTER),
    ("allow-cross-slot-keys", ALLOW_CROSS_SLOT_KEYS),
];

/// One function a library registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Func {
    pub name: String,
    pub description: Option<String>,
    pub flags: u8,
}

/// One library: its name, its whole code (the `#!lua name=...` line
/// included, as FUNCTION LIST WITHCODE and FUNCTION DUMP give it back) and
/// its functions in the order it registered them.
#[derive(Debug)]
pub struct Library {
    pub name: String,
    pub code: Bytes,
    pub functions: Vec<Func>,
    /// New for every load (see the module doc).
    pub version: u64,
}

/// Reads a library's declarations from its code (by running it), or says
/// why it cannot be loaded, as FUNCTION LOAD's error text.
pub type Reader = fn(&Bytes) -> Result<Library, String>;

static READER: OnceLock<Reader> = OnceLock::new();
static VERSIONS: AtomicU64 = AtomicU64::new(1);
/// Bumped by every change of the store: a core's engine drops what it
/// compiled for libraries that are gone when it sees a new one.
static CHANGES: AtomicU64 = AtomicU64::new(0);

/// The command layer's reader (once, at start).
pub fn set_reader(r: Reader) {
    let _ = READER.set(r);
}

/// The declarations of `code`, through the installed reader.
pub fn read(code: &Bytes) -> Result<Library, String> {
    match READER.get() {
        Some(r) => r(code),
        None => Err("ERR function libraries cannot be read here".into()),
    }
}

/// A version no library had.
pub fn new_version() -> u64 {
    VERSIONS.fetch_add(1, Ordering::Relaxed)
}

/// The store's change count (see [`CHANGES`]).
pub fn changes() -> u64 {
    CHANGES.load(Ordering::Acquire)
}

#[derive(Default)]
struct Store {
    libraries: BTreeMap<String, Arc<Library>>,
    /// Function name, lower-cased (Redis's function names are not
    /// case-sensitive, its library names are) → its library's name.
    functions: BTreeMap<String, String>,
}

fn store() -> std::sync::MutexGuard<'static, Store> {
    static STORE: OnceLock<Mutex<Store>> = OnceLock::new();
    STORE
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

/// How a load treats a library of the same name.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mode {
    /// Refused (FUNCTION LOAD without REPLACE).
    Refuse,
    /// Replaced (FUNCTION LOAD REPLACE).
    Replace,
    /// Every library there is goes first (FUNCTION RESTORE FLUSH).
    Flush,
}

/// Why [`insert`] refused: a library that exists (unless replaced), or a
/// function another library has (the command layer words each).
#[derive(Debug, PartialEq, Eq)]
pub enum Clash {
    Library(String),
    Function(String),
}

/// Add `libs` all or none (see [`Clash`]).
pub fn insert(libs: Vec<Library>, mode: Mode) -> Result<(), Clash> {
    let mut s = store();
    let mut names = std::collections::HashSet::new();
    let mut fns = std::collections::HashSet::new();
    let kept = |s: &Store| mode != Mode::Flush && !s.libraries.is_empty();
    for lib in &libs {
        if !names.insert(lib.name.as_str())
            || (mode == Mode::Refuse && s.libraries.contains_key(&lib.name))
        {
            return Err(Clash::Library(lib.name.clone()));
        }
        for f in &lib.functions {
            let key = f.name.to_ascii_lowercase();
            let other = (kept(&s))
                .then(|| s.functions.get(&key))
                .flatten()
                .filter(|owner| **owner != lib.name);
            if other.is_some() || !fns.insert(key) {
                return Err(Clash::Function(f.name.clone()));
            }
        }
    }
    if mode == Mode::Flush {
        s.libraries.clear();
        s.functions.clear();
    }
    for lib in libs {
        remove(&mut s, &lib.name);
        for f in &lib.functions {
            s.functions
                .insert(f.name.to_ascii_lowercase(), lib.name.clone());
        }
        s.libraries.insert(lib.name.clone(), Arc::new(lib));
    }
    CHANGES.fetch_add(1, Ordering::Release);
    Ok(())
}

fn remove(s: &mut Store, name: &str) -> bool {
    let Some(old) = s.libraries.remove(name) else {
        return false;
    };
    for f in &old.functions {
        s.functions.remove(&f.name.to_ascii_lowercase());
    }
    true
}

/// FUNCTION DELETE: false when there is no such library.
pub fn delete(name: &str) -> bool {
    let gone = remove(&mut store(), name);
    if gone {
        CHANGES.fetch_add(1, Ordering::Release);
    }
    gone
}

/// FUNCTION FLUSH, and FUNCTION RESTORE FLUSH before it loads.
pub fn flush() {
    let mut s = store();
    s.libraries.clear();
    s.functions.clear();
    CHANGES.fetch_add(1, Ordering::Release);
}

/// The library holding function `name` (in any case), and the function.
pub fn find(name: &str) -> Option<(Arc<Library>, Func)> {
    let s = store();
    let lib = s
        .libraries
        .get(s.functions.get(&name.to_ascii_lowercase())?)?;
    let f = lib
        .functions
        .iter()
        .find(|f| f.name.eq_ignore_ascii_case(name))?;
    Some((lib.clone(), f.clone()))
}

/// Is `version` still a library's current version?
pub fn current(name: &str, version: u64) -> bool {
    store()
        .libraries
        .get(name)
        .is_some_and(|l| l.version == version)
}

/// Every library, by name.
pub fn all() -> Vec<Arc<Library>> {
    store().libraries.values().cloned().collect()
}

/// Every library's code, by name: what a snapshot or a dump saves.
pub fn codes() -> Vec<Bytes> {
    store().libraries.values().map(|l| l.code.clone()).collect()
}

/// Libraries and functions held.
pub fn counts() -> (usize, usize) {
    let s = store();
    (s.libraries.len(), s.functions.len())
}

/// The libraries' file beside the logs (`<appendfilename>.functions` in
/// the logs' folder): what a restart from the logs loads them from. It holds
/// a FUNCTION DUMP payload (checksummed), rewritten whole — beside it,
/// synced, renamed over it — at every change while the logs are on and at
/// every log rewrite (so the first start with logs on writes it too).
pub fn file_path(aof_dir: &std::path::Path, appendfilename: &str) -> std::path::PathBuf {
    aof_dir.join(format!("{appendfilename}.functions"))
}

/// Load the libraries of `path` (blocking; at start), if it exists: how
/// many. A file that does not check out, or a library that no longer
/// loads, stops the start as a bad log would.
pub fn load_file(path: &std::path::Path) -> Result<usize, String> {
    let payload = match std::fs::read(path) {
        Ok(p) => p,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let codes = crate::persist::rdb::restore_functions(&payload)
        .map_err(|e| format!("{}: not a libraries file ({e:?})", path.display()))?;
    load_codes(
        codes.into_iter().map(Bytes::from),
        &path.display().to_string(),
    )
}

/// Read and add libraries found at start (a snapshot's, the logs' file),
/// naming `source` in an error.
pub fn load_codes(codes: impl IntoIterator<Item = Bytes>, source: &str) -> Result<usize, String> {
    let mut libs = Vec::new();
    for code in codes {
        libs.push(read(&code).map_err(|e| format!("{source}: a function library: {e}"))?);
    }
    let n = libs.len();
    insert(libs, Mode::Refuse)
        .map_err(|c| format!("{source}: a function library clashes: {c:?}"))?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lib(name: &str, fns: &[&str]) -> Library {
        Library {
            name: name.into(),
            code: Bytes::from(format!("#!lua name={name}\n")),
            functions: fns
                .iter()
                .map(|f| Func {
                    name: (*f).into(),
                    description: None,
                    flags: 0,
                })
                .collect(),
            version: new_version(),
        }
    }

    // One test: the store is the process's.
    #[test]
    fn libraries_load_replace_and_clash_as_redis() {
        flush();
        insert(vec![lib("a", &["f", "g"])], Mode::Refuse).expect("first");
        assert_eq!(
            insert(vec![lib("a", &["h"])], Mode::Refuse).unwrap_err(),
            Clash::Library("a".into())
        );
        assert_eq!(
            insert(vec![lib("b", &["g"])], Mode::Refuse).unwrap_err(),
            Clash::Function("g".into())
        );
        // Replacing a library may keep or drop its own functions.
        insert(vec![lib("a", &["g", "h"])], Mode::Replace).expect("replace");
        assert!(find("f").is_none());
        assert_eq!(
            find("H").map(|(l, f)| (l.name.clone(), f.name)),
            Some(("a".into(), "h".into()))
        );
        assert_eq!(
            insert(vec![lib("b", &["G"])], Mode::Refuse).unwrap_err(),
            Clash::Function("G".into())
        );
        assert_eq!(counts(), (1, 2));
        // All or none.
        assert!(insert(vec![lib("c", &["x"]), lib("d", &["x"])], Mode::Refuse).is_err());
        assert!(find("x").is_none());
        assert!(delete("a"));
        assert!(!delete("a"));
        assert_eq!(counts(), (0, 0));
    }
}
