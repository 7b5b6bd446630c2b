//! Issue 13, item 4: `orchestrator.disable_while_running` disables each job again as soon as its
//! backup is seen writing, so the server's own scheduler can start it only between the enable and
//! the trigger. JetBackup's docs do not say whether a disabled job's running backup finishes, so
//! both behaviours are simulated: where it finishes, the job is backed up once and its exposure
//! is the enable → trigger span alone; where the server aborts it, jbr runs the job again with it
//! enabled throughout, stops using the option on that server (state file) and raises an alert.
//! Checked on the simulator's timeline, call log and groups, on tokio's paused clock.

mod support;

use std::time::Duration;

use jbr::report::state::State;
use jbr::report::{Outcome, RunRecord};
use jbr::sim::{DisabledRun, Fault, FaultKind, SimWorld, When};
use support::lab;
use tokio::sync::watch;

const JOBS: [(&str, f64); 2] = [("accounts", 20.3), ("databases", 11.7)];
const BASE: f64 = 1_795_000_000.0;

/// `servers`, each with the two jobs, calls of 0.3 s, and what a disable does to a running
/// backup there.
fn world(servers: &[(&str, DisabledRun)]) -> SimWorld {
    let mut b = SimWorld::builder().at(BASE);
    for (name, behaviour) in servers {
        let behaviour = *behaviour;
        b = b.server(name, |mut srv| {
            srv = srv.destination("nas");
            for (job, secs) in JOBS {
                srv = srv.job(job, secs);
            }
            srv.settings(|st| {
                st.call_latency = 0.3;
                st.startup_delay = 1.0;
                st.abort_delay = 1.0;
                st.disabled_run = behaviour;
            })
        });
    }
    b.build()
}

fn config(world: &SimWorld, servers: &[&str], dir: &std::path::Path) -> jbr::config::Config {
    let mut c = lab::sim_config(dir);
    c.orchestrator.poll_interval = Duration::from_secs(1);
    c.orchestrator.near_end_poll_interval = Duration::from_secs(1);
    c.orchestrator.call_timeout = Duration::from_secs(5);
    c.orchestrator.startup_timeout = Duration::from_secs(10);
    c.orchestrator.stop_timeout = Duration::from_secs(10);
    c.orchestrator.disable_while_running = true;
    for s in servers {
        c.servers.insert(s.to_string(), lab::sim_server(world, s));
        for (job, _) in JOBS {
            c.jobs.push(lab::sim_job(world, s, job));
        }
    }
    c
}

async fn night(world: &SimWorld, c: &jbr::config::Config, state: &mut State, n: u32) -> RunRecord {
    let (_tx, cancel) = watch::channel(false);
    let (r, _) = lab::sim_run(world, c, state, &format!("run-{n}"), cancel, true).await;
    assert!(
        world.left_enabled().is_empty(),
        "{:?}",
        world.left_enabled()
    );
    assert_eq!(world.max_concurrent_writers(), 1, "one writer");
    r
}

/// Each of `job`'s groups on `server`: (status code, scheduled).
fn groups(world: &SimWorld, server: &str, job: &str) -> Vec<i64> {
    let id = world.id(server, job);
    world.with_server(server, |s| {
        s.groups
            .iter()
            .filter(|g| g.job_id == id)
            .map(|g| g.status.unwrap_or(0))
            .collect()
    })
}

/// Disables of `job` on `server` sent while one of its backups was writing.
fn disables_while_writing(world: &SimWorld, server: &str, job: &str) -> usize {
    let id = world.id(server, job);
    let writes: Vec<(f64, f64)> = world
        .timeline()
        .into_iter()
        .filter(|w| w.server == server && w.job_id == id)
        .map(|w| (w.start, w.end.unwrap_or(f64::INFINITY)))
        .collect();
    world
        .call_log(server)
        .iter()
        .filter(|c| {
            c.function == "manageBackupJob"
                && c.params.get("_id") == Some(&id)
                && c.params.get("disabled").map(String::as_str) == Some("1")
        })
        .filter(|c| writes.iter().any(|(s, e)| c.at > *s && c.at < *e))
        .count()
}

#[tokio::test(start_paused = true)]
async fn where_a_disabled_job_runs_on_each_job_is_backed_up_once_and_exposed_only_before_its_trigger()
 {
    let world = world(&[("web-01", DisabledRun::Finishes)]);
    let dir = tempfile::tempdir().unwrap();
    let c = config(&world, &["web-01"], dir.path());
    let mut state = State::default();
    let r = night(&world, &c, &mut state, 1).await;
    assert_eq!(r.exit() as i32, 0);
    let truth = world.exposure();
    for (job, _) in JOBS {
        assert_eq!(
            groups(&world, "web-01", job),
            vec![100],
            "{job}: one backup"
        );
        assert_eq!(disables_while_writing(&world, "web-01", job), 1, "{job}");
        let row = r.jobs.iter().find(|j| j.label == job).unwrap();
        assert_eq!(row.outcome, Outcome::Completed);
        let e = row.exposure.unwrap();
        assert_eq!(e.after_end_secs, 0.0, "{job}: {e:?}");
        // Two call times at most: the enable and the trigger.
        assert!(e.total_secs <= 2.0 * 0.3 + 0.01, "{job}: {e:?}");
        let real = truth[&("web-01".to_string(), world.id("web-01", job))];
        assert!(
            (e.total_secs - real).abs() < 0.05,
            "{job}: jbr {e:?}, simulator {real}"
        );
    }
    assert!(state.no_disable_while_running.is_empty());
    assert!(r.alerts.is_empty(), "{:?}", r.alerts);
}

#[tokio::test(start_paused = true)]
async fn where_the_server_aborts_it_the_job_runs_again_enabled_and_the_option_is_off_there_for_good()
 {
    let servers = [
        ("web-01", DisabledRun::Aborts),
        ("web-02", DisabledRun::Finishes),
    ];
    let world = world(&servers);
    let dir = tempfile::tempdir().unwrap();
    let c = config(&world, &["web-01", "web-02"], dir.path());
    let mut state = State::default();
    let r = night(&world, &c, &mut state, 1).await;
    let text = jbr::report::text::render(&r);
    assert_eq!(r.exit() as i32, 0, "every job is backed up in the end");

    // web-01's first job: aborted by the disable, then run again, enabled throughout.
    assert_eq!(groups(&world, "web-01", "accounts"), vec![103, 100]);
    assert_eq!(disables_while_writing(&world, "web-01", "accounts"), 1);
    let row = r
        .jobs
        .iter()
        .find(|j| j.server == "web-01" && j.label == "accounts")
        .unwrap();
    assert_eq!(row.outcome, Outcome::Completed, "{text}");
    assert!(
        row.message
            .contains("does not let a disabled job's backup finish")
            && row
                .message
                .contains("run again with the job enabled throughout"),
        "{text}"
    );
    assert!(row.exposure.unwrap().after_end_secs > 0.0, "{text}");
    // Its second job no longer gets the option.
    assert_eq!(groups(&world, "web-01", "databases"), vec![100]);
    assert_eq!(disables_while_writing(&world, "web-01", "databases"), 0);
    assert!(state.no_disable_while_running.contains_key("web-01"));
    let alert = r
        .alerts
        .iter()
        .find(|a| a.server.as_deref() == Some("web-01"))
        .expect("an alert names the server");
    assert!(
        alert.message.contains("off for this server from now on"),
        "{text}"
    );
    assert!(
        text.contains("! server web-01 does not let a disabled job's backup finish"),
        "{text}"
    );

    // The fallback is per server: web-02 keeps the option.
    for (job, _) in JOBS {
        assert_eq!(groups(&world, "web-02", job), vec![100]);
        assert_eq!(disables_while_writing(&world, "web-02", job), 1, "{job}");
    }
    assert!(!state.no_disable_while_running.contains_key("web-02"));

    // A later night remembers it (the state file), and runs web-01 plainly.
    let r = night(&world, &c, &mut state, 2).await;
    assert_eq!(r.exit() as i32, 0);
    // (Counted over both nights: only night 1's disable of the aborted run.)
    assert_eq!(disables_while_writing(&world, "web-01", "accounts"), 1);
    assert_eq!(disables_while_writing(&world, "web-01", "databases"), 0);
    assert_eq!(groups(&world, "web-01", "accounts"), vec![103, 100, 100]);
    assert_eq!(groups(&world, "web-01", "databases"), vec![100, 100]);
    assert!(r.alerts.is_empty(), "{:?}", r.alerts);
}

/// Soak seed 31590: the safety net's second run of a job got no queue group (its trigger was
/// refused), and SIGTERM came before the next job. The reason to stop then replaced that job's
/// row message, so the report no longer said why the job had been triggered twice. A job that
/// was tried keeps its own words.
#[tokio::test(start_paused = true)]
async fn a_sigterm_after_the_second_run_keeps_the_reason_for_it_in_the_report() {
    let world = world(&[("web-01", DisabledRun::Aborts)]);
    world.add_fault(
        "web-01",
        Fault::on(
            "runBackupJobManually",
            When::Call(2),
            FaultKind::Refuse("busy".into()),
        ),
    );
    let dir = tempfile::tempdir().unwrap();
    let c = config(&world, &["web-01"], dir.path());
    let mut state = State::default();
    let (tx, cancel) = watch::channel(false);
    let accounts = world.id("web-01", "accounts");
    let watcher = {
        let world = world.clone();
        tokio::spawn(async move {
            // SIGTERM once the job is disabled after its second trigger (bounded: 10 simulated
            // minutes).
            for _ in 0..6000 {
                let log = world.call_log("web-01");
                let of_job = |c: &&jbr::sim::CallRecord| c.params.get("_id") == Some(&accounts);
                let second = log
                    .iter()
                    .filter(of_job)
                    .filter(|c| c.function == "runBackupJobManually")
                    .nth(1)
                    .map(|c| c.at);
                let disabled_after = second.is_some_and(|at| {
                    log.iter().filter(of_job).any(|c| {
                        c.at >= at
                            && c.function == "manageBackupJob"
                            && c.params.get("disabled").map(String::as_str) == Some("1")
                    })
                });
                if disabled_after {
                    let _ = tx.send(true);
                    return true;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            false
        })
    };
    let (r, _) = lab::sim_run(&world, &c, &mut state, "run-1", cancel, true).await;
    assert!(watcher.await.unwrap(), "the second run never ended");
    assert!(
        world.left_enabled().is_empty(),
        "{:?}",
        world.left_enabled()
    );
    assert_eq!(world.max_concurrent_writers(), 1);
    let text = jbr::report::text::render(&r);
    let row = r.jobs.iter().find(|j| j.label == "accounts").unwrap();
    assert_eq!(row.outcome, Outcome::NotStarted, "{text}");
    assert!(
        row.message.contains("no queue group appeared")
            && row
                .message
                .contains("run again with the job enabled throughout"),
        "{text}"
    );
    let next = r.jobs.iter().find(|j| j.label == "databases").unwrap();
    assert_eq!(next.outcome, Outcome::NotStarted);
    assert!(next.message.starts_with("not started: "), "{text}");
    assert!(r.cancelled);
}
