//! Issue 13, item 3: pre-flight reads every server at once. A server that answers slowly delays
//! its own checks, not the others'; nothing is enabled anywhere before every server's pre-flight
//! is done; and the record is filed in plan order whoever answered first.

mod support;

use std::time::Duration;

use jbr::report::Outcome;
use jbr::sim::{Fault, FaultKind, SimWorld, When};
use support::lab;

/// web-01's first `getDestination` (its pre-flight's) answers after `stall` seconds.
fn world(stall: Option<f64>) -> SimWorld {
    let world = SimWorld::builder()
        .server("web-01", |s| s.destination("nas").job("a", 5.0))
        .server("web-02", |s| s.destination("nas").job("b", 5.0))
        .build();
    if let Some(secs) = stall {
        world.add_fault(
            "web-01",
            Fault::on("getDestination", When::Call(1), FaultKind::Stall(secs)),
        );
    }
    world
}

fn config(world: &SimWorld, dir: &std::path::Path) -> jbr::config::Config {
    let mut c = lab::sim_config(dir);
    c.orchestrator.call_timeout = Duration::from_secs(30);
    for (server, job, priority) in [("web-01", "a", 2), ("web-02", "b", 1)] {
        c.servers
            .insert(server.into(), lab::sim_server(world, server));
        c.jobs.push(jbr::config::Job {
            priority,
            ..lab::sim_job(world, server, job)
        });
    }
    c
}

/// Simulated seconds at which `server` answered its pre-flight's `listQueueGroups` (its last
/// pre-flight call), and at which the first write reached any server.
fn preflight_done_and_first_write(world: &SimWorld, server: &str) -> (f64, f64) {
    let done = world
        .call_log(server)
        .iter()
        .find(|c| c.function == "listQueueGroups")
        .expect("pre-flight's listQueueGroups")
        .at;
    let first_write = ["web-01", "web-02"]
        .iter()
        .flat_map(|s| world.call_log(s))
        .filter(|c| jbr::contract::is_write(&c.function))
        .map(|c| c.at)
        .fold(f64::INFINITY, f64::min);
    (done, first_write)
}

#[tokio::test(start_paused = true)]
async fn a_slow_server_does_not_delay_the_other_servers_preflight() {
    let world = world(Some(20.0));
    let dir = tempfile::tempdir().unwrap();
    let (r, _) = lab::fresh_sim_run(&world, &config(&world, dir.path()), true).await;
    let start = world.call_log("web-01")[0].at;
    let (web02_done, first_write) = preflight_done_and_first_write(&world, "web-02");
    let (web01_done, _) = preflight_done_and_first_write(&world, "web-01");
    assert!(
        web02_done - start < 1.0,
        "web-02's pre-flight waited for web-01's: done {:.1} s in",
        web02_done - start
    );
    assert!(web01_done - start >= 20.0, "the stall held web-01 back");
    assert!(
        first_write >= web01_done,
        "a write ({first_write}) before every pre-flight was done ({web01_done})"
    );
    // Filed in plan order, and both ran.
    let servers: Vec<&str> = r.jobs.iter().map(|j| j.server.as_str()).collect();
    assert_eq!(servers, ["web-01", "web-02"]);
    assert!(r.jobs.iter().all(|j| j.outcome == Outcome::Completed));
    assert_eq!(world.max_concurrent_writers(), 1);
    assert!(world.final_state().is_clean());
}

#[tokio::test(start_paused = true)]
async fn without_a_slow_server_the_run_is_unchanged() {
    let world = world(None);
    let dir = tempfile::tempdir().unwrap();
    let (r, _) = lab::fresh_sim_run(&world, &config(&world, dir.path()), true).await;
    assert!(r.jobs.iter().all(|j| j.outcome == Outcome::Completed));
    assert_eq!(world.max_concurrent_writers(), 1);
    assert!(world.final_state().is_clean());
}
