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
    ///
    /// Reads the config, applies every default and reports all problems in one pass, one line
    /// each: file, JSON path (like `jobs[3].server`), what is wrong, and a hint. Also checks this
    /// machine: ssh key files (present, mode 600), known_hosts files, FROM_ENV variables, and
    /// that the lock, state, journal and log files can be written. Talks to no server and
    /// writes nothing. Run it as the user jbr runs as.
    ///
    /// Exit status: 0 when there are only warnings (typos in key names, values the older tool
    /// rejected as too small), 2 when there is an error. Every command that touches servers
    /// runs the same checks first and refuses to start on an error; there, a key or known_hosts
    /// file that does not exist is an error too, while validate only warns about it (so a
    /// config can be checked away from the NAS).
    Validate {
        /// Print one JSON object: file, valid, errors, warnings, problems[] (severity, path,
        /// code, message, hint, text).
        #[arg(long)]
        json: bool,
    },

    /// Run the configured backups, one server and one job at a time, and print the report.
    ///
    /// Order: jobs by priority (high first), grouped by server; all jobs of a server run inside
    /// one window of its NAS destination (enabled before, disabled after, each read back). Per
    /// job: enable, trigger, follow its queue group to the end, verify, disable. A job past its
    /// timeout is aborted and the stop confirmed before anything else starts. Every change is
    /// written to the journal first, so SIGTERM, a crash or a power cut never leaves a job or a
    /// destination enabled past the next start. Takes the lock file; a second run exits 3.
    ///
    /// Exit status: 0 every selected job completed (warnings allowed); 1 a job failed, timed
    /// out, was partial or skipped; 2 usage or config error (nothing changed); 3 another run
    /// holds the lock; 4 something jbr enabled could not be disabled (the report says what).
    Run {
        /// Print the plan and every remote call it would make, in order; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Only this server's jobs (repeatable).
        #[arg(long = "server", value_name = "NAME")]
        servers: Vec<String>,
        /// Only this job id (repeatable).
        #[arg(long = "job", value_name = "ID")]
        jobs: Vec<String>,
        /// Activate a destination found disabled by someone else (overrides
        /// destination.skip_if_disabled).
        #[arg(long)]
        force_activate: bool,
        /// Abort a backup jbr did not start that is writing to the NAS at start, instead of
        /// waiting for it (bounded by job_timeout).
        #[arg(long)]
        abort_foreign: bool,
        /// Print the run record as JSON instead of the text report.
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
