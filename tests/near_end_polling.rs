//! Issue 13, item 2: once a job's end is near (90 % of its usual duration, from the state
//! file's history), jbr polls every `near_end_poll_interval` instead of every `poll_interval`,
//! so the job is seen finished, and disabled, within about that long of its end. Measured on the
//! simulator's timeline and call log, at the production poll interval of 30 s, on tokio's paused
//! clock.

mod support;

use std::time::Duration;

use jbr::orchestrator::near_end::MAX_EXTRA_POLLS;
use jbr::report::state::{JobHistory, State};
use jbr::sim::SimWorld;
use support::lab;
use tokio::sync::watch;

/// One job on web-01 that writes for `secs`.
fn world(secs: f64) -> SimWorld {
    SimWorld::builder()
        .server("web-01", |s| s.destination("nas").job("accounts", secs))
        .build()
}

/// The production waits: a poll every 30 s, every 2 s near the end.
fn config(world: &SimWorld, dir: &std::path::Path) -> jbr::config::Config {
    let mut c = lab::sim_config(dir);
    c.orchestrator.poll_interval = Duration::from_secs(30);
    c.orchestrator.near_end_poll_interval = Duration::from_secs(2);
    c.orchestrator.job_timeout = Duration::from_secs(3600);
    c.servers
        .insert("web-01".into(), lab::sim_server(world, "web-01"));
    c.jobs.push(lab::sim_job(world, "web-01", "accounts"));
    c
}

/// One run of `c` with `state` (which the run updates, as `jbr run` does).
async fn run(world: &SimWorld, c: &jbr::config::Config, state: &mut State, n: u32) {
    let (_tx, cancel) = watch::channel(false);
    let (r, _) = lab::sim_run(world, c, state, &format!("run-{n}"), cancel, true).await;
    assert_eq!(r.exit() as i32, 0);
}

/// For the `n`-th write interval (0-based): seconds from the group's end to jbr's disable of
/// the job, and how many times jbr polled the group.
fn end_to_disable(world: &SimWorld, n: usize) -> (f64, usize) {
    let w = &world.timeline()[n];
    let end = w.end.expect("the job ended");
    let log = world.call_log("web-01");
    let disable = log
        .iter()
        .find(|c| c.at >= end && c.function == "manageBackupJob" && c.params["disabled"] == "1")
        .expect("the job was disabled after its end")
        .at;
    let polls = log
        .iter()
        .filter(|c| c.function == "getQueueGroup" && c.params.get("_id") == Some(&w.group_id))
        .count();
    (disable - end, polls)
}

#[tokio::test(start_paused = true)]
async fn with_a_usual_duration_the_end_is_seen_within_the_near_end_interval() {
    let world = world(290.0);
    let dir = tempfile::tempdir().unwrap();
    let c = config(&world, dir.path());
    let mut state = State::default();

    // Night 1: no history yet, so polls every 30 s; the end is seen up to 30 s late.
    run(&world, &c, &mut state, 1).await;
    let (first_gap, first_polls) = end_to_disable(&world, 0);
    let history = state.job_history("web-01", &world.id("web-01", "accounts"));
    assert_eq!(
        history.expect("night 1 is remembered").durations.len(),
        1,
        "{:?}",
        state.history
    );

    // Night 2: the usual duration is known, and the end is seen within about 2 s.
    run(&world, &c, &mut state, 2).await;
    let (gap, polls) = end_to_disable(&world, 1);
    println!("end → disable: {first_gap:.1} s without history, {gap:.1} s with it");
    println!("polls: {first_polls} without history, {polls} with it");
    assert!(
        first_gap > 5.0,
        "without history the end falls between two 30 s polls: {first_gap}"
    );
    assert!(gap <= 2.5, "seen {gap:.1} s after the end");
    // The sooner polls start at 90 % of 290 s: about 29 s / 2 s of them.
    assert!(
        polls <= first_polls + 16,
        "{polls} polls against {first_polls}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_job_that_overruns_its_usual_duration_gets_at_most_30_extra_polls() {
    let world = world(900.0);
    let dir = tempfile::tempdir().unwrap();
    let c = config(&world, dir.path());
    let mut state = State::default();
    // The history says 100 s: sooner polls start at 90 s and run out long before the end.
    state.history.insert(
        format!("web-01/{}", world.id("web-01", "accounts")),
        JobHistory {
            first_seen: 1.0,
            last_success: Some(2.0),
            durations: vec![100.0],
            ..JobHistory::default()
        },
    );
    run(&world, &c, &mut state, 1).await;
    let (_, polls) = end_to_disable(&world, 0);
    // 900 s at one poll per 30 s is about 31 polls; the extras add at most 30.
    let plain = (900.0_f64 / 30.0).ceil() as usize + 2;
    assert!(
        polls <= plain + MAX_EXTRA_POLLS as usize,
        "{polls} polls, more than {plain} + {MAX_EXTRA_POLLS}"
    );
    assert!(polls > plain, "the extras were used: {polls} polls");
}
