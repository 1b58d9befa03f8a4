//! The stairkv server binary: parse flags, resolve the config, start the cores.

use clap::Parser;
use stairkv::config::{Config, Flags};

fn main() {
    let flags = Flags::parse();
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
