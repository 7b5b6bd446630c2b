//! `jbr demo`: the real `jbr run` (lock, journal, state, plan, orchestrator, report) against
//! built-in simulated servers, in-process, on tokio's paused and auto-advancing clock, so a
//! night of backups takes seconds. Needs no config and no network; its lock, state and journal
//! live in a private temp directory that is removed at the end.
//!
//! After the report it prints the simulator's own verdict, taken from the simulated servers'
//! timeline and final state rather than from jbr's record: if jbr ever broke an invariant, the
//! demo says so loudly and exits 4.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::api::Client;
use crate::config::{Config, Job, JobType, Server};
use crate::exit::Exit;
use crate::orchestrator::progress::Progress;
use crate::report::Outcome::Completed;
use crate::report::state::{self, State};
use crate::report::time::duration;
use crate::report::{JobRecord, RunRecord};
use crate::sim::{Fault, FaultKind, Outcome, ServerBuilder, SimWorld, When};
use crate::transport::simulated::SimTransport;

use super::progress_line::ProgressLine;
use super::run::{RunArgs, execute};

/// `demo`'s flags, as typed.
#[derive(Debug, Clone, Copy)]
pub struct DemoArgs {
    pub servers: usize,
    pub jobs: usize,
    pub faults: bool,
}

/// The upper bounds the CLI accepts (2000 jobs: about 8 s of CPU in a release build).
pub const MAX_SERVERS: usize = 100;
pub const MAX_JOBS: usize = 20;

/// `--faults` puts one kind of trouble on each of the first three servers, and a failed and a
/// hanging job on the first.
pub const FAULTS_MIN_SERVERS: usize = 3;
pub const FAULTS_MIN_JOBS: usize = 2;

/// Realistic settings: what a production config would say. The clock is simulated, so they cost
/// no wall time.
const POLL_INTERVAL: f64 = 30.0;
const STARTUP_TIMEOUT: f64 = 120.0;
const JOB_TIMEOUT: f64 = 4.0 * 3600.0;
const STOP_TIMEOUT: f64 = 300.0;
const STOP_POLL_INTERVAL: f64 = 10.0;
const CALL_TIMEOUT: f64 = 60.0;
const RETRY_BACKOFF: f64 = 5.0;
/// Seconds the simulated JetBackup takes to turn a queued group into a running one.
pub const STARTUP_DELAY: f64 = 8.0;
/// Seconds a simulated stop takes to land.
const ABORT_DELAY: f64 = 20.0;
/// Longer than `CALL_TIMEOUT`: the stalled poll times out and is retried.
const STALL: f64 = 90.0;

/// Job names and typical minutes per run, cycled for servers with many jobs.
const JOBS: &[(&str, JobType, f64)] = &[
    ("accounts", JobType::Accounts, 47.0),
    ("databases", JobType::Database, 12.0),
    ("directories", JobType::Directories, 26.0),
    ("mail", JobType::Accounts, 35.0),
    ("config", JobType::Other, 4.0),
];

/// What the demo runs: the simulated servers, the config jbr gets, and the state file as a
/// previous night would have left it, with the history of earlier nights.
pub struct Scenario {
    pub world: SimWorld,
    pub config: Config,
    pub state: State,
    /// One line per fault mixed in, printed before the run.
    pub faults: Vec<String>,
}

fn server_name(i: usize, count: usize) -> String {
    let width = count.to_string().len().max(2);
    format!("web-{:0width$}", i + 1)
}

fn job_name(j: usize) -> String {
    let (name, _, _) = JOBS[j % JOBS.len()];
    if j < JOBS.len() {
        name.to_string()
    } else {
        format!("{name}-{}", j / JOBS.len() + 1)
    }
}

/// Minutes vary by server so the report does not look copy-pasted, deterministically (the
/// demo is the same every time).
fn job_secs(s: usize, j: usize) -> f64 {
    let (_, _, minutes) = JOBS[j % JOBS.len()];
    let spread = 0.7 + 0.15 * ((s * 7 + j * 3) % 5) as f64;
    (minutes * spread * 60.0).round()
}

/// Builds the scenario. Must run inside the (paused) runtime: the simulator's clock starts
/// when it is built.
pub fn scenario(args: DemoArgs, dir: &Path) -> Scenario {
    let mut faults = Vec::new();
    let mut builder = SimWorld::builder();
    for s in 0..args.servers {
        let name = server_name(s, args.servers);
        let faulty = |k: usize| args.faults && s == k;
        let mut notes = Vec::new();
        builder = builder.server(&name, |mut b: ServerBuilder| {
            b = b.startup_delay(STARTUP_DELAY).abort_delay(ABORT_DELAY);
            // Server 2 with --faults: someone left the destination and its first job enabled,
            // and the server's own scheduler has started that job (see `tick` below).
            b = if faulty(1) {
                b.destination_enabled("nas")
            } else {
                b.destination("nas")
            };
            for j in 0..args.jobs {
                let secs = job_secs(s, j);
                b = b.job_with(&job_name(j), secs, |jb| match (faulty(0), faulty(1), j) {
                    (true, _, 0) => jb.outcome(Outcome::Failed),
                    (true, _, 1) => jb.outcome(Outcome::Hang),
                    (_, true, 0) => jb.enabled(),
                    _ => jb,
                });
            }
            if faulty(0) {
                b = b
                    .fault(Fault::on(
                        "getQueueGroup",
                        When::Calls(3, 4),
                        FaultKind::Garbage,
                    ))
                    .fault(Fault::on(
                        "getQueueGroup",
                        When::Call(6),
                        FaultKind::Refuse("queue database is locked".into()),
                    ))
                    .fault(Fault::on(
                        "getQueueGroup",
                        When::Call(9),
                        FaultKind::Stall(STALL),
                    ));
                notes.push(format!(
                    "{name}: job {} fails; job {} hangs until job_timeout ({}), then jbr aborts it and confirms the stop",
                    job_name(0),
                    job_name(1),
                    duration(JOB_TIMEOUT)
                ));
                notes.push(format!(
                    "{name}: flaky polls: two garbage answers, one success 0, one {} stall",
                    duration(STALL)
                ));
            }
            if faulty(1) {
                notes.push(format!(
                    "{name}: busy at start: its own scheduler is already running job {} to the NAS",
                    job_name(0)
                ));
            }
            if faulty(2) {
                notes.push(format!(
                    "{name}: its NAS destination was disabled by someone else (not by jbr)"
                ));
            }
            b
        });
        faults.extend(notes);
    }
    let world = builder.build();
    if args.faults {
        world.tick(&server_name(1, args.servers));
    }

    let mut config = simulated_config(
        PathBuf::from("(built-in demo)"),
        dir,
        [
            POLL_INTERVAL,
            STARTUP_TIMEOUT,
            JOB_TIMEOUT,
            STOP_TIMEOUT,
            STOP_POLL_INTERVAL,
            CALL_TIMEOUT,
            RETRY_BACKOFF,
        ],
    );

    let mut state = State::default();
    let mut earlier = Vec::new();
    for s in 0..args.servers {
        let name = server_name(s, args.servers);
        let dest = world.id(&name, "nas");
        // Last night jbr closed every window itself, except where someone else disabled it.
        if !(args.faults && s == 2) {
            state.note_destination(&name, &dest, true);
        }
        config.servers.insert(
            name.clone(),
            Server {
                name: name.clone(),
                host: format!("{name}.simulated"),
                port: 22,
                user: "root".into(),
                ssh_key: None,
                ssh_timeout: Duration::from_secs(10),
                destination_id: Some(dest),
                known_hosts: None,
                local_command: None,
            },
        );
        for j in 0..args.jobs {
            let label = job_name(j);
            earlier.push(EarlierJob {
                server: name.clone(),
                job_id: world.id(&name, &label),
                label: label.clone(),
                secs: job_secs(s, j),
            });
            config.jobs.push(Job {
                job_id: world.id(&name, &label),
                server: name.clone(),
                kind: JOBS[j % JOBS.len()].1,
                label,
                priority: 0,
                timeout: None,
                enabled: true,
            });
        }
    }
    remember_earlier_nights(&mut state, &earlier, crate::report::time::unix_now());
    // The NAS's device, simulated: its counter file grows while any backup writes, so the
    // report shows each job's bytes and rate as on the Pi.
    config.nas.block_device = Some(DEMO_DEVICE.to_string());
    config.nas.diskstats_file = dir.join("diskstats");
    Scenario {
        world,
        config,
        state,
        faults,
    }
}

/// The simulated NAS device, and how fast it writes while a backup does (a USB RAID that
/// keeps up: tens of MB/s).
const DEMO_DEVICE: &str = "md0";
const DEMO_WRITE_BYTES_PER_SEC: f64 = 42e6;

/// How many earlier (simulated) nights the demo's state file remembers: enough for each job's
/// usual duration in the report, an ETA on the line, and a full sparkline in `status`.
pub const EARLIER_NIGHTS: usize = 14;

/// A job as the earlier nights ran it.
struct EarlierJob {
    server: String,
    job_id: String,
    label: String,
    secs: f64,
}

/// Folds `EARLIER_NIGHTS` good nights before `now` into the state, as those runs would have:
/// each job within ±10 % of its simulated duration, deterministically. Only the history is
/// kept; the demo's own run is the last run.
fn remember_earlier_nights(state: &mut State, jobs: &[EarlierJob], now: f64) {
    for night in 0..EARLIER_NIGHTS {
        let started = now - (EARLIER_NIGHTS - night) as f64 * 86_400.0;
        let mut record = RunRecord::new(&format!("demo-earlier-{}", night + 1), started);
        let mut at = started;
        for (i, job) in jobs.iter().enumerate() {
            let wander = 0.9 + 0.2 * ((night * 5 + i * 3) % 7) as f64 / 6.0;
            let secs = (job.secs * wander).round();
            let mut j = JobRecord::new(&job.server, &job.job_id, &job.label, Completed);
            j.start = Some(at);
            j.end = Some(at + secs);
            j.duration_secs = Some(secs);
            record.jobs.push(j);
            at += secs + 60.0;
        }
        record.ended = at;
        state.record_run(&record);
    }
    state.last_run = None;
}

/// A config for simulated servers: `waits` are poll, startup, job, stop, stop-poll, call and
/// retry-backoff seconds; the run's files live in `dir` (shared with `jbr-sim soak`).
pub fn simulated_config(path: PathBuf, dir: &Path, waits: [f64; 7]) -> Config {
    let mut config = Config {
        path,
        ..Config::default()
    };
    let o = &mut config.orchestrator;
    let [poll, startup, job, stop, stop_poll, call, backoff] = waits.map(Duration::from_secs_f64);
    o.poll_interval = poll;
    o.startup_timeout = startup;
    o.job_timeout = job;
    o.stop_timeout = stop;
    o.stop_poll_interval = stop_poll;
    o.call_timeout = call;
    o.retry_backoff = backoff;
    o.lock_file = dir.join("jbr.lock");
    o.log_file = dir.join("jbr.log");
    o.state_file = dir.join("last-run.json");
    o.journal_file = dir.join("last-run.json.journal");
    config
}

/// A private directory for the run's lock, state and journal, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn create() -> std::io::Result<TempDir> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let path = std::env::temp_dir().join(format!("jbr-demo-{}-{nanos}", std::process::id()));
        // create_dir, not create_dir_all: fails rather than reuse a directory someone made.
        std::fs::create_dir(&path)?;
        Ok(TempDir(path))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The simulator's verdict, from its own timeline and final state.
pub struct Check {
    pub max_writers: usize,
    pub left_enabled: Vec<String>,
    pub still_running: Vec<String>,
}

impl Check {
    pub fn of(world: &SimWorld) -> Check {
        let f = world.final_state();
        Check {
            max_writers: world.max_concurrent_writers(),
            left_enabled: f.enabled,
            still_running: f.running,
        }
    }

    pub fn ok(&self) -> bool {
        self.max_writers <= 1 && self.left_enabled.is_empty() && self.still_running.is_empty()
    }

    pub fn render(&self) -> String {
        let list = |v: &[String]| {
            if v.is_empty() {
                "nothing".to_string()
            } else {
                v.join("; ")
            }
        };
        let line = format!(
            "max concurrent NAS writers: {}; left enabled: {}; still running: {}",
            self.max_writers,
            list(&self.left_enabled),
            list(&self.still_running)
        );
        if self.ok() {
            format!("simulator check: {line}\n")
        } else {
            format!(
                "simulator check FAILED: {line}\n\
                 !!! jbr broke an invariant (one NAS writer, nothing left enabled): this is a bug, please report it\n"
            )
        }
    }
}

/// Sizes within bounds, and room for `--faults`' faults.
pub fn validate(args: DemoArgs) -> Result<(), String> {
    // clap checks these for the CLI; library callers get the same rule.
    if !(1..=MAX_SERVERS).contains(&args.servers) || !(1..=MAX_JOBS).contains(&args.jobs) {
        return Err(format!(
            "--servers must be 1-{MAX_SERVERS} and --jobs 1-{MAX_JOBS} (got --servers {} --jobs {})",
            args.servers, args.jobs
        ));
    }
    if args.faults && (args.servers < FAULTS_MIN_SERVERS || args.jobs < FAULTS_MIN_JOBS) {
        return Err(format!(
            "--faults needs at least {FAULTS_MIN_SERVERS} servers and {FAULTS_MIN_JOBS} jobs per server (got --servers {} --jobs {})",
            args.servers, args.jobs
        ));
    }
    Ok(())
}

/// `jbr demo` from the command line.
pub fn main(args: DemoArgs) -> Exit {
    if let Err(e) = validate(args) {
        eprintln!("jbr demo: {e}");
        return Exit::Usage;
    }
    let dir = match TempDir::create() {
        Ok(d) => d,
        Err(e) => {
            eprintln!(
                "jbr demo: cannot create a temporary directory in {}: {e}",
                std::env::temp_dir().display()
            );
            return Exit::Usage;
        }
    };
    // Paused: whenever every task waits on a timer, tokio jumps to the next one, so the
    // orchestrator's 30-second polls cost no wall time.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("jbr demo: cannot start the async runtime: {e}");
            return Exit::Usage;
        }
    };
    let stdout = std::io::stdout();
    let tty = stdout.is_terminal();
    let exit = runtime.block_on(demo(args, &dir.0, stdout, tty));
    drop(dir);
    exit
}

/// The demo, writing everything to `out`. `tty`: a rewritten progress line instead of lines.
pub async fn demo<W: Write>(args: DemoArgs, dir: &Path, mut out: W, tty: bool) -> Exit {
    let wall = std::time::Instant::now();
    let sc = scenario(args, dir);
    let _ = writeln!(
        out,
        "jbr demo: the real `jbr run` against {} simulated server(s) × {} job(s), on a simulated clock \
         (polls every {}, job_timeout {}); no config, no network; the state file remembers {} earlier simulated nights.",
        args.servers,
        args.jobs,
        duration(POLL_INTERVAL),
        duration(JOB_TIMEOUT),
        EARLIER_NIGHTS
    );
    if !sc.faults.is_empty() {
        let _ = writeln!(out, "faults mixed in:");
        for f in &sc.faults {
            let _ = writeln!(out, "  - {f}");
        }
    }
    let _ = writeln!(out);

    if let Err(e) = state::save(&sc.config.orchestrator.state_file, &sc.state) {
        let _ = writeln!(out, "jbr demo: {e}");
        return Exit::Usage;
    }
    let clients: BTreeMap<String, Client<SimTransport>> = sc
        .config
        .servers
        .keys()
        .map(|n| {
            (
                n.clone(),
                Client::new(SimTransport::new(sc.world.clone(), n)),
            )
        })
        .collect();

    let disk = crate::sim::disk::SimDisk::new(
        sc.config.nas.diskstats_file.clone(),
        DEMO_DEVICE,
        DEMO_WRITE_BYTES_PER_SEC,
    );
    if let Err(e) = sc.world.attach_disk(disk) {
        let _ = writeln!(out, "jbr demo: the simulated NAS counter file: {e}");
        return Exit::Usage;
    }
    let mut line = ProgressLine::new(out, tty);
    if let Some(width) = tty.then(super::progress_line::stdout_width).flatten() {
        line = line.with_width(width);
    }
    for j in &sc.config.jobs {
        line.label(&j.server, &j.job_id, &j.label);
    }
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    // Ctrl-C or SIGTERM: the orchestrator aborts the running job and closes the window, as in
    // a real run; then the temp dir is removed as usual.
    let (_never, quiet) = tokio::sync::watch::channel(false);
    let cancel = super::run::cancel_on_signals().unwrap_or(quiet);
    let sim_start = tokio::time::Instant::now();
    let (mut report, mut problems) = (Vec::new(), Vec::new());
    let run = async {
        let exit = execute(
            &sc.config,
            &RunArgs::default(),
            &clients,
            cancel,
            Progress::new(tx),
            &mut report,
            &mut problems,
        )
        .await;
        (exit, sim_start.elapsed())
    };
    // The run drops its `Progress` when it returns, which ends the renderer.
    let render = async {
        while let Some(e) = rx.recv().await {
            line.event(&e);
        }
    };
    let ((exit, simulated), ()) = tokio::join!(run, render);
    let mut out = line.into_inner();

    let _ = writeln!(
        out,
        "simulated {} of backups in {:.2} s of wall time\n",
        duration(simulated.as_secs_f64()),
        wall.elapsed().as_secs_f64()
    );
    let _ = out.write_all(&report);
    if !problems.is_empty() {
        let _ = std::io::stderr().write_all(&problems);
    }
    let check = Check::of(&sc.world);
    let _ = writeln!(out);
    let _ = out.write_all(check.render().as_bytes());
    let _ = out.flush();
    if check.ok() {
        exit
    } else {
        // Also on stderr: stdout may be a file nobody reads, and this is a bug in jbr.
        eprint!("jbr demo: {}", check.render());
        Exit::Critical
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_check_fails_loudly_on_what_the_simulator_sees() {
        // Someone else left a destination enabled: the simulator reports it, whatever jbr says.
        let world = SimWorld::builder()
            .server("web-01", |s| s.destination_enabled("nas").job("a", 10.0))
            .build();
        let check = Check::of(&world);
        assert!(!check.ok());
        let text = check.render();
        assert!(text.starts_with("simulator check FAILED: max concurrent NAS writers: 0; left enabled: web-01: destination nas ("), "{text}");
        assert!(text.contains("jbr broke an invariant"), "{text}");

        let clean = SimWorld::builder()
            .server("web-01", |s| s.destination("nas").job("a", 10.0))
            .build();
        assert_eq!(
            Check::of(&clean).render(),
            "simulator check: max concurrent NAS writers: 0; left enabled: nothing; still running: nothing\n"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn faults_scenario_puts_each_fault_where_the_report_expects_it() {
        let dir = std::env::temp_dir();
        let sc = scenario(
            DemoArgs {
                servers: 3,
                jobs: 2,
                faults: true,
            },
            &dir,
        );
        assert_eq!(sc.faults.len(), 4, "{:?}", sc.faults);
        // web-02 is busy: one group, started by its own scheduler, queued or already writing.
        let running = sc.world.final_state().running;
        assert_eq!(running.len(), 1, "{running:?}");
        assert!(running[0].starts_with("web-02: group "), "{running:?}");
        // web-03's destination is not one jbr disabled: the run must skip it.
        let dest3 = sc.config.servers["web-03"].destination_id.clone().unwrap();
        assert!(!sc.state.jbr_disabled_destination("web-03", &dest3));
        let dest1 = sc.config.servers["web-01"].destination_id.clone().unwrap();
        assert!(sc.state.jbr_disabled_destination("web-01", &dest1));
    }

    #[test]
    fn sizes_are_checked_for_library_callers_too() {
        let args = |servers, jobs, faults| DemoArgs {
            servers,
            jobs,
            faults,
        };
        assert!(validate(args(1, 1, false)).is_ok());
        assert!(validate(args(MAX_SERVERS, MAX_JOBS, true)).is_ok());
        assert!(validate(args(0, 1, false)).is_err());
        assert!(validate(args(1, MAX_JOBS + 1, false)).is_err());
        let e = validate(args(2, 2, true)).unwrap_err();
        assert!(e.starts_with("--faults needs at least 3 servers"), "{e}");
    }
}
