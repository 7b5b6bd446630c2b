//! The in-process simulator's lab, for the plan, run and invariant tests: config builders
//! (`Config` values, not files) and one run of the run core.
//!
//! Every builder starts from the crate's own defaults (`Config::default()` and friends), so a
//! field added to the config does not break the tests, and a test names only what it relies on
//! (`Server { port: 1, ..lab::server("web-01") }`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use jbr::api::Client;
use jbr::config::{Config, Job, JobType, Orchestrator, Server};
use jbr::journal::{Journal, Op, Target};
use jbr::orchestrator::clock::Clock;
use jbr::orchestrator::context::RunOptions;
use jbr::orchestrator::plan::{self, Selection};
use jbr::orchestrator::progress::Progress;
use jbr::orchestrator::run::{self, Inputs};
use jbr::report::state::State;
use jbr::report::{JobRecord, RunRecord};
use jbr::sim::SimWorld;
use jbr::transport::Transport;
use jbr::transport::simulated::SimTransport;
use tokio::sync::watch;

/// A loopback server with the config file's defaults and no destination.
pub fn server(name: &str) -> Server {
    Server {
        name: name.into(),
        host: "127.0.0.1".into(),
        port: jbr::config::defaults::PORT,
        user: jbr::config::defaults::USER.into(),
        ssh_key: None,
        ssh_timeout: Duration::from_secs_f64(jbr::config::defaults::SSH_TIMEOUT),
        destination_id: None,
        known_hosts: None,
        local_command: None,
    }
}

/// An enabled accounts job with no label, priority 0 and the orchestrator's timeout.
pub fn job(id: &str, server: &str) -> Job {
    Job {
        job_id: id.into(),
        server: server.into(),
        label: String::new(),
        kind: JobType::Accounts,
        priority: 0,
        timeout: None,
        enabled: true,
    }
}

/// A server of the in-process simulator: its destination is the world's `nas`, and the port is
/// never dialled (the transport is the simulator).
pub fn sim_server(world: &SimWorld, name: &str) -> Server {
    Server {
        port: 1,
        ssh_timeout: Duration::from_secs(1),
        destination_id: Some(world.id(name, "nas")),
        ..server(name)
    }
}

/// The simulator's job `job` on `server`, labelled with its sim name.
pub fn sim_job(world: &SimWorld, server: &str, job_name: &str) -> Job {
    Job {
        label: job_name.to_string(),
        ..job(&world.id(server, job_name), server)
    }
}

/// Short waits for the paused clock, and every run file inside `dir`.
pub fn fast_orchestrator(dir: &Path) -> Orchestrator {
    Orchestrator {
        poll_interval: Duration::from_secs_f64(0.5),
        startup_timeout: Duration::from_secs(2),
        job_timeout: Duration::from_secs(60),
        stop_timeout: Duration::from_secs(5),
        stop_poll_interval: Duration::from_secs(1),
        near_end_poll_interval: Duration::from_secs_f64(0.5),
        lock_alert_after: Duration::from_secs(72_000),
        resume_within: Duration::from_secs(72_000),
        disable_while_running: false,
        window_end: None,
        window_policy: Default::default(),
        metrics_file: None,
        call_timeout: Duration::from_secs(1),
        retry_backoff: Duration::from_secs_f64(0.1),
        lock_file: dir.join("jbr.lock"),
        log_file: dir.join("jbr.log"),
        log_max_bytes: 1 << 20,
        log_backup_count: 1,
        state_file: dir.join("last-run.json"),
        journal_file: dir.join("last-run.json.journal"),
    }
}

/// No servers or jobs yet: the fast waits, every run file in `dir`.
pub fn sim_config(dir: &Path) -> Config {
    Config {
        path: PathBuf::from("config.json"),
        orchestrator: fast_orchestrator(dir),
        ..Config::default()
    }
}

/// web-01 (j1) and web-02 (j2, and j3 disabled in the config), both with destination d1, run
/// files in `dir`.
pub fn two_server_config(dir: &Path) -> Config {
    let server = |name: &str| Server {
        ssh_timeout: Duration::from_secs(1),
        destination_id: Some("d1".into()),
        ..server(name)
    };
    Config {
        servers: [
            ("web-01".to_string(), server("web-01")),
            ("web-02".to_string(), server("web-02")),
        ]
        .into_iter()
        .collect(),
        jobs: vec![
            job("j1", "web-01"),
            job("j2", "web-02"),
            Job {
                enabled: false,
                ..job("j3", "web-02")
            },
        ],
        ..sim_config(dir)
    }
}

/// One simulator client per configured server.
pub fn sim_clients(world: &SimWorld, c: &Config) -> BTreeMap<String, Client<SimTransport>> {
    c.servers
        .keys()
        .map(|n| (n.clone(), Client::new(SimTransport::new(world.clone(), n))))
        .collect()
}

/// The run core on the whole plan (every configured job, as `jbr run` with no selection), started
/// at a fixed wall-clock time so records compare across runs.
pub async fn run_all<T: Transport>(
    c: &Config,
    clients: &BTreeMap<String, Client<T>>,
    journal: &mut Journal,
    state: &mut State,
    options: RunOptions,
    cancel: watch::Receiver<bool>,
    progress: Progress,
) -> RunRecord {
    let p = plan::build(c, &Selection::default()).unwrap();
    run::run(Inputs {
        config: c,
        plan: &p,
        clients,
        journal,
        state,
        options,
        cancel,
        progress,
        clock: Clock::at(1_795_000_000.0),
        zone: jiff::tz::TimeZone::UTC,
    })
    .await
}

/// One fresh run of `c` on the simulator: journal run id `run-1`, empty state, never cancelled,
/// no progress lines. The report is printed (a failing test shows it); the journal comes back
/// for checks on what the run left open.
pub async fn fresh_sim_run(
    world: &SimWorld,
    c: &Config,
    force_activate: bool,
) -> (RunRecord, Journal) {
    let mut state = State::default();
    // Held until the run ends: a dropped sender is not the same as "not cancelled".
    let (_tx, cancel) = watch::channel(false);
    sim_run(world, c, &mut state, "run-1", cancel, force_activate).await
}

/// One run of `c` on the simulator with `state` (which the run updates, as `jbr run` does),
/// journal run id `run_id`, cancelled through `cancel`, no progress lines. The report is
/// printed (a failing test shows it); the journal comes back for checks on what was left open.
pub async fn sim_run(
    world: &SimWorld,
    c: &Config,
    state: &mut State,
    run_id: &str,
    cancel: watch::Receiver<bool>,
    force_activate: bool,
) -> (RunRecord, Journal) {
    let clients = sim_clients(world, c);
    let mut journal = Journal::open(&c.orchestrator.journal_file, run_id).unwrap();
    let r = run_all(
        c,
        &clients,
        &mut journal,
        state,
        RunOptions {
            force_activate,
            ..RunOptions::default()
        },
        cancel,
        Progress::none(),
    )
    .await;
    println!("{}", jbr::report::text::render(&r));
    (r, journal)
}

/// A journal record: jbr is about to enable `what` `id` on `server`, which was disabled.
pub fn enable(server: &str, what: Target, id: &str) -> Op {
    Op::Enable {
        server: server.into(),
        what,
        id: id.into(),
        previous_disabled: true,
        since: None,
    }
}

/// The journal of a window on web-01 opened as far as its queue group: destination d1 and job j1
/// enabled, j1 triggered, its queue group `group` seen.
pub fn write_window_to_group(j: &mut Journal, group: &str) {
    j.write(enable("web-01", Target::Destination, "d1"))
        .unwrap();
    j.write(enable("web-01", Target::Job, "j1")).unwrap();
    j.write(Op::Trigger {
        server: "web-01".into(),
        id: "j1".into(),
        since: None,
    })
    .unwrap();
    j.write(Op::Group {
        server: "web-01".into(),
        id: "j1".into(),
        group: group.into(),
    })
    .unwrap();
}

/// The record's row for the simulator's job `name` on `server`.
pub fn row<'r>(r: &'r RunRecord, world: &SimWorld, server: &str, name: &str) -> &'r JobRecord {
    let id = world.id(server, name);
    r.jobs
        .iter()
        .find(|j| j.server == server && j.job_id == id)
        .expect("a row for every job")
}
