//! A crash at *every* remote call of a run, then the next start (invariant 2 "after a SIGKILL
//! or power loss", invariant 1 "not after a crash").
//!
//! A clean run of a two-server plan makes K calls. For each n in 1..=K, and for both sides of
//! the call (it never reached the server / the server acted but the answer was lost), a run is
//! stopped dead at call n: its future is dropped, so nothing after that point runs, no
//! destructor cleans up and the state file is not saved, as with SIGKILL. The journal on disk is
//! all that is left. Time then passes with nobody watching (the servers' own schedulers are on,
//! in exposure mode, so a job left enabled gets fired). Then a new run starts from the same
//! journal and state file, as `jbr run` after a reboot would.
//!
//! Checked on the simulator, not in log lines: never two NAS writers at once across the crash,
//! the gap and the second run; nothing left enabled or running at the end; the journal empty;
//! and the second run backs up every job.
//!
//! The same sweep with SIGTERM instead: at every call, the run is told to stop and must leave
//! every server as it found it by itself (nothing enabled, nothing of its own still running),
//! and the next run backs up every job.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use support::lab;

use jbr::api::Client;
use jbr::config::Config;
use jbr::exit::Exit;
use jbr::journal::Journal;
use jbr::orchestrator::context::RunOptions;
use jbr::orchestrator::progress::Progress;
use jbr::report::state;
use jbr::sim::SimWorld;
use jbr::transport::simulated::SimTransport;
use jbr::transport::{RawOutput, Transport, TransportError};
use tokio::sync::{Notify, watch};

/// Where, relative to call n, the process dies.
#[derive(Debug, Clone, Copy)]
enum Side {
    /// After the journal record, before the call leaves: the server never hears of it.
    Before,
    /// The server acted on the call; the answer is lost with the process.
    After,
}

/// A transport that kills the run at the n-th call of the whole run (all servers count).
struct DiesAt {
    inner: SimTransport,
    calls: Arc<AtomicU64>,
    at: u64,
    side: Side,
    died: Arc<Notify>,
}

impl Transport for DiesAt {
    fn server(&self) -> &str {
        self.inner.server()
    }

    async fn run(&self, argv: &[String]) -> Result<RawOutput, TransportError> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        if n >= self.at {
            if n == self.at && matches!(self.side, Side::After) {
                let _ = self.inner.run(argv).await;
            }
            self.died.notify_one();
            // Nothing answers a dead process.
            std::future::pending::<()>().await;
        }
        self.inner.run(argv).await
    }
}

/// A directory for one run's journal and state. Each run fsyncs its journal a few dozen times
/// and these tests make thousands of runs: on tmpfs when there is one, so they take seconds.
fn scratch() -> tempfile::TempDir {
    let shm = std::path::Path::new("/dev/shm");
    if shm.is_dir()
        && let Ok(d) = tempfile::tempdir_in(shm)
    {
        return d;
    }
    tempfile::tempdir().expect("tempdir")
}

fn world() -> SimWorld {
    SimWorld::builder()
        .server("web-01", |s| {
            s.destination("nas")
                .exposure(5.0)
                .job("a", 40.0)
                .job("b", 25.0)
        })
        .server("web-02", |s| {
            s.destination("nas").exposure(5.0).job("c", 30.0)
        })
        .build()
}

fn config(world: &SimWorld, dir: &std::path::Path) -> Config {
    let mut c = lab::sim_config(dir);
    // A few polls per job: a crash mid-poll is one case, not forty of the same.
    c.orchestrator.poll_interval = Duration::from_secs(8);
    c.orchestrator.startup_timeout = Duration::from_secs(30);
    c.orchestrator.job_timeout = Duration::from_secs(300);
    for (server, job) in [("web-01", "a"), ("web-01", "b"), ("web-02", "c")] {
        c.servers
            .insert(server.to_string(), lab::sim_server(world, server));
        c.jobs.push(lab::sim_job(world, server, job));
    }
    c
}

fn options() -> RunOptions {
    // The destinations are disabled at rest and no state file says jbr disabled them.
    RunOptions {
        force_activate: true,
        ..RunOptions::default()
    }
}

/// One run as `jbr run` does it: journal and state file from disk, the state saved at the end
/// (a run dropped midway, like a SIGKILLed process, never gets there).
async fn run_from_disk<T: Transport>(
    c: &Config,
    clients: &BTreeMap<String, Client<T>>,
    run_id: &str,
    cancel: watch::Receiver<bool>,
) -> jbr::report::RunRecord {
    let mut journal = Journal::open(&c.orchestrator.journal_file, run_id).expect("journal");
    let mut state = state::load(&c.orchestrator.state_file).expect("state file");
    let r = lab::run_all(
        c,
        clients,
        &mut journal,
        &mut state,
        options(),
        cancel,
        Progress::none(),
    )
    .await;
    state::save(&c.orchestrator.state_file, &state).expect("save state");
    r
}

/// A run nobody interrupts.
async fn clean_run<T: Transport>(
    c: &Config,
    clients: &BTreeMap<String, Client<T>>,
    run_id: &str,
) -> jbr::report::RunRecord {
    // Held until the run ends: a dropped sender is not the same as "not cancelled".
    let (_tx, cancel) = watch::channel(false);
    run_from_disk(c, clients, run_id, cancel).await
}

/// The journal's open changes, read back from disk.
fn open_changes(c: &Config) -> Vec<jbr::journal::OpenChange> {
    Journal::open(&c.orchestrator.journal_file, "check")
        .expect("journal")
        .open_changes()
}

/// A run from disk that dies at its n-th call (see `DiesAt`). False when it ended before that.
async fn crashed_run(world: &SimWorld, c: &Config, n: u64, side: Side) -> bool {
    let calls = Arc::new(AtomicU64::new(0));
    let died = Arc::new(Notify::new());
    let dying: BTreeMap<String, Client<DiesAt>> = c
        .servers
        .keys()
        .map(|s| {
            let t = DiesAt {
                inner: SimTransport::new(world.clone(), s),
                calls: Arc::clone(&calls),
                at: n,
                side,
                died: Arc::clone(&died),
            };
            (s.clone(), Client::new(t))
        })
        .collect();
    let (_tx, cancel) = watch::channel(false);
    tokio::select! {
        _ = run_from_disk(c, &dying, "run-1", cancel) => false,
        () = died.notified() => true,
    }
}

/// A run from disk that gets SIGTERM at its n-th call. `None` when it ended before that.
async fn sigtermed_run(
    world: &SimWorld,
    c: &Config,
    n: u64,
    run_id: &str,
) -> Option<jbr::report::RunRecord> {
    let calls = Arc::new(AtomicU64::new(0));
    let (tx, cancel) = watch::channel(false);
    let tx = Arc::new(tx);
    let signalled: BTreeMap<String, Client<SigtermAt>> = c
        .servers
        .keys()
        .map(|s| {
            let t = SigtermAt {
                inner: SimTransport::new(world.clone(), s),
                calls: Arc::clone(&calls),
                at: n,
                sigterm: Arc::clone(&tx),
            };
            (s.clone(), Client::new(t))
        })
        .collect();
    let r = run_from_disk(c, &signalled, run_id, cancel).await;
    (calls.load(Ordering::SeqCst) >= n).then_some(r)
}

/// How many calls a run without a crash makes.
async fn calls_in_a_clean_run() -> u64 {
    let world = world();
    let dir = scratch();
    let c = config(&world, dir.path());
    let clients = lab::sim_clients(&world, &c);
    let r = clean_run(&c, &clients, "baseline").await;
    assert_eq!(r.exit(), Exit::Ok, "{}", jbr::report::text::render(&r));
    assert!(world.final_state().is_clean());
    c.servers
        .keys()
        .map(|s| world.call_log(s).len() as u64)
        .sum()
}

async fn crash_at(n: u64, side: Side) {
    let world = world();
    let dir = scratch();
    let c = config(&world, dir.path());
    let at = format!("crash at call {n} ({side:?})");
    if !crashed_run(&world, &c, n, side).await {
        // n is past the last call of this run: nothing to crash.
        return;
    }

    // Down for a while; whatever was left enabled is fair game for the server's scheduler.
    tokio::time::sleep(Duration::from_secs(120)).await;

    let clients = lab::sim_clients(&world, &c);
    let before = night_so_far(&world);
    let second = clean_run(&c, &clients, "run-2").await;
    let report = jbr::report::text::render(&second);
    assert_backed_up_once(&world, &before, &at, &report);
    assert_eq!(
        world.max_concurrent_writers(),
        1,
        "{at}: two NAS writers at once: {:?}\n{report}",
        world.timeline()
    );
    let fin = world.final_state();
    assert!(fin.is_clean(), "{at}: left behind {fin:?}\n{report}");
    let open = open_changes(&c);
    assert!(open.is_empty(), "{at}: journal still open: {open:?}");
    assert_eq!(second.exit(), Exit::Ok, "{at}:\n{report}");
    assert_eq!(second.jobs.len(), 3, "{at}:\n{report}");
}

/// The night up to the next run's start: how many calls each server has had, and the jobs
/// (server, job id) that already have a good backup (status 100) on the simulator.
struct NightSoFar {
    calls: BTreeMap<String, usize>,
    good: Vec<(String, String)>,
}

fn night_so_far(world: &SimWorld) -> NightSoFar {
    let calls = ["web-01", "web-02"]
        .into_iter()
        .map(|s| (s.to_string(), world.call_log(s).len()))
        .collect();
    let good = world
        .timeline()
        .into_iter()
        .filter(|w| w.end.is_some() && w.status == Some(100))
        .map(|w| (w.server, w.job_id))
        .collect();
    NightSoFar { calls, good }
}

/// The run after a crash finishes the night instead of starting it over (issue 13, item 7): a
/// job with a good backup tonight is not triggered again, and every other job is triggered
/// exactly once. Counted on the simulator's call log, not in the report.
fn assert_backed_up_once(world: &SimWorld, before: &NightSoFar, at: &str, report: &str) {
    for (server, job) in [("web-01", "a"), ("web-01", "b"), ("web-02", "c")] {
        let id = world.id(server, job);
        let triggers = world.call_log(server)[before.calls[server]..]
            .iter()
            .filter(|c| {
                c.function == "runBackupJobManually"
                    && c.params.get("_id").map(String::as_str) == Some(id.as_str())
            })
            .count();
        let good = before.good.iter().any(|(s, j)| s == server && *j == id);
        let expected = usize::from(!good);
        assert_eq!(
            triggers, expected,
            "{at}: job {job} on {server} (good backup before the next run: {good}) was triggered {triggers} times by it\n{report}"
        );
    }
}

/// A transport that delivers SIGTERM (the run's cancel signal) at the n-th call of the run;
/// the call itself and everything after go through as usual.
struct SigtermAt {
    inner: SimTransport,
    calls: Arc<AtomicU64>,
    at: u64,
    sigterm: Arc<watch::Sender<bool>>,
}

impl Transport for SigtermAt {
    fn server(&self) -> &str {
        self.inner.server()
    }

    async fn run(&self, argv: &[String]) -> Result<RawOutput, TransportError> {
        if self.calls.fetch_add(1, Ordering::SeqCst) + 1 == self.at {
            let _ = self.sigterm.send(true);
        }
        self.inner.run(argv).await
    }
}

/// Returns false when n is past the last call (nothing was signalled).
async fn sigterm_at(n: u64) -> bool {
    let world = world();
    let dir = scratch();
    let c = config(&world, dir.path());
    let Some(r) = sigtermed_run(&world, &c, n, "run-1").await else {
        return false;
    };
    let at = format!("SIGTERM at call {n}");
    let report = jbr::report::text::render(&r);
    assert!(r.cancelled, "{at}: not reported as cancelled\n{report}");
    assert_ne!(r.exit(), Exit::Ok, "{at}:\n{report}");
    let fin = world.final_state();
    assert!(fin.is_clean(), "{at}: left behind {fin:?}\n{report}");
    let open = open_changes(&c);
    assert!(open.is_empty(), "{at}: journal still open: {open:?}");
    assert!(
        world.max_concurrent_writers() <= 1,
        "{at}: {:?}",
        world.timeline()
    );

    // The servers were left as found, so the next run just works.
    tokio::time::sleep(Duration::from_secs(120)).await;
    let clients = lab::sim_clients(&world, &c);
    let second = clean_run(&c, &clients, "run-2").await;
    let report = jbr::report::text::render(&second);
    assert_eq!(second.exit(), Exit::Ok, "{at}, then a new run:\n{report}");
    assert!(world.final_state().is_clean(), "{at}, then a new run");
    assert_eq!(world.max_concurrent_writers(), 1, "{at}, then a new run");
    true
}

#[tokio::test(start_paused = true)]
async fn sigterm_at_any_call_leaves_every_server_as_found() {
    let k = calls_in_a_clean_run().await;
    for n in 1..=k {
        assert!(sigterm_at(n).await, "call {n} of {k} never came");
    }
}

#[tokio::test(start_paused = true)]
async fn a_crash_before_any_call_reaches_the_server_is_cleaned_up_at_the_next_start() {
    let k = calls_in_a_clean_run().await;
    assert!(k > 20, "a clean run makes {k} calls");
    eprintln!("a clean run makes {k} calls");
    for n in 1..=k {
        crash_at(n, Side::Before).await;
    }
}

#[tokio::test(start_paused = true)]
async fn a_crash_after_any_call_reached_the_server_is_cleaned_up_at_the_next_start() {
    let k = calls_in_a_clean_run().await;
    for n in 1..=k {
        crash_at(n, Side::After).await;
    }
}

/// The run after a crash is itself stopped by SIGTERM at each of its first calls (while it
/// replays the journal, follows the orphan, or pre-flights): it still leaves every server as
/// found, and the run after that backs up every job.
#[tokio::test(start_paused = true)]
async fn sigterm_while_recovering_from_a_crash_still_leaves_every_server_as_found() {
    let k = calls_in_a_clean_run().await;
    let mut recoveries = 0;
    for n in (3..=k).step_by(10) {
        for m in 1..=10 {
            let world = world();
            let dir = scratch();
            let c = config(&world, dir.path());
            if !crashed_run(&world, &c, n, Side::After).await {
                continue;
            }
            tokio::time::sleep(Duration::from_secs(60)).await;
            let Some(r) = sigtermed_run(&world, &c, m, "run-2").await else {
                continue;
            };
            recoveries += 1;
            let at = format!("crash at call {n}, then SIGTERM at call {m} of the next run");
            let report = jbr::report::text::render(&r);
            // Nothing enabled, nothing running: the backup the crashed run triggered and any
            // the server's scheduler fired while the job stood enabled are jbr's doing, so
            // SIGTERM stops them too.
            let fin = world.final_state();
            assert!(fin.is_clean(), "{at}: left behind {fin:?}\n{report}");
            let open = open_changes(&c);
            assert!(
                open.is_empty(),
                "{at}: journal still open: {open:?}\n{report}"
            );
            assert!(
                world.max_concurrent_writers() <= 1,
                "{at}: {:?}",
                world.timeline()
            );

            let clients = lab::sim_clients(&world, &c);
            let third = clean_run(&c, &clients, "run-3").await;
            let report = jbr::report::text::render(&third);
            assert_eq!(third.exit(), Exit::Ok, "{at}, then a new run:\n{report}");
            assert!(world.final_state().is_clean(), "{at}, then a new run");
            assert_eq!(world.max_concurrent_writers(), 1, "{at}, then a new run");
        }
    }
    assert!(recoveries > 60, "{recoveries}");
}

/// SIGTERM while the next run follows a backup the crashed run triggered: jbr started that
/// backup, so it stops it (and confirms the stop) instead of following it for hours until
/// systemd loses patience and SIGKILLs it.
#[tokio::test(start_paused = true)]
async fn sigterm_while_following_an_orphan_aborts_it_and_confirms_the_stop() {
    let world = SimWorld::builder()
        .server("web-01", |s| s.destination("nas").job("a", 600.0))
        .build();
    let dir = scratch();
    let mut c = lab::sim_config(dir.path());
    c.orchestrator.poll_interval = Duration::from_secs(10);
    c.orchestrator.startup_timeout = Duration::from_secs(30);
    c.orchestrator.job_timeout = Duration::from_secs(3600);
    c.servers
        .insert("web-01".into(), lab::sim_server(&world, "web-01"));
    c.jobs.push(lab::sim_job(&world, "web-01", "a"));
    let clients = lab::sim_clients(&world, &c);

    // The first run dies 60 s into the backup.
    let (_tx, cancel) = watch::channel(false);
    let crashed = tokio::time::timeout(
        Duration::from_secs(60),
        run_from_disk(&c, &clients, "run-1", cancel),
    )
    .await;
    assert!(crashed.is_err(), "the first run ended by itself");
    assert_eq!(
        world.final_state().running.len(),
        1,
        "{:?}",
        world.final_state()
    );

    // The next run finds it in the journal and follows it; SIGTERM 30 s later.
    let (tx, cancel) = watch::channel(false);
    let started = tokio::time::Instant::now();
    let sigterm = async {
        tokio::time::sleep(Duration::from_secs(30)).await;
        let _ = tx.send(true);
        std::future::pending::<()>().await
    };
    let r = tokio::select! {
        r = run_from_disk(&c, &clients, "run-2", cancel) => r,
        () = sigterm => unreachable!("pending forever"),
    };
    let took = started.elapsed();
    let report = jbr::report::text::render(&r);
    // 30 s, then the stop (the simulator confirms within seconds), not the 540 s left.
    assert!(took < Duration::from_secs(60), "{took:?}\n{report}");
    assert!(r.cancelled, "{report}");
    assert!(
        r.recovered
            .iter()
            .any(|l| l.contains("was aborted (timeout or SIGTERM) and the stop confirmed")),
        "{report}"
    );
    let fin = world.final_state();
    assert!(fin.is_clean(), "left behind {fin:?}\n{report}");
    assert!(open_changes(&c).is_empty(), "{report}");
    let orphan = &world.timeline()[0];
    assert_ne!(orphan.status, Some(100), "{orphan:?}");
}

/// One run from disk with the operator's options, its clock anchored at `wall` (Unix seconds):
/// a later night is a later wall clock.
async fn run_at(
    c: &Config,
    world: &SimWorld,
    run_id: &str,
    options: RunOptions,
    wall: f64,
) -> jbr::report::RunRecord {
    let clients = lab::sim_clients(world, c);
    let plan = jbr::orchestrator::plan::build(c, &Default::default()).expect("plan");
    let mut journal = Journal::open(&c.orchestrator.journal_file, run_id).expect("journal");
    let mut state = state::load(&c.orchestrator.state_file).expect("state file");
    let (_tx, cancel) = watch::channel(false);
    let r = jbr::orchestrator::run::run(jbr::orchestrator::run::Inputs {
        config: c,
        plan: &plan,
        clients: &clients,
        journal: &mut journal,
        state: &mut state,
        options,
        cancel,
        progress: Progress::none(),
        clock: jbr::orchestrator::clock::Clock::at(wall),
        zone: jiff::tz::TimeZone::UTC,
    })
    .await;
    state::save(&c.orchestrator.state_file, &state).expect("save state");
    r
}

const NIGHT: f64 = 1_795_000_000.0;

/// A run that dies (its future dropped, as with SIGKILL) `after` into it; its record when it
/// ended first.
async fn killed_after(
    c: &Config,
    world: &SimWorld,
    run_id: &str,
    after: Duration,
    wall: f64,
) -> Option<jbr::report::RunRecord> {
    tokio::time::timeout(after, run_at(c, world, run_id, options(), wall))
        .await
        .ok()
}

/// How many times jbr's trigger reached the server for job `name`, all night.
fn triggers(world: &SimWorld, server: &str, name: &str) -> usize {
    let id = world.id(server, name);
    world
        .call_log(server)
        .iter()
        .filter(|c| {
            c.function == "runBackupJobManually"
                && c.params.get("_id").map(String::as_str) == Some(id.as_str())
        })
        .count()
}

/// Killed twice at random moments, then run to its end: each job is backed up once in the
/// night, and the last report says where each was done (issue 13, item 7; the acceptance
/// trial once saw a job backed up four times in such a night).
#[tokio::test(start_paused = true)]
async fn killed_twice_the_night_still_backs_up_each_job_once() {
    let mut rng = support::rng::Rng(0x5eed_2026);
    let mut killed_twice = 0;
    for night in 0..20 {
        let world = world();
        let dir = scratch();
        let c = config(&world, dir.path());
        let kills = 1 + rng.below(2);
        let t0 = tokio::time::Instant::now();
        let mut ended = None;
        for k in 0..kills {
            let after = Duration::from_secs(5 + rng.below(140) as u64);
            let id = format!("run-{}", k + 1);
            let wall = NIGHT + t0.elapsed().as_secs_f64();
            ended = killed_after(&c, &world, &id, after, wall).await;
            if ended.is_some() {
                // It finished the night before the kill came.
                break;
            }
            killed_twice += usize::from(k == 1);
            // Down for a while; a job left enabled is fair game for the server's scheduler.
            tokio::time::sleep(Duration::from_secs(20 + rng.below(60) as u64)).await;
        }
        let last = match ended {
            Some(r) => r,
            None => {
                let wall = NIGHT + t0.elapsed().as_secs_f64();
                run_at(&c, &world, "last", options(), wall).await
            }
        };
        let report = jbr::report::text::render(&last);
        let at = format!("night {night} ({kills} kill(s))");
        assert_eq!(last.exit(), Exit::Ok, "{at}:\n{report}");
        assert!(world.final_state().is_clean(), "{at}:\n{report}");
        assert_eq!(
            world.max_concurrent_writers(),
            1,
            "{at}: {:?}",
            world.timeline()
        );
        for (server, job) in [("web-01", "a"), ("web-01", "b"), ("web-02", "c")] {
            let n = triggers(&world, server, job);
            assert!(
                n <= 1,
                "{at}: job {job} triggered {n} times in the night\n{report}"
            );
            // Its row names a backup of tonight that completed.
            let group = lab::row(&last, &world, server, job).group_id.clone();
            assert!(
                world
                    .timeline()
                    .iter()
                    .any(|w| Some(&w.group_id) == group.as_ref()
                        && w.job_id == world.id(server, job)
                        && w.status == Some(100)),
                "{at}: job {job}'s row names {group:?}\n{report}"
            );
        }
    }
    assert!(
        killed_twice >= 5,
        "only {killed_twice} nights were killed twice"
    );
}

/// A job the interrupted run completed is reported as completed in it, with its group, and not
/// triggered again; `--rerun-all` backs it up again and says why.
#[tokio::test(start_paused = true)]
async fn a_job_the_interrupted_run_completed_is_not_backed_up_again_unless_rerun_all() {
    for rerun_all in [false, true] {
        let world = world();
        let dir = scratch();
        let c = config(&world, dir.path());
        // Job a (40 s) is done and verified after about a minute; b is running.
        let killed = killed_after(&c, &world, "run-1", Duration::from_secs(75), NIGHT).await;
        assert!(killed.is_none(), "run-1 ended by itself");
        let first = row_group_of_first_run(&world, "a");
        let options = RunOptions {
            rerun_all,
            ..options()
        };
        let second = run_at(&c, &world, "run-2", options, NIGHT + 200.0).await;
        let report = jbr::report::text::render(&second);
        assert_eq!(second.exit(), Exit::Ok, "{report}");
        let a = lab::row(&second, &world, "web-01", "a");
        if rerun_all {
            assert_eq!(triggers(&world, "web-01", "a"), 2, "{report}");
            assert!(report.contains("(--rerun-all)"), "{report}");
        } else {
            assert_eq!(triggers(&world, "web-01", "a"), 1, "{report}");
            assert_eq!(
                a.message, "completed (in the interrupted run run-1)",
                "{report}"
            );
            assert_eq!(a.group_id.as_deref(), Some(first.as_str()), "{report}");
            assert!(report.contains("not backed up again tonight"), "{report}");
        }
        assert!(world.final_state().is_clean(), "{report}");
        assert_eq!(world.max_concurrent_writers(), 1);
    }
}

/// The group of job `name` on web-01 the first run triggered (the first on the timeline).
fn row_group_of_first_run(world: &SimWorld, name: &str) -> String {
    let id = world.id("web-01", name);
    world
        .timeline()
        .into_iter()
        .find(|w| w.job_id == id)
        .map(|w| w.group_id)
        .expect("the first run backed it up")
}

/// An interrupted run that started more than `orchestrator.resume_within` ago is another night:
/// its completed jobs are backed up again, and the report says why.
#[tokio::test(start_paused = true)]
async fn an_interrupted_run_older_than_resume_within_is_another_night() {
    let world = world();
    let dir = scratch();
    let mut c = config(&world, dir.path());
    c.orchestrator.resume_within = Duration::from_secs(3600);
    let killed = killed_after(&c, &world, "run-1", Duration::from_secs(75), NIGHT).await;
    assert!(killed.is_none(), "run-1 ended by itself");
    let second = run_at(&c, &world, "run-2", options(), NIGHT + 3601.0).await;
    let report = jbr::report::text::render(&second);
    assert_eq!(second.exit(), Exit::Ok, "{report}");
    assert_eq!(triggers(&world, "web-01", "a"), 2, "{report}");
    assert!(
        report.contains("(that run started more than orchestrator.resume_within ago)"),
        "{report}"
    );
}
