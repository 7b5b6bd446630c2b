//! One night, generated from its seed alone: the fleet, the API variants each server speaks,
//! the faults, what happens outside jbr, and how the run is interrupted. Then the simulated
//! world, the config and the state file that night starts from.

use std::path::Path;
use std::time::Duration;

use crate::config::{Config, Job, JobType, Server};
use crate::report::state::State;
use crate::sim::{
    DestStateFn, DisabledRun, DisabledTriggerReply, Fault, FaultKind, FlagStyle, ListOrder,
    Outcome, Settings, SimWorld, StatusFamily, When,
};

use super::rng::Rng;

/// Epoch second every night starts at (fixed: the same seed gives the same story).
pub const BASE: f64 = 1_795_000_000.0;

/// The orchestrator's waits, production-like; the clock is simulated.
pub const POLL: f64 = 30.0;
pub const STARTUP_TIMEOUT: f64 = 120.0;
pub const JOB_TIMEOUT: f64 = 1200.0;
pub const STOP_TIMEOUT: f64 = 120.0;
pub const STOP_POLL: f64 = 10.0;
pub const CALL_TIMEOUT: f64 = 60.0;
pub const RETRY_BACKOFF: f64 = 5.0;

#[derive(Debug, Clone)]
pub struct Night {
    pub seed: u64,
    pub servers: Vec<ServerSpec>,
    pub abort_foreign: bool,
    /// `orchestrator.disable_while_running` (each server's `disabled_run` says what a disable
    /// does to its running backup).
    pub disable_while_running: bool,
    pub interruption: Interruption,
    /// `orchestrator.window_end` (UTC, the soak's zone), when the night has one: no jbr trigger
    /// at or after it, and what it leaves out is reported and carried over.
    pub window_end: Option<crate::config::LocalTime>,
    /// The server's scheduler ticks: seconds after the start, server index.
    pub ticks: Vec<(f64, usize)>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Interruption {
    None,
    /// The process dies at the n-th remote call of the run (all servers count); `after`: the
    /// call reached the server and only its answer is lost. Nobody watches for `gap` seconds.
    Crash {
        call: u64,
        after: bool,
        gap: f64,
    },
    /// SIGTERM just before the n-th remote call.
    Sigterm {
        call: u64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Down {
    Never,
    /// Every call disconnects, from the start.
    ForGood,
    /// Every call disconnects between these seconds after the start.
    During(f64, f64),
}

#[derive(Debug, Clone)]
pub struct ServerSpec {
    pub name: String,
    pub settings: Settings,
    pub down: Down,
    /// The destination is disabled, and the state file does not say jbr disabled it.
    pub dest_by_other: bool,
    /// A backup of job `foreign` (started outside jbr) is writing at the start.
    pub foreign: Option<usize>,
    pub faults: Vec<Fault>,
    pub jobs: Vec<JobSpec>,
}

#[derive(Debug, Clone)]
pub struct JobSpec {
    pub name: String,
    pub duration: f64,
    pub outcome: Outcome,
    pub items: u32,
    /// A per-job timeout in the config.
    pub timeout: Option<f64>,
    /// Earlier nights' runs still listed: seconds before the start, outcome, by the scheduler.
    pub past: Vec<(f64, Outcome, bool)>,
}

impl Night {
    pub fn jobs(&self) -> usize {
        self.servers.iter().map(|s| s.jobs.len()).sum()
    }
}

const OUTCOMES: &[(u64, Outcome)] = &[
    (50, Outcome::Completed),
    (8, Outcome::Warnings),
    (8, Outcome::Partial),
    (12, Outcome::Failed),
    (8, Outcome::ItemFailed),
    (4, Outcome::Aborted),
    (4, Outcome::Hang),
];

/// Functions a fault may hit, reads and writes alike.
const FAULTY: &[&str] = &[
    "getQueueGroup",
    "listQueueGroups",
    "getBackupJob",
    "listBackupJobs",
    "manageBackupJob",
    "getDestination",
    "manageDestinationState",
    "manageDestination",
    "runBackupJobManually",
    "listQueueItems",
    "getLog",
    "listLogs",
    "listLogItems",
    "stopQueueGroup",
];

/// Night `seed`, from the seed alone.
pub fn generate(seed: u64) -> Night {
    let mut r = Rng::new(seed);
    let server_count = r.range(1, 12) as usize;
    let mut servers = Vec::with_capacity(server_count);
    for s in 0..server_count {
        servers.push(server(&mut r, s));
    }
    let jobs: u64 = servers.iter().map(|s| s.jobs.len() as u64).sum();
    // A foreign backup on at most one server, on a server that is up.
    if r.percent(12) {
        let s = r.range(0, server_count as u64 - 1) as usize;
        if servers[s].down == Down::Never && !servers[s].dest_by_other {
            let j = r.range(0, servers[s].jobs.len() as u64 - 1) as usize;
            servers[s].foreign = Some(j);
        }
    }
    let calls = jobs * 25 + server_count as u64 * 8;
    let interruption = match r.range(0, 99) {
        0..=59 => Interruption::None,
        60..=84 => Interruption::Crash {
            call: r.range(1, calls),
            after: r.percent(50),
            gap: r.secs(0, 3600),
        },
        _ => Interruption::Sigterm {
            call: r.range(1, calls),
        },
    };
    let span = (jobs as f64) * 500.0;
    let ticks = (0..r.range(0, 3))
        .map(|_| {
            (
                r.secs(0, span as u64),
                r.range(0, server_count as u64 - 1) as usize,
            )
        })
        .collect();
    let abort_foreign = r.percent(30);
    // Later additions draw from their own stream, so every older seed still tells the story it
    // told (the regression seeds keep their meaning).
    let mut later = Rng::new(seed ^ 0xd15a_b1ed_0000_0013);
    let disable_while_running = later.percent(40);
    for s in &mut servers {
        s.settings.disabled_run = later.pick(&[DisabledRun::Finishes, DisabledRun::Aborts]);
    }
    // The night window (issue 12), from a stream of its own: a third of the nights close
    // somewhere inside the night's likely span, on a whole minute.
    let mut window = Rng::new(seed ^ 0x0e2d_0000_0012_0000);
    let window_end = window.percent(33).then(|| {
        let at = BASE + window.secs(60, span as u64);
        let minute = (at / 60.0).ceil() as i64;
        crate::config::LocalTime {
            hour: ((minute / 60).rem_euclid(24)) as u8,
            minute: minute.rem_euclid(60) as u8,
        }
    });
    Night {
        seed,
        servers,
        abort_foreign,
        disable_while_running,
        interruption,
        window_end,
        ticks,
    }
}

fn server(r: &mut Rng, index: usize) -> ServerSpec {
    let settings = Settings {
        startup_delay: r.secs(1, 20),
        abort_delay: r.secs(1, 30),
        fail_fast: 0.5,
        status_family: r.pick(&[StatusFamily::Research, StatusFamily::OlderTool]),
        flag_style: r.pick(&[
            FlagStyle::Mixed,
            FlagStyle::Int,
            FlagStyle::Bool,
            FlagStyle::String,
            FlagStyle::NullMissing,
        ]),
        list_order: r.pick(&[ListOrder::OldestFirst, ListOrder::NewestFirst]),
        log_order: r.pick(&[
            None,
            Some(ListOrder::OldestFirst),
            Some(ListOrder::NewestFirst),
        ]),
        manual_log_type: r.pick(&[1, 6]),
        group_log_id: r.percent(70),
        processing_code: r.pick(&[2, 30]),
        destination_state_fn: r.weighted(&[
            (70, DestStateFn::Works),
            (20, DestStateFn::Absent),
            (10, DestStateFn::Ignored),
        ]),
        disabled_trigger_reply: r
            .pick(&[DisabledTriggerReply::Empty, DisabledTriggerReply::JobObject]),
        exposure: if r.percent(30) {
            Some(r.secs(5, 120))
        } else {
            None
        },
        version: "5.3.3".to_string(),
        // A server that caps every list (the real one may stop at 100 whatever `limit` says);
        // a small cap pages the same code as 100 would, at a fraction of the cost.
        list_cap: if r.percent(10) { Some(10) } else { None },
        call_latency: 0.0,
        // Drawn in `generate`, from the later additions' stream.
        disabled_run: DisabledRun::Finishes,
    };
    let down = match r.range(0, 99) {
        0..=2 => Down::ForGood,
        3..=10 => {
            let from = r.secs(0, 2400);
            Down::During(from, from + r.secs(10, 600))
        }
        _ => Down::Never,
    };
    let job_count = r.range(1, 6) as usize;
    // A server that caps its lists at 100 keeps weeks of history, so paging matters there.
    // Over the cap in all, so its lists page.
    let history = if settings.list_cap.is_some() {
        (2 * 12 / job_count as u64).max(3)
    } else {
        3
    };
    let jobs = (0..job_count).map(|j| job(r, index, j, history)).collect();
    let mut faults = Vec::new();
    for _ in 0..r.range(0, 3) {
        faults.push(fault(r, job_count));
    }
    if let Down::During(from, until) = down {
        faults.push(Fault::any(
            When::Between(BASE + from, BASE + until),
            FaultKind::Disconnect,
        ));
    }
    if down == Down::ForGood {
        faults.push(Fault::any(When::Always, FaultKind::Disconnect));
    }
    ServerSpec {
        name: format!("web-{:02}", index + 1),
        settings,
        down,
        dest_by_other: r.percent(5),
        foreign: None,
        faults,
        jobs,
    }
}

fn job(r: &mut Rng, server: usize, index: usize, history: u64) -> JobSpec {
    let past = (0..r.range(0, history))
        .map(|k| {
            let outcome = match r.weighted(OUTCOMES) {
                // Yesterday's runs all ended.
                Outcome::Hang => Outcome::Aborted,
                o => o,
            };
            (
                86_400.0 * (k + 1) as f64 - r.secs(0, 7200),
                outcome,
                r.percent(50),
            )
        })
        .collect();
    JobSpec {
        name: format!("s{}j{}", server + 1, index + 1),
        // A few to a few dozen polls: what matters is the interleavings, not the poll count.
        duration: r.secs(30, 900),
        outcome: r.weighted(OUTCOMES),
        items: r.range(1, 4) as u32,
        timeout: if r.percent(15) {
            Some(r.secs(120, 1000))
        } else {
            None
        },
        past,
    }
}

fn fault(r: &mut Rng, jobs: usize) -> Fault {
    let function = r.pick(FAULTY);
    let when = When::Call(r.range(1, 4 + jobs as u64 * 3));
    if function == "runBackupJobManually" && r.percent(40) {
        // Someone disables the job just before jbr triggers it.
        return Fault::on(function, when, FaultKind::JobDisabledFirst);
    }
    let kind = match r.weighted(&[(3, 0), (3, 1), (2, 2), (2, 3), (2, 4), (1, 5)]) {
        0 => FaultKind::Garbage,
        1 => FaultKind::Refuse("database is locked".to_string()),
        2 => FaultKind::Exit(255),
        3 => FaultKind::Stall(CALL_TIMEOUT * 1.5),
        4 => FaultKind::Disconnect,
        _ => FaultKind::Empty,
    };
    let fault = Fault::on(function, when, kind);
    if r.percent(50) {
        fault.taking_effect()
    } else {
        fault
    }
}

/// The world, config and state file of a night. Must run inside the (paused) runtime: the
/// simulator's clock starts when it is built.
pub struct Built {
    pub world: SimWorld,
    /// The groups of backups started outside jbr, writing at the start.
    pub foreign_groups: Vec<String>,
    pub config: Config,
    pub state: State,
}

pub fn build(night: &Night, dir: &Path) -> Built {
    let mut builder = SimWorld::builder().at(BASE);
    for spec in &night.servers {
        builder = builder.server(&spec.name, |mut b| {
            b = b.settings(|s| *s = spec.settings.clone());
            b = if spec.foreign.is_some() {
                b.destination_enabled("nas")
            } else {
                b.destination("nas")
            };
            for (j, job) in spec.jobs.iter().enumerate() {
                let enabled = spec.foreign == Some(j);
                b = b.job_with(&job.name, job.duration, |jb| {
                    let jb = jb.outcome(job.outcome).items(job.items);
                    if enabled { jb.enabled() } else { jb }
                });
                for (ago, outcome, scheduled) in &job.past {
                    b = b.past_run_by(&job.name, *ago, *outcome, *scheduled);
                }
            }
            b
        });
    }
    let world = builder.build();
    let mut foreign_groups = Vec::new();
    // Faults last: building (past runs) must not count as calls.
    for spec in &night.servers {
        for f in &spec.faults {
            world.add_fault(&spec.name, f.clone());
        }
        if let Some(j) = spec.foreign {
            // Someone ran it by hand, then disabled it again; it is still writing.
            foreign_groups.extend(world.tick(&spec.name));
            if let Some(name) = spec.jobs.get(j).map(|x| x.name.clone()) {
                world.with_server(&spec.name, |s| {
                    for job in s.jobs.iter_mut().filter(|x| x.name == name) {
                        job.disabled = true;
                    }
                });
            }
        }
    }

    let mut config = crate::commands::demo::simulated_config(
        dir.join("config.json"),
        dir,
        [
            POLL,
            STARTUP_TIMEOUT,
            JOB_TIMEOUT,
            STOP_TIMEOUT,
            STOP_POLL,
            CALL_TIMEOUT,
            RETRY_BACKOFF,
        ],
    );
    config.orchestrator.disable_while_running = night.disable_while_running;
    config.orchestrator.window_end = night.window_end;

    let mut state = State::default();
    for spec in &night.servers {
        let Some(dest) = world.find_id(&spec.name, "nas") else {
            continue;
        };
        if !spec.dest_by_other {
            state.note_destination(&spec.name, &dest, true);
        }
        config.servers.insert(
            spec.name.clone(),
            Server {
                name: spec.name.clone(),
                host: format!("{}.simulated", spec.name),
                port: 22,
                user: "root".into(),
                ssh_key: None,
                ssh_timeout: Duration::from_secs(10),
                destination_id: Some(dest),
                known_hosts: None,
                local_command: None,
            },
        );
        for (j, job) in spec.jobs.iter().enumerate() {
            let Some(id) = world.find_id(&spec.name, &job.name) else {
                continue;
            };
            config.jobs.push(Job {
                job_id: id,
                server: spec.name.clone(),
                label: job.name.clone(),
                kind: JobType::Other,
                // Config order is the fleet's order.
                priority: -(j as i64),
                timeout: job.timeout.map(Duration::from_secs_f64),
                enabled: true,
            });
        }
    }
    Built {
        world,
        foreign_groups,
        config,
        state,
    }
}
