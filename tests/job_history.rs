//! Issue 11, item 5: what a job's history shows on the nights after it, from real runs on the
//! simulator (in process, tokio's paused clock, the production poll interval of 30 s): the
//! report's `(usual …)`, the record's `usual_duration_secs`, the state file's ring of runs, and
//! the live line's ETA, rendered as `jbr demo` piped and a log read show it.

mod support;

use std::time::Duration;

use jbr::commands::progress_line::ProgressLine;
use jbr::journal::Journal;
use jbr::orchestrator::context::RunOptions;
use jbr::orchestrator::progress::Progress;
use jbr::report::state::State;
use jbr::report::time::duration;
use jbr::report::{Outcome, RunRecord};
use jbr::sim::SimWorld;
use support::lab;
use tokio::sync::watch;

/// One job on web-01 that writes for 25 minutes: 50 polls, so two `still processing` lines.
fn world() -> SimWorld {
    SimWorld::builder()
        .server("web-01", |s| s.destination("nas").job("accounts", 1500.0))
        .build()
}

fn config(world: &SimWorld, dir: &std::path::Path) -> jbr::config::Config {
    let mut c = lab::sim_config(dir);
    c.orchestrator.poll_interval = Duration::from_secs(30);
    c.orchestrator.job_timeout = Duration::from_secs(3600);
    c.servers
        .insert("web-01".into(), lab::sim_server(world, "web-01"));
    c.jobs.push(lab::sim_job(world, "web-01", "accounts"));
    c
}

/// One night: its record, its report, and its progress as plain lines.
async fn night(
    world: &SimWorld,
    c: &jbr::config::Config,
    state: &mut State,
    n: u32,
) -> (RunRecord, String, String) {
    let clients = lab::sim_clients(world, c);
    let mut journal = Journal::open(&c.orchestrator.journal_file, &format!("run-{n}")).unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let (_keep, cancel) = watch::channel(false);
    let options = RunOptions {
        force_activate: true,
        ..RunOptions::default()
    };
    let r = lab::run_all(
        c,
        &clients,
        &mut journal,
        state,
        options,
        cancel,
        Progress::new(tx),
    )
    .await;
    let mut line = ProgressLine::new(Vec::new(), false);
    for j in &c.jobs {
        line.label(&j.server, &j.job_id, &j.label);
    }
    while let Ok(e) = rx.try_recv() {
        line.event(&e);
    }
    let lines = String::from_utf8(line.into_inner()).unwrap();
    let report = jbr::report::text::render(&r);
    println!("{report}\n{lines}");
    assert_eq!(r.jobs[0].outcome, Outcome::Completed, "{report}");
    (r, report, lines)
}

/// The report's row of the job.
fn row(report: &str) -> &str {
    report
        .lines()
        .find(|l| l.trim_start().starts_with("web-01"))
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn the_second_night_shows_the_usual_duration_and_an_eta() {
    let world = world();
    let dir = tempfile::tempdir().unwrap();
    let c = config(&world, dir.path());
    let mut state = State::default();

    let (first, report, lines) = night(&world, &c, &mut state, 1).await;
    assert_eq!(first.jobs[0].usual_duration_secs, None);
    assert!(!row(&report).contains("usual"), "{report}");
    assert!(!lines.contains("ETA"), "{lines}");
    let d1 = first.jobs[0].duration_secs.unwrap();

    let (second, report, lines) = night(&world, &c, &mut state, 2).await;
    assert_eq!(second.jobs[0].usual_duration_secs, Some(d1));
    let d2 = second.jobs[0].duration_secs.unwrap();
    assert!(
        row(&report).contains(&format!(" {} (usual {}) ", duration(d2), duration(d1))),
        "{report}"
    );
    // The ETA is the usual duration less the time so far: 25 min at the start, 15 min once
    // 10 minutes have passed.
    let usual = duration(d1.ceil());
    let processing: Vec<&str> = lines.lines().filter(|l| l.contains("processing")).collect();
    assert!(
        processing[0].ends_with(&format!("(usual {usual})")),
        "{lines}"
    );
    let still = processing
        .iter()
        .find(|l| l.contains("still processing  10m"))
        .unwrap_or_else(|| panic!("no still line at 10 min: {lines}"));
    assert!(still.contains("  ETA 1"), "{lines}");
    // The outcome line is a fact: no estimate.
    let done = lines.lines().find(|l| l.contains("completed")).unwrap();
    assert!(!done.contains("ETA") && !done.contains("usual"), "{lines}");

    // The state file's ring has both nights, oldest first.
    let h = state
        .job_history("web-01", &world.id("web-01", "accounts"))
        .unwrap();
    let runs: Vec<_> = h
        .runs
        .iter()
        .map(|r| (r.outcome, r.duration_secs))
        .collect();
    assert_eq!(
        runs,
        [
            (Outcome::Completed, Some(d1)),
            (Outcome::Completed, Some(d2))
        ]
    );
    assert_eq!(h.runs[1].start, second.jobs[0].start);
    assert_eq!(h.runs[1].nas_written_bytes, None);
}

/// Issue 11, item 5, the wart: every 20 polls of an unchanged state is one `still …` line; the
/// poll after it used to print the state again, two lines every 10 minutes instead of one.
#[tokio::test(start_paused = true)]
async fn a_still_line_is_the_only_line_of_its_ten_minutes() {
    let world = world();
    let dir = tempfile::tempdir().unwrap();
    let c = config(&world, dir.path());
    let (_, _, lines) = night(&world, &c, &mut State::default(), 1).await;
    let states: Vec<&str> = lines
        .lines()
        .filter(|l| l.contains("processing"))
        .map(|l| l.split("  ").nth(2).unwrap())
        .collect();
    assert_eq!(
        states,
        ["processing", "still processing", "still processing"],
        "{lines}"
    );
}
