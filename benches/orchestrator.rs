//! What the orchestrator costs per job, beyond the backup itself: API calls, simulated seconds
//! (the time a server's NAS window stays open while no job writes), and CPU time. The real `jbr
//! run` (`commands::run::execute`) on `jbr demo`'s simulated servers, in-process, on tokio's
//! paused clock with production settings (poll_interval 30 s).
//!
//!     cargo bench --bench orchestrator   # 3×2 (21 runs), 50×10 (3 runs), 10×5 (5 runs): medians
//!
//! Under `cargo test --all-targets` (no `--bench` flag) it runs 3×2 once, as a smoke test.
//!
//! Overhead per job = jbr's time for the job (trigger to "ended" seen, read from the run record)
//! minus the job's processing interval on the simulator's timeline. Expected: the server's
//! startup delay (8 s) plus on average half a poll interval (jbr sees the end at the next poll).
//! CPU time is this thread's (`CLOCK_THREAD_CPUTIME_ID`; the runtime is single-threaded), so
//! other processes on the machine do not inflate it.

use std::collections::BTreeMap;
use std::time::Duration;

use jbr::api::Client;
use jbr::commands::demo::{DemoArgs, scenario};
use jbr::commands::run::{RunArgs, execute};
use jbr::exit::Exit;
use jbr::orchestrator::progress::Progress;
use jbr::report::state;
use jbr::transport::simulated::SimTransport;

const POLL_INTERVAL: f64 = 30.0;
use jbr::commands::demo::STARTUP_DELAY;

/// One run's figures.
struct Run {
    jobs: usize,
    calls: BTreeMap<&'static str, u64>,
    /// Per job: jbr's time for it minus its processing time, simulated seconds.
    overhead: Vec<f64>,
    /// Whole run: simulated seconds, and simulated seconds some job was processing.
    simulated: f64,
    processing: f64,
    cpu: Duration,
    wall: Duration,
}

fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime only writes the timespec we own; the clock id is a constant the
    // kernel supports since 2.6.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Calls per function so far, all servers.
fn call_counts(world: &jbr::sim::SimWorld, servers: &[String]) -> BTreeMap<&'static str, u64> {
    let mut calls = BTreeMap::new();
    for server in servers {
        for f in jbr::sim::functions() {
            let n = world.calls(server, f);
            if n > 0 {
                *calls.entry(f).or_insert(0) += n;
            }
        }
    }
    calls
}

/// One measured night. With `learned`, a first night runs unmeasured, so that the state file
/// knows each job's usual duration (and jbr polls sooner near each end), as on every night
/// after the first in production.
fn run_once(servers: usize, jobs: usize, learned: bool) -> Run {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let sc = scenario(
            DemoArgs {
                servers,
                jobs,
                faults: false,
            },
            dir.path(),
        );
        assert_eq!(
            sc.config.orchestrator.poll_interval.as_secs_f64(),
            POLL_INTERVAL
        );
        state::save(&sc.config.orchestrator.state_file, &sc.state).unwrap();
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
        let (_tx, cancel) = tokio::sync::watch::channel(false);
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let names: Vec<String> = sc.config.servers.keys().cloned().collect();
        if learned {
            let args = RunArgs::default();
            let exit = execute(
                &sc.config,
                &args,
                &clients,
                cancel.clone(),
                Progress::none(),
                &mut out,
                &mut err,
            )
            .await;
            assert_eq!(exit, Exit::Ok, "{}", String::from_utf8_lossy(&out));
            out.clear();
        }
        let calls_before = call_counts(&sc.world, &names);
        let intervals_before = sc.world.timeline().len();

        let (cpu0, wall0, sim0) = (
            thread_cpu(),
            std::time::Instant::now(),
            tokio::time::Instant::now(),
        );
        let exit = execute(
            &sc.config,
            &RunArgs::default(),
            &clients,
            cancel,
            Progress::none(),
            &mut out,
            &mut err,
        )
        .await;
        let (cpu, wall, simulated) = (
            thread_cpu() - cpu0,
            wall0.elapsed(),
            sim0.elapsed().as_secs_f64(),
        );
        assert_eq!(exit, Exit::Ok, "{}", String::from_utf8_lossy(&out));
        assert_eq!(sc.world.max_concurrent_writers(), 1);
        assert!(sc.world.final_state().is_clean());

        let record = state::load(&sc.config.orchestrator.state_file)
            .unwrap()
            .last_run
            .expect("the run saved its record");
        let timeline = sc.world.timeline().split_off(intervals_before);
        let processing_of = |group: &str| {
            timeline
                .iter()
                .find(|w| w.group_id == group)
                .and_then(|w| Some(w.end? - w.start))
        };
        let overhead: Vec<f64> = record
            .jobs
            .iter()
            .map(|j| {
                let group = j.group_id.as_deref().expect("every job ran");
                j.duration_secs.expect("every job ended")
                    - processing_of(group).expect("its processing interval")
            })
            .collect();
        let processing = timeline.iter().filter_map(|w| Some(w.end? - w.start)).sum();

        let mut calls = call_counts(&sc.world, &names);
        for (f, n) in calls.iter_mut() {
            *n -= calls_before.get(f).copied().unwrap_or(0);
        }
        calls.retain(|_, n| *n > 0);
        Run {
            jobs: servers * jobs,
            calls,
            overhead,
            simulated,
            processing,
            cpu,
            wall,
        }
    })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

struct Summary {
    name: String,
    /// Calls per function, whole run.
    calls: BTreeMap<&'static str, u64>,
    servers: usize,
    jobs: usize,
    /// Calls other than polls, in total.
    other: f64,
    /// Polls per hour of processing (one per poll interval when jbr polls as configured).
    polls_per_hour: f64,
    calls_per_job: f64,
    polls_per_job: f64,
    other_per_job: f64,
    overhead_median: f64,
    overhead_mean: f64,
    idle_window_per_job: f64,
    cpu_per_job_ms: f64,
    wall_s: f64,
    simulated_h: f64,
}

fn measure(servers: usize, jobs: usize, repeats: usize, learned: bool) -> Summary {
    let runs: Vec<Run> = (0..repeats)
        .map(|_| run_once(servers, jobs, learned))
        .collect();
    // The simulation is deterministic: calls and simulated times are the same in every run;
    // only CPU and wall time vary.
    let first = &runs[0];
    let n = first.jobs as f64;
    let total: u64 = first.calls.values().sum();
    let polls = first.calls.get("getQueueGroup").copied().unwrap_or(0);
    Summary {
        name: format!("{servers}×{jobs}{}", if learned { "+" } else { "" }),
        calls: first.calls.clone(),
        servers,
        jobs: first.jobs,
        other: (total - polls) as f64,
        polls_per_hour: polls as f64 / (first.processing / 3600.0),
        calls_per_job: total as f64 / n,
        polls_per_job: polls as f64 / n,
        other_per_job: (total - polls) as f64 / n,
        overhead_median: median(first.overhead.clone()),
        overhead_mean: first.overhead.iter().sum::<f64>() / n,
        idle_window_per_job: (first.simulated - first.processing) / n,
        cpu_per_job_ms: median(
            runs.iter()
                .map(|r| r.cpu.as_secs_f64() * 1000.0 / n)
                .collect(),
        ),
        wall_s: median(runs.iter().map(|r| r.wall.as_secs_f64()).collect()),
        simulated_h: first.simulated / 3600.0,
    }
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    // `+`: a night after the first, when the state file knows each job's usual duration.
    let sizes: &[(usize, usize, usize, bool)] = if bench {
        &[
            (3, 2, 21, false),
            (50, 10, 3, false),
            (10, 5, 5, false),
            (3, 2, 21, true),
            (10, 5, 5, true),
        ]
    } else {
        &[(3, 2, 1, false), (3, 2, 1, true)]
    };
    let results: Vec<Summary> = sizes
        .iter()
        .map(|&(s, j, r, learned)| measure(s, j, r, learned))
        .collect();

    println!(
        "orchestrator benchmark: `jbr run` on the in-process simulator, paused clock, poll_interval {POLL_INTERVAL} s{}",
        if bench { "" } else { " (smoke run)" }
    );
    println!(
        "{:<7} {:>5} {:>10} {:>10} {:>10} {:>15} {:>13} {:>12} {:>11} {:>9} {:>10}",
        "size",
        "jobs",
        "calls/job",
        "polls/job",
        "other/job",
        "overhead/job",
        "(mean)",
        "idle win/job",
        "CPU/job",
        "wall",
        "simulated"
    );
    for r in &results {
        println!(
            "{:<7} {:>5} {:>10.1} {:>10.1} {:>10.2} {:>13.1} s {:>11.1} s {:>10.1} s {:>8.2} ms {:>7.2} s {:>8.1} h",
            r.name,
            r.jobs,
            r.calls_per_job,
            r.polls_per_job,
            r.other_per_job,
            r.overhead_median,
            r.overhead_mean,
            r.idle_window_per_job,
            r.cpu_per_job_ms,
            r.wall_s,
            r.simulated_h
        );
    }
    for r in &results {
        let per: Vec<String> = r.calls.iter().map(|(f, n)| format!("{f} {n}")).collect();
        println!("calls at {}: {}", r.name, per.join(", "));
    }
    let base = &results[0];
    println!(
        "baseline: one poll interval = {POLL_INTERVAL} s; overhead/job (median) {:.2}× the poll interval (target ≤ 1× + a few calls)",
        base.overhead_median / POLL_INTERVAL
    );
    println!(
        "  (of the overhead, {STARTUP_DELAY} s is the simulated server's own startup delay; jbr then sees the end at its next poll)"
    );
    for r in results.iter().filter(|r| r.name.ends_with('+')) {
        println!(
            "{}: a night after the first: end seen {:.1} s after it (median; overhead minus the startup delay), target ≤ 3 s at poll {POLL_INTERVAL} s",
            r.name,
            r.overhead_median - STARTUP_DELAY
        );
    }
    if let [base, big, mid, ..] = &results[..]
        && bench
    {
        // Calls other than polls = a·servers + b·jobs, fitted on the smallest and the largest
        // size; the middle size checks the fit (linear growth predicts it exactly).
        let det = (base.servers * big.jobs) as f64 - (big.servers * base.jobs) as f64;
        let a = (base.other * big.jobs as f64 - big.other * base.jobs as f64) / det;
        let b = (big.other * base.servers as f64 - base.other * big.servers as f64) / det;
        let predicted = a * mid.servers as f64 + b * mid.jobs as f64;
        println!(
            "calls other than polls = {a:.2} per server + {b:.2} per job (fitted on {} and {}); predicts {predicted:.0} for {}, measured {:.0}",
            base.name, big.name, mid.name, mid.other
        );
        println!(
            "polls per hour of processing: {:.1} ({}), {:.1} ({}), {:.1} ({}); one per {POLL_INTERVAL} s = 120",
            base.polls_per_hour,
            base.name,
            big.polls_per_hour,
            big.name,
            mid.polls_per_hour,
            mid.name
        );
        println!(
            "growth {} vs {}: {:.0}× the jobs, CPU per job {:.2}× (1.0 = total CPU linear in jobs)",
            big.name,
            base.name,
            big.jobs as f64 / base.jobs as f64,
            big.cpu_per_job_ms / base.cpu_per_job_ms
        );
    }
}
