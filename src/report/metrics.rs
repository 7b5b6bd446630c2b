//! The run as a Prometheus textfile (`orchestrator.metrics_file`) for node_exporter's
//! textfile collector: text exposition format 0.0.4, not OpenMetrics (no `# EOF`), every metric
//! with its HELP and TYPE, ending in a newline. Email can only report a run that happened; an
//! alert on `jbr_run_end_timestamp_seconds` or `jbr_job_last_success_timestamp_seconds` fires
//! when nights stop happening. Pure: the caller writes the text atomically.

use std::fmt::Write;

use super::record::{Outcome, RunRecord};
use super::state::State;

/// A run under way: what it knows so far.
pub struct InProgress {
    /// Unix seconds.
    pub since: f64,
}

/// The textfile. `last`: the newest finished run (none yet on a first run). `running`: a run
/// that has started and not ended; the finished run's figures stay, so that a long night does
/// not blank the dashboards.
pub fn render(last: Option<&RunRecord>, state: &State, running: Option<&InProgress>) -> String {
    let mut m = Metrics::default();
    m.gauge(
        "jbr_run_in_progress",
        "1 while a jbr run holds the lock and works, 0 once it has ended.",
        &[(vec![], if running.is_some() { 1.0 } else { 0.0 })],
    );
    let start = running.map(|r| r.since).or(last.map(|r| r.started));
    if let Some(start) = start {
        m.gauge(
            "jbr_run_start_timestamp_seconds",
            "When the current (or last) run started, Unix seconds.",
            &[(vec![], start)],
        );
    }
    if let Some(r) = last {
        run_metrics(&mut m, r);
        job_metrics(&mut m, r, state);
    }
    m.text
}

/// The last finished run as a whole.
fn run_metrics(m: &mut Metrics, r: &RunRecord) {
    let duration = (r.ended - r.started).max(0.0);
    m.gauge(
        "jbr_run_end_timestamp_seconds",
        "When the last finished run ended, Unix seconds.",
        &[(vec![], r.ended)],
    );
    m.gauge(
        "jbr_run_duration_seconds",
        "How long the last finished run took.",
        &[(vec![], duration)],
    );
    m.gauge(
        "jbr_run_exit_code",
        "The last finished run's exit code (0 ok, 1 jobs failed, 4 critical: something left enabled).",
        &[(vec![], f64::from(r.exit().code()))],
    );
    let by_outcome: Vec<_> = Outcome::ALL
        .iter()
        .map(|o| {
            let n = r.jobs.iter().filter(|j| j.outcome == *o).count();
            (vec![("outcome", o.as_str().to_string())], n as f64)
        })
        .collect();
    m.gauge(
        "jbr_jobs",
        "Jobs of the last finished run, by outcome.",
        &by_outcome,
    );
    m.gauge(
        "jbr_left_enabled",
        "Destinations and jobs the last finished run left enabled (critical; should be 0).",
        &[(vec![], r.critical.len() as f64)],
    );
    m.gauge(
        "jbr_jobs_left_out_by_window",
        "Jobs of the last finished run that the night window (orchestrator.window_end) left out; carried over to the next run.",
        &[(
            vec![],
            r.jobs.iter().filter(|j| j.left_out_by_window).count() as f64,
        )],
    );
    let working: f64 = r.jobs.iter().filter_map(|j| j.duration_secs).sum();
    m.gauge(
        "jbr_nas_idle_seconds",
        "Seconds of the last finished run in which no job of it was under way: pre-flight, waits and gaps between jobs.",
        &[(vec![], (duration - working).max(0.0))],
    );
}

/// Per job of the last finished run, labelled `server`, `job_id`, `label`.
fn job_metrics(m: &mut Metrics, r: &RunRecord, state: &State) {
    let jobs: Vec<_> = r
        .jobs
        .iter()
        .filter(|j| j.outcome != Outcome::DisabledInConfig)
        .collect();
    let labels = |j: &super::record::JobRecord| {
        vec![
            ("server", j.server.clone()),
            ("job_id", j.job_id.clone()),
            ("label", j.label.clone()),
        ]
    };
    let each = |f: &dyn Fn(&super::record::JobRecord) -> Option<f64>| -> Vec<_> {
        jobs.iter()
            .filter_map(|j| f(j).map(|v| (labels(j), v)))
            .collect()
    };
    m.gauge(
        "jbr_job_success",
        "1 when the job succeeded in the last finished run (completed, or with warnings), else 0.",
        &each(&|j| Some(if j.outcome.is_success() { 1.0 } else { 0.0 })),
    );
    m.gauge(
        "jbr_job_duration_seconds",
        "The job's time in the last finished run, from its trigger to its end.",
        &each(&|j| j.duration_secs),
    );
    m.gauge(
        "jbr_job_status_code",
        "The final status code of the job's queue group in the last finished run, as the server gave it.",
        &each(&|j| j.status_raw.map(|s| s as f64)),
    );
    m.gauge(
        "jbr_job_scheduler_exposure_seconds",
        "Seconds the job sat enabled and idle while the NAS destination was enabled in the last finished run (before the trigger and after its end): the server's own scheduler could have started it.",
        &each(&|j| j.exposure.map(|e| e.total_secs)),
    );
    m.gauge(
        "jbr_job_scheduler_runs",
        "Runs of the job that the server's own scheduler queued while jbr had it enabled, in the last finished run.",
        &each(&|j| j.exposure.map(|_| f64::from(j.scheduler_runs))),
    );
    m.gauge(
        "jbr_job_nas_idle_before_seconds",
        "Seconds the NAS sat idle between the previous job's end and this job's start of writing, in the last finished run.",
        &each(&|j| j.nas_idle_before_secs),
    );
    m.gauge(
        "jbr_job_nas_written_bytes",
        "Bytes the NAS device (nas.block_device) wrote during the job in the last finished run, by its own counter.",
        &each(&|j| j.nas_written_bytes.map(|b| b as f64)),
    );
    m.gauge(
        "jbr_job_nas_write_mb_per_second",
        "The job's average NAS write rate in the last finished run, MB/s (10^6 bytes).",
        &each(&|j| j.nas_write_mb_s),
    );
    m.gauge(
        "jbr_job_last_success_timestamp_seconds",
        "When the job last succeeded under jbr, Unix seconds (from the state file's history).",
        &each(&|j| {
            state
                .job_history(&j.server, &j.job_id)
                .and_then(|h| h.last_success)
        }),
    );
}

#[derive(Default)]
struct Metrics {
    text: String,
}

impl Metrics {
    /// One gauge family: HELP, TYPE, then a sample per label set (none: the family is left out).
    fn gauge(&mut self, name: &str, help: &str, samples: &[(Vec<(&str, String)>, f64)]) {
        if samples.is_empty() {
            return;
        }
        let _ = writeln!(self.text, "# HELP {name} {}", escape_help(help));
        let _ = writeln!(self.text, "# TYPE {name} gauge");
        for (labels, value) in samples {
            let labels = if labels.is_empty() {
                String::new()
            } else {
                let pairs: Vec<String> = labels
                    .iter()
                    .map(|(k, v)| format!("{k}=\"{}\"", escape_label(v)))
                    .collect();
                format!("{{{}}}", pairs.join(","))
            };
            let _ = writeln!(self.text, "{name}{labels} {}", number(*value));
        }
    }
}

/// A sample value: whole numbers without a fraction, the rest as Rust prints them (both are
/// valid Go floats, which is what the format asks for).
fn number(v: f64) -> String {
    if v.is_finite() && v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else if v.is_nan() {
        "NaN".into()
    } else {
        format!("{v}")
    }
}

/// The format's escapes in a label value: backslash, double quote, line feed.
fn escape_label(v: &str) -> String {
    v.replace('\\', r"\\")
        .replace('"', "\\\"")
        .replace('\n', r"\n")
}

/// The format's escapes in HELP text: backslash and line feed.
fn escape_help(v: &str) -> String {
    v.replace('\\', r"\\").replace('\n', r"\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        assert_eq!(number(3.0), "3");
        assert_eq!(number(0.25), "0.25");
    }

    #[test]
    fn a_first_run_in_progress_says_only_that() {
        let text = render(None, &State::default(), Some(&InProgress { since: 100.0 }));
        assert_eq!(
            text,
            "# HELP jbr_run_in_progress 1 while a jbr run holds the lock and works, 0 once it has ended.\n\
             # TYPE jbr_run_in_progress gauge\n\
             jbr_run_in_progress 1\n\
             # HELP jbr_run_start_timestamp_seconds When the current (or last) run started, Unix seconds.\n\
             # TYPE jbr_run_start_timestamp_seconds gauge\n\
             jbr_run_start_timestamp_seconds 100\n"
        );
    }
}
