//! ACL users through the real binary and the `redis` crate (which logs in
//! with `AUTH user pw` from a `redis://user:pw@…` address): SETUSER and its
//! rules, GETUSER, LIST, USERS, WHOAMI, DELUSER closing the user's
//! connections on every core, CAT, GENPASS, DRYRUN, LOG, SAVE/LOAD with an
//! aclfile, `requirepass` as the default user's password, command, key,
//! channel and subcommand permissions with Redis's NOPERM texts, selectors,
//! MULTI/EXEC and scripts as the calling user, and the text door's LOGIN.

mod common;

use common::{closed_by_peer, config_set, fields, resp, text, Server, TempDir};
use redis::Value;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

fn cmd(con: &mut redis::Connection, args: &[&str]) -> redis::RedisResult<Value> {
    let mut c = redis::cmd(args[0]);
    for a in &args[1..] {
        c.arg(*a);
    }
    c.query(con)
}

fn ok(con: &mut redis::Connection, args: &[&str]) -> Value {
    cmd(con, args).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

/// One request over a raw socket; its reply's first line, exactly (errors
/// with their code, as Redis writes them).
fn line(s: &mut TcpStream, args: &[&str]) -> String {
    let parts: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    s.write_all(&resp(&parts)).expect("send");
    read_line(s)
}

/// The next line the server wrote (CRLF or, for the text door, LF).
fn read_line(s: &mut TcpStream) -> String {
    let mut got = Vec::new();
    let mut b = [0u8; 1];
    while !got.ends_with(b"\n") {
        match s.read(&mut b) {
            Ok(1) => got.push(b[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&got).trim_end().to_string()
}

fn as_user(s: &Server, user: &str, pass: &str) -> redis::Connection {
    let url = format!("redis://{user}:{pass}@127.0.0.1:{}/", s.port);
    redis::Client::open(url)
        .expect("client")
        .get_connection_with_timeout(Duration::from_secs(10))
        .expect("log in")
}

fn raw_as(s: &Server, user: &str, pass: &str) -> TcpStream {
    let mut r = s.raw();
    assert_eq!(line(&mut r, &["AUTH", user, pass]), "+OK");
    r
}

fn sha256_hex(pass: &str) -> String {
    // The server's answer, read back from GETUSER, must be SHA-256: compare
    // with a known vector rather than a second implementation.
    match pass {
        "pw" => "30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4".into(),
        _ => panic!("no vector for {pass}"),
    }
}

#[test]
fn users_are_created_listed_described_and_deleted() {
    let s = Server::start(2, &[]);
    let mut admin = s.client();
    assert_eq!(text(&ok(&mut admin, &["ACL", "WHOAMI"])), "default");
    let list: Vec<String> = redis::cmd("ACL").arg("LIST").query(&mut admin).unwrap();
    assert_eq!(
        list,
        vec!["user default on nopass sanitize-payload ~* &* +@all"]
    );
    ok(
        &mut admin,
        &[
            "ACL", "SETUSER", "alice", "on", ">pw", "~cache:*", "+get", "+set", "&news.*",
        ],
    );
    let list: Vec<String> = redis::cmd("ACL").arg("LIST").query(&mut admin).unwrap();
    assert_eq!(
        list[0],
        format!(
            "user alice on sanitize-payload #{} ~cache:* resetchannels &news.* -@all +get +set",
            sha256_hex("pw")
        )
    );
    // A second SETUSER changes the user in place.
    ok(
        &mut admin,
        &["ACL", "SETUSER", "alice", "%R~ro:*", "-set", "+set"],
    );
    let u = fields(ok(&mut admin, &["ACL", "GETUSER", "alice"]), "GETUSER");
    assert_eq!(text(&u["commands"]), "-@all +get +set");
    assert_eq!(text(&u["keys"]), "~cache:* %R~ro:*");
    assert_eq!(text(&u["channels"]), "&news.*");
    let flags: Vec<String> = redis::from_redis_value(&u["flags"]).unwrap();
    assert_eq!(flags, vec!["on", "sanitize-payload"]);
    let pw: Vec<String> = redis::from_redis_value(&u["passwords"]).unwrap();
    assert_eq!(pw, vec![sha256_hex("pw")]);
    assert_eq!(ok(&mut admin, &["ACL", "GETUSER", "nobody"]), Value::Nil);
    let users: Vec<String> = redis::cmd("ACL").arg("USERS").query(&mut admin).unwrap();
    assert_eq!(users, vec!["alice", "default"]);

    let mut alice = as_user(&s, "alice", "pw");
    ok(&mut alice, &["SET", "cache:1", "v"]);
    assert_eq!(text(&ok(&mut alice, &["GET", "cache:1"])), "v");
    let info = text(&ok(&mut admin, &["CLIENT", "LIST"]));
    assert!(info.contains("user=alice"), "{info}");

    // Deleting a user closes its connections on every core.
    let mut raws: Vec<TcpStream> = (0..6).map(|_| raw_as(&s, "alice", "pw")).collect();
    assert_eq!(
        ok(&mut admin, &["ACL", "DELUSER", "alice", "ghost"]),
        Value::Int(1)
    );
    for r in raws.iter_mut() {
        assert!(
            closed_by_peer(r),
            "a connection of a deleted user stayed open"
        );
    }
    let mut r = s.raw();
    assert_eq!(
        line(&mut r, &["AUTH", "alice", "pw"]),
        "-WRONGPASS invalid username-password pair or user is disabled."
    );
    assert_eq!(
        line(&mut r, &["ACL", "DELUSER", "default"]),
        "-ERR The 'default' user cannot be removed"
    );
}

#[test]
fn permissions_are_checked_with_redis_texts() {
    let s = Server::start(2, &[]);
    let mut admin = s.client();
    ok(
        &mut admin,
        &[
            "ACL",
            "SETUSER",
            "bob",
            "on",
            ">pw",
            "+@read",
            "-mget",
            "+set",
            "%R~r:*",
            "%W~w:*",
            "~rw:*",
            "&news.*",
            "+client|id",
            "+config|get",
        ],
    );
    let mut b = raw_as(&s, "bob", "pw");
    assert_eq!(line(&mut b, &["SET", "w:1", "x"]), "+OK");
    assert_eq!(line(&mut b, &["SET", "rw:1", "5"]), "+OK");
    assert_eq!(line(&mut b, &["GET", "rw:1"]), "$1");
    assert_eq!(read_line(&mut b), "5");
    assert_eq!(line(&mut b, &["GET", "r:1"]), "$-1");
    assert_eq!(
        line(&mut b, &["GET", "w:1"]),
        "-NOPERM No permissions to access a key"
    );
    assert_eq!(
        line(&mut b, &["SET", "r:1", "x"]),
        "-NOPERM No permissions to access a key"
    );
    // SET with GET reads the old value: a write-only pattern is not enough.
    assert_eq!(
        line(&mut b, &["SET", "w:1", "y", "GET"]),
        "-NOPERM No permissions to access a key"
    );
    assert_eq!(
        line(&mut b, &["DEL", "rw:1"]),
        "-NOPERM User bob has no permissions to run the 'del' command"
    );
    assert_eq!(
        line(&mut b, &["MGET", "r:1"]),
        "-NOPERM User bob has no permissions to run the 'mget' command"
    );
    // EXISTS reads no value: any pattern that matches will do.
    assert_eq!(line(&mut b, &["EXISTS", "w:1"]), ":1");
    assert!(line(&mut b, &["CLIENT", "ID"]).starts_with(':'));
    assert_eq!(
        line(&mut b, &["CLIENT", "KILL", "ID", "1"]),
        "-NOPERM User bob has no permissions to run the 'client|kill' command"
    );
    assert_eq!(line(&mut b, &["CONFIG", "GET", "maxmemory"]), "*2");
    for want in ["$9", "maxmemory", "$1", "0"] {
        assert_eq!(read_line(&mut b), want);
    }
    assert_eq!(
        line(&mut b, &["CONFIG", "SET", "maxmemory", "0"]),
        "-NOPERM User bob has no permissions to run the 'config|set' command"
    );
    // Channels: PUBLISH and SUBSCRIBE by glob, PSUBSCRIBE by the pattern itself.
    ok(
        &mut admin,
        &[
            "ACL",
            "SETUSER",
            "bob",
            "+publish",
            "+subscribe",
            "+psubscribe",
        ],
    );
    assert_eq!(line(&mut b, &["PUBLISH", "news.x", "m"]), ":0");
    assert_eq!(
        line(&mut b, &["PUBLISH", "sports", "m"]),
        "-NOPERM No permissions to access a channel"
    );
    assert_eq!(
        line(&mut b, &["PSUBSCRIBE", "news.a*"]),
        "-NOPERM No permissions to access a channel"
    );
    assert_eq!(
        line(&mut b, &["SUBSCRIBE", "sports"]),
        "-NOPERM No permissions to access a channel"
    );
    // Unknown commands and wrong arity answer as before, NOAUTH before all.
    assert!(line(&mut b, &["NOSUCH"]).starts_with("-ERR unknown command 'NOSUCH'"));
    assert_eq!(
        line(&mut b, &["GET"]),
        "-ERR wrong number of arguments for 'get' command"
    );
    // A rule change reaches a logged-in connection at its next command.
    ok(&mut admin, &["ACL", "SETUSER", "bob", "-set"]);
    assert_eq!(
        line(&mut b, &["SET", "w:1", "x"]),
        "-NOPERM User bob has no permissions to run the 'set' command"
    );
    // Taking channels away closes the user's subscribed connections.
    let mut sub = raw_as(&s, "bob", "pw");
    assert_eq!(line(&mut sub, &["SUBSCRIBE", "news.x"]), "*3");
    for _ in 0..5 {
        read_line(&mut sub);
    }
    ok(
        &mut admin,
        &["ACL", "SETUSER", "bob", "resetchannels", "&other"],
    );
    assert!(
        closed_by_peer(&mut sub),
        "a subscriber kept its revoked channel"
    );
    // The unsubscribed connection stays.
    assert_eq!(line(&mut b, &["EXISTS", "w:1"]), ":1");
    // SORT's BY and GET need every key.
    ok(&mut admin, &["ACL", "SETUSER", "bob", "+sort"]);
    assert_eq!(
        line(&mut b, &["SORT", "rw:1", "BY", "w_*"]),
        "-ERR BY option of SORT denied due to insufficient ACL permissions."
    );
    assert_eq!(
        line(&mut b, &["SORT", "rw:1", "GET", "#"]),
        "-ERR GET option of SORT denied due to insufficient ACL permissions."
    );
}

#[test]
fn setuser_rules_and_their_errors() {
    let s = Server::start(1, &[]);
    let mut r = s.raw();
    let cases: &[(&[&str], &str)] = &[
        (&["ACL", "SETUSER", "u", "+nosuch"], "-ERR Error in ACL SETUSER modifier '+nosuch': Unknown command or category name in ACL"),
        (&["ACL", "SETUSER", "u", "+@nosuch"], "-ERR Error in ACL SETUSER modifier '+@nosuch': Unknown command or category name in ACL"),
        (&["ACL", "SETUSER", "u", "+client|nosuch"], "-ERR Error in ACL SETUSER modifier '+client|nosuch': Unknown command or category name in ACL"),
        (&["ACL", "SETUSER", "u", "+config|get|x"], "-ERR Error in ACL SETUSER modifier '+config|get|x': Allowing first-arg of a subcommand is not supported"),
        (&["ACL", "SETUSER", "u", "bogus"], "-ERR Error in ACL SETUSER modifier 'bogus': Syntax error"),
        (&["ACL", "SETUSER", "u", "%X~k"], "-ERR Error in ACL SETUSER modifier '%X~k': Syntax error"),
        (&["ACL", "SETUSER", "u", "~*", "~k"], "-ERR Error in ACL SETUSER modifier '~k': Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns"),
        (&["ACL", "SETUSER", "u", "<nope"], "-ERR Error in ACL SETUSER modifier '<nope': The password you are trying to remove from the user does not exist"),
        (&["ACL", "SETUSER", "u", "#abc"], "-ERR Error in ACL SETUSER modifier '#abc': The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters"),
        (&["ACL", "SETUSER", "u", "(+get", "~x"], "-ERR Unmatched parenthesis in acl selector starting at '(+get ~x'."),
        (&["ACL", "SETUSER", "a b"], "-ERR Usernames can't contain spaces or null characters"),
        (&["ACL", "SETUSER"], "-ERR wrong number of arguments for 'acl|setuser' command"),
        (&["ACL", "NOSUCH"], "-ERR unknown subcommand 'NOSUCH'. Try ACL HELP."),
        (&["ACL", "CAT", "nosuch"], "-ERR Unknown category 'nosuch'"),
        (&["ACL", "GENPASS", "0"], "-ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096"),
        (&["ACL", "GENPASS", "5000"], "-ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096"),
        (&["ACL", "DRYRUN", "ghost", "get", "k"], "-ERR User 'ghost' not found"),
        (&["ACL", "DRYRUN", "default", "nosuch"], "-ERR Command 'nosuch' not found"),
        (&["ACL", "LOG", "x"], "-ERR value is out of range, must be positive"),
        (&["AUTH", "pw"], "-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?"),
    ];
    for (args, want) in cases {
        assert_eq!(&line(&mut r, args), want, "{args:?}");
    }
    // A refused SETUSER changes nothing: `u` was never created.
    assert_eq!(line(&mut r, &["ACL", "GETUSER", "u"]), "$-1");
    // Selectors over several arguments, and a disabled user.
    assert_eq!(
        line(
            &mut r,
            &["ACL", "SETUSER", "sel", "on", "nopass", "+get", "~a:*", "(+set", "~b:*)"]
        ),
        "+OK"
    );
    let mut sel = raw_as(&s, "sel", "anything");
    assert_eq!(line(&mut sel, &["SET", "b:1", "x"]), "+OK");
    assert_eq!(
        line(&mut sel, &["SET", "a:1", "x"]),
        "-NOPERM No permissions to access a key"
    );
    assert_eq!(
        line(&mut sel, &["GET", "b:1"]),
        "-NOPERM No permissions to access a key"
    );
    assert_eq!(line(&mut r, &["ACL", "SETUSER", "sel", "off"]), "+OK");
    let mut again = s.raw();
    assert_eq!(
        line(&mut again, &["AUTH", "sel", "x"]),
        "-WRONGPASS invalid username-password pair or user is disabled."
    );
    // GENPASS: 64 hex characters by default, bits/4 rounded up otherwise.
    let mut c = s.client();
    let p = text(&ok(&mut c, &["ACL", "GENPASS"]));
    assert!(
        p.len() == 64 && p.bytes().all(|b| b.is_ascii_hexdigit()),
        "{p}"
    );
    assert_ne!(p, text(&ok(&mut c, &["ACL", "GENPASS"])));
    assert_eq!(text(&ok(&mut c, &["ACL", "GENPASS", "5"])).len(), 2);
    // CAT: categories, and a category's commands and subcommands.
    let cats: Vec<String> = redis::cmd("ACL").arg("CAT").query(&mut c).unwrap();
    assert!(cats.contains(&"read".to_string()) && cats.contains(&"dangerous".to_string()));
    let read: Vec<String> = redis::cmd("ACL")
        .arg("CAT")
        .arg("read")
        .query(&mut c)
        .unwrap();
    assert!(read.contains(&"get".to_string()) && !read.contains(&"set".to_string()));
    let conn: Vec<String> = redis::cmd("ACL")
        .arg("CAT")
        .arg("connection")
        .query(&mut c)
        .unwrap();
    assert!(conn.contains(&"client|id".to_string()) && conn.contains(&"client|kill".to_string()));
    let admin: Vec<String> = redis::cmd("ACL")
        .arg("CAT")
        .arg("admin")
        .query(&mut c)
        .unwrap();
    assert!(
        admin.contains(&"client|kill".to_string()) && !admin.contains(&"client|id".to_string())
    );
    // DRYRUN says what a request would meet, naming the key or channel.
    ok(
        &mut c,
        &["ACL", "SETUSER", "dry", "on", "+get", "~a:*", "&ch"],
    );
    assert_eq!(
        ok(&mut c, &["ACL", "DRYRUN", "dry", "get", "a:1"]),
        Value::Okay
    );
    assert_eq!(
        text(&ok(&mut c, &["ACL", "DRYRUN", "dry", "get", "b:1"])),
        "User dry has no permissions to access the 'b:1' key"
    );
    assert_eq!(
        text(&ok(&mut c, &["ACL", "DRYRUN", "dry", "set", "a:1", "v"])),
        "User dry has no permissions to run the 'set' command"
    );
    // COMMAND INFO shows the categories rules use.
    let info = format!("{:?}", ok(&mut c, &["COMMAND", "INFO", "get"]));
    assert!(
        info.contains("@read") && info.contains("@string") && info.contains("@fast"),
        "{info}"
    );
}

#[test]
fn requirepass_is_the_default_users_password() {
    let s = Server::start(2, &["--requirepass", "pw"]);
    let mut r = s.raw();
    assert_eq!(
        line(&mut r, &["GET", "k"]),
        "-NOAUTH Authentication required."
    );
    assert_eq!(line(&mut r, &["AUTH", "default", "pw"]), "+OK");
    assert_eq!(line(&mut r, &["ACL", "WHOAMI"]), "$7");
    assert_eq!(read_line(&mut r), "default");
    let mut c = as_user(&s, "default", "pw");
    let u = fields(ok(&mut c, &["ACL", "GETUSER", "default"]), "GETUSER");
    let pw: Vec<String> = redis::from_redis_value(&u["passwords"]).unwrap();
    assert_eq!(pw, vec![sha256_hex("pw")]);
    // HELLO 3 AUTH logs a named user in.
    ok(
        &mut c,
        &["ACL", "SETUSER", "carol", "on", ">pw", "+@all", "~*"],
    );
    let mut h = s.raw();
    let hello = line(&mut h, &["HELLO", "3", "AUTH", "carol", "pw"]);
    assert_eq!(hello, "%7");
    // Seven pairs: 14 lines of names, 11 of values.
    for _ in 0..25 {
        read_line(&mut h);
    }
    assert_eq!(line(&mut h, &["ACL", "WHOAMI"]), "$5");
    assert_eq!(read_line(&mut h), "carol");
    // CONFIG SET requirepass replaces the password; "" makes it nopass.
    config_set(&mut c, "requirepass", "new");
    let mut r2 = s.raw();
    assert_eq!(
        line(&mut r2, &["AUTH", "pw"]),
        "-WRONGPASS invalid username-password pair or user is disabled."
    );
    assert_eq!(line(&mut r2, &["AUTH", "new"]), "+OK");
    config_set(&mut c, "requirepass", "");
    let mut r3 = s.raw();
    assert_eq!(line(&mut r3, &["PING"]), "+PONG");
    // A password set by ACL SETUSER default counts as a password too.
    ok(&mut c, &["ACL", "SETUSER", "default", ">other"]);
    let mut r4 = s.raw();
    assert_eq!(line(&mut r4, &["PING"]), "-NOAUTH Authentication required.");
    // RESET logs the connection out, back to the default user.
    assert_eq!(line(&mut h, &["RESET"]), "+RESET");
    assert_eq!(line(&mut h, &["PING"]), "-NOAUTH Authentication required.");
}

#[test]
fn acl_log_records_refusals_and_failed_logins() {
    let s = Server::start(2, &[]);
    let mut admin = s.client();
    ok(
        &mut admin,
        &["ACL", "SETUSER", "eve", "on", ">pw", "+get", "~mine:*"],
    );
    let mut e = raw_as(&s, "eve", "pw");
    for _ in 0..3 {
        line(&mut e, &["SET", "mine:1", "x"]);
    }
    line(&mut e, &["GET", "yours:1"]);
    let mut r = s.raw();
    line(&mut r, &["AUTH", "eve", "wrong"]);
    let entries: Vec<Value> = redis::cmd("ACL").arg("LOG").query(&mut admin).unwrap();
    assert_eq!(entries.len(), 3, "{entries:?}");
    let newest = fields(entries[0].clone(), "entry");
    assert_eq!(text(&newest["reason"]), "auth");
    assert_eq!(text(&newest["object"]), "AUTH");
    assert_eq!(text(&newest["username"]), "eve");
    let key = fields(entries[1].clone(), "entry");
    assert_eq!(text(&key["reason"]), "key");
    assert_eq!(text(&key["object"]), "yours:1");
    assert_eq!(text(&key["context"]), "toplevel");
    let command = fields(entries[2].clone(), "entry");
    assert_eq!(text(&command["reason"]), "command");
    assert_eq!(text(&command["object"]), "set");
    // Three refusals of the same thing are one entry counted three times.
    assert_eq!(command["count"], Value::Int(3));
    assert!(text(&command["client-info"]).contains("user=eve"));
    for f in [
        "entry-id",
        "timestamp-created",
        "timestamp-last-updated",
        "age-seconds",
    ] {
        assert!(command.contains_key(f), "no {f}");
    }
    let one: Vec<Value> = redis::cmd("ACL")
        .arg("LOG")
        .arg(1)
        .query(&mut admin)
        .unwrap();
    assert_eq!(one.len(), 1);
    config_set(&mut admin, "acllog-max-len", "2");
    let two: Vec<Value> = redis::cmd("ACL").arg("LOG").query(&mut admin).unwrap();
    assert_eq!(two.len(), 2);
    assert_eq!(ok(&mut admin, &["ACL", "LOG", "RESET"]), Value::Okay);
    let none: Vec<Value> = redis::cmd("ACL").arg("LOG").query(&mut admin).unwrap();
    assert!(none.is_empty());
}

#[test]
fn transactions_and_scripts_run_as_the_calling_user() {
    let s = Server::start(2, &[]);
    let mut admin = s.client();
    ok(
        &mut admin,
        &["ACL", "SETUSER", "tx", "on", ">pw", "+@all", "-del", "~t:*"],
    );
    let mut t = raw_as(&s, "tx", "pw");
    // Refused when queued: EXEC aborts.
    assert_eq!(line(&mut t, &["MULTI"]), "+OK");
    assert_eq!(line(&mut t, &["SET", "t:1", "a"]), "+QUEUED");
    assert_eq!(
        line(&mut t, &["DEL", "t:1"]),
        "-NOPERM User tx has no permissions to run the 'del' command"
    );
    assert_eq!(
        line(&mut t, &["EXEC"]),
        "-EXECABORT Transaction discarded because of previous errors."
    );
    // Revoked between queueing and EXEC: refused in its place.
    assert_eq!(line(&mut t, &["MULTI"]), "+OK");
    assert_eq!(line(&mut t, &["SET", "t:1", "a"]), "+QUEUED");
    assert_eq!(line(&mut t, &["INCR", "t:2"]), "+QUEUED");
    ok(&mut admin, &["ACL", "SETUSER", "tx", "-incr"]);
    assert_eq!(line(&mut t, &["EXEC"]), "*2");
    assert_eq!(read_line(&mut t), "+OK");
    assert_eq!(
        read_line(&mut t),
        "-NOPERM User tx has no permissions to run the 'incr' command"
    );
    let entries: Vec<Value> = redis::cmd("ACL")
        .arg("LOG")
        .arg(1)
        .query(&mut admin)
        .unwrap();
    assert_eq!(
        text(&fields(entries[0].clone(), "entry")["context"]),
        "multi"
    );
    // Scripts: EVAL's keys are checked, then each redis.call as the caller.
    assert_eq!(
        line(&mut t, &["EVAL", "return 1", "1", "x:1"]),
        "-NOPERM No permissions to access a key"
    );
    let got = line(
        &mut t,
        &["EVAL", "return redis.call('del', KEYS[1])", "1", "t:1"],
    );
    assert!(
        got.starts_with(
            "-ERR ACL failure in script: User tx has no permissions to run the 'del' command"
        ),
        "{got}"
    );
    assert_eq!(
        line(
            &mut t,
            &["EVAL", "return redis.call('set', KEYS[1], 'v')", "1", "t:1"]
        ),
        "+OK"
    );
    let entries: Vec<Value> = redis::cmd("ACL")
        .arg("LOG")
        .arg(1)
        .query(&mut admin)
        .unwrap();
    assert_eq!(text(&fields(entries[0].clone(), "entry")["context"]), "lua");
}

#[test]
fn aclfile_is_loaded_saved_and_reloaded() {
    let dir = TempDir::new("acl");
    let path = dir.0.join("users.acl");
    std::fs::write(&path, "# team\nuser app on >pw ~app:* +@read +@write\n").unwrap();
    let mut s = Server::start(
        2,
        &["--aclfile", path.to_str().unwrap(), "--requirepass", "root"],
    );
    let mut admin = as_user(&s, "default", "root");
    let mut app = as_user(&s, "app", "pw");
    ok(&mut app, &["SET", "app:1", "v"]);
    assert!(cmd(&mut app, &["SET", "other", "v"]).is_err());
    ok(
        &mut admin,
        &["ACL", "SETUSER", "ops", "on", ">pw2", "+@admin"],
    );
    assert_eq!(ok(&mut admin, &["ACL", "SAVE"]), Value::Okay);
    let saved = std::fs::read_to_string(&path).unwrap();
    assert!(saved.contains("user ops on sanitize-payload #"), "{saved}");
    assert!(
        saved.contains("user default on sanitize-payload #"),
        "{saved}"
    );
    assert!(!saved.contains("pw2") && !saved.contains("root"), "{saved}");
    // An edit outside, then LOAD: app is gone (its connection closed), ops stays.
    std::fs::write(
        &path,
        saved
            .lines()
            .filter(|l| !l.starts_with("user app"))
            .collect::<Vec<_>>()
            .join("\n"),
    )
    .unwrap();
    assert_eq!(ok(&mut admin, &["ACL", "LOAD"]), Value::Okay);
    let users: Vec<String> = redis::cmd("ACL").arg("USERS").query(&mut admin).unwrap();
    assert_eq!(users, vec!["default", "ops"]);
    assert!(
        cmd(&mut app, &["PING"]).is_err(),
        "app's connection stayed open"
    );
    // A bad file changes nothing.
    std::fs::write(&path, "user x on +nosuch\n").unwrap();
    let e = cmd(&mut admin, &["ACL", "LOAD"]).unwrap_err().to_string();
    assert!(
        e.contains("users.acl:1") && e.contains("Unknown command or category name in ACL"),
        "{e}"
    );
    let users: Vec<String> = redis::cmd("ACL").arg("USERS").query(&mut admin).unwrap();
    assert_eq!(users, vec!["default", "ops"]);
    // The default user kept its password through both.
    let mut r = s.raw();
    assert_eq!(line(&mut r, &["PING"]), "-NOAUTH Authentication required.");
    assert_eq!(line(&mut r, &["AUTH", "root"]), "+OK");
    s.terminate();

    // A start with an aclfile it cannot use stops with the reason.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port().to_string())
        .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_stairkv"))
        .args([
            "--port",
            &port,
            "--text-port",
            "0",
            "--http-port",
            "0",
            "--cores",
            "1",
            "--aclfile",
        ])
        .arg(&path)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("ACL") && err.contains("users.acl:1"), "{err}");

    // Without an aclfile, SAVE and LOAD say so.
    let s2 = Server::start(1, &[]);
    let mut r = s2.raw();
    let want = "-ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration.";
    assert_eq!(line(&mut r, &["ACL", "SAVE"]), want);
    assert_eq!(line(&mut r, &["ACL", "LOAD"]), want);
}

#[test]
fn the_text_door_checks_the_same_users() {
    let s = Server::start(2, &["--requirepass", "root"]);
    let mut admin = as_user(&s, "default", "root");
    ok(
        &mut admin,
        &["ACL", "SETUSER", "txt", "on", ">pw", "+get", "~k*"],
    );
    ok(&mut admin, &["SET", "k1", "v"]);
    let mut t = s.raw_text();
    let talk = |t: &mut TcpStream, l: &str| {
        t.write_all(l.as_bytes()).unwrap();
        read_line(t)
    };
    assert_eq!(talk(&mut t, "GET k1\n"), "ERROR authentication required");
    assert_eq!(talk(&mut t, "LOGIN txt nope\n"), "ERROR invalid password");
    assert_eq!(talk(&mut t, "LOGIN txt pw\n"), "OK");
    assert_eq!(talk(&mut t, "GET k1\n"), "v");
    assert_eq!(
        talk(&mut t, "GET other\n"),
        "ERROR NOPERM No permissions to access a key"
    );
    assert_eq!(
        talk(&mut t, "PUT k1 x\n"),
        "ERROR NOPERM User txt has no permissions to run the 'set' command"
    );
    assert_eq!(
        talk(&mut t, "LOGIN\n"),
        "ERROR usage: LOGIN <user> <password>"
    );
    let list = text(&ok(&mut admin, &["CLIENT", "LIST"]));
    assert!(
        list.lines()
            .any(|l| l.contains("door=text") && l.contains("user=txt")),
        "{list}"
    );
}
