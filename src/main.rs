//! A thin main: parse flags, run one command, exit with the contract's code.

use std::process::ExitCode;

use clap::Parser;

use jbr::cli::{Cli, Command};
use jbr::exit::Exit;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version are not errors.
            let code = if e.use_stderr() {
                Exit::Usage
            } else {
                Exit::Ok
            };
            let _ = e.print();
            return code.into();
        }
    };
    let exit = match &cli.command {
        Command::Validate { json } => jbr::commands::validate::run(&cli.config, *json),
    };
    exit.into()
}
