//! `jbr status`'s history of each configured job, read from the state file: the last run's
//! outcome, the last success, the usual (median) duration and a sparkline of the last runs.

use serde::Serialize;

use super::fleet;
use crate::config::Config;
use crate::report::Outcome;
use crate::report::history::{self, PastRun};
use crate::report::state::State;
use crate::report::time::{duration, iso_utc};

/// One configured job as the state file remembers it.
#[derive(Debug, Serialize)]
pub struct JobHistoryState {
    pub server: String,
    pub job_id: String,
    pub label: String,
    /// The newest remembered run's outcome; null: no run remembered.
    pub last_outcome: Option<Outcome>,
    /// Unix seconds; null: no successful run remembered.
    pub last_success: Option<f64>,
    /// The median of its last successful runs' durations, as the report's `(usual …)`.
    pub usual_duration_secs: Option<f64>,
    /// The last runs' durations as bars (`▁`…`█`), oldest first, `·` for one that did not run.
    pub sparkline: String,
    /// Its last runs, oldest first, as the state file keeps them.
    pub runs: Vec<PastRun>,
}

/// The configured jobs of `servers`, in the order `status` lists them.
pub fn of(config: &Config, servers: &[String], state: &State) -> Vec<JobHistoryState> {
    servers
        .iter()
        .flat_map(|s| fleet::jobs_of(config, s))
        .map(|job| {
            let h = state.job_history(&job.server, &job.job_id);
            let runs = h.map(|h| h.runs.clone()).unwrap_or_default();
            JobHistoryState {
                server: job.server.clone(),
                job_id: job.job_id.clone(),
                label: job.label.clone(),
                last_outcome: h.and_then(|h| h.last_run()).map(|r| r.outcome),
                last_success: h.and_then(|h| h.last_success),
                usual_duration_secs: h.and_then(|h| h.usual_duration()),
                sparkline: history::sparkline(&runs),
                runs,
            }
        })
        .collect()
}

/// The history table, after a line that says how to read it; nothing for no jobs.
pub fn render(out: &mut String, jobs: &[JobHistoryState]) {
    if jobs.is_empty() {
        return;
    }
    out.push_str(&format!(
        "\nhistory (USUAL: median of the recent successful runs; LAST {}: durations, oldest first, scaled to the longest, {} = did not run):\n",
        history::SPARK_RUNS,
        history::NO_DURATION
    ));
    let dash = || "-".to_string();
    let rows: Vec<Vec<String>> = jobs
        .iter()
        .map(|j| {
            vec![
                j.server.clone(),
                fleet::job_name(&j.job_id, &j.label),
                j.last_outcome.map_or_else(dash, |o| o.as_str().to_string()),
                j.last_success.map_or_else(dash, iso_utc),
                j.usual_duration_secs.map_or_else(dash, duration),
                if j.sparkline.is_empty() {
                    dash()
                } else {
                    j.sparkline.clone()
                },
            ]
        })
        .collect();
    let last = format!("LAST {}", history::SPARK_RUNS);
    out.push_str(&fleet::table(
        &["SERVER", "JOB", "LAST RUN", "LAST SUCCESS", "USUAL", &last],
        &rows,
    ));
}
