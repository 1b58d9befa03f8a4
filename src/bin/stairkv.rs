//! The stairkv server binary: parse flags, resolve the config, start the cores;
//! or run a tool instead (`stairkv check FILE [--fix]`).

use clap::Parser;
use stairkv::config::{Config, Flags, Tool};

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
    let filter = tracing_subscriber::EnvFilter::try_new(&cfg.log_level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colour codes only for a person at a terminal, never into a log file.
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    if let Err(e) = stairkv::server::run(cfg) {
        eprintln!("stairkv: {e}");
        std::process::exit(1);
    }
}

/// `stairkv check FILE [--fix]`: the report on stdout; the exit code says
/// whether the file is whole (0), torn or corrupt (1), or unreadable (2).
fn check(file: &std::path::Path, fix: bool) -> i32 {
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
