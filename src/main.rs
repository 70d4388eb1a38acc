//! The `ventral` binary: parses arguments, runs, prints errors with context, maps them to exit codes
//! (0 ok, 1 runtime error, 2 usage error; 130 after Ctrl-C).

use clap::Parser;
use ventral::cli::{run, Cli, EXIT_USAGE};

fn main() {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_USAGE } else { 0 };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    ventral::output::install_interrupt_handler();
    if let Err(f) = run(cli) {
        eprintln!("error: {:#}", f.error);
        std::process::exit(f.code);
    }
}
