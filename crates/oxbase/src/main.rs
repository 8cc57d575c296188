//! The `oxbase` command: parses arguments and calls the library. Nothing else lives here.

mod audit;
mod cli;
mod commands;
mod identity;

use std::io::Write;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};

fn main() -> ExitCode {
    // Parsed in two steps so that the commands can tell a flag from its variable.
    let matches = cli::Cli::command().get_matches();
    let cli = cli::Cli::from_arg_matches(&matches).unwrap_or_else(|error| error.exit());
    commands::init_logging(cli.log_format);
    let subcommand_matches = matches.subcommand().map(|(_, matches)| matches);
    match commands::run(cli.command, subcommand_matches) {
        Ok(code) => code,
        Err(error) if error.is::<commands::StdoutClosed>() => ExitCode::SUCCESS,
        Err(error) => {
            // Not eprintln!: it panics when stderr is a closed pipe too.
            let _ = writeln!(std::io::stderr(), "error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
