//! The stairkv server binary: parse flags, resolve the config, start the cores;
//! or run a tool instead (`stairkv check FILE [--fix]`).

use clap::Parser;
use stairkv::config::{Config, Flags, Tool};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{reload, EnvFilter};

fn main() {
    let flags = Flags::parse();
    if let Some(Tool::Check { file, fix }) = &flags.tool {
        std::process::exit(check(file, *fix));
    }
    let cfg = match Config::resolve(flags) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("stairkv: {e}");
            std::process::exit(2);
        }
    };
    init_logging(&cfg.log_level);
    if let Err(e) = stairkv::server::run(cfg) {
        eprintln!("stairkv: {e}");
        std::process::exit(1);
    }
}

type FilterHandle = reload::Handle<EnvFilter, tracing_subscriber::Registry>;
static FILTER: std::sync::OnceLock<FilterHandle> = std::sync::OnceLock::new();

/// Log to stderr through a filter CONFIG SET log-level can change.
fn init_logging(level: &str) {
    let filter = EnvFilter::try_new(level).unwrap_or_else(|_| EnvFilter::new("info"));
    let (filter, handle) = reload::Layer::new(filter);
    // Colour codes only for a person at a terminal, never into a log file.
    use std::io::IsTerminal;
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    tracing_subscriber::registry().with(filter).with(fmt).init();
    let _ = FILTER.set(handle);
    let _ = stairkv::config::LOG_FILTER.set(|level| {
        let f = EnvFilter::try_new(level).map_err(|e| format!("bad log level: {e}"))?;
        FILTER
            .get()
            .ok_or_else(|| "no logger".to_string())?
            .reload(f)
            .map_err(|e| e.to_string())
    });
}

/// `stairkv check FILE [--fix]`: the report on stdout; the exit code says
/// whether the file is whole (0), torn or corrupt (1), or unreadable (2). An
/// RDB snapshot (it starts with `REDIS`) is checked as one; a log otherwise.
fn check(file: &std::path::Path, fix: bool) -> i32 {
    let mut magic = [0u8; 5];
    let is_rdb = std::fs::File::open(file)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut magic))
        .is_ok()
        && &magic == b"REDIS";
    if is_rdb {
        return check_rdb(file, fix);
    }
    match stairkv::persist::log::check_log(file, fix) {
        Ok(report) => {
            println!("{report}");
            if report.is_clean() || report.truncated {
                0
            } else {
                1
            }
        }
        Err(e) => {
            eprintln!("stairkv check: {}: {e}", file.display());
            2
        }
    }
}

/// The RDB side of `stairkv check`: every record read, the checksum compared.
/// A snapshot is never cut short to "fix" it: keys after a bad byte would be
/// lost without a word, so `--fix` refuses.
fn check_rdb(file: &std::path::Path, fix: bool) -> i32 {
    use stairkv::persist::rdb::{check_rdb, Checksum};
    if fix {
        eprintln!(
            "stairkv check: {}: an RDB snapshot is not repaired in place (take a new SAVE, or restore a copy)",
            file.display()
        );
        return 2;
    }
    match check_rdb(file) {
        Ok(s) => {
            let checksum = match s.checksum {
                Checksum::Verified(c) => format!("verified ({c:016x})"),
                Checksum::NotComputed => "not computed by the saver (zero)".into(),
                Checksum::Absent => "none (RDB version before 5)".into(),
            };
            println!(
                "{}: RDB version {}, {} keys ({} with a TTL), {} bytes, checksum {checksum}{}",
                file.display(),
                s.version,
                s.keys,
                s.keys_with_ttl,
                s.bytes,
                if s.trailing_bytes > 0 {
                    format!(", {} bytes after the trailer (ignored)", s.trailing_bytes)
                } else {
                    String::new()
                }
            );
            0
        }
        Err(e) => {
            println!("{}: {e}", file.display());
            1
        }
    }
}
