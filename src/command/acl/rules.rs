//! One ACL user: its flags, hashed passwords and selectors (`selector`),
//! the user rules of ACL SETUSER (on/off, passwords, `reset`, `(…)`), the
//! text ACL LIST and the aclfile show, and the check of one request against
//! all its selectors. A user is a value: the registry (`users`) swaps whole
//! users, so a check never sees a rule half applied. It never reads a file
//! or a connection.

use super::catalog::Catalog;
pub use super::selector::{Denied, KeyPattern, Request, RuleError, Selector, READ, WRITE};
use sha2::{Digest, Sha256};

/// An ACL user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub enabled: bool,
    pub nopass: bool,
    /// `sanitize-payload` (true) or `skip-sanitize-payload` (false).
    pub sanitize_payload: bool,
    /// SHA-256 of each password, lowercase hex, in the order added.
    pub passwords: Vec<String>,
    pub root: Selector,
    pub selectors: Vec<Selector>,
}

/// Bytes in lowercase hex (password hashes, ACL GENPASS).
pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(2 * bytes.len());
    for b in bytes {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// SHA-256 of a password in lowercase hex, as Redis stores and shows it.
pub fn hash_password(pass: &[u8]) -> String {
    hex(&Sha256::digest(pass))
}

/// Equal in time that does not depend on where the first difference is.
fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y));
    std::hint::black_box(diff) == 0
}

impl User {
    /// A user as SETUSER creates one: off, no passwords, nothing allowed
    /// (channels per `acl-pubsub-default`).
    pub fn new(name: &str, catalog: &Catalog, pubsub_all: bool) -> User {
        let root = Selector::empty(catalog, pubsub_all);
        User {
            name: name.to_owned(),
            enabled: false,
            nopass: false,
            sanitize_payload: true,
            passwords: Vec::new(),
            root,
            selectors: Vec::new(),
        }
    }

    /// The default user as Redis starts it: on, no password, everything.
    pub fn new_default(catalog: &Catalog) -> User {
        let mut u = User::new("default", catalog, true);
        u.enabled = true;
        u.nopass = true;
        u.root.all_keys = true;
        u.root.set_all(true);
        u.root.from_all = true;
        u
    }

    /// Whether this user may run anything at all on any key or channel: the
    /// dispatcher's check is skipped for it.
    pub fn unrestricted(&self) -> bool {
        self.root.allows_everything()
    }

    /// Whether one of its selectors reaches every key (SORT's BY and GET
    /// patterns need it: the keys they form cannot be checked beforehand).
    pub fn has_all_keys(&self) -> bool {
        self.root.all_keys || self.selectors.iter().any(|s| s.all_keys)
    }

    /// Every selector's channel rules: what a subscriber of this user may hear.
    pub fn channel_rules(&self) -> Vec<String> {
        std::iter::once(&self.root)
            .chain(self.selectors.iter())
            .map(|s| s.describe_channels())
            .collect()
    }

    /// Whether `pass` logs this user in.
    pub fn accepts(&self, pass: &[u8]) -> bool {
        if !self.enabled {
            return false;
        }
        if self.nopass {
            return true;
        }
        let hash = hash_password(pass);
        // Every stored hash is compared, so the time says nothing of which.
        self.passwords
            .iter()
            .fold(false, |ok, h| same(h.as_bytes(), hash.as_bytes()) | ok)
    }

    /// Apply one rule (SETUSER's argument; a selector is one `(…)` rule).
    pub fn apply(
        &mut self,
        catalog: &Catalog,
        rule: &str,
        pubsub_all: bool,
    ) -> Result<(), RuleError> {
        let lower = rule.to_ascii_lowercase();
        match lower.as_str() {
            "on" => self.enabled = true,
            "off" => self.enabled = false,
            "nopass" => {
                self.nopass = true;
                self.passwords.clear();
            }
            "resetpass" => {
                self.nopass = false;
                self.passwords.clear();
            }
            "skip-sanitize-payload" => self.sanitize_payload = false,
            "sanitize-payload" => self.sanitize_payload = true,
            "clearselectors" => self.selectors.clear(),
            "reset" => {
                for r in [
                    "resetpass",
                    "resetkeys",
                    "resetchannels",
                    "off",
                    "clearselectors",
                    "-@all",
                ] {
                    self.apply(catalog, r, pubsub_all)?;
                }
                self.sanitize_payload = true;
            }
            _ => {
                let bytes = rule.as_bytes();
                match bytes.first() {
                    Some(b'>') => {
                        let h = hash_password(&bytes[1..]);
                        if !self.passwords.contains(&h) {
                            self.passwords.push(h);
                        }
                        self.nopass = false;
                    }
                    Some(b'#') => {
                        let h = &rule[1..];
                        let ok = h.len() == 64
                            && h.bytes()
                                .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c));
                        if !ok {
                            return Err(RuleError::BadHash);
                        }
                        if !self.passwords.iter().any(|p| p == h) {
                            self.passwords.push(h.to_owned());
                        }
                        self.nopass = false;
                    }
                    Some(b'<') | Some(b'!') => {
                        // A password, or its hash.
                        let h = match bytes[0] {
                            b'<' => hash_password(&bytes[1..]),
                            _ => rule[1..].to_owned(),
                        };
                        let before = self.passwords.len();
                        self.passwords.retain(|p| *p != h);
                        if self.passwords.len() == before {
                            return Err(RuleError::NoSuchPassword);
                        }
                    }
                    Some(b'(') => {
                        let inner = rule
                            .strip_prefix('(')
                            .and_then(|r| r.strip_suffix(')'))
                            .ok_or(RuleError::Parenthesis)?;
                        let mut sel = Selector::empty(catalog, pubsub_all);
                        for part in inner.split_ascii_whitespace() {
                            sel.apply(catalog, part, pubsub_all)?;
                        }
                        self.selectors.push(sel);
                    }
                    _ => self.root.apply(catalog, rule, pubsub_all)?,
                }
            }
        }
        Ok(())
    }

    /// Whether the request may run: the root selector or any other allows it.
    /// The refusal reported is Redis's most relevant one.
    pub fn check(&self, catalog: &Catalog, r: &Request) -> Result<(), Denied> {
        let mut worst = None;
        for s in std::iter::once(&self.root).chain(self.selectors.iter()) {
            match s.check(catalog, r) {
                Ok(()) => return Ok(()),
                Err(d) => worst = Some(worst.map_or(d, |w: Denied| w.max(d))),
            }
        }
        Err(worst.unwrap_or(Denied::Command))
    }

    /// The flags as ACL GETUSER lists them.
    pub fn flags(&self) -> Vec<&'static str> {
        let mut f = vec![if self.enabled { "on" } else { "off" }];
        if self.nopass {
            f.push("nopass");
        }
        f.push(if self.sanitize_payload {
            "sanitize-payload"
        } else {
            "skip-sanitize-payload"
        });
        f
    }

    /// The user's rules as ACL LIST and the aclfile write them (after
    /// `user <name> `): reading them back gives the same user.
    pub fn describe(&self) -> String {
        let mut parts: Vec<String> = self.flags().iter().map(|s| s.to_string()).collect();
        parts.extend(self.passwords.iter().map(|h| format!("#{h}")));
        parts.push(self.root.describe());
        for s in &self.selectors {
            parts.push(format!("({})", s.describe()));
        }
        parts.join(" ")
    }
}

/// Split SETUSER's arguments into rules, joining a selector given over
/// several arguments (`(` … `)`) into one, as Redis does.
pub fn merge_selectors(args: &[String]) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut open: Option<String> = None;
    for a in args {
        match open.as_mut() {
            Some(sel) => {
                sel.push(' ');
                sel.push_str(a);
                if a.ends_with(')') {
                    out.push(open.take().unwrap_or_default());
                }
            }
            None if a.starts_with('(') && !a.ends_with(')') => open = Some(a.clone()),
            None => out.push(a.clone()),
        }
    }
    match open {
        Some(sel) => Err(format!(
            "ERR Unmatched parenthesis in acl selector starting at '{sel}'."
        )),
        None => Ok(out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::dispatch::TABLE;

    fn cat() -> &'static Catalog {
        super::super::categories::catalog(&TABLE)
    }

    fn user(rules: &[&str]) -> User {
        let mut u = User::new("u", cat(), false);
        for r in rules {
            u.apply(cat(), r, false).unwrap();
        }
        u
    }

    fn req<'a>(name: &str, keys: &'a [(usize, &'a [u8], u8)]) -> Request<'a> {
        Request {
            id: cat().command(name).unwrap(),
            keys,
            channels: &[],
            patterns: false,
            first_arg: None,
        }
    }

    #[test]
    fn categories_and_commands() {
        let u = user(&["on", "+@read", "-mget", "~*"]);
        assert!(u.check(cat(), &req("get", &[])).is_ok());
        assert_eq!(u.check(cat(), &req("mget", &[])), Err(Denied::Command));
        assert_eq!(u.check(cat(), &req("set", &[])), Err(Denied::Command));
        assert_eq!(u.root.describe_commands(), "-@all +@read -mget");
        let names = u.root.allowed_names(cat());
        assert!(names.contains(&"get".to_owned()) && !names.contains(&"set".to_owned()));
    }

    #[test]
    fn subcommands() {
        let u = user(&["+client|id", "+config", "-config|set"]);
        let id = |c: &str, s: &[u8]| cat().subcommand(cat().command(c).unwrap(), s).unwrap();
        let r = |id| Request {
            id,
            keys: &[],
            channels: &[],
            patterns: false,
            first_arg: None,
        };
        assert!(u.check(cat(), &r(id("client", b"id"))).is_ok());
        assert!(u.check(cat(), &r(id("client", b"kill"))).is_err());
        assert!(u.check(cat(), &r(id("config", b"get"))).is_ok());
        assert!(u.check(cat(), &r(id("config", b"set"))).is_err());
        let mut bad = User::new("x", cat(), false);
        assert_eq!(
            bad.apply(cat(), "+client|nosuch", false),
            Err(RuleError::Unknown)
        );
        assert_eq!(bad.apply(cat(), "+nosuch", false), Err(RuleError::Unknown));
        assert_eq!(bad.apply(cat(), "+@nosuch", false), Err(RuleError::Unknown));
        assert_eq!(
            bad.apply(cat(), "+config|get|x", false),
            Err(RuleError::FirstArgOfSub)
        );
    }

    #[test]
    fn keys_need_the_right_permission() {
        let u = user(&["+@all", "%R~r:*", "%W~w:*", "~rw:*"]);
        let k = |key: &'static [u8], need| [(1usize, key, need)];
        assert!(u.check(cat(), &req("get", &k(b"r:1", READ))).is_ok());
        assert_eq!(
            u.check(cat(), &req("get", &k(b"w:1", READ))),
            Err(Denied::Key(1))
        );
        assert!(u.check(cat(), &req("set", &k(b"w:1", WRITE))).is_ok());
        assert!(u
            .check(cat(), &req("incr", &k(b"rw:1", READ | WRITE)))
            .is_ok());
        assert!(u
            .check(cat(), &req("incr", &k(b"w:1", READ | WRITE)))
            .is_err());
        assert!(u.check(cat(), &req("exists", &k(b"w:1", 0))).is_ok());
        assert_eq!(u.root.describe_keys(), "%R~r:* %W~w:* ~rw:*");
        let mut all = user(&["~*"]);
        assert_eq!(all.apply(cat(), "~x", false), Err(RuleError::KeyAfterAll));
    }

    #[test]
    fn selectors_widen_the_root() {
        let u = user(&["+get", "~a:*", "(+set ~b:*)"]);
        assert!(u.check(cat(), &req("get", &[(1, b"a:1", READ)])).is_ok());
        assert!(u.check(cat(), &req("set", &[(1, b"b:1", WRITE)])).is_ok());
        // Neither allows it; the key refusal is the more relevant.
        assert_eq!(
            u.check(cat(), &req("set", &[(1, b"a:1", WRITE)])),
            Err(Denied::Key(1))
        );
        assert!(u.describe().ends_with("(~b:* resetchannels -@all +set)"));
    }

    #[test]
    fn passwords_are_hashed() {
        let mut u = user(&["on", ">secret"]);
        assert!(u.accepts(b"secret") && !u.accepts(b"other"));
        assert_eq!(u.passwords[0].len(), 64);
        assert!(!u.describe().contains("secret"));
        assert_eq!(
            u.apply(cat(), "<nope", false),
            Err(RuleError::NoSuchPassword)
        );
        assert_eq!(u.apply(cat(), "#abc", false), Err(RuleError::BadHash));
        u.apply(cat(), "off", false).unwrap();
        assert!(!u.accepts(b"secret"));
        // A description read back gives the same user.
        let mut back = User::new("u", cat(), false);
        for r in merge_selectors(
            &u.describe()
                .split(' ')
                .map(String::from)
                .collect::<Vec<_>>(),
        )
        .unwrap()
        {
            back.apply(cat(), &r, false).unwrap();
        }
        assert_eq!(back.describe(), u.describe());
    }

    #[test]
    fn default_user_is_unrestricted() {
        let d = User::new_default(cat());
        assert!(d.unrestricted());
        assert_eq!(d.describe(), "on nopass sanitize-payload ~* &* +@all");
        assert!(!user(&["+@all", "~*"]).unrestricted());
    }

    #[test]
    fn channels() {
        let u = user(&["+@all", "~*", "&news.*"]);
        let r = |name: &str, ch: &'static [u8], patterns| Request {
            id: cat().command(name).unwrap(),
            keys: &[],
            channels: &*Box::leak(Box::new([(1usize, ch)])),
            patterns,
            first_arg: None,
        };
        assert!(u.check(cat(), &r("publish", b"news.x", false)).is_ok());
        assert_eq!(
            u.check(cat(), &r("publish", b"other", false)),
            Err(Denied::Channel(1))
        );
        assert!(u.check(cat(), &r("psubscribe", b"news.*", true)).is_ok());
        assert!(u.check(cat(), &r("psubscribe", b"news.a*", true)).is_err());
    }
}
