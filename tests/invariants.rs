//! The orchestrator's invariants, proven on the in-process simulator's timeline, call log and
//! final state (never on log lines), on tokio's paused clock so each scenario takes
//! milliseconds. One section per invariant of issue 5:
//! 1. faults while polling never end a job early (and the one rule for `success: 0`),
//! 2. timeout → abort → confirmed before anything else starts, and a stop that never lands,
//! 3. exit codes 0/1/4,
//! 4. the server's own scheduler never fires a job during a run,
//! 5. a trigger that never starts,
//! 6. the order of calls in one destination window.

mod support;

use jbr::api::ApiError;
use jbr::config::*;
use jbr::exit::Exit;
use jbr::orchestrator::retry::{self, Repeat};
use jbr::report::{JobRecord, Outcome as Rec, RunRecord};
use jbr::sim::{CallRecord, DestStateFn, Fault, FaultKind, Outcome, SimWorld, When, WriteInterval};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;
use support::faults::the;
use support::lab;

/// A job of the plan: server, sim job name, priority (higher runs first), timeout in seconds.
#[derive(Clone, Copy)]
struct J<'a>(&'a str, &'a str, i64, Option<f64>);

fn config(world: &SimWorld, dir: &Path, jobs: &[J<'_>]) -> Config {
    let mut c = Config {
        path: dir.join("config.json"),
        orchestrator: Orchestrator {
            job_timeout: Duration::from_secs(120),
            stop_poll_interval: Duration::from_secs_f64(0.5),
            ..lab::fast_orchestrator(dir)
        },
        ..Config::default()
    };
    for J(server, job, priority, timeout) in jobs {
        c.servers
            .insert(server.to_string(), lab::sim_server(world, server));
        c.jobs.push(Job {
            priority: *priority,
            timeout: timeout.map(Duration::from_secs_f64),
            ..lab::sim_job(world, server, job)
        });
    }
    c
}

/// `server`'s calls in a run of `build()` as it is, with no fault added: where a test looks up
/// the number of the call it wants a fault on (`support::faults`).
async fn clean_calls(
    build: impl Fn() -> SimWorld,
    jobs: &[J<'_>],
    server: &str,
) -> Vec<CallRecord> {
    let clean = build();
    run_jobs(&clean, jobs, true).await;
    clean.call_log(server)
}

/// Runs the plan for `jobs` against `world` (the destination policy forces activation unless
/// `force` is false) and returns the record. Every run must close its journal.
async fn run_jobs(world: &SimWorld, jobs: &[J<'_>], force: bool) -> RunRecord {
    let dir = tempfile::tempdir().unwrap();
    let c = config(world, dir.path(), jobs);
    let (r, _journal) = lab::fresh_sim_run(world, &c, force).await;
    for w in world.timeline() {
        println!(
            "  {} {} {:.2}..{:?} {:?}",
            w.server, w.job_name, w.start, w.end, w.status
        );
    }
    r
}

fn rec<'r>(r: &'r RunRecord, world: &SimWorld, server: &str, job: &str) -> &'r JobRecord {
    let id = world.id(server, job);
    r.jobs
        .iter()
        .find(|j| j.server == server && j.job_id == id)
        .unwrap_or_else(|| panic!("no record for {server}/{job}"))
}

/// The write intervals of one job, in order.
fn intervals(world: &SimWorld, server: &str, job: &str) -> Vec<WriteInterval> {
    world
        .timeline()
        .into_iter()
        .filter(|w| w.server == server && w.job_name == job)
        .collect()
}

fn only_interval(world: &SimWorld, server: &str, job: &str) -> WriteInterval {
    let mut all = intervals(world, server, job);
    assert_eq!(all.len(), 1, "{server}/{job} wrote {} times", all.len());
    all.remove(0)
}

// ---------------------------------------------------------------------------------------------
// 1. Faults while polling a processing job never end it early.

/// `kind` on every `getQueueGroup` (and, for good measure, every `getBackupJob`) while a group
/// is processing: job a (30 s, partial) is still recorded as partial, its interval ends when the
/// sim says (30 s after it started), and b starts only after that.
async fn polling_fault(kind: FaultKind) {
    let world = SimWorld::builder()
        .server("web-01", |s| {
            s.destination("nas")
                .job_with("a", 30.0, |j| j.outcome(Outcome::Partial))
                .job("b", 5.0)
                .fault(Fault::on(
                    "getQueueGroup",
                    When::WhileProcessing,
                    kind.clone(),
                ))
                .fault(Fault::on(
                    "getBackupJob",
                    When::WhileProcessing,
                    kind.clone(),
                ))
        })
        .build();
    let r = run_jobs(
        &world,
        &[J("web-01", "a", 2, None), J("web-01", "b", 1, None)],
        true,
    )
    .await;
    let a = only_interval(&world, "web-01", "a");
    let b = only_interval(&world, "web-01", "b");
    let a_end = a.end.expect("a ended");
    assert!(
        (a_end - a.start - 30.0).abs() < 1e-6,
        "{kind:?}: a ran {} s",
        a_end - a.start
    );
    assert!(
        b.start >= a_end,
        "{kind:?}: b started {} s before a ended",
        a_end - b.start
    );
    let ra = rec(&r, &world, "web-01", "a");
    assert_eq!(ra.outcome, Rec::Partial, "{kind:?}: {}", ra.message);
    assert!(
        ra.duration_secs.unwrap() >= 30.0,
        "{kind:?}: {:?}",
        ra.duration_secs
    );
    assert_eq!(rec(&r, &world, "web-01", "b").outcome, Rec::Completed);
    assert_eq!(world.max_concurrent_writers(), 1);
    assert!(world.final_state().is_clean(), "{:?}", world.final_state());
    assert_eq!(r.exit(), Exit::JobsFailed);
}

#[tokio::test(start_paused = true)]
async fn garbage_while_polling_never_ends_a_job_early() {
    polling_fault(FaultKind::Garbage).await;
}

#[tokio::test(start_paused = true)]
async fn stall_longer_than_call_timeout_while_polling_never_ends_a_job_early() {
    polling_fault(FaultKind::Stall(3.0)).await;
}

#[tokio::test(start_paused = true)]
async fn success_0_while_polling_never_ends_a_job_early() {
    polling_fault(FaultKind::Refuse("Database is busy".into())).await;
}

#[tokio::test(start_paused = true)]
async fn nonzero_exit_while_polling_never_ends_a_job_early() {
    polling_fault(FaultKind::Exit(255)).await;
}

#[tokio::test(start_paused = true)]
async fn disconnect_while_polling_never_ends_a_job_early() {
    polling_fault(FaultKind::Disconnect).await;
}

#[tokio::test(start_paused = true)]
async fn empty_output_while_polling_never_ends_a_job_early() {
    polling_fault(FaultKind::Empty).await;
}

/// The trigger's answer is lost (the call took effect on the server) and the first looks for
/// its queue group fail too: jbr sends the trigger once, still finds the group, follows it to
/// its real end, and only then starts the next job (invariant 3: never lose track of a job).
async fn lost_trigger_answer(kind: FaultKind) {
    let build = || {
        SimWorld::builder()
            .server("web-01", |s| {
                s.destination("nas")
                    .job_with("a", 8.0, |j| j.outcome(Outcome::Partial))
                    .job("b", 2.0)
            })
            .build()
    };
    let jobs = [J("web-01", "a", 2, None), J("web-01", "b", 1, None)];
    let log = clean_calls(build, &jobs, "web-01").await;
    let trigger = the("runBackupJobManually");
    // The first two looks for a's queue group after its trigger fail as well.
    let search = the("listQueueGroups")
        .after(trigger.clone())
        .number_in(&log);
    let world = build();
    world.add_fault(
        "web-01",
        Fault::on(
            "runBackupJobManually",
            When::Call(trigger.number_in(&log)),
            kind.clone(),
        )
        .taking_effect(),
    );
    world.add_fault(
        "web-01",
        Fault::on(
            "listQueueGroups",
            When::Calls(search, search + 1),
            FaultKind::Garbage,
        ),
    );
    let r = run_jobs(&world, &jobs, true).await;
    assert_eq!(
        world.calls("web-01", "runBackupJobManually"),
        2,
        "{kind:?}: a once, b once"
    );
    let a = only_interval(&world, "web-01", "a");
    let b = only_interval(&world, "web-01", "b");
    assert!(b.start >= a.end.unwrap(), "{kind:?}");
    let ra = rec(&r, &world, "web-01", "a");
    assert_eq!(ra.outcome, Rec::Partial, "{kind:?}: {}", ra.message);
    assert_eq!(ra.group_id.as_deref(), Some(a.group_id.as_str()));
    assert_eq!(world.max_concurrent_writers(), 1);
    assert!(world.final_state().is_clean(), "{:?}", world.final_state());
}

#[tokio::test(start_paused = true)]
async fn a_trigger_whose_answer_is_lost_is_still_followed_to_its_end() {
    lost_trigger_answer(FaultKind::Disconnect).await;
    lost_trigger_answer(FaultKind::Garbage).await;
    lost_trigger_answer(FaultKind::Stall(3.0)).await;
}

/// The one rule, in `retry::worth_retrying`: `success: 0` on a read is transient (retried), on
/// a write it is the server's real refusal (not retried: a second write could act twice).
#[test]
fn success_0_rule_read_retried_write_refused() {
    let refused = ApiError::Refused {
        server: "web-01".into(),
        function: "getBackupJob",
        message: "busy".into(),
    };
    assert!(retry::worth_retrying(Repeat::Freely, &refused));
    assert!(!retry::worth_retrying(Repeat::OnlyIfUnanswered, &refused));
}

/// End to end: a `success: 0` on the read-back of the job enable is retried and the run
/// succeeds; a `success: 0` on the enable itself is a refusal, sent once, and the job fails
/// (and is disabled again), while the next job still runs.
#[tokio::test(start_paused = true)]
async fn success_0_on_a_read_is_retried_on_a_write_is_a_refusal() {
    let build = || {
        SimWorld::builder()
            .server("web-01", |s| {
                s.destination("nas").job("a", 5.0).job("b", 5.0)
            })
            .build()
    };
    let jobs = [J("web-01", "a", 2, None), J("web-01", "b", 1, None)];
    let log = clean_calls(build, &jobs, "web-01").await;
    let world = build();
    let (a, b) = (world.id("web-01", "a"), world.id("web-01", "b"));
    let busy = || FaultKind::Refuse("busy".into());
    // Pre-flight's look at job a (a busy server, not a missing job)…
    let look = the("getBackupJob").with("_id", &a).number_in(&log);
    world.add_fault(
        "web-01",
        Fault::on("getBackupJob", When::Call(look), busy()),
    );
    // …and the read-back after enabling the destination, twice…
    let read_back = the("getDestination")
        .after(the("manageDestinationState").with("disabled", "0"))
        .number_in(&log);
    world.add_fault(
        "web-01",
        Fault::on(
            "getDestination",
            When::Calls(read_back, read_back + 1),
            busy(),
        ),
    );
    // …and the enable of b, which is a write.
    let enable_b = the("manageBackupJob")
        .with("_id", &b)
        .with("disabled", "0")
        .number_in(&log);
    world.add_fault(
        "web-01",
        Fault::on(
            "manageBackupJob",
            When::Call(enable_b),
            FaultKind::Refuse("Job is locked".into()),
        ),
    );
    let r = run_jobs(&world, &jobs, true).await;
    assert_eq!(rec(&r, &world, "web-01", "a").outcome, Rec::Completed);
    let rb = rec(&r, &world, "web-01", "b");
    assert_eq!(rb.outcome, Rec::Failed);
    assert!(rb.message.contains("Job is locked"), "{}", rb.message);
    let b_writes: Vec<String> = world
        .call_log("web-01")
        .into_iter()
        .filter(|c| c.function == "manageBackupJob" && c.params["_id"] == b)
        .map(|c| c.params["disabled"].clone())
        .collect();
    assert_eq!(
        b_writes,
        ["0", "1"],
        "the refused enable is sent once, then disabled"
    );
    assert!(intervals(&world, "web-01", "b").is_empty());
    assert!(world.final_state().is_clean(), "{:?}", world.final_state());
}

// ---------------------------------------------------------------------------------------------
// 2. Timeout → abort → confirmed before the next job starts, across servers.

#[tokio::test(start_paused = true)]
async fn timeout_abort_is_confirmed_before_the_next_server_starts() {
    let world = SimWorld::builder()
        .server("web-01", |s| {
            s.destination("nas")
                .job_with("hang", 10.0, |j| j.outcome(Outcome::Hang))
                .abort_delay(2.0)
        })
        .server("web-02", |s| s.destination("nas").job("b", 5.0))
        .build();
    let r = run_jobs(
        &world,
        &[J("web-01", "hang", 2, Some(4.0)), J("web-02", "b", 1, None)],
        true,
    )
    .await;
    let hang = only_interval(&world, "web-01", "hang");
    let end = hang.end.expect("the hang was aborted");
    assert!(hang.status.is_some());
    let b = only_interval(&world, "web-02", "b");
    assert!(
        b.start > end,
        "b started at {} before the abort landed at {end}",
        b.start
    );
    assert_eq!(
        rec(&r, &world, "web-01", "hang").outcome,
        Rec::TimedOutAborted
    );
    assert_eq!(rec(&r, &world, "web-02", "b").outcome, Rec::Completed);
    assert!(r.critical.is_empty());
    assert_eq!(r.exit(), Exit::JobsFailed);
    assert_eq!(world.max_concurrent_writers(), 1);
    assert!(world.final_state().is_clean(), "{:?}", world.final_state());
}

/// The abort never lands (the sim's stop takes effect in ~30 years): nothing else starts on
/// any server, the report is critical and names the group, exit 4. jbr still closes what it
/// opened.
#[tokio::test(start_paused = true)]
async fn a_stop_that_never_lands_starts_nothing_more_anywhere() {
    let world = SimWorld::builder()
        .server("web-01", |s| {
            s.destination("nas")
                .job_with("hang", 10.0, |j| j.outcome(Outcome::Hang))
                .job("a2", 5.0)
                .abort_delay(1e9)
        })
        .server("web-02", |s| s.destination("nas").job("b", 5.0))
        .build();
    let r = run_jobs(
        &world,
        &[
            J("web-01", "hang", 3, Some(3.0)),
            J("web-01", "a2", 2, None),
            J("web-02", "b", 1, None),
        ],
        true,
    )
    .await;
    assert_eq!(world.calls("web-01", "runBackupJobManually"), 1);
    assert_eq!(world.calls("web-02", "runBackupJobManually"), 0);
    assert_eq!(world.calls("web-02", "manageBackupJob"), 0);
    let names: Vec<String> = world.timeline().into_iter().map(|w| w.job_name).collect();
    assert_eq!(names, ["hang"]);
    assert_eq!(
        rec(&r, &world, "web-01", "hang").outcome,
        Rec::TimedOutNotStopped
    );
    assert_eq!(rec(&r, &world, "web-01", "a2").outcome, Rec::NotStarted);
    assert_eq!(rec(&r, &world, "web-02", "b").outcome, Rec::NotStarted);
    assert_eq!(r.exit(), Exit::Critical);
    let group = rec(&r, &world, "web-01", "hang").group_id.clone().unwrap();
    assert_eq!(r.critical.len(), 1, "{:?}", r.critical);
    assert_eq!(r.critical[0].id, group);
    let text = jbr::report::text::render(&r);
    assert!(
        text.contains(&group) && text.contains("would not stop"),
        "{text}"
    );
    // Closed behind it: only the runaway group is left.
    assert!(
        world.left_enabled().is_empty(),
        "{:?}",
        world.left_enabled()
    );
    assert_eq!(world.final_state().running.len(), 1);
}

// ---------------------------------------------------------------------------------------------
// 3. Exit codes 0/1/4.

#[tokio::test(start_paused = true)]
async fn exit_0_when_all_complete_warnings_allowed() {
    let world = SimWorld::builder()
        .server("web-01", |s| {
            s.destination("nas")
                .job("a", 5.0)
                .job_with("w", 5.0, |j| j.outcome(Outcome::Warnings))
        })
        .server("web-02", |s| s.destination("nas").job("b", 5.0))
        .build();
    let r = run_jobs(
        &world,
        &[
            J("web-01", "a", 3, None),
            J("web-01", "w", 2, None),
            J("web-02", "b", 1, None),
        ],
        true,
    )
    .await;
    assert_eq!(r.exit(), Exit::Ok);
    assert_eq!(r.exit() as i32, 0);
    assert!(world.final_state().is_clean());
}

#[tokio::test(start_paused = true)]
async fn exit_1_for_failed_partial_timed_out_or_skipped() {
    async fn one(outcome: Outcome, timeout: Option<f64>, want: Rec) {
        let world = SimWorld::builder()
            .server("web-01", |s| {
                s.destination("nas")
                    .job_with("a", 5.0, |j| j.outcome(outcome))
                    .job("ok", 5.0)
            })
            .build();
        let r = run_jobs(
            &world,
            &[J("web-01", "a", 2, timeout), J("web-01", "ok", 1, None)],
            true,
        )
        .await;
        assert_eq!(rec(&r, &world, "web-01", "a").outcome, want);
        assert_eq!(rec(&r, &world, "web-01", "ok").outcome, Rec::Completed);
        assert_eq!(r.exit() as i32, 1, "{want:?}");
        assert!(world.final_state().is_clean());
    }
    one(Outcome::Failed, None, Rec::Failed).await;
    one(Outcome::Partial, None, Rec::Partial).await;
    one(Outcome::Hang, Some(3.0), Rec::TimedOutAborted).await;

    // Skipped: the destination is disabled and jbr did not disable it (no --force-activate).
    let world = SimWorld::builder()
        .server("web-01", |s| s.destination("nas").job("a", 5.0))
        .server("web-02", |s| s.destination_enabled("nas").job("b", 5.0))
        .build();
    let r = run_jobs(
        &world,
        &[J("web-01", "a", 2, None), J("web-02", "b", 1, None)],
        false,
    )
    .await;
    assert_eq!(rec(&r, &world, "web-01", "a").outcome, Rec::Skipped);
    assert_eq!(rec(&r, &world, "web-02", "b").outcome, Rec::Completed);
    assert!(intervals(&world, "web-01", "a").is_empty());
    assert_eq!(r.exit() as i32, 1);
}

/// A job disable the server refuses: exit 4, and the report names exactly that job, on that
/// server, as left enabled — which is exactly what the simulator says is left.
#[tokio::test(start_paused = true)]
async fn exit_4_names_a_job_left_enabled() {
    let build = || {
        SimWorld::builder()
            .server("web-01", |s| s.destination("nas").job("a", 5.0))
            .server("web-02", |s| s.destination("nas").job("b", 5.0))
            .build()
    };
    let jobs = [J("web-01", "a", 2, None), J("web-02", "b", 1, None)];
    let log = clean_calls(build, &jobs, "web-01").await;
    let world = build();
    // The enable works; the disable, and every later try of it, is refused.
    let disable = the("manageBackupJob").with("disabled", "1").number_in(&log);
    world.add_fault(
        "web-01",
        Fault::on(
            "manageBackupJob",
            When::Calls(disable, 1000),
            FaultKind::Refuse("Job is locked".into()),
        ),
    );
    let r = run_jobs(&world, &jobs, true).await;
    let a = world.id("web-01", "a");
    assert_eq!(
        world.left_enabled(),
        [format!("web-01: job a ({a}) enabled")]
    );
    assert_eq!(r.exit() as i32, 4);
    assert_eq!(r.critical.len(), 1, "{:?}", r.critical);
    let c = &r.critical[0];
    assert_eq!(
        (c.server.as_str(), c.what.as_str(), c.id.as_str()),
        ("web-01", "job", a.as_str())
    );
    let text = jbr::report::text::render(&r);
    assert!(
        text.contains(&format!("job {a} is ENABLED")) && text.contains("web-01"),
        "{text}"
    );
    assert!(!text.contains("web-02: job"), "{text}");
}

/// A destination disable that answers OK but reads back enabled (`manageDestinationState`
/// ignored), and whose fallback is refused: exit 4, the report names that destination.
#[tokio::test(start_paused = true)]
async fn exit_4_names_a_destination_that_reads_back_enabled() {
    let build = || {
        SimWorld::builder()
            .server("web-01", |s| {
                s.destination("nas")
                    .job("a", 5.0)
                    .destination_state_fn(DestStateFn::Ignored)
            })
            .build()
    };
    let jobs = [J("web-01", "a", 1, None)];
    let log = clean_calls(build, &jobs, "web-01").await;
    let world = build();
    // The enable fallback works; the disable fallback, and every later try of it, is refused.
    let disable = the("manageDestination")
        .with("disabled", "1")
        .number_in(&log);
    world.add_fault(
        "web-01",
        Fault::on(
            "manageDestination",
            When::Calls(disable, 1000),
            FaultKind::Refuse("Destination is busy".into()),
        ),
    );
    let r = run_jobs(&world, &jobs, true).await;
    let d = world.id("web-01", "nas");
    assert_eq!(rec(&r, &world, "web-01", "a").outcome, Rec::Completed);
    assert_eq!(
        world.left_enabled(),
        [format!("web-01: destination nas ({d}) enabled")]
    );
    assert_eq!(r.exit() as i32, 4);
    assert_eq!(r.critical.len(), 1, "{:?}", r.critical);
    assert_eq!(r.critical[0].what, "destination");
    assert_eq!(r.critical[0].id, d);
    let text = jbr::report::text::render(&r);
    assert!(
        text.contains(&format!("destination {d} is ENABLED")),
        "{text}"
    );
    assert!(text.contains("still shows disabled=0"), "{text}");
}

// ---------------------------------------------------------------------------------------------
// 4. The server's own scheduler never gets to fire a job during a run.

/// Groups started by the servers' own schedulers: (server, job id, created, ended).
fn scheduled_groups(world: &SimWorld) -> Vec<(String, String, f64, Option<f64>)> {
    world.with_world(|w| {
        w.servers
            .iter()
            .flat_map(|(name, s)| {
                s.groups
                    .iter()
                    .filter(|g| g.scheduled)
                    .map(move |g| (name.clone(), g.job_id.clone(), g.created, g.ended))
            })
            .collect()
    })
}

fn exposure_world(exposure: f64) -> SimWorld {
    SimWorld::builder()
        .server("web-01", |s| {
            s.destination("nas")
                .job("a", 10.0)
                .job("b", 7.3)
                .job_with("c", 3.1, |j| j.outcome(Outcome::Failed))
                .exposure(exposure)
                .startup_delay(1.7)
        })
        .server("web-02", |s| {
            s.destination("nas")
                .job("d", 4.2)
                .job("e", 0.6)
                .exposure(exposure)
        })
        .server("web-03", |s| {
            s.destination("nas")
                .job("f", 12.9)
                .job_with("g", 2.2, |j| j.outcome(Outcome::Hang))
                .exposure(exposure)
        })
        .build()
}

const EXPOSURE_JOBS: [J<'static>; 7] = [
    J("web-01", "a", 9, None),
    J("web-01", "b", 8, None),
    J("web-01", "c", 7, None),
    J("web-02", "d", 6, None),
    J("web-02", "e", 5, None),
    J("web-03", "f", 4, None),
    J("web-03", "g", 3, Some(5.0)),
];

/// Exposure 0.7 s: longer than jbr's enable → trigger gap (no wait in between) and than the
/// poll interval (0.5 s) that separates a run's end from its disable. Three servers, seven
/// jobs, a slow startup on one: the schedulers never fire, every job wrote exactly once.
#[tokio::test(start_paused = true)]
async fn the_servers_scheduler_never_fires_during_a_run() {
    let world = exposure_world(0.7);
    let r = run_jobs(&world, &EXPOSURE_JOBS, true).await;
    assert_eq!(scheduled_groups(&world), vec![]);
    for J(server, job, _, _) in EXPOSURE_JOBS {
        only_interval(&world, server, job);
    }
    assert_eq!(world.max_concurrent_writers(), 1);
    assert!(world.final_state().is_clean(), "{:?}", world.final_state());
    assert_eq!(r.exit() as i32, 1);
}

/// Exposure 0.3 s, shorter than the poll interval: the scheduler can queue a job again between
/// the end of jbr's run and its disable (jbr cannot see the end sooner than its next poll).
/// Such a run must still never overlap another writer: jbr follows it to its end before the
/// next trigger anywhere, and the scheduler never fires outside a job's own window.
/// (Before the fix, b started while a's scheduled rerun was writing: two NAS writers.)
#[tokio::test(start_paused = true)]
async fn a_run_the_scheduler_slips_in_is_followed_before_anything_else_starts() {
    let world = exposure_world(0.3);
    let r = run_jobs(&world, &EXPOSURE_JOBS, true).await;
    let fired = scheduled_groups(&world);
    assert!(!fired.is_empty(), "the scenario must make a scheduler fire");
    for (server, job, created, ended) in &fired {
        let log = world.call_log(server);
        let at = |disabled: &str| {
            log.iter()
                .filter(|c| {
                    c.function == "manageBackupJob"
                        && c.params["_id"] == *job
                        && c.params["disabled"] == disabled
                })
                .map(|c| c.at)
                .collect::<Vec<_>>()
        };
        let (on, off) = (at("0"), at("1"));
        assert!(
            on[0] <= *created && *created <= off[0],
            "{server}/{job} fired outside its window"
        );
        let ended = ended.expect("the scheduled run ended");
        let later_triggers = world
            .with_world(|w| w.servers.keys().cloned().collect::<Vec<_>>())
            .into_iter()
            .flat_map(|s| world.call_log(&s))
            .filter(|c| c.function == "runBackupJobManually" && c.at > *created);
        for t in later_triggers {
            assert!(
                t.at >= ended,
                "{} triggered at {} before {job}'s rerun ended at {ended}",
                t.params["_id"],
                t.at
            );
        }
    }
    for J(server, job, _, _) in EXPOSURE_JOBS {
        assert!(!intervals(&world, server, job).is_empty());
    }
    let notes: Vec<&String> = r.servers.iter().flat_map(|s| &s.notes).collect();
    assert!(
        notes
            .iter()
            .any(|n| n.contains("scheduler queued it again")),
        "{notes:?}"
    );
    assert_eq!(world.max_concurrent_writers(), 1);
    assert!(world.final_state().is_clean(), "{:?}", world.final_state());
}

// ---------------------------------------------------------------------------------------------
// 5. A trigger that never starts.

/// Job a is disabled behind jbr's back between its read-back and the trigger: the trigger
/// answers, no group appears. Reported "not started" after startup_timeout (2 s), never waited
/// on longer, disabled again; b and the other server's c still run.
#[tokio::test(start_paused = true)]
async fn a_trigger_that_never_starts_is_reported_and_the_next_job_runs() {
    let world = SimWorld::builder()
        .server("web-01", |s| {
            s.destination("nas")
                .job("a", 5.0)
                .job("b", 5.0)
                .fault(Fault::on(
                    "runBackupJobManually",
                    When::Call(1),
                    FaultKind::JobDisabledFirst,
                ))
        })
        .server("web-02", |s| s.destination("nas").job("c", 5.0))
        .build();
    let t0 = tokio::time::Instant::now();
    let r = run_jobs(
        &world,
        &[
            J("web-01", "a", 3, None),
            J("web-01", "b", 2, None),
            J("web-02", "c", 1, None),
        ],
        true,
    )
    .await;
    let a = rec(&r, &world, "web-01", "a");
    assert_eq!(a.outcome, Rec::NotStarted);
    assert!(
        a.message
            .contains("no queue group appeared within startup_timeout 2 s"),
        "{}",
        a.message
    );
    assert!(intervals(&world, "web-01", "a").is_empty());
    // The trigger of a, then b's trigger no later than startup_timeout + a few calls after it.
    let log = world.call_log("web-01");
    let triggers: Vec<f64> = log
        .iter()
        .filter(|c| c.function == "runBackupJobManually")
        .map(|c| c.at)
        .collect();
    assert_eq!(triggers.len(), 2);
    let gap = triggers[1] - triggers[0];
    assert!((2.0..4.0).contains(&gap), "b triggered {gap} s after a");
    assert_eq!(rec(&r, &world, "web-01", "b").outcome, Rec::Completed);
    assert_eq!(rec(&r, &world, "web-02", "c").outcome, Rec::Completed);
    assert!(world.final_state().is_clean(), "{:?}", world.final_state());
    assert_eq!(r.exit() as i32, 1);
    assert!(t0.elapsed() < Duration::from_secs(60), "{:?}", t0.elapsed());
}

// ---------------------------------------------------------------------------------------------
// 6. The order of events in one destination window.

/// The server's changes and their read-backs, in order, as short tokens: `dest on`, `dest?`,
/// `a on`, `a?`, `run a`, `stop`, `a off`, `dest off`. Polls and verification reads are left
/// out, except a `getBackupJob` / `getDestination` right after a change (its read-back).
fn window_tokens(world: &SimWorld, server: &str) -> Vec<String> {
    let names: BTreeMap<String, String> = world.with_server(server, |s| {
        s.jobs
            .iter()
            .map(|j| (j.id.clone(), j.name.clone()))
            .collect()
    });
    let name = |id: &str| names.get(id).cloned().unwrap_or_else(|| id.to_string());
    let mut out: Vec<String> = Vec::new();
    let mut after_change = false;
    for c in world.call_log(server) {
        let p = |k: &str| c.params.get(k).cloned().unwrap_or_default();
        let onoff = |p: String| if p == "1" { "off" } else { "on" };
        let tok = match c.function.as_str() {
            "manageDestinationState" | "manageDestination" => {
                Some(format!("dest {}", onoff(p("disabled"))))
            }
            "manageBackupJob" => Some(format!("{} {}", name(&p("_id")), onoff(p("disabled")))),
            "runBackupJobManually" => Some(format!("run {}", name(&p("_id")))),
            "stopQueueGroup" => Some("stop".to_string()),
            "getDestination" if after_change => Some("dest?".to_string()),
            "getBackupJob" if after_change => Some(format!("{}?", name(&p("_id")))),
            _ => None,
        };
        // The enable is read back after the trigger (nothing between enable and trigger).
        after_change = matches!(
            c.function.as_str(),
            "manageDestinationState"
                | "manageDestination"
                | "manageBackupJob"
                | "runBackupJobManually"
        );
        out.extend(tok);
    }
    out
}

fn toks(s: &str) -> Vec<String> {
    s.split(',').map(|t| t.trim().to_string()).collect()
}

#[tokio::test(start_paused = true)]
async fn each_window_runs_in_order_and_the_destination_is_disabled_last() {
    let world = SimWorld::builder()
        .server("web-01", |s| {
            s.destination("nas")
                .job("a", 5.0)
                .job_with("b", 5.0, |j| j.outcome(Outcome::Failed))
                .job_with("c", 5.0, |j| j.outcome(Outcome::Hang))
        })
        .server("web-02", |s| {
            s.destination("nas")
                .job_with("d", 5.0, |j| j.outcome(Outcome::Hang))
        })
        .build();
    let r = run_jobs(
        &world,
        &[
            J("web-01", "a", 9, None),
            J("web-01", "b", 8, None),
            J("web-01", "c", 7, Some(3.0)),
            J("web-02", "d", 1, Some(3.0)),
        ],
        true,
    )
    .await;
    assert_eq!(
        window_tokens(&world, "web-01"),
        toks(
            "dest on, dest?, a on, run a, a off, a?, b on, run b, b off, b?, \
             c on, run c, stop, c off, c?, dest off, dest?"
        )
    );
    assert_eq!(
        window_tokens(&world, "web-02"),
        toks("dest on, dest?, d on, run d, stop, d off, d?, dest off, dest?")
    );
    // And nothing of web-02's window overlaps web-01's.
    let last_01 = world.call_log("web-01").last().unwrap().at;
    let first_change_02 = world
        .call_log("web-02")
        .into_iter()
        .find(|c| c.function.starts_with("manage"))
        .unwrap()
        .at;
    assert!(first_change_02 >= last_01);
    assert_eq!(r.exit() as i32, 1);
    assert!(world.final_state().is_clean());
}

/// A job that fails to enable (refused) still gets its disable and the window still closes
/// last; a job that never starts too.
#[tokio::test(start_paused = true)]
async fn the_window_closes_last_on_failure_paths() {
    let world = SimWorld::builder()
        .server("web-01", |s| {
            s.destination("nas")
                .job("a", 5.0)
                .job("b", 5.0)
                .job("c", 5.0)
                .fault(Fault::on(
                    "manageBackupJob",
                    When::Call(1),
                    FaultKind::Refuse("Job is locked".into()),
                ))
                .fault(Fault::on(
                    "runBackupJobManually",
                    When::Call(1),
                    FaultKind::JobDisabledFirst,
                ))
        })
        .build();
    let r = run_jobs(
        &world,
        &[
            J("web-01", "a", 9, None),
            J("web-01", "b", 8, None),
            J("web-01", "c", 7, None),
        ],
        true,
    )
    .await;
    assert_eq!(
        window_tokens(&world, "web-01"),
        toks(
            "dest on, dest?, a on, a off, a?, b on, run b, b?, b off, b?, \
             c on, run c, c off, c?, dest off, dest?"
        )
    );
    assert_eq!(rec(&r, &world, "web-01", "a").outcome, Rec::Failed);
    assert_eq!(rec(&r, &world, "web-01", "b").outcome, Rec::NotStarted);
    assert_eq!(rec(&r, &world, "web-01", "c").outcome, Rec::Completed);
    assert!(world.final_state().is_clean());
}

/// The enable's read-back is the trigger's own answer (the job object, read after the enable)
/// when that answer states `disabled`; otherwise a `getBackupJob` right after the trigger. Both
/// ways a job someone disabled just before the trigger is reported as shown disabled, and a
/// server that leaves a false flag out (`null`) gets its read-back call.
#[tokio::test(start_paused = true)]
async fn the_enable_is_read_back_from_the_triggers_answer_when_it_says() {
    use jbr::sim::{DisabledTriggerReply, FlagStyle};
    let cases = [
        (
            DisabledTriggerReply::JobObject,
            FlagStyle::Mixed,
            "a on, run a, a off, a?",
            "the server showed the job disabled after its enable",
        ),
        (
            DisabledTriggerReply::Empty,
            FlagStyle::Mixed,
            "a on, run a, a?, a off, a?",
            "was not queued (a disabled job answers like this)",
        ),
    ];
    for (reply, flags, tokens, words) in cases {
        let world = SimWorld::builder()
            .server("web-01", |s| {
                s.destination("nas")
                    .job("a", 5.0)
                    .flags(flags)
                    .settings(|st| st.disabled_trigger_reply = reply)
                    .fault(Fault::on(
                        "runBackupJobManually",
                        When::Call(1),
                        FaultKind::JobDisabledFirst,
                    ))
            })
            .build();
        let r = run_jobs(&world, &[J("web-01", "a", 9, None)], true).await;
        let mut window = window_tokens(&world, "web-01");
        window.retain(|t| !t.starts_with("dest"));
        assert_eq!(window, toks(tokens), "{reply:?}");
        let a = rec(&r, &world, "web-01", "a");
        assert_eq!(a.outcome, Rec::NotStarted, "{reply:?}");
        assert!(a.message.contains(words), "{reply:?}: {}", a.message);
        assert!(world.final_state().is_clean());
    }
    // A job that runs: an answer that states the flag is the read-back; one with `null` for
    // a false flag says nothing, and the job is read back by itself.
    for (flags, tokens) in [
        (FlagStyle::Int, "a on, run a, a off, a?"),
        (FlagStyle::NullMissing, "a on, run a, a?, a off, a?"),
    ] {
        let world = SimWorld::builder()
            .server("web-01", |s| {
                s.destination("nas").job("a", 5.0).flags(flags)
            })
            .build();
        let r = run_jobs(&world, &[J("web-01", "a", 9, None)], true).await;
        let mut window = window_tokens(&world, "web-01");
        window.retain(|t| !t.starts_with("dest"));
        assert_eq!(window, toks(tokens), "{flags:?}");
        assert_eq!(rec(&r, &world, "web-01", "a").outcome, Rec::Completed);
        assert!(world.final_state().is_clean());
    }
}
