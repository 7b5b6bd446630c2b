//! After a crash, the night goes on (issue 13, item 7), with the real binaries: `jbr run`
//! against `jbr-sim` processes, three jobs, the servers' schedulers firing any job that sits
//! enabled and idle, SIGKILLed at seeded moments up to twice, then run to its end. Counted on
//! the simulator's groups, not in the report: jbr triggers each job at most once in the night,
//! one writer at a time, nothing left enabled.

mod support;

use std::time::Duration;

use jbr::sim::{SimWorld, World};
use serde_json::Value;
use support::fleet::Fleet;
use support::rng::Rng;

fn world() -> World {
    SimWorld::builder()
        .server("web-01", |s| {
            s.destination("nas")
                .exposure(0.5)
                .job("accounts", 1.5)
                .job("databases", 1.0)
        })
        .server("web-02", |s| {
            s.destination("nas").exposure(0.5).job("accounts", 1.0)
        })
        .build_state()
}

/// Per job id: how many of its groups jbr triggered, and how many the scheduler started.
fn groups_by_job(dump: &Value) -> Vec<(String, usize, usize)> {
    let mut out = Vec::new();
    let servers = dump["world"]["servers"].as_object().expect("servers");
    for s in servers.values() {
        for j in s["jobs"].as_array().expect("jobs") {
            let id = j["id"].as_str().expect("job id").to_string();
            let groups: Vec<&Value> = s["groups"]
                .as_array()
                .expect("groups")
                .iter()
                .filter(|g| g["job_id"] == id.as_str())
                .collect();
            let scheduled = groups.iter().filter(|g| g["scheduled"] == true).count();
            out.push((id, groups.len() - scheduled, scheduled));
        }
    }
    out
}

#[test]
fn killed_up_to_twice_each_job_is_triggered_once_in_the_night() {
    let mut rng = Rng(0x6b11_2026);
    let mut killed_twice = 0;
    for night in 0..4 {
        let fleet = Fleet::local(world());
        fleet.write_config(|c| {
            c["orchestrator"]["poll_interval"] = serde_json::json!(0.2);
        });
        let kills = 1 + rng.below(2);
        let mut ended = None;
        for k in 0..kills {
            let running = fleet.spawn_jbr(&["run", "--force-activate"]);
            let after = Duration::from_millis(300 + rng.below(3500) as u64);
            std::thread::sleep(after);
            let mut running = running;
            if !running.is_running() {
                ended = Some(running.wait());
                break;
            }
            running.signal(libc::SIGKILL);
            let out = running.wait();
            assert_eq!(out.code, None, "night {night}: killed by a signal");
            killed_twice += usize::from(k == 1);
            // Down for a while: a job the kill left enabled is fair game for the scheduler.
            std::thread::sleep(Duration::from_millis(300 + rng.below(1500) as u64));
        }
        let last = match ended {
            Some(r) => r,
            None => fleet.jbr(&["run", "--force-activate"]),
        };
        let at = format!("night {night} ({kills} kill(s))");
        assert_eq!(
            last.code,
            Some(0),
            "{at}:\n{}\n{}",
            last.stdout,
            last.stderr
        );
        fleet.assert_clean();
        let dump = fleet.dump();
        for (job, triggered, scheduled) in groups_by_job(&dump) {
            assert!(
                triggered <= 1,
                "{at}: job {job} triggered {triggered} times (and {scheduled} scheduler runs):\n{}",
                last.stdout
            );
        }
        // The night's end is a completed row for each job.
        assert!(
            last.stdout
                .lines()
                .next()
                .is_some_and(|l| l.ends_with(": 3 job(s): 3 completed")),
            "{at}:\n{}",
            last.stdout
        );
    }
    assert!(killed_twice >= 1, "no night was killed twice");
}
