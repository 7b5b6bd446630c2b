//! `jbr run` end to end over real SSH: the real `jbr` binary against real sshd's on loopback,
//! each fronting `jbr-sim` (as `jetbackup5api`) through `server/jbr-gate`, all servers sharing
//! one simulator state so its timeline spans the fleet. What is asserted is what an operator
//! sees (exit code, report) and what the simulator saw (one NAS writer at a time, nothing left
//! enabled or running, one SSH login per server).
//!
//! Skipped with a printed reason when not root or without sshd, except under
//! `JBR_REQUIRE_SSHD=1` (scripts/test), where that is a failure.

mod support;

use std::time::Duration;

use jbr::sim::{SimWorld, World};

use support::fleet::{Finished, Fleet};
use support::sshd::skip_without_sshd;

fn three_servers() -> World {
    SimWorld::builder()
        .server("web-01", |s| {
            s.destination("nas")
                .job("accounts", 1.0)
                .job("databases", 0.5)
        })
        .server("web-02", |s| s.destination("nas").job("accounts", 0.8))
        .server("web-03", |s| s.destination("nas").job("directories", 0.5))
        .build_state()
}

/// The state file's outcome of each job, as `server/label: outcome`.
fn outcomes(fleet: &Fleet) -> Vec<String> {
    let state = jbr::report::state::load(&fleet.path("last-run.json")).expect("state file");
    state
        .last_run
        .expect("a last run")
        .jobs
        .iter()
        .map(|j| format!("{}/{}: {}", j.server, j.label, j.outcome.as_str()))
        .collect()
}

fn assert_clean(fleet: &Fleet, run: &Finished) {
    let d = fleet.dump();
    assert!(
        d["max_concurrent_writers"].as_u64().expect("a number") <= 1,
        "two writers at once:\n{d:#}\n{}",
        run.shown()
    );
    assert_eq!(d["final_state"]["enabled"], serde_json::json!([]), "{d:#}");
    assert_eq!(d["final_state"]["running"], serde_json::json!([]), "{d:#}");
}

/// The report's table row of `server`'s job `label`.
fn row<'a>(run: &'a Finished, server: &str, label: &str) -> &'a str {
    let quoted = format!("\"{label}\"");
    run.stdout
        .lines()
        .find(|l| l.trim_start().starts_with(server) && l.contains(&quoted))
        .unwrap_or_else(|| panic!("no report row for {server} {label}:\n{}", run.shown()))
}

#[test]
fn run_over_three_sshd_servers_one_writer_at_a_time_one_connection_each() {
    if skip_without_sshd("run_over_three_sshd_servers_one_writer_at_a_time_one_connection_each") {
        return;
    }
    let fleet = Fleet::start(three_servers());
    let config = fleet.write_config(|_| {});
    // Destinations are disabled at rest and there is no state file yet, so a first run needs
    // --force-activate (contract: destination.skip_if_disabled).
    let run = fleet.run_jbr(&config, &["run", "--force-activate"]);
    assert_eq!(run.code(), Some(0), "{}", run.shown());
    let first = run.stdout.lines().next().unwrap_or("");
    assert!(
        first.ends_with(": 4 job(s): 4 completed"),
        "{}",
        run.shown()
    );
    assert!(run.stdout.ends_with("\nexit 0\n"), "{}", run.shown());
    for (server, label) in [
        ("web-01", "accounts"),
        ("web-01", "databases"),
        ("web-02", "accounts"),
        ("web-03", "directories"),
    ] {
        let row = row(&run, server, label);
        assert!(row.contains(" completed "), "{row}\n{}", run.shown());
        assert!(row.contains("100 completed"), "{row}");
    }
    assert_eq!(
        outcomes(&fleet),
        [
            "web-01/accounts: completed",
            "web-01/databases: completed",
            "web-02/accounts: completed",
            "web-03/directories: completed"
        ]
    );

    // The simulator's own account: each job wrote exactly once, to its end, one at a time.
    let d = fleet.dump();
    assert_eq!(d["max_concurrent_writers"], 1, "{d:#}");
    for (server, label) in [
        ("web-01", "accounts"),
        ("web-01", "databases"),
        ("web-02", "accounts"),
        ("web-03", "directories"),
    ] {
        let w = fleet.intervals_of(&d, &fleet.job_id(server, label));
        assert_eq!(w.len(), 1, "{server}/{label}: {w:#?}");
        assert!(
            w[0]["end"].is_number(),
            "{server}/{label} still writing: {w:#?}"
        );
        assert_eq!(w[0]["status"], 100, "{server}/{label}: {w:#?}");
    }
    assert_clean(&fleet, &run);

    // One SSH connection per server for the whole run: pre-flight, window and teardown all
    // went over the same master.
    for (name, sshd) in &fleet.servers {
        assert_eq!(sshd.logins(), 1, "logins on {name}\n{}", sshd.log());
    }
}
