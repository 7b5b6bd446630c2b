//! `jbr status`: the last run (state file), what the journal still holds open, and the live state
//! of each server: destination, configured jobs, active queue groups. Reads only, takes no lock
//! (it must be able to watch a run in progress).

use std::path::Path;
use std::sync::Arc;

use serde::Serialize;

use super::fleet::{self, ReadClient};
use super::job_history::{self, JobHistoryState};
use crate::api::{BackupJob, Destination, QueueGroup};
use crate::config::{Config, Job, Server};
use crate::exit::Exit;
use crate::journal::{self, OpenChange, Target};
use crate::report::RunRecord;
use crate::report::text::short_id;
use crate::report::{state, text};

#[derive(Debug, Serialize)]
struct LastRun {
    /// The exit status that run ended with (the contract's codes).
    exit_code: u8,
    #[serde(flatten)]
    record: RunRecord,
}

#[derive(Debug, Serialize)]
struct JournalReport {
    file: String,
    /// One line per change a run made and has not undone (empty: nothing open).
    open_changes: Vec<String>,
}

#[derive(Debug, Serialize)]
struct DestinationState {
    id: String,
    exists: bool,
    name: Option<String>,
    disabled: Option<bool>,
}

#[derive(Debug, Serialize)]
struct JobState {
    job_id: String,
    label: String,
    exists: bool,
    disabled: Option<bool>,
    running: Option<bool>,
}

#[derive(Debug, Serialize)]
struct GroupState {
    id: String,
    job_id: Option<String>,
    /// The configured label of its job, when it is one of ours; empty otherwise.
    label: String,
    configured: bool,
    status: i64,
    status_name: &'static str,
    progress_percent: Option<f64>,
    started: Option<String>,
}

#[derive(Debug, Serialize)]
struct ServerState {
    server: String,
    reachable: bool,
    /// null when the server has no destination_id or could not be asked.
    destination: Option<DestinationState>,
    jobs: Vec<JobState>,
    active_groups: Vec<GroupState>,
    /// False when the queue could not be read: `active_groups` is then empty but says nothing.
    queue_known: bool,
    /// One line per problem on this server (also in the top-level `errors`).
    errors: Vec<String>,
}

/// A run that holds the lock now, as its lock file names it.
#[derive(Debug, Serialize)]
struct RunInProgress {
    pid: Option<u32>,
    host: Option<String>,
    started: Option<String>,
    held_secs: Option<f64>,
    command: Option<String>,
    /// The job it is on: the newest job the journal shows it enabled or triggered.
    on: Option<String>,
    /// One line, as the text output shows it.
    line: String,
}

/// The `jbr daemon` the state file names, while its pid is alive.
#[derive(Debug, Serialize)]
struct DaemonStatus {
    pid: u32,
    since: String,
    /// When its next cycle is due; null while a cycle runs.
    next_cycle: Option<String>,
    /// When the cycle it is running started; null during the pause.
    cycle_started: Option<String>,
    /// One line, as the text output shows it.
    line: String,
}

#[derive(Debug, Serialize)]
struct Report {
    ok: bool,
    state_file: String,
    /// `null`: no daemon is running.
    daemon: Option<DaemonStatus>,
    /// `null`: no run holds the lock.
    run_in_progress: Option<RunInProgress>,
    last_run: Option<LastRun>,
    /// Each configured job of the selected servers, as the state file remembers it.
    history: Vec<JobHistoryState>,
    journal: JournalReport,
    servers: Vec<ServerState>,
    errors: Vec<String>,
}

/// What one server answered, or the one line saying it did not answer.
enum Live {
    Unreachable(String),
    Answered {
        destination: Option<Result<Destination, crate::api::ApiError>>,
        jobs: Result<Vec<BackupJob>, String>,
        groups: Result<Vec<QueueGroup>, String>,
    },
}

pub fn run(config_path: &Path, server: Option<&str>, json: bool) -> Exit {
    let (config, selected) = match fleet::load_and_select(config_path, server) {
        Ok(loaded) => loaded,
        Err(exit) => return exit,
    };
    let mut errors = Vec::new();
    let (last_run, daemon, history) = match state::load(&config.orchestrator.state_file) {
        Ok(s) => (
            s.last_run.clone().map(|record| LastRun {
                exit_code: record.exit().code(),
                record,
            }),
            s.daemon.clone().and_then(daemon_status),
            job_history::of(&config, &selected, &s),
        ),
        Err(e) => {
            errors.push(e.to_string());
            (None, None, Vec::new())
        }
    };
    let journal_file = config.orchestrator.journal_file.clone();
    let (open_changes, current_job) = match journal::read(&journal_file) {
        Ok(loaded) => {
            let open = journal::open_changes(&loaded.records);
            let described = open
                .iter()
                .filter(|c| selected.iter().any(|s| s == c.server()))
                .map(describe_change)
                .collect();
            (described, current_job(&open))
        }
        Err(e) => {
            errors.push(e.to_string());
            (Vec::new(), None)
        }
    };
    let run_in_progress = run_in_progress(&config.orchestrator.lock_file, current_job);
    let (config, answers) = match fleet::ask_each(config, &selected, ask) {
        Ok(asked) => asked,
        Err(exit) => return exit,
    };
    let mut states = Vec::new();
    for (name, answer) in answers {
        let s = match answer {
            Ok(live) => to_state(&config, &name, live),
            Err(e) => to_state(&config, &name, Live::Unreachable(e)),
        };
        errors.extend(s.errors.iter().cloned());
        states.push(s);
    }
    let report = Report {
        ok: errors.is_empty(),
        state_file: config.orchestrator.state_file.display().to_string(),
        daemon,
        run_in_progress,
        last_run,
        history,
        journal: JournalReport {
            file: journal_file.display().to_string(),
            open_changes,
        },
        servers: states,
        errors,
    };
    fleet::finish(json, &report, render, &report.errors, report.ok)
}

/// The newest job the journal shows enabled or triggered and not yet undone.
fn current_job(open: &[OpenChange]) -> Option<String> {
    open.iter()
        .filter_map(|c| match c {
            OpenChange::Enabled {
                server,
                what: Target::Job,
                id,
                seq,
                ..
            }
            | OpenChange::Triggered {
                server, id, seq, ..
            } => Some((*seq, server, id)),
            OpenChange::Enabled { .. } => None,
        })
        .max_by_key(|(seq, _, _)| *seq)
        .map(|(_, server, id)| format!("server {server}, job {id}"))
}

/// The run that holds the lock, when one does: the lock file names it, and its pid is alive.
/// (A `kill -9`ed run leaves its name in the file; the kernel has released its lock.)
fn run_in_progress(lock_file: &Path, on: Option<String>) -> Option<RunInProgress> {
    let holder = crate::lock::read_holder(lock_file)?;
    let pid = holder.pid.filter(|p| alive(*p))?;
    let now = crate::report::time::unix_now();
    let mut line = format!("run in progress: {}", holder.describe(now));
    if let Some(on) = &on {
        line.push_str(&format!("; on {on}"));
    }
    Some(RunInProgress {
        pid: Some(pid),
        host: holder.host.clone(),
        started: holder.started.map(crate::report::time::iso_utc),
        held_secs: holder.held_for(now),
        command: holder.command.clone(),
        on,
        line,
    })
}

/// Whether `pid` names a live process (a `kill -9`ed jbr leaves its pid behind).
fn alive(pid: u32) -> bool {
    // 0 and values past i32::MAX would ask kill(2) about process groups, not one process.
    if !(1..=i32::MAX as u32).contains(&pid) {
        return false;
    }
    // SAFETY: kill(2) with signal 0 sends nothing; it only asks whether the pid exists.
    let answered = unsafe { libc::kill(pid as libc::pid_t, 0) } == 0;
    answered || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// The daemon the state file names, when it is still alive.
fn daemon_status(d: state::DaemonRecord) -> Option<DaemonStatus> {
    if !alive(d.pid) {
        return None;
    }
    let iso = crate::report::time::iso_utc;
    let now = crate::report::time::unix_now();
    let mut line = format!("daemon: pid {}, running since {}", d.pid, iso(d.since));
    match (d.next_cycle, d.cycle_started) {
        (Some(next), _) => line.push_str(&format!(
            "; next cycle at {} (in {})",
            iso(next),
            crate::report::time::duration((next - now).max(0.0).floor())
        )),
        (None, Some(started)) => {
            line.push_str(&format!("; a cycle is running since {}", iso(started)))
        }
        (None, None) => {}
    }
    Some(DaemonStatus {
        pid: d.pid,
        since: iso(d.since),
        next_cycle: d.next_cycle.map(iso),
        cycle_started: d.cycle_started.filter(|_| d.next_cycle.is_none()).map(iso),
        line,
    })
}

async fn ask(_config: Arc<Config>, server: Server, client: Arc<ReadClient>) -> Live {
    let name = server.name.as_str();
    // The first failure to get any answer ends the questions: the next would wait out the
    // same timeout.
    let down = |e: &crate::api::ApiError| Live::Unreachable(fleet::error_line(name, None, e));
    if let Err(e) = client.ping().await {
        return down(&e);
    }
    let destination = match &server.destination_id {
        Some(d) => match client.get_destination(d).await {
            Err(e) if fleet::is_unreachable(&e) => return down(&e),
            other => Some(other),
        },
        None => None,
    };
    let jobs = match client.list_backup_jobs().await {
        Err(e) if fleet::is_unreachable(&e) => return down(&e),
        other => other.map_err(|e| fleet::error_line(name, None, &e)),
    };
    let groups = match client.list_backup_queue_groups().await {
        Err(e) if fleet::is_unreachable(&e) => return down(&e),
        other => other.map_err(|e| fleet::error_line(name, None, &e)),
    };
    Live::Answered {
        destination,
        jobs,
        groups,
    }
}

fn to_state(config: &Config, name: &str, live: Live) -> ServerState {
    let (destination, live_jobs, groups) = match live {
        Live::Unreachable(line) => {
            return ServerState {
                server: name.to_string(),
                reachable: false,
                destination: None,
                jobs: Vec::new(),
                active_groups: Vec::new(),
                queue_known: false,
                errors: vec![line],
            };
        }
        Live::Answered {
            destination,
            jobs,
            groups,
        } => (destination, jobs, groups),
    };
    let mut errors = Vec::new();
    let destination = destination_state(config, name, destination, &mut errors);
    let configured = fleet::jobs_of(config, name);
    let jobs = job_states(name, &configured, &live_jobs, &mut errors);
    let queue_known = groups.is_ok();
    let active_groups = match groups {
        Ok(groups) => active_group_states(&configured, groups),
        Err(e) => {
            errors.push(e);
            Vec::new()
        }
    };
    ServerState {
        server: name.to_string(),
        reachable: true,
        destination,
        jobs,
        active_groups,
        queue_known,
        errors,
    }
}

/// The configured destination as the server answered for it (none when none is configured).
fn destination_state(
    config: &Config,
    name: &str,
    answer: Option<Result<Destination, crate::api::ApiError>>,
    errors: &mut Vec<String>,
) -> Option<DestinationState> {
    match (
        config
            .servers
            .get(name)
            .and_then(|s| s.destination_id.clone()),
        answer,
    ) {
        (Some(id), Some(Ok(d))) => Some(DestinationState {
            id,
            exists: true,
            name: Some(d.name),
            disabled: Some(d.disabled),
        }),
        (Some(id), Some(Err(e))) => {
            errors.push(fleet::destination_error_line(name, &id, &e));
            // Not found: MISSING. Any other error: a row that says its state is unknown, never
            // a guess (`disabled: null`).
            Some(DestinationState {
                id,
                exists: !fleet::is_not_found(&e),
                name: None,
                disabled: None,
            })
        }
        _ => None,
    }
}

/// Each configured job as the server's job list has it, in the config's order.
fn job_states(
    name: &str,
    configured: &[&Job],
    live_jobs: &Result<Vec<BackupJob>, String>,
    errors: &mut Vec<String>,
) -> Vec<JobState> {
    let mut jobs = Vec::new();
    match live_jobs {
        Ok(list) => {
            for job in configured {
                let found = list.iter().find(|j| j.id == job.job_id);
                if found.is_none() {
                    errors.push(fleet::missing_job_line(name, job));
                }
                jobs.push(JobState {
                    job_id: job.job_id.clone(),
                    label: job.label.clone(),
                    exists: found.is_some(),
                    disabled: found.map(|j| j.disabled),
                    running: found.map(|j| j.running),
                });
            }
        }
        Err(e) => {
            errors.push(e.clone());
            // The jobs could not be listed: each is shown with an unknown state, not omitted.
            for job in configured {
                jobs.push(JobState {
                    job_id: job.job_id.clone(),
                    label: job.label.clone(),
                    exists: true,
                    disabled: None,
                    running: None,
                });
            }
        }
    }
    jobs
}

/// The server's active queue groups, each named by its configured job when it is one of ours.
fn active_group_states(configured: &[&Job], mut groups: Vec<QueueGroup>) -> Vec<GroupState> {
    // The server's list order is not documented (and differs between versions): show the
    // active groups oldest first, ties by id (ObjectIds grow with creation time), so the same
    // queue always reads the same.
    groups.retain(|g| g.status.is_active());
    let created = |g: &QueueGroup| g.created.as_ref().and_then(|t| t.epoch);
    groups.sort_by(|a, b| {
        created(a)
            .unwrap_or(f64::MIN)
            .total_cmp(&created(b).unwrap_or(f64::MIN))
            .then_with(|| a.id.cmp(&b.id))
    });
    let mut active_groups = Vec::new();
    for g in groups {
        let ours = g
            .job_id
            .as_deref()
            .and_then(|id| configured.iter().find(|j| j.job_id == id));
        active_groups.push(GroupState {
            label: ours.map(|j| j.label.clone()).unwrap_or_default(),
            configured: ours.is_some(),
            id: g.id,
            job_id: g.job_id,
            status: g.status.raw(),
            status_name: g.status.name(),
            progress_percent: g.progress_percent,
            started: g.started.map(|t| t.raw),
        });
    }
    active_groups
}

fn describe_change(c: &OpenChange) -> String {
    let what = |t: &Target| match t {
        Target::Destination => "destination",
        Target::Job => "job",
    };
    match c {
        OpenChange::Enabled {
            server,
            what: t,
            id,
            previous_disabled,
            run,
            ..
        } => format!(
            "server {server}: run {run} enabled {} {id}{}",
            what(t),
            if *previous_disabled {
                " (to be disabled again)"
            } else {
                ""
            }
        ),
        OpenChange::Triggered {
            server,
            id,
            group,
            run,
            ..
        } => format!(
            "server {server}: run {run} triggered job {id}{} and has not seen it end",
            group
                .as_deref()
                .map(|g| format!(" (queue group {g})"))
                .unwrap_or_default()
        ),
    }
}

fn render(report: &Report) -> String {
    let mut out = String::new();
    if let Some(d) = &report.daemon {
        out.push_str(&d.line);
        out.push('\n');
    }
    if let Some(r) = &report.run_in_progress {
        out.push_str(&r.line);
        out.push('\n');
    }
    render_last_run(&mut out, report);
    render_journal(&mut out, &report.journal);
    out.push('\n');

    let mut rows = Vec::new();
    for s in &report.servers {
        server_rows(&mut rows, s);
    }
    out.push_str(&fleet::table(&["SERVER", "WHAT", "STATE"], &rows));
    job_history::render(&mut out, &report.history);
    out
}

/// The last run's headline and exit, then its jobs that did not succeed and its criticals.
fn render_last_run(out: &mut String, report: &Report) {
    match &report.last_run {
        None => out.push_str(&format!(
            "last run: no run recorded yet ({})\n",
            report.state_file
        )),
        Some(last) => {
            let headline = text::render(&last.record);
            let first = headline.lines().next().unwrap_or_default();
            out.push_str(&format!(
                "last run: {} — exit {}\n",
                first.trim_start_matches("jbr run "),
                last.exit_code
            ));
            for j in last.record.jobs.iter().filter(|j| !j.outcome.is_success()) {
                out.push_str(&format!(
                    "  {} {}: {}{}\n",
                    j.server,
                    fleet::job_name(&j.job_id, &j.label),
                    j.outcome.as_str(),
                    if j.message.is_empty() {
                        String::new()
                    } else {
                        format!(" — {}", j.message)
                    }
                ));
            }
            for c in &last.record.critical {
                out.push_str(&format!("  CRITICAL: {}\n", c.message));
            }
        }
    }
}

fn render_journal(out: &mut String, journal: &JournalReport) {
    if journal.open_changes.is_empty() {
        out.push_str("journal: nothing open\n");
    } else {
        out.push_str(&format!(
            "journal: {} open change{} (a run in progress, or one that was killed: the next run undoes them)\n",
            journal.open_changes.len(),
            fleet::plural(journal.open_changes.len())
        ));
        for c in &journal.open_changes {
            out.push_str(&format!("  {c}\n"));
        }
    }
}

/// A server's rows of the table: its destination, its jobs, its active groups and its queue,
/// or one row when it did not answer.
fn server_rows(rows: &mut Vec<Vec<String>>, s: &ServerState) {
    if !s.reachable {
        rows.push(vec![
            s.server.clone(),
            "server".to_string(),
            format!(
                "UNREACHABLE: {}",
                s.errors.first().map(String::as_str).unwrap_or("")
            ),
        ]);
        return;
    }
    if let Some(d) = &s.destination {
        let state = match (d.exists, d.disabled) {
            (false, _) => "MISSING".to_string(),
            (true, None) => "UNKNOWN (could not be read)".to_string(),
            (true, Some(disabled)) => fleet::disabled_word(disabled).to_string(),
        };
        let name = d
            .name
            .as_deref()
            .map(|n| format!(" \"{n}\""))
            .unwrap_or_default();
        rows.push(vec![
            s.server.clone(),
            format!("destination {}{name}", short_id(&d.id)),
            state,
        ]);
    }
    for j in &s.jobs {
        let state = match (j.exists, j.disabled, j.running) {
            (false, _, _) => "MISSING".to_string(),
            (true, _, Some(true)) => "running".to_string(),
            (true, None, _) => "UNKNOWN (could not be read)".to_string(),
            (true, Some(disabled), _) => fleet::disabled_word(disabled).to_string(),
        };
        rows.push(vec![
            s.server.clone(),
            format!("job {}", fleet::job_name(&j.job_id, &j.label)),
            state,
        ]);
    }
    for g in &s.active_groups {
        let job = match &g.job_id {
            Some(id) if g.configured => format!("job {}", fleet::job_name(id, &g.label)),
            Some(id) => format!("job {} (not configured)", short_id(id)),
            None => "job unknown".to_string(),
        };
        let progress = g
            .progress_percent
            .map(|p| format!(", {p:.0}%"))
            .unwrap_or_default();
        rows.push(vec![
            s.server.clone(),
            format!("group {}", g.id),
            format!("{} ({}), {job}{progress}", g.status_name, g.status),
        ]);
    }
    if !s.queue_known {
        rows.push(vec![
            s.server.clone(),
            "queue".to_string(),
            "UNKNOWN (could not be read)".to_string(),
        ]);
    } else if s.active_groups.is_empty() {
        rows.push(vec![
            s.server.clone(),
            "queue".to_string(),
            "no active backup group".to_string(),
        ]);
    }
}
