//! `jbr stop` as a user runs it: a real running group on a `jbr-sim` server is aborted and the
//! abort confirmed; bad input never reaches the server.

mod support;

use std::time::Duration;

use serde_json::json;
use support::cli::*;

#[test]
fn a_running_group_is_aborted_and_the_stop_confirmed() {
    let fleet = standard_fleet();
    let group = fleet.start_job("web-01", DEST1, JOB_A);
    let run = fleet.jbr(&["stop", "--server", "web-01", &group]);
    assert_eq!(run.code, Some(0), "{run}");
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{run}");
    assert_eq!(
        lines[0],
        format!(
            "server web-01: queue group {group} (job 6a5e…0001 \"accounts\") was processing (status 2); stop signal sent, waiting up to 3 s for a final status"
        )
    );
    assert!(
        lines[1].starts_with(&format!(
            "server web-01: queue group {group} (job 6a5e…0001 \"accounts\") stopped: aborted (status 103) after "
        )),
        "{run}"
    );
    assert!(run.took < Duration::from_secs(3), "{run}");
    // The server agrees: the group is final, and nothing else was changed.
    let g = fleet.sim_call("web-01", "getQueueGroup", &format!("_id={group}"));
    assert_eq!(g["data"]["status"], 103);
    let calls = fleet.calls("web-01");
    assert_eq!(calls["stopQueueGroup"], 1);
    assert!(calls["getQueueGroup"].as_u64().unwrap() >= 2);
    // The operator's abort is in the log with the runs.
    let log = std::fs::read_to_string(fleet.path("jbr.log")).unwrap();
    assert!(
        log.contains("operator stop: sending stopQueueGroup"),
        "{log}"
    );
    assert!(
        log.contains(&format!(
            "operator stop: confirmed stopped server=web-01 group={group} status=aborted (status 103)"
        )),
        "{log}"
    );
}

#[test]
fn a_group_that_does_not_stop_in_time_exits_1_after_stop_timeout() {
    let world = standard_world().server("web-03", |s| {
        s.destination(DEST1)
            .job(JOB_A, 60.0)
            .startup_delay(0.1)
            .abort_delay(30.0)
    });
    // web-03 is configured (the fleet names every simulated server) but has no configured job.
    let fleet = cli_fleet(world, default_jobs(), json!({}));
    let cfg = std::fs::read_to_string(&fleet.config).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&cfg).unwrap();
    v["orchestrator"]["stop_timeout"] = json!(0.6);
    std::fs::write(&fleet.config, serde_json::to_vec(&v).unwrap()).unwrap();
    let group = fleet.start_job("web-03", DEST1, JOB_A);

    let run = fleet.jbr(&["stop", "--server", "web-03", &group]);
    assert_eq!(run.code, Some(1), "{run}");
    assert!(run.took < Duration::from_secs(5), "{run}");
    assert_eq!(
        run.stderr.lines().last().unwrap(),
        format!(
            "jbr: server web-03: queue group {group} (job 6a5e…0001) still processing (status 2) 0.6 s after the stop signal (stop_timeout); it may stop later: check with `jbr status --server web-03`"
        ),
        "{run}"
    );
}

#[test]
fn a_group_id_outside_the_value_set_is_refused_and_never_sent() {
    let fleet = standard_fleet();
    for bad in ["6a5e;reboot", "a&b=c", "", "x y", "$(id)"] {
        let run = fleet.jbr(&["stop", "--server", "web-01", bad]);
        assert_eq!(run.code, Some(2), "{bad:?}: {run}");
        assert_eq!(run.stdout, "");
        assert_eq!(
            run.stderr,
            format!(
                "jbr: GROUP_ID {bad:?}: not a queue group id (allowed: A-Z a-z 0-9 _ . : -, not empty); nothing sent\n"
            )
        );
    }
    assert!(
        fleet.calls("web-01").is_empty(),
        "a call reached the server"
    );
}

#[test]
fn an_unknown_group_exits_1_and_no_stop_is_sent() {
    let fleet = standard_fleet();
    let run = fleet.jbr(&["stop", "--server", "web-01", "6a5e07000000000000000bad"]);
    assert_eq!(run.code, Some(1), "{run}");
    assert_eq!(
        run.stderr,
        "jbr: server web-01: no queue group 6a5e07000000000000000bad: getQueueGroup: success=0 \"No queue group found with the provided id\"; nothing sent\n"
    );
    assert!(!fleet.calls("web-01").contains_key("stopQueueGroup"));
}

#[test]
fn a_finished_group_is_reported_and_nothing_is_sent() {
    let fleet = standard_fleet();
    let group = fleet.start_job("web-01", DEST1, JOB_A);
    fleet.sim_call("web-01", "stopQueueGroup", &format!("_id={group}"));
    std::thread::sleep(Duration::from_millis(500));
    let run = fleet.jbr(&["stop", "--server", "web-01", &group]);
    assert_eq!(run.code, Some(0), "{run}");
    assert_eq!(
        run.stdout,
        format!(
            "server web-01: queue group {group} (job 6a5e…0001 \"accounts\") already finished: aborted (status 103); nothing sent\n"
        )
    );
    assert_eq!(
        fleet.calls("web-01")["stopQueueGroup"],
        1,
        "only the test's own stop"
    );
}

#[test]
fn unknown_server_and_unreachable_server() {
    let fleet = cli_fleet(standard_world(), default_jobs(), dead_server("web-00"));
    let run = fleet.jbr(&["stop", "--server", "nas", "6a5e07000000000000000001"]);
    assert_eq!(run.code, Some(2), "{run}");
    assert!(
        run.stderr.contains("(known: web-00, web-01, web-02)"),
        "{run}"
    );

    let run = fleet.jbr(&["stop", "--server", "web-00", "6a5e07000000000000000001"]);
    assert_eq!(run.code, Some(1), "{run}");
    assert!(
        run.stderr.starts_with("jbr: server web-00: getQueueGroup: cannot connect: cannot start local_command \"/nonexistent/jbr-sim\""),
        "{run}"
    );
}

#[test]
fn stop_does_not_wait_for_the_run_lock() {
    // A run holds the lock while it follows a stuck job: stop must still get through.
    let fleet = standard_fleet();
    let lock = std::fs::File::create(fleet.path("jbr.lock")).unwrap();
    lock.try_lock().unwrap();
    let group = fleet.start_job("web-01", DEST1, JOB_A);
    let run = fleet.jbr(&["stop", "--server", "web-01", &group]);
    assert_eq!(run.code, Some(0), "{run}");
    // The server agrees, with the lock still held: the group is final, aborted.
    let g = fleet.sim_call("web-01", "getQueueGroup", &format!("_id={group}"));
    assert_eq!(g["data"]["status"], 103, "{g}");
    drop(lock);
    let help = words(&support::bin::jbr().args(["stop", "--help"]).run().stdout);
    assert!(help.contains("Takes no lock"), "{help}");
    assert!(
        help.contains("Exit status: 0 when the group is confirmed stopped"),
        "{help}"
    );
}
