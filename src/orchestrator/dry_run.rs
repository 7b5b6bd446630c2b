//! `run --dry-run`: every remote call a run would make tonight, in order, and nothing changed.
//!
//! The dry run *is* the run (style.md, "dry run as a wrapper"), so the listing cannot drift
//! from what the orchestrator does:
//! 1. **Snapshot**: each selected server is read live, reads only: its NAS destination, its
//!    jobs, its queue groups. A server that cannot be read is noted as unreachable.
//! 2. **Rehearse**: the real orchestrator (`run::run`, journal replay included, with a copy of
//!    the journal and the state file) runs against an in-process simulator seeded with that
//!    snapshot, on a paused clock. Writes change only the simulator; the servers never see one.
//! 3. **Show**: the calls the rehearsal sent, one line each, in the contract's grammar, with
//!    the ids only a real run learns (its queue group, its log) as `<group>` and `<log>`. A
//!    call repeated back to back (polling) is shown once, with how it repeats.
//!
//! Every job is assumed to complete (in about a second) and every call to be answered; what
//! the rehearsal's run would report (a server skipped, a job missing) follows the listing. A
//! job that fails adds one read to a real run (its log items); a server that has never been
//! run and lacks `manageDestinationState` adds the fallback call the first time.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;
use std::sync::{Arc, Mutex};

use crate::api::{BackupJob, Client, Destination};
use crate::config::Config;
use crate::contract::RawOutput;
use crate::journal::Journal;
use crate::orchestrator::clock::Clock;
use crate::orchestrator::context::RunOptions;
use crate::orchestrator::plan::Plan;
use crate::orchestrator::progress::Progress;
use crate::orchestrator::run::{self, Inputs};
use crate::report::RunRecord;
use crate::report::state::State;
use crate::sim::{self, SimWorld};
use crate::transport::simulated::SimTransport;
use crate::transport::{Transport, TransportError};

/// What each selected server looked like, read live. `Err`: it could not be read (why).
pub type Snapshot = BTreeMap<String, Result<ServerSnapshot, String>>;

#[derive(Debug, Clone)]
pub struct ServerSnapshot {
    pub destination: Option<Destination>,
    pub jobs: Vec<BackupJob>,
    /// Active queue groups: (group id, job id, processing).
    pub active: Vec<(String, Option<String>, bool)>,
}

/// Reads each selected server. Only reads are sent (see [`ReadOnly`] for commands that want
/// that enforced by the transport).
pub async fn snapshot<T: Transport>(
    plan: &Plan,
    clients: &BTreeMap<String, Client<T>>,
) -> Snapshot {
    let mut out = BTreeMap::new();
    for s in &plan.servers {
        let planned = s.jobs.iter().map(|j| j.job_id.as_str());
        let read = match clients.get(&s.server) {
            Some(client) => read_server(client, s.destination_id.as_deref(), planned).await,
            None => Err("no client for this server".to_string()),
        };
        out.insert(s.server.clone(), read);
    }
    out
}

async fn read_server<'a, T: Transport>(
    client: &Client<T>,
    dest: Option<&str>,
    planned: impl Iterator<Item = &'a str>,
) -> Result<ServerSnapshot, String> {
    // What the rehearsal's transport answers for this server instead (`server X: ` is added
    // back there), so the run it rehearses words the skip as the real one would.
    client.ping().await.map_err(|e| {
        let text = match e {
            crate::api::ApiError::Transport { source, .. } => source.to_string(),
            other => other.to_string(),
        };
        let prefix = format!("server {}: ", client.server());
        text.strip_prefix(&prefix)
            .map(str::to_string)
            .unwrap_or(text)
    })?;
    let destination = match dest {
        Some(d) => Some(
            client
                .get_destination(d)
                .await
                .map_err(|e| format!("destination {d}: {e}"))?,
        ),
        None => None,
    };
    let mut jobs = client
        .list_backup_jobs()
        .await
        .map_err(|e| format!("listBackupJobs: {e}"))?;
    // A planned job the list leaves out (a capped list) is read by itself; one the server
    // does not have stays out, and the rehearsal reports it missing, as a run would.
    for id in planned {
        if !jobs.iter().any(|j| j.id == id)
            && let Ok(j) = client.get_backup_job(id).await
        {
            jobs.push(j);
        }
    }
    let active = client
        .list_backup_queue_groups()
        .await
        .map_err(|e| format!("listQueueGroups: {e}"))?
        .into_iter()
        .filter(|g| g.status.is_active())
        .map(|g| {
            let processing = g.status.raw() >= crate::api::QueueStatus::PROCESSING.raw();
            (g.id, g.job_id, processing)
        })
        .collect();
    Ok(ServerSnapshot {
        destination,
        jobs,
        active,
    })
}

/// The simulated servers the rehearsal runs against: the snapshot's state, every job about a
/// second long and completing.
fn world_from(snapshot: &Snapshot) -> sim::World {
    let mut world = sim::World {
        // Ids the simulator makes up (groups, logs) must not look like any real one.
        next_id: 0x00d7_7000_0000,
        ..sim::World::default()
    };
    for (name, read) in snapshot {
        let Ok(s) = read else { continue };
        let mut server = sim::Server::default();
        // A server whose job list leaves a false `disabled` out (or `null`) answers a trigger
        // the same way, and the run then reads the enable back by itself: rehearse that.
        if s.jobs.iter().any(|j| !j.disabled_stated) {
            server.settings.flag_style = sim::FlagStyle::NullMissing;
        }
        if let Some(d) = &s.destination {
            server.destinations.push(sim::Destination {
                id: d.id.clone(),
                name: d.name.clone(),
                kind: d.kind.clone(),
                disabled: d.disabled,
            });
        }
        for j in &s.jobs {
            server.jobs.push(sim::Job {
                id: j.id.clone(),
                name: j.name.clone(),
                destinations: j.destinations.clone(),
                duration: 1.0,
                outcome: sim::Outcome::Completed,
                items: 1,
                disabled: j.disabled,
                last_run: None,
                idle_since: None,
                exposed_secs: 0.0,
            });
        }
        world.servers.insert(name.clone(), server);
    }
    for (name, read) in snapshot {
        let Ok(s) = read else { continue };
        for (id, job, processing) in &s.active {
            let log_id = world.new_id();
            if let Some(server) = world.servers.get_mut(name) {
                server.groups.push(sim::Group {
                    id: id.clone(),
                    log_id,
                    job_id: job.clone().unwrap_or_default(),
                    created: 0.0,
                    start_due: 0.0,
                    started: processing.then_some(0.0),
                    ended: None,
                    status: None,
                    final_outcome: None,
                    stop_at: None,
                    fail_at: None,
                    duration: 1.0,
                    outcome: sim::Outcome::Completed,
                    item_ids: Vec::new(),
                    scheduled: true,
                    cleared: false,
                });
            }
        }
    }
    world
}

/// One call the rehearsal sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    pub server: String,
    pub argv: Vec<String>,
}

/// The rehearsal's transport: the simulator for a server the snapshot read, the snapshot's
/// error for one it could not; every call recorded in order across servers.
struct Rehearsal {
    server: String,
    sim: Option<SimTransport>,
    unreachable: String,
    sent: Arc<Mutex<Vec<Sent>>>,
}

impl Transport for Rehearsal {
    fn server(&self) -> &str {
        &self.server
    }

    async fn run(&self, argv: &[String]) -> Result<RawOutput, TransportError> {
        if let Ok(mut sent) = self.sent.lock() {
            sent.push(Sent {
                server: self.server.clone(),
                argv: argv.to_vec(),
            });
        }
        match &self.sim {
            Some(t) => t.run(argv).await,
            None => Err(TransportError::Other {
                server: self.server.clone(),
                reason: self.unreachable.clone(),
            }),
        }
    }
}

/// What the rehearsal sent and what its run would report.
pub struct Rehearsed {
    pub sent: Vec<Sent>,
    pub record: RunRecord,
}

/// Runs the real orchestrator against the snapshot, on its own thread and paused clock (the
/// caller's runtime keeps its real one). `journal`: the real journal's file, copied first so
/// the rehearsal replays what a run would; the copy stays in `scratch`. `state` is cloned,
/// never saved.
pub fn rehearse(
    config: &Config,
    plan: &Plan,
    snapshot: &Snapshot,
    state: &State,
    options: RunOptions,
    journal: &Path,
    scratch: &Path,
) -> Result<Rehearsed, String> {
    let copy = scratch.join("journal");
    if journal.exists() {
        std::fs::copy(journal, &copy)
            .map_err(|e| format!("cannot copy the journal {}: {e}", journal.display()))?;
    }
    let now = sim::wall_clock().floor();
    std::thread::scope(|scope| {
        let rehearsal = scope.spawn(|| {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .start_paused(true)
                .build()
                .map_err(|e| format!("cannot start the rehearsal's runtime: {e}"))?;
            // The rehearsal's own log lines ("skipped: …") are not the operator's: the listing
            // and its summary say what the run would do.
            let _quiet =
                tracing::subscriber::set_default(tracing::subscriber::NoSubscriber::default());
            runtime.block_on(async {
                let world = SimWorld::from_world_at(world_from(snapshot), now);
                let sent = Arc::new(Mutex::new(Vec::new()));
                let clients: BTreeMap<String, Client<Rehearsal>> = snapshot
                    .iter()
                    .map(|(name, read)| {
                        let t = Rehearsal {
                            server: name.clone(),
                            sim: read.is_ok().then(|| SimTransport::new(world.clone(), name)),
                            unreachable: read.as_ref().err().cloned().unwrap_or_default(),
                            sent: sent.clone(),
                        };
                        (name.clone(), Client::new(t))
                    })
                    .collect();
                let mut journal = Journal::open(&copy, "dry-run").map_err(|e| e.to_string())?;
                let mut state = state.clone();
                // Held until the run ends: a dropped sender is not the same as "not cancelled".
                let (_tx, cancel) = tokio::sync::watch::channel(false);
                let record = run::run(Inputs {
                    config,
                    plan,
                    clients: &clients,
                    journal: &mut journal,
                    state: &mut state,
                    options,
                    cancel,
                    progress: Progress::none(),
                    clock: Clock::at(now),
                    zone: jiff::tz::TimeZone::system(),
                })
                .await;
                let sent = sent.lock().map(|s| s.clone()).unwrap_or_default();
                Ok(Rehearsed { sent, record })
            })
        });
        rehearsal
            .join()
            .unwrap_or_else(|_| Err("the rehearsal panicked".to_string()))
    })
}

/// The calls as lines: ids the run makes up become `<group>`/`<log>`; a call repeated back to
/// back is one line. `known`: the ids of the config and the snapshot (see [`known_ids`]).
pub fn listing(sent: &[Sent], known: &BTreeSet<String>, poll: std::time::Duration) -> Vec<String> {
    let mut lines: Vec<(String, usize)> = Vec::new();
    for s in sent {
        let line = format!("[{}] {}", s.server, show(&s.argv, known));
        match lines.last_mut() {
            Some((last, n)) if *last == line => *n += 1,
            _ => lines.push((line, 1)),
        }
    }
    // How often a poll repeats depends on how long the job takes, which no snapshot knows.
    let poll = secs(poll);
    lines
        .into_iter()
        .map(|(line, n)| match n {
            1 => line,
            _ => format!("{line}   (repeated every {poll} s while it waits)"),
        })
        .collect()
}

fn show(argv: &[String], known: &BTreeSet<String>) -> String {
    let after = |flag: &str| {
        argv.iter()
            .position(|a| a == flag)
            .and_then(|i| argv.get(i + 1))
    };
    let Some(function) = after("-F").map(String::as_str) else {
        return format!("read   {}", argv.join(" "));
    };
    let data = after("-D").map(|d| {
        d.split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, v)) if is_id(k) && !known.contains(v) => {
                    format!("{k}={}", placeholder(function, k))
                }
                _ => pair.to_string(),
            })
            .collect::<Vec<_>>()
            .join("&")
    });
    let mark = if crate::contract::is_write(function) {
        "CHANGE"
    } else {
        "read  "
    };
    match data {
        Some(d) => format!("{mark} jetbackup5api -F {function} -D '{d}' -O json"),
        None => format!("{mark} jetbackup5api -F {function} -O json"),
    }
}

fn is_id(key: &str) -> bool {
    matches!(key, "_id" | "group_id" | "log_id")
}

fn placeholder(function: &str, key: &str) -> &'static str {
    if key == "log_id" || function.contains("Log") {
        "<log>"
    } else {
        "<group>"
    }
}

/// Every id the operator knows before the run: the config's and the snapshot's.
pub fn known_ids(config: &Config, snapshot: &Snapshot) -> BTreeSet<String> {
    let mut known: BTreeSet<String> = config
        .servers
        .values()
        .filter_map(|s| s.destination_id.clone())
        .chain(config.jobs.iter().map(|j| j.job_id.clone()))
        .collect();
    for s in snapshot.values().flatten() {
        known.extend(s.destination.iter().map(|d| d.id.clone()));
        known.extend(s.jobs.iter().map(|j| j.id.clone()));
        known.extend(s.active.iter().map(|(g, _, _)| g.clone()));
    }
    known
}

/// The whole text: a header, the calls, what the run would report.
pub fn render(plan: &Plan, listing: &[String], record: &RunRecord) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "dry run: {} job(s) on {} server(s); nothing will be changed",
        plan.job_count(),
        plan.servers.len()
    );
    for d in &plan.disabled_in_config {
        let _ = writeln!(
            out,
            "  skip {} on {}: disabled in config",
            crate::orchestrator::plan::job_display(&d.job_id, &d.label),
            d.server
        );
    }
    if !listing.is_empty() {
        let _ = writeln!(
            out,
            "the calls a run would make now, in order (each job assumed to complete; only reads were sent, to take this snapshot):"
        );
    }
    for line in listing {
        let _ = writeln!(out, "{line}");
    }
    let mut would: Vec<String> = Vec::new();
    for s in &record.servers {
        if let Some(why) = &s.skipped {
            would.push(format!("server {} would be skipped: {why}", s.server));
        }
    }
    for j in record.jobs.iter().filter(|j| !j.outcome.is_success()) {
        would.push(format!(
            "server {}, job {}: {}: {}",
            j.server,
            crate::orchestrator::plan::job_display(&j.job_id, &j.label),
            j.outcome.as_str(),
            j.message
        ));
    }
    for c in &record.critical {
        would.push(format!("CRITICAL: {}", c.message));
    }
    would.extend(record.recovered.iter().map(|r| format!("journal: {r}")));
    if !would.is_empty() {
        let _ = writeln!(out, "what the run would report:");
        for w in would {
            let _ = writeln!(out, "  {w}");
        }
    }
    out
}

fn secs(d: std::time::Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{s:.0}")
    } else {
        format!("{s}")
    }
}

/// A transport that lets reads through and refuses every write (`manage*`, `run*`, `stop*`,
/// `clear*`), for read-only commands and a dry run that wants live reads. A refused call never
/// leaves this process.
pub struct ReadOnly<T>(pub T);

impl<T: crate::transport::Transport> crate::transport::Transport for ReadOnly<T> {
    fn server(&self) -> &str {
        self.0.server()
    }

    async fn run(
        &self,
        argv: &[String],
    ) -> Result<crate::transport::RawOutput, crate::transport::TransportError> {
        let function = argv
            .iter()
            .position(|a| a == "-F")
            .and_then(|i| argv.get(i + 1));
        if let Some(f) = function
            && crate::contract::is_write(f)
        {
            return Err(crate::transport::TransportError::Other {
                server: self.0.server().to_string(),
                reason: format!("dry run: refusing to send {f}"),
            });
        }
        self.0.run(argv).await
    }
}
