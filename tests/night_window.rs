//! Issue 12, item 2: the night window (`orchestrator.window_end`, local time). No job starts at
//! or after the first such time after the run's start; a job already running is followed to its
//! end, never cut; the jobs left out are `not started: window closed at …` (exit 1) and start
//! first in the next run (carry-over). With `window_policy: "fit"`, a job whose usual duration
//! would end after the window does not start, and a shorter one after it still may.
//!
//! On tokio's paused clock, with the zone given as a POSIX `TZ` string (Berlin's rules), and
//! checked on the simulator's timeline (when each job really wrote), not on log lines.

mod support;

use std::time::Duration;

use jbr::config::{Config, LocalTime, WindowPolicy};
use jbr::journal::Journal;
use jbr::orchestrator::clock::Clock;
use jbr::orchestrator::context::RunOptions;
use jbr::orchestrator::plan::{self, Selection};
use jbr::orchestrator::progress::Progress;
use jbr::orchestrator::run::{self, Inputs};
use jbr::report::state::{JobHistory, State};
use jbr::report::{Outcome, RunRecord};
use jbr::sim::SimWorld;
use support::lab;
use tokio::sync::watch;

/// Berlin: CET (UTC+1) in winter, CEST (UTC+2) in summer.
const TZ: &str = "CET-1CEST,M3.5.0,M10.5.0/3";

/// 2026-12-02T04:00:00Z, 05:00 in Berlin.
const NIGHT_1: f64 = 1_796_184_000.0;
const DAY: f64 = 86_400.0;
/// 06:00 in Berlin on night 1 (05:00Z).
const CLOSES_1: f64 = NIGHT_1 + 3600.0;

/// web-01: "a" and "b", 2000 s each, and "d", 600 s; web-02: "c", 600 s; a > b > c > d in
/// priority, so web-01 runs a, b, d, then web-02 runs c.
fn world() -> SimWorld {
    SimWorld::builder()
        .server("web-01", |s| {
            s.destination("nas")
                .job("a", 2000.0)
                .job("b", 2000.0)
                .job("d", 600.0)
        })
        .server("web-02", |s| s.destination("nas").job("c", 600.0))
        .build()
}

fn config(world: &SimWorld, dir: &std::path::Path, policy: WindowPolicy) -> Config {
    let mut c = lab::sim_config(dir);
    c.orchestrator.poll_interval = Duration::from_secs(10);
    c.orchestrator.job_timeout = Duration::from_secs(7200);
    c.orchestrator.window_end = LocalTime::parse("06:00");
    c.orchestrator.window_policy = policy;
    for (server, job, priority) in [
        ("web-01", "a", 30),
        ("web-01", "b", 20),
        ("web-02", "c", 10),
        ("web-01", "d", 5),
    ] {
        c.servers
            .entry(server.to_string())
            .or_insert_with(|| lab::sim_server(world, server));
        c.jobs.push(jbr::config::Job {
            priority,
            ..lab::sim_job(world, server, job)
        });
    }
    c
}

/// One run of the whole plan, started at `wall` (Unix seconds) in Berlin, with `state` (which
/// the run updates, as `jbr run` does). Also returns the offset from the simulator's clock to
/// the run's wall clock, to read the timeline in wall time.
async fn run_at(
    world: &SimWorld,
    c: &Config,
    state: &mut State,
    run_id: &str,
    wall: f64,
) -> (RunRecord, f64) {
    let clients = lab::sim_clients(world, c);
    let mut journal = Journal::open(&c.orchestrator.journal_file, run_id).unwrap();
    let (_tx, cancel) = watch::channel(false);
    let p = plan::build(c, &Selection::default()).unwrap();
    let offset = wall - world.now();
    let r = run::run(Inputs {
        config: c,
        plan: &p,
        clients: &clients,
        journal: &mut journal,
        state,
        // The simulator's destinations start disabled, as jbr leaves them.
        options: RunOptions {
            force_activate: true,
            ..RunOptions::default()
        },
        cancel,
        progress: Progress::none(),
        clock: Clock::at(wall),
        zone: jiff::tz::TimeZone::posix(TZ).unwrap(),
    })
    .await;
    println!("{}", jbr::report::text::render(&r));
    (r, offset)
}

/// The wall-clock start of each write interval since `from` (an index into the timeline), by
/// job name.
fn starts(world: &SimWorld, from: usize, offset: f64) -> Vec<(String, f64, Option<f64>)> {
    world.timeline()[from..]
        .iter()
        .map(|w| {
            (
                w.job_name.clone(),
                w.start + offset,
                w.end.map(|e| e + offset),
            )
        })
        .collect()
}

/// Wait out the simulated day between two nights (the sim's clock is tokio's).
async fn next_day(world: &SimWorld, night_start_sim: f64) {
    let wait = night_start_sim + DAY - world.now();
    assert!(wait > 0.0, "the night ran longer than a day");
    tokio::time::sleep(Duration::from_secs_f64(wait)).await;
}

#[tokio::test(start_paused = true)]
async fn nothing_starts_after_the_window_and_what_it_left_out_starts_first_next_night() {
    let world = world();
    let dir = tempfile::tempdir().unwrap();
    let c = config(&world, dir.path(), WindowPolicy::Start);
    let mut state = State::default();

    // Night 1: a 05:00–05:33, b starts 05:34 and runs past 06:00 (followed to its end, not
    // cut); d (web-01's last) and c (web-02) would start after 06:00, so they are left out.
    let sim_start = world.now();
    let (r, offset) = run_at(&world, &c, &mut state, "run-1", NIGHT_1).await;
    let night = r
        .night_window
        .as_ref()
        .expect("the record shows the window");
    assert_eq!(night.closes, CLOSES_1, "06:00 CET is 05:00Z");
    assert_eq!(night.window_end, "06:00");
    let wrote = starts(&world, 0, offset);
    let names: Vec<&str> = wrote.iter().map(|(n, _, _)| n.as_str()).collect();
    assert_eq!(names, ["a", "b"], "{wrote:?}");
    for (name, start, _) in &wrote {
        assert!(
            *start < CLOSES_1,
            "{name} started after the window: {start}"
        );
    }
    let (_, _, b_end) = wrote[1];
    assert!(
        b_end.unwrap() > CLOSES_1,
        "b ran past the close, to its end"
    );
    assert_eq!(
        lab::row(&r, &world, "web-01", "b").outcome,
        Outcome::Completed
    );
    assert!(
        world
            .call_log("web-01")
            .iter()
            .all(|c| c.function != "stopQueueGroup"),
        "a running job is never cut"
    );
    for (server, name) in [("web-01", "d"), ("web-02", "c")] {
        let j = lab::row(&r, &world, server, name);
        assert_eq!(j.outcome, Outcome::NotStarted, "{name}");
        assert!(
            j.message.starts_with("not started: window closed at 06:00"),
            "{}",
            j.message
        );
        assert!(j.left_out_by_window, "{name}");
    }
    assert_eq!(r.exit() as i32, 1, "a job left out is a failed night");
    // web-02's destination was never opened: nothing could run there.
    assert!(
        world
            .call_log("web-02")
            .iter()
            .all(|c| !c.function.starts_with("manageDestination")),
        "{:?}",
        world.call_log("web-02")
    );
    let text = jbr::report::text::render(&r);
    assert!(text.contains("left out, carried over"), "{text}");
    let carried = |state: &State| -> Vec<(String, String)> {
        state
            .carry_over
            .iter()
            .map(|c| (c.job_id.clone(), c.run_id.clone()))
            .collect()
    };
    let (c_id, d_id) = (world.id("web-02", "c"), world.id("web-01", "d"));
    assert_eq!(
        carried(&state),
        [
            (d_id.clone(), "run-1".into()),
            (c_id.clone(), "run-1".into())
        ]
    );

    // Night 2, the same time the next day: d first (web-01 has a carried job, and d goes
    // before web-01's others), then a and b; c, on web-02, is left out again, still carried
    // from run-1.
    next_day(&world, sim_start).await;
    let seen = world.timeline().len();
    let sim_start = world.now();
    let (r, offset) = run_at(&world, &c, &mut state, "run-2", NIGHT_1 + DAY).await;
    let names: Vec<String> = starts(&world, seen, offset)
        .into_iter()
        .map(|(n, _, _)| n)
        .collect();
    assert_eq!(names, ["d", "a", "b"], "d starts first");
    assert_eq!(r.jobs[0].job_id, d_id, "the report lists d first");
    assert_eq!(r.jobs[0].carried_over_from.as_deref(), Some("run-1"));
    assert_eq!(r.jobs[0].outcome, Outcome::Completed);
    let text = jbr::report::text::render(&r);
    assert!(
        text.contains(
            "carried over from run run-1, whose window left them out, so started first: server web-01, job"
        ),
        "{text}"
    );
    assert_eq!(carried(&state), [(c_id.clone(), "run-1".into())]);

    // Night 3: web-02 is the server with a carried job, so c goes first; d is left out.
    next_day(&world, sim_start).await;
    let seen = world.timeline().len();
    let (r, offset) = run_at(&world, &c, &mut state, "run-3", NIGHT_1 + 2.0 * DAY).await;
    let names: Vec<String> = starts(&world, seen, offset)
        .into_iter()
        .map(|(n, _, _)| n)
        .collect();
    assert_eq!(names, ["c", "a", "b"]);
    assert_eq!(
        lab::row(&r, &world, "web-02", "c").outcome,
        Outcome::Completed
    );
    assert_eq!(carried(&state), [(d_id, "run-3".into())]);
}

#[tokio::test(start_paused = true)]
async fn fit_leaves_out_a_job_that_would_end_after_the_window_and_runs_a_shorter_one() {
    let world = world();
    let dir = tempfile::tempdir().unwrap();
    let c = config(&world, dir.path(), WindowPolicy::Fit);
    let mut state = State::default();
    for (server, name, secs) in [
        ("web-01", "a", 2000.0),
        ("web-01", "b", 2000.0),
        ("web-01", "d", 600.0),
        ("web-02", "c", 600.0),
    ] {
        state.history.insert(
            format!("{server}/{}", world.id(server, name)),
            JobHistory {
                first_seen: 1.0,
                last_success: Some(2.0),
                durations: vec![secs],
                ..JobHistory::default()
            },
        );
    }
    // a 05:00–05:33; b at 05:34 would end about 06:07: left out; d and c (10 min each) fit.
    let (r, offset) = run_at(&world, &c, &mut state, "run-1", NIGHT_1).await;
    let wrote = starts(&world, 0, offset);
    let names: Vec<&str> = wrote.iter().map(|(n, _, _)| n.as_str()).collect();
    assert_eq!(names, ["a", "d", "c"], "{wrote:?}");
    for (name, _, end) in &wrote {
        assert!(end.unwrap() <= CLOSES_1, "{name} ended after the window");
    }
    let b = lab::row(&r, &world, "web-01", "b");
    assert_eq!(b.outcome, Outcome::NotStarted);
    assert!(
        b.message.starts_with("not started: would end at 06:"),
        "{}",
        b.message
    );
    assert!(b.message.contains("after the window"), "{}", b.message);
    assert_eq!(r.exit() as i32, 1);
}

#[tokio::test(start_paused = true)]
async fn a_run_started_in_the_day_has_until_the_next_morning() {
    let world = world();
    let dir = tempfile::tempdir().unwrap();
    let c = config(&world, dir.path(), WindowPolicy::Start);
    let mut state = State::default();
    // 10:00 in Berlin: the window closes at 06:00 tomorrow, so everything runs.
    let (r, _) = run_at(&world, &c, &mut state, "run-1", NIGHT_1 + 5.0 * 3600.0).await;
    assert_eq!(r.exit() as i32, 0, "{:?}", r.jobs);
    assert_eq!(r.night_window.as_ref().unwrap().closes, CLOSES_1 + DAY);
    assert!(state.carry_over.is_empty());
}

/// `jbr validate` shows the zone the real binary sees through `TZ` and when a run started now
/// would stop starting jobs: a Pi on the wrong zone shows before a night is cut wrong.
#[test]
fn validate_shows_the_zone_from_tz_and_the_next_close() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let example = root.join("config.example.json");
    // Japan: UTC+9 and no daylight saving, so 07:00 local is always 22:00Z.
    let out = support::bin::jbr()
        .args(["validate", "-c"])
        .arg(&example)
        .env("TZ", "JST-9")
        .run();
    out.expect_success();
    assert!(
        out.stdout.contains(
            "night window: no job starts at or after 07:00 in the local zone, UTC+09 now"
        ),
        "{}",
        out.stdout
    );
    let at = out
        .stdout
        .split("stops starting jobs at ")
        .nth(1)
        .expect("the next close");
    assert!(
        at.starts_with("20") && at[10..].starts_with("T22:00:00Z"),
        "{at}"
    );
    // The same config on UTC closes at 07:00Z.
    let out = support::bin::jbr()
        .args(["validate", "-c"])
        .arg(&example)
        .env("TZ", "UTC0")
        .run();
    assert!(out.stdout.contains("T07:00:00Z"), "{}", out.stdout);
}
