//! `jbr daemon`: the older tool's loop (`jetbackup-remote daemon`), safer. Each cycle is
//! `run::locked`, the very code `jbr run` runs once it holds the lock; between cycles the lock is
//! released and the daemon pauses for max(loop.target_interval − cycle, loop.min_pause).
//!
//! The pieces: `next_due` and `first_due` are the schedule (pure); `Signals` turns SIGTERM,
//! SIGINT and SIGHUP into channels; `Daemon` holds the config in force and runs the loop:
//! pause (exit at once on a stop, re-read the config on SIGHUP), wait for the lock, cycle,
//! record the next cycle in the state file while still holding the lock.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::run::{self, RunArgs};
use crate::config::{CheckMode, Config, LoopTimes};
use crate::exit::Exit;
use crate::lock::{self, LockError, LockGuard};
use crate::notify::{self, DaemonNotice};
use crate::orchestrator::plan::{self, Selection};
use crate::orchestrator::progress::{Event, Progress};
use crate::report::state::{self, DaemonRecord, State};
use crate::report::time::{duration, iso_utc, unix_now};
use crate::sd_notify::Notifier;

/// How often a cycle that finds the lock held tries again.
const LOCK_RETRY: Duration = Duration::from_secs(1);
/// How often a cycle still waiting for the lock says so in the log.
const LOCK_WAIT_LINE_EVERY: Duration = Duration::from_secs(60);

/// When the next cycle is due after one that ran from `start` to `end` (Unix seconds): the older
/// tool's pause, max(target_interval − (end − start), min_pause), written as a point in time.
pub fn next_due(start: f64, end: f64, t: LoopTimes) -> f64 {
    (start + t.target_interval.as_secs_f64()).max(end + t.min_pause.as_secs_f64())
}

/// The restart rule: what the first cycle counts from, as (start, end) in Unix seconds, or
/// `None` when the state file knows no run (the first cycle starts at once). A daemon cycle that
/// started after the last recorded run never finished (a crash, a power cut): it counts, with
/// its end taken as its start, so a crash loop cannot chain backups back to back.
pub fn restart_basis(state: &State) -> Option<(f64, f64)> {
    let last = state.last_run.as_ref().map(|r| (r.started, r.ended));
    unfinished_cycle(state).map(|c| (c, c)).or(last)
}

/// The start of a daemon cycle that never finished: one the state file records as started
/// after its last run.
fn unfinished_cycle(state: &State) -> Option<f64> {
    let last_started = state.last_run.as_ref().map(|r| r.started);
    state
        .daemon
        .as_ref()
        .and_then(|d| d.cycle_started)
        .filter(|c| last_started.is_none_or(|started| *c > started))
}

/// When the first cycle may start (Unix seconds): the restart rule applied to `basis`, or at
/// once.
pub fn first_due(basis: Option<(f64, f64)>, t: LoopTimes, now: f64) -> f64 {
    basis.map_or(now, |(start, end)| next_due(start, end, t).max(now))
}

/// The config, and the loop times `jbr daemon` needs from it; otherwise every problem, one
/// line each: the checks of `load_for_run` (any error refuses the file) and the loop keys.
fn load(path: &Path) -> Result<(Config, LoopTimes), Vec<String>> {
    let loaded = crate::config::load_with(path, CheckMode::Run, &|k| std::env::var(k).ok())
        .map_err(|e| {
            e.to_problems()
                .iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
        })?;
    let mut problems: Vec<String> = loaded.errors().map(|p| p.to_string()).collect();
    let times = loaded.config.daemon_loop.resolve(&loaded.config.path);
    if let Err(missing) = &times {
        problems.extend(missing.iter().cloned());
    }
    match times {
        Ok(times) if problems.is_empty() => {
            for w in loaded.warnings() {
                tracing::warn!("{}", w.without_severity());
            }
            Ok((loaded.config, times))
        }
        _ => Err(problems),
    }
}

fn secs(d: Duration) -> String {
    duration(d.as_secs_f64())
}

/// SIGTERM and SIGINT (stop) and SIGHUP (re-read the config), for the daemon's whole life.
struct Signals {
    /// Turns true on the first SIGTERM or SIGINT; also each cycle's cancel signal.
    stop: watch::Receiver<bool>,
    /// Counts SIGHUPs; a change means "re-read the config before the next cycle".
    hup: watch::Receiver<u64>,
    /// The first stop signal's name, for the log and the stop mail.
    stopped_by: Arc<Mutex<Option<&'static str>>>,
}

impl Signals {
    fn watch() -> std::io::Result<Signals> {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        let mut hangup = signal(SignalKind::hangup())?;
        let (stop_tx, stop) = watch::channel(false);
        let (hup_tx, hup) = watch::channel(0u64);
        let stopped_by = Arc::new(Mutex::new(None));
        let name = Arc::clone(&stopped_by);
        tokio::spawn(async move {
            loop {
                let which = tokio::select! {
                    Some(()) = term.recv() => "SIGTERM",
                    Some(()) = int.recv() => "SIGINT",
                    Some(()) = hangup.recv() => "SIGHUP",
                    else => break,
                };
                if which == "SIGHUP" {
                    tracing::info!("SIGHUP: the config is re-read before the next cycle");
                    hup_tx.send_modify(|n| *n += 1);
                    continue;
                }
                if let Ok(mut first) = name.lock() {
                    first.get_or_insert(which);
                }
                if *stop_tx.borrow() {
                    tracing::info!("{which}: already stopping");
                    continue;
                }
                tracing::warn!(
                    "{which}: the daemon stops (a running cycle first aborts its job and disables what jbr enabled)"
                );
                let _ = stop_tx.send(true);
            }
        });
        Ok(Signals {
            stop,
            hup,
            stopped_by,
        })
    }
}

/// Resolves once a stop was asked for (at once if it already was); never if the signal task is
/// gone, which would otherwise read as a stop.
async fn stop_asked(stop: &mut watch::Receiver<bool>) {
    if stop.wait_for(|s| *s).await.is_err() {
        std::future::pending::<()>().await;
    }
}

enum Waited {
    Got(LockGuard),
    /// Not taken: held past the bound (exit 3), or the lock file cannot be opened.
    Refused(LockError),
    Stopped,
}

struct Daemon {
    path: PathBuf,
    config: Config,
    times: LoopTimes,
    signals: Signals,
    sd: Notifier,
    since: f64,
    /// The last cycle's (start, end), or what the restart rule counted from: the next cycle is
    /// `next_due` of it (recomputed when SIGHUP changes the loop times).
    basis: Option<(f64, f64)>,
    /// The start of a cycle that never finished (an earlier daemon's, until this one's first
    /// cycle ends, or this one's while it runs): kept in the state file, so that a crash during
    /// the pause still counts it.
    unfinished: Option<f64>,
}

/// `jbr daemon` from the command line: load the config (any error, or loop.* missing or
/// unusable: exit 2), then the loop on a single-threaded runtime until SIGTERM or SIGINT.
pub fn main(config_path: &Path) -> Exit {
    let (config, times) = match load(config_path) {
        Ok(loaded) => loaded,
        Err(lines) => {
            for line in lines {
                eprintln!("jbr: {line}");
            }
            return Exit::Usage;
        }
    };
    let runtime = match run::log_and_runtime(&config) {
        Ok(r) => r,
        Err(exit) => return exit,
    };
    runtime.block_on(async {
        let signals = match Signals::watch() {
            Ok(s) => s,
            Err(e) => {
                eprintln!("jbr: cannot watch for SIGTERM, SIGINT and SIGHUP: {e}");
                return Exit::Usage;
            }
        };
        Daemon {
            path: config_path.to_path_buf(),
            config,
            times,
            signals,
            sd: Notifier::from_env(),
            since: unix_now(),
            basis: None,
            unfinished: None,
        }
        .run()
        .await
    })
}

impl Daemon {
    async fn run(mut self) -> Exit {
        let state = self.load_state();
        self.basis = restart_basis(&state);
        self.unfinished = unfinished_cycle(&state);
        let first = first_due(self.basis, self.times, unix_now());
        let when = if first > unix_now() {
            format!(
                "{} (restart rule: the last run started at {})",
                iso_utc(first),
                self.basis.map_or_else(String::new, |(s, _)| iso_utc(s))
            )
        } else {
            "now".to_string()
        };
        tracing::info!(
            "jbr daemon started (pid {}): a cycle every {}, at least {} between cycles; first cycle {when}",
            std::process::id(),
            secs(self.times.target_interval),
            secs(self.times.min_pause),
        );
        self.note(None, Some(first));
        self.sd.ready(&format!("next cycle at {}", iso_utc(first)));
        self.mail(
            DaemonNotice::Started,
            &format!("first cycle {when}"),
            &format!(
                "jbr daemon started (pid {}) with {}: a cycle every {}, at least {} between cycles.\nFirst cycle: {when}.",
                std::process::id(),
                self.path.display(),
                secs(self.times.target_interval),
                secs(self.times.min_pause),
            ),
        )
        .await;

        let mut last = Exit::Ok;
        let mut cycles = 0u64;
        while self.pause().await {
            cycles += 1;
            let Some(exit) = self.cycle(cycles).await else {
                break;
            };
            last = exit;
            if *self.signals.stop.borrow() {
                break;
            }
            if exit == Exit::Critical {
                tracing::error!(
                    "cycle {cycles} ended CRITICAL (exit 4): its report says what is still enabled; the daemon goes on, and the next cycle's journal replay cleans up"
                );
            }
        }
        self.shut_down(cycles, last).await
    }

    /// Waits until the next cycle is due. `false`: a stop was asked for, exit now. A SIGHUP
    /// re-reads the config and recomputes the due time from the same basis.
    async fn pause(&mut self) -> bool {
        loop {
            let due = first_due(self.basis, self.times, unix_now());
            let wait = Duration::from_secs_f64((due - unix_now()).max(0.0));
            let until = Instant::now() + wait;
            tokio::select! {
                biased;
                () = stop_asked(&mut self.signals.stop) => return false,
                Ok(()) = self.signals.hup.changed() => {
                    self.reload().await;
                    let due = first_due(self.basis, self.times, unix_now());
                    self.note(None, Some(due));
                    self.sd.status(&format!("next cycle at {}", iso_utc(due)));
                }
                () = tokio::time::sleep_until(until) => return true,
            }
        }
    }

    /// One cycle: the lock (waiting for it), then exactly `jbr run`'s locked part. `None`: a
    /// stop came while waiting for the lock (nothing was started).
    async fn cycle(&mut self, n: u64) -> Option<Exit> {
        let (mut out, mut err) = (std::io::stdout(), std::io::stderr());
        let began = unix_now();
        let plan = match plan::build(&self.config, &Selection::default()) {
            Ok(p) => p,
            Err(e) => {
                tracing::error!("cycle {n}: {e}");
                self.after_cycle(None, began, Exit::Usage);
                return Some(Exit::Usage);
            }
        };
        let guard = match self.wait_for_lock(n).await {
            Waited::Got(g) => g,
            Waited::Stopped => return None,
            Waited::Refused(e) => {
                let exit = run::refused(&self.config, &e, &mut err).await;
                self.after_cycle(None, began, exit);
                return Some(exit);
            }
        };
        let start = unix_now();
        self.unfinished = Some(start);
        self.note(Some(&guard), None);
        tracing::info!("cycle {n} starts");
        self.sd
            .status(&format!("cycle {n} running since {}", iso_utc(start)));
        let clients = match run::clients(&self.config) {
            Ok(c) => c,
            Err(e) => {
                tracing::error!("cycle {n}: {e}");
                self.after_cycle(Some(&guard), start, Exit::Usage);
                return Some(Exit::Usage);
            }
        };
        let (tx, rx) = mpsc::unbounded_channel();
        let args = RunArgs::default();
        let holding = run::Locked {
            config: &self.config,
            args: &args,
            plan: &plan,
            clients: &clients,
            cancel: self.signals.stop.clone(),
            progress: Progress::new(tx),
            lock: &guard,
        };
        let cycle = run::locked(holding, &mut out, &mut err);
        // The run drops its `Progress` when it returns, which ends the forwarding.
        let (exit, ()) = tokio::join!(cycle, forward_status(&self.sd, &self.config, n, rx));
        run::close_clients(&clients).await;
        let _ = out.flush();
        self.after_cycle(Some(&guard), start, exit);
        Some(exit)
    }

    /// The cycle that started at `start` is over: the next one is due `next_due` of it, written
    /// down while the cycle still holds the lock (`guard`), then logged and shown to systemd.
    fn after_cycle(&mut self, guard: Option<&LockGuard>, start: f64, exit: Exit) {
        let end = unix_now();
        self.basis = Some((start, end));
        let due = next_due(start, end, self.times);
        self.unfinished = None;
        self.note(guard, Some(due));
        tracing::info!(
            "cycle ended with exit {} after {}: next cycle at {} (pause {})",
            exit.code(),
            duration((end - start).max(0.0)),
            iso_utc(due),
            duration((due - end).max(0.0)),
        );
        self.sd.status(&format!(
            "next cycle at {} (last cycle: exit {})",
            iso_utc(due),
            exit.code()
        ));
    }

    /// Takes the lock, waiting up to loop.target_interval while another run (a manual `jbr
    /// run`) holds it, with a log line at once and every minute.
    async fn wait_for_lock(&mut self, n: u64) -> Waited {
        let path = self.config.orchestrator.lock_file.clone();
        let bound = self.times.target_interval;
        let began = Instant::now();
        let mut said: Option<Instant> = None;
        loop {
            let held = match lock::acquire(&path) {
                Ok(g) => {
                    if said.is_some() {
                        tracing::info!(
                            "cycle {n}: the lock is free after {:.1} s; the cycle starts",
                            began.elapsed().as_secs_f64()
                        );
                    }
                    return Waited::Got(g);
                }
                Err(e @ LockError::Held { .. }) => e,
                Err(e) => return Waited::Refused(e),
            };
            if began.elapsed() >= bound {
                tracing::warn!(
                    "cycle {n}: gave up waiting for the lock after {} (loop.target_interval); this cycle is skipped",
                    secs(bound)
                );
                return Waited::Refused(held);
            }
            if said.is_none_or(|t| t.elapsed() >= LOCK_WAIT_LINE_EVERY) {
                tracing::info!(
                    "cycle {n} waits for the lock: {held} (waited {:.1} s, at most {})",
                    began.elapsed().as_secs_f64(),
                    secs(bound)
                );
                self.sd
                    .status(&format!("cycle {n} waiting for the lock: {held}"));
                said = Some(Instant::now());
            }
            tokio::select! {
                biased;
                () = stop_asked(&mut self.signals.stop) => return Waited::Stopped,
                () = tokio::time::sleep(LOCK_RETRY) => {}
            }
        }
    }

    /// SIGHUP: the new config replaces the old one only when it is valid for the daemon (loop.*
    /// included); otherwise the problems are logged and mailed, and the old config stays.
    async fn reload(&mut self) {
        match load(&self.path) {
            Ok((config, times)) => {
                if let Err(e) = crate::logging::attach_config(&config.orchestrator) {
                    tracing::warn!("{e}; continuing without the log file");
                }
                self.config = config;
                self.times = times;
                tracing::info!(
                    "SIGHUP: {} re-read: a cycle every {}, at least {} between cycles",
                    self.path.display(),
                    secs(times.target_interval),
                    secs(times.min_pause)
                );
            }
            Err(lines) => {
                for line in &lines {
                    tracing::error!("SIGHUP: {line}");
                }
                tracing::warn!(
                    "SIGHUP: {} is not usable; the daemon keeps the config it had",
                    self.path.display()
                );
                let text = format!(
                    "jbr daemon (pid {}) was asked to re-read {} (SIGHUP), and the file is not usable:\n\n{}\n\nThe daemon keeps the config it had; fix the file (jbr validate -c {}) and send SIGHUP again.",
                    std::process::id(),
                    self.path.display(),
                    lines.join("\n"),
                    self.path.display(),
                );
                self.mail(
                    DaemonNotice::ConfigRejected,
                    &format!(
                        "{} has {} problem(s); the old config is kept",
                        self.path.display(),
                        lines.len()
                    ),
                    &text,
                )
                .await;
            }
        }
    }

    async fn shut_down(&mut self, cycles: u64, last: Exit) -> Exit {
        let by = self
            .signals
            .stopped_by
            .lock()
            .ok()
            .and_then(|n| *n)
            .unwrap_or("a signal");
        let exit = if last == Exit::Critical {
            Exit::Critical
        } else {
            Exit::Ok
        };
        let line = format!(
            "jbr daemon (pid {}) stopped by {by} after {cycles} cycle(s), running since {}",
            std::process::id(),
            iso_utc(self.since)
        );
        tracing::info!("{line}");
        self.sd.stopping(&line);
        self.clear_record();
        let mut text = format!("{line}.");
        if exit == Exit::Critical {
            text.push_str(
                "\nIts last cycle ended CRITICAL (exit 4): see that cycle's report; the next run's journal replay cleans up.",
            );
        }
        self.mail(DaemonNotice::Stopped, &format!("stopped by {by}"), &text)
            .await;
        exit
    }

    async fn mail(&self, notice: DaemonNotice, headline: &str, text: &str) {
        if let Err(e) = notify::send_daemon_notice(
            &self.config.notification,
            notice,
            headline,
            text,
            notify::DEFAULT_TIMEOUT,
        )
        .await
        {
            tracing::warn!("{e} (the daemon goes on)");
        }
    }

    fn load_state(&self) -> State {
        state::load(&self.config.orchestrator.state_file).unwrap_or_else(|e| {
            tracing::warn!("{e}; the restart rule has no last run to count from");
            State::default()
        })
    }

    /// Writes the daemon's record into the state file. Only under the lock, so that it never
    /// races a run's own save: with `guard` (the cycle's), or a lock taken for the moment; when a
    /// manual run holds it, the record waits for the next chance (`jbr status` shows less).
    fn note(&self, guard: Option<&LockGuard>, next_cycle: Option<f64>) {
        let record = DaemonRecord {
            pid: std::process::id(),
            since: self.since,
            next_cycle,
            cycle_started: self.unfinished,
        };
        self.update_state(guard, |s| s.daemon = Some(record));
    }

    fn clear_record(&self) {
        self.update_state(None, |s| s.daemon = None);
    }

    fn update_state(&self, guard: Option<&LockGuard>, change: impl FnOnce(&mut State)) {
        let path = &self.config.orchestrator.state_file;
        let _held = match guard {
            Some(_) => None,
            None => match lock::acquire(&self.config.orchestrator.lock_file) {
                Ok(g) => Some(g),
                Err(e) => {
                    tracing::debug!("daemon record not written now: {e}");
                    return;
                }
            },
        };
        let mut state = match state::load(path) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("{e}; the daemon's pid and next cycle are not recorded");
                return;
            }
        };
        change(&mut state);
        if let Err(e) = state::save(path, &state) {
            tracing::warn!("{e}; the daemon's pid and next cycle are not recorded");
        }
    }
}

/// Each news event of the cycle as systemd's STATUS (`systemctl status` shows the job it is on,
/// as `server web-01, job 6a00…0002 "accounts": processing 42%`).
async fn forward_status(
    sd: &Notifier,
    config: &Config,
    n: u64,
    mut rx: mpsc::UnboundedReceiver<Event>,
) {
    while let Some(e) = rx.recv().await {
        if !e.change {
            continue;
        }
        let on = match &e.job {
            Some(job) => {
                let label = config
                    .jobs
                    .iter()
                    .find(|j| j.server == e.server && j.job_id == *job)
                    .map_or("", |j| j.label.as_str());
                format!(
                    "server {}, job {}",
                    e.server,
                    super::fleet::job_name(job, label)
                )
            }
            None => format!("server {}", e.server),
        };
        sd.status(&format!("cycle {n}: {on}: {}", e.state));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::RunRecord;

    fn times(target: f64, min_pause: f64) -> LoopTimes {
        LoopTimes {
            target_interval: Duration::from_secs_f64(target),
            min_pause: Duration::from_secs_f64(min_pause),
        }
    }

    #[test]
    fn the_pause_is_the_older_tools() {
        // A 1 h cycle in a 24 h interval: the next starts 24 h after the last one started.
        assert_eq!(next_due(0.0, 3600.0, times(86400.0, 3600.0)), 86400.0);
        // A 23.5 h cycle: min_pause wins.
        assert_eq!(next_due(0.0, 84600.0, times(86400.0, 3600.0)), 88200.0);
        assert_eq!(next_due(10.0, 10.5, times(2.5, 0.25)), 12.5);
    }

    #[test]
    fn a_restart_waits_for_the_last_run_or_an_unfinished_cycle() {
        let t = times(100.0, 10.0);
        let mut state = State::default();
        assert_eq!(restart_basis(&state), None);
        assert_eq!(first_due(None, t, 5.0), 5.0);
        let mut last = RunRecord::new("r", 1000.0);
        last.ended = 1095.0;
        state.last_run = Some(last);
        assert_eq!(restart_basis(&state), Some((1000.0, 1095.0)));
        assert_eq!(first_due(restart_basis(&state), t, 1096.0), 1105.0);
        // Long past due: at once.
        assert_eq!(first_due(restart_basis(&state), t, 5000.0), 5000.0);
        // A cycle that started later and never finished counts from its start.
        state.daemon = Some(DaemonRecord {
            pid: 1,
            since: 900.0,
            next_cycle: None,
            cycle_started: Some(1200.0),
        });
        assert_eq!(restart_basis(&state), Some((1200.0, 1200.0)));
        assert_eq!(first_due(restart_basis(&state), t, 1201.0), 1300.0);
    }
}
