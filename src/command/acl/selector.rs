//! One selector of an ACL user: the commands, key patterns and channel
//! patterns it allows, the command, key and channel rules of ACL SETUSER that
//! change it (Redis 7's grammar and error texts), how ACL LIST and GETUSER
//! describe it, and the check of one request against it. It never reads a
//! file or a connection, and knows nothing of passwords.

use super::catalog::{self, Catalog};
use crate::storage::glob::glob_match;

/// Read and write permission bits of a key pattern (and of what a key needs).
pub const READ: u8 = 1;
pub const WRITE: u8 = 2;

/// Why a request is refused, in Redis's order of relevance (a later variant
/// wins when several selectors refuse for different reasons). The index is
/// of the argument that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Denied {
    Command,
    Key(usize),
    Channel(usize),
}

/// What one request asks of a user: its command id, and each key and channel
/// argument with the permission it needs.
pub struct Request<'a> {
    pub id: usize,
    /// `(argument index, argument, READ|WRITE)`.
    pub keys: &'a [(usize, &'a [u8], u8)],
    /// `(argument index, argument)`.
    pub channels: &'a [(usize, &'a [u8])],
    /// The channels are patterns (PSUBSCRIBE): each must be one of the
    /// user's patterns exactly, as Redis requires.
    pub patterns: bool,
    /// A plain command's first argument (Redis's first-arg rules, `+select|0`).
    pub first_arg: Option<&'a [u8]>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyPattern {
    pub pattern: Vec<u8>,
    pub perm: u8,
}

/// A set of permissions: commands, keys, channels. A user has a root one and
/// any number of others (`(…)` in SETUSER); a request may run when one of
/// them allows all of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selector {
    /// Allowed ids, a bit each (commands, then subcommands).
    allowed: Vec<u64>,
    /// First arguments allowed for a command not allowed whole.
    first_args: Vec<(usize, Vec<u8>)>,
    /// Whether the rules began from `+@all` (the command rules describe
    /// themselves from `+@all` or `-@all`).
    pub(super) from_all: bool,
    /// The command rules since the last `+@all`/`-@all`, one per name.
    rules: Vec<String>,
    pub(super) all_keys: bool,
    keys: Vec<KeyPattern>,
    pub(super) all_channels: bool,
    channels: Vec<Vec<u8>>,
}

impl Selector {
    /// Nothing allowed (`-@all`, no keys), and every channel or none
    /// (`acl-pubsub-default`).
    pub fn empty(catalog: &Catalog, all_channels: bool) -> Selector {
        Selector {
            allowed: vec![0; catalog.len().div_ceil(64)],
            first_args: Vec::new(),
            from_all: false,
            rules: Vec::new(),
            all_keys: false,
            keys: Vec::new(),
            all_channels,
            channels: Vec::new(),
        }
    }

    fn allows_id(&self, id: usize) -> bool {
        self.allowed[id / 64] & (1 << (id % 64)) != 0
    }

    fn set_id(&mut self, id: usize, on: bool) {
        if on {
            self.allowed[id / 64] |= 1 << (id % 64);
        } else {
            self.allowed[id / 64] &= !(1 << (id % 64));
        }
    }

    /// Whether every command, key and channel is allowed.
    pub fn allows_everything(&self) -> bool {
        self.all_keys && self.all_channels && self.allowed.iter().all(|w| *w == u64::MAX)
    }

    /// Every id on or off. Bits past the last id follow, so that a
    /// selector allowed everything has every word full.
    pub(super) fn set_all(&mut self, on: bool) {
        for w in self.allowed.iter_mut() {
            *w = if on { u64::MAX } else { 0 };
        }
        self.first_args.clear();
    }

    /// A command and all its subcommands.
    fn set_command(&mut self, catalog: &Catalog, cmd: usize, on: bool) {
        self.set_id(cmd, on);
        for id in catalog.sub_range[cmd].clone() {
            self.set_id(id, on);
        }
        self.first_args.retain(|(c, _)| *c != cmd);
    }

    /// Remember a command rule for the description: a rule for the same name
    /// replaces an earlier one, as Redis's `ACLUpdateCommandRules`.
    fn remember(&mut self, rule: &str) {
        let name = &rule[1..];
        self.rules.retain(|r| &r[1..] != name);
        self.rules.push(rule.to_owned());
    }

    /// Apply one command, key or channel rule; Err with Redis's reason.
    pub(super) fn apply(
        &mut self,
        catalog: &Catalog,
        rule: &str,
        pubsub_all: bool,
    ) -> Result<(), RuleError> {
        let lower = rule.to_ascii_lowercase();
        match lower.as_str() {
            "allkeys" | "~*" => {
                self.all_keys = true;
                self.keys.clear();
                return Ok(());
            }
            "resetkeys" => {
                self.all_keys = false;
                self.keys.clear();
                return Ok(());
            }
            "allchannels" | "&*" => {
                self.all_channels = true;
                self.channels.clear();
                return Ok(());
            }
            "resetchannels" => {
                self.all_channels = pubsub_all;
                self.channels.clear();
                return Ok(());
            }
            "allcommands" | "+@all" => {
                self.set_all(true);
                self.from_all = true;
                self.rules.clear();
                return Ok(());
            }
            "nocommands" | "-@all" => {
                self.set_all(false);
                self.from_all = false;
                self.rules.clear();
                return Ok(());
            }
            _ => {}
        }
        let bytes = rule.as_bytes();
        match bytes.first() {
            Some(b'~') => self.add_key(&bytes[1..], READ | WRITE),
            Some(b'%') => {
                let Some(tilde) = bytes.iter().position(|&b| b == b'~') else {
                    return Err(RuleError::Syntax);
                };
                let mut perm = 0;
                for &f in &bytes[1..tilde] {
                    perm |= match f.to_ascii_uppercase() {
                        b'R' => READ,
                        b'W' => WRITE,
                        _ => return Err(RuleError::Syntax),
                    };
                }
                if perm == 0 {
                    return Err(RuleError::Syntax);
                }
                self.add_key(&bytes[tilde + 1..], perm)
            }
            Some(b'&') => {
                let pat = &bytes[1..];
                if self.all_channels {
                    return Err(RuleError::ChannelAfterAll);
                }
                if !self.channels.iter().any(|c| c == pat) {
                    self.channels.push(pat.to_vec());
                }
                Ok(())
            }
            Some(b'+') | Some(b'-') => self.apply_command(catalog, rule),
            _ => Err(RuleError::Syntax),
        }
    }

    fn add_key(&mut self, pat: &[u8], perm: u8) -> Result<(), RuleError> {
        if self.all_keys {
            return Err(RuleError::KeyAfterAll);
        }
        if pat == b"*" && perm == READ | WRITE {
            self.all_keys = true;
            self.keys.clear();
            return Ok(());
        }
        match self.keys.iter_mut().find(|k| k.pattern == pat) {
            Some(k) => k.perm |= perm,
            None => self.keys.push(KeyPattern {
                pattern: pat.to_vec(),
                perm,
            }),
        }
        Ok(())
    }

    fn apply_command(&mut self, catalog: &Catalog, rule: &str) -> Result<(), RuleError> {
        let allow = rule.starts_with('+');
        let name = &rule[1..];
        if let Some(cat) = name.strip_prefix('@') {
            let set = catalog::category(cat).ok_or(RuleError::Unknown)?;
            for id in catalog.in_category(set) {
                self.set_id(id, allow);
                if id < catalog.names.len() {
                    self.first_args.retain(|(c, _)| *c != id);
                }
            }
            self.remember(&rule.to_ascii_lowercase());
            return Ok(());
        }
        let (cmd_name, sub) = match name.split_once('|') {
            Some((c, s)) => (c, Some(s)),
            None => (name, None),
        };
        let cmd = catalog.command(cmd_name).ok_or(RuleError::Unknown)?;
        match sub {
            None => self.set_command(catalog, cmd, allow),
            Some(s) if s.contains('|') => return Err(RuleError::FirstArgOfSub),
            Some("") => return Err(RuleError::Syntax),
            Some(s) if catalog.is_container(cmd) => {
                let id = catalog
                    .subcommand(cmd, s.as_bytes())
                    .ok_or(RuleError::Unknown)?;
                self.set_id(id, allow);
            }
            Some(s) => {
                // A plain command's first argument: allowing it only (Redis
                // 7 lets no rule take one away).
                if !allow {
                    return Err(RuleError::Syntax);
                }
                if !self.allows_id(cmd) {
                    let arg = s.to_ascii_lowercase().into_bytes();
                    if !self.first_args.iter().any(|(c, a)| *c == cmd && *a == arg) {
                        self.first_args.push((cmd, arg));
                    }
                }
            }
        }
        self.remember(&rule.to_ascii_lowercase());
        Ok(())
    }

    /// Whether this selector lets the request run; the first refusal if not.
    pub(super) fn check(&self, catalog: &Catalog, r: &Request) -> Result<(), Denied> {
        let cmd_ok = self.allows_id(r.id)
            || (r.id < catalog.names.len()
                && r.first_arg.is_some_and(|a| {
                    self.first_args
                        .iter()
                        .any(|(c, x)| *c == r.id && a.eq_ignore_ascii_case(x))
                }));
        if !cmd_ok {
            return Err(Denied::Command);
        }
        if !self.all_keys {
            for &(i, key, need) in r.keys {
                let ok = self
                    .keys
                    .iter()
                    .any(|p| p.perm & need == need && glob_match(&p.pattern, key));
                if !ok {
                    return Err(Denied::Key(i));
                }
            }
        }
        if !self.all_channels {
            for &(i, ch) in r.channels {
                let ok = if r.patterns {
                    self.channels.iter().any(|p| p == ch)
                } else {
                    self.channels.iter().any(|p| glob_match(p, ch))
                };
                if !ok {
                    return Err(Denied::Channel(i));
                }
            }
        }
        Ok(())
    }

    /// The command rules as Redis describes them: `+@all` or `-@all`, then
    /// the rules given since.
    pub fn describe_commands(&self) -> String {
        let mut s = String::from(if self.from_all { "+@all" } else { "-@all" });
        for r in &self.rules {
            s.push(' ');
            s.push_str(r);
        }
        s
    }

    /// The key patterns as rules (`~*`, `~a:* %R~b:*`), or empty.
    pub fn describe_keys(&self) -> String {
        if self.all_keys {
            return "~*".into();
        }
        let parts: Vec<String> = self
            .keys
            .iter()
            .map(|k| {
                let pat = String::from_utf8_lossy(&k.pattern);
                match k.perm {
                    READ => format!("%R~{pat}"),
                    WRITE => format!("%W~{pat}"),
                    _ => format!("~{pat}"),
                }
            })
            .collect();
        parts.join(" ")
    }

    /// The channel patterns as rules (`&*`, `&news.*`), or empty.
    pub fn describe_channels(&self) -> String {
        if self.all_channels {
            return "&*".into();
        }
        let parts: Vec<String> = self
            .channels
            .iter()
            .map(|c| format!("&{}", String::from_utf8_lossy(c)))
            .collect();
        parts.join(" ")
    }

    /// The whole selector as ACL LIST writes it.
    pub(super) fn describe(&self) -> String {
        let mut parts = Vec::new();
        let keys = self.describe_keys();
        if !keys.is_empty() {
            parts.push(keys);
        }
        if self.all_channels {
            parts.push("&*".into());
        } else {
            parts.push("resetchannels".into());
            let ch = self.describe_channels();
            if !ch.is_empty() {
                parts.push(ch);
            }
        }
        parts.push(self.describe_commands());
        parts.join(" ")
    }

    /// Ids this selector allows, by name (ACL CAT-like listings and tests).
    #[cfg(test)]
    pub(super) fn allowed_names(&self, catalog: &Catalog) -> Vec<String> {
        (0..catalog.len())
            .filter(|&id| self.allows_id(id))
            .map(|id| catalog.name(id))
            .collect()
    }
}

/// Why a rule was refused: Redis's texts (`ACLSetUserStringError`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleError {
    Unknown,
    Syntax,
    KeyAfterAll,
    ChannelAfterAll,
    NoSuchPassword,
    BadHash,
    FirstArgOfSub,
    Parenthesis,
}

impl RuleError {
    pub fn text(self) -> &'static str {
        match self {
            RuleError::Unknown => "Unknown command or category name in ACL",
            RuleError::Syntax => "Syntax error",
            RuleError::KeyAfterAll => "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns",
            RuleError::ChannelAfterAll => "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels",
            RuleError::NoSuchPassword => "The password you are trying to remove from the user does not exist",
            RuleError::BadHash => "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters",
            RuleError::FirstArgOfSub => "Allowing first-arg of a subcommand is not supported",
            RuleError::Parenthesis => "Syntax error",
        }
    }
}
