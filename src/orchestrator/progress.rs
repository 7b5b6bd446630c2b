//! Progress for the `run`/`demo` renderers: one event per state change or poll. The orchestrator
//! never prints; it sends these and emits the same as `tracing` events.

use std::time::Duration;

use tokio::sync::mpsc::UnboundedSender;

#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub server: String,
    /// `None` for server-level steps (pre-flight, destination window).
    pub job: Option<String>,
    /// Short, human: `enabling destination`, `running 42% (group 6600…)`, `aborting`, …
    pub state: String,
    /// Since the job (or the step) started.
    pub elapsed: Duration,
    /// A new state (false: the same state polled again), for renderers that print only news.
    pub change: bool,
}

/// Where events go. Sending never blocks and never fails the run (a closed receiver just means
/// nobody is watching).
#[derive(Debug, Clone, Default)]
pub struct Progress {
    tx: Option<UnboundedSender<Event>>,
}

impl Progress {
    pub fn new(tx: UnboundedSender<Event>) -> Self {
        Progress { tx: Some(tx) }
    }

    pub fn none() -> Self {
        Progress { tx: None }
    }

    /// A state change (info in the log).
    pub fn emit(
        &self,
        server: &str,
        job: Option<&str>,
        state: impl Into<String>,
        elapsed: Duration,
    ) {
        self.send(server, job, state.into(), elapsed, false);
    }

    /// A repeated poll with no news (debug in the log: an 8-hour job polled every 30 s would
    /// otherwise write ~1000 lines). Watchers still get every one.
    pub fn poll(
        &self,
        server: &str,
        job: Option<&str>,
        state: impl Into<String>,
        elapsed: Duration,
    ) {
        self.send(server, job, state.into(), elapsed, true);
    }

    fn send(&self, server: &str, job: Option<&str>, state: String, elapsed: Duration, quiet: bool) {
        let secs = elapsed.as_secs_f64();
        match (job, quiet) {
            (Some(job), false) => tracing::info!(server, job, elapsed_s = secs, "{state}"),
            (Some(job), true) => tracing::debug!(server, job, elapsed_s = secs, "{state}"),
            (None, false) => tracing::info!(server, elapsed_s = secs, "{state}"),
            (None, true) => tracing::debug!(server, elapsed_s = secs, "{state}"),
        }
        if let Some(tx) = &self.tx {
            let _ = tx.send(Event {
                server: server.to_string(),
                job: job.map(str::to_string),
                state,
                elapsed,
                change: !quiet,
            });
        }
    }
}
