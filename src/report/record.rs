//! The run record: what happened to every selected job and server, and the exit code it means.

use serde::{Deserialize, Serialize};

use crate::exit::Exit;

/// What happened to one job, as an operator reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Completed,
    /// Finished, usable, with warnings (counts as success: exit 0).
    Warnings,
    Partial,
    Failed,
    /// Ran past its timeout; jbr aborted it and confirmed the stop.
    TimedOutAborted,
    /// Ran past its timeout; jbr sent the stop but the server never confirmed it, so the job may
    /// still be writing (critical: nothing else starts).
    TimedOutNotStopped,
    /// Triggered but never showed up in the queue within `startup_timeout`, or never reached
    /// because the run stopped first.
    NotStarted,
    /// Its server was skipped (unreachable, destination disabled by someone else, …).
    Skipped,
    /// `"enabled": false` in the config: not run, not a failure.
    DisabledInConfig,
    /// The configured job id does not exist on the server.
    MissingOnServer,
}

impl Outcome {
    /// How bad the verdict on a finished run is, for "where sources disagree, the worse wins":
    /// completed < warnings < partial < anything else.
    pub fn severity(self) -> u8 {
        match self {
            Outcome::Completed => 0,
            Outcome::Warnings => 1,
            Outcome::Partial => 2,
            _ => 3,
        }
    }

    /// Every outcome, for renderers that recognise one by its text.
    pub const ALL: [Outcome; 10] = [
        Outcome::Completed,
        Outcome::Warnings,
        Outcome::Partial,
        Outcome::Failed,
        Outcome::TimedOutAborted,
        Outcome::TimedOutNotStopped,
        Outcome::NotStarted,
        Outcome::Skipped,
        Outcome::DisabledInConfig,
        Outcome::MissingOnServer,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Completed => "completed",
            Outcome::Warnings => "warnings",
            Outcome::Partial => "partial",
            Outcome::Failed => "failed",
            Outcome::TimedOutAborted => "timed out, aborted",
            Outcome::TimedOutNotStopped => "timed out, NOT stopped",
            Outcome::NotStarted => "not started",
            Outcome::Skipped => "skipped",
            Outcome::DisabledInConfig => "disabled in config",
            Outcome::MissingOnServer => "missing on server",
        }
    }

    /// Counts as a good night (exit 0).
    pub fn is_success(self) -> bool {
        matches!(
            self,
            Outcome::Completed | Outcome::Warnings | Outcome::DisabledInConfig
        )
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobRecord {
    pub server: String,
    pub job_id: String,
    #[serde(default)]
    pub label: String,
    pub outcome: Outcome,
    /// The queue group jbr followed.
    #[serde(default)]
    pub group_id: Option<String>,
    /// Unix seconds.
    #[serde(default)]
    pub start: Option<f64>,
    #[serde(default)]
    pub end: Option<f64>,
    #[serde(default)]
    pub duration_secs: Option<f64>,
    /// The job's usual duration when this run started: the median of its last successful runs'
    /// durations in the state file (`None`: no successful run remembered yet).
    #[serde(default)]
    pub usual_duration_secs: Option<f64>,
    /// Bytes the NAS device (`nas.block_device`) wrote from the job's enable to its end (and
    /// any scheduler run of it jbr followed), by its own counter; `None` without the option or
    /// a readable counter.
    #[serde(default)]
    pub nas_written_bytes: Option<u64>,
    /// The group's final status code, raw, and its best-known name.
    #[serde(default)]
    pub status_raw: Option<i64>,
    #[serde(default)]
    pub status_name: Option<String>,
    #[serde(default)]
    pub items_failed: Option<u64>,
    #[serde(default)]
    pub items_total: Option<u64>,
    /// The first failed items' (or log items') messages.
    #[serde(default)]
    pub failures: Vec<String>,
    /// The log jbr tied to this run (by the group's `log_id`, or by job and time); `None` when
    /// no log provably belongs to it.
    #[serde(default)]
    pub log_id: Option<String>,
    /// One line: why this outcome.
    #[serde(default)]
    pub message: String,
    /// The server's scheduler's chance at this job: seconds it sat enabled and idle while the
    /// NAS destination was enabled, before jbr's trigger and after its run ended (until the
    /// disable). `None`: jbr did not enable it.
    #[serde(default)]
    pub exposure: Option<Exposure>,
    /// Seconds the NAS sat idle between the previous job's end and this one's start of writing
    /// (`None` for the night's first job, or one that never wrote).
    #[serde(default)]
    pub nas_idle_before_secs: Option<f64>,
    /// Runs of this job that the server's own scheduler queued while jbr had it enabled (each
    /// one a second full backup, followed to its end).
    #[serde(default)]
    pub scheduler_runs: u32,
    /// The night window (`orchestrator.window_end`) left this job out: it is carried over and
    /// starts first in the next run. Written only when true, so older records read the same.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub left_out_by_window: bool,
    /// A carried-over job: the run whose window first left it out (it started first tonight).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carried_over_from: Option<String>,
    /// The average over that time, MB/s (10^6 bytes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nas_write_mb_s: Option<f64>,
}

/// A job's scheduler exposure, in seconds: from the enable to the trigger, and from its end to
/// the disable.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Exposure {
    pub before_trigger_secs: f64,
    pub after_end_secs: f64,
    pub total_secs: f64,
}

impl Exposure {
    pub fn new(before_trigger_secs: f64, after_end_secs: f64) -> Self {
        Exposure {
            before_trigger_secs,
            after_end_secs,
            total_secs: before_trigger_secs + after_end_secs,
        }
    }
}

/// The night's scheduler window and NAS idle time, over the jobs that have figures.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct WindowTotals {
    pub exposure_secs: f64,
    pub exposure_mean_secs: f64,
    pub exposure_max_secs: f64,
    /// Gaps between one job's end and the next one's start of writing.
    pub nas_idle_gaps: usize,
    pub nas_idle_mean_secs: f64,
    pub nas_idle_max_secs: f64,
    pub scheduler_runs: u32,
}

impl WindowTotals {
    pub fn of(jobs: &[JobRecord]) -> Self {
        let exposures: Vec<f64> = jobs
            .iter()
            .filter_map(|j| j.exposure.map(|e| e.total_secs))
            .collect();
        let gaps: Vec<f64> = jobs.iter().filter_map(|j| j.nas_idle_before_secs).collect();
        let mean = |v: &[f64]| {
            if v.is_empty() {
                0.0
            } else {
                v.iter().sum::<f64>() / v.len() as f64
            }
        };
        let max = |v: &[f64]| v.iter().copied().fold(0.0, f64::max);
        WindowTotals {
            exposure_secs: exposures.iter().sum(),
            exposure_mean_secs: mean(&exposures),
            exposure_max_secs: max(&exposures),
            nas_idle_gaps: gaps.len(),
            nas_idle_mean_secs: mean(&gaps),
            nas_idle_max_secs: max(&gaps),
            scheduler_runs: jobs.iter().map(|j| j.scheduler_runs).sum(),
        }
    }
}

impl JobRecord {
    pub fn new(server: &str, job_id: &str, label: &str, outcome: Outcome) -> Self {
        JobRecord {
            server: server.to_string(),
            job_id: job_id.to_string(),
            label: label.to_string(),
            outcome,
            group_id: None,
            start: None,
            end: None,
            duration_secs: None,
            usual_duration_secs: None,
            nas_written_bytes: None,
            status_raw: None,
            status_name: None,
            items_failed: None,
            items_total: None,
            failures: Vec::new(),
            log_id: None,
            message: String::new(),
            exposure: None,
            nas_idle_before_secs: None,
            scheduler_runs: 0,
            left_out_by_window: false,
            carried_over_from: None,
            nas_write_mb_s: None,
        }
    }

    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = message.into();
        self
    }
}

/// One lifecycle action on a server, with what reading it back showed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Action {
    /// Unix seconds.
    pub time: f64,
    /// e.g. `enable destination 6508…` or `disable job 6508…`.
    pub what: String,
    /// e.g. `read back: enabled (manageDestinationState)`.
    pub result: String,
    pub ok: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerRecord {
    pub server: String,
    /// Set when the whole server was skipped: why.
    #[serde(default)]
    pub skipped: Option<String>,
    #[serde(default)]
    pub actions: Vec<Action>,
    /// Which destination call worked here (`manageDestinationState` / `manageDestination`).
    #[serde(default)]
    pub destination_method: Option<String>,
    /// Notes that are not actions (a foreign backup waited for, a retry, …).
    #[serde(default)]
    pub notes: Vec<String>,
}

impl ServerRecord {
    pub fn new(server: &str) -> Self {
        ServerRecord {
            server: server.to_string(),
            skipped: None,
            actions: Vec::new(),
            destination_method: None,
            notes: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// A job on a server targets the NAS destination but is not in the config.
    UnconfiguredJob,
    /// A configured job has had no successful run for `alert_days_without_jobs` days.
    NoRecentSuccess,
    /// A backup jbr did not start was writing to the NAS at start.
    ForeignBackup,
    /// The NAS device wrote while no jbr job ran (`nas.block_device`).
    UnknownWriter,
    /// A job's average write rate fell below `nas.min_write_mb_s`.
    SlowNas,
    /// Something jbr could not check (a server's job list unreadable, …).
    Other,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub kind: AlertKind,
    #[serde(default)]
    pub server: Option<String>,
    #[serde(default)]
    pub job_id: Option<String>,
    pub message: String,
}

/// Something jbr enabled (or started) and could not undo: exit 4, and the operator must act.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Critical {
    pub server: String,
    /// `job`, `destination` or `queue group`.
    pub what: String,
    pub id: String,
    /// One line, saying what to do (e.g. "… is ENABLED, disable it by hand").
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub run_id: String,
    /// Unix seconds.
    pub started: f64,
    pub ended: f64,
    /// Every selected job, in plan order (disabled-in-config ones too).
    pub jobs: Vec<JobRecord>,
    pub servers: Vec<ServerRecord>,
    #[serde(default)]
    pub alerts: Vec<Alert>,
    #[serde(default)]
    pub critical: Vec<Critical>,
    /// What the journal replay at start found and did.
    #[serde(default)]
    pub recovered: Vec<String>,
    /// The run was cancelled (SIGTERM) before it finished.
    #[serde(default)]
    pub cancelled: bool,
    /// Scheduler exposure, NAS idle gaps and scheduler runs over the whole run (set as it ends).
    #[serde(default)]
    pub window: WindowTotals,
    /// Tonight's night window, when `orchestrator.window_end` is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub night_window: Option<NightWindowRecord>,
    /// The NAS meter's notes: a write counter that went back, a counter file not readable.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nas_notes: Vec<String>,
}

/// When tonight's window closed, as the report shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NightWindowRecord {
    /// Unix seconds: no job started at or after this.
    pub closes: f64,
    /// `orchestrator.window_end` as configured (`07:00`, local time).
    pub window_end: String,
    /// `start` or `fit`.
    pub policy: String,
}

impl RunRecord {
    pub fn new(run_id: &str, started: f64) -> Self {
        RunRecord {
            run_id: run_id.to_string(),
            started,
            ended: started,
            jobs: Vec::new(),
            servers: Vec::new(),
            alerts: Vec::new(),
            critical: Vec::new(),
            recovered: Vec::new(),
            cancelled: false,
            window: WindowTotals::default(),
            night_window: None,
            nas_notes: Vec::new(),
        }
    }

    /// The contract's exit code: 4 if anything jbr enabled is still enabled, else 1 if any job
    /// did not succeed (or the run was cancelled), else 0.
    pub fn exit(&self) -> Exit {
        if !self.critical.is_empty() {
            Exit::Critical
        } else if self.cancelled || self.jobs.iter().any(|j| !j.outcome.is_success()) {
            Exit::JobsFailed
        } else {
            Exit::Ok
        }
    }

    pub fn server_mut(&mut self, server: &str) -> &mut ServerRecord {
        if let Some(i) = self.servers.iter().position(|s| s.server == server) {
            &mut self.servers[i]
        } else {
            self.servers.push(ServerRecord::new(server));
            let last = self.servers.len() - 1;
            &mut self.servers[last]
        }
    }

    /// Count of jobs per outcome, in a fixed order, only non-zero ones.
    pub fn tally(&self) -> Vec<(Outcome, usize)> {
        use Outcome::*;
        [
            Completed,
            Warnings,
            Partial,
            Failed,
            TimedOutAborted,
            NotStarted,
            Skipped,
            MissingOnServer,
            DisabledInConfig,
        ]
        .into_iter()
        .map(|o| (o, self.jobs.iter().filter(|j| j.outcome == o).count()))
        .filter(|(_, n)| *n > 0)
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::Outcome;

    /// Exhaustive on purpose: a new variant fails to compile here until it is placed in `ALL`.
    fn position(o: Outcome) -> usize {
        match o {
            Outcome::Completed => 0,
            Outcome::Warnings => 1,
            Outcome::Partial => 2,
            Outcome::Failed => 3,
            Outcome::TimedOutAborted => 4,
            Outcome::TimedOutNotStopped => 5,
            Outcome::NotStarted => 6,
            Outcome::Skipped => 7,
            Outcome::DisabledInConfig => 8,
            Outcome::MissingOnServer => 9,
        }
    }

    #[test]
    fn all_lists_every_outcome_once() {
        for (i, o) in Outcome::ALL.iter().enumerate() {
            assert_eq!(position(*o), i, "{o:?}");
        }
    }
}
