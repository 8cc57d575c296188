//! The `oxbase` command: parses arguments and calls the library. Nothing else lives here.

mod cli;
mod commands;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    commands::init_logging(cli.log_format);
    match commands::run(cli.command) {
        Ok(code) => code,
        Err(error) if error.is::<commands::StdoutClosed>() => ExitCode::SUCCESS,
        Err(error) => {
            // Not eprintln!: it panics when stderr is a closed pipe too.
            let _ = writeln!(std::io::stderr(), "error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
