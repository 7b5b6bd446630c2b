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

    pub fn emit(
        &self,
        server: &str,
        job: Option<&str>,
        state: impl Into<String>,
        elapsed: Duration,
    ) {
        let state = state.into();
        tracing::info!(
            server,
            job = job.unwrap_or(""),
            elapsed_s = elapsed.as_secs_f64(),
            "{state}"
        );
        if let Some(tx) = &self.tx {
            let _ = tx.send(Event {
                server: server.to_string(),
                job: job.map(str::to_string),
                state,
                elapsed,
            });
        }
    }
}
