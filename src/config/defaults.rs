//! Every default in one place: the older tool's (shared/jbr-contract.md) and jbr's additions.

use std::path::PathBuf;
use std::time::Duration;

use super::{Config, DestinationPolicy, Monitoring, Notification, Orchestrator, Secret};

pub const PORT: u16 = 51514;
pub const USER: &str = "root";
pub const SSH_TIMEOUT: f64 = 30.0;

pub const POLL_INTERVAL: f64 = 30.0;
pub const STARTUP_TIMEOUT: f64 = 120.0;
pub const JOB_TIMEOUT: f64 = 28800.0;
pub const STOP_TIMEOUT: f64 = 60.0;
pub const STOP_POLL_INTERVAL: f64 = 5.0;
pub const NEAR_END_POLL_INTERVAL: f64 = 2.0;
pub const LOCK_ALERT_AFTER: f64 = 72_000.0;
pub const RESUME_WITHIN: f64 = 72_000.0;
pub const CALL_TIMEOUT: f64 = 120.0;
pub const RETRY_BACKOFF: f64 = 2.0;
pub const LOCK_FILE: &str = "/run/jbr/jbr.lock";
pub const LOG_FILE: &str = "/var/log/jbr/jbr.log";
pub const LOG_MAX_BYTES: u64 = 10 * 1024 * 1024;
pub const LOG_BACKUP_COUNT: u32 = 5;
pub const STATE_FILE: &str = "/var/lib/jbr/last-run.json";

pub const ALERT_DAYS_WITHOUT_JOBS: f64 = 3.0;

pub const SMTP_HOST: &str = "localhost";
pub const SMTP_PORT: u16 = 25;

pub const HEALTHCHECK_TIMEOUT: f64 = 10.0;

/// The longest time jbr accepts anywhere: a value above it is a typo (minutes for seconds, an
/// extra zero), not a plan.
pub const MAX_SECONDS: f64 = 30.0 * 24.0 * 3600.0;

/// Values below these were rejected by the older tool. jbr accepts them (tests run on fractions
/// of a second) but warns, because on real servers they mean hammering the API or aborting
/// healthy backups.
pub const OLDER_TOOL_MIN_POLL_INTERVAL: f64 = 10.0;
pub const OLDER_TOOL_MIN_JOB_TIMEOUT: f64 = 1800.0;

/// `<state_file>.journal`, beside the state file, so one directory holds all run state.
pub fn journal_for(state_file: &std::path::Path) -> PathBuf {
    let mut name = state_file.as_os_str().to_owned();
    name.push(".journal");
    PathBuf::from(name)
}

impl Default for Orchestrator {
    fn default() -> Self {
        let state_file = PathBuf::from(STATE_FILE);
        Orchestrator {
            poll_interval: Duration::from_secs_f64(POLL_INTERVAL),
            startup_timeout: Duration::from_secs_f64(STARTUP_TIMEOUT),
            job_timeout: Duration::from_secs_f64(JOB_TIMEOUT),
            stop_timeout: Duration::from_secs_f64(STOP_TIMEOUT),
            stop_poll_interval: Duration::from_secs_f64(STOP_POLL_INTERVAL),
            near_end_poll_interval: Duration::from_secs_f64(NEAR_END_POLL_INTERVAL),
            lock_alert_after: Duration::from_secs_f64(LOCK_ALERT_AFTER),
            resume_within: Duration::from_secs_f64(RESUME_WITHIN),
            disable_while_running: false,
            window_end: None,
            window_policy: crate::config::WindowPolicy::Start,
            call_timeout: Duration::from_secs_f64(CALL_TIMEOUT),
            retry_backoff: Duration::from_secs_f64(RETRY_BACKOFF),
            lock_file: PathBuf::from(LOCK_FILE),
            log_file: PathBuf::from(LOG_FILE),
            log_max_bytes: LOG_MAX_BYTES,
            log_backup_count: LOG_BACKUP_COUNT,
            journal_file: journal_for(&state_file),
            metrics_file: None,
            state_file,
        }
    }
}

/// `/proc/diskstats`: the kernel's per-device I/O counters.
pub const DISKSTATS_FILE: &str = "/proc/diskstats";
/// Writes while no jbr job runs, in MB, above which an alert names them.
pub const FOREIGN_WRITE_MIN_MB: f64 = 100.0;

impl Default for crate::config::Nas {
    fn default() -> Self {
        crate::config::Nas {
            block_device: None,
            diskstats_file: PathBuf::from(DISKSTATS_FILE),
            min_write_mb_s: None,
            foreign_write_min_mb: FOREIGN_WRITE_MIN_MB,
        }
    }
}

impl Default for DestinationPolicy {
    fn default() -> Self {
        DestinationPolicy {
            skip_if_disabled: true,
            force_activate: false,
            alert_days_without_jobs: ALERT_DAYS_WITHOUT_JOBS,
        }
    }
}

impl Default for Notification {
    fn default() -> Self {
        Notification {
            enabled: false,
            smtp_host: SMTP_HOST.to_string(),
            smtp_port: SMTP_PORT,
            smtp_tls: false,
            smtp_user: String::new(),
            smtp_password: Secret::default(),
            from_address: String::new(),
            to_addresses: Vec::new(),
            on_failure: true,
            on_timeout: true,
            on_complete: false,
            on_partial: true,
            on_daemon_lifecycle: true,
        }
    }
}

impl Default for Monitoring {
    fn default() -> Self {
        Monitoring {
            healthcheck_url: None,
            healthcheck_timeout: Duration::from_secs_f64(HEALTHCHECK_TIMEOUT),
        }
    }
}

/// An empty config with every default, for tests that build one by hand:
/// `Config { servers, jobs, ..Config::default() }`.
impl Default for Config {
    fn default() -> Self {
        Config {
            path: PathBuf::from(super::DEFAULT_CONFIG_PATH),
            ssh_key: None,
            servers: Default::default(),
            jobs: Vec::new(),
            orchestrator: Orchestrator::default(),
            destination: DestinationPolicy::default(),
            notification: Notification::default(),
            daemon_loop: Default::default(),
            nas: Default::default(),
            monitoring: Monitoring::default(),
        }
    }
}
