//! The stairkv-bench binary: parse flags, run the load (or draw a plot), print
//! the table, write the report, and exit 1 if the run failed.

use clap::Parser;
use stairkv::loadgen::args::{Cli, Command, Plan};
use stairkv::loadgen::{report, run};

fn main() {
    let cli = Cli::parse();
    if let Some(Command::Plot(args)) = &cli.command {
        if let Err(e) = report::plot(args) {
            eprintln!("stairkv-bench plot: {e}");
            std::process::exit(1);
        }
        return;
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
