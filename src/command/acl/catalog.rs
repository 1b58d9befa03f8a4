//! What ACL rules name: Redis's command categories (`@read`, `@admin`, …) and
//! the ids rules set and clear — one per command of the table and one per
//! subcommand of a container (`config|get`), as Redis 7 numbers them. Plain
//! data, built by `categories` from the command table; it never holds a user
//! or checks a request.

/// Redis 7's categories, in its order (ACL CAT lists them so).
pub const CATEGORIES: &[&str] = &[
    "keyspace",
    "read",
    "write",
    "set",
    "sortedset",
    "list",
    "hash",
    "string",
    "bitmap",
    "hyperloglog",
    "geo",
    "stream",
    "pubsub",
    "admin",
    "fast",
    "slow",
    "blocking",
    "dangerous",
    "connection",
    "transaction",
    "scripting",
];

/// The bit of a category in a command's set.
pub fn bit(name: &str) -> u32 {
    CATEGORIES
        .iter()
        .position(|c| *c == name)
        .map(|i| 1 << i)
        .unwrap_or(0)
}

/// A category by its name (as a rule spells it, without `@`).
pub fn category(name: &str) -> Option<u32> {
    let lower = name.to_ascii_lowercase();
    CATEGORIES.iter().position(|c| *c == lower).map(|i| 1 << i)
}

/// Names of the categories in a set, `@`-prefixed (COMMAND INFO).
pub fn names(set: u32) -> Vec<String> {
    CATEGORIES
        .iter()
        .enumerate()
        .filter(|(i, _)| set & (1 << i) != 0)
        .map(|(_, c)| format!("@{c}"))
        .collect()
}

/// Every id a rule can name, built once from the command table.
#[derive(Default)]
pub struct Catalog {
    /// The table's command names: id `i` is the table's `i`th command.
    pub names: Vec<&'static str>,
    /// Categories by id (commands first, then subcommands).
    pub categories: Vec<u32>,
    /// Subcommand ids `commands.len()..`: their container's id and name.
    pub subs: Vec<(usize, &'static str)>,
    /// Each command's subcommand ids (empty for a plain command).
    pub sub_range: Vec<std::ops::Range<usize>>,
}

impl Catalog {
    /// How many ids there are.
    pub fn len(&self) -> usize {
        self.categories.len()
    }

    pub fn is_empty(&self) -> bool {
        self.categories.is_empty()
    }

    /// A command's id by name (case-insensitive).
    pub fn command(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|c| c.eq_ignore_ascii_case(name))
    }

    /// A subcommand's id within its container's ids.
    pub fn subcommand(&self, cmd: usize, sub: &[u8]) -> Option<usize> {
        self.sub_range[cmd].clone().find(|&id| {
            self.subs[id - self.names.len()]
                .1
                .as_bytes()
                .eq_ignore_ascii_case(sub)
        })
    }

    /// Whether a command is a container of subcommands.
    pub fn is_container(&self, cmd: usize) -> bool {
        !self.sub_range[cmd].is_empty()
    }

    /// An id's name as ACL rules and replies spell it (`get`, `config|get`).
    pub fn name(&self, id: usize) -> String {
        match id.checked_sub(self.names.len()) {
            None => self.names[id].to_owned(),
            Some(k) => {
                let (cmd, sub) = self.subs[k];
                format!("{}|{sub}", self.names[cmd])
            }
        }
    }

    /// Ids of a category, commands and subcommands (a container's own id is
    /// in none: its subcommands carry the categories).
    pub fn in_category(&self, cat: u32) -> impl Iterator<Item = usize> + '_ {
        (0..self.len()).filter(move |&id| {
            self.categories[id] & cat != 0 && !(id < self.names.len() && self.is_container(id))
        })
    }
}
