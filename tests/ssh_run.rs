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

use jbr::sim::{Fault, FaultKind, SimWorld, When, World};

use support::bin::{Run, Running};
use support::fleet::Fleet;
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

fn assert_clean(fleet: &Fleet, run: &Run) {
    let d = fleet.dump();
    assert!(
        d["max_concurrent_writers"].as_u64().expect("a number") <= 1,
        "two writers at once:\n{d:#}\n{}",
        run
    );
    assert_eq!(d["final_state"]["enabled"], serde_json::json!([]), "{d:#}");
    assert_eq!(d["final_state"]["running"], serde_json::json!([]), "{d:#}");
}

/// Exit 0, and both servers' `accounts` job completed in the report.
fn assert_both_completed(run: &Run) {
    assert_eq!(run.code, Some(0), "{}", run);
    for server in ["web-01", "web-02"] {
        assert!(
            row(run, server, "accounts").contains(" completed "),
            "{}",
            run
        );
    }
}

/// The report's table row of `server`'s job `label`.
fn row<'a>(run: &'a Run, server: &str, label: &str) -> &'a str {
    let quoted = format!("\"{label}\"");
    run.stdout
        .lines()
        .find(|l| l.trim_start().starts_with(server) && l.contains(&quoted))
        .unwrap_or_else(|| panic!("no report row for {server} {label}:\n{}", run))
}

#[test]
fn run_over_three_sshd_servers_one_writer_at_a_time_one_connection_each() {
    if skip_without_sshd("run_over_three_sshd_servers_one_writer_at_a_time_one_connection_each") {
        return;
    }
    let fleet = Fleet::over_ssh(three_servers());
    // Destinations are disabled at rest and there is no state file yet, so a first run needs
    // --force-activate (contract: destination.skip_if_disabled).
    let run = fleet.jbr(&["run", "--force-activate"]);
    assert_eq!(run.code, Some(0), "{}", run);
    let first = run.stdout.lines().next().unwrap_or("");
    assert!(first.ends_with(": 4 job(s): 4 completed"), "{}", run);
    assert!(run.stdout.ends_with("\nexit 0\n"), "{}", run);
    for (server, label) in [
        ("web-01", "accounts"),
        ("web-01", "databases"),
        ("web-02", "accounts"),
        ("web-03", "directories"),
    ] {
        let row = row(&run, server, label);
        assert!(row.contains(" completed "), "{row}\n{}", run);
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
    for (name, sshd) in fleet.sshds() {
        assert_eq!(sshd.logins(), 1, "logins on {name}\n{}", sshd.log());
    }
}

/// web-01 with one long job, web-02 with a short one that must wait for it.
fn long_then_short(long: f64) -> World {
    SimWorld::builder()
        .server("web-01", |s| s.destination("nas").job("accounts", long))
        .server("web-02", |s| s.destination("nas").job("accounts", 1.0))
        .build_state()
}

/// The simulator's interval of web-01's job ended before web-02's job began to write.
fn assert_web02_after_web01(fleet: &Fleet, d: &serde_json::Value) {
    let first = fleet.intervals_of(d, &fleet.job_id("web-01", "accounts"));
    let second = fleet.intervals_of(d, &fleet.job_id("web-02", "accounts"));
    assert_eq!(first.len(), 1, "{d:#}");
    assert_eq!(second.len(), 1, "{d:#}");
    let end = first[0]["end"].as_f64().expect("web-01 ended");
    let start = second[0]["start"].as_f64().expect("web-02 started");
    assert!(
        end <= start,
        "web-02 began writing at {start} while web-01 wrote until {end}"
    );
}

/// `jbr run --force-activate` with the fleet's config, returned once web-01's job is writing, with that
/// job's id: the starting point of every mid-job fault below.
fn run_until_web01_writes(fleet: &Fleet) -> (Running, String) {
    let running = fleet.spawn_jbr(&["run", "--force-activate"]);
    let job = fleet.job_id("web-01", "accounts");
    assert!(
        fleet.wait_writing(Some(&job), Duration::from_secs(30)),
        "web-01's job never started: {}",
        running.stderr_so_far()
    );
    (running, job)
}

#[test]
fn a_connection_killed_mid_job_is_reopened_and_the_job_followed_to_its_end() {
    if skip_without_sshd("a_connection_killed_mid_job_is_reopened_and_the_job_followed_to_its_end")
    {
        return;
    }
    let mut fleet = Fleet::over_ssh(long_then_short(4.0));
    let (mut running, job) = run_until_web01_writes(&fleet);
    // As if the network dropped: every process of the established connection dies.
    let killed = fleet.sshd_mut("web-01").kill_connections();
    assert!(killed > 0, "no connection to kill");
    assert!(running.is_running(), "jbr ended before the drop");
    let run = running.wait();

    assert_both_completed(&run);
    let d = fleet.dump();
    let w = fleet.intervals_of(&d, &job);
    assert_eq!(w.len(), 1, "triggered twice? {w:#?}");
    assert_eq!(w[0]["status"], 100, "{w:#?}");
    assert_web02_after_web01(&fleet, &d);
    assert_clean(&fleet, &run);
    // The drop cost exactly one new connection, and only on that server.
    assert_eq!(fleet.sshd("web-01").logins(), 2, "{}", run);
    assert_eq!(fleet.sshd("web-02").logins(), 1, "{}", run);
}

#[test]
fn a_server_gone_for_seconds_mid_job_is_reached_again_and_the_job_followed_to_its_end() {
    if skip_without_sshd(
        "a_server_gone_for_seconds_mid_job_is_reached_again_and_the_job_followed_to_its_end",
    ) {
        return;
    }
    let mut fleet = Fleet::over_ssh(long_then_short(6.0));
    let (mut running, job) = run_until_web01_writes(&fleet);
    // sshd restarted the hard way: connections dropped, and nothing listens for 3 s.
    let sshd = fleet.sshd_mut("web-01");
    sshd.kill_connections();
    sshd.restart_listener(Duration::from_secs(3));
    assert!(
        running.is_running(),
        "jbr ended while web-01 was unreachable"
    );
    let run = running.wait();

    assert_both_completed(&run);
    // The operator is told polls failed (connection refused) and were retried.
    assert!(
        run.stdout.contains(" poll(s) failed and were retried"),
        "{}",
        run
    );
    assert!(run.stderr.contains("connection refused"), "{}", run);
    let d = fleet.dump();
    let w = fleet.intervals_of(&d, &job);
    assert_eq!(w.len(), 1, "triggered twice? {w:#?}");
    assert_eq!(w[0]["status"], 100, "{w:#?}");
    // Followed to its real end: jbr's record ends after the simulator's write did.
    let state = jbr::report::state::load(&fleet.path("last-run.json")).expect("state file");
    let rec = state
        .last_run
        .expect("a last run")
        .jobs
        .into_iter()
        .find(|j| j.job_id == job)
        .expect("web-01's job in the state file");
    let sim_end = w[0]["end"].as_f64().expect("ended");
    assert!(
        rec.end.expect("an end") >= sim_end,
        "jbr says it ended at {:?}, the simulator at {sim_end}",
        rec.end
    );
    assert_web02_after_web01(&fleet, &d);
    assert_clean(&fleet, &run);
    assert_eq!(fleet.sshd("web-01").logins(), 2, "{}", run);
    assert_eq!(fleet.sshd("web-02").logins(), 1, "{}", run);
}

#[test]
fn after_sigkill_mid_job_the_next_run_over_ssh_follows_the_orphan_and_cleans_up() {
    if skip_without_sshd(
        "after_sigkill_mid_job_the_next_run_over_ssh_follows_the_orphan_and_cleans_up",
    ) {
        return;
    }
    let fleet = Fleet::over_ssh(long_then_short(4.0));
    let (mut running, job) = run_until_web01_writes(&fleet);
    assert!(running.is_running());
    let killed = running.kill();
    assert_eq!(killed.code, None, "{}", killed);
    // Left behind: web-01's destination and job enabled, the job still writing. The killed
    // run's SSH master lives on (ControlPersist) and must not hold the lock.
    let d = fleet.dump();
    assert_eq!(
        d["final_state"]["enabled"].as_array().map(Vec::len),
        Some(2),
        "{d:#}"
    );
    assert_eq!(
        d["final_state"]["running"].as_array().map(Vec::len),
        Some(1),
        "{d:#}"
    );

    let run = fleet.jbr(&["run", "--force-activate"]);
    assert_both_completed(&run);
    assert!(
        run.stdout
            .contains("left over from an earlier run (journal):"),
        "{}",
        run
    );
    // The orphan ran to its end before anything else started, and it is tonight's backup of
    // its job: the night goes on, it is not backed up again (orchestrator.resume_within).
    let d = fleet.dump();
    let w = fleet.intervals_of(&d, &job);
    assert_eq!(w.len(), 1, "the orphan only: {w:#?}");
    assert!(w[0]["end"].as_f64().is_some(), "the orphan ended: {w:#?}");
    assert!(
        run.stdout.contains("completed (in the interrupted run"),
        "{}",
        run
    );
    let web02 = fleet.intervals_of(&d, &fleet.job_id("web-02", "accounts"));
    assert_eq!(web02.len(), 1, "{d:#}");
    let web01_end = w[0]["end"].as_f64().expect("web-01 ended");
    assert!(
        web01_end <= web02[0]["start"].as_f64().expect("web-02 started"),
        "{d:#}"
    );
    assert_clean(&fleet, &run);
}

/// web-01's job times out after 3 s while its server is unreachable; it runs 60 s if not stopped.
fn timeout_config(fleet: &Fleet, startup_timeout: f64, stop_timeout: f64) {
    let job = fleet.job_id("web-01", "accounts");
    fleet.write_config(|c| {
        c["orchestrator"]["startup_timeout"] = startup_timeout.into();
        c["orchestrator"]["stop_timeout"] = stop_timeout.into();
        for j in c["jobs"].as_array_mut().expect("jobs") {
            if j["job_id"] == job.as_str() {
                j["timeout"] = 3.into();
            }
        }
    });
}

#[test]
fn a_server_unreachable_past_the_job_timeout_is_aborted_and_confirmed_once_back() {
    if skip_without_sshd(
        "a_server_unreachable_past_the_job_timeout_is_aborted_and_confirmed_once_back",
    ) {
        return;
    }
    let mut fleet = Fleet::over_ssh(long_then_short(60.0));
    // The stop keeps being retried for startup_timeout (10 s) after the job's timeout.
    timeout_config(&fleet, 10.0, 5.0);
    let (running, job) = run_until_web01_writes(&fleet);
    // Down from the moment the job writes until past its 3 s timeout (it was triggered earlier).
    let sshd = fleet.sshd_mut("web-01");
    sshd.kill_connections();
    sshd.restart_listener(Duration::from_secs(4));
    let run = running.wait();

    assert_eq!(run.code, Some(1), "{}", run);
    let r = row(&run, "web-01", "accounts");
    assert!(r.contains(" timed out, aborted "), "{r}\n{}", run);
    assert!(
        run.stdout
            .contains("no final state after its timeout 3 s; sent stopQueueGroup, aborted at "),
        "{}",
        run
    );
    assert!(
        run.stdout.contains("ok   stop queue group "),
        "the stop was not confirmed:\n{}",
        run
    );
    assert!(
        row(&run, "web-02", "accounts").contains(" completed "),
        "{}",
        run
    );
    let d = fleet.dump();
    let w = fleet.intervals_of(&d, &job);
    assert_eq!(w.len(), 1, "{w:#?}");
    assert!(w[0]["end"].is_number(), "still writing: {w:#?}");
    assert_ne!(w[0]["status"], 100, "aborted, not completed: {w:#?}");
    // web-02 started only once the abort of web-01's job was confirmed.
    assert_web02_after_web01(&fleet, &d);
    assert_clean(&fleet, &run);
}

#[test]
fn a_server_that_never_comes_back_is_critical_and_nothing_else_starts() {
    if skip_without_sshd("a_server_that_never_comes_back_is_critical_and_nothing_else_starts") {
        return;
    }
    let mut fleet = Fleet::over_ssh(long_then_short(60.0));
    timeout_config(&fleet, 2.0, 2.0);
    let (running, job) = run_until_web01_writes(&fleet);
    let sshd = fleet.sshd_mut("web-01");
    sshd.kill_connections();
    sshd.stop_listener();
    let run = running.wait();

    // Critical: a job that may still write, a job and a destination left enabled.
    assert_eq!(run.code, Some(4), "{}", run);
    assert!(run.stdout.contains("\nCRITICAL — act now:\n"), "{}", run);
    assert!(
        run.stdout.contains(
            "it may still write to the NAS, jbr started nothing more — stop it by hand (jbr stop --server web-01 "
        ),
        "{}",
        run
    );
    // Its row must not read as settled: the job may still be writing.
    let r = row(&run, "web-01", "accounts");
    assert!(r.contains(" timed out, NOT stopped "), "{r}\n{}", run);
    let r = row(&run, "web-02", "accounts");
    assert!(r.contains(" not started "), "{r}\n{}", run);
    // It kept trying the stop before giving up, and says the abort is not confirmed.
    assert!(
        run.stderr.contains("retrying in ") && run.stderr.contains("function=\"stopQueueGroup\""),
        "{}",
        run
    );
    assert!(
        run.stdout
            .contains("no final state after its timeout; the abort was NOT confirmed: "),
        "{}",
        run
    );
    for left in [
        format!("job {job} is ENABLED, disable it by hand"),
        format!(
            "destination {} is ENABLED, disable it by hand",
            fleet.world.servers["web-01"].destinations[0].id
        ),
    ] {
        assert!(run.stdout.contains(&left), "{left}\n{}", run);
    }

    // The simulator agrees: web-01's job still writes (nobody could stop it), and web-02 was
    // never touched beyond pre-flight reads.
    let d = fleet.dump();
    let w = fleet.intervals_of(&d, &job);
    assert_eq!(w.len(), 1, "{w:#?}");
    assert!(w[0]["end"].is_null(), "{w:#?}");
    assert_eq!(
        fleet.intervals_of(&d, &fleet.job_id("web-02", "accounts")),
        Vec::<serde_json::Value>::new(),
        "web-02 wrote while web-01 may still be writing"
    );
    let calls = fleet.calls_in(&d, "web-02");
    for f in [
        "manageDestinationState",
        "manageDestination",
        "manageBackupJob",
        "runBackupJobManually",
    ] {
        assert!(calls.get(f).is_none(), "web-02 got {f}: {calls:#?}");
    }
    assert_eq!(d["max_concurrent_writers"], 1, "{d:#}");

    // Once the server is back, the next run's journal replay stops what was left running and
    // disables what was left enabled before anything new starts (invariants 2 and 3).
    fleet.sshd_mut("web-01").start_listener();
    let web02 = fleet.job_id("web-02", "accounts");
    let again = fleet.jbr(&["run", "--force-activate", "--job", &web02]);
    assert!(
        again
            .stdout
            .contains("\nleft over from an earlier run (journal):\n"),
        "{}",
        again
    );
    assert!(
        row(&again, "web-02", "accounts").contains(" completed "),
        "{}",
        again
    );
    let d = fleet.dump();
    assert_web02_after_web01(&fleet, &d);
    assert_clean(&fleet, &again);
    assert_eq!(again.code, Some(0), "{}", again);
}

#[test]
fn a_refused_connection_skips_that_server_with_the_reason_and_the_others_run() {
    if skip_without_sshd(
        "a_refused_connection_skips_that_server_with_the_reason_and_the_others_run",
    ) {
        return;
    }
    let mut fleet = Fleet::over_ssh(three_servers());
    // Fewer retries of the refused connects: pre-flight keeps trying for startup_timeout.
    fleet.write_config(|c| c["orchestrator"]["startup_timeout"] = 2.into());
    fleet.sshd_mut("web-02").stop_listener();
    let port = fleet.sshd("web-02").port;
    let run = fleet.jbr(&["run", "--force-activate"]);

    assert_eq!(run.code, Some(1), "{}", run);
    assert!(
        run.stdout.contains(&format!(
            "  web-02: SKIPPED: unreachable: ping: server web-02: cannot connect: connection refused by [127.0.0.1]:{port} (is sshd running on port {port}?)"
        )),
        "{}",
        run
    );
    assert!(
        row(&run, "web-02", "accounts").contains(" skipped "),
        "{}",
        run
    );
    for (server, label) in [
        ("web-01", "accounts"),
        ("web-01", "databases"),
        ("web-03", "directories"),
    ] {
        assert!(row(&run, server, label).contains(" completed "), "{}", run);
    }
    let d = fleet.dump();
    assert!(fleet.calls_in(&d, "web-02").is_empty(), "{d:#}");
    assert_eq!(d["max_concurrent_writers"], 1, "{d:#}");
    assert_clean(&fleet, &run);
}

#[test]
fn a_changed_host_key_refuses_that_server_with_the_fix_and_changes_nothing_there() {
    if skip_without_sshd(
        "a_changed_host_key_refuses_that_server_with_the_fix_and_changes_nothing_there",
    ) {
        return;
    }
    let mut fleet = Fleet::over_ssh(three_servers());
    // The server now presents another key than the one enrolled in known_hosts.
    fleet.sshd_mut("web-02").change_host_key();
    let (port, known_hosts) = {
        let s = fleet.sshd("web-02");
        (s.port, s.known_hosts.display().to_string())
    };
    let run = fleet.jbr(&["run", "--force-activate"]);

    assert_eq!(run.code, Some(1), "{}", run);
    let line = run
        .stdout
        .lines()
        .find(|l| l.starts_with("  web-02: SKIPPED: unreachable: ping: "))
        .unwrap_or_else(|| panic!("web-02 not skipped:\n{}", run));
    assert!(
        line.contains(&format!(
            "server web-02: host key verification failed: host key for [127.0.0.1]:{port} does not match known_hosts ({known_hosts})"
        )),
        "{line}"
    );
    assert!(
        line.contains(&format!(
            "ssh-keygen -R '[127.0.0.1]:{port}' -f {known_hosts}"
        )),
        "{line}"
    );
    assert!(
        row(&run, "web-02", "accounts").contains(" skipped "),
        "{}",
        run
    );
    assert!(
        row(&run, "web-01", "accounts").contains(" completed "),
        "{}",
        run
    );
    assert!(
        row(&run, "web-03", "directories").contains(" completed "),
        "{}",
        run
    );
    // Refused at once (not retried: that could hide a man in the middle), never logged in,
    // nothing called on it.
    assert!(run.took < Duration::from_secs(60), "{}", run);
    assert_eq!(fleet.sshd("web-02").logins(), 0);
    let d = fleet.dump();
    assert!(fleet.calls_in(&d, "web-02").is_empty(), "{d:#}");
    assert_clean(&fleet, &run);
}

#[test]
fn a_connection_frozen_for_seconds_mid_job_is_waited_out_not_taken_as_an_end() {
    if skip_without_sshd(
        "a_connection_frozen_for_seconds_mid_job_is_waited_out_not_taken_as_an_end",
    ) {
        return;
    }
    let fleet = Fleet::over_ssh(long_then_short(4.0));
    let (mut running, job) = run_until_web01_writes(&fleet);
    // A silent stall (nothing closed, no answers), shorter than call_timeout (10 s).
    let sshd = fleet.sshd("web-01");
    assert!(sshd.freeze_connections(true) > 0, "no connection to freeze");
    std::thread::sleep(Duration::from_secs(3));
    sshd.freeze_connections(false);
    assert!(running.is_running(), "jbr ended while web-01 was frozen");
    let run = running.wait();

    assert_both_completed(&run);
    let d = fleet.dump();
    assert_eq!(fleet.intervals_of(&d, &job).len(), 1, "{d:#}");
    assert_web02_after_web01(&fleet, &d);
    assert_clean(&fleet, &run);
    // The connection lived through the stall.
    assert_eq!(fleet.sshd("web-01").logins(), 1, "{}", run);
}

#[test]
fn a_connection_that_dropped_while_idle_is_reopened_without_a_failed_call() {
    if skip_without_sshd("a_connection_that_dropped_while_idle_is_reopened_without_a_failed_call") {
        return;
    }
    let mut fleet = Fleet::over_ssh(long_then_short(3.0));
    let (running, _job) = run_until_web01_writes(&fleet);
    // web-02's connection (opened for pre-flight) sits idle while web-01 runs: its sshd restarts.
    let sshd = fleet.sshd_mut("web-02");
    assert!(sshd.kill_connections() > 0, "web-02 had no connection open");
    sshd.restart_listener(Duration::from_millis(200));
    let run = running.wait();

    assert_eq!(run.code, Some(0), "{}", run);
    assert!(
        row(&run, "web-02", "accounts").contains(" completed "),
        "{}",
        run
    );
    // The dead master was noticed before the next call: nothing failed, nothing retried.
    assert!(!run.stdout.contains("failed and were retried"), "{}", run);
    assert!(!run.stderr.contains("retrying in "), "{}", run);
    assert!(
        run.stderr.contains("is gone; reconnecting server=web-02"),
        "{}",
        run
    );
    assert_eq!(fleet.sshd("web-01").logins(), 1, "{}", run);
    assert_eq!(fleet.sshd("web-02").logins(), 2, "{}", run);
    assert_web02_after_web01(&fleet, &fleet.dump());
    assert_clean(&fleet, &run);
}

/// web-01's `function` call number `nth` takes effect at once but answers only 5 s later, so a
/// connection killed in between loses the answer of a change that did happen.
fn answer_lost_after(function: &str, nth: u64) -> World {
    SimWorld::builder()
        .server("web-01", |s| {
            s.destination("nas")
                .job("accounts", 2.0)
                .fault(Fault::on(function, When::Call(nth), FaultKind::Stall(5.0)).taking_effect())
        })
        .server("web-02", |s| s.destination("nas").job("accounts", 1.0))
        .build_state()
}

/// Wait until web-01 has answered `function` at least `n` times (the last may still stall).
fn wait_calls(fleet: &Fleet, function: &str, n: u64) -> bool {
    support::sshd::wait_until(Duration::from_secs(30), || {
        fleet
            .calls("web-01")
            .get(function)
            .and_then(serde_json::Value::as_u64)
            .is_some_and(|c| c >= n)
    })
}

#[test]
fn a_trigger_whose_answer_is_lost_in_a_drop_is_found_and_followed_not_sent_again() {
    if skip_without_sshd(
        "a_trigger_whose_answer_is_lost_in_a_drop_is_found_and_followed_not_sent_again",
    ) {
        return;
    }
    let mut fleet = Fleet::over_ssh(answer_lost_after("runBackupJobManually", 1));
    let running = fleet.spawn_jbr(&["run", "--force-activate"]);
    assert!(
        wait_calls(&fleet, "runBackupJobManually", 1),
        "never triggered: {}",
        running.stderr_so_far()
    );
    assert!(fleet.sshd_mut("web-01").kill_connections() > 0);
    let run = running.wait();

    assert_both_completed(&run);
    let d = fleet.dump();
    // Sent once (a second trigger could queue the job twice), and its one run followed.
    assert_eq!(
        fleet.calls_in(&d, "web-01")["runBackupJobManually"],
        1,
        "{d:#}"
    );
    let w = fleet.intervals_of(&d, &fleet.job_id("web-01", "accounts"));
    assert_eq!(w.len(), 1, "{w:#?}");
    assert_eq!(w[0]["status"], 100, "{w:#?}");
    assert_web02_after_web01(&fleet, &d);
    assert_clean(&fleet, &run);
    assert_eq!(fleet.sshd("web-01").logins(), 2, "{}", run);
}

#[test]
fn a_disable_whose_answer_is_lost_in_a_drop_is_sent_again_and_read_back() {
    if skip_without_sshd("a_disable_whose_answer_is_lost_in_a_drop_is_sent_again_and_read_back") {
        return;
    }
    // manageBackupJob on web-01: call 1 enables the job, call 2 disables it.
    let mut fleet = Fleet::over_ssh(answer_lost_after("manageBackupJob", 2));
    let running = fleet.spawn_jbr(&["run", "--force-activate"]);
    assert!(
        wait_calls(&fleet, "manageBackupJob", 2),
        "never disabled: {}",
        running.stderr_so_far()
    );
    assert!(fleet.sshd_mut("web-01").kill_connections() > 0);
    let run = running.wait();

    assert_eq!(run.code, Some(0), "{}", run);
    assert!(
        run.stdout.contains(&format!(
            "ok   disable job {}: read back: disabled",
            fleet.job_id("web-01", "accounts")
        )),
        "{}",
        run
    );
    assert!(
        row(&run, "web-02", "accounts").contains(" completed "),
        "{}",
        run
    );
    let d = fleet.dump();
    assert!(
        fleet.calls_in(&d, "web-01")["manageBackupJob"]
            .as_u64()
            .is_some_and(|n| n >= 3),
        "the disable was not sent again: {d:#}"
    );
    assert_web02_after_web01(&fleet, &d);
    assert_clean(&fleet, &run);
}

#[test]
fn a_server_silent_for_longer_than_call_timeout_mid_job_is_followed_to_its_end() {
    if skip_without_sshd(
        "a_server_silent_for_longer_than_call_timeout_mid_job_is_followed_to_its_end",
    ) {
        return;
    }
    let fleet = Fleet::over_ssh(long_then_short(6.0));
    // Calls give up after 1.5 s; the server stays silent for 5 s (a black-holed network: no
    // reset, no answers), less than the 45 s ssh's keepalives need to declare it dead.
    fleet.write_config(|c| c["orchestrator"]["call_timeout"] = 1.5.into());
    let (mut running, job) = run_until_web01_writes(&fleet);
    let sshd = fleet.sshd("web-01");
    assert!(sshd.freeze_connections(true) > 0, "no connection to freeze");
    std::thread::sleep(Duration::from_secs(5));
    sshd.freeze_connections(false);
    assert!(running.is_running(), "jbr ended while web-01 was silent");
    let run = running.wait();

    assert_both_completed(&run);
    assert!(
        run.stdout.contains(" poll(s) failed and were retried"),
        "{}",
        run
    );
    assert!(run.stderr.contains("no answer within 1.5 s"), "{}", run);
    let d = fleet.dump();
    let w = fleet.intervals_of(&d, &job);
    assert_eq!(w.len(), 1, "{w:#?}");
    assert_eq!(w[0]["status"], 100, "{w:#?}");
    assert_web02_after_web01(&fleet, &d);
    assert_clean(&fleet, &run);
}
