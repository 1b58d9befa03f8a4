//! Unit tests of config, kept beside its file so that the file itself holds one purpose.

use super::*;

#[test]
fn defaults_resolve() {
    let cfg = Config::resolve(Flags::default()).expect("defaults are valid");
    assert_eq!(cfg.port, 6379);
    assert_eq!(cfg.text_port, 7171);
    assert_eq!(cfg.bind, "127.0.0.1");
    assert!(!cfg.cores.is_empty());
    assert_eq!(cfg.proto_max_bulk_len, 512 * 1024 * 1024);
    assert_eq!(cfg.pubsub_limit, [32 << 20, 8 << 20, 60]);
    assert_eq!(keyspace_events_string(cfg.notify_keyspace_events), "xE");
}

#[test]
fn sizes_limits_and_event_flags_parse_as_redis_does() {
    assert_eq!(parse_memory("100"), Some(100));
    assert_eq!(parse_memory("1k"), Some(1000));
    assert_eq!(parse_memory("1KB"), Some(1024));
    assert_eq!(parse_memory("2gb"), Some(2 << 30));
    assert_eq!(parse_memory("5x"), None);
    assert_eq!(parse_memory("-1"), None);
    assert_eq!(
        parse_output_limit("32mb 8mb 60"),
        Ok([32 << 20, 8 << 20, 60])
    );
    assert!(parse_output_limit("32mb 8mb").is_err());
    assert!(parse_output_limit("a b c").is_err());
    for (given, shown) in [
        ("", ""),
        ("KEA", "AKE"),
        ("Ex", "xE"),
        ("g$xKE", "g$xKE"),
        ("Kn", "Kn"),
        ("AmE", "AEm"),
    ] {
        let f = parse_keyspace_events(given).expect("valid letters");
        assert_eq!(keyspace_events_string(f), shown, "{given}");
    }
    assert_eq!(parse_keyspace_events("Q"), None);
}

#[test]
fn file_keys_match_flags_and_flags_win() {
    let dir = std::env::temp_dir().join(format!("stairkv-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("stairkv.toml");
    std::fs::write(
        &path,
        "port = 7000\ntext-port = 0\nshard-max-keys = 100\nnotify-keyspace-events = \"KEA\"\nclient-output-buffer-limit-pubsub = \"1mb 512kb 10\"\n",
    )
    .expect("write");
    let flags = Flags {
        config: Some(path.clone()),
        port: Some(7001),
        ..Flags::default()
    };
    let cfg = Config::resolve(flags).expect("valid");
    assert_eq!(cfg.port, 7001);
    assert_eq!(cfg.text_port, 0);
    assert_eq!(cfg.shard_max_keys, 100);
    assert_eq!(keyspace_events_string(cfg.notify_keyspace_events), "AKE");
    assert_eq!(cfg.pubsub_limit, [1 << 20, 512 << 10, 10]);
    std::fs::write(&path, "no-such-key = 1\n").expect("write");
    let err = Config::resolve(Flags {
        config: Some(path),
        ..Flags::default()
    })
    .expect_err("unknown key rejected");
    assert!(err.to_string().contains("no-such-key"), "{err}");
}

#[test]
fn memory_limit_from_the_file_as_text_or_bytes() {
    let dir = std::env::temp_dir().join(format!("stairkv-mem-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("stairkv.toml");
    let load = |text: &str| {
        std::fs::write(&path, text).expect("write");
        Config::resolve(Flags {
            config: Some(path.clone()),
            ..Flags::default()
        })
    };
    let cfg =
        load("maxmemory = \"100mb\"\nmaxmemory-policy = \"allkeys-LRU\"\nmaxmemory-samples = 10\n")
            .expect("valid");
    assert_eq!(cfg.maxmemory, 100 << 20);
    assert_eq!(cfg.maxmemory_policy, Policy::AllKeysLru);
    assert_eq!(cfg.maxmemory_samples, 10);
    let cfg = load("maxmemory = 123456\n").expect("valid");
    assert_eq!(cfg.maxmemory, 123_456);
    assert_eq!(cfg.maxmemory_policy, DEFAULT_POLICY);
    for (bad, says) in [
        ("maxmemory = \"lots\"\n", "maxmemory"),
        ("maxmemory-policy = \"fifo\"\n", "maxmemory-policy"),
        ("maxmemory-samples = 0\n", "maxmemory-samples"),
    ] {
        let err = load(bad).expect_err(bad);
        assert!(err.to_string().contains(says), "{err}");
    }
}

#[test]
fn zero_cores_rejected() {
    let err = Config::resolve(Flags {
        cores: Some(0),
        ..Flags::default()
    })
    .expect_err("0 cores");
    assert!(err.to_string().contains("at least 1"));
}

#[test]
fn policies_parse_by_redis_names() {
    for p in Policy::ALL {
        assert_eq!(Policy::parse(p.name()), Some(p));
        assert_eq!(Policy::parse(&p.name().to_uppercase()), Some(p));
    }
    assert_eq!(Policy::parse("lru"), None);
    assert!(Policy::VolatileTtl.volatile() && !Policy::AllKeysLru.volatile());
}

#[test]
fn busy_poll_is_on_by_default_for_one_core_only() {
    let with = |cores: usize, busy: Option<u64>| {
        Config::resolve(Flags {
            cores: Some(cores),
            busy_poll_us: busy,
            ..Flags::default()
        })
        .expect("valid")
        .busy_poll_us
    };
    assert_eq!(with(1, None), DEFAULT_BUSY_POLL_US);
    // Several cores spin only when asked (a test machine may have one CPU).
    if available_cpus().len() >= 2 {
        assert_eq!(with(2, None), 0);
        assert_eq!(with(2, Some(30)), 30);
    }
    assert_eq!(with(1, Some(0)), 0);
}
