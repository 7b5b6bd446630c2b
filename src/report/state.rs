//! The state file: the last run's record, what jbr itself disabled (for `skip_if_disabled`), and
//! per-job history (for `alert_days_without_jobs`, near-end polling, the report's usual duration
//! and `jbr status`). Written atomically: temp file, fsync, rename, fsync of the directory — a
//! crash leaves the old file or the new one, never half.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::history::{self, PastRun};
use super::record::{Alert, AlertKind, RunRecord};

/// Bumped when a field changes meaning; older files are still read (every field defaults).
pub const STATE_VERSION: u32 = 1;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DisabledByJbr {
    #[serde(default)]
    pub destinations: Vec<String>,
    #[serde(default)]
    pub jobs: Vec<String>,
}

/// How many recent successful runs of a job its usual duration is the median of.
pub const DURATIONS_KEPT: usize = 7;

/// Per job (`server/job_id`): when jbr first ran it, when it last succeeded, how long its
/// recent successful runs took, and its last runs whatever their outcome.
///
/// `durations` and `runs` overlap on purpose: the usual duration stays the median of the last
/// `DURATIONS_KEPT` *successful* runs even when more than `RUNS_KEPT` runs in a row failed, and
/// a state file written before `runs` existed (or read by an older jbr) keeps its meaning.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JobHistory {
    /// Unix seconds.
    pub first_seen: f64,
    #[serde(default)]
    pub last_success: Option<f64>,
    /// Seconds from trigger to end of the last `DURATIONS_KEPT` successful runs, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub durations: Vec<f64>,
    /// The last `history::RUNS_KEPT` runs, oldest first (absent from state files written
    /// before jbr kept them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub runs: Vec<PastRun>,
}

impl JobHistory {
    /// The median of the recent successful runs' durations, once there is one.
    pub fn usual_duration(&self) -> Option<f64> {
        history::median(self.durations.iter().copied())
    }

    /// The newest run jbr remembers.
    pub fn last_run(&self) -> Option<&PastRun> {
        self.runs.last()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct State {
    pub version: u32,
    #[serde(default)]
    pub last_run: Option<RunRecord>,
    /// Per server: destinations and jobs whose last change by jbr was a disable.
    #[serde(default)]
    pub disabled_by_jbr: BTreeMap<String, DisabledByJbr>,
    #[serde(default)]
    pub history: BTreeMap<String, JobHistory>,
    /// Per server: the destination call that worked last time (`manageDestinationState` or
    /// `manageDestination`), tried first next time.
    #[serde(default)]
    pub destination_methods: BTreeMap<String, String>,
    /// Per server: why `orchestrator.disable_while_running` is no longer used there (the server
    /// aborted a run whose job jbr disabled under it). Delete the entry to try it again.
    #[serde(default)]
    pub no_disable_while_running: BTreeMap<String, String>,
    /// The `jbr daemon` that runs the cycles, while one does (cleared when it stops).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daemon: Option<DaemonRecord>,
    /// Jobs the night window left out, in the order they start next time (before the rest),
    /// until a run starts them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub carry_over: Vec<CarriedJob>,
}

/// A job the night window (`orchestrator.window_end`) left out: the next run starts it first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CarriedJob {
    pub server: String,
    pub job_id: String,
    /// The run whose window first left it out.
    pub run_id: String,
}

/// What `jbr daemon` writes down for `jbr status` and for its own next start.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DaemonRecord {
    pub pid: u32,
    /// Unix seconds: when the daemon started.
    pub since: f64,
    /// Unix seconds: when its next cycle is due; `None` while a cycle runs.
    #[serde(default)]
    pub next_cycle: Option<f64>,
    /// Unix seconds: when its current (or last) cycle started. Later than `last_run.started`
    /// means that cycle never finished (a crash): the restart rule counts from it, so a crash
    /// loop cannot chain backups back to back.
    #[serde(default)]
    pub cycle_started: Option<f64>,
}

impl Default for State {
    fn default() -> Self {
        State {
            version: STATE_VERSION,
            last_run: None,
            disabled_by_jbr: BTreeMap::new(),
            history: BTreeMap::new(),
            destination_methods: BTreeMap::new(),
            no_disable_while_running: BTreeMap::new(),
            daemon: None,
            carry_over: Vec::new(),
        }
    }
}

fn history_key(server: &str, job_id: &str) -> String {
    format!("{server}/{job_id}")
}

impl State {
    /// jbr disabled this destination itself (so finding it disabled is not "someone else").
    pub fn jbr_disabled_destination(&self, server: &str, dest: &str) -> bool {
        self.disabled_by_jbr
            .get(server)
            .is_some_and(|d| d.destinations.iter().any(|x| x == dest))
    }

    pub fn jbr_disabled_job(&self, server: &str, job: &str) -> bool {
        self.disabled_by_jbr
            .get(server)
            .is_some_and(|d| d.jobs.iter().any(|x| x == job))
    }

    /// Record the last change jbr made to a destination: `true` = jbr disabled it.
    pub fn note_destination(&mut self, server: &str, dest: &str, disabled_by_jbr: bool) {
        let entry = self.disabled_by_jbr.entry(server.to_string()).or_default();
        entry.destinations.retain(|d| d != dest);
        if disabled_by_jbr {
            entry.destinations.push(dest.to_string());
        }
    }

    pub fn note_job(&mut self, server: &str, job: &str, disabled_by_jbr: bool) {
        let entry = self.disabled_by_jbr.entry(server.to_string()).or_default();
        entry.jobs.retain(|j| j != job);
        if disabled_by_jbr {
            entry.jobs.push(job.to_string());
        }
    }

    /// Fold a finished run into the history and keep it as the last run.
    pub fn record_run(&mut self, record: &RunRecord) {
        for j in &record.jobs {
            if j.outcome == super::Outcome::DisabledInConfig {
                continue;
            }
            let h = self
                .history
                .entry(history_key(&j.server, &j.job_id))
                .or_insert(JobHistory {
                    first_seen: j.start.unwrap_or(record.started),
                    ..JobHistory::default()
                });
            if j.outcome.is_success() {
                let when = j.end.unwrap_or(record.ended);
                h.last_success = Some(h.last_success.map_or(when, |l| l.max(when)));
                if let Some(d) = j.duration_secs.filter(|d| d.is_finite() && *d > 0.0) {
                    h.durations.push(d);
                    let extra = h.durations.len().saturating_sub(DURATIONS_KEPT);
                    h.durations.drain(..extra);
                }
            }
            history::push(&mut h.runs, PastRun::of(j));
        }
        self.last_run = Some(record.clone());
    }

    /// What jbr remembers of `job` on `server`.
    pub fn job_history(&self, server: &str, job: &str) -> Option<&JobHistory> {
        self.history.get(&history_key(server, job))
    }

    /// How long `job` on `server` usually runs (see `JobHistory::usual_duration`).
    pub fn usual_duration(&self, server: &str, job: &str) -> Option<f64> {
        self.job_history(server, job)
            .and_then(JobHistory::usual_duration)
    }

    /// Configured jobs with no successful run for `days` days as of `now`. A job jbr has never
    /// seen alerts once it has been known that long; a job never seen at all is not alerted
    /// (the first run starts its clock).
    pub fn stale_jobs(&self, jobs: &[(String, String)], days: f64, now: f64) -> Vec<Alert> {
        let limit = days * 86_400.0;
        jobs.iter()
            .filter_map(|(server, job)| {
                let h = self.history.get(&history_key(server, job))?;
                let since = h.last_success.unwrap_or(h.first_seen);
                if now - since < limit {
                    return None;
                }
                let message = match h.last_success {
                    Some(t) => format!(
                        "server {server}, job {job}: no successful run for {:.1} days (last success {})",
                        (now - t) / 86_400.0,
                        super::time::iso_utc(t)
                    ),
                    None => format!(
                        "server {server}, job {job}: no successful run since jbr first ran it {:.1} days ago",
                        (now - h.first_seen) / 86_400.0
                    ),
                };
                Some(Alert {
                    kind: AlertKind::NoRecentSuccess,
                    server: Some(server.clone()),
                    job_id: Some(job.clone()),
                    message,
                })
            })
            .collect()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("state file {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("state file {}: not a jbr state file: {problem}", path.display())]
    Corrupt { path: PathBuf, problem: String },
}

/// Read the state file; a missing file is a fresh state.
pub fn load(path: &Path) -> Result<State, StateError> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| StateError::Corrupt {
            path: path.to_path_buf(),
            problem: e.to_string(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::default()),
        Err(source) => Err(StateError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

pub fn save(path: &Path, state: &State) -> Result<(), StateError> {
    let mut bytes = serde_json::to_vec_pretty(state).map_err(|e| StateError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::other(e),
    })?;
    bytes.push(b'\n');
    write_atomic(path, &bytes).map_err(|source| StateError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Replace `path` with `bytes` so that a crash leaves either the old or the new content:
/// temp file beside it, fsync, rename over, fsync the directory (the rename itself).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "state".into());
    let tmp = dir.join(format!(".{name}.tmp.{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        std::fs::File::open(&dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
