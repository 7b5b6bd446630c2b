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
    /// On the polls of a running job: its usual duration (the median of its recent successful
    /// runs, counted like `elapsed` from the trigger), for an ETA.
    pub usual: Option<Duration>,
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
        self.send(server, job, state.into(), elapsed, false, None);
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
        self.send(server, job, state.into(), elapsed, true, None);
    }

    fn send(
        &self,
        server: &str,
        job: Option<&str>,
        state: String,
        elapsed: Duration,
        quiet: bool,
        usual: Option<Duration>,
    ) {
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
                usual,
            });
        }
    }
}

/// Reports a state that is polled again and again (a job "processing" for hours): the first
/// time and every change as news (info), repeats as polls (debug), except every
/// `Repeats::EVERY`-th repeat, which is news again as "still ...". A log or journal read hours
/// into a job then shows it is still followed (every 10 minutes at the default 30 s poll)
/// without a line per poll.
#[derive(Debug, Default)]
pub struct Repeats {
    last: Option<String>,
    repeats: u32,
    usual: Option<Duration>,
}

/// How a repeat that is news again begins: `still processing`.
pub const STILL: &str = "still ";

impl Repeats {
    pub const EVERY: u32 = 20;

    /// For a job's polls: each event carries its usual duration (`usual_secs`, from the state
    /// file; a value that does not fit a `Duration` is none).
    pub fn with_usual(usual_secs: Option<f64>) -> Self {
        Repeats {
            usual: usual_secs
                .and_then(|s| Duration::try_from_secs_f64(s).ok())
                .filter(|d| !d.is_zero()),
            ..Repeats::default()
        }
    }

    pub fn report(
        &mut self,
        progress: &Progress,
        server: &str,
        job: Option<&str>,
        state: String,
        elapsed: Duration,
    ) {
        let usual = self.usual;
        if self.last.as_deref() != Some(state.as_str()) {
            progress.send(server, job, state.clone(), elapsed, false, usual);
            self.last = Some(state);
            self.repeats = 0;
            return;
        }
        self.repeats += 1;
        if self.repeats.is_multiple_of(Self::EVERY) {
            progress.send(
                server,
                job,
                format!("{STILL}{state}"),
                elapsed,
                false,
                usual,
            );
        } else {
            progress.send(server, job, state, elapsed, true, usual);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_are_news_only_every_twentieth_time() {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let progress = Progress::new(tx);
        let mut r = Repeats::default();
        for _ in 0..41 {
            r.report(
                &progress,
                "web-01",
                Some("j"),
                "processing".into(),
                Duration::ZERO,
            );
        }
        r.report(
            &progress,
            "web-01",
            Some("j"),
            "processing 5%".into(),
            Duration::ZERO,
        );
        let mut news = Vec::new();
        while let Ok(e) = rx.try_recv() {
            if e.change {
                news.push(e.state);
            }
        }
        assert_eq!(
            news,
            [
                "processing",
                "still processing",
                "still processing",
                "processing 5%"
            ]
        );
    }
}
