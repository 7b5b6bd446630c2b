//! End to end (issue 13, item 6): the real `jbr run` over real sshd on loopback, `jbr-gate` as
//! the forced command, `jbr-sim` installed as `jetbackup5api`; 3 servers × 2 jobs, a poll every
//! second. Once plain, once with `orchestrator.disable_while_running`.
//!
//!     cargo bench --bench end_to_end
//!
//! It prints wall time, the sum of job time, overhead, the NAS's idle gaps, the scheduler's
//! exposure, calls per job, SSH connections and peak RSS, and the floor measured in the same run:
//! JetBackup's start-up delay + poll/2 + 4 × the median call time (2 × with
//! `disable_while_running`), with each figure's ratio to it. Idle gaps and exposure are the
//! simulator's ground truth (its timeline, its own exposure clock), not jbr's estimate.
//!
//! Needs root and openssh-server, as the SSH tests do. Under `cargo test --all-targets` it runs
//! one server with two short jobs, as a smoke test.

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use jbr::sim::{SimWorld, World};
use jbr::transport::Transport;
use jbr::transport::ssh::{SshOptions, SshTransport};
use serde_json::json;

use support::fleet::Fleet;
use support::sshd::skip_without_sshd;

/// JetBackup's delay from a trigger to the backup's start of writing (the simulator's).
const STARTUP: f64 = 1.0;
const POLL: f64 = 1.0;

fn world(servers: usize, jobs: usize, secs: f64) -> World {
    let mut b = SimWorld::builder();
    for s in 0..servers {
        b = b.server(&format!("web-{:02}", s + 1), |mut srv| {
            srv = srv.destination("nas").startup_delay(STARTUP);
            for j in 0..jobs {
                // Lengths off the poll grid: an end that falls on a poll would hide the half
                // poll that seeing an end costs on average.
                let secs = secs + [0.37, -0.39, 0.13, -0.21][j % 4] * secs.min(1.0);
                srv = srv.job(&format!("job{}", j + 1), secs);
            }
            srv
        });
    }
    b.build_state()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

fn max(v: &[f64]) -> f64 {
    v.iter().copied().fold(0.0, f64::max)
}

/// The median time of one read call through jbr's own transport to the fleet's first server
/// (mux session, gate, `jbr-sim` as the API): the unit the floor is counted in.
fn call_time(fleet: &Fleet, n: usize) -> f64 {
    let (name, sshd) = fleet.sshds().next().expect("a server");
    let job = fleet.world.servers[name].jobs[0].id.clone();
    let server = sshd.server_config(name, Duration::from_secs(10));
    let control = tempfile::tempdir().expect("tempdir");
    let options = SshOptions {
        control_dir: Some(control.path().to_path_buf()),
        call_timeout: Duration::from_secs(30),
        config_file: Some("/dev/null".into()),
        ..SshOptions::default()
    };
    let argv: Vec<String> = [
        "jetbackup5api",
        "-F",
        "getBackupJob",
        "-D",
        &format!("_id={job}"),
        "-O",
        "json",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(async {
        let t = SshTransport::new(&server, &options).expect("transport");
        t.run(&argv).await.expect("first call");
        let mut times = Vec::with_capacity(n);
        for _ in 0..n {
            let s = Instant::now();
            let out = t.run(&argv).await.expect("call");
            times.push(s.elapsed().as_secs_f64());
            assert_eq!(out.status, Some(0));
        }
        t.close().await;
        median(times)
    })
}

/// Peak resident memory of `pid` so far, in KiB (`VmHWM`).
fn peak_rss_kib(pid: i32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

struct Night {
    wall: f64,
    job_time: f64,
    gaps: Vec<f64>,
    exposure: Vec<f64>,
    before_trigger: Vec<f64>,
    calls: f64,
    polls: f64,
    by_function: std::collections::BTreeMap<String, f64>,
    connections: usize,
    rss_kib: u64,
    jobs: usize,
}

fn night(world: &World, disable_while_running: bool) -> Night {
    let fleet = Fleet::over_ssh(world.clone());
    fleet.write_config(|c| {
        let o = &mut c["orchestrator"];
        o["poll_interval"] = json!(POLL);
        o["near_end_poll_interval"] = json!(POLL);
        o["startup_timeout"] = json!(30);
        o["job_timeout"] = json!(300);
        o["call_timeout"] = json!(30);
        o["disable_while_running"] = json!(disable_while_running);
    });
    let accepted = |fleet: &Fleet| -> usize {
        fleet
            .sshds()
            .map(|(_, sshd)| {
                std::fs::read_to_string(&sshd.log_path)
                    .unwrap_or_default()
                    .matches("Accepted publickey")
                    .count()
            })
            .sum()
    };
    // Connections the harness itself made (its readiness checks) are not jbr's.
    let before = accepted(&fleet);
    let started = Instant::now();
    let mut running = fleet
        .cmd()
        .args(["run", "--force-activate", "--json"])
        .bound(Duration::from_secs(600))
        .spawn();
    let mut rss = 0;
    while running.is_running() {
        rss = rss.max(peak_rss_kib(running.pid()).unwrap_or(0));
        std::thread::sleep(Duration::from_millis(50));
    }
    let run = running.wait();
    let wall = started.elapsed().as_secs_f64();
    run.expect_success();
    let record = run.json();
    let dump = fleet.dump();
    fleet.assert_clean();

    let mut writes: Vec<(f64, f64)> = dump["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .map(|w| (w["start"].as_f64().unwrap(), w["end"].as_f64().unwrap()))
        .collect();
    writes.sort_by(|a, b| a.0.total_cmp(&b.0));
    let gaps = writes.windows(2).map(|w| w[1].0 - w[0].1).collect();
    let job_time = writes.iter().map(|(s, e)| e - s).sum();
    let mut exposure = Vec::new();
    let (mut calls, mut polls) = (0.0, 0.0);
    let mut by_function = std::collections::BTreeMap::new();
    for (name, s) in dump["world"]["servers"].as_object().expect("servers") {
        for j in s["jobs"].as_array().expect("jobs") {
            exposure.push(j["exposed_secs"].as_f64().unwrap_or(0.0));
        }
        for (function, n) in fleet.calls_in(&dump, name) {
            let n = n.as_f64().unwrap_or(0.0);
            calls += n;
            *by_function.entry(function.clone()).or_insert(0.0) += n;
            if function == "getQueueGroup" {
                polls += n;
            }
        }
    }
    let before_trigger = record["jobs"]
        .as_array()
        .expect("jobs")
        .iter()
        .filter_map(|j| j["exposure"]["before_trigger_secs"].as_f64())
        .collect();
    let connections = accepted(&fleet) - before;
    Night {
        wall,
        job_time,
        gaps,
        jobs: exposure.len(),
        exposure,
        before_trigger,
        calls,
        polls,
        by_function,
        connections,
        rss_kib: rss,
    }
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    if skip_without_sshd("end_to_end") {
        return;
    }
    let (servers, jobs, secs, samples) = if full {
        (3, 2, 3.0, 40)
    } else {
        (1, 2, 0.5, 5)
    };
    let world = world(servers, jobs, secs);
    let call = {
        let fleet = Fleet::over_ssh(world.clone());
        call_time(&fleet, samples)
    };
    println!(
        "end to end: {servers} server(s) × {jobs} job(s) of {secs} s, poll {POLL} s, real sshd + jbr-gate + jbr-sim; median call {:.3} s",
        call
    );
    println!("{:<44} {:>22} {:>22}", "", "plain", "disable_while_running");
    let plain = night(&world, false);
    let dwr = night(&world, true);
    let floor = |calls: f64| STARTUP + POLL / 2.0 + calls * call;
    let (floor_plain, floor_dwr) = (floor(4.0), floor(2.0));
    let row = |what: &str, a: String, b: String| println!("{what:<44} {a:>22} {b:>22}");
    let ratio = |v: f64, unit: f64| format!("{v:.2} s ({:.2}×)", v / unit);
    row(
        "floor (startup + poll/2 + 4|2 × call)",
        format!("{floor_plain:.2} s"),
        format!("{floor_dwr:.2} s"),
    );
    for (what, f) in [
        ("wall", (|n: &Night| n.wall) as fn(&Night) -> f64),
        ("sum of job time (writing)", |n| n.job_time),
        ("overhead (wall − job time)", |n| n.wall - n.job_time),
    ] {
        row(
            what,
            format!("{:.2} s", f(&plain)),
            format!("{:.2} s", f(&dwr)),
        );
    }
    row(
        "NAS idle gap mean (× floor)",
        ratio(mean(&plain.gaps), floor_plain),
        ratio(mean(&dwr.gaps), floor_dwr),
    );
    row(
        "NAS idle gap max (× floor)",
        ratio(max(&plain.gaps), floor_plain),
        ratio(max(&dwr.gaps), floor_dwr),
    );
    row(
        "exposure per job, mean (× call)",
        ratio(mean(&plain.exposure), call),
        ratio(mean(&dwr.exposure), call),
    );
    row(
        "exposure per job, max (× call)",
        ratio(max(&plain.exposure), call),
        ratio(max(&dwr.exposure), call),
    );
    row(
        "  of it before the trigger, mean (× call)",
        ratio(mean(&plain.before_trigger), call),
        ratio(mean(&dwr.before_trigger), call),
    );
    let per_job = |n: &Night, v: f64| v / n.jobs as f64;
    row(
        "API calls per job (besides polls)",
        format!(
            "{:.1} ({:.1})",
            per_job(&plain, plain.calls),
            per_job(&plain, plain.calls - plain.polls)
        ),
        format!(
            "{:.1} ({:.1})",
            per_job(&dwr, dwr.calls),
            per_job(&dwr, dwr.calls - dwr.polls)
        ),
    );
    for (f, n) in &plain.by_function {
        let other = dwr.by_function.get(f).copied().unwrap_or(0.0);
        row(
            &format!("  {f} per job"),
            format!("{:.1}", per_job(&plain, *n)),
            format!("{:.1}", per_job(&dwr, other)),
        );
    }
    row(
        "SSH connections (servers)",
        format!("{} ({servers})", plain.connections),
        format!("{} ({servers})", dwr.connections),
    );
    row(
        "peak RSS of jbr",
        format!("{:.1} MiB", plain.rss_kib as f64 / 1024.0),
        format!("{:.1} MiB", dwr.rss_kib as f64 / 1024.0),
    );
}
