//! The stairkv-bench binary: parse flags, run the load (or draw a plot), print
//! the table, write the report, and exit 1 if the run failed.

use clap::Parser;
use stairkv::loadgen::args::{Cli, Command, Plan};
use stairkv::loadgen::{report, run};

fn main() {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Some(Command::Plot(args)) => Some(report::plot(&args).map(|()| true)),
        Some(Command::Expiry(args)) => Some(stairkv::loadgen::pubsub::expiry(args)),
        Some(Command::Fanout(args)) => Some(stairkv::loadgen::pubsub::fanout(args)),
        None => None,
    };
    match outcome {
        Some(Ok(true)) => return,
        Some(Ok(false)) => std::process::exit(1),
        Some(Err(e)) => {
            eprintln!("stairkv-bench: {e}");
            std::process::exit(1);
        }
        None => {}
    }
    let plan = match Plan::new(cli.run, &stairkv::config::available_cpus()) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("stairkv-bench: {e}");
            std::process::exit(2);
        }
    };
    let outcome = match run::run(plan.clone()) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("stairkv-bench: {e}");
            std::process::exit(1);
        }
    };
    print!("{}", report::table(&plan, &outcome));
    if let Some(dir) = &plan.report_dir {
        if let Err(e) = report::write_dir(dir, &plan, &outcome) {
            eprintln!("stairkv-bench: {e}");
            std::process::exit(1);
        }
    }
    if outcome.stats.failed() {
        std::process::exit(1);
    }
}
