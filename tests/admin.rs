//! What Redis tools read and call besides the data path, through the real
//! binary: INFO's sections (replication, cpu and cluster among them, which
//! redis-py's own test suite and monitoring tools parse), ROLE and TOUCH,
//! with Redis's errors for bad arity.

mod common;

use common::{error_text, keys_on_each_core, Server};
use redis::{Commands, Value};

fn info(con: &mut redis::Connection, section: Option<&str>) -> String {
    let mut c = redis::cmd("INFO");
    if let Some(s) = section {
        c.arg(s);
    }
    c.query(con).expect("INFO")
}

fn field(info: &str, name: &str) -> String {
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or_else(|| panic!("no {name} in INFO:\n{info}"))
        .trim()
        .to_string()
}

fn is_hex40(s: &str) -> bool {
    s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

#[test]
fn info_has_the_sections_tools_read() {
    let s = Server::start(2, &[]);
    let mut c = s.client();
    let want = [
        "# Server",
        "# Clients",
        "# Memory",
        "# Persistence",
        "# Stats",
        "# Replication",
        "# CPU",
        "# Cluster",
        "# Keyspace",
    ];
    for section in [None, Some("all"), Some("everything"), Some("default")] {
        let text = info(&mut c, section);
        for w in want {
            assert!(text.contains(w), "INFO {section:?} lacks {w}");
        }
    }
    // One section asked for: that one only.
    let cpu = info(&mut c, Some("cpu"));
    assert!(
        cpu.starts_with("# CPU") && !cpu.contains("# Server"),
        "{cpu}"
    );

    let repl = info(&mut c, Some("replication"));
    assert_eq!(field(&repl, "role"), "master");
    assert_eq!(field(&repl, "connected_slaves"), "0");
    assert_eq!(field(&repl, "master_repl_offset"), "0");
    let replid = field(&repl, "master_replid");
    assert!(is_hex40(&replid), "{replid}");
    assert_eq!(
        field(&info(&mut c, Some("replication")), "master_replid"),
        replid
    );

    // The run id is fixed for the life of the process, and not the replication id.
    let run_id = field(&info(&mut c, Some("server")), "run_id");
    assert!(is_hex40(&run_id), "{run_id}");
    assert_eq!(field(&info(&mut c, Some("server")), "run_id"), run_id);
    assert_ne!(run_id, replid);

    assert_eq!(
        field(&info(&mut c, Some("cluster")), "cluster_enabled"),
        "0"
    );

    let cpu_total = |c: &mut redis::Connection| -> f64 {
        let text = info(c, Some("cpu"));
        ["used_cpu_user", "used_cpu_sys"]
            .iter()
            .map(|f| field(&text, f).parse::<f64>().expect("a CPU figure"))
            .sum()
    };
    let before = cpu_total(&mut c);
    for f in [
        "used_cpu_sys_children",
        "used_cpu_user_children",
        "used_cpu_sys_main_thread",
        "used_cpu_user_main_thread",
    ] {
        field(&cpu, f).parse::<f64>().expect("a CPU figure");
    }
    // Work the server: its CPU time moves on (and never back).
    let mut p = redis::pipe();
    for i in 0..200_000 {
        p.cmd("SET").arg(format!("cpu:{i}")).arg(i).ignore();
    }
    p.query::<()>(&mut c).expect("SETs");
    let after = cpu_total(&mut c);
    assert!(
        after > before,
        "used_cpu_* did not move: {before} -> {after}"
    );
}

#[test]
fn role_and_touch() {
    let s = Server::start(2, &[]);
    let mut c = s.client();
    let role: Value = redis::cmd("ROLE").query(&mut c).expect("ROLE");
    assert_eq!(
        role,
        Value::Array(vec![
            Value::BulkString(b"master".to_vec()),
            Value::Int(0),
            Value::Array(vec![]),
        ])
    );
    assert!(
        error_text(redis::cmd("ROLE").arg("x").query(&mut c)).contains("wrong number of arguments")
    );

    let [zero, one] = keys_on_each_core(&mut c, 1, "touch");
    let _: () = c.set(&zero[0], "a").unwrap();
    let _: () = c.set(&one[0], "b").unwrap();
    let n: i64 = redis::cmd("TOUCH")
        .arg(&zero[0])
        .arg(&one[0])
        .arg("missing")
        .arg(&zero[0])
        .query(&mut c)
        .unwrap();
    assert_eq!(n, 3, "a key named twice counts twice, as in Redis");
    let n: i64 = redis::cmd("TOUCH").arg("missing").query(&mut c).unwrap();
    assert_eq!(n, 0);
    assert!(error_text(redis::cmd("TOUCH").query(&mut c)).contains("wrong number of arguments"));
    // Inside a transaction, on both cores.
    let (n,): (i64,) = redis::pipe()
        .atomic()
        .cmd("TOUCH")
        .arg(&zero[0])
        .arg(&one[0])
        .query(&mut c)
        .unwrap();
    assert_eq!(n, 2);
}
