//! The configuration: the older tool's `config.json`, read unchanged, plus jbr's optional additions.
//!
//! Raw input first, resolved second: `parse` turns the JSON into this typed `Config` plus a list
//! of problems (each with its JSON path); `machine` adds the checks that look at this machine
//! (key files, directories); `load` ties them together. Nothing here talks to a server.
//!
//! Every command that touches servers calls `load_for_run` first: the same checks as
//! `jbr validate`, and any error stops it before anything changes anywhere (exit 2).

pub mod defaults;
mod duplicates;
mod load;
mod machine;
mod parse;
mod ping_url;
mod problem;
mod secret;
mod suggest;

pub use load::{Loaded, load, load_for_run, load_str, load_with, monitoring_of};
pub use machine::CheckMode;
pub use parse::known_keys;
pub use ping_url::{PingUrl, Scheme, UrlProblem};
pub use problem::{ConfigError, Problem, Severity};
pub use secret::Secret;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// Default config path (contract: `-c PATH`, default `/etc/jbr/config.json`).
pub const DEFAULT_CONFIG_PATH: &str = "/etc/jbr/config.json";

/// A fully resolved configuration: every default applied, every time a `Duration`.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file this came from, for messages.
    pub path: PathBuf,
    /// Top-level `ssh_key`: used for every server that does not set its own.
    pub ssh_key: Option<PathBuf>,
    /// `servers.NAME` in file order is not significant; sorted by name for stable output.
    pub servers: BTreeMap<String, Server>,
    /// `jobs[]` in file order (the plan sorts them).
    pub jobs: Vec<Job>,
    pub orchestrator: Orchestrator,
    pub destination: DestinationPolicy,
    pub notification: Notification,
    pub monitoring: Monitoring,
    /// `loop.*`: the older tool's daemon loop, used by `jbr daemon` only.
    pub daemon_loop: Loop,
    /// `nas.*`: the NAS's own block device, whose write counter jbr samples (jbr addition).
    pub nas: Nas,
}

/// `nas.*`: jbr runs on the NAS, so it can watch what the backups exist to protect: the RAID's
/// write throughput. Off unless `block_device` is set.
#[derive(Debug, Clone, PartialEq)]
pub struct Nas {
    /// `nas.block_device`, as `/proc/diskstats` names it (`md0`); none (the default) is off.
    pub block_device: Option<String>,
    /// `nas.diskstats_file`; default `/proc/diskstats`.
    pub diskstats_file: PathBuf,
    /// `nas.min_write_mb_s`: a job whose average falls below this gets a "slow NAS" alert.
    pub min_write_mb_s: Option<f64>,
    /// `nas.foreign_write_min_mb`: writes while no jbr job runs above this raise an alert (a
    /// writer jbr does not know about); default 100 MB.
    pub foreign_write_min_mb: f64,
}

/// `loop.target_interval` and `loop.min_pause`, as the older tool's daemon reads them. Only
/// `jbr daemon` uses them, and it refuses to start without both (`Loop::resolve`); every other
/// command ignores them, so a bad value is a warning there, as it always was.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Loop {
    /// One cycle every this long, start to start; `None` when absent or not a usable time.
    pub target_interval: Option<Duration>,
    /// At least this long between a cycle's end and the next start.
    pub min_pause: Option<Duration>,
}

/// The loop as `jbr daemon` runs it: both keys present and usable.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoopTimes {
    pub target_interval: Duration,
    pub min_pause: Duration,
}

impl Loop {
    /// Both times, or one line per missing one (`file: at 'loop.min_pause': …`), so that
    /// `jbr daemon` never guesses a schedule the operator did not write.
    pub fn resolve(&self, file: &std::path::Path) -> Result<LoopTimes, Vec<String>> {
        let missing = |key: &str, example: u32| {
            format!(
                "{}: at 'loop.{key}': jbr daemon needs this: a number of seconds, more than 0 (the older tool's production config has {example}; see the warning above if the key is there)",
                file.display()
            )
        };
        match (self.target_interval, self.min_pause) {
            (Some(target_interval), Some(min_pause)) => Ok(LoopTimes {
                target_interval,
                min_pause,
            }),
            (t, m) => {
                let mut problems = Vec::new();
                if t.is_none() {
                    problems.push(missing("target_interval", 86400));
                }
                if m.is_none() {
                    problems.push(missing("min_pause", 3600));
                }
                Err(problems)
            }
        }
    }
}

#[derive(Debug, Clone)]
pub struct Server {
    pub name: String,
    pub host: String,
    /// Default 51514.
    pub port: u16,
    /// Default `root`.
    pub user: String,
    /// Per-server key, else the top-level `ssh_key`, else ssh's own default.
    pub ssh_key: Option<PathBuf>,
    /// Connect timeout; default 30 s.
    pub ssh_timeout: Duration,
    /// The NAS destination on that server; when absent, no destination lifecycle for it.
    pub destination_id: Option<String>,
    /// jbr addition: a known_hosts file for strict host-key checking.
    pub known_hosts: Option<PathBuf>,
    /// jbr addition (testing aid): run this argv prefix locally instead of SSH
    /// (e.g. `["env", "JBR_SIM_STATE=/tmp/a.json", "/usr/local/bin/jbr-sim"]`). No shell.
    pub local_command: Option<Vec<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobType {
    Accounts,
    Directories,
    Database,
    Other,
}

impl JobType {
    pub fn as_str(self) -> &'static str {
        match self {
            JobType::Accounts => "accounts",
            JobType::Directories => "directories",
            JobType::Database => "database",
            JobType::Other => "other",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Job {
    /// JetBackup job `_id`.
    pub job_id: String,
    /// A key of `servers`.
    pub server: String,
    /// Default `""`.
    pub label: String,
    /// `type`; default `other`.
    pub kind: JobType,
    /// Higher runs first; default 0.
    pub priority: i64,
    /// Per-job timeout; default `orchestrator.job_timeout`.
    pub timeout: Option<Duration>,
    /// jbr addition: `"enabled": false` skips the job (reported as disabled in the config).
    pub enabled: bool,
}

impl Job {
    /// The timeout that applies to this job.
    pub fn effective_timeout(&self, orchestrator: &Orchestrator) -> Duration {
        self.timeout.unwrap_or(orchestrator.job_timeout)
    }
}

#[derive(Debug, Clone)]
pub struct Orchestrator {
    /// Between status polls; default 30 s.
    pub poll_interval: Duration,
    /// For a triggered job to show as running; default 120 s.
    pub startup_timeout: Duration,
    /// Before a job is aborted; default 28800 s.
    pub job_timeout: Duration,
    /// jbr addition: after stopQueueGroup, how long to wait for a final state; default 60 s.
    pub stop_timeout: Duration,
    /// jbr addition: poll interval while confirming a stop; default 5 s.
    pub stop_poll_interval: Duration,
    /// jbr addition: poll interval once a job's end is near (see `follow::near_end`), never
    /// longer than `poll_interval`; default 2 s.
    pub near_end_poll_interval: Duration,
    /// jbr addition: a run refused because another has held the lock longer than this mails a
    /// failure (last night's run is still going: a stuck night must not be silent); default 20 h.
    pub lock_alert_after: Duration,
    /// jbr addition: a run that replays an interrupted run's journal, less than this after that
    /// run started, does not trigger again the jobs it completed (`run --rerun-all` does);
    /// default 20 h.
    pub resume_within: Duration,
    /// Disable each job again as soon as its backup is seen writing, so the server's scheduler
    /// can start it only between its enable and its trigger; falls back per server when that
    /// server aborts a disabled job's run (issue 13); default false.
    pub disable_while_running: bool,
    /// jbr addition: no job starts at or after the first such local time after the run's start
    /// (`"HH:MM"`); none by default (no window).
    pub window_end: Option<LocalTime>,
    /// jbr addition: `"start"` (default) or `"fit"` (also leave out a job whose usual duration
    /// would end after `window_end`).
    pub window_policy: WindowPolicy,
    /// jbr addition: bound on one remote call; default 120 s.
    pub call_timeout: Duration,
    /// jbr addition: first pause before retrying a failed call (doubles, capped at poll_interval); default 2 s.
    pub retry_backoff: Duration,
    /// Default `/run/jbr/jbr.lock`.
    pub lock_file: PathBuf,
    /// Default `/var/log/jbr/jbr.log`.
    pub log_file: PathBuf,
    /// Default 10 MiB.
    pub log_max_bytes: u64,
    /// Default 5.
    pub log_backup_count: u32,
    /// Default `/var/lib/jbr/last-run.json`.
    pub state_file: PathBuf,
    /// jbr addition; default `<state_file>.journal`.
    pub journal_file: PathBuf,
    /// jbr addition: the Prometheus textfile written at the start and end of each run; none
    /// by default (off).
    pub metrics_file: Option<PathBuf>,
}

/// A wall-clock time of day (`orchestrator.window_end`), in the Pi's local time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalTime {
    pub hour: u8,
    pub minute: u8,
}

impl LocalTime {
    /// `"07:00"` or `"7:00"`: hours 0–23, minutes 0–59. `None` for anything else.
    pub fn parse(text: &str) -> Option<LocalTime> {
        let (h, m) = text.split_once(':')?;
        let digits = |s: &str, max_len| {
            (!s.is_empty() && s.len() <= max_len && s.bytes().all(|b| b.is_ascii_digit()))
                .then(|| s.parse::<u8>().ok())
                .flatten()
        };
        let (hour, minute) = (digits(h, 2)?, digits(m, 2).filter(|_| m.len() == 2)?);
        (hour < 24 && minute < 60).then_some(LocalTime { hour, minute })
    }
}

impl std::fmt::Display for LocalTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:02}:{:02}", self.hour, self.minute)
    }
}

/// Which jobs the night window leaves out (`orchestrator.window_policy`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum WindowPolicy {
    /// A job may start any time before `window_end`.
    #[default]
    Start,
    /// A job also does not start when its usual duration would end after `window_end`.
    Fit,
}

impl WindowPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            WindowPolicy::Start => "start",
            WindowPolicy::Fit => "fit",
        }
    }
}

#[derive(Debug, Clone)]
pub struct DestinationPolicy {
    /// Default true.
    pub skip_if_disabled: bool,
    /// Default false (also `run --force-activate`).
    pub force_activate: bool,
    /// Default 3 days.
    pub alert_days_without_jobs: f64,
}

#[derive(Debug, Clone)]
pub struct Notification {
    pub enabled: bool,
    pub smtp_host: String,
    pub smtp_port: u16,
    pub smtp_tls: bool,
    pub smtp_user: String,
    /// `FROM_ENV:VAR` is resolved at load time; never printed.
    pub smtp_password: Secret,
    pub from_address: String,
    pub to_addresses: Vec<String>,
    pub on_failure: bool,
    pub on_timeout: bool,
    pub on_complete: bool,
    pub on_partial: bool,
    pub on_daemon_lifecycle: bool,
}

/// jbr addition (issue 11): the dead-man's switch, Healthchecks-protocol pings around each run.
#[derive(Debug, Clone)]
pub struct Monitoring {
    /// `monitoring.healthcheck_url`; none (the default) sends no pings. Its path is the check's
    /// secret, so it prints as scheme and host only.
    pub healthcheck_url: Option<PingUrl>,
    /// `monitoring.healthcheck_timeout`: the bound on one ping, its retries included; default 10 s.
    pub healthcheck_timeout: Duration,
}
