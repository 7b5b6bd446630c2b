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
    /// See jbr work in seconds: the real `run` against built-in simulated servers.
    ///
    /// Runs the real orchestrator (the same lock, journal, state, plan, per-job lifecycle and
    /// report as `jbr run`) against simulated JetBackup 5 servers inside this process, on a
    /// simulated clock: a night of backups (30-second polls, jobs of minutes to an hour, a
    /// 4-hour job_timeout) takes a few seconds. Needs no config file (-c is ignored), opens no
    /// connection, and writes nothing outside a temporary directory it removes.
    ///
    /// Shows a live progress line (server, job, state, simulated time; plain lines when stdout
    /// is not a terminal), then the report, then the simulator's own check from its timeline:
    /// the most NAS writers at once (must be 1) and anything left enabled or running (must be
    /// nothing). The orchestrator's own log goes to stderr only with -v. Ctrl-C cancels it as it
    /// would a real run: the running job is aborted and everything jbr enabled is disabled.
    ///
    /// --faults mixes in a failed job, a hang that jbr aborts at job_timeout, flaky polls
    /// (garbage, success 0, a stall), a server whose own scheduler is already writing to the NAS
    /// at start (jbr waits for it), and a destination disabled by someone else (that server is
    /// skipped).
    ///
    /// Exit status: the run's own (0 all completed; 1 with --faults, since jobs fail); 2 for a
    /// usage error; 4 when the simulator check fails (a bug in jbr).
    Demo {
        /// Simulated servers (1-100).
        #[arg(long, default_value_t = 3, value_name = "N",
              value_parser = clap::value_parser!(u16).range(1..=crate::commands::demo::MAX_SERVERS as i64))]
        servers: u16,
        /// Jobs per server (1-20).
        #[arg(long, default_value_t = 2, value_name = "N",
              value_parser = clap::value_parser!(u16).range(1..=crate::commands::demo::MAX_JOBS as i64))]
        jobs: u16,
        /// Mix in faults (needs at least 3 servers and 2 jobs per server).
        #[arg(long)]
        faults: bool,
    },

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
        /// Print every remote call a run would make now, in order, and change nothing: the
        /// servers are read (reads only), then the run is rehearsed on that snapshot.
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
        /// Back up again the jobs that an interrupted run (SIGKILL, power cut) completed
        /// tonight. Without it, a run that replays such a run's journal, less than
        /// orchestrator.resume_within (default 72000 s) after that run started, reports them as
        /// completed in it and does not trigger them again.
        #[arg(long)]
        rerun_all: bool,
        /// Print the run record as JSON instead of the text report.
        #[arg(long)]
        json: bool,
    },

    /// Run `jbr run` in a loop, the older tool's daemon: one cycle every loop.target_interval.
    ///
    /// Each cycle is exactly `jbr run` (the lock, the journal replay, the report, the mail, the
    /// state file, the metrics). Between cycles it pauses for max(loop.target_interval − the
    /// cycle's duration, loop.min_pause), as the older tool did; both keys are required (no
    /// default: the older tool's production config has 86400 and 3600). The lock is taken per
    /// cycle and released during the pause, so `status`, `test` and a manual `run` work between
    /// cycles; a cycle that finds the lock held waits for it (up to loop.target_interval,
    /// checking every second, with a log line), then runs.
    ///
    /// On start, when the state file shows that the last run started less than
    /// loop.target_interval ago, the first cycle waits until it is due, and at least
    /// loop.min_pause after that run's end: a crash loop or a reboot never chains backups.
    ///
    /// SIGTERM or SIGINT during a cycle: the same cleanup as `run` (the running job is aborted,
    /// everything jbr enabled is disabled), then exit; during the pause: exit at once. SIGHUP:
    /// re-read the config before the next cycle (an invalid one is logged and mailed, and the
    /// old one kept). A critical cycle (exit 4) does not stop the daemon: its report is mailed,
    /// and the next cycle's journal replay cleans up. notification.on_daemon_lifecycle mails on
    /// start and stop. The state file records the daemon's pid and next cycle (`jbr status`).
    /// Under systemd (NOTIFY_SOCKET set) it sends READY=1 and STATUS= lines: see
    /// systemd/jbr-daemon.service.
    ///
    /// Exit status: 0 stopped by a signal; 2 usage or config error at start (a missing or
    /// unusable loop.* key included); 4 stopped while its last cycle's report says something
    /// jbr enabled is still enabled (the next start's replay cleans up).
    Daemon,

    /// Check that each server answers over SSH and that its destination and jobs exist.
    ///
    /// For each selected server: `echo jbr-ping` through SSH and the gate, `getDestination` for
    /// its `destination_id`, and `getBackupJob` for each configured job (also those with
    /// `"enabled": false`). Servers are asked concurrently; one server's failure is reported on
    /// its line and does not stop the others. Reads only: jbr refuses to send any change.
    ///
    /// Warnings (shown, exit status unchanged): a job that does not target the server's NAS
    /// destination (a run would open the NAS window for a job that writes elsewhere), and a
    /// destination or job found enabled or running (a run in progress, or left enabled).
    ///
    /// Exit status: 0 when every server answered and every destination and job exists (warnings
    /// allowed); 1 when a server is unreachable, a destination or job is missing, or a call
    /// failed; 2 for a usage or config error (e.g. an unknown --server).
    Test {
        /// Only this server (a key of `servers`).
        #[arg(long, value_name = "NAME")]
        server: Option<String>,
        /// Print one JSON object: ok, servers[] (server, ok, reachable, checks[] of check, id,
        /// label, status, detail), errors[].
        #[arg(long)]
        json: bool,
    },
    /// Last run (from the state file), the live state of each server, each job's history.
    ///
    /// Shows a running `jbr daemon` (its pid and next cycle, from the state file), a run in
    /// progress (from the lock file), the last run recorded in `orchestrator.state_file` (none
    /// yet is not an error), changes left open in the journal (a run in progress, or one that
    /// was killed: the next run undoes them), and per server: the NAS destination enabled or
    /// disabled, each configured job disabled, enabled or running, and every active queue group
    /// with its full id (for `jbr stop`). Then each configured job's history (state file): the
    /// last run's outcome, the last success, the usual duration (median of the recent
    /// successful runs) and a sparkline of the last 14 runs' durations. Servers are asked
    /// concurrently. Reads only; takes no lock, so it can watch a run in progress.
    ///
    /// Exit status: 0 when every server answered and every configured destination and job
    /// exists; 1 when a server is unreachable, something is missing, or the state file or
    /// journal cannot be read. The last run's own outcome is shown (and in --json as
    /// last_run.exit_code) but does not change this exit status. 2 for a usage or config error.
    Status {
        /// Only this server (a key of `servers`).
        #[arg(long, value_name = "NAME")]
        server: Option<String>,
        /// Print one JSON object: ok, state_file, daemon (pid, since, next_cycle,
        /// cycle_started, line; null when no `jbr daemon` runs), run_in_progress, last_run (the
        /// run record plus exit_code, or null), journal (file, open_changes[]), servers[] (server, reachable, destination,
        /// jobs[], active_groups[] with id, job_id, status, status_name), history[] (server,
        /// job_id, label, last_outcome, last_success, usual_duration_secs, sparkline, runs[]),
        /// errors[].
        #[arg(long)]
        json: bool,
    },
    /// The state of each server's NAS destination.
    ///
    /// For each selected server with a `destination_id`: its name, type and whether it is
    /// enabled, plus what the next run will do with it: a destination found disabled that the
    /// state file does not record jbr itself disabling is skipped (`skip_if_disabled`) unless
    /// `force_activate`. Enabled outside a run means a run is in progress or something left it
    /// enabled. Reads only.
    ///
    /// Exit status: 0 when every configured destination exists; 1 when a server is
    /// unreachable or a destination is missing; 2 for a usage or config error.
    Destinations {
        /// Only this server (a key of `servers`).
        #[arg(long, value_name = "NAME")]
        server: Option<String>,
        /// Print one JSON object: ok, destinations[] (server, id, configured, exists, name,
        /// kind, disabled, disabled_by_jbr, next_run, error), errors[].
        #[arg(long)]
        json: bool,
    },
    /// Configured jobs, and jobs on the servers that target the NAS but are not configured.
    ///
    /// Lists every configured job with its live state (from `listBackupJobs` on its server),
    /// then every job on a server that targets that server's NAS destination but is not in the
    /// config: such a job can write to the NAS while jbr has the destination enabled, next to
    /// jbr's own job. Reads only.
    ///
    /// Exit status: 0 when every configured job exists and no unconfigured job targets the NAS;
    /// 1 when a server is unreachable, a configured job is missing, or an unconfigured job
    /// targets the NAS (a finding to act on: add it to the config or point it elsewhere);
    /// 2 for a config error.
    List {
        /// Print one JSON object: ok, jobs[] (server, job_id, label, type, priority, enabled,
        /// configured, exists, name, disabled, running, targets_nas, error), errors[].
        #[arg(long)]
        json: bool,
    },
    /// Abort a queue group (a running or pending backup) and confirm it stopped.
    ///
    /// Checks GROUP_ID against the contract's value set before anything is sent, reads the
    /// group (`getQueueGroup`), sends `stopQueueGroup`, then — since a stop is only a signal —
    /// polls `getQueueGroup` every `orchestrator.stop_poll_interval` until the group reaches a
    /// final status, at most `orchestrator.stop_timeout`. A group that already finished is
    /// reported and nothing is sent.
    ///
    /// Takes no lock: aborting a stuck backup while `jbr run` follows it is a legitimate
    /// operator action (the run sees the group end as aborted, then disables its job and
    /// destination as usual). The command is written to the log file.
    ///
    /// Exit status: 0 when the group is confirmed stopped (or had already finished); 1 when the
    /// server is unreachable, the group does not exist, the server refused the stop, or no final
    /// status came within stop_timeout; 2 for a usage or config error (unknown server, a
    /// GROUP_ID with characters outside [A-Za-z0-9_.:-]).
    Stop {
        /// The server the group runs on (a key of `servers`).
        #[arg(long, value_name = "NAME")]
        server: String,
        /// The queue group's `_id` (see `jbr status`).
        #[arg(value_name = "GROUP_ID")]
        group_id: String,
    },

    /// Print jbr's man page (roff) on stdout.
    ///
    /// Generated from these very flags and help texts, so it cannot drift from them. Install it
    /// with `jbr man > /usr/local/share/man/man1/jbr.1`. Needs no config (-c is ignored).
    Man,

    /// Print the shell completion script for SHELL on stdout.
    ///
    /// For bash: `jbr completions bash > /etc/bash_completion.d/jbr`; zsh: into a directory on
    /// `$fpath` as `_jbr`; fish: `~/.config/fish/completions/jbr.fish`. Needs no config.
    Completions {
        /// The shell to complete for.
        #[arg(value_name = "SHELL")]
        shell: clap_complete::Shell,
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
