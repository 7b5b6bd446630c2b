//! The command line as typed (clap derive). No I/O here.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::config::DEFAULT_CONFIG_PATH;

/// Run JetBackup 5 backups from several servers to one NAS, strictly one at a time.
#[derive(Debug, Parser)]
#[command(name = "jbr", version, about, long_about = None)]
pub struct Cli {
    /// Config file (the older tool's config.json is read unchanged).
    #[arg(short = 'c', long = "config", global = true, default_value = DEFAULT_CONFIG_PATH, value_name = "PATH")]
    pub config: PathBuf,

    /// More detail on stderr and in the log (-v debug, -vv trace). RUST_LOG overrides.
    #[arg(short = 'v', long = "verbose", global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,

    /// Only warnings and errors on stderr.
    #[arg(short = 'q', long = "quiet", global = true)]
    pub quiet: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the config offline and report every problem with its JSON path.
    Validate {
        /// Print the problems as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }
}
