//! The users, process-wide: every core's connections log in against the same
//! set, and a change made on one core applies on all of them at their next
//! command. The set sits behind one lock that only logins and ACL commands
//! take; a connection keeps its own `Arc` of its user and learns of changes
//! from a generation counter (one atomic load per command). `requirepass` is
//! the default user's password, as in Redis; the aclfile's text (`user <name>
//! <rules>` lines) is read and written here. It never touches a socket and
//! never reads or writes a file itself (the ACL family does, off the core).

use super::catalog::Catalog;
use super::rules::{merge_selectors, User};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

static USERS: RwLock<BTreeMap<String, Arc<User>>> = RwLock::new(BTreeMap::new());
static GENERATION: AtomicU64 = AtomicU64::new(1);
/// `acl-pubsub-default`: whether new users get every channel (`allchannels`).
static PUBSUB_ALL: AtomicBool = AtomicBool::new(false);
static CATALOG: OnceLock<&'static Catalog> = OnceLock::new();

/// The catalog rules are read against (set by [`init`]).
pub fn catalog() -> &'static Catalog {
    static NONE: OnceLock<Catalog> = OnceLock::new();
    // Before the start (a unit test) rules know no command: all refused.
    CATALOG
        .get()
        .copied()
        .unwrap_or_else(|| NONE.get_or_init(Catalog::default))
}

/// The registry's lock, usable even after a panic elsewhere: the map is
/// only ever replaced whole or one entry at a time, so it is never torn.
fn read() -> std::sync::RwLockReadGuard<'static, BTreeMap<String, Arc<User>>> {
    USERS.read().unwrap_or_else(|e| e.into_inner())
}

fn write() -> std::sync::RwLockWriteGuard<'static, BTreeMap<String, Arc<User>>> {
    USERS.write().unwrap_or_else(|e| e.into_inner())
}

fn changed() {
    GENERATION.fetch_add(1, Ordering::Release);
}

/// Start with the default user (everything, no password) and `requirepass`.
pub fn init(catalog: &'static Catalog, requirepass: Option<&str>, pubsub_all: bool) {
    let _ = CATALOG.set(catalog);
    PUBSUB_ALL.store(pubsub_all, Ordering::Relaxed);
    let mut users = write();
    users.clear();
    users.insert("default".into(), Arc::new(User::new_default(catalog)));
    drop(users);
    set_default_password(requirepass);
}

/// Changes since the start: a connection whose user is older looks it up again.
#[inline]
pub fn generation() -> u64 {
    GENERATION.load(Ordering::Acquire)
}

pub fn get(name: &str) -> Option<Arc<User>> {
    read().get(name).cloned()
}

pub fn default_user() -> Arc<User> {
    get("default").unwrap_or_else(|| Arc::new(User::new_default(catalog())))
}

/// Whether a new connection starts logged in (the default user is on and
/// has no password), as Redis's `authRequired`.
pub fn autologin() -> bool {
    let d = default_user();
    d.enabled && d.nopass
}

/// Whether the default user has a password: protected mode applies when not.
pub fn default_has_password() -> bool {
    !default_user().nopass
}

/// The user `name` if `pass` logs it in.
pub fn authenticate(name: &str, pass: &[u8]) -> Option<Arc<User>> {
    get(name).filter(|u| u.accepts(pass))
}

pub fn pubsub_all() -> bool {
    PUBSUB_ALL.load(Ordering::Relaxed)
}

pub fn set_pubsub_all(all: bool) {
    PUBSUB_ALL.store(all, Ordering::Relaxed);
}

/// `requirepass`: the default user's only password, or none (`nopass`).
pub fn set_default_password(pass: Option<&str>) {
    let rules: Vec<String> = match pass {
        Some(p) => vec!["resetpass".into(), format!(">{p}")],
        None => vec!["nopass".into()],
    };
    if let Err(e) = set_user("default", &rules) {
        tracing::error!(error = %e, "cannot set the default user's password");
    }
}

/// Redis's rule for names: no spaces, no NUL.
fn valid_name(name: &str) -> bool {
    !name.is_empty() && !name.bytes().any(|b| b == b' ' || b == 0)
}

/// Apply rules to a copy of `base` (or a new user); the first refusal in
/// Redis's words, nothing applied.
fn build(base: Option<&User>, name: &str, rules: &[String]) -> Result<User, String> {
    let cat = catalog();
    let all = pubsub_all();
    let mut user = base.cloned().unwrap_or_else(|| User::new(name, cat, all));
    for rule in merge_selectors(rules)? {
        user.apply(cat, &rule, all)
            .map_err(|e| format!("ERR Error in ACL SETUSER modifier '{rule}': {}", e.text()))?;
    }
    Ok(user)
}

/// ACL SETUSER: create or change a user, all rules or none.
pub fn set_user(name: &str, rules: &[String]) -> Result<(), String> {
    if !valid_name(name) {
        return Err("ERR Usernames can't contain spaces or null characters".into());
    }
    let mut users = write();
    let user = build(users.get(name).map(|u| &**u), name, rules)?;
    users.insert(name.to_owned(), Arc::new(user));
    drop(users);
    changed();
    Ok(())
}

/// ACL DELUSER: how many of `names` existed. The default user stays.
pub fn del_users(names: &[String]) -> Result<usize, String> {
    if names.iter().any(|n| n == "default") {
        return Err("ERR The 'default' user cannot be removed".into());
    }
    let mut users = write();
    let n = names.iter().filter(|n| users.remove(*n).is_some()).count();
    drop(users);
    changed();
    Ok(n)
}

/// Every user, by name.
pub fn all() -> Vec<Arc<User>> {
    read().values().cloned().collect()
}

/// Replace every user (ACL LOAD, the aclfile at start). A set without the
/// default user keeps the current one, so `requirepass` is never lost to a
/// file that does not name it.
pub fn replace(mut users: BTreeMap<String, User>) {
    let mut map = write();
    if !users.contains_key("default") {
        if let Some(d) = map.get("default") {
            users.insert("default".into(), (**d).clone());
        }
    }
    *map = users.into_iter().map(|(k, v)| (k, Arc::new(v))).collect();
    drop(map);
    changed();
}

/// Parse an aclfile's text: `user <name> <rules…>` per line, blank lines and
/// `#` comments skipped. Every error, with its line, or the users.
pub fn parse_file(text: &str, path: &str) -> Result<BTreeMap<String, User>, String> {
    let mut users = BTreeMap::new();
    let mut errors = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let words: Vec<String> = line.split_ascii_whitespace().map(String::from).collect();
        if words[0] != "user" || words.len() < 2 {
            errors.push(format!(
                "{path}:{}: line should start with user keyword",
                n + 1
            ));
            continue;
        }
        let name = &words[1];
        if !valid_name(name) {
            errors.push(format!("{path}:{}: invalid user name", n + 1));
            continue;
        }
        if users.contains_key(name) {
            errors.push(format!("{path}:{}: Duplicate user '{name}' found", n + 1));
            continue;
        }
        match build(None, name, &words[2..]) {
            Ok(u) => {
                users.insert(name.clone(), u);
            }
            Err(e) => errors.push(format!(
                "{path}:{}: {}",
                n + 1,
                e.trim_start_matches("ERR ")
            )),
        }
    }
    match errors.is_empty() {
        true => Ok(users),
        false => Err(errors.join(". ")),
    }
}

/// Read and check an aclfile (at start, and for ACL LOAD off the core's
/// thread).
pub fn load_file(path: &std::path::Path) -> Result<BTreeMap<String, User>, String> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("Error loading ACLs, opening file '{shown}': {e}"))?;
    parse_file(&text, &shown)
}

/// Every user as an aclfile line (ACL LIST, ACL SAVE).
pub fn lines() -> Vec<String> {
    all()
        .iter()
        .map(|u| format!("user {} {}", u.name, u.describe()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_round_trip_and_errors() {
        let cat = super::super::categories::catalog(&crate::command::dispatch::TABLE);
        let _ = CATALOG.set(cat);
        let text = "# users\nuser alice on >pw ~a:* +get\n\nuser bob off (+set ~b:*)\n";
        let users = parse_file(text, "users.acl").unwrap();
        assert!(users["alice"].accepts(b"pw"));
        assert_eq!(users["bob"].selectors.len(), 1);
        let again: String = users
            .values()
            .map(|u| format!("user {} {}\n", u.name, u.describe()))
            .collect();
        let back = parse_file(&again, "x").unwrap();
        assert_eq!(back, users);
        let err = parse_file("user a on +nosuch\nfoo\nuser a on\nuser a on", "f").unwrap_err();
        assert!(
            err.contains("f:1: Error in ACL SETUSER modifier '+nosuch'"),
            "{err}"
        );
        assert!(
            err.contains("f:2: line should start with user keyword"),
            "{err}"
        );
        assert!(err.contains("f:4: Duplicate user 'a' found"), "{err}");
    }
}
