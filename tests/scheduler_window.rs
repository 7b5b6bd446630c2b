//! Issue 13, item 5: the record, the report and `run --json` say, per job and in all, how long
//! each job sat enabled and idle while the NAS destination was enabled (the server's own
//! scheduler's chance to start it), how long the NAS sat idle before it, and how many runs the
//! scheduler slipped in. Checked against the simulator's ground truth (its own exposure clock,
//! its write timeline and its scheduled groups), with calls that take 0.3 s as over SSH, on
//! tokio's paused clock.

mod support;

use std::time::Duration;

use jbr::report::RunRecord;
use jbr::sim::SimWorld;
use support::lab;

const SERVERS: [&str; 3] = ["web-01", "web-02", "web-03"];
const JOBS: [(&str, f64); 2] = [("accounts", 20.3), ("databases", 31.7)];
/// Both clocks start here, so the server's times and jbr's agree.
const BASE: f64 = 1_795_000_000.0;

/// 3 servers × 2 jobs; each call takes `latency`; the scheduler fires a job idle and enabled
/// for `fires_after` seconds (never when `None`).
fn world(latency: f64, fires_after: Option<f64>) -> SimWorld {
    let mut b = SimWorld::builder().at(BASE);
    for s in SERVERS {
        b = b.server(s, |mut srv| {
            srv = srv.destination("nas");
            for (job, secs) in JOBS {
                srv = srv.job(job, secs);
            }
            srv = srv.settings(|st| {
                st.call_latency = latency;
                st.startup_delay = 1.0;
            });
            match fires_after {
                Some(secs) => srv.exposure(secs),
                None => srv,
            }
        });
    }
    b.build()
}

/// Poll every second, as the acceptance run's harness does.
fn config(world: &SimWorld, dir: &std::path::Path) -> jbr::config::Config {
    let mut c = lab::sim_config(dir);
    c.orchestrator.poll_interval = Duration::from_secs(1);
    c.orchestrator.near_end_poll_interval = Duration::from_secs(1);
    c.orchestrator.call_timeout = Duration::from_secs(5);
    c.orchestrator.startup_timeout = Duration::from_secs(10);
    for s in SERVERS {
        c.servers.insert(s.into(), lab::sim_server(world, s));
        for (job, _) in JOBS {
            c.jobs.push(lab::sim_job(world, s, job));
        }
    }
    c
}

async fn night(world: &SimWorld) -> RunRecord {
    let dir = tempfile::tempdir().unwrap();
    let c = config(world, dir.path());
    let (r, _) = lab::fresh_sim_run(world, &c, true).await;
    assert!(
        world.left_enabled().is_empty(),
        "{:?}",
        world.left_enabled()
    );
    assert_eq!(world.max_concurrent_writers(), 1);
    r
}

#[tokio::test(start_paused = true)]
async fn exposure_and_nas_idle_are_what_the_simulator_measured() {
    let world = world(0.3, None);
    let r = night(&world).await;
    assert_eq!(r.exit() as i32, 0);

    // Exposure, per job: the simulator's own clock of "enabled, idle, destination enabled".
    let truth = world.exposure();
    for j in &r.jobs {
        let e = j.exposure.expect("every job jbr enabled has a figure");
        let real = truth[&(j.server.clone(), j.job_id.clone())];
        eprintln!(
            "{} {}: jbr {:.3} truth {real:.3}",
            j.server, j.label, e.total_secs
        );
        // jbr sees the end between two polls a second apart, and the server's end time is in
        // whole seconds: the estimate is within half of that second.
        assert!(
            (e.total_secs - real).abs() <= 0.55,
            "{} {}: jbr says {e:?}, the server's scheduler saw {real:.3} s",
            j.server,
            j.label
        );
        assert!(
            (e.before_trigger_secs + e.after_end_secs - e.total_secs).abs() < 1e-9,
            "{e:?}"
        );
        // The enable and the trigger are back to back: one call apart.
        assert!(
            (e.before_trigger_secs - 0.3).abs() < 0.05,
            "{}: {e:?}",
            j.label
        );
    }

    // NAS idle: the gaps between consecutive writes on the simulator's timeline.
    let timeline = world.timeline();
    assert_eq!(timeline.len(), 6);
    assert_eq!(
        r.jobs[0].nas_idle_before_secs, None,
        "the night's first job"
    );
    for (i, w) in timeline.iter().enumerate().skip(1) {
        let gap = w.start - timeline[i - 1].end.unwrap();
        let row = r
            .jobs
            .iter()
            .find(|j| j.group_id.as_deref() == Some(&w.group_id))
            .unwrap();
        let said = row.nas_idle_before_secs.expect("a job after the first");
        eprintln!("{}: jbr {said:.3} truth {gap:.3}", row.label);
        // Two such estimates: the end before it and its start.
        assert!(
            (said - gap).abs() <= 1.05,
            "{}: jbr says {said:.3} s, the timeline shows {gap:.3} s",
            row.label
        );
    }

    // In all, in the record, the report and the JSON.
    let total: f64 = truth.values().sum();
    assert!(
        (r.window.exposure_secs - total).abs() <= 0.55 * 6.0,
        "{:?}",
        r.window
    );
    assert_eq!(r.window.nas_idle_gaps, 5);
    assert_eq!(r.window.scheduler_runs, 0);
    let text = jbr::report::text::render(&r);
    assert!(text.contains("\nscheduler window ("), "{text}");
    assert!(
        text.contains("before the trigger,") && text.contains("; NAS idle between jobs: mean "),
        "{text}"
    );
    let json: serde_json::Value = serde_json::from_str(&jbr::report::to_json(&r)).unwrap();
    assert!(json["jobs"][1]["exposure"]["total_secs"].as_f64().unwrap() > 0.0);
    assert!(json["jobs"][1]["nas_idle_before_secs"].as_f64().unwrap() > 0.0);
    assert_eq!(json["window"]["scheduler_runs"], 0);
}

#[tokio::test(start_paused = true)]
async fn every_run_the_scheduler_slipped_in_is_counted_for_its_job() {
    // The scheduler fires a job idle for 0.5 s: never between the enable and the trigger (one
    // 0.3 s call), but after an end that a 1 s poll sees late, sometimes.
    let world = world(0.3, Some(0.5));
    let r = night(&world).await;
    let mut seen = 0;
    for j in &r.jobs {
        let scheduled = world.with_server(&j.server, |s| {
            s.groups
                .iter()
                .filter(|g| g.job_id == j.job_id && g.scheduled)
                .count()
        });
        assert_eq!(
            j.scheduler_runs as usize, scheduled,
            "{}: {}",
            j.label, j.message
        );
        seen += scheduled;
    }
    assert!(
        seen > 0,
        "the scheduler never fired: the test shows nothing"
    );
    assert_eq!(r.window.scheduler_runs as usize, seen);
    let text = jbr::report::text::render(&r);
    assert!(text.contains("; the scheduler ran it 1 time(s)"), "{text}");
}
